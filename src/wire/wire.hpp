// The BitTorrent peer wire protocol: pure codecs and small state machines, no I/O.
//
// BEP 3 handshake and messages, BEP 6 Fast extension, BEP 10 extension protocol
// (handshake and framing), BEP 9 ut_metadata, BEP 11 ut_pex, lt_donthave, and the
// compact peer format that trackers share.
//
// Reading: a connection starts with a handshake_reader; the bytes it does not
// consume, and everything after, go to a message_reader. Both accept arbitrary
// chunks (a message split over many chunks, many messages in one chunk) and check
// every length against a limit before buffering anything. Any error means: close
// the connection.
//
// Writing: encode_to() appends one framed message to a byte_buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/crypto.hpp"
#include "base/error.hpp"
#include "metainfo/metainfo.hpp"

namespace wt::wire {

using peer_id = std::array<std::uint8_t, 20>;

// --- Handshake (BEP 3) -----------------------------------------------------------

inline constexpr std::string_view protocol_name = "BitTorrent protocol";
inline constexpr std::size_t handshake_size = 68;  // 1 + 19 + 8 + 20 + 20

// The reserved-bit features this library knows about.
struct handshake_features {
  bool extension_protocol = false;  // BEP 10: reserved[5] & 0x10
  bool fast = false;                // BEP 6:  reserved[7] & 0x04
  bool dht = false;                 // BEP 5:  reserved[7] & 0x01
  friend bool operator==(const handshake_features&, const handshake_features&) = default;
};

struct handshake {
  std::array<std::uint8_t, 8> reserved{};  // kept whole: unknown bits are the peer's business
  sha1_digest info_hash{};
  peer_id id{};

  handshake_features features() const noexcept;
  friend bool operator==(const handshake&, const handshake&) = default;
};

// Reserved bytes with exactly the requested feature bits set.
std::array<std::uint8_t, 8> reserved_bytes(handshake_features f) noexcept;
handshake make_handshake(const sha1_digest& info_hash, const peer_id& id,
                         handshake_features f = {});

// Appends the 68 bytes.
void encode_to(const handshake& h, byte_buffer& out);

enum class parse_status : std::uint8_t { need_more, done };

// Reads one handshake from a stream fed in chunks. It rejects a wrong protocol
// string as soon as the first wrong byte arrives, and exposes the info-hash as soon
// as it is complete (48 bytes), before the peer id: an accepting side can look the
// torrent up and answer early.
class handshake_reader {
 public:
  struct progress {
    parse_status status;
    std::size_t consumed;  // bytes of the chunk taken; the rest belongs to the messages
  };

  // After done, consumes nothing and reports done again; after an error, repeats it.
  result<progress> feed(byte_view chunk);

  bool done() const noexcept { return have_ == handshake_size && !failed_; }
  std::optional<sha1_digest> info_hash() const;
  // The parsed handshake; meaningful once done().
  handshake get() const;

 private:
  std::array<std::uint8_t, handshake_size> buf_{};
  std::size_t have_ = 0;
  bool failed_ = false;
  error error_{};
};

// --- Messages (BEP 3, BEP 6, BEP 10) ------------------------------------------------

enum class message_id : std::uint8_t {
  choke = 0,
  unchoke = 1,
  interested = 2,
  not_interested = 3,
  have = 4,
  bitfield = 5,
  request = 6,
  piece = 7,
  cancel = 8,
  port = 9,            // BEP 5
  suggest_piece = 13,  // BEP 6 from here
  have_all = 14,
  have_none = 15,
  reject_request = 16,
  allowed_fast = 17,
  extended = 20,       // BEP 10
};

// Byte views in messages (bitfield bits, piece data, extended and unknown
// payloads) point either into the chunk given to message_reader::feed() or into
// the reader's own buffer. They are valid until the next call to feed() or next()
// on that reader, and never longer than the chunk. Copy what must be kept.
struct keep_alive {
  friend bool operator==(const keep_alive&, const keep_alive&) = default;
};
struct choke {
  friend bool operator==(const choke&, const choke&) = default;
};
struct unchoke {
  friend bool operator==(const unchoke&, const unchoke&) = default;
};
struct interested {
  friend bool operator==(const interested&, const interested&) = default;
};
struct not_interested {
  friend bool operator==(const not_interested&, const not_interested&) = default;
};
struct have {
  piece_index piece;
  friend bool operator==(const have&, const have&) = default;
};
struct bitfield {
  byte_view bits;  // piece 0 is the high bit of the first byte
};
struct request {
  piece_index piece;
  std::uint32_t begin = 0;
  std::uint32_t length = 0;
  friend bool operator==(const request&, const request&) = default;
};
// The "piece" message: one block of data.
struct piece_block {
  piece_index piece;
  std::uint32_t begin = 0;
  byte_view data;
};
struct cancel {
  piece_index piece;
  std::uint32_t begin = 0;
  std::uint32_t length = 0;
  friend bool operator==(const cancel&, const cancel&) = default;
};
struct dht_port {
  std::uint16_t port = 0;
  friend bool operator==(const dht_port&, const dht_port&) = default;
};
struct suggest_piece {
  piece_index piece;
  friend bool operator==(const suggest_piece&, const suggest_piece&) = default;
};
struct have_all {
  friend bool operator==(const have_all&, const have_all&) = default;
};
struct have_none {
  friend bool operator==(const have_none&, const have_none&) = default;
};
struct reject_request {
  piece_index piece;
  std::uint32_t begin = 0;
  std::uint32_t length = 0;
  friend bool operator==(const reject_request&, const reject_request&) = default;
};
struct allowed_fast {
  piece_index piece;
  friend bool operator==(const allowed_fast&, const allowed_fast&) = default;
};
// BEP 10: id 0 is the extension handshake, other ids are the ones the receiver
// assigned in its own handshake's "m" dictionary.
struct extended {
  std::uint8_t id = 0;
  byte_view payload;
};
// Any other message id (e.g. BEP 52 hash messages): passed up, the caller decides.
struct unknown_message {
  std::uint8_t id = 0;
  byte_view payload;
};

using message = std::variant<keep_alive, choke, unchoke, interested, not_interested, have,
                             bitfield, request, piece_block, cancel, dht_port, suggest_piece,
                             have_all, have_none, reject_request, allowed_fast, extended,
                             unknown_message>;

// Appends one framed message (4-byte big-endian length, id, payload).
void encode_to(const message& m, byte_buffer& out);
byte_buffer encode(const message& m);
// The 13-byte header of a piece message carrying `data_length` bytes, so that a
// host can send the block's data from storage without copying it into a buffer.
void encode_piece_header(piece_index piece, std::uint32_t begin, std::uint32_t data_length,
                         byte_buffer& out);

// Equal message type and content (byte views compared by content).
bool same_message(const message& a, const message& b);
// For logs and tests: "have 12", "request 3 16384 16384", "piece 3 0 <16384 bytes>".
std::string to_string(const message& m);

struct reader_limits {
  std::uint32_t max_block = 16 * 1024;        // data bytes in one piece message
  std::uint32_t max_bitfield = 256 * 1024;    // bytes, while the piece count is unknown
  std::uint32_t max_extended = 1024 * 1024;   // payload bytes of an extended message
  std::uint32_t max_unknown = 1024 * 1024;    // payload bytes of an unknown message
};

// Splits a byte stream into messages. Usage:
//
//   reader.feed(chunk);
//   while (true) {
//     auto m = reader.next();
//     if (!m) { close the connection: m.err() }
//     if (!*m) break;            // need more bytes
//     handle(**m);
//   }
//
// Every length prefix is checked against the limit for its message id as soon as
// the id byte arrives, and fixed-size messages (have is 5 bytes) are checked then
// too, before any of the body is buffered. Only a message split across chunks is
// copied; one that lies whole in a chunk is returned as views into it. Error
// positions count bytes since the reader was created.
class message_reader {
 public:
  explicit message_reader(reader_limits limits = {}) : limits_(limits) {}

  // Once known (from the metainfo), bitfields must be exactly ceil(count/8) bytes
  // with spare bits clear, and piece indices in every message must be below it.
  void set_piece_count(std::uint32_t count) { piece_count_ = count; }
  std::optional<std::uint32_t> piece_count() const { return piece_count_; }

  // Queues a chunk. The chunk must stay alive until next() has returned an empty
  // optional or an error. Feeding again before that is allowed; the undrained bytes
  // are then copied.
  void feed(byte_view chunk);

  // The next complete message; an empty optional when more bytes are needed. After
  // an error every call returns that error again.
  result<std::optional<message>> next();

  // Bytes fed so far but not yet returned as messages.
  std::size_t buffered() const noexcept { return partial_.size() + chunk_.size(); }
  std::uint64_t stream_offset() const noexcept { return consumed_; }

 private:
  result<std::optional<message>> fail(errc code, std::uint64_t position, std::string context);
  std::optional<error> check_header(std::uint32_t length, std::uint8_t id,
                                    std::uint64_t position) const;
  result<message> parse(byte_view frame, std::uint64_t position) const;

  reader_limits limits_;
  std::optional<std::uint32_t> piece_count_;
  byte_view chunk_;             // the undrained part of the caller's chunk (or backlog_)
  byte_buffer backlog_;         // owned copy when feed() came before draining
  byte_buffer partial_;         // the message being assembled across chunks
  bool partial_returned_ = false;  // partial_ held the last message returned; clear it
  std::uint64_t consumed_ = 0;  // stream offset of the next byte not yet taken
  std::optional<error> error_;
};

// True when `bits` has the exact size for `piece_count` and no spare bit set (for
// a bitfield received before the metadata).
bool bitfield_fits(byte_view bits, std::uint32_t piece_count) noexcept;

// --- Compact peers (BEP 23 / BEP 7 / BEP 11) ----------------------------------------

struct endpoint {
  std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes
  bool v6 = false;
  std::uint16_t port = 0;
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

endpoint make_endpoint_v4(std::array<std::uint8_t, 4> address, std::uint16_t port);
endpoint make_endpoint_v6(const std::array<std::uint8_t, 16>& address, std::uint16_t port);
// "1.2.3.4:6881", "[2001:db8::1]:6881"
std::string to_string(const endpoint& e);
// "1.2.3.4", "2001:db8::1", "::ffff:1.2.3.4"; nullopt for anything else (no host names,
// no zone ids, no leading zeros in IPv4 parts). The port is left 0.
std::optional<endpoint> parse_ip_address(std::string_view text);
// The inverse of to_string: a literal address and a port ("1.2.3.4:6881", "[::1]:6881"); nullopt for
// anything else (a host name, port 0, a malformed address). An IPv4-mapped IPv6 address
// ("[::ffff:1.2.3.4]") stays IPv6.
std::optional<endpoint> parse_endpoint(std::string_view text);
// A port in decimal digits only, 1 to 65535 ("6881"); nullopt for anything else.
std::optional<std::uint16_t> parse_port(std::string_view text);

inline constexpr std::size_t compact_v4_size = 6;   // 4 address bytes, 2 port bytes
inline constexpr std::size_t compact_v6_size = 18;  // 16 address bytes, 2 port bytes

// Appends 6 or 18 bytes, by the endpoint's family.
void append_compact(const endpoint& e, byte_buffer& out);
// What a list longer than max_peers gets: refused (a peer's ut_pex message breaks the
// protocol) or cut to its first max_peers (a tracker's answer is still worth its peers).
enum class too_many_peers : bool { refuse, keep_first };
// A packed list of IPv4 (6-byte) or IPv6 (18-byte) peers. A length that is not a
// multiple of the entry size is wire_bad_compact_peers; more than max_peers entries
// is wire_too_many_peers, or cut, as `excess` says.
result<std::vector<endpoint>> parse_compact_v4(byte_view bytes, std::size_t max_peers,
                                               too_many_peers excess = too_many_peers::refuse);
result<std::vector<endpoint>> parse_compact_v6(byte_view bytes, std::size_t max_peers,
                                               too_many_peers excess = too_many_peers::refuse);

// --- BEP 10 extension handshake -----------------------------------------------------

inline constexpr std::string_view ut_metadata_name = "ut_metadata";
inline constexpr std::string_view ut_pex_name = "ut_pex";
inline constexpr std::string_view lt_donthave_name = "lt_donthave";

struct extension_handshake {
  // Extension name -> the id the sender wants to receive it under; 0 disables it.
  std::map<std::string, std::uint8_t, std::less<>> m;
  std::optional<std::string> client;            // "v"
  std::optional<std::uint16_t> listen_port;     // "p"
  std::optional<std::uint32_t> reqq;            // outstanding requests the sender allows
  std::optional<std::uint32_t> metadata_size;   // BEP 9: bytes of the info dict
  std::optional<byte_buffer> yourip;            // 4 or 16 bytes: our address as seen by the sender
  std::optional<std::array<std::uint8_t, 4>> ipv4;   // the sender's own addresses
  std::optional<std::array<std::uint8_t, 16>> ipv6;

  // The id for `name`, when the sender supports it (present and not 0).
  std::optional<std::uint8_t> id_of(std::string_view name) const;
  friend bool operator==(const extension_handshake&, const extension_handshake&) = default;
};

struct extension_limits {
  std::uint32_t max_reqq = 2000;                        // larger values are clamped to it
  std::uint32_t max_metadata_size = 16 * 1024 * 1024;  // ut_metadata total size (WebTorrent's: 10 MB)
  std::size_t max_pex_peers = 200;                     // per list, when decoding ut_pex
};

// The payload of an extended message with id 0 (without the 2-byte framing).
// Unknown keys are ignored. Errors: bencode errors; wire_not_a_dict; wire_bad_field
// for an "m" entry that is not an integer in 0..255, a "reqq" that is not a positive
// integer, a "metadata_size" that is not a positive integer; wire_metadata_too_large
// for a metadata_size above the limit. Known keys of the wrong type where it does
// not matter ("v", "p", "yourip", "ipv4", "ipv6") are dropped.
result<extension_handshake> decode_extension_handshake(byte_view payload,
                                                       const extension_limits& lim = {});
// `extra`: more top-level fields (e.g. from user extensions); the fields above win
// over an extra field of the same name.
byte_buffer encode_extension_handshake(const extension_handshake& h,
                                       const bencode::dict& extra = {});

// --- BEP 9 ut_metadata ---------------------------------------------------------------

inline constexpr std::uint32_t metadata_piece_size = 16 * 1024;

enum class metadata_msg_type : std::uint8_t { request = 0, data = 1, reject = 2 };

struct metadata_message {
  metadata_msg_type type = metadata_msg_type::request;
  std::uint32_t piece = 0;
  std::uint32_t total_size = 0;  // data only
  byte_view data;                // data only: a view into the decoded payload
};

// The payload of a ut_metadata extended message. An empty optional is a msg_type
// this version does not know: BEP 9 says to ignore the message. Errors: bencode
// errors; wire_not_a_dict; wire_missing_field (msg_type, piece, total_size for
// data); wire_bad_field (a negative or non-integer field, a piece beyond the
// largest metadata, a data piece whose size does not match total_size);
// wire_metadata_too_large (total_size above the limit, data above 16 KiB);
// wire_trailing_data (bytes after a request or reject).
result<std::optional<metadata_message>> decode_metadata_message(
    byte_view payload, const extension_limits& lim = {});
byte_buffer encode_metadata_message(const metadata_message& m);

// --- BEP 11 ut_pex --------------------------------------------------------------------

// Flags in added.f / added6.f.
inline constexpr std::uint8_t pex_prefers_encryption = 0x01;
inline constexpr std::uint8_t pex_seed = 0x02;
inline constexpr std::uint8_t pex_supports_utp = 0x04;
inline constexpr std::uint8_t pex_supports_holepunch = 0x08;
inline constexpr std::uint8_t pex_reachable = 0x10;
// BEP 11: send at most this many added and this many dropped peers per message.
inline constexpr std::size_t pex_max_peers_per_message = 50;

struct pex_peer {
  endpoint peer;
  std::uint8_t flags = 0;
  friend bool operator==(const pex_peer&, const pex_peer&) = default;
};

struct pex_message {
  std::vector<pex_peer> added;    // IPv4 and IPv6 together
  std::vector<endpoint> dropped;  // IPv4 and IPv6 together
  friend bool operator==(const pex_message&, const pex_message&) = default;
};

// Missing lists are empty; a flags string of the wrong length is ignored (flags
// 0). Errors: bencode errors; wire_not_a_dict; wire_bad_field (a list that is not
// a string); wire_bad_compact_peers; wire_too_many_peers (more than
// lim.max_pex_peers in one list).
result<pex_message> decode_pex_message(byte_view payload, const extension_limits& lim = {});
// Encodes every peer given: keep each list to pex_max_peers_per_message.
byte_buffer encode_pex_message(const pex_message& m);

// --- lt_donthave -----------------------------------------------------------------------

// The payload is the 4-byte piece index. Error: wire_bad_message_length.
result<piece_index> decode_donthave(byte_view payload);
byte_buffer encode_donthave(piece_index piece);

}  // namespace wt::wire
