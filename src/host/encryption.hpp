// MSE (wire/mse.hpp) on the client's TCP and uTP connections: what the client facade does for
// it, behind virtual calls, so that only a module whose client has the addressed network (the
// Node module) links it; the browser's, whose peers are data channels, does not.
//
// An accepted connection is answered in MSE or plain BitTorrent, as its first bytes say (plain
// refused with encryption_policy::required). A dial starts with the MSE handshake unless the
// policy is plain or a plain redial to the address worked before. A dial with MSE whose peer
// hangs up, fails the handshake or has not sent its BitTorrent handshake within
// client_settings::encryption_timeout is dialled again in plain BitTorrent at once, over TCP
// (not with `required`), the session's bytes so far replayed on the new socket: the session
// sees one connection throughout. The session's bytes wait while the MSE handshake runs. The
// bytes go out through client::send_to_peer, which knows a peer's transport.
#pragma once

#include <memory>
#include <optional>

#include "host/client.hpp"

namespace wt {

class peer_encryption {
 public:
  virtual ~peer_encryption() = default;
  // A connection the host or the uTP sockets accepted (its peer state exists).
  virtual void accepted(client& c, host_peer p) = 0;
  // A dial about to go out, over uTP or TCP (its peer state exists).
  virtual void dialling(client& c, host_peer p, torrent_id t, const wire::endpoint& remote) = 0;
  // A dial's connection opened. True when handled here (a plain redial: the session has seen
  // the connection open already).
  virtual bool opened(client& c, host_peer p, time_point now) = 0;
  // Bytes from a connection that has state here.
  virtual void received(client& c, host_peer p, byte_view data, time_point now) = 0;
  // The session's bytes for a connection that has state here.
  virtual void sending(client& c, host_peer p, byte_buffer data) = 0;
  // A connection that has state here closed. True when a plain redial replaces it.
  virtual bool closed(client& c, host_peer p, time_point now) = 0;
  // The session met the peer (its BitTorrent handshake): sets e.encryption.
  virtual void connected(client& c, peer_connected_event& e) = 0;
  virtual void on_timer(client& c, time_point now) = 0;
  virtual std::optional<time_point> next_deadline(const client& c) const = 0;
};

std::unique_ptr<peer_encryption> make_peer_encryption(const client_settings& settings);

}  // namespace wt
