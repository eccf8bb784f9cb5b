#include "picker/piece_picker.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <tuple>

namespace wt {

// --- construction and geometry ------------------------------------------------------

piece_picker::piece_picker(std::int64_t total_length, std::int64_t piece_length, std::uint64_t seed)
    : total_length_(std::max<std::int64_t>(total_length, 0)),
      piece_length_(std::max<std::int64_t>(piece_length, 1)),
      rng_(seed) {
  num_pieces_ = static_cast<std::uint32_t>((total_length_ + piece_length_ - 1) / piece_length_);
  blocks_per_piece_ = static_cast<std::uint32_t>((piece_length_ + block_size - 1) / block_size);
  extent_pieces_ = static_cast<std::uint32_t>(std::max<std::int64_t>(1, extent_bytes / piece_length_));
  pieces_.resize(num_pieces_);
  have_ = bitfield(num_pieces_);
  num_wanted_ = num_pieces_;
  wanted_bytes_ = total_length_;
  for (std::uint32_t p = 0; p < num_pieces_; ++p) link(p);
}

std::uint32_t piece_picker::piece_size(piece_index p) const noexcept {
  if (!valid(p)) return 0;
  if (p.value + 1 < num_pieces_) return static_cast<std::uint32_t>(piece_length_);
  return static_cast<std::uint32_t>(total_length_ - std::int64_t{p.value} * piece_length_);
}

std::uint32_t piece_picker::blocks_in_piece(piece_index p) const noexcept {
  if (p.value + 1 < num_pieces_) return blocks_per_piece_;
  return (piece_size(p) + block_size - 1) / block_size;
}

std::uint32_t piece_picker::block_length(block_address b) const noexcept {
  const std::uint32_t size = piece_size(b.piece);
  const std::uint64_t offset = std::uint64_t{b.block} * block_size;
  if (offset >= size) return 0;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(block_size, size - offset));
}

block_request piece_picker::request_for(block_address b) const noexcept {
  return {b.piece, b.block * block_size, block_length(b)};
}

std::optional<block_address> piece_picker::block_at(const block_request& r) const noexcept {
  if (!valid(r.piece) || r.offset % block_size != 0) return std::nullopt;
  const block_address b{r.piece, r.offset / block_size};
  if (b.block >= blocks_in_piece(r.piece) || block_length(b) != r.length) return std::nullopt;
  return b;
}

std::optional<piece_range> piece_picker::pieces_for_bytes(std::int64_t offset,
                                                          std::int64_t length) const noexcept {
  if (length <= 0 || offset < 0 || offset >= total_length_) return std::nullopt;
  const std::int64_t end = std::min(total_length_, offset + std::min(length, total_length_));
  return piece_range{piece_index{static_cast<std::uint32_t>(offset / piece_length_)},
                     piece_index{static_cast<std::uint32_t>((end - 1) / piece_length_)}};
}

// --- buckets ------------------------------------------------------------------------

bool piece_picker::wanted_open(std::uint32_t p) const noexcept {
  const piece_entry& e = pieces_[p];
  return e.priority > 0 && e.download == npos && !have_.test(p);
}

void piece_picker::link(std::uint32_t p) {
  piece_entry& e = pieces_[p];
  if (e.linked || !wanted_open(p)) return;
  auto& by_count = buckets_[e.priority];
  if (by_count.size() <= e.peer_count) by_count.resize(std::size_t{e.peer_count} + 1);
  auto& bucket = by_count[e.peer_count];
  // Insert at a random position so that equal pieces come out in random order.
  const auto size = static_cast<std::uint32_t>(bucket.size());
  const std::uint32_t j = rng_.below(size + 1);
  if (j == size) {
    bucket.push_back(p);
  } else {
    const std::uint32_t moved = bucket[j];
    bucket.push_back(moved);
    pieces_[moved].bucket_pos = size;
    bucket[j] = p;
  }
  e.bucket_pos = j;
  e.linked = true;
  ++open_count_[e.priority];
}

void piece_picker::unlink(std::uint32_t p) {
  piece_entry& e = pieces_[p];
  if (!e.linked) return;
  auto& bucket = buckets_[e.priority][e.peer_count];
  const std::uint32_t last = bucket.back();
  bucket[e.bucket_pos] = last;
  pieces_[last].bucket_pos = e.bucket_pos;
  bucket.pop_back();
  e.linked = false;
  --open_count_[e.priority];
}

void piece_picker::add_wanted_counters(std::uint32_t p, int sign) noexcept {
  if (pieces_[p].priority == 0) return;
  const std::int64_t size = piece_size(piece_index{p});
  num_wanted_ = static_cast<std::uint32_t>(static_cast<std::int64_t>(num_wanted_) + sign);
  wanted_bytes_ += sign * size;
  if (have_.test(p)) {
    num_wanted_have_ = static_cast<std::uint32_t>(static_cast<std::int64_t>(num_wanted_have_) + sign);
    wanted_have_bytes_ += sign * size;
  }
}

// --- availability -------------------------------------------------------------------

void piece_picker::inc_have(piece_index p) {
  if (!valid(p)) return;
  unlink(p.value);
  ++pieces_[p.value].peer_count;
  link(p.value);
}

void piece_picker::dec_have(piece_index p) {
  if (!valid(p) || pieces_[p.value].peer_count == 0) return;
  unlink(p.value);
  --pieces_[p.value].peer_count;
  link(p.value);
}

void piece_picker::inc_bitfield(const bitfield& peer_has) {
  const std::uint32_t n = std::min(peer_has.size(), num_pieces_);
  for (std::uint32_t i = peer_has.find_next_set(0); i < n; i = peer_has.find_next_set(i + 1)) {
    inc_have(piece_index{i});
  }
}

void piece_picker::dec_bitfield(const bitfield& peer_has) {
  const std::uint32_t n = std::min(peer_has.size(), num_pieces_);
  for (std::uint32_t i = peer_has.find_next_set(0); i < n; i = peer_has.find_next_set(i + 1)) {
    dec_have(piece_index{i});
  }
}

void piece_picker::inc_have_all() { ++seeds_; }

void piece_picker::dec_have_all() {
  if (seeds_ > 0) --seeds_;
}

std::uint32_t piece_picker::availability(piece_index p) const noexcept {
  return valid(p) ? pieces_[p.value].peer_count + seeds_ : 0;
}

// --- our pieces ---------------------------------------------------------------------

void piece_picker::we_have(piece_index p) {
  if (!valid(p) || have(p)) return;
  add_wanted_counters(p.value, -1);
  unlink(p.value);
  erase_download(p.value);
  have_.set(p.value);
  ++num_have_;
  have_bytes_ += piece_size(p);
  add_wanted_counters(p.value, +1);
}

void piece_picker::we_dont_have(piece_index p) {
  if (!valid(p) || !have(p)) return;
  add_wanted_counters(p.value, -1);
  have_.clear(p.value);
  --num_have_;
  have_bytes_ -= piece_size(p);
  add_wanted_counters(p.value, +1);
  link(p.value);
  for (auto& r : readers_) r.cursor = 0;
  first_missing_ = std::min(first_missing_, p.value);
}

void piece_picker::mark_verified(piece_index p) { we_have(p); }

std::vector<block_origin> piece_picker::mark_hash_failed(piece_index p) {
  std::vector<block_origin> origins;
  if (!valid(p)) return origins;
  const download* d = find_download(p.value);
  if (d == nullptr) return origins;
  for (std::uint32_t b = 0; b < d->blocks.size(); ++b) {
    if (d->blocks[b].state == block_state::received) origins.push_back({b, d->blocks[b].from});
  }
  erase_download(p.value);
  link(p.value);
  return origins;
}

// --- priorities ---------------------------------------------------------------------

void piece_picker::set_piece_priority(piece_index p, std::uint8_t priority) {
  if (!valid(p)) return;
  priority = std::min(priority, top_priority);
  piece_entry& e = pieces_[p.value];
  if (e.priority == priority) return;
  add_wanted_counters(p.value, -1);
  unlink(p.value);
  e.priority = priority;
  add_wanted_counters(p.value, +1);
  link(p.value);
}

void piece_picker::set_piece_priority(piece_range r, std::uint8_t priority) {
  const std::uint32_t last = std::min(r.last.value, num_pieces_ - 1);
  for (std::uint32_t p = r.first.value; p <= last && num_pieces_ > 0; ++p) {
    set_piece_priority(piece_index{p}, priority);
  }
}

void piece_picker::set_priorities_from_ranges(std::span<const byte_range_priority> ranges) {
  std::vector<std::uint8_t> prio(num_pieces_, 0);
  for (const auto& r : ranges) {
    const auto span = pieces_for_bytes(r.offset, r.length);
    if (!span) continue;
    const auto value = std::min(r.priority, top_priority);
    for (std::uint32_t p = span->first.value; p <= span->last.value; ++p) {
      prio[p] = std::max(prio[p], value);
    }
  }
  for (std::uint32_t p = 0; p < num_pieces_; ++p) set_piece_priority(piece_index{p}, prio[p]);
}

// --- deadlines ----------------------------------------------------------------------

void piece_picker::set_deadline(reader_handle reader, piece_range r, time_point first_deadline,
                                duration step) {
  if (num_pieces_ == 0 || r.first.value >= num_pieces_ || r.first > r.last) {
    clear_deadlines(reader);
    return;
  }
  r.last.value = std::min(r.last.value, num_pieces_ - 1);
  const reader_range entry{reader, r, first_deadline, std::max(step, duration{0}), 0};
  for (auto& existing : readers_) {
    if (existing.reader == reader) {
      existing = entry;
      return;
    }
  }
  readers_.push_back(entry);
}

void piece_picker::clear_deadlines(reader_handle reader) {
  std::erase_if(readers_, [&](const reader_range& r) { return r.reader == reader; });
}

time_point piece_picker::deadline_of(const reader_range& r, std::uint32_t p) const noexcept {
  return r.first_deadline + r.step * static_cast<std::int64_t>(p - r.range.first.value);
}

std::optional<time_point> piece_picker::deadline(piece_index p) const noexcept {
  std::optional<time_point> best;
  for (const auto& r : readers_) {
    if (p < r.range.first || p > r.range.last) continue;
    const time_point t = deadline_of(r, p.value);
    if (!best || t < *best) best = t;
  }
  return best;
}

// --- downloads ----------------------------------------------------------------------

piece_picker::download* piece_picker::find_download(std::uint32_t p) noexcept {
  const std::uint32_t i = pieces_[p].download;
  return i == npos ? nullptr : &downloads_[i];
}

const piece_picker::download* piece_picker::find_download(std::uint32_t p) const noexcept {
  const std::uint32_t i = pieces_[p].download;
  return i == npos ? nullptr : &downloads_[i];
}

piece_picker::download& piece_picker::start_download(std::uint32_t p) {
  unlink(p);
  const std::uint32_t blocks = blocks_in_piece(piece_index{p});
  download d;
  d.piece = p;
  d.num_free = blocks;
  d.blocks.resize(blocks);
  pieces_[p].download = static_cast<std::uint32_t>(downloads_.size());
  downloads_.push_back(std::move(d));
  return downloads_.back();
}

void piece_picker::erase_download(std::uint32_t p) {
  const std::uint32_t i = pieces_[p].download;
  if (i == npos) return;
  if (i + 1 != downloads_.size()) {
    downloads_[i] = std::move(downloads_.back());
    pieces_[downloads_[i].piece].download = i;
  }
  downloads_.pop_back();
  pieces_[p].download = npos;
}

void piece_picker::drop_download_if_idle(std::uint32_t p) {
  const download* d = find_download(p);
  if (d == nullptr || !d->requests.empty() || d->num_received != 0) return;
  erase_download(p);
  link(p);
}

bool piece_picker::is_complete(std::uint32_t p) const noexcept {
  const download* d = find_download(p);
  return d != nullptr && d->num_received == d->blocks.size();
}

void piece_picker::add_request(download& d, std::uint32_t block, peer_handle peer, time_point now) {
  block_info& b = d.blocks[block];
  if (b.state == block_state::none) {
    b.state = block_state::requested;
    --d.num_free;
  }
  ++b.requesters;
  d.requests.push_back({block, peer, now});
}

bool piece_picker::remove_request(download& d, std::uint32_t block, peer_handle peer) {
  const auto it = std::find_if(d.requests.begin(), d.requests.end(), [&](const request_entry& r) {
    return r.block == block && r.peer == peer;
  });
  if (it == d.requests.end()) return false;
  *it = d.requests.back();
  d.requests.pop_back();
  block_info& b = d.blocks[block];
  if (b.requesters > 0) --b.requesters;
  if (b.requesters == 0 && b.state == block_state::requested) {
    b.state = block_state::none;
    ++d.num_free;
  }
  return true;
}

// --- block events -------------------------------------------------------------------

bool piece_picker::mark_requested(block_address b, peer_handle peer, time_point now) {
  if (!valid(b.piece) || b.block >= blocks_in_piece(b.piece) || have(b.piece)) return false;
  const std::uint32_t p = b.piece.value;
  download* d = find_download(p);
  if (d == nullptr) d = &start_download(p);
  if (d->blocks[b.block].state == block_state::received) return false;
  for (const auto& r : d->requests) {
    if (r.block == b.block && r.peer == peer) return false;
  }
  add_request(*d, b.block, peer, now);
  return true;
}

received_result piece_picker::mark_block_received(block_address b, peer_handle from) {
  received_result result;
  if (!valid(b.piece) || b.block >= blocks_in_piece(b.piece) || have(b.piece)) return result;
  const std::uint32_t p = b.piece.value;
  download* d = find_download(p);
  if (d == nullptr) d = &start_download(p);  // unsolicited, or after a timeout gave it up
  block_info& info = d->blocks[b.block];
  if (info.state == block_state::received) return result;

  for (std::size_t i = 0; i < d->requests.size();) {
    if (d->requests[i].block != b.block) {
      ++i;
      continue;
    }
    if (d->requests[i].peer != from) result.cancel.push_back(d->requests[i].peer);
    d->requests[i] = d->requests.back();
    d->requests.pop_back();
  }
  std::sort(result.cancel.begin(), result.cancel.end());
  if (info.state == block_state::none) --d->num_free;
  info.state = block_state::received;
  info.requesters = 0;
  info.from = from;
  ++d->num_received;
  result.accepted = true;
  result.piece_complete = d->num_received == d->blocks.size();
  return result;
}

void piece_picker::abort_request(block_address b, peer_handle peer) {
  if (!valid(b.piece) || b.block >= blocks_in_piece(b.piece)) return;
  download* d = find_download(b.piece.value);
  if (d == nullptr) return;
  remove_request(*d, b.block, peer);
  drop_download_if_idle(b.piece.value);
}

std::vector<block_address> piece_picker::release_peer(peer_handle peer) {
  std::vector<block_address> released;
  for (auto& d : downloads_) {
    for (std::size_t i = 0; i < d.requests.size();) {
      if (d.requests[i].peer != peer) {
        ++i;
        continue;
      }
      const std::uint32_t block = d.requests[i].block;
      released.push_back({piece_index{d.piece}, block});
      remove_request(d, block, peer);  // swaps the last request into i
    }
  }
  std::sort(released.begin(), released.end());
  // Pieces with nothing requested or received go back to the open buckets.
  for (std::size_t i = 0; i < released.size(); ++i) {
    if (i == 0 || released[i].piece != released[i - 1].piece) {
      drop_download_if_idle(released[i].piece.value);
    }
  }
  return released;
}

std::vector<outstanding_request> piece_picker::timed_out_requests(time_point now,
                                                                  duration timeout) const {
  std::vector<outstanding_request> out;
  for (const auto& d : downloads_) {
    for (const auto& r : d.requests) {
      if (r.at <= now - timeout) out.push_back({{piece_index{d.piece}, r.block}, r.peer, r.at});
    }
  }
  std::sort(out.begin(), out.end(), [](const outstanding_request& a, const outstanding_request& b) {
    return std::tie(a.block, a.peer) < std::tie(b.block, b.peer);
  });
  return out;
}

// --- picking ------------------------------------------------------------------------

bool piece_picker::block_takeable(const download& d, std::uint32_t block, peer_handle peer,
                                  const take_rule& rule, const pick_options& opts) const noexcept {
  const block_info& b = d.blocks[block];
  if (b.state == block_state::none) return true;
  if (b.state != block_state::requested || !rule.allow_busy) return false;
  if (b.requesters >= opts.max_requesters) return false;
  time_point newest = time_point::min();
  for (const auto& r : d.requests) {
    if (r.block != block) continue;
    if (r.peer == peer) return false;
    newest = std::max(newest, r.at);
  }
  return newest <= opts.now - rule.min_age;
}

std::uint32_t piece_picker::take_blocks(std::uint32_t p, peer_handle peer, const take_rule& rule,
                                        const pick_options& opts, std::uint32_t need,
                                        std::vector<block_address>& out) {
  if (need == 0) return 0;
  download* d = find_download(p);
  if (d == nullptr) d = &start_download(p);
  if (d->num_received == d->blocks.size()) return 0;
  std::uint32_t taken = 0;
  const auto blocks = static_cast<std::uint32_t>(d->blocks.size());
  // Free blocks first, then (when the rule allows) blocks someone else has requested.
  for (int pass = 0; pass < 2 && taken < need; ++pass) {
    if (pass == 0 && d->num_free == 0) continue;
    if (pass == 1 && (!rule.allow_busy || opts.max_requesters < 2)) break;
    for (std::uint32_t b = 0; b < blocks && taken < need; ++b) {
      const bool free = d->blocks[b].state == block_state::none;
      if (pass == 0 ? !free : (free || !block_takeable(*d, b, peer, rule, opts))) continue;
      if (opts.avoid && std::binary_search(opts.avoid->begin(), opts.avoid->end(), block_address{piece_index{p}, b}))
        continue;
      add_request(*d, b, peer, opts.now);
      out.push_back({piece_index{p}, b});
      ++taken;
    }
  }
  if (taken == 0) drop_download_if_idle(p);
  return taken;
}

void piece_picker::pick_deadlines(peer_handle peer, const bitfield& peer_has,
                                  const pick_options& opts, std::uint32_t& need,
                                  std::vector<block_address>& out) {
  if (readers_.empty()) return;
  std::vector<std::uint32_t> pos(readers_.size());
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    reader_range& r = readers_[i];
    const std::uint32_t span = r.range.last.value - r.range.first.value + 1;
    while (r.cursor < span && have_.test(r.range.first.value + r.cursor)) ++r.cursor;
    pos[i] = r.range.first.value + r.cursor;
  }
  const take_rule stale{opts.request_timeout > duration{0}, opts.request_timeout};
  const take_rule at_risk{true, opts.at_risk_min_age};
  while (need > 0) {
    // Merge the readers' ranges by deadline; within a reader pieces go in order.
    std::size_t best = readers_.size();
    time_point best_deadline{};
    for (std::size_t i = 0; i < readers_.size(); ++i) {
      if (pos[i] > readers_[i].range.last.value) continue;
      const time_point t = deadline_of(readers_[i], pos[i]);
      if (best == readers_.size() || t < best_deadline) {
        best = i;
        best_deadline = t;
      }
    }
    if (best == readers_.size()) break;
    const std::uint32_t p = pos[best]++;
    if (have_.test(p) || !peer_has.test(p) || is_complete(p)) continue;
    const bool urgent = opts.at_risk_window > duration{0} &&
                        best_deadline <= opts.now + opts.at_risk_window;
    need -= take_blocks(p, peer, urgent ? at_risk : stale, opts, need, out);
  }
}

void piece_picker::pick_new(std::uint8_t priority, const bitfield& peer_has, bool random_order,
                            std::uint32_t target, std::vector<std::uint32_t>& chosen) {
  const auto& by_count = buckets_[priority];
  const std::uint32_t total = open_count_[priority];
  if (total == 0 || by_count.empty()) return;
  std::uint32_t wanted_blocks = 0;
  const auto consider = [&](std::uint32_t p) {
    if (!peer_has.test(p) || std::find(chosen.begin(), chosen.end(), p) != chosen.end()) return false;
    chosen.push_back(p);
    last_extent_ = p / extent_pieces_;
    wanted_blocks += blocks_in_piece(piece_index{p});
    return wanted_blocks >= target;
  };
  // The open pieces of this priority in [first, end) with at most `most` peers, in order.
  const auto consider_range = [&](std::uint32_t first, std::uint32_t end, std::uint32_t most) {
    for (std::uint32_t q = first; q < std::min(end, num_pieces_); ++q) {
      const piece_entry& e = pieces_[q];
      if (e.linked && e.priority == priority && e.peer_count <= most && consider(q)) return true;
    }
    return false;
  };
  const auto consider_extent = [&](std::uint32_t extent, std::uint32_t most) {
    return consider_range(extent * extent_pieces_, (extent + 1) * extent_pieces_, most);
  };
  if (strategy_ == pick_strategy::sequential) {
    // Piece order from the first piece we lack; stops once every open piece of this
    // priority has been seen.
    first_missing_ = have_.find_next_unset(first_missing_);
    std::uint32_t seen = 0;
    for (std::uint32_t q = first_missing_; q < num_pieces_ && seen < total; ++q) {
      const piece_entry& e = pieces_[q];
      if (!e.linked || e.priority != priority) continue;
      ++seen;
      if (consider(q)) return;
    }
    return;
  }
  if (random_order) {
    // One walk over every open piece of this priority, from a random start.
    std::uint32_t start = rng_.below(total);
    std::size_t c = 0;
    while (start >= by_count[c].size()) start -= static_cast<std::uint32_t>(by_count[c++].size());
    std::size_t o = start;
    for (std::uint32_t step = 0; step < total; ++step) {
      if (consider(by_count[c][o])) return;
      ++o;
      while (o >= by_count[c].size()) {
        o = 0;
        c = (c + 1) % by_count.size();
      }
    }
    return;
  }
  // Rarest first: buckets by increasing availability, each from a random start. With
  // extent affinity the extent picked last goes on first, and a piece brings the pieces
  // of its extent that are as rare along, in order from the extent's start (the piece
  // itself among them): a seeder reading a file reads the extent front to back, a run at a
  // time, instead of one piece alone and then the rest. Rarer pieces still come first.
  const bool affinity = extent_pieces_ > 1;
  std::uint32_t rarest = 0;
  while (by_count[rarest].empty()) ++rarest;  // total > 0: some bucket holds a piece
  // The pieces just past a reader's come due as it moves: among the rarest they go first,
  // in order (an extent's worth), so that its next piece is on its way when it moves.
  for (const auto& r : readers_) {
    const std::uint32_t from = r.range.last.value + 1;  // last < num_pieces_: no overflow
    if (consider_range(from, from + std::min(extent_pieces_, num_pieces_ - from), rarest)) return;
  }
  if (affinity && last_extent_ != npos && consider_extent(last_extent_, rarest)) return;
  for (std::uint32_t count = 0; count < by_count.size(); ++count) {
    const auto& bucket = by_count[count];
    const auto size = static_cast<std::uint32_t>(bucket.size());
    if (size == 0) continue;
    const std::uint32_t start = rng_.below(size);
    for (std::uint32_t step = 0; step < size; ++step) {
      const std::uint32_t p = bucket[(start + step) % size];
      if (!affinity) {
        if (consider(p)) return;
        continue;
      }
      // Its extent only when p itself is wanted from this peer: a peer holding few pieces
      // does not make every extent be walked.
      if (!peer_has.test(p) || std::find(chosen.begin(), chosen.end(), p) != chosen.end()) continue;
      // A torrent of one extent keeps p first: the extent's start would be every peer's
      // first piece there, and peers that start apart have pieces to trade.
      if (num_pieces_ <= extent_pieces_ && consider(p)) return;
      if (consider_extent(p / extent_pieces_, count)) return;
    }
  }
}

std::vector<block_address> piece_picker::pick_blocks(peer_handle peer, const bitfield& peer_has,
                                                     const pick_options& opts) {
  std::vector<block_address> out;
  std::uint32_t need = opts.count;
  if (need == 0) return out;
  out.reserve(need);

  pick_deadlines(peer, peer_has, opts, need, out);
  need = std::min(need, opts.max_undue);

  struct candidate {
    std::uint8_t priority;
    std::uint32_t availability;
    std::uint32_t piece;
  };
  const auto partial_candidates = [&](bool busy_too) {
    std::vector<candidate> c;
    for (const auto& d : downloads_) {
      const piece_entry& e = pieces_[d.piece];
      if (e.priority == 0 || !peer_has.test(d.piece) || d.num_received == d.blocks.size()) continue;
      if (d.num_free == 0 && !busy_too) continue;
      c.push_back({e.priority, e.peer_count, d.piece});
    }
    const bool by_index = strategy_ == pick_strategy::sequential;
    std::sort(c.begin(), c.end(), [by_index](const candidate& a, const candidate& b) {
      const std::uint32_t ra = by_index ? 0 : a.availability, rb = by_index ? 0 : b.availability;
      return std::tie(b.priority, ra, a.piece) < std::tie(a.priority, rb, b.piece);
    });
    return c;
  };

  const take_rule stale{opts.request_timeout > duration{0}, opts.request_timeout};
  const take_rule free_only{false, duration{0}};
  const bool random_first = strategy_ == pick_strategy::rarest_first && num_have_ < random_first_pieces_;
  const auto partials = partial_candidates(stale.allow_busy);
  std::size_t next_partial = 0;
  std::vector<std::uint32_t> chosen;
  for (std::uint8_t prio = top_priority; prio > 0 && need > 0; --prio) {
    // Finish started pieces of this priority before starting new ones.
    for (; next_partial < partials.size() && partials[next_partial].priority == prio && need > 0;
         ++next_partial) {
      need -= take_blocks(partials[next_partial].piece, peer, stale, opts, need, out);
    }
    if (need == 0) break;
    chosen.clear();
    pick_new(prio, peer_has, random_first, need, chosen);
    for (const std::uint32_t p : chosen) need -= take_blocks(p, peer, free_only, opts, need, out);
  }

  if (need > 0 && opts.max_requesters > 1 && in_end_game()) {
    const take_rule busy{true, duration{0}};
    for (const auto& c : partial_candidates(true)) {
      if (need == 0) break;
      need -= take_blocks(c.piece, peer, busy, opts, need, out);
    }
  }
  return out;
}

bool piece_picker::in_end_game() const noexcept {
  if (is_finished()) return false;
  for (std::uint8_t prio = 1; prio <= top_priority; ++prio) {
    if (open_count_[prio] > 0) return false;
  }
  return std::none_of(downloads_.begin(), downloads_.end(), [&](const download& d) {
    return pieces_[d.piece].priority > 0 && d.num_free > 0;
  });
}

// --- queries ------------------------------------------------------------------------

piece_state piece_picker::state(piece_index p) const noexcept {
  if (!valid(p)) return piece_state::missing;
  if (have(p)) return piece_state::have;
  const download* d = find_download(p.value);
  if (d == nullptr) return piece_state::missing;
  return d->num_received == d->blocks.size() ? piece_state::complete : piece_state::downloading;
}

std::uint32_t piece_picker::received_bytes(piece_index p) const noexcept {
  if (!valid(p)) return 0;
  if (have(p)) return piece_size(p);
  const download* d = find_download(p.value);
  if (d == nullptr) return 0;
  std::uint32_t bytes = 0;
  for (std::uint32_t b = 0; b < d->blocks.size(); ++b)
    if (d->blocks[b].state == block_state::received) bytes += block_length({p, b});
  return bytes;
}

std::vector<piece_state> piece_picker::piece_states() const {
  std::vector<piece_state> out(num_pieces_, piece_state::missing);
  for (std::uint32_t p = have_.find_next_set(0); p < num_pieces_; p = have_.find_next_set(p + 1)) {
    out[p] = piece_state::have;
  }
  for (const auto& d : downloads_) out[d.piece] = state(piece_index{d.piece});
  return out;
}

block_state piece_picker::state(block_address b) const noexcept {
  if (!valid(b.piece) || b.block >= blocks_in_piece(b.piece)) return block_state::none;
  if (have(b.piece)) return block_state::received;
  const download* d = find_download(b.piece.value);
  return d == nullptr ? block_state::none : d->blocks[b.block].state;
}

std::vector<peer_handle> piece_picker::requesters(block_address b) const {
  std::vector<peer_handle> out;
  if (!valid(b.piece)) return out;
  const download* d = find_download(b.piece.value);
  if (d == nullptr) return out;
  for (const auto& r : d->requests) {
    if (r.block == b.block) out.push_back(r.peer);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<peer_handle> piece_picker::delivered_by(block_address b) const noexcept {
  if (!valid(b.piece) || b.block >= blocks_in_piece(b.piece)) return std::nullopt;
  const download* d = find_download(b.piece.value);
  if (d == nullptr || d->blocks[b.block].state != block_state::received) return std::nullopt;
  return d->blocks[b.block].from;
}

}  // namespace wt
