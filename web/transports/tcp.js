// TCP transport of the Node host: the sockets the engine dials (`connect` outputs: tracker,
// ut_pex, DHT and magnet x.pe addresses, torrent.addPeer) and the ones a listening server
// accepts, each an engine peer id like a data channel. Bytes go to the engine as they
// arrive; what the kernel has taken of our writes is reported (the engine's send buffer).
import net from 'node:net'

const CONNECT_TIMEOUT = 10000 // ms: an address that neither accepts nor refuses
const LINGER = 5000 // ms: a socket we closed may flush its last bytes this long

// An address as the engine reads it: "1.2.3.4:6881" or "[2001:db8::1]:6881" (an IPv4 client
// of a dual-stack socket shows as ::ffff:1.2.3.4; a zone id is dropped). Also for UDP senders.
export function endpointText (ip = '', port) {
  if (ip.startsWith('::ffff:') && ip.includes('.')) ip = ip.slice(7)
  ip = ip.replace(/%.*$/, '')
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

// A socket's remote, as endpointText.
export function addressOf (socket) {
  return endpointText(socket.remoteAddress, socket.remotePort)
}

export class TcpTransport {
  // input(fn): feeds fn(engine, now) to the engine and drains its outputs; heap(): the
  // engine's memory as bytes (it moves when memory grows).
  constructor ({ input, heap }) {
    this.input = input
    this.heap = heap
    this.sockets = new Map() // engine peer id -> net.Socket
    this.queued = new Map() // net.Socket -> bytes to write after this drain
    this.server = null
  }

  has (id) { return this.sockets.has(id) }

  // Accepts connections on `port` (0: any free port), on every address. Resolves with the
  // port; rejects when it cannot listen (EADDRINUSE: the message says which port).
  listen (port = 0) {
    return new Promise((resolve, reject) => {
      const server = net.createServer(socket => this._accepted(socket))
      server.once('error', err => {
        reject(err.code === 'EADDRINUSE' ? new Error(`torrentPort ${port} is in use`, { cause: err }) : err)
      })
      server.listen(port, () => {
        server.removeAllListeners('error')
        server.on('error', () => {}) // after listening, errors belong to sockets
        this.server = server
        resolve(server.address().port)
      })
    })
  }

  connect (id, host, port) {
    const socket = net.connect({ host, port })
    socket.setNoDelay(true) // the engine batches its writes already
    const timer = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT)
    socket.once('connect', () => {
      clearTimeout(timer)
      if (this.sockets.get(id) === socket) this.input((E, t) => E.channelOpened(id, t))
    })
    socket.once('close', () => clearTimeout(timer))
    this._attach(id, socket)
  }

  _accepted (socket) {
    socket.setNoDelay(true)
    let id = -1
    this.input((E, t) => { id = E.acceptPeer(addressOf(socket), t) })
    if (id < 0) return socket.destroy()
    this._attach(id, socket)
  }

  _attach (id, socket) {
    this.sockets.set(id, socket)
    socket.on('data', data => {
      if (this.sockets.get(id) !== socket) return
      this.input((E, t) => {
        const ptr = E.reserve(data.length)
        this.heap().set(data, ptr) // after reserve: memory may have grown
        E.channelData(id, data.length, t)
      })
    })
    socket.on('error', () => {}) // 'close' follows
    socket.on('close', () => {
      if (this.sockets.get(id) !== socket) return
      this.sockets.delete(id)
      this.input((E, t) => E.channelClosed(id, t))
    })
  }

  // What one drain of the engine gives a socket (requests, haves, blocks) goes out in one
  // write, after the drain: measured on a 256 MiB download, one write per output meant
  // 5,000 writes of ~54 bytes (three block requests each) and a report to the engine each.
  // `data` may be a view into the engine's memory, so it is copied before being kept.
  send (id, data) {
    const socket = this.sockets.get(id)
    if (!socket) return
    const queued = this.queued.get(socket)
    if (queued) {
      queued.push(data.slice())
      return
    }
    this.queued.set(socket, [data.slice()])
    queueMicrotask(() => {
      const parts = this.queued.get(socket)
      this.queued.delete(socket)
      if (this.sockets.get(id) !== socket) return
      const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts)
      socket.write(bytes, err => {
        if (!err && this.sockets.get(id) === socket) this.input((E, t) => E.channelSent(id, bytes.length, t))
      })
    })
  }

  // Closed from our side (the engine asked, or shutdown): no report to the engine. Queued
  // bytes still go out (the engine closes after its last message, e.g. a reject).
  close (id) {
    const socket = this.sockets.get(id)
    if (!socket) return
    this.sockets.delete(id)
    socket.end()
    setTimeout(() => socket.destroy(), LINGER).unref()
  }

  // Closes the socket as if the remote had: the engine is told.
  fail (id) {
    const socket = this.sockets.get(id)
    if (!socket) return
    this.sockets.delete(id)
    socket.destroy()
    this.input((E, t) => E.channelClosed(id, t))
  }

  closeAll () {
    for (const socket of this.sockets.values()) socket.destroy()
    this.sockets.clear()
    this.server?.close()
    this.server = null
  }
}
