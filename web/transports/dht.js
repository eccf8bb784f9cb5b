// The DHT's UDP sockets under Node (the protocol is the engine's, src/dht): an IPv4 socket
// on dhtPort, and an IPv6 one on the same port where the host has IPv6 (the engine then runs
// an IPv6 node too, BEP 32); bootstrap routers resolved here to addresses of both families
// (the engine has no DNS); the node table kept in a file between runs, so that a restart
// needs no router.
import dgram from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { readFile, writeFile, rename } from 'node:fs/promises'
import path from 'node:path'
import { makeDirs } from '../storage/fs.js'

// The routers BitTorrent clients commonly start from.
export const DEFAULT_BOOTSTRAP = ['router.bittorrent.com:6881', 'router.utorrent.com:6881',
  'dht.transmissionbt.com:6881', 'dht.libtorrent.org:25401']
const MAX_STATE = 64 * 1024 // the engine refuses more anyway

export class DhtTransport {
  // stateFile: where the node table is kept (null: nowhere).
  constructor ({ input, heap, stateFile = null }) {
    this.input = input
    this.heap = heap
    this.stateFile = stateFile
    this.socket = null
    this.socket6 = null // null: no IPv6 DHT
  }

  // Binds the IPv4 socket, then an IPv6 one on the same port; resolves with the port
  // (rejects with the reason the IPv4 socket could not be bound; without IPv6 there is
  // only the IPv4 DHT).
  async listen (port = 0) {
    const socket = await this._bind('udp4', port).catch(err => {
      throw err.code === 'EADDRINUSE' ? new Error(`dhtPort ${port} is in use`, { cause: err }) : err
    })
    this.socket = socket
    const bound = socket.address().port
    this.socket6 = await this._bind('udp6', bound).catch(() => null)
    return bound
  }

  get ipv6 () { return this.socket6 !== null }

  _bind (type, port) {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' })
      socket.once('error', err => { socket.close(); reject(err) })
      socket.bind(port, () => {
        socket.removeAllListeners('error')
        socket.on('error', () => {}) // a failed send (ICMP unreachable) is one lost query
        socket.on('message', (data, from) => {
          if (this.socket !== socket && this.socket6 !== socket) return
          const address = from.family === 'IPv6' ? `[${from.address}]:${from.port}` : `${from.address}:${from.port}`
          this.input((E, t) => {
            const ptr = E.reserve(data.length)
            this.heap().set(data, ptr)
            E.dhtReceived(address, data.length, t)
          })
        })
        resolve(socket)
      })
    })
  }

  send (host, port, data) {
    const socket = host.includes(':') ? this.socket6 : this.socket
    socket?.send(data, port, host)
  }

  // "host:port" entries -> "ip:port" and "[ip6]:port" (IPv6 ones only with an IPv6 socket):
  // every address of a name, as a router may have several; names that do not resolve are
  // left out.
  async resolve (list) {
    const out = await Promise.all(list.map(async entry => {
      const m = /^(.*):(\d+)$/.exec(String(entry))
      if (!m) return []
      try {
        const found = await lookup(m[1].replace(/^\[|\]$/g, ''), { all: true })
        return found.filter(a => a.family === 4 || (a.family === 6 && this.ipv6))
          .map(a => a.family === 6 ? `[${a.address}]:${m[2]}` : `${a.address}:${m[2]}`)
      } catch {
        return []
      }
    }))
    return out.flat()
  }

  async loadState () {
    if (!this.stateFile) return null
    try {
      const bytes = await readFile(this.stateFile)
      return bytes.length <= MAX_STATE ? new Uint8Array(bytes) : null
    } catch {
      return null
    }
  }

  // Written whole or not at all (a temporary file renamed over the old one).
  async saveState (bytes) {
    if (!this.stateFile || !bytes?.length) return
    try {
      await makeDirs(path.dirname(this.stateFile))
      const tmp = `${this.stateFile}.${process.pid}.tmp`
      await writeFile(tmp, bytes)
      await rename(tmp, this.stateFile)
    } catch {} // a cache: losing it costs one bootstrap
  }

  // Resolves once the sockets are closed (the port free for a client made next).
  close () {
    const closed = [this.socket, this.socket6].filter(Boolean).map(socket => new Promise(resolve => {
      try { socket.close(resolve) } catch { resolve() }
    }))
    this.socket = null
    this.socket6 = null
    return Promise.all(closed)
  }
}
