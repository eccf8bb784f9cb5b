#include <catch2/catch.hpp>

#include <string>

#include "base/crypto.hpp"

using namespace wt;

namespace {

const std::string million_a(1'000'000, 'a');
constexpr const char* abc448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

}  // namespace

TEST_CASE("[crypto] SHA-1 matches FIPS 180 test vectors", "[crypto]") {
  SECTION("empty") {
    REQUIRE(to_hex(sha1({})) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  }
  SECTION("abc") {
    REQUIRE(to_hex(sha1(as_bytes("abc"))) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  }
  SECTION("448 bits") {
    REQUIRE(to_hex(sha1(as_bytes(abc448))) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  }
  SECTION("a million 'a'") {
    REQUIRE(to_hex(sha1(as_bytes(million_a))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  }
}

TEST_CASE("[crypto] SHA-256 matches FIPS 180 test vectors", "[crypto]") {
  SECTION("empty") {
    REQUIRE(to_hex(sha256({})) ==
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
  SECTION("abc") {
    REQUIRE(to_hex(sha256(as_bytes("abc"))) ==
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
  SECTION("448 bits") {
    REQUIRE(to_hex(sha256(as_bytes(abc448))) ==
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  }
  SECTION("a million 'a'") {
    REQUIRE(to_hex(sha256(as_bytes(million_a))) ==
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("[crypto] incremental SHA-1 equals one-shot", "[crypto]") {
  std::string data;
  for (int i = 0; i < 200; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  const auto bytes = as_bytes(data);
  const sha1_digest expected = sha1(bytes);

  SECTION("every split point") {
    sha1_hasher h;
    for (std::size_t split = 0; split <= bytes.size(); ++split) {
      h.update(bytes.first(split));
      h.update(bytes.subspan(split));
      REQUIRE(h.finish() == expected);  // finish() also resets
    }
  }
  SECTION("one byte at a time") {
    sha1_hasher h;
    for (std::size_t i = 0; i < bytes.size(); ++i) h.update(bytes.subspan(i, 1));
    REQUIRE(h.finish() == expected);
  }
  SECTION("a million 'a' in 16 KiB blocks") {
    sha1_hasher h;
    const auto all = as_bytes(million_a);
    for (std::size_t off = 0; off < all.size(); off += 16384) {
      h.update(all.subspan(off, std::min<std::size_t>(16384, all.size() - off)));
    }
    REQUIRE(to_hex(h.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  }
  SECTION("finish with nothing is the empty hash, and resets") {
    sha1_hasher h;
    REQUIRE(h.finish() == sha1({}));
    h.update(as_bytes("abc"));
    REQUIRE(h.finish() == sha1(as_bytes("abc")));
    REQUIRE(h.finish() == sha1({}));
  }
  SECTION("moves keep the state") {
    sha1_hasher a;
    a.update(bytes.first(50));
    sha1_hasher b(std::move(a));
    b.update(bytes.subspan(50));
    REQUIRE(b.finish() == expected);
    sha1_hasher c;
    c = std::move(b);
    c.update(bytes);
    REQUIRE(c.finish() == expected);
  }
}
