#include "webseed/webseed.hpp"

#include <algorithm>

namespace wt::webseed {

namespace {

constexpr std::int64_t max_number = std::int64_t{1} << 62;

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// A cursor over header text: positions in errors are byte offsets into it.
struct scanner {
  std::string_view text;
  std::size_t pos = 0;

  void skip_spaces() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  }
  bool eat(char c) {
    skip_spaces();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  std::optional<std::int64_t> number() {
    skip_spaces();
    const std::size_t start = pos;
    std::int64_t v = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      const int digit = text[pos] - '0';
      if (v > (max_number - 1 - digit) / 10) return std::nullopt;  // stays below 2^62
      v = v * 10 + digit;
      ++pos;
    }
    if (pos == start) return std::nullopt;
    return v;
  }
  error fail(std::string context) const { return make_error(errc::web_seed_bad_response, pos, std::move(context)); }
};

}  // namespace

bool valid_seed_url(std::string_view url, const limits& lim) {
  if (url.size() > lim.max_url_length) return false;
  const bool http = starts_with_ci(url, "http://"), https = starts_with_ci(url, "https://");
  if (!http && !https) return false;
  if (url.size() == (http ? 7u : 8u)) return false;  // no host
  for (const char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string normalize_seed_url(std::string_view url) {
  const std::size_t scheme = url.find("://");
  const std::size_t rest = scheme == std::string_view::npos ? url.size() : url.find_first_of("/?#", scheme + 3);
  std::string out(url.substr(0, rest));
  for (const char ch : url.substr(std::min(rest, url.size()))) {
    if (ch == ' ') out += "%20";
    else out += ch;
  }
  return out;
}

std::string encode_path_element(std::string_view element) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(element.size());
  for (const char ch : element) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string file_url(const metainfo& m, std::string_view seed_url, file_index f) {
  std::string url(seed_url);
  if (!m.multi_file) {
    if (url.ends_with('/')) url += encode_path_element(m.name);
    return url;
  }
  if (!url.ends_with('/')) url += '/';
  url += encode_path_element(m.name);
  for (const auto& c : m.files[f.value].components) {
    url += '/';
    url += encode_path_element(c);
  }
  return url;
}

std::vector<segment> plan_range(const metainfo& m, std::string_view seed_url, std::int64_t offset,
                                std::int64_t length) {
  std::vector<segment> out;
  if (offset < 0 || length <= 0 || offset >= m.total_length) return out;
  const std::int64_t end = offset + std::min(length, m.total_length - offset);
  // The first file that ends after `offset`.
  auto it = std::partition_point(m.files.begin(), m.files.end(),
                                 [&](const file_entry& f) { return f.offset + f.length <= offset; });
  for (; it != m.files.end() && it->offset < end; ++it) {
    if (it->length == 0) continue;
    const std::int64_t from = std::max(offset, it->offset);
    const std::int64_t to = std::min(end, it->offset + it->length);
    segment s;
    s.pad = it->pad;
    s.file = file_index{static_cast<std::uint32_t>(it - m.files.begin())};
    s.first = from - it->offset;
    s.last = to - it->offset - 1;
    s.file_length = it->length;
    s.torrent_offset = from;
    if (!s.pad) s.url = file_url(m, seed_url, s.file);
    out.push_back(std::move(s));
  }
  return out;
}

result<content_range> parse_content_range(std::string_view text, const limits& lim) {
  scanner s{text};
  if (text.size() > lim.max_header_length) return make_error(errc::web_seed_bad_response, 0, "Content-Range too long");
  s.skip_spaces();
  if (!starts_with_ci(text.substr(s.pos), "bytes")) return s.fail("Content-Range unit");
  s.pos += 5;
  if (s.pos >= text.size() || (text[s.pos] != ' ' && text[s.pos] != '\t')) return s.fail("Content-Range unit");
  content_range r;
  auto first = s.number();
  if (!first) return s.fail("Content-Range first byte");
  if (!s.eat('-')) return s.fail("Content-Range '-'");
  auto last = s.number();
  if (!last) return s.fail("Content-Range last byte");
  if (!s.eat('/')) return s.fail("Content-Range '/'");
  if (!s.eat('*')) {
    auto total = s.number();
    if (!total) return s.fail("Content-Range total");
    r.total = *total;
  }
  s.skip_spaces();
  if (s.pos != text.size()) return s.fail("Content-Range trailing data");
  r.first = *first;
  r.last = *last;
  if (r.first > r.last || (r.total && r.last >= *r.total)) return make_error(errc::web_seed_bad_response, 0, "Content-Range out of order");
  return r;
}

std::string format_content_range(const content_range& r) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
         (r.total ? std::to_string(*r.total) : std::string("*"));
}

bool web_seed_fatal_status(int status) noexcept {
  return status >= 400 && status < 500 && status != 408 && status != 429;
}

result<body_plan> check_response(const segment& request, int status, std::string_view content_range,
                                 std::optional<std::int64_t> content_length, const limits& lim) {
  const auto length = request.length();
  if (status == 404 || status == 410)
    return make_error(errc::web_seed_not_found, 0, "HTTP " + std::to_string(status));
  if (status == 200) {
    // The server sent the whole file (it ignored Range, or the range was the whole file).
    if (content_length && *content_length != request.file_length)
      return make_error(errc::web_seed_bad_response, 0, "Content-Length " + std::to_string(*content_length) +
                                                            " of a 200 is not the file's length");
    const bool whole = request.first == 0 && length == request.file_length;
    if (!whole && request.file_length > lim.max_whole_file)
      return make_error(errc::web_seed_ignores_range, 0, "HTTP 200 for a range of a " +
                                                             std::to_string(request.file_length) + "-byte file");
    return body_plan{request.first, length, true};
  }
  if (status != 206) return make_error(errc::web_seed_http_error, 0, "HTTP " + std::to_string(status));
  if (content_range.empty()) {
    // A browser hides Content-Range from a page on another origin unless the server lists
    // it in Access-Control-Expose-Headers, which many do not: the body is taken as the
    // range asked for, as WebTorrent takes it. Its length is checked here and as it comes,
    // and its bytes by the piece hashes.
    if (content_length && *content_length != length)
      return make_error(errc::web_seed_bad_response, 0, "Content-Length " + std::to_string(*content_length) +
                                                            " of a 206 without Content-Range is not the range's length");
    return body_plan{0, length, false};
  }
  auto r = parse_content_range(content_range, lim);
  if (!r) return r.err();
  if (r->first != request.first || r->last != request.last)
    return make_error(errc::web_seed_bad_response, 0, "Content-Range " + format_content_range(*r) +
                                                          " is not the range asked for");
  if (r->total && *r->total != request.file_length)
    return make_error(errc::web_seed_bad_response, 0, "Content-Range total " + std::to_string(*r->total) +
                                                          " is not the file's length");
  if (content_length && *content_length != length)
    return make_error(errc::web_seed_bad_response, 0, "Content-Length " + std::to_string(*content_length) +
                                                          " is not the range's length");
  return body_plan{0, length, false};
}

}  // namespace wt::webseed
