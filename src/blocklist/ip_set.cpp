#include "blocklist/ip_set.hpp"

#include <algorithm>
#include <limits>

namespace wt {

namespace {

// Sorts by first address and merges ranges that overlap or touch.
template <class Range, class Next>
void normalize(std::vector<Range>& ranges, Next next_after) {
  std::erase_if(ranges, [](const Range& r) { return r.last < r.first; });
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (out > 0) {
      Range& prev = ranges[out - 1];
      // Touching: prev.last + 1 == r.first (no overflow: prev.last < r.first's maximum here).
      if (!(prev.last < ranges[i].first) || next_after(prev.last) == ranges[i].first) {
        prev.last = std::max(prev.last, ranges[i].last);
        continue;
      }
    }
    ranges[out++] = ranges[i];
  }
  ranges.resize(out);
}

// The last range whose first address is <= a, and whether it holds a.
template <class Range, class Addr>
bool holds(const std::vector<Range>& ranges, const Addr& a) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), a,
                             [](const Addr& x, const Range& r) { return x < r.first; });
  if (it == ranges.begin()) return false;
  return !(std::prev(it)->last < a);
}

bool is_v4_mapped(const wire::endpoint& e) {
  for (std::size_t i = 0; i < 10; ++i)
    if (e.address[i] != 0) return false;
  return e.address[10] == 0xff && e.address[11] == 0xff;
}

}  // namespace

ip_set::ip_set(std::vector<v4_range> v4, std::vector<v6_range> v6) : v4_(std::move(v4)), v6_(std::move(v6)) {
  // contains() looks IPv4-mapped addresses (::ffff:0:0/96) up as IPv4: the part of an IPv6
  // range inside that block is an IPv4 range too.
  const ip_v6 mapped_first{0, 0xffff00000000}, mapped_last{0, 0xffffffffffff};
  for (const auto& r : v6_) {
    if (r.last < r.first || r.last < mapped_first || mapped_last < r.first) continue;
    const ip_v6 first = std::max(r.first, mapped_first), last = std::min(r.last, mapped_last);
    v4_.push_back({static_cast<std::uint32_t>(first.lo), static_cast<std::uint32_t>(last.lo)});
  }
  normalize(v4_, [](std::uint32_t a) { return a == std::numeric_limits<std::uint32_t>::max() ? a : a + 1; });
  normalize(v6_, [](ip_v6 a) {
    if (a.lo != std::numeric_limits<std::uint64_t>::max()) return ip_v6{a.hi, a.lo + 1};
    if (a.hi != std::numeric_limits<std::uint64_t>::max()) return ip_v6{a.hi + 1, 0};
    return a;
  });
}

std::uint32_t ip_set::to_v4(const wire::endpoint& e) {
  const std::size_t at = e.v6 ? 12 : 0;  // IPv4-mapped: the last four bytes
  return std::uint32_t{e.address[at]} << 24 | std::uint32_t{e.address[at + 1]} << 16 |
         std::uint32_t{e.address[at + 2]} << 8 | std::uint32_t{e.address[at + 3]};
}

ip_v6 ip_set::to_v6(const wire::endpoint& e) {
  ip_v6 a;
  for (std::size_t i = 0; i < 8; ++i) a.hi = a.hi << 8 | e.address[i];
  for (std::size_t i = 8; i < 16; ++i) a.lo = a.lo << 8 | e.address[i];
  return a;
}

bool ip_set::contains(const wire::endpoint& e) const {
  if (!e.v6 || is_v4_mapped(e)) return holds(v4_, to_v4(e));
  return holds(v6_, to_v6(e));
}

}  // namespace wt
