// Per-torrent work: hashing and writing pieces, smart ban, metadata, file and piece
// priorities, critical pieces, and the periodic tick (rates, timeouts, choker,
// reconnects).
#include "session/session_impl.hpp"

namespace wt {

using namespace session_detail;

// --- pieces ------------------------------------------------------------------------------------------------

void session::impl::hash_piece(torrent& t, std::uint32_t piece) {
  auto it = t.piece_buffers.find(piece);
  if (it == t.piece_buffers.end()) return;
  byte_buffer data = std::move(it->second);
  t.piece_buffers.erase(it);
  // A piece that failed before is hashed here: smart ban needs the digests of its blocks.
  if (settings.host_hashes_pieces && !t.failed_blocks.contains(piece)) {
    write_piece(t, piece, std::move(data), true);
    return;
  }
  auto block_bytes = [&](std::uint32_t block) {
    const std::size_t offset = std::size_t{block} * block_size;
    return byte_view(data).subspan(offset, std::min<std::size_t>(block_size, data.size() - offset));
  };
  if (sha1(data) == t.meta->piece_hashes[piece]) {
    piece_passed(t, piece, [&](std::uint32_t block) -> std::optional<sha1_digest> { return sha1(block_bytes(block)); });
    write_piece(t, piece, std::move(data), false);
    return;
  }
  piece_failed(t, piece, [&](std::uint32_t block) { return sha1(block_bytes(block)); });
}

void session::impl::write_piece(torrent& t, std::uint32_t piece, byte_buffer data, bool verify) {
  storage_request sr;
  sr.torrent = t.id;
  sr.op = storage_op::write;
  sr.piece = piece_index{piece};
  sr.offset = std::int64_t{piece} * t.meta->piece_length;
  sr.length = static_cast<std::uint32_t>(data.size());
  sr.data = std::move(data);
  if (verify) sr.verify = t.meta->piece_hashes[piece];
  pending_storage ps;
  ps.what = verify ? pending_storage::kind::verify_piece : pending_storage::kind::write_piece;
  ps.torrent = t.id;
  ps.piece = piece;
  ps.bytes = sr.length;
  pending_write_bytes += ps.bytes;
  emit_storage(std::move(sr), ps);
}

void session::impl::piece_verified_by_host(torrent& t, std::uint32_t piece, const storage_completion& c) {
  const piece_index pi{piece};
  if (c.digest && *c.digest == t.meta->piece_hashes[piece]) {
    // Nothing of an earlier failure to compare (such a piece is hashed by the engine).
    piece_passed(t, piece, [](std::uint32_t) -> std::optional<sha1_digest> { return std::nullopt; });
    piece_written(t, piece, c.ok);
    return;
  }
  if (!c.digest) {
    // The host failed before hashing: a store that failed, nobody blamed.
    piece_written(t, piece, false);
  } else if (c.data.size() == t.picker->piece_size(pi)) {
    const byte_view data = c.data;
    piece_failed(t, piece, [&](std::uint32_t block) {
      const std::size_t offset = std::size_t{block} * block_size;
      return sha1(data.subspan(offset, std::min<std::size_t>(block_size, data.size() - offset)));
    });
  } else {
    // The bytes did not come back: without their digests nobody can be blamed fairly.
    (void)t.picker->mark_hash_failed(pi);
    t.wasted += t.picker->piece_size(pi);
    events.emplace_back(hash_failed_event{t.id, pi});
    warn(t.id, {}, errc::session_storage_failed, "the host did not hand back the bytes of failed piece " + std::to_string(piece));
  }
  request_all(t);
}

void session::impl::piece_passed(torrent& t, std::uint32_t piece,
                                 const std::function<std::optional<sha1_digest>(std::uint32_t)>& digest_of) {
  // Each sender of some of it earns trust: a web seed's URL serves this torrent, a peer
  // has a record of good pieces (see piece_failed).
  std::set<std::uint32_t> senders;
  for (std::uint32_t b = 0; b < t.picker->blocks_in_piece(piece_index{piece}); ++b)
    if (auto who = t.picker->delivered_by({piece_index{piece}, b})) senders.insert(who->value);
  for (const std::uint32_t h : senders) {
    if (t.web_seeds.contains(h)) ++t.web_seeds[h].verified;
    else if (peer_connection* p = find_peer(t, connection_id{h})) ++p->pieces_passed;
  }
  // Smart ban: a block that differs from the one in a failed attempt came from
  // the peer that corrupted it.
  auto failed = t.failed_blocks.find(piece);
  if (failed != t.failed_blocks.end()) {
    for (const auto& fb : failed->second) {
      const auto now_digest = digest_of(fb.block);
      if (!now_digest || *now_digest == fb.digest) continue;
      if (t.web_seeds.contains(fb.connection.value)) {
        seed_faults.push_back({t.id, fb.connection.value, piece});
        continue;
      }
      auto e = t.known_peers.find(fb.connection.value);
      ban(t, fb.endpoint, e != t.known_peers.end() ? &e->second : nullptr, fb.connection);
    }
    t.failed_blocks.erase(failed);
  }
  t.exclusive.erase(piece);
}

void session::impl::piece_failed(torrent& t, std::uint32_t piece,
                                 const std::function<sha1_digest(std::uint32_t)>& digest_of) {
  const piece_index pi{piece};
  const auto origins = t.picker->mark_hash_failed(pi);
  t.wasted += t.picker->piece_size(pi);
  events.emplace_back(hash_failed_event{t.id, pi});
  std::set<std::uint32_t> senders;
  for (const auto& o : origins) senders.insert(o.peer.value);
  if (senders.size() == 1) {
    t.exclusive.erase(piece);
    const connection_id c{*senders.begin()};
    if (t.web_seeds.contains(c.value)) {
      // Judged at the end of the call: the seed may be in the middle of delivering bytes.
      seed_faults.push_back({t.id, c.value, piece});
      return;
    }
    // A peer with a record of good pieces is not banned for one bad piece: it is not asked
    // for it again (a seeder whose file changed on disk would otherwise be lost, and with
    // it everything else it has); a few such pieces and it is banned all the same.
    peer_connection* p = find_peer(t, c);
    if (p && p->pieces_passed >= settings.trusted_after_pieces && p->lone_failures < settings.forgiven_failures) {
      ++p->lone_failures;
      p->refused.insert(piece);
      forget_piece(t, *p, piece);
      warn(t.id, c, errc::session_piece_failed, "piece " + std::to_string(piece) + " from " + endpoint_key(p->remote) +
           " failed its hash check after " + std::to_string(p->pieces_passed) + " good pieces: not asked of it again");
      return;
    }
    if (auto e = t.known_peers.find(c.value); e != t.known_peers.end())
      ban(t, endpoint_key(e->second.remote), &e->second, c);
    return;
  }
  // Fetch it again from one sender: the one that delivered most of it, unless that
  // one had it to itself already.
  std::map<std::uint32_t, std::uint32_t> delivered;
  for (const auto& o : origins) ++delivered[o.peer.value];
  const auto previous = t.exclusive.find(piece);
  std::uint32_t holder = 0, most = 0;
  for (const auto& [conn, count] : delivered) {
    if (!find_peer(t, connection_id{conn})) continue;
    if (previous != t.exclusive.end() && previous->second == conn) continue;
    if (count > most) {
      holder = conn;
      most = count;
    }
  }
  if (holder != 0) t.exclusive[piece] = holder;
  else t.exclusive.erase(piece);
  auto& record = t.failed_blocks[piece];
  for (const auto& o : origins) {
    std::string who;
    if (const web_seed* ws = find_web_seed(t, o.peer.value)) who = "web seed " + ws->url;
    else if (auto e = t.known_peers.find(o.peer.value); e != t.known_peers.end()) who = endpoint_key(e->second.remote);
    else continue;
    record.push_back({o.block, std::move(who), connection_id{o.peer.value}, digest_of(o.block)});
  }
}

void session::impl::piece_written(torrent& t, std::uint32_t piece, bool ok) {
  const piece_index pi{piece};
  if (!ok) {
    (void)t.picker->mark_hash_failed(pi);
    warn(t.id, {}, errc::session_storage_failed, "storage write failed for piece " + std::to_string(piece));
    return;
  }
  t.picker->mark_verified(pi);
  t.verified += t.picker->piece_size(pi);
  storage_request sr;
  sr.torrent = t.id;
  sr.op = storage_op::mark_complete;
  sr.piece = pi;
  sr.offset = std::int64_t{piece} * t.meta->piece_length;
  emit_storage(std::move(sr), pending_storage{});
  events.emplace_back(piece_verified_event{t.id, pi});
  drop_finished_critical(t);
  issue_reads(t);
  // Every peer hears of it, those that have the piece too (as libtorrent's default
  // send_redundant_have): a seeder learns how far we are, and WebTorrent's chokes us once we
  // have everything (its alwaysChokeSeeders).
  for (auto& [id, p] : t.peers) {
    if (!p.active()) continue;
    send(p, wire::have{pi});
    if (p.am_interested && p.has.test(piece)) update_interest(t, p);
  }
  check_finished(t);
}

void session::impl::pump_check(torrent& t) {
  const std::uint32_t n = t.meta->piece_count();
  while (t.checking && t.check_next < n) {
    const piece_index pi{t.check_next};
    if (t.picker->state(pi) != piece_state::missing) {  // had or on its way: not read back
      ++t.check_next;
      ++t.check_done;
      continue;
    }
    const std::uint32_t size = t.picker->piece_size(pi);
    if (t.check_in_flight > 0 && t.check_in_flight + size > settings.max_check_bytes) return;
    storage_request sr;
    sr.torrent = t.id;
    sr.op = storage_op::read;
    sr.piece = pi;
    sr.offset = std::int64_t{pi.value} * t.meta->piece_length;
    sr.length = size;
    sr.digest_only = true;
    pending_storage ps;
    ps.what = pending_storage::kind::check_piece;
    ps.torrent = t.id;
    ps.piece = pi.value;
    ps.bytes = size;
    t.check_in_flight += size;
    ++t.check_next;
    emit_storage(std::move(sr), ps);
  }
  if (!t.checking || t.check_done < n) return;
  end_check(t);
}

void session::impl::end_check(torrent& t) {
  const std::uint32_t n = t.meta->piece_count();
  t.checking = false;
  events.emplace_back(storage_checked_event{t.id, t.check_held, t.rechecking});
  for (auto& [id, p] : t.peers) {
    if (!p.active()) continue;
    if (!t.rechecking)  // a recheck told them of each piece it found
      for (std::uint32_t i = 0; i < n; ++i)
        if (t.picker->have(piece_index{i})) send(p, wire::have{piece_index{i}});
    update_interest(t, p);
  }
  issue_reads(t);
  check_finished(t);
  if (t.recheck_again) start_check(t, true);
  else request_all(t);
}

// A piece read back from the store (its digest, or its bytes) against its hash.
static bool read_back_matches(const torrent& t, std::uint32_t piece, const storage_completion& c) {
  const auto& expected = t.meta->piece_hashes[piece];
  return c.ok && (c.digest ? *c.digest == expected
                           : c.data.size() == t.picker->piece_size(piece_index{piece}) && sha1(c.data) == expected);
}

// The pieces holding bytes of a file (none for pad and empty files).
static std::optional<piece_range> pieces_of_file(const torrent& t, const file_entry& f) {
  if (f.pad || f.length == 0) return std::nullopt;
  return t.picker->pieces_for_bytes(f.offset, f.length);
}

void session::impl::piece_checked(torrent& t, std::uint32_t piece, const storage_completion& c) {
  const piece_index pi{piece};
  const std::uint32_t size = t.picker->piece_size(pi);
  t.check_in_flight -= std::min<std::uint64_t>(t.check_in_flight, size);
  ++t.check_done;
  // A piece is had only when its bytes hash right: a store altered, truncated or
  // half-written by a crash costs a download of that piece, never a bad byte delivered.
  // Still missing: no block of it arrived meanwhile (requests already out when a recheck
  // began may still land).
  if (read_back_matches(t, piece, c) && t.picker->state(pi) == piece_state::missing) {
    t.picker->we_have(pi);
    ++t.check_held;
    // Each piece found, as WebTorrent's 'verified' while it verifies its store.
    events.emplace_back(piece_verified_event{t.id, pi});
    if (t.rechecking) {
      drop_finished_critical(t);
      for (auto& [id, p] : t.peers)
        if (p.active()) send(p, wire::have{pi});
    }
  }
  pump_check(t);
}

bool session::impl::apply_trust(torrent& t) {
  const std::uint32_t n = t.meta->piece_count();
  const bool fits = t.trusted_bits.size() == (std::size_t{n} + 7) / 8;
  if (!t.trust_all && !fits) return false;
  t.unhashed = t.trust_all ? bitfield(n, true) : bitfield(n);
  if (!t.trust_all)
    for (std::uint32_t i = 0; i < n; ++i)
      if (t.trusted_bits[i / 8] & (0x80u >> (i % 8))) t.unhashed.set(i);
  t.trusted_bits = {};
  for (std::uint32_t i = t.unhashed.find_next_set(0); i < n; i = t.unhashed.find_next_set(i + 1))
    t.picker->we_have(piece_index{i});
  if (t.trust_all) {
    check_finished(t);
    return true;
  }
  // WebTorrent's spot check of a bitfield: the second trusted piece of each file (its
  // first when it has one) is hashed before anything is requested.
  t.checking = true;
  t.rechecking = false;
  t.check_held = 0;
  for (const auto& f : t.meta->files) {
    const auto range = pieces_of_file(t, f);
    if (!range) continue;
    std::optional<std::uint32_t> spot;
    int seen = 0;
    for (std::uint32_t i = range->first.value; i <= range->last.value && seen < 2; ++i)
      if (t.unhashed.test(i)) spot = i, ++seen;
    if (spot) hash_trusted(t, *spot, true);
  }
  if (t.startup_hashes == 0) end_check(t);
  return true;
}

void session::impl::hash_trusted(torrent& t, std::uint32_t piece, bool startup) {
  if (!t.is_unhashed(piece) || !t.trust_hashing.try_emplace(piece, startup).second) return;
  if (startup) ++t.startup_hashes;
  const piece_index pi{piece};
  storage_request sr;
  sr.torrent = t.id;
  sr.op = storage_op::read;
  sr.piece = pi;
  sr.offset = std::int64_t{piece} * t.meta->piece_length;
  sr.length = t.picker->piece_size(pi);
  sr.digest_only = true;
  pending_storage ps;
  ps.what = pending_storage::kind::trust_piece;
  ps.torrent = t.id;
  ps.piece = piece;
  emit_storage(std::move(sr), ps);
}

void session::impl::trust_hashed(torrent& t, std::uint32_t piece, const storage_completion& c) {
  const auto it = t.trust_hashing.find(piece);
  if (it == t.trust_hashing.end()) return;
  const bool startup = it->second;
  t.trust_hashing.erase(it);
  if (startup) --t.startup_hashes;
  const piece_index pi{piece};
  const bool matches = read_back_matches(t, piece, c);
  t.unhashed.clear(piece);
  if (matches) {
    if (startup) events.emplace_back(piece_verified_event{t.id, pi});
  } else {
    // Not what the application said: the piece is missing after all. Peers that asked
    // for it (their requests wait for this hash) are refused; it is downloaded again.
    t.picker->we_dont_have(pi);
    for (auto& [id, p] : t.peers) {
      auto& q = p.queued;
      for (auto r = q.begin(); r != q.end();) {
        if (r->piece != pi) { ++r; continue; }
        if (p.fast) send(p, wire::reject_request{r->piece, r->begin, r->length});
        r = q.erase(r);
      }
    }
    if (!startup) events.emplace_back(hash_failed_event{t.id, pi});
    // As WebTorrent's bitfield check: a file with a bad piece has all its trusted ones hashed.
    if (!t.trust_all)
      for (const auto& f : t.meta->files) {
        const auto range = pieces_of_file(t, f);
        if (!range || piece < range->first.value || piece > range->last.value) continue;
        for (std::uint32_t i = range->first.value; i <= range->last.value; ++i) hash_trusted(t, i, startup);
      }
    check_finished(t);
  }
  if (t.checking && !t.rechecking && startup && t.startup_hashes == 0) {
    end_check(t);
  } else if (!matches && !t.checking) {
    for (auto& [id, p] : t.peers)
      if (p.active()) update_interest(t, p);
    request_all(t);
  }
  issue_reads(t);
  for (auto& [id, p] : t.peers)
    if (p.active()) pump_reads(t, p);
}

void session::impl::start_check(torrent& t, bool recheck) {
  t.checking = true;
  t.rechecking = recheck;
  t.recheck_again = false;
  t.check_next = t.check_done = t.check_held = 0;
  t.check_in_flight = 0;
  pump_check(t);
}

void session::impl::check_finished(torrent& t) {
  if (!t.picker) return;
  const bool finished = t.picker->is_finished();
  if (finished && !t.finished) {
    t.finished = true;
    end_web_runs(t, true);  // end-game duplicates still on their way: nothing more is needed
    events.emplace_back(torrent_finished_event{t.id});
    for (auto& [id, p] : t.peers) update_interest(t, p);
  } else if (!finished) {
    t.finished = false;
  }
}

void session::impl::set_metadata(torrent& t, metainfo m) {
  t.meta = std::move(m);
  t.name = t.meta->name;
  t.picker.emplace(t.meta->total_length, t.meta->piece_length, random.next());
  t.picker->set_strategy(t.strategy);
  t.all_pieces = bitfield(t.meta->piece_count(), true);
  t.metadata_fetches.clear();
  apply_file_priorities(t);
  events.emplace_back(metadata_received_event{t.id});
  if (!apply_trust(t) && t.check_storage) start_check(t, false);
  const std::uint32_t n = t.meta->piece_count();
  for (auto& [id, p] : t.peers) {
    if (!p.active()) continue;
    p.reader.set_piece_count(n);
    p.has = bitfield(n);
    if (p.have_all) {
      p.have_all = false;
      on_have_all(t, p);
    } else if (p.early_bitfield) {
      byte_buffer bits = std::move(*p.early_bitfield);
      p.early_bitfield.reset();
      on_bitfield(t, p, bits);
    }
    if (p.dead) continue;
    for (std::uint32_t piece : p.early_haves) {
      if (piece >= n) {
        close_peer(&t, p, errc::wire_piece_out_of_range, "have beyond the piece count", true);
        break;
      }
      on_have(t, p, piece);
    }
    p.early_haves.clear();
    if (p.dead) continue;
    update_interest(t, p);
    request_blocks(t, p);
  }
}

// --- streaming ----------------------------------------------------------------------------------------

void session::impl::apply_reader(torrent& t, std::uint32_t id) {
  auto it = t.readers.find(id);
  if (!t.picker || it == t.readers.end()) return;
  const auto range = t.picker->pieces_for_bytes(it->second.offset, std::max<std::int64_t>(1, it->second.readahead));
  if (!range) {
    t.picker->clear_deadlines(reader_handle{id});
    return;
  }
  t.picker->set_deadline(reader_handle{id}, *range, now, settings.reader_piece_interval);
}

// A reader opened or moved. When pieces readers wait for have blocks no one fetches, a
// peer that has one of them has its requests for pieces without a deadline cancelled, so
// that its pipeline fills with the reader's pieces now rather than after them (web seeds'
// runs likewise: end_delaying_web_runs). Otherwise nothing is cancelled: the blocks would
// only be asked again. Peers that have the reader's pieces become interesting (the pieces
// may have priority 0).
void session::impl::cancel_undue_requests(torrent& t) {
  if (!t.picker) return;
  end_delaying_web_runs(t);
  request_web_seeds(t);
  const auto waiting = waiting_pieces(t);
  for (auto& [cid, p] : t.peers) {
    if (!p.active()) continue;
    update_interest(t, p);
    bool cancel = false;
    for (std::size_t i = 0; i < waiting.size() && !cancel; ++i)
      cancel = p.have_all || (waiting[i] < p.has.size() && p.has.test(waiting[i]));
    for (auto it = p.requests.begin(); cancel && it != p.requests.end();) {
      if (t.picker->deadline(it->block.piece)) {
        ++it;
        continue;
      }
      cancel_request(t, p, *it);
      it = p.requests.erase(it);
    }
    request_blocks(t, p);
  }
}

// The pieces readers (and critical ranges) wait for that have a block no one fetches.
std::vector<std::uint32_t> session::impl::waiting_pieces(const torrent& t) const {
  std::vector<std::uint32_t> out;
  if (!t.picker) return out;
  const piece_picker& pk = *t.picker;
  auto add = [&](piece_range r) {
    for (std::uint32_t p = r.first.value; p <= r.last.value && p < pk.num_pieces(); ++p) {
      const piece_index pi{p};
      if (pk.have(pi) || pk.state(pi) == piece_state::complete) continue;
      bool free = false;  // a block neither asked for nor received
      for (std::uint32_t b = 0; b < pk.blocks_in_piece(pi) && !free; ++b)
        free = pk.state(block_address{pi, b}) == block_state::none;
      if (free) out.push_back(p);
    }
  };
  for (const auto& [id, r] : t.readers)
    if (auto range = pk.pieces_for_bytes(r.offset, std::max<std::int64_t>(1, r.readahead))) add(*range);
  for (const auto& [id, range] : t.critical) add(range);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void session::impl::issue_reads(torrent& t) {
  if (!t.picker) return;
  for (auto it = t.reads.begin(); it != t.reads.end();) {
    const auto range = t.picker->pieces_for_bytes(it->offset, it->length);
    bool ready = range.has_value();
    for (std::uint32_t p = range ? range->first.value : 1; ready && p <= range->last.value; ++p)
      ready = t.picker->have(piece_index{p});
    // A trusted piece is hashed before its bytes are read out (each such piece of the range
    // at once; the read goes when the last hash is in).
    bool hashing = false;
    for (std::uint32_t p = range ? range->first.value : 1; ready && p <= range->last.value; ++p)
      if (t.is_unhashed(p)) {
        hash_trusted(t, p, false);
        hashing = true;
      }
    if (!ready || hashing) {
      ++it;
      continue;
    }
    storage_request sr;
    sr.torrent = t.id;
    sr.op = storage_op::read;
    sr.piece = range->first;
    sr.piece_offset = static_cast<std::uint32_t>(it->offset - std::int64_t{range->first.value} * t.meta->piece_length);
    sr.offset = it->offset;
    sr.length = it->length;
    sr.user_read = it->id;
    pending_storage ps;
    ps.what = pending_storage::kind::user_read;
    ps.torrent = t.id;
    ps.read_id = it->id;
    ps.offset = it->offset;
    emit_storage(std::move(sr), ps);
    it = t.reads.erase(it);
  }
}

void session::impl::apply_file_priorities(torrent& t) {
  if (!t.meta || !t.picker) return;
  t.file_priorities.resize(t.meta->files.size(), piece_picker::default_priority);
  std::vector<byte_range_priority> ranges;
  for (std::size_t i = 0; i < t.meta->files.size(); ++i) {
    const auto& f = t.meta->files[i];
    if (f.pad) continue;
    ranges.push_back({f.offset, f.length, t.file_priorities[i]});
  }
  t.picker->set_priorities_from_ranges(ranges);
}

// The highest priority of the files that hold bytes of the piece (pad files and empty
// files hold none that count).
std::uint8_t session::impl::file_priority_of_piece(const torrent& t, std::uint32_t piece) const {
  const auto& files = t.meta->files;
  const std::int64_t begin = std::int64_t{piece} * t.meta->piece_length;
  const std::int64_t end = std::min(t.meta->total_length, begin + t.meta->piece_length);
  std::uint8_t best = 0;
  auto it = std::partition_point(files.begin(), files.end(),
                                 [&](const file_entry& f) { return f.offset + f.length <= begin; });
  for (; it != files.end() && it->offset < end; ++it) {
    if (it->pad || it->length == 0) continue;
    best = std::max(best, t.file_priorities[static_cast<std::size_t>(it - files.begin())]);
  }
  return best;
}

// Pieces changed priority: finished or not, which peers are interesting, what to ask.
void session::impl::priorities_changed(torrent& t) {
  check_finished(t);
  for (auto& [cid, p] : t.peers) {
    update_interest(t, p);
    request_blocks(t, p);
  }
  end_unwanted_web_runs(t);
  request_web_seeds(t);
}

// Critical ranges whose every piece is verified are done with.
void session::impl::drop_finished_critical(torrent& t) {
  for (auto it = t.critical.begin(); it != t.critical.end();) {
    bool done = true;
    for (std::uint32_t p = it->second.first.value; p <= it->second.last.value && done; ++p)
      done = t.picker->have(piece_index{p});
    if (!done) {
      ++it;
      continue;
    }
    t.picker->clear_deadlines(reader_handle{it->first});
    it = t.critical.erase(it);
  }
}

// --- time -----------------------------------------------------------------------------------------------

void session::impl::tick(time_point at) {
  const double dt = ticked ? seconds(at - last_tick) : 0.0;
  last_tick = at;
  ticked = true;
  auto update_rate = [&](double& rate, std::uint64_t& since) {
    if (dt > 0) {
      const double sample = static_cast<double>(since) / dt;
      rate += (sample - rate) * std::min(1.0, dt / 2.0);
      if (since == 0 && rate < 1.0) rate = 0;  // not 1e-13 B/s for ever
    }
    since = 0;
  };
  for (auto& [tid, t] : torrents) {
    t.down_meter.add(std::exchange(t.down_since, 0), at);
    t.up_meter.add(std::exchange(t.up_since, 0), at);
    for (auto& [cid, p] : t.peers) {
      if (p.dead) continue;
      p.down_meter.add(p.down_since, at);
      p.up_meter.add(p.up_since, at);
      update_rate(p.down_rate, p.down_since);
      update_rate(p.up_rate, p.up_since);
      if (!p.handshake_done) {
        if (at - p.connected_at >= settings.handshake_timeout)
          close_peer(&t, p, errc::ok, "handshake timed out", true);
        continue;
      }
      if (at - p.last_received >= settings.inactivity_timeout) {
        close_peer(&t, p, errc::ok, "inactivity timeout", true);
        continue;
      }
      if (p.ext_held && at >= p.ext_hold_until) {  // the host never answered
        release_extension_handshake(t, p);
        if (p.dead) continue;
      }
      if (p.keep_alive && at - p.last_sent >= settings.keepalive_interval) send(p, wire::keep_alive{});
      std::erase_if(p.cancelled_out, [&](const auto& c) { return c.until <= at; });
      // Give up on requests that never came back.
      for (auto it = p.requests.begin(); it != p.requests.end();) {
        if (at - it->at >= settings.request_abandon) {
          t.picker->abort_request(it->block, p.handle());
          it = p.requests.erase(it);
        } else {
          ++it;
        }
      }
      // The connection's own timeout (bittorrent-protocol's wire.setTimeout): its oldest
      // request, unanswered that long with no block meanwhile, is given up on and reported.
      if (p.request_deadline > duration{0} && !p.requests.empty()) {
        const auto oldest = std::min_element(p.requests.begin(), p.requests.end(),
                                             [](const auto& a, const auto& b) { return a.at < b.at; });
        if (at - std::max(oldest->at, p.last_block) >= p.request_deadline) {
          t.picker->abort_request(oldest->block, p.handle());
          p.requests.erase(oldest);
          p.last_block = at;  // the next one waits a whole timeout
          if (p.report & peer_message_bit(peer_message_kind::timeout))
            events.push_back(peer_message(t, p, peer_message_kind::timeout));
        }
      }
      for (auto& plugin : plugins) {
        plugin->on_tick(*this, t, p);
        if (p.dead) break;
      }
    }
    if (at >= t.next_unchoke) {
      const bool rotate = at >= t.next_optimistic;
      run_choker(t, rotate);
      t.next_unchoke = at + settings.unchoke_interval;
      if (rotate) t.next_optimistic = at + settings.optimistic_interval;
    }
    t.to_dial.wake(at);
    connect_candidates(t);
    web_seed_timeouts(t);
    request_all(t);
  }
  if (settings.stats_interval > duration{0} && at >= next_stats) {
    next_stats = at + settings.stats_interval;
    for (const auto& [tid, t] : torrents) events.emplace_back(stats_event{t.id, make_stats(t)});
  }
  for (auto& [cid, p] : unattached)
    if (!p.dead && at - p.connected_at >= settings.handshake_timeout)
      close_peer(nullptr, p, errc::ok, "handshake timed out", true);
}

}  // namespace wt
