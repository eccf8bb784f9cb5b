// Engine time. The engine never reads a clock: the host passes `now` into every
// call that needs it, as a time_point on this tag clock (microseconds since an
// origin the host chooses, e.g. the session start or performance.now()).
#pragma once

#include <chrono>
#include <cstdint>
#include <ratio>

namespace wt {

// A clock type with no now(): it only gives time_point and duration their type,
// so engine time cannot be mixed up with std::chrono::steady_clock by accident.
struct engine_clock {
  using rep = std::int64_t;
  using period = std::micro;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<engine_clock, duration>;
  static constexpr bool is_steady = true;
};

using duration = engine_clock::duration;
using time_point = engine_clock::time_point;

}  // namespace wt
