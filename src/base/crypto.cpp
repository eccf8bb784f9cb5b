// OpenSSL's low-level SHA functions, not EVP: in OpenSSL 3, EVP looks digests up through
// the provider machinery (names, properties, a library context), which was most of the
// WebAssembly module (about 1.7 of its 1.9 MB); these are the functions the default provider
// runs underneath, just as fast. They are deprecated in 3.x but built unless OpenSSL is
// configured with no-deprecated; OPENSSL_SUPPRESS_DEPRECATED silences the warnings for this
// file only. The one-shot SHA1()/SHA256()/SHA512() are not used: 3.x routes them through EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "base/crypto.hpp"

#include <openssl/sha.h>

#include <cstdlib>

namespace wt {

namespace {

// Hashing cannot fail with these functions short of a broken libcrypto; that is no input
// error the caller could handle, so there is no result<> here.
[[noreturn]] void crypto_failure() { std::abort(); }

}  // namespace

sha1_digest sha1(byte_view data) {
  SHA_CTX ctx;
  sha1_digest out{};
  if (SHA1_Init(&ctx) != 1 || SHA1_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA1_Final(out.data(), &ctx) != 1) {
    crypto_failure();
  }
  return out;
}

sha256_digest sha256(byte_view data) {
  SHA256_CTX ctx;
  sha256_digest out{};
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA256_Final(out.data(), &ctx) != 1) {
    crypto_failure();
  }
  return out;
}

sha512_digest sha512(byte_view data) {
  SHA512_CTX ctx;
  sha512_digest out{};
  if (SHA512_Init(&ctx) != 1 || SHA512_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA512_Final(out.data(), &ctx) != 1) {
    crypto_failure();
  }
  return out;
}

struct sha1_hasher::state {
  SHA_CTX ctx;

  state() { reset(); }
  void reset() {
    if (SHA1_Init(&ctx) != 1) crypto_failure();
  }
};

sha1_hasher::sha1_hasher() : state_(std::make_unique<state>()) {}
sha1_hasher::~sha1_hasher() = default;
sha1_hasher::sha1_hasher(sha1_hasher&&) noexcept = default;
sha1_hasher& sha1_hasher::operator=(sha1_hasher&&) noexcept = default;

void sha1_hasher::update(byte_view data) {
  // A moved-from hasher gets a fresh state rather than crashing.
  if (!state_) state_ = std::make_unique<state>();
  if (data.empty()) return;
  if (SHA1_Update(&state_->ctx, data.data(), data.size()) != 1) crypto_failure();
}

sha1_digest sha1_hasher::finish() {
  if (!state_) state_ = std::make_unique<state>();
  sha1_digest out{};
  if (SHA1_Final(out.data(), &state_->ctx) != 1) crypto_failure();
  state_->reset();  // ready for the next message
  return out;
}

}  // namespace wt
