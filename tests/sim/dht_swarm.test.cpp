// A DHT of a few dozen in-process nodes exchanging datagrams on a virtual clock, with
// loss, latency and hostile nodes: nodes bootstrap from one, an info-hash announced by one
// node is found by another. Nothing here holds DHT logic: the network only carries
// datagrams between dht::dht_node engines (and a few scripted bad actors).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <queue>

#include "base/random.hpp"
#include "bencode/bencode.hpp"
#include "dht/dht.hpp"
#include "dht/node_id.hpp"

using namespace wt;
using namespace wt::dht;
using namespace std::chrono_literals;

namespace {

enum class behaviour {
  honest,
  libtorrent_style,  // honest, but its datagrams carry the extra keys libtorrent sends
  liar,              // answers pings, then names made-up nodes very close to every target
  garbage,           // answers pings, then answers everything else with random bytes
  silent,            // never answers (a node that went away)
};

struct datagram {
  time_point at;
  std::uint64_t seq = 0;
  std::size_t to = 0;
  wire::endpoint from;
  byte_buffer bytes;
};
struct later {
  bool operator()(const datagram& a, const datagram& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};


class network {
 public:
  struct member {
    behaviour kind = behaviour::honest;
    wire::endpoint addr;
    std::optional<dht_node> node;  // honest and libtorrent_style
    node_id id{};                  // scripted members
    std::vector<peers_found> found;
    std::vector<lookup_finished> finished;
    std::vector<warning> warnings;
    std::uint64_t sent = 0;
  };

  // v6: every member is at an IPv6 address (2001:db8::…) and its node speaks IPv6 (BEP 32).
  // IPv4 members are at <v4_first>.0.x.y: 10 is a local network, exempt from BEP 42.
  network(std::uint64_t seed, double loss, bool v6 = false, std::uint8_t v4_first = 10)
      : random_(seed), loss_(loss), v6_(v6), v4_first_(v4_first) {}

  std::size_t add(behaviour kind, settings s = {}) {
    const std::size_t i = members_.size();
    member m;
    m.kind = kind;
    const auto port = static_cast<std::uint16_t>(6881 + i);
    const auto hi = static_cast<std::uint8_t>(i / 200), lo = static_cast<std::uint8_t>(1 + i % 200);
    m.addr = v6_ ? wire::make_endpoint_v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, hi, lo}, port)
                 : wire::make_endpoint_v4({v4_first_, 0, hi, lo}, port);
    if (kind == behaviour::honest || kind == behaviour::libtorrent_style) {
      s.seed = random_.next();
      s.ipv6 = v6_;
      m.node.emplace(s);
      m.id = m.node->id();
    } else {
      for (auto& b : m.id) b = static_cast<std::uint8_t>(random_.next());
    }
    by_address_[wire::to_string(m.addr)] = i;
    members_.push_back(std::move(m));
    return i;
  }

  member& at(std::size_t i) { return members_[i]; }
  dht_node& node(std::size_t i) { return *members_[i].node; }
  std::size_t size() const { return members_.size(); }
  time_point now() const { return now_; }

  // A scripted member introduces itself to `to` with a ping, as a new node would.
  void introduce(std::size_t who, std::size_t to) {
    message m;
    m.transaction_id = {0, 1};
    query q;
    q.kind = method::ping;
    q.id = members_[who].id;
    m.body = q;
    transmit(who, members_[to].addr, encode(m));
  }

  void run_until(time_point end) {
    for (;;) {
      collect();
      std::optional<time_point> next;
      if (!in_flight_.empty()) next = in_flight_.top().at;
      for (auto& m : members_)
        if (m.node)
          if (auto d = m.node->next_deadline(); d && (!next || *d < *next)) next = *d;
      if (!next || *next > end) break;
      now_ = std::max(now_, *next);
      while (!in_flight_.empty() && in_flight_.top().at <= now_) {
        datagram d = in_flight_.top();
        in_flight_.pop();
        deliver(d);
      }
      for (auto& m : members_)
        if (m.node)
          if (auto d = m.node->next_deadline(); d && *d <= now_) m.node->on_timer(now_);
    }
    now_ = end;
  }

  std::uint64_t delivered() const { return delivered_; }

 private:
  void transmit(std::size_t from, const wire::endpoint& to, byte_buffer bytes) {
    ++members_[from].sent;
    const auto it = by_address_.find(wire::to_string(to));
    if (it == by_address_.end()) return;  // nobody there: lost
    if (static_cast<double>(random_.below(1'000'000)) < loss_ * 1e6) return;
    const auto latency = 10ms + std::chrono::milliseconds(random_.below(90));
    in_flight_.push(datagram{now_ + latency, seq_++, it->second, members_[from].addr, std::move(bytes)});
  }

  // Outputs of every engine: datagrams onto the network, events kept per member.
  void collect() {
    for (std::size_t i = 0; i < members_.size(); ++i) {
      auto& m = members_[i];
      if (!m.node) continue;
      while (auto out = m.node->poll()) {
        if (auto* s = std::get_if<send>(&*out)) {
          transmit(i, s->to, m.kind == behaviour::libtorrent_style ? dress_up(s->bytes, s->to) : s->bytes);
        } else if (auto* p = std::get_if<peers_found>(&*out)) {
          m.found.push_back(std::move(*p));
        } else if (auto* f = std::get_if<lookup_finished>(&*out)) {
          m.finished.push_back(std::move(*f));
        } else if (auto* w = std::get_if<warning>(&*out)) {
          m.warnings.push_back(std::move(*w));
        }
      }
    }
  }

  // Adds what libtorrent puts in its messages besides BEP 5: "ip" (BEP 42), its own
  // "v", "nodes6" and "p" in answers, "ro"-free queries with "want".
  byte_buffer dress_up(const byte_buffer& bytes, const wire::endpoint& to) {
    auto doc = bencode::decode(bytes);
    REQUIRE(doc);
    auto top = std::get<bencode::dict>(bencode::to_value(doc->root()).v);
    top["v"] = std::string("LT\x02\x00", 4);
    byte_buffer ip;
    wire::append_compact(to, ip);
    top["ip"] = std::string(as_chars(ip));
    if (auto r = top.find("r"); r != top.end()) {
      auto& body = std::get<bencode::dict>(r->second.v);
      body.try_emplace("nodes6", std::string());  // an IPv4 node's empty one; an IPv6 node's own stays
      body["p"] = 6881;
    }
    if (auto a = top.find("a"); a != top.end()) {
      auto& args = std::get<bencode::dict>(a->second.v);
      args["want"] = bencode::list{bencode::value("n4")};
    }
    return bencode::encode(bencode::value(std::move(top)));
  }

  void deliver(const datagram& d) {
    ++delivered_;
    auto& m = members_[d.to];
    if (m.node) {
      m.node->udp_received(d.from, d.bytes, now_);
      return;
    }
    if (m.kind == behaviour::silent) return;
    const auto decoded = decode(d.bytes);
    const auto* msg = std::get_if<message>(&decoded);
    if (!msg) return;
    const auto* q = std::get_if<query>(&msg->body);
    if (!q) return;
    message reply;
    reply.transaction_id = msg->transaction_id;
    response r;
    r.id = m.id;
    if (q->kind == method::ping) {
      reply.body = r;
      transmit(d.to, d.from, encode(reply));
      return;
    }
    if (m.kind == behaviour::garbage) {
      byte_buffer junk(1 + random_.below(300));
      for (auto& b : junk) b = static_cast<std::uint8_t>(random_.next());
      transmit(d.to, d.from, std::move(junk));
      return;
    }
    // A liar: eight nodes "closer" than anyone, at addresses where nobody listens.
    for (int i = 0; i < 8; ++i) {
      node_id fake = q->target;
      fake[19] = static_cast<std::uint8_t>(random_.next());
      fake[18] = static_cast<std::uint8_t>(random_.next());
      r.nodes.push_back({fake, wire::make_endpoint_v4({10, 99, static_cast<std::uint8_t>(random_.next()),
                                                       static_cast<std::uint8_t>(1 + random_.below(250))},
                                                      6881)});
    }
    if (q->kind == method::get_peers) r.token = byte_buffer{1, 2, 3, 4};
    reply.body = r;
    transmit(d.to, d.from, encode(reply));
  }

  rng random_;
  double loss_;
  bool v6_ = false;
  std::uint8_t v4_first_ = 10;
  std::vector<member> members_;
  std::map<std::string, std::size_t> by_address_;
  std::priority_queue<datagram, std::vector<datagram>, later> in_flight_;
  std::uint64_t seq_ = 0;
  std::uint64_t delivered_ = 0;
  time_point now_ = time_point{} + 1s;
};

bool found_peer(const network::member& m, const node_id& info_hash, const wire::endpoint& peer) {
  for (const auto& f : m.found)
    if (f.info_hash == info_hash && std::find(f.peers.begin(), f.peers.end(), peer) != f.peers.end())
      return true;
  return false;
}

const node_id info_hash = [] {
  node_id id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(0xa5 ^ (i * 37));
  return id;
}();

}  // namespace

TEST_CASE("[dht_swarm] 45 nodes with loss and hostile nodes: an announced peer is found", "[dht_swarm]") {
  network net(2026, 0.05);
  settings s;
  s.announce_interval = 5min;
  const auto router = net.add(behaviour::honest, s);
  std::vector<std::size_t> honest{router};
  std::vector<std::size_t> hostile;
  for (int i = 0; i < 3; ++i) hostile.push_back(net.add(behaviour::liar));
  for (int i = 0; i < 2; ++i) hostile.push_back(net.add(behaviour::garbage));
  hostile.push_back(net.add(behaviour::silent));
  for (int i = 0; i < 36; ++i) honest.push_back(net.add(behaviour::honest, s));
  std::vector<std::size_t> libtorrent_like;
  for (int i = 0; i < 3; ++i) libtorrent_like.push_back(net.add(behaviour::libtorrent_style, s));
  honest.insert(honest.end(), libtorrent_like.begin(), libtorrent_like.end());

  // Everyone bootstraps from the router, a few hundred milliseconds apart; the bad actors
  // introduce themselves to the router first, then to a few nodes every 30 s, as nodes that
  // want to be in many tables would.
  const std::vector<wire::endpoint> routers{net.at(router).addr};
  for (const auto bad : hostile) net.introduce(bad, router);
  for (std::size_t i = 1; i < honest.size(); ++i) {
    net.run_until(net.now() + 300ms);
    net.node(honest[i]).bootstrap(routers, net.now());
  }
  for (int round = 0; round < 6; ++round) {
    for (const auto bad : hostile)
      for (int j = 0; j < 5; ++j) net.introduce(bad, honest[(bad * 7 + static_cast<std::size_t>(round * 5 + j) * 11) % honest.size()]);
    net.run_until(net.now() + 30s);
  }

  for (const auto i : honest) {
    INFO("node " << i);
    CHECK(net.node(i).table().size() >= 8);
    CHECK(net.node(i).running_lookups() <= 2);  // bucket refreshes at most; nothing stuck
  }
  // The libtorrent-shaped nodes were understood: others hold them in their tables.
  std::size_t lt_known = 0;
  for (const auto i : honest)
    for (const auto lt : libtorrent_like)
      if (net.node(i).table().find(net.at(lt).id)) ++lt_known;
  CHECK(lt_known >= 6);
  // The bad actors did get into tables (they answer pings), so lookups met them.
  std::size_t hostile_known = 0;
  for (const auto i : honest)
    for (const auto bad : hostile)
      if (net.node(i).table().find(net.at(bad).id)) ++hostile_known;
  CHECK(hostile_known >= 10);

  // One node announces, another looks the info-hash up.
  const auto announcer = honest[7];
  const auto searcher = honest[29];
  net.node(announcer).announce(info_hash, 7000, false, net.now());
  net.run_until(net.now() + 1min);
  {
    const auto& done = net.at(announcer).finished;
    const auto it = std::find_if(done.begin(), done.end(),
                                 [](const lookup_finished& f) { return f.kind == lookup_kind::announce; });
    REQUIRE(it != done.end());
    CHECK(it->announced_to >= 4);
    CHECK(it->closest.size() == 8);
  }
  const auto lookup = net.node(searcher).get_peers(info_hash, net.now());
  REQUIRE(lookup);
  net.run_until(net.now() + 1min);
  const auto& done = net.at(searcher).finished;
  const auto it = std::find_if(done.begin(), done.end(), [&](const lookup_finished& f) { return f.lookup == *lookup; });
  REQUIRE(it != done.end());
  CHECK(it->queried <= s.max_lookup_queries);
  const auto expected = wire::make_endpoint_v4(
      {net.at(announcer).addr.address[0], net.at(announcer).addr.address[1], net.at(announcer).addr.address[2],
       net.at(announcer).addr.address[3]},
      7000);
  CHECK(found_peer(net.at(searcher), info_hash, expected));
  std::uint64_t malformed = 0;
  for (const auto i : honest) malformed += net.node(i).counters().malformed;
  CHECK(malformed > 0);  // garbage answers were met, and survived

  // Re-announces keep the peer findable past the stores' 30 minutes; after stop_announce it
  // expires.
  net.run_until(net.now() + 40min);
  const auto again = net.node(honest[15]).get_peers(info_hash, net.now());
  REQUIRE(again);
  net.run_until(net.now() + 1min);
  CHECK(found_peer(net.at(honest[15]), info_hash, expected));

  net.node(announcer).stop_announce(info_hash);
  net.run_until(net.now() + 35min);
  net.at(honest[20]).found.clear();
  REQUIRE(net.node(honest[20]).get_peers(info_hash, net.now()));
  net.run_until(net.now() + 1min);
  CHECK_FALSE(found_peer(net.at(honest[20]), info_hash, expected));

  // Traffic stays modest: 85 minutes of maintenance for 45 nodes.
  std::uint64_t sent = 0;
  for (const auto i : honest) sent += net.at(i).sent;
  INFO("datagrams sent by honest nodes: " << sent);
  CHECK(sent / honest.size() < 5000);
  for (const auto i : honest) CHECK(net.node(i).counters().queries_sent < 5000);
}

TEST_CASE("[dht_swarm] a node restarted from its saved state rejoins without the router", "[dht_swarm]") {
  network net(7, 0.0);
  const auto router = net.add(behaviour::honest);
  for (int i = 0; i < 20; ++i) net.add(behaviour::honest);
  const std::vector<wire::endpoint> routers{net.at(router).addr};
  for (std::size_t i = 1; i < net.size(); ++i) net.node(i).bootstrap(routers, net.now());
  net.run_until(net.now() + 2min);

  // Node 5 saves its state; a new engine at the same address restores it, with no router.
  const auto saved = net.node(5).save_state(net.now());
  const auto id = net.node(5).id();
  settings fresh;
  fresh.seed = 1234;
  net.node(5) = dht_node(fresh);
  net.at(5).finished.clear();
  REQUIRE(net.node(5).id() != id);
  const auto restored = net.node(5).load_state(saved, net.now());
  REQUIRE(restored);
  CHECK(*restored >= 8);
  CHECK(net.node(5).id() == id);
  net.node(5).bootstrap({}, net.now());
  net.run_until(net.now() + 1min);
  CHECK(net.node(5).table().good_count(net.now()) >= 8);
  const auto& done = net.at(5).finished;
  const auto boot = std::find_if(done.begin(), done.end(),
                                 [](const lookup_finished& f) { return f.kind == lookup_kind::bootstrap; });
  REQUIRE(boot != done.end());
  CHECK(boot->answered >= 8);
}

TEST_CASE("[dht_swarm] an IPv6 DHT (BEP 32): nodes bootstrap, an announced peer is found, a restart rejoins", "[dht_swarm]") {
  network net(32, 0.02, true);
  const auto router = net.add(behaviour::honest);
  for (int i = 0; i < 24; ++i) net.add(behaviour::honest);
  for (int i = 0; i < 2; ++i) net.add(behaviour::libtorrent_style);
  const std::vector<wire::endpoint> routers{net.at(router).addr};
  for (std::size_t i = 1; i < net.size(); ++i) {
    net.run_until(net.now() + 200ms);
    net.node(i).bootstrap(routers, net.now());
  }
  net.run_until(net.now() + 2min);
  for (std::size_t i = 0; i < net.size(); ++i) {
    INFO("node " << i);
    CHECK(net.node(i).table().size() >= 8);
  }

  net.node(4).announce(info_hash, 7000, false, net.now());
  net.run_until(net.now() + 1min);
  net.node(17).get_peers(info_hash, net.now());
  net.run_until(net.now() + 1min);
  wire::endpoint peer = net.at(4).addr;
  peer.port = 7000;
  CHECK(peer.v6);
  CHECK(found_peer(net.at(17), info_hash, peer));

  const auto saved = net.node(9).save_state(net.now());
  settings fresh;
  fresh.seed = 99;
  fresh.ipv6 = true;
  net.node(9) = dht_node(fresh);
  const auto restored = net.node(9).load_state(saved, net.now());
  REQUIRE(restored);
  CHECK(*restored >= 8);
  net.node(9).bootstrap({}, net.now());
  net.run_until(net.now() + 1min);
  CHECK(net.node(9).table().good_count(net.now()) >= 8);
}

// Nodes that enforce BEP 42 join after the others changed their ids: they need the entries
// others keep for them renamed (routing_table::node_renamed), or they hear only of stale ids.
TEST_CASE("[dht_swarm] BEP 42 at public addresses: ids become valid for them; nodes that enforce it keep liars out and still find an announced peer", "[dht_swarm]") {
  network net(42, 0.02, false, 11);
  // The router and the DHT's first nodes neither check ids nor prefer valid ones (as
  // bittorrent-dht, which has no BEP 42); three liars at random ids join them. Their nodes
  // start at random ids too, and settle on valid ones.
  settings plain;
  plain.routing.prefer_secure_ids = false;
  const auto router = net.add(behaviour::honest, plain);
  const std::vector<wire::endpoint> routers{net.at(router).addr};
  const auto join = [&](std::size_t n) {
    net.run_until(net.now() + 200ms);
    if (net.at(n).node) net.node(n).bootstrap(routers, net.now());
    else net.introduce(n, router);
  };
  for (int i = 0; i < 16; ++i) join(net.add(behaviour::honest, plain));
  std::vector<std::size_t> liars;
  for (int i = 0; i < 3; ++i) liars.push_back(net.add(behaviour::liar));
  for (const auto l : liars) join(l);
  net.run_until(net.now() + 2min);
  // Then nodes that enforce BEP 42 join it.
  settings enforcing;
  enforcing.enforce_node_id = true;
  std::vector<std::size_t> enforcers;
  for (int i = 0; i < 8; ++i) enforcers.push_back(net.add(behaviour::honest, enforcing));
  for (const auto e : enforcers) join(e);
  net.run_until(net.now() + 2min);

  for (std::size_t i = 0; i < net.size(); ++i) {
    if (!net.at(i).node) continue;
    INFO("node " << i << ", table " << net.node(i).table().size());
    auto address = net.at(i).addr;
    address.port = 0;
    REQUIRE(net.node(i).external_address());
    CHECK(*net.node(i).external_address() == address);
    CHECK(secure_id_valid(net.node(i).id(), address));
    CHECK(net.node(i).table().size() >= 8);
  }
  for (const auto e : enforcers) {
    INFO("enforcing node " << e);
    for (const auto& n : net.node(e).table().all_nodes()) CHECK(secure_id_valid(n.id, n.ep));
  }
  std::size_t liars_kept = 0;  // by the others, which neither check nor prefer
  for (std::size_t i = 0; i < net.size(); ++i)
    if (net.at(i).node)
      for (const auto l : liars) liars_kept += net.node(i).table().find(net.at(l).id) ? 1u : 0u;
  CHECK(liars_kept > 0);

  net.node(enforcers[1]).announce(info_hash, 7000, false, net.now());
  net.run_until(net.now() + 1min);
  net.node(enforcers[2]).get_peers(info_hash, net.now());
  net.run_until(net.now() + 1min);
  wire::endpoint peer = net.at(enforcers[1]).addr;
  peer.port = 7000;
  CHECK(found_peer(net.at(enforcers[2]), info_hash, peer));
}
