// Torrents of any piece length (BEP 3 asks only for a positive one; create-torrent makes
// pieces of 5 bytes or 20000): pieces smaller than a block, and pieces whose last block is
// short, through peers, web seeds, streamed pieces and reads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

link_config chunked_link() {
  link_config link;
  link.latency = 20ms;
  link.bandwidth = 4.0 * MiB;
  link.max_chunk = 3000;
  link.merge_chunks = true;
  return link;
}

// One seeder, one leecher; the leecher's download is byte-exact and every piece verified once.
void seed_to_leecher(const test_torrent& tt, node_config leecher_cfg, std::uint64_t seed) {
  swarm net(seed, chunked_link());
  const auto seeder = net.add_node();
  const auto leecher = net.add_node(leecher_cfg);
  const auto ts = add_seed(net, seeder, tt);
  auto tl = net.at(leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(tl);
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, *tl); }, time_point{} + 10min));
  CHECK(same_bytes(net.storage(leecher).contents(*tl), tt.data));
  CHECK(count_events<piece_verified_event>(net, leecher) == tt.meta.piece_count());
  CHECK(count_events<hash_failed_event>(net, leecher) == 0);
  CHECK(net.at(leecher).stats(*tl)->verified == static_cast<std::uint64_t>(tt.meta.total_length));
  CHECK(net.at(seeder).stats(ts)->uploaded >= static_cast<std::uint64_t>(tt.meta.total_length));
}

}  // namespace

TEST_CASE("[piece_length] 5-byte pieces: a block per piece, the last one short", "[piece_length]") {
  const auto tt = make_test_torrent(1003, 5, 501, "tiny.bin");
  REQUIRE(tt.meta.piece_count() == 201);
  REQUIRE(tt.meta.piece_size(piece_index{200}) == 3);
  node_config cfg;
  cfg.settings.host_hashes_pieces = GENERATE(false, true);
  seed_to_leecher(tt, cfg, 51);
}

TEST_CASE("[piece_length] 20000-byte pieces: the last block of every piece is short", "[piece_length]") {
  const auto tt = make_test_torrent(1 * MiB + 333, 20000, 502, "odd.bin");
  node_config cfg;
  cfg.settings.host_hashes_pieces = GENERATE(false, true);
  // Streamed pieces too: each 20000-byte piece goes to the store block by block.
  cfg.settings.stream_piece_bytes = GENERATE(std::uint64_t{0}, std::uint64_t{16 * KiB});
  seed_to_leecher(tt, cfg, 52);
}

TEST_CASE("[piece_length] odd pieces from a web seed, and a read across pieces", "[piece_length]") {
  const std::int64_t piece = GENERATE(std::int64_t{5}, std::int64_t{20000}, std::int64_t{1});
  const std::int64_t size = piece == 20000 ? 300 * KiB + 7 : 777;
  const auto tt = make_test_torrent(size, piece, 503, "movie.mp4");
  swarm net(53);
  net.add_web_server({{"http://cdn/movie.mp4", tt.data}}, {.bandwidth = 8.0 * MiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  REQUIRE(s.add_web_seed(t, "http://cdn/movie.mp4", net.now()));
  // A read of bytes across several pieces completes once they are verified.
  const std::int64_t at = size / 3;
  const std::uint32_t length = 100;
  const std::uint64_t read = s.read(t, at, length, net.now());
  REQUIRE(read != 0);
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
  CHECK(same_bytes(net.storage(leecher).contents(t), tt.data));
  CHECK(count_events<hash_failed_event>(net, leecher) == 0);
  net.run_until([] { return false; }, net.now() + 1s);
  bool got = false;
  for (const auto& e : net.events(leecher)) {
    const auto* r = std::get_if<read_completed_event>(&e);
    if (!r || r->read != read) continue;
    got = true;
    CHECK(r->ok);
    CHECK(r->offset == at);
    CHECK(same_bytes(r->data, byte_view(tt.data).subspan(static_cast<std::size_t>(at), length)));
  }
  CHECK(got);
}

TEST_CASE("[piece_length] 5-byte pieces in a swarm of four: leechers trade pieces", "[piece_length]") {
  const auto tt = make_test_torrent(4000, 5, 504, "tiny.bin");
  swarm net(54, chunked_link());
  node_config seed_cfg;
  seed_cfg.upload_rate = 2000;  // slow: the leechers must trade among themselves
  const auto seeder = net.add_node(seed_cfg);
  const auto ts = add_seed(net, seeder, tt);
  std::vector<std::size_t> leechers;
  std::vector<torrent_id> ids;
  for (int i = 0; i < 3; ++i) {
    leechers.push_back(net.add_node());
    ids.push_back(*net.at(leechers.back()).add_torrent(tt.meta, {}, net.now()));
    net.at(leechers.back()).add_peer(ids.back(), net.endpoint(seeder), net.now());
    if (i > 0) net.at(leechers.back()).add_peer(ids.back(), net.endpoint(leechers[0]), net.now());
  }
  REQUIRE(net.run_until([&] {
    for (std::size_t i = 0; i < leechers.size(); ++i)
      if (!finished(net, leechers[i], ids[i])) return false;
    return true;
  }, time_point{} + 30min));
  for (std::size_t i = 0; i < leechers.size(); ++i) CHECK(same_bytes(net.storage(leechers[i]).contents(ids[i]), tt.data));
  // The seeder uploaded less than three copies: the leechers had pieces from each other.
  CHECK(net.at(seeder).stats(ts)->uploaded < 3 * static_cast<std::uint64_t>(tt.meta.total_length));
}
