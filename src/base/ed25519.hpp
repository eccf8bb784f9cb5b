// Ed25519 signature verification (RFC 8032: pure Ed25519, no context, no prehash), for the
// DHT's BEP 44 items. Written here rather than taken from OpenSSL, whose Ed25519 is only
// reachable through EVP, which brings OpenSSL 3's provider machinery into the WebAssembly
// module (1.4 MB). Verification only: there is no signing, so no secret to protect, and the
// code runs in variable time for clarity.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.hpp"

namespace wt {

// True when `sig` (64 bytes: R then S) is a valid Ed25519 signature of `message` by
// `public_key` (32 bytes). As RFC 8032 has it: S must be below the group order L, the key
// and R must be canonical encodings of curve points, and [S]B - [h]A must encode to R
// exactly (the cofactorless equation, as OpenSSL and libsodium check it). Stricter than
// OpenSSL 3.0 on one point: it accepts a key whose y is not reduced mod p, or with x = 0 and
// the sign bit set; RFC 8032 refuses those, and so does this (no key pair makes them).
bool ed25519_verify(const std::array<std::uint8_t, 32>& public_key, const std::array<std::uint8_t, 64>& sig,
                    byte_view message);

}  // namespace wt
