#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "blocklist/blocklist.hpp"
#include "blocklist/ip_set.hpp"
#include "host/client.hpp"

using namespace wt;

namespace {

wire::endpoint ip(std::string_view text) {
  auto e = wire::parse_ip_address(text);
  INFO(text);
  REQUIRE(e);
  return *e;
}

ip_set parse_ok(std::string_view text, bool strict = false) {
  auto r = parse_blocklist(text, strict);
  INFO(text);
  if (!r) INFO(r.err().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

// The text whole, one byte at a time, and with a trailing line: the same set.
ip_set parse_three_ways(std::string_view text) {
  ip_set whole = parse_ok(text);
  blocklist_parser bytes;
  for (char c : text) bytes.feed(std::string_view(&c, 1));
  auto each = bytes.finish();
  REQUIRE(each.ok());
  CHECK(each->v4().size() == whole.v4().size());
  CHECK(each->v6().size() == whole.v6().size());
  auto trailing = parse_blocklist(std::string(text) + "\n# the end\n");
  REQUIRE(trailing.ok());
  CHECK(trailing->size() == whole.size());
  return whole;
}

}  // namespace

TEST_CASE("[blocklist] ip_set merges ranges and answers by binary search", "[blocklist]") {
  SECTION("empty") {
    ip_set s;
    CHECK(s.empty());
    CHECK_FALSE(s.contains(ip("1.2.3.4")));
    CHECK_FALSE(s.contains(ip("::1")));
  }
  SECTION("overlapping, adjacent and nested ranges merge; order does not matter") {
    ip_set s({{30, 40}, {10, 20}, {21, 25}, {12, 15}, {100, 100}, {39, 50}}, {});
    REQUIRE(s.v4().size() == 3);
    CHECK(s.v4()[0].first == 10);
    CHECK(s.v4()[0].last == 25);
    CHECK(s.v4()[1].first == 30);
    CHECK(s.v4()[1].last == 50);
    CHECK(s.v4()[2].first == 100);
  }
  SECTION("a reversed range is dropped") {
    ip_set s({{5, 4}}, {});
    CHECK(s.empty());
  }
  SECTION("edges of the address space") {
    ip_set s({{0, 0}, {0xfffffffe, 0xffffffff}}, {{{~0ull, ~0ull - 1}, {~0ull, ~0ull}}});
    CHECK(s.contains(ip("0.0.0.0")));
    CHECK_FALSE(s.contains(ip("0.0.0.1")));
    CHECK(s.contains(ip("255.255.255.255")));
    CHECK(s.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
    CHECK_FALSE(s.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd")));
  }
  SECTION("an IPv4-mapped IPv6 address is looked up as IPv4; ports do not matter") {
    ip_set s = parse_ok("1.2.3.4");
    CHECK(s.contains(ip("::ffff:1.2.3.4")));
    auto with_port = wire::parse_endpoint("1.2.3.4:6881");
    REQUIRE(with_port);
    CHECK(s.contains(*with_port));
    CHECK_FALSE(s.contains(ip("::1.2.3.4")));  // not mapped: an IPv6 address
  }
  SECTION("an IPv6 range reaching into ::ffff:0:0/96 blocks those IPv4 addresses too") {
    ip_set s = parse_ok("::ffbf:1.2.3.4-::ffff:1.2.3.9\n");
    CHECK(s.contains(ip("::ffff:1.2.3.9")));
    CHECK(s.contains(ip("0.0.0.0")));
    CHECK(s.contains(ip("1.2.3.9")));
    CHECK_FALSE(s.contains(ip("1.2.3.10")));
    CHECK(s.contains(ip("::ffbf:1.2.3.5")));
  }
  SECTION("many ranges: every first, last and neighbour") {
    std::vector<ip_set::v4_range> v4;
    for (std::uint32_t i = 0; i < 1000; ++i) v4.push_back({i * 10 + 2, i * 10 + 5});
    ip_set s(v4, {});
    REQUIRE(s.v4().size() == 1000);
    for (std::uint32_t i = 0; i < 1000; ++i) {
      const auto at = [](std::uint32_t a) {
        return wire::make_endpoint_v4({static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                       static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)}, 0);
      };
      CHECK_FALSE(s.contains(at(i * 10 + 1)));
      CHECK(s.contains(at(i * 10 + 2)));
      CHECK(s.contains(at(i * 10 + 5)));
      CHECK_FALSE(s.contains(at(i * 10 + 6)));
    }
  }
}

TEST_CASE("[blocklist] line forms", "[blocklist]") {
  ip_range r;
  SECTION("single addresses") {
    REQUIRE(parse_blocklist_line("1.2.3.4", r) == blocklist_line::entry);
    CHECK(r.first == ip("1.2.3.4"));
    CHECK(r.last == ip("1.2.3.4"));
    REQUIRE(parse_blocklist_line("  2001:db8::1 \r", r) == blocklist_line::entry);
    CHECK(r.first == ip("2001:db8::1"));
  }
  SECTION("ranges, with or without spaces") {
    REQUIRE(parse_blocklist_line("1.2.3.0-1.2.3.255", r) == blocklist_line::entry);
    CHECK(r.last == ip("1.2.3.255"));
    REQUIRE(parse_blocklist_line("1.2.3.0 - 1.2.4.0", r) == blocklist_line::entry);
    CHECK(r.last == ip("1.2.4.0"));
    REQUIRE(parse_blocklist_line("2001:db8::-2001:db8::ffff", r) == blocklist_line::entry);
    CHECK(r.last == ip("2001:db8::ffff"));
  }
  SECTION("CIDR blocks") {
    REQUIRE(parse_blocklist_line("10.1.2.3/8", r) == blocklist_line::entry);
    CHECK(r.first == ip("10.0.0.0"));
    CHECK(r.last == ip("10.255.255.255"));
    REQUIRE(parse_blocklist_line("0.0.0.0/0", r) == blocklist_line::entry);
    CHECK(r.last == ip("255.255.255.255"));
    REQUIRE(parse_blocklist_line("1.2.3.4/32", r) == blocklist_line::entry);
    CHECK(r.first == r.last);
    REQUIRE(parse_blocklist_line("2001:db8::/33", r) == blocklist_line::entry);
    CHECK(r.first == ip("2001:db8::"));
    CHECK(r.last == ip("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"));
  }
  SECTION("the P2P format: a description up to the entry") {
    REQUIRE(parse_blocklist_line("Blah blah description:1.2.3.0-1.2.3.255", r) == blocklist_line::entry);
    CHECK(r.first == ip("1.2.3.0"));
    CHECK(r.last == ip("1.2.3.255"));
    REQUIRE(parse_blocklist_line("a: b :c:5.6.7.8", r) == blocklist_line::entry);
    CHECK(r.first == ip("5.6.7.8"));
    REQUIRE(parse_blocklist_line("some org:2001:db8::1-2001:db8::2", r) == blocklist_line::entry);
    CHECK(r.last == ip("2001:db8::2"));
    REQUIRE(parse_blocklist_line("Bogon:000.000.000.000-000.255.255.255", r) == blocklist_line::entry);
    CHECK(r.last == ip("0.255.255.255"));
  }
  SECTION("IPv4-mapped entries are IPv4") {
    REQUIRE(parse_blocklist_line("::ffff:1.2.3.0-::ffff:1.2.3.9", r) == blocklist_line::entry);
    CHECK_FALSE(r.first.v6);
    CHECK(r.last == ip("1.2.3.9"));
  }
  SECTION("blank and comment lines") {
    CHECK(parse_blocklist_line("", r) == blocklist_line::blank);
    CHECK(parse_blocklist_line(" \t\r", r) == blocklist_line::blank);
    CHECK(parse_blocklist_line("# 1.2.3.4", r) == blocklist_line::blank);
    CHECK(parse_blocklist_line("// comment", r) == blocklist_line::blank);
  }
  SECTION("malformed") {
    for (const char* bad : {"1.2.3", "1.2.3.4.5", "1.2.3.256", "1.2.3.4-1.2.3.3", "1.2.3.4-::1", "1.2.3.0/33",
                            "2001:db8::/129", "1.2.3.4/", "/8", "example.com", "1.2.3.4-", "-1.2.3.4", "desc:",
                            "1.2.3.4 5.6.7.8", "1.2.3.4/1/2", "fe80::1%eth0", "1.2.3.0x1", "1.2.3.+4", "1..2.3"}) {
      INFO(bad);
      CHECK(parse_blocklist_line(bad, r) == blocklist_line::malformed);
    }
  }
}

TEST_CASE("[blocklist] parser", "[blocklist]") {
  SECTION("WebTorrent's fixture (P2P format) gives two /24 ranges") {
    ip_set s = parse_three_ways("Blah blah description:1.2.3.0-1.2.3.255\r\nBlah blah different description:5.6.7.0-5.6.7.255\n");
    REQUIRE(s.v4().size() == 2);
    for (const char* in : {"1.2.3.0", "1.2.3.1", "1.2.3.254", "1.2.3.255", "5.6.7.0", "5.6.7.128", "5.6.7.255"})
      CHECK(s.contains(ip(in)));
    for (const char* out : {"1.1.1.1", "2.2.2.2", "1.2.4.0", "1.2.2.255"}) CHECK_FALSE(s.contains(ip(out)));
  }
  SECTION("mixed families, a BOM, no final newline") {
    ip_set s = parse_three_ways("\xEF\xBB\xBF" "1.2.3.4\n::1\n2001:db8::/64\n10.0.0.0/8");
    CHECK(s.v4().size() == 2);
    CHECK(s.v6().size() == 2);
    CHECK(s.contains(ip("2001:db8::abcd")));
    CHECK(s.contains(ip("10.9.9.9")));
  }
  SECTION("lenient: malformed lines are skipped and counted") {
    blocklist_parser p;
    p.feed("header line\n1.2.3.4\n\n# comment\nnot an address\n5.6.7.8\n");
    auto s = p.finish();
    REQUIRE(s.ok());
    CHECK(s->size() == 2);
    CHECK(p.skipped() == 2);
    CHECK(p.first_skipped() == 1);
    CHECK(p.lines() == 6);
  }
  SECTION("strict: the first malformed line is an error naming it") {
    auto r = parse_blocklist("1.2.3.4\n\nbogus entry\n5.6.7.8\n", true);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::blocklist_bad_line);
    CHECK(r.err().position == 9);
    CHECK(r.err().context == "line 3: 'bogus entry'");
  }
  SECTION("a line longer than the limit is malformed, and does not grow memory") {
    blocklist_limits lim;
    lim.max_line_bytes = 16;
    blocklist_parser p(false, lim);
    p.feed("1.2.3.4\n");
    for (int i = 0; i < 1000; ++i) p.feed("xxxxxxxxxx");
    p.feed("\n5.6.7.8\n");
    auto s = p.finish();
    REQUIRE(s.ok());
    CHECK(s->size() == 2);
    CHECK(p.skipped() == 1);
    auto strict = parse_blocklist(std::string(40, ' ') + "1.2.3.4\n", true, lim);
    REQUIRE_FALSE(strict.ok());
    CHECK(strict.err().context == "line 1: longer than 16 bytes");
  }
  SECTION("more entries than the limit is an error") {
    blocklist_limits lim;
    lim.max_ranges = 2;
    CHECK(parse_blocklist("1.1.1.1\n2.2.2.2\n", false, lim).ok());
    auto r = parse_blocklist("1.1.1.1\n2.2.2.2\n3.3.3.3\n", false, lim);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::blocklist_too_large);
  }
}

TEST_CASE("[client] the blocklist: add_peer says blocked (no event), other sources give peer_blocked_event", "[client][blocklist]") {
  client_settings dialing;
  dialing.dial_peers = true;
  client c(dialing);
  auto filter = parse_blocklist("10.0.0.0/24\n");
  REQUIRE(filter);
  c.set_ip_filter(std::move(*filter), time_point{});
  auto t = c.add_magnet("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=10.0.0.9:6881&x.pe=10.0.1.9:6881",
                        time_point{});
  REQUIRE(t);
  CHECK(c.add_peer(*t, *wire::parse_endpoint("10.0.0.7:1"), time_point{}) == client::add_peer_result::blocked);
  CHECK(c.add_peer(*t, *wire::parse_endpoint("10.0.2.7:1"), time_point{}) == client::add_peer_result::added);
  CHECK(c.add_peer(*t, *wire::parse_endpoint("10.0.2.7:1"), time_point{}) == client::add_peer_result::known);
  CHECK(c.add_peer(*t, wire::make_endpoint_v4({10, 0, 2, 8}, 0), time_point{}) == client::add_peer_result::invalid);
  std::vector<std::string> blocked, dialled, found;
  while (auto o = c.poll()) {
    if (auto* conn = std::get_if<client_out::connect>(&*o)) dialled.push_back(wire::to_string(conn->remote));
    if (auto* e = std::get_if<client_event>(&*o))
      if (auto* se = std::get_if<session_event>(e))
        if (auto* pb = std::get_if<peer_blocked_event>(se)) blocked.push_back(wire::to_string(pb->remote));
    if (auto* e = std::get_if<client_event>(&*o))
      if (auto* se = std::get_if<session_event>(e))
        if (auto* pf = std::get_if<peers_found_event>(se))
          for (const auto& a : pf->added) found.push_back(wire::to_string(a));
  }
  CHECK(blocked == std::vector<std::string>{"10.0.0.9:6881"});  // the x.pe; add_peer's was told by its result
  CHECK(found == std::vector<std::string>{"10.0.1.9:6881"});    // the other x.pe; add_peer's likewise
  std::sort(dialled.begin(), dialled.end());
  CHECK(dialled == std::vector<std::string>{"10.0.1.9:6881", "10.0.2.7:1"});
}
