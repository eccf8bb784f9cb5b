// Fuzzes the Local Service Discovery (BEP 14) announce parser and the service that reads
// datagrams from the LAN.
// Properties: no crash, no exception; an accepted announce has a port, 1..max_info_hashes
// distinct hashes and a bounded cookie, and survives make_announce -> parse_announce
// unchanged; the service reports a peer only for a torrent it announces, at the sender's
// address with the announced port.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "lsd/lsd.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wt::byte_view input(data, size);
  const wt::lsd::limits lim;
  if (const auto a = wt::lsd::parse_announce(input, lim)) {
    check(size <= lim.max_datagram);
    check(a->port != 0);
    check(!a->info_hashes.empty() && a->info_hashes.size() <= lim.max_info_hashes);
    for (std::size_t i = 0; i < a->info_hashes.size(); ++i)
      check(std::find(a->info_hashes.begin() + static_cast<std::ptrdiff_t>(i) + 1, a->info_hashes.end(),
                      a->info_hashes[i]) == a->info_hashes.end());
    check(!a->cookie || a->cookie->size() <= lim.max_cookie);
    if (!a->cookie || !a->cookie->empty()) {  // an empty cookie is not sent again
      for (bool v6 : {false, true}) {
        const auto again = wt::lsd::parse_announce(wt::lsd::make_announce(v6, a->port, a->info_hashes, a->cookie.value_or("")));
        check(again && again->port == a->port && again->info_hashes == a->info_hashes && again->cookie == a->cookie);
      }
    }
  }

  // The service announces the torrent named by the input's first 20 bytes (if any).
  wt::lsd::settings s;
  s.listen_port = 6881;
  s.seed = 7;
  wt::lsd::service lsd(s);
  wt::lsd::id20 ours{};
  std::copy_n(data, std::min<std::size_t>(size, 20), ours.begin());
  const wt::time_point now{};
  lsd.announce(ours, now);
  lsd.on_timer(now);
  const auto from = wt::wire::make_endpoint_v4({10, 1, 2, 3}, 6771);
  lsd.received(from, input, now);
  while (auto o = lsd.poll()) {
    if (auto* found = std::get_if<wt::lsd::peers_found>(&*o)) {
      check(found->info_hash == ours);
      check(found->peer.port != 0 && std::equal(from.address.begin(), from.address.end(), found->peer.address.begin()));
    } else {
      check(std::get<wt::lsd::send>(*o).bytes.size() <= wt::lsd::max_send_size);
    }
  }
  return 0;
}
