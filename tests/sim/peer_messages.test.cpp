// The peer messages a host asks to see (bittorrent-protocol's wire events, WebTorrent's
// wire.on('have') and so on): reported from the handshake when the settings say so, then
// only the kinds asked for; and the connection's details (the peer's pieces, requests).
#include <catch2/catch.hpp>

#include <algorithm>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

namespace {

std::vector<peer_message_event> messages(const swarm& net, std::size_t n) {
  std::vector<peer_message_event> out;
  for (const auto& e : net.events(n))
    if (auto* m = std::get_if<peer_message_event>(&e)) out.push_back(*m);
  return out;
}

std::size_t count_kind(const std::vector<peer_message_event>& ms, peer_message_kind k) {
  return static_cast<std::size_t>(std::count_if(ms.begin(), ms.end(), [&](const auto& m) { return m.kind == k; }));
}

// A seeder and a leecher of `tt`, the leecher dialling the seeder.
struct pair_of_nodes {
  std::size_t seeder, leecher;
  torrent_id s, l;
};
pair_of_nodes seed_and_leech(swarm& net, const test_torrent& tt, node_config seeder_cfg, node_config leecher_cfg) {
  pair_of_nodes n{net.add_node(std::move(seeder_cfg)), net.add_node(std::move(leecher_cfg)), {}, {}};
  auto s = net.at(n.seeder).add_torrent(tt.meta, {.seed = true}, net.now());
  REQUIRE(s);
  net.storage(n.seeder).write_at(*s, 0, tt.data);
  auto l = net.at(n.leecher).add_torrent(tt.meta, {}, net.now());
  REQUIRE(l);
  net.at(n.leecher).add_peer(*l, net.endpoint(n.seeder), net.now());
  n.s = *s;
  n.l = *l;
  return n;
}

}  // namespace

TEST_CASE("[peer_messages] a leecher hears its seeder's messages from the handshake, then only what it asks for", "[peer_messages]") {
  const auto tt = make_test_torrent(256 * 1024, 32 * 1024, 21);  // 8 pieces, 2 blocks each
  swarm net(21);
  node_config watching;
  watching.settings.peer_messages_at_connect = all_peer_messages & ~peer_message_bit(peer_message_kind::piece_data);
  const auto nodes = seed_and_leech(net, tt, {}, watching);
  // (Named copies: lambdas cannot capture structured bindings in clang's C++20.)
  const std::size_t seeder = nodes.seeder, leecher = nodes.leecher;
  const torrent_id l = nodes.l;

  auto finished = [&] {
    auto st = net.at(leecher).stats(l);
    return st && st->finished;
  };
  REQUIRE(net.run_until(finished, time_point{} + 1min));
  const auto ms = messages(net, leecher);
  REQUIRE_FALSE(ms.empty());
  // The seeder speaks BEP 6: a have_all, not a bitfield; then unchoke, then the blocks.
  CHECK(count_kind(ms, peer_message_kind::have_all) == 1);
  CHECK(count_kind(ms, peer_message_kind::bitfield) == 0);
  CHECK(count_kind(ms, peer_message_kind::unchoke) == 1);
  auto first = [&](peer_message_kind k) {
    return std::find_if(ms.begin(), ms.end(), [&](const auto& m) { return m.kind == k; }) - ms.begin();
  };
  CHECK(first(peer_message_kind::have_all) < first(peer_message_kind::unchoke));
  CHECK(first(peer_message_kind::unchoke) < first(peer_message_kind::piece));
  // Every block once, with its place and length, and no bytes (piece_data not asked).
  std::uint64_t bytes = 0;
  for (const auto& m : ms) {
    if (m.kind != peer_message_kind::piece) continue;
    CHECK(m.data.empty());
    CHECK(m.index < 8);
    CHECK(m.begin % (16 * 1024) == 0);
    bytes += m.length;
  }
  CHECK(bytes == tt.data.size());
  // The extension handshake, by id 0, with its payload; nothing from the seeder itself.
  const auto ext = std::find_if(ms.begin(), ms.end(), [](const auto& m) { return m.kind == peer_message_kind::extended; });
  REQUIRE(ext != ms.end());
  CHECK(ext->index == 0);
  CHECK(ext->extension.empty());
  CHECK(static_cast<bool>(bencode::decode(ext->data)));
  // The seeder asked for nothing: it reports nothing, not even the blocks it sent.
  CHECK(messages(net, seeder).empty());

  // The leecher's details of its connection: the seeder has everything.
  const auto peers = net.at(leecher).peers(l);
  REQUIRE(peers.size() == 1);
  const auto d = net.at(leecher).peer_details(peers[0].connection);
  REQUIRE(d);
  CHECK(d->torrent == l);
  CHECK(d->have_all);
  CHECK(d->pieces == std::vector<std::uint8_t>{0xff});
  CHECK(d->features.fast);
  CHECK(d->features.extension_protocol);
  CHECK(d->requests.empty());
  CHECK(d->peer_requests.empty());
  CHECK_FALSE(net.at(leecher).peer_details(connection_id{9999}));
}

TEST_CASE("[peer_messages] a seeder asked for uploads and requests hears each block it sends, with the bytes when asked", "[peer_messages]") {
  const auto tt = make_test_torrent(128 * 1024, 32 * 1024, 22);  // 4 pieces
  swarm net(22);
  node_config slow;
  slow.upload_rate = 32 * 1024;  // 4 s in all: time to turn the reports off halfway
  const auto nodes = seed_and_leech(net, tt, slow, {});
  const std::size_t seeder = nodes.seeder, leecher = nodes.leecher;
  const torrent_id s = nodes.s, l = nodes.l;
  // Set once the connection is up (as a host does after the application's 'wire' listeners).
  REQUIRE(net.run_until([&] { return net.at(seeder).peers(s).size() == 1 && net.at(leecher).peers(l).size() == 1; },
                        time_point{} + 1min));
  const connection_id at_seeder = net.at(seeder).peers(s)[0].connection;
  const connection_id at_leecher = net.at(leecher).peers(l)[0].connection;
  net.at(seeder).report_peer_messages(at_seeder, peer_message_bit(peer_message_kind::upload) |
                                                     peer_message_bit(peer_message_kind::request) |
                                                     peer_message_bit(peer_message_kind::interested));
  net.at(leecher).report_peer_messages(at_leecher, peer_message_bit(peer_message_kind::piece) |
                                                       peer_message_bit(peer_message_kind::piece_data));
  auto uploads = [&] { return count_kind(messages(net, seeder), peer_message_kind::upload); };
  REQUIRE(net.run_until([&] { return uploads() >= 4; }, net.now() + 1min));
  // Turned off halfway: the seeder reports nothing more, the leecher still hears each block.
  net.at(seeder).report_peer_messages(at_seeder, 0);
  const auto reported = messages(net, seeder);
  REQUIRE(net.run_until([&] { auto st = net.at(leecher).stats(l); return st && st->finished; }, net.now() + 1min));
  CHECK(messages(net, seeder).size() == reported.size());

  std::uint64_t uploaded = 0;
  for (const auto& m : reported) {
    CHECK((m.kind == peer_message_kind::upload || m.kind == peer_message_kind::request ||
           m.kind == peer_message_kind::interested));
    if (m.kind == peer_message_kind::upload) {
      CHECK(m.length == 16 * 1024);
      uploaded += m.length;
    }
  }
  CHECK(uploaded >= 4 * 16 * 1024);
  CHECK(uploaded < tt.data.size());
  CHECK(count_kind(reported, peer_message_kind::interested) == 1);
  CHECK(count_kind(reported, peer_message_kind::request) >= count_kind(reported, peer_message_kind::upload));

  // The bytes of each block are the torrent's.
  const auto down = messages(net, leecher);
  CHECK(count_kind(down, peer_message_kind::piece) == down.size());
  for (const auto& m : down) {
    REQUIRE(m.data.size() == m.length);
    const std::size_t at = std::size_t{m.index} * 32 * 1024 + m.begin;
    CHECK(std::equal(m.data.begin(), m.data.end(), tt.data.begin() + static_cast<std::ptrdiff_t>(at)));
  }
  std::uint64_t received = 0;
  for (const auto& m : down) received += m.length;
  CHECK(received == tt.data.size());
}
