// Announce scheduling for HTTP (BEP 3) and UDP (BEP 15) trackers, shared by both: one
// schedule per tracker URL per torrent, grouped in tiers (BEP 12); each protocol is only
// its codec (http_tracker.hpp, udp_tracker.hpp).
//
// Every tier of a torrent announces, each on its own schedule (libtorrent's
// announce_to_all_tiers, qBittorrent's default): a tracker that answers with no peers must
// not hide the peers another tier's tracker knows, and WebTorrent announces to every
// tracker too. Within a tier, whose trackers BEP 12 makes mirrors, one at a time: the
// first that is not backing off after a failure. A tracker that answers moves to the front
// of its tier; one that fails backs off (backoff_base doubling up to backoff_cap) and the
// tier's next one is tried at once. Tiers are shuffled when the torrent is added (BEP 12),
// from the config's seed.
//
// Events: "started" to each tracker before anything else (again after it failed to
// acknowledge one), "completed" once per tier (until one of its trackers acknowledged it),
// "stopped" on remove to every tracker that had acknowledged "started". Re-announces come
// at the tracker's interval, never sooner than its min interval nor min_interval_floor;
// "completed" at once.
// That per-tracker part (events, intervals, back-off) is announce_timing.hpp, which the
// WebSocket tracker (ws_tracker.hpp) uses too.
//
// Sans-I/O: the host performs HTTP GETs and UDP sends for it, reports what came back, and
// calls on_timer() at next_deadline(); everything else is a value drained with poll().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "tracker/announce_types.hpp"
#include "tracker/http_tracker.hpp"
#include "tracker/udp_tracker.hpp"

namespace wt::tracker {

struct schedule_config {
  std::uint64_t seed = 0;       // tier shuffles, announce keys, UDP transaction ids
  std::uint16_t port = 0;       // the listening port announced
  std::uint32_t numwant = 50;   // peers asked per announce, until set_numwant
  duration default_interval = std::chrono::minutes(30);  // a response without one
  duration min_interval_floor = std::chrono::seconds(60);  // never re-announce faster
  duration max_interval = std::chrono::hours(24);
  duration backoff_base = std::chrono::seconds(15);  // after the first failure; doubles
  duration backoff_cap = std::chrono::hours(1);
  // The host's GET had no outcome: 15 s, as bittorrent-tracker's (a tracker that never
  // answers is reported, and the next tier tried, in that time).
  duration http_timeout = std::chrono::seconds(15);
  duration stop_timeout = std::chrono::seconds(10);  // "stopped" announces after remove
  http::limits http_limits;  // max_body: 1 MiB
  udp::settings udp;         // retransmit_base 15 s (tests shorten it)
  // The host's parameters for each announce (WebTorrent's getAnnounceOpts); none if unset.
  announce_params_source extra_params{};
};

struct torrent_params {
  id20 info_hash{};
  id20 peer_id{};
  // BEP 12 tiers (a torrent's announce-list, or {{announce}}). http://, https:// and udp://
  // URLs are used; others (ws://, wss://: the WebSocket tracker's) are skipped, and so are
  // duplicates and empty tiers.
  std::vector<std::vector<std::string>> tiers;
  announce_stats stats;
};

// --- Outputs (drained in order with poll()) -----------------------------------------

// GET `url`, then call http_response (any status, with the body; the host may stop
// reading after http_limits.max_body + 1 bytes) or http_failed, with this request_id.
struct http_get {
  std::uint64_t request_id = 0;
  std::string url;
};
// Send one datagram on the UDP socket for `url` (the tracker's host:port, which the
// host resolves and connects to the first time). Report datagrams received on it with
// udp_received and socket errors with udp_failed.
struct udp_send {
  std::string url;
  byte_buffer bytes;
};
// No torrent uses the UDP tracker `url` any more: the host may close its socket.
struct udp_close {
  std::string url;
};
struct peers_found {
  std::string url;
  id20 info_hash{};
  std::vector<wire::endpoint> peers;
};
// A successful announce (after its peers_found, if any).
struct announce_result {
  std::string url;
  id20 info_hash{};
  announce_event event = announce_event::none;
  duration interval{};  // until the next regular announce
  std::optional<std::int64_t> complete;
  std::optional<std::int64_t> incomplete;
};
struct scrape_result {
  std::string url;
  scrape_entry entry;
};
enum class problem : std::uint8_t {
  failure_reason,   // the tracker refused the announce (its text in message)
  warning_message,  // the tracker answered with a warning; the announce worked
  bad_response,     // malformed or oversized response
  http_status,      // a status other than 200 without a failure reason
  timeout,          // no answer (HTTP: http_timeout; UDP: every retransmission)
  network,          // the host's request or socket failed
  tracker_error,    // UDP error action (its text in message)
  no_scrape,        // scrape asked of a tracker whose URL has no scrape form
};
// Everything but warning_message also means a back-off for that tracker.
struct tracker_warning {
  std::string url;
  std::optional<id20> info_hash;
  problem kind = problem::bad_response;
  std::string message;
};

using output = std::variant<http_get, udp_send, udp_close, peers_found, announce_result,
                            scrape_result, tracker_warning>;

// --- The scheduler ---------------------------------------------------------------------

class announcer {
 public:
  explicit announcer(schedule_config cfg = {});
  ~announcer();
  announcer(announcer&&) noexcept;
  announcer& operator=(announcer&&) noexcept;
  announcer(const announcer&) = delete;
  announcer& operator=(const announcer&) = delete;

  // Announces "started" at once. False if the info_hash is already added (or it has no
  // usable tracker URL: nothing to do).
  bool add_torrent(const torrent_params& params, time_point now);
  // Cancels its requests and announces "stopped" where "started" was acknowledged (answers
  // are not reported; given up after stop_timeout). False if unknown.
  bool remove_torrent(const id20& info_hash, time_point now);
  // The numbers sent in later announces (the caller updates them before they are due).
  bool set_stats(const id20& info_hash, const announce_stats& stats);
  // numwant of later announces (the torrent's room for peers; 0 is fine).
  bool set_numwant(const id20& info_hash, std::uint32_t numwant);
  // Announces "completed" at once, to every tier; once per tier.
  bool completed(const id20& info_hash, time_point now);
  // Re-announces now (more peers wanted), or when each tracker's min interval allows.
  bool announce_now(const id20& info_hash, time_point now);
  // Scrapes the tracker the torrent announces to (its first, before any answered).
  // False if unknown, or that tracker has no scrape URL (a no_scrape warning too).
  bool scrape(const id20& info_hash, time_point now);

  void http_response(std::uint64_t request_id, int status, byte_view body, time_point now);
  void http_failed(std::uint64_t request_id, const std::string& message, time_point now);
  // `family`: the socket's (IPv6 peers are 18-byte entries in announce responses).
  void udp_received(const std::string& url, byte_view datagram, udp::ip_family family,
                    time_point now);
  void udp_failed(const std::string& url, const std::string& message, time_point now);

  // Idempotent: announces that are due, timeouts, retransmissions.
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  std::optional<output> poll();

  // Introspection for tests and the host.
  // The torrent's tiers in their current order (after shuffles and answers).
  std::vector<std::vector<std::string>> tiers(const id20& info_hash) const;
  // When the next announce is due, of the tiers with none in flight (none if all have one).
  std::optional<time_point> next_announce(const id20& info_hash) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wt::tracker
