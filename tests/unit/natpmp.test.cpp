// NAT-PMP (RFC 6886): the wire format and the client's requests, retries, renewals,
// restarts of the gateway and deletion. The gateway here is scripted; the Node test
// (tests/node/portmap.test.mjs) asks Debian's miniupnpd.
#include <catch2/catch.hpp>

#include "portmap/natpmp.hpp"
#include "outputs.hpp"

using namespace wt;
using namespace wt::portmap;
using namespace std::chrono_literals;
using wt::test::drain;
using wt::test::only;

namespace {

time_point at(duration d) { return time_point{} + d; }

byte_buffer address_answer(std::uint16_t result, std::uint32_t epoch, std::array<std::uint8_t, 4> ip) {
  return {0, 128, static_cast<std::uint8_t>(result >> 8), static_cast<std::uint8_t>(result),
          static_cast<std::uint8_t>(epoch >> 24), static_cast<std::uint8_t>(epoch >> 16), static_cast<std::uint8_t>(epoch >> 8),
          static_cast<std::uint8_t>(epoch), ip[0], ip[1], ip[2], ip[3]};
}

byte_buffer map_answer(protocol p, std::uint16_t result, std::uint32_t epoch, std::uint16_t internal,
                       std::uint16_t external, std::uint32_t lifetime) {
  byte_buffer b{0, static_cast<std::uint8_t>(128 + static_cast<int>(p)), static_cast<std::uint8_t>(result >> 8),
                static_cast<std::uint8_t>(result)};
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(epoch >> shift));
  b.push_back(static_cast<std::uint8_t>(internal >> 8));
  b.push_back(static_cast<std::uint8_t>(internal));
  b.push_back(static_cast<std::uint8_t>(external >> 8));
  b.push_back(static_cast<std::uint8_t>(external));
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(lifetime >> shift));
  return b;
}

// A client whose request for a TCP mapping of `port` is in flight, the public address known
// (the gateway's epoch 5).
void asking(natpmp_client& c, std::uint16_t port) {
  c.map(protocol::tcp, port, at(0s));
  drain(c);
  c.received(address_answer(0, 5, {1, 2, 3, 4}), at(0s));
  drain(c);
}

}  // namespace

TEST_CASE("[natpmp] the wire format of RFC 6886", "[natpmp]") {
  CHECK(encode_address_request() == byte_buffer{0, 0});
  CHECK(encode_map_request(protocol::tcp, 6881, 6881, 7200) == byte_buffer{0, 2, 0, 0, 0x1a, 0xe1, 0x1a, 0xe1, 0, 0, 0x1c, 0x20});
  CHECK(encode_map_request(protocol::udp, 1, 2, 0) == byte_buffer{0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0});

  const auto a = decode_response(address_answer(0, 1000, {1, 2, 3, 4}));
  REQUIRE(a);
  const auto& addr = std::get<address_response>(*a);
  CHECK(addr.epoch == 1000);
  CHECK(addr.address == std::array<std::uint8_t, 4>{1, 2, 3, 4});
  const auto m = decode_response(map_answer(protocol::udp, 2, 7, 6881, 40000, 3600));
  REQUIRE(m);
  const auto& map = std::get<map_response>(*m);
  CHECK(map.proto == protocol::udp);
  CHECK(map.result == 2);
  CHECK(map.internal_port == 6881);
  CHECK(map.external_port == 40000);
  CHECK(map.lifetime == 3600);

  // Requests, other versions, other opcodes and wrong sizes are not answers.
  CHECK_FALSE(decode_response(byte_buffer{}));
  CHECK_FALSE(decode_response(encode_address_request()));
  CHECK_FALSE(decode_response(encode_map_request(protocol::tcp, 1, 1, 1)));
  auto v1 = address_answer(0, 1, {1, 2, 3, 4});
  v1[0] = 1;
  CHECK_FALSE(decode_response(v1));
  auto op3 = map_answer(protocol::tcp, 0, 1, 1, 1, 1);
  op3[1] = 131;
  CHECK_FALSE(decode_response(op3));
  auto longer = map_answer(protocol::tcp, 0, 1, 1, 1, 1);
  longer.push_back(0);
  CHECK_FALSE(decode_response(longer));
  CHECK_FALSE(decode_response(byte_buffer(11, 0)));
  CHECK(describe_result(3).find("network failure") != std::string::npos);
}

TEST_CASE("[natpmp] the public address, then the mappings, one request at a time; renewed at half the lifetime", "[natpmp]") {
  natpmp_client c;
  c.map(protocol::tcp, 6881, at(0s));
  c.map(protocol::udp, 6881, at(0s));
  c.map(protocol::tcp, 6881, at(0s));  // again: nothing more
  auto out = drain(c);
  REQUIRE(only<send>(out).size() == 1);
  CHECK(only<send>(out)[0].bytes == encode_address_request());

  c.received(address_answer(0, 100, {1, 2, 3, 4}), at(10ms));
  out = drain(c);
  REQUIRE(only<public_address>(out).size() == 1);
  CHECK(only<public_address>(out)[0].address == std::array<std::uint8_t, 4>{1, 2, 3, 4});
  REQUIRE(only<send>(out).size() == 1);
  CHECK(only<send>(out)[0].bytes == encode_map_request(protocol::tcp, 6881, 6881, 7200));

  // An answer for another port, or to another question, is not this one's.
  c.received(map_answer(protocol::tcp, 0, 100, 6882, 6882, 7200), at(20ms));
  c.received(map_answer(protocol::udp, 0, 100, 6881, 6881, 7200), at(20ms));
  CHECK(drain(c).empty());

  c.received(map_answer(protocol::tcp, 0, 100, 6881, 40001, 3600), at(20ms));  // the gateway picks the port and lifetime
  out = drain(c);
  REQUIRE(only<mapped>(out).size() == 1);
  CHECK(only<mapped>(out)[0].external_port == 40001);
  CHECK(only<mapped>(out)[0].lifetime == 3600);
  CHECK_FALSE(only<mapped>(out)[0].renewal);
  REQUIRE(only<send>(out).size() == 1);
  CHECK(only<send>(out)[0].bytes == encode_map_request(protocol::udp, 6881, 6881, 7200));
  c.received(map_answer(protocol::udp, 0, 100, 6881, 6881, 7200), at(30ms));
  CHECK(only<mapped>(drain(c)).size() == 1);
  CHECK(c.mappings().size() == 2);

  // Renewals: the TCP mapping at half its 3600 s.
  REQUIRE(c.next_deadline());
  CHECK(*c.next_deadline() == at(20ms) + 1800s);
  c.on_timer(at(20ms + 1800s));
  out = drain(c);
  REQUIRE(only<send>(out).size() == 1);
  CHECK(only<send>(out)[0].bytes == encode_map_request(protocol::tcp, 6881, 6881, 7200));
  c.received(map_answer(protocol::tcp, 0, 100 + 1800, 6881, 40001, 3600), at(1801s));
  out = drain(c);
  REQUIRE(only<mapped>(out).size() == 1);
  CHECK(only<mapped>(out)[0].renewal);
}

TEST_CASE("[natpmp] retransmissions: 250 ms doubling, nine sends, then the mappings fail", "[natpmp]") {
  natpmp_client c;
  c.map(protocol::tcp, 6881, at(0s));
  CHECK(only<send>(drain(c)).size() == 1);
  duration wait = 250ms, t = 0ms;
  for (int i = 1; i < 9; ++i) {
    t += wait;
    REQUIRE(c.next_deadline() == at(t));
    c.on_timer(at(t));
    CHECK(only<send>(drain(c)).size() == 1);
    wait *= 2;
  }
  t += wait;
  c.on_timer(at(t));
  const auto out = drain(c);
  CHECK(only<send>(out).empty());
  REQUIRE(only<failed>(out).size() == 1);
  CHECK(only<failed>(out)[0].address);
  CHECK_FALSE(only<failed>(out)[0].result);
  CHECK(c.mappings().empty());
  CHECK_FALSE(c.next_deadline());
}

TEST_CASE("[natpmp] a refusal fails that mapping with the gateway's reason", "[natpmp]") {
  natpmp_client c;
  asking(c, 6881);
  c.received(map_answer(protocol::tcp, 2, 5, 6881, 0, 0), at(2ms));
  const auto f = only<failed>(drain(c));
  REQUIRE(f.size() == 1);
  CHECK(f[0].result == std::optional<std::uint16_t>(2));
  CHECK(f[0].reason.find("refused") != std::string::npos);
  CHECK(c.mappings().empty());
}

TEST_CASE("[natpmp] a gateway that restarted (its epoch went back) gets every mapping again", "[natpmp]") {
  natpmp_client c;
  c.map(protocol::tcp, 1000, at(0s));
  c.map(protocol::udp, 2000, at(0s));
  drain(c);
  c.received(address_answer(0, 5000, {1, 2, 3, 4}), at(0s));
  drain(c);
  c.received(map_answer(protocol::tcp, 0, 5000, 1000, 1000, 7200), at(0s));
  drain(c);
  c.received(map_answer(protocol::udp, 0, 5000, 2000, 2000, 7200), at(0s));
  drain(c);
  // An hour later the TCP mapping is renewed; the gateway's epoch says it has been up 10 s.
  c.on_timer(at(3600s));
  drain(c);
  c.received(map_answer(protocol::tcp, 0, 10, 1000, 1000, 7200), at(3600s));
  const auto out = drain(c);
  REQUIRE(only<send>(out).size() == 1);  // the UDP mapping, asked for again
  CHECK(only<send>(out)[0].bytes == encode_map_request(protocol::udp, 2000, 2000, 7200));
}

TEST_CASE("[natpmp] unmap_all deletes what was granted (lifetime 0), and what the request in flight gets granted", "[natpmp]") {
  natpmp_client c;
  c.map(protocol::tcp, 6881, at(0s));
  c.map(protocol::udp, 6881, at(0s));
  c.map(protocol::tcp, 7000, at(0s));
  drain(c);
  c.received(address_answer(0, 5, {1, 2, 3, 4}), at(0s));
  drain(c);
  c.received(map_answer(protocol::tcp, 0, 5, 6881, 6881, 7200), at(0s));
  drain(c);  // the UDP request is in flight; TCP 7000's was not sent
  c.unmap_all(at(1s));
  CHECK(drain(c).empty());  // one request at a time: the UDP one is still awaited
  CHECK_FALSE(c.settled());
  CHECK(c.mappings().size() == 2);  // TCP 7000, never asked, is dropped

  // The gateway grants it after all: it is deleted in turn, after the TCP mapping.
  c.received(map_answer(protocol::udp, 0, 6, 6881, 6881, 7200), at(1s));
  auto out = drain(c);
  REQUIRE(only<mapped>(out).size() == 1);
  REQUIRE(only<send>(out).size() == 1);
  CHECK(only<send>(out)[0].bytes == encode_map_request(protocol::tcp, 6881, 6881, 0));
  c.received(map_answer(protocol::tcp, 0, 6, 6881, 6881, 7200), at(1s));  // not the deletion's answer
  CHECK(drain(c).empty());
  c.received(map_answer(protocol::tcp, 0, 6, 6881, 0, 0), at(1s));
  out = drain(c);
  REQUIRE(only<unmapped>(out).size() == 1);
  REQUIRE(only<send>(out).size() == 1);
  CHECK(only<send>(out)[0].bytes == encode_map_request(protocol::udp, 6881, 6881, 0));
  CHECK_FALSE(c.settled());
  c.received(map_answer(protocol::udp, 0, 6, 6881, 0, 0), at(1s));
  CHECK(only<unmapped>(drain(c)).size() == 1);
  CHECK(c.settled());
  CHECK(c.mappings().empty());
  CHECK_FALSE(c.next_deadline());
}

TEST_CASE("[natpmp] unmap_all: a request in flight that is never answered settles when it fails; a renewal in flight is deleted", "[natpmp]") {
  natpmp_client c;
  asking(c, 6881);
  SECTION("never answered") {
    c.unmap_all(at(0s));
    CHECK_FALSE(c.settled());
    for (int i = 0; i < 20 && c.next_deadline(); ++i) c.on_timer(*c.next_deadline());
    CHECK(only<failed>(drain(c)).size() == 1);
    CHECK(c.settled());
  }
  SECTION("a renewal in flight") {
    c.received(map_answer(protocol::tcp, 0, 5, 6881, 6881, 7200), at(0s));
    drain(c);
    c.on_timer(at(3600s));
    CHECK(only<send>(drain(c)).size() == 1);  // the renewal
    c.unmap_all(at(3600s));
    CHECK(drain(c).empty());  // not deleted twice: once the renewal is answered
    SECTION("answered") { c.received(map_answer(protocol::tcp, 0, 3605, 6881, 6881, 7200), at(3600s)); }
    SECTION("not answered") {
      for (int i = 0; i < 9; ++i) c.on_timer(*c.next_deadline());
    }
    const auto sends = only<send>(drain(c));  // retransmissions of the renewal, then the deletion
    REQUIRE_FALSE(sends.empty());
    CHECK(sends.back().bytes == encode_map_request(protocol::tcp, 6881, 6881, 0));
    c.received(map_answer(protocol::tcp, 0, 3605, 6881, 0, 0), at(3601s));
    CHECK(only<unmapped>(drain(c)).size() == 1);
    CHECK(c.settled());
  }
}
