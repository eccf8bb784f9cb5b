// UPnP IGD port mapping: SSDP answers, device descriptions, SOAP calls and answers, and the
// client's sequence (search, description, public address, mappings, renewals, deletion).
// The router here is scripted; the Node test (tests/node/portmap.test.mjs) asks Debian's
// miniupnpd.
#include <catch2/catch.hpp>

#include "portmap/upnp.hpp"
#include "outputs.hpp"

using namespace wt;
using namespace wt::portmap;
using namespace std::chrono_literals;
using wt::test::drain;
using wt::test::only;

namespace {

time_point at(duration d) { return time_point{} + d; }

byte_buffer bytes_of(std::string_view s) { return byte_buffer(s.begin(), s.end()); }

const std::string ssdp_answer =
    "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "USN: uuid:1234::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
    "Location: http://192.168.77.1:37537/rootDesc.xml\r\n\r\n";

// A description as routers write them: the WAN connection service nested in devices, with
// other services before it; a relative controlURL.
const std::string description = R"(<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service>
  <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
  <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
  <controlURL> /ctl/IPConn </controlURL>
</service></serviceList></device></deviceList></device></deviceList></device></root>)";

std::string soap_ok(std::string_view action, std::string_view inner = "") {
  return "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:" +
         std::string(action) + "Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">" + std::string(inner) +
         "</u:" + std::string(action) + "Response></s:Body></s:Envelope>";
}

std::string soap_fault(int code, std::string_view text) {
  return "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
         "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError "
         "xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>" + std::to_string(code) + "</errorCode><errorDescription>" +
         std::string(text) + "</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";
}

}  // namespace

TEST_CASE("[upnp] SSDP: the gateway's LOCATION; other answers are not", "[upnp]") {
  CHECK(ssdp_search_request().find("ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n") != std::string::npos);
  CHECK(parse_ssdp_response(bytes_of(ssdp_answer)) == std::optional<std::string>("http://192.168.77.1:37537/rootDesc.xml"));
  std::string printer = ssdp_answer;
  printer.replace(printer.find("ST: urn:schemas-upnp-org:device:InternetGatewayDevice"), 56, "ST: urn:schemas-upnp-org:device:Printer:1              ");
  printer.replace(printer.find("USN: uuid:1234::urn:schemas-upnp-org:device:InternetGatewayDevice:1"), 67, "USN: uuid:1234");
  CHECK_FALSE(parse_ssdp_response(bytes_of(printer)));
  CHECK_FALSE(parse_ssdp_response(bytes_of("M-SEARCH * HTTP/1.1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n")));
  CHECK_FALSE(parse_ssdp_response(bytes_of("HTTP/1.1 404 Not Found\r\nST: InternetGatewayDevice\r\nLOCATION: http://a/\r\n\r\n")));
  CHECK_FALSE(parse_ssdp_response(bytes_of("HTTP/1.1 200 OK\r\nST: InternetGatewayDevice\r\nLOCATION: ftp://a/\r\n\r\n")));
  CHECK_FALSE(parse_ssdp_response(byte_buffer(5000, 'a')));
}

TEST_CASE("[upnp] description: the WAN connection service, its control URL made absolute", "[upnp]") {
  const auto cp = parse_description(description, "http://192.168.77.1:37537/rootDesc.xml");
  REQUIRE(cp);
  CHECK(cp->service_type == "urn:schemas-upnp-org:service:WANIPConnection:1");
  CHECK(cp->control_url == "http://192.168.77.1:37537/ctl/IPConn");
  // URLBase wins over the location; an absolute controlURL stays.
  std::string based = description;
  based.insert(based.find("<device>"), "<URLBase>http://10.0.0.1:5000</URLBase>");
  CHECK(parse_description(based, "http://192.168.77.1:37537/x.xml")->control_url == "http://10.0.0.1:5000/ctl/IPConn");
  std::string absolute = description;
  absolute.replace(absolute.find(" /ctl/IPConn "), 13, "http://1.1.1.1:1/c");
  CHECK(parse_description(absolute, "http://192.168.77.1/")->control_url == "http://1.1.1.1:1/c");
  // WANIPConnection:2 is preferred; no WAN service, or a broken document: nothing.
  std::string two = description;
  two.insert(two.find("</serviceList></device></deviceList></device></deviceList>"),
             "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/v2</controlURL></service>");
  CHECK(parse_description(two, "http://192.168.77.1/")->control_url == "http://192.168.77.1/v2");
  CHECK_FALSE(parse_description("<root><service><serviceType>urn:x</serviceType><controlURL>/a</controlURL></service></root>", "http://a/"));
  CHECK_FALSE(parse_description("<root><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1", "http://a/"));
  CHECK_FALSE(parse_description(description, "not a url"));
  CHECK_FALSE(parse_description(std::string(max_description + 1, ' '), "http://a/"));
}

TEST_CASE("[upnp] SOAP: the calls, and answers and faults", "[upnp]") {
  const auto add = soap_add_port_mapping("urn:schemas-upnp-org:service:WANIPConnection:1", protocol::udp, 6881, "192.168.77.2", 7200, "a<b");
  CHECK(add.action == "\"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping\"");
  for (const auto* part : {"<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">", "<NewExternalPort>6881</NewExternalPort>",
                           "<NewProtocol>UDP</NewProtocol>", "<NewInternalClient>192.168.77.2</NewInternalClient>",
                           "<NewLeaseDuration>7200</NewLeaseDuration>", "<NewPortMappingDescription>a&lt;b</NewPortMappingDescription>"})
    CHECK(add.body.find(part) != std::string::npos);
  CHECK(soap_delete_port_mapping("urn:x", protocol::tcp, 1).body.find("<NewProtocol>TCP</NewProtocol>") != std::string::npos);

  const auto ip = parse_soap_response(200, soap_ok("GetExternalIPAddress", "<NewExternalIPAddress>1.2.3.4</NewExternalIPAddress>"));
  CHECK(ip.ok);
  CHECK(ip.external_address == "1.2.3.4");
  const auto fault = parse_soap_response(500, soap_fault(718, "ConflictInMappingEntry"));
  CHECK_FALSE(fault.ok);
  CHECK(fault.error_code == 718);
  CHECK(fault.error == "718 ConflictInMappingEntry");
  const auto bare = parse_soap_response(503, "");
  CHECK_FALSE(bare.ok);
  CHECK(bare.error == "HTTP 503");
}

TEST_CASE("[upnp] the client: search, description, public address, mappings; 725 means a permanent lease; renewals; deletion", "[upnp]") {
  upnp_client c;
  c.map(protocol::tcp, 6881, at(0s));
  c.map(protocol::udp, 6881, at(0s));
  auto out = drain(c);
  REQUIRE(only<ssdp_search>(out).size() == 1);
  CHECK(only<http_request>(out).empty());

  c.ssdp_received(bytes_of(ssdp_answer), at(100ms));
  c.ssdp_received(bytes_of(ssdp_answer), at(100ms));  // a second answer: one description read
  out = drain(c);
  REQUIRE(only<http_request>(out).size() == 1);
  const auto get = only<http_request>(out)[0];
  CHECK(get.method == "GET");
  CHECK(get.url == "http://192.168.77.1:37537/rootDesc.xml");

  c.http_response(get.id, 200, description, "192.168.77.2", at(200ms));
  out = drain(c);
  REQUIRE(only<http_request>(out).size() == 1);
  const auto addr = only<http_request>(out)[0];
  CHECK(addr.url == "http://192.168.77.1:37537/ctl/IPConn");
  CHECK(addr.soap_action.find("#GetExternalIPAddress") != std::string::npos);
  c.http_response(addr.id, 200, soap_ok("GetExternalIPAddress", "<NewExternalIPAddress>1.2.3.4</NewExternalIPAddress>"), "", at(300ms));
  out = drain(c);
  REQUIRE(only<public_address>(out).size() == 1);
  CHECK(only<public_address>(out)[0].address == std::array<std::uint8_t, 4>{1, 2, 3, 4});
  auto tcp = only<http_request>(out).at(0);
  CHECK(tcp.body.find("<NewProtocol>TCP</NewProtocol>") != std::string::npos);
  CHECK(tcp.body.find("<NewInternalClient>192.168.77.2</NewInternalClient>") != std::string::npos);

  // A router that only takes permanent leases: asked again with 0, not renewed.
  c.http_response(tcp.id, 500, soap_fault(725, "OnlyPermanentLeasesSupported"), "", at(400ms));
  out = drain(c);
  tcp = only<http_request>(out).at(0);
  CHECK(tcp.body.find("<NewLeaseDuration>0</NewLeaseDuration>") != std::string::npos);
  c.http_response(tcp.id, 200, soap_ok("AddPortMapping"), "", at(500ms));
  out = drain(c);
  REQUIRE(only<mapped>(out).size() == 1);
  CHECK(only<mapped>(out)[0].lifetime == 0);
  const auto udp = only<http_request>(out).at(0);
  CHECK(udp.body.find("<NewProtocol>UDP</NewProtocol>") != std::string::npos);
  c.http_response(udp.id, 200, soap_ok("AddPortMapping"), "", at(600ms));
  out = drain(c);
  REQUIRE(only<mapped>(out).size() == 1);
  CHECK(only<mapped>(out)[0].lifetime == 7200);

  // The UDP mapping (7200 s) is renewed at half; the permanent one is not.
  REQUIRE(c.next_deadline() == at(600ms) + 3600s);
  c.on_timer(at(600ms + 3600s));
  out = drain(c);
  REQUIRE(only<http_request>(out).size() == 1);
  const auto renew = only<http_request>(out)[0];
  CHECK(renew.body.find("<NewProtocol>UDP</NewProtocol>") != std::string::npos);
  c.http_response(renew.id, 200, soap_ok("AddPortMapping"), "", at(3601s));
  out = drain(c);
  REQUIRE(only<mapped>(out).size() == 1);
  CHECK(only<mapped>(out)[0].renewal);

  c.unmap_all(at(3700s));
  std::size_t deleted = 0;
  out = drain(c);
  for (int i = 0; i < 2; ++i) {
    const auto del = only<http_request>(out).at(0);
    CHECK(del.soap_action.find("#DeletePortMapping") != std::string::npos);
    c.http_response(del.id, 200, soap_ok("DeletePortMapping"), "", at(3700s));
    out = drain(c);  // its confirmation, and the next deletion
    deleted += only<unmapped>(out).size();
  }
  CHECK(deleted == 2);
  CHECK(c.settled());
  CHECK_FALSE(c.next_deadline());
}

TEST_CASE("[upnp] unmap_all: what the request in flight gets granted is deleted too; a 725 is not asked again", "[upnp]") {
  upnp_client c;
  c.map(protocol::tcp, 6881, at(0s));
  c.map(protocol::udp, 6881, at(0s));
  drain(c);
  c.ssdp_received(bytes_of(ssdp_answer), at(0s));
  c.http_response(only<http_request>(drain(c)).at(0).id, 200, description, "192.168.77.2", at(0s));
  c.http_response(only<http_request>(drain(c)).at(0).id, 200, soap_ok("GetExternalIPAddress"), "", at(0s));
  const auto tcp = only<http_request>(drain(c)).at(0);  // TCP's AddPortMapping, in flight
  c.unmap_all(at(1s));
  CHECK(drain(c).empty());
  CHECK_FALSE(c.settled());
  SECTION("granted: deleted in turn; the UDP mapping, never asked, is not") {
    c.http_response(tcp.id, 200, soap_ok("AddPortMapping"), "", at(1s));
    auto out = drain(c);
    CHECK(only<mapped>(out).size() == 1);
    const auto del = only<http_request>(out).at(0);
    CHECK(del.soap_action.find("#DeletePortMapping") != std::string::npos);
    CHECK(del.body.find("<NewProtocol>TCP</NewProtocol>") != std::string::npos);
    c.http_response(del.id, 200, soap_ok("DeletePortMapping"), "", at(1s));
    out = drain(c);
    CHECK(only<unmapped>(out).size() == 1);
    CHECK(only<http_request>(out).empty());
  }
  SECTION("only permanent leases: nothing was granted, nothing is asked again") {
    c.http_response(tcp.id, 500, soap_fault(725, "OnlyPermanentLeasesSupported"), "", at(1s));
    CHECK(drain(c).empty());
  }
  SECTION("the request fails") {
    c.http_failed(tcp.id, "connection reset", at(1s));
    CHECK(only<failed>(drain(c)).size() == 1);
  }
  CHECK(c.settled());
}

TEST_CASE("[upnp] the client: no gateway answers, a refusal, a description without a WAN service", "[upnp]") {
  SECTION("three searches 2 s apart, then the mappings fail") {
    upnp_client c;
    c.map(protocol::tcp, 6881, at(0s));
    CHECK(only<ssdp_search>(drain(c)).size() == 1);
    c.on_timer(at(2s));
    c.on_timer(at(4s));
    CHECK(only<ssdp_search>(drain(c)).size() == 2);
    c.on_timer(at(6s));
    const auto f = only<failed>(drain(c));
    REQUIRE(f.size() == 1);
    CHECK(f[0].reason == "no UPnP gateway answered");
    CHECK_FALSE(c.next_deadline());
    c.map(protocol::udp, 1, at(7s));  // given up: nothing more is tried
    CHECK(drain(c).empty());
  }
  SECTION("a refusal fails that mapping with the router's reason") {
    upnp_client c;
    c.map(protocol::tcp, 80, at(0s));
    drain(c);
    c.ssdp_received(bytes_of(ssdp_answer), at(0s));
    c.http_response(only<http_request>(drain(c)).at(0).id, 200, description, "192.168.77.2", at(0s));
    c.http_response(only<http_request>(drain(c)).at(0).id, 500, soap_fault(501, "ActionFailed"), "", at(0s));  // no address: fine
    c.http_response(only<http_request>(drain(c)).at(0).id, 500, soap_fault(606, "Action not authorized"), "", at(0s));
    const auto f = only<failed>(drain(c));
    REQUIRE(f.size() == 1);
    CHECK(f[0].result == std::optional<std::uint16_t>(606));
    CHECK(f[0].reason == "606 Action not authorized");
  }
  SECTION("a description without a WAN connection service") {
    upnp_client c;
    c.map(protocol::tcp, 6881, at(0s));
    drain(c);
    c.ssdp_received(bytes_of(ssdp_answer), at(0s));
    c.http_response(only<http_request>(drain(c)).at(0).id, 200, "<root/>", "192.168.77.2", at(0s));
    const auto f = only<failed>(drain(c));
    REQUIRE(f.size() == 1);
    CHECK(f[0].reason.find("no WAN connection service") != std::string::npos);
  }
}
