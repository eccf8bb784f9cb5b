// Fuzzes the torrent parser, and checks the invariants of what it accepts
// against the mapping functions.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "base/crypto.hpp"
#include "metainfo/metainfo.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_invariants(const wt::metainfo& m) {
  check(m.info_hash == wt::sha1(m.info_bytes));
  check(!m.files.empty());
  std::int64_t offset = 0;
  for (const auto& f : m.files) {
    check(f.offset == offset && f.length >= 0 && !f.components.empty());
    offset += f.length;
  }
  check(offset == m.total_length);
  check(m.piece_length >= 1 && m.piece_length <= wt::metainfo_limits{}.max_piece_length);  // any length (BEP 3)
  const std::int64_t pieces = m.total_length == 0 ? 0 : (m.total_length - 1) / m.piece_length + 1;
  check(pieces == m.piece_count());

  // Every piece maps to slices that exactly cover it (bounded work per input).
  const std::uint32_t count = m.piece_count();
  for (std::uint32_t p = 0; p < count; p = p < 16 ? p + 1 : std::max(p + 1, count - 1)) {
    const wt::piece_index pi{p};
    std::int64_t sum = 0;
    for (const auto& s : wt::map_block(m, pi, 0, m.piece_length)) {
      check(s.length > 0 && s.offset >= 0);
      const auto& f = m.files[s.file.value];
      check(s.offset + s.length <= f.length);
      sum += s.length;
    }
    check(sum == m.piece_size(pi));
  }
  for (std::uint32_t i = 0; i < m.files.size() && i < 64; ++i) {
    const wt::file_index fi{i};
    const auto range = wt::file_pieces(m, fi);
    check(range.has_value() == (m.files[i].length > 0));
    if (range) {
      check(wt::map_file(m, fi, 0).piece == range->first);
      check(wt::map_file(m, fi, m.files[i].length - 1).piece == range->last);
      check(range->last.value < count);
    }
    check(!m.path(fi).empty());
  }
  const auto trackers = m.trackers();
  check(std::set<std::string>(trackers.begin(), trackers.end()).size() == trackers.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wt::byte_view input(data, size);
  auto full = wt::parse_metainfo(input);
  if (full.ok()) {
    check_invariants(*full);
    // The info dict alone parses to the same content.
    auto alone = wt::parse_info_dict(full->info_bytes);
    check(alone.ok() && alone->info_hash == full->info_hash &&
          alone->files.size() == full->files.size());
  } else {
    check(!full.err().message().empty());
  }
  auto info = wt::parse_info_dict(input);
  if (info.ok()) check_invariants(*info);
  return 0;
}
