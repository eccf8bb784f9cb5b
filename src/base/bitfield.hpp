// A compact bitfield with the BitTorrent wire layout (BEP 3 "bitfield" message):
// bit 0 is the high bit of the first byte, spare bits in the last byte are zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"

namespace wt {

enum class bitfield_check : std::uint8_t {
  ok,
  wrong_length,    // not ceil(num_bits / 8) bytes
  spare_bits_set,  // a bit past num_bits in the last byte is one
};

// Validates a received bitfield payload for a torrent of num_bits pieces.
bitfield_check validate_bitfield(byte_view bytes, std::uint32_t num_bits) noexcept;

class bitfield {
 public:
  bitfield() = default;
  explicit bitfield(std::uint32_t size, bool value = false);

  // Parses a wire payload; nullopt unless validate_bitfield() says ok.
  static std::optional<bitfield> from_bytes(byte_view bytes, std::uint32_t size);
  // Builds from "1011", "*  *" or similar: '1' and '*' are set, anything else clear.
  static bitfield from_string(std::string_view bits);

  // The wire payload: ceil(size() / 8) bytes, MSB first, spare bits zero.
  byte_buffer to_bytes() const;
  std::string to_string() const;  // "1011..."

  std::uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t byte_size() const noexcept { return (std::size_t{size_} + 7) / 8; }
  // Grows or shrinks; new bits take `value`.
  void resize(std::uint32_t size, bool value = false);

  bool test(std::uint32_t i) const noexcept {
    return i < size_ && (words_[i / 64] >> (63 - i % 64) & 1u) != 0;
  }
  bool operator[](std::uint32_t i) const noexcept { return test(i); }
  void set(std::uint32_t i) noexcept {
    if (i < size_) words_[i / 64] |= mask(i);
  }
  void clear(std::uint32_t i) noexcept {
    if (i < size_) words_[i / 64] &= ~mask(i);
  }
  void set(std::uint32_t i, bool value) noexcept {
    if (value) set(i); else clear(i);
  }
  void set_all() noexcept;
  void clear_all() noexcept;

  std::uint32_t count() const noexcept;  // popcount, 64 bits at a time
  bool all() const noexcept { return count() == size_; }
  bool none() const noexcept;
  bool any() const noexcept { return !none(); }

  // The first set (unset) bit at or after `from`; size() when there is none.
  std::uint32_t find_next_set(std::uint32_t from) const noexcept;
  std::uint32_t find_next_unset(std::uint32_t from) const noexcept;

  // Bitwise operations with a bitfield of the same size (extra bits are ignored).
  bitfield& operator&=(const bitfield& other) noexcept;
  bitfield& operator|=(const bitfield& other) noexcept;
  // Bits set here and clear in `other` ("what they have that we lack").
  bitfield& subtract(const bitfield& other) noexcept;

  friend bool operator==(const bitfield&, const bitfield&) = default;

 private:
  static std::uint64_t mask(std::uint32_t i) noexcept { return std::uint64_t{1} << (63 - i % 64); }
  void clear_spare() noexcept;

  // Bit i lives in words_[i / 64] at bit (63 - i % 64): MSB first, as on the wire.
  // Invariant: bits past size_ are zero.
  std::vector<std::uint64_t> words_;
  std::uint32_t size_ = 0;
};

}  // namespace wt
