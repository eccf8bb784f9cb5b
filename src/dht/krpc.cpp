#include "dht/krpc.hpp"

#include <algorithm>
#include <bit>

#include "bencode/bencode.hpp"

namespace wt::dht {

node_id distance(const node_id& a, const node_id& b) noexcept {
  node_id d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(a[i] ^ b[i]);
  return d;
}

bool closer(const node_id& a, const node_id& b, const node_id& target) noexcept {
  for (std::size_t i = 0; i < target.size(); ++i) {
    const auto da = static_cast<std::uint8_t>(a[i] ^ target[i]);
    const auto db = static_cast<std::uint8_t>(b[i] ^ target[i]);
    if (da != db) return da < db;
  }
  return false;
}

int common_prefix_bits(const node_id& a, const node_id& b) noexcept {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<std::uint8_t>(a[i] ^ b[i]);
    if (x != 0) return static_cast<int>(i * 8) + std::countl_zero(x);
  }
  return 160;
}

void append_compact_nodes(const std::vector<node_info>& nodes, bool v6, byte_buffer& out) {
  for (const auto& n : nodes) {
    if (n.ep.v6 != v6) continue;
    out.insert(out.end(), n.id.begin(), n.id.end());
    wire::append_compact(n.ep, out);
  }
}

wire::endpoint endpoint_from_compact(byte_view b) {
  const auto port = static_cast<std::uint16_t>(b[b.size() - 2] << 8 | b[b.size() - 1]);
  if (b.size() == wire::compact_v4_size) return wire::make_endpoint_v4({b[0], b[1], b[2], b[3]}, port);
  std::array<std::uint8_t, 16> address{};
  std::copy_n(b.begin(), 16, address.begin());
  return wire::make_endpoint_v6(address, port);
}

const char* describe(krpc_errc code) noexcept {
  switch (code) {
    case krpc_errc::message_too_large: return "KRPC message too large";
    case krpc_errc::bad_bencode: return "KRPC message is not valid bencode";
    case krpc_errc::not_a_dict: return "KRPC message is not a dictionary";
    case krpc_errc::missing_field: return "missing field in KRPC message";
    case krpc_errc::bad_field: return "bad field in KRPC message";
    case krpc_errc::unknown_type: return "unknown KRPC message type";
  }
  return "unknown KRPC error";
}

std::string krpc_error::message() const {
  std::string out = describe(code);
  if (!field.empty()) {
    out += " (";
    out += field;
    out += ')';
  }
  return out;
}

const char* method_name(method m) noexcept {
  switch (m) {
    case method::ping: return "ping";
    case method::find_node: return "find_node";
    case method::get_peers: return "get_peers";
    case method::announce_peer: return "announce_peer";
    case method::get: return "get";
    case method::put: return "put";
    case method::unknown: return "unknown";
  }
  return "unknown";
}

namespace {

krpc_error fail(krpc_errc code, std::string field) { return krpc_error{code, std::move(field)}; }

std::optional<node_id> to_id(std::string_view s) {
  if (s.size() != 20) return std::nullopt;
  node_id id{};
  std::copy(s.begin(), s.end(), id.begin());
  return id;
}

// "nodes" (26 bytes per node) or "nodes6" (38, BEP 32) into `out`.
std::optional<krpc_error> read_nodes(const bencode::node& body, bool v6, const limits& lim,
                                     std::vector<node_info>& out) {
  const std::string_view key = v6 ? "nodes6" : "nodes";
  const auto nodes = body.find(key);
  if (!nodes) return std::nullopt;
  const std::string field = "r." + std::string(key);
  const std::size_t size = v6 ? compact_node6_size : compact_node_size;
  if (!nodes->is_string()) return fail(krpc_errc::bad_field, field);
  const auto bytes = nodes->as_bytes();
  if (bytes.size() % size != 0) return fail(krpc_errc::bad_field, field);
  // The first max_nodes: a node that lists more is still worth what it lists.
  const std::size_t end = std::min(bytes.size(), lim.max_nodes * size);
  for (std::size_t at = 0; at < end; at += size) {
    node_info n;
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), 20, n.id.begin());
    n.ep = endpoint_from_compact(bytes.subspan(at + 20, size - 20));
    out.push_back(n);
  }
  return std::nullopt;
}

// Reads a 20-byte id under `key`: missing_field or bad_field otherwise.
std::optional<krpc_error> read_id(const bencode::node& dict, std::string_view key,
                                  std::string_view where, node_id& out) {
  const auto n = dict.find(key);
  if (!n) return fail(krpc_errc::missing_field, std::string(where) + std::string(key));
  const auto id = n->is_string() ? to_id(n->as_string()) : std::nullopt;
  if (!id) return fail(krpc_errc::bad_field, std::string(where) + std::string(key));
  out = *id;
  return std::nullopt;
}

method parse_method(std::string_view q) {
  if (q == "ping") return method::ping;
  if (q == "find_node") return method::find_node;
  if (q == "get_peers") return method::get_peers;
  if (q == "announce_peer") return method::announce_peer;
  if (q == "get") return method::get;
  if (q == "put") return method::put;
  return method::unknown;
}

// A string of exactly N bytes under `key`, if present: bad_field if it is something else.
template <std::size_t N>
std::optional<krpc_error> read_fixed(const bencode::node& dict, std::string_view key, std::string_view where,
                                     std::optional<std::array<std::uint8_t, N>>& out) {
  const auto n = dict.find(key);
  if (!n) return std::nullopt;
  if (!n->is_string() || n->as_bytes().size() != N) return fail(krpc_errc::bad_field, std::string(where) + std::string(key));
  std::array<std::uint8_t, N> bytes{};
  std::copy_n(n->as_bytes().begin(), N, bytes.begin());
  out = bytes;
  return std::nullopt;
}

std::optional<krpc_error> read_int(const bencode::node& dict, std::string_view key, std::string_view where,
                                   std::optional<std::int64_t>& out) {
  const auto n = dict.find(key);
  if (!n) return std::nullopt;
  if (!n->is_int()) return fail(krpc_errc::bad_field, std::string(where) + std::string(key));
  out = n->as_int();
  return std::nullopt;
}

// BEP 44's item fields of a put query ("a") or a get answer ("r"), "v" present: "k" and
// "sig" of their sizes, "seq" an integer, "salt" (queries only) a string. A mutable item
// needs "sig" and "seq" besides "k".
std::optional<krpc_error> read_item(const bencode::node& dict, const bencode::node& v, std::string_view where,
                                    bool with_salt, item& out) {
  const auto raw = v.raw();
  out.value.assign(raw.begin(), raw.end());
  if (auto e = read_fixed<32>(dict, "k", where, out.key)) return e;
  std::optional<item_signature> sig;
  if (auto e = read_fixed<64>(dict, "sig", where, sig)) return e;
  std::optional<std::int64_t> seq;
  if (auto e = read_int(dict, "seq", where, seq)) return e;
  if (with_salt) {
    if (const auto salt = dict.find("salt")) {
      if (!salt->is_string()) return fail(krpc_errc::bad_field, std::string(where) + "salt");
      out.salt.assign(salt->as_bytes().begin(), salt->as_bytes().end());
    }
  }
  if (!out.key) return std::nullopt;
  if (!sig) return fail(krpc_errc::missing_field, std::string(where) + "sig");
  if (!seq) return fail(krpc_errc::missing_field, std::string(where) + "seq");
  out.sig = *sig;
  out.seq = *seq;
  return std::nullopt;
}

// "token" of announce_peer and put.
std::optional<krpc_error> read_token(const bencode::node& args, const limits& lim, byte_buffer& out) {
  const auto token = args.find("token");
  if (!token) return fail(krpc_errc::missing_field, "a.token");
  if (!token->is_string() || token->as_bytes().size() > lim.max_token) return fail(krpc_errc::bad_field, "a.token");
  out.assign(token->as_bytes().begin(), token->as_bytes().end());
  return std::nullopt;
}

std::variant<query, krpc_error> decode_query(const bencode::node& root, const limits& lim) {
  query q;
  const auto name = root.find("q");
  if (!name) return fail(krpc_errc::missing_field, "q");
  if (!name->is_string()) return fail(krpc_errc::bad_field, "q");
  q.kind = parse_method(name->as_string());
  q.name = std::string(name->as_string().substr(0, 32));
  const auto args = root.find("a");
  if (!args) return fail(krpc_errc::missing_field, "a");
  if (!args->is_dict()) return fail(krpc_errc::not_a_dict, "a");
  if (auto e = read_id(*args, "id", "a.", q.id)) return *e;
  // BEP 32: the families of nodes the querier wants back ("n4", "n6"); other entries and a
  // malformed list are ignored (the answer then carries the socket's family).
  if (const auto want = args->find("want"); want && want->is_list()) {
    for (const auto& w : want->items()) {
      if (!w.is_string()) continue;
      if (w.as_string() == "n4") q.want |= want_n4;
      if (w.as_string() == "n6") q.want |= want_n6;
    }
  }
  switch (q.kind) {
    case method::ping:
    case method::unknown:
      break;
    case method::find_node:
      if (auto e = read_id(*args, "target", "a.", q.target)) return *e;
      break;
    case method::get_peers:
      if (auto e = read_id(*args, "info_hash", "a.", q.target)) return *e;
      break;
    case method::announce_peer: {
      if (auto e = read_id(*args, "info_hash", "a.", q.target)) return *e;
      const auto implied = args->find("implied_port");
      if (implied) {
        if (!implied->is_int()) return fail(krpc_errc::bad_field, "a.implied_port");
        q.implied_port = implied->as_int() != 0;
      }
      const auto port = args->find("port");
      if (port) {
        if (!port->is_int() || port->as_int() < 0 || port->as_int() > 65535)
          return fail(krpc_errc::bad_field, "a.port");
        q.port = static_cast<std::uint16_t>(port->as_int());
      } else if (!q.implied_port) {
        return fail(krpc_errc::missing_field, "a.port");
      }
      if (auto e = read_token(*args, lim, q.token)) return *e;
      break;
    }
    case method::get:
      if (auto e = read_id(*args, "target", "a.", q.target)) return *e;
      if (auto e = read_int(*args, "seq", "a.", q.seq)) return *e;
      break;
    case method::put: {
      if (auto e = read_token(*args, lim, q.token)) return *e;
      const auto v = args->find("v");
      if (!v) return fail(krpc_errc::missing_field, "a.v");
      item it;
      if (auto e = read_item(*args, *v, "a.", true, it)) return *e;
      if (auto e = read_int(*args, "cas", "a.", q.cas)) return *e;
      q.put = std::move(it);
      break;
    }
  }
  return q;
}

std::variant<response, krpc_error> decode_response(const bencode::node& root, const limits& lim) {
  response r;
  const auto body = root.find("r");
  if (!body) return fail(krpc_errc::missing_field, "r");
  if (!body->is_dict()) return fail(krpc_errc::not_a_dict, "r");
  if (auto e = read_id(*body, "id", "r.", r.id)) return *e;

  if (auto e = read_nodes(*body, false, lim, r.nodes)) return *e;
  if (auto e = read_nodes(*body, true, lim, r.nodes)) return *e;

  if (const auto values = body->find("values")) {
    if (!values->is_list()) return fail(krpc_errc::bad_field, "r.values");
    for (const auto& v : values->items()) {
      if (r.values.size() == lim.max_values) break;  // the first max_values, as for nodes
      // IPv4 peers, or IPv6 ones (BEP 32), maybe mixed. An entry that is neither is skipped:
      // the peers beside it are still worth asking.
      const auto bytes = v.is_string() ? v.as_bytes() : byte_view{};
      if (bytes.size() != wire::compact_v4_size && bytes.size() != wire::compact_v6_size) continue;
      r.values.push_back(endpoint_from_compact(bytes));
    }
  }

  if (const auto token = body->find("token")) {
    if (!token->is_string() || token->as_bytes().size() > lim.max_token)
      return fail(krpc_errc::bad_field, "r.token");
    const auto t = token->as_bytes();
    r.token = byte_buffer(t.begin(), t.end());
  }

  if (const auto v = body->find("v")) {
    item it;
    if (auto e = read_item(*body, *v, "r.", false, it)) return *e;
    r.stored = std::move(it);
  }

  // BEP 42 puts "ip" at the top level; some implementations put it in "r". Either is
  // informational, so a malformed one is ignored rather than refused.
  for (const auto& where : {root, *body}) {
    const auto ip = where.find("ip");
    if (ip && ip->is_string() && (ip->as_bytes().size() == wire::compact_v4_size ||
                                  ip->as_bytes().size() == wire::compact_v6_size))
      r.ip = endpoint_from_compact(ip->as_bytes());
  }
  return r;
}

std::variant<error_reply, krpc_error> decode_error(const bencode::node& root, const limits& lim) {
  const auto e = root.find("e");
  if (!e) return fail(krpc_errc::missing_field, "e");
  // BEP 5: a list of [code, message]. Anything else is still an error from the node.
  error_reply reply;
  if (e->is_list()) {
    const auto items = e->items();
    if (!items.empty() && items[0].is_int()) reply.code = items[0].as_int();
    if (items.size() > 1 && items[1].is_string())
      reply.text = std::string(items[1].as_string().substr(0, lim.max_error_text));
  } else if (e->is_string()) {
    reply.text = std::string(e->as_string().substr(0, lim.max_error_text));
  }
  return reply;
}

bencode::value bytes_value(byte_view b) { return bencode::value(std::string(as_chars(b))); }
bencode::value id_value(const node_id& id) { return bytes_value(id); }

// An item's value goes out as it came in: the decoder is strict (sorted keys, no leading
// zeros), so decoding and encoding again gives the same bytes. A value that is not bencode
// (only a caller's mistake: check_item refuses it) goes out as a string.
bencode::value item_value(const byte_buffer& v) {
  const auto doc = bencode::decode(v);
  return doc ? bencode::to_value(doc->root()) : bytes_value(v);
}

void put_item_fields(const item& it, bool with_salt, bencode::dict& out) {
  out["v"] = item_value(it.value);
  if (!it.key) return;
  out["k"] = bytes_value(*it.key);
  out["seq"] = bencode::value(it.seq);
  out["sig"] = bytes_value(it.sig);
  if (with_salt && !it.salt.empty()) out["salt"] = bytes_value(it.salt);
}

}  // namespace

decode_result decode(byte_view datagram, const limits& lim) {
  if (datagram.size() > lim.max_message_size)
    return fail(krpc_errc::message_too_large, std::to_string(datagram.size()) + " bytes");
  bencode::limits blim;
  blim.max_depth = lim.max_depth;
  blim.max_tokens = lim.max_tokens;
  blim.max_string_length = lim.max_message_size;
  auto doc = bencode::decode(datagram, blim);
  if (!doc) return fail(krpc_errc::bad_bencode, doc.err().message());
  const auto root = doc->root();
  if (!root.is_dict()) return fail(krpc_errc::not_a_dict, "");

  message m;
  const auto t = root.find("t");
  if (!t) return fail(krpc_errc::missing_field, "t");
  if (!t->is_string() || t->as_bytes().size() > lim.max_transaction_id)
    return fail(krpc_errc::bad_field, "t");
  m.transaction_id.assign(t->as_bytes().begin(), t->as_bytes().end());
  if (const auto v = root.find("v"); v && v->is_string())
    m.version = std::string(v->as_string().substr(0, 16));

  const auto y = root.find("y");
  if (!y) return fail(krpc_errc::missing_field, "y");
  if (!y->is_string()) return fail(krpc_errc::bad_field, "y");
  const auto kind = y->as_string();
  if (kind == "q") {
    auto q = decode_query(root, lim);
    if (auto* e = std::get_if<krpc_error>(&q)) return *e;
    m.body = std::move(std::get<query>(q));
  } else if (kind == "r") {
    auto r = decode_response(root, lim);
    if (auto* e = std::get_if<krpc_error>(&r)) return *e;
    m.body = std::move(std::get<response>(r));
  } else if (kind == "e") {
    auto e = decode_error(root, lim);
    if (auto* err = std::get_if<krpc_error>(&e)) return *err;
    m.body = std::move(std::get<error_reply>(e));
  } else {
    return fail(krpc_errc::unknown_type, "y");
  }
  return m;
}

byte_buffer encode(const message& m) {
  bencode::dict top;
  top["t"] = bytes_value(m.transaction_id);
  if (m.version) top["v"] = *m.version;
  if (const auto* q = std::get_if<query>(&m.body)) {
    top["y"] = "q";
    top["q"] = q->kind == method::unknown ? q->name : std::string(method_name(q->kind));
    bencode::dict a;
    a["id"] = id_value(q->id);
    if (q->want != 0) {
      bencode::list want;
      for (const auto& [bit, name] : {std::pair{want_n4, "n4"}, std::pair{want_n6, "n6"}})
        if (q->want & bit) want.emplace_back(std::string(name));
      a["want"] = std::move(want);
    }
    switch (q->kind) {
      case method::ping:
      case method::unknown:
        break;
      case method::find_node:
        a["target"] = id_value(q->target);
        break;
      case method::get_peers:
        a["info_hash"] = id_value(q->target);
        break;
      case method::announce_peer:
        a["info_hash"] = id_value(q->target);
        a["port"] = bencode::value(std::int64_t{q->port});
        if (q->implied_port) a["implied_port"] = 1;
        a["token"] = bytes_value(q->token);
        break;
      case method::get:
        a["target"] = id_value(q->target);
        if (q->seq) a["seq"] = bencode::value(*q->seq);
        break;
      case method::put:
        a["token"] = bytes_value(q->token);
        if (q->put) put_item_fields(*q->put, true, a);
        if (q->cas) a["cas"] = bencode::value(*q->cas);
        break;
    }
    top["a"] = std::move(a);
  } else if (const auto* r = std::get_if<response>(&m.body)) {
    top["y"] = "r";
    bencode::dict body;
    body["id"] = id_value(r->id);
    // IPv4 nodes in "nodes", IPv6 ones in "nodes6" (BEP 32). A find_node or get_peers
    // answer without peers carries "nodes" (of its family), even empty.
    // (libc++ 14, Emscripten's, has no std::ranges::any_of.)
    const bool any6 = std::any_of(r->nodes.begin(), r->nodes.end(), [](const node_info& n) { return n.ep.v6; });
    const bool any4 = std::any_of(r->nodes.begin(), r->nodes.end(), [](const node_info& n) { return !n.ep.v6; });
    const bool bare = r->nodes.empty() && r->values.empty() && r->token;
    if (any4 || (bare && !r->v6)) {
      byte_buffer nodes;
      append_compact_nodes(r->nodes, false, nodes);
      body["nodes"] = bytes_value(nodes);
    }
    if (any6 || (bare && r->v6)) {
      byte_buffer nodes;
      append_compact_nodes(r->nodes, true, nodes);
      body["nodes6"] = bytes_value(nodes);
    }
    if (!r->values.empty()) {
      bencode::list values;
      for (const auto& peer : r->values) {
        byte_buffer compact;
        wire::append_compact(peer, compact);
        values.push_back(bytes_value(compact));
      }
      body["values"] = std::move(values);
    }
    if (r->token) body["token"] = bytes_value(*r->token);
    if (r->stored) put_item_fields(*r->stored, false, body);
    top["r"] = std::move(body);
    if (r->ip) {
      byte_buffer compact;
      wire::append_compact(*r->ip, compact);
      top["ip"] = bytes_value(compact);
    }
  } else {
    const auto& e = std::get<error_reply>(m.body);
    top["y"] = "e";
    top["e"] = bencode::list{bencode::value(e.code), bencode::value(e.text)};
  }
  return bencode::encode(bencode::value(std::move(top)));
}

}  // namespace wt::dht
