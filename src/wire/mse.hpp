// Message Stream Encryption (MSE, also called protocol encryption, PE): the obfuscated
// handshake and RC4 stream that libtorrent, Transmission, Vuze, aria2 and WebTorrent (under
// Node, with `secure`) speak over TCP before the BitTorrent handshake. Pure and sans-I/O:
// bytes in, bytes out.
//
// The exchange (A dials B; SKEY is the torrent's info-hash; HASH is SHA-1; numbers big-endian):
//   1 A->B  Ya, PadA                           Ya = 2^Xa mod P (96 bytes), PadA 0..512 bytes
//   2 B->A  Yb, PadB                           S = Yb^Xa mod P = Ya^Xb mod P (96 bytes)
//   3 A->B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//           ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//   4 B->A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
//   5 A->B  ENCRYPT2(payload)
// ENCRYPT is RC4 keyed with HASH('keyA', S, SKEY) from A to B and HASH('keyB', S, SKEY) from
// B to A, its first 1024 bytes discarded; VC is 8 zero bytes; crypto_provide/_select are bit
// sets (0x01 plaintext, 0x02 RC4); ENCRYPT2 is the selected method, continuing the same RC4
// stream. B finds step 3 by scanning for HASH('req1', S) at most 512 bytes past Ya, A finds
// step 4 by scanning for ENCRYPT(VC) at most 512 bytes past Yb; B learns SKEY by trying the
// info-hashes it serves against HASH('req2', SKEY).
//
// We send PadA and PadB empty (see mse.cpp: WebTorrent 2.x cannot find what follows them)
// and PadC and PadD random. As the initiator we send no IA: the session's BitTorrent handshake waits for step 4 (then
// it goes out in the selected method). As the responder, a connection whose first bytes are
// a plain BitTorrent handshake (19, "BitTorrent protocol") passes through untouched, unless
// the policy requires encryption.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "base/bytes.hpp"
#include "base/crypto.hpp"
#include "base/random.hpp"

namespace wt::mse {

inline constexpr std::uint32_t method_plaintext = 0x01;
inline constexpr std::uint32_t method_rc4 = 0x02;
inline constexpr std::size_t key_size = 96;   // Ya, Yb, S: 768 bits
inline constexpr std::size_t max_pad = 512;   // PadA, PadB, PadC, PadD
inline constexpr std::size_t min_private_key = 20;  // 160 bits, the spec's minimum

// RC4 (the stream cipher MSE uses). apply() xors the keystream into the bytes, so it both
// encrypts and decrypts; consecutive calls continue the stream.
class rc4 {
 public:
  rc4() = default;
  explicit rc4(byte_view key);
  void apply(std::span<std::uint8_t> data) noexcept;
  void discard(std::size_t n) noexcept;

 private:
  std::array<std::uint8_t, 256> s_{};
  std::uint8_t i_ = 0, j_ = 0;
};

// Diffie-Hellman over MSE's 768-bit prime with generator 2.
using dh_key = std::array<std::uint8_t, key_size>;
// 2^x mod P for the private key x (big-endian bytes).
dh_key dh_public(byte_view private_key);
// y^x mod P; nullopt when y is no valid public key (not within [2, P-2]).
std::optional<dh_key> dh_secret(const dh_key& peer_public, byte_view private_key);

struct policy {
  // The initiator offers these methods (crypto_provide), the responder accepts these.
  std::uint32_t methods = method_plaintext | method_rc4;
  // The responder selects plaintext when both sides allow both (else RC4).
  bool prefer_plaintext = false;
  // The responder refuses a plain BitTorrent handshake.
  bool require = false;
};

// The responder's SKEY: the info-hash whose HASH('req2', info-hash) is `req2`, if we serve it.
using skey_lookup = std::function<std::optional<sha1_digest>(const sha1_digest& req2)>;
sha1_digest req2_hash(const sha1_digest& info_hash);

// One TCP connection's MSE layer, between the socket and the session.
class stream {
 public:
  enum class state : std::uint8_t { detecting, handshaking, done, failed };

  // We dial: the handshake starts at once (take_output() holds Ya). private_key:
  // at least min_private_key random bytes; pad_seed draws the paddings.
  static stream outgoing(const sha1_digest& info_hash, const policy& p, byte_view private_key,
                         std::uint64_t pad_seed);
  // A peer dialled us: its first bytes say whether it speaks MSE or plain BitTorrent.
  static stream incoming(skey_lookup lookup, const policy& p, byte_view private_key,
                         std::uint64_t pad_seed);

  // Bytes from the socket. False when the connection must close (error() says why); the
  // stream then takes nothing more.
  bool receive(byte_view data);
  // The session's bytes: encrypted when RC4 was selected; held while the handshake runs
  // (dropped if it fails).
  void send(byte_view data);
  // Plaintext payload received (what the session reads).
  byte_buffer take_received();
  // Bytes for the socket.
  byte_buffer take_output();

  state status() const noexcept { return state_; }
  // Once done: 0 when the peer spoke plain BitTorrent (no MSE), else the selected method.
  std::uint32_t method() const noexcept { return method_; }
  const std::string& error() const noexcept { return error_; }

 private:
  enum class step : std::uint8_t {
    detect,       // responder: plain handshake or Ya?
    read_y,       // the peer's public key (96 bytes)
    sync_req1,    // responder: HASH('req1', S) within PadA
    read_skey,    // responder: HASH('req2', SKEY) xor HASH('req3', S)
    read_provide, // responder: VC, crypto_provide, len(PadC)
    read_pad_c,   // responder: PadC, len(IA)
    read_ia,      // responder: IA
    sync_vc,      // initiator: ENCRYPT(VC) within PadB
    read_select,  // initiator: crypto_select, len(PadD)
    read_pad_d,   // initiator: PadD
    payload,
  };

  stream(bool initiator, const policy& p, byte_view private_key, std::uint64_t pad_seed);
  bool fail(std::string why);
  void append_pad(byte_buffer& out);  // len(2 bytes) is written by the caller
  void init_ciphers(const sha1_digest& skey);
  // Runs the steps over in_ while it holds enough; false on a failure.
  bool advance();
  void finish(std::uint32_t method);
  void send_step2();
  void send_step3();
  void send_step4();

  bool initiator_ = false;
  policy policy_;
  rng pad_rng_;
  byte_buffer private_key_;
  step step_ = step::read_y;
  state state_ = state::handshaking;
  std::uint32_t method_ = 0;
  std::string error_;
  dh_key secret_{};
  std::optional<sha1_digest> skey_;
  skey_lookup lookup_;
  rc4 encrypt_, decrypt_;
  sha1_digest req1_{};
  std::array<std::uint8_t, 8> encrypted_vc_{};
  std::uint32_t provide_ = 0;
  std::size_t pad_length_ = 0, ia_length_ = 0;
  byte_buffer in_;       // handshake bytes not consumed yet
  byte_buffer held_;     // session bytes waiting for the handshake
  byte_buffer received_; // plaintext for the session
  byte_buffer out_;      // for the socket
};

}  // namespace wt::mse
