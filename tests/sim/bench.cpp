// Throughput benchmark (prints numbers; not a ctest test): moves a torrent between
// two in-memory engines on the simulator and reports MiB/s and CPU seconds per GiB,
// plus SHA-1 hashing MiB/s. The same source builds natively and as WebAssembly.
//
//   session_bench [total MiB = 1024] [torrent MiB = 64]
// Output: one text line per measure, then one JSON line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "crypto.hpp"
#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

int main(int argc, char** argv) {
  const long total_mib = argc > 1 ? std::atol(argv[1]) : 1024;
  const long torrent_mib = argc > 2 ? std::atol(argv[2]) : 64;
  if (total_mib <= 0 || torrent_mib <= 0) {
    std::fprintf(stderr, "usage: session_bench [total MiB] [torrent MiB]\n");
    return 2;
  }
  const std::int64_t size = std::int64_t{torrent_mib} << 20;
  const auto tt = make_test_torrent(size, 1 << 20, 1);
  const long rounds = (total_mib + torrent_mib - 1) / torrent_mib;

  // SHA-1 alone.
  double t0 = cpu_seconds();
  sha1_digest sink{};
  for (int i = 0; i < 4; ++i) {
    const auto d = sha1(tt.data);
    sink[0] = static_cast<std::uint8_t>(sink[0] ^ d[0]);
  }
  const double sha1_mib_s = 4.0 * static_cast<double>(torrent_mib) / (cpu_seconds() - t0);

  double cpu = 0;
  double virtual_seconds = 0;
  for (long r = 0; r < rounds; ++r) {
    link_config link;
    link.latency = 1ms;
    swarm net(static_cast<std::uint64_t>(r) + 1, link);
    const auto seeder = net.add_node();
    const auto leecher = net.add_node();
    auto ts = net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
    net.storage(seeder).write_at(*ts, 0, tt.data);
    auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
    net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());
    const double start = cpu_seconds();
    const bool ok = net.run_until([&] { return net.at(leecher).stats(*tl)->finished; },
                                  time_point{} + 24h);
    cpu += cpu_seconds() - start;
    virtual_seconds += std::chrono::duration<double>(net.now().time_since_epoch()).count();
    if (!ok || net.storage(leecher).contents(*tl).size() != tt.data.size()) {
      std::fprintf(stderr, "round %ld did not complete\n", r);
      return 1;
    }
  }
  const double moved_mib = static_cast<double>(rounds * torrent_mib);
  std::printf("moved %.0f MiB between two engines in %.2f CPU s: %.1f MiB/s, %.2f CPU s per GiB\n",
              moved_mib, cpu, moved_mib / cpu, cpu * 1024.0 / moved_mib);
  std::printf("virtual time %.1f s (engine rate %.1f MiB/s)\n", virtual_seconds, moved_mib / virtual_seconds);
  std::printf("sha1 %.1f MiB/s\n", sha1_mib_s);
  std::printf("{\"moved_mib\":%.0f,\"cpu_seconds\":%.3f,\"mib_per_s\":%.1f,\"cpu_s_per_gib\":%.3f,\"sha1_mib_per_s\":%.1f}\n",
              moved_mib, cpu, moved_mib / cpu, cpu * 1024.0 / moved_mib, sha1_mib_s);
  return sink[0] == 0xff ? 0 : 0;
}
