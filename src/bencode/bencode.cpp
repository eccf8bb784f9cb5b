#include "bencode/bencode.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace wt::bencode {

namespace {

constexpr std::uint32_t no_parent = std::numeric_limits<std::uint32_t>::max();
// Offsets are 32-bit, and `end` may equal the input size.
constexpr std::size_t max_input = std::numeric_limits<std::uint32_t>::max();

bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }

// Bytewise unsigned comparison of two keys, as bencode orders dict keys.
int compare_keys(byte_view a, byte_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n != 0) {
    const int c = std::memcmp(a.data(), b.data(), n);
    if (c != 0) return c;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// The decoder proper. Iterative: open containers form a chain through the
// `next` field of their tokens (parent index while open, fixed up on close),
// and a dict's `data` holds the index of its last key while open, so the
// token vector is the only allocation.
class parser {
 public:
  parser(byte_view input, const limits& lim) : in_(input), lim_(lim) {
    // The window we can address with 32-bit offsets.
    n_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{input.size()}, max_input));
    // Bounded reservation: tokens take 32 bytes and most documents are
    // dominated by long strings (piece hashes), so guess low and let it grow.
    const std::size_t guess = std::min<std::size_t>({std::size_t{n_} / 16 + 4, 1024, lim.max_tokens});
    tokens_.reserve(guess);
  }

  // Parses one value from the start; on success pos_ is one past it.
  std::optional<error> run();
  std::uint32_t pos() const { return pos_; }
  std::vector<token> take_tokens() { return std::move(tokens_); }

 private:
  error fail(errc code, std::size_t position) const { return make_error(code, position); }
  // Running off the window: the input is truncated, unless the caller's input
  // goes on past what 32-bit offsets can address.
  error out_of_input(std::uint32_t value_start) const {
    if (in_.size() > n_) return fail(errc::bencode_string_too_long, value_start);
    return fail(errc::bencode_truncated, n_);
  }
  std::optional<error> parse_integer(std::uint32_t start, std::int64_t& out);
  std::optional<error> parse_string(std::uint32_t start, std::uint32_t& data, std::uint32_t& end);
  std::optional<error> push(type kind, std::uint32_t start, std::uint32_t end, std::uint32_t data,
                            std::int64_t integer);

  byte_view in_;
  const limits& lim_;
  std::uint32_t n_ = 0;
  std::uint32_t pos_ = 0;
  std::uint32_t open_ = no_parent;  // innermost open container
  std::uint32_t depth_ = 0;
  std::vector<token> tokens_;
};

std::optional<error> parser::parse_integer(std::uint32_t start, std::int64_t& out) {
  std::uint32_t p = start + 1;  // past 'i'
  bool negative = false;
  if (p < n_ && in_[p] == '-') {
    negative = true;
    ++p;
  }
  const std::uint32_t first_digit = p;
  // Magnitude limit: INT64_MIN's magnitude is one more than INT64_MAX.
  const std::uint64_t max_mag = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  std::uint64_t mag = 0;
  for (;; ++p) {
    if (p >= n_) return out_of_input(start);
    const std::uint8_t c = in_[p];
    if (c == 'e') break;
    if (!is_digit(c)) return fail(errc::bencode_unexpected_byte, p);
    if (p > first_digit && in_[first_digit] == '0') {
      return fail(errc::bencode_leading_zero, start);
    }
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (mag > (max_mag - d) / 10) return fail(errc::bencode_integer_overflow, start);
    mag = mag * 10 + d;
  }
  if (p == first_digit) return fail(errc::bencode_empty_integer, start);
  if (negative && mag == 0) return fail(errc::bencode_negative_zero, start);
  if (negative) {
    // -(mag - 1) - 1 stays in range even for INT64_MIN.
    out = -static_cast<std::int64_t>(mag - 1) - 1;
  } else {
    out = static_cast<std::int64_t>(mag);
  }
  pos_ = p + 1;
  return std::nullopt;
}

std::optional<error> parser::parse_string(std::uint32_t start, std::uint32_t& data,
                                          std::uint32_t& end) {
  std::uint64_t len = 0;
  std::uint32_t p = start;
  for (;; ++p) {
    if (p >= n_) return out_of_input(start);
    const std::uint8_t c = in_[p];
    if (c == ':') break;
    if (!is_digit(c)) return fail(errc::bencode_unexpected_byte, p);
    if (p > start && in_[start] == '0') return fail(errc::bencode_leading_zero, start);
    len = len * 10 + static_cast<std::uint64_t>(c - '0');
    // Checked per digit, so len never gets near overflow.
    if (len > lim_.max_string_length || len > max_input) {
      return fail(errc::bencode_string_too_long, start);
    }
  }
  // p > start: the caller only gets here on a digit, so there is one.
  data = p + 1;
  const std::uint64_t stop = std::uint64_t{data} + len;
  if (stop > n_) {
    if (in_.size() > n_) return fail(errc::bencode_string_too_long, start);
    return fail(errc::bencode_truncated, n_);
  }
  end = static_cast<std::uint32_t>(stop);
  pos_ = end;
  return std::nullopt;
}

std::optional<error> parser::push(type kind, std::uint32_t start, std::uint32_t end,
                                  std::uint32_t data, std::int64_t integer) {
  if (tokens_.size() >= lim_.max_tokens) return fail(errc::bencode_too_many_tokens, start);
  const auto index = static_cast<std::uint32_t>(tokens_.size());
  tokens_.push_back(token{kind, start, end, index + 1, 0, data, integer});
  if (open_ != no_parent) ++tokens_[open_].count;  // items; halved for dicts on close
  return std::nullopt;
}

std::optional<error> parser::run() {
  for (;;) {
    if (pos_ >= n_) return out_of_input(pos_);
    const std::uint8_t c = in_[pos_];
    const std::uint32_t start = pos_;
    // Inside a dict, an even number of items so far means a key comes next.
    const bool in_dict = open_ != no_parent && tokens_[open_].kind == type::dict;
    const bool want_key = in_dict && tokens_[open_].count % 2 == 0;

    if (c == 'e' && open_ != no_parent && (!in_dict || want_key)) {
      token& t = tokens_[open_];
      const std::uint32_t parent = t.next;
      t.end = pos_ + 1;
      t.next = static_cast<std::uint32_t>(tokens_.size());
      if (t.kind == type::dict) {
        t.count /= 2;
        t.data = 0;
      }
      open_ = parent;
      --depth_;
      ++pos_;
      if (open_ == no_parent) return std::nullopt;
      continue;
    }

    if (want_key && !is_digit(c)) {
      if (c == 'i' || c == 'l' || c == 'd') return fail(errc::bencode_key_not_string, start);
      return fail(errc::bencode_unexpected_byte, start);
    }

    switch (c) {
      case 'i': {
        std::int64_t v = 0;
        if (auto e = parse_integer(start, v)) return e;
        if (auto e = push(type::integer, start, pos_, 0, v)) return e;
        break;
      }
      case 'l':
      case 'd': {
        if (depth_ >= lim_.max_depth) return fail(errc::bencode_depth_exceeded, start);
        if (auto e = push(c == 'l' ? type::list : type::dict, start, 0, 0, 0)) return e;
        const auto index = static_cast<std::uint32_t>(tokens_.size() - 1);
        tokens_[index].next = open_;  // parent link while open
        open_ = index;
        ++depth_;
        ++pos_;
        continue;
      }
      default: {
        if (!is_digit(c)) return fail(errc::bencode_unexpected_byte, start);
        std::uint32_t data = 0;
        std::uint32_t end = 0;
        if (auto e = parse_string(start, data, end)) return e;
        if (want_key) {
          token& dict_tok = tokens_[open_];
          // Index 0 is the root, never a key: 0 means no key yet.
          if (dict_tok.data != 0) {
            const token& prev = tokens_[dict_tok.data];
            const int cmp = compare_keys(in_.subspan(prev.data, prev.end - prev.data),
                                         in_.subspan(data, end - data));
            if (cmp == 0) return fail(errc::bencode_duplicate_key, start);
            if (cmp > 0) return fail(errc::bencode_unsorted_keys, start);
          }
          const auto key_index = static_cast<std::uint32_t>(tokens_.size());
          if (auto e = push(type::string, start, end, data, 0)) return e;
          tokens_[open_].data = key_index;
        } else {
          if (auto e = push(type::string, start, end, data, 0)) return e;
        }
        break;
      }
    }
    if (open_ == no_parent) return std::nullopt;  // a scalar at the top level
  }
}

result<prefix_result> decode_impl(byte_view input, const limits& lim) {
  parser p(input, lim);
  if (auto e = p.run()) return std::move(*e);
  const std::size_t consumed = p.pos();
  return prefix_result{document(input, p.take_tokens()), consumed};
}

}  // namespace

// --- node ---------------------------------------------------------------------

const token& node::tok() const { return doc_->tokens()[index_]; }

type node::kind() const { return doc_ ? tok().kind : type::integer; }

std::int64_t node::as_int() const {
  if (!doc_ || tok().kind != type::integer) return 0;
  return tok().integer;
}

std::string_view node::as_string() const { return wt::as_chars(as_bytes()); }

byte_view node::as_bytes() const {
  if (!doc_ || tok().kind != type::string) return {};
  const token& t = tok();
  return doc_->input().subspan(t.data, t.end - t.data);
}

byte_view node::raw() const {
  if (!doc_) return {};
  const token& t = tok();
  return doc_->input().subspan(t.start, t.end - t.start);
}

std::size_t node::offset() const { return doc_ ? tok().start : 0; }

std::size_t node::size() const {
  if (!doc_) return 0;
  const token& t = tok();
  return t.kind == type::list || t.kind == type::dict ? t.count : 0;
}

node node::item(std::size_t i) const {
  if (!doc_ || tok().kind != type::list || i >= tok().count) return {};
  std::uint32_t at = index_ + 1;
  for (std::size_t k = 0; k < i; ++k) at = doc_->tokens()[at].next;
  return node(doc_, at);
}

std::vector<node> node::items() const {
  std::vector<node> out;
  if (!doc_ || tok().kind != type::list) return out;
  out.reserve(tok().count);
  std::uint32_t at = index_ + 1;
  for (std::uint32_t k = 0; k < tok().count; ++k) {
    out.emplace_back(doc_, at);
    at = doc_->tokens()[at].next;
  }
  return out;
}

std::vector<std::pair<std::string_view, node>> node::entries() const {
  std::vector<std::pair<std::string_view, node>> out;
  if (!doc_ || tok().kind != type::dict) return out;
  out.reserve(tok().count);
  std::uint32_t at = index_ + 1;
  for (std::uint32_t k = 0; k < tok().count; ++k) {
    const node key(doc_, at);
    const std::uint32_t value_index = at + 1;  // a key is a string: one token
    out.emplace_back(key.as_string(), node(doc_, value_index));
    at = doc_->tokens()[value_index].next;
  }
  return out;
}

std::optional<node> node::find(std::string_view key) const {
  if (!doc_ || tok().kind != type::dict) return std::nullopt;
  const byte_view want = wt::as_bytes(key);
  std::uint32_t at = index_ + 1;
  for (std::uint32_t k = 0; k < tok().count; ++k) {
    const int cmp = compare_keys(node(doc_, at).as_bytes(), want);
    if (cmp == 0) return node(doc_, at + 1);
    if (cmp > 0) break;  // keys are sorted: it is not further on
    at = doc_->tokens()[at + 1].next;
  }
  return std::nullopt;
}

std::optional<std::int64_t> node::find_int(std::string_view key) const {
  auto n = find(key);
  if (!n || !n->is_int()) return std::nullopt;
  return n->as_int();
}

std::optional<std::string_view> node::find_string(std::string_view key) const {
  auto n = find(key);
  if (!n || !n->is_string()) return std::nullopt;
  return n->as_string();
}

std::optional<node> node::find_list(std::string_view key) const {
  auto n = find(key);
  if (!n || !n->is_list()) return std::nullopt;
  return n;
}

std::optional<node> node::find_dict(std::string_view key) const {
  auto n = find(key);
  if (!n || !n->is_dict()) return std::nullopt;
  return n;
}

// --- decoding -------------------------------------------------------------------

result<document> decode(byte_view input, const limits& lim) {
  auto r = decode_impl(input, lim);
  if (!r) return r.err();
  if (r->consumed != input.size()) return make_error(errc::bencode_trailing_data, r->consumed);
  return std::move(r->doc);
}

result<prefix_result> decode_prefix(byte_view input, const limits& lim) {
  return decode_impl(input, lim);
}

// --- encoding -------------------------------------------------------------------

namespace {

void append(byte_buffer& out, std::string_view s) {
  const byte_view b = wt::as_bytes(s);
  out.insert(out.end(), b.begin(), b.end());
}

void append_int(byte_buffer& out, std::uint64_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  append(out, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void encode_string(byte_buffer& out, std::string_view s) {
  append_int(out, s.size());
  out.push_back(':');
  append(out, s);
}

}  // namespace

void encode_to(const value& v, byte_buffer& out) {
  if (const auto* i = std::get_if<std::int64_t>(&v.v)) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, *i);
    out.push_back('i');
    append(out, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    out.push_back('e');
  } else if (const auto* s = std::get_if<std::string>(&v.v)) {
    encode_string(out, *s);
  } else if (const auto* l = std::get_if<list>(&v.v)) {
    out.push_back('l');
    for (const value& item : *l) encode_to(item, out);
    out.push_back('e');
  } else if (const auto* d = std::get_if<dict>(&v.v)) {
    // std::map with std::less<std::string> orders keys bytewise, as unsigned
    // chars (char_traits<char>::compare is specified to compare as unsigned).
    out.push_back('d');
    for (const auto& [key, item] : *d) {
      encode_string(out, key);
      encode_to(item, out);
    }
    out.push_back('e');
  }
}

byte_buffer encode(const value& v) {
  byte_buffer out;
  encode_to(v, out);
  return out;
}

// Recursion depth is bounded by the decoder's max_depth.
value to_value(const node& n) {
  switch (n.kind()) {
    case type::integer: return value(n.as_int());
    case type::string: return value(n.as_string());
    case type::list: {
      list l;
      l.reserve(n.size());
      for (const node& item : n.items()) l.push_back(to_value(item));
      return value(std::move(l));
    }
    case type::dict: {
      dict d;
      for (const auto& [key, item] : n.entries()) d.emplace_hint(d.end(), std::string(key), to_value(item));
      return value(std::move(d));
    }
  }
  return value();
}

}  // namespace wt::bencode
