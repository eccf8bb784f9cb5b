// Fuzzes the UDP tracker client (BEP 15) through the announce scheduler with arbitrary
// datagrams. Input: records of [flags][length: 1 byte][bytes]. Flags: bit 0 writes the
// transaction id of the last datagram sent into bytes 4..7 (so answers get past the
// transaction check), bit 1 says the datagram came over IPv6, bit 2 jumps to the next
// deadline first, bit 3 reports a socket error instead. The torrent has a UDP tracker
// and an HTTP fallback in the next tier.
// Properties: no crash, no exception; every datagram sent is a BEP 15 connect (16 bytes),
// announce (98) or scrape (36) request; after remove and enough time nothing is left.
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "tracker/announce_schedule.hpp"

namespace tr = wt::tracker;
using namespace std::chrono_literals;

namespace {

const std::string udp_url = "udp://fuzz.test:6969/announce";

void check(bool ok) {
  if (!ok) std::abort();
}

// Drains outputs; returns the transaction id of the last datagram sent, if any.
void pump(tr::announcer& a, std::uint32_t& last_tid) {
  while (auto o = a.poll()) {
    if (auto* send = std::get_if<tr::udp_send>(&*o)) {
      check(send->url == udp_url);
      const auto n = send->bytes.size();
      check(n == 16 || n == 98 || n == 36);
      last_tid = (std::uint32_t{send->bytes[12]} << 24) | (std::uint32_t{send->bytes[13]} << 16) |
                 (std::uint32_t{send->bytes[14]} << 8) | send->bytes[15];
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tr::schedule_config cfg;
  cfg.seed = 1;
  cfg.udp.retransmit_base = 1s;
  cfg.udp.max_retransmit_exponent = 2;
  cfg.udp.max_peers = 100;
  tr::announcer a(cfg);
  tr::torrent_params p;
  p.info_hash.fill('H');
  p.tiers = {{udp_url}, {"http://fallback.test/announce"}};
  wt::time_point now{};
  std::uint32_t last_tid = 0;
  check(a.add_torrent(p, now));
  pump(a, last_tid);

  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::uint8_t flags = data[at];
    const std::size_t length = std::min<std::size_t>(data[at + 1], size - at - 2);
    wt::byte_buffer datagram(data + at + 2, data + at + 2 + length);
    at += 2 + length;
    if ((flags & 4) != 0) {
      if (const auto next = a.next_deadline()) now = std::max(now, *next);
      a.on_timer(now);
      pump(a, last_tid);
    }
    if ((flags & 8) != 0) {
      a.udp_failed(udp_url, "fuzz", now);
    } else {
      if ((flags & 1) != 0 && datagram.size() >= 8) {
        for (int i = 0; i < 4; ++i) datagram[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(last_tid >> (24 - 8 * i));
      }
      a.udp_received(udp_url, datagram, (flags & 2) != 0 ? wt::tracker::udp::ip_family::v6
                                                          : wt::tracker::udp::ip_family::v4, now);
    }
    pump(a, last_tid);
    if ((flags & 16) != 0) {
      (void)a.scrape(p.info_hash, now);
      pump(a, last_tid);
    }
  }
  check(a.remove_torrent(p.info_hash, now));
  pump(a, last_tid);
  for (int i = 0; i < 100 && a.next_deadline(); ++i) {
    now = std::max(now, *a.next_deadline());
    a.on_timer(now);
    pump(a, last_tid);
  }
  check(!a.next_deadline().has_value());
  return 0;
}
