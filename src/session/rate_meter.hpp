// A speed as apps show it (a torrent's, a peer's): the bytes of the last few seconds, per
// second (WebTorrent's speedometer, a 5 s window). It reads a value from the first bytes on
// (over at least a second, not after a tick's average has warmed up) and exactly 0 once
// nothing came for a whole window, where a moving average decays for ever. Peers also keep
// smoothed rates, which pace requests (peer_connection.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

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
    if (!first_) first_ = now;
  }

  // Bytes per second over the window that ends at `now`; `pending`: bytes not added yet.
  // The session adds at each tick (every second) the bytes of the second before it: the
  // window's bytes span from a second before the first of them.
  double rate(time_point now, std::uint64_t pending = 0) const {
    const std::int64_t s = second_of(now);
    std::uint64_t sum = pending;
    for (std::int64_t sec = s - window_seconds + 1; sec <= s; ++sec) {
      if (sec <= newest_ && sec > newest_ - window_seconds) sum += counts_[slot(sec)];
    }
    if (sum == 0) return 0;
    const time_point window_start{std::chrono::seconds(s - window_seconds)};
    const time_point from = std::max(first_.value_or(now) - std::chrono::seconds(1), window_start);
    const double span = std::max(1.0, std::chrono::duration<double>(now - from).count());
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
  std::optional<time_point> first_;      // the first bytes ever
};

}  // namespace wt
