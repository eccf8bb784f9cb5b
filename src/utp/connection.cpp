#include "utp/connection.hpp"

#include <algorithm>
#include <utility>

namespace wt::utp {

namespace {

std::uint32_t micros32(time_point t) noexcept {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.time_since_epoch().count()));
}
// a is below b on the wrapping 32-bit timestamp circle.
bool ts_less(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b) < 0; }

}  // namespace

connection connection::outgoing(const settings& s, std::uint16_t recv_id, std::uint16_t first_seq, time_point now) {
  connection c(s);
  c.initiator_ = true;
  c.recv_id_ = recv_id;
  c.send_id_ = static_cast<std::uint16_t>(recv_id + 1);
  c.seq_nr_ = static_cast<std::uint16_t>(first_seq + 1);
  c.rto_ = s.initial_timeout;
  c.max_window_ = static_cast<double>(header_size + s.packet_payload);
  c.base_minute_ = now;
  c.unacked_.push_back(sent_packet{first_seq, packet_type::syn, {}, {}, 0, false, false, false});
  c.transmit(c.unacked_.back(), now);
  return c;
}

connection connection::incoming(const settings& s, const packet& syn, std::uint16_t first_seq, time_point now) {
  connection c(s);
  c.state_ = state::connected;
  c.send_id_ = syn.h.connection_id;
  c.recv_id_ = static_cast<std::uint16_t>(syn.h.connection_id + 1);
  c.seq_nr_ = first_seq;
  c.ack_nr_ = syn.h.seq_nr;
  c.last_ack_ = static_cast<std::uint16_t>(first_seq - 1);
  c.loss_seq_ = first_seq;
  c.rto_ = s.initial_timeout;
  c.max_window_ = static_cast<double>(header_size + s.packet_payload);
  c.base_minute_ = now;
  c.peer_window_ = syn.h.wnd_size;
  if (syn.h.timestamp_us != 0) c.reply_micro_ = micros32(now) - syn.h.timestamp_us;
  c.send_state(now);
  return c;
}

header connection::make_header(packet_type t, std::uint16_t seq, time_point now) const {
  header h;
  h.type = t;
  h.connection_id = t == packet_type::syn ? recv_id_ : send_id_;
  h.timestamp_us = micros32(now);
  h.timestamp_difference_us = reply_micro_;
  h.wnd_size = advertised_window();
  h.seq_nr = seq;
  h.ack_nr = t == packet_type::syn ? 0 : ack_nr_;
  if (!reorder_.empty() && t != packet_type::syn) {
    // Bit k: packet ack_nr + 2 + k is here.
    const auto base = static_cast<std::uint16_t>(ack_nr_ + 2);
    std::size_t highest = 0;
    for (const auto& entry : reorder_) {
      const auto k = static_cast<std::uint16_t>(entry.first - base);
      if (k < max_sack_bytes * 8) highest = std::max<std::size_t>(highest, k);
    }
    const std::size_t bytes = (highest / 32 + 1) * 4;
    h.sack.assign(bytes, 0);
    for (const auto& entry : reorder_) {
      const auto k = static_cast<std::uint16_t>(entry.first - base);
      if (k < bytes * 8) h.sack[k / 8] = static_cast<std::uint8_t>(h.sack[k / 8] | (1u << (k % 8)));
    }
  }
  return h;
}

std::uint32_t connection::advertised_window() const noexcept {
  return reorder_bytes_ >= settings_.receive_window
             ? 0
             : static_cast<std::uint32_t>(settings_.receive_window - reorder_bytes_);
}

void connection::transmit(sent_packet& p, time_point now) {
  datagrams_.push_back(encode(make_header(p.type, p.seq, now), p.payload));
  p.sent_at = now;
  ++p.transmissions;
  if (!p.in_flight) {
    p.in_flight = true;
    in_flight_ += header_size + p.payload.size();
  }
  last_sent_ = now;
  ack_needed_ = false;
  if (!timeout_at_) timeout_at_ = now + rto_;
}

void connection::send_state(time_point now) {
  datagrams_.push_back(encode(make_header(packet_type::state, seq_nr_, now)));
  last_sent_ = now;
  ack_needed_ = false;
}

void connection::send(byte_view data) {
  if (state_ == state::closed || fin_queued_) return;
  if (send_offset_ > 0 && send_offset_ >= send_buffer_.size() / 2) {  // drop what went out, now and then
    send_buffer_.erase(send_buffer_.begin(), send_buffer_.begin() + static_cast<std::ptrdiff_t>(send_offset_));
    send_offset_ = 0;
  }
  send_buffer_.insert(send_buffer_.end(), data.begin(), data.end());
}

void connection::close(time_point now) {
  if (state_ == state::closed) return;
  fin_queued_ = true;  // (before the connection opens: once it does)
  if (state_ == state::syn_sent) return;
  state_ = state::closing;
  flush(now);
}

void connection::flush(time_point now) {
  if (state_ == state::closed) return;
  send_packets(now);
  if (state_ != state::syn_sent && ack_needed_) send_state(now);
}

void connection::send_packets(time_point now) {
  if (state_ == state::syn_sent) {
    if (!unacked_.empty() && !unacked_.front().in_flight) transmit(unacked_.front(), now);
    return;
  }
  const double window = std::min(max_window_, static_cast<double>(peer_window_));
  const auto fits = [&](std::size_t payload) {
    return in_flight_ == 0 || static_cast<double>(in_flight_ + header_size + payload) <= window;
  };
  // Lost packets first, in order.
  for (auto& p : unacked_) {
    if (p.acked || p.in_flight) continue;
    if (!fits(p.payload.size())) return;
    transmit(p, now);
  }
  // Then new ones. (At most 2^14 packets in flight: far from the 2^15 seq_nr half-circle.)
  while (send_offset_ < send_buffer_.size() && unacked_.size() < (1u << 14)) {
    const std::size_t n = std::min(send_buffer_.size() - send_offset_, settings_.packet_payload);
    if (!fits(n)) break;
    const auto from = send_buffer_.begin() + static_cast<std::ptrdiff_t>(send_offset_);
    sent_packet p{seq_nr_++, packet_type::data, byte_buffer(from, from + static_cast<std::ptrdiff_t>(n)), {}, 0, false, false, false};
    send_offset_ += n;
    unacked_.push_back(std::move(p));
    transmit(unacked_.back(), now);
  }
  if (send_offset_ == send_buffer_.size()) {
    send_buffer_.clear();
    send_offset_ = 0;
  }
  if (fin_queued_ && !fin_sent_ && send_buffer_.empty()) {
    fin_sent_ = true;
    unacked_.push_back(sent_packet{seq_nr_++, packet_type::fin, {}, {}, 0, false, false, false});
    transmit(unacked_.back(), now);
  }
}

void connection::received(const packet& p, time_point now) {
  if (state_ == state::closed) return;
  if (p.h.timestamp_us != 0) reply_micro_ = micros32(now) - p.h.timestamp_us;
  peer_window_ = p.h.wnd_size;
  if (p.h.type == packet_type::reset) {
    finish(state_ == state::syn_sent ? "uTP connection refused" : "uTP connection reset", true);
    return;
  }
  if (p.h.type == packet_type::syn) {  // our STATE was lost: the initiator sends its SYN again
    if (!initiator_ && p.h.seq_nr == ack_nr_) send_state(now);
    return;
  }
  if (state_ == state::syn_sent) {
    if (p.h.type != packet_type::state || unacked_.empty() || p.h.ack_nr != unacked_.front().seq) return;
    ack_nr_ = static_cast<std::uint16_t>(p.h.seq_nr - 1);
    last_ack_ = static_cast<std::uint16_t>(unacked_.front().seq - 1);
    loss_seq_ = unacked_.front().seq;
    state_ = fin_queued_ ? state::closing : state::connected;
    timeouts_ = 0;
    events_.push_back(event{event::kind::connected, {}, 0, {}, false});
  }

  std::size_t acked_bytes = 0;
  bool acked_something = false;
  const std::size_t before = unacked_.size();
  bool fin_acked = false;
  ack_up_to(p.h.ack_nr, now, acked_bytes, fin_acked);
  acked_something = unacked_.size() != before;
  if (!p.h.sack.empty()) {
    const std::size_t b = acked_bytes;
    apply_sack(p.h, now, acked_bytes);
    acked_something = acked_something || acked_bytes != b;
  }
  if (p.h.type == packet_type::state && p.h.ack_nr == last_ack_ && !acked_something && !unacked_.empty()) {
    // A duplicate ACK: three of them and the packet after it is lost.
    if (++duplicate_acks_ == 3) {
      auto& lost = unacked_.front();
      if (!lost.acked && lost.in_flight && !lost.resent_fast) {
        lost.in_flight = false;
        lost.resent_fast = true;
        in_flight_ -= header_size + lost.payload.size();
        on_loss(lost.seq);
      }
    }
  } else if (acked_something) {
    duplicate_acks_ = 0;
  }
  if (seq_less(last_ack_, p.h.ack_nr) && seq_less(p.h.ack_nr, seq_nr_)) last_ack_ = p.h.ack_nr;
  if (acked_something) {
    ledbat(p.h.timestamp_difference_us, acked_bytes, now);
    timeouts_ = 0;
    timeout_at_.reset();
    if (!unacked_.empty()) timeout_at_ = now + rto_;
    if (acked_bytes > 0 && state_ != state::closing)
      events_.push_back(event{event::kind::sent, {}, acked_bytes, {}, false});
  }
  if (fin_acked) {
    finish("closed", false);
    return;
  }
  if (p.h.type == packet_type::data || p.h.type == packet_type::fin) take_payload(p, now);
  if (state_ == state::closed) return;
  send_packets(now);
}

void connection::ack_up_to(std::uint16_t ack_nr, time_point now, std::size_t& acked_bytes, bool& fin_acked) {
  if (!seq_less(ack_nr, seq_nr_)) return;  // acks a packet we never sent
  while (!unacked_.empty() && !seq_less(ack_nr, unacked_.front().seq)) {
    sent_packet& p = unacked_.front();
    if (p.in_flight) in_flight_ -= header_size + p.payload.size();
    if (!p.acked) acked_bytes += p.payload.size();
    if (p.transmissions == 1) {  // Karn: no RTT sample from a packet sent twice
      const duration sample = now - p.sent_at;
      if (!rtt_known_) {
        rtt_ = sample;
        rtt_var_ = sample / 2;
        rtt_known_ = true;
      } else {
        const duration delta = rtt_ - sample;
        rtt_var_ += ((delta < duration::zero() ? -delta : delta) - rtt_var_) / 4;
        rtt_ += (sample - rtt_) / 8;
      }
      rto_ = std::clamp(rtt_ + 4 * rtt_var_, settings_.min_timeout, settings_.max_timeout);
    }
    if (p.type == packet_type::fin) fin_acked = true;
    unacked_.pop_front();
  }
}

void connection::apply_sack(const header& h, time_point now, std::size_t& acked_bytes) {
  (void)now;
  if (unacked_.empty()) return;
  const auto base = static_cast<std::uint16_t>(h.ack_nr + 2);
  const std::uint16_t front = unacked_.front().seq;
  for (std::size_t k = 0; k < h.sack.size() * 8; ++k) {
    if (!(h.sack[k / 8] & (1u << (k % 8)))) continue;
    const auto seq = static_cast<std::uint16_t>(base + k);
    const auto index = static_cast<std::uint16_t>(seq - front);
    if (index >= unacked_.size()) continue;
    sent_packet& p = unacked_[index];
    if (p.acked) continue;
    p.acked = true;
    acked_bytes += p.payload.size();
    if (p.in_flight) {
      p.in_flight = false;
      in_flight_ -= header_size + p.payload.size();
    }
  }
  // A packet with three or more acknowledged after it is lost.
  int after = 0;
  for (std::size_t i = unacked_.size(); i-- > 0;) {
    sent_packet& p = unacked_[i];
    if (p.acked) {
      ++after;
      continue;
    }
    if (after >= 3 && p.in_flight && !p.resent_fast) {
      p.in_flight = false;
      p.resent_fast = true;
      in_flight_ -= header_size + p.payload.size();
      on_loss(p.seq);
    }
  }
}

void connection::on_loss(std::uint16_t seq) {
  slow_start_ = false;
  if (seq_less(seq, loss_seq_)) return;  // this window was halved already
  const double floor = static_cast<double>(header_size + settings_.packet_payload);
  max_window_ = std::max(max_window_ / 2, floor);
  loss_seq_ = seq_nr_;
}

void connection::ledbat(std::uint32_t sample, std::size_t acked_bytes, time_point now) {
  const double target = static_cast<double>(settings_.target_delay.count());
  double our_delay = 0;
  if (sample != 0) {
    if (now - base_minute_ >= std::chrono::minutes(1)) {
      base_before_ = base_now_;
      base_now_ = UINT32_MAX;
      base_minute_ = now;
    }
    if (base_now_ == UINT32_MAX || ts_less(sample, base_now_)) base_now_ = sample;
    std::uint32_t base = base_now_;
    if (base_before_ != UINT32_MAX && ts_less(base_before_, base)) base = base_before_;
    const auto d = static_cast<std::int32_t>(sample - base);
    our_delay = d > 0 ? d : 0;
  }
  const double acked = static_cast<double>(acked_bytes);
  if (slow_start_ && our_delay < target / 2) {
    max_window_ += acked;
  } else {
    slow_start_ = false;
    const double off_target = (target - our_delay) / target;  // 1 with no queueing, < 0 above target
    max_window_ += settings_.max_window_increase_per_rtt * off_target * acked / max_window_;
  }
  max_window_ = std::clamp(max_window_, static_cast<double>(header_size + settings_.packet_payload),
                           static_cast<double>(settings_.max_window));
}

void connection::take_payload(const packet& p, time_point now) {
  const std::uint16_t seq = p.h.seq_nr;
  ack_needed_ = true;
  if (state_ == state::syn_sent) return;
  if (p.h.type == packet_type::fin && !fin_seq_) fin_seq_ = seq;
  const auto deliver = [&](byte_view bytes) {
    if (bytes.empty() || state_ == state::closing) return;
    if (!events_.empty() && events_.back().what == event::kind::data)
      events_.back().bytes.insert(events_.back().bytes.end(), bytes.begin(), bytes.end());
    else
      events_.push_back(event{event::kind::data, byte_buffer(bytes.begin(), bytes.end()), 0, {}, false});
  };
  if (fin_seq_ && !seq_less(ack_nr_, *fin_seq_)) return;  // past the end
  if (seq == static_cast<std::uint16_t>(ack_nr_ + 1)) {
    deliver(p.payload);
    ack_nr_ = seq;
    for (auto it = reorder_.find(static_cast<std::uint16_t>(ack_nr_ + 1)); it != reorder_.end();
         it = reorder_.find(static_cast<std::uint16_t>(ack_nr_ + 1))) {
      deliver(it->second);
      reorder_bytes_ -= it->second.size();
      ack_nr_ = it->first;
      reorder_.erase(it);
    }
  } else if (seq_less(ack_nr_, seq)) {
    const auto ahead = static_cast<std::uint16_t>(seq - ack_nr_);
    if (ahead <= settings_.max_reorder_packets && !reorder_.contains(seq) &&
        reorder_bytes_ + p.payload.size() <= settings_.receive_window) {
      reorder_.emplace(seq, byte_buffer(p.payload.begin(), p.payload.end()));
      reorder_bytes_ += p.payload.size();
    }
  }
  // (An old packet: it is only acknowledged again.)
  if (fin_seq_ && ack_nr_ == *fin_seq_) {  // everything up to the FIN arrived
    send_state(now);
    reorder_.clear();
    reorder_bytes_ = 0;
    finish("closed by the peer", false);
  }
}

void connection::on_timer(time_point now) {
  if (state_ == state::closed) return;
  if (timeout_at_ && now >= *timeout_at_) {
    timeout_at_.reset();
    const int limit = state_ == state::syn_sent ? settings_.syn_timeouts : settings_.data_timeouts;
    if (++timeouts_ >= limit) {
      finish(state_ == state::syn_sent ? "uTP connect timed out" : "uTP connection timed out", true);
      return;
    }
    rto_ = std::min(rto_ * 2, settings_.max_timeout);
    if (state_ != state::syn_sent) {
      max_window_ = static_cast<double>(header_size + settings_.packet_payload);
      slow_start_ = false;
    }
    for (auto& p : unacked_) {  // all lost: sent again as the window allows
      if (!p.in_flight) continue;
      p.in_flight = false;
      in_flight_ -= header_size + p.payload.size();
    }
    flush(now);
  }
  if ((state_ == state::connected || state_ == state::closing) && now - last_sent_ >= settings_.keepalive)
    send_state(now);
}

std::optional<time_point> connection::next_deadline() const {
  if (state_ == state::closed) return std::nullopt;
  std::optional<time_point> d = timeout_at_;
  if (state_ != state::syn_sent) {
    const time_point k = last_sent_ + settings_.keepalive;
    if (!d || k < *d) d = k;
  }
  return d;
}

void connection::finish(std::string reason, bool error) {
  state_ = state::closed;
  timeout_at_.reset();
  events_.push_back(event{event::kind::closed, {}, 0, std::move(reason), error});
}

std::optional<byte_buffer> connection::take_datagram() {
  if (datagrams_.empty()) return std::nullopt;
  byte_buffer d = std::move(datagrams_.front());
  datagrams_.pop_front();
  return d;
}

std::optional<event> connection::take_event() {
  if (events_.empty()) return std::nullopt;
  event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

}  // namespace wt::utp
