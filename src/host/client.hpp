// The client facade: one session and one WebSocket tracker client, routed together, behind
// one sans-I/O surface that a host (the browser shim in web/) drives.
//
// What it routes (protocol logic stays here, the host only moves bytes and adapts objects):
//   - a torrent added to the session is registered with its ws:// / wss:// trackers
//     (its announce list plus the client's default trackers);
//   - the tracker wants offers -> the host creates one non-trickle WebRTC offer per
//     create_offer (a "peer" id), and replies with offer_created();
//   - the tracker relays a remote offer -> the host creates an answer (create_answer),
//     and replies with answer_created();
//   - the tracker matches an answer to our offer -> the host applies it (set_answer);
//   - a data channel opens (channel_opened) -> the session gets a connection through
//     the same handshake path as any other transport: the offering side opens it as
//     ours (open_connection, it sends the handshake first), the answering side accepts
//     (accept_connection, it waits for the handshake and replies); neither is dialable
//     again. Why this way round: Chromium sometimes drops a message that the answering
//     side sends the instant its channel opens (measured: 14 of 400 channels between two
//     pages; none of 400 first messages from the offering side, none of 400 immediate
//     replies to them). A lost handshake leaves both peers waiting for one;
//   - the session finishes a torrent -> "completed" to its trackers; removed or paused ->
//     "stopped"; resumed -> "started" again.
// Storage belongs to the host: the session's storage requests go out as `storage`
// outputs, the host performs them on its store (memory, OPFS, IndexedDB, files) whenever
// it likes and reports storage_completed(); the session holds back block requests while
// writes are behind (session_settings::max_pending_write_bytes).
//
// Addressed peers (TCP under Node): with client_settings::dial_peers, the session's dials
// (tracker, ut_pex and magnet x.pe addresses, add_peer) go out as `connect` outputs; the host
// opens the socket and reports channel_opened / channel_closed like for a data channel.
// Incoming sockets come in through accept_peer(). Either way the socket is a host_peer: its
// bytes flow through send / channel_data / channel_sent / close_peer like a channel's.
//
// HTTP and UDP trackers and the DHT are reached through an addressed_network
// (host/addressed.hpp) that the constructor installs; the browser's module constructs the
// client without one, so it does not link their code (it has no way to reach them anyway).
//
// HTTP and UDP trackers (with dial_peers only: their answers are addresses): a torrent's
// http(s):// and udp:// trackers go to the announce scheduler (tracker/announce_schedule.hpp,
// one tier per URL in order, BEP 12, so each is announced to, as WebTorrent does); its GETs
// go out as `tracker_get` (the host fetches the whole body and reports tracker_response /
// tracker_failed), its datagrams as `udp_send` on one UDP socket per tracker URL (report
// udp_received / udp_failed; `udp_close` ends it).
// The peers they return are dialled like any address.
//
// The DHT (BEP 5, with dial_peers and client_settings::dht): one dht::dht_node on one UDP
// socket of the host (`dht_send` out, dht_received in), and with dht_ipv6 a second one for
// IPv6 (BEP 32) on the host's IPv6 socket. Every public torrent is announced
// on it (our listen port) and the peers it finds are dialled; the host resolves the
// bootstrap routers and passes their addresses to dht_bootstrap().
//
// Local Service Discovery (BEP 14, with dial_peers, a listen port and client_settings::lsd):
// one lsd::service; its announces go out as `lsd_send` (the host sends them to the multicast
// group of that family, port 6771, from the socket it joined to the groups) and the host
// hands every datagram heard there to lsd_received(). Every public torrent is announced
// (on add and resume, then every 5 minutes, at most once a minute); the peers heard are
// dialled like any address, with source peer_source::lsd.
//
// Web seeds (BEP 19): a torrent's url-list and a magnet's ws= / as= URLs become the
// session's web seeds; its HTTP requests go out as `http` outputs (get / cancel), the host
// performs them (fetch with a Range header) and reports http_response(), http_data() per
// body chunk, then http_done() or http_failed().
//
// Message stream encryption (MSE/PE) on TCP and uTP connections (client_settings::encryption): see
// host/encryption.hpp. The addressed network makes it, so the browser's module, which has no
// TCP, links none of it.
//
// uTP (BEP 29, client_settings::utp, with dial_peers and the addressed network: Node only):
// the host's UDP sockets on the listen port (IPv4 and IPv6); their datagrams come in through
// utp_received() and go out as `utp_send`. The connections are utp/socket_manager.hpp's and
// carry the same byte streams as TCP sockets: the session sees no difference. A dial tries
// uTP first (as WebTorrent does for IPv4, and libtorrent for IPv6 too) and, when that
// connection cannot be made (a RESET, or no answer to two SYNs: 3 s), dials the address over
// TCP instead (a `connect` output for the same host_peer). A dial unanswered after
// utp_probe_delay also gets a TCP probe (a `connect` output of its own host_peer, closed
// unused once it opens): its refusal ends the dial at once (client::start_probes). Each dial
// also asks the host for a UDP probe (`utp_probe`: an empty datagram from a socket of its
// own, connected to the address, whose ICMP "port unreachable" the host can see, where the
// shared uTP socket's is lost); utp_unreachable() then dials TCP at once. Incoming uTP connections are
// accepted like TCP sockets, MSE on both alike. The host never sees a uTP connection's
// host_peer (no send / close_peer outputs for it); peer_channel_event::utp tells which ones
// they are.
//
// Drive it like the session: pass `now` to every call, call on_timer() at next_deadline(),
// and drain poll() after every call.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "metainfo/metainfo.hpp"
#include "session/session.hpp"
#include "storage/storage.hpp"
#include "dht/dht.hpp"
#include "lsd/lsd.hpp"
#include "tracker/announce_schedule.hpp"
#include "tracker/ws_tracker.hpp"
#include "utp/socket_manager.hpp"

namespace wt {

class addressed_network;  // host/addressed.hpp
struct addressed_output;

// MSE on TCP and uTP connections (see the header comment), WebTorrent's `secure` and more.
enum class encryption_policy : std::uint8_t {
  // Dials plain BitTorrent; accepts MSE (selecting RC4 when offered) and plain handshakes.
  plain,
  // Dials with MSE offering plaintext and RC4; as responder selects plaintext when offered.
  // WebTorrent 3's `secure: 1` (its default).
  prefer_plaintext,
  // Dials with MSE offering RC4 and plaintext; as responder selects RC4 when offered.
  // WebTorrent's `secure: true`.
  prefer_rc4,
  // Dials with MSE offering RC4 only and never falls back to a plain dial; accepts plain
  // handshakes, and MSE only with RC4. WebTorrent 3's `secure: 2`.
  rc4_only,
  // As rc4_only, and refuses plain handshakes too.
  required,
};

class peer_encryption;  // host/encryption.hpp
// A connection's state in peer_encryption (its own type behind this one).
struct encryption_state {
  virtual ~encryption_state() = default;
};

struct client_settings {
  session_settings session;
  // MSE on TCP and uTP connections (dial_peers and the addressed network only).
  encryption_policy encryption = encryption_policy::plain;
  // Random bytes from the host (the browser's crypto.getRandomValues): MSE's Diffie-Hellman
  // private keys are drawn from them and the seed.
  std::array<std::uint8_t, 32> encryption_entropy{};
  // A dial with MSE whose peer has not sent its BitTorrent handshake this long after the
  // socket opened has failed (as when the peer hangs up): a peer that stalls in MSE (WebTorrent
  // 2.x's with secure does) gets the plain redial too. Addresses where a plain redial worked
  // are dialled plain from then on.
  duration encryption_timeout = std::chrono::seconds(10);
  ws_tracker::config tracker;
  tracker::schedule_config announcer;  // HTTP and UDP trackers (with dial_peers)
  // A DHT node (with dial_peers); its settings (the seed defaults to the session's).
  std::optional<dht::settings> dht;
  // With dht: also an IPv6 node (BEP 32), same id, a routing table of its own; the host has
  // an IPv6 socket on the same port, and datagrams and routers go to the node of their family.
  bool dht_ipv6 = false;
  // Local Service Discovery (with dial_peers and session.listen_port: the port announced);
  // its settings (listen_port and seed are filled in from the session's).
  std::optional<lsd::settings> lsd;
  // Added to every torrent's own trackers (only ws:// and wss:// URLs are used).
  std::vector<std::string> default_trackers;
  // False: no tracker is announced to, neither a torrent's own nor the default ones
  // (WebTorrent's tracker: false). Torrents still list theirs (torrent_file, magnets).
  bool announce_to_trackers = true;
  // False: a torrent's own web seeds (url-list, a magnet's ws= and as=) are not used; those
  // added by add_web_seed are (WebTorrent's webSeeds: false).
  bool use_url_list = true;
  // Bytes the host may hold in a channel's send buffer before the session stops reading
  // blocks for that peer (the host reports what left with channel_sent()).
  std::uint32_t send_buffer_limit = 1u << 20;
  // Consecutive bytes for one channel are merged into send outputs of up to this size.
  std::size_t max_send_size = 64 * 1024;
  // The host can open connections to addresses (TCP): the session's dials become `connect`
  // outputs. Without it (the browser) such dials fail at once.
  bool dial_peers = false;
  // Parameters added to each announce of a torrent, to every kind of tracker (WebTorrent's
  // getAnnounceOpts; see tracker::announce_param), asked each time one is built. It must
  // not call the client.
  std::function<tracker::announce_params(torrent_id)> announce_params{};
  // uTP (see the header comment), with dial_peers and the addressed network.
  bool utp = false;
  utp::manager_settings utp_settings;
  // A uTP dial unanswered this long gets a TCP probe beside it (client::start_probes).
  duration utp_probe_delay = std::chrono::milliseconds(500);
};

// The uTP socket manager behind an interface (as the addressed network: only a module that
// constructs it links its code).
class utp_sockets {
 public:
  virtual ~utp_sockets() = default;
  virtual utp::socket_id connect(const wire::endpoint& to, time_point now) = 0;
  virtual void send(utp::socket_id id, byte_view data) = 0;
  virtual void close(utp::socket_id id, time_point now) = 0;
  virtual void flush(time_point now) = 0;
  virtual bool received(const wire::endpoint& from, byte_view datagram, time_point now) = 0;
  virtual void on_timer(time_point now) = 0;
  virtual std::optional<time_point> next_deadline() const = 0;
  virtual std::optional<utp::output> poll() = 0;
};

// A connection the host keeps: a WebRTC peer connection (with its data channel) or a TCP
// socket. Ids are never reused.
using host_peer = strong_id<struct host_peer_tag>;

// --- outputs for the host -----------------------------------------------------------------

namespace client_out {
// Open a WebSocket to url; report socket_opened / socket_closed / text_received.
struct open_socket { std::string url; };
struct send_text { std::string url; std::string text; };
// Close it; report nothing more for it.
struct close_socket { std::string url; };
// Create an RTCPeerConnection with a data channel and a complete (non-trickle) offer;
// reply offer_created(peer, sdp), or offer_created(peer, "") when it failed.
struct create_offer { host_peer peer; };
// Create an RTCPeerConnection for this remote offer and a complete answer; reply
// answer_created(peer, sdp), or answer_created(peer, "") when it failed.
struct create_answer { host_peer peer; std::string sdp; };
// Apply this remote answer to the peer connection made by create_offer.
struct set_answer { host_peer peer; std::string sdp; };
// Close the peer connection (and its channel); report nothing more for it.
struct close_peer { host_peer peer; std::string reason; };
// Open a TCP connection to `remote` (dial_peers); report channel_opened(peer) once it is
// connected, or channel_closed(peer) when it fails.
struct connect { host_peer peer; wire::endpoint remote; };
// Bytes for the peer's data channel or socket (a byte stream: split or merge freely).
struct send { host_peer peer; byte_buffer data; };
// Perform the session's storage request; report storage_completed() with its id.
struct storage { storage_request request; };
// A web seed's HTTP request (op get), or the abort of one (op cancel: report nothing more).
struct http { http_request request; };
// An HTTP tracker's announce or scrape: GET the URL, report tracker_response(id, status,
// body) or tracker_failed(id, message).
struct tracker_get { std::uint64_t id = 0; std::string url; };
// A datagram for the UDP tracker `url` (host:port: the host resolves it and keeps one socket
// per URL); udp_close: no torrent uses it any more.
struct udp_send { std::string url; byte_buffer data; };
struct udp_close { std::string url; };
// A datagram for the DHT's UDP socket.
struct dht_send { wire::endpoint to; byte_buffer data; };
// A datagram for the uTP socket (on the listen port).
struct utp_send { wire::endpoint to; byte_buffer data; };
// Send an empty datagram to `to` from a UDP socket connected to it, and report
// utp_unreachable(to) if the system says nothing listens there (ICMP "port unreachable").
// Nothing to report otherwise; the socket may be closed after a few seconds.
struct utp_probe { wire::endpoint to; };
// A Local Service Discovery announce for the IPv4 group 239.192.152.143:6771 (v6 false) or
// the IPv6 group [ff15::efc0:988f]:6771; a host without that family drops it.
struct lsd_send { bool v6 = false; byte_buffer data; };
}  // namespace client_out

// Events for the user: the session's, plus tracker warnings and announce results.
struct tracker_warning_event {
  std::optional<torrent_id> torrent;
  std::string url;
  error err;
};
struct tracker_announce_event {
  torrent_id torrent;
  std::string url;
  std::optional<std::int64_t> complete;
  std::optional<std::int64_t> incomplete;
};
// A tracker's scrape (BEP 48 for HTTP, BEP 15 for UDP) of the torrent.
struct tracker_scrape_event {
  torrent_id torrent;
  std::string url;
  std::int64_t complete = 0;    // seeders
  std::int64_t incomplete = 0;  // leechers
  std::int64_t downloaded = 0;  // completed downloads the tracker has seen
};
// A DHT announce of the torrent ended (get_peers, then announce_peer): WebTorrent's
// 'dhtAnnounce'. peers: addresses the lookup returned.
struct dht_announce_event {
  torrent_id torrent;
  std::size_t peers = 0;
  std::size_t announced_to = 0;
};
// BEP 44: the end of dht_get_item (the item, if found; `from`: the id of the node that gave
// it) and of dht_put_item (`sent` nodes were asked to store it, `stored` did; `error`: the
// last refusal).
struct dht_item_event {
  std::uint64_t op = 0;
  dht::node_id target{};
  std::optional<dht::item> item;
  dht::node_id from{};
};
struct dht_put_event {
  std::uint64_t op = 0;
  dht::node_id target{};
  std::size_t sent = 0, stored = 0;
  std::optional<dht::error_reply> error;
};
// The app's DHT lookup (client::dht_lookup) found peers, and ended: `nodes_with_peers`
// answers carried peers; with an announce, `announced_to` nodes were sent announce_peer.
// Peers a torrent's own lookup found come as a dht_peers_event with op 0 (and go to the
// torrent).
struct dht_peers_event {
  std::uint64_t op = 0;
  dht::node_id info_hash{};
  std::vector<wire::endpoint> peers;
  std::optional<wire::endpoint> from{};  // the node that gave them (bittorrent-dht's 'peer' from)
};
struct dht_lookup_event {
  std::uint64_t op = 0;
  dht::node_id info_hash{};
  std::size_t nodes_with_peers = 0, announced_to = 0;
};
// The DHT's first bootstrap lookup (or a later one) ended; `answered`: nodes that answered
// it. bittorrent-dht's 'ready'.
struct dht_bootstrap_event {
  std::size_t answered = 0;
};
// A data channel is open and handed to the session as `connection`.
struct peer_channel_event {
  torrent_id torrent;
  host_peer peer;
  connection_id connection;
  bool offerer = false;
  bool utp = false;  // a uTP connection (the host has no socket for it)
  bool tcp = false;  // a TCP connection, dialled or accepted (neither flag: a data channel or the app's stream)
};
using client_event = std::variant<session_event, tracker_warning_event, tracker_announce_event, tracker_scrape_event,
                                  dht_announce_event, peer_channel_event, dht_item_event, dht_put_event,
                                  dht_bootstrap_event, dht_peers_event, dht_lookup_event>;

using client_output =
    std::variant<client_out::open_socket, client_out::send_text, client_out::close_socket,
                 client_out::create_offer, client_out::create_answer, client_out::set_answer,
                 client_out::close_peer, client_out::connect, client_out::send, client_out::storage,
                 client_out::http, client_out::tracker_get, client_out::udp_send,
                 client_out::udp_close, client_out::dht_send, client_out::lsd_send, client_out::utp_send,
                 client_out::utp_probe, client_event>;

class client {
 public:
  // With every network the engine has: HTTP/UDP trackers and the DHT (host/addressed.cpp).
  explicit client(client_settings settings = {});
  // With the HTTP/UDP trackers and the DHT that make_network returns (it gets the client's
  // settings), or without them (nullptr: the browser's module, which then links none of their
  // code; its torrents' http(s):// and udp:// trackers and client_settings::dht are ignored).
  client(client_settings settings,
         std::unique_ptr<addressed_network> (*make_network)(const client_settings&));
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  const wire::peer_id& peer_id() const noexcept;

  // --- user commands ---------------------------------------------------------------
  // A .torrent. params.seed: the host's store holds every piece (it is seeded);
  // params.check: the store may hold pieces from an earlier run (they are read back and
  // hashed first). `trackers`: announced to besides the torrent's own and the default ones.
  result<torrent_id> add_torrent(byte_view torrent_file, add_torrent_params params,
                                 time_point now, std::vector<std::string> trackers = {});
  // A .torrent's url-list entries become web seeds (session::add_web_seed).
  // A magnet link: its info-hash and ws trackers (plus `trackers` and the defaults); its
  // ws= and as= URLs become web seeds (as parse-torrent reads them into urlList).
  result<torrent_id> add_magnet(std::string_view uri, time_point now,
                                std::vector<std::string> trackers = {}, add_torrent_params params = {});
  void remove_torrent(torrent_id t, time_point now);
  // session::pause_torrent (connections closed, no new ones, pieces and readers kept),
  // plus: "stopped" to the torrent's trackers (which forget it, so no offers come for
  // it), and every WebRTC peer connection of the torrent closed, also the ones still
  // being set up. False for an unknown torrent; pausing a paused torrent does nothing.
  bool pause_torrent(torrent_id t, time_point now);
  // session::resume_torrent, and "started" to the same trackers as when it was added
  // (new offers, so new peers). False for an unknown torrent.
  bool resume_torrent(torrent_id t, time_point now);

  // A data channel the host connected itself (custom signalling; torrent.addPeer in the
  // JS API). Report channel_opened / channel_data / channel_closed / channel_sent for
  // the returned handle like for any other. Once open, the session takes it as a connection
  // of ours and sends the handshake first (both ends of such a channel may do so). Nullopt for
  // an unknown torrent.
  std::optional<host_peer> attach_channel(torrent_id t, time_point now);

  // An address to connect to for the torrent (what torrent.addPeer('ip:port') gives):
  // the session dials it when it has room (dial_peers). `known`: the torrent holds it
  // already; `invalid`: it cannot be a peer (peer_added); `blocked`: the IP filter holds it.
  // Told here only (no peer_blocked_event nor peers_found_event: the caller reports it at once).
  enum class add_peer_result : std::uint8_t { added, known, invalid, blocked, unknown_torrent };
  add_peer_result add_peer(torrent_id t, const wire::endpoint& remote, time_point now);
  // What add_peer would say of the address for a torrent that does not hold it yet: added,
  // invalid or blocked (for an address given before the torrent is added).
  add_peer_result check_peer(const wire::endpoint& remote) const;
  // torrent.removePeer('ip:port'): session::remove_peer; its socket, if any, is closed.
  bool remove_peer(torrent_id t, const wire::endpoint& remote, time_point now);
  // The blocklist (session::set_ip_filter): refused addresses, from now on and at once.
  void set_ip_filter(ip_set filter, time_point now) {
    session_.set_ip_filter(std::move(filter), now);
    pump(now);
  }
  // Asks the HTTP or UDP tracker the torrent announces to for its swarm's counts
  // (tracker_scrape_event, or a tracker warning). False when the torrent has no such tracker.
  bool scrape(torrent_id t, time_point now);
  // An incoming connection (a TCP socket the host accepted): the session learns its torrent
  // from the handshake. Report channel_data / channel_closed / channel_sent for it.
  host_peer accept_peer(const wire::endpoint& remote, time_point now);

  // The torrent as a .torrent file: its info dict and every tracker it announces to.
  // Empty until the metadata is known.
  byte_buffer torrent_file(torrent_id t) const;

  // The session, for commands the facade does not wrap (priorities, readers, reads,
  // extensions). Call flush(now) after such a call: it routes what the session queued.
  session& engine() noexcept { return session_; }
  void flush(time_point now) { pump(now); }
  const session& engine() const noexcept { return session_; }

  // --- WebSocket events -------------------------------------------------------------
  void socket_opened(const std::string& url, time_point now);
  void socket_closed(const std::string& url, time_point now);
  void text_received(const std::string& url, std::string_view text, time_point now);

  // --- WebRTC events ----------------------------------------------------------------
  void offer_created(host_peer p, std::string_view sdp, time_point now);
  void answer_created(host_peer p, std::string_view sdp, time_point now);
  void channel_opened(host_peer p, time_point now);
  void channel_data(host_peer p, byte_view data, time_point now);
  // The channel or its peer connection closed or failed (also before it opened).
  void channel_closed(host_peer p, time_point now);
  // `bytes` of what send() handed out have left the channel's buffer.
  void channel_sent(host_peer p, std::size_t bytes, time_point now);
  // The application closes the peer (wire.destroy(), removePeer()): the session forgets it
  // and its socket or channel is closed (a close_peer output; a uTP connection, which has
  // none in the host, gets its FIN here).
  void disconnect(host_peer p, time_point now);

  // --- storage ------------------------------------------------------------------------
  void storage_completed(storage_completion c, time_point now) {
    session_.storage_completed(std::move(c), now);
    pump(now);
  }

  // --- web seeds (see session::add_web_seed) -------------------------------------------
  bool add_web_seed(torrent_id t, std::string url, time_point now) {
    const bool added = session_.add_web_seed(t, std::move(url), now);
    pump(now);
    return added;
  }
  bool remove_web_seed(torrent_id t, std::string url, time_point now) {
    const bool removed = session_.remove_web_seed(t, std::move(url), now);
    pump(now);
    return removed;
  }
  void http_response(http_request_id id, int status, std::string_view content_range,
                     std::optional<std::int64_t> content_length, time_point now) {
    session_.http_response(id, status, content_range, content_length, now);
    pump(now);
  }
  void http_data(http_request_id id, byte_view data, time_point now) {
    session_.http_data(id, data, now);
    pump(now);
  }
  void http_done(http_request_id id, time_point now) {
    session_.http_done(id, now);
    pump(now);
  }
  void http_failed(http_request_id id, std::string_view message, time_point now) {
    session_.http_failed(id, message, now);
    pump(now);
  }

  // --- HTTP and UDP trackers ------------------------------------------------------------
  void tracker_response(std::uint64_t id, int status, byte_view body, time_point now);
  void tracker_failed(std::uint64_t id, const std::string& message, time_point now);
  void udp_received(const std::string& url, byte_view datagram, bool v6, time_point now);
  void udp_failed(const std::string& url, const std::string& message, time_point now);

  // --- the DHT (client_settings::dht) ---------------------------------------------------
  bool has_dht() const noexcept;
  // The routers' addresses (resolved by the host); also used again when the table empties.
  void dht_bootstrap(const std::vector<wire::endpoint>& routers, time_point now);
  void dht_received(const wire::endpoint& from, byte_view datagram, time_point now);
  // The node's id and good nodes, to hand to dht_load_state() in a later run (empty
  // without a DHT); false when the bytes were not such a state.
  byte_buffer dht_state(time_point now) const;
  bool dht_load_state(byte_view state, time_point now);
  // Nodes in the routing table (0 without a DHT).
  std::size_t dht_nodes() const;
  std::vector<wire::endpoint> dht_node_endpoints() const;  // every node of the routing tables
  // Our node id, which BEP 42 may change once (nullopt without a DHT).
  std::optional<dht::node_id> dht_node_id() const;
  // BEP 44 items (dht/item.hpp): a dht_item_event / dht_put_event with the number returned.
  // get: nullopt without a DHT or when too many lookups run. put: an item dht::check_item
  // refuses gives that error, and nothing is sent.
  std::optional<std::uint64_t> dht_get_item(const dht::node_id& target, byte_view salt, bool cached, time_point now);
  std::variant<std::uint64_t, dht::error_reply> dht_put_item(const dht::item& item, std::optional<std::int64_t> cas,
                                                            time_point now);
  // A get_peers lookup for the app (announce_port: one announce too, not repeated), apart
  // from the torrents' own: dht_peers_event as peers come, then a dht_lookup_event with the
  // number returned. nullopt without a DHT or when too many lookups run.
  std::optional<std::uint64_t> dht_lookup(const dht::node_id& info_hash, std::optional<std::uint16_t> announce_port,
                                          bool implied_port, time_point now);
  void dht_add_node(const wire::endpoint& node, time_point now);

  // --- uTP (client_settings::utp) ------------------------------------------------------
  bool has_utp() const noexcept { return utp_ != nullptr; }
  // Datagrams on the uTP sockets, as many as the host read at once: the connections' ACKs
  // go out once, after the batch (utp/connection.hpp).
  struct utp_datagram {
    wire::endpoint from;
    byte_view data;
  };
  void utp_received(std::span<const utp_datagram> batch, time_point now);
  void utp_received(const wire::endpoint& from, byte_view datagram, time_point now) {
    const utp_datagram one{from, datagram};
    utp_received(std::span<const utp_datagram>(&one, 1), now);
  }
  // A utp_probe's answer: nothing listens on UDP at `to`. Its uTP dials go over TCP now.
  void utp_unreachable(const wire::endpoint& to, time_point now);
  // --- Local Service Discovery (client_settings::lsd) -----------------------------------
  bool has_lsd() const noexcept;
  // A datagram the host's multicast socket received from `from` (its source address).
  void lsd_received(const wire::endpoint& from, byte_view datagram, time_point now);

  // --- time and outputs ---------------------------------------------------------------
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  std::optional<client_output> poll();

  // Introspection (tests).
  std::size_t open_peers() const noexcept { return peers_.size(); }

 private:
  struct offer_batch {
    std::string url;
    ws_tracker::id20 info_hash{};
    std::map<std::uint32_t, ws_tracker::id20> waiting;  // peer -> offer id
    std::vector<ws_tracker::created_offer> created;
  };
  struct peer_state {
    torrent_id torrent;  // 0 for an accepted socket until its handshake names one
    bool offerer = false;
    bool answerer = false;  // we answered its offer (through a tracker): it speaks first
    bool open = false;
    bool dialled = false;  // a `connect` output: its connection waits for connection_opened
    std::optional<connection_id> connection;
    std::optional<std::uint64_t> batch;  // offer_batch while the offer is being created
    ws_tracker::id20 offer_id{};
    // answerer: the tracker reply waits for answer_created
    std::string url;
    ws_tracker::id20 remote_peer_id{};
    // TCP or uTP: its state in peer_encryption (MSE, or a plain redial), when it has some.
    std::unique_ptr<encryption_state> mse;
    // A uTP connection; a dial's address, for the TCP dial that replaces a failed uTP one.
    std::optional<utp::socket_id> utp;
    wire::endpoint utp_remote{};
    // A uTP dial's TCP probe (see poll_connect's loop in pump), and a probe's dial.
    std::optional<std::uint32_t> probe;
    std::optional<std::uint32_t> probe_of;
  };
  struct torrent_state {
    ws_tracker::id20 info_hash{};
    // Every tracker of the torrent (its own, the ones given at add, the defaults), once
    // each: for torrent_file(), and to announce to again on resume.
    std::vector<std::string> trackers;
    bool registered = false;
    bool announcing = false;  // added to net_'s HTTP/UDP trackers
    bool on_dht = false;      // announced on the DHT
    bool on_lsd = false;      // announced by Local Service Discovery
    // "completed" went to the trackers, or the torrent was added complete: only a torrent
    // that has every piece is complete to a tracker (not one whose selection is done).
    bool complete = false;
    bool paused = false;
  };

  client_settings with_announce_params(client_settings s);
  void register_with_trackers(torrent_id t, std::vector<std::string> urls, time_point now);
  void pump(time_point now);
  void route_tracker(ws_tracker::output o, time_point now);
  // Announces the torrent on the DHT, unless it is private (BEP 27) or there is no DHT.
  void announce_on_dht(torrent_id t, time_point now);
  void leave_dht(torrent_id t);
  // The same for Local Service Discovery (BEP 27: never a private torrent).
  void announce_on_lsd(torrent_id t, time_point now);
  void leave_lsd(torrent_id t);
  void route_addressed(addressed_output o, time_point now);
  void route_event(session_event e, time_point now);
  void route_utp(utp::output o, time_point now);
  void close_peer(host_peer p, std::string reason);
  void start_probes(time_point now);
  void end_probe(host_peer probe);
  void dial_tcp_instead(host_peer p, peer_state& s);
  // Bytes for the peer's socket or channel, merged with the send before them when they fit.
  void send_to_peer(host_peer p, byte_buffer data);
  std::optional<torrent_id> torrent_of(const ws_tracker::id20& info_hash) const;
  void update_tracker_stats(torrent_id t);
  tracker::announce_stats announce_stats_of(torrent_id t) const;
  // Closes every peer connection of the torrent (and its offers still being made).
  void close_peers_of(torrent_id t, const std::string& reason, time_point now);
  // The session forgets the peer's connection, its offer batch stops waiting for it, and
  // it is closed.
  void end_peer(host_peer p, std::string reason, time_point now);
  void finish_batch(std::uint64_t id, time_point now);

  client_settings settings_;
  session session_;
  ws_tracker::client tracker_;
  std::unique_ptr<addressed_network> net_;  // HTTP/UDP trackers, DHT: null in the browser
  std::unique_ptr<peer_encryption> mse_;    // MSE on TCP and uTP (made by net_): null in the browser
  friend class mse_connections;             // host/encryption.cpp: mse_'s implementation
  std::unique_ptr<utp_sockets> utp_;          // null without client_settings::utp
  std::map<utp::socket_id, std::uint32_t> peer_of_utp_;
  std::deque<std::pair<time_point, std::uint32_t>> probes_due_;  // uTP dials, in order
  std::vector<utp::socket_id> utp_closing_;   // closed by close_peer, FIN sent at the next pump
  std::map<torrent_id, torrent_state> torrents_;
  std::map<std::uint32_t, peer_state> peers_;
  std::map<std::uint32_t, std::uint32_t> peer_of_connection_;  // connection -> peer
  std::map<std::uint64_t, offer_batch> batches_;
  std::deque<client_output> out_;
  std::uint32_t next_peer_ = 1;
  std::uint64_t next_batch_ = 1;
};

// The ws:// and wss:// URLs of a list, once each, in order.
std::vector<std::string> websocket_trackers(const std::vector<std::string>& urls);
// The http(s):// and udp:// URLs of a list, once each, in order.
std::vector<std::string> addressed_trackers(const std::vector<std::string>& urls);

}  // namespace wt
