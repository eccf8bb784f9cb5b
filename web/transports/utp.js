// uTP's UDP sockets under Node (BEP 29; the protocol is the engine's, src/utp): one IPv4 and
// one IPv6 socket on the torrent port (the TCP listening port, as WebTorrent and libtorrent
// share it). Datagrams go to the engine as they arrive and out as it asks; it demultiplexes
// them into connections, which it hands to its session like TCP sockets. Two sockets rather
// than one dual-stack one: an IPv4 peer keeps its plain address, and a host without IPv6
// still has uTP over IPv4. The datagrams of one turn of the event loop go to the engine
// together, so that its connections acknowledge them with one STATE packet, not one each.
import dgram from 'node:dgram'
import { endpointText } from './tcp.js'

const LINGER = 500 // ms: the sockets stay open this long after close() for the last FINs
// Kernel buffers asked for (Linux caps them at net.core.rmem_max / wmem_max): a window of
// packets that arrives at once is not dropped for want of room.
const BUFFER = 4 << 20
const MOST_BATCHED = 64 // datagrams handed to the engine in one call
const MOST_PROBES = 256 // probes' sockets open at once (one per uTP dial, see probe())
const PROBE_TIME = 3000 // ms a probe's socket waits for the refusal
const EMPTY = new Uint8Array(0)

export class UtpTransport {
  constructor ({ input, heap }) {
    this.input = input
    this.heap = heap
    this.sockets = { 4: null, 6: null }
    this.batch = [] // [sender "host:port", datagram], until the next setImmediate
    this.probes = 0
  }

  // Binds the sockets; resolves with the port (rejects with the reason the IPv4 one could
  // not bind; without IPv6, or with its port taken, uTP is IPv4 only).
  async listen (port) {
    const v4 = await this._bind(4, port)
    this.sockets[4] = v4
    const bound = v4.address().port
    this.sockets[6] = await this._bind(6, bound).catch(() => null)
    return bound
  }

  _bind (family, port) {
    return new Promise((resolve, reject) => {
      const options = { type: `udp${family}`, recvBufferSize: BUFFER, sendBufferSize: BUFFER }
      const socket = dgram.createSocket(family === 6 ? { ...options, ipv6Only: true } : options)
      socket.once('error', err => {
        try { socket.close() } catch {}
        reject(err.code === 'EADDRINUSE' ? new Error(`UDP port ${port} is in use`, { cause: err }) : err)
      })
      socket.bind(port, () => {
        socket.removeAllListeners('error')
        socket.on('error', () => {}) // a failed send (ICMP unreachable): the engine retransmits or gives up
        socket.on('message', (data, from) => {
          if (this.sockets[family] !== socket || data.length > 0xffff) return
          const address = endpointText(from.address, from.port)
          if (this.batch.push([address, data]) === 1) setImmediate(() => this._deliver())
          else if (this.batch.length >= MOST_BATCHED) this._deliver()
        })
        resolve(socket)
      })
    })
  }

  _deliver () {
    const batch = this.batch
    if (batch.length === 0) return
    this.batch = []
    const length = batch.reduce((n, [, data]) => n + 2 + data.length, 0)
    this.input((E, t) => {
      const ptr = E.reserve(length)
      const heap = this.heap()
      let at = ptr
      for (const [, data] of batch) {
        heap[at] = data.length >> 8
        heap[at + 1] = data.length & 0xff
        heap.set(data, at + 2)
        at += 2 + data.length
      }
      E.utpReceived(batch.map(([address]) => address).join(' '), length, t)
    })
  }

  send (host, port, data) {
    this.lastSend = performance.now()
    this.sockets[host.includes(':') ? 6 : 4]?.send(data, port, host)
  }

  // The engine's utpProbe: an empty datagram (no uTP packet: a peer ignores it) from a socket
  // connected to the address. The shared sockets above never hear the ICMP "port
  // unreachable" of a dead address, so a uTP dial there would wait out its SYNs; a connected
  // socket is told (ECONNREFUSED), and the engine dials TCP at once.
  probe (host, port) {
    if (this.probes >= MOST_PROBES || !this.sockets[4]) return
    this.probes++
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.unref() // a probe never keeps the process alive (client.destroy() then exit)
    let closed = false
    const close = () => {
      if (closed) return
      closed = true
      this.probes--
      clearTimeout(timer)
      try { socket.close() } catch {}
    }
    const timer = setTimeout(close, PROBE_TIME)
    timer.unref?.()
    socket.on('error', err => {
      close()
      if (err.code === 'ECONNREFUSED' && this.sockets[4]) {
        const address = endpointText(host, port)
        this.input((E, t) => E.utpUnreachable(address, t))
      }
    })
    socket.connect(port, host, err => { // a failed connect (no route, say) comes here, not as 'error'
      if (err) close()
      else if (!closed) socket.send(EMPTY)
    })
  }

  // Resolves once the sockets are closed (after the linger, when something was sent within
  // it), so that the port is free: client.destroy() waits for it, and a client made next
  // on the same port can bind it.
  close () {
    this.batch = []
    const linger = this.lastSend === undefined ? 0 : Math.max(0, LINGER - (performance.now() - this.lastSend))
    const closed = []
    for (const family of [4, 6]) {
      const socket = this.sockets[family]
      this.sockets[family] = null
      if (socket) {
        closed.push(new Promise(resolve => setTimeout(() => {
          try { socket.close(resolve) } catch { resolve() }
        }, linger)))
      }
    }
    return Promise.all(closed)
  }
}
