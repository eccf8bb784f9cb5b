// BEP 19 web seeds in the session: which blocks a seed fetches (it is a peer of the piece
// picker that has every piece), the HTTP requests that fetch them, what comes back, and
// how a failing seed is judged. The URL and range arithmetic is webseed/webseed.hpp's.
#include "session/session_impl.hpp"

namespace wt {

using namespace session_detail;

namespace {

// 5 s, 10 s, 20 s, 40 s, then 60 s between attempts after transient failures in a row.
duration backoff(std::uint32_t retries) {
  const std::uint32_t n = std::clamp<std::uint32_t>(retries, 1, 5);
  return std::min<duration>(std::chrono::seconds(5) * (1 << (n - 1)), std::chrono::seconds(60));
}

bool requested_by(const piece_picker& pk, block_address b, std::uint32_t handle) {
  for (const peer_handle h : pk.requesters(b))
    if (h.value == handle) return true;
  return false;
}

std::string range_text(const webseed::segment& s) {
  return s.url + " bytes " + std::to_string(s.first) + "-" + std::to_string(s.last);
}

constexpr std::uint8_t zeros[block_size] = {};

}  // namespace

// --- planning -------------------------------------------------------------------------------

// The pieces that peers unchoking us can give: the fallback policy leaves them to them.
web_scope session::impl::web_seed_scope(const torrent& t) const {
  web_scope scope;
  if (!t.picker) return scope;
  scope.end_game = t.picker->in_end_game();
  scope.risk_until = now + settings.deadline_at_risk_window;
  if (t.seed_policy != web_seed_policy::fallback) return scope;
  for (const auto& [cid, p] : t.peers) {
    if (!p.active() || p.has.empty() || p.peer_choking) continue;
    if (!scope.restricted) scope.peers_have.assign(t.picker->num_pieces(), false);
    scope.restricted = true;
    for (std::uint32_t i = p.has.find_next_set(0); i < p.has.size(); i = p.has.find_next_set(i + 1))
      scope.peers_have[i] = true;
  }
  // No peer yet, in the grace period: as if peers had everything (see web_seed_grace).
  if (!scope.restricted && now < t.seeds_after) {
    scope.peers_have.assign(t.picker->num_pieces(), true);
    scope.restricted = true;
  }
  return scope;
}

// Whether a web seed may be asked for piece p.
bool session::impl::web_eligible(const torrent& t, const web_scope& scope, std::uint32_t p) const {
  const piece_picker& pk = *t.picker;
  const piece_index pi{p};
  if (pk.have(pi) || pk.state(pi) == piece_state::complete) return false;
  const auto due = pk.deadline(pi);
  if (pk.piece_priority(pi) == 0 && !due) return false;
  if (t.exclusive.contains(p)) return false;  // being fetched again from one peer (smart ban)
  if (!scope.restricted || !scope.peers_have[p]) return true;
  return scope.end_game || (due && *due <= scope.risk_until);
}

void session::impl::request_web_seeds(torrent& t) {
  if (t.web_seeds.empty() || !t.picker || t.paused || t.requests_held || t.checking || writes_behind() ||
      t.seed_policy == web_seed_policy::off)
    return;
  const web_scope scope = web_seed_scope(t);
  const std::uint32_t max_runs = t.max_web_requests ? t.max_web_requests : settings.max_web_seed_requests;
  for (auto& [handle, s] : t.web_seeds) {
    while (!s.dropped && now >= s.retry_at && s.runs < max_runs && start_web_run(t, s, scope)) {
    }
  }
}

bool session::impl::start_web_run(torrent& t, web_seed& s, const web_scope& scope) {
  // The budget is a hard cap: once spent, web seeds are asked for nothing more.
  if (t.seed_budget > 0 && t.seed_requested + block_size > t.seed_budget) return false;
  piece_picker& pk = *t.picker;
  const std::uint32_t n = pk.num_pieces();
  const bool end_game = scope.end_game;
  auto eligible = [&](std::uint32_t p) { return !refuses(s, p) && web_eligible(t, scope, p); };
  // Free blocks; in end-game also a block one peer (not a web seed: their bytes arrive
  // piecemeal and must not mix in one block) is fetching.
  auto takeable = [&](block_address b) {
    if (pk.state(b) == block_state::received) return false;
    const auto who = pk.requesters(b);
    if (who.empty()) return true;
    if (!end_game || who.size() >= 2) return false;
    return !t.web_seeds.contains(who.front().value);
  };
  auto first_takeable = [&](std::uint32_t p) -> std::optional<block_address> {
    const piece_index pi{p};
    if (pk.state(pi) == piece_state::missing) return block_address{pi, 0};
    for (std::uint32_t b = 0; b < pk.blocks_in_piece(pi); ++b)
      if (takeable({pi, b})) return block_address{pi, b};
    return std::nullopt;
  };

  // Streaming first: the earliest deadline among the readers' and critical pieces.
  std::optional<block_address> start;
  std::optional<time_point> start_due;
  auto consider = [&](piece_range r) {
    for (std::uint32_t p = r.first.value; p <= r.last.value && p < n; ++p) {
      const auto due = pk.deadline(piece_index{p});
      if (!due || (start_due && *due >= *start_due) || !eligible(p)) continue;
      if (auto b = first_takeable(p)) {
        start = b;
        start_due = due;
      }
    }
  };
  for (const auto& [id, r] : t.readers)
    if (auto range = pk.pieces_for_bytes(r.offset, std::max<std::int64_t>(1, r.readahead))) consider(*range);
  for (const auto& [id, range] : t.critical) consider(range);
  if (!start) {
    // While streaming, a seed keeps its other requests free for the readers.
    if (streaming(t) && s.runs > 0) return false;
    // The first piece of the highest priority: consecutive pieces make long ranges.
    std::uint8_t best = 0;
    for (std::uint32_t p = 0; p < n && best < piece_picker::top_priority; ++p) {
      const std::uint8_t prio = pk.piece_priority(piece_index{p});
      if (prio <= best || !eligible(p)) continue;
      if (auto b = first_takeable(p)) {
        start = b;
        best = prio;
      }
    }
  }
  if (!start) return false;

  // Pieces in progress past max_partial_bytes: a seed with requests out starts no new piece,
  // and one without takes one piece at most (as a lone peer would).
  bool one_piece = false;
  if (settings.max_partial_bytes > 0) {
    if (partial_bytes() >= settings.max_partial_bytes) {
      if (s.runs > 0 && pk.state(start->piece) == piece_state::missing) return false;
      one_piece = true;
    }
  }

  std::uint64_t cap = settings.web_seed_request_bytes;
  if (t.seed_budget > 0) cap = std::min(cap, t.seed_budget - t.seed_requested);
  // What is left, split over the seed's request slots (a piece at least): a server that
  // paces each response (per connection) serves a small file over several at once, as
  // WebTorrent asks a seed for four pieces at a time, not one range on one connection.
  const std::uint64_t slots = t.max_web_requests ? t.max_web_requests : settings.max_web_seed_requests;
  if (slots > 1) {
    const auto share = static_cast<std::uint64_t>(std::max<std::int64_t>(0, pk.bytes_left())) / slots;
    cap = std::min(cap, std::max<std::uint64_t>(share, static_cast<std::uint64_t>(pk.piece_length())));
  }
  // 'always' beside a peer that unchokes us: one piece per request, as WebTorrent asks a
  // seed, so that the server is not handed megabytes the peer could have given.
  if (t.seed_policy == web_seed_policy::always &&
      std::any_of(t.peers.begin(), t.peers.end(), [](const auto& e) { return e.second.active() && !e.second.peer_choking; }))
    cap = std::min(cap, static_cast<std::uint64_t>(pk.piece_length()));
  // End-game: the blocks left are mostly in flight from peers, end to end (the picker takes
  // pieces an extent at a time): one piece per request, not a run duplicating all of them.
  if (end_game) cap = std::min(cap, static_cast<std::uint64_t>(pk.piece_length()));
  web_run run;
  run.torrent = t.id;
  run.seed = s.handle;
  block_address b = *start;
  const std::int64_t begin = std::int64_t{b.piece.value} * pk.piece_length() + pk.request_for(b).offset;
  std::int64_t offset = begin;
  std::uint64_t bytes = 0;
  while (true) {
    const std::uint32_t len = pk.block_length(b);
    if (!run.blocks.empty() && (bytes + len > cap || !takeable(b))) break;
    if (!pk.mark_requested(b, peer_handle{s.handle}, now)) break;
    run.blocks.push_back(b);
    run.starts.push_back(offset);
    run.missing.push_back(len);
    bytes += len;
    offset += len;
    if (b.block + 1 < pk.blocks_in_piece(b.piece)) {
      ++b.block;
      continue;
    }
    if (one_piece || b.piece.value + 1 >= n || !eligible(b.piece.value + 1)) break;
    b = block_address{piece_index{b.piece.value + 1}, 0};
  }
  if (run.blocks.empty()) return false;
  run.end = offset;
  t.seed_requested += bytes;

  const std::uint64_t run_id = next_run++;
  web_run& r = web_runs[run_id] = std::move(run);
  ++s.runs;
  const auto segments = webseed::plan_range(*t.meta, s.url, begin, offset - begin);
  for (const auto& seg : segments) {
    if (seg.pad) continue;
    const std::uint64_t id = next_http++;
    http_part& part = http_parts[id];
    part.run = run_id;
    part.torrent = t.id;
    part.seed = s.handle;
    part.seg = seg;
    part.last_activity = now;
    ++r.open_parts;
    http_out.push_back(http_request{http_request_id{id}, http_op::get, t.id, s.handle, seg.url, seg.first, seg.last});
  }
  // Pad files are zeros (BEP 47), never asked for.
  for (const auto& seg : segments) {
    if (!seg.pad) continue;
    for (std::int64_t done = 0; done < seg.length();) {
      const auto chunk = static_cast<std::size_t>(std::min<std::int64_t>(block_size, seg.length() - done));
      web_bytes(t, r, seg.torrent_offset + done, byte_view(zeros, chunk));
      done += static_cast<std::int64_t>(chunk);
    }
  }
  if (r.open_parts == 0) end_run(run_id);
  return true;
}

// --- bytes ------------------------------------------------------------------------------------

void session::impl::web_bytes(torrent& t, web_run& run, std::int64_t offset, byte_view data) {
  piece_picker& pk = *t.picker;
  while (!data.empty()) {
    auto it = std::upper_bound(run.starts.begin(), run.starts.end(), offset);
    if (it == run.starts.begin()) return;
    const auto i = static_cast<std::size_t>(it - run.starts.begin()) - 1;
    const block_address b = run.blocks[i];
    const std::uint32_t len = pk.block_length(b);
    const std::int64_t within = offset - run.starts[i];
    if (within >= len) return;  // past the run
    const auto n = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(data.size()), len - within));
    // Only while the seed is still asked for the block: a peer may have delivered it, or
    // its piece may have been verified or failed meanwhile.
    if (run.missing[i] > 0 && requested_by(pk, b, run.seed)) {
      // A streamed piece assembles the block alone, then takes it whole.
      const bool streamed = is_streamed(t, b.piece);
      if (streamed) {
        auto& st = t.streams.try_emplace(b.piece.value).first->second;
        if (st.serial == 0) st.serial = t.next_stream++;
        auto& block = st.assembling[b.block];
        if (block.empty()) block.resize(len);
        std::memcpy(block.data() + within, data.data(), n);
      } else {
        auto& buffer = t.piece_buffers[b.piece.value];
        if (buffer.empty()) buffer.resize(pk.piece_size(b.piece));
        std::memcpy(buffer.data() + pk.request_for(b).offset + within, data.data(), n);
      }
      run.missing[i] -= std::min<std::uint32_t>(run.missing[i], static_cast<std::uint32_t>(n));
      if (run.missing[i] == 0) {
        auto r = pk.mark_block_received(b, peer_handle{run.seed});
        cancel_duplicates(t, b, r.cancel);
        if (streamed) {
          auto& st = t.streams[b.piece.value];
          byte_buffer block = std::move(st.assembling[b.block]);
          st.assembling.erase(b.block);
          if (r.accepted) stream_block(t, b, block);
        } else if (r.piece_complete) {
          hash_piece(t, b.piece.value);
        }
      }
    } else {
      t.wasted += n;
    }
    offset += static_cast<std::int64_t>(n);
    data = data.subspan(n);
  }
}

// --- ends of parts and runs ---------------------------------------------------------------------

void session::impl::part_done(std::uint64_t id) {
  auto it = http_parts.find(id);
  if (it == http_parts.end()) return;
  const http_part part = std::move(it->second);
  http_parts.erase(it);
  torrent* t = find_torrent(part.torrent);
  if (!t) return;
  if (web_seed* s = find_web_seed(*t, part.seed)) s->retries = 0;
  auto r = web_runs.find(part.run);
  if (r != web_runs.end() && --r->second.open_parts == 0) end_run(part.run);
  request_web_seeds(*t);
}

void session::impl::part_failed(std::uint64_t id, errc code, std::string message, bool cancel, bool transient) {
  auto it = http_parts.find(id);
  if (it == http_parts.end()) return;
  const http_part part = std::move(it->second);
  http_parts.erase(it);
  if (cancel) cancel_http(id);
  torrent* t = find_torrent(part.torrent);
  if (!t) return;
  // Fatal: the seed cannot serve this torrent (or not as asked), retrying cannot help.
  const bool fatal = code == errc::web_seed_ignores_range || (code == errc::web_seed_http_error && !transient);
  if (web_seed* s = find_web_seed(*t, part.seed)) {
    if (code == errc::web_seed_not_found)
      seed_lacks_file(*t, *s, part.seg.file.value, std::move(message));
    else
      seed_failure(*t, *s, code, std::move(message), transient, fatal);
  }
  end_run(part.run);
  request_web_seeds(*t);
}

void session::impl::end_run(std::uint64_t id) {
  auto it = web_runs.find(id);
  if (it == web_runs.end()) return;
  const web_run run = std::move(it->second);
  web_runs.erase(it);
  for (auto p = http_parts.begin(); p != http_parts.end();) {
    if (p->second.run != id) {
      ++p;
      continue;
    }
    cancel_http(p->first);
    p = http_parts.erase(p);
  }
  torrent* t = find_torrent(run.torrent);
  if (!t) return;
  if (t->picker)
    for (std::size_t i = 0; i < run.blocks.size(); ++i)
      if (run.missing[i] > 0) t->picker->abort_request(run.blocks[i], peer_handle{run.seed});
  if (web_seed* s = find_web_seed(*t, run.seed); s && s->runs > 0) --s->runs;
}

void session::impl::end_web_runs(torrent& t, bool only_undue) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, r] : web_runs)
    if (r.torrent == t.id && !(only_undue && next_due(t, r))) ids.push_back(id);
  for (const std::uint64_t id : ids) end_run(id);
}

// A reader opened or moved. A run whose next bytes are for a piece no reader waits for is
// cut when one of its later pieces is one (bytes come in order: a seek into the middle of
// a 1 MiB range is planned again from the reader's piece), or when a piece a reader waits
// for has blocks no one fetches (a new run for it gets the server's bandwidth). Otherwise
// it goes on: cut, it would be asked again at once, and cut again at the reader's next move.
void session::impl::end_delaying_web_runs(torrent& t) {
  if (!t.picker) return;
  const piece_picker& pk = *t.picker;
  std::vector<std::uint64_t> in_order_way, undue;
  for (const auto& [id, r] : web_runs) {
    if (r.torrent != t.id || next_due(t, r)) continue;
    bool later_due = false;
    for (std::size_t i = 0; i < r.blocks.size() && !later_due; ++i)
      later_due = r.missing[i] > 0 && pk.deadline(r.blocks[i].piece).has_value();
    (later_due ? in_order_way : undue).push_back(id);
  }
  for (const std::uint64_t id : in_order_way) end_run(id);
  if (undue.empty() || !due_block_free(t)) return;
  for (const std::uint64_t id : undue) end_run(id);
}

// Pieces were deselected (an app choosing one file at 'ready', after the seeds' first ranges
// went out): a run that would still bring bytes of a piece no longer wanted ends, and what
// it had of wanted pieces is asked again at once. A seed's range is up to 1 MiB; left
// running, the server would send every byte of the files the app did not want.
void session::impl::end_unwanted_web_runs(torrent& t) {
  if (!t.picker) return;
  const piece_picker& pk = *t.picker;
  end_runs_bringing(t, [&](const web_run&, piece_index p) { return pk.piece_priority(p) == 0 && !pk.deadline(p); });
}

// Ends the torrent's runs that would still deliver bytes of a piece `unwanted` names.
void session::impl::end_runs_bringing(torrent& t, const std::function<bool(const web_run&, piece_index)>& unwanted) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, r] : web_runs) {
    if (r.torrent != t.id) continue;
    for (std::size_t i = 0; i < r.blocks.size(); ++i)
      if (r.missing[i] > 0 && unwanted(r, r.blocks[i].piece)) {
        ids.push_back(id);
        break;
      }
  }
  for (const std::uint64_t id : ids) end_run(id);
}

// Whether what the run delivers next is for a piece a reader waits for.
bool session::impl::next_due(const torrent& t, const web_run& r) const {
  if (!t.picker) return false;
  std::size_t next = 0;
  while (next < r.blocks.size() && r.missing[next] == 0) ++next;
  return next < r.blocks.size() && t.picker->deadline(r.blocks[next].piece).has_value();
}

// Whether a piece a reader (or a critical range) waits for has a block no one fetches that
// a web seed may be asked for.
bool session::impl::due_block_free(const torrent& t) const {
  const auto waiting = waiting_pieces(t);
  if (waiting.empty()) return false;
  const web_scope scope = web_seed_scope(t);
  return std::any_of(waiting.begin(), waiting.end(), [&](std::uint32_t p) { return web_eligible(t, scope, p); });
}

// --- judging seeds ------------------------------------------------------------------------------

void session::impl::seed_failure(torrent& t, web_seed& s, errc code, std::string message, bool transient, bool fatal) {
  ++s.failures;
  s.last_error = code;
  s.last_message = message;
  bool drop = fatal;
  if (!fatal && transient) {
    // In a row means rounds: the seed's other requests failing in the same round (or
    // during its back-off) do not count again.
    if (now >= s.retry_at) ++s.retries;
    drop = s.retries >= settings.web_seed_max_retries;
    s.retry_at = now + backoff(s.retries);
  } else if (!fatal) {
    ++s.bad;
    drop = s.bad >= settings.web_seed_max_bad;
  }
  warn(t.id, connection_id{s.handle}, code, "web seed " + s.url + ": " + message + (drop ? " (web seed dropped)" : ""));
  if (drop) drop_web_seed(t, s);
}

void session::impl::refuse_pieces(torrent& t, web_seed& s, std::uint32_t first, std::uint32_t last) {
  if (!t.picker) return;
  const std::uint32_t n = t.picker->num_pieces();
  if (s.refused.empty()) s.refused.assign(n, false);
  for (std::uint32_t p = first; p <= last && p < n; ++p) {
    if (s.refused[p]) continue;
    s.refused[p] = true;
    ++s.refused_count;
  }
}

// Ends the seed's runs that would still deliver bytes of pieces it is no longer asked for.
void session::impl::end_refused_runs(torrent& t, web_seed& s) {
  end_runs_bringing(t, [&](const web_run& r, piece_index p) { return r.seed == s.handle && refuses(s, p.value); });
}

void session::impl::seed_lacks_file(torrent& t, web_seed& s, std::uint32_t file, std::string message) {
  ++s.failures;
  s.last_error = errc::web_seed_not_found;
  s.last_message = message;
  const file_entry& f = t.meta->files[file];
  if (t.picker)
    if (auto r = t.picker->pieces_for_bytes(f.offset, std::max<std::int64_t>(1, f.length))) refuse_pieces(t, s, r->first.value, r->last.value);
  ++s.files_lacking;
  // Nothing left to ask it, or a seed that gave nothing good lacks file after file (a wrong URL).
  const bool drop = (t.picker && s.refused_count >= t.picker->num_pieces()) ||
                    (s.verified == 0 && s.files_lacking >= settings.web_seed_max_missing_files);
  warn(t.id, connection_id{s.handle}, errc::web_seed_not_found,
       "web seed " + s.url + ": " + message + (drop ? " (web seed dropped)" : ": not asked for " + f.name() + " again"));
  if (drop) return drop_web_seed(t, s);
  end_refused_runs(t, s);
}

void session::impl::seed_piece_failed(torrent& t, web_seed& s, std::uint32_t piece) {
  ++s.failures;
  ++s.bad;
  s.last_error = errc::web_seed_bad_data;
  s.last_message = "piece " + std::to_string(piece) + " failed its hash check";
  refuse_pieces(t, s, piece, piece);
  // A file whose pieces failed twice differs on the server (changed since the torrent was
  // made): none of its pieces is asked of the seed again; its other files still are.
  std::string files_refused;
  const std::int64_t begin = std::int64_t{piece} * t.meta->piece_length;
  const std::int64_t end = begin + t.picker->piece_size(piece_index{piece});
  for (std::uint32_t i = 0; i < t.meta->files.size(); ++i) {
    const file_entry& f = t.meta->files[i];
    if (f.pad || f.length == 0 || f.offset + f.length <= begin || f.offset >= end) continue;
    if (++s.file_failures[i] < settings.web_seed_max_bad) continue;
    if (auto r = t.picker->pieces_for_bytes(f.offset, f.length)) refuse_pieces(t, s, r->first.value, r->last.value);
    files_refused += (files_refused.empty() ? "" : ", ") + f.name();
  }
  const bool drop = s.refused_count >= t.picker->num_pieces() || (s.verified == 0 && s.bad >= 2 * settings.web_seed_max_bad);
  warn(t.id, connection_id{s.handle}, errc::web_seed_bad_data,
       "web seed " + s.url + ": " + s.last_message +
           (drop ? " (web seed dropped)" : !files_refused.empty() ? "; not asked for " + files_refused + " again" : ""));
  if (drop) return drop_web_seed(t, s);
  end_refused_runs(t, s);
}

void session::impl::drop_web_seed(torrent& t, web_seed& s) {
  if (s.dropped) return;
  s.dropped = true;
  std::vector<std::uint64_t> ids;
  for (const auto& [id, r] : web_runs)
    if (r.torrent == t.id && r.seed == s.handle) ids.push_back(id);
  for (const std::uint64_t id : ids) end_run(id);
  if (t.picker) t.picker->release_peer(peer_handle{s.handle});
}

void session::impl::web_seed_timeouts(torrent& t) {
  std::vector<std::uint64_t> late;
  for (const auto& [id, p] : http_parts)
    if (p.torrent == t.id && now - p.last_activity >= settings.web_seed_timeout) late.push_back(id);
  for (const std::uint64_t id : late) {
    auto it = http_parts.find(id);
    if (it == http_parts.end()) continue;  // ended with an earlier one's run
    const std::string what = !it->second.responded ? "no response for "
                             : it->second.received == it->second.received_at_activity
                                 ? "no body bytes for "
                                 : "under " + std::to_string(settings.web_seed_progress_bytes / 1024) + " KiB of body in ";
    part_failed(id, errc::web_seed_timeout,
                what + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(settings.web_seed_timeout).count()) +
                    " s (" + range_text(it->second.seg) + ")",
                true, true);
  }
}

void session::impl::settle_seed_faults() {
  if (seed_faults.empty()) return;
  const auto faults = std::move(seed_faults);
  seed_faults.clear();
  for (const auto& f : faults) {
    torrent* t = find_torrent(f.torrent);
    web_seed* s = t ? find_web_seed(*t, f.seed) : nullptr;
    if (!s || s->dropped) continue;
    seed_piece_failed(*t, *s, f.piece);
    request_web_seeds(*t);
  }
}

// --- public surface ------------------------------------------------------------------------------

bool session::add_web_seed(torrent_id id, std::string url, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return false;
  url = webseed::normalize_seed_url(url);
  if (!webseed::valid_seed_url(url, s.settings.web_seed_limits)) {
    s.warn(id, {}, errc::web_seed_bad_url, "web seed ignored: " + url.substr(0, 200));
    s.finish_call();
    return false;
  }
  if (t->web_seeds.size() >= s.settings.max_web_seeds) return false;
  for (const auto& [handle, ws] : t->web_seeds)
    if (ws.url == url) return false;
  const std::uint32_t handle = s.next_connection++;
  web_seed& ws = t->web_seeds[handle];
  ws.handle = handle;
  ws.url = std::move(url);
  s.request_web_seeds(*t);
  s.finish_call();
  return true;
}

bool session::remove_web_seed(torrent_id id, std::string url, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return false;
  url = webseed::normalize_seed_url(url);
  const auto it = std::find_if(t->web_seeds.begin(), t->web_seeds.end(), [&](const auto& e) { return e.second.url == url; });
  if (it == t->web_seeds.end()) return false;
  s.drop_web_seed(*t, it->second);
  t->web_seeds.erase(it);
  s.request_web_seeds(*t);  // another seed may take what this one had planned
  s.finish_call();
  return true;
}

void session::set_web_seed_policy(torrent_id id, web_seed_policy policy, std::uint64_t budget, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  t->seed_policy = policy;
  t->seed_budget = budget;
  s.request_web_seeds(*t);
  s.finish_call();
}

void session::end_web_seed_grace(torrent_id id, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || t->seeds_after <= s.now) return s.finish_call();
  t->seeds_after = s.now;
  s.request_web_seeds(*t);
  s.finish_call();
}

std::vector<web_seed_stats> session::web_seeds(torrent_id id) const {
  std::vector<web_seed_stats> out;
  const torrent* t = impl_->find_torrent(id);
  if (!t) return out;
  for (const auto& [handle, ws] : t->web_seeds) {
    web_seed_stats st;
    st.id = handle;
    st.url = ws.url;
    st.state = ws.dropped ? web_seed_state::dropped
               : impl_->now < ws.retry_at ? web_seed_state::waiting
                                          : web_seed_state::active;
    st.downloaded = ws.downloaded;
    st.requests = ws.runs;
    st.failures = ws.failures;
    st.error = ws.last_error;
    st.message = ws.last_message;
    out.push_back(std::move(st));
  }
  return out;
}

void session::http_response(http_request_id id, int status, std::string_view content_range,
                            std::optional<std::int64_t> content_length, time_point now) {
  auto& s = enter(now);
  auto it = s.http_parts.find(id.value);
  if (it == s.http_parts.end() || it->second.responded) return;
  http_part& part = it->second;
  part.last_activity = s.now;
  auto plan = webseed::check_response(part.seg, status, content_range, content_length, s.settings.web_seed_limits);
  if (plan) {
    part.responded = true;
    part.body = *plan;
  } else {
    const bool transient = plan.err().code == errc::web_seed_http_error && !webseed::web_seed_fatal_status(status);
    s.part_failed(id.value, plan.err().code, plan.err().context + " (" + range_text(part.seg) + ")", true, transient);
  }
  s.finish_call();
}

void session::http_data(http_request_id id, byte_view data, time_point now) {
  auto& s = enter(now);
  auto it = s.http_parts.find(id.value);
  if (it == s.http_parts.end() || data.empty()) return;
  http_part& part = it->second;
  torrent* t = s.find_torrent(part.torrent);
  web_seed* seed = t ? s.find_web_seed(*t, part.seed) : nullptr;
  auto run = s.web_runs.find(part.run);
  if (!t || !seed || run == s.web_runs.end()) return;
  if (!part.responded) {
    s.part_failed(id.value, errc::web_seed_bad_response, "body before the response (" + range_text(part.seg) + ")", true, false);
    s.finish_call();
    return;
  }
  seed->downloaded += data.size();
  t->seed_downloaded += data.size();
  t->downloaded += data.size();
  t->down_since += data.size();
  const std::int64_t from = part.received;
  const std::int64_t to = from + static_cast<std::int64_t>(data.size());
  part.received = to;
  const std::int64_t want_end = part.body.skip + part.body.length;
  if (to - part.received_at_activity >= s.settings.web_seed_progress_bytes || to >= want_end) {
    part.last_activity = s.now;
    part.received_at_activity = to;
  }
  if (!part.body.whole_file && to > want_end) {
    // Nothing of a body longer than asked for is used: the server is not answering the range.
    t->wasted += data.size();
    s.part_failed(id.value, errc::web_seed_bad_response,
                  "body longer than the " + std::to_string(part.body.length) + " bytes asked for (" + range_text(part.seg) + ")",
                  true, false);
    s.finish_call();
    return;
  }
  const std::int64_t lo = std::max(from, part.body.skip), hi = std::min(to, want_end);
  const std::int64_t used = std::max<std::int64_t>(0, hi - lo);
  t->wasted += data.size() - static_cast<std::size_t>(used);
  if (used > 0)
    s.web_bytes(*t, run->second, part.seg.torrent_offset + (lo - part.body.skip),
                data.subspan(static_cast<std::size_t>(lo - from), static_cast<std::size_t>(used)));
  if (part.body.whole_file && to >= want_end) {
    // The rest of the file is not needed.
    s.cancel_http(id.value);
    s.part_done(id.value);
  }
  s.finish_call();
}

void session::http_done(http_request_id id, time_point now) {
  auto& s = enter(now);
  auto it = s.http_parts.find(id.value);
  if (it == s.http_parts.end()) return;
  const http_part& part = it->second;
  if (!part.responded) {
    s.part_failed(id.value, errc::web_seed_bad_response, "no response (" + range_text(part.seg) + ")", false, false);
  } else if (part.received < part.body.skip + part.body.length) {
    s.part_failed(id.value, errc::web_seed_bad_response,
                  "body of " + std::to_string(part.received) + " bytes, shorter than asked for (" + range_text(part.seg) + ")",
                  false, false);
  } else {
    s.part_done(id.value);
  }
  s.finish_call();
}

void session::http_failed(http_request_id id, std::string_view message, time_point now) {
  auto& s = enter(now);
  auto it = s.http_parts.find(id.value);
  if (it == s.http_parts.end()) return;
  std::string text(message.substr(0, 200));
  s.part_failed(id.value, errc::web_seed_failed, (text.empty() ? "request failed" : text) + " (" + range_text(it->second.seg) + ")",
                false, true);
  s.finish_call();
}

std::optional<http_request> session::poll_http() {
  auto& q = impl_->http_out;
  if (q.empty()) return std::nullopt;
  http_request r = std::move(q.front());
  q.pop_front();
  return r;
}

}  // namespace wt
