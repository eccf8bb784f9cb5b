// The session's internal state, shared by its implementation files (not a public
// header): session.cpp (lifecycle and the driving surface), peer_connection.cpp (the
// wire protocol with one peer: handshake, messages, interest, choking, requests),
// torrent.cpp (pieces, hashing, metadata, priorities, the choker round, timers),
// bandwidth.cpp (the session-wide rate limits), extensions.cpp (BEP 10 plugins:
// ut_metadata, ut_pex, user extensions), web_seeds.cpp (BEP 19 web seeds) and
// streamed_pieces.cpp (pieces written to the store block by block and hashed as they come).
//
// Ownership: session::impl owns the torrents (by id), each torrent owns its peer
// connections (by connection id); incoming connections live in `unattached` until
// their handshake names a torrent. A closed connection is marked dead and erased at
// the end of the public call that closed it (collect_garbage), so no loop over peers
// is invalidated by a close.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/crypto.hpp"
#include "picker/piece_picker.hpp"
#include "base/random.hpp"
#include "session/dial_queue.hpp"
#include "session/rate_limit.hpp"
#include "session/rate_meter.hpp"
#include "session/session.hpp"

namespace wt {

namespace session_detail {

inline constexpr std::uint32_t block_size = piece_picker::block_size;
// The info dict a magnet may fetch: WebTorrent's ut_metadata takes up to 10 MB (a torrent
// of 500,000 pieces); the bounded browser heap holds two fetches of this size and a parse.
inline constexpr std::uint32_t max_metadata_size = wire::extension_limits{}.max_metadata_size;
// Blocks a peer may send that we never asked for (late ones after a request was given up,
// say) before it is closed.
inline constexpr std::uint32_t max_unrequested_blocks = 64;
inline constexpr duration metadata_request_timeout = std::chrono::seconds(10);
// Sizes of the metadata fetched at once (see torrent::metadata_fetches): a liar's size beside
// the honest one, and memory for two at most.
inline constexpr std::size_t max_metadata_fetches = 2;
// See peer_connection::rejects_in_a_row.
inline constexpr std::uint32_t reject_burst = 16;
inline constexpr duration reject_pause = std::chrono::seconds(2);
// A metadata piece asked of one peer that has not answered within this is asked of another
// peer too (a peer that stays silent must not hold a magnet back: WebTorrent asks them all).
inline constexpr duration metadata_second_ask = std::chrono::milliseconds(500);

inline double seconds(duration d) { return std::chrono::duration<double>(d).count(); }
inline duration from_seconds(double s) {
  return std::chrono::duration_cast<duration>(std::chrono::duration<double>(s));
}

inline std::string endpoint_key(const wire::endpoint& e) { return wire::to_string(e); }
// The address of an endpoint without its port ("1.2.3.4", "[::1]").
inline std::string host_key(const wire::endpoint& e) {
  std::string text = endpoint_key(e);
  return text.substr(0, text.rfind(':'));
}

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

}  // namespace session_detail

// Per-peer state an extension plugin keeps (see extension_plugin::new_peer_state).
struct extension_peer_state {
  virtual ~extension_peer_state() = default;
};

// --- per-connection state --------------------------------------------------------------

struct peer_connection {
  struct our_request {
    block_address block;
    time_point at;
  };

  connection_id id;
  wire::endpoint remote;
  bool outgoing = false;
  bool open = false;  // the transport is up (outgoing: after connection_opened)
  bool dead = false;  // closed; erased at the end of the current call
  bool no_retry = false;  // do not reconnect after this connection closes
  bool is_dialable = true;  // `remote` is an address to connect to (see wt::dialable)
  peer_source source = peer_source::incoming;
  bool handshake_sent = false;
  bool handshake_done = false;
  wire::handshake_reader hs_reader;
  wire::message_reader reader{wire::reader_limits{}};
  wire::handshake peer_handshake;
  bool fast = false;
  bool extensions = false;
  std::optional<wire::extension_handshake> ext;
  byte_buffer ext_payload;  // the peer's extension handshake as received
  bool metadata_unhelpful = false;  // it let a metadata request time out, or rejected one
  std::uint32_t unrequested_blocks = 0;  // blocks it sent that we never asked for
  // Our extension handshake waits for the host (session_settings::extension_handshake_hold)
  // until `ext_hold_until`; the peer's extended messages wait in `ext_early` meanwhile.
  bool ext_held = false;
  time_point ext_hold_until;
  std::vector<std::pair<std::uint8_t, byte_buffer>> ext_early;
  std::size_t ext_early_bytes = 0;
  // The piece the lt_donthave message being handled took from the peer's pieces (none when
  // it named one the peer did not have): for the host's report of the message.
  std::optional<std::uint32_t> donthave_applied;
  // Likewise the ut_pex message being handled, once taken (not one ignored for coming too soon).
  std::optional<wire::pex_message> pex_taken;
  std::vector<std::unique_ptr<extension_peer_state>> ext_state;  // one per plugin
  // Extensions registered per connection (session::enable_extension) that this one speaks,
  // by id, with the fields they add to our extension handshake to this peer.
  std::map<std::uint32_t, bencode::dict> enabled_extensions;

  // Trust earned by data that passed: a peer with a record whose piece fails (a seeder
  // whose file changed under it, a bad sector) is not asked for that piece again rather
  // than banned, so that the rest of what it has still comes (see piece_failed).
  std::uint32_t pieces_passed = 0;  // pieces it delivered blocks of that passed
  std::uint32_t lone_failures = 0;  // pieces it alone delivered that failed, forgiven
  std::set<std::uint32_t> refused;  // pieces it failed: as if it did not have them

  bitfield has;              // valid once the metadata is known
  bool have_all = false;     // counted in the picker as a seed
  std::uint32_t num_have = 0;
  std::optional<byte_buffer> early_bitfield;  // before the metadata
  std::vector<std::uint32_t> early_haves;

  bool am_choking = true, am_interested = false;
  bool peer_choking = true, peer_interested = false;
  bool optimistic = false;
  std::uint32_t choke_generation = 0;
  std::uint32_t peer_reqq = 250;
  // BEP 6: pieces the peer lets us request while it chokes us (bounded: a peer could
  // send one allowed_fast per piece).
  std::vector<std::uint32_t> allowed_fast;
  std::uint32_t report = 0;  // peer_message_bit mask (session::report_peer_messages)
  bool keep_alive = true;     // session::set_peer_keep_alive
  bool held_choked = false;   // the application choked it (session::set_peer_choked)
  duration request_deadline{0};  // session::set_peer_timeout (zero: none)
  time_point last_block;      // a block from the peer last came (or a timeout ran out)
  time_point last_upload;     // we last sent it a block

  std::vector<our_request> requests;     // ours, outstanding
  // Ours, cancelled, that the peer may still send (it may have queued them before the
  // cancel came): they hold their place in the pipeline until they arrive, are rejected,
  // or could no longer be on their way (`until`).
  struct cancelled_request {
    block_address block;
    time_point until;
  };
  std::vector<cancelled_request> cancelled_out;
  std::deque<wire::request> queued;      // theirs, waiting for a storage read
  std::vector<wire::request> reading;    // theirs, taken from `queued`, their reads in flight
  std::vector<wire::request> cancelled;  // theirs, cancelled while being read
  std::size_t unsent = 0;  // bytes polled but not yet reported sent (flow control)

  std::uint64_t downloaded = 0, uploaded = 0;
  std::uint64_t down_since = 0, up_since = 0;
  double down_rate = 0, up_rate = 0;  // smoothed: they pace requests and rank peers
  rate_meter down_meter, up_meter;    // what apps read (wire.downloadSpeed()), as the torrent's
  time_point connected_at, last_received, last_sent, last_unchoked;
  // Requests the peer rejected since it last sent a block or unchoked us; at reject_burst,
  // no more requests to it until it does, or rejected_until passes (a peer that rejects
  // everything must not get a request for each reject, tens of thousands a second).
  std::uint32_t rejects_in_a_row = 0;
  time_point rejected_until{};
  byte_buffer out;

  peer_handle handle() const noexcept { return peer_handle{id.value}; }
  bool active() const noexcept { return !dead && handshake_done; }
};

// --- web seeds -------------------------------------------------------------------------------

struct web_seed {
  // Its peer handle in the picker (and the connection field of its warnings): drawn from
  // the connection ids, so it never names a peer connection.
  std::uint32_t handle = 0;
  std::string url;
  bool dropped = false;
  time_point retry_at{};       // no new request before (back-off)
  std::uint32_t retries = 0;   // transient failures in a row
  std::uint32_t bad = 0;       // bad responses and failed pieces
  std::uint32_t verified = 0;  // pieces it delivered (some of) that passed their hash
  // Pieces it is not asked for: they touch a file the server lacks (404) or that differs
  // from the torrent's (failed pieces), or failed from it. Empty until the first.
  std::vector<bool> refused;
  std::uint32_t refused_count = 0;
  std::map<std::uint32_t, std::uint32_t> file_failures;  // failed pieces per file index
  std::uint32_t files_lacking = 0;                        // files it answered 404 for
  std::uint32_t failures = 0;  // every failure, for stats
  std::uint32_t runs = 0;      // requests in flight
  std::uint64_t downloaded = 0;
  errc last_error = errc::ok;
  std::string last_message;
};

// One request to a web seed: a run of consecutive blocks, fetched by one HTTP request per
// file it touches (its parts); pad bytes are zeros written at once.
struct web_run {
  torrent_id torrent;
  std::uint32_t seed = 0;
  std::vector<block_address> blocks;
  std::vector<std::int64_t> starts;     // torrent offset of each block
  std::vector<std::uint32_t> missing;   // bytes of each block still to come
  std::int64_t end = 0;                 // torrent offset past the last block
  std::uint32_t open_parts = 0;
};

// What peers can give, for the fallback policy: restricted, a web seed is not asked for a
// piece in peers_have unless it is at risk or the download is in end-game.
struct web_scope {
  std::vector<bool> peers_have;
  bool restricted = false;
  bool end_game = false;
  time_point risk_until;  // a due piece is at risk when due before this
};

// One HTTP request of a run.
struct http_part {
  std::uint64_t run = 0;
  torrent_id torrent;
  std::uint32_t seed = 0;
  webseed::segment seg;
  bool responded = false;
  webseed::body_plan body;
  std::int64_t received = 0;  // body bytes so far
  // The response, or the last web_seed_progress_bytes of body (a server that drips a byte
  // at a time is stalled, not slow): web_seed_timeout counts from here.
  time_point last_activity;
  std::int64_t received_at_activity = 0;
};

// --- per-torrent state ---------------------------------------------------------------------

struct torrent {
  struct failed_block {
    std::uint32_t block = 0;
    std::string endpoint;
    connection_id connection;
    sha1_digest digest{};
  };
  struct metadata_piece {
    bool have = false;
    connection_id requested_from;  // value 0: not requested
    time_point requested_at;
    connection_id also_from;       // a second peer asked after metadata_second_ask (0: none)
    time_point also_at;
    connection_id received_from;
    // Peer `c` will not answer (it closed, or rejected): the other one asked, if any, is
    // the one waited for.
    void forget(connection_id c) {
      if (also_from == c) also_from = connection_id{};
      if (requested_from != c) return;
      requested_from = std::exchange(also_from, connection_id{});
      requested_at = also_at;
    }
  };

  // BEP 27: peers from trackers only (no DHT, no PEX).
  bool is_private() const { return private_override.value_or(meta && meta->is_private); }

  torrent_id id;
  sha1_digest info_hash{};
  std::string name;
  std::optional<metainfo> meta;
  std::optional<bool> private_override;  // add_torrent_params::is_private
  pick_strategy strategy = pick_strategy::rarest_first;  // add_torrent_params::strategy
  std::uint32_t priority = 1;  // add_torrent_params::priority, at least 1
  std::optional<piece_picker> picker;
  bitfield all_pieces;  // every bit set: what a have_all peer has
  std::vector<std::uint8_t> file_priorities;

  std::map<std::uint32_t, peer_connection> peers;
  // Addresses to dial: learnt ones, and closed peers waiting out their back-off.
  dial_queue to_dial;
  std::set<std::string> banned;
  // Peer ids of banned peers: a WebRTC peer has no address of its own (each channel gets a
  // stand-in), so a ban by address alone would not outlast its channel.
  std::set<wire::peer_id> banned_ids;
  // Bans per host (an address without its port): a peer that dials in again from a new port
  // with a new peer id gets past both sets; at bans_per_host its host is banned whole.
  std::map<std::string, std::uint32_t> host_bans;
  std::set<std::string> banned_hosts;
  std::map<std::string, std::uint32_t> failures;  // connect failures in a row
  // Who each handshaken connection was, kept past its close for bans (a piece fails after
  // its senders left): every live connection's, and the last max_past_peers closed ones'.
  struct known_peer {
    wire::endpoint remote;
    wire::peer_id id{};
    bool dialable = true;  // a real address (not a data channel's stand-in)
  };
  static constexpr std::size_t max_past_peers = 1024;
  std::map<std::uint32_t, known_peer> known_peers;
  std::deque<std::uint32_t> past_peers;  // closed connections in known_peers, oldest first

  std::map<std::uint32_t, byte_buffer> piece_buffers;  // blocks of pieces in flight

  // A streamed piece in progress (longer than session_settings::stream_piece_bytes): its
  // blocks go to the store as they arrive and into `hasher` in order. Blocks past the
  // hashed prefix wait in `held` (up to stream_piece_bytes) or, past that, only in the
  // store (`stored`), read back when the prefix reaches them. Once every block is hashed
  // the verdict is acted on when no write or read of the piece is in flight (a piece that
  // failed is then fetched again over the same bytes, never while old writes may land).
  struct streamed_piece {
    std::uint64_t serial = 0;  // names this attempt in pending storage requests
    sha1_hasher hasher;
    std::uint32_t hashed = 0;  // blocks [0, hashed) are in the hasher
    std::map<std::uint32_t, byte_buffer> held;
    std::uint64_t held_bytes = 0;
    std::set<std::uint32_t> stored;
    std::map<std::uint32_t, std::uint32_t> writing;  // block -> its writes in flight
    bool reading = false;      // a read-back in flight
    bool write_failed = false;
    bool read_failed = false;  // a read-back failed: the piece is dropped without blame
    std::optional<bool> matched;  // every block hashed: the verdict
    // Web seed bytes of blocks not complete yet (a seed delivers a block in chunks).
    std::map<std::uint32_t, byte_buffer> assembling;
    // Smart ban: digests of the blocks an earlier failed attempt recorded (failed_blocks),
    // taken as they arrive; and, for a failure with several senders, every block's digest,
    // read back from the store before the piece is fetched again.
    std::map<std::uint32_t, sha1_digest> digests;
    bool blaming = false;
    std::vector<sha1_digest> blame_digests;
  };
  std::map<std::uint32_t, streamed_piece> streams;
  std::uint64_t next_stream = 1;
  std::map<std::uint32_t, std::vector<failed_block>> failed_blocks;  // smart ban
  // A piece that failed with blocks from several peers is fetched again from one
  // peer only (piece -> connection): either that peer is the culprit and fails the
  // piece alone, or the piece passes and the blocks recorded in failed_blocks that
  // differ name the culprit.
  std::map<std::uint32_t, std::uint32_t> exclusive;

  // ut_metadata: one fetch per size that peers named (a peer may lie about it), at most
  // max_metadata_fetches at once, in the order the sizes were named (extensions.cpp).
  struct metadata_fetch {
    std::uint32_t size = 0;
    byte_buffer bytes;  // allocated when its first piece comes
    std::vector<metadata_piece> pieces;
  };
  std::vector<metadata_fetch> metadata_fetches;

  // Streaming readers (id -> offset, readahead) and reads waiting for pieces.
  struct reader_state {
    std::int64_t offset = 0;
    std::int64_t readahead = 0;
  };
  struct user_read {
    std::uint64_t id = 0;
    std::int64_t offset = 0;
    std::uint32_t length = 0;
  };
  std::map<std::uint32_t, reader_state> readers;
  std::uint32_t next_reader = 1;
  // Set when the last reader closes: see session_settings::reader_linger. `linger_ends`
  // asks for a timer call then, when pipelines may take other pieces again.
  time_point streaming_until{};
  bool linger_ends = false;
  // Set when the metadata arrives: the first requests wait for the next timer call, so
  // that a reader the application opens on 'metadata' (it streams the file) is in place
  // before any pipeline fills with other pieces.
  bool requests_held = false;
  std::vector<user_read> reads;
  // Critical piece ranges (add_critical_pieces), as picker deadlines under their own
  // reader handles: from 2^31 up, apart from the readers' (from 1 up).
  std::map<std::uint32_t, piece_range> critical;
  std::uint32_t next_critical = 1u << 31;

  // Web seeds by handle, with the torrent's policy and what they have cost.
  std::map<std::uint32_t, web_seed> web_seeds;
  std::uint32_t max_web_requests = 0;  // per seed; 0: the session's setting
  std::optional<std::uint32_t> upload_slots;  // add_torrent_params::upload_slots
  web_seed_policy seed_policy = web_seed_policy::fallback;
  std::uint64_t seed_budget = 0;
  std::uint64_t seed_requested = 0;   // bytes asked of web seeds
  std::uint64_t seed_downloaded = 0;  // HTTP body bytes received
  time_point seeds_after{};           // fallback: peers get the first pieces until then

  // The torrent's own rate limits (bandwidth.cpp), under the session's: a byte must fit
  // both. `*_waiting`: a peer of the torrent waits for this bucket's tokens.
  token_bucket download_limit{download_earn_fraction}, upload_limit;
  bool download_waiting = false, upload_waiting = false;

  bool finished = false;
  bool paused = false;
  // Resume: the store may hold pieces from an earlier run (add_torrent_params::check).
  // Once the metadata is known every piece is read back and hashed before any block is
  // requested; what matches is had, the rest is downloaded.
  bool check_storage = false;
  bool checking = false;
  std::uint32_t check_next = 0;       // next piece to read back
  std::uint32_t check_done = 0;       // pieces read back (held or not)
  std::uint64_t check_in_flight = 0;  // bytes being read back
  std::uint32_t check_held = 0;       // pieces that matched their hash
  bool rechecking = false;            // this pass is a recheck_torrent()
  // Pieces had on the application's word (add_torrent_params::trusted_bits, trust_all)
  // and not hashed yet; hash_trusted() reads one back before its bytes may leave.
  byte_buffer trusted_bits;
  bool trust_all = false;
  bitfield unhashed;
  std::map<std::uint32_t, bool> trust_hashing;  // in flight: piece -> part of the startup check
  std::uint32_t startup_hashes = 0;             // of which the startup check's
  bool is_unhashed(std::uint32_t piece) const noexcept { return unhashed.test(piece); }
  bool recheck_again = false;         // recheck_torrent() during a pass: run another
  std::uint64_t downloaded = 0, uploaded = 0, verified = 0, wasted = 0;
  std::uint64_t down_since = 0, up_since = 0;  // since the last tick, then into the meters
  rate_meter down_meter, up_meter;
  time_point added{};  // when the session took it: its meters start then
  time_point next_unchoke, next_optimistic;
};

// --- extension plugins -----------------------------------------------------------------------
//
// Every BEP 10 extension, built in (ut_metadata) or registered by the user, is a
// plugin with the same hooks. Its local message id is its index in the session's
// plugin list + 1.

class extension_plugin {
 public:
  virtual ~extension_plugin() = default;
  virtual std::string_view name() const = 0;
  // State kept per peer connection (nullptr: none).
  virtual std::unique_ptr<extension_peer_state> new_peer_state() { return nullptr; }
  // Add fields to our extension handshake for this peer: known ones to `h`, any
  // other top-level field to `extra`.
  virtual void add_handshake(session::impl&, torrent&, peer_connection&, wire::extension_handshake&) {}
  virtual void add_handshake_fields(bencode::dict& /*extra*/) const {}
  // Spoken only on the connections it is enabled on (peer_connection::enabled_extensions).
  virtual bool per_connection() const { return false; }
  // The peer's extension handshake arrived; `peer_id` is its id for us, if it supports us.
  virtual void on_handshake(session::impl&, torrent&, peer_connection&,
                            std::optional<std::uint8_t> peer_id) = 0;
  // A message the peer sent under our id.
  virtual void on_message(session::impl&, torrent&, peer_connection&, byte_view payload) = 0;
  // Once per tick per active peer.
  virtual void on_tick(session::impl&, torrent&, peer_connection&) {}
};

// --- the session ------------------------------------------------------------------------------

struct session::impl {
  struct pending_storage {
    enum class kind : std::uint8_t {
      write_piece, read_block, user_read, check_piece,
      trust_piece,  // a trusted piece read back to hash it (hash_trusted)
      verify_piece,  // a write_piece the host hashes first (storage_request::verify)
      write_block,  // a block of a streamed piece (piece, block, serial)
      read_back,    // blocks [block, block + count) of a streamed piece (piece, serial)
      ignore
    } what = kind::ignore;
    std::uint64_t read_id = 0;  // user_read
    std::int64_t offset = 0;    // user_read
    torrent_id torrent;
    std::uint32_t piece = 0;
    connection_id connection;
    wire::request request;
    std::uint32_t choke_generation = 0;
    std::uint32_t bytes = 0;  // writes: counted in pending_write_bytes
    std::uint32_t block = 0;  // write_block, read_back
    std::uint32_t count = 0;  // read_back
    std::uint64_t serial = 0; // write_block, read_back: torrent::streamed_piece::serial
  };
  // Bytes of verified pieces (or pieces the host verifies) whose storage writes have not
  // completed.
  std::uint64_t pending_write_bytes = 0;
  static bool is_write(const pending_storage& ps) {
    using k = pending_storage::kind;
    return ps.what == k::write_piece || ps.what == k::verify_piece || ps.what == k::write_block;
  }
  bool writes_behind() const noexcept {
    return settings.max_pending_write_bytes > 0 && pending_write_bytes >= settings.max_pending_write_bytes;
  }

  session_settings settings;
  rng random;
  wire::peer_id pid{};
  time_point now{};
  time_point next_tick{};
  time_point last_tick{};
  time_point next_stats{};
  bool ticked = false;

  std::map<std::uint32_t, torrent> torrents;
  std::map<std::uint32_t, peer_connection> unattached;  // incoming, before the handshake
  std::map<std::uint32_t, std::uint32_t> owner;         // connection -> torrent
  std::uint32_t next_torrent = 1;
  std::uint32_t next_connection = 1;
  std::uint64_t next_storage = 1;
  std::uint64_t next_read = 1;
  std::vector<std::unique_ptr<extension_plugin>> plugins;

  std::deque<std::uint32_t> dirty;  // connections with bytes to send
  std::deque<transmit> final_transmits;
  std::deque<close_request> closes;
  std::deque<connect_request> connects;
  std::deque<storage_request> storage;
  std::deque<http_request> http_out;
  std::map<std::uint64_t, web_run> web_runs;
  std::map<std::uint64_t, http_part> http_parts;
  std::uint64_t next_http = 1;
  std::uint64_t next_run = 1;
  // Web seeds that delivered bytes of a piece that failed its hash (torrent, seed handle):
  // judged at the end of the call, not while their bytes are being delivered.
  struct seed_fault {
    torrent_id torrent;
    std::uint32_t seed = 0;
    std::uint32_t piece = 0;
  };
  std::vector<seed_fault> seed_faults;
  std::deque<session_event> events;
  ip_set ip_filter;  // set_ip_filter()
  std::map<std::uint64_t, pending_storage> pending;
  std::vector<std::uint32_t> garbage;  // dead connections to erase

  // Rate limits (bandwidth.cpp). While a limit is set (the session's or the peer's
  // torrent's), request_blocks() and pump_reads() only note that a peer waits;
  // distribute_bandwidth() shares the tokens out at the end of every public call and
  // when next_deadline() wakes the host.
  token_bucket download_limit{download_earn_fraction}, upload_limit;
  bool download_waiting = false, upload_waiting = false;
  std::uint32_t last_download_turn = 0, last_upload_turn = 0;  // round-robin positions

  explicit impl(session_settings s);

  // --- lookup ---
  torrent* find_torrent(torrent_id t) {
    auto it = torrents.find(t.value);
    return it == torrents.end() ? nullptr : &it->second;
  }
  torrent* find_torrent(const sha1_digest& h) {
    for (auto& [id, t] : torrents)
      if (t.info_hash == h) return &t;
    return nullptr;
  }
  peer_connection* find_peer(torrent& t, connection_id c) {
    auto it = t.peers.find(c.value);
    return it == t.peers.end() || it->second.dead ? nullptr : &it->second;
  }
  // An attached connection's torrent and peer; the peer is null when either is gone.
  std::pair<torrent*, peer_connection*> find_connection(connection_id c) {
    auto o = owner.find(c.value);
    if (o == owner.end()) return {nullptr, nullptr};
    torrent* t = find_torrent(torrent_id{o->second});
    return {t, t ? find_peer(*t, c) : nullptr};
  }

  // --- sending ---
  void mark_dirty(peer_connection& p) {
    if (p.out.empty()) dirty.push_back(p.id.value);
  }
  void send(peer_connection& p, const wire::message& m) {
    if (p.dead || !p.open) return;
    mark_dirty(p);
    wire::encode_to(m, p.out);
    p.last_sent = now;
  }
  void send_extended(peer_connection& p, std::uint8_t id, byte_view payload) {
    send(p, wire::extended{id, payload});
  }
  void send_handshake(torrent& t, peer_connection& p) {
    if (p.handshake_sent || !p.open) return;
    mark_dirty(p);
    wire::encode_to(wire::make_handshake(t.info_hash, pid, {true, settings.fast_extension, false}), p.out);
    p.handshake_sent = true;
    p.last_sent = now;
  }

  // --- lifecycle ---
  void close_peer(torrent* t, peer_connection& p, errc code, std::string reason, bool tell_host);
  // The end of every public call that changed state: erase closed connections, then
  // share out rate-limited bandwidth.
  void finish_call() {
    collect_garbage();
    settle_seed_faults();
    distribute_bandwidth();
  }
  // Bans an address, and the peer id of `who` (a WebRTC peer's next channel has another
  // stand-in address).
  void ban(torrent& t, const std::string& endpoint_text, const torrent::known_peer* who,
           std::optional<connection_id> c);
  void collect_garbage();
  void schedule_retry(torrent& t, const peer_connection& p);
  void connect_candidates(torrent& t);
  std::uint32_t connection_share(const torrent& t) const;
  // What add_torrent and add_magnet take alike from the parameters.
  void apply_params(torrent& t, add_torrent_params& params);
  // Connections of every torrent, and incoming ones before their handshake.
  std::uint32_t live_connections() const;
  // The torrent's connections not closed yet (half-open ones too).
  static std::uint32_t live_peers(const torrent& t) {
    std::uint32_t n = 0;
    for (const auto& [id, p] : t.peers) n += !p.dead;
    return n;
  }
  bool at_session_limit() const {
    return settings.max_connections != 0 && live_connections() >= settings.max_connections;
  }
  void enforce_connection_limit(torrent& t);
  // Closes the peer of `t` that exchanged no piece data for longest (at least idle_peer_age,
  // connected as long), else the oldest that neither side is interested in (connected for
  // useless_peer_age), to make room for a new one; false when there is no such peer.
  bool evict_idle_peer(torrent& t);
  using candidate_result = peer_added;
  // report: tell the host in a peers_found_event (every source but the host's own add_peer,
  // which learns the result at once).
  bool unusable(const wire::endpoint& e) const {
    const bool own = settings.listen_port && e.port == *settings.listen_port && !e.v6 &&
                     e.address[0] == 127 && e.address[1] == 0 && e.address[2] == 0 && e.address[3] == 1;
    return e.port == 0 || own;
  }
  candidate_result add_candidate(torrent& t, const wire::endpoint& e, peer_source source, bool report = true) {
    if (!settings.seed_outgoing_connections && t.picker && t.picker->is_seed() && source != peer_source::manual) return candidate_result::invalid;
    if (ip_filter.contains(e)) {
      events.emplace_back(peer_blocked_event{t.id, e, source});
      return candidate_result::blocked;
    }
    const std::string key = session_detail::endpoint_key(e);
    const bool banned = t.banned.contains(key) || t.banned_hosts.contains(session_detail::host_key(e));
    // The app's own add of a peer waiting out a reconnect back-off dials it now, as
    // WebTorrent's (whose peer list forgets a closed peer until its redial).
    const bool manual = source == peer_source::manual;
    if (manual && !banned && t.to_dial.hurry(e)) {
      if (report) report_found(t, e, true);
      make_room_for_manual(t);
      connect_candidates(t);
      return candidate_result::added;
    }
    // A torrent holding as many addresses as it may refuses more, as ones it cannot use.
    const auto result = unusable(e) || banned ? candidate_result::invalid
                        : holds_address(t, e, key)                  ? candidate_result::known
                        : t.to_dial.full()                          ? candidate_result::invalid
                                                                    : candidate_result::added;
    if (report) report_found(t, e, result == candidate_result::added);
    if (result != candidate_result::added) return result;
    // The app's own add is dialled first, not after thousands of a tracker's addresses.
    t.to_dial.add(e, source, manual);
    if (manual) make_room_for_manual(t);
    connect_candidates(t);
    return result;
  }
  // At the limit, a peer the app adds takes the place of an idle one, as one dialling in
  // does: otherwise peers that only hold their connection open would keep it out for good.
  void make_room_for_manual(torrent& t) {
    if (t.paused) return;
    if (live_peers(t) >= connection_share(t) || at_session_limit()) evict_idle_peer(t);
  }
  // The torrent has the address: waiting to be dialled or redialled, or a live connection's
  // (its remote, or for one that connected to us, the listen port it told).
  bool holds_address(const torrent& t, const wire::endpoint& e, const std::string& key) const;
  // One peers_found_event per torrent for a run of addresses (a tracker's answer, a DHT
  // lookup's, a ut_pex message): appended to the last event when that is the torrent's.
  void report_found(const torrent& t, const wire::endpoint& e, bool added) {
    auto* last = events.empty() ? nullptr : std::get_if<peers_found_event>(&events.back());
    if (!last || last->torrent != t.id) last = &std::get<peers_found_event>(events.emplace_back(peers_found_event{t.id, {}, {}}));
    (added ? last->added : last->invalid).push_back(e);
  }

  // --- protocol ---
  void on_handshake(torrent& t, peer_connection& p);
  void feed_messages(torrent& t, peer_connection& p, byte_view data);
  bool handle(torrent& t, peer_connection& p, const wire::message& m);
  // A peer_message_event for the message, if the host asked for its kind.
  void report_message(torrent& t, peer_connection& p, const wire::message& m);
  static peer_message_event peer_message(const torrent& t, const peer_connection& p, peer_message_kind kind) {
    peer_message_event e;
    e.torrent = t.id;
    e.connection = p.id;
    e.kind = kind;
    return e;
  }
  void on_have(torrent& t, peer_connection& p, std::uint32_t piece);
  void on_bitfield(torrent& t, peer_connection& p, byte_view bits);
  void on_have_all(torrent& t, peer_connection& p);
  void on_request(torrent& t, peer_connection& p, const wire::request& r);
  void on_piece(torrent& t, peer_connection& p, const wire::piece_block& b);
  // A block arrived: cancel it with the other peers that have it requested.
  void cancel_duplicates(torrent& t, block_address b, const std::vector<peer_handle>& others);
  void on_extended(torrent& t, peer_connection& p, const wire::extended& e);
  void send_our_pieces(torrent& t, peer_connection& p);
  void send_extension_handshake(torrent& t, peer_connection& p);
  // The connection speaks the plugin of extension id `id` (plugins[id - 1]).
  bool speaks(const peer_connection& p, std::size_t id) const {
    return !plugins[id - 1]->per_connection() || p.enabled_extensions.contains(static_cast<std::uint32_t>(id));
  }
  // Ends the hold of our extension handshake (ext_held): sends it, then handles the
  // peer's extended messages that waited.
  void release_extension_handshake(torrent& t, peer_connection& p);
  void update_interest(torrent& t, peer_connection& p);
  // The peer no longer counts as having `piece` (lt_donthave, or a piece it failed): its
  // availability and our requests for the piece to it go.
  void forget_piece(torrent& t, peer_connection& p, std::uint32_t piece);
  void set_interest(peer_connection& p, bool want);
  // More requests for the peer: at once, or (download limit) when its turn comes.
  void request_blocks(torrent& t, peer_connection& p);
  void request_all(torrent& t) {
    for (auto& [cid, p] : t.peers) request_blocks(t, p);
    request_web_seeds(t);
  }
  // Readers open, or the last one closed less than reader_linger ago.
  bool streaming(const torrent& t) const noexcept { return !t.readers.empty() || now < t.streaming_until; }
  // Sends a cancel for one of our requests (erased from p.requests by the caller) and
  // keeps its place in the pipeline while the block may still be on its way.
  void cancel_request(torrent& t, peer_connection& p, const peer_connection::our_request& r);
  // Drops a cancelled request that arrived, was rejected, or can no longer come.
  static std::size_t forget_cancelled(peer_connection& p, block_address b) {
    return std::erase_if(p.cancelled_out, [&](const auto& c) { return c.block == b; });
  }
  // How many more requests the peer's pipeline takes now.
  std::uint32_t request_room(const torrent& t, const peer_connection& p) const;
  // Requests up to max_blocks blocks (and the room); returns the bytes requested.
  std::uint64_t issue_requests(torrent& t, peer_connection& p, std::uint32_t max_blocks);
  // Storage reads for the peer's queued requests: at once, or (upload limit) when its
  // turn comes.
  void pump_reads(torrent& t, peer_connection& p);
  // The peer has a queued request that a read may start for now (tokens aside).
  bool can_serve(const peer_connection& p) const;
  // Starts up to max_reads reads; returns their bytes.
  std::uint64_t serve_requests(torrent& t, peer_connection& p, std::uint32_t max_reads);
  void distribute_bandwidth();
  void trim_requests(std::uint64_t rate, torrent* only);
  void choke_peer(peer_connection& p);
  void unchoke_peer(peer_connection& p);
  // The torrent's regular unchoke slots and whether it has an optimistic one.
  struct unchoke_slots { std::uint32_t regular; bool optimistic; };
  unchoke_slots unchoke_slots_of(const torrent& t) const {
    if (!t.upload_slots) return {settings.unchoke_slots, settings.optimistic_unchoke};
    return {*t.upload_slots > 0 ? *t.upload_slots - 1 : 0, *t.upload_slots > 0};
  }
  void fill_unchoke_slots(torrent& t);
  void run_choker(torrent& t, bool rotate_optimistic);
  void hash_piece(torrent& t, std::uint32_t piece);
  // A complete piece goes to the store: verified, or with its hash for the host to check
  // (session_settings::host_hashes_pieces).
  void write_piece(torrent& t, std::uint32_t piece, byte_buffer data, bool verify);
  // The host hashed the piece (and wrote it when it matched).
  void piece_verified_by_host(torrent& t, std::uint32_t piece, const storage_completion& c);
  // The hash of a piece matched: smart ban against an earlier failure (digest_of(block):
  // the digest of the block now, nullopt when unknown).
  void piece_passed(torrent& t, std::uint32_t piece,
                    const std::function<std::optional<sha1_digest>(std::uint32_t)>& digest_of);
  // The hash failed: blame, record for smart ban, fetch again (digest_of as above, for the
  // blocks of the failed attempt; called before the picker forgets who sent what).
  void piece_failed(torrent& t, std::uint32_t piece,
                    const std::function<sha1_digest(std::uint32_t)>& digest_of);
  // --- streamed pieces (torrent::streamed_piece) ---
  bool is_streamed(const torrent& t, piece_index p) const {
    return settings.stream_piece_bytes > 0 && t.picker->piece_size(p) > settings.stream_piece_bytes;
  }
  // What a piece in progress counts against max_partial_bytes.
  std::uint64_t partial_piece_bytes(const torrent& t) const {
    const auto len = static_cast<std::uint64_t>(t.picker->piece_length());
    return settings.stream_piece_bytes > 0 && len > settings.stream_piece_bytes ? settings.stream_piece_bytes : len;
  }
  std::uint64_t partial_bytes() const {
    std::uint64_t partial = 0;
    for (const auto& [tid, other] : torrents)
      if (other.picker) partial += std::uint64_t{other.picker->num_partial_pieces()} * partial_piece_bytes(other);
    return partial;
  }
  // A block the picker accepted, whole (a peer's, or a web seed's once complete).
  void stream_block(torrent& t, block_address b, byte_view data);
  // Hashes what can be hashed now; reads back stored blocks the prefix reached; acts on
  // the verdict once nothing of the piece is in flight.
  void advance_stream(torrent& t, std::uint32_t piece);
  void stream_written(torrent& t, const pending_storage& ps, bool ok);
  void stream_read(torrent& t, const pending_storage& ps, const storage_completion& c);
  // Reads back the next blocks to blame (after a failure with several senders).
  void read_back_for_blame(torrent& t, std::uint32_t piece);
  void read_back(torrent& t, torrent::streamed_piece& st, std::uint32_t piece, std::uint32_t first,
                 const std::function<bool(std::uint32_t)>& readable);
  void piece_written(torrent& t, std::uint32_t piece, bool ok);
  void check_finished(torrent& t);
  void set_metadata(torrent& t, metainfo m);
  void apply_file_priorities(torrent& t);
  std::uint8_t file_priority_of_piece(const torrent& t, std::uint32_t piece) const;
  void priorities_changed(torrent& t);
  void drop_finished_critical(torrent& t);
  void apply_reader(torrent& t, std::uint32_t reader);
  void issue_reads(torrent& t);
  // Resume check (torrent::checking): reads pieces back, at most max_check_bytes at once.
  void pump_check(torrent& t);
  void start_check(torrent& t, bool recheck);
  void piece_checked(torrent& t, std::uint32_t piece, const storage_completion& c);
  // The check is over: peers learn what was found, requests may start.
  void end_check(torrent& t);
  // Trusted pieces (torrent::unhashed): taken as had once the metadata is known; false when
  // the torrent has none (its bitfield did not fit: the resume check applies).
  bool apply_trust(torrent& t);
  // Reads a trusted piece back to hash it (once; startup: the check waits for it).
  void hash_trusted(torrent& t, std::uint32_t piece, bool startup);
  void trust_hashed(torrent& t, std::uint32_t piece, const storage_completion& c);
  torrent_stats make_stats(const torrent& t) const;
  void cancel_undue_requests(torrent& t);
  std::vector<std::uint32_t> waiting_pieces(const torrent& t) const;
  void tick(time_point now);

  // --- web seeds (web_seeds.cpp) ---
  web_seed* find_web_seed(torrent& t, std::uint32_t handle) {
    auto it = t.web_seeds.find(handle);
    return it == t.web_seeds.end() ? nullptr : &it->second;
  }
  // Starts requests on every web seed of the torrent that has room and something to take.
  void request_web_seeds(torrent& t);
  // Which pieces peers unchoking us can give (the fallback policy leaves them to them).
  web_scope web_seed_scope(const torrent& t) const;
  bool web_eligible(const torrent& t, const web_scope& scope, std::uint32_t piece) const;
  bool start_web_run(torrent& t, web_seed& s, const web_scope& scope);
  // Body bytes for torrent offset `offset` of a run: written into the blocks the seed is
  // still asked for, which are marked received (and their pieces hashed) once complete.
  void web_bytes(torrent& t, web_run& run, std::int64_t offset, byte_view data);
  // A part answered in full; a part failed (the host is told to abort it when `cancel`).
  void part_done(std::uint64_t id);
  void part_failed(std::uint64_t id, errc code, std::string message, bool cancel, bool transient);
  // Ends a run: its other parts are cancelled, blocks it did not deliver are given back.
  void end_run(std::uint64_t run);
  // Counts a failure against the seed: a warning, back-off, maybe dropped.
  void seed_failure(torrent& t, web_seed& s, errc code, std::string message, bool transient, bool fatal);
  // The seed is not asked again for the pieces of a file it lacks (404) or serves wrong
  // (pieces of it failed twice), nor for a piece that failed from it; dropped once nothing
  // is left to ask it, or when it gave nothing good before failing 2 × max_bad times.
  void seed_lacks_file(torrent& t, web_seed& s, std::uint32_t file, std::string message);
  void seed_piece_failed(torrent& t, web_seed& s, std::uint32_t piece);
  void refuse_pieces(torrent& t, web_seed& s, std::uint32_t first, std::uint32_t last);
  void end_refused_runs(torrent& t, web_seed& s);
  static bool refuses(const web_seed& s, std::uint32_t piece) { return piece < s.refused.size() && s.refused[piece]; }
  void drop_web_seed(torrent& t, web_seed& s);
  // Every run of the torrent ended without blame (pause, remove); `only_undue`: just the
  // runs whose next bytes are for a piece without a deadline.
  void end_web_runs(torrent& t, bool only_undue = false);
  // A reader opened or moved: the runs that would delay the pieces readers wait for end.
  void end_delaying_web_runs(torrent& t);
  // Pieces were deselected: the runs that would still bring bytes of unwanted ones end.
  void end_unwanted_web_runs(torrent& t);
  void end_runs_bringing(torrent& t, const std::function<bool(const web_run&, piece_index)>& unwanted);
  bool next_due(const torrent& t, const web_run& r) const;
  bool due_block_free(const torrent& t) const;
  void web_seed_timeouts(torrent& t);
  // Tells the host to abort an HTTP request.
  void cancel_http(std::uint64_t id) {
    http_request r;
    r.id = http_request_id{id};
    r.op = http_op::cancel;
    http_out.push_back(std::move(r));
  }
  void settle_seed_faults();

  storage_request_id emit_storage(storage_request r, pending_storage p) {
    r.id = storage_request_id{next_storage++};
    pending[r.id.value] = std::move(p);
    storage_request_id id = r.id;
    storage.push_back(std::move(r));
    return id;
  }
  void warn(torrent_id t, connection_id c, errc code, std::string message) {
    events.emplace_back(warning_event{t, c, code, std::move(message)});
  }
};

// Where a connected peer accepts connections: the address we connected to, or for
// an incoming connection its address with the port from its extension handshake;
// nowhere for a connection whose remote is not dialable.
std::optional<wire::endpoint> listen_endpoint(const peer_connection& p);

// The extension plugins (extensions.cpp).
std::unique_ptr<extension_plugin> make_ut_metadata_plugin();
std::unique_ptr<extension_plugin> make_ut_pex_plugin();
std::unique_ptr<extension_plugin> make_lt_donthave_plugin();
std::unique_ptr<extension_plugin> make_user_extension_plugin(std::string name, std::uint32_t handle,
                                                            bencode::dict handshake_fields,
                                                            bool per_connection);

}  // namespace wt
