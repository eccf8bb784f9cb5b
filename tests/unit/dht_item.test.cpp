// BEP 44 items: the BEP's test vectors, the KRPC messages, what a node stores for others
// and the get and put operations between a few nodes.
#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.hpp"
#include "base/ed25519.hpp"
#include "dht/dht.hpp"
#include "hex_array.hpp"
#include "outputs.hpp"

using namespace wt;
using namespace wt::dht;
using namespace std::chrono_literals;
using wt::test::drain;
using wt::test::from_hex_array;
using wt::test::only;

namespace {

time_point at(duration d) { return time_point{} + d; }

byte_buffer bytes_of(std::string_view text) { return byte_buffer(text.begin(), text.end()); }
std::string text_of_bytes(byte_view b) { return std::string(as_chars(b)); }

// An Ed25519 key from a 32-byte seed, as a BEP 44 publisher holds it.
struct signer {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, &EVP_PKEY_free};
  public_key pub{};

  explicit signer(std::uint8_t fill) {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(fill);
    key.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
    REQUIRE(key);
    std::size_t size = pub.size();
    REQUIRE(EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &size) == 1);
  }

  item sign(std::string_view value, std::int64_t seq, std::string_view salt = {}) const {
    item it;
    it.value = bytes_of(value);
    it.key = pub;
    it.salt = bytes_of(salt);
    it.seq = seq;
    const auto message = signature_data(it.salt, seq, it.value);
    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::size_t size = it.sig.size();
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1);
    REQUIRE(EVP_DigestSign(ctx.get(), it.sig.data(), &size, message.data(), message.size()) == 1);
    return it;
  }
};

item immutable(std::string_view value) {
  item it;
  it.value = bytes_of(value);
  return it;
}

message decoded(const byte_buffer& bytes) {
  auto r = decode(bytes);
  if (const auto* e = std::get_if<krpc_error>(&r)) FAIL(e->message());
  return std::get<message>(r);
}

// A few nodes at 10.0.0.N that pass datagrams to each other until none is left; a node
// can be cut off (its datagrams go nowhere).
struct mesh {
  std::vector<dht_node> nodes;
  std::vector<wire::endpoint> eps;
  std::vector<bool> down;
  std::map<std::size_t, std::vector<dht::output>> outputs;  // what each node gave, sends aside

  explicit mesh(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      settings s;
      s.seed = 100 + i;
      nodes.emplace_back(s);
      eps.push_back(wire::make_endpoint_v4({10, 0, 0, static_cast<std::uint8_t>(i + 1)}, 6881));
      down.push_back(false);
    }
  }

  void run(time_point now) {
    for (bool busy = true; busy;) {
      busy = false;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        while (auto out = nodes[i].poll()) {
          busy = true;
          const auto* s = std::get_if<send>(&*out);
          if (!s) {
            outputs[i].push_back(std::move(*out));
            continue;
          }
          for (std::size_t j = 0; j < nodes.size(); ++j)
            if (eps[j] == s->to && !down[j] && !down[i]) nodes[j].udp_received(eps[i], s->bytes, now);
        }
      }
    }
  }

  // Everyone bootstraps from node 0.
  void join(time_point now) {
    for (std::size_t i = 1; i < nodes.size(); ++i) {
      const std::vector<wire::endpoint> router{eps[0]};
      nodes[i].bootstrap(router, now);
      run(now);
    }
  }

  template <class T>
  std::vector<T> taken(std::size_t i) {
    auto out = only<T>(outputs[i]);
    outputs[i].clear();
    return out;
  }
  // The get_item lookups node i finished since the last call.
  std::vector<lookup_finished> gets(std::size_t i) {
    std::vector<lookup_finished> out;
    for (auto& done : taken<lookup_finished>(i))
      if (done.kind == lookup_kind::get_item) out.push_back(std::move(done));
    return out;
  }
};

}  // namespace

TEST_CASE("[dht_item] the BEP's test vectors", "[dht_item]") {
  const auto pub = from_hex_array<32>("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548");
  const auto value = bytes_of("12:Hello World!");

  SECTION("mutable, no salt") {
    CHECK(text_of_bytes(signature_data({}, 1, value)) == "3:seqi1e1:v12:Hello World!");
    CHECK(to_hex(mutable_target(pub, {})) == "4a533d47ec9c7d95b1ad75f576cffc641853b750");
    const auto sig = from_hex_array<64>(
        "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff"
        "1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01");
    CHECK(ed25519_verify(pub, sig, signature_data({}, 1, value)));
    CHECK_FALSE(ed25519_verify(pub, sig, signature_data({}, 2, value)));
    item it{value, pub, {}, 1, sig};
    CHECK_FALSE(check_item(it));
    it.sig[10] ^= 1;
    REQUIRE(check_item(it));
    CHECK(check_item(it)->code == error_invalid_signature);
  }
  SECTION("mutable, salt \"foobar\"") {
    const auto salt = bytes_of("foobar");
    CHECK(text_of_bytes(signature_data(salt, 1, value)) == "4:salt6:foobar3:seqi1e1:v12:Hello World!");
    CHECK(to_hex(mutable_target(pub, salt)) == "411eba73b6f087ca51a3795d9c8c938d365e32c1");
    const auto sig = from_hex_array<64>(
        "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d"
        "df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08");
    item it{value, pub, salt, 1, sig};
    CHECK_FALSE(check_item(it));
    CHECK(to_hex(item_target(it)) == "411eba73b6f087ca51a3795d9c8c938d365e32c1");
    // The answer to a get carries no salt: the getter's is used to check it.
    item answered = it;
    answered.salt.clear();
    CHECK(item_matches(answered, item_target(it), salt));
    answered.salt.clear();
    CHECK_FALSE(item_matches(answered, item_target(it), {}));
  }
  SECTION("immutable") {
    CHECK(to_hex(item_target(immutable("12:Hello World!"))) == "e5f96f6f38320f0f33959cb4d3d656452117aadb");
    item it = immutable("12:Hello World!");
    CHECK(item_matches(it, item_target(it), {}));
    CHECK_FALSE(item_matches(it, mutable_target(pub, {}), {}));
  }
}

TEST_CASE("[dht_item] what may be put", "[dht_item]") {
  const signer alice(1);
  CHECK_FALSE(check_item(immutable("li1ei2ee")));
  CHECK(check_item(immutable("3:ab"))->code == error_protocol);  // not bencode
  CHECK(check_item(immutable(""))->code == error_protocol);
  const std::string biggest = "996:" + std::string(996, 'x');  // 1,000 bytes
  CHECK_FALSE(check_item(immutable(biggest)));
  REQUIRE(check_item(immutable("997:" + std::string(997, 'x'))));
  CHECK(check_item(immutable("997:" + std::string(997, 'x')))->code == error_value_too_big);
  CHECK_FALSE(check_item(alice.sign("1:a", 1, std::string(64, 's'))));
  CHECK(check_item(alice.sign("1:a", 1, std::string(65, 's')))->code == error_salt_too_big);
  CHECK(check_item(alice.sign("1:a", -1))->code == error_protocol);
  item forged = alice.sign("1:a", 1);
  forged.value = bytes_of("1:b");
  CHECK(check_item(forged)->code == error_invalid_signature);
  forged = alice.sign("1:a", 1);
  forged.key = signer(2).pub;
  CHECK(check_item(forged)->code == error_invalid_signature);
}

TEST_CASE("[dht_item] KRPC get and put round trips", "[dht_item]") {
  const signer alice(1);
  message m;
  m.transaction_id = bytes_of("aa");
  query q;
  q.kind = method::put;
  q.name = "put";
  q.id.fill(7);
  q.token = bytes_of("tok");
  q.put = alice.sign("d1:ai1e1:bl1:xee", 5, "salty");
  q.cas = 4;
  m.body = q;
  auto back = decoded(encode(m));
  CHECK(back.body == m.body);
  // The value goes out as its author encoded it, inside the message.
  CHECK(text_of_bytes(encode(m)).find("1:vd1:ai1e1:bl1:xee") != std::string::npos);

  query get;
  get.kind = method::get;
  get.name = "get";
  get.id.fill(7);
  get.target.fill(9);
  get.seq = 3;
  m.body = get;
  CHECK(decoded(encode(m)).body == m.body);

  response r;
  r.id.fill(8);
  r.token = bytes_of("tok");
  item stored = alice.sign("i42e", 6);
  stored.salt.clear();
  r.stored = stored;
  m.body = r;
  CHECK(decoded(encode(m)).body == m.body);

  // A mutable item needs its signature and seq; sizes are checked.
  const auto refused = [](std::string_view text) {
    auto d = decode(as_bytes(text));
    REQUIRE(std::holds_alternative<krpc_error>(d));
    return std::get<krpc_error>(d);
  };
  const std::string id = "2:id20:abcdefghij0123456789";
  const std::string k = "1:k32:" + std::string(32, 'k');
  CHECK(refused("d1:ad" + id + k + "5:token3:tok1:v1:xe1:q3:put1:t2:aa1:y1:qe").field == "a.sig");
  CHECK(refused("d1:ad" + id + "1:k3:abc5:token3:tok1:v1:xe1:q3:put1:t2:aa1:y1:qe").field == "a.k");
  CHECK(refused("d1:ad" + id + "5:token3:toke1:q3:put1:t2:aa1:y1:qe").field == "a.v");
  CHECK(refused("d1:ad" + id + "1:v1:xe1:q3:put1:t2:aa1:y1:qe").field == "a.token");
  CHECK(refused("d1:ad" + id + "e1:q3:get1:t2:aa1:y1:qe").field == "a.target");
  CHECK(refused("d1:rd" + id + "3:sig3:abc1:v1:xe1:t2:aa1:y1:re").field == "r.sig");
}

TEST_CASE("[dht_item] a node stores what is put with its token and answers get with it", "[dht_item]") {
  settings s;
  s.seed = 3;
  dht_node node(s);
  const auto querier = wire::make_endpoint_v4({10, 0, 0, 7}, 7000);
  const signer alice(1);
  std::uint8_t tid = 0;

  const auto ask = [&](query q, time_point now, const wire::endpoint& from) {
    q.id.fill(0x55);
    message m;
    m.transaction_id = {'q', ++tid};
    m.body = std::move(q);
    node.udp_received(from, encode(m), now);
    for (const auto& out : only<send>(drain(node)))
      if (out.to == from && decoded(out.bytes).transaction_id == m.transaction_id) return decoded(out.bytes).body;
    FAIL("no answer");
    return message{}.body;
  };
  const auto get = [&](const node_id& target, time_point now, std::optional<std::int64_t> seq = std::nullopt) {
    query q;
    q.kind = method::get;
    q.target = target;
    q.seq = seq;
    return std::get<response>(ask(q, now, querier));
  };
  const auto put = [&](const item& it, const byte_buffer& token, time_point now,
                       std::optional<std::int64_t> cas = std::nullopt, const wire::endpoint* from = nullptr) {
    query q;
    q.kind = method::put;
    q.token = token;
    q.put = it;
    q.cas = cas;
    return ask(q, now, from ? *from : querier);
  };
  const auto error_code = [](const auto& body) {
    REQUIRE(std::holds_alternative<error_reply>(body));
    return std::get<error_reply>(body).code;
  };

  const item hello = immutable("5:hello");
  auto answer = get(item_target(hello), at(1s));
  REQUIRE(answer.token);
  CHECK_FALSE(answer.stored);
  const auto token = *answer.token;

  CHECK(std::holds_alternative<response>(put(hello, token, at(2s))));
  answer = get(item_target(hello), at(3s));
  REQUIRE(answer.stored);
  CHECK(*answer.stored == hello);
  CHECK(node.items().size() == 1);

  SECTION("a bad token, a forged or oversized item are refused and not stored") {
    const auto other = wire::make_endpoint_v4({10, 0, 0, 8}, 7000);
    CHECK(error_code(put(immutable("3:new"), token, at(4s), std::nullopt, &other)) == error_protocol);
    item forged = alice.sign("1:a", 1);
    forged.seq = 2;
    CHECK(error_code(put(forged, token, at(4s))) == error_invalid_signature);
    CHECK(error_code(put(immutable("1001:" + std::string(1001, 'x')), token, at(4s))) == error_value_too_big);
    CHECK(error_code(put(alice.sign("1:a", 1, std::string(65, 's')), token, at(4s))) == error_salt_too_big);
    CHECK(node.items().size() == 1);
    CHECK(node.counters().bad_tokens == 1);
  }
  SECTION("a mutable item: a higher seq replaces it; a lower one, another value at the same seq or a wrong cas do not") {
    const item v1 = alice.sign("2:v1", 1, "salt");
    const node_id target = item_target(v1);
    CHECK(std::holds_alternative<response>(put(v1, token, at(4s))));
    answer = get(target, at(4s));
    REQUIRE(answer.stored);
    CHECK(answer.stored->seq == 1);
    CHECK(answer.stored->salt.empty());  // the getter knows it
    CHECK(answer.stored->key == alice.pub);

    CHECK(std::holds_alternative<response>(put(v1, token, at(5s))));  // the same again: refreshed
    CHECK(error_code(put(alice.sign("2:v0", 0, "salt"), token, at(5s))) == error_sequence);
    CHECK(error_code(put(alice.sign("2:vX", 1, "salt"), token, at(5s))) == error_sequence);
    CHECK(error_code(put(alice.sign("2:v3", 3, "salt"), token, at(5s), 0)) == error_cas_mismatch);
    CHECK(std::holds_alternative<response>(put(alice.sign("2:v3", 3, "salt"), token, at(5s), 1)));
    answer = get(target, at(6s));
    REQUIRE(answer.stored);
    CHECK(text_of_bytes(answer.stored->value) == "2:v3");
    // get with seq: the value only when newer than the getter's.
    CHECK_FALSE(get(target, at(6s), 3).stored);
    CHECK(get(target, at(6s), 2).stored);
  }
  SECTION("signatures are checked at most 50 a second after a burst of 20: more puts get 202") {
    for (int seq = 1; seq <= 20; ++seq)
      CHECK(std::holds_alternative<response>(put(alice.sign("1:x", seq), token, at(4s))));
    CHECK(error_code(put(alice.sign("1:x", 21), token, at(4s))) == error_server);
    CHECK(std::holds_alternative<response>(put(immutable("3:imm"), token, at(4s))));  // nothing to check
    CHECK(std::holds_alternative<response>(put(alice.sign("1:x", 21), token, at(4s) + 20ms)));
  }
  SECTION("items live two hours unless put again") {
    CHECK(get(item_target(hello), at(2s + 119min)).stored);
    CHECK_FALSE(get(item_target(hello), at(2s + 120min)).stored);
  }
}

TEST_CASE("[dht_item] the store is bounded: a full store drops its oldest item", "[dht_item]") {
  item_store_settings limits;
  limits.max_items = 3;
  item_store store(limits);
  for (int i = 0; i < 5; ++i) CHECK_FALSE(store.put(immutable("i" + std::to_string(i) + "e"), std::nullopt, at(std::chrono::seconds(i))));
  CHECK(store.size() == 3);
  CHECK_FALSE(store.get(item_target(immutable("i0e")), at(10s)));
  CHECK_FALSE(store.get(item_target(immutable("i1e")), at(10s)));
  CHECK(store.get(item_target(immutable("i4e")), at(10s)));
}

TEST_CASE("[dht_item] put and get between nodes", "[dht_item]") {
  mesh net(12);
  net.join(at(0s));
  const signer alice(1);
  constexpr std::size_t writer = 5, reader = 9;

  SECTION("immutable: put reaches the closest nodes, get finds it from another node") {
    const item it = immutable("l5:hello5:worlde");
    const auto put = net.nodes[writer].put_item(it, std::nullopt, at(1s));
    REQUIRE(std::holds_alternative<lookup_id>(put));
    net.run(at(1s));
    const auto done = net.taken<put_finished>(writer);
    REQUIRE(done.size() == 1);
    CHECK(done[0].lookup == std::get<lookup_id>(put));
    CHECK(done[0].target == item_target(it));
    CHECK(done[0].sent >= 8);
    CHECK(done[0].stored == done[0].sent);
    CHECK_FALSE(done[0].error);

    REQUIRE(net.nodes[reader].get_item(item_target(it), {}, true, at(2s)));
    net.run(at(2s));
    auto found = net.gets(reader);
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == lookup_kind::get_item);
    REQUIRE(found[0].found);
    CHECK(*found[0].found == it);
    CHECK(found[0].found_from != node_id{});

    // The reader has no copy of its own: the same get with the writer cut off still works
    // (others stored it), and the writer answers from its own store without a lookup.
    net.down[writer] = true;
    REQUIRE(net.nodes[reader].get_item(item_target(it), {}, true, at(3s)));
    net.run(at(3s));
    found = net.gets(reader);
    REQUIRE(found.size() == 1);
    CHECK(found[0].found);
    REQUIRE(net.nodes[writer].get_item(item_target(it), {}, true, at(3s)));
    found = only<lookup_finished>(drain(net.nodes[writer]));
    REQUIRE(found.size() == 1);
    CHECK(found[0].queried == 0);
    CHECK(found[0].found_from == net.nodes[writer].id());
  }
  SECTION("mutable: the highest seq wins, with the getter's salt; a stale put gets 302") {
    const item v1 = alice.sign("2:v1", 1, "name");
    REQUIRE(std::holds_alternative<lookup_id>(net.nodes[writer].put_item(v1, std::nullopt, at(1s))));
    net.run(at(1s));
    REQUIRE(net.taken<put_finished>(writer).at(0).stored >= 8);
    const item v2 = alice.sign("2:v2", 2, "name");
    REQUIRE(std::holds_alternative<lookup_id>(net.nodes[3].put_item(v2, 1, at(2s))));
    net.run(at(2s));
    REQUIRE(net.taken<put_finished>(3).at(0).stored >= 8);

    REQUIRE(net.nodes[reader].get_item(item_target(v1), bytes_of("name"), true, at(3s)));
    net.run(at(3s));
    auto found = net.gets(reader);
    REQUIRE(found.size() == 1);
    REQUIRE(found[0].found);
    CHECK(found[0].found->seq == 2);
    CHECK(text_of_bytes(found[0].found->value) == "2:v2");
    CHECK(found[0].found->salt == bytes_of("name"));

    // Without the salt the answers do not check: nothing is found.
    REQUIRE(net.nodes[reader].get_item(item_target(v1), {}, true, at(4s)));
    net.run(at(4s));
    CHECK_FALSE(net.gets(reader).at(0).found);

    // The writer's v1 again: refused everywhere with 302 (its own store keeps v2 too).
    REQUIRE(std::holds_alternative<lookup_id>(net.nodes[writer].put_item(v1, std::nullopt, at(5s))));
    net.run(at(5s));
    const auto stale = net.taken<put_finished>(writer).at(0);
    CHECK(stale.stored == 0);
    REQUIRE(stale.error);
    CHECK(stale.error->code == error_sequence);
  }
  SECTION("a put whose nodes do not answer ends once their queries time out") {
    const item it = immutable("4:lost");
    // The writer learns its closest nodes, then they all go away.
    REQUIRE(std::holds_alternative<lookup_id>(net.nodes[writer].put_item(it, std::nullopt, at(1s))));
    net.run(at(1s));
    REQUIRE(net.taken<put_finished>(writer).at(0).stored > 0);
    for (std::size_t i = 0; i < net.nodes.size(); ++i) net.down[i] = i != writer;
    REQUIRE(std::holds_alternative<lookup_id>(net.nodes[writer].put_item(immutable("5:lost2"), std::nullopt, at(2s))));
    net.run(at(2s));
    for (int t = 3; t < 30; ++t) {
      net.nodes[writer].on_timer(at(std::chrono::seconds(t)));
      net.run(at(std::chrono::seconds(t)));
    }
    const auto done = net.taken<put_finished>(writer);
    REQUIRE(done.size() == 1);
    CHECK(done[0].sent == 0);
    CHECK(done[0].stored == 0);
  }
  SECTION("put refuses what check_item refuses, before sending anything") {
    item forged = alice.sign("1:a", 1);
    forged.seq = 9;
    const auto refused = net.nodes[writer].put_item(forged, std::nullopt, at(1s));
    REQUIRE(std::holds_alternative<error_reply>(refused));
    CHECK(std::get<error_reply>(refused).code == error_invalid_signature);
    CHECK(drain(net.nodes[writer]).empty());
  }
}

// BEP 5 in the same mesh: bittorrent-dht's one-shot announce and an app's lookup.
TEST_CASE("[dht_item] announce_once announces once; a get_peers lookup counts the answers with peers", "[dht_item]") {
  mesh net(12);
  net.join(at(0s));
  node_id info_hash{};
  info_hash.fill(0x42);
  REQUIRE(net.nodes[2].announce_once(info_hash, 7000, false, at(1s)));
  net.run(at(1s));
  std::vector<lookup_finished> announced;
  for (auto& done : net.taken<lookup_finished>(2))
    if (done.kind == lookup_kind::announce) announced.push_back(done);
  REQUIRE(announced.size() == 1);
  CHECK(announced[0].kind == lookup_kind::announce);
  CHECK(announced[0].announced_to >= 8);

  REQUIRE(net.nodes[9].get_peers(info_hash, at(2s)));
  net.run(at(2s));
  const auto outputs = std::exchange(net.outputs[9], {});
  bool found = false;
  for (const auto& p : only<peers_found>(outputs))
    for (const auto& peer : p.peers) found = found || peer == wire::make_endpoint_v4({10, 0, 0, 3}, 7000);
  CHECK(found);
  std::vector<lookup_finished> looked;
  for (auto& done : only<lookup_finished>(outputs))
    if (done.kind == lookup_kind::get_peers) looked.push_back(done);
  REQUIRE(looked.size() == 1);
  CHECK(looked[0].nodes_with_peers >= 1);
  CHECK(looked[0].nodes_with_peers <= looked[0].answered);

  // Not repeated: no get_peers for it from node 2 after the announce interval.
  net.nodes[2].on_timer(at(20min));
  bool asked = false;
  while (auto out = net.nodes[2].poll())
    if (const auto* s = std::get_if<send>(&*out)) {
      const auto m = decoded(s->bytes);
      if (const auto* q = std::get_if<query>(&m.body); q && q->kind == method::get_peers && q->target == info_hash)
        asked = true;
    }
  CHECK_FALSE(asked);
}
