// Byte views and small encodings shared by the modules.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wt {

using byte_view = std::span<const std::uint8_t>;
using byte_buffer = std::vector<std::uint8_t>;

inline byte_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(byte_view b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lower-case hex, as info-hashes are shown everywhere.
std::string to_hex(byte_view bytes);
// Accepts upper and lower case; nullopt on an odd length or a non-hex character.
std::optional<byte_buffer> from_hex(std::string_view text);
// RFC 4648 base32 (upper case, no padding), as BitTorrent uses for 20-byte hashes.
std::string to_base32(byte_view bytes);
// Accepts upper and lower case, no padding; nullopt on a bad character or length.
std::optional<byte_buffer> from_base32(std::string_view text);

// A remote's text shown to the app (a tracker's failure reason): at most `max` bytes, with
// control characters (a terminal's escapes, NUL, line breaks) each replaced by a space.
std::string printable_text(std::string_view text, std::size_t max);

}  // namespace wt
