// Fuzzes the DHT: the KRPC decoder on the whole input, then a node fed the input as
// datagrams. Node input layout: chunks of [control byte][length byte][length bytes].
// The node is an IPv6 one (BEP 32) when the input has an odd length, with IPv6
// senders. Control bits 0-1 pick the sender (four endpoints, which are also the node's bootstrap
// routers, so its queries go there); bit 7 advances the clock by 0..127 seconds (bits
// 2-6, times 4); in the datagram, "2:TT" is replaced by the transaction id of the last
// query the node sent to that sender, so answers can match. When the input's length is 2 or
// 3 modulo 4 the node enforces BEP 42's ids (enforce_node_id); the third sender's address is
// public, so that its id is checked.
// Properties: no crash; decode(encode(m)) == m for every decoded message; everything the
// node sends is a KRPC message within the datagram limit; its state stays within its
// bounds; once the answers agree on our address, our id is valid for it (BEP 42); with
// enforce_node_id every node in the table has an id valid for its address; the store of
// BEP 44 items stays within its bound (a get and a put run from the start).
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "dht/dht.hpp"
#include "dht/node_id.hpp"

using namespace wt;
using namespace wt::dht;
using namespace std::chrono_literals;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

const std::array<wire::endpoint, 4> senders4{
    wire::make_endpoint_v4({10, 0, 0, 1}, 6881), wire::make_endpoint_v4({10, 0, 0, 2}, 6881),
    wire::make_endpoint_v4({11, 0, 0, 3}, 1), wire::make_endpoint_v4({192, 168, 1, 1}, 65535)};
const std::array<wire::endpoint, 4> senders6{
    wire::make_endpoint_v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 6881),
    wire::make_endpoint_v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 6881),
    wire::make_endpoint_v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}, 1),
    wire::make_endpoint_v6({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 65535)};

void codec_properties(byte_view input) {
  auto decoded = decode(input);
  const auto* m = std::get_if<message>(&decoded);
  if (!m) return;
  limits roomy;  // a re-encoding may add an empty "nodes"
  roomy.max_message_size = 4096;
  roomy.max_tokens = 4096;
  auto again = decode(encode(*m), roomy);
  const auto* m2 = std::get_if<message>(&again);
  check(m2 != nullptr);
  check(*m2 == *m);
}

void drain(dht_node& node, const std::array<wire::endpoint, 4>& senders, std::array<byte_buffer, 4>& last_tid) {
  while (auto out = node.poll()) {
    const auto* s = std::get_if<send>(&*out);
    if (!s) continue;
    check(s->bytes.size() <= 1500);
    auto decoded = decode(s->bytes);
    const auto* m = std::get_if<message>(&decoded);
    check(m != nullptr);
    if (!std::holds_alternative<query>(m->body)) continue;
    for (std::size_t i = 0; i < senders.size(); ++i)
      if (s->to == senders[i]) last_tid[i] = m->transaction_id;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_view input(data, size);
  codec_properties(input);

  settings s;
  s.seed = 42;
  s.ipv6 = size % 2 == 1;
  s.enforce_node_id = size % 4 >= 2;
  const auto& senders = s.ipv6 ? senders6 : senders4;
  s.store.max_info_hashes = 4;
  s.store.max_peers_per_hash = 4;
  s.items.max_items = 4;
  dht_node node(s);
  auto now = time_point{} + 1s;
  node.bootstrap(senders, now);
  node_id info_hash{};
  info_hash.fill(0x11);
  node.announce(info_hash, 6881, false, now);
  // BEP 44: a get and a put under way, so that answers can carry items to them.
  node.get_item(info_hash, as_bytes("salt"), true, now);
  item mine;
  mine.value = {'5', ':', 'h', 'e', 'l', 'l', 'o'};
  node.put_item(mine, std::nullopt, now);
  std::array<byte_buffer, 4> last_tid;
  drain(node, senders, last_tid);

  std::size_t at = 0;
  while (at + 2 <= size) {
    const std::uint8_t control = data[at];
    const std::size_t length = data[at + 1];
    at += 2;
    const std::size_t take = std::min(length, size - at);
    std::string datagram(reinterpret_cast<const char*>(data + at), take);
    at += take;
    const std::size_t who = control & 3u;
    if (control & 0x80u) now += std::chrono::seconds(4 * ((control >> 2) & 0x1fu));
    if (last_tid[who].size() == 2) {
      const auto p = datagram.find("2:TT");
      if (p != std::string::npos) {
        datagram[p + 2] = static_cast<char>(last_tid[who][0]);
        datagram[p + 3] = static_cast<char>(last_tid[who][1]);
      }
    }
    node.udp_received(senders[who], as_bytes(datagram), now);
    node.on_timer(now);
    drain(node, senders, last_tid);
  }
  node.on_timer(now + 1h);
  drain(node, senders, last_tid);

  check(node.table().size() <= 160 * s.routing.bucket_size);
  check(node.store().info_hash_count() <= s.store.max_info_hashes);
  check(node.store().peer_count(info_hash) <= s.store.max_peers_per_hash);
  check(node.running_lookups() <= s.max_lookups);
  check(node.items().size() <= s.items.max_items);
  if (const auto& address = node.external_address()) check(secure_id_valid(node.id(), *address));
  if (s.enforce_node_id)
    for (const auto& n : node.table().all_nodes()) check(secure_id_valid(n.id, n.ep));
  const auto saved = node.save_state(now);
  dht_node restored(s);
  check(restored.load_state(saved, now).has_value());
  return 0;
}
