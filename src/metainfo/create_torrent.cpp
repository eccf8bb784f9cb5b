// Torrent creation that reproduces npm create-torrent 6.x byte for byte (for
// in-memory inputs), so the same files and options give the same info-hash in
// this engine and in WebTorrent.
#include <algorithm>
#include <climits>
#include <cmath>

#include "metainfo/metainfo.hpp"

namespace wt {

namespace {

// create-torrent's default cap (opts.maxPieceLength).
constexpr std::int64_t max_default_piece_length = std::int64_t{4} << 20;

// create-torrent drops a file when its name starts with '.' and npm `junk`
// (4.x) matches it. Only the `junk` patterns that can match such a name matter.
bool is_junk_name(std::string_view f) {
  if (f.empty() || f[0] != '.') return false;
  if (f == ".DS_Store" || f == ".AppleDouble" || f == ".LSOverride" || f == ".Spotlight-V100") {
    return true;
  }
  if (f.starts_with("._")) return true;
  if (f.find(".Trashes") != std::string_view::npos) return true;
  if (f.ends_with("~") || f.ends_with("@eaDir")) return true;
  // /^\..*\.swp$/: a JS '.' does not match line terminators (\n, \r, U+2028, U+2029).
  if (f.size() >= 5 && f.ends_with(".swp")) {
    const std::string_view middle = f.substr(1, f.size() - 5);
    return middle.find_first_of("\n\r") == std::string_view::npos &&
           middle.find("\xE2\x80\xA8") == std::string_view::npos &&
           middle.find("\xE2\x80\xA9") == std::string_view::npos;
  }
  return false;
}

// Splits "a/b/c" and rejects what parse_metainfo rejects, so that a created
// torrent always parses back. The error position is the offset in the path.
result<std::vector<std::string>> split_path(std::string_view path, const metainfo_limits& lim) {
  const std::string context(path);
  // parse_metainfo counts a separator before every component.
  if (path.size() + 1 > lim.max_path_length) return make_error(errc::metainfo_too_large, 0, context);
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, slash - start);
    if (!is_safe_path_element(part)) {
      return make_error(errc::metainfo_bad_path, start, context);
    }
    if (parts.size() == lim.max_path_components) {
      return make_error(errc::metainfo_too_large, start, context);
    }
    parts.emplace_back(part);
    if (slash == path.size()) return parts;
    start = slash + 1;
  }
}

struct prepared_file {
  std::vector<std::string> components;
  std::int64_t length = 0;
  std::size_t input = 0;  // index in the caller's list
};
}  // namespace

std::int64_t default_piece_length(std::int64_t total_length) {
  // npm piece-length 2.x: Math.max(16384, 1 << Math.log2(bytes < 1024 ? 1 : bytes / 1024) + 0.5 | 0),
  // i.e. 1 << round(log2(KiB)), in JS arithmetic: the shift count is taken
  // mod 32 and 1 << 31 is negative, so totals beyond ~1.5 TiB fall back to
  // 16 KiB. Reproduced as is: the point is to pick what WebTorrent picks.
  const double kib = total_length < 1024 ? 1.0 : static_cast<double>(total_length) / 1024.0;
  const double exponent = std::floor(std::log2(kib) + 0.5);
  const auto shift = static_cast<std::uint32_t>(static_cast<std::uint64_t>(exponent) & 31u);
  const std::int64_t shifted = shift == 31 ? std::int64_t{INT32_MIN} : std::int64_t{1} << shift;
  // create-torrent then caps it at opts.maxPieceLength (4 MiB by default).
  return std::min(std::max(std::int64_t{16384}, shifted), max_default_piece_length);
}

struct torrent_creator::layout {
  std::string name;
  std::int64_t piece_length = 0;
  std::int64_t total = 0;
  bool single_file = false;
  std::vector<prepared_file> files;
  create_options opts;
};

torrent_creator::torrent_creator(std::unique_ptr<layout> l) : layout_(std::move(l)) {
  pieces_.reserve(static_cast<std::size_t>((layout_->total + layout_->piece_length - 1) / layout_->piece_length) * 20);
}
torrent_creator::torrent_creator(torrent_creator&&) noexcept = default;
torrent_creator& torrent_creator::operator=(torrent_creator&&) noexcept = default;
torrent_creator::~torrent_creator() = default;

result<torrent_creator> torrent_creator::start(std::span<const file_spec> files, const create_options& opts) {
  const metainfo_limits lim{};
  if (files.empty()) return make_error(errc::metainfo_missing_field, 0, "files");
  if (files.size() > lim.max_files) return make_error(errc::metainfo_too_large, 0, "files");

  auto l = std::make_unique<layout>();
  l->opts = opts;
  auto& prepared = l->files;
  prepared.reserve(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i].length < 0) return make_error(errc::metainfo_invalid_value, 0, files[i].path);
    auto parts = split_path(files[i].path, lim);
    if (!parts) return parts.err();
    prepared.push_back({std::move(parts.value()), files[i].length, i});
  }

  // The common first directory becomes the name (create-torrent looks at every
  // input, junk included, and only when there are several inputs, or a folder).
  std::optional<std::string> common_prefix;
  if (prepared.size() > 1 || opts.multi_file) {
    common_prefix = prepared.front().components.front();
    for (const auto& p : prepared) {
      if (p.components.size() < 2 || p.components.front() != *common_prefix) {
        common_prefix.reset();
        break;
      }
    }
  }

  if (opts.filter_junk) {
    std::erase_if(prepared, [](const prepared_file& p) { return is_junk_name(p.components.back()); });
  }
  if (prepared.empty()) return make_error(errc::metainfo_missing_field, 0, "files");

  if (common_prefix) {
    for (auto& p : prepared) p.components.erase(p.components.begin());
  }

  l->name = opts.name;
  if (l->name.empty()) l->name = common_prefix ? *common_prefix : prepared.front().components.back();
  if (!is_safe_path_element(l->name) || l->name.size() > lim.max_path_length) {
    return make_error(errc::metainfo_bad_path, 0, l->name);
  }

  l->single_file = prepared.size() == 1 && !opts.multi_file;  // decided after dropping junk
  for (const auto& p : prepared) l->total += p.length;

  l->piece_length = opts.piece_length.value_or(default_piece_length(l->total));
  if (l->piece_length <= 0 || l->piece_length > lim.max_piece_length) {
    return make_error(errc::metainfo_invalid_value, 0, "piece length");
  }
  return torrent_creator(std::move(l));
}

std::vector<std::size_t> torrent_creator::inputs() const {
  std::vector<std::size_t> out;
  for (const auto& f : layout_->files) out.push_back(f.input);
  return out;
}

std::int64_t torrent_creator::total_length() const noexcept { return layout_->total; }
std::int64_t torrent_creator::piece_length() const noexcept { return layout_->piece_length; }

void torrent_creator::update(byte_view data) {
  // SHA-1 of each piece over the files laid end to end; the last piece is short.
  while (!data.empty()) {
    const auto take = static_cast<std::size_t>(
        std::min(layout_->piece_length - in_piece_, static_cast<std::int64_t>(data.size())));
    hasher_.update(data.first(take));
    data = data.subspan(take);
    in_piece_ += static_cast<std::int64_t>(take);
    hashed_ += static_cast<std::int64_t>(take);
    if (in_piece_ == layout_->piece_length) {
      pieces_.append(as_chars(hasher_.finish()));
      in_piece_ = 0;
    }
  }
}

result<byte_buffer> torrent_creator::finish() {
  if (hashed_ != layout_->total) return make_error(errc::metainfo_invalid_value, 0, "file length");
  if (in_piece_ > 0) {
    pieces_.append(as_chars(hasher_.finish()));
    in_piece_ = 0;
  }
  const create_options& opts = layout_->opts;
  bencode::dict info;
  info.emplace("name", layout_->name);
  if (opts.is_private) info.emplace("private", *opts.is_private ? 1 : 0);
  for (const auto& [key, value] : opts.info_extra) info.insert_or_assign(key, value);
  info.insert_or_assign("piece length", layout_->piece_length);
  info.insert_or_assign("pieces", std::move(pieces_));
  if (layout_->single_file) {
    info.insert_or_assign("length", layout_->total);
  } else {
    bencode::list file_list;
    file_list.reserve(layout_->files.size());
    for (auto& p : layout_->files) {
      bencode::list path;
      for (auto& c : p.components) path.emplace_back(std::move(c));
      bencode::dict entry;
      entry.emplace("length", p.length);
      entry.emplace("path", std::move(path));
      file_list.emplace_back(std::move(entry));
    }
    info.insert_or_assign("files", std::move(file_list));
  }

  bencode::dict torrent;
  torrent.emplace("info", std::move(info));
  // create-torrent always writes these two; the date is ours to omit so that
  // output is reproducible unless the caller asks for one.
  if (opts.creation_date) torrent.emplace("creation date", *opts.creation_date);
  torrent.emplace("encoding", "UTF-8");
  if (!opts.announce_list.empty()) {
    if (!opts.announce_list.front().empty()) {
      torrent.emplace("announce", opts.announce_list.front().front());
    }
    bencode::list tiers;
    for (const auto& tier : opts.announce_list) {
      bencode::list urls(tier.begin(), tier.end());
      tiers.emplace_back(std::move(urls));
    }
    torrent.emplace("announce-list", std::move(tiers));
  }
  if (!opts.comment.empty()) torrent.emplace("comment", opts.comment);
  if (!opts.created_by.empty()) torrent.emplace("created by", opts.created_by);
  if (!opts.url_list.empty()) {
    torrent.emplace("url-list", bencode::list(opts.url_list.begin(), opts.url_list.end()));
  }
  return bencode::encode(bencode::value(std::move(torrent)));
}

result<byte_buffer> create_torrent(std::span<const input_file> files, const create_options& opts) {
  std::vector<file_spec> specs;
  specs.reserve(files.size());
  for (const auto& f : files) specs.push_back({f.path, static_cast<std::int64_t>(f.data.size())});
  auto creator = torrent_creator::start(specs, opts);
  if (!creator) return creator.err();
  for (std::size_t i : creator->inputs()) creator->update(files[i].data);
  return creator->finish();
}

}  // namespace wt
