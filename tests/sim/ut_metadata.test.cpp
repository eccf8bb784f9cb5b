// BEP 9: a leecher that only has the magnet fetches the info dict from peers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

// A multi-file torrent whose info dict is larger than one 16 KiB metadata piece.
test_torrent make_many_files_torrent(std::uint64_t seed) {
  test_torrent t = make_test_torrent(1024 * 1024, 16 * 1024, seed);
  std::vector<std::string> names;
  std::vector<input_file> files;
  const std::size_t count = 400;
  const std::size_t each = t.data.size() / count;
  for (std::size_t i = 0; i < count; ++i)
    names.push_back("folder/a-rather-long-file-name-for-metadata-" + std::to_string(i) + ".bin");
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t end = i + 1 == count ? t.data.size() : (i + 1) * each;
    files.push_back({names[i], byte_view(t.data).subspan(i * each, end - i * each)});
  }
  create_options o;
  o.name = "many";
  o.piece_length = 16 * 1024;
  o.creation_date = 0;
  auto bytes = create_torrent(files, o);
  REQUIRE(bytes);
  auto m = parse_metainfo(*bytes);
  REQUIRE(m);
  t.meta = std::move(m).value();
  return t;
}

bool metadata_done(swarm& net, std::size_t n, torrent_id t) {
  auto st = net.at(n).stats(t);
  return st && st->finished;
}

}  // namespace

TEST_CASE("[ut_metadata] a magnet-only leecher gets the metadata, then the content", "[ut_metadata]") {
  const auto tt = make_many_files_torrent(5);
  REQUIRE(tt.meta.info_bytes.size() > 16 * 1024);  // more than one metadata piece
  link_config link;
  link.latency = 15ms;
  link.max_chunk = 2000;
  swarm net(3, link);
  const auto seeder = net.add_node();
  const auto other_seeder = net.add_node();
  const auto leecher = net.add_node();
  for (auto s : {seeder, other_seeder}) {
    auto t = net.at(s).add_torrent(tt.meta, {.seed = true}, net.now());
    REQUIRE(t);
    net.storage(s).write_at(*t, 0, tt.data);
  }
  auto tl = net.at(leecher).add_magnet(tt.meta.info_hash, "many", net.now());
  REQUIRE(tl);
  CHECK(net.at(leecher).torrent_metainfo(*tl) == nullptr);
  CHECK_FALSE(net.at(leecher).stats(*tl)->has_metadata);
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());
  net.at(leecher).add_peer(*tl, net.endpoint(other_seeder), net.now());

  REQUIRE(net.run_until([&] { return metadata_done(net, leecher, *tl); }, time_point{} + 10min));
  const metainfo* m = net.at(leecher).torrent_metainfo(*tl);
  REQUIRE(m);
  CHECK(m->info_hash == tt.meta.info_hash);
  CHECK(m->info_bytes == tt.meta.info_bytes);
  CHECK(m->files.size() == 400);
  const auto contents = net.storage(leecher).contents(*tl);
  CHECK(std::equal(contents.begin(), contents.end(), tt.data.begin(), tt.data.end()));
  std::size_t metadata_events = 0;
  for (const auto& e : net.events(leecher))
    if (std::holds_alternative<metadata_received_event>(e)) ++metadata_events;
  CHECK(metadata_events == 1);
}

TEST_CASE("[ut_metadata] without peers that have it, a magnet waits without error", "[ut_metadata]") {
  const auto tt = make_test_torrent(64 * 1024, 16 * 1024, 9);
  swarm net(4);
  const auto a = net.add_node();
  const auto b = net.add_node();
  auto ta = net.at(a).add_magnet(tt.meta.info_hash, "x", net.now());
  auto tb = net.at(b).add_magnet(tt.meta.info_hash, "x", net.now());
  REQUIRE(ta);
  REQUIRE(tb);
  net.at(a).add_peer(*ta, net.endpoint(b), net.now());
  net.run_until([] { return false; }, time_point{} + 2min);
  CHECK_FALSE(net.at(a).stats(*ta)->has_metadata);
  CHECK(net.at(a).stats(*ta)->peers == 1);
  for (const auto& e : net.events(a)) CHECK_FALSE(std::holds_alternative<torrent_error_event>(e));
}

TEST_CASE("[ut_metadata] an empty torrent (no pieces): seeded, then fetched from a magnet and done",
          "[ut_metadata]") {
  // create-torrent and WebTorrent make and seed these (an empty file dropped on a page).
  const input_file empty{"empty.txt", {}};
  create_options o;
  o.creation_date = 0;
  const auto bytes = create_torrent(std::span(&empty, 1), o);
  REQUIRE(bytes);
  const auto meta = parse_metainfo(*bytes);
  REQUIRE(meta);
  REQUIRE(meta->piece_count() == 0);
  REQUIRE(meta->total_length == 0);

  swarm net(9);
  const auto seeder = net.add_node();
  const auto leecher = net.add_node();
  const auto ts = net.at(seeder).add_torrent(*meta, {.seed = true}, net.now());
  REQUIRE(ts);
  CHECK(net.at(seeder).stats(*ts)->finished);

  // A leecher given the .torrent has nothing to fetch.
  const auto other = net.add_node();
  const auto to = net.at(other).add_torrent(*meta, {}, net.now());
  REQUIRE(to);
  REQUIRE(net.run_until([&] { return finished(net, other, *to); }, time_point{} + 10s));

  const auto tl = net.at(leecher).add_magnet(meta->info_hash, "", net.now());
  REQUIRE(tl);
  net.at(leecher).add_peer(*tl, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, *tl); }, time_point{} + 1min));
  const metainfo* got = net.at(leecher).torrent_metainfo(*tl);
  REQUIRE(got);
  CHECK(got->info_bytes == meta->info_bytes);
  CHECK(got->total_length == 0);
  CHECK(net.at(leecher).stats(*tl)->have == 0);
}
