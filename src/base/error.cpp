#include "base/error.hpp"

namespace wt {

const char* describe(errc code) noexcept {
  switch (code) {
    case errc::ok: return "no error";
    case errc::bencode_truncated: return "input ends inside a value";
    case errc::bencode_unexpected_byte: return "unexpected byte";
    case errc::bencode_leading_zero: return "leading zero in integer";
    case errc::bencode_negative_zero: return "negative zero";
    case errc::bencode_empty_integer: return "empty integer";
    case errc::bencode_integer_overflow: return "integer overflow";
    case errc::bencode_string_too_long: return "string too long";
    case errc::bencode_key_not_string: return "dictionary key is not a string";
    case errc::bencode_unsorted_keys: return "dictionary keys out of order";
    case errc::bencode_duplicate_key: return "duplicate dictionary key";
    case errc::bencode_trailing_data: return "trailing data after value";
    case errc::bencode_depth_exceeded: return "nesting too deep";
    case errc::bencode_too_many_tokens: return "too many values";
    case errc::metainfo_not_a_dict: return "not a dictionary";
    case errc::metainfo_missing_field: return "missing field";
    case errc::metainfo_wrong_type: return "wrong type";
    case errc::metainfo_invalid_value: return "invalid value";
    case errc::metainfo_bad_path: return "unsafe or malformed path";
    case errc::metainfo_too_large: return "too large";
    case errc::magnet_not_a_magnet: return "not a magnet link";
    case errc::magnet_bad_escape: return "bad percent escape";
    case errc::magnet_bad_info_hash: return "bad info-hash";
    case errc::magnet_no_info_hash: return "no info-hash";
    case errc::magnet_bad_parameter: return "bad parameter";
    case errc::magnet_too_large: return "magnet link too large";
    case errc::wire_bad_protocol: return "not a BitTorrent handshake";
    case errc::wire_message_too_large: return "message too large";
    case errc::wire_bad_message_length: return "wrong message length";
    case errc::wire_bad_bitfield: return "bad bitfield";
    case errc::wire_piece_out_of_range: return "piece index out of range";
    case errc::wire_not_a_dict: return "extension message is not a dictionary";
    case errc::wire_bad_field: return "bad field in extension message";
    case errc::wire_missing_field: return "missing field in extension message";
    case errc::wire_metadata_too_large: return "metadata too large";
    case errc::wire_bad_compact_peers: return "bad compact peer list";
    case errc::wire_too_many_peers: return "too many peers";
    case errc::wire_trailing_data: return "trailing data after message";
    case errc::wire_not_negotiated: return "message not negotiated in the handshake";
    case errc::wire_unrequested_block: return "blocks that were never requested";
    case errc::session_duplicate_torrent: return "torrent already added";
    case errc::session_metadata_mismatch: return "metadata does not match the info-hash";
    case errc::session_storage_failed: return "storage failed";
    case errc::session_piece_failed: return "a peer's piece failed its hash check";
    case errc::tracker_message_too_large: return "message longer than the limit";
    case errc::tracker_depth_exceeded: return "JSON nesting too deep";
    case errc::tracker_bad_json: return "malformed JSON";
    case errc::tracker_unknown_action: return "unknown tracker action";
    case errc::tracker_missing_field: return "missing field in tracker message";
    case errc::tracker_bad_field: return "bad field in tracker message";
    case errc::tracker_bad_utf8: return "malformed UTF-8 in binary string";
    case errc::tracker_not_latin1: return "character beyond U+00FF in binary string";
    case errc::tracker_bad_id_length: return "binary id is not 20 bytes";
    case errc::tracker_failure: return "tracker failure reason";
    case errc::tracker_warning: return "tracker warning message";
    case errc::tracker_unknown_offer: return "answer to an unknown offer";
    case errc::tracker_bad_response: return "bad tracker response";
    case errc::tracker_timeout: return "tracker did not answer";
    case errc::tracker_unreachable: return "tracker unreachable";
    case errc::tracker_bad_url: return "unsupported tracker URL";
    case errc::web_seed_bad_url: return "bad web seed URL";
    case errc::web_seed_not_found: return "web seed lacks the file";
    case errc::web_seed_http_error: return "web seed HTTP error";
    case errc::web_seed_ignores_range: return "web seed ignores Range";
    case errc::web_seed_bad_response: return "web seed sent a bad response";
    case errc::web_seed_bad_data: return "web seed sent data that failed the hash check";
    case errc::web_seed_timeout: return "web seed timed out";
    case errc::web_seed_failed: return "web seed request failed";
    case errc::blocklist_bad_line: return "malformed blocklist entry";
    case errc::blocklist_too_large: return "blocklist too large";
  }
  // Only reachable through a cast from an out-of-range integer.
  return "unknown error";
}

std::string error::message() const {
  std::string out = describe(code);
  out += " at byte ";
  out += std::to_string(position);
  if (!context.empty()) {
    out += " (";
    out += context;
    out += ')';
  }
  return out;
}

}  // namespace wt
