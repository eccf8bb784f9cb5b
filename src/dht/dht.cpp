#include "dht/dht.hpp"

#include <algorithm>
#include <deque>
#include <map>

#include "base/random.hpp"
#include "bencode/bencode.hpp"
#include "dht/node_id.hpp"

namespace wt::dht {

namespace {

using namespace std::chrono_literals;

enum class candidate_state : std::uint8_t { fresh, queried, answered, failed };

struct candidate {
  node_info info;
  bool id_known = true;  // routers given by address only have no id until they answer
  candidate_state state = candidate_state::fresh;
  bool slow = false;  // queried, no answer within short_timeout: no longer holds a slot
  byte_buffer token;
};

// An address one can send to: a port, and an address that is not all zeros (0.0.0.0, ::).
bool usable_peer(const wire::endpoint& ep) {
  if (ep.port == 0) return false;
  const std::size_t n = ep.v6 ? 16 : 4;
  return std::any_of(ep.address.begin(), ep.address.begin() + static_cast<std::ptrdiff_t>(n),
                     [](std::uint8_t b) { return b != 0; });
}

// A node of this node's family (a node of the other family belongs to the other node). An
// IPv6 node is not an IPv4-mapped address (::ffff:a.b.c.d, an IPv4 node in disguise) nor
// link-local (fe80::/10: unreachable without the interface, which endpoints do not carry).
bool usable(const wire::endpoint& ep, bool v6) {
  if (ep.v6 != v6 || !usable_peer(ep)) return false;
  if (!v6) return true;
  const auto& a = ep.address;
  const bool mapped = std::all_of(a.begin(), a.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
                      a[10] == 0xff && a[11] == 0xff;
  const bool link_local = a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
  return !mapped && !link_local;
}

routing_settings with_family(routing_settings s, bool v6) {
  s.ipv6 = v6;
  return s;
}

// The saved state's key for this family's nodes, as the answers' (BEP 32).
const char* nodes_key(bool v6) { return v6 ? "nodes6" : "nodes"; }

node_id random_id(rng& random) {
  node_id id{};
  for (std::size_t i = 0; i < id.size(); i += 4) {
    const std::uint64_t word = random.next();
    for (std::size_t j = 0; j < 4 && i + j < id.size(); ++j)
      id[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
  }
  return id;
}

// A budget of time that refills with the clock: each event costs 1 s / rate, and at most
// `burst` events' worth is banked.
class rate_limiter {
 public:
  rate_limiter(double per_second, std::size_t burst)
      : cost_(std::max<std::int64_t>(1, static_cast<std::int64_t>(1e6 / std::max(per_second, 1e-3)))),
        cap_(cost_ * static_cast<std::int64_t>(std::max<std::size_t>(1, burst))),
        credit_(cap_) {}

  bool take(time_point now) {
    refill(now);
    if (credit_ < cost_) return false;
    credit_ -= cost_;
    return true;
  }
  // When one event's credit will be there again.
  time_point ready_at() const { return at_ + std::max(cost_ - credit_, duration(1)); }

 private:
  void refill(time_point now) {
    if (!started_) {
      started_ = true;
    } else if (now > at_) {
      credit_ = std::min(cap_, credit_ + (now - at_));
    }
    at_ = std::max(at_, now);
  }

  duration cost_;
  duration cap_;
  duration credit_;
  time_point at_{};
  bool started_ = false;
};

}  // namespace

struct dht_node::impl {
  struct lookup {
    lookup_id id = 0;
    lookup_kind kind = lookup_kind::find_node;
    node_id target{};
    std::vector<candidate> candidates;      // closest first; unknown ids last
    std::vector<wire::endpoint> contacted;  // never queried twice
    std::size_t in_flight = 0;
    std::size_t queried = 0;
    std::size_t answered = 0;
    std::size_t peers = 0;
    // get_item, put_item (BEP 44)
    byte_buffer salt;                 // a mutable item's, to check answers with
    std::optional<item> found;        // the best item answered so far
    node_id found_from{};
    std::optional<item> to_put;       // put_item
    std::optional<std::int64_t> cas;
    // announce_once: the port to announce (not an entry of `announcements`)
    std::optional<std::uint16_t> once_port;
    bool once_implied_port = false;
    std::size_t nodes_with_peers = 0;  // answers that carried peers
  };

  // A put_item's "put" queries, once its lookup is over.
  struct put_operation {
    node_id target{};
    std::size_t sent = 0;
    std::size_t stored = 0;
    std::size_t waiting = 0;
    std::optional<error_reply> error;
  };

  struct pending_query {
    wire::endpoint to;
    std::optional<node_id> expected;  // the id we believe answers (table nodes, candidates)
    std::optional<lookup_id> lookup;
    std::optional<lookup_id> put;  // a put_item's "put"
    time_point slow_at{};  // lookups: past it, the query frees its slot for another
    time_point deadline{};
    bool slow = false;
  };

  struct announcement {
    std::uint16_t port = 0;
    bool implied_port = false;
    time_point next_at{};
    duration retry_delay{};  // after announces that reached nobody: announce_retry_min, doubling
    std::optional<lookup_id> running;
  };

  settings cfg;
  rng random;
  routing_table table;
  token_keeper tokens;
  peer_store store;
  item_store items;
  stats counters;
  std::deque<output> outputs;

  std::map<lookup_id, lookup> lookups;
  lookup_id next_lookup_id = 1;
  std::map<std::uint16_t, pending_query> outstanding;  // by transaction id
  std::map<node_id, announcement> announcements;
  std::map<lookup_id, put_operation> puts;

  std::vector<wire::endpoint> routers;
  std::optional<lookup_id> bootstrap_lookup;
  time_point next_bootstrap{};
  duration bootstrap_delay{};  // after a bootstrap that nobody answered: doubles up to the interval
  time_point next_maintenance{};

  rate_limiter query_rate;  // outgoing queries
  rate_limiter reply_rate;  // answers: a flood of (possibly forged) queries is not amplified
  rate_limiter check_rate;  // signatures of mutable items put here
  bool starved = false;     // a lookup waits for query credit

  time_point last_warning{};
  bool warned = false;
  std::uint64_t malformed_since_warning = 0;
  bool fixed_id = false;  // settings::id was given: load_state() keeps it

  // BEP 42: the last answers' reports of our address (port 0), with who reported it (the
  // answering node's address, port 0): one vote per node address in the window.
  std::deque<std::pair<wire::endpoint, wire::endpoint>> address_reports;  // {voter, address}
  std::optional<wire::endpoint> external;

  explicit impl(settings s)
      : cfg(std::move(s)),
        random(cfg.seed),
        table(cfg.id ? *cfg.id : random_id(random), with_family(cfg.routing, cfg.ipv6)),
        tokens(random, cfg.token_rotation),
        store(cfg.store),
        items(cfg.items),
        query_rate(cfg.max_queries_per_second, cfg.query_burst),
        reply_rate(cfg.max_replies_per_second, cfg.reply_burst),
        check_rate(cfg.max_signature_checks_per_second, cfg.signature_check_burst) {
    fixed_id = cfg.id.has_value();
    cfg.id = table.own_id();
    if (cfg.alpha == 0) cfg.alpha = 1;
    if (cfg.k == 0) cfg.k = 1;
  }

  // --- sending ------------------------------------------------------------------------

  // Takes one query's credit. `defer`: a lookup will retry when the credit is back.
  bool take_credit(time_point now, bool defer) {
    if (outstanding.size() < cfg.max_outstanding && query_rate.take(now)) return true;
    ++counters.queries_deferred;
    if (defer) starved = true;
    return false;
  }

  std::optional<time_point> credit_ready_at() const {
    if (!starved) return std::nullopt;
    return query_rate.ready_at();
  }

  void push_send(const wire::endpoint& to, message m) {
    m.version = cfg.version;
    outputs.emplace_back(send{to, encode(m)});
  }

  // Sends a query with a fresh transaction id. `limited`: subject to the rate limit
  // (false only for the few announce_peer of a finished lookup).
  bool send_query(const wire::endpoint& to, query q, std::optional<node_id> expected,
                  std::optional<lookup_id> for_lookup, time_point now, bool limited = true,
                  bool defer = false, std::optional<lookup_id> for_put = std::nullopt) {
    if (limited && !take_credit(now, defer)) return false;
    if (!limited && outstanding.size() >= cfg.max_outstanding) return false;
    std::uint16_t tid = 0;
    do {
      tid = static_cast<std::uint16_t>(random.next());
    } while (outstanding.contains(tid));
    q.id = table.own_id();
    message m;
    m.transaction_id = {static_cast<std::uint8_t>(tid >> 8), static_cast<std::uint8_t>(tid)};
    m.body = std::move(q);
    push_send(to, std::move(m));
    pending_query pending;
    pending.to = to;
    pending.expected = expected;
    pending.lookup = for_lookup;
    pending.put = for_put;
    pending.slow_at = now + cfg.short_timeout;
    pending.deadline = now + cfg.query_timeout;
    outstanding[tid] = pending;
    ++counters.queries_sent;
    return true;
  }

  void reply(const wire::endpoint& to, const byte_buffer& tid, response r) {
    message m;
    m.transaction_id = tid;
    m.version = cfg.version;
    // A get answer with an item of nearly 1,000 bytes and 8 nodes (IPv6 ones above all) would
    // pass what one datagram should carry: fewer nodes then.
    constexpr std::size_t max_answer = 1500;
    auto& body = m.body.emplace<response>(std::move(r));
    auto bytes = encode(m);
    while (bytes.size() > max_answer && !body.nodes.empty()) {
      body.nodes.pop_back();
      bytes = encode(m);
    }
    outputs.emplace_back(send{to, std::move(bytes)});
  }

  void reply_error(const wire::endpoint& to, const byte_buffer& tid, std::int64_t code,
                   std::string text) {
    message m;
    m.transaction_id = tid;
    m.body = error_reply{code, std::move(text)};
    push_send(to, std::move(m));
  }

  bool pinging(const wire::endpoint& ep) const {
    return std::any_of(outstanding.begin(), outstanding.end(),
                       [&](const auto& entry) { return entry.second.to == ep && !entry.second.lookup; });
  }

  void ping(const node_info& n, bool id_known, time_point now) {
    if (pinging(n.ep)) return;
    query q;
    q.kind = method::ping;
    send_query(n.ep, q, id_known ? std::optional<node_id>(n.id) : std::nullopt, std::nullopt, now);
  }

  void warn(std::string text, std::optional<wire::endpoint> from = std::nullopt) {
    outputs.emplace_back(warning{std::move(text), from});
  }

  // --- serving queries -------------------------------------------------------------------

  void handle_query(const wire::endpoint& from, const message& m, const query& q, time_point now) {
    ++counters.queries_received;
    if (!reply_rate.take(now)) {
      ++counters.queries_dropped;
      return;
    }
    const node_info querier{q.id, from};
    table.node_queried(querier, now);
    // A node we only heard a query from is pinged first: its address may be forged.
    // So is one we know under another id: an answer would show it changed its id.
    if (acceptable(q.id, from) && (table.has_room_for(q.id, now) || renamed(q.id, from))) ping(querier, true, now);

    response r;
    r.id = table.own_id();
    r.ip = from;
    r.v6 = cfg.ipv6;
    switch (q.kind) {
      case method::ping:
        break;
      case method::find_node:
        r.nodes = table.closest(q.target, cfg.k, now);
        break;
      case method::get_peers:
        r.token = tokens.make(from, now);
        r.values = store.peers(q.target, now);
        r.nodes = table.closest(q.target, cfg.k, now);
        break;
      case method::announce_peer: {
        if (token_refused(from, m, q, now)) return;
        wire::endpoint peer = from;
        if (!q.implied_port) peer.port = q.port;
        if (peer.port == 0) {
          reply_error(from, m.transaction_id, error_protocol, "bad port");
          return;
        }
        if (!store.announce(q.target, peer, now)) {
          reply_error(from, m.transaction_id, error_server, "peer store full");
          return;
        }
        break;
      }
      case method::get:
        r.token = tokens.make(from, now);
        r.nodes = table.closest(q.target, cfg.k, now);
        if (const item* held = items.get(q.target, now); held && !(held->key && q.seq && held->seq <= *q.seq)) {
          r.stored = *held;
          r.stored->salt.clear();  // answers do not carry it: the getter knows it
        }
        break;
      case method::put: {
        if (token_refused(from, m, q, now)) return;
        if (q.put->key && !check_rate.take(now)) {
          reply_error(from, m.transaction_id, error_server, "too many puts, try again later");
          return;
        }
        auto refused = check_item(*q.put);
        if (!refused) refused = items.put(*q.put, q.cas, now);
        if (refused) {
          reply_error(from, m.transaction_id, refused->code, refused->text);
          return;
        }
        break;
      }
      case method::unknown:
        reply_error(from, m.transaction_id, error_method_unknown, "method unknown");
        return;
    }
    reply(from, m.transaction_id, std::move(r));
  }

  // announce_peer and put need a token this node gave the querier's address; without one,
  // error 203 and true.
  bool token_refused(const wire::endpoint& from, const message& m, const query& q, time_point now) {
    if (tokens.check(from, q.token, now)) return false;
    ++counters.bad_tokens;
    reply_error(from, m.transaction_id, error_protocol, "bad token");
    return true;
  }

  // --- answers to our queries ---------------------------------------------------------

  void handle_answer(const wire::endpoint& from, const message& m, const response* r, time_point now) {
    const auto* refused = std::get_if<error_reply>(&m.body);
    if (m.transaction_id.size() != 2) {
      ++counters.unexpected;
      return;
    }
    const auto tid = static_cast<std::uint16_t>(m.transaction_id[0] << 8 | m.transaction_id[1]);
    const auto it = outstanding.find(tid);
    if (it == outstanding.end() || !(it->second.to == from)) {
      ++counters.unexpected;
      return;
    }
    const pending_query sent = it->second;
    outstanding.erase(it);

    if (r) {
      ++counters.answers_received;
      if (renamed(r->id, from)) table.node_renamed(from, r->id);  // the entry under the old id is stale
      if (acceptable(r->id, from)) table.node_answered({r->id, from}, now);
      if (r->ip) address_reported(from, *r->ip, now);
    }
    if (sent.lookup) {
      const auto lk = lookups.find(*sent.lookup);
      if (lk != lookups.end()) lookup_answer(lk->second, from, r, now);
    }
    if (sent.put) put_answered(*sent.put, r != nullptr, refused);
  }

  // --- BEP 44 puts --------------------------------------------------------------------

  void put_answered(lookup_id id, bool stored, const error_reply* refused) {
    const auto it = puts.find(id);
    if (it == puts.end()) return;
    put_operation& op = it->second;
    if (stored) ++op.stored;
    if (refused) op.error = *refused;
    if (op.waiting > 0) --op.waiting;
    if (op.waiting == 0) end_put(it);
  }

  void end_put(std::map<lookup_id, put_operation>::iterator it) {
    const put_operation& op = it->second;
    outputs.emplace_back(put_finished{it->first, op.target, op.sent, op.stored, op.error});
    puts.erase(it);
  }

  // Of the k closest nodes that answered a lookup, those that gave a write token: where an
  // announce_peer or a put goes.
  std::vector<const candidate*> closest_with_tokens(const lookup& lk) const {
    std::vector<const candidate*> out;
    std::size_t considered = 0;
    for (const auto& c : lk.candidates) {
      if (considered >= cfg.k) break;
      if (c.state != candidate_state::answered) continue;
      ++considered;
      if (!c.token.empty()) out.push_back(&c);
    }
    return out;
  }

  // The lookup is over: announce_peer to the closest nodes that answered it with a token;
  // how many were sent one.
  std::size_t announce_to_closest(const lookup& lk, std::uint16_t port, bool implied_port, time_point now) {
    std::size_t sent = 0;
    for (const candidate* c : closest_with_tokens(lk)) {
      query q;
      q.kind = method::announce_peer;
      q.target = lk.target;
      q.port = port;
      q.implied_port = implied_port;
      q.token = c->token;
      if (send_query(c->info.ep, q, c->info.id, std::nullopt, now, false)) ++sent;
    }
    return sent;
  }

  // The lookup is over: "put" to the closest nodes that answered it with a token.
  void send_puts(const lookup& lk, time_point now) {
    put_operation& op = puts[lk.id];
    op.target = lk.target;
    for (const candidate* to : closest_with_tokens(lk)) {
      const candidate& c = *to;
      query q;
      q.kind = method::put;
      q.token = c.token;
      q.put = lk.to_put;
      q.cas = lk.cas;
      if (send_query(c.info.ep, std::move(q), c.info.id, std::nullopt, now, false, false, lk.id)) ++op.sent;
    }
    op.waiting = op.sent;
    if (op.waiting == 0) end_put(puts.find(lk.id));
  }

  // An answer to a get_item's (or put_item's) "get" with an item: kept if it checks and is
  // better than the one kept. True when it ends the lookup (an immutable item).
  bool item_answered(lookup& lk, const node_id& from_id, item it) {
    if (!item_matches(it, lk.target, lk.salt)) return false;
    if (lk.found && it.key && lk.found->key && it.seq <= lk.found->seq) return false;
    lk.found = std::move(it);
    lk.found_from = from_id;
    return lk.kind == lookup_kind::get_item && !lk.found->key;
  }

  // --- BEP 42: ids bound to addresses ----------------------------------------------------

  // Whether a node with this id at this address may enter the table or a lookup.
  bool acceptable(const node_id& id, const wire::endpoint& ep) const {
    return !cfg.enforce_node_id || secure_id_valid(id, ep);
  }

  // Whether the table keeps the node at `ep` under another id than `id`. Most messages come
  // from a node kept under its id, found at once in its bucket; only the others cost a scan.
  bool renamed(const node_id& id, const wire::endpoint& ep) const {
    if (const auto* same = table.find(id); same && same->ep == ep) return false;
    const auto* known = table.at_endpoint(ep);
    return known && known->id != id;
  }

  void address_reported(wire::endpoint voter, wire::endpoint address, time_point now) {
    if (address.v6 != cfg.ipv6 || !usable(wire::endpoint{address.address, address.v6, 1}, cfg.ipv6)) return;
    voter.port = 0;
    address.port = 0;
    std::erase_if(address_reports, [&](const auto& report) { return report.first == voter; });
    address_reports.emplace_back(voter, address);
    while (address_reports.size() > std::max<std::size_t>(cfg.address_window, 1)) address_reports.pop_front();
    const auto votes = [&](const wire::endpoint& a) {
      return static_cast<std::size_t>(
          std::count_if(address_reports.begin(), address_reports.end(), [&](const auto& r) { return r.second == a; }));
    };
    if (votes(address) < cfg.address_votes || (external && *external == address)) return;
    if (external && votes(*external) >= votes(address)) return;  // the address we have holds
    external = address;
    if (!fixed_id && !secure_id_valid(table.own_id(), address)) {
      const node_id bits = random_id(random);
      change_id(secure_node_id(address, bits.back(), bits), now);
    }
  }

  // Our id changes: the nodes stay, re-sorted into the buckets of the new id, and a lookup
  // for the new id finds our new neighbours.
  void change_id(const node_id& id, time_point now) {
    routing_table fresh(id, table.settings());
    for (const auto& n : table.all_nodes()) fresh.node_answered({n.id, n.ep}, n.answered ? n.last_answer : now, n.answered);
    table = std::move(fresh);
    cfg.id = id;
    start_lookup(lookup_kind::refresh, id, now);
  }

  // --- lookups ------------------------------------------------------------------------

  static void sort_candidates(lookup& lk) {
    std::stable_sort(lk.candidates.begin(), lk.candidates.end(),
                     [&](const candidate& a, const candidate& b) {
                       if (a.id_known != b.id_known) return a.id_known;
                       return closer(a.info.id, b.info.id, lk.target);
                     });
  }

  void add_candidates(lookup& lk, const std::vector<node_info>& nodes, bool id_known) {
    for (const auto& n : nodes) {
      if (!usable(n.ep, cfg.ipv6) || (id_known && (n.id == table.own_id() || !acceptable(n.id, n.ep)))) continue;
      if (std::find(lk.contacted.begin(), lk.contacted.end(), n.ep) != lk.contacted.end()) continue;
      const bool known = std::any_of(lk.candidates.begin(), lk.candidates.end(), [&](const candidate& c) {
        return c.info.ep == n.ep || (id_known && c.id_known && c.info.id == n.id);
      });
      if (known) continue;
      candidate c;
      c.info = n;
      c.id_known = id_known;
      lk.candidates.push_back(std::move(c));
    }
    sort_candidates(lk);
    // Keep the closest; nodes being queried stay so that their answers are counted.
    for (std::size_t i = lk.candidates.size(); i > 0 && lk.candidates.size() > cfg.max_lookup_candidates;) {
      --i;
      if (lk.candidates[i].state != candidate_state::queried)
        lk.candidates.erase(lk.candidates.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  candidate* find_candidate(lookup& lk, const wire::endpoint& ep) {
    for (auto& c : lk.candidates)
      if (c.info.ep == ep) return &c;
    return nullptr;
  }

  void lookup_answer(lookup& lk, const wire::endpoint& from, const response* r, time_point now) {
    candidate* c = find_candidate(lk, from);
    if (c && c->state == candidate_state::queried) {
      if (!c->slow) --lk.in_flight;
      if (r) {
        c->state = candidate_state::answered;
        c->info.id = r->id;
        c->id_known = true;
        if (r->token) c->token = *r->token;
        ++lk.answered;
      } else {
        c->state = candidate_state::failed;
      }
    }
    if (r && c) {
      if ((lk.kind == lookup_kind::get_peers || lk.kind == lookup_kind::announce) && !r->values.empty()) {
        std::vector<wire::endpoint> peers;
        for (const auto& p : r->values)
          if (usable_peer(p)) peers.push_back(p);
        if (!peers.empty()) {
          ++lk.nodes_with_peers;
          lk.peers += peers.size();
          outputs.emplace_back(peers_found{lk.id, lk.target, std::move(peers), from});
        }
      }
      add_candidates(lk, r->nodes, true);
      if ((lk.kind == lookup_kind::get_item || lk.kind == lookup_kind::put_item) && r->stored &&
          item_answered(lk, r->id, *r->stored)) {
        finish(lookups.find(lk.id), now);
        return;
      }
    }
    advance(lk.id, now);
  }

  void lookup_timeout(lookup& lk, const wire::endpoint& to, time_point now) {
    candidate* c = find_candidate(lk, to);
    if (c && c->state == candidate_state::queried) {
      if (!c->slow) --lk.in_flight;
      c->state = candidate_state::failed;
    }
    advance(lk.id, now);
  }

  // A query still unanswered after short_timeout stops counting against alpha, so that a
  // dead node does not stall the lookup for the whole query_timeout.
  void lookup_slow(lookup& lk, const wire::endpoint& to, time_point now) {
    candidate* c = find_candidate(lk, to);
    if (!c || c->state != candidate_state::queried || c->slow) return;
    c->slow = true;
    --lk.in_flight;
    advance(lk.id, now);
  }

  // Queries the closest candidates not yet asked, alpha at a time; ends the lookup when
  // the k closest live candidates have all answered (or nobody is left to ask).
  void advance(lookup_id id, time_point now) {
    const auto it = lookups.find(id);
    if (it == lookups.end()) return;
    lookup& lk = it->second;
    std::size_t counted = 0;
    bool waiting = false;
    for (auto& c : lk.candidates) {
      if (c.state == candidate_state::failed) continue;
      if (counted >= cfg.k) break;
      ++counted;
      if (c.state == candidate_state::answered) continue;
      if (c.state == candidate_state::queried) {
        waiting = true;
        continue;
      }
      if (lk.queried >= cfg.max_lookup_queries) continue;
      if (lk.in_flight >= cfg.alpha) {
        waiting = true;
        continue;
      }
      query q;
      q.kind = lk.kind == lookup_kind::get_peers || lk.kind == lookup_kind::announce ? method::get_peers
               : lk.kind == lookup_kind::get_item || lk.kind == lookup_kind::put_item  ? method::get
                                                                                       : method::find_node;
      q.target = lk.target;
      const auto expected = c.id_known ? std::optional<node_id>(c.info.id) : std::nullopt;
      waiting = true;
      if (!send_query(c.info.ep, q, expected, lk.id, now, true, true)) continue;  // retried on timer
      c.state = candidate_state::queried;
      ++lk.in_flight;
      ++lk.queried;
      lk.contacted.push_back(c.info.ep);
    }
    // Answers may still come from farther nodes in flight; they no longer matter.
    if (!waiting) finish(it, now);
  }

  void finish(std::map<lookup_id, lookup>::iterator it, time_point now) {
    lookup lk = std::move(it->second);
    lookups.erase(it);

    lookup_finished done;
    done.lookup = lk.id;
    done.kind = lk.kind;
    done.target = lk.target;
    done.queried = lk.queried;
    done.answered = lk.answered;
    done.peers = lk.peers;
    done.nodes_with_peers = lk.nodes_with_peers;
    done.found = lk.found;
    done.found_from = lk.found_from;
    for (const auto& c : lk.candidates) {
      if (done.closest.size() >= cfg.k) break;
      if (c.state == candidate_state::answered) done.closest.push_back(c.info);
    }

    if (lk.kind == lookup_kind::announce && lk.once_port) {
      done.announced_to = announce_to_closest(lk, *lk.once_port, lk.once_implied_port, now);
    } else if (lk.kind == lookup_kind::announce) {
      const auto a = announcements.find(lk.target);
      if (a != announcements.end() && a->second.running == lk.id) {
        a->second.running.reset();
        done.announced_to = announce_to_closest(lk, a->second.port, a->second.implied_port, now);
        if (done.announced_to == 0) retry_announce(a->second, now);
        else a->second.retry_delay = duration{};
      }
    }
    if (lk.kind == lookup_kind::bootstrap) {
      bootstrap_lookup.reset();
      // A lossy path to the routers should not leave us alone for long: retry soon, then
      // less often. A small DHT may never fill k entries: after an answer, once a minute.
      if (lk.answered == 0) {
        warn("DHT bootstrap: no node answered");
        bootstrap_delay = bootstrap_delay == duration{} ? cfg.rebootstrap_min
                                                        : std::min(2 * bootstrap_delay, cfg.rebootstrap_interval);
        next_bootstrap = now + bootstrap_delay;
      } else {
        bootstrap_delay = duration{};
        next_bootstrap = now + cfg.rebootstrap_interval;
        wake_announces(now);  // they waited for nodes: now there are some
      }
    }
    outputs.emplace_back(std::move(done));
    if (lk.kind == lookup_kind::put_item) send_puts(lk, now);
  }

  std::optional<lookup_id> start_lookup(lookup_kind kind, const node_id& target, time_point now) {
    return start_lookup(kind, target, now, lookup());
  }
  // `seed`: what a get_item or put_item lookup starts with (salt, item...).
  std::optional<lookup_id> start_lookup(lookup_kind kind, const node_id& target, time_point now, lookup seed) {
    if (lookups.size() >= cfg.max_lookups) {
      warn("DHT lookup refused: too many lookups running");
      return std::nullopt;
    }
    const lookup_id id = next_lookup_id++;
    lookup& lk = lookups[id];
    lk = std::move(seed);
    lk.id = id;
    lk.kind = kind;
    lk.target = target;
    add_candidates(lk, table.closest(target, 2 * cfg.k, now), true);
    if (table.size() < cfg.k || kind == lookup_kind::bootstrap) {
      std::vector<node_info> from_routers;
      for (const auto& ep : routers) from_routers.push_back({node_id{}, ep});
      add_candidates(lk, from_routers, false);
    }
    if (kind == lookup_kind::get_peers || kind == lookup_kind::announce) {
      auto mine = store.peers(target, now);
      if (!mine.empty()) {
        lk.peers += mine.size();
        outputs.emplace_back(peers_found{id, target, std::move(mine)});
      }
    }
    advance(id, now);
    return id;
  }

  void start_announce(const node_id& info_hash, announcement& a, time_point now) {
    a.next_at = now + cfg.announce_interval;
    const auto id = start_lookup(lookup_kind::announce, info_hash, now);
    // Refused (too many lookups) or over at once (nobody known yet): try again soon.
    if (!id || !lookups.contains(*id)) {
      retry_announce(a, now);
      return;
    }
    a.running = id;
  }

  // Announces that reached nobody (no node known yet) are tried again at once.
  void wake_announces(time_point now) {
    for (auto& [info_hash, a] : announcements)
      if (!a.running && a.retry_delay != duration{}) a.next_at = std::min(a.next_at, now);
  }

  // Soon at first (the table may have been empty only because the bootstrap was under way),
  // then less often.
  void retry_announce(announcement& a, time_point now) {
    a.retry_delay = a.retry_delay == duration{} ? cfg.announce_retry_min
                                                : std::min(2 * a.retry_delay, cfg.announce_retry);
    a.next_at = now + a.retry_delay;
  }

  void start_bootstrap(time_point now) {
    next_bootstrap = now + cfg.rebootstrap_interval;
    if (bootstrap_lookup) return;
    bootstrap_lookup = start_lookup(lookup_kind::bootstrap, table.own_id(), now);
    if (bootstrap_lookup && !lookups.contains(*bootstrap_lookup)) bootstrap_lookup.reset();
  }

  // --- timers -------------------------------------------------------------------------

  void expire_queries(time_point now) {
    std::vector<std::uint16_t> slow;
    for (auto& [tid, q] : outstanding)
      if (q.lookup && !q.slow && q.slow_at <= now && q.deadline > now) slow.push_back(tid);
    for (const auto tid : slow) {
      const auto it = outstanding.find(tid);
      if (it == outstanding.end()) continue;
      it->second.slow = true;
      const pending_query q = it->second;
      const auto lk = lookups.find(*q.lookup);
      if (lk != lookups.end()) lookup_slow(lk->second, q.to, now);
    }
    std::vector<std::uint16_t> due;
    for (const auto& [tid, q] : outstanding)
      if (q.deadline <= now) due.push_back(tid);
    for (const auto tid : due) {
      const auto it = outstanding.find(tid);
      if (it == outstanding.end()) continue;
      const pending_query q = it->second;
      outstanding.erase(it);
      ++counters.timeouts;
      if (q.expected) table.node_failed(*q.expected, q.to);
      if (q.lookup) {
        const auto lk = lookups.find(*q.lookup);
        if (lk != lookups.end()) lookup_timeout(lk->second, q.to, now);
      }
      if (q.put) put_answered(*q.put, false, nullptr);
    }
  }

  void maintain(time_point now) {
    if (now < next_maintenance) return;
    next_maintenance = now + cfg.maintenance_interval;
    tokens.on_timer(now);
    store.expire(now);
    items.expire(now);

    for (const auto& n : table.nodes_to_ping(now, cfg.ping_interval)) {
      if (pinging(n.ep)) continue;
      query q;
      q.kind = method::ping;
      if (!send_query(n.ep, q, n.id, std::nullopt, now)) break;
      table.mark_pinged(n.id, now);
    }

    if (table.size() > 0) {
      std::size_t refreshing = 0;
      for (const auto& [id, lk] : lookups)
        if (lk.kind == lookup_kind::refresh) ++refreshing;
      for (const auto bucket : table.stale_buckets(now, cfg.bucket_refresh)) {
        if (refreshing >= 2) break;
        table.mark_refreshed(bucket, now);
        if (start_lookup(lookup_kind::refresh, table.id_in_bucket(bucket, random_id(random)), now))
          ++refreshing;
      }
    }

    if (!routers.empty() && table.size() < cfg.k && now >= next_bootstrap) start_bootstrap(now);
  }

  void on_timer(time_point now) {
    expire_queries(now);
    maintain(now);
    for (auto& [info_hash, a] : announcements)
      if (!a.running && now >= a.next_at) start_announce(info_hash, a, now);
    if (starved && credit_ready_at() && now >= *credit_ready_at()) {
      starved = false;
      std::vector<lookup_id> ids;
      for (const auto& [id, lk] : lookups) ids.push_back(id);
      for (const auto id : ids) advance(id, now);
    }
  }

  std::optional<time_point> next_deadline() const {
    std::optional<time_point> at = next_maintenance;
    const auto consider = [&](time_point t) {
      if (!at || t < *at) at = t;
    };
    for (const auto& [tid, q] : outstanding) consider(q.lookup && !q.slow ? q.slow_at : q.deadline);
    for (const auto& [info_hash, a] : announcements)
      if (!a.running) consider(a.next_at);
    if (const auto ready = credit_ready_at()) consider(*ready);
    return at;
  }

  void malformed(const wire::endpoint& from, const krpc_error& e, time_point now) {
    ++counters.malformed;
    ++malformed_since_warning;
    if (warned && now - last_warning < 1min) return;
    warn("malformed DHT message: " + e.message() + " (" + std::to_string(malformed_since_warning) +
             " since the last warning)",
         from);
    warned = true;
    last_warning = now;
    malformed_since_warning = 0;
  }
};

dht_node::dht_node(settings s) : impl_(std::make_unique<impl>(std::move(s))) {}
dht_node::~dht_node() = default;
dht_node::dht_node(dht_node&&) noexcept = default;
dht_node& dht_node::operator=(dht_node&&) noexcept = default;

const node_id& dht_node::id() const noexcept { return impl_->table.own_id(); }
const std::optional<wire::endpoint>& dht_node::external_address() const noexcept { return impl_->external; }

void dht_node::add_node(const wire::endpoint& ep, time_point now) {
  if (!usable(ep, impl_->cfg.ipv6)) return;
  impl_->ping({node_id{}, ep}, false, now);
}

void dht_node::bootstrap(std::span<const wire::endpoint> routers, time_point now) {
  for (const auto& ep : routers) {
    if (!usable(ep, impl_->cfg.ipv6) || impl_->routers.size() >= 16) continue;
    if (std::find(impl_->routers.begin(), impl_->routers.end(), ep) == impl_->routers.end())
      impl_->routers.push_back(ep);
  }
  // A torrent added before the routers were known asked nobody: they can be asked now,
  // not only once the bootstrap is over (its nodes may take seconds to time out).
  impl_->wake_announces(now);
  impl_->start_bootstrap(now);
}

std::optional<lookup_id> dht_node::get_peers(const node_id& info_hash, time_point now) {
  return impl_->start_lookup(lookup_kind::get_peers, info_hash, now);
}

std::optional<lookup_id> dht_node::find_node(const node_id& target, time_point now) {
  return impl_->start_lookup(lookup_kind::find_node, target, now);
}

void dht_node::announce(const node_id& info_hash, std::uint16_t port, bool implied_port, time_point now) {
  auto& a = impl_->announcements[info_hash];
  a.port = port;
  a.implied_port = implied_port;
  if (!a.running) impl_->start_announce(info_hash, a, now);
}

void dht_node::stop_announce(const node_id& info_hash) { impl_->announcements.erase(info_hash); }

std::optional<lookup_id> dht_node::announce_once(const node_id& info_hash, std::uint16_t port, bool implied_port,
                                                 time_point now) {
  impl::lookup seed;
  seed.once_port = port;
  seed.once_implied_port = implied_port;
  return impl_->start_lookup(lookup_kind::announce, info_hash, now, std::move(seed));
}

std::optional<lookup_id> dht_node::get_item(const node_id& target, byte_view salt, bool cached, time_point now) {
  auto& self = *impl_;
  const item* held = self.items.get(target, now);
  if (cached && held && !held->key) {
    // Answered from our store: a lookup that ends before it starts.
    lookup_finished done;
    done.lookup = self.next_lookup_id++;
    done.kind = lookup_kind::get_item;
    done.target = target;
    done.found = *held;
    done.found_from = id();
    const lookup_id answered = done.lookup;
    self.outputs.emplace_back(std::move(done));
    return answered;
  }
  impl::lookup seed;
  seed.kind = lookup_kind::get_item;
  seed.target = target;
  seed.salt.assign(salt.begin(), salt.end());
  if (held) self.item_answered(seed, id(), *held);  // a mutable item: the seq to beat
  return self.start_lookup(lookup_kind::get_item, target, now, std::move(seed));
}

std::variant<lookup_id, error_reply> dht_node::put_item(const item& it, std::optional<std::int64_t> cas,
                                                        time_point now) {
  auto& self = *impl_;
  if (auto refused = check_item(it)) return *refused;
  self.items.put(it, std::nullopt, now);  // ours to answer "get" with too; a newer one held stays
  impl::lookup seed;
  seed.to_put = it;
  seed.cas = cas;
  const auto id = self.start_lookup(lookup_kind::put_item, item_target(it), now, std::move(seed));
  if (!id) return error_reply{error_server, "too many DHT lookups running"};
  return *id;
}

void dht_node::udp_received(const wire::endpoint& from, byte_view datagram, time_point now) {
  ++impl_->counters.datagrams_received;
  if (!usable(from, impl_->cfg.ipv6)) return;
  auto decoded = decode(datagram, impl_->cfg.krpc);
  if (const auto* e = std::get_if<krpc_error>(&decoded)) {
    impl_->malformed(from, *e, now);
    return;
  }
  const auto& m = std::get<message>(decoded);
  if (const auto* q = std::get_if<query>(&m.body)) {
    if (q->id == id()) return;  // our own query, looped back
    impl_->handle_query(from, m, *q, now);
  } else if (const auto* r = std::get_if<response>(&m.body)) {
    impl_->handle_answer(from, m, r, now);
  } else {
    impl_->handle_answer(from, m, nullptr, now);
  }
}

void dht_node::on_timer(time_point now) { impl_->on_timer(now); }

std::optional<time_point> dht_node::next_deadline() const { return impl_->next_deadline(); }

std::optional<output> dht_node::poll() {
  if (impl_->outputs.empty()) return std::nullopt;
  output out = std::move(impl_->outputs.front());
  impl_->outputs.pop_front();
  return out;
}

byte_buffer dht_node::save_state(time_point now) const {
  std::vector<node_info> good;
  for (const auto& n : impl_->table.all_nodes()) {
    if (good.size() >= impl_->cfg.max_saved_nodes) break;
    if (impl_->table.state(n, now) == node_state::good) good.push_back({n.id, n.ep});
  }
  byte_buffer compact;
  append_compact_nodes(good, impl_->cfg.ipv6, compact);
  bencode::dict d;
  d["id"] = std::string(as_chars(impl_->table.own_id()));
  d[nodes_key(impl_->cfg.ipv6)] = std::string(as_chars(compact));
  return bencode::encode(bencode::value(std::move(d)));
}

std::optional<std::size_t> dht_node::load_state(byte_view state, time_point now) {
  constexpr std::size_t max_state = 64 * 1024;
  if (state.size() > max_state) return std::nullopt;
  bencode::limits lim;
  lim.max_depth = 4;
  lim.max_tokens = 64;
  lim.max_string_length = max_state;
  const auto doc = bencode::decode(state, lim);
  if (!doc || !doc->root().is_dict()) return std::nullopt;
  const auto id_text = doc->root().find_string("id");
  if (!id_text || id_text->size() != 20) return std::nullopt;
  const bool v6 = impl_->cfg.ipv6;
  const std::size_t size = v6 ? compact_node6_size : compact_node_size;
  const auto nodes_text = doc->root().find_string(nodes_key(v6)).value_or(std::string_view{});
  if (nodes_text.size() % size != 0) return std::nullopt;

  node_id own{};
  std::copy(id_text->begin(), id_text->end(), own.begin());
  if (impl_->fixed_id) own = *impl_->cfg.id;  // the id the user gave wins over the saved one
  impl_->table = routing_table(own, with_family(impl_->cfg.routing, v6));
  impl_->cfg.id = own;
  const auto bytes = as_bytes(nodes_text);
  std::size_t restored = 0;
  for (std::size_t at = 0; at < bytes.size() && restored < impl_->cfg.max_saved_nodes; at += size) {
    node_info n;
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), 20, n.id.begin());
    n.ep = endpoint_from_compact(bytes.subspan(at + 20, size - 20));
    if (!usable(n.ep, v6)) continue;
    const auto result = impl_->table.node_answered(n, now, false);
    if (result == routing_table::insert_result::added ||
        result == routing_table::insert_result::replaced_bad)
      ++restored;
  }
  return restored;
}

const routing_table& dht_node::table() const { return impl_->table; }
const peer_store& dht_node::store() const { return impl_->store; }
const item_store& dht_node::items() const { return impl_->items; }
const stats& dht_node::counters() const { return impl_->counters; }
std::size_t dht_node::running_lookups() const { return impl_->lookups.size(); }

}  // namespace wt::dht
