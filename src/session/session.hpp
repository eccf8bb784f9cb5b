// The session: torrents, peers, choking and the sans-I/O driving surface.
//
// The session never reads a clock, opens a socket or sleeps. The host feeds it:
//   - the time, with every call (`now`); on_timer(now) at or after next_deadline();
//   - connections: accept_connection() for incoming ones, connection_opened() /
//     connection_closed() for the ones poll_connect() asked for, bytes_received();
//   - storage completions for the requests poll_storage() handed out;
//   - HTTP responses for the web seed requests poll_http() handed out;
//   - user commands (add_torrent, add_magnet, remove_torrent, add_peer, priorities,
//     critical pieces, pause/resume, rate limits, streaming readers and reads, the
//     BEP 10 extension API);
//   - optionally, bytes_sent() for upload flow control (send_buffer_limit).
// and drains, after every call, in this order:
//   poll_transmit()  bytes to send on a connection (small messages coalesced),
//   poll_close()     connections to close (after their last bytes were sent),
//   poll_connect()   connections to open,
//   poll_storage()   storage requests,
//   poll_http()      HTTP range requests for web seeds, and cancellations of them,
//   poll_event()     typed events.
// One owner tree: the session owns torrents, torrents own peer connections; integer
// handles cross it. Protocol errors are values (events, closed connections), never
// exceptions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "base/bitfield.hpp"
#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "blocklist/ip_set.hpp"
#include "metainfo/metainfo.hpp"
#include "picker/piece_picker.hpp"
#include "storage/storage.hpp"
#include "webseed/webseed.hpp"
#include "wire/wire.hpp"

namespace wt {

// When a torrent fetches from its web seeds (BEP 19).
enum class web_seed_policy : std::uint8_t {
  // Peers first: a web seed takes the pieces that no connected peer unchoking us has
  // (everything while no peer unchokes us), streaming pieces whose deadline is within
  // deadline_at_risk_window, and, in end-game, blocks peers are still fetching.
  fallback,
  // A web seed is a fast peer that has every piece.
  always,
  // Web seeds are listed but never asked (WebTorrent's webSeeds: false).
  off,
};

struct session_settings {
  std::uint64_t seed = 1;  // drives every random choice (peer id, picker, choker)
  // Our peer id in handshakes (and, through the client facade, tracker announces).
  // Unset: "-WM0001-" and 12 alphanumerics drawn from `seed`.
  std::optional<wire::peer_id> peer_id;
  std::string client = "wasmtorrent 0.1";
  // Session-wide payload rate limits in bytes per second, 0 = unlimited: the initial
  // values of set_download_limit() / set_upload_limit().
  std::uint64_t download_rate_limit = 0;
  std::uint64_t upload_rate_limit = 0;
  std::uint32_t unchoke_slots = 4;              // regular unchoke slots per torrent
  bool optimistic_unchoke = true;               // plus one optimistic slot
  duration unchoke_interval = std::chrono::seconds(10);
  duration optimistic_interval = std::chrono::seconds(30);
  duration tick_interval = std::chrono::seconds(1);  // stats, timeouts, connects
  duration stats_interval{0};  // a stats_event per torrent this often (zero: never)
  duration keepalive_interval = std::chrono::seconds(60);
  duration inactivity_timeout = std::chrono::seconds(120);
  // A torrent at its connection limit makes room for a peer that dials in by closing one
  // that exchanged no piece data either way for this long (and is connected as long): the
  // slots are not held by peers that only keep the connection open.
  duration idle_peer_age = std::chrono::seconds(30);
  // ... or, sooner, one connected this long that neither side is interested in (it has
  // nothing we lack and wants nothing we have): a silent peer, or two seeds.
  duration useless_peer_age = std::chrono::seconds(10);
  // A peer that delivered this many pieces that passed, then alone a piece that fails, is
  // not asked for that piece again instead of being banned, up to forgiven_failures times
  // (one with no such record is banned at once: a corrupter).
  std::uint32_t trusted_after_pieces = 8;
  std::uint32_t forgiven_failures = 3;
  // Peers banned from one address (any port, any peer id) before the address is banned
  // whole: one that dials in again from a new port with a new peer id after each ban.
  std::uint32_t bans_per_host = 3;
  // Replies a peer made us queue (rejects, metadata pieces, blocks) and did not read: past
  // this many bytes, plus the metadata's size, it is closed, as it asks without reading
  // what it asked for.
  std::size_t max_unsent_bytes = 4u << 20;
  duration handshake_timeout = std::chrono::seconds(20);
  // A request older than this may also be sent to another peer.
  duration request_timeout = std::chrono::seconds(20);
  // A request older than this is given up on.
  duration request_abandon = std::chrono::seconds(60);
  // Peer connections per torrent, half-open ones included (set_max_connections_per_torrent
  // changes it at runtime). 0 allows none.
  std::uint32_t max_connections_per_torrent = 50;
  // Peer connections of the whole session, half-open and incoming ones before their
  // handshake included; 0: no limit beyond the per-torrent one.
  std::uint32_t max_connections = 0;
  std::uint32_t max_half_open = 24;             // connect requests not yet opened
  std::uint32_t reqq = 250;                     // requests we accept from one peer
  std::uint32_t max_requests_per_peer = 250;    // our pipeline cap
  std::uint32_t min_requests_per_peer = 4;
  duration request_queue_time = std::chrono::seconds(3);  // pipeline = rate * this
  // While a torrent streams (a reader is open, or closed less than reader_linger ago),
  // pipelines are shorter and pieces without a deadline get little of them: a request
  // cannot be taken back (many peers ignore cancels once the block is queued for
  // sending), so each queued block delays the next one a player waits for by its
  // transfer time; on a slow peer a 3 s pipeline is 3 s of delay after every seek.
  duration streaming_request_queue_time = std::chrono::seconds(1);
  std::uint32_t min_streaming_requests = 2;
  // ...of which requests for pieces without a deadline may fill at most rate * this
  // (one block for a peer of unknown rate that would otherwise be idle next to readers).
  duration streaming_undue_time = std::chrono::milliseconds(250);
  // A player closes one request and opens the next within milliseconds (a seek, an index
  // read at the end of the file): for this long after its last reader closes, a torrent
  // still counts as streaming.
  duration reader_linger = std::chrono::seconds(1);
  // Storage reads in flight per peer (a block each). 8 kept a seeder's channel half empty
  // while reads waited on the store; the host's send buffer (send_buffer_limit) bounds what
  // they add up to anyway.
  std::uint32_t max_reads_per_peer = 64;
  // Backpressure from storage: while this many bytes of verified pieces and of blocks of
  // streamed pieces wait for their writes to complete, no new blocks are requested (a slow
  // store does not make the session hold the download in memory). 0: no limit.
  std::uint64_t max_pending_write_bytes = 16u << 20;
  // Memory: a piece up to stream_piece_bytes long is held whole until it is verified, a
  // longer one (streamed) holds at most stream_piece_bytes. While pieces in progress (of
  // every torrent) add up to this many bytes, counted so, no new piece is started, except
  // one for a peer that has none of them (so a lone peer is never left idle). 0: no limit.
  std::uint64_t max_partial_bytes = 24u << 20;
  // Pieces longer than this are streamed to the store instead of held whole: each block
  // is written as it arrives (storage_request::unverified) and hashed in order into the
  // piece's SHA-1; blocks that arrive ahead of the hashed prefix are kept in memory up to
  // this many bytes per piece, the rest are read back from the store when the prefix
  // reaches them. A piece that matches is marked complete once its writes are done; one
  // that fails is fetched again over the same bytes (smart ban reads it back to tell
  // whose blocks were bad). 0: every piece is held whole.
  std::uint64_t stream_piece_bytes = 1u << 20;
  // The host hashes pieces held whole (those up to stream_piece_bytes): a complete piece is
  // written with its expected SHA-1 (storage_request::verify) and the host hashes it on its
  // way to the store, where its bytes go anyway, with a SHA-1 faster than the engine's as
  // WebAssembly (native, or the browser's). The engine still hashes streamed pieces, and a
  // piece that failed before (smart ban compares the digests of its blocks).
  bool host_hashes_pieces = false;
  // Resume check: bytes of pieces read back from storage at once (at least one piece).
  std::uint64_t max_check_bytes = 8u << 20;
  // Flow control for uploads: when non-zero, the host reports with bytes_sent() the
  // bytes that left its send buffer (WebRTC bufferedAmount, socket writes), and the
  // session reads no more blocks for a peer while this many bytes wait to be sent.
  // Zero: the host does not report; bytes count as sent once polled.
  std::uint32_t send_buffer_limit = 0;
  // Streaming readers: the first piece under a reader is due at once, each next one
  // this much later.
  duration reader_piece_interval = std::chrono::milliseconds(500);
  // A reader's piece due within this window is at risk: a peer at least as fast as
  // the average may request its blocks again when another peer has had them for
  // deadline_rerequest_age. Zero disables re-requests.
  duration deadline_at_risk_window = std::chrono::seconds(2);
  duration deadline_rerequest_age = std::chrono::seconds(1);
  // The host tells the application about a new peer (peer_connected_event) and lets it
  // register extensions for it (WebTorrent's 'wire' event, where wire.use() adds fields
  // to the first extension handshake). While this is non-zero, our extension handshake
  // to a new peer waits until release_extension_handshake() or this long, and the
  // peer's extended messages wait with it, so that an extension registered meanwhile is
  // in our first handshake and sees the peer's. Zero: sent with the BitTorrent handshake.
  duration extension_handshake_hold{0};
  // The peer messages reported for a new connection until the host says otherwise
  // (report_peer_messages): a host whose application hears of a peer only after its
  // first messages have been handled (WebTorrent's 'wire' event) sets every kind here, so
  // that a listener added then still hears the bitfield that came with the handshake.
  std::uint32_t peer_messages_at_connect = 0;
  bool enable_ut_metadata = true;
  // BEP 6 (fast extension) offered in our handshake. Off: as WebTorrent's peers, which send
  // no reject_request; a cancelled request is then dropped without a word (tests model
  // such a seeder with it).
  bool fast_extension = true;
  bool enable_ut_pex = true;
  // False (WebTorrent's seedOutgoingConnections): a complete torrent (every piece verified,
  // WebTorrent's done; not one that finished a partial selection) takes no address that
  // trackers, the DHT, LSD or ut_pex give (nor reports it); it still accepts incoming
  // connections and dials what add_peer gives.
  bool seed_outgoing_connections = true;
  duration pex_interval = std::chrono::seconds(60);  // BEP 11: at most once a minute
  // Our listening port, announced in the extension handshake ("p") so that peers
  // can pass us on through PEX; unset when we do not accept connections.
  std::optional<std::uint16_t> listen_port;

  // --- web seeds (BEP 19): HTTP servers that hold the torrent's files ---
  // The policy and budget of a torrent when added (set_web_seed_policy changes them).
  wt::web_seed_policy web_seed_policy = wt::web_seed_policy::fallback;
  // Bytes a torrent may request from its web seeds (0: no limit). A hard cap, so that a
  // site knows its bill: once spent, web seeds are asked for nothing more, even when no
  // peer has what is missing (raise it with set_web_seed_policy to go on).
  std::uint64_t web_seed_budget = 0;
  std::uint32_t max_web_seeds = 8;           // URLs per torrent; more are refused
  // fallback: for this long after a torrent is added, while no peer unchokes us, web seeds
  // take only what a reader needs soon: the peers a tracker is about to name get the rest
  // (a torrent's first seconds would otherwise go to the server, in every tab that joins).
  // Ended early by end_web_seed_grace() when the host knows no peer is coming.
  duration web_seed_grace = std::chrono::seconds(3);
  // Requests in flight per web seed (WebTorrent's maxWebConns). A request covers a run of
  // consecutive blocks, one HTTP request per file it touches.
  std::uint32_t max_web_seed_requests = 4;
  std::uint32_t web_seed_request_bytes = 1u << 20;  // most bytes per request
  // A request without a response, or without web_seed_progress_bytes of body (or the rest
  // of it), for this long fails (the host is told to abort it); failures of this kind back
  // off 5 s, 10 s, ... 60 s between attempts.
  duration web_seed_timeout = std::chrono::seconds(20);
  std::int64_t web_seed_progress_bytes = 16 * 1024;
  std::uint32_t web_seed_max_retries = 5;    // such failures in a row drop the seed
  // Bad responses (wrong range or length): this many drop the seed. Pieces that failed
  // their hash with bytes from it: that piece is not asked of it again, nor a file whose
  // pieces failed this often (it differs on the server); a seed that failed twice as often
  // before any of its pieces passed is dropped. Other 4xx, and a server that ignores Range
  // on a large file drop it at once.
  std::uint32_t web_seed_max_bad = 2;
  // 404/410: the seed lacks that file and is not asked for it again. Dropped when it lacks
  // this many before any of its pieces passed (a wrong URL), or lacks everything.
  std::uint32_t web_seed_max_missing_files = 4;
  webseed::limits web_seed_limits;
};

// --- events -------------------------------------------------------------------------

struct metadata_received_event {
  torrent_id torrent;
};
struct piece_verified_event {
  torrent_id torrent;
  piece_index piece;
};
struct hash_failed_event {
  torrent_id torrent;
  piece_index piece;
};
struct torrent_finished_event {
  torrent_id torrent;
};
struct peer_connected_event {
  torrent_id torrent;
  connection_id connection;
  wire::endpoint remote;
  bool outgoing = false;
  wire::peer_id peer_id{};  // from the peer's handshake
  // MSE on the connection (the client facade sets it for TCP): 0 none, 1 MSE then
  // plaintext, 2 MSE with RC4.
  std::uint8_t encryption = 0;
};
struct peer_disconnected_event {
  torrent_id torrent;  // value 0 when the handshake never named a torrent
  connection_id connection;
  errc code = errc::ok;  // why, when the session closed it for a protocol error
  std::string reason;
};
struct peer_banned_event {
  torrent_id torrent;
  connection_id connection;
  wire::endpoint remote;
};
struct warning_event {
  torrent_id torrent;
  connection_id connection;
  errc code = errc::ok;
  std::string message;
};
struct torrent_error_event {
  torrent_id torrent;
  std::string message;
};
// Where a registered extension is spoken (session::register_extension).
enum class extension_scope : std::uint8_t { every_connection, per_connection };

// A registered extension: the peer's extension handshake arrived.
struct extension_handshake_event {
  torrent_id torrent;
  connection_id connection;
  std::uint32_t extension = 0;  // from register_extension()
  bool peer_supports = false;
  byte_buffer handshake;  // the peer's whole extension handshake (a bencoded dict)
};
// The resume check (add_torrent_params::check) read back every piece: `held` of them
// matched their hash and count as had; blocks are requested from now on.
// Also the end of a recheck_torrent() (recheck: true; held: the pieces it found).
struct storage_checked_event {
  torrent_id torrent;
  std::uint32_t held = 0;
  bool recheck = false;
};
// The bytes of a read() (only ever bytes of verified pieces). `data` is empty when the
// host delivered the bytes itself (storage_request::user_read).
struct read_completed_event {
  torrent_id torrent;
  std::uint64_t read = 0;  // from read()
  bool ok = false;         // false: storage failed, or the torrent was removed
  std::int64_t offset = 0;
  byte_buffer data;
};
struct extension_message_event {
  torrent_id torrent;
  connection_id connection;
  std::uint32_t extension = 0;
  byte_buffer payload;
};

// What a peer sent, and the blocks we sent it, as bittorrent-protocol's wire emits them
// (WebTorrent's wire events): reported for a connection only as the host asks (see
// report_peer_messages), so that nobody pays for events nobody listens to. A mask has bit
// (1 << kind) for each kind reported; piece_data adds the block's bytes to `piece`.
enum class peer_message_kind : std::uint8_t {
  keep_alive, choke, unchoke, interested, not_interested, have, bitfield, request, piece,
  cancel, port, suggest, have_all, have_none, reject, allowed_fast, extended,
  upload,      // we sent the peer a block
  piece_data,  // mask only: `piece` events carry the block
  timeout,     // a request to the peer went unanswered past its timeout (set_peer_timeout)
};
constexpr std::uint32_t peer_message_bit(peer_message_kind k) noexcept {
  return std::uint32_t{1} << static_cast<unsigned>(k);
}
inline constexpr std::uint32_t all_peer_messages = (peer_message_bit(peer_message_kind::timeout) << 1) - 1;
struct peer_message_event {
  torrent_id torrent;
  connection_id connection;
  peer_message_kind kind = peer_message_kind::keep_alive;
  // have, suggest, allowed_fast: the piece; request, piece, cancel, reject, upload: the
  // block (index, begin, length); port: the port; extended: the id we gave it (0: the
  // extension handshake) and its name (empty for an id we never gave).
  std::uint32_t index = 0, begin = 0, length = 0;
  std::string extension;
  byte_buffer data;  // bitfield: its bytes; extended: the payload; piece: the block (piece_data)
  // extended, lt_donthave: the piece it names, when the peer had it (it has it no more)
  std::optional<std::uint32_t> donthave;
  // extended, ut_pex: the message, decoded (none for one ignored: it came within 10 s of the last)
  std::optional<wire::pex_message> pex;
};


// --- outputs --------------------------------------------------------------------------

struct transmit {
  connection_id connection;
  byte_buffer data;
};
struct close_request {
  connection_id connection;
  std::string reason;
};
// Open a connection to `remote` for `torrent`; report connection_opened() or
// connection_closed() with this id.
struct connect_request {
  connection_id connection;
  torrent_id torrent;
  wire::endpoint remote;
};

// An HTTP request for a web seed. get: fetch bytes [first, last] of `url` (send
// "Range: bytes=first-last") and report http_response(), then http_data() as the body
// arrives, then http_done(); or http_failed() at any point. cancel: abort the request
// `id` (the session wants nothing more of it: report nothing more).
using http_request_id = strong_id<struct http_request_id_tag, std::uint64_t>;
enum class http_op : std::uint8_t { get, cancel };
struct http_request {
  http_request_id id;
  http_op op = http_op::get;
  torrent_id torrent;          // get only, as are the fields below
  std::uint32_t web_seed = 0;  // the seed's id (web_seed_stats::id)
  std::string url;
  std::int64_t first = 0;
  std::int64_t last = 0;  // inclusive
};

// --- stats ------------------------------------------------------------------------------

struct peer_stats {
  connection_id connection;
  wire::endpoint remote;
  bool outgoing = false;
  std::uint64_t downloaded = 0;  // payload bytes received from the peer
  std::uint64_t uploaded = 0;    // payload bytes sent to the peer
  double download_rate = 0;      // bytes per second, over the last 5 s (rate_meter)
  double upload_rate = 0;
  bool am_choking = true, am_interested = false, peer_choking = true, peer_interested = false;
  std::uint32_t pieces = 0;      // pieces the peer has
  std::uint32_t outstanding_requests = 0;
};

struct peer_detail {
  torrent_id torrent;
  bool have_all = false;
  byte_buffer pieces;  // MSB first; before the metadata, the peer's bitfield message (if any)
  wire::handshake_features features;         // offered in the peer's handshake
  std::vector<wire::request> requests;       // ours, in flight
  std::vector<wire::request> peer_requests;  // the peer's, not served yet
};

// Where a peer came from (WebTorrent's peer sources, which its 'noPeers' event names).
// incoming: it connected to us (WebTorrent gives such a peer no source).
enum class peer_source : std::uint8_t { manual, tracker, dht, pex, incoming, lsd };
inline constexpr std::size_t peer_source_count = 6;

struct torrent_stats {
  std::uint64_t downloaded = 0;      // payload bytes received (including wasted and web seeds')
  std::uint64_t web_seed_downloaded = 0;  // of which from web seeds (HTTP body bytes)
  std::uint32_t web_seeds = 0;       // web seeds not dropped
  std::uint64_t uploaded = 0;        // payload bytes sent
  std::uint64_t verified = 0;        // bytes of pieces verified this session
  std::uint64_t wasted = 0;          // bytes of duplicate or failed blocks
  std::int64_t have = 0;             // bytes of pieces we have
  std::int64_t total = 0;            // 0 until the metadata is known
  double progress = 0;               // have / wanted, 0..1
  double download_rate = 0;
  double upload_rate = 0;
  std::uint32_t peers = 0;
  std::uint32_t seeds = 0;
  // By peer_source: connections (half-open ones included) and addresses waiting to be
  // dialled; a peer counts from when it is learnt until its connection closes (as the
  // peers WebTorrent's torrent holds). A known address keeps the source that named it first.
  std::array<std::uint32_t, peer_source_count> peers_by_source{};
  std::optional<duration> time_remaining;  // at the current download rate
  bool has_metadata = false;
  bool finished = false;             // every selected piece (priority > 0) verified
  bool complete = false;             // every piece verified (WebTorrent's torrent.done)
  bool paused = false;               // pause_torrent(), until resume_torrent()
  bool checking = false;             // the resume check is reading pieces back
  double check_progress = 0;         // of the resume check, 0..1 (1 when none)
};

enum class web_seed_state : std::uint8_t { active, waiting, dropped };  // waiting: backing off
struct web_seed_stats {
  std::uint32_t id = 0;
  std::string url;
  web_seed_state state = web_seed_state::active;
  std::uint64_t downloaded = 0;  // HTTP body bytes received
  std::uint32_t requests = 0;    // in flight
  std::uint32_t failures = 0;    // of any kind
  errc error = errc::ok;         // the last failure, and its message
  std::string message;
};

// Every session_settings::stats_interval, for each torrent.
struct stats_event {
  torrent_id torrent;
  torrent_stats stats;
};

// An address of the torrent refused because the IP filter holds it (set_ip_filter): a
// candidate from a tracker, the DHT, ut_pex or a magnet's x.pe (not dialled), an incoming
// connection (closed once its handshake named the torrent, before we sent anything), or,
// when the filter is set, a connection or a waiting address the torrent had.
struct peer_blocked_event {
  torrent_id torrent;
  wire::endpoint remote;
  peer_source source = peer_source::manual;
};

// What became of an address the torrent was given: dialled when there is room (added);
// not, because the torrent holds it already (waiting, connecting, connected, or waiting to
// be redialled: known), because it cannot be a peer (port 0, banned, our own listening
// address on 127.0.0.1: invalid), or because the IP filter holds it (blocked, with a
// peer_blocked_event).
enum class peer_added : std::uint8_t { added, known, invalid, blocked };

// Addresses the torrent learnt from its trackers, the DHT, ut_pex or a magnet's x.pe (not
// the blocked ones: peer_blocked_event): `added` ones it will dial, `invalid` ones it held
// already or cannot use (peer_added::known and invalid; also any beyond the 10,000 addresses a
// torrent holds to dial), in the order they came. One
// event for a run of addresses of one torrent (a tracker's answer, a ut_pex message).
// WebTorrent's torrent events 'peer' and 'invalidPeer'.
struct peers_found_event {
  torrent_id torrent;
  std::vector<wire::endpoint> added;
  std::vector<wire::endpoint> invalid;
};

using session_event =
    std::variant<metadata_received_event, piece_verified_event, hash_failed_event,
                 torrent_finished_event, peer_connected_event, peer_disconnected_event,
                 peer_banned_event, warning_event, torrent_error_event,
                 extension_handshake_event, extension_message_event, read_completed_event,
                 stats_event, storage_checked_event, peer_blocked_event, peers_found_event,
                 peer_message_event>;

// Whether a connection's remote is an address the host can connect to. A WebRTC data
// channel has none (the host names it with a stand-in address): such a peer is never
// redialled after it closes, nor passed on to other peers through ut_pex.
enum class dialable : bool { no, yes };

struct add_torrent_params {
  bool seed = false;  // storage already holds every piece (the host wrote it)
  // Storage may hold pieces from an earlier run (a reload, a crash): once the metadata is
  // known, read every piece back and hash it before requesting anything. A piece that was
  // altered or truncated fails its hash and is downloaded again; nothing unverified is had.
  bool check = false;
  // Overrides the info dictionary's private flag (BEP 27) when set, as WebTorrent's add
  // option `private`: a private torrent finds peers through its trackers only.
  std::optional<bool> is_private = std::nullopt;
  // Order of pieces without a deadline (WebTorrent's add option `strategy`).
  pick_strategy strategy = pick_strategy::rarest_first;
  // Pieces the application vouches its store holds (WebTorrent's add options `bitfield`
  // and `skipVerify`): had without hashing them first, so a resume costs no read of the
  // store. Such a piece is still hashed before any byte of it leaves (a peer's request, a
  // read()): one that fails is dropped and downloaded again, never delivered.
  //   trusted_bits: a bitfield (MSB first) of exactly ceil(pieces / 8) bytes once the
  //     metadata is known, else ignored (and `check` applies). As WebTorrent's, one piece
  //     of each file (its second trusted one) is hashed before requests start; a file
  //     whose piece fails has every trusted piece hashed then. This replaces `check`.
  //   trust_all: every piece (skipVerify); nothing is hashed until it is read.
  byte_buffer trusted_bits = byte_buffer{};
  bool trust_all = false;
  // Requests in flight per web seed of this torrent (WebTorrent's add option maxWebConns);
  // 0: session_settings::max_web_seed_requests.
  std::uint32_t max_web_seed_requests = 0;
  // Unchoke slots of this torrent, the optimistic one included (WebTorrent's add option
  // uploads: n - 1 regular and one optimistic; 0: no peer is ever unchoked, nothing is
  // uploaded). Unset: session_settings::unchoke_slots and optimistic_unchoke.
  std::optional<std::uint32_t> upload_slots = std::nullopt;
  // When the app added the torrent: its speeds are measured from then, as WebTorrent's
  // meters start with its Torrent object. Unset (or later than the add): the add's time.
  std::optional<time_point> added_at = std::nullopt;
  // The torrent's share of the session's connections (session_settings::max_connections)
  // against the other torrents': priority squared (WebTorrent's add option `priority`). 0
  // counts as 1. No effect without a session-wide limit.
  std::uint32_t priority = 1;
};

class session {
 public:
  explicit session(session_settings settings = {});
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  const wire::peer_id& peer_id() const noexcept;

  // --- user commands --------------------------------------------------------------
  result<torrent_id> add_torrent(const metainfo& m, add_torrent_params p, time_point now);
  // Magnet: only the info-hash; the metadata comes from peers (ut_metadata).
  result<torrent_id> add_magnet(const sha1_digest& info_hash, std::string name, time_point now,
                                add_torrent_params p = {});
  void remove_torrent(torrent_id t, time_point now);
  // A peer address for the torrent (tracker, PEX, magnet x.pe); the session decides
  // when to connect. report: also in a peers_found_event (a host that adds an address
  // itself learns the result from here). Nullopt for an unknown torrent.
  std::optional<peer_added> add_peer(torrent_id t, const wire::endpoint& remote, time_point now,
                                     peer_source source = peer_source::manual, bool report = true);
  // The address leaves the torrent: forgotten where it waits to be dialled or redialled, and
  // a connection to it (dialling or open) is closed and not redialled. A later add_peer may
  // bring it back. False when the torrent did not hold it (or is unknown).
  bool remove_peer(torrent_id t, const wire::endpoint& remote, time_point now);
  // --- piece selection -----------------------------------------------------------
  // Every piece has one priority: 0 = do not download, 1..7, default 4 (priorities
  // above 7 count as 7). Higher priorities are fetched first (rarest first within one);
  // a torrent is finished when every piece with priority > 0 is verified. Streaming
  // readers and critical pieces come before any priority, even 0 (they work by
  // deadlines).
  //
  // A piece's priority is set by the last of these calls that covered it:
  //   set_piece_priority(t, pieces, p): every piece in the range gets p.
  //   set_file_priority(t, f, p): every piece of file f gets p, except that a piece f
  //     shares with a neighbouring file gets the highest of their file priorities, so
  //     that deselecting one file never drops a piece a selected neighbour needs.
  // A file's priority is the last one given to it by set_file_priority(), or by a
  // set_piece_priority() whose range holds the whole file (default 4). Pad files
  // (BEP 47) count for nothing.
  //
  // WebTorrent's API maps onto this as follows (the "whole-torrent selection" WebTorrent
  // makes when a torrent is ready is the default priority 4 of every piece):
  //   torrent.select(start, end, prio)  -> set_piece_priority(t, {start, end}, clamp(4 + prio, 1, 7))
  //   torrent.deselect(start, end)      -> set_piece_priority(t, {start, end}, 0)
  //     (WebTorrent 2.x cuts the range out of every selection: the same effect)
  //   torrent.critical(start, end)      -> add_critical_pieces(t, {start, end})
  //   file.select(prio)                 -> set_file_priority(t, f, clamp(4 + prio, 1, 7))
  //   file.deselect()                   -> set_file_priority(t, f, 0)
  //   file.createReadStream(...)        -> open_reader() (WebTorrent's stream selections)
  //   the "deselect" add option         -> set_piece_priority(t, {0, n - 1}, 0) once added
  // Differences: a select over an already selected range takes the new priority (last
  // call wins) where WebTorrent keeps the higher one; WebTorrent's 'idle' event is our
  // torrent_finished_event (sent again when pieces are selected after it and finish).

  // Before the metadata is known (magnet), the priority is kept and applied when it
  // arrives.
  void set_file_priority(torrent_id t, file_index f, std::uint8_t priority, time_point now);
  // Inclusive range; clipped to the torrent. False while the metadata is unknown, for
  // an unknown torrent, or when pieces.first > pieces.last or beyond the last piece.
  bool set_piece_priority(torrent_id t, piece_range pieces, std::uint8_t priority, time_point now);
  // WebTorrent's critical(): the pieces are fetched before every other one, in piece
  // order, as if a streaming reader were due on each of them now (slow peers sitting on
  // their blocks are overtaken by faster ones), whatever their priority. Lasts until
  // each piece of the range is verified; calls add up. False as set_piece_priority.
  bool add_critical_pieces(torrent_id t, piece_range pieces, time_point now);
  // WebTorrent's startup check selects every piece it lacks (its _markUnverified), over
  // what was deselected before it (a magnet's so=, deselects in 'metadata' listeners), so
  // its torrent downloads everything and 'done' comes. Here: every missing piece at
  // priority 0 gets `priority` (the lowest, 1, puts it after what was selected), and so do
  // the files that have such a piece. False as set_piece_priority.
  bool select_missing(torrent_id t, std::uint8_t priority, time_point now);
  // One byte per piece: its priority (0..7). Empty while the metadata is unknown.
  std::vector<std::uint8_t> piece_priorities(torrent_id t) const;

  // --- pause / resume (libtorrent's semantics, stronger than WebTorrent's) ------------
  // Closes every connection of the torrent (its peers are kept to dial again on
  // resume), opens no new one and refuses incoming ones, so nothing is requested or
  // uploaded. Verified and partly downloaded pieces, priorities, readers and pending
  // reads are kept, and read() still completes for verified bytes. stats().paused is
  // true. The client facade also announces "stopped" to the trackers. Idempotent.
  void pause_torrent(torrent_id t, time_point now);
  // The resume check again, on a live torrent (WebTorrent's rescanFiles() and load():
  // bytes put in the store from outside): reads back every piece the torrent neither has
  // nor is downloading, hashes it, and has each one that matches (a piece_verified_event
  // each; peers are told); then a storage_checked_event with recheck set. The torrent keeps
  // its connections and announces; no block is requested meanwhile. Pieces already had are
  // not read again (the engine never drops a piece). Called while a check runs, another
  // pass follows it. False for an unknown torrent or before the metadata.
  bool recheck_torrent(torrent_id t, time_point now);
  // Dials at once every peer it knew when paused (and any added meanwhile).
  void resume_torrent(torrent_id t, time_point now);


  // --- session-wide limits (take effect at once) --------------------------------------
  // Payload bytes per second, 0 = unlimited (WebTorrent's throttleDownload /
  // throttleUpload with -1 for unlimited; the engine has no "0 bytes/s": pause instead).
  // Download: block requests are issued no faster than the limit, so blocks arrive no
  // faster. Upload: blocks are read from storage for peers no faster than the limit.
  // Shared round-robin among the waiting peers of every torrent. Over any window of T
  // seconds: at most limit * T, plus a burst of a quarter second's worth (at least
  // 32 KiB) and a block. Protocol overhead and metadata are not counted. While peers
  // wait for tokens, next_deadline() is when enough have accrued (about 20 wake-ups a
  // second at most).
  void set_download_limit(std::uint64_t bytes_per_second, time_point now);
  void set_upload_limit(std::uint64_t bytes_per_second, time_point now);
  std::uint64_t download_limit() const noexcept;
  std::uint64_t upload_limit() const noexcept;
  // One torrent's own limits (WebTorrent's torrent.throttleDownloadSpeed /
  // throttleUploadSpeed), layered under the session's: a byte must fit both, and the
  // same bound over a window holds for the torrent alone. 0 = unlimited (the default).
  // Nothing for an unknown torrent; the limits go with the torrent when it is removed.
  void set_torrent_download_limit(torrent_id t, std::uint64_t bytes_per_second, time_point now);
  void set_torrent_upload_limit(torrent_id t, std::uint64_t bytes_per_second, time_point now);
  std::uint64_t torrent_download_limit(torrent_id t) const;  // 0 for an unknown torrent
  std::uint64_t torrent_upload_limit(torrent_id t) const;
  // WebTorrent's maxConns (per torrent). Lowering it closes the excess connections of
  // each torrent at once (half-open ones first, then the slowest; they stay known for
  // later), raising it dials waiting candidates.
  void set_max_connections_per_torrent(std::uint32_t n, time_point now);
  std::uint32_t max_connections_per_torrent() const noexcept;
  // A torrent's priority (add_torrent_params::priority; WebTorrent's torrent.setPriority).
  // With a session-wide limit, a torrent dials new peers only while it holds fewer than its
  // fair share of that limit, ceil(max_connections * p^2 / sum of p^2 over the torrents not
  // paused), and never more than max_connections_per_torrent. Raising it dials waiting
  // candidates; lowering it closes nothing (the share gates new dials only).
  void set_torrent_priority(torrent_id t, std::uint32_t priority, time_point now);
  std::uint32_t torrent_priority(torrent_id t) const;  // 0 for an unknown torrent
  // The connections the torrent may dial up to now (its share, as above).
  std::uint32_t connection_share(torrent_id t) const;

  // --- IP filter (the blocklist) ----------------------------------------------------------
  // Addresses never connected to nor accepted (replaces the previous filter). Takes effect
  // at once: the torrents' connections and waiting addresses that it holds are closed or
  // dropped, each with a peer_blocked_event; from then on each one refused gives one. Only
  // addresses count: a data channel's stand-in address (dialable::no) is never filtered.
  void set_ip_filter(ip_set filter, time_point now);
  // The filter holds the address (add_peer would refuse it).
  bool blocked(const wire::endpoint& e) const;
  // No torrent can have the address as a peer (add_peer would call it invalid): port 0, or
  // this session's own listening address on 127.0.0.1.
  bool unusable(const wire::endpoint& e) const;

  // --- web seeds (BEP 19) --------------------------------------------------------------
  // A web seed is a peer of the piece picker that has every piece: the session plans HTTP
  // range requests (poll_http), the host performs them, bytes go into the pieces as they
  // arrive and are verified with the piece like any peer's. A seed that fails (404/410,
  // ignores Range on a large file, wrong range or length, a stall, data that fails the
  // hash) gives a warning_event (connection: the seed's id; code: web_seed_*); repeated
  // or fatal failures drop it (see session_settings). False for an unknown torrent, a URL
  // that is not http(s), one the torrent has already, or beyond max_web_seeds.
  bool add_web_seed(torrent_id t, std::string url, time_point now);
  // The seed with this URL leaves the torrent: its requests end and it is forgotten (it
  // may be added again). False when the torrent has no such seed.
  bool remove_web_seed(torrent_id t, std::string url, time_point now);
  // budget: bytes (0: no limit); see session_settings::web_seed_budget.
  void set_web_seed_policy(torrent_id t, web_seed_policy policy, std::uint64_t budget, time_point now);
  // The fallback's grace (web_seed_grace) is over for the torrent: the host knows no peer
  // is coming (it has no tracker, or a tracker's swarm holds only us).
  void end_web_seed_grace(torrent_id t, time_point now);
  std::vector<web_seed_stats> web_seeds(torrent_id t) const;

  // Streaming (anacrolix-style readers). A reader gives the pieces under
  // [offset, offset + readahead) deadlines in order, ahead of every other piece; a
  // seek moves them at once. Returns 0 while the metadata is unknown.
  std::uint32_t open_reader(torrent_id t, std::int64_t offset, std::int64_t readahead, time_point now);
  // `readahead`, when given, replaces the reader's (a host sizes it from how fast the
  // reader's consumer takes bytes).
  void seek_reader(torrent_id t, std::uint32_t reader, std::int64_t offset, time_point now,
                   std::optional<std::int64_t> readahead = std::nullopt);
  void close_reader(torrent_id t, std::uint32_t reader, time_point now);
  // Reads bytes as soon as every piece they touch is verified (never earlier); they
  // arrive in a read_completed_event with the returned id. 0 when the range is empty,
  // outside the torrent or the metadata is unknown.
  std::uint64_t read(torrent_id t, std::int64_t offset, std::uint32_t length, time_point now);

  // Extension API (BEP 10): register a name (best before connections open; peers
  // already connected get our extension handshake again, and an extension_handshake_event
  // from the handshake they sent). Messages arrive as extension_message_event; the
  // peer's support as extension_handshake_event. Registering a name again returns its id.
  // `handshake_fields` go into our extension handshake, for the peer to read (as
  // WebTorrent extensions set wire.extendedHandshake fields).
  // With extension_scope::per_connection it is spoken only on the connections that
  // enable_extension() names (WebTorrent's wire.use(), one wire at a time).
  std::uint32_t register_extension(std::string name, bencode::dict handshake_fields = {},
                                   extension_scope scope = extension_scope::every_connection);
  // Speaks a per_connection extension on connection `c`, its `handshake_fields` in our
  // extension handshake to that peer (sent again if it went out already, and the peer's
  // handshake, if it came, reported as for a new connection). False for an unknown
  // connection or an extension registered for every connection.
  bool enable_extension(connection_id c, std::uint32_t extension, bencode::dict handshake_fields,
                        time_point now);
  // Every extension our handshakes name, built-in and registered: the one at index i has
  // id i + 1 in our "m" dictionary (bittorrent-protocol's wire.extendedMapping).
  std::vector<std::string_view> extension_names() const;
  // The host has told the application about the connection (see
  // session_settings::extension_handshake_hold): our extension handshake goes out now,
  // then the peer's extended messages that waited are handled. No-op otherwise.
  void release_extension_handshake(connection_id c, time_point now);
  // False when the connection is gone or the peer did not announce the extension.
  bool send_extension_message(connection_id c, std::uint32_t extension, byte_view payload,
                              time_point now);
  // An extended message (BEP 10) with the peer's own id for it, the one its handshake gave
  // an extension (bittorrent-protocol's wire.extended(id) and wire.extended(name) for a name
  // not registered here). False when the connection is gone, its extension handshakes have
  // not both happened, or `peer_id` is 0 (the handshake's).
  bool send_extended_to_peer(connection_id c, std::uint8_t peer_id, byte_view payload, time_point now);
  // ut_pex (BEP 11) on one connection, as npm ut_pex's methods on WebTorrent's wire.ut_pex.
  // start/stop: our messages to the peer on or off (on from the start); reset: off, and
  // what the peer was told and the addresses queued for it forgotten (a later start
  // tells it everything again). pex_advertise: an address the application adds to the next
  // message to that peer (dropped: in its "dropped" list instead), besides the torrent's own
  // peers. False when the connection is gone or ut_pex is off (session_settings::enable_ut_pex).
  enum class pex_command : std::uint8_t { start, stop, reset };
  bool command_pex(connection_id c, pex_command command, time_point now);
  bool pex_advertise(connection_id c, const wire::pex_peer& peer, bool dropped, time_point now);
  // Which of the connection's messages give a peer_message_event from now on (a mask of
  // peer_message_bit; 0: none). Unknown connections are ignored.
  void report_peer_messages(connection_id c, std::uint32_t kinds);
  // bittorrent-protocol's wire.setKeepAlive(on) and wire.setTimeout(ms), per connection:
  // keep-alives to the peer when we have sent nothing for keepalive_interval (on from the
  // start); a request to the peer unanswered for `timeout`, with no block from it meanwhile,
  // is given up on (another peer may take it) and reported as peer_message_kind::timeout
  // (zero: only the session's request_abandon). False for an unknown connection.
  bool set_peer_keep_alive(connection_id c, bool on);
  // bittorrent-protocol's wire.choke() and wire.unchoke() from the application: choked now
  // and kept choked (the choker leaves it out) until unchoked; unchoked now, whatever the
  // slots (the choker may choke it again at its next round, as any peer). False for an
  // unknown connection or one not past its handshake.
  bool set_peer_choked(connection_id c, bool choked, time_point now);
  bool set_peer_timeout(connection_id c, duration timeout);

  // --- connections --------------------------------------------------------------
  // An incoming connection (its torrent is learnt from the handshake).
  connection_id accept_connection(const wire::endpoint& remote, time_point now,
                                  dialable d = dialable::yes, peer_source source = peer_source::incoming);
  // A connection to a peer of torrent `t` that the host opened without poll_connect()
  // asking for it (a WebRTC data channel it answered): we send the handshake first, as
  // on a connection we dialled. Closed at once when the torrent is paused ("torrent
  // paused") or has no room ("too many connections"); nullopt for an unknown torrent.
  std::optional<connection_id> open_connection(torrent_id t, const wire::endpoint& remote,
                                               time_point now, dialable d = dialable::yes,
                                               peer_source source = peer_source::manual);
  // A connection asked for by poll_connect() is open.
  void connection_opened(connection_id c, time_point now);
  void bytes_received(connection_id c, byte_view data, time_point now);
  // The host's side closed (or failed to open) the connection.
  void connection_closed(connection_id c, time_point now);
  // Flow control (see session_settings::send_buffer_limit): `bytes` of what
  // poll_transmit() gave for the connection have been sent.
  void bytes_sent(connection_id c, std::size_t bytes, time_point now);

  // --- time and storage --------------------------------------------------------------
  void on_timer(time_point now);  // idempotent
  // The periodic tick, or sooner when peers wait for a rate limit's tokens.
  std::optional<time_point> next_deadline() const;
  void storage_completed(storage_completion c, time_point now);
  // The response to an HTTP get: status, the Content-Range header (empty when absent) and
  // Content-Length (nullopt when absent or not the body's length, e.g. compressed).
  void http_response(http_request_id id, int status, std::string_view content_range,
                     std::optional<std::int64_t> content_length, time_point now);
  // Body bytes, in order, in chunks of any size.
  void http_data(http_request_id id, byte_view data, time_point now);
  void http_done(http_request_id id, time_point now);
  // The request could not be performed (network error, CORS refusal, aborted).
  void http_failed(http_request_id id, std::string_view message, time_point now);

  // --- outputs -------------------------------------------------------------------------
  std::optional<transmit> poll_transmit();
  std::optional<close_request> poll_close();
  std::optional<connect_request> poll_connect();
  std::optional<storage_request> poll_storage();
  std::optional<http_request> poll_http();
  std::optional<session_event> poll_event();

  // --- queries ---------------------------------------------------------------------------
  std::optional<torrent_stats> stats(torrent_id t) const;
  std::vector<peer_stats> peers(torrent_id t) const;
  const metainfo* torrent_metainfo(torrent_id t) const;  // nullptr until known
  // BEP 27, or the add option that overrides it; a magnet's flag is known with its metadata.
  bool torrent_is_private(torrent_id t) const;
  std::optional<bitfield> have_pieces(torrent_id t) const;
  // One byte per piece, for a pieces bar: the values of piece_state (piece_picker.hpp):
  // 0 missing, 1 downloading (blocks requested or received), 2 complete (hash being
  // checked), 3 have (verified). Empty while the metadata is unknown.
  std::vector<std::uint8_t> piece_states(torrent_id t) const;
  // The pieces in progress and the bytes of each received so far (WebTorrent's
  // torrent.pieces[i].missing is the rest).
  std::vector<std::pair<piece_index, std::uint32_t>> partial_pieces(torrent_id t) const;
  std::vector<torrent_id> torrents() const;
  // One connection as bittorrent-protocol's wire shows it; nullopt for an unknown one or
  // one whose handshake is not done.
  std::optional<peer_detail> peer_details(connection_id c) const;
  // Bytes of pieces in progress the session holds in memory, over every torrent: pieces
  // held whole, blocks of streamed pieces waiting to be hashed, web seed bytes of blocks
  // not complete yet. (Not counted: storage requests and events not polled yet.)
  std::uint64_t buffered_piece_bytes() const;

  struct impl;

 private:
  // Every call that takes `now` starts here: time never goes backwards.
  impl& enter(time_point now);
  std::unique_ptr<impl> impl_;
};

}  // namespace wt
