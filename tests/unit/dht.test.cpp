#include "dht/dht.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bencode/bencode.hpp"
#include "outputs.hpp"

using namespace wt;
using namespace wt::dht;
using namespace std::chrono_literals;
using wt::test::drain;
using wt::test::only;

namespace {

time_point at(duration d) { return time_point{} + d; }

node_id id_of(std::string_view twenty) {
  node_id id{};
  for (std::size_t i = 0; i < id.size() && i < twenty.size(); ++i)
    id[i] = static_cast<std::uint8_t>(twenty[i]);
  return id;
}

// An id equal to `base` except for bit `bit` (0 = the most significant) and the bits
// after it, which are set from `tail`.
node_id id_at_distance(const node_id& base, int bit, std::uint8_t tail = 0) {
  node_id id = base;
  const auto byte = static_cast<std::size_t>(bit / 8);
  const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
  id[byte] = static_cast<std::uint8_t>(id[byte] ^ mask);
  for (std::size_t i = byte + 1; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(tail + i);
  return id;
}

wire::endpoint ep(std::uint8_t last, std::uint16_t port = 6881) {
  return wire::make_endpoint_v4({10, 0, 0, last}, port);
}

// 2001:db8::<last>
wire::endpoint ep6(std::uint8_t last, std::uint16_t port = 6881) {
  std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
  a[15] = last;
  return wire::make_endpoint_v6(a, port);
}

wire::endpoint ep4(std::uint32_t n, std::uint16_t port = 6881) {
  return wire::make_endpoint_v4({10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                                 static_cast<std::uint8_t>(n)},
                                port);
}

message decode_ok(std::string_view text) {
  auto r = decode(as_bytes(text));
  if (const auto* e = std::get_if<krpc_error>(&r)) FAIL(e->message());
  return std::get<message>(r);
}

krpc_error decode_err(std::string_view text, const limits& lim = {}) {
  auto r = decode(as_bytes(text), lim);
  REQUIRE(std::holds_alternative<krpc_error>(r));
  return std::get<krpc_error>(r);
}

std::string text_of(const byte_buffer& b) { return std::string(as_chars(b)); }

message round_trip(const message& m) {
  const auto bytes = encode(m);
  auto r = decode(bytes);
  REQUIRE(std::holds_alternative<message>(r));
  return std::get<message>(r);
}

message decoded(const send& s) {
  auto r = decode(s.bytes);
  REQUIRE(std::holds_alternative<message>(r));
  return std::get<message>(r);
}

byte_buffer make_query(std::string_view tid, query q) {
  message m;
  m.transaction_id = byte_buffer(tid.begin(), tid.end());
  m.body = std::move(q);
  return encode(m);
}

byte_buffer make_answer(const byte_buffer& tid, response r) {
  message m;
  m.transaction_id = tid;
  m.body = std::move(r);
  return encode(m);
}

}  // namespace

// --- KRPC codec ---------------------------------------------------------------------------

TEST_CASE("[dht] KRPC: the BEP 5 examples", "[dht]") {
  SECTION("ping query, byte-exact both ways") {
    const std::string text = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    const auto m = decode_ok(text);
    const auto& q = std::get<query>(m.body);
    CHECK(q.kind == method::ping);
    CHECK(q.id == id_of("abcdefghij0123456789"));
    CHECK(text_of(m.transaction_id) == "aa");
    CHECK(text_of(encode(m)) == text);
  }
  SECTION("ping response") {
    const std::string text = "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
    const auto m = decode_ok(text);
    CHECK(std::get<response>(m.body).id == id_of("mnopqrstuvwxyz123456"));
    CHECK(text_of(encode(m)) == text);
  }
  SECTION("error") {
    const std::string text = "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
    const auto m = decode_ok(text);
    const auto& e = std::get<error_reply>(m.body);
    CHECK(e.code == 201);
    CHECK(e.text == "A Generic Error Ocurred");
    CHECK(text_of(encode(m)) == text);
  }
  SECTION("find_node, get_peers and announce_peer queries") {
    const auto fn = decode_ok("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe");
    CHECK(std::get<query>(fn.body).kind == method::find_node);
    CHECK(std::get<query>(fn.body).target == id_of("mnopqrstuvwxyz123456"));
    const auto gp = decode_ok("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe");
    CHECK(std::get<query>(gp.body).kind == method::get_peers);
    const std::string ap_text =
        "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe";
    const auto ap = decode_ok(ap_text);
    const auto& q = std::get<query>(ap.body);
    CHECK(q.kind == method::announce_peer);
    CHECK(q.implied_port);
    CHECK(q.port == 6881);
    CHECK(text_of(q.token) == "aoeusnth");
    CHECK(text_of(encode(ap)) == ap_text);
  }
  SECTION("get_peers response with values") {
    const auto m = decode_ok("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re");
    const auto& r = std::get<response>(m.body);
    REQUIRE(r.values.size() == 2);
    CHECK(r.values[0] == wire::make_endpoint_v4({'a', 'x', 'j', 'e'}, static_cast<std::uint16_t>('.' << 8 | 'u')));
    CHECK(text_of(*r.token) == "aoeusnth");
  }
}

TEST_CASE("[dht] KRPC: round trips", "[dht]") {
  message m;
  m.transaction_id = {0x12, 0x34};
  SECTION("queries") {
    for (const auto kind : {method::ping, method::find_node, method::get_peers, method::announce_peer}) {
      query q;
      q.kind = kind;
      q.id = id_of("abcdefghijklmnopqrst");
      if (kind != method::ping) q.target = id_of("ABCDEFGHIJKLMNOPQRST");
      if (kind == method::announce_peer) {
        q.port = 51413;
        q.implied_port = true;
        q.token = {1, 2, 3, 4, 5, 6, 7, 8};
      }
      m.body = q;
      m.version = std::string("WT\x00\x01", 4);
      auto back = round_trip(m);
      std::get<query>(back.body).name.clear();
      std::get<query>(m.body).name.clear();
      CHECK(back == m);
    }
  }
  SECTION("an unknown method keeps its name") {
    query q;
    q.kind = method::unknown;
    q.name = "vote";
    q.id = id_of("abcdefghijklmnopqrst");
    m.body = q;
    const auto back = round_trip(m);
    CHECK(std::get<query>(back.body).kind == method::unknown);
    CHECK(std::get<query>(back.body).name == "vote");
  }
  SECTION("responses with nodes, values, token and ip") {
    response r;
    r.id = id_of("abcdefghijklmnopqrst");
    for (std::uint8_t i = 1; i <= 8; ++i) r.nodes.push_back({id_at_distance(r.id, i), ep(i)});
    r.values = {ep(20, 1), ep(21, 65535)};
    r.token = byte_buffer{9, 8, 7};
    r.ip = ep(99, 4242);
    m.body = r;
    CHECK(round_trip(m) == m);
  }
  SECTION("IPv6 (BEP 32): nodes6, 18-byte values and ip, want") {
    response r;
    r.id = id_of("abcdefghijklmnopqrst");
    r.nodes = {{id_at_distance(r.id, 1), ep(1)}, {id_at_distance(r.id, 2), ep6(2)}, {id_at_distance(r.id, 3), ep6(3, 1)}};
    r.values = {ep6(20, 1), ep(21, 65535)};
    r.token = byte_buffer{9};
    r.ip = ep6(99, 4242);
    m.body = r;
    const auto bytes = encode(m);
    const std::string text(as_chars(bytes));
    CHECK(text.find("5:nodes26:") != std::string::npos);
    CHECK(text.find("6:nodes676:") != std::string::npos);
    CHECK(decode_ok(text) == m);

    query q;
    q.kind = method::find_node;
    q.id = r.id;
    q.target = id_of("ABCDEFGHIJKLMNOPQRST");
    q.want = want_n4 | want_n6;
    m.body = q;
    const auto back = round_trip(m);
    CHECK(std::get<query>(back.body).want == q.want);
    CHECK(std::string(as_chars(encode(m))).find("4:wantl2:n42:n6e") != std::string::npos);
  }
  SECTION("a get_peers answer with nothing carries an empty nodes of its family") {
    response r;
    r.id = id_of("abcdefghijklmnopqrst");
    r.token = byte_buffer{1};
    m.body = r;
    CHECK(std::string(as_chars(encode(m))).find("5:nodes0:") != std::string::npos);
    r.v6 = true;
    m.body = r;
    CHECK(std::string(as_chars(encode(m))).find("6:nodes60:") != std::string::npos);
  }
  SECTION("errors") {
    m.body = error_reply{204, "Method Unknown"};
    CHECK(round_trip(m) == m);
  }
}

TEST_CASE("[dht] KRPC: libtorrent-style extras are accepted", "[dht]") {
  // "v" and "ip" at the top level, "ro" and "want" in the arguments, nodes6, an IPv6
  // value mixed with IPv4 ones.
  bencode::dict args;
  args["id"] = std::string(20, 'a');
  args["info_hash"] = std::string(20, 'b');
  args["ro"] = 1;
  args["want"] = bencode::list{bencode::value("n4"), bencode::value("n6")};
  args["noseed"] = 0;
  bencode::dict top;
  top["a"] = args;
  top["q"] = "get_peers";
  top["t"] = std::string("\x01\x02\x03\x04", 4);
  top["y"] = "q";
  top["v"] = std::string("LT\x01\x02", 4);
  top["ip"] = std::string("\x7f\x00\x00\x01\x1a\xe1", 6);
  const auto q = decode(bencode::encode(bencode::value(top)));
  REQUIRE(std::holds_alternative<message>(q));
  CHECK(std::get<query>(std::get<message>(q).body).kind == method::get_peers);
  CHECK(std::get<query>(std::get<message>(q).body).want == (want_n4 | want_n6));
  CHECK(std::get<message>(q).version == std::string("LT\x01\x02", 4));

  bencode::dict body;
  body["id"] = std::string(20, 'c');
  body["nodes6"] = std::string(38, 'x');
  body["token"] = "tok";
  body["values"] = bencode::list{bencode::value(std::string(6, 'p')), bencode::value(std::string(18, 'q'))};
  body["p"] = 6881;
  bencode::dict reply;
  reply["r"] = body;
  reply["t"] = "aa";
  reply["y"] = "r";
  reply["ip"] = std::string("\x0a\x00\x00\x07\x1a\xe1", 6);
  reply["v"] = "UT12";
  const auto r = decode(bencode::encode(bencode::value(reply)));
  REQUIRE(std::holds_alternative<message>(r));
  const auto& resp = std::get<response>(std::get<message>(r).body);
  REQUIRE(resp.values.size() == 2);  // an IPv4 peer and an IPv6 one (BEP 32)
  CHECK_FALSE(resp.values[0].v6);
  CHECK(resp.values[1].v6);
  REQUIRE(resp.nodes.size() == 1);   // from nodes6
  CHECK(resp.nodes[0].ep.v6);
  CHECK(resp.nodes[0].ep.port == ('x' << 8 | 'x'));
  REQUIRE(resp.ip);
  CHECK(*resp.ip == wire::make_endpoint_v4({10, 0, 0, 7}, 6881));
}

TEST_CASE("[dht] KRPC: malformed and oversized messages are refused", "[dht]") {
  CHECK(decode_err("").code == krpc_errc::bad_bencode);
  CHECK(decode_err("i42e").code == krpc_errc::not_a_dict);
  CHECK(decode_err("d1:y1:qe").code == krpc_errc::missing_field);
  CHECK(decode_err("d1:t2:aa1:y1:xe").code == krpc_errc::unknown_type);
  CHECK(decode_err("d1:t2:aa1:y1:qe").field == "q");
  CHECK(decode_err("d1:q4:ping1:t2:aa1:y1:qe").field == "a");
  CHECK(decode_err("d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe").code == krpc_errc::bad_field);
  CHECK(decode_err("d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe").field == "a.id");
  CHECK(decode_err("d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe").field == "a.target");
  CHECK(decode_err("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
            .field == "a.port");
  CHECK(decode_err("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti1ee1:q13:announce_peer1:t2:aa1:y1:qe")
            .field == "a.token");
  CHECK(decode_err("d1:rd2:id20:abcdefghij01234567895:nodes5:abcdee1:t2:aa1:y1:re").field == "r.nodes");
  CHECK(decode_err("d1:rd2:id20:abcdefghij01234567896:valuesi3ee1:t2:aa1:y1:re").field == "r.values");
  {
    // A value that is no peer is skipped; the peers beside it are kept.
    const auto m = decode(as_bytes("d1:rd2:id20:abcdefghij01234567896:valuesl3:abci7e6:axje.u0:ee1:t2:aa1:y1:re"));
    REQUIRE(std::holds_alternative<message>(m));
    CHECK(std::get<response>(std::get<message>(m).body).values ==
          std::vector<wire::endpoint>{wire::make_endpoint_v4({'a', 'x', 'j', 'e'}, static_cast<std::uint16_t>('.' << 8 | 'u'))});
  }
  CHECK(decode_err("d1:rd2:id20:abcdefghij0123456789e1:t17:aaaaaaaaaaaaaaaaa1:y1:re").field == "t");
  // Unsorted keys (the bencode decoder is strict).
  CHECK(decode_err("d1:y1:r1:rd2:id20:abcdefghij0123456789e1:t2:aae").code == krpc_errc::bad_bencode);

  SECTION("size") {
    std::string big = "d1:rd2:id20:abcdefghij01234567895:token70000:" + std::string(70000, 'x') + "e1:t2:aa1:y1:re";
    CHECK(decode_err(big).code == krpc_errc::message_too_large);
    // 500 nodes (13 kB) beside the peers: read, the first 64 nodes kept.
    response r;
    r.id = id_of("abcdefghijklmnopqrst");
    for (int i = 0; i < 500; ++i) r.nodes.push_back({id_at_distance(r.id, 1 + i % 150), ep(static_cast<std::uint8_t>(i))});
    r.values = {ep(7)};
    const auto m = decode(as_bytes(text_of(make_answer({1, 2}, r))));
    REQUIRE(std::holds_alternative<message>(m));
    CHECK(std::get<response>(std::get<message>(m).body).nodes.size() == 64);
    CHECK(std::get<response>(std::get<message>(m).body).values == std::vector<wire::endpoint>{ep(7)});
  }
  SECTION("nesting") {
    std::string deep = "d1:ad2:id20:abcdefghij01234567891:x" + std::string(20, 'l') + std::string(20, 'e') +
                       "e1:q4:ping1:t2:aa1:y1:qe";
    const auto e = decode_err(deep);
    CHECK(e.code == krpc_errc::bad_bencode);
    CHECK(e.message().find("nesting too deep") != std::string::npos);
  }
  SECTION("more nodes or values than the limits") {
    limits lim;
    lim.max_nodes = 2;
    lim.max_values = 2;
    response r;
    r.id = id_of("abcdefghijklmnopqrst");
    for (std::uint8_t i = 1; i <= 3; ++i) r.nodes.push_back({id_at_distance(r.id, i), ep(i)});
    // More than the limits: the first ones are kept, not the answer refused.
    auto bytes = make_answer({1, 2}, r);
    auto m = decode(as_bytes(text_of(bytes)), lim);
    REQUIRE(std::holds_alternative<message>(m));
    CHECK(std::get<response>(std::get<message>(m).body).nodes.size() == 2);
    r.nodes.clear();
    r.values = {ep(1), ep(2), ep(3)};
    bytes = make_answer({1, 2}, r);
    m = decode(as_bytes(text_of(bytes)), lim);
    REQUIRE(std::holds_alternative<message>(m));
    CHECK(std::get<response>(std::get<message>(m).body).values == std::vector<wire::endpoint>{ep(1), ep(2)});
  }
  SECTION("every prefix and trailing data") {
    const std::string good = "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re";
    for (std::size_t n = 0; n < good.size(); ++n) decode_err(good.substr(0, n));
    decode_err(good + "x");
    decode_ok(good);
  }
}

TEST_CASE("[dht] ids: distance and prefixes", "[dht]") {
  const node_id a = id_of("aaaaaaaaaaaaaaaaaaaa");
  CHECK(common_prefix_bits(a, a) == 160);
  CHECK(common_prefix_bits(a, id_at_distance(a, 0)) == 0);
  CHECK(common_prefix_bits(a, id_at_distance(a, 37)) == 37);
  CHECK(closer(id_at_distance(a, 100), id_at_distance(a, 3), a));
  CHECK_FALSE(closer(a, a, a));
  CHECK(distance(a, a) == node_id{});
}

// --- Routing table ---------------------------------------------------------------------------

TEST_CASE("[dht] routing table: insert, split, replacements, closest", "[dht]") {
  const node_id own = id_of("0123456789abcdefghij");
  routing_table table(own);
  const auto now = at(1s);

  SECTION("own id, IPv6 and address clashes are rejected") {
    CHECK(table.node_answered({own, ep(1)}, now) == routing_table::insert_result::rejected);
    CHECK(table.node_answered({id_at_distance(own, 0), wire::make_endpoint_v6({}, 1)}, now) ==
          routing_table::insert_result::rejected);
    CHECK(table.node_answered({id_at_distance(own, 0), ep(1)}, now) == routing_table::insert_result::added);
    CHECK(table.node_answered({id_at_distance(own, 0), ep(1)}, now) == routing_table::insert_result::updated);
    CHECK(table.node_answered({id_at_distance(own, 0), ep(2)}, now) == routing_table::insert_result::rejected);
    CHECK(table.node_answered({id_at_distance(own, 1), ep(1)}, now) == routing_table::insert_result::rejected);
    CHECK(table.size() == 1);
  }

  SECTION("the bucket holding our id splits; others keep replacements") {
    // Nine nodes whose first bit differs from ours: the first eight fill the single bucket;
    // the ninth splits it (all of them stay in bucket 0, bucket 1 is ours) and becomes a
    // replacement, bucket 0 no longer covering our id.
    for (std::uint8_t i = 0; i < 9; ++i)
      (void)table.node_answered({id_at_distance(own, 0, i), ep(i)}, now);
    CHECK(table.bucket_count() == 2);
    CHECK(table.bucket_size(0) == 8);
    CHECK(table.bucket_size(1) == 0);
    CHECK(table.replacement_count(0) == 1);
    CHECK_FALSE(table.has_room_for(id_at_distance(own, 0, 42), now));
    CHECK(table.has_room_for(id_at_distance(own, 5), now));

    // Nodes ever closer to us keep splitting the last bucket.
    for (int bit = 1; bit < 40; ++bit)
      (void)table.node_answered({id_at_distance(own, bit), ep4(static_cast<std::uint32_t>(1000 + bit))}, now);
    CHECK(table.size() == 8 + 39);
    CHECK(table.bucket_count() >= 33);

    // Closest: sorted by XOR distance, bad nodes excluded.
    const auto near = table.closest(own, 5, now);
    REQUIRE(near.size() == 5);
    for (std::size_t i = 1; i < near.size(); ++i) CHECK(closer(near[i - 1].id, near[i].id, own));
    CHECK(near[0].id == id_at_distance(own, 39));
  }

  SECTION("a node that fails three times is bad and replaced") {
    for (std::uint8_t i = 0; i < 9; ++i)
      (void)table.node_answered({id_at_distance(own, 0, i), ep(i)}, now);
    const node_id victim = id_at_distance(own, 0, 3);
    table.node_failed(victim, ep(3));
    table.node_failed(victim, ep(3));
    REQUIRE(table.find(victim));
    CHECK(table.state(*table.find(victim), now) == node_state::good);
    table.node_failed(victim, ep(3));
    CHECK_FALSE(table.find(victim));
    CHECK(table.find(id_at_distance(own, 0, 8)));  // the replacement took its place
    CHECK(table.replacement_count(0) == 0);
  }

  SECTION("a bad node without a replacement gives its place to the next answer") {
    for (std::uint8_t i = 0; i < 8; ++i)
      (void)table.node_answered({id_at_distance(own, 0, i), ep(i)}, now);
    (void)table.node_answered({id_at_distance(own, 1), ep(50)}, now);  // splits: bucket 0 is far
    for (int f = 0; f < 3; ++f) table.node_failed(id_at_distance(own, 0, 2), ep(2));
    REQUIRE(table.find(id_at_distance(own, 0, 2)));
    CHECK(table.state(*table.find(id_at_distance(own, 0, 2)), now) == node_state::bad);
    CHECK(table.closest(id_at_distance(own, 0, 2), 100, now).size() == 8);  // 9 minus the bad one
    CHECK(table.node_answered({id_at_distance(own, 0, 77), ep(77)}, now) ==
          routing_table::insert_result::replaced_bad);
  }

  SECTION("good, questionable, queries keep a node good") {
    const node_info n{id_at_distance(own, 0), ep(1)};
    (void)table.node_answered(n, now);
    CHECK(table.state(*table.find(n.id), now + 14min) == node_state::good);
    CHECK(table.state(*table.find(n.id), now + 15min) == node_state::questionable);
    table.node_queried(n, now + 14min);
    CHECK(table.state(*table.find(n.id), now + 20min) == node_state::good);
    CHECK(table.nodes_to_ping(now + 20min, 1min).empty());
    CHECK(table.nodes_to_ping(now + 30min, 1min).size() == 1);
    table.mark_pinged(n.id, now + 30min);
    CHECK(table.nodes_to_ping(now + 30min + 30s, 1min).empty());
    // Restored from a saved state: questionable until it answers.
    (void)table.node_answered({id_at_distance(own, 0, 9), ep(9)}, now, false);
    CHECK(table.state(*table.find(id_at_distance(own, 0, 9)), now) == node_state::questionable);
  }

  SECTION("refresh: stale buckets and ids inside a bucket") {
    for (std::uint8_t i = 0; i < 9; ++i)
      (void)table.node_answered({id_at_distance(own, 0, i), ep(i)}, now);
    CHECK(table.stale_buckets(now + 10min, 15min).empty());
    CHECK(table.stale_buckets(now + 15min, 15min).size() == 2);
    table.mark_refreshed(0, now + 15min);
    CHECK(table.stale_buckets(now + 15min, 15min) == std::vector<std::size_t>{1});
    const node_id random = id_of("zzzzzzzzzzzzzzzzzzzz");
    CHECK(common_prefix_bits(own, table.id_in_bucket(0, random)) == 0);
    CHECK(common_prefix_bits(own, table.id_in_bucket(1, random)) >= 1);
  }
}

// --- Tokens and the peer store --------------------------------------------------------------

TEST_CASE("[dht] tokens: accepted across one rotation, refused after two", "[dht]") {
  rng random(7);
  token_keeper tokens(random, 5min);
  const auto alice = ep(1, 1000);
  const auto token = tokens.make(alice, at(0s));
  CHECK(token.size() == token_keeper::token_size);
  CHECK(tokens.check(alice, token, at(1min)));
  CHECK(tokens.check(ep(1, 2000), token, at(1min)));  // the port plays no part
  CHECK_FALSE(tokens.check(ep(2, 1000), token, at(1min)));
  CHECK_FALSE(tokens.check(alice, byte_buffer(token.begin(), token.end() - 1), at(1min)));
  CHECK(tokens.check(alice, token, at(6min)));   // one rotation: the previous secret
  const auto later = tokens.make(alice, at(6min));
  CHECK(later != token);
  CHECK_FALSE(tokens.check(alice, token, at(11min)));  // two rotations
  CHECK(tokens.check(alice, later, at(11min)));
  CHECK_FALSE(tokens.check(alice, later, at(30min)));  // a long pause renews both secrets
}

TEST_CASE("[dht] peer store: limits and expiry", "[dht]") {
  peer_store_settings s;
  s.max_info_hashes = 3;
  s.max_peers_per_hash = 4;
  s.max_values_per_reply = 3;
  peer_store store(s);
  const node_id h1 = id_of("11111111111111111111");
  const node_id h2 = id_of("22222222222222222222");
  const node_id h3 = id_of("33333333333333333333");
  const node_id h4 = id_of("44444444444444444444");

  for (std::uint8_t i = 1; i <= 6; ++i) CHECK(store.announce(h1, ep(i), at(std::chrono::seconds(i))));
  CHECK(store.peer_count(h1) == 4);  // the two oldest dropped
  const auto some = store.peers(h1, at(10s));
  REQUIRE(some.size() == 3);
  CHECK(some[0] == ep(6));  // newest first
  CHECK(store.announce(h1, ep(3), at(11s)));  // a known peer is refreshed, not doubled
  CHECK(store.peer_count(h1) == 4);

  CHECK(store.announce(h2, ep(1), at(20s)));
  CHECK(store.announce(h3, ep(1), at(20s)));
  CHECK_FALSE(store.announce(h4, ep(1), at(21s)));  // three info-hashes already
  CHECK(store.info_hash_count() == 3);

  // After 30 minutes the entries are gone, and room is made for new info-hashes.
  CHECK(store.peers(h2, at(20s + 30min)).empty());
  CHECK(store.announce(h4, ep(1), at(20s + 30min)));
  store.expire(at(20s + 30min));
  CHECK(store.info_hash_count() == 1);
}

// --- The node ----------------------------------------------------------------------------------

TEST_CASE("[dht] node: serves ping, find_node, get_peers and announce_peer", "[dht]") {
  settings s;
  s.seed = 1;
  dht_node node(s);
  const auto querier = ep(7, 7000);
  const node_id their_id = id_at_distance(node.id(), 0);
  const node_id info_hash = id_of("infohashinfohash1234");

  const auto ask = [&](query q, const wire::endpoint& from, time_point now) {
    q.id = their_id;
    node.udp_received(from, make_query("tx", q), now);
    auto all = drain(node);
    const auto sends = only<send>(all);
    // The answer to us; also a ping to verify us, as our bucket has room.
    for (const auto& out : sends)
      if (out.to == from && text_of(decoded(out).transaction_id) == "tx") return decoded(out);
    FAIL("no answer");
    return message{};
  };

  query ping;
  ping.kind = method::ping;
  auto answer = ask(ping, querier, at(1s));
  CHECK(std::get<response>(answer.body).id == node.id());
  CHECK(std::get<response>(answer.body).ip == querier);  // BEP 42's "ip"
  CHECK(answer.version);

  query gp;
  gp.kind = method::get_peers;
  gp.target = info_hash;
  answer = ask(gp, querier, at(2s));
  const auto token = std::get<response>(answer.body).token;
  REQUIRE(token);
  CHECK(std::get<response>(answer.body).values.empty());

  query ap;
  ap.kind = method::announce_peer;
  ap.target = info_hash;
  ap.port = 5555;
  ap.token = *token;
  SECTION("a good token stores the peer") {
    answer = ask(ap, querier, at(3s));
    CHECK(std::holds_alternative<response>(answer.body));
    answer = ask(gp, ep(8), at(4s));
    CHECK(std::get<response>(answer.body).values == std::vector<wire::endpoint>{ep(7, 5555)});
  }
  SECTION("implied_port takes the datagram's port") {
    ap.implied_port = true;
    (void)ask(ap, querier, at(3s));
    CHECK(node.store().peers(info_hash, at(4s)) == std::vector<wire::endpoint>{querier});
  }
  SECTION("a token from another address or too old is refused") {
    answer = ask(ap, ep(9, 7000), at(3s));
    REQUIRE(std::holds_alternative<error_reply>(answer.body));
    CHECK(std::get<error_reply>(answer.body).code == error_protocol);
    answer = ask(ap, querier, at(11min));
    CHECK(std::holds_alternative<error_reply>(answer.body));
    CHECK(node.counters().bad_tokens == 2);
    CHECK(node.store().info_hash_count() == 0);
  }
  SECTION("an unknown method gets error 204") {
    query q;
    q.kind = method::unknown;
    q.name = "sample_infohashes";
    answer = ask(q, querier, at(3s));
    CHECK(std::get<error_reply>(answer.body).code == error_method_unknown);
  }
  SECTION("find_node answers with the closest nodes it knows") {
    query fn;
    fn.kind = method::find_node;
    fn.target = info_hash;
    answer = ask(fn, querier, at(3s));
    CHECK(std::get<response>(answer.body).nodes.empty());
  }
}

TEST_CASE("[dht] node: answers from unexpected endpoints or transaction ids are ignored", "[dht]") {
  settings s;
  s.seed = 2;
  dht_node node(s);
  const auto router = ep(1);
  const std::vector<wire::endpoint> routers{router};
  node.bootstrap(routers, at(0s));
  auto sends = only<send>(drain(node));
  REQUIRE(sends.size() == 1);
  const auto q = decoded(sends[0]);
  CHECK(std::get<query>(q.body).kind == method::find_node);
  CHECK(std::get<query>(q.body).target == node.id());

  response r;
  r.id = id_at_distance(node.id(), 0);
  node.udp_received(ep(2), make_answer(q.transaction_id, r), at(1s));       // wrong endpoint
  node.udp_received(router, make_answer({0xde, 0xad}, r), at(1s));         // wrong transaction id
  node.udp_received(router, make_answer({1, 2, 3}, r), at(1s));            // not ours at all
  CHECK(node.counters().unexpected == 3);
  CHECK(node.table().size() == 0);
  node.udp_received(router, make_answer(q.transaction_id, r), at(1s));
  CHECK(node.table().size() == 1);
  // The same answer again: its transaction is closed.
  node.udp_received(router, make_answer(q.transaction_id, r), at(1s));
  CHECK(node.counters().unexpected == 4);
  const auto finished = only<lookup_finished>(drain(node));
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].kind == lookup_kind::bootstrap);
  CHECK(finished[0].answered == 1);
}

TEST_CASE("[dht] node: a hostile node cannot keep a lookup going", "[dht]") {
  // Sybils: every node asked answers with eight new nodes closer to the target than any
  // before. The lookup must stop within its query budget.
  settings s;
  s.seed = 3;
  s.max_queries_per_second = 1e6;
  s.query_burst = 1000;
  dht_node node(s);
  const node_id target = id_of("targettargettarget00");
  node.add_node(ep(1), at(0s));
  auto first = only<send>(drain(node));
  REQUIRE(first.size() == 1);
  response hello;
  hello.id = id_at_distance(target, 1);
  node.udp_received(ep(1), make_answer(decoded(first[0]).transaction_id, hello), at(0s));
  REQUIRE(node.table().size() == 1);

  const auto lookup = node.get_peers(target, at(1s));
  REQUIRE(lookup);
  std::uint32_t fake = 100;
  int bit = 2;
  std::vector<lookup_finished> finished;
  auto now = at(1s);
  for (int round = 0; round < 500 && finished.empty(); ++round) {
    auto all = drain(node);
    for (const auto& f : only<lookup_finished>(all)) finished.push_back(f);
    for (const auto& out : only<send>(all)) {
      const auto m = decoded(out);
      if (!std::holds_alternative<query>(m.body)) continue;
      response r;
      r.id = std::get<query>(m.body).kind == method::get_peers ? id_at_distance(target, 1) : hello.id;
      r.token = byte_buffer{1};
      for (int i = 0; i < 8; ++i)
        r.nodes.push_back({id_at_distance(target, std::min(bit++, 159)), ep4(fake++)});
      node.udp_received(out.to, make_answer(m.transaction_id, r), now);
    }
    now += 1s;
    node.on_timer(now);
  }
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].lookup == *lookup);
  CHECK(finished[0].queried <= s.max_lookup_queries);
  CHECK(finished[0].queried > 3 * s.k);  // it did go on for a while
  CHECK(node.running_lookups() == 0);
}

TEST_CASE("[dht] node: outgoing queries are rate limited", "[dht]") {
  settings s;
  s.seed = 4;
  s.max_queries_per_second = 10;
  s.query_burst = 5;
  dht_node node(s);
  for (std::uint8_t i = 1; i <= 20; ++i) node.add_node(ep(i), at(0s));
  CHECK(only<send>(drain(node)).size() == 5);
  CHECK(node.counters().queries_deferred == 15);
  // Credit comes back with time: ten a second.
  for (std::uint8_t i = 21; i <= 40; ++i) node.add_node(ep(i), at(1s));
  CHECK(only<send>(drain(node)).size() == 5);  // capped at the burst
}

TEST_CASE("[dht] node: save and load state", "[dht]") {
  settings s;
  s.seed = 5;
  dht_node node(s);
  // Teach it three nodes through answers to pings.
  for (std::uint8_t i = 1; i <= 3; ++i) {
    node.add_node(ep(i), at(0s));
    const auto q = decoded(only<send>(drain(node)).at(0));
    response r;
    r.id = id_at_distance(node.id(), i);
    node.udp_received(ep(i), make_answer(q.transaction_id, r), at(1s));
  }
  REQUIRE(node.table().size() == 3);
  const auto saved = node.save_state(at(2s));
  CHECK(node.save_state(at(1h)) != saved);  // nodes not heard from for an hour are not good

  settings other;
  other.seed = 99;
  dht_node restored(other);
  REQUIRE(restored.id() != node.id());
  const auto count = restored.load_state(saved, at(0s));
  REQUIRE(count);
  CHECK(*count == 3);
  CHECK(restored.id() == node.id());
  CHECK(restored.table().size() == 3);

  // A node id given in the settings (WebTorrent's nodeId) stays: the nodes are restored.
  settings fixed;
  fixed.seed = 5;
  fixed.id = id_at_distance(node.id(), 100);
  dht_node given(fixed);
  REQUIRE(given.load_state(saved, at(0s)));
  CHECK(given.id() == *fixed.id);
  CHECK(given.table().size() == 3);
  CHECK(restored.table().good_count(at(0s)) == 0);  // questionable until they answer

  SECTION("garbage changes nothing") {
    dht_node fresh(other);
    const auto id = fresh.id();
    for (const std::string_view junk :
         {std::string_view(""), std::string_view("i1e"), std::string_view("d2:id3:abce"),
          std::string_view("d2:id20:abcdefghij01234567895:nodes3:abce"), std::string_view("d2:id20:abcdefghij0123456789")}) {
      CHECK_FALSE(fresh.load_state(as_bytes(junk), at(0s)));
      CHECK(fresh.id() == id);
    }
    CHECK_FALSE(fresh.load_state(byte_buffer(70000, 'x'), at(0s)));
    CHECK(fresh.table().size() == 0);
  }
  SECTION("at most max_saved_nodes are restored") {
    bencode::dict d;
    d["id"] = std::string(20, 'i');
    std::string nodes;
    for (std::uint32_t i = 0; i < 300; ++i) {
      node_id nid = id_of("nnnnnnnnnnnnnnnnnnnn");
      nid[16] = static_cast<std::uint8_t>(i >> 8);
      nid[17] = static_cast<std::uint8_t>(i);
      nid[0] = static_cast<std::uint8_t>(i);
      byte_buffer b;
      append_compact_nodes({{nid, ep4(i + 1)}}, false, b);
      nodes += text_of(b);
    }
    d["nodes"] = nodes;
    dht_node fresh(other);
    const auto n = fresh.load_state(bencode::encode(bencode::value(d)), at(0s));
    REQUIRE(n);
    CHECK(*n <= other.max_saved_nodes);
    CHECK(fresh.table().size() == *n);
  }
}

TEST_CASE("[dht] node: an IPv6 node (BEP 32) keeps IPv6 nodes, answers with nodes6 and ignores IPv4", "[dht]") {
  settings s;
  s.seed = 6;
  s.ipv6 = true;
  dht_node node(s);
  // IPv4 sources, IPv4-mapped and link-local addresses are not this node's.
  node.add_node(ep(1), at(0s));
  std::array<std::uint8_t, 16> mapped{};
  mapped[10] = mapped[11] = 0xff;
  mapped[12] = 10;
  mapped[15] = 1;
  node.add_node(wire::make_endpoint_v6(mapped, 6881), at(0s));
  std::array<std::uint8_t, 16> link{0xfe, 0x80};
  link[15] = 1;
  node.add_node(wire::make_endpoint_v6(link, 6881), at(0s));
  CHECK(drain(node).empty());
  query ping;
  ping.kind = method::ping;
  ping.id = id_of("pppppppppppppppppppp");
  node.udp_received(ep(1), make_query("t1", ping), at(0s));
  CHECK(drain(node).empty());

  // Three IPv6 nodes answer pings.
  for (std::uint8_t i = 1; i <= 3; ++i) {
    node.add_node(ep6(i), at(0s));
    const auto sent = only<send>(drain(node));
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].to == ep6(i));
    response r;
    r.id = id_at_distance(node.id(), i);
    node.udp_received(ep6(i), make_answer(decoded(sent[0]).transaction_id, r), at(1s));
  }
  CHECK(node.table().size() == 3);

  // find_node from an IPv6 node: the answer's nodes are in nodes6.
  query find;
  find.kind = method::find_node;
  find.id = id_of("qqqqqqqqqqqqqqqqqqqq");
  find.target = node.id();
  node.udp_received(ep6(50), make_query("t2", find), at(2s));
  const auto sent = only<send>(drain(node));
  const auto answer = std::find_if(sent.begin(), sent.end(), [](const send& x) {
    return x.to == ep6(50) && std::holds_alternative<response>(decoded(x).body);  // not the ping it also gets
  });
  REQUIRE(answer != sent.end());
  CHECK(std::string(as_chars(answer->bytes)).find("6:nodes6114:") != std::string::npos);
  CHECK(std::get<response>(decoded(*answer).body).nodes.size() == 3);

  // An announce_peer from an IPv6 peer is served to get_peers as an 18-byte value.
  query gp;
  gp.kind = method::get_peers;
  gp.id = find.id;
  gp.target = id_of("hhhhhhhhhhhhhhhhhhhh");
  node.udp_received(ep6(50), make_query("t3", gp), at(3s));
  const auto answer_to = [&](const wire::endpoint& to) {
    for (const auto& x : only<send>(drain(node)))
      if (x.to == to && std::holds_alternative<response>(decoded(x).body)) return std::get<response>(decoded(x).body);
    FAIL("no answer");
    return response{};
  };
  const auto token = *answer_to(ep6(50)).token;
  query ann = gp;
  ann.kind = method::announce_peer;
  ann.port = 7000;
  ann.token = token;
  node.udp_received(ep6(50), make_query("t4", ann), at(3s));
  drain(node);
  node.udp_received(ep6(51), make_query("t5", gp), at(4s));
  const auto values = answer_to(ep6(51)).values;
  REQUIRE(values.size() == 1);
  CHECK(values[0] == ep6(50, 7000));

  // Its state keeps the nodes under nodes6; an IPv4 node restores none of them, an IPv6 one all.
  const auto saved = node.save_state(at(5s));
  CHECK(std::string(as_chars(saved)).find("6:nodes6114:") != std::string::npos);
  settings v4;
  v4.seed = 7;
  dht_node four(v4);
  CHECK(four.load_state(saved, at(5s)) == std::optional<std::size_t>(0));
  settings v6 = v4;
  v6.ipv6 = true;
  dht_node six(v6);
  CHECK(six.load_state(saved, at(5s)) == std::optional<std::size_t>(3));
  CHECK(six.id() == node.id());
}

TEST_CASE("[dht] node: malformed datagrams give rate-limited warnings", "[dht]") {
  dht_node node;
  for (int i = 0; i < 10; ++i) node.udp_received(ep(1), as_bytes("garbage"), at(std::chrono::seconds(i)));
  auto warnings = only<warning>(drain(node));
  CHECK(warnings.size() == 1);
  CHECK(node.counters().malformed == 10);
  node.udp_received(ep(1), as_bytes("more garbage"), at(2min));
  warnings = only<warning>(drain(node));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].text.find("10 since") != std::string::npos);
}

TEST_CASE("[dht] node: announce = get_peers, then announce_peer with the tokens; retried when nobody was known", "[dht]") {
  settings s;
  s.seed = 6;
  dht_node node(s);
  const node_id info_hash = id_of("announce-this-hash!!");
  node.announce(info_hash, 0, true, at(0s));  // no node known yet: over at once
  auto all = drain(node);
  REQUIRE(only<lookup_finished>(all).size() == 1);
  CHECK(only<lookup_finished>(all)[0].announced_to == 0);
  CHECK(only<send>(all).empty());

  // A node becomes known.
  node.add_node(ep(1), at(1s));
  const auto ping = decoded(only<send>(drain(node)).at(0));
  response pong;
  pong.id = id_at_distance(info_hash, 3);
  node.udp_received(ep(1), make_answer(ping.transaction_id, pong), at(1s));
  drain(node);

  // The retry comes after announce_retry_min: get_peers to the node, then announce_peer
  // with its token.
  node.on_timer(at(4s));
  CHECK(only<send>(drain(node)).empty());
  node.on_timer(at(5s));
  const auto sends = only<send>(drain(node));
  REQUIRE(sends.size() == 1);
  const auto gp = decoded(sends[0]);
  REQUIRE(std::get<query>(gp.body).kind == method::get_peers);
  CHECK(std::get<query>(gp.body).target == info_hash);
  response r = pong;
  r.token = byte_buffer{'t', 'o', 'k'};
  r.values = {ep(50, 5000)};
  node.udp_received(ep(1), make_answer(gp.transaction_id, r), at(6s));
  all = drain(node);
  const auto found = only<peers_found>(all);
  REQUIRE(found.size() == 1);
  CHECK(found[0].peers == std::vector<wire::endpoint>{ep(50, 5000)});
  CHECK(found[0].from == ep(1));  // the node whose answer carried them (bittorrent-dht's 'peer' from)
  const auto announce_sends = only<send>(all);
  REQUIRE(announce_sends.size() == 1);
  const auto ap = std::get<query>(decoded(announce_sends[0]).body);
  CHECK(ap.kind == method::announce_peer);
  CHECK(ap.implied_port);
  CHECK(text_of(ap.token) == "tok");
  const auto finished = only<lookup_finished>(all);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].kind == lookup_kind::announce);
  CHECK(finished[0].announced_to == 1);
  CHECK(finished[0].peers == 1);

  // Next announce after the interval, not before.
  node.on_timer(at(6s + 14min));
  for (const auto& out : only<send>(drain(node)))
    CHECK(std::get<query>(decoded(out).body).kind == method::ping);  // maintenance only
  node.on_timer(at(6s + 15min));
  bool asked = false;
  for (const auto& out : only<send>(drain(node)))
    if (std::get<query>(decoded(out).body).kind == method::get_peers) asked = true;
  CHECK(asked);
}

TEST_CASE("[dht] node: an announce that reached nobody is retried after 5 s, doubling to a minute, and at once when routers are given", "[dht]") {
  settings s;
  s.seed = 7;
  dht_node node(s);
  const node_id info_hash = id_of("retry-this-hash!!!!!");
  const auto get_peers_sent = [&] {
    for (const auto& out : only<send>(drain(node)))
      if (std::get<query>(decoded(out).body).kind == method::get_peers) return true;
    return false;
  };
  // Nobody known: each attempt is over at once, and the next waits twice as long.
  node.announce(info_hash, 6881, false, at(0s));
  CHECK(only<lookup_finished>(drain(node)).size() == 1);
  std::vector<int> attempts;
  for (int t = 1; t <= 200; ++t) {
    node.on_timer(at(std::chrono::seconds(t)));
    for (const auto& f : only<lookup_finished>(drain(node)))
      if (f.kind == lookup_kind::announce) attempts.push_back(t);
  }
  CHECK(attempts == std::vector<int>{5, 15, 35, 75, 135, 195});

  // Routers are given: the waiting announce asks them at once, beside the bootstrap (not
  // at 255 s, nor once the bootstrap is over: its nodes may take seconds to time out).
  const std::vector<wire::endpoint> routers{ep(1)};
  node.bootstrap(routers, at(200s));
  CHECK_FALSE(get_peers_sent());  // the bootstrap's find_node
  node.on_timer(at(200s));
  CHECK(get_peers_sent());
}

TEST_CASE("[dht] node: a flood of queries is answered only up to the reply rate", "[dht]") {
  settings s;
  s.seed = 8;
  s.max_replies_per_second = 50;
  s.reply_burst = 20;
  dht_node node(s);
  query ping;
  ping.kind = method::ping;
  ping.id = id_at_distance(node.id(), 0);
  const auto count_replies = [&] {
    std::size_t replies = 0;
    for (const auto& out : only<send>(drain(node)))
      if (std::holds_alternative<response>(decoded(out).body)) ++replies;
    return replies;
  };
  for (std::uint32_t i = 0; i < 200; ++i) node.udp_received(ep4(i + 1), make_query("pp", ping), at(1s));
  CHECK(count_replies() == 20);
  CHECK(node.counters().queries_dropped == 180);
  for (std::uint32_t i = 0; i < 200; ++i) node.udp_received(ep4(i + 1), make_query("pp", ping), at(1s + 200ms));
  CHECK(count_replies() == 10);  // 50 a second
}

TEST_CASE("[dht] node: a dead node holds a lookup slot only for the short timeout", "[dht]") {
  settings s;
  s.seed = 9;
  s.alpha = 1;
  dht_node node(s);
  const node_id target = id_of("targettargettarget00");
  // Two nodes known; the closer one never answers.
  for (std::uint8_t i = 1; i <= 2; ++i) {
    node.add_node(ep(i), at(0s));
    const auto q = decoded(only<send>(drain(node)).at(0));
    response r;
    r.id = id_at_distance(target, i == 1 ? 150 : 10);
    node.udp_received(ep(i), make_answer(q.transaction_id, r), at(0s));
  }
  drain(node);
  REQUIRE(node.find_node(target, at(1s)));
  auto sends = only<send>(drain(node));
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].to == ep(1));
  node.on_timer(at(1s + 999ms));
  CHECK(only<send>(drain(node)).empty());
  node.on_timer(at(2s));  // one second without an answer: the next node is asked
  sends = only<send>(drain(node));
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].to == ep(2));
}
