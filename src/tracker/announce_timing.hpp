// When one torrent announces to one tracker, and with which event: the part of announce
// scheduling every tracker protocol shares. The HTTP/UDP announcer (announce_schedule.hpp)
// keeps one per tracker of a torrent's tiers, the WebSocket client (ws_tracker.hpp) one per
// torrent on each tracker socket; each adds only what is its own (BEP 12 tiers and
// fail-over; sockets and offers).
//
// Events: "started" until the tracker has one (again after forget()), then "completed" when
// the caller has it to tell, else none. Interval: the tracker's (default_interval when it
// gives none), raised to its min interval and min_interval_floor, at most max_interval.
// Failures back off from backoff_base, doubling up to backoff_cap; an answer resets that.
//
// A plain value: no clock, no I/O; the caller passes `now` and its config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "tracker/announce_types.hpp"

namespace wt::tracker {

struct timing_config {
  duration default_interval = std::chrono::minutes(30);
  duration min_interval_floor = std::chrono::seconds(60);
  duration max_interval = std::chrono::hours(24);
  duration backoff_base = std::chrono::seconds(15);
  duration backoff_cap = std::chrono::hours(1);
};

// The back-off after `failures` in a row (1: `base`), doubling up to `cap`.
duration backoff_delay(unsigned failures, duration base, duration cap);

class announce_timing {
 public:
  explicit announce_timing(const timing_config& cfg);

  // The tracker has had a "started" from us (and no forget() since).
  bool started() const noexcept { return started_; }
  // The event of the next announce; `completing`: the torrent has "completed" to tell.
  announce_event next_event(bool completing) const noexcept;

  // The tracker has our announce with event `e`. HTTP, UDP: it answered. WebSocket: it went
  // out on the open socket, which delivers it in order or drops (then forget()).
  void delivered(announce_event e, time_point now) noexcept;
  // The tracker answered an announce (seconds as it sent them, absent when it did not):
  // ends the back-off; returns the re-announce interval now in force.
  duration answered(std::optional<std::int64_t> interval_s,
                    std::optional<std::int64_t> min_interval_s, const timing_config& cfg,
                    time_point now) noexcept;
  // The announce failed: wait longer each time before trying this tracker again.
  void failed(const timing_config& cfg, time_point now) noexcept;
  // The tracker no longer knows us (a new socket): "started" again.
  void forget() noexcept { started_ = false; }

  duration interval() const noexcept { return interval_; }
  // The next regular announce: an interval after the last exchange; at once if none.
  time_point next_regular() const noexcept;
  // The earliest an extra announce ("completed", more peers) may go: the tracker's min
  // interval, at least min_interval_floor, after the last exchange.
  time_point earliest_extra(const timing_config& cfg) const noexcept;
  // Backing off until then (time_point{} when not).
  time_point retry_at() const noexcept { return retry_at_; }

  std::string tracker_id;  // what the tracker asked us to echo, if anything

 private:
  bool started_ = false;
  duration interval_{};
  duration min_interval_{};
  std::optional<time_point> last_;  // the last announce delivered or answered
  unsigned failures_ = 0;           // in a row
  time_point retry_at_{};
};

}  // namespace wt::tracker
