// Fuzzes NAT-PMP: the response decoder on the whole input, then a client that asked for
// two mappings fed the input as gateway datagrams. Input layout: chunks of [control byte]
// [length byte][length bytes]; control bit 7 advances the clock by 0..127 s (bits 0-6),
// bit 6 alone calls unmap_all().
// Properties: no crash; every datagram sent is a request of 2 or 12 bytes; the client holds
// only the mappings it asked for; after on_timer(now) nothing is due before now.
#include <cstdint>
#include <cstdlib>

#include "portmap/natpmp.hpp"

using namespace wt;
using namespace wt::portmap;
using namespace std::chrono_literals;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void drain(natpmp_client& c) {
  while (auto o = c.poll())
    if (const auto* s = std::get_if<send>(&*o)) check(s->bytes.size() == 2 || s->bytes.size() == 12);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)decode_response(byte_view(data, size));

  natpmp_client c;
  auto now = time_point{} + 1s;
  c.map(protocol::tcp, 6881, now);
  c.map(protocol::udp, 6881, now);
  drain(c);
  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::uint8_t control = data[at];
    const std::size_t length = std::min<std::size_t>(data[at + 1], size - at - 2);
    at += 2;
    if (control & 0x80u) now += std::chrono::seconds(control & 0x7fu);
    else if (control & 0x40u) c.unmap_all(now);
    c.received(byte_view(data + at, length), now);
    at += length;
    c.on_timer(now);
    drain(c);
    if (const auto next = c.next_deadline()) check(*next > now);
    check(c.mappings().size() <= 2);
    for (const auto& m : c.mappings()) check(m.internal_port == 6881);
  }
  return 0;
}
