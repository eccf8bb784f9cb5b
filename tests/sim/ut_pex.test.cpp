// BEP 11: peers learn about each other through the peers they are connected to.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

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
  add_seed(net, seeder, tt);
  auto added = add_leechers(net, tt, cfg, 5, seeder);  // the seeder is the only peer they know
  const auto& leechers = added.nodes;
  const auto& ids = added.ids;
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

TEST_CASE("[ut_pex] a private torrent's peers are neither told of others nor dial what they hear (BEP 27)", "[ut_pex]") {
  auto tt = make_test_torrent(512 * KiB, 32 * KiB, 14);
  add_torrent_params params;
  SECTION("private in the info dictionary") { tt.meta.is_private = true; }
  SECTION("a public torrent added as private (WebTorrent's add option)") { params.is_private = true; }
  bool public_after_all = false;
  SECTION("a private torrent added as public: ut_pex runs") {
    tt.meta.is_private = true;
    params.is_private = false;
    public_after_all = true;
  }
  link_config link;
  link.latency = 20ms;
  swarm net(6, link);
  node_config cfg;
  cfg.settings.listen_port = 6881;
  node_config seed_cfg = cfg;
  seed_cfg.upload_rate = 64.0 * 1024;  // the leechers overlap long enough to hear of each other
  const auto seeder = net.add_node(seed_cfg);
  add_seed(net, seeder, tt, params);
  auto added = add_leechers(net, tt, cfg, 3, seeder, params);  // the seeder is the only peer they know
  const auto& leechers = added.nodes;
  const auto& ids = added.ids;
  bool leechers_met = false;
  auto all_done = [&] {
    for (std::size_t i = 0; i < leechers.size(); ++i) {
      for (const auto& p : net.at(leechers[i]).peers(ids[i]))
        if (p.remote != net.endpoint(seeder)) leechers_met = true;
    }
    for (std::size_t i = 0; i < leechers.size(); ++i)
      if (!finished(net, leechers[i], ids[i])) return false;
    return true;
  };
  REQUIRE(net.run_until(all_done, time_point{} + 30min));
  CHECK(leechers_met == public_after_all);
}

// Over TCP an incoming connection comes from an ephemeral port, and ut_pex later names
// the same peer by its listen port. Two peers that learn each other from a third at the
// same moment both dial, and the duplicate is closed; the address that came back through
// ut_pex was then taken for a new peer and redialled, each dial closed as a duplicate again
// (and a seeder replaced its working connection to a downloader the same way).
TEST_CASE("[ut_pex] a peer connected from an ephemeral port is not dialled again at its listen port",
          "[ut_pex]") {
  const auto tt = make_test_torrent(4 * 1024 * 1024, 32 * 1024, 17);
  link_config link;
  link.latency = 20ms;
  link.ephemeral_ports = true;
  swarm net(7, link);
  // The duplicate connection kept is the one opened by the smaller peer id: either order.
  auto id = [](char c) {
    wire::peer_id p{};
    p.fill(static_cast<std::uint8_t>(c));
    return p;
  };
  char seeder_id = 'a', newcomer_id = 'c';
  SECTION("the seeder has the smaller id") {}
  SECTION("the newcomer has the smaller id") { std::swap(seeder_id, newcomer_id); }
  node_config cfg;
  cfg.settings.listen_port = 6881;
  node_config a_cfg = cfg;
  a_cfg.upload_rate = 64.0 * 1024;  // B and C are still downloading from A throughout
  a_cfg.settings.peer_id = id(seeder_id);
  const auto a = net.add_node(a_cfg);
  auto ta = net.at(a).add_torrent(tt.meta, {.seed = true}, net.now());
  REQUIRE(ta);
  net.storage(a).write_at(*ta, 0, tt.data);
  node_config b_cfg = cfg;
  b_cfg.settings.peer_id = id('b');
  const auto b = net.add_node(b_cfg);
  auto tb = net.at(b).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tb);
  net.at(b).add_peer(*tb, net.endpoint(a), net.now());
  REQUIRE(net.run_until([&] { return net.at(b).peers(*tb).size() == 1; }, net.now() + 10s));
  node_config c_cfg = cfg;
  c_cfg.settings.peer_id = id(newcomer_id);
  const auto c = net.add_node(c_cfg);
  auto tc = net.at(c).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tc);
  net.at(c).add_peer(*tc, net.endpoint(b), net.now());  // C is told of B only

  // The nodes a node is connected to (an address names its node, whatever the port).
  auto links = [&](std::size_t n, torrent_id t) {
    std::set<std::uint8_t> to;
    for (const auto& p : net.at(n).peers(t)) to.insert(p.remote.address[3]);
    return to;
  };
  auto meshed = [&] {
    return links(a, *ta).size() == 2 && links(b, *tb).size() == 2 && links(c, *tc).size() == 2;
  };
  REQUIRE(net.run_until(meshed, net.now() + 2min));
  // Half an hour of pex messages and retries, downloads finishing.
  net.run_until([] { return false; }, net.now() + 30min);
  CHECK(net.at(b).stats(*tb)->finished);
  CHECK(net.at(c).stats(*tc)->finished);
  // B dialled A, C dialled B; A and C both dialled each other at most once.
  CHECK(net.dials(b) == 1);
  CHECK(net.dials(a) <= 1);
  CHECK(net.dials(c) <= 2);
  // Only the duplicate of A and C was closed as such (at both ends).
  std::size_t duplicates = 0;
  for (auto n : {a, b, c})
    for (const auto& e : net.events(n))
      if (auto* d = std::get_if<peer_disconnected_event>(&e); d && d->reason == "duplicate connection") ++duplicates;
  CHECK(duplicates <= 2);
}

TEST_CASE("[ut_pex] stats count peers by the source that named them", "[ut_pex]") {
  const auto tt = make_test_torrent(512 * 1024, 32 * 1024, 14);
  swarm net(6);
  node_config cfg;
  cfg.settings.listen_port = 6881;
  node_config seed_cfg = cfg;
  seed_cfg.upload_rate = 64.0 * 1024;  // the leechers are still busy when they meet
  const auto seeder = net.add_node(seed_cfg);
  auto ts = net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
  REQUIRE(ts);
  net.storage(seeder).write_at(*ts, 0, tt.data);
  const auto a = net.add_node(cfg);
  const auto b = net.add_node(cfg);
  auto ta = net.at(a).add_torrent(tt.meta, {}, net.now());
  auto tb = net.at(b).add_torrent(tt.meta, {}, net.now());
  REQUIRE(ta);
  REQUIRE(tb);
  net.at(a).add_peer(*ta, net.endpoint(seeder), net.now(), peer_source::tracker);
  net.at(b).add_peer(*tb, net.endpoint(seeder), net.now(), peer_source::dht);
  auto count = [&](std::size_t n, torrent_id t, peer_source s) {
    return net.at(n).stats(t)->peers_by_source[static_cast<std::size_t>(s)];
  };
  // Waiting to be dialled counts already.
  CHECK(count(a, *ta, peer_source::tracker) == 1);
  CHECK(count(b, *tb, peer_source::dht) == 1);
  // a and b meet through the seeder's ut_pex: one dials (pex), the other accepts (incoming).
  REQUIRE(net.run_until([&] { return net.at(a).peers(*ta).size() == 2 && net.at(b).peers(*tb).size() == 2; },
                        time_point{} + 5min));
  net.run_until([] { return false; }, net.now() + 5s);
  CHECK(count(seeder, *ts, peer_source::incoming) == 2);
  CHECK(count(a, *ta, peer_source::tracker) == 1);
  CHECK(count(b, *tb, peer_source::dht) == 1);
  CHECK(count(a, *ta, peer_source::pex) + count(a, *ta, peer_source::incoming) == 1);
  CHECK(count(b, *tb, peer_source::pex) + count(b, *tb, peer_source::incoming) == 1);
  CHECK(count(a, *ta, peer_source::pex) + count(b, *tb, peer_source::pex) == 1);
  CHECK(count(a, *ta, peer_source::manual) == 0);
  // The seeder leaves: a has no peer from its tracker any more (a retry is not a peer).
  net.remove_node(seeder);
  REQUIRE(net.run_until([&] { return count(a, *ta, peer_source::tracker) == 0 && count(b, *tb, peer_source::dht) == 0; },
                        net.now() + 5min));
}
