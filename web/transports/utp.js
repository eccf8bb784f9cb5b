// uTP's UDP socket under Node (BEP 29; the protocol is the engine's, src/utp): one IPv4
// socket on the torrent port (the TCP listening port, as WebTorrent and libtorrent share it).
// Datagrams go to the engine as they arrive and out as it asks; it demultiplexes them into
// connections, which it hands to its session like TCP sockets.
import dgram from 'node:dgram'

const LINGER = 500 // ms: the socket stays open this long after close() for the last FINs
// Kernel buffers asked for (Linux caps them at net.core.rmem_max / wmem_max): a window of
// packets that arrives at once is not dropped for want of room.
const BUFFER = 4 << 20

export class UtpTransport {
  constructor ({ input, heap }) {
    this.input = input
    this.heap = heap
    this.socket = null
  }

  // Binds the socket; resolves with its port (rejects with the reason it could not).
  listen (port) {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER, sendBufferSize: BUFFER })
      socket.once('error', err => reject(err.code === 'EADDRINUSE' ? new Error(`UDP port ${port} is in use`, { cause: err }) : err))
      socket.bind(port, () => {
        socket.removeAllListeners('error')
        socket.on('error', () => {}) // a failed send (ICMP unreachable): the engine retransmits or gives up
        socket.on('message', (data, from) => {
          if (this.socket !== socket) return
          this.input((E, t) => {
            const ptr = E.reserve(data.length)
            this.heap().set(data, ptr)
            E.utpReceived(`${from.address}:${from.port}`, data.length, t)
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

  close () {
    const socket = this.socket
    this.socket = null
    if (socket) setTimeout(() => socket.close(), LINGER).unref?.()
  }
}
