// The session against its store: a slow store holds back requests (backpressure), and a
// store left from an earlier run is checked piece by piece (resume).
#include <algorithm>

#include <catch2/catch.hpp>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

std::int64_t piece_start(const test_torrent& tt, std::uint32_t p) { return std::int64_t{p} * tt.meta.piece_length; }

byte_view piece_bytes(const test_torrent& tt, std::uint32_t p) {
  return byte_view(tt.data).subspan(static_cast<std::size_t>(piece_start(tt, p)),
                                    static_cast<std::size_t>(tt.meta.piece_size(piece_index{p})));
}

// The pieces the node reported verified, in order.
std::vector<std::uint32_t> verified_pieces(swarm& net, std::size_t node) {
  std::vector<std::uint32_t> out;
  for (const auto& e : net.events(node))
    if (auto* v = std::get_if<piece_verified_event>(&e)) out.push_back(v->piece.value);
  return out;
}

// Seeder and leecher on a fast link; the leecher's store writes at `write_rate`.
struct slow_store_run {
  std::uint64_t max_unwritten = 0;
  bool complete = false;
  bool exact = false;
};

slow_store_run download_to_slow_store(std::uint64_t max_pending_write_bytes, bool host_hashes) {
  const auto tt = make_test_torrent(12 * MiB, 256 * KiB, 77);
  swarm net(5, link_config{.latency = 5ms});
  const auto seeder = net.add_node();
  node_config slow;
  slow.write_rate = 2.0 * MiB;  // far below the link's speed
  slow.settings.max_pending_write_bytes = max_pending_write_bytes;
  slow.settings.host_hashes_pieces = host_hashes;  // a write the host hashes first counts the same
  const auto leecher = net.add_node(slow);
  const auto ts = *net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
  net.storage(seeder).write_at(ts, 0, tt.data);
  const auto tl = *net.at(leecher).add_torrent(tt.meta, {}, net.now());
  net.at(leecher).add_peer(tl, net.endpoint(seeder), net.now());
  slow_store_run r;
  r.complete = net.run_until([&] { return net.at(leecher).stats(tl)->finished; }, time_point{} + 5min);
  r.max_unwritten = net.max_unwritten(leecher);
  r.exact = net.storage(leecher).read_at(tl, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data;
  return r;
}

}  // namespace

TEST_CASE("[storage] a slow store holds back block requests instead of the session buffering the download", "[storage]") {
  const bool host_hashes = GENERATE(false, true);
  INFO("host hashes pieces: " << host_hashes);
  const auto bounded = download_to_slow_store(2 * MiB, host_hashes);
  CHECK(bounded.complete);
  CHECK(bounded.exact);
  // The limit, plus what was already requested when it was reached (a pipeline: the link
  // is fast, so about a second of requests at most) and one piece.
  CHECK(bounded.max_unwritten <= 2 * MiB + 4 * MiB + 256 * KiB);
  // Without the limit the same store falls far behind: the bound above is the limit's doing.
  const auto unbounded = download_to_slow_store(0, host_hashes);
  CHECK(unbounded.complete);
  CHECK(unbounded.max_unwritten > 8 * MiB);
}

TEST_CASE("[storage] resume: a store from an earlier run is read back and hashed; only missing or altered pieces are fetched", "[storage]") {
  const auto tt = make_test_torrent(4 * MiB + 1000, 64 * KiB, 91);
  const std::uint32_t n = tt.meta.piece_count();
  swarm net(9, link_config{.latency = 10ms});
  const auto seeder = net.add_node();
  node_config cfg;
  // The host answers with the pieces' SHA-1 (a browser's own) or with their bytes.
  cfg.digest_reads = GENERATE(false, true);
  const auto leecher = net.add_node(cfg);
  const auto ts = *net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
  net.storage(seeder).write_at(ts, 0, tt.data);

  // What an earlier run left: the first half of the pieces, piece 3 altered, piece 5 cut
  // short (a crash mid-write), and the last piece (short) whole.
  session& s = net.at(leecher);
  const torrent_id expected{1};
  for (std::uint32_t p = 0; p < n / 2; ++p) {
    if (p == 5) {
      net.storage(leecher).write_at(expected, piece_start(tt, p), piece_bytes(tt, p).first(1000));
      continue;
    }
    byte_buffer bytes(piece_bytes(tt, p).begin(), piece_bytes(tt, p).end());
    if (p == 3) bytes[17] ^= 1;
    net.storage(leecher).write_at(expected, piece_start(tt, p), bytes);
  }
  net.storage(leecher).write_at(expected, piece_start(tt, n - 1), piece_bytes(tt, n - 1));

  SECTION("from the .torrent") {
    const auto tl = *s.add_torrent(tt.meta, {.check = true}, net.now());
    REQUIRE(tl == expected);
    CHECK(s.stats(tl)->checking);
    s.add_peer(tl, net.endpoint(seeder), net.now());
    REQUIRE(net.run_until([&] { return !s.stats(tl)->checking; }, time_point{} + 1min));
    const std::uint32_t held = n / 2 - 2 + 1;  // minus pieces 3 and 5, plus the last
    std::uint32_t checked_events = 0;
    for (const auto& e : net.events(leecher))
      if (auto* c = std::get_if<storage_checked_event>(&e)) {
        ++checked_events;
        CHECK(c->held == held);
      }
    CHECK(checked_events == 1);
    CHECK(s.stats(tl)->have == std::int64_t{held - 1} * tt.meta.piece_length + tt.meta.piece_size(piece_index{n - 1}));
    const auto have = s.have_pieces(tl);
    CHECK_FALSE(have->test(3));
    CHECK_FALSE(have->test(5));
    CHECK(have->test(0));

    REQUIRE(net.run_until([&] { return s.stats(tl)->finished; }, time_point{} + 2min));
    CHECK(net.storage(leecher).read_at(tl, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data);
    // Only what was missing came from the seeder (pieces 3 and 5 and the unheld half).
    const std::uint64_t missing = static_cast<std::uint64_t>(tt.meta.total_length) -
                                  static_cast<std::uint64_t>(std::int64_t{held - 1} * tt.meta.piece_length +
                                                             tt.meta.piece_size(piece_index{n - 1}));
    CHECK(s.stats(tl)->downloaded >= missing);
    CHECK(s.stats(tl)->downloaded <= missing + 4 * 16 * KiB);
  }

  SECTION("from a magnet: the check starts once the metadata arrives") {
    const auto tl = *s.add_magnet(tt.meta.info_hash, "", net.now(), {.check = true});
    REQUIRE(tl == expected);
    s.add_peer(tl, net.endpoint(seeder), net.now());
    CHECK_FALSE(s.stats(tl)->checking);  // nothing to check before the metadata
    REQUIRE(net.run_until([&] { return s.stats(tl)->finished; }, time_point{} + 2min));
    CHECK(net.storage(leecher).read_at(tl, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data);
    CHECK(s.stats(tl)->downloaded < static_cast<std::uint64_t>(tt.meta.total_length) / 2 + 4 * 64 * KiB);
  }
}

TEST_CASE("[storage] recheck_torrent: pieces put in the store from outside become had; peers hear of them", "[storage]") {
  const auto tt = make_test_torrent(1 * MiB + 1000, 64 * KiB, 92);
  const std::uint32_t n = tt.meta.piece_count();
  swarm net(10, link_config{.latency = 10ms});
  node_config cfg;
  cfg.digest_reads = GENERATE(false, true);
  const auto a = net.add_node(cfg);
  const auto b = net.add_node();
  session& s = net.at(a);
  const auto ta = *s.add_torrent(tt.meta, {}, net.now());
  const auto tb = *net.at(b).add_torrent(tt.meta, {}, net.now());
  s.add_peer(ta, net.endpoint(b), net.now());  // b has nothing either: nothing moves
  REQUIRE(net.run_until([&] { return net.at(b).peers(tb).size() == 1; }, time_point{} + 1min));
  CHECK_FALSE(s.recheck_torrent(torrent_id{99}, net.now()));

  auto found = [&] {
    auto out = verified_pieces(net, a);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto rechecks = [&] {
    std::vector<std::uint32_t> out;
    for (const auto& e : net.events(a))
      if (auto* c = std::get_if<storage_checked_event>(&e); c && c->recheck) out.push_back(c->held);
    return out;
  };
  // Pieces 2 and 4 whole, piece 6 altered.
  for (std::uint32_t p : {2u, 4u, 6u}) {
    byte_buffer bytes(piece_bytes(tt, p).begin(), piece_bytes(tt, p).end());
    if (p == 6) bytes[3] ^= 1;
    net.storage(a).write_at(ta, piece_start(tt, p), bytes);
  }
  REQUIRE(s.recheck_torrent(ta, net.now()));
  CHECK(s.stats(ta)->checking);
  // Asked again while it runs: a second pass follows.
  REQUIRE(s.recheck_torrent(ta, net.now()));
  REQUIRE(net.run_until([&] { return rechecks().size() == 2; }, net.now() + 1min));
  CHECK(rechecks() == std::vector<std::uint32_t>{2, 0});
  CHECK(found() == std::vector<std::uint32_t>{2, 4});
  CHECK(s.have_pieces(ta)->count() == 2);
  // b was told (have messages): it sees a's pieces.
  net.run_until([] { return false; }, net.now() + 2s);
  CHECK(net.at(b).peers(tb).front().pieces == 2);

  // Everything: the rest is found, the torrent is finished, and only the new pieces are
  // reported; pieces had are not read again.
  net.storage(a).write_at(ta, 0, tt.data);
  REQUIRE(s.recheck_torrent(ta, net.now()));
  REQUIRE(net.run_until([&] { return rechecks().size() == 3; }, net.now() + 1min));
  CHECK(rechecks().back() == n - 2);
  CHECK(found().size() == n);
  CHECK(s.stats(ta)->finished);
  bool finished_event = false;
  for (const auto& e : net.events(a)) finished_event |= std::holds_alternative<torrent_finished_event>(e);
  CHECK(finished_event);
  // b downloads it from a.
  REQUIRE(net.run_until([&] { return net.at(b).stats(tb)->finished; }, net.now() + 1min));
}

namespace {

// The most pieces the leecher had in progress (requested or partly received) at once.
std::uint32_t most_pieces_in_progress(std::uint64_t max_partial_bytes, std::size_t seeders) {
  const auto tt = make_test_torrent(48 * MiB, 2 * MiB, 123);
  swarm net(17, link_config{.latency = 30ms});
  node_config cfg;
  cfg.settings.max_partial_bytes = max_partial_bytes;
  cfg.settings.stream_piece_bytes = 0;  // held whole (streamed pieces: streamed.test.cpp)
  const auto leecher = net.add_node(cfg);
  const auto tl = *net.at(leecher).add_torrent(tt.meta, {}, net.now());
  for (std::size_t i = 0; i < seeders; ++i) {
    node_config seed_cfg;
    seed_cfg.upload_rate = 2.0 * MiB;
    const auto s = net.add_node(seed_cfg);
    const auto ts = *net.at(s).add_torrent(tt.meta, {.seed = true}, net.now());
    net.storage(s).write_at(ts, 0, tt.data);
    net.at(leecher).add_peer(tl, net.endpoint(s), net.now());
  }
  std::uint32_t most = 0;
  session& s = net.at(leecher);
  const bool done = net.run_until([&] {
    std::uint32_t n = 0;
    for (auto st : s.piece_states(tl)) n += st == 1;
    most = std::max(most, n);
    return s.stats(tl)->finished;
  }, time_point{} + 10min);
  CHECK(done);
  CHECK(net.storage(leecher).read_at(tl, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data);
  return most;
}

}  // namespace

TEST_CASE("[storage] pieces in progress stay within max_partial_bytes (a piece is held whole until verified)", "[storage]") {
  const std::size_t seeders = 6;
  const auto bounded = most_pieces_in_progress(8 * MiB, seeders);
  // 4 pieces of 2 MiB, plus at most one started for a peer that had none of them to work on.
  CHECK(bounded <= 4 + seeders);
  const auto unbounded = most_pieces_in_progress(0, seeders);
  INFO("in progress at most: " << bounded << " with the limit, " << unbounded << " without");
  CHECK(unbounded > bounded);
}

TEST_CASE("[storage] removing a torrent whose writes are pending does not hold back the others", "[storage]") {
  const auto first = make_test_torrent(12 * MiB, 256 * KiB, 301);
  const auto second = make_test_torrent(4 * MiB, 256 * KiB, 302);
  swarm net(23, link_config{.latency = 5ms});
  const auto seeder = net.add_node();
  node_config slow;
  slow.write_rate = 1.0 * MiB;
  slow.settings.max_pending_write_bytes = 2 * MiB;
  const auto leecher = net.add_node(slow);
  for (const auto* tt : {&first, &second}) {
    const auto ts = *net.at(seeder).add_torrent(tt->meta, {.seed = true}, net.now());
    net.storage(seeder).write_at(ts, 0, tt->data);
  }
  session& s = net.at(leecher);
  const auto t1 = *s.add_torrent(first.meta, {}, net.now());
  s.add_peer(t1, net.endpoint(seeder), net.now());
  // The store falls behind: the first torrent's writes are pending when it is removed.
  REQUIRE(net.run_until([&] { return net.max_unwritten(leecher) >= 2 * MiB; }, time_point{} + 1min));
  s.remove_torrent(t1, net.now());
  const auto t2 = *s.add_torrent(second.meta, {}, net.now());
  s.add_peer(t2, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return s.stats(t2)->finished; }, net.now() + 2min));
  CHECK(net.storage(leecher).read_at(t2, 0, static_cast<std::uint32_t>(second.data.size())) == second.data);
}

TEST_CASE("[storage] recheck of a live torrent: content the host wrote becomes had, connections stay", "[storage]") {
  // WebTorrent's torrent.load(): the app has the content of a torrent it added; the host
  // writes it into the store and the engine hashes what it lacks, without the torrent
  // leaving (trackers would see it stop and start again, peers would be dropped).
  const auto tt = make_test_torrent(2 * MiB + 999, 64 * KiB, 92);
  const std::uint32_t n = tt.meta.piece_count();
  swarm net(10, link_config{.latency = 10ms});
  node_config cfg;
  cfg.digest_reads = GENERATE(false, true);
  const auto loader = net.add_node(cfg);
  const auto leecher = net.add_node();
  session& s = net.at(loader);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  const auto tl = *net.at(leecher).add_torrent(tt.meta, {}, net.now());
  net.at(leecher).add_peer(tl, net.endpoint(loader), net.now());
  REQUIRE(net.run_until([&] { return s.peers(t).size() == 1; }, time_point{} + 10s));
  CHECK_FALSE(s.recheck_torrent(torrent_id{99}, net.now()));

  // First every piece but piece 7, which is altered: it is not had.
  for (std::uint32_t p = 0; p < n; ++p) {
    byte_buffer bytes(piece_bytes(tt, p).begin(), piece_bytes(tt, p).end());
    if (p == 7) bytes[3] ^= 1;
    net.storage(loader).write_at(t, piece_start(tt, p), bytes);
  }
  REQUIRE(s.recheck_torrent(t, net.now()));
  CHECK(s.stats(t)->checking);
  REQUIRE(net.run_until([&] { return !s.stats(t)->checking; }, net.now() + 1min));
  auto have = *s.have_pieces(t);
  CHECK_FALSE(have.test(7));
  CHECK(have.count() == n - 1);
  CHECK_FALSE(s.stats(t)->finished);

  // Then piece 7 right: a second recheck reads only it back, and the torrent is a seed.
  net.storage(loader).write_at(t, piece_start(tt, 7), piece_bytes(tt, 7));
  REQUIRE(s.recheck_torrent(t, net.now()));
  REQUIRE(net.run_until([&] { return !s.stats(t)->checking; }, net.now() + 1min));
  std::vector<std::uint32_t> held;
  for (const auto& e : net.events(loader))
    if (auto* c = std::get_if<storage_checked_event>(&e)) held.push_back(c->held);
  CHECK(held == std::vector<std::uint32_t>{n - 1, 1});  // the pieces each pass found
  CHECK(s.stats(t)->finished);

  // The peer connected before the recheck is still there and downloads it all.
  REQUIRE(net.run_until([&] { return net.at(leecher).stats(tl)->finished; }, net.now() + 2min));
  CHECK(net.storage(leecher).read_at(tl, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data);
  std::size_t disconnects = 0;
  for (const auto& e : net.events(loader))
    if (std::holds_alternative<peer_disconnected_event>(e)) ++disconnects;
  CHECK(disconnects == 0);
  CHECK(s.peers(t).size() == 1);
}

namespace {

byte_buffer all_set_bits(std::uint32_t n) {
  byte_buffer bits((n + 7) / 8, 0xff);
  if (n % 8) bits.back() = static_cast<std::uint8_t>(0xff << (8 - n % 8));
  return bits;
}

}  // namespace

TEST_CASE("[storage] trusted pieces (a bitfield, skipVerify) are had at once, and hashed before a byte of them leaves", "[storage]") {
  const auto tt = make_test_torrent(2 * MiB + 1000, 64 * KiB, 93);
  const std::uint32_t n = tt.meta.piece_count();
  swarm net(11, link_config{.latency = 10ms});
  node_config cfg;
  cfg.digest_reads = GENERATE(false, true);
  const auto a = net.add_node(cfg);
  session& s = net.at(a);
  const torrent_id expected{1};

  SECTION("a bitfield over a whole store: one piece hashed (WebTorrent's spot check), finished, uploads exact") {
    net.storage(a).write_at(expected, 0, tt.data);
    const auto ta = *s.add_torrent(tt.meta, {.trusted_bits = all_set_bits(n)}, net.now());
    CHECK(s.stats(ta)->checking);  // the spot check holds requests back
    REQUIRE(net.run_until([&] { return !s.stats(ta)->checking; }, time_point{} + 1min));
    CHECK(verified_pieces(net, a) == std::vector<std::uint32_t>{1});  // the file's second piece
    CHECK(s.stats(ta)->finished);
    const auto b = net.add_node();
    const auto tb = *net.at(b).add_torrent(tt.meta, {}, net.now());
    net.at(b).add_peer(tb, net.endpoint(a), net.now());
    REQUIRE(net.run_until([&] { return net.at(b).stats(tb)->finished; }, net.now() + 2min));
    CHECK(net.storage(b).read_at(tb, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data);
    CHECK(count_events<hash_failed_event>(net, a) == 0);
  }

  SECTION("a bitfield over an empty store: the spot check fails, the file's trusted pieces are hashed, none is had") {
    const auto ta = *s.add_torrent(tt.meta, {.trusted_bits = all_set_bits(n)}, net.now());
    REQUIRE(net.run_until([&] { return !s.stats(ta)->checking; }, time_point{} + 1min));
    CHECK(verified_pieces(net, a).empty());
    CHECK(s.have_pieces(ta)->none());
    CHECK_FALSE(s.stats(ta)->finished);
    CHECK(count_events<hash_failed_event>(net, a) == 0);  // a startup check reports no failures
  }

  SECTION("a bitfield of the wrong size is ignored: the resume check reads every piece") {
    net.storage(a).write_at(expected, 0, tt.data);
    const auto ta = *s.add_torrent(tt.meta, {.check = true, .trusted_bits = byte_buffer(2, 0xff)}, net.now());
    REQUIRE(net.run_until([&] { return !s.stats(ta)->checking; }, time_point{} + 1min));
    CHECK(verified_pieces(net, a).size() == n);  // each piece found, as WebTorrent's 'verified'
    CHECK(s.stats(ta)->finished);
  }

  SECTION("a partial bitfield: only its pieces are had; the rest is downloaded") {
    net.storage(a).write_at(expected, 0, tt.data);
    byte_buffer bits(all_set_bits(n).size(), 0);
    bits[1] = 0xff;  // pieces 8..15
    const auto ta = *s.add_torrent(tt.meta, {.trusted_bits = bits}, net.now());
    REQUIRE(net.run_until([&] { return !s.stats(ta)->checking; }, time_point{} + 1min));
    CHECK(verified_pieces(net, a) == std::vector<std::uint32_t>{9});
    CHECK(s.have_pieces(ta)->count() == 8);
    CHECK_FALSE(s.stats(ta)->finished);
  }

  SECTION("skipVerify over a store with a bad piece and a missing half: finished at once; the bad bytes never leave") {
    for (std::uint32_t p = 0; p < n / 2; ++p) {
      byte_buffer bytes(piece_bytes(tt, p).begin(), piece_bytes(tt, p).end());
      if (p == 2) bytes[5] ^= 1;
      net.storage(a).write_at(expected, piece_start(tt, p), bytes);
    }
    const auto ta = *s.add_torrent(tt.meta, {.trust_all = true}, net.now());
    CHECK(s.stats(ta)->finished);
    CHECK_FALSE(s.stats(ta)->checking);
    CHECK(s.have_pieces(ta)->all());
    // A reader of the bad piece: it is hashed, dropped, fetched from a seeder, then read.
    const auto seeder = net.add_node();
    const auto ts = *net.at(seeder).add_torrent(tt.meta, {.seed = true}, net.now());
    net.storage(seeder).write_at(ts, 0, tt.data);
    const std::uint64_t read = s.read(ta, piece_start(tt, 2), 1000, net.now());
    s.add_peer(ta, net.endpoint(seeder), net.now());
    std::optional<read_completed_event> done;
    REQUIRE(net.run_until([&] {
      for (const auto& e : net.events(a))
        if (auto* r = std::get_if<read_completed_event>(&e); r && r->read == read) done = *r;
      return done.has_value();
    }, net.now() + 1min));
    CHECK(done->ok);
    CHECK(done->data == byte_buffer(piece_bytes(tt, 2).begin(), piece_bytes(tt, 2).begin() + 1000));
    CHECK(count_events<hash_failed_event>(net, a) == 1);
    // A leecher of a: what it gets is exact (a hashes each trusted piece before sending it;
    // the missing half is refused, then fetched from the seeder).
    const auto b = net.add_node();
    const auto tb = *net.at(b).add_torrent(tt.meta, {}, net.now());
    net.at(b).add_peer(tb, net.endpoint(a), net.now());
    REQUIRE(net.run_until([&] { return net.at(b).stats(tb)->finished && s.stats(ta)->finished; }, net.now() + 3min));
    CHECK(net.storage(b).read_at(tb, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data);
    CHECK(net.storage(a).read_at(ta, 0, static_cast<std::uint32_t>(tt.data.size())) == tt.data);
    CHECK(count_events<hash_failed_event>(net, b) == 0);
    CHECK(count_events<peer_banned_event>(net, b) == 0);
  }
}
