// Magnet URIs (BEP 9 and the common extra parameters): parsing and generation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/crypto.hpp"
#include "base/error.hpp"

namespace wt {

struct magnet_link {
  std::optional<sha1_digest> info_hash;      // xt=urn:btih: (40 hex or 32 base32)
  std::optional<std::string> info_hash_v2;   // xt=urn:btmh: multihash, kept as text for v2
  std::string name;                          // dn
  std::vector<std::string> trackers;         // tr
  std::vector<std::string> web_seeds;        // ws
  std::vector<std::string> exact_sources;    // xs
  std::vector<std::string> acceptable_sources;  // as
  std::vector<std::string> peers;            // x.pe (host:port)
  std::vector<std::string> keywords;         // kt (split on '+')
  // so= (BEP 53): file indices to download, as inclusive ranges.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> select_only;
  // Every other parameter (xl, ix, a client's own...) as it is written, key and value
  // undecoded, in order: magnet-uri returns them so (and writes two-letter ones back).
  std::vector<std::pair<std::string, std::string>> other;
};

struct magnet_limits {
  std::size_t max_length = 64 * 1024;    // bytes of URI
  std::size_t max_parameters = 1024;
};

// Errors carry the byte offset in the URI of the offending parameter.
result<magnet_link> parse_magnet(std::string_view uri, const magnet_limits& lim = {});

// magnet:?xt=urn:btih:<hex>&dn=...&tr=...  Values are percent-encoded.
std::string make_magnet(const magnet_link& link);

}  // namespace wt
