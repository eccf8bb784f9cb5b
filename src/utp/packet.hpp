// uTP packets (BEP 29): the 20-byte header, its extension chain (selective ACK, others
// skipped) and the payload. A pure codec: parse() is bounded and never reads past the
// datagram; encode() is its inverse.
//
//   byte 0: type (high nibble: ST_DATA 0, ST_FIN 1, ST_STATE 2, ST_RESET 3, ST_SYN 4) and
//           version (low nibble: 1)
//   byte 1: the first extension's type (0: none)
//   2-3 connection_id, 4-7 timestamp (us), 8-11 timestamp difference (us), 12-15 wnd_size,
//   16-17 seq_nr, 18-19 ack_nr (all big-endian)
//   then each extension: the next one's type (1 byte), its length (1 byte), its bytes.
//   Extension 1 is the selective ACK: a bitmask whose bit k (byte k / 8, least significant
//   bit first) says packet ack_nr + 2 + k arrived. BEP 29 says its length is a multiple of 4;
//   libtorrent sends other lengths too (6, 18 bytes...), so any length is read, and only the
//   first max_sack_bytes kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"

namespace wt::utp {

enum class packet_type : std::uint8_t { data = 0, fin = 1, state = 2, reset = 3, syn = 4 };

inline constexpr std::size_t header_size = 20;
inline constexpr std::uint8_t version = 1;
inline constexpr std::uint8_t extension_sack = 1;
// Bounds of parse(): extensions per packet, bytes of a selective ACK's bitmask that are kept.
inline constexpr std::size_t max_extensions = 8;
inline constexpr std::size_t max_sack_bytes = 64;
// The largest datagram we take (a uTP payload never needs more: packets are MTU-sized).
inline constexpr std::size_t max_datagram = 64 * 1024;

struct header {
  packet_type type = packet_type::data;
  std::uint16_t connection_id = 0;
  std::uint32_t timestamp_us = 0;
  std::uint32_t timestamp_difference_us = 0;
  std::uint32_t wnd_size = 0;
  std::uint16_t seq_nr = 0;
  std::uint16_t ack_nr = 0;
  // The selective ACK's bitmask, empty when the packet has none.
  byte_buffer sack;
};

struct packet {
  header h;
  byte_view payload;  // into the parsed datagram
};

enum class parse_error : std::uint8_t {
  too_short,      // less than a header, or an extension cut off
  too_long,       // beyond max_datagram
  bad_version,    // version nibble not 1
  bad_type,       // type nibble above ST_SYN
  bad_extension,  // too many extensions, or two selective ACKs
};
std::string_view to_string(parse_error e);

struct parse_result {
  std::optional<packet> value;
  parse_error error = parse_error::too_short;
};
parse_result parse(byte_view datagram);

// The datagram for a header (its sack, if any, as extension 1) and payload.
byte_buffer encode(const header& h, byte_view payload = {});

// Sequence numbers wrap at 2^16: a is before b when b - a (mod 2^16) is in (0, 2^15).
constexpr bool seq_less(std::uint16_t a, std::uint16_t b) noexcept {
  const auto d = static_cast<std::uint16_t>(b - a);
  return d != 0 && d < 0x8000;
}

}  // namespace wt::utp
