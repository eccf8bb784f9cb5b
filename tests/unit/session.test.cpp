// The session against a hand-driven peer: raw wire bytes in, raw wire bytes out.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "blocklist/blocklist.hpp"
#include "session/session.hpp"
#include "wire/wire.hpp"

using namespace wt;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t piece_len = 32 * 1024;

session_settings settings() {
  session_settings st;
  st.seed = 3;
  return st;
}

// The metainfo of one file `name` holding `content`, in pieces of 16 KiB.
metainfo single_file(const std::string& name, const byte_buffer& content) {
  input_file f{name, content};
  create_options o;
  o.name = name;
  o.piece_length = 16384;
  auto m = parse_metainfo(*create_torrent(std::span<const input_file>(&f, 1), o));
  REQUIRE(m);
  return std::move(m).value();
}

// A peer's handshake for the torrent, its peer id `who` repeated.
byte_buffer handshake_bytes(const sha1_digest& info_hash, std::uint8_t who) {
  byte_buffer hb;
  wire::peer_id id{};
  id.fill(who);
  wire::encode_to(wire::make_handshake(info_hash, id, {true, true, false}), hb);
  return hb;
}

// A peer at address who.who.who.who:who connects to `s` at `at` and handshakes (then says
// it is interested, when `interested`); what the session answers is drained.
connection_id dial_in(session& s, const sha1_digest& info_hash, std::uint8_t who, time_point at, bool interested) {
  const auto c = s.accept_connection(wire::make_endpoint_v4({who, who, who, who}, who), at);
  auto bytes = handshake_bytes(info_hash, who);
  if (interested) wire::encode_to(wire::interested{}, bytes);
  s.bytes_received(c, bytes, at);
  while (s.poll_transmit()) {
  }
  return c;
}

struct fixture {
  byte_buffer data;
  metainfo meta;
  session s;
  memory_storage storage;
  torrent_id torrent;
  connection_id conn;
  time_point now{};
  // What the session sent on `conn`, parsed.
  wire::handshake_reader hs;
  bool got_handshake = false;
  wire::message_reader reader;
  std::vector<byte_buffer> frames;  // re-encoded messages, since views die
  std::vector<wire::message> messages;
  std::vector<close_request> closes;
  std::vector<session_event> events;
  // Storage requests are completed at once unless held (a slow store).
  bool hold_storage = false;
  std::vector<storage_request> held;

  explicit fixture(bool seed, session_settings st = settings()) : s(st) {
    data.resize(4 * piece_len + 1000);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
    input_file f{"f.bin", data};
    create_options o;
    o.name = "f.bin";
    o.piece_length = piece_len;
    auto bytes = create_torrent(std::span<const input_file>(&f, 1), o);
    REQUIRE(bytes);
    auto m = parse_metainfo(*bytes);
    REQUIRE(m);
    meta = std::move(m).value();
    auto t = s.add_torrent(meta, {.seed = seed}, now);
    REQUIRE(t);
    torrent = *t;
    if (seed) storage.write_at(torrent, 0, data);
    reader.set_piece_count(meta.piece_count());
    conn = s.accept_connection(wire::make_endpoint_v4({1, 2, 3, 4}, 6881), now);
  }

  void drain() {
    for (bool progress = true; progress;) {
      progress = false;
      while (auto r = s.poll_storage()) {
        progress = true;
        if (hold_storage) held.push_back(std::move(*r));
        else s.storage_completed(storage.complete(*r), now);
      }
      while (auto t = s.poll_transmit()) {
        progress = true;
        REQUIRE(t->connection == conn);
        parse(t->data);
      }
      while (auto c = s.poll_close()) closes.push_back(*c);
      while (auto e = s.poll_event()) events.push_back(*e);
    }
  }
  void parse(byte_view chunk) {
    if (!got_handshake) {
      auto r = hs.feed(chunk);
      REQUIRE(r);
      if (r->status == wire::parse_status::need_more) return;
      got_handshake = true;
      chunk = chunk.subspan(r->consumed);
    }
    reader.feed(chunk);
    while (true) {
      auto m = reader.next();
      REQUIRE(m);
      if (!*m) break;
      // Keep a copy whose views stay valid.
      frames.push_back(wire::encode(**m));
    }
    messages.clear();
    for (const auto& f : frames) {
      wire::message_reader one;
      one.feed(f);
      auto m = one.next();
      REQUIRE(m);
      REQUIRE(*m);
      messages.push_back(**m);
    }
  }
  void send(const wire::message& m) {
    s.bytes_received(conn, wire::encode(m), now);
    drain();
  }
  void send_handshake() {
    byte_buffer hb;
    wire::peer_id id{};
    id.fill('p');
    wire::encode_to(wire::make_handshake(meta.info_hash, id, {true, true, false}), hb);
    s.bytes_received(conn, hb, now);
    drain();
  }
  // Our id for extension `name`, from the extension handshake we sent.
  std::uint8_t our_extension_id(std::string_view name) const {
    const auto ours = wire::decode_extension_handshake(sent<wire::extended>().front().payload);
    REQUIRE(ours);
    const auto id = ours->id_of(name);
    REQUIRE(id);
    return *id;
  }
  // The host's first report of an extended message of extension `name`, if any.
  const peer_message_event* extended_report(std::string_view name) const {
    for (const auto& e : events) {
      const auto* m = std::get_if<peer_message_event>(&e);
      if (m && m->kind == peer_message_kind::extended && m->extension == name) return m;
    }
    return nullptr;
  }
  // Sends the peer's extended message (our id for the extension) and returns the host's
  // report of it.
  const peer_message_event* report_of_extended(std::uint8_t id, std::string_view name, byte_view payload) {
    events.clear();
    send(wire::extended{id, payload});
    return extended_report(name);
  }
  template <class M>
  std::vector<M> sent() const {
    std::vector<M> out;
    for (const auto& f : frames) {
      wire::message_reader one;
      one.feed(f);
      auto m = one.next();
      if (m && *m && std::holds_alternative<M>(**m)) out.push_back(std::get<M>(**m));
    }
    return out;
  }
};

}  // namespace

TEST_CASE("[session] a seeding session serves a hand-driven peer", "[session]") {
  fixture f(true);
  f.send_handshake();
  REQUIRE(f.got_handshake);
  CHECK(f.hs.get().info_hash == f.meta.info_hash);
  CHECK(f.hs.get().features().extension_protocol);
  CHECK(f.hs.get().features().fast);
  CHECK(f.hs.get().id == f.s.peer_id());
  REQUIRE(f.sent<wire::extended>().size() == 1);
  // The extension handshake, then have_all.
  const auto ext = f.sent<wire::extended>().front();
  CHECK(ext.id == 0);
  auto h = wire::decode_extension_handshake(ext.payload);
  REQUIRE(h);
  CHECK(h->id_of(wire::ut_metadata_name));
  CHECK(h->id_of(wire::ut_pex_name));
  CHECK(h->reqq == 250u);
  CHECK(h->metadata_size == f.meta.info_bytes.size());
  CHECK(h->yourip == byte_buffer{1, 2, 3, 4});  // its address, as we see it (BEP 10)
  CHECK(f.sent<wire::have_all>().size() == 1);
  CHECK(std::any_of(f.events.begin(), f.events.end(),
                    [](const auto& e) { return std::holds_alternative<peer_connected_event>(e); }));

  SECTION("requests while choked are rejected (fast extension)") {
    f.send(wire::request{piece_index{0}, 0, 16384});
    REQUIRE(f.sent<wire::reject_request>().size() == 1);
    CHECK(f.sent<wire::piece_block>().empty());
  }
  SECTION("interested -> unchoke -> blocks served from storage") {
    f.send(wire::interested{});
    REQUIRE(f.sent<wire::unchoke>().size() == 1);
    f.send(wire::request{piece_index{1}, 16384, 16384});
    f.send(wire::request{piece_index{4}, 0, 1000});  // the short last piece
    const auto blocks = f.sent<wire::piece_block>();
    REQUIRE(blocks.size() == 2);
    CHECK(blocks[0].piece.value == 1);
    CHECK(blocks[0].begin == 16384);
    CHECK(std::equal(blocks[0].data.begin(), blocks[0].data.end(), f.data.begin() + piece_len + 16384));
    CHECK(blocks[1].data.size() == 1000);
    CHECK(f.s.stats(f.torrent)->uploaded == 16384 + 1000);
    // Bad requests are rejected, not served.
    f.send(wire::request{piece_index{4}, 0, 2000});     // beyond the piece
    f.send(wire::request{piece_index{0}, 0, 32768});    // larger than a block
    CHECK(f.sent<wire::reject_request>().size() == 2);
    CHECK(f.sent<wire::piece_block>().size() == 2);
    // Not interested any more: choked.
    f.send(wire::not_interested{});
    CHECK(f.sent<wire::choke>().size() == 1);
  }
  SECTION("a block asked for again while its read is pending is sent once; a choke rejects reads in flight") {
    f.send(wire::interested{});
    f.hold_storage = true;
    const wire::request r{piece_index{2}, 0, 16384};
    byte_buffer many;
    for (int i = 0; i < 1000; ++i) wire::encode_to(r, many);
    f.s.bytes_received(f.conn, many, f.now);
    f.drain();
    REQUIRE(f.held.size() == 1);  // one read, not one per request
    f.hold_storage = false;
    f.s.storage_completed(f.storage.complete(f.held[0]), f.now);
    f.held.clear();
    f.drain();
    CHECK(f.sent<wire::piece_block>().size() == 1);
    CHECK(f.sent<wire::reject_request>().empty());
    // Asked again once it was sent: sent again (the peer may have lost it).
    f.send(r);
    CHECK(f.sent<wire::piece_block>().size() == 2);
    // A read in flight when the peer is choked ends in a reject (fast extension), and the
    // same request after the next unchoke is read and sent anew.
    f.hold_storage = true;
    f.send(r);
    REQUIRE(f.held.size() == 1);
    f.send(wire::not_interested{});
    f.send(wire::interested{});
    f.send(r);
    REQUIRE(f.held.size() == 2);
    f.hold_storage = false;
    for (auto& read : f.held) f.s.storage_completed(f.storage.complete(read), f.now);
    f.held.clear();
    f.drain();
    CHECK(f.sent<wire::reject_request>().size() == 1);
    CHECK(f.sent<wire::piece_block>().size() == 3);
  }
  SECTION("an oversized message closes the connection with a warning") {
    const byte_buffer huge{0x00, 0x10, 0x00, 0x09, 0x07};  // a 1 MiB piece message
    f.s.bytes_received(f.conn, huge, f.now);
    f.drain();
    REQUIRE(f.closes.size() == 1);
    CHECK(std::any_of(f.events.begin(), f.events.end(), [](const auto& e) {
      auto* w = std::get_if<warning_event>(&e);
      return w && w->code == errc::wire_message_too_large;
    }));
    CHECK(f.s.peers(f.torrent).empty());
  }
  SECTION("keep-alives are sent and a silent peer is dropped") {
    f.now += 61s;
    f.s.on_timer(f.now);
    f.drain();
    CHECK(f.sent<wire::keep_alive>().size() >= 1);
    CHECK(f.closes.empty());
    f.now += 60s;
    f.s.on_timer(f.now);
    f.drain();
    REQUIRE(f.closes.size() == 1);
    CHECK(f.closes[0].reason == "inactivity timeout");
  }
}

TEST_CASE("[session] a leeching session requests, verifies, and bans a peer that sends bad data", "[session]") {
  fixture f(false);
  f.send_handshake();
  f.send(wire::have_all{});
  CHECK(f.sent<wire::interested>().size() == 1);
  CHECK(f.sent<wire::request>().empty());  // choked
  f.send(wire::unchoke{});
  const auto requests = f.sent<wire::request>();
  REQUIRE(requests.size() >= 4);

  SECTION("good blocks: the piece is verified, written, announced") {
    // Answer every request for the first piece requested.
    const auto piece = requests.front().piece;
    for (const auto& r : requests) {
      if (r.piece != piece) continue;
      const auto at = std::size_t{r.piece.value} * piece_len + r.begin;
      f.send(wire::piece_block{r.piece, r.begin, byte_view(f.data).subspan(at, r.length)});
    }
    CHECK(std::any_of(f.events.begin(), f.events.end(), [&](const auto& e) {
      auto* v = std::get_if<piece_verified_event>(&e);
      return v && v->piece == piece;
    }));
    CHECK(f.storage.is_complete(f.torrent, piece));
    CHECK(f.s.have_pieces(f.torrent)->test(piece.value));
    CHECK(f.s.stats(f.torrent)->verified == piece_len);
  }
  SECTION("a piece from this peer alone fails: it is banned") {
    const auto piece = requests.front().piece;
    for (const auto& r : requests) {
      if (r.piece != piece) continue;
      byte_buffer bad(r.length, 0xee);
      f.send(wire::piece_block{r.piece, r.begin, bad});
    }
    CHECK(std::any_of(f.events.begin(), f.events.end(),
                      [](const auto& e) { return std::holds_alternative<hash_failed_event>(e); }));
    CHECK(std::any_of(f.events.begin(), f.events.end(),
                      [](const auto& e) { return std::holds_alternative<peer_banned_event>(e); }));
    REQUIRE(f.closes.size() == 1);
    // A banned address is never connected to again.
    f.s.add_peer(f.torrent, wire::make_endpoint_v4({1, 2, 3, 4}, 6881), f.now);
    CHECK_FALSE(f.s.poll_connect());
    CHECK(f.storage.contents(f.torrent).empty());  // nothing unverified was written
    // Nor is its peer id, from another address (a WebRTC peer's next channel has a new
    // stand-in address).
    f.conn = f.s.accept_connection(wire::make_endpoint_v4({5, 6, 7, 8}, 6881), f.now);
    f.got_handshake = false;
    f.hs = {};
    f.reader = wire::message_reader{wire::reader_limits{}};
    f.frames.clear();
    f.send_handshake();
    REQUIRE(f.closes.size() == 2);
    CHECK(f.closes[1].connection == f.conn);
    CHECK(f.closes[1].reason == "banned peer");
  }
}

TEST_CASE("[session] a host whose peers are banned bans_per_host times is banned whole, whatever port and peer id it comes with", "[session]") {
  fixture f(false);
  auto connect_from = [&](std::array<std::uint8_t, 4> ip, std::uint16_t port, char id_fill) {
    f.conn = f.s.accept_connection(wire::make_endpoint_v4(ip, port), f.now);
    f.got_handshake = false;
    f.hs = {};
    f.reader = wire::message_reader{wire::reader_limits{}};
    f.reader.set_piece_count(f.meta.piece_count());
    f.frames.clear();
    byte_buffer hb;
    wire::peer_id id{};
    id.fill(static_cast<std::uint8_t>(id_fill));
    wire::encode_to(wire::make_handshake(f.meta.info_hash, id, {true, true, false}), hb);
    f.s.bytes_received(f.conn, hb, f.now);
    f.drain();
  };
  for (int i = 0; i < 3; ++i) {
    INFO("ban " << i);
    const auto closes = f.closes.size();
    connect_from({1, 2, 3, 4}, static_cast<std::uint16_t>(40000 + i), static_cast<char>('a' + i));
    REQUIRE(f.closes.size() == closes);  // let in: not banned yet
    f.send(wire::have_all{});
    f.send(wire::unchoke{});
    const auto requests = f.sent<wire::request>();
    REQUIRE_FALSE(requests.empty());
    for (const auto& r : requests)
      if (r.piece == requests.front().piece) f.send(wire::piece_block{r.piece, r.begin, byte_buffer(r.length, 0xee)});
    REQUIRE(f.closes.size() == closes + 1);
  }
  // A fourth time, from a new port with a new peer id: refused.
  connect_from({1, 2, 3, 4}, 40100, 'z');
  REQUIRE(!f.closes.empty());
  CHECK(f.closes.back().connection == f.conn);
  CHECK(f.closes.back().reason == "banned peer");
  // Another host is not.
  const auto closes = f.closes.size();
  connect_from({9, 9, 9, 9}, 40000, 'y');
  CHECK(f.closes.size() == closes);
}

template <class E>
bool has_event(const fixture& f) {
  return std::any_of(f.events.begin(), f.events.end(), [](const auto& e) { return std::holds_alternative<E>(e); });
}

TEST_CASE("[session] the host hashes pieces on their way to the store (host_hashes_pieces)", "[session]") {
  session_settings st = settings();
  st.host_hashes_pieces = true;
  fixture f(false, st);
  f.send_handshake();
  f.send(wire::have_all{});
  f.send(wire::unchoke{});
  const auto requests = f.sent<wire::request>();
  REQUIRE(requests.size() >= 4);
  const auto piece = requests.front().piece;
  auto send_piece = [&](std::uint8_t corrupt) {
    for (const auto& r : requests) {
      if (r.piece != piece) continue;
      const auto at = std::size_t{r.piece.value} * piece_len + r.begin;
      byte_buffer block(f.data.begin() + static_cast<std::ptrdiff_t>(at), f.data.begin() + static_cast<std::ptrdiff_t>(at + r.length));
      block[0] ^= corrupt;
      f.send(wire::piece_block{r.piece, r.begin, block});
    }
  };
  f.hold_storage = true;

  SECTION("a good piece: one write with its hash; verified once the host's digest matches") {
    send_piece(0);
    REQUIRE(f.held.size() == 1);
    const storage_request w = f.held.front();
    CHECK(w.op == storage_op::write);
    REQUIRE(w.verify);
    CHECK(*w.verify == f.meta.piece_hashes[piece.value]);
    CHECK_FALSE(has_event<piece_verified_event>(f));  // the engine did not hash it
    CHECK_FALSE(f.s.have_pieces(f.torrent)->test(piece.value));
    f.hold_storage = false;
    f.s.storage_completed(f.storage.complete(w), f.now);
    f.held.clear();
    f.drain();
    CHECK(has_event<piece_verified_event>(f));
    CHECK(f.storage.is_complete(f.torrent, piece));
    CHECK(f.s.have_pieces(f.torrent)->test(piece.value));
    CHECK(f.s.stats(f.torrent)->verified == piece_len);
  }
  SECTION("a bad piece from this peer alone: the host writes nothing, the engine fails it and bans the peer") {
    send_piece(0xff);
    REQUIRE(f.held.size() == 1);
    const auto c = f.storage.complete(f.held.front());
    CHECK(c.ok);
    REQUIRE(c.digest);
    CHECK(c.data.size() == piece_len);  // handed back, not written
    CHECK(f.storage.contents(f.torrent).empty());
    f.s.storage_completed(c, f.now);
    f.drain();
    CHECK(has_event<hash_failed_event>(f));
    CHECK(has_event<peer_banned_event>(f));
    CHECK_FALSE(f.s.have_pieces(f.torrent)->test(piece.value));
  }
  SECTION("a bad piece whose sender left before the host's verdict: its peer id is banned too") {
    send_piece(0xff);
    REQUIRE(f.held.size() == 1);
    const auto c = f.storage.complete(f.held.front());
    f.s.connection_closed(f.conn, f.now);
    f.drain();
    f.s.storage_completed(c, f.now);
    f.drain();
    CHECK(has_event<peer_banned_event>(f));
    // The same peer id on another address (a WebRTC peer's next channel) is refused.
    f.conn = f.s.accept_connection(wire::make_endpoint_v4({5, 6, 7, 8}, 6881), f.now);
    f.got_handshake = false;
    f.hs = {};
    f.reader = wire::message_reader{wire::reader_limits{}};
    f.frames.clear();
    f.closes.clear();
    f.send_handshake();
    REQUIRE(f.closes.size() == 1);
    CHECK(f.closes[0].connection == f.conn);
    CHECK(f.closes[0].reason == "banned peer");
  }
  SECTION("a host that says the digest matches is checked: a wrong digest fails the piece") {
    send_piece(0);
    REQUIRE(f.held.size() == 1);
    storage_completion c;
    c.id = f.held.front().id;
    c.digest = sha1_digest{};
    c.data = f.held.front().data;
    f.s.storage_completed(c, f.now);
    f.drain();
    CHECK(has_event<hash_failed_event>(f));
    CHECK_FALSE(f.s.have_pieces(f.torrent)->test(piece.value));
  }
  SECTION("the write fails: the piece is fetched again, nobody is blamed") {
    send_piece(0);
    REQUIRE(f.held.size() == 1);
    storage_completion c;
    c.id = f.held.front().id;
    c.ok = false;
    c.digest = f.meta.piece_hashes[piece.value];
    f.s.storage_completed(c, f.now);
    f.drain();
    CHECK_FALSE(has_event<piece_verified_event>(f));
    CHECK_FALSE(has_event<peer_banned_event>(f));
    CHECK(has_event<warning_event>(f));
    CHECK(f.closes.empty());
    const auto states = f.s.piece_states(f.torrent);
    CHECK(states[piece.value] != 3);  // not had
  }
}

TEST_CASE("[session] while choked, only the peer's allowed_fast pieces are requested", "[session]") {
  fixture f(false);
  f.send_handshake();
  f.send(wire::have_all{});
  CHECK(f.sent<wire::request>().empty());  // choked, nothing allowed yet
  f.send(wire::allowed_fast{piece_index{2}});
  auto requests = f.sent<wire::request>();
  REQUIRE_FALSE(requests.empty());
  for (const auto& r : requests) CHECK(r.piece == piece_index{2});
  SECTION("an allowed piece out of range is refused by the codec and closes the peer") {
    f.send(wire::allowed_fast{piece_index{99}});
    CHECK(f.closes.size() == 1);
  }
  SECTION("once unchoked, other pieces are requested too") {
    f.send(wire::unchoke{});
    requests = f.sent<wire::request>();
    CHECK(std::any_of(requests.begin(), requests.end(),
                      [](const auto& r) { return r.piece != piece_index{2}; }));
  }
}

TEST_CASE("[session] a peer that rejects every request gets bursts of them, not one per reject; without the fast extension a reject closes it", "[session]") {
  fixture f(false);
  f.send_handshake();  // with the fast extension
  f.send(wire::have_all{});
  f.send(wire::unchoke{});
  // Every request rejected as it comes, for 10 s, 20 rounds a second.
  std::size_t answered = 0;
  for (int round = 0; round < 200; ++round) {
    const auto requests = f.sent<wire::request>();
    for (std::size_t i = answered; i < requests.size(); ++i)
      f.send(wire::reject_request{requests[i].piece, requests[i].begin, requests[i].length});
    answered = requests.size();
    f.now += 50ms;
    f.s.on_timer(f.now);
    f.drain();
  }
  // A burst every 2 s: tens of requests (it was one per reject, without end: about 1000).
  INFO("requests in 10 s: " << answered);
  CHECK(answered <= 100);
  CHECK(f.closes.empty());
  SECTION("a block resumes the requests at once") {
    const auto before = f.sent<wire::request>().size();
    const auto r = f.sent<wire::request>().back();
    f.send(wire::piece_block{r.piece, r.begin, byte_buffer(r.length, 0)});
    CHECK(f.sent<wire::request>().size() > before);
  }
}

TEST_CASE("[session] a reject without the fast extension closes the peer", "[session]") {
  fixture f(false);
  byte_buffer hb;
  wire::peer_id id{};
  id.fill('n');
  wire::encode_to(wire::make_handshake(f.meta.info_hash, id, {.extension_protocol = true}), hb);
  f.s.bytes_received(f.conn, hb, f.now);
  f.drain();
  f.send(wire::bitfield{bitfield::from_string("11111").to_bytes()});
  f.send(wire::unchoke{});
  const auto requests = f.sent<wire::request>();
  REQUIRE_FALSE(requests.empty());
  f.send(wire::reject_request{requests[0].piece, requests[0].begin, requests[0].length});
  REQUIRE(f.closes.size() == 1);
  CHECK(f.closes[0].reason == "reject_request without the fast extension");
}

TEST_CASE("[session] a bitfield with its spare bits set closes the peer (BEP 3)", "[session]") {
  fixture f(false);
  f.send_handshake();
  f.send(wire::bitfield{byte_buffer{0xff}});  // 5 pieces: the last 3 bits must be 0
  REQUIRE(f.closes.size() == 1);
  CHECK(f.closes[0].reason.find("bad bitfield") != std::string::npos);
}

TEST_CASE("[session] blocks nobody asked for are dropped, not put into pieces; a peer that sends many is closed", "[session]") {
  fixture f(false);
  f.send_handshake();
  f.send(wire::have_all{});  // choked: nothing requested of it yet
  REQUIRE(f.sent<wire::request>().empty());
  // A block of piece 0 with wrong bytes, never asked for: dropped (it would have gone into
  // the piece and failed its hash with nobody to blame).
  f.send(wire::piece_block{piece_index{0}, 0, byte_buffer(16384, 0xee)});
  CHECK(f.closes.empty());
  CHECK(f.s.stats(f.torrent)->wasted == 16384);
  for (int i = 0; i < 64 && f.closes.empty(); ++i) f.send(wire::piece_block{piece_index{1}, 0, byte_buffer(16384, 0xee)});
  REQUIRE(f.closes.size() == 1);
  CHECK(f.closes[0].reason == "sent blocks that were never requested");
  // Nothing it sent was taken: no hash failure, no piece.
  CHECK(f.s.have_pieces(f.torrent)->count() == 0);
  for (const auto& e : f.events) CHECK_FALSE(std::holds_alternative<hash_failed_event>(e));
}

TEST_CASE("[session] lt_donthave removes a piece from what the peer has", "[session]") {
  fixture f(false);
  f.send_handshake();
  const std::uint8_t donthave_id = f.our_extension_id(wire::lt_donthave_name);
  const byte_buffer bits = bitfield::from_string("10000").to_bytes();
  f.send(wire::bitfield{bits});
  CHECK(f.sent<wire::interested>().size() == 1);
  REQUIRE(f.s.peers(f.torrent).size() == 1);
  CHECK(f.s.peers(f.torrent)[0].pieces == 1);
  f.s.report_peer_messages(f.conn, peer_message_bit(peer_message_kind::extended));
  f.send(wire::extended{donthave_id, wire::encode_donthave(piece_index{0})});
  REQUIRE(f.s.peers(f.torrent).size() == 1);
  CHECK(f.s.peers(f.torrent)[0].pieces == 0);
  CHECK(f.sent<wire::not_interested>().size() == 1);  // it has nothing we want now
  // The host hears of the message, the piece decoded (the wire takes it out of peerPieces).
  const auto* reported = f.extended_report(wire::lt_donthave_name);
  REQUIRE(reported);
  CHECK(reported->donthave == 0u);
  // One for a piece the peer never had changes nothing: reported without a piece (npm
  // lt_donthave's 'donthave' is only for a piece the peer had).
  const auto* again = f.report_of_extended(donthave_id, wire::lt_donthave_name, wire::encode_donthave(piece_index{3}));
  REQUIRE(again);
  CHECK_FALSE(again->donthave);
}

TEST_CASE("[session] ut_pex: the peer's messages reported decoded; the application's start, stop, reset and addresses", "[session]") {
  fixture f(false);
  f.send_handshake();
  const std::uint8_t our_pex = f.our_extension_id(wire::ut_pex_name);
  wire::extension_handshake theirs;
  theirs.m[std::string(wire::ut_pex_name)] = 7;
  f.s.report_peer_messages(f.conn, peer_message_bit(peer_message_kind::extended));
  f.send(wire::extended{0, wire::encode_extension_handshake(theirs)});
  const auto v4 = [](std::uint8_t last, std::uint16_t port) { return wire::make_endpoint_v4({5, 6, 7, last}, port); };
  // What we told the peer under its id for ut_pex, decoded.
  const auto told = [&] {
    std::vector<wire::pex_message> out;
    for (const auto& e : f.sent<wire::extended>()) {
      if (e.id != 7) continue;
      auto m = wire::decode_pex_message(e.payload);
      REQUIRE(m);
      out.push_back(*m);
    }
    return out;
  };
  const auto run = [&](duration d) {  // the peer stays, with a keep-alive each step
    for (const time_point end = f.now + d; f.now < end;) {
      f.now = std::min(end, f.s.next_deadline().value_or(end));
      f.s.on_timer(f.now);
      f.send(wire::keep_alive{});
    }
    REQUIRE(f.closes.empty());
  };

  CHECK(f.s.pex_advertise(f.conn, {v4(8, 6000), wire::pex_seed}, false, f.now));
  CHECK(f.s.pex_advertise(f.conn, {v4(9, 6001), 0}, true, f.now));
  CHECK(f.s.pex_advertise(f.conn, {v4(9, 6001), 0}, false, f.now));  // added after all...
  CHECK(f.s.pex_advertise(f.conn, {v4(9, 6001), 0}, true, f.now));   // ...then dropped again
  CHECK_FALSE(f.s.pex_advertise(f.conn, {v4(9, 0), 0}, false, f.now));
  CHECK_FALSE(f.s.pex_advertise(connection_id{999}, {v4(8, 6000), 0}, false, f.now));
  CHECK_FALSE(f.s.command_pex(connection_id{999}, session::pex_command::stop, f.now));
  run(2s);
  REQUIRE(told().size() == 1);
  CHECK(told()[0].added == std::vector<wire::pex_peer>{{v4(8, 6000), wire::pex_seed}});
  CHECK(told()[0].dropped == std::vector<wire::endpoint>{v4(9, 6001)});

  // Stopped: nothing goes out, though an address waits and the interval has passed.
  CHECK(f.s.command_pex(f.conn, session::pex_command::stop, f.now));
  CHECK(f.s.pex_advertise(f.conn, {v4(10, 6002), 0}, false, f.now));
  run(2min);
  CHECK(told().size() == 1);
  CHECK(f.s.command_pex(f.conn, session::pex_command::start, f.now));
  run(2s);
  REQUIRE(told().size() == 2);
  CHECK(told()[1].added == std::vector<wire::pex_peer>{{v4(10, 6002), 0}});
  // Reset forgets what waits, and stops.
  CHECK(f.s.pex_advertise(f.conn, {v4(11, 6003), 0}, false, f.now));
  CHECK(f.s.command_pex(f.conn, session::pex_command::reset, f.now));
  run(2min);
  CHECK(f.s.command_pex(f.conn, session::pex_command::start, f.now));
  run(2min);
  CHECK(told().size() == 2);

  // The peer's message reaches the host decoded (the wire's ut_pex 'peer' and 'dropped').
  wire::pex_message m;
  m.added = {{wire::make_endpoint_v4({9, 9, 9, 9}, 1234), wire::pex_seed | wire::pex_supports_utp}};
  m.dropped = {wire::make_endpoint_v4({9, 9, 9, 8}, 1235)};
  f.send(wire::extended{our_pex, wire::encode_pex_message(m)});
  const auto* reported = f.extended_report(wire::ut_pex_name);
  REQUIRE(reported);
  REQUIRE(reported->pex);
  CHECK(*reported->pex == m);
  // One within 10 s of it is ignored, and reported without its addresses.
  const auto* again = f.report_of_extended(our_pex, wire::ut_pex_name, wire::encode_pex_message(m));
  REQUIRE(again);
  CHECK_FALSE(again->pex);
}

TEST_CASE("[session] per connection: no keep-alives once off; a request unanswered past the connection's timeout is given up and reported", "[session]") {
  fixture f(false);
  f.send_handshake();
  f.send(wire::have_all{});
  f.send(wire::unchoke{});
  const auto requests = f.sent<wire::request>();
  REQUIRE(requests.size() >= 2);
  CHECK_FALSE(f.s.set_peer_timeout(connection_id{999}, 5s));
  CHECK_FALSE(f.s.set_peer_keep_alive(connection_id{999}, false));
  REQUIRE(f.s.set_peer_keep_alive(f.conn, false));
  REQUIRE(f.s.set_peer_timeout(f.conn, 5s));
  f.s.report_peer_messages(f.conn, peer_message_bit(peer_message_kind::timeout));
  const auto timeouts = [&] {
    return std::count_if(f.events.begin(), f.events.end(), [](const auto& e) {
      const auto* m = std::get_if<peer_message_event>(&e);
      return m && m->kind == peer_message_kind::timeout;
    });
  };
  const auto in_flight = [&] { return f.s.peer_details(f.conn)->requests.size(); };
  const std::size_t asked = in_flight();
  // A block arrives at 3 s: the span starts again from it.
  const auto step = [&](duration d) {
    f.now += d;
    f.s.on_timer(f.now);
    f.drain();
  };
  step(3s);
  const auto& r = requests.front();
  const auto at = std::size_t{r.piece.value} * piece_len + r.begin;
  f.send(wire::piece_block{r.piece, r.begin, byte_view(f.data).subspan(at, r.length)});
  step(4s);  // 4 s after the block: nothing yet
  CHECK(timeouts() == 0);
  step(1s);  // 5 s: the oldest request is given up
  CHECK(timeouts() == 1);
  CHECK(f.closes.empty());
  step(1s);
  CHECK(timeouts() == 1);  // the next one waits its own 5 s
  step(4s);
  CHECK(timeouts() == 2);
  CHECK(in_flight() <= asked);
  // 60 s of our silence: no keep-alive went out (the peer's keep-alives keep it open).
  const auto keep_alives = f.sent<wire::keep_alive>().size();
  for (int i = 0; i < 6; ++i) {
    f.s.set_peer_timeout(f.conn, 0s);
    step(10s);
    f.send(wire::keep_alive{});
  }
  CHECK(f.sent<wire::keep_alive>().size() == keep_alives);
  REQUIRE(f.s.set_peer_keep_alive(f.conn, true));
  step(61s);
  CHECK(f.sent<wire::keep_alive>().size() > keep_alives);
}

TEST_CASE("[session] a peer the application chokes stays choked through the choker's rounds until it unchokes it", "[session]") {
  fixture f(true);
  f.send_handshake();
  f.send(wire::interested{});
  REQUIRE(f.sent<wire::unchoke>().size() == 1);  // a free slot: unchoked at once
  CHECK_FALSE(f.s.set_peer_choked(connection_id{999}, true, f.now));
  REQUIRE(f.s.set_peer_choked(f.conn, true, f.now));
  f.drain();
  CHECK(f.sent<wire::choke>().size() == 1);
  for (int i = 0; i < 6; ++i) {  // a minute: six rounds of the choker
    f.now += 10s;
    f.s.on_timer(f.now);
    f.send(wire::keep_alive{});
  }
  CHECK(f.sent<wire::unchoke>().size() == 1);
  CHECK(f.closes.empty());
  REQUIRE(f.s.set_peer_choked(f.conn, false, f.now));
  f.drain();
  CHECK(f.sent<wire::unchoke>().size() == 2);
}

TEST_CASE("[session] incoming connections beyond the per-torrent limit are closed", "[session]") {
  session_settings st;
  st.max_connections_per_torrent = 1;
  session s(st);
  const auto tt_data = byte_buffer(40000, 7);
  const metainfo m = single_file("x", tt_data);
  REQUIRE(s.add_torrent(m, {.seed = true}, {}));
  auto handshake_from = [&](std::uint8_t who) { return handshake_bytes(m.info_hash, who); };
  const auto a = s.accept_connection(wire::make_endpoint_v4({1, 1, 1, 1}, 1), {});
  const auto b = s.accept_connection(wire::make_endpoint_v4({2, 2, 2, 2}, 2), {});
  s.bytes_received(a, handshake_from('a'), {});
  s.bytes_received(b, handshake_from('b'), {});
  auto c = s.poll_close();
  REQUIRE(c);
  CHECK(c->connection == b);
  CHECK(c->reason == "too many connections");
  CHECK_FALSE(s.poll_close());
}

TEST_CASE("[session] at the limit, a peer dialling in takes the place of one idle for idle_peer_age", "[session]") {
  session_settings st;
  st.max_connections_per_torrent = 2;
  session s(st);
  const metainfo m = single_file("x", byte_buffer(40000, 7));
  const auto t = s.add_torrent(m, {.seed = true}, {});
  REQUIRE(t);
  // Leechers that say they are interested, then ask for nothing.
  auto dial_in = [&](std::uint8_t who, time_point at) { return ::dial_in(s, m.info_hash, who, at, true); };
  const auto a = dial_in(1, {});
  (void)dial_in(2, time_point{} + 20s);
  // Before a has been idle that long, a newcomer is refused.
  const auto c = dial_in(3, time_point{} + 25s);
  auto closed = s.poll_close();
  REQUIRE(closed);
  CHECK(closed->connection == c);
  CHECK(closed->reason == "too many connections");
  // Peers that only hold the connection open (keep-alives) do not keep their slot for ever.
  s.bytes_received(a, wire::encode(wire::keep_alive{}), time_point{} + 31s);
  const auto d = dial_in(4, time_point{} + 31s);
  closed = s.poll_close();
  REQUIRE(closed);
  CHECK(closed->connection == a);
  CHECK(closed->reason == "idle, closed to make room for a new peer");
  CHECK_FALSE(s.poll_close());
  const auto left = s.peers(*t);
  REQUIRE(left.size() == 2);
  CHECK((left[0].connection == d || left[1].connection == d));
}

TEST_CASE("[session] at the limit, a peer dialling in takes the place of one of no use either way", "[session]") {
  session_settings st;
  st.max_connections_per_torrent = 2;
  session s(st);
  const metainfo m = single_file("x", byte_buffer(40000, 7));
  REQUIRE(s.add_torrent(m, {.seed = true}, {}));
  auto dial_in = [&](std::uint8_t who, time_point at, bool interested) { return ::dial_in(s, m.info_hash, who, at, interested); };
  (void)dial_in(1, {}, true);
  const auto silent = dial_in(2, {}, false);  // not interested in a seed: of no use to it
  (void)dial_in(3, time_point{} + 9s, true);
  auto closed = s.poll_close();
  REQUIRE(closed);
  CHECK(closed->reason == "too many connections");
  (void)dial_in(4, time_point{} + 10s, true);
  closed = s.poll_close();
  REQUIRE(closed);
  CHECK(closed->connection == silent);
  CHECK(closed->reason == "of no use either way, closed to make room for a new peer");
  CHECK_FALSE(s.poll_close());
}

TEST_CASE("[session] at the limit, a peer the app adds is dialled first, in the place of an idle one", "[session]") {
  session_settings st;
  st.max_connections_per_torrent = 2;
  session s(st);
  const metainfo m = single_file("x", byte_buffer(40000, 7));
  const auto t = s.add_torrent(m, {}, {});  // a leecher
  REQUIRE(t);
  for (std::uint8_t who = 1; who <= 2; ++who) (void)dial_in(s, m.info_hash, who, {}, false);
  // A tracker's addresses wait behind the two silent peers that hold both slots.
  for (std::uint8_t i = 1; i <= 5; ++i) s.add_peer(*t, wire::make_endpoint_v4({10, 0, 0, i}, 6881), {}, peer_source::tracker);
  CHECK_FALSE(s.poll_connect());
  const auto wanted = wire::make_endpoint_v4({9, 9, 9, 9}, 6881);
  // They have nothing we want, and want nothing: still, before useless_peer_age, the app's
  // peer waits too.
  s.add_peer(*t, wanted, time_point{} + 5s);
  CHECK_FALSE(s.poll_connect());
  CHECK_FALSE(s.poll_close());
  s.remove_peer(*t, wanted, time_point{} + 5s);
  // Later, one silent peer makes room, and the app's peer is dialled before the tracker's.
  s.add_peer(*t, wanted, time_point{} + 11s);
  const auto closed = s.poll_close();
  REQUIRE(closed);
  CHECK(closed->reason == "of no use either way, closed to make room for a new peer");
  CHECK_FALSE(s.poll_close());
  const auto dial = s.poll_connect();
  REQUIRE(dial);
  CHECK(dial->remote == wanted);
  CHECK_FALSE(s.poll_connect());
}

TEST_CASE("[session] a peer that asks faster than it reads is closed once its replies pile up", "[session]") {
  session_settings st = settings();
  st.send_buffer_limit = 16 * 1024;  // the host reports what it sent; this peer reads nothing
  st.max_unsent_bytes = 64 * 1024;
  fixture f(true, st);
  f.send_handshake();
  // Choked: every request is rejected (BEP 6), 17 bytes each, none of them read.
  byte_buffer flood;
  for (int i = 0; i < 10000; ++i) wire::encode_to(wire::request{piece_index{0}, 0, 16384}, flood);
  f.s.bytes_received(f.conn, flood, f.now);
  f.drain();
  REQUIRE(f.closes.size() == 1);
  CHECK(f.closes[0].reason.starts_with("asks faster than it reads"));
  const auto rejects = f.sent<wire::reject_request>().size();
  CHECK(rejects > 3000);
  CHECK(rejects < 4000);  // stopped at 64 KiB of them, not 10,000
}

TEST_CASE("[session] a peer asking for the metadata over and over without reading is closed", "[session]") {
  session_settings st = settings();
  st.send_buffer_limit = 16 * 1024;
  st.max_unsent_bytes = 64 * 1024;
  fixture f(true, st);
  f.send_handshake();
  const std::uint8_t ours = f.our_extension_id(wire::ut_metadata_name);
  wire::extension_handshake theirs;
  theirs.m[std::string(wire::ut_metadata_name)] = 3;
  f.send(wire::extended{0, wire::encode_extension_handshake(theirs)});
  wire::metadata_message ask;
  ask.piece = 0;
  const byte_buffer request = wire::encode_metadata_message(ask);
  byte_buffer flood;
  for (int i = 0; i < 2000; ++i) wire::encode_to(wire::extended{ours, request}, flood);
  f.s.bytes_received(f.conn, flood, f.now);
  f.drain();
  REQUIRE(f.closes.size() == 1);
  CHECK(f.closes[0].reason.starts_with("asks faster than it reads"));
  // The replies stopped near the cap (64 KiB and the metadata's size), not at 2,000 of them.
  const auto replies = f.sent<wire::extended>().size();
  const std::size_t per_reply = f.meta.info_bytes.size();
  CHECK(replies * per_reply < 64 * 1024 + 2 * per_reply + 1024 + 2 * f.meta.info_bytes.size());
  CHECK(replies < 2000);
}

TEST_CASE("[session] the session-wide limit counts every torrent's connections and incoming ones", "[session]") {
  session_settings st;
  st.max_connections = 3;
  session s(st);
  std::vector<torrent_id> ts;
  for (std::uint8_t k = 1; k <= 2; ++k) {
    const auto bytes = byte_buffer(40000, k);
    const metainfo m = single_file("x", bytes);
    auto t = s.add_torrent(m, {}, {});
    REQUIRE(t);
    ts.push_back(*t);
  }
  for (std::uint8_t i = 1; i <= 4; ++i) {
    s.add_peer(ts[0], wire::make_endpoint_v4({10, 0, 0, i}, 6881), {});
    s.add_peer(ts[1], wire::make_endpoint_v4({10, 0, 1, i}, 6881), {});
  }
  std::size_t dials = 0;
  while (s.poll_connect()) ++dials;
  CHECK(dials == 3);  // not 8: the session's limit, over both torrents
  // Full: an incoming connection is closed at once, and so is one the host opens itself.
  const auto in = s.accept_connection(wire::make_endpoint_v4({1, 1, 1, 1}, 1), {});
  auto closed = s.poll_close();
  REQUIRE(closed);
  CHECK(closed->connection == in);
  CHECK(closed->reason == "too many connections");
  auto own = s.open_connection(ts[1], wire::make_endpoint_v4({2, 2, 2, 2}, 2), {});
  REQUIRE(own);
  closed = s.poll_close();
  REQUIRE(closed);
  CHECK(closed->connection == *own);
  CHECK_FALSE(s.poll_close());
}

TEST_CASE("[session] torrents share the session-wide limit by priority squared (WebTorrent's setPriority)", "[session]") {
  session_settings st;
  st.max_connections = 20;
  session s(st);
  std::vector<torrent_id> ts;  // low, mid, high
  for (std::uint32_t priority : {1u, 2u, 3u}) {
    const metainfo m = single_file("x", byte_buffer(40000, static_cast<std::uint8_t>(priority)));
    auto t = s.add_torrent(m, {.priority = priority}, {});
    REQUIRE(t);
    ts.push_back(*t);
  }
  // ceil(20 * p^2 / 14)
  CHECK(s.connection_share(ts[0]) == 2);
  CHECK(s.connection_share(ts[1]) == 6);
  CHECK(s.connection_share(ts[2]) == 13);
  CHECK(s.torrent_priority(ts[2]) == 3);
  std::map<std::uint32_t, std::size_t> dials;  // per torrent
  const auto count_dials = [&] {
    while (auto c = s.poll_connect()) ++dials[c->torrent.value];
  };
  for (std::size_t k = 0; k < ts.size(); ++k)
    for (std::uint8_t i = 1; i <= 10; ++i)
      s.add_peer(ts[k], wire::make_endpoint_v4({10, 0, static_cast<std::uint8_t>(k), i}, 6881), {});
  count_dials();
  CHECK(dials[ts[0].value] == 2);
  CHECK(dials[ts[1].value] == 6);
  CHECK(dials[ts[2].value] == 10);  // all it knows; 2 of the session's 20 are left
  // Raised to 3: its share is ceil(20 * 9 / 22) = 9, and it dials what the session has left.
  s.set_torrent_priority(ts[0], 3, {});
  CHECK(s.connection_share(ts[0]) == 9);
  count_dials();
  CHECK(dials[ts[0].value] == 4);
  // Lowered: nothing is closed. A paused torrent's weight leaves the sum.
  s.set_torrent_priority(ts[0], 1, {});
  CHECK_FALSE(s.poll_close());
  s.pause_torrent(ts[1], {});
  CHECK(s.connection_share(ts[2]) == 18);  // 20 * 9 / (1 + 9)
  // 0 counts as 1.
  s.set_torrent_priority(ts[0], 0, {});
  CHECK(s.torrent_priority(ts[0]) == 1);
  CHECK(s.torrent_priority(torrent_id{99}) == 0);
}

TEST_CASE("[session] without a session-wide limit priority changes nothing: each torrent has max_connections_per_torrent", "[session]") {
  session s(settings());
  const metainfo m = single_file("x", byte_buffer(40000, 7));
  auto t = s.add_torrent(m, {.priority = 5}, {});
  REQUIRE(t);
  CHECK(s.connection_share(*t) == s.max_connections_per_torrent());
}

TEST_CASE("[session] a magnet fetches metadata from a hand-driven peer; a peer that sends wrong metadata is banned", "[session]") {
  // The torrent the peer claims to have.
  byte_buffer content(50000);
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<std::uint8_t>(i % 253);
  const metainfo m = single_file("m.bin", content);
  session s(settings());
  auto t = s.add_magnet(m.info_hash, "m", {});
  REQUIRE(t);
  const auto c = s.accept_connection(wire::make_endpoint_v4({9, 9, 9, 9}, 99), {});
  byte_buffer in;
  wire::peer_id id{};
  id.fill('m');
  wire::encode_to(wire::make_handshake(m.info_hash, id, {true, true, false}), in);
  wire::extension_handshake theirs;
  theirs.m["ut_metadata"] = 3;
  theirs.metadata_size = static_cast<std::uint32_t>(m.info_bytes.size());
  wire::encode_to(wire::extended{0, wire::encode_extension_handshake(theirs)}, in);
  s.bytes_received(c, in, {});
  // The session asks for piece 0 under our id 3.
  byte_buffer out;
  while (auto tx = s.poll_transmit()) out.insert(out.end(), tx->data.begin(), tx->data.end());
  wire::handshake_reader hr;
  auto hp = hr.feed(out);
  REQUIRE(hp);
  wire::message_reader reader;
  reader.feed(byte_view(out).subspan(hp->consumed));
  bool asked = false;
  std::uint8_t our_metadata_id = 0;
  while (true) {
    auto msg = reader.next();
    REQUIRE(msg);
    if (!*msg) break;
    if (auto* e = std::get_if<wire::extended>(&**msg)) {
      if (e->id == 0) {
        auto h = wire::decode_extension_handshake(e->payload);
        REQUIRE(h);
        our_metadata_id = h->id_of(wire::ut_metadata_name).value_or(0);
      } else if (e->id == 3) {
        auto req = wire::decode_metadata_message(e->payload);
        REQUIRE(req);
        REQUIRE(*req);
        CHECK((*req)->type == wire::metadata_msg_type::request);
        CHECK((*req)->piece == 0);
        asked = true;
      }
    }
  }
  REQUIRE(asked);
  REQUIRE(our_metadata_id != 0);

  auto send_metadata = [&](byte_view info) {
    wire::metadata_message data;
    data.type = wire::metadata_msg_type::data;
    data.piece = 0;
    data.total_size = static_cast<std::uint32_t>(m.info_bytes.size());
    data.data = info;
    s.bytes_received(c, wire::encode(wire::extended{our_metadata_id, wire::encode_metadata_message(data)}), {});
  };
  std::vector<session_event> events;
  auto drain = [&] {
    while (auto e = s.poll_event()) events.push_back(*e);
  };
  SECTION("the right metadata") {
    send_metadata(m.info_bytes);
    drain();
    REQUIRE(s.torrent_metainfo(*t));
    CHECK(s.torrent_metainfo(*t)->info_hash == m.info_hash);
    CHECK(std::any_of(events.begin(), events.end(),
                      [](const auto& e) { return std::holds_alternative<metadata_received_event>(e); }));
    // The peer said nothing about its pieces yet: no interest, no requests.
    CHECK(s.stats(*t)->has_metadata);
    CHECK(s.stats(*t)->total == m.total_length);
  }
  SECTION("wrong metadata of the right size") {
    byte_buffer wrong = m.info_bytes;
    wrong[wrong.size() / 2] ^= 1;
    send_metadata(wrong);
    drain();
    CHECK_FALSE(s.torrent_metainfo(*t));
    CHECK(std::any_of(events.begin(), events.end(),
                      [](const auto& e) { return std::holds_alternative<peer_banned_event>(e); }));
    CHECK(std::any_of(events.begin(), events.end(), [](const auto& e) {
      const auto* w = std::get_if<warning_event>(&e);
      return w && w->code == errc::session_metadata_mismatch;  // a code apps can tell (it was ok)
    }));
    REQUIRE(s.poll_close());
  }
}

namespace {

// Hand-driven peers of a magnet that say they have its metadata (of the size each names).
struct metadata_peers {
  session& s;
  const metainfo& m;
  std::map<std::uint32_t, std::pair<bool, wire::message_reader>> readers;

  connection_id connect(std::uint8_t last, time_point now, std::optional<std::uint32_t> size = std::nullopt) {
    const auto c = s.accept_connection(wire::make_endpoint_v4({9, 9, 9, last}, 99), now);
    byte_buffer in;
    wire::peer_id id{};
    id.fill(static_cast<std::uint8_t>('a' + last));
    wire::encode_to(wire::make_handshake(m.info_hash, id, {true, true, false}), in);
    wire::extension_handshake theirs;
    theirs.m["ut_metadata"] = 3;
    theirs.metadata_size = size.value_or(static_cast<std::uint32_t>(m.info_bytes.size()));
    wire::encode_to(wire::extended{0, wire::encode_extension_handshake(theirs)}, in);
    s.bytes_received(c, in, now);
    return c;
  }
  // The metadata pieces each peer was asked for since the last call.
  std::map<std::uint32_t, std::vector<std::uint32_t>> asked() {
    std::map<std::uint32_t, std::vector<std::uint32_t>> out;
    while (auto tx = s.poll_transmit()) {
      auto& [handshake_seen, reader] = readers[tx->connection.value];
      byte_view data(tx->data);
      if (!handshake_seen) {
        wire::handshake_reader hr;
        auto hp = hr.feed(data);
        REQUIRE(hp);
        data = data.subspan(hp->consumed);
        handshake_seen = true;
      }
      reader.feed(data);
      while (auto msg = reader.next()) {
        if (!*msg) break;
        auto* e = std::get_if<wire::extended>(&**msg);
        if (!e || e->id != 3) continue;
        auto req = wire::decode_metadata_message(e->payload);
        if (req && *req && (**req).type == wire::metadata_msg_type::request) out[tx->connection.value].push_back((**req).piece);
      }
    }
    return out;
  }
};

}  // namespace

TEST_CASE("[session] a peer that never answers metadata requests does not hold a magnet back: another peer is asked too", "[session]") {
  byte_buffer content(50000, 7);
  const metainfo m = single_file("q.bin", content);
  session s(settings());
  auto t = s.add_magnet(m.info_hash, "q", {});
  REQUIRE(t);
  const time_point t0{};
  metadata_peers peers{s, m, {}};
  const auto silent = peers.connect(1, t0);
  CHECK(peers.asked().contains(silent.value));
  // At first one peer per piece: another one is not asked yet...
  const auto early = peers.connect(2, t0 + 300ms);
  CHECK_FALSE(peers.asked().contains(early.value));
  // ...one coming after half a second is asked too (WebTorrent asks every peer).
  const auto later = peers.connect(3, t0 + 600ms);
  CHECK(peers.asked().contains(later.value));
  // At the timeout the silent peer is not asked again; a peer not asked yet is.
  for (auto at = t0 + 2s; at <= t0 + 13s; at += 1s) s.on_timer(at);
  const auto again = peers.asked();
  CHECK_FALSE(again.contains(silent.value));
  CHECK(again.contains(early.value));
}

TEST_CASE("[session] a peer that names a false metadata size does not hold a magnet back: each size is fetched from its own peers", "[session]") {
  byte_buffer content(50000, 8);
  const metainfo m = single_file("z.bin", content);
  const auto lie = static_cast<std::uint32_t>(GENERATE(40000, 50));  // more pieces than there are, or fewer
  INFO("the lie: " << lie);
  session s(settings());
  auto t = s.add_magnet(m.info_hash, "z", {});
  REQUIRE(t);
  time_point now{};
  metadata_peers peers{s, m, {}};
  const auto answer = [&](connection_id c) {
    wire::metadata_message reply;
    reply.type = wire::metadata_msg_type::data;
    reply.piece = 0;
    reply.total_size = static_cast<std::uint32_t>(m.info_bytes.size());
    reply.data = m.info_bytes;
    byte_buffer in;
    wire::encode_to(wire::extended{1, wire::encode_metadata_message(reply)}, in);  // our ut_metadata id
    s.bytes_received(c, in, now);
  };
  const auto closed = [&](connection_id c) {
    bool found = false;
    while (auto close = s.poll_close()) found = found || close->connection == c;
    return found;
  };

  SECTION("a liar, then an honest peer: both are asked at once, and the honest one's answer is the metadata") {
    const auto liar = peers.connect(1, now, lie);
    const auto honest = peers.connect(2, now);
    auto asked = peers.asked();
    CHECK(asked.contains(liar.value));
    REQUIRE(asked[honest.value] == std::vector<std::uint32_t>{0});
    answer(honest);
    CHECK(s.stats(*t)->has_metadata);
    CHECK_FALSE(closed(honest));
    CHECK_FALSE(closed(liar));
  }
  SECTION("two liars of two sizes fill the fetches: the honest size waits for one of them to time out") {
    const auto liar = peers.connect(1, now, lie);
    const auto other_liar = peers.connect(3, now, lie + 1);
    const auto honest = peers.connect(2, now);
    auto asked = peers.asked();
    CHECK(asked.contains(liar.value));
    CHECK(asked.contains(other_liar.value));
    CHECK_FALSE(asked.contains(honest.value));
    std::vector<std::uint32_t> pieces;
    for (now = time_point{} + 1s; now <= time_point{} + 13s && pieces.empty(); now += 1s) {
      s.on_timer(now);
      pieces = peers.asked()[honest.value];
    }
    REQUIRE(pieces == std::vector<std::uint32_t>{0});
    CHECK(now > time_point{} + 10s);  // metadata_request_timeout
    answer(honest);
    CHECK(s.stats(*t)->has_metadata);
    CHECK_FALSE(closed(honest));
  }
}

namespace {

// Several hand-driven peers on one seeding session.
struct multi_fixture {
  session s;
  metainfo meta;
  torrent_id torrent;
  std::vector<connection_id> conns;
  std::map<std::uint32_t, byte_buffer> received;  // raw bytes per connection
  time_point now{};

  explicit multi_fixture(std::size_t peers) : s(settings()) {
    byte_buffer data(100000, 1);
    const metainfo m = single_file("c.bin", data);
    meta = m;
    torrent = *s.add_torrent(meta, {.seed = true}, now);
    for (std::size_t i = 0; i < peers; ++i) {
      const auto c = s.accept_connection(
          wire::make_endpoint_v4({10, 1, 0, static_cast<std::uint8_t>(i)}, 6881), now);
      conns.push_back(c);
      byte_buffer hb;
      wire::peer_id id{};
      id.fill(static_cast<std::uint8_t>('A' + i));
      wire::encode_to(wire::make_handshake(meta.info_hash, id, {true, true, false}), hb);
      wire::encode_to(wire::interested{}, hb);
      s.bytes_received(c, hb, now);
    }
    drain();
  }
  void drain() {
    while (auto t = s.poll_transmit()) {
      auto& r = received[t->connection.value];
      r.insert(r.end(), t->data.begin(), t->data.end());
    }
    while (s.poll_event()) {}
  }
  void advance(duration d) {
    const time_point end = now + d;
    while (now < end) {
      now = std::min(end, s.next_deadline().value_or(end));
      s.on_timer(now);
      // Keep the peers alive.
      for (auto c : conns) s.bytes_received(c, wire::encode(wire::keep_alive{}), now);
      drain();
    }
  }
  std::set<std::uint32_t> unchoked() const {
    std::set<std::uint32_t> out;
    for (const auto& p : s.peers(torrent))
      if (!p.am_choking) out.insert(p.connection.value);
    return out;
  }
};

}  // namespace

TEST_CASE("[session] the choker keeps 4 regular and 1 optimistic unchoke, and rotates the optimistic one", "[session]") {
  multi_fixture f(8);
  REQUIRE(f.s.peers(f.torrent).size() == 8);
  CHECK(f.unchoked().size() == 5);
  std::set<std::uint32_t> ever = f.unchoked();
  for (int round = 0; round < 6; ++round) {
    f.advance(std::chrono::seconds(30));
    CHECK(f.unchoked().size() == 5);
    const auto now_unchoked = f.unchoked();
    ever.insert(now_unchoked.begin(), now_unchoked.end());
  }
  // Over three minutes of 30 s optimistic rotations every peer got a turn.
  CHECK(ever.size() == 8);
}

TEST_CASE("[session] random bytes after a valid handshake never break the session", "[session]") {
  // Valid frames with random ids and payloads, and raw noise: the session either
  // handles them or closes the connection; it stays usable for other peers.
  std::uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005u + 1442695040888963407u;
    return static_cast<std::uint32_t>(state >> 33);
  };
  for (int run = 0; run < 200; ++run) {
    fixture f(run % 2 == 0);
    f.send_handshake();
    byte_buffer noise;
    const std::uint32_t frames = 1 + next() % 20;
    for (std::uint32_t i = 0; i < frames; ++i) {
      if (next() % 4 == 0) {
        for (std::uint32_t k = next() % 40; k > 0; --k) noise.push_back(static_cast<std::uint8_t>(next()));
        continue;
      }
      const std::uint32_t len = next() % 30;
      const auto id = static_cast<std::uint8_t>(next() % 22);
      const std::uint32_t total = len + 1;
      noise.push_back(static_cast<std::uint8_t>(total >> 24));
      noise.push_back(static_cast<std::uint8_t>(total >> 16));
      noise.push_back(static_cast<std::uint8_t>(total >> 8));
      noise.push_back(static_cast<std::uint8_t>(total));
      noise.push_back(id);
      for (std::uint32_t k = 0; k < len; ++k) noise.push_back(static_cast<std::uint8_t>(next() % 4 == 0 ? 0 : next()));
    }
    // Delivered in random chunks, with timers in between.
    std::size_t at = 0;
    while (at < noise.size()) {
      const std::size_t n = std::min<std::size_t>(noise.size() - at, 1 + next() % 64);
      f.s.bytes_received(f.conn, byte_view(noise).subspan(at, n), f.now);
      f.now += std::chrono::milliseconds(next() % 3000);
      f.s.on_timer(f.now);
      while (auto r = f.s.poll_storage()) f.s.storage_completed(f.storage.complete(*r), f.now);
      while (f.s.poll_transmit()) {}
      while (f.s.poll_event()) {}
      at += n;
    }
    f.s.connection_closed(f.conn, f.now);
    // A fresh peer still gets a handshake back.
    const auto c2 = f.s.accept_connection(wire::make_endpoint_v4({5, 5, 5, 5}, 5), f.now);
    byte_buffer hb;
    wire::peer_id id{};
    id.fill('z');
    wire::encode_to(wire::make_handshake(f.meta.info_hash, id, {true, true, false}), hb);
    f.s.bytes_received(c2, hb, f.now);
    bool answered = false;
    while (auto t = f.s.poll_transmit())
      if (t->connection == c2 && t->data.size() >= wire::handshake_size) answered = true;
    CHECK(answered);
  }
}

namespace {

// Everything a session has queued, drained (storage completed from `storage`).
struct outputs {
  std::vector<transmit> transmits;
  std::vector<close_request> closes;
  std::vector<connect_request> connects;
  std::vector<session_event> events;
};
outputs drain_all(session& s, memory_storage& storage, time_point now) {
  outputs o;
  for (bool progress = true; progress;) {
    progress = false;
    while (auto r = s.poll_storage()) {
      progress = true;
      s.storage_completed(storage.complete(*r), now);
    }
    while (auto t = s.poll_transmit()) {
      progress = true;
      o.transmits.push_back(std::move(*t));
    }
    while (auto c = s.poll_close()) {
      progress = true;
      o.closes.push_back(std::move(*c));
    }
    while (auto c = s.poll_connect()) {
      progress = true;
      o.connects.push_back(std::move(*c));
    }
    while (auto e = s.poll_event()) {
      progress = true;
      o.events.push_back(std::move(*e));
    }
  }
  return o;
}

}  // namespace

TEST_CASE("[session] pause closes connections and refuses new ones; pieces, reads and peers are kept for resume", "[session]") {
  fixture f(true);
  f.send_handshake();
  f.send(wire::interested{});
  const auto other = wire::make_endpoint_v4({5, 6, 7, 8}, 6881);
  f.s.add_peer(f.torrent, other, f.now);
  auto dial = f.s.poll_connect();
  REQUIRE(dial);
  CHECK(dial->remote == other);
  REQUIRE(f.s.stats(f.torrent)->peers == 1);
  CHECK_FALSE(f.s.stats(f.torrent)->paused);

  f.s.pause_torrent(f.torrent, f.now);
  auto out = drain_all(f.s, f.storage, f.now);
  // Both the connected peer and the half-open dial are closed.
  REQUIRE(out.closes.size() == 2);
  for (const auto& c : out.closes) CHECK(c.reason == "torrent paused");
  CHECK(f.s.stats(f.torrent)->paused);
  CHECK(f.s.stats(f.torrent)->peers == 0);
  CHECK(f.s.have_pieces(f.torrent)->all());  // verified pieces stay

  // An incoming connection for the paused torrent is refused after its handshake.
  const auto in = f.s.accept_connection(wire::make_endpoint_v4({9, 9, 9, 9}, 1), f.now);
  f.s.bytes_received(in, handshake_bytes(f.meta.info_hash, 'x'), f.now);
  out = drain_all(f.s, f.storage, f.now);
  REQUIRE(out.closes.size() == 1);
  CHECK(out.closes[0].connection == in);
  CHECK(out.closes[0].reason == "torrent paused");
  // No dialing, not even after ticks or a new peer address.
  f.s.add_peer(f.torrent, wire::make_endpoint_v4({7, 7, 7, 7}, 7), f.now);
  f.now += 30s;
  f.s.on_timer(f.now);
  out = drain_all(f.s, f.storage, f.now);
  CHECK(out.connects.empty());
  // Reads of verified bytes still complete.
  const auto read = f.s.read(f.torrent, 100, 5000, f.now);
  REQUIRE(read != 0);
  out = drain_all(f.s, f.storage, f.now);
  const auto done = std::find_if(out.events.begin(), out.events.end(),
                                 [](const auto& e) { return std::holds_alternative<read_completed_event>(e); });
  REQUIRE(done != out.events.end());
  const auto& r = std::get<read_completed_event>(*done);
  CHECK(r.read == read);
  CHECK(r.ok);
  CHECK(std::equal(r.data.begin(), r.data.end(), f.data.begin() + 100));

  // Resume dials the peer it had dialled and the one added meanwhile, at once.
  f.s.resume_torrent(f.torrent, f.now);
  out = drain_all(f.s, f.storage, f.now);
  CHECK_FALSE(f.s.stats(f.torrent)->paused);
  std::set<std::string> dialled;
  for (const auto& c : out.connects) dialled.insert(wire::to_string(c.remote));
  CHECK(dialled == std::set<std::string>{wire::to_string(other), "7.7.7.7:7"});
  // Pausing twice or resuming a running torrent does nothing.
  f.s.resume_torrent(f.torrent, f.now);
  CHECK(drain_all(f.s, f.storage, f.now).connects.empty());
}

// Pieces of 32 KiB: A [0, 100000) holds pieces 0-3, B [100000, 150000) pieces 3-4,
// C [150000, 270000) pieces 4-8.
metainfo three_files_torrent() {
  const byte_buffer a(100000, 1), b(50000, 2), c(120000, 3);
  const input_file files[] = {{"d/a", a}, {"d/b", b}, {"d/c", c}};
  create_options o;
  o.name = "d";
  o.piece_length = piece_len;
  auto m = parse_metainfo(*create_torrent(files, o));
  REQUIRE(m);
  REQUIRE(m->piece_count() == 9);
  return *m;
}

TEST_CASE("[session] piece priorities: the last call wins; a file's shared pieces keep the highest file priority", "[session]") {
  const auto m = std::optional<metainfo>(three_files_torrent());
  session s(settings());
  const time_point now{};
  const auto t = *s.add_torrent(*m, {}, now);
  auto prios = [&] {
    std::string out;
    for (auto p : s.piece_priorities(t)) out += static_cast<char>('0' + p);
    return out;
  };
  CHECK(prios() == "444444444");

  // Deselecting B leaves its two pieces to A and C.
  s.set_file_priority(t, file_index{1}, 0, now);
  CHECK(prios() == "444444444");
  s.set_file_priority(t, file_index{0}, 0, now);
  CHECK(prios() == "000044444");
  // A range over everything: every file is now deselected, and the torrent has
  // nothing left to download.
  CHECK(s.set_piece_priority(t, {piece_index{0}, piece_index{8}}, 0, now));
  CHECK(prios() == "000000000");
  CHECK(s.stats(t)->finished);
  // Selecting one file selects its pieces, shared ones included...
  s.set_file_priority(t, file_index{1}, 6, now);
  CHECK(prios() == "000660000");
  CHECK_FALSE(s.stats(t)->finished);
  // ...and deselecting it again drops them: its neighbours were deselected too.
  s.set_file_priority(t, file_index{1}, 0, now);
  CHECK(prios() == "000000000");
  // Ranges are clipped to the torrent and clamped to 7; a later file call wins over
  // them.
  CHECK(s.set_piece_priority(t, {piece_index{7}, piece_index{20}}, 9, now));
  CHECK(prios() == "000000077");
  s.set_file_priority(t, file_index{0}, 2, now);
  CHECK(prios() == "222200077");
  s.set_file_priority(t, file_index{2}, 5, now);
  CHECK(prios() == "222255555");
  // A range that covers part of a file leaves that file's own priority alone.
  CHECK(s.set_piece_priority(t, {piece_index{4}, piece_index{5}}, 1, now));
  CHECK(prios() == "222211555");
  s.set_file_priority(t, file_index{1}, 0, now);
  CHECK(prios() == "222251555");  // piece 3: A (2); piece 4: C (5)
  // Out of range, reversed, unknown torrent: refused.
  CHECK_FALSE(s.set_piece_priority(t, {piece_index{9}, piece_index{9}}, 4, now));
  CHECK_FALSE(s.set_piece_priority(t, {piece_index{5}, piece_index{4}}, 4, now));
  CHECK_FALSE(s.set_piece_priority(torrent_id{99}, {piece_index{0}, piece_index{0}}, 4, now));
  CHECK_FALSE(s.add_critical_pieces(t, {piece_index{9}, piece_index{10}}, now));
  // Before the metadata, ranges are refused (the piece count is unknown).
  const auto magnet = *s.add_magnet(sha1_digest{}, "x", now);
  CHECK_FALSE(s.set_piece_priority(magnet, {piece_index{0}, piece_index{0}}, 4, now));
  CHECK_FALSE(s.add_critical_pieces(magnet, {piece_index{0}, piece_index{0}}, now));
  CHECK(s.piece_priorities(magnet).empty());
  CHECK(s.piece_states(magnet).empty());
}

TEST_CASE("[session] select_missing: what was deselected and is missing comes back at the given priority, as WebTorrent's startup check selects it", "[session]") {
  const auto m = std::optional<metainfo>(three_files_torrent());
  session s(settings());
  const time_point now{};
  const auto t = *s.add_torrent(*m, {}, now);
  auto prios = [&](torrent_id id) {
    std::string out;
    for (auto p : s.piece_priorities(id)) out += static_cast<char>('0' + p);
    return out;
  };
  s.set_file_priority(t, file_index{0}, 0, now);
  CHECK(s.set_piece_priority(t, {piece_index{7}, piece_index{8}}, 0, now));
  s.set_file_priority(t, file_index{1}, 6, now);
  CHECK(prios(t) == "000664400");
  CHECK(s.select_missing(t, 1, now));
  CHECK(prios(t) == "111664411");
  // File A counts as selected again: deselecting B leaves their shared piece to A's 1.
  s.set_file_priority(t, file_index{1}, 0, now);
  CHECK(prios(t) == "111144411");
  CHECK_FALSE(s.stats(t)->finished);
  // Pieces already had stay as they are; a magnet without metadata is refused.
  s.remove_torrent(t, now);
  const auto seed = *s.add_torrent(*m, {.seed = true}, now);
  CHECK(s.set_piece_priority(seed, {piece_index{0}, piece_index{8}}, 0, now));
  CHECK(s.select_missing(seed, 1, now));
  CHECK(prios(seed) == "000000000");
  CHECK_FALSE(s.select_missing(*s.add_magnet(sha1_digest{1}, "x", now), 1, now));
}

TEST_CASE("[session] critical pieces are requested before all others, even deselected ones", "[session]") {
  fixture f(false);
  f.send_handshake();
  f.send(wire::have_all{});
  // Pieces 3 and 4 (the short last one): not wanted, but critical.
  REQUIRE(f.s.set_piece_priority(f.torrent, {piece_index{3}, piece_index{4}}, 0, f.now));
  REQUIRE(f.s.add_critical_pieces(f.torrent, {piece_index{3}, piece_index{4}}, f.now));
  f.send(wire::unchoke{});
  const auto requests = f.sent<wire::request>();
  REQUIRE(requests.size() >= 3);
  CHECK(requests[0].piece.value == 3);
  CHECK(requests[1].piece.value == 3);
  CHECK(requests[2].piece.value == 4);
  std::string states;
  for (auto st : f.s.piece_states(f.torrent)) states += static_cast<char>('0' + st);
  CHECK(states.substr(3) == "11");  // downloading

  for (const auto& r : requests) {
    if (r.piece.value < 3) continue;
    const auto at = std::size_t{r.piece.value} * piece_len + r.begin;
    f.send(wire::piece_block{r.piece, r.begin, byte_view(f.data).subspan(at, r.length)});
  }
  states.clear();
  for (auto st : f.s.piece_states(f.torrent)) states += static_cast<char>('0' + st);
  CHECK(states.substr(3) == "33");  // verified
  // Critical pieces that are all there already: accepted, nothing to do.
  CHECK(f.s.add_critical_pieces(f.torrent, {piece_index{3}, piece_index{4}}, f.now));
}

TEST_CASE("[session] lowering max connections closes the excess at once; raising it dials waiting peers", "[session]") {
  fixture f(true);
  f.send_handshake();
  std::vector<connection_id> more;
  for (std::uint8_t i = 0; i < 2; ++i) {
    more.push_back(f.s.accept_connection(wire::make_endpoint_v4({10, 0, 0, i}, 1), f.now));
    f.s.bytes_received(more.back(), handshake_bytes(f.meta.info_hash, static_cast<std::uint8_t>('a' + i)), f.now);
  }
  (void)drain_all(f.s, f.storage, f.now);  // their handshakes (the fixture parses only its own)
  REQUIRE(f.s.stats(f.torrent)->peers == 3);
  // The hand-driven peer is the fastest: it keeps its connection.
  f.send(wire::interested{});
  f.send(wire::request{piece_index{0}, 0, 16384});
  f.now += 1s;
  f.s.on_timer(f.now);
  (void)drain_all(f.s, f.storage, f.now);
  f.s.set_max_connections_per_torrent(1, f.now);
  CHECK(f.s.max_connections_per_torrent() == 1);
  auto out = drain_all(f.s, f.storage, f.now);
  REQUIRE(out.closes.size() == 2);
  for (const auto& c : out.closes) {
    CHECK(c.reason == "too many connections");
    CHECK(c.connection != f.conn);
  }
  CHECK(f.s.stats(f.torrent)->peers == 1);
  // Full: a new address waits...
  const auto waiting = wire::make_endpoint_v4({3, 3, 3, 3}, 3);
  f.s.add_peer(f.torrent, waiting, f.now);
  CHECK(drain_all(f.s, f.storage, f.now).connects.empty());
  // ...until there is room.
  f.s.set_max_connections_per_torrent(5, f.now);
  out = drain_all(f.s, f.storage, f.now);
  REQUIRE(out.connects.size() == 1);
  CHECK(out.connects[0].remote == waiting);
}

TEST_CASE("[session] a failed dial makes room for the next at once; a peer that broke the protocol is not redialled", "[session]") {
  fixture f(false);
  // 40 dead addresses, then a live one: dials go out max_half_open at a time...
  for (std::uint8_t i = 0; i < 40; ++i) f.s.add_peer(f.torrent, wire::make_endpoint_v4({10, 1, 1, i}, 1000), f.now);
  const auto live = wire::make_endpoint_v4({10, 2, 2, 2}, 2000);
  f.s.add_peer(f.torrent, live, f.now);
  auto out = drain_all(f.s, f.storage, f.now);
  REQUIRE(out.connects.size() == settings().max_half_open);
  // ...and each refusal dials the next one in the same call, with no timer in between.
  std::optional<connection_id> live_dial;
  for (std::size_t i = 0; i < out.connects.size(); ++i) {
    if (out.connects[i].remote == live) {
      live_dial = out.connects[i].connection;
      continue;
    }
    f.s.connection_closed(out.connects[i].connection, f.now);
    const auto more = drain_all(f.s, f.storage, f.now);
    out.connects.insert(out.connects.end(), more.connects.begin(), more.connects.end());
  }
  REQUIRE(live_dial);
  // The live peer breaks the protocol (a bitfield with its spare bits set): closed, and
  // not redialled however long we wait (it was every 5 s, for good).
  f.s.connection_opened(*live_dial, f.now);
  byte_buffer in = handshake_bytes(f.meta.info_hash, 'v');
  wire::encode_to(wire::bitfield{byte_buffer{0xff}}, in);
  f.s.bytes_received(*live_dial, in, f.now);
  out = drain_all(f.s, f.storage, f.now);
  REQUIRE(out.closes.size() == 1);
  for (int second = 0; second < 600; ++second) {
    f.now += 1s;
    f.s.on_timer(f.now);
    for (const auto& c : drain_all(f.s, f.storage, f.now).connects) CHECK(c.remote != live);
  }
}

TEST_CASE("[session] a torrent holds each address to dial once, up to 10,000, a closed peer's back-off included", "[session]") {
  fixture f(false);
  f.s.set_max_connections_per_torrent(0, f.now);  // nothing is dialled: every address waits
  const auto address = [](std::uint32_t i) {
    return wire::make_endpoint_v4({10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}, 6881);
  };
  std::uint32_t added = 0, invalid = 0;
  for (std::uint32_t i = 0; i < 10'050; ++i) {
    const auto r = f.s.add_peer(f.torrent, address(i), f.now, peer_source::tracker);
    added += r == peer_added::added;
    invalid += r == peer_added::invalid;
  }
  CHECK(added == 10'000);
  CHECK(invalid == 50);  // past the limit: not held, so 'invalidPeer' as WebTorrent's duplicates
  CHECK(f.s.add_peer(f.torrent, address(7), f.now, peer_source::dht) == peer_added::known);
  CHECK(f.s.stats(f.torrent)->peers_by_source[static_cast<std::size_t>(peer_source::tracker)] == 10'000);
  CHECK(f.s.stats(f.torrent)->peers_by_source[static_cast<std::size_t>(peer_source::dht)] == 0);

  // The first is dialled in turn and fails: its address waits out a back-off, still held
  // (known, and counted against the limit), and is dialled again after the others.
  f.s.set_max_connections_per_torrent(1, f.now);
  auto out = drain_all(f.s, f.storage, f.now);
  REQUIRE(out.connects.size() == 1);
  CHECK(out.connects[0].remote == address(0));
  f.s.connection_closed(out.connects[0].connection, f.now);
  (void)drain_all(f.s, f.storage, f.now);  // the next one's dial
  CHECK(f.s.add_peer(f.torrent, address(0), f.now, peer_source::pex) == peer_added::known);
  CHECK(f.s.add_peer(f.torrent, address(20'000), f.now, peer_source::pex) == peer_added::added);
  CHECK(f.s.add_peer(f.torrent, address(20'001), f.now, peer_source::pex) == peer_added::invalid);
  // A removed address makes room.
  CHECK(f.s.remove_peer(f.torrent, address(5), f.now));
  CHECK(f.s.add_peer(f.torrent, address(20'001), f.now, peer_source::pex) == peer_added::added);
  // The app's own add of the address backing off queues it to dial now, not after its
  // back-off (WebTorrent's forgets a closed peer until its redial, so its addPeer takes it).
  const auto by_tracker = [&] { return f.s.stats(f.torrent)->peers_by_source[static_cast<std::size_t>(peer_source::tracker)]; };
  const auto before = by_tracker();  // waiting and connected, not backing off
  CHECK(f.s.add_peer(f.torrent, address(0), f.now) == peer_added::added);
  CHECK(f.s.add_peer(f.torrent, address(0), f.now) == peer_added::known);
  CHECK(by_tracker() == before + 1);  // waiting now, still known by where it was learnt
}

TEST_CASE("[session] an explicit peer id goes into handshakes", "[session]") {
  session_settings st = settings();
  wire::peer_id id{};
  const std::string_view text = "-XX1234-abcdefghijkl";
  std::copy(text.begin(), text.end(), id.begin());
  st.peer_id = id;
  session s(st);
  CHECK(s.peer_id() == id);
  // The rest of what the seed drives does not change with it.
  CHECK(session(settings()).peer_id() != id);
}

TEST_CASE("[session] seed_outgoing_connections false: a complete torrent dials only what add_peer gives by hand", "[session]") {
  session_settings st = settings();
  st.seed_outgoing_connections = false;
  session s(st);
  const byte_buffer bytes(40000, 7);
  const metainfo m = single_file("x", bytes);
  auto seed = s.add_torrent(m, {.seed = true}, {});
  REQUIRE(seed);
  REQUIRE(s.stats(*seed)->finished);
  for (auto source : {peer_source::tracker, peer_source::dht, peer_source::pex, peer_source::lsd})
    CHECK(s.add_peer(*seed, wire::make_endpoint_v4({10, 0, 0, 1}, 6881), {}, source) == peer_added::invalid);
  CHECK_FALSE(s.poll_connect());
  CHECK(s.add_peer(*seed, wire::make_endpoint_v4({10, 0, 0, 2}, 6881), {}, peer_source::manual) == peer_added::added);
  auto dial = s.poll_connect();
  REQUIRE(dial);
  CHECK(dial->remote == wire::make_endpoint_v4({10, 0, 0, 2}, 6881));
  // A torrent still downloading takes them.
  auto leech = s.add_torrent(single_file("y", byte_buffer(40000, 8)), {}, {});
  REQUIRE(leech);
  CHECK(s.add_peer(*leech, wire::make_endpoint_v4({10, 0, 0, 3}, 6881), {}, peer_source::tracker) == peer_added::added);
  CHECK(s.poll_connect());
  // So does one that finished a partial selection (nothing selected): it is not complete,
  // as WebTorrent's torrent is not done.
  auto partial = s.add_torrent(single_file("z", byte_buffer(40000, 9)), {}, {});
  REQUIRE(partial);
  REQUIRE(s.set_piece_priority(*partial, {piece_index{0}, piece_index{2}}, 0, {}));
  REQUIRE(s.stats(*partial)->finished);
  CHECK_FALSE(s.stats(*partial)->complete);
  CHECK(s.stats(*seed)->complete);
  CHECK(s.add_peer(*partial, wire::make_endpoint_v4({10, 0, 0, 4}, 6881), {}, peer_source::tracker) == peer_added::added);
}

TEST_CASE("[session] a peer whose remote is not dialable is never redialled nor passed on through ut_pex", "[session]") {
  // WebRTC data channels have no address: the client facade names each with a stand-in
  // address and says it is not dialable. Peers: `accepted` and `opened` are such channels
  // (both name a listen port in their extension handshake, as any client may); `dialable`
  // is an ordinary incoming connection; `listener` is one too, and receives our ut_pex.
  const byte_buffer content(50000, 3);
  const metainfo m = single_file("d.bin", content);
  session s(settings());
  time_point now{};
  const auto t = s.add_torrent(m, {}, now);  // a leecher: it would redial closed peers
  REQUIRE(t);
  CHECK_FALSE(s.open_connection(torrent_id{99}, wire::make_endpoint_v4({9, 9, 9, 9}, 1), now, dialable::no));
  {
    // A paused torrent takes no connection: closed at once, no handshake sent.
    s.pause_torrent(*t, now);
    const auto c = s.open_connection(*t, wire::make_endpoint_v4({9, 9, 9, 8}, 1), now, dialable::no);
    REQUIRE(c);
    CHECK_FALSE(s.poll_transmit());
    const auto closed = s.poll_close();
    REQUIRE(closed);
    CHECK(closed->connection == *c);
    CHECK(closed->reason == "torrent paused");
    while (s.poll_event()) {}
    s.resume_torrent(*t, now);
  }

  const auto stand_in = [](std::uint8_t n) {
    std::array<std::uint8_t, 16> a{0xfd, 0x77, 0x74};
    a[15] = n;
    return wire::make_endpoint_v6(a, 1);
  };
  std::map<std::uint32_t, byte_buffer> sent;  // what the session sent, per connection
  const auto drain = [&] {
    while (auto tx = s.poll_transmit()) {
      auto& out = sent[tx->connection.value];
      out.insert(out.end(), tx->data.begin(), tx->data.end());
    }
    while (s.poll_event()) {}
    while (s.poll_close()) {}
  };
  const auto greet = [&](connection_id c, std::uint8_t who, std::uint16_t listen_port) {
    byte_buffer in;
    wire::peer_id id{};
    id.fill(who);
    wire::encode_to(wire::make_handshake(m.info_hash, id, {true, true, false}), in);
    wire::extension_handshake h;
    h.m[std::string(wire::ut_pex_name)] = 1;
    h.listen_port = listen_port;
    wire::encode_to(wire::extended{0, wire::encode_extension_handshake(h)}, in);
    s.bytes_received(c, in, now);
    drain();
  };

  const auto accepted = s.accept_connection(stand_in(1), now, dialable::no);
  greet(accepted, 'a', 6881);
  const auto opened = s.open_connection(*t, stand_in(2), now, dialable::no);
  REQUIRE(opened);
  drain();
  // Opened by the host for us: our handshake goes first, as on a connection we dialled.
  REQUIRE(sent[opened->value].size() >= wire::handshake_size);
  greet(*opened, 'o', 6882);
  const auto dialable_peer = s.accept_connection(wire::make_endpoint_v4({10, 0, 0, 3}, 40000), now);
  greet(dialable_peer, 'd', 6883);
  const auto listener = s.accept_connection(wire::make_endpoint_v4({10, 0, 0, 4}, 40001), now);
  greet(listener, 'l', 6884);
  REQUIRE(s.peers(*t).size() == 4);

  const auto run = [&](duration d) {
    for (const time_point end = now + d; now < end;) {
      now = std::min(end, s.next_deadline().value_or(end));
      s.on_timer(now);
      drain();
    }
  };
  run(2s);  // ut_pex goes out at the first tick after the extension handshake

  // The extended messages the session sent on a connection (id 0: its extension handshake).
  const auto extended_sent = [&](connection_id c) {
    std::vector<byte_buffer> out;
    const byte_buffer& stream = sent[c.value];
    wire::handshake_reader hr;
    auto hs = hr.feed(stream);
    REQUIRE(hs);
    wire::message_reader reader;
    reader.feed(byte_view(stream).subspan(hs->consumed));
    while (true) {
      auto msg = reader.next();
      REQUIRE(msg);
      if (!*msg) break;
      if (const auto* ext = std::get_if<wire::extended>(&**msg)) {
        byte_buffer message{ext->id};
        message.insert(message.end(), ext->payload.begin(), ext->payload.end());
        out.push_back(std::move(message));
      }
    }
    return out;
  };
  // What `listener` was told: only the dialable peer, at its listen port.
  std::vector<wire::endpoint> passed_on;
  for (const auto& message : extended_sent(listener)) {
    if (message[0] != 1) continue;
    auto pex = wire::decode_pex_message(byte_view(message).subspan(1));
    REQUIRE(pex);
    for (const auto& a : pex->added) passed_on.push_back(a.peer);
  }
  CHECK(passed_on == std::vector<wire::endpoint>{wire::make_endpoint_v4({10, 0, 0, 3}, 6883)});
  // BEP 10's yourip goes to a peer with an address (its own), not to a data channel.
  const auto yourip_sent = [&](connection_id c) {
    const auto all = extended_sent(c);
    REQUIRE_FALSE(all.empty());
    REQUIRE(all.front()[0] == 0);
    auto h = wire::decode_extension_handshake(byte_view(all.front()).subspan(1));
    REQUIRE(h);
    return h->yourip;
  };
  CHECK(yourip_sent(listener) == byte_buffer{10, 0, 0, 4});
  CHECK_FALSE(yourip_sent(accepted));

  // Every peer goes; only the dialable one is dialled again.
  for (auto c : {accepted, *opened, dialable_peer, listener}) s.connection_closed(c, now);
  drain();
  std::vector<wire::endpoint> dialled;
  for (const time_point end = now + 10min; now < end;) {
    now = std::min(end, s.next_deadline().value_or(end));
    s.on_timer(now);
    while (auto c = s.poll_connect()) {
      dialled.push_back(c->remote);
      s.connection_closed(c->connection, now);  // unreachable: retried with backoff
    }
    drain();
  }
  REQUIRE_FALSE(dialled.empty());
  for (const auto& e : dialled) {
    CHECK(e != stand_in(1));
    CHECK(e != stand_in(2));
    CHECK(e.address[0] == 10);
  }
}

TEST_CASE("[session] a store that falls behind stops new requests until its writes complete", "[session]") {
  session_settings st = settings();
  st.max_pending_write_bytes = piece_len;  // one piece waiting is enough
  fixture f(false, st);
  f.send_handshake();
  f.send(wire::have_all{});
  f.send(wire::unchoke{});
  f.hold_storage = true;
  const auto requests = f.sent<wire::request>();
  REQUIRE(requests.size() >= 4);  // two pieces of two blocks
  auto answer = [&](const wire::request& r) {
    const auto at = std::size_t{r.piece.value} * piece_len + r.begin;
    f.send(wire::piece_block{r.piece, r.begin, byte_view(f.data).subspan(at, r.length)});
  };
  // The first piece arrives and is verified; its write does not complete.
  const auto first = requests.front().piece;
  for (const auto& r : requests)
    if (r.piece == first) answer(r);
  REQUIRE(f.held.size() == 1);
  const std::size_t asked = f.sent<wire::request>().size();
  // The other blocks asked for arrive: nothing new is requested while the store is behind.
  for (const auto& r : requests)
    if (r.piece != first) answer(r);
  CHECK(f.sent<wire::request>().size() == asked);
  // The store catches up: requests go out again.
  for (auto& r : std::exchange(f.held, {})) f.s.storage_completed(f.storage.complete(r), f.now);
  f.hold_storage = false;
  f.drain();
  CHECK(f.sent<wire::request>().size() > asked);
}

TEST_CASE("[session] a peer that connected to us is not dialled at the listen port it named", "[session]") {
  // Over TCP it comes from an ephemeral port; ut_pex, a tracker or the user may name it
  // later by the listen port of its extension handshake. Dialling that would open a
  // second connection to the same peer, closed as a duplicate (and retried, and closed...).
  const byte_buffer content(50000, 3);
  const metainfo m = single_file("d.bin", content);
  session s(settings());
  time_point now{};
  const auto t = s.add_torrent(m, {}, now);
  REQUIRE(t);
  const auto c = s.accept_connection(wire::make_endpoint_v4({10, 0, 0, 3}, 40000), now);
  byte_buffer in;
  wire::peer_id id{};
  id.fill('p');
  wire::encode_to(wire::make_handshake(m.info_hash, id, {true, true, false}), in);
  wire::extension_handshake h;
  h.listen_port = 6883;
  wire::encode_to(wire::extended{0, wire::encode_extension_handshake(h)}, in);
  s.bytes_received(c, in, now);
  REQUIRE(s.peers(*t).size() == 1);

  s.add_peer(*t, wire::make_endpoint_v4({10, 0, 0, 3}, 6883), now);
  CHECK_FALSE(s.poll_connect());
  // Another port of that address is another peer.
  s.add_peer(*t, wire::make_endpoint_v4({10, 0, 0, 3}, 6884), now);
  const auto dial = s.poll_connect();
  REQUIRE(dial);
  CHECK(dial->remote == wire::make_endpoint_v4({10, 0, 0, 3}, 6884));
}

TEST_CASE("[session] addresses learnt are reported in one peers_found_event per run: added, or held already / unusable", "[session]") {
  fixture f(true);
  const auto a = wire::make_endpoint_v4({5, 6, 7, 8}, 6881);
  const auto b = wire::make_endpoint_v4({5, 6, 7, 9}, 6881);
  CHECK(f.s.add_peer(f.torrent, a, f.now, peer_source::tracker) == peer_added::added);
  CHECK(f.s.add_peer(f.torrent, b, f.now, peer_source::tracker) == peer_added::added);
  CHECK(f.s.add_peer(f.torrent, a, f.now, peer_source::pex) == peer_added::known);     // dialling it
  CHECK(f.s.add_peer(f.torrent, wire::make_endpoint_v4({5, 6, 7, 10}, 0), f.now, peer_source::dht) == peer_added::invalid);
  // The host's own add_peer learns the result from the call: no event.
  CHECK(f.s.add_peer(f.torrent, wire::make_endpoint_v4({5, 6, 7, 11}, 6881), f.now, peer_source::manual, false) ==
        peer_added::added);
  CHECK_FALSE(f.s.add_peer(torrent_id{999}, a, f.now));
  const auto out = drain_all(f.s, f.storage, f.now);
  std::vector<peers_found_event> found;
  for (const auto& e : out.events)
    if (auto* pf = std::get_if<peers_found_event>(&e)) found.push_back(*pf);
  REQUIRE(found.size() == 1);
  CHECK(found[0].torrent == f.torrent);
  CHECK(found[0].added == std::vector<wire::endpoint>{a, b});
  CHECK(found[0].invalid == std::vector<wire::endpoint>{a, wire::make_endpoint_v4({5, 6, 7, 10}, 0)});
  CHECK(out.connects.size() == 3);  // a, b and the host's; nothing for port 0
}

TEST_CASE("[session] the IP filter refuses blocked addresses from every source, and closes what it holds when set", "[session]") {
  fixture f(true);
  f.send_handshake();  // 1.2.3.4, incoming, connected
  const auto dialled = wire::make_endpoint_v4({5, 6, 7, 8}, 6881);
  f.s.add_peer(f.torrent, dialled, f.now, peer_source::tracker);
  auto out = drain_all(f.s, f.storage, f.now);
  REQUIRE(out.connects.size() == 1);
  const auto waiting = wire::make_endpoint_v4({5, 6, 7, 9}, 6881);  // a candidate
  f.s.set_max_connections_per_torrent(2, f.now);
  f.s.add_peer(f.torrent, waiting, f.now, peer_source::dht);
  out = drain_all(f.s, f.storage, f.now);
  CHECK(out.connects.empty());
  auto blocked_events = [](const outputs& o) {
    std::vector<peer_blocked_event> b;
    for (const auto& e : o.events)
      if (auto* pb = std::get_if<peer_blocked_event>(&e)) b.push_back(*pb);
    return b;
  };

  SECTION("setting it closes the connections and drops the addresses it holds") {
    auto set = parse_blocklist("1.2.3.4\n5.6.7.0/24\n");
    REQUIRE(set);
    f.s.set_ip_filter(std::move(*set), f.now);
    out = drain_all(f.s, f.storage, f.now);
    CHECK(out.closes.size() == 2);
    for (const auto& c : out.closes) CHECK(c.reason == "blocked");
    const auto b = blocked_events(out);
    REQUIRE(b.size() == 3);
    std::set<std::string> seen;
    for (const auto& e : b) seen.insert(wire::to_string(e.remote) + "/" + std::to_string(static_cast<int>(e.source)));
    CHECK(seen == std::set<std::string>{"1.2.3.4:6881/4", "5.6.7.8:6881/1", "5.6.7.9:6881/2"});
    CHECK(f.s.stats(f.torrent)->peers == 0);
    // Not dialled again, even after the retry back-off.
    f.now += 10min;
    f.s.on_timer(f.now);
    out = drain_all(f.s, f.storage, f.now);
    CHECK(out.connects.empty());
  }

  SECTION("afterwards: add_peer gives an event and no dial; an incoming peer is closed after its handshake, unanswered") {
    auto set = parse_blocklist("9.9.9.0-9.9.9.255\n");
    REQUIRE(set);
    f.s.set_ip_filter(std::move(*set), f.now);
    out = drain_all(f.s, f.storage, f.now);
    CHECK(out.closes.empty());
    CHECK(f.s.blocked(wire::make_endpoint_v4({9, 9, 9, 1}, 1)));
    CHECK_FALSE(f.s.blocked(wire::make_endpoint_v4({9, 9, 10, 1}, 1)));
    f.s.set_max_connections_per_torrent(50, f.now);
    f.s.add_peer(f.torrent, wire::make_endpoint_v4({9, 9, 9, 1}, 6881), f.now, peer_source::pex);
    out = drain_all(f.s, f.storage, f.now);
    CHECK(out.connects.size() == 1);  // the waiting candidate, not the blocked one
    auto b = blocked_events(out);
    REQUIRE(b.size() == 1);
    CHECK(b[0].source == peer_source::pex);
    CHECK(b[0].torrent == f.torrent);

    const auto in = f.s.accept_connection(wire::make_endpoint_v4({9, 9, 9, 2}, 50000), f.now);
    f.s.bytes_received(in, handshake_bytes(f.meta.info_hash, 'x'), f.now);
    out = drain_all(f.s, f.storage, f.now);
    REQUIRE(out.closes.size() == 1);
    CHECK(out.closes[0].connection == in);
    CHECK(out.closes[0].reason == "blocked");
    for (const auto& t : out.transmits) CHECK(t.connection != in);  // no handshake back
    b = blocked_events(out);
    REQUIRE(b.size() == 1);
    CHECK(b[0].source == peer_source::incoming);
    CHECK(wire::to_string(b[0].remote) == "9.9.9.2:50000");

    // A data channel's stand-in address is never filtered.
    auto all = parse_blocklist("::/0\n0.0.0.0/0\n");
    REQUIRE(all);
    f.s.set_ip_filter(std::move(*all), f.now);
    drain_all(f.s, f.storage, f.now);
    const auto channel = f.s.open_connection(f.torrent, wire::make_endpoint_v6({0xfd, 0x77}, 1), f.now, dialable::no);
    REQUIRE(channel);
    out = drain_all(f.s, f.storage, f.now);
    CHECK(out.closes.empty());
  }
}

TEST_CASE("[session] a peer's details before the metadata: its bitfield and haves, bounded", "[session]") {
  byte_buffer content(50000);
  const metainfo m = single_file("m.bin", content);
  session s(settings());
  auto t = s.add_magnet(m.info_hash, "m", {});
  REQUIRE(t);
  const auto c = s.accept_connection(wire::make_endpoint_v4({9, 9, 9, 8}, 98), {});
  CHECK_FALSE(s.peer_details(c));  // no handshake yet
  byte_buffer in;
  wire::peer_id id{};
  id.fill('d');
  wire::encode_to(wire::make_handshake(m.info_hash, id, {true, false, true}), in);
  const std::uint8_t bits[] = {0x80};
  wire::encode_to(wire::bitfield{byte_view(bits)}, in);
  wire::encode_to(wire::have{piece_index{9}}, in);
  wire::encode_to(wire::have{piece_index{0xffffffffu}}, in);  // a lie: no torrent is that big
  s.bytes_received(c, in, {});
  const auto d = s.peer_details(c);
  REQUIRE(d);
  CHECK(d->torrent == *t);
  CHECK_FALSE(d->have_all);
  CHECK(d->pieces == byte_buffer{0x80, 0x40});  // pieces 0 and 9; the lie left out
  CHECK(d->features.extension_protocol);
  CHECK(d->features.dht);
  CHECK_FALSE(d->features.fast);
  CHECK(d->requests.empty());
}
