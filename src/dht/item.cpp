#include "dht/item.hpp"

#include <algorithm>
#include <string>

#include "base/crypto.hpp"
#include "base/ed25519.hpp"
#include "bencode/bencode.hpp"

namespace wt::dht {

node_id mutable_target(const public_key& key, byte_view salt) {
  byte_buffer input(key.begin(), key.end());
  input.insert(input.end(), salt.begin(), salt.end());
  return sha1(input);
}

node_id item_target(const item& it) {
  return it.key ? mutable_target(*it.key, it.salt) : sha1(it.value);
}

byte_buffer signature_data(byte_view salt, std::int64_t seq, byte_view value) {
  byte_buffer out;
  const auto append = [&](std::string_view text) { out.insert(out.end(), text.begin(), text.end()); };
  if (!salt.empty()) {
    append("4:salt" + std::to_string(salt.size()) + ":");
    out.insert(out.end(), salt.begin(), salt.end());
  }
  append("3:seqi" + std::to_string(seq) + "e1:v");
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

std::optional<error_reply> check_item(const item& it) {
  if (it.value.size() > max_item_value) return error_reply{error_value_too_big, "message (v field) too big"};
  bencode::limits lim;
  lim.max_depth = 16;
  lim.max_tokens = max_item_value;
  lim.max_string_length = max_item_value;
  if (it.value.empty() || !bencode::decode(it.value, lim)) return error_reply{error_protocol, "v is not bencoded"};
  if (!it.key) return std::nullopt;
  if (it.salt.size() > max_item_salt) return error_reply{error_salt_too_big, "salt (salt field) too big"};
  if (it.seq < 0) return error_reply{error_protocol, "negative sequence number"};
  if (!ed25519_verify(*it.key, it.sig, signature_data(it.salt, it.seq, it.value)))
    return error_reply{error_invalid_signature, "invalid signature"};
  return std::nullopt;
}

bool item_matches(item& it, const node_id& target, byte_view salt) {
  if (it.key) it.salt.assign(salt.begin(), salt.end());
  return !check_item(it) && item_target(it) == target;
}

item_store::item_store(item_store_settings settings) : settings_(settings) {}

std::optional<error_reply> item_store::put(const item& it, std::optional<std::int64_t> cas, time_point now) {
  if (items_.size() >= settings_.max_items) expire(now);  // what has expired goes before what is dropped
  const node_id target = item_target(it);
  auto found = items_.find(target);
  if (found != items_.end() && now - found->second.updated >= settings_.lifetime) {  // gone, as get() says
    items_.erase(found);
    found = items_.end();
  }
  if (found != items_.end() && it.key) {
    const item& held = found->second.value;
    if (cas && held.seq != *cas) return error_reply{error_cas_mismatch, "CAS mismatch, re-read and try again"};
    if (it.seq < held.seq || (it.seq == held.seq && it.value != held.value))
      return error_reply{error_sequence, "sequence number less than current"};
  }
  if (found == items_.end() && items_.size() >= std::max<std::size_t>(settings_.max_items, 1)) {
    const auto oldest = std::min_element(items_.begin(), items_.end(), [](const auto& a, const auto& b) {
      return a.second.updated < b.second.updated;
    });
    items_.erase(oldest);
  }
  items_[target] = stored{it, now};
  return std::nullopt;
}

const item* item_store::get(const node_id& target, time_point now) const {
  const auto found = items_.find(target);
  if (found == items_.end() || now - found->second.updated >= settings_.lifetime) return nullptr;
  return &found->second.value;
}

void item_store::expire(time_point now) {
  std::erase_if(items_, [&](const auto& entry) { return now - entry.second.updated >= settings_.lifetime; });
}

}  // namespace wt::dht
