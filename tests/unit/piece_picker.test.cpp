#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "picker/piece_picker.hpp"

using namespace std::chrono_literals;
using wt::bitfield;
using wt::block_address;
using wt::peer_handle;
using wt::piece_index;
using wt::piece_picker;
using wt::time_point;

namespace Catch {
template <>
struct StringMaker<block_address> {
  static std::string convert(const block_address& b) {
    return std::to_string(b.piece.value) + ":" + std::to_string(b.block);
  }
};
template <>
struct StringMaker<peer_handle> {
  static std::string convert(const peer_handle& p) { return "peer" + std::to_string(p.value); }
};
}  // namespace Catch

namespace {

constexpr std::uint32_t bs = piece_picker::block_size;
constexpr peer_handle p1{1}, p2{2}, p3{3};
constexpr peer_handle setup_requester{99}, setup_sender{98};

time_point at(wt::duration d) { return time_point{d}; }

// A picker state in one line per aspect, as libtorrent's test_piece_picker does:
//   availability "2223333"  peers that have each piece (one digit per piece)
//   have         "*  ** "   pieces we have ('*' or '1')
//   priority     "1111001"  priority per piece (empty: default 4)
//   requested    "  3 "     hex digit per piece: bit i = block i requested by peer 99 at t=0
//   received     "  1 "     hex digit per piece: bit i = block i received from peer 98
// Pieces have 4 blocks of 16 KiB. The random first piece rule is off unless asked for.
struct setup {
  std::string availability{};
  std::string have{};
  std::string priority{};
  std::string requested{};
  std::string received{};
  std::uint64_t seed = 1;
  std::uint32_t random_first = 0;
  wt::pick_strategy strategy = wt::pick_strategy::rarest_first;
};

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return 0;
}

piece_picker build(const setup& s) {
  const auto n = static_cast<std::uint32_t>(s.availability.size());
  piece_picker pp(std::int64_t{n} * 4 * bs, 4 * bs, s.seed);
  pp.set_random_first_pieces(s.random_first);
  pp.set_strategy(s.strategy);
  for (std::uint32_t i = 0; i < n; ++i) {
    const piece_index p{i};
    for (int k = 0; k < s.availability[i] - '0'; ++k) pp.inc_have(p);
    if (i < s.have.size() && (s.have[i] == '*' || s.have[i] == '1')) pp.we_have(p);
    if (i < s.priority.size()) pp.set_piece_priority(p, static_cast<std::uint8_t>(s.priority[i] - '0'));
    const int req = i < s.requested.size() ? hex(s.requested[i]) : 0;
    const int rec = i < s.received.size() ? hex(s.received[i]) : 0;
    for (std::uint32_t b = 0; b < 4; ++b) {
      if (req & (1 << b)) REQUIRE(pp.mark_requested({p, b}, setup_requester, time_point{}));
      if (rec & (1 << b)) REQUIRE(pp.mark_block_received({p, b}, setup_sender).accepted);
    }
  }
  return pp;
}

wt::pick_options opts(std::uint32_t count, time_point now = time_point{}) {
  wt::pick_options o;
  o.count = count;
  o.now = now;
  return o;
}

std::vector<block_address> pick(piece_picker& pp, const std::string& peer_has, std::uint32_t count,
                                 peer_handle peer = p1, time_point now = time_point{}) {
  return pp.pick_blocks(peer, bitfield::from_string(peer_has), opts(count, now));
}

// The pieces of the picked blocks, each once, in pick order.
std::vector<std::uint32_t> pieces(const std::vector<block_address>& blocks) {
  std::vector<std::uint32_t> out;
  for (const auto& b : blocks) {
    if (out.empty() || out.back() != b.piece.value) out.push_back(b.piece.value);
  }
  return out;
}

// The UI bar: '*' have, 'c' complete (unverified), 'd' downloading, ' ' missing.
std::string bar(const piece_picker& pp) {
  std::string s;
  for (const auto st : pp.piece_states()) {
    switch (st) {
      case wt::piece_state::have: s += '*'; break;
      case wt::piece_state::complete: s += 'c'; break;
      case wt::piece_state::downloading: s += 'd'; break;
      case wt::piece_state::missing: s += ' '; break;
    }
  }
  return s;
}

std::vector<block_address> blocks_of(std::uint32_t piece, std::initializer_list<std::uint32_t> bl) {
  std::vector<block_address> out;
  for (const auto b : bl) out.push_back({piece_index{piece}, b});
  return out;
}

}  // namespace

TEST_CASE("[piece_picker] geometry: last short piece and block", "[piece_picker]") {
  // Three pieces of 64 KiB, the last one 20000 bytes: 16384 + 3616.
  piece_picker pp(2 * 65536 + 20000, 65536, 0);
  CHECK(pp.num_pieces() == 3);
  CHECK(pp.piece_size(piece_index{0}) == 65536);
  CHECK(pp.piece_size(piece_index{2}) == 20000);
  CHECK(pp.blocks_in_piece(piece_index{1}) == 4);
  CHECK(pp.blocks_in_piece(piece_index{2}) == 2);
  CHECK(pp.block_length({piece_index{2}, 0}) == bs);
  CHECK(pp.block_length({piece_index{2}, 1}) == 3616);
  CHECK(pp.block_length({piece_index{2}, 2}) == 0);
  const auto r = pp.request_for({piece_index{2}, 1});
  CHECK(r.offset == bs);
  CHECK(r.length == 3616);
  CHECK(pp.block_at(r) == block_address{piece_index{2}, 1});
  CHECK_FALSE(pp.block_at({piece_index{2}, bs, bs}));        // wrong length
  CHECK_FALSE(pp.block_at({piece_index{1}, 100, bs}));       // not a block start
  CHECK_FALSE(pp.block_at({piece_index{3}, 0, bs}));         // no such piece
  CHECK(pp.bytes_wanted() == 2 * 65536 + 20000);

  SECTION("picking the last piece gives its two blocks") {
    const auto picked = pp.pick_blocks(p1, bitfield::from_string("001"), opts(10));
    CHECK(picked == blocks_of(2, {0, 1}));
    // Bytes received of a piece (WebTorrent's pieces[i].missing is the rest).
    CHECK(pp.received_bytes(piece_index{2}) == 0);
    CHECK(pp.mark_block_received({piece_index{2}, 1}, p1).accepted);
    CHECK(pp.received_bytes(piece_index{2}) == 3616);
    CHECK(pp.mark_block_received({piece_index{2}, 0}, p1).accepted);
    CHECK(pp.received_bytes(piece_index{2}) == 20000);
    pp.we_have(piece_index{0});
    CHECK(pp.received_bytes(piece_index{0}) == 65536);
    CHECK(pp.received_bytes(piece_index{1}) == 0);
  }
  SECTION("a piece length that is not a multiple of 16 KiB") {
    piece_picker odd(100000, 40000, 0);  // pieces 40000, 40000, 20000
    CHECK(odd.num_pieces() == 3);
    CHECK(odd.blocks_in_piece(piece_index{0}) == 3);
    CHECK(odd.block_length({piece_index{0}, 2}) == 40000 - 2 * bs);
    CHECK(odd.blocks_in_piece(piece_index{2}) == 2);
    CHECK(odd.block_length({piece_index{2}, 1}) == 20000 - bs);
  }
  SECTION("pieces touched by a byte range") {
    auto span = pp.pieces_for_bytes(65535, 2);
    REQUIRE(span);
    CHECK(span->first.value == 0);
    CHECK(span->last.value == 1);
    span = pp.pieces_for_bytes(131072, 1 << 30);
    REQUIRE(span);
    CHECK(span->first.value == 2);
    CHECK(span->last.value == 2);
    CHECK_FALSE(pp.pieces_for_bytes(10, 0));
    CHECK_FALSE(pp.pieces_for_bytes(2 * 65536 + 20000, 5));
  }
}

TEST_CASE("[piece_picker] rarest first", "[piece_picker]") {
  auto pp = build({.availability = "3332122"});
  CHECK(pp.availability(piece_index{4}) == 1);

  // A whole piece is 4 blocks: the rarest piece comes first.
  auto picked = pick(pp, "1111111", 4, p1);
  CHECK(picked == blocks_of(4, {0, 1, 2, 3}));

  // Then the pieces with availability 2, then 3.
  std::vector<std::uint32_t> order;
  for (int i = 0; i < 6; ++i) {
    const auto more = pieces(pick(pp, "1111111", 4, peer_handle{static_cast<std::uint32_t>(10 + i)}));
    REQUIRE(more.size() == 1);
    order.push_back(more[0]);
  }
  std::sort(order.begin(), order.begin() + 3);
  std::sort(order.begin() + 3, order.end());
  CHECK(order == std::vector<std::uint32_t>{3, 5, 6, 0, 1, 2});
  CHECK(pick(pp, "1111111", 4, p3).empty() == false);  // end-game duplicates from here on
  CHECK(pp.in_end_game());
}

TEST_CASE("[piece_picker] never picks what the peer lacks or what we have", "[piece_picker]") {
  auto pp = build({.availability = "1122222", .have = "**   * "});
  CHECK(pp.num_have() == 3);
  // The peer lacks piece 3 (rarest it could give is 2 or 4 or 6).
  const auto picked = pieces(pick(pp, "1110111", 28));
  CHECK(std::set<std::uint32_t>(picked.begin(), picked.end()) == std::set<std::uint32_t>{2, 4, 6});
  CHECK(pick(pp, "1100010", 4, p2).empty());  // only pieces we have
  CHECK(pick(pp, "", 4, p3).empty());         // a peer with nothing
}

TEST_CASE("[piece_picker] random tie-break is deterministic and varies with the seed", "[piece_picker]") {
  std::set<std::uint32_t> firsts;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    auto a = build({.availability = "11111111", .seed = seed});
    auto b = build({.availability = "11111111", .seed = seed});
    const auto pa = pieces(pick(a, "11111111", 1));
    const auto pb = pieces(pick(b, "11111111", 1));
    REQUIRE(pa.size() == 1);
    CHECK(pa == pb);  // same seed, same pick
    firsts.insert(pa[0]);
  }
  CHECK(firsts.size() > 3);

  // Ties only: the rarer piece still wins for every seed.
  for (std::uint64_t seed = 0; seed < 16; ++seed) {
    auto pp = build({.availability = "22221222", .seed = seed});
    CHECK(pieces(pick(pp, "11111111", 1)) == std::vector<std::uint32_t>{4});
  }
}

TEST_CASE("[piece_picker] random first piece until N pieces are complete", "[piece_picker]") {
  std::set<std::uint32_t> with_few, with_enough;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    auto few = build({.availability = "1999999999", .have = "0000000111", .seed = seed,
                      .random_first = 4});
    with_few.insert(pieces(pick(few, "1111111111", 1))[0]);
    auto enough = build({.availability = "1999999999", .have = "0000001111", .seed = seed,
                         .random_first = 4});
    with_enough.insert(pieces(pick(enough, "1111111111", 1))[0]);
  }
  CHECK(with_few.size() > 1);  // not only the rarest piece 0
  CHECK(with_few.count(7) == 0);
  CHECK(with_enough == std::set<std::uint32_t>{0});  // rarest first once 4 pieces are done
}

TEST_CASE("[piece_picker] priorities", "[piece_picker]") {
  SECTION("higher priority beats rarity; priority 0 is never picked") {
    auto pp = build({.availability = "1222222", .priority = "4771001"});
    auto picked = pieces(pick(pp, "1111111", 8));
    std::sort(picked.begin(), picked.end());
    CHECK(picked == std::vector<std::uint32_t>{1, 2});
    CHECK(pieces(pick(pp, "1111111", 4, p2)) == std::vector<std::uint32_t>{0});
    auto low = pieces(pick(pp, "1111111", 8, p3));
    std::sort(low.begin(), low.end());
    CHECK(low == std::vector<std::uint32_t>{3, 6});
    CHECK(pick(pp, "0000110", 4, peer_handle{5}).empty());
  }
  SECTION("finished means every wanted piece") {
    auto pp = build({.availability = "1111", .priority = "1001"});
    CHECK(pp.bytes_wanted() == 2 * 4 * bs);
    CHECK(pp.bytes_left() == 2 * 4 * bs);
    CHECK_FALSE(pp.is_finished());
    pp.we_have(piece_index{0});
    CHECK(pp.bytes_left() == 4 * bs);
    pp.we_have(piece_index{3});
    CHECK(pp.is_finished());
    CHECK_FALSE(pp.is_seed());
    CHECK(pp.bytes_have() == 2 * 4 * bs);
    pp.set_piece_priority(piece_index{1}, 2);
    CHECK_FALSE(pp.is_finished());
    CHECK(pp.bytes_left() == 4 * bs);
  }
  SECTION("piece ranges and per-file byte ranges") {
    auto pp = build({.availability = "11111111"});
    pp.set_piece_priority(wt::piece_range{piece_index{2}, piece_index{20}}, 9);  // clamped
    CHECK(pp.piece_priority(piece_index{1}) == 4);
    CHECK(pp.piece_priority(piece_index{2}) == 7);
    CHECK(pp.piece_priority(piece_index{7}) == 7);

    // Three files: [0, 100000) prio 1, [100000, 300000) prio 0, [300000, end) prio 6.
    // A piece is 65536 bytes: piece 1 is shared by files 0 and 1, piece 4 by 1 and 2.
    const wt::byte_range_priority files[] = {
        {0, 100000, 1}, {100000, 200000, 0}, {300000, 8 * 65536 - 300000, 6}, {5, 0, 7}};
    pp.set_priorities_from_ranges(files);
    std::string prios;
    for (std::uint32_t i = 0; i < 8; ++i) prios += static_cast<char>('0' + pp.piece_priority(piece_index{i}));
    CHECK(prios == "11006666");
  }
}

TEST_CASE("[piece_picker] partial pieces are finished first", "[piece_picker]") {
  SECTION("a started piece beats a rarer one") {
    auto pp = build({.availability = "1113111", .requested = "   1"});
    CHECK(bar(pp) == "   d   ");
    CHECK(pick(pp, "1111111", 3) == blocks_of(3, {1, 2, 3}));
    CHECK(pp.requesters({piece_index{3}, 1}) == std::vector<peer_handle>{p1});
    CHECK(pp.requesters({piece_index{3}, 0}) == std::vector<peer_handle>{setup_requester});
  }
  SECTION("received blocks are not picked again") {
    auto pp = build({.availability = "1113111", .received = "   5"});
    CHECK(pick(pp, "1111111", 2) == blocks_of(3, {1, 3}));
  }
  SECTION("but not over a higher priority") {
    auto pp = build({.availability = "1111", .priority = "4414", .requested = "  1"});
    CHECK(pieces(pick(pp, "1111", 4)).size() == 1);
    CHECK(pp.state({piece_index{2}, 1}) == wt::block_state::none);
  }
  SECTION("a peer lacking the partial piece starts another one") {
    auto pp = build({.availability = "1111", .requested = "1"});
    const auto picked = pieces(pick(pp, "0111", 4));
    REQUIRE(picked.size() == 1);
    CHECK(picked[0] != 0);
  }
}

TEST_CASE("[piece_picker] streaming deadlines preempt and are ordered", "[piece_picker]") {
  auto pp = build({.availability = "1222222222"});
  const wt::reader_handle r1{1}, r2{2};
  pp.set_deadline(r1, {piece_index{5}, piece_index{7}}, at(10s), 1s);
  CHECK(pp.deadline(piece_index{6}) == at(11s));
  CHECK_FALSE(pp.deadline(piece_index{4}));

  // In order within the reader, ahead of the rarest piece 0.
  CHECK(pieces(pick(pp, "1111111111", 6)) == std::vector<std::uint32_t>{5, 6});

  SECTION("earliest deadline first across readers") {
    pp.set_deadline(r2, {piece_index{2}, piece_index{2}}, at(10500ms));
    // 5 is fully requested; 2 (10.5 s) comes before the rest of 6 (11 s).
    CHECK(pieces(pick(pp, "1111111111", 6, p2)) == std::vector<std::uint32_t>{2, 6});
    CHECK(pieces(pick(pp, "1111111111", 2, p3)) == std::vector<std::uint32_t>{7});
    CHECK(pp.deadline(piece_index{2}) == at(10500ms));
  }
  SECTION("a seek moves the deadlines at once") {
    pp.set_deadline(r1, {piece_index{8}, piece_index{9}}, at(20s), 1s);
    CHECK_FALSE(pp.deadline(piece_index{7}));
    CHECK(pieces(pick(pp, "1111111111", 5, p2)) == std::vector<std::uint32_t>{8, 9});
    // The old read head keeps its started piece but has no precedence any more.
    pp.clear_deadlines(r1);
    CHECK(pieces(pick(pp, "1111111111", 2, p3)) == std::vector<std::uint32_t>{6});
    CHECK(pieces(pick(pp, "1111111111", 4, p3)) == std::vector<std::uint32_t>{9, 0});
  }
  SECTION("pieces we have are skipped, priority 0 pieces are still read") {
    pp.we_have(piece_index{7});
    pp.set_piece_priority(piece_index{8}, 0);
    pp.set_deadline(r1, {piece_index{7}, piece_index{9}}, at(10s), 1s);
    CHECK(pieces(pick(pp, "1111111111", 8, p2)) == std::vector<std::uint32_t>{8, 9});
  }
  SECTION("a peer lacking the deadline piece gets the next one it has") {
    CHECK(pieces(pick(pp, "1111111011", 1, p2)) == std::vector<std::uint32_t>{6});
  }
}

TEST_CASE("[piece_picker] the pieces just past a reader's come next among the rarest, in order", "[piece_picker]") {
  // They come due as the reader moves: asked for ahead, each is on its way when it does.
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    auto pp = build({.availability = "1111111111", .seed = seed});
    pp.set_deadline(wt::reader_handle{1}, {piece_index{2}, piece_index{3}}, at(10s), 1s);
    CHECK(pieces(pick(pp, "1111111111", 20)) == std::vector<std::uint32_t>{2, 3, 4, 5, 6});
    // The reader moves on: its range and the pieces past it, from where it is.
    pp.set_deadline(wt::reader_handle{1}, {piece_index{5}, piece_index{6}}, at(11s), 1s);
    CHECK(pieces(pick(pp, "1111111111", 8, p2)) == std::vector<std::uint32_t>{7, 8});
  }
  SECTION("a rarer piece still comes first") {
    auto pp = build({.availability = "2222222221"});
    pp.set_deadline(wt::reader_handle{1}, {piece_index{2}, piece_index{3}}, at(10s), 1s);
    CHECK(pieces(pick(pp, "1111111111", 12)) == std::vector<std::uint32_t>{2, 3, 9});
  }
}

TEST_CASE("[piece_picker] at-risk deadline blocks are requested again from another peer", "[piece_picker]") {
  auto pp = build({.availability = "2222"});
  pp.set_deadline(wt::reader_handle{1}, {piece_index{1}, piece_index{1}}, at(10s));
  REQUIRE(pick(pp, "1111", 4, p1, at(0s)) == blocks_of(1, {0, 1, 2, 3}));

  wt::pick_options o = opts(4, at(9s));
  SECTION("not asked for: another piece") {
    CHECK(pieces(pp.pick_blocks(p2, bitfield::from_string("1111"), o)) != std::vector<std::uint32_t>{1});
  }
  SECTION("deadline within the window, requests old enough: duplicates") {
    o.at_risk_window = 2s;
    o.at_risk_min_age = 5s;
    CHECK(pp.pick_blocks(p2, bitfield::from_string("1111"), o) == blocks_of(1, {0, 1, 2, 3}));
    CHECK(pp.requesters({piece_index{1}, 2}) == std::vector<peer_handle>{p1, p2});
    // The first to deliver wins; the other gets a cancel.
    const auto got = pp.mark_block_received({piece_index{1}, 2}, p2);
    CHECK(got.accepted);
    CHECK(got.cancel == std::vector<peer_handle>{p1});
    CHECK_FALSE(pp.mark_block_received({piece_index{1}, 2}, p1).accepted);
  }
  SECTION("requests too recent: no duplicates") {
    o.at_risk_window = 2s;
    o.at_risk_min_age = 10s;
    CHECK(pieces(pp.pick_blocks(p2, bitfield::from_string("1111"), o)) != std::vector<std::uint32_t>{1});
  }
  SECTION("deadline still far: no duplicates") {
    o.at_risk_window = 500ms;
    o.at_risk_min_age = 1s;
    CHECK(pieces(pp.pick_blocks(p2, bitfield::from_string("1111"), o)) != std::vector<std::uint32_t>{1});
  }
}

TEST_CASE("[piece_picker] blocks to avoid are not picked for that peer; others may take them", "[piece_picker]") {
  auto pp = build({.availability = "1"});
  const std::vector<block_address> avoid = blocks_of(0, {0, 2});
  wt::pick_options o = opts(4);
  o.avoid = &avoid;
  CHECK(pp.pick_blocks(p1, bitfield::from_string("1"), o) == blocks_of(0, {1, 3}));
  CHECK(pick(pp, "1", 2, p2) == blocks_of(0, {0, 2}));  // the free ones first
}

TEST_CASE("[piece_picker] end-game duplicates and cancels", "[piece_picker]") {
  auto pp = build({.availability = "22", .have = "", .requested = "f7"});
  // Piece 1 block 3 is still free: not end-game yet.
  CHECK_FALSE(pp.in_end_game());
  CHECK(pick(pp, "11", 1, p1) == blocks_of(1, {3}));
  CHECK(pp.in_end_game());

  // Every block is requested: p2 may duplicate, up to 2 requesters per block.
  const auto dup = pick(pp, "11", 8, p2);
  CHECK(dup.size() == 8);
  CHECK(pp.requesters({piece_index{0}, 0}) == std::vector<peer_handle>{p2, setup_requester});
  CHECK(pick(pp, "11", 8, p3).empty());  // bounded
  CHECK(pick(pp, "11", 8, p1).empty());  // p1 already asked for the rest

  SECTION("a block arrives: cancel it at the other requester") {
    const auto got = pp.mark_block_received({piece_index{0}, 1}, setup_requester);
    CHECK(got.accepted);
    CHECK(got.cancel == std::vector<peer_handle>{p2});
    CHECK(pp.requesters({piece_index{0}, 1}).empty());
    CHECK(pp.delivered_by({piece_index{0}, 1}) == setup_requester);
  }
  SECTION("max_requesters 1 turns duplicates off") {
    wt::pick_options o = opts(8);
    o.max_requesters = 1;
    CHECK(pp.pick_blocks(p3, bitfield::from_string("11"), o).empty());
  }
  SECTION("a peer that left frees its duplicates but the blocks stay requested") {
    const auto released = pp.release_peer(p2);
    CHECK(released.size() == 8);
    CHECK(pp.state({piece_index{0}, 0}) == wt::block_state::requested);
    CHECK(pick(pp, "11", 2, p3).size() == 2);
  }
}

TEST_CASE("[piece_picker] hash failure resets the piece and names who sent what", "[piece_picker]") {
  auto pp = build({.availability = "111"});
  REQUIRE(pick(pp, "010", 4, p1) == blocks_of(1, {0, 1, 2, 3}));
  CHECK(pp.mark_block_received({piece_index{1}, 0}, p1).accepted);
  CHECK(pp.mark_block_received({piece_index{1}, 1}, p2).accepted);  // unsolicited from p2
  CHECK_FALSE(pp.mark_block_received({piece_index{1}, 1}, p3).accepted);  // duplicate
  CHECK(pp.mark_block_received({piece_index{1}, 2}, p1).accepted);
  CHECK(bar(pp) == " d ");
  const auto last = pp.mark_block_received({piece_index{1}, 3}, p3);
  CHECK(last.accepted);
  CHECK(last.piece_complete);
  CHECK(bar(pp) == " c ");
  CHECK(pick(pp, "010", 4, p2).empty());  // being verified: nothing to pick
  CHECK(pp.requesters({piece_index{1}, 1}).empty());

  SECTION("hash failure") {
    const auto origins = pp.mark_hash_failed(piece_index{1});
    REQUIRE(origins.size() == 4);
    CHECK(origins[0].peer == p1);
    CHECK(origins[1].peer == p2);
    CHECK(origins[2].peer == p1);
    CHECK(origins[3].peer == p3);
    CHECK(origins[3].block == 3);
    CHECK(bar(pp) == "   ");
    CHECK(pp.state({piece_index{1}, 0}) == wt::block_state::none);
    CHECK(pick(pp, "010", 4, p2) == blocks_of(1, {0, 1, 2, 3}));
  }
  SECTION("hash success") {
    pp.mark_verified(piece_index{1});
    CHECK(bar(pp) == " * ");
    CHECK(pp.have(piece_index{1}));
    CHECK(pp.num_have() == 1);
    CHECK(pp.have_pieces().to_string() == "010");
    CHECK(pp.bytes_left() == 2 * 4 * bs);
    CHECK_FALSE(pp.mark_block_received({piece_index{1}, 0}, p1).accepted);
    CHECK(pick(pp, "010", 4, p2).empty());
    CHECK(pp.mark_hash_failed(piece_index{1}).empty());
  }
}

TEST_CASE("[piece_picker] request timeouts", "[piece_picker]") {
  auto pp = build({.availability = "11"});
  REQUIRE(pick(pp, "10", 4, p1, at(0s)).size() == 4);
  REQUIRE(pick(pp, "01", 2, p2, at(15s)).size() == 2);

  const auto late = pp.timed_out_requests(at(30s), 20s);
  REQUIRE(late.size() == 4);
  CHECK(late[0].block == block_address{piece_index{0}, 0});
  CHECK(late[0].peer == p1);
  CHECK(late[0].requested_at == at(0s));
  CHECK(pp.timed_out_requests(at(40s), 20s).size() == 6);

  SECTION("the session gives up on them") {
    for (const auto& r : late) pp.abort_request(r.block, r.peer);
    CHECK(bar(pp) == " d");  // piece 0 is open again
    CHECK(pick(pp, "10", 4, p3, at(30s)) == blocks_of(0, {0, 1, 2, 3}));
  }
  SECTION("pick_blocks re-requests stale blocks from another peer") {
    wt::pick_options o = opts(8, at(30s));
    CHECK(pp.pick_blocks(p3, bitfield::from_string("10"), o).empty());  // not asked to
    o.request_timeout = 20s;
    CHECK(pp.pick_blocks(p3, bitfield::from_string("10"), o) == blocks_of(0, {0, 1, 2, 3}));
    CHECK(pp.requesters({piece_index{0}, 0}) == std::vector<peer_handle>{p1, p3});
    // Piece 1: blocks 2 and 3 are free, 0 and 1 were requested 15 s ago (fresh).
    o.count = 2;
    CHECK(pp.pick_blocks(p3, bitfield::from_string("01"), o) == blocks_of(1, {2, 3}));
    // Now every block is requested: end-game duplicates the fresh ones too.
    CHECK(pp.in_end_game());
    CHECK(pp.pick_blocks(p3, bitfield::from_string("01"), o) == blocks_of(1, {0, 1}));
  }
}

TEST_CASE("[piece_picker] peer disconnect releases its requests", "[piece_picker]") {
  auto pp = build({.availability = "111"});
  REQUIRE(pick(pp, "110", 8, p1).size() == 8);
  REQUIRE(pp.mark_block_received({piece_index{0}, 0}, p1).accepted);
  CHECK(bar(pp) == "dd ");

  const auto released = pp.release_peer(p1);
  CHECK(released.size() == 7);
  CHECK(released.front() == block_address{piece_index{0}, 1});
  CHECK(bar(pp) == "d  ");  // piece 1 had nothing received: open again
  CHECK(pp.release_peer(p1).empty());
  CHECK(pp.state({piece_index{0}, 1}) == wt::block_state::none);
  CHECK(pp.state({piece_index{0}, 0}) == wt::block_state::received);
  CHECK(pp.num_partial_pieces() == 1);

  // Abort of a single request (reject): only that block.
  REQUIRE(pick(pp, "100", 3, p2) == blocks_of(0, {1, 2, 3}));
  pp.abort_request({piece_index{0}, 2}, p2);
  CHECK(pp.state({piece_index{0}, 2}) == wt::block_state::none);
  CHECK(pick(pp, "100", 3, p3) == blocks_of(0, {2}));
}

TEST_CASE("[piece_picker] availability bookkeeping", "[piece_picker]") {
  piece_picker pp(5 * 4 * bs, 4 * bs, 7);
  pp.set_random_first_pieces(0);
  pp.inc_bitfield(bitfield::from_string("11010"));
  pp.inc_bitfield(bitfield::from_string("10010"));
  pp.inc_have(piece_index{4});
  pp.inc_have_all();
  CHECK(pp.availability(piece_index{0}) == 3);
  CHECK(pp.availability(piece_index{2}) == 1);
  CHECK(pp.availability(piece_index{4}) == 2);
  // Seeds do not change the order: piece 2 (no peer but the seed) is rarest.
  CHECK(pieces(pick(pp, "11111", 1)) == std::vector<std::uint32_t>{2});
  pp.dec_bitfield(bitfield::from_string("11010"));
  pp.dec_have_all();
  pp.dec_have_all();                 // extra decrements are ignored
  pp.dec_have(piece_index{2});
  CHECK(pp.availability(piece_index{0}) == 1);
  CHECK(pp.availability(piece_index{1}) == 0);
  CHECK(pp.availability(piece_index{2}) == 0);
  pp.inc_have(piece_index{9});       // out of range: ignored
  CHECK(pp.availability(piece_index{9}) == 0);
}

TEST_CASE("[piece_picker] we_have and we_dont_have", "[piece_picker]") {
  auto pp = build({.availability = "1111", .requested = "3"});
  pp.we_have(piece_index{0});  // a recheck found it: partial state dropped
  CHECK(bar(pp) == "*   ");
  CHECK(pp.requesters({piece_index{0}, 0}).empty());
  pp.we_have(piece_index{1});
  pp.we_have(piece_index{2});
  pp.we_have(piece_index{3});
  CHECK(pp.is_seed());
  CHECK(pp.is_finished());
  CHECK_FALSE(pp.in_end_game());
  CHECK(pick(pp, "1111", 4).empty());
  pp.we_dont_have(piece_index{2});
  CHECK(pp.num_have() == 3);
  CHECK(pieces(pick(pp, "1111", 4)) == std::vector<std::uint32_t>{2});
}

TEST_CASE("[piece_picker] many pieces stay cheap", "[piece_picker]") {
  const std::uint32_t n = 200'000;
  piece_picker pp(std::int64_t{n} * 2 * bs, 2 * bs, 3);
  pp.set_random_first_pieces(0);
  bitfield all(n, true);
  for (int peer = 0; peer < 3; ++peer) pp.inc_bitfield(all);
  pp.inc_have(piece_index{123'456});
  pp.dec_have(piece_index{654});
  CHECK(pieces(pick(pp, all.to_string(), 2)) == std::vector<std::uint32_t>{654});
  std::set<std::uint32_t> seen;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    const auto picked = pp.pick_blocks(peer_handle{i % 50}, all, opts(2));
    REQUIRE(picked.size() == 2);
    seen.insert(picked[0].piece.value);
  }
  CHECK(seen.size() == 5000);  // one fresh piece per call
  CHECK(seen.count(123'456) == 0);
}

TEST_CASE("[piece_picker] requests recorded by the session", "[piece_picker]") {
  auto pp = build({.availability = "111", .have = "  *", .received = " 1"});
  const block_address b{piece_index{0}, 2};
  CHECK(pp.mark_requested(b, p1, at(1s)));
  CHECK_FALSE(pp.mark_requested(b, p1, at(2s)));  // same peer twice
  CHECK(pp.mark_requested(b, p2, at(2s)));        // a second peer
  CHECK(pp.requesters(b) == std::vector<peer_handle>{p1, p2});
  CHECK_FALSE(pp.mark_requested({piece_index{1}, 0}, p1, at(1s)));  // already received
  CHECK_FALSE(pp.mark_requested({piece_index{2}, 0}, p1, at(1s)));  // we have it
  CHECK_FALSE(pp.mark_requested({piece_index{0}, 4}, p1, at(1s)));  // no such block
  CHECK_FALSE(pp.mark_requested({piece_index{3}, 0}, p1, at(1s)));  // no such piece
  CHECK(bar(pp) == "dd*");
  pp.abort_request(b, p1);
  pp.abort_request(b, p2);
  CHECK(bar(pp) == " d*");
  CHECK_FALSE(pp.mark_block_received({piece_index{2}, 0}, p1).accepted);  // we have it
  CHECK_FALSE(pp.mark_block_received({piece_index{0}, 9}, p1).accepted);  // no such block
}

TEST_CASE("[piece_picker] a started piece set to priority 0 is left alone", "[piece_picker]") {
  auto pp = build({.availability = "1111", .requested = " 1"});
  pp.set_piece_priority(piece_index{1}, 0);
  const auto picked = pieces(pick(pp, "0100", 4));
  CHECK(picked.empty());
  CHECK(pp.bytes_wanted() == 3 * 4 * bs);
  // A reader still gets it.
  pp.set_deadline(wt::reader_handle{7}, {piece_index{1}, piece_index{1}}, at(1s));
  CHECK(pick(pp, "0100", 4) == blocks_of(1, {1, 2, 3}));
}

TEST_CASE("[piece_picker] range priorities: the last call wins; deselected ranges are left, reselected ones come back", "[piece_picker]") {
  auto pp = build({.availability = "11111111"});
  // WebTorrent's deselect(0, 7), select(2, 3), select(6, 6, higher).
  pp.set_piece_priority(wt::piece_range{piece_index{0}, piece_index{7}}, 0);
  CHECK(pp.is_finished());  // nothing wanted
  CHECK(pick(pp, "11111111", 8).empty());
  pp.set_piece_priority(wt::piece_range{piece_index{2}, piece_index{3}}, 4);
  pp.set_piece_priority(wt::piece_range{piece_index{6}, piece_index{6}}, 7);
  CHECK_FALSE(pp.is_finished());
  CHECK(pp.bytes_wanted() == 3 * 4 * bs);
  auto picked = pieces(pick(pp, "11111111", 12));
  REQUIRE(picked.size() == 3);
  CHECK(picked[0] == 6);  // the higher priority first
  std::sort(picked.begin(), picked.end());
  CHECK(picked == std::vector<std::uint32_t>{2, 3, 6});
  CHECK(pick(pp, "11111111", 4, p2).size() == 4);  // end-game duplicates only
  CHECK(pp.in_end_game());
  // Lowered by a later call: the last one wins, not the highest.
  pp.set_piece_priority(wt::piece_range{piece_index{6}, piece_index{6}}, 1);
  CHECK(pp.piece_priority(piece_index{6}) == 1);
}

TEST_CASE("[piece_picker] critical pieces (deadlines due now) come before every priority, in piece order", "[piece_picker]") {
  // Piece 0 is rarest and at top priority; pieces 4-5 are deselected; 5-6 critical.
  auto pp = build({.availability = "12222222", .priority = "74440044"});
  const wt::reader_handle critical{1u << 31};
  pp.set_deadline(critical, {piece_index{5}, piece_index{6}}, at(3s));
  CHECK(pp.deadline(piece_index{5}) == at(3s));
  CHECK(pp.deadline(piece_index{6}) == at(3s));
  // A streaming reader opened earlier still comes first where it is due earlier.
  pp.set_deadline(wt::reader_handle{1}, {piece_index{2}, piece_index{3}}, at(2s), 2s);
  CHECK(pieces(pick(pp, "11111111", 12, p1, at(3s))) == std::vector<std::uint32_t>{2, 5, 6});
  // Then the reader's later piece (due at 4 s), then priorities (the rarest 7 first).
  CHECK(pieces(pick(pp, "11111111", 8, p2, at(3s))) == std::vector<std::uint32_t>{3, 0});
  // The session clears a critical range once it is verified; that ends the precedence.
  pp.clear_deadlines(critical);
  CHECK_FALSE(pp.deadline(piece_index{5}));
}

TEST_CASE("[piece_picker] extent affinity: pieces of equal rarity are taken an extent at a time", "[piece_picker]") {
  // 16 KiB pieces: an extent is 256 pieces; 1024 pieces.
  constexpr std::uint32_t extent = piece_picker::extent_bytes / bs;
  const bitfield all = bitfield::from_string(std::string(4 * extent, '1'));
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    piece_picker pp(std::int64_t{4} * extent * bs, bs, seed);
    pp.set_random_first_pieces(0);
    pp.inc_bitfield(all);                // every piece held by one peer...
    pp.dec_have(piece_index{3 * extent + 5});  // ...but one, held only by the seed below
    pp.inc_have_all();
    std::vector<std::uint32_t> order;
    for (std::uint32_t i = 0; i < 2 * extent; ++i) {
      const auto picked = pp.pick_blocks(peer_handle{1000 + i}, all, opts(1));
      REQUIRE(picked.size() == 1);
      order.push_back(picked[0].piece.value);
    }
    CHECK(order[0] == 3 * extent + 5);  // the rarest piece first, wherever it is
    // Its extent goes on, whole, in order; then one other extent, whole, in order from its
    // start (a seeder reading a file then reads the extent front to back).
    std::vector<std::uint32_t> rest_of_third;
    for (std::uint32_t p = 3 * extent; p < 4 * extent; ++p) {
      if (p != 3 * extent + 5) rest_of_third.push_back(p);
    }
    CHECK(std::vector<std::uint32_t>(order.begin() + 1, order.begin() + extent) == rest_of_third);
    const std::uint32_t next = order[extent] / extent;
    CHECK(next != 3);
    CHECK(std::all_of(order.begin() + extent, order.end(), [&](std::uint32_t p) { return p / extent == next; }));
    CHECK(std::set<std::uint32_t>(order.begin() + extent, order.end()).size() == extent);
    for (std::uint32_t i = 0; i < extent; ++i) CHECK(order[extent + i] == next * extent + i);
  }
  // Pieces of 4 MiB or more: no extents, plain random tie-break (tested above).
}

TEST_CASE("[piece_picker] sequential strategy: lowest index first within a priority", "[piece_picker]") {
  constexpr auto sequential = wt::pick_strategy::sequential;
  // One piece (4 blocks) per pick, each by another peer, until every piece is requested.
  const auto order = [](piece_picker& pp, const std::string& peer_has) {
    std::vector<std::uint32_t> out;
    for (std::uint32_t i = 0; i < 64; ++i) {
      const auto more = pieces(pick(pp, peer_has, 4, peer_handle{100 + i}));
      out.insert(out.end(), more.begin(), more.end());
      if (more.empty() || pp.in_end_game()) break;
    }
    return out;
  };

  SECTION("a peer that has everything: piece order, where rarest first starts with the rarest") {
    for (std::uint64_t seed = 0; seed < 8; ++seed) {
      // The random first pieces rule (4) is on: sequential skips it.
      auto seq = build({.availability = "3332122", .seed = seed, .random_first = 4, .strategy = sequential});
      seq.inc_have_all();
      CHECK(order(seq, "1111111") == std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6});
      auto rarest = build({.availability = "3332122", .seed = seed});
      rarest.inc_have_all();
      CHECK(order(rarest, "1111111").front() == 4);
    }
    // Several pieces in one pick, too.
    auto seq = build({.availability = "3332122", .strategy = sequential});
    CHECK(pieces(pick(seq, "1111111", 12)) == std::vector<std::uint32_t>{0, 1, 2});
  }
  SECTION("priorities still rank first; priority 0 and pieces we have are skipped") {
    auto pp = build({.availability = "1222222", .have = " *", .priority = "4771001", .strategy = sequential});
    CHECK(order(pp, "1111111") == std::vector<std::uint32_t>{2, 0, 3, 6});
  }
  SECTION("a peer lacking a piece gets the next one it has") {
    auto pp = build({.availability = "1111111", .strategy = sequential});
    CHECK(pieces(pick(pp, "0101011", 8)) == std::vector<std::uint32_t>{1, 3});
    CHECK(pieces(pick(pp, "1111111", 4, p2)) == std::vector<std::uint32_t>{0});
  }
  SECTION("partial pieces are finished in piece order, not rarest first") {
    auto pp = build({.availability = "2222212", .requested = "  1  1", .strategy = sequential});
    CHECK(pick(pp, "1111111", 6) == std::vector<block_address>{{piece_index{2}, 1}, {piece_index{2}, 2},
                                                              {piece_index{2}, 3}, {piece_index{5}, 1},
                                                              {piece_index{5}, 2}, {piece_index{5}, 3}});
    auto rarest = build({.availability = "2222212", .requested = "  1  1"});
    CHECK(pieces(pick(rarest, "1111111", 6)) == std::vector<std::uint32_t>{5, 2});
  }
  SECTION("deadline pieces still come first") {
    auto pp = build({.availability = "1111111", .strategy = sequential});
    pp.set_deadline(wt::reader_handle{1}, {piece_index{5}, piece_index{5}}, at(1s));
    CHECK(pieces(pick(pp, "1111111", 8)) == std::vector<std::uint32_t>{5, 0});
  }
  SECTION("a piece storage lost is picked again before later ones") {
    auto pp = build({.availability = "1111", .have = "**", .strategy = sequential});
    CHECK(pieces(pick(pp, "1111", 4)) == std::vector<std::uint32_t>{2});
    pp.we_dont_have(piece_index{0});
    CHECK(pieces(pick(pp, "1111", 4, p2)) == std::vector<std::uint32_t>{0});
  }
}
