// One uTP connection (BEP 29), sans-I/O: packets in (already matched to this connection by
// the socket manager), datagrams and stream events out, time from the caller.
//
// Roles and connection ids as BEP 29 says: the initiator picks recv_id R, sends with R + 1
// and its SYN carries R; the acceptor of a SYN with id R receives on R + 1 and sends with R.
// The initiator's connection is open when a STATE acks its SYN; the acceptor's at once.
//
// Sending: the caller's bytes are cut into DATA packets of up to settings::packet_payload
// bytes; packets in flight stay within min(congestion window, the peer's wnd_size). The
// congestion window is LEDBAT's (target delay 100 ms; the one-way delay samples are the
// timestamp differences the peer echoes, less the lowest seen in the last two minutes),
// with a slow start until the first loss or the delay nears the target. A packet is lost
// when three later ones are acknowledged (duplicate ACKs or selective ACKs): it is sent
// again and the window halved (once per window). With nothing acknowledged for the
// retransmission timeout (RTT + 4 x RTT variance, at least 500 ms, doubled on each
// timeout) every packet in flight is sent again from a window of one packet; too many
// timeouts in a row end the connection.
//
// Receiving: bytes are handed out in order; packets ahead of a gap wait (up to the
// receive window) and are reported in a selective ACK; duplicates are acknowledged again.
// A packet's ACK waits for the next flush() (a DATA packet sent meanwhile carries it): a
// host that feeds a batch of datagrams before flushing sends one STATE per batch, not one per
// packet (libtorrent acknowledges once its socket is drained, likewise).
// A FIN ends the stream once everything before it arrived; a RESET ends it at once.
// close() sends a FIN after every queued byte and finishes once it is acknowledged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "utp/packet.hpp"

namespace wt::utp {

struct settings {
  // Payload bytes per DATA packet: a datagram of about 1,400 bytes with the header.
  std::size_t packet_payload = 1380;
  // Bytes of payload the connection buffers out of order (advertised as wnd_size).
  std::uint32_t receive_window = 1u << 20;
  // Packets ahead of the next expected one that are kept (beyond: dropped, sent again).
  std::uint16_t max_reorder_packets = 2048;
  std::chrono::microseconds target_delay{100'000};
  // LEDBAT's gain: the window grows by at most this many bytes per round trip.
  std::uint32_t max_window_increase_per_rtt = 3000;
  std::uint32_t max_window = 4u << 20;
  duration initial_timeout = std::chrono::seconds(1);
  duration min_timeout = std::chrono::milliseconds(500);
  duration max_timeout = std::chrono::seconds(30);
  // Timeouts in a row before the connection fails: a SYN (sent at 0 s and 1 s, given up at
  // 3 s: a peer without uTP is soon dialled over TCP instead), data.
  int syn_timeouts = 2;
  int data_timeouts = 7;
  // A STATE after this long without sending anything (keeps NAT mappings).
  duration keepalive = std::chrono::seconds(29);
};

struct event {
  enum class kind : std::uint8_t { connected, data, sent, closed };
  kind what = kind::data;
  byte_buffer bytes;      // data: in order
  std::size_t sent = 0;   // sent: bytes of send() acknowledged by the peer
  std::string reason;     // closed
  bool error = false;     // closed: reset, timed out (not a FIN)
};

class connection {
 public:
  enum class state : std::uint8_t { syn_sent, connected, closing, closed };

  // We connect: sends the SYN (its seq_nr is first_seq).
  static connection outgoing(const settings& s, std::uint16_t recv_id, std::uint16_t first_seq, time_point now);
  // A peer's SYN: we answer with a STATE (our first seq_nr is first_seq).
  static connection incoming(const settings& s, const packet& syn, std::uint16_t first_seq, time_point now);

  // Also sends what acknowledgements let out; the ACK itself waits for flush().
  void received(const packet& p, time_point now);
  // Queues bytes; flush() packs and sends what the windows allow, then the ACK still owed.
  void send(byte_view data);
  // A FIN after every queued byte; no more events but `closed` once it is acknowledged.
  void close(time_point now);
  void flush(time_point now);
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;

  std::optional<byte_buffer> take_datagram();
  std::optional<event> take_event();

  state status() const noexcept { return state_; }
  std::uint16_t recv_id() const noexcept { return recv_id_; }
  std::uint16_t send_id() const noexcept { return send_id_; }
  // Introspection (tests).
  std::uint32_t window() const noexcept { return static_cast<std::uint32_t>(max_window_); }
  std::size_t in_flight_bytes() const noexcept { return in_flight_; }
  std::size_t queued_bytes() const noexcept { return send_buffer_.size() - send_offset_; }
  duration timeout() const noexcept { return rto_; }

 private:
  struct sent_packet {
    std::uint16_t seq = 0;
    packet_type type = packet_type::data;
    byte_buffer payload;
    time_point sent_at{};
    int transmissions = 0;
    bool in_flight = false;  // counted in in_flight_ (sent, not acked, not deemed lost)
    bool acked = false;      // by a selective ACK
    bool resent_fast = false;
  };

  explicit connection(const settings& s) : settings_(s) {}
  void transmit(sent_packet& p, time_point now);
  // flush() but the STATE: lost and new packets as the windows allow, a FIN when due.
  void send_packets(time_point now);
  void send_state(time_point now);
  header make_header(packet_type t, std::uint16_t seq, time_point now) const;
  void ack_up_to(std::uint16_t ack_nr, time_point now, std::size_t& acked_bytes, bool& fin_acked);
  void apply_sack(const header& h, time_point now, std::size_t& acked_bytes);
  void on_loss(std::uint16_t seq);
  void ledbat(std::uint32_t delay_sample, std::size_t acked_bytes, time_point now);
  void take_payload(const packet& p, time_point now);
  void finish(std::string reason, bool error);
  std::uint32_t advertised_window() const noexcept;

  settings settings_;
  state state_ = state::syn_sent;
  bool initiator_ = false;
  std::uint16_t recv_id_ = 0;
  std::uint16_t send_id_ = 0;
  std::uint16_t seq_nr_ = 0;  // the next packet's
  std::uint16_t ack_nr_ = 0;  // the last packet received in order

  // Sending.
  byte_buffer send_buffer_;  // from send_offset_ on: not yet in a packet
  std::size_t send_offset_ = 0;
  std::deque<sent_packet> unacked_;  // in seq order, from the oldest not acknowledged
  std::size_t in_flight_ = 0;        // bytes (with headers) of packets in flight
  double max_window_ = 0;
  std::uint32_t peer_window_ = 1u << 20;
  bool fin_queued_ = false;  // close() was called
  bool fin_sent_ = false;
  bool slow_start_ = true;
  std::uint16_t loss_seq_ = 0;  // no new halving for losses before this seq
  std::uint16_t last_ack_ = 0;
  int duplicate_acks_ = 0;

  // Timing.
  duration rtt_{};
  duration rtt_var_{};
  bool rtt_known_ = false;
  duration rto_{};
  int timeouts_ = 0;
  std::optional<time_point> timeout_at_;
  time_point last_sent_{};
  std::uint32_t reply_micro_ = 0;
  // Lowest delay sample of this and the previous minute (LEDBAT's base delay).
  std::uint32_t base_now_ = UINT32_MAX, base_before_ = UINT32_MAX;
  time_point base_minute_{};

  // Receiving.
  std::map<std::uint16_t, byte_buffer> reorder_;  // by seq_nr, ahead of ack_nr_ + 1
  std::size_t reorder_bytes_ = 0;
  std::optional<std::uint16_t> fin_seq_;
  bool ack_needed_ = false;

  std::deque<byte_buffer> datagrams_;
  std::deque<event> events_;
};

}  // namespace wt::utp
