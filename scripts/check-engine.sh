#!/usr/bin/env bash
# The engine in src/ is sans-I/O: it never reads a clock, sleeps, opens a socket or a
# file, starts a thread, draws OS randomness or includes an Emscripten header. This
# check fails on any include or call that would do one of those. (<random> is out too:
# its distributions differ between libstdc++ and libc++, and a simulation must give
# the same run natively and in WebAssembly from the same seed.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

forbidden=(
  '#include[[:space:]]*<(thread|mutex|shared_mutex|condition_variable|future|atomic|semaphore|fstream|filesystem|ctime|time\.h|random|csignal)>'
  '#include[[:space:]]*<(sys/|unistd\.h|fcntl\.h|netinet/|arpa/|netdb\.h|poll\.h|pthread\.h|emscripten)'
  '\b(system_clock|steady_clock|high_resolution_clock|file_clock|utc_clock)\b'
  '\b(random_device|getrandom|arc4random|RAND_bytes|rand|srand)[[:space:]]*\('
  '\b(sleep|usleep|nanosleep|sleep_for|sleep_until|gettimeofday|clock_gettime|time)[[:space:]]*\('
  '\b(socket|getaddrinfo|setsockopt|gethostbyname)[[:space:]]*\('
  '\bstd::(thread|jthread|async|mutex)\b'
  '\b(std::)?(fopen|freopen|ifstream|ofstream|fstream)\b'
  '\bEM_(ASM|JS)\b'
)
status=0
for pattern in "${forbidden[@]}"; do
  # Comments are skipped: they may say what the engine does not do.
  if hits=$(grep -rnE --include='*.cpp' --include='*.hpp' "$pattern" src/ | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'); then
    echo "src/ must stay sans-I/O; found: $pattern" >&2
    echo "$hits" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "[check] src/ is sans-I/O: no clock, sleep, socket, file, thread, OS randomness or Emscripten header"
exit $status
