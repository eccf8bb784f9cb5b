#include <catch2/catch.hpp>

#include <string>

#include "metainfo/metainfo.hpp"

using namespace wt;

namespace {

// The same bytes the create-torrent cross-check script fed to npm create-torrent.
std::string sample(std::size_t n, int seed) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(static_cast<char>((i * 31 + static_cast<std::size_t>(seed) * 7 + i / 251) & 0xff));
  }
  return s;
}

struct spec {
  std::string path;
  std::size_t size;
  int seed;
};

struct fixture {
  std::vector<std::string> data;
  std::vector<input_file> files;

  explicit fixture(const std::vector<spec>& specs) {
    data.reserve(specs.size());
    for (const auto& s : specs) data.push_back(sample(s.size, s.seed));
    for (std::size_t i = 0; i < specs.size(); ++i) files.push_back({specs[i].path, as_bytes(data[i])});
  }
};

create_options plain_options() {
  create_options o;
  o.created_by.clear();  // create-torrent writes no "created by" unless asked
  return o;
}

byte_buffer create_ok(const fixture& f, const create_options& o) {
  auto r = create_torrent(f.files, o);
  if (!r) INFO(r.err().message());
  REQUIRE(r.ok());
  return r.value();
}

std::string info_hash_hex(const byte_buffer& torrent) {
  auto doc = bencode::decode(torrent);
  REQUIRE(doc.ok());
  const auto info = doc->root().find_dict("info");
  REQUIRE(info);
  return to_hex(sha1(info->raw()));
}

metainfo parse_ok(const byte_buffer& torrent) {
  auto m = parse_metainfo(torrent);
  if (!m) INFO(m.err().message());
  REQUIRE(m.ok());
  return m.value();
}

}  // namespace

TEST_CASE("[create_torrent] default piece length follows npm piece-length and create-torrent", "[create_torrent]") {
  struct row {
    std::int64_t total;
    std::int64_t piece;
  };
  // Boundaries computed with node: Math.min(pieceLength(total), 4 MiB).
  const row rows[] = {
      {0, 16384},
      {1, 16384},
      {1023, 16384},
      {1024, 16384},
      {16 << 20, 16384},
      {23726566, 16384},
      {23726567, 32768},
      {47453132, 32768},
      {47453133, 65536},
      {94906265, 65536},
      {94906266, 131072},
      {189812531, 131072},
      {189812532, 262144},
      {379625062, 262144},
      {379625063, 524288},
      {759250124, 524288},
      {759250125, 1048576},
      {1518500249, 1048576},
      {1518500250, 2097152},
      {3037000499, 2097152},
      {3037000500, 4194304},
      {6074001000, 4194304},  // capped at 4 MiB (create-torrent's maxPieceLength)
      {std::int64_t{1} << 40, 4194304},
      // In JS, 1 << 31 is negative, so piece-length falls back to 16 KiB here.
      {1554944255987, 4194304},
      {1554944255988, 16384},
      {3109888511976, 16384},
  };
  for (const auto& r : rows) {
    INFO(r.total);
    REQUIRE(default_piece_length(r.total) == r.piece);
  }
}

TEST_CASE("[create_torrent] matches npm create-torrent info-hashes", "[create_torrent]") {
  // Info-hashes printed by npm create-torrent 6.1.3 for File inputs with these
  // names and contents.
  SECTION("single file: named after the file") {
    fixture f({{"movie.mp4", 100000, 1}});
    const auto t = create_ok(f, plain_options());
    REQUIRE(info_hash_hex(t) == "e3404fed2857748f21742ab0c1a7733997acd429");
  }
  SECTION("common directory becomes the name; input order is kept") {
    fixture f({{"dir/b.txt", 10000, 1}, {"dir/a.txt", 30000, 2}, {"dir/sub/c", 5, 3}});
    const auto t = create_ok(f, plain_options());
    REQUIRE(info_hash_hex(t) == "52333b5115359143ab32b733c3ff7a31ef843e5e");
  }
  SECTION("no common directory; an empty file is listed") {
    fixture f({{"x.txt", 20000, 1}, {"y/z.txt", 0, 2}, {"w", 16384, 3}});
    const auto t = create_ok(f, plain_options());
    REQUIRE(info_hash_hex(t) == "37fa17a7f49a17f0a9e889a139528d8f70d886f2");
  }
  SECTION("hidden junk files are dropped") {
    fixture f({{"d/a", 70000, 1}, {"d/._a", 10, 2}, {"d/b~", 3, 3}, {"d/.x.swp", 3, 3},
               {"d/.keep", 1, 1}});
    const auto t = create_ok(f, plain_options());
    REQUIRE(info_hash_hex(t) == "a6340e287438c59573d788379fb0c2381129c59b");
  }
  SECTION("any piece length: 5 bytes, and 20000 (not a multiple of a block)") {
    fixture tiny({{"tiny.bin", 12, 1}});
    create_options o = plain_options();
    o.piece_length = 5;
    const auto t = create_ok(tiny, o);
    REQUIRE(info_hash_hex(t) == "db228d1a7f1f280d1586f276d889596a424b0b71");
    const auto m = parse_ok(t);
    REQUIRE(m.piece_length == 5);
    REQUIRE(m.piece_count() == 3);
    fixture odd({{"odd.bin", 50000, 2}});
    o.piece_length = 20000;
    REQUIRE(info_hash_hex(create_ok(odd, o)) == "1cdc79ccb7f5f2ab781d431d27115375aba1f6ec");
  }
  SECTION("a folder holding one file stays a folder (multi_file), as create-torrent makes of a folder's path") {
    fixture f({{"dir/sub/only.bin", 40000, 3}});
    create_options o = plain_options();
    o.multi_file = true;
    const auto t = create_ok(f, o);
    REQUIRE(info_hash_hex(t) == "0271f8ef9ce984c4e7ecc42d25654ae7c7855a2a");
    const auto m = parse_ok(t);
    REQUIRE(m.multi_file);
    REQUIRE(m.name == "dir");
    REQUIRE(m.path(file_index{0}) == "dir/sub/only.bin");
    fixture g({{"dir2/one.bin", 1000, 4}});
    REQUIRE(info_hash_hex(create_ok(g, o)) == "186ac11ccf7d034f579730b9bdea7828736d8b1a");
    // Without the flag the same file is a single-file torrent named after it.
    REQUIRE_FALSE(parse_ok(create_ok(g, plain_options())).multi_file);
  }
  SECTION("every option: the whole file is byte-identical") {
    fixture f({{"single/dir/f.bin", 40000, 1}});
    create_options o;
    o.name = "Named";
    o.piece_length = 32768;
    o.is_private = true;
    o.info_extra.emplace("source", "SRC");
    o.announce_list = {{"wss://a.example", "udp://b:1"}, {"wss://c"}};
    o.url_list = {"https://w/"};
    o.comment = "hi";
    o.created_by = "wasmtorrent";
    o.creation_date = 1700000000;
    const auto t = create_ok(f, o);
    REQUIRE(info_hash_hex(t) == "671d7bceb5885c89d08bd9e88a4585542e8b46cd");
    REQUIRE(to_hex(t) ==
            "64383a616e6e6f756e636531353a7773733a2f2f612e6578616d706c6531333a616e6e6f756e63652d"
            "6c6973746c6c31353a7773733a2f2f612e6578616d706c65393a7564703a2f2f623a31656c373a7773"
            "733a2f2f636565373a636f6d6d656e74323a686931303a6372656174656420627931313a7761736d74"
            "6f7272656e7431333a6372656174696f6e2064617465693137303030303030303065383a656e636f64"
            "696e67353a5554462d38343a696e666f64363a6c656e67746869343030303065343a6e616d65353a4e"
            "616d656431323a7069656365206c656e67746869333237363865363a70696563657334303ae7421af9"
            "9b0de0a6d7ee2c9aea968807b83fef9df4b183edd7546cf5057a4bd0d329dc658d48b24c373a707269"
            "76617465693165363a736f75726365333a53524365383a75726c2d6c6973746c31303a68747470733a"
            "2f2f772f6565");
  }
}

TEST_CASE("[create_torrent] layout and fields", "[create_torrent]") {
  SECTION("no creation date, no trackers, no url-list unless given") {
    fixture f({{"a.txt", 10, 1}});
    const auto t = create_ok(f, plain_options());
    auto doc = bencode::decode(t);
    REQUIRE(doc.ok());
    const auto root = doc->root();
    REQUIRE_FALSE(root.find("creation date"));
    REQUIRE_FALSE(root.find("announce"));
    REQUIRE_FALSE(root.find("announce-list"));
    REQUIRE_FALSE(root.find("url-list"));
    REQUIRE_FALSE(root.find("comment"));
    REQUIRE_FALSE(root.find("created by"));
    REQUIRE(root.find_string("encoding") == "UTF-8");
    const auto info = root.find_dict("info").value();
    REQUIRE_FALSE(info.find("private"));
    REQUIRE_FALSE(info.find("source"));
    REQUIRE_FALSE(info.find("files"));
    REQUIRE(info.find_int("length") == 10);
  }
  SECTION("created by defaults to wasmtorrent") {
    fixture f({{"a.txt", 10, 1}});
    auto doc_bytes = create_ok(f, create_options{});
    auto doc = bencode::decode(doc_bytes);
    REQUIRE(doc->root().find_string("created by") == "wasmtorrent");
  }
  SECTION("a single file keeps only its last component, as the name") {
    fixture f({{"deep/er/file.bin", 10, 1}});
    const auto m = parse_ok(create_ok(f, plain_options()));
    REQUIRE_FALSE(m.multi_file);
    REQUIRE(m.name == "file.bin");
  }
  SECTION("junk removal can leave one file: single-file, named after the directory") {
    fixture f({{"dir/a.txt", 1000, 1}, {"dir/.DS_Store", 10, 2}});
    const auto m = parse_ok(create_ok(f, plain_options()));
    REQUIRE_FALSE(m.multi_file);
    REQUIRE(m.name == "dir");
    REQUIRE(m.total_length == 1000);
  }
  SECTION("filter_junk off (create-torrent's filterJunkFiles: false) keeps hidden junk") {
    fixture f({{"d/a", 70000, 1}, {"d/._a", 10, 2}, {"d/.DS_Store", 3, 3}});
    create_options o = plain_options();
    o.filter_junk = false;
    const auto m = parse_ok(create_ok(f, o));
    REQUIRE(m.files.size() == 3);
    REQUIRE(m.total_length == 70013);
    REQUIRE(parse_ok(create_ok(f, plain_options())).files.size() == 1);
  }
  SECTION("info_extra (create-torrent's opts.info, sslCert): more keys; name and private replaced, the pieces not") {
    fixture f({{"a.bin", 40000, 1}});
    create_options o = plain_options();
    o.is_private = false;
    o.info_extra.emplace("x-cross-seed", "tracker-1");
    o.info_extra.emplace("name", "renamed");
    o.info_extra.emplace("private", 1);
    o.info_extra.emplace("pieces", "not the pieces");
    o.info_extra.emplace("length", 1);
    auto bytes = create_ok(f, o);
    auto doc = bencode::decode(bytes);
    REQUIRE(doc.ok());
    const auto info = doc->root().find_dict("info").value();
    REQUIRE(info.find_string("x-cross-seed") == "tracker-1");
    REQUIRE(info.find_string("name") == "renamed");
    REQUIRE(info.find_int("private") == 1);
    REQUIRE(info.find_int("length") == 40000);
    const auto m = parse_ok(bytes);
    REQUIRE(m.piece_count() == 3);
    REQUIRE(m.is_private);
  }
  SECTION("only junk is an error") {
    fixture f({{".DS_Store", 10, 1}});
    REQUIRE(create_torrent(f.files, plain_options()).err().code == errc::metainfo_missing_field);
    REQUIRE(create_torrent({}, plain_options()).err().code == errc::metainfo_missing_field);
  }
  SECTION("a given piece length is used; zero or negative is rejected") {
    fixture f({{"a", 100, 1}});
    create_options o = plain_options();
    o.piece_length = 65536;
    REQUIRE(parse_ok(create_ok(f, o)).piece_length == 65536);
    o.piece_length = 0;
    REQUIRE(create_torrent(f.files, o).err().code == errc::metainfo_invalid_value);
  }
}

TEST_CASE("[create_torrent] created torrents parse back with the right files and pieces", "[create_torrent]") {
  fixture f({{"top/x.bin", 40000, 1}, {"top/empty", 0, 2}, {"top/sub/y.bin", 16384, 3},
             {"top/z", 7, 4}});
  create_options o = plain_options();
  o.announce_list = {{"wss://t.example"}};
  const auto t = create_ok(f, o);
  const auto m = parse_ok(t);

  REQUIRE(m.info_hash == sha1(bencode::decode(t)->root().find_dict("info")->raw()));
  REQUIRE(m.name == "top");
  REQUIRE(m.multi_file);
  REQUIRE(m.piece_length == 16384);
  REQUIRE(m.announce == "wss://t.example");
  REQUIRE(m.files.size() == 4);
  REQUIRE(m.files[0].components == std::vector<std::string>{"x.bin"});
  REQUIRE(m.files[1].components == std::vector<std::string>{"empty"});
  REQUIRE(m.files[2].components == std::vector<std::string>{"sub", "y.bin"});
  REQUIRE(m.files[3].components == std::vector<std::string>{"z"});
  REQUIRE(m.files[0].length == 40000);
  REQUIRE(m.files[1].length == 0);
  REQUIRE(m.files[2].length == 16384);
  REQUIRE(m.files[3].length == 7);
  REQUIRE(m.total_length == 40000 + 16384 + 7);

  // Each piece hash is the SHA-1 of that slice of the concatenated data.
  std::string all = f.data[0] + f.data[1] + f.data[2] + f.data[3];
  REQUIRE(m.piece_hashes.size() == (all.size() + 16383) / 16384);
  for (std::size_t p = 0; p < m.piece_hashes.size(); ++p) {
    const std::size_t off = p * 16384;
    const auto slice = as_bytes(all).subspan(off, std::min<std::size_t>(16384, all.size() - off));
    REQUIRE(m.piece_hashes[p] == sha1(slice));
  }
}

TEST_CASE("[create_torrent] bad paths are rejected", "[create_torrent]") {
  struct bad {
    const char* path;
    std::size_t at;
  };
  for (auto b : {bad{"", 0}, bad{"/abs", 0}, bad{"a/", 2}, bad{"a//b", 2}, bad{"../a", 0},
                 bad{"a/../b", 2}, bad{"./a", 0}, bad{"a\\b", 0}, bad{"C:/x", 0},
                 bad{"ok/c:", 3}}) {
    SECTION(std::string("path '") + b.path + "'") {
      const std::string data = "x";
      const input_file files[] = {{"fine.txt", as_bytes(data)}, {b.path, as_bytes(data)}};
      auto r = create_torrent(files, create_options{});
      REQUIRE_FALSE(r.ok());
      REQUIRE(r.err().code == errc::metainfo_bad_path);
      REQUIRE(r.err().context == b.path);
      REQUIRE(r.err().position == b.at);
    }
  }
  SECTION("NUL in a component") {
    const std::string path("a\0b", 3);
    const std::string data = "x";
    const input_file files[] = {{path, as_bytes(data)}};
    REQUIRE(create_torrent(files, create_options{}).err().code == errc::metainfo_bad_path);
  }
  SECTION("a bad name") {
    const std::string data = "x";
    const input_file files[] = {{"a", as_bytes(data)}};
    create_options o;
    o.name = "..";
    REQUIRE(create_torrent(files, o).err().code == errc::metainfo_bad_path);
    o.name = "x//y";
    REQUIRE(create_torrent(files, o).err().code == errc::metainfo_bad_path);
    o.name = "x/..";
    REQUIRE(create_torrent(files, o).err().code == errc::metainfo_bad_path);
    // A '/' in a name is kept as it is, as create-torrent keeps it, and parses back.
    o.name = "AC/DC - Live";
    auto made = create_torrent(files, o);
    REQUIRE(made.ok());
    REQUIRE(parse_metainfo(*made).ok());
    CHECK(parse_metainfo(*made)->name == "AC/DC - Live");
  }
  SECTION("too many components") {
    std::string path;
    for (int i = 0; i < 300; ++i) path += "d/";
    path += "f";
    const std::string data = "x";
    const input_file files[] = {{path, as_bytes(data)}};
    REQUIRE(create_torrent(files, create_options{}).err().code == errc::metainfo_too_large);
  }
}
