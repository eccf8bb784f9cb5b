// Local Service Discovery's multicast sockets under Node (the protocol is the engine's,
// src/lsd): one UDP socket per family bound to port 6771 (shared with other clients on the
// machine: reuseAddr), joined to the BEP 14 group, multicast loopback on so that processes
// on one machine hear each other, TTL 1 so that announces stay on the local link. What
// arrives goes to the engine with its source address; the engine's announces go out to
// the group of their family. A family whose socket cannot join its group (no multicast
// route, no IPv6) is left out; with neither, there is no LSD.
import dgram from 'node:dgram'
import { endpointText } from './tcp.js'

export const LSD_PORT = 6771
const GROUPS = { 4: '239.192.152.143', 6: 'ff15::efc0:988f' }

export class LsdTransport {
  constructor ({ input, heap }) {
    this.input = input
    this.heap = heap
    this.sockets = {} // family (4, 6) -> dgram.Socket
  }

  // Resolves with the families joined ([] when none could be).
  async listen () {
    for (const family of [4, 6]) {
      const socket = await this._open(family).catch(() => null)
      if (socket) this.sockets[family] = socket
    }
    return Object.keys(this.sockets).map(Number)
  }

  _open (family) {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: true })
      socket.once('error', err => {
        try { socket.close() } catch {} // a socket whose bind failed may not be running
        reject(err)
      })
      socket.bind(LSD_PORT, () => {
        try {
          socket.addMembership(GROUPS[family])
          socket.setMulticastLoopback(true)
          socket.setMulticastTTL(1)
        } catch (err) {
          socket.close()
          return reject(err)
        }
        socket.removeAllListeners('error')
        socket.on('error', () => {}) // a failed send is one lost announce: the next one comes
        socket.on('message', (data, from) => {
          if (this.sockets[family] !== socket) return
          // A link-local sender (fe80::/10) is only reachable through its interface, which
          // the engine's addresses do not carry: TCP cannot dial it without, and a uTP dial
          // may leave by another. Such a peer is met over IPv4 LSD or another address.
          if (family === 6 && /^fe[89ab]/i.test(from.address)) return
          const address = endpointText(from.address, from.port)
          this.input((E, t) => {
            const ptr = E.reserve(data.length)
            this.heap().set(data, ptr)
            E.lsdReceived(address, data.length, t)
          })
        })
        resolve(socket)
      })
    })
  }

  send (v6, data) {
    const family = v6 ? 6 : 4
    this.sockets[family]?.send(data, LSD_PORT, GROUPS[family])
  }

  close () {
    for (const socket of Object.values(this.sockets)) socket.close()
    this.sockets = {}
  }
}
