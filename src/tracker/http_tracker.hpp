// HTTP tracker codec (BEP 3, compact peers BEP 23, IPv6 peers BEP 7, the scrape
// convention): builds the URLs the host fetches and parses the bencoded bodies it gets
// back. Pure functions; scheduling is announce_schedule's.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "tracker/announce_types.hpp"

namespace wt::tracker::http {

struct limits {
  std::size_t max_body = std::size_t{1} << 20;  // 1 MiB
  std::size_t max_peers = 10000;  // kept per family and of a list of dicts (the rest ignored)
  std::size_t max_text = 256;                   // tracker text kept from a failure or warning
  std::uint32_t max_depth = 8;
  std::uint32_t max_tokens = 100'000;
};

// Every byte except the RFC 3986 unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX.
std::string percent_encode(byte_view bytes);

// `announce_url` with the announce parameters appended: '?' or '&' as the URL already has
// a query string, before any '#fragment' (which is dropped).
std::string announce_url(std::string_view announce_url, const announce_request& request);

// The scrape convention: the text after the last '/' of the path must start with
// "announce", which becomes "scrape" ("http://t/x/announce.php?k=1" ->
// "http://t/x/scrape.php?k=1"). nullopt when the rule does not apply.
std::optional<std::string> scrape_url(std::string_view announce_url);
// A scrape URL (from scrape_url) with one info_hash parameter per hash.
std::string scrape_request_url(std::string_view scrape_url, std::span<const id20> info_hashes);

// Parses an announce response body. Errors: tracker_message_too_large (body above
// max_body), bencode_* (not bencode, or beyond the depth/token limits),
// tracker_bad_field (not a dict, or a known key of the wrong type; the key in context;
// a negative count or interval reads as absent), wire_bad_compact_peers (peers, peers6),
// tracker_failure (the tracker's "failure reason", its text in context).
// Peers given as a list of dicts keep only those whose "ip" is a numeric IPv4 or IPv6
// address (host names cannot be resolved here) and whose port is 1..65535.
result<announce_response> parse_announce_response(byte_view body, const limits& lim = {});

// Parses a scrape response body ("files": info_hash -> {complete, downloaded,
// incomplete}); entries whose key is not 20 bytes are skipped. Same errors as above.
result<std::vector<scrape_entry>> parse_scrape_response(byte_view body, const limits& lim = {});

// Peers given as text ("ip" of a dict peer): wire::parse_ip_address.
using wire::parse_ip_address;

}  // namespace wt::tracker::http
