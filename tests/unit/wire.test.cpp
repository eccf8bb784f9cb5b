#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "bencode/bencode.hpp"
#include "wire/wire.hpp"

using namespace wt;
using namespace wt::wire;

namespace {

// Emscripten's libc++ has no std::ranges algorithms.
bool same(byte_view a, byte_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

byte_buffer bytes_of(std::string_view s) { return byte_buffer(s.begin(), s.end()); }

byte_buffer concat(std::initializer_list<byte_view> parts) {
  byte_buffer out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

byte_buffer pattern(std::size_t n, std::uint8_t seed = 1) {
  byte_buffer b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

// What a reader made of a stream: each message re-encoded and shown, then an error if any.
struct outcome {
  std::vector<std::string> shown;
  byte_buffer reencoded;
  std::optional<error> err;
};

struct reader_setup {
  reader_limits limits{};
  std::optional<std::uint32_t> piece_count;
};

message_reader make_reader(const reader_setup& setup) {
  message_reader r(setup.limits);
  if (setup.piece_count) r.set_piece_count(*setup.piece_count);
  return r;
}

// Drains a reader into `out`; false once an error was seen.
bool drain(message_reader& r, outcome& out) {
  while (true) {
    auto m = r.next();
    if (!m) {
      out.err = m.err();
      return false;
    }
    if (!*m) return true;
    out.shown.push_back(to_string(**m));
    encode_to(**m, out.reencoded);
  }
}

// Feeds `input` in chunks of the given sizes (the last size repeats).
outcome run_chunks(byte_view input, const std::vector<std::size_t>& sizes,
                   const reader_setup& setup) {
  message_reader r = make_reader(setup);
  outcome out;
  std::size_t pos = 0, k = 0;
  while (pos < input.size()) {
    const std::size_t n = std::min(input.size() - pos, sizes[std::min(k, sizes.size() - 1)]);
    ++k;
    // Each chunk is a separate allocation, freed after draining: views must not outlive it.
    byte_buffer chunk(input.begin() + static_cast<std::ptrdiff_t>(pos),
                      input.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    r.feed(chunk);
    if (!drain(r, out)) break;
  }
  CHECK(r.buffered() <= input.size());
  return out;
}

outcome run_whole(byte_view input, const reader_setup& setup) {
  return run_chunks(input, {std::max<std::size_t>(input.size(), 1)}, setup);
}

const byte_buffer trailer = encode(have{piece_index{3}});

// h11 style: whole, one byte at a time, merged with a following message, and split at
// every point into two chunks. All must agree with `expected`.
void check_stream(byte_view input, const std::vector<std::string>& expected,
                  const reader_setup& setup = {}) {
  INFO("input " << to_hex(input));
  {
    INFO("whole");
    const outcome o = run_whole(input, setup);
    CHECK_FALSE(o.err);
    CHECK(o.shown == expected);
    CHECK(same(o.reencoded, input));
  }
  {
    INFO("byte by byte");
    const outcome o = run_chunks(input, {1}, setup);
    CHECK_FALSE(o.err);
    CHECK(o.shown == expected);
    CHECK(same(o.reencoded, input));
  }
  {
    INFO("merged with the next message");
    const byte_buffer merged = concat({input, trailer});
    auto with_next = expected;
    with_next.push_back("have 3");
    for (const auto& o : {run_whole(merged, setup), run_chunks(merged, {1}, setup)}) {
      CHECK_FALSE(o.err);
      CHECK(o.shown == with_next);
      CHECK(same(o.reencoded, merged));
    }
  }
  {
    INFO("split in two");
    // Every point of a short input; a sample of a long one (it is quadratic).
    const std::size_t stride = input.size() <= 256 ? 1 : input.size() / 64;
    for (std::size_t cut = 1; cut < input.size(); cut += stride) {
      const outcome o = run_chunks(input, {cut, input.size()}, setup);
      CHECK_FALSE(o.err);
      CHECK(o.shown == expected);
    }
  }
}

// The same three ways for a stream that must fail with `code` at `position`, after
// the messages in `before`. Trailing data changes nothing.
void check_stream_error(byte_view input, errc code, std::size_t position,
                        const std::vector<std::string>& before = {},
                        const reader_setup& setup = {}) {
  INFO("input " << to_hex(input));
  const byte_buffer merged = concat({input, trailer});
  int way = 0;
  for (const auto& o : {run_whole(input, setup), run_chunks(input, {1}, setup),
                        run_whole(merged, setup), run_chunks(merged, {1}, setup)}) {
    INFO("way " << way++);
    REQUIRE(o.err);
    CHECK(o.err->code == code);
    CHECK(o.err->position == position);
    CHECK(o.shown == before);
  }
}

const piece_index p0{0}, p7{7};

}  // namespace

// --- Handshake -----------------------------------------------------------------------------

TEST_CASE("[wire] handshake encodes the 68-byte BEP 3 layout", "[wire]") {
  sha1_digest ih{};
  peer_id id{};
  for (std::size_t i = 0; i < 20; ++i) {
    ih[i] = static_cast<std::uint8_t>(i + 1);
    id[i] = static_cast<std::uint8_t>(0xa0 + i);
  }
  byte_buffer out;
  encode_to(make_handshake(ih, id), out);
  REQUIRE(out.size() == handshake_size);
  CHECK(out[0] == 19);
  CHECK(as_chars(byte_view(out).subspan(1, 19)) == "BitTorrent protocol");
  CHECK(same(byte_view(out).subspan(20, 8), std::array<std::uint8_t, 8>{}));
  CHECK(same(byte_view(out).subspan(28, 20), ih));
  CHECK(same(byte_view(out).subspan(48, 20), id));

  SECTION("feature bits only when asked") {
    CHECK(reserved_bytes({}) == std::array<std::uint8_t, 8>{});
    CHECK(reserved_bytes({.extension_protocol = true}) ==
          std::array<std::uint8_t, 8>{0, 0, 0, 0, 0, 0x10, 0, 0});
    CHECK(reserved_bytes({.fast = true}) == std::array<std::uint8_t, 8>{0, 0, 0, 0, 0, 0, 0, 0x04});
    CHECK(reserved_bytes({.dht = true}) == std::array<std::uint8_t, 8>{0, 0, 0, 0, 0, 0, 0, 0x01});
    const handshake_features all{true, true, true};
    CHECK(reserved_bytes(all) == std::array<std::uint8_t, 8>{0, 0, 0, 0, 0, 0x10, 0, 0x05});
    CHECK(make_handshake(ih, id, all).features() == all);
    handshake h;
    h.reserved = {0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0xff, 0xfa};  // everything but ours
    CHECK(h.features() == handshake_features{});
  }
}

TEST_CASE("[wire] handshake reader: whole, byte by byte, with trailing data", "[wire]") {
  sha1_digest ih{};
  ih.fill(0x11);
  peer_id id{};
  id.fill(0x22);
  const handshake sent = make_handshake(ih, id, {.extension_protocol = true, .fast = true});
  byte_buffer wire_bytes;
  encode_to(sent, wire_bytes);

  SECTION("whole") {
    handshake_reader r;
    auto p = r.feed(wire_bytes);
    REQUIRE(p);
    CHECK(p->status == parse_status::done);
    CHECK(p->consumed == 68);
    CHECK(r.done());
    CHECK(r.get() == sent);
    CHECK(r.get().features() == handshake_features{true, true, false});
  }
  SECTION("byte by byte; the info-hash shows at 48 bytes") {
    handshake_reader r;
    for (std::size_t i = 0; i < wire_bytes.size(); ++i) {
      CHECK(r.info_hash().has_value() == (i >= 48));
      auto p = r.feed(byte_view(wire_bytes).subspan(i, 1));
      REQUIRE(p);
      CHECK(p->consumed == 1);
      CHECK(p->status == (i + 1 == 68 ? parse_status::done : parse_status::need_more));
    }
    CHECK(r.info_hash() == ih);
    CHECK(r.get() == sent);
  }
  SECTION("with the first messages behind it") {
    const byte_buffer input = concat({wire_bytes, encode(extended{0, as_bytes("de")}), trailer});
    handshake_reader r;
    auto p = r.feed(input);
    REQUIRE(p);
    CHECK(p->status == parse_status::done);
    CHECK(p->consumed == 68);
    CHECK(r.get() == sent);
    message_reader m;
    m.feed(byte_view(input).subspan(p->consumed));
    auto a = m.next();
    REQUIRE((a && *a));
    CHECK(to_string(**a) == "extended 0 <6465>");
    auto b = m.next();
    REQUIRE((b && *b));
    CHECK(to_string(**b) == "have 3");
    // Done: takes nothing more.
    auto again = r.feed(input);
    REQUIRE(again);
    CHECK(again->status == parse_status::done);
    CHECK(again->consumed == 0);
  }
  SECTION("split in two at every point") {
    for (std::size_t cut = 0; cut <= 68; ++cut) {
      handshake_reader r;
      auto a = r.feed(byte_view(wire_bytes).first(cut));
      REQUIRE(a);
      CHECK(a->consumed == cut);
      auto b = r.feed(byte_view(wire_bytes).subspan(cut));
      REQUIRE(b);
      CHECK(b->status == parse_status::done);
      CHECK(r.get() == sent);
    }
  }
}

TEST_CASE("[wire] handshake reader rejects a wrong protocol at the first wrong byte", "[wire]") {
  byte_buffer good;
  encode_to(handshake{}, good);
  struct bad_case {
    std::size_t at;
    std::uint8_t value;
  };
  for (const auto c : {bad_case{0, 18}, bad_case{0, 0x13 + 1}, bad_case{1, 'b'},
                       bad_case{5, 'x'}, bad_case{19, 'L'}}) {
    byte_buffer input = good;
    input[c.at] = c.value;
    INFO("byte " << c.at);
    {
      handshake_reader r;
      auto p = r.feed(input);
      REQUIRE_FALSE(p);
      CHECK(p.err().code == errc::wire_bad_protocol);
      CHECK(p.err().position == c.at);
      // Sticky.
      auto again = r.feed(input);
      REQUIRE_FALSE(again);
      CHECK(again.err().code == errc::wire_bad_protocol);
      CHECK_FALSE(r.done());
      CHECK_FALSE(r.info_hash());
    }
    {
      handshake_reader r;
      for (std::size_t i = 0; i < c.at; ++i) REQUIRE(r.feed(byte_view(input).subspan(i, 1)));
      auto p = r.feed(byte_view(input).subspan(c.at, 1));
      REQUIRE_FALSE(p);
      CHECK(p.err().position == c.at);
    }
  }
  SECTION("reserved bytes, hash and id are free") {
    byte_buffer input = good;
    std::fill(input.begin() + 20, input.end(), std::uint8_t{0xff});
    handshake_reader r;
    REQUIRE(r.feed(input));
    CHECK(r.done());
  }
}

// --- Messages: layouts and round trips ---------------------------------------------------------

TEST_CASE("[wire] message byte layouts", "[wire]") {
  const byte_buffer data = bytes_of("abc");
  struct layout {
    message m;
    const char* hex;
  };
  const std::vector<layout> cases = {
      {keep_alive{}, "00000000"},
      {choke{}, "0000000100"},
      {unchoke{}, "0000000101"},
      {interested{}, "0000000102"},
      {not_interested{}, "0000000103"},
      {have{piece_index{0x01020304}}, "000000050401020304"},
      {bitfield{data}, "0000000405616263"},
      {request{piece_index{1}, 0x4000, 0x4000}, "0000000d06000000010000400000004000"},
      {piece_block{piece_index{2}, 0x8000, data}, "0000000c07000000020000800061626" "3"},
      {cancel{piece_index{1}, 0, 0x4000}, "0000000d08000000010000000000004000"},
      {dht_port{6881}, "00000003091ae1"},
      {suggest_piece{piece_index{9}}, "000000050d00000009"},
      {have_all{}, "000000010e"},
      {have_none{}, "000000010f"},
      {reject_request{piece_index{1}, 16, 32}, "0000000d10000000010000001000000020"},
      {allowed_fast{piece_index{65536}}, "000000051100010000"},
      {extended{0, data}, "000000051400616263"},
      {extended{3, {}}, "000000021403"},
      {unknown_message{21, data}, "0000000415616263"},
  };
  for (const auto& c : cases) {
    INFO(to_string(c.m));
    CHECK(to_hex(encode(c.m)) == c.hex);
  }
  SECTION("piece header for a host that sends the data itself") {
    byte_buffer header;
    encode_piece_header(piece_index{2}, 0x8000, 3, header);
    CHECK(concat({header, data}) == encode(piece_block{piece_index{2}, 0x8000, data}));
  }
}

TEST_CASE("[wire] every message type round trips through the reader three ways", "[wire]") {
  const byte_buffer block = pattern(3000);  // the 16 KiB bound has its own test
  const byte_buffer bits = {0xff, 0x80};
  const byte_buffer ext = bytes_of("d1:md6:ut_pexi1eee");
  const byte_buffer x = bytes_of("x");
  const std::vector<message> all = {
      keep_alive{},
      choke{},
      unchoke{},
      interested{},
      not_interested{},
      have{p7},
      bitfield{bits},
      request{p7, 16384, 16384},
      piece_block{p7, 16384, block},
      piece_block{p0, 0, {}},
      cancel{p7, 16384, 16384},
      dht_port{65535},
      suggest_piece{p7},
      have_all{},
      have_none{},
      reject_request{p7, 0, 16384},
      allowed_fast{p0},
      extended{0, ext},
      extended{255, {}},
      unknown_message{200, x},
      unknown_message{21, {}},
  };
  for (const auto& m : all) {
    const byte_buffer input = encode(m);
    INFO(to_string(m));
    check_stream(input, {to_string(m)});
    // And the decoded value equals the original.
    message_reader r;
    r.feed(input);
    auto got = r.next();
    REQUIRE((got && *got));
    CHECK(same_message(**got, m));
  }
  SECTION("all of them in one stream") {
    byte_buffer input;
    std::vector<std::string> expected;
    for (const auto& m : all) {
      encode_to(m, input);
      expected.push_back(to_string(m));
    }
    check_stream(input, expected);
    const outcome o = run_chunks(input, {3, 1, 7, 1000, 2, 16390}, {});
    CHECK_FALSE(o.err);
    CHECK(o.shown == expected);
  }
}

TEST_CASE("[wire] same_message compares contents", "[wire]") {
  const byte_buffer a = bytes_of("abc"), b = bytes_of("abc"), c = bytes_of("abd");
  CHECK(same_message(piece_block{p0, 0, a}, piece_block{p0, 0, b}));
  CHECK_FALSE(same_message(piece_block{p0, 0, a}, piece_block{p0, 0, c}));
  CHECK_FALSE(same_message(piece_block{p0, 0, a}, piece_block{p0, 1, a}));
  CHECK_FALSE(same_message(have{p0}, suggest_piece{p0}));
  CHECK_FALSE(same_message(extended{1, a}, extended{2, a}));
  CHECK(same_message(bitfield{a}, bitfield{b}));
}

// --- Messages: malformed input ----------------------------------------------------------------

TEST_CASE("[wire] fixed-size messages with the wrong length", "[wire]") {
  struct bad {
    std::uint8_t id;
    std::uint32_t length;
  };
  for (const auto c : {bad{0, 2}, bad{1, 5}, bad{2, 2}, bad{3, 13}, bad{4, 4}, bad{4, 6},
                       bad{6, 12}, bad{6, 14}, bad{8, 1}, bad{9, 2}, bad{9, 5}, bad{13, 1},
                       bad{14, 2}, bad{15, 5}, bad{16, 9}, bad{17, 4}}) {
    INFO("id " << int{c.id} << " length " << c.length);
    byte_buffer input;
    input.push_back(0);
    input.push_back(0);
    input.push_back(0);
    input.push_back(static_cast<std::uint8_t>(c.length));
    input.push_back(c.id);
    input.resize(4 + c.length, 0);
    // After a valid message, so the position is the start of the bad one.
    const byte_buffer stream = concat({encode(interested{}), input});
    check_stream_error(stream, errc::wire_bad_message_length, 5, {"interested"});

    // Known from the header: the body never needs to arrive.
    message_reader r;
    r.feed(byte_view(input).first(5));
    auto m = r.next();
    REQUIRE_FALSE(m);
    CHECK(m.err().code == errc::wire_bad_message_length);
    CHECK_FALSE(m.err().context.empty());
  }
  SECTION("too short to hold their fields") {
    check_stream_error(bytes_of(std::string("\0\0\0\x08\x07\0\0\0\0\0\0\0", 12)),
                       errc::wire_bad_message_length, 0);  // piece: 8 < 9
    check_stream_error(bytes_of(std::string("\0\0\0\x01\x14", 5)), errc::wire_bad_message_length,
                       0);  // extended without its id
  }
}

TEST_CASE("[wire] the error names the message", "[wire]") {
  message_reader r;
  const byte_buffer input = bytes_of(std::string("\0\0\0\x02\x04\0", 6));
  r.feed(input);
  auto m = r.next();
  REQUIRE_FALSE(m);
  CHECK(m.err().context == "have");
  CHECK(m.err().message() == "wrong message length at byte 0 (have)");
}

TEST_CASE("[wire] oversized lengths fail on the header, before the body", "[wire]") {
  SECTION("piece block above 16 KiB") {
    const byte_buffer big = pattern(16 * 1024 + 1);
    const byte_buffer input = encode(piece_block{p0, 0, big});
    check_stream_error(input, errc::wire_message_too_large, 0);
    const byte_buffer ok = pattern(16 * 1024);
    check_stream(encode(piece_block{p0, 0, ok}), {"piece 0 0 <16384 bytes>"});
  }
  SECTION("a length near 4 GiB") {
    for (std::uint8_t id : {std::uint8_t{5}, std::uint8_t{7}, std::uint8_t{20}, std::uint8_t{99}}) {
      const byte_buffer input = {0xff, 0xff, 0xff, 0xff, id};
      INFO("id " << int{id});
      check_stream_error(input, errc::wire_message_too_large, 0);
    }
    check_stream_error(byte_buffer{0xff, 0xff, 0xff, 0xff, 4}, errc::wire_bad_message_length, 0);
  }
  SECTION("configurable limits") {
    reader_setup setup;
    setup.limits.max_block = 4;
    setup.limits.max_bitfield = 2;
    setup.limits.max_extended = 3;
    setup.limits.max_unknown = 1;
    const byte_buffer four = pattern(4), five = pattern(5), three = pattern(3), two = pattern(2);
    check_stream(encode(piece_block{p0, 0, four}), {"piece 0 0 <" + to_hex(four) + ">"}, setup);
    check_stream_error(encode(piece_block{p0, 0, five}), errc::wire_message_too_large, 0, {},
                       setup);
    check_stream(encode(bitfield{two}), {"bitfield <" + to_hex(two) + ">"}, setup);
    check_stream_error(encode(bitfield{three}), errc::wire_message_too_large, 0, {}, setup);
    check_stream(encode(extended{1, three}), {"extended 1 <" + to_hex(three) + ">"}, setup);
    check_stream_error(encode(extended{1, four}), errc::wire_message_too_large, 0, {}, setup);
    check_stream(encode(unknown_message{50, bytes_of("z")}), {"unknown 50 <7a>"}, setup);
    check_stream_error(encode(unknown_message{50, two}), errc::wire_message_too_large, 0, {},
                       setup);
  }
  SECTION("memory grows only with the bytes that arrive") {
    message_reader r;
    const byte_buffer header = {0x00, 0x10, 0x00, 0x01, 20, 1};  // a 1 MiB extended message
    r.feed(header);
    auto m = r.next();
    REQUIRE(m);
    CHECK_FALSE(*m);
    CHECK(r.buffered() == header.size());
  }
}

TEST_CASE("[wire] bitfields against a known piece count", "[wire]") {
  reader_setup setup;
  setup.piece_count = 10;  // two bytes, 6 spare bits
  check_stream(encode(bitfield{byte_buffer{0xff, 0xc0}}), {"bitfield <ffc0>"}, setup);
  SECTION("wrong size is known from the header") {
    check_stream_error(encode(bitfield{byte_buffer{0xff}}), errc::wire_bad_bitfield, 0, {}, setup);
    check_stream_error(encode(bitfield{byte_buffer{0xff, 0xc0, 0}}), errc::wire_bad_bitfield, 0,
                       {}, setup);
    message_reader r;
    r.set_piece_count(10);
    const byte_buffer header = {0, 0, 0, 9, 5};
    r.feed(header);
    auto m = r.next();
    REQUIRE_FALSE(m);
    CHECK(m.err().code == errc::wire_bad_bitfield);
  }
  SECTION("spare bits set: reported at the last byte") {
    const byte_buffer stream = concat({encode(unchoke{}), encode(bitfield{byte_buffer{0xff, 0xe0}})});
    check_stream_error(stream, errc::wire_bad_bitfield, 5 + 6, {"unchoke"}, setup);
  }
  SECTION("exact multiple of 8") {
    reader_setup s16;
    s16.piece_count = 16;
    check_stream(encode(bitfield{byte_buffer{0xff, 0xff}}), {"bitfield <ffff>"}, s16);
  }
  SECTION("bitfield_fits for a bitfield received before the metadata") {
    CHECK(bitfield_fits(byte_buffer{0xff, 0xc0}, 10));
    CHECK_FALSE(bitfield_fits(byte_buffer{0xff, 0xe0}, 10));
    CHECK_FALSE(bitfield_fits(byte_buffer{0xff}, 10));
    CHECK(bitfield_fits(byte_buffer{0xff}, 8));
    CHECK(bitfield_fits(byte_buffer{}, 0));
    CHECK_FALSE(bitfield_fits(byte_buffer{0}, 0));
  }
}

TEST_CASE("[wire] piece indices against a known piece count", "[wire]") {
  reader_setup setup;
  setup.piece_count = 8;
  const byte_buffer data = bytes_of("d");
  const std::vector<message> in_range = {have{p7}, request{p7, 0, 1}, piece_block{p7, 0, data},
                                         cancel{p7, 0, 1}, suggest_piece{p7},
                                         reject_request{p7, 0, 1}, allowed_fast{p7}};
  const piece_index p8{8};
  const std::vector<message> out_of_range = {have{p8}, request{p8, 0, 1}, piece_block{p8, 0, data},
                                             cancel{p8, 0, 1}, suggest_piece{p8},
                                             reject_request{p8, 0, 1}, allowed_fast{p8}};
  for (const auto& m : in_range) check_stream(encode(m), {to_string(m)}, setup);
  for (const auto& m : out_of_range) {
    INFO(to_string(m));
    const byte_buffer stream = concat({encode(keep_alive{}), encode(m)});
    check_stream_error(stream, errc::wire_piece_out_of_range, 4 + 5, {"keep_alive"}, setup);
    // Without a piece count, anything goes.
    check_stream(encode(m), {to_string(m)});
  }
}

TEST_CASE("[wire] reader errors are sticky and the reader stops", "[wire]") {
  message_reader r;
  const byte_buffer input = concat({encode(choke{}), byte_buffer{0, 0, 0, 2, 1, 0}, encode(unchoke{})});
  r.feed(input);
  auto a = r.next();
  REQUIRE((a && *a));
  auto b = r.next();
  REQUIRE_FALSE(b);
  CHECK(b.err().code == errc::wire_bad_message_length);
  CHECK(b.err().position == 5);
  const byte_buffer more = encode(unchoke{});
  r.feed(more);
  auto c = r.next();
  REQUIRE_FALSE(c);
  CHECK(c.err().position == 5);
  CHECK(r.buffered() == 0);
}

TEST_CASE("[wire] piece data is a view into the chunk when the message is whole", "[wire]") {
  const byte_buffer block = pattern(100);
  const byte_buffer input = concat({encode(piece_block{p0, 0, block}), encode(piece_block{p7, 100, block})});
  SECTION("whole: views into the caller's chunk") {
    message_reader r;
    r.feed(input);
    auto a = r.next();
    REQUIRE((a && *a));
    const auto& pa = std::get<piece_block>(**a);
    CHECK(pa.data.data() == input.data() + 13);
    auto b = r.next();
    REQUIRE((b && *b));
    const auto& pb = std::get<piece_block>(**b);
    CHECK(pb.data.data() == input.data() + 113 + 13);
    CHECK(same(pb.data, block));
  }
  SECTION("split: assembled in the reader, still correct") {
    message_reader r;
    r.feed(byte_view(input).first(50));
    auto a = r.next();
    REQUIRE(a);
    CHECK_FALSE(*a);
    CHECK(r.buffered() == 50);
    r.feed(byte_view(input).subspan(50));
    auto b = r.next();
    REQUIRE((b && *b));
    CHECK(same_message(**b, piece_block{p0, 0, block}));
    auto c = r.next();  // the second one lies whole in the second chunk
    REQUIRE((c && *c));
    CHECK(std::get<piece_block>(**c).data.data() == input.data() + 113 + 13);
    auto d = r.next();
    REQUIRE(d);
    CHECK_FALSE(*d);
    CHECK(r.buffered() == 0);
    CHECK(r.stream_offset() == input.size());
  }
}

TEST_CASE("[wire] feeding again before draining keeps every byte in order", "[wire]") {
  const byte_buffer input = concat({encode(have{p0}), encode(have{p7}), encode(choke{})});
  message_reader r;
  byte_buffer first(input.begin(), input.begin() + 12);
  byte_buffer second(input.begin() + 12, input.end());
  r.feed(first);
  auto a = r.next();
  REQUIRE((a && *a));
  CHECK(to_string(**a) == "have 0");
  r.feed(second);  // "have 7" half drained
  first.assign(first.size(), 0xee);  // the first chunk may now be gone
  std::vector<std::string> shown;
  while (true) {
    auto m = r.next();
    REQUIRE(m);
    if (!*m) break;
    shown.push_back(to_string(**m));
  }
  CHECK(shown == std::vector<std::string>{"have 7", "choke"});
}

TEST_CASE("[wire] unknown message ids are passed up", "[wire]") {
  check_stream(encode(unknown_message{21, bytes_of("hash")}), {"unknown 21 <68617368>"});
  check_stream(byte_buffer{0, 0, 0, 1, 0xff}, {"unknown 255 <>"});
}

TEST_CASE("[wire] to_string", "[wire]") {
  CHECK(to_string(request{p7, 16384, 16384}) == "request 7 16384 16384");
  CHECK(to_string(dht_port{6881}) == "port 6881");
  const byte_buffer big = pattern(17);
  CHECK(to_string(piece_block{p0, 0, big}) == "piece 0 0 <17 bytes>");
  CHECK(to_string(bitfield{byte_buffer{0xab}}) == "bitfield <ab>");
}

// --- Compact peers ------------------------------------------------------------------------------

TEST_CASE("[wire] compact peers", "[wire]") {
  const endpoint a = make_endpoint_v4({10, 0, 0, 1}, 6881);
  const endpoint b = make_endpoint_v4({192, 168, 1, 255}, 80);
  std::array<std::uint8_t, 16> v6{};
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[2] = 0x0d;
  v6[3] = 0xb8;
  v6[15] = 1;
  const endpoint c = make_endpoint_v6(v6, 443);

  byte_buffer packed;
  append_compact(a, packed);
  append_compact(b, packed);
  CHECK(to_hex(packed) == "0a0000011ae1c0a801ff0050");
  auto parsed = parse_compact_v4(packed, 10);
  REQUIRE(parsed);
  CHECK(*parsed == std::vector<endpoint>{a, b});

  byte_buffer packed6;
  append_compact(c, packed6);
  CHECK(packed6.size() == 18);
  auto parsed6 = parse_compact_v6(packed6, 10);
  REQUIRE(parsed6);
  CHECK(*parsed6 == std::vector<endpoint>{c});

  CHECK(to_string(a) == "10.0.0.1:6881");
  CHECK(to_string(c) == "[2001:db8::1]:443");
  CHECK(to_string(make_endpoint_v6({}, 1)) == "[::]:1");
  std::array<std::uint8_t, 16> one{};
  one[15] = 1;
  CHECK(to_string(make_endpoint_v6(one, 2)) == "[::1]:2");
  std::array<std::uint8_t, 16> mid{};  // 1:0:0:2:0:0:0:3 -> the longer run is compressed
  mid[1] = 1;
  mid[7] = 2;
  mid[15] = 3;
  CHECK(to_string(make_endpoint_v6(mid, 3)) == "[1:0:0:2::3]:3");
  std::array<std::uint8_t, 16> single{};  // 1:0:1:1:1:1:1:1 -> a lone zero stays
  for (std::size_t i = 0; i < 8; ++i) single[2 * i + 1] = i == 1 ? 0 : 1;
  CHECK(to_string(make_endpoint_v6(single, 4)) == "[1:0:1:1:1:1:1:1]:4");

  SECTION("errors") {
    auto bad = parse_compact_v4(byte_view(packed).first(11), 10);
    REQUIRE_FALSE(bad);
    CHECK(bad.err().code == errc::wire_bad_compact_peers);
    auto bad6 = parse_compact_v6(byte_view(packed).first(12), 10);
    REQUIRE_FALSE(bad6);
    CHECK(bad6.err().code == errc::wire_bad_compact_peers);
    auto many = parse_compact_v4(packed, 1);
    REQUIRE_FALSE(many);
    CHECK(many.err().code == errc::wire_too_many_peers);
    auto empty = parse_compact_v4({}, 0);
    REQUIRE(empty);
    CHECK(empty->empty());
  }
}

// --- BEP 10 extension handshake ----------------------------------------------------------------

TEST_CASE("[wire] extension handshake round trip", "[wire]") {
  extension_handshake h;
  h.m = {{"ut_metadata", 1}, {"ut_pex", 2}, {"lt_donthave", 7}, {"upload_only", 0}};
  h.client = "wasmtorrent 0.1";
  h.listen_port = 6881;
  h.reqq = 250;
  h.metadata_size = 31235;
  h.yourip = byte_buffer{127, 0, 0, 1};
  h.ipv4 = std::array<std::uint8_t, 4>{10, 1, 2, 3};
  std::array<std::uint8_t, 16> v6{};
  v6[15] = 1;
  h.ipv6 = v6;
  const byte_buffer payload = encode_extension_handshake(h);
  auto back = decode_extension_handshake(payload);
  REQUIRE(back);
  CHECK(*back == h);
  CHECK(back->id_of(ut_metadata_name) == std::uint8_t{1});
  CHECK(back->id_of(ut_pex_name) == std::uint8_t{2});
  CHECK(back->id_of("upload_only") == std::nullopt);  // 0: disabled
  CHECK(back->id_of("ut_holepunch") == std::nullopt);

  SECTION("minimal") {
    extension_handshake e;
    const byte_buffer p = encode_extension_handshake(e);
    CHECK(as_chars(p) == "d1:mdee");
    auto d = decode_extension_handshake(p);
    REQUIRE(d);
    CHECK(*d == e);
  }
  SECTION("through the message reader, three ways") {
    const byte_buffer input = encode(extended{0, payload});
    check_stream(input, {to_string(extended{0, payload})});
  }
}

TEST_CASE("[wire] extension handshake from other clients", "[wire]") {
  // As libtorrent and webtorrent send it, with keys we do not know.
  static constexpr char raw[] =
      "d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e"
      "12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5205e"
      "1:pi6881e4:reqqi500e11:upload_onlyi0e1:v17:qBittorrent/4.5.26:yourip4:\x7f\0\0\x01"
      "e";
  const std::string payload(raw, sizeof raw - 1);
  auto h = decode_extension_handshake(as_bytes(payload));
  REQUIRE(h);
  CHECK(h->id_of("ut_metadata") == std::uint8_t{2});
  CHECK(h->id_of("ut_pex") == std::uint8_t{1});
  CHECK(h->id_of("lt_donthave") == std::uint8_t{7});
  CHECK(h->m.size() == 6);
  CHECK(h->metadata_size == 5205u);
  CHECK(h->listen_port == std::uint16_t{6881});
  CHECK(h->reqq == 500u);
  CHECK(h->client == "qBittorrent/4.5.2");
  CHECK(h->yourip == byte_buffer{127, 0, 0, 1});
  CHECK_FALSE(h->ipv4);

  SECTION("tolerated: odd types where they do not matter are dropped") {
    auto t = decode_extension_handshake(
        as_bytes("d4:ipv43:abc4:ipv6i1e1:md6:ut_pexi1ee1:pi70000e1:vi3e6:yourip5:12345e"));
    REQUIRE(t);
    CHECK_FALSE(t->ipv4);
    CHECK_FALSE(t->ipv6);
    CHECK_FALSE(t->listen_port);
    CHECK_FALSE(t->client);
    CHECK_FALSE(t->yourip);
    CHECK(t->id_of("ut_pex") == std::uint8_t{1});
    auto no_m = decode_extension_handshake(as_bytes("de"));
    REQUIRE(no_m);
    CHECK(no_m->m.empty());
    auto zero = decode_extension_handshake(as_bytes("d13:metadata_sizei0ee"));
    REQUIRE(zero);
    CHECK_FALSE(zero->metadata_size);
  }
  SECTION("reqq is clamped") {
    auto t = decode_extension_handshake(as_bytes("d4:reqqi99999999999ee"));
    REQUIRE(t);
    CHECK(t->reqq == 2000u);
    extension_limits lim;
    lim.max_reqq = 10;
    auto u = decode_extension_handshake(as_bytes("d4:reqqi11ee"), lim);
    REQUIRE(u);
    CHECK(u->reqq == 10u);
  }
}

TEST_CASE("[wire] extension handshake errors", "[wire]") {
  struct bad {
    const char* input;
    errc code;
    std::size_t position;
    const char* context;
  };
  for (const auto& c : std::vector<bad>{
           {"le", errc::wire_not_a_dict, 0, "extension handshake"},
           {"i1e", errc::wire_not_a_dict, 0, "extension handshake"},
           {"d1:mi1ee", errc::wire_bad_field, 4, "m"},
           {"d1:md6:ut_pexi256eee", errc::wire_bad_field, 13, "m.ut_pex"},
           {"d1:md6:ut_pexi-1eee", errc::wire_bad_field, 13, "m.ut_pex"},
           {"d1:md6:ut_pex1:1ee", errc::wire_bad_field, 13, "m.ut_pex"},
           {"d4:reqqi0ee", errc::wire_bad_field, 7, "reqq"},
           {"d4:reqq3:100e", errc::wire_bad_field, 7, "reqq"},
           {"d13:metadata_sizei-5ee", errc::wire_bad_field, 17, "metadata_size"},
           {"d13:metadata_size1:5e", errc::wire_bad_field, 17, "metadata_size"},
           {"d13:metadata_sizei16777217ee", errc::wire_metadata_too_large, 17, "metadata_size"},
       }) {
    INFO(c.input);
    auto r = decode_extension_handshake(as_bytes(c.input));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == c.code);
    CHECK(r.err().position == c.position);
    CHECK(r.err().context == c.context);
  }
  SECTION("bencode errors pass through") {
    auto t = decode_extension_handshake(as_bytes("d1:md6:ut_pexi1e"));
    REQUIRE_FALSE(t);
    CHECK(t.err().code == errc::bencode_truncated);
    auto trailing = decode_extension_handshake(as_bytes("dexx"));
    REQUIRE_FALSE(trailing);
    CHECK(trailing.err().code == errc::bencode_trailing_data);
    auto empty = decode_extension_handshake({});
    REQUIRE_FALSE(empty);
    CHECK(empty.err().code == errc::bencode_truncated);
  }
  SECTION("metadata size limit is configurable") {
    extension_limits lim;
    lim.max_metadata_size = 100;
    CHECK(decode_extension_handshake(as_bytes("d13:metadata_sizei100ee"), lim));
    auto r = decode_extension_handshake(as_bytes("d13:metadata_sizei101ee"), lim);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::wire_metadata_too_large);
  }
}

// --- BEP 9 ut_metadata -------------------------------------------------------------------------

TEST_CASE("[wire] ut_metadata round trips", "[wire]") {
  const byte_buffer data = pattern(16 * 1024);
  const byte_buffer tail = pattern(100);
  const std::vector<metadata_message> all = {
      {metadata_msg_type::request, 0, 0, {}},
      {metadata_msg_type::reject, 3, 0, {}},
      {metadata_msg_type::data, 0, 16 * 1024 + 100, data},
      {metadata_msg_type::data, 1, 16 * 1024 + 100, tail},
  };
  for (const auto& m : all) {
    const byte_buffer payload = encode_metadata_message(m);
    auto back = decode_metadata_message(payload);
    REQUIRE(back);
    REQUIRE(*back);
    CHECK((*back)->type == m.type);
    CHECK((*back)->piece == m.piece);
    CHECK((*back)->total_size == m.total_size);
    CHECK(same((*back)->data, m.data));
    if (m.type == metadata_msg_type::data) {
      CHECK((*back)->data.data() == payload.data() + (payload.size() - m.data.size()));
    }
    // Framed as an extended message: through the reader three ways (short ones: the
    // byte-by-byte runs are slow in an unoptimised WebAssembly build).
    if (payload.size() < 1024) {
      const byte_buffer framed = encode(extended{2, payload});
      check_stream(framed, {to_string(extended{2, payload})});
    }
  }
  CHECK(as_chars(encode_metadata_message({metadata_msg_type::request, 2, 0, {}})) ==
        "d8:msg_typei0e5:piecei2ee");
  const byte_buffer abc = bytes_of("abc");
  CHECK(as_chars(encode_metadata_message({metadata_msg_type::data, 0, 3, abc})) ==
        "d8:msg_typei1e5:piecei0e10:total_sizei3eeabc");
}

TEST_CASE("[wire] ut_metadata from other clients and unknown types", "[wire]") {
  // Extra keys are ignored; total_size on a reject is ignored.
  auto r = decode_metadata_message(as_bytes("d8:msg_typei2e5:piecei1e10:total_sizei99ee"));
  REQUIRE((r && *r));
  CHECK((*r)->type == metadata_msg_type::reject);
  auto x = decode_metadata_message(as_bytes("d8:msg_typei0e5:piecei4e1:x1:ye"));
  REQUIRE((x && *x));
  CHECK((*x)->piece == 4u);
  // An unknown msg_type: ignore the message.
  auto unknown = decode_metadata_message(as_bytes("d8:msg_typei3e5:piecei0ee"));
  REQUIRE(unknown);
  CHECK_FALSE(*unknown);
  auto negative = decode_metadata_message(as_bytes("d8:msg_typei-1ee"));
  REQUIRE(negative);
  CHECK_FALSE(*negative);
}

TEST_CASE("[wire] ut_metadata errors", "[wire]") {
  struct bad {
    std::string input;
    errc code;
    std::size_t position;
  };
  const std::string full(16 * 1024, 'x');
  for (const auto& c : std::vector<bad>{
           {"le", errc::wire_not_a_dict, 0},
           {"d5:piecei0ee", errc::wire_missing_field, 0},
           {"d8:msg_type1:0e", errc::wire_bad_field, 11},
           {"d8:msg_typei0ee", errc::wire_missing_field, 0},
           {"d8:msg_typei0e5:piecei-1ee", errc::wire_bad_field, 21},
           {"d8:msg_typei0e5:piece1:0e", errc::wire_bad_field, 21},
           {"d8:msg_typei0e5:piecei1024ee", errc::wire_metadata_too_large, 21},
           {"d8:msg_typei0e5:piecei0eex", errc::wire_trailing_data, 25},
           {"d8:msg_typei2e5:piecei0ee1", errc::wire_trailing_data, 25},
           {"d8:msg_typei1e5:piecei0eeabc", errc::wire_missing_field, 0},
           {"d8:msg_typei1e5:piecei0e10:total_sizei0eeabc", errc::wire_bad_field, 37},
           {"d8:msg_typei1e5:piecei0e10:total_sizei16777217eeabc", errc::wire_metadata_too_large,
            37},
           {"d8:msg_typei1e5:piecei0e10:total_sizei3eeab", errc::wire_bad_field, 41},
           {"d8:msg_typei1e5:piecei0e10:total_sizei3eeabcd", errc::wire_bad_field, 41},
           {"d8:msg_typei1e5:piecei1e10:total_sizei3eeabc", errc::wire_bad_field, 21},
           {"d8:msg_typei1e5:piecei0e10:total_sizei99999ee" + full + "y",
            errc::wire_metadata_too_large, 45},
           {"d8:msg_typei1e5:piecei1e10:total_sizei16385ee" + full, errc::wire_bad_field, 45},
           {"d8:msg_typei0e5:piecei0e", errc::bencode_truncated, 24},
           {"", errc::bencode_truncated, 0},
       }) {
    INFO(c.input.substr(0, 60));
    auto r = decode_metadata_message(as_bytes(c.input));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == c.code);
    CHECK(r.err().position == c.position);
  }
  SECTION("the total size limit is configurable") {
    extension_limits lim;
    lim.max_metadata_size = 16 * 1024;
    CHECK(decode_metadata_message(as_bytes("d8:msg_typei0e5:piecei0ee"), lim));
    auto r = decode_metadata_message(as_bytes("d8:msg_typei0e5:piecei1ee"), lim);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::wire_metadata_too_large);
    auto t = decode_metadata_message(as_bytes("d8:msg_typei1e5:piecei0e10:total_sizei16385eex"), lim);
    REQUIRE_FALSE(t);
    CHECK(t.err().code == errc::wire_metadata_too_large);
  }
  SECTION("a full last piece") {
    auto ok = decode_metadata_message(
        as_bytes("d8:msg_typei1e5:piecei1e10:total_sizei32768ee" + full));
    REQUIRE((ok && *ok));
    CHECK((*ok)->data.size() == 16 * 1024);
  }
}

// --- BEP 11 ut_pex -----------------------------------------------------------------------------

TEST_CASE("[wire] ut_pex round trip", "[wire]") {
  std::array<std::uint8_t, 16> v6{};
  v6[0] = 0xfe;
  v6[1] = 0x80;
  v6[15] = 9;
  pex_message m;
  m.added = {{make_endpoint_v4({1, 2, 3, 4}, 6881), pex_seed | pex_supports_utp},
             {make_endpoint_v6(v6, 51413), pex_reachable},
             {make_endpoint_v4({5, 6, 7, 8}, 1), 0}};
  m.dropped = {make_endpoint_v4({9, 9, 9, 9}, 9), make_endpoint_v6(v6, 1)};
  const byte_buffer payload = encode_pex_message(m);
  auto back = decode_pex_message(payload);
  REQUIRE(back);
  // Decoding groups IPv4 before IPv6.
  pex_message expected;
  expected.added = {m.added[0], m.added[2], m.added[1]};
  expected.dropped = m.dropped;
  CHECK(*back == expected);

  SECTION("the encoding") {
    pex_message one;
    one.added = {{make_endpoint_v4({1, 2, 3, 4}, 0x1ae1), 2}};
    CHECK(as_chars(encode_pex_message(one)) ==
          std::string("d5:added6:\x01\x02\x03\x04\x1a\xe1" "7:added.f1:\x02" "7:dropped0:e"));
    CHECK(as_chars(encode_pex_message({})) == "d5:added0:7:added.f0:7:dropped0:e");
    auto empty = decode_pex_message(encode_pex_message({}));
    REQUIRE(empty);
    CHECK(*empty == pex_message{});
  }
  SECTION("through the message reader, three ways") {
    check_stream(encode(extended{1, payload}), {to_string(extended{1, payload})});
  }
}

TEST_CASE("[wire] ut_pex tolerance and errors", "[wire]") {
  SECTION("flags of the wrong length are ignored; missing lists are empty") {
    static constexpr char raw[] =
        "d5:added12:\x01\x02\x03\x04\x00\x01\x05\x06\x07\x08\x00\x02"
        "7:added.f1:\x02"
        "e";
    auto r = decode_pex_message(as_bytes(std::string_view(raw, sizeof raw - 1)));
    REQUIRE(r);
    REQUIRE(r->added.size() == 2);
    CHECK(r->added[0].flags == 0);
    CHECK(r->added[1].peer == make_endpoint_v4({5, 6, 7, 8}, 2));
    CHECK(r->dropped.empty());
    auto weird_flags = decode_pex_message(as_bytes("d5:added0:7:added.fi1ee"));
    REQUIRE(weird_flags);
    auto unknown = decode_pex_message(as_bytes("d1:xi1ee"));
    REQUIRE(unknown);
    CHECK(*unknown == pex_message{});
  }
  SECTION("errors") {
    struct bad {
      std::string input;
      errc code;
      std::size_t position;
      const char* context;
    };
    for (const auto& c : std::vector<bad>{
             {"le", errc::wire_not_a_dict, 0, "ut_pex"},
             {"d5:addedi1ee", errc::wire_bad_field, 8, "added"},
             {"d5:added5:12345e", errc::wire_bad_compact_peers, 8, "added"},
             {"d6:added66:123456e", errc::wire_bad_compact_peers, 9, "added6"},
             {"d7:dropped7:1234567e", errc::wire_bad_compact_peers, 10, "dropped"},
             {"d8:dropped6lee", errc::wire_bad_field, 11, "dropped6"},
         }) {
      INFO(c.input);
      auto r = decode_pex_message(as_bytes(c.input));
      REQUIRE_FALSE(r);
      CHECK(r.err().code == c.code);
      CHECK(r.err().position == c.position);
      CHECK(r.err().context == c.context);
    }
  }
  SECTION("a limit on peers per list") {
    pex_message m;
    for (std::uint8_t i = 0; i < 201; ++i) m.added.push_back({make_endpoint_v4({10, 0, 0, i}, 1), 0});
    auto r = decode_pex_message(encode_pex_message(m));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::wire_too_many_peers);
    m.added.pop_back();
    CHECK(decode_pex_message(encode_pex_message(m)));
    extension_limits lim;
    lim.max_pex_peers = pex_max_peers_per_message;
    auto strict = decode_pex_message(encode_pex_message(m), lim);
    REQUIRE_FALSE(strict);
    CHECK(strict.err().code == errc::wire_too_many_peers);
  }
}

// --- lt_donthave --------------------------------------------------------------------------------

TEST_CASE("[wire] lt_donthave", "[wire]") {
  const byte_buffer payload = encode_donthave(piece_index{0x01020304});
  CHECK(to_hex(payload) == "01020304");
  auto back = decode_donthave(payload);
  REQUIRE(back);
  CHECK(*back == piece_index{0x01020304});
  for (std::size_t n : {0u, 3u, 5u}) {
    const byte_buffer bad(n, 0);
    auto r = decode_donthave(bad);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::wire_bad_message_length);
  }
  check_stream(encode(extended{7, payload}), {"extended 7 <01020304>"});
}

TEST_CASE("[wire] every wire error kind has its own text", "[wire]") {
  std::vector<std::string> seen;
  for (int i = 0; i <= static_cast<int>(errc::wire_not_negotiated); ++i) {
    const std::string d = wt::describe(static_cast<errc>(i));
    CHECK_FALSE(d.empty());
    CHECK(std::find(seen.begin(), seen.end(), d) == seen.end());
    seen.push_back(d);
  }
  CHECK(make_error(errc::wire_message_too_large, 5, "piece").message() ==
        "message too large at byte 5 (piece)");
}

TEST_CASE("[wire] parse_endpoint reads what to_string writes, and nothing else", "[wire]") {
  using wire::parse_endpoint;
  for (const std::string text : {"1.2.3.4:6881", "127.0.0.1:1", "255.255.255.255:65535", "[::1]:6881",
                                 "[2001:db8::1]:80", "[fe80::1:2:3:4]:9", "[1:2:3:4:5:6:7:8]:1", "[::]:5"}) {
    INFO(text);
    auto e = parse_endpoint(text);
    REQUIRE(e);
    CHECK(wire::to_string(*e) == text);
  }
  auto mapped = parse_endpoint("[::ffff:1.2.3.4]:7");
  REQUIRE(mapped);
  CHECK(mapped->v6);
  CHECK(mapped->address[10] == 0xff);
  CHECK(mapped->address[15] == 4);
  CHECK(parse_endpoint("[2001:DB8::A]:1") == parse_endpoint("[2001:db8::a]:1"));
  for (const std::string bad : {"", ":", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3:80",
                                "1.2.3.4.5:80", "256.1.1.1:80", "01.2.3.4:80", "a.b.c.d:80", "example.com:80",
                                "::1:80", "[::1]", "[::1]:x", "[1::2::3]:80", "[1:2:3:4:5:6:7:8:9]:80",
                                "[12345::]:80", "[1:2:3:4:5:6:7::8]:80", "[:1]:80", " 1.2.3.4:80"}) {
    INFO(bad);
    CHECK_FALSE(parse_endpoint(bad));
  }
}
