// What an announce asks and what a tracker answers, shared by the HTTP (BEP 3) and UDP
// (BEP 15) tracker codecs and by the announce scheduler (announce_schedule.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "wire/wire.hpp"

namespace wt::tracker {

using id20 = std::array<std::uint8_t, 20>;

enum class announce_event : std::uint8_t { none, completed, started, stopped };  // BEP 15's order

// Whether `url` starts with `scheme` (given in lower case), in any case: RFC 3986 schemes
// are case-insensitive ("HTTP://" is http).
inline bool has_scheme(std::string_view url, std::string_view scheme) {
  if (url.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    const char c = url[i];
    if (((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c) != scheme[i]) return false;
  }
  return true;
}

// A magnet's `left` over HTTP before its metadata: a block, as libtorrent and WebTorrent
// send; some trackers (aquatic_http) refuse an announce without `left`.
inline constexpr std::int64_t http_unknown_left = 16384;

// The transfer numbers of one announce. `left` absent: unknown (no metadata yet); HTTP
// then sends http_unknown_left and UDP udp::unknown_left.
struct announce_stats {
  std::int64_t uploaded = 0;
  std::int64_t downloaded = 0;
  std::optional<std::int64_t> left;
};

// One parameter the host adds to a torrent's announces (WebTorrent's getAnnounceOpts):
// HTTP sends it in the query (percent-encoded), the WebSocket tracker in the JSON message,
// UDP only as one of its fields (downloaded, left, uploaded, numwant) when it is an integer.
// A parameter named as one of ours replaces ours, except those that identify the announce
// (info_hash, peer_id, port, compact, trackerid, action, event, offers and, with offers,
// numwant).
struct announce_param {
  std::string key;
  std::string value;     // a string's bytes (UTF-8), or a literal's JSON text
  bool literal = false;  // a JSON number, true or false (checked: else sent as a string)
};
using announce_params = std::vector<announce_param>;
// Asked each time an announce of the torrent is built.
using announce_params_source = std::function<announce_params(const id20& info_hash)>;

// `value` is a JSON number, true or false (what announce_param::literal promises).
bool is_json_literal(std::string_view value);
// The integer a parameter holds (a literal such as 12 or 12.0, in range), if any.
std::optional<std::int64_t> integer_value(const announce_param& p);
// The parameters that may be sent (not one of `fixed`), the last of a key winning.
announce_params usable_params(const announce_params& params, std::initializer_list<std::string_view> fixed);

struct announce_request {
  id20 info_hash{};
  id20 peer_id{};
  std::uint16_t port = 0;
  announce_stats stats;
  announce_event event = announce_event::none;
  std::optional<std::uint32_t> numwant;  // absent: the tracker's default
  std::uint32_t key = 0;                 // lets the tracker recognise us across IP changes
  std::string tracker_id;                // HTTP only: what the tracker gave earlier, if any
  announce_params extra;                 // the host's (announce_params_source)
};

struct announce_response {
  std::optional<std::int64_t> interval;      // seconds
  std::optional<std::int64_t> min_interval;  // seconds (HTTP only)
  std::optional<std::string> tracker_id;     // HTTP only
  std::optional<std::int64_t> complete;      // seeders
  std::optional<std::int64_t> incomplete;    // leechers
  std::optional<std::string> warning;        // HTTP "warning message": the announce still worked
  std::vector<wire::endpoint> peers;         // IPv4 and IPv6 together
};

struct scrape_entry {
  id20 info_hash{};
  std::int64_t complete = 0;    // seeders
  std::int64_t incomplete = 0;  // leechers
  std::int64_t downloaded = 0;  // completed downloads the tracker has seen
};

}  // namespace wt::tracker
