#include "utp/socket_manager.hpp"

#include <utility>

namespace wt::utp {

socket_manager::socket_manager(manager_settings s) : settings_(std::move(s)), rng_(settings_.seed ^ 0x7574705f736f636bu) {}

socket_id socket_manager::connect(const wire::endpoint& to, time_point now) {
  std::uint16_t recv_id = 0;
  do {  // an id free for this address, both ours (R) and the one we send with (R + 1)
    recv_id = static_cast<std::uint16_t>(rng_.next());
  } while (by_key_.contains(key_of(to, recv_id)) || by_key_.contains(key_of(to, static_cast<std::uint16_t>(recv_id + 1))));
  const socket_id id = next_id_++;
  sockets_.emplace(
      id, entry{to, connection::outgoing(settings_.connection, recv_id, static_cast<std::uint16_t>(rng_.next()), now)});
  by_key_[key_of(to, recv_id)] = id;
  drain(id);
  return id;
}

void socket_manager::send(socket_id id, byte_view data) {
  if (auto it = sockets_.find(id); it != sockets_.end() && !it->second.user_closed) it->second.conn.send(data);
}

void socket_manager::close(socket_id id, time_point now) {
  auto it = sockets_.find(id);
  if (it == sockets_.end() || it->second.user_closed) return;
  it->second.user_closed = true;
  it->second.conn.close(now);
  drain(id);
}

void socket_manager::flush(time_point now) {
  for (auto it = sockets_.begin(); it != sockets_.end();) {
    const socket_id id = (it++)->first;  // drain() may erase it
    sockets_.at(id).conn.flush(now);
    drain(id);
  }
}

bool socket_manager::received(const wire::endpoint& from, byte_view datagram, time_point now) {
  const parse_result r = parse(datagram);
  if (!r.value) return false;
  const packet& p = *r.value;
  if (auto k = by_key_.find(key_of(from, p.h.connection_id)); k != by_key_.end() && p.h.type != packet_type::syn) {
    sockets_.at(k->second).conn.received(p, now);
    drain(k->second);
    return true;
  }
  if (p.h.type == packet_type::syn) {
    const auto recv_id = static_cast<std::uint16_t>(p.h.connection_id + 1);
    if (auto k = by_key_.find(key_of(from, recv_id)); k != by_key_.end()) {  // sent again
      sockets_.at(k->second).conn.received(p, now);
      drain(k->second);
      return true;
    }
    if (!settings_.accept || sockets_.size() >= settings_.max_connections) {
      reset(from, p, now);
      return true;
    }
    const socket_id id = next_id_++;
    sockets_.emplace(id, entry{from, connection::incoming(settings_.connection, p, static_cast<std::uint16_t>(rng_.next()), now)});
    by_key_[key_of(from, recv_id)] = id;
    sockets_.at(id).was_connected = true;
    out_.push_back(out::accepted{id, from});
    drain(id);
    return true;
  }
  if (p.h.type == packet_type::reset) {  // peers differ on which id a RESET carries: ours or theirs
    for (const int delta : {-1, 1}) {
      const auto recv_id = static_cast<std::uint16_t>(p.h.connection_id + delta);
      if (auto k = by_key_.find(key_of(from, recv_id));
          k != by_key_.end() && sockets_.at(k->second).conn.send_id() == p.h.connection_id) {
        sockets_.at(k->second).conn.received(p, now);
        drain(k->second);
        break;
      }
    }
    return true;
  }
  reset(from, p, now);
  return true;
}

void socket_manager::reset(const wire::endpoint& to, const packet& p, time_point now) {
  header h;
  h.type = packet_type::reset;
  // To a SYN: the id it sent with; to anything else: the id it expects us to send with,
  // which is the one it sent minus one for an initiator and plus one for an acceptor: use
  // the id it sent, as libutp and libtorrent do (they match a RESET on their receive id).
  h.connection_id = p.h.connection_id;
  h.timestamp_us = static_cast<std::uint32_t>(static_cast<std::uint64_t>(now.time_since_epoch().count()));
  h.seq_nr = static_cast<std::uint16_t>(rng_.next());
  h.ack_nr = p.h.seq_nr;
  out_.push_back(out::datagram{to, encode(h)});
}

void socket_manager::on_timer(time_point now) {
  for (auto it = sockets_.begin(); it != sockets_.end();) {
    const socket_id id = (it++)->first;
    sockets_.at(id).conn.on_timer(now);
    drain(id);
  }
}

std::optional<time_point> socket_manager::next_deadline() const {
  std::optional<time_point> d;
  for (const auto& [id, e] : sockets_)
    if (auto t = e.conn.next_deadline(); t && (!d || *t < *d)) d = t;
  return d;
}

void socket_manager::drain(socket_id id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  entry& e = it->second;
  while (auto d = e.conn.take_datagram()) out_.push_back(out::datagram{e.remote, std::move(*d)});
  while (auto ev = e.conn.take_event()) {
    if (e.user_closed) continue;
    switch (ev->what) {
      case event::kind::connected:
        e.was_connected = true;
        out_.push_back(out::connected{id});
        break;
      case event::kind::data: out_.push_back(out::data{id, std::move(ev->bytes)}); break;
      case event::kind::sent: out_.push_back(out::sent{id, ev->sent}); break;
      case event::kind::closed:
        out_.push_back(out::closed{id, std::move(ev->reason), ev->error, e.was_connected});
        break;
    }
  }
  if (e.conn.status() == connection::state::closed) {
    by_key_.erase(key_of(e.remote, e.conn.recv_id()));
    sockets_.erase(it);
  }
}

std::optional<output> socket_manager::poll() {
  if (out_.empty()) return std::nullopt;
  output o = std::move(out_.front());
  out_.pop_front();
  return o;
}

const connection* socket_manager::find(socket_id id) const {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : &it->second.conn;
}

}  // namespace wt::utp
