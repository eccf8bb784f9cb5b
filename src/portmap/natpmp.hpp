// NAT-PMP (RFC 6886), sans-I/O: asks the local gateway to forward a public port to ours, so
// that peers outside the NAT can connect to a client behind it.
//
// Every message is one UDP datagram between the host and the gateway's port 5351. The host
// owns the socket (to the default gateway, found from its routing table), sends what poll()
// returns as `send` there and hands every datagram that comes back from gateway:5351 to
// received(); the client never reads a clock or opens a socket.
//
//   portmap::natpmp_client pmp;
//   pmp.map(protocol::tcp, 6881, now);   // the public address first, then the mapping
//   pmp.on_timer(now);                   // at next_deadline(): retransmits, renewals
//   pmp.received(datagram, now);
//   while (auto out = pmp.poll()) ...    // send / public_address / mapped / failed / unmapped
//   pmp.unmap_all(now);                  // on shutdown: lifetime 0 deletes each mapping
//
// One request is in flight at a time, retransmitted after 250 ms, doubling, nine times in
// all (RFC 6886 3.1) before it fails. A mapping is renewed at half its lifetime. A gateway
// whose epoch went back (it restarted and lost its mappings, RFC 6886 3.6) gets every
// mapping again.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"

namespace wt::portmap {

inline constexpr std::uint16_t natpmp_port = 5351;

enum class protocol : std::uint8_t { udp = 1, tcp = 2 };  // the request's opcode
const char* protocol_name(protocol p) noexcept;

// --- The wire format --------------------------------------------------------------------

// A public address request (2 bytes).
byte_buffer encode_address_request();
// A mapping request (12 bytes); lifetime 0 deletes the mapping.
byte_buffer encode_map_request(protocol p, std::uint16_t internal_port, std::uint16_t suggested_external_port,
                               std::uint32_t lifetime);

struct address_response {
  std::uint16_t result = 0;
  std::uint32_t epoch = 0;  // seconds since the gateway's mapping table was last reset
  std::array<std::uint8_t, 4> address{};
};
struct map_response {
  protocol proto = protocol::tcp;
  std::uint16_t result = 0;
  std::uint32_t epoch = 0;
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;
  std::uint32_t lifetime = 0;
};
// A gateway's answer (version 0, opcode 128 + the request's); nullopt for anything else:
// another version, a request, a wrong size. Results other than 0 are decoded (the caller
// reports them).
std::optional<std::variant<address_response, map_response>> decode_response(byte_view datagram);
// RFC 6886's result codes: "unsupported version", "not authorized or refused", ...
std::string describe_result(std::uint16_t result);

// --- The client ---------------------------------------------------------------------------

struct settings {
  duration first_timeout = std::chrono::milliseconds(250);  // then doubling
  int attempts = 9;                      // sends of one request before it fails
  std::uint32_t lifetime = 7200;         // seconds asked for (RFC 6886's recommendation)
};

struct send {
  byte_buffer bytes;  // to the gateway's port 5351
};
struct public_address {
  std::array<std::uint8_t, 4> address{};
};
struct mapped {
  protocol proto = protocol::tcp;
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;  // may differ from the internal one: the gateway chooses
  std::uint32_t lifetime = 0;       // seconds, as granted
  bool renewal = false;             // a mapping already reported, renewed
};
struct failed {
  protocol proto = protocol::tcp;
  std::uint16_t internal_port = 0;
  bool address = false;        // the public address request failed (no mapping was asked)
  std::optional<std::uint16_t> result;  // the gateway's result code; none: no answer
  std::string reason;
};
struct unmapped {
  protocol proto = protocol::tcp;
  std::uint16_t internal_port = 0;
};
using output = std::variant<send, public_address, mapped, failed, unmapped>;

class natpmp_client {
 public:
  explicit natpmp_client(settings s = {});

  // Asks for a mapping of our internal_port (the same public port suggested), renewed until
  // unmap_all(). Asking for a port again changes nothing.
  void map(protocol p, std::uint16_t internal_port, time_point now);
  // Deletes every mapping granted (lifetime 0) and stops renewing. A mapping request in
  // flight is still answered, and deleted if granted; requests not sent yet are dropped.
  // `unmapped` for each as the gateway confirms.
  void unmap_all(time_point now);
  // Nothing is held on the gateway or asked of it: after unmap_all(), the host may close.
  bool settled() const noexcept { return mappings_.empty(); }

  // One datagram from the gateway's port 5351 (the host checks the source).
  void received(byte_view datagram, time_point now);
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  std::optional<output> poll();

  struct mapping {
    protocol proto = protocol::tcp;
    std::uint16_t internal_port = 0;
    std::uint16_t external_port = 0;  // 0 until granted
    std::uint32_t lifetime = 0;
    time_point renew_at{};
    bool granted = false;
  };
  const std::vector<mapping>& mappings() const noexcept { return mappings_; }
  const std::optional<std::array<std::uint8_t, 4>>& address() const noexcept { return address_; }

 private:
  enum class job_kind : std::uint8_t { address, map, unmap };
  struct job {
    job_kind kind = job_kind::address;
    protocol proto = protocol::tcp;
    std::uint16_t internal_port = 0;
  };

  void enqueue(job j, time_point now);
  void start_next(time_point now);
  void transmit(time_point now);
  void finish(time_point now);
  void fail(std::optional<std::uint16_t> result, std::string reason, time_point now);
  void check_epoch(std::uint32_t epoch, time_point now);
  mapping* find(protocol p, std::uint16_t internal_port);
  bool in_flight(const mapping& m) const;  // the request in flight is this mapping's

  settings cfg_;
  std::vector<mapping> mappings_;
  std::deque<job> queue_;
  std::optional<job> current_;
  int sent_ = 0;              // sends of the current job
  time_point deadline_{};     // of the current job's next retransmission
  std::optional<std::array<std::uint8_t, 4>> address_;
  std::optional<std::pair<std::uint32_t, time_point>> epoch_;  // the last epoch, and when
  bool stopping_ = false;
  std::deque<output> out_;
};

}  // namespace wt::portmap
