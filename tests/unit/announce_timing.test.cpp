#include "tracker/announce_timing.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace wt;
using namespace wt::tracker;
using namespace std::chrono_literals;

namespace {

time_point at(duration d) { return time_point{} + d; }

timing_config config() {
  timing_config c;
  c.default_interval = 120s;
  c.min_interval_floor = 10s;
  c.max_interval = 24h;
  c.backoff_base = 15s;
  c.backoff_cap = 100s;
  return c;
}

}  // namespace

TEST_CASE("[announce_timing] events: started until delivered, completed when asked",
          "[announce_timing]") {
  const auto cfg = config();
  announce_timing t(cfg);
  CHECK_FALSE(t.started());
  CHECK(t.next_event(false) == announce_event::started);
  CHECK(t.next_event(true) == announce_event::started);  // "started" comes first
  CHECK(t.next_regular() == time_point{});                // due at once

  SECTION("a failed 'started' is asked again") {
    t.failed(cfg, at(1s));
    CHECK(t.next_event(false) == announce_event::started);
  }
  SECTION("delivered, then completed or none") {
    t.delivered(announce_event::started, at(1s));
    CHECK(t.started());
    CHECK(t.next_event(false) == announce_event::none);
    CHECK(t.next_event(true) == announce_event::completed);
    t.delivered(announce_event::none, at(2s));  // other events do not change that
    CHECK(t.started());

    SECTION("forgotten: started again") {
      t.forget();
      CHECK_FALSE(t.started());
      CHECK(t.next_event(true) == announce_event::started);
    }
  }
}

TEST_CASE("[announce_timing] intervals: default, min interval, floor and cap", "[announce_timing]") {
  const auto cfg = config();
  announce_timing t(cfg);
  CHECK(t.interval() == 120s);  // the default until the tracker says

  SECTION("the default starts from the last delivery") {
    t.delivered(announce_event::started, at(5s));
    CHECK(t.next_regular() == at(125s));
  }
  SECTION("the tracker's interval, from its answer") {
    t.delivered(announce_event::started, at(0s));
    CHECK(t.answered(30, std::nullopt, cfg, at(1s)) == 30s);
    CHECK(t.interval() == 30s);
    CHECK(t.next_regular() == at(31s));
  }
  SECTION("no interval in the answer: the default") {
    CHECK(t.answered(std::nullopt, std::nullopt, cfg, at(0s)) == 120s);
  }
  SECTION("raised to the min interval") {
    CHECK(t.answered(30, 90, cfg, at(0s)) == 90s);
    CHECK(t.next_regular() == at(90s));
    SECTION("which holds for that answer only") {
      CHECK(t.answered(30, std::nullopt, cfg, at(100s)) == 30s);
      CHECK(t.earliest_extra(cfg) == at(110s));  // the floor
    }
  }
  SECTION("below the floor, above the cap, absurd") {
    CHECK(t.answered(1, std::nullopt, cfg, at(0s)) == 10s);
    CHECK(t.answered(-5, std::nullopt, cfg, at(0s)) == 10s);
    CHECK(t.answered(100'000, std::nullopt, cfg, at(0s)) == 24h);
    CHECK(t.answered(std::int64_t{1} << 62, std::nullopt, cfg, at(0s)) == 24h);
    CHECK(t.answered(1, std::int64_t{1} << 62, cfg, at(0s)) == 24h);
  }
  SECTION("a floor above the cap wins") {
    auto odd = cfg;
    odd.min_interval_floor = 2h;
    odd.max_interval = 1h;
    announce_timing u(odd);
    CHECK(u.interval() == 2h);
    CHECK(u.answered(60, std::nullopt, odd, at(0s)) == 2h);
  }
}

TEST_CASE("[announce_timing] extra announces wait for the min interval", "[announce_timing]") {
  const auto cfg = config();
  announce_timing t(cfg);
  CHECK(t.earliest_extra(cfg) == time_point{});  // nothing delivered yet: no wait
  t.delivered(announce_event::started, at(0s));
  t.answered(1800, 300, cfg, at(0s));
  CHECK(t.earliest_extra(cfg) == at(300s));
  t.answered(1800, std::nullopt, cfg, at(400s));
  CHECK(t.earliest_extra(cfg) == at(410s));  // min_interval_floor
}

TEST_CASE("[announce_timing] back-off doubles up to its cap; an answer resets it",
          "[announce_timing]") {
  CHECK(backoff_delay(0, 15s, 100s) == 15s);
  CHECK(backoff_delay(1, 15s, 100s) == 15s);
  CHECK(backoff_delay(2, 15s, 100s) == 30s);
  CHECK(backoff_delay(4, 15s, 100s) == 100s);
  CHECK(backoff_delay(1000, 15s, 100s) == 100s);
  CHECK(backoff_delay(1, 200s, 100s) == 100s);

  const auto cfg = config();
  announce_timing t(cfg);
  CHECK(t.retry_at() == time_point{});
  std::vector<std::int64_t> waits;
  time_point now = at(0s);
  for (int i = 0; i < 6; ++i) {
    t.failed(cfg, now);
    waits.push_back(std::chrono::duration_cast<std::chrono::seconds>(t.retry_at() - now).count());
    now = t.retry_at();
  }
  CHECK(waits == std::vector<std::int64_t>{15, 30, 60, 100, 100, 100});
  t.answered(60, std::nullopt, cfg, now);
  CHECK(t.retry_at() == time_point{});
  t.failed(cfg, now + 60s);
  CHECK(t.retry_at() == now + 75s);
}
