#include "base/json.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using namespace wt;

namespace {

std::optional<json::value> read(std::string_view text, std::size_t depth = 16) {
  return json::parse(text, depth).doc;
}

}  // namespace

TEST_CASE("[json] reads objects, arrays, strings, numbers, literals", "[json]") {
  const auto v = read(" \n{\"a\": [1, -2, 3.5, 1e2, true, false, null, \"x\"], \"b\": {}, \"c\": []}\t");
  REQUIRE(v);
  REQUIRE(v->is_object());
  const json::value* a = v->find("a");
  REQUIRE(a);
  REQUIRE(a->items.size() == 8);
  CHECK(a->items[0].integer == 1);
  CHECK(a->items[1].integer == -2);
  CHECK(a->items[2].number == 3.5);
  CHECK_FALSE(a->items[2].integer);
  CHECK(a->items[3].number == 100);
  CHECK_FALSE(a->items[3].integer);  // written with an exponent
  CHECK((a->items[4].type == json::value::kind::boolean && a->items[4].boolean));
  CHECK((a->items[5].type == json::value::kind::boolean && !a->items[5].boolean));
  CHECK(a->items[6].is_null());
  CHECK(*a->items[7].as_string() == "x");
  CHECK(v->find("b")->is_object());
  CHECK(v->find("c")->type == json::value::kind::array);
  CHECK(v->find("d") == nullptr);
  CHECK(a->find("x") == nullptr);  // not an object
}

TEST_CASE("[json] the last member of a repeated name wins, as JSON.parse", "[json]") {
  const auto v = read(R"({"k":1,"k":2})");
  REQUIRE(v);
  CHECK(v->find("k")->integer == 2);
}

TEST_CASE("[json] string escapes, surrogate pairs, UTF-8 checks", "[json]") {
  CHECK(read(R"("a\"b\\c\/d\b\f\n\r\t")")->string == "a\"b\\c/d\b\f\n\r\t");
  CHECK(read(R"("\u0000\u00e9\u00FF")")->string == std::string("\0\xC3\xA9\xC3\xBF", 5));
  CHECK(read(R"("\u20ac")")->string == "\xE2\x82\xAC");
  CHECK(read(R"("\ud83d\ude00")")->string == "\xF0\x9F\x98\x80");
  CHECK(read("\"\xF0\x9F\x98\x80 \xC3\xA9\"")->string == "\xF0\x9F\x98\x80 \xC3\xA9");
  CHECK_FALSE(read(R"("\ud83d")"));          // a high surrogate alone
  CHECK_FALSE(read(R"("\ud83dx")"));
  CHECK_FALSE(read(R"("\ud83d\u0041")"));    // not followed by a low one
  CHECK_FALSE(read(R"("\ude00")"));          // a low surrogate alone
  CHECK_FALSE(read(R"("\u12")"));
  CHECK_FALSE(read(R"("\u12g4")"));
  CHECK_FALSE(read(R"("\x")"));
  CHECK_FALSE(read("\"a\nb\""));             // control character unescaped
  CHECK_FALSE(read("\"\xC3\""));             // truncated sequence
  CHECK_FALSE(read("\"\xC0\x80\""));         // overlong
  CHECK_FALSE(read("\"\xED\xA0\x80\""));     // a surrogate in UTF-8
  CHECK_FALSE(read("\"\xF4\x90\x80\x80\""));  // beyond U+10FFFF
  CHECK_FALSE(read("\"\xFF\""));
  CHECK_FALSE(read("\"abc"));
}

TEST_CASE("[json] numbers follow RFC 8259", "[json]") {
  CHECK(read("0")->integer == 0);
  CHECK(read("-0")->integer == 0);
  CHECK(read("9007199254740993")->integer == 9007199254740993);
  CHECK_FALSE(read("18446744073709551616")->integer);  // beyond int64: only the double
  CHECK(read("18446744073709551616")->number == 18446744073709551616.0);
  CHECK(read("1e300"));
  CHECK_FALSE(read("1e400"));  // not finite
  CHECK(read("1E-2")->number == 0.01);
  for (const char* bad : {"01", "-", "+1", ".5", "1.", "1e", "1e+", "0x10", "NaN", "Infinity", "- 1"})
    CHECK_FALSE(read(bad));
}

TEST_CASE("[json] syntax errors and the depth bound", "[json]") {
  for (const char* bad : {"", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":}",
                          "[1 2]", "tru", "nul", "falsey", "{} {}", "{}x", "'a'"})
    CHECK_FALSE(read(bad));
  CHECK(read("\xEF\xBB\xBF{}"));  // a byte order mark
  CHECK(read("[[[[]]]]", 4));
  const auto deep = json::parse("[[[[[]]]]]", 4);
  CHECK_FALSE(deep.doc);
  CHECK(deep.error == json::parse_error::too_deep);
  CHECK(json::parse("[[[[", 4).error == json::parse_error::syntax);
  CHECK(json::parse(std::string(100000, '['), 16).error == json::parse_error::too_deep);
}

TEST_CASE("[json] writes what nlohmann::json reads back, escapes as JSON.stringify", "[json]") {
  const std::string tricky = "q\"\\/\b\f\n\r\t\x01\x1f\x7f\xC3\xA9";
  json::writer w;
  w.begin_object().key("s").string(tricky);
  w.key("n").number(std::int64_t{-5}).key("u").number(std::uint64_t{18446744073709551615u});
  w.key("a").begin_array().number(std::int64_t{1}).begin_object().end_object().begin_array().end_array();
  w.string("").end_array().key("o").begin_object().key("k").string("v").end_object().end_object();
  const std::string text = w.take();
  CHECK(text == "{\"s\":\"q\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xC3\xA9\",\"n\":-5,"
                "\"u\":18446744073709551615,\"a\":[1,{},[],\"\"],\"o\":{\"k\":\"v\"}}");
  const auto theirs = nlohmann::json::parse(text);
  CHECK(theirs["s"] == tricky);
  CHECK(theirs["a"].size() == 4);
  const auto ours = read(text);
  REQUIRE(ours);
  CHECK(ours->find("s")->string == tricky);
  CHECK(ours->find("o")->find("k")->string == "v");
}

TEST_CASE("[json] invalid UTF-8 is written as U+FFFD", "[json]") {
  json::writer w;
  w.string("a\xFF" "b\xC3");
  CHECK(w.take() == "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\"");
}

TEST_CASE("[json] every byte string's Latin-1 form survives a round trip", "[json]") {
  // The tracker's binary strings: code points U+0000..U+00FF as UTF-8.
  std::string latin1;
  for (int b = 0; b < 256; ++b) {
    if (b < 0x80) latin1.push_back(static_cast<char>(b));
    else latin1 += {static_cast<char>(0xC0 | (b >> 6)), static_cast<char>(0x80 | (b & 0x3F))};
  }
  json::writer w;
  w.string(latin1);
  const std::string text = w.take();
  CHECK(read(text)->string == latin1);
  CHECK(nlohmann::json::parse(text).get<std::string>() == latin1);
  CHECK(text == nlohmann::json(latin1).dump());  // byte for byte what the tracker sent before
}
