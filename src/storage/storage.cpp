#include "storage/storage.hpp"

#include <algorithm>
#include <cstring>

namespace wt {

storage_completion memory_storage::complete(const storage_request& r) {
  storage_completion c;
  c.id = r.id;
  switch (r.op) {
    case storage_op::write:
      if (r.offset < 0) {
        c.ok = false;
        break;
      }
      if (r.verify) {
        c.digest = sha1(r.data);
        if (*c.digest != *r.verify) {
          c.data = r.data;
          break;
        }
      }
      write_at(r.torrent, r.offset, r.data);
      break;
    case storage_op::read: {
      auto data = read_at(r.torrent, r.offset, r.length);
      if (!data) {
        c.ok = false;
        break;
      }
      c.data = std::move(*data);
      break;
    }
    case storage_op::mark_complete:
      mark_complete(r.torrent, r.piece);
      break;
  }
  return c;
}

void memory_storage::write_at(torrent_id t, std::int64_t offset, byte_view data) {
  if (offset < 0) return;
  auto& bytes = torrents_[t].bytes;
  const auto start = static_cast<std::size_t>(offset);
  if (bytes.size() < start + data.size()) bytes.resize(start + data.size());
  if (!data.empty()) std::memcpy(bytes.data() + start, data.data(), data.size());
}

std::optional<byte_buffer> memory_storage::read_at(torrent_id t, std::int64_t offset,
                                                   std::uint32_t length) const {
  auto it = torrents_.find(t);
  if (it == torrents_.end() || offset < 0) return std::nullopt;
  const auto start = static_cast<std::size_t>(offset);
  const auto& bytes = it->second.bytes;
  if (start > bytes.size() || bytes.size() - start < length) return std::nullopt;
  return byte_buffer(bytes.begin() + static_cast<std::ptrdiff_t>(start),
                     bytes.begin() + static_cast<std::ptrdiff_t>(start + length));
}

void memory_storage::mark_complete(torrent_id t, piece_index p) {
  torrents_[t].complete[p.value] = true;
}

bool memory_storage::is_complete(torrent_id t, piece_index p) const {
  auto it = torrents_.find(t);
  return it != torrents_.end() && it->second.complete.contains(p.value);
}

byte_view memory_storage::contents(torrent_id t) const {
  auto it = torrents_.find(t);
  if (it == torrents_.end()) return {};
  return it->second.bytes;
}

void memory_storage::remove(torrent_id t) { torrents_.erase(t); }

}  // namespace wt
