#include "tracker/udp_tracker.hpp"

#include <algorithm>
#include <utility>

namespace wt::tracker::udp {

namespace {

void put32(byte_buffer& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put64(byte_buffer& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
std::uint32_t get32(byte_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | in[at + i];
  return v;
}
std::uint64_t get64(byte_view in, std::size_t at) {
  return (std::uint64_t{get32(in, at)} << 32) | get32(in, at + 4);
}

void put_header(byte_buffer& out, std::uint64_t connection_id, action a, std::uint32_t tid) {
  put64(out, connection_id);
  put32(out, static_cast<std::uint32_t>(a));
  put32(out, tid);
}

error too_short(const char* what) { return make_error(errc::tracker_bad_field, 0, what); }

// BEP 15 counts are 32-bit; above 2^31 is nonsense from a tracker.
result<std::int64_t> count_at(byte_view in, std::size_t at, const char* what) {
  const std::uint32_t v = get32(in, at);
  if (v > 0x7FFFFFFFu) return make_error(errc::tracker_bad_field, at, what);
  return std::int64_t{v};
}

}  // namespace

// --- Packets ----------------------------------------------------------------------

byte_buffer connect_request(std::uint32_t transaction_id) {
  byte_buffer out;
  put_header(out, protocol_id, action::connect, transaction_id);
  return out;
}

byte_buffer announce_request_packet(std::uint64_t connection_id, std::uint32_t transaction_id,
                                    const announce_request& r) {
  // The host's parameters (r.extra) can only replace the fields a UDP announce has, with
  // integers that fit them (as bittorrent-tracker's: downloaded, left, uploaded, numwant).
  std::uint64_t downloaded = static_cast<std::uint64_t>(r.stats.downloaded);
  std::uint64_t left = static_cast<std::uint64_t>(r.stats.left.value_or(unknown_left));
  std::uint64_t uploaded = static_cast<std::uint64_t>(r.stats.uploaded);
  std::uint32_t numwant = r.numwant ? *r.numwant : 0xFFFFFFFFu;  // -1: the tracker's default
  for (const auto& p : r.extra) {
    const auto n = integer_value(p);
    if (!n || *n < 0) continue;
    const auto u = static_cast<std::uint64_t>(*n);
    if (p.key == "downloaded") downloaded = u;
    else if (p.key == "left") left = u;
    else if (p.key == "uploaded") uploaded = u;
    else if (p.key == "numwant" && u <= 0xFFFFFFFFu) numwant = static_cast<std::uint32_t>(u);
  }
  byte_buffer out;
  out.reserve(98);
  put_header(out, connection_id, action::announce, transaction_id);
  out.insert(out.end(), r.info_hash.begin(), r.info_hash.end());
  out.insert(out.end(), r.peer_id.begin(), r.peer_id.end());
  put64(out, downloaded);
  put64(out, left);
  put64(out, uploaded);
  put32(out, static_cast<std::uint32_t>(r.event));
  put32(out, 0);  // IP address: the datagram's source
  put32(out, r.key);
  put32(out, numwant);
  out.push_back(static_cast<std::uint8_t>(r.port >> 8));
  out.push_back(static_cast<std::uint8_t>(r.port & 0xFF));
  return out;
}

byte_buffer scrape_request_packet(std::uint64_t connection_id, std::uint32_t transaction_id,
                                  std::span<const id20> info_hashes) {
  byte_buffer out;
  put_header(out, connection_id, action::scrape, transaction_id);
  for (const auto& hash : info_hashes.first(std::min(info_hashes.size(), max_scrape_hashes))) {
    out.insert(out.end(), hash.begin(), hash.end());
  }
  return out;
}

std::optional<std::uint32_t> transaction_of(byte_view datagram) {
  if (datagram.size() < 8) return std::nullopt;
  return get32(datagram, 4);
}

result<response> parse_response(byte_view in, ip_family family, std::size_t max_peers,
                                std::size_t max_text) {
  if (in.size() > max_datagram) return make_error(errc::tracker_message_too_large, max_datagram);
  if (in.size() < 8) return too_short("datagram shorter than 8 bytes");
  response out;
  out.transaction_id = get32(in, 4);
  switch (get32(in, 0)) {
    case static_cast<std::uint32_t>(action::connect): {
      if (in.size() < 16) return too_short("connect response shorter than 16 bytes");
      out.body = connect_response{get64(in, 8)};
      return out;
    }
    case static_cast<std::uint32_t>(action::announce): {
      if (in.size() < 20) return too_short("announce response shorter than 20 bytes");
      announce_reply reply;
      // BEP 15's counts are signed 32-bit: one above 2^31 - 1 is negative, and reads as
      // absent, as an HTTP tracker's negative count does; the peers are still good.
      const auto count = [&](std::size_t at) -> std::optional<std::int64_t> {
        if (auto v = count_at(in, at, "")) return *v;
        return std::nullopt;
      };
      reply.response.interval = count(8);
      reply.response.incomplete = count(12);
      reply.response.complete = count(16);
      const auto peers_bytes = in.subspan(20);
      constexpr auto excess = wire::too_many_peers::keep_first;
      auto peers = family == ip_family::v6 ? wire::parse_compact_v6(peers_bytes, max_peers, excess)
                                           : wire::parse_compact_v4(peers_bytes, max_peers, excess);
      if (!peers) return make_error(peers.err().code, 20 + peers.err().position, "peers");
      reply.response.peers = std::move(*peers);
      out.body = std::move(reply);
      return out;
    }
    case static_cast<std::uint32_t>(action::scrape): {
      if ((in.size() - 8) % 12 != 0) return too_short("scrape response not 8 + 12n bytes");
      scrape_reply reply;
      for (std::size_t at = 8; at < in.size(); at += 12) {
        scrape_entry entry;
        auto seeders = count_at(in, at, "seeders");
        auto completed = count_at(in, at + 4, "completed");
        auto leechers = count_at(in, at + 8, "leechers");
        for (auto* v : {&seeders, &completed, &leechers}) {
          if (!*v) return v->err();
        }
        entry.complete = *seeders;
        entry.downloaded = *completed;
        entry.incomplete = *leechers;
        reply.entries.push_back(entry);
      }
      out.body = std::move(reply);
      return out;
    }
    case static_cast<std::uint32_t>(action::error): {
      const auto text = as_chars(in.subspan(8));
      out.body = error_reply{printable_text(text, max_text)};
      return out;
    }
    default:
      return make_error(errc::tracker_bad_field, 0, "unknown action");
  }
}

// --- One tracker's connection ----------------------------------------------------------

connection::connection(const settings& cfg, rng& random) : cfg_(cfg), random_(&random) {}

bool connection::has_connection_id(time_point now) const {
  return connection_id_ && now < connection_id_expires_;
}

std::uint32_t connection::new_transaction_id() {
  while (true) {
    const auto tid = static_cast<std::uint32_t>(random_->next() >> 32);
    const bool taken =
        (connecting_ && connecting_->transaction_id == tid) ||
        std::any_of(requests_.begin(), requests_.end(),
                    [&](const auto& entry) { return entry.second.transaction_id == tid; });
    if (!taken) return tid;
  }
}

duration connection::timeout_after(unsigned attempts) const {
  return cfg_.retransmit_base * (std::int64_t{1} << std::min(attempts, 30u));
}

request_id connection::announce(const announce_request& r, time_point now) {
  const request_id id = next_id_++;
  auto& entry = requests_[id];
  entry.what = r;
  send(id, entry, now);
  return id;
}

request_id connection::scrape(std::span<const id20> info_hashes, time_point now) {
  const request_id id = next_id_++;
  auto& entry = requests_[id];
  const auto n = std::min(info_hashes.size(), max_scrape_hashes);
  entry.what = std::vector<id20>(info_hashes.begin(), info_hashes.begin() + static_cast<std::ptrdiff_t>(n));
  send(id, entry, now);
  return id;
}

bool connection::cancel(request_id id) { return requests_.erase(id) != 0; }

// Sends (or re-sends, same transaction id) when a connection id is valid; otherwise
// the request waits for a connect exchange.
void connection::send(request_id, request& r, time_point now) {
  if (!has_connection_id(now)) {
    r.sent = false;
    start_connect(now);
    return;
  }
  if (!r.sent || r.transaction_id == 0) r.transaction_id = new_transaction_id();
  r.sent = true;
  r.deadline = now + timeout_after(r.attempts);
  if (const auto* a = std::get_if<announce_request>(&r.what)) {
    outputs_.push_back(send_datagram{announce_request_packet(*connection_id_, r.transaction_id, *a)});
  } else {
    outputs_.push_back(send_datagram{
        scrape_request_packet(*connection_id_, r.transaction_id, std::get<std::vector<id20>>(r.what))});
  }
}

void connection::send_waiting(time_point now) {
  for (auto& [id, r] : requests_) {
    if (!r.sent) send(id, r, now);
  }
}

void connection::start_connect(time_point now) {
  if (connecting_) return;
  connecting_ = connect_attempt{};
  connecting_->transaction_id = new_transaction_id();
  connecting_->deadline = now + timeout_after(0);
  outputs_.push_back(send_datagram{connect_request(connecting_->transaction_id)});
}

void connection::fail(request_id id, failure_kind kind, std::string message) {
  if (requests_.erase(id) == 0) return;
  outputs_.push_back(request_failed{id, kind, std::move(message)});
}

void connection::received(byte_view datagram, ip_family family, time_point now) {
  const auto tid = transaction_of(datagram);
  const bool for_connect = tid && connecting_ && connecting_->transaction_id == *tid;
  auto match = requests_.end();
  if (tid && !for_connect) {
    match = std::find_if(requests_.begin(), requests_.end(), [&](const auto& entry) {
      return entry.second.sent && entry.second.transaction_id == *tid;
    });
  }
  if (!for_connect && match == requests_.end()) {
    ++ignored_;
    return;
  }
  auto parsed = parse_response(datagram, family, cfg_.max_peers, cfg_.max_text);

  if (for_connect) {
    connecting_.reset();
    std::vector<request_id> waiting;
    for (const auto& [id, r] : requests_) {
      if (!r.sent) waiting.push_back(id);
    }
    const auto* connected = parsed ? std::get_if<connect_response>(&parsed->body) : nullptr;
    if (connected) {
      connection_id_ = connected->connection_id;
      connection_id_expires_ = now + cfg_.connection_id_lifetime;
      send_waiting(now);
      return;
    }
    const auto* refused = parsed ? std::get_if<error_reply>(&parsed->body) : nullptr;
    for (const auto id : waiting) {
      if (refused) fail(id, failure_kind::tracker_error, refused->message);
      else if (!parsed) fail(id, failure_kind::bad_response, parsed.err().message());
      else fail(id, failure_kind::bad_response, "connect answered with another action");
    }
    return;
  }

  const request_id id = match->first;
  const bool is_announce = std::holds_alternative<announce_request>(match->second.what);
  if (!parsed) {
    fail(id, failure_kind::bad_response, parsed.err().message());
    return;
  }
  if (auto* refused = std::get_if<error_reply>(&parsed->body)) {
    fail(id, failure_kind::tracker_error, refused->message);
  } else if (auto* announced = std::get_if<announce_reply>(&parsed->body); announced && is_announce) {
    outputs_.push_back(announce_done{id, std::move(announced->response)});
    requests_.erase(match);
  } else if (auto* scraped = std::get_if<scrape_reply>(&parsed->body); scraped && !is_announce) {
    const auto& hashes = std::get<std::vector<id20>>(match->second.what);
    if (scraped->entries.size() != hashes.size()) {
      fail(id, failure_kind::bad_response, "scrape response for another number of hashes");
      return;
    }
    for (std::size_t i = 0; i < hashes.size(); ++i) scraped->entries[i].info_hash = hashes[i];
    outputs_.push_back(scrape_done{id, std::move(scraped->entries)});
    requests_.erase(match);
  } else {
    fail(id, failure_kind::bad_response, "response of another action");
  }
}

void connection::socket_failed(const std::string& message, time_point) {
  connecting_.reset();
  connection_id_.reset();
  std::vector<request_id> ids;
  for (const auto& entry : requests_) ids.push_back(entry.first);
  for (const auto id : ids) fail(id, failure_kind::socket_error, message);
}

void connection::on_timer(time_point now) {
  if (connecting_ && connecting_->deadline <= now) {
    if (connecting_->attempts >= cfg_.max_retransmit_exponent) {
      connecting_.reset();
      std::vector<request_id> waiting;
      for (const auto& [id, r] : requests_) {
        if (!r.sent) waiting.push_back(id);
      }
      for (const auto id : waiting) fail(id, failure_kind::timeout, "no answer to connect");
    } else {
      ++connecting_->attempts;
      connecting_->deadline = now + timeout_after(connecting_->attempts);
      outputs_.push_back(send_datagram{connect_request(connecting_->transaction_id)});
    }
  }
  std::vector<request_id> expired;
  for (const auto& [id, r] : requests_) {
    if (r.sent && r.deadline <= now) expired.push_back(id);
  }
  for (const auto id : expired) {
    auto& r = requests_.at(id);
    if (r.attempts >= cfg_.max_retransmit_exponent) {
      fail(id, failure_kind::timeout, "no answer");
      continue;
    }
    ++r.attempts;
    // BEP 15: a connection id that expired meanwhile means connecting again first.
    send(id, r, now);
  }
}

std::optional<time_point> connection::next_deadline() const {
  std::optional<time_point> next;
  const auto consider = [&](time_point t) {
    if (!next || t < *next) next = t;
  };
  if (connecting_) consider(connecting_->deadline);
  for (const auto& [id, r] : requests_) {
    if (r.sent) consider(r.deadline);
  }
  return next;
}

std::optional<output> connection::poll() {
  if (outputs_.empty()) return std::nullopt;
  output o = std::move(outputs_.front());
  outputs_.pop_front();
  return o;
}

}  // namespace wt::tracker::udp
