#include "tracker/ws_tracker.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <map>
#include <cmath>
#include <limits>
#include <utility>

#include "base/json.hpp"
#include "base/random.hpp"
#include "tracker/announce_timing.hpp"

namespace wt::ws_tracker {

using json = wt::json::value;
using json_writer = wt::json::writer;
// Qualified: `tracker` below names one tracker socket's state.
using wt::tracker::announce_event;
using wt::tracker::announce_timing;
using wt::tracker::timing_config;

// --- Binary strings ----------------------------------------------------------------

std::string to_latin1(byte_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
    } else {
      out.push_back(static_cast<char>(0xC0 | (b >> 6)));
      out.push_back(static_cast<char>(0x80 | (b & 0x3F)));
    }
  }
  return out;
}

namespace {

bool is_continuation(std::uint8_t b) { return (b & 0xC0) == 0x80; }

// The length of the well-formed UTF-8 sequence at text[i] (2..4) whose code point is
// above U+00FF, or 0 if the sequence is malformed.
std::size_t wide_sequence_length(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<std::uint8_t>(text[i + k]); };
  const std::uint8_t lead = at(0);
  std::size_t n = 0;
  if (lead >= 0xC4 && lead <= 0xDF) n = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) n = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) n = 4;
  else return 0;
  if (text.size() - i < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if (!is_continuation(at(k))) return 0;
  }
  if (lead == 0xE0 && at(1) < 0xA0) return 0;  // overlong
  if (lead == 0xED && at(1) >= 0xA0) return 0;  // surrogate
  if (lead == 0xF0 && at(1) < 0x90) return 0;  // overlong
  if (lead == 0xF4 && at(1) >= 0x90) return 0;  // beyond U+10FFFF
  return n;
}

}  // namespace

result<byte_buffer> from_latin1(std::string_view text) {
  byte_buffer out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<std::uint8_t>(text[i]);
    if (b < 0x80) {
      out.push_back(b);
      ++i;
    } else if ((b == 0xC2 || b == 0xC3) && i + 1 < text.size() &&
               is_continuation(static_cast<std::uint8_t>(text[i + 1]))) {
      const auto low = static_cast<std::uint8_t>(text[i + 1]);
      out.push_back(static_cast<std::uint8_t>(((b & 0x03) << 6) | (low & 0x3F)));
      i += 2;
    } else if (wide_sequence_length(text, i) != 0) {
      return make_error(errc::tracker_not_latin1, i);
    } else {
      return make_error(errc::tracker_bad_utf8, i);
    }
  }
  return out;
}

result<id20> id_from_latin1(std::string_view text) {
  auto bytes = from_latin1(text);
  if (!bytes) return bytes.err();
  id20 id{};
  if (bytes->size() != id.size()) return make_error(errc::tracker_bad_id_length, 0);
  std::copy(bytes->begin(), bytes->end(), id.begin());
  return id;
}

// --- The client -----------------------------------------------------------------------

namespace {

const char* event_name(announce_event e) {
  switch (e) {
    case announce_event::started: return "started";
    case announce_event::completed: return "completed";
    case announce_event::stopped: return "stopped";
    case announce_event::none: break;
  }
  return "";
}

// closing: no torrent left, "stopped" sent; the socket stays open briefly for the
// tracker's reply, as bittorrent-tracker's client does, then closes.
enum class socket_state : std::uint8_t { connecting, open, waiting, closing };

// One torrent as seen by one tracker.
struct tracker_torrent {
  explicit tracker_torrent(const timing_config& cfg) : timing(cfg) {}

  // Events and intervals, as for HTTP and UDP trackers; "started" counts as delivered once
  // sent on the open socket, and is forgotten when the socket goes.
  announce_timing timing;
  bool announcing = false;  // waiting for the host's offers
  announce_event pending_event = announce_event::none;  // of the announce that waits
  std::vector<id20> batch;  // offer ids asked for by the announce that waits
  time_point offers_deadline{};
};

struct tracker {
  socket_state state = socket_state::connecting;
  unsigned retries = 0;  // reconnect attempts since the last well-formed message
  time_point reconnect_at{};    // while waiting
  time_point connect_deadline{};  // while connecting
  time_point close_at{};          // while closing
  std::map<id20, tracker_torrent> torrents;
};

struct pending_offer {
  std::string url;
  id20 info_hash{};
  time_point expires{};
};

constexpr std::int64_t max_safe_integer = (std::int64_t{1} << 53) - 1;  // JS Number

// A non-negative integer as JSON numbers carry them (JS may send 1.0 or 1.5).
std::optional<std::int64_t> as_count(const json& v) {
  if (v.type != json::kind::number) return std::nullopt;
  if (v.integer) {
    if (*v.integer < 0 || *v.integer > max_safe_integer) return std::nullopt;
    return *v.integer;
  }
  if (!std::isfinite(v.number) || v.number < 0 || v.number > static_cast<double>(max_safe_integer)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(v.number);
}

// Nesting depth of JSON text, counted outside strings; stops early past `limit`.
std::size_t json_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

struct client::impl {
  config cfg;
  // Failures of announces do not back off here (the socket's reconnects do): no backoff_*.
  timing_config timing;
  rng random;
  std::map<std::string, tracker> trackers;
  std::map<id20, torrent_params> torrents;
  std::map<id20, pending_offer> offers;
  std::deque<output> out;

  explicit impl(config c)
      : cfg(std::move(c)),
        timing(timing_of(cfg)),
        random(cfg.seed) {}

  static timing_config timing_of(const config& c) {
    timing_config t;
    t.default_interval = c.default_interval;
    t.min_interval_floor = c.min_interval_floor;
    t.max_interval = c.max_interval;
    return t;
  }

  // --- outputs ---

  void warn(const std::string& url, std::optional<id20> info_hash, errc code,
            std::string context, std::size_t position = 0) {
    out.emplace_back(warning{url, info_hash, make_error(code, position, printable_text(context, cfg.max_text_in_warning))});
  }

  void send(const std::string& url, json_writer& message) { out.emplace_back(send_text{url, message.take()}); }

  void cancel_offers(const std::string* url, const id20* info_hash, cancel_reason reason) {
    for (auto it = offers.begin(); it != offers.end();) {
      const bool match = (url == nullptr || it->second.url == *url) &&
                         (info_hash == nullptr || it->second.info_hash == *info_hash);
      if (match) {
        out.emplace_back(offer_cancelled{it->second.url, it->second.info_hash, it->first, reason});
        it = offers.erase(it);
      } else {
        ++it;
      }
    }
  }

  // --- announces ---

  static std::string bin(const id20& id) { return to_latin1(id); }

  void send_announce(const std::string& url, tracker_torrent& tt, const torrent_params& p,
                     announce_event ev, std::span<const created_offer> with_offers,
                     time_point now) {
    // Keys in the order nlohmann::json wrote them (sorted): the same bytes on the wire.
    // The host's parameters (getAnnounceOpts) replace ours of the same name or join them,
    // except those that identify the announce (as bittorrent-tracker's, which sets them last).
    const bool with_list = ev != announce_event::completed && ev != announce_event::stopped;
    std::map<std::string, std::function<void(json_writer&)>> fields;
    fields["action"] = [](json_writer& w) { w.string("announce"); };
    fields["downloaded"] = [&](json_writer& w) { w.number(p.stats.downloaded); };
    if (ev != announce_event::none) fields["event"] = [&](json_writer& w) { w.string(event_name(ev)); };
    fields["info_hash"] = [&](json_writer& w) { w.string(bin(p.info_hash)); };
    if (p.stats.left) fields["left"] = [&](json_writer& w) { w.number(*p.stats.left); };
    fields["numwant"] = [&](json_writer& w) { w.number(std::uint64_t{with_list ? with_offers.size() : 0}); };
    if (with_list) {
      fields["offers"] = [&](json_writer& w) {
        w.begin_array();
        for (const auto& o : with_offers) {
          w.begin_object().key("offer").begin_object().key("sdp").string(o.sdp).key("type").string("offer").end_object();
          w.key("offer_id").string(bin(o.offer_id)).end_object();
        }
        w.end_array();
      };
    }
    fields["peer_id"] = [&](json_writer& w) { w.string(bin(p.peer_id)); };
    if (!tt.timing.tracker_id.empty()) fields["trackerid"] = [&](json_writer& w) { w.string(tt.timing.tracker_id); };
    fields["uploaded"] = [&](json_writer& w) { w.number(p.stats.uploaded); };
    const auto extra = cfg.extra_params ? wt::tracker::usable_params(cfg.extra_params(p.info_hash),
                                                                 {"action", "info_hash", "peer_id", "trackerid", "event", "offers",
                                                                  with_list ? "numwant" : ""})
                                        : wt::tracker::announce_params{};
    for (const auto& param : extra) {
      fields[param.key] = [&param](json_writer& w) {
        if (param.literal) w.literal(param.value);
        else w.string(param.value);
      };
    }
    json_writer m;
    m.begin_object();
    for (const auto& [key, write] : fields) {
      m.key(key);
      write(m);
    }
    m.end_object();
    send(url, m);
    tt.timing.delivered(ev, now);
  }

  id20 fresh_offer_id() {
    for (;;) {
      id20 id{};
      for (std::size_t i = 0; i < id.size(); i += 8) {
        std::uint64_t word = random.next();
        for (std::size_t k = i; k < std::min(i + 8, id.size()); ++k) {
          id[k] = static_cast<std::uint8_t>(word & 0xFF);
          word >>= 8;
        }
      }
      if (!offers.contains(id)) return id;
    }
  }

  // An announce with offers first asks the host for them; the others go out at once.
  void start_announce(const std::string& url, tracker_torrent& tt, const torrent_params& p,
                      announce_event ev, time_point now) {
    const bool with_offers = ev != announce_event::completed && ev != announce_event::stopped;
    const std::size_t count = std::min(cfg.offers_per_announce, p.peer_room);
    if (!with_offers || count == 0) {
      send_announce(url, tt, p, ev, {}, now);
      return;
    }
    tt.announcing = true;
    tt.pending_event = ev;
    tt.offers_deadline = now + cfg.offer_creation_timeout;
    tt.batch.clear();
    for (std::size_t i = 0; i < count; ++i) {
      const id20 id = fresh_offer_id();
      offers.emplace(id, pending_offer{url, p.info_hash, now + cfg.offer_timeout});
      tt.batch.push_back(id);
    }
    out.emplace_back(create_offers{url, p.info_hash, tt.batch});
  }

  // Sends the waiting announce with the offers that are still pending; ids of the
  // batch the host did not deliver are forgotten (with a cancel when `reason`).
  void finish_announce(const std::string& url, tracker_torrent& tt, const torrent_params& p,
                       std::span<const created_offer> delivered, time_point now,
                       std::optional<cancel_reason> reason) {
    std::vector<created_offer> usable;
    for (const auto& o : delivered) {
      const bool in_batch = std::find(tt.batch.begin(), tt.batch.end(), o.offer_id) != tt.batch.end();
      const bool duplicate = std::any_of(usable.begin(), usable.end(),
                                         [&](const created_offer& u) { return u.offer_id == o.offer_id; });
      if (in_batch && !duplicate && offers.contains(o.offer_id)) usable.push_back(o);
    }
    for (const auto& id : tt.batch) {
      const bool used = std::any_of(usable.begin(), usable.end(),
                                    [&](const created_offer& u) { return u.offer_id == id; });
      const auto it = offers.find(id);
      if (used || it == offers.end()) continue;
      if (reason) out.emplace_back(offer_cancelled{url, p.info_hash, id, *reason});
      offers.erase(it);
    }
    tt.batch.clear();
    tt.announcing = false;
    send_announce(url, tt, p, tt.pending_event, usable, now);
  }

  void open(const std::string& url, tracker& t, time_point now) {
    t.state = socket_state::connecting;
    t.connect_deadline = now + cfg.connect_timeout;
    out.emplace_back(open_socket{url});
  }

  // The socket is gone (closed, failed or timed out): cancel what depended on it and
  // schedule a reconnect.
  void lost(const std::string& url, tracker& t, time_point now) {
    cancel_offers(&url, nullptr, cancel_reason::socket_closed);
    for (auto& [info_hash, tt] : t.torrents) {
      tt.timing.forget();
      tt.announcing = false;
      tt.batch.clear();
    }
    t.state = socket_state::waiting;
    t.reconnect_at = now + reconnect_delay(t.retries);
    if (t.retries < 64) ++t.retries;
  }

  // The shared back-off, with jitter so that pages reconnect spread out after a restart.
  duration reconnect_delay(unsigned retries) {
    const std::int64_t delay = std::max(
        wt::tracker::backoff_delay(retries + 1, cfg.backoff_base, cfg.backoff_cap).count(), std::int64_t{0});
    const std::uint64_t jitter = std::min(cfg.backoff_jitter_percent, 100u);
    const auto percent = static_cast<std::int64_t>(100 - jitter + random.up_to(2 * jitter));
    // delay <= cap, so this overflows only for caps beyond ~2900 years.
    return duration{delay / 100 * percent + delay % 100 * percent / 100};
  }

  // --- incoming messages ---

  void on_text(const std::string& url, tracker& t, std::string_view text, time_point now) {
    if (text.size() > cfg.max_message_size) {
      warn(url, std::nullopt, errc::tracker_message_too_large, {}, cfg.max_message_size);
      return;
    }
    if (json_depth(text, cfg.max_depth) > cfg.max_depth) {
      warn(url, std::nullopt, errc::tracker_depth_exceeded, {});
      return;
    }
    auto parsed = wt::json::parse(text, cfg.max_depth);
    if (!parsed.doc && parsed.error == wt::json::parse_error::too_deep) {  // json_depth saw it first
      warn(url, std::nullopt, errc::tracker_depth_exceeded, {});
      return;
    }
    if (!parsed.doc || !parsed.doc->is_object()) {
      warn(url, std::nullopt, errc::tracker_bad_json, {});
      return;
    }
    const json& m = *parsed.doc;
    const json* action_v = m.find("action");
    const std::string* action = action_v == nullptr ? nullptr : action_v->as_string();
    if (action != nullptr && *action == "announce") {
      t.retries = 0;
      on_announce(url, t, m, now);
    } else if (action != nullptr && *action == "scrape") {
      t.retries = 0;
      on_scrape(url, m);
    } else if (const json* f = m.find("failure reason"); f != nullptr && f->is_string()) {
      // bittorrent-tracker answers a request it cannot parse with this alone.
      warn(url, std::nullopt, errc::tracker_failure, f->string);
    } else {
      warn(url, std::nullopt, errc::tracker_unknown_action, action ? *action : std::string{});
    }
  }

  // The string field `key` as a 20-byte id; a warning and nullopt when absent or bad.
  std::optional<id20> id_field(const std::string& url, std::optional<id20> info_hash,
                               const json& m, const char* key) {
    const json* it = m.find(key);
    if (it == nullptr) {
      warn(url, info_hash, errc::tracker_missing_field, key);
      return std::nullopt;
    }
    const std::string* s = it->as_string();
    if (s == nullptr) {
      warn(url, info_hash, errc::tracker_bad_field, key);
      return std::nullopt;
    }
    auto id = id_from_latin1(*s);
    if (!id) {
      warn(url, info_hash, id.err().code, key, id.err().position);
      return std::nullopt;
    }
    return *id;
  }

  // {type, sdp} of an offer or answer; a warning and nullopt when malformed.
  std::optional<std::string> sdp_field(const std::string& url, const id20& info_hash,
                                       const json& m, const char* key, const char* type) {
    const json* v = m.find(key);
    if (v == nullptr) return std::nullopt;  // checked by the caller
    const json* sdp = v->find("sdp");
    if (sdp == nullptr || !sdp->is_string()) {
      warn(url, info_hash, errc::tracker_bad_field, key);
      return std::nullopt;
    }
    if (const json* ty = v->find("type"); ty != nullptr && (!ty->is_string() || ty->string != type)) {
      warn(url, info_hash, errc::tracker_bad_field, std::string(key) + ".type");
      return std::nullopt;
    }
    return sdp->string;
  }

  void on_announce(const std::string& url, tracker& t, const json& m, time_point now) {
    if (const json* f = m.find("failure reason"); f != nullptr && !m.contains("info_hash")) {
      // A failure for a request the tracker could not tie to a torrent.
      if (f->is_string()) warn(url, std::nullopt, errc::tracker_failure, f->string);
      else warn(url, std::nullopt, errc::tracker_bad_field, "failure reason");
      return;
    }
    const auto info_hash = id_field(url, std::nullopt, m, "info_hash");
    if (!info_hash) return;
    const auto tt_it = t.torrents.find(*info_hash);
    const auto p_it = torrents.find(*info_hash);
    // Not (or no longer) announced here: a message that crossed a removal.
    if (tt_it == t.torrents.end() || p_it == torrents.end()) return;
    tracker_torrent& tt = tt_it->second;
    const torrent_params& p = p_it->second;

    std::optional<id20> peer_id;
    if (m.contains("peer_id")) {
      peer_id = id_field(url, info_hash, m, "peer_id");
      if (!peer_id) return;
      if (*peer_id == p.peer_id) return;  // our own offer or answer echoed back
    }

    if (const json* f = m.find("failure reason"); f != nullptr) {
      if (f->is_string()) warn(url, info_hash, errc::tracker_failure, f->string);
      else warn(url, info_hash, errc::tracker_bad_field, "failure reason");
      return;
    }
    if (const json* w = m.find("warning message"); w != nullptr) {
      if (w->is_string()) warn(url, info_hash, errc::tracker_warning, w->string);
      else warn(url, info_hash, errc::tracker_bad_field, "warning message");
    }

    const auto count_field = [&](const char* key) -> std::optional<std::int64_t> {
      const json* it = m.find(key);
      if (it == nullptr || it->is_null()) return std::nullopt;
      auto v = as_count(*it);
      if (!v) warn(url, info_hash, errc::tracker_bad_field, key);
      return v;
    };
    const auto interval = count_field("interval");
    const auto min_interval = count_field("min interval");
    bool is_response = false;
    // Relayed offers and answers carry no interval: only a message with one answers an
    // announce (an interval of 0 is ignored, as bittorrent-tracker does).
    if ((interval && *interval > 0) || (min_interval && *min_interval > 0)) {
      const auto asked = interval && *interval > 0 ? interval : std::nullopt;
      tt.timing.answered(asked, min_interval, timing, now);
      is_response = true;
    }
    if (const json* id = m.find("tracker id"); id != nullptr) {
      const std::string* s = id->as_string();
      if (s != nullptr && s->size() <= 256) tt.timing.tracker_id = *s;
      else warn(url, info_hash, errc::tracker_bad_field, "tracker id");
    }
    const auto complete = count_field("complete");
    const auto incomplete = count_field("incomplete");
    if (is_response || complete || incomplete) {
      out.emplace_back(announce_result{url, *info_hash, tt.timing.interval(), complete, incomplete});
    }

    const bool has_offer = m.contains("offer");
    const bool has_answer = m.contains("answer");
    if (!has_offer && !has_answer) return;
    if (!peer_id) {
      warn(url, info_hash, errc::tracker_missing_field, "peer_id");
      return;
    }
    const auto offer_id = id_field(url, info_hash, m, "offer_id");
    if (!offer_id) return;
    if (has_offer) {
      auto sdp = sdp_field(url, *info_hash, m, "offer", "offer");
      if (!sdp) return;
      out.emplace_back(answer_offer{url, *info_hash, *peer_id, *offer_id, std::move(*sdp)});
    } else {
      auto sdp = sdp_field(url, *info_hash, m, "answer", "answer");
      if (!sdp) return;
      const auto it = offers.find(*offer_id);
      if (it == offers.end() || it->second.url != url || it->second.info_hash != *info_hash ||
          std::find(tt.batch.begin(), tt.batch.end(), *offer_id) != tt.batch.end()) {
        warn(url, info_hash, errc::tracker_unknown_offer, "offer_id");
        return;
      }
      offers.erase(it);
      out.emplace_back(answer_received{url, *info_hash, *peer_id, *offer_id, std::move(*sdp)});
    }
  }

  void on_scrape(const std::string& url, const json& m) {
    if (const json* f = m.find("failure reason"); f != nullptr) {
      if (f->is_string()) warn(url, std::nullopt, errc::tracker_failure, f->string);
      else warn(url, std::nullopt, errc::tracker_bad_field, "failure reason");
      return;
    }
    const json* files = m.find("files");
    if (files == nullptr) {
      warn(url, std::nullopt, errc::tracker_missing_field, "files");
      return;
    }
    if (!files->is_object() || files->items.empty()) {
      warn(url, std::nullopt, errc::tracker_bad_field, "files");
      return;
    }
    // In key order, each key once (its last value), as nlohmann::json's map gave them.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < files->keys.size(); ++i)
      if (files->find(files->keys[i]) == &files->items[i]) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return files->keys[a] < files->keys[b]; });
    for (const std::size_t i : order) {
      const json& value = files->items[i];
      auto info_hash = id_from_latin1(files->keys[i]);
      if (!info_hash) {
        warn(url, std::nullopt, info_hash.err().code, "files", info_hash.err().position);
        continue;
      }
      if (!value.is_object()) {
        warn(url, *info_hash, errc::tracker_bad_field, "files");
        continue;
      }
      scrape_result r{url, *info_hash, 0, 0, 0};
      bool ok = true;
      const auto read = [&](const char* name, std::int64_t& into) {
        const json* it = value.find(name);
        if (it == nullptr) return;
        const auto v = as_count(*it);
        if (v) into = *v;
        else ok = false;
      };
      read("complete", r.complete);
      read("incomplete", r.incomplete);
      read("downloaded", r.downloaded);
      if (!ok) {
        warn(url, *info_hash, errc::tracker_bad_field, "files");
        continue;
      }
      out.emplace_back(std::move(r));
    }
  }
};

client::client(config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {}
client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

bool client::add_torrent(const torrent_params& params, time_point now) {
  auto& s = *impl_;
  if (s.torrents.contains(params.info_hash)) return false;
  torrent_params& p = s.torrents.emplace(params.info_hash, params).first->second;
  std::vector<std::string> unique;
  for (const auto& url : p.trackers) {
    if (std::find(unique.begin(), unique.end(), url) == unique.end()) unique.push_back(url);
  }
  p.trackers = std::move(unique);
  for (const auto& url : p.trackers) {
    auto [it, created] = s.trackers.try_emplace(url);
    tracker& t = it->second;
    if (created) s.open(url, t, now);
    if (t.state == socket_state::closing) t.state = socket_state::open;  // reused
    tracker_torrent& tt = t.torrents.try_emplace(p.info_hash, s.timing).first->second;
    if (t.state == socket_state::open) s.start_announce(url, tt, p, announce_event::started, now);
  }
  return true;
}

bool client::remove_torrent(const id20& info_hash, time_point now) {
  auto& s = *impl_;
  const auto p_it = s.torrents.find(info_hash);
  if (p_it == s.torrents.end()) return false;
  const torrent_params& p = p_it->second;
  s.cancel_offers(nullptr, &info_hash, cancel_reason::torrent_removed);
  for (const auto& url : p.trackers) {
    const auto t_it = s.trackers.find(url);
    if (t_it == s.trackers.end()) continue;
    tracker& t = t_it->second;
    const auto tt_it = t.torrents.find(info_hash);
    bool stopped = false;
    if (tt_it != t.torrents.end()) {
      if (t.state == socket_state::open && tt_it->second.timing.started()) {
        s.send_announce(url, tt_it->second, p, announce_event::stopped, {}, now);
        stopped = true;
      }
      t.torrents.erase(tt_it);
    }
    if (!t.torrents.empty()) continue;
    if (stopped && s.cfg.close_linger > duration::zero()) {
      t.state = socket_state::closing;
      t.close_at = now + s.cfg.close_linger;
    } else {
      if (t.state != socket_state::waiting) s.out.emplace_back(close_socket{url});
      s.trackers.erase(t_it);
    }
  }
  s.torrents.erase(p_it);
  return true;
}

bool client::set_stats(const id20& info_hash, const announce_stats& stats) {
  const auto it = impl_->torrents.find(info_hash);
  if (it == impl_->torrents.end()) return false;
  it->second.stats = stats;
  return true;
}

bool client::set_peer_room(const id20& info_hash, std::size_t room) {
  const auto it = impl_->torrents.find(info_hash);
  if (it == impl_->torrents.end()) return false;
  it->second.peer_room = room;
  return true;
}

bool client::completed(const id20& info_hash, time_point now) {
  auto& s = *impl_;
  const auto p_it = s.torrents.find(info_hash);
  if (p_it == s.torrents.end()) return false;
  for (const auto& url : p_it->second.trackers) {
    const auto t_it = s.trackers.find(url);
    if (t_it == s.trackers.end() || t_it->second.state != socket_state::open) continue;
    const auto tt_it = t_it->second.torrents.find(info_hash);
    if (tt_it == t_it->second.torrents.end() || !tt_it->second.timing.started()) continue;
    s.send_announce(url, tt_it->second, p_it->second, announce_event::completed, {}, now);
  }
  return true;
}

bool client::scrape(const std::string& url, std::span<const id20> info_hashes) {
  auto& s = *impl_;
  const auto t_it = s.trackers.find(url);
  if (t_it == s.trackers.end() || t_it->second.state != socket_state::open) return false;
  if (info_hashes.empty()) return false;  // the tracker would answer with no files
  json_writer m;
  m.begin_object().key("action").string("scrape").key("info_hash").begin_array();
  for (const auto& id : info_hashes) m.string(impl::bin(id));
  m.end_array().end_object();
  s.send(url, m);
  return true;
}

void client::socket_opened(const std::string& url, time_point now) {
  auto& s = *impl_;
  const auto t_it = s.trackers.find(url);
  if (t_it == s.trackers.end() || t_it->second.state != socket_state::connecting) return;
  tracker& t = t_it->second;
  t.state = socket_state::open;
  for (auto& [info_hash, tt] : t.torrents) {
    tt.timing.forget();
    s.start_announce(url, tt, s.torrents.at(info_hash), announce_event::started, now);
  }
}

void client::socket_closed(const std::string& url, time_point now) {
  auto& s = *impl_;
  const auto t_it = s.trackers.find(url);
  if (t_it == s.trackers.end() || t_it->second.state == socket_state::waiting) return;
  if (t_it->second.state == socket_state::closing) {
    s.trackers.erase(t_it);
    return;
  }
  s.lost(url, t_it->second, now);
}

void client::text_received(const std::string& url, std::string_view text, time_point now) {
  auto& s = *impl_;
  const auto t_it = s.trackers.find(url);
  if (t_it == s.trackers.end()) return;
  if (t_it->second.state == socket_state::closing) {  // the reply to "stopped"
    s.out.emplace_back(close_socket{url});
    s.trackers.erase(t_it);
    return;
  }
  if (t_it->second.state != socket_state::open) return;
  s.on_text(url, t_it->second, text, now);
}

void client::offers_created(const std::string& url, const id20& info_hash,
                            std::span<const created_offer> offers, time_point now) {
  auto& s = *impl_;
  const auto t_it = s.trackers.find(url);
  if (t_it == s.trackers.end() || t_it->second.state != socket_state::open) return;
  const auto tt_it = t_it->second.torrents.find(info_hash);
  if (tt_it == t_it->second.torrents.end() || !tt_it->second.announcing) return;
  s.finish_announce(url, tt_it->second, s.torrents.at(info_hash), offers, now, std::nullopt);
}

bool client::answer_created(const std::string& url, const id20& info_hash,
                            const id20& to_peer_id, const id20& offer_id, std::string_view sdp) {
  auto& s = *impl_;
  const auto t_it = s.trackers.find(url);
  if (t_it == s.trackers.end() || t_it->second.state != socket_state::open) return false;
  if (!t_it->second.torrents.contains(info_hash)) return false;
  const torrent_params& p = s.torrents.at(info_hash);
  const auto& tt = t_it->second.torrents.at(info_hash);
  // Keys sorted, as nlohmann::json wrote them.
  json_writer m;
  m.begin_object().key("action").string("announce");
  m.key("answer").begin_object().key("sdp").string(sdp).key("type").string("answer").end_object();
  m.key("info_hash").string(impl::bin(info_hash)).key("offer_id").string(impl::bin(offer_id));
  m.key("peer_id").string(impl::bin(p.peer_id)).key("to_peer_id").string(impl::bin(to_peer_id));
  if (!tt.timing.tracker_id.empty()) m.key("trackerid").string(tt.timing.tracker_id);
  m.end_object();
  s.send(url, m);
  return true;
}

void client::on_timer(time_point now) {
  auto& s = *impl_;
  for (auto t_it = s.trackers.begin(); t_it != s.trackers.end();) {
    if (t_it->second.state == socket_state::closing && now >= t_it->second.close_at) {
      s.out.emplace_back(close_socket{t_it->first});
      t_it = s.trackers.erase(t_it);
    } else {
      ++t_it;
    }
  }
  for (auto& [url, t] : s.trackers) {
    if (t.state == socket_state::connecting && now >= t.connect_deadline) {
      s.out.emplace_back(close_socket{url});
      s.lost(url, t, now);
    }
    if (t.state == socket_state::waiting && now >= t.reconnect_at) s.open(url, t, now);
    if (t.state != socket_state::open) continue;
    for (auto& [info_hash, tt] : t.torrents) {
      const torrent_params& p = s.torrents.at(info_hash);
      if (tt.announcing) {
        if (now >= tt.offers_deadline) {
          s.finish_announce(url, tt, p, {}, now, cancel_reason::timeout);
        }
      } else if (now >= tt.timing.next_regular()) {
        // "completed" went out at once (completed()): never pending here.
        s.start_announce(url, tt, p, tt.timing.next_event(false), now);
      }
    }
  }
  for (auto it = s.offers.begin(); it != s.offers.end();) {
    if (now >= it->second.expires) {
      s.out.emplace_back(
          offer_cancelled{it->second.url, it->second.info_hash, it->first, cancel_reason::timeout});
      it = s.offers.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<time_point> client::next_deadline() const {
  const auto& s = *impl_;
  std::optional<time_point> next;
  const auto consider = [&](time_point t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [url, t] : s.trackers) {
    if (t.state == socket_state::waiting) consider(t.reconnect_at);
    if (t.state == socket_state::connecting) consider(t.connect_deadline);
    if (t.state == socket_state::closing) consider(t.close_at);
    if (t.state != socket_state::open) continue;
    for (const auto& [info_hash, tt] : t.torrents) {
      consider(tt.announcing ? tt.offers_deadline : tt.timing.next_regular());
    }
  }
  for (const auto& [id, o] : s.offers) consider(o.expires);
  return next;
}

std::optional<output> client::poll() {
  auto& q = impl_->out;
  if (q.empty()) return std::nullopt;
  output o = std::move(q.front());
  q.pop_front();
  return o;
}

bool client::socket_is_open(const std::string& url) const {
  const auto it = impl_->trackers.find(url);
  return it != impl_->trackers.end() && it->second.state == socket_state::open;
}

std::size_t client::pending_offers() const { return impl_->offers.size(); }

std::optional<time_point> client::reconnect_at(const std::string& url) const {
  const auto it = impl_->trackers.find(url);
  if (it == impl_->trackers.end() || it->second.state != socket_state::waiting) return std::nullopt;
  return it->second.reconnect_at;
}

}  // namespace wt::ws_tracker
