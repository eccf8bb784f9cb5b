// The DHT's UDP socket under Node (the protocol is the engine's, src/dht): one IPv4 socket
// on dhtPort; bootstrap routers resolved here (the engine has no DNS); the node table kept
// in a file between runs, so that a restart needs no router.
import dgram from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { readFile, writeFile, mkdir, rename } from 'node:fs/promises'
import path from 'node:path'

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
  }

  // Binds the socket; resolves with its port (rejects with the reason it could not).
  listen (port = 0) {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4')
      socket.once('error', err => reject(err.code === 'EADDRINUSE' ? new Error(`dhtPort ${port} is in use`, { cause: err }) : err))
      socket.bind(port, () => {
        socket.removeAllListeners('error')
        socket.on('error', () => {}) // a failed send (ICMP unreachable) is one lost query
        socket.on('message', (data, from) => {
          if (this.socket !== socket) return
          this.input((E, t) => {
            const ptr = E.reserve(data.length)
            this.heap().set(data, ptr)
            E.dhtReceived(`${from.address}:${from.port}`, data.length, t)
          })
        })
        this.socket = socket
        resolve(socket.address().port)
      })
    })
  }

  send (host, port, data) {
    this.socket?.send(data, port, host)
  }

  // "host:port" entries -> "ip:port" (IPv4); names that do not resolve are left out.
  async resolve (list) {
    const out = await Promise.all(list.map(async entry => {
      const m = /^(.*):(\d+)$/.exec(String(entry))
      if (!m) return null
      try {
        const { address } = await lookup(m[1].replace(/^\[|\]$/g, ''), { family: 4 })
        return `${address}:${m[2]}`
      } catch {
        return null
      }
    }))
    return out.filter(Boolean)
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
      await mkdir(path.dirname(this.stateFile), { recursive: true })
      const tmp = `${this.stateFile}.${process.pid}.tmp`
      await writeFile(tmp, bytes)
      await rename(tmp, this.stateFile)
    } catch {} // a cache: losing it costs one bootstrap
  }

  close () {
    this.socket?.close()
    this.socket = null
  }
}
