// A speed as apps show it (a torrent's, a peer's), as WebTorrent's (npm throughput, 5 s):
// the bytes of the last 5 s per second; until 5 s have passed since the meter started (the
// torrent was added, the connection made) the bytes since then over that time, at least a
// second. It reads a value from the first bytes on, never more than a rate limit lets
// through since the start, and exactly 0 once nothing came for a whole window, where a
// moving average decays for ever. Peers also keep smoothed rates, which pace requests
// (peer_connection.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

#include "base/clock.hpp"

namespace wt {

class rate_meter {
 public:
  static constexpr std::int64_t window_seconds = 5;

  // `bytes` that came (or went) by `now`.
  void add(std::uint64_t bytes, time_point now) {
    if (bytes == 0) return;
    const std::int64_t s = second_of(now);
    advance(s);
    counts_[slot(s)] += bytes;
    phase_ = now - time_point{std::chrono::seconds(s)};
  }

  // Bytes per second over the window that ends at `now`, for a meter started at `since`;
  // `pending`: bytes not added yet. The session adds at each tick (every second) the bytes
  // of the second before it, so a count of second s came in the second before its tick:
  // the ticks' phase within the second (that of the last add) is where the window starts.
  // Without it a reading was up to a fifth low, in a sawtooth, when the ticks fell late in
  // their second.
  double rate(time_point now, time_point since, std::uint64_t pending = 0) const {
    const std::int64_t s = second_of(now);
    std::uint64_t sum = pending;
    for (std::int64_t sec = s - window_seconds + 1; sec <= s; ++sec) {
      if (sec <= newest_ && sec > newest_ - window_seconds) sum += counts_[slot(sec)];
    }
    if (sum == 0) return 0;
    const time_point window_start = time_point{std::chrono::seconds(s - window_seconds)} + phase_;
    const double span = std::max(1.0, std::chrono::duration<double>(now - std::max(since, window_start)).count());
    return static_cast<double>(sum) / span;
  }

 private:
  static std::int64_t second_of(time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  }
  static std::size_t slot(std::int64_t second) {
    return static_cast<std::size_t>(((second % window_seconds) + window_seconds) % window_seconds);
  }
  // Empties the seconds after the newest up to `s`, whose slots held older ones.
  void advance(std::int64_t s) {
    if (s <= newest_) return;
    for (std::int64_t sec = std::max(newest_ + 1, s - window_seconds + 1); sec <= s; ++sec) counts_[slot(sec)] = 0;
    newest_ = s;
  }

  std::array<std::uint64_t, window_seconds> counts_{};
  std::int64_t newest_ = INT64_MIN / 2;  // the second of the newest count
  duration phase_{};                      // where in its second the last add came
};

}  // namespace wt
