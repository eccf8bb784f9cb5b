// WebSocket tracker client, as WebTorrent and npm `bittorrent-tracker` speak it:
// JSON text messages over one WebSocket per tracker URL, shared by every torrent that
// announces there. Peers are found by relaying WebRTC offers and answers.
//
// Events and intervals are announce_timing.hpp's, shared with the HTTP and UDP trackers.
// What differs is WebTorrent's: every tracker of a torrent is announced to (no tiers),
// "completed" goes out at once, and what backs off is the socket's reconnects.
//
// Sans-I/O: the client never opens a socket, reads a clock or creates a peer
// connection. The host feeds it socket events, received text, SDP the host created
// and the current time; it drains outputs with poll() and calls on_timer() at
// next_deadline().
//
// Binary ids (info_hash, peer_id, offer_id) travel as JSON strings of one character
// per byte (code points U+0000..U+00FF, UTF-8 on the wire); see to_latin1/from_latin1.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "tracker/announce_types.hpp"

namespace wt::ws_tracker {

using id20 = std::array<std::uint8_t, 20>;

// --- Binary strings ----------------------------------------------------------------

// Each byte becomes the code point of the same value, encoded in UTF-8 (so bytes
// 0x80..0xFF take two bytes of text). What JSON.stringify of a "binary" string gives.
std::string to_latin1(byte_view bytes);
// The inverse. Errors: tracker_bad_utf8 (malformed, overlong or truncated UTF-8),
// tracker_not_latin1 (a code point above U+00FF); position = byte offset in `text`.
result<byte_buffer> from_latin1(std::string_view text);
// from_latin1 that also requires exactly 20 bytes (tracker_bad_id_length otherwise).
result<id20> id_from_latin1(std::string_view text);

// --- Configuration -------------------------------------------------------------------

struct config {
  std::uint64_t seed = 0;                  // PRNG seed: offer ids, backoff jitter
  std::size_t offers_per_announce = 5;     // numwant and offers count (WebTorrent: 5)
  duration offer_timeout = std::chrono::seconds(50);         // pending offer lifetime
  duration offer_creation_timeout = std::chrono::seconds(10);  // then announce without offers
  duration default_interval = std::chrono::seconds(120);     // until the tracker says
  duration min_interval_floor = std::chrono::seconds(10);    // never re-announce faster
  duration max_interval = std::chrono::hours(24);
  duration connect_timeout = std::chrono::seconds(30);       // open_socket without an answer
  duration close_linger = std::chrono::seconds(1);  // after the last "stopped", wait for its reply
  duration backoff_base = std::chrono::seconds(10);          // first reconnect delay
  duration backoff_cap = std::chrono::hours(1);
  unsigned backoff_jitter_percent = 25;                      // delay * (1 ± 25%)
  std::size_t max_message_size = std::size_t{1} << 20;       // 1 MiB of text
  std::size_t max_depth = 16;                                // JSON nesting
  std::size_t max_text_in_warning = 256;  // tracker-supplied text kept in a warning
  // The host's parameters for each announce (WebTorrent's getAnnounceOpts), as fields of
  // the JSON message; none if unset.
  tracker::announce_params_source extra_params{};
};

// Transfer statistics reported in announces, as for HTTP and UDP trackers. `left` absent:
// unknown (metadata not yet fetched); the field is then omitted and the tracker counts the
// peer as a leecher.
using announce_stats = tracker::announce_stats;

struct torrent_params {
  id20 info_hash{};
  id20 peer_id{};
  std::vector<std::string> trackers;  // ws:// or wss:// URLs; duplicates are ignored
  announce_stats stats;
  // Most offers (and numwant) per announce for this torrent, below config's
  // offers_per_announce: the connections it still has room for (0: numwant 0, no offers).
  std::size_t peer_room = static_cast<std::size_t>(-1);
};

// An SDP offer the host created for an offer id the client asked for.
struct created_offer {
  id20 offer_id{};
  std::string sdp;
};

// --- Outputs (drained in order with poll()) -----------------------------------------

// The host opens a WebSocket to `url`, then calls socket_opened or socket_closed.
// Without either within config::connect_timeout, the client gives up: close_socket,
// then a reconnect after backoff.
struct open_socket {
  std::string url;
};
// Send one text frame. Sends are ordered with opens and closes for the same URL.
struct send_text {
  std::string url;
  std::string text;
};
// Close the WebSocket to `url` (after sending what was queued before). No
// socket_closed is expected for it, and events of that socket must not be reported
// any more (a later open_socket for the same URL asks for a new one).
struct close_socket {
  std::string url;
};
// Create one non-trickle RTCPeerConnection offer per id, then call offers_created
// with the same url and info_hash (fewer offers if some failed; an empty list is fine).
struct create_offers {
  std::string url;
  id20 info_hash{};
  std::vector<id20> offer_ids;
};
// A remote peer's offer relayed by the tracker: create an answer, then call
// answer_created with these url, info_hash, peer_id (as to_peer_id) and offer_id.
struct answer_offer {
  std::string url;
  id20 info_hash{};
  id20 peer_id{};
  id20 offer_id{};
  std::string sdp;
};
// The answer to one of our pending offers: apply it to the peer connection made for
// offer_id; that connection now belongs to `peer_id`.
struct answer_received {
  std::string url;
  id20 info_hash{};
  id20 peer_id{};
  id20 offer_id{};
  std::string sdp;
};
enum class cancel_reason : std::uint8_t { timeout, socket_closed, torrent_removed };
// A pending offer will never be answered: close its peer connection.
struct offer_cancelled {
  std::string url;
  id20 info_hash{};
  id20 offer_id{};
  cancel_reason reason = cancel_reason::timeout;
};
// An announce response that carried peer counts.
struct announce_result {
  std::string url;
  id20 info_hash{};
  duration interval{};  // the re-announce interval now in force
  std::optional<std::int64_t> complete;
  std::optional<std::int64_t> incomplete;
};
struct scrape_result {
  std::string url;
  id20 info_hash{};
  std::int64_t complete = 0;
  std::int64_t incomplete = 0;
  std::int64_t downloaded = 0;
};
// Malformed input, tracker failure reason or warning message. `info_hash` when the
// message could be tied to a torrent. err.context holds the field or tracker text.
struct warning {
  std::string url;
  std::optional<id20> info_hash;
  error err;
};

using output = std::variant<open_socket, send_text, close_socket, create_offers, answer_offer,
                            answer_received, offer_cancelled, announce_result, scrape_result,
                            warning>;

// --- The client -----------------------------------------------------------------------

class client {
 public:
  explicit client(config cfg = {});
  ~client();
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Registers a torrent on its trackers (opening sockets as needed) and announces
  // "started" as soon as each socket is open. False if the info_hash is already added.
  bool add_torrent(const torrent_params& params, time_point now);
  // Announces "stopped" where it had started, cancels its pending offers, and closes
  // sockets that no torrent uses any more (after the tracker's reply to "stopped", or
  // config::close_linger). False if unknown.
  bool remove_torrent(const id20& info_hash, time_point now);
  // Updates the numbers sent in later announces.
  bool set_stats(const id20& info_hash, const announce_stats& stats);
  // Updates torrent_params::peer_room for later announces.
  bool set_peer_room(const id20& info_hash, std::size_t room);
  // Announces "completed" (no offers) on every open tracker where it had started.
  bool completed(const id20& info_hash, time_point now);
  // Sends {action: "scrape", info_hash: [...]} if the socket to `url` is open and the
  // list is not empty.
  bool scrape(const std::string& url, std::span<const id20> info_hashes);

  void socket_opened(const std::string& url, time_point now);
  // The socket closed or failed to open: pending offers on it are cancelled and a
  // reconnect is scheduled with jittered exponential backoff (backoff_base doubling up
  // to backoff_cap, ± backoff_jitter_percent); the first well-formed announce or scrape
  // message on a socket resets it. After a reconnect every torrent announces "started".
  // Messages arriving on a socket that is not open are ignored.
  void socket_closed(const std::string& url, time_point now);
  // One text frame. Malformed input, unknown actions, failure reasons and warning
  // messages become `warning` outputs; nothing here throws. Messages for torrents not
  // announced on this tracker, and our own offers/answers echoed back, are ignored.
  void text_received(const std::string& url, std::string_view text, time_point now);

  // The reply to create_offers: sends the announce that waited for these offers.
  void offers_created(const std::string& url, const id20& info_hash,
                      std::span<const created_offer> offers, time_point now);
  // The reply to answer_offer: sends the answer to the tracker. False if the socket
  // is not open or the torrent is unknown on that tracker.
  bool answer_created(const std::string& url, const id20& info_hash, const id20& to_peer_id,
                      const id20& offer_id, std::string_view sdp);

  // Idempotent: re-announces, reconnects and expires offers that are due.
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;

  std::optional<output> poll();

  // Introspection for tests and the host.
  bool socket_is_open(const std::string& url) const;
  std::size_t pending_offers() const;
  // When the next reconnect attempt is due, while the socket to `url` waits for one.
  std::optional<time_point> reconnect_at(const std::string& url) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wt::ws_tracker
