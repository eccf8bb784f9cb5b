// Fuzzes the blocklist parser and the ip_set it builds. The text fed whole and in two
// chunks (split where the first byte says) gives the same set, in lenient and strict mode;
// the set's ranges are sorted, disjoint and not adjacent, and each holds its own ends.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "blocklist/blocklist.hpp"

namespace {

template <class Range>
void check_ranges(const std::vector<Range>& ranges) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].last < ranges[i].first) std::abort();
    // Sorted, disjoint and with a gap: last + 1 < next.first.
    if (i > 0 && !(ranges[i - 1].last < ranges[i].first)) std::abort();
  }
}

wt::result<wt::ip_set> chunked(std::string_view text, std::size_t cut, bool strict, const wt::blocklist_limits& lim) {
  wt::blocklist_parser p(strict, lim);
  p.feed(text.substr(0, cut));
  p.feed(text.substr(cut));
  return p.finish();
}

bool same(const wt::ip_set& a, const wt::ip_set& b) {
  if (a.v4().size() != b.v4().size() || a.v6().size() != b.v6().size()) return false;
  for (std::size_t i = 0; i < a.v4().size(); ++i)
    if (a.v4()[i].first != b.v4()[i].first || a.v4()[i].last != b.v4()[i].last) return false;
  for (std::size_t i = 0; i < a.v6().size(); ++i)
    if (a.v6()[i].first != b.v6()[i].first || a.v6()[i].last != b.v6()[i].last) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = wt::as_chars(wt::byte_view(data, size));
  wt::blocklist_limits lim;
  lim.max_line_bytes = 256;
  lim.max_ranges = 1000;
  const std::size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  for (bool strict : {false, true}) {
    auto whole = wt::parse_blocklist(text, strict, lim);
    auto split = chunked(text, cut, strict, lim);
    if (whole.ok() != split.ok()) std::abort();
    if (!whole.ok()) {
      if (whole.err().code == wt::errc::ok || whole.err().position > size) std::abort();
      if (whole.err().position != split.err().position || whole.err().code != split.err().code) std::abort();
      continue;
    }
    if (!same(*whole, *split)) std::abort();
    check_ranges(whole->v4());
    check_ranges(whole->v6());
    if (whole->size() > lim.max_ranges) std::abort();
  }
  // Each line's entry is in the set built from that line alone.
  wt::ip_range r;
  std::string_view rest = text;
  for (int lines = 0; !rest.empty() && lines < 64; ++lines) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    // (A first line's BOM is dropped by the parser, not by parse_blocklist_line.)
    if (line.starts_with("\xEF\xBB\xBF") || wt::parse_blocklist_line(line, r) != wt::blocklist_line::entry) continue;
    wt::blocklist_limits unlimited;
    unlimited.max_line_bytes = SIZE_MAX / 2;
    auto one = wt::parse_blocklist(line, true, unlimited);
    if (!one.ok() || !one->contains(r.first) || !one->contains(r.last)) std::abort();
  }
  return 0;
}
