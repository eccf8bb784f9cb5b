// Fuzzes the web seed response checks: Content-Range parsing (whatever parses must
// survive format_content_range unchanged) and check_response() on any status and header.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/bytes.hpp"
#include "webseed/webseed.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = wt::as_chars(wt::byte_view(data, size));
  auto parsed = wt::webseed::parse_content_range(text);
  if (!parsed.ok()) {
    if (parsed.err().code != wt::errc::web_seed_bad_response) std::abort();
    if (parsed.err().position > size) std::abort();
  } else {
    if (parsed->first > parsed->last || (parsed->total && parsed->last >= *parsed->total)) std::abort();
    auto again = wt::webseed::parse_content_range(wt::webseed::format_content_range(*parsed));
    if (!again.ok() || !(*again == *parsed)) std::abort();
  }
  // The same text as the header of a response to a request derived from the input.
  wt::webseed::segment s;
  s.first = static_cast<std::int64_t>(size);
  s.last = s.first + (size > 0 ? data[0] : 0);
  s.file_length = s.last + 1 + (size > 1 ? data[1] : 0);
  const int status = size > 2 ? 100 + data[2] * 2 : 206;
  auto r = wt::webseed::check_response(s, status, text, size > 3 ? std::optional<std::int64_t>(data[3]) : std::nullopt);
  if (r.ok() && (r->length != s.length() || r->skip < 0 || r->skip + r->length > s.file_length)) std::abort();
  return 0;
}
