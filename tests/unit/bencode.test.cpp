#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "bencode/bencode.hpp"
#include "base/error.hpp"

#if defined(__linux__) && UINTPTR_MAX > 0xFFFFFFFFu
#include <sys/mman.h>
#define WT_TEST_HUGE_INPUT 1
#endif

namespace bc = wt::bencode;
using wt::errc;

namespace {

wt::result<bc::document> dec(std::string_view s, const bc::limits& lim = {}) {
  return bc::decode(wt::as_bytes(s), lim);
}

std::string str(wt::byte_view b) { return std::string(wt::as_chars(b)); }

// Asserts that decoding fails with exactly this error kind and position.
void require_error(std::string_view input, errc code, std::size_t position,
                   const bc::limits& lim = {}) {
  INFO("input: " << std::string(input));
  auto r = dec(input, lim);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == code);
  CHECK(r.err().position == position);
  INFO(r.err().message());
}

// h11-style: the whole input, every strict prefix, and with trailing bytes.
void require_valid_three_ways(const std::string& input) {
  INFO("input: " << input);
  const auto whole = dec(input);
  REQUIRE(whole.ok());
  CHECK(str(whole->root().raw()) == input);

  for (std::size_t k = 0; k < input.size(); ++k) {
    const auto part = bc::decode_prefix(wt::as_bytes(std::string_view(input).substr(0, k)));
    INFO("prefix length " << k);
    REQUIRE_FALSE(part.ok());
    CHECK(part.err().code == errc::bencode_truncated);
    CHECK(part.err().position == k);
  }
  const auto full = bc::decode_prefix(wt::as_bytes(input));
  REQUIRE(full.ok());
  CHECK(full->consumed == input.size());

  for (const std::string& tail : std::vector<std::string>{"x", "i1e", "0:", "e", std::string(1, '\0')}) {
    const std::string padded = input + tail;
    const auto strict = dec(padded);
    REQUIRE_FALSE(strict.ok());
    CHECK(strict.err().code == errc::bencode_trailing_data);
    CHECK(strict.err().position == input.size());
    const auto prefix = bc::decode_prefix(wt::as_bytes(padded));
    REQUIRE(prefix.ok());
    CHECK(prefix->consumed == input.size());
    CHECK(str(prefix->doc.root().raw()) == input);
  }
}

const std::vector<std::string>& valid_inputs() {
  static const std::vector<std::string> inputs = {
      "i0e",
      "i42e",
      "i-42e",
      "i9223372036854775807e",
      "i-9223372036854775808e",
      "0:",
      "4:spam",
      std::string("3:a\0b", 5),
      "le",
      "de",
      "li1ei2ee",
      "l4:spami42ee",
      "d3:bar4:spam3:fooi42ee",
      "d1:ad1:bl1:cee1:zlleee",
      "lllleeee",
      "d0:i1e1:ai2ee",
      "d4:infod6:lengthi10e4:name3:abc12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
      "d1:\x7fi1e1:\x80i2ee",
      "l10:0123456789e",
  };
  return inputs;
}

}  // namespace

TEST_CASE("[bencode] decodes integers", "[bencode]") {
  SECTION("small values") {
    auto r = dec("i42e");
    REQUIRE(r.ok());
    CHECK(r->root().is_int());
    CHECK(r->root().as_int() == 42);
    CHECK(dec("i0e")->root().as_int() == 0);
    CHECK(dec("i-1e")->root().as_int() == -1);
  }
  SECTION("the int64 extremes") {
    CHECK(dec("i9223372036854775807e")->root().as_int() == std::numeric_limits<std::int64_t>::max());
    CHECK(dec("i-9223372036854775808e")->root().as_int() == std::numeric_limits<std::int64_t>::min());
  }
  SECTION("token fields") {
    auto r = dec("i-7e");
    REQUIRE(r.ok());
    REQUIRE(r->tokens().size() == 1);
    const bc::token& t = r->tokens()[0];
    CHECK(t.kind == bc::type::integer);
    CHECK(t.start == 0);
    CHECK(t.end == 4);
    CHECK(t.next == 1);
    CHECK(t.integer == -7);
  }
}

TEST_CASE("[bencode] rejects leading zeros", "[bencode]") {
  SECTION("in integers") {
    require_error("i03e", errc::bencode_leading_zero, 0);
    require_error("i00e", errc::bencode_leading_zero, 0);
    require_error("i-03e", errc::bencode_leading_zero, 0);
    require_error("li1ei03ee", errc::bencode_leading_zero, 4);
  }
  SECTION("in string lengths") {
    require_error("03:abc", errc::bencode_leading_zero, 0);
    require_error("00:", errc::bencode_leading_zero, 0);
    require_error("l1:a01:be", errc::bencode_leading_zero, 4);
  }
}

TEST_CASE("[bencode] rejects malformed integers", "[bencode]") {
  SECTION("negative zero") {
    require_error("i-0e", errc::bencode_negative_zero, 0);
    require_error("l2:abi-0ee", errc::bencode_negative_zero, 5);
  }
  SECTION("empty") {
    require_error("ie", errc::bencode_empty_integer, 0);
    require_error("i-e", errc::bencode_empty_integer, 0);
    require_error("lie", errc::bencode_empty_integer, 1);
  }
  SECTION("overflow") {
    require_error("i9223372036854775808e", errc::bencode_integer_overflow, 0);
    require_error("i-9223372036854775809e", errc::bencode_integer_overflow, 0);
    require_error("i99999999999999999999999999e", errc::bencode_integer_overflow, 0);
    require_error("li1ei18446744073709551616ee", errc::bencode_integer_overflow, 4);
  }
  SECTION("bad bytes") {
    require_error("i1xe", errc::bencode_unexpected_byte, 2);
    require_error("i+1e", errc::bencode_unexpected_byte, 1);
    require_error("i--1e", errc::bencode_unexpected_byte, 2);
    require_error("i1-e", errc::bencode_unexpected_byte, 2);
    require_error("i 1e", errc::bencode_unexpected_byte, 1);
    require_error("i1.5e", errc::bencode_unexpected_byte, 2);
  }
  SECTION("truncated") {
    require_error("i", errc::bencode_truncated, 1);
    require_error("i-", errc::bencode_truncated, 2);
    require_error("i12", errc::bencode_truncated, 3);
    require_error("i0", errc::bencode_truncated, 2);
  }
}

TEST_CASE("[bencode] decodes strings", "[bencode]") {
  SECTION("empty and binary") {
    auto e = dec("0:");
    REQUIRE(e.ok());
    CHECK(e->root().is_string());
    CHECK(e->root().as_string().empty());
    const std::string bin("5:a\0\xff\x01z", 7);
    auto b = dec(bin);
    REQUIRE(b.ok());
    CHECK(b->root().as_string() == std::string_view("a\0\xff\x01z", 5));
    CHECK(b->root().as_bytes().size() == 5);
    CHECK(b->tokens()[0].data == 2);
  }
  SECTION("long length prefix") {
    const std::string s = "12:hello world!";
    CHECK(dec(s)->root().as_string() == "hello world!");
  }
}

TEST_CASE("[bencode] rejects malformed strings", "[bencode]") {
  SECTION("length beyond the input is truncation") {
    require_error("5:abc", errc::bencode_truncated, 5);
    require_error("l5:abce", errc::bencode_truncated, 7);
    require_error("12", errc::bencode_truncated, 2);
  }
  SECTION("length beyond the limit") {
    bc::limits lim;
    lim.max_string_length = 3;
    require_error("4:abcd", errc::bencode_string_too_long, 0, lim);
    require_error("l3:abc4:abcde", errc::bencode_string_too_long, 6, lim);
    CHECK(dec("3:abc", lim).ok());
    require_error("99999999999999999999999999999:", errc::bencode_string_too_long, 0);
    // Rejected from the length alone, before the input runs out.
    require_error("100000000000", errc::bencode_string_too_long, 0);
  }
  SECTION("bad bytes in the length") {
    require_error("3x", errc::bencode_unexpected_byte, 1);
    require_error("3-:abc", errc::bencode_unexpected_byte, 1);
    require_error(":abc", errc::bencode_unexpected_byte, 0);
    require_error("-1:a", errc::bencode_unexpected_byte, 0);
  }
}

TEST_CASE("[bencode] rejects unexpected bytes", "[bencode]") {
  require_error("", errc::bencode_truncated, 0);
  require_error("x", errc::bencode_unexpected_byte, 0);
  require_error("e", errc::bencode_unexpected_byte, 0);
  require_error("lxe", errc::bencode_unexpected_byte, 1);
  require_error("l", errc::bencode_truncated, 1);
  require_error("li1e", errc::bencode_truncated, 4);
  require_error(" i1e", errc::bencode_unexpected_byte, 0);
}

TEST_CASE("[bencode] lists and dicts", "[bencode]") {
  const std::string input = "d4:listli1e3:twoli3eee3:numi7e3:str3:abce";
  auto r = dec(input);
  REQUIRE(r.ok());
  const bc::node root = r->root();
  REQUIRE(root.is_dict());
  CHECK(root.size() == 3);

  SECTION("find and typed finds") {
    CHECK(root.find_int("num") == 7);
    CHECK(root.find_string("str") == "abc");
    CHECK_FALSE(root.find_int("str"));
    CHECK_FALSE(root.find_string("num"));
    CHECK_FALSE(root.find("missing"));
    CHECK_FALSE(root.find("aaa"));  // before every key
    CHECK_FALSE(root.find("zzz"));  // after every key
    CHECK(root.find_list("list"));
    CHECK_FALSE(root.find_dict("list"));
    CHECK_FALSE(root.find_list("num"));
  }
  SECTION("list items") {
    const auto l = *root.find_list("list");
    CHECK(l.size() == 3);
    CHECK(l.item(0).as_int() == 1);
    CHECK(l.item(1).as_string() == "two");
    CHECK(l.item(2).is_list());
    CHECK(l.item(2).item(0).as_int() == 3);
    const auto items = l.items();
    REQUIRE(items.size() == 3);
    CHECK(str(items[2].raw()) == "li3ee");
    CHECK(items[2].offset() == 16);
    // Out of range and wrong type give empty handles, not crashes.
    CHECK(l.item(3).as_int() == 0);
    CHECK(root.item(0).as_int() == 0);
  }
  SECTION("entries in order") {
    const auto e = root.entries();
    REQUIRE(e.size() == 3);
    CHECK(e[0].first == "list");
    CHECK(e[1].first == "num");
    CHECK(e[2].first == "str");
    CHECK(e[2].second.as_string() == "abc");
    CHECK(root.find_dict("x") == std::nullopt);
  }
  SECTION("next skips subtrees") {
    const auto& t = r->tokens();
    CHECK(t[0].next == t.size());
    CHECK(t[0].count == 3);
    CHECK(t[2].kind == bc::type::list);
    CHECK(t[2].count == 3);
    CHECK(t[2].next == 7);  // list, 1, "two", list, 3 -> past them
    CHECK(t[2].data == 0);
    CHECK(t[0].data == 0);
  }
  SECTION("wrong-type accessors are empty") {
    CHECK(root.as_int() == 0);
    CHECK(root.as_string().empty());
    CHECK(root.find("num")->size() == 0);
    CHECK(root.find("num")->items().empty());
    CHECK(root.find("num")->entries().empty());
    const bc::node none;
    CHECK(none.as_int() == 0);
    CHECK(none.raw().empty());
    CHECK(none.size() == 0);
    CHECK_FALSE(none.find("x"));
  }
}

TEST_CASE("[bencode] rejects bad dicts", "[bencode]") {
  SECTION("non-string keys") {
    require_error("di1ei2ee", errc::bencode_key_not_string, 1);
    require_error("dlei1ee", errc::bencode_key_not_string, 1);
    require_error("ddei1ee", errc::bencode_key_not_string, 1);
    require_error("d1:ai1ei2ei3ee", errc::bencode_key_not_string, 7);
    require_error("dxe", errc::bencode_unexpected_byte, 1);
  }
  SECTION("unsorted keys") {
    require_error("d1:bi1e1:ai2ee", errc::bencode_unsorted_keys, 7);
    require_error("d2:abi1e1:ai2ee", errc::bencode_unsorted_keys, 8);
    // Bytewise unsigned: 0x80 sorts after 0x7f.
    CHECK(dec("d1:\x7fi1e1:\x80i2ee").ok());
    require_error("d1:\x80i1e1:\x7fi2ee", errc::bencode_unsorted_keys, 7);
    require_error("dd1:bi1e1:ai2eee", errc::bencode_key_not_string, 1);
    require_error("ld1:bi1e1:ai2eee", errc::bencode_unsorted_keys, 8);
  }
  SECTION("duplicate keys") {
    require_error("d1:ai1e1:ai2ee", errc::bencode_duplicate_key, 7);
    require_error("d0:i1e0:i2ee", errc::bencode_duplicate_key, 6);
  }
  SECTION("key without value") {
    require_error("d1:ae", errc::bencode_unexpected_byte, 4);
    require_error("d1:a", errc::bencode_truncated, 4);
  }
  SECTION("keys are compared within one dict only") {
    CHECK(dec("d1:bd1:ai1ee1:ci1ee").ok());
    CHECK(dec("ld1:bi1eed1:ai1eee").ok());
  }
}

TEST_CASE("[bencode] trailing data", "[bencode]") {
  require_error("i1ei2e", errc::bencode_trailing_data, 3);
  require_error("lee", errc::bencode_trailing_data, 2);
  require_error("0:0:", errc::bencode_trailing_data, 2);
  auto p = bc::decode_prefix(wt::as_bytes(std::string_view("d1:ai1ee<raw piece data>")));
  REQUIRE(p.ok());
  CHECK(p->consumed == 8);
  CHECK(p->doc.root().find_int("a") == 1);
}

TEST_CASE("[bencode] depth and token limits", "[bencode]") {
  SECTION("default depth is 64") {
    const std::string ok = std::string(64, 'l') + std::string(64, 'e');
    CHECK(dec(ok).ok());
    const std::string deep = std::string(65, 'l') + std::string(65, 'e');
    require_error(deep, errc::bencode_depth_exceeded, 64);
    // Deep before truncated: the error is final, no need to wait for more bytes.
    require_error(std::string(100000, 'l'), errc::bencode_depth_exceeded, 64);
  }
  SECTION("custom depth") {
    bc::limits lim;
    lim.max_depth = 2;
    CHECK(dec("ld1:ai1eee", lim).ok());
    require_error("lld1:aleee", errc::bencode_depth_exceeded, 2, lim);
    require_error("d1:ad1:alleee", errc::bencode_depth_exceeded, 8, lim);
    lim.max_depth = 0;
    CHECK(dec("i1e", lim).ok());
    require_error("le", errc::bencode_depth_exceeded, 0, lim);
  }
  SECTION("tokens") {
    bc::limits lim;
    lim.max_tokens = 3;
    CHECK(dec("li1ei2ee", lim).ok());
    require_error("li1ei2ei3ee", errc::bencode_too_many_tokens, 7, lim);
    require_error("d1:ai1ee", errc::bencode_too_many_tokens, 0, [] {
      bc::limits l;
      l.max_tokens = 0;
      return l;
    }());
  }
  SECTION("a large flat list") {
    std::string big = "l";
    for (int i = 0; i < 100000; ++i) big += "i1e";
    big += "e";
    auto r = dec(big);
    REQUIRE(r.ok());
    CHECK(r->root().size() == 100000);
    CHECK(r->tokens().size() == 100001);
  }
}

TEST_CASE("[bencode] incremental: whole, byte by byte, with trailing data", "[bencode]") {
  for (const std::string& input : valid_inputs()) require_valid_three_ways(input);
}

TEST_CASE("[bencode] round trip", "[bencode]") {
  for (const std::string& input : valid_inputs()) {
    INFO("input: " << input);
    auto r = dec(input);
    REQUIRE(r.ok());
    const wt::byte_buffer again = bc::encode(bc::to_value(r->root()));
    CHECK(std::string(wt::as_chars(again)) == input);
  }
}

TEST_CASE("[bencode] raw of nested values is exact", "[bencode]") {
  const std::string input = "d1:ald1:xi-5eeli1eli2eeee1:b3:xyz1:cdee";
  auto r = dec(input);
  REQUIRE(r.ok());
  const auto a = *r->root().find_list("a");
  CHECK(str(a.raw()) == "ld1:xi-5eeli1eli2eeee");
  CHECK(str(a.item(0).raw()) == "d1:xi-5ee");
  CHECK(str(a.item(0).find("x")->raw()) == "i-5e");
  CHECK(str(a.item(1).raw()) == "li1eli2eee");
  CHECK(str(a.item(1).item(1).raw()) == "li2ee");
  CHECK(str(r->root().find("b")->raw()) == "3:xyz");
  CHECK(str(r->root().find("c")->raw()) == "de");
  CHECK(a.item(1).item(1).offset() == input.find("li2ee"));
  // Every token's raw bytes decode alone to a document with the same shape.
  for (std::uint32_t i = 0; i < r->tokens().size(); ++i) {
    const bc::node n(&*r, i);
    auto sub = bc::decode(n.raw());
    REQUIRE(sub.ok());
    CHECK(sub->tokens().size() == r->tokens()[i].next - i);
  }
}

TEST_CASE("[bencode] encoder", "[bencode]") {
  SECTION("scalars") {
    CHECK(str(bc::encode(bc::value(0))) == "i0e");
    CHECK(str(bc::encode(bc::value(-12))) == "i-12e");
    CHECK(str(bc::encode(bc::value(std::numeric_limits<std::int64_t>::min()))) ==
          "i-9223372036854775808e");
    CHECK(str(bc::encode(bc::value("spam"))) == "4:spam");
    CHECK(str(bc::encode(bc::value(std::string()))) == "0:");
    CHECK(str(bc::encode(bc::value(std::string("a\0b", 3)))) == std::string("3:a\0b", 5));
  }
  SECTION("containers with sorted keys") {
    bc::dict d;
    d["zeta"] = 1;
    d["alpha"] = bc::list{bc::value("x"), bc::value(2), bc::value(bc::dict{})};
    d["\x80"] = "high";
    d["\x7f"] = "low";
    d[""] = bc::list{};
    const std::string out = str(bc::encode(bc::value(std::move(d))));
    CHECK(out == "d0:le5:alphal1:xi2edee4:zetai1e1:\x7f" "3:low1:\x80" "4:highe");
    // The encoder's output is what the strict decoder accepts.
    CHECK(dec(out).ok());
  }
  SECTION("encode_to appends") {
    wt::byte_buffer buf = {'x'};
    bc::encode_to(bc::value(1), buf);
    CHECK(str(buf) == "xi1e");
  }
}

TEST_CASE("[bencode] error messages describe the problem", "[bencode]") {
  CHECK(std::string(wt::describe(errc::bencode_leading_zero)) == "leading zero in integer");
  const wt::error e = wt::make_error(errc::bencode_leading_zero, 12, "info.piece length");
  CHECK(e.message() == "leading zero in integer at byte 12 (info.piece length)");
  const wt::error bare = wt::make_error(errc::bencode_truncated, 3);
  CHECK(bare.message() == "input ends inside a value at byte 3");
  // Every kind has its own text.
  std::vector<std::string> seen;
  for (int i = 0; i <= static_cast<int>(errc::magnet_too_large); ++i) {
    const std::string d = wt::describe(static_cast<errc>(i));
    CHECK_FALSE(d.empty());
    CHECK(std::find(seen.begin(), seen.end(), d) == seen.end());
    seen.push_back(d);
  }
}

#ifdef WT_TEST_HUGE_INPUT
TEST_CASE("[bencode] inputs beyond 32-bit offsets", "[bencode]") {
  // Reserve 4 GiB + a page without touching it: only the first bytes are read.
  const std::size_t size = (std::size_t{1} << 32) + 4096;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return;  // no address space to spare: nothing to test
  auto* bytes = static_cast<std::uint8_t*>(mem);
  const wt::byte_view input(bytes, size);
  bc::limits lim;
  lim.max_string_length = std::numeric_limits<std::size_t>::max();

  SECTION("a value that ends early is trailing data") {
    std::memcpy(bytes, "i1e", 3);
    auto r = bc::decode(input, lim);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::bencode_trailing_data);
    CHECK(r.err().position == 3);
  }
  SECTION("a string past 4 GiB - 1 is too long, not truncated") {
    std::memcpy(bytes, "4294967290:", 11);
    auto r = bc::decode_prefix(input, lim);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::bencode_string_too_long);
    CHECK(r.err().position == 0);
  }
  munmap(mem, size);
}
#endif
