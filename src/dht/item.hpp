// BEP 44: arbitrary values stored in the DHT. An immutable item lives under the SHA-1 of its
// bencoded value; a mutable one under the SHA-1 of its owner's Ed25519 public key (and an
// optional salt), signed over its sequence number and value, so that only the owner can
// replace it with a higher sequence number. Values are kept exactly as bencoded by their
// author: the hash and the signature cover those bytes.
//
// item_store is what a node keeps for others: bounded in count, each item for a lifetime
// unless put again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "dht/krpc.hpp"

namespace wt::dht {

inline constexpr std::size_t max_item_value = 1000;  // bytes of the bencoded value (BEP 44)
inline constexpr std::size_t max_item_salt = 64;

// Error codes of BEP 44, in error replies to "put".
inline constexpr std::int64_t error_value_too_big = 205;
inline constexpr std::int64_t error_invalid_signature = 206;
inline constexpr std::int64_t error_salt_too_big = 207;
inline constexpr std::int64_t error_cas_mismatch = 301;
inline constexpr std::int64_t error_sequence = 302;

// Where an item lives: SHA-1 of the value (immutable) or of the key then the salt (mutable).
node_id item_target(const item& it);
node_id mutable_target(const public_key& key, byte_view salt);

// The bytes a mutable item's signature covers: the bencoded dictionary {salt, seq, v}
// without its outer 'd' and 'e' (salt only when not empty).
byte_buffer signature_data(byte_view salt, std::int64_t seq, byte_view value);

// Whether an item may be stored as it is: its value one bencoded value of at most
// max_item_value bytes, a salt of at most max_item_salt, a valid signature. nullopt when
// it may, else the error a node answers with.
std::optional<error_reply> check_item(const item& it);

// An item received for `target` (an answer to "get"): checked as above and found at that
// target. For a mutable one, `salt` is the one the getter asked with (answers do not carry it).
bool item_matches(item& it, const node_id& target, byte_view salt);

struct item_store_settings {
  std::size_t max_items = 1000;
  duration lifetime = std::chrono::hours(2);  // BEP 44: at least 2 hours unless put again
};

class item_store {
 public:
  explicit item_store(item_store_settings settings = {});

  // Stores a checked item (check_item) at its target. A mutable item replaces a stored one
  // only with a higher seq (an equal seq and value just refresh it), and only when `cas`,
  // if given, is the stored seq. nullopt when stored, else the error to answer. A full store
  // drops its oldest item.
  std::optional<error_reply> put(const item& it, std::optional<std::int64_t> cas, time_point now);
  const item* get(const node_id& target, time_point now) const;
  void expire(time_point now);
  std::size_t size() const noexcept { return items_.size(); }

 private:
  struct stored {
    item value;
    time_point updated{};
  };
  item_store_settings settings_;
  std::map<node_id, stored> items_;
};

}  // namespace wt::dht
