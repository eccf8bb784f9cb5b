// BEP 10 extension plugins: ut_metadata (BEP 9), ut_pex (BEP 11), and the plugin
// behind register_extension() that turns the hooks into events.
#include "session/session_impl.hpp"

namespace wt {

using namespace session_detail;

std::optional<wire::endpoint> listen_endpoint(const peer_connection& p) {
  if (!p.is_dialable) return std::nullopt;
  if (p.outgoing) return p.remote;
  if (!p.ext || !p.ext->listen_port || *p.ext->listen_port == 0) return std::nullopt;
  wire::endpoint e = p.remote;
  e.port = *p.ext->listen_port;
  return e;
}

namespace {

// --- ut_metadata (BEP 9) -----------------------------------------------------------------------

class ut_metadata_plugin final : public extension_plugin {
 public:
  std::string_view name() const override { return wire::ut_metadata_name; }

  void add_handshake(session::impl&, torrent& t, peer_connection&,
                     wire::extension_handshake& h) override {
    if (t.meta) h.metadata_size = static_cast<std::uint32_t>(t.meta->info_bytes.size());
  }

  void on_handshake(session::impl& s, torrent& t, peer_connection& p,
                    std::optional<std::uint8_t> peer_id) override {
    if (!peer_id || t.meta) return;
    start_fetches(t);
    request_pieces(s, t, p);
  }

  void on_message(session::impl& s, torrent& t, peer_connection& p, byte_view payload) override {
    auto decoded = wire::decode_metadata_message(payload);
    if (!decoded) {
      s.close_peer(&t, p, decoded.err().code, "bad ut_metadata message", true);
      return;
    }
    if (!*decoded) return;  // unknown msg_type: ignored (BEP 9)
    const wire::metadata_message& m = **decoded;
    auto their_id = p.ext ? p.ext->id_of(wire::ut_metadata_name) : std::nullopt;
    switch (m.type) {
      case wire::metadata_msg_type::request: {
        if (!their_id) return;
        wire::metadata_message reply;
        reply.piece = m.piece;
        const std::size_t offset = std::size_t{m.piece} * wire::metadata_piece_size;
        if (!t.meta || offset >= t.meta->info_bytes.size()) {
          reply.type = wire::metadata_msg_type::reject;
        } else {
          reply.type = wire::metadata_msg_type::data;
          reply.total_size = static_cast<std::uint32_t>(t.meta->info_bytes.size());
          const std::size_t n = std::min<std::size_t>(wire::metadata_piece_size,
                                                      t.meta->info_bytes.size() - offset);
          reply.data = byte_view(t.meta->info_bytes).subspan(offset, n);
        }
        s.send_extended(p, *their_id, wire::encode_metadata_message(reply));
        return;
      }
      case wire::metadata_msg_type::reject:
        // Not asked again (it lacks the metadata, BEP 9): others are.
        p.metadata_unhelpful = true;
        for (auto& f : t.metadata_fetches)
          if (m.piece < f.pieces.size()) f.pieces[m.piece].forget(p.id);
        return;
      case wire::metadata_msg_type::data: break;
    }
    auto* f = t.meta ? nullptr : fetch_of(t, p);
    if (!f || m.piece >= f->pieces.size()) return;
    auto& piece = f->pieces[m.piece];
    const std::size_t offset = std::size_t{m.piece} * wire::metadata_piece_size;
    const std::size_t expected = std::min<std::size_t>(wire::metadata_piece_size, f->size - offset);
    if (m.total_size != f->size || m.data.size() != expected) {
      s.close_peer(&t, p, errc::wire_bad_field, "ut_metadata piece of the wrong size", true);
      return;
    }
    if (piece.have) return;
    if (f->bytes.empty()) f->bytes.assign(f->size, 0);
    std::memcpy(f->bytes.data() + offset, m.data.data(), m.data.size());
    piece.have = true;
    piece.requested_from = piece.also_from = connection_id{};
    piece.received_from = p.id;
    for (const auto& mp : f->pieces)
      if (!mp.have) return;
    // Every piece is in: verify against the info-hash.
    if (sha1(f->bytes) != t.info_hash) {
      s.warn(t.id, p.id, errc::session_metadata_mismatch, "metadata does not match the info-hash; fetching again");
      std::set<std::uint32_t> senders;
      for (const auto& mp : f->pieces) senders.insert(mp.received_from.value);
      for (auto& mp : f->pieces) mp = {};
      // One peer sent it all: that peer lied.
      if (senders.size() == 1) {
        if (auto e = t.known_peers.find(*senders.begin()); e != t.known_peers.end())
          s.ban(t, endpoint_key(e->second.remote), &e->second, connection_id{*senders.begin()});
      }
      return;
    }
    auto parsed = parse_info_dict(f->bytes);
    if (!parsed) {
      s.events.emplace_back(torrent_error_event{t.id, "metadata: " + parsed.err().message()});
      for (auto& mp : f->pieces) mp = {};
      return;
    }
    t.requests_held = true;  // until the next timer call: see torrent::requests_held
    s.set_metadata(t, std::move(parsed).value());
  }

  void on_tick(session::impl& s, torrent& t, peer_connection& p) override {
    if (t.meta) return;
    // A request that timed out: that peer is not asked again (the second one asked, if
    // any, is waited for in its turn).
    for (auto& f : t.metadata_fetches)
      for (auto& mp : f.pieces) {
        while (!mp.have && mp.requested_from.value != 0 && s.now - mp.requested_at >= metadata_request_timeout) {
          if (auto it = t.peers.find(mp.requested_from.value); it != t.peers.end()) it->second.metadata_unhelpful = true;
          mp.forget(mp.requested_from);
        }
      }
    // A size that no peer can help with any more makes room for another.
    std::erase_if(t.metadata_fetches, [&](const auto& f) {
      return std::none_of(t.peers.begin(), t.peers.end(), [&](const auto& q) { return helps(t, q.second, f); });
    });
    start_fetches(t);
    request_pieces(s, t, p);
  }

 private:
  static bool can_ask(const peer_connection& p) {
    return !p.dead && !p.metadata_unhelpful && p.ext && p.ext->id_of(wire::ut_metadata_name);
  }
  static bool names_usable_size(const peer_connection& p) {
    return p.ext && p.ext->metadata_size && *p.ext->metadata_size != 0 && *p.ext->metadata_size <= max_metadata_size;
  }
  // The fetch `p` is asked for: the one of the size it named, or (it named none: BEP 9 asks
  // for it, some omit it) the first.
  static torrent::metadata_fetch* fetch_of(torrent& t, const peer_connection& p) {
    if (!p.ext || !p.ext->metadata_size) return t.metadata_fetches.empty() ? nullptr : &t.metadata_fetches.front();
    for (auto& f : t.metadata_fetches)
      if (f.size == *p.ext->metadata_size) return &f;
    return nullptr;
  }
  static bool helps(torrent& t, const peer_connection& p, const torrent::metadata_fetch& f) {
    return can_ask(p) && fetch_of(t, p) == &f;
  }

  // Every size a peer that can still help named is fetched, each from its own peers, at most
  // max_metadata_fetches at once: the first peer's size may be a lie (pieces that never
  // come, or metadata that fails the info-hash), and an honest peer waiting behind it held
  // a magnet back until the liar timed out. Further sizes wait for a free slot.
  static void start_fetches(torrent& t) {
    for (const auto& [id, q] : t.peers) {
      if (t.metadata_fetches.size() >= max_metadata_fetches) return;
      if (!can_ask(q) || !names_usable_size(q) || fetch_of(t, q)) continue;
      const std::uint32_t size = *q.ext->metadata_size;
      t.metadata_fetches.push_back({size, {}, std::vector<torrent::metadata_piece>((size + wire::metadata_piece_size - 1) / wire::metadata_piece_size)});
    }
  }

  // Asks `p` for each piece of its fetch nobody was asked, and for each that the peer asked
  // has not answered for metadata_second_ask (one second peer at most).
  void request_pieces(session::impl& s, torrent& t, peer_connection& p) {
    if (t.meta || p.metadata_unhelpful || !p.ext) return;
    auto* f = fetch_of(t, p);
    auto their_id = p.ext->id_of(wire::ut_metadata_name);
    if (!f || !their_id) return;
    for (std::uint32_t i = 0; i < f->pieces.size(); ++i) {
      auto& mp = f->pieces[i];
      if (mp.have || mp.requested_from == p.id || mp.also_from == p.id) continue;
      if (mp.requested_from.value == 0) {
        mp.requested_from = p.id;
        mp.requested_at = s.now;
      } else if (mp.also_from.value == 0 && s.now - mp.requested_at >= metadata_second_ask) {
        mp.also_from = p.id;
        mp.also_at = s.now;
      } else {
        continue;
      }
      wire::metadata_message req;
      req.type = wire::metadata_msg_type::request;
      req.piece = i;
      s.send_extended(p, *their_id, wire::encode_metadata_message(req));
    }
  }
};

// --- ut_pex (BEP 11) ---------------------------------------------------------------------------

struct pex_state final : extension_peer_state {
  std::optional<std::uint8_t> their_id;
  time_point next_send;
  bool sending = true;                         // the application's start()/stop()
  std::map<std::string, wire::endpoint> sent;  // what this peer has been told
  // Addresses the application gave (pex_advertise), for the next message.
  std::map<std::string, wire::pex_peer> app_added;
  std::map<std::string, wire::endpoint> app_dropped;
  time_point last_received;
  bool received_any = false;
};

// BEP 27: a private torrent's peers come from its trackers only, so its peers are neither
// told of others nor heard about them (torrent::is_private).
class ut_pex_plugin final : public extension_plugin {
 public:
  std::string_view name() const override { return wire::ut_pex_name; }
  std::unique_ptr<extension_peer_state> new_peer_state() override { return std::make_unique<pex_state>(); }

  void on_handshake(session::impl& s, torrent&, peer_connection& p,
                    std::optional<std::uint8_t> peer_id) override {
    if (auto* st = state_of(s, p)) {
      st->their_id = peer_id;
      st->next_send = s.now;  // the first message goes out at the next tick
    }
  }

  void on_message(session::impl& s, torrent& t, peer_connection& p, byte_view payload) override {
    auto* st = state_of(s, p);
    if (!st || t.is_private()) return;
    // Rate limit: a peer that sends more often than every 10 s is ignored meanwhile.
    if (st->received_any && s.now - st->last_received < std::chrono::seconds(10)) return;
    st->received_any = true;
    st->last_received = s.now;
    auto m = wire::decode_pex_message(payload);
    if (!m) {
      s.close_peer(&t, p, m.err().code, "bad ut_pex message: " + m.err().message(), true);
      return;
    }
    for (const auto& added : m->added) {
      if (added.peer.port == 0) continue;
      s.add_candidate(t, added.peer, peer_source::pex);
    }
    p.pex_taken = std::move(m).value();
  }

  void on_tick(session::impl& s, torrent& t, peer_connection& p) override {
    auto* st = state_of(s, p);
    if (!st || !st->their_id || !st->sending || s.now < st->next_send || t.is_private()) return;
    st->next_send = s.now + s.settings.pex_interval;
    std::map<std::string, wire::endpoint> current;
    for (const auto& [id, other] : t.peers) {
      if (&other == &p || !other.active()) continue;
      if (auto e = listen_endpoint(other)) current.emplace(endpoint_key(*e), *e);
    }
    wire::pex_message msg;
    for (const auto& [key, e] : current) {
      if (msg.added.size() >= wire::pex_max_peers_per_message) break;
      if (st->sent.contains(key)) continue;
      msg.added.push_back({e, 0});
      st->sent.emplace(key, e);
    }
    for (auto it = st->sent.begin(); it != st->sent.end();) {
      if (msg.dropped.size() < wire::pex_max_peers_per_message && !current.contains(it->first)) {
        msg.dropped.push_back(it->second);
        it = st->sent.erase(it);
      } else {
        ++it;
      }
    }
    // The application's addresses fill what room is left; the rest wait for the next message.
    for (auto it = st->app_added.begin(); it != st->app_added.end() && msg.added.size() < wire::pex_max_peers_per_message;) {
      msg.added.push_back(it->second);
      it = st->app_added.erase(it);
    }
    for (auto it = st->app_dropped.begin(); it != st->app_dropped.end() && msg.dropped.size() < wire::pex_max_peers_per_message;) {
      msg.dropped.push_back(it->second);
      it = st->app_dropped.erase(it);
    }
    if (msg.added.empty() && msg.dropped.empty()) return;
    s.send_extended(p, *st->their_id, wire::encode_pex_message(msg));
  }

  // The connection's state (nullptr without ut_pex; a registered extension of that name,
  // when ut_pex is off, keeps none).
  static pex_state* state_of(session::impl& s, peer_connection& p) {
    for (std::size_t i = 0; i < s.plugins.size() && i < p.ext_state.size(); ++i)
      if (s.plugins[i]->name() == wire::ut_pex_name) return static_cast<pex_state*>(p.ext_state[i].get());
    return nullptr;
  }
};

// --- user-registered extensions: hooks become events ---------------------------------------------

// --- lt_donthave -----------------------------------------------------------------------------------
// We never lose pieces, so we only receive it: the peer no longer has a piece.

class lt_donthave_plugin final : public extension_plugin {
 public:
  std::string_view name() const override { return wire::lt_donthave_name; }
  void on_handshake(session::impl&, torrent&, peer_connection&, std::optional<std::uint8_t>) override {}
  void on_message(session::impl& s, torrent& t, peer_connection& p, byte_view payload) override {
    auto piece = wire::decode_donthave(payload);
    if (!piece) {
      s.close_peer(&t, p, piece.err().code, "bad lt_donthave message", true);
      return;
    }
    if (!t.picker || piece->value >= t.picker->num_pieces() || !p.has.test(piece->value)) return;
    s.forget_piece(t, p, piece->value);
    p.donthave_applied = piece->value;
  }
};

class user_extension_plugin final : public extension_plugin {
 public:
  user_extension_plugin(std::string name, std::uint32_t handle, bencode::dict fields, bool per_connection)
      : name_(std::move(name)), handle_(handle), fields_(std::move(fields)), per_connection_(per_connection) {}
  std::string_view name() const override { return name_; }
  bool per_connection() const override { return per_connection_; }
  void add_handshake_fields(bencode::dict& extra) const override {
    for (const auto& [key, value] : fields_) extra.emplace(key, value);
  }
  void on_handshake(session::impl& s, torrent& t, peer_connection& p,
                    std::optional<std::uint8_t> peer_id) override {
    s.events.emplace_back(
        extension_handshake_event{t.id, p.id, handle_, peer_id.has_value(), p.ext_payload});
  }
  void on_message(session::impl& s, torrent& t, peer_connection& p, byte_view payload) override {
    s.events.emplace_back(
        extension_message_event{t.id, p.id, handle_, byte_buffer(payload.begin(), payload.end())});
  }

 private:
  std::string name_;
  std::uint32_t handle_;
  bencode::dict fields_;
  bool per_connection_;
};

}  // namespace

std::unique_ptr<extension_plugin> make_ut_metadata_plugin() { return std::make_unique<ut_metadata_plugin>(); }
std::unique_ptr<extension_plugin> make_ut_pex_plugin() { return std::make_unique<ut_pex_plugin>(); }
std::unique_ptr<extension_plugin> make_lt_donthave_plugin() { return std::make_unique<lt_donthave_plugin>(); }
std::unique_ptr<extension_plugin> make_user_extension_plugin(std::string name, std::uint32_t handle,
                                                            bencode::dict handshake_fields,
                                                            bool per_connection) {
  return std::make_unique<user_extension_plugin>(std::move(name), handle, std::move(handshake_fields),
                                                 per_connection);
}

// --- the application's ut_pex (wire.ut_pex) ------------------------------------------------------

namespace {
pex_state* live_pex_state(session::impl& s, connection_id c) {
  auto [t, p] = s.find_connection(c);
  return p && !p->dead ? ut_pex_plugin::state_of(s, *p) : nullptr;
}
}  // namespace

bool session::command_pex(connection_id c, pex_command command, time_point now) {
  auto& s = enter(now);
  pex_state* st = live_pex_state(s, c);
  if (!st) return false;
  switch (command) {
    case pex_command::start: st->sending = true; break;
    case pex_command::stop: st->sending = false; break;
    case pex_command::reset:
      st->sending = false;
      st->sent.clear();
      st->app_added.clear();
      st->app_dropped.clear();
      break;
  }
  s.finish_call();
  return true;
}

bool session::pex_advertise(connection_id c, const wire::pex_peer& peer, bool dropped, time_point now) {
  auto& s = enter(now);
  pex_state* st = live_pex_state(s, c);
  if (!st || peer.peer.port == 0) return false;
  // As npm ut_pex: an address is in one list or the other, and the lists are bounded.
  constexpr std::size_t max_queued = 1000;
  const std::string key = endpoint_key(peer.peer);
  if (dropped) {
    st->app_added.erase(key);
    if (st->app_dropped.size() < max_queued) st->app_dropped.emplace(key, peer.peer);
  } else {
    st->app_dropped.erase(key);
    if (st->app_added.size() < max_queued) st->app_added.insert_or_assign(key, peer);
  }
  s.finish_call();
  return true;
}

}  // namespace wt
