#include <catch2/catch.hpp>

#include <string>

#include "metainfo/magnet.hpp"

using namespace wt;

namespace {

constexpr const char* sintel_hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
constexpr const char* sintel_b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";

sha1_digest sintel_hash() {
  const auto bytes = from_hex(sintel_hex).value();
  sha1_digest d{};
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return d;
}

bool same(const magnet_link& a, const magnet_link& b) {
  return a.info_hash == b.info_hash && a.info_hash_v2 == b.info_hash_v2 && a.name == b.name &&
         a.trackers == b.trackers && a.web_seeds == b.web_seeds &&
         a.exact_sources == b.exact_sources && a.acceptable_sources == b.acceptable_sources &&
         a.peers == b.peers && a.keywords == b.keywords && a.select_only == b.select_only;
}

magnet_link parse_ok(std::string_view uri) {
  auto r = parse_magnet(uri);
  INFO(uri);
  if (!r) INFO(r.err().message());
  REQUIRE(r.ok());
  return r.value();
}

error parse_err(std::string_view uri, const magnet_limits& lim = {}) {
  auto r = parse_magnet(uri, lim);
  INFO(uri);
  REQUIRE_FALSE(r.ok());
  return r.err();
}

std::string with_hash(std::string_view rest) {
  // Appended in place: GCC 12 warns falsely (-Warray-bounds) on the operator+ chain.
  std::string uri = "magnet:?xt=urn:btih:";
  uri += sintel_hex;
  uri += rest;
  return uri;
}

}  // namespace

TEST_CASE("[magnet] parses hex and base32 info-hashes", "[magnet]") {
  SECTION("lower-case hex") {
    const auto m = parse_ok(with_hash(""));
    REQUIRE(m.info_hash == sintel_hash());
    REQUIRE(m.trackers.empty());
    REQUIRE(m.name.empty());
  }
  SECTION("upper-case hex") {
    std::string uri = "magnet:?xt=urn:btih:C12FE1C06BBA254A9DC9F519B335AA7C1367A88A";
    REQUIRE(parse_ok(uri).info_hash == sintel_hash());
  }
  SECTION("base32, either case") {
    REQUIRE(parse_ok(std::string("magnet:?xt=urn:btih:") + sintel_b32).info_hash ==
            sintel_hash());
    REQUIRE(parse_ok("magnet:?xt=urn:btih:yex6dqdlxisuvhoj6um3gnnkpqjwpkek").info_hash ==
            sintel_hash());
  }
  SECTION("case-insensitive scheme and urn prefix") {
    REQUIRE(parse_ok(std::string("MAGNET:?xt=URN:BTIH:") + sintel_hex).info_hash ==
            sintel_hash());
  }
  SECTION("indexed xt key") {
    REQUIRE(parse_ok(std::string("magnet:?xt.1=urn:btih:") + sintel_hex).info_hash ==
            sintel_hash());
  }
  SECTION("percent-encoded colons in xt") {
    REQUIRE(parse_ok(std::string("magnet:?xt=urn%3Abtih%3A") + sintel_hex).info_hash ==
            sintel_hash());
  }
  SECTION("btmh alone is enough, kept as text") {
    const std::string mh = "1220" + std::string(64, 'a');
    const auto m = parse_ok("magnet:?xt=urn:btmh:" + mh);
    REQUIRE_FALSE(m.info_hash);
    REQUIRE(m.info_hash_v2 == mh);
  }
  SECTION("hybrid: btih and btmh") {
    const std::string mh = "1220" + std::string(64, 'b');
    const auto m = parse_ok(with_hash("&xt=urn:btmh:" + mh));
    REQUIRE(m.info_hash == sintel_hash());
    REQUIRE(m.info_hash_v2 == mh);
  }
  SECTION("other urn kinds are ignored") {
    const auto m = parse_ok(with_hash("&xt=urn:sha1:ABCDEF"));
    REQUIRE(m.info_hash == sintel_hash());
  }
}

TEST_CASE("[magnet] parses every parameter", "[magnet]") {
  SECTION("dn decodes escapes and '+' as a space (like magnet-uri)") {
    REQUIRE(parse_ok(with_hash("&dn=Sintel+%28film%29")).name == "Sintel (film)");
    REQUIRE(parse_ok(with_hash("&dn=caf%C3%A9%20bar")).name == "caf\xC3\xA9 bar");
    // magnet-uri decodes before replacing '+', so "%2B" is a space too.
    REQUIRE(parse_ok(with_hash("&dn=a%2Bb")).name == "a b");
  }
  SECTION("tr, ws, xs, as decode escapes and keep '+'") {
    const auto m = parse_ok(with_hash(
        "&tr=udp%3A%2F%2Ftracker.example%3A1337&tr=wss%3A%2F%2Fa.b%2Fx%2By"
        "&ws=https%3A%2F%2Fseed.example%2Ff&xs=http%3A%2F%2Fx.example%2Ft.torrent"
        "&as=http%3A%2F%2Fa.example%2Fy"));
    REQUIRE(m.trackers == std::vector<std::string>{"udp://tracker.example:1337",
                                                   "wss://a.b/x+y"});
    REQUIRE(m.web_seeds == std::vector<std::string>{"https://seed.example/f"});
    REQUIRE(m.exact_sources == std::vector<std::string>{"http://x.example/t.torrent"});
    REQUIRE(m.acceptable_sources == std::vector<std::string>{"http://a.example/y"});
  }
  SECTION("unencoded values are taken as they are") {
    const auto m = parse_ok(with_hash("&tr=wss://t.example/announce?a=b"));
    REQUIRE(m.trackers == std::vector<std::string>{"wss://t.example/announce?a=b"});
  }
  SECTION("indexed keys and duplicates") {
    const auto m = parse_ok(with_hash("&tr.1=udp://a:1&tr.2=udp://b:2&tr=udp://a:1&tr="));
    REQUIRE(m.trackers == std::vector<std::string>{"udp://a:1", "udp://b:2"});
  }
  SECTION("x.pe peers") {
    const auto m = parse_ok(with_hash("&x.pe=1.2.3.4:6881&x.pe=%5B%3A%3A1%5D:51413&x.pe.1=h:1"));
    REQUIRE(m.peers == std::vector<std::string>{"1.2.3.4:6881", "[::1]:51413", "h:1"});
  }
  SECTION("kt splits on '+' after decoding") {
    REQUIRE(parse_ok(with_hash("&kt=big+buck%20bunny+x%2By")).keywords ==
            std::vector<std::string>{"big", "buck bunny", "x", "y"});
  }
  SECTION("so ranges (BEP 53)") {
    using ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
    REQUIRE(parse_ok(with_hash("&so=0,2,4-6")).select_only == ranges{{0, 0}, {2, 2}, {4, 6}});
    REQUIRE(parse_ok(with_hash("&so=0%2C2")).select_only == ranges{{0, 0}, {2, 2}});
    // Adjacent runs merge, as bep53-range's compose() would write them.
    REQUIRE(parse_ok(with_hash("&so=1,2,3-5,9")).select_only == ranges{{1, 5}, {9, 9}});
    REQUIRE(parse_ok(with_hash("&so=4294967295")).select_only ==
            ranges{{4294967295u, 4294967295u}});
  }
  SECTION("unknown keys are kept as written; malformed parameters are ignored") {
    const auto m = parse_ok(with_hash("&foo=%zz&&novalue&=x&dn=x&xl=12345&foo=2"));
    REQUIRE(m.name == "x");
    using pairs = std::vector<std::pair<std::string, std::string>>;
    REQUIRE(m.other == pairs{{"foo", "%zz"}, {"", "x"}, {"xl", "12345"}, {"foo", "2"}});
    // and written back as they were, but for what would split the parameter
    magnet_link out;
    out.info_hash = m.info_hash;
    out.other = pairs{{"xl", "12345"}, {"mt", "urn:sha1:a%20b"}, {"zz", "a&b#c d"}};
    REQUIRE(make_magnet(out).ends_with("&xl=12345&mt=urn:sha1:a%20b&zz=a%26b%23c%20d"));
  }
}

TEST_CASE("[magnet] trailing garbage parameters do not change the result", "[magnet]") {
  const std::string base = with_hash("&dn=Sintel&tr=udp%3A%2F%2Fa%3A1&so=1-3&kt=a+b");
  const auto whole = parse_ok(base);
  for (const char* tail : {"&", "&&", "&x=1", "&bogus", "&=", "&x.y.z=%", "&tr.x=1"}) {
    SECTION(std::string("tail ") + tail) {
      REQUIRE(same(parse_ok(base + tail), whole));
    }
  }
}

TEST_CASE("[magnet] errors carry the code and the position", "[magnet]") {
  SECTION("not a magnet") {
    for (const char* uri : {"", "magnet:", "magnet:xt=1", "http://x", " magnet:?xt=1"}) {
      const auto e = parse_err(uri);
      REQUIRE(e.code == errc::magnet_not_a_magnet);
      REQUIRE(e.position == 0);
    }
  }
  SECTION("bad escape: position of the '%'") {
    const std::string uri = with_hash("&dn=ab%4");
    const auto e = parse_err(uri);
    REQUIRE(e.code == errc::magnet_bad_escape);
    REQUIRE(e.position == uri.find('%'));
    const std::string uri2 = with_hash("&tr=%G0");
    REQUIRE(parse_err(uri2).position == uri2.find('%'));
    REQUIRE(parse_err(with_hash("&kt=%")).code == errc::magnet_bad_escape);
  }
  SECTION("bad info-hash: position of the parameter") {
    for (const char* h : {"abc", "c12fe1c06bba254a9dc9f519b335aa7c1367a88", "c12fe1c06bba254a9dc9f519b335aa7c1367a88z",
                          "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1", ""}) {
      const std::string uri = std::string("magnet:?dn=x&xt=urn:btih:") + h;
      const auto e = parse_err(uri);
      REQUIRE(e.code == errc::magnet_bad_info_hash);
      REQUIRE(e.position == 13);
    }
    REQUIRE(parse_err("magnet:?xt=urn:btmh:").code == errc::magnet_bad_info_hash);
  }
  SECTION("no info-hash") {
    REQUIRE(parse_err("magnet:?").code == errc::magnet_no_info_hash);
    REQUIRE(parse_err("magnet:?dn=x&tr=y").code == errc::magnet_no_info_hash);
    REQUIRE(parse_err("magnet:?xt=urn:sha1:x").code == errc::magnet_no_info_hash);
  }
  SECTION("bad so: position of the offending byte") {
    struct bad { const char* so; std::size_t at; };
    for (auto b : {bad{"", 0}, bad{"a", 0}, bad{"1,", 2}, bad{"1-", 2}, bad{"5-3", 2},
                   bad{"1;2", 1}, bad{"-1", 0}, bad{"4294967296", 0}, bad{"1-2-3", 3},
                   bad{"1,,2", 2}}) {
      const std::string uri = with_hash("&so=") + b.so;
      const auto e = parse_err(uri);
      INFO(b.so);
      REQUIRE(e.code == errc::magnet_bad_parameter);
      REQUIRE(e.position == uri.find("so=") + 3 + b.at);
    }
    // After decoding, positions still point into the URI.
    const std::string uri = with_hash("&so=1%2Cx");
    REQUIRE(parse_err(uri).position == uri.find('x', uri.find("so=")));
  }
  SECTION("too large") {
    magnet_limits lim;
    lim.max_length = 30;
    auto e = parse_err(with_hash(""), lim);
    REQUIRE(e.code == errc::magnet_too_large);
    lim = {};
    lim.max_parameters = 2;
    const std::string uri = with_hash("&dn=a&tr=b");
    e = parse_err(uri, lim);
    REQUIRE(e.code == errc::magnet_too_large);
    REQUIRE(e.position == uri.find("tr="));
    REQUIRE(parse_magnet(with_hash("&dn=a"), lim).ok());
  }
}

TEST_CASE("[magnet] make_magnet encodes like magnet-uri", "[magnet]") {
  magnet_link link;
  link.info_hash = sintel_hash();
  SECTION("hash only") {
    REQUIRE(make_magnet(link) == with_hash(""));
  }
  SECTION("every parameter in order") {
    link.name = "a b+c/\xC3\xA9";
    link.trackers = {"wss://t.x/a?b=1&c"};
    link.web_seeds = {"http://w/x y"};
    link.exact_sources = {"urn:btpk:" + std::string(64, 'f'), "http://x/y"};
    link.acceptable_sources = {"http://a/"};
    link.peers = {"[::1]:6881"};
    link.keywords = {"k 1", "k2"};
    link.select_only = {{0, 0}, {1, 2}, {5, 5}, {7, 8}};
    // Values as magnet-uri's encode() writes them (encodeURIComponent; dn
    // spaces as '+'; btpk and x.pe unescaped; so composed by bep53-range).
    REQUIRE(make_magnet(link) ==
            with_hash("&dn=a+b%2Bc%2F%C3%A9&tr=wss%3A%2F%2Ft.x%2Fa%3Fb%3D1%26c"
                      "&ws=http%3A%2F%2Fw%2Fx%20y&xs=urn:btpk:" + std::string(64, 'f') +
                      "&xs=http%3A%2F%2Fx%2Fy&as=http%3A%2F%2Fa%2F&x.pe=[::1]:6881"
                      "&kt=k%201+k2&so=0-2,5,7-8"));
  }
  SECTION("unreserved characters stay as they are") {
    link.name = "A-z_0.9!~*'()";
    REQUIRE(make_magnet(link) == with_hash("&dn=A-z_0.9!~*'()"));
  }
  SECTION("btmh alone") {
    magnet_link v2;
    v2.info_hash_v2 = "1220" + std::string(64, 'c');
    REQUIRE(make_magnet(v2) == "magnet:?xt=urn:btmh:" + *v2.info_hash_v2);
  }
}

TEST_CASE("[magnet] make and parse round trip", "[magnet]") {
  magnet_link link;
  link.info_hash = sintel_hash();
  SECTION("everything") {
    link.info_hash_v2 = "1220" + std::string(64, '0');
    link.name = "Sintel (2010) \xE2\x9C\x93 100%";
    link.trackers = {"udp://tracker.example:1337/announce", "wss://t.example/?a=b&c=%"};
    link.web_seeds = {"https://seed.example/Sintel/"};
    link.exact_sources = {"http://x.example/t.torrent?q=1"};
    link.acceptable_sources = {"http://a.example/#frag"};
    link.peers = {"10.0.0.1:6881", "[2001:db8::1]:6881"};
    link.keywords = {"open movie", "blender", ""};
    link.select_only = {{0, 0}, {2, 2}, {4, 6}, {4294967290u, 4294967295u}};
  }
  SECTION("minimal") {}
  const std::string uri = make_magnet(link);
  INFO(uri);
  const auto back = parse_ok(uri);
  REQUIRE(same(back, link));
  REQUIRE(make_magnet(back) == uri);
}
