// The client's networking for addressed peers beyond TCP dials: HTTP and UDP trackers (the
// announce scheduler) and the DHT. Only a host that can reach addresses (Node) uses them; the
// browser cannot, so its WebAssembly module leaves them out: the client reaches them through
// this interface, and only a module that constructs make_addressed_network() (through
// client's one-argument constructor, host/addressed.cpp) links their code.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "host/client.hpp"
#include "host/encryption.hpp"
#include "tracker/announce_types.hpp"
#include "wire/wire.hpp"

namespace wt {

namespace addressed_out {
using id20 = tracker::id20;
// For the client, which knows the torrents: peers to dial, results, warnings. (What goes to
// the host is client_out::tracker_get, udp_send, udp_close, dht_send, lsd_send.)
struct peers_found {
  id20 info_hash{};
  std::vector<wire::endpoint> peers;
  peer_source source = peer_source::tracker;
  std::optional<wire::endpoint> from{};  // the DHT node that gave them (DHT only)
};
struct announced {
  id20 info_hash{};
  std::string url;
  std::optional<std::int64_t> complete, incomplete;
};
struct scraped { id20 info_hash{}; std::string url; std::int64_t complete = 0, incomplete = 0, downloaded = 0; };
struct warning { std::optional<id20> info_hash; std::string url; error err; };
struct dht_announced { id20 info_hash{}; std::size_t peers = 0, announced_to = 0; };
// BEP 44: the end of dht_get_item (the item, if found, and the id of the node that gave it)
// and of dht_put_item (how many nodes were sent it and took it; the last refusal).
using dht_item = dht_item_event;
using dht_put = dht_put_event;
using dht_bootstrapped = dht_bootstrap_event;  // the IPv4 node's bootstraps
using dht_lookup = dht_lookup_event;
using dht_peers = dht_peers_event;
}  // namespace addressed_out

// A struct, not an alias: client.hpp declares it without including this header.
struct addressed_output
    : std::variant<client_out::tracker_get, client_out::udp_send, client_out::udp_close, client_out::dht_send,
                   client_out::lsd_send, addressed_out::peers_found, addressed_out::announced, addressed_out::scraped,
                   addressed_out::warning, addressed_out::dht_announced, addressed_out::dht_item,
                   addressed_out::dht_put, addressed_out::dht_bootstrapped, addressed_out::dht_lookup,
                   addressed_out::dht_peers> {
  using variant::variant;
};

class addressed_network {
 public:
  using id20 = tracker::id20;
  virtual ~addressed_network() = default;

  // --- HTTP and UDP trackers (BEP 12 tiers: one per URL, in order) ---------------------
  // False when none of the URLs is an http(s):// or udp:// tracker.
  virtual bool add_torrent(const id20& info_hash, const id20& peer_id, const std::vector<std::string>& urls,
                           const tracker::announce_stats& stats, time_point now) = 0;
  virtual void remove_torrent(const id20& info_hash, time_point now) = 0;  // "stopped"
  virtual void completed(const id20& info_hash, time_point now) = 0;
  virtual void set_stats(const id20& info_hash, const tracker::announce_stats& stats) = 0;
  virtual void set_numwant(const id20& info_hash, std::uint32_t numwant) = 0;
  virtual bool scrape(const id20& info_hash, time_point now) = 0;
  virtual void tracker_response(std::uint64_t id, int status, byte_view body, time_point now) = 0;
  virtual void tracker_failed(std::uint64_t id, const std::string& message, time_point now) = 0;
  virtual void udp_received(const std::string& url, byte_view datagram, bool v6, time_point now) = 0;
  virtual void udp_failed(const std::string& url, const std::string& message, time_point now) = 0;

  // --- the DHT (absent unless client_settings::dht) -------------------------------------
  virtual bool has_dht() const = 0;
  // Announces on our port (or the implied port, BEP 5); false without a DHT.
  virtual bool dht_announce(const id20& info_hash, std::uint16_t port, bool implied_port, time_point now) = 0;
  virtual void dht_stop(const id20& info_hash) = 0;
  virtual void dht_bootstrap(const std::vector<wire::endpoint>& routers, time_point now) = 0;
  virtual void dht_received(const wire::endpoint& from, byte_view datagram, time_point now) = 0;
  virtual byte_buffer dht_state(time_point now) const = 0;
  virtual bool dht_load_state(byte_view state, time_point now) = 0;
  virtual std::size_t dht_nodes() const = 0;
  // Every node of the routing tables (IPv4, then IPv6), as bittorrent-dht's toJSON().nodes.
  virtual std::vector<wire::endpoint> dht_node_endpoints() const = 0;
  virtual id20 dht_node_id() const = 0;  // the IPv4 node's (the saved state's); zeros without a DHT
  // BEP 44 items (dht/item.hpp), on each node (IPv4, and IPv6 with dht_ipv6), their results
  // merged into one addressed_out::dht_item / dht_put with the op number returned. get: of a
  // mutable item, the highest seq either found. put: an item dht::check_item refuses is that
  // error, as is no DHT (error_generic).
  virtual std::optional<std::uint64_t> dht_get_item(const id20& target, byte_view salt, bool cached, time_point now) = 0;
  virtual std::variant<std::uint64_t, dht::error_reply> dht_put_item(const dht::item& item, std::optional<std::int64_t> cas,
                                                                    time_point now) = 0;
  // The app's get_peers lookup (or, with announce_port, one announce: dht::dht_node::
  // announce_once), on each node: addressed_out::dht_peers as peers come, then one
  // addressed_out::dht_lookup. nullopt without a DHT or when too many lookups run.
  virtual std::optional<std::uint64_t> dht_lookup(const id20& info_hash, std::optional<std::uint16_t> announce_port,
                                                  bool implied_port, time_point now) = 0;
  // A node's address (BEP 5's "port" message, the app): pinged, kept if it answers.
  virtual void dht_add_node(const wire::endpoint& node, time_point now) = 0;

  // --- uTP (BEP 29): the socket manager for client_settings::utp (nullptr: none) -----------
  virtual std::unique_ptr<utp_sockets> make_utp(const client_settings& settings) {
    (void)settings;
    return nullptr;
  }
  // --- Local Service Discovery (absent unless client_settings::lsd) ---------------------
  virtual bool has_lsd() const = 0;
  // Announces the torrent from now on; false without LSD.
  virtual bool lsd_announce(const id20& info_hash, time_point now) = 0;
  virtual void lsd_stop(const id20& info_hash) = 0;
  virtual void lsd_received(const wire::endpoint& from, byte_view datagram, time_point now) = 0;

  // MSE on the client's TCP and uTP connections (host/encryption.hpp); nullptr: none.
  virtual std::unique_ptr<peer_encryption> make_peer_encryption(const client_settings& settings) {
    (void)settings;
    return nullptr;
  }

  virtual void on_timer(time_point now) = 0;
  virtual std::optional<time_point> next_deadline() const = 0;
  virtual std::optional<addressed_output> poll() = 0;
};

// The announcer, the DHT (client_settings::dht) and LSD (client_settings::lsd) for a client with these (adjusted) settings.
std::unique_ptr<addressed_network> make_addressed_network(const client_settings& settings);

}  // namespace wt
