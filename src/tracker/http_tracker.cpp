#include "tracker/http_tracker.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "bencode/bencode.hpp"
#include "tracker/ws_tracker.hpp"  // from_latin1

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
                      printable_text(failure->is_string() ? failure->as_string() : "(not a string)",
                              lim.max_text));
  }
  return doc;
}

// A non-negative integer under `key`, if present.
// A count or interval; one that is negative reads as absent (the answer's peers are still
// good: bittorrent-tracker's client keeps them too), one of the wrong type is an error.
result<std::optional<std::int64_t>> count_field(const bencode::node& dict, std::string_view key) {
  const auto n = dict.find(key);
  if (!n) return std::optional<std::int64_t>{};
  if (!n->is_int()) return bad_field(*n, std::string(key));
  if (n->as_int() < 0) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{n->as_int()};
}

result<std::vector<wire::endpoint>> parse_dict_peers(const bencode::node& list,
                                                     const limits& lim) {
  std::vector<wire::endpoint> out;
  for (const auto& item : list.items()) {
    if (out.size() == lim.max_peers) break;  // the first max_peers, as for compact lists
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
  // Ours, in this order; the host's parameters (r.extra) replace ours of the same name or
  // follow, except those that identify the announce, as bittorrent-tracker's.
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("info_hash", percent_encode(r.info_hash));
  fields.emplace_back("peer_id", percent_encode(r.peer_id));
  fields.emplace_back("port", std::to_string(r.port));
  fields.emplace_back("uploaded", std::to_string(r.stats.uploaded));
  fields.emplace_back("downloaded", std::to_string(r.stats.downloaded));
  fields.emplace_back("left", std::to_string(r.stats.left.value_or(http_unknown_left)));
  fields.emplace_back("compact", "1");
  if (r.event != announce_event::none) fields.emplace_back("event", event_name(r.event));
  if (r.numwant) fields.emplace_back("numwant", std::to_string(*r.numwant));
  fields.emplace_back("key", hex8(r.key));
  if (!r.tracker_id.empty()) fields.emplace_back("trackerid", percent_encode(as_bytes(r.tracker_id)));
  for (const auto& p : usable_params(r.extra, {"info_hash", "peer_id", "port", "compact", "trackerid", "event"})) {
    std::string value = percent_encode(as_bytes(p.value));
    auto same = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == p.key; });
    if (same != fields.end()) same->second = std::move(value);
    else fields.emplace_back(percent_encode(as_bytes(p.key)), std::move(value));
  }
  std::string url = with_query_separator(base);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) url += '&';
    url += fields[i].first + '=' + fields[i].second;
  }
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
    out.tracker_id = printable_text(id->as_string(), lim.max_text);
  }
  if (const auto warning = root.find("warning message")) {
    out.warning = printable_text(warning->is_string() ? warning->as_string() : "(not a string)",
                          lim.max_text);
  }
  if (const auto peers = root.find("peers")) {
    if (peers->is_string()) {
      auto v4 = wire::parse_compact_v4(peers->as_bytes(), lim.max_peers, wire::too_many_peers::keep_first);
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
    auto v6 = wire::parse_compact_v6(peers6->as_bytes(), lim.max_peers, wire::too_many_peers::keep_first);
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
    // Keys are the 20-byte info-hashes; npm bittorrent-tracker's HTTP server sends them
    // UTF-8 encoded, one code point per byte (27 or so bytes): taken as such when they
    // decode to 20 bytes.
    std::optional<id20> hash;
    if (key.size() == 20) {
      hash.emplace();
      std::copy(key.begin(), key.end(), hash->begin());
    } else if (auto latin1 = ws_tracker::id_from_latin1(key)) {
      hash = *latin1;
    }
    if (!hash) continue;
    if (!stats.is_dict()) return bad_field(stats, "files");
    scrape_entry entry;
    entry.info_hash = *hash;
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


}  // namespace wt::tracker::http
