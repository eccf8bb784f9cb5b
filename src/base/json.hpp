// A small, bounded JSON reader and writer: what the WebSocket tracker protocol needs
// (tracker/ws_tracker.cpp), nothing more. RFC 8259 text only: objects, arrays, strings
// (UTF-8 checked; \u escapes, surrogate pairs joined, lone surrogates refused), numbers,
// true, false, null; a UTF-8 byte order mark at the start is skipped.
//
// Bounds: nesting depth (parse's max_depth) and the text's size (the caller's: every value
// takes at least one byte of it). Nothing throws.
//
// Binary strings (bittorrent-tracker's info_hash, peer_id, offer_id: one character per byte,
// U+0000..U+00FF) are ordinary strings here; ws_tracker's to_latin1 / from_latin1 convert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wt::json {

struct value {
  enum class kind : std::uint8_t { null, boolean, number, string, array, object };
  kind type = kind::null;
  bool boolean = false;
  double number = 0;                 // every number
  std::optional<std::int64_t> integer;  // a number written as an integer that fits
  std::string string;
  std::vector<value> items;          // an array's elements, an object's member values
  std::vector<std::string> keys;     // an object's member names, parallel to items

  bool is_object() const noexcept { return type == kind::object; }
  bool is_string() const noexcept { return type == kind::string; }
  bool is_null() const noexcept { return type == kind::null; }
  // The string, or null when this is not one.
  const std::string* as_string() const noexcept { return type == kind::string ? &string : nullptr; }
  // An object's member `key` (the last one when a name repeats, as JSON.parse does), or null.
  const value* find(std::string_view key) const noexcept;
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
};

enum class parse_error : std::uint8_t { syntax, too_deep };

struct parse_result {
  std::optional<value> doc;  // set on success
  parse_error error = parse_error::syntax;
};

// The whole text as one value (surrounding whitespace allowed); arrays and objects nest
// at most max_depth deep.
parse_result parse(std::string_view text, std::size_t max_depth);

// Appends JSON text. Call order makes the document: key() before each member's value.
// Strings that are not valid UTF-8 are written with U+FFFD for each bad byte.
class writer {
 public:
  writer& begin_object();
  writer& end_object();
  writer& begin_array();
  writer& end_array();
  writer& key(std::string_view name);
  writer& string(std::string_view s);
  writer& number(std::int64_t n);
  writer& number(std::uint64_t n);
  // A JSON number, true or false as it is (the caller checked it: tracker::is_json_literal).
  writer& literal(std::string_view json);
  std::string take() { return std::move(out_); }

 private:
  void before_value();
  std::string out_;
  bool comma_ = false;  // a value was written at this level: the next needs a comma
};

}  // namespace wt::json
