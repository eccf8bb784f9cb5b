// Fuzzes the magnet parser. Whatever it accepts must survive make_magnet:
// the generated link parses again to an equal link, and generation is stable.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metainfo/magnet.hpp"

namespace {

bool same(const wt::magnet_link& a, const wt::magnet_link& b) {
  return a.info_hash == b.info_hash && a.info_hash_v2 == b.info_hash_v2 && a.name == b.name &&
         a.trackers == b.trackers && a.web_seeds == b.web_seeds &&
         a.exact_sources == b.exact_sources && a.acceptable_sources == b.acceptable_sources &&
         a.peers == b.peers && a.keywords == b.keywords && a.select_only == b.select_only;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view uri = wt::as_chars(wt::byte_view(data, size));
  auto parsed = wt::parse_magnet(uri);
  if (!parsed.ok()) {
    if (parsed.err().code == wt::errc::ok) std::abort();
    if (parsed.err().position > size) std::abort();  // positions point into the input
    return 0;
  }

  const std::string made = wt::make_magnet(*parsed);
  // Encoding may grow the text (escapes), so the re-parse is not held to the limits.
  const wt::magnet_limits unlimited{SIZE_MAX, SIZE_MAX};
  auto again = wt::parse_magnet(made, unlimited);
  if (!again.ok() || !same(*again, *parsed)) std::abort();
  if (wt::make_magnet(*again) != made) std::abort();
  return 0;
}
