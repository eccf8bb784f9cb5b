// KRPC, the DHT's message format (BEP 5): one bencoded dictionary per UDP datagram,
// a query ("y": "q"), a response ("y": "r") or an error ("y": "e"), matched by the
// transaction id "t". Compact node info is 26 bytes (id, IPv4 address, port) in "nodes",
// 38 (id, IPv6 address, port) in "nodes6" (BEP 32); compact peers 6 or 18 bytes.
//
// The decoder is strict about what it uses and tolerant of what it does not: extra keys
// (libtorrent's "v", "ip", "ro", "want", ...) are ignored, while a datagram that is too
// large, nested too deep, holds too many nodes or peers, or lacks a field the message
// needs is refused with a krpc_error, never a crash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "wire/wire.hpp"

namespace wt::dht {

// 160-bit ids: node ids and info-hashes share the space (XOR metric).
using node_id = std::array<std::uint8_t, 20>;

// a XOR b, compared as a big-endian number.
node_id distance(const node_id& a, const node_id& b) noexcept;
// True when a is closer to target than b.
bool closer(const node_id& a, const node_id& b, const node_id& target) noexcept;
// Leading bits a and b share (0..160).
int common_prefix_bits(const node_id& a, const node_id& b) noexcept;

struct node_info {
  node_id id{};
  wire::endpoint ep;
  friend bool operator==(const node_info&, const node_info&) = default;
};

inline constexpr std::size_t compact_node_size = 26;   // 20 id bytes + 6 endpoint bytes
inline constexpr std::size_t compact_node6_size = 38;  // 20 id bytes + 18 endpoint bytes

// Appends the nodes of one family: 26 bytes per IPv4 node, or 38 per IPv6 node (v6).
void append_compact_nodes(const std::vector<node_info>& nodes, bool v6, byte_buffer& out);

// A compact endpoint: 6 bytes (IPv4) or 18 (IPv6), the address then the port, big-endian.
// The caller checks the size.
wire::endpoint endpoint_from_compact(byte_view compact);

// BEP 32 "want": the families of nodes a querier asks for (bits).
inline constexpr std::uint8_t want_n4 = 1;
inline constexpr std::uint8_t want_n6 = 2;

// --- Errors ---------------------------------------------------------------------------

enum class krpc_errc : std::uint8_t {
  message_too_large,  // the datagram is longer than limits::max_message_size
  bad_bencode,        // not bencode, or nested deeper / more values than the limits
  not_a_dict,         // the top level (or "a" / "r") is not a dictionary
  missing_field,      // a field the message needs is absent
  bad_field,          // a field of the wrong type or size
  unknown_type,       // "y" is not "q", "r" or "e"
};

const char* describe(krpc_errc code) noexcept;

struct krpc_error {
  krpc_errc code = krpc_errc::bad_bencode;
  std::string field;  // e.g. "a.info_hash"; for bad_bencode, the bencode error's message
  // "missing field (a.id)"
  std::string message() const;
};

// --- Messages ---------------------------------------------------------------------------

enum class method : std::uint8_t { ping, find_node, get_peers, announce_peer, get, put, unknown };

// A BEP 44 item, as "put" queries and "get" answers carry it (what it means, how it is
// checked and stored: src/dht/item.hpp).
using public_key = std::array<std::uint8_t, 32>;
using item_signature = std::array<std::uint8_t, 64>;

struct item {
  byte_buffer value;              // "v": one bencoded value, as its author encoded it
  std::optional<public_key> key;  // "k": present for mutable items only
  byte_buffer salt;               // mutable items: part of the target; "put" carries it, answers do not
  std::int64_t seq = 0;           // mutable items
  item_signature sig{};           // mutable items: Ed25519 over signature_data()
  bool is_mutable() const noexcept { return key.has_value(); }
  friend bool operator==(const item&, const item&) = default;
};

const char* method_name(method m) noexcept;

struct query {
  method kind = method::ping;
  std::string name;         // the "q" value as received (for unknown methods)
  node_id id{};             // the querier's node id
  node_id target{};         // find_node, get: target; get_peers / announce_peer: info_hash
  std::uint16_t port = 0;   // announce_peer
  bool implied_port = false;  // announce_peer: use the datagram's source port instead
  byte_buffer token;        // announce_peer, put
  // BEP 44. get: "seq", answer with the value only if it is newer. put: the item ("v", and
  // for a mutable one "k", "salt", "seq", "sig"), and "cas".
  std::optional<std::int64_t> seq;
  std::optional<item> put;
  std::optional<std::int64_t> cas;
  std::uint8_t want = 0;    // BEP 32: want_n4 | want_n6; 0: not said (the socket's family)
  friend bool operator==(const query&, const query&) = default;
};

// A response does not name its method: the transaction id says which query it answers.
struct response {
  node_id id{};
  std::vector<node_info> nodes;           // "nodes" (IPv4) and "nodes6" (IPv6) compact node info
  std::vector<wire::endpoint> values;     // "values": compact peers, IPv4 or IPv6
  std::optional<byte_buffer> token;       // get_peers
  std::optional<wire::endpoint> ip;       // BEP 42 "ip": our address as the responder sees it
  std::optional<item> stored;             // BEP 44 get: "v" (and "k", "seq", "sig"), unchecked
  // Encoding only: the family of an empty "nodes" a get_peers answer without peers or nodes
  // carries ("nodes6" when true).
  bool v6 = false;
  friend bool operator==(const response&, const response&) = default;
};

struct error_reply {
  std::int64_t code = 201;
  std::string text;
  friend bool operator==(const error_reply&, const error_reply&) = default;
};

// Error codes of BEP 5.
inline constexpr std::int64_t error_generic = 201;
inline constexpr std::int64_t error_server = 202;
inline constexpr std::int64_t error_protocol = 203;
inline constexpr std::int64_t error_method_unknown = 204;

struct message {
  byte_buffer transaction_id;  // "t": at most limits::max_transaction_id bytes
  std::variant<query, response, error_reply> body;
  std::optional<std::string> version;  // "v", informational
  friend bool operator==(const message&, const message&) = default;
};

struct limits {
  // Bytes in one datagram: any UDP payload, as WebTorrent's bittorrent-dht reads (a node
  // listing 500 nodes beside the peers asked for sends 13 kB; the peers are still good).
  std::size_t max_message_size = 65507;
  std::uint32_t max_depth = 16;          // bencode nesting (a KRPC message needs 3, plus a BEP 44 value's)
  std::uint32_t max_tokens = 16384;      // bencode values in one datagram (a 64 kB one of 6-byte peers: ~8,000)
  std::size_t max_nodes = 64;            // entries kept of "nodes" (the rest ignored)
  std::size_t max_values = 1000;         // peers kept of "values" (the rest ignored)
  std::size_t max_transaction_id = 16;   // bytes in "t"
  std::size_t max_token = 64;            // bytes in a get_peers token
  std::size_t max_error_text = 256;      // bytes of an error's text kept
};

using decode_result = std::variant<message, krpc_error>;

decode_result decode(byte_view datagram, const limits& lim = {});
byte_buffer encode(const message& m);

}  // namespace wt::dht
