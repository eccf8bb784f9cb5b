#include "blocklist/blocklist.hpp"

#include <algorithm>

namespace wt {

namespace {

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Decimal, 1 to `digits` digits, at most `max`.
std::optional<unsigned> parse_small(std::string_view s, std::size_t digits, unsigned max) {
  if (s.empty() || s.size() > digits) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// a.b.c.d, each part 1 to 3 decimal digits (leading zeros allowed, as lists write them).
std::optional<wire::endpoint> parse_v4(std::string_view s) {
  std::array<std::uint8_t, 4> a{};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t dot = i < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    const auto part = parse_small(s.substr(0, dot), 3, 255);
    if (!part) return std::nullopt;
    a[i] = static_cast<std::uint8_t>(*part);
    s.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  return wire::make_endpoint_v4(a, 0);
}

std::optional<wire::endpoint> parse_address(std::string_view s) {
  if (s.find(':') == std::string_view::npos) return parse_v4(s);
  auto e = wire::parse_ip_address(s);
  if (!e || !e->v6) return std::nullopt;
  return e;
}

bool v4_mapped(const wire::endpoint& e) {
  return e.v6 && std::all_of(e.address.begin(), e.address.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         e.address[10] == 0xff && e.address[11] == 0xff;
}

wire::endpoint unmap(const wire::endpoint& e) {
  return wire::make_endpoint_v4({e.address[12], e.address[13], e.address[14], e.address[15]}, 0);
}

bool less_or_equal(const wire::endpoint& a, const wire::endpoint& b) {
  return !std::lexicographical_compare(b.address.begin(), b.address.end(), a.address.begin(), a.address.end());
}

// "a", "a-b" or "a/n"; both ends of one family, first <= last.
std::optional<ip_range> parse_entry(std::string_view s) {
  ip_range r;
  if (const std::size_t slash = s.find('/'); slash != std::string_view::npos) {
    const auto base = parse_address(trim(s.substr(0, slash)));
    if (!base) return std::nullopt;
    const unsigned bits = base->v6 ? 128 : 32;
    const auto prefix = parse_small(trim(s.substr(slash + 1)), 3, bits);
    if (!prefix) return std::nullopt;
    r.first = r.last = *base;
    for (unsigned i = *prefix; i < bits; ++i) {
      const auto mask = static_cast<std::uint8_t>(0x80u >> (i % 8));
      r.first.address[i / 8] = static_cast<std::uint8_t>(r.first.address[i / 8] & ~mask);
      r.last.address[i / 8] = static_cast<std::uint8_t>(r.last.address[i / 8] | mask);
    }
  } else if (const std::size_t dash = s.find('-'); dash != std::string_view::npos) {
    const auto first = parse_address(trim(s.substr(0, dash)));
    const auto last = parse_address(trim(s.substr(dash + 1)));
    if (!first || !last) return std::nullopt;
    r.first = *first;
    r.last = *last;
  } else {
    const auto a = parse_address(s);
    if (!a) return std::nullopt;
    r.first = r.last = *a;
  }
  if (v4_mapped(r.first) && v4_mapped(r.last)) r = {unmap(r.first), unmap(r.last)};
  if (r.first.v6 != r.last.v6 || !less_or_equal(r.first, r.last)) return std::nullopt;
  return r;
}

}  // namespace

blocklist_line parse_blocklist_line(std::string_view line, ip_range& out) {
  line = trim(line);
  if (line.empty() || line.front() == '#' || line.starts_with("//")) return blocklist_line::blank;
  auto r = parse_entry(line);
  // P2P format: "description:entry". An IPv4 entry follows the last ':' (the description
  // may hold colons); an IPv6 one, which has colons itself, the first.
  if (const std::size_t last = line.rfind(':'); !r && last != std::string_view::npos) {
    r = parse_entry(trim(line.substr(last + 1)));
    if (r && r->first.v6) r.reset();
    if (!r) {
      r = parse_entry(trim(line.substr(line.find(':') + 1)));
      if (r && !r->first.v6) r.reset();
    }
  }
  if (!r) return blocklist_line::malformed;
  out = *r;
  return blocklist_line::entry;
}

blocklist_parser::blocklist_parser(bool strict, blocklist_limits limits) : strict_(strict), limits_(limits) {}

void blocklist_parser::feed(std::string_view chunk) {
  while (!chunk.empty() && !error_) {
    const std::size_t nl = chunk.find('\n');
    const std::string_view part = chunk.substr(0, nl);
    if (!overlong_) {
      if (line_.size() + part.size() > limits_.max_line_bytes) {
        overlong_ = true;
        line_.clear();
      } else {
        line_.append(part);
      }
    }
    offset_ += part.size();
    if (nl == std::string_view::npos) return;
    offset_ += 1;
    chunk.remove_prefix(nl + 1);
    end_line();
  }
}

void blocklist_parser::end_line() {
  ++line_no_;
  std::string_view line = line_;
  if (line_no_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  ip_range r;
  const auto kind = overlong_ ? blocklist_line::malformed : parse_blocklist_line(line, r);
  if (kind == blocklist_line::entry) {
    if (entries() >= limits_.max_ranges) {
      error_ = make_error(errc::blocklist_too_large, line_start_,
                          "line " + std::to_string(line_no_) + ": more than " + std::to_string(limits_.max_ranges) + " entries");
    } else if (r.first.v6) {
      v6_.push_back({ip_set::to_v6(r.first), ip_set::to_v6(r.last)});
    } else {
      v4_.push_back({ip_set::to_v4(r.first), ip_set::to_v4(r.last)});
    }
  } else if (kind == blocklist_line::malformed) {
    if (strict_) {
      std::string context = "line " + std::to_string(line_no_) + ": ";
      if (overlong_) context += "longer than " + std::to_string(limits_.max_line_bytes) + " bytes";
      else context += "'" + std::string(trim(line).substr(0, 60)) + "'";
      error_ = make_error(errc::blocklist_bad_line, line_start_, std::move(context));
    }
    if (++skipped_ == 1) first_skipped_ = line_no_;
  }
  line_.clear();
  overlong_ = false;
  line_start_ = offset_;
}

result<ip_set> blocklist_parser::finish() {
  if (!error_ && (!line_.empty() || overlong_)) end_line();
  if (error_) return *error_;
  return ip_set(std::move(v4_), std::move(v6_));
}

result<ip_set> parse_blocklist(std::string_view text, bool strict, blocklist_limits limits) {
  blocklist_parser p(strict, limits);
  p.feed(text);
  return p.finish();
}

}  // namespace wt
