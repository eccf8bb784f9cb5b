// Local Service Discovery (BEP 14): the announce parser and builder, and the service's
// timing, cookie and peer reports.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "lsd/lsd.hpp"

using namespace wt;
using namespace std::chrono_literals;

namespace {

lsd::id20 hash_of(std::uint8_t b) {
  lsd::id20 h{};
  h.fill(b);
  return h;
}

std::optional<lsd::announce> parse(std::string_view text, const lsd::limits& lim = {}) {
  return lsd::parse_announce(as_bytes(text), lim);
}

lsd::settings config(std::uint16_t port, std::uint64_t seed) {
  lsd::settings s;
  s.listen_port = port;
  s.seed = seed;
  return s;
}

const std::string ih_a(40, 'a');
const std::string ih_b = "0123456789ABCDEF0123456789abcdef01234567";

// Parsed whole, byte by byte as prefixes (a cut datagram is refused), and with trailing data.
void check_three_ways(const std::string& text) {
  const auto whole = parse(text);
  REQUIRE(whole);
  // Complete once the header block's empty line is.
  std::size_t end = text.find("\r\n\r\n");
  end = end == std::string::npos ? text.find("\n\n") + 2 : end + 4;
  for (std::size_t n = 0; n < end; ++n) CHECK_FALSE(parse(text.substr(0, n)).has_value());
  const auto trailing = parse(text + "garbage \x01\x02 after the empty line");
  REQUIRE(trailing);
  CHECK(trailing->info_hashes == whole->info_hashes);
  CHECK(trailing->port == whole->port);
}

struct drained {
  std::vector<lsd::send> sent;
  std::vector<lsd::peers_found> found;
};
drained drain(lsd::service& s) {
  drained d;
  while (auto o = s.poll()) {
    if (auto* send = std::get_if<lsd::send>(&*o)) d.sent.push_back(std::move(*send));
    else d.found.push_back(std::get<lsd::peers_found>(*o));
  }
  return d;
}

}  // namespace

TEST_CASE("[lsd] an announce as BEP 14 shows it, and as WebTorrent and libtorrent send it", "[lsd]") {
  const std::string bep = "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: " + ih_a +
                          "\r\ncookie: bittorrent-lsd-abc\r\n\r\n\r\n";
  check_three_ways(bep);
  const auto a = parse(bep);
  CHECK(a->port == 6881);
  REQUIRE(a->info_hashes.size() == 1);
  CHECK(a->info_hashes[0] == hash_of(0xaa));
  CHECK(a->cookie == "bittorrent-lsd-abc");

  // Several hashes (mixed case), lower-case header names, no cookie, IPv6 Host, bare LF.
  const std::string several = "bt-search * http/1.1\nhost: [ff15::efc0:988f]:6771\nport:  51413 \ninfohash: " + ih_a +
                              "\nINFOHASH: " + ih_b + "\nInfohash: " + ih_a + "\nX-Other: whatever\n\n";
  check_three_ways(several);
  const auto b = parse(several);
  CHECK(b->port == 51413);
  REQUIRE(b->info_hashes.size() == 2);  // the repeated one once
  CHECK(to_hex(b->info_hashes[1]) == "0123456789abcdef0123456789abcdef01234567");
  CHECK_FALSE(b->cookie.has_value());
}

TEST_CASE("[lsd] malformed announces are refused whole", "[lsd]") {
  const auto with = [](const std::string& headers) { return "BT-SEARCH * HTTP/1.1\r\n" + headers + "\r\n"; };
  const std::string ok = "Port: 6881\r\nInfohash: " + ih_a + "\r\n";
  REQUIRE(parse(with(ok)));
  CHECK_FALSE(parse("M-SEARCH * HTTP/1.1\r\n" + ok + "\r\n"));  // SSDP, not LSD
  CHECK_FALSE(parse("BT-SEARCH * HTTP/1.0\r\n" + ok + "\r\n"));
  CHECK_FALSE(parse(with("Infohash: " + ih_a + "\r\n")));                        // no port
  CHECK_FALSE(parse(with("Port: 6881\r\n")));                                    // no hash
  CHECK_FALSE(parse(with("Port: 0\r\nInfohash: " + ih_a + "\r\n")));
  CHECK_FALSE(parse(with("Port: 65536\r\nInfohash: " + ih_a + "\r\n")));
  CHECK_FALSE(parse(with("Port: 68x1\r\nInfohash: " + ih_a + "\r\n")));
  CHECK_FALSE(parse(with("Port: -1\r\nInfohash: " + ih_a + "\r\n")));
  CHECK_FALSE(parse(with("Port: 6881\r\nPort: 6882\r\nInfohash: " + ih_a + "\r\n")));  // which one?
  CHECK_FALSE(parse(with("Port: 6881\r\nInfohash: " + ih_a.substr(1) + "\r\n")));     // 39 digits
  CHECK_FALSE(parse(with("Port: 6881\r\nInfohash: " + ih_a + "a\r\n")));              // 41
  CHECK_FALSE(parse(with("Port: 6881\r\nInfohash: " + std::string(40, 'g') + "\r\n")));
  CHECK_FALSE(parse(with(ok + "no colon here\r\n")));
  CHECK_FALSE(parse(with(ok + ": no name\r\n")));
  CHECK_FALSE(parse(with(ok + "bad name: x\r\n")));
  CHECK_FALSE(parse(with(ok + "X: a\x01" "b\r\n")));
  CHECK_FALSE(parse(with(ok + "cookie: 1\r\ncookie: 2\r\n")));
  CHECK_FALSE(parse("BT-SEARCH * HTTP/1.1\r\n" + ok));  // no empty line: cut short
  CHECK_FALSE(parse(""));
}

TEST_CASE("[lsd] the parser's bounds: size, lines, hashes, cookie", "[lsd]") {
  lsd::limits lim;
  lim.max_info_hashes = 3;
  lim.max_lines = 8;
  lim.max_cookie = 4;
  lim.max_datagram = 300;
  std::string hashes;
  for (char c : std::string("abc")) hashes += "Infohash: " + std::string(40, c) + "\r\n";
  const std::string head = "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n";
  REQUIRE(parse(head + hashes + "\r\n", lim));
  CHECK_FALSE(parse(head + hashes + "Infohash: " + std::string(40, 'd') + "\r\n\r\n", lim));  // a 4th
  CHECK(parse(head + hashes + "cookie: abcd\r\n\r\n", lim));
  CHECK_FALSE(parse(head + hashes + "cookie: abcde\r\n\r\n", lim));
  CHECK_FALSE(parse(head + hashes + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", lim));  // 9 lines
  CHECK_FALSE(parse(head + hashes + "A: " + std::string(120, 'x') + "\r\n\r\n", lim));  // > 300 bytes
}

TEST_CASE("[lsd] make_announce: what WebTorrent's parser needs (Host then Port first), within 1400 bytes", "[lsd]") {
  const std::vector<lsd::id20> hashes = {hash_of(1), hash_of(2)};
  const auto v4 = lsd::make_announce(false, 6881, hashes, "c00k1e");
  const std::string text(as_chars(v4));
  CHECK(text == std::string("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ") +
                    "0101010101010101010101010101010101010101\r\nInfohash: 0202020202020202020202020202020202020202\r\ncookie: c00k1e\r\n\r\n\r\n");
  const auto v6 = lsd::make_announce(true, 6881, hashes, "c00k1e");
  CHECK(std::string(as_chars(v6)).find("\r\nHost: [ff15::efc0:988f]:6771\r\n") != std::string::npos);
  for (const auto& bytes : {v4, v6}) {  // round trip
    const auto a = lsd::parse_announce(bytes);
    REQUIRE(a);
    CHECK(a->port == 6881);
    CHECK(a->info_hashes == hashes);
    CHECK(a->cookie == "c00k1e");
  }
}

TEST_CASE("[lsd] announces: at once, every interval, never twice a minute, batched within 1400 bytes", "[lsd]") {
  lsd::service s(config(6881, 1));
  time_point now{10s};
  s.announce(hash_of(1), now);
  CHECK(*s.next_deadline() == now);
  s.on_timer(now);
  auto d = drain(s);
  REQUIRE(d.sent.size() == 2);  // IPv4 and IPv6 groups
  CHECK_FALSE(d.sent[0].v6);
  CHECK(d.sent[1].v6);
  CHECK(lsd::parse_announce(d.sent[0].bytes)->info_hashes == std::vector<lsd::id20>{hash_of(1)});
  CHECK(*s.next_deadline() == now + 5min);

  // A second torrent 10 s later goes at once; the first waits for its own time.
  now += 10s;
  s.announce(hash_of(2), now);
  s.on_timer(now);
  d = drain(s);
  REQUIRE(d.sent.size() == 2);
  CHECK(lsd::parse_announce(d.sent[0].bytes)->info_hashes == std::vector<lsd::id20>{hash_of(2)});

  // Stopped and started again within the minute: it waits until a minute has passed.
  now += 20s;
  s.stop(hash_of(2));
  CHECK_FALSE(s.announcing(hash_of(2)));
  s.announce(hash_of(2), now);
  s.on_timer(now);
  CHECK(drain(s).sent.empty());
  CHECK(*s.next_deadline() == now + 40s);
  s.on_timer(now + 40s);
  d = drain(s);
  REQUIRE(d.sent.size() == 2);
  // t = 80 s; hash 1 due at 310 s (5 min after it went), hash 2 at 380 s.
  CHECK(*s.next_deadline() == time_point{310s});
  s.on_timer(time_point{309s});
  CHECK(drain(s).sent.empty());
  s.on_timer(time_point{310s});
  d = drain(s);
  REQUIRE(d.sent.size() == 2);
  CHECK(lsd::parse_announce(d.sent[0].bytes)->info_hashes == std::vector<lsd::id20>{hash_of(1)});
  CHECK(*s.next_deadline() == time_point{380s});

  // A torrent due within a minute of another's turn shares its datagram.
  lsd::service pair(config(6881, 9));
  pair.announce(hash_of(1), time_point{});
  pair.on_timer(time_point{});
  pair.announce(hash_of(2), time_point{30s});
  pair.on_timer(time_point{30s});
  CHECK(drain(pair).sent.size() == 4);
  CHECK(*pair.next_deadline() == time_point{300s});
  pair.on_timer(time_point{300s});
  d = drain(pair);
  REQUIRE(d.sent.size() == 2);
  CHECK(lsd::parse_announce(d.sent[0].bytes)->info_hashes == std::vector<lsd::id20>{hash_of(1), hash_of(2)});
  CHECK(*pair.next_deadline() == time_point{600s});

  // 60 torrents at once: a few datagrams, each within 1400 bytes, every hash once.
  auto no_v6 = config(65535, 2);
  no_v6.v6 = false;
  lsd::service many(no_v6);
  for (std::uint8_t i = 0; i < 60; ++i) many.announce(hash_of(static_cast<std::uint8_t>(100 + i)), time_point{});
  many.on_timer(time_point{});
  std::size_t hashes = 0;
  const auto batches = drain(many).sent;
  CHECK(batches.size() == 3);  // 25 hashes fit in one
  for (const auto& sent : batches) {
    CHECK(sent.bytes.size() <= lsd::max_send_size);
    CHECK_FALSE(sent.v6);
    hashes += lsd::parse_announce(sent.bytes)->info_hashes.size();
  }
  CHECK(hashes == 60);

  // Without a listen port there is nothing to announce.
  lsd::service none(lsd::settings{});
  none.announce(hash_of(1), now);
  none.on_timer(now);
  CHECK(drain(none).sent.empty());
  CHECK_FALSE(none.next_deadline());
}

TEST_CASE("[lsd] received: peers for our torrents only, our own cookie ignored, malformed counted, floods dropped", "[lsd]") {
  lsd::service s(config(6881, 3));
  lsd::service other(config(7000, 4));
  CHECK(s.cookie() != other.cookie());
  const time_point now{1s};
  s.announce(hash_of(1), now);
  s.announce(hash_of(2), now);
  s.on_timer(now);
  drain(s);
  other.announce(hash_of(2), now);
  other.announce(hash_of(3), now);
  other.on_timer(now);
  const auto from_other = drain(other).sent;
  REQUIRE_FALSE(from_other.empty());

  const wire::endpoint from = wire::make_endpoint_v4({192, 168, 1, 20}, 6771);
  for (const auto& sent : from_other) s.received(from, sent.bytes, now);
  auto d = drain(s);
  CHECK(d.sent.empty());
  // The other's IPv4 and IPv6 datagrams (same sender here) each name hash 2, ours.
  REQUIRE(d.found.size() == 2);
  CHECK(d.found[0].info_hash == hash_of(2));
  CHECK(d.found[0].peer == wire::make_endpoint_v4({192, 168, 1, 20}, 7000));

  // What we sent comes back through multicast loopback: ignored.
  s.stop(hash_of(1));
  s.announce(hash_of(1), now + 2min);
  s.on_timer(now + 2min);
  for (const auto& sent : drain(s).sent) s.received(from, sent.bytes, now + 2min);
  CHECK(drain(s).found.empty());
  CHECK(s.counters().own >= 1);

  // A stopped torrent's announces are no longer reported; garbage is counted.
  s.stop(hash_of(2));
  for (const auto& sent : from_other) s.received(from, sent.bytes, now + 2min);
  s.received(from, as_bytes("BT-SEARCH * HTTP/1.1\r\n"), now + 2min);
  CHECK(drain(s).found.empty());
  CHECK(s.counters().malformed == 1);

  // A flood: beyond the burst, datagrams are dropped unread until tokens come back.
  auto slow = config(6881, 5);
  slow.max_received_per_second = 10;
  slow.received_burst = 20;
  lsd::service f(slow);
  f.announce(hash_of(2), now);
  f.on_timer(now);
  drain(f);
  for (int i = 0; i < 100; ++i) f.received(from, from_other[0].bytes, now);
  CHECK(drain(f).found.size() == 20);
  CHECK(f.counters().dropped == 80);
  for (int i = 0; i < 100; ++i) f.received(from, from_other[0].bytes, now + 1s);
  CHECK(drain(f).found.size() == 10);
}
