// The IP filter in a swarm: peers met through ut_pex, both ways.
#include <catch2/catch.hpp>

#include <algorithm>

#include "blocklist/blocklist.hpp"
#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

TEST_CASE("[blocklist] a blocked leecher heard of through ut_pex is neither dialled nor accepted", "[blocklist]") {
  const auto tt = make_test_torrent(512 * 1024, 32 * 1024, 21);
  swarm net(7);
  node_config cfg;
  cfg.settings.listen_port = 6881;
  node_config seed_cfg = cfg;
  seed_cfg.upload_rate = 64.0 * 1024;  // the leechers are still busy when they hear of each other
  const auto seeder = net.add_node(seed_cfg);
  add_seed(net, seeder, tt);
  auto added = add_leechers(net, tt, cfg, 2, seeder);  // each knows only the seeder
  const auto a = added.nodes[0], b = added.nodes[1];
  const auto ta = added.ids[0], tb = added.ids[1];
  // a blocks b's address (any port: b dials from an ephemeral one).
  std::string b_ip = wire::to_string(net.endpoint(b));
  b_ip = b_ip.substr(0, b_ip.rfind(':'));
  auto filter = parse_blocklist("peer b:" + b_ip + "\n");
  REQUIRE(filter);
  net.at(a).set_ip_filter(std::move(*filter), net.now());

  auto blocked = [&](peer_source source) {
    return std::count_if(net.events(a).begin(), net.events(a).end(), [&](const session_event& e) {
      auto* pb = std::get_if<peer_blocked_event>(&e);
      return pb && pb->torrent == ta && pb->source == source && pb->remote.address == net.endpoint(b).address;
    });
  };
  // a hears of b from the seeder (refused: pex), and b of a, which b dials (refused after
  // its handshake: incoming).
  REQUIRE(net.run_until([&] { return blocked(peer_source::pex) > 0 && blocked(peer_source::incoming) > 0; },
                        time_point{} + 5min));
  auto done = [&] { return net.at(a).stats(ta)->finished && net.at(b).stats(tb)->finished; };
  REQUIRE(net.run_until(done, time_point{} + 30min));
  for (const auto& e : net.events(a))
    if (auto* c = std::get_if<peer_connected_event>(&e)) CHECK(c->remote.address != net.endpoint(b).address);
  for (const auto& e : net.events(b))
    if (auto* c = std::get_if<peer_connected_event>(&e)) CHECK(c->remote.address != net.endpoint(a).address);
  const auto c = net.storage(a).contents(ta);
  CHECK(std::equal(c.begin(), c.end(), tt.data.begin(), tt.data.end()));
}
