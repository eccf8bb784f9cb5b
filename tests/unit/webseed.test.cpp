#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "webseed/webseed.hpp"

using namespace wt;
using namespace wt::webseed;

namespace {

struct file_spec_t {
  std::vector<std::string> components;
  std::int64_t length;
  bool pad = false;
};

// Just the layout the planner reads (no hashes needed).
metainfo layout(std::string name, std::int64_t piece_length, const std::vector<file_spec_t>& files, bool multi = true) {
  metainfo m;
  m.name = std::move(name);
  m.piece_length = piece_length;
  m.multi_file = multi;
  std::int64_t offset = 0;
  for (const auto& f : files) {
    file_entry e;
    e.components = f.components;
    e.length = f.length;
    e.offset = offset;
    e.pad = f.pad;
    offset += f.length;
    m.files.push_back(e);
  }
  m.total_length = offset;
  m.piece_hashes.resize(static_cast<std::size_t>((offset + piece_length - 1) / piece_length));
  return m;
}

}  // namespace

TEST_CASE("[webseed] percent-encoding keeps unreserved bytes only", "[webseed]") {
  CHECK(encode_path_element("Sintel.mp4") == "Sintel.mp4");
  CHECK(encode_path_element("a-b_c.d~e") == "a-b_c.d~e");
  CHECK(encode_path_element("a b") == "a%20b");
  CHECK(encode_path_element("100%?#&+") == "100%25%3F%23%26%2B");
  CHECK(encode_path_element("AC/DC Live") == "AC/DC%20Live");  // a folder separator
  // UTF-8 bytes, upper-case hex.
  CHECK(encode_path_element("\xc3\xa9t\xc3\xa9") == "%C3%A9t%C3%A9");
  CHECK(encode_path_element("\xe6\x97\xa5\xe6\x9c\xac") == "%E6%97%A5%E6%9C%AC");
  CHECK(encode_path_element("") == "");
}

TEST_CASE("[webseed] seed URLs", "[webseed]") {
  CHECK(valid_seed_url("http://example.com/file"));
  CHECK(valid_seed_url("HTTPS://example.com/"));
  CHECK_FALSE(valid_seed_url("ftp://example.com/file"));
  CHECK_FALSE(valid_seed_url("http://"));
  CHECK_FALSE(valid_seed_url("http://exa mple.com/"));
  CHECK_FALSE(valid_seed_url("http://example.com/\n"));
  CHECK_FALSE(valid_seed_url("example.com"));
  CHECK_FALSE(valid_seed_url("http://example.com/" + std::string(9000, 'a')));
}

TEST_CASE("[webseed] a space after the host is percent-encoded, as a URL parser does", "[webseed]") {
  // A .torrent's url-list or a magnet's ws= names the file as it is on the server.
  CHECK(normalize_seed_url("http://127.0.0.1:8000/Leaves of Grass.epub") == "http://127.0.0.1:8000/Leaves%20of%20Grass.epub");
  CHECK(normalize_seed_url("http://h/a b/?q=c d") == "http://h/a%20b/?q=c%20d");
  CHECK(normalize_seed_url("http://h/x%20y") == "http://h/x%20y");
  CHECK(normalize_seed_url("http://h") == "http://h");
  // A space in the host is left for valid_seed_url to refuse.
  CHECK(normalize_seed_url("http://exa mple.com/") == "http://exa mple.com/");
  CHECK_FALSE(valid_seed_url(normalize_seed_url("http://exa mple.com/")));
  CHECK(valid_seed_url(normalize_seed_url("http://h/My Movie.mp4")));
}

TEST_CASE("[webseed] file URLs follow BEP 19", "[webseed]") {
  SECTION("single file: the URL is the file, or a folder when it ends in '/'") {
    const auto m = layout("big movie.mp4", 32768, {{{"big movie.mp4"}, 100000}}, false);
    CHECK(file_url(m, "http://h/x/movie.mp4", file_index{0}) == "http://h/x/movie.mp4");
    CHECK(file_url(m, "http://h/x/", file_index{0}) == "http://h/x/big%20movie.mp4");
  }
  SECTION("multi-file: folder + name + path, each component encoded") {
    const auto m = layout("My Album", 32768, {{{"disc 1", "01 \xc3\xa9t\xc3\xa9.flac"}, 10}, {{"cover.jpg"}, 5}});
    CHECK(file_url(m, "http://h/pub/", file_index{0}) == "http://h/pub/My%20Album/disc%201/01%20%C3%A9t%C3%A9.flac");
    // A trailing '/' is added when missing.
    CHECK(file_url(m, "http://h/pub", file_index{1}) == "http://h/pub/My%20Album/cover.jpg");
  }
}

TEST_CASE("[webseed] planning byte ranges", "[webseed]") {
  SECTION("single file, odd sizes, last short piece") {
    const auto m = layout("f.bin", 32768, {{{"f.bin"}, 100001}}, false);
    auto s = plan_range(m, "http://h/f.bin", 98304, 32768);  // the last piece: 1697 bytes
    REQUIRE(s.size() == 1);
    CHECK_FALSE(s[0].pad);
    CHECK(s[0].url == "http://h/f.bin");
    CHECK(s[0].first == 98304);
    CHECK(s[0].last == 100000);
    CHECK(s[0].length() == 1697);
    CHECK(s[0].file_length == 100001);
    CHECK(s[0].torrent_offset == 98304);
    CHECK(plan_range(m, "http://h/f.bin", 100001, 10).empty());
    CHECK(plan_range(m, "http://h/f.bin", 5, 0).empty());
    CHECK(plan_range(m, "http://h/f.bin", -1, 10).empty());
  }
  SECTION("multi-file: a range spanning files, empty files skipped") {
    const auto m = layout("d", 16384, {{{"a"}, 10000}, {{"empty"}, 0}, {{"b"}, 3000}, {{"c"}, 50000}});
    auto s = plan_range(m, "http://h/", 5000, 20000);  // [5000, 25000)
    REQUIRE(s.size() == 3);
    CHECK(s[0].url == "http://h/d/a");
    CHECK(s[0].first == 5000);
    CHECK(s[0].last == 9999);
    CHECK(s[0].torrent_offset == 5000);
    CHECK(s[1].url == "http://h/d/b");
    CHECK(s[1].first == 0);
    CHECK(s[1].last == 2999);
    CHECK(s[1].torrent_offset == 10000);
    CHECK(s[2].url == "http://h/d/c");
    CHECK(s[2].first == 0);
    CHECK(s[2].last == 11999);
    CHECK(s[2].torrent_offset == 13000);
    std::int64_t covered = 0;
    for (const auto& seg : s) covered += seg.length();
    CHECK(covered == 20000);
  }
  SECTION("pad files are zeros, never requested") {
    const auto m = layout("d", 16384, {{{"a"}, 10000}, {{".pad", "6384"}, 6384, true}, {{"b"}, 20000}});
    auto s = plan_range(m, "http://h/", 0, 36384);
    REQUIRE(s.size() == 3);
    CHECK_FALSE(s[0].pad);
    CHECK(s[1].pad);
    CHECK(s[1].url.empty());
    CHECK(s[1].torrent_offset == 10000);
    CHECK(s[1].length() == 6384);
    CHECK_FALSE(s[2].pad);
    CHECK(s[2].torrent_offset == 16384);
    CHECK(s[2].length() == 20000);
  }
  SECTION("a range past the end is clipped") {
    const auto m = layout("d", 16384, {{{"a"}, 100}, {{"b"}, 100}});
    auto s = plan_range(m, "http://h", 150, 1000);
    REQUIRE(s.size() == 1);
    CHECK(s[0].url == "http://h/d/b");
    CHECK(s[0].first == 50);
    CHECK(s[0].last == 99);
  }
}

TEST_CASE("[webseed] Content-Range parsing", "[webseed]") {
  auto ok = [](std::string_view text) {
    auto r = parse_content_range(text);
    INFO(text);
    REQUIRE(r);
    return *r;
  };
  CHECK(ok("bytes 0-499/1234") == content_range{0, 499, 1234});
  CHECK(ok("bytes 500-999/*") == content_range{500, 999, std::nullopt});
  CHECK(ok("Bytes  7 - 7 / 8 ") == content_range{7, 7, 8});
  for (const char* bad : {"", "bytes", "bytes 1-2", "bytes -2/3", "bytes 1-/3", "bytes 3-2/9", "bytes 0-9/9",
                          "items 0-1/2", "bytes 0-1/2x", "bytes 0-1/2/3", "bytes 0-99999999999999999999/*",
                          "bytes */100", "bytes0-1/2"}) {
    INFO(bad);
    auto r = parse_content_range(bad);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::web_seed_bad_response);
    CHECK(r.err().position <= std::string_view(bad).size());
  }
  CHECK_FALSE(parse_content_range("bytes 0-1/2" + std::string(300, ' ')));
  SECTION("round trip") {
    for (const content_range& r : {content_range{0, 0, 1}, content_range{5, 10, std::nullopt},
                                   content_range{1000000000000, 1000000000001, 1000000000002}})
      CHECK(ok(format_content_range(r)) == r);
  }
  SECTION("one byte at a time: no prefix of a valid header is valid unless it is complete") {
    const std::string full = "bytes 10-20/30";
    for (std::size_t n = 0; n < full.size(); ++n) CHECK_FALSE(parse_content_range(full.substr(0, n)));
  }
}

TEST_CASE("[webseed] response checks", "[webseed]") {
  segment part;
  part.url = "http://h/f";
  part.first = 1000;
  part.last = 1999;
  part.file_length = 5000;
  segment whole = part;
  whole.first = 0;
  whole.last = 4999;

  SECTION("206 with the exact range") {
    auto p = check_response(part, 206, "bytes 1000-1999/5000", 1000);
    REQUIRE(p);
    CHECK(p->skip == 0);
    CHECK(p->length == 1000);
    CHECK_FALSE(p->whole_file);
    CHECK(check_response(part, 206, "bytes 1000-1999/*", std::nullopt));
  }
  SECTION("206 with another range, total or length") {
    CHECK(check_response(part, 206, "bytes 1000-2999/5000", {}).err().code == errc::web_seed_bad_response);
    CHECK(check_response(part, 206, "bytes 0-999/5000", {}).err().code == errc::web_seed_bad_response);
    CHECK(check_response(part, 206, "bytes 1000-1999/6000", {}).err().code == errc::web_seed_bad_response);
    CHECK(check_response(part, 206, "bytes 1000-1999/5000", 999).err().code == errc::web_seed_bad_response);
  }
  SECTION("206 without Content-Range (hidden from a page on another origin): the range asked for") {
    auto p = check_response(part, 206, "", 1000);
    REQUIRE(p);
    CHECK(p->skip == 0);
    CHECK(p->length == 1000);
    CHECK_FALSE(p->whole_file);
    CHECK(check_response(part, 206, "", std::nullopt));
    CHECK(check_response(part, 206, "", 5000).err().code == errc::web_seed_bad_response);
  }
  SECTION("200: the whole file") {
    auto p = check_response(whole, 200, "", 5000);
    REQUIRE(p);
    CHECK(p->skip == 0);
    CHECK(p->length == 5000);
    // For part of a small file: the slice is taken from the body.
    auto q = check_response(part, 200, "", std::nullopt);
    REQUIRE(q);
    CHECK(q->skip == 1000);
    CHECK(q->length == 1000);
    CHECK(q->whole_file);
    CHECK(check_response(whole, 200, "", 4999).err().code == errc::web_seed_bad_response);
  }
  SECTION("200 for part of a large file: ignores Range") {
    segment big = part;
    big.file_length = std::int64_t{1} << 30;
    CHECK(check_response(big, 200, "", big.file_length).err().code == errc::web_seed_ignores_range);
    limits lim;
    lim.max_whole_file = std::int64_t{1} << 31;
    CHECK(check_response(big, 200, "", big.file_length, lim));
  }
  SECTION("errors") {
    CHECK(check_response(part, 404, "", {}).err().code == errc::web_seed_not_found);
    CHECK(check_response(part, 410, "", {}).err().code == errc::web_seed_not_found);
    CHECK(check_response(part, 500, "", {}).err().code == errc::web_seed_http_error);
    CHECK(check_response(part, 416, "bytes */10", {}).err().code == errc::web_seed_http_error);
    CHECK(web_seed_fatal_status(403));
    CHECK(web_seed_fatal_status(416));
    CHECK_FALSE(web_seed_fatal_status(429));
    CHECK_FALSE(web_seed_fatal_status(503));
  }
}
