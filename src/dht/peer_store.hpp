// What a DHT node keeps for others: the write tokens it hands out with get_peers, and the
// peers announced to it per info-hash, both bounded so that no querier can make it store
// without limit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "dht/krpc.hpp"

namespace wt::dht {

// Tokens (BEP 5): a hash of the querier's IP address and a secret that changes every
// `rotation`; a token made with the current or the previous secret is accepted, so a
// token lives 5 to 10 minutes. Nothing is stored per querier.
class token_keeper {
 public:
  static constexpr std::size_t token_size = 8;

  token_keeper(rng& random, duration rotation = std::chrono::minutes(5));
  // Rotates the secret when due (also done by make/check).
  void on_timer(time_point now);
  time_point next_rotation() const noexcept { return rotated_at_ + rotation_; }

  byte_buffer make(const wire::endpoint& querier, time_point now);
  bool check(const wire::endpoint& querier, byte_view token, time_point now);

 private:
  using secret = std::array<std::uint8_t, 16>;
  secret fresh_secret();
  static byte_buffer token_for(const wire::endpoint& querier, const secret& s);

  rng& random_;
  duration rotation_;
  secret current_{};
  secret previous_{};
  time_point rotated_at_{};
  bool started_ = false;
};

struct peer_store_settings {
  std::size_t max_info_hashes = 2000;
  std::size_t max_peers_per_hash = 100;
  std::size_t max_values_per_reply = 50;   // keeps a get_peers answer within one datagram
  duration peer_lifetime = std::chrono::minutes(30);
};

class peer_store {
 public:
  explicit peer_store(peer_store_settings settings = {});

  // False when the store holds max_info_hashes others (after dropping expired entries).
  // A known peer is refreshed; a full list drops its oldest peer.
  bool announce(const node_id& info_hash, const wire::endpoint& peer, time_point now);
  // Up to max_values_per_reply live peers, most recently announced first.
  std::vector<wire::endpoint> peers(const node_id& info_hash, time_point now) const;
  // Drops expired peers and empty info-hashes.
  void expire(time_point now);

  std::size_t info_hash_count() const noexcept { return torrents_.size(); }
  std::size_t peer_count(const node_id& info_hash) const;
  const peer_store_settings& settings() const noexcept { return settings_; }

 private:
  struct stored_peer {
    wire::endpoint ep;
    time_point announced{};
  };
  peer_store_settings settings_;
  std::map<node_id, std::vector<stored_peer>> torrents_;  // each list oldest first
};

}  // namespace wt::dht
