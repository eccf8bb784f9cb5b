// The addresses a torrent may dial and has not: learnt ones waiting their turn (first learnt,
// first dialled) and closed peers waiting out a reconnect back-off. Each address is held once,
// found in constant time (a tracker may name 10,000 peers, the DHT and ut_pex keep adding),
// and at most 10,000 are held: a long-lived torrent in a big swarm keeps learning
// addresses faster than it can dial them, and every one it keeps costs memory for good.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "session/session.hpp"
#include "wire/wire.hpp"

namespace wt {

struct endpoint_hash {
  std::size_t operator()(const wire::endpoint& e) const noexcept {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    const auto mix = [&](std::uint8_t b) { h = (h ^ b) * 1099511628211ull; };
    for (std::uint8_t b : e.address) mix(b);
    mix(static_cast<std::uint8_t>(e.port));
    mix(static_cast<std::uint8_t>(e.port >> 8));
    mix(e.v6);
    return static_cast<std::size_t>(h);
  }
};

class dial_queue {
 public:
  struct entry {
    wire::endpoint address;
    peer_source source = peer_source::manual;
  };

  static constexpr std::size_t capacity = 10'000;

  bool holds(const wire::endpoint& e) const { return held_.contains(e); }
  bool full() const { return held_.size() >= capacity; }
  // Neither waiting nor backing off: nothing to dial now.
  bool empty() const { return due_.empty(); }

  // Queued to dial after those before it (first: before them). False when held already, or full.
  bool add(const wire::endpoint& e, peer_source source, bool first = false) {
    if (holds(e) || full()) return false;
    held_.emplace(e, source);
    if (first) due_.push_front(e);
    else due_.push_back(e);
    return true;
  }
  // Dialled again at `at` (a closed peer's back-off), unless held already or full.
  bool add_later(const wire::endpoint& e, peer_source source, time_point at) {
    if (holds(e) || full()) return false;
    held_.emplace(e, source);
    later_.emplace_back(at, e);
    return true;
  }
  // Those whose back-off ended by `now` (every one for nullopt) join the addresses to dial.
  void wake(std::optional<time_point> now) {
    std::erase_if(later_, [&](const auto& l) {
      if (now && l.first > *now) return false;
      due_.push_back(l.second);
      return true;
    });
  }
  // An address backing off is the next to dial; false when it is not backing off.
  bool hurry(const wire::endpoint& e) {
    const auto it = std::find_if(later_.begin(), later_.end(), [&](const auto& l) { return l.second == e; });
    if (it == later_.end()) return false;
    later_.erase(it);
    due_.push_front(e);
    return true;
  }
  // The next address to dial, no longer held.
  std::optional<entry> next() {
    if (due_.empty()) return std::nullopt;
    const wire::endpoint e = due_.front();
    due_.pop_front();
    auto it = held_.find(e);
    const entry out{e, it->second};
    held_.erase(it);
    return out;
  }
  // Drops the addresses `drop` says to (a ban, a removal, an IP filter), asked of each in
  // turn: those waiting in order, then those backing off. Returns how many.
  std::size_t drop_if(const std::function<bool(const entry&)>& drop) {
    const std::size_t before = held_.size();
    const auto dropped = [&](const wire::endpoint& e) {
      auto it = held_.find(e);
      if (!drop(entry{e, it->second})) return false;
      held_.erase(it);
      return true;
    };
    std::erase_if(due_, dropped);
    std::erase_if(later_, [&](const auto& l) { return dropped(l.second); });
    return before - held_.size();
  }
  // The addresses waiting to be dialled (not those backing off), in order.
  template <class F>
  void for_each_due(F&& f) const {
    for (const auto& e : due_) f(entry{e, held_.at(e)});
  }

 private:
  std::unordered_map<wire::endpoint, peer_source, endpoint_hash> held_;
  std::deque<wire::endpoint> due_;
  std::vector<std::pair<time_point, wire::endpoint>> later_;
};

}  // namespace wt
