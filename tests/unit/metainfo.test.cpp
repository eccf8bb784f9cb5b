#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "bencode/bencode.hpp"
#include "base/crypto.hpp"
#include "metainfo/metainfo.hpp"

namespace bc = wt::bencode;
using wt::errc;
using wt::file_index;
using wt::piece_index;

namespace {

constexpr std::int64_t kib16 = 16384;

std::string enc(const bc::value& v) {
  const wt::byte_buffer b = bc::encode(v);
  return std::string(wt::as_chars(b));
}

// n distinct 20-byte hashes for a torrent of `total` bytes.
std::string pieces_for(std::int64_t total, std::int64_t piece_length) {
  const std::int64_t n = total == 0 ? 0 : (total - 1) / piece_length + 1;
  std::string out;
  for (std::int64_t i = 0; i < n; ++i) out += std::string(20, static_cast<char>('A' + i % 26));
  return out;
}

bc::dict single_info(std::int64_t length = 40000, std::int64_t piece_length = kib16) {
  bc::dict info;
  info["name"] = "movie.mp4";
  info["length"] = length;
  info["piece length"] = piece_length;
  info["pieces"] = pieces_for(length, piece_length);
  return info;
}

bc::dict file_dict(std::int64_t length, std::vector<std::string> path, std::string attr = {}) {
  bc::dict f;
  f["length"] = length;
  bc::list p;
  for (auto& c : path) p.emplace_back(std::move(c));
  f["path"] = std::move(p);
  if (!attr.empty()) f["attr"] = std::move(attr);
  return f;
}

// Layout with piece length 16 KiB (total 54152 bytes, 4 pieces):
//   a     [0, 10000)       pieces 0
//   empty [10000, 10000)   none
//   b     [10000, 40000)   pieces 0-2
//   pad   [40000, 49152)   piece 2 (aligns c to a piece)
//   c     [49152, 54152)   piece 3, the short last piece
bc::dict multi_info() {
  bc::dict info;
  info["name"] = "folder";
  info["piece length"] = kib16;
  info["files"] = bc::list{
      file_dict(10000, {"a.txt"}),
      file_dict(0, {"sub", "empty"}),
      file_dict(30000, {"sub", "b.bin"}),
      file_dict(9152, {".pad", "9152"}, "p"),
      file_dict(5000, {"c.dat"}, "x"),
  };
  info["pieces"] = pieces_for(54152, kib16);
  return info;
}

std::string torrent_of(bc::dict info, bc::dict outer = {}) {
  outer["info"] = std::move(info);
  return enc(bc::value(std::move(outer)));
}

wt::result<wt::metainfo> parse(const std::string& t, const wt::metainfo_limits& lim = {}) {
  return wt::parse_metainfo(wt::as_bytes(t), lim);
}

// Offset of the value that follows `key` (an encoded key such as "6:length").
std::size_t value_at(const std::string& t, std::string_view key, std::size_t from = 0) {
  const std::size_t at = t.find(key, from);
  REQUIRE(at != std::string::npos);
  return at + key.size();
}

void require_error(const wt::result<wt::metainfo>& r, errc code, std::string_view context,
                   std::size_t position) {
  REQUIRE_FALSE(r.ok());
  INFO(r.err().message());
  CHECK(r.err().code == code);
  CHECK(r.err().context == context);
  CHECK(r.err().position == position);
}

std::vector<std::string> slices(const wt::metainfo& m, std::uint32_t piece, std::int64_t offset,
                                std::int64_t length) {
  std::vector<std::string> out;
  for (const auto& s : wt::map_block(m, piece_index{piece}, offset, length)) {
    out.push_back(std::to_string(s.file.value) + ":" + std::to_string(s.offset) + "+" +
                  std::to_string(s.length));
  }
  return out;
}

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("[metainfo] parses a single-file torrent", "[metainfo]") {
  bc::dict outer;
  outer["announce"] = "wss://tracker.example/announce";
  outer["comment"] = "a comment";
  outer["created by"] = "wasmtorrent";
  outer["creation date"] = 1700000000;
  outer["url-list"] = "https://seed.example/movie.mp4";
  const std::string t = torrent_of(single_info(), outer);
  auto r = parse(t);
  REQUIRE(r.ok());
  const wt::metainfo& m = *r;

  CHECK(m.name == "movie.mp4");
  CHECK_FALSE(m.multi_file);
  CHECK_FALSE(m.is_private);
  CHECK(m.piece_length == kib16);
  CHECK(m.total_length == 40000);
  CHECK(m.piece_count() == 3);
  CHECK(m.piece_hashes[0][0] == 'A');
  CHECK(m.piece_hashes[2][19] == 'C');
  REQUIRE(m.files.size() == 1);
  CHECK(m.files[0].components == strings{"movie.mp4"});
  CHECK(m.files[0].name() == "movie.mp4");
  CHECK(m.files[0].length == 40000);
  CHECK(m.files[0].offset == 0);
  CHECK(m.path(file_index{0}) == "movie.mp4");
  CHECK(m.path(file_index{1}).empty());
  CHECK(m.announce == "wss://tracker.example/announce");
  CHECK(m.comment == "a comment");
  CHECK(m.created_by == "wasmtorrent");
  CHECK(m.creation_date == 1700000000);
  CHECK(m.url_list == strings{"https://seed.example/movie.mp4"});
  CHECK(m.trackers() == strings{"wss://tracker.example/announce"});
}

TEST_CASE("[metainfo] parses a multi-file torrent", "[metainfo]") {
  bc::dict info = multi_info();
  info["private"] = 1;
  auto r = parse(torrent_of(std::move(info)));
  REQUIRE(r.ok());
  const wt::metainfo& m = *r;

  CHECK(m.multi_file);
  CHECK(m.is_private);
  CHECK(m.name == "folder");
  CHECK(m.total_length == 54152);
  CHECK(m.piece_count() == 4);
  REQUIRE(m.files.size() == 5);
  CHECK(m.files[1].components == strings{"sub", "empty"});
  CHECK(m.path(file_index{0}) == "folder/a.txt");
  CHECK(m.path(file_index{2}) == "folder/sub/b.bin");
  CHECK(m.files[2].name() == "b.bin");
  CHECK(m.files[2].offset == 10000);
  CHECK(m.files[3].offset == 40000);
  CHECK(m.files[4].offset == 49152);
  CHECK(m.files[3].pad);
  CHECK(m.files[3].attr == "p");
  CHECK_FALSE(m.files[4].pad);
  CHECK(m.files[4].attr == "x");
  CHECK_FALSE(m.files[0].pad);
  CHECK(m.trackers().empty());
  CHECK_FALSE(m.creation_date);

  SECTION("BitComet's pad files, known by name as libtorrent knows them, may share a path") {
    bc::dict i = multi_info();
    const std::string bitcomet = "_____padding_file_0_if you see this file, please update to BitComet 0.85 or above____";
    i["files"] = bc::list{
        file_dict(10000, {"a.txt"}),
        file_dict(6384, {bitcomet}),
        file_dict(16384, {"sub", "b.bin"}),
        file_dict(16384, {bitcomet}),
        file_dict(5000, {"c_____padding_file_.dat"}),  // contains the name: libtorrent's rule
        file_dict(1, {"_____padding_file"}),
    };
    i["pieces"] = pieces_for(54153, kib16);
    auto bc_parsed = parse(torrent_of(std::move(i)));
    REQUIRE(bc_parsed.ok());
    std::vector<bool> pads;
    for (const auto& f : bc_parsed->files) pads.push_back(f.pad);
    CHECK(pads == std::vector<bool>{false, true, false, true, true, false});
  }

  SECTION("private is any non-zero integer, absent or 0 is public") {
    bc::dict i0 = multi_info();
    i0["private"] = 0;
    CHECK_FALSE(parse(torrent_of(std::move(i0)))->is_private);
    bc::dict i2 = multi_info();
    i2["private"] = "1";  // not an integer: ignored
    CHECK_FALSE(parse(torrent_of(std::move(i2)))->is_private);
  }
}

TEST_CASE("[metainfo] info_hash is the SHA-1 of the info bytes as received", "[metainfo]") {
  bc::dict info = multi_info();
  info["x-unknown-key"] = bc::list{1, "kept in the hash"};
  const std::string info_enc = enc(bc::value(info));
  const std::string t = torrent_of(std::move(info));
  auto r = parse(t);
  REQUIRE(r.ok());
  CHECK(std::string(wt::as_chars(r->info_bytes)) == info_enc);
  CHECK(r->info_hash == wt::sha1(wt::as_bytes(info_enc)));
  CHECK(t.find(info_enc) == value_at(t, "4:info"));

  // ut_metadata delivers the info dict alone: same hash, same content.
  auto alone = wt::parse_info_dict(r->info_bytes);
  REQUIRE(alone.ok());
  CHECK(alone->info_hash == r->info_hash);
  CHECK(alone->files.size() == r->files.size());
  CHECK(alone->announce.empty());
}

TEST_CASE("[metainfo] prefers utf-8 names and paths", "[metainfo]") {
  bc::dict info = multi_info();
  info["name.utf-8"] = "dossier";
  bc::dict f = file_dict(10000, {"ignored"});
  f["path.utf-8"] = bc::list{"fichier.txt"};
  std::get<bc::list>(info["files"].v)[0] = f;
  auto r = parse(torrent_of(info));
  REQUIRE(r.ok());
  CHECK(r->name == "dossier");
  CHECK(r->path(file_index{0}) == "dossier/fichier.txt");

  SECTION("a utf-8 key of the wrong type falls back") {
    info["name.utf-8"] = 5;
    auto r2 = parse(torrent_of(info));
    REQUIRE(r2.ok());
    CHECK(r2->name == "folder");
  }
  SECTION("an unsafe utf-8 name is rejected with its own context") {
    info["name.utf-8"] = "..";
    const std::string t = torrent_of(info);
    require_error(parse(t), errc::metainfo_bad_path, "info.name.utf-8", value_at(t, "10:name.utf-8"));
  }
  SECTION("an unsafe path.utf-8 is rejected with its own context") {
    bc::dict g = file_dict(10000, {"fine"});
    g["path.utf-8"] = bc::list{"ok", ".."};
    std::get<bc::list>(info["files"].v)[0] = g;
    const std::string t = torrent_of(info);
    require_error(parse(t), errc::metainfo_bad_path, "info.files[0].path.utf-8", t.find("2:..e"));
  }
  SECTION("path.utf-8 alone is enough") {
    bc::dict g;
    g["length"] = 10000;
    g["path.utf-8"] = bc::list{"only-utf8"};
    std::get<bc::list>(info["files"].v)[0] = g;
    auto r3 = parse(torrent_of(info));
    REQUIRE(r3.ok());
    CHECK(r3->files[0].components == strings{"only-utf8"});
  }
}

TEST_CASE("[metainfo] rejects malformed torrents", "[metainfo]") {
  SECTION("not bencode, not a dict, no info") {
    auto r = parse("d4:info");
    require_error(r, errc::bencode_truncated, "", 7);
    require_error(parse("i1e"), errc::metainfo_not_a_dict, "", 0);
    require_error(parse("d3:fooi1ee"), errc::metainfo_missing_field, "info", 0);
    const std::string t = "d8:announce1:x4:infoi1ee";
    require_error(parse(t), errc::metainfo_wrong_type, "info", value_at(t, "4:info"));
  }
  SECTION("too large") {
    wt::metainfo_limits lim;
    lim.max_torrent_size = 10;
    require_error(parse(torrent_of(single_info()), lim), errc::metainfo_too_large, "", 10);
  }
}

TEST_CASE("[metainfo] validates the name", "[metainfo]") {
  const auto check_name = [](bc::value name, errc code) {
    bc::dict info = single_info();
    info["name"] = std::move(name);
    const std::string t = torrent_of(std::move(info));
    require_error(parse(t), code, "info.name", value_at(t, "4:name"));
  };
  SECTION("missing") {
    bc::dict info = single_info();
    info.erase("name");
    const std::string t = torrent_of(std::move(info));
    require_error(parse(t), errc::metainfo_missing_field, "info.name", value_at(t, "4:info"));
  }
  SECTION("wrong type") { check_name(bc::value(3), errc::metainfo_wrong_type); }
  SECTION("unsafe") {
    for (const std::string bad : {"", ".", "..", "/abs", "a/", "a//b", "a/../b", "a/..", "x/C:", "a\\b", "C:", "c:\\x"}) {
      INFO("name: " << bad);
      check_name(bc::value(bad), errc::metainfo_bad_path);
    }
    check_name(bc::value(std::string("a\0b", 3)), errc::metainfo_bad_path);
  }
  SECTION("safe names with dots") {
    // A '/' inside a name is a folder separator, each part safe (create-torrent makes such
    // names, as WebTorrent's store takes them).
    for (const std::string good : {"...", ".hidden", "a..b", "movie.mp4", "1:", "AC/DC - Live.bin", "a/b/c"}) {
      bc::dict info = single_info();
      info["name"] = good;
      CHECK(parse(torrent_of(std::move(info))).ok());
    }
  }
}

TEST_CASE("[metainfo] validates piece length and pieces", "[metainfo]") {
  const auto check_pl = [](bc::value pl, errc code, const wt::metainfo_limits& lim = {}) {
    bc::dict info = single_info();
    info["piece length"] = std::move(pl);
    const std::string t = torrent_of(std::move(info));
    require_error(parse(t, lim), code, "info.piece length", value_at(t, "12:piece length"));
  };
  SECTION("piece length") {
    check_pl(bc::value("16384"), errc::metainfo_wrong_type);
    check_pl(bc::value(0), errc::metainfo_invalid_value);
    check_pl(bc::value(-16384), errc::metainfo_invalid_value);
    check_pl(bc::value(-1), errc::metainfo_invalid_value);
    check_pl(bc::value(std::int64_t{1} << 29), errc::metainfo_too_large);
    wt::metainfo_limits lim;
    lim.max_piece_length = kib16;
    check_pl(bc::value(2 * kib16), errc::metainfo_too_large, lim);
    bc::dict info = single_info();
    info.erase("piece length");
    const std::string t = torrent_of(std::move(info));
    require_error(parse(t), errc::metainfo_missing_field, "info.piece length", value_at(t, "4:info"));
  }
  SECTION("pieces") {
    const auto check_pieces = [](bc::value pieces, errc code) {
      bc::dict info = single_info();
      info["pieces"] = std::move(pieces);
      const std::string t = torrent_of(std::move(info));
      require_error(parse(t), code, "info.pieces", value_at(t, "6:pieces"));
    };
    check_pieces(bc::value(1), errc::metainfo_wrong_type);
    check_pieces(bc::value(std::string(59, 'x')), errc::metainfo_invalid_value);  // not 20*n
    check_pieces(bc::value(std::string(40, 'x')), errc::metainfo_invalid_value);  // too few
    check_pieces(bc::value(std::string(80, 'x')), errc::metainfo_invalid_value);  // too many
    check_pieces(bc::value(std::string()), errc::metainfo_invalid_value);
    bc::dict info = single_info();
    info.erase("pieces");
    const std::string t = torrent_of(bc::dict(info));
    require_error(parse(t), errc::metainfo_missing_field, "info.pieces", value_at(t, "4:info"));
    // A v2-only torrent (BEP 52: "meta version" 2, no pieces) says so.
    info["meta version"] = 2;
    const std::string v2 = torrent_of(std::move(info));
    require_error(parse(v2), errc::metainfo_missing_field,
                  "info.pieces: a BitTorrent v2-only torrent (BEP 52); v1 and hybrid v1/v2 torrents are supported",
                  value_at(v2, "4:info"));
  }
}

TEST_CASE("[metainfo] validates lengths", "[metainfo]") {
  SECTION("single-file length") {
    bc::dict info = single_info();
    info.erase("length");
    std::string t = torrent_of(info);
    require_error(parse(t), errc::metainfo_missing_field, "info.length", value_at(t, "4:info"));
    info["length"] = "40000";
    t = torrent_of(info);
    require_error(parse(t), errc::metainfo_wrong_type, "info.length", value_at(t, "6:length"));
    info["length"] = -1;
    t = torrent_of(info);
    require_error(parse(t), errc::metainfo_invalid_value, "info.length", value_at(t, "6:length"));
  }
  SECTION("files wins over length when both are present") {
    bc::dict info = multi_info();
    info["length"] = 5;
    auto r = parse(torrent_of(std::move(info)));
    REQUIRE(r.ok());
    CHECK(r->multi_file);
    CHECK(r->total_length == 54152);
  }
  SECTION("total length overflow") {
    const std::int64_t big = std::numeric_limits<std::int64_t>::max() - 10;
    bc::dict info = multi_info();
    info["files"] = bc::list{file_dict(big, {"x"}), file_dict(11, {"y"})};
    const std::string t = torrent_of(std::move(info));
    const std::size_t second = t.find("d6:lengthi11e");
    require_error(parse(t), errc::metainfo_too_large, "info.files[1].length", second + 9);
  }
}

TEST_CASE("[metainfo] validates files and paths", "[metainfo]") {
  const auto with_files = [](bc::list files) {
    bc::dict info = multi_info();
    info["files"] = std::move(files);
    return torrent_of(std::move(info));
  };
  const bc::dict ok_file = file_dict(54152, {"ok"});

  SECTION("files container") {
    bc::dict info = multi_info();
    info["files"] = "nope";
    std::string t = torrent_of(info);
    require_error(parse(t), errc::metainfo_wrong_type, "info.files", value_at(t, "5:files"));
    t = with_files({});
    require_error(parse(t), errc::metainfo_invalid_value, "info.files", value_at(t, "5:files"));
    t = with_files({ok_file, 7});
    require_error(parse(t), errc::metainfo_wrong_type, "info.files[1]", t.find("i7e"));
  }
  SECTION("file length") {
    bc::dict f;
    f["path"] = bc::list{"x"};
    std::string t = with_files({ok_file, f});
    require_error(parse(t), errc::metainfo_missing_field, "info.files[1].length",
                  t.find("d4:pathl1:xee"));
    f["length"] = -5;
    t = with_files({ok_file, f});
    require_error(parse(t), errc::metainfo_invalid_value, "info.files[1].length", t.find("i-5e"));
    f["length"] = "5";
    t = with_files({ok_file, f});
    require_error(parse(t), errc::metainfo_wrong_type, "info.files[1].length",
                  t.find("d6:length1:5") + 9);
  }
  SECTION("path shape") {
    bc::dict f;
    f["length"] = 0;
    std::string t = with_files({ok_file, f});
    require_error(parse(t), errc::metainfo_missing_field, "info.files[1].path", t.find("d6:lengthi0ee"));
    f["path"] = "a/b";
    t = with_files({ok_file, f});
    require_error(parse(t), errc::metainfo_wrong_type, "info.files[1].path", t.find("3:a/b"));
    f["path"] = bc::list{};
    t = with_files({ok_file, f});
    require_error(parse(t), errc::metainfo_bad_path, "info.files[1].path", value_at(t, "4:path", t.find("d6:lengthi0e")));
    f["path"] = bc::list{"dir", 5};
    t = with_files({ok_file, f});
    require_error(parse(t), errc::metainfo_wrong_type, "info.files[1].path", t.find("i5e"));
  }
  SECTION("two files on one path, or a file where another's folder is, are refused; pad files may share one") {
    std::string t = with_files({ok_file, file_dict(10, {"d", "a"}), file_dict(20, {"d", "a"})});
    auto r = parse(t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::metainfo_bad_path);
    CHECK(r.err().context == "info.files[2].path: the same path as info.files[1]");
    // The same, written with a '/' inside a component.
    CHECK(parse(with_files({ok_file, file_dict(10, {"d", "a"}), file_dict(20, {"d/a"})})).err().context ==
          "info.files[2].path: the same path as info.files[1]");
    CHECK(parse(with_files({ok_file, file_dict(10, {"d", "a"}), file_dict(20, {"d", "a", "b"})})).err().context ==
          "info.files[2].path: a folder where another file is");
    CHECK(parse(with_files({ok_file, file_dict(10, {"d", "a", "b"}), file_dict(20, {"d", "a"})})).err().context ==
          "info.files[2].path: a file where another file's folder is");
    CHECK(parse(with_files({ok_file, file_dict(10, {"d", "a-b"}), file_dict(20, {"d", "a", "b"})})).ok());
    bc::dict pad1 = file_dict(10, {".pad", "10"});
    pad1["attr"] = "p";
    bc::dict pad2 = pad1;
    CHECK(parse(with_files({ok_file, pad1, file_dict(5, {"x"}), pad2})).ok());
  }
  SECTION("a '/' inside a component is a folder separator") {
    const auto r = parse(with_files({ok_file, file_dict(0, {"p/q.bin"})}));
    REQUIRE(r.ok());
    CHECK(r->path(wt::file_index{1}).ends_with("/p/q.bin"));
  }
  SECTION("unsafe components") {
    for (const std::string& bad :
         strings{"..", ".", "", "a//b", "/a", "a/", "a/..", "a\\b", "C:", "b/C:", std::string("n\0l", 3)}) {
      INFO("component: " << bad);
      const std::string marker = "zzmarker";
      const std::string t = with_files({ok_file, file_dict(0, {marker, bad})});
      const std::size_t comp = t.find(marker) + marker.size();
      require_error(parse(t), errc::metainfo_bad_path, "info.files[1].path", comp);
    }
  }
  SECTION("limits") {
    wt::metainfo_limits lim;
    lim.max_files = 2;
    std::string t = with_files({ok_file, file_dict(0, {"b"}), file_dict(0, {"c"})});
    require_error(parse(t, lim), errc::metainfo_too_large, "info.files", value_at(t, "5:files"));
    CHECK(parse(with_files({ok_file, file_dict(0, {"b"})}), lim).ok());

    lim = {};
    lim.max_path_components = 2;
    t = with_files({ok_file, file_dict(0, {"a", "b", "c"})});
    require_error(parse(t, lim), errc::metainfo_too_large, "info.files[1].path", t.find("l1:a1:b1:ce"));

    lim = {};
    lim.max_path_length = 12;  // "folder/ab/cd" fits, "folder/ab/cde" does not
    CHECK(parse(with_files({ok_file, file_dict(0, {"ab", "cd"})}), lim).ok());
    t = with_files({ok_file, file_dict(0, {"ab", "cde"})});
    require_error(parse(t, lim), errc::metainfo_too_large, "info.files[1].path", t.find("3:cde"));
  }
}

TEST_CASE("[metainfo] parse_info_dict positions are relative to the info dict", "[metainfo]") {
  require_error(wt::parse_info_dict(wt::as_bytes(std::string_view("le"))), errc::metainfo_not_a_dict,
                "info", 0);
  bc::dict info = single_info();
  info["piece length"] = 0;
  const std::string i = enc(bc::value(info));
  require_error(wt::parse_info_dict(wt::as_bytes(i)), errc::metainfo_invalid_value,
                "info.piece length", value_at(i, "12:piece length"));
}

TEST_CASE("[metainfo] outer fields are parsed tolerantly", "[metainfo]") {
  SECTION("announce-list: tiers flattened, malformed entries skipped") {
    bc::dict outer;
    outer["announce"] = "udp://a/announce";
    outer["announce-list"] =
        bc::list{bc::list{"wss://t1", "wss://t2"}, bc::value("not a tier"), bc::list{},
                 bc::list{5, "", "wss://t3", "wss://t1"}};
    auto r = parse(torrent_of(single_info(), outer));
    REQUIRE(r.ok());
    REQUIRE(r->announce_list.size() == 2);
    CHECK(r->announce_list[0] == strings{"wss://t1", "wss://t2"});
    CHECK(r->announce_list[1] == strings{"wss://t3", "wss://t1"});
    // parse-torrent: announce-list supersedes announce; duplicates once, first seen.
    CHECK(r->trackers() == strings{"wss://t1", "wss://t2", "wss://t3"});
    CHECK(r->announce == "udp://a/announce");
  }
  SECTION("announce alone, or when announce-list has nothing usable") {
    bc::dict outer;
    outer["announce"] = "wss://only";
    outer["announce-list"] = bc::list{bc::list{}, 3};
    auto r = parse(torrent_of(single_info(), outer));
    REQUIRE(r.ok());
    CHECK(r->announce_list.empty());
    CHECK(r->trackers() == strings{"wss://only"});
  }
  SECTION("wrong types are ignored") {
    bc::dict outer;
    outer["announce"] = 1;
    outer["announce-list"] = "wss://x";
    outer["url-list"] = 3;
    outer["creation date"] = "yesterday";
    outer["comment"] = bc::list{};
    outer["created by"] = bc::dict{};
    auto r = parse(torrent_of(single_info(), outer));
    REQUIRE(r.ok());
    CHECK(r->announce.empty());
    CHECK(r->announce_list.empty());
    CHECK(r->url_list.empty());
    CHECK_FALSE(r->creation_date);
    CHECK(r->comment.empty());
    CHECK(r->created_by.empty());
    CHECK(r->trackers().empty());
  }
  SECTION("url-list: list deduplicated, empty string means none") {
    bc::dict outer;
    outer["url-list"] = bc::list{"https://a/", "https://b/", "https://a/", 7, ""};
    auto r = parse(torrent_of(single_info(), outer));
    REQUIRE(r.ok());
    CHECK(r->url_list == strings{"https://a/", "https://b/"});
    outer["url-list"] = "";
    CHECK(parse(torrent_of(single_info(), outer))->url_list.empty());
  }
}

TEST_CASE("[metainfo] zero-length files and torrents", "[metainfo]") {
  SECTION("a torrent of zero bytes has zero pieces") {
    auto r = parse(torrent_of(single_info(0)));
    REQUIRE(r.ok());
    CHECK(r->piece_count() == 0);
    CHECK(r->total_length == 0);
    CHECK(r->piece_size(piece_index{0}) == 0);
    CHECK(wt::map_block(*r, piece_index{0}, 0, 10).empty());
    CHECK_FALSE(wt::file_pieces(*r, file_index{0}));
    bc::dict info = single_info(0);
    info["pieces"] = std::string(20, 'x');
    const std::string t = torrent_of(std::move(info));
    require_error(parse(t), errc::metainfo_invalid_value, "info.pieces", value_at(t, "6:pieces"));
  }
  SECTION("multi-file, every file empty") {
    bc::dict info = multi_info();
    info["files"] = bc::list{file_dict(0, {"a"}), file_dict(0, {"b"})};
    info["pieces"] = "";
    auto r = parse(torrent_of(std::move(info)));
    REQUIRE(r.ok());
    CHECK(r->piece_count() == 0);
    CHECK(r->files[1].offset == 0);
  }
}

TEST_CASE("[metainfo] piece sizes and the last short piece", "[metainfo]") {
  auto r = parse(torrent_of(single_info(40000)));
  REQUIRE(r.ok());
  CHECK(r->piece_size(piece_index{0}) == kib16);
  CHECK(r->piece_size(piece_index{1}) == kib16);
  CHECK(r->piece_size(piece_index{2}) == 40000 - 2 * kib16);
  CHECK(r->piece_size(piece_index{3}) == 0);

  auto exact = parse(torrent_of(single_info(2 * kib16)));
  REQUIRE(exact.ok());
  CHECK(exact->piece_count() == 2);
  CHECK(exact->piece_size(piece_index{1}) == kib16);

  auto one = parse(torrent_of(single_info(1)));
  REQUIRE(one.ok());
  CHECK(one->piece_count() == 1);
  CHECK(one->piece_size(piece_index{0}) == 1);
}

TEST_CASE("[metainfo] any positive piece length, as BEP 3 and create-torrent allow", "[metainfo]") {
  SECTION("5 bytes: pieces far smaller than a block") {
    auto r = parse(torrent_of(single_info(12, 5)));
    REQUIRE(r.ok());
    CHECK(r->piece_length == 5);
    CHECK(r->piece_count() == 3);
    CHECK(r->piece_size(piece_index{0}) == 5);
    CHECK(r->piece_size(piece_index{2}) == 2);
    CHECK(slices(*r, 1, 0, 5) == strings{"0:5+5"});
    const auto at = wt::map_file(*r, file_index{0}, 11);
    CHECK(at.piece == piece_index{2});
    CHECK(at.offset == 1);
  }
  SECTION("20000 bytes: not a multiple of a block") {
    auto r = parse(torrent_of(single_info(50000, 20000)));
    REQUIRE(r.ok());
    CHECK(r->piece_count() == 3);
    CHECK(r->piece_size(piece_index{2}) == 10000);
    CHECK(slices(*r, 1, 16384, 3616) == strings{"0:36384+3616"});
  }
  SECTION("1 byte") {
    auto r = parse(torrent_of(single_info(3, 1)));
    REQUIRE(r.ok());
    CHECK(r->piece_count() == 3);
  }
}

TEST_CASE("[metainfo] map_block across files and piece boundaries", "[metainfo]") {
  auto r = parse(torrent_of(multi_info()));
  REQUIRE(r.ok());
  const wt::metainfo& m = *r;

  SECTION("whole pieces") {
    CHECK(slices(m, 0, 0, kib16) == strings{"0:0+10000", "2:0+6384"});
    CHECK(slices(m, 1, 0, kib16) == strings{"2:6384+16384"});
    CHECK(slices(m, 2, 0, kib16) == strings{"2:22768+7232", "3:0+9152"});
    CHECK(slices(m, 3, 0, kib16) == strings{"4:0+5000"});  // clipped to the short piece
  }
  SECTION("blocks straddling a file boundary skip empty files") {
    CHECK(slices(m, 0, 9999, 2) == strings{"0:9999+1", "2:0+1"});
    CHECK(slices(m, 0, 10000, 1) == strings{"2:0+1"});
    CHECK(slices(m, 0, 9999, 1) == strings{"0:9999+1"});
  }
  SECTION("the last byte of a piece and of the torrent") {
    CHECK(slices(m, 1, kib16 - 1, 1) == strings{"2:22767+1"});
    CHECK(slices(m, 3, 4999, 100) == strings{"4:4999+1"});
  }
  SECTION("out of range maps to nothing") {
    CHECK(slices(m, 4, 0, 1).empty());
    CHECK(slices(m, 3, 5000, 1).empty());
    CHECK(slices(m, 0, -1, 10).empty());
    CHECK(slices(m, 0, 0, 0).empty());
    CHECK(slices(m, 0, kib16, 1).empty());
  }
  SECTION("slices cover the piece exactly") {
    for (std::uint32_t p = 0; p < m.piece_count(); ++p) {
      std::int64_t sum = 0;
      for (const auto& s : wt::map_block(m, piece_index{p}, 0, kib16)) sum += s.length;
      CHECK(sum == m.piece_size(piece_index{p}));
    }
  }
}

TEST_CASE("[metainfo] map_file and file_pieces", "[metainfo]") {
  auto r = parse(torrent_of(multi_info()));
  REQUIRE(r.ok());
  const wt::metainfo& m = *r;

  SECTION("map_file") {
    const auto b0 = wt::map_file(m, file_index{2}, 0);
    CHECK(b0.piece == piece_index{0});
    CHECK(b0.offset == 10000);
    const auto b1 = wt::map_file(m, file_index{2}, 6384);
    CHECK(b1.piece == piece_index{1});
    CHECK(b1.offset == 0);
    const auto c = wt::map_file(m, file_index{4}, 4999);
    CHECK(c.piece == piece_index{3});
    CHECK(c.offset == 4999);
    const auto bad = wt::map_file(m, file_index{9}, 0);
    CHECK(bad.piece == piece_index{0});
    CHECK(bad.offset == 0);
  }
  SECTION("file_pieces") {
    const auto a = wt::file_pieces(m, file_index{0});
    REQUIRE(a);
    CHECK(a->first == piece_index{0});
    CHECK(a->last == piece_index{0});
    CHECK_FALSE(wt::file_pieces(m, file_index{1}));  // empty file
    const auto b = wt::file_pieces(m, file_index{2});
    REQUIRE(b);
    CHECK(b->first == piece_index{0});
    CHECK(b->last == piece_index{2});
    const auto pad = wt::file_pieces(m, file_index{3});
    REQUIRE(pad);
    CHECK(pad->first == piece_index{2});
    CHECK(pad->last == piece_index{2});
    const auto c = wt::file_pieces(m, file_index{4});
    REQUIRE(c);
    CHECK(c->first == piece_index{3});
    CHECK(c->last == piece_index{3});
    CHECK_FALSE(wt::file_pieces(m, file_index{5}));
  }
}

TEST_CASE("[metainfo] make_torrent_file wraps an info dict with its trackers and web seeds", "[metainfo]") {
  bc::dict info = multi_info();
  info["x-unknown-key"] = "kept";  // the info bytes go in untouched
  const std::string info_enc = enc(bc::value(info));
  auto from_info = wt::parse_info_dict(wt::as_bytes(info_enc));
  REQUIRE(from_info.ok());
  const std::vector<std::string> trackers{"wss://a.example/announce", "ws://127.0.0.1:8000"};
  const std::vector<std::string> seeds{"http://127.0.0.1:9/a", "http://127.0.0.1:9/b"};
  const wt::byte_buffer file = wt::make_torrent_file(*from_info, trackers, seeds);
  auto r = wt::parse_metainfo(file);
  REQUIRE(r.ok());
  CHECK(std::string(wt::as_chars(r->info_bytes)) == info_enc);
  CHECK(r->info_hash == wt::sha1(wt::as_bytes(info_enc)));
  CHECK(r->announce == trackers[0]);
  CHECK(r->trackers() == trackers);
  CHECK(r->announce_list.size() == 2);
  CHECK(r->url_list == seeds);

  // As parse-torrent's toTorrentFile writes it: announce-list and url-list even when empty.
  const wt::byte_buffer bare = wt::make_torrent_file(*from_info, {}, {});
  CHECK(std::string(wt::as_chars(bare)) == "d13:announce-listle4:info" + info_enc + "8:url-listlee");

  SECTION("a whole .torrent: comment, created by, creation date and private kept, other keys not") {
    bc::dict top;
    bc::dict priv = multi_info();
    priv["private"] = 1;
    const std::string priv_enc = enc(bc::value(priv));
    top["info"] = priv;
    top["comment"] = "c";
    top["created by"] = "me";
    top["creation date"] = 1234;
    top["encoding"] = "UTF-8";
    top["announce"] = "ws://old.example";
    auto m = wt::parse_metainfo(wt::as_bytes(enc(bc::value(top))));
    REQUIRE(m.ok());
    const wt::byte_buffer out = wt::make_torrent_file(*m, {"ws://new.example"}, {});
    CHECK(std::string(wt::as_chars(out)) ==
          "d8:announce16:ws://new.example13:announce-listll16:ws://new.exampleee7:comment1:c"
          "10:created by2:me13:creation datei1234e4:info" + priv_enc + "7:privatei1e8:url-listlee");
  }

  SECTION("private as parse-torrent's toTorrentFile writes it: the info's own 0 too, or the given flag") {
    bc::dict zero = multi_info();
    zero["private"] = 0;
    auto m = wt::parse_info_dict(wt::as_bytes(enc(bc::value(zero))));
    REQUIRE(m.ok());
    CHECK(m->has_private_key);
    CHECK_FALSE(m->is_private);
    CHECK(std::string(wt::as_chars(wt::make_torrent_file(*m, {}, {}))).ends_with("7:privatei0e8:url-listlee"));
    CHECK_FALSE(from_info->has_private_key);
    CHECK(std::string(wt::as_chars(wt::make_torrent_file(*from_info, {}, {}, true))).ends_with("7:privatei1e8:url-listlee"));
  }
}
