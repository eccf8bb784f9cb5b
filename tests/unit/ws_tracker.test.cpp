#include "tracker/ws_tracker.hpp"
#include "outputs.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

using namespace wt;
using namespace wt::ws_tracker;
using namespace std::chrono_literals;
using wt::test::drain;
using wt::test::only;
using nlohmann::json;

namespace {

const std::string url_a = "ws://tracker-a.test/announce";
const std::string url_b = "wss://tracker-b.test";

id20 make_id(std::uint8_t first) {
  id20 id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(first + i * 13);
  return id;
}

const id20 hash1 = make_id(0xF0);  // bytes above 0x7F: two UTF-8 bytes each
const id20 hash2 = make_id(0x01);
const id20 peer_a = make_id(0x80);
const id20 peer_b = make_id(0x40);

time_point at(duration d) { return time_point{} + d; }

std::string bin(const id20& id) { return to_latin1(id); }

torrent_params params(const id20& info_hash, const id20& peer, std::vector<std::string> trackers) {
  torrent_params p;
  p.info_hash = info_hash;
  p.peer_id = peer;
  p.trackers = std::move(trackers);
  p.stats = {100, 200, 300};
  return p;
}

// The host's side for create_offers: one SDP per requested id.
std::vector<created_offer> make_offers(const create_offers& req, const std::string& tag) {
  std::vector<created_offer> offers;
  for (std::size_t i = 0; i < req.offer_ids.size(); ++i) {
    offers.push_back({req.offer_ids[i], "v=0 " + tag + " offer " + std::to_string(i)});
  }
  return offers;
}

// Opens the socket and delivers offers: returns the announce text sent.
json open_and_announce(client& c, const std::string& url, time_point now,
                       const std::string& tag = "x") {
  c.socket_opened(url, now);
  auto out = drain(c);
  auto reqs = only<create_offers>(out);
  REQUIRE(reqs.size() == 1);
  c.offers_created(url, reqs[0].info_hash, make_offers(reqs[0], tag), now);
  auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 1);
  return json::parse(sent[0].text);
}

std::string response(const id20& info_hash, int interval, int complete, int incomplete) {
  json m;
  m["action"] = "announce";
  m["info_hash"] = bin(info_hash);
  m["interval"] = interval;
  m["complete"] = complete;
  m["incomplete"] = incomplete;
  return m.dump();
}

// --- A scripted server that relays like bittorrent-tracker's server.js ----------------

struct fake_server {
  struct member {
    client* c;
    std::string url;
  };
  // info_hash -> peer_id -> the client holding that peer
  std::map<id20, std::map<id20, member>> swarms;

  void receive(client& from, const std::string& url, const std::string& text, time_point now) {
    const json m = json::parse(text);
    REQUIRE(m["info_hash"].is_string());
    if (m["action"] == "scrape") return;
    const id20 ih = *id_from_latin1(m["info_hash"].get<std::string>());
    const id20 pid = *id_from_latin1(m["peer_id"].get<std::string>());
    auto& swarm = swarms[ih];
    if (m.contains("answer")) {
      const id20 to = *id_from_latin1(m["to_peer_id"].get<std::string>());
      json relay;
      relay["action"] = "announce";
      relay["answer"] = m["answer"];
      relay["offer_id"] = m["offer_id"];
      relay["peer_id"] = m["peer_id"];
      relay["info_hash"] = m["info_hash"];
      const auto it = swarm.find(to);
      REQUIRE(it != swarm.end());
      it->second.c->text_received(it->second.url, relay.dump(), now);
      return;
    }
    if (m.value("event", "") == "stopped") {
      swarm.erase(pid);
    } else {
      swarm[pid] = member{&from, url};
    }
    json resp;
    resp["action"] = "announce";
    resp["info_hash"] = m["info_hash"];
    resp["interval"] = 120;
    resp["complete"] = 0;
    resp["incomplete"] = swarm.size();
    from.text_received(url, resp.dump(), now);
    if (!m.contains("offers")) return;
    std::size_t i = 0;
    for (const auto& [other_id, other] : swarm) {
      if (other_id == pid || i >= m["offers"].size()) continue;
      json relay;
      relay["action"] = "announce";
      relay["offer"] = m["offers"][i]["offer"];
      relay["offer_id"] = m["offers"][i]["offer_id"];
      relay["peer_id"] = m["peer_id"];
      relay["info_hash"] = m["info_hash"];
      ++i;
      other.c->text_received(other.url, relay.dump(), now);
    }
  }
};

// Runs one client's outputs the way a host would; records what is not plumbing.
struct host {
  client& c;
  fake_server& server;
  std::string tag;
  std::vector<output> seen;

  // Returns true if anything was done.
  bool step(time_point now) {
    bool any = false;
    while (auto o = c.poll()) {
      any = true;
      if (auto* open = std::get_if<open_socket>(&*o)) {
        c.socket_opened(open->url, now);
      } else if (auto* send = std::get_if<send_text>(&*o)) {
        server.receive(c, send->url, send->text, now);
      } else if (auto* req = std::get_if<create_offers>(&*o)) {
        c.offers_created(req->url, req->info_hash, make_offers(*req, tag), now);
      } else if (auto* off = std::get_if<answer_offer>(&*o)) {
        CHECK(c.answer_created(off->url, off->info_hash, off->peer_id, off->offer_id,
                               "answer by " + tag + " to " + off->sdp));
      }
      seen.push_back(std::move(*o));
    }
    return any;
  }
};

void run(host& a, host& b, time_point now) {
  for (int i = 0; i < 20; ++i) {
    const bool x = a.step(now);
    const bool y = b.step(now);
    if (!x && !y) return;
  }
  FAIL("outputs never settle");
}

}  // namespace

TEST_CASE("[ws_tracker] latin1 conversions", "[ws_tracker]") {
  SECTION("every byte value round-trips, one code point per byte") {
    byte_buffer all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
    const std::string text = to_latin1(all);
    CHECK(text.size() == 128 + 2 * 128);
    auto back = from_latin1(text);
    REQUIRE(back.ok());
    CHECK(*back == all);
    // As JSON, the way JSON.stringify writes a binary string.
    const std::string dumped = json(text).dump();
    CHECK(dumped.substr(0, 8) == "\"\\u0000\\");
    // Byte for byte what node prints for JSON.stringify(String.fromCharCode(0, ..., 255)).
    const std::string from_js =
        "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u0"
        "00b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u001"
        "6\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f !\\\"#"
        "$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefg"
        "hijklmnopqrstuvwxyz{|}~\x7F\xC2\x80\xC2\x81\xC2\x82\xC2\x83\xC2\x84\xC2"
        "\x85\xC2\x86\xC2\x87\xC2\x88\xC2\x89\xC2\x8A\xC2\x8B\xC2\x8C\xC2\x8D\xC2"
        "\x8E\xC2\x8F\xC2\x90\xC2\x91\xC2\x92\xC2\x93\xC2\x94\xC2\x95\xC2\x96\xC2"
        "\x97\xC2\x98\xC2\x99\xC2\x9A\xC2\x9B\xC2\x9C\xC2\x9D\xC2\x9E\xC2\x9F\xC2"
        "\xA0\xC2\xA1\xC2\xA2\xC2\xA3\xC2\xA4\xC2\xA5\xC2\xA6\xC2\xA7\xC2\xA8\xC2"
        "\xA9\xC2\xAA\xC2\xAB\xC2\xAC\xC2\xAD\xC2\xAE\xC2\xAF\xC2\xB0\xC2\xB1\xC2"
        "\xB2\xC2\xB3\xC2\xB4\xC2\xB5\xC2\xB6\xC2\xB7\xC2\xB8\xC2\xB9\xC2\xBA\xC2"
        "\xBB\xC2\xBC\xC2\xBD\xC2\xBE\xC2\xBF\xC3\x80\xC3\x81\xC3\x82\xC3\x83\xC3"
        "\x84\xC3\x85\xC3\x86\xC3\x87\xC3\x88\xC3\x89\xC3\x8A\xC3\x8B\xC3\x8C\xC3"
        "\x8D\xC3\x8E\xC3\x8F\xC3\x90\xC3\x91\xC3\x92\xC3\x93\xC3\x94\xC3\x95\xC3"
        "\x96\xC3\x97\xC3\x98\xC3\x99\xC3\x9A\xC3\x9B\xC3\x9C\xC3\x9D\xC3\x9E\xC3"
        "\x9F\xC3\xA0\xC3\xA1\xC3\xA2\xC3\xA3\xC3\xA4\xC3\xA5\xC3\xA6\xC3\xA7\xC3"
        "\xA8\xC3\xA9\xC3\xAA\xC3\xAB\xC3\xAC\xC3\xAD\xC3\xAE\xC3\xAF\xC3\xB0\xC3"
        "\xB1\xC3\xB2\xC3\xB3\xC3\xB4\xC3\xB5\xC3\xB6\xC3\xB7\xC3\xB8\xC3\xB9\xC3"
        "\xBA\xC3\xBB\xC3\xBC\xC3\xBD\xC3\xBE\xC3\xBF\"";
    CHECK(dumped == from_js);
    auto reparsed = from_latin1(json::parse(dumped).get<std::string>());
    REQUIRE(reparsed.ok());
    CHECK(*reparsed == all);
  }
  SECTION("known encodings") {
    const byte_buffer b{0x00, 0x41, 0x7F, 0x80, 0xE9, 0xFF};
    CHECK(to_latin1(b) == std::string("\x00" "A\x7F\xC2\x80\xC3\xA9\xC3\xBF", 9));
    CHECK(to_latin1(byte_buffer{}).empty());
    CHECK(from_latin1("")->empty());
  }
  SECTION("errors with positions") {
    struct bad_case {
      std::string text;
      errc code;
      std::size_t position;
    };
    const std::vector<bad_case> cases{
        {"ab\xC4\x80", errc::tracker_not_latin1, 2},        // U+0100
        {"\xE2\x82\xAC", errc::tracker_not_latin1, 0},      // euro sign
        {"a\xF0\x9F\x98\x80", errc::tracker_not_latin1, 1}, // emoji
        {"abc\xC3", errc::tracker_bad_utf8, 3},             // truncated
        {"\xC0\x80", errc::tracker_bad_utf8, 0},            // overlong NUL
        {"\xC1\xBF", errc::tracker_bad_utf8, 0},            // overlong
        {"\xE0\x80\x80", errc::tracker_bad_utf8, 0},        // overlong
        {"\xED\xA0\x80", errc::tracker_bad_utf8, 0},        // surrogate
        {"\xF4\x90\x80\x80", errc::tracker_bad_utf8, 0},    // beyond U+10FFFF
        {"x\x80", errc::tracker_bad_utf8, 1},               // lone continuation
        {"\xFF", errc::tracker_bad_utf8, 0},
        {"\xC3\x41", errc::tracker_bad_utf8, 0},            // lead without continuation
        {"\xE2\x82", errc::tracker_bad_utf8, 0},            // truncated wide sequence
    };
    for (const auto& c : cases) {
      INFO(c.text);
      auto r = from_latin1(c.text);
      REQUIRE_FALSE(r.ok());
      CHECK(r.err().code == c.code);
      CHECK(r.err().position == c.position);
    }
  }
  SECTION("ids are exactly 20 bytes") {
    CHECK(*id_from_latin1(bin(hash1)) == hash1);
    CHECK(id_from_latin1(std::string(19, 'a')).err().code == errc::tracker_bad_id_length);
    CHECK(id_from_latin1(std::string(21, 'a')).err().code == errc::tracker_bad_id_length);
    // 20 characters but 40 bytes of UTF-8: still 20 bytes once decoded.
    std::string wide;
    for (int i = 0; i < 20; ++i) wide += "\xC3\xBF";
    CHECK(id_from_latin1(wide).ok());
    CHECK(id_from_latin1(wide + "\xC3\xBF").err().code == errc::tracker_bad_id_length);
    CHECK(id_from_latin1(std::string(19, 'a') + "\xC4\x80").err().code ==
          errc::tracker_not_latin1);
  }
}

TEST_CASE("[ws_tracker] announce JSON as bittorrent-tracker expects", "[ws_tracker]") {
  client c;
  REQUIRE(c.add_torrent(params(hash1, peer_a, {url_a}), at(0s)));
  CHECK_FALSE(c.add_torrent(params(hash1, peer_a, {url_a}), at(0s)));
  auto out = drain(c);
  REQUIRE(out.size() == 1);
  CHECK(std::get<open_socket>(out[0]).url == url_a);
  CHECK(c.next_deadline() == at(30s));  // the connect timeout

  c.socket_opened(url_a, at(1s));
  out = drain(c);
  REQUIRE(out.size() == 1);
  const auto req = std::get<create_offers>(out[0]);
  CHECK(req.url == url_a);
  CHECK(req.info_hash == hash1);
  REQUIRE(req.offer_ids.size() == 5);
  CHECK(c.pending_offers() == 5);
  for (std::size_t i = 1; i < 5; ++i) CHECK(req.offer_ids[i] != req.offer_ids[0]);

  c.offers_created(url_a, hash1, make_offers(req, "a"), at(2s));
  auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].url == url_a);
  const json m = json::parse(sent[0].text);
  CHECK(m.size() == 9);
  CHECK(m["action"] == "announce");
  CHECK(m["event"] == "started");
  // parse-websocket.js: typeof === 'string' && length === 20 (UTF-16 code units).
  REQUIRE(m["info_hash"].is_string());
  CHECK(*id_from_latin1(m["info_hash"].get<std::string>()) == hash1);
  CHECK(*id_from_latin1(m["peer_id"].get<std::string>()) == peer_a);
  CHECK(m["numwant"] == 5);
  CHECK(m["uploaded"] == 100);
  CHECK(m["downloaded"] == 200);
  CHECK(m["left"] == 300);
  REQUIRE(m["offers"].is_array());
  REQUIRE(m["offers"].size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    const auto& o = m["offers"][i];
    CHECK(o.size() == 2);
    CHECK(o["offer"] == json{{"type", "offer"}, {"sdp", "v=0 a offer " + std::to_string(i)}});
    CHECK(*id_from_latin1(o["offer_id"].get<std::string>()) == req.offer_ids[i]);
  }

  SECTION("completed: no offers, only where started") {
    CHECK(c.completed(hash1, at(3s)));
    sent = only<send_text>(drain(c));
    REQUIRE(sent.size() == 1);
    const json done = json::parse(sent[0].text);
    CHECK(done["event"] == "completed");
    CHECK_FALSE(done.contains("offers"));
    CHECK(done["numwant"] == 0);
  }
  SECTION("unknown left is omitted; stats updates are used") {
    c.set_stats(hash1, {7, 8, std::nullopt});
    c.completed(hash1, at(3s));
    const json done = json::parse(only<send_text>(drain(c)).at(0).text);
    CHECK_FALSE(done.contains("left"));
    CHECK(done["uploaded"] == 7);
    CHECK(done["downloaded"] == 8);
  }
  SECTION("tracker id is echoed as trackerid") {
    json r = json::parse(response(hash1, 120, 1, 2));
    r["tracker id"] = "abc";
    c.text_received(url_a, r.dump(), at(3s));
    drain(c);
    c.completed(hash1, at(4s));
    CHECK(json::parse(only<send_text>(drain(c)).at(0).text)["trackerid"] == "abc");
  }
  SECTION("removal: stopped, offers cancelled, socket closed") {
    CHECK(c.remove_torrent(hash1, at(3s)));
    CHECK_FALSE(c.remove_torrent(hash1, at(3s)));
    out = drain(c);
    const auto cancelled = only<offer_cancelled>(out);
    CHECK(cancelled.size() == 5);
    for (const auto& x : cancelled) CHECK(x.reason == cancel_reason::torrent_removed);
    sent = only<send_text>(out);
    REQUIRE(sent.size() == 1);
    const json stop = json::parse(sent[0].text);
    CHECK(stop["event"] == "stopped");
    CHECK_FALSE(stop.contains("offers"));
    CHECK(only<close_socket>(out).empty());  // waits for the reply to "stopped"
    CHECK(c.pending_offers() == 0);
    CHECK(c.next_deadline() == at(4s));
    CHECK_FALSE(c.socket_is_open(url_a));
    SECTION("closed on the reply") {
      c.text_received(url_a, response(hash1, 120, 0, 0), at(3500ms));
      out = drain(c);
      REQUIRE(out.size() == 1);
      CHECK(std::get<close_socket>(out[0]).url == url_a);
    }
    SECTION("closed after the linger without a reply") {
      c.on_timer(at(3999ms));
      CHECK(drain(c).empty());
      c.on_timer(at(4s));
      out = drain(c);
      REQUIRE(out.size() == 1);
      CHECK(std::get<close_socket>(out[0]).url == url_a);
    }
    SECTION("the tracker closes first") {
      c.socket_closed(url_a, at(3500ms));
      CHECK(drain(c).empty());
    }
    SECTION("a torrent added meanwhile reuses the socket") {
      c.add_torrent(params(hash2, peer_a, {url_a}), at(3500ms));
      out = drain(c);
      CHECK(only<open_socket>(out).empty());
      CHECK(only<create_offers>(out).size() == 1);
      CHECK(c.socket_is_open(url_a));
      c.on_timer(at(5s));
      CHECK(only<close_socket>(drain(c)).empty());
    }
    CHECK(c.next_deadline() != at(4s));
  }
  SECTION("scrape request and response") {
    const std::vector<id20> hashes{hash1, hash2};
    CHECK(c.scrape(url_a, hashes));
    CHECK_FALSE(c.scrape(url_b, hashes));
    CHECK_FALSE(c.scrape(url_a, {}));
    const json s = json::parse(only<send_text>(drain(c)).at(0).text);
    CHECK(s["action"] == "scrape");
    REQUIRE(s["info_hash"].size() == 2);
    CHECK(*id_from_latin1(s["info_hash"][1].get<std::string>()) == hash2);

    json r;
    r["action"] = "scrape";
    r["files"][bin(hash1)] = {{"complete", 3}, {"incomplete", 4}, {"downloaded", 5}};
    r["files"][bin(hash2)] = {{"complete", 0}, {"incomplete", 1}, {"downloaded", 0}};
    r["flags"] = {{"min_request_interval", 600}};
    c.text_received(url_a, r.dump(), at(3s));
    out = drain(c);
    const auto results = only<scrape_result>(out);
    REQUIRE(results.size() == 2);
    CHECK(only<warning>(out).empty());
    for (const auto& x : results) {
      if (x.info_hash == hash1) {
        CHECK((x.complete == 3 && x.incomplete == 4 && x.downloaded == 5));
      } else {
        CHECK(x.info_hash == hash2);
        CHECK(x.incomplete == 1);
      }
    }
  }
}

TEST_CASE("[ws_tracker] the host's announce parameters (getAnnounceOpts)", "[ws_tracker]") {
  config cfg;
  int asked = 0;
  cfg.extra_params = [&](const id20& h) {
    ++asked;
    CHECK(h == hash1);
    return wt::tracker::announce_params{{"uploaded", "9", true}, {"passkey", "k\"ey", false}, {"ratio", "1.5e2", true},
                                    {"flag", "false", true}, {"bad", "1x", true}, {"info_hash", "x", false},
                                    {"action", "scrape", false}, {"numwant", "50", true}, {"offers", "[]", true},
                                    {"event", "stopped", false}, {"peer_id", "x", false}};
  };
  client c(cfg);
  REQUIRE(c.add_torrent(params(hash1, peer_a, {url_a}), at(0s)));
  drain(c);
  c.socket_opened(url_a, at(1s));
  const auto req = std::get<create_offers>(drain(c).at(0));
  c.offers_created(url_a, hash1, make_offers(req, "a"), at(2s));
  const auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 1);
  CHECK(asked == 1);
  const json m = json::parse(sent[0].text);
  CHECK(sent[0].text.find("\"ratio\":1.5e2,") != std::string::npos);  // a literal as given; keys sorted
  CHECK(sent[0].text.find("\"passkey\"") < sent[0].text.find("\"peer_id\""));
  CHECK(m["uploaded"] == 9);
  CHECK(m["passkey"] == "k\"ey");
  CHECK(m["ratio"] == 150.0);
  CHECK(m["flag"] == false);
  CHECK(m["bad"] == "1x");  // not a JSON literal: sent as a string
  CHECK(m["action"] == "announce");
  CHECK(m["event"] == "started");
  CHECK(*id_from_latin1(m["info_hash"].get<std::string>()) == hash1);
  CHECK(*id_from_latin1(m["peer_id"].get<std::string>()) == peer_a);
  CHECK(m["numwant"] == 5);
  CHECK(m["offers"].size() == 5);
  // completed: no offers, numwant is the host's too (as bittorrent-tracker's)
  CHECK(c.completed(hash1, at(3s)));
  const json done = json::parse(only<send_text>(drain(c)).at(0).text);
  CHECK(asked == 2);
  CHECK(done["event"] == "completed");
  CHECK(done["numwant"] == 50);
  CHECK_FALSE(done.contains("offers"));
}

TEST_CASE("[ws_tracker] full exchange with a scripted server", "[ws_tracker]") {
  fake_server server;
  client ca({.seed = 1});
  client cb({.seed = 2});
  host a{ca, server, "A", {}};
  host b{cb, server, "B", {}};

  ca.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
  run(a, b, at(0s));
  CHECK(only<announce_result>(a.seen).size() == 1);
  CHECK(only<announce_result>(a.seen)[0].interval == 120s);
  CHECK(only<answer_offer>(a.seen).empty());  // alone in the swarm

  cb.add_torrent(params(hash1, peer_b, {url_a}), at(1s));
  run(a, b, at(1s));
  // B's started announce carried 5 offers; the server relayed one to A (one peer).
  const auto to_a = only<answer_offer>(a.seen);
  REQUIRE(to_a.size() == 1);
  CHECK(to_a[0].peer_id == peer_b);
  CHECK(to_a[0].info_hash == hash1);
  CHECK(to_a[0].sdp == "v=0 B offer 0");
  // A answered with to_peer_id = B; B matched it to its pending offer.
  const auto at_b = only<answer_received>(b.seen);
  REQUIRE(at_b.size() == 1);
  CHECK(at_b[0].peer_id == peer_a);
  CHECK(at_b[0].offer_id == to_a[0].offer_id);
  CHECK(at_b[0].sdp == "answer by A to v=0 B offer 0");
  CHECK(cb.pending_offers() == 4);
  CHECK(only<warning>(a.seen).empty());
  CHECK(only<warning>(b.seen).empty());

  SECTION("the other offers time out after 50 s") {
    cb.on_timer(at(50s));
    CHECK(only<offer_cancelled>(drain(cb)).empty());
    cb.on_timer(at(51s));
    const auto cancelled = only<offer_cancelled>(drain(cb));
    CHECK(cancelled.size() == 4);
    for (const auto& x : cancelled) {
      CHECK(x.reason == cancel_reason::timeout);
      CHECK(x.offer_id != at_b[0].offer_id);
    }
    CHECK(cb.pending_offers() == 0);
    // A late answer for a cancelled offer is a warning.
    json late;
    late["action"] = "announce";
    late["info_hash"] = bin(hash1);
    late["peer_id"] = bin(peer_a);
    late["offer_id"] = bin(cancelled[0].offer_id);
    late["answer"] = {{"type", "answer"}, {"sdp", "late"}};
    cb.text_received(url_a, late.dump(), at(52s));
    const auto w = only<warning>(drain(cb));
    REQUIRE(w.size() == 1);
    CHECK(w[0].err.code == errc::tracker_unknown_offer);
    CHECK(w[0].info_hash == hash1);
  }
  SECTION("re-announce at the interval relays A's offers to B") {
    CHECK(ca.next_deadline() == at(50s));  // A's own pending offers expire first
    a.seen.clear();
    b.seen.clear();
    run(a, b, at(119s));
    ca.on_timer(at(119s));
    cb.on_timer(at(119s));
    run(a, b, at(119s));
    CHECK(only<send_text>(a.seen).empty());
    ca.on_timer(at(120s));
    run(a, b, at(120s));
    const auto announces = only<send_text>(a.seen);
    REQUIRE(announces.size() == 1);
    const json re = json::parse(announces[0].text);
    CHECK_FALSE(re.contains("event"));
    CHECK(re["offers"].size() == 5);
    CHECK(only<answer_offer>(b.seen).size() == 1);
    CHECK(only<answer_received>(a.seen).size() == 1);
  }
}

TEST_CASE("[ws_tracker] interval, min interval and defaults on the virtual clock", "[ws_tracker]") {
  client c({.offers_per_announce = 0});
  c.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
  drain(c);
  c.socket_opened(url_a, at(0s));
  REQUIRE(only<send_text>(drain(c)).size() == 1);  // no offers wanted: sent at once
  CHECK(c.next_deadline() == at(120s));            // default until the tracker says

  const auto reply = [&](const json& m, time_point now) {
    c.text_received(url_a, m.dump(), now);
    return drain(c);
  };
  json r = json::parse(response(hash1, 30, 1, 2));
  auto out = reply(r, at(1s));
  const auto res = only<announce_result>(out);
  REQUIRE(res.size() == 1);
  CHECK(res[0].interval == 30s);
  CHECK(res[0].complete == 1);
  CHECK(res[0].incomplete == 2);
  CHECK(c.next_deadline() == at(31s));
  c.on_timer(at(30s));
  CHECK(drain(c).empty());
  c.on_timer(at(31s));
  auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 1);
  CHECK_FALSE(json::parse(sent[0].text).contains("event"));
  c.on_timer(at(31s));  // idempotent
  CHECK(drain(c).empty());
  CHECK(c.next_deadline() == at(61s));

  r["min interval"] = 90;
  reply(r, at(40s));
  CHECK(c.next_deadline() == at(130s));

  r.erase("min interval");
  r["interval"] = 1;  // below the floor
  reply(r, at(50s));
  CHECK(c.next_deadline() == at(60s));

  r["interval"] = 0;  // ignored, as bittorrent-tracker does
  r.erase("complete");
  r.erase("incomplete");
  out = reply(r, at(55s));
  CHECK(out.empty());
  CHECK(c.next_deadline() == at(60s));

  r["interval"] = 1e12;  // capped at a day
  reply(r, at(55s));
  CHECK(c.next_deadline() == at(55s + 24h));
}

TEST_CASE("[ws_tracker] failure reason and warning message", "[ws_tracker]") {
  client c({.offers_per_announce = 0});
  c.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
  c.socket_opened(url_a, at(0s));
  drain(c);

  json r = json::parse(response(hash1, 120, 1, 1));
  r["warning message"] = "be nice";
  c.text_received(url_a, r.dump(), at(1s));
  auto out = drain(c);
  auto w = only<warning>(out);
  REQUIRE(w.size() == 1);
  CHECK(w[0].err.code == errc::tracker_warning);
  CHECK(w[0].err.context == "be nice");
  CHECK(w[0].info_hash == hash1);
  CHECK(w[0].url == url_a);
  CHECK(only<announce_result>(out).size() == 1);  // a warning does not stop the response

  json f;
  f["action"] = "announce";
  f["failure reason"] = "torrent not allowed";
  f["info_hash"] = bin(hash1);
  c.text_received(url_a, f.dump(), at(2s));
  w = only<warning>(drain(c));
  REQUIRE(w.size() == 1);
  CHECK(w[0].err.code == errc::tracker_failure);
  CHECK(w[0].err.context == "torrent not allowed");

  // What bittorrent-tracker sends when it cannot parse a request at all.
  c.text_received(url_a, R"({"failure reason":"invalid info_hash"})", at(3s));
  w = only<warning>(drain(c));
  REQUIRE(w.size() == 1);
  CHECK(w[0].err.code == errc::tracker_failure);
  CHECK(w[0].err.context == "invalid info_hash");
  CHECK_FALSE(w[0].info_hash.has_value());

  // Long tracker texts are cut.
  f["failure reason"] = std::string(10000, 'x');
  c.text_received(url_a, f.dump(), at(4s));
  w = only<warning>(drain(c));
  REQUIRE(w.size() == 1);
  CHECK(w[0].err.context.size() == 256);
}

TEST_CASE("[ws_tracker] malformed messages produce warnings, never exceptions", "[ws_tracker]") {
  client c({.max_message_size = 4096});
  c.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
  drain(c);
  (void)open_and_announce(c, url_a, at(0s));

  const std::string ih = json(bin(hash1)).dump();
  const std::string pb = json(bin(peer_b)).dump();
  const std::string oid = json(bin(make_id(7))).dump();
  struct bad_case {
    std::string text;
    errc code;
  };
  const std::vector<bad_case> cases{
      {R"({"action":"announce","info_hash":)" + ih.substr(0, 5), errc::tracker_bad_json},
      {"", errc::tracker_bad_json},
      {"[1,2,3]", errc::tracker_bad_json},
      {"\"announce\"", errc::tracker_bad_json},
      {"{\"action\":\"announce\"} trailing", errc::tracker_bad_json},
      {"{\"action\":\"\xC3\"}", errc::tracker_bad_json},  // invalid UTF-8
      {"{}", errc::tracker_unknown_action},
      {R"({"action":7})", errc::tracker_unknown_action},
      {R"({"action":"connect"})", errc::tracker_unknown_action},
      {R"({"action":"announce"})", errc::tracker_missing_field},
      {R"({"action":"announce","info_hash":12})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":"short"})", errc::tracker_bad_id_length},
      {R"({"action":"announce","info_hash":"\u0100aaaaaaaaaaaaaaaaaaa"})", errc::tracker_not_latin1},
      {R"({"action":"announce","info_hash":"\ud83d\ude00aaaaaaaaaaaaaaaaaaa"})", errc::tracker_not_latin1},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"interval":"120"})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"interval":-5})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"interval":1e400})", errc::tracker_bad_json},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"interval":1e300})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"complete":18446744073709551616})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"complete":9007199254740993})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"incomplete":[1]})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"failure reason":{"a":1}})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"warning message":3})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"tracker id":[]})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":5})", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"offer":{"sdp":"x"},"offer_id":)" + oid + "}", errc::tracker_missing_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":)" + pb + R"(,"offer":{"sdp":"x"}})", errc::tracker_missing_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":)" + pb + R"(,"offer":{"sdp":"x"},"offer_id":"abc"})", errc::tracker_bad_id_length},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":)" + pb + R"(,"offer":{"sdp":5},"offer_id":)" + oid + "}", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":)" + pb + R"(,"offer":"sdp","offer_id":)" + oid + "}", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":)" + pb + R"(,"offer":{"type":"answer","sdp":"x"},"offer_id":)" + oid + "}", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":)" + pb + R"(,"answer":{"type":"answer"},"offer_id":)" + oid + "}", errc::tracker_bad_field},
      {R"({"action":"announce","info_hash":)" + ih + R"(,"peer_id":)" + pb + R"(,"answer":{"type":"answer","sdp":"x"},"offer_id":)" + oid + "}", errc::tracker_unknown_offer},
      {R"({"action":"scrape"})", errc::tracker_missing_field},
      {R"({"action":"scrape","files":[]})", errc::tracker_bad_field},
      {R"({"action":"scrape","files":{}})", errc::tracker_bad_field},
      {R"({"action":"scrape","files":{"abc":{"complete":1}}})", errc::tracker_bad_id_length},
      {R"({"action":"scrape","files":{)" + ih + R"(:{"complete":-1}}})", errc::tracker_bad_field},
      {R"({"action":"scrape","files":{)" + ih + R"(:7}})", errc::tracker_bad_field},
      {R"({"action":"scrape","failure reason":"no scrape"})", errc::tracker_failure},
      {std::string(20, '[') + std::string(20, ']'), errc::tracker_depth_exceeded},
      {std::string(5000, ' '), errc::tracker_message_too_large},
  };
  for (const auto& bc : cases) {
    INFO(bc.text.substr(0, 200));
    c.text_received(url_a, bc.text, at(1s));
    const auto out = drain(c);
    const auto w = only<warning>(out);
    REQUIRE(w.size() == 1);
    CHECK(w[0].err.code == bc.code);
    CHECK(w[0].url == url_a);
    CHECK(only<answer_offer>(out).empty());
    CHECK(only<answer_received>(out).empty());
  }
  CHECK(c.pending_offers() == 5);  // nothing above disturbed the pending offers

  SECTION("ignored silently: other torrents, our own echo, closed sockets") {
    json m;
    m["action"] = "announce";
    m["info_hash"] = bin(hash2);
    m["interval"] = 5;
    c.text_received(url_a, m.dump(), at(1s));
    m["info_hash"] = bin(hash1);
    m["peer_id"] = bin(peer_a);
    m["offer"] = {{"type", "offer"}, {"sdp", "mine"}};
    m["offer_id"] = bin(make_id(9));
    c.text_received(url_a, m.dump(), at(1s));
    c.text_received(url_b, "garbage", at(1s));
    CHECK(drain(c).empty());
  }
}

TEST_CASE("[ws_tracker] reconnect with deterministic jittered backoff", "[ws_tracker]") {
  const auto delays = [](std::uint64_t seed, bool healthy_between) {
    client c({.seed = seed, .offers_per_announce = 0});
    c.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
    c.add_torrent(params(hash2, peer_a, {url_a}), at(0s));
    drain(c);
    time_point now = at(0s);
    c.socket_opened(url_a, now);
    drain(c);
    std::vector<duration> out;
    for (int i = 0; i < 12; ++i) {
      c.socket_closed(url_a, now);
      CHECK(c.socket_is_open(url_a) == false);
      const auto when = c.reconnect_at(url_a);
      REQUIRE(when.has_value());
      out.push_back(*when - now);
      CHECK(c.next_deadline() == when);
      c.on_timer(*when - 1us);
      CHECK(drain(c).empty());
      now = *when;
      c.on_timer(now);
      auto o = drain(c);
      REQUIRE(o.size() == 1);
      CHECK(std::get<open_socket>(o[0]).url == url_a);
      c.socket_opened(url_a, now);
      // Every torrent announces "started" again on the new socket.
      const auto sent = only<send_text>(drain(c));
      REQUIRE(sent.size() == 2);
      for (const auto& s : sent) CHECK(json::parse(s.text)["event"] == "started");
      if (healthy_between) {
        c.text_received(url_a, response(hash1, 120, 0, 0), now);
        drain(c);
      }
    }
    return out;
  };
  const auto first = delays(42, false);
  CHECK(first == delays(42, false));  // deterministic from the seed
  CHECK(first != delays(43, false));
  duration nominal = 10s;
  for (const auto& d : first) {
    CHECK(d >= nominal * 3 / 4);
    CHECK(d <= nominal * 5 / 4);
    nominal = std::min<duration>(nominal * 2, 1h);
  }
  CHECK(first.back() >= 45min);  // capped at an hour (± jitter)
  // A well-formed message from the tracker resets the backoff.
  for (const auto& d : delays(42, true)) {
    CHECK(d >= 7500ms);
    CHECK(d <= 12500ms);
  }
}

TEST_CASE("[ws_tracker] socket drop cancels pending offers and announces again", "[ws_tracker]") {
  client c;
  c.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
  drain(c);
  (void)open_and_announce(c, url_a, at(0s));
  CHECK(c.pending_offers() == 5);
  c.socket_closed(url_a, at(5s));
  c.socket_closed(url_a, at(5s));  // twice: no effect
  auto out = drain(c);
  const auto cancelled = only<offer_cancelled>(out);
  CHECK(cancelled.size() == 5);
  for (const auto& x : cancelled) CHECK(x.reason == cancel_reason::socket_closed);
  CHECK(c.pending_offers() == 0);
  CHECK_FALSE(c.completed(hash2, at(5s)));
  CHECK(c.completed(hash1, at(5s)));  // socket down: nothing sent
  CHECK(drain(c).empty());
  CHECK_FALSE(c.answer_created(url_a, hash1, peer_b, make_id(3), "sdp"));

  const auto first_reconnect = *c.reconnect_at(url_a);
  c.on_timer(first_reconnect);
  REQUIRE(only<open_socket>(drain(c)).size() == 1);
  const json again = open_and_announce(c, url_a, first_reconnect + 1s);
  CHECK(again["event"] == "started");
  CHECK(again["offers"].size() == 5);

  SECTION("a host that never delivers offers: announce without them") {
    c.socket_closed(url_a, at(100s));
    drain(c);
    const auto when = *c.reconnect_at(url_a);
    c.on_timer(when);
    c.socket_opened(url_a, when);
    REQUIRE(only<create_offers>(drain(c)).size() == 1);
    CHECK(c.next_deadline() == when + 10s);
    c.on_timer(when + 10s);
    out = drain(c);
    CHECK(only<offer_cancelled>(out).size() == 5);
    const auto sent = only<send_text>(out);
    REQUIRE(sent.size() == 1);
    const json m = json::parse(sent[0].text);
    CHECK(m["event"] == "started");
    CHECK(m["numwant"] == 0);
    CHECK(m["offers"].empty());
  }
  SECTION("offers delivered partly, or with foreign ids") {
    c.socket_closed(url_a, at(100s));
    drain(c);
    const auto when = *c.reconnect_at(url_a);
    c.on_timer(when);
    c.socket_opened(url_a, when);
    const auto req = only<create_offers>(drain(c)).at(0);
    auto offers = make_offers(req, "p");
    offers.resize(2);
    offers.push_back({make_id(99), "foreign"});
    offers.push_back(offers[0]);  // duplicate
    c.offers_created(url_a, hash1, offers, when);
    const auto sent = only<send_text>(drain(c));
    REQUIRE(sent.size() == 1);
    CHECK(json::parse(sent[0].text)["offers"].size() == 2);
    CHECK(c.pending_offers() == 2);
    c.offers_created(url_a, hash1, offers, when);  // stale reply: ignored
    CHECK(drain(c).empty());
  }
}

TEST_CASE("[ws_tracker] several torrents share one socket", "[ws_tracker]") {
  client c;
  c.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
  c.add_torrent(params(hash2, peer_a, {url_a}), at(0s));
  auto out = drain(c);
  CHECK(only<open_socket>(out).size() == 1);
  c.socket_opened(url_a, at(1s));
  const auto reqs = only<create_offers>(drain(c));
  REQUIRE(reqs.size() == 2);
  for (const auto& r : reqs) c.offers_created(url_a, r.info_hash, make_offers(r, "s"), at(1s));
  auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 2);
  std::vector<id20> announced;
  for (const auto& s : sent) {
    CHECK(s.url == url_a);
    announced.push_back(*id_from_latin1(json::parse(s.text)["info_hash"].get<std::string>()));
  }
  CHECK(std::find(announced.begin(), announced.end(), hash1) != announced.end());
  CHECK(std::find(announced.begin(), announced.end(), hash2) != announced.end());

  // Responses are routed by info_hash; each torrent has its own interval.
  c.text_received(url_a, response(hash1, 30, 1, 0), at(2s));
  c.text_received(url_a, response(hash2, 60, 2, 0), at(2s));
  const auto res = only<announce_result>(drain(c));
  REQUIRE(res.size() == 2);
  CHECK((res[0].info_hash == hash1 && res[0].complete == 1 && res[0].interval == 30s));
  CHECK((res[1].info_hash == hash2 && res[1].complete == 2 && res[1].interval == 60s));

  // Removing one keeps the socket for the other.
  c.remove_torrent(hash1, at(3s));
  out = drain(c);
  CHECK(only<close_socket>(out).empty());
  CHECK(only<send_text>(out).size() == 1);
  CHECK(c.socket_is_open(url_a));
  // A third torrent added on the open socket announces at once.
  c.add_torrent(params(hash1, peer_a, {url_a}), at(4s));
  out = drain(c);
  CHECK(only<open_socket>(out).empty());
  CHECK(only<create_offers>(out).size() == 1);
}

TEST_CASE("[ws_tracker] one torrent on several trackers", "[ws_tracker]") {
  client c;
  c.add_torrent(params(hash1, peer_a, {url_a, url_b, url_a}), at(0s));
  auto out = drain(c);
  REQUIRE(only<open_socket>(out).size() == 2);
  c.socket_opened(url_b, at(1s));
  auto reqs = only<create_offers>(drain(c));
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].url == url_b);
  c.offers_created(url_b, hash1, make_offers(reqs[0], "b"), at(1s));
  auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].url == url_b);

  const json a = open_and_announce(c, url_a, at(2s), "a");
  CHECK(a["event"] == "started");
  CHECK(c.pending_offers() == 10);

  // An answer must come back through the tracker its offer went to.
  json ans;
  ans["action"] = "announce";
  ans["info_hash"] = bin(hash1);
  ans["peer_id"] = bin(peer_b);
  ans["offer_id"] = a["offers"][0]["offer_id"];
  ans["answer"] = {{"type", "answer"}, {"sdp", "ok"}};
  c.text_received(url_b, ans.dump(), at(3s));
  CHECK(only<warning>(drain(c)).size() == 1);
  c.text_received(url_a, ans.dump(), at(3s));
  out = drain(c);
  const auto got = only<answer_received>(out);
  REQUIRE(got.size() == 1);
  CHECK(got[0].url == url_a);
  CHECK(got[0].sdp == "ok");

  // A drop on one tracker does not touch the other.
  c.socket_closed(url_b, at(4s));
  CHECK(only<offer_cancelled>(drain(c)).size() == 5);
  CHECK(c.socket_is_open(url_a));
  CHECK(c.pending_offers() == 4);

  c.remove_torrent(hash1, at(5s));
  out = drain(c);
  CHECK(only<send_text>(out).size() == 1);  // stopped on the open one only
  CHECK(only<close_socket>(out).empty());  // url_b was waiting; url_a lingers
  c.on_timer(at(6s));
  out = drain(c);
  REQUIRE(out.size() == 1);
  CHECK(std::get<close_socket>(out[0]).url == url_a);
  CHECK(c.next_deadline() == std::nullopt);
  c.on_timer(at(10h));
  CHECK(drain(c).empty());
}

TEST_CASE("[ws_tracker] a socket that never opens times out and is retried", "[ws_tracker]") {
  client c({.seed = 5, .offers_per_announce = 0});
  c.add_torrent(params(hash1, peer_a, {url_a}), at(0s));
  REQUIRE(only<open_socket>(drain(c)).size() == 1);
  c.on_timer(at(29s));
  CHECK(drain(c).empty());
  c.on_timer(at(30s));
  auto out = drain(c);
  REQUIRE(out.size() == 1);
  CHECK(std::get<close_socket>(out[0]).url == url_a);
  const auto when = c.reconnect_at(url_a);
  REQUIRE(when.has_value());
  CHECK(*when >= at(30s + 7500ms));
  CHECK(*when <= at(30s + 12500ms));
  c.socket_opened(url_a, at(31s));  // the abandoned socket: ignored
  CHECK(drain(c).empty());
  c.on_timer(*when);
  REQUIRE(only<open_socket>(drain(c)).size() == 1);
  c.socket_opened(url_a, *when + 1s);
  const auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 1);
  CHECK(json::parse(sent[0].text)["event"] == "started");
}

TEST_CASE("[ws_tracker] offers per announce follow the torrent's room for connections", "[ws_tracker]") {
  client c;
  auto p = params(hash1, peer_a, {url_a});
  p.peer_room = 2;
  REQUIRE(c.add_torrent(p, at(0s)));
  drain(c);
  c.socket_opened(url_a, at(1s));
  auto reqs = only<create_offers>(drain(c));
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].offer_ids.size() == 2);
  c.offers_created(url_a, hash1, make_offers(reqs[0], "a"), at(2s));
  auto sent = only<send_text>(drain(c));
  REQUIRE(sent.size() == 1);
  CHECK(json::parse(sent[0].text)["numwant"] == 2);
  // Full: the next announce asks for no peers and makes no offers.
  REQUIRE(c.set_peer_room(hash1, 0));
  c.text_received(url_a, response(hash1, 10, 1, 1), at(3s));
  drain(c);
  c.on_timer(at(14s));
  auto out = drain(c);
  CHECK(only<create_offers>(out).empty());
  sent = only<send_text>(out);
  REQUIRE(sent.size() == 1);
  const json m = json::parse(sent[0].text);
  CHECK(m["numwant"] == 0);
  CHECK((!m.contains("offers") || m["offers"].empty()));
  CHECK_FALSE(c.set_peer_room(hash2, 1));  // unknown torrent
}
