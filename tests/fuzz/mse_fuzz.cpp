// Fuzzes the MSE handshake parser (wire/mse.hpp) in both roles. The first byte picks:
//   0: raw bytes to a responder (plain handshake detection, Ya, the req1 scan);
//   1: raw bytes to an initiator after its Ya (Yb, the VC scan);
//   2: a responder given a genuine Ya and req1 hashes, then the fuzz bytes as the plaintext of
//      the encrypted part of step 3 (VC, crypto_provide, PadC, IA, payload), encrypted with
//      the right key, so the fields after the VC are reached;
//   3: an initiator given a genuine Yb, then the fuzz bytes as the plaintext of step 4.
// Each input is fed whole and split where the second byte says: same outcome, same error,
// same payload; the payload is never longer than the bytes fed; a failed stream stays failed.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/crypto.hpp"
#include "wire/mse.hpp"

namespace {

using namespace wt;

const sha1_digest info_hash = [] {
  sha1_digest d{};
  d.fill(0xab);
  return d;
}();
// 160-bit keys, the spec's minimum: each Diffie-Hellman step is a modular exponentiation,
// most of a run's time.
const byte_buffer our_key(20, 0x01), peer_key(20, 0x02);

sha1_digest hash(std::string_view label, byte_view a, byte_view b = {}) {
  sha1_hasher h;
  h.update(as_bytes(label));
  h.update(a);
  h.update(b);
  return h.finish();
}

mse::stream make(int mode) {
  if (mode == 1 || mode == 3) {
    auto s = mse::stream::outgoing(info_hash, {}, our_key, 5);
    s.take_output();
    s.send(as_bytes("held"));
    return s;
  }
  return mse::stream::incoming(
      [](const sha1_digest& req2) -> std::optional<sha1_digest> {
        if (mse::req2_hash(info_hash) == req2) return info_hash;
        return std::nullopt;
      },
      {}, our_key, 6);
}

// The bytes a peer sends for the mode: raw, or a genuine prefix and the fuzz bytes encrypted.
byte_buffer wire_bytes(int mode, byte_view fuzz) {
  if (mode < 2) return byte_buffer(fuzz.begin(), fuzz.end());
  static const mse::dh_key ours = mse::dh_public(our_key), theirs = mse::dh_public(peer_key);
  static const auto s = mse::dh_secret(ours, peer_key);
  if (!s) std::abort();
  byte_buffer out(theirs.begin(), theirs.end());
  const bool to_responder = mode == 2;
  if (to_responder) {
    const sha1_digest req1 = hash("req1", *s);
    sha1_digest x = mse::req2_hash(info_hash);
    const sha1_digest req3 = hash("req3", *s);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] ^= req3[i];
    out.insert(out.end(), req1.begin(), req1.end());
    out.insert(out.end(), x.begin(), x.end());
  }
  mse::rc4 c(hash(to_responder ? "keyA" : "keyB", *s, info_hash));
  c.discard(1024);
  const std::size_t at = out.size();
  out.insert(out.end(), fuzz.begin(), fuzz.end());
  c.apply(std::span<std::uint8_t>(out.data() + at, fuzz.size()));
  return out;
}

struct outcome {
  mse::stream::state state;
  std::string error;
  byte_buffer received;
  std::uint32_t method = 0;
};

outcome run(int mode, const byte_buffer& bytes, std::size_t cut) {
  mse::stream s = make(mode);
  byte_buffer received;
  bool failed = false;
  for (auto part : {byte_view(bytes).first(cut), byte_view(bytes).subspan(cut)}) {
    const bool ok = s.receive(part);
    if (failed && ok) std::abort();  // a failed stream stays failed
    failed = failed || !ok;
    const byte_buffer r = s.take_received();
    received.insert(received.end(), r.begin(), r.end());
    s.take_output();
  }
  if (failed != (s.status() == mse::stream::state::failed)) std::abort();
  if (received.size() > bytes.size()) std::abort();
  return {s.status(), s.error(), std::move(received), s.method()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int mode = data[0] % 4;
  const byte_buffer bytes = wire_bytes(mode, byte_view(data + 2, size - 2));
  const std::size_t cut = bytes.empty() ? 0 : data[1] % (bytes.size() + 1);
  const outcome whole = run(mode, bytes, bytes.size());
  const outcome split = run(mode, bytes, cut);
  if (whole.state != split.state || whole.error != split.error || whole.received != split.received ||
      whole.method != split.method)
    std::abort();
  return 0;
}
