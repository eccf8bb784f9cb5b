// Engine benchmark: moves a torrent between two sessions in memory, as fast as they
// go, and hashes with SHA-1 and SHA-256. The same program runs natively and as WebAssembly
// under Node (scripts/bench.sh compares them). It is a host, so it may read clocks.
//
//   engine_bench [--mib N] [--json FILE] [--hash-only]
//
// --hash-only measures the hashes alone (tests/bench/size_bench.mjs compares builds with it).
//
// The seeder's bytes are synthesised from their offset and the leecher keeps only a
// count, so 1 GiB moves in a few MiB of memory (WebAssembly has 2 GiB at most).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <variant>

#include "bencode/bencode.hpp"
#include "base/crypto.hpp"
#include "metainfo/metainfo.hpp"
#include "session/session.hpp"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#endif

namespace {

using wall_clock = std::chrono::steady_clock;

// Deterministic content: each aligned 8-byte word is a mix (splitmix64) of its index.
std::uint64_t word_at(std::uint64_t index) {
  std::uint64_t z = index + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void synthesize(std::int64_t offset, std::uint8_t* out, std::size_t length) {
  auto pos = static_cast<std::uint64_t>(offset);
  const std::uint64_t end = pos + length;
  while (pos < end) {
    const std::uint64_t word = word_at(pos >> 3);
    const std::size_t skip = pos & 7;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(8 - skip, end - pos));
    std::memcpy(out, reinterpret_cast<const std::uint8_t*>(&word) + skip, n);
    out += n;
    pos += n;
  }
}

// The process's CPU time, which the other processes of a shared machine do not stretch
// (wall time they do, several-fold). Under Emscripten std::clock() reads the wall clock:
// Node's process.cpuUsage() instead.
#ifdef __EMSCRIPTEN__
EM_JS(double, node_cpu_seconds, (), {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
});
double cpu_seconds() { return node_cpu_seconds(); }
#else
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }
#endif

// Builds the torrent (hashing every piece, which is also the SHA-1 measurement).
wt::metainfo make_torrent(std::int64_t total, std::int64_t piece_length, double& sha1_mib_s) {
  std::string hashes;
  wt::byte_buffer piece(static_cast<std::size_t>(piece_length));
  double hashing = 0;
  for (std::int64_t off = 0; off < total; off += piece_length) {
    const auto len = static_cast<std::size_t>(std::min(piece_length, total - off));
    synthesize(off, piece.data(), len);
    const auto start = wall_clock::now();
    const wt::sha1_digest d = wt::sha1(wt::byte_view(piece.data(), len));
    hashing += std::chrono::duration<double>(wall_clock::now() - start).count();
    hashes.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  sha1_mib_s = static_cast<double>(total) / (1 << 20) / hashing;
  wt::bencode::dict info;
  info["length"] = wt::bencode::value(total);
  info["name"] = "bench.bin";
  info["piece length"] = wt::bencode::value(piece_length);
  info["pieces"] = std::move(hashes);
  wt::bencode::dict top;
  top["info"] = std::move(info);
  const wt::byte_buffer bytes = wt::bencode::encode(wt::bencode::value(std::move(top)));
  auto m = wt::parse_metainfo(bytes);
  if (!m) {
    std::fprintf(stderr, "bench torrent: %s\n", m.err().message().c_str());
    std::exit(1);
  }
  return std::move(m).value();
}

// Hash throughput over `mib` MiB of 256 KiB pieces, per CPU second, best of three passes
// (the least disturbed by other processes): one-shot SHA-1 and SHA-256, and SHA-1 fed in
// 16 KiB blocks, as pieces arrive from peers.
struct hash_speeds {
  double sha1 = 0, sha1_blocks = 0, sha256 = 0;
};

hash_speeds measure_hashes(std::int64_t mib) {
  constexpr std::size_t piece = 256 << 10, block = 16 << 10, distinct = 16;
  wt::byte_buffer data(distinct * piece);  // 4 MiB of distinct pieces, cycled through
  synthesize(0, data.data(), data.size());
  const auto pieces = static_cast<std::size_t>(mib) * ((1 << 20) / piece);
  auto rate = [&](auto&& hash_piece) {
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {
      const double start = cpu_seconds();
      for (std::size_t i = 0; i < pieces; ++i) {
        hash_piece(wt::byte_view(data.data() + (i % distinct) * piece, piece));
      }
      const double s = cpu_seconds() - start;
      best = std::max(best, static_cast<double>(mib) / s);
    }
    return best;
  };
  volatile std::uint8_t sink = 0;  // the digests are used, so no hashing can be skipped
  wt::sha1_hasher hasher;
  hash_speeds r;
  r.sha1 = rate([&](wt::byte_view p) { sink = sink ^ wt::sha1(p)[0]; });
  r.sha1_blocks = rate([&](wt::byte_view p) {
    for (std::size_t off = 0; off < p.size(); off += block) hasher.update(p.subspan(off, block));
    sink = sink ^ hasher.finish()[0];
  });
  r.sha256 = rate([&](wt::byte_view p) { sink = sink ^ wt::sha256(p)[0]; });
  return r;
}

struct transfer_result {
  double seconds;
  double cpu;
  std::uint64_t bytes;
};

transfer_result transfer(const wt::metainfo& m) {
  const auto origin = wall_clock::now();
  auto now = [&] {
    return wt::time_point(std::chrono::duration_cast<wt::duration>(wall_clock::now() - origin));
  };
  wt::session_settings s1, s2;
  s1.seed = 1;
  s2.seed = 2;
  wt::session seeder(s1), leecher(s2);
  wt::add_torrent_params seed_params;
  seed_params.seed = true;
  const wt::torrent_id st = seeder.add_torrent(m, seed_params, now()).value();
  const wt::torrent_id lt = leecher.add_torrent(m, {}, now()).value();
  leecher.add_peer(lt, wt::wire::make_endpoint_v4({127, 0, 0, 1}, 6881), now());
  (void)st;

  // Connection ids on each side, once the leecher asks to connect.
  std::optional<wt::connection_id> at_seeder, at_leecher;
  bool finished = false;
  std::uint64_t received = 0;
  const double cpu_start = cpu_seconds();
  const auto start = wall_clock::now();

  auto pump_storage = [&](wt::session& s, bool is_seeder) {
    bool any = false;
    while (auto r = s.poll_storage()) {
      any = true;
      wt::storage_completion c;
      c.id = r->id;
      if (r->op == wt::storage_op::read) {
        if (!is_seeder) std::abort();  // the leecher serves nothing here
        c.data.resize(r->length);
        synthesize(r->offset, c.data.data(), r->length);
      } else if (r->op == wt::storage_op::write) {
        received += r->data.size();
      }
      s.storage_completed(std::move(c), now());
    }
    return any;
  };

  while (!finished) {
    bool any = false;
    while (auto c = leecher.poll_connect()) {
      any = true;
      at_leecher = c->connection;
      at_seeder = seeder.accept_connection(wt::wire::make_endpoint_v4({127, 0, 0, 2}, 50000), now());
      leecher.connection_opened(*at_leecher, now());
    }
    while (auto t = seeder.poll_transmit()) {
      any = true;
      leecher.bytes_received(*at_leecher, t->data, now());
    }
    while (auto t = leecher.poll_transmit()) {
      any = true;
      seeder.bytes_received(*at_seeder, t->data, now());
    }
    any |= pump_storage(seeder, true);
    any |= pump_storage(leecher, false);
    while (auto e = leecher.poll_event()) {
      if (std::holds_alternative<wt::torrent_finished_event>(*e)) finished = true;
      if (auto* w = std::get_if<wt::warning_event>(&*e)) std::fprintf(stderr, "leecher warning: %s\n", w->message.c_str());
    }
    while (auto e = seeder.poll_event()) {
      if (auto* w = std::get_if<wt::warning_event>(&*e)) std::fprintf(stderr, "seeder warning: %s\n", w->message.c_str());
    }
    if (seeder.poll_close() || leecher.poll_close()) {
      std::fprintf(stderr, "a connection closed during the benchmark\n");
      std::exit(1);
    }
    const auto t = now();
    for (wt::session* s : {&seeder, &leecher}) {
      if (auto d = s->next_deadline(); d && *d <= t) s->on_timer(t);
    }
    (void)any;
  }
  const double seconds = std::chrono::duration<double>(wall_clock::now() - start).count();
  return {seconds, cpu_seconds() - cpu_start, received};
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t mib = 1024;
  const char* json_path = nullptr;
  bool hash_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mib") == 0 && i + 1 < argc) mib = std::atoll(argv[++i]);
    else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) json_path = argv[++i];
    else if (std::strcmp(argv[i], "--hash-only") == 0) hash_only = true;
    else {
      std::fprintf(stderr, "usage: engine_bench [--mib N] [--json FILE] [--hash-only]\n");
      return 2;
    }
  }
  const std::int64_t total = mib << 20;
  const std::int64_t piece_length = wt::default_piece_length(total);
#ifdef __EMSCRIPTEN__
  const char* build = "wasm";
#else
  const char* build = "native";
#endif
  // The hashes alone on at most 256 MiB (3 passes each): enough for a steady rate.
  const std::int64_t hash_mib = std::min<std::int64_t>(mib, 256);
  std::printf("[bench %s] hashing %lld MiB of 256 KiB pieces, 3 passes, with each hash\n", build,
              static_cast<long long>(hash_mib));
  std::fflush(stdout);
  const hash_speeds h = measure_hashes(hash_mib);
  std::printf("[bench %s] sha1: %.0f MiB/s, sha1 in 16 KiB blocks: %.0f MiB/s, sha256: %.0f MiB/s\n",
              build, h.sha1, h.sha1_blocks, h.sha256);
  if (hash_only) {
    if (json_path) {
      FILE* f = std::fopen(json_path, "w");
      if (!f) {
        std::perror(json_path);
        return 1;
      }
      std::fprintf(f,
                   "{\"build\": \"%s\", \"mib\": %lld, \"sha1_mib_per_s\": %.1f, "
                   "\"sha1_blocks_mib_per_s\": %.1f, \"sha256_mib_per_s\": %.1f}\n",
                   build, static_cast<long long>(hash_mib), h.sha1, h.sha1_blocks, h.sha256);
      std::fclose(f);
    }
    return 0;
  }
  std::printf("[bench %s] hashing %lld MiB to make the torrent (pieces of %lld KiB)\n", build,
              static_cast<long long>(mib), static_cast<long long>(piece_length >> 10));
  std::fflush(stdout);
  double sha1_mib_s = 0;
  const wt::metainfo m = make_torrent(total, piece_length, sha1_mib_s);
  std::printf("[bench %s] sha1 making the torrent: %.0f MiB/s\n", build, sha1_mib_s);
  std::printf("[bench %s] moving %lld MiB seeder -> leecher in memory\n", build,
              static_cast<long long>(mib));
  std::fflush(stdout);
  const transfer_result r = transfer(m);
  if (r.bytes != static_cast<std::uint64_t>(total)) {
    std::fprintf(stderr, "leecher stored %llu bytes, expected %lld\n",
                 static_cast<unsigned long long>(r.bytes), static_cast<long long>(total));
    return 1;
  }
  const double mib_s = static_cast<double>(mib) / r.seconds;
  const double cpu_per_gib = r.cpu / (static_cast<double>(mib) / 1024.0);
  std::printf("[bench %s] transfer: %.0f MiB/s, %.2f CPU-s per GiB (%.2f s wall)\n", build, mib_s,
              cpu_per_gib, r.seconds);
  if (json_path) {
    FILE* f = std::fopen(json_path, "w");
    if (!f) {
      std::perror(json_path);
      return 1;
    }
    std::fprintf(f,
                 "{\"build\": \"%s\", \"mib\": %lld, \"piece_length\": %lld, \"sha1_mib_per_s\": %.1f, "
                 "\"sha1_blocks_mib_per_s\": %.1f, \"sha256_mib_per_s\": %.1f, "
                 "\"transfer_mib_per_s\": %.1f, \"transfer_seconds\": %.3f, \"cpu_seconds_per_gib\": %.3f}\n",
                 build, static_cast<long long>(mib), static_cast<long long>(piece_length), sha1_mib_s,
                 h.sha1_blocks, h.sha256, mib_s, r.seconds, cpu_per_gib);
    std::fclose(f);
  }
  return 0;
}
