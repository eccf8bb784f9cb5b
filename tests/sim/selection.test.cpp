// Piece selection on the simulator: piece-range priorities (WebTorrent's select /
// deselect), critical pieces and the sequential strategy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint32_t> verified_order(const swarm& net, std::size_t node) {
  std::vector<std::uint32_t> out;
  for (const auto& e : net.events(node))
    if (auto* v = std::get_if<piece_verified_event>(&e)) out.push_back(v->piece.value);
  return out;
}

std::size_t count_finished(const swarm& net, std::size_t node) {
  std::size_t n = 0;
  for (const auto& e : net.events(node))
    if (std::holds_alternative<torrent_finished_event>(e)) ++n;
  return n;
}

// A seeder whose upload is capped (so order is visible) and a leecher, not yet joined.
struct pair_fixture {
  test_torrent tt = make_test_torrent(4096 * KiB, 64 * KiB, 501);  // 64 pieces
  swarm net;
  std::size_t seeder = 0, leecher = 0;
  torrent_id tl;
  explicit pair_fixture(std::uint64_t seed, add_torrent_params leecher_params = {}) : net(seed, [] {
    link_config link;
    link.latency = 20ms;
    link.max_chunk = 16 * 1024;
    return link;
  }()) {
    node_config seed_cfg;
    seed_cfg.upload_rate = 512.0 * KiB;
    seed_cfg.settings.send_buffer_limit = 64 * 1024;  // reads only as the uplink drains
    seeder = net.add_node(seed_cfg);
    leecher = net.add_node();
    const auto ts = *net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
    net.storage(seeder).write_at(ts, 0, tt.data);
    tl = *net.at(leecher).add_torrent(tt.meta, leecher_params, net.now());
  }
  session& s() { return net.at(leecher); }
  void join() { s().add_peer(tl, net.endpoint(seeder), net.now()); }
  bool have(std::uint32_t first, std::uint32_t last) {
    const auto bits = s().have_pieces(tl);
    for (std::uint32_t p = first; p <= last; ++p)
      if (!bits->test(p)) return false;
    return true;
  }
};

}  // namespace

TEST_CASE("[selection] critical pieces complete first, in order, also when added mid-transfer", "[selection]") {
  pair_fixture f(51);
  REQUIRE(f.s().add_critical_pieces(f.tl, {piece_index{40}, piece_index{43}}, f.net.now()));
  f.join();
  REQUIRE(f.net.run_until([&] { return f.have(40, 43); }, time_point{} + 10min));
  const auto first = verified_order(f.net, f.leecher);
  REQUIRE(first.size() == 4);
  CHECK(first == std::vector<std::uint32_t>{40, 41, 42, 43});

  // Mid-transfer: requests for other pieces are cancelled; only blocks already on
  // the wire may complete another piece meanwhile.
  REQUIRE(f.net.run_until([&] { return verified_order(f.net, f.leecher).size() >= 16; }, f.net.now() + 10min));
  const std::size_t before = verified_order(f.net, f.leecher).size();
  REQUIRE_FALSE(f.have(60, 63));
  REQUIRE(f.s().add_critical_pieces(f.tl, {piece_index{60}, piece_index{63}}, f.net.now()));
  REQUIRE(f.net.run_until([&] { return f.have(60, 63); }, f.net.now() + 10min));
  const auto all = verified_order(f.net, f.leecher);
  std::size_t outside = 0;
  for (std::size_t i = before; i < all.size(); ++i)
    if (all[i] < 60) ++outside;
  CHECK(outside <= 2);
  REQUIRE(f.net.run_until([&] { return f.s().stats(f.tl)->finished; }, f.net.now() + 10min));
  const auto c = f.net.storage(f.leecher).contents(f.tl);
  CHECK(std::equal(c.begin(), c.end(), f.tt.data.begin(), f.tt.data.end()));
}

TEST_CASE("[selection] deselect everything, select ranges: only those download, the higher priority first", "[selection]") {
  pair_fixture f(52);
  session& s = f.s();
  const auto now = f.net.now();
  // WebTorrent: torrent.deselect(0, n - 1); torrent.select(10, 19); torrent.select(30, 31, 3).
  REQUIRE(s.set_piece_priority(f.tl, {piece_index{0}, piece_index{63}}, 0, now));
  REQUIRE(s.set_piece_priority(f.tl, {piece_index{10}, piece_index{19}}, 4, now));
  REQUIRE(s.set_piece_priority(f.tl, {piece_index{30}, piece_index{31}}, 7, now));
  // With nothing selected for a moment the torrent counted as finished (WebTorrent's
  // 'idle'); the event for that came before any peer.
  f.net.run_until([] { return true; }, now);  // collects the events so far
  CHECK(count_finished(f.net, f.leecher) == 1);
  const std::size_t finished_before = count_finished(f.net, f.leecher);
  f.join();
  REQUIRE(f.net.run_until([&] { return s.stats(f.tl)->finished; }, time_point{} + 10min));
  f.net.run_until([] { return false; }, f.net.now() + 10s);  // and nothing more comes
  const auto order = verified_order(f.net, f.leecher);
  REQUIRE(order.size() == 12);
  CHECK(std::set<std::uint32_t>(order.begin(), order.begin() + 2) == std::set<std::uint32_t>{30, 31});
  std::set<std::uint32_t> got(order.begin(), order.end());
  std::set<std::uint32_t> want{30, 31};
  for (std::uint32_t p = 10; p <= 19; ++p) want.insert(p);
  CHECK(got == want);
  CHECK(s.stats(f.tl)->progress == 1.0);
  CHECK(count_finished(f.net, f.leecher) == finished_before + 1);
  // Selecting more later: not finished any more, then finished again.
  REQUIRE(s.set_piece_priority(f.tl, {piece_index{50}, piece_index{50}}, 4, f.net.now()));
  CHECK_FALSE(s.stats(f.tl)->finished);
  REQUIRE(f.net.run_until([&] { return s.stats(f.tl)->finished; }, f.net.now() + 10min));
  CHECK(count_finished(f.net, f.leecher) == finished_before + 2);
  CHECK(f.have(50, 50));
}

TEST_CASE("[selection] strategy sequential: pieces from a slow seeder are verified in order", "[selection]") {
  for (const std::uint64_t seed : {53u, 54u}) {
    pair_fixture f(seed, {.strategy = pick_strategy::sequential});
    f.join();
    REQUIRE(f.net.run_until([&] { return f.s().stats(f.tl)->finished; }, time_point{} + 10min));
    std::vector<std::uint32_t> in_order(64);
    for (std::uint32_t i = 0; i < 64; ++i) in_order[i] = i;
    CHECK(verified_order(f.net, f.leecher) == in_order);
    const auto c = f.net.storage(f.leecher).contents(f.tl);
    CHECK(std::equal(c.begin(), c.end(), f.tt.data.begin(), f.tt.data.end()));

    // The default (rarest first, random first pieces) does not come in order.
    pair_fixture rarest(seed);
    rarest.join();
    REQUIRE(rarest.net.run_until([&] { return rarest.s().stats(rarest.tl)->finished; }, time_point{} + 10min));
    const auto order = verified_order(rarest.net, rarest.leecher);
    CHECK(order.size() == 64);
    CHECK_FALSE(std::is_sorted(order.begin(), order.end()));
  }
}
