// The one Embind layer over the engine. Thin on purpose: it converts engine values to
// plain JS objects and back, and nothing else. web/core.js shapes them into the public API.
//
// Conventions at this boundary:
// - Bytes come in as (pointer, length) into memory the JS side got from _malloc, and go
//   out as a Uint8Array copied once out of a typed_memory_view. No per-byte conversion.
// - Nothing throws. A call returns its value, or {error: {code, message, position, context}}
//   which the JS side turns into a thrown Error.
// - 64-bit integers cross as doubles (exact up to 2^53 bytes).
//
// Web seeds (BEP 19): the engine plans HTTP range requests, the host performs them.
// - Outputs from poll():
//     {type: 'http', op: 'get', id, torrent, webSeed, url, first, last}
//       fetch `url` with "Range: bytes=<first>-<last>" (inclusive; always sent, also for a
//       whole file), then report, in this order:
//         httpResponse(id, status, contentRange, contentLength, now)  once the headers are in:
//           status (0 is not a status: use httpFailed), the Content-Range header or '',
//           Content-Length as a number, or -1 when absent or not the body's length;
//         httpData(id, length, now)  for each body chunk, its bytes at reserve(length) first;
//         httpDone(id, now)          at the end of the body;
//       or, at any point instead, httpFailed(id, message, now) (network error, CORS
//       refusal). Redirects are followed by the host.
//     {type: 'http', op: 'cancel', id}
//       abort request `id` and report nothing more for it (the engine may emit this from
//       within any of the calls above, e.g. after a bad response, or once a 200 carrying a
//       whole file has given the bytes it needed). Calls for an unknown id are ignored.
// - Commands: addWebSeed(t, url, now) -> bool (false: unknown torrent, not http(s),
//   already there, or too many); webSeeds(t) -> [{id, url, state: 'active' | 'waiting' |
//   'dropped', downloaded, requests, failures, error (errc name), message}].
//   add_torrent / add_magnet take url-list / ws= and as= by themselves.
// - stats(t) has webSeedDownloaded (body bytes from web seeds, part of downloaded) and
//   webSeeds (seeds not dropped). Failures are 'warning' events with code web_seed_*,
//   `connection` = the seed's id.
// - Client options: maxWebConns (requests in flight per seed, default 4), webSeeds
//   ('fallback' default | 'always' | 'off'), webSeedBudget (bytes per torrent, default 0 = none).
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <variant>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#if WT_NODE_MODULE
#include "blocklist/blocklist.hpp"
#include "portmap/natpmp.hpp"
#include "portmap/upnp.hpp"
#endif
#include "host/client.hpp"
#include "base/error.hpp"
#include "metainfo/magnet.hpp"
#include "metainfo/metainfo.hpp"

namespace {

using emscripten::val;

// Sets `address` ("ip:port", "[v6]:port"), `host` (as net.connect and dgram take it: no
// brackets) and `port` of an output.
void set_address(val& out, const wt::wire::endpoint& e) {
  const std::string address = wt::wire::to_string(e);
  out.set("address", address);
  out.set("host", e.v6 ? address.substr(1, address.rfind(']') - 1) : address.substr(0, address.rfind(':')));
  out.set("port", e.port);
}

// A torrent's priority from the app's number (add option, setPriority): 1 to 1000.
std::uint32_t priority_of(double priority) { return static_cast<std::uint32_t>(std::clamp(priority, 1.0, 1000.0)); }

const char* errc_name(wt::errc code) {
  switch (code) {
    case wt::errc::ok: return "ok";
    case wt::errc::bencode_truncated: return "bencode_truncated";
    case wt::errc::bencode_unexpected_byte: return "bencode_unexpected_byte";
    case wt::errc::bencode_leading_zero: return "bencode_leading_zero";
    case wt::errc::bencode_negative_zero: return "bencode_negative_zero";
    case wt::errc::bencode_empty_integer: return "bencode_empty_integer";
    case wt::errc::bencode_integer_overflow: return "bencode_integer_overflow";
    case wt::errc::bencode_string_too_long: return "bencode_string_too_long";
    case wt::errc::bencode_key_not_string: return "bencode_key_not_string";
    case wt::errc::bencode_unsorted_keys: return "bencode_unsorted_keys";
    case wt::errc::bencode_duplicate_key: return "bencode_duplicate_key";
    case wt::errc::bencode_trailing_data: return "bencode_trailing_data";
    case wt::errc::bencode_depth_exceeded: return "bencode_depth_exceeded";
    case wt::errc::bencode_too_many_tokens: return "bencode_too_many_tokens";
    case wt::errc::metainfo_not_a_dict: return "metainfo_not_a_dict";
    case wt::errc::metainfo_missing_field: return "metainfo_missing_field";
    case wt::errc::metainfo_wrong_type: return "metainfo_wrong_type";
    case wt::errc::metainfo_invalid_value: return "metainfo_invalid_value";
    case wt::errc::metainfo_bad_path: return "metainfo_bad_path";
    case wt::errc::metainfo_too_large: return "metainfo_too_large";
    case wt::errc::magnet_not_a_magnet: return "magnet_not_a_magnet";
    case wt::errc::magnet_bad_escape: return "magnet_bad_escape";
    case wt::errc::magnet_bad_info_hash: return "magnet_bad_info_hash";
    case wt::errc::magnet_no_info_hash: return "magnet_no_info_hash";
    case wt::errc::magnet_bad_parameter: return "magnet_bad_parameter";
    case wt::errc::magnet_too_large: return "magnet_too_large";
    case wt::errc::wire_bad_protocol: return "wire_bad_protocol";
    case wt::errc::wire_message_too_large: return "wire_message_too_large";
    case wt::errc::wire_bad_message_length: return "wire_bad_message_length";
    case wt::errc::wire_bad_bitfield: return "wire_bad_bitfield";
    case wt::errc::wire_piece_out_of_range: return "wire_piece_out_of_range";
    case wt::errc::wire_not_a_dict: return "wire_not_a_dict";
    case wt::errc::wire_bad_field: return "wire_bad_field";
    case wt::errc::wire_missing_field: return "wire_missing_field";
    case wt::errc::wire_metadata_too_large: return "wire_metadata_too_large";
    case wt::errc::wire_bad_compact_peers: return "wire_bad_compact_peers";
    case wt::errc::wire_too_many_peers: return "wire_too_many_peers";
    case wt::errc::wire_trailing_data: return "wire_trailing_data";
    case wt::errc::wire_not_negotiated: return "wire_not_negotiated";
    case wt::errc::wire_unrequested_block: return "wire_unrequested_block";
    case wt::errc::session_duplicate_torrent: return "session_duplicate_torrent";
    case wt::errc::session_metadata_mismatch: return "metadata_mismatch";
    case wt::errc::session_storage_failed: return "storage_failed";
    case wt::errc::session_piece_failed: return "piece_failed";
    case wt::errc::tracker_message_too_large: return "tracker_message_too_large";
    case wt::errc::tracker_depth_exceeded: return "tracker_depth_exceeded";
    case wt::errc::tracker_bad_json: return "tracker_bad_json";
    case wt::errc::tracker_unknown_action: return "tracker_unknown_action";
    case wt::errc::tracker_missing_field: return "tracker_missing_field";
    case wt::errc::tracker_bad_field: return "tracker_bad_field";
    case wt::errc::tracker_bad_utf8: return "tracker_bad_utf8";
    case wt::errc::tracker_not_latin1: return "tracker_not_latin1";
    case wt::errc::tracker_bad_id_length: return "tracker_bad_id_length";
    case wt::errc::tracker_failure: return "tracker_failure";
    case wt::errc::tracker_warning: return "tracker_warning";
    case wt::errc::tracker_unknown_offer: return "tracker_unknown_offer";
    case wt::errc::tracker_bad_response: return "tracker_bad_response";
    case wt::errc::tracker_timeout: return "tracker_timeout";
    case wt::errc::tracker_unreachable: return "tracker_unreachable";
    case wt::errc::tracker_bad_url: return "tracker_bad_url";
    case wt::errc::web_seed_bad_url: return "web_seed_bad_url";
    case wt::errc::web_seed_not_found: return "web_seed_not_found";
    case wt::errc::web_seed_http_error: return "web_seed_http_error";
    case wt::errc::web_seed_ignores_range: return "web_seed_ignores_range";
    case wt::errc::web_seed_bad_response: return "web_seed_bad_response";
    case wt::errc::web_seed_bad_data: return "web_seed_bad_data";
    case wt::errc::web_seed_timeout: return "web_seed_timeout";
    case wt::errc::web_seed_failed: return "web_seed_failed";
    case wt::errc::blocklist_bad_line: return "blocklist_bad_line";
    case wt::errc::blocklist_too_large: return "blocklist_too_large";
  }
  return "unknown";
}

val error_value(const wt::error& e) {
  val err = val::object();
  err.set("code", std::string(errc_name(e.code)));
  err.set("message", e.message());
  err.set("position", static_cast<double>(e.position));
  err.set("context", e.context);
  val out = val::object();
  out.set("error", err);
  return out;
}

// A Uint8Array that owns a copy of the bytes (the view into wasm memory would go stale).
val copy_bytes(wt::byte_view bytes) {
  return val(emscripten::typed_memory_view(bytes.size(), bytes.data())).call<val>("slice");
}

wt::byte_view heap_bytes(std::uintptr_t ptr, std::size_t length) {
  return {reinterpret_cast<const std::uint8_t*>(ptr), length};
}

val string_array(const std::vector<std::string>& items) {
  val out = val::array();
  for (const auto& s : items) out.call<void>("push", s);
  return out;
}

std::vector<std::string> strings_of(const val& array) {
  if (array.isUndefined() || array.isNull()) return {};
  return emscripten::vecFromJSArray<std::string>(array);
}

// true / false, or nothing for any other value (undefined: the default applies).
std::optional<bool> optional_bool(const val& v) {
  if (v.isTrue()) return true;
  if (v.isFalse()) return false;
  return std::nullopt;
}

wt::pick_strategy strategy_of(bool sequential) {
  return sequential ? wt::pick_strategy::sequential : wt::pick_strategy::rarest_first;
}

// Engine time from the host's milliseconds (performance.now()).
wt::time_point at_ms(double now_ms) {
  return wt::time_point{wt::duration{static_cast<std::int64_t>(now_ms * 1000.0)}};
}

// The add options the engine takes. extra: { trust, maxWebConns, uploads, addedAt, priority }, trust
// being true (skipVerify: every piece), a Uint8Array (a bitfield of the pieces the store
// holds), or nothing; maxWebConns: requests in flight per web seed of the torrent;
// uploads: its unchoke slots; addedAt: when the app called add() (ms, as `now`); priority:
// its share of the client's connections (add_torrent_params::priority).
wt::add_torrent_params add_params(bool seed, bool check, const val& is_private, bool sequential, const val& extra) {
  wt::add_torrent_params p{.seed = seed, .check = check, .is_private = optional_bool(is_private),
                           .strategy = strategy_of(sequential)};
  if (extra["maxWebConns"].isNumber())
    p.max_web_seed_requests = static_cast<std::uint32_t>(std::clamp(extra["maxWebConns"].as<double>(), 1.0, 64.0));
  if (extra["uploads"].isNumber())  // unchoke slots (WebTorrent's uploads; 0: none)
    p.upload_slots = static_cast<std::uint32_t>(std::clamp(extra["uploads"].as<double>(), 0.0, 1000.0));
  if (extra["addedAt"].isNumber()) p.added_at = at_ms(extra["addedAt"].as<double>());
  if (extra["priority"].isNumber()) p.priority = priority_of(extra["priority"].as<double>());
  const val trust = extra["trust"];
  if (trust.isTrue()) p.trust_all = true;
  // At most a bit per piece of the largest torrent the metainfo parser takes.
  else if (trust.instanceof(val::global("Uint8Array")) && trust["length"].as<unsigned>() <= (1u << 22))
    p.trusted_bits = emscripten::convertJSArrayToNumberVector<std::uint8_t>(trust);
  return p;
}

std::string string_of(const val& v) {
  return v.isString() ? v.as<std::string>() : std::string();
}

// --- .torrent ---------------------------------------------------------------------

// Raw engine fields; web/core.js builds the parse-torrent-shaped object from them.
val parse_torrent(std::uintptr_t ptr, std::size_t length) {
  auto parsed = wt::parse_metainfo(heap_bytes(ptr, length));
  if (!parsed) return error_value(parsed.err());
  const wt::metainfo& m = *parsed;

  val out = val::object();
  out.set("infoHash", wt::to_hex(m.info_hash));
  out.set("infoHashBuffer", copy_bytes(m.info_hash));
  out.set("infoBuffer", copy_bytes(m.info_bytes));
  out.set("name", m.name);
  out.set("pieceLength", static_cast<double>(m.piece_length));
  out.set("length", static_cast<double>(m.total_length));
  out.set("multiFile", m.multi_file);
  // As parse-torrent: undefined when the info dict has no "private".
  out.set("private", m.has_private_key ? val(m.is_private) : val::undefined());

  // All piece hashes as one hex string; JS cuts it into 40-character pieces.
  std::string pieces;
  pieces.reserve(m.piece_hashes.size() * 40);
  for (const auto& h : m.piece_hashes) pieces += wt::to_hex(h);
  out.set("pieces", pieces);
  const std::uint32_t count = m.piece_count();
  out.set("lastPieceLength",
          static_cast<double>(count > 0 ? m.piece_size(wt::piece_index{count - 1}) : m.piece_length));

  val files = val::array();
  for (std::uint32_t i = 0; i < m.files.size(); ++i) {
    const wt::file_entry& f = m.files[i];
    val file = val::object();
    file.set("path", m.path(wt::file_index{i}));
    file.set("name", m.multi_file ? f.name() : m.name);
    file.set("length", static_cast<double>(f.length));
    file.set("offset", static_cast<double>(f.offset));
    file.set("pad", f.pad);
    files.call<void>("push", file);
  }
  out.set("files", files);

  out.set("announce", m.announce);
  val tiers = val::array();
  for (const auto& tier : m.announce_list) tiers.call<void>("push", string_array(tier));
  out.set("announceList", tiers);
  out.set("urlList", string_array(m.url_list));
  if (m.creation_date) out.set("creationDate", static_cast<double>(*m.creation_date));
  out.set("comment", m.comment);
  out.set("createdBy", m.created_by);
  return out;
}

// opts: {name, pieceLength?, announceList, urlList, comment, createdBy?, creationDate?,
//        private, info?, multiFile?}; info: more keys of the info dictionary.
wt::bencode::dict bencode_dict_of_js(const val& v, int depth);
wt::create_options create_options_of(const val& opts) {
  wt::create_options o;
  o.name = string_of(opts["name"]);
  if (opts["pieceLength"].isNumber())
    o.piece_length = static_cast<std::int64_t>(opts["pieceLength"].as<double>());
  val tiers = opts["announceList"];
  if (tiers.isArray()) {
    const auto n = tiers["length"].as<unsigned>();
    for (unsigned i = 0; i < n; ++i) o.announce_list.push_back(strings_of(tiers[i]));
  }
  o.url_list = strings_of(opts["urlList"]);
  o.comment = string_of(opts["comment"]);
  if (opts["createdBy"].isString()) o.created_by = opts["createdBy"].as<std::string>();
  if (opts["creationDate"].isNumber())
    o.creation_date = static_cast<std::int64_t>(opts["creationDate"].as<double>());
  if (!opts["private"].isUndefined()) o.is_private = opts["private"].isTrue();
  o.info_extra = bencode_dict_of_js(opts["info"], 0);
  o.multi_file = opts["multiFile"].isTrue();
  o.filter_junk = !opts["filterJunkFiles"].isFalse();
  return o;
}

// Torrent creation fed in chunks (wt::torrent_creator): files [{path, length}] and the
// options above. error() is null or {error}; inputs() lists the files to feed, in order;
// update(ptr, length) hashes bytes at (ptr, length); finish() returns the .torrent or {error}.
class js_creator {
 public:
  js_creator(const val& files, const val& opts) {
    std::vector<wt::file_spec> specs;
    const auto count = files["length"].as<unsigned>();
    for (unsigned i = 0; i < count; ++i)
      specs.push_back({files[i]["path"].as<std::string>(), static_cast<std::int64_t>(files[i]["length"].as<double>())});
    auto c = wt::torrent_creator::start(specs, create_options_of(opts));
    if (c) creator_.emplace(std::move(*c));
    else error_ = c.err();
  }
  val error() const { return error_ ? error_value(*error_) : val::null(); }
  val inputs() const {
    val out = val::array();
    if (creator_)
      for (std::size_t i : creator_->inputs()) out.call<void>("push", static_cast<double>(i));
    return out;
  }
  double piece_length() const { return creator_ ? static_cast<double>(creator_->piece_length()) : 0; }
  void update(std::uintptr_t ptr, std::size_t length) {
    if (creator_) creator_->update(heap_bytes(ptr, length));
  }
  val finish() {
    if (!creator_) return error();
    auto torrent = creator_->finish();
    if (!torrent) return error_value(torrent.err());
    return copy_bytes(*torrent);
  }

 private:
  std::optional<wt::torrent_creator> creator_;
  std::optional<wt::error> error_;
};

// A .torrent rebuilt as WebTorrent's torrentFile is (see make_torrent_file): the info dict
// of `ptr` (a whole .torrent) with the torrent's trackers, web seeds and private flag (the
// add option; undefined: the info dict's own) as JS knows them.
val torrent_file_with(std::uintptr_t ptr, std::size_t length, const val& trackers, const val& web_seeds,
                      const val& is_private) {
  auto parsed = wt::parse_metainfo(heap_bytes(ptr, length));
  if (!parsed) return error_value(parsed.err());
  const std::optional<bool> flag = optional_bool(is_private);
  return copy_bytes(flag ? wt::make_torrent_file(*parsed, strings_of(trackers), strings_of(web_seeds), flag)
                         : wt::make_torrent_file(*parsed, strings_of(trackers), strings_of(web_seeds)));
}

double default_piece_length(double total_length) {
  return static_cast<double>(wt::default_piece_length(static_cast<std::int64_t>(total_length)));
}

// --- magnet URIs --------------------------------------------------------------------

// [[a, b], ...] of a container of pairs.
template <typename Pairs>
val pair_array(const Pairs& pairs) {
  val out = val::array();
  for (const auto& [first, second] : pairs) {
    val pair = val::array();
    pair.call<void>("push", first);
    pair.call<void>("push", second);
    out.call<void>("push", pair);
  }
  return out;
}

val parse_magnet(const std::string& uri) {
  auto parsed = wt::parse_magnet(uri);
  if (!parsed) return error_value(parsed.err());
  const wt::magnet_link& l = *parsed;

  val out = val::object();
  if (l.info_hash) out.set("infoHash", wt::to_hex(*l.info_hash));
  if (l.info_hash_v2) out.set("btmh", *l.info_hash_v2);  // the multihash text, "1220<hex>"
  out.set("name", l.name);
  out.set("trackers", string_array(l.trackers));
  out.set("webSeeds", string_array(l.web_seeds));
  out.set("exactSources", string_array(l.exact_sources));
  out.set("acceptableSources", string_array(l.acceptable_sources));
  out.set("peers", string_array(l.peers));
  out.set("keywords", string_array(l.keywords));
  out.set("selectOnly", pair_array(l.select_only));
  out.set("other", pair_array(l.other));
  return out;
}

// link: the same fields parse_magnet returns; infoHash as 40 hex or 32 base32 characters.
val make_magnet(const val& link) {
  wt::magnet_link l;
  const std::string hash = string_of(link["infoHash"]);
  if (!hash.empty()) {
    auto bytes = hash.size() == 32 ? wt::from_base32(hash) : wt::from_hex(hash);
    if (!bytes || bytes->size() != 20)
      return error_value(wt::make_error(wt::errc::magnet_bad_info_hash, 0, "infoHash"));
    l.info_hash.emplace();
    std::copy(bytes->begin(), bytes->end(), l.info_hash->begin());
  }
  if (link["btmh"].isString()) l.info_hash_v2 = link["btmh"].as<std::string>();
  l.name = string_of(link["name"]);
  l.trackers = strings_of(link["trackers"]);
  l.web_seeds = strings_of(link["webSeeds"]);
  l.exact_sources = strings_of(link["exactSources"]);
  l.acceptable_sources = strings_of(link["acceptableSources"]);
  l.peers = strings_of(link["peers"]);
  l.keywords = strings_of(link["keywords"]);
  val ranges = link["selectOnly"];
  if (ranges.isArray()) {
    const auto n = ranges["length"].as<unsigned>();
    for (unsigned i = 0; i < n; ++i)
      l.select_only.emplace_back(ranges[i][0].as<std::uint32_t>(), ranges[i][1].as<std::uint32_t>());
  }
  val other = link["other"];
  if (other.isArray()) {
    const auto n = other["length"].as<unsigned>();
    for (unsigned i = 0; i < n; ++i) l.other.emplace_back(string_of(other[i][0]), string_of(other[i][1]));
  }
  return val(wt::make_magnet(l));
}

// --- the client facade ------------------------------------------------------------
//
// One wt::client behind plain calls: times are milliseconds (performance.now()), ids are
// numbers, outputs are plain objects with a `type`. web/client.js wraps it; users never
// see this handle.

val torrent_info(const wt::metainfo& m) {
  val out = val::object();
  out.set("infoHash", wt::to_hex(m.info_hash));
  out.set("name", m.name);
  out.set("length", static_cast<double>(m.total_length));
  out.set("pieceLength", static_cast<double>(m.piece_length));
  out.set("pieces", m.piece_count());
  out.set("infoBuffer", copy_bytes(m.info_bytes));
  val files = val::array();
  for (std::uint32_t i = 0; i < m.files.size(); ++i) {
    const wt::file_entry& f = m.files[i];
    val file = val::object();
    file.set("path", m.path(wt::file_index{i}));
    file.set("name", m.multi_file ? f.name() : m.name);
    file.set("length", static_cast<double>(f.length));
    file.set("offset", static_cast<double>(f.offset));
    file.set("index", i);  // the engine's file index (pad files count)
    // BEP 47 pad files: zeros for alignment, not the torrent's files (torrent.files leaves
    // them out, no store writes them), but a chunk store is told of them, as WebTorrent's.
    if (f.pad) file.set("pad", true);
    if (!f.attr.empty()) file.set("attr", f.attr);  // BEP 47: 'x' executable, 'h' hidden
    files.call<void>("push", file);
  }
  out.set("files", files);
  return out;
}

wt::bencode::dict bencode_dict_of_js(const val& v, int depth);

// A bencoded value as JS: integers as numbers, strings as Uint8Array (as the npm bencode
// package decodes them), lists as arrays, dicts as objects.
val js_of_bencode(const wt::bencode::node& n) {
  switch (n.kind()) {
    case wt::bencode::type::integer: return val(static_cast<double>(n.as_int()));
    case wt::bencode::type::string: return copy_bytes(n.as_bytes());
    case wt::bencode::type::list: {
      val out = val::array();
      for (const auto& item : n.items()) out.call<void>("push", js_of_bencode(item));
      return out;
    }
    case wt::bencode::type::dict: {
      val out = val::object();
      for (const auto& [key, item] : n.entries()) out.set(std::string(key), js_of_bencode(item));
      return out;
    }
  }
  return val::undefined();
}

val js_of_bencoded(wt::byte_view bytes) {
  auto doc = wt::bencode::decode(bytes);
  return doc ? js_of_bencode(doc->root()) : val::null();
}

// A JS value as bencode: numbers (integers), strings, Uint8Array, arrays and plain
// objects. Anything else (or nesting deeper than 16) is left out.
std::optional<wt::bencode::value> bencode_of_js(const val& v, int depth = 0) {
  if (depth > 16 || v.isUndefined() || v.isNull()) return std::nullopt;
  if (v.isNumber()) return wt::bencode::value(static_cast<std::int64_t>(v.as<double>()));
  if (v.isString()) return wt::bencode::value(v.as<std::string>());
  if (v.instanceof(val::global("Uint8Array"))) {
    const auto bytes = emscripten::convertJSArrayToNumberVector<std::uint8_t>(v);
    return wt::bencode::value(std::string(bytes.begin(), bytes.end()));
  }
  if (v.isArray()) {
    wt::bencode::list out;
    const auto n = v["length"].as<unsigned>();
    for (unsigned i = 0; i < n; ++i)
      if (auto item = bencode_of_js(v[i], depth + 1)) out.push_back(std::move(*item));
    return wt::bencode::value(std::move(out));
  }
  if (v.typeOf().as<std::string>() == "object") return wt::bencode::value(bencode_dict_of_js(v, depth));
  return std::nullopt;
}

wt::bencode::dict bencode_dict_of_js(const val& v, int depth) {
  wt::bencode::dict out;
  if (v.isUndefined() || v.isNull()) return out;
  const val keys = val::global("Object").call<val>("keys", v);
  const auto n = keys["length"].as<unsigned>();
  for (unsigned i = 0; i < n; ++i) {
    const auto key = keys[i].as<std::string>();
    if (auto item = bencode_of_js(v[key], depth + 1)) out.emplace(key, std::move(*item));
  }
  return out;
}

#if WT_NODE_MODULE
// --- BEP 44 items (client.dht.put / get; the DHT is the Node module's only) -------------

wt::byte_buffer bytes_of_js(const val& v) {
  if (v.isUndefined() || v.isNull()) return {};
  return emscripten::convertJSArrayToNumberVector<std::uint8_t>(v);
}

// { v: bencoded bytes, k, salt, seq, sig, cas }: k (32 bytes) makes it mutable.
wt::dht::item dht_item_of_js(const val& o) {
  wt::dht::item it;
  it.value = bytes_of_js(o["v"]);
  const auto k = bytes_of_js(o["k"]);
  if (k.size() == 32) {
    it.key.emplace();
    std::copy(k.begin(), k.end(), it.key->begin());
    it.salt = bytes_of_js(o["salt"]);
    it.seq = o["seq"].isNumber() ? static_cast<std::int64_t>(o["seq"].as<double>()) : 0;
    const auto sig = bytes_of_js(o["sig"]);
    if (sig.size() == 64) std::copy(sig.begin(), sig.end(), it.sig.begin());
  }
  return it;
}

val js_of_dht_item(const wt::dht::item& it) {
  val out = val::object();
  out.set("v", copy_bytes(it.value));
  if (it.key) {
    out.set("k", copy_bytes(*it.key));
    out.set("sig", copy_bytes(it.sig));
    out.set("seq", static_cast<double>(it.seq));
    if (!it.salt.empty()) out.set("salt", copy_bytes(it.salt));
  }
  return out;
}

// The bytes a mutable item's signature covers, for the app's sign(): salt and the bencoded
// value v as Uint8Arrays.
val dht_signature_data(const val& salt, double seq, const val& v) {
  return copy_bytes(wt::dht::signature_data(bytes_of_js(salt), static_cast<std::int64_t>(seq), bytes_of_js(v)));
}

// Where the item { v, k, salt } lives (hex).
std::string dht_item_target(const val& item) { return wt::to_hex(wt::dht::item_target(dht_item_of_js(item))); }
#endif

val event_value(const wt::client_event& e) {
  val out = val::object();
  auto set_torrent = [&](wt::torrent_id t) { out.set("torrent", t.value); };
  if (auto* se = std::get_if<wt::session_event>(&e)) {
    std::visit([&](const auto& ev) {
      using T = std::decay_t<decltype(ev)>;
      if constexpr (std::is_same_v<T, wt::metadata_received_event>) {
        out.set("type", std::string("metadata")); set_torrent(ev.torrent);
      } else if constexpr (std::is_same_v<T, wt::piece_verified_event>) {
        out.set("type", std::string("piece")); set_torrent(ev.torrent); out.set("piece", ev.piece.value);
      } else if constexpr (std::is_same_v<T, wt::hash_failed_event>) {
        out.set("type", std::string("hashFailed")); set_torrent(ev.torrent); out.set("piece", ev.piece.value);
      } else if constexpr (std::is_same_v<T, wt::torrent_finished_event>) {
        out.set("type", std::string("done")); set_torrent(ev.torrent);
      } else if constexpr (std::is_same_v<T, wt::peer_connected_event>) {
        out.set("type", std::string("peerConnected")); set_torrent(ev.torrent);
        out.set("connection", ev.connection.value);
        out.set("address", wt::wire::to_string(ev.remote));
        out.set("outgoing", ev.outgoing);
        out.set("peerId", wt::to_hex(ev.peer_id));
        out.set("encryption", ev.encryption);
      } else if constexpr (std::is_same_v<T, wt::peer_disconnected_event>) {
        out.set("type", std::string("peerDisconnected")); set_torrent(ev.torrent);
        out.set("connection", ev.connection.value); out.set("reason", ev.reason);
        out.set("code", std::string(errc_name(ev.code)));
      } else if constexpr (std::is_same_v<T, wt::peer_blocked_event>) {
        out.set("type", std::string("peerBlocked")); set_torrent(ev.torrent);
        out.set("address", wt::wire::to_string(ev.remote));
      } else if constexpr (std::is_same_v<T, wt::peers_found_event>) {
        out.set("type", std::string("peersFound")); set_torrent(ev.torrent);
        val added = val::array();
        for (const auto& e : ev.added) added.call<void>("push", wt::wire::to_string(e));
        val invalid = val::array();
        for (const auto& e : ev.invalid) invalid.call<void>("push", wt::wire::to_string(e));
        out.set("added", added);
        out.set("invalid", invalid);
      } else if constexpr (std::is_same_v<T, wt::peer_banned_event>) {
        out.set("type", std::string("peerBanned")); set_torrent(ev.torrent);
      } else if constexpr (std::is_same_v<T, wt::warning_event>) {
        out.set("type", std::string("warning")); set_torrent(ev.torrent);
        out.set("code", std::string(errc_name(ev.code))); out.set("message", ev.message);
        out.set("connection", ev.connection.value);
      } else if constexpr (std::is_same_v<T, wt::torrent_error_event>) {
        out.set("type", std::string("error")); set_torrent(ev.torrent); out.set("message", ev.message);
      } else if constexpr (std::is_same_v<T, wt::extension_handshake_event>) {
        out.set("type", std::string("extensionHandshake")); set_torrent(ev.torrent);
        out.set("connection", ev.connection.value);
        out.set("extension", ev.extension);
        out.set("peerSupports", ev.peer_supports);
        out.set("handshake", js_of_bencoded(ev.handshake));
      } else if constexpr (std::is_same_v<T, wt::extension_message_event>) {
        out.set("type", std::string("extensionMessage")); set_torrent(ev.torrent);
        out.set("connection", ev.connection.value);
        out.set("extension", ev.extension);
        out.set("payload", copy_bytes(ev.payload));
      } else if constexpr (std::is_same_v<T, wt::peer_message_event>) {
        out.set("type", std::string("peerMessage")); set_torrent(ev.torrent);
        out.set("connection", ev.connection.value);
        out.set("kind", static_cast<unsigned>(ev.kind));
        out.set("index", ev.index);
        out.set("begin", ev.begin);
        out.set("length", ev.length);
        if (ev.kind == wt::peer_message_kind::extended) {
          out.set("extension", ev.extension);
          // The extension handshake decoded, as bittorrent-protocol gives it.
          out.set("payload", ev.index == 0 ? js_of_bencoded(ev.data) : copy_bytes(ev.data));
          if (ev.donthave) out.set("donthave", *ev.donthave);
          if (ev.pex) {  // ut_pex: { added: [[address, flags]...], dropped: [address...] }
            val pex = val::object(), added = val::array(), dropped = val::array();
            for (const auto& a : ev.pex->added) {
              val one = val::array();
              one.call<void>("push", wt::wire::to_string(a.peer));
              one.call<void>("push", a.flags);
              added.call<void>("push", one);
            }
            for (const auto& d : ev.pex->dropped) dropped.call<void>("push", wt::wire::to_string(d));
            pex.set("added", added);
            pex.set("dropped", dropped);
            out.set("pex", pex);
          }
        } else if (ev.kind == wt::peer_message_kind::bitfield || !ev.data.empty()) {
          out.set("data", copy_bytes(ev.data));
        }
      } else if constexpr (std::is_same_v<T, wt::storage_checked_event>) {
        out.set("type", std::string("checked")); set_torrent(ev.torrent); out.set("held", ev.held);
        out.set("recheck", ev.recheck);
      } else if constexpr (std::is_same_v<T, wt::read_completed_event>) {
        out.set("type", std::string("read")); set_torrent(ev.torrent);
        out.set("read", static_cast<double>(ev.read));
        out.set("ok", ev.ok);
        out.set("offset", static_cast<double>(ev.offset));
        out.set("data", copy_bytes(ev.data));
      } else {
        out.set("type", std::string("other"));  // stats events: the host polls stats()
      }
    }, *se);
  } else if (auto* w = std::get_if<wt::tracker_warning_event>(&e)) {
    out.set("type", std::string("warning"));
    out.set("torrent", w->torrent ? static_cast<int>(w->torrent->value) : -1);
    out.set("code", std::string(errc_name(w->err.code)));
    // A tracker's own words (failure reason, warning message) as it wrote them, as
    // WebTorrent's; our errors with the tracker's URL.
    const bool own_words = w->err.code == wt::errc::tracker_failure || w->err.code == wt::errc::tracker_warning;
    const bool bad_url = w->err.code == wt::errc::tracker_bad_url;
    out.set("message", own_words ? w->err.context
                       : bad_url ? w->url + ": unsupported tracker URL (not http(s)://, udp:// or ws(s)://)"
                                 : w->url + ": " + w->err.message());
    out.set("url", w->url);
  } else if (auto* a = std::get_if<wt::tracker_announce_event>(&e)) {
    out.set("type", std::string("announce"));
    set_torrent(a->torrent);
    out.set("url", a->url);
    if (a->complete) out.set("complete", static_cast<double>(*a->complete));
    if (a->incomplete) out.set("incomplete", static_cast<double>(*a->incomplete));
  } else if (auto* sc = std::get_if<wt::tracker_scrape_event>(&e)) {
    out.set("type", std::string("scrape"));
    set_torrent(sc->torrent);
    out.set("url", sc->url);
    out.set("complete", static_cast<double>(sc->complete));
    out.set("incomplete", static_cast<double>(sc->incomplete));
    out.set("downloaded", static_cast<double>(sc->downloaded));
  } else if (auto* d = std::get_if<wt::dht_announce_event>(&e)) {
    out.set("type", std::string("dhtAnnounce"));
    set_torrent(d->torrent);
    out.set("peers", static_cast<double>(d->peers));
    out.set("announcedTo", static_cast<double>(d->announced_to));
#if WT_NODE_MODULE
  } else if (auto* got = std::get_if<wt::dht_item_event>(&e)) {
    out.set("type", std::string("dhtItem"));
    out.set("op", static_cast<double>(got->op));
    out.set("target", wt::to_hex(got->target));
    out.set("item", got->item ? js_of_dht_item(*got->item) : val::null());
    out.set("from", wt::to_hex(got->from));
  } else if (auto* peers = std::get_if<wt::dht_peers_event>(&e)) {
    out.set("type", std::string("dhtPeers"));
    out.set("op", static_cast<double>(peers->op));
    out.set("infoHash", wt::to_hex(peers->info_hash));
    val list = val::array();
    for (const auto& p : peers->peers) list.call<void>("push", wt::wire::to_string(p));
    out.set("peers", list);
    out.set("from", peers->from ? val(wt::wire::to_string(*peers->from)) : val::null());
  } else if (auto* looked = std::get_if<wt::dht_lookup_event>(&e)) {
    out.set("type", std::string("dhtLookup"));
    out.set("op", static_cast<double>(looked->op));
    out.set("infoHash", wt::to_hex(looked->info_hash));
    out.set("nodesWithPeers", static_cast<double>(looked->nodes_with_peers));
    out.set("announcedTo", static_cast<double>(looked->announced_to));
  } else if (auto* boot = std::get_if<wt::dht_bootstrap_event>(&e)) {
    out.set("type", std::string("dhtBootstrapped"));
    out.set("answered", static_cast<double>(boot->answered));
  } else if (auto* put = std::get_if<wt::dht_put_event>(&e)) {
    out.set("type", std::string("dhtPut"));
    out.set("op", static_cast<double>(put->op));
    out.set("target", wt::to_hex(put->target));
    out.set("sent", static_cast<double>(put->sent));
    out.set("stored", static_cast<double>(put->stored));
    if (put->error) {
      out.set("errorCode", static_cast<double>(put->error->code));
      out.set("errorText", put->error->text);
    }
#endif
  } else if (auto* c = std::get_if<wt::peer_channel_event>(&e)) {
    out.set("type", std::string("channel"));
    set_torrent(c->torrent);
    out.set("peer", c->peer.value);
    out.set("connection", c->connection.value);
    out.set("utp", c->utp);
    out.set("tcp", c->tcp);
  }
  return out;
}

// bencode(value) for extension messages built from objects (wire.extended(name, obj)).
val bencode_js(const val& v) {
  auto b = bencode_of_js(v);
  return b ? copy_bytes(wt::bencode::encode(*b)) : val::null();
}

// The bencoded bytes at (ptr, length) as a JS value (js_of_bencoded), or null.
val bencode_decode(std::uintptr_t ptr, std::size_t length) { return js_of_bencoded(heap_bytes(ptr, length)); }


class js_client {
 public:
  // opts: {trackers: [url], seed, sendBufferLimit, offersPerAnnounce}
#if WT_NODE_MODULE
  explicit js_client(const val& opts) : client_(settings_of(opts)) {}  // with HTTP/UDP trackers, DHT
#else
  explicit js_client(const val& opts) : client_(settings_of(opts), nullptr) {}  // without: not linked
#endif

  std::string peer_id() const { return wt::to_hex(client_.peer_id()); }

  // A buffer in wasm memory for the next channel_data / add_torrent input.
  std::uintptr_t reserve(std::size_t n) {
    if (input_.size() < n) input_.resize(n);
    return reinterpret_cast<std::uintptr_t>(input_.data());
  }

  // The .torrent at (ptr, length). seed: the host's store holds every piece; check: the
  // store may hold pieces from an earlier run (read back and hashed first).
  // trackers: more tracker URLs for this torrent (an array, may be empty). is_private:
  // true or false overrides the torrent's private flag (BEP 27), undefined keeps it.
  // sequential: pieces in index order rather than rarest first (the add option strategy).
  // extra: see add_params().
  val add_torrent(std::uintptr_t ptr, std::size_t length, bool seed, bool check, const val& trackers,
                  const val& is_private, bool sequential, const val& extra, double now) {
    auto t = client_.add_torrent(heap_bytes(ptr, length), add_params(seed, check, is_private, sequential, extra),
                                 at_ms(now), strings_of(trackers));
    if (!t) return error_value(t.err());
    return val(t->value);
  }
  val add_magnet(const std::string& uri, const val& trackers, bool check, const val& is_private,
                 bool sequential, const val& extra, double now) {
    auto t = client_.add_magnet(uri, at_ms(now), strings_of(trackers),
                                add_params(false, check, is_private, sequential, extra));
    if (!t) return error_value(t.err());
    return val(t->value);
  }
  void remove_torrent(std::uint32_t t, double now) { client_.remove_torrent(wt::torrent_id{t}, at_ms(now)); }

  val info(std::uint32_t t) const {
    const wt::metainfo* m = client_.engine().torrent_metainfo(wt::torrent_id{t});
    return m ? torrent_info(*m) : val::null();
  }
  val stats(std::uint32_t t) const {
    auto st = client_.engine().stats(wt::torrent_id{t});
    if (!st) return val::null();
    val out = val::object();
    out.set("downloaded", static_cast<double>(st->downloaded));
    out.set("uploaded", static_cast<double>(st->uploaded));
    out.set("have", static_cast<double>(st->have));
    out.set("total", static_cast<double>(st->total));
    out.set("progress", st->progress);
    out.set("downloadSpeed", st->download_rate);
    out.set("uploadSpeed", st->upload_rate);
    out.set("peers", st->peers);
    // Keyed by WebTorrent's source names (the 'noPeers' argument).
    val by_source = val::object();
    const char* names[wt::peer_source_count] = {"manual", "tracker", "dht", "ut_pex", "incoming", "lsd"};
    for (std::size_t i = 0; i < wt::peer_source_count; ++i) by_source.set(names[i], st->peers_by_source[i]);
    out.set("peersBySource", by_source);
    out.set("hasMetadata", st->has_metadata);
    out.set("finished", st->finished);
    out.set("complete", st->complete);
    out.set("paused", st->paused);
    out.set("checking", st->checking);
    out.set("checkProgress", st->check_progress);
    out.set("webSeedDownloaded", static_cast<double>(st->web_seed_downloaded));
    out.set("webSeeds", st->web_seeds);
    return out;
  }

  // --- web seeds (see the contract at the top) -------------------------------------------

  bool add_web_seed(std::uint32_t t, const std::string& url, double now) {
    return client_.add_web_seed(wt::torrent_id{t}, url, at_ms(now));
  }
  bool remove_web_seed(std::uint32_t t, const std::string& url, double now) {
    return client_.remove_web_seed(wt::torrent_id{t}, url, at_ms(now));
  }
  val web_seeds(std::uint32_t t) const {
    val out = val::array();
    for (const auto& w : client_.engine().web_seeds(wt::torrent_id{t})) {
      val seed = val::object();
      seed.set("id", w.id);
      seed.set("url", w.url);
      // As WebTorrent's WebConn: the wire of a web seed has the SHA-1 of its URL as peer id.
      seed.set("peerId", wt::to_hex(wt::sha1(wt::as_bytes(w.url))));
      using state = wt::web_seed_state;
      seed.set("state", std::string(w.state == state::active ? "active" : w.state == state::waiting ? "waiting" : "dropped"));
      seed.set("downloaded", static_cast<double>(w.downloaded));
      seed.set("requests", w.requests);
      seed.set("failures", w.failures);
      seed.set("error", std::string(errc_name(w.error)));
      seed.set("message", w.message);
      out.call<void>("push", seed);
    }
    return out;
  }
  // contentLength < 0: unknown.
  void http_response(double id, int status, const std::string& content_range, double content_length, double now) {
    std::optional<std::int64_t> length;
    if (content_length >= 0) length = static_cast<std::int64_t>(content_length);
    client_.http_response(http_id(id), status, content_range, length, at_ms(now));
  }
  // The bytes are in the reserve() buffer.
  void http_data(double id, std::size_t length, double now) {
    client_.http_data(http_id(id), wt::byte_view(input_.data(), std::min(length, input_.size())), at_ms(now));
  }
  void http_done(double id, double now) { client_.http_done(http_id(id), at_ms(now)); }
  void http_failed(double id, const std::string& message, double now) {
    client_.http_failed(http_id(id), message, at_ms(now));
  }

  // A storage request done: a read's bytes (length of them) are in the reserve() buffer;
  // length 0 for writes, failures and reads the host delivered itself (userRead).
  void storage_completed(double id, bool ok, std::size_t length, double now) {
    wt::storage_completion c;
    c.id = wt::storage_request_id{static_cast<std::uint64_t>(id)};
    c.ok = ok;
    if (ok && length > 0) c.data.assign(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(length));
    client_.storage_completed(std::move(c), at_ms(now));
  }
  // A digestOnly read, or a verify write, done by the host: the piece's SHA-1 (20 bytes) is
  // in the reserve() buffer, followed by `length` bytes a verify write hands back (its
  // digest differed: nothing was written); ok false: the write failed.
  void storage_digest(double id, bool ok, std::size_t length, double now) {
    wt::storage_completion c;
    c.id = wt::storage_request_id{static_cast<std::uint64_t>(id)};
    c.ok = ok;
    wt::sha1_digest d{};
    std::copy_n(input_.begin(), d.size(), d.begin());
    c.digest = d;
    if (length > 0) c.data.assign(input_.begin() + d.size(), input_.begin() + static_cast<std::ptrdiff_t>(d.size() + length));
    client_.storage_completed(std::move(c), at_ms(now));
  }

  // --- pieces, files, streaming ------------------------------------------------------

  // The pieces we have, as a BitTorrent bitfield (bit 7 of byte 0 = piece 0); null
  // before the metadata.
  val have_pieces(std::uint32_t t) const {
    auto bits = client_.engine().have_pieces(wt::torrent_id{t});
    if (!bits) return val::null();
    return copy_bytes(bits->to_bytes());
  }
  void set_file_priority(std::uint32_t t, std::uint32_t f, std::uint32_t priority, double now) {
    client_.engine().set_file_priority(wt::torrent_id{t}, wt::file_index{f},
                                       static_cast<std::uint8_t>(std::min(priority, 7u)), at_ms(now));
    client_.flush(at_ms(now));
  }
  std::uint32_t open_reader(std::uint32_t t, double offset, double readahead, double now) {
    const std::uint32_t r = client_.engine().open_reader(wt::torrent_id{t}, static_cast<std::int64_t>(offset),
                                                         static_cast<std::int64_t>(readahead), at_ms(now));
    client_.flush(at_ms(now));
    return r;
  }
  // readahead < 0: keep the reader's.
  void seek_reader(std::uint32_t t, std::uint32_t reader, double offset, double readahead, double now) {
    std::optional<std::int64_t> ahead;
    if (readahead >= 0) ahead = static_cast<std::int64_t>(readahead);
    client_.engine().seek_reader(wt::torrent_id{t}, reader, static_cast<std::int64_t>(offset), at_ms(now), ahead);
    client_.flush(at_ms(now));
  }
  void close_reader(std::uint32_t t, std::uint32_t reader, double now) {
    client_.engine().close_reader(wt::torrent_id{t}, reader, at_ms(now));
    client_.flush(at_ms(now));
  }
  // Bytes once their pieces are verified, in a 'read' event with the returned id (0: an
  // empty or out-of-range request).
  double read_async(std::uint32_t t, double offset, double length, double now) {
    const std::uint64_t id = client_.engine().read(wt::torrent_id{t}, static_cast<std::int64_t>(offset),
                                                   static_cast<std::uint32_t>(length), at_ms(now));
    client_.flush(at_ms(now));
    return static_cast<double>(id);
  }
  val torrent_file(std::uint32_t t) const {
    const wt::byte_buffer file = client_.torrent_file(wt::torrent_id{t});
    return file.empty() ? val::null() : copy_bytes(file);
  }
  val peers(std::uint32_t t) const {
    val out = val::array();
    for (const auto& p : client_.engine().peers(wt::torrent_id{t})) {
      val peer = val::object();
      peer.set("connection", p.connection.value);
      peer.set("address", wt::wire::to_string(p.remote));
      peer.set("outgoing", p.outgoing);
      peer.set("downloaded", static_cast<double>(p.downloaded));
      peer.set("uploaded", static_cast<double>(p.uploaded));
      peer.set("downloadSpeed", p.download_rate);
      peer.set("uploadSpeed", p.upload_rate);
      peer.set("amChoking", p.am_choking);
      peer.set("amInterested", p.am_interested);
      peer.set("peerChoking", p.peer_choking);
      peer.set("peerInterested", p.peer_interested);
      peer.set("pieces", p.pieces);
      peer.set("outstanding", p.outstanding_requests);
      out.call<void>("push", peer);
    }
    return out;
  }

  // Pieces [first, last] (inclusive) at priority 0..7 (0: do not download).
  bool set_piece_priority(std::uint32_t t, std::uint32_t first, std::uint32_t last, std::uint32_t priority,
                          double now) {
    const bool ok = client_.engine().set_piece_priority(wt::torrent_id{t}, {wt::piece_index{first}, wt::piece_index{last}},
                                                        static_cast<std::uint8_t>(std::min(priority, 7u)), at_ms(now));
    client_.flush(at_ms(now));
    return ok;
  }
  // Every missing piece deselected (priority 0) at `priority` (session::select_missing).
  bool select_missing(std::uint32_t t, std::uint32_t priority, double now) {
    const bool ok = client_.engine().select_missing(wt::torrent_id{t}, static_cast<std::uint8_t>(std::min(priority, 7u)),
                                                    at_ms(now));
    client_.flush(at_ms(now));
    return ok;
  }
  bool add_critical_pieces(std::uint32_t t, std::uint32_t first, std::uint32_t last, double now) {
    const bool ok = client_.engine().add_critical_pieces(wt::torrent_id{t}, {wt::piece_index{first}, wt::piece_index{last}},
                                                         at_ms(now));
    client_.flush(at_ms(now));
    return ok;
  }
  // One byte per piece: 0 missing, 1 downloading, 2 complete (being checked), 3 have.
  val piece_states(std::uint32_t t) const {
    const auto states = client_.engine().piece_states(wt::torrent_id{t});
    return copy_bytes(states);
  }
  // The pieces in progress: [piece, bytes received, piece, bytes received, ...].
  val partial_pieces(std::uint32_t t) const {
    val out = val::array();
    unsigned i = 0;
    for (const auto& [piece, bytes] : client_.engine().partial_pieces(wt::torrent_id{t})) {
      out.set(i++, piece.value);
      out.set(i++, bytes);
    }
    return out;
  }
  bool pause(std::uint32_t t, double now) { return client_.pause_torrent(wt::torrent_id{t}, at_ms(now)); }
  bool resume(std::uint32_t t, double now) { return client_.resume_torrent(wt::torrent_id{t}, at_ms(now)); }
  // Peer connections per torrent (WebTorrent's client.maxConns, set at runtime).
  void set_max_conns(double n, double now) {
    client_.engine().set_max_connections_per_torrent(static_cast<std::uint32_t>(std::clamp(n, 0.0, 65535.0)), at_ms(now));
    client_.flush(at_ms(now));
  }
  // Bytes per second, 0 = unlimited.
  void set_rate_limits(double download, double upload, double now) {
    client_.engine().set_download_limit(static_cast<std::uint64_t>(std::max(0.0, download)), at_ms(now));
    client_.engine().set_upload_limit(static_cast<std::uint64_t>(std::max(0.0, upload)), at_ms(now));
    client_.flush(at_ms(now));
  }
  // One torrent's own limits, under the client's: bytes per second, 0 = unlimited.
  void set_torrent_rate_limits(std::uint32_t t, double download, double upload, double now) {
    client_.engine().set_torrent_download_limit(wt::torrent_id{t}, static_cast<std::uint64_t>(std::max(0.0, download)),
                                                at_ms(now));
    client_.engine().set_torrent_upload_limit(wt::torrent_id{t}, static_cast<std::uint64_t>(std::max(0.0, upload)),
                                              at_ms(now));
    client_.flush(at_ms(now));
  }

  // The torrent's share of the client's connections (torrent.setPriority).
  void set_torrent_priority(std::uint32_t t, double priority, double now) {
    client_.engine().set_torrent_priority(wt::torrent_id{t}, priority_of(priority), at_ms(now));
    client_.flush(at_ms(now));
  }

  // --- WebRTC channels the page connected itself, extensions ---------------------------

  // A peer handle for a data channel signalled by the page (torrent.addPeer), or -1.
  double attach_channel(std::uint32_t t, double now) {
    auto p = client_.attach_channel(wt::torrent_id{t}, at_ms(now));
    return p ? static_cast<double>(p->value) : -1.0;
  }
  // --- addressed peers (TCP under Node: client setting dialPeers) ------------------------

  // An address "ip:port" / "[ip6]:port" for the torrent: 'added', 'blocked' (the blocklist
  // holds it), or 'invalid' (not a literal address with a port, one the torrent holds
  // already or cannot use, or an unknown torrent).
  std::string add_peer(std::uint32_t t, const std::string& address, double now) {
    auto e = wt::wire::parse_endpoint(address);
    return e ? peer_answer(client_.add_peer(wt::torrent_id{t}, *e, at_ms(now))) : "invalid";
  }
  // The same answer for an address given before the torrent is in the engine (which has
  // not seen it yet, so 'added' means it will be).
  std::string check_peer(const std::string& address) const {
    auto e = wt::wire::parse_endpoint(address);
    return e ? peer_answer(client_.check_peer(*e)) : "invalid";
  }
  static std::string peer_answer(wt::client::add_peer_result r) {
    switch (r) {
      case wt::client::add_peer_result::added: return "added";
      case wt::client::add_peer_result::blocked: return "blocked";
      default: return "invalid";
    }
  }
  // torrent.removePeer('ip:port'): true when the torrent held the address.
  bool remove_peer(std::uint32_t t, const std::string& address, double now) {
    auto e = wt::wire::parse_endpoint(address);
    return e && client_.remove_peer(wt::torrent_id{t}, *e, at_ms(now));
  }
  bool scrape(std::uint32_t t, double now) { return client_.scrape(wt::torrent_id{t}, at_ms(now)); }
  // A peer handle for a socket the host accepted from `address` ("ip:port"), or -1.
  double accept_peer(const std::string& address, double now) {
    auto e = wt::wire::parse_endpoint(address);
    if (!e) return -1.0;
    return static_cast<double>(client_.accept_peer(*e, at_ms(now)).value);
  }

#if WT_NODE_MODULE
  // --- HTTP and UDP trackers (dialPeers; the Node module only) ----------------------------
  // The body is in the reserve() buffer.
  void tracker_response(double id, int status, std::size_t length, double now) {
    client_.tracker_response(static_cast<std::uint64_t>(id), status,
                             wt::byte_view(input_.data(), std::min(length, input_.size())), at_ms(now));
  }
  void tracker_failed(double id, const std::string& message, double now) {
    client_.tracker_failed(static_cast<std::uint64_t>(id), message, at_ms(now));
  }
  // The datagram is in the reserve() buffer; v6: it came over IPv6.
  void udp_received(const std::string& url, std::size_t length, bool v6, double now) {
    client_.udp_received(url, wt::byte_view(input_.data(), std::min(length, input_.size())), v6, at_ms(now));
  }
  void udp_failed(const std::string& url, const std::string& message, double now) {
    client_.udp_failed(url, message, at_ms(now));
  }

  // --- the DHT (option dht) -------------------------------------------------------------
  // routers: ["ip:port", ...] (the host resolved the names); unreadable entries are skipped.
  void dht_bootstrap(const val& routers, double now) {
    std::vector<wt::wire::endpoint> list;
    for (const auto& text : strings_of(routers))
      if (auto e = wt::wire::parse_endpoint(text)) list.push_back(*e);
    client_.dht_bootstrap(list, at_ms(now));
  }
  // The datagram is in the reserve() buffer; from: "ip:port".
  void dht_received(const std::string& from, std::size_t length, double now) {
    if (auto e = wt::wire::parse_endpoint(from))
      client_.dht_received(*e, wt::byte_view(input_.data(), std::min(length, input_.size())), at_ms(now));
  }
  val dht_state(double now) const { return copy_bytes(client_.dht_state(at_ms(now))); }
  // uTP (option utp): datagrams read at once from the torrent port's UDP sockets, in the
  // reserve() buffer (length bytes) one after another, each after its length (2 bytes, big
  // endian); `from` holds their senders in the same order, separated by spaces.
  void utp_received(const std::string& from, std::size_t length, double now) {
    std::vector<wt::client::utp_datagram> batch;
    const wt::byte_view bytes(input_.data(), std::min(length, input_.size()));
    std::size_t at = 0, name = 0;
    while (at + 2 <= bytes.size() && name < from.size()) {
      const std::size_t n = (std::size_t{bytes[at]} << 8) | bytes[at + 1];
      const std::size_t end = std::min(from.find(' ', name), from.size());
      if (at + 2 + n > bytes.size()) break;
      if (auto e = wt::wire::parse_endpoint(std::string_view(from).substr(name, end - name)))
        batch.push_back({*e, bytes.subspan(at + 2, n)});
      at += 2 + n;
      name = end + 1;
    }
    client_.utp_received(batch, at_ms(now));
  }
  // A utpProbe's answer: nothing listens on UDP at `to` ("host:port", "[v6]:port").
  void utp_unreachable(const std::string& to, double now) {
    if (auto e = wt::wire::parse_endpoint(to)) client_.utp_unreachable(*e, at_ms(now));
  }
  bool has_utp() const { return client_.has_utp(); }
  // The state is in the reserve() buffer.
  bool dht_load_state(std::size_t length, double now) {
    return client_.dht_load_state(wt::byte_view(input_.data(), std::min(length, input_.size())), at_ms(now));
  }
  double dht_nodes() const { return static_cast<double>(client_.dht_nodes()); }
  // Every node of the routing tables, 'ip:port' ('[ip]:port' for IPv6).
  val dht_node_list() const {
    val out = val::array();
    for (const auto& e : client_.dht_node_endpoints()) out.call<void>("push", wt::wire::to_string(e));
    return out;
  }
  // The DHT's node id in hex, or null without a DHT.
  val dht_node_id() const {
    const auto id = client_.dht_node_id();
    return id ? val(wt::to_hex(*id)) : val::null();
  }
  // BEP 44. target: 40 hex digits; salt: a Uint8Array or undefined. The op number of the
  // 'dhtItem' event to come, or -1 (no DHT, too many lookups running, a bad target).
  double dht_get(const std::string& target, const val& salt, bool cached, double now) {
    const auto bytes = wt::from_hex(target);
    if (!bytes || bytes->size() != 20) return -1;
    wt::dht::node_id id{};
    std::copy(bytes->begin(), bytes->end(), id.begin());
    const auto op = client_.dht_get_item(id, bytes_of_js(salt), cached, at_ms(now));
    return op ? static_cast<double>(*op) : -1;
  }
  // bittorrent-dht's lookup (port < 0) or announce (port 0: the implied port): the op number
  // of the 'dhtPeers' and 'dhtLookup' events to come, or -1 (no DHT, too many lookups, a bad
  // info-hash).
  double dht_lookup(const std::string& info_hash, double port, double now) {
    const auto bytes = wt::from_hex(info_hash);
    if (!bytes || bytes->size() != 20) return -1;
    wt::dht::node_id id{};
    std::copy(bytes->begin(), bytes->end(), id.begin());
    std::optional<std::uint16_t> announce;
    if (port >= 0 && port <= 65535) announce = static_cast<std::uint16_t>(port);
    const auto op = client_.dht_lookup(id, announce, announce == std::uint16_t{0}, at_ms(now));
    return op ? static_cast<double>(*op) : -1;
  }
  // node: "ip:port".
  void dht_add_node(const std::string& node, double now) {
    if (auto e = wt::wire::parse_endpoint(node)) client_.dht_add_node(*e, at_ms(now));
  }
  // item: { v (bencoded bytes), k, salt, seq, sig, cas }. { op } of the 'dhtPut' event to
  // come, or { code, message }: the item refused (BEP 44's codes) and nothing sent.
  val dht_put(const val& item, double now) {
    std::optional<std::int64_t> cas;
    if (item["cas"].isNumber()) cas = static_cast<std::int64_t>(item["cas"].as<double>());
    const auto started = client_.dht_put_item(dht_item_of_js(item), cas, at_ms(now));
    val out = val::object();
    if (const auto* op = std::get_if<std::uint64_t>(&started)) {
      out.set("op", static_cast<double>(*op));
    } else {
      const auto& refused = std::get<wt::dht::error_reply>(started);
      out.set("code", static_cast<double>(refused.code));
      out.set("message", refused.text);
    }
    return out;
  }

  // --- Local Service Discovery (option lsd) ---------------------------------------------
  // The datagram is in the reserve() buffer; from: "ip:port" (its source).
  void lsd_received(const std::string& from, std::size_t length, double now) {
    if (auto e = wt::wire::parse_endpoint(from))
      client_.lsd_received(*e, wt::byte_view(input_.data(), std::min(length, input_.size())), at_ms(now));
  }
  bool has_lsd() const { return client_.has_lsd(); }

  // --- the blocklist (option blocklist; the Node module only: a browser's peers have no
  // address) ------------------------------------------------------------------------------
  // blocklistBegin(strict), blocklistFeed(length) per chunk of text (in the reserve() buffer;
  // lines may span chunks), then blocklistEnd(now): the filter is set, and the counts
  // returned { entries, ranges, lines, skipped, firstSkipped }, or { error } (nothing set).
  // strict: the first malformed line is the error; else malformed lines are skipped.
  void blocklist_begin(bool strict) { blocklist_ = std::make_unique<wt::blocklist_parser>(strict); }
  void blocklist_feed(std::size_t length) {
    if (blocklist_) blocklist_->feed(wt::as_chars(wt::byte_view(input_.data(), std::min(length, input_.size()))));
  }
  val blocklist_end(double now) {
    if (!blocklist_) return val::null();
    const auto parser = std::move(blocklist_);
    auto set = parser->finish();
    if (!set) return error_value(set.err());
    val out = val::object();
    out.set("entries", static_cast<double>(parser->entries()));
    out.set("ranges", static_cast<double>(set->size()));
    out.set("lines", static_cast<double>(parser->lines()));
    out.set("skipped", static_cast<double>(parser->skipped()));
    out.set("firstSkipped", static_cast<double>(parser->first_skipped()));
    client_.set_ip_filter(std::move(*set), at_ms(now));
    return out;
  }
  // Does the blocklist hold this IP ("1.2.3.4", "::1")? For the remoteAddress of a connection
  // object given to torrent.addPeer, which WebTorrent checks too.
  bool is_blocked(const std::string& ip) const {
    auto e = wt::wire::parse_ip_address(ip);
    return e && client_.engine().blocked(*e);
  }
#endif

  // wire.use(): the extension's id (registered once per name, spoken per connection)...
  std::uint32_t register_extension(const std::string& name, double now) {
    const std::uint32_t id = client_.engine().register_extension(name, {}, wt::extension_scope::per_connection);
    client_.flush(at_ms(now));
    return id;
  }
  // ...then spoken on that wire's connection. fields: the wire's extendedHandshake (a plain
  // object, bencoded into our extension handshake to that peer).
  bool enable_extension(std::uint32_t connection, std::uint32_t extension, const val& fields, double now) {
    const bool enabled = client_.engine().enable_extension(wt::connection_id{connection}, extension,
                                                           bencode_dict_of_js(fields, 0), at_ms(now));
    client_.flush(at_ms(now));
    return enabled;
  }
  // wire.extendedMapping: our extension ids' names, in id order from 1.
  val extension_names() const {
    val names = val::array();
    for (std::string_view name : client_.engine().extension_names()) names.call<void>("push", std::string(name));
    return names;
  }
  // torrent.rescanFiles() and load(): session::recheck_torrent (a 'checked' event with
  // recheck ends it).
  bool recheck(std::uint32_t t, double now) {
    const bool started = client_.engine().recheck_torrent(wt::torrent_id{t}, at_ms(now));
    client_.flush(at_ms(now));
    return started;
  }
  // The 'wire' listeners of the connection ran (session_settings::extension_handshake_hold).
  // `messages`: the peer messages its listeners want from now on (wt::peer_message_bit mask).
  void wire_ready(std::uint32_t connection, std::uint32_t messages, double now) {
    client_.engine().report_peer_messages(wt::connection_id{connection}, messages);
    client_.engine().release_extension_handshake(wt::connection_id{connection}, at_ms(now));
    client_.flush(at_ms(now));
  }
  void report_peer_messages(std::uint32_t connection, std::uint32_t messages) {
    client_.engine().report_peer_messages(wt::connection_id{connection}, messages);
  }
  // wire.setKeepAlive(on) and wire.setTimeout(ms) (0: none).
  bool set_peer_keep_alive(std::uint32_t connection, bool on) {
    return client_.engine().set_peer_keep_alive(wt::connection_id{connection}, on);
  }
  // wire.choke() (true) and wire.unchoke() (false) from the application.
  bool set_peer_choked(std::uint32_t connection, bool choked, double now) {
    const bool done = client_.engine().set_peer_choked(wt::connection_id{connection}, choked, at_ms(now));
    client_.flush(at_ms(now));
    return done;
  }
  bool set_peer_timeout(std::uint32_t connection, double ms) {
    const auto d = std::chrono::duration_cast<wt::duration>(
        std::chrono::duration<double, std::milli>(std::isfinite(ms) && ms > 0 ? std::min(ms, 1e12) : 0));
    return client_.engine().set_peer_timeout(wt::connection_id{connection}, d);
  }
  // bittorrent-protocol's wire fields the events do not carry: the peer's pieces (bytes,
  // MSB first; haveAll: every piece), the features its handshake offered, and the
  // requests in flight each way as [piece, offset, length]; null for a closed connection.
  val peer_details(std::uint32_t connection) const {
    auto d = client_.engine().peer_details(wt::connection_id{connection});
    if (!d) return val::null();
    val out = val::object();
    out.set("haveAll", d->have_all);
    out.set("pieces", copy_bytes(d->pieces));
    out.set("dht", d->features.dht);
    out.set("fast", d->features.fast);
    out.set("extended", d->features.extension_protocol);
    auto requests = [](const std::vector<wt::wire::request>& rs) {
      val list = val::array();
      for (const auto& r : rs) {
        val one = val::array();
        one.call<void>("push", r.piece.value);
        one.call<void>("push", r.begin);
        one.call<void>("push", r.length);
        list.call<void>("push", one);
      }
      return list;
    };
    out.set("requests", requests(d->requests));
    out.set("peerRequests", requests(d->peer_requests));
    return out;
  }
  // The payload is in the reserve() buffer.
  bool send_extension_message(std::uint32_t connection, std::uint32_t extension, std::size_t length,
                              double now) {
    const bool sent = client_.engine().send_extension_message(
        wt::connection_id{connection}, extension,
        wt::byte_view(input_.data(), std::min(length, input_.size())), at_ms(now));
    client_.flush(at_ms(now));
    return sent;
  }

  // The `length` bytes at the input buffer as an extended message with the peer's id.
  bool send_extended_to_peer(std::uint32_t connection, std::uint32_t peer_id, std::size_t length, double now) {
    if (peer_id > 255) return false;
    const bool sent = client_.engine().send_extended_to_peer(
        wt::connection_id{connection}, static_cast<std::uint8_t>(peer_id),
        wt::byte_view(input_.data(), std::min(length, input_.size())), at_ms(now));
    client_.flush(at_ms(now));
    return sent;
  }

  // wire.ut_pex's start()/stop()/reset() ("start", "stop", "reset") and addPeer()/dropPeer().
  bool command_pex(std::uint32_t connection, const std::string& command, double now) {
    using cmd = wt::session::pex_command;
    if (command != "start" && command != "stop" && command != "reset") return false;
    const cmd c = command == "start" ? cmd::start : command == "stop" ? cmd::stop : cmd::reset;
    const bool done = client_.engine().command_pex(wt::connection_id{connection}, c, at_ms(now));
    client_.flush(at_ms(now));
    return done;
  }
  bool pex_advertise(std::uint32_t connection, const std::string& address, std::uint32_t flags, bool dropped,
                     double now) {
    auto e = wt::wire::parse_endpoint(address);
    if (!e) return false;
    const bool done = client_.engine().pex_advertise(
        wt::connection_id{connection}, {*e, static_cast<std::uint8_t>(flags & 0xff)}, dropped, at_ms(now));
    client_.flush(at_ms(now));
    return done;
  }

  void socket_opened(const std::string& url, double now) { client_.socket_opened(url, at_ms(now)); }
  void socket_closed(const std::string& url, double now) { client_.socket_closed(url, at_ms(now)); }
  void text_received(const std::string& url, const std::string& text, double now) {
    client_.text_received(url, text, at_ms(now));
  }
  void offer_created(std::uint32_t p, const std::string& sdp, double now) {
    client_.offer_created(wt::host_peer{p}, sdp, at_ms(now));
  }
  void answer_created(std::uint32_t p, const std::string& sdp, double now) {
    client_.answer_created(wt::host_peer{p}, sdp, at_ms(now));
  }
  void channel_opened(std::uint32_t p, double now) { client_.channel_opened(wt::host_peer{p}, at_ms(now)); }
  // The bytes are in the reserve() buffer.
  void channel_data(std::uint32_t p, std::size_t length, double now) {
    client_.channel_data(wt::host_peer{p}, wt::byte_view(input_.data(), std::min(length, input_.size())),
                         at_ms(now));
  }
  void channel_closed(std::uint32_t p, double now) { client_.channel_closed(wt::host_peer{p}, at_ms(now)); }
  void disconnect(std::uint32_t p, double now) { client_.disconnect(wt::host_peer{p}, at_ms(now)); }
  void channel_sent(std::uint32_t p, double bytes, double now) {
    client_.channel_sent(wt::host_peer{p}, static_cast<std::size_t>(bytes), at_ms(now));
  }

  void on_timer(double now) { client_.on_timer(at_ms(now)); }
  // Milliseconds, or -1 when nothing is due.
  double next_deadline() const {
    auto d = client_.next_deadline();
    if (!d) return -1;
    return static_cast<double>(d->time_since_epoch().count()) / 1000.0;
  }

  // The next output as {type, ...}, or null. The data of a send or a storage write is a view
  // into the engine's memory, valid until the next call into the engine: the host copies
  // what it keeps (the data channel's send() copies anyway, so the bytes cross into JS once
  // instead of twice).
  val poll() {
    auto o = client_.poll();
    if (!o) return val::null();
    val out = val::object();
    namespace co = wt::client_out;
    if (auto* os = std::get_if<co::open_socket>(&*o)) {
      out.set("type", std::string("openSocket")); out.set("url", os->url);
    } else if (auto* st = std::get_if<co::send_text>(&*o)) {
      out.set("type", std::string("sendText")); out.set("url", st->url); out.set("text", st->text);
    } else if (auto* cs = std::get_if<co::close_socket>(&*o)) {
      out.set("type", std::string("closeSocket")); out.set("url", cs->url);
    } else if (auto* cr = std::get_if<co::create_offer>(&*o)) {
      out.set("type", std::string("createOffer")); out.set("peer", cr->peer.value);
    } else if (auto* ca = std::get_if<co::create_answer>(&*o)) {
      out.set("type", std::string("createAnswer")); out.set("peer", ca->peer.value); out.set("sdp", ca->sdp);
    } else if (auto* sa = std::get_if<co::set_answer>(&*o)) {
      out.set("type", std::string("setAnswer")); out.set("peer", sa->peer.value); out.set("sdp", sa->sdp);
    } else if (auto* cp = std::get_if<co::close_peer>(&*o)) {
      out.set("type", std::string("closePeer")); out.set("peer", cp->peer.value); out.set("reason", cp->reason);
    } else if (auto* cn = std::get_if<co::connect>(&*o)) {
      out.set("type", std::string("connect")); out.set("peer", cn->peer.value);
      set_address(out, cn->remote);
    } else if (auto* sd = std::get_if<co::send>(&*o)) {
      out.set("type", std::string("send")); out.set("peer", sd->peer.value);
      held_ = std::move(sd->data);
      out.set("data", val(emscripten::typed_memory_view(held_.size(), held_.data())));
    } else if (auto* so = std::get_if<co::storage>(&*o)) {
      wt::storage_request& r = so->request;
      out.set("type", std::string("storage"));
      out.set("op", std::string(r.op == wt::storage_op::write ? "write" : r.op == wt::storage_op::read ? "read" : "complete"));
      out.set("id", static_cast<double>(r.id.value));
      out.set("torrent", r.torrent.value);
      out.set("piece", r.piece.value);
      out.set("pieceOffset", r.piece_offset);
      out.set("offset", static_cast<double>(r.offset));
      out.set("length", r.length);
      out.set("userRead", static_cast<double>(r.user_read));
      out.set("digestOnly", r.digest_only);
      // A write of part of a streamed piece (not held until its 'complete'), or a read back
      // of such bytes for the engine's own hashing (storage_request::unverified).
      out.set("unverified", r.unverified);
      // A write's data is a view as a send's: the host copies it into a buffer of its own
      // (reused from write to write: a fresh ArrayBuffer per piece cost the browser more
      // than the copy).
      if (r.op == wt::storage_op::write) {
        held_ = std::move(r.data);
        out.set("data", val(emscripten::typed_memory_view(held_.size(), held_.data())));
      }
      // The piece's expected SHA-1: hash the data, write it only when it matches (verify).
      if (r.verify) out.set("verify", copy_bytes(*r.verify));
    } else if (auto* h = std::get_if<co::http>(&*o)) {
      const wt::http_request& r = h->request;
      out.set("type", std::string("http"));
      out.set("op", std::string(r.op == wt::http_op::get ? "get" : "cancel"));
      out.set("id", static_cast<double>(r.id.value));
      if (r.op == wt::http_op::get) {
        out.set("torrent", r.torrent.value);
        out.set("webSeed", r.web_seed);
        out.set("url", r.url);
        out.set("first", static_cast<double>(r.first));
        out.set("last", static_cast<double>(r.last));
      }
    } else if (auto* tg = std::get_if<co::tracker_get>(&*o)) {
      out.set("type", std::string("trackerGet")); out.set("id", static_cast<double>(tg->id)); out.set("url", tg->url);
    } else if (auto* us = std::get_if<co::udp_send>(&*o)) {
      out.set("type", std::string("udpSend")); out.set("url", us->url); out.set("data", copy_bytes(us->data));
    } else if (auto* uc = std::get_if<co::udp_close>(&*o)) {
      out.set("type", std::string("udpClose")); out.set("url", uc->url);
    } else if (auto* ds = std::get_if<co::dht_send>(&*o)) {
      out.set("type", std::string("dhtSend")); set_address(out, ds->to); out.set("data", copy_bytes(ds->data));
    } else if (auto* u = std::get_if<co::utp_send>(&*o)) {
      out.set("type", std::string("utpSend")); set_address(out, u->to); out.set("data", copy_bytes(u->data));
    } else if (auto* up = std::get_if<co::utp_probe>(&*o)) {
      out.set("type", std::string("utpProbe")); set_address(out, up->to);
    } else if (auto* ls = std::get_if<co::lsd_send>(&*o)) {
      out.set("type", std::string("lsdSend")); out.set("v6", ls->v6); out.set("data", copy_bytes(ls->data));
    } else if (auto* ev = std::get_if<wt::client_event>(&*o)) {
      out = event_value(*ev);
      out.set("event", true);
    }
    return out;
  }

 private:
  static wt::client_settings settings_of(const val& opts) {
    wt::client_settings s;
    if (opts.isUndefined() || opts.isNull()) return s;
    s.default_trackers = strings_of(opts["trackers"]);
    if (opts["announceToTrackers"].isFalse()) s.announce_to_trackers = false;  // WebTorrent's tracker: false
    if (opts["useUrlList"].isFalse()) s.use_url_list = false;  // WebTorrent's webSeeds: false
    if (opts["seed"].isNumber()) s.session.seed = static_cast<std::uint64_t>(opts["seed"].as<double>());
    if (opts["sendBufferLimit"].isNumber())
      s.send_buffer_limit = static_cast<std::uint32_t>(opts["sendBufferLimit"].as<double>());
    if (opts["maxConns"].isNumber())
      s.session.max_connections_per_torrent = static_cast<std::uint32_t>(std::max(0.0, opts["maxConns"].as<double>()));
    if (opts["maxConnsTotal"].isNumber())  // the whole client's (0: no limit)
      s.session.max_connections = static_cast<std::uint32_t>(std::max(0.0, opts["maxConnsTotal"].as<double>()));
    if (opts["downloadLimit"].isNumber() && opts["downloadLimit"].as<double>() > 0)
      s.session.download_rate_limit = static_cast<std::uint64_t>(opts["downloadLimit"].as<double>());
    if (opts["uploadLimit"].isNumber() && opts["uploadLimit"].as<double>() > 0)
      s.session.upload_rate_limit = static_cast<std::uint64_t>(opts["uploadLimit"].as<double>());
    // A 20-byte peer id, as 40 hex digits (the JS layer validates and converts).
    if (opts["peerId"].isString()) {
      const std::string hex = opts["peerId"].as<std::string>();
      if (auto bytes = wt::from_hex(hex); bytes && bytes->size() == 20) {
        wt::wire::peer_id id{};
        std::copy(bytes->begin(), bytes->end(), id.begin());
        s.session.peer_id = id;
      }
    }
    if (opts["maxWebConns"].isNumber())
      s.session.max_web_seed_requests = static_cast<std::uint32_t>(std::max(1.0, opts["maxWebConns"].as<double>()));
    if (opts["webSeeds"].isString()) s.session.web_seed_policy = policy_of(opts["webSeeds"].as<std::string>());
    if (opts["webSeedBudget"].isNumber())
      s.session.web_seed_budget = static_cast<std::uint64_t>(std::max(0.0, opts["webSeedBudget"].as<double>()));
    // The host hashes whole pieces on their way to the store (storage requests' verify).
    if (opts["hostHashes"].isTrue()) s.session.host_hashes_pieces = true;
    // Pieces longer than this stream to the store (session_settings::stream_piece_bytes).
    if (opts["streamPieceBytes"].isNumber())
      s.session.stream_piece_bytes = static_cast<std::uint64_t>(std::max(0.0, opts["streamPieceBytes"].as<double>()));
    // The host dials addresses (TCP); listenPort: the port it accepts connections on.
    if (opts["dialPeers"].isTrue()) s.dial_peers = true;
    if (opts["utp"].isTrue()) s.utp = true;  // uTP on the torrent port (with dialPeers)
    if (opts["utPex"].isFalse()) s.session.enable_ut_pex = false;  // WebTorrent's opts.utPex
    if (opts["seedOutgoingConnections"].isFalse()) s.session.seed_outgoing_connections = false;
    // dht: true, or { announceInterval (ms) for tests, nodeId, ipv6 (the host has an IPv6 socket),
    // enforceNodeId (BEP 42) }.
    const val dht = opts["dht"];
    const bool dht_object = dht.typeOf().as<std::string>() == "object" && !dht.isNull();
    if (dht.isTrue() || dht_object) {
      s.dht = wt::dht::settings{};
      s.dht_ipv6 = dht_object && dht["ipv6"].isTrue();
      s.dht->enforce_node_id = dht_object && dht["enforceNodeId"].isTrue();
      if (dht_object && dht["announceInterval"].isNumber())
        s.dht->announce_interval = std::chrono::milliseconds(static_cast<std::int64_t>(dht["announceInterval"].as<double>()));
      // nodeId: 40 hex digits (the JS layer validates and converts), else random.
      if (dht_object && dht["nodeId"].isString()) {
        if (auto bytes = wt::from_hex(dht["nodeId"].as<std::string>()); bytes && bytes->size() == 20) {
          wt::dht::node_id id{};
          std::copy(bytes->begin(), bytes->end(), id.begin());
          s.dht->id = id;
        }
      }
    }
    // lsd: true, or { interval, minInterval (ms) } for tests (needs dialPeers and listenPort).
    const val lsd = opts["lsd"];
    const bool lsd_object = lsd.typeOf().as<std::string>() == "object" && !lsd.isNull();
    if (lsd.isTrue() || lsd_object) {
      s.lsd = wt::lsd::settings{};
      if (lsd_object && lsd["interval"].isNumber())
        s.lsd->interval = std::chrono::milliseconds(static_cast<std::int64_t>(lsd["interval"].as<double>()));
      if (lsd_object && lsd["minInterval"].isNumber())
        s.lsd->min_interval = std::chrono::milliseconds(static_cast<std::int64_t>(lsd["minInterval"].as<double>()));
    }
#if WT_NODE_MODULE
    // MSE on TCP connections: encryption 'plain' | 'plaintext' | 'rc4' | 'rc4only' | 'required' (WebTorrent's
    // secure, mapped by the JS layer), with 32 random bytes as 64 hex digits for the keys.
    // (The browser's module has no TCP.)
    if (opts["encryption"].isString()) {
      const std::string e = opts["encryption"].as<std::string>();
      if (e == "plaintext") s.encryption = wt::encryption_policy::prefer_plaintext;
      else if (e == "rc4") s.encryption = wt::encryption_policy::prefer_rc4;
      else if (e == "rc4only") s.encryption = wt::encryption_policy::rc4_only;
      else if (e == "required") s.encryption = wt::encryption_policy::required;
    }
    if (opts["encryptionEntropy"].isString())
      if (auto bytes = wt::from_hex(opts["encryptionEntropy"].as<std::string>()); bytes && bytes->size() == 32)
        std::copy(bytes->begin(), bytes->end(), s.encryption_entropy.begin());
#endif
    if (opts["listenPort"].isNumber() && opts["listenPort"].as<double>() > 0)
      s.session.listen_port = static_cast<std::uint16_t>(opts["listenPort"].as<double>());
    // ms: our extension handshake waits this long at most for wireReady() (the host's
    // 'wire' listeners may register extensions that belong in it).
    if (opts["extensionHandshakeHold"].isNumber())
      s.session.extension_handshake_hold = std::chrono::milliseconds(
          static_cast<std::int64_t>(std::max(0.0, opts["extensionHandshakeHold"].as<double>())));
    // The peer messages reported until wireReady() says which the 'wire' listeners want.
    if (opts["peerMessagesAtConnect"].isNumber())
      s.session.peer_messages_at_connect = static_cast<std::uint32_t>(opts["peerMessagesAtConnect"].as<double>());
    if (opts["offersPerAnnounce"].isNumber())
      s.tracker.offers_per_announce = static_cast<std::size_t>(opts["offersPerAnnounce"].as<double>());
    // announceParams(torrent) -> [[key, value, literal]...]: extra announce parameters
    // (getAnnounceOpts), asked for each announce; value a string (literal: a JSON number,
    // true or false). The JS layer does not call the engine from it.
    if (opts["announceParams"].typeOf().as<std::string>() == "function") {
      s.announce_params = [fn = opts["announceParams"]](wt::torrent_id t) {
        wt::tracker::announce_params out;
        const val list = fn(t.value);
        if (!list.isArray()) return out;
        const auto n = std::min(list["length"].as<unsigned>(), 64u);
        for (unsigned i = 0; i < n; ++i) {
          const val item = list[i];
          if (!item.isArray() || !item[0].isString() || !item[1].isString()) continue;
          auto key = item[0].as<std::string>();
          auto value = item[1].as<std::string>();
          if (key.size() > 256 || value.size() > 4096) continue;
          out.push_back({std::move(key), std::move(value), item[2].isTrue()});
        }
        return out;
      };
    }
    return s;
  }

  static wt::web_seed_policy policy_of(const std::string& name) {
    if (name == "always") return wt::web_seed_policy::always;
    if (name == "off") return wt::web_seed_policy::off;
    return wt::web_seed_policy::fallback;
  }
  static wt::http_request_id http_id(double id) { return wt::http_request_id{static_cast<std::uint64_t>(id)}; }

  wt::client client_;
  wt::byte_buffer held_;  // the last send or storage write poll() gave, shown by its view
  std::vector<std::uint8_t> input_;
#if WT_NODE_MODULE
  std::unique_ptr<wt::blocklist_parser> blocklist_;  // between blocklistBegin and blocklistEnd
#endif
};

}  // namespace

#if WT_NODE_MODULE
wt::portmap::protocol portmap_protocol(const std::string& name) {
  return name == "udp" ? wt::portmap::protocol::udp : wt::portmap::protocol::tcp;
}

// What both port mapping protocols report, as {type: 'address' | 'mapped' | 'failed' |
// 'unmapped', protocol, internalPort, ...}; other outputs (the protocols' own) are handled
// by each class.
template <class T>
val portmap_event(const T& e) {
  namespace pm = wt::portmap;
  val out = val::object();
  if constexpr (std::is_same_v<T, pm::public_address>) {
    const auto& a = e.address;
    out.set("type", std::string("address"));
    out.set("address", std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." + std::to_string(a[3]));
  } else if constexpr (std::is_same_v<T, pm::mapped>) {
    out.set("type", std::string("mapped")); out.set("protocol", std::string(pm::protocol_name(e.proto)));
    out.set("internalPort", e.internal_port); out.set("externalPort", e.external_port);
    out.set("lifetime", static_cast<double>(e.lifetime)); out.set("renewal", e.renewal);
  } else if constexpr (std::is_same_v<T, pm::failed>) {
    out.set("type", std::string("failed")); out.set("protocol", std::string(pm::protocol_name(e.proto)));
    out.set("internalPort", e.internal_port); out.set("reason", e.reason);
    out.set("result", e.result ? val(*e.result) : val::null());
  } else if constexpr (std::is_same_v<T, pm::unmapped>) {
    out.set("type", std::string("unmapped")); out.set("protocol", std::string(pm::protocol_name(e.proto)));
    out.set("internalPort", e.internal_port);
  } else {
    return val::null();  // sends and requests: not reached (each class handles its own)
  }
  return out;
}

// What both port mapping engines take from web/transports/portmap.js: protocols are "tcp"
// or "udp", times milliseconds.
template <class Engine>
class js_portmap {
 public:
  void map(const std::string& protocol, int port, double now) {
    if (port > 0 && port < 65536) engine_.map(portmap_protocol(protocol), static_cast<std::uint16_t>(port), at_ms(now));
  }
  void unmap_all(double now) { engine_.unmap_all(at_ms(now)); }
  bool settled() const { return engine_.settled(); }
  void on_timer(double now) { engine_.on_timer(at_ms(now)); }
  double next_deadline() const {
    const auto d = engine_.next_deadline();
    return d ? static_cast<double>(d->time_since_epoch().count()) / 1000.0 : -1;
  }

 protected:
  Engine engine_;
};

// The shared methods, on each engine's base class (Embind finds them through base<>).
template <class Engine>
void register_portmap_base(const char* name) {
  using base = js_portmap<Engine>;
  emscripten::class_<base>(name)
      .function("map", &base::map)
      .function("unmapAll", &base::unmap_all)
      .function("settled", &base::settled)
      .function("onTimer", &base::on_timer)
      .function("nextDeadline", &base::next_deadline);
}

// NAT-PMP (src/portmap/natpmp.hpp): outputs plain objects with a `type`.
class js_natpmp : public js_portmap<wt::portmap::natpmp_client> {
 public:
  void received(const val& bytes, double now) {
    const auto data = emscripten::convertJSArrayToNumberVector<std::uint8_t>(bytes);
    engine_.received(data, at_ms(now));
  }
  val poll() {
    const auto o = engine_.poll();
    if (!o) return val::null();
    if (const auto* x = std::get_if<wt::portmap::send>(&*o)) {
      val out = val::object();
      out.set("type", std::string("send")); out.set("data", copy_bytes(x->bytes));
      return out;
    }
    return std::visit([](const auto& e) { return portmap_event(e); }, *o);
  }
};

// UPnP IGD (src/portmap/upnp.hpp); the same conventions.
class js_upnp : public js_portmap<wt::portmap::upnp_client> {
 public:
  // Seconds asked for each mapping (before the first map()); 0: permanent mappings.
  void set_lease(double seconds) {
    wt::portmap::upnp_settings s;
    s.lease = static_cast<std::uint32_t>(std::max(0.0, seconds));
    engine_ = wt::portmap::upnp_client(s);
  }
  void ssdp_received(const val& bytes, double now) {
    const auto data = emscripten::convertJSArrayToNumberVector<std::uint8_t>(bytes);
    engine_.ssdp_received(data, at_ms(now));
  }
  void http_response(double id, int status, const std::string& body, const std::string& local_address, double now) {
    engine_.http_response(static_cast<std::uint64_t>(id), status, body, local_address, at_ms(now));
  }
  void http_failed(double id, const std::string& message, double now) {
    engine_.http_failed(static_cast<std::uint64_t>(id), message, at_ms(now));
  }
  val poll() {
    namespace pm = wt::portmap;
    const auto o = engine_.poll();
    if (!o) return val::null();
    val out = val::object();
    if (const auto* s = std::get_if<pm::ssdp_search>(&*o)) {
      out.set("type", std::string("search")); out.set("data", s->bytes);
    } else if (const auto* r = std::get_if<pm::http_request>(&*o)) {
      out.set("type", std::string("http")); out.set("id", static_cast<double>(r->id)); out.set("method", r->method);
      out.set("url", r->url); out.set("soapAction", r->soap_action); out.set("body", r->body);
    } else {
      return std::visit([](const auto& e) { return portmap_event(e); }, *o);
    }
    return out;
  }
};
#endif

EMSCRIPTEN_BINDINGS(wasmtorrent) {
  emscripten::function("parse_torrent", &parse_torrent);
  emscripten::function("torrent_file_with", &torrent_file_with);
  emscripten::class_<js_creator>("TorrentCreator")
      .constructor<const val&, const val&>()
      .function("error", &js_creator::error)
      .function("inputs", &js_creator::inputs)
      .function("pieceLength", &js_creator::piece_length)
      .function("update", &js_creator::update)
      .function("finish", &js_creator::finish);
  emscripten::function("default_piece_length", &default_piece_length);
  emscripten::function("parse_magnet", &parse_magnet);
  emscripten::function("bencode", &bencode_js);
  emscripten::function("bencode_decode", &bencode_decode);
  emscripten::function("make_magnet", &make_magnet);
#if WT_NODE_MODULE
  emscripten::function("dht_signature_data", &dht_signature_data);
  emscripten::function("dht_item_target", &dht_item_target);
#endif

  const auto client_class = emscripten::class_<js_client>("Client");
  client_class
      .constructor<val>()
      .function("peerId", &js_client::peer_id)
      .function("reserve", &js_client::reserve)
      .function("addTorrent", &js_client::add_torrent)
      .function("addMagnet", &js_client::add_magnet)
      .function("removeTorrent", &js_client::remove_torrent)
      .function("info", &js_client::info)
      .function("stats", &js_client::stats)
      .function("storageCompleted", &js_client::storage_completed)
      .function("storageDigest", &js_client::storage_digest)
      .function("addWebSeed", &js_client::add_web_seed)
      .function("removeWebSeed", &js_client::remove_web_seed)
      .function("webSeeds", &js_client::web_seeds)
      .function("httpResponse", &js_client::http_response)
      .function("httpData", &js_client::http_data)
      .function("httpDone", &js_client::http_done)
      .function("httpFailed", &js_client::http_failed)
      .function("havePieces", &js_client::have_pieces)
      .function("setFilePriority", &js_client::set_file_priority)
      .function("openReader", &js_client::open_reader)
      .function("seekReader", &js_client::seek_reader)
      .function("closeReader", &js_client::close_reader)
      .function("readAsync", &js_client::read_async)
      .function("torrentFile", &js_client::torrent_file)
      .function("peers", &js_client::peers)
      .function("setPiecePriority", &js_client::set_piece_priority)
      .function("selectMissing", &js_client::select_missing)
      .function("addCriticalPieces", &js_client::add_critical_pieces)
      .function("pieceStates", &js_client::piece_states)
      .function("partialPieces", &js_client::partial_pieces)
      .function("pause", &js_client::pause)
      .function("resume", &js_client::resume)
      .function("recheck", &js_client::recheck)
      .function("setRateLimits", &js_client::set_rate_limits)
      .function("setMaxConns", &js_client::set_max_conns)
      .function("setTorrentRateLimits", &js_client::set_torrent_rate_limits)
      .function("setTorrentPriority", &js_client::set_torrent_priority)
      .function("attachChannel", &js_client::attach_channel)
      .function("addPeer", &js_client::add_peer)
      .function("checkPeer", &js_client::check_peer)
      .function("removePeer", &js_client::remove_peer)
      .function("scrape", &js_client::scrape)
      .function("acceptPeer", &js_client::accept_peer)
      .function("registerExtension", &js_client::register_extension)
      .function("enableExtension", &js_client::enable_extension)
      .function("sendExtensionMessage", &js_client::send_extension_message)
      .function("sendExtendedToPeer", &js_client::send_extended_to_peer)
      .function("commandPex", &js_client::command_pex)
      .function("pexAdvertise", &js_client::pex_advertise)
      .function("wireReady", &js_client::wire_ready)
      .function("reportPeerMessages", &js_client::report_peer_messages)
      .function("setPeerKeepAlive", &js_client::set_peer_keep_alive)
      .function("setPeerTimeout", &js_client::set_peer_timeout)
      .function("setPeerChoked", &js_client::set_peer_choked)
      .function("peerDetails", &js_client::peer_details)
      .function("extensionNames", &js_client::extension_names)
      .function("socketOpened", &js_client::socket_opened)
      .function("socketClosed", &js_client::socket_closed)
      .function("textReceived", &js_client::text_received)
      .function("offerCreated", &js_client::offer_created)
      .function("answerCreated", &js_client::answer_created)
      .function("channelOpened", &js_client::channel_opened)
      .function("channelData", &js_client::channel_data)
      .function("channelClosed", &js_client::channel_closed)
      .function("disconnect", &js_client::disconnect)
      .function("channelSent", &js_client::channel_sent)
      .function("onTimer", &js_client::on_timer)
      .function("nextDeadline", &js_client::next_deadline)
      .function("poll", &js_client::poll);
#if WT_NODE_MODULE
  // HTTP/UDP trackers and the DHT: the Node module's only (web/ calls them only under Node).
  client_class
      .function("trackerResponse", &js_client::tracker_response)
      .function("trackerFailed", &js_client::tracker_failed)
      .function("udpReceived", &js_client::udp_received)
      .function("udpFailed", &js_client::udp_failed)
      .function("dhtBootstrap", &js_client::dht_bootstrap)
      .function("dhtReceived", &js_client::dht_received)
      .function("utpReceived", &js_client::utp_received)
      .function("utpUnreachable", &js_client::utp_unreachable)
      .function("hasUtp", &js_client::has_utp)
      .function("dhtState", &js_client::dht_state)
      .function("dhtLoadState", &js_client::dht_load_state)
      .function("dhtNodes", &js_client::dht_nodes)
      .function("dhtNodeList", &js_client::dht_node_list)
      .function("dhtNodeId", &js_client::dht_node_id)
      .function("dhtGet", &js_client::dht_get)
      .function("dhtPut", &js_client::dht_put)
      .function("dhtLookup", &js_client::dht_lookup)
      .function("dhtAddNode", &js_client::dht_add_node)
      .function("lsdReceived", &js_client::lsd_received)
      .function("hasLsd", &js_client::has_lsd)
      .function("blocklistBegin", &js_client::blocklist_begin)
      .function("blocklistFeed", &js_client::blocklist_feed)
      .function("blocklistEnd", &js_client::blocklist_end)
      .function("isBlocked", &js_client::is_blocked);
  register_portmap_base<wt::portmap::natpmp_client>("NatPmpBase");
  emscripten::class_<js_natpmp, emscripten::base<js_portmap<wt::portmap::natpmp_client>>>("NatPmp")
      .constructor<>()
      .function("received", &js_natpmp::received)
      .function("poll", &js_natpmp::poll);
  register_portmap_base<wt::portmap::upnp_client>("UpnpBase");
  emscripten::class_<js_upnp, emscripten::base<js_portmap<wt::portmap::upnp_client>>>("Upnp")
      .constructor<>()
      .function("setLease", &js_upnp::set_lease)
      .function("ssdpReceived", &js_upnp::ssdp_received)
      .function("httpResponse", &js_upnp::http_response)
      .function("httpFailed", &js_upnp::http_failed)
      .function("poll", &js_upnp::poll);
#endif
}
