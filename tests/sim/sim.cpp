#include "sim.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace wt::sim {

namespace {

std::uint64_t splitmix(std::uint64_t& state) {
  state += 0x9e3779b97f4a7c15u;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

duration transfer_time(std::size_t bytes, double rate) {
  if (rate <= 0) return duration{0};
  return duration{static_cast<std::int64_t>(static_cast<double>(bytes) * 1e6 / rate)};
}

}  // namespace

swarm::swarm(std::uint64_t seed, link_config link) : link_(link), rng_state_(seed) {}
swarm::~swarm() = default;

std::uint64_t swarm::next_random() { return splitmix(rng_state_); }

wire::endpoint swarm::endpoint(std::size_t i) const {
  return wire::make_endpoint_v4({10, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i & 0xff)},
                                6881);
}

std::size_t swarm::add_node(node_config cfg) {
  cfg.settings.seed = next_random();
  node n;
  n.cfg = cfg;
  n.s = std::make_unique<session>(cfg.settings);
  nodes_.push_back(std::move(n));
  return nodes_.size() - 1;
}

void swarm::remove_node(std::size_t i) {
  node& n = nodes_[i];
  if (!n.alive) return;
  for (std::size_t c = 0; c < conns_.size(); ++c) {
    for (int side = 0; side < 2; ++side) {
      if (conns_[c].node[side] == i && conns_[c].open[side]) close_side(c, side, false);
    }
  }
  n.alive = false;
  n.s.reset();
}

void swarm::push(ev e) {
  e.seq = seq_++;
  queue_.push(std::move(e));
}

void swarm::close_side(std::size_t conn, int side, bool tell) {
  connection& c = conns_[conn];
  if (!c.open[side]) return;
  c.open[side] = false;
  if (tell && nodes_[c.node[side]].alive) nodes_[c.node[side]].s->connection_closed(c.id[side], now_);
  // The other side learns after the bytes in flight towards it.
  ev e;
  e.kind = ev_kind::close;
  e.conn = conn;
  e.to_side = 1 - side;
  e.at = std::max(now_, c.pipes[side].last_arrival) + link_.latency;
  push(std::move(e));
}

void swarm::send(std::size_t n, connection_id id, byte_buffer data) {
  auto it = by_node_conn_.find({n, id.value});
  if (it == by_node_conn_.end()) return;
  connection& c = conns_[it->second.first];
  const int side = it->second.second;
  if (!c.open[side] || data.empty()) return;
  node& from = nodes_[n];
  from.bytes_sent += data.size();
  pipe& p = c.pipes[side];
  std::size_t offset = 0;
  while (offset < data.size()) {
    std::size_t size = data.size() - offset;
    if (link_.max_chunk > 0) size = std::min<std::size_t>(size, 1 + next_random() % link_.max_chunk);
    const time_point depart = std::max({now_, from.up_free_at, p.free_at});
    from.up_free_at = depart + transfer_time(size, from.cfg.upload_rate);
    p.free_at = depart + transfer_time(size, link_.bandwidth);
    const time_point arrive = std::max(p.last_arrival, std::max(from.up_free_at, p.free_at) + link_.latency);
    p.last_arrival = arrive;
    if (from.cfg.settings.send_buffer_limit > 0) {
      // The sender learns when the chunk has left its uplink (flow control).
      ev sent;
      sent.kind = ev_kind::sent;
      sent.conn = it->second.first;
      sent.to_side = side;
      sent.at = std::max(from.up_free_at, p.free_at);
      sent.bytes = size;
      push(std::move(sent));
    }
    ev e;
    e.kind = ev_kind::deliver;
    e.conn = it->second.first;
    e.to_side = 1 - side;
    e.at = arrive;
    if (offset == 0 && size == data.size()) {
      e.data = std::move(data);
      push(std::move(e));
      return;
    }
    e.data.assign(data.begin() + static_cast<std::ptrdiff_t>(offset),
                  data.begin() + static_cast<std::ptrdiff_t>(offset + size));
    push(std::move(e));
    offset += size;
  }
}

void swarm::pump(std::size_t i) {
  node& n = nodes_[i];
  bool progress = true;
  while (progress && n.alive) {
    progress = false;
    while (auto r = n.s->poll_storage()) {
      progress = true;
      if (r->op == storage_op::read && n.cfg.silent_reads) continue;
      if (r->op == storage_op::read && r->unverified) ++n.unverified_reads;
      if (r->op == storage_op::read && !r->unverified && !r->digest_only) {
        if (const metainfo* m = n.s->torrent_metainfo(r->torrent); m && r->length > 0) {
          const auto last = static_cast<std::uint32_t>((r->offset + r->length - 1) / m->piece_length);
          for (auto p = static_cast<std::uint32_t>(r->offset / m->piece_length); p <= last; ++p)
            if (!n.storage.is_complete(r->torrent, piece_index{p})) ++n.reads_of_incomplete;
        }
      }
      if (r->op == storage_op::write && n.cfg.write_rate > 0) {
        n.unwritten += r->length;
        n.max_unwritten = std::max(n.max_unwritten, n.unwritten);
        n.store_free_at = std::max(n.store_free_at, now_) + transfer_time(r->length, n.cfg.write_rate);
        ev e;
        e.kind = ev_kind::stored;
        e.conn = i;
        e.at = n.store_free_at;
        e.request = std::move(*r);
        push(std::move(e));
        continue;
      }
      storage_completion c = n.storage.complete(*r);
      if (r->digest_only && n.cfg.digest_reads && c.ok) {
        c.digest = sha1(c.data);
        c.data.clear();
      }
      if (n.cfg.corrupt_reads && r->op == storage_op::read && c.ok && !c.data.empty())
        c.data[c.data.size() / 2] ^= 0x5a;
      n.s->storage_completed(std::move(c), now_);
    }
    while (auto t = n.s->poll_transmit()) {
      progress = true;
      send(i, t->connection, std::move(t->data));
    }
    while (auto cl = n.s->poll_close()) {
      progress = true;
      auto it = by_node_conn_.find({i, cl->connection.value});
      if (it != by_node_conn_.end()) close_side(it->second.first, it->second.second, false);
    }
    while (auto cr = n.s->poll_connect()) {
      progress = true;
      ++n.dials;
      connection c;
      c.node[0] = i;
      c.id[0] = cr->connection;
      // The endpoint names the node: 10.0.hi.lo.
      const std::size_t target = std::size_t{cr->remote.address[2]} << 8 | cr->remote.address[3];
      c.node[1] = target;
      conns_.push_back(c);
      const std::size_t idx = conns_.size() - 1;
      by_node_conn_[{i, cr->connection.value}] = {idx, 0};
      ev e;
      e.kind = ev_kind::open;
      e.conn = idx;
      e.to_side = 1;
      e.at = now_ + link_.latency;
      push(std::move(e));
    }
    while (auto h = n.s->poll_http()) {
      progress = true;
      if (h->op == http_op::cancel) http_cancelled_.insert({i, h->id.value});
      else serve_http(i, *h);
    }
    while (auto e = n.s->poll_event()) {
      progress = true;
      n.events.push_back(std::move(*e));
    }
  }
}

std::size_t swarm::add_web_server(std::map<std::string, byte_buffer> files, web_server_config cfg) {
  web_server w;
  w.files = std::move(files);
  w.cfg = cfg;
  servers_.push_back(std::move(w));
  return servers_.size() - 1;
}

// Schedules the whole answer at once: the response after the latency, then the body in
// chunks at the server's bandwidth, then the end (none for a stall). A cancel drops what
// has not arrived yet.
void swarm::serve_http(std::size_t at_node, const http_request& r) {
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::size_t server = none;
  for (std::size_t k = 0; k < servers_.size() && server == none; ++k)
    if (servers_[k].files.contains(r.url)) server = k;
  ev head;
  head.kind = ev_kind::http_response;
  head.conn = at_node;
  head.http = r.id.value;
  head.server = server;
  ev done = head;
  done.kind = ev_kind::http_done;
  if (server == none) {
    head.status = 404;
    head.at = done.at = now_ + 20ms;
    push(std::move(head));
    push(std::move(done));
    return;
  }
  web_server& w = servers_[server];
  ++w.requests;
  w.log.emplace_back(r.url, r.first);
  const byte_buffer& file = w.files[r.url];
  const auto size = static_cast<std::int64_t>(file.size());
  const std::int64_t first = std::min(r.first, size), last = std::min(r.last, size - 1);
  byte_buffer body(file.begin() + static_cast<std::ptrdiff_t>(first),
                   file.begin() + static_cast<std::ptrdiff_t>(std::max(first, last + 1)));
  head.status = 206;
  head.content_range = "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size);
  head.content_length = static_cast<std::int64_t>(body.size());
  bool ends = true;
  switch (w.cfg.mode) {
    case http_mode::honest: break;
    case http_mode::not_found:
      head.status = 404;
      head.content_range.clear();
      head.content_length.reset();
      body.clear();
      break;
    case http_mode::ignores_range:
      head.status = 200;
      head.content_range.clear();
      head.content_length = size;
      body = file;
      break;
    case http_mode::short_body: body.resize(body.size() - std::min<std::size_t>(100, body.size() / 2)); break;
    case http_mode::long_body:
      head.content_length.reset();  // as with a chunked body
      body.resize(body.size() + 100, 0x42);
      break;
    case http_mode::wrong_bytes:
      if (!body.empty()) body[body.size() / 2] ^= 0x5a;
      break;
    case http_mode::stall:
    case http_mode::drip:
      body.resize(body.size() / 2);
      ends = false;
      break;
  }
  const time_point start = std::max(now_, w.free_at) + w.cfg.latency;
  head.at = start;
  push(std::move(head));
  time_point at = start;
  for (std::size_t offset = 0; offset < body.size(); offset += w.cfg.chunk) {
    const std::size_t n = std::min(w.cfg.chunk, body.size() - offset);
    at += transfer_time(n, w.cfg.bandwidth);
    ev data = done;
    data.kind = ev_kind::http_data;
    data.at = at;
    data.data.assign(body.begin() + static_cast<std::ptrdiff_t>(offset), body.begin() + static_cast<std::ptrdiff_t>(offset + n));
    push(std::move(data));
  }
  w.free_at = at;  // a drip does not hold up the server's other answers
  if (w.cfg.mode == http_mode::drip) {
    const std::size_t from = body.size();
    body.assign(file.begin() + static_cast<std::ptrdiff_t>(first), file.begin() + static_cast<std::ptrdiff_t>(std::max(first, last + 1)));
    for (std::size_t offset = from; offset < std::min(body.size(), from + 120); ++offset) {
      at += 1s;
      ev data = done;
      data.kind = ev_kind::http_data;
      data.at = at;
      data.data.assign(1, body[offset]);
      push(std::move(data));
    }
  }
  if (ends) {
    done.at = at;
    push(std::move(done));
  }
}

void swarm::deliver_http(ev& e) {
  node& n = nodes_[e.conn];
  if (!n.alive || http_cancelled_.contains({e.conn, e.http})) return;
  const http_request_id id{e.http};
  switch (e.kind) {
    case ev_kind::http_response: n.s->http_response(id, e.status, e.content_range, e.content_length, now_); break;
    case ev_kind::http_data:
      if (e.server < servers_.size()) servers_[e.server].served += e.data.size();
      n.s->http_data(id, e.data, now_);
      break;
    default: n.s->http_done(id, now_); break;
  }
  pump(e.conn);
}

void swarm::deliver(ev& e) {
  if (e.kind == ev_kind::http_response || e.kind == ev_kind::http_data || e.kind == ev_kind::http_done) {
    deliver_http(e);
    return;
  }
  if (e.kind == ev_kind::stored) {
    node& n = nodes_[e.conn];
    if (!n.alive) return;
    n.unwritten -= std::min<std::uint64_t>(n.unwritten, e.request.length);
    n.s->storage_completed(n.storage.complete(e.request), now_);
    pump(e.conn);
    return;
  }
  // pump() may add connections: take no reference into conns_ across it.
  connection c0 = conns_[e.conn];
  connection& c = conns_[e.conn];
  const std::size_t to = c0.node[e.to_side];
  switch (e.kind) {
    case ev_kind::deliver: {
      if (!c.open[e.to_side] || !nodes_[to].alive) return;
      if (link_.merge_chunks) {
        while (!queue_.empty() && queue_.top().kind == ev_kind::deliver && queue_.top().conn == e.conn &&
               queue_.top().to_side == e.to_side && queue_.top().at <= now_) {
          const byte_buffer& more = queue_.top().data;
          e.data.insert(e.data.end(), more.begin(), more.end());  // copied, then popped
          queue_.pop();
        }
      }
      nodes_[to].s->bytes_received(c.id[e.to_side], e.data, now_);
      pump(to);
      return;
    }
    case ev_kind::open: {
      const std::size_t from = c.node[0];
      if (!nodes_[from].alive) return;
      if (to >= nodes_.size() || !nodes_[to].alive) {
        nodes_[from].s->connection_closed(c.id[0], now_);
        pump(from);
        return;
      }
      wire::endpoint remote = endpoint(from);
      if (link_.ephemeral_ports) remote.port = static_cast<std::uint16_t>(32768 + e.conn % 28000);
      c.id[1] = nodes_[to].s->accept_connection(remote, now_);
      by_node_conn_[{to, c.id[1].value}] = {e.conn, 1};
      c.open[0] = c.open[1] = true;
      const connection_id from_id = c.id[0];
      nodes_[from].s->connection_opened(from_id, now_);
      pump(from);
      pump(to);
      if (link_.mean_lifetime.count() > 0) {
        // Exponential lifetime from the seeded generator.
        const double u = (static_cast<double>(next_random() >> 11) + 0.5) / 9007199254740992.0;
        ev d;
        d.kind = ev_kind::drop;
        d.conn = e.conn;
        d.at = now_ + duration{static_cast<std::int64_t>(-std::log(u) * static_cast<double>(link_.mean_lifetime.count()))};
        push(std::move(d));
      }
      return;
    }
    case ev_kind::stored:
    case ev_kind::http_response:
    case ev_kind::http_data:
    case ev_kind::http_done: return;  // handled above: not a connection's event
    case ev_kind::close: {
      if (!c.open[e.to_side] || !nodes_[to].alive) return;
      c.open[e.to_side] = false;
      nodes_[to].s->connection_closed(c.id[e.to_side], now_);
      pump(to);
      return;
    }
    case ev_kind::sent: {
      if (!c.open[e.to_side] || !nodes_[to].alive) return;
      nodes_[to].s->bytes_sent(c.id[e.to_side], e.bytes, now_);
      pump(to);
      return;
    }
    case ev_kind::drop: {
      for (int side = 0; side < 2; ++side) {
        if (!conns_[e.conn].open[side]) continue;
        conns_[e.conn].open[side] = false;
        const std::size_t n = c0.node[side];
        if (nodes_[n].alive) {
          nodes_[n].s->connection_closed(c0.id[side], now_);
          pump(n);
        }
      }
      return;
    }
  }
}

bool swarm::step(time_point limit) {
  time_point next = time_point::max();
  if (!queue_.empty()) next = queue_.top().at;
  for (auto& n : nodes_) {
    if (!n.alive) continue;
    if (auto d = n.s->next_deadline()) next = std::min(next, *d);
  }
  if (next == time_point::max() || next > limit) return false;
  now_ = std::max(now_, next);
  while (!queue_.empty() && queue_.top().at <= now_) {
    // Moving out of the top is safe: the element is popped right after.
    ev e = std::move(const_cast<ev&>(queue_.top()));
    queue_.pop();
    deliver(e);
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].alive) continue;
    auto d = nodes_[i].s->next_deadline();
    if (d && *d <= now_) {
      nodes_[i].s->on_timer(now_);
      pump(i);
    }
  }
  return true;
}

bool swarm::run_until(const std::function<bool()>& done, time_point limit) {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].alive) pump(i);
  while (!done()) {
    if (!step(limit)) return done();
  }
  return true;
}

test_torrent make_test_torrent(std::int64_t size, std::int64_t piece_length, std::uint64_t seed,
                               std::string name) {
  test_torrent t;
  t.data.resize(static_cast<std::size_t>(size));
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < t.data.size(); i += 8) {
    const std::uint64_t r = splitmix(state);
    for (std::size_t k = 0; k < 8 && i + k < t.data.size(); ++k)
      t.data[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
  }
  input_file f{name, t.data};
  create_options o;
  o.name = name;
  o.piece_length = piece_length;
  o.creation_date = 0;
  auto bytes = create_torrent(std::span<const input_file>(&f, 1), o);
  if (!bytes) throw std::runtime_error("create_torrent: " + bytes.err().message());
  auto m = parse_metainfo(*bytes);
  if (!m) throw std::runtime_error("parse_metainfo: " + m.err().message());
  t.meta = std::move(m).value();
  return t;
}

bool finished(swarm& net, std::size_t node, torrent_id t) {
  const auto st = net.at(node).stats(t);
  return st && st->finished;
}

torrent_id add_seed(swarm& net, std::size_t node, const test_torrent& tt, add_torrent_params params) {
  params.seed = true;
  const torrent_id t = net.at(node).add_torrent(tt.meta, params, net.now()).value();
  net.storage(node).write_at(t, 0, tt.data);
  return t;
}

leecher_nodes add_leechers(swarm& net, const test_torrent& tt, const node_config& cfg, int count, std::size_t peer,
                           const add_torrent_params& params) {
  leecher_nodes out;
  for (int i = 0; i < count; ++i) {
    const auto n = net.add_node(cfg);
    const torrent_id t = net.at(n).add_torrent(tt.meta, params, net.now()).value();
    net.at(n).add_peer(t, net.endpoint(peer), net.now());
    out.nodes.push_back(n);
    out.ids.push_back(t);
  }
  return out;
}

bool same_bytes(byte_view a, byte_view b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

}  // namespace wt::sim
