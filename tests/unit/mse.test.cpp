// Message stream encryption (wire/mse.hpp): RC4 against published vectors, Diffie-Hellman
// against Python's pow() over the spec's prime, and two streams handshaking in every mode,
// fed whole and one byte at a time.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <string>

#include "base/bytes.hpp"
#include "wire/mse.hpp"

using namespace wt;

namespace {

byte_buffer hex(std::string_view h) { return *from_hex(h); }

byte_buffer rc4_of(std::string_view key, std::string_view text, std::size_t discard = 0) {
  mse::rc4 c(as_bytes(key));
  c.discard(discard);
  byte_buffer b(text.begin(), text.end());
  c.apply(b);
  return b;
}

const sha1_digest info_hash = [] {
  sha1_digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(0xa0 + i);
  return d;
}();
const sha1_digest other_hash = [] {
  sha1_digest d{};
  d.fill(0x11);
  return d;
}();

byte_buffer key_of(std::uint8_t fill) { return byte_buffer(32, fill); }

mse::skey_lookup serving(std::vector<sha1_digest> ours) {
  return [ours](const sha1_digest& req2) -> std::optional<sha1_digest> {
    for (const auto& ih : ours)
      if (mse::req2_hash(ih) == req2) return ih;
    return std::nullopt;
  };
}

// Moves bytes between two streams until neither has anything to send; `chunk` bytes at a
// time (0: all at once). False when either failed.
bool shuttle(mse::stream& a, mse::stream& b, std::size_t chunk, byte_buffer* a_to_b_wire = nullptr) {
  for (int rounds = 0; rounds < 100; ++rounds) {
    byte_buffer ab = a.take_output(), ba = b.take_output();
    if (ab.empty() && ba.empty()) return true;
    if (a_to_b_wire) a_to_b_wire->insert(a_to_b_wire->end(), ab.begin(), ab.end());
    auto feed = [&](mse::stream& to, const byte_buffer& bytes) {
      const std::size_t step = chunk == 0 ? std::max<std::size_t>(bytes.size(), 1) : chunk;
      for (std::size_t at = 0; at < bytes.size(); at += step)
        if (!to.receive(byte_view(bytes).subspan(at, std::min(step, bytes.size() - at)))) return false;
      return true;
    };
    if (!feed(b, ab) || !feed(a, ba)) return false;
  }
  return false;
}

std::string text_of(const byte_buffer& b) { return std::string(as_chars(b)); }

}  // namespace

TEST_CASE("[mse] RC4 matches published vectors", "[mse]") {
  // The classic three (Wikipedia's table).
  CHECK(rc4_of("Key", "Plaintext") == hex("bbf316e8d940af0ad3"));
  CHECK(rc4_of("Wiki", "pedia") == hex("1021bf0420"));
  CHECK(rc4_of("Secret", "Attack at dawn") == hex("45a01f645fc35b383552544b9bf5"));
  // RFC 6229, 128-bit key 0x0102...10: keystream at offsets 0 and 1024 (what MSE starts at).
  const byte_buffer key = hex("0102030405060708090a0b0c0d0e0f10");
  const std::string zeros(16, '\0');
  CHECK(rc4_of(as_chars(key), zeros) == hex("9ac7cc9a609d1ef7b2932899cde41b97"));
  CHECK(rc4_of(as_chars(key), zeros, 1024) == hex("bdf0324e6083dcc6d3cedd3ca8c53c16"));
  // Applying twice decrypts; calls continue the stream.
  mse::rc4 a(key), b(key);
  byte_buffer text(100, 7), copy = text;
  a.apply(std::span<std::uint8_t>(text.data(), 30));
  a.apply(std::span<std::uint8_t>(text.data() + 30, 70));
  b.apply(text);
  CHECK(text == copy);
}

TEST_CASE("[mse] Diffie-Hellman over the 768-bit prime (our Montgomery arithmetic) matches Python's pow()", "[mse]") {
  const byte_buffer a = hex("0123456789abcdef0123456789abcdef01234567");
  const byte_buffer b = hex("fedcba9876543210fedcba9876543210fedcba98");
  const mse::dh_key ya = mse::dh_public(a), yb = mse::dh_public(b);
  CHECK(to_hex(ya) ==
        "6fd4bc7aa649593205ec30348a3ccc737b61fa01e9e1762c2c53eb69033afecbdf7c13b8ac3643af78d0760b0f42db00"
        "9f2b96c970f009d060faf617f117d0f1c221cea0561b9a86e852fc70a6f09ad0f82378603aa5e56b811deb3f534bf276");
  CHECK(to_hex(yb) ==
        "e2666b9cffca63998c8e806db50c47ac12512b327c5ec48d62e0a43c2961afcf136e7219fe2ec51e656b2f01ed089dd8"
        "cc53c78e7d650df59a752131bcf8ffff122144bf10c6269b47886d6af58389223c66153ebb5e3dc18ea849ceb60ac18e");
  const auto s1 = mse::dh_secret(yb, a), s2 = mse::dh_secret(ya, b);
  REQUIRE(s1);
  REQUIRE(s2);
  CHECK(*s1 == *s2);
  CHECK(to_hex(*s1) ==
        "0bf59f468e43b9f22a5fd0ccbc9bd7825a7495f6e670c31533db364b536ee297a737d565ff7829d4c397de16aec19f89"
        "3e3d28eaa14eaf7e17e1026697089fdff81c7dc7e4c65e6211443d9dd3e5d8b0c0e8b2888af39637af18a75cc1b17685");
  // A 768-bit exponent of all ones, over the generator and over P-2 (the largest valid key).
  const byte_buffer ones(96, 0xff);
  CHECK(to_hex(mse::dh_public(ones)) ==
        "fd92cd1f65dbca7a8baf9a286b5118ea4054f42b1e2ba9061892fdc95f3f4927ee44e10ab5c2d6b7ffd0ce3bdd538c7e"
        "4d88e525549fdbe05c875be9430a006fa96879d96710196a8af63f0a7c1a4974aafb19122b77a2ba24fa2d531efb30dd");
  mse::dh_key p_minus_2{};
  for (std::size_t i = 0; i < 96; ++i)
    p_minus_2[i] = (*from_hex("ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404dd"
                              "ef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090561"))[i];
  const auto big = mse::dh_secret(p_minus_2, ones);
  REQUIRE(big);
  CHECK(to_hex(*big) ==
        "026d32e09a2435853d604079b617a94a84716e6062b073cb106f503f2b28834c13c6dd9b8550c46a51793a3db0e0785f"
        "a20c348e789a673ad3a3ae84af5513c7a678bb940641a8db598f766be6443552495129d77ac29366db05d2ace10dd486");
  // Both sides agree for keys of any length.
  for (std::uint8_t i = 1; i < 20; ++i) {
    const byte_buffer x(i * 5u, static_cast<std::uint8_t>(i * 37)), y(100 - i, static_cast<std::uint8_t>(i * 91));
    CHECK(mse::dh_secret(mse::dh_public(x), y) == mse::dh_secret(mse::dh_public(y), x));
  }
  // A small result keeps its leading zeros: 2^1 is 95 zero bytes and a 2.
  const mse::dh_key two = mse::dh_public(hex("01"));
  CHECK(two[95] == 2);
  CHECK(std::all_of(two.begin(), two.end() - 1, [](std::uint8_t x) { return x == 0; }));
  // Keys a peer could use to force the secret are refused: 0, 1, P-1, P and above.
  mse::dh_key bad{};
  CHECK_FALSE(mse::dh_secret(bad, a));
  bad[95] = 1;
  CHECK_FALSE(mse::dh_secret(bad, a));
  mse::dh_key p_minus_1{};
  const byte_buffer p = hex(
      "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404dd"
      "ef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000090563");
  std::copy(p.begin(), p.end(), p_minus_1.begin());
  mse::dh_key p_itself = p_minus_1;
  p_minus_1[95] -= 1;
  CHECK_FALSE(mse::dh_secret(p_minus_1, a));
  CHECK_FALSE(mse::dh_secret(p_itself, a));
  bad.fill(0xff);
  CHECK_FALSE(mse::dh_secret(bad, a));
  p_minus_1[95] -= 1;  // P-2 is fine
  CHECK(mse::dh_secret(p_minus_1, a));
}

TEST_CASE("[mse] two streams handshake and carry the payload, whole and byte by byte", "[mse]") {
  struct mode {
    mse::policy out, in;
    std::uint32_t expected;
  };
  mse::policy both, plain_only, prefer_plain, rc4_only;
  plain_only.methods = mse::method_plaintext;
  prefer_plain.prefer_plaintext = true;
  rc4_only.methods = mse::method_rc4;
  const std::vector<mode> modes = {
      {both, both, mse::method_rc4},              // responder prefers RC4
      {both, prefer_plain, mse::method_plaintext},
      {plain_only, both, mse::method_plaintext},  // initiator offers plaintext only
      {rc4_only, prefer_plain, mse::method_rc4},  // preference yields to what is offered
  };
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    for (std::size_t m = 0; m < modes.size(); ++m) {
      CAPTURE(chunk, m);
      auto a = mse::stream::outgoing(info_hash, modes[m].out, key_of(1), 100 + m);
      auto b = mse::stream::incoming(serving({other_hash, info_hash}), modes[m].in, key_of(2), 200 + m);
      // The session's handshake is held until the MSE handshake is done.
      a.send(as_bytes("hello from A"));
      byte_buffer wire;
      REQUIRE(shuttle(a, b, chunk, &wire));
      REQUIRE(a.status() == mse::stream::state::done);
      REQUIRE(b.status() == mse::stream::state::done);
      CHECK(a.method() == modes[m].expected);
      CHECK(b.method() == modes[m].expected);
      CHECK(text_of(b.take_received()) == "hello from A");
      CHECK(a.take_received().empty());
      // The held bytes are on the wire encrypted only with RC4.
      const bool plain_on_wire = text_of(wire).find("hello from A") != std::string::npos;
      CHECK(plain_on_wire == (modes[m].expected == mse::method_plaintext));
      // Both ways after the handshake, in pieces.
      b.send(as_bytes("reply "));
      b.send(as_bytes("from B"));
      a.send(as_bytes("more"));
      REQUIRE(shuttle(a, b, chunk));
      CHECK(text_of(a.take_received()) == "reply from B");
      CHECK(text_of(b.take_received()) == "more");
    }
  }
}

TEST_CASE("[mse] a plain BitTorrent handshake passes the responder, unless encryption is required", "[mse]") {
  const std::string hs = std::string("\x13" "BitTorrent protocol") + std::string(48, 'x');
  for (std::size_t chunk : {std::size_t{1}, hs.size()}) {
    auto b = mse::stream::incoming(serving({info_hash}), {}, key_of(2), 1);
    for (std::size_t at = 0; at < hs.size(); at += chunk)
      REQUIRE(b.receive(as_bytes(std::string_view(hs).substr(at, chunk))));
    CHECK(b.status() == mse::stream::state::done);
    CHECK(b.method() == 0);
    CHECK(text_of(b.take_received()) == hs);
    CHECK(b.take_output().empty());  // nothing of MSE was sent
    b.send(as_bytes("plain"));
    CHECK(text_of(b.take_output()) == "plain");
  }
  mse::policy required;
  required.require = true;
  auto b = mse::stream::incoming(serving({info_hash}), required, key_of(2), 1);
  CHECK_FALSE(b.receive(as_bytes(hs)));
  CHECK(b.status() == mse::stream::state::failed);
  CHECK_THAT(b.error(), Catch::Contains("encryption is required"));
}

TEST_CASE("[mse] failures: unknown torrent, no common method, bad keys, no sync within the padding", "[mse]") {
  SECTION("a torrent the responder does not have") {
    auto a = mse::stream::outgoing(info_hash, {}, key_of(1), 1);
    auto b = mse::stream::incoming(serving({other_hash}), {}, key_of(2), 2);
    CHECK_FALSE(shuttle(a, b, 0));
    CHECK_THAT(b.error(), Catch::Contains("torrent we do not have"));
  }
  SECTION("no common method") {
    mse::policy plain_only, rc4_only;
    plain_only.methods = mse::method_plaintext;
    rc4_only.methods = mse::method_rc4;
    auto a = mse::stream::outgoing(info_hash, plain_only, key_of(1), 1);
    auto b = mse::stream::incoming(serving({info_hash}), rc4_only, key_of(2), 2);
    CHECK_FALSE(shuttle(a, b, 0));
    CHECK_THAT(b.error(), Catch::Contains("no common method"));
  }
  SECTION("an invalid public key") {
    auto b = mse::stream::incoming(serving({info_hash}), {}, key_of(2), 2);
    byte_buffer y(96, 0);
    y[95] = 1;
    CHECK_FALSE(b.receive(y));
    CHECK_THAT(b.error(), Catch::Contains("Diffie-Hellman"));
  }
  SECTION("the responder finds no HASH('req1', S) within 512 bytes after Ya") {
    auto b = mse::stream::incoming(serving({info_hash}), {}, key_of(2), 2);
    const mse::dh_key ya = mse::dh_public(key_of(1));
    CHECK(b.receive(ya));
    byte_buffer junk(531, 0x42);
    CHECK(b.receive(junk));  // 531 bytes: the hash could still start at 512
    CHECK_FALSE(b.receive(junk));
    CHECK_THAT(b.error(), Catch::Contains("req1"));
  }
  SECTION("the initiator finds no VC within 512 bytes after Yb") {
    auto a = mse::stream::outgoing(info_hash, {}, key_of(1), 1);
    const mse::dh_key yb = mse::dh_public(key_of(2));
    CHECK(a.receive(yb));
    CHECK_FALSE(a.receive(byte_buffer(600, 0x42)));
    CHECK_THAT(a.error(), Catch::Contains("verification constant"));
  }
  SECTION("a corrupted step 3: bad VC") {
    auto a = mse::stream::outgoing(info_hash, {}, key_of(1), 1);
    auto b = mse::stream::incoming(serving({info_hash}), {}, key_of(2), 2);
    REQUIRE(b.receive(a.take_output()));  // Ya, PadA
    REQUIRE(a.receive(b.take_output()));  // Yb, PadB -> step 3
    byte_buffer step3 = a.take_output();
    step3[40] ^= 1;  // the first byte of ENCRYPT(VC)
    CHECK_FALSE(b.receive(step3));
    CHECK_THAT(b.error(), Catch::Contains("verification constant"));
  }
}

TEST_CASE("[mse] PadA and PadB are empty, PadC and PadD vary with the seed within 512 bytes", "[mse]") {
  std::set<std::size_t> step3_sizes, step4_sizes;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    auto a = mse::stream::outgoing(info_hash, {}, key_of(1), seed);
    auto b = mse::stream::incoming(serving({info_hash}), {}, key_of(2), seed + 1000);
    const byte_buffer step1 = a.take_output();
    CHECK(step1.size() == 96);
    REQUIRE(b.receive(step1));
    const byte_buffer step2 = b.take_output();
    CHECK(step2.size() == 96);
    REQUIRE(a.receive(step2));
    const byte_buffer step3 = a.take_output();
    REQUIRE(b.receive(step3));
    const byte_buffer step4 = b.take_output();
    REQUIRE(a.receive(step4));
    CHECK(a.status() == mse::stream::state::done);
    // step 3: 20 + 20 + VC 8 + provide 4 + len 2 + PadC + len(IA) 2; step 4: VC 8 + select 4 + len 2 + PadD.
    CHECK(step3.size() >= 56);
    CHECK(step3.size() <= 56 + 512);
    CHECK(step4.size() >= 14);
    CHECK(step4.size() <= 14 + 512);
    step3_sizes.insert(step3.size());
    step4_sizes.insert(step4.size());
  }
  CHECK(step3_sizes.size() > 20);
  CHECK(step4_sizes.size() > 20);
}
