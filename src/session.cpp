#include "session.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <string_view>

#include "crypto.hpp"
#include "piece_picker.hpp"

namespace wt {

namespace {

constexpr std::uint32_t block_size = piece_picker::block_size;
constexpr std::uint32_t max_metadata_size = 8u * 1024u * 1024u;
constexpr duration metadata_request_timeout = std::chrono::seconds(10);

// xoshiro256** seeded through splitmix64: the same sequence on every platform.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept {
    for (auto& word : s_) {
      seed += 0x9e3779b97f4a7c15u;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
      word = z ^ (z >> 31);
    }
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

 private:
  std::array<std::uint64_t, 4> s_{};
};

double seconds(duration d) { return std::chrono::duration<double>(d).count(); }

std::string endpoint_key(const wire::endpoint& e) { return wire::to_string(e); }

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

}  // namespace

// Per-peer state an extension plugin keeps (see extension_plugin::new_peer_state).
struct extension_peer_state {
  virtual ~extension_peer_state() = default;
};

// --- per-connection state --------------------------------------------------------------

struct peer_connection {
  struct our_request {
    block_address block;
    time_point at;
  };

  connection_id id;
  wire::endpoint remote;
  bool outgoing = false;
  bool open = false;  // the transport is up (outgoing: after connection_opened)
  bool dead = false;  // closed; erased at the end of the current call
  bool no_retry = false;  // do not reconnect after this connection closes
  bool handshake_sent = false;
  bool handshake_done = false;
  wire::handshake_reader hs_reader;
  wire::message_reader reader{wire::reader_limits{}};
  wire::handshake peer_handshake;
  bool fast = false;
  bool extensions = false;
  std::optional<wire::extension_handshake> ext;
  std::vector<std::unique_ptr<extension_peer_state>> ext_state;  // one per plugin

  bitfield has;              // valid once the metadata is known
  bool have_all = false;     // counted in the picker as a seed
  std::uint32_t num_have = 0;
  std::optional<byte_buffer> early_bitfield;  // before the metadata
  std::vector<std::uint32_t> early_haves;

  bool am_choking = true, am_interested = false;
  bool peer_choking = true, peer_interested = false;
  bool optimistic = false;
  std::uint32_t choke_generation = 0;
  std::uint32_t peer_reqq = 250;

  std::vector<our_request> requests;     // ours, outstanding
  std::deque<wire::request> queued;      // theirs, waiting for a storage read
  std::vector<wire::request> cancelled;  // theirs, cancelled while being read
  std::uint32_t reads_in_flight = 0;

  std::uint64_t downloaded = 0, uploaded = 0;
  std::uint64_t down_since = 0, up_since = 0;
  double down_rate = 0, up_rate = 0;
  time_point connected_at, last_received, last_sent, last_unchoked;
  byte_buffer out;

  peer_handle handle() const noexcept { return peer_handle{id.value}; }
  bool active() const noexcept { return !dead && handshake_done; }
};

// --- per-torrent state ---------------------------------------------------------------------

struct torrent {
  struct failed_block {
    std::uint32_t block = 0;
    std::string endpoint;
    connection_id connection;
    sha1_digest digest{};
  };
  struct metadata_piece {
    bool have = false;
    connection_id requested_from;  // value 0: not requested
    time_point requested_at;
  };

  torrent_id id;
  sha1_digest info_hash{};
  std::string name;
  std::optional<metainfo> meta;
  std::optional<piece_picker> picker;
  bitfield all_pieces;  // every bit set: what a have_all peer has
  std::vector<std::uint8_t> file_priorities;

  std::map<std::uint32_t, peer_connection> peers;
  std::deque<wire::endpoint> candidates;
  std::set<std::string> banned;
  // Reconnection: peers whose connection closed, with the time to try again.
  std::vector<std::pair<time_point, wire::endpoint>> retry;
  std::map<std::string, std::uint32_t> failures;  // connect failures in a row
  std::map<std::uint32_t, wire::endpoint> endpoints;  // every connection's remote, for bans

  std::map<std::uint32_t, byte_buffer> piece_buffers;  // blocks of pieces in flight
  std::map<std::uint32_t, std::vector<failed_block>> failed_blocks;  // smart ban

  // ut_metadata fetch
  std::optional<std::uint32_t> metadata_size;
  byte_buffer metadata;
  std::vector<metadata_piece> metadata_pieces;

  bool finished = false;
  std::uint64_t downloaded = 0, uploaded = 0, verified = 0, wasted = 0;
  std::uint64_t down_since = 0, up_since = 0;
  double down_rate = 0, up_rate = 0;
  time_point next_unchoke, next_optimistic;
};

// --- extension plugins -----------------------------------------------------------------------
//
// Every BEP 10 extension, built in (ut_metadata) or registered by the user, is a
// plugin with the same hooks. Its local message id is its index in the session's
// plugin list + 1.

class extension_plugin {
 public:
  virtual ~extension_plugin() = default;
  virtual std::string_view name() const = 0;
  // State kept per peer connection (nullptr: none).
  virtual std::unique_ptr<extension_peer_state> new_peer_state() { return nullptr; }
  // Add fields to our extension handshake for this peer.
  virtual void add_handshake(session::impl&, torrent&, peer_connection&, wire::extension_handshake&) {}
  // The peer's extension handshake arrived; `peer_id` is its id for us, if it supports us.
  virtual void on_handshake(session::impl&, torrent&, peer_connection&,
                            std::optional<std::uint8_t> peer_id) = 0;
  // A message the peer sent under our id.
  virtual void on_message(session::impl&, torrent&, peer_connection&, byte_view payload) = 0;
  // Once per tick per active peer.
  virtual void on_tick(session::impl&, torrent&, peer_connection&) {}
};

// --- the session ------------------------------------------------------------------------------

struct session::impl {
  struct pending_storage {
    enum class kind : std::uint8_t { write_piece, read_block, ignore } what = kind::ignore;
    torrent_id torrent;
    std::uint32_t piece = 0;
    connection_id connection;
    wire::request request;
    std::uint32_t choke_generation = 0;
  };

  session_settings settings;
  rng random;
  wire::peer_id pid{};
  time_point now{};
  time_point next_tick{};
  time_point last_tick{};
  bool ticked = false;

  std::map<std::uint32_t, torrent> torrents;
  std::map<std::uint32_t, peer_connection> unattached;  // incoming, before the handshake
  std::map<std::uint32_t, std::uint32_t> owner;         // connection -> torrent
  std::uint32_t next_torrent = 1;
  std::uint32_t next_connection = 1;
  std::uint64_t next_storage = 1;
  std::vector<std::unique_ptr<extension_plugin>> plugins;

  std::deque<std::uint32_t> dirty;  // connections with bytes to send
  std::deque<transmit> final_transmits;
  std::deque<close_request> closes;
  std::deque<connect_request> connects;
  std::deque<storage_request> storage;
  std::deque<session_event> events;
  std::map<std::uint64_t, pending_storage> pending;
  std::vector<std::uint32_t> garbage;  // dead connections to erase

  explicit impl(session_settings s);

  // --- lookup ---
  torrent* find_torrent(torrent_id t) {
    auto it = torrents.find(t.value);
    return it == torrents.end() ? nullptr : &it->second;
  }
  torrent* find_torrent(const sha1_digest& h) {
    for (auto& [id, t] : torrents)
      if (t.info_hash == h) return &t;
    return nullptr;
  }
  peer_connection* find_peer(torrent& t, connection_id c) {
    auto it = t.peers.find(c.value);
    return it == t.peers.end() || it->second.dead ? nullptr : &it->second;
  }

  // --- sending ---
  void mark_dirty(peer_connection& p) {
    if (p.out.empty()) dirty.push_back(p.id.value);
  }
  void send(peer_connection& p, const wire::message& m) {
    if (p.dead || !p.open) return;
    mark_dirty(p);
    wire::encode_to(m, p.out);
    p.last_sent = now;
  }
  void send_extended(peer_connection& p, std::uint8_t id, byte_view payload) {
    send(p, wire::extended{id, payload});
  }
  void send_handshake(torrent& t, peer_connection& p) {
    if (p.handshake_sent || !p.open) return;
    mark_dirty(p);
    wire::encode_to(wire::make_handshake(t.info_hash, pid, {true, true, false}), p.out);
    p.handshake_sent = true;
    p.last_sent = now;
  }

  // --- lifecycle ---
  void close_peer(torrent* t, peer_connection& p, errc code, std::string reason, bool tell_host);
  void ban(torrent& t, const std::string& endpoint_text, const wire::endpoint* remote,
           std::optional<connection_id> c);
  void collect_garbage();
  void schedule_retry(torrent& t, const peer_connection& p);
  void connect_candidates(torrent& t);
  void add_candidate(torrent& t, const wire::endpoint& e) {
    if (t.banned.contains(endpoint_key(e))) return;
    if (std::find(t.candidates.begin(), t.candidates.end(), e) == t.candidates.end())
      t.candidates.push_back(e);
    connect_candidates(t);
  }

  // --- protocol ---
  void on_handshake(torrent& t, peer_connection& p);
  void feed_messages(torrent& t, peer_connection& p, byte_view data);
  bool handle(torrent& t, peer_connection& p, const wire::message& m);
  void on_have(torrent& t, peer_connection& p, std::uint32_t piece);
  void on_bitfield(torrent& t, peer_connection& p, byte_view bits);
  void on_have_all(torrent& t, peer_connection& p);
  void on_request(torrent& t, peer_connection& p, const wire::request& r);
  void on_piece(torrent& t, peer_connection& p, const wire::piece_block& b);
  void on_extended(torrent& t, peer_connection& p, const wire::extended& e);
  void send_our_pieces(torrent& t, peer_connection& p);
  void send_extension_handshake(torrent& t, peer_connection& p);
  void update_interest(torrent& t, peer_connection& p);
  void request_blocks(torrent& t, peer_connection& p);
  void pump_reads(torrent& t, peer_connection& p);
  void choke_peer(peer_connection& p);
  void unchoke_peer(peer_connection& p);
  void fill_unchoke_slots(torrent& t);
  void run_choker(torrent& t, bool rotate_optimistic);
  void hash_piece(torrent& t, std::uint32_t piece);
  void piece_written(torrent& t, std::uint32_t piece, bool ok);
  void check_finished(torrent& t);
  void set_metadata(torrent& t, metainfo m);
  void apply_file_priorities(torrent& t);
  void tick(time_point now);

  storage_request_id emit_storage(storage_request r, pending_storage p) {
    r.id = storage_request_id{next_storage++};
    pending[r.id.value] = std::move(p);
    storage_request_id id = r.id;
    storage.push_back(std::move(r));
    return id;
  }
  void warn(torrent_id t, connection_id c, errc code, std::string message) {
    events.emplace_back(warning_event{t, c, code, std::move(message)});
  }
};

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
    if (!t.metadata_size && p.ext && p.ext->metadata_size) {
      const std::uint32_t size = *p.ext->metadata_size;
      if (size == 0 || size > max_metadata_size) return;
      t.metadata_size = size;
      t.metadata.assign(size, 0);
      t.metadata_pieces.assign((size + wire::metadata_piece_size - 1) / wire::metadata_piece_size, {});
    }
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
        if (m.piece < t.metadata_pieces.size() &&
            t.metadata_pieces[m.piece].requested_from == p.id)
          t.metadata_pieces[m.piece].requested_from = connection_id{};
        return;
      case wire::metadata_msg_type::data: break;
    }
    if (t.meta || !t.metadata_size || m.piece >= t.metadata_pieces.size()) return;
    auto& piece = t.metadata_pieces[m.piece];
    const std::size_t offset = std::size_t{m.piece} * wire::metadata_piece_size;
    const std::size_t expected = std::min<std::size_t>(wire::metadata_piece_size, *t.metadata_size - offset);
    if (m.total_size != *t.metadata_size || m.data.size() != expected) {
      s.close_peer(&t, p, errc::wire_bad_field, "ut_metadata piece of the wrong size", true);
      return;
    }
    if (piece.have) return;
    std::memcpy(t.metadata.data() + offset, m.data.data(), m.data.size());
    piece.have = true;
    piece.requested_from = connection_id{};
    for (const auto& mp : t.metadata_pieces)
      if (!mp.have) return;
    // Every piece is in: verify against the info-hash.
    if (sha1(t.metadata) != t.info_hash) {
      s.warn(t.id, p.id, errc::ok, "metadata does not match the info-hash; fetching again");
      for (auto& mp : t.metadata_pieces) mp = {};
      return;
    }
    auto parsed = parse_info_dict(t.metadata);
    if (!parsed) {
      s.events.emplace_back(torrent_error_event{t.id, "metadata: " + parsed.err().message()});
      for (auto& mp : t.metadata_pieces) mp = {};
      return;
    }
    s.set_metadata(t, std::move(parsed).value());
  }

  void on_tick(session::impl& s, torrent& t, peer_connection& p) override {
    if (t.meta || !t.metadata_size) return;
    for (auto& mp : t.metadata_pieces)
      if (!mp.have && mp.requested_from.value != 0 && s.now - mp.requested_at >= metadata_request_timeout)
        mp.requested_from = connection_id{};
    request_pieces(s, t, p);
  }

 private:
  void request_pieces(session::impl& s, torrent& t, peer_connection& p) {
    if (t.meta || !t.metadata_size || !p.ext) return;
    auto their_id = p.ext->id_of(wire::ut_metadata_name);
    if (!their_id) return;
    for (std::uint32_t i = 0; i < t.metadata_pieces.size(); ++i) {
      auto& mp = t.metadata_pieces[i];
      if (mp.have || mp.requested_from.value != 0) continue;
      mp.requested_from = p.id;
      mp.requested_at = s.now;
      wire::metadata_message req;
      req.type = wire::metadata_msg_type::request;
      req.piece = i;
      s.send_extended(p, *their_id, wire::encode_metadata_message(req));
    }
  }
};

// --- ut_pex (BEP 11) ---------------------------------------------------------------------------

// Where a connected peer accepts connections: the address we connected to, or for
// an incoming connection its address with the port from its extension handshake.
std::optional<wire::endpoint> listen_endpoint(const peer_connection& p) {
  if (p.outgoing) return p.remote;
  if (!p.ext || !p.ext->listen_port || *p.ext->listen_port == 0) return std::nullopt;
  wire::endpoint e = p.remote;
  e.port = *p.ext->listen_port;
  return e;
}

class ut_pex_plugin final : public extension_plugin {
 public:
  std::string_view name() const override { return wire::ut_pex_name; }

  struct state final : extension_peer_state {
    std::optional<std::uint8_t> their_id;
    time_point next_send;
    std::map<std::string, wire::endpoint> sent;  // what this peer has been told
    time_point last_received;
    bool received_any = false;
  };
  std::unique_ptr<extension_peer_state> new_peer_state() override { return std::make_unique<state>(); }

  void on_handshake(session::impl& s, torrent&, peer_connection& p,
                    std::optional<std::uint8_t> peer_id) override {
    if (auto* st = get(s, p)) {
      st->their_id = peer_id;
      st->next_send = s.now;  // the first message goes out at the next tick
    }
  }

  void on_message(session::impl& s, torrent& t, peer_connection& p, byte_view payload) override {
    auto* st = get(s, p);
    if (!st) return;
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
      s.add_candidate(t, added.peer);
    }
  }

  void on_tick(session::impl& s, torrent& t, peer_connection& p) override {
    auto* st = get(s, p);
    if (!st || !st->their_id || s.now < st->next_send) return;
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
    if (msg.added.empty() && msg.dropped.empty()) return;
    s.send_extended(p, *st->their_id, wire::encode_pex_message(msg));
  }

 private:
  state* get(session::impl& s, peer_connection& p);
};

// --- user-registered extensions: hooks become events ---------------------------------------------

class user_extension_plugin final : public extension_plugin {
 public:
  user_extension_plugin(std::string name, std::uint32_t handle) : name_(std::move(name)), handle_(handle) {}
  std::string_view name() const override { return name_; }
  void on_handshake(session::impl& s, torrent& t, peer_connection& p,
                    std::optional<std::uint8_t> peer_id) override {
    s.events.emplace_back(extension_handshake_event{t.id, p.id, handle_, peer_id.has_value()});
  }
  void on_message(session::impl& s, torrent& t, peer_connection& p, byte_view payload) override {
    s.events.emplace_back(
        extension_message_event{t.id, p.id, handle_, byte_buffer(payload.begin(), payload.end())});
  }

 private:
  std::string name_;
  std::uint32_t handle_;
};

// --- impl ---------------------------------------------------------------------------------------

session::impl::impl(session_settings s) : settings(std::move(s)), random(settings.seed) {
  static constexpr std::string_view prefix = "-WT0001-";
  static constexpr std::string_view alphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::memcpy(pid.data(), prefix.data(), prefix.size());
  for (std::size_t i = prefix.size(); i < pid.size(); ++i)
    pid[i] = static_cast<std::uint8_t>(alphabet[random.next() % alphabet.size()]);
  if (settings.enable_ut_metadata) plugins.push_back(std::make_unique<ut_metadata_plugin>());
  if (settings.enable_ut_pex) plugins.push_back(std::make_unique<ut_pex_plugin>());
}

ut_pex_plugin::state* ut_pex_plugin::get(session::impl& s, peer_connection& p) {
  for (std::size_t i = 0; i < s.plugins.size() && i < p.ext_state.size(); ++i)
    if (s.plugins[i].get() == this) return static_cast<state*>(p.ext_state[i].get());
  return nullptr;
}

void session::impl::close_peer(torrent* t, peer_connection& p, errc code, std::string reason,
                               bool tell_host) {
  if (p.dead) return;
  p.dead = true;
  if (t && p.handshake_done && t->picker) {
    if (p.have_all) t->picker->dec_have_all();
    else if (!p.has.empty()) t->picker->dec_bitfield(p.has);
    t->picker->release_peer(p.handle());
  }
  if (t) {
    for (auto& mp : t->metadata_pieces)
      if (mp.requested_from == p.id) mp.requested_from = connection_id{};
    schedule_retry(*t, p);
  }
  if (tell_host) {
    if (!p.out.empty()) final_transmits.push_back(transmit{p.id, std::move(p.out)});
    closes.push_back(close_request{p.id, reason});
  }
  p.out.clear();
  if (code != errc::ok) warn(t ? t->id : torrent_id{}, p.id, code, reason);
  events.emplace_back(peer_disconnected_event{t ? t->id : torrent_id{}, p.id, code, std::move(reason)});
  garbage.push_back(p.id.value);
  if (t && p.am_interested == false && !p.am_choking) {
    // its unchoke slot is free
  }
}

void session::impl::schedule_retry(torrent& t, const peer_connection& p) {
  if (p.no_retry) return;
  auto e = listen_endpoint(p);
  if (!e) return;
  const std::string key = endpoint_key(*e);
  if (t.banned.contains(key)) return;
  // Two seeds have nothing to say to each other.
  const bool peer_is_seed = p.have_all || (!p.has.empty() && p.num_have == p.has.size());
  if (t.finished && peer_is_seed) return;
  std::uint32_t& failures = t.failures[key];
  if (!p.handshake_done) ++failures;
  else failures = 0;
  if (failures > 5) return;  // gone for good
  const duration backoff = std::chrono::seconds(5) * (1 << std::min<std::uint32_t>(failures, 6));
  t.retry.emplace_back(now + backoff, *e);
}

void session::impl::collect_garbage() {
  for (std::uint32_t c : garbage) {
    if (unattached.erase(c)) continue;
    auto o = owner.find(c);
    if (o == owner.end()) continue;
    if (auto* t = find_torrent(torrent_id{o->second})) {
      auto it = t->peers.find(c);
      if (it != t->peers.end() && it->second.dead) {
        const bool was_unchoked = !it->second.am_choking;
        t->peers.erase(it);
        if (was_unchoked) fill_unchoke_slots(*t);
      }
    }
    owner.erase(o);
  }
  garbage.clear();
}

void session::impl::ban(torrent& t, const std::string& endpoint_text, const wire::endpoint* remote,
                        std::optional<connection_id> c) {
  if (!t.banned.insert(endpoint_text).second) return;
  events.emplace_back(peer_banned_event{t.id, c.value_or(connection_id{}), remote ? *remote : wire::endpoint{}});
  std::erase_if(t.candidates, [&](const wire::endpoint& e) { return endpoint_key(e) == endpoint_text; });
  for (auto& [id, p] : t.peers)
    if (!p.dead && endpoint_key(p.remote) == endpoint_text) {
      p.no_retry = true;
      close_peer(&t, p, errc::ok, "banned: sent data that failed the hash check", true);
    }
}

void session::impl::connect_candidates(torrent& t) {
  std::uint32_t connected = 0, half_open = 0;
  for (const auto& [id, p] : t.peers) {
    if (p.dead) continue;
    ++connected;
    if (!p.open) ++half_open;
  }
  while (!t.candidates.empty() && connected < settings.max_connections_per_torrent &&
         half_open < settings.max_half_open) {
    wire::endpoint e = t.candidates.front();
    t.candidates.pop_front();
    const std::string key = endpoint_key(e);
    if (t.banned.contains(key)) continue;
    bool known = false;
    for (const auto& [id, p] : t.peers)
      if (!p.dead && endpoint_key(p.remote) == key) known = true;
    if (known) continue;
    const connection_id c{next_connection++};
    peer_connection& p = t.peers[c.value];
    p.id = c;
    p.remote = e;
    p.outgoing = true;
    p.connected_at = p.last_received = p.last_sent = now;
    owner[c.value] = t.id.value;
    connects.push_back(connect_request{c, t.id, e});
    ++connected;
    ++half_open;
  }
}

// --- handshake --------------------------------------------------------------------------------------

void session::impl::on_handshake(torrent& t, peer_connection& p) {
  p.peer_handshake = p.hs_reader.get();
  const auto features = p.peer_handshake.features();
  p.fast = features.fast;
  p.extensions = features.extension_protocol;
  if (p.peer_handshake.info_hash != t.info_hash) {
    close_peer(&t, p, errc::ok, "handshake for another torrent", true);
    return;
  }
  if (p.peer_handshake.id == pid) {
    p.no_retry = true;
    close_peer(&t, p, errc::ok, "connected to ourselves", true);
    return;
  }
  if (t.banned.contains(endpoint_key(p.remote))) {
    p.no_retry = true;
    close_peer(&t, p, errc::ok, "banned peer", true);
    return;
  }
  // The same peer twice (both sides connected at once): keep the connection
  // opened by the peer with the smaller id, so both ends keep the same one.
  for (auto& [id, other] : t.peers) {
    if (&other == &p || !other.active() || other.peer_handshake.id != p.peer_handshake.id) continue;
    const bool keep_new = (p.outgoing ? pid : p.peer_handshake.id) <
                          (other.outgoing ? pid : other.peer_handshake.id);
    if (keep_new) {
      other.no_retry = true;
      close_peer(&t, other, errc::ok, "duplicate connection", true);
    } else {
      p.no_retry = true;
      close_peer(&t, p, errc::ok, "duplicate connection", true);
      return;
    }
  }
  p.handshake_done = true;
  t.endpoints[p.id.value] = p.remote;
  for (auto& plugin : plugins) p.ext_state.push_back(plugin->new_peer_state());
  send_handshake(t, p);
  if (t.meta) {
    p.reader.set_piece_count(t.meta->piece_count());
    p.has = bitfield(t.meta->piece_count());
  }
  if (p.extensions) send_extension_handshake(t, p);
  send_our_pieces(t, p);
  events.emplace_back(peer_connected_event{t.id, p.id, p.remote, p.outgoing});
  fill_unchoke_slots(t);
}

void session::impl::send_extension_handshake(torrent& t, peer_connection& p) {
  wire::extension_handshake h;
  for (std::size_t i = 0; i < plugins.size(); ++i)
    h.m.emplace(std::string(plugins[i]->name()), static_cast<std::uint8_t>(i + 1));
  h.client = settings.client;
  h.reqq = settings.reqq;
  h.listen_port = settings.listen_port;
  for (auto& plugin : plugins) plugin->add_handshake(*this, t, p, h);
  send_extended(p, 0, wire::encode_extension_handshake(h));
}

void session::impl::send_our_pieces(torrent& t, peer_connection& p) {
  if (!t.picker) {
    if (p.fast) send(p, wire::have_none{});
    return;
  }
  if (t.picker->is_seed() && p.fast) {
    send(p, wire::have_all{});
  } else if (t.picker->num_have() == 0) {
    if (p.fast) send(p, wire::have_none{});
  } else {
    const byte_buffer bits = t.picker->have_pieces().to_bytes();
    send(p, wire::bitfield{bits});
  }
}

// --- messages ------------------------------------------------------------------------------------------

void session::impl::feed_messages(torrent& t, peer_connection& p, byte_view data) {
  p.reader.feed(data);
  while (!p.dead) {
    auto m = p.reader.next();
    if (!m) {
      close_peer(&t, p, m.err().code, "protocol error: " + m.err().message(), true);
      return;
    }
    if (!*m) break;
    if (!handle(t, p, **m)) return;
  }
  if (!p.dead) request_blocks(t, p);
}

bool session::impl::handle(torrent& t, peer_connection& p, const wire::message& msg) {
  std::visit(
      overloaded{
          [&](const wire::keep_alive&) {},
          [&](const wire::choke&) {
            p.peer_choking = true;
            if (t.picker) t.picker->release_peer(p.handle());
            p.requests.clear();
          },
          [&](const wire::unchoke&) { p.peer_choking = false; },
          [&](const wire::interested&) {
            p.peer_interested = true;
            fill_unchoke_slots(t);
          },
          [&](const wire::not_interested&) {
            p.peer_interested = false;
            if (!p.am_choking) {
              choke_peer(p);
              fill_unchoke_slots(t);
            }
          },
          [&](const wire::have& h) { on_have(t, p, h.piece.value); },
          [&](const wire::bitfield& b) { on_bitfield(t, p, b.bits); },
          [&](const wire::request& r) { on_request(t, p, r); },
          [&](const wire::piece_block& b) { on_piece(t, p, b); },
          [&](const wire::cancel& c) {
            const wire::request r{c.piece, c.begin, c.length};
            auto it = std::find(p.queued.begin(), p.queued.end(), r);
            if (it != p.queued.end()) {
              p.queued.erase(it);
              if (p.fast) send(p, wire::reject_request{c.piece, c.begin, c.length});
            } else if (p.reads_in_flight > 0) {
              p.cancelled.push_back(r);
            }
          },
          [&](const wire::dht_port&) {},
          [&](const wire::suggest_piece&) {},
          [&](const wire::have_all&) { on_have_all(t, p); },
          [&](const wire::have_none&) {},
          [&](const wire::reject_request& r) {
            if (!t.picker) return;
            auto b = t.picker->block_at({r.piece, r.begin, r.length});
            if (!b) return;
            auto it = std::find_if(p.requests.begin(), p.requests.end(),
                                   [&](const auto& q) { return q.block == *b; });
            if (it == p.requests.end()) return;
            p.requests.erase(it);
            t.picker->abort_request(*b, p.handle());
          },
          [&](const wire::allowed_fast&) {},
          [&](const wire::extended& e) { on_extended(t, p, e); },
          [&](const wire::unknown_message&) {},
      },
      msg);
  return !p.dead;
}

void session::impl::on_have(torrent& t, peer_connection& p, std::uint32_t piece) {
  if (!t.meta) {
    if (p.early_haves.size() < 100000) p.early_haves.push_back(piece);
    return;
  }
  if (p.have_all || p.has.test(piece)) return;
  p.has.set(piece);
  ++p.num_have;
  t.picker->inc_have(piece_index{piece});
  if (!p.am_interested && !t.picker->have(piece_index{piece}) &&
      t.picker->piece_priority(piece_index{piece}) > 0) {
    p.am_interested = true;
    send(p, wire::interested{});
  }
}

void session::impl::on_bitfield(torrent& t, peer_connection& p, byte_view bits) {
  if (!t.meta) {
    p.early_bitfield = byte_buffer(bits.begin(), bits.end());
    return;
  }
  auto b = bitfield::from_bytes(bits, t.meta->piece_count());
  if (!b) {
    close_peer(&t, p, errc::wire_bad_bitfield, "bad bitfield", true);
    return;
  }
  if (p.have_all) t.picker->dec_have_all();
  else t.picker->dec_bitfield(p.has);
  p.have_all = false;
  if (b->all()) {
    on_have_all(t, p);
    return;
  }
  p.has = std::move(*b);
  p.num_have = p.has.count();
  t.picker->inc_bitfield(p.has);
  update_interest(t, p);
}

void session::impl::on_have_all(torrent& t, peer_connection& p) {
  if (!t.meta) {
    p.have_all = true;
    return;
  }
  if (p.have_all) return;
  t.picker->dec_bitfield(p.has);
  p.has = t.all_pieces;
  p.num_have = p.has.size();
  p.have_all = true;
  t.picker->inc_have_all();
  update_interest(t, p);
}

void session::impl::update_interest(torrent& t, peer_connection& p) {
  if (!t.picker || !p.active()) return;
  bool want = false;
  if (!t.picker->is_finished()) {
    const std::uint32_t n = t.picker->num_pieces();
    for (std::uint32_t i = p.has.find_next_set(0); i < n; i = p.has.find_next_set(i + 1)) {
      if (!t.picker->have(piece_index{i}) && t.picker->piece_priority(piece_index{i}) > 0) {
        want = true;
        break;
      }
    }
  }
  if (want == p.am_interested) return;
  p.am_interested = want;
  send(p, want ? wire::message{wire::interested{}} : wire::message{wire::not_interested{}});
}

void session::impl::on_request(torrent& t, peer_connection& p, const wire::request& r) {
  auto reject = [&] {
    if (p.fast) send(p, wire::reject_request{r.piece, r.begin, r.length});
  };
  if (!t.picker || r.piece.value >= t.picker->num_pieces() || !t.picker->have(r.piece) ||
      r.length == 0 || r.length > block_size ||
      std::uint64_t{r.begin} + r.length > t.picker->piece_size(r.piece)) {
    reject();
    return;
  }
  if (p.am_choking || p.queued.size() >= settings.reqq) {
    reject();
    return;
  }
  p.queued.push_back(r);
  pump_reads(t, p);
}

void session::impl::pump_reads(torrent& t, peer_connection& p) {
  while (!p.dead && !p.am_choking && p.reads_in_flight < settings.max_reads_per_peer && !p.queued.empty()) {
    const wire::request r = p.queued.front();
    p.queued.pop_front();
    storage_request sr;
    sr.torrent = t.id;
    sr.op = storage_op::read;
    sr.piece = r.piece;
    sr.piece_offset = r.begin;
    sr.offset = std::int64_t{r.piece.value} * t.meta->piece_length + r.begin;
    sr.length = r.length;
    pending_storage ps;
    ps.what = pending_storage::kind::read_block;
    ps.torrent = t.id;
    ps.connection = p.id;
    ps.request = r;
    ps.choke_generation = p.choke_generation;
    emit_storage(std::move(sr), ps);
    ++p.reads_in_flight;
  }
}

void session::impl::on_piece(torrent& t, peer_connection& p, const wire::piece_block& b) {
  const auto length = static_cast<std::uint32_t>(b.data.size());
  p.downloaded += length;
  p.down_since += length;
  t.downloaded += length;
  t.down_since += length;
  if (!t.picker) {
    t.wasted += length;
    return;
  }
  auto addr = t.picker->block_at({b.piece, b.begin, length});
  if (!addr) {
    t.wasted += length;
    return;
  }
  std::erase_if(p.requests, [&](const auto& q) { return q.block == *addr; });
  auto r = t.picker->mark_block_received(*addr, p.handle());
  if (!r.accepted) {
    t.wasted += length;
    return;
  }
  for (peer_handle other : r.cancel) {
    if (auto* o = find_peer(t, connection_id{other.value})) {
      std::erase_if(o->requests, [&](const auto& q) { return q.block == *addr; });
      send(*o, wire::cancel{b.piece, b.begin, length});
    }
  }
  auto& buffer = t.piece_buffers[b.piece.value];
  if (buffer.empty()) buffer.resize(t.picker->piece_size(b.piece));
  std::memcpy(buffer.data() + b.begin, b.data.data(), length);
  if (r.piece_complete) hash_piece(t, b.piece.value);
}

void session::impl::on_extended(torrent& t, peer_connection& p, const wire::extended& e) {
  if (e.id == 0) {
    auto h = wire::decode_extension_handshake(e.payload);
    if (!h) {
      close_peer(&t, p, h.err().code, "bad extension handshake: " + h.err().message(), true);
      return;
    }
    p.ext = std::move(h).value();
    if (p.ext->reqq) p.peer_reqq = std::max<std::uint32_t>(1, *p.ext->reqq);
    for (auto& plugin : plugins) {
      plugin->on_handshake(*this, t, p, p.ext->id_of(plugin->name()));
      if (p.dead) return;
    }
    return;
  }
  if (e.id > plugins.size()) return;  // an id we never gave out: ignore
  plugins[e.id - 1u]->on_message(*this, t, p, e.payload);
}

// --- choking -------------------------------------------------------------------------------------------

void session::impl::choke_peer(peer_connection& p) {
  if (p.am_choking) return;
  p.am_choking = true;
  p.optimistic = false;
  ++p.choke_generation;
  send(p, wire::choke{});
  if (p.fast)
    for (const auto& r : p.queued) send(p, wire::reject_request{r.piece, r.begin, r.length});
  p.queued.clear();
}

void session::impl::unchoke_peer(peer_connection& p) {
  if (!p.am_choking) return;
  p.am_choking = false;
  p.last_unchoked = now;
  send(p, wire::unchoke{});
}

void session::impl::fill_unchoke_slots(torrent& t) {
  const std::uint32_t slots = settings.unchoke_slots + (settings.optimistic_unchoke ? 1u : 0u);
  std::uint32_t unchoked = 0;
  for (const auto& [id, p] : t.peers)
    if (p.active() && !p.am_choking) ++unchoked;
  while (unchoked < slots) {
    peer_connection* best = nullptr;
    for (auto& [id, p] : t.peers) {
      if (!p.active() || !p.am_choking || !p.peer_interested) continue;
      if (!best || p.last_unchoked < best->last_unchoked) best = &p;
    }
    if (!best) return;
    unchoke_peer(*best);
    ++unchoked;
  }
}

void session::impl::run_choker(torrent& t, bool rotate_optimistic) {
  std::vector<peer_connection*> candidates;
  for (auto& [id, p] : t.peers)
    if (p.active() && p.peer_interested) candidates.push_back(&p);
  // Random order first, so that equal rates are ordered at random.
  for (std::size_t i = candidates.size(); i > 1; --i)
    std::swap(candidates[i - 1], candidates[random.next() % i]);
  const bool seeding = t.picker && t.picker->is_finished();
  std::stable_sort(candidates.begin(), candidates.end(), [&](auto* a, auto* b) {
    return seeding ? a->up_rate > b->up_rate : a->down_rate > b->down_rate;
  });
  const std::size_t regular = std::min<std::size_t>(settings.unchoke_slots, candidates.size());
  peer_connection* optimistic = nullptr;
  if (settings.optimistic_unchoke) {
    for (auto* p : candidates)
      if (p->optimistic) optimistic = p;
    if (rotate_optimistic || !optimistic) {
      peer_connection* pick = nullptr;
      for (std::size_t i = regular; i < candidates.size(); ++i) {
        auto* p = candidates[i];
        if (p == optimistic && candidates.size() > regular + 1) continue;
        if (!pick || p->last_unchoked < pick->last_unchoked) pick = p;
      }
      if (optimistic) optimistic->optimistic = false;
      optimistic = pick;
    }
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    auto* p = candidates[i];
    if (i < regular || p == optimistic) {
      unchoke_peer(*p);
      p->optimistic = (p == optimistic && i >= regular);
    } else {
      choke_peer(*p);
    }
  }
  for (auto& [id, p] : t.peers)
    if (p.active() && !p.peer_interested && !p.am_choking) choke_peer(p);
}

// --- requests ---------------------------------------------------------------------------------------------

void session::impl::request_blocks(torrent& t, peer_connection& p) {
  if (!t.picker || !p.active() || p.peer_choking || !p.am_interested) return;
  const double per_block = static_cast<double>(block_size);
  const double by_rate = p.down_rate * seconds(settings.request_queue_time) / per_block;
  std::uint32_t desired = settings.min_requests_per_peer;
  if (by_rate > desired) desired = static_cast<std::uint32_t>(std::min(by_rate, 1e6));
  desired = std::min({desired, settings.max_requests_per_peer, p.peer_reqq});
  if (p.requests.size() >= desired) return;
  pick_options opts;
  opts.count = desired - static_cast<std::uint32_t>(p.requests.size());
  opts.now = now;
  opts.request_timeout = settings.request_timeout;
  opts.max_requesters = 2;
  const auto blocks = t.picker->pick_blocks(p.handle(), p.has, opts);
  for (const auto& b : blocks) {
    const block_request r = t.picker->request_for(b);
    p.requests.push_back({b, now});
    send(p, wire::request{r.piece, r.offset, r.length});
  }
  if (blocks.empty() && p.requests.empty()) update_interest(t, p);
}

// --- pieces ------------------------------------------------------------------------------------------------

void session::impl::hash_piece(torrent& t, std::uint32_t piece) {
  auto it = t.piece_buffers.find(piece);
  if (it == t.piece_buffers.end()) return;
  byte_buffer data = std::move(it->second);
  t.piece_buffers.erase(it);
  const piece_index pi{piece};
  if (sha1(data) == t.meta->piece_hashes[piece]) {
    // Smart ban: a block that differs from the one in a failed attempt came from
    // the peer that corrupted it.
    auto failed = t.failed_blocks.find(piece);
    if (failed != t.failed_blocks.end()) {
      for (const auto& fb : failed->second) {
        const std::size_t offset = std::size_t{fb.block} * block_size;
        const std::size_t n = std::min<std::size_t>(block_size, data.size() - offset);
        if (sha1(byte_view(data).subspan(offset, n)) != fb.digest) {
          auto e = t.endpoints.find(fb.connection.value);
          ban(t, fb.endpoint, e != t.endpoints.end() ? &e->second : nullptr, fb.connection);
        }
      }
      t.failed_blocks.erase(failed);
    }
    storage_request sr;
    sr.torrent = t.id;
    sr.op = storage_op::write;
    sr.piece = pi;
    sr.offset = std::int64_t{piece} * t.meta->piece_length;
    sr.length = static_cast<std::uint32_t>(data.size());
    sr.data = std::move(data);
    pending_storage ps;
    ps.what = pending_storage::kind::write_piece;
    ps.torrent = t.id;
    ps.piece = piece;
    emit_storage(std::move(sr), ps);
    return;
  }
  const auto origins = t.picker->mark_hash_failed(pi);
  t.wasted += data.size();
  events.emplace_back(hash_failed_event{t.id, pi});
  std::set<std::uint32_t> senders;
  for (const auto& o : origins) senders.insert(o.peer.value);
  if (senders.size() == 1) {
    const connection_id c{*senders.begin()};
    if (auto e = t.endpoints.find(c.value); e != t.endpoints.end())
      ban(t, endpoint_key(e->second), &e->second, c);
    return;
  }
  auto& record = t.failed_blocks[piece];
  for (const auto& o : origins) {
    auto e = t.endpoints.find(o.peer.value);
    if (e == t.endpoints.end()) continue;
    const std::size_t offset = std::size_t{o.block} * block_size;
    const std::size_t n = std::min<std::size_t>(block_size, data.size() - offset);
    record.push_back({o.block, endpoint_key(e->second), connection_id{o.peer.value},
                      sha1(byte_view(data).subspan(offset, n))});
  }
}

void session::impl::piece_written(torrent& t, std::uint32_t piece, bool ok) {
  const piece_index pi{piece};
  if (!ok) {
    (void)t.picker->mark_hash_failed(pi);
    warn(t.id, {}, errc::ok, "storage write failed for piece " + std::to_string(piece));
    return;
  }
  t.picker->mark_verified(pi);
  t.verified += t.picker->piece_size(pi);
  storage_request sr;
  sr.torrent = t.id;
  sr.op = storage_op::mark_complete;
  sr.piece = pi;
  sr.offset = std::int64_t{piece} * t.meta->piece_length;
  emit_storage(std::move(sr), pending_storage{});
  events.emplace_back(piece_verified_event{t.id, pi});
  for (auto& [id, p] : t.peers) {
    if (!p.active()) continue;
    if (!p.has.test(piece)) send(p, wire::have{pi});
    if (p.am_interested && p.has.test(piece)) update_interest(t, p);
  }
  check_finished(t);
}

void session::impl::check_finished(torrent& t) {
  if (!t.picker) return;
  const bool finished = t.picker->is_finished();
  if (finished && !t.finished) {
    t.finished = true;
    events.emplace_back(torrent_finished_event{t.id});
    for (auto& [id, p] : t.peers) update_interest(t, p);
  } else if (!finished) {
    t.finished = false;
  }
}

void session::impl::set_metadata(torrent& t, metainfo m) {
  t.meta = std::move(m);
  t.name = t.meta->name;
  t.picker.emplace(t.meta->total_length, t.meta->piece_length, random.next());
  t.all_pieces = bitfield(t.meta->piece_count(), true);
  t.metadata.clear();
  t.metadata_pieces.clear();
  apply_file_priorities(t);
  events.emplace_back(metadata_received_event{t.id});
  const std::uint32_t n = t.meta->piece_count();
  for (auto& [id, p] : t.peers) {
    if (!p.active()) continue;
    p.reader.set_piece_count(n);
    p.has = bitfield(n);
    if (p.have_all) {
      p.have_all = false;
      on_have_all(t, p);
    } else if (p.early_bitfield) {
      byte_buffer bits = std::move(*p.early_bitfield);
      p.early_bitfield.reset();
      on_bitfield(t, p, bits);
    }
    if (p.dead) continue;
    for (std::uint32_t piece : p.early_haves) {
      if (piece >= n) {
        close_peer(&t, p, errc::wire_piece_out_of_range, "have beyond the piece count", true);
        break;
      }
      on_have(t, p, piece);
    }
    p.early_haves.clear();
    if (p.dead) continue;
    update_interest(t, p);
    request_blocks(t, p);
  }
}

void session::impl::apply_file_priorities(torrent& t) {
  if (!t.meta || !t.picker) return;
  t.file_priorities.resize(t.meta->files.size(), piece_picker::default_priority);
  std::vector<byte_range_priority> ranges;
  for (std::size_t i = 0; i < t.meta->files.size(); ++i) {
    const auto& f = t.meta->files[i];
    if (f.pad) continue;
    ranges.push_back({f.offset, f.length, t.file_priorities[i]});
  }
  t.picker->set_priorities_from_ranges(ranges);
}

// --- time -----------------------------------------------------------------------------------------------

void session::impl::tick(time_point at) {
  const double dt = ticked ? seconds(at - last_tick) : 0.0;
  last_tick = at;
  ticked = true;
  auto update_rate = [&](double& rate, std::uint64_t& since) {
    if (dt > 0) {
      const double sample = static_cast<double>(since) / dt;
      rate += (sample - rate) * std::min(1.0, dt / 2.0);
    }
    since = 0;
  };
  for (auto& [tid, t] : torrents) {
    update_rate(t.down_rate, t.down_since);
    update_rate(t.up_rate, t.up_since);
    for (auto& [cid, p] : t.peers) {
      if (p.dead) continue;
      update_rate(p.down_rate, p.down_since);
      update_rate(p.up_rate, p.up_since);
      if (!p.handshake_done) {
        if (at - p.connected_at >= settings.handshake_timeout)
          close_peer(&t, p, errc::ok, "handshake timed out", true);
        continue;
      }
      if (at - p.last_received >= settings.inactivity_timeout) {
        close_peer(&t, p, errc::ok, "inactivity timeout", true);
        continue;
      }
      if (at - p.last_sent >= settings.keepalive_interval) send(p, wire::keep_alive{});
      // Give up on requests that never came back.
      for (auto it = p.requests.begin(); it != p.requests.end();) {
        if (at - it->at >= settings.request_abandon) {
          t.picker->abort_request(it->block, p.handle());
          it = p.requests.erase(it);
        } else {
          ++it;
        }
      }
      for (auto& plugin : plugins) {
        plugin->on_tick(*this, t, p);
        if (p.dead) break;
      }
    }
    if (at >= t.next_unchoke) {
      const bool rotate = at >= t.next_optimistic;
      run_choker(t, rotate);
      t.next_unchoke = at + settings.unchoke_interval;
      if (rotate) t.next_optimistic = at + settings.optimistic_interval;
    }
    for (auto it = t.retry.begin(); it != t.retry.end();) {
      if (it->first <= at) {
        if (std::find(t.candidates.begin(), t.candidates.end(), it->second) == t.candidates.end())
          t.candidates.push_back(it->second);
        it = t.retry.erase(it);
      } else {
        ++it;
      }
    }
    connect_candidates(t);
    for (auto& [cid, p] : t.peers) request_blocks(t, p);
  }
  for (auto& [cid, p] : unattached)
    if (!p.dead && at - p.connected_at >= settings.handshake_timeout)
      close_peer(nullptr, p, errc::ok, "handshake timed out", true);
}

// --- public surface --------------------------------------------------------------------------------------

session::session(session_settings settings) : impl_(std::make_unique<impl>(std::move(settings))) {}
session::~session() = default;

const wire::peer_id& session::peer_id() const noexcept { return impl_->pid; }

result<torrent_id> session::add_torrent(const metainfo& m, add_torrent_params params, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  if (s.find_torrent(m.info_hash)) return make_error(errc::session_duplicate_torrent, 0);
  if (m.piece_count() == 0 || m.total_length <= 0)
    return make_error(errc::session_invalid_torrent, 0);
  const torrent_id id{s.next_torrent++};
  torrent& t = s.torrents[id.value];
  t.id = id;
  t.info_hash = m.info_hash;
  t.next_unchoke = s.now + s.settings.unchoke_interval;
  t.next_optimistic = s.now + s.settings.optimistic_interval;
  s.set_metadata(t, m);
  s.events.pop_back();  // no metadata_received event for a torrent added with it
  if (params.seed) {
    for (std::uint32_t i = 0; i < m.piece_count(); ++i) t.picker->we_have(piece_index{i});
    t.finished = t.picker->is_finished();
  }
  s.collect_garbage();
  return id;
}

result<torrent_id> session::add_magnet(const sha1_digest& info_hash, std::string name, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  if (s.find_torrent(info_hash)) return make_error(errc::session_duplicate_torrent, 0);
  const torrent_id id{s.next_torrent++};
  torrent& t = s.torrents[id.value];
  t.id = id;
  t.info_hash = info_hash;
  t.name = std::move(name);
  t.next_unchoke = s.now + s.settings.unchoke_interval;
  t.next_optimistic = s.now + s.settings.optimistic_interval;
  return id;
}

void session::remove_torrent(torrent_id id, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  for (auto& [cid, p] : t->peers) s.close_peer(t, p, errc::ok, "torrent removed", true);
  for (auto& [rid, ps] : s.pending)
    if (ps.torrent == id) ps.what = impl::pending_storage::kind::ignore;
  s.collect_garbage();
  for (auto it = s.owner.begin(); it != s.owner.end();)
    it = it->second == id.value ? s.owner.erase(it) : std::next(it);
  s.torrents.erase(id.value);
}

void session::add_peer(torrent_id id, const wire::endpoint& remote, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  s.add_candidate(*t, remote);
  s.collect_garbage();
}

void session::set_file_priority(torrent_id id, file_index f, std::uint8_t priority, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  if (t->file_priorities.size() <= f.value) {
    if (t->meta && f.value >= t->meta->files.size()) return;
    t->file_priorities.resize(f.value + 1, piece_picker::default_priority);
  }
  t->file_priorities[f.value] = std::min(priority, piece_picker::top_priority);
  s.apply_file_priorities(*t);
  if (t->picker) {
    s.check_finished(*t);
    for (auto& [cid, p] : t->peers) {
      s.update_interest(*t, p);
      s.request_blocks(*t, p);
    }
  }
  s.collect_garbage();
}

std::uint32_t session::register_extension(std::string name) {
  auto& s = *impl_;
  for (std::size_t i = 0; i < s.plugins.size(); ++i)
    if (s.plugins[i]->name() == name) return static_cast<std::uint32_t>(i + 1);
  const auto handle = static_cast<std::uint32_t>(s.plugins.size() + 1);
  s.plugins.push_back(std::make_unique<user_extension_plugin>(std::move(name), handle));
  return handle;
}

bool session::send_extension_message(connection_id c, std::uint32_t extension, byte_view payload,
                                     time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  auto o = s.owner.find(c.value);
  if (o == s.owner.end() || extension == 0 || extension > s.plugins.size()) return false;
  torrent* t = s.find_torrent(torrent_id{o->second});
  peer_connection* p = t ? s.find_peer(*t, c) : nullptr;
  if (!p || !p->ext) return false;
  auto id = p->ext->id_of(s.plugins[extension - 1]->name());
  if (!id) return false;
  s.send_extended(*p, *id, payload);
  return true;
}

connection_id session::accept_connection(const wire::endpoint& remote, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  const connection_id c{s.next_connection++};
  peer_connection& p = s.unattached[c.value];
  p.id = c;
  p.remote = remote;
  p.open = true;
  p.connected_at = p.last_received = p.last_sent = s.now;
  return c;
}

void session::connection_opened(connection_id c, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  auto o = s.owner.find(c.value);
  if (o == s.owner.end()) return;
  torrent* t = s.find_torrent(torrent_id{o->second});
  peer_connection* p = t ? s.find_peer(*t, c) : nullptr;
  if (!p || p->open) return;
  p->open = true;
  p->connected_at = p->last_received = s.now;
  s.send_handshake(*t, *p);
  s.collect_garbage();
}

void session::bytes_received(connection_id c, byte_view data, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  torrent* t = nullptr;
  peer_connection* p = nullptr;
  if (auto u = s.unattached.find(c.value); u != s.unattached.end()) {
    peer_connection& up = u->second;
    if (up.dead) return;
    up.last_received = s.now;
    auto r = up.hs_reader.feed(data);
    if (!r) {
      s.close_peer(nullptr, up, r.err().code, "bad handshake: " + r.err().message(), true);
      s.collect_garbage();
      return;
    }
    if (r->status == wire::parse_status::need_more) return;
    data = data.subspan(r->consumed);
    const auto hash = up.hs_reader.info_hash();
    t = hash ? s.find_torrent(*hash) : nullptr;
    if (!t) {
      s.close_peer(nullptr, up, errc::ok, "handshake for an unknown torrent", true);
      s.collect_garbage();
      return;
    }
    p = &(t->peers[c.value] = std::move(up));
    s.unattached.erase(u);
    s.owner[c.value] = t->id.value;
    s.on_handshake(*t, *p);
  } else {
    auto o = s.owner.find(c.value);
    if (o == s.owner.end()) return;
    t = s.find_torrent(torrent_id{o->second});
    p = t ? s.find_peer(*t, c) : nullptr;
    if (!p) return;
    p->last_received = s.now;
    if (!p->handshake_done) {
      auto r = p->hs_reader.feed(data);
      if (!r) {
        s.close_peer(t, *p, r.err().code, "bad handshake: " + r.err().message(), true);
        s.collect_garbage();
        return;
      }
      if (r->status == wire::parse_status::need_more) return;
      data = data.subspan(r->consumed);
      s.on_handshake(*t, *p);
    }
  }
  if (!p->dead && !data.empty()) s.feed_messages(*t, *p, data);
  s.collect_garbage();
}

void session::connection_closed(connection_id c, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  if (auto u = s.unattached.find(c.value); u != s.unattached.end()) {
    s.close_peer(nullptr, u->second, errc::ok, "closed by the host", false);
  } else if (auto o = s.owner.find(c.value); o != s.owner.end()) {
    torrent* t = s.find_torrent(torrent_id{o->second});
    if (peer_connection* p = t ? s.find_peer(*t, c) : nullptr)
      s.close_peer(t, *p, errc::ok, "closed by the host", false);
  }
  s.collect_garbage();
}

void session::on_timer(time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  if (s.ticked && s.now < s.next_tick) return;
  s.tick(s.now);
  s.next_tick = s.now + s.settings.tick_interval;
  s.collect_garbage();
}

std::optional<time_point> session::next_deadline() const {
  const auto& s = *impl_;
  if (s.torrents.empty() && s.unattached.empty()) return std::nullopt;
  return s.ticked ? s.next_tick : s.now;
}

void session::storage_completed(storage_completion c, time_point now) {
  auto& s = *impl_;
  s.now = std::max(s.now, now);
  auto it = s.pending.find(c.id.value);
  if (it == s.pending.end()) return;
  const impl::pending_storage ps = it->second;
  s.pending.erase(it);
  torrent* t = s.find_torrent(ps.torrent);
  if (!t) return;
  switch (ps.what) {
    case impl::pending_storage::kind::ignore: break;
    case impl::pending_storage::kind::write_piece: s.piece_written(*t, ps.piece, c.ok); break;
    case impl::pending_storage::kind::read_block: {
      peer_connection* p = s.find_peer(*t, ps.connection);
      if (!p) break;
      if (p->reads_in_flight > 0) --p->reads_in_flight;
      const auto& r = ps.request;
      auto cancelled = std::find(p->cancelled.begin(), p->cancelled.end(), r);
      if (cancelled != p->cancelled.end()) {
        p->cancelled.erase(cancelled);
        if (p->fast) s.send(*p, wire::reject_request{r.piece, r.begin, r.length});
      } else if (!c.ok || c.data.size() != r.length) {
        s.warn(t->id, p->id, errc::ok, "storage read failed");
        if (p->fast) s.send(*p, wire::reject_request{r.piece, r.begin, r.length});
      } else if (ps.choke_generation == p->choke_generation && !p->am_choking) {
        s.send(*p, wire::piece_block{r.piece, r.begin, c.data});
        p->uploaded += r.length;
        p->up_since += r.length;
        t->uploaded += r.length;
        t->up_since += r.length;
      }
      if (p->reads_in_flight == 0) p->cancelled.clear();
      s.pump_reads(*t, *p);
      break;
    }
  }
  s.collect_garbage();
}

std::optional<transmit> session::poll_transmit() {
  auto& s = *impl_;
  if (!s.final_transmits.empty()) {
    transmit tx = std::move(s.final_transmits.front());
    s.final_transmits.pop_front();
    return tx;
  }
  while (!s.dirty.empty()) {
    const std::uint32_t c = s.dirty.front();
    s.dirty.pop_front();
    auto o = s.owner.find(c);
    peer_connection* p = nullptr;
    if (o != s.owner.end()) {
      if (torrent* t = s.find_torrent(torrent_id{o->second})) p = s.find_peer(*t, connection_id{c});
    } else if (auto u = s.unattached.find(c); u != s.unattached.end() && !u->second.dead) {
      p = &u->second;
    }
    if (!p || p->out.empty()) continue;
    transmit tx{p->id, std::move(p->out)};
    p->out = byte_buffer{};
    return tx;
  }
  return std::nullopt;
}

template <class T>
static std::optional<T> pop_front(std::deque<T>& q) {
  if (q.empty()) return std::nullopt;
  T v = std::move(q.front());
  q.pop_front();
  return v;
}

std::optional<close_request> session::poll_close() { return pop_front(impl_->closes); }
std::optional<connect_request> session::poll_connect() { return pop_front(impl_->connects); }
std::optional<storage_request> session::poll_storage() { return pop_front(impl_->storage); }
std::optional<session_event> session::poll_event() { return pop_front(impl_->events); }

std::optional<torrent_stats> session::stats(torrent_id id) const {
  auto& s = *impl_;
  torrent* t = s.find_torrent(id);
  if (!t) return std::nullopt;
  torrent_stats st;
  st.downloaded = t->downloaded;
  st.uploaded = t->uploaded;
  st.verified = t->verified;
  st.wasted = t->wasted;
  st.download_rate = t->down_rate;
  st.upload_rate = t->up_rate;
  st.has_metadata = t->meta.has_value();
  st.finished = t->finished;
  for (const auto& [cid, p] : t->peers) {
    if (!p.active()) continue;
    ++st.peers;
    if (p.have_all || (!p.has.empty() && p.num_have == p.has.size())) ++st.seeds;
  }
  if (t->picker) {
    st.have = t->picker->bytes_have();
    st.total = t->picker->total_length();
    const auto wanted = t->picker->bytes_wanted();
    st.progress = wanted > 0 ? 1.0 - static_cast<double>(t->picker->bytes_left()) / static_cast<double>(wanted) : 1.0;
    if (t->down_rate > 1.0)
      st.time_remaining = std::chrono::duration_cast<duration>(std::chrono::duration<double>(
          static_cast<double>(t->picker->bytes_left()) / t->down_rate));
  }
  return st;
}

std::vector<peer_stats> session::peers(torrent_id id) const {
  std::vector<peer_stats> out;
  torrent* t = impl_->find_torrent(id);
  if (!t) return out;
  for (const auto& [cid, p] : t->peers) {
    if (!p.active()) continue;
    peer_stats ps;
    ps.connection = p.id;
    ps.remote = p.remote;
    ps.outgoing = p.outgoing;
    ps.downloaded = p.downloaded;
    ps.uploaded = p.uploaded;
    ps.download_rate = p.down_rate;
    ps.upload_rate = p.up_rate;
    ps.am_choking = p.am_choking;
    ps.am_interested = p.am_interested;
    ps.peer_choking = p.peer_choking;
    ps.peer_interested = p.peer_interested;
    ps.pieces = p.num_have;
    ps.outstanding_requests = static_cast<std::uint32_t>(p.requests.size());
    out.push_back(ps);
  }
  return out;
}

const metainfo* session::torrent_metainfo(torrent_id id) const {
  torrent* t = impl_->find_torrent(id);
  return t && t->meta ? &*t->meta : nullptr;
}

std::optional<bitfield> session::have_pieces(torrent_id id) const {
  torrent* t = impl_->find_torrent(id);
  if (!t || !t->picker) return std::nullopt;
  return t->picker->have_pieces();
}

std::vector<torrent_id> session::torrents() const {
  std::vector<torrent_id> out;
  for (const auto& [id, t] : impl_->torrents) out.push_back(t.id);
  return out;
}

}  // namespace wt
