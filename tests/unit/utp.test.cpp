#include "utp/packet.hpp"
#include "utp/socket_manager.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <vector>

using namespace wt;
using namespace wt::utp;
using namespace std::chrono_literals;

namespace {

time_point at(duration d) { return time_point{} + d; }

header sample_header() {
  header h;
  h.type = packet_type::data;
  h.connection_id = 0xbeef;
  h.timestamp_us = 0x01020304;
  h.timestamp_difference_us = 0xa0b0c0d0;
  h.wnd_size = 1 << 20;
  h.seq_nr = 0xfffe;
  h.ack_nr = 7;
  return h;
}

byte_buffer pattern(std::size_t n, std::uint32_t seed) {
  byte_buffer b(n);
  rng r(seed);
  for (auto& x : b) x = static_cast<std::uint8_t>(r.next());
  return b;
}

// Two socket managers on a simulated sim_link: delay, jitter (so reordering), loss and
// duplication, chosen by a seeded generator; time jumps to the next event.
struct sim_link {
  struct flight {
    time_point when;
    int to = 0;
    byte_buffer data;
  };
  struct side {
    socket_manager m;
    wire::endpoint addr;
    std::map<socket_id, byte_buffer> bytes;
    std::map<socket_id, out::closed> closed;
    std::vector<socket_id> accepted, connected;
    std::size_t acked = 0;
    explicit side(manager_settings s, wire::endpoint e) : m(std::move(s)), addr(e) {}
  };
  side a, b;
  std::vector<flight> wire_;
  rng r{7};
  double loss = 0, duplicate = 0;
  duration delay = 10ms, jitter = 0ms;
  time_point now = at(1s);
  std::size_t datagrams = 0, dropped = 0;
  bool dead = false;  // drop everything
  std::size_t max_in_flight_a = 0;

  static manager_settings with_seed(std::uint64_t seed, settings s = {}) {
    manager_settings m;
    m.connection = s;
    m.seed = seed;
    return m;
  }
  explicit sim_link(settings sa = {}, settings sb = {})
      : a(with_seed(1, sa), wire::make_endpoint_v4({127, 0, 0, 1}, 6881)),
        b(with_seed(2, sb), wire::make_endpoint_v4({127, 0, 0, 2}, 6882)) {}

  bool chance(double p) { return p > 0 && static_cast<double>(r.below(1'000'000)) < p * 1e6; }

  void drain(side& s, int to) {
    while (auto o = s.m.poll()) {
      if (auto* d = std::get_if<out::datagram>(&*o)) {
        ++datagrams;
        if (dead || chance(loss)) {
          ++dropped;
          continue;
        }
        const duration j = jitter.count() ? duration(static_cast<std::int64_t>(r.up_to(static_cast<std::uint64_t>(jitter.count())))) : 0us;
        wire_.push_back({now + delay + j, to, d->data});
        if (chance(duplicate)) wire_.push_back({now + delay + j + 3ms, to, d->data});
      } else if (auto* x = std::get_if<out::data>(&*o)) {
        auto& v = s.bytes[x->id];
        v.insert(v.end(), x->bytes.begin(), x->bytes.end());
      } else if (auto* c = std::get_if<out::closed>(&*o)) {
        s.closed[c->id] = *c;
      } else if (auto* ac = std::get_if<out::accepted>(&*o)) {
        s.accepted.push_back(ac->id);
      } else if (auto* cn = std::get_if<out::connected>(&*o)) {
        s.connected.push_back(cn->id);
      } else if (auto* st = std::get_if<out::sent>(&*o)) {
        s.acked += st->bytes;
      }
    }
  }
  void pump() {
    a.m.flush(now);
    b.m.flush(now);
    drain(a, 1);
    drain(b, 0);
  }
  // One step: to the next datagram or deadline. False when nothing is left to happen.
  bool step() {
    std::optional<time_point> next;
    for (const auto& f : wire_)
      if (!next || f.when < *next) next = f.when;
    for (auto* s : {&a, &b})
      if (auto d = s->m.next_deadline(); d && (!next || *d < *next)) next = d;
    if (!next) return false;
    now = std::max(now, *next);
    std::vector<flight> due;
    for (auto it = wire_.begin(); it != wire_.end();) {
      if (it->when <= now) {
        due.push_back(std::move(*it));
        it = wire_.erase(it);
      } else {
        ++it;
      }
    }
    std::stable_sort(due.begin(), due.end(), [](const flight& x, const flight& y) { return x.when < y.when; });
    for (auto& f : due) {
      side& to = f.to == 0 ? a : b;
      side& from = f.to == 0 ? b : a;
      to.m.received(from.addr, f.data, now);
      pump();
    }
    a.m.on_timer(now);
    b.m.on_timer(now);
    pump();
    for (socket_id id = 1; id < 4; ++id)
      if (const auto* c = a.m.find(id)) max_in_flight_a = std::max(max_in_flight_a, c->in_flight_bytes());
    return true;
  }
  template <class F>
  bool run_until(F done, duration limit = 600s) {
    const time_point end = now + limit;
    while (!done()) {
      if (now > end || !step()) return done();
    }
    return true;
  }
};

}  // namespace

TEST_CASE("[utp] packet round trip", "[utp]") {
  header h = sample_header();
  const byte_buffer payload = pattern(100, 1);
  SECTION("without extensions") {
    const byte_buffer d = encode(h, payload);
    REQUIRE(d.size() == header_size + 100);
    CHECK(d[0] == 0x01);  // ST_DATA, version 1
    const auto r = parse(d);
    REQUIRE(r.value);
    CHECK(r.value->h.type == packet_type::data);
    CHECK(r.value->h.connection_id == 0xbeef);
    CHECK(r.value->h.timestamp_us == 0x01020304);
    CHECK(r.value->h.timestamp_difference_us == 0xa0b0c0d0);
    CHECK(r.value->h.wnd_size == 1u << 20);
    CHECK(r.value->h.seq_nr == 0xfffe);
    CHECK(r.value->h.ack_nr == 7);
    CHECK(r.value->h.sack.empty());
    CHECK(std::equal(payload.begin(), payload.end(), r.value->payload.begin(), r.value->payload.end()));
  }
  SECTION("with a selective ACK, every type") {
    h.sack = {0x05, 0, 0, 0x80};
    for (auto t : {packet_type::data, packet_type::fin, packet_type::state, packet_type::reset, packet_type::syn}) {
      h.type = t;
      const byte_buffer d = encode(h, payload);
      REQUIRE(d.size() == header_size + 6 + 100);
      CHECK(d[0] >> 4 == static_cast<int>(t));
      CHECK(d[1] == extension_sack);
      const auto r = parse(d);
      REQUIRE(r.value);
      CHECK(r.value->h.type == t);
      CHECK(r.value->h.sack == h.sack);
      CHECK(r.value->payload.size() == 100);
    }
  }
  SECTION("an unknown extension is skipped") {
    byte_buffer d = encode(h);
    d[1] = 2;  // libtorrent's close reason
    d.insert(d.end(), {0, 4, 0, 0, 0, 9, 'x'});
    const auto r = parse(d);
    REQUIRE(r.value);
    CHECK(r.value->h.sack.empty());
    REQUIRE(r.value->payload.size() == 1);
    CHECK(r.value->payload[0] == 'x');
  }
  SECTION("a header alone from known bytes") {
    // ST_SYN, version 1, id 0x1234, seq 1: as BEP 29 draws it.
    const byte_buffer d = {0x41, 0, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0};
    const auto r = parse(d);
    REQUIRE(r.value);
    CHECK(r.value->h.type == packet_type::syn);
    CHECK(r.value->h.connection_id == 0x1234);
    CHECK(r.value->h.timestamp_us == 1);
    CHECK(r.value->h.wnd_size == 0x100000);
    CHECK(r.value->h.seq_nr == 1);
    CHECK(encode(r.value->h) == d);
  }
}

TEST_CASE("[utp] packet parse refuses malformed datagrams", "[utp]") {
  header h = sample_header();
  h.sack = {1, 2, 3, 4};
  const byte_buffer good = encode(h);
  SECTION("every prefix of a packet with an extension") {
    for (std::size_t n = 0; n < good.size(); ++n) {
      const auto r = parse(byte_view(good).first(n));
      CHECK_FALSE(r.value);
      CHECK(r.error == parse_error::too_short);
    }
  }
  SECTION("version and type") {
    byte_buffer d = good;
    d[0] = 0x02;
    CHECK(parse(d).error == parse_error::bad_version);
    d[0] = 0x51;
    CHECK(parse(d).error == parse_error::bad_type);
    d[0] = 0xf1;
    CHECK(parse(d).error == parse_error::bad_type);
  }
  SECTION("selective ACK lengths: any (libtorrent sends 6 and 18 bytes), kept up to the bound") {
    byte_buffer d = encode(sample_header());
    d[1] = extension_sack;
    for (int len : {0, 3, 6, 18, 64, 200, 255}) {
      byte_buffer e = d;
      e.push_back(0);
      e.push_back(static_cast<std::uint8_t>(len));
      e.insert(e.end(), static_cast<std::size_t>(len), 0xff);
      e.push_back('p');
      const auto r = parse(e);
      REQUIRE(r.value);
      CHECK(r.value->h.sack.size() == std::min<std::size_t>(static_cast<std::size_t>(len), max_sack_bytes));
      REQUIRE(r.value->payload.size() == 1);
      CHECK(r.value->payload[0] == 'p');
    }
    // Two selective ACKs in one packet: refused.
    byte_buffer e = d;
    e.insert(e.end(), {extension_sack, 4, 1, 0, 0, 0, 0, 4, 1, 0, 0, 0});
    CHECK(parse(e).error == parse_error::bad_extension);
  }
  SECTION("a chain of extensions too long, or one that loops past the end") {
    byte_buffer d = encode(sample_header());
    d[1] = 9;
    for (int i = 0; i < 20; ++i) d.insert(d.end(), {9, 0});
    CHECK(parse(d).error == parse_error::bad_extension);
    byte_buffer e = encode(sample_header());
    e[1] = 9;
    e.insert(e.end(), {0, 200, 1, 2});
    CHECK(parse(e).error == parse_error::too_short);
  }
  SECTION("an absurd length") {
    byte_buffer d = encode(sample_header(), pattern(max_datagram, 2));
    CHECK(parse(d).error == parse_error::too_long);
  }
}

TEST_CASE("[utp] sequence numbers wrap", "[utp]") {
  CHECK(seq_less(1, 2));
  CHECK(seq_less(0xffff, 0));
  CHECK(seq_less(0xfff0, 5));
  CHECK_FALSE(seq_less(5, 0xfff0));
  CHECK_FALSE(seq_less(7, 7));
}

TEST_CASE("[utp] connection ids and the handshake", "[utp]") {
  sim_link l;
  const socket_id id = l.a.m.connect(l.b.addr, l.now);
  l.pump();
  REQUIRE(l.wire_.size() == 1);
  const auto syn = parse(l.wire_[0].data);
  REQUIRE(syn.value);
  CHECK(syn.value->h.type == packet_type::syn);
  const std::uint16_t r = syn.value->h.connection_id;
  REQUIRE(l.run_until([&] { return !l.a.connected.empty(); }));
  CHECK(l.a.connected == std::vector<socket_id>{id});
  REQUIRE(l.b.accepted.size() == 1);
  CHECK(l.a.m.find(id)->recv_id() == r);
  CHECK(l.a.m.find(id)->send_id() == static_cast<std::uint16_t>(r + 1));
  const auto* acc = l.b.m.find(l.b.accepted[0]);
  CHECK(acc->recv_id() == static_cast<std::uint16_t>(r + 1));
  CHECK(acc->send_id() == r);
  // Data from the initiator carries r + 1, from the acceptor r.
  l.a.m.send(id, as_bytes("hello"));
  l.b.m.send(l.b.accepted[0], as_bytes("world"));
  l.pump();
  for (const auto& f : l.wire_) {
    const auto p = parse(f.data);
    REQUIRE(p.value);
    if (p.value->h.type == packet_type::data)
      CHECK(p.value->h.connection_id == (f.to == 1 ? static_cast<std::uint16_t>(r + 1) : r));
  }
  REQUIRE(l.run_until([&] { return l.a.bytes[id].size() == 5 && l.b.bytes[l.b.accepted[0]].size() == 5; }));
  CHECK(as_chars(l.a.bytes[id]) == "world");
  CHECK(as_chars(l.b.bytes[l.b.accepted[0]]) == "hello");
}

TEST_CASE("[utp] a stream both ways, in order, whatever the sim_link does", "[utp]") {
  struct kind {
    const char* name;
    double loss, duplicate;
    duration delay, jitter;
  };
  const kind kinds[] = {
      {"clean", 0, 0, 10ms, 0ms},
      {"10% loss", 0.10, 0, 20ms, 0ms},
      {"reordering", 0, 0, 5ms, 30ms},
      {"duplicates", 0, 0.2, 10ms, 2ms},
      {"all of it", 0.05, 0.05, 30ms, 40ms},
  };
  for (const auto& k : kinds) {
    DYNAMIC_SECTION(k.name) {
      sim_link l;
      l.loss = k.loss;
      l.duplicate = k.duplicate;
      l.delay = k.delay;
      l.jitter = k.jitter;
      const byte_buffer up = pattern(300'000, 3), down = pattern(200'000, 4);
      const socket_id id = l.a.m.connect(l.b.addr, l.now);
      l.a.m.send(id, up);  // queued before the connection is open
      l.pump();
      REQUIRE(l.run_until([&] { return !l.b.accepted.empty(); }));
      const socket_id peer = l.b.accepted[0];
      l.b.m.send(peer, down);
      REQUIRE(l.run_until([&] { return l.b.bytes[peer].size() >= up.size() && l.a.bytes[id].size() >= down.size(); }));
      CHECK((l.b.bytes[peer] == up));
      CHECK((l.a.bytes[id] == down));
      REQUIRE(l.run_until([&] { return l.a.acked == up.size() && l.b.acked == down.size(); }));
      CHECK(l.a.closed.empty());
      CHECK(l.b.closed.empty());
      if (k.loss > 0) CHECK(l.dropped > 0);
    }
  }
}

TEST_CASE("[utp] FIN: the stream ends after its last byte, both sockets go", "[utp]") {
  sim_link l;
  l.loss = 0.1;
  const byte_buffer up = pattern(50'000, 5);
  const socket_id id = l.a.m.connect(l.b.addr, l.now);
  l.a.m.send(id, up);
  l.a.m.close(id, l.now);  // a FIN after the bytes
  l.pump();
  REQUIRE(l.run_until([&] { return !l.b.accepted.empty() && l.b.closed.contains(l.b.accepted[0]); }));
  const socket_id peer = l.b.accepted[0];
  CHECK((l.b.bytes[peer] == up));
  CHECK_FALSE(l.b.closed[peer].error);
  CHECK(l.b.closed[peer].reason == "closed by the peer");
  REQUIRE(l.run_until([&] { return l.a.m.size() == 0; }));
  CHECK(l.a.closed.empty());  // nothing reported after close()
  CHECK(l.b.m.size() == 0);
}

TEST_CASE("[utp] RESET and refused connections", "[utp]") {
  SECTION("no one accepts: the SYN gets a RESET") {
    sim_link l;
    l.b.m.set_accept(false);
    const socket_id id = l.a.m.connect(l.b.addr, l.now);
    l.pump();
    REQUIRE(l.run_until([&] { return l.a.closed.contains(id); }));
    CHECK(l.a.closed[id].error);
    CHECK_FALSE(l.a.closed[id].was_connected);
    CHECK(l.a.closed[id].reason == "uTP connection refused");
    CHECK(l.now < at(2s));
  }
  SECTION("the peer forgot the connection: a RESET ends ours") {
    sim_link l;
    const socket_id id = l.a.m.connect(l.b.addr, l.now);
    l.pump();
    REQUIRE(l.run_until([&] { return !l.a.connected.empty(); }));
    // A fresh manager at b's address knows nothing of it.
    l.b.m = socket_manager(sim_link::with_seed(9));
    l.a.m.send(id, as_bytes("anyone?"));
    l.pump();
    REQUIRE(l.run_until([&] { return l.a.closed.contains(id); }, 5s));
    CHECK(l.a.closed[id].error);
    CHECK(l.a.closed[id].was_connected);
    CHECK(l.a.closed[id].reason == "uTP connection reset");
  }
  SECTION("a RESET is never answered, a datagram that is not uTP is left alone") {
    sim_link l;
    header h = sample_header();
    h.type = packet_type::reset;
    CHECK(l.a.m.received(l.b.addr, encode(h), l.now));
    CHECK_FALSE(l.a.m.poll());
    CHECK_FALSE(l.a.m.received(l.b.addr, as_bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"), l.now));
    CHECK_FALSE(l.a.m.poll());
  }
}

TEST_CASE("[utp] timeouts", "[utp]") {
  SECTION("a SYN that no one answers: sent twice, then the connection fails") {
    sim_link l;
    l.dead = true;
    const socket_id id = l.a.m.connect(l.b.addr, l.now);
    l.pump();
    const time_point start = l.now;
    REQUIRE(l.run_until([&] { return l.a.closed.contains(id); }));
    CHECK(l.datagrams == 2);
    CHECK(l.a.closed[id].reason == "uTP connect timed out");
    CHECK(l.now - start == 3s);  // 1 s, then 2 s
  }
  SECTION("a sim_link that dies mid-stream: retransmissions back off, then the connection fails") {
    sim_link l;
    const socket_id id = l.a.m.connect(l.b.addr, l.now);
    l.pump();
    REQUIRE(l.run_until([&] { return !l.a.connected.empty(); }));
    l.dead = true;
    l.a.m.send(id, pattern(10'000, 6));
    l.pump();
    const time_point start = l.now;
    std::vector<duration> timeouts;
    REQUIRE(l.run_until([&] {
      if (const auto* c = l.a.m.find(id); c && (timeouts.empty() || timeouts.back() != c->timeout())) timeouts.push_back(c->timeout());
      return l.a.closed.contains(id);
    }));
    CHECK(l.a.closed[id].reason == "uTP connection timed out");
    CHECK(l.a.closed[id].error);
    REQUIRE(timeouts.size() >= 4);
    for (std::size_t i = 1; i < timeouts.size(); ++i) CHECK(timeouts[i] == std::min<duration>(timeouts[i - 1] * 2, 30s));
    CHECK(l.now - start > 30s);
    CHECK(l.now - start < 200s);
  }
  SECTION("an idle connection sends keep-alives and stays open") {
    sim_link l;
    const socket_id id = l.a.m.connect(l.b.addr, l.now);
    l.pump();
    REQUIRE(l.run_until([&] { return !l.a.connected.empty(); }));
    const std::size_t before = l.datagrams;
    l.run_until([] { return false; }, 120s);
    CHECK(l.datagrams - before >= 6);  // each side every 29 s
    CHECK(l.a.closed.empty());
    CHECK(l.b.closed.empty());
    CHECK(l.a.m.find(id));
  }
}

TEST_CASE("[utp] the window: the peer's wnd_size and LEDBAT", "[utp]") {
  SECTION("never more in flight than the receiver's window") {
    settings small;
    small.receive_window = 8000;
    sim_link l({}, small);
    l.jitter = 40ms;  // reordering fills the receiver's buffer
    const byte_buffer up = pattern(200'000, 7);
    const socket_id id = l.a.m.connect(l.b.addr, l.now);
    l.a.m.send(id, up);
    l.pump();
    REQUIRE(l.run_until([&] { return !l.b.accepted.empty() && l.b.bytes[l.b.accepted[0]].size() == up.size(); }));
    CHECK((l.b.bytes[l.b.accepted[0]] == up));
    CHECK(l.max_in_flight_a <= 8000 + header_size + 1380);
    CHECK(l.max_in_flight_a > 0);
  }
  SECTION("the window grows while the delay is low and shrinks above the target") {
    settings s;
    s.max_window = 1 << 20;
    const time_point t0 = at(10s);
    connection c = connection::outgoing(s, 100, 500, t0);
    const auto syn = parse(*c.take_datagram());
    REQUIRE(syn.value);
    header h;
    h.type = packet_type::state;
    h.connection_id = 100;
    h.seq_nr = 1000;
    h.ack_nr = 500;
    h.wnd_size = 8 << 20;
    h.timestamp_us = 1;
    h.timestamp_difference_us = 50'000;  // the base delay
    c.received(packet{h, {}}, t0 + 20ms);
    REQUIRE(c.status() == connection::state::connected);
    time_point now = t0 + 20ms;
    std::uint16_t next = 501;
    const byte_buffer chunk = pattern(1'000'000, 8);
    auto ack_all = [&](std::uint32_t delay) {
      while (c.queued_bytes() < 4'000'000) c.send(chunk);  // always more to send
      c.flush(now);
      while (c.take_datagram()) {
      }
      now += 20ms;
      h.ack_nr = static_cast<std::uint16_t>(next + c.in_flight_bytes() / (header_size + 1380) - 1);
      next = static_cast<std::uint16_t>(h.ack_nr + 1);
      h.timestamp_difference_us = 50'000 + delay;
      c.received(packet{h, {}}, now);
    };
    for (int i = 0; i < 30; ++i) ack_all(5'000);  // 5 ms of queueing: slow start, then growth
    const std::uint32_t grown = c.window();
    CHECK(grown > 20 * 1400);
    for (int i = 0; i < 30; ++i) ack_all(200'000);  // 200 ms: twice the target
    // LEDBAT's decrease is linear: about the gain (3,000 bytes) per round trip.
    CHECK(c.window() < grown - 30 * 2500);
    CHECK(c.window() > grown - 30 * 3500);
    const std::uint32_t shrunk = c.window();
    for (int i = 0; i < 30; ++i) ack_all(100'000);  // at the target: it stays
    CHECK(c.window() <= shrunk + 1000);
    CHECK(c.window() + 1000 >= shrunk);
    for (int i = 0; i < 20; ++i) ack_all(0);  // no queueing: grows linearly (no slow start again)
    CHECK(c.window() > shrunk + 20 * 2500);
    CHECK(c.window() < shrunk + 20 * 3500);
  }
}

TEST_CASE("[utp] a batch of DATA packets is acknowledged once, at flush()", "[utp]") {
  settings s;
  const time_point t0 = at(5s);
  header syn_h;
  syn_h.type = packet_type::syn;
  syn_h.connection_id = 700;
  syn_h.seq_nr = 40;
  syn_h.wnd_size = 1 << 20;
  connection c = connection::incoming(s, packet{syn_h, {}}, 9000, t0);
  REQUIRE(c.take_datagram());  // the STATE answering the SYN, at once
  REQUIRE_FALSE(c.take_datagram());
  const byte_buffer payload = pattern(1000, 3);
  header h = syn_h;
  h.type = packet_type::data;
  h.ack_nr = 8999;  // (acknowledges nothing of ours: we have sent no DATA)
  for (std::uint16_t seq = 41; seq <= 50; ++seq) {
    h.seq_nr = seq;
    c.received(packet{h, payload}, t0 + 10ms);
    CHECK_FALSE(c.take_datagram());  // no STATE per packet
  }
  std::size_t delivered = 0;
  while (auto e = c.take_event())
    if (e->what == event::kind::data) delivered += e->bytes.size();
  CHECK(delivered == 10 * payload.size());
  c.flush(t0 + 10ms);
  const auto ack = c.take_datagram();
  REQUIRE(ack);
  const auto p = parse(*ack);
  REQUIRE(p.value);
  CHECK(p.value->h.type == packet_type::state);
  CHECK(p.value->h.ack_nr == 50);
  CHECK_FALSE(c.take_datagram());  // one STATE for the ten
  c.flush(t0 + 11ms);
  CHECK_FALSE(c.take_datagram());  // nothing owed any more
}
