// UDP tracker protocol (BEP 15): the packet codec, and one connection's state machine
// (connect, connection id lifetime, transaction ids, retransmission), sans-I/O.
//
// The host keeps one UDP socket per tracker URL, connected to the tracker's address; it
// sends the datagrams this machine emits and feeds back every datagram received.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/random.hpp"
#include "tracker/announce_types.hpp"

namespace wt::tracker::udp {

// --- Packets ----------------------------------------------------------------------

inline constexpr std::uint64_t protocol_id = 0x41727101980;  // the connect request's magic
inline constexpr std::size_t max_scrape_hashes = 74;  // what fits a 1500-byte datagram
inline constexpr std::int64_t unknown_left = std::int64_t{1} << 40;  // `left` sent when unknown
inline constexpr std::size_t max_datagram = 65536;

enum class action : std::uint32_t { connect = 0, announce = 1, scrape = 2, error = 3 };
enum class ip_family : std::uint8_t { v4, v6 };

// 16 bytes: protocol_id, action 0, transaction id.
byte_buffer connect_request(std::uint32_t transaction_id);
// 98 bytes; the IP address field is 0 (the sender's), num_want -1 when absent.
byte_buffer announce_request_packet(std::uint64_t connection_id, std::uint32_t transaction_id,
                                    const announce_request& request);
// 16 + 20 * n bytes; at most max_scrape_hashes hashes are encoded.
byte_buffer scrape_request_packet(std::uint64_t connection_id, std::uint32_t transaction_id,
                                  std::span<const id20> info_hashes);

struct connect_response {
  std::uint64_t connection_id = 0;
};
struct announce_reply {
  announce_response response;  // interval, complete (seeders), incomplete (leechers), peers
};
// One entry per hash asked, in the order asked; info_hash left zero (the caller knows them).
struct scrape_reply {
  std::vector<scrape_entry> entries;
};
struct error_reply {
  std::string message;
};
struct response {
  std::uint32_t transaction_id = 0;
  std::variant<connect_response, announce_reply, scrape_reply, error_reply> body;
};

// The transaction id of any datagram long enough to have one (8 bytes).
std::optional<std::uint32_t> transaction_of(byte_view datagram);
// Parses a tracker's datagram. Peers are 6-byte (v4) or 18-byte (v6) entries as the
// datagram came over IPv4 or IPv6. Errors: tracker_message_too_large (above
// max_datagram), tracker_bad_field (too short for its action, unknown action, a scrape
// count above 2^31 - 1; an announce's reads as absent), wire_bad_compact_peers. Peers beyond the first max_peers are ignored.
result<response> parse_response(byte_view datagram, ip_family family, std::size_t max_peers,
                                 std::size_t max_text = 256);

// --- One tracker's connection ----------------------------------------------------------

struct settings {
  duration retransmit_base = std::chrono::seconds(15);  // BEP 15: 15 * 2^n
  unsigned max_retransmit_exponent = 8;  // n goes up to this; one more timeout fails
  duration connection_id_lifetime = std::chrono::minutes(1);
  std::size_t max_peers = 10000;  // kept of an announce reply (the rest ignored)
  std::size_t max_text = 256;
};

using request_id = std::uint64_t;

enum class failure_kind : std::uint8_t {
  timeout,       // no answer after every retransmission
  socket_error,  // the host reported one
  tracker_error, // the tracker's error action
  bad_response,  // a malformed datagram carrying this request's transaction id
};

// Outputs, drained in order with poll().
struct send_datagram {
  byte_buffer bytes;
};
struct announce_done {
  request_id id = 0;
  announce_response response;
};
struct scrape_done {
  request_id id = 0;
  std::vector<scrape_entry> entries;  // with their info_hash filled in
};
struct request_failed {
  request_id id = 0;
  failure_kind kind = failure_kind::timeout;
  std::string message;
};
using output = std::variant<send_datagram, announce_done, scrape_done, request_failed>;

class connection {
 public:
  // `random` draws transaction ids; it must outlive the connection.
  connection(const settings& cfg, rng& random);

  // Queues an announce or scrape: sent at once while a connection id is valid, else
  // after a connect exchange. Ids are unique for this connection.
  request_id announce(const announce_request& request, time_point now);
  request_id scrape(std::span<const id20> info_hashes, time_point now);
  // Forgets a request: no output for it any more. False if unknown.
  bool cancel(request_id id);

  // A datagram from the tracker. One whose transaction id is not in flight is ignored
  // (counted in ignored_datagrams()); a malformed one for a request fails that request.
  void received(byte_view datagram, ip_family family, time_point now);
  // The socket failed: every request fails with socket_error and the connection id is
  // forgotten.
  void socket_failed(const std::string& message, time_point now);

  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  std::optional<output> poll();

  bool idle() const { return requests_.empty(); }
  bool has_connection_id(time_point now) const;
  std::size_t ignored_datagrams() const { return ignored_; }

 private:
  struct request {
    std::variant<announce_request, std::vector<id20>> what;
    bool sent = false;               // false: waits for a connection id
    std::uint32_t transaction_id = 0;
    unsigned attempts = 0;           // n of BEP 15: timeouts so far
    time_point deadline{};
  };
  struct connect_attempt {
    std::uint32_t transaction_id = 0;
    unsigned attempts = 0;
    time_point deadline{};
  };

  std::uint32_t new_transaction_id();
  duration timeout_after(unsigned attempts) const;
  void send(request_id id, request& r, time_point now);
  void send_waiting(time_point now);
  void start_connect(time_point now);
  void fail(request_id id, failure_kind kind, std::string message);

  settings cfg_;
  rng* random_;
  request_id next_id_ = 1;
  std::map<request_id, request> requests_;
  std::optional<connect_attempt> connecting_;
  std::optional<std::uint64_t> connection_id_;
  time_point connection_id_expires_{};
  std::deque<output> outputs_;
  std::size_t ignored_ = 0;
};

}  // namespace wt::tracker::udp
