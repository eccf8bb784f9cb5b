#include "session/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace wt {

void token_bucket::set_rate(std::uint64_t bytes_per_second, time_point now) {
  if (!limited()) {
    tokens_ = 0;
    earning_ = false;
  } else if (earning_) {
    refill(now);  // tokens earned at the old rate are kept
  }
  last_ = now;
  rate_ = bytes_per_second;
  if (limited()) tokens_ = std::min(tokens_, capacity());
}

void token_bucket::refill(time_point now) {
  if (!earning_) {
    earning_ = true;
    last_ = std::max(last_, now);
    return;
  }
  if (now <= last_) return;
  if (limited()) {
    const double earned = static_cast<double>(rate_) * earn_fraction_ * std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(capacity(), tokens_ + earned);
  }
  last_ = now;
}

void token_bucket::spend(std::uint64_t bytes) noexcept {
  if (limited()) tokens_ -= static_cast<double>(bytes);
}

double token_bucket::capacity() const noexcept {
  return std::max(2.0 * block, static_cast<double>(rate_) / 10.0);
}

double token_bucket::wake_threshold() const noexcept {
  return std::max(static_cast<double>(block), static_cast<double>(rate_) / 20.0);
}

time_point token_bucket::ready_at() const noexcept {
  const double missing = wake_threshold() - tokens_;
  if (!limited() || missing <= 0) return last_;
  // Rounded up, plus a microsecond, so that a refill at that time reaches the threshold.
  const double micros = std::ceil(missing * 1e6 / (static_cast<double>(rate_) * earn_fraction_)) + 1.0;
  return last_ + duration{static_cast<duration::rep>(micros)};
}

}  // namespace wt
