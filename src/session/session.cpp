#include "session/session.hpp"

#include <tuple>

#include "session/session_impl.hpp"

namespace wt {

using namespace session_detail;

// --- impl ---------------------------------------------------------------------------------------

session::impl::impl(session_settings s) : settings(std::move(s)), random(settings.seed) {
  // Azureus-style, a client code of its own ("WM": bittorrent-peerid and libtorrent name
  // none so; until 2026-12-07 "WT", which bittorrent-peerid reads as Bitlet).
  static constexpr std::string_view prefix = "-WM0001-";
  static constexpr std::string_view alphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::memcpy(pid.data(), prefix.data(), prefix.size());
  for (std::size_t i = prefix.size(); i < pid.size(); ++i)
    pid[i] = static_cast<std::uint8_t>(alphabet[random.next() % alphabet.size()]);
  // Drawn even when the id is given, so the rest of the random sequence does not change.
  if (settings.peer_id) pid = *settings.peer_id;
  download_limit.set_rate(settings.download_rate_limit, now);
  upload_limit.set_rate(settings.upload_rate_limit, now);
  if (settings.enable_ut_metadata) plugins.push_back(make_ut_metadata_plugin());
  if (settings.enable_ut_pex) plugins.push_back(make_ut_pex_plugin());
  plugins.push_back(make_lt_donthave_plugin());
}

void session::impl::close_peer(torrent* t, peer_connection& p, errc code, std::string reason,
                               bool tell_host) {
  if (p.dead) return;
  p.dead = true;
  if (t && p.handshake_done && t->picker) {
    if (p.have_all) t->picker->dec_have_all();
    else if (!p.has.empty()) t->picker->dec_bitfield(p.has);
    t->picker->release_peer(p.handle());
  }
  // A peer closed with an error code broke the protocol: a redial would meet the same.
  if (code != errc::ok) p.no_retry = true;
  if (t) {
    for (auto& f : t->metadata_fetches)
      for (auto& mp : f.pieces) mp.forget(p.id);
    schedule_retry(*t, p);
    std::erase_if(t->exclusive, [&](const auto& e) { return e.second == p.id.value; });
    if (p.handshake_done) {
      t->past_peers.push_back(p.id.value);
      if (t->past_peers.size() > torrent::max_past_peers) {
        t->known_peers.erase(t->past_peers.front());
        t->past_peers.pop_front();
      }
    }
  }
  if (tell_host) {
    if (!p.out.empty()) final_transmits.push_back(transmit{p.id, std::move(p.out)});
    closes.push_back(close_request{p.id, reason});
  }
  p.out.clear();
  if (code != errc::ok) warn(t ? t->id : torrent_id{}, p.id, code, reason);
  events.emplace_back(peer_disconnected_event{t ? t->id : torrent_id{}, p.id, code, std::move(reason)});
  garbage.push_back(p.id.value);
}

void session::impl::schedule_retry(torrent& t, const peer_connection& p) {
  if (p.no_retry) return;
  auto e = listen_endpoint(p);
  if (!e) return;
  const std::string key = endpoint_key(*e);
  if (t.banned.contains(key) || t.banned_hosts.contains(host_key(*e))) return;
  // Two seeds have nothing to say to each other.
  const bool peer_is_seed = p.have_all || (!p.has.empty() && p.num_have == p.has.size());
  if (t.finished && peer_is_seed) return;
  std::uint32_t failures = 0;
  if (p.handshake_done || t.paused) {  // a pause cutting a dial is no failure
    t.failures.erase(key);
  } else {
    // Failed addresses are remembered only to stop redialling them, and in a big swarm they
    // would pile up for good: past a bound all are forgotten (each may be redialled again).
    if (t.failures.size() >= 2 * dial_queue::capacity && !t.failures.contains(key)) t.failures.clear();
    failures = ++t.failures[key];
  }
  if (failures > 5) return;  // gone for good
  const duration backoff = std::chrono::seconds(5) * (1 << std::min<std::uint32_t>(failures, 6));
  t.to_dial.add_later(*e, p.source, now + backoff);
}

void session::impl::collect_garbage() {
  std::vector<torrent_id> with_room;
  for (std::uint32_t c : garbage) {
    if (unattached.erase(c)) continue;
    auto o = owner.find(c);
    if (o == owner.end()) continue;
    if (auto* t = find_torrent(torrent_id{o->second})) {
      auto it = t->peers.find(c);
      if (it != t->peers.end() && it->second.dead) {
        const bool was_unchoked = !it->second.am_choking;
        t->peers.erase(it);
        if (was_unchoked) fill_unchoke_slots(*t);
        if (!t->to_dial.empty() && std::find(with_room.begin(), with_room.end(), t->id) == with_room.end())
          with_room.push_back(t->id);
      }
    }
    owner.erase(o);
  }
  garbage.clear();
  // A closed connection (a dial that failed, most often) makes room for the next dial now,
  // not at the next tick: a tracker's list of dead addresses is gone through in moments.
  for (const torrent_id id : with_room)
    if (auto* t = find_torrent(id)) connect_candidates(*t);
}

void session::impl::ban(torrent& t, const std::string& endpoint_text, const torrent::known_peer* who,
                        std::optional<connection_id> c) {
  if (who) t.banned_ids.insert(who->id);
  if (!t.banned.insert(endpoint_text).second) return;
  events.emplace_back(peer_banned_event{t.id, c.value_or(connection_id{}), who ? who->remote : wire::endpoint{}});
  if (who && who->dialable && ++t.host_bans[host_key(who->remote)] == settings.bans_per_host) {
    const std::string host = host_key(who->remote);
    t.banned_hosts.insert(host);
    t.to_dial.drop_if([&](const dial_queue::entry& e) { return host_key(e.address) == host; });
    for (auto& [id, p] : t.peers)
      if (!p.dead && p.is_dialable && host_key(p.remote) == host) {
        p.no_retry = true;
        close_peer(&t, p, errc::ok, "banned: its host sent data that failed the hash check " + std::to_string(settings.bans_per_host) + " times", true);
      }
  }
  t.to_dial.drop_if([&](const dial_queue::entry& e) { return endpoint_key(e.address) == endpoint_text; });
  for (auto& [id, p] : t.peers)
    if (!p.dead && endpoint_key(p.remote) == endpoint_text) {
      if (p.handshake_done) t.banned_ids.insert(p.peer_handshake.id);
      p.no_retry = true;
      close_peer(&t, p, errc::ok, "banned: sent data that failed the hash check", true);
    }
}

std::uint32_t session::impl::live_connections() const {
  std::uint32_t n = 0;
  for (const auto& [id, t] : torrents) n += live_peers(t);
  for (const auto& [cid, p] : unattached) n += !p.dead;
  return n;
}

// A peer that connected to us comes from an ephemeral port: it is known by the listen port
// of its extension handshake too, which is how ut_pex names it.
static bool reached_at(const peer_connection& p, const std::string& key) {
  const auto listening = listen_endpoint(p);
  return endpoint_key(p.remote) == key || (listening && endpoint_key(*listening) == key);
}

bool session::impl::holds_address(const torrent& t, const wire::endpoint& e, const std::string& key) const {
  if (t.to_dial.holds(e)) return true;
  for (const auto& [id, p] : t.peers)
    if (!p.dead && reached_at(p, key)) return true;
  return false;
}

void session::impl::apply_params(torrent& t, add_torrent_params& params) {
  t.added = params.added_at ? std::min(*params.added_at, now) : now;
  t.next_unchoke = now + settings.unchoke_interval;
  t.next_optimistic = now + settings.optimistic_interval;
  t.trusted_bits = std::move(params.trusted_bits);
  t.private_override = params.is_private;
  t.max_web_requests = params.max_web_seed_requests;
  t.upload_slots = params.upload_slots;
  t.strategy = params.strategy;
  t.priority = std::max<std::uint32_t>(1, params.priority);
  t.seed_policy = settings.web_seed_policy;
  t.seed_budget = settings.web_seed_budget;
  t.seeds_after = now + settings.web_seed_grace;
}

std::uint32_t session::impl::connection_share(const torrent& t) const {
  const std::uint32_t cap = settings.max_connections_per_torrent;
  if (settings.max_connections == 0) return cap;
  const auto weight = [](const torrent& u) { return std::uint64_t{u.priority} * u.priority; };
  std::uint64_t sum = t.paused ? weight(t) : 0;
  for (const auto& [id, u] : torrents) sum += u.paused ? 0 : weight(u);
  const std::uint64_t share = (std::uint64_t{settings.max_connections} * weight(t) + sum - 1) / sum;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(cap, share));
}

void session::impl::connect_candidates(torrent& t) {
  if (t.paused) return;  // candidates wait for resume_torrent()
  std::uint32_t session_room = UINT32_MAX;
  if (settings.max_connections != 0) {
    const std::uint32_t live = live_connections();
    session_room = live >= settings.max_connections ? 0 : settings.max_connections - live;
  }
  std::uint32_t connected = 0, half_open = 0;
  for (const auto& [id, p] : t.peers) {
    if (p.dead) continue;
    ++connected;
    if (!p.open) ++half_open;
  }
  const std::uint32_t share = connection_share(t);
  while (!t.to_dial.empty() && connected < share &&
         half_open < settings.max_half_open && session_room > 0) {
    const auto [e, source] = *t.to_dial.next();
    const std::string key = endpoint_key(e);
    if (t.banned.contains(key) || t.banned_hosts.contains(host_key(e))) continue;
    bool known = false;
    for (const auto& [id, p] : t.peers) known = known || (!p.dead && reached_at(p, key));
    if (known) continue;
    const connection_id c{next_connection++};
    peer_connection& p = t.peers[c.value];
    p.id = c;
    p.remote = e;
    p.outgoing = true;
    p.source = source;
    p.connected_at = p.last_received = p.last_sent = now;
    owner[c.value] = t.id.value;
    connects.push_back(connect_request{c, t.id, e});
    ++connected;
    ++half_open;
    --session_room;
  }
}

void session::impl::enforce_connection_limit(torrent& t) {
  std::vector<peer_connection*> live;
  for (auto& [id, p] : t.peers)
    if (!p.dead) live.push_back(&p);
  if (live.size() <= settings.max_connections_per_torrent) return;
  // Keep the most useful: connected ones before half-open ones, then the fastest, then
  // the oldest.
  std::sort(live.begin(), live.end(), [](const peer_connection* a, const peer_connection* b) {
    return std::make_tuple(!a->handshake_done, -(a->down_rate + a->up_rate), a->id.value) <
           std::make_tuple(!b->handshake_done, -(b->down_rate + b->up_rate), b->id.value);
  });
  for (std::size_t i = settings.max_connections_per_torrent; i < live.size(); ++i)
    close_peer(&t, *live[i], errc::ok, "too many connections", true);
}

bool session::impl::evict_idle_peer(torrent& t) {
  peer_connection* idlest = nullptr;
  time_point idlest_since{};
  peer_connection* useless = nullptr;
  for (auto& [id, p] : t.peers) {
    if (!p.active()) continue;
    const duration age = now - p.connected_at;
    if (!p.am_interested && !p.peer_interested && age >= settings.useless_peer_age &&
        (!useless || p.connected_at < useless->connected_at))
      useless = &p;
    if (age < settings.idle_peer_age) continue;
    const time_point since = std::max(p.last_block, p.last_upload);
    if (now - since < settings.idle_peer_age) continue;
    if (!idlest || since < idlest_since) {
      idlest = &p;
      idlest_since = since;
    }
  }
  if (idlest) close_peer(&t, *idlest, errc::ok, "idle, closed to make room for a new peer", true);
  else if (useless) close_peer(&t, *useless, errc::ok, "of no use either way, closed to make room for a new peer", true);
  return idlest || useless;
}

torrent_stats session::impl::make_stats(const torrent& tr) const {
  const torrent* t = &tr;
  torrent_stats st;
  st.downloaded = t->downloaded;
  st.uploaded = t->uploaded;
  st.verified = t->verified;
  st.wasted = t->wasted;
  st.web_seed_downloaded = t->seed_downloaded;
  for (const auto& [h, ws] : t->web_seeds) st.web_seeds += ws.dropped ? 0 : 1;
  st.download_rate = t->down_meter.rate(now, t->added, t->down_since);
  st.upload_rate = t->up_meter.rate(now, t->added, t->up_since);
  st.has_metadata = t->meta.has_value();
  st.finished = t->finished;
  st.complete = t->picker && t->picker->is_seed();
  st.paused = t->paused;
  st.checking = t->checking;
  st.check_progress = !t->checking ? 1.0 : static_cast<double>(t->check_done) / std::max<std::uint32_t>(1, t->meta->piece_count());
  for (const auto& [cid, p] : t->peers)
    if (!p.dead) ++st.peers_by_source[static_cast<std::size_t>(p.source)];
  t->to_dial.for_each_due([&](const dial_queue::entry& e) { ++st.peers_by_source[static_cast<std::size_t>(e.source)]; });
  for (const auto& [cid, p] : t->peers) {
    if (!p.active()) continue;
    ++st.peers;
    if (p.have_all || (!p.has.empty() && p.num_have == p.has.size())) ++st.seeds;
  }
  if (t->picker) {
    st.have = t->picker->bytes_have();
    st.total = t->picker->total_length();
    const auto wanted = t->picker->bytes_wanted();
    st.progress = wanted > 0 ? 1.0 - static_cast<double>(t->picker->bytes_left()) / static_cast<double>(wanted) : 1.0;
    if (st.download_rate > 1.0)
      st.time_remaining = std::chrono::duration_cast<duration>(std::chrono::duration<double>(
          static_cast<double>(t->picker->bytes_left()) / st.download_rate));
  }
  return st;
}

// --- public surface --------------------------------------------------------------------------------------

session::session(session_settings settings) : impl_(std::make_unique<impl>(std::move(settings))) {}
session::~session() = default;

session::impl& session::enter(time_point now) {
  impl_->now = std::max(impl_->now, now);
  return *impl_;
}

const wire::peer_id& session::peer_id() const noexcept { return impl_->pid; }

result<torrent_id> session::add_torrent(const metainfo& m, add_torrent_params params, time_point now) {
  auto& s = enter(now);
  if (s.find_torrent(m.info_hash)) return make_error(errc::session_duplicate_torrent, 0);
  const torrent_id id{s.next_torrent++};
  torrent& t = s.torrents[id.value];
  t.id = id;
  t.info_hash = m.info_hash;
  s.apply_params(t, params);
  t.check_storage = params.check && !params.seed;
  t.trust_all = params.trust_all && !params.seed;
  s.set_metadata(t, m);
  // No metadata_received event for a torrent added with it.
  std::erase_if(s.events, [&](const session_event& e) {
    const auto* md = std::get_if<metadata_received_event>(&e);
    return md && md->torrent == id;
  });
  if (params.seed) {
    for (std::uint32_t i = 0; i < m.piece_count(); ++i) t.picker->we_have(piece_index{i});
    t.finished = t.picker->is_finished();
  }
  s.finish_call();
  return id;
}

result<torrent_id> session::add_magnet(const sha1_digest& info_hash, std::string name, time_point now,
                                       add_torrent_params params) {
  auto& s = enter(now);
  if (s.find_torrent(info_hash)) return make_error(errc::session_duplicate_torrent, 0);
  const torrent_id id{s.next_torrent++};
  torrent& t = s.torrents[id.value];
  t.id = id;
  t.info_hash = info_hash;
  s.apply_params(t, params);
  t.name = std::move(name);
  t.check_storage = params.check;
  t.trust_all = params.trust_all;
  return id;
}

void session::remove_torrent(torrent_id id, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  s.end_web_runs(*t);
  for (auto& [cid, p] : t->peers) s.close_peer(t, p, errc::ok, "torrent removed", true);
  const bool was_behind = s.writes_behind();
  for (auto& [rid, ps] : s.pending) {
    if (ps.torrent != id) continue;
    if (ps.what == impl::pending_storage::kind::user_read)
      s.events.emplace_back(read_completed_event{id, ps.read_id, false, ps.offset, {}});
    // Its writes no longer hold back the other torrents' requests.
    if (impl::is_write(ps))
      s.pending_write_bytes -= std::min<std::uint64_t>(s.pending_write_bytes, ps.bytes);
    ps.what = impl::pending_storage::kind::ignore;
  }
  for (const auto& r : t->reads) s.events.emplace_back(read_completed_event{id, r.id, false, r.offset, {}});
  s.finish_call();
  for (auto it = s.owner.begin(); it != s.owner.end();)
    it = it->second == id.value ? s.owner.erase(it) : std::next(it);
  s.torrents.erase(id.value);
  if (was_behind && !s.writes_behind()) {
    for (auto& [tid, other] : s.torrents) s.request_all(other);
    s.finish_call();
  }
}

std::optional<peer_added> session::add_peer(torrent_id id, const wire::endpoint& remote, time_point now,
                                            peer_source source, bool report) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return std::nullopt;
  const auto added = s.add_candidate(*t, remote, source, report);
  s.finish_call();
  return added;
}

bool session::remove_peer(torrent_id id, const wire::endpoint& remote, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  bool held = false;
  if (t) {
    held |= t->to_dial.drop_if([&](const dial_queue::entry& e) { return e.address == remote; }) > 0;
    const std::string key = session_detail::endpoint_key(remote);
    for (auto& [cid, p] : t->peers) {
      if (p.dead || !p.is_dialable || !reached_at(p, key)) continue;
      p.no_retry = true;
      s.close_peer(t, p, errc::ok, "removed", true);
      held = true;
    }
  }
  s.finish_call();
  return held;
}

void session::set_ip_filter(ip_set filter, time_point now) {
  auto& s = enter(now);
  s.ip_filter = std::move(filter);
  const auto blocked = [&](const wire::endpoint& e) { return s.ip_filter.contains(e); };
  for (auto& entry : s.torrents) {
    torrent& t = entry.second;  // not a structured binding: lambdas capture it (clang 14)
    t.to_dial.drop_if([&](const dial_queue::entry& e) {
      if (!blocked(e.address)) return false;
      s.events.emplace_back(peer_blocked_event{t.id, e.address, e.source});
      return true;
    });
    for (auto& [cid, p] : t.peers) {
      if (p.dead || !p.is_dialable || !blocked(p.remote)) continue;
      s.events.emplace_back(peer_blocked_event{t.id, p.remote, p.source});
      p.no_retry = true;
      s.close_peer(&t, p, errc::ok, "blocked", true);
    }
  }
  // Incoming connections before their handshake: no torrent to tell.
  for (auto& [cid, p] : s.unattached)
    if (!p.dead && p.is_dialable && blocked(p.remote)) s.close_peer(nullptr, p, errc::ok, "blocked", true);
  s.finish_call();
}

bool session::blocked(const wire::endpoint& e) const { return impl_->ip_filter.contains(e); }

bool session::unusable(const wire::endpoint& e) const { return impl_->unusable(e); }

void session::set_file_priority(torrent_id id, file_index f, std::uint8_t priority, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  // Before the metadata the file count is unknown: bounded by what a torrent may hold.
  const std::size_t files = t->meta ? t->meta->files.size() : metainfo_limits{}.max_files;
  if (f.value >= files) return;
  if (t->file_priorities.size() <= f.value) t->file_priorities.resize(f.value + 1, piece_picker::default_priority);
  priority = std::min(priority, piece_picker::top_priority);
  t->file_priorities[f.value] = priority;
  if (!t->picker) return;  // applied with the metadata (set_metadata)
  const auto range = t->meta->files[f.value].pad ? std::nullopt : file_pieces(*t->meta, f);
  if (range) {
    for (std::uint32_t p = range->first.value; p <= range->last.value; ++p) {
      // Only a file's first and last pieces can hold other files too.
      const bool edge = p == range->first.value || p == range->last.value;
      t->picker->set_piece_priority(piece_index{p}, edge ? s.file_priority_of_piece(*t, p) : priority);
    }
  }
  s.priorities_changed(*t);
  s.finish_call();
}

bool session::set_piece_priority(torrent_id id, piece_range pieces, std::uint8_t priority, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->picker || pieces.first > pieces.last || pieces.first.value >= t->picker->num_pieces())
    return false;
  pieces.last.value = std::min(pieces.last.value, t->picker->num_pieces() - 1);
  priority = std::min(priority, piece_picker::top_priority);
  t->picker->set_piece_priority(pieces, priority);
  // Files wholly inside the range take the priority as their own (see the header): a
  // later set_file_priority() of a neighbour then weighs their shared piece right.
  const auto& files = t->meta->files;
  const std::int64_t begin = std::int64_t{pieces.first.value} * t->meta->piece_length;
  const std::int64_t end =
      std::min(t->meta->total_length, std::int64_t{pieces.last.value + 1} * t->meta->piece_length);
  auto it = std::partition_point(files.begin(), files.end(), [&](const file_entry& f) { return f.offset < begin; });
  for (; it != files.end() && it->offset + it->length <= end; ++it) {
    if (it->pad || it->length == 0) continue;
    t->file_priorities[static_cast<std::size_t>(it - files.begin())] = priority;
  }
  s.priorities_changed(*t);
  s.finish_call();
  return true;
}

bool session::add_critical_pieces(torrent_id id, piece_range pieces, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->picker || pieces.first > pieces.last || pieces.first.value >= t->picker->num_pieces())
    return false;
  pieces.last.value = std::min(pieces.last.value, t->picker->num_pieces() - 1);
  bool missing = false;
  for (std::uint32_t p = pieces.first.value; p <= pieces.last.value && !missing; ++p)
    missing = !t->picker->have(piece_index{p});
  if (!missing) return true;
  const std::uint32_t handle = t->next_critical++;
  t->critical[handle] = pieces;
  // Due now, all of them: before any reader's later pieces, in piece order.
  t->picker->set_deadline(reader_handle{handle}, pieces, s.now, duration{0});
  s.cancel_undue_requests(*t);
  s.finish_call();
  return true;
}

bool session::select_missing(torrent_id id, std::uint8_t priority, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->picker || priority == 0) return false;
  priority = std::min(priority, piece_picker::top_priority);
  piece_picker& picker = *t->picker;
  for (std::uint32_t p = 0; p < picker.num_pieces(); ++p) {
    const piece_index piece{p};
    if (!picker.have(piece) && picker.piece_priority(piece) == 0) picker.set_piece_priority(piece, priority);
  }
  // A file deselected is selected again where it lacks a piece (its priority counts for the
  // pieces it shares with a neighbour).
  const auto& files = t->meta->files;
  for (std::size_t f = 0; f < files.size() && f < t->file_priorities.size(); ++f) {
    if (t->file_priorities[f] != 0 || files[f].pad) continue;
    const auto range = file_pieces(*t->meta, file_index{static_cast<std::uint32_t>(f)});
    if (!range) continue;
    for (std::uint32_t p = range->first.value; p <= range->last.value; ++p) {
      if (!picker.have(piece_index{p})) {
        t->file_priorities[f] = priority;
        break;
      }
    }
  }
  s.priorities_changed(*t);
  s.finish_call();
  return true;
}

std::vector<std::uint8_t> session::piece_priorities(torrent_id id) const {
  std::vector<std::uint8_t> out;
  const torrent* t = impl_->find_torrent(id);
  if (!t || !t->picker) return out;
  out.resize(t->picker->num_pieces());
  for (std::uint32_t p = 0; p < out.size(); ++p) out[p] = t->picker->piece_priority(piece_index{p});
  return out;
}

void session::pause_torrent(torrent_id id, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || t->paused) return;
  t->paused = true;
  s.end_web_runs(*t);
  // Each closed peer waits out a back-off in `to_dial` (schedule_retry), where resume finds it.
  for (auto& [cid, p] : t->peers) s.close_peer(t, p, errc::ok, "torrent paused", true);
  s.finish_call();
}

bool session::recheck_torrent(torrent_id id, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->picker) return false;
  if (t->checking) t->recheck_again = true;
  else s.start_check(*t, true);
  s.finish_call();
  return true;
}

void session::resume_torrent(torrent_id id, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->paused) return;
  t->paused = false;
  // The peers the pause closed wait out a reconnect backoff: dial them now instead.
  t->to_dial.wake(std::nullopt);
  s.connect_candidates(*t);
  s.request_web_seeds(*t);
  s.finish_call();
}

void session::set_max_connections_per_torrent(std::uint32_t n, time_point now) {
  auto& s = enter(now);
  s.settings.max_connections_per_torrent = n;
  for (auto& [tid, t] : s.torrents) {
    s.enforce_connection_limit(t);
    s.connect_candidates(t);
  }
  s.finish_call();
}

std::uint32_t session::max_connections_per_torrent() const noexcept {
  return impl_->settings.max_connections_per_torrent;
}

void session::set_torrent_priority(torrent_id id, std::uint32_t priority, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  t->priority = std::max<std::uint32_t>(1, priority);
  for (auto& [tid, other] : s.torrents) s.connect_candidates(other);
  s.finish_call();
}

std::uint32_t session::torrent_priority(torrent_id id) const {
  const torrent* t = impl_->find_torrent(id);
  return t ? t->priority : 0;
}

std::uint32_t session::connection_share(torrent_id id) const {
  const torrent* t = impl_->find_torrent(id);
  return t ? impl_->connection_share(*t) : 0;
}

std::uint32_t session::open_reader(torrent_id id, std::int64_t offset, std::int64_t readahead,
                                   time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->picker) return 0;
  const std::uint32_t reader = t->next_reader++;
  t->readers[reader] = {offset, readahead};
  s.apply_reader(*t, reader);
  s.cancel_undue_requests(*t);
  s.finish_call();
  return reader;
}

void session::seek_reader(torrent_id id, std::uint32_t reader, std::int64_t offset, time_point now,
                          std::optional<std::int64_t> readahead) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return;
  auto it = t->readers.find(reader);
  if (it == t->readers.end()) return;
  it->second.offset = offset;
  if (readahead) it->second.readahead = std::max<std::int64_t>(0, *readahead);
  s.apply_reader(*t, reader);
  s.cancel_undue_requests(*t);
  s.finish_call();
}

void session::close_reader(torrent_id id, std::uint32_t reader, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->readers.erase(reader)) return;
  if (t->picker) t->picker->clear_deadlines(reader_handle{reader});
  if (t->readers.empty()) {
    t->streaming_until = s.now + s.settings.reader_linger;
    t->linger_ends = true;
  }
  // Its pieces may have been the only ones wanted (a deselected file).
  for (auto& [cid, p] : t->peers) s.update_interest(*t, p);
  s.finish_call();
}

std::uint64_t session::read(torrent_id id, std::int64_t offset, std::uint32_t length, time_point now) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t || !t->picker || length == 0 || offset < 0 || offset + length > t->picker->total_length())
    return 0;
  const std::uint64_t read_id = s.next_read++;
  t->reads.push_back({read_id, offset, length});
  s.issue_reads(*t);
  return read_id;
}

std::uint32_t session::register_extension(std::string name, bencode::dict handshake_fields,
                                          extension_scope scope) {
  auto& s = *impl_;
  for (std::size_t i = 0; i < s.plugins.size(); ++i)
    if (s.plugins[i]->name() == name) return static_cast<std::uint32_t>(i + 1);
  const auto handle = static_cast<std::uint32_t>(s.plugins.size() + 1);
  const bool per_connection = scope == extension_scope::per_connection;
  s.plugins.push_back(make_user_extension_plugin(std::move(name), handle, std::move(handshake_fields), per_connection));
  if (per_connection) return handle;  // enable_extension() tells each peer
  // Registered while peers are connected: BEP 10 lets a handshake be sent again, so tell
  // those peers our new id, and report what their handshake already said about it.
  extension_plugin& plugin = *s.plugins.back();
  for (auto& [tid, t] : s.torrents) {
    for (auto& [cid, p] : t.peers) {
      // A held handshake (extension_handshake_hold) will carry the new name: not sent yet.
      if (!p.active() || !p.extensions || p.ext_held) continue;
      s.send_extension_handshake(t, p);
      if (p.ext) plugin.on_handshake(s, t, p, p.ext->id_of(plugin.name()));
    }
  }
  return handle;
}

bool session::enable_extension(connection_id c, std::uint32_t extension, bencode::dict handshake_fields,
                               time_point now) {
  auto& s = enter(now);
  if (extension == 0 || extension > s.plugins.size() || !s.plugins[extension - 1]->per_connection()) return false;
  auto [t, p] = s.find_connection(c);
  if (!p || p->dead) return false;
  if (!p->enabled_extensions.emplace(extension, std::move(handshake_fields)).second) return true;
  // Our extension handshake already went out (a late wire.use()): BEP 10 lets it be sent
  // again with the new id; and the peer's handshake, if it came, is reported now.
  if (t && p->active() && p->extensions && !p->ext_held) {
    s.send_extension_handshake(*t, *p);
    if (p->ext) s.plugins[extension - 1]->on_handshake(s, *t, *p, p->ext->id_of(s.plugins[extension - 1]->name()));
  }
  s.finish_call();
  return true;
}

std::vector<std::string_view> session::extension_names() const {
  std::vector<std::string_view> names;
  for (const auto& plugin : impl_->plugins) names.push_back(plugin->name());
  return names;
}

void session::release_extension_handshake(connection_id c, time_point now) {
  auto& s = enter(now);
  auto [t, p] = s.find_connection(c);
  if (!p || !p->active()) return;
  s.release_extension_handshake(*t, *p);
  if (!p->dead) s.request_blocks(*t, *p);
  s.finish_call();
}

void session::report_peer_messages(connection_id c, std::uint32_t kinds) {
  auto [t, p] = impl_->find_connection(c);
  if (p) p->report = kinds & all_peer_messages;
}

bool session::set_peer_keep_alive(connection_id c, bool on) {
  auto [t, p] = impl_->find_connection(c);
  if (!p) return false;
  p->keep_alive = on;
  return true;
}

bool session::set_peer_choked(connection_id c, bool choked, time_point now) {
  auto& s = enter(now);
  auto [t, p] = s.find_connection(c);
  if (!t || !p || !p->active()) return false;
  p->held_choked = choked;
  if (choked) {
    if (!p->am_choking) {
      s.choke_peer(*p);
      s.fill_unchoke_slots(*t);  // its slot goes to another
    }
  } else {
    s.unchoke_peer(*p);
  }
  s.finish_call();
  return true;
}

bool session::set_peer_timeout(connection_id c, duration timeout) {
  auto [t, p] = impl_->find_connection(c);
  if (!p) return false;
  p->request_deadline = std::max(duration{0}, timeout);
  return true;
}

bool session::send_extension_message(connection_id c, std::uint32_t extension, byte_view payload,
                                     time_point now) {
  auto& s = enter(now);
  if (extension == 0 || extension > s.plugins.size()) return false;
  auto [t, p] = s.find_connection(c);
  if (!p || !p->ext || !s.speaks(*p, extension)) return false;
  auto id = p->ext->id_of(s.plugins[extension - 1]->name());
  if (!id) return false;
  s.send_extended(*p, *id, payload);
  return true;
}

bool session::send_extended_to_peer(connection_id c, std::uint8_t peer_id, byte_view payload,
                                    time_point now) {
  auto& s = enter(now);
  auto [t, p] = s.find_connection(c);
  if (peer_id == 0 || !p || !p->active() || !p->ext) return false;
  s.send_extended(*p, peer_id, payload);
  return true;
}

connection_id session::accept_connection(const wire::endpoint& remote, time_point now, dialable d,
                                         peer_source source) {
  auto& s = enter(now);
  const bool full = s.at_session_limit();
  const connection_id c{s.next_connection++};
  peer_connection& p = s.unattached[c.value];
  p.id = c;
  p.remote = remote;
  p.source = source;
  p.open = true;
  p.is_dialable = d == dialable::yes;
  p.connected_at = p.last_received = p.last_sent = s.now;
  if (full) {
    s.close_peer(nullptr, p, errc::ok, "too many connections", true);
    s.finish_call();
  }
  return c;
}

std::optional<connection_id> session::open_connection(torrent_id id, const wire::endpoint& remote,
                                                      time_point now, dialable d, peer_source source) {
  auto& s = enter(now);
  torrent* t = s.find_torrent(id);
  if (!t) return std::nullopt;
  std::uint32_t connected = 0;
  for (const auto& [cid, other] : t->peers)
    if (!other.dead) ++connected;
  const bool full = s.at_session_limit();
  const connection_id c{s.next_connection++};
  peer_connection& p = t->peers[c.value];
  p.id = c;
  p.remote = remote;
  p.outgoing = true;
  p.open = true;
  p.source = source;
  p.is_dialable = d == dialable::yes;
  p.connected_at = p.last_received = p.last_sent = s.now;
  s.owner[c.value] = t->id.value;
  if (t->paused) s.close_peer(t, p, errc::ok, "torrent paused", true);
  else if (connected >= s.settings.max_connections_per_torrent || full) s.close_peer(t, p, errc::ok, "too many connections", true);
  else s.send_handshake(*t, p);
  s.finish_call();
  return c;
}

void session::connection_opened(connection_id c, time_point now) {
  auto& s = enter(now);
  auto [t, p] = s.find_connection(c);
  if (!p || p->open) return;
  p->open = true;
  p->connected_at = p->last_received = s.now;
  s.send_handshake(*t, *p);
  s.finish_call();
}

void session::bytes_received(connection_id c, byte_view data, time_point now) {
  auto& s = enter(now);
  torrent* t = nullptr;
  peer_connection* p = nullptr;
  if (auto u = s.unattached.find(c.value); u != s.unattached.end()) {
    peer_connection& up = u->second;
    if (up.dead) return;
    up.last_received = s.now;
    auto r = up.hs_reader.feed(data);
    if (!r) {
      s.close_peer(nullptr, up, r.err().code, "bad handshake: " + r.err().message(), true);
      s.finish_call();
      return;
    }
    if (r->status == wire::parse_status::need_more) return;
    data = data.subspan(r->consumed);
    const auto hash = up.hs_reader.info_hash();
    t = hash ? s.find_torrent(*hash) : nullptr;
    if (!t) {
      s.close_peer(nullptr, up, errc::ok, "handshake for an unknown torrent", true);
      s.finish_call();
      return;
    }
    // Blocked: closed before we answer (it learns nothing, not even that we have the torrent).
    if (up.is_dialable && s.ip_filter.contains(up.remote)) {
      s.events.emplace_back(peer_blocked_event{t->id, up.remote, up.source});
      s.close_peer(nullptr, up, errc::ok, "blocked", true);
      s.finish_call();
      return;
    }
    if (t->paused) {
      s.close_peer(nullptr, up, errc::ok, "torrent paused", true);
      s.finish_call();
      return;
    }
    if (s.live_peers(*t) >= s.settings.max_connections_per_torrent && !s.evict_idle_peer(*t)) {
      s.close_peer(nullptr, up, errc::ok, "too many connections", true);
      s.finish_call();
      return;
    }
    p = &(t->peers[c.value] = std::move(up));
    s.unattached.erase(u);
    s.owner[c.value] = t->id.value;
    s.on_handshake(*t, *p);
  } else {
    std::tie(t, p) = s.find_connection(c);
    if (!p) return;
    p->last_received = s.now;
    if (!p->handshake_done) {
      auto r = p->hs_reader.feed(data);
      if (!r) {
        s.close_peer(t, *p, r.err().code, "bad handshake: " + r.err().message(), true);
        s.finish_call();
        return;
      }
      if (r->status == wire::parse_status::need_more) return;
      data = data.subspan(r->consumed);
      s.on_handshake(*t, *p);
    }
  }
  if (!p->dead && !data.empty()) s.feed_messages(*t, *p, data);
  s.finish_call();
}

void session::connection_closed(connection_id c, time_point now) {
  auto& s = enter(now);
  if (auto u = s.unattached.find(c.value); u != s.unattached.end()) {
    s.close_peer(nullptr, u->second, errc::ok, "closed by the host", false);
  } else if (auto [t, p] = s.find_connection(c); p) {
    s.close_peer(t, *p, errc::ok, "closed by the host", false);
  }
  s.finish_call();
}

void session::bytes_sent(connection_id c, std::size_t bytes, time_point now) {
  auto& s = enter(now);
  auto [t, p] = s.find_connection(c);
  if (!p) return;
  p->unsent -= std::min(p->unsent, bytes);
  s.pump_reads(*t, *p);
  s.finish_call();
}

void session::on_timer(time_point now) {
  auto& s = enter(now);
  if (!s.ticked || s.now >= s.next_tick) {
    s.tick(s.now);
    s.next_tick = s.now + s.settings.tick_interval;
  }
  for (auto& [tid, t] : s.torrents) {
    // Held first requests, or the end of a reader's linger: pipelines may fill now.
    const bool linger_over = t.linger_ends && s.now >= t.streaming_until;
    if (!t.requests_held && !linger_over) continue;
    t.requests_held = false;
    if (linger_over) t.linger_ends = false;
    s.request_all(t);
  }
  s.finish_call();  // also a rate limit's wake-up: its tokens have accrued
}

std::optional<time_point> session::next_deadline() const {
  const auto& s = *impl_;
  if (s.torrents.empty() && s.unattached.empty()) return std::nullopt;
  time_point at = s.ticked ? s.next_tick : s.now;
  for (const auto& [tid, t] : s.torrents) {
    if (t.requests_held) at = std::min(at, s.now);
    if (t.linger_ends) at = std::min(at, t.streaming_until);
  }
  // A bucket that still has tokens is not what peers wait for (their torrent's is, or the
  // session's): its ready_at() would be now, a wake-up for nothing.
  const auto wait_for = [&](bool waiting, const token_bucket& b) {
    if (waiting && b.limited() && !b.available()) at = std::min(at, b.ready_at());
  };
  wait_for(s.download_waiting, s.download_limit);
  wait_for(s.upload_waiting, s.upload_limit);
  for (const auto& [tid, t] : s.torrents) {
    wait_for(t.download_waiting, t.download_limit);
    wait_for(t.upload_waiting, t.upload_limit);
  }
  return at;
}

void session::storage_completed(storage_completion c, time_point now) {
  auto& s = enter(now);
  auto it = s.pending.find(c.id.value);
  if (it == s.pending.end()) return;
  const impl::pending_storage ps = it->second;
  s.pending.erase(it);
  if (impl::is_write(ps)) {
    const bool was_behind = s.writes_behind();
    s.pending_write_bytes -= std::min<std::uint64_t>(s.pending_write_bytes, ps.bytes);
    if (was_behind && !s.writes_behind()) {
      // The store caught up: pipelines may fill again.
      for (auto& [tid, other] : s.torrents) s.request_all(other);
    }
  }
  torrent* t = s.find_torrent(ps.torrent);
  if (!t) return;
  switch (ps.what) {
    case impl::pending_storage::kind::ignore: break;
    case impl::pending_storage::kind::write_piece: s.piece_written(*t, ps.piece, c.ok); break;
    case impl::pending_storage::kind::verify_piece: s.piece_verified_by_host(*t, ps.piece, c); break;
    case impl::pending_storage::kind::check_piece: s.piece_checked(*t, ps.piece, c); break;
    case impl::pending_storage::kind::trust_piece: s.trust_hashed(*t, ps.piece, c); break;
    case impl::pending_storage::kind::write_block: s.stream_written(*t, ps, c.ok); break;
    case impl::pending_storage::kind::read_back: s.stream_read(*t, ps, c); break;
    case impl::pending_storage::kind::user_read:
      s.events.emplace_back(read_completed_event{t->id, ps.read_id, c.ok, ps.offset, std::move(c.data)});
      break;
    case impl::pending_storage::kind::read_block: {
      peer_connection* p = s.find_peer(*t, ps.connection);
      if (!p) break;
      const auto& r = ps.request;
      if (auto reading = std::find(p->reading.begin(), p->reading.end(), r); reading != p->reading.end()) p->reading.erase(reading);
      auto cancelled = std::find(p->cancelled.begin(), p->cancelled.end(), r);
      if (cancelled != p->cancelled.end()) {
        p->cancelled.erase(cancelled);
        if (p->fast) s.send(*p, wire::reject_request{r.piece, r.begin, r.length});
      } else if (!c.ok || c.data.size() != r.length) {
        s.warn(t->id, p->id, errc::session_storage_failed, "storage read failed");
        if (p->fast) s.send(*p, wire::reject_request{r.piece, r.begin, r.length});
      } else if (ps.choke_generation == p->choke_generation && !p->am_choking) {
        s.send(*p, wire::piece_block{r.piece, r.begin, c.data});
        if (p->report & peer_message_bit(peer_message_kind::upload)) {
          peer_message_event e = impl::peer_message(*t, *p, peer_message_kind::upload);
          e.index = r.piece.value;
          e.begin = r.begin;
          e.length = r.length;
          s.events.push_back(std::move(e));
        }
        p->uploaded += r.length;
        p->up_since += r.length;
        p->last_upload = s.now;
        t->uploaded += r.length;
        t->up_since += r.length;
      }
      if (p->reading.empty()) p->cancelled.clear();
      s.pump_reads(*t, *p);
      break;
    }
  }
  s.finish_call();
}

std::optional<transmit> session::poll_transmit() {
  auto& s = *impl_;
  if (!s.final_transmits.empty()) {
    transmit tx = std::move(s.final_transmits.front());
    s.final_transmits.pop_front();
    return tx;
  }
  while (!s.dirty.empty()) {
    const std::uint32_t c = s.dirty.front();
    s.dirty.pop_front();
    auto o = s.owner.find(c);
    peer_connection* p = nullptr;
    if (o != s.owner.end()) {
      if (torrent* t = s.find_torrent(torrent_id{o->second})) p = s.find_peer(*t, connection_id{c});
    } else if (auto u = s.unattached.find(c); u != s.unattached.end() && !u->second.dead) {
      p = &u->second;
    }
    if (!p || p->out.empty()) continue;
    if (s.settings.send_buffer_limit > 0) p->unsent += p->out.size();
    transmit tx{p->id, std::move(p->out)};
    p->out = byte_buffer{};
    return tx;
  }
  return std::nullopt;
}

template <class T>
static std::optional<T> pop_front(std::deque<T>& q) {
  if (q.empty()) return std::nullopt;
  T v = std::move(q.front());
  q.pop_front();
  return v;
}

std::optional<close_request> session::poll_close() { return pop_front(impl_->closes); }
std::optional<connect_request> session::poll_connect() { return pop_front(impl_->connects); }
std::optional<storage_request> session::poll_storage() { return pop_front(impl_->storage); }
std::optional<session_event> session::poll_event() { return pop_front(impl_->events); }

std::optional<torrent_stats> session::stats(torrent_id id) const {
  torrent* t = impl_->find_torrent(id);
  if (!t) return std::nullopt;
  return impl_->make_stats(*t);
}

std::vector<peer_stats> session::peers(torrent_id id) const {
  std::vector<peer_stats> out;
  torrent* t = impl_->find_torrent(id);
  if (!t) return out;
  for (const auto& [cid, p] : t->peers) {
    if (!p.active()) continue;
    peer_stats ps;
    ps.connection = p.id;
    ps.remote = p.remote;
    ps.outgoing = p.outgoing;
    ps.downloaded = p.downloaded;
    ps.uploaded = p.uploaded;
    ps.download_rate = p.down_meter.rate(impl_->now, p.connected_at, p.down_since);
    ps.upload_rate = p.up_meter.rate(impl_->now, p.connected_at, p.up_since);
    ps.am_choking = p.am_choking;
    ps.am_interested = p.am_interested;
    ps.peer_choking = p.peer_choking;
    ps.peer_interested = p.peer_interested;
    ps.pieces = p.num_have;
    ps.outstanding_requests = static_cast<std::uint32_t>(p.requests.size());
    out.push_back(ps);
  }
  return out;
}

std::optional<peer_detail> session::peer_details(connection_id c) const {
  auto [t, p] = impl_->find_connection(c);
  if (!p || !p->active()) return std::nullopt;
  peer_detail d;
  d.torrent = t->id;
  d.have_all = p->have_all;
  if (t->meta) d.pieces = p->has.to_bytes();
  else {
    // A have of any index may come before the metadata: the bytes stop at 64 KiB (half a
    // million pieces, ten times the largest torrents), as bittorrent-protocol caps its own.
    constexpr std::uint32_t max_early_bytes = 1u << 16;
    if (p->early_bitfield) d.pieces = *p->early_bitfield;
    for (std::uint32_t i : p->early_haves) {
      if (i / 8 >= max_early_bytes) continue;
      if (i / 8 >= d.pieces.size()) d.pieces.resize(i / 8 + 1);
      d.pieces[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
    }
  }
  d.features = p->peer_handshake.features();
  for (const auto& q : p->requests) {
    const block_request r = t->picker->request_for(q.block);
    d.requests.push_back(wire::request{r.piece, r.offset, r.length});
  }
  d.peer_requests.assign(p->queued.begin(), p->queued.end());
  return d;
}

const metainfo* session::torrent_metainfo(torrent_id id) const {
  torrent* t = impl_->find_torrent(id);
  return t && t->meta ? &*t->meta : nullptr;
}

bool session::torrent_is_private(torrent_id id) const {
  torrent* t = impl_->find_torrent(id);
  return t && t->is_private();
}

std::optional<bitfield> session::have_pieces(torrent_id id) const {
  torrent* t = impl_->find_torrent(id);
  if (!t || !t->picker) return std::nullopt;
  return t->picker->have_pieces();
}

std::vector<std::uint8_t> session::piece_states(torrent_id id) const {
  std::vector<std::uint8_t> out;
  const torrent* t = impl_->find_torrent(id);
  if (!t || !t->picker) return out;
  const auto states = t->picker->piece_states();
  out.reserve(states.size());
  for (const auto st : states) out.push_back(static_cast<std::uint8_t>(st));
  return out;
}

std::vector<std::pair<piece_index, std::uint32_t>> session::partial_pieces(torrent_id id) const {
  std::vector<std::pair<piece_index, std::uint32_t>> out;
  const torrent* t = impl_->find_torrent(id);
  if (!t || !t->picker) return out;
  for (const piece_index p : t->picker->partial_pieces()) out.emplace_back(p, t->picker->received_bytes(p));
  return out;
}

std::uint64_t session::buffered_piece_bytes() const {
  std::uint64_t bytes = 0;
  for (const auto& [id, t] : impl_->torrents) {
    for (const auto& [piece, buffer] : t.piece_buffers) bytes += buffer.size();
    for (const auto& [piece, st] : t.streams) {
      bytes += st.held_bytes;
      for (const auto& [block, buffer] : st.assembling) bytes += buffer.size();
    }
  }
  return bytes;
}

std::vector<torrent_id> session::torrents() const {
  std::vector<torrent_id> out;
  for (const auto& [id, t] : impl_->torrents) out.push_back(t.id);
  return out;
}

}  // namespace wt
