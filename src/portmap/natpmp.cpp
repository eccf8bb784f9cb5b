#include "portmap/natpmp.hpp"

#include <algorithm>

namespace wt::portmap {

namespace {

constexpr std::uint8_t version = 0;
constexpr std::uint8_t op_address = 0;
constexpr std::uint8_t answer_bit = 128;
constexpr std::size_t address_response_size = 12;
constexpr std::size_t map_response_size = 16;

void put16(byte_buffer& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(byte_buffer& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}
std::uint16_t get16(byte_view b, std::size_t at) { return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]); }
std::uint32_t get32(byte_view b, std::size_t at) {
  return static_cast<std::uint32_t>(get16(b, at)) << 16 | get16(b, at + 2);
}

// A gateway that has not answered a retry waits a minute before a renewal is tried again.
constexpr auto retry_renewal = std::chrono::minutes(1);

}  // namespace

const char* protocol_name(protocol p) noexcept { return p == protocol::udp ? "udp" : "tcp"; }

byte_buffer encode_address_request() { return {version, op_address}; }

byte_buffer encode_map_request(protocol p, std::uint16_t internal_port, std::uint16_t suggested_external_port,
                               std::uint32_t lifetime) {
  byte_buffer out{version, static_cast<std::uint8_t>(p), 0, 0};
  put16(out, internal_port);
  put16(out, suggested_external_port);
  put32(out, lifetime);
  return out;
}

std::optional<std::variant<address_response, map_response>> decode_response(byte_view d) {
  if (d.size() < 2 || d[0] != version || !(d[1] & answer_bit)) return std::nullopt;
  const auto op = static_cast<std::uint8_t>(d[1] & ~answer_bit);
  if (op == op_address) {
    if (d.size() != address_response_size) return std::nullopt;
    address_response r;
    r.result = get16(d, 2);
    r.epoch = get32(d, 4);
    std::copy_n(d.begin() + 8, 4, r.address.begin());
    return r;
  }
  if (op != static_cast<std::uint8_t>(protocol::udp) && op != static_cast<std::uint8_t>(protocol::tcp)) return std::nullopt;
  if (d.size() != map_response_size) return std::nullopt;
  map_response r;
  r.proto = static_cast<protocol>(op);
  r.result = get16(d, 2);
  r.epoch = get32(d, 4);
  r.internal_port = get16(d, 8);
  r.external_port = get16(d, 10);
  r.lifetime = get32(d, 12);
  return r;
}

std::string describe_result(std::uint16_t result) {
  switch (result) {
    case 0: return "success";
    case 1: return "unsupported version";
    case 2: return "not authorized or refused (port mapping disabled on the gateway?)";
    case 3: return "network failure (the gateway has no public address)";
    case 4: return "out of resources (no ports left)";
    case 5: return "unsupported opcode";
    default: return "result code " + std::to_string(result);
  }
}

natpmp_client::natpmp_client(settings s) : cfg_(s) {
  if (cfg_.attempts < 1) cfg_.attempts = 1;
  if (cfg_.lifetime == 0) cfg_.lifetime = 1;  // 0 would delete
}

natpmp_client::mapping* natpmp_client::find(protocol p, std::uint16_t internal_port) {
  const auto it = std::find_if(mappings_.begin(), mappings_.end(),
                               [&](const mapping& m) { return m.proto == p && m.internal_port == internal_port; });
  return it == mappings_.end() ? nullptr : &*it;
}

void natpmp_client::map(protocol p, std::uint16_t internal_port, time_point now) {
  if (internal_port == 0 || find(p, internal_port)) return;
  stopping_ = false;
  mappings_.push_back(mapping{p, internal_port, 0, 0, {}, false});
  const bool asking_address = (current_ && current_->kind == job_kind::address) ||
                              std::any_of(queue_.begin(), queue_.end(), [](const job& j) { return j.kind == job_kind::address; });
  if (!address_ && !asking_address) enqueue({job_kind::address, p, 0}, now);
  enqueue({job_kind::map, p, internal_port}, now);
}

void natpmp_client::unmap_all(time_point now) {
  stopping_ = true;
  queue_.clear();
  // A mapping request already sent stays in flight: the gateway may still grant it, and what
  // it grants is deleted in turn (received()). The public address question is dropped.
  if (current_ && current_->kind == job_kind::address) current_.reset();
  std::erase_if(mappings_, [&](const mapping& m) { return !m.granted && !in_flight(m); });
  for (const auto& m : mappings_)
    if (!in_flight(m)) queue_.push_back({job_kind::unmap, m.proto, m.internal_port});
  start_next(now);
}

bool natpmp_client::in_flight(const mapping& m) const {
  return current_ && current_->kind != job_kind::address && current_->proto == m.proto &&
         current_->internal_port == m.internal_port;
}

void natpmp_client::enqueue(job j, time_point now) {
  queue_.push_back(j);
  start_next(now);
}

void natpmp_client::start_next(time_point now) {
  if (current_ || queue_.empty()) return;
  current_ = queue_.front();
  queue_.pop_front();
  sent_ = 0;
  transmit(now);
}

void natpmp_client::transmit(time_point now) {
  const job& j = *current_;
  out_.emplace_back(send{j.kind == job_kind::address
                             ? encode_address_request()
                             : encode_map_request(j.proto, j.internal_port, j.internal_port,
                                                  j.kind == job_kind::unmap ? 0 : cfg_.lifetime)});
  deadline_ = now + cfg_.first_timeout * (1 << std::min(sent_, 20));
  ++sent_;
}

void natpmp_client::finish(time_point now) {
  current_.reset();
  start_next(now);
}

void natpmp_client::fail(std::optional<std::uint16_t> result, std::string reason, time_point now) {
  const job j = *current_;
  if (j.kind == job_kind::address) {
    // Without the gateway's answer to the first question, the mappings waiting would fail
    // the same way, each after its own retries: they fail with it.
    std::erase_if(queue_, [](const job& q) { return q.kind == job_kind::map; });
    for (const auto& m : mappings_)
      if (!m.granted) out_.emplace_back(failed{m.proto, m.internal_port, true, result, reason});
    std::erase_if(mappings_, [](const mapping& m) { return !m.granted; });
  } else {
    out_.emplace_back(failed{j.proto, j.internal_port, false, result, reason});
    if (auto* m = find(j.proto, j.internal_port)) {
      if (m->granted && j.kind == job_kind::map && stopping_) queue_.push_back({job_kind::unmap, j.proto, j.internal_port});
      else if (m->granted && j.kind == job_kind::map) m->renew_at = now + retry_renewal;  // still held for a while
      else std::erase_if(mappings_, [&](const mapping& x) { return &x == m; });
    }
  }
  finish(now);
}

// RFC 6886 3.6: a gateway's epoch advances with its clock; one that is behind what the time
// since the last answer says restarted and forgot its mappings: they are asked for again.
void natpmp_client::check_epoch(std::uint32_t epoch, time_point now) {
  if (epoch_) {
    const auto [last, at] = *epoch_;
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - at).count();
    const auto expected = static_cast<std::int64_t>(last) + elapsed * 7 / 8;
    if (static_cast<std::int64_t>(epoch) + 2 < expected && !stopping_) {
      for (auto& m : mappings_) {
        const bool handled = current_ && current_->internal_port == m.internal_port && current_->proto == m.proto;
        if (m.granted && !handled) queue_.push_back({job_kind::map, m.proto, m.internal_port});
      }
    }
  }
  epoch_ = {epoch, now};
}

void natpmp_client::received(byte_view datagram, time_point now) {
  if (!current_) return;
  const auto decoded = decode_response(datagram);
  if (!decoded) return;
  const job j = *current_;
  if (const auto* a = std::get_if<address_response>(&*decoded)) {
    if (j.kind != job_kind::address) return;
    if (a->result != 0) return fail(a->result, describe_result(a->result), now);
    address_ = a->address;
    out_.emplace_back(public_address{a->address});
    check_epoch(a->epoch, now);
    return finish(now);
  }
  const auto& r = std::get<map_response>(*decoded);
  if (j.kind == job_kind::address || r.proto != j.proto || r.internal_port != j.internal_port) return;
  if (r.result != 0) return fail(r.result, describe_result(r.result), now);
  if (j.kind == job_kind::unmap) {
    if (r.lifetime != 0) return;  // a late answer to the mapping itself
    std::erase_if(mappings_, [&](const mapping& m) { return m.proto == j.proto && m.internal_port == j.internal_port; });
    out_.emplace_back(unmapped{j.proto, j.internal_port});
    return finish(now);
  }
  if (r.lifetime == 0) return;  // a late answer to an earlier deletion
  if (auto* m = find(j.proto, j.internal_port)) {
    const bool renewal = m->granted;
    m->external_port = r.external_port;
    m->lifetime = r.lifetime;
    m->granted = true;
    m->renew_at = now + std::chrono::seconds(std::max<std::uint32_t>(r.lifetime / 2, 1));
    out_.emplace_back(mapped{j.proto, j.internal_port, r.external_port, r.lifetime, renewal});
    if (stopping_) queue_.push_back({job_kind::unmap, j.proto, j.internal_port});  // granted after unmap_all
  }
  check_epoch(r.epoch, now);
  finish(now);
}

void natpmp_client::on_timer(time_point now) {
  if (current_ && now >= deadline_) {
    if (sent_ >= cfg_.attempts) fail(std::nullopt, "no answer from the gateway", now);
    else transmit(now);
  }
  if (stopping_) return;
  for (auto& m : mappings_) {
    if (!m.granted || now < m.renew_at) continue;
    const bool pending = (current_ && current_->proto == m.proto && current_->internal_port == m.internal_port) ||
                         std::any_of(queue_.begin(), queue_.end(), [&](const job& j) {
                           return j.proto == m.proto && j.internal_port == m.internal_port;
                         });
    m.renew_at = now + retry_renewal;  // the answer sets the next renewal; no answer: try again then
    if (!pending) enqueue({job_kind::map, m.proto, m.internal_port}, now);
  }
}

std::optional<time_point> natpmp_client::next_deadline() const {
  std::optional<time_point> at;
  if (current_) at = deadline_;
  if (!stopping_)
    for (const auto& m : mappings_)
      if (m.granted && (!at || m.renew_at < *at)) at = m.renew_at;
  return at;
}

std::optional<output> natpmp_client::poll() {
  if (out_.empty()) return std::nullopt;
  auto o = std::move(out_.front());
  out_.pop_front();
  return o;
}

}  // namespace wt::portmap
