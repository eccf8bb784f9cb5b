// Local Service Discovery (BEP 14), sans-I/O: announces our torrents to the local network
// by UDP multicast and reports the peers that announce the same torrents.
//
// An announce is an HTTP-like datagram sent to 239.192.152.143:6771 (IPv4) and
// [ff15::efc0:988f]:6771 (IPv6):
//
//   BT-SEARCH * HTTP/1.1\r\n
//   Host: 239.192.152.143:6771\r\n
//   Port: <our TCP listen port>\r\n
//   Infohash: <40 hex digits>\r\n      (one or more, consecutive)
//   cookie: <opaque>\r\n               (lets a client drop its own announces)
//   \r\n
//
// The peer it names is the sender's IP address with the Port header's port.
//
// The host owns the multicast sockets (joined to both groups, loopback of multicast on, so
// that processes on one machine hear each other): it sends what poll() returns as `send`
// to the group of its family and hands every datagram it receives to received(). The
// service never reads a clock or opens a socket.
//
//   lsd::service lsd({.listen_port = 6881, .seed = 42});
//   lsd.announce(info_hash, now);      // due now (or when the rate limit allows), then every 5 min
//   lsd.on_timer(now);                 // at next_deadline(): sends what is due
//   lsd.received(from, datagram, now); // -> peers_found for torrents we announce
//   while (auto out = lsd.poll()) ...  // send / peers_found
//
// Timing (BEP 14): a torrent is announced when it starts, then every `interval`, and never
// twice within `min_interval` (also across stop and announce again). Torrents due at about
// the same time share datagrams of up to max_datagram bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "wire/wire.hpp"

namespace wt::lsd {

using id20 = std::array<std::uint8_t, 20>;

inline constexpr std::uint16_t group_port = 6771;
inline constexpr std::string_view group_v4 = "239.192.152.143";
inline constexpr std::string_view group_v6 = "ff15::efc0:988f";
// The most we send in one datagram (BEP 14: below the MTU, no fragmentation).
inline constexpr std::size_t max_send_size = 1400;

// What parse_announce() accepts; anything beyond is refused whole.
struct limits {
  std::size_t max_datagram = 2048;   // bytes
  std::size_t max_lines = 48;        // request line and header lines
  std::size_t max_info_hashes = 32;  // Infohash headers (1400 bytes hold about 25)
  std::size_t max_cookie = 64;       // bytes of the cookie's value
};

struct announce {
  std::uint16_t port = 0;            // 1..65535
  std::vector<id20> info_hashes;     // at least one, no duplicates, in order
  std::optional<std::string> cookie;
};

// Reads one datagram. Nullopt unless it is a BT-SEARCH * HTTP/1.1 request whose header
// block ends with an empty line, with one decimal Port, one or more Infohash headers of 40
// hex digits, every line "name: value", within `lim`. Header names are case-insensitive;
// unknown headers (Host among them) are ignored, and so is anything after the empty line.
std::optional<announce> parse_announce(byte_view datagram, const limits& lim = {});

// One announce for the group of that family (its Host header), naming every hash given.
byte_buffer make_announce(bool v6, std::uint16_t port, std::span<const id20> info_hashes, std::string_view cookie);

struct settings {
  std::uint16_t listen_port = 0;   // the Port we announce (our TCP listen port)
  std::uint64_t seed = 0;          // makes our cookie
  bool v6 = true;                  // also announce to the IPv6 group
  duration interval = std::chrono::minutes(5);
  duration min_interval = std::chrono::minutes(1);
  // Datagrams read per second (any sender; more are dropped unread) and the burst allowed.
  double max_received_per_second = 50;
  double received_burst = 100;
  limits parse;
};

// --- outputs (drained in order with poll()) -----------------------------------------------

// A datagram for the IPv4 group (v6 false) or the IPv6 group, port 6771.
struct send {
  bool v6 = false;
  byte_buffer bytes;
};
// A peer announced one of our torrents.
struct peers_found {
  id20 info_hash{};
  wire::endpoint peer;
};
using output = std::variant<send, peers_found>;

struct stats {
  std::uint64_t received = 0;   // datagrams handed to received()
  std::uint64_t malformed = 0;  // refused by parse_announce
  std::uint64_t own = 0;        // carrying our cookie (multicast loopback)
  std::uint64_t dropped = 0;    // over the receive rate
  std::uint64_t peers = 0;      // peers_found reported
  std::uint64_t sent = 0;       // datagrams sent
};

class service {
 public:
  explicit service(settings s);

  const std::string& cookie() const noexcept { return cookie_; }
  const stats& counters() const noexcept { return stats_; }

  // Announces the torrent from now on: due at once (on_timer(now) sends it, together with
  // the others due), unless it was announced less than min_interval ago (then when that
  // has passed), then every interval.
  void announce(const id20& info_hash, time_point now);
  // No more announces of it, and no more peers reported for it.
  void stop(const id20& info_hash);
  bool announcing(const id20& info_hash) const;

  // A datagram from `from` (any port): peers_found for each of our torrents it announces,
  // unless it carries our cookie or is not an announce.
  void received(const wire::endpoint& from, byte_view datagram, time_point now);

  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  std::optional<output> poll();

 private:
  struct entry {
    bool active = false;
    std::optional<time_point> last_sent;
    time_point due{};
  };
  void send_due(time_point now);
  void forget_stopped(time_point now);

  settings settings_;
  std::string cookie_;
  std::map<id20, entry> torrents_;
  std::deque<output> out_;
  stats stats_;
  double tokens_ = 0;
  std::optional<time_point> refilled_;
};

}  // namespace wt::lsd
