// Magnet URIs. Decoding follows npm magnet-uri (the reference the JS tests
// compare against) wherever it is well defined, and is stricter where it is
// lenient by accident (bad escapes, bad so= ranges, info-hashes of the wrong size).
#include "metainfo/magnet.hpp"

#include <algorithm>
#include <charconv>

namespace wt {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) noexcept {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// A percent-decoded value, with the URI offset each decoded byte came from,
// so that errors found after decoding (so= ranges) still point into the URI.
struct decoded {
  std::string text;
  std::vector<std::size_t> source;
  std::size_t end = 0;  // URI offset one past the raw value

  std::size_t position(std::size_t i) const { return i < source.size() ? source[i] : end; }
};

result<decoded> percent_decode(std::string_view raw, std::size_t base) {
  decoded out;
  out.text.reserve(raw.size());
  out.source.reserve(raw.size());
  out.end = base + raw.size();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out.text.push_back(raw[i]);
      out.source.push_back(base + i);
      continue;
    }
    const int hi = i + 1 < raw.size() ? hex_value(raw[i + 1]) : -1;
    const int lo = i + 2 < raw.size() ? hex_value(raw[i + 2]) : -1;
    if (hi < 0 || lo < 0) return make_error(errc::magnet_bad_escape, base + i);
    out.text.push_back(static_cast<char>((hi << 4) | lo));
    out.source.push_back(base + i);
    i += 2;
  }
  return out;
}

void push_unique(std::vector<std::string>& list, std::string value) {
  // magnet-uri drops empty values' effect and de-duplicates tr/ws/as/x.pe.
  if (value.empty()) return;
  if (std::find(list.begin(), list.end(), value) != list.end()) return;
  list.push_back(std::move(value));
}

// Appends a range, merged into the previous one when it continues it: this is
// what bep53-range's compose() does, so parse and make agree on one form.
void push_range(std::vector<std::pair<std::uint32_t, std::uint32_t>>& ranges, std::uint32_t first,
                std::uint32_t last) {
  if (!ranges.empty() && ranges.back().second != UINT32_MAX && ranges.back().second + 1 == first) {
    ranges.back().second = last;
    return;
  }
  ranges.emplace_back(first, last);
}

// BEP 53: "0,2,4-6". Numbers are decimal; a range must not run backwards.
result<bool> parse_select_only(const decoded& value,
                               std::vector<std::pair<std::uint32_t, std::uint32_t>>& ranges) {
  const std::string& t = value.text;
  std::size_t i = 0;
  auto number = [&](std::uint32_t& out) -> bool {
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == start) return false;
    const auto [ptr, ec] = std::from_chars(t.data() + start, t.data() + i, out);
    if (ec != std::errc{}) {
      i = start;  // report the number itself: it does not fit
      return false;
    }
    return ptr == t.data() + i;
  };
  for (;;) {
    std::uint32_t first = 0;
    if (!number(first)) return make_error(errc::magnet_bad_parameter, value.position(i));
    std::uint32_t last = first;
    if (i < t.size() && t[i] == '-') {
      ++i;
      const std::size_t last_at = i;
      if (!number(last)) return make_error(errc::magnet_bad_parameter, value.position(i));
      if (last < first) return make_error(errc::magnet_bad_parameter, value.position(last_at));
    }
    push_range(ranges, first, last);
    if (i == t.size()) return true;
    if (t[i] != ',') return make_error(errc::magnet_bad_parameter, value.position(i));
    ++i;
  }
}

// Strips an index suffix such as "tr.1" -> "tr" (and "x.pe.2" -> "x.pe").
std::string_view base_key(std::string_view key) {
  const std::size_t dot = key.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == key.size()) return key;
  for (std::size_t i = dot + 1; i < key.size(); ++i) {
    if (key[i] < '0' || key[i] > '9') return key;
  }
  return key.substr(0, dot);
}

// Parses one xt value. Unknown URN kinds are ignored, as magnet-uri does.
result<bool> parse_exact_topic(const std::string& xt, std::size_t param_at, magnet_link& link) {
  constexpr std::string_view btih = "urn:btih:";
  constexpr std::string_view btmh = "urn:btmh:";
  if (iequals_prefix(xt, btih)) {
    const std::string_view hash = std::string_view(xt).substr(btih.size());
    std::optional<byte_buffer> bytes;
    if (hash.size() == 40) {
      bytes = from_hex(hash);
    } else if (hash.size() == 32) {
      bytes = from_base32(hash);
    }
    if (!bytes || bytes->size() != 20) return make_error(errc::magnet_bad_info_hash, param_at);
    sha1_digest digest{};
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    link.info_hash = digest;  // the last one wins, as in magnet-uri
    return true;
  }
  if (iequals_prefix(xt, btmh)) {
    std::string multihash = xt.substr(btmh.size());
    if (multihash.empty()) return make_error(errc::magnet_bad_info_hash, param_at);
    link.info_hash_v2 = std::move(multihash);
    return true;
  }
  return true;
}

// encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is escaped,
// byte by byte (which equals UTF-8 escaping for valid UTF-8). `keep` lists
// extra characters left as they are.
void append_encoded(std::string& out, std::string_view value, std::string_view keep = {}) {
  constexpr char digits[] = "0123456789ABCDEF";
  for (char c : value) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') ||
                            std::string_view("-_.!~*'()").find(c) != std::string_view::npos ||
                            (!keep.empty() && keep.find(c) != std::string_view::npos);
    if (unreserved) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(digits[b >> 4]);
      out.push_back(digits[b & 0x0f]);
    }
  }
}

void append_param(std::string& out, std::string_view key) {
  if (out.size() > std::string_view("magnet:?").size()) out.push_back('&');
  out.append(key);
  out.push_back('=');
}

}  // namespace

result<magnet_link> parse_magnet(std::string_view uri, const magnet_limits& lim) {
  if (uri.size() > lim.max_length) return make_error(errc::magnet_too_large, lim.max_length);
  constexpr std::string_view scheme = "magnet:?";
  if (!iequals_prefix(uri, scheme)) return make_error(errc::magnet_not_a_magnet, 0);

  magnet_link link;
  std::size_t count = 0;
  std::size_t pos = scheme.size();
  while (pos <= uri.size()) {
    std::size_t amp = uri.find('&', pos);
    if (amp == std::string_view::npos) amp = uri.size();
    const std::size_t param_at = pos;
    const std::string_view param = uri.substr(pos, amp - pos);
    pos = amp + 1;

    if (++count > lim.max_parameters) return make_error(errc::magnet_too_large, param_at);
    const std::size_t eq = param.find('=');
    // Like magnet-uri, a parameter without '=' is skipped. A value may hold
    // further '=' (magnet-uri drops such parameters; keeping them is kinder).
    if (eq == std::string_view::npos) continue;
    const std::string_view key = base_key(param.substr(0, eq));
    const std::string_view raw = param.substr(eq + 1);
    const std::size_t value_at = param_at + eq + 1;

    enum class kind { xt, dn, tr, ws, xs, as, pe, kt, so, unknown };
    kind k = kind::unknown;
    if (key == "xt") k = kind::xt;
    else if (key == "dn") k = kind::dn;
    else if (key == "tr") k = kind::tr;
    else if (key == "ws") k = kind::ws;
    else if (key == "xs") k = kind::xs;
    else if (key == "as") k = kind::as;
    else if (key == "x.pe") k = kind::pe;
    else if (key == "kt") k = kind::kt;
    else if (key == "so") k = kind::so;
    if (k == kind::unknown) {  // kept as written: unknown keys need no valid escapes
      link.other.emplace_back(param.substr(0, eq), raw);
      continue;
    }

    auto value = percent_decode(raw, value_at);
    if (!value) return value.err();
    std::string& text = value->text;

    switch (k) {
      case kind::xt: {
        auto r = parse_exact_topic(text, param_at, link);
        if (!r) return r.err();
        break;
      }
      case kind::dn:
        // magnet-uri decodes first and then turns every '+' into a space, so
        // "%2B" becomes a space too; matching it keeps names comparable.
        std::replace(text.begin(), text.end(), '+', ' ');
        link.name = std::move(text);
        break;
      case kind::tr: push_unique(link.trackers, std::move(text)); break;
      case kind::ws: push_unique(link.web_seeds, std::move(text)); break;
      case kind::as: push_unique(link.acceptable_sources, std::move(text)); break;
      case kind::pe: push_unique(link.peers, std::move(text)); break;
      case kind::xs:
        if (!text.empty()) link.exact_sources.push_back(std::move(text));
        break;
      case kind::kt: {
        // Decoded first, then split on '+' (magnet-uri): "%2B" separates too.
        std::size_t start = 0;
        for (;;) {
          const std::size_t plus = text.find('+', start);
          link.keywords.push_back(text.substr(start, plus - start));
          if (plus == std::string::npos) break;
          start = plus + 1;
        }
        break;
      }
      case kind::so: {
        auto r = parse_select_only(*value, link.select_only);
        if (!r) return r.err();
        break;
      }
      case kind::unknown: break;
    }
  }
  if (!link.info_hash && !link.info_hash_v2) return make_error(errc::magnet_no_info_hash, 0);
  return link;
}

std::string make_magnet(const magnet_link& link) {
  std::string out = "magnet:?";
  if (link.info_hash) {
    append_param(out, "xt");
    out.append("urn:btih:");
    out.append(to_hex(*link.info_hash));
  }
  if (link.info_hash_v2) {
    append_param(out, "xt");
    out.append("urn:btmh:");
    append_encoded(out, *link.info_hash_v2);
  }
  if (!link.name.empty()) {
    // magnet-uri: encodeURIComponent, then "%20" -> "+".
    append_param(out, "dn");
    for (char c : link.name) {
      if (c == ' ') {
        out.push_back('+');
      } else {
        append_encoded(out, std::string_view(&c, 1));
      }
    }
  }
  for (const auto& t : link.trackers) {
    append_param(out, "tr");
    append_encoded(out, t);
  }
  for (const auto& w : link.web_seeds) {
    append_param(out, "ws");
    append_encoded(out, w);
  }
  for (const auto& x : link.exact_sources) {
    append_param(out, "xs");
    // magnet-uri leaves BEP 46 "urn:btpk:<hex>" unescaped; only do so when the
    // value needs no escaping to survive parsing.
    const bool plain_btpk =
        iequals_prefix(x, "urn:btpk:") &&
        std::all_of(x.begin(), x.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == ':';
        });
    if (plain_btpk) {
      out.append(x);
    } else {
      append_encoded(out, x);
    }
  }
  for (const auto& a : link.acceptable_sources) {
    append_param(out, "as");
    append_encoded(out, a);
  }
  for (const auto& p : link.peers) {
    // magnet-uri writes x.pe raw; keep host:port and [v6]:port readable.
    append_param(out, "x.pe");
    append_encoded(out, p, ":[]");
  }
  if (!link.keywords.empty()) {
    append_param(out, "kt");
    for (std::size_t i = 0; i < link.keywords.size(); ++i) {
      if (i > 0) out.push_back('+');
      append_encoded(out, link.keywords[i]);
    }
  }
  if (!link.select_only.empty()) {
    // bep53-range compose(): consecutive runs become "a-b", single values "a".
    std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
    for (const auto& [first, last] : link.select_only) push_range(runs, first, last);
    append_param(out, "so");
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(std::to_string(runs[i].first));
      if (runs[i].second != runs[i].first) {
        out.push_back('-');
        out.append(std::to_string(runs[i].second));
      }
    }
  }
  for (const auto& [key, value] : link.other) {
    // As written (magnet-uri writes them raw); only what would end or split the
    // parameter (&, #, spaces, non-ASCII...) is escaped.
    append_param(out, key);
    append_encoded(out, value, "%:+,/=[]@;$?");
  }
  return out;
}

}  // namespace wt
