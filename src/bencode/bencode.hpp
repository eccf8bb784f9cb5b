// Bencode: a strict zero-copy decoder and an encoder.
//
// decode() parses the input into one flat array of tokens that point into the
// caller's buffer (no allocation per value). Any value's exact raw bytes are one
// call away, which is how the info-hash is taken over the bytes as received.
// The input must outlive the document.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/error.hpp"

namespace wt::bencode {

enum class type : std::uint8_t { integer, string, list, dict };

struct limits {
  std::uint32_t max_depth = 64;           // nesting of lists and dicts
  std::uint32_t max_tokens = 2'000'000;   // values in the whole document
  std::size_t max_string_length = 64u << 20;
};

// One value in the flat array. A list or dict is followed by its items
// (for a dict: key, value, key, value...); `next` skips the whole subtree.
struct token {
  type kind;
  std::uint32_t start;   // offset of the value's first raw byte ('i', 'l', 'd' or a digit)
  std::uint32_t end;     // one past its last raw byte
  std::uint32_t next;    // index of the token after this value and everything inside it
  std::uint32_t count;   // items in a list, key/value pairs in a dict, 0 otherwise
  std::uint32_t data;    // string: offset of the first content byte; 0 otherwise
  std::int64_t integer;  // integer: its value
};

class document;

// A cheap handle on one value of a document. Accessors on the wrong type
// return empty/zero values; check kind() first, or use the find_* helpers.
class node {
 public:
  node() = default;
  node(const document* doc, std::uint32_t index) : doc_(doc), index_(index) {}

  type kind() const;
  bool is_int() const { return kind() == type::integer; }
  bool is_string() const { return kind() == type::string; }
  bool is_list() const { return kind() == type::list; }
  bool is_dict() const { return kind() == type::dict; }

  std::int64_t as_int() const;
  std::string_view as_string() const;
  byte_view as_bytes() const;
  byte_view raw() const;         // the exact encoded bytes of this value
  std::size_t offset() const;    // where this value starts in the input
  std::size_t size() const;      // items in a list, pairs in a dict

  node item(std::size_t i) const;                 // list item (linear in i)
  std::vector<node> items() const;                // all list items
  std::vector<std::pair<std::string_view, node>> entries() const;  // all dict pairs
  std::optional<node> find(std::string_view key) const;            // dict lookup
  std::optional<std::int64_t> find_int(std::string_view key) const;
  std::optional<std::string_view> find_string(std::string_view key) const;
  std::optional<node> find_list(std::string_view key) const;
  std::optional<node> find_dict(std::string_view key) const;

  std::uint32_t index() const { return index_; }

 private:
  const token& tok() const;
  const document* doc_ = nullptr;
  std::uint32_t index_ = 0;
};

class document {
 public:
  document(byte_view input, std::vector<token> tokens)
      : input_(input), tokens_(std::move(tokens)) {}
  node root() const { return node(this, 0); }
  byte_view input() const { return input_; }
  const std::vector<token>& tokens() const { return tokens_; }

 private:
  byte_view input_;
  std::vector<token> tokens_;
};

// Decodes exactly one value that fills the whole input (trailing bytes are an error).
result<document> decode(byte_view input, const limits& lim = {});

// Decodes the value at the start of the input and reports how many bytes it took;
// the rest is left for the caller (ut_metadata: a dict followed by raw data).
// An input that ends inside the value gives errc::bencode_truncated: with a
// growing buffer, retry once more bytes have arrived.
struct prefix_result {
  document doc;
  std::size_t consumed;
};
result<prefix_result> decode_prefix(byte_view input, const limits& lim = {});

// --- Encoding ---------------------------------------------------------------

// An owned value tree, for building messages and torrents. Dict keys are kept
// in a std::map, so they encode in the sorted order bencode requires.
struct value;
using list = std::vector<value>;
using dict = std::map<std::string, value, std::less<>>;

struct value {
  std::variant<std::int64_t, std::string, list, dict> v;

  value() : v(std::int64_t{0}) {}
  value(std::int64_t i) : v(i) {}
  value(int i) : v(std::int64_t{i}) {}
  value(std::string s) : v(std::move(s)) {}
  value(std::string_view s) : v(std::string(s)) {}
  value(const char* s) : v(std::string(s)) {}
  value(list l) : v(std::move(l)) {}
  value(dict d) : v(std::move(d)) {}
};

void encode_to(const value& v, byte_buffer& out);
byte_buffer encode(const value& v);

// Copies a decoded value into an owned tree.
value to_value(const node& n);

}  // namespace wt::bencode
