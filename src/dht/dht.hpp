// A Mainline DHT node (BEP 5; IPv4, or IPv6 as BEP 32), sans-I/O: the host owns one UDP socket, hands
// every datagram it receives to udp_received(), sends what poll() returns as `send`,
// and calls on_timer() at next_deadline(). The node never reads a clock, opens a
// socket or resolves a name (the host resolves bootstrap routers such as
// router.bittorrent.com:6881 and passes their addresses).
//
//   dht::dht_node node(settings);
//   node.load_state(saved_bytes, now);             // optional: id and nodes of a past run
//   node.bootstrap(router_endpoints, now);         // find_node for our own id
//   node.announce(info_hash, tcp_port, false, now);  // get_peers, then announce_peer
//   while (auto out = node.poll()) ...             // send / peers_found / lookup_finished / warning
//
// Lookups are iterative (alpha queries in flight, the k closest nodes that answer
// end them), each bounded in queries and candidates; outgoing queries are rate limited;
// answers from an unexpected endpoint or transaction id are ignored; what other nodes
// announce to us is kept in a bounded store. Our id is bound to our external address as
// BEP 42 says, and other nodes' ids can be checked against theirs (enforce_node_id).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "dht/item.hpp"
#include "dht/krpc.hpp"
#include "dht/peer_store.hpp"
#include "dht/routing_table.hpp"
#include "wire/wire.hpp"

namespace wt::dht {

struct settings {
  std::uint64_t seed = 0;              // PRNG: node id (unless given), transaction ids, secrets
  std::optional<node_id> id;           // our node id; random from `seed` when absent
  // The family this node speaks (BEP 32): IPv4 nodes, or, when true, IPv6 ones. A host with
  // both runs two nodes with one id, one per socket, each with a table of its own.
  bool ipv6 = false;
  routing_settings routing;
  peer_store_settings store;
  item_store_settings items;  // BEP 44 items others put here
  limits krpc;
  std::size_t alpha = 3;               // queries in flight per lookup
  std::size_t k = 8;                   // closest nodes that must answer to end a lookup
  duration query_timeout = std::chrono::seconds(5);   // a query without answer fails
  duration short_timeout = std::chrono::seconds(1);   // then a lookup asks one more node
  std::size_t max_lookup_queries = 100;   // queries one lookup may send
  std::size_t max_lookup_candidates = 64; // closest candidates a lookup keeps
  std::size_t max_lookups = 64;           // running at once
  std::size_t max_outstanding = 512;      // queries awaiting an answer
  double max_queries_per_second = 100;    // outgoing queries (answers are not counted)
  std::size_t query_burst = 30;           // queries allowed at once after a quiet spell
  double max_replies_per_second = 500;    // queries we answer; more are dropped unread
  std::size_t reply_burst = 100;
  // BEP 44 puts of mutable items we check (an Ed25519 verification: ~0.15 ms native, ~0.7 ms
  // in WebAssembly); more are refused with error 202, so that a flood of forged items costs a
  // bounded share of a core.
  double max_signature_checks_per_second = 50;
  std::size_t signature_check_burst = 20;
  duration announce_interval = std::chrono::minutes(15);  // re-announce (stores keep 30 min)
  // After an announce that reached nobody: announce_retry_min, doubling up to announce_retry;
  // at once when a bootstrap is answered.
  duration announce_retry_min = std::chrono::seconds(5);
  duration announce_retry = std::chrono::minutes(1);
  duration bucket_refresh = std::chrono::minutes(15);
  duration ping_interval = std::chrono::minutes(1);     // between pings of one questionable node
  duration maintenance_interval = std::chrono::seconds(5);
  // While the table holds fewer than k nodes, bootstrap again: rebootstrap_interval after
  // one that was answered; after one nobody answered, rebootstrap_min, doubling up to
  // rebootstrap_interval.
  duration rebootstrap_min = std::chrono::seconds(5);
  duration rebootstrap_interval = std::chrono::minutes(1);
  duration token_rotation = std::chrono::minutes(5);
  // BEP 42 (src/dht/node_id.hpp). Answers tell us our address ("ip"); once `address_votes`
  // nodes at distinct addresses, among the last `address_window` answers, report the same
  // one, it is our external address, and an id not valid for it is replaced by one that is
  // (unless settings::id was given); the table is kept, re-sorted around the new id.
  std::size_t address_votes = 3;
  std::size_t address_window = 16;
  // Nodes whose id is not valid for their address are neither kept in the table nor asked
  // in lookups (libtorrent's enforce_node_id; off by default, as there).
  bool enforce_node_id = false;
  std::size_t max_saved_nodes = 200;
  std::string version = std::string("WT\x00\x01", 4);   // "v": client and version
};

// --- Outputs (drained in order with poll()) ----------------------------------------------

// Send one UDP datagram.
struct send {
  wire::endpoint to;
  byte_buffer bytes;
};

using lookup_id = std::uint32_t;

// Peers for an info-hash, from a get_peers answer (or our own store). The same peer can be
// reported more than once.
struct peers_found {
  lookup_id lookup = 0;
  node_id info_hash{};
  std::vector<wire::endpoint> peers;
  std::optional<wire::endpoint> from{};  // the node whose answer gave them; none: our own store
};

enum class lookup_kind : std::uint8_t { find_node, get_peers, announce, bootstrap, refresh, get_item, put_item };

struct lookup_finished {
  lookup_id lookup = 0;
  lookup_kind kind = lookup_kind::find_node;
  node_id target{};
  std::size_t queried = 0;        // queries sent
  std::size_t answered = 0;       // nodes that answered
  std::size_t peers = 0;          // peers reported (get_peers, announce)
  std::size_t announced_to = 0;   // announce: nodes sent announce_peer
  std::size_t nodes_with_peers = 0;  // get_peers, announce: answers that carried peers
  std::vector<node_info> closest; // the closest nodes that answered, closest first (up to k)
  // get_item: the item found (checked against the target; of a mutable one, the highest
  // seq), and the id of the node that gave it.
  std::optional<item> found;
  node_id found_from{};
};

// The end of a put_item: after its lookup, "put" went to `sent` of the closest nodes that
// gave a token, and `stored` of them took it; `error` is the last refusal (e.g. 302, a
// newer seq is stored).
struct put_finished {
  lookup_id lookup = 0;
  node_id target{};
  std::size_t sent = 0;
  std::size_t stored = 0;
  std::optional<error_reply> error;
};

// Something the host may log: malformed datagrams (at most one warning per minute, with
// a count), a bootstrap that found nobody, a lookup refused because too many run.
struct warning {
  std::string text;
  std::optional<wire::endpoint> from;
};

using output = std::variant<send, peers_found, lookup_finished, put_finished, warning>;

struct stats {
  std::uint64_t datagrams_received = 0;
  std::uint64_t malformed = 0;         // not a KRPC message we could read
  std::uint64_t unexpected = 0;        // answers with an unknown transaction id or endpoint
  std::uint64_t queries_received = 0;
  std::uint64_t queries_sent = 0;
  std::uint64_t answers_received = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t bad_tokens = 0;        // announce_peer and put refused
  std::uint64_t queries_deferred = 0;  // ours, held back by the rate limit
  std::uint64_t queries_dropped = 0;   // theirs, beyond max_replies_per_second
};

class dht_node {
 public:
  explicit dht_node(settings s = {});
  ~dht_node();
  dht_node(dht_node&&) noexcept;
  dht_node& operator=(dht_node&&) noexcept;
  dht_node(const dht_node&) = delete;
  dht_node& operator=(const dht_node&) = delete;

  const node_id& id() const noexcept;
  // Our external address (port 0) as the nodes that answered us agree on it; nullopt until
  // settings::address_votes of them do.
  const std::optional<wire::endpoint>& external_address() const noexcept;

  // A node address learned elsewhere (BEP 5 "port" message, the user): pinged, and kept
  // in the table if it answers.
  void add_node(const wire::endpoint& ep, time_point now);
  // Remembers the routers (used again whenever the table runs nearly empty) and starts a
  // find_node lookup for our own id from them and the nodes already known.
  void bootstrap(std::span<const wire::endpoint> routers, time_point now);

  // An iterative get_peers: peers_found as answers come, lookup_finished at the end.
  // nullopt (and a warning) when max_lookups already run.
  std::optional<lookup_id> get_peers(const node_id& info_hash, time_point now);
  // An iterative find_node (e.g. to populate the table around an id).
  std::optional<lookup_id> find_node(const node_id& target, time_point now);
  // get_peers, then announce_peer to the closest nodes that gave a token; repeated every
  // settings::announce_interval until stop_announce(). implied_port asks the nodes to
  // take the port our datagrams come from (for a uTP / NAT-mapped port). Announcing an
  // info-hash again updates its port and announces at once (or when its running lookup
  // ends). An announce that reached nobody is retried after settings::announce_retry.
  void announce(const node_id& info_hash, std::uint16_t port, bool implied_port, time_point now);
  void stop_announce(const node_id& info_hash);
  // One announce, not repeated (bittorrent-dht's dht.announce()): get_peers, then
  // announce_peer to the closest nodes that gave a token; lookup_finished (kind announce)
  // says to how many. Independent of announce() for the same info-hash.
  std::optional<lookup_id> announce_once(const node_id& info_hash, std::uint16_t port, bool implied_port,
                                         time_point now);

  // BEP 44. get_item: an iterative "get" for `target`: lookup_finished (kind get_item) with
  // the item, if any node (or our own store) holds one that checks (item_matches with
  // `salt`, which a mutable item's target includes); an immutable one ends the lookup at
  // once, of mutable ones the highest seq wins. `cached`: an immutable item this node holds
  // is the answer without a lookup.
  std::optional<lookup_id> get_item(const node_id& target, byte_view salt, bool cached, time_point now);
  // put_item: `it` must pass check_item (else the error, and nothing is sent). Kept in our
  // own store too, then a lookup for its target (lookup_finished, kind put_item) and "put" to
  // the closest nodes that gave a token: put_finished. `cas`: stored only where the current
  // seq is that one (mutable items).
  std::variant<lookup_id, error_reply> put_item(const item& it, std::optional<std::int64_t> cas, time_point now);

  // One UDP datagram from `from` (sources of the other family are ignored).
  void udp_received(const wire::endpoint& from, byte_view datagram, time_point now);

  // Idempotent: timeouts, re-announces, pings of questionable nodes, bucket refreshes,
  // re-bootstrap, queries held back by the rate limit.
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;

  std::optional<output> poll();

  // Our id and the good nodes of the table (up to settings::max_saved_nodes), bencoded:
  // {"id": 20 bytes, "nodes": 26 bytes per node} ("nodes6", 38 bytes per node, for IPv6).
  byte_buffer save_state(time_point now) const;
  // Restores what save_state() gave: the id (replacing ours and emptying the table;
  // unless settings::id was given, which stays) and the nodes, as questionable until they answer. Call before bootstrap(). Garbage,
  // a wrong-size id or too many bytes (64 KiB) change nothing and give nullopt; else
  // the number of nodes restored.
  std::optional<std::size_t> load_state(byte_view state, time_point now);

  // Introspection.
  const routing_table& table() const;
  const peer_store& store() const;
  const item_store& items() const;
  const stats& counters() const;
  std::size_t running_lookups() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wt::dht
