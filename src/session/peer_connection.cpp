// The wire protocol with one peer: handshake, messages, interest, choking, the
// request pipeline and serving requests from storage.
#include <algorithm>
#include <limits>

#include "session/session_impl.hpp"

namespace wt {

using namespace session_detail;

// --- handshake --------------------------------------------------------------------------------------

void session::impl::on_handshake(torrent& t, peer_connection& p) {
  p.peer_handshake = p.hs_reader.get();
  const auto features = p.peer_handshake.features();
  p.fast = features.fast && settings.fast_extension;  // BEP 6 needs both sides
  p.extensions = features.extension_protocol;
  if (p.peer_handshake.info_hash != t.info_hash) {
    close_peer(&t, p, errc::ok, "handshake for another torrent", true);
    return;
  }
  if (p.peer_handshake.id == pid) {
    p.no_retry = true;
    close_peer(&t, p, errc::ok, "connected to ourselves", true);
    return;
  }
  if (t.banned.contains(endpoint_key(p.remote)) || t.banned_ids.contains(p.peer_handshake.id) ||
      (p.is_dialable && t.banned_hosts.contains(host_key(p.remote)))) {
    p.no_retry = true;
    close_peer(&t, p, errc::ok, "banned peer", true);
    return;
  }
  // The same peer twice (both sides connected at once): keep the connection
  // opened by the peer with the smaller id, so both ends keep the same one.
  for (auto& [id, other] : t.peers) {
    if (&other == &p || !other.active() || other.peer_handshake.id != p.peer_handshake.id) continue;
    const bool keep_new = (p.outgoing ? pid : p.peer_handshake.id) <
                          (other.outgoing ? pid : other.peer_handshake.id);
    if (keep_new) {
      other.no_retry = true;
      close_peer(&t, other, errc::ok, "duplicate connection", true);
    } else {
      p.no_retry = true;
      close_peer(&t, p, errc::ok, "duplicate connection", true);
      return;
    }
  }
  p.handshake_done = true;
  t.known_peers[p.id.value] = {p.remote, p.peer_handshake.id, p.is_dialable};
  for (auto& plugin : plugins) p.ext_state.push_back(plugin->new_peer_state());
  send_handshake(t, p);
  if (t.meta) {
    p.reader.set_piece_count(t.meta->piece_count());
    p.has = bitfield(t.meta->piece_count());
  }
  if (p.extensions && settings.extension_handshake_hold > duration{0}) {
    p.ext_held = true;  // sent by release_extension_handshake(), after our pieces
    p.ext_hold_until = now + settings.extension_handshake_hold;
  } else if (p.extensions) {
    send_extension_handshake(t, p);
  }
  send_our_pieces(t, p);
  p.report = settings.peer_messages_at_connect;
  events.emplace_back(peer_connected_event{t.id, p.id, p.remote, p.outgoing, p.peer_handshake.id});
  fill_unchoke_slots(t);
}

void session::impl::send_extension_handshake(torrent& t, peer_connection& p) {
  wire::extension_handshake h;
  for (std::size_t i = 0; i < plugins.size(); ++i)
    if (speaks(p, i + 1)) h.m.emplace(std::string(plugins[i]->name()), static_cast<std::uint8_t>(i + 1));
  h.client = settings.client;
  h.reqq = settings.reqq;
  h.listen_port = settings.listen_port;
  // BEP 10's yourip: the peer's address as we see it, which tells it its public address (as
  // libtorrent and WebTorrent send). A data channel's stand-in address is no address.
  if (p.is_dialable) {
    const auto& a = p.remote.address;
    h.yourip = byte_buffer(a.begin(), a.begin() + (p.remote.v6 ? 16 : 4));
  }
  bencode::dict extra;
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    if (!speaks(p, i + 1)) continue;
    plugins[i]->add_handshake(*this, t, p, h);
    plugins[i]->add_handshake_fields(extra);
  }
  for (const auto& [id, fields] : p.enabled_extensions)
    for (const auto& [key, value] : fields) extra.emplace(key, value);
  send_extended(p, 0, wire::encode_extension_handshake(h, extra));
}

void session::impl::release_extension_handshake(torrent& t, peer_connection& p) {
  if (!p.ext_held || p.dead) return;
  p.ext_held = false;
  send_extension_handshake(t, p);
  auto early = std::move(p.ext_early);
  p.ext_early.clear();
  p.ext_early_bytes = 0;
  for (const auto& [id, payload] : early) {
    on_extended(t, p, wire::extended{id, payload});
    if (p.dead) return;
  }
}

void session::impl::send_our_pieces(torrent& t, peer_connection& p) {
  if (!t.picker) {
    if (p.fast) send(p, wire::have_none{});
    return;
  }
  if (t.picker->is_seed() && p.fast) {
    send(p, wire::have_all{});
  } else if (t.picker->num_have() == 0) {
    if (p.fast) send(p, wire::have_none{});
  } else {
    const byte_buffer bits = t.picker->have_pieces().to_bytes();
    send(p, wire::bitfield{bits});
  }
}

// --- messages ------------------------------------------------------------------------------------------

void session::impl::feed_messages(torrent& t, peer_connection& p, byte_view data) {
  p.reader.feed(data);
  while (!p.dead) {
    auto m = p.reader.next();
    if (!m) {
      close_peer(&t, p, m.err().code, "protocol error: " + m.err().message(), true);
      return;
    }
    if (!*m) break;
    if (!handle(t, p, **m)) return;
    // Each request makes a reply: a peer that asks faster than it reads would make them
    // pile up without end (tens of megabytes a second of metadata pieces or rejects). A
    // magnet's peer may ask for every metadata piece at once (WebTorrent's does): the
    // metadata's size is allowed on top.
    if (!p.dead && p.unsent + p.out.size() > settings.max_unsent_bytes + (t.meta ? t.meta->info_bytes.size() : 0)) {
      close_peer(&t, p, errc::ok, "asks faster than it reads: " + std::to_string(p.unsent + p.out.size()) + " bytes of replies unsent", true);
      return;
    }
  }
  if (!p.dead) request_blocks(t, p);
}

bool session::impl::handle(torrent& t, peer_connection& p, const wire::message& msg) {
  if (p.report != 0) report_message(t, p, msg);
  std::visit(
      overloaded{
          [&](const wire::keep_alive&) {},
          [&](const wire::choke&) {
            p.peer_choking = true;
            if (t.picker) t.picker->release_peer(p.handle());
            p.requests.clear();
            p.cancelled_out.clear();
          },
          [&](const wire::unchoke&) {
            p.peer_choking = false;
            p.rejects_in_a_row = 0;
            p.rejected_until = {};
          },
          [&](const wire::interested&) {
            p.peer_interested = true;
            fill_unchoke_slots(t);
          },
          [&](const wire::not_interested&) {
            p.peer_interested = false;
            if (!p.am_choking) {
              choke_peer(p);
              fill_unchoke_slots(t);
            }
          },
          [&](const wire::have& h) { on_have(t, p, h.piece.value); },
          [&](const wire::bitfield& b) { on_bitfield(t, p, b.bits); },
          [&](const wire::request& r) { on_request(t, p, r); },
          [&](const wire::piece_block& b) { on_piece(t, p, b); },
          [&](const wire::cancel& c) {
            const wire::request r{c.piece, c.begin, c.length};
            auto it = std::find(p.queued.begin(), p.queued.end(), r);
            if (it != p.queued.end()) {
              p.queued.erase(it);
              if (p.fast) send(p, wire::reject_request{c.piece, c.begin, c.length});
            } else if (std::find(p.reading.begin(), p.reading.end(), r) != p.reading.end()) {
              p.cancelled.push_back(r);
            }
          },
          [&](const wire::dht_port&) {},
          [&](const wire::suggest_piece&) {},
          [&](const wire::have_all&) { on_have_all(t, p); },
          [&](const wire::have_none&) {},
          [&](const wire::reject_request& r) {
            if (!p.fast) {  // BEP 6: only between peers that both set the fast bit
              close_peer(&t, p, errc::wire_not_negotiated, "reject_request without the fast extension", true);
              return;
            }
            if (++p.rejects_in_a_row >= reject_burst) p.rejected_until = now + reject_pause;
            if (!t.picker) return;
            auto b = t.picker->block_at({r.piece, r.begin, r.length});
            if (!b) return;
            forget_cancelled(p, *b);
            auto it = std::find_if(p.requests.begin(), p.requests.end(),
                                   [&](const auto& q) { return q.block == *b; });
            if (it == p.requests.end()) return;
            p.requests.erase(it);
            t.picker->abort_request(*b, p.handle());
          },
          [&](const wire::allowed_fast& a) {
            constexpr std::size_t max_allowed_fast = 64;
            if (!p.fast || p.allowed_fast.size() >= max_allowed_fast) return;
            if (std::find(p.allowed_fast.begin(), p.allowed_fast.end(), a.piece.value) ==
                p.allowed_fast.end())
              p.allowed_fast.push_back(a.piece.value);
          },
          [&](const wire::extended& e) { on_extended(t, p, e); },
          [&](const wire::unknown_message&) {},
      },
      msg);
  return !p.dead;
}

// The kinds are the message alternatives in order, up to extended (reported by on_extended,
// once the message is no longer held).
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(peer_message_kind::allowed_fast),
                                                        wire::message>, wire::allowed_fast>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(peer_message_kind::extended),
                                                        wire::message>, wire::extended>);

void session::impl::report_message(torrent& t, peer_connection& p, const wire::message& msg) {
  if (msg.index() >= static_cast<std::size_t>(peer_message_kind::extended)) return;
  const auto kind = static_cast<peer_message_kind>(msg.index());
  if ((p.report & peer_message_bit(kind)) == 0) return;
  if (const auto* h = std::get_if<wire::have>(&msg)) {  // as bittorrent-protocol: news only
    const std::uint32_t i = h->piece.value;
    if (p.have_all || (i < p.has.size() && p.has.test(i))) return;
  }
  peer_message_event e = peer_message(t, p, kind);
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (requires { m.piece; }) e.index = m.piece.value;
        if constexpr (requires { m.begin; }) e.begin = m.begin;
        if constexpr (requires { m.length; }) e.length = m.length;
        if constexpr (std::is_same_v<M, wire::bitfield>) e.data.assign(m.bits.begin(), m.bits.end());
        if constexpr (std::is_same_v<M, wire::dht_port>) e.index = m.port;
        if constexpr (std::is_same_v<M, wire::piece_block>) {
          e.length = static_cast<std::uint32_t>(m.data.size());
          if (p.report & peer_message_bit(peer_message_kind::piece_data)) e.data.assign(m.data.begin(), m.data.end());
        }
      },
      msg);
  events.push_back(std::move(e));
}

void session::impl::on_have(torrent& t, peer_connection& p, std::uint32_t piece) {
  if (!t.meta) {
    if (p.early_haves.size() < 100000) p.early_haves.push_back(piece);
    return;
  }
  if (p.have_all || p.has.test(piece) || p.refused.contains(piece)) return;
  p.has.set(piece);
  ++p.num_have;
  t.picker->inc_have(piece_index{piece});
  if (!p.am_interested && !t.picker->have(piece_index{piece}) &&
      t.picker->piece_priority(piece_index{piece}) > 0) {
    p.am_interested = true;
    send(p, wire::interested{});
  }
}

void session::impl::on_bitfield(torrent& t, peer_connection& p, byte_view bits) {
  if (!t.meta) {
    p.early_bitfield = byte_buffer(bits.begin(), bits.end());
    return;
  }
  auto b = bitfield::from_bytes(bits, t.meta->piece_count());
  if (!b) {
    close_peer(&t, p, errc::wire_bad_bitfield, "bad bitfield", true);
    return;
  }
  if (p.have_all) t.picker->dec_have_all();
  else t.picker->dec_bitfield(p.has);
  p.have_all = false;
  if (b->all()) {
    on_have_all(t, p);
    return;
  }
  p.has = std::move(*b);
  p.num_have = p.has.count();
  t.picker->inc_bitfield(p.has);
  update_interest(t, p);
}

void session::impl::on_have_all(torrent& t, peer_connection& p) {
  if (!t.meta) {
    p.have_all = true;
    return;
  }
  if (p.have_all) return;
  t.picker->dec_bitfield(p.has);
  p.has = t.all_pieces;
  p.num_have = p.has.size();
  p.have_all = true;
  t.picker->inc_have_all();
  for (const std::uint32_t piece : p.refused) forget_piece(t, p, piece);
  update_interest(t, p);
}

void session::impl::forget_piece(torrent& t, peer_connection& p, std::uint32_t piece) {
  if (!t.picker || !p.has.test(piece)) return;
  if (p.have_all) {
    t.picker->dec_have_all();
    p.have_all = false;
    p.has.clear(piece);
    t.picker->inc_bitfield(p.has);
  } else {
    p.has.clear(piece);
    t.picker->dec_have(piece_index{piece});
  }
  --p.num_have;
  for (auto it = p.requests.begin(); it != p.requests.end();) {
    if (it->block.piece.value == piece) {
      t.picker->abort_request(it->block, p.handle());
      it = p.requests.erase(it);
    } else {
      ++it;
    }
  }
  if (p.am_interested) update_interest(t, p);
}

void session::impl::update_interest(torrent& t, peer_connection& p) {
  if (!t.picker || !p.active()) return;
  // Wanted: a piece with a priority, or one a reader or critical() waits for (those come
  // before any priority, even 0: a stream of a deselected file).
  const bool finished = t.picker->is_finished();
  if (finished && t.readers.empty() && t.critical.empty()) return set_interest(p, false);
  bool want = false;
  const std::uint32_t n = t.picker->num_pieces();
  for (std::uint32_t i = p.has.find_next_set(0); i < n; i = p.has.find_next_set(i + 1)) {
    const piece_index pi{i};
    if (t.picker->have(pi)) continue;
    if ((!finished && t.picker->piece_priority(pi) > 0) || t.picker->deadline(pi)) {
      want = true;
      break;
    }
  }
  set_interest(p, want);
}

void session::impl::set_interest(peer_connection& p, bool want) {
  if (want == p.am_interested) return;
  p.am_interested = want;
  send(p, want ? wire::message{wire::interested{}} : wire::message{wire::not_interested{}});
}

void session::impl::on_request(torrent& t, peer_connection& p, const wire::request& r) {
  auto reject = [&] {
    if (p.fast) send(p, wire::reject_request{r.piece, r.begin, r.length});
  };
  if (!t.picker || r.piece.value >= t.picker->num_pieces() || !t.picker->have(r.piece) ||
      r.length == 0 || r.length > block_size ||
      std::uint64_t{r.begin} + r.length > t.picker->piece_size(r.piece)) {
    reject();
    return;
  }
  if (p.am_choking || p.queued.size() >= settings.reqq) {
    reject();
    return;
  }
  // The same block asked for again while its first request waits or is being read: it is
  // sent once (a peer repeating one request thousands of times got it hundreds of times).
  const auto asked = [&](const auto& list) { return std::find(list.begin(), list.end(), r) != list.end(); };
  if (asked(p.queued) || (asked(p.reading) && !asked(p.cancelled))) return;
  p.queued.push_back(r);
  pump_reads(t, p);
}

bool session::impl::can_serve(const peer_connection& p) const {
  const bool room = settings.send_buffer_limit == 0 ||
                    p.unsent + p.out.size() + p.reading.size() * block_size < settings.send_buffer_limit;
  return !p.dead && !p.am_choking && p.reading.size() < settings.max_reads_per_peer && !p.queued.empty() && room;
}

void session::impl::pump_reads(torrent& t, peer_connection& p) {
  if (upload_limit.limited() || t.upload_limit.limited()) {
    // distribute_bandwidth() starts the reads when this peer's turn comes.
    if (can_serve(p)) upload_waiting = true;
    return;
  }
  serve_requests(t, p, std::numeric_limits<std::uint32_t>::max());
}

std::uint64_t session::impl::serve_requests(torrent& t, peer_connection& p, std::uint32_t max_reads) {
  std::uint64_t bytes = 0;
  for (std::uint32_t n = 0; n < max_reads && can_serve(p); ++n) {
    const wire::request r = p.queued.front();
    if (t.is_unhashed(r.piece.value)) {  // a trusted piece: hashed first (trust_hashed() goes on)
      hash_trusted(t, r.piece.value, false);
      break;
    }
    p.queued.pop_front();
    storage_request sr;
    sr.torrent = t.id;
    sr.op = storage_op::read;
    sr.piece = r.piece;
    sr.piece_offset = r.begin;
    sr.offset = std::int64_t{r.piece.value} * t.meta->piece_length + r.begin;
    sr.length = r.length;
    pending_storage ps;
    ps.what = pending_storage::kind::read_block;
    ps.torrent = t.id;
    ps.connection = p.id;
    ps.request = r;
    ps.choke_generation = p.choke_generation;
    emit_storage(std::move(sr), ps);
    p.reading.push_back(r);
    bytes += r.length;
  }
  return bytes;
}

void session::impl::on_piece(torrent& t, peer_connection& p, const wire::piece_block& b) {
  const auto length = static_cast<std::uint32_t>(b.data.size());
  p.rejects_in_a_row = 0;
  p.rejected_until = {};
  p.last_block = now;
  p.downloaded += length;
  p.down_since += length;
  t.downloaded += length;
  t.down_since += length;
  if (!t.picker) {
    t.wasted += length;
    return;
  }
  auto addr = t.picker->block_at({b.piece, b.begin, length});
  if (!addr) {
    t.wasted += length;
    return;
  }
  // Only a block we asked this peer for (or cancelled: it may still come) is taken. One
  // nobody asked for could land in a piece another peer is sending, which then fails its
  // hash with nobody to blame; a peer that sends many is closed.
  const bool requested = std::erase_if(p.requests, [&](const auto& q) { return q.block == *addr; }) > 0;
  const bool cancelled = forget_cancelled(p, *addr) > 0;
  if (!requested && !cancelled) {
    t.wasted += length;
    if (++p.unrequested_blocks > max_unrequested_blocks)
      close_peer(&t, p, errc::wire_unrequested_block, "sent blocks that were never requested", true);
    return;
  }
  auto r = t.picker->mark_block_received(*addr, p.handle());
  if (!r.accepted) {
    t.wasted += length;
    return;
  }
  cancel_duplicates(t, *addr, r.cancel);
  if (is_streamed(t, b.piece)) {
    stream_block(t, *addr, b.data);
    return;
  }
  auto& buffer = t.piece_buffers[b.piece.value];
  if (buffer.empty()) buffer.resize(t.picker->piece_size(b.piece));
  std::memcpy(buffer.data() + b.begin, b.data.data(), length);
  if (r.piece_complete) hash_piece(t, b.piece.value);
}

void session::impl::cancel_duplicates(torrent& t, block_address b, const std::vector<peer_handle>& others) {
  for (peer_handle other : others) {
    auto* o = find_peer(t, connection_id{other.value});  // nullptr for a web seed
    if (!o) continue;
    auto it = std::find_if(o->requests.begin(), o->requests.end(), [&](const auto& q) { return q.block == b; });
    if (it == o->requests.end()) continue;
    cancel_request(t, *o, *it);  // the picker already forgot it: its abort is a no-op here
    o->requests.erase(it);
  }
}

void session::impl::on_extended(torrent& t, peer_connection& p, const wire::extended& e) {
  if (p.ext_held) {
    // Bounded: a peer that sends this much before we answer has the hold ended early.
    constexpr std::size_t max_early_messages = 64, max_early_bytes = 1u << 20;
    if (p.ext_early.size() < max_early_messages && p.ext_early_bytes + e.payload.size() <= max_early_bytes) {
      p.ext_early.emplace_back(e.id, byte_buffer(e.payload.begin(), e.payload.end()));
      p.ext_early_bytes += e.payload.size();
      return;
    }
    release_extension_handshake(t, p);
    if (p.dead) return;
  }
  // The host hears of the message (the wire's 'extended' event) after the extensions did,
  // as bittorrent-protocol calls an extension's handler before emitting 'extended'.
  const auto report = [&] {
    if (p.dead || !(p.report & peer_message_bit(peer_message_kind::extended))) return;
    peer_message_event r = peer_message(t, p, peer_message_kind::extended);
    r.index = e.id;
    if (e.id > 0 && e.id <= plugins.size()) r.extension = std::string(plugins[e.id - 1u]->name());
    r.data.assign(e.payload.begin(), e.payload.end());
    if (r.extension == wire::lt_donthave_name) r.donthave = p.donthave_applied;
    if (r.extension == wire::ut_pex_name) r.pex = std::exchange(p.pex_taken, std::nullopt);
    events.push_back(std::move(r));
  };
  if (e.id == 0) {
    auto h = wire::decode_extension_handshake(e.payload);
    if (!h) {
      close_peer(&t, p, h.err().code, "bad extension handshake: " + h.err().message(), true);
      return;
    }
    p.ext = std::move(h).value();
    p.ext_payload.assign(e.payload.begin(), e.payload.end());
    if (p.ext->reqq) p.peer_reqq = std::max<std::uint32_t>(1, *p.ext->reqq);
    for (std::size_t i = 0; i < plugins.size(); ++i) {
      if (!speaks(p, i + 1)) continue;
      plugins[i]->on_handshake(*this, t, p, p.ext->id_of(plugins[i]->name()));
      if (p.dead) return;
    }
    return report();
  }
  // An id we never gave this peer is not an extension's, but the host still hears of it.
  p.donthave_applied.reset();
  p.pex_taken.reset();
  if (e.id <= plugins.size() && speaks(p, e.id)) plugins[e.id - 1u]->on_message(*this, t, p, e.payload);
  report();
}

// --- choking -------------------------------------------------------------------------------------------

void session::impl::choke_peer(peer_connection& p) {
  if (p.am_choking) return;
  p.am_choking = true;
  p.optimistic = false;
  ++p.choke_generation;
  send(p, wire::choke{});
  if (p.fast)
    for (const auto& r : p.queued) send(p, wire::reject_request{r.piece, r.begin, r.length});
  p.queued.clear();
  // Reads in flight are not sent now: they end as cancelled ones (a reject for a fast peer).
  p.cancelled.insert(p.cancelled.end(), p.reading.begin(), p.reading.end());
}

void session::impl::unchoke_peer(peer_connection& p) {
  if (!p.am_choking) return;
  p.am_choking = false;
  p.last_unchoked = now;
  send(p, wire::unchoke{});
}

void session::impl::fill_unchoke_slots(torrent& t) {
  const auto [regular, optimistic] = unchoke_slots_of(t);
  const std::uint32_t slots = regular + (optimistic ? 1u : 0u);
  std::uint32_t unchoked = 0;
  for (const auto& [id, p] : t.peers)
    if (p.active() && !p.am_choking) ++unchoked;
  while (unchoked < slots) {
    peer_connection* best = nullptr;
    for (auto& [id, p] : t.peers) {
      if (!p.active() || !p.am_choking || !p.peer_interested || p.held_choked) continue;
      if (!best || p.last_unchoked < best->last_unchoked) best = &p;
    }
    if (!best) return;
    unchoke_peer(*best);
    ++unchoked;
  }
}

void session::impl::run_choker(torrent& t, bool rotate_optimistic) {
  std::vector<peer_connection*> candidates;
  for (auto& [id, p] : t.peers)
    if (p.active() && p.peer_interested && !p.held_choked) candidates.push_back(&p);
  // Random order first, so that equal rates are ordered at random.
  for (std::size_t i = candidates.size(); i > 1; --i)
    std::swap(candidates[i - 1], candidates[random.next() % i]);
  const bool seeding = t.picker && t.picker->is_finished();
  std::stable_sort(candidates.begin(), candidates.end(), [&](auto* a, auto* b) {
    return seeding ? a->up_rate > b->up_rate : a->down_rate > b->down_rate;
  });
  const auto slots = unchoke_slots_of(t);
  const std::size_t regular = std::min<std::size_t>(slots.regular, candidates.size());
  peer_connection* optimistic = nullptr;
  if (slots.optimistic) {
    for (auto* p : candidates)
      if (p->optimistic) optimistic = p;
    if (rotate_optimistic || !optimistic) {
      peer_connection* pick = nullptr;
      for (std::size_t i = regular; i < candidates.size(); ++i) {
        auto* p = candidates[i];
        if (p == optimistic && candidates.size() > regular + 1) continue;
        if (!pick || p->last_unchoked < pick->last_unchoked) pick = p;
      }
      if (optimistic) optimistic->optimistic = false;
      optimistic = pick;
    }
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    auto* p = candidates[i];
    if (i < regular || p == optimistic) {
      unchoke_peer(*p);
      p->optimistic = (p == optimistic && i >= regular);
    } else {
      choke_peer(*p);
    }
  }
  for (auto& [id, p] : t.peers)
    if (p.active() && !p.peer_interested && !p.am_choking) choke_peer(p);
}

// --- requests ---------------------------------------------------------------------------------------------

void session::impl::request_blocks(torrent& t, peer_connection& p) {
  if (download_limit.limited() || t.download_limit.limited()) {
    // distribute_bandwidth() issues the requests when this peer's turn comes.
    if (request_room(t, p) > 0) download_waiting = true;
    return;
  }
  issue_requests(t, p, std::numeric_limits<std::uint32_t>::max());
}

std::uint32_t session::impl::request_room(const torrent& t, const peer_connection& p) const {
  if (t.paused || t.requests_held || t.checking || writes_behind() || !t.picker || !p.active() || !p.am_interested) return 0;
  if (now < p.rejected_until) return 0;
  if (p.peer_choking && p.allowed_fast.empty()) return 0;
  const bool stream = streaming(t);
  const double per_block = static_cast<double>(block_size);
  const duration queue_time = stream ? settings.streaming_request_queue_time : settings.request_queue_time;
  const double by_rate = p.down_rate * seconds(queue_time) / per_block;
  std::uint32_t desired = stream ? settings.min_streaming_requests : settings.min_requests_per_peer;
  if (by_rate > desired) desired = static_cast<std::uint32_t>(std::min(by_rate, 1e6));
  desired = std::min({desired, settings.max_requests_per_peer, p.peer_reqq});
  std::uint32_t outstanding = static_cast<std::uint32_t>(p.requests.size());
  // Cancelled blocks that may still come keep their place (a slow peer that sends what it
  // queued before the cancel would otherwise be asked for more than its rate), but only
  // once the peer's rate is known: before that, their wait is a guess of a block a second,
  // and a WebTorrent seeder (no rejects) whose first requests were cancelled for a stream
  // opened at once sat idle for 4 s.
  if (p.down_rate > 0)
    for (const auto& c : p.cancelled_out)
      if (c.until > now) ++outstanding;
  return desired > outstanding ? desired - outstanding : 0;
}

void session::impl::cancel_request(torrent& t, peer_connection& p, const peer_connection::our_request& r) {
  const block_request b = t.picker->request_for(r.block);
  send(p, wire::cancel{b.piece, b.offset, b.length});
  t.picker->abort_request(r.block, p.handle());
  // The peer may have queued the block already: it could arrive once everything requested
  // before it has (blocks cancelled before it too: they may still come), at the peer's rate
  // (unknown yet: a block a second), plus a margin.
  std::uint64_t ahead = 0;
  for (const auto& c : p.cancelled_out)
    if (c.until > now) ahead += t.picker->block_length(c.block);
  for (const auto& q : p.requests) {
    ahead += t.picker->block_length(q.block);
    if (q.block == r.block) break;
  }
  const double rate = std::max(p.down_rate, static_cast<double>(block_size));
  const duration wait = std::min(settings.request_queue_time,
                                 from_seconds(static_cast<double>(ahead) / rate) + std::chrono::milliseconds(250));
  forget_cancelled(p, r.block);
  p.cancelled_out.push_back({r.block, now + wait});
}

std::uint64_t session::impl::issue_requests(torrent& t, peer_connection& p, std::uint32_t max_blocks) {
  const std::uint32_t room = request_room(t, p);
  if (room == 0 || max_blocks == 0) return 0;
  pick_options opts;
  opts.count = std::min(room, max_blocks);
  opts.now = now;
  opts.request_timeout = settings.request_timeout;
  opts.max_requesters = 2;
  // Streaming and critical pieces: a peer at least as fast as the average may take
  // over blocks of pieces whose deadline is near that a slower peer has had for a while.
  if ((!t.readers.empty() || !t.critical.empty()) && settings.deadline_at_risk_window > duration{0}) {
    double sum = 0;
    std::uint32_t n = 0;
    for (const auto& [cid, other] : t.peers) {
      if (!other.active() || other.peer_choking) continue;
      sum += other.down_rate;
      ++n;
    }
    if (n > 1 && p.down_rate > 0 && p.down_rate >= sum / n) {
      opts.at_risk_window = settings.deadline_at_risk_window;
      opts.at_risk_min_age = settings.deadline_rerequest_age;
    }
  }
  const bitfield* has = &p.has;
  bitfield filtered;
  if (p.peer_choking) {
    // Choked: only the pieces the peer allowed (BEP 6 allowed_fast) that it has.
    filtered = bitfield(p.has.size());
    for (const std::uint32_t piece : p.allowed_fast)
      if (piece < p.has.size() && p.has.test(piece)) filtered.set(piece);
    has = &filtered;
  }
  if (!t.exclusive.empty()) {
    if (has != &filtered) filtered = p.has;
    for (const auto& [piece, holder] : t.exclusive)
      if (holder != p.id.value) filtered.clear(piece);
    has = &filtered;
  }
  if (streaming(t)) {
    // Pieces without a deadline get at most streaming_undue_time of the peer's rate.
    const double cap = p.down_rate * seconds(settings.streaming_undue_time) / static_cast<double>(block_size);
    std::uint32_t undue = 0;
    for (const auto& q : p.requests)
      if (!t.picker->deadline(q.block.piece)) ++undue;
    auto allowed = static_cast<std::uint32_t>(std::min(cap, 1e6));
    // A peer whose rate is not known yet and that would otherwise sit idle next to open
    // readers still gets one block, which tells its rate.
    if (allowed == 0 && !t.readers.empty() && p.down_rate <= 0 && p.requests.empty() && p.cancelled_out.empty())
      allowed = 1;
    opts.max_undue = allowed > undue ? allowed - undue : 0;
  }
  // Blocks this peer was asked to cancel may still come: not asked of it again meanwhile,
  // unless a reader now waits for their piece (a peer that dropped them would stall it).
  std::vector<block_address> avoid;
  for (const auto& c : p.cancelled_out)
    if (c.until > now && !t.picker->deadline(c.block.piece)) avoid.push_back(c.block);
  std::sort(avoid.begin(), avoid.end());
  if (!avoid.empty()) opts.avoid = &avoid;
  const std::uint64_t partial = settings.max_partial_bytes > 0 ? partial_bytes() : 0;
  auto blocks = std::vector<block_address>{};
  if (settings.max_partial_bytes > 0 && partial >= settings.max_partial_bytes) {
    // Finish the pieces in progress before starting others.
    bitfield only(has->size());
    for (const piece_index piece : t.picker->partial_pieces())
      if (has->test(piece.value)) only.set(piece.value);
    blocks = t.picker->pick_blocks(p.handle(), only, opts);
    if (blocks.empty() && p.requests.empty()) {
      opts.count = std::min(opts.count, t.picker->blocks_in_piece(piece_index{0}));
      blocks = t.picker->pick_blocks(p.handle(), *has, opts);
    }
  } else {
    blocks = t.picker->pick_blocks(p.handle(), *has, opts);
  }
  std::uint64_t bytes = 0;
  for (const auto& b : blocks) {
    const block_request r = t.picker->request_for(b);
    p.requests.push_back({b, now});
    send(p, wire::request{r.piece, r.offset, r.length});
    bytes += r.length;
  }
  if (blocks.empty() && p.requests.empty()) update_interest(t, p);
  return bytes;
}

}  // namespace wt
