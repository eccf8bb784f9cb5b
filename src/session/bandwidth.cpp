// Rate limits, session-wide and per torrent: the download limit meters block requests,
// the upload limit meters storage reads for peers' requests. Both share their tokens out
// round-robin among the waiting peers of every torrent, so no peer and no torrent is
// starved.
#include <limits>

#include "session/session_impl.hpp"

namespace wt {

using namespace session_detail;

namespace {

// One bucket shared among the peers for which `waiting(t, p)` holds: turns in
// connection-id order, starting after the peer served last; each turn `serve(t, p,
// share)` moves up to `share` blocks and returns their bytes. The share is the
// peer's fair part of the tokens at hand (at least one block), so one pass serves
// everyone when tokens are plentiful and each gets a block in turn when they are
// scarce. A torrent's own bucket (t.*own) is drawn from too (a byte must fit both): its
// peers wait, and t.*own_waiting is set, while it is empty. Returns whether a peer still
// waits once the session's tokens ran out.
template <class Waiting, class Serve>
bool share_out(std::map<std::uint32_t, torrent>& torrents, token_bucket& bucket, token_bucket torrent::*own,
               bool torrent::*own_waiting, time_point now, std::uint32_t& last_turn, Waiting waiting,
               Serve serve) {
  // Every torrent's bucket earns from the first wait on, whether or not the session's has
  // tokens now (next_deadline() asks the waiting ones when they will have theirs).
  for (auto& [tid, t] : torrents) (t.*own).refill(now);
  if (!bucket.available()) return true;  // still waiting; ready_at() says until when
  struct turn {
    torrent* t;
    peer_connection* p;
  };
  std::vector<turn> queue;
  for (auto& [tid, t] : torrents) {
    token_bucket& tb = t.*own;
    t.*own_waiting = false;
    for (auto& [cid, p] : t.peers) {
      if (!waiting(t, p)) continue;
      if (tb.available()) queue.push_back({&t, &p});
      else t.*own_waiting = true;
    }
  }
  std::sort(queue.begin(), queue.end(), [](const turn& a, const turn& b) { return a.p->id < b.p->id; });
  const auto next = std::find_if(queue.begin(), queue.end(), [&](const turn& x) { return x.p->id.value > last_turn; });
  std::rotate(queue.begin(), next, queue.end());
  constexpr auto all = std::numeric_limits<std::uint32_t>::max();
  const auto blocks_of = [](double tokens, double peers) {
    return static_cast<std::uint32_t>(std::clamp(tokens / (static_cast<double>(block_size) * peers), 1.0, 1e6));
  };
  // A limited torrent's tokens are shared among its own peers in the queue the same way.
  std::map<const torrent*, std::size_t> in_queue;
  for (const auto& x : queue) ++in_queue[x.t];
  const auto drop = [&](std::size_t i) {
    --in_queue[queue[i].t];
    queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));
  };
  while (!queue.empty() && bucket.available()) {
    const std::uint32_t fair =
        bucket.limited() ? blocks_of(bucket.tokens(), static_cast<double>(queue.size())) : all;
    for (std::size_t i = 0; i < queue.size() && bucket.available();) {
      torrent& t = *queue[i].t;
      token_bucket& tb = t.*own;
      if (!tb.available()) {  // the torrent's other peers took its tokens
        t.*own_waiting = true;
        drop(i);
        continue;
      }
      const std::uint32_t share =
          tb.limited() ? std::min(fair, blocks_of(tb.tokens(), static_cast<double>(in_queue[&t]))) : fair;
      const std::uint64_t bytes = serve(t, *queue[i].p, share);
      bucket.spend(bytes);
      tb.spend(bytes);
      last_turn = queue[i].p->id.value;
      if (bytes == 0 || !waiting(t, *queue[i].p)) drop(i);
      else ++i;
    }
  }
  return !queue.empty();
}

bool any_of_torrents(const std::map<std::uint32_t, torrent>& torrents, bool torrent::*flag) {
  return std::any_of(torrents.begin(), torrents.end(), [&](const auto& e) { return e.second.*flag; });
}

}  // namespace

void session::impl::distribute_bandwidth() {
  if (download_waiting) {
    download_limit.refill(now);
    const bool starved = share_out(
        torrents, download_limit, &torrent::download_limit, &torrent::download_waiting, now,
        last_download_turn,
        [&](const torrent& t, const peer_connection& p) { return request_room(t, p) > 0; },
        [&](torrent& t, peer_connection& p, std::uint32_t share) { return issue_requests(t, p, share); });
    download_waiting = starved || any_of_torrents(torrents, &torrent::download_waiting);
  }
  if (upload_waiting) {
    upload_limit.refill(now);
    const bool starved = share_out(
        torrents, upload_limit, &torrent::upload_limit, &torrent::upload_waiting, now, last_upload_turn,
        [&](const torrent&, const peer_connection& p) { return can_serve(p); },
        [&](torrent& t, peer_connection& p, std::uint32_t share) { return serve_requests(t, p, share); });
    upload_waiting = starved || any_of_torrents(torrents, &torrent::upload_waiting);
  }
}

// A download limit holds from the moment it is set, not once what was requested before it
// has come (a peer sending 1 MB/s has seconds of blocks asked for): each peer keeps about a
// second of the new rate, shared among the peers, and its newer requests are cancelled
// (their blocks are asked for again under the limit). only: a torrent's own limit.
void session::impl::trim_requests(std::uint64_t rate, torrent* only) {
  if (rate == 0) return;  // unlimited
  std::vector<std::pair<torrent*, peer_connection*>> peers;
  auto collect = [&](torrent& t) {
    if (!t.picker) return;
    for (auto& [id, p] : t.peers)
      if (p.active() && !p.requests.empty()) peers.emplace_back(&t, &p);
  };
  if (only) collect(*only);
  else for (auto& [id, t] : torrents) collect(t);
  if (peers.empty()) return;
  const std::uint64_t share = std::max<std::uint64_t>(block_size, rate / peers.size());
  for (auto [t, p] : peers) {
    std::size_t keep = 0;
    std::uint64_t kept = 0;
    for (const auto& r : p->requests) {
      const std::uint64_t length = t->picker->block_length(r.block);
      if (keep > 0 && kept + length > share) break;
      kept += length;
      ++keep;
    }
    while (p->requests.size() > keep) {
      cancel_request(*t, *p, p->requests.back());
      p->requests.pop_back();
    }
  }
}

// --- public surface ----------------------------------------------------------------------

void session::set_download_limit(std::uint64_t bytes_per_second, time_point now) {
  auto& s = enter(now);
  s.download_limit.set_rate(bytes_per_second, s.now);
  s.trim_requests(bytes_per_second, nullptr);
  // Every peer gets a turn under the new limit (or, lifted, all it can take at once).
  s.download_waiting = true;
  s.finish_call();
}

void session::set_upload_limit(std::uint64_t bytes_per_second, time_point now) {
  auto& s = enter(now);
  s.upload_limit.set_rate(bytes_per_second, s.now);
  s.upload_waiting = true;
  s.finish_call();
}

std::uint64_t session::download_limit() const noexcept { return impl_->download_limit.rate(); }
std::uint64_t session::upload_limit() const noexcept { return impl_->upload_limit.rate(); }

void session::set_torrent_download_limit(torrent_id t, std::uint64_t bytes_per_second, time_point now) {
  auto& s = enter(now);
  if (auto* tor = s.find_torrent(t)) {
    tor->download_limit.set_rate(bytes_per_second, s.now);
    s.trim_requests(bytes_per_second, tor);
    s.download_waiting = true;  // every peer of every torrent gets a turn under the new limit
  }
  s.finish_call();
}

void session::set_torrent_upload_limit(torrent_id t, std::uint64_t bytes_per_second, time_point now) {
  auto& s = enter(now);
  if (auto* tor = s.find_torrent(t)) {
    tor->upload_limit.set_rate(bytes_per_second, s.now);
    s.upload_waiting = true;
  }
  s.finish_call();
}

std::uint64_t session::torrent_download_limit(torrent_id t) const {
  const auto it = impl_->torrents.find(t.value);
  return it == impl_->torrents.end() ? 0 : it->second.download_limit.rate();
}
std::uint64_t session::torrent_upload_limit(torrent_id t) const {
  const auto it = impl_->torrents.find(t.value);
  return it == impl_->torrents.end() ? 0 : it->second.upload_limit.rate();
}

}  // namespace wt
