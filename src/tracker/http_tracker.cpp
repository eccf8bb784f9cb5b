#include "tracker/http_tracker.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "bencode/bencode.hpp"

namespace wt::tracker::http {

namespace {

const char* event_name(announce_event e) {
  switch (e) {
    case announce_event::started: return "started";
    case announce_event::completed: return "completed";
    case announce_event::stopped: return "stopped";
    case announce_event::none: break;
  }
  return "";
}

bool is_unreserved(std::uint8_t b) {
  return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
         b == '-' || b == '.' || b == '_' || b == '~';
}

// The URL without its fragment, and the separator its first added parameter needs.
std::string with_query_separator(std::string_view url) {
  url = url.substr(0, url.find('#'));
  std::string out(url);
  const auto query = url.find('?');
  if (query == std::string_view::npos) {
    out += '?';
  } else if (!url.ends_with('?') && !url.ends_with('&')) {
    out += '&';
  }
  return out;
}

std::string hex8(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(8, '0');
  for (std::size_t i = 8; i-- > 0; v >>= 4) out[i] = digits[v & 0xF];
  return out;
}

std::string clipped(std::string_view text, std::size_t max) {
  return std::string(text.substr(0, max));
}

error bad_field(const bencode::node& n, std::string key) {
  return make_error(errc::tracker_bad_field, n.offset(), std::move(key));
}

// The root dict of a bounded response, or the error; "failure reason" wins over all else.
result<bencode::document> decode_body(byte_view body, const limits& lim) {
  if (body.size() > lim.max_body) {
    return make_error(errc::tracker_message_too_large, lim.max_body);
  }
  bencode::limits blim;
  blim.max_depth = lim.max_depth;
  blim.max_tokens = lim.max_tokens;
  blim.max_string_length = lim.max_body;
  auto doc = bencode::decode(body, blim);
  if (!doc) return doc.err();
  const auto root = doc->root();
  if (!root.is_dict()) return make_error(errc::tracker_bad_field, 0, "response is not a dict");
  if (const auto failure = root.find("failure reason")) {
    return make_error(errc::tracker_failure, failure->offset(),
                      clipped(failure->is_string() ? failure->as_string() : "(not a string)",
                              lim.max_text));
  }
  return doc;
}

// A non-negative integer under `key`, if present.
result<std::optional<std::int64_t>> count_field(const bencode::node& dict, std::string_view key) {
  const auto n = dict.find(key);
  if (!n) return std::optional<std::int64_t>{};
  if (!n->is_int() || n->as_int() < 0) return bad_field(*n, std::string(key));
  return std::optional<std::int64_t>{n->as_int()};
}

std::optional<std::uint8_t> parse_decimal_octet(std::string_view part) {
  if (part.empty() || part.size() > 3) return std::nullopt;
  if (part.size() > 1 && part[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (const char c : part) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 255) return std::nullopt;
  return static_cast<std::uint8_t>(v);
}

std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view text) {
  std::array<std::uint8_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto dot = text.find('.');
    if ((i < 3) == (dot == std::string_view::npos)) return std::nullopt;
    const auto octet = parse_decimal_octet(text.substr(0, dot));
    if (!octet) return std::nullopt;
    out[i] = *octet;
    text = i < 3 ? text.substr(dot + 1) : std::string_view{};
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Groups of one side of "::" (or the whole address), appended as bytes; an IPv4 tail
// is allowed in the last group when `allow_v4_tail`.
bool parse_v6_groups(std::string_view text, bool allow_v4_tail, std::vector<std::uint8_t>& out) {
  if (text.empty()) return true;
  while (true) {
    const auto colon = text.find(':');
    const std::string_view group = text.substr(0, colon);
    if (colon == std::string_view::npos && allow_v4_tail && group.find('.') != group.npos) {
      const auto v4 = parse_ipv4(group);
      if (!v4) return false;
      out.insert(out.end(), v4->begin(), v4->end());
      return true;
    }
    if (group.empty() || group.size() > 4) return false;
    unsigned v = 0;
    for (const char c : group) {
      const int h = hex_value(c);
      if (h < 0) return false;
      v = v * 16 + static_cast<unsigned>(h);
    }
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
    if (out.size() > 16) return false;
    if (colon == std::string_view::npos) return true;
    text = text.substr(colon + 1);
  }
}

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text) {
  if (text.size() > 45) return std::nullopt;
  std::vector<std::uint8_t> head;
  std::vector<std::uint8_t> tail;
  const auto gap = text.find("::");
  if (gap == std::string_view::npos) {
    if (!parse_v6_groups(text, true, head) || head.size() != 16) return std::nullopt;
  } else {
    const auto after = text.substr(gap + 2);
    if (after.find("::") != std::string_view::npos) return std::nullopt;
    if (!parse_v6_groups(text.substr(0, gap), false, head)) return std::nullopt;
    if (!parse_v6_groups(after, true, tail)) return std::nullopt;
    if (head.size() + tail.size() > 14) return std::nullopt;  // "::" stands for at least one group
  }
  std::array<std::uint8_t, 16> out{};
  std::copy(head.begin(), head.end(), out.begin());
  std::copy(tail.begin(), tail.end(), out.end() - static_cast<std::ptrdiff_t>(tail.size()));
  return out;
}

result<std::vector<wire::endpoint>> parse_dict_peers(const bencode::node& list,
                                                     const limits& lim) {
  if (list.size() > lim.max_peers) {
    return make_error(errc::wire_too_many_peers, list.offset(), "peers");
  }
  std::vector<wire::endpoint> out;
  for (const auto& item : list.items()) {
    if (!item.is_dict()) continue;
    const auto ip = item.find_string("ip");
    const auto port = item.find_int("port");
    if (!ip || !port || *port <= 0 || *port > 65535) continue;
    auto peer = parse_ip_address(*ip);
    if (!peer) continue;
    peer->port = static_cast<std::uint16_t>(*port);
    out.push_back(*peer);
  }
  return out;
}

}  // namespace

std::string percent_encode(byte_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (const std::uint8_t b : bytes) {
    if (is_unreserved(b)) {
      out.push_back(static_cast<char>(b));
    } else {
      out.push_back('%');
      out.push_back(digits[b >> 4]);
      out.push_back(digits[b & 0xF]);
    }
  }
  return out;
}

std::string announce_url(std::string_view base, const announce_request& r) {
  std::string url = with_query_separator(base);
  url += "info_hash=" + percent_encode(r.info_hash);
  url += "&peer_id=" + percent_encode(r.peer_id);
  url += "&port=" + std::to_string(r.port);
  url += "&uploaded=" + std::to_string(r.stats.uploaded);
  url += "&downloaded=" + std::to_string(r.stats.downloaded);
  if (r.stats.left) url += "&left=" + std::to_string(*r.stats.left);
  url += "&compact=1";
  if (r.event != announce_event::none) url += std::string("&event=") + event_name(r.event);
  if (r.numwant) url += "&numwant=" + std::to_string(*r.numwant);
  url += "&key=" + hex8(r.key);
  if (!r.tracker_id.empty()) url += "&trackerid=" + percent_encode(as_bytes(r.tracker_id));
  return url;
}

std::optional<std::string> scrape_url(std::string_view announce) {
  const auto path_end = std::min(announce.find('?'), announce.find('#'));
  const auto slash = announce.substr(0, path_end).rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  // "http://announce" has its last '/' in the scheme: no path, no rule.
  const auto scheme_end = announce.find("://");
  if (scheme_end != std::string_view::npos && slash < scheme_end + 3) return std::nullopt;
  constexpr std::string_view word = "announce";
  if (announce.substr(slash + 1).substr(0, path_end - slash - 1).substr(0, word.size()) != word) {
    return std::nullopt;
  }
  std::string out(announce.substr(0, slash + 1));
  out += "scrape";
  out += announce.substr(slash + 1 + word.size());
  return out;
}

std::string scrape_request_url(std::string_view scrape, std::span<const id20> info_hashes) {
  std::string url = with_query_separator(scrape);
  bool first = true;
  for (const auto& hash : info_hashes) {
    if (!first) url += '&';
    first = false;
    url += "info_hash=" + percent_encode(hash);
  }
  return url;
}

result<announce_response> parse_announce_response(byte_view body, const limits& lim) {
  auto doc = decode_body(body, lim);
  if (!doc) return doc.err();
  const auto root = doc->root();
  announce_response out;

  for (const auto* key : {"interval", "min interval", "complete", "incomplete"}) {
    auto value = count_field(root, key);
    if (!value) return value.err();
    const std::string_view k = key;
    if (k == "interval") out.interval = *value;
    else if (k == "min interval") out.min_interval = *value;
    else if (k == "complete") out.complete = *value;
    else out.incomplete = *value;
  }
  if (const auto id = root.find("tracker id")) {
    if (!id->is_string()) return bad_field(*id, "tracker id");
    out.tracker_id = clipped(id->as_string(), lim.max_text);
  }
  if (const auto warning = root.find("warning message")) {
    out.warning = clipped(warning->is_string() ? warning->as_string() : "(not a string)",
                          lim.max_text);
  }
  if (const auto peers = root.find("peers")) {
    if (peers->is_string()) {
      auto v4 = wire::parse_compact_v4(peers->as_bytes(), lim.max_peers);
      if (!v4) return make_error(v4.err().code, peers->offset(), "peers");
      out.peers = std::move(*v4);
    } else if (peers->is_list()) {
      auto listed = parse_dict_peers(*peers, lim);
      if (!listed) return listed.err();
      out.peers = std::move(*listed);
    } else {
      return bad_field(*peers, "peers");
    }
  }
  if (const auto peers6 = root.find("peers6")) {
    if (!peers6->is_string()) return bad_field(*peers6, "peers6");
    auto v6 = wire::parse_compact_v6(peers6->as_bytes(), lim.max_peers);
    if (!v6) return make_error(v6.err().code, peers6->offset(), "peers6");
    out.peers.insert(out.peers.end(), v6->begin(), v6->end());
  }
  return out;
}

result<std::vector<scrape_entry>> parse_scrape_response(byte_view body, const limits& lim) {
  auto doc = decode_body(body, lim);
  if (!doc) return doc.err();
  const auto files = doc->root().find("files");
  if (!files) return make_error(errc::tracker_missing_field, 0, "files");
  if (!files->is_dict()) return bad_field(*files, "files");
  std::vector<scrape_entry> out;
  for (const auto& [key, stats] : files->entries()) {
    if (key.size() != 20) continue;
    if (!stats.is_dict()) return bad_field(stats, "files");
    scrape_entry entry;
    std::copy(key.begin(), key.end(), entry.info_hash.begin());
    for (const auto* name : {"complete", "incomplete", "downloaded"}) {
      auto value = count_field(stats, name);
      if (!value) return value.err();
      const std::int64_t v = value->value_or(0);
      const std::string_view n = name;
      if (n == "complete") entry.complete = v;
      else if (n == "incomplete") entry.incomplete = v;
      else entry.downloaded = v;
    }
    out.push_back(entry);
  }
  return out;
}

std::optional<wire::endpoint> parse_ip_address(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    const auto v4 = parse_ipv4(text);
    if (!v4) return std::nullopt;
    return wire::make_endpoint_v4(*v4, 0);
  }
  const auto v6 = parse_ipv6(text);
  if (!v6) return std::nullopt;
  return wire::make_endpoint_v6(*v6, 0);
}

}  // namespace wt::tracker::http
