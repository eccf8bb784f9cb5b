// Asynchronous storage: the session emits requests (write, read, mark complete),
// the host performs them wherever it keeps data (memory, IndexedDB, OPFS, files) and
// hands back completions. Deliberately tiny, after anacrolix/torrent's storage:
// write at, read at, mark complete. Pieces up to session_settings::stream_piece_bytes
// are written whole once their hash matched. Longer pieces are streamed: their blocks are
// written as they arrive (`unverified` writes), hashed as they come, and marked complete
// once the whole piece matched; such a piece is held only after its mark_complete. The
// session only reads pieces it has verified, except to read back blocks of a streamed
// piece it wrote itself (`unverified` reads), which never go to a peer or a user.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "base/bytes.hpp"
#include "base/crypto.hpp"
#include "metainfo/metainfo.hpp"

namespace wt {

// Integer handles the session hands out.
using torrent_id = strong_id<struct torrent_id_tag>;
using connection_id = strong_id<struct connection_id_tag>;
using storage_request_id = strong_id<struct storage_request_id_tag, std::uint64_t>;

enum class storage_op : std::uint8_t {
  write,          // store `data` at `offset`
  read,           // return `length` bytes at `offset`
  // The piece is verified and every write of it completed: a store that keeps pieces
  // written in parts (`unverified` writes) counts it held from now on; otherwise a no-op.
  mark_complete,
};

struct storage_request {
  storage_request_id id;
  torrent_id torrent;
  storage_op op = storage_op::read;
  piece_index piece;
  std::uint32_t piece_offset = 0;  // within the piece
  std::int64_t offset = 0;         // in the torrent's byte stream (piece * piece_length + piece_offset)
  std::uint32_t length = 0;        // bytes to read, or data.size() for a write
  byte_buffer data;                // write only
  // read only: the session::read() this read serves (0: a block for a peer, or a piece
  // read back to check it). A host may hand such bytes to its user itself and complete
  // the request without data (one copy less): the session only needs to know it is done.
  std::uint64_t user_read = 0;
  // read only: the session needs only the piece's SHA-1 (the resume check). A host that
  // hashes faster than the engine (a browser's own SHA-1, off the main thread) may complete
  // with `digest` and no data.
  bool digest_only = false;
  // A write of part of a streamed piece that is not verified yet: store the bytes at
  // `offset`, but do not count the piece held (mark_complete follows if it verifies; a
  // piece whose hash fails is written again over these bytes). A read of such bytes: the
  // session reads back what it wrote to hash it; a host must serve it although the
  // piece is not held (and must not hand it to anyone).
  bool unverified = false;
  // A write of a whole piece not verified yet (session_settings::host_hashes_pieces): its
  // expected SHA-1. The host hashes `data` on its way to the store, writes it only when the
  // digest equals this one, and completes with the digest either way; when it differs, it
  // writes nothing and hands `data` back in the completion (smart ban takes the digests of
  // its blocks from it). The session judges the digest, not the host.
  std::optional<sha1_digest> verify = std::nullopt;
};

struct storage_completion {
  storage_request_id id;
  bool ok = true;
  // Reads: exactly `length` bytes when ok. Verify writes whose digest differs: the bytes
  // that were not written.
  byte_buffer data;
  std::optional<sha1_digest> digest;  // digest_only reads (instead of the data), verify writes
};

// Storage in memory: one growable byte array per torrent. Hosts and the simulator
// use it to complete the session's requests.
class memory_storage {
 public:
  // Performs the request and returns its completion.
  storage_completion complete(const storage_request& r);

  // Direct access: read at / write at / mark complete.
  void write_at(torrent_id t, std::int64_t offset, byte_view data);
  // nullopt when the range was never written.
  std::optional<byte_buffer> read_at(torrent_id t, std::int64_t offset, std::uint32_t length) const;
  void mark_complete(torrent_id t, piece_index p);
  bool is_complete(torrent_id t, piece_index p) const;
  // Everything stored for the torrent (empty when nothing).
  byte_view contents(torrent_id t) const;
  void remove(torrent_id t);

 private:
  struct torrent_data {
    byte_buffer bytes;
    std::map<std::uint32_t, bool> complete;
  };
  std::map<torrent_id, torrent_data> torrents_;
};

}  // namespace wt
