// The piece picker: decides which blocks to request next. A pure data structure
// (no I/O, no clock, no global randomness): availability, priorities, our own
// pieces, block-level request state, streaming deadlines and end-game.
//
// Picking order for one call of pick_blocks():
//   1. pieces with a streaming deadline, earliest deadline first (in piece order
//      within a reader); also at-risk blocks of urgent pieces when asked for;
//   2. blocks of partial pieces (finish what is started), by priority, rarest first;
//   3. while we have fewer than random_first_pieces() pieces: a random new piece;
//   4. new pieces, highest priority first, rarest first, random tie-break, an extent
//      (extent_bytes of neighbouring pieces) at a time where rarity allows; among the
//      rarest, first the pieces just past a reader's range (an extent's worth, in order):
//      they come due as the reader moves;
//   With pick_strategy::sequential, steps 2 and 4 go lowest piece index first instead of
//   rarest first within a priority, and step 3 is skipped.
//   5. end-game: when no wanted block is unrequested, blocks already requested
//      from other peers (at most max_requesters per block).
// Picked blocks are recorded as requested by the peer at `now` at once.
//
// Complexity (n pieces, P partial pieces, A = distinct availability counts):
//   inc/dec_have, set_piece_priority, we_have:      O(1)
//   inc/dec_bitfield:                               O(n / 64 + pieces set)
//   inc/dec_have_all (seeds):                       O(1)
//   pick_blocks:  O(D + P log P + 7 A + S + R E + blocks scanned) where D is the deadline
//                 pieces skipped, S the new pieces skipped because the peer lacks them
//                 (0 for a seed), R the readers and E the pieces of an extent; no step
//                 is O(n) for a peer that has what we want.
//                 sequential: S is the open pieces of other priorities, or that the
//                 peer lacks, between the first piece we lack and the ones picked.
//   mark_block_received, abort_request:             O(requests outstanding in the piece)
//   release_peer, timed_out_requests:               O(requests outstanding)
//   piece_states:                                   O(n)
// Memory: about 20 bytes per piece, plus per partial piece 8 bytes per block and
// 16 bytes per outstanding request.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/bitfield.hpp"
#include "base/clock.hpp"
#include "metainfo/metainfo.hpp"
#include "base/random.hpp"

namespace wt {

// The session's handle for a peer connection (or web seed), as the picker knows it.
using peer_handle = strong_id<struct peer_handle_tag>;
// A streaming reader (a stream with a read head and readahead).
using reader_handle = strong_id<struct reader_handle_tag>;

struct block_address {
  piece_index piece;
  std::uint32_t block = 0;  // index of the 16 KiB block within the piece
  friend auto operator<=>(block_address, block_address) = default;
};

// What a request message carries.
struct block_request {
  piece_index piece;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

// How pieces without a deadline are ordered within a priority (WebTorrent's add option
// `strategy`). Rarest first spreads pieces over a swarm; sequential suits a reader that
// starts at the beginning and cannot say so with deadlines.
enum class pick_strategy : std::uint8_t { rarest_first, sequential };

enum class block_state : std::uint8_t { none, requested, received };

// For a "bar of pieces" UI.
enum class piece_state : std::uint8_t {
  missing,      // nothing requested or received
  downloading,  // some blocks requested or received (in flight)
  complete,     // every block received, hash not checked yet
  have,         // verified
};

// One outstanding request.
struct outstanding_request {
  block_address block;
  peer_handle peer;
  time_point requested_at;
};

// Which peer delivered which block of a piece (returned on hash failure).
struct block_origin {
  std::uint32_t block = 0;
  peer_handle peer;
};

struct received_result {
  bool accepted = false;        // false: duplicate, or a piece we have or are verifying
  bool piece_complete = false;  // every block is in: hash the piece now
  std::vector<peer_handle> cancel;  // other peers that requested this block: send cancel
};

struct pick_options {
  std::uint32_t count = 1;  // blocks wanted (free request slots of the peer)
  time_point now{};
  // Requests older than this may be given to another peer too (zero: never).
  duration request_timeout{0};
  // Streaming: a deadline piece is urgent when its deadline is at most now +
  // at_risk_window (zero: never). Blocks of urgent pieces that were requested from
  // another peer at least at_risk_min_age ago may be requested again from this peer.
  // The session sets both from its speed estimate of this peer vs the others.
  duration at_risk_window{0};
  duration at_risk_min_age{0};
  // Most peers one block may be requested from at the same time (end-game,
  // at-risk, timed out). 1 disables duplicate requests altogether.
  std::uint32_t max_requesters = 2;
  // Most blocks of pieces without a deadline to pick (steps 2-5 above); deadline
  // pieces take what they need first. The session limits these while it streams.
  std::uint32_t max_undue = 0xffffffffu;
  // Blocks not to request from this peer (sorted): ones it was asked to cancel and may
  // still send, since a cancel that arrives after the block left cannot stop it.
  const std::vector<block_address>* avoid = nullptr;
};

// Priority of one byte range, for set_priorities_from_ranges().
struct byte_range_priority {
  std::int64_t offset = 0;
  std::int64_t length = 0;
  std::uint8_t priority = 0;
};

class piece_picker {
 public:
  static constexpr std::uint32_t block_size = 16 * 1024;
  static constexpr std::uint8_t default_priority = 4;
  static constexpr std::uint8_t top_priority = 7;
  // Piece extent affinity: new pieces of equal rarity are taken a run of this many bytes
  // of neighbouring pieces at a time, so that stores write and seeders read neighbours
  // together (a seeder reading a File serves a run of pieces with one read; disk writes
  // stay sequential; a web seed gets longer ranges).
  static constexpr std::int64_t extent_bytes = 4 * 1024 * 1024;

  // total_length > 0, piece_length > 0. Every piece starts missing, with
  // default_priority and availability zero. `seed` drives every random choice.
  piece_picker(std::int64_t total_length, std::int64_t piece_length, std::uint64_t seed);

  // --- geometry --------------------------------------------------------------
  std::uint32_t num_pieces() const noexcept { return num_pieces_; }
  std::int64_t piece_length() const noexcept { return piece_length_; }
  std::int64_t total_length() const noexcept { return total_length_; }
  std::uint32_t piece_size(piece_index p) const noexcept;  // the last piece may be shorter
  std::uint32_t blocks_in_piece(piece_index p) const noexcept;
  std::uint32_t block_length(block_address b) const noexcept;  // the last block may be shorter
  block_request request_for(block_address b) const noexcept;
  // The block a request message (piece, offset) names; nullopt unless it is the
  // start of a block of that piece with the right length.
  std::optional<block_address> block_at(const block_request& r) const noexcept;
  // Pieces touched by the byte range [offset, offset + length); nullopt when empty
  // or outside the torrent.
  std::optional<piece_range> pieces_for_bytes(std::int64_t offset, std::int64_t length) const noexcept;

  // --- availability ------------------------------------------------------------
  void inc_have(piece_index p);                // a peer announced HAVE
  void dec_have(piece_index p);                // a peer lost it (or left)
  void inc_bitfield(const bitfield& peer_has);  // a peer's BITFIELD
  void dec_bitfield(const bitfield& peer_has);  // that peer left
  void inc_have_all();                         // HAVE_ALL or a full bitfield from a seed
  void dec_have_all();
  std::uint32_t availability(piece_index p) const noexcept;

  // --- our pieces ------------------------------------------------------------------
  bool have(piece_index p) const noexcept { return have_.test(p.value); }
  const bitfield& have_pieces() const noexcept { return have_; }
  // Resume data or a recheck found the piece; drops any partial state of it.
  void we_have(piece_index p);
  // Storage lost the piece; it becomes missing.
  void we_dont_have(piece_index p);
  std::uint32_t num_have() const noexcept { return num_have_; }
  // Every piece with priority > 0 is verified.
  bool is_finished() const noexcept { return num_wanted_have_ == num_wanted_; }
  bool is_seed() const noexcept { return num_have_ == num_pieces_; }
  std::int64_t bytes_wanted() const noexcept { return wanted_bytes_; }  // priority > 0
  std::int64_t bytes_left() const noexcept { return wanted_bytes_ - wanted_have_bytes_; }
  std::int64_t bytes_have() const noexcept { return have_bytes_; }

  // --- priorities (0 = do not download, 1..7, default 4) ---------------------------
  void set_piece_priority(piece_index p, std::uint8_t priority);
  // Inclusive range; priorities above top_priority are clamped.
  void set_piece_priority(piece_range r, std::uint8_t priority);
  // Sets every piece to the highest priority among the byte ranges that touch it
  // (0 when none does): per-file priorities, with shared boundary pieces taking the
  // highest priority of their files. Empty ranges are ignored. O(n + ranges).
  void set_priorities_from_ranges(std::span<const byte_range_priority> ranges);
  std::uint8_t piece_priority(piece_index p) const noexcept { return pieces_[p.value].priority; }

  // --- streaming deadlines ------------------------------------------------------------
  // Gives the reader's pieces deadlines: piece r.first + i is due at
  // first_deadline + i * step. Replaces the reader's previous range at once (a seek).
  // Deadline pieces preempt every other piece, even ones with priority 0.
  void set_deadline(reader_handle reader, piece_range r, time_point first_deadline,
                    duration step = duration{0});
  void clear_deadlines(reader_handle reader);
  // The earliest deadline of a piece over all readers.
  std::optional<time_point> deadline(piece_index p) const noexcept;

  // --- picking -------------------------------------------------------------------------
  std::uint32_t random_first_pieces() const noexcept { return random_first_pieces_; }
  void set_random_first_pieces(std::uint32_t n) noexcept { random_first_pieces_ = n; }
  pick_strategy strategy() const noexcept { return strategy_; }
  void set_strategy(pick_strategy s) noexcept { strategy_ = s; }
  // Chooses up to opts.count blocks for the peer and records them as requested by
  // it at opts.now. Never a piece the peer lacks or that we have or are verifying,
  // never a block this peer already has a request for.
  std::vector<block_address> pick_blocks(peer_handle peer, const bitfield& peer_has,
                                         const pick_options& opts);
  // No wanted block is left unrequested (duplicate requests are allowed).
  bool in_end_game() const noexcept;

  // --- block events ------------------------------------------------------------------
  // Records a request the session made without pick_blocks (e.g. a web seed range).
  // False when the block is not wanted or the peer has already requested it.
  bool mark_requested(block_address b, peer_handle peer, time_point now);
  // The peer delivered the block. Accepted unless we already have it (the session
  // then drops the data). Accepted blocks clear every request for the block; the
  // other requesters are listed in `cancel`.
  received_result mark_block_received(block_address b, peer_handle from);
  // A request was rejected, cancelled or given up on: the block is free again
  // unless someone else has it requested.
  void abort_request(block_address b, peer_handle peer);
  // The peer disconnected or choked us: drops all its requests. Returns them.
  std::vector<block_address> release_peer(peer_handle peer);
  // Requests made at or before now - timeout.
  std::vector<outstanding_request> timed_out_requests(time_point now, duration timeout) const;
  // The hash of a complete piece matched: it becomes ours.
  void mark_verified(piece_index p);
  // The hash did not match: every block of the piece is reset and the piece can be
  // picked again. Returns who delivered each received block, for banning.
  std::vector<block_origin> mark_hash_failed(piece_index p);

  // --- queries -----------------------------------------------------------------------
  piece_state state(piece_index p) const noexcept;
  std::vector<piece_state> piece_states() const;
  block_state state(block_address b) const noexcept;
  std::vector<peer_handle> requesters(block_address b) const;
  std::optional<peer_handle> delivered_by(block_address b) const noexcept;
  std::uint32_t num_partial_pieces() const noexcept { return static_cast<std::uint32_t>(downloads_.size()); }
  // Bytes of the piece's blocks received (the whole piece once had; 0 when none came).
  std::uint32_t received_bytes(piece_index p) const noexcept;
  // The pieces with blocks requested or received and not yet verified.
  std::vector<piece_index> partial_pieces() const {
    std::vector<piece_index> out;
    out.reserve(downloads_.size());
    for (const auto& d : downloads_) out.push_back(piece_index{d.piece});
    return out;
  }

 private:
  static constexpr std::uint32_t npos = 0xffffffffu;

  struct piece_entry {
    std::uint32_t peer_count = 0;      // peers with the piece, not counting seeds
    std::uint32_t bucket_pos = 0;      // index in its bucket, when linked
    std::uint32_t download = npos;     // index in downloads_, or npos
    std::uint8_t priority = default_priority;
    bool linked = false;               // in buckets_[priority][peer_count]
  };
  struct block_info {
    peer_handle from;                  // who delivered it, when received
    std::uint16_t requesters = 0;      // outstanding requests
    block_state state = block_state::none;
  };
  struct request_entry {
    std::uint32_t block = 0;
    peer_handle peer;
    time_point at;
  };
  struct download {
    std::uint32_t piece = 0;
    std::uint32_t num_free = 0;      // blocks in state none
    std::uint32_t num_received = 0;
    std::vector<block_info> blocks;
    std::vector<request_entry> requests;  // every outstanding request of the piece
  };
  struct reader_range {
    reader_handle reader;
    piece_range range;
    time_point first_deadline;
    duration step{0};
    std::uint32_t cursor = 0;  // pieces before it (from range.first) are all ours
  };
  // When a block someone else has requested may be requested again.
  struct take_rule {
    bool allow_busy = false;  // false: only blocks nobody has requested
    duration min_age{0};      // the newest request of the block is at least this old
  };

  bool valid(piece_index p) const noexcept { return p.value < num_pieces_; }
  bool wanted_open(std::uint32_t p) const noexcept;
  void link(std::uint32_t p);
  void unlink(std::uint32_t p);
  void relink(std::uint32_t p) { unlink(p); link(p); }
  void add_wanted_counters(std::uint32_t p, int sign) noexcept;

  download& start_download(std::uint32_t p);
  void erase_download(std::uint32_t p);
  void drop_download_if_idle(std::uint32_t p);
  download* find_download(std::uint32_t p) noexcept;
  const download* find_download(std::uint32_t p) const noexcept;
  bool is_complete(std::uint32_t p) const noexcept;

  bool block_takeable(const download& d, std::uint32_t block, peer_handle peer,
                      const take_rule& rule, const pick_options& opts) const noexcept;
  // Records requests for up to `need` blocks of the piece, free blocks first; returns
  // how many it took.
  std::uint32_t take_blocks(std::uint32_t p, peer_handle peer, const take_rule& rule,
                            const pick_options& opts, std::uint32_t need,
                            std::vector<block_address>& out);
  void add_request(download& d, std::uint32_t block, peer_handle peer, time_point now);
  bool remove_request(download& d, std::uint32_t block, peer_handle peer);
  time_point deadline_of(const reader_range& r, std::uint32_t p) const noexcept;

  void pick_deadlines(peer_handle peer, const bitfield& peer_has, const pick_options& opts,
                      std::uint32_t& need, std::vector<block_address>& out);
  // Open pieces of one priority the peer has, rarest first (or in random order, or in
  // piece order when sequential), until they hold `target` blocks.
  void pick_new(std::uint8_t priority, const bitfield& peer_has, bool random_order,
                std::uint32_t target, std::vector<std::uint32_t>& chosen);

  std::int64_t total_length_ = 0;
  std::int64_t piece_length_ = 0;
  std::uint32_t num_pieces_ = 0;
  std::uint32_t blocks_per_piece_ = 0;
  std::uint32_t extent_pieces_ = 1;  // pieces per extent (1: no affinity)
  std::uint32_t last_extent_ = npos; // extent of the last new piece picked

  std::vector<piece_entry> pieces_;
  bitfield have_;
  // buckets_[priority][peer_count]: open pieces (missing, not partial) we want,
  // in no particular order. Moving a piece between buckets is a swap-and-pop.
  std::array<std::vector<std::vector<std::uint32_t>>, top_priority + 1> buckets_;
  std::array<std::uint32_t, top_priority + 1> open_count_{};  // pieces per priority in buckets
  std::uint32_t seeds_ = 0;
  std::vector<download> downloads_;
  std::vector<reader_range> readers_;

  std::uint32_t num_have_ = 0;
  std::uint32_t num_wanted_ = 0;
  std::uint32_t num_wanted_have_ = 0;
  std::int64_t wanted_bytes_ = 0;
  std::int64_t wanted_have_bytes_ = 0;
  std::int64_t have_bytes_ = 0;
  std::uint32_t random_first_pieces_ = 4;
  pick_strategy strategy_ = pick_strategy::rarest_first;
  std::uint32_t first_missing_ = 0;  // sequential: every piece before it is ours
  rng rng_;
};

}  // namespace wt
