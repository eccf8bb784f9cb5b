// Swarm scenarios on the deterministic simulator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t KiB = 1024;
constexpr std::int64_t MiB = 1024 * KiB;

bool finished(swarm& net, std::size_t node, torrent_id t) {
  if (!net.alive(node)) return true;
  auto st = net.at(node).stats(t);
  return st && st->finished;
}

bool same_bytes(byte_view a, byte_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

template <class E>
std::size_t count_events(const swarm& net, std::size_t node) {
  std::size_t n = 0;
  for (const auto& e : net.events(node))
    if (std::holds_alternative<E>(e)) ++n;
  return n;
}

torrent_id add_seed(swarm& net, std::size_t node, const test_torrent& tt) {
  auto t = net.at(node).add_torrent(tt.meta, {.seed = true}, net.now());
  REQUIRE(t);
  net.storage(node).write_at(*t, 0, tt.data);
  return *t;
}

}  // namespace

TEST_CASE("[swarm] one seeder, one leecher: byte-exact", "[swarm]") {
  const auto tt = make_test_torrent(1 * MiB + 5000, 32 * KiB, 7);
  link_config link;
  link.latency = 25ms;
  link.bandwidth = 4.0 * MiB;
  link.max_chunk = 3000;  // data channel sized writes
  link.merge_chunks = true;
  swarm net(42, link);
  const auto seeder = net.add_node();
  const auto leecher = net.add_node();
  const torrent_id ts = add_seed(net, seeder, tt);
  auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tl);
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());

  REQUIRE(net.run_until([&] { return finished(net, leecher, *tl); }, time_point{} + 10min));
  CHECK(same_bytes(net.storage(leecher).contents(*tl), tt.data));
  CHECK(count_events<piece_verified_event>(net, leecher) == tt.meta.piece_count());
  CHECK(count_events<torrent_finished_event>(net, leecher) == 1);
  CHECK(count_events<hash_failed_event>(net, leecher) == 0);
  const auto up = net.at(seeder).stats(ts);
  const auto down = net.at(leecher).stats(*tl);
  REQUIRE(up);
  REQUIRE(down);
  CHECK(down->verified == static_cast<std::uint64_t>(tt.meta.total_length));
  CHECK(up->uploaded >= static_cast<std::uint64_t>(tt.meta.total_length));
  CHECK(down->progress == 1.0);
  // About 1 MiB at 4 MiB/s: well under a minute of virtual time.
  CHECK(net.now() < time_point{} + 30s);
  INFO("virtual seconds: " << std::chrono::duration<double>(net.now().time_since_epoch()).count());
}
