// A hostile peer: after a valid handshake, whatever bytes the fuzzer makes arrive on
// a connection to a session, split into chunks the input chooses, with time moving
// on between them. The session must never crash, hang or write an unverified piece;
// it may close the connection. The first input byte picks seeding or leeching (bit 0)
// and what else is on: an upload limit (bit 1), a download limit (bit 2), critical
// and deselected pieces (bit 3), the torrent's own limits (bit 4), pieces of 20000 bytes
// (last block of each short) instead of 16 KiB (bit 5), a recheck of the store (bit 6),
// a held extension handshake whose queued messages the peer's bytes fill until the hold
// ends (bit 7).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "metainfo/metainfo.hpp"
#include "session/session.hpp"
#include "storage/storage.hpp"

namespace {

struct torrent_fixture {
  wt::byte_buffer data;
  wt::metainfo meta;
  explicit torrent_fixture(std::int64_t piece_len) {
    data.resize(static_cast<std::size_t>(3 * piece_len + 100));
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 13 + 5);
    const wt::input_file f{"f.bin", data};
    wt::create_options o;
    o.piece_length = piece_len;
    auto bytes = wt::create_torrent(std::span<const wt::input_file>(&f, 1), o);
    if (!bytes) std::abort();
    auto m = wt::parse_metainfo(*bytes);
    if (!m) std::abort();
    meta = std::move(m).value();
  }
};

const torrent_fixture& fixture(bool odd) {
  static const torrent_fixture block_pieces(16 * 1024);
  static const torrent_fixture odd_pieces(20000);
  return odd ? odd_pieces : block_pieces;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  if (size < 1) return 0;
  const auto& fx = fixture((input[0] & 32) != 0);
  const bool seeding = (input[0] & 1) != 0;
  std::span<const std::uint8_t> rest(input + 1, size - 1);

  wt::session_settings settings;
  settings.seed = 7;
  if (input[0] & 2) settings.upload_rate_limit = 20000;
  if (input[0] & 4) settings.download_rate_limit = 20000;
  if (input[0] & 128) settings.extension_handshake_hold = std::chrono::seconds(2);
  settings.peer_messages_at_connect = wt::all_peer_messages;  // every message reported, blocks too
  wt::session s(settings);
  wt::memory_storage storage;
  wt::time_point now{};
  wt::add_torrent_params params;
  params.seed = seeding;
  const wt::torrent_id t = s.add_torrent(fx.meta, params, now).value();
  if (seeding) storage.write_at(t, 0, fx.data);
  if (input[0] & 8) {
    s.set_piece_priority(t, {wt::piece_index{0}, wt::piece_index{0}}, 0, now);
    s.add_critical_pieces(t, {wt::piece_index{2}, wt::piece_index{3}}, now);
  }
  if (input[0] & 16) {
    s.set_torrent_upload_limit(t, 15000, now);
    s.set_torrent_download_limit(t, 15000, now);
  }
  const wt::connection_id c = s.accept_connection(wt::wire::make_endpoint_v4({10, 0, 0, 1}, 1), now);

  auto drain = [&] {
    while (s.poll_transmit() || s.poll_close() || s.poll_connect() || s.poll_event()) {
    }
    while (auto r = s.poll_storage()) {
      // Only verified pieces may be written: they must equal the torrent's bytes.
      if (!seeding && r->op == wt::storage_op::write) {
        const auto at = static_cast<std::size_t>(r->offset);
        if (at + r->data.size() > fx.data.size() ||
            !std::equal(r->data.begin(), r->data.end(), fx.data.begin() + static_cast<std::ptrdiff_t>(at)))
          std::abort();
      }
      s.storage_completed(storage.complete(*r), now);
    }
  };

  wt::byte_buffer hs;
  wt::wire::peer_id id{};
  id.fill('f');
  wt::wire::encode_to(wt::wire::make_handshake(fx.meta.info_hash, id, {true, true, false}), hs);
  s.bytes_received(c, hs, now);
  drain();
  if (input[0] & 64) {
    s.recheck_torrent(t, now);
    drain();
  }

  // Each chunk: one length byte, then that many bytes; time moves 1 s per chunk.
  while (!rest.empty()) {
    const std::size_t n = std::min<std::size_t>(rest[0], rest.size() - 1);
    s.bytes_received(c, rest.subspan(1, n), now);
    rest = rest.subspan(1 + n);
    drain();
    // The peer's pieces as reported never exceed the torrent's.
    if (auto d = s.peer_details(c); d && d->pieces.size() > (fx.meta.piece_count() + 7) / 8) std::abort();
    now += std::chrono::seconds(1);
    if (auto d = s.next_deadline(); d && *d <= now) s.on_timer(now);
    drain();
  }
  s.connection_closed(c, now);
  drain();
  return 0;
}
