// UDP tracker transport of the Node host (BEP 15): one datagram socket per tracker URL,
// connected to its host:port (resolved here, the engine has no DNS), so that whatever
// arrives on it is that tracker's. The engine does the protocol: connection ids,
// transaction ids, retransmissions.
//
// A name may have several addresses (IPv4 and IPv6, several servers). They are tried IPv4
// first, as WebTorrent's bittorrent-tracker (which asks for IPv4 only) reaches a name; the
// next one is tried when the current one refuses (ICMP port unreachable: ECONNREFUSED) or
// cannot be reached, and when it has not answered by the engine's first retransmission (15 s),
// and the datagrams it left unanswered go to the next at once.
import dgram from 'node:dgram'
import { lookup as dnsLookup } from 'node:dns/promises'

const UNANSWERED_KEPT = 32 // datagrams kept for the next address (one per torrent's request)

export class UdpTrackerTransport {
  // lookup and silenceMs: for tests (a name with chosen addresses; a shorter wait).
  constructor ({ input, heap, lookup = dnsLookup, silenceMs = 10_000 }) {
    this.input = input
    this.heap = heap
    this.lookup = lookup
    this.silenceMs = silenceMs
    this.sockets = new Map() // url -> entry (see send)
  }

  send (url, data) {
    let entry = this.sockets.get(url)
    if (!entry) {
      // addresses: the name's, IPv4 first; at: the one in use; socket: connected to it once
      // `connected`; heard: it answered; firstSent: when it was first sent to; unanswered:
      // what it was sent before its first answer.
      entry = { url, port: 0, addresses: [], at: 0, socket: null, connected: false, v6: false, heard: false, firstSent: 0, unanswered: [] }
      this.sockets.set(url, entry)
      this._resolve(entry)
    }
    if (!entry.heard) {
      entry.unanswered.push(data)
      if (entry.unanswered.length > UNANSWERED_KEPT) entry.unanswered.shift()
    }
    if (!entry.connected) return // sent once connected
    const silent = !entry.heard && Date.now() - entry.firstSent >= this.silenceMs
    if (silent && entry.addresses.length > 1) return this._next(entry, null)
    entry.socket.send(data)
  }

  async _resolve (entry) {
    try {
      const { hostname, port } = new URL(entry.url)
      if (!port) throw new Error('no port in the tracker URL')
      const found = await this.lookup(hostname.replace(/^\[|\]$/g, ''), { all: true })
      if (this.sockets.get(entry.url) !== entry) return
      if (found.length === 0) throw new Error(`no address for ${hostname}`)
      entry.port = Number(port)
      entry.addresses = [...found].sort((a, b) => a.family - b.family)
      this._connect(entry)
    } catch (err) {
      this._failed(entry, err)
    }
  }

  _connect (entry) {
    const { address, family } = entry.addresses[entry.at]
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
    const current = () => entry.socket === socket && this.sockets.get(entry.url) === entry
    Object.assign(entry, { socket, connected: false, v6: family === 6, heard: false, firstSent: 0 })
    socket.on('message', data => {
      if (!current()) return
      entry.heard = true
      entry.unanswered = []
      this.input((E, t) => {
        const ptr = E.reserve(data.length)
        this.heap().set(data, ptr)
        E.udpReceived(entry.url, data.length, entry.v6, t)
      })
    })
    socket.on('error', err => { if (current()) this._next(entry, err) })
    socket.connect(entry.port, address, () => {
      if (!current()) return
      entry.connected = true
      entry.firstSent = Date.now()
      for (const data of entry.unanswered) socket.send(data)
    })
  }

  // The next address, after an error (each address once; an address that had answered
  // reports the error: the tracker was reached, the engine decides) or a silence (round
  // the addresses, err null).
  _next (entry, err) {
    if (this.sockets.get(entry.url) !== entry) return
    if (err && (entry.heard || entry.at + 1 >= entry.addresses.length)) return this._failed(entry, err)
    closeQuietly(entry.socket)
    entry.at = (entry.at + 1) % entry.addresses.length
    this._connect(entry)
  }

  _failed (entry, err) {
    if (this.sockets.get(entry.url) !== entry) return
    this.close(entry.url)
    this.input((E, t) => E.udpFailed(entry.url, String(err?.message ?? err), t))
  }

  close (url) {
    const entry = this.sockets.get(url)
    if (!entry) return
    this.sockets.delete(url)
    closeQuietly(entry.socket)
  }

  closeAll () {
    for (const url of [...this.sockets.keys()]) this.close(url)
  }
}

function closeQuietly (socket) {
  try { socket?.close() } catch {} // closed already
}
