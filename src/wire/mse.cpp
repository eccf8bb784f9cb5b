#include "wire/mse.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

namespace wt::mse {

namespace {

// The spec's prime P (768 bits).
constexpr std::array<std::uint8_t, key_size> prime = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63};

constexpr std::string_view plain_prefix = "\x13" "BitTorrent protocol";
constexpr std::size_t vc_size = 8;

// Arithmetic modulo P for Diffie-Hellman: Montgomery multiplication over 24 limbs of 32
// bits. Ours rather than OpenSSL's BN: BN reports errors through OpenSSL's error queue, whose
// initialisation links the provider and configuration machinery (measured: the Node module
// 1.4 MB heavier); this is what the 768-bit exchange needs, about 60 lines.
constexpr std::size_t limb_count = key_size / 4;
using limbs = std::array<std::uint32_t, limb_count>;  // least significant first

limbs to_limbs(const dh_key& be) {
  limbs out{};
  for (std::size_t i = 0; i < limb_count; ++i) {
    const std::size_t at = key_size - 4 * (i + 1);
    out[i] = std::uint32_t{be[at]} << 24 | std::uint32_t{be[at + 1]} << 16 | std::uint32_t{be[at + 2]} << 8 | be[at + 3];
  }
  return out;
}

dh_key to_bytes(const limbs& x) {
  dh_key out{};
  for (std::size_t i = 0; i < limb_count; ++i) {
    const std::size_t at = key_size - 4 * (i + 1);
    for (std::size_t k = 0; k < 4; ++k) out[at + k] = static_cast<std::uint8_t>(x[i] >> (24 - 8 * k));
  }
  return out;
}

// a >= b
bool at_least(const limbs& a, const limbs& b) {
  for (std::size_t i = limb_count; i-- > 0;)
    if (a[i] != b[i]) return a[i] > b[i];
  return true;
}

// a -= b, returns the borrow
std::uint32_t subtract(limbs& a, const limbs& b) {
  std::uint64_t borrow = 0;
  for (std::size_t i = 0; i < limb_count; ++i) {
    const std::uint64_t d = std::uint64_t{a[i]} - b[i] - borrow;
    a[i] = static_cast<std::uint32_t>(d);
    borrow = (d >> 63) & 1;
  }
  return static_cast<std::uint32_t>(borrow);
}

struct montgomery {
  limbs p{};
  std::uint32_t n0 = 0;  // -p^-1 mod 2^32
  limbs r2{};            // R^2 mod p, R = 2^768

  montgomery() : p(to_limbs(prime)) {
    std::uint32_t inv = p[0];  // Newton: correct to 2^32 after five steps
    for (int i = 0; i < 5; ++i) inv *= 2 - p[0] * inv;
    n0 = ~inv + 1;
    // R mod p = R - p (p's top bit is set), then doubled 768 times: R^2 mod p.
    limbs x{};
    subtract(x, p);
    for (std::size_t i = 0; i < 32 * limb_count; ++i) {
      const std::uint32_t carry = x[limb_count - 1] >> 31;
      for (std::size_t k = limb_count; k-- > 1;) x[k] = x[k] << 1 | x[k - 1] >> 31;
      x[0] <<= 1;
      if (carry || at_least(x, p)) subtract(x, p);
    }
    r2 = x;
  }

  // a * b / R mod p (CIOS), for a, b < p.
  limbs mul(const limbs& a, const limbs& b) const {
    std::array<std::uint32_t, limb_count + 2> t{};
    for (std::size_t i = 0; i < limb_count; ++i) {
      std::uint64_t c = 0;
      for (std::size_t j = 0; j < limb_count; ++j) {
        const std::uint64_t v = std::uint64_t{t[j]} + std::uint64_t{a[j]} * b[i] + c;
        t[j] = static_cast<std::uint32_t>(v);
        c = v >> 32;
      }
      std::uint64_t v = std::uint64_t{t[limb_count]} + c;
      t[limb_count] = static_cast<std::uint32_t>(v);
      t[limb_count + 1] = static_cast<std::uint32_t>(v >> 32);
      const std::uint32_t m = t[0] * n0;
      c = (std::uint64_t{t[0]} + std::uint64_t{m} * p[0]) >> 32;
      for (std::size_t j = 1; j < limb_count; ++j) {
        v = std::uint64_t{t[j]} + std::uint64_t{m} * p[j] + c;
        t[j - 1] = static_cast<std::uint32_t>(v);
        c = v >> 32;
      }
      v = std::uint64_t{t[limb_count]} + c;
      t[limb_count - 1] = static_cast<std::uint32_t>(v);
      t[limb_count] = t[limb_count + 1] + static_cast<std::uint32_t>(v >> 32);
    }
    limbs out{};
    std::copy_n(t.begin(), limb_count, out.begin());
    if (t[limb_count] != 0 || at_least(out, p)) subtract(out, p);
    return out;
  }

  // base^exponent mod p (exponent big-endian bytes; base < p).
  limbs pow(const limbs& base, byte_view exponent) const {
    const limbs b = mul(base, r2);
    limbs one{};
    one[0] = 1;
    limbs acc = mul(one, r2);  // 1 in Montgomery form
    for (const std::uint8_t byte : exponent) {
      for (int bit = 7; bit >= 0; --bit) {
        acc = mul(acc, acc);
        const limbs with = mul(acc, b);
        if ((byte >> bit) & 1) acc = with;  // both products every bit
      }
    }
    return mul(acc, one);
  }
};

const montgomery& modulus() {
  static const montgomery m;
  return m;
}

sha1_digest hash(std::string_view label, byte_view a, byte_view b = {}) {
  sha1_hasher h;
  h.update(as_bytes(label));
  h.update(a);
  h.update(b);
  return h.finish();
}

std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
std::size_t be16(const std::uint8_t* p) { return std::size_t{p[0]} << 8 | p[1]; }
void put32(byte_buffer& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put16(byte_buffer& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// Where `pattern` starts within the first `window` bytes of `in` (it must fit whole).
std::optional<std::size_t> find_within(const byte_buffer& in, byte_view pattern, std::size_t window) {
  const auto end = in.begin() + static_cast<std::ptrdiff_t>(std::min(in.size(), window));
  const auto it = std::search(in.begin(), end, pattern.begin(), pattern.end());
  if (it == end) return std::nullopt;
  return static_cast<std::size_t>(it - in.begin());
}

std::string method_names(std::uint32_t methods) {
  std::string s;
  if (methods & method_plaintext) s += "plaintext";
  if (methods & method_rc4) s += s.empty() ? "RC4" : " and RC4";
  return s.empty() ? "nothing we know" : s;
}

}  // namespace

// --- RC4 -------------------------------------------------------------------------------------

rc4::rc4(byte_view key) {
  for (std::size_t i = 0; i < 256; ++i) s_[i] = static_cast<std::uint8_t>(i);
  if (key.empty()) return;
  std::uint8_t j = 0;
  for (std::size_t i = 0; i < 256; ++i) {
    j = static_cast<std::uint8_t>(j + s_[i] + key[i % key.size()]);
    std::swap(s_[i], s_[j]);
  }
}

void rc4::apply(std::span<std::uint8_t> data) noexcept {
  for (auto& byte : data) {
    i_ = static_cast<std::uint8_t>(i_ + 1);
    j_ = static_cast<std::uint8_t>(j_ + s_[i_]);
    std::swap(s_[i_], s_[j_]);
    byte ^= s_[static_cast<std::uint8_t>(s_[i_] + s_[j_])];
  }
}

void rc4::discard(std::size_t n) noexcept {
  std::array<std::uint8_t, 256> sink{};
  while (n > 0) {
    const std::size_t k = std::min(n, sink.size());
    apply(std::span<std::uint8_t>(sink.data(), k));
    n -= k;
  }
}

// --- Diffie-Hellman ------------------------------------------------------------------------

dh_key dh_public(byte_view private_key) {
  limbs g{};
  g[0] = 2;
  return to_bytes(modulus().pow(g, private_key));
}

std::optional<dh_key> dh_secret(const dh_key& peer_public, byte_view private_key) {
  // 0, 1 and P-1 (and anything not below P) would give a secret the peer can predict.
  const limbs y = to_limbs(peer_public);
  limbs p_minus_1 = modulus().p;
  p_minus_1[0] -= 1;  // p is odd
  limbs two{};
  two[0] = 2;
  if (!at_least(y, two) || at_least(y, p_minus_1)) return std::nullopt;
  return to_bytes(modulus().pow(y, private_key));
}

sha1_digest req2_hash(const sha1_digest& info_hash) { return hash("req2", info_hash); }

// --- the stream ----------------------------------------------------------------------------

stream::stream(bool initiator, const policy& p, byte_view private_key, std::uint64_t pad_seed)
    : initiator_(initiator), policy_(p), pad_rng_(pad_seed), private_key_(private_key.begin(), private_key.end()) {
  // A short key would make S guessable; callers pass random bytes, tests fixed ones.
  if (private_key_.size() < min_private_key) private_key_.resize(min_private_key, 0x5a);
}

stream stream::outgoing(const sha1_digest& info_hash, const policy& p, byte_view private_key, std::uint64_t pad_seed) {
  stream s(true, p, private_key, pad_seed);
  s.skey_ = info_hash;
  const dh_key ya = dh_public(s.private_key_);
  s.out_.assign(ya.begin(), ya.end());  // and no PadA (see send_step2)
  return s;
}

stream stream::incoming(skey_lookup lookup, const policy& p, byte_view private_key, std::uint64_t pad_seed) {
  stream s(false, p, private_key, pad_seed);
  s.lookup_ = std::move(lookup);
  s.step_ = step::detect;
  s.state_ = state::detecting;
  return s;
}

bool stream::fail(std::string why) {
  state_ = state::failed;
  error_ = "encryption: " + std::move(why);
  in_.clear();
  held_.clear();
  return false;
}

void stream::append_pad(byte_buffer& out) {
  const std::size_t n = pad_rng_.below(static_cast<std::uint32_t>(max_pad + 1));
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(pad_rng_.next() >> 56));
}

void stream::init_ciphers(const sha1_digest& skey) {
  const sha1_digest key_a = hash("keyA", secret_, skey);
  const sha1_digest key_b = hash("keyB", secret_, skey);
  encrypt_ = rc4(initiator_ ? key_a : key_b);
  decrypt_ = rc4(initiator_ ? key_b : key_a);
  encrypt_.discard(1024);
  decrypt_.discard(1024);
}

// PadA and PadB are sent empty (the spec allows 0 to 512 bytes): WebTorrent 2.x (its
// bittorrent-protocol) finds HASH('req1', S) and ENCRYPT(VC) only when no padding bytes
// precede them in its buffer (it searches a concatenated Uint8Array with indexOf, which
// finds no subarray), so any PadA or PadB makes its side fail "could not resynchronize".
// libtorrent, Transmission and aria2 take empty ones as well. PadC and PadD stay random.
void stream::send_step2() {
  const dh_key yb = dh_public(private_key_);
  out_.insert(out_.end(), yb.begin(), yb.end());
}

void stream::send_step3() {
  const sha1_digest req1 = hash("req1", secret_);
  sha1_digest obfuscated = req2_hash(*skey_);
  const sha1_digest req3 = hash("req3", secret_);
  for (std::size_t i = 0; i < obfuscated.size(); ++i) obfuscated[i] ^= req3[i];
  out_.insert(out_.end(), req1.begin(), req1.end());
  out_.insert(out_.end(), obfuscated.begin(), obfuscated.end());
  byte_buffer part(vc_size, 0);
  put32(part, policy_.methods);
  byte_buffer pad;
  append_pad(pad);
  put16(part, pad.size());
  part.insert(part.end(), pad.begin(), pad.end());
  put16(part, 0);  // len(IA): our BitTorrent handshake follows step 4
  encrypt_.apply(part);
  out_.insert(out_.end(), part.begin(), part.end());
}

void stream::send_step4() {
  byte_buffer part(vc_size, 0);
  put32(part, method_);
  byte_buffer pad;
  append_pad(pad);
  put16(part, pad.size());
  part.insert(part.end(), pad.begin(), pad.end());
  encrypt_.apply(part);
  out_.insert(out_.end(), part.begin(), part.end());
}

void stream::finish(std::uint32_t method) {
  method_ = method;
  state_ = state::done;
  step_ = step::payload;
  if (method_ == method_rc4) decrypt_.apply(in_);
  received_.insert(received_.end(), in_.begin(), in_.end());
  in_.clear();
  in_.shrink_to_fit();
  byte_buffer held = std::move(held_);
  held_.clear();
  if (!held.empty()) send(held);
}

bool stream::advance() {
  auto consume = [&](std::size_t n) { in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(n)); };
  auto decrypt_front = [&](std::size_t n) { decrypt_.apply(std::span<std::uint8_t>(in_.data(), n)); };
  for (;;) {
    switch (step_) {
      case step::detect: {
        const std::size_t n = std::min(in_.size(), plain_prefix.size());
        if (!std::equal(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(n), as_bytes(plain_prefix).begin())) {
          state_ = state::handshaking;
          step_ = step::read_y;
          continue;
        }
        if (n < plain_prefix.size()) return true;
        if (policy_.require) return fail("the peer sent a plain BitTorrent handshake and encryption is required");
        finish(0);
        return true;
      }
      case step::read_y: {
        if (in_.size() < key_size) return true;
        dh_key y{};
        std::copy_n(in_.begin(), key_size, y.begin());
        consume(key_size);
        const auto s = dh_secret(y, private_key_);
        if (!s) return fail("the peer's Diffie-Hellman key is invalid");
        secret_ = *s;
        if (initiator_) {
          init_ciphers(*skey_);
          rc4 peek = decrypt_;
          peek.apply(encrypted_vc_);  // the zeros of B's VC, encrypted
          send_step3();
          step_ = step::sync_vc;
        } else {
          send_step2();
          req1_ = hash("req1", secret_);
          step_ = step::sync_req1;
        }
        continue;
      }
      case step::sync_req1: {
        const auto at = find_within(in_, req1_, max_pad + req1_.size());
        if (!at) {
          if (in_.size() >= max_pad + req1_.size()) return fail("no HASH('req1', S) within 512 bytes of padding");
          return true;
        }
        consume(*at + req1_.size());
        step_ = step::read_skey;
        continue;
      }
      case step::read_skey: {
        if (in_.size() < 20) return true;
        sha1_digest req2{};
        const sha1_digest req3 = hash("req3", secret_);
        for (std::size_t i = 0; i < req2.size(); ++i) req2[i] = static_cast<std::uint8_t>(in_[i] ^ req3[i]);
        consume(20);
        if (lookup_) skey_ = lookup_(req2);
        if (!skey_) return fail("the peer asked for a torrent we do not have");
        init_ciphers(*skey_);
        step_ = step::read_provide;
        continue;
      }
      case step::read_provide: {
        if (in_.size() < vc_size + 6) return true;
        decrypt_front(vc_size + 6);
        if (!std::all_of(in_.begin(), in_.begin() + vc_size, [](std::uint8_t b) { return b == 0; }))
          return fail("bad verification constant");
        provide_ = be32(in_.data() + vc_size);
        pad_length_ = be16(in_.data() + vc_size + 4);
        consume(vc_size + 6);
        if (pad_length_ > max_pad) return fail("PadC longer than 512 bytes");
        step_ = step::read_pad_c;
        continue;
      }
      case step::read_pad_c: {
        if (in_.size() < pad_length_ + 2) return true;
        decrypt_front(pad_length_ + 2);
        ia_length_ = be16(in_.data() + pad_length_);
        consume(pad_length_ + 2);
        step_ = step::read_ia;
        continue;
      }
      case step::read_ia: {
        if (in_.size() < ia_length_) return true;
        decrypt_front(ia_length_);  // IA is RC4 whatever the selection
        received_.insert(received_.end(), in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(ia_length_));
        consume(ia_length_);
        const std::uint32_t common = provide_ & policy_.methods & (method_plaintext | method_rc4);
        if (common == 0)
          return fail("no common method: the peer offers " + method_names(provide_) + ", we allow " +
                      method_names(policy_.methods));
        const bool plain = (common & method_plaintext) && (policy_.prefer_plaintext || !(common & method_rc4));
        method_ = plain ? method_plaintext : method_rc4;
        send_step4();
        finish(method_);
        return true;
      }
      case step::sync_vc: {
        const auto at = find_within(in_, encrypted_vc_, max_pad + vc_size);
        if (!at) {
          if (in_.size() >= max_pad + vc_size) return fail("no verification constant within 512 bytes of padding");
          return true;
        }
        consume(*at + vc_size);
        decrypt_.discard(vc_size);
        step_ = step::read_select;
        continue;
      }
      case step::read_select: {
        if (in_.size() < 6) return true;
        decrypt_front(6);
        const std::uint32_t select = be32(in_.data());
        pad_length_ = be16(in_.data() + 4);
        consume(6);
        if ((select != method_plaintext && select != method_rc4) || !(select & policy_.methods))
          return fail("the peer selected a method we did not offer (" + std::to_string(select) + ")");
        if (pad_length_ > max_pad) return fail("PadD longer than 512 bytes");
        method_ = select;
        step_ = step::read_pad_d;
        continue;
      }
      case step::read_pad_d: {
        if (in_.size() < pad_length_) return true;
        decrypt_front(pad_length_);
        consume(pad_length_);
        finish(method_);
        return true;
      }
      case step::payload:
        return true;
    }
  }
}

bool stream::receive(byte_view data) {
  if (state_ == state::failed) return false;
  if (step_ == step::payload) {
    const std::size_t at = received_.size();
    received_.insert(received_.end(), data.begin(), data.end());
    if (method_ == method_rc4) decrypt_.apply(std::span<std::uint8_t>(received_.data() + at, data.size()));
    return true;
  }
  in_.insert(in_.end(), data.begin(), data.end());
  return advance();
}

void stream::send(byte_view data) {
  if (state_ == state::failed) return;
  if (state_ != state::done) {
    held_.insert(held_.end(), data.begin(), data.end());
    return;
  }
  const std::size_t at = out_.size();
  out_.insert(out_.end(), data.begin(), data.end());
  if (method_ == method_rc4) encrypt_.apply(std::span<std::uint8_t>(out_.data() + at, data.size()));
}

byte_buffer stream::take_received() { return std::exchange(received_, {}); }
byte_buffer stream::take_output() { return std::exchange(out_, {}); }

}  // namespace wt::mse
