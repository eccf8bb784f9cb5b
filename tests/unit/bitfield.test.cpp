#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "base/bitfield.hpp"

using wt::bitfield;
using wt::bitfield_check;
using bytes = std::vector<std::uint8_t>;

TEST_CASE("[bitfield] construction, set, clear, test", "[bitfield]") {
  bitfield b(10);
  CHECK(b.size() == 10);
  CHECK(b.byte_size() == 2);
  CHECK(b.none());
  CHECK_FALSE(b.all());
  CHECK(b.count() == 0);

  b.set(0);
  b.set(9);
  b.set(3, true);
  CHECK(b.test(0));
  CHECK(b[9]);
  CHECK(b.test(3));
  CHECK_FALSE(b.test(1));
  CHECK(b.count() == 3);
  CHECK(b.to_string() == "1001000001");

  b.clear(9);
  b.set(3, false);
  CHECK(b.to_string() == "1000000000");
  SECTION("out of range is ignored and reads as clear") {
    b.set(10);
    b.set(1000);
    CHECK_FALSE(b.test(10));
    CHECK(b.count() == 1);
  }
  SECTION("set_all and clear_all keep spare bits zero") {
    b.set_all();
    CHECK(b.all());
    CHECK(b.count() == 10);
    CHECK(b.to_bytes() == bytes{0xff, 0xc0});
    b.clear_all();
    CHECK(b.none());
  }
}

TEST_CASE("[bitfield] empty bitfield", "[bitfield]") {
  bitfield b;
  CHECK(b.empty());
  CHECK(b.all());
  CHECK(b.none());
  CHECK(b.count() == 0);
  CHECK(b.to_bytes().empty());
  CHECK(b.find_next_set(0) == 0);
  CHECK(b.find_next_unset(0) == 0);
  CHECK(bitfield(0, true).empty());
}

TEST_CASE("[bitfield] wire layout is MSB first", "[bitfield]") {
  bitfield b(12);
  b.set(0);
  b.set(7);
  b.set(8);
  b.set(11);
  CHECK(b.to_bytes() == bytes{0x81, 0x90});

  const bytes wire{0x40, 0x01, 0x80};
  auto parsed = bitfield::from_bytes(wire, 17);
  REQUIRE(parsed);
  CHECK(parsed->to_string() == "01000000000000011");
  CHECK(parsed->to_bytes() == wire);
}

TEST_CASE("[bitfield] validation of received bitfields", "[bitfield]") {
  CHECK(wt::validate_bitfield(bytes{0xff, 0xc0}, 10) == bitfield_check::ok);
  CHECK(wt::validate_bitfield(bytes{0xff, 0xe0}, 10) == bitfield_check::spare_bits_set);
  CHECK(wt::validate_bitfield(bytes{0xff, 0xc1}, 10) == bitfield_check::spare_bits_set);
  CHECK(wt::validate_bitfield(bytes{0xff}, 10) == bitfield_check::wrong_length);
  CHECK(wt::validate_bitfield(bytes{0xff, 0xc0, 0x00}, 10) == bitfield_check::wrong_length);
  CHECK(wt::validate_bitfield(bytes{0xff}, 8) == bitfield_check::ok);
  CHECK(wt::validate_bitfield(bytes{}, 0) == bitfield_check::ok);
  CHECK_FALSE(bitfield::from_bytes(bytes{0xff, 0xe0}, 10));
  CHECK_FALSE(bitfield::from_bytes(bytes{0xff}, 10));
}

TEST_CASE("[bitfield] round trip across word boundaries", "[bitfield]") {
  for (std::uint32_t n : {1u, 7u, 8u, 9u, 63u, 64u, 65u, 127u, 128u, 129u, 1000u}) {
    bitfield b(n);
    for (std::uint32_t i = 0; i < n; i += 3) b.set(i);
    b.set(n - 1);
    const auto wire = b.to_bytes();
    REQUIRE(wire.size() == (n + 7) / 8);
    REQUIRE(wt::validate_bitfield(wire, n) == bitfield_check::ok);
    auto back = bitfield::from_bytes(wire, n);
    REQUIRE(back);
    CHECK(*back == b);
    CHECK(back->count() == b.count());
  }
}

TEST_CASE("[bitfield] find next set and unset", "[bitfield]") {
  bitfield b(200);
  CHECK(b.find_next_set(0) == 200);
  CHECK(b.find_next_unset(0) == 0);
  b.set(5);
  b.set(64);
  b.set(130);
  b.set(199);
  std::vector<std::uint32_t> seen;
  for (std::uint32_t i = b.find_next_set(0); i < b.size(); i = b.find_next_set(i + 1)) seen.push_back(i);
  CHECK(seen == std::vector<std::uint32_t>{5, 64, 130, 199});
  CHECK(b.find_next_set(6) == 64);
  CHECK(b.find_next_set(200) == 200);
  CHECK(b.find_next_set(1000) == 200);

  b.set_all();
  CHECK(b.find_next_unset(0) == 200);  // spare bits do not count
  b.clear(63);
  b.clear(128);
  CHECK(b.find_next_unset(0) == 63);
  CHECK(b.find_next_unset(64) == 128);
  CHECK(b.find_next_unset(129) == 200);
}

TEST_CASE("[bitfield] resize, string form, bitwise operations", "[bitfield]") {
  bitfield b = bitfield::from_string("*  ** ");
  CHECK(b.to_string() == "100110");
  b.resize(70, true);
  CHECK(b.count() == 3 + 64);
  CHECK(b.to_string().substr(0, 8) == "10011011");
  b.resize(4);
  CHECK(b.to_string() == "1001");
  b.resize(8);
  CHECK(b.to_string() == "10010000");  // shrinking cleared the old bits

  bitfield x = bitfield::from_string("1100");
  const bitfield y = bitfield::from_string("1010");
  bitfield a = x;
  a &= y;
  CHECK(a.to_string() == "1000");
  bitfield o = x;
  o |= y;
  CHECK(o.to_string() == "1110");
  x.subtract(y);
  CHECK(x.to_string() == "0100");
}

TEST_CASE("[bitfield] count of a large bitfield", "[bitfield]") {
  bitfield b(1'000'000, true);
  CHECK(b.count() == 1'000'000);
  CHECK(b.all());
  b.clear(999'999);
  CHECK(b.count() == 999'999);
  CHECK_FALSE(b.all());
  CHECK(b.find_next_unset(0) == 999'999);
}
