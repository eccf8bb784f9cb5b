// Blocklist text -> ip_set. One entry per line, in any of these forms:
//   1.2.3.4                        a single address (IPv4 or IPv6)
//   1.2.3.0-1.2.3.255              a range, inclusive (spaces around '-' allowed)
//   1.2.3.0/24, 2001:db8::/32      a CIDR block
//   description:1.2.3.0-1.2.3.255  the P2P (PeerGuardian) format: anything up to the last
//                                  ':' before an IPv4 entry, or up to the first ':' before
//                                  an IPv6 one
// IPv4 parts may have leading zeros (001.002.003.004: published lists use them), read as
// decimal. Blank lines and lines starting with '#' (or "//") are skipped; so is a UTF-8 BOM.
//
// Malformed lines: lists published on the web carry headers and junk, so a lenient parser
// (a file or URL) skips them and counts them (first_skipped tells where the first one is);
// a strict one (entries the user wrote: the blocklist option as an array) stops at the
// first with an error naming it. Either way a line longer than max_line_bytes is malformed,
// and more than max_ranges entries is an error (blocklist_too_large).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "blocklist/ip_set.hpp"

namespace wt {

struct blocklist_limits {
  std::size_t max_line_bytes = 1024;
  // Published lists hold up to about a million ranges (8 bytes each for IPv4).
  std::size_t max_ranges = std::size_t{1} << 22;
};

// One entry, as parsed from a line: both ends of one family.
struct ip_range {
  wire::endpoint first, last;
};
enum class blocklist_line : std::uint8_t { entry, blank, malformed };
// A line without its newline. `out` is set for an entry.
blocklist_line parse_blocklist_line(std::string_view line, ip_range& out);

class blocklist_parser {
 public:
  explicit blocklist_parser(bool strict = false, blocklist_limits limits = {});

  // Text in chunks of any size (a line may span chunks). After an error, the rest is ignored.
  void feed(std::string_view chunk);
  // The last line (without a newline), then the set, or the first error.
  result<ip_set> finish();

  std::size_t lines() const noexcept { return line_no_; }
  std::size_t entries() const noexcept { return v4_.size() + v6_.size(); }
  std::size_t skipped() const noexcept { return skipped_; }
  std::size_t first_skipped() const noexcept { return first_skipped_; }  // its line number (1-based), 0: none

 private:
  void end_line();

  bool strict_;
  blocklist_limits limits_;
  std::string line_;
  bool overlong_ = false;  // the current line passed max_line_bytes: the rest of it is dropped
  std::size_t line_no_ = 0;
  std::size_t line_start_ = 0;  // byte offset of the current line
  std::size_t offset_ = 0;      // bytes fed so far
  std::size_t skipped_ = 0, first_skipped_ = 0;
  std::optional<error> error_;
  std::vector<ip_set::v4_range> v4_;
  std::vector<ip_set::v6_range> v6_;
};

// The whole text at once.
result<ip_set> parse_blocklist(std::string_view text, bool strict = false, blocklist_limits limits = {});

}  // namespace wt
