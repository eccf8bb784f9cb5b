// Fuzzes the WebSocket tracker client with arbitrary tracker messages. Input layout:
// messages separated by NUL bytes; in each, "%O" is replaced by the JSON-escaped
// Latin-1 form of a pending offer id (so answers can match) and a message that is
// exactly "CLOSE" drops the socket (the client then reconnects on its timer).
// The client has one torrent, info_hash "HHHHHHHHHHHHHHHHHHHH", peer_id "P...P".
// Properties: no crash, no exception; everything the client sends is a JSON object;
// every create_offers/answer_offer request can be answered; the binary-string
// converters round-trip.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "tracker/ws_tracker.hpp"

namespace ws = wt::ws_tracker;
using namespace std::chrono_literals;

namespace {

const std::string url = "ws://fuzz.test/announce";

ws::id20 filled(char c) {
  ws::id20 id{};
  id.fill(static_cast<std::uint8_t>(c));
  return id;
}

void check(bool ok) {
  if (!ok) std::abort();
}

// Answers the client's requests the way a host would; returns a pending offer id.
void pump(ws::client& c, wt::time_point now, std::optional<ws::id20>& some_offer) {
  while (auto o = c.poll()) {
    if (auto* send = std::get_if<ws::send_text>(&*o)) {
      const auto m = nlohmann::json::parse(send->text, nullptr, false);
      check(!m.is_discarded() && m.is_object());
    } else if (auto* open = std::get_if<ws::open_socket>(&*o)) {
      c.socket_opened(open->url, now);
    } else if (auto* req = std::get_if<ws::create_offers>(&*o)) {
      std::vector<ws::created_offer> offers;
      for (const auto& id : req->offer_ids) offers.push_back({id, "v=0\r\n"});
      if (!req->offer_ids.empty()) some_offer = req->offer_ids.front();
      c.offers_created(req->url, req->info_hash, offers, now);
    } else if (auto* offer = std::get_if<ws::answer_offer>(&*o)) {
      check(c.answer_created(offer->url, offer->info_hash, offer->peer_id, offer->offer_id,
                             "answer " + offer->sdp));
    }
  }
}

void latin1_properties(std::string_view text) {
  auto bytes = ws::from_latin1(text);
  if (bytes) check(ws::to_latin1(*bytes) == text);
  const std::string encoded = ws::to_latin1(wt::as_bytes(text));
  auto back = ws::from_latin1(encoded);
  check(back.ok() && wt::as_chars(*back) == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  latin1_properties(input.substr(0, 256));

  ws::client c({.seed = 1, .max_message_size = 1 << 16});
  ws::torrent_params p;
  p.info_hash = filled('H');
  p.peer_id = filled('P');
  p.trackers = {url};
  p.stats.left = 1000;
  wt::time_point now{};
  std::optional<ws::id20> some_offer;
  check(c.add_torrent(p, now));
  pump(c, now, some_offer);

  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find('\0', start);
    if (end == std::string_view::npos) end = input.size();
    std::string message(input.substr(start, end - start));
    start = end + 1;

    if (message == "CLOSE") {
      c.socket_closed(url, now);
    } else {
      if (some_offer) {
        std::string id = nlohmann::json(ws::to_latin1(*some_offer)).dump();
        id = id.substr(1, id.size() - 2);
        for (std::size_t at = message.find("%O"); at != std::string::npos;
             at = message.find("%O", at + id.size())) {
          message.replace(at, 2, id);
        }
      }
      c.text_received(url, message, now);
    }
    pump(c, now, some_offer);
    now += 7s;
    if (const auto next = c.next_deadline(); next && *next < now) now = *next;
    c.on_timer(now);
    pump(c, now, some_offer);
  }
  c.completed(p.info_hash, now);
  check(c.remove_torrent(p.info_hash, now));
  pump(c, now, some_offer);
  now += 1h;  // past the close linger
  c.on_timer(now);
  pump(c, now, some_offer);
  check(c.pending_offers() == 0);
  check(!c.next_deadline().has_value());
  return 0;
}
