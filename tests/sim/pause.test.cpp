// Pausing and resuming torrents on the simulator.
#include <catch2/catch.hpp>

#include <algorithm>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

std::size_t count_disconnects(const swarm& net, std::size_t node, const std::string& reason) {
  std::size_t n = 0;
  for (const auto& e : net.events(node))
    if (auto* d = std::get_if<peer_disconnected_event>(&e); d && d->reason == reason) ++n;
  return n;
}

}  // namespace

TEST_CASE("[pause] a paused leecher moves no bytes and refuses peers; resumed, it reconnects and completes", "[pause]") {
  const auto tt = make_test_torrent(2 * MiB, 64 * KiB, 401);
  link_config link;
  link.latency = 20ms;
  link.max_chunk = 16 * 1024;
  swarm net(41, link);
  node_config seed_cfg;
  seed_cfg.upload_rate = 256.0 * KiB;  // about 8 s for the whole torrent
  const auto seeder = net.add_node(seed_cfg);
  const auto leecher = net.add_node();
  const auto ts = *net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
  net.storage(seeder).write_at(ts, 0, tt.data);
  const auto tl = *net.at(leecher).add_torrent(tt.meta, {}, net.now());
  session& s = net.at(leecher);
  s.add_peer(tl, net.endpoint(seeder), net.now());

  REQUIRE(net.run_until([&] { return s.stats(tl)->have >= tt.meta.total_length / 4; }, time_point{} + 1min));
  s.pause_torrent(tl, net.now());
  net.run_until([] { return false; }, net.now() + 1s);  // what was in flight settles
  const auto have = s.stats(tl)->have;
  const auto downloaded = s.stats(tl)->downloaded;
  const auto uploaded = net.at(seeder).stats(ts)->uploaded;
  CHECK(s.stats(tl)->paused);
  CHECK(s.stats(tl)->peers == 0);
  CHECK(net.at(seeder).stats(ts)->peers == 0);
  CHECK(count_disconnects(net, leecher, "torrent paused") == 1);
  CHECK(have < tt.meta.total_length);

  // The seeder dials the paused leecher: refused.
  net.at(seeder).add_peer(ts, net.endpoint(leecher), net.now());
  net.run_until([] { return false; }, net.now() + 30s);
  CHECK(s.stats(tl)->have == have);
  CHECK(s.stats(tl)->downloaded == downloaded);
  CHECK(net.at(seeder).stats(ts)->uploaded == uploaded);
  CHECK(s.stats(tl)->peers == 0);
  CHECK(count_disconnects(net, leecher, "torrent paused") >= 2);

  // Resume: the seeder it knew is dialled at once, not after a reconnect backoff.
  s.resume_torrent(tl, net.now());
  const time_point resumed = net.now();
  REQUIRE(net.run_until([&] { return s.stats(tl)->peers > 0; }, net.now() + 1min));
  CHECK(net.now() - resumed < 1s);
  REQUIRE(net.run_until([&] { return s.stats(tl)->finished; }, net.now() + 5min));
  CHECK_FALSE(s.stats(tl)->paused);
  const auto c = net.storage(leecher).contents(tl);
  CHECK(std::equal(c.begin(), c.end(), tt.data.begin(), tt.data.end()));
}

TEST_CASE("[pause] a paused seeder serves nobody; resumed, its leecher reconnects and completes", "[pause]") {
  const auto tt = make_test_torrent(1 * MiB, 64 * KiB, 402);
  link_config link;
  link.latency = 20ms;
  swarm net(42, link);
  node_config seed_cfg;
  seed_cfg.upload_rate = 128.0 * KiB;
  const auto seeder = net.add_node(seed_cfg);
  const auto leecher = net.add_node();
  const auto ts = *net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
  net.storage(seeder).write_at(ts, 0, tt.data);
  const auto tl = *net.at(leecher).add_torrent(tt.meta, {}, net.now());
  session& s = net.at(leecher);
  s.add_peer(tl, net.endpoint(seeder), net.now());

  REQUIRE(net.run_until([&] { return s.stats(tl)->have > 0; }, time_point{} + 1min));
  net.at(seeder).pause_torrent(ts, net.now());
  net.run_until([] { return false; }, net.now() + 1s);
  const auto have = s.stats(tl)->have;
  // The leecher keeps trying; every attempt is refused.
  net.run_until([] { return false; }, net.now() + 20s);
  CHECK(s.stats(tl)->have == have);
  CHECK(net.at(seeder).stats(ts)->paused);
  CHECK(count_disconnects(net, seeder, "torrent paused") >= 2);

  net.at(seeder).resume_torrent(ts, net.now());
  REQUIRE(net.run_until([&] { return s.stats(tl)->finished; }, net.now() + 10min));
  const auto c = net.storage(leecher).contents(tl);
  CHECK(std::equal(c.begin(), c.end(), tt.data.begin(), tt.data.end()));
}
