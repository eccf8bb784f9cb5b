// Web seeds (BEP 19) on the simulator: fake HTTP servers answer the session's range
// requests, honestly or in the ways real servers go wrong.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

std::size_t warnings(const swarm& net, std::size_t node, errc code) {
  std::size_t n = 0;
  for (const auto& e : net.events(node))
    if (auto* w = std::get_if<warning_event>(&e); w && w->code == code) ++n;
  return n;
}

node_config uploading(double rate) {
  node_config c;
  c.upload_rate = rate;
  return c;
}

byte_view piece_bytes(const test_torrent& tt, std::uint32_t p) {
  const auto from = static_cast<std::size_t>(std::int64_t{p} * tt.meta.piece_length);
  return byte_view(tt.data).subspan(from, static_cast<std::size_t>(tt.meta.piece_size(piece_index{p})));
}

// A multi-file torrent, with files of odd sizes, one with a non-ASCII name, and the URL
// of each file under http://cdn/pub/ as BEP 19 builds it (written out by hand).
test_torrent make_multi_torrent(std::map<std::string, byte_buffer>& urls) {
  struct spec {
    std::string path, url;
    std::size_t size;
  };
  const std::vector<spec> specs = {
      {"a.bin", "http://cdn/pub/multi/a.bin", 100'001},
      {"sub/\xc3\xa9t\xc3\xa9 \xc3\xbc.bin", "http://cdn/pub/multi/sub/%C3%A9t%C3%A9%20%C3%BC.bin", 33'333},
      {"tiny.txt", "http://cdn/pub/multi/tiny.txt", 7},
      {"z/last.bin", "http://cdn/pub/multi/z/last.bin", 250'000},
  };
  test_torrent tt;
  std::uint64_t state = 99;
  std::vector<byte_buffer> contents;
  for (const auto& s : specs) {
    byte_buffer b(s.size);
    for (auto& x : b) x = static_cast<std::uint8_t>((state = state * 6364136223846793005u + 1442695040888963407u) >> 56);
    contents.push_back(b);
  }
  std::vector<input_file> inputs;
  for (std::size_t i = 0; i < specs.size(); ++i) inputs.push_back({specs[i].path, contents[i]});
  create_options o;
  o.name = "multi";
  o.piece_length = 32 * KiB;
  o.creation_date = 0;
  auto bytes = create_torrent(inputs, o);
  REQUIRE(bytes);
  auto m = parse_metainfo(*bytes);
  REQUIRE(m);
  tt.meta = *m;
  // The torrent's byte stream, in the torrent's file order.
  for (const auto& f : tt.meta.files) {
    std::string path;
    for (const auto& c : f.components) path += (path.empty() ? "" : "/") + c;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].path != path) continue;
      tt.data.insert(tt.data.end(), contents[i].begin(), contents[i].end());
      urls[specs[i].url] = contents[i];
    }
  }
  REQUIRE(tt.data.size() == static_cast<std::size_t>(tt.meta.total_length));
  return tt;
}

// A multi-file torrent with BEP 47 pad files, laid out by hand (create_torrent writes none).
test_torrent make_padded_torrent(std::map<std::string, byte_buffer>& urls) {
  test_torrent tt;
  metainfo& m = tt.meta;
  m.name = "padded";
  m.multi_file = true;
  m.piece_length = 32 * KiB;
  auto add = [&](std::vector<std::string> components, std::int64_t length, bool pad) {
    file_entry f;
    f.components = std::move(components);
    f.length = length;
    f.offset = m.total_length;
    f.pad = pad;
    if (pad) f.attr = "p";
    m.files.push_back(f);
    m.total_length += length;
    byte_buffer bytes(static_cast<std::size_t>(length));
    if (!pad) {
      for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7 + static_cast<std::size_t>(length));
      urls["http://cdn/padded/" + f.components.back()] = bytes;
    }
    tt.data.insert(tt.data.end(), bytes.begin(), bytes.end());
  };
  add({"one.bin"}, 50'000, false);
  add({".pad", "15536"}, 15'536, true);  // to 64 KiB
  add({"two.bin"}, 70'000, false);
  add({".pad", "26832"}, 26'832, true);  // to 160 KiB
  add({"three.bin"}, 9'999, false);
  for (std::int64_t off = 0; off < m.total_length; off += m.piece_length) {
    const auto n = static_cast<std::size_t>(std::min(m.piece_length, m.total_length - off));
    m.piece_hashes.push_back(sha1(byte_view(tt.data).subspan(static_cast<std::size_t>(off), n)));
  }
  m.info_hash = sha1(as_bytes("padded test torrent"));
  return tt;
}

// A player: reads `bytes` from the start, 64 KiB every `every`, moving its reader to each
// read first, as a file stream does.
void play(swarm& net, std::size_t node, torrent_id t, std::uint32_t reader, std::int64_t bytes, duration every) {
  auto& s = net.at(node);
  std::size_t reads = 0;
  for (std::int64_t at = 0; at < bytes; at += 64 * KiB) {
    s.seek_reader(t, reader, at, net.now());
    REQUIRE(s.read(t, at, 64 * KiB, net.now()) != 0);
    ++reads;
    const auto next = net.now() + every;
    REQUIRE(net.run_until([&] { return count_events<read_completed_event>(net, node) == reads; }, net.now() + 1min));
    net.run_until([] { return false; }, next);
  }
}

// The ranges the server was asked for more than once: " offset xN" each.
std::string asked_again(const swarm& net, std::size_t server) {
  std::map<std::int64_t, int> asked;
  for (const auto& [url, offset] : net.web_log(server)) ++asked[offset];
  std::string again;
  for (const auto& [offset, n] : asked)
    if (n > 1) again += " " + std::to_string(offset) + " x" + std::to_string(n);
  return again;
}

}  // namespace

TEST_CASE("[webseed] a web seed alone: single file, byte-exact", "[webseed]") {
  const auto tt = make_test_torrent(3 * MiB + 12345, 64 * KiB, 5, "movie.mp4");
  swarm net(1);
  const bool folder = GENERATE(false, true);
  // A folder URL gets the torrent's name appended.
  const std::string seed_url = folder ? "http://cdn/dir/" : "http://cdn/movie.mp4";
  const auto server = net.add_web_server({{folder ? "http://cdn/dir/movie.mp4" : seed_url, tt.data}}, {.bandwidth = 8.0 * MiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  REQUIRE(s.add_web_seed(t, seed_url, net.now()));
  CHECK_FALSE(s.add_web_seed(t, seed_url, net.now()));  // once
  CHECK_FALSE(s.add_web_seed(t, "ftp://cdn/movie.mp4", net.now()));
  CHECK(warnings(net, leecher, errc::web_seed_bad_url) == 0);  // polled below
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
  CHECK(net.storage(leecher).contents(t).size() == tt.data.size());
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  const auto st = *s.stats(t);
  CHECK(st.web_seed_downloaded == static_cast<std::uint64_t>(tt.meta.total_length));
  CHECK(st.downloaded == st.web_seed_downloaded);
  CHECK(st.web_seeds == 1);
  CHECK(warnings(net, leecher, errc::web_seed_bad_url) == 1);
  CHECK(count_events<hash_failed_event>(net, leecher) == 0);
  const auto seeds = s.web_seeds(t);
  REQUIRE(seeds.size() == 1);
  CHECK(seeds[0].downloaded == st.web_seed_downloaded);
  CHECK(seeds[0].state == web_seed_state::active);
  CHECK(seeds[0].failures == 0);
  CHECK(seeds[0].requests == 0);
  // Requests of up to 1 MiB, the download split over the seed's 4 slots: a few, not one
  // per piece.
  CHECK(net.web_requests(server) <= 6);
  CHECK(net.web_bytes_served(server) == st.web_seed_downloaded);
  // 3 MiB at 8 MiB/s.
  CHECK(net.now() < time_point{} + 5s);
}

TEST_CASE("[webseed] a small file is asked for over the seed's request slots at once, not in one range", "[webseed]") {
  // 600 KB: one 1 MiB range would hold it all, on one connection of a server that may pace
  // each (WebTorrent asks for four pieces at a time).
  const auto tt = make_test_torrent(600'000, 16 * KiB, 6, "small.bin");
  swarm net(8);
  const auto server = net.add_web_server({{"http://cdn/small.bin", tt.data}}, {.bandwidth = 200.0 * KiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.end_web_seed_grace(t, net.now());
  REQUIRE(s.add_web_seed(t, "http://cdn/small.bin", net.now()));
  net.run_until([] { return false; }, net.now() + 100ms);
  CHECK(net.web_requests(server) == 4);  // maxWebConns, each about a quarter
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 1min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  CHECK(net.web_bytes_served(server) == tt.data.size());
}

TEST_CASE("[webseed] a web seed alone: multi-file, odd sizes, non-ASCII names, pad files", "[webseed]") {
  std::map<std::string, byte_buffer> urls;
  const bool padded = GENERATE(false, true);
  const auto tt = padded ? make_padded_torrent(urls) : make_multi_torrent(urls);
  swarm net(2);
  net.add_web_server(urls, {.bandwidth = 2.0 * MiB, .chunk = 5000});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  // A multi-file seed URL without the trailing '/': it is added.
  REQUIRE(s.add_web_seed(t, padded ? "http://cdn" : "http://cdn/pub", net.now()));
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  // Only real files were asked for (a pad's URL would have been a 404 and dropped the seed).
  CHECK(s.stats(t)->web_seed_downloaded == static_cast<std::uint64_t>(tt.meta.total_length - (padded ? 15'536 + 26'832 : 0)));
  CHECK(count_events<warning_event>(net, leecher) == 0);
}

TEST_CASE("[webseed] a server that ignores Range", "[webseed]") {
  const auto tt = make_test_torrent(1 * MiB + 777, 32 * KiB, 8, "f.bin");
  swarm net(3);
  net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.mode = http_mode::ignores_range, .bandwidth = 20.0 * MiB});
  node_config cfg;
  SECTION("a small file: the range is cut from the whole file") {
    const auto leecher = net.add_node(cfg);
    const auto t = *net.at(leecher).add_torrent(tt.meta, {}, net.now());
    net.at(leecher).add_web_seed(t, "http://cdn/f.bin", net.now());
    REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
    CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
    CHECK(warnings(net, leecher, errc::web_seed_ignores_range) == 0);
  }
  SECTION("a large file: the seed is dropped, peers finish the download") {
    cfg.settings.web_seed_limits.max_whole_file = 256 * KiB;
    const auto seeder = net.add_node(uploading(256.0 * KiB));
    add_seed(net, seeder, tt);
    const auto leecher = net.add_node(cfg);
    auto& s = net.at(leecher);
    const auto t = *s.add_torrent(tt.meta, {}, net.now());
    s.set_web_seed_policy(t, web_seed_policy::always, 0, net.now());
    s.add_web_seed(t, "http://cdn/f.bin", net.now());
    s.add_peer(t, net.endpoint(seeder), net.now());
    REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
    CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
    CHECK(warnings(net, leecher, errc::web_seed_ignores_range) == 1);
    REQUIRE(s.web_seeds(t).size() == 1);
    CHECK(s.web_seeds(t)[0].state == web_seed_state::dropped);
    CHECK(s.stats(t)->web_seeds == 0);
  }
}

TEST_CASE("[webseed] bad web seeds beside an honest peer: warned, dropped, download byte-exact", "[webseed]") {
  struct bad_case {
    http_mode mode;
    errc code;
    bool dropped;
  };
  const auto c = GENERATE(bad_case{http_mode::not_found, errc::web_seed_not_found, true},
                          bad_case{http_mode::short_body, errc::web_seed_bad_response, true},
                          bad_case{http_mode::long_body, errc::web_seed_bad_response, true},
                          bad_case{http_mode::wrong_bytes, errc::web_seed_bad_data, true},
                          bad_case{http_mode::stall, errc::web_seed_timeout, false},
                          bad_case{http_mode::drip, errc::web_seed_timeout, false});
  INFO("mode " << static_cast<int>(c.mode));
  const auto tt = make_test_torrent(2 * MiB, 32 * KiB, 9, "f.bin");
  swarm net(4);
  net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.mode = c.mode, .bandwidth = 4.0 * MiB});
  const auto seeder = net.add_node(uploading(128.0 * KiB));
  add_seed(net, seeder, tt);
  node_config cfg;
  cfg.settings.web_seed_timeout = 5s;
  cfg.settings.web_seed_request_bytes = 256 * KiB;  // several requests, so failures repeat
  cfg.settings.host_hashes_pieces = GENERATE(false, true);
  INFO("host hashes pieces: " << cfg.settings.host_hashes_pieces);
  const auto leecher = net.add_node(cfg);
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.set_web_seed_policy(t, web_seed_policy::always, 0, net.now());  // so the bad seed is used
  REQUIRE(s.add_web_seed(t, "http://cdn/f.bin", net.now()));
  s.add_peer(t, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 10min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  CHECK(warnings(net, leecher, c.code) >= 1);
  const auto seeds = s.web_seeds(t);
  REQUIRE(seeds.size() == 1);
  CHECK(seeds[0].failures >= 1);
  CHECK(seeds[0].error == c.code);
  if (c.dropped) CHECK(seeds[0].state == web_seed_state::dropped);
  if (c.mode == http_mode::wrong_bytes) {
    CHECK(count_events<hash_failed_event>(net, leecher) == 2);  // web_seed_max_bad
    CHECK(count_events<peer_banned_event>(net, leecher) == 0);  // the peer is not blamed
  }
  // The honest peer stayed connected throughout.
  CHECK(s.stats(t)->peers == 1);
}

// The padded torrent's files sit in pieces of their own: one.bin 0-1, two.bin 2-4,
// three.bin 4-5 (its first piece ends two.bin). Whether the leecher holds the bytes of each.
bool holds(swarm& net, std::size_t node, torrent_id t, const test_torrent& tt, std::int64_t from, std::int64_t length) {
  const auto have = net.storage(node).contents(t);
  if (static_cast<std::int64_t>(have.size()) < from + length) return false;
  const auto at = static_cast<std::ptrdiff_t>(from), end = static_cast<std::ptrdiff_t>(from + length);
  return std::equal(tt.data.begin() + at, tt.data.begin() + end, have.begin() + at);
}

TEST_CASE("[webseed] a file the server lacks or serves changed: the seed goes on with the others", "[webseed]") {
  std::map<std::string, byte_buffer> urls;
  const auto tt = make_padded_torrent(urls);
  const bool changed = GENERATE(false, true);
  INFO((changed ? "one.bin changed on the server" : "two.bin missing on the server"));
  if (changed)
    for (std::size_t i = 0; i < urls["http://cdn/padded/one.bin"].size(); i += 1000) urls["http://cdn/padded/one.bin"][i] ^= 0x5a;
  else
    urls.erase("http://cdn/padded/two.bin");
  swarm net(5);
  net.add_web_server(urls, {.bandwidth = 1.0 * MiB, .chunk = 5000});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  REQUIRE(s.add_web_seed(t, "http://cdn", net.now()));
  const std::int64_t one = 0, two = 65'536, three = 162'368;
  // What the seed can give: every piece without a byte of the bad file.
  auto good_files_in = [&] {
    if (changed) return holds(net, leecher, t, tt, two, 70'000) && holds(net, leecher, t, tt, three, 9'999);
    return holds(net, leecher, t, tt, one, 50'000) && holds(net, leecher, t, tt, 5 * 32'768, three + 9'999 - 5 * 32'768);
  };
  REQUIRE(net.run_until(good_files_in, time_point{} + 2min));
  const auto seeds = s.web_seeds(t);
  REQUIRE(seeds.size() == 1);
  CHECK(seeds[0].state != web_seed_state::dropped);
  // The bad file is not asked for again (a 404 would warn again, a piece fail again).
  const auto requests = net.web_requests(0);
  net.run_until([] { return false; }, net.now() + 30s);
  CHECK(net.web_requests(0) == requests);
  if (changed) {
    // Two failed pieces tell the file differs; nothing of it is asked again.
    CHECK(warnings(net, leecher, errc::web_seed_bad_data) == 2);
    CHECK(count_events<hash_failed_event>(net, leecher) == 2);
  } else {
    CHECK(warnings(net, leecher, errc::web_seed_not_found) == 1);
  }
  // A peer gives the rest.
  const auto seeder = net.add_node();
  add_seed(net, seeder, tt);
  s.add_peer(t, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 2min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
}

TEST_CASE("[webseed] files deselected after the first ranges went out: those ranges end, the server does not send them", "[webseed]") {
  std::map<std::string, byte_buffer> urls;
  const auto tt = make_multi_torrent(urls);
  swarm net(7);
  const auto server = net.add_web_server(urls, {.bandwidth = 200.0 * KiB, .chunk = 4000});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.end_web_seed_grace(t, net.now());  // no tracker: the host ends it at once
  REQUIRE(s.add_web_seed(t, "http://cdn/pub/", net.now()));
  // The app's 'ready' listener: only z/last.bin (250,000 bytes of 383,341), 50 ms on.
  net.run_until([] { return false; }, net.now() + 50ms);
  REQUIRE(net.web_requests(server) >= 1);
  std::int64_t wanted_from = 0;
  for (std::uint32_t i = 0; i < tt.meta.files.size(); ++i) {
    if (tt.meta.files[i].name() == "last.bin") wanted_from = tt.meta.files[i].offset;
    else s.set_file_priority(t, file_index{i}, 0, net.now());
  }
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 5min));
  const auto have = net.storage(leecher).contents(t);
  const auto at = static_cast<std::ptrdiff_t>(wanted_from);
  CHECK(std::equal(tt.data.begin() + at, tt.data.end(), have.begin() + at));
  // The file, the piece it shares with the others, and what came in the first 50 ms.
  const auto served = net.web_bytes_served(server);
  INFO("served " << served);
  CHECK(served < 250'000 + 32 * KiB + 20 * KiB);
}

TEST_CASE("[webseed] a seed URL that lacks every file is dropped", "[webseed]") {
  std::map<std::string, byte_buffer> urls;
  const auto tt = make_padded_torrent(urls);
  swarm net(6);
  net.add_web_server(urls);
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  REQUIRE(s.add_web_seed(t, "http://cdn/wrong/", net.now()));
  REQUIRE(net.run_until([&] { return s.web_seeds(t)[0].state == web_seed_state::dropped; }, time_point{} + 1min));
  CHECK(warnings(net, leecher, errc::web_seed_not_found) == 3);  // one per file
}

TEST_CASE("[webseed] a stalled seed backs off and is dropped after repeated timeouts", "[webseed]") {
  const auto tt = make_test_torrent(512 * KiB, 32 * KiB, 10, "f.bin");
  swarm net(5);
  // Stalled outright, or dripping a byte a second (which kept the request alive for good).
  const auto mode = GENERATE(http_mode::stall, http_mode::drip);
  INFO("mode " << static_cast<int>(mode));
  net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.mode = mode});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.add_web_seed(t, "http://cdn/f.bin", net.now());
  net.run_until([&] { return s.web_seeds(t)[0].state == web_seed_state::dropped; }, time_point{} + 30min);
  CHECK(s.web_seeds(t)[0].state == web_seed_state::dropped);
  // 5 rounds of timeouts (20 s each) with back-off between them: not hammering the server.
  CHECK(net.now() > time_point{} + 100s);
  CHECK(s.web_seeds(t)[0].failures >= 5);
  CHECK_FALSE(s.stats(t)->finished);
  // The halves that arrived make verified pieces; nothing else was stored.
  const auto have = *s.have_pieces(t);
  const auto stored = net.storage(leecher).contents(t);
  CHECK(have.count() > 0);
  for (std::uint32_t p = 0; p < tt.meta.piece_count(); ++p) {
    const auto bytes = piece_bytes(tt, p);
    const auto from = static_cast<std::size_t>(std::int64_t{p} * tt.meta.piece_length);
    if (have.test(p)) CHECK(std::equal(bytes.begin(), bytes.end(), stored.begin() + static_cast<std::ptrdiff_t>(from)));
    else CHECK((stored.size() <= from || net.storage(leecher).read_at(t, static_cast<std::int64_t>(from), 1) == byte_buffer{0}));
  }
}

TEST_CASE("[webseed] fallback policy: the seed serves what peers lack, and all when they leave", "[webseed]") {
  const auto tt = make_test_torrent(2 * MiB, 32 * KiB, 11, "f.bin");
  const std::uint32_t n = tt.meta.piece_count();
  swarm net(6);
  const auto server = net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.bandwidth = 4.0 * MiB});
  // A peer with the first half of the pieces (found by its resume check).
  const auto half = net.add_node();
  for (std::uint32_t p = 0; p < n / 2; ++p)
    net.storage(half).write_at(torrent_id{1}, std::int64_t{p} * tt.meta.piece_length, piece_bytes(tt, p));
  const auto th = *net.at(half).add_torrent(tt.meta, {.check = true}, net.now());
  REQUIRE(net.run_until([&] { return !net.at(half).stats(th)->checking; }, time_point{} + 1min));
  REQUIRE(net.at(half).stats(th)->have == std::int64_t{n / 2} * tt.meta.piece_length);

  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.add_peer(t, net.endpoint(half), net.now());
  // Peers first: the seed comes once the peer unchokes us.
  REQUIRE(net.run_until([&] { return !s.peers(t).empty() && !s.peers(t)[0].peer_choking; }, time_point{} + 1min));
  REQUIRE(s.add_web_seed(t, "http://cdn/f.bin", net.now()));

  SECTION("peers present") {
    REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
    CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
    const auto st = *s.stats(t);
    const auto second_half = static_cast<std::uint64_t>(tt.meta.total_length) / 2;
    // The seed's bytes are the half the peer lacks (end-game duplicates aside), and the
    // server was asked only for bytes of that half.
    CHECK(st.web_seed_downloaded >= second_half);
    CHECK(st.web_seed_downloaded <= second_half + 4 * 16 * KiB);
    for (const auto& [url, first] : net.web_log(server)) CHECK(first >= static_cast<std::int64_t>(second_half));
    CHECK(s.web_seeds(t)[0].requests == 0);
  }
  SECTION("the peer leaves: the seed serves everything left") {
    REQUIRE(net.run_until([&] { return s.stats(t)->have >= 8 * tt.meta.piece_length; }, time_point{} + 1min));
    net.remove_node(half);
    REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
    CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
    bool asked_first_half = false;
    for (const auto& [url, first] : net.web_log(server)) asked_first_half |= first < tt.meta.total_length / 2;
    CHECK(asked_first_half);
  }
}

TEST_CASE("[webseed] fallback grace: a peer that connects within it gets the torrent's start, not the server", "[webseed]") {
  const auto tt = make_test_torrent(2 * MiB, 32 * KiB, 14, "f.bin");
  swarm net(9);
  const auto server = net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.bandwidth = 8.0 * MiB});
  const auto seeder = net.add_node();
  add_seed(net, seeder, tt);
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  REQUIRE(s.add_web_seed(t, "http://cdn/f.bin", net.now()));
  // The tracker names the peer a second after the torrent was added.
  REQUIRE_FALSE(net.run_until([] { return false; }, net.now() + 1s));
  CHECK(net.web_requests(server) == 0);
  s.add_peer(t, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  // The server only ever helps at the end (end-game duplicates), if at all.
  CHECK(s.stats(t)->web_seed_downloaded <= 4 * 16 * KiB);
}

TEST_CASE("[webseed] always, beside a peer that unchokes us: one piece per request", "[webseed]") {
  const auto tt = make_test_torrent(2 * MiB, 32 * KiB, 16, "f.bin");
  swarm net(11);
  const auto server = net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.bandwidth = 8.0 * MiB});
  const auto seeder = net.add_node(uploading(512.0 * KiB));
  add_seed(net, seeder, tt);
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.set_web_seed_policy(t, web_seed_policy::always, 0, net.now());
  s.add_peer(t, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return !s.peers(t).empty() && !s.peers(t)[0].peer_choking; }, time_point{} + 1min));
  REQUIRE(s.add_web_seed(t, "http://cdn/f.bin", net.now()));
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  REQUIRE(net.web_requests(server) > 0);
  CHECK(net.web_bytes_served(server) <= net.web_requests(server) * static_cast<std::uint64_t>(tt.meta.piece_length));
  // Both sources carried part of it.
  CHECK(s.stats(t)->web_seed_downloaded > 0);
  CHECK(s.stats(t)->web_seed_downloaded < static_cast<std::uint64_t>(tt.meta.total_length));
}

TEST_CASE("[webseed] a byte budget caps what the seed serves while peers can", "[webseed]") {
  const auto tt = make_test_torrent(2 * MiB, 32 * KiB, 12, "f.bin");
  swarm net(7);
  const auto server = net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.bandwidth = 8.0 * MiB});
  const auto seeder = net.add_node(uploading(256.0 * KiB));
  add_seed(net, seeder, tt);
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  const std::uint64_t budget = 300 * KiB;  // not a multiple of the request size
  s.set_web_seed_policy(t, web_seed_policy::always, budget, net.now());
  s.add_web_seed(t, "http://cdn/f.bin", net.now());
  s.add_peer(t, net.endpoint(seeder), net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 5min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  const auto st = *s.stats(t);
  CHECK(st.web_seed_downloaded > 0);
  CHECK(st.web_seed_downloaded <= budget);
  CHECK(net.web_bytes_served(server) <= budget);
  // The rest came from the peer.
  CHECK(st.downloaded - st.web_seed_downloaded >= static_cast<std::uint64_t>(tt.meta.total_length) - budget);
}

TEST_CASE("[webseed] policy off: the seed is never asked; switched on, it serves", "[webseed]") {
  const auto tt = make_test_torrent(1 * MiB, 32 * KiB, 13, "f.bin");
  swarm net(8);
  const auto server = net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.bandwidth = 8.0 * MiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.set_web_seed_policy(t, web_seed_policy::off, 0, net.now());
  REQUIRE(s.add_web_seed(t, "http://cdn/f.bin", net.now()));
  CHECK_FALSE(net.run_until([&] { return finished(net, leecher, t); }, time_point{} + 30s));
  CHECK(net.web_requests(server) == 0);
  s.set_web_seed_policy(t, web_seed_policy::fallback, 0, net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 1min));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
}

TEST_CASE("[webseed] streaming from a web seed fetches under the reader first", "[webseed]") {
  const auto tt = make_test_torrent(8 * MiB, 64 * KiB, 13, "v.webm");
  swarm net(8);
  const auto server = net.add_web_server({{"http://cdn/v.webm", tt.data}}, {.bandwidth = 1.0 * MiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  const std::int64_t at = 6 * MiB;  // a seek to 75%
  s.open_reader(t, at, 512 * KiB, net.now());
  s.add_web_seed(t, "http://cdn/v.webm", net.now());
  REQUIRE(s.read(t, at, 64 * KiB, net.now()) != 0);
  REQUIRE(net.run_until([&] { return count_events<read_completed_event>(net, leecher) == 1; }, time_point{} + 1min));
  // The first ranges asked for were under the reader.
  REQUIRE(!net.web_log(server).empty());
  CHECK(net.web_log(server).front().second == at);
  CHECK(s.stats(t)->have < tt.meta.total_length / 2);
}

TEST_CASE("[webseed] a seek into a range in flight cuts it and asks from the seek point", "[webseed]") {
  const auto tt = make_test_torrent(4 * MiB, 64 * KiB, 15, "v.webm");
  swarm net(10);
  const auto server = net.add_web_server({{"http://cdn/v.webm", tt.data}}, {.bandwidth = 256.0 * KiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.end_web_seed_grace(t, net.now());  // as a host does for a torrent without trackers
  const auto reader = s.open_reader(t, 0, 4 * MiB, net.now());  // a player reading far ahead
  s.add_web_seed(t, "http://cdn/v.webm", net.now());
  // Playing from the start: ranges of 1 MiB cover the file, the seek point included.
  REQUIRE(net.run_until([&] { return s.stats(t)->have >= 256 * KiB; }, time_point{} + 1min));
  const std::int64_t at = 3 * MiB + 64 * KiB;  // a seek to about 75%, inside the last range
  const auto asked = net.web_log(server).size();
  s.seek_reader(t, reader, at, net.now(), 512 * KiB);
  REQUIRE(s.read(t, at, 64 * KiB, net.now()) != 0);
  REQUIRE(net.run_until([&] { return count_events<read_completed_event>(net, leecher) == 1; }, time_point{} + 1min));
  REQUIRE(net.web_log(server).size() > asked);
  CHECK(net.web_log(server)[asked].second == at);
}

TEST_CASE("[webseed] a player moving through its pieces leaves the ranges past them alone", "[webseed]") {
  // The hybrid demo's first tab: a web seed alone, faster than the player reads, so that
  // ranges past the reader's pieces are in flight while each read moves the reader a
  // little. A move that leaves no piece of the reader waiting must not cut them: asked
  // again at once, each would be cut again at the next move, over and over, and a fast
  // server sends each of them whole every time.
  const auto tt = make_test_torrent(8 * MiB, 64 * KiB, 16, "v.webm");
  swarm net(11);
  const auto server = net.add_web_server({{"http://cdn/v.webm", tt.data}}, {.bandwidth = 4.0 * MiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.end_web_seed_grace(t, net.now());
  const auto reader = s.open_reader(t, 0, 1 * MiB, net.now());
  s.add_web_seed(t, "http://cdn/v.webm", net.now());
  // The player at 1 MiB/s for 4 s, while the server sends 4 MiB/s.
  play(net, leecher, t, reader, 4 * MiB, 62500us);
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 1min));
  const std::string again = asked_again(net, server);
  INFO("ranges asked again:" << again << "; " << net.web_requests(server) << " requests, " << net.web_bytes_served(server) << " bytes");
  CHECK(again.empty());
  CHECK(net.web_bytes_served(server) == static_cast<std::uint64_t>(tt.meta.total_length));
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
  s.close_reader(t, reader, net.now());
}

TEST_CASE("[webseed] fallback: a player moving through pieces a peer gives leaves the seed's ranges alone", "[webseed]") {
  // A later tab of the hybrid demo: a slow peer has the first half, where the player reads;
  // the seed fetches the half the peer lacks. Pieces of the reader that only the peer is
  // asked for are no reason to cut the seed's ranges: they would be asked again at once.
  const auto tt = make_test_torrent(8 * MiB, 64 * KiB, 17, "v.webm");
  const std::uint32_t n = tt.meta.piece_count();
  swarm net(12);
  const auto server = net.add_web_server({{"http://cdn/v.webm", tt.data}}, {.bandwidth = 1.0 * MiB});
  const auto half = net.add_node(uploading(512.0 * KiB));
  for (std::uint32_t p = 0; p < n / 2; ++p)
    net.storage(half).write_at(torrent_id{1}, std::int64_t{p} * tt.meta.piece_length, piece_bytes(tt, p));
  const auto th = *net.at(half).add_torrent(tt.meta, {.check = true}, net.now());
  REQUIRE(net.run_until([&] { return !net.at(half).stats(th)->checking; }, time_point{} + 1min));
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.add_peer(t, net.endpoint(half), net.now());
  REQUIRE(net.run_until([&] { return !s.peers(t).empty() && !s.peers(t)[0].peer_choking; }, time_point{} + 1min));
  const auto reader = s.open_reader(t, 0, 2 * MiB, net.now());
  REQUIRE(s.add_web_seed(t, "http://cdn/v.webm", net.now()));
  // The player at 256 KiB/s.
  play(net, leecher, t, reader, 2 * MiB, 250ms);
  s.close_reader(t, reader, net.now());
  REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 2min));
  const std::string again = asked_again(net, server);
  INFO("ranges asked again:" << again << "; " << net.web_requests(server) << " requests, " << net.web_bytes_served(server) << " bytes");
  CHECK(again.empty());
  CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
}

TEST_CASE("[webseed] pause, resume and remove with requests in flight", "[webseed]") {
  const auto tt = make_test_torrent(4 * MiB, 64 * KiB, 14, "f.bin");
  swarm net(9);
  const auto server = net.add_web_server({{"http://cdn/f.bin", tt.data}}, {.bandwidth = 2.0 * MiB});
  const auto leecher = net.add_node();
  auto& s = net.at(leecher);
  const auto t = *s.add_torrent(tt.meta, {}, net.now());
  s.add_web_seed(t, "http://cdn/f.bin", net.now());
  REQUIRE(net.run_until([&] { return s.stats(t)->have >= 1 * MiB; }, time_point{} + 1min));
  REQUIRE(s.web_seeds(t)[0].requests > 0);
  SECTION("pause stops the requests, resume finishes byte-exact") {
    s.pause_torrent(t, net.now());
    CHECK(s.web_seeds(t)[0].requests == 0);
    const auto served = net.web_bytes_served(server);
    net.run_until([] { return false; }, net.now() + 10s);
    CHECK(net.web_bytes_served(server) == served);  // cancelled: nothing more arrived
    s.resume_torrent(t, net.now());
    REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 1min));
    CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
    CHECK(s.web_seeds(t)[0].failures == 0);
    CHECK(s.web_seeds(t)[0].requests == 0);
  }
  SECTION("remove cancels them") {
    const auto served = net.web_bytes_served(server);
    s.remove_torrent(t, net.now());
    net.run_until([] { return false; }, net.now() + 10s);
    CHECK(net.web_bytes_served(server) == served);
  }
  SECTION("removing the seed cancels its requests; added again, it finishes byte-exact") {
    CHECK_FALSE(s.remove_web_seed(t, "http://cdn/other.bin", net.now()));
    REQUIRE(s.remove_web_seed(t, "http://cdn/f.bin", net.now()));
    CHECK(s.web_seeds(t).empty());
    CHECK(s.stats(t)->web_seeds == 0);
    const auto served = net.web_bytes_served(server);
    net.run_until([] { return false; }, net.now() + 10s);
    CHECK(net.web_bytes_served(server) == served);
    CHECK_FALSE(finished(net, leecher, t));
    CHECK_FALSE(s.remove_web_seed(t, "http://cdn/f.bin", net.now()));
    REQUIRE(s.add_web_seed(t, "http://cdn/f.bin", net.now()));
    REQUIRE(net.run_until([&] { return finished(net, leecher, t); }, net.now() + 1min));
    CHECK(std::equal(tt.data.begin(), tt.data.end(), net.storage(leecher).contents(t).begin()));
    CHECK(count_events<hash_failed_event>(net, leecher) == 0);
  }
}
