// Fuzzes the wire codec. Input layout:
//   byte 0      options: bit 0 start with a handshake, bit 1 set a piece count,
//               bit 2 tight limits
//   bytes 1..8  chunk sizes (1..64, cycled), how the stream is cut
//   the rest    the byte stream
// Properties: reading the stream in chunks gives exactly what reading it whole gives
// (same messages, same error and position); every decoded message re-encodes to the
// bytes it came from; extension payloads go through the BEP 10 / 9 / 11 decoders,
// and what they accept survives encode -> decode unchanged.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "wire/wire.hpp"

namespace w = wt::wire;

namespace {

bool same(wt::byte_view a, wt::byte_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

struct run_result {
  wt::byte_buffer reencoded;  // every message read, encoded again
  std::optional<wt::error> err;
  std::size_t handshake_bytes = 0;
  bool handshake_done = false;
};

void check_extension_payload(wt::byte_view payload) {
  if (auto h = w::decode_extension_handshake(payload)) {
    const wt::byte_buffer again = w::encode_extension_handshake(*h);
    auto back = w::decode_extension_handshake(again);
    if (!back || !(*back == *h)) std::abort();
  }
  if (auto m = w::decode_metadata_message(payload); m && *m) {
    const wt::byte_buffer again = w::encode_metadata_message(**m);
    auto back = w::decode_metadata_message(again);
    if (!back || !*back) std::abort();
    const w::metadata_message& a = **m;
    const w::metadata_message& b = **back;
    if (a.type != b.type || a.piece != b.piece || a.total_size != b.total_size ||
        !same(a.data, b.data)) {
      std::abort();
    }
  }
  if (auto p = w::decode_pex_message(payload)) {
    auto back = w::decode_pex_message(w::encode_pex_message(*p));
    if (!back || !(*back == *p)) std::abort();
  }
  if (auto d = w::decode_donthave(payload)) {
    if (!same(w::encode_donthave(*d), payload)) std::abort();
  }
}

run_result run(wt::byte_view stream, std::uint8_t options, const std::vector<std::size_t>& sizes,
               bool check_payloads) {
  run_result out;
  w::reader_limits limits;
  if (options & 4) {
    limits.max_block = 8;
    limits.max_bitfield = 4;
    limits.max_extended = 64;
    limits.max_unknown = 2;
  }
  w::handshake_reader hs;
  w::message_reader reader(limits);
  if (options & 2) reader.set_piece_count(static_cast<std::uint32_t>(options >> 3));
  bool in_handshake = (options & 1) != 0;

  std::size_t pos = 0, k = 0;
  while (pos < stream.size() && !out.err) {
    const std::size_t n = std::min(stream.size() - pos, sizes[k++ % sizes.size()]);
    wt::byte_view chunk = stream.subspan(pos, n);
    pos += n;
    if (in_handshake) {
      auto p = hs.feed(chunk);
      if (!p) {
        out.err = p.err();
        break;
      }
      out.handshake_bytes += p->consumed;
      chunk = chunk.subspan(p->consumed);
      if (p->status == w::parse_status::need_more) continue;
      in_handshake = false;
      out.handshake_done = true;
      wt::byte_buffer again;
      w::encode_to(hs.get(), again);
      if (!same(again, stream.first(w::handshake_size))) std::abort();
    }
    reader.feed(chunk);
    while (true) {
      auto m = reader.next();
      if (!m) {
        out.err = m.err();
        break;
      }
      if (!*m) break;
      w::encode_to(**m, out.reencoded);
      (void)w::to_string(**m);
      if (check_payloads) {
        if (const auto* e = std::get_if<w::extended>(&**m)) check_extension_payload(e->payload);
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  const std::uint8_t options = data[0];
  std::vector<std::size_t> sizes;
  for (std::size_t i = 1; i < 9; ++i) sizes.push_back(std::size_t{data[i]} % 64 + 1);
  // Copy the stream so that out-of-bounds reads past it are caught exactly.
  const std::vector<std::uint8_t> stream(data + 9, data + size);

  const run_result whole = run(stream, options, {stream.size() + 1}, true);
  const run_result chunked = run(stream, options, sizes, false);

  if (whole.reencoded != chunked.reencoded) std::abort();
  if (whole.err.has_value() != chunked.err.has_value()) std::abort();
  if (whole.err && (whole.err->code != chunked.err->code ||
                    whole.err->position != chunked.err->position)) {
    std::abort();
  }
  if (whole.handshake_done != chunked.handshake_done) std::abort();
  // What was read re-encodes to the bytes it came from.
  const std::size_t start = whole.handshake_done ? w::handshake_size : 0;
  if (whole.handshake_done || !(options & 1)) {
    if (whole.reencoded.size() > stream.size() - start) std::abort();
    if (!std::equal(whole.reencoded.begin(), whole.reencoded.end(),
                    stream.begin() + static_cast<std::ptrdiff_t>(start))) {
      std::abort();
    }
  }

  // The payload decoders on the raw stream too (they are reached rarely through framing).
  check_extension_payload(stream);
  return 0;
}
