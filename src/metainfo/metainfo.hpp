// Torrent files (BEP 3, BEP 12 announce-list, BEP 19 url-list, BEP 27 private,
// BEP 47 pad files): parsing with validation, file <-> piece mapping, creation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/id.hpp"
#include "bencode/bencode.hpp"
#include "base/bytes.hpp"
#include "base/crypto.hpp"
#include "base/error.hpp"

namespace wt {

// Strong index types: a piece number and a file number cannot be mixed up.
using piece_index = strong_id<struct piece_index_tag>;
using file_index = strong_id<struct file_index_tag>;

struct file_entry {
  // Path components as in the torrent; for a multi-file torrent they do not
  // include the torrent's name (path() adds it).
  std::vector<std::string> components;
  std::int64_t length = 0;
  std::int64_t offset = 0;  // where the file starts in the torrent's byte stream
  bool pad = false;         // a padding file: BEP 47 (attr contains 'p') or BitComet's name
  std::string attr;

  std::string name() const;  // the last component
};

struct metainfo {
  sha1_digest info_hash{};
  byte_buffer info_bytes;  // the info dict exactly as received
  std::string name;
  std::int64_t piece_length = 0;
  std::vector<sha1_digest> piece_hashes;
  std::vector<file_entry> files;  // one entry for a single-file torrent
  std::int64_t total_length = 0;
  bool multi_file = false;
  bool is_private = false;
  bool has_private_key = false;  // "private" present (parse-torrent's `private` is then defined)

  std::string announce;                               // "announce"
  std::vector<std::vector<std::string>> announce_list;  // "announce-list" tiers
  std::vector<std::string> url_list;                  // "url-list" web seeds
  std::optional<std::int64_t> creation_date;          // seconds since 1970
  std::string comment;
  std::string created_by;

  std::uint32_t piece_count() const { return static_cast<std::uint32_t>(piece_hashes.size()); }
  std::int64_t piece_size(piece_index p) const;  // the last piece may be shorter
  // "name/dir/file" for multi-file torrents, "name" for single-file ones.
  std::string path(file_index f) const;
  // Every tracker URL once, in first-seen order: the announce-list tiers flattened, or
  // `announce` when the list has no usable URL (as parse-torrent does).
  std::vector<std::string> trackers() const;
};

struct metainfo_limits {
  bencode::limits bencode{};
  std::size_t max_torrent_size = 64u << 20;  // bytes of .torrent
  std::size_t max_files = 1'000'000;
  std::size_t max_path_components = 256;     // per file
  std::size_t max_path_length = 4096;        // bytes, per file
  std::int64_t max_piece_length = std::int64_t{1} << 28;  // 256 MiB (any length from 1 byte)
};

// Parses and validates a whole .torrent file. Errors name the field and the byte offset.
result<metainfo> parse_metainfo(byte_view torrent, const metainfo_limits& lim = {});
// Parses an info dict alone (what ut_metadata delivers); info_hash is computed over it.
result<metainfo> parse_info_dict(byte_view info, const metainfo_limits& lim = {});

// The .torrent of a torrent as WebTorrent's torrentFile (parse-torrent's toTorrentFile)
// writes it: the info dict as received; `announce` the first tracker; `announce-list` one
// tier per tracker (even with none); comment, created by, creation date; `private` (1 or 0)
// when `private_flag` has a value (by default the info dict's own, when it has the key: a
// torrent added with WebTorrent's `private` option writes that); `url-list` always (empty
// without web seeds). Other top-level keys are not kept.
byte_buffer make_torrent_file(const metainfo& m, const std::vector<std::string>& trackers,
                              const std::vector<std::string>& web_seeds);
byte_buffer make_torrent_file(const metainfo& m, const std::vector<std::string>& trackers,
                              const std::vector<std::string>& web_seeds, std::optional<bool> private_flag);

// --- Mapping between files and pieces ----------------------------------------

struct file_slice {
  file_index file;
  std::int64_t offset = 0;  // within the file
  std::int64_t length = 0;
};
// The parts of files that a byte range of a piece covers, in order.
std::vector<file_slice> map_block(const metainfo& m, piece_index piece, std::int64_t offset,
                                  std::int64_t length);

struct piece_span {
  piece_index piece;
  std::int64_t offset = 0;  // within the piece
};
// Where a byte of a file lives.
piece_span map_file(const metainfo& m, file_index file, std::int64_t offset);

// The pieces a file touches, [first, last]; nullopt for an empty file.
struct piece_range {
  piece_index first;
  piece_index last;
};
std::optional<piece_range> file_pieces(const metainfo& m, file_index file);

// One element of a torrent's paths (a path component, or its name), checked so that
// joining them can never leave the download folder on any host OS: no empty part, "." or
// "..", NUL, backslash, or drive prefix ("C:"). A '/' inside one ("AC/DC - Live", as
// create-torrent makes from such a name) is a folder separator, as WebTorrent's store
// takes it: each part between is checked the same way.
bool is_safe_path_element(std::string_view element);

// --- Creation ----------------------------------------------------------------

struct input_file {
  std::string path;  // relative, '/'-separated: "folder/sub/file.txt"
  byte_view data;
};

struct create_options {
  std::string name;                       // defaults as create-torrent does
  std::optional<std::int64_t> piece_length;  // defaults from the total size
  std::vector<std::vector<std::string>> announce_list;
  std::vector<std::string> url_list;
  std::string comment;
  std::string created_by = "wasmtorrent";
  std::optional<std::int64_t> creation_date;  // omitted when absent
  // info.private: omitted when absent; written as 1 or 0 when set (create-torrent
  // writes `private: 0` for an explicit false, and that changes the info-hash).
  std::optional<bool> is_private;
  // More keys of the info dictionary (create-torrent's opts.info, e.g. source; and its
  // sslCert as ssl-cert). As create-torrent's Object.assign, they may replace name and
  // private, not the keys computed from the files (piece length, pieces, length, files).
  bencode::dict info_extra;
  // A torrent of folders even when it holds one file: `info.files`, named after the common
  // first folder of the paths (create-torrent does so for a folder given by its path). By
  // default one file (junk dropped) makes a single-file torrent.
  bool multi_file = false;
  // Drop hidden junk (.DS_Store, ._*, .*.swp...), as create-torrent's default
  // (opts.filterJunkFiles).
  bool filter_junk = true;
};

// The piece length create-torrent (npm piece-length) picks for a total size.
std::int64_t default_piece_length(std::int64_t total_length);

// Builds a .torrent with the same field names, order and defaults as npm
// create-torrent, so the same files and options give the same info-hash.
result<byte_buffer> create_torrent(std::span<const input_file> files, const create_options& opts);

// The same, fed piecewise so that a multi-GiB input is never held whole: start() lays out
// the files (junk dropped, name, piece length); the caller then passes the bytes of
// inputs(), in that order, to update() in chunks of any size; finish() checks that exactly
// total_length() bytes came and encodes the torrent.
struct file_spec {
  std::string path;
  std::int64_t length = 0;
};
class torrent_creator {
 public:
  static result<torrent_creator> start(std::span<const file_spec> files, const create_options& opts);
  torrent_creator(torrent_creator&&) noexcept;
  torrent_creator& operator=(torrent_creator&&) noexcept;
  ~torrent_creator();

  // Indices into start()'s list of the files the torrent holds, in torrent order.
  std::vector<std::size_t> inputs() const;
  std::int64_t total_length() const noexcept;
  std::int64_t piece_length() const noexcept;
  std::int64_t hashed() const noexcept { return hashed_; }
  void update(byte_view data);
  result<byte_buffer> finish();

 private:
  struct layout;
  explicit torrent_creator(std::unique_ptr<layout> l);
  std::unique_ptr<layout> layout_;
  sha1_hasher hasher_;
  std::string pieces_;
  std::int64_t in_piece_ = 0;
  std::int64_t hashed_ = 0;
};

}  // namespace wt
