// The token bucket behind the session's rate limits.
#include <catch2/catch.hpp>

#include "session/rate_limit.hpp"

using namespace wt;
using namespace std::chrono_literals;

TEST_CASE("[rate_limit] tokens accrue at the rate up to the capacity, from the first wait on", "[rate_limit]") {
  token_bucket b;
  const time_point t0{1s};
  CHECK_FALSE(b.limited());
  CHECK(b.available());  // unlimited: always
  b.set_rate(100'000, t0);
  CHECK(b.limited());
  CHECK(b.rate() == 100'000);
  CHECK(b.tokens() == 0);  // from unlimited, the balance starts empty
  CHECK_FALSE(b.available());
  // Nothing is earned before the first wait: a limit set a second before any transfer
  // (and set again meanwhile) has saved nothing.
  b.set_rate(100'000, t0 + 500ms);
  CHECK(b.tokens() == 0);
  b.refill(t0 + 1s);
  CHECK(b.tokens() == 0);
  b.refill(t0 + 1s + 100ms);
  CHECK(b.tokens() == Approx(10'000));
  CHECK_FALSE(b.available());  // a transfer waits for a whole block
  b.refill(t0 + 1s + 200ms);
  CHECK(b.available());
  // Full after 100 ms of traffic (or two blocks, whichever is more).
  CHECK(b.capacity() == Approx(2.0 * token_bucket::block));
  b.refill(t0 + 10s);
  CHECK(b.tokens() == Approx(b.capacity()));
  b.set_rate(10'000'000, t0 + 10s);
  CHECK(b.capacity() == Approx(1'000'000));
  b.refill(t0 + 20s);
  CHECK(b.tokens() == Approx(1'000'000));
  // Time going backwards changes nothing.
  b.refill(t0 + 5s);
  CHECK(b.tokens() == Approx(1'000'000));
}

TEST_CASE("[rate_limit] a block waits for its tokens; ready_at says when they are there", "[rate_limit]") {
  token_bucket b;
  const time_point t0{};
  b.set_rate(20'000, t0);
  b.refill(t0);         // the first wait: earning starts
  b.refill(t0 + 50ms);  // 1000 tokens
  CHECK_FALSE(b.available());
  // The wake threshold is a block here (50 ms of traffic is less): 16384 bytes at 20000
  // bytes/s, 819.2 ms from the start.
  CHECK(b.wake_threshold() == Approx(16'384));
  const time_point ready = b.ready_at();
  CHECK(ready > t0 + 819ms);
  CHECK(ready < t0 + 820ms);
  b.refill(ready);
  REQUIRE(b.available());
  b.spend(16'384);
  CHECK(b.tokens() >= 0);
  CHECK(b.tokens() < 1);
  CHECK_FALSE(b.available());
  SECTION("over any window from the first wait on, at most the rate") {
    // Spend a block whenever the balance allows, for 100 s: never ahead of the rate.
    std::uint64_t spent = 16'384;
    time_point now = ready;
    const time_point end = now + 100s;
    while (now < end) {
      b.refill(now);
      while (b.available()) {
        b.spend(16'384);
        spent += 16'384;
      }
      CHECK(static_cast<double>(spent) <= 20'000.0 * std::chrono::duration<double>(now - t0).count() + 1);
      now = b.ready_at();
    }
    CHECK(static_cast<double>(spent) == Approx(100 * 20'000).epsilon(0.02));
  }
  SECTION("a lower rate clamps the balance at once; unlimited clears it") {
    b.refill(ready + 10s);
    b.set_rate(1000, ready + 10s);
    CHECK(b.tokens() == Approx(b.capacity()));
    CHECK(b.capacity() == Approx(2.0 * token_bucket::block));
    b.set_rate(0, ready + 10s);
    CHECK(b.available());
    b.set_rate(1000, ready + 11s);
    CHECK(b.tokens() == 0);
  }
}

TEST_CASE("[rate_limit] a download bucket earns a little below its rate, and ready_at follows", "[rate_limit]") {
  token_bucket b{download_earn_fraction};
  const time_point t0{};
  b.set_rate(200'000, t0);
  CHECK(b.rate() == 200'000);  // the limit as set
  b.refill(t0);
  b.refill(t0 + 100ms);
  CHECK(b.tokens() == Approx(200'000 * download_earn_fraction / 10));
  CHECK(b.tokens() < 20'000);
  // ready_at: when the earning reaches the wake threshold, at the slower pace.
  b.spend(static_cast<std::uint64_t>(b.tokens()));
  const time_point ready = b.ready_at();
  b.refill(ready);
  CHECK(b.tokens() >= b.wake_threshold());
  CHECK(b.tokens() < b.wake_threshold() + 1);
}
