// Fixed-size byte arrays (keys, signatures) from the hex of test vectors.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <catch2/catch.hpp>

#include "base/bytes.hpp"

namespace wt::test {

template <std::size_t N>
std::array<std::uint8_t, N> from_hex_array(std::string_view hex) {
  const auto bytes = from_hex(hex);
  REQUIRE(bytes);
  REQUIRE(bytes->size() == N);
  std::array<std::uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace wt::test
