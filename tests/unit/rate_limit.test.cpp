// The token bucket behind the session's rate limits.
#include <catch2/catch.hpp>

#include "session/rate_limit.hpp"

using namespace wt;
using namespace std::chrono_literals;

TEST_CASE("[rate_limit] tokens accrue at the rate up to the capacity", "[rate_limit]") {
  token_bucket b;
  const time_point t0{1s};
  CHECK_FALSE(b.limited());
  CHECK(b.available());  // unlimited: always
  b.set_rate(100'000, t0);
  CHECK(b.limited());
  CHECK(b.rate() == 100'000);
  CHECK(b.tokens() == 0);  // from unlimited, the balance starts empty
  CHECK_FALSE(b.available());
  b.refill(t0 + 100ms);
  CHECK(b.tokens() == Approx(10'000));
  CHECK(b.available());
  // Full after a quarter second of traffic (or two blocks, whichever is more).
  CHECK(b.capacity() == Approx(2.0 * token_bucket::block));
  b.refill(t0 + 10s);
  CHECK(b.tokens() == Approx(b.capacity()));
  b.set_rate(1'000'000, t0 + 10s);
  CHECK(b.capacity() == Approx(250'000));
  b.refill(t0 + 20s);
  CHECK(b.tokens() == Approx(250'000));
  // Time going backwards changes nothing.
  b.refill(t0 + 5s);
  CHECK(b.tokens() == Approx(250'000));
}

TEST_CASE("[rate_limit] a transfer may overdraw; ready_at says when the balance is back", "[rate_limit]") {
  token_bucket b;
  const time_point t0{};
  b.set_rate(20'000, t0);
  b.refill(t0 + 50ms);  // 1000 tokens
  REQUIRE(b.available());
  b.spend(16'384);  // one block, more than the balance
  CHECK(b.tokens() == Approx(1000.0 - 16'384));
  CHECK_FALSE(b.available());
  // The wake threshold is 50 ms of traffic: 1000 bytes. Back there after 16384 bytes
  // at 20000 bytes/s.
  CHECK(b.wake_threshold() == Approx(1000));
  const time_point ready = b.ready_at();
  CHECK(ready > t0 + 50ms + 819ms);
  CHECK(ready < t0 + 50ms + 821ms);
  b.refill(ready);
  CHECK(b.tokens() >= b.wake_threshold());
  CHECK(b.available());
  SECTION("over a long window the rate holds") {
    // Spend a block whenever the balance allows, for 100 s.
    std::uint64_t spent = 0;
    time_point now = ready;
    const time_point end = now + 100s;
    while (now < end) {
      b.refill(now);
      while (b.available()) {
        b.spend(16'384);
        spent += 16'384;
      }
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
