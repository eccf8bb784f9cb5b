#include "tracker/announce_schedule.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "base/random.hpp"
#include "tracker/announce_timing.hpp"

namespace wt::tracker {

namespace {

enum class protocol : std::uint8_t { http, udp };

std::optional<protocol> protocol_of(std::string_view url) {
  if (has_scheme(url, "http://") || has_scheme(url, "https://")) return protocol::http;
  if (has_scheme(url, "udp://")) return protocol::udp;
  return std::nullopt;
}

// One tracker URL as seen by one torrent.
struct tracker_entry {
  std::string url;
  protocol proto = protocol::http;
  announce_timing timing;  // "started" once acknowledged; min interval, back-off
};

// One BEP 12 tier: its trackers are mirrors, tried one at a time; tiers announce apart.
struct tier_entry {
  std::vector<tracker_entry> trackers;
  time_point next_announce{};    // the next regular announce
  time_point wake_at{};          // when on_timer looks again (no request in flight)
  std::optional<std::uint64_t> active;  // the announce in flight
  bool completed_pending = false;
  bool completed_sent = false;
};

struct torrent_entry {
  id20 info_hash{};
  id20 peer_id{};
  announce_stats stats;
  std::uint32_t key = 0;
  std::uint32_t numwant = 0;
  std::vector<tier_entry> tiers;
};

enum class purpose : std::uint8_t { announce, scrape, stop };

struct pending_request {
  purpose what = purpose::announce;
  id20 info_hash{};
  std::string url;
  announce_event event = announce_event::none;
  std::optional<time_point> deadline;       // HTTP timeout, or stop_timeout
  std::optional<udp::request_id> udp_id;    // on the connection for `url`
};

std::string status_text(int status) { return "HTTP status " + std::to_string(status); }

}  // namespace

struct announcer::impl {
  schedule_config cfg;
  timing_config timing;
  rng random;
  std::map<id20, torrent_entry> torrents;
  std::map<std::uint64_t, pending_request> pending;
  std::map<std::string, udp::connection> udp;
  std::uint64_t next_request_id = 1;
  std::deque<output> outputs;

  explicit impl(schedule_config c)
      : cfg(std::move(c)),
        timing(timing_of(cfg)),
        random(cfg.seed) {}

  static timing_config timing_of(const schedule_config& c) {
    timing_config t;
    t.default_interval = c.default_interval;
    t.min_interval_floor = c.min_interval_floor;
    t.max_interval = c.max_interval;
    t.backoff_base = c.backoff_base;
    t.backoff_cap = c.backoff_cap;
    return t;
  }

  torrent_entry* find(const id20& info_hash) {
    auto it = torrents.find(info_hash);
    return it == torrents.end() ? nullptr : &it->second;
  }

  // The tier holding `url` and its entry there (URLs are unique across a torrent's tiers).
  static std::pair<tier_entry*, tracker_entry*> find_tracker(torrent_entry& t, const std::string& url) {
    for (auto& tier : t.tiers) {
      for (auto& tr : tier.trackers) {
        if (tr.url == url) return {&tier, &tr};
      }
    }
    return {nullptr, nullptr};
  }

  // Moves the tracker that answered to the front of its tier (BEP 12).
  static void promote(tier_entry& tier, const std::string& url) {
    auto& trackers = tier.trackers;
    auto it = std::find_if(trackers.begin(), trackers.end(), [&](const auto& tr) { return tr.url == url; });
    if (it != trackers.end()) std::rotate(trackers.begin(), it, it + 1);
  }

  udp::connection& udp_connection(const std::string& url) {
    auto it = udp.find(url);
    if (it == udp.end()) it = udp.emplace(url, udp::connection(cfg.udp, random)).first;
    return it->second;
  }

  announce_request make_request(const torrent_entry& t, const tracker_entry& tr,
                                announce_event event) const {
    announce_request r;
    r.info_hash = t.info_hash;
    r.peer_id = t.peer_id;
    r.port = cfg.port;
    r.stats = t.stats;
    r.event = event;
    r.numwant = event == announce_event::stopped ? 0 : t.numwant;
    r.key = t.key;
    r.tracker_id = tr.timing.tracker_id;
    if (cfg.extra_params) r.extra = cfg.extra_params(t.info_hash);
    return r;
  }

  // Sends an announce or scrape to `tr`; returns the pending request's id.
  std::uint64_t send(purpose what, const torrent_entry& t, const tracker_entry& tr,
                     announce_event event, time_point now) {
    const std::uint64_t id = next_request_id++;
    pending_request p;
    p.what = what;
    p.info_hash = t.info_hash;
    p.url = tr.url;
    p.event = event;
    if (what == purpose::stop) p.deadline = now + cfg.stop_timeout;
    if (tr.proto == protocol::http) {
      if (what != purpose::stop) p.deadline = now + cfg.http_timeout;
      std::string url;
      if (what == purpose::scrape) {
        url = http::scrape_request_url(*http::scrape_url(tr.url), std::span(&t.info_hash, 1));
      } else {
        url = http::announce_url(tr.url, make_request(t, tr, event));
      }
      pending.emplace(id, std::move(p));
      outputs.push_back(http_get{id, std::move(url)});
    } else {
      auto& conn = udp_connection(tr.url);
      p.udp_id = what == purpose::scrape ? conn.scrape(std::span(&t.info_hash, 1), now)
                                         : conn.announce(make_request(t, tr, event), now);
      pending.emplace(id, std::move(p));
      pump(tr.url, now);
    }
    return id;
  }

  // Starts the tier's announce if one is due and allowed; otherwise sets its wake_at.
  void maybe_announce(torrent_entry& t, tier_entry& tier, time_point now) {
    if (tier.active) return;
    if (now < tier.next_announce) {
      tier.wake_at = tier.next_announce;
      return;
    }
    tracker_entry* chosen = nullptr;
    std::optional<time_point> earliest_retry;
    for (auto& tr : tier.trackers) {
      const time_point retry_at = tr.timing.retry_at();
      if (retry_at <= now) {
        chosen = &tr;
        break;
      }
      if (!earliest_retry || retry_at < *earliest_retry) earliest_retry = retry_at;
    }
    if (!chosen) {
      tier.wake_at = earliest_retry.value_or(now + cfg.backoff_cap);
      return;
    }
    const announce_event event = chosen->timing.next_event(tier.completed_pending);
    // "completed" goes at once, as libtorrent's and WebTorrent's send it: held back by the
    // min interval, it was lost whenever the torrent was removed first.
    if (const auto allowed = chosen->timing.earliest_extra(timing); event != announce_event::completed && now < allowed) {
      tier.wake_at = allowed;
      return;
    }
    tier.active = send(purpose::announce, t, *chosen, event, now);
  }

  void maybe_announce_all(torrent_entry& t, time_point now) {
    for (auto& tier : t.tiers) maybe_announce(t, tier, now);
  }

  void announce_succeeded(const pending_request& p, announce_response response, time_point now) {
    auto* t = find(p.info_hash);
    if (!t) return;
    auto [tier, tr] = find_tracker(*t, p.url);
    if (!tier) return;
    tier->active.reset();
    tr->timing.delivered(p.event, now);
    if (p.event == announce_event::completed) {
      tier->completed_pending = false;
      tier->completed_sent = true;
    }
    if (response.tracker_id) tr->timing.tracker_id = *response.tracker_id;
    const duration interval = tr->timing.answered(response.interval, response.min_interval, timing, now);
    // The tier's next regular announce follows its tracker that answered.
    tier->next_announce = tier->completed_pending ? now : now + interval;

    if (response.warning) {
      outputs.push_back(tracker_warning{p.url, p.info_hash, problem::warning_message, *response.warning});
    }
    if (!response.peers.empty()) {
      outputs.push_back(peers_found{p.url, p.info_hash, std::move(response.peers)});
    }
    outputs.push_back(announce_result{p.url, p.info_hash, p.event, interval, response.complete,
                                      response.incomplete});
    promote(*tier, p.url);
    maybe_announce(*t, *tier, now);
  }

  void announce_failed(const pending_request& p, problem kind, std::string message, time_point now) {
    auto* t = find(p.info_hash);
    if (!t) return;
    outputs.push_back(tracker_warning{p.url, p.info_hash, kind, std::move(message)});
    auto [tier, tr] = find_tracker(*t, p.url);
    if (!tier) return;
    tier->active.reset();
    tr->timing.failed(timing, now);
    maybe_announce(*t, *tier, now);  // the tier's next tracker, if one is not backing off
  }

  // A parse error as a problem and its message: the tracker's own text for a failure reason.
  static std::pair<problem, std::string> describe(const error& err, problem kind) {
    if (err.code == errc::tracker_failure) return {problem::failure_reason, err.context};
    return {kind, err.message()};
  }

  std::optional<pending_request> take(std::uint64_t id) {
    auto it = pending.find(id);
    if (it == pending.end()) return std::nullopt;
    pending_request p = std::move(it->second);
    pending.erase(it);
    return p;
  }

  void announce_outcome(std::uint64_t id, result<announce_response> outcome, problem kind_on_error,
                        time_point now) {
    if (!outcome) {
      auto [kind, message] = describe(outcome.err(), kind_on_error);
      fail_request(id, kind, std::move(message), now);
      return;
    }
    const auto p = take(id);
    if (p && p->what == purpose::announce) announce_succeeded(*p, std::move(*outcome), now);
  }

  void scrape_outcome(std::uint64_t id, result<std::vector<scrape_entry>> outcome,
                      problem kind_on_error, time_point now) {
    if (!outcome) {
      auto [kind, message] = describe(outcome.err(), kind_on_error);
      fail_request(id, kind, std::move(message), now);
      return;
    }
    const auto p = take(id);
    if (!p) return;
    for (const auto& entry : *outcome) {
      if (entry.info_hash == p->info_hash) outputs.push_back(scrape_result{p->url, entry});
    }
  }

  // A request that failed: announces back off and fall through to the tier's next tracker, scrapes
  // only warn, "stopped" announces are dropped quietly.
  void fail_request(std::uint64_t id, problem kind, std::string message, time_point now) {
    const auto p = take(id);
    if (!p || p->what == purpose::stop) return;
    if (p->what == purpose::scrape) {
      outputs.push_back(tracker_warning{p->url, p->info_hash, kind, std::move(message)});
      return;
    }
    announce_failed(*p, kind, std::move(message), now);
  }

  std::optional<std::uint64_t> pending_of_udp(const std::string& url, udp::request_id udp_id) const {
    for (const auto& [id, p] : pending) {
      if (p.udp_id == udp_id && p.url == url) return id;
    }
    return std::nullopt;
  }

  // Turns the UDP connection's outputs into ours.
  void pump(const std::string& url, time_point now) {
    auto it = udp.find(url);
    if (it == udp.end()) return;
    while (auto o = it->second.poll()) {
      if (auto* datagram = std::get_if<udp::send_datagram>(&*o)) {
        outputs.push_back(udp_send{url, std::move(datagram->bytes)});
      } else if (auto* announced = std::get_if<udp::announce_done>(&*o)) {
        if (const auto id = pending_of_udp(url, announced->id)) {
          announce_outcome(*id, std::move(announced->response), problem::bad_response, now);
        }
      } else if (auto* scraped = std::get_if<udp::scrape_done>(&*o)) {
        if (const auto id = pending_of_udp(url, scraped->id)) {
          scrape_outcome(*id, std::move(scraped->entries), problem::bad_response, now);
        }
      } else if (auto* failed = std::get_if<udp::request_failed>(&*o)) {
        if (const auto id = pending_of_udp(url, failed->id)) {
          problem kind = problem::bad_response;
          switch (failed->kind) {
            case udp::failure_kind::timeout: kind = problem::timeout; break;
            case udp::failure_kind::socket_error: kind = problem::network; break;
            case udp::failure_kind::tracker_error: kind = problem::tracker_error; break;
            case udp::failure_kind::bad_response: kind = problem::bad_response; break;
          }
          fail_request(*id, kind, std::move(failed->message), now);
        }
      }
    }
  }

  // Closes UDP connections that nothing uses any more.
  void close_unused_udp() {
    for (auto it = udp.begin(); it != udp.end();) {
      const std::string& url = it->first;
      bool used = std::any_of(pending.begin(), pending.end(),
                              [&](const auto& entry) { return entry.second.url == url; });
      for (auto& [hash, t] : torrents) {
        if (used) break;
        used = find_tracker(t, url).second != nullptr;
      }
      if (used || !it->second.idle()) {
        ++it;
        continue;
      }
      outputs.push_back(udp_close{url});
      it = udp.erase(it);
    }
  }

  void cancel_request(std::uint64_t id) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    if (it->second.udp_id) {
      if (auto conn = udp.find(it->second.url); conn != udp.end()) conn->second.cancel(*it->second.udp_id);
    }
    pending.erase(it);
  }
};

announcer::announcer(schedule_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {}
announcer::~announcer() = default;
announcer::announcer(announcer&&) noexcept = default;
announcer& announcer::operator=(announcer&&) noexcept = default;

bool announcer::add_torrent(const torrent_params& params, time_point now) {
  auto& m = *impl_;
  if (m.torrents.contains(params.info_hash)) return false;
  torrent_entry t;
  t.info_hash = params.info_hash;
  t.peer_id = params.peer_id;
  t.stats = params.stats;
  t.key = static_cast<std::uint32_t>(m.random.next() >> 32);
  t.numwant = m.cfg.numwant;
  std::unordered_set<std::string_view> seen;  // views into params: no quadratic search
  for (const auto& urls : params.tiers) {
    tier_entry tier;
    auto& trackers = tier.trackers;
    for (const auto& url : urls) {
      const auto proto = protocol_of(url);
      if (!proto || !seen.insert(url).second) continue;
      trackers.push_back(tracker_entry{url, *proto, announce_timing(m.timing)});
    }
    // BEP 12: shuffle each tier once (Fisher-Yates).
    for (std::size_t i = trackers.size(); i > 1; --i) {
      std::swap(trackers[i - 1], trackers[m.random.below(static_cast<std::uint32_t>(i))]);
    }
    tier.next_announce = now;
    if (!trackers.empty()) t.tiers.push_back(std::move(tier));
  }
  if (t.tiers.empty()) return false;
  auto& added = m.torrents.emplace(params.info_hash, std::move(t)).first->second;
  m.maybe_announce_all(added, now);
  return true;
}

bool announcer::remove_torrent(const id20& info_hash, time_point now) {
  auto& m = *impl_;
  auto it = m.torrents.find(info_hash);
  if (it == m.torrents.end()) return false;
  torrent_entry t = std::move(it->second);
  m.torrents.erase(it);
  std::vector<std::uint64_t> mine;
  for (const auto& [id, p] : m.pending) {
    if (p.info_hash == info_hash && p.what != purpose::stop) mine.push_back(id);
  }
  for (const auto id : mine) m.cancel_request(id);
  for (auto& tier : t.tiers) {
    for (auto& tr : tier.trackers) {
      if (tr.timing.started()) m.send(purpose::stop, t, tr, announce_event::stopped, now);
    }
  }
  m.close_unused_udp();
  return true;
}

bool announcer::set_stats(const id20& info_hash, const announce_stats& stats) {
  auto* t = impl_->find(info_hash);
  if (!t) return false;
  t->stats = stats;
  return true;
}

bool announcer::set_numwant(const id20& info_hash, std::uint32_t numwant) {
  auto* t = impl_->find(info_hash);
  if (!t) return false;
  t->numwant = numwant;
  return true;
}

bool announcer::completed(const id20& info_hash, time_point now) {
  auto* t = impl_->find(info_hash);
  if (!t) return false;
  for (auto& tier : t->tiers) {
    if (tier.completed_sent || tier.completed_pending) continue;
    tier.completed_pending = true;
    tier.next_announce = std::min(tier.next_announce, now);
    impl_->maybe_announce(*t, tier, now);
  }
  return true;
}

bool announcer::announce_now(const id20& info_hash, time_point now) {
  auto* t = impl_->find(info_hash);
  if (!t) return false;
  for (auto& tier : t->tiers) {
    tier.next_announce = std::min(tier.next_announce, now);
    impl_->maybe_announce(*t, tier, now);
  }
  return true;
}

bool announcer::scrape(const id20& info_hash, time_point now) {
  auto& m = *impl_;
  auto* t = m.find(info_hash);
  if (!t) return false;
  // The tracker announces go to: the first that acknowledged one, else the first.
  tracker_entry* target = &t->tiers.front().trackers.front();
  for (auto& tier : t->tiers) {
    auto& trackers = tier.trackers;
    auto it = std::find_if(trackers.begin(), trackers.end(), [](const auto& tr) { return tr.timing.started(); });
    if (it != trackers.end()) {
      target = &*it;
      break;
    }
  }
  if (target->proto == protocol::http && !http::scrape_url(target->url)) {
    m.outputs.push_back(tracker_warning{target->url, info_hash, problem::no_scrape,
                                        "the announce URL has no scrape form"});
    return false;
  }
  m.send(purpose::scrape, *t, *target, announce_event::none, now);
  return true;
}

void announcer::http_response(std::uint64_t request_id, int status, byte_view body, time_point now) {
  auto& m = *impl_;
  auto it = m.pending.find(request_id);
  if (it == m.pending.end()) return;  // timed out, cancelled or never ours
  const bool is_scrape = it->second.what == purpose::scrape;
  if (status != 200) {
    // Some trackers refuse with a 4xx and a bencoded failure reason: report that reason.
    auto parsed = http::parse_announce_response(body, m.cfg.http_limits);
    if (!parsed && parsed.err().code == errc::tracker_failure) {
      m.fail_request(request_id, problem::failure_reason, parsed.err().context, now);
    } else {
      m.fail_request(request_id, problem::http_status, status_text(status), now);
    }
  } else if (is_scrape) {
    m.scrape_outcome(request_id, http::parse_scrape_response(body, m.cfg.http_limits),
                     problem::bad_response, now);
  } else {
    m.announce_outcome(request_id, http::parse_announce_response(body, m.cfg.http_limits),
                       problem::bad_response, now);
  }
  m.close_unused_udp();
}

void announcer::http_failed(std::uint64_t request_id, const std::string& message, time_point now) {
  impl_->fail_request(request_id, problem::network, message, now);
  impl_->close_unused_udp();
}

void announcer::udp_received(const std::string& url, byte_view datagram, udp::ip_family family,
                             time_point now) {
  auto& m = *impl_;
  auto it = m.udp.find(url);
  if (it == m.udp.end()) return;
  it->second.received(datagram, family, now);
  m.pump(url, now);
  m.close_unused_udp();
}

void announcer::udp_failed(const std::string& url, const std::string& message, time_point now) {
  auto& m = *impl_;
  auto it = m.udp.find(url);
  if (it == m.udp.end()) return;
  it->second.socket_failed(message, now);
  m.pump(url, now);
  m.close_unused_udp();
}

void announcer::on_timer(time_point now) {
  auto& m = *impl_;
  std::vector<std::uint64_t> expired;
  for (const auto& [id, p] : m.pending) {
    if (p.deadline && *p.deadline <= now) expired.push_back(id);
  }
  for (const auto id : expired) {
    auto it = m.pending.find(id);
    if (it == m.pending.end()) continue;
    if (it->second.what == purpose::stop) {
      m.cancel_request(id);
    } else {
      // Only HTTP requests have a deadline of their own; a late answer is ignored.
      m.fail_request(id, problem::timeout, "no HTTP response", now);
    }
  }
  std::vector<std::string> urls;
  for (const auto& entry : m.udp) urls.push_back(entry.first);
  for (const auto& url : urls) {
    auto it = m.udp.find(url);
    if (it == m.udp.end()) continue;
    it->second.on_timer(now);
    m.pump(url, now);
  }
  for (auto& [hash, t] : m.torrents) {
    for (auto& tier : t.tiers) {
      if (!tier.active && tier.wake_at <= now) m.maybe_announce(t, tier, now);
    }
  }
  m.close_unused_udp();
}

std::optional<time_point> announcer::next_deadline() const {
  const auto& m = *impl_;
  std::optional<time_point> next;
  const auto consider = [&](time_point t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, p] : m.pending) {
    if (p.deadline) consider(*p.deadline);
  }
  for (const auto& [url, conn] : m.udp) {
    if (const auto d = conn.next_deadline()) consider(*d);
  }
  for (const auto& [hash, t] : m.torrents) {
    for (const auto& tier : t.tiers) {
      if (!tier.active) consider(tier.wake_at);
    }
  }
  return next;
}

std::optional<output> announcer::poll() {
  auto& q = impl_->outputs;
  if (q.empty()) return std::nullopt;
  output o = std::move(q.front());
  q.pop_front();
  return o;
}

std::vector<std::vector<std::string>> announcer::tiers(const id20& info_hash) const {
  std::vector<std::vector<std::string>> out;
  auto it = impl_->torrents.find(info_hash);
  if (it == impl_->torrents.end()) return out;
  for (const auto& tier : it->second.tiers) {
    auto& urls = out.emplace_back();
    for (const auto& tr : tier.trackers) urls.push_back(tr.url);
  }
  return out;
}

std::optional<time_point> announcer::next_announce(const id20& info_hash) const {
  auto it = impl_->torrents.find(info_hash);
  if (it == impl_->torrents.end()) return std::nullopt;
  std::optional<time_point> next;
  for (const auto& tier : it->second.tiers) {
    if (!tier.active && (!next || tier.wake_at < *next)) next = tier.wake_at;
  }
  return next;
}

}  // namespace wt::tracker
