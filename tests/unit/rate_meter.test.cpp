#include "session/rate_meter.hpp"

#include <catch2/catch.hpp>

using namespace wt;
using namespace std::chrono_literals;

namespace {
time_point at(duration d) { return time_point{} + d; }
}  // namespace

TEST_CASE("[rate_meter] a value from the first bytes, the window's average, exactly 0 after it",
          "[rate_meter]") {
  rate_meter m;
  CHECK(m.rate(at(0s)) == 0);
  // Bytes not added yet count (the host reads between ticks); less than a second of
  // history is taken as one second, as WebTorrent's speedometer.
  CHECK(m.rate(at(100s + 300ms), 5000) == Approx(5000));
  m.add(10'000, at(101s));
  CHECK(m.rate(at(101s)) == Approx(10'000));
  for (int s = 102; s <= 110; ++s) m.add(10'000, at(std::chrono::seconds(s)));
  CHECK(m.rate(at(110s)) == Approx(50'000.0 / 5));  // the window: 106 to 110
  CHECK(m.rate(at(110s + 500ms), 5'000) == Approx(55'000.0 / 5.5));  // and half a second since
  // Nothing more: the window empties second by second, then reads exactly 0.
  CHECK(m.rate(at(112s)) == Approx(30'000.0 / 5));
  CHECK(m.rate(at(114s)) == Approx(10'000.0 / 5));
  CHECK(m.rate(at(115s)) == 0);
  CHECK(m.rate(at(200s)) == 0);
  // After a long pause the window starts afresh.
  m.add(4'000, at(300s));
  CHECK(m.rate(at(300s)) == Approx(4'000.0 / 5));
}

TEST_CASE("[rate_meter] a burst shorter than the window", "[rate_meter]") {
  rate_meter m;
  m.add(1'000'000, at(10s + 400ms));  // 1 MB in the first 400 ms of a download
  CHECK(m.rate(at(10s + 400ms)) == Approx(1'000'000));
  CHECK(m.rate(at(12s + 400ms)) == Approx(1'000'000.0 / 3));  // a second before them, two since
  CHECK(m.rate(at(15s)) == 0);
}
