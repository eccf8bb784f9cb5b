#include "tracker/announce_timing.hpp"

#include <algorithm>

namespace wt::tracker {

namespace {

// Seconds from a tracker, bounded so that adding them to a time point cannot overflow.
duration seconds_from(std::int64_t s) {
  return std::chrono::seconds(std::min<std::int64_t>(s, 1'000'000'000));
}

duration clamped(duration d, const timing_config& cfg) {
  return std::clamp(d, cfg.min_interval_floor, std::max(cfg.min_interval_floor, cfg.max_interval));
}

}  // namespace

duration backoff_delay(unsigned failures, duration base, duration cap) {
  duration d = base;
  for (unsigned i = 1; i < failures && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

announce_timing::announce_timing(const timing_config& cfg)
    : interval_(clamped(cfg.default_interval, cfg)) {}

announce_event announce_timing::next_event(bool completing) const noexcept {
  if (!started_) return announce_event::started;
  return completing ? announce_event::completed : announce_event::none;
}

void announce_timing::delivered(announce_event e, time_point now) noexcept {
  if (e == announce_event::started) started_ = true;
  last_ = now;
}

duration announce_timing::answered(std::optional<std::int64_t> interval_s,
                                   std::optional<std::int64_t> min_interval_s,
                                   const timing_config& cfg, time_point now) noexcept {
  failures_ = 0;
  retry_at_ = {};
  last_ = now;
  min_interval_ = min_interval_s ? seconds_from(*min_interval_s) : duration{};
  const duration asked = interval_s ? seconds_from(*interval_s) : cfg.default_interval;
  interval_ = clamped(std::max(asked, min_interval_), cfg);
  return interval_;
}

void announce_timing::failed(const timing_config& cfg, time_point now) noexcept {
  ++failures_;
  retry_at_ = now + backoff_delay(failures_, cfg.backoff_base, cfg.backoff_cap);
}

time_point announce_timing::next_regular() const noexcept {
  return last_ ? *last_ + interval_ : time_point{};
}

time_point announce_timing::earliest_extra(const timing_config& cfg) const noexcept {
  return last_ ? *last_ + std::max(min_interval_, cfg.min_interval_floor) : time_point{};
}

}  // namespace wt::tracker
