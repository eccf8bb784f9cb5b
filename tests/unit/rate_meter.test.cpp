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
  const time_point since = at(100s);  // the meter started then, the bytes came at once
  CHECK(m.rate(at(100s), since) == 0);
  // Bytes not added yet count (the host reads between ticks); less than a second of
  // history is taken as one second, as WebTorrent's meter.
  CHECK(m.rate(at(100s + 300ms), since, 5000) == Approx(5000));
  m.add(10'000, at(101s));
  CHECK(m.rate(at(101s), since) == Approx(10'000));
  for (int s = 102; s <= 110; ++s) m.add(10'000, at(std::chrono::seconds(s)));
  CHECK(m.rate(at(110s), since) == Approx(50'000.0 / 5));  // the window: 105 to 110
  CHECK(m.rate(at(110s + 500ms), since, 5'000) == Approx(55'000.0 / 5.5));  // and half a second since
  // Nothing more: the window empties second by second, then reads exactly 0.
  CHECK(m.rate(at(112s), since) == Approx(30'000.0 / 5));
  CHECK(m.rate(at(114s), since) == Approx(10'000.0 / 5));
  CHECK(m.rate(at(115s), since) == 0);
  CHECK(m.rate(at(200s), since) == 0);
  // After a long pause the window starts afresh.
  m.add(4'000, at(300s));
  CHECK(m.rate(at(300s), since) == Approx(4'000.0 / 5));
}

TEST_CASE("[rate_meter] a burst shorter than the window", "[rate_meter]") {
  rate_meter m;
  const time_point since = at(10s);
  m.add(1'000'000, at(10s + 400ms));  // 1 MB in the first 400 ms of a download
  CHECK(m.rate(at(10s + 400ms), since) == Approx(1'000'000));
  CHECK(m.rate(at(12s + 400ms), since) == Approx(1'000'000.0 / 2.4));  // since the start
  CHECK(m.rate(at(15s), since) == 0);
}

TEST_CASE("[rate_meter] before 5 s, the time since the start counts, as WebTorrent's: a limit reads as no more than itself", "[rate_meter]") {
  // A torrent added at 0 s meets its peer at 0.6 s (a magnet's metadata, a connection); a
  // limit of 100 kB/s that let 25 kB through at once reads below the limit, not 125 kB/s.
  rate_meter m;
  const time_point since = at(0s);
  m.add(25'000 + 40'000, at(1s));
  CHECK(m.rate(at(1s), since) == Approx(65'000));
  CHECK(m.rate(at(1s + 500ms), since, 50'000) == Approx(115'000.0 / 1.5));
  for (int s = 2; s <= 4; ++s) m.add(100'000, at(std::chrono::seconds(s)));
  CHECK(m.rate(at(4s), since) == Approx(365'000.0 / 4));
  CHECK(m.rate(at(4s), since) <= 100'000);
}

TEST_CASE("[rate_meter] ticks late in their second: a steady rate reads as itself, not up to a fifth low", "[rate_meter]") {
  // 250 kB/s, the session adding each second's bytes at its tick, 0.9 s into every second;
  // the app reads at any time between ticks, with the bytes since the last tick pending.
  rate_meter m;
  const time_point since = at(0s);
  const double rate = 250'000;
  for (int s = 1; s <= 20; ++s) m.add(static_cast<std::uint64_t>(rate), at(std::chrono::seconds(s) + 900ms));
  for (auto read : {20950ms, 21200ms, 21500ms, 21850ms}) {
    const auto pending = static_cast<std::uint64_t>(rate * std::chrono::duration<double>(read - 20900ms).count());
    CHECK(m.rate(at(read), since, pending) == Approx(rate).epsilon(0.01));
  }
}
