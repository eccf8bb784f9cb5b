// Session-wide rate limits: the download limit meters block requests, the upload limit
// meters storage reads for peers' requests. Both share their tokens out round-robin
// among the waiting peers of every torrent, so no peer and no torrent is starved.
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
// scarce. Returns whether a peer still waits once the tokens ran out.
template <class Waiting, class Serve>
bool share_out(std::map<std::uint32_t, torrent>& torrents, token_bucket& bucket,
               std::uint32_t& last_turn, Waiting waiting, Serve serve) {
  if (!bucket.available()) return true;  // still waiting; ready_at() says until when
  struct turn {
    torrent* t;
    peer_connection* p;
  };
  std::vector<turn> queue;
  for (auto& [tid, t] : torrents)
    for (auto& [cid, p] : t.peers)
      if (waiting(t, p)) queue.push_back({&t, &p});
  std::sort(queue.begin(), queue.end(), [](const turn& a, const turn& b) { return a.p->id < b.p->id; });
  const auto next = std::find_if(queue.begin(), queue.end(), [&](const turn& x) { return x.p->id.value > last_turn; });
  std::rotate(queue.begin(), next, queue.end());
  while (!queue.empty() && bucket.available()) {
    const double fair = bucket.tokens() / (static_cast<double>(block_size) * static_cast<double>(queue.size()));
    const auto share = static_cast<std::uint32_t>(std::clamp(fair, 1.0, 1e6));
    for (std::size_t i = 0; i < queue.size() && bucket.available();) {
      const std::uint64_t bytes = serve(*queue[i].t, *queue[i].p, share);
      bucket.spend(bytes);
      last_turn = queue[i].p->id.value;
      if (bytes == 0 || !waiting(*queue[i].t, *queue[i].p)) queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));
      else ++i;
    }
  }
  return !queue.empty();
}

}  // namespace

void session::impl::distribute_bandwidth() {
  constexpr auto all = std::numeric_limits<std::uint32_t>::max();
  if (download_waiting) {
    download_limit.refill(now);
    download_waiting = share_out(
        torrents, download_limit, last_download_turn,
        [&](const torrent& t, const peer_connection& p) { return request_room(t, p) > 0; },
        [&](torrent& t, peer_connection& p, std::uint32_t share) {
          return issue_requests(t, p, download_limit.limited() ? share : all);
        });
  }
  if (upload_waiting) {
    upload_limit.refill(now);
    upload_waiting = share_out(
        torrents, upload_limit, last_upload_turn,
        [&](const torrent&, const peer_connection& p) { return can_serve(p); },
        [&](torrent& t, peer_connection& p, std::uint32_t share) {
          return serve_requests(t, p, upload_limit.limited() ? share : all);
        });
  }
}

// --- public surface ----------------------------------------------------------------------

void session::set_download_limit(std::uint64_t bytes_per_second, time_point now) {
  auto& s = enter(now);
  s.download_limit.set_rate(bytes_per_second, s.now);
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

}  // namespace wt
