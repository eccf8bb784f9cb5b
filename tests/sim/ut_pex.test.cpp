// BEP 11: peers learn about each other through the peers they are connected to.
#include <catch2/catch.hpp>

#include <algorithm>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

TEST_CASE("[ut_pex] leechers that only knew the seeder end up connected to each other", "[ut_pex]") {
  const auto tt = make_test_torrent(1024 * 1024, 32 * 1024, 13);
  link_config link;
  link.latency = 20ms;
  swarm net(5, link);
  node_config cfg;
  cfg.settings.listen_port = 6881;
  node_config seed_cfg = cfg;
  seed_cfg.upload_rate = 64.0 * 1024;  // slow enough that the swarm is still busy
  const auto seeder = net.add_node(seed_cfg);
  {
    auto t = net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
    REQUIRE(t);
    net.storage(seeder).write_at(*t, 0, tt.data);
  }
  std::vector<std::size_t> leechers;
  std::vector<torrent_id> ids;
  for (int i = 0; i < 5; ++i) {
    const auto n = net.add_node(cfg);
    auto t = net.at(n).add_torrent(tt.meta, {}, net.now());
    REQUIRE(t);
    net.at(n).add_peer(*t, net.endpoint(seeder), net.now());  // the only peer it knows
    leechers.push_back(n);
    ids.push_back(*t);
  }
  auto connected_to_leechers = [&](std::size_t i) {
    std::size_t count = 0;
    for (const auto& p : net.at(leechers[i]).peers(ids[i]))
      for (auto other : leechers)
        if (p.remote == net.endpoint(other)) ++count;
    return count;
  };
  auto meshed = [&] {
    for (std::size_t i = 0; i < leechers.size(); ++i)
      if (connected_to_leechers(i) < leechers.size() - 1) return false;
    return true;
  };
  REQUIRE(net.run_until(meshed, time_point{} + 5min));
  // One connection per pair, no duplicates.
  for (std::size_t i = 0; i < leechers.size(); ++i) {
    CHECK(connected_to_leechers(i) == leechers.size() - 1);
    CHECK(net.at(leechers[i]).peers(ids[i]).size() == leechers.size());
  }
  auto all_done = [&] {
    for (std::size_t i = 0; i < leechers.size(); ++i)
      if (!net.at(leechers[i]).stats(ids[i])->finished) return false;
    return true;
  };
  REQUIRE(net.run_until(all_done, time_point{} + 30min));
  for (std::size_t i = 0; i < leechers.size(); ++i) {
    const auto c = net.storage(leechers[i]).contents(ids[i]);
    CHECK(std::equal(c.begin(), c.end(), tt.data.begin(), tt.data.end()));
  }
}
