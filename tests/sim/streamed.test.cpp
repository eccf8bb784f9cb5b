// Streamed pieces (session_settings::stream_piece_bytes): big pieces go to the store block
// by block and are hashed as they come, so the session's memory for pieces in progress
// stays bounded whatever the piece length; hash failures, smart ban, web seeds, removal
// and resume still work.
#include <catch2/catch.hpp>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

std::size_t add_seeder(swarm& net, const test_torrent& tt, node_config cfg = {}) {
  const auto s = net.add_node(cfg);
  const auto ts = *net.at(s).add_torrent(tt.meta, {.seed = true}, net.now());
  net.storage(s).write_at(ts, 0, tt.data);
  for (std::uint32_t p = 0; p < tt.meta.piece_count(); ++p) net.storage(s).mark_complete(ts, piece_index{p});
  return s;
}

bool exact(swarm& net, std::size_t node, torrent_id t, const test_torrent& tt) {
  return net.storage(node).read_at(t, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data;
}

bool all_complete(swarm& net, std::size_t node, torrent_id t, const test_torrent& tt) {
  for (std::uint32_t p = 0; p < tt.meta.piece_count(); ++p)
    if (!net.storage(node).is_complete(t, piece_index{p})) return false;
  return true;
}

struct big_run {
  std::uint64_t most_buffered = 0;
  bool finished = false, exact = false, complete = false;
  std::uint64_t unverified_reads = 0, reads_of_incomplete = 0;
};

// 4 MiB pieces from six seeders at 2 MiB/s each: every peer works on its own piece.
big_run download_big_pieces(std::uint64_t stream_piece_bytes) {
  const auto tt = make_test_torrent(64 * MiB, 4 * MiB, 401);
  swarm net(41, link_config{.latency = 30ms});
  node_config cfg;
  cfg.settings.stream_piece_bytes = stream_piece_bytes;
  const auto leecher = net.add_node(cfg);
  session& s = net.at(leecher);
  const auto tl = *s.add_torrent(tt.meta, {}, net.now());
  for (int i = 0; i < 6; ++i) {
    node_config seed_cfg;
    seed_cfg.upload_rate = 2.0 * MiB;
    s.add_peer(tl, net.endpoint(add_seeder(net, tt, seed_cfg)), net.now());
  }
  // A user read across two pieces waits for both to be verified.
  const auto read = s.read(tl, 4 * MiB - 100, 200, net.now());
  REQUIRE(read != 0);
  big_run r;
  r.finished = net.run_until([&] {
    r.most_buffered = std::max(r.most_buffered, s.buffered_piece_bytes());
    return s.stats(tl)->finished;
  }, time_point{} + 10min);
  r.exact = exact(net, leecher, tl, tt);
  r.complete = all_complete(net, leecher, tl, tt);
  r.unverified_reads = net.unverified_reads(leecher);
  r.reads_of_incomplete = net.reads_of_incomplete(leecher);
  bool read_ok = false;
  for (const auto& e : net.events(leecher))
    if (auto* rc = std::get_if<read_completed_event>(&e); rc && rc->read == read) read_ok = rc->ok;
  CHECK(read_ok);
  return r;
}

}  // namespace

TEST_CASE("[streamed] big pieces: the session holds a bounded part of each piece in progress", "[streamed]") {
  const auto streamed = download_big_pieces(1 * MiB);
  CHECK(streamed.finished);
  CHECK(streamed.exact);
  CHECK(streamed.complete);  // every piece marked complete once verified
  CHECK(streamed.reads_of_incomplete == 0);
  INFO("most bytes buffered: " << streamed.most_buffered);
  // At most stream_piece_bytes of blocks ahead of the hashed prefix per piece, and pieces
  // in progress count 1 MiB each against max_partial_bytes (24 MiB): in practice blocks
  // come in order and almost nothing waits.
  CHECK(streamed.most_buffered <= 4 * MiB);
  // The same download holding pieces whole: several 4 MiB pieces at once.
  const auto whole = download_big_pieces(0);
  CHECK(whole.finished);
  CHECK(whole.exact);
  INFO("held whole, most bytes buffered: " << whole.most_buffered);
  CHECK(whole.most_buffered >= 16 * MiB);
  CHECK(whole.unverified_reads == 0);
}

TEST_CASE("[streamed] blocks out of order wait in memory up to the bound, past it they are read back", "[streamed]") {
  // 1 MiB pieces streamed with only 64 KiB (4 blocks) kept ahead of the hashed prefix; peers
  // of different speeds on a link that splits messages, and end-game duplicates, deliver
  // blocks of one piece out of order.
  const auto tt = make_test_torrent(12 * MiB + 5000, 1 * MiB, 402);
  swarm net(42, link_config{.latency = 15ms, .max_chunk = 3000});
  node_config cfg;
  cfg.settings.stream_piece_bytes = 64 * KiB;
  cfg.settings.max_partial_bytes = 256 * KiB;  // few pieces at once: peers share them
  const auto leecher = net.add_node(cfg);
  session& s = net.at(leecher);
  const auto tl = *s.add_torrent(tt.meta, {}, net.now());
  for (double rate : {300.0 * KiB, 1.0 * MiB, 3.0 * MiB, 150.0 * KiB}) {
    node_config seed_cfg;
    seed_cfg.upload_rate = rate;
    s.add_peer(tl, net.endpoint(add_seeder(net, tt, seed_cfg)), net.now());
  }
  std::uint64_t most = 0;
  REQUIRE(net.run_until([&] {
    most = std::max(most, s.buffered_piece_bytes());
    return s.stats(tl)->finished;
  }, time_point{} + 10min));
  CHECK(exact(net, leecher, tl, tt));
  CHECK(all_complete(net, leecher, tl, tt));
  CHECK(count_events<hash_failed_event>(net, leecher) == 0);
  CHECK(net.unverified_reads(leecher) > 0);  // some blocks were read back to be hashed
  CHECK(net.reads_of_incomplete(leecher) == 0);
  INFO("most bytes buffered: " << most);
  // 64 KiB ahead per piece, for the pieces in progress (256 KiB of them, plus one per peer
  // that has none to work on).
  CHECK(most <= (4 + 4) * 64 * KiB);
}

TEST_CASE("[streamed] a peer sending bad blocks into streamed pieces is found, banned, and the pieces fetched again", "[streamed]") {
  const auto tt = make_test_torrent(24 * MiB, 4 * MiB, 403);
  swarm net(43, link_config{.latency = 20ms});
  const auto leecher = net.add_node();
  session& s = net.at(leecher);
  const auto tl = *s.add_torrent(tt.meta, {}, net.now());
  node_config honest_cfg, bad_cfg;
  honest_cfg.upload_rate = bad_cfg.upload_rate = 2.0 * MiB;
  bad_cfg.corrupt_reads = true;  // every block it sends has a flipped byte
  const auto honest = add_seeder(net, tt, honest_cfg);
  const auto bad = add_seeder(net, tt, bad_cfg);
  s.add_peer(tl, net.endpoint(honest), net.now());
  s.add_peer(tl, net.endpoint(bad), net.now());
  REQUIRE(net.run_until([&] { return s.stats(tl)->finished; }, time_point{} + 10min));
  CHECK(exact(net, leecher, tl, tt));
  CHECK(all_complete(net, leecher, tl, tt));
  CHECK(count_events<hash_failed_event>(net, leecher) >= 1);
  CHECK(net.reads_of_incomplete(leecher) == 0);
  std::vector<wire::endpoint> banned;
  for (const auto& e : net.events(leecher))
    if (auto* b = std::get_if<peer_banned_event>(&e)) banned.push_back(b->remote);
  REQUIRE(banned.size() == 1);
  CHECK(banned[0] == net.endpoint(bad));
}

TEST_CASE("[streamed] a corrupt peer that shares pieces with honest ones is told apart by the blocks read back", "[streamed]") {
  // Several honest peers and one bad one on the same few pieces: a failed piece has blocks
  // from several senders, so the session reads it back for per-block digests, fetches it
  // again from one of them, and the block that changed names the culprit.
  const auto tt = make_test_torrent(16 * MiB, 2 * MiB, 404);
  swarm net(44, link_config{.latency = 20ms});
  node_config cfg;
  cfg.settings.max_partial_bytes = 1;  // finish pieces in progress first: peers share them
  const auto leecher = net.add_node(cfg);
  session& s = net.at(leecher);
  const auto tl = *s.add_torrent(tt.meta, {}, net.now());
  std::vector<std::size_t> honest;
  for (int i = 0; i < 3; ++i) {
    node_config c;
    c.upload_rate = 1.0 * MiB;
    honest.push_back(add_seeder(net, tt, c));
    s.add_peer(tl, net.endpoint(honest.back()), net.now());
  }
  node_config bad_cfg;
  bad_cfg.upload_rate = 1.0 * MiB;
  bad_cfg.corrupt_reads = true;
  const auto bad = add_seeder(net, tt, bad_cfg);
  s.add_peer(tl, net.endpoint(bad), net.now());
  REQUIRE(net.run_until([&] { return s.stats(tl)->finished; }, time_point{} + 10min));
  CHECK(exact(net, leecher, tl, tt));
  CHECK(count_events<hash_failed_event>(net, leecher) >= 1);
  CHECK(net.unverified_reads(leecher) > 0);  // the failed piece was read back for blame
  std::vector<wire::endpoint> banned;
  for (const auto& e : net.events(leecher))
    if (auto* b = std::get_if<peer_banned_event>(&e)) banned.push_back(b->remote);
  REQUIRE(banned.size() == 1);
  CHECK(banned[0] == net.endpoint(bad));
}

TEST_CASE("[streamed] web seeds write into streamed pieces as their bytes arrive", "[streamed]") {
  const auto tt = make_test_torrent(20 * MiB + 777, 4 * MiB, 405, "big.bin");
  swarm net(45, link_config{.latency = 20ms});
  const auto leecher = net.add_node();
  session& s = net.at(leecher);
  const auto tl = *s.add_torrent(tt.meta, {}, net.now());
  s.set_web_seed_policy(tl, web_seed_policy::always, 0, net.now());
  // One honest server in odd-sized chunks, and one that flips a byte of every body.
  web_server_config honest_cfg;
  honest_cfg.bandwidth = 4.0 * MiB;
  honest_cfg.chunk = 7000;
  net.add_web_server({{"http://good.test/big.bin", tt.data}}, honest_cfg);
  web_server_config bad_cfg;
  bad_cfg.mode = http_mode::wrong_bytes;
  bad_cfg.bandwidth = 4.0 * MiB;
  net.add_web_server({{"http://bad.test/big.bin", tt.data}}, bad_cfg);
  REQUIRE(s.add_web_seed(tl, "http://good.test/big.bin", net.now()));
  REQUIRE(s.add_web_seed(tl, "http://bad.test/big.bin", net.now()));
  // And a peer, so blocks of one piece come from both kinds of source.
  node_config seed_cfg;
  seed_cfg.upload_rate = 1.0 * MiB;
  s.add_peer(tl, net.endpoint(add_seeder(net, tt, seed_cfg)), net.now());
  std::uint64_t most = 0;
  REQUIRE(net.run_until([&] {
    most = std::max(most, s.buffered_piece_bytes());
    return s.stats(tl)->finished;
  }, time_point{} + 10min));
  CHECK(exact(net, leecher, tl, tt));
  CHECK(all_complete(net, leecher, tl, tt));
  CHECK(net.reads_of_incomplete(leecher) == 0);
  CHECK(most <= 4 * MiB);
  const auto seeds = s.web_seeds(tl);
  REQUIRE(seeds.size() == 2);
  CHECK(seeds[0].state != web_seed_state::dropped);
  CHECK(seeds[0].downloaded > 0);
  CHECK(seeds[1].state == web_seed_state::dropped);
}

TEST_CASE("[streamed] removing a torrent mid-piece, with block writes pending, leaves the others going", "[streamed]") {
  const auto first = make_test_torrent(32 * MiB, 4 * MiB, 406);
  const auto second = make_test_torrent(12 * MiB, 4 * MiB, 407);
  swarm net(46, link_config{.latency = 5ms});
  const auto seeder = net.add_node();
  for (const auto* tt : {&first, &second}) {
    const auto ts = *net.at(seeder).add_torrent(tt->meta, {.seed = true}, net.now());
    net.storage(seeder).write_at(ts, 0, tt->data);
  }
  node_config slow;
  slow.write_rate = 2.0 * MiB;
  slow.settings.max_pending_write_bytes = 1 * MiB;
  const auto leecher = net.add_node(slow);
  session& s = net.at(leecher);
  const auto t1 = *s.add_torrent(first.meta, {}, net.now());
  s.add_peer(t1, net.endpoint(seeder), net.now());
  // Block writes are behind (backpressure holds them near the limit) and a piece is half in.
  REQUIRE(net.run_until([&] {
    const auto states = s.piece_states(t1);
    return net.max_unwritten(leecher) >= 1 * MiB && s.stats(t1)->have > 0 &&
           std::count(states.begin(), states.end(), 1) > 0;
  }, time_point{} + 1min));
  // The limit, plus what was requested when it was reached (a fast link: a full pipeline).
  CHECK(net.max_unwritten(leecher) <= 1 * MiB + 4 * MiB + 1 * MiB);
  s.remove_torrent(t1, net.now());
  const auto t2 = *s.add_torrent(second.meta, {}, net.now());
  s.add_peer(t2, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return s.stats(t2)->finished; }, net.now() + 2min));
  CHECK(exact(net, leecher, t2, second));
  CHECK(s.buffered_piece_bytes() == 0);
}

TEST_CASE("[streamed] resume after a restart: half-written streamed pieces are not complete and are fetched again", "[streamed]") {
  const auto tt = make_test_torrent(40 * MiB, 4 * MiB, 408);
  swarm net(47, link_config{.latency = 20ms});
  node_config seed_cfg;
  seed_cfg.upload_rate = 4.0 * MiB;
  const auto seeder = add_seeder(net, tt, seed_cfg);
  node_config cfg;
  cfg.digest_reads = GENERATE(false, true);
  const auto first = net.add_node(cfg);
  const auto t1 = *net.at(first).add_torrent(tt.meta, {}, net.now());
  net.at(first).add_peer(t1, net.endpoint(seeder), net.now());
  // Stop with some pieces verified and one half in the store.
  std::vector<std::uint8_t> states;
  REQUIRE(net.run_until([&] {
    states = net.at(first).piece_states(t1);
    const auto have = std::count(states.begin(), states.end(), 3);
    return have >= 3 && std::count(states.begin(), states.end(), 1) > 0;
  }, time_point{} + 2min));
  std::vector<std::uint32_t> half;  // in progress when stopped
  std::uint32_t had = 0;
  for (std::uint32_t p = 0; p < states.size(); ++p) {
    if (states[p] == 3) ++had;
    if (states[p] == 1) half.push_back(p);
  }
  REQUIRE_FALSE(half.empty());
  for (const auto p : half) CHECK_FALSE(net.storage(first).is_complete(t1, piece_index{p}));
  // The browser closes: a new session over the same store.
  memory_storage left = net.storage(first);
  net.remove_node(first);
  const auto second = net.add_node(cfg);
  net.storage(second) = left;
  session& s = net.at(second);
  const auto t2 = *s.add_torrent(tt.meta, {.check = true}, net.now());
  REQUIRE(t2 == t1);
  s.add_peer(t2, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return !s.stats(t2)->checking; }, net.now() + 1min));
  std::uint32_t held = 0;
  for (const auto& e : net.events(second))
    if (auto* c = std::get_if<storage_checked_event>(&e)) held = c->held;
  CHECK(held == had);
  const auto have = s.have_pieces(t2);
  for (const auto p : half) CHECK_FALSE(have->test(p));
  REQUIRE(net.run_until([&] { return s.stats(t2)->finished; }, net.now() + 2min));
  CHECK(exact(net, second, t2, tt));
  CHECK(all_complete(net, second, t2, tt));
  CHECK(count_events<hash_failed_event>(net, second) == 0);
  // What was verified before the restart was not fetched again.
  CHECK(s.stats(t2)->downloaded <= static_cast<std::uint64_t>(tt.meta.total_length) - std::uint64_t{had} * 4 * MiB + 1 * MiB);
}
