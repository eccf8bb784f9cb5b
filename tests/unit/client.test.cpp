// The client facade: two clients and a scripted WebSocket tracker (bittorrent-tracker's
// JSON protocol, in memory) move a torrent over fake data channels.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "blocklist/ip_set.hpp"
#include "host/addressed.hpp"
#include "host/client.hpp"

using namespace wt;
using json = nlohmann::json;

namespace {

const std::string tracker_url = "ws://tracker.test/announce";

struct net;

// What bittorrent-tracker's server does with WebSocket announces: remember the peer,
// relay offers to other peers of the swarm, relay answers to their to_peer_id.
struct fake_tracker {
  std::map<std::string, std::map<std::string, std::size_t>> swarms;  // info_hash -> peer_id -> host
  std::vector<std::string> received;
  std::vector<std::pair<std::size_t, std::string>> handle(std::size_t from, const std::string& text) {
    received.push_back(text);
    std::vector<std::pair<std::size_t, std::string>> out;
    json m = json::parse(text);
    if (m["action"] != "announce") return out;
    const std::string ih = m["info_hash"], pid = m["peer_id"];
    auto& swarm = swarms[ih];
    if (m.value("event", "") == "stopped") {
      swarm.erase(pid);
      return out;
    }
    swarm[pid] = from;
    if (m.contains("answer")) {
      auto to = swarm.find(m["to_peer_id"].get<std::string>());
      if (to != swarm.end())
        out.emplace_back(to->second, json{{"action", "announce"}, {"answer", m["answer"]}, {"offer_id", m["offer_id"]},
                                          {"peer_id", pid}, {"info_hash", ih}}.dump());
      return out;
    }
    out.emplace_back(from, json{{"action", "announce"}, {"interval", 120}, {"info_hash", ih},
                                {"complete", 0}, {"incomplete", swarm.size()}}.dump());
    if (m.contains("offers")) {
      std::size_t i = 0;
      for (const auto& [other_id, host] : swarm) {
        if (other_id == pid || i >= m["offers"].size()) continue;
        const auto& o = m["offers"][i++];
        out.emplace_back(host, json{{"action", "announce"}, {"offer", o["offer"]}, {"offer_id", o["offer_id"]},
                                    {"peer_id", pid}, {"info_hash", ih}}.dump());
      }
    }
    return out;
  }
};

struct host {
  std::unique_ptr<client> c;
  std::vector<client_event> events;
  std::set<std::string> open_sockets;
  bool finished = false;
  memory_storage store;  // completes the client's storage outputs

  // Adds a torrent whose every piece the store holds.
  result<torrent_id> seed(byte_view torrent, byte_view data, time_point now,
                          std::vector<std::string> trackers = {}) {
    auto t = c->add_torrent(torrent, {.seed = true}, now, std::move(trackers));
    if (t) store.write_at(*t, 0, data);
    return t;
  }
  byte_buffer stored(torrent_id t, std::size_t length) const {
    return store.read_at(t, 0, static_cast<std::uint32_t>(length)).value_or(byte_buffer{});
  }
};

// Hosts, the tracker and the "WebRTC" between them. Every action is queued, so no client
// is re-entered while it is being drained.
struct net {
  std::vector<host> hosts;
  fake_tracker tracker;
  std::deque<std::function<void()>> actions;
  time_point now{std::chrono::seconds(1)};
  std::map<std::string, std::pair<std::size_t, std::uint32_t>> offers;   // sdp -> offerer
  std::map<std::string, std::pair<std::size_t, std::uint32_t>> answers;  // answer sdp -> offerer
  std::map<std::pair<std::size_t, std::uint32_t>, std::pair<std::size_t, std::uint32_t>> links;
  std::size_t offers_made = 0, channels_opened = 0, dials = 0, lsd_datagrams = 0;
  std::set<std::size_t> listening;  // hosts that accept connections at address_of()
  // Hosts whose next accepted socket never sends (a peer that stalls), and such sockets.
  std::set<std::size_t> mute_next_accept;
  std::set<std::pair<std::size_t, std::uint32_t>> muted;

  static wire::endpoint address_of(std::size_t i) {
    return wire::make_endpoint_v4({10, 0, 0, static_cast<std::uint8_t>(i + 1)}, 6881);
  }

  std::size_t add(client_settings s) {
    s.session.seed = hosts.size() + 7;
    host h;
    h.c = std::make_unique<client>(s);
    hosts.push_back(std::move(h));
    return hosts.size() - 1;
  }

  void drain(std::size_t i) {
    client& c = *hosts[i].c;
    while (auto o = c.poll()) {
      if (auto* open = std::get_if<client_out::open_socket>(&*o)) {
        actions.push_back([this, i, url = open->url] {
          hosts[i].open_sockets.insert(url);
          hosts[i].c->socket_opened(url, now);
        });
      } else if (auto* send_text = std::get_if<client_out::send_text>(&*o)) {
        for (auto& [to, text] : tracker.handle(i, send_text->text))
          actions.push_back([this, to = to, text = text, url = send_text->url] { hosts[to].c->text_received(url, text, now); });
      } else if (auto* offer = std::get_if<client_out::create_offer>(&*o)) {
        const std::string sdp = "offer " + std::to_string(i) + " " + std::to_string(offer->peer.value);
        offers[sdp] = {i, offer->peer.value};
        ++offers_made;
        actions.push_back([this, i, p = offer->peer, sdp] { hosts[i].c->offer_created(p, sdp, now); });
      } else if (auto* answer = std::get_if<client_out::create_answer>(&*o)) {
        const std::string sdp = "answer " + std::to_string(i) + " " + std::to_string(answer->peer.value);
        REQUIRE(offers.contains(answer->sdp));
        answers[sdp] = offers[answer->sdp];
        links[{i, answer->peer.value}] = offers[answer->sdp];
        links[offers[answer->sdp]] = {i, answer->peer.value};
        actions.push_back([this, i, p = answer->peer, sdp] { hosts[i].c->answer_created(p, sdp, now); });
      } else if (auto* set = std::get_if<client_out::set_answer>(&*o)) {
        REQUIRE(answers.contains(set->sdp));
        REQUIRE(answers[set->sdp] == std::make_pair(i, set->peer.value));
        const auto other = links.at({i, set->peer.value});
        ++channels_opened;
        actions.push_back([this, i, p = set->peer, other] {
          hosts[i].c->channel_opened(p, now);
          hosts[other.first].c->channel_opened(host_peer{other.second}, now);
        });
      } else if (auto* dial = std::get_if<client_out::connect>(&*o)) {
        // Host j listens at address_of(j); anything else refuses the connection.
        ++dials;
        std::optional<std::size_t> to;
        for (std::size_t j = 0; j < hosts.size(); ++j)
          if (address_of(j) == dial->remote && listening.contains(j)) to = j;
        actions.push_back([this, i, p = dial->peer, to] {
          if (!to) return hosts[i].c->channel_closed(p, now);
          const host_peer accepted = hosts[*to].c->accept_peer(wire::make_endpoint_v4({10, 0, 1, 1}, 40000), now);
          if (mute_next_accept.erase(*to)) muted.insert({*to, accepted.value});
          links[{i, p.value}] = {*to, accepted.value};
          links[{*to, accepted.value}] = {i, p.value};
          hosts[i].c->channel_opened(p, now);
        });
      } else if (auto* send = std::get_if<client_out::send>(&*o)) {
        auto it = links.find({i, send->peer.value});
        if (it == links.end() || muted.contains({i, send->peer.value})) continue;
        const auto to = it->second;
        const std::size_t n = send->data.size();
        actions.push_back([this, to, data = std::move(send->data)] {
          hosts[to.first].c->channel_data(host_peer{to.second}, data, now);
        });
        actions.push_back([this, i, p = send->peer, n] { hosts[i].c->channel_sent(p, n, now); });
      } else if (auto* close = std::get_if<client_out::close_peer>(&*o)) {
        auto it = links.find({i, close->peer.value});
        if (it == links.end()) continue;
        const auto to = it->second;
        links.erase(it);
        links.erase(to);
        actions.push_back([this, to] { hosts[to.first].c->channel_closed(host_peer{to.second}, now); });
      } else if (auto* st = std::get_if<client_out::storage>(&*o)) {
        // The store answers later, as a browser's does.
        actions.push_back([this, i, r = std::move(st->request)] {
          hosts[i].c->storage_completed(hosts[i].store.complete(r), now);
        });
      } else if (auto* ls = std::get_if<client_out::lsd_send>(&*o)) {
        // The LAN: every host's multicast socket hears it, the sender's too (loopback on).
        ++lsd_datagrams;
        if (ls->v6) continue;  // an IPv4-only LAN
        for (std::size_t j = 0; j < hosts.size(); ++j) {
          wire::endpoint from = address_of(i);
          from.port = 6771;
          actions.push_back([this, j, from, data = ls->data] { hosts[j].c->lsd_received(from, data, now); });
        }
      } else if (auto* event = std::get_if<client_event>(&*o)) {
        if (auto* se = std::get_if<session_event>(event); se && std::holds_alternative<torrent_finished_event>(*se))
          hosts[i].finished = true;
        hosts[i].events.push_back(std::move(*event));
      }
    }
  }

  // Runs until `done` or the virtual clock passes `limit`.
  bool run(const std::function<bool()>& done, duration limit = std::chrono::minutes(5)) {
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
      now = std::max(now + std::chrono::milliseconds(1), next.value_or(now + std::chrono::seconds(1)));
      for (auto& h : hosts) h.c->on_timer(now);
    }
    return done();
  }
};

byte_buffer random_bytes(std::size_t n, std::uint32_t seed) {
  byte_buffer b(n);
  for (auto& x : b) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<std::uint8_t>(seed >> 24);
  }
  return b;
}

byte_buffer make_torrent(byte_view data, std::vector<std::string> trackers, bool is_private = false) {
  input_file f{"data.bin", data};
  create_options o;
  o.piece_length = 32 * 1024;
  o.is_private = is_private;
  for (auto& t : trackers) o.announce_list.push_back({t});
  return *create_torrent(std::span<const input_file>(&f, 1), o);
}

template <class E>
std::size_t count_events(const host& h) {
  std::size_t n = 0;
  for (const auto& e : h.events)
    if (auto* se = std::get_if<session_event>(&e); se && std::holds_alternative<E>(*se)) ++n;
  return n;
}

}  // namespace

TEST_CASE("[client] ws tracker URLs only, once each", "[client]") {
  CHECK(websocket_trackers({"udp://a:1", "wss://b", "ws://c/x", "wss://b", "http://d"}) ==
        std::vector<std::string>{"wss://b", "ws://c/x"});
}

TEST_CASE("[client] two clients move a torrent through a tracker and data channels", "[client]") {
  const byte_buffer data = random_bytes(300 * 1024 + 123, 42);
  net n;
  const std::size_t seeder = n.add({});
  const std::size_t leecher = n.add({});

  SECTION("from the .torrent") {
    const byte_buffer torrent = make_torrent(data, {tracker_url, "udp://ignored:1"});
    auto ts = n.hosts[seeder].seed(torrent, data, n.now);
    REQUIRE(ts.ok());
    auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
    REQUIRE(tl.ok());
    REQUIRE(n.run([&] { return n.hosts[leecher].finished; }));
    const byte_buffer got = n.hosts[leecher].stored(*tl, data.size());
    CHECK(byte_buffer(got.begin(), got.end()) == data);
    CHECK(n.hosts[seeder].open_sockets == std::set<std::string>{tracker_url});  // udp:// is skipped
    CHECK(n.offers_made > 0);
    CHECK(n.channels_opened >= 1);
    // The leecher told the tracker it completed.
    bool completed = false;
    for (const auto& t : n.tracker.received)
      if (t.find("\"completed\"") != std::string::npos) completed = true;
    CHECK(completed);
    CHECK(count_events<peer_connected_event>(n.hosts[leecher]) >= 1);
    // Peers met through the tracker's offers and answers count for it on both sides.
    const auto by_source = [&](std::size_t h, torrent_id t, peer_source src) {
      return n.hosts[h].c->engine().stats(t)->peers_by_source[static_cast<std::size_t>(src)];
    };
    CHECK(by_source(leecher, *tl, peer_source::tracker) >= 1);
    CHECK(by_source(seeder, *ts, peer_source::tracker) >= 1);
    CHECK(by_source(leecher, *tl, peer_source::manual) == 0);

    SECTION("removing the torrent announces stopped and closes its channels") {
      n.hosts[leecher].c->remove_torrent(*tl, n.now);
      n.run([] { return false; }, std::chrono::seconds(2));
      CHECK(n.hosts[leecher].c->open_peers() == 0);
      bool stopped = false;
      for (const auto& t : n.tracker.received)
        if (t.find("\"stopped\"") != std::string::npos) stopped = true;
      CHECK(stopped);
    }
  }

  SECTION("from a magnet link (metadata from the seeder)") {
    const byte_buffer torrent = make_torrent(data, {});
    auto ts = n.hosts[seeder].seed(torrent, data, n.now);
    REQUIRE(ts.ok());
    // The torrent names no tracker: the seeder uses a default tracker, the leecher passes one.
    client_settings s;
    s.default_trackers = {tracker_url};
    net n2;
    const std::size_t a = n2.add(s), b = n2.add({});
    REQUIRE(n2.hosts[a].seed(torrent, data, n2.now).ok());
    const std::string magnet =
        "magnet:?xt=urn:btih:" + to_hex(parse_metainfo(torrent)->info_hash) + "&dn=data.bin";
    auto tb = n2.hosts[b].c->add_magnet(magnet, n2.now, {tracker_url});  // a tracker of its own
    REQUIRE(tb.ok());
    REQUIRE(n2.run([&] { return n2.hosts[b].finished; }));
    CHECK(count_events<metadata_received_event>(n2.hosts[b]) == 1);
    const byte_buffer got = n2.hosts[b].stored(*tb, data.size());
    CHECK(byte_buffer(got.begin(), got.end()) == data);
  }
}

TEST_CASE("[client] a failed offer and a closed channel are tolerated", "[client]") {
  net n;
  client_settings s;
  s.default_trackers = {tracker_url};
  const std::size_t a = n.add(s);
  const byte_buffer data = random_bytes(40000, 1);
  REQUIRE(n.hosts[a].c->add_torrent(make_torrent(data, {}), {}, n.now).ok());
  // Open the socket, then fail every offer: the announce still goes out, without offers.
  n.hosts[a].c->socket_opened(tracker_url, n.now);
  std::size_t failed = 0;
  bool announced = false;
  while (auto o = n.hosts[a].c->poll()) {
    if (auto* x = std::get_if<client_out::create_offer>(&*o)) {
      n.hosts[a].c->offer_created(x->peer, "", n.now);
      ++failed;
    } else if (auto* t = std::get_if<client_out::send_text>(&*o)) {
      if (t->text.find("announce") != std::string::npos) announced = true;
    }
  }
  CHECK(failed == 5);
  CHECK(n.hosts[a].c->open_peers() == 0);
  CHECK(announced);
  n.hosts[a].c->channel_closed(host_peer{12345}, n.now);  // unknown: ignored
}

TEST_CASE("[client] a channel the host connected itself (attach_channel) moves a torrent, from a magnet", "[client]") {
  net n;
  const auto seeder = n.add({});
  const auto leecher = n.add({});
  const byte_buffer data = random_bytes(200 * 1024, 5);
  const byte_buffer torrent = make_torrent(data, {});  // no tracker: the page signals itself
  auto ts = n.hosts[seeder].seed(torrent, data, n.now);
  REQUIRE(ts);
  const auto m = parse_metainfo(torrent);
  REQUIRE(m);
  auto tl = n.hosts[leecher].c->add_magnet("magnet:?xt=urn:btih:" + to_hex(m->info_hash), n.now);
  REQUIRE(tl);
  CHECK(n.hosts[leecher].c->torrent_file(*tl).empty());  // no metadata yet
  CHECK_FALSE(n.hosts[leecher].c->attach_channel(torrent_id{99}, n.now));

  const auto ps = n.hosts[seeder].c->attach_channel(*ts, n.now);
  const auto pl = n.hosts[leecher].c->attach_channel(*tl, n.now);
  REQUIRE(ps);
  REQUIRE(pl);
  n.links[{seeder, ps->value}] = {leecher, pl->value};
  n.links[{leecher, pl->value}] = {seeder, ps->value};
  n.actions.push_back([&] {
    n.hosts[seeder].c->channel_opened(*ps, n.now);
    n.hosts[leecher].c->channel_opened(*pl, n.now);
  });
  REQUIRE(n.run([&] { return n.hosts[leecher].finished; }));
  CHECK(n.hosts[leecher].stored(*tl, data.size()).size() == data.size());
  const auto got = n.hosts[leecher].stored(*tl, data.size());
  CHECK(std::equal(got.begin(), got.end(), data.begin(), data.end()));
  // The leecher can now hand out a .torrent with the same info dict.
  const auto rebuilt = parse_metainfo(n.hosts[leecher].c->torrent_file(*tl));
  REQUIRE(rebuilt);
  CHECK(rebuilt->info_hash == m->info_hash);
}

TEST_CASE("[client] dial_peers: x.pe and add_peer addresses go out as connect outputs; accepted sockets serve", "[client]") {
  client_settings dialing;
  dialing.dial_peers = true;
  net n;
  const auto seeder = n.add(dialing);
  const auto leecher = n.add(dialing);
  n.listening.insert(seeder);
  const byte_buffer data = random_bytes(300 * 1024, 9);
  const byte_buffer torrent = make_torrent(data, {});
  auto ts = n.hosts[seeder].seed(torrent, data, n.now);
  REQUIRE(ts);
  const auto m = parse_metainfo(torrent);
  REQUIRE(m);
  // A refused address first (nobody listens there), then the seeder's.
  auto tl = n.hosts[leecher].c->add_magnet("magnet:?xt=urn:btih:" + to_hex(m->info_hash) +
                                               "&x.pe=10.0.0.9:6881&x.pe=not-an-address", n.now);
  REQUIRE(tl);
  CHECK(n.hosts[leecher].c->add_peer(torrent_id{99}, net::address_of(seeder), n.now) ==
        client::add_peer_result::unknown_torrent);
  REQUIRE(n.hosts[leecher].c->add_peer(*tl, net::address_of(seeder), n.now) == client::add_peer_result::added);
  REQUIRE(n.run([&] { return n.hosts[leecher].finished; }));
  CHECK(n.dials >= 2);
  const auto got = n.hosts[leecher].stored(*tl, data.size());
  CHECK(std::equal(got.begin(), got.end(), data.begin(), data.end()));
  // Addresses given by hand are manual; the seeder's side of the socket is incoming.
  const auto leecher_stats = n.hosts[leecher].c->engine().stats(*tl);
  const auto seeder_stats = n.hosts[seeder].c->engine().stats(*ts);
  CHECK(leecher_stats->peers_by_source[static_cast<std::size_t>(peer_source::manual)] >= 1);
  CHECK(leecher_stats->peers_by_source[static_cast<std::size_t>(peer_source::tracker)] == 0);
  CHECK(seeder_stats->peers_by_source[static_cast<std::size_t>(peer_source::incoming)] >= 1);
  // Removing the torrent closes its socket on both sides.
  n.hosts[leecher].c->remove_torrent(*tl, n.now);
  REQUIRE(n.run([&] { return n.links.empty(); }, std::chrono::seconds(10)));
}

TEST_CASE("[client] remove_peer forgets a waiting address and closes a connected one, neither redialled", "[client]") {
  client_settings dialing;
  dialing.dial_peers = true;
  net n;
  const auto seeder = n.add(dialing);
  const auto leecher = n.add(dialing);
  n.listening.insert(seeder);
  const byte_buffer data = random_bytes(2 * 1024 * 1024, 4);
  const byte_buffer torrent = make_torrent(data, {});
  REQUIRE(n.hosts[seeder].seed(torrent, data, n.now));
  const auto m = parse_metainfo(torrent);
  REQUIRE(m);
  client& c = *n.hosts[leecher].c;
  auto tl = c.add_magnet("magnet:?xt=urn:btih:" + to_hex(m->info_hash), n.now);
  REQUIRE(tl);
  // Nobody listens at 10.0.0.9: its refused dial leaves it waiting to be redialled.
  const wire::endpoint refused = wire::make_endpoint_v4({10, 0, 0, 9}, 6881);
  REQUIRE(c.add_peer(*tl, refused, n.now) == client::add_peer_result::added);
  n.run([] { return false; }, std::chrono::seconds(1));
  const auto dials = n.dials;
  CHECK(dials >= 1);
  CHECK(c.remove_peer(*tl, refused, n.now));
  CHECK_FALSE(c.remove_peer(*tl, refused, n.now));
  CHECK_FALSE(c.remove_peer(torrent_id{99}, refused, n.now));
  n.run([] { return false; }, std::chrono::minutes(3));
  CHECK(n.dials == dials);
  // A connected peer: its socket is closed at once, and it is not dialled again.
  REQUIRE(c.add_peer(*tl, net::address_of(seeder), n.now) == client::add_peer_result::added);
  REQUIRE(n.run([&] { return !n.links.empty(); }));
  CHECK(c.remove_peer(*tl, net::address_of(seeder), n.now));
  REQUIRE(n.run([&] { return n.links.empty(); }, std::chrono::seconds(5)));
  const auto after = n.dials;
  n.run([] { return false; }, std::chrono::minutes(3));
  CHECK(n.dials == after);
  CHECK(n.links.empty());
  // add_peer brings it back.
  CHECK(c.add_peer(*tl, net::address_of(seeder), n.now) == client::add_peer_result::added);
  REQUIRE(n.run([&] { return n.hosts[leecher].finished; }));
}

TEST_CASE("[client] without dial_peers an address is never handed to the host", "[client]") {
  net n;
  const auto seeder = n.add({});
  const auto leecher = n.add({});
  n.listening.insert(seeder);
  const byte_buffer data = random_bytes(64 * 1024, 3);
  const byte_buffer torrent = make_torrent(data, {});
  REQUIRE(n.hosts[seeder].seed(torrent, data, n.now));
  const auto m = parse_metainfo(torrent);
  auto tl = n.hosts[leecher].c->add_magnet("magnet:?xt=urn:btih:" + to_hex(m->info_hash) + "&x.pe=10.0.0.1:6881", n.now);
  REQUIRE(tl);
  n.run([] { return false; }, std::chrono::seconds(30));
  CHECK(n.dials == 0);
  CHECK_FALSE(n.hosts[leecher].finished);
}

TEST_CASE("[client] torrent_file lists the torrent's own, the added and the default trackers", "[client]") {
  client_settings s;
  s.default_trackers = {"wss://default.test"};
  client c(s);
  const byte_buffer data = random_bytes(10 * 1024, 9);
  auto t = c.add_torrent(make_torrent(data, {"udp://own.test:80", tracker_url}), {.seed = true}, time_point{},
                         {"ws://extra.test"});
  REQUIRE(t);
  auto m = parse_metainfo(c.torrent_file(*t));
  REQUIRE(m);
  CHECK(m->trackers() == std::vector<std::string>{"udp://own.test:80", tracker_url, "ws://extra.test", "wss://default.test"});
}

TEST_CASE("[client] announce_to_trackers false: no tracker is contacted, the torrent still lists its own", "[client]") {
  client_settings s;
  s.default_trackers = {"wss://default.test"};
  s.announce_to_trackers = false;
  net n;
  const auto h = n.add(s);
  const byte_buffer data = random_bytes(10 * 1024, 9);
  auto t = n.hosts[h].c->add_torrent(make_torrent(data, {tracker_url}), {.seed = true}, n.now, {"ws://extra.test"});
  REQUIRE(t);
  n.run([] { return false; }, std::chrono::minutes(2));
  CHECK(n.hosts[h].open_sockets.empty());
  CHECK(n.tracker.received.empty());
  auto m = parse_metainfo(n.hosts[h].c->torrent_file(*t));
  REQUIRE(m);
  CHECK(m->trackers() == std::vector<std::string>{tracker_url, "ws://extra.test", "wss://default.test"});
}

namespace {

// Announces with this `event` that the tracker received from the client with `peer_id`.
std::size_t announces(const net& n, const wire::peer_id& peer_id, const std::string& event) {
  const std::string id = ws_tracker::to_latin1(byte_view(peer_id.data(), peer_id.size()));
  std::size_t count = 0;
  for (const auto& text : n.tracker.received) {
    const json m = json::parse(text);
    if (m.value("action", "") == "announce" && m.value("peer_id", "") == id && m.value("event", "") == event) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("[client] pause announces stopped and closes the torrent's peers; resume announces started and reconnects", "[client]") {
  const byte_buffer data = random_bytes(200 * 1024 + 7, 5);
  const byte_buffer torrent = make_torrent(data, {tracker_url});
  net n;
  const std::size_t seeder = n.add({});
  const std::size_t leecher = n.add({});
  client& lc = *n.hosts[leecher].c;
  const auto ts = n.hosts[seeder].seed(torrent, data, n.now);
  REQUIRE(ts.ok());
  const auto tl = lc.add_torrent(torrent, {}, n.now);
  REQUIRE(tl.ok());

  // Paused at once: nothing arrives, however long it waits.
  CHECK(lc.pause_torrent(*tl, n.now));
  CHECK(lc.pause_torrent(*tl, n.now));  // again: nothing more
  n.run([] { return false; }, std::chrono::seconds(30));
  CHECK_FALSE(n.hosts[leecher].finished);
  CHECK(lc.engine().stats(*tl)->paused);
  CHECK(lc.engine().stats(*tl)->have == 0);
  CHECK(lc.open_peers() == 0);
  CHECK(count_events<peer_connected_event>(n.hosts[leecher]) == 0);

  // Resumed: "started", and the download completes.
  CHECK(lc.resume_torrent(*tl, n.now));
  REQUIRE(n.run([&] { return n.hosts[leecher].finished; }));
  CHECK(announces(n, lc.peer_id(), "started") >= 1);
  CHECK_FALSE(lc.engine().stats(*tl)->paused);
  const std::size_t connected = count_events<peer_connected_event>(n.hosts[leecher]);
  CHECK(connected >= 1);

  // Paused while announced: "stopped", and every channel of the torrent closes.
  const std::size_t started = announces(n, lc.peer_id(), "started");
  CHECK(lc.pause_torrent(*tl, n.now));
  CHECK(lc.open_peers() == 0);
  n.run([] { return false; }, std::chrono::seconds(5));
  CHECK(announces(n, lc.peer_id(), "stopped") == 1);
  CHECK(n.hosts[seeder].c->engine().stats(*ts)->peers == 0);  // (its own offers wait on)
  CHECK(lc.open_peers() == 0);
  CHECK(lc.engine().have_pieces(*tl)->all());  // the pieces stay

  // Resumed again: "started" again, and the peers meet again.
  CHECK(lc.resume_torrent(*tl, n.now));
  REQUIRE(n.run([&] { return count_events<peer_connected_event>(n.hosts[leecher]) > connected; }));
  CHECK(announces(n, lc.peer_id(), "started") == started + 1);
  CHECK_FALSE(lc.pause_torrent(torrent_id{999}, n.now));
  CHECK_FALSE(lc.resume_torrent(torrent_id{999}, n.now));
}

// One client with a torrent on the scripted tracker's socket, its first announce sent (five
// offers made), and data channels to a remote peer opened either way round.
struct lone_client {
  client c;
  time_point now{std::chrono::seconds(1)};
  torrent_id torrent;
  json announce;
  const std::string remote_id = std::string(20, 'h');

  lone_client() : c(settings()) {
    auto t = c.add_torrent(make_torrent(random_bytes(40000, 2), {}), {}, now);
    REQUIRE(t);
    torrent = *t;
    c.socket_opened(tracker_url, now);
    while (auto o = c.poll()) {
      if (auto* x = std::get_if<client_out::create_offer>(&*o)) c.offer_created(x->peer, "offer sdp", now);
      else if (auto* text = std::get_if<client_out::send_text>(&*o)) announce = json::parse(text->text);
    }
    REQUIRE(announce["offers"].size() == 5);
  }
  static client_settings settings() {
    client_settings s;
    s.default_trackers = {tracker_url};
    return s;
  }
  // The remote peer answered our first offer; the channel is open.
  host_peer offered_channel() {
    c.text_received(tracker_url, json{{"action", "announce"}, {"answer", {{"type", "answer"}, {"sdp", "answer sdp"}}},
                                      {"offer_id", announce["offers"][0]["offer_id"]}, {"peer_id", remote_id},
                                      {"info_hash", announce["info_hash"]}}.dump(), now);
    std::optional<host_peer> p;
    while (auto o = c.poll())
      if (auto* x = std::get_if<client_out::set_answer>(&*o)) p = x->peer;
    REQUIRE(p);
    c.channel_opened(*p, now);
    return *p;
  }
  // The tracker relayed the remote peer's offer, we answered; the channel is open.
  host_peer answered_channel() {
    c.text_received(tracker_url, json{{"action", "announce"}, {"offer", {{"type", "offer"}, {"sdp", "its offer"}}},
                                      {"offer_id", std::string(20, 'o')}, {"peer_id", remote_id},
                                      {"info_hash", announce["info_hash"]}}.dump(), now);
    std::optional<host_peer> p;
    while (auto o = c.poll())
      if (auto* x = std::get_if<client_out::create_answer>(&*o)) p = x->peer;
    REQUIRE(p);
    c.answer_created(*p, "answer sdp", now);
    while (c.poll()) {}
    c.channel_opened(*p, now);
    return *p;
  }
  // Bytes the client sent on the channel until now.
  byte_buffer sent_on(host_peer p) {
    byte_buffer out;
    while (auto o = c.poll())
      if (auto* x = std::get_if<client_out::send>(&*o); x && x->peer == p) out.insert(out.end(), x->data.begin(), x->data.end());
    return out;
  }
};

TEST_CASE("[client] on a data channel the side that offered sends the handshake first, the side that answered replies", "[client]") {
  // Chromium sometimes drops what the answering side sends the instant its channel opens,
  // never (as measured) what the offering side sends first nor a reply to it.
  lone_client l;
  SECTION("we offered: our handshake goes out as the channel opens") {
    const byte_buffer out = l.sent_on(l.offered_channel());
    REQUIRE(out.size() >= wire::handshake_size);
    CHECK(out[0] == 19);
  }
  SECTION("we answered: nothing until the peer's handshake, then ours") {
    const host_peer p = l.answered_channel();
    CHECK(l.sent_on(p).empty());
    byte_buffer theirs;
    wire::peer_id id{};
    std::copy(l.remote_id.begin(), l.remote_id.end(), id.begin());
    const auto info_hash = ws_tracker::id_from_latin1(l.announce["info_hash"].get<std::string>());
    REQUIRE(info_hash);
    wire::encode_to(wire::make_handshake(*info_hash, id, {true, true, false}), theirs);
    l.c.channel_data(p, theirs, l.now);
    const byte_buffer out = l.sent_on(p);
    REQUIRE(out.size() >= wire::handshake_size);
    CHECK(out[0] == 19);
  }
}

TEST_CASE("[client] a peer that sends garbage on its channel: a warning for the torrent, the channel closed", "[client]") {
  lone_client l;
  std::optional<host_peer> channel;
  SECTION("we offered: our handshake goes first, garbage comes back") { channel = l.offered_channel(); }
  // The session learns a torrent from the handshake: here it never came.
  SECTION("we answered: garbage instead of its handshake") { channel = l.answered_channel(); }
  while (l.c.poll()) {}
  const std::size_t peers_before = l.c.open_peers();  // this channel and our pending offers
  const std::string garbage = "GET / HTTP/1.1\r\nHost: tracker.test\r\n\r\n";
  l.c.channel_data(*channel, byte_view(reinterpret_cast<const std::uint8_t*>(garbage.data()), garbage.size()), l.now);
  std::vector<warning_event> warnings;
  bool closed = false;
  while (auto o = l.c.poll()) {
    if (auto* x = std::get_if<client_out::close_peer>(&*o)) closed = closed || x->peer == *channel;
    if (auto* e = std::get_if<client_event>(&*o))
      if (auto* se = std::get_if<session_event>(e))
        if (auto* w = std::get_if<warning_event>(se)) warnings.push_back(*w);
  }
  CHECK(closed);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].torrent == l.torrent);  // not torrent 0: the channel was for this torrent
  CHECK(warnings[0].code != errc::ok);
  CHECK(warnings[0].message.find("bad handshake") != std::string::npos);
  CHECK(l.c.open_peers() == peers_before - 1);
}

TEST_CASE("[client] a finished selection that lacks pieces is not 'completed' to trackers", "[client]") {
  const byte_buffer data = random_bytes(300 * 1024 + 123, 43);
  net n;
  const std::size_t seeder = n.add({});
  const std::size_t leecher = n.add({});
  const byte_buffer torrent = make_torrent(data, {tracker_url});
  REQUIRE(n.hosts[seeder].seed(torrent, data, n.now).ok());
  auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
  REQUIRE(tl.ok());
  // Nothing selected: the selection is done at once, but the torrent lacks every piece.
  n.hosts[leecher].c->engine().set_file_priority(*tl, file_index{0}, 0, n.now);
  n.run([] { return false; }, std::chrono::seconds(5));
  CHECK(n.hosts[leecher].finished);
  bool completed = false, left_all = false;
  const std::string left = "\"left\":" + std::to_string(data.size());
  for (const auto& t : n.tracker.received) {
    if (t.find("\"completed\"") != std::string::npos) completed = true;
    if (t.find(left) != std::string::npos) left_all = true;
  }
  CHECK_FALSE(completed);
  CHECK(left_all);
  // Selected again and downloaded: now it is complete.
  n.hosts[leecher].c->engine().set_file_priority(*tl, file_index{0}, 4, n.now);
  REQUIRE(n.run([&] {
    for (const auto& t : n.tracker.received)
      if (t.find("\"completed\"") != std::string::npos) return true;
    return false;
  }));
}

TEST_CASE("[client] web seeds from url-list and ws=: http outputs in, bytes back, verified", "[client]") {
  // Two pieces of 16 KiB plus a short third, seeded by a web server only.
  byte_buffer data(40000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 7);
  input_file f{"clip.webm", data};
  create_options o;
  o.piece_length = 16 * 1024;
  o.creation_date = 0;
  o.url_list = {"https://cdn.test/files/"};
  auto torrent = create_torrent(std::span<const input_file>(&f, 1), o);
  REQUIRE(torrent);
  client c;
  time_point now{};
  auto t = c.add_torrent(*torrent, {}, now);
  REQUIRE(t);
  CHECK_FALSE(c.add_web_seed(*t, "https://cdn.test/files/", now));  // already there
  // No tracker, so no peer is coming: the fallback's grace is over at once, the seed starts.

  // Drain outputs: answer every get honestly, complete storage writes.
  std::vector<http_request> gets;
  std::size_t cancels = 0, writes = 0;
  bool finished = false;
  for (int round = 0; round < 20 && !finished; ++round) {
    std::vector<client_output> outs;
    while (auto out = c.poll()) outs.push_back(std::move(*out));
    if (outs.empty()) break;
    for (auto& out : outs) {
      if (auto* h = std::get_if<client_out::http>(&out)) {
        if (h->request.op == http_op::cancel) {
          ++cancels;
          continue;
        }
        gets.push_back(h->request);
        const auto& r = h->request;
        const std::string range = "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/40000";
        c.http_response(r.id, 206, range, r.last - r.first + 1, now);
        // In two chunks, as a stream delivers.
        const auto mid = static_cast<std::size_t>(r.first + (r.last - r.first) / 2);
        c.http_data(r.id, byte_view(data).subspan(static_cast<std::size_t>(r.first), mid - static_cast<std::size_t>(r.first)), now);
        c.http_data(r.id, byte_view(data).subspan(mid, static_cast<std::size_t>(r.last) + 1 - mid), now);
        c.http_done(r.id, now);
      } else if (auto* s = std::get_if<client_out::storage>(&out)) {
        if (s->request.op == storage_op::write) ++writes;
        c.storage_completed({s->request.id, true, {}, {}}, now);
      } else if (auto* e = std::get_if<client_event>(&out)) {
        if (auto* se = std::get_if<session_event>(e)) finished |= std::holds_alternative<torrent_finished_event>(*se);
      }
    }
  }
  CHECK(finished);
  // 40000 bytes over the seed's request slots, a piece at least each: one per piece.
  REQUIRE(gets.size() == 3);
  std::sort(gets.begin(), gets.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < gets.size(); ++i) {
    CHECK(gets[i].url == "https://cdn.test/files/clip.webm");
    CHECK(gets[i].first == static_cast<std::int64_t>(i) * 16384);
    CHECK(gets[i].last == std::min<std::int64_t>(39999, (static_cast<std::int64_t>(i) + 1) * 16384 - 1));
    CHECK(gets[i].torrent == *t);
  }
  CHECK(cancels == 0);
  CHECK(writes == 3);
  const auto st = c.engine().stats(*t);
  CHECK(st->web_seed_downloaded == 40000);
  REQUIRE(c.engine().web_seeds(*t).size() == 1);
  CHECK(c.engine().web_seeds(*t)[0].url == "https://cdn.test/files/");

  SECTION("a magnet's ws= and as= become web seeds too") {
    auto m = c.add_magnet("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&ws=http%3A%2F%2Fa.test%2F"
                          "&as=http%3A%2F%2Fb.test%2Fx&ws=ftp%3A%2F%2Fc.test%2F",
                          now);
    REQUIRE(m);
    const auto seeds = c.engine().web_seeds(*m);
    REQUIRE(seeds.size() == 2);  // the ftp:// one is refused
    CHECK(seeds[0].url == "http://a.test/");
    CHECK(seeds[1].url == "http://b.test/x");
  }
}

namespace {

std::vector<client_output> drain_outputs(client& c) {
  std::vector<client_output> out;
  while (auto o = c.poll()) out.push_back(std::move(*o));
  return out;
}

template <class T>
std::size_t count_of(const std::vector<client_output>& out) {
  return static_cast<std::size_t>(std::count_if(out.begin(), out.end(), [](const auto& o) { return std::holds_alternative<T>(o); }));
}

}  // namespace

TEST_CASE("[client] HTTP/UDP trackers and the DHT through the installed network; none without one (the browser's)", "[client]") {
  client_settings s;
  s.dial_peers = true;
  s.session.listen_port = 6881;
  s.dht.emplace();
  const byte_buffer data = random_bytes(64 * 1024, 5);
  const byte_buffer torrent = make_torrent(data, {"http://tracker.test/announce", "udp://tracker.test:6969"});
  const time_point now{};
  const wire::endpoint router = *wire::parse_endpoint("10.0.0.7:6881");

  client full(s);
  REQUIRE(full.has_dht());
  const auto t = full.add_torrent(torrent, {}, now);
  REQUIRE(t);
  full.dht_bootstrap({router}, now);
  auto out = drain_outputs(full);
  REQUIRE(count_of<client_out::tracker_get>(out) == 1);  // the first tier; UDP only if it fails
  CHECK(count_of<client_out::dht_send>(out) >= 1);
  const auto& get = *std::find_if(out.begin(), out.end(), [](const auto& o) { return std::holds_alternative<client_out::tracker_get>(o); });
  // An answer with one peer: dialled, and announced as an event.
  const std::string body = "d8:completei1e10:incompletei0e8:intervali1800e5:peers6:" + std::string("\x0a\x00\x00\x05\x1a\xe1", 6) + "e";
  full.tracker_response(std::get<client_out::tracker_get>(get).id, 200, as_bytes(body), now);
  out = drain_outputs(full);
  CHECK(count_of<client_out::connect>(out) == 1);
  CHECK(std::any_of(out.begin(), out.end(), [](const auto& o) {
    const auto* e = std::get_if<client_event>(&o);
    return e && std::holds_alternative<tracker_announce_event>(*e);
  }));
  CHECK(full.scrape(*t, now));

  client browser(s, nullptr);
  CHECK_FALSE(browser.has_dht());
  const auto tb = browser.add_torrent(torrent, {}, now);
  REQUIRE(tb);
  browser.dht_bootstrap({router}, now);
  browser.tracker_response(1, 200, as_bytes(body), now);  // ignored: nothing asked
  browser.on_timer(now + std::chrono::minutes(5));
  out = drain_outputs(browser);
  CHECK(count_of<client_out::tracker_get>(out) == 0);
  CHECK(count_of<client_out::udp_send>(out) == 0);
  CHECK(count_of<client_out::dht_send>(out) == 0);
  CHECK(count_of<client_out::connect>(out) == 0);
  CHECK_FALSE(browser.scrape(*tb, now));
  CHECK(browser.dht_state(now).empty());
}

TEST_CASE("[client] the DHT over IPv4 and IPv6 (BEP 32): one node per family, one state, one 'dhtAnnounce' per announce", "[client][dht]") {
  // Two dual-stack clients; every datagram goes to the other client from the sender's
  // address of the same family.
  const wire::endpoint a4 = *wire::parse_endpoint("10.0.0.1:6881"), a6 = *wire::parse_endpoint("[2001:db8::1]:6881");
  const wire::endpoint b4 = *wire::parse_endpoint("10.0.0.2:6881"), b6 = *wire::parse_endpoint("[2001:db8::2]:6881");
  client_settings s;
  s.dial_peers = true;
  s.session.listen_port = 6881;
  s.dht.emplace();
  s.dht_ipv6 = true;
  s.session.seed = 1;
  client a(s);
  s.session.seed = 2;
  client b(s);
  const auto torrent = make_torrent(random_bytes(64 * 1024, 9), {});
  time_point now{};
  b.dht_bootstrap({}, now);
  a.dht_bootstrap({b4, b6}, now);
  std::size_t announces = 0, v6_sends = 0;
  std::vector<dht_peers_event> found_by_b;  // its torrents' lookups' peers (op 0)
  const auto exchange = [&](time_point until) {
    while (now < until) {
      for (int round = 0; round < 8; ++round) {
        for (auto* from : {&a, &b}) {
          auto* to = from == &a ? &b : &a;
          for (auto& o : drain_outputs(*from)) {
            if (auto* d = std::get_if<client_out::dht_send>(&o)) {
              v6_sends += d->to.v6 ? 1 : 0;
              const bool for_a = d->to == a4 || d->to == a6;
              if (for_a != (to == &a)) continue;  // nobody at that address
              to->dht_received(d->to.v6 ? (from == &a ? a6 : b6) : (from == &a ? a4 : b4), d->data, now);
            } else if (auto* e = std::get_if<client_event>(&o); e && from == &a) {
              if (auto* ann = std::get_if<dht_announce_event>(e); ann && ann->announced_to > 0) ++announces;
            } else if (e && from == &b) {
              if (auto* peers = std::get_if<dht_peers_event>(e)) found_by_b.push_back(*peers);
            }
          }
        }
      }
      now += std::chrono::milliseconds(100);
      a.on_timer(now);
      b.on_timer(now);
    }
  };
  exchange(now + std::chrono::seconds(5));
  CHECK(v6_sends > 0);
  CHECK(a.dht_nodes() == 2);  // b, once per family
  CHECK(b.dht_nodes() == 2);

  REQUIRE(a.add_torrent(torrent, {}, now));
  exchange(now + std::chrono::seconds(30));
  CHECK(announces == 1);  // both nodes announced it, within the same minute
  CHECK(found_by_b.empty());

  // b's torrent finds a by its own lookup; the host hears those peers too, as op 0.
  REQUIRE(b.add_torrent(torrent, {}, now));
  exchange(now + std::chrono::seconds(30));
  REQUIRE_FALSE(found_by_b.empty());
  bool found_a = false;
  for (const auto& f : found_by_b) {
    CHECK(f.op == 0);
    for (const auto& p : f.peers) found_a = found_a || ((p.address == a4.address || p.address == a6.address) && p.port == 6881);
  }
  CHECK(found_a);

  // One state: the IPv4 nodes under "nodes", the IPv6 ones under "nodes6"; a client
  // restored from it knows both.
  const auto state = a.dht_state(now);
  const std::string text(as_chars(state));
  CHECK(text.find("5:nodes26:") != std::string::npos);
  CHECK(text.find("6:nodes638:") != std::string::npos);
  s.session.seed = 3;
  client restored(s);
  CHECK(restored.dht_load_state(state, now));
  CHECK(restored.dht_nodes() == 2);
}

namespace {

// An addressed network that has a DHT and records what the client announces on it.
struct recording_network final : addressed_network {
  static inline recording_network* last = nullptr;
  std::vector<id20> on_dht;
  std::vector<id20> on_lsd;
  recording_network() { last = this; }
  static std::unique_ptr<addressed_network> make(const client_settings&) { return std::make_unique<recording_network>(); }

  bool add_torrent(const id20&, const id20&, const std::vector<std::string>&, const tracker::announce_stats&, time_point) override { return false; }
  void remove_torrent(const id20&, time_point) override {}
  void completed(const id20&, time_point) override {}
  void set_stats(const id20&, const tracker::announce_stats&) override {}
  void set_numwant(const id20&, std::uint32_t) override {}
  bool scrape(const id20&, time_point) override { return false; }
  void tracker_response(std::uint64_t, int, byte_view, time_point) override {}
  void tracker_failed(std::uint64_t, const std::string&, time_point) override {}
  void udp_received(const std::string&, byte_view, bool, time_point) override {}
  void udp_failed(const std::string&, const std::string&, time_point) override {}
  bool has_dht() const override { return true; }
  bool dht_announce(const id20& info_hash, std::uint16_t, bool, time_point) override {
    on_dht.push_back(info_hash);
    return true;
  }
  void dht_stop(const id20& info_hash) override { std::erase(on_dht, info_hash); }
  void dht_bootstrap(const std::vector<wire::endpoint>&, time_point) override {}
  void dht_received(const wire::endpoint&, byte_view, time_point) override {}
  byte_buffer dht_state(time_point) const override { return {}; }
  bool dht_load_state(byte_view, time_point) override { return false; }
  std::size_t dht_nodes() const override { return 0; }
  std::vector<wire::endpoint> dht_node_endpoints() const override { return {}; }
  id20 dht_node_id() const override { return {}; }
  std::optional<std::uint64_t> dht_get_item(const id20&, byte_view, bool, time_point) override { return std::nullopt; }
  std::variant<std::uint64_t, dht::error_reply> dht_put_item(const dht::item&, std::optional<std::int64_t>, time_point) override {
    return dht::error_reply{};
  }
  std::optional<std::uint64_t> dht_lookup(const id20&, std::optional<std::uint16_t>, bool, time_point) override {
    return std::nullopt;
  }
  void dht_add_node(const wire::endpoint&, time_point) override {}
  bool has_lsd() const override { return true; }
  bool lsd_announce(const id20& info_hash, time_point) override {
    on_lsd.push_back(info_hash);
    return true;
  }
  void lsd_stop(const id20& info_hash) override { std::erase(on_lsd, info_hash); }
  void lsd_received(const wire::endpoint&, byte_view, time_point) override {}
  void on_timer(time_point) override {}
  std::optional<time_point> next_deadline() const override { return std::nullopt; }
  std::optional<addressed_output> poll() override { return std::nullopt; }
};

}  // namespace

TEST_CASE("[client] a private torrent, by its flag or the add option, uses neither the DHT nor the client's trackers", "[client]") {
  client_settings s;
  s.default_trackers = {"wss://default.test"};
  const byte_buffer data = random_bytes(10 * 1024, 11);
  bool flag = false;
  std::optional<bool> option;
  bool expect_private = false;
  SECTION("public") {}
  SECTION("private flag") { flag = expect_private = true; }
  SECTION("public, added as private") { option = expect_private = true; }
  SECTION("private flag, added as public") {
    flag = true;
    option = false;
  }
  client c(s, &recording_network::make);
  auto t = c.add_torrent(make_torrent(data, {tracker_url}, flag), {.is_private = option}, time_point{});
  REQUIRE(t);
  auto m = parse_metainfo(c.torrent_file(*t));
  REQUIRE(m);
  CHECK(recording_network::last->on_dht.size() == (expect_private ? 0u : 1u));
  if (expect_private)
    CHECK(m->trackers() == std::vector<std::string>{tracker_url});
  else
    CHECK(m->trackers() == std::vector<std::string>{tracker_url, "wss://default.test"});
}

TEST_CASE("[client] a magnet added as private is not announced on the DHT", "[client]") {
  const client_settings s;
  client c(s, &recording_network::make);
  const std::string magnet = "magnet:?xt=urn:btih:" + std::string(40, 'a');
  REQUIRE(c.add_magnet(magnet, time_point{}, {}, {.is_private = true}));
  CHECK(recording_network::last->on_dht.empty());
  REQUIRE(c.add_magnet("magnet:?xt=urn:btih:" + std::string(40, 'b'), time_point{}));
  CHECK(recording_network::last->on_dht.size() == 1);
}

TEST_CASE("[client] Local Service Discovery: two clients with no tracker and no DHT find each other on the LAN", "[client][lsd]") {
  client_settings s;
  s.dial_peers = true;
  s.session.listen_port = 6881;  // net::address_of's port
  s.lsd.emplace();
  net n;
  const auto seeder = n.add(s);
  const auto leecher = n.add(s);
  n.listening.insert(seeder);
  REQUIRE(n.hosts[leecher].c->has_lsd());
  const byte_buffer data = random_bytes(200 * 1024, 21);
  const byte_buffer torrent = make_torrent(data, {});
  const auto m = parse_metainfo(torrent);
  REQUIRE(m);
  auto ts = n.hosts[seeder].seed(torrent, data, n.now);
  REQUIRE(ts);

  SECTION("a magnet with only the info-hash downloads from the peer LSD names") {
    // The seeder announced first; the leecher joins later: its own announce makes the
    // seeder dial it (refused: it does not listen), and the seeder's next one makes it dial.
    REQUIRE(n.run([&] { return n.lsd_datagrams >= 2; }, std::chrono::seconds(5)));
    auto tl = n.hosts[leecher].c->add_magnet("magnet:?xt=urn:btih:" + to_hex(m->info_hash), n.now);
    REQUIRE(tl);
    REQUIRE(n.run([&] { return n.hosts[leecher].finished; }, std::chrono::minutes(6)));
    const auto got = n.hosts[leecher].stored(*tl, data.size());
    CHECK(std::equal(got.begin(), got.end(), data.begin(), data.end()));
    const auto st = n.hosts[leecher].c->engine().stats(*tl);
    CHECK(st->peers_by_source[static_cast<std::size_t>(peer_source::lsd)] >= 1);
    CHECK(st->peers_by_source[static_cast<std::size_t>(peer_source::tracker)] == 0);
    CHECK(st->peers_by_source[static_cast<std::size_t>(peer_source::dht)] == 0);
    // No announce more often than once a minute per torrent (two torrents, two families).
    CHECK(n.lsd_datagrams <= 2 * 2 * 8);
  }

  SECTION("the blocklist holds the seeder's address: refused, reported with source lsd") {
    n.hosts[leecher].c->set_ip_filter(ip_set({{ip_set::to_v4(net::address_of(seeder)), ip_set::to_v4(net::address_of(seeder))}}, {}), n.now);
    auto tl = n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
    REQUIRE(tl);
    n.run([&] { return false; }, std::chrono::minutes(6));
    CHECK_FALSE(n.hosts[leecher].finished);
    std::size_t blocked = 0;
    for (const auto& e : n.hosts[leecher].events)
      if (auto* se = std::get_if<session_event>(&e))
        if (auto* b = std::get_if<peer_blocked_event>(se); b && b->source == peer_source::lsd) ++blocked;
    CHECK(blocked >= 1);
  }

  SECTION("a private torrent is never announced, nor found") {
    const byte_buffer priv = make_torrent(data, {}, true);
    n.hosts[seeder].c->remove_torrent(*ts, n.now);
    REQUIRE(n.hosts[seeder].seed(priv, data, n.now));
    const std::size_t before = n.lsd_datagrams;
    REQUIRE(n.hosts[leecher].c->add_torrent(priv, {}, n.now));
    n.run([&] { return false; }, std::chrono::minutes(6));
    CHECK(n.lsd_datagrams == before);
    CHECK_FALSE(n.hosts[leecher].finished);
    CHECK(n.dials == 0);
  }

  SECTION("pause stops the announces; resume announces again") {
    REQUIRE(n.run([&] { return n.lsd_datagrams >= 2; }, std::chrono::seconds(5)));
    REQUIRE(n.hosts[seeder].c->pause_torrent(*ts, n.now));
    const std::size_t before = n.lsd_datagrams;
    n.run([&] { return false; }, std::chrono::minutes(11));
    CHECK(n.lsd_datagrams == before);
    REQUIRE(n.hosts[seeder].c->resume_torrent(*ts, n.now));
    REQUIRE(n.run([&] { return n.lsd_datagrams > before; }, std::chrono::seconds(5)));
  }
}

TEST_CASE("[client] LSD needs dial_peers and a listen port; private torrents stay off it", "[client][lsd]") {
  client_settings s;
  s.lsd.emplace();
  CHECK_FALSE(client(s).has_lsd());  // no dials
  s.dial_peers = true;
  CHECK_FALSE(client(s).has_lsd());  // no listen port
  s.session.listen_port = 6881;
  CHECK(client(s).has_lsd());
  CHECK_FALSE(client(s, nullptr).has_lsd());  // the browser's module
  const byte_buffer data = random_bytes(10 * 1024, 12);
  client c(s, &recording_network::make);
  REQUIRE(c.add_torrent(make_torrent(data, {}, true), {}, time_point{}));
  CHECK(recording_network::last->on_lsd.empty());
  auto t = c.add_torrent(make_torrent(data, {}), {}, time_point{});
  REQUIRE(t);
  CHECK(recording_network::last->on_lsd.size() == 1);
  c.remove_torrent(*t, time_point{});
  CHECK(recording_network::last->on_lsd.empty());
}

// --- message stream encryption (MSE) on TCP connections ---------------------------------------

namespace {

std::vector<std::uint8_t> encryption_of_peers(const host& h) {
  std::vector<std::uint8_t> out;
  for (const auto& e : h.events)
    if (auto* se = std::get_if<session_event>(&e))
      if (auto* pc = std::get_if<peer_connected_event>(se)) out.push_back(pc->encryption);
  return out;
}

// A leecher with `leecher_policy` dials a seeder with `seeder_policy` (the seeder without the
// addressed network when `seeder_speaks_mse` is false: plain BitTorrent only).
struct mse_pair {
  net n;
  std::size_t seeder = 0, leecher = 0;
  torrent_id ts, tl;
  byte_buffer data = random_bytes(200 * 1024, 21);

  mse_pair(encryption_policy seeder_policy, encryption_policy leecher_policy, bool seeder_speaks_mse = true) {
    client_settings s;
    s.dial_peers = true;
    s.encryption = seeder_policy;
    if (seeder_speaks_mse) {
      seeder = n.add(s);
    } else {
      s.session.seed = 7;
      host h;
      h.c = std::make_unique<client>(s, nullptr);
      n.hosts.push_back(std::move(h));
      seeder = n.hosts.size() - 1;
    }
    s.encryption = leecher_policy;
    leecher = n.add(s);
    n.listening.insert(seeder);
    const byte_buffer torrent = make_torrent(data, {});
    ts = *n.hosts[seeder].seed(torrent, data, n.now);
    tl = *n.hosts[leecher].c->add_torrent(torrent, {}, n.now);
    REQUIRE(n.hosts[leecher].c->add_peer(tl, net::address_of(seeder), n.now) == client::add_peer_result::added);
  }
  bool download(duration limit = std::chrono::minutes(2)) {
    if (!n.run([&] { return n.hosts[leecher].finished; }, limit)) return false;
    const auto got = n.hosts[leecher].stored(tl, data.size());
    return std::equal(got.begin(), got.end(), data.begin(), data.end());
  }
};

}  // namespace

TEST_CASE("[client] MSE: encrypted dials download, each side reports the method", "[client][mse]") {
  struct mode {
    encryption_policy seeder, leecher;
    std::uint8_t expected;
  };
  for (const mode m : {mode{encryption_policy::plain, encryption_policy::prefer_rc4, 2},
                       mode{encryption_policy::required, encryption_policy::required, 2},
                       // Level 1 offers both: the answerer chooses (WebTorrent 3's secure: 1).
                       mode{encryption_policy::prefer_rc4, encryption_policy::prefer_plaintext, 2},
                       mode{encryption_policy::required, encryption_policy::prefer_plaintext, 2},
                       mode{encryption_policy::prefer_plaintext, encryption_policy::prefer_rc4, 1},
                       mode{encryption_policy::prefer_plaintext, encryption_policy::prefer_plaintext, 1},
                       // RC4 only (WebTorrent 3's secure: 2): offered and required of MSE
                       // peers, while plain handshakes are still answered.
                       mode{encryption_policy::plain, encryption_policy::rc4_only, 2},
                       mode{encryption_policy::rc4_only, encryption_policy::prefer_plaintext, 2},
                       mode{encryption_policy::rc4_only, encryption_policy::plain, 0},
                       mode{encryption_policy::prefer_rc4, encryption_policy::plain, 0}}) {
    CAPTURE(static_cast<int>(m.seeder), static_cast<int>(m.leecher));
    mse_pair p(m.seeder, m.leecher);
    REQUIRE(p.download());
    CHECK(p.n.dials == 1);
    CHECK(encryption_of_peers(p.n.hosts[p.leecher]) == std::vector<std::uint8_t>{m.expected});
    CHECK(encryption_of_peers(p.n.hosts[p.seeder]) == std::vector<std::uint8_t>{m.expected});
  }
}

TEST_CASE("[client] MSE: a peer that speaks only plain BitTorrent is dialled again without, at once", "[client][mse]") {
  mse_pair p(encryption_policy::plain, encryption_policy::prefer_rc4, false);
  REQUIRE(p.download(std::chrono::seconds(30)));
  CHECK(p.n.dials == 2);
  CHECK(encryption_of_peers(p.n.hosts[p.leecher]) == std::vector<std::uint8_t>{0});
  // The session saw one connection: no disconnect, one connect.
  CHECK(count_events<peer_disconnected_event>(p.n.hosts[p.leecher]) == 0);
  // The host is told which socket carries the connection: the first, then the redial.
  std::vector<std::uint32_t> sockets;
  for (const auto& e : p.n.hosts[p.leecher].events)
    if (auto* ch = std::get_if<peer_channel_event>(&e)) sockets.push_back(ch->peer.value);
  REQUIRE(sockets.size() == 2);
  CHECK(sockets[0] != sockets[1]);
}

TEST_CASE("[client] MSE: the plain redial is remembered for the address", "[client][mse]") {
  mse_pair p(encryption_policy::plain, encryption_policy::prefer_rc4, false);
  REQUIRE(p.download(std::chrono::seconds(30)));
  REQUIRE(p.n.dials == 2);
  // The torrent again: its dial to the same address is plain at once.
  auto& leecher = *p.n.hosts[p.leecher].c;
  const byte_buffer torrent = leecher.torrent_file(p.tl);
  leecher.remove_torrent(p.tl, p.n.now);
  REQUIRE(p.n.run([&] { return p.n.links.empty(); }, std::chrono::seconds(10)));
  p.n.hosts[p.leecher].finished = false;
  p.tl = *leecher.add_torrent(torrent, {}, p.n.now);
  REQUIRE(leecher.add_peer(p.tl, net::address_of(p.seeder), p.n.now) == client::add_peer_result::added);
  REQUIRE(p.download(std::chrono::seconds(30)));
  CHECK(p.n.dials == 3);
}

TEST_CASE("[client] MSE: a peer that stalls in the MSE handshake gets the plain redial after the timeout", "[client][mse]") {
  mse_pair p(encryption_policy::plain, encryption_policy::prefer_rc4);
  p.n.mute_next_accept.insert(p.seeder);
  const time_point start = p.n.now;
  REQUIRE(p.download(std::chrono::seconds(30)));
  CHECK(p.n.dials == 2);
  CHECK(p.n.now - start >= client_settings{}.encryption_timeout);
  CHECK(p.n.now - start < client_settings{}.encryption_timeout + std::chrono::seconds(5));
  CHECK(encryption_of_peers(p.n.hosts[p.leecher]) == std::vector<std::uint8_t>{0});
}

TEST_CASE("[client] MSE: required refuses plain peers both ways", "[client][mse]") {
  SECTION("a required seeder refuses a plain dial") {
    mse_pair p(encryption_policy::required, encryption_policy::plain);
    CHECK_FALSE(p.download(std::chrono::seconds(30)));
    CHECK(encryption_of_peers(p.n.hosts[p.seeder]).empty());
  }
  SECTION("a required leecher does not fall back to a plain dial") {
    mse_pair p(encryption_policy::plain, encryption_policy::required, false);
    CHECK_FALSE(p.download(std::chrono::seconds(30)));
    CHECK(encryption_of_peers(p.n.hosts[p.leecher]).empty());
  }
  SECTION("nor does an RC4-only leecher") {
    mse_pair p(encryption_policy::plain, encryption_policy::rc4_only, false);
    CHECK_FALSE(p.download(std::chrono::seconds(30)));
    CHECK(encryption_of_peers(p.n.hosts[p.leecher]).empty());
  }
}
