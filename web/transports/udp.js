// UDP tracker transport of the Node host (BEP 15): one datagram socket per tracker URL,
// connected to its host:port (resolved here, the engine has no DNS), so that whatever
// arrives on it is that tracker's. The engine does the protocol: connection ids,
// transaction ids, retransmissions.
import dgram from 'node:dgram'
import { lookup } from 'node:dns/promises'

export class UdpTrackerTransport {
  constructor ({ input, heap }) {
    this.input = input
    this.heap = heap
    this.sockets = new Map() // url -> { socket: Promise<dgram.Socket>, v6 }
  }

  send (url, data) {
    let entry = this.sockets.get(url)
    if (!entry) {
      entry = { socket: this._open(url), v6: false }
      this.sockets.set(url, entry)
      entry.socket.catch(err => this._failed(url, entry, err))
    }
    entry.socket.then(socket => socket.send(data), () => {})
  }

  async _open (url) {
    const { hostname, port } = new URL(url)
    if (!port) throw new Error('no port in the tracker URL')
    const { address, family } = await lookup(hostname.replace(/^\[|\]$/g, ''))
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
    const entry = this.sockets.get(url)
    if (entry) entry.v6 = family === 6
    socket.on('message', data => {
      const current = this.sockets.get(url)
      if (!current) return
      this.input((E, t) => {
        const ptr = E.reserve(data.length)
        this.heap().set(data, ptr)
        E.udpReceived(url, data.length, current.v6, t)
      })
    })
    socket.on('error', err => this._failed(url, this.sockets.get(url), err))
    await new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.connect(Number(port), address, () => { socket.off('error', reject); resolve() })
    })
    return socket
  }

  _failed (url, entry, err) {
    if (!entry || this.sockets.get(url) !== entry) return
    this.close(url)
    this.input((E, t) => E.udpFailed(url, String(err?.message ?? err), t))
  }

  close (url) {
    const entry = this.sockets.get(url)
    if (!entry) return
    this.sockets.delete(url)
    entry.socket.then(socket => socket.close(), () => {})
  }

  closeAll () {
    for (const url of [...this.sockets.keys()]) this.close(url)
  }
}
