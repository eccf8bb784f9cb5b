#include "host/encryption.hpp"

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/crypto.hpp"
#include "base/random.hpp"
#include "wire/mse.hpp"

namespace wt {

namespace {

// A connection's state: an MSE stream, or a plain redial (no stream).
struct mse_peer final : encryption_state {
  std::optional<mse::stream> stream;
  std::optional<wire::endpoint> remote;  // a dial's address
  // A dial with MSE until the peer's BitTorrent handshake: the session's bytes so far (a
  // plain redial replays them) and when the attempt has failed.
  bool connected = false;
  byte_buffer sent;
  std::optional<time_point> deadline;
  // A plain redial: the session's bytes to send once its socket opens.
  byte_buffer replay;
};

mse::policy mse_policy(encryption_policy p) {
  mse::policy m;
  switch (p) {
    case encryption_policy::plain: break;  // (answering only) both methods, RC4 preferred
    case encryption_policy::prefer_plaintext: m.prefer_plaintext = true; break;
    case encryption_policy::prefer_rc4: break;
    case encryption_policy::rc4_only: m.methods = mse::method_rc4; break;
    case encryption_policy::required:
      m.methods = mse::method_rc4;
      m.require = true;
      break;
  }
  return m;
}

}  // namespace

class mse_connections final : public peer_encryption {
 public:
  explicit mse_connections(const client_settings& s)
      : policy_(s.encryption), timeout_(s.encryption_timeout), key_rng_(s.session.seed ^ 0x6d73655fu),
        entropy_(s.encryption_entropy) {}

  void accepted(client& c, host_peer p) override {
    auto state = std::make_unique<mse_peer>();
    // Its torrent is any of ours that is not paused (looked up once it names one).
    auto lookup = [&c](const sha1_digest& req2) -> std::optional<sha1_digest> {
      for (const auto& [t, ts] : c.torrents_)
        if (!ts.paused && mse::req2_hash(ts.info_hash) == req2) return ts.info_hash;
      return std::nullopt;
    };
    state->stream = mse::stream::incoming(std::move(lookup), mse_policy(policy_), private_key(), key_rng_.next());
    c.peers_[p.value].mse = std::move(state);
  }

  void dialling(client& c, host_peer p, torrent_id t, const wire::endpoint& remote) override {
    if (policy_ == encryption_policy::plain) return;
    if (falls_back_to_plain() && plain_only_.contains(wire::to_string(remote))) return;
    auto ts = c.torrents_.find(t);
    if (ts == c.torrents_.end()) return;
    auto state = std::make_unique<mse_peer>();
    state->remote = remote;
    state->stream = mse::stream::outgoing(ts->second.info_hash, mse_policy(policy_), private_key(), key_rng_.next());
    c.peers_[p.value].mse = std::move(state);
  }

  bool opened(client& c, host_peer p, time_point now) override {
    mse_peer* m = state_of(c, p);
    if (!m) return false;
    if (!m->stream) {  // a plain redial: the connection's socket is this one from now on
      const auto& s = c.peers_[p.value];
      if (s.connection) c.out_.push_back(client_event{peer_channel_event{s.torrent, p, *s.connection, true, false, true}});
      if (!m->replay.empty()) c.send_to_peer(p, std::exchange(m->replay, {}));
      return true;
    }
    c.send_to_peer(p, m->stream->take_output());  // Ya
    m->deadline = now + timeout_;
    return false;
  }

  void received(client& c, host_peer p, byte_view data, time_point now) override {
    auto it = c.peers_.find(p.value);
    if (it == c.peers_.end()) return;
    const std::optional<connection_id> conn = it->second.connection;
    mse_peer* m = state_of(c, p);
    if (!m || !m->stream || clear(*m)) {  // nothing to decrypt
      if (conn) c.session_.bytes_received(*conn, data, now);
      return;
    }
    const bool ok = m->stream->receive(data);
    c.send_to_peer(p, m->stream->take_output());  // its replies, and the held bytes once done
    if (!ok) {
      const std::string why = m->stream->error();
      if (!redial_plain(c, p)) drop(c, p, why, now);
      return;
    }
    const byte_buffer plain = m->stream->take_received();
    if (conn && !plain.empty()) c.session_.bytes_received(*conn, plain, now);
    // A plain BitTorrent handshake: nothing more to do for the connection.
    if (m->stream->status() == mse::stream::state::done && m->stream->method() == 0) it->second.mse.reset();
  }

  void sending(client& c, host_peer p, byte_buffer data) override {
    mse_peer* m = state_of(c, p);
    if (!m) return c.send_to_peer(p, std::move(data));
    if (!m->stream) {
      if (!c.peers_[p.value].open) {  // after the replayed bytes, once the redial opens
        m->replay.insert(m->replay.end(), data.begin(), data.end());
        return;
      }
      return c.send_to_peer(p, std::move(data));
    }
    if (m->remote && !m->connected) m->sent.insert(m->sent.end(), data.begin(), data.end());
    if (clear(*m)) return c.send_to_peer(p, std::move(data));
    m->stream->send(data);
    c.send_to_peer(p, m->stream->take_output());
  }

  bool closed(client& c, host_peer p, time_point now) override {
    (void)now;
    return redial_plain(c, p);  // a plain-only peer hung up on our MSE handshake
  }

  void connected(client& c, peer_connected_event& e) override {
    auto pc = c.peer_of_connection_.find(e.connection.value);
    if (pc == c.peer_of_connection_.end()) return;
    mse_peer* m = state_of(c, host_peer{pc->second});
    if (!m) return;
    if (m->stream) {
      if (m->stream->status() == mse::stream::state::done) e.encryption = static_cast<std::uint8_t>(m->stream->method());
      m->connected = true;
      m->sent = {};
      m->deadline.reset();
    } else if (m->remote) {
      // A plain redial that worked: the address is dialled plain from now on (not on a
      // failure alone: a peer that refused a connection for another reason may take MSE).
      if (plain_only_.size() >= 4096) plain_only_.clear();  // bounded; forgetting costs one MSE try
      plain_only_.insert(wire::to_string(*m->remote));
    }
  }

  void on_timer(client& c, time_point now) override {
    std::vector<host_peer> stalled;
    for (const auto& [id, s] : c.peers_)
      if (auto* m = static_cast<mse_peer*>(s.mse.get()); m && m->deadline && *m->deadline <= now)
        stalled.push_back(host_peer{id});
    for (host_peer p : stalled)
      if (!redial_plain(c, p)) drop(c, p, "encryption: the peer did not complete its handshake in time", now);
  }

  std::optional<time_point> next_deadline(const client& c) const override {
    std::optional<time_point> next;
    for (const auto& [id, s] : c.peers_)
      if (auto* m = static_cast<const mse_peer*>(s.mse.get()); m && m->deadline)
        next = next ? std::min(*next, *m->deadline) : m->deadline;
    return next;
  }

 private:
  // The handshake is done and the payload goes in clear (plaintext selected).
  static bool clear(const mse_peer& m) {
    return m.stream->status() == mse::stream::state::done && m.stream->method() != mse::method_rc4;
  }

  static mse_peer* state_of(client& c, host_peer p) {
    auto it = c.peers_.find(p.value);
    return it == c.peers_.end() ? nullptr : static_cast<mse_peer*>(it->second.mse.get());  // its only kind
  }

  // A dial with MSE that has not met its peer: the same connection of the session on a new
  // socket, in plain BitTorrent, with the session's bytes so far. False when not allowed.
  bool redial_plain(client& c, host_peer p) {
    mse_peer* old = state_of(c, p);
    if (!old || !old->stream || !old->remote || old->connected || !falls_back_to_plain()) return false;
    const auto& old_state = c.peers_[p.value];
    if (!old_state.connection) return false;
    const torrent_id torrent = old_state.torrent;
    const connection_id connection = *old_state.connection;
    const wire::endpoint remote = *old->remote;
    byte_buffer replay = std::move(old->sent);
    // The old socket or uTP connection closed (a no-op for the host when it closed it itself).
    c.close_peer(p, "encryption failed: dialling again without");
    const host_peer fresh{c.next_peer_++};
    auto& s = c.peers_[fresh.value];
    s.torrent = torrent;
    s.dialled = true;
    s.connection = connection;
    auto state = std::make_unique<mse_peer>();
    state->remote = remote;
    state->replay = std::move(replay);
    s.mse = std::move(state);
    c.peer_of_connection_[connection.value] = fresh.value;
    c.out_.push_back(client_out::connect{fresh, remote});  // over TCP
    return true;
  }

  // Closes the socket and tells the session.
  static void drop(client& c, host_peer p, std::string reason, time_point now) {
    auto it = c.peers_.find(p.value);
    if (it == c.peers_.end()) return;
    if (auto conn = it->second.connection) c.session_.connection_closed(*conn, now);
    c.close_peer(p, std::move(reason));
  }

  // A Diffie-Hellman private key (256 bits) per connection: SHA-256 of the host's entropy and
  // a number from the seeded generator (the entropy keeps keys unguessable from the seed).
  sha256_digest private_key() {
    std::array<std::uint8_t, 40> material{};
    std::memcpy(material.data(), entropy_.data(), entropy_.size());
    const std::uint64_t n = key_rng_.next();
    std::memcpy(material.data() + entropy_.size(), &n, sizeof n);
    return sha256(material);
  }

  // A dial whose MSE handshake fails is made again in plain BitTorrent.
  bool falls_back_to_plain() const {
    return policy_ != encryption_policy::rc4_only && policy_ != encryption_policy::required;
  }

  encryption_policy policy_;
  duration timeout_;
  rng key_rng_;
  std::array<std::uint8_t, 32> entropy_{};
  std::set<std::string> plain_only_;  // addresses where a plain redial worked (dialled plain)
};

std::unique_ptr<peer_encryption> make_peer_encryption(const client_settings& settings) {
  return std::make_unique<mse_connections>(settings);
}

}  // namespace wt
