#include "dht/routing_table.hpp"

#include <algorithm>

#include "dht/node_id.hpp"

namespace wt::dht {

routing_table::routing_table(const node_id& own, routing_settings settings)
    : own_(own), settings_(settings), buckets_(1) {}

node_state routing_table::state(const node_entry& n, time_point now) const noexcept {
  if (n.failures >= settings_.bad_after_failures) return node_state::bad;
  if (!n.answered) return node_state::questionable;
  // BEP 5: good while it answered us, or queried us after having answered once, within
  // the last 15 minutes.
  if (now - n.last_answer < settings_.questionable_after ||
      now - n.last_query < settings_.questionable_after)
    return node_state::good;
  return node_state::questionable;
}

std::size_t routing_table::bucket_index(const node_id& id) const noexcept {
  const auto shared = static_cast<std::size_t>(common_prefix_bits(own_, id));
  return std::min(shared, buckets_.size() - 1);
}

node_entry* routing_table::locate(const node_id& id) {
  auto& b = buckets_[bucket_index(id)];
  for (auto& n : b.nodes)
    if (n.id == id) return &n;
  return nullptr;
}

const node_entry* routing_table::find(const node_id& id) const {
  const auto& b = buckets_[bucket_index(id)];
  for (const auto& n : b.nodes)
    if (n.id == id) return &n;
  return nullptr;
}

void routing_table::split_last() {
  const std::size_t last = buckets_.size() - 1;
  buckets_.emplace_back();
  auto& old_bucket = buckets_[last];
  auto& new_bucket = buckets_[last + 1];
  new_bucket.last_changed = old_bucket.last_changed;
  const auto moves = [&](const node_entry& n) {
    return static_cast<std::size_t>(common_prefix_bits(own_, n.id)) > last;
  };
  for (auto* list : {&old_bucket.nodes, &old_bucket.replacements}) {
    auto& target = list == &old_bucket.nodes ? new_bucket.nodes : new_bucket.replacements;
    auto keep = std::stable_partition(list->begin(), list->end(),
                                      [&](const node_entry& n) { return !moves(n); });
    target.insert(target.end(), keep, list->end());
    list->erase(keep, list->end());
  }
  // Room made on either side is filled from the replacements, most recent first.
  for (auto* b : {&old_bucket, &new_bucket}) {
    while (b->nodes.size() < settings_.bucket_size && !b->replacements.empty()) {
      b->nodes.push_back(b->replacements.back());
      b->replacements.pop_back();
    }
  }
}

routing_table::insert_result routing_table::node_answered(const node_info& n, time_point now,
                                                          bool answered) {
  if (n.id == own_ || n.ep.v6 != settings_.ipv6) return insert_result::rejected;
  if (auto* known = locate(n.id)) {
    if (!(known->ep == n.ep)) return insert_result::rejected;  // keep the address we verified
    if (answered) {
      known->answered = true;
      known->last_answer = now;
      known->failures = 0;
      buckets_[bucket_index(n.id)].last_changed = now;
    }
    return insert_result::updated;
  }
  // One entry per endpoint: a host cannot fill the table with made-up ids.
  for (const auto& b : buckets_)
    for (const auto& other : b.nodes)
      if (other.ep == n.ep) return insert_result::rejected;

  node_entry entry;
  entry.id = n.id;
  entry.ep = n.ep;
  entry.answered = answered;
  if (answered) entry.last_answer = now;

  for (;;) {
    const std::size_t i = bucket_index(n.id);
    auto& b = buckets_[i];
    if (b.nodes.size() < settings_.bucket_size) {
      b.nodes.push_back(entry);
      b.last_changed = now;
      return insert_result::added;
    }
    const auto bad = std::find_if(b.nodes.begin(), b.nodes.end(), [&](const node_entry& e) {
      return state(e, now) == node_state::bad;
    });
    if (bad != b.nodes.end()) {
      *bad = entry;
      b.last_changed = now;
      return insert_result::replaced_bad;
    }
    // Only the last bucket covers our own id: split it while ids remain to split on.
    if (i == buckets_.size() - 1 && buckets_.size() < 160) {
      split_last();
      continue;
    }
    auto& candidates = b.replacements;
    std::erase_if(candidates, [&](const node_entry& e) { return e.id == n.id || e.ep == n.ep; });
    const auto insecure = settings_.prefer_secure_ids && answered && secure_id_valid(n.id, n.ep)
                              ? std::find_if(b.nodes.begin(), b.nodes.end(),
                                             [](const node_entry& e) { return !secure_id_valid(e.id, e.ep); })
                              : b.nodes.end();
    auto result = insert_result::replacement;
    if (insecure != b.nodes.end()) {
      std::swap(*insecure, entry);  // the displaced node becomes the candidate below
      b.last_changed = now;
      result = insert_result::replaced_insecure;
    }
    candidates.push_back(entry);
    if (candidates.size() > settings_.replacements) candidates.erase(candidates.begin());
    return result;
  }
}

void routing_table::node_queried(const node_info& n, time_point now) {
  if (auto* known = locate(n.id); known && known->ep == n.ep) known->last_query = now;
}

bool routing_table::has_room_for(const node_id& id, time_point now) const {
  if (id == own_ || find(id)) return false;
  const std::size_t i = bucket_index(id);
  const auto& b = buckets_[i];
  if (b.nodes.size() < settings_.bucket_size) return true;
  if (i == buckets_.size() - 1 && buckets_.size() < 160) return true;
  return std::any_of(b.nodes.begin(), b.nodes.end(),
                     [&](const node_entry& e) { return state(e, now) == node_state::bad; });
}

void routing_table::node_failed(const node_id& id, const wire::endpoint& ep) {
  auto& b = buckets_[bucket_index(id)];
  std::erase_if(b.replacements, [&](const node_entry& e) { return e.id == id; });
  for (auto& n : b.nodes) {
    if (n.id != id || !(n.ep == ep)) continue;
    ++n.failures;
    if (n.failures >= settings_.bad_after_failures && !b.replacements.empty()) {
      n = b.replacements.back();
      b.replacements.pop_back();
    }
    return;
  }
}

void routing_table::node_renamed(const wire::endpoint& ep, const node_id& id) {
  for (auto& b : buckets_) {
    std::erase_if(b.replacements, [&](const node_entry& e) { return e.ep == ep && e.id != id; });
    const auto old = std::find_if(b.nodes.begin(), b.nodes.end(), [&](const node_entry& e) { return e.ep == ep && e.id != id; });
    if (old == b.nodes.end()) continue;
    b.nodes.erase(old);
    if (!b.replacements.empty()) {
      b.nodes.push_back(b.replacements.back());
      b.replacements.pop_back();
    }
    return;
  }
}

const node_entry* routing_table::at_endpoint(const wire::endpoint& ep) const {
  for (const auto& b : buckets_)
    for (const auto& n : b.nodes)
      if (n.ep == ep) return &n;
  return nullptr;
}

std::vector<node_info> routing_table::closest(const node_id& target, std::size_t count,
                                              time_point now) const {
  std::vector<node_info> all;
  for (const auto& b : buckets_)
    for (const auto& n : b.nodes)
      if (state(n, now) != node_state::bad) all.push_back({n.id, n.ep});
  const auto by_distance = [&](const node_info& a, const node_info& b) {
    return closer(a.id, b.id, target);
  };
  if (all.size() > count) {
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count), all.end(),
                      by_distance);
    all.resize(count);
  } else {
    std::sort(all.begin(), all.end(), by_distance);
  }
  return all;
}

std::size_t routing_table::size() const noexcept {
  std::size_t total = 0;
  for (const auto& b : buckets_) total += b.nodes.size();
  return total;
}

std::size_t routing_table::good_count(time_point now) const {
  std::size_t total = 0;
  for (const auto& b : buckets_)
    for (const auto& n : b.nodes)
      if (state(n, now) == node_state::good) ++total;
  return total;
}

std::vector<node_entry> routing_table::all_nodes() const {
  std::vector<node_entry> out;
  for (const auto& b : buckets_) out.insert(out.end(), b.nodes.begin(), b.nodes.end());
  return out;
}

std::vector<node_info> routing_table::nodes_to_ping(time_point now, duration interval) {
  std::vector<node_info> out;
  for (auto& b : buckets_) {
    const node_entry* pick = nullptr;
    for (const auto& n : b.nodes) {
      if (state(n, now) != node_state::questionable) continue;
      if (n.pinged_at != time_point{} && now - n.pinged_at < interval) continue;
      if (!pick || n.pinged_at < pick->pinged_at) pick = &n;
    }
    if (pick) out.push_back({pick->id, pick->ep});
  }
  return out;
}

void routing_table::mark_pinged(const node_id& id, time_point now) {
  if (auto* n = locate(id)) n->pinged_at = now;
}

std::vector<std::size_t> routing_table::stale_buckets(time_point now, duration refresh) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    if (now - buckets_[i].last_changed >= refresh) out.push_back(i);
  return out;
}

void routing_table::mark_refreshed(std::size_t i, time_point now) {
  if (i < buckets_.size()) buckets_[i].last_changed = now;
}

node_id routing_table::id_in_bucket(std::size_t i, const node_id& random) const {
  // The first i bits are ours; bit i differs from ours unless i is the last bucket.
  node_id id = random;
  const bool last = i + 1 >= buckets_.size();
  for (std::size_t bit = 0; bit <= i && bit < 160; ++bit) {
    const auto byte = bit / 8;
    const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    bool value = (own_[byte] & mask) != 0;
    if (bit == i) {
      if (last) break;
      value = !value;
    }
    id[byte] = static_cast<std::uint8_t>(value ? (id[byte] | mask) : (id[byte] & ~mask));
  }
  return id;
}

}  // namespace wt::dht
