#include "lsd/lsd.hpp"

#include <algorithm>

#include "base/random.hpp"

namespace wt::lsd {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A header name: visible ASCII, no separator that HTTP forbids there.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > ' ' && c < 0x7f && std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
  });
}

// A header value: printable ASCII and tabs only.
bool is_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '\t' || (c >= ' ' && c < 0x7f); });
}

}  // namespace

std::optional<announce> parse_announce(byte_view datagram, const limits& lim) {
  if (datagram.size() > lim.max_datagram) return std::nullopt;
  std::string_view rest = as_chars(datagram);
  announce a;
  bool port_seen = false;
  bool ended = false;
  for (std::size_t line_no = 0; line_no < lim.max_lines && !rest.empty(); ++line_no) {
    // Lines end with CRLF (a bare LF is taken too).
    const std::size_t lf = rest.find('\n');
    if (lf == std::string_view::npos) return std::nullopt;  // cut short
    std::string_view line = rest.substr(0, lf);
    rest.remove_prefix(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 0) {
      if (!iequals(line, "BT-SEARCH * HTTP/1.1")) return std::nullopt;
      continue;
    }
    if (line.empty()) {
      ended = true;
      break;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (!is_token(name) || !is_value(value)) return std::nullopt;
    if (iequals(name, "Port")) {
      const auto port = wire::parse_port(value);
      if (!port || port_seen) return std::nullopt;
      port_seen = true;
      a.port = *port;
    } else if (iequals(name, "Infohash")) {
      if (value.size() != 40) return std::nullopt;
      const auto bytes = from_hex(value);
      if (!bytes) return std::nullopt;
      id20 ih{};
      std::copy(bytes->begin(), bytes->end(), ih.begin());
      if (std::find(a.info_hashes.begin(), a.info_hashes.end(), ih) != a.info_hashes.end()) continue;
      if (a.info_hashes.size() == lim.max_info_hashes) return std::nullopt;
      a.info_hashes.push_back(ih);
    } else if (iequals(name, "cookie")) {
      if (a.cookie || value.size() > lim.max_cookie) return std::nullopt;
      a.cookie = std::string(value);
    }
  }
  if (!ended || !port_seen || a.info_hashes.empty()) return std::nullopt;
  return a;
}

byte_buffer make_announce(bool v6, std::uint16_t port, std::span<const id20> info_hashes, std::string_view cookie) {
  std::string text = "BT-SEARCH * HTTP/1.1\r\nHost: ";
  text += v6 ? "[" + std::string(group_v6) + "]" : std::string(group_v4);
  text += ":" + std::to_string(group_port) + "\r\nPort: " + std::to_string(port) + "\r\n";
  for (const auto& ih : info_hashes) text += "Infohash: " + to_hex(ih) + "\r\n";
  if (!cookie.empty()) text += "cookie: " + std::string(cookie) + "\r\n";
  text += "\r\n\r\n";  // the header block's end, then the empty body line BEP 14 shows
  return byte_buffer(text.begin(), text.end());
}

// --- service ------------------------------------------------------------------------------

service::service(settings s) : settings_(std::move(s)), tokens_(settings_.received_burst) {
  rng r(settings_.seed ^ 0x6c7364u);
  const std::uint64_t v = r.next();
  std::array<std::uint8_t, 8> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(v >> (8 * i));
  cookie_ = to_hex(bytes);
}

void service::announce(const id20& info_hash, time_point now) {
  forget_stopped(now);
  entry& e = torrents_[info_hash];
  if (e.active) return;
  e.active = true;
  e.due = e.last_sent ? std::max(now, *e.last_sent + settings_.min_interval) : now;
}

void service::stop(const id20& info_hash) {
  auto it = torrents_.find(info_hash);
  if (it == torrents_.end()) return;
  if (it->second.last_sent) it->second.active = false;  // kept: its rate limit still holds
  else torrents_.erase(it);
}

bool service::announcing(const id20& info_hash) const {
  auto it = torrents_.find(info_hash);
  return it != torrents_.end() && it->second.active;
}

void service::forget_stopped(time_point now) {
  std::erase_if(torrents_, [&](const auto& kv) {
    const entry& e = kv.second;
    return !e.active && (!e.last_sent || now >= *e.last_sent + settings_.min_interval);
  });
}

void service::send_due(time_point now) {
  // Due now, and with them the ones due within min_interval that may go already (none
  // sent less than min_interval ago): fewer datagrams.
  std::vector<id20> batch;
  bool any_due = false;
  for (const auto& [ih, e] : torrents_) {
    if (!e.active) continue;
    if (e.due <= now) any_due = true;
    const bool may = !e.last_sent || now >= *e.last_sent + settings_.min_interval;
    if (may && e.due <= now + settings_.min_interval) batch.push_back(ih);
  }
  if (!any_due || batch.empty() || settings_.listen_port == 0) return;
  // Split into datagrams of at most max_send_size bytes (the longer, IPv6 Host decides).
  const id20 sample{};
  const std::size_t base = make_announce(true, settings_.listen_port, {}, cookie_).size();
  const std::size_t each = make_announce(true, settings_.listen_port, std::span(&sample, 1), cookie_).size() - base;
  const std::size_t fit = (max_send_size - base) / each;
  for (std::size_t at = 0; at < batch.size(); at += fit) {
    const std::span<const id20> part(batch.data() + at, std::min(fit, batch.size() - at));
    out_.push_back(send{false, make_announce(false, settings_.listen_port, part, cookie_)});
    ++stats_.sent;
    if (settings_.v6) {
      out_.push_back(send{true, make_announce(true, settings_.listen_port, part, cookie_)});
      ++stats_.sent;
    }
  }
  for (const auto& ih : batch) {
    entry& e = torrents_[ih];
    e.last_sent = now;
    e.due = now + settings_.interval;
  }
}

void service::received(const wire::endpoint& from, byte_view datagram, time_point now) {
  ++stats_.received;
  // Token bucket on datagrams: a flood costs a counter, not a parse.
  if (refilled_) {
    const double seconds = std::chrono::duration<double>(now - *refilled_).count();
    if (seconds > 0) tokens_ = std::min(settings_.received_burst, tokens_ + seconds * settings_.max_received_per_second);
  }
  refilled_ = std::max(now, refilled_.value_or(now));
  if (tokens_ < 1) {
    ++stats_.dropped;
    return;
  }
  tokens_ -= 1;
  const auto a = parse_announce(datagram, settings_.parse);
  if (!a) {
    ++stats_.malformed;
    return;
  }
  if (a->cookie && *a->cookie == cookie_) {
    ++stats_.own;
    return;
  }
  wire::endpoint peer = from;
  peer.port = a->port;
  for (const auto& ih : a->info_hashes) {
    if (!announcing(ih)) continue;
    ++stats_.peers;
    out_.push_back(peers_found{ih, peer});
  }
}

void service::on_timer(time_point now) {
  forget_stopped(now);
  send_due(now);
}

std::optional<time_point> service::next_deadline() const {
  if (settings_.listen_port == 0) return std::nullopt;
  std::optional<time_point> next;
  for (const auto& [ih, e] : torrents_)
    if (e.active) next = next ? std::min(*next, e.due) : e.due;
  return next;
}

std::optional<output> service::poll() {
  if (out_.empty()) return std::nullopt;
  output o = std::move(out_.front());
  out_.pop_front();
  return o;
}

}  // namespace wt::lsd
