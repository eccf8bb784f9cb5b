// BEP 19 web seeds (GetRight style): a plain HTTP server holds the torrent's files, and a
// byte range of the torrent becomes HTTP range requests on them. Pure functions: the
// session decides what to fetch and from which seed, the host performs the requests.
//
//   - file_url(): where a file of the torrent lives on a seed. Single-file torrent: the
//     seed URL is the file itself (a URL ending in '/' gets the torrent's name appended).
//     Multi-file: seed URL (with a '/' added when missing) + name + '/' + path, each
//     component percent-encoded (RFC 3986 unreserved characters kept, other bytes of the
//     UTF-8 name as %XX).
//   - plan_range(): the HTTP requests for a byte range of the torrent, one per file it
//     touches; pad files (BEP 47) and empty files are never asked for (pads are zeros).
//   - check_response(): whether a response's status and headers answer a request, and
//     which body bytes hold the range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "metainfo/metainfo.hpp"

namespace wt::webseed {

struct limits {
  std::size_t max_url_length = 8 * 1024;       // a seed URL (and a built file URL)
  std::size_t max_header_length = 256;         // Content-Range
  // A 200 (the whole file) to a request for part of it: the slice is taken from the body
  // when the file is at most this long; a longer file is not fetched whole for every range
  // (web_seed_ignores_range).
  std::int64_t max_whole_file = 16 * 1024 * 1024;
};

// "http://" or "https://", no control characters or spaces, within the length limit.
bool valid_seed_url(std::string_view url, const limits& lim = {});

// A seed URL as a URL parser (fetch, WebTorrent's) takes it: spaces after the host become
// %20. .torrent files and magnets carry "http://h/My Movie.mp4" as it is; a space in the
// host stays, for valid_seed_url to refuse.
std::string normalize_seed_url(std::string_view url);

// Percent-encodes one element of a torrent's paths (is_safe_path_element): RFC 3986
// unreserved bytes (A-Z a-z 0-9 - . _ ~) and '/' (a folder separator inside an element, as
// WebTorrent's web seeds send it) as they are, every other byte as %XX (upper-case hex).
std::string encode_path_element(std::string_view element);

// The URL of file `f` of the torrent on the seed `seed_url`.
std::string file_url(const metainfo& m, std::string_view seed_url, file_index f);

// One part of a planned range: an HTTP request for bytes [first, last] (inclusive, as in
// a Range header) of one file, or a stretch of pad bytes that is zeros without asking.
struct segment {
  bool pad = false;
  file_index file;
  std::string url;               // empty for pad
  std::int64_t first = 0;        // within the file
  std::int64_t last = 0;         // inclusive
  std::int64_t file_length = 0;
  std::int64_t torrent_offset = 0;  // where `first` lives in the torrent's byte stream
  std::int64_t length() const noexcept { return last - first + 1; }
};

// The segments that cover [offset, offset + length) of the torrent, in order, clipped to
// the torrent. Empty files are skipped (they hold no bytes).
std::vector<segment> plan_range(const metainfo& m, std::string_view seed_url, std::int64_t offset,
                                std::int64_t length);

// Content-Range of a 206: "bytes <first>-<last>/<total>" or "bytes <first>-<last>/*".
struct content_range {
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::optional<std::int64_t> total;  // nullopt for "*"
  friend bool operator==(const content_range&, const content_range&) = default;
};
// Unit case-insensitive, spaces around the parts allowed; first <= last < total;
// numbers below 2^62. Errors: web_seed_bad_response with the byte position.
result<content_range> parse_content_range(std::string_view text, const limits& lim = {});
std::string format_content_range(const content_range& r);

// What a response's body holds for the request: bytes [skip, skip + length) of the body
// are the requested range (skip > 0 only for a 200 carrying the whole file).
struct body_plan {
  std::int64_t skip = 0;
  std::int64_t length = 0;
  // The body is the whole file (200): bytes past skip + length may be dropped unread.
  bool whole_file = false;
};

// Checks a response to `request` (a non-pad segment) from its status, Content-Range (empty
// when absent) and Content-Length (nullopt when absent or unknown, as with a compressed
// body). Errors:
//   web_seed_not_found      404, 410 (the seed lacks the file: it is not asked for it again)
//   web_seed_http_error     any other status but 200 and 206 (context: the status);
//                           web_seed_fatal_status() tells whether retrying is pointless
//   web_seed_ignores_range  200 with the whole file for a part of a file too long to slice
//   web_seed_bad_response   a 206 whose Content-Range is not the range asked for, a
//                           Content-Length that disagrees, a total that is not the file's
// A 206 without Content-Range (a browser hides it from other origins unless the server
// exposes it) is taken as the range asked for.
result<body_plan> check_response(const segment& request, int status, std::string_view content_range,
                                 std::optional<std::int64_t> content_length, const limits& lim = {});

// Statuses after which asking again cannot help (401, 403, 404, 410, 416, ...): every 4xx
// but 408 (timeout) and 429 (too many requests).
bool web_seed_fatal_status(int status) noexcept;

}  // namespace wt::webseed
