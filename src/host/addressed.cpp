// The HTTP/UDP announcer and the DHT behind host/addressed.hpp's interface, and the client
// constructor that installs them: a module that never calls that constructor (the browser's)
// links none of this.
#include "host/addressed.hpp"

#include <map>

#include "bencode/bencode.hpp"
#include "dht/dht.hpp"
#include "host/encryption.hpp"
#include "lsd/lsd.hpp"
#include "tracker/announce_schedule.hpp"

namespace wt {

namespace {

class utp_manager final : public utp_sockets {
 public:
  explicit utp_manager(utp::manager_settings s) : m_(std::move(s)) {}
  utp::socket_id connect(const wire::endpoint& to, time_point now) override { return m_.connect(to, now); }
  void send(utp::socket_id id, byte_view data) override { m_.send(id, data); }
  void close(utp::socket_id id, time_point now) override { m_.close(id, now); }
  void flush(time_point now) override { m_.flush(now); }
  bool received(const wire::endpoint& from, byte_view datagram, time_point now) override {
    return m_.received(from, datagram, now);
  }
  void on_timer(time_point now) override { m_.on_timer(now); }
  std::optional<time_point> next_deadline() const override { return m_.next_deadline(); }
  std::optional<utp::output> poll() override { return m_.poll(); }

 private:
  utp::socket_manager m_;
};

class announcer_and_dht final : public addressed_network {
 public:
  explicit announcer_and_dht(const client_settings& s) : announcer_(s.announcer) {
    if (s.dht) dht_ = std::make_unique<dht::dht_node>(*s.dht);
    if (s.dht && s.dht_ipv6) {
      // The IPv6 node (BEP 32) starts with the same id: with the same seed it draws the same
      // one (its transaction ids and token secrets repeat the IPv4 node's, on another
      // socket). Each then makes its id valid for its own family's address (BEP 42).
      dht::settings six = *s.dht;
      six.ipv6 = true;
      dht6_ = std::make_unique<dht::dht_node>(six);
    }
    if (s.lsd) lsd_ = std::make_unique<lsd::service>(*s.lsd);
  }

  std::unique_ptr<peer_encryption> make_peer_encryption(const client_settings& settings) override {
    return wt::make_peer_encryption(settings);
  }

  bool add_torrent(const id20& info_hash, const id20& peer_id, const std::vector<std::string>& urls,
                   const tracker::announce_stats& stats, time_point now) override {
    tracker::torrent_params p;
    p.info_hash = info_hash;
    p.peer_id = peer_id;
    for (const auto& url : urls) p.tiers.push_back({url});  // BEP 12: in order
    p.stats = stats;
    return !p.tiers.empty() && announcer_.add_torrent(p, now);
  }
  void remove_torrent(const id20& info_hash, time_point now) override { announcer_.remove_torrent(info_hash, now); }
  void completed(const id20& info_hash, time_point now) override { announcer_.completed(info_hash, now); }
  void set_stats(const id20& info_hash, const tracker::announce_stats& stats) override {
    announcer_.set_stats(info_hash, stats);
  }
  void set_numwant(const id20& info_hash, std::uint32_t numwant) override { announcer_.set_numwant(info_hash, numwant); }
  bool scrape(const id20& info_hash, time_point now) override { return announcer_.scrape(info_hash, now); }
  void tracker_response(std::uint64_t id, int status, byte_view body, time_point now) override {
    announcer_.http_response(id, status, body, now);
  }
  void tracker_failed(std::uint64_t id, const std::string& message, time_point now) override {
    announcer_.http_failed(id, message, now);
  }
  void udp_received(const std::string& url, byte_view datagram, bool v6, time_point now) override {
    announcer_.udp_received(url, datagram, v6 ? tracker::udp::ip_family::v6 : tracker::udp::ip_family::v4, now);
  }
  void udp_failed(const std::string& url, const std::string& message, time_point now) override {
    announcer_.udp_failed(url, message, now);
  }

  bool has_dht() const override { return dht_ != nullptr; }
  bool dht_announce(const id20& info_hash, std::uint16_t port, bool implied_port, time_point now) override {
    if (!dht_) return false;
    now_ = now;
    dht_->announce(info_hash, port, implied_port, now);
    if (dht6_) dht6_->announce(info_hash, port, implied_port, now);
    return true;
  }
  void dht_stop(const id20& info_hash) override {
    if (dht_) dht_->stop_announce(info_hash);
    if (dht6_) dht6_->stop_announce(info_hash);
    reported_.erase(info_hash);
  }
  // Each node gets the routers of its family; the IPv6 node bootstraps only from somewhere
  // (IPv6 routers, or nodes of a saved state): on a host without IPv6 it stays idle.
  void dht_bootstrap(const std::vector<wire::endpoint>& routers, time_point now) override {
    now_ = now;
    std::vector<wire::endpoint> v4, v6;
    for (const auto& r : routers) (r.v6 ? v6 : v4).push_back(r);
    if (dht_) dht_->bootstrap(v4, now);
    if (dht6_ && (!v6.empty() || dht6_->table().size() > 0)) dht6_->bootstrap(v6, now);
  }
  void dht_received(const wire::endpoint& from, byte_view datagram, time_point now) override {
    now_ = now;
    if (auto* node = from.v6 ? dht6_.get() : dht_.get()) node->udp_received(from, datagram, now);
  }
  // One state for both: the IPv4 node's {id, nodes} and the IPv6 node's nodes6.
  byte_buffer dht_state(time_point now) const override {
    if (!dht_) return {};
    auto state = dht_->save_state(now);
    if (!dht6_) return state;
    const auto state6 = dht6_->save_state(now);  // outlives six: a document views its bytes
    const auto four = bencode::decode(state), six = bencode::decode(state6);
    if (!four || !six || !six->root().find("nodes6")) return state;
    auto merged = std::get<bencode::dict>(bencode::to_value(four->root()).v);
    merged["nodes6"] = bencode::to_value(*six->root().find("nodes6"));
    return bencode::encode(bencode::value(std::move(merged)));
  }
  bool dht_load_state(byte_view state, time_point now) override {
    if (dht6_) dht6_->load_state(state, now);
    return dht_ && dht_->load_state(state, now).has_value();
  }
  std::size_t dht_nodes() const override {
    return (dht_ ? dht_->table().size() : 0) + (dht6_ ? dht6_->table().size() : 0);
  }
  std::vector<wire::endpoint> dht_node_endpoints() const override {
    std::vector<wire::endpoint> out;
    for (const auto* node : {dht_.get(), dht6_.get()}) {
      if (!node) continue;
      for (const auto& n : node->table().all_nodes()) out.push_back(n.ep);
    }
    return out;
  }
  id20 dht_node_id() const override { return dht_ ? dht_->id() : id20{}; }

  std::optional<std::uint64_t> dht_get_item(const id20& target, byte_view salt, bool cached, time_point now) override {
    now_ = now;
    return start_op(op_kind::get_item, target, [&](dht::dht_node& node) -> std::optional<dht::lookup_id> {
      return node.get_item(target, salt, cached, now);
    });
  }
  std::variant<std::uint64_t, dht::error_reply> dht_put_item(const dht::item& item, std::optional<std::int64_t> cas,
                                                            time_point now) override {
    now_ = now;
    if (!dht_) return dht::error_reply{dht::error_generic, "no DHT"};
    std::optional<dht::error_reply> refused;  // each node checks the item (dht::check_item)
    const auto op = start_op(op_kind::put_item, dht::item_target(item), [&](dht::dht_node& node) -> std::optional<dht::lookup_id> {
      auto started = node.put_item(item, cas, now);
      if (const auto* id = std::get_if<dht::lookup_id>(&started)) return *id;
      refused = std::get<dht::error_reply>(started);
      return std::nullopt;
    });
    if (op) return *op;
    return refused.value_or(dht::error_reply{dht::error_server, "too many DHT lookups running"});
  }
  std::optional<std::uint64_t> dht_lookup(const id20& info_hash, std::optional<std::uint16_t> announce_port,
                                          bool implied_port, time_point now) override {
    now_ = now;
    return start_op(op_kind::lookup, info_hash, [&](dht::dht_node& node) {
      return announce_port ? node.announce_once(info_hash, *announce_port, implied_port, now) : node.get_peers(info_hash, now);
    });
  }
  void dht_add_node(const wire::endpoint& node, time_point now) override {
    now_ = now;
    if (auto* to = node.v6 ? dht6_.get() : dht_.get()) to->add_node(node, now);
  }

  std::unique_ptr<utp_sockets> make_utp(const client_settings& s) override {
    utp::manager_settings m = s.utp_settings;
    if (m.seed == 1) m.seed = s.session.seed ^ 0x75747021u;
    return std::make_unique<utp_manager>(std::move(m));
  }

  bool has_lsd() const override { return lsd_ != nullptr; }
  bool lsd_announce(const id20& info_hash, time_point now) override {
    if (!lsd_) return false;
    lsd_->announce(info_hash, now);
    return true;
  }
  void lsd_stop(const id20& info_hash) override {
    if (lsd_) lsd_->stop(info_hash);
  }
  void lsd_received(const wire::endpoint& from, byte_view datagram, time_point now) override {
    if (lsd_) lsd_->received(from, datagram, now);
  }

  void on_timer(time_point now) override {
    now_ = now;
    announcer_.on_timer(now);
    if (dht_) dht_->on_timer(now);
    if (dht6_) dht6_->on_timer(now);
    if (lsd_) lsd_->on_timer(now);
  }
  std::optional<time_point> next_deadline() const override {
    auto next = announcer_.next_deadline();
    if (auto d = dht_ ? dht_->next_deadline() : std::nullopt) next = next ? std::min(*next, *d) : d;
    if (auto d = dht6_ ? dht6_->next_deadline() : std::nullopt) next = next ? std::min(*next, *d) : d;
    if (auto d = lsd_ ? lsd_->next_deadline() : std::nullopt) next = next ? std::min(*next, *d) : d;
    return next;
  }
  std::optional<addressed_output> poll() override {
    while (auto o = announcer_.poll())
      if (auto r = from_announcer(std::move(*o))) return r;
    for (auto* node : {dht_.get(), dht6_.get()}) {
      while (node) {
        auto o = node->poll();
        if (!o) break;
        if (auto r = from_dht(std::move(*o), node == dht6_.get())) return r;
      }
    }
    if (lsd_) {
      if (auto o = lsd_->poll()) {
        if (auto* send = std::get_if<lsd::send>(&*o)) return client_out::lsd_send{send->v6, std::move(send->bytes)};
        auto& found = std::get<lsd::peers_found>(*o);
        return addressed_out::peers_found{found.info_hash, {found.peer}, peer_source::lsd};
      }
    }
    return std::nullopt;
  }

 private:
  static std::optional<addressed_output> from_announcer(tracker::output o) {
    using namespace tracker;
    if (auto* get = std::get_if<http_get>(&o)) return client_out::tracker_get{get->request_id, std::move(get->url)};
    if (auto* send = std::get_if<tracker::udp_send>(&o))
      return client_out::udp_send{std::move(send->url), std::move(send->bytes)};
    if (auto* close = std::get_if<tracker::udp_close>(&o)) return client_out::udp_close{std::move(close->url)};
    if (auto* found = std::get_if<tracker::peers_found>(&o))
      return addressed_out::peers_found{found->info_hash, std::move(found->peers)};
    if (auto* a = std::get_if<announce_result>(&o))
      return addressed_out::announced{a->info_hash, std::move(a->url), a->complete, a->incomplete};
    if (auto* warn = std::get_if<tracker_warning>(&o)) {
      errc code = errc::tracker_bad_response;
      switch (warn->kind) {
        case problem::failure_reason: case problem::tracker_error: code = errc::tracker_failure; break;
        case problem::warning_message: code = errc::tracker_warning; break;
        case problem::timeout: code = errc::tracker_timeout; break;
        case problem::network: code = errc::tracker_unreachable; break;
        default: break;
      }
      return addressed_out::warning{warn->info_hash, warn->url, make_error(code, 0, std::move(warn->message))};
    }
    if (auto* s = std::get_if<scrape_result>(&o))
      return addressed_out::scraped{s->entry.info_hash, std::move(s->url), s->entry.complete, s->entry.incomplete,
                                    s->entry.downloaded};
    return std::nullopt;
  }
  // --- The app's DHT operations (BEP 44 items, lookups, announces): one per node, merged ----

  enum class op_kind : std::uint8_t { get_item, put_item, lookup };

  struct app_op {
    op_kind kind = op_kind::get_item;
    id20 target{};
    std::size_t waiting = 0;  // nodes still working on it
    addressed_out::dht_item got;
    addressed_out::dht_put put;
    addressed_out::dht_lookup looked;
  };

  template <class Start>
  std::optional<std::uint64_t> start_op(op_kind kind, const id20& target, Start start) {
    const std::uint64_t op = next_op_++;
    app_op& entry = ops_[op];
    entry.kind = kind;
    entry.target = target;
    for (auto* node : {dht_.get(), dht6_.get()}) {
      if (!node) continue;
      // The IPv6 node of a host without IPv6 knows nobody: it would only end at once.
      if (node == dht6_.get() && node->table().size() == 0) continue;
      if (const auto id = start(*node)) {
        ++entry.waiting;
        op_of_[{node == dht6_.get(), *id}] = op;
      }
    }
    if (entry.waiting == 0) {
      ops_.erase(op);
      return std::nullopt;
    }
    return op;
  }

  // A node's part of an operation ended: the merged result once every node's has.
  std::optional<addressed_output> op_part_done(bool v6, dht::lookup_id lookup, const dht::lookup_finished* done,
                                               const dht::put_finished* put) {
    const auto found = op_of_.find({v6, lookup});
    if (found == op_of_.end()) return std::nullopt;
    const std::uint64_t op = found->second;
    op_of_.erase(found);
    app_op& entry = ops_.at(op);
    if (done && done->found) {
      const auto& best = entry.got.item;
      if (!best || (done->found->key && best->key && done->found->seq > best->seq)) {
        entry.got.item = done->found;
        entry.got.from = done->found_from;
      }
    }
    if (done) {
      entry.looked.nodes_with_peers += done->nodes_with_peers;
      entry.looked.announced_to += done->announced_to;
    }
    if (put) {
      entry.put.sent += put->sent;
      entry.put.stored += put->stored;
      if (put->error) entry.put.error = put->error;
    }
    if (--entry.waiting > 0) return std::nullopt;
    addressed_output out = addressed_out::dht_item{};
    switch (entry.kind) {
      case op_kind::get_item:
        entry.got.op = op;
        entry.got.target = entry.target;
        out = std::move(entry.got);
        break;
      case op_kind::put_item:
        entry.put.op = op;
        entry.put.target = entry.target;
        out = std::move(entry.put);
        break;
      case op_kind::lookup:
        entry.looked.op = op;
        entry.looked.info_hash = entry.target;
        out = std::move(entry.looked);
        break;
    }
    ops_.erase(op);
    return out;
  }

  std::optional<addressed_output> from_dht(dht::output o, bool v6) {
    if (auto* send = std::get_if<dht::send>(&o)) return client_out::dht_send{send->to, std::move(send->bytes)};
    // The app's operations first: their lookups' peers and ends are the app's, not a torrent's.
    // (A put_item's part ends with its put_finished, after its lookup.)
    if (auto* done = std::get_if<dht::lookup_finished>(&o);
        done && done->kind != dht::lookup_kind::put_item && op_of_.contains({v6, done->lookup}))
      return op_part_done(v6, done->lookup, done, nullptr);
    if (auto* put = std::get_if<dht::put_finished>(&o)) return op_part_done(v6, put->lookup, nullptr, put);
    if (auto* found = std::get_if<dht::peers_found>(&o)) {
      if (const auto it = op_of_.find({v6, found->lookup}); it != op_of_.end())
        return addressed_out::dht_peers{it->second, found->info_hash, std::move(found->peers), found->from};
    }
    if (auto* done = std::get_if<dht::lookup_finished>(&o); done && done->kind == dht::lookup_kind::bootstrap && !v6)
      return addressed_out::dht_bootstrapped{done->answered};
    if (auto* found = std::get_if<dht::peers_found>(&o))
      return addressed_out::peers_found{found->info_hash, std::move(found->peers), peer_source::dht, found->from};
    if (auto* done = std::get_if<dht::lookup_finished>(&o); done && done->kind == dht::lookup_kind::announce) {
      // Both nodes announce together: the second to reach the DHT within a minute of the
      // first is the same announce (re-announces are 15 minutes apart), reported once.
      if (done->announced_to > 0) {
        const auto it = reported_.find(done->target);
        if (it != reported_.end() && now_ - it->second < std::chrono::minutes(1)) return std::nullopt;
        reported_[done->target] = now_;
      }
      return addressed_out::dht_announced{done->target, done->peers, done->announced_to};
    }
    return std::nullopt;  // other lookups, warnings: nothing to route (the counters tell the host)
  }

  tracker::announcer announcer_;
  std::unique_ptr<dht::dht_node> dht_;
  std::unique_ptr<dht::dht_node> dht6_;  // client_settings::dht_ipv6 (BEP 32)
  std::map<id20, time_point> reported_;   // announces reported, by info-hash: when
  std::map<std::uint64_t, app_op> ops_;                            // the app's operations, by op number
  std::map<std::pair<bool, dht::lookup_id>, std::uint64_t> op_of_;  // {IPv6 node?, lookup}: op number
  std::uint64_t next_op_ = 1;
  time_point now_{};                      // of the latest input: poll() has no clock
  std::unique_ptr<lsd::service> lsd_;
};

}  // namespace

std::unique_ptr<addressed_network> make_addressed_network(const client_settings& settings) {
  return std::make_unique<announcer_and_dht>(settings);
}

client::client(client_settings settings) : client(std::move(settings), make_addressed_network) {}

}  // namespace wt
