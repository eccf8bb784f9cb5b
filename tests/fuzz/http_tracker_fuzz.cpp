// Fuzzes the HTTP tracker codec: the input is an announce or scrape response body, also
// fed to the scheduler as a tracker's answer (with the first byte choosing the HTTP status).
// Properties: no crash, no exception; parsed peers and counts stay within the limits; the
// scheduler answers every body with a result or a warning, and keeps a deadline.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "tracker/announce_schedule.hpp"
#include "tracker/http_tracker.hpp"

namespace tr = wt::tracker;
using namespace std::chrono_literals;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wt::byte_view body(data, size);
  tr::http::limits lim;
  lim.max_body = 1 << 16;
  lim.max_peers = 200;

  if (auto r = tr::http::parse_announce_response(body, lim)) {
    check(r->peers.size() <= 2 * lim.max_peers);
    for (const auto* count : {&r->interval, &r->min_interval, &r->complete, &r->incomplete}) {
      check(!*count || **count >= 0);
    }
    check(!r->warning || r->warning->size() <= lim.max_text);
  }
  if (auto r = tr::http::parse_scrape_response(body, lim)) {
    for (const auto& e : *r) check(e.complete >= 0 && e.incomplete >= 0 && e.downloaded >= 0);
  }
  const std::string_view text(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 64));
  (void)tr::http::parse_ip_address(text);
  if (const auto scrape = tr::http::scrape_url(text)) check(scrape->size() == text.size() - 2);

  tr::schedule_config cfg;
  cfg.http_limits = lim;
  tr::announcer a(cfg);
  tr::torrent_params p;
  p.info_hash.fill('H');
  p.tiers = {{"http://a.test/announce", "http://b.test/announce"}};
  wt::time_point now{};
  check(a.add_torrent(p, now));
  bool answered = false;
  for (int round = 0; round < 3; ++round) {
    while (auto o = a.poll()) {
      if (auto* get = std::get_if<tr::http_get>(&*o); get && !answered) {
        answered = true;
        const int status = size > 0 && data[0] == 'X' ? 404 : 200;
        a.http_response(get->request_id, status, body, now);
      }
    }
    const auto next = a.next_deadline();
    check(next.has_value());
    now = *next;
    a.on_timer(now);
  }
  check(a.scrape(p.info_hash, now));
  while (auto o = a.poll()) {
    if (auto* get = std::get_if<tr::http_get>(&*o); get && get->url.find("/scrape?") != get->url.npos) {
      a.http_response(get->request_id, 200, body, now);
    }
  }
  check(a.remove_torrent(p.info_hash, now));
  a.on_timer(now + 1h);
  while (a.poll()) {
  }
  check(!a.next_deadline().has_value());
  return 0;
}
