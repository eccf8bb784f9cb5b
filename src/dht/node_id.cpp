#include "dht/node_id.hpp"

#include <array>

namespace wt::dht {

namespace {

// The masked address with r in its top 3 bits: 4 bytes for IPv4, the first 8 for IPv6.
std::uint32_t prefix_crc(const wire::endpoint& address, std::uint8_t r) noexcept {
  static constexpr std::array<std::uint8_t, 4> v4_mask{0x03, 0x0f, 0x3f, 0xff};
  static constexpr std::array<std::uint8_t, 8> v6_mask{0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff};
  std::array<std::uint8_t, 8> masked{};
  const std::size_t n = address.v6 ? 8 : 4;
  for (std::size_t i = 0; i < n; ++i) masked[i] = address.address[i] & (address.v6 ? v6_mask[i] : v4_mask[i]);
  masked[0] = static_cast<std::uint8_t>(masked[0] | (r & 7) << 5);
  return crc32c(byte_view(masked.data(), n));
}

}  // namespace

std::uint32_t crc32c(byte_view data) noexcept {
  std::uint32_t crc = 0xffffffff;
  for (const std::uint8_t b : data) {
    crc ^= b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82f63b78 & (0u - (crc & 1)));
  }
  return ~crc;
}

bool secure_id_exempt(const wire::endpoint& address) noexcept {
  const auto& a = address.address;
  if (!address.v6)
    return a[0] == 10 || a[0] == 127 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 169 && a[1] == 254);
  bool loopback = a[15] == 1;
  for (std::size_t i = 0; i < 15; ++i) loopback = loopback && a[i] == 0;
  return loopback || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || (a[0] & 0xfe) == 0xfc;
}

node_id secure_node_id(const wire::endpoint& address, std::uint8_t r, const node_id& random) noexcept {
  const std::uint32_t crc = prefix_crc(address, r);
  node_id id = random;
  id[0] = static_cast<std::uint8_t>(crc >> 24);
  id[1] = static_cast<std::uint8_t>(crc >> 16);
  id[2] = static_cast<std::uint8_t>(((crc >> 8) & 0xf8) | (random[2] & 0x07));
  id[19] = r;
  return id;
}

bool secure_id_valid(const node_id& id, const wire::endpoint& address) noexcept {
  if (secure_id_exempt(address)) return true;
  const std::uint32_t crc = prefix_crc(address, id[19]);
  return id[0] == static_cast<std::uint8_t>(crc >> 24) && id[1] == static_cast<std::uint8_t>(crc >> 16) &&
         (id[2] & 0xf8) == ((crc >> 8) & 0xf8);
}

}  // namespace wt::dht
