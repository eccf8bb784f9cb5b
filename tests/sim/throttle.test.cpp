// Session-wide rate limits on the simulator. Rates are measured in virtual time, which
// is exact: the simulator's clock only moves to the next event or deadline.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

double seconds(duration d) { return std::chrono::duration<double>(d).count(); }

link_config fast_link() {
  link_config link;
  link.latency = 20ms;
  link.bandwidth = 4.0 * MiB;  // far above every limit below
  link.max_chunk = 16 * 1024;
  return link;
}

torrent_id add_leech(swarm& net, std::size_t node, const test_torrent& tt) {
  auto t = net.at(node).add_torrent(tt.meta, {}, net.now());
  REQUIRE(t);
  return *t;
}

// The rate of `bytes()` between the moments it first reaches `from` and `to`.
struct rate_window {
  double rate = 0;     // bytes per virtual second
  double seconds = 0;  // length of the window
};
rate_window measure(swarm& net, const std::function<std::uint64_t()>& bytes, std::uint64_t from,
                    std::uint64_t to) {
  REQUIRE(net.run_until([&] { return bytes() >= from; }, net.now() + 30min));
  const time_point t1 = net.now();
  const std::uint64_t b1 = bytes();
  REQUIRE(net.run_until([&] { return bytes() >= to; }, net.now() + 30min));
  const double dt = seconds(net.now() - t1);
  REQUIRE(dt > 0);
  return {static_cast<double>(bytes() - b1) / dt, dt};
}

}  // namespace

TEST_CASE("[throttle] an upload limit holds over a long window and the transfer completes", "[throttle]") {
  const auto tt = make_test_torrent(3 * MiB, 64 * KiB, 301);
  swarm net(11, fast_link());
  node_config seed_cfg;
  seed_cfg.settings.upload_rate_limit = 256 * KiB;
  const auto seeder = net.add_node(seed_cfg);
  const auto leecher = net.add_node();
  const auto ts = add_seed(net, seeder, tt);
  const auto tl = add_leech(net, leecher, tt);
  net.at(leecher).add_peer(tl, net.endpoint(seeder), net.now());

  auto down = [&] { return net.at(leecher).stats(tl)->downloaded; };
  const auto w = measure(net, down, 512 * KiB, 5 * MiB / 2);
  INFO("rate " << w.rate / KiB << " KiB/s over " << w.seconds << " s");
  CHECK(w.rate == Approx(256.0 * KiB).epsilon(0.08));
  REQUIRE(net.run_until([&] { return finished(net, leecher, tl); }, net.now() + 10min));
  // The seeder's whole upload, from the start: about 3 MiB / 256 KiB/s = 12 s.
  CHECK(seconds(net.now().time_since_epoch()) > 11.0);
  CHECK(seconds(net.now().time_since_epoch()) < 14.0);
  CHECK(net.at(seeder).upload_limit() == 256 * KiB);
  CHECK(net.at(seeder).stats(ts)->uploaded >= static_cast<std::uint64_t>(tt.meta.total_length));
  const auto c = net.storage(leecher).contents(tl);
  CHECK(std::equal(c.begin(), c.end(), tt.data.begin(), tt.data.end()));
}

TEST_CASE("[throttle] an upload limit is shared fairly between two leechers", "[throttle]") {
  const auto tt = make_test_torrent(4 * MiB, 64 * KiB, 302);
  swarm net(12, fast_link());
  node_config seed_cfg;
  seed_cfg.settings.upload_rate_limit = 256 * KiB;
  const auto seeder = net.add_node(seed_cfg);
  add_seed(net, seeder, tt);
  node_config leech_cfg;
  leech_cfg.settings.enable_ut_pex = false;  // the leechers only know the seeder
  const auto a = net.add_node(leech_cfg);
  const auto b = net.add_node(leech_cfg);
  const auto ta = add_leech(net, a, tt);
  const auto tb = add_leech(net, b, tt);
  net.at(a).add_peer(ta, net.endpoint(seeder), net.now());
  net.at(b).add_peer(tb, net.endpoint(seeder), net.now());

  net.run_until([] { return false; }, time_point{} + 2s);
  const auto a0 = net.at(a).stats(ta)->downloaded, b0 = net.at(b).stats(tb)->downloaded;
  net.run_until([] { return false; }, time_point{} + 10s);
  const double ra = static_cast<double>(net.at(a).stats(ta)->downloaded - a0) / 8.0;
  const double rb = static_cast<double>(net.at(b).stats(tb)->downloaded - b0) / 8.0;
  INFO("leecher a " << ra / KiB << " KiB/s, b " << rb / KiB << " KiB/s");
  CHECK(ra + rb == Approx(256.0 * KiB).epsilon(0.08));
  CHECK(ra == Approx(128.0 * KiB).epsilon(0.2));
  CHECK(rb == Approx(128.0 * KiB).epsilon(0.2));
}

TEST_CASE("[throttle] a download limit holds, takes from every peer, and changes at runtime", "[throttle]") {
  const auto tt = make_test_torrent(6 * MiB, 64 * KiB, 303);
  swarm net(13, fast_link());
  const auto s1 = net.add_node();
  const auto s2 = net.add_node();
  node_config leech_cfg;
  leech_cfg.settings.download_rate_limit = 128 * KiB;
  const auto leecher = net.add_node(leech_cfg);
  add_seed(net, s1, tt);
  add_seed(net, s2, tt);
  const auto tl = add_leech(net, leecher, tt);
  session& s = net.at(leecher);
  s.add_peer(tl, net.endpoint(s1), net.now());
  s.add_peer(tl, net.endpoint(s2), net.now());
  auto down = [&] { return s.stats(tl)->downloaded; };

  const auto slow = measure(net, down, 256 * KiB, 1 * MiB);
  INFO("at 128 KiB/s: " << slow.rate / KiB << " KiB/s over " << slow.seconds << " s");
  CHECK(slow.rate == Approx(128.0 * KiB).epsilon(0.08));
  // Both seeders were asked: neither peer is starved.
  const auto peers = s.peers(tl);
  REQUIRE(peers.size() == 2);
  for (const auto& p : peers) CHECK(p.downloaded > down() / 4);

  // Raised at runtime: the new limit holds from then on.
  s.set_download_limit(384 * KiB, net.now());
  CHECK(s.download_limit() == 384 * KiB);
  const auto fast = measure(net, down, down() + 256 * KiB, down() + 2 * MiB);
  INFO("at 384 KiB/s: " << fast.rate / KiB << " KiB/s over " << fast.seconds << " s");
  CHECK(fast.rate == Approx(384.0 * KiB).epsilon(0.08));

  // Lowered again, at once.
  s.set_download_limit(64 * KiB, net.now());
  const auto lower = measure(net, down, down() + 64 * KiB, down() + 512 * KiB);
  INFO("at 64 KiB/s: " << lower.rate / KiB << " KiB/s over " << lower.seconds << " s");
  CHECK(lower.rate == Approx(64.0 * KiB).epsilon(0.1));

  // 0 lifts it: the rest goes at link speed (two 4 MiB/s links) and completes.
  s.set_download_limit(0, net.now());
  const time_point lifted = net.now();
  const auto left = static_cast<double>(tt.meta.total_length) - static_cast<double>(s.stats(tl)->have);
  REQUIRE(net.run_until([&] { return finished(net, leecher, tl); }, net.now() + 10min));
  const double took = seconds(net.now() - lifted);
  INFO(left / MiB << " MiB after the limit was lifted in " << took << " s");
  CHECK(left / took > 1.5 * MiB);
  const auto c = net.storage(leecher).contents(tl);
  CHECK(std::equal(c.begin(), c.end(), tt.data.begin(), tt.data.end()));
}

TEST_CASE("[throttle] one download limit is shared between two torrents", "[throttle]") {
  const auto t1 = make_test_torrent(2 * MiB, 64 * KiB, 304, "one.bin");
  const auto t2 = make_test_torrent(2 * MiB, 64 * KiB, 305, "two.bin");
  swarm net(14, fast_link());
  const auto seeder = net.add_node();
  node_config leech_cfg;
  leech_cfg.settings.download_rate_limit = 200 * KiB;
  const auto leecher = net.add_node(leech_cfg);
  add_seed(net, seeder, t1);
  add_seed(net, seeder, t2);
  const auto a = add_leech(net, leecher, t1);
  const auto b = add_leech(net, leecher, t2);
  session& s = net.at(leecher);
  s.add_peer(a, net.endpoint(seeder), net.now());
  s.add_peer(b, net.endpoint(seeder), net.now());

  net.run_until([] { return false; }, time_point{} + 2s);
  const auto a0 = s.stats(a)->downloaded, b0 = s.stats(b)->downloaded;
  net.run_until([] { return false; }, time_point{} + 12s);
  const double ra = static_cast<double>(s.stats(a)->downloaded - a0) / 10.0;
  const double rb = static_cast<double>(s.stats(b)->downloaded - b0) / 10.0;
  INFO("torrent a " << ra / KiB << " KiB/s, b " << rb / KiB << " KiB/s");
  CHECK(ra + rb == Approx(200.0 * KiB).epsilon(0.08));
  CHECK(ra == Approx(100.0 * KiB).epsilon(0.25));
  CHECK(rb == Approx(100.0 * KiB).epsilon(0.25));
  REQUIRE(net.run_until([&] { return finished(net, leecher, a) && finished(net, leecher, b); }, net.now() + 10min));
}

// Per-torrent limits (WebTorrent's torrent.throttleUploadSpeed / throttleDownloadSpeed,
// and its torrentUploadLimit client option): one torrent is held to its own limit while
// another of the same session runs at link speed, and under a session limit a byte must
// fit both buckets.
TEST_CASE("[throttle] a torrent's own upload limit holds while another torrent runs free", "[throttle]") {
  const auto t1 = make_test_torrent(2 * MiB, 64 * KiB, 306, "limited.bin");
  const auto t2 = make_test_torrent(4 * MiB, 64 * KiB, 307, "free.bin");
  swarm net(15, fast_link());
  const auto seeder = net.add_node();
  const auto leecher = net.add_node();
  const auto s1 = add_seed(net, seeder, t1);
  add_seed(net, seeder, t2);
  net.at(seeder).set_torrent_upload_limit(s1, 128 * KiB, net.now());
  CHECK(net.at(seeder).torrent_upload_limit(s1) == 128 * KiB);
  CHECK(net.at(seeder).upload_limit() == 0);
  const auto a = add_leech(net, leecher, t1);
  const auto b = add_leech(net, leecher, t2);
  session& s = net.at(leecher);
  s.add_peer(a, net.endpoint(seeder), net.now());
  s.add_peer(b, net.endpoint(seeder), net.now());

  // The free torrent is done long before the limited one has moved 1 MiB.
  REQUIRE(net.run_until([&] { return finished(net, leecher, b); }, net.now() + 10min));
  const double free_took = seconds(net.now().time_since_epoch());
  INFO("the free torrent took " << free_took << " s");
  CHECK(free_took < 3.0);
  CHECK(s.stats(a)->downloaded < 1 * MiB);

  auto down = [&] { return s.stats(a)->downloaded; };
  const auto w = measure(net, down, down() + 128 * KiB, 3 * MiB / 2);
  INFO("limited torrent " << w.rate / KiB << " KiB/s over " << w.seconds << " s");
  CHECK(w.rate == Approx(128.0 * KiB).epsilon(0.08));
  // The bound over any window: limit * T plus a burst (32 KiB) and a block.
  CHECK(static_cast<double>(net.at(seeder).stats(s1)->uploaded) <=
        128.0 * KiB * seconds(net.now().time_since_epoch()) + 48 * KiB);
  REQUIRE(net.run_until([&] { return finished(net, leecher, a); }, net.now() + 10min));
  const auto c = net.storage(leecher).contents(a);
  CHECK(std::equal(c.begin(), c.end(), t1.data.begin(), t1.data.end()));

  // Lifted: the limit is gone.
  net.at(seeder).set_torrent_upload_limit(s1, 0, net.now());
  CHECK(net.at(seeder).torrent_upload_limit(s1) == 0);
}

TEST_CASE("[throttle] a torrent's download limit under the session's: a byte fits both", "[throttle]") {
  const auto t1 = make_test_torrent(3 * MiB, 64 * KiB, 308, "one.bin");
  const auto t2 = make_test_torrent(4 * MiB, 64 * KiB, 309, "two.bin");
  swarm net(16, fast_link());
  const auto seeder = net.add_node();
  node_config leech_cfg;
  leech_cfg.settings.download_rate_limit = 256 * KiB;
  const auto leecher = net.add_node(leech_cfg);
  add_seed(net, seeder, t1);
  add_seed(net, seeder, t2);
  session& s = net.at(leecher);
  const auto a = add_leech(net, leecher, t1);
  const auto b = add_leech(net, leecher, t2);
  s.set_torrent_download_limit(a, 64 * KiB, net.now());
  s.add_peer(a, net.endpoint(seeder), net.now());
  s.add_peer(b, net.endpoint(seeder), net.now());

  net.run_until([] { return false; }, time_point{} + 2s);
  const auto a0 = s.stats(a)->downloaded, b0 = s.stats(b)->downloaded;
  net.run_until([] { return false; }, time_point{} + 12s);
  const double ra = static_cast<double>(s.stats(a)->downloaded - a0) / 10.0;
  const double rb = static_cast<double>(s.stats(b)->downloaded - b0) / 10.0;
  INFO("torrent a (64 KiB/s) " << ra / KiB << " KiB/s, b " << rb / KiB << " KiB/s");
  // a keeps to its own limit; b takes what the session's limit leaves.
  CHECK(ra == Approx(64.0 * KiB).epsilon(0.1));
  CHECK(ra + rb == Approx(256.0 * KiB).epsilon(0.08));

  // Raised above the session's share: the session's limit binds, shared between them.
  s.set_torrent_download_limit(a, 1 * MiB, net.now());
  CHECK(s.torrent_download_limit(a) == 1 * MiB);
  const auto a1 = s.stats(a)->downloaded, b1 = s.stats(b)->downloaded;
  const time_point t0 = net.now();
  net.run_until([] { return false; }, t0 + 6s);
  const double ra2 = static_cast<double>(s.stats(a)->downloaded - a1) / 6.0;
  const double rb2 = static_cast<double>(s.stats(b)->downloaded - b1) / 6.0;
  INFO("then a " << ra2 / KiB << " KiB/s, b " << rb2 / KiB << " KiB/s");
  CHECK(ra2 + rb2 == Approx(256.0 * KiB).epsilon(0.08));
  CHECK(ra2 > 96.0 * KiB);
  CHECK(s.torrent_download_limit(torrent_id{999}) == 0);
}
