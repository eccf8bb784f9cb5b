// Torrent parsing and the file <-> piece mapping. Creation lives in create_torrent.cpp.
//
// Validation is strict for the info dict (it defines the content and the
// info-hash) and tolerant for the outer, informational fields (announce,
// url-list, comment...): a malformed outer field is skipped, as parse-torrent
// and libtorrent do, rather than making the whole torrent unusable.
#include "metainfo/metainfo.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string_view>

namespace wt {

namespace {

using bencode::node;

error fail(errc code, const node& at, std::string context) {
  return make_error(code, at.offset(), std::move(context));
}

// `key.utf-8` wins over `key` when it has the right type, as parse-torrent does.
// Sets `utf8` to say which one was used, for error contexts.
std::optional<node> find_preferring_utf8(const node& dict, std::string_view key,
                                         std::string_view utf8_key, bencode::type want, bool& utf8) {
  if (auto n = dict.find(utf8_key); n && n->kind() == want) {
    utf8 = true;
    return n;
  }
  utf8 = false;
  return dict.find(key);
}

std::optional<error> parse_files(const node& files_node, const metainfo_limits& lim, metainfo& m) {
  if (!files_node.is_list()) return fail(errc::metainfo_wrong_type, files_node, "info.files");
  if (files_node.size() == 0) return fail(errc::metainfo_invalid_value, files_node, "info.files");
  if (files_node.size() > lim.max_files) return fail(errc::metainfo_too_large, files_node, "info.files");

  m.files.reserve(files_node.size());
  std::int64_t total = 0;
  std::size_t i = 0;
  // Each file's path ('/' joined), and every folder above one: two files on one path, or a
  // file where another's folder is, would share bytes on disk (each overwriting the other).
  std::map<std::string, std::size_t, std::less<>> file_at;
  std::set<std::string, std::less<>> folders;
  for (const node& f : files_node.items()) {
    // Contexts are built only on the error path: most torrents have no errors.
    const std::size_t index = i++;
    const auto ctx = [index](std::string_view field) {
      std::string c = "info.files[" + std::to_string(index) + "]";
      if (!field.empty()) c += field;
      return c;
    };
    if (!f.is_dict()) return fail(errc::metainfo_wrong_type, f, ctx(""));

    file_entry entry;
    const auto length = f.find("length");
    if (!length) return fail(errc::metainfo_missing_field, f, ctx(".length"));
    if (!length->is_int()) return fail(errc::metainfo_wrong_type, *length, ctx(".length"));
    if (length->as_int() < 0) return fail(errc::metainfo_invalid_value, *length, ctx(".length"));
    entry.length = length->as_int();
    if (entry.length > std::numeric_limits<std::int64_t>::max() - total) {
      return fail(errc::metainfo_too_large, *length, ctx(".length"));
    }
    entry.offset = total;
    total += entry.length;

    bool utf8 = false;
    const auto path = find_preferring_utf8(f, "path", "path.utf-8", bencode::type::list, utf8);
    const std::string_view path_field = utf8 ? ".path.utf-8" : ".path";
    if (!path) return fail(errc::metainfo_missing_field, f, ctx(path_field));
    if (!path->is_list()) return fail(errc::metainfo_wrong_type, *path, ctx(path_field));
    if (path->size() == 0) return fail(errc::metainfo_bad_path, *path, ctx(path_field));
    if (path->size() > lim.max_path_components) {
      return fail(errc::metainfo_too_large, *path, ctx(path_field));
    }
    // The full relative path, name included, is what reaches a file system.
    std::size_t path_bytes = m.name.size();
    entry.components.reserve(path->size());
    for (const node& c : path->items()) {
      if (!c.is_string()) return fail(errc::metainfo_wrong_type, c, ctx(path_field));
      if (!is_safe_path_element(c.as_string())) return fail(errc::metainfo_bad_path, c, ctx(path_field));
      path_bytes += 1 + c.as_string().size();
      if (path_bytes > lim.max_path_length) return fail(errc::metainfo_too_large, c, ctx(path_field));
      entry.components.emplace_back(c.as_string());
    }

    // attr is informational (BEP 47): a non-string is ignored, not an error.
    if (auto attr = f.find_string("attr")) {
      entry.attr = std::string(*attr);
      entry.pad = entry.attr.find('p') != std::string::npos;
    }
    // BitComet's pad files predate BEP 47's attr and are known by name, as libtorrent knows
    // them: a path with "_____padding_file_" in it.
    for (const auto& c : entry.components) entry.pad = entry.pad || c.find("_____padding_file_") != std::string::npos;
    if (!entry.pad) {  // pad files (BEP 47) share paths such as ".pad/16384" and are never written
      std::string joined;
      for (const auto& c : entry.components) joined += (joined.empty() ? "" : "/") + c;
      const auto clash = [&](std::string_view what) {
        return fail(errc::metainfo_bad_path, *path, ctx(path_field) + ": " + std::string(what));
      };
      if (auto other = file_at.find(joined); other != file_at.end())
        return clash("the same path as info.files[" + std::to_string(other->second) + "]");
      if (folders.contains(joined)) return clash("a file where another file's folder is");
      for (std::size_t slash = joined.find('/'); slash != std::string::npos; slash = joined.find('/', slash + 1)) {
        const std::string_view folder = std::string_view(joined).substr(0, slash);
        if (file_at.contains(folder)) return clash("a folder where another file is");
        folders.emplace(folder);
      }
      file_at.emplace(std::move(joined), index);
    }
    m.files.push_back(std::move(entry));
  }
  m.total_length = total;
  m.multi_file = true;
  return std::nullopt;
}

std::optional<error> parse_info(const node& info, const metainfo_limits& lim, metainfo& m) {
  // name
  bool utf8 = false;
  const auto name = find_preferring_utf8(info, "name", "name.utf-8", bencode::type::string, utf8);
  const std::string name_ctx = utf8 ? "info.name.utf-8" : "info.name";
  if (!name) return fail(errc::metainfo_missing_field, info, name_ctx);
  if (!name->is_string()) return fail(errc::metainfo_wrong_type, *name, name_ctx);
  if (!is_safe_path_element(name->as_string())) return fail(errc::metainfo_bad_path, *name, name_ctx);
  if (name->as_string().size() > lim.max_path_length) {
    return fail(errc::metainfo_too_large, *name, name_ctx);
  }
  m.name = std::string(name->as_string());

  // piece length
  const auto pl = info.find("piece length");
  if (!pl) return fail(errc::metainfo_missing_field, info, "info.piece length");
  if (!pl->is_int()) return fail(errc::metainfo_wrong_type, *pl, "info.piece length");
  const std::int64_t piece_length = pl->as_int();
  // BEP 3 asks for a positive length only: create-torrent makes pieces of any size (5 bytes,
  // 20000), and the picker cuts a piece into 16 KiB blocks with a short last one.
  if (piece_length <= 0) return fail(errc::metainfo_invalid_value, *pl, "info.piece length");
  if (piece_length > lim.max_piece_length) return fail(errc::metainfo_too_large, *pl, "info.piece length");
  m.piece_length = piece_length;

  // pieces (checked against the total once the files are known)
  const auto pieces = info.find("pieces");
  if (!pieces) {
    const auto version = info.find("meta version");
    if (version && version->is_int() && version->as_int() == 2) {
      return fail(errc::metainfo_missing_field, info,
                  "info.pieces: a BitTorrent v2-only torrent (BEP 52); v1 and hybrid v1/v2 torrents are supported");
    }
    return fail(errc::metainfo_missing_field, info, "info.pieces");
  }
  if (!pieces->is_string()) return fail(errc::metainfo_wrong_type, *pieces, "info.pieces");
  const byte_view hashes = pieces->as_bytes();
  if (hashes.size() % 20 != 0) return fail(errc::metainfo_invalid_value, *pieces, "info.pieces");

  // files: `files` wins over `length` when both are present, as in
  // parse-torrent and libtorrent.
  if (const auto files = info.find("files")) {
    if (auto e = parse_files(*files, lim, m)) return e;
  } else {
    const auto length = info.find("length");
    if (!length) return fail(errc::metainfo_missing_field, info, "info.length");
    if (!length->is_int()) return fail(errc::metainfo_wrong_type, *length, "info.length");
    if (length->as_int() < 0) return fail(errc::metainfo_invalid_value, *length, "info.length");
    file_entry entry;
    entry.components = {m.name};
    entry.length = length->as_int();
    m.total_length = entry.length;
    m.files.push_back(std::move(entry));
  }

  // ceil(total / piece length) hashes. A torrent of zero bytes has zero
  // pieces: consistent with the formula, and create-torrent makes such files.
  const std::int64_t expected =
      m.total_length == 0 ? 0 : (m.total_length - 1) / piece_length + 1;
  if (static_cast<std::uint64_t>(expected) != hashes.size() / 20) {
    return fail(errc::metainfo_invalid_value, *pieces, "info.pieces");
  }
  m.piece_hashes.resize(hashes.size() / 20);
  for (std::size_t i = 0; i < m.piece_hashes.size(); ++i) {
    std::memcpy(m.piece_hashes[i].data(), hashes.data() + i * 20, 20);
  }

  // BEP 27: any non-zero integer, as parse-torrent (!!private) and libtorrent.
  m.is_private = info.find_int("private").value_or(0) != 0;
  m.has_private_key = info.find("private").has_value();

  m.info_bytes.assign(info.raw().begin(), info.raw().end());
  m.info_hash = sha1(info.raw());
  return std::nullopt;
}

// Outer fields: skip what is malformed, keep what is usable.
void parse_outer(const node& root, metainfo& m) {
  if (auto a = root.find_string("announce")) m.announce = std::string(*a);

  if (auto tiers = root.find_list("announce-list")) {
    for (const node& tier : tiers->items()) {
      if (!tier.is_list()) continue;
      std::vector<std::string> urls;
      for (const node& url : tier.items()) {
        if (url.is_string() && !url.as_string().empty()) urls.emplace_back(url.as_string());
      }
      if (!urls.empty()) m.announce_list.push_back(std::move(urls));
    }
  }

  // url-list: one string or a list of strings; "" means none (some clients write that).
  if (auto one = root.find_string("url-list")) {
    if (!one->empty()) m.url_list.emplace_back(*one);
  } else if (auto many = root.find_list("url-list")) {
    std::set<std::string_view> seen;
    for (const node& url : many->items()) {
      if (url.is_string() && !url.as_string().empty() && seen.insert(url.as_string()).second) {
        m.url_list.emplace_back(url.as_string());
      }
    }
  }

  m.creation_date = root.find_int("creation date");
  if (auto c = root.find_string("comment")) m.comment = std::string(*c);
  if (auto c = root.find_string("created by")) m.created_by = std::string(*c);
}

result<bencode::document> decode_checked(byte_view input, const metainfo_limits& lim) {
  if (input.size() > lim.max_torrent_size) {
    return make_error(errc::metainfo_too_large, lim.max_torrent_size);
  }
  return bencode::decode(input, lim.bencode);
}

}  // namespace

result<metainfo> parse_metainfo(byte_view torrent, const metainfo_limits& lim) {
  auto doc = decode_checked(torrent, lim);
  if (!doc) return doc.err();
  const node root = doc->root();
  if (!root.is_dict()) return fail(errc::metainfo_not_a_dict, root, "");
  const auto info = root.find("info");
  if (!info) return fail(errc::metainfo_missing_field, root, "info");
  if (!info->is_dict()) return fail(errc::metainfo_wrong_type, *info, "info");

  metainfo m;
  if (auto e = parse_info(*info, lim, m)) return std::move(*e);
  parse_outer(root, m);
  return m;
}

result<metainfo> parse_info_dict(byte_view info, const metainfo_limits& lim) {
  auto doc = decode_checked(info, lim);
  if (!doc) return doc.err();
  const node root = doc->root();
  if (!root.is_dict()) return fail(errc::metainfo_not_a_dict, root, "info");
  metainfo m;
  if (auto e = parse_info(root, lim, m)) return std::move(*e);
  return m;
}

// --- accessors -------------------------------------------------------------------

std::string file_entry::name() const { return components.empty() ? std::string() : components.back(); }

std::int64_t metainfo::piece_size(piece_index p) const {
  const std::uint32_t count = piece_count();
  if (p.value >= count) return 0;
  if (p.value + 1 < count) return piece_length;
  return total_length - piece_length * (count - 1);
}

std::string metainfo::path(file_index f) const {
  if (f.value >= files.size()) return {};
  if (!multi_file) return name;
  std::string out = name;
  for (const std::string& c : files[f.value].components) {
    out += '/';
    out += c;
  }
  return out;
}

// parse-torrent's `announce`: the flattened announce-list when it has any
// URL, otherwise announce (BEP 12: announce-list supersedes announce), each
// URL once in first-seen order.
std::vector<std::string> metainfo::trackers() const {
  std::vector<std::string> out;
  std::set<std::string_view> seen;
  auto add = [&](const std::string& url) {
    if (!url.empty() && seen.insert(url).second) out.push_back(url);
  };
  if (!announce_list.empty()) {
    for (const auto& tier : announce_list) {
      for (const std::string& url : tier) add(url);
    }
  } else {
    add(announce);
  }
  return out;
}

byte_buffer make_torrent_file(const metainfo& m, const std::vector<std::string>& trackers,
                              const std::vector<std::string>& web_seeds) {
  return make_torrent_file(m, trackers, web_seeds,
                           m.has_private_key ? std::optional<bool>(m.is_private) : std::nullopt);
}

byte_buffer make_torrent_file(const metainfo& m, const std::vector<std::string>& trackers,
                              const std::vector<std::string>& web_seeds, std::optional<bool> private_flag) {
  // The keys that sort before "info", and those after it: the info dict goes in between
  // as received (its bytes define the info-hash).
  bencode::dict before;
  if (!trackers.empty()) before.emplace("announce", trackers.front());
  bencode::list tiers;
  for (const auto& url : trackers) tiers.emplace_back(bencode::list{bencode::value(url)});
  before.emplace("announce-list", std::move(tiers));
  if (!m.comment.empty()) before.emplace("comment", m.comment);
  if (!m.created_by.empty()) before.emplace("created by", m.created_by);
  if (m.creation_date && *m.creation_date != 0) before.emplace("creation date", *m.creation_date);
  bencode::dict after;
  if (private_flag) after.emplace("private", *private_flag ? 1 : 0);
  bencode::list seeds;
  for (const auto& url : web_seeds) seeds.emplace_back(url);
  after.emplace("url-list", std::move(seeds));

  byte_buffer out = bencode::encode(bencode::value(std::move(before)));
  out.pop_back();  // its 'e'
  const std::string key = "4:info";
  out.insert(out.end(), key.begin(), key.end());
  out.insert(out.end(), m.info_bytes.begin(), m.info_bytes.end());
  const byte_buffer tail = bencode::encode(bencode::value(std::move(after)));
  out.insert(out.end(), tail.begin() + 1, tail.end());  // without its 'd'
  return out;
}

// --- mapping ----------------------------------------------------------------------

std::vector<file_slice> map_block(const metainfo& m, piece_index piece, std::int64_t offset,
                                  std::int64_t length) {
  std::vector<file_slice> out;
  const std::int64_t size = m.piece_size(piece);
  // Out-of-range requests map to nothing; the range is clipped to the piece.
  if (offset < 0 || length <= 0 || offset >= size) return out;
  const std::int64_t start = std::int64_t{piece.value} * m.piece_length + offset;
  const std::int64_t stop = start + std::min(length, size - offset);

  // The first file that ends after `start` (file ends never decrease).
  auto it = std::partition_point(m.files.begin(), m.files.end(),
                                 [&](const file_entry& f) { return f.offset + f.length <= start; });
  for (std::int64_t pos = start; it != m.files.end() && pos < stop; ++it) {
    if (it->length == 0) continue;  // covers no bytes
    const std::int64_t file_end = it->offset + it->length;
    const std::int64_t take = std::min(stop, file_end) - pos;
    out.push_back(file_slice{file_index{static_cast<std::uint32_t>(it - m.files.begin())},
                             pos - it->offset, take});
    pos += take;
  }
  return out;
}

piece_span map_file(const metainfo& m, file_index file, std::int64_t offset) {
  if (file.value >= m.files.size() || m.piece_length <= 0 || offset < 0) return {};
  const std::int64_t at = m.files[file.value].offset + offset;
  return piece_span{piece_index{static_cast<std::uint32_t>(at / m.piece_length)}, at % m.piece_length};
}

bool is_safe_path_element(std::string_view element) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = std::min(element.find('/', start), element.size());
    const std::string_view part = element.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (part.find_first_of(std::string_view("\0\\", 2)) != std::string_view::npos) return false;
    // "C:" or "C:foo" is a drive path on Windows (the Node host may run there).
    const bool letter = (part[0] >= 'a' && part[0] <= 'z') || (part[0] >= 'A' && part[0] <= 'Z');
    if (part.size() >= 2 && letter && part[1] == ':') return false;
    if (slash == element.size()) return true;
    start = slash + 1;
  }
}

std::optional<piece_range> file_pieces(const metainfo& m, file_index file) {
  if (file.value >= m.files.size() || m.piece_length <= 0) return std::nullopt;
  const file_entry& f = m.files[file.value];
  if (f.length == 0) return std::nullopt;
  return piece_range{piece_index{static_cast<std::uint32_t>(f.offset / m.piece_length)},
                     piece_index{static_cast<std::uint32_t>((f.offset + f.length - 1) / m.piece_length)}};
}

}  // namespace wt
