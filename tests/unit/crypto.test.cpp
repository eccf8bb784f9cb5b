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

TEST_CASE("[crypto] SHA-512 matches FIPS 180 test vectors", "[crypto]") {
  SECTION("empty") {
    REQUIRE(to_hex(sha512({})) ==
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  }
  SECTION("abc") {
    REQUIRE(to_hex(sha512(as_bytes("abc"))) ==
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  }
  SECTION("896 bits") {
    REQUIRE(to_hex(sha512(as_bytes("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                                   "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))) ==
            "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
            "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
  }
  SECTION("a million 'a'") {
    REQUIRE(to_hex(sha512(as_bytes(million_a))) ==
            "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
            "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
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
