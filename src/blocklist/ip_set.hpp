// A set of IP addresses held as sorted, merged, disjoint ranges (IPv4 and IPv6 apart):
// the client's blocklist. Built once from ranges, then only asked (binary search).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wire/wire.hpp"

namespace wt {

// An IPv6 address as a 128-bit number (big-endian halves), for ordering and adjacency.
struct ip_v6 {
  std::uint64_t hi = 0, lo = 0;
  friend auto operator<=>(const ip_v6&, const ip_v6&) = default;
};

class ip_set {
 public:
  struct v4_range { std::uint32_t first = 0, last = 0; };
  struct v6_range { ip_v6 first, last; };

  ip_set() = default;
  // Sorts and merges (overlapping and adjacent ranges become one); ranges with
  // first > last are dropped.
  ip_set(std::vector<v4_range> v4, std::vector<v6_range> v6);

  // The address of `e` (its port is ignored). An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
  // is looked up as the IPv4 address it maps.
  bool contains(const wire::endpoint& e) const;
  bool empty() const noexcept { return v4_.empty() && v6_.empty(); }
  // Ranges after merging.
  std::size_t size() const noexcept { return v4_.size() + v6_.size(); }
  const std::vector<v4_range>& v4() const noexcept { return v4_; }
  const std::vector<v6_range>& v6() const noexcept { return v6_; }

  static std::uint32_t to_v4(const wire::endpoint& e);
  static ip_v6 to_v6(const wire::endpoint& e);

 private:
  std::vector<v4_range> v4_;
  std::vector<v6_range> v6_;
};

}  // namespace wt
