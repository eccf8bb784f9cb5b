// UPnP IGD port mapping (UPnP Device Architecture 1.1, WANIPConnection:1/2,
// WANPPPConnection:1), sans-I/O: finds the router by SSDP, reads its device description,
// and asks its WAN connection service (SOAP over HTTP) to forward public ports to ours.
//
// The host sends `ssdp_search` by UDP to 239.255.255.250:1900 and hands every answer to
// ssdp_received(); it performs `http_request`s (GET of the description, POST of SOAP
// actions) and reports each with http_response() or http_failed(). The client never reads a
// clock or opens a socket.
//
//   portmap::upnp_client igd;
//   igd.map(protocol::tcp, 6881, now);      // a search first, then the mappings
//   igd.on_timer(now);                       // search retries, renewals
//   while (auto out = igd.poll()) ...        // ssdp_search / http_request / mapped / failed / unmapped
//   igd.unmap_all(now);                      // DeletePortMapping for each
//
// Mappings ask for a lease of `lease` seconds, renewed at half; a router that only takes
// permanent leases (error 725) is asked again with 0, as the IGD spec says, and such a
// mapping is not renewed. One HTTP request is in flight at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "portmap/natpmp.hpp"  // protocol

namespace wt::portmap {

// --- Messages -----------------------------------------------------------------------------

inline constexpr std::size_t max_ssdp_response = 4096;
inline constexpr std::size_t max_description = 64 * 1024;
inline constexpr std::size_t max_soap_response = 16 * 1024;

// The M-SEARCH datagram for an Internet Gateway Device.
std::string ssdp_search_request();
// The LOCATION (an http:// URL) of an SSDP answer from a gateway ("HTTP/1.1 200", an ST or
// USN naming an InternetGatewayDevice or a WAN connection service); nullopt otherwise.
std::optional<std::string> parse_ssdp_response(byte_view datagram);

struct control_point {
  std::string service_type;  // e.g. urn:schemas-upnp-org:service:WANIPConnection:1
  std::string control_url;   // absolute http:// URL
};
// The WAN connection service of a device description (WANIPConnection:2, then :1, then
// WANPPPConnection:1), its controlURL made absolute against URLBase or `location`.
std::optional<control_point> parse_description(std::string_view xml, std::string_view location);

struct soap_call {
  std::string action;      // SOAPAction header: "<service type>#<action>" (with the quotes)
  std::string body;        // the envelope
};
soap_call soap_add_port_mapping(const std::string& service_type, protocol p, std::uint16_t port,
                                const std::string& internal_client, std::uint32_t lease, const std::string& description);
soap_call soap_delete_port_mapping(const std::string& service_type, protocol p, std::uint16_t port);
soap_call soap_get_external_address(const std::string& service_type);

struct soap_result {
  bool ok = false;
  int error_code = 0;           // UPnPError's errorCode on a fault (e.g. 718 conflict, 725)
  std::string error;            // its errorDescription, or what went wrong
  std::string external_address; // NewExternalIPAddress, when asked
};
soap_result parse_soap_response(int status, std::string_view body);

// --- The client -----------------------------------------------------------------------------

struct upnp_settings {
  duration search_timeout = std::chrono::seconds(2);  // per search, then again
  int searches = 3;                                    // before giving up
  std::uint32_t lease = 7200;                          // seconds; 0 asks for a permanent mapping
  std::string description = "wasmtorrent";
};

struct ssdp_search {
  std::string bytes;
};
struct http_request {
  std::uint64_t id = 0;
  std::string method;   // "GET" or "POST"
  std::string url;
  std::string soap_action;  // POST: the SOAPAction header
  std::string body;
};
using upnp_output = std::variant<ssdp_search, http_request, public_address, mapped, failed, unmapped>;

class upnp_client {
 public:
  explicit upnp_client(upnp_settings s = {});

  void map(protocol p, std::uint16_t port, time_point now);
  // Deletes every mapping granted and stops renewing. A mapping request in flight is still
  // answered, and deleted if granted; requests not sent yet are dropped.
  void unmap_all(time_point now);
  // Nothing is held on the router or asked of it: after unmap_all(), the host may close.
  bool settled() const noexcept { return entries_.empty(); }

  void ssdp_received(byte_view datagram, time_point now);
  // local_address: our address on the connection to the router (the internal client of the
  // mappings), as the host saw it; needed with the description's answer.
  void http_response(std::uint64_t id, int status, std::string_view body, const std::string& local_address, time_point now);
  void http_failed(std::uint64_t id, const std::string& message, time_point now);

  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  std::optional<upnp_output> poll();

  const std::optional<control_point>& gateway() const noexcept { return control_; }

 private:
  enum class step : std::uint8_t { idle, searching, describing, ready, gave_up };
  enum class job_kind : std::uint8_t { address, map, unmap };
  struct job {
    job_kind kind = job_kind::map;
    protocol proto = protocol::tcp;
    std::uint16_t port = 0;
    std::uint32_t lease = 0;
  };
  struct entry {
    protocol proto = protocol::tcp;
    std::uint16_t port = 0;
    bool granted = false;
    std::uint32_t lease = 0;
    time_point renew_at{};
  };

  void search(time_point now);
  void give_up(const std::string& reason);
  void next_job(time_point now);
  void request(std::string method, std::string url, soap_call call);
  entry* find(protocol p, std::uint16_t port);
  bool in_flight(const entry& e) const;  // the request in flight asks for this mapping
  void after_failure(entry& e, time_point now);

  upnp_settings cfg_;
  step step_ = step::idle;
  int searched_ = 0;
  time_point search_deadline_{};
  std::string location_;  // of the description
  std::optional<control_point> control_;
  std::string local_address_;
  std::vector<entry> entries_;
  std::deque<job> queue_;
  std::optional<job> current_;
  std::uint64_t next_id_ = 1;
  std::uint64_t in_flight_ = 0;  // id of the request awaited
  bool stopping_ = false;
  std::deque<upnp_output> out_;
};

}  // namespace wt::portmap
