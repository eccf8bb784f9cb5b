// The DHT routing table (BEP 5): k-buckets of 8 nodes over the 160-bit id space, of one
// address family (an IPv6 node keeps a table of its own, BEP 32).
// Bucket i holds nodes sharing exactly i leading bits with our id, except the last
// bucket, which holds every node sharing at least that many: when it is full it splits
// (up to 160 buckets), which keeps the table detailed near our own id and coarse far
// from it. A full bucket that cannot split keeps a few replacement candidates, used
// when one of its nodes turns bad.
//
// Only nodes that answered one of our queries are inserted (a datagram's source
// address can be forged; an answer to our random transaction id cannot, off path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/clock.hpp"
#include "dht/krpc.hpp"

namespace wt::dht {

struct routing_settings {
  std::size_t bucket_size = 8;        // k
  std::size_t replacements = 8;       // candidates kept per full bucket
  duration questionable_after = std::chrono::minutes(15);
  int bad_after_failures = 3;         // queries in a row without an answer
  bool ipv6 = false;                  // the family of the nodes it holds (BEP 32: one table each)
  // In a full bucket, a node that answered with an id valid for its address (BEP 42) takes
  // the place of one whose id is not, which waits among the replacements (libtorrent's
  // prefer_verified_node_ids, on by default there too).
  bool prefer_secure_ids = true;
};

enum class node_state : std::uint8_t { good, questionable, bad };

struct node_entry {
  node_id id{};
  wire::endpoint ep;
  time_point last_answer{};  // last answer to one of our queries
  time_point last_query{};   // last query it sent us
  bool answered = false;     // false for nodes restored by load_state, until they answer
  int failures = 0;          // our queries in a row it did not answer
  time_point pinged_at{};    // our last maintenance ping to it
};

class routing_table {
 public:
  explicit routing_table(const node_id& own, routing_settings settings = {});

  const node_id& own_id() const noexcept { return own_; }
  const routing_settings& settings() const noexcept { return settings_; }

  node_state state(const node_entry& n, time_point now) const noexcept;

  enum class insert_result : std::uint8_t {
    added,          // a new node in a bucket
    updated,        // already there: its answer time refreshed
    replaced_bad,   // took the place of a bad node
    replaced_insecure,  // took the place of a node whose id does not fit its address (BEP 42)
    replacement,    // bucket full: kept as a replacement candidate
    rejected,       // our own id, a node of the other family, or an id/endpoint clash
  };
  // A node answered one of our queries (or is restored from a saved state, with
  // answered = false).
  insert_result node_answered(const node_info& n, time_point now, bool answered = true);
  // A node sent us a query: refreshes it if known (a good node stays good while it
  // keeps querying us). Never inserts.
  void node_queried(const node_info& n, time_point now);
  // Whether node_answered() would put this id in a bucket (not only among the
  // replacements): worth pinging a node we only heard a query from.
  bool has_room_for(const node_id& id, time_point now) const;
  // One of our queries to this endpoint timed out. A node that turns bad is replaced by
  // a candidate, when its bucket has one.
  void node_failed(const node_id& id, const wire::endpoint& ep);
  // The node at `ep` answered one of our queries under `id`, not the id we keep for it: it
  // changed its id (BEP 42 makes a node do so once it learns its address). The old entry
  // goes, and a replacement candidate takes its place.
  void node_renamed(const wire::endpoint& ep, const node_id& id);
  // The entry at this endpoint, whatever its id.
  const node_entry* at_endpoint(const wire::endpoint& ep) const;

  // The `count` nodes closest to target, bad ones excluded, closest first.
  std::vector<node_info> closest(const node_id& target, std::size_t count, time_point now) const;

  const node_entry* find(const node_id& id) const;
  std::size_t size() const noexcept;                    // nodes in buckets
  std::size_t bucket_count() const noexcept { return buckets_.size(); }
  std::size_t good_count(time_point now) const;
  std::vector<node_entry> all_nodes() const;            // bucket order

  // Maintenance: nodes to ping (questionable ones not pinged within `interval`, at most one
  // per bucket), and buckets not changed within `refresh` (each as a random id in it).
  std::vector<node_info> nodes_to_ping(time_point now, duration interval);
  void mark_pinged(const node_id& id, time_point now);
  std::vector<std::size_t> stale_buckets(time_point now, duration refresh) const;
  void mark_refreshed(std::size_t i, time_point now);
  // A random id that falls in bucket i (the random bits come from the caller).
  node_id id_in_bucket(std::size_t i, const node_id& random) const;

  // Test hooks.
  std::size_t bucket_size(std::size_t i) const { return buckets_[i].nodes.size(); }
  std::size_t replacement_count(std::size_t i) const { return buckets_[i].replacements.size(); }

 private:
  struct bucket {
    std::vector<node_entry> nodes;
    std::vector<node_entry> replacements;  // most recent last
    time_point last_changed{};
  };
  std::size_t bucket_index(const node_id& id) const noexcept;
  void split_last();
  node_entry* locate(const node_id& id);

  node_id own_;
  routing_settings settings_;
  std::vector<bucket> buckets_;
};

}  // namespace wt::dht
