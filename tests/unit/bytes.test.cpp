#include <catch2/catch.hpp>

#include <string>

#include "base/bytes.hpp"

using namespace wt;

namespace {

byte_buffer bytes_of(std::string_view s) {
  const auto v = as_bytes(s);
  return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("[bytes] hex encodes lower case and decodes either case", "[bytes]") {
  SECTION("known vectors") {
    REQUIRE(to_hex({}) == "");
    REQUIRE(to_hex(as_bytes("foobar")) == "666f6f626172");
    const byte_buffer all{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    REQUIRE(to_hex(all) == "00017f80abff");
    REQUIRE(from_hex("00017F80abFF") == all);
    REQUIRE(from_hex("") == byte_buffer{});
  }
  SECTION("round trip over every byte value") {
    byte_buffer all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
    REQUIRE(from_hex(to_hex(all)) == all);
  }
  SECTION("bad input") {
    REQUIRE_FALSE(from_hex("a"));
    REQUIRE_FALSE(from_hex("abc"));
    REQUIRE_FALSE(from_hex("0g"));
    REQUIRE_FALSE(from_hex("g0"));
    REQUIRE_FALSE(from_hex(" 0"));
    REQUIRE_FALSE(from_hex(std::string_view("0\0", 2)));
  }
}

TEST_CASE("[bytes] base32 follows RFC 4648 without padding", "[bytes]") {
  SECTION("RFC 4648 section 10 vectors") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},           {"f", "MY"},          {"fo", "MZXQ"},         {"foo", "MZXW6"},
        {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"}};
    for (const auto& [plain, encoded] : vectors) {
      INFO(plain);
      REQUIRE(to_base32(as_bytes(plain)) == encoded);
      REQUIRE(from_base32(encoded) == bytes_of(plain));
    }
  }
  SECTION("decoding ignores case") {
    REQUIRE(from_base32("mzxw6ytboi") == bytes_of("foobar"));
    REQUIRE(from_base32("MzXw6YtBoI") == bytes_of("foobar"));
  }
  SECTION("a 20-byte info-hash is 32 characters") {
    const auto hash = from_hex("c12fe1c06bba254a9dc9f519b335aa7c1367a88a").value();
    REQUIRE(to_base32(hash) == "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK");
    REQUIRE(from_base32("YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK") == hash);
  }
  SECTION("round trip for every length up to 40") {
    byte_buffer data;
    for (std::size_t n = 0; n <= 40; ++n) {
      REQUIRE(from_base32(to_base32(data)) == data);
      data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
    }
  }
  SECTION("bad input") {
    REQUIRE_FALSE(from_base32("M"));          // 1 char: not a whole byte
    REQUIRE_FALSE(from_base32("MZX"));        // 3 chars
    REQUIRE_FALSE(from_base32("MZXW6Y"));     // 6 chars
    REQUIRE_FALSE(from_base32("MY======"));   // padding is not accepted
    REQUIRE_FALSE(from_base32("MZXW1"));      // '1' is not in the alphabet
    REQUIRE_FALSE(from_base32("MZXW8"));
    REQUIRE_FALSE(from_base32("MZ"));         // non-zero leftover bits
  }
}

TEST_CASE("printable_text: clipped, control characters replaced", "[bytes]") {
  CHECK(printable_text("go away", 100) == "go away");
  CHECK(printable_text("go away", 2) == "go");
  CHECK(printable_text(std::string_view("a\x1b[2Jb\nc\0d\x7f", 11), 100) == "a [2Jb c d ");
  CHECK(printable_text("caf\xc3\xa9", 100) == "caf\xc3\xa9");  // UTF-8 is kept
}
