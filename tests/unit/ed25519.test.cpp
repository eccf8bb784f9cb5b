// Ed25519 verification: RFC 8032's and BEP 44's test vectors, refusals of altered or
// malformed signatures and keys, and OpenSSL as an oracle over random keys and messages.
#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string_view>

#include "base/bytes.hpp"
#include "base/ed25519.hpp"
#include "hex_array.hpp"

using namespace wt;
using wt::test::from_hex_array;

namespace {

using key_bytes = std::array<std::uint8_t, 32>;
using signature_bytes = std::array<std::uint8_t, 64>;

struct test_vector {
  std::string_view name;
  std::string_view public_key;  // all hex
  std::string_view message;
  std::string_view signature;
};

// RFC 8032, section 7.1. Each was checked against Node's crypto: the public key derives from
// the RFC's secret key, and signing the message with it gives this signature byte for byte.
const std::array<test_vector, 5> rfc8032_vectors{{
    {"TEST 1", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
    "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
    "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
    "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
    "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
    "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
    "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
    "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
    "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
    "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
    "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
    "c60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)", "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
}};

// BEP 44's examples of mutable items, without and with a salt: messages as text.
const std::array<test_vector, 2> bep44_vectors{{
    {"no salt", "77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548", "3:seqi1e1:v12:Hello World!",
     "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01"},
    {"salt foobar", "77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548",
     "4:salt6:foobar3:seqi1e1:v12:Hello World!",
     "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08"},
}};

// L, the order of the base point, as 32 little-endian bytes.
constexpr key_bytes group_order{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

// Encodings of the neutral point (x = 0, y = 1) and of the base point B (y = 4/5, x even).
constexpr key_bytes neutral_key{1};
constexpr key_bytes base_point_encoding{0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};

// The S half of a signature plus L: the same value mod L, but not below L.
signature_bytes with_order_added_to_s(signature_bytes sig) {
  unsigned carry = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    const unsigned sum = sig[32 + i] + group_order[i] + carry;
    sig[32 + i] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
  }
  REQUIRE(carry == 0);  // S < L < 2^253: the sum fits
  return sig;
}

template <std::size_t N>
std::array<std::uint8_t, N> with_bit_flipped(std::array<std::uint8_t, N> bytes, std::size_t bit) {
  bytes[bit / 8] = static_cast<std::uint8_t>(bytes[bit / 8] ^ (1u << (bit % 8)));
  return bytes;
}

// OpenSSL's Ed25519, through EVP, as the oracle.
using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

signature_bytes openssl_sign(EVP_PKEY* key, byte_view message) {
  const md_ctx_ptr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  REQUIRE(ctx);
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1);
  signature_bytes sig{};
  std::size_t size = sig.size();
  REQUIRE(EVP_DigestSign(ctx.get(), sig.data(), &size, message.data(), message.size()) == 1);
  REQUIRE(size == sig.size());
  return sig;
}

bool openssl_verify(const key_bytes& public_key, const signature_bytes& sig, byte_view message) {
  const pkey_ptr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()),
                     &EVP_PKEY_free);
  if (!key) return false;
  const md_ctx_ptr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  REQUIRE(ctx);
  REQUIRE(EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1);
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size()) == 1;
}

}  // namespace

TEST_CASE("[ed25519] RFC 8032 test vectors verify", "[ed25519]") {
  for (const test_vector& v : rfc8032_vectors) {
    INFO(v.name);
    const auto message = from_hex(v.message);
    REQUIRE(message);
    REQUIRE(ed25519_verify(from_hex_array<32>(v.public_key), from_hex_array<64>(v.signature), *message));
  }
  REQUIRE(from_hex(rfc8032_vectors[3].message)->size() == 1023);
}

TEST_CASE("[ed25519] BEP 44 test vectors verify", "[ed25519]") {
  for (const test_vector& v : bep44_vectors) {
    INFO(v.name);
    REQUIRE(ed25519_verify(from_hex_array<32>(v.public_key), from_hex_array<64>(v.signature), as_bytes(v.message)));
  }
}

TEST_CASE("[ed25519] any single bit flipped is refused", "[ed25519]") {
  const test_vector& v = rfc8032_vectors[2];  // a 2-byte message: each verification costs the same
  const key_bytes key = from_hex_array<32>(v.public_key);
  const signature_bytes sig = from_hex_array<64>(v.signature);
  const byte_buffer message = *from_hex(v.message);
  REQUIRE(ed25519_verify(key, sig, message));

  SECTION("in the message") {
    for (std::size_t bit = 0; bit < 8 * message.size(); ++bit) {
      byte_buffer altered = message;
      altered[bit / 8] = static_cast<std::uint8_t>(altered[bit / 8] ^ (1u << (bit % 8)));
      INFO("bit " << bit);
      REQUIRE_FALSE(ed25519_verify(key, sig, altered));
    }
  }
  SECTION("in R or S") {
    for (std::size_t bit = 0; bit < 512; ++bit) {
      INFO("bit " << bit);
      REQUIRE_FALSE(ed25519_verify(key, with_bit_flipped(sig, bit), message));
    }
  }
  SECTION("in the key") {
    for (std::size_t bit = 0; bit < 256; ++bit) {
      INFO("bit " << bit);
      REQUIRE_FALSE(ed25519_verify(key, sig, with_bit_flipped(key, bit)));
    }
  }
  SECTION("a longer message, or a shorter one") {
    byte_buffer longer = message;
    longer.push_back(0);
    REQUIRE_FALSE(ed25519_verify(key, sig, longer));
    REQUIRE_FALSE(ed25519_verify(key, sig, byte_view(message).first(message.size() - 1)));
  }
}

TEST_CASE("[ed25519] S must be below the group order", "[ed25519]") {
  SECTION("S + L, the same S mod L") {
    for (const test_vector& v : rfc8032_vectors) {
      INFO(v.name);
      const key_bytes key = from_hex_array<32>(v.public_key);
      const auto message = from_hex(v.message);
      REQUIRE(message);
      const signature_bytes malleated = with_order_added_to_s(from_hex_array<64>(v.signature));
      REQUIRE_FALSE(ed25519_verify(key, malleated, *message));
      REQUIRE_FALSE(openssl_verify(key, malleated, *message));
    }
  }
  // The neutral point as key makes [h]A vanish: R = [S]B then verifies for any message, which
  // tests the range check alone. (RFC 8032 and OpenSSL do not refuse such small-order keys;
  // libsodium does.)
  SECTION("S = L, refused where S = 0 passes") {
    signature_bytes sig{};
    sig[0] = 1;  // R = [0]B, the neutral point
    REQUIRE(ed25519_verify(neutral_key, sig, as_bytes("anything")));
    std::copy(group_order.begin(), group_order.end(), sig.begin() + 32);  // [L]B is the neutral point too
    REQUIRE_FALSE(ed25519_verify(neutral_key, sig, as_bytes("anything")));
    REQUIRE_FALSE(openssl_verify(neutral_key, sig, as_bytes("anything")));
  }
  SECTION("S = L - 1 is in range") {
    signature_bytes sig{};
    const key_bytes minus_b = with_bit_flipped(base_point_encoding, 255);  // R = [L - 1]B = -B
    std::copy(minus_b.begin(), minus_b.end(), sig.begin());
    std::copy(group_order.begin(), group_order.end(), sig.begin() + 32);
    sig[32] = static_cast<std::uint8_t>(sig[32] - 1);
    REQUIRE(ed25519_verify(neutral_key, sig, as_bytes("anything")));
  }
}

TEST_CASE("[ed25519] malformed keys and signatures are refused", "[ed25519]") {
  const test_vector& v = rfc8032_vectors[1];
  const key_bytes key = from_hex_array<32>(v.public_key);
  const signature_bytes sig = from_hex_array<64>(v.signature);
  const auto message = from_hex(v.message);
  REQUIRE(message);

  SECTION("a key that is no point of the curve (y = 2 has no x)") {
    REQUIRE_FALSE(ed25519_verify(
        from_hex_array<32>("0200000000000000000000000000000000000000000000000000000000000000"), sig, *message));
  }
  SECTION("keys that encode the neutral point non-canonically") {
    // The neutral point signs anything with R = B, S = 1 (see above); these other encodings
    // of it must still be refused (OpenSSL 3.0 accepts both).
    signature_bytes b_times_one{};
    std::copy(base_point_encoding.begin(), base_point_encoding.end(), b_times_one.begin());
    b_times_one[32] = 1;
    REQUIRE(ed25519_verify(neutral_key, b_times_one, as_bytes("anything")));
    // y = p + 1
    REQUIRE_FALSE(ed25519_verify(
        from_hex_array<32>("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), b_times_one,
        as_bytes("anything")));
    // y = 1, x = 0 with the sign bit set
    REQUIRE_FALSE(ed25519_verify(with_bit_flipped(neutral_key, 255), b_times_one, as_bytes("anything")));
  }
  SECTION("y = p and above") {
    // y = p would be y = 0 (x = sqrt(-1), a point of order 4); 2^255 - 1 is 18 above p.
    for (const std::string_view hex : {"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                                       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                                       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"}) {
      INFO(hex);
      REQUIRE_FALSE(ed25519_verify(from_hex_array<32>(hex), sig, *message));
    }
  }
  SECTION("all-zero signature") {
    REQUIRE_FALSE(ed25519_verify(key, signature_bytes{}, *message));
    REQUIRE_FALSE(ed25519_verify(key, signature_bytes{}, {}));
  }
  SECTION("another key's signature") {
    REQUIRE_FALSE(ed25519_verify(from_hex_array<32>(rfc8032_vectors[2].public_key), sig, *message));
  }
}

TEST_CASE("[ed25519] agrees with OpenSSL on random keys and messages", "[ed25519]") {
  std::mt19937_64 random(2024);
  std::uniform_int_distribution<int> byte_value(0, 255);
  std::uniform_int_distribution<std::size_t> message_size(0, 1200);

  for (int round = 0; round < 200; ++round) {
    key_bytes seed{};
    for (auto& b : seed) b = static_cast<std::uint8_t>(byte_value(random));
    const pkey_ptr private_key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()),
                               &EVP_PKEY_free);
    REQUIRE(private_key);
    key_bytes public_key{};
    std::size_t size = public_key.size();
    REQUIRE(EVP_PKEY_get_raw_public_key(private_key.get(), public_key.data(), &size) == 1);

    byte_buffer message(message_size(random));
    for (auto& b : message) b = static_cast<std::uint8_t>(byte_value(random));
    const signature_bytes sig = openssl_sign(private_key.get(), message);
    INFO("round " << round << ", " << message.size() << " bytes");
    REQUIRE(ed25519_verify(public_key, sig, message));

    // One bit flipped in the message, the signature or the key.
    byte_buffer altered_message = message;
    signature_bytes altered_sig = sig;
    key_bytes altered_key = public_key;
    const std::size_t total_bits = 8 * (message.size() + sig.size() + public_key.size());
    std::size_t bit = std::uniform_int_distribution<std::size_t>(0, total_bits - 1)(random);
    if (bit < 8 * message.size()) {
      altered_message[bit / 8] = static_cast<std::uint8_t>(altered_message[bit / 8] ^ (1u << (bit % 8)));
    } else if ((bit -= 8 * message.size()) < 512) {
      altered_sig = with_bit_flipped(sig, bit);
    } else {
      altered_key = with_bit_flipped(public_key, bit - 512);
    }
    const bool ours = ed25519_verify(altered_key, altered_sig, altered_message);
    REQUIRE(ours == openssl_verify(altered_key, altered_sig, altered_message));
    REQUIRE_FALSE(ours);
  }
}
