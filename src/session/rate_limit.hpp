// A token bucket for the session's rate limits, on engine time (no clock: the caller
// passes `now`).
//
// Tokens are bytes. They accrue at rate() bytes per second up to capacity(). A transfer
// may start whenever the balance is positive and spends its whole size at once, so the
// balance can go negative by up to one transfer (a 16 KiB block): the caller never has
// to split a block, and over any window of length T at most rate * T + capacity + one
// block is spent.
//
// Waking up: the owner of a bucket with work waiting asks ready_at() for the time the
// balance reaches wake_threshold() and has the host call back then. The threshold is
// about 50 ms of traffic, so a busy limit costs about 20 wake-ups a second, whatever
// the rate.
#pragma once

#include <cstdint>

#include "base/clock.hpp"

namespace wt {

class token_bucket {
 public:
  // A block: the largest single transfer, and the least the bucket holds when full.
  static constexpr std::int64_t block = 16 * 1024;

  // 0 = unlimited. Tokens earned at the old rate are kept (clamped to the new
  // capacity), so a change takes effect at once. From unlimited, the balance starts
  // at zero: the first bytes go out after one wake threshold's worth of time.
  void set_rate(std::uint64_t bytes_per_second, time_point now);
  std::uint64_t rate() const noexcept { return rate_; }
  bool limited() const noexcept { return rate_ > 0; }

  // Adds the tokens earned since the last refill, up to capacity().
  void refill(time_point now);
  // A transfer may start now (always true when unlimited).
  bool available() const noexcept { return !limited() || tokens_ > 0; }
  double tokens() const noexcept { return tokens_; }
  void spend(std::uint64_t bytes) noexcept;

  // Burst size: a quarter of a second of traffic, at least two blocks.
  double capacity() const noexcept;
  // The balance worth waking up for: 50 ms of traffic, at least one byte.
  double wake_threshold() const noexcept;
  // When the balance (as of the last refill) reaches wake_threshold(); the last refill
  // time when it already has. Meaningless when unlimited.
  time_point ready_at() const noexcept;

 private:
  std::uint64_t rate_ = 0;
  double tokens_ = 0;
  time_point last_{};
};

}  // namespace wt
