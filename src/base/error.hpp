// Errors as values: every fallible engine call returns result<T>, never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace wt {

enum class errc : std::uint8_t {
  ok = 0,
  // bencode
  bencode_truncated,          // input ends inside a value
  bencode_unexpected_byte,    // a byte that cannot start or continue a value here
  bencode_leading_zero,       // "i03e", "03:abc"
  bencode_negative_zero,      // "i-0e"
  bencode_empty_integer,      // "ie", "i-e"
  bencode_integer_overflow,   // does not fit in int64
  bencode_string_too_long,    // length prefix beyond the limit (beyond the input: truncated)
  bencode_key_not_string,     // a dict key that is not a string
  bencode_unsorted_keys,      // dict keys out of byte order
  bencode_duplicate_key,      // the same dict key twice
  bencode_trailing_data,      // bytes after the top-level value
  bencode_depth_exceeded,     // nesting deeper than the limit
  bencode_too_many_tokens,    // more values than the limit
  // metainfo
  metainfo_not_a_dict,
  metainfo_missing_field,     // a required key is absent
  metainfo_wrong_type,        // a key holds the wrong bencode type
  metainfo_invalid_value,     // a value out of range or inconsistent with another
  metainfo_bad_path,          // "..", absolute, empty component, NUL, ...
  metainfo_too_large,         // beyond a size limit (files, pieces, bytes)
  // magnet
  magnet_not_a_magnet,        // does not start with "magnet:?"
  magnet_bad_escape,          // a %XX escape that is not two hex digits
  magnet_bad_info_hash,       // xt=urn:btih: neither 40 hex nor 32 base32 characters
  magnet_no_info_hash,        // no usable xt
  magnet_bad_parameter,       // a parameter whose value cannot be parsed (e.g. so=)
  magnet_too_large,           // more parameters or bytes than the limit
  // wire
  wire_bad_protocol,          // handshake: pstrlen is not 19 or the name is not "BitTorrent protocol"
  wire_message_too_large,     // a length prefix beyond the limit for its message type
  wire_bad_message_length,    // a fixed-size message with the wrong length ("have" is 5 bytes)
  wire_bad_bitfield,          // a bitfield of the wrong size for the piece count, or spare bits set
  wire_piece_out_of_range,    // a piece index not below the piece count
  wire_not_a_dict,            // an extension message payload that is not a bencoded dict
  wire_bad_field,             // a known key of the wrong type or out of range
  wire_missing_field,         // a required key is absent
  wire_metadata_too_large,    // ut_metadata size or piece beyond the limit
  wire_bad_compact_peers,     // compact peers not a multiple of 6 (IPv4) or 18 (IPv6) bytes
  wire_too_many_peers,        // more peers in one message than the limit
  wire_trailing_data,         // bytes after a message that must end there
  wire_not_negotiated,        // a message the handshake did not allow (BEP 6's without the fast extension)
  wire_unrequested_block,     // blocks we never asked the peer for, beyond a few
  // session
  session_duplicate_torrent,  // a torrent with this info-hash is already in the session
  session_metadata_mismatch,  // metadata from peers that does not hash to the info-hash (fetched again)
  session_storage_failed,     // the store failed a read or write (the piece is fetched again)
  session_piece_failed,       // a trusted peer's piece failed its hash check (not asked of it again)
  // tracker (WebSocket tracker JSON)
  tracker_message_too_large,  // a tracker message longer than the limit
  tracker_depth_exceeded,     // JSON nested deeper than the limit
  tracker_bad_json,           // not JSON, or not a JSON object
  tracker_unknown_action,     // "action" absent or not announce/scrape
  tracker_missing_field,      // a required key is absent
  tracker_bad_field,          // a key of the wrong type or out of range
  tracker_bad_utf8,           // a binary string that is not valid UTF-8
  tracker_not_latin1,         // a binary string with a code point above U+00FF
  tracker_bad_id_length,      // info_hash, peer_id or offer_id not 20 bytes
  tracker_failure,            // the tracker sent "failure reason" (text in context)
  tracker_warning,            // the tracker sent "warning message" (text in context)
  tracker_unknown_offer,      // an answer whose offer_id is not pending (expired or never sent)
  tracker_bad_response,       // HTTP/UDP tracker: malformed or oversized answer, or an HTTP error status
  tracker_timeout,            // HTTP/UDP tracker: no answer (every retransmission spent)
  tracker_unreachable,        // HTTP/UDP tracker: the host's request or socket failed
  tracker_bad_url,            // a tracker URL of no protocol we speak (not http(s), udp, ws(s))
  // web seeds (BEP 19)
  web_seed_bad_url,           // not an http:// or https:// URL, or too long
  web_seed_not_found,         // 404 / 410: the server lacks the file (the seed is dropped)
  web_seed_http_error,        // another status than 200 / 206 (the status in context)
  web_seed_ignores_range,     // a 200 with the whole file for part of a large file
  web_seed_bad_response,      // Content-Range / Content-Length not what was asked, body too long or short
  web_seed_bad_data,          // a piece with bytes from the seed failed its hash check
  web_seed_timeout,           // no response or no body bytes for session_settings::web_seed_timeout
  web_seed_failed,            // the host could not perform the request (network error, CORS)
  // blocklists
  blocklist_bad_line,         // a line that is no address, range or CIDR block (line in context)
  blocklist_too_large,        // more entries than the limit
};

// A short, stable description of the error kind, e.g. "leading zero in integer".
const char* describe(errc code) noexcept;

struct error {
  errc code = errc::ok;
  std::size_t position = 0;  // byte offset in the input where the problem was found
  std::string context;       // e.g. the field: "info.files[2].path"; may be empty

  // "leading zero in integer at byte 12 (info.piece length)"
  std::string message() const;
};

// Holds either a value or an error. Small on purpose: C++20 has no std::expected.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}
  result(error e) : v_(std::move(e)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

inline error make_error(errc code, std::size_t position, std::string context = {}) {
  return error{code, position, std::move(context)};
}

}  // namespace wt
