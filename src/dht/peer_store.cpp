#include "dht/peer_store.hpp"

#include <algorithm>

#include "base/crypto.hpp"

namespace wt::dht {

token_keeper::token_keeper(rng& random, duration rotation) : random_(random), rotation_(rotation) {}

token_keeper::secret token_keeper::fresh_secret() {
  secret s{};
  for (std::size_t i = 0; i < s.size(); i += 8) {
    const std::uint64_t word = random_.next();
    for (std::size_t j = 0; j < 8; ++j) s[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
  }
  return s;
}

void token_keeper::on_timer(time_point now) {
  if (!started_) {
    current_ = fresh_secret();
    previous_ = fresh_secret();
    rotated_at_ = now;
    started_ = true;
    return;
  }
  if (now - rotated_at_ < rotation_) return;
  // Tokens from two rotations ago are refused: a secret lives for two periods at most.
  previous_ = now - rotated_at_ >= 2 * rotation_ ? fresh_secret() : current_;
  current_ = fresh_secret();
  rotated_at_ = now;
}

byte_buffer token_keeper::token_for(const wire::endpoint& querier, const secret& s) {
  // The address only: a querier's port may change between get_peers and announce_peer
  // behind a NAT.
  byte_buffer input(querier.address.begin(), querier.address.begin() + (querier.v6 ? 16 : 4));
  input.insert(input.end(), s.begin(), s.end());
  const auto digest = sha1(input);
  return byte_buffer(digest.begin(), digest.begin() + token_size);
}

byte_buffer token_keeper::make(const wire::endpoint& querier, time_point now) {
  on_timer(now);
  return token_for(querier, current_);
}

bool token_keeper::check(const wire::endpoint& querier, byte_view token, time_point now) {
  on_timer(now);
  if (token.size() != token_size) return false;
  const auto equal = [&](const secret& s) {
    const auto expected = token_for(querier, s);
    return std::equal(expected.begin(), expected.end(), token.begin(), token.end());
  };
  return equal(current_) || equal(previous_);
}

peer_store::peer_store(peer_store_settings settings) : settings_(settings) {}

bool peer_store::announce(const node_id& info_hash, const wire::endpoint& peer, time_point now) {
  auto it = torrents_.find(info_hash);
  if (it == torrents_.end()) {
    if (torrents_.size() >= settings_.max_info_hashes) expire(now);
    if (torrents_.size() >= settings_.max_info_hashes) return false;
    it = torrents_.emplace(info_hash, std::vector<stored_peer>{}).first;
  }
  auto& list = it->second;
  std::erase_if(list, [&](const stored_peer& p) { return p.ep == peer; });
  if (list.size() >= settings_.max_peers_per_hash) list.erase(list.begin());
  list.push_back({peer, now});
  return true;
}

std::vector<wire::endpoint> peer_store::peers(const node_id& info_hash, time_point now) const {
  std::vector<wire::endpoint> out;
  const auto it = torrents_.find(info_hash);
  if (it == torrents_.end()) return out;
  for (auto p = it->second.rbegin(); p != it->second.rend(); ++p) {
    if (out.size() >= settings_.max_values_per_reply) break;
    if (now - p->announced < settings_.peer_lifetime) out.push_back(p->ep);
  }
  return out;
}

void peer_store::expire(time_point now) {
  for (auto it = torrents_.begin(); it != torrents_.end();) {
    std::erase_if(it->second,
                  [&](const stored_peer& p) { return now - p.announced >= settings_.peer_lifetime; });
    it = it->second.empty() ? torrents_.erase(it) : std::next(it);
  }
}

std::size_t peer_store::peer_count(const node_id& info_hash) const {
  const auto it = torrents_.find(info_hash);
  return it == torrents_.end() ? 0 : it->second.size();
}

}  // namespace wt::dht
