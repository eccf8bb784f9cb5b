// The public BEP 10 extension API: register by name, see the peer's support,
// exchange messages.
#include <catch2/catch.hpp>

#include "sim.hpp"

using namespace wt;
using namespace wt::sim;
using namespace std::chrono_literals;

TEST_CASE("[extension] a registered extension talks to a peer that has it and is silent with one that does not", "[extension]") {
  const auto tt = make_test_torrent(64 * 1024, 16 * 1024, 3);
  swarm net(8);
  const auto a = net.add_node();
  const auto b = net.add_node();
  const auto c = net.add_node();
  const std::uint32_t ext_a = net.at(a).register_extension("x_echo");
  bencode::dict fields;
  fields["x_echo_version"] = bencode::value(std::int64_t{7});
  fields["v"] = "must not replace the client name";
  const std::uint32_t ext_b = net.at(b).register_extension("x_echo", std::move(fields));
  CHECK(net.at(a).register_extension("x_echo") == ext_a);  // same name, same handle
  std::vector<torrent_id> ids;
  for (auto n : {a, b, c}) {
    auto t = net.at(n).add_torrent(tt.meta, {.seed = true}, net.now());
    REQUIRE(t);
    net.storage(n).write_at(*t, 0, tt.data);
    ids.push_back(*t);
  }
  net.at(a).add_peer(ids[0], net.endpoint(b), net.now());
  net.at(a).add_peer(ids[0], net.endpoint(c), net.now());

  auto handshakes = [&](std::size_t n) {
    std::vector<extension_handshake_event> out;
    for (const auto& e : net.events(n))
      if (auto* h = std::get_if<extension_handshake_event>(&e)) out.push_back(*h);
    return out;
  };
  REQUIRE(net.run_until([&] { return handshakes(a).size() == 2; }, time_point{} + 1min));
  const auto hs = handshakes(a);
  std::optional<connection_id> to_b, to_c;
  for (const auto& h : hs) {
    CHECK(h.extension == ext_a);
    auto peers = net.at(a).peers(ids[0]);
    for (const auto& p : peers) {
      if (p.connection != h.connection) continue;
      if (p.remote == net.endpoint(b)) {
        CHECK(h.peer_supports);
        // b's handshake carries the field its extension added; built-in fields win.
        auto doc = bencode::decode(h.handshake);
        REQUIRE(doc);
        CHECK(doc->root().find_int("x_echo_version") == std::optional<std::int64_t>(7));
        CHECK(doc->root().find_string("v") != std::optional<std::string_view>("must not replace the client name"));
        // extension_names() is b's "m" dictionary in id order (wire.extendedMapping).
        const auto m = doc->root().find_dict("m");
        REQUIRE(m);
        const auto names = net.at(b).extension_names();
        REQUIRE(names.size() >= ext_b);
        CHECK(names[ext_b - 1] == "x_echo");
        for (std::size_t i = 0; i < names.size(); ++i) CHECK(m->find_int(names[i]) == std::optional<std::int64_t>(static_cast<std::int64_t>(i) + 1));
        to_b = h.connection;
      } else {
        CHECK_FALSE(h.peer_supports);
        to_c = h.connection;
      }
    }
  }
  REQUIRE(to_b);
  REQUIRE(to_c);
  CHECK_FALSE(net.at(a).send_extension_message(*to_c, ext_a, as_bytes("hello"), net.now()));
  CHECK(net.at(a).send_extension_message(*to_b, ext_a, as_bytes("ping"), net.now()));

  auto messages = [&](std::size_t n) {
    std::vector<extension_message_event> out;
    for (const auto& e : net.events(n))
      if (auto* m = std::get_if<extension_message_event>(&e)) out.push_back(*m);
    return out;
  };
  REQUIRE(net.run_until([&] { return messages(b).size() == 1; }, net.now() + 1min));
  const auto got = messages(b).front();
  CHECK(got.extension == ext_b);
  CHECK(as_chars(got.payload) == "ping");
  CHECK(net.at(b).send_extension_message(got.connection, ext_b, as_bytes("pong"), net.now()));
  REQUIRE(net.run_until([&] { return messages(a).size() == 1; }, net.now() + 1min));
  CHECK(as_chars(messages(a).front().payload) == "pong");
  net.run_until([] { return false; }, net.now() + 30s);
  CHECK(messages(c).empty());
  CHECK(messages(a).size() == 1);
}

TEST_CASE("[extension] an extension registered while peers are connected reaches them", "[extension]") {
  const auto tt = make_test_torrent(64 * 1024, 16 * 1024, 5);
  swarm net(9);
  const auto a = net.add_node();
  const auto b = net.add_node();
  std::vector<torrent_id> ids;
  for (auto n : {a, b}) {
    auto t = net.at(n).add_torrent(tt.meta, {.seed = true}, net.now());
    REQUIRE(t);
    net.storage(n).write_at(*t, 0, tt.data);
    ids.push_back(*t);
  }
  net.at(a).add_peer(ids[0], net.endpoint(b), net.now());
  REQUIRE(net.run_until([&] { return net.at(a).peers(ids[0]).size() == 1 && net.at(b).peers(ids[1]).size() == 1; },
                        time_point{} + 1min));
  net.run_until([] { return false; }, net.now() + 2s);  // extension handshakes exchanged

  // Both register late (as a page does from its 'wire' handler); each side learns the
  // other's id from the repeated handshake.
  const std::uint32_t ext_a = net.at(a).register_extension("x_late");
  const std::uint32_t ext_b = net.at(b).register_extension("x_late");
  auto supported = [&](std::size_t n) {
    std::optional<connection_id> c;
    for (const auto& e : net.events(n))
      if (auto* h = std::get_if<extension_handshake_event>(&e); h && h->peer_supports) c = h->connection;
    return c;
  };
  REQUIRE(net.run_until([&] { return supported(a) && supported(b); }, net.now() + 1min));
  CHECK(net.at(a).send_extension_message(*supported(a), ext_a, as_bytes("late hello"), net.now()));
  auto got = [&] {
    for (const auto& e : net.events(b))
      if (auto* m = std::get_if<extension_message_event>(&e)) return std::optional<extension_message_event>(*m);
    return std::optional<extension_message_event>();
  };
  REQUIRE(net.run_until([&] { return got().has_value(); }, net.now() + 1min));
  CHECK(got()->extension == ext_b);
  CHECK(as_chars(got()->payload) == "late hello");
  CHECK(net.at(a).peers(ids[0]).size() == 1);  // the repeated handshake kept the connection
}

namespace {
std::vector<extension_handshake_event> handshake_events(const swarm& net, std::size_t n) {
  std::vector<extension_handshake_event> out;
  for (const auto& e : net.events(n))
    if (auto* h = std::get_if<extension_handshake_event>(&e)) out.push_back(*h);
  return out;
}
bool connected(const swarm& net, std::size_t n) {
  for (const auto& e : net.events(n))
    if (std::holds_alternative<peer_connected_event>(e)) return true;
  return false;
}
}  // namespace

TEST_CASE("[extension] a held extension handshake carries an extension registered on the new peer", "[extension]") {
  // As WebTorrent's 'wire' event: the application registers an extension when it learns
  // of the peer, and the peer sees it in our first extension handshake.
  const auto tt = make_test_torrent(64 * 1024, 16 * 1024, 6);
  swarm net(10);
  node_config held;
  held.settings.extension_handshake_hold = 5s;
  const auto a = net.add_node(held);
  const auto b = net.add_node();
  const std::uint32_t ext_b = net.at(b).register_extension("x_first");
  std::vector<torrent_id> ids;
  for (auto n : {a, b}) {
    auto t = net.at(n).add_torrent(tt.meta, {.seed = n == b}, net.now());
    REQUIRE(t);
    if (n == b) net.storage(n).write_at(*t, 0, tt.data);
    ids.push_back(*t);
  }
  net.at(a).add_peer(ids[0], net.endpoint(b), net.now());
  REQUIRE(net.run_until([&] { return connected(net, a); }, time_point{} + 1min));
  // Let b's extension handshake arrive: a keeps it until it has answered.
  net.run_until([] { return false; }, net.now() + 1s);
  CHECK(handshake_events(net, a).empty());
  CHECK(handshake_events(net, b).empty());  // ours is held

  bencode::dict fields;
  fields["x_first_version"] = bencode::value(std::int64_t{3});
  const std::uint32_t ext_a = net.at(a).register_extension("x_first", std::move(fields));
  connection_id c{};
  for (const auto& e : net.events(a))
    if (auto* pc = std::get_if<peer_connected_event>(&e)) c = pc->connection;
  net.at(a).release_extension_handshake(c, net.now());

  REQUIRE(net.run_until([&] { return !handshake_events(net, b).empty() && !handshake_events(net, a).empty(); },
                        net.now() + 1min));
  // a's side: the extension sees b's handshake, which names it.
  const auto at_a = handshake_events(net, a);
  REQUIRE(at_a.size() == 1);
  CHECK(at_a[0].extension == ext_a);
  CHECK(at_a[0].peer_supports);
  // b's side: the first (and only) handshake from a has the extension and its field.
  net.run_until([] { return false; }, net.now() + 5s);
  const auto at_b = handshake_events(net, b);
  REQUIRE(at_b.size() == 1);
  CHECK(at_b[0].extension == ext_b);
  CHECK(at_b[0].peer_supports);
  auto doc = bencode::decode(at_b[0].handshake);
  REQUIRE(doc);
  CHECK(doc->root().find_int("x_first_version") == std::optional<std::int64_t>(3));
  // The download went on meanwhile.
  REQUIRE(net.run_until([&] { return net.at(a).stats(ids[0])->finished; }, net.now() + 1min));
}

TEST_CASE("[extension] a held extension handshake goes out after the hold when the host never answers", "[extension]") {
  // A magnet: the metadata comes through ut_metadata, so extended messages must flow.
  const auto tt = make_test_torrent(64 * 1024, 16 * 1024, 7);
  swarm net(11);
  node_config held;
  held.settings.extension_handshake_hold = 3s;
  const auto a = net.add_node(held);
  const auto b = net.add_node();
  auto tb = net.at(b).add_torrent(tt.meta, {.seed = true}, net.now());
  REQUIRE(tb);
  net.storage(b).write_at(*tb, 0, tt.data);
  auto ta = net.at(a).add_magnet(tt.meta.info_hash, "x", net.now());
  REQUIRE(ta);
  const std::uint32_t ext_b = net.at(b).register_extension("x_quiet");
  net.at(a).add_peer(*ta, net.endpoint(b), net.now());
  REQUIRE(net.run_until([&] { return connected(net, a); }, time_point{} + 1min));
  const time_point connected_at = net.now();
  REQUIRE(net.run_until([&] { return !handshake_events(net, b).empty(); }, net.now() + 1min));
  CHECK(net.now() - connected_at >= 3s);
  CHECK(handshake_events(net, b)[0].extension == ext_b);
  CHECK_FALSE(handshake_events(net, b)[0].peer_supports);
  REQUIRE(net.run_until([&] { return net.at(a).stats(*ta)->finished; }, net.now() + 1min));
}

TEST_CASE("[extension] a per-connection extension is spoken only where it is enabled", "[extension]") {
  // WebTorrent's wire.use() enables an extension on one wire: the other peers must not
  // see it in our handshake, nor reach it.
  const auto tt = make_test_torrent(64 * 1024, 16 * 1024, 8);
  swarm net(12);
  node_config no_pex;  // b and c must not meet (their handshakes would mix with a's)
  no_pex.settings.enable_ut_pex = false;
  const auto a = net.add_node(no_pex);
  const auto b = net.add_node(no_pex);
  const auto c = net.add_node(no_pex);
  const std::uint32_t ext_a = net.at(a).register_extension("x_some", {}, extension_scope::per_connection);
  for (auto n : {b, c}) net.at(n).register_extension("x_some");
  std::vector<torrent_id> ids;
  for (auto n : {a, b, c}) ids.push_back(add_seed(net, n, tt));
  net.at(a).add_peer(ids[0], net.endpoint(b), net.now());
  net.at(a).add_peer(ids[0], net.endpoint(c), net.now());
  REQUIRE(net.run_until([&] { return net.at(a).peers(ids[0]).size() == 2; }, time_point{} + 1min));
  connection_id to_b{}, to_c{};
  for (const auto& p : net.at(a).peers(ids[0])) (p.remote == net.endpoint(b) ? to_b : to_c) = p.connection;
  bencode::dict fields;
  fields["x_some_level"] = bencode::value(std::int64_t{2});
  CHECK(net.at(a).enable_extension(to_b, ext_a, std::move(fields), net.now()));
  CHECK_FALSE(net.at(a).enable_extension(to_b, 1, {}, net.now()));  // ut_metadata: every connection
  net.run_until([] { return false; }, net.now() + 5s);

  // b hears of it, with its field; c does not; a hears only b's handshake.
  const auto at_b = handshake_events(net, b);
  REQUIRE_FALSE(at_b.empty());
  CHECK(at_b.back().peer_supports);
  auto doc = bencode::decode(at_b.back().handshake);
  REQUIRE(doc);
  CHECK(doc->root().find_int("x_some_level") == std::optional<std::int64_t>(2));
  const auto at_c = handshake_events(net, c);
  REQUIRE_FALSE(at_c.empty());
  CHECK_FALSE(at_c.back().peer_supports);
  for (const auto& h : handshake_events(net, a)) CHECK(h.connection == to_b);
  CHECK(net.at(a).send_extension_message(to_b, ext_a, as_bytes("hi b"), net.now()));
  CHECK_FALSE(net.at(a).send_extension_message(to_c, ext_a, as_bytes("hi c"), net.now()));

  // Enabled late on c: c gets our handshake again, a the report of c's.
  CHECK(net.at(a).enable_extension(to_c, ext_a, {}, net.now()));
  REQUIRE(net.run_until([&] { return handshake_events(net, c).back().peer_supports; }, net.now() + 1min));
  bool reported = false;
  for (const auto& h : handshake_events(net, a)) reported = reported || (h.connection == to_c && h.peer_supports);
  CHECK(reported);
  CHECK(net.at(a).send_extension_message(to_c, ext_a, as_bytes("hi c"), net.now()));
  CHECK(net.at(a).peers(ids[0]).size() == 2);
}
