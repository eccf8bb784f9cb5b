#include "tracker/udp_tracker.hpp"
#include "outputs.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace wt;
using namespace wt::tracker;
using namespace wt::tracker::udp;
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

void put32(byte_buffer& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
void put64(byte_buffer& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}
std::uint32_t get32(const byte_buffer& in, std::size_t at) {
  return (std::uint32_t{in[at]} << 24) | (std::uint32_t{in[at + 1]} << 16) |
         (std::uint32_t{in[at + 2]} << 8) | in[at + 3];
}
std::uint64_t get64(const byte_buffer& in, std::size_t at) {
  return (std::uint64_t{get32(in, at)} << 32) | get32(in, at + 4);
}

byte_buffer connect_reply(std::uint32_t tid, std::uint64_t connection_id) {
  byte_buffer b;
  put32(b, 0);
  put32(b, tid);
  put64(b, connection_id);
  return b;
}

byte_buffer announce_reply_v4(std::uint32_t tid, std::uint32_t interval, std::uint32_t leechers,
                              std::uint32_t seeders) {
  byte_buffer b;
  put32(b, 1);
  put32(b, tid);
  put32(b, interval);
  put32(b, leechers);
  put32(b, seeders);
  wire::append_compact(wire::make_endpoint_v4({1, 2, 3, 4}, 6881), b);
  return b;
}

byte_buffer error_reply_packet(std::uint32_t tid, std::string_view text) {
  byte_buffer b;
  put32(b, 3);
  put32(b, tid);
  b.insert(b.end(), text.begin(), text.end());
  return b;
}

// The one datagram the connection sent.
byte_buffer sent_one(connection& c) {
  auto sent = only<send_datagram>(drain(c));
  REQUIRE(sent.size() == 1);
  return sent[0].bytes;
}

announce_request sample_request() {
  announce_request r;
  r.info_hash = filled(0xAA);
  r.peer_id = filled(0xBB);
  r.port = 0x1AE1;
  r.stats = {0x0102030405060708, 0x1112131415161718, 0x2122232425262728};
  r.event = announce_event::started;
  r.numwant = 50;
  r.key = 0xDEADBEEF;
  return r;
}

}  // namespace

TEST_CASE("[udp_tracker] packets match the BEP 15 layout", "[udp_tracker]") {
  SECTION("connect") {
    const byte_buffer expected = {0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80,  // protocol id
                                  0x00, 0x00, 0x00, 0x00,                          // action 0
                                  0x12, 0x34, 0x56, 0x78};                         // transaction
    CHECK(connect_request(0x12345678) == expected);
  }
  SECTION("announce") {
    const auto p = announce_request_packet(0x0A0B0C0D0E0F1011, 0xCAFEBABE, sample_request());
    REQUIRE(p.size() == 98);
    CHECK(get64(p, 0) == 0x0A0B0C0D0E0F1011);  // connection id
    CHECK(get32(p, 8) == 1);                    // action announce
    CHECK(get32(p, 12) == 0xCAFEBABE);
    CHECK(byte_buffer(p.begin() + 16, p.begin() + 36) == byte_buffer(20, 0xAA));
    CHECK(byte_buffer(p.begin() + 36, p.begin() + 56) == byte_buffer(20, 0xBB));
    CHECK(get64(p, 56) == 0x1112131415161718);  // downloaded
    CHECK(get64(p, 64) == 0x2122232425262728);  // left
    CHECK(get64(p, 72) == 0x0102030405060708);  // uploaded
    CHECK(get32(p, 80) == 2);                   // started
    CHECK(get32(p, 84) == 0);                   // IP: the sender's
    CHECK(get32(p, 88) == 0xDEADBEEF);          // key
    CHECK(get32(p, 92) == 50);                  // num_want
    CHECK(p[96] == 0x1A);
    CHECK(p[97] == 0xE1);

    auto r = sample_request();
    r.numwant.reset();
    r.stats.left.reset();
    const auto defaults = announce_request_packet(1, 2, r);
    CHECK(get32(defaults, 92) == 0xFFFFFFFF);  // -1: the tracker's default
    CHECK(get64(defaults, 64) == static_cast<std::uint64_t>(unknown_left));
    // The host's parameters (getAnnounceOpts): integers replace the fields UDP has; the rest
    // has no place in the packet.
    auto extra = sample_request();
    extra.extra = {{"uploaded", "5", true}, {"left", "0", true}, {"numwant", "9", true}, {"downloaded", "1.5", true},
                   {"key", "1", true}, {"uploaded", "-1", true}, {"passkey", "abc", false}, {"left", "3", false}};
    const auto with_extra = announce_request_packet(1, 2, extra);
    REQUIRE(with_extra.size() == 98);
    CHECK(get64(with_extra, 56) == 0x1112131415161718);  // 1.5 is no integer
    CHECK(get64(with_extra, 64) == 0);
    CHECK(get64(with_extra, 72) == 5);                   // -1 does not fit
    CHECK(get32(with_extra, 88) == 0xDEADBEEF);          // the key is ours
    CHECK(get32(with_extra, 92) == 9);
    for (const auto& [event, code] : {std::pair{announce_event::none, 0u}, {announce_event::completed, 1u},
                                     {announce_event::started, 2u}, {announce_event::stopped, 3u}}) {
      r.event = event;
      CHECK(get32(announce_request_packet(1, 2, r), 80) == code);
    }
  }
  SECTION("scrape") {
    const id20 hashes[] = {filled(1), filled(2)};
    const auto p = scrape_request_packet(7, 9, hashes);
    REQUIRE(p.size() == 16 + 40);
    CHECK(get64(p, 0) == 7);
    CHECK(get32(p, 8) == 2);
    CHECK(get32(p, 12) == 9);
    CHECK(p[16] == 1);
    CHECK(p[36] == 2);
    std::vector<id20> many(100, filled(3));
    CHECK(scrape_request_packet(7, 9, many).size() == 16 + 20 * max_scrape_hashes);
  }
}

TEST_CASE("[udp_tracker] responses", "[udp_tracker]") {
  SECTION("connect") {
    auto r = parse_response(connect_reply(5, 0x1122334455667788), ip_family::v4, 100);
    REQUIRE(r.ok());
    CHECK(r->transaction_id == 5);
    CHECK(std::get<connect_response>(r->body).connection_id == 0x1122334455667788);
  }
  SECTION("announce over IPv4") {
    auto r = parse_response(announce_reply_v4(6, 1800, 3, 4), ip_family::v4, 100);
    REQUIRE(r.ok());
    const auto& a = std::get<announce_reply>(r->body).response;
    CHECK(a.interval == 1800);
    CHECK(a.incomplete == 3);
    CHECK(a.complete == 4);
    REQUIRE(a.peers.size() == 1);
    CHECK(a.peers[0] == wire::make_endpoint_v4({1, 2, 3, 4}, 6881));
  }
  SECTION("announce over IPv6: 18-byte peers") {
    byte_buffer b;
    put32(b, 1);
    put32(b, 6);
    put32(b, 60);
    put32(b, 0);
    put32(b, 1);
    std::array<std::uint8_t, 16> v6{};
    v6[0] = 0x20;
    v6[15] = 9;
    wire::append_compact(wire::make_endpoint_v6(v6, 80), b);
    auto r = parse_response(b, ip_family::v6, 100);
    REQUIRE(r.ok());
    const auto& peers = std::get<announce_reply>(r->body).response.peers;
    REQUIRE(peers.size() == 1);
    CHECK(peers[0] == wire::make_endpoint_v6(v6, 80));
    // The same bytes over IPv4 read as three 6-byte entries: the family must come from the socket.
    auto as_v4 = parse_response(b, ip_family::v4, 100);
    REQUIRE(as_v4.ok());
    CHECK(std::get<announce_reply>(as_v4->body).response.peers.size() == 3);
    b.pop_back();
    CHECK(parse_response(b, ip_family::v6, 100).err().code == errc::wire_bad_compact_peers);
  }
  SECTION("scrape") {
    byte_buffer b;
    put32(b, 2);
    put32(b, 7);
    for (std::uint32_t v : {10u, 20u, 30u, 1u, 2u, 3u}) put32(b, v);
    auto r = parse_response(b, ip_family::v4, 100);
    REQUIRE(r.ok());
    const auto& entries = std::get<scrape_reply>(r->body).entries;
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].complete == 10);
    CHECK(entries[0].downloaded == 20);
    CHECK(entries[0].incomplete == 30);
    CHECK(entries[1].incomplete == 3);
  }
  SECTION("error") {
    auto r = parse_response(error_reply_packet(8, "go away"), ip_family::v4, 100);
    REQUIRE(r.ok());
    CHECK(r->transaction_id == 8);
    CHECK(std::get<error_reply>(r->body).message == "go away");
  }
  SECTION("malformed") {
    CHECK_FALSE(parse_response(byte_buffer{0, 0, 0, 0, 0, 0, 0}, ip_family::v4, 100).ok());
    auto short_connect = connect_reply(1, 2);
    short_connect.pop_back();
    CHECK_FALSE(parse_response(short_connect, ip_family::v4, 100).ok());
    auto short_announce = announce_reply_v4(1, 1, 1, 1);
    short_announce.resize(19);
    CHECK_FALSE(parse_response(short_announce, ip_family::v4, 100).ok());
    auto odd_peers = announce_reply_v4(1, 1, 1, 1);
    odd_peers.push_back(0);
    CHECK(parse_response(odd_peers, ip_family::v4, 100).err().code == errc::wire_bad_compact_peers);
    // More peers than max_peers: the first ones are kept, not the answer refused.
    const auto cut = parse_response(announce_reply_v4(1, 1, 1, 1), ip_family::v4, 0);
    REQUIRE(cut.ok());
    CHECK(std::get<announce_reply>(cut->body).response.peers.empty());
    // An interval above 2^31 - 1 (negative as BEP 15's int32) reads as absent; the peers stay.
    const auto huge = parse_response(announce_reply_v4(1, 0xFFFFFFFFu, 1, 1), ip_family::v4, 100);
    REQUIRE(huge.ok());
    CHECK_FALSE(std::get<announce_reply>(huge->body).response.interval.has_value());
    CHECK(std::get<announce_reply>(huge->body).response.peers.size() == 1);
    byte_buffer odd_scrape;
    put32(odd_scrape, 2);
    put32(odd_scrape, 1);
    put32(odd_scrape, 1);
    CHECK_FALSE(parse_response(odd_scrape, ip_family::v4, 100).ok());
    byte_buffer unknown;
    put32(unknown, 9);
    put32(unknown, 1);
    CHECK_FALSE(parse_response(unknown, ip_family::v4, 100).ok());
    CHECK(parse_response(byte_buffer(max_datagram + 1, 0), ip_family::v4, 100).err().code ==
          errc::tracker_message_too_large);
  }
}

TEST_CASE("[udp_tracker] connect, then announce", "[udp_tracker]") {
  rng random(1);
  connection c({}, random);
  const auto id = c.announce(sample_request(), at(0s));
  const auto connect = sent_one(c);
  REQUIRE(connect.size() == 16);
  CHECK(get64(connect, 0) == protocol_id);
  const std::uint32_t connect_tid = get32(connect, 12);

  SECTION("a datagram with another transaction id is ignored") {
    c.received(connect_reply(connect_tid + 1, 99), ip_family::v4, at(1s));
    CHECK(drain(c).empty());
    CHECK(c.ignored_datagrams() == 1);
    CHECK_FALSE(c.has_connection_id(at(1s)));
  }

  c.received(connect_reply(connect_tid, 0x5555), ip_family::v4, at(1s));
  CHECK(c.has_connection_id(at(1s)));
  const auto announce = sent_one(c);
  REQUIRE(announce.size() == 98);
  CHECK(get64(announce, 0) == 0x5555);
  const std::uint32_t announce_tid = get32(announce, 12);
  CHECK(announce_tid != connect_tid);

  SECTION("the answer") {
    c.received(announce_reply_v4(announce_tid + 1, 60, 1, 2), ip_family::v4, at(2s));  // not ours
    CHECK(drain(c).empty());
    c.received(announce_reply_v4(announce_tid, 60, 1, 2), ip_family::v4, at(2s));
    const auto done = only<announce_done>(drain(c));
    REQUIRE(done.size() == 1);
    CHECK(done[0].id == id);
    CHECK(done[0].response.interval == 60);
    CHECK(done[0].response.peers.size() == 1);
    CHECK(c.idle());
    // A duplicate arrives late: ignored.
    c.received(announce_reply_v4(announce_tid, 60, 1, 2), ip_family::v4, at(3s));
    CHECK(drain(c).empty());
  }
  SECTION("an error action") {
    c.received(error_reply_packet(announce_tid, "unregistered torrent"), ip_family::v4, at(2s));
    const auto failed = only<request_failed>(drain(c));
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].kind == failure_kind::tracker_error);
    CHECK(failed[0].message == "unregistered torrent");
  }
  SECTION("a malformed answer with our transaction id") {
    auto bad = announce_reply_v4(announce_tid, 60, 1, 2);
    bad.pop_back();
    c.received(bad, ip_family::v4, at(2s));
    const auto failed = only<request_failed>(drain(c));
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].kind == failure_kind::bad_response);
  }
  SECTION("the answer of another action") {
    c.received(connect_reply(announce_tid, 1), ip_family::v4, at(2s));
    const auto failed = only<request_failed>(drain(c));
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].kind == failure_kind::bad_response);
  }
  SECTION("the socket fails") {
    c.socket_failed("ICMP port unreachable", at(2s));
    const auto failed = only<request_failed>(drain(c));
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].kind == failure_kind::socket_error);
    CHECK_FALSE(c.has_connection_id(at(2s)));
    CHECK_FALSE(c.next_deadline().has_value());
  }
  SECTION("cancel") {
    CHECK(c.cancel(id));
    CHECK_FALSE(c.cancel(id));
    c.received(announce_reply_v4(announce_tid, 60, 1, 2), ip_family::v4, at(2s));
    CHECK(drain(c).empty());
  }
}

TEST_CASE("[udp_tracker] connection id lasts one minute", "[udp_tracker]") {
  rng random(2);
  connection c({}, random);
  c.scrape(std::vector<id20>{filled(1)}, at(0s));
  const auto connect = sent_one(c);
  c.received(connect_reply(get32(connect, 12), 77), ip_family::v4, at(0s));
  const auto scrape = sent_one(c);
  CHECK(get32(scrape, 8) == 2);
  byte_buffer reply;
  put32(reply, 2);
  put32(reply, get32(scrape, 12));
  for (std::uint32_t v : {4u, 5u, 6u}) put32(reply, v);
  c.received(reply, ip_family::v4, at(1s));
  const auto done = only<scrape_done>(drain(c));
  REQUIRE(done.size() == 1);
  REQUIRE(done[0].entries.size() == 1);
  CHECK(done[0].entries[0].info_hash == filled(1));
  CHECK(done[0].entries[0].complete == 4);

  // Within the minute: straight to the announce, with the same connection id.
  c.announce(sample_request(), at(59s));
  auto direct = sent_one(c);
  CHECK(direct.size() == 98);
  CHECK(get64(direct, 0) == 77);
  c.received(announce_reply_v4(get32(direct, 12), 60, 0, 0), ip_family::v4, at(59s));
  drain(c);

  // After it: connect again first.
  CHECK_FALSE(c.has_connection_id(at(60s)));
  c.announce(sample_request(), at(60s));
  const auto again = sent_one(c);
  CHECK(again.size() == 16);
  CHECK(get64(again, 0) == protocol_id);
}

TEST_CASE("[udp_tracker] retransmission: base * 2^n, then failure", "[udp_tracker]") {
  rng random(3);
  settings s;
  s.retransmit_base = 1s;
  s.max_retransmit_exponent = 3;
  connection c(s, random);
  const auto id = c.announce(sample_request(), at(0s));
  const auto first = sent_one(c);

  SECTION("of the connect request, same transaction id each time") {
    // Sends at 0, 1, 3, 7 (waits of 1, 2, 4, 8 s), failure at 15.
    time_point now = at(0s);
    for (const auto wait : {1s, 2s, 4s}) {
      REQUIRE(c.next_deadline() == now + wait);
      c.on_timer(now + wait - 1ms);
      CHECK(drain(c).empty());
      now += wait;
      c.on_timer(now);
      CHECK(sent_one(c) == first);
    }
    REQUIRE(c.next_deadline() == now + 8s);
    c.on_timer(now + 8s);
    const auto failed = only<request_failed>(drain(c));
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].id == id);
    CHECK(failed[0].kind == failure_kind::timeout);
    CHECK_FALSE(c.next_deadline().has_value());
    CHECK(c.idle());
  }
  SECTION("of the announce; a connection id that expired meanwhile means connecting again") {
    c.received(connect_reply(get32(first, 12), 42), ip_family::v4, at(0s));
    const auto announce = sent_one(c);
    REQUIRE(c.next_deadline() == at(1s));
    c.on_timer(at(1s));
    CHECK(sent_one(c) == announce);  // the same bytes, the same transaction id
    REQUIRE(c.next_deadline() == at(3s));
    c.on_timer(at(3s));
    CHECK(sent_one(c) == announce);
    REQUIRE(c.next_deadline() == at(7s));
    // The tracker answers the first copy late: accepted.
    c.received(announce_reply_v4(get32(announce, 12), 60, 0, 0), ip_family::v4, at(5s));
    CHECK(only<announce_done>(drain(c)).size() == 1);
  }
  SECTION("the BEP 15 defaults: 15 s doubling up to 3840 s") {
    connection d({}, random);
    d.announce(sample_request(), at(0s));
    drain(d);
    time_point now = at(0s);
    std::vector<std::int64_t> waits;
    while (const auto next = d.next_deadline()) {
      waits.push_back(std::chrono::duration_cast<std::chrono::seconds>(*next - now).count());
      now = *next;
      d.on_timer(now);
      drain(d);
    }
    CHECK(waits == std::vector<std::int64_t>{15, 30, 60, 120, 240, 480, 960, 1920, 3840});
  }
}

TEST_CASE("[udp_tracker] an expired connection id during retransmission reconnects", "[udp_tracker]") {
  rng random(4);
  settings s;
  s.retransmit_base = 40s;
  connection c(s, random);
  c.announce(sample_request(), at(0s));
  const auto connect = sent_one(c);
  c.received(connect_reply(get32(connect, 12), 42), ip_family::v4, at(0s));
  const auto announce = sent_one(c);
  c.on_timer(at(40s));  // still valid: resend
  CHECK(sent_one(c) == announce);
  c.on_timer(at(120s));  // expired at 60 s: connect first
  const auto reconnect = sent_one(c);
  REQUIRE(reconnect.size() == 16);
  c.received(connect_reply(get32(reconnect, 12), 43), ip_family::v4, at(121s));
  const auto resent = sent_one(c);
  CHECK(get64(resent, 0) == 43);
  CHECK(get32(resent, 12) != get32(announce, 12));  // a new packet, a new transaction id
  c.received(announce_reply_v4(get32(resent, 12), 60, 0, 0), ip_family::v4, at(122s));
  CHECK(only<announce_done>(drain(c)).size() == 1);
}

TEST_CASE("[udp_tracker] transaction ids are random and distinct", "[udp_tracker]") {
  rng random(5);
  connection c({}, random);
  c.announce(sample_request(), at(0s));
  const auto connect = sent_one(c);
  c.received(connect_reply(get32(connect, 12), 1), ip_family::v4, at(0s));
  drain(c);
  std::vector<std::uint32_t> tids{get32(connect, 12)};
  for (int i = 0; i < 20; ++i) {
    c.announce(sample_request(), at(1s));
    tids.push_back(get32(sent_one(c), 12));
  }
  std::sort(tids.begin(), tids.end());
  CHECK(std::adjacent_find(tids.begin(), tids.end()) == tids.end());
  CHECK(tids.front() != tids.back());
}
