// SHA-1, SHA-256 and SHA-512 through OpenSSL's low-level digest functions (system libcrypto
// natively, libcrypto built for WebAssembly in the browser).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "base/bytes.hpp"

namespace wt {

using sha1_digest = std::array<std::uint8_t, 20>;
using sha256_digest = std::array<std::uint8_t, 32>;
using sha512_digest = std::array<std::uint8_t, 64>;

sha1_digest sha1(byte_view data);
sha256_digest sha256(byte_view data);
sha512_digest sha512(byte_view data);  // for Ed25519 (BEP 44 items)

// Incremental hashing, for data that arrives in pieces (e.g. blocks of a piece).
class sha1_hasher {
 public:
  sha1_hasher();
  ~sha1_hasher();
  sha1_hasher(sha1_hasher&&) noexcept;
  sha1_hasher& operator=(sha1_hasher&&) noexcept;
  void update(byte_view data);
  sha1_digest finish();  // also resets, ready for the next message

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace wt
