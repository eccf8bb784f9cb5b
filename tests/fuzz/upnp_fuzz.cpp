// Fuzzes UPnP IGD's parsers with the whole input: an SSDP answer, a device description and a
// SOAP answer (as a 200 and as a 500); then a client fed the input's halves as the router's
// description and its SOAP answers.
// Properties: no crash; a LOCATION or control URL found is an http:// URL; a SOAP answer is
// ok only with status 200.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "portmap/upnp.hpp"

using namespace wt;
using namespace wt::portmap;
using namespace std::chrono_literals;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// The scheme's letters in any case, as URLs allow ("httP://" too).
bool http_url(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  if (url.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto location = parse_ssdp_response(byte_view(data, size))) check(http_url(*location));
  if (const auto cp = parse_description(text, "http://192.168.1.1:5000/desc.xml")) check(http_url(cp->control_url));
  (void)parse_soap_response(200, text);
  check(!parse_soap_response(500, text).ok);

  upnp_client c;
  auto now = time_point{} + 1s;
  c.map(protocol::tcp, 6881, now);
  c.ssdp_received(as_bytes("HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                           "LOCATION: http://192.168.1.1:5000/desc.xml\r\n\r\n"), now);
  const auto half = text.substr(0, size / 2), rest = text.substr(size / 2);
  for (int round = 0; round < 4; ++round) {
    while (auto o = c.poll())
      if (const auto* r = std::get_if<http_request>(&*o)) {
        check(http_url(r->url));
        c.http_response(r->id, round % 2 ? 500 : 200, round == 0 ? half : rest, "192.168.1.2", now);
      }
    now += 1h;
    c.on_timer(now);
  }
  return 0;
}
