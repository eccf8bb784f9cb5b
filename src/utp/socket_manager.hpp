// The uTP side of one UDP socket: datagrams in and out, connections demultiplexed by the
// sender's address and the connection id (BEP 29), byte streams out as events. Sans-I/O
// like the rest of the engine: `now` comes from the caller, next_deadline() says when to
// call on_timer().
//
// A SYN from an address and id that is not known yet opens a connection (an `accepted`
// event), while accepting is on and below max_connections. Any other packet that matches
// no connection is answered with a RESET (unless it is one). Datagrams that are not uTP
// are left for the caller (received() returns false: a DHT or tracker message on a shared
// socket).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <variant>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "utp/connection.hpp"
#include "wire/wire.hpp"

namespace wt::utp {

struct manager_settings {
  settings connection;
  std::size_t max_connections = 500;
  bool accept = true;
  std::uint64_t seed = 1;
};

// A connection's handle (never reused).
using socket_id = std::uint32_t;

namespace out {
struct datagram { wire::endpoint to; byte_buffer data; };
struct accepted { socket_id id = 0; wire::endpoint from; };
struct connected { socket_id id = 0; };
struct data { socket_id id = 0; byte_buffer bytes; };
// Bytes of send() that the peer acknowledged.
struct sent { socket_id id = 0; std::size_t bytes = 0; };
// The connection ended (not reported after close()); error: reset or timed out, not a FIN.
struct closed { socket_id id = 0; std::string reason; bool error = false; bool was_connected = false; };
}  // namespace out
using output = std::variant<out::datagram, out::accepted, out::connected, out::data, out::sent, out::closed>;

class socket_manager {
 public:
  explicit socket_manager(manager_settings s);

  // Opens a connection (SYN now); `connected` or `closed` follows.
  socket_id connect(const wire::endpoint& to, time_point now);
  // Queues bytes; they go out on flush() (or any other call with a time).
  void send(socket_id id, byte_view data);
  // Ends it with a FIN after what is queued; nothing more is reported for it.
  void close(socket_id id, time_point now);
  // Sends what the connections queued.
  void flush(time_point now);
  // False when the datagram is not a uTP packet.
  bool received(const wire::endpoint& from, byte_view datagram, time_point now);
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  std::optional<output> poll();

  void set_accept(bool on) noexcept { settings_.accept = on; }
  std::size_t size() const noexcept { return sockets_.size(); }
  const connection* find(socket_id id) const;

 private:
  struct entry {
    wire::endpoint remote;
    connection conn;
    bool user_closed = false;
    bool was_connected = false;
  };
  using key = std::tuple<std::array<std::uint8_t, 16>, bool, std::uint16_t, std::uint16_t>;
  static key key_of(const wire::endpoint& e, std::uint16_t recv_id) { return {e.address, e.v6, e.port, recv_id}; }
  void drain(socket_id id);
  void reset(const wire::endpoint& to, const packet& p, time_point now);

  manager_settings settings_;
  rng rng_;
  std::map<socket_id, entry> sockets_;
  std::map<key, socket_id> by_key_;
  std::deque<output> out_;
  socket_id next_id_ = 1;
};

}  // namespace wt::utp
