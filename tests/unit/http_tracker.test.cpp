#include "tracker/http_tracker.hpp"
#include "tracker/ws_tracker.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "bencode/bencode.hpp"

using namespace wt;
using namespace wt::tracker;
using namespace wt::tracker::http;

namespace {

// The classic example: bytes that mix unreserved characters and ones to escape.
const id20 example_hash = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45,
                           0x67, 0x89, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78, 0x9a};
const std::string example_hash_encoded = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";

id20 filled(std::uint8_t b) {
  id20 id{};
  id.fill(b);
  return id;
}

announce_request sample_request() {
  announce_request r;
  r.info_hash = example_hash;
  r.peer_id = filled('P');
  r.peer_id[0] = 0x00;
  r.peer_id[1] = 0xFF;
  r.port = 6881;
  r.stats = {100, 200, 300};
  r.event = announce_event::started;
  r.numwant = 50;
  r.key = 0x0012abcd;
  return r;
}

std::string peer_id_encoded() { return "%00%FF" + std::string(18, 'P'); }

byte_buffer benc(const bencode::value& v) { return bencode::encode(v); }

std::string compact_v4(std::array<std::uint8_t, 4> ip, std::uint16_t port) {
  byte_buffer b;
  wire::append_compact(wire::make_endpoint_v4(ip, port), b);
  return std::string(as_chars(b));
}

}  // namespace

TEST_CASE("[http_tracker] percent-encoding is byte by byte", "[http_tracker]") {
  CHECK(percent_encode(example_hash) == example_hash_encoded);
  const std::string text = "aZ09-._~ /%?&=";
  CHECK(percent_encode(as_bytes(text)) == "aZ09-._~%20%2F%25%3F%26%3D");
  const byte_buffer bytes = {0x00, 0x7F, 0x80, 0xFF};
  CHECK(percent_encode(bytes) == "%00%7F%80%FF");
}

TEST_CASE("[http_tracker] announce URL", "[http_tracker]") {
  const auto r = sample_request();
  const std::string params = "info_hash=" + example_hash_encoded + "&peer_id=" + peer_id_encoded() +
                             "&port=6881&uploaded=100&downloaded=200&left=300&compact=1"
                             "&event=started&numwant=50&key=0012abcd";
  SECTION("a plain URL gets a query string") {
    CHECK(announce_url("http://t.test/announce", r) == "http://t.test/announce?" + params);
  }
  SECTION("a URL with a query string gets '&'") {
    CHECK(announce_url("http://t.test/announce?passkey=abc", r) ==
          "http://t.test/announce?passkey=abc&" + params);
    CHECK(announce_url("http://t.test/announce?", r) == "http://t.test/announce?" + params);
    CHECK(announce_url("http://t.test/announce?a=1&", r) == "http://t.test/announce?a=1&" + params);
  }
  SECTION("a fragment is dropped") {
    CHECK(announce_url("https://t.test/a#frag", r) == "https://t.test/a?" + params);
  }
  SECTION("the host's parameters (getAnnounceOpts) replace ours or follow, except the fixed ones") {
    auto q = r;
    q.extra = {{"uploaded", "7", true}, {"passkey", "a b/é", false}, {"info_hash", "x", false},
               {"port", "1", true}, {"compact", "0", true}, {"event", "stopped", false}, {"flag", "true", true},
               {"passkey", "last wins", false}};
    CHECK(announce_url("http://t.test/announce", q) ==
          "http://t.test/announce?info_hash=" + example_hash_encoded + "&peer_id=" + peer_id_encoded() +
              "&port=6881&uploaded=7&downloaded=200&left=300&compact=1&event=started&numwant=50&key=0012abcd"
              "&passkey=last%20wins&flag=true");
  }
  SECTION("optional fields") {
    auto q = r;
    q.event = announce_event::none;
    q.numwant.reset();
    q.stats.left.reset();
    q.tracker_id = "id 1";
    q.key = 0xFFFFFFFF;
    CHECK(announce_url("http://t.test/announce", q) ==
          "http://t.test/announce?info_hash=" + example_hash_encoded + "&peer_id=" +
              peer_id_encoded() +
              "&port=6881&uploaded=100&downloaded=200&left=16384&compact=1&key=ffffffff&trackerid=id%201");
    q.event = announce_event::completed;
    CHECK(announce_url("http://t", q).find("&event=completed&") != std::string::npos);
    q.event = announce_event::stopped;
    CHECK(announce_url("http://t", q).find("&event=stopped&") != std::string::npos);
  }
}

TEST_CASE("[http_tracker] scrape URL rule", "[http_tracker]") {
  CHECK(scrape_url("http://example.com/announce") == "http://example.com/scrape");
  CHECK(scrape_url("http://example.com/x/announce") == "http://example.com/x/scrape");
  CHECK(scrape_url("http://example.com/announce.php") == "http://example.com/scrape.php");
  CHECK(scrape_url("http://example.com/announce?x2%0644") == "http://example.com/scrape?x2%0644");
  CHECK(scrape_url("http://example.com/announce?x=2/4") == "http://example.com/scrape?x=2/4");
  CHECK(scrape_url("http://example.com/a") == std::nullopt);
  CHECK(scrape_url("http://example.com/x%064announce") == std::nullopt);
  CHECK(scrape_url("http://example.com/announce/x") == std::nullopt);
  CHECK(scrape_url("http://example.com") == std::nullopt);
  CHECK(scrape_url("http://announce") == std::nullopt);
  CHECK(scrape_url("http://example.com/?announce") == std::nullopt);

  const id20 hashes[] = {example_hash, filled(0x41)};
  CHECK(scrape_request_url("http://example.com/scrape", hashes) ==
        "http://example.com/scrape?info_hash=" + example_hash_encoded + "&info_hash=" +
            std::string(20, 'A'));
  CHECK(scrape_request_url("http://example.com/scrape?k=1", std::span(hashes, 1)) ==
        "http://example.com/scrape?k=1&info_hash=" + example_hash_encoded);
}

TEST_CASE("[http_tracker] announce response", "[http_tracker]") {
  SECTION("compact peers, counts, intervals, tracker id") {
    bencode::dict d;
    d["interval"] = 1800;
    d["min interval"] = 900;
    d["complete"] = 5;
    d["incomplete"] = 7;
    d["tracker id"] = "abc";
    d["peers"] = compact_v4({1, 2, 3, 4}, 6881) + compact_v4({10, 0, 0, 255}, 65535);
    const auto body = benc(d);
    auto r = parse_announce_response(body);
    REQUIRE(r.ok());
    CHECK(r->interval == 1800);
    CHECK(r->min_interval == 900);
    CHECK(r->complete == 5);
    CHECK(r->incomplete == 7);
    CHECK(r->tracker_id == "abc");
    CHECK_FALSE(r->warning.has_value());
    REQUIRE(r->peers.size() == 2);
    CHECK(r->peers[0] == wire::make_endpoint_v4({1, 2, 3, 4}, 6881));
    CHECK(r->peers[1] == wire::make_endpoint_v4({10, 0, 0, 255}, 65535));
  }
  SECTION("peers as a list of dicts") {
    bencode::list peers;
    peers.push_back(bencode::dict{{"ip", "192.168.1.2"}, {"peer id", std::string(20, 'x')}, {"port", 51413}});
    peers.push_back(bencode::dict{{"ip", "2001:db8::1"}, {"port", 6881}});
    peers.push_back(bencode::dict{{"ip", "tracker.example"}, {"port", 6881}});  // a host name: skipped
    peers.push_back(bencode::dict{{"ip", "1.2.3.4"}, {"port", 0}});             // no port: skipped
    peers.push_back(bencode::dict{{"ip", "1.2.3.4"}, {"port", 70000}});
    peers.push_back(bencode::dict{{"port", 1}});
    peers.push_back("not a dict");
    const auto body = benc(bencode::dict{{"interval", 60}, {"peers", peers}});
    auto r = parse_announce_response(body);
    REQUIRE(r.ok());
    REQUIRE(r->peers.size() == 2);
    CHECK(r->peers[0] == wire::make_endpoint_v4({192, 168, 1, 2}, 51413));
    std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
    v6[15] = 1;
    CHECK(r->peers[1] == wire::make_endpoint_v6(v6, 6881));
  }
  SECTION("peers6 (BEP 7) after the IPv4 peers") {
    std::array<std::uint8_t, 16> v6{};
    v6[0] = 0xfe;
    v6[15] = 0x42;
    byte_buffer six;
    wire::append_compact(wire::make_endpoint_v6(v6, 443), six);
    const auto body = benc(bencode::dict{{"interval", 60},
                                           {"peers", compact_v4({9, 9, 9, 9}, 1)},
                                           {"peers6", std::string(as_chars(six))}});
    auto r = parse_announce_response(body);
    REQUIRE(r.ok());
    REQUIRE(r->peers.size() == 2);
    CHECK(r->peers[0] == wire::make_endpoint_v4({9, 9, 9, 9}, 1));
    CHECK(r->peers[1] == wire::make_endpoint_v6(v6, 443));
  }
  SECTION("failure reason wins") {
    const auto body = benc(bencode::dict{{"failure reason", "torrent not registered"}, {"interval", 5}});
    auto r = parse_announce_response(body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::tracker_failure);
    CHECK(r.err().context == "torrent not registered");
  }
  SECTION("a long failure reason is clipped") {
    const auto body = benc(bencode::dict{{"failure reason", std::string(1000, 'f')}});
    limits lim;
    lim.max_text = 10;
    auto r = parse_announce_response(body, lim);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().context == std::string(10, 'f'));
  }
  SECTION("a failure reason's control characters are not passed on") {
    auto r = parse_announce_response(benc(bencode::dict{{"failure reason", "bad\x1b[31m\r\nreason"}}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().context == "bad [31m  reason");
  }
  SECTION("warning message") {
    const auto body = benc(bencode::dict{{"warning message", "slow down"}, {"interval", 60}, {"peers", ""}});
    auto r = parse_announce_response(body);
    REQUIRE(r.ok());
    CHECK(r->warning == "slow down");
    CHECK(r->peers.empty());
  }
  SECTION("nothing but the dict is fine") {
    auto r = parse_announce_response(as_bytes("de"));
    REQUIRE(r.ok());
    CHECK_FALSE(r->interval.has_value());
  }
  SECTION("garbage") {
    for (const std::string body : {"", "<html>502 Bad Gateway</html>", "d8:intervali60e", "le",
                                   "i5e", "d8:intervali60ee trailing"}) {
      INFO(body);
      auto r = parse_announce_response(as_bytes(body));
      CHECK_FALSE(r.ok());
    }
  }
  SECTION("fields of the wrong type or range") {
    const auto check_bad = [](const bencode::dict& d, std::string_view field) {
      auto r = parse_announce_response(benc(d));
      REQUIRE_FALSE(r.ok());
      CHECK(r.err().context == field);
    };
    check_bad({{"interval", "60"}}, "interval");
    check_bad({{"min interval", bencode::list{}}}, "min interval");
    check_bad({{"tracker id", 5}}, "tracker id");
    check_bad({{"peers", 5}}, "peers");
    check_bad({{"peers", "12345"}}, "peers");  // not a multiple of 6
    check_bad({{"peers6", "123456"}}, "peers6");  // not a multiple of 18
    check_bad({{"peers6", bencode::list{}}}, "peers6");
  }
  SECTION("oversize") {
    limits lim;
    lim.max_body = 64;
    const auto body = benc(bencode::dict{{"interval", 60}, {"peers", std::string(60, 'x')}});
    auto r = parse_announce_response(body, lim);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::tracker_message_too_large);
  }
  SECTION("negative counts and intervals read as absent; the peers are kept") {
    const auto body = benc(bencode::dict{{"interval", -1}, {"min interval", -5}, {"complete", -3},
                                         {"incomplete", 2}, {"peers", compact_v4({1, 1, 1, 1}, 1)}});
    auto r = parse_announce_response(body);
    REQUIRE(r.ok());
    CHECK_FALSE(r->interval.has_value());
    CHECK_FALSE(r->min_interval.has_value());
    CHECK_FALSE(r->complete.has_value());
    CHECK(r->incomplete == 2);
    CHECK(r->peers.size() == 1);
  }
  SECTION("more peers than max_peers: the first max_peers are kept") {
    limits lim;
    lim.max_peers = 2;
    std::string three = compact_v4({1, 1, 1, 1}, 1) + compact_v4({1, 1, 1, 2}, 1) + compact_v4({1, 1, 1, 3}, 1);
    auto r = parse_announce_response(benc(bencode::dict{{"peers", three}}), lim);
    REQUIRE(r.ok());
    REQUIRE(r->peers.size() == 2);
    CHECK(r->peers[1] == wire::make_endpoint_v4({1, 1, 1, 2}, 1));
    bencode::list listed(3, bencode::dict{{"ip", "1.1.1.1"}, {"port", 1}});
    r = parse_announce_response(benc(bencode::dict{{"peers", listed}}), lim);
    REQUIRE(r.ok());
    CHECK(r->peers.size() == 2);
  }
  SECTION("nesting beyond the depth limit") {
    const std::string deep = "d5:peers" + std::string(20, 'l') + std::string(20, 'e') + "e";
    auto r = parse_announce_response(as_bytes(deep));
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::bencode_depth_exceeded);
  }
}

TEST_CASE("[http_tracker] scrape response", "[http_tracker]") {
  const id20 other = filled(0x01);
  bencode::dict files;
  files[std::string(as_chars(example_hash))] =
      bencode::dict{{"complete", 3}, {"downloaded", 10}, {"incomplete", 4}, {"name", "x"}};
  files[std::string(as_chars(other))] = bencode::dict{{"complete", 1}};
  files["short key"] = bencode::dict{{"complete", 1}};
  auto r = parse_scrape_response(benc(bencode::dict{{"files", files}}));
  // npm bittorrent-tracker's keys: the info-hash as UTF-8, one code point per byte.
  bencode::dict utf8_keyed;
  utf8_keyed[ws_tracker::to_latin1(byte_view(example_hash))] = bencode::dict{{"complete", 2}};
  auto u = parse_scrape_response(benc(bencode::dict{{"files", utf8_keyed}}));
  REQUIRE(u.ok());
  REQUIRE(u->size() == 1);
  CHECK((*u)[0].info_hash == example_hash);
  CHECK((*u)[0].complete == 2);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  const auto& a = (*r)[0].info_hash == other ? (*r)[1] : (*r)[0];
  const auto& b = (*r)[0].info_hash == other ? (*r)[0] : (*r)[1];
  CHECK(a.info_hash == example_hash);
  CHECK(a.complete == 3);
  CHECK(a.downloaded == 10);
  CHECK(a.incomplete == 4);
  CHECK(b.complete == 1);
  CHECK(b.downloaded == 0);

  auto failed = parse_scrape_response(benc(bencode::dict{{"failure reason", "no scrape here"}}));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.err().code == errc::tracker_failure);
  CHECK(failed.err().context == "no scrape here");
  CHECK_FALSE(parse_scrape_response(as_bytes("de")).ok());
  CHECK_FALSE(parse_scrape_response(benc(bencode::dict{{"files", 1}})).ok());
  bencode::dict bad;
  bad[std::string(as_chars(example_hash))] = bencode::dict{{"complete", "1"}};
  CHECK_FALSE(parse_scrape_response(benc(bencode::dict{{"files", bad}})).ok());
  bencode::dict negative;  // reads as absent: 0
  negative[std::string(as_chars(example_hash))] = bencode::dict{{"complete", -1}, {"incomplete", 3}};
  const auto counted = parse_scrape_response(benc(bencode::dict{{"files", negative}}));
  REQUIRE(counted.ok());
  CHECK(counted->at(0).complete == 0);
  CHECK(counted->at(0).incomplete == 3);
}

TEST_CASE("[http_tracker] IP address text", "[http_tracker]") {
  CHECK(parse_ip_address("0.0.0.0") == wire::make_endpoint_v4({0, 0, 0, 0}, 0));
  CHECK(parse_ip_address("255.1.22.3") == wire::make_endpoint_v4({255, 1, 22, 3}, 0));
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "a.b.c.d",
                          "1.2.3.4 ", "host.example", ":", ":::", "1::2::3", "12345::",
                          "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::g", "1:2:3:4:5:6:7::8",
                          "fe80::1%eth0", "::1.2.3"}) {
    INFO(bad);
    CHECK_FALSE(parse_ip_address(bad).has_value());
  }
  std::array<std::uint8_t, 16> loopback{};
  loopback[15] = 1;
  CHECK(parse_ip_address("::1") == wire::make_endpoint_v6(loopback, 0));
  CHECK(parse_ip_address("0:0:0:0:0:0:0:1") == wire::make_endpoint_v6(loopback, 0));
  CHECK(parse_ip_address("::") == wire::make_endpoint_v6({}, 0));
  std::array<std::uint8_t, 16> mapped{};
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped[12] = 1;
  mapped[13] = 2;
  mapped[14] = 3;
  mapped[15] = 4;
  CHECK(parse_ip_address("::ffff:1.2.3.4") == wire::make_endpoint_v6(mapped, 0));
  CHECK(parse_ip_address("::FFFF:0102:0304") == wire::make_endpoint_v6(mapped, 0));
  std::array<std::uint8_t, 16> full{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd};
  CHECK(parse_ip_address("2001:db8::abcd") == wire::make_endpoint_v6(full, 0));
  CHECK(parse_ip_address("2001:db8:0:0:0:0:0:abcd") == wire::make_endpoint_v6(full, 0));
}
