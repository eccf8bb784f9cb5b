#include "base/json.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace wt::json {

const value* value::find(std::string_view key) const noexcept {
  if (type != kind::object) return nullptr;
  for (std::size_t i = keys.size(); i-- > 0;)
    if (keys[i] == key) return &items[i];
  return nullptr;
}

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The length (1..4) of the well-formed UTF-8 sequence at s[i], or 0 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<std::uint8_t>(s[i + k]); };
  const std::uint8_t lead = at(0);
  std::size_t n = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) n = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) n = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) n = 4;
  else return 0;
  if (s.size() - i < n) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((at(k) & 0xC0) != 0x80) return 0;
  if (lead == 0xE0 && at(1) < 0xA0) return 0;   // overlong
  if (lead == 0xED && at(1) >= 0xA0) return 0;  // surrogate
  if (lead == 0xF0 && at(1) < 0x90) return 0;   // overlong
  if (lead == 0xF4 && at(1) >= 0x90) return 0;  // beyond U+10FFFF
  return n;
}

class parser {
 public:
  parser(std::string_view text, std::size_t max_depth) : s_(text), max_depth_(max_depth) {}

  parse_result run() {
    if (s_.starts_with("\xEF\xBB\xBF")) i_ = 3;
    parse_result r;
    value v;
    skip_space();
    if (!parse_value(v, 0)) {
      r.error = too_deep_ ? parse_error::too_deep : parse_error::syntax;
      return r;
    }
    skip_space();
    if (i_ != s_.size()) return r;
    r.doc = std::move(v);
    return r;
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return s_[i_]; }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++i_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool parse_value(value& v, std::size_t depth) {
    if (at_end()) return false;
    switch (peek()) {
      case '{': return parse_object(v, depth + 1);
      case '[': return parse_array(v, depth + 1);
      case '"': v.type = value::kind::string; return parse_string(v.string);
      case 't': v.type = value::kind::boolean; v.boolean = true; return literal("true");
      case 'f': v.type = value::kind::boolean; return literal("false");
      case 'n': v.type = value::kind::null; return literal("null");
      default: return parse_number(v);
    }
  }

  bool parse_object(value& v, std::size_t depth) {
    if (depth > max_depth_) return too_deep_ = true, false;
    v.type = value::kind::object;
    ++i_;  // {
    skip_space();
    if (!at_end() && peek() == '}') return ++i_, true;
    for (;;) {
      skip_space();
      if (at_end() || peek() != '"') return false;
      std::string name;
      if (!parse_string(name)) return false;
      skip_space();
      if (at_end() || peek() != ':') return false;
      ++i_;
      skip_space();
      value member;
      if (!parse_value(member, depth)) return false;
      v.keys.push_back(std::move(name));
      v.items.push_back(std::move(member));
      skip_space();
      if (at_end()) return false;
      if (peek() == '}') return ++i_, true;
      if (peek() != ',') return false;
      ++i_;
    }
  }

  bool parse_array(value& v, std::size_t depth) {
    if (depth > max_depth_) return too_deep_ = true, false;
    v.type = value::kind::array;
    ++i_;  // [
    skip_space();
    if (!at_end() && peek() == ']') return ++i_, true;
    for (;;) {
      skip_space();
      value item;
      if (!parse_value(item, depth)) return false;
      v.items.push_back(std::move(item));
      skip_space();
      if (at_end()) return false;
      if (peek() == ']') return ++i_, true;
      if (peek() != ',') return false;
      ++i_;
    }
  }

  bool hex4(std::uint32_t& out) {
    if (s_.size() - i_ < 4) return false;
    out = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      out <<= 4;
      if (c >= '0' && c <= '9') out |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') out |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') out |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }

  bool parse_string(std::string& out) {
    ++i_;  // "
    for (;;) {
      if (at_end()) return false;
      const auto c = static_cast<std::uint8_t>(peek());
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;  // control characters must be escaped
      if (c != '\\') {
        const std::size_t n = utf8_length(s_, i_);
        if (n == 0) return false;
        out.append(s_.substr(i_, n));
        i_ += n;
        continue;
      }
      ++i_;
      if (at_end()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
          if (cp >= 0xD800 && cp <= 0xDBFF) {              // must be followed by a low one
            std::uint32_t low = 0;
            if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: return false;
      }
    }
  }

  // RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool parse_number(value& v) {
    const std::size_t start = i_;
    const auto digits = [&] {
      const std::size_t from = i_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++i_;
      return i_ - from;
    };
    if (!at_end() && peek() == '-') ++i_;
    if (at_end()) return false;
    if (peek() == '0') ++i_;
    else if (digits() == 0) return false;
    bool integral = true;
    if (!at_end() && peek() == '.') {
      ++i_;
      if (digits() == 0) return false;
      integral = false;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++i_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++i_;
      if (digits() == 0) return false;
      integral = false;
    }
    // strtod needs a terminated copy; numbers are short (the whole text is bounded anyway).
    const std::string text(s_.substr(start, i_ - start));
    v.type = value::kind::number;
    v.number = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v.number)) return false;  // 1e400: not a number JS could hold either
    if (integral) {
      char* end = nullptr;
      errno = 0;
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (errno == 0) v.integer = static_cast<std::int64_t>(n);
    }
    return true;
  }

  std::string_view s_;
  std::size_t max_depth_;
  std::size_t i_ = 0;
  bool too_deep_ = false;
};

}  // namespace

parse_result parse(std::string_view text, std::size_t max_depth) { return parser(text, max_depth).run(); }

// --- writer ------------------------------------------------------------------------------

void writer::before_value() {
  if (comma_) out_.push_back(',');
  comma_ = true;
}

writer& writer::begin_object() {
  before_value();
  out_.push_back('{');
  comma_ = false;
  return *this;
}

writer& writer::end_object() {
  out_.push_back('}');
  comma_ = true;
  return *this;
}

writer& writer::begin_array() {
  before_value();
  out_.push_back('[');
  comma_ = false;
  return *this;
}

writer& writer::end_array() {
  out_.push_back(']');
  comma_ = true;
  return *this;
}

writer& writer::key(std::string_view name) {
  string(name);
  out_.push_back(':');
  comma_ = false;
  return *this;
}

writer& writer::string(std::string_view s) {
  before_value();
  out_.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c == '"' || c == '\\') {
      out_.push_back('\\');
      out_.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      // The short forms where JSON has them, else \u00XX (as JSON.stringify writes them).
      static constexpr char hex[] = "0123456789abcdef";
      switch (c) {
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default: out_ += "\\u00"; out_.push_back(hex[c >> 4]); out_.push_back(hex[c & 0xF]);
      }
    } else if (const std::size_t n = utf8_length(s, i); n > 0) {
      out_.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out_ += "\xEF\xBF\xBD";  // U+FFFD for a byte that starts no well-formed sequence
    }
    ++i;
  }
  out_.push_back('"');
  return *this;
}

writer& writer::number(std::int64_t n) {
  before_value();
  out_ += std::to_string(n);
  return *this;
}

writer& writer::number(std::uint64_t n) {
  before_value();
  out_ += std::to_string(n);
  return *this;
}

writer& writer::literal(std::string_view json) {
  before_value();
  out_.append(json);
  return *this;
}

}  // namespace wt::json
