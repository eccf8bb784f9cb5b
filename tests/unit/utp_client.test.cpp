// Two clients (whole engines) move a torrent over uTP on a simulated UDP network with delay,
// jitter and loss; a dial to a peer without uTP falls back to TCP.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "host/client.hpp"
#include "metainfo/metainfo.hpp"

using namespace wt;
using namespace std::chrono_literals;

namespace {

struct udp_net {
  struct host {
    std::unique_ptr<client> c;
    memory_storage store;
    bool finished = false;
    bool udp = true;  // its uTP socket exists (else datagrams to it vanish)
    std::vector<peer_channel_event> channels;
    std::vector<client_out::connect> tcp_dials;
    std::vector<wire::endpoint> udp_probes;  // utp_probe outputs
    std::vector<std::string> closes;
    std::size_t tcp_sends = 0;
    // Every TCP dial so far was a uTP dial's probe, closed unused.
    bool only_probes() const {
      return tcp_dials.size() == static_cast<std::size_t>(std::count(closes.begin(), closes.end(), "probe done"));
    }
    std::vector<std::uint8_t> encryption;  // peer_connected_event::encryption, per peer met
  };
  struct flight {
    time_point when;
    std::size_t to = 0;
    wire::endpoint from;
    byte_buffer data;
  };
  std::vector<host> hosts;
  std::vector<flight> air;
  std::deque<std::function<void()>> actions;
  time_point now{1s};
  rng r{11};
  double loss = 0;
  duration delay = 15ms, jitter = 10ms;
  std::size_t datagrams = 0;

  static wire::endpoint address_of(std::size_t i) {
    return wire::make_endpoint_v4({10, 0, 0, static_cast<std::uint8_t>(i + 1)}, 6881);
  }
  std::size_t add(bool utp, encryption_policy encryption = encryption_policy::plain) {
    client_settings s;
    s.dial_peers = true;
    s.utp = utp;
    s.encryption = encryption;
    s.session.seed = hosts.size() + 3;
    s.session.listen_port = 6881;
    host h;
    h.c = std::make_unique<client>(s);
    h.udp = utp;
    hosts.push_back(std::move(h));
    return hosts.size() - 1;
  }
  void drain(std::size_t i) {
    while (auto o = hosts[i].c->poll()) {
      if (auto* u = std::get_if<client_out::utp_send>(&*o)) {
        ++datagrams;
        std::optional<std::size_t> to;
        for (std::size_t j = 0; j < hosts.size(); ++j)
          if (address_of(j) == u->to) to = j;
        if (!to || !hosts[*to].udp) continue;
        if (loss > 0 && r.below(1000) < static_cast<std::uint32_t>(loss * 1000)) continue;
        const auto j = duration(static_cast<std::int64_t>(r.up_to(static_cast<std::uint64_t>(jitter.count()))));
        air.push_back({now + delay + j, *to, address_of(i), std::move(u->data)});
      } else if (auto* st = std::get_if<client_out::storage>(&*o)) {
        actions.push_back([this, i, req = std::move(st->request)] {
          hosts[i].c->storage_completed(hosts[i].store.complete(req), now);
        });
      } else if (auto* d = std::get_if<client_out::connect>(&*o)) {
        hosts[i].tcp_dials.push_back(*d);
      } else if (auto* up = std::get_if<client_out::utp_probe>(&*o)) {
        hosts[i].udp_probes.push_back(up->to);
      } else if (std::holds_alternative<client_out::send>(*o)) {
        ++hosts[i].tcp_sends;
      } else if (auto* cl = std::get_if<client_out::close_peer>(&*o)) {
        hosts[i].closes.push_back(cl->reason);
      } else if (auto* e = std::get_if<client_event>(&*o)) {
        if (auto* ch = std::get_if<peer_channel_event>(e)) hosts[i].channels.push_back(*ch);
        if (auto* se = std::get_if<session_event>(e)) {
          if (std::holds_alternative<torrent_finished_event>(*se)) hosts[i].finished = true;
          if (auto* pc = std::get_if<peer_connected_event>(se)) hosts[i].encryption.push_back(pc->encryption);
        }
      }
    }
  }
  // Host i's TCP dial number `dial` opens: the session's connection is on it, not uTP.
  void tcp_dial_opens(std::size_t i, std::size_t dial) {
    const host_peer p = hosts[i].tcp_dials.at(dial).peer;
    hosts[i].c->channel_opened(p, now);
    drain(i);
    REQUIRE(hosts[i].channels.size() == 1);
    CHECK_FALSE(hosts[i].channels[0].utp);
    CHECK(hosts[i].channels[0].peer == p);
  }
  bool run(const std::function<bool()>& done, duration limit = 10min) {
    const time_point end = now + limit;
    while (now < end) {
      for (std::size_t i = 0; i < hosts.size(); ++i) drain(i);
      while (!actions.empty()) {
        auto a = std::move(actions.front());
        actions.pop_front();
        a();
        for (std::size_t i = 0; i < hosts.size(); ++i) drain(i);
      }
      if (done()) return true;
      std::optional<time_point> next;
      for (auto& h : hosts)
        if (auto d = h.c->next_deadline()) next = next ? std::min(*next, *d) : *d;
      for (const auto& f : air) next = next ? std::min(*next, f.when) : f.when;
      now = std::max(now + 1us, next.value_or(now + 1s));
      std::vector<flight> due;
      for (auto it = air.begin(); it != air.end();) {
        if (it->when <= now) {
          due.push_back(std::move(*it));
          it = air.erase(it);
        } else {
          ++it;
        }
      }
      std::stable_sort(due.begin(), due.end(), [](const flight& a, const flight& b) { return a.when < b.when; });
      for (auto& f : due) {
        hosts[f.to].c->utp_received(f.from, f.data, now);
        drain(f.to);
      }
      for (auto& h : hosts) h.c->on_timer(now);
    }
    return done();
  }
};

byte_buffer random_bytes(std::size_t n, std::uint64_t seed) {
  byte_buffer b(n);
  rng r(seed);
  for (auto& x : b) x = static_cast<std::uint8_t>(r.next());
  return b;
}

byte_buffer make_torrent(byte_view data) {
  input_file f{"data.bin", data};
  create_options o;
  o.piece_length = 64 * 1024;
  return *create_torrent(std::span<const input_file>(&f, 1), o);
}

}  // namespace

TEST_CASE("[utp_client] two engines move a torrent over uTP through loss, delay and reordering", "[utp_client]") {
  const double loss = GENERATE(0.0, 0.03, 0.10);
  udp_net n;
  n.loss = loss;
  const auto seeder = n.add(true), leecher = n.add(true);
  const byte_buffer data = random_bytes(2 * 1024 * 1024 + 777, 21);
  const byte_buffer torrent = make_torrent(data);
  auto ts = n.hosts[seeder].c->add_torrent(torrent, {.seed = true}, n.now);
  REQUIRE(ts);
  n.hosts[seeder].store.write_at(*ts, 0, data);
  auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
  REQUIRE(tl);
  REQUIRE(n.hosts[leecher].c->add_peer(*tl, udp_net::address_of(seeder), n.now) == client::add_peer_result::added);
  REQUIRE(n.run([&] { return n.hosts[leecher].finished; }));
  const auto got = n.hosts[leecher].store.read_at(*tl, 0, static_cast<std::uint32_t>(data.size()));
  REQUIRE(got);
  CHECK((*got == data));
  CHECK(n.hosts[leecher].only_probes());  // uTP all the way
  CHECK(n.hosts[leecher].tcp_sends == 0);
  CHECK(n.hosts[seeder].tcp_sends == 0);
  REQUIRE(n.hosts[leecher].channels.size() == 1);
  CHECK(n.hosts[leecher].channels[0].utp);
  CHECK(n.hosts[leecher].channels[0].offerer);  // ours: outgoing
  REQUIRE(n.hosts[seeder].channels.size() == 1);
  CHECK(n.hosts[seeder].channels[0].utp);
  CHECK_FALSE(n.hosts[seeder].channels[0].offerer);
  const auto st = n.hosts[seeder].c->engine().stats(*ts);
  CHECK(st->peers_by_source[static_cast<std::size_t>(peer_source::incoming)] == 1);
  INFO("virtual ms: " << std::chrono::duration_cast<std::chrono::milliseconds>(n.now - time_point{1s}).count());
  // Removing the torrent closes the connection with a FIN: the seeder's side goes too.
  n.hosts[leecher].c->remove_torrent(*tl, n.now);
  REQUIRE(n.run([&] { return n.hosts[seeder].c->open_peers() == 0 && n.hosts[leecher].c->open_peers() == 0; }, 60s));
  CHECK(n.hosts[seeder].closes.empty());  // no host socket to close for uTP peers
}

TEST_CASE("[utp_client] an address that refuses TCP ends its uTP dial at once: dead addresses do not hold the next dials back", "[utp_client]") {
  udp_net n;
  const auto leecher = n.add(true);
  const byte_buffer torrent = make_torrent(random_bytes(100 * 1024, 23));
  auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
  REQUIRE(tl);
  // More dead addresses than dials at once (24): each refusal lets the next dial go.
  const time_point start = n.now;
  for (std::uint8_t i = 0; i < 60; ++i)
    n.hosts[leecher].c->add_peer(*tl, wire::make_endpoint_v4({10, 9, 9, i}, 6881), n.now);
  std::size_t refused = 0;
  REQUIRE(n.run([&] {
    for (; refused < n.hosts[leecher].tcp_dials.size(); ++refused)
      n.hosts[leecher].c->channel_closed(n.hosts[leecher].tcp_dials[refused].peer, n.now);  // refused
    return refused == 60;
  }));
  // Three rounds of probes, half a second each (a uTP dial alone gives up after 3 s); no
  // TCP dial beyond the probes.
  CHECK(n.now - start <= 1500ms);
  n.drain(leecher);
  CHECK(n.hosts[leecher].tcp_dials.size() == 60);
  CHECK(n.hosts[leecher].c->open_peers() == 0);
}

TEST_CASE("[utp_client] a peer without uTP is dialled over TCP after the SYNs go unanswered", "[utp_client]") {
  udp_net n;
  const auto seeder = n.add(false), leecher = n.add(true);
  const byte_buffer data = random_bytes(100 * 1024, 22);
  const byte_buffer torrent = make_torrent(data);
  auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
  REQUIRE(tl);
  const time_point start = n.now;
  n.hosts[leecher].c->add_peer(*tl, udp_net::address_of(seeder), n.now);
  // Unanswered for half a second, the dial gets a TCP probe beside it; the host's socket
  // connects (TCP works there), so it is closed unused and uTP goes on.
  REQUIRE(n.run([&] { return n.hosts[leecher].tcp_dials.size() == 1; }));
  CHECK(n.now - start == 500ms);
  CHECK(n.hosts[leecher].tcp_dials[0].remote == udp_net::address_of(seeder));
  n.hosts[leecher].c->channel_opened(n.hosts[leecher].tcp_dials[0].peer, n.now);
  n.drain(leecher);
  CHECK(n.hosts[leecher].only_probes());
  CHECK(n.hosts[leecher].channels.empty());
  // The SYNs go unanswered: the dial goes on over TCP.
  REQUIRE(n.run([&] { return n.hosts[leecher].tcp_dials.size() == 2; }));
  CHECK(n.hosts[leecher].tcp_dials[1].remote == udp_net::address_of(seeder));
  CHECK(n.now - start >= 3s);
  CHECK(n.now - start < 4s);
  // The host's TCP socket opens: the session's connection carries on over it.
  n.tcp_dial_opens(leecher, 1);
  CHECK(n.hosts[leecher].tcp_sends == 1);  // the handshake, on the socket
}

TEST_CASE("[utp_client] a uTP dial whose UDP probe is refused (ICMP port unreachable) goes over TCP at once", "[utp_client]") {
  udp_net n;
  const auto seeder = n.add(false), leecher = n.add(true);
  const byte_buffer torrent = make_torrent(random_bytes(100 * 1024, 24));
  auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
  REQUIRE(tl);
  const wire::endpoint other = wire::make_endpoint_v4({10, 9, 9, 9}, 6881);  // silent
  n.hosts[leecher].c->add_peer(*tl, udp_net::address_of(seeder), n.now);
  n.hosts[leecher].c->add_peer(*tl, other, n.now);
  n.drain(leecher);
  // Each uTP dial asks for a probe of its own address.
  CHECK(n.hosts[leecher].udp_probes == std::vector<wire::endpoint>{udp_net::address_of(seeder), other});
  CHECK(n.hosts[leecher].tcp_dials.empty());
  const time_point start = n.now;
  n.hosts[leecher].c->utp_unreachable(udp_net::address_of(seeder), n.now);
  n.drain(leecher);
  // That dial goes over TCP now (its own host_peer: no probe), the other waits on.
  REQUIRE(n.hosts[leecher].tcp_dials.size() == 1);
  CHECK(n.hosts[leecher].tcp_dials[0].remote == udp_net::address_of(seeder));
  n.tcp_dial_opens(leecher, 0);
  // A refusal from an address no dial waits on, or one already connected, changes nothing.
  n.hosts[leecher].c->utp_unreachable(wire::make_endpoint_v4({10, 8, 8, 8}, 6881), n.now);
  n.hosts[leecher].c->utp_unreachable(udp_net::address_of(seeder), n.now);
  n.drain(leecher);
  CHECK(n.hosts[leecher].tcp_dials.size() == 1);
  // Later: the silent address gets its TCP probe at 0.5 s and its TCP dial after the SYNs;
  // the first dial is never made twice.
  REQUIRE(n.run([&] { return n.hosts[leecher].tcp_dials.size() == 3; }, 5s));
  CHECK(n.hosts[leecher].tcp_dials[1].remote == other);
  CHECK(n.hosts[leecher].tcp_dials[2].remote == other);
  CHECK(n.now - start >= 3s);
  CHECK(n.hosts[leecher].c->open_peers() == 2);  // the seeder's, and the TCP dial to the silent one
  CHECK(n.hosts[leecher].channels.size() == 1);
}

TEST_CASE("[utp_client] without the option no datagram is sent and dials are TCP", "[utp_client]") {
  udp_net n;
  const auto seeder = n.add(true), leecher = n.add(false);
  const byte_buffer data = random_bytes(10 * 1024, 23);
  const byte_buffer torrent = make_torrent(data);
  auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
  REQUIRE(tl);
  CHECK_FALSE(n.hosts[leecher].c->has_utp());
  n.hosts[leecher].c->add_peer(*tl, udp_net::address_of(seeder), n.now);
  n.drain(leecher);
  CHECK(n.hosts[leecher].tcp_dials.size() == 1);
  CHECK(n.datagrams == 0);
}

// MSE over uTP, as over TCP: the dialler offers its methods, the answerer picks (RC4 unless it
// prefers plaintext) or takes a plain handshake as its first bytes say; `required` on both sides too.
TEST_CASE("[utp_client] protocol encryption over uTP, each policy", "[utp_client][mse]") {
  struct combination {
    encryption_policy dialler, answerer;
    std::uint8_t method;  // peer_connected_event::encryption on both sides
  };
  for (const combination k : {combination{encryption_policy::prefer_plaintext, encryption_policy::plain, 2},
                              combination{encryption_policy::prefer_plaintext, encryption_policy::prefer_plaintext, 1},
                              combination{encryption_policy::prefer_rc4, encryption_policy::plain, 2},
                              combination{encryption_policy::required, encryption_policy::required, 2},
                              combination{encryption_policy::plain, encryption_policy::required, 0}}) {
    CAPTURE(static_cast<int>(k.dialler), static_cast<int>(k.answerer));
    udp_net n;
    n.loss = 0.03;
    const auto seeder = n.add(true, k.answerer), leecher = n.add(true, k.dialler);
    const byte_buffer data = random_bytes(300 * 1024 + 5, 24);
    const byte_buffer torrent = make_torrent(data);
    auto ts = n.hosts[seeder].c->add_torrent(torrent, {.seed = true}, n.now);
    REQUIRE(ts);
    n.hosts[seeder].store.write_at(*ts, 0, data);
    auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
    REQUIRE(tl);
    CHECK(n.hosts[leecher].c->has_utp());
    n.hosts[leecher].c->add_peer(*tl, udp_net::address_of(seeder), n.now);
    if (k.method == 0) {  // plain to a peer that requires MSE: refused, never met
      n.run([&] { return false; }, 20s);
      CHECK(n.hosts[leecher].encryption.empty());
      CHECK(n.hosts[seeder].encryption.empty());
      continue;
    }
    REQUIRE(n.run([&] { return n.hosts[leecher].finished; }));
    const auto got = n.hosts[leecher].store.read_at(*tl, 0, static_cast<std::uint32_t>(data.size()));
    REQUIRE(got);
    CHECK((*got == data));
    CHECK(n.hosts[leecher].only_probes());  // uTP all the way
    CHECK(n.hosts[leecher].tcp_sends + n.hosts[seeder].tcp_sends == 0);
    CHECK(n.hosts[leecher].encryption == std::vector<std::uint8_t>{k.method});
    CHECK(n.hosts[seeder].encryption == std::vector<std::uint8_t>{k.method});
  }
}

TEST_CASE("[utp_client] disconnect() ends a uTP peer (wire.destroy): the session forgets it and the FIN closes the far side", "[utp_client]") {
  udp_net n;
  const auto seeder = n.add(true), leecher = n.add(true);
  const byte_buffer data = random_bytes(1024 * 1024, 23);
  const byte_buffer torrent = make_torrent(data);
  auto ts = n.hosts[seeder].c->add_torrent(torrent, {.seed = true}, n.now);
  n.hosts[seeder].store.write_at(*ts, 0, data);
  auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
  REQUIRE(n.hosts[leecher].c->add_peer(*tl, udp_net::address_of(seeder), n.now) == client::add_peer_result::added);
  REQUIRE(n.run([&] { return n.hosts[leecher].c->engine().stats(*tl)->peers == 1; }, 60s));
  REQUIRE(n.hosts[leecher].channels.size() == 1);
  n.hosts[leecher].c->disconnect(n.hosts[leecher].channels[0].peer, n.now);
  REQUIRE(n.run([&] { return n.hosts[seeder].c->open_peers() == 0 && n.hosts[leecher].c->open_peers() == 0; }, 60s));
  CHECK(n.hosts[leecher].c->engine().stats(*tl)->peers == 0);
  CHECK(n.hosts[seeder].c->engine().stats(*ts)->peers == 0);
  CHECK(n.hosts[leecher].only_probes());  // no host socket but the probe's: the engine closed it
}
