// A deterministic swarm simulator: N sessions joined by in-memory byte-stream links
// with latency, bandwidth, message chunking and connection drops, on one virtual
// clock that jumps to the next deadline. Every random choice comes from one seed,
// so a run is reproducible from it. No protocol logic lives here: the simulator
// only moves bytes, opens and closes connections, completes storage requests with
// memory_storage, and answers web seeds' HTTP requests from fake HTTP servers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "session/session.hpp"
#include "storage/storage.hpp"

namespace wt::sim {

using namespace std::chrono_literals;

struct link_config {
  duration latency = 20ms;       // one way
  double bandwidth = 0;          // bytes per second per direction; 0 = unlimited
  // Each write is split into chunks of 1..max_chunk bytes (0: written as is), as a
  // data channel delivers messages; chunks that arrive together are merged when
  // merge_chunks is set.
  std::size_t max_chunk = 0;
  bool merge_chunks = false;
  // Mean lifetime of a connection before the link drops it (0: never).
  duration mean_lifetime{0};
  // An accepted connection comes from an ephemeral port, as over TCP, not from the
  // dialler's listen port: only its extension handshake tells where it listens.
  bool ephemeral_ports = false;
};

struct node_config {
  session_settings settings;   // settings.seed is derived from the swarm's seed
  double upload_rate = 0;      // bytes per second over all the node's links; 0 = unlimited
  bool corrupt_reads = false;  // storage hands out corrupted data (a bad peer)
  // Storage never answers a read: the node claims its pieces, unchokes, takes requests and
  // never sends a block (a peer that lies, or hangs).
  bool silent_reads = false;
  // Storage writes complete one after another at this many bytes per second (a slow
  // store); 0: at once.
  double write_rate = 0;
  // Reads that only need the piece's SHA-1 are answered with it (as a browser host does).
  bool digest_reads = false;
};

// How a fake HTTP server answers a range request.
enum class http_mode {
  honest,         // 206, the exact Content-Range, the bytes
  not_found,      // 404
  ignores_range,  // 200 with the whole file
  short_body,     // 206 with the right headers, a body 100 bytes short
  long_body,      // 206 with the right headers, 100 bytes more than asked
  wrong_bytes,    // 206, one byte of the body flipped
  stall,          // 206, half the body, then nothing
  drip,           // 206, half the body, then a byte a second for 2 minutes, then nothing
};
struct web_server_config {
  http_mode mode = http_mode::honest;
  duration latency = 20ms;         // before the response
  double bandwidth = 0;            // bytes per second over all its responses; 0 = unlimited
  std::size_t chunk = 16 * 1024;   // body bytes per http_data call
};

class swarm {
 public:
  explicit swarm(std::uint64_t seed, link_config link = {});
  ~swarm();

  std::size_t add_node(node_config cfg = {});
  // The node leaves: its session is destroyed and the other ends see their
  // connections close.
  void remove_node(std::size_t i);
  bool alive(std::size_t i) const { return nodes_[i].alive; }
  std::size_t size() const { return nodes_.size(); }

  session& at(std::size_t i) { return *nodes_[i].s; }
  memory_storage& storage(std::size_t i) { return nodes_[i].storage; }
  const std::vector<session_event>& events(std::size_t i) const { return nodes_[i].events; }
  wire::endpoint endpoint(std::size_t i) const;
  std::uint64_t bytes_sent(std::size_t i) const { return nodes_[i].bytes_sent; }
  // Connections the node asked to open.
  std::size_t dials(std::size_t i) const { return nodes_[i].dials; }
  // The most bytes of storage writes the node had handed out and not yet seen complete.
  std::uint64_t max_unwritten(std::size_t i) const { return nodes_[i].max_unwritten; }
  // Storage requests of the node, counted: reads of bytes of a streamed piece it wrote and
  // has not verified (storage_request::unverified), and reads for a peer or a user that
  // touched a piece its store had not marked complete (a node whose pieces a test wrote
  // into its store directly, as a seeder's, counts those too).
  std::uint64_t unverified_reads(std::size_t i) const { return nodes_[i].unverified_reads; }
  std::uint64_t reads_of_incomplete(std::size_t i) const { return nodes_[i].reads_of_incomplete; }

  time_point now() const { return now_; }
  // Runs until done() is true (checked after each step) or virtual time reaches
  // `limit`. Returns done().
  bool run_until(const std::function<bool()>& done, time_point limit);
  // Advances to the next event and processes everything due then. False when idle.
  bool step(time_point limit);

  std::uint64_t random() { return next_random(); }

  // An HTTP server holding files by URL (exact match). A URL no server holds gets a 404.
  std::size_t add_web_server(std::map<std::string, byte_buffer> files, web_server_config cfg = {});
  void set_web_mode(std::size_t server, http_mode mode) { servers_[server].cfg.mode = mode; }
  // Body bytes the server delivered (not counting what was cancelled before arriving),
  // and the requests it got.
  std::uint64_t web_bytes_served(std::size_t server) const { return servers_[server].served; }
  std::size_t web_requests(std::size_t server) const { return servers_[server].requests; }
  // Every range a server was asked for, in order: (url, first byte).
  const std::vector<std::pair<std::string, std::int64_t>>& web_log(std::size_t server) const {
    return servers_[server].log;
  }

 private:
  struct node {
    std::unique_ptr<session> s;
    memory_storage storage;
    node_config cfg;
    bool alive = true;
    std::vector<session_event> events;
    time_point up_free_at{};
    std::uint64_t bytes_sent = 0;
    std::size_t dials = 0;
    time_point store_free_at{};  // write_rate: when the store finishes its queued writes
    std::uint64_t unwritten = 0, max_unwritten = 0;
    std::uint64_t unverified_reads = 0, reads_of_incomplete = 0;
  };
  struct pipe {
    time_point free_at{};
    time_point last_arrival{};
  };
  struct connection {
    std::size_t node[2] = {0, 0};
    connection_id id[2];
    bool open[2] = {false, false};  // side knows the connection
    pipe pipes[2];                  // pipes[k]: from side k to side 1 - k
  };
  struct web_server {
    std::map<std::string, byte_buffer> files;
    web_server_config cfg;
    time_point free_at{};
    std::uint64_t served = 0;
    std::size_t requests = 0;
    std::vector<std::pair<std::string, std::int64_t>> log;
  };
  enum class ev_kind : std::uint8_t { deliver, open, close, drop, sent, stored, http_response, http_data, http_done };
  struct ev {
    time_point at;
    std::uint64_t seq = 0;
    ev_kind kind = ev_kind::deliver;
    std::size_t conn = 0;
    int to_side = 0;
    byte_buffer data;
    std::size_t bytes = 0;  // sent: how many
    storage_request request;  // stored: the write that completes (conn = the node)
    // http_*: conn = the node, `http` the request id, `server` (or npos) for counting
    std::uint64_t http = 0;
    std::size_t server = 0;
    int status = 0;
    std::string content_range;
    std::optional<std::int64_t> content_length;
    bool operator>(const ev& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  std::uint64_t next_random();
  void push(ev e);
  void pump(std::size_t n);
  void send(std::size_t n, connection_id c, byte_buffer data);
  void deliver(ev& e);
  void close_side(std::size_t conn, int side, bool tell);
  void serve_http(std::size_t at_node, const http_request& r);
  void deliver_http(ev& e);

  link_config link_;
  std::uint64_t rng_state_;
  std::vector<node> nodes_;
  std::vector<connection> conns_;
  std::map<std::pair<std::size_t, std::uint32_t>, std::pair<std::size_t, int>> by_node_conn_;
  std::priority_queue<ev, std::vector<ev>, std::greater<>> queue_;
  std::uint64_t seq_ = 0;
  time_point now_{};
  std::vector<web_server> servers_;
  std::set<std::pair<std::size_t, std::uint64_t>> http_cancelled_;  // (node, request id)
};

// A torrent for tests: random content from `seed`.
struct test_torrent {
  metainfo meta;
  byte_buffer data;
};
test_torrent make_test_torrent(std::int64_t size, std::int64_t piece_length, std::uint64_t seed,
                               std::string name = "sim.bin");

// --- Shared by the scenario tests -------------------------------------------------------
inline constexpr std::int64_t KiB = 1024;
inline constexpr std::int64_t MiB = 1024 * KiB;
// The node knows the torrent and has finished it.
bool finished(swarm& net, std::size_t node, torrent_id t);
// `tt` added to the node as a seed, its content in the node's store (params.seed is set).
torrent_id add_seed(swarm& net, std::size_t node, const test_torrent& tt, add_torrent_params params = {});
// `count` new nodes of `cfg` that add the torrent knowing only the node `peer` (add_peer).
struct leecher_nodes {
  std::vector<std::size_t> nodes;
  std::vector<torrent_id> ids;  // ids[i]: the torrent on nodes[i]
};
leecher_nodes add_leechers(swarm& net, const test_torrent& tt, const node_config& cfg, int count, std::size_t peer,
                           const add_torrent_params& params = {});
bool same_bytes(byte_view a, byte_view b);
template <class E>
std::size_t count_events(const swarm& net, std::size_t node) {
  std::size_t n = 0;
  for (const auto& e : net.events(node))
    if (std::holds_alternative<E>(e)) ++n;
  return n;
}

}  // namespace wt::sim
