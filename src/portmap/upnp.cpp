#include "portmap/upnp.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace wt::portmap {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool icontains(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char x, char y) { return lower(x) == lower(y); }) != hay.end();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The text of the first element named `name` (any namespace prefix) at or after `from`, and
// where it ends; nullopt when there is none. Entities are left as they are.
struct element {
  std::string_view text;
  std::size_t end = 0;
};
std::optional<element> find_element(std::string_view xml, std::string_view name, std::size_t from = 0) {
  const auto local_is = [&](std::size_t at, std::size_t& after) {
    std::size_t i = at;
    while (i < xml.size() && !std::isspace(static_cast<unsigned char>(xml[i])) && xml[i] != '>' && xml[i] != '/') ++i;
    std::string_view tag = xml.substr(at, i - at);
    if (const auto colon = tag.find(':'); colon != std::string_view::npos) tag.remove_prefix(colon + 1);
    after = i;
    return tag == name;
  };
  for (std::size_t open = xml.find('<', from); open != std::string_view::npos; open = xml.find('<', open + 1)) {
    std::size_t after = 0;
    if (open + 1 >= xml.size() || xml[open + 1] == '/' || !local_is(open + 1, after)) continue;
    const auto gt = xml.find('>', after);
    if (gt == std::string_view::npos) return std::nullopt;
    if (xml[gt - 1] == '/') return element{{}, gt + 1};  // <name/>
    for (std::size_t close = xml.find("</", gt); close != std::string_view::npos; close = xml.find("</", close + 2)) {
      std::size_t end_name = 0;
      if (local_is(close + 2, end_name)) {
        const auto close_gt = xml.find('>', end_name);
        if (close_gt == std::string_view::npos) return std::nullopt;
        return element{xml.substr(gt + 1, close - gt - 1), close_gt + 1};
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      static constexpr std::pair<std::string_view, char> entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool done = false;
      for (const auto& [entity, c] : entities) {
        if (s.substr(i, entity.size()) == entity) {
          out += c;
          i += entity.size() - 1;
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out += s[i];
  }
  return out;
}

std::string escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

// "http://host:port" of an http:// URL; empty for anything else.
std::string origin_of(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.size() <= scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) return {};
  const auto slash = url.find('/', scheme.size());
  return std::string(url.substr(0, slash));
}

std::string protocol_upper(protocol p) { return p == protocol::udp ? "UDP" : "TCP"; }

soap_call envelope(const std::string& service_type, std::string_view action, const std::string& args) {
  soap_call call;
  call.action = "\"" + service_type + "#" + std::string(action) + "\"";
  call.body = "<?xml version=\"1.0\"?>\r\n"
              "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
              "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
              "<u:" + std::string(action) + " xmlns:u=\"" + escape(service_type) + "\">" + args +
              "</u:" + std::string(action) + "></s:Body></s:Envelope>\r\n";
  return call;
}

std::string arg(std::string_view name, std::string_view value) {
  return "<" + std::string(name) + ">" + escape(value) + "</" + std::string(name) + ">";
}

constexpr auto retry_renewal = std::chrono::minutes(1);
constexpr int only_permanent_leases = 725;  // OnlyPermanentLeasesSupported

}  // namespace

std::string ssdp_search_request() {
  return "M-SEARCH * HTTP/1.1\r\n"
         "HOST: 239.255.255.250:1900\r\n"
         "MAN: \"ssdp:discover\"\r\n"
         "MX: 2\r\n"
         "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
         "\r\n";
}

std::optional<std::string> parse_ssdp_response(byte_view datagram) {
  if (datagram.size() > max_ssdp_response) return std::nullopt;
  const std::string_view text(reinterpret_cast<const char*>(datagram.data()), datagram.size());
  const auto first_end = text.find("\r\n");
  if (first_end == std::string_view::npos) return std::nullopt;
  const auto status = text.substr(0, first_end);
  if (status.size() < 12 || !iequals(status.substr(0, 5), "HTTP/") || status.find(" 200") == std::string_view::npos) return std::nullopt;
  std::optional<std::string> location;
  bool gateway = false;
  for (std::size_t at = first_end + 2; at < text.size();) {
    const auto end = std::min(text.find("\r\n", at), text.size());
    const auto line = text.substr(at, end - at);
    at = end + 2;
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = trim(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (iequals(name, "LOCATION") && !origin_of(value).empty()) location = std::string(value);
    if ((iequals(name, "ST") || iequals(name, "USN")) &&
        (icontains(value, "InternetGatewayDevice") || icontains(value, "WANIPConnection") || icontains(value, "WANPPPConnection")))
      gateway = true;
  }
  return gateway ? location : std::nullopt;
}

std::optional<control_point> parse_description(std::string_view xml, std::string_view location) {
  if (xml.size() > max_description) return std::nullopt;
  const auto base_el = find_element(xml, "URLBase");
  std::string base = base_el ? unescape(trim(base_el->text)) : std::string();
  const std::string origin = origin_of(base).empty() ? origin_of(location) : origin_of(base);
  if (origin.empty()) return std::nullopt;
  std::optional<control_point> best;
  int best_rank = 0;
  for (std::size_t at = 0;;) {
    const auto service = find_element(xml, "service", at);
    if (!service) break;
    at = service->end;
    const auto type = find_element(service->text, "serviceType");
    const auto control = find_element(service->text, "controlURL");
    if (!type || !control) continue;
    const std::string service_type = unescape(trim(type->text));
    const int rank = service_type == "urn:schemas-upnp-org:service:WANIPConnection:2"   ? 3
                     : service_type == "urn:schemas-upnp-org:service:WANIPConnection:1" ? 2
                     : service_type == "urn:schemas-upnp-org:service:WANPPPConnection:1" ? 1
                                                                                        : 0;
    if (rank <= best_rank) continue;
    std::string url = unescape(trim(control->text));
    if (url.empty()) continue;
    if (origin_of(url).empty()) url = origin + (url.front() == '/' ? "" : "/") + url;
    best = control_point{service_type, url};
    best_rank = rank;
  }
  return best;
}

soap_call soap_add_port_mapping(const std::string& service_type, protocol p, std::uint16_t port,
                                const std::string& internal_client, std::uint32_t lease, const std::string& description) {
  const std::string n = std::to_string(port);
  return envelope(service_type, "AddPortMapping",
                  arg("NewRemoteHost", "") + arg("NewExternalPort", n) + arg("NewProtocol", protocol_upper(p)) +
                      arg("NewInternalPort", n) + arg("NewInternalClient", internal_client) + arg("NewEnabled", "1") +
                      arg("NewPortMappingDescription", description) + arg("NewLeaseDuration", std::to_string(lease)));
}

soap_call soap_delete_port_mapping(const std::string& service_type, protocol p, std::uint16_t port) {
  return envelope(service_type, "DeletePortMapping",
                  arg("NewRemoteHost", "") + arg("NewExternalPort", std::to_string(port)) + arg("NewProtocol", protocol_upper(p)));
}

soap_call soap_get_external_address(const std::string& service_type) {
  return envelope(service_type, "GetExternalIPAddress", "");
}

soap_result parse_soap_response(int status, std::string_view body) {
  soap_result r;
  if (body.size() > max_soap_response) {
    r.error = "the router's answer is too long";
    return r;
  }
  const auto fault = find_element(body, "Fault");
  if (status == 200 && !fault) {
    r.ok = true;
    if (const auto ip = find_element(body, "NewExternalIPAddress")) r.external_address = std::string(trim(ip->text));
    return r;
  }
  const auto code = find_element(body, "errorCode");
  const auto text = find_element(body, "errorDescription");
  if (code) {
    const auto digits = trim(code->text);
    int value = 0;
    for (const char c : digits.substr(0, 6)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) break;
      value = value * 10 + (c - '0');
    }
    r.error_code = value;
  }
  r.error = text ? unescape(trim(text->text)) : "HTTP " + std::to_string(status);
  if (r.error_code != 0) r.error = std::to_string(r.error_code) + " " + r.error;
  return r;
}

// --- upnp_client ---------------------------------------------------------------------------

upnp_client::upnp_client(upnp_settings s) : cfg_(std::move(s)) {
  if (cfg_.searches < 1) cfg_.searches = 1;
}

upnp_client::entry* upnp_client::find(protocol p, std::uint16_t port) {
  const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.proto == p && e.port == port; });
  return it == entries_.end() ? nullptr : &*it;
}

void upnp_client::map(protocol p, std::uint16_t port, time_point now) {
  if (port == 0 || find(p, port) || step_ == step::gave_up) return;
  stopping_ = false;
  entries_.push_back(entry{p, port, false, 0, {}});
  queue_.push_back({job_kind::map, p, port, cfg_.lease});
  if (step_ == step::idle) search(now);
  next_job(now);
}

void upnp_client::unmap_all(time_point now) {
  stopping_ = true;
  queue_.clear();
  if (step_ != step::ready) {
    entries_.clear();
    step_ = step::gave_up;
    return;
  }
  // A mapping request in flight stays: what the router grants is deleted in turn.
  std::erase_if(entries_, [&](const entry& e) { return !e.granted && !in_flight(e); });
  for (const auto& e : entries_)
    if (!in_flight(e)) queue_.push_back({job_kind::unmap, e.proto, e.port, 0});
  next_job(now);
}

bool upnp_client::in_flight(const entry& e) const {
  return current_ && current_->kind == job_kind::map && current_->proto == e.proto && current_->port == e.port;
}

void upnp_client::search(time_point now) {
  step_ = step::searching;
  ++searched_;
  search_deadline_ = now + cfg_.search_timeout;
  out_.emplace_back(ssdp_search{ssdp_search_request()});
}

void upnp_client::give_up(const std::string& reason) {
  step_ = step::gave_up;
  queue_.clear();
  current_.reset();
  for (const auto& e : entries_)
    if (!e.granted) out_.emplace_back(failed{e.proto, e.port, true, std::nullopt, reason});
  std::erase_if(entries_, [](const entry& e) { return !e.granted; });
}

void upnp_client::request(std::string method, std::string url, soap_call call) {
  in_flight_ = next_id_++;
  out_.emplace_back(http_request{in_flight_, std::move(method), std::move(url), std::move(call.action), std::move(call.body)});
}

void upnp_client::next_job(time_point) {
  if (current_ || step_ != step::ready || queue_.empty()) return;
  current_ = queue_.front();
  queue_.pop_front();
  const auto& type = control_->service_type;
  switch (current_->kind) {
    case job_kind::address: request("POST", control_->control_url, soap_get_external_address(type)); break;
    case job_kind::map:
      request("POST", control_->control_url,
              soap_add_port_mapping(type, current_->proto, current_->port, local_address_, current_->lease, cfg_.description));
      break;
    case job_kind::unmap: request("POST", control_->control_url, soap_delete_port_mapping(type, current_->proto, current_->port)); break;
  }
}

void upnp_client::ssdp_received(byte_view datagram, time_point) {
  if (step_ != step::searching) return;
  const auto location = parse_ssdp_response(datagram);
  if (!location) return;
  step_ = step::describing;
  location_ = *location;
  request("GET", *location, {});
}

void upnp_client::http_response(std::uint64_t id, int status, std::string_view body, const std::string& local_address,
                                 time_point now) {
  if (id == 0 || id != in_flight_) return;
  in_flight_ = 0;
  if (step_ == step::describing) {
    control_ = status == 200 ? parse_description(body, location_) : std::nullopt;
    if (!control_) return give_up(status == 200 ? "the router's description names no WAN connection service"
                                                : "the router's description: HTTP " + std::to_string(status));
    local_address_ = local_address;
    step_ = step::ready;
    queue_.push_front({job_kind::address, protocol::tcp, 0, 0});
    return next_job(now);
  }
  if (!current_) return;
  const job j = *current_;
  current_.reset();
  const auto r = parse_soap_response(status, body);
  if (j.kind == job_kind::address) {
    std::array<std::uint8_t, 4> ip{};
    int parts = 0, value = -1;
    for (const char c : r.external_address + ".") {
      if (std::isdigit(static_cast<unsigned char>(c))) value = (value < 0 ? 0 : value) * 10 + (c - '0');
      else if (c == '.' && value >= 0 && value < 256 && parts < 4) { ip[static_cast<std::size_t>(parts++)] = static_cast<std::uint8_t>(value); value = -1; }
      else { parts = -1; break; }
    }
    if (r.ok && parts == 4) out_.emplace_back(public_address{ip});
  } else if (j.kind == job_kind::unmap) {
    std::erase_if(entries_, [&](const entry& e) { return e.proto == j.proto && e.port == j.port; });
    if (r.ok) out_.emplace_back(unmapped{j.proto, j.port});
    else out_.emplace_back(failed{j.proto, j.port, false, static_cast<std::uint16_t>(r.error_code), r.error});
  } else if (auto* e = find(j.proto, j.port)) {
    if (r.ok) {
      const bool renewal = e->granted;
      e->granted = true;
      e->lease = j.lease;
      e->renew_at = now + std::chrono::seconds(std::max<std::uint32_t>(j.lease / 2, 1));
      out_.emplace_back(mapped{j.proto, j.port, j.port, j.lease, renewal});
      if (stopping_) queue_.push_back({job_kind::unmap, j.proto, j.port, 0});
    } else if (r.error_code == only_permanent_leases && j.lease != 0 && !stopping_) {
      queue_.push_front({job_kind::map, j.proto, j.port, 0});
    } else if (r.error_code == only_permanent_leases && j.lease != 0 && !e->granted) {
      std::erase_if(entries_, [&](const entry& x) { return &x == e; });  // stopping: not asked again
    } else {
      out_.emplace_back(failed{j.proto, j.port, false, static_cast<std::uint16_t>(r.error_code), r.error});
      after_failure(*e, now);
    }
  }
  next_job(now);
}

void upnp_client::http_failed(std::uint64_t id, const std::string& message, time_point now) {
  if (id == 0 || id != in_flight_) return;
  in_flight_ = 0;
  if (step_ == step::describing) return give_up("the router's description: " + message);
  if (!current_) return;
  const job j = *current_;
  current_.reset();
  if (j.kind != job_kind::address) {
    out_.emplace_back(failed{j.proto, j.port, false, std::nullopt, message});
    if (j.kind == job_kind::unmap) std::erase_if(entries_, [&](const entry& e) { return e.proto == j.proto && e.port == j.port; });
    else if (auto* e = find(j.proto, j.port)) after_failure(*e, now);
  }
  next_job(now);
}

// A mapping request failed: one never granted is forgotten; a granted one (its renewal
// failed) is still held for a while, asked again later, or deleted if we are stopping.
void upnp_client::after_failure(entry& e, time_point now) {
  if (!e.granted) std::erase_if(entries_, [&](const entry& x) { return &x == &e; });
  else if (stopping_) queue_.push_back({job_kind::unmap, e.proto, e.port, 0});
  else e.renew_at = now + retry_renewal;
}

void upnp_client::on_timer(time_point now) {
  if (step_ == step::searching && now >= search_deadline_) {
    if (searched_ < cfg_.searches) search(now);
    else give_up("no UPnP gateway answered");
  }
  if (step_ != step::ready || stopping_) return;
  for (auto& e : entries_) {
    if (!e.granted || e.lease == 0 || now < e.renew_at) continue;
    e.renew_at = now + retry_renewal;  // the answer sets the next one
    const bool pending = (current_ && current_->proto == e.proto && current_->port == e.port) ||
                         std::any_of(queue_.begin(), queue_.end(), [&](const job& j) { return j.proto == e.proto && j.port == e.port; });
    if (!pending) queue_.push_back({job_kind::map, e.proto, e.port, cfg_.lease});
  }
  next_job(now);
}

std::optional<time_point> upnp_client::next_deadline() const {
  std::optional<time_point> at;
  if (step_ == step::searching) at = search_deadline_;
  if (step_ == step::ready && !stopping_)
    for (const auto& e : entries_)
      if (e.granted && e.lease != 0 && (!at || e.renew_at < *at)) at = e.renew_at;
  return at;
}

std::optional<upnp_output> upnp_client::poll() {
  if (out_.empty()) return std::nullopt;
  auto o = std::move(out_.front());
  out_.pop_front();
  return o;
}

}  // namespace wt::portmap
