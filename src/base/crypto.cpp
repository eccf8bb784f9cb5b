#include "base/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>

namespace wt {

namespace {

// Hashing only fails on allocation failure or a broken libcrypto; neither is an
// input error the caller could handle, so there is no result<> here.
[[noreturn]] void crypto_failure() { std::abort(); }

// OpenSSL 3 looks an algorithm up by name on every implicit fetch (EVP_sha1());
// fetching once and keeping the EVP_MD avoids that lookup per hash.
// The fetched objects live for the whole process on purpose.
const EVP_MD* fetch_md(const char* name, const EVP_MD* fallback) {
  // No openssl.cnf: the engine must not read files (and in WebAssembly there are none).
  static const bool initialised = OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
  if (!initialised) crypto_failure();
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : fallback;
}

const EVP_MD* sha1_md() {
  static const EVP_MD* md = fetch_md("SHA1", EVP_sha1());
  return md;
}

const EVP_MD* sha256_md() {
  static const EVP_MD* md = fetch_md("SHA256", EVP_sha256());
  return md;
}

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, byte_view data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N) {
    crypto_failure();
  }
  return out;
}

}  // namespace

sha1_digest sha1(byte_view data) { return digest<20>(sha1_md(), data); }

sha256_digest sha256(byte_view data) { return digest<32>(sha256_md(), data); }

struct sha1_hasher::state {
  EVP_MD_CTX* ctx = nullptr;

  state() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, sha1_md(), nullptr) != 1) crypto_failure();
  }
  ~state() { EVP_MD_CTX_free(ctx); }
  state(const state&) = delete;
  state& operator=(const state&) = delete;
};

sha1_hasher::sha1_hasher() : state_(std::make_unique<state>()) {}
sha1_hasher::~sha1_hasher() = default;
sha1_hasher::sha1_hasher(sha1_hasher&&) noexcept = default;
sha1_hasher& sha1_hasher::operator=(sha1_hasher&&) noexcept = default;

void sha1_hasher::update(byte_view data) {
  // A moved-from hasher gets a fresh state rather than crashing.
  if (!state_) state_ = std::make_unique<state>();
  if (data.empty()) return;
  if (EVP_DigestUpdate(state_->ctx, data.data(), data.size()) != 1) crypto_failure();
}

sha1_digest sha1_hasher::finish() {
  if (!state_) state_ = std::make_unique<state>();
  sha1_digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(state_->ctx, out.data(), &len) != 1 || len != out.size()) {
    crypto_failure();
  }
  // Re-initialising keeps the context (and its allocation) for the next message.
  if (EVP_DigestInit_ex(state_->ctx, sha1_md(), nullptr) != 1) crypto_failure();
  return out;
}

}  // namespace wt
