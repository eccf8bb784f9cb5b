// Fuzzes the uTP packet parser and a socket manager fed arbitrary datagrams.
// Part 1: the whole input as one datagram: parse() either refuses it or gives a packet whose
// encoding parses back to the same header and payload.
// Part 2: records of [flags][length: 1 byte][bytes] as datagrams from one peer to a manager
// that has one outgoing connection and accepts others. Flags: bit 0 writes the outgoing
// connection's receive id into bytes 2..3 and, with bit 2, a plausible ack_nr (the SYN's
// seq_nr) into bytes 18..19, so packets reach the state machine; bit 1 jumps to the next
// deadline first; bit 3 sends 2,000 bytes on every open connection.
// Properties: no crash; every datagram the manager sends parses; connections stay bounded.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <variant>

#include "utp/socket_manager.hpp"

using namespace wt;
using namespace std::chrono_literals;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_view input(data, size);
  if (const auto r = utp::parse(input); r.value) {
    const byte_buffer again = utp::encode(r.value->h, r.value->payload);
    const auto r2 = utp::parse(again);
    check(r2.value.has_value());
    check(r2.value->h.type == r.value->h.type && r2.value->h.seq_nr == r.value->h.seq_nr &&
          r2.value->h.ack_nr == r.value->h.ack_nr && r2.value->h.sack == r.value->h.sack &&
          r2.value->h.connection_id == r.value->h.connection_id &&
          std::equal(r2.value->payload.begin(), r2.value->payload.end(), r.value->payload.begin(),
                     r.value->payload.end()));
  }

  utp::manager_settings s;
  s.max_connections = 8;
  s.connection.receive_window = 64 * 1024;
  utp::socket_manager m(s);
  const wire::endpoint peer = wire::make_endpoint_v4({10, 0, 0, 1}, 6881);
  time_point now = time_point{} + 1s;
  const utp::socket_id out_id = m.connect(peer, now);
  std::uint16_t recv_id = 0, syn_seq = 0;
  std::set<utp::socket_id> open{out_id};
  const byte_buffer filler(2000, 0x5a);
  auto drain = [&] {
    while (auto o = m.poll()) {
      if (auto* d = std::get_if<utp::out::datagram>(&*o)) {
        const auto r = utp::parse(d->data);
        check(r.value.has_value());
        if (r.value->h.type == utp::packet_type::syn) {
          recv_id = r.value->h.connection_id;
          syn_seq = r.value->h.seq_nr;
        }
      } else if (auto* a = std::get_if<utp::out::accepted>(&*o)) {
        open.insert(a->id);
      } else if (auto* c = std::get_if<utp::out::closed>(&*o)) {
        open.erase(c->id);
      }
    }
  };
  drain();
  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::uint8_t flags = data[at];
    const std::size_t len = data[at + 1];
    at += 2;
    byte_buffer d(data + at, data + at + std::min(len, size - at));
    at += d.size();
    if (flags & 2) {
      if (auto t = m.next_deadline()) now = std::max(now, *t);
      m.on_timer(now);
    }
    if ((flags & 1) && d.size() >= utp::header_size) {
      d[2] = static_cast<std::uint8_t>(recv_id >> 8);
      d[3] = static_cast<std::uint8_t>(recv_id);
      if (flags & 4) {
        d[18] = static_cast<std::uint8_t>(syn_seq >> 8);
        d[19] = static_cast<std::uint8_t>(syn_seq);
      }
    }
    if (flags & 8)
      for (auto id : open) m.send(id, filler);
    now += 1ms;
    m.received(peer, d, now);
    m.flush(now);
    drain();
    check(m.size() <= s.max_connections + 1);
  }
  for (auto id : open) m.close(id, now);
  drain();
  return 0;
}
