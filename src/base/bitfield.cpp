#include "base/bitfield.hpp"

#include <algorithm>
#include <bit>

namespace wt {

namespace {
std::size_t words_for(std::uint32_t bits) { return (std::size_t{bits} + 63) / 64; }
}  // namespace

bitfield_check validate_bitfield(byte_view bytes, std::uint32_t num_bits) noexcept {
  const std::size_t want = (std::size_t{num_bits} + 7) / 8;
  if (bytes.size() != want) return bitfield_check::wrong_length;
  const unsigned spare = static_cast<unsigned>(want * 8 - num_bits);
  if (spare != 0) {
    const auto spare_mask = static_cast<std::uint8_t>((1u << spare) - 1u);
    if ((bytes[want - 1] & spare_mask) != 0) return bitfield_check::spare_bits_set;
  }
  return bitfield_check::ok;
}

bitfield::bitfield(std::uint32_t size, bool value) : words_(words_for(size)), size_(size) {
  if (value) set_all();
}

std::optional<bitfield> bitfield::from_bytes(byte_view bytes, std::uint32_t size) {
  if (validate_bitfield(bytes, size) != bitfield_check::ok) return std::nullopt;
  bitfield b(size);
  for (std::size_t j = 0; j < bytes.size(); ++j) {
    b.words_[j / 8] |= std::uint64_t{bytes[j]} << (56 - 8 * (j % 8));
  }
  return b;
}

bitfield bitfield::from_string(std::string_view bits) {
  bitfield b(static_cast<std::uint32_t>(bits.size()));
  for (std::uint32_t i = 0; i < b.size_; ++i) {
    if (bits[i] == '1' || bits[i] == '*') b.set(i);
  }
  return b;
}

byte_buffer bitfield::to_bytes() const {
  byte_buffer out(byte_size());
  for (std::size_t j = 0; j < out.size(); ++j) {
    out[j] = static_cast<std::uint8_t>(words_[j / 8] >> (56 - 8 * (j % 8)));
  }
  return out;
}

std::string bitfield::to_string() const {
  std::string s(size_, '0');
  for (std::uint32_t i = find_next_set(0); i < size_; i = find_next_set(i + 1)) s[i] = '1';
  return s;
}

void bitfield::resize(std::uint32_t size, bool value) {
  const std::uint32_t old = size_;
  words_.resize(words_for(size), 0);
  size_ = size;
  if (value && size > old) {
    // Fill the tail of the old last word bit by bit, then whole words.
    std::uint32_t i = old;
    for (; i < size && i % 64 != 0; ++i) set(i);
    for (std::size_t w = i / 64; w < words_.size(); ++w) words_[w] = ~std::uint64_t{0};
  }
  clear_spare();
}

void bitfield::set_all() noexcept {
  std::fill(words_.begin(), words_.end(), ~std::uint64_t{0});
  clear_spare();
}

void bitfield::clear_all() noexcept { std::fill(words_.begin(), words_.end(), 0); }

void bitfield::clear_spare() noexcept {
  const unsigned used = size_ % 64;
  if (used != 0 && !words_.empty()) words_.back() &= ~(~std::uint64_t{0} >> used);
}

std::uint32_t bitfield::count() const noexcept {
  std::uint32_t n = 0;
  for (const std::uint64_t w : words_) n += static_cast<std::uint32_t>(std::popcount(w));
  return n;
}

bool bitfield::none() const noexcept {
  return std::all_of(words_.begin(), words_.end(), [](std::uint64_t w) { return w == 0; });
}

std::uint32_t bitfield::find_next_set(std::uint32_t from) const noexcept {
  if (from >= size_) return size_;
  std::size_t w = from / 64;
  std::uint64_t word = words_[w] & (~std::uint64_t{0} >> (from % 64));
  while (word == 0) {
    if (++w == words_.size()) return size_;
    word = words_[w];
  }
  return static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countl_zero(word)));
}

std::uint32_t bitfield::find_next_unset(std::uint32_t from) const noexcept {
  if (from >= size_) return size_;
  std::size_t w = from / 64;
  std::uint64_t word = ~words_[w] & (~std::uint64_t{0} >> (from % 64));
  while (word == 0) {
    if (++w == words_.size()) return size_;
    word = ~words_[w];
  }
  const auto i = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countl_zero(word)));
  return std::min(i, size_);  // spare bits read as unset
}

bitfield& bitfield::operator&=(const bitfield& other) noexcept {
  const std::size_t n = std::min(words_.size(), other.words_.size());
  for (std::size_t w = 0; w < n; ++w) words_[w] &= other.words_[w];
  std::fill(words_.begin() + static_cast<std::ptrdiff_t>(n), words_.end(), 0);
  return *this;
}

bitfield& bitfield::operator|=(const bitfield& other) noexcept {
  const std::size_t n = std::min(words_.size(), other.words_.size());
  for (std::size_t w = 0; w < n; ++w) words_[w] |= other.words_[w];
  clear_spare();
  return *this;
}

bitfield& bitfield::subtract(const bitfield& other) noexcept {
  const std::size_t n = std::min(words_.size(), other.words_.size());
  for (std::size_t w = 0; w < n; ++w) words_[w] &= ~other.words_[w];
  return *this;
}

}  // namespace wt
