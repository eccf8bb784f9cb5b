// A token bucket for the session's rate limits, on engine time (no clock: the caller
// passes `now`).
//
// Tokens are bytes. They accrue at rate() bytes per second up to capacity(), from the
// first time someone waits for them on (not from when the limit was set: a client that
// sets a limit, then spends a second finding peers, has saved nothing). A transfer starts
// only once the balance holds a whole block, and spends its size, so the balance never
// goes negative and from the first wait on at most rate * T + capacity() is spent over any
// window of length T; the first block waits for its tokens, so from the first wait on at
// most rate * T is spent (WebTorrent's own tests read a 200 kB/s limit as a speed of at
// most 200,000 B/s from the start).
//
// Waking up: the owner of a bucket with work waiting asks ready_at() for the time the
// balance reaches wake_threshold() and has the host call back then. The threshold is
// about 50 ms of traffic (at least a block), so a busy limit costs about 20 wake-ups a
// second, whatever the rate; the capacity is twice that, so a late wake-up loses nothing.
#pragma once

#include <cstdint>

#include "base/clock.hpp"

namespace wt {

class token_bucket {
 public:
  // A block: the largest single transfer, and the least the bucket holds when full.
  static constexpr std::int64_t block = 16 * 1024;

  // `earn_fraction`: tokens accrue at that fraction of rate() (see download_earn_fraction).
  explicit token_bucket(double earn_fraction = 1.0) : earn_fraction_(earn_fraction) {}

  // 0 = unlimited. Tokens earned at the old rate are kept (clamped to the new
  // capacity), so a change takes effect at once. From unlimited, the balance starts
  // at zero and earns nothing until the first refill().
  void set_rate(std::uint64_t bytes_per_second, time_point now);
  std::uint64_t rate() const noexcept { return rate_; }
  bool limited() const noexcept { return rate_ > 0; }

  // Adds the tokens earned since the last refill, up to capacity(); the first one after
  // the limit was set starts the earning.
  void refill(time_point now);
  // A transfer (of a block at most) may start now (always true when unlimited).
  bool available() const noexcept { return !limited() || tokens_ >= block; }
  double tokens() const noexcept { return tokens_; }
  void spend(std::uint64_t bytes) noexcept;

  // Burst size: 100 ms of traffic, at least two blocks.
  double capacity() const noexcept;
  // The balance worth waking up for: 50 ms of traffic, at least one block.
  double wake_threshold() const noexcept;
  // When the balance (as of the last refill) reaches wake_threshold(); the last refill
  // time when it already has. Meaningless when unlimited.
  time_point ready_at() const noexcept;

 private:
  std::uint64_t rate_ = 0;
  double tokens_ = 0;
  time_point last_{};
  bool earning_ = false;  // refill() has run since the limit was set from unlimited
  double earn_fraction_ = 1.0;
};

// Download limits earn 1% below the limit. A request is paid for when it goes out, but its
// block is counted (in the speed apps read, over 5 s) when it arrives: when the peer's
// answers come a few ms sooner at one end of a window than at the other, the window holds
// slightly more than rate × 5 s (by about rate × jitter / 5 s; WebTorrent's own tests read a
// 200 kB/s limit as a speed that never passes 200,000 B/s). Uploads are counted as they are
// sent, and earn at the limit.
inline constexpr double download_earn_fraction = 0.99;

}  // namespace wt
