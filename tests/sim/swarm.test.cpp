// Swarm scenarios on the deterministic simulator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

// A node that left counts as finished.
bool finished_or_gone(swarm& net, std::size_t node, torrent_id t) { return !net.alive(node) || finished(net, node, t); }

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
  node_config leecher_cfg;
  leecher_cfg.settings.host_hashes_pieces = GENERATE(false, true);
  const auto leecher = net.add_node(leecher_cfg);
  const torrent_id ts = add_seed(net, seeder, tt);
  auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tl);
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());

  REQUIRE(net.run_until([&] { return finished_or_gone(net, leecher, *tl); }, time_point{} + 10min));
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

TEST_CASE("[swarm] one capped seeder, twenty leechers: leechers trade pieces", "[swarm]") {
  const auto tt = make_test_torrent(2 * MiB, 32 * KiB, 11);
  link_config link;
  link.latency = 30ms;
  link.max_chunk = 16 * 1024;
  swarm net(2024, link);
  node_config seed_cfg;
  seed_cfg.upload_rate = 256.0 * KiB;  // the seeder's upload is capped
  const auto seeder = net.add_node(seed_cfg);
  add_seed(net, seeder, tt);
  node_config leech_cfg;
  leech_cfg.upload_rate = 256.0 * KiB;  // as are the leechers'
  std::vector<std::size_t> leechers;
  std::vector<torrent_id> ids;
  for (int i = 0; i < 20; ++i) {
    const auto n = net.add_node(leech_cfg);
    auto t = net.at(n).add_torrent(tt.meta, {}, net.now());
    REQUIRE(t);
    leechers.push_back(n);
    ids.push_back(*t);
    // A tracker's answer: the seeder and up to 5 earlier leechers.
    net.at(n).add_peer(*t, net.endpoint(seeder), net.now());
    for (std::size_t k = 0; k < 5 && k < leechers.size() - 1; ++k) {
      const auto other = leechers[net.random() % (leechers.size() - 1)];
      net.at(n).add_peer(*t, net.endpoint(other), net.now());
    }
  }
  auto all_done = [&] {
    for (std::size_t i = 0; i < leechers.size(); ++i)
      if (!finished_or_gone(net, leechers[i], ids[i])) return false;
    return true;
  };
  REQUIRE(net.run_until(all_done, time_point{} + 30min));
  std::uint64_t leecher_upload = 0, wasted = 0;
  for (std::size_t i = 0; i < leechers.size(); ++i) {
    CHECK(same_bytes(net.storage(leechers[i]).contents(ids[i]), tt.data));
    leecher_upload += net.at(leechers[i]).stats(ids[i])->uploaded;
    wasted += net.at(leechers[i]).stats(ids[i])->wasted;
  }
  const auto seeder_upload = net.at(seeder).stats(torrent_id{1})->uploaded;
  const auto size = static_cast<std::uint64_t>(tt.meta.total_length);
  const double virtual_seconds = std::chrono::duration<double>(net.now().time_since_epoch()).count();
  INFO("seeder uploaded " << static_cast<double>(seeder_upload) / static_cast<double>(size)
                          << "x the torrent; leechers " << static_cast<double>(leecher_upload) / static_cast<double>(size)
                          << "x; virtual seconds " << virtual_seconds << "; wasted " << static_cast<double>(wasted) / static_cast<double>(size) << "x");
  // The seeder alone would need 20 x 2 MiB / 256 KiB/s = 160 s and upload 20x. Every
  // piece must leave it at least once (1x). With leechers trading, it uploads a few
  // copies while the leechers carry the rest: the bound is 5x (a quarter of 20x),
  // and the leechers together must have uploaded at least 15x (everything the seeder did not).
  CHECK(seeder_upload >= size);
  CHECK(seeder_upload < 5 * size);
  CHECK(leecher_upload + seeder_upload >= 20 * size);
  CHECK(leecher_upload >= 15 * size);
  // Duplicate blocks (end-game, re-requests after timeouts) stay under 10% of the
  // 20 copies downloaded.
  CHECK(wasted < 2 * size);
  // And it is faster than the seeder alone could have been.
  CHECK(virtual_seconds < 160.0);
}

TEST_CASE("[swarm] a peer that corrupts blocks is banned; the download completes byte-exact", "[swarm]") {
  const auto tt = make_test_torrent(1 * MiB, 32 * KiB, 21);
  link_config link;
  link.latency = 20ms;
  link.max_chunk = 5000;
  swarm net(77, link);
  node_config honest_cfg;
  honest_cfg.upload_rate = 512.0 * KiB;
  const auto honest = net.add_node(honest_cfg);
  node_config bad_cfg;
  bad_cfg.corrupt_reads = true;  // serves corrupted data, fast
  const auto bad = net.add_node(bad_cfg);
  add_seed(net, honest, tt);
  add_seed(net, bad, tt);
  node_config leecher_cfg;
  leecher_cfg.settings.host_hashes_pieces = GENERATE(false, true);
  INFO("host hashes pieces: " << leecher_cfg.settings.host_hashes_pieces);
  std::vector<std::size_t> leechers;
  std::vector<torrent_id> ids;
  for (int i = 0; i < 3; ++i) {
    const auto n = net.add_node(leecher_cfg);
    auto t = net.at(n).add_torrent(tt.meta, {}, net.now());
    REQUIRE(t);
    net.at(n).add_peer(*t, net.endpoint(bad), net.now());
    net.at(n).add_peer(*t, net.endpoint(honest), net.now());
    for (auto other : leechers) net.at(n).add_peer(*t, net.endpoint(other), net.now());
    leechers.push_back(n);
    ids.push_back(*t);
  }
  auto all_done = [&] {
    for (std::size_t i = 0; i < leechers.size(); ++i)
      if (!finished_or_gone(net, leechers[i], ids[i])) return false;
    return true;
  };
  REQUIRE(net.run_until(all_done, time_point{} + 30min));
  for (std::size_t i = 0; i < leechers.size(); ++i) {
    CHECK(same_bytes(net.storage(leechers[i]).contents(ids[i]), tt.data));
    std::vector<wire::endpoint> banned;
    for (const auto& e : net.events(leechers[i]))
      if (auto* b = std::get_if<peer_banned_event>(&e)) banned.push_back(b->remote);
    // Only the corrupting peer is banned, by every leecher that it sent data to.
    CHECK(banned.size() <= 1);
    for (const auto& b : banned) CHECK(b == net.endpoint(bad));
    for (const auto& p : net.at(leechers[i]).peers(ids[i])) CHECK_FALSE(p.remote == net.endpoint(bad));
  }
  std::size_t bans = 0;
  for (auto n : leechers) bans += count_events<peer_banned_event>(net, n);
  CHECK(bans >= 1);
}

TEST_CASE("[swarm] a peer that takes requests and never sends a block does not hold the download back", "[swarm]") {
  const auto tt = make_test_torrent(4 * MiB, 32 * KiB, 23);
  link_config link;
  link.latency = 20ms;
  swarm net(79, link);
  node_config honest_cfg;
  honest_cfg.upload_rate = 256.0 * KiB;  // 16 s for the whole torrent
  const auto honest = net.add_node(honest_cfg);
  node_config silent_cfg;
  silent_cfg.silent_reads = true;
  const auto silent = net.add_node(silent_cfg);
  add_seed(net, honest, tt);
  add_seed(net, silent, tt);
  const auto leecher = net.add_node();
  auto t = net.at(leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(t);
  net.at(leecher).add_peer(*t, net.endpoint(silent), net.now());
  net.at(leecher).add_peer(*t, net.endpoint(honest), net.now());
  REQUIRE(net.run_until([&] { return finished_or_gone(net, leecher, *t); }, time_point{} + 30min));
  CHECK(same_bytes(net.storage(leecher).contents(*t), tt.data));
  const double seconds = std::chrono::duration<double>(net.now() - time_point{}).count();
  INFO("virtual seconds: " << seconds);
  // The blocks the silent peer holds are asked of the honest one as well (stale requests,
  // end-game): the download takes what the honest peer's rate allows (16 s), not more.
  CHECK(seconds < 20.0);
}

TEST_CASE("[swarm] upload_slots: 0 uploads nothing; 2 unchoke at most two peers at once", "[swarm]") {
  const auto tt = make_test_torrent(1 * MiB, 32 * KiB, 25);
  link_config link;
  link.latency = 20ms;
  swarm net(81, link);
  // A seed that uploads nothing, and one that uploads to two peers at a time, slowly.
  const auto mute = net.add_node();
  const auto mute_t = add_seed(net, mute, tt, {.upload_slots = 0u});
  node_config slow;
  slow.upload_rate = 256.0 * KiB;
  const auto two = net.add_node(slow);
  const auto two_t = add_seed(net, two, tt, {.upload_slots = 2u});
  std::vector<std::size_t> leechers;
  std::vector<torrent_id> ids;
  for (int i = 0; i < 4; ++i) {
    const auto n = net.add_node();
    auto t = net.at(n).add_torrent(tt.meta, {}, net.now());
    REQUIRE(t);
    net.at(n).add_peer(*t, net.endpoint(mute), net.now());
    net.at(n).add_peer(*t, net.endpoint(two), net.now());
    leechers.push_back(n);
    ids.push_back(*t);
  }
  std::size_t most_unchoked = 0;
  auto all_done = [&] {
    std::size_t unchoked = 0;
    for (const auto& p : net.at(two).peers(two_t)) unchoked += !p.am_choking;
    most_unchoked = std::max(most_unchoked, unchoked);
    for (std::size_t i = 0; i < leechers.size(); ++i)
      if (!finished_or_gone(net, leechers[i], ids[i])) return false;
    return true;
  };
  REQUIRE(net.run_until(all_done, time_point{} + 30min));
  for (std::size_t i = 0; i < leechers.size(); ++i) CHECK(same_bytes(net.storage(leechers[i]).contents(ids[i]), tt.data));
  CHECK(net.at(mute).stats(mute_t)->uploaded == 0);
  for (const auto& p : net.at(mute).peers(mute_t)) CHECK(p.am_choking);
  CHECK(most_unchoked >= 1);
  CHECK(most_unchoked <= 2);
}

TEST_CASE("[swarm] churn: half the peers leave mid-download, new ones join, all complete", "[swarm]") {
  const auto tt = make_test_torrent(2 * MiB, 32 * KiB, 31);
  link_config link;
  link.latency = 25ms;
  link.max_chunk = 8000;
  link.merge_chunks = true;
  swarm net(99, link);
  node_config cfg;
  cfg.upload_rate = 256.0 * KiB;
  const auto seeder = net.add_node(cfg);
  add_seed(net, seeder, tt);
  std::vector<std::size_t> nodes;
  std::vector<torrent_id> ids;
  auto join = [&] {
    const auto n = net.add_node(cfg);
    auto t = net.at(n).add_torrent(tt.meta, {}, net.now());
    REQUIRE(t);
    net.at(n).add_peer(*t, net.endpoint(seeder), net.now());
    for (std::size_t k = 0; k < nodes.size(); ++k)
      if (net.alive(nodes[k])) net.at(n).add_peer(*t, net.endpoint(nodes[k]), net.now());
    nodes.push_back(n);
    ids.push_back(*t);
  };
  for (int i = 0; i < 10; ++i) join();
  // Run until the swarm has about a third of the data on average.
  auto progress = [&] {
    double sum = 0;
    int alive = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!net.alive(nodes[i])) continue;
      sum += net.at(nodes[i]).stats(ids[i])->progress;
      ++alive;
    }
    return alive ? sum / alive : 1.0;
  };
  REQUIRE(net.run_until([&] { return progress() >= 0.33; }, time_point{} + 30min));
  CHECK(progress() < 0.9);
  // Half of them leave; five new ones join.
  for (std::size_t i = 0; i < 10; i += 2) net.remove_node(nodes[i]);
  for (int i = 0; i < 5; ++i) join();
  auto all_done = [&] {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (!finished_or_gone(net, nodes[i], ids[i])) return false;
    return true;
  };
  REQUIRE(net.run_until(all_done, time_point{} + 60min));
  std::size_t survivors = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!net.alive(nodes[i])) continue;
    ++survivors;
    CHECK(same_bytes(net.storage(nodes[i]).contents(ids[i]), tt.data));
  }
  CHECK(survivors == 10);
}

TEST_CASE("[swarm] links that drop connections: peers reconnect and complete", "[swarm]") {
  const auto tt = make_test_torrent(1 * MiB, 32 * KiB, 41);
  link_config link;
  link.latency = 20ms;
  link.max_chunk = 4000;
  link.mean_lifetime = 4s;  // every connection dies after a few seconds on average
  swarm net(123, link);
  node_config cfg;
  cfg.settings.listen_port = 6881;
  cfg.upload_rate = 128.0 * KiB;
  const auto seeder = net.add_node(cfg);
  add_seed(net, seeder, tt);
  auto added = add_leechers(net, tt, cfg, 4, seeder);
  const auto& nodes = added.nodes;
  const auto& ids = added.ids;
  auto all_done = [&] {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (!finished_or_gone(net, nodes[i], ids[i])) return false;
    return true;
  };
  REQUIRE(net.run_until(all_done, time_point{} + 30min));
  std::size_t disconnects = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto c = net.storage(nodes[i]).contents(ids[i]);
    CHECK(same_bytes(c, tt.data));
    disconnects += count_events<peer_disconnected_event>(net, nodes[i]);
  }
  CHECK(disconnects >= 4);  // the links really did drop connections
}

TEST_CASE("[swarm] a run is reproducible from its seed", "[swarm]") {
  const auto tt = make_test_torrent(512 * KiB, 16 * KiB, 5);
  auto run = [&](std::uint64_t seed) {
    link_config link;
    link.latency = 10ms;
    link.max_chunk = 3000;
    swarm net(seed, link);
    node_config cfg;
    cfg.upload_rate = 200.0 * KiB;
    const auto s = net.add_node(cfg);
    add_seed(net, s, tt);
    std::vector<torrent_id> ids;
    for (int i = 0; i < 4; ++i) {
      const auto n = net.add_node(cfg);
      ids.push_back(*net.at(n).add_torrent(tt.meta, {}, net.now()));
      net.at(n).add_peer(ids.back(), net.endpoint(s), net.now());
      for (std::size_t k = 1; k < n; ++k) net.at(n).add_peer(ids.back(), net.endpoint(k), net.now());
    }
    net.run_until([&] {
      for (std::size_t i = 0; i < ids.size(); ++i)
        if (!finished_or_gone(net, i + 1, ids[i])) return false;
      return true;
    }, time_point{} + 10min);
    std::vector<std::uint64_t> trace{static_cast<std::uint64_t>(net.now().time_since_epoch().count())};
    for (std::size_t i = 0; i < net.size(); ++i) {
      trace.push_back(net.bytes_sent(i));
      for (const auto& e : net.events(i)) {
        trace.push_back(e.index());
        if (auto* v = std::get_if<piece_verified_event>(&e)) trace.push_back(v->piece.value);
      }
    }
    return trace;
  };
  const auto a = run(9);
  CHECK(a == run(9));
  CHECK(a != run(10));
}

TEST_CASE("[swarm] a file set to priority 0 is not downloaded", "[swarm]") {
  // Three files of 96 KiB, 200 KiB and 104 KiB over 32 KiB pieces.
  const auto base = make_test_torrent(400 * KiB, 32 * KiB, 17);
  const std::int64_t sizes[] = {96 * KiB, 200 * KiB, 104 * KiB};
  std::vector<input_file> files;
  std::int64_t offset = 0;
  const char* names[] = {"a.bin", "b.bin", "c.bin"};
  for (int i = 0; i < 3; ++i) {
    files.push_back({names[i], byte_view(base.data).subspan(static_cast<std::size_t>(offset),
                                                            static_cast<std::size_t>(sizes[i]))});
    offset += sizes[i];
  }
  create_options o;
  o.name = "three";
  o.piece_length = 32 * KiB;
  o.creation_date = 0;
  auto bytes = create_torrent(files, o);
  REQUIRE(bytes);
  auto m = parse_metainfo(*bytes);
  REQUIRE(m);
  test_torrent tt{*m, base.data};

  swarm net(31);
  const auto seeder = net.add_node();
  const auto leecher = net.add_node();
  add_seed(net, seeder, tt);
  auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tl);
  net.at(leecher).set_file_priority(*tl, file_index{1}, 0, net.now());
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished_or_gone(net, leecher, *tl); }, time_point{} + 10min));
  const auto have = *net.at(leecher).have_pieces(*tl);
  // a.bin is pieces 0-2 (it ends on a piece boundary); b.bin is 3-9, but it ends at
  // 296 KiB inside piece 9, which c.bin needs too.
  for (std::uint32_t p = 0; p < 3; ++p) CHECK(have.test(p));
  for (std::uint32_t p = 3; p < 9; ++p) CHECK_FALSE(have.test(p));
  for (std::uint32_t p = 9; p < tt.meta.piece_count(); ++p) CHECK(have.test(p));
  const auto st = net.at(leecher).stats(*tl);
  CHECK(st->progress == 1.0);
  CHECK(st->have < tt.meta.total_length);
}

TEST_CASE("[swarm] stats events report progress and rates from engine time", "[swarm]") {
  const auto tt = make_test_torrent(1 * MiB, 32 * KiB, 71);
  link_config link;
  link.max_chunk = 16 * 1024;
  swarm net(17, link);
  node_config seed_cfg;
  seed_cfg.upload_rate = 128.0 * KiB;  // 8 s for the torrent
  const auto seeder = net.add_node(seed_cfg);
  node_config leech_cfg;
  leech_cfg.settings.stats_interval = 1s;
  const auto leecher = net.add_node(leech_cfg);
  add_seed(net, seeder, tt);
  auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tl);
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished_or_gone(net, leecher, *tl); }, time_point{} + 10min));
  std::vector<torrent_stats> samples;
  for (const auto& e : net.events(leecher))
    if (auto* s = std::get_if<stats_event>(&e)) samples.push_back(s->stats);
  REQUIRE(samples.size() >= 6);
  // Progress never goes back; the rate averaged over the download is near the
  // seeder's cap (single samples vary as blocks arrive in bursts); mid-download the
  // time remaining is finite.
  for (std::size_t i = 1; i < samples.size(); ++i) CHECK(samples[i].progress >= samples[i - 1].progress);
  const auto& mid = samples[samples.size() / 2];
  std::string series;
  for (const auto& s : samples) series += " " + std::to_string(static_cast<int>(s.download_rate / 1024)) + "/" + std::to_string(static_cast<int>(s.progress * 100));
  INFO("KiB/s / % per second:" << series);
  double sum = 0;
  for (std::size_t i = 2; i + 1 < samples.size(); ++i) sum += samples[i].download_rate;
  const double mean = sum / static_cast<double>(samples.size() - 3);
  CHECK(mean > 80.0 * KiB);
  CHECK(mean < 140.0 * KiB);
  CHECK(mid.time_remaining.has_value());
  CHECK(mid.peers == 1);
  CHECK(mid.seeds == 1);
  CHECK(mid.total == tt.meta.total_length);

  // Once nothing arrives, the rate falls to exactly 0 (as WebTorrent's windowed speed does),
  // not to an ever smaller fraction of a byte a second that apps would print.
  const auto idle_until = net.now() + 60s;
  net.run_until([&] { return net.now() >= idle_until; }, idle_until + 5s);
  const torrent_stats* last = nullptr;
  for (const auto& e : net.events(leecher))
    if (auto* s = std::get_if<stats_event>(&e)) last = &s->stats;
  REQUIRE(last != nullptr);
  CHECK(last->download_rate == 0.0);
  CHECK(last->upload_rate == 0.0);
  CHECK_FALSE(last->time_remaining.has_value());
}

TEST_CASE("[swarm] a peer's rates are the last 5 s of bytes, as the torrent's: a value from the first bytes, 0 once idle", "[swarm]") {
  // 32 pieces of 32 KiB from a seeder capped at 128 KiB/s; the leecher wants the first
  // half only, so the connection stays open (neither is a seed of the other) once it goes
  // idle.
  const auto tt = make_test_torrent(1 * MiB, 32 * KiB, 72);
  link_config link;
  link.max_chunk = 16 * 1024;
  swarm net(18, link);
  node_config seed_cfg;
  seed_cfg.upload_rate = 128.0 * KiB;
  const auto seeder = net.add_node(seed_cfg);
  const auto leecher = net.add_node();
  const auto ts = add_seed(net, seeder, tt);
  auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tl);
  REQUIRE(net.at(leecher).set_piece_priority(*tl, {piece_index{16}, piece_index{31}}, 0, net.now()));
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());
  const auto peer_rates = [&](std::size_t n, torrent_id t) {
    const auto ps = net.at(n).peers(t);
    REQUIRE(ps.size() == 1);
    return std::pair{ps[0].download_rate, ps[0].upload_rate};
  };
  // Within the first second and a half: a value already (a smoothed rate is half of it).
  REQUIRE(net.run_until([&] { return net.at(leecher).stats(*tl)->downloaded >= 96 * KiB; }, net.now() + 10s));
  net.run_until([&] { return false; }, net.now() + 1s);
  CHECK(peer_rates(leecher, *tl).first > 80.0 * KiB);
  CHECK(peer_rates(leecher, *tl).first < 160.0 * KiB);
  CHECK(peer_rates(seeder, ts).second > 80.0 * KiB);
  REQUIRE(net.run_until([&] { return finished_or_gone(net, leecher, *tl); }, net.now() + 1min));
  // 6 s after the last byte: exactly 0 on both sides, the connection still open.
  net.run_until([&] { return false; }, net.now() + 6s);
  CHECK(peer_rates(leecher, *tl).first == 0.0);
  CHECK(peer_rates(seeder, ts).second == 0.0);
}

TEST_CASE("[swarm] smart ban: a corrupting peer that shares pieces with honest ones is found", "[swarm]") {
  // Large pieces (16 blocks) downloaded from two peers at once mix their blocks: a
  // failed piece has several senders, and the culprit is found by comparing its
  // blocks with the piece that finally passes.
  const auto tt = make_test_torrent(2 * MiB, 256 * KiB, 81);
  // The host hashing pieces (the verdict stays the engine's): a failed piece's bytes come
  // back from the host for smart ban's block digests.
  node_config leecher_cfg;
  leecher_cfg.settings.host_hashes_pieces = GENERATE(false, true);
  INFO("host hashes pieces: " << leecher_cfg.settings.host_hashes_pieces);
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    link_config link;
    link.latency = 20ms;
    link.max_chunk = 16 * 1024;
    swarm net(seed, link);
    node_config cfg;
    cfg.upload_rate = 256.0 * KiB;
    const auto honest = net.add_node(cfg);
    node_config bad_cfg = cfg;
    bad_cfg.corrupt_reads = true;
    const auto bad = net.add_node(bad_cfg);
    add_seed(net, honest, tt);
    add_seed(net, bad, tt);
    const auto leecher = net.add_node(leecher_cfg);
    auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
    REQUIRE(tl);
    net.at(leecher).add_peer(*tl, net.endpoint(honest), net.now());
    net.at(leecher).add_peer(*tl, net.endpoint(bad), net.now());
    REQUIRE(net.run_until([&] { return finished_or_gone(net, leecher, *tl); }, time_point{} + 30min));
    CHECK(same_bytes(net.storage(leecher).contents(*tl), tt.data));
    std::vector<wire::endpoint> banned;
    for (const auto& e : net.events(leecher))
      if (auto* b = std::get_if<peer_banned_event>(&e)) banned.push_back(b->remote);
    REQUIRE(banned.size() == 1);
    CHECK(banned[0] == net.endpoint(bad));
    INFO("seed " << seed << ": hash failures " << count_events<hash_failed_event>(net, leecher));
    CHECK(count_events<hash_failed_event>(net, leecher) >= 1);
  }
}

TEST_CASE("[swarm] a seeder with a good record whose piece turns bad is not banned: the rest comes from it, that piece from another", "[swarm]") {
  const auto tt = make_test_torrent(1 * MiB, 32 * KiB, 23);
  swarm net(81);
  const auto lone = net.add_node();
  const auto ts = add_seed(net, lone, tt);
  // The file changed under the seeder (a Firefox File edited in place, a bad sector): it
  // serves piece `bad` with other bytes.
  const std::uint32_t bad = 27;
  std::vector<std::uint8_t> other(static_cast<std::size_t>(tt.meta.piece_length), 0x5a);
  net.storage(lone).write_at(ts, std::int64_t{bad} * tt.meta.piece_length, other);

  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.add_peer(t, net.endpoint(lone), net.now());
  const auto all_but_one = std::int64_t{tt.meta.total_length} - tt.meta.piece_length;
  REQUIRE(net.run_until([&] { return s.stats(t)->have >= all_but_one; }, time_point{} + 5min));
  // Not banned, still connected; the piece said, not asked of it again.
  REQUIRE_FALSE(net.run_until([&] { return s.stats(t)->have > all_but_one; }, net.now() + 30s));
  CHECK(count_events<peer_banned_event>(net, leecher) == 0);
  CHECK(s.peers(t).size() == 1);
  std::size_t said = 0, failed = 0;
  for (const auto& e : net.events(leecher)) {
    if (auto* w = std::get_if<warning_event>(&e); w && w->code == errc::session_piece_failed) ++said;
    if (auto* h = std::get_if<hash_failed_event>(&e); h && h->piece.value == bad) ++failed;
  }
  CHECK(said == 1);
  CHECK(failed == 1);

  // An honest seeder brings it.
  const auto honest = net.add_node();
  add_seed(net, honest, tt);
  s.add_peer(t, net.endpoint(honest), net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 5min));
  CHECK(same_bytes(net.storage(leecher).contents(t), tt.data));
  CHECK(count_events<peer_banned_event>(net, leecher) == 0);
}
