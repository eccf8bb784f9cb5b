#include "tracker/announce_schedule.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "bencode/bencode.hpp"
#include "outputs.hpp"

using namespace wt;
using namespace wt::tracker;
using namespace std::chrono_literals;
using wt::test::drain;
using wt::test::only;

namespace {

time_point at(duration d) { return time_point{} + d; }

id20 filled(std::uint8_t b) {
  id20 id{};
  id.fill(b);
  return id;
}

const id20 hash = filled(0xAB);
const id20 peer = filled('P');

// The value of one query parameter (still percent-encoded), or nullopt.
std::optional<std::string> param(const std::string& url, const std::string& name) {
  const auto query = url.find('?');
  if (query == std::string::npos) return std::nullopt;
  std::size_t at = query + 1;
  while (at <= url.size()) {
    auto end = url.find('&', at);
    if (end == std::string::npos) end = url.size();
    const std::string pair = url.substr(at, end - at);
    if (pair.starts_with(name + "=")) return pair.substr(name.size() + 1);
    at = end + 1;
  }
  return std::nullopt;
}

std::string base_of(const std::string& url) { return url.substr(0, url.find('?')); }

// The one GET the scheduler asked for.
http_get one_get(const std::vector<output>& out) {
  const auto gets = only<http_get>(out);
  REQUIRE(gets.size() == 1);
  return gets[0];
}

byte_buffer response(std::int64_t interval, std::optional<std::int64_t> min_interval = {},
                     std::string peers = {}) {
  bencode::dict d;
  d["interval"] = interval;
  if (min_interval) d["min interval"] = *min_interval;
  d["complete"] = 2;
  d["incomplete"] = 3;
  d["peers"] = std::move(peers);
  return bencode::encode(d);
}

std::string compact(std::array<std::uint8_t, 4> ip, std::uint16_t port) {
  byte_buffer b;
  wire::append_compact(wire::make_endpoint_v4(ip, port), b);
  return std::string(as_chars(b));
}

torrent_params params(std::vector<std::vector<std::string>> tiers) {
  torrent_params p;
  p.info_hash = hash;
  p.peer_id = peer;
  p.tiers = std::move(tiers);
  p.stats = {1, 2, 3};
  return p;
}

schedule_config config() {
  schedule_config c;
  c.seed = 7;
  c.port = 6881;
  return c;
}

}  // namespace

TEST_CASE("[tracker_schedule] tiers are shuffled from the seed; the first tracker hears 'started'",
          "[tracker_schedule]") {
  const std::vector<std::string> urls = {"http://a.test/announce", "http://b.test/announce",
                                         "udp://c.test:80", "https://d.test/announce"};
  std::set<std::vector<std::string>> orders;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    auto cfg = config();
    cfg.seed = seed;
    announcer a(cfg);
    REQUIRE(a.add_torrent(params({urls, {"http://e.test/announce"}}), at(0s)));
    const auto tiers = a.tiers(hash);
    REQUIRE(tiers.size() == 2);
    CHECK(std::multiset<std::string>(tiers[0].begin(), tiers[0].end()) ==
          std::multiset<std::string>(urls.begin(), urls.end()));
    CHECK(tiers[1] == std::vector<std::string>{"http://e.test/announce"});
    orders.insert(tiers[0]);

    announcer again(cfg);
    again.add_torrent(params({urls, {"http://e.test/announce"}}), at(0s));
    CHECK(again.tiers(hash) == tiers);  // reproducible

    // Each tier announces at once: its first tracker hears "started".
    const auto out = drain(a);
    std::vector<std::string> asked;
    for (const auto& s : only<udp_send>(out)) asked.push_back(s.url);
    for (const auto& get : only<http_get>(out)) {
      asked.push_back(base_of(get.url));
      CHECK(param(get.url, "event") == "started");
      CHECK(param(get.url, "port") == "6881");
      CHECK(param(get.url, "numwant") == "50");
      CHECK(param(get.url, "info_hash") == "%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB");
    }
    CHECK(asked.size() == 2);
    CHECK(std::find(asked.begin(), asked.end(), tiers[0][0]) != asked.end());
    CHECK(std::find(asked.begin(), asked.end(), "http://e.test/announce") != asked.end());
  }
  CHECK(orders.size() > 5);
}

TEST_CASE("[tracker_schedule] URLs it does not speak, duplicates and empty tiers are skipped",
          "[tracker_schedule]") {
  announcer a(config());
  CHECK_FALSE(a.add_torrent(params({{"wss://tracker.test"}, {}, {"ftp://x"}}), at(0s)));
  CHECK(drain(a).empty());
  REQUIRE(a.add_torrent(params({{"wss://tracker.test", "http://a.test/announce"}, {},
                                {"http://a.test/announce", "HTTP://B.test/announce"}}),
                        at(0s)));
  CHECK(a.tiers(hash) == std::vector<std::vector<std::string>>{{"http://a.test/announce"},
                                                               {"HTTP://B.test/announce"}});
  CHECK_FALSE(a.add_torrent(params({{"http://a.test/announce"}}), at(0s)));  // already added
}

// The GET to the tracker `base`, among `gets`.
http_get get_to(const std::vector<http_get>& gets, const std::string& base) {
  const auto it = std::find_if(gets.begin(), gets.end(), [&](const auto& g) { return base_of(g.url) == base; });
  REQUIRE(it != gets.end());
  return *it;
}

TEST_CASE("[tracker_schedule] every tier announces; fallback within a tier; the tracker that "
          "answers moves to the front", "[tracker_schedule]") {
  announcer a(config());
  REQUIRE(a.add_torrent(params({{"http://a.test/announce", "http://b.test/announce"},
                                {"http://c.test/announce"}}),
                        at(0s)));
  const auto tier0 = a.tiers(hash)[0];
  const std::string first = tier0[0];
  const std::string second = tier0[1];
  const std::string c = "http://c.test/announce";

  // Both tiers at once: the first tier's first tracker, and c.
  auto gets = only<http_get>(drain(a));
  REQUIRE(gets.size() == 2);
  auto get = get_to(gets, first);
  const auto to_c = get_to(gets, c);

  // c answers with no peers: that must not end the search (the first tier may know some).
  a.http_response(to_c.request_id, 200, response(1800), at(1s));
  auto out = drain(a);
  CHECK(only<peers_found>(out).empty());
  CHECK(only<announce_result>(out).size() == 1);
  CHECK(only<http_get>(out).empty());

  a.http_failed(get.request_id, "connection refused", at(1s));
  out = drain(a);
  auto warnings = only<tracker_warning>(out);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].url == first);
  CHECK(warnings[0].info_hash == hash);
  CHECK(warnings[0].kind == problem::network);
  CHECK(warnings[0].message == "connection refused");
  get = one_get(out);
  CHECK(base_of(get.url) == second);  // the tier's next tracker, at once
  CHECK(param(get.url, "event") == "started");

  a.http_response(get.request_id, 200, response(1800, {}, compact({1, 2, 3, 4}, 5)), at(3s));
  out = drain(a);
  const auto peers = only<peers_found>(out);
  REQUIRE(peers.size() == 1);
  CHECK(peers[0].url == second);
  CHECK(peers[0].peers == std::vector<wire::endpoint>{wire::make_endpoint_v4({1, 2, 3, 4}, 5)});
  const auto results = only<announce_result>(out);
  REQUIRE(results.size() == 1);
  CHECK(results[0].event == announce_event::started);
  CHECK(results[0].complete == 2);
  CHECK(results[0].incomplete == 3);
  CHECK(results[0].interval == 1800s);
  CHECK(only<http_get>(out).empty());
  CHECK(a.tiers(hash) == std::vector<std::vector<std::string>>{{second, first}, {c}});
  CHECK(a.next_announce(hash) == at(1801s));  // c's tier is due first

  // Each tier re-announces at its own tracker's interval, with no event.
  a.on_timer(at(1800s));
  CHECK(drain(a).empty());
  a.on_timer(at(1801s));
  get = one_get(drain(a));
  CHECK(base_of(get.url) == c);
  CHECK_FALSE(param(get.url, "event").has_value());
  a.on_timer(at(1803s));
  get = one_get(drain(a));
  CHECK(base_of(get.url) == second);
  CHECK_FALSE(param(get.url, "event").has_value());
}

TEST_CASE("[tracker_schedule] intervals, min interval, tracker id", "[tracker_schedule]") {
  announcer a(config());
  REQUIRE(a.add_torrent(params({{"http://t.test/announce?k=1"}}), at(0s)));
  auto get = one_get(drain(a));
  CHECK(param(get.url, "k") == "1");

  SECTION("the interval, raised to the min interval") {
    bencode::dict d{{"interval", 120}, {"min interval", 300}, {"tracker id", "T 1"}};
    a.http_response(get.request_id, 200, bencode::encode(d), at(0s));
    const auto results = only<announce_result>(drain(a));
    REQUIRE(results.size() == 1);
    CHECK(results[0].interval == 300s);
    CHECK(a.next_announce(hash) == at(300s));

    SECTION("announce_now waits for the min interval") {
      a.announce_now(hash, at(100s));
      CHECK(drain(a).empty());
      CHECK(a.next_announce(hash) == at(300s));
      a.on_timer(at(299s));
      CHECK(drain(a).empty());
    }
    a.on_timer(at(300s));
    get = one_get(drain(a));
    CHECK_FALSE(param(get.url, "event").has_value());
    CHECK(param(get.url, "trackerid") == "T%201");

    SECTION("announce_now once the min interval is over") {
      a.http_response(get.request_id, 200, response(1000, 200), at(300s));
      drain(a);
      a.announce_now(hash, at(500s));
      CHECK(only<http_get>(drain(a)).size() == 1);
    }
  }
  SECTION("an interval below the floor is raised to it") {
    a.http_response(get.request_id, 200, response(1), at(0s));
    const auto results = only<announce_result>(drain(a));
    REQUIRE(results.size() == 1);
    CHECK(results[0].interval == 60s);
    CHECK(a.next_announce(hash) == at(60s));
  }
  SECTION("no interval: the default") {
    a.http_response(get.request_id, 200, as_bytes("d5:peers0:e"), at(0s));
    drain(a);
    CHECK(a.next_announce(hash) == at(30min));
  }
  SECTION("stats and numwant come from the caller") {
    a.http_response(get.request_id, 200, response(100), at(0s));
    drain(a);
    CHECK(a.set_stats(hash, {10, 20, 0}));
    CHECK(a.set_numwant(hash, 0));
    a.on_timer(at(100s));
    get = one_get(drain(a));
    CHECK(param(get.url, "uploaded") == "10");
    CHECK(param(get.url, "downloaded") == "20");
    CHECK(param(get.url, "left") == "0");
    CHECK(param(get.url, "numwant") == "0");
    CHECK(a.set_stats(hash, {10, 20, std::nullopt}));
    a.http_response(get.request_id, 200, response(100), at(100s));
    drain(a);
    a.on_timer(at(200s));
    CHECK(param(one_get(drain(a)).url, "left") == "16384");  // unknown (no metadata): a block, as libtorrent's
  }
}

TEST_CASE("[tracker_schedule] 'completed' once per tier, 'stopped' on remove", "[tracker_schedule]") {
  const std::string a_url = "http://a.test/announce";
  const std::string b_url = "http://b.test/announce";
  const std::string c_url = "http://c.test/announce";
  announcer a(config());
  REQUIRE(a.add_torrent(params({{a_url}, {b_url}, {c_url}}), at(0s)));
  auto gets = only<http_get>(drain(a));
  REQUIRE(gets.size() == 3);
  a.http_response(get_to(gets, a_url).request_id, 200, response(1800), at(0s));
  a.http_response(get_to(gets, b_url).request_id, 200, response(1800), at(0s));
  a.http_failed(get_to(gets, c_url).request_id, "down", at(0s));  // backs off 15 s
  drain(a);

  CHECK(a.completed(hash, at(10s)));  // at once, min interval or not (as libtorrent's)
  gets = only<http_get>(drain(a));
  REQUIRE(gets.size() == 2);
  for (const auto& get : gets) {
    CHECK(param(get.url, "event") == "completed");
    a.http_response(get.request_id, 200, response(1800), at(10s));
  }
  const auto results = only<announce_result>(drain(a));
  REQUIRE(results.size() == 2);
  CHECK(results[0].event == announce_event::completed);
  CHECK(results[1].event == announce_event::completed);

  CHECK(a.completed(hash, at(11s)));  // again: nothing more to say to a and b
  CHECK(drain(a).empty());
  // c never acknowledged "started": it hears that first, then "completed".
  a.on_timer(at(15s));
  auto get = one_get(drain(a));
  CHECK(base_of(get.url) == c_url);
  CHECK(param(get.url, "event") == "started");
  a.http_response(get.request_id, 200, response(1800), at(16s));
  get = one_get(drain(a));
  CHECK(param(get.url, "event") == "completed");
  a.http_response(get.request_id, 200, response(1800), at(16s));
  drain(a);

  CHECK(a.next_announce(hash) == at(1810s));
  a.on_timer(at(1810s));
  gets = only<http_get>(drain(a));
  REQUIRE(gets.size() == 2);
  for (const auto& g : gets) {
    CHECK_FALSE(param(g.url, "event").has_value());
    a.http_response(g.request_id, 200, response(1800), at(1810s));
  }
  drain(a);

  CHECK(a.remove_torrent(hash, at(1812s)));
  gets = only<http_get>(drain(a));
  REQUIRE(gets.size() == 3);
  for (const auto& g : gets) {
    CHECK(param(g.url, "event") == "stopped");
    CHECK(param(g.url, "numwant") == "0");
    a.http_response(g.request_id, 200, response(1800), at(1813s));
  }
  CHECK(drain(a).empty());  // answers to "stopped" are not reported
  CHECK_FALSE(a.next_deadline().has_value());
  CHECK_FALSE(a.remove_torrent(hash, at(1813s)));
  CHECK_FALSE(a.completed(hash, at(1813s)));
}

TEST_CASE("[tracker_schedule] 'stopped' only to trackers that acknowledged 'started'",
          "[tracker_schedule]") {
  announcer a(config());
  REQUIRE(a.add_torrent(params({{"http://a.test/announce"}, {"http://b.test/announce"}}), at(0s)));
  const auto gets = only<http_get>(drain(a));
  REQUIRE(gets.size() == 2);
  a.http_response(get_to(gets, "http://a.test/announce").request_id, 200, response(1800), at(0s));
  a.http_failed(get_to(gets, "http://b.test/announce").request_id, "down", at(0s));
  drain(a);
  CHECK(a.remove_torrent(hash, at(1s)));
  const auto get = one_get(drain(a));
  CHECK(base_of(get.url) == "http://a.test/announce");
  CHECK(param(get.url, "event") == "stopped");
}

TEST_CASE("[tracker_schedule] remove cancels the announce in flight; 'stopped' gives up after "
          "stop_timeout", "[tracker_schedule]") {
  announcer a(config());
  REQUIRE(a.add_torrent(params({{"http://a.test/announce"}}), at(0s)));
  auto get = one_get(drain(a));
  a.http_response(get.request_id, 200, response(100), at(0s));
  drain(a);
  a.on_timer(at(100s));
  const auto in_flight = one_get(drain(a));
  REQUIRE(a.remove_torrent(hash, at(101s)));
  get = one_get(drain(a));
  CHECK(param(get.url, "event") == "stopped");
  a.http_response(in_flight.request_id, 200, response(100), at(102s));
  CHECK(drain(a).empty());
  CHECK(a.next_deadline() == at(111s));
  a.on_timer(at(111s));
  CHECK(drain(a).empty());
  CHECK_FALSE(a.next_deadline().has_value());
}

TEST_CASE("[tracker_schedule] back-off doubles up to its cap", "[tracker_schedule]") {
  auto cfg = config();
  cfg.backoff_cap = 100s;
  announcer a(cfg);
  REQUIRE(a.add_torrent(params({{"http://a.test/announce"}}), at(0s)));
  time_point now = at(0s);
  std::vector<std::int64_t> waits;
  for (int i = 0; i < 6; ++i) {
    const auto get = one_get(drain(a));
    CHECK(param(get.url, "event") == "started");
    a.http_failed(get.request_id, "down", now);
    CHECK(only<tracker_warning>(drain(a)).size() == 1);
    const auto next = a.next_deadline();
    REQUIRE(next.has_value());
    waits.push_back(std::chrono::duration_cast<std::chrono::seconds>(*next - now).count());
    a.on_timer(*next - 1ms);
    CHECK(drain(a).empty());
    now = *next;
    a.on_timer(now);
  }
  CHECK(waits == std::vector<std::int64_t>{15, 30, 60, 100, 100, 100});
  // An answer resets it.
  const auto get = one_get(drain(a));
  a.http_response(get.request_id, 200, response(60), now);
  drain(a);
  a.on_timer(now + 60s);
  a.http_failed(one_get(drain(a)).request_id, "down", now + 60s);
  drain(a);
  CHECK(a.next_deadline() == now + 75s);
}

TEST_CASE("[tracker_schedule] failure reasons, warnings, malformed and oversized bodies, timeouts",
          "[tracker_schedule]") {
  announcer a(config());
  REQUIRE(a.add_torrent(params({{"http://a.test/announce"}}), at(0s)));
  const auto get = one_get(drain(a));
  const auto single_warning = [&]() {
    const auto out = drain(a);
    const auto w = only<tracker_warning>(out);
    REQUIRE(w.size() == 1);
    CHECK(only<announce_result>(out).empty());
    CHECK(w[0].url == "http://a.test/announce");
    CHECK(a.next_announce(hash) == at(15s));  // backing off
    return w[0];
  };
  SECTION("failure reason") {
    a.http_response(get.request_id, 200, as_bytes("d14:failure reason9:forbiddene"), at(0s));
    const auto w = single_warning();
    CHECK(w.kind == problem::failure_reason);
    CHECK(w.message == "forbidden");
  }
  SECTION("failure reason with a 4xx status") {
    a.http_response(get.request_id, 403, as_bytes("d14:failure reason9:forbiddene"), at(0s));
    const auto w = single_warning();
    CHECK(w.kind == problem::failure_reason);
    CHECK(w.message == "forbidden");
  }
  SECTION("garbage") {
    a.http_response(get.request_id, 200, as_bytes("<html>"), at(0s));
    CHECK(single_warning().kind == problem::bad_response);
  }
  SECTION("oversize") {
    const std::string big = "d5:peers" + std::to_string(6 << 18) + ":" + std::string(6 << 18, 'x') + "e";
    a.http_response(get.request_id, 200, as_bytes(big), at(0s));
    CHECK(single_warning().kind == problem::bad_response);
  }
  SECTION("timeout; a late answer is ignored") {
    a.on_timer(at(15s) - 1ms);
    CHECK(drain(a).empty());
    a.on_timer(at(15s));
    const auto out = drain(a);
    const auto w = only<tracker_warning>(out);
    REQUIRE(w.size() == 1);
    CHECK(w[0].kind == problem::timeout);
    CHECK(a.next_announce(hash) == at(30s));
    a.http_response(get.request_id, 200, response(100), at(16s));
    CHECK(drain(a).empty());
  }
  SECTION("a warning message does not stop the announce") {
    a.http_response(get.request_id, 200, as_bytes("d8:intervali100e15:warning message4:slowe"), at(0s));
    const auto out = drain(a);
    const auto w = only<tracker_warning>(out);
    REQUIRE(w.size() == 1);
    CHECK(w[0].kind == problem::warning_message);
    CHECK(w[0].message == "slow");
    CHECK(only<announce_result>(out).size() == 1);
    CHECK(a.next_announce(hash) == at(100s));
  }
  SECTION("unknown request ids are ignored") {
    a.http_response(get.request_id + 100, 200, response(100), at(0s));
    a.http_failed(get.request_id + 100, "x", at(0s));
    CHECK(drain(a).empty());
  }
}

TEST_CASE("[tracker_schedule] scrape", "[tracker_schedule]") {
  announcer a(config());
  SECTION("over HTTP") {
    REQUIRE(a.add_torrent(params({{"http://a.test/x/announce.php?k=1"}}), at(0s)));
    drain(a);
    REQUIRE(a.scrape(hash, at(1s)));
    const auto get = one_get(drain(a));
    CHECK(get.url.starts_with("http://a.test/x/scrape.php?k=1&info_hash=%AB"));
    bencode::dict files;
    files[std::string(20, '\xAB')] = bencode::dict{{"complete", 4}, {"downloaded", 9}, {"incomplete", 1}};
    files[std::string(20, 'Z')] = bencode::dict{{"complete", 100}};
    a.http_response(get.request_id, 200, bencode::encode(bencode::dict{{"files", files}}), at(2s));
    const auto results = only<scrape_result>(drain(a));
    REQUIRE(results.size() == 1);
    CHECK(results[0].url == "http://a.test/x/announce.php?k=1");
    CHECK(results[0].entry.info_hash == hash);
    CHECK(results[0].entry.complete == 4);
    CHECK(results[0].entry.downloaded == 9);
    CHECK(results[0].entry.incomplete == 1);
  }
  SECTION("no scrape form") {
    REQUIRE(a.add_torrent(params({{"http://a.test/tracker"}}), at(0s)));
    drain(a);
    CHECK_FALSE(a.scrape(hash, at(1s)));
    const auto w = only<tracker_warning>(drain(a));
    REQUIRE(w.size() == 1);
    CHECK(w[0].kind == problem::no_scrape);
  }
  CHECK_FALSE(a.scrape(filled(0), at(1s)));
}

namespace {

void put32(byte_buffer& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
std::uint32_t get32(const byte_buffer& in, std::size_t at) {
  return (std::uint32_t{in[at]} << 24) | (std::uint32_t{in[at + 1]} << 16) |
         (std::uint32_t{in[at + 2]} << 8) | in[at + 3];
}

udp_send one_send(const std::vector<output>& out) {
  const auto sends = only<udp_send>(out);
  REQUIRE(sends.size() == 1);
  return sends[0];
}

byte_buffer udp_connect_reply(std::uint32_t tid) {
  byte_buffer b;
  put32(b, 0);
  put32(b, tid);
  put32(b, 0x01020304);
  put32(b, 0x05060708);
  return b;
}

byte_buffer udp_announce_reply(std::uint32_t tid, std::uint32_t interval, byte_view peers) {
  byte_buffer b;
  put32(b, 1);
  put32(b, tid);
  put32(b, interval);
  put32(b, 5);  // leechers
  put32(b, 6);  // seeders
  b.insert(b.end(), peers.begin(), peers.end());
  return b;
}

}  // namespace

TEST_CASE("[tracker_schedule] a UDP tracker", "[tracker_schedule]") {
  const std::string url = "udp://t.test:6969/announce";
  announcer a(config());
  REQUIRE(a.add_torrent(params({{url}}), at(0s)));
  auto send = one_send(drain(a));
  CHECK(send.url == url);
  REQUIRE(send.bytes.size() == 16);
  a.udp_received(url, udp_connect_reply(get32(send.bytes, 12) ^ 1), udp::ip_family::v6, at(0s));
  CHECK(drain(a).empty());  // not our transaction
  a.udp_received(url, udp_connect_reply(get32(send.bytes, 12)), udp::ip_family::v6, at(0s));
  send = one_send(drain(a));
  REQUIRE(send.bytes.size() == 98);
  CHECK(get32(send.bytes, 80) == 2);  // started
  CHECK(get32(send.bytes, 92) == 50);  // numwant
  CHECK(send.bytes[96] == 0x1A);  // port 6881
  CHECK(send.bytes[97] == 0xE1);

  std::array<std::uint8_t, 16> v6{};
  v6[0] = 0x20;
  v6[15] = 7;
  byte_buffer peers;
  wire::append_compact(wire::make_endpoint_v6(v6, 4000), peers);
  a.udp_received(url, udp_announce_reply(get32(send.bytes, 12), 900, peers), udp::ip_family::v6, at(1s));
  auto out = drain(a);
  const auto found = only<peers_found>(out);
  REQUIRE(found.size() == 1);
  CHECK(found[0].peers == std::vector<wire::endpoint>{wire::make_endpoint_v6(v6, 4000)});
  const auto results = only<announce_result>(out);
  REQUIRE(results.size() == 1);
  CHECK(results[0].complete == 6);
  CHECK(results[0].incomplete == 5);
  CHECK(a.next_announce(hash) == at(901s));

  // Remove within the connection id's minute: "stopped" goes at once, then the socket closes.
  REQUIRE(a.remove_torrent(hash, at(30s)));
  send = one_send(drain(a));
  REQUIRE(send.bytes.size() == 98);
  CHECK(get32(send.bytes, 80) == 3);  // stopped
  a.udp_received(url, udp_announce_reply(get32(send.bytes, 12), 900, {}), udp::ip_family::v6, at(31s));
  out = drain(a);
  REQUIRE(out.size() == 1);
  CHECK(std::get<udp_close>(out[0]).url == url);
  CHECK_FALSE(a.next_deadline().has_value());
}

// An announcer whose shuffle put `first` at the front of the torrent's single tier `tier`.
announcer with_first(schedule_config cfg, const std::vector<std::string>& tier, const std::string& first) {
  for (cfg.seed = 0;; ++cfg.seed) {
    announcer a(cfg);
    REQUIRE(a.add_torrent(params({tier}), at(0s)));
    if (a.tiers(hash)[0][0] == first) return a;
  }
}

TEST_CASE("[tracker_schedule] a UDP tracker that never answers times out and falls back within "
          "its tier; other tiers are not held up", "[tracker_schedule]") {
  auto cfg = config();
  cfg.udp.retransmit_base = 1s;
  cfg.udp.max_retransmit_exponent = 1;
  const std::string dead = "udp://dead.test:1";
  const std::string b_url = "http://b.test/announce";

  SECTION("another tier") {
    announcer a(cfg);
    REQUIRE(a.add_torrent(params({{dead}, {b_url}}), at(0s)));
    auto out = drain(a);
    const auto connect = one_send(out);
    CHECK(base_of(one_get(out).url) == b_url);  // at once, not after the UDP one
    a.on_timer(at(1s));
    CHECK(one_send(drain(a)).bytes == connect.bytes);  // retransmitted
    a.on_timer(at(3s));
    out = drain(a);
    const auto w = only<tracker_warning>(out);
    REQUIRE(w.size() == 1);
    CHECK(w[0].url == dead);
    CHECK(w[0].kind == problem::timeout);
    CHECK(only<http_get>(out).empty());  // b's tier is already announcing
    CHECK(only<udp_send>(out).empty());  // backing off
  }
  SECTION("the same tier: its next tracker at once") {
    announcer a = with_first(cfg, {dead, b_url}, dead);
    auto out = drain(a);
    CHECK(one_send(out).url == dead);
    CHECK(only<http_get>(out).empty());
    a.on_timer(at(1s));
    drain(a);
    a.on_timer(at(3s));
    out = drain(a);
    REQUIRE(only<tracker_warning>(out).size() == 1);
    CHECK(base_of(one_get(out).url) == b_url);
  }
  SECTION("a socket error also falls back") {
    announcer a = with_first(cfg, {dead, b_url}, dead);
    drain(a);
    a.udp_failed(dead, "ECONNREFUSED", at(0s));
    const auto out = drain(a);
    const auto ws = only<tracker_warning>(out);
    REQUIRE(ws.size() == 1);
    CHECK(ws[0].kind == problem::network);
    CHECK(ws[0].message == "ECONNREFUSED");
    CHECK(base_of(one_get(out).url) == b_url);
  }
  SECTION("an error action is reported as such") {
    announcer b(cfg);
    REQUIRE(b.add_torrent(params({{"udp://t.test:1"}}), at(0s)));
    auto s = one_send(drain(b));
    b.udp_received("udp://t.test:1", udp_connect_reply(get32(s.bytes, 12)), udp::ip_family::v4, at(0s));
    s = one_send(drain(b));
    byte_buffer err;
    put32(err, 3);
    put32(err, get32(s.bytes, 12));
    for (const char c : std::string_view("torrent unknown")) err.push_back(static_cast<std::uint8_t>(c));
    b.udp_received("udp://t.test:1", err, udp::ip_family::v4, at(0s));
    const auto ws = only<tracker_warning>(drain(b));
    REQUIRE(ws.size() == 1);
    CHECK(ws[0].kind == problem::tracker_error);
    CHECK(ws[0].message == "torrent unknown");
  }
}

TEST_CASE("[tracker_schedule] torrents share a UDP tracker's connection", "[tracker_schedule]") {
  const std::string url = "udp://t.test:1";
  announcer a(config());
  REQUIRE(a.add_torrent(params({{url}}), at(0s)));
  auto second = params({{url}});
  second.info_hash = filled(0x02);
  REQUIRE(a.add_torrent(second, at(0s)));
  const auto connect = one_send(drain(a));  // one connect for both
  a.udp_received(url, udp_connect_reply(get32(connect.bytes, 12)), udp::ip_family::v4, at(0s));
  const auto sends = only<udp_send>(drain(a));
  REQUIRE(sends.size() == 2);
  for (const auto& s : sends) {
    a.udp_received(url, udp_announce_reply(get32(s.bytes, 12), 600, {}), udp::ip_family::v4, at(1s));
  }
  CHECK(only<announce_result>(drain(a)).size() == 2);
  REQUIRE(a.remove_torrent(hash, at(2s)));
  const auto stop = one_send(drain(a));
  a.udp_received(url, udp_announce_reply(get32(stop.bytes, 12), 600, {}), udp::ip_family::v4, at(2s));
  CHECK(only<udp_close>(drain(a)).empty());  // still used by the other torrent
}
