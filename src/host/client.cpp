#include "host/client.hpp"

#include <algorithm>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include "host/addressed.hpp"
#include "host/encryption.hpp"

#include "metainfo/magnet.hpp"

namespace wt {

namespace {

// A data channel's stand-in address for the session: fd77:7400::<peer>, port 1. Unique per
// peer connection, so the session never takes two channels for one peer address. Not an
// address anyone can dial: the session is told so (dialable::no), so it never redials it
// nor passes it on through ut_pex.
wire::endpoint channel_endpoint(host_peer p) {
  std::array<std::uint8_t, 16> a{};
  a[0] = 0xfd;
  a[1] = 0x77;
  a[2] = 0x74;
  a[12] = static_cast<std::uint8_t>(p.value >> 24);
  a[13] = static_cast<std::uint8_t>(p.value >> 16);
  a[14] = static_cast<std::uint8_t>(p.value >> 8);
  a[15] = static_cast<std::uint8_t>(p.value);
  return wire::make_endpoint_v6(a, 1);
}

client_settings adjusted(client_settings s) {
  s.session.send_buffer_limit = s.send_buffer_limit;
  if (s.tracker.seed == 0) s.tracker.seed = s.session.seed ^ 0x5bd1e995u;
  if (s.announcer.seed == 0) s.announcer.seed = s.session.seed ^ 0x9e3779b9u;
  if (s.session.listen_port) s.announcer.port = *s.session.listen_port;
  // BEP 15's full schedule (15 s doubling 8 times) holds a dead UDP tracker for two hours
  // before the next tier is tried; most trackers in public lists are dead: give up after
  // 15 + 30 + 60 s, and retry it after the usual back-off.
  s.announcer.udp.max_retransmit_exponent = std::min(s.announcer.udp.max_retransmit_exponent, 2u);
  if (s.dht && s.dht->seed == 0) s.dht->seed = s.session.seed ^ 0x2545f491u;
  // LSD announces our listen port: without one (or without dials) it has nothing to say.
  if (s.lsd && (!s.dial_peers || !s.session.listen_port || *s.session.listen_port == 0)) s.lsd.reset();
  if (s.lsd) {
    s.lsd->listen_port = *s.session.listen_port;
    if (s.lsd->seed == 0) s.lsd->seed = s.session.seed ^ 0x85ebca6bu;
  }
  return s;
}

}  // namespace

// The URLs of `urls` that `keep` accepts, once each, in order (a torrent may name tens of
// thousands: no quadratic search).
template <class Keep>
std::vector<std::string> once_each(const std::vector<std::string>& urls, Keep keep) {
  std::vector<std::string> out;
  std::unordered_set<std::string_view> seen;
  for (const auto& u : urls)
    if (keep(u) && seen.insert(u).second) out.push_back(u);
  return out;
}

bool is_websocket_tracker(std::string_view u) { return tracker::has_scheme(u, "ws://") || tracker::has_scheme(u, "wss://"); }
bool is_addressed_tracker(std::string_view u) {
  return tracker::has_scheme(u, "http://") || tracker::has_scheme(u, "https://") || tracker::has_scheme(u, "udp://");
}

std::vector<std::string> websocket_trackers(const std::vector<std::string>& urls) {
  return once_each(urls, [](const std::string& u) { return is_websocket_tracker(u); });
}

// The http(s):// and udp:// URLs of a list, once each, in order.
std::vector<std::string> addressed_trackers(const std::vector<std::string>& urls) {
  return once_each(urls, [](const std::string& u) { return is_addressed_tracker(u); });
}

client::client(client_settings settings,
               std::unique_ptr<addressed_network> (*make_network)(const client_settings&))
    : settings_(with_announce_params(adjusted(std::move(settings)))),
      session_(settings_.session),
      tracker_(settings_.tracker) {
  if (!settings_.dial_peers) settings_.dht.reset();  // a DHT needs a host that reaches addresses
  if (make_network) net_ = make_network(settings_);
  if (net_ && settings_.dial_peers) mse_ = net_->make_peer_encryption(settings_);
  if (net_ && settings_.utp && settings_.dial_peers) utp_ = net_->make_utp(settings_);
}

client::~client() = default;

// Every tracker asks the host's announce_params, by the torrent's id, for each announce.
client_settings client::with_announce_params(client_settings s) {
  if (!s.announce_params) return s;
  auto of = [this](const tracker::id20& info_hash) -> tracker::announce_params {
    const auto t = torrent_of(info_hash);
    return t ? settings_.announce_params(*t) : tracker::announce_params{};
  };
  s.tracker.extra_params = of;
  s.announcer.extra_params = of;
  return s;
}

const wire::peer_id& client::peer_id() const noexcept { return session_.peer_id(); }

// --- user commands ---------------------------------------------------------------------

result<torrent_id> client::add_torrent(byte_view torrent_file, add_torrent_params params,
                                       time_point now, std::vector<std::string> trackers) {
  auto m = parse_metainfo(torrent_file);
  if (!m) return m.err();
  auto t = session_.add_torrent(*m, params, now);
  if (!t) return t;
  torrents_[*t].info_hash = m->info_hash;
  torrents_[*t].complete = params.seed;
  std::vector<std::string> urls = m->trackers();
  urls.insert(urls.end(), trackers.begin(), trackers.end());
  torrents_[*t].trackers = urls;
  register_with_trackers(*t, std::move(urls), now);
  if (settings_.use_url_list)
    for (const auto& url : m->url_list) session_.add_web_seed(*t, url, now);
  pump(now);
  return t;
}

result<torrent_id> client::add_magnet(std::string_view uri, time_point now,
                                      std::vector<std::string> trackers, add_torrent_params params) {
  auto link = parse_magnet(uri);
  if (!link) return link.err();
  if (!link->info_hash) return make_error(errc::magnet_no_info_hash, 0, "xt");
  auto t = session_.add_magnet(*link->info_hash, link->name, now, params);
  if (!t) return t;
  torrents_[*t].info_hash = *link->info_hash;
  trackers.insert(trackers.begin(), link->trackers.begin(), link->trackers.end());
  torrents_[*t].trackers = trackers;
  register_with_trackers(*t, std::move(trackers), now);
  if (settings_.use_url_list) {
    for (const auto& url : link->web_seeds) session_.add_web_seed(*t, url, now);
    for (const auto& url : link->acceptable_sources) session_.add_web_seed(*t, url, now);
  }
  // x.pe: literal addresses only (a host name would need a lookup the engine cannot do).
  for (const auto& peer : link->peers)
    if (auto e = wire::parse_endpoint(peer)) session_.add_peer(*t, *e, now, peer_source::manual);
  pump(now);
  return t;
}

void client::register_with_trackers(torrent_id t, std::vector<std::string> urls, time_point now) {
  // The client's own trackers serve public torrents only, as WebTorrent's: a private
  // torrent announces to the trackers it names.
  if (!session_.torrent_is_private(t))
    urls.insert(urls.end(), settings_.default_trackers.begin(), settings_.default_trackers.end());
  {
    auto& known = torrents_[t].trackers;
    std::vector<std::string> all = known;
    all.insert(all.end(), urls.begin(), urls.end());
    known = once_each(all, [](const std::string&) { return true; });
  }
  if (!settings_.announce_to_trackers) urls.clear();
  // A URL of no protocol we speak ("not a url", ftp://): a warning, as WebTorrent's.
  for (const auto& u : once_each(urls, [](const std::string& u) { return !is_websocket_tracker(u) && !is_addressed_tracker(u); }))
    out_.push_back(client_event{tracker_warning_event{t, u, make_error(errc::tracker_bad_url, 0, u)}});
  torrent_state& ts = torrents_[t];
  // HTTP and UDP trackers answer with addresses: only for a host that can dial them.
  if (settings_.dial_peers && net_) {
    const auto addressed = addressed_trackers(urls);
    if (!addressed.empty())
      ts.announcing = net_->add_torrent(ts.info_hash, session_.peer_id(), addressed, announce_stats_of(t), now);
  }
  ws_tracker::torrent_params p;
  p.info_hash = ts.info_hash;
  p.peer_id = session_.peer_id();
  p.trackers = websocket_trackers(urls);
  if (!p.trackers.empty()) {
    update_tracker_stats(t);  // no-op before registration; the params carry the first stats
    p.stats = announce_stats_of(t);
    ts.registered = tracker_.add_torrent(p, now);
  }
  announce_on_dht(t, now);
  announce_on_lsd(t, now);
  if (p.trackers.empty() && !ts.announcing && !ts.on_dht)
    session_.end_web_seed_grace(t, now);  // no tracker: no peer to wait for
}

void client::announce_on_dht(torrent_id t, time_point now) {
  auto it = torrents_.find(t);
  if (!has_dht() || it == torrents_.end() || it->second.on_dht) return;
  if (session_.torrent_is_private(t)) return;  // BEP 27: trackers only
  it->second.on_dht = net_->dht_announce(it->second.info_hash, settings_.session.listen_port.value_or(0),
                                         !settings_.session.listen_port, now);
}

void client::leave_dht(torrent_id t) {
  auto it = torrents_.find(t);
  if (!has_dht() || it == torrents_.end() || !it->second.on_dht) return;
  it->second.on_dht = false;
  net_->dht_stop(it->second.info_hash);
}

void client::announce_on_lsd(torrent_id t, time_point now) {
  auto it = torrents_.find(t);
  if (!has_lsd() || it == torrents_.end() || it->second.on_lsd) return;
  if (session_.torrent_is_private(t)) return;  // BEP 27: trackers only
  it->second.on_lsd = net_->lsd_announce(it->second.info_hash, now);
}

void client::leave_lsd(torrent_id t) {
  auto it = torrents_.find(t);
  if (!has_lsd() || it == torrents_.end() || !it->second.on_lsd) return;
  it->second.on_lsd = false;
  net_->lsd_stop(it->second.info_hash);
}

bool client::has_lsd() const noexcept { return net_ && net_->has_lsd(); }

void client::lsd_received(const wire::endpoint& from, byte_view datagram, time_point now) {
  if (!has_lsd()) return;
  net_->lsd_received(from, datagram, now);
  pump(now);
}

bool client::has_dht() const noexcept { return net_ && net_->has_dht(); }

void client::dht_bootstrap(const std::vector<wire::endpoint>& routers, time_point now) {
  if (!has_dht()) return;
  net_->dht_bootstrap(routers, now);
  pump(now);
}

void client::dht_received(const wire::endpoint& from, byte_view datagram, time_point now) {
  if (!has_dht()) return;
  net_->dht_received(from, datagram, now);
  pump(now);
}

byte_buffer client::dht_state(time_point now) const { return has_dht() ? net_->dht_state(now) : byte_buffer{}; }

bool client::dht_load_state(byte_view state, time_point now) { return has_dht() && net_->dht_load_state(state, now); }

std::size_t client::dht_nodes() const { return has_dht() ? net_->dht_nodes() : 0; }
std::vector<wire::endpoint> client::dht_node_endpoints() const {
  return has_dht() ? net_->dht_node_endpoints() : std::vector<wire::endpoint>{};
}
std::optional<std::uint64_t> client::dht_get_item(const dht::node_id& target, byte_view salt, bool cached,
                                                 time_point now) {
  if (!has_dht()) return std::nullopt;
  const auto op = net_->dht_get_item(target, salt, cached, now);
  pump(now);
  return op;
}
std::variant<std::uint64_t, dht::error_reply> client::dht_put_item(const dht::item& item,
                                                                  std::optional<std::int64_t> cas, time_point now) {
  if (!has_dht()) return dht::error_reply{dht::error_generic, "no DHT"};
  auto op = net_->dht_put_item(item, cas, now);
  pump(now);
  return op;
}
std::optional<std::uint64_t> client::dht_lookup(const dht::node_id& info_hash, std::optional<std::uint16_t> announce_port,
                                               bool implied_port, time_point now) {
  if (!has_dht()) return std::nullopt;
  const auto op = net_->dht_lookup(info_hash, announce_port, implied_port, now);
  pump(now);
  return op;
}
void client::dht_add_node(const wire::endpoint& node, time_point now) {
  if (!has_dht()) return;
  net_->dht_add_node(node, now);
  pump(now);
}
std::optional<dht::node_id> client::dht_node_id() const {
  return has_dht() ? std::optional<dht::node_id>(net_->dht_node_id()) : std::nullopt;
}

// --- HTTP and UDP trackers (only a client with net_ has asked for any) ------------------------

void client::tracker_response(std::uint64_t id, int status, byte_view body, time_point now) {
  if (!net_) return;
  net_->tracker_response(id, status, body, now);
  pump(now);
}

void client::tracker_failed(std::uint64_t id, const std::string& message, time_point now) {
  if (!net_) return;
  net_->tracker_failed(id, message, now);
  pump(now);
}

void client::udp_received(const std::string& url, byte_view datagram, bool v6, time_point now) {
  if (!net_) return;
  net_->udp_received(url, datagram, v6, now);
  pump(now);
}

void client::udp_failed(const std::string& url, const std::string& message, time_point now) {
  if (!net_) return;
  net_->udp_failed(url, message, now);
  pump(now);
}

// What trackers are told: `left` is what the torrent lacks of all its pieces (BEP 3: bytes
// still to download to be complete), so a finished partial selection is not a seed.
tracker::announce_stats client::announce_stats_of(torrent_id t) const {
  tracker::announce_stats s;
  auto st = session_.stats(t);
  if (!st) return s;
  s.uploaded = static_cast<std::int64_t>(st->uploaded);
  s.downloaded = static_cast<std::int64_t>(st->downloaded);
  if (st->has_metadata) s.left = std::max<std::int64_t>(0, st->total - st->have);
  return s;
}

void client::update_tracker_stats(torrent_id t) {
  auto it = torrents_.find(t);
  if (it == torrents_.end()) return;
  if (it->second.registered) tracker_.set_stats(it->second.info_hash, announce_stats_of(t));
  if (it->second.announcing) net_->set_stats(it->second.info_hash, announce_stats_of(t));
}

void client::close_peers_of(torrent_id t, const std::string& reason, time_point now) {
  std::vector<std::uint32_t> gone;
  for (const auto& [id, p] : peers_)
    if (p.torrent == t) gone.push_back(id);
  for (std::uint32_t id : gone) end_peer(host_peer{id}, reason, now);
}

void client::end_peer(host_peer p, std::string reason, time_point now) {
  auto it = peers_.find(p.value);
  if (it == peers_.end()) return;
  if (it->second.connection) session_.connection_closed(*it->second.connection, now);
  if (auto b = it->second.batch) {
    batches_[*b].waiting.erase(p.value);
    if (batches_[*b].waiting.empty()) finish_batch(*b, now);
  }
  close_peer(p, std::move(reason));
}

void client::disconnect(host_peer p, time_point now) {
  end_peer(p, "closed by the application", now);
  pump(now);
}

void client::remove_torrent(torrent_id t, time_point now) {
  auto it = torrents_.find(t);
  if (it == torrents_.end()) return;
  update_tracker_stats(t);
  if (it->second.registered) tracker_.remove_torrent(it->second.info_hash, now);
  if (it->second.announcing) net_->remove_torrent(it->second.info_hash, now);
  leave_dht(t);
  leave_lsd(t);
  close_peers_of(t, "torrent removed", now);
  session_.remove_torrent(t, now);
  torrents_.erase(it);
  pump(now);
}

std::optional<host_peer> client::attach_channel(torrent_id t, time_point now) {
  if (!torrents_.contains(t)) return std::nullopt;
  const host_peer p{next_peer_++};
  peers_[p.value].torrent = t;  // neither offerer nor tracker answer: ours once open
  pump(now);
  return p;
}

client::add_peer_result client::add_peer(torrent_id t, const wire::endpoint& remote, time_point now) {
  if (!torrents_.contains(t)) return add_peer_result::unknown_torrent;
  if (session_.blocked(remote)) return add_peer_result::blocked;
  const auto added = session_.add_peer(t, remote, now, peer_source::manual, false);
  pump(now);
  if (added == peer_added::added) return add_peer_result::added;
  if (added == peer_added::known) return add_peer_result::known;
  return add_peer_result::invalid;
}

client::add_peer_result client::check_peer(const wire::endpoint& remote) const {
  if (session_.blocked(remote)) return add_peer_result::blocked;
  return session_.unusable(remote) ? add_peer_result::invalid : add_peer_result::added;
}

bool client::remove_peer(torrent_id t, const wire::endpoint& remote, time_point now) {
  const bool held = session_.remove_peer(t, remote, now);
  pump(now);
  return held;
}

bool client::scrape(torrent_id t, time_point now) {
  auto it = torrents_.find(t);
  if (it == torrents_.end() || !it->second.announcing) return false;
  const bool asked = net_->scrape(it->second.info_hash, now);
  pump(now);
  return asked;
}

host_peer client::accept_peer(const wire::endpoint& remote, time_point now) {
  const host_peer p{next_peer_++};
  peer_state& s = peers_[p.value];
  s.open = true;
  // A real address: the port it listens on (its extension handshake's "p") makes it one
  // to pass on through ut_pex.
  s.connection = session_.accept_connection(remote, now, dialable::yes);
  peer_of_connection_[s.connection->value] = p.value;
  if (mse_) mse_->accepted(*this, p);  // MSE or plain, as its first bytes say
  out_.push_back(client_event{peer_channel_event{s.torrent, p, *s.connection, false, false, true}});
  pump(now);
  return p;
}

byte_buffer client::torrent_file(torrent_id t) const {
  const metainfo* m = session_.torrent_metainfo(t);
  auto it = torrents_.find(t);
  if (!m || it == torrents_.end()) return {};
  return make_torrent_file(*m, it->second.trackers, m->url_list);
}

bool client::pause_torrent(torrent_id t, time_point now) {
  auto it = torrents_.find(t);
  if (it == torrents_.end()) return false;
  if (it->second.paused) return true;
  it->second.paused = true;
  update_tracker_stats(t);
  if (it->second.registered) {
    tracker_.remove_torrent(it->second.info_hash, now);  // "stopped"; its offers are cancelled
    it->second.registered = false;
  }
  if (it->second.announcing) {
    net_->remove_torrent(it->second.info_hash, now);  // "stopped"
    it->second.announcing = false;
  }
  leave_dht(t);
  leave_lsd(t);
  // The session closes its connections (peer_disconnected_event "torrent paused");
  // then every peer connection of the torrent goes, with or without a session
  // connection (offers being made, answers, channels not yet handed over).
  session_.pause_torrent(t, now);
  close_peers_of(t, "torrent paused", now);
  pump(now);
  return true;
}

bool client::resume_torrent(torrent_id t, time_point now) {
  auto it = torrents_.find(t);
  if (it == torrents_.end()) return false;
  if (!it->second.paused) return true;
  it->second.paused = false;
  session_.resume_torrent(t, now);
  register_with_trackers(t, it->second.trackers, now);  // "started", with new offers
  pump(now);
  return true;
}

// --- WebSocket events ------------------------------------------------------------------------

void client::socket_opened(const std::string& url, time_point now) {
  tracker_.socket_opened(url, now);
  pump(now);
}

void client::socket_closed(const std::string& url, time_point now) {
  tracker_.socket_closed(url, now);
  pump(now);
}

void client::text_received(const std::string& url, std::string_view text, time_point now) {
  tracker_.text_received(url, text, now);
  pump(now);
}

// --- WebRTC events ----------------------------------------------------------------------------

void client::offer_created(host_peer p, std::string_view sdp, time_point now) {
  auto it = peers_.find(p.value);
  if (it == peers_.end() || !it->second.batch) return;
  const std::uint64_t b = *it->second.batch;
  it->second.batch.reset();
  offer_batch& batch = batches_[b];
  batch.waiting.erase(p.value);
  if (sdp.empty()) close_peer(p, "offer failed");
  else batch.created.push_back({it->second.offer_id, std::string(sdp)});
  if (batch.waiting.empty()) finish_batch(b, now);
  pump(now);
}

void client::finish_batch(std::uint64_t id, time_point now) {
  auto it = batches_.find(id);
  if (it == batches_.end()) return;
  offer_batch batch = std::move(it->second);
  batches_.erase(it);
  tracker_.offers_created(batch.url, batch.info_hash, batch.created, now);
}

void client::answer_created(host_peer p, std::string_view sdp, time_point now) {
  auto it = peers_.find(p.value);
  if (it == peers_.end() || it->second.offerer) return;
  peer_state& s = it->second;
  const auto t = torrents_.find(s.torrent);
  if (sdp.empty() || t == torrents_.end() ||
      !tracker_.answer_created(s.url, t->second.info_hash, s.remote_peer_id, s.offer_id, sdp))
    close_peer(p, "answer failed");
  pump(now);
}

void client::channel_opened(host_peer p, time_point now) {
  auto it = peers_.find(p.value);
  if (it == peers_.end() || it->second.open) return;
  peer_state& s = it->second;
  if (s.probe_of) {  // TCP works there: the uTP dial goes on
    end_probe(p);
    pump(now);
    return;
  }
  s.open = true;
  if (s.dialled) {  // a socket the session asked for (connect output)
    if (s.mse && mse_->opened(*this, p, now)) {  // a plain redial: the session knows it is open
      pump(now);
      return;
    }
    session_.connection_opened(*s.connection, now);
    out_.push_back(client_event{peer_channel_event{s.torrent, p, *s.connection, true, false, true}});
    pump(now);
    return;
  }
  // We answered its offer: it sends the handshake first, we accept and reply (see the
  // header: an answering side's first message may be lost). Otherwise we offered (or the
  // page connected the channel): we send the handshake first.
  // Offers and answers come through a tracker; a channel the page attached is manual.
  const auto c = s.answerer ? session_.accept_connection(channel_endpoint(p), now, dialable::no, peer_source::tracker)
                            : session_.open_connection(s.torrent, channel_endpoint(p), now, dialable::no,
                                                       s.offerer ? peer_source::tracker : peer_source::manual);
  if (c) {
    s.connection = c;
    peer_of_connection_[c->value] = p.value;
    out_.push_back(client_event{peer_channel_event{s.torrent, p, *c, s.offerer}});
  } else {
    close_peer(p, "torrent removed");
  }
  pump(now);
}

void client::channel_data(host_peer p, byte_view data, time_point now) {
  auto it = peers_.find(p.value);
  if (it == peers_.end()) return;
  if (it->second.mse)
    mse_->received(*this, p, data, now);
  else if (it->second.connection)
    session_.bytes_received(*it->second.connection, data, now);
  pump(now);
}

void client::send_to_peer(host_peer p, byte_buffer data) {
  if (data.empty()) return;
  if (auto it = peers_.find(p.value); it != peers_.end() && it->second.utp) {
    utp_->send(*it->second.utp, data);
    return;
  }
  // Consecutive sends to one channel merge into messages of up to settings_.max_send_size:
  // fewer, larger data-channel messages cost less.
  auto* last = out_.empty() ? nullptr : std::get_if<client_out::send>(&out_.back());
  if (last && last->peer == p && last->data.size() + data.size() <= settings_.max_send_size)
    last->data.insert(last->data.end(), data.begin(), data.end());
  else
    out_.push_back(client_out::send{p, std::move(data)});
}

void client::channel_closed(host_peer p, time_point now) {
  auto it = peers_.find(p.value);
  if (it == peers_.end()) return;
  if (const auto dial = it->second.probe_of) {  // refused, or no answer
    peers_.erase(it);
    auto d = peers_.find(*dial);
    if (d != peers_.end() && d->second.probe == p.value) {
      d->second.probe.reset();
      if (d->second.utp && !d->second.open) end_peer(host_peer{*dial}, "refused over TCP: nothing listens there", now);
    }
    pump(now);
    return;
  }
  if (it->second.mse && mse_->closed(*this, p, now)) {  // replaced by a plain redial
    pump(now);
    return;
  }
  if (it->second.connection) {
    session_.connection_closed(*it->second.connection, now);
    peer_of_connection_.erase(it->second.connection->value);
  }
  if (auto b = it->second.batch) {
    batches_[*b].waiting.erase(p.value);
    if (batches_[*b].waiting.empty()) finish_batch(*b, now);
  }
  peers_.erase(it);
  pump(now);
}

void client::channel_sent(host_peer p, std::size_t bytes, time_point now) {
  auto it = peers_.find(p.value);
  if (it == peers_.end() || !it->second.connection) return;
  session_.bytes_sent(*it->second.connection, bytes, now);
  pump(now);
}

// --- uTP -----------------------------------------------------------------------------------

void client::utp_received(std::span<const utp_datagram> batch, time_point now) {
  if (!utp_) return;
  for (const utp_datagram& d : batch) utp_->received(d.from, d.data, now);
  pump(now);
}

void client::route_utp(utp::output o, time_point now) {
  if (auto* d = std::get_if<utp::out::datagram>(&o)) {
    out_.push_back(client_out::utp_send{d->to, std::move(d->data)});
    return;
  }
  if (auto* a = std::get_if<utp::out::accepted>(&o)) {  // as accept_peer
    const host_peer p{next_peer_++};
    peer_state& s = peers_[p.value];
    s.open = true;
    s.utp = a->id;
    peer_of_utp_[a->id] = p.value;
    s.connection = session_.accept_connection(a->from, now, dialable::yes);
    peer_of_connection_[s.connection->value] = p.value;
    if (mse_) mse_->accepted(*this, p);  // MSE or plain, as its first bytes say
    out_.push_back(client_event{peer_channel_event{s.torrent, p, *s.connection, false, true}});
    return;
  }
  const utp::socket_id id = std::visit([](const auto& x) -> utp::socket_id {
    if constexpr (requires { x.id; }) return x.id; else return 0;
  }, o);
  auto pu = peer_of_utp_.find(id);
  if (pu == peer_of_utp_.end()) return;
  const host_peer p{pu->second};
  auto it = peers_.find(p.value);
  if (it == peers_.end()) return;
  peer_state& s = it->second;
  if (std::holds_alternative<utp::out::connected>(o)) {
    if (s.probe) end_probe(host_peer{*s.probe});
    s.open = true;
    if (s.mse) mse_->opened(*this, p, now);  // MSE's first message
    session_.connection_opened(*s.connection, now);
    out_.push_back(client_event{peer_channel_event{s.torrent, p, *s.connection, true, true}});
  } else if (auto* d = std::get_if<utp::out::data>(&o)) {
    if (s.mse) mse_->received(*this, p, d->bytes, now);
    else if (s.connection) session_.bytes_received(*s.connection, d->bytes, now);
  } else if (auto* sent = std::get_if<utp::out::sent>(&o)) {
    if (s.connection) session_.bytes_sent(*s.connection, sent->bytes, now);
  } else if (auto* c = std::get_if<utp::out::closed>(&o)) {
    peer_of_utp_.erase(pu);
    if (s.probe) end_probe(host_peer{*s.probe});
    if (!c->was_connected && s.dialled) {
      dial_tcp_instead(p, s);
      return;
    }
    // The peer hung up on our MSE handshake: a plain redial (over TCP) replaces it.
    if (s.mse && mse_->closed(*this, p, now)) return;
    s.utp.reset();
    if (s.connection) {
      session_.connection_closed(*s.connection, now);
      peer_of_connection_.erase(s.connection->value);
    }
    peers_.erase(it);
  }
}

// No uTP at a dialled address: TCP instead, the session none the wiser.
void client::dial_tcp_instead(host_peer p, peer_state& s) {
  s.utp.reset();
  s.mse.reset();
  if (mse_) mse_->dialling(*this, p, s.torrent, s.utp_remote);
  out_.push_back(client_out::connect{p, s.utp_remote});
}

void client::utp_unreachable(const wire::endpoint& to, time_point now) {
  if (!utp_) return;
  for (auto& [id, s] : peers_) {
    if (!s.utp || s.open || !s.dialled || s.utp_remote != to) continue;
    peer_of_utp_.erase(*s.utp);
    utp_closing_.push_back(*s.utp);
    if (s.probe) end_probe(host_peer{*s.probe});
    dial_tcp_instead(host_peer{id}, s);
  }
  pump(now);
}

// --- time and outputs -----------------------------------------------------------------------

// A dead address leaves a uTP dial unanswered for its whole timeout (Node's UDP sockets do
// not see the ICMP "port unreachable"), so 200 dead addresses from a tracker held the live
// ones back for a minute. A dial still unanswered after utp_probe_delay gets a TCP
// connection beside it, which tells in one round trip: refused means no BitTorrent client
// is there (clients listen on both), and the dial ends; connected, it is closed unused and
// uTP goes on. Not at once: a client such as Transmission drops a second connection from
// an address it is already handshaking with, and a live peer answers uTP before the delay.
void client::start_probes(time_point now) {
  while (!probes_due_.empty() && probes_due_.front().first <= now) {
    const std::uint32_t dial = probes_due_.front().second;
    probes_due_.pop_front();
    auto it = peers_.find(dial);
    if (it == peers_.end() || !it->second.utp || it->second.open || it->second.probe) continue;
    const host_peer q{next_peer_++};
    it->second.probe = q.value;
    const torrent_id torrent = it->second.torrent;
    const wire::endpoint remote = it->second.utp_remote;
    peer_state& probe = peers_[q.value];
    probe.torrent = torrent;
    probe.probe_of = dial;
    out_.push_back(client_out::connect{q, remote});
  }
}

void client::on_timer(time_point now) {
  start_probes(now);
  for (const auto& [t, s] : torrents_) update_tracker_stats(t);
  if (mse_) mse_->on_timer(*this, now);
  session_.on_timer(now);
  tracker_.on_timer(now);
  if (net_) net_->on_timer(now);
  if (utp_) utp_->on_timer(now);
  pump(now);
}

std::optional<time_point> client::next_deadline() const {
  std::optional<time_point> next;
  for (auto d : {session_.next_deadline(), tracker_.next_deadline(), net_ ? net_->next_deadline() : std::nullopt,
                 utp_ ? utp_->next_deadline() : std::nullopt,
                 probes_due_.empty() ? std::nullopt : std::optional<time_point>(probes_due_.front().first)})
    if (d) next = next ? std::min(*next, *d) : d;
  if (auto d = mse_ ? mse_->next_deadline(*this) : std::nullopt) next = next ? std::min(*next, *d) : d;
  return next;
}

std::optional<client_output> client::poll() {
  if (out_.empty()) return std::nullopt;
  client_output o = std::move(out_.front());
  out_.pop_front();
  return o;
}

// --- routing ------------------------------------------------------------------------------------

std::optional<torrent_id> client::torrent_of(const ws_tracker::id20& info_hash) const {
  for (const auto& [t, s] : torrents_)
    if (s.info_hash == info_hash) return t;
  return std::nullopt;
}

// A uTP dial's TCP probe is closed unused; its dial forgets it.
void client::end_probe(host_peer q) {
  auto it = peers_.find(q.value);
  if (it == peers_.end() || !it->second.probe_of) return;
  if (auto d = peers_.find(*it->second.probe_of); d != peers_.end() && d->second.probe == q.value) d->second.probe.reset();
  close_peer(q, "probe done");
}

void client::close_peer(host_peer p, std::string reason) {
  auto it = peers_.find(p.value);
  if (it == peers_.end()) return;
  if (const auto probe = it->second.probe) {  // a dial that ends takes its probe along
    it->second.probe.reset();
    end_probe(host_peer{*probe});
    it = peers_.find(p.value);
  }
  if (it->second.connection) peer_of_connection_.erase(it->second.connection->value);
  if (auto u = it->second.utp) {  // the host has no socket for it: a FIN at the next pump
    peer_of_utp_.erase(*u);
    utp_closing_.push_back(*u);
    peers_.erase(it);
    return;
  }
  peers_.erase(it);
  out_.push_back(client_out::close_peer{p, std::move(reason)});
}

void client::route_tracker(ws_tracker::output o, time_point now) {
  using namespace ws_tracker;
  if (auto* open_req = std::get_if<open_socket>(&o)) {
    out_.push_back(client_out::open_socket{std::move(open_req->url)});
  } else if (auto* text = std::get_if<send_text>(&o)) {
    out_.push_back(client_out::send_text{std::move(text->url), std::move(text->text)});
  } else if (auto* close_req = std::get_if<close_socket>(&o)) {
    out_.push_back(client_out::close_socket{std::move(close_req->url)});
  } else if (auto* wanted = std::get_if<create_offers>(&o)) {
    const auto t = torrent_of(wanted->info_hash);
    if (!t || wanted->offer_ids.empty()) {
      tracker_.offers_created(wanted->url, wanted->info_hash, {}, now);
      return;
    }
    const std::uint64_t b = next_batch_++;
    offer_batch& batch = batches_[b];
    batch.url = wanted->url;
    batch.info_hash = wanted->info_hash;
    for (const auto& offer_id : wanted->offer_ids) {
      const host_peer p{next_peer_++};
      peer_state& s = peers_[p.value];
      s.torrent = *t;
      s.offerer = true;
      s.batch = b;
      s.offer_id = offer_id;
      s.url = wanted->url;
      batch.waiting[p.value] = offer_id;
      out_.push_back(client_out::create_offer{p});
    }
  } else if (auto* offer = std::get_if<answer_offer>(&o)) {
    const auto t = torrent_of(offer->info_hash);
    if (!t) return;
    const host_peer p{next_peer_++};
    peer_state& s = peers_[p.value];
    s.torrent = *t;
    s.url = offer->url;
    s.remote_peer_id = offer->peer_id;
    s.offer_id = offer->offer_id;
    s.answerer = true;
    out_.push_back(client_out::create_answer{p, std::move(offer->sdp)});
  } else if (auto* answer = std::get_if<answer_received>(&o)) {
    for (const auto& [id, s] : peers_) {
      if (s.offerer && !s.batch && !s.open && s.offer_id == answer->offer_id && s.url == answer->url) {
        out_.push_back(client_out::set_answer{host_peer{id}, std::move(answer->sdp)});
        return;
      }
    }
  } else if (auto* cancel = std::get_if<offer_cancelled>(&o)) {
    for (const auto& [id, s] : peers_) {
      if (s.offerer && !s.open && s.offer_id == cancel->offer_id && s.url == cancel->url) {
        close_peer(host_peer{id}, "offer cancelled");
        return;
      }
    }
  } else if (auto* announced = std::get_if<announce_result>(&o)) {
    if (auto t = torrent_of(announced->info_hash)) {
      // The swarm is only us: the web seeds need not leave the start to peers.
      if (announced->complete && announced->incomplete && *announced->complete + *announced->incomplete <= 1)
        session_.end_web_seed_grace(*t, now);
      out_.push_back(client_event{tracker_announce_event{*t, std::move(announced->url), announced->complete, announced->incomplete}});
    }
  } else if (auto* warn = std::get_if<warning>(&o)) {
    std::optional<torrent_id> t;
    if (warn->info_hash) t = torrent_of(*warn->info_hash);
    out_.push_back(client_event{tracker_warning_event{t, std::move(warn->url), std::move(warn->err)}});
  }
}

void client::route_addressed(addressed_output o, time_point now) {
  if (auto* found = std::get_if<addressed_out::peers_found>(&o)) {
    // A torrent's DHT lookup: the host hears the peers too (bittorrent-dht's 'peer' events
    // come for every lookup), as op 0.
    if (found->source == peer_source::dht)
      out_.push_back(client_event{dht_peers_event{0, found->info_hash, found->peers, found->from}});
    if (auto t = torrent_of(found->info_hash))
      for (const auto& e : found->peers)
        session_.add_peer(*t, e, now, found->source);
  } else if (auto* announced = std::get_if<addressed_out::announced>(&o)) {
    if (auto t = torrent_of(announced->info_hash)) {
      if (announced->complete && announced->incomplete && *announced->complete + *announced->incomplete <= 1)
        session_.end_web_seed_grace(*t, now);
      out_.push_back(client_event{tracker_announce_event{*t, std::move(announced->url), announced->complete, announced->incomplete}});
    }
  } else if (auto* warn = std::get_if<addressed_out::warning>(&o)) {
    std::optional<torrent_id> t;
    if (warn->info_hash) t = torrent_of(*warn->info_hash);
    out_.push_back(client_event{tracker_warning_event{t, std::move(warn->url), std::move(warn->err)}});
  } else if (auto* scraped = std::get_if<addressed_out::scraped>(&o)) {
    if (auto t = torrent_of(scraped->info_hash))
      out_.push_back(client_event{tracker_scrape_event{*t, std::move(scraped->url), scraped->complete,
                                                       scraped->incomplete, scraped->downloaded}});
  } else if (auto* done = std::get_if<addressed_out::dht_announced>(&o)) {
    if (auto t = torrent_of(done->info_hash))
      out_.push_back(client_event{dht_announce_event{*t, done->peers, done->announced_to}});
  } else if (auto* got = std::get_if<addressed_out::dht_item>(&o)) {
    out_.push_back(client_event{std::move(*got)});
  } else if (auto* put = std::get_if<addressed_out::dht_put>(&o)) {
    out_.push_back(client_event{std::move(*put)});
  } else if (auto* boot = std::get_if<addressed_out::dht_bootstrapped>(&o)) {
    out_.push_back(client_event{*boot});
  } else if (auto* looked = std::get_if<addressed_out::dht_lookup>(&o)) {
    out_.push_back(client_event{*looked});
  } else if (auto* peers = std::get_if<addressed_out::dht_peers>(&o)) {
    out_.push_back(client_event{std::move(*peers)});
  } else {  // tracker_get, udp_send, udp_close, dht_send, lsd_send: for the host
    std::visit([this](auto& host_output) {
      if constexpr (std::is_constructible_v<client_output, decltype(std::move(host_output))>)
        out_.push_back(std::move(host_output));
    }, static_cast<addressed_output::variant&>(o));
  }
}

void client::route_event(session_event e, time_point now) {
  if (auto* f = std::get_if<torrent_finished_event>(&e)) {
    // Finished the selection: "completed" only when that is every piece.
    auto it = torrents_.find(f->torrent);
    auto st = session_.stats(f->torrent);
    update_tracker_stats(f->torrent);
    if (it != torrents_.end() && !it->second.complete && st && st->has_metadata && st->have >= st->total) {
      it->second.complete = true;
      if (it->second.registered) tracker_.completed(it->second.info_hash, now);
      if (it->second.announcing) net_->completed(it->second.info_hash, now);
    }
  } else if (auto* m = std::get_if<metadata_received_event>(&e)) {
    update_tracker_stats(m->torrent);
    // A magnet's torrent turned out private (BEP 27): trackers only from now on.
    if (session_.torrent_is_private(m->torrent)) {
      leave_dht(m->torrent);
      leave_lsd(m->torrent);
    }
  } else if (auto* pc = std::get_if<peer_connected_event>(&e); pc && mse_) {
    mse_->connected(*this, *pc);
  } else if (auto* w = std::get_if<warning_event>(&e); w && w->torrent.value == 0) {
    // A peer that failed before its handshake named a torrent (garbage instead of a
    // handshake): the data channel it came through was for one.
    if (auto c = peer_of_connection_.find(w->connection.value); c != peer_of_connection_.end())
      if (auto p = peers_.find(c->second); p != peers_.end()) w->torrent = p->second.torrent;
  }
  out_.push_back(client_event{std::move(e)});
}

void client::pump(time_point now) {
  bool progress = true;
  while (progress) {
    progress = false;
    while (auto o = tracker_.poll()) {
      progress = true;
      route_tracker(std::move(*o), now);
    }
    while (net_) {
      auto o = net_->poll();
      if (!o) break;
      progress = true;
      route_addressed(std::move(*o), now);
    }
    while (auto r = session_.poll_storage()) out_.push_back(client_out::storage{std::move(*r)});
    while (auto r = session_.poll_http()) out_.push_back(client_out::http{std::move(*r)});
    while (auto t = session_.poll_transmit()) {
      progress = true;
      auto it = peer_of_connection_.find(t->connection.value);
      if (it == peer_of_connection_.end()) continue;
      auto ps = peers_.find(it->second);
      if (ps == peers_.end()) continue;
      if (ps->second.mse)
        mse_->sending(*this, host_peer{it->second}, std::move(t->data));
      else
        send_to_peer(host_peer{it->second}, std::move(t->data));
    }
    // Events before closes: a warning about a connection the session closes is routed
    // while its channel (and so its torrent) is still known.
    while (auto e = session_.poll_event()) {
      progress = true;
      route_event(std::move(*e), now);
    }
    while (auto c = session_.poll_close()) {
      progress = true;
      auto it = peer_of_connection_.find(c->connection.value);
      if (it != peer_of_connection_.end()) close_peer(host_peer{it->second}, std::move(c->reason));
    }
    while (auto c = session_.poll_connect()) {
      progress = true;
      if (!settings_.dial_peers) {  // no transport to dial an address with (the browser)
        session_.connection_closed(c->connection, now);
        continue;
      }
      const host_peer p{next_peer_++};
      peer_state& s = peers_[p.value];
      s.torrent = c->torrent;
      s.dialled = true;
      s.connection = c->connection;
      peer_of_connection_[c->connection.value] = p.value;
      // MSE (as the policy says) over uTP first (as WebTorrent; IPv6 too, as libtorrent), TCP
      // if it fails.
      if (mse_) mse_->dialling(*this, p, c->torrent, c->remote);
      if (utp_) {
        s.utp = utp_->connect(c->remote, now);
        s.utp_remote = c->remote;
        peer_of_utp_[*s.utp] = p.value;
        probes_due_.emplace_back(now + settings_.utp_probe_delay, p.value);
        out_.push_back(client_out::utp_probe{c->remote});
        continue;
      }
      out_.push_back(client_out::connect{p, c->remote});
    }
    if (utp_) {
      for (const utp::socket_id id : std::exchange(utp_closing_, {})) utp_->close(id, now);
      utp_->flush(now);
      while (auto o = utp_->poll()) {
        if (!std::holds_alternative<utp::out::datagram>(*o)) progress = true;
        route_utp(std::move(*o), now);
      }
    }
  }
  // Offers per announce: no more than the connections each torrent still has room for
  // (its channels and the offers still out count), counted in one pass over the
  // connections (one pass per torrent made 400 torrents quadratic, at every input).
  std::vector<std::uint32_t> torrent_of_peer;  // sorted
  bool counted = false;
  for (const auto& [t, ts] : torrents_) {
    if (!ts.registered) continue;
    if (!std::exchange(counted, true)) {
      torrent_of_peer.reserve(peers_.size());
      for (const auto& [id, p] : peers_) torrent_of_peer.push_back(p.torrent.value);
      std::sort(torrent_of_peer.begin(), torrent_of_peer.end());
    }
    const std::size_t most = session_.connection_share(t);
    const auto [first, last] = std::equal_range(torrent_of_peer.begin(), torrent_of_peer.end(), t.value);
    const auto used = static_cast<std::size_t>(last - first);
    tracker_.set_peer_room(ts.info_hash, used >= most ? 0 : most - used);
    if (ts.announcing) net_->set_numwant(ts.info_hash, static_cast<std::uint32_t>(used >= most ? 0 : most - used));
  }
}

}  // namespace wt
