// Streamed pieces: a piece longer than session_settings::stream_piece_bytes is never held
// whole. Each block the picker accepts is written to the store at once (an `unverified`
// write: the store keeps it without counting the piece held) and fed to the piece's SHA-1
// in block order. A block that arrives ahead of the hashed prefix waits in memory, up to
// stream_piece_bytes per piece; past that it is only in the store and is read back
// (an `unverified` read, after its write completed) when the prefix reaches it. Requests
// go out in block order, so few blocks ever wait.
//
// Once every block is hashed, the verdict waits until no write or read of the piece is in
// flight (so that no late write of this attempt can land on a later one, whatever order
// the host completes requests in):
//   - match: smart ban against an earlier failed attempt (the digests of the blocks it
//     recorded were taken as they arrived), then the piece is verified exactly as a piece
//     written whole (piece_written: mark_complete, piece_verified_event, HAVE);
//   - mismatch with one sender: it is blamed at once (piece_failed), and the piece is
//     fetched again, its blocks written over the bad ones;
//   - mismatch with several senders: the piece is read back from the store, block by
//     block digests taken (at most stream_piece_bytes at a time), then piece_failed records
//     them for smart ban as it does for a piece held whole. The picker keeps the piece
//     complete meanwhile, so nothing of it is requested before the digests are taken.
// Nothing of a streamed piece is ever read for a peer or a user before it is verified:
// those reads wait for picker->have(), which only piece_written sets.
#include "session/session_impl.hpp"

namespace wt {

using namespace session_detail;

namespace {

torrent::streamed_piece& stream_of(torrent& t, std::uint32_t piece) {
  auto [it, fresh] = t.streams.try_emplace(piece);
  if (fresh) it->second.serial = t.next_stream++;
  return it->second;
}

}  // namespace

void session::impl::stream_block(torrent& t, block_address b, byte_view data) {
  const std::uint32_t piece = b.piece.value;
  auto& st = stream_of(t, piece);
  st.assembling.erase(b.block);  // a web seed's bytes of it, left from a run that failed
  const auto len = static_cast<std::uint32_t>(data.size());
  // Smart ban: this block was recorded by a failed attempt; its digest now tells whether
  // the same bytes came again.
  if (auto f = t.failed_blocks.find(piece); f != t.failed_blocks.end()) {
    for (const auto& fb : f->second)
      if (fb.block == b.block) {
        st.digests[b.block] = sha1(data);
        break;
      }
  }
  const block_request req = t.picker->request_for(b);
  storage_request sr;
  sr.torrent = t.id;
  sr.op = storage_op::write;
  sr.piece = b.piece;
  sr.piece_offset = req.offset;
  sr.offset = std::int64_t{piece} * t.meta->piece_length + req.offset;
  sr.length = len;
  sr.data.assign(data.begin(), data.end());
  sr.unverified = true;
  pending_storage ps;
  ps.what = pending_storage::kind::write_block;
  ps.torrent = t.id;
  ps.piece = piece;
  ps.block = b.block;
  ps.serial = st.serial;
  ps.bytes = len;
  pending_write_bytes += len;
  ++st.writing[b.block];
  emit_storage(std::move(sr), ps);

  const std::uint64_t cap = std::max<std::uint64_t>(settings.stream_piece_bytes, block_size);
  if (b.block == st.hashed && !st.reading) {
    st.hasher.update(data);
    ++st.hashed;
  } else if (st.held_bytes + len <= cap) {
    st.held[b.block].assign(data.begin(), data.end());
    st.held_bytes += len;
  } else {
    st.stored.insert(b.block);
  }
  advance_stream(t, piece);
}

void session::impl::advance_stream(torrent& t, std::uint32_t piece) {
  auto it = t.streams.find(piece);
  if (it == t.streams.end()) return;
  auto& st = it->second;
  const piece_index pi{piece};
  const std::uint32_t n = t.picker->blocks_in_piece(pi);
  while (!st.reading && !st.read_failed && !st.blaming && st.hashed < n) {
    if (auto h = st.held.find(st.hashed); h != st.held.end()) {
      st.hasher.update(h->second);
      st.held_bytes -= h->second.size();
      st.held.erase(h);
      ++st.hashed;
      continue;
    }
    // Not received yet, or received and only in the store: read back (once written) the
    // run of stored blocks from here.
    if (!st.stored.contains(st.hashed) || st.writing.contains(st.hashed)) break;
    read_back(t, st, piece, st.hashed, [&](std::uint32_t blk) { return st.stored.contains(blk) && !st.writing.contains(blk); });
  }
  if (st.hashed == n && !st.matched) st.matched = st.hasher.finish() == t.meta->piece_hashes[piece];
  if (st.reading || st.blaming || !st.writing.empty()) return;

  if (st.read_failed || (st.matched && st.write_failed)) {
    // The store failed us: the piece is fetched again, nobody is blamed.
    const bool read = st.read_failed;
    t.streams.erase(it);
    if (!read) {
      piece_written(t, piece, false);
    } else {
      (void)t.picker->mark_hash_failed(pi);
      warn(t.id, {}, errc::session_storage_failed, "storage read-back failed for piece " + std::to_string(piece));
    }
    request_all(t);
    return;
  }
  if (!st.matched) return;  // blocks still to come
  if (*st.matched) {
    const auto digests = std::move(st.digests);
    t.streams.erase(it);
    piece_passed(t, piece, [&](std::uint32_t block) -> std::optional<sha1_digest> {
      auto d = digests.find(block);
      if (d == digests.end()) return std::nullopt;
      return d->second;
    });
    piece_written(t, piece, true);
    request_all(t);
    return;
  }
  std::set<std::uint32_t> senders;
  for (std::uint32_t blk = 0; blk < n; ++blk)
    if (auto from = t.picker->delivered_by({pi, blk})) senders.insert(from->value);
  if (senders.size() > 1) {
    st.blaming = true;
    st.blame_digests.clear();
    read_back_for_blame(t, piece);
    return;
  }
  t.streams.erase(it);
  piece_failed(t, piece, [](std::uint32_t) { return sha1_digest{}; });  // one sender: no digests needed
  request_all(t);
}

void session::impl::read_back_for_blame(torrent& t, std::uint32_t piece) {
  auto it = t.streams.find(piece);
  if (it == t.streams.end()) return;
  auto& st = it->second;
  const piece_index pi{piece};
  const std::uint32_t n = t.picker->blocks_in_piece(pi);
  if (st.blame_digests.size() >= n) {
    const auto digests = std::move(st.blame_digests);
    t.streams.erase(it);
    piece_failed(t, piece, [&](std::uint32_t block) { return block < digests.size() ? digests[block] : sha1_digest{}; });
    request_all(t);
    return;
  }
  const auto first = static_cast<std::uint32_t>(st.blame_digests.size());
  read_back(t, st, piece, first, [](std::uint32_t) { return true; });
}

// Reads back from the store the run of blocks from `first` that `readable` allows, at most
// stream_piece_bytes (at least one block).
void session::impl::read_back(torrent& t, torrent::streamed_piece& st, std::uint32_t piece, std::uint32_t first,
                              const std::function<bool(std::uint32_t)>& readable) {
  const piece_index pi{piece};
  const std::uint32_t n = t.picker->blocks_in_piece(pi);
  const std::uint64_t cap = std::max<std::uint64_t>(settings.stream_piece_bytes, block_size);
  std::uint32_t count = 0;
  std::uint64_t bytes = 0;
  for (std::uint32_t blk = first; blk < n && readable(blk); ++blk) {
    const std::uint32_t len = t.picker->block_length({pi, blk});
    if (count > 0 && bytes + len > cap) break;
    bytes += len;
    ++count;
  }
  const block_request req = t.picker->request_for({pi, first});
  storage_request sr;
  sr.torrent = t.id;
  sr.op = storage_op::read;
  sr.piece = pi;
  sr.piece_offset = req.offset;
  sr.offset = std::int64_t{piece} * t.meta->piece_length + req.offset;
  sr.length = static_cast<std::uint32_t>(bytes);
  sr.unverified = true;
  pending_storage ps;
  ps.what = pending_storage::kind::read_back;
  ps.torrent = t.id;
  ps.piece = piece;
  ps.block = first;
  ps.count = count;
  ps.serial = st.serial;
  st.reading = true;
  emit_storage(std::move(sr), ps);
}

void session::impl::stream_written(torrent& t, const pending_storage& ps, bool ok) {
  auto it = t.streams.find(ps.piece);
  if (it == t.streams.end() || it->second.serial != ps.serial) return;
  auto& st = it->second;
  if (auto w = st.writing.find(ps.block); w != st.writing.end() && --w->second == 0) st.writing.erase(w);
  if (!ok) st.write_failed = true;
  advance_stream(t, ps.piece);
}

void session::impl::stream_read(torrent& t, const pending_storage& ps, const storage_completion& c) {
  auto it = t.streams.find(ps.piece);
  if (it == t.streams.end() || it->second.serial != ps.serial) return;
  auto& st = it->second;
  st.reading = false;
  const piece_index pi{ps.piece};
  std::uint64_t expected = 0;
  for (std::uint32_t blk = ps.block; blk < ps.block + ps.count; ++blk) expected += t.picker->block_length({pi, blk});
  if (!c.ok || c.data.size() != expected) {
    if (st.blaming) {
      // Without the digests nobody can be blamed fairly: the piece is just fetched again.
      t.streams.erase(it);
      (void)t.picker->mark_hash_failed(pi);
      t.wasted += t.picker->piece_size(pi);
      events.emplace_back(hash_failed_event{t.id, pi});
      warn(t.id, {}, errc::session_storage_failed, "storage read-back failed for piece " + std::to_string(ps.piece));
      request_all(t);
      return;
    }
    st.read_failed = true;
    advance_stream(t, ps.piece);
    return;
  }
  if (st.blaming) {
    std::size_t at = 0;
    for (std::uint32_t blk = ps.block; blk < ps.block + ps.count; ++blk) {
      const std::uint32_t len = t.picker->block_length({pi, blk});
      st.blame_digests.push_back(sha1(byte_view(c.data).subspan(at, len)));
      at += len;
    }
    read_back_for_blame(t, ps.piece);
    return;
  }
  st.hasher.update(c.data);
  for (std::uint32_t blk = ps.block; blk < ps.block + ps.count; ++blk) st.stored.erase(blk);
  st.hashed += ps.count;
  advance_stream(t, ps.piece);
}

}  // namespace wt
