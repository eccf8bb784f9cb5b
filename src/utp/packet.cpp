#include "utp/packet.hpp"

#include <algorithm>

namespace wt::utp {

namespace {

std::uint16_t read16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t read32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put16(byte_buffer& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(byte_buffer& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

}  // namespace

std::string_view to_string(parse_error e) {
  switch (e) {
    case parse_error::too_short: return "uTP packet truncated";
    case parse_error::too_long: return "uTP packet too long";
    case parse_error::bad_version: return "uTP packet of another version";
    case parse_error::bad_type: return "uTP packet of an unknown type";
    case parse_error::bad_extension: return "uTP packet with a bad extension";
  }
  return "uTP packet error";
}

parse_result parse(byte_view d) {
  parse_result r;
  if (d.size() > max_datagram) {
    r.error = parse_error::too_long;
    return r;
  }
  if (d.size() < header_size) return r;  // too_short
  if ((d[0] & 0x0f) != version) {
    r.error = parse_error::bad_version;
    return r;
  }
  const unsigned type = d[0] >> 4;
  if (type > static_cast<unsigned>(packet_type::syn)) {
    r.error = parse_error::bad_type;
    return r;
  }
  packet p;
  p.h.type = static_cast<packet_type>(type);
  p.h.connection_id = read16(&d[2]);
  p.h.timestamp_us = read32(&d[4]);
  p.h.timestamp_difference_us = read32(&d[8]);
  p.h.wnd_size = read32(&d[12]);
  p.h.seq_nr = read16(&d[16]);
  p.h.ack_nr = read16(&d[18]);
  std::size_t at = header_size;
  std::uint8_t next = d[1];
  for (std::size_t count = 0; next != 0; ++count) {
    if (count == max_extensions) {
      r.error = parse_error::bad_extension;
      return r;
    }
    if (d.size() - at < 2) return r;  // too_short
    const std::uint8_t kind = next;
    next = d[at];
    const std::size_t len = d[at + 1];
    at += 2;
    if (d.size() - at < len) return r;  // too_short
    if (kind == extension_sack) {
      if (!p.h.sack.empty()) {
        r.error = parse_error::bad_extension;
        return r;
      }
      const std::size_t kept = std::min(len, max_sack_bytes);
      p.h.sack.assign(d.begin() + static_cast<std::ptrdiff_t>(at),
                      d.begin() + static_cast<std::ptrdiff_t>(at + kept));
    }
    at += len;  // other extensions (libtorrent's close reason, 2) are skipped
  }
  p.payload = d.subspan(at);
  r.value = std::move(p);
  return r;
}

byte_buffer encode(const header& h, byte_view payload) {
  byte_buffer out;
  out.reserve(header_size + (h.sack.empty() ? 0 : 2 + h.sack.size()) + payload.size());
  out.push_back(static_cast<std::uint8_t>((static_cast<unsigned>(h.type) << 4) | version));
  out.push_back(h.sack.empty() ? 0 : extension_sack);
  put16(out, h.connection_id);
  put32(out, h.timestamp_us);
  put32(out, h.timestamp_difference_us);
  put32(out, h.wnd_size);
  put16(out, h.seq_nr);
  put16(out, h.ack_nr);
  if (!h.sack.empty()) {
    out.push_back(0);
    out.push_back(static_cast<std::uint8_t>(h.sack.size()));
    out.insert(out.end(), h.sack.begin(), h.sack.end());
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace wt::utp
