// BEP 42, the DHT security extension: ids bound to addresses (the BEP's examples), our id
// made valid for the address the nodes report, and enforce_node_id.
#include "dht/node_id.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "dht/dht.hpp"
#include "outputs.hpp"

using namespace wt;
using namespace wt::dht;
using namespace std::chrono_literals;
using wt::test::drain;
using wt::test::only;

namespace {

time_point at(duration d) { return time_point{} + d; }

wire::endpoint v4(std::string_view text, std::uint16_t port = 6881) {
  auto e = wire::parse_ip_address(text);
  REQUIRE(e);
  e->port = port;
  return *e;
}

node_id hex_id(std::string_view hex) {
  node_id id{};
  REQUIRE(hex.size() == 40);
  for (std::size_t i = 0; i < 20; ++i) id[i] = static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  return id;
}

byte_buffer answer(const byte_buffer& tid, const node_id& id, std::optional<wire::endpoint> ip) {
  response r;
  r.id = id;
  r.ip = ip;
  message m;
  m.transaction_id = tid;
  m.body = std::move(r);
  return encode(m);
}

}  // namespace

TEST_CASE("[dht] BEP 42: CRC32-C", "[dht][dht_node_id]") {
  const std::string check = "123456789";
  CHECK(crc32c(as_bytes(check)) == 0xe3069283);  // the standard check value
  CHECK(crc32c({}) == 0);
}

TEST_CASE("[dht] BEP 42: the BEP's example ids are valid for their addresses, and made from them", "[dht][dht_node_id]") {
  struct example { const char* ip; std::uint8_t rand; const char* id; };
  const example examples[] = {
      {"124.31.75.21", 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"},
      {"21.75.31.124", 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"},
      {"65.23.51.170", 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"},
      {"84.124.73.14", 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"},
      {"43.213.53.83", 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"},
  };
  for (const auto& e : examples) {
    INFO(e.ip);
    const auto id = hex_id(e.id);
    CHECK(secure_id_valid(id, v4(e.ip)));
    CHECK(secure_node_id(v4(e.ip), e.rand, id) == id);  // the random bits are the example's
    // Any of the first 21 bits changed, or r, or the address: not valid.
    for (int bit = 0; bit < 21; ++bit) {
      node_id other = id;
      other[static_cast<std::size_t>(bit / 8)] ^= static_cast<std::uint8_t>(0x80 >> (bit % 8));
      CHECK_FALSE(secure_id_valid(other, v4(e.ip)));
    }
    node_id other_r = id;
    other_r[19] ^= 1;
    CHECK_FALSE(secure_id_valid(other_r, v4(e.ip)));
    CHECK_FALSE(secure_id_valid(id, v4("8.8.4.4")));
    // The bits after the 21st are free.
    node_id tail = id;
    tail[2] ^= 0x07;
    tail[10] ^= 0xff;
    CHECK(secure_id_valid(tail, v4(e.ip)));
  }
}

TEST_CASE("[dht] BEP 42: IPv6 ids; local addresses are exempt", "[dht][dht_node_id]") {
  const auto address = *wire::parse_ip_address("2001:db8:1234:5678::1");
  node_id random{};
  random.fill(0xa5);
  const auto id = secure_node_id(address, 3, random);
  CHECK(secure_id_valid(id, address));
  CHECK(id[19] == 3);
  CHECK(secure_id_valid(id, *wire::parse_ip_address("2001:db8:1234:5678::ffff")));  // only the first 64 bits count
  CHECK_FALSE(secure_id_valid(id, *wire::parse_ip_address("2001:db9:1234:5678::1")));

  for (const char* local : {"10.1.2.3", "127.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.0.9",
                            "::1", "fe80::1", "fd00::1", "fc12::1"}) {
    INFO(local);
    CHECK(secure_id_exempt(*wire::parse_ip_address(local)));
    CHECK(secure_id_valid(random, *wire::parse_ip_address(local)));
  }
  for (const char* global : {"172.32.0.1", "11.0.0.1", "192.169.0.1", "2001:db8::1", "::ffff:10.0.0.1"}) {
    INFO(global);
    CHECK_FALSE(secure_id_exempt(*wire::parse_ip_address(global)));
  }
}

namespace {

// A node bootstrapped from three routers at public addresses; `reported`: the address each
// router's answer says we have.
struct bootstrapped {
  dht_node node;
  std::vector<wire::endpoint> routers{v4("1.0.0.1"), v4("2.0.0.1"), v4("3.0.0.1")};
  std::vector<send> queries;

  explicit bootstrapped(settings s) : node(std::move(s)) {
    node.bootstrap(routers, at(0s));
    queries = only<send>(drain(node));
    REQUIRE(queries.size() == 3);
  }
  message query_to(std::size_t i) {
    auto r = decode(queries[i].bytes);
    REQUIRE(std::holds_alternative<message>(r));
    return std::get<message>(r);
  }
  void answer_from(std::size_t i, const node_id& id, std::optional<wire::endpoint> reported) {
    REQUIRE(queries[i].to == routers[i]);
    node.udp_received(routers[i], answer(query_to(i).transaction_id, id, reported), at(1s));
  }
};

node_id some_id(std::uint8_t first) {
  node_id id{};
  id.fill(0x11);
  id[0] = first;
  return id;
}

}  // namespace

TEST_CASE("[dht] BEP 42: our id becomes valid for the address three answering nodes report", "[dht][dht_node_id]") {
  settings s;
  s.seed = 7;
  const auto mine = v4("124.31.75.21", 40000);
  SECTION("reported by three nodes: a new id, valid for it; the table kept") {
    bootstrapped b(s);
    const auto before = b.node.id();
    REQUIRE_FALSE(secure_id_valid(before, mine));
    b.answer_from(0, some_id(0x10), mine);
    b.answer_from(1, some_id(0x20), mine);
    CHECK(b.node.id() == before);  // two votes are not enough
    CHECK_FALSE(b.node.external_address());
    drain(b.node);
    b.answer_from(2, some_id(0x30), mine);
    CHECK(b.node.id() != before);
    CHECK(secure_id_valid(b.node.id(), mine));
    REQUIRE(b.node.external_address());
    CHECK(wire::to_string(*b.node.external_address()) == "124.31.75.21:0");
    CHECK(b.node.table().size() == 3);
    CHECK(b.node.table().own_id() == b.node.id());
    // A lookup for the new id finds the nodes around it.
    bool asked = false;
    for (const auto& q : only<send>(drain(b.node))) {
      const auto m = std::get<message>(decode(q.bytes));
      if (const auto* body = std::get_if<query>(&m.body))
        asked = asked || (body->kind == method::find_node && body->target == b.node.id());
    }
    CHECK(asked);
  }
  SECTION("three different addresses: no agreement, no change") {
    bootstrapped b(s);
    const auto before = b.node.id();
    b.answer_from(0, some_id(0x10), v4("124.31.75.21"));
    b.answer_from(1, some_id(0x20), v4("21.75.31.124"));
    b.answer_from(2, some_id(0x30), v4("65.23.51.170"));
    CHECK(b.node.id() == before);
  }
  SECTION("a local address: any id is valid, it stays") {
    bootstrapped b(s);
    const auto before = b.node.id();
    for (std::size_t i = 0; i < 3; ++i) b.answer_from(i, some_id(static_cast<std::uint8_t>(0x10 * (i + 1))), v4("192.168.1.20"));
    CHECK(b.node.external_address());
    CHECK(b.node.id() == before);
  }
  SECTION("an id given in the settings stays") {
    node_id given{};
    given.fill(0x42);
    s.id = given;
    bootstrapped b(s);
    for (std::size_t i = 0; i < 3; ++i) b.answer_from(i, some_id(static_cast<std::uint8_t>(0x10 * (i + 1))), mine);
    CHECK(b.node.external_address());
    CHECK(b.node.id() == given);
  }
}

TEST_CASE("[dht] BEP 42: enforce_node_id: a node whose id does not fit its address stays out of the table", "[dht][dht_node_id]") {
  settings s;
  s.seed = 9;
  node_id random{};
  random.fill(0x5a);
  const auto valid_for = [&](std::size_t i, const wire::endpoint& ep) {
    return secure_node_id(ep, static_cast<std::uint8_t>(i), random);
  };
  SECTION("enforced") {
    s.enforce_node_id = true;
    bootstrapped b(s);
    b.answer_from(0, valid_for(0, b.routers[0]), std::nullopt);
    b.answer_from(1, some_id(0x20), std::nullopt);  // not valid for 2.0.0.1
    CHECK(b.node.table().size() == 1);
    CHECK(b.node.table().find(valid_for(0, b.routers[0])));
  }
  SECTION("not enforced (the default): both are kept") {
    bootstrapped b(s);
    b.answer_from(0, valid_for(0, b.routers[0]), std::nullopt);
    b.answer_from(1, some_id(0x20), std::nullopt);
    CHECK(b.node.table().size() == 2);
  }
}

TEST_CASE("[dht] BEP 42: a node that answers under a new id replaces its old entry", "[dht][dht_node_id]") {
  node_id own{};
  own.fill(0xee);
  routing_table table(own);
  const auto ep = v4("5.6.7.8");
  table.node_answered({some_id(0x10), ep}, at(0s));
  table.node_answered({some_id(0x20), v4("5.6.7.9")}, at(0s));
  CHECK(table.node_answered({some_id(0x30), ep}, at(1s)) == routing_table::insert_result::rejected);  // one entry per address
  table.node_renamed(ep, some_id(0x10));  // the same id: nothing changes
  CHECK(table.find(some_id(0x10)));
  table.node_renamed(ep, some_id(0x30));
  CHECK_FALSE(table.find(some_id(0x10)));
  CHECK(table.find(some_id(0x20)));
  CHECK(table.node_answered({some_id(0x30), ep}, at(1s)) == routing_table::insert_result::added);
  REQUIRE(table.at_endpoint(ep));
  CHECK(table.at_endpoint(ep)->id == some_id(0x30));
}

TEST_CASE("[dht] BEP 42: in a full bucket, a node with a valid id takes the place of one without", "[dht][dht_node_id]") {
  node_id own{};  // 0x00...: the nodes below differ in the first bit, so they share bucket 0
  // Nodes at public addresses 9.0.0.x whose id starts with a 1 bit: valid ones (some r gives
  // such a prefix for each address), or random ones, which are not valid (the chance is 2^-21).
  const auto at_address = [](int i) { return v4("9.0.0." + std::to_string(i)); };
  const auto valid_id = [&](int i) {
    node_id random{};
    random.fill(static_cast<std::uint8_t>(i));
    for (std::uint8_t r = 0; r < 8; ++r)
      if (const auto id = secure_node_id(at_address(i), r, random); id[0] & 0x80) return id;
    FAIL("no valid id with a leading 1 for 9.0.0." << i);
    return node_id{};
  };
  const auto random_id = [](int i) {
    node_id id{};
    id.fill(static_cast<std::uint8_t>(0x80 | i));
    return id;
  };
  for (const bool prefer : {true, false}) {
    INFO("prefer_secure_ids " << prefer);
    routing_settings settings;
    settings.prefer_secure_ids = prefer;
    routing_table table(own, settings);
    // Bucket 0 fills with 8 nodes without valid ids, then splits off the bucket of our own id.
    for (int i = 1; i <= 8; ++i) table.node_answered({random_id(i), at_address(i)}, at(0s));
    node_id near = own;
    near[19] = 1;
    table.node_answered({near, v4("9.0.1.1")}, at(0s));
    REQUIRE(table.bucket_count() >= 2);
    REQUIRE(table.bucket_size(0) == 8);
    REQUIRE_FALSE(secure_id_valid(random_id(1), at_address(1)));

    const auto newcomer = valid_id(20);
    const auto result = table.node_answered({newcomer, at_address(20)}, at(1s));
    if (prefer) {
      CHECK(result == routing_table::insert_result::replaced_insecure);
      CHECK(table.find(newcomer));
      CHECK(table.bucket_size(0) == 8);
      CHECK(table.replacement_count(0) == 1);  // the node it displaced waits there
      // Restored nodes (not answered yet) do not displace anyone.
      CHECK(table.node_answered({valid_id(21), at_address(21)}, at(1s), false) == routing_table::insert_result::replacement);
    } else {
      CHECK(result == routing_table::insert_result::replacement);
      CHECK_FALSE(table.find(newcomer));
    }
  }
}
