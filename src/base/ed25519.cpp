// Ed25519 verification after RFC 8032, sections 5.1.3 (decoding), 5.1.4 (point arithmetic)
// and 5.1.7 (verifying). Three layers: integers mod p = 2^255 - 19 (the coordinates),
// points of the curve -x^2 + y^2 = 1 + d x^2 y^2, integers mod L (the scalars).
//
// Inputs are public (a key, a signature, a message), so nothing here needs to run in
// constant time: branches and early returns on data are fine, and simplicity wins over speed.
#include "base/ed25519.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "base/crypto.hpp"

namespace wt {

namespace {

__extension__ typedef unsigned __int128 u128;  // clang has it for wasm32 too

using bytes32 = std::array<std::uint8_t, 32>;

// --- Integers mod p = 2^255 - 19 --------------------------------------------------------

// Five 51-bit limbs, least significant first: the value is the sum of limb[i] * 2^(51 i).
// Every operation returns limbs below 2^52 (not always fully reduced), which keeps the 25
// products of a multiplication, and their sums, well inside 128 bits.
using field = std::array<std::uint64_t, 5>;

constexpr std::uint64_t limb_mask = (std::uint64_t{1} << 51) - 1;

constexpr field field_zero{0, 0, 0, 0, 0};
constexpr field field_one{1, 0, 0, 0, 0};

// Carries wide column sums into 51-bit limbs. What overflows 2^255 comes back times 19, as
// 2^255 = 19 (mod p). The last carry leaves limb 1 possibly a little over 51 bits.
field carry(std::array<u128, 5> column) {
  for (std::size_t i = 0; i < 4; ++i) {
    column[i + 1] += column[i] >> 51;
    column[i] &= limb_mask;
  }
  column[0] += 19 * (column[4] >> 51);
  column[4] &= limb_mask;
  column[1] += column[0] >> 51;
  column[0] &= limb_mask;
  field out{};
  for (std::size_t i = 0; i < 5; ++i) out[i] = static_cast<std::uint64_t>(column[i]);
  return out;
}

field add(const field& a, const field& b) {
  std::array<u128, 5> column{};
  for (std::size_t i = 0; i < 5; ++i) column[i] = static_cast<u128>(a[i]) + b[i];
  return carry(column);
}

// a - b computed as a + 2p - b, so that no limb goes below zero: 2p's limbs (2^52 - 38,
// then 2^52 - 2) are above any limb of b.
field sub(const field& a, const field& b) {
  constexpr field two_p{(limb_mask - 18) * 2, limb_mask * 2, limb_mask * 2, limb_mask * 2, limb_mask * 2};
  std::array<u128, 5> column{};
  for (std::size_t i = 0; i < 5; ++i) column[i] = static_cast<u128>(a[i]) + two_p[i] - b[i];
  return carry(column);
}

field negate(const field& a) { return sub(field_zero, a); }

// Schoolbook product. The limb products that land at 2^(51 k) for k >= 5 stand for
// 2^255 * 2^(51 (k - 5)): they are folded back into column k - 5, times 19.
field mul(const field& a, const field& b) {
  std::array<u128, 5> column{};
  for (std::size_t i = 0; i < 5; ++i) {
    for (std::size_t j = 0; j < 5; ++j) {
      const u128 product = static_cast<u128>(a[i]) * b[j];
      if (i + j < 5) {
        column[i + j] += product;
      } else {
        column[i + j - 5] += 19 * product;
      }
    }
  }
  return carry(column);
}

field square(const field& a) { return mul(a, a); }

// a^exponent, square-and-multiply from the top bit; the exponent is 256 bits little-endian.
field pow(const field& a, const bytes32& exponent) {
  field result = field_one;
  for (std::size_t bit = 256; bit-- > 0;) {
    result = square(result);
    if ((exponent[bit / 8] >> (bit % 8)) & 1) result = mul(result, a);
  }
  return result;
}

// The exponent 2^bits - c as 32 little-endian bytes, for 1 <= c <= 256: `bits` one bits,
// less c - 1 taken from the lowest byte (0xff, so without borrow).
constexpr bytes32 two_to_the_minus(std::size_t bits, unsigned c) {
  bytes32 out{};
  for (std::size_t i = 0; i < bits; ++i) out[i / 8] = static_cast<std::uint8_t>(out[i / 8] | 1u << (i % 8));
  out[0] = static_cast<std::uint8_t>(out[0] - (c - 1));
  return out;
}

// 1/a = a^(p - 2) (Fermat); p - 2 = 2^255 - 21.
field invert(const field& a) { return pow(a, two_to_the_minus(255, 21)); }

// The low 255 bits of 32 little-endian bytes (bit 255 is the sign of x in a point encoding).
field from_bytes(const bytes32& bytes) {
  field out{};
  for (std::size_t bit = 0; bit < 255; ++bit) {
    const std::uint64_t value = (bytes[bit / 8] >> (bit % 8)) & 1;
    out[bit / 51] |= value << (bit % 51);
  }
  return out;
}

// The canonical encoding: the value reduced to [0, p), 32 bytes little-endian.
bytes32 to_bytes(const field& a) {
  // Two carry passes leave every limb below 2^51, so the value below 2^255: at most one p
  // too big. (The first pass may leave limb 0 up to 38 over 2^51; the second carries at most
  // 1 out of the top, and only when what stays is below 38: limb 0 takes the 19 back easily.)
  field limb = a;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < 4; ++i) {
      limb[i + 1] += limb[i] >> 51;
      limb[i] &= limb_mask;
    }
    limb[0] += 19 * (limb[4] >> 51);
    limb[4] &= limb_mask;
  }
  // p's limbs are 2^51 - 19 then four of 2^51 - 1: a value of 51-bit limbs is p or above
  // only when it has those four and at least 2^51 - 19 in limb 0.
  const bool at_least_p = limb[0] >= limb_mask - 18 && limb[1] == limb_mask && limb[2] == limb_mask &&
                          limb[3] == limb_mask && limb[4] == limb_mask;
  if (at_least_p) limb = {limb[0] - (limb_mask - 18), 0, 0, 0, 0};

  bytes32 out{};
  for (std::size_t bit = 0; bit < 255; ++bit) {
    const auto value = static_cast<std::uint8_t>((limb[bit / 51] >> (bit % 51)) & 1);
    out[bit / 8] = static_cast<std::uint8_t>(out[bit / 8] | value << (bit % 8));
  }
  return out;
}

bool equal(const field& a, const field& b) { return to_bytes(a) == to_bytes(b); }
bool is_zero(const field& a) { return to_bytes(a) == bytes32{}; }
// The "sign" of x in a point encoding: x mod p is odd.
bool is_odd(const field& a) { return (to_bytes(a)[0] & 1) != 0; }

struct curve_constants {
  field d;               // the curve's -121665/121666
  field two_d;           // 2d, in the addition formula
  field sqrt_minus_one;  // 2^((p - 1)/4), a square root of -1 mod p
};

const curve_constants& constants() {
  static const curve_constants values = [] {
    curve_constants c{};
    c.d = mul(negate(field{121665, 0, 0, 0, 0}), invert(field{121666, 0, 0, 0, 0}));
    c.two_d = add(c.d, c.d);
    c.sqrt_minus_one = pow(field{2, 0, 0, 0, 0}, two_to_the_minus(253, 5));  // (p - 1)/4 = 2^253 - 5
    return c;
  }();
  return values;
}

// --- Points of the curve ------------------------------------------------------------------

// Extended coordinates: x = X/Z, y = Y/Z and x y = T/Z, which lets addition skip divisions.
struct point {
  field X, Y, Z, T;
};

constexpr point neutral{field_zero, field_one, field_one, field_zero};  // x = 0, y = 1

// RFC 8032's addition for a = -1. It is complete (d is not a square mod p): it also doubles
// and adds the neutral point, so the double-and-add below needs no special cases.
point add(const point& p, const point& q) {
  const field a = mul(sub(p.Y, p.X), sub(q.Y, q.X));
  const field b = mul(add(p.Y, p.X), add(q.Y, q.X));
  const field c = mul(mul(p.T, q.T), constants().two_d);
  const field d = mul(add(p.Z, p.Z), q.Z);
  const field e = sub(b, a);
  const field f = sub(d, c);
  const field g = add(d, c);
  const field h = add(b, a);
  return {mul(e, f), mul(g, h), mul(f, g), mul(e, h)};
}

// RFC 8032's doubling: 4 squarings and 4 products against the addition's 9 products.
point twice(const point& p) {
  const field a = square(p.X);
  const field b = square(p.Y);
  const field z2 = square(p.Z);
  const field c = add(z2, z2);
  const field h = add(a, b);
  const field e = sub(h, square(add(p.X, p.Y)));
  const field g = sub(a, b);
  const field f = add(c, g);
  return {mul(e, f), mul(g, h), mul(f, g), mul(e, h)};
}

point negate(const point& p) { return {negate(p.X), p.Y, p.Z, negate(p.T)}; }

// The encoding: y in the low 255 bits, the parity of x in bit 255.
bytes32 encode(const point& p) {
  const field z_inverse = invert(p.Z);
  bytes32 out = to_bytes(mul(p.Y, z_inverse));
  if (is_odd(mul(p.X, z_inverse))) out[31] |= 0x80;
  return out;
}

// RFC 8032, 5.1.3. nullopt for anything but the canonical encoding of a curve point.
std::optional<point> decode(const bytes32& bytes) {
  const bool x_odd = (bytes[31] & 0x80) != 0;
  const field y = from_bytes(bytes);
  // y must be below p: its canonical encoding gives back the same 255 bits.
  bytes32 y_bits = bytes;
  y_bits[31] &= 0x7f;
  if (to_bytes(y) != y_bits) return std::nullopt;

  // The curve equation gives x^2 = u/v with u = y^2 - 1, v = d y^2 + 1 (never 0, d not being
  // a square). Candidate root: x = (u/v)^((p + 3)/8), computed without a division as
  // u v^3 (u v^7)^((p - 5)/8); its square is u/v or -u/v, or u/v has no root at all.
  const field y2 = square(y);
  const field u = sub(y2, field_one);
  const field v = add(mul(constants().d, y2), field_one);
  const field v3 = mul(square(v), v);
  const field v7 = mul(square(v3), v);
  field x = mul(mul(u, v3), pow(mul(u, v7), two_to_the_minus(252, 3)));  // (p - 5)/8 = 2^252 - 3
  const field v_x2 = mul(v, square(x));
  if (equal(v_x2, negate(u))) {
    x = mul(x, constants().sqrt_minus_one);
  } else if (!equal(v_x2, u)) {
    return std::nullopt;
  }

  // x = 0 has no odd root to pick: the encoding with the bit set is not canonical.
  if (is_zero(x) && x_odd) return std::nullopt;
  if (is_odd(x) != x_odd) x = negate(x);
  return point{x, y, field_one, mul(x, y)};
}

// B, the base point: y = 4/5 with x even, encoded as 0x58 then 31 bytes of 0x66.
const point& base_point() {
  static const point base = [] {
    bytes32 encoding{};
    encoding.fill(0x66);
    encoding[0] = 0x58;
    return *decode(encoding);
  }();
  return base;
}

// --- Integers mod L -------------------------------------------------------------------------

// An integer below 2^256 as four 64-bit limbs, least significant first.
using scalar = std::array<std::uint64_t, 4>;

// L = 2^252 + 27742317777372353535851937790883648493, the order of B.
constexpr scalar group_order{0x5812631a5cf5d3ed, 0x14def9dea2f79cd6, 0, 0x1000000000000000};

bool less_than(const scalar& a, const scalar& b) {
  for (std::size_t i = 4; i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i];
  }
  return false;
}

// a -= b, for a >= b.
void subtract(scalar& a, const scalar& b) {
  std::uint64_t borrow = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const std::uint64_t difference = a[i] - b[i] - borrow;
    borrow = (a[i] < b[i] || (a[i] == b[i] && borrow != 0)) ? 1 : 0;
    a[i] = difference;
  }
}

scalar scalar_from_bytes(const bytes32& bytes) {
  scalar out{};
  for (std::size_t i = 0; i < 32; ++i) out[i / 8] |= std::uint64_t{bytes[i]} << (8 * (i % 8));
  return out;
}

bool bit_of(const scalar& s, std::size_t bit) { return ((s[bit / 64] >> (bit % 64)) & 1) != 0; }

// A 512-bit little-endian number mod L, one bit at a time from the top: r = 2r + bit, less L
// when that reaches L. r stays below L < 2^253, so 2r + 1 fits in the 256 bits of a scalar.
scalar reduce_mod_order(const sha512_digest& number) {
  scalar r{};
  for (std::size_t bit = 512; bit-- > 0;) {
    for (std::size_t i = 3; i > 0; --i) r[i] = r[i] << 1 | r[i - 1] >> 63;
    r[0] = r[0] << 1 | ((number[bit / 8] >> (bit % 8)) & 1);
    if (!less_than(r, group_order)) subtract(r, group_order);
  }
  return r;
}

// [a]P + [b]Q with one chain of doublings (Straus): from the top bit down, double, then add
// P and/or Q where a and b have that bit. Both scalars are below L < 2^253.
point double_scalar_multiply(const scalar& a, const point& p, const scalar& b, const point& q) {
  point result = neutral;
  for (std::size_t bit = 253; bit-- > 0;) {
    result = twice(result);
    if (bit_of(a, bit)) result = add(result, p);
    if (bit_of(b, bit)) result = add(result, q);
  }
  return result;
}

}  // namespace

bool ed25519_verify(const std::array<std::uint8_t, 32>& public_key, const std::array<std::uint8_t, 64>& sig,
                    byte_view message) {
  bytes32 r_bytes{};
  bytes32 s_bytes{};
  std::copy(sig.begin(), sig.begin() + 32, r_bytes.begin());
  std::copy(sig.begin() + 32, sig.end(), s_bytes.begin());

  // S at or above L would let anyone make a second valid signature (S + L) of the same message.
  const scalar s = scalar_from_bytes(s_bytes);
  if (!less_than(s, group_order)) return false;
  const std::optional<point> a = decode(public_key);
  if (!a) return false;

  // h = SHA-512(R || A || M) mod L, over the key's bytes as given.
  byte_buffer hashed;
  hashed.reserve(64 + message.size());
  hashed.insert(hashed.end(), r_bytes.begin(), r_bytes.end());
  hashed.insert(hashed.end(), public_key.begin(), public_key.end());
  hashed.insert(hashed.end(), message.begin(), message.end());
  const scalar h = reduce_mod_order(sha512(hashed));

  // [S]B = R + [h]A, checked as encode([S]B - [h]A) == R (cofactorless). R is not decoded:
  // an encoding is always canonical and of a curve point, so an R that would not decode
  // cannot match.
  return encode(double_scalar_multiply(s, base_point(), h, negate(*a))) == r_bytes;
}

}  // namespace wt
