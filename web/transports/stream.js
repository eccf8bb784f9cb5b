// Peers over a connection object the app brings, as WebTorrent takes them: a simple-peer
// instance given to torrent.addPeer (a WebRTC connection the app signalled itself), a
// custom web seed given to torrent.addWebSeed (an object with a `connId` that speaks the
// BitTorrent wire protocol, as WebTorrent's WebConn does), or any duplex stream. Such an
// object is an event emitter with write(bytes) (false: wait for 'drain'), destroy(),
// 'data' with the remote's bytes, and 'close' / 'end' / 'finish' / 'error' when it ends;
// one that is still connecting says so (simple-peer's `connected` false, a socket's
// `connecting` true) and emits 'connect' once open. Each is an engine peer id, as a data
// channel is: the engine sends the handshake first once it is open.

import { concatBytes } from '../api/hex.js'

const CONNECT_TIMEOUT = 25000 // ms, as WebTorrent's for WebRTC peers

export class StreamTransport {
  // input(fn): feeds fn(engine, now) to the engine and drains its outputs; heap(): the
  // engine's memory as bytes (it moves when memory grows).
  constructor ({ input, heap }) {
    this.input = input
    this.heap = heap
    this.peers = new Map() // engine peer id -> entry (see adopt)
  }

  has (id) { return this.peers.has(id) }

  // Starts listening to `conn` before the engine has an id for it (addPeer before the
  // torrent is in the engine): what arrives meanwhile is kept for bind(). type: the wire's
  // ('webrtc', 'webSeed'); key: the owner's name for it; ended(): called once it is over,
  // whoever ended it.
  adopt (conn, { type, key, ended: onEnded }) {
    const open = !(conn.connected === false || conn.connecting === true)
    const entry = { conn, type, key, onEnded, id: -1, open, early: [], ended: false, unreported: 0, queue: null, timer: null }
    const ended = () => {
      if (entry.ended) return
      this._end(entry)
      if (entry.id >= 0 && this.peers.get(entry.id) === entry) {
        this.peers.delete(entry.id)
        this.input((E, t) => E.channelClosed(entry.id, t))
      }
    }
    // Kept until the engine knows the connection and has been told it is open: simple-peer
    // emits 'connect' only after its stats are read, so the remote's handshake can come first.
    conn.on('data', data => {
      if (entry.ended) return
      if (entry.id < 0 || !entry.open) return entry.early.push(data)
      this._received(entry, data)
    })
    if (!entry.open) {
      conn.on('connect', () => {
        if (entry.open) return
        clearTimeout(entry.timer)
        entry.open = true
        if (entry.id >= 0 && !entry.ended) this._opened(entry)
      })
      entry.timer = setTimeout(() => {
        if (entry.open) return
        ended() // the engine hears of it, if it knows it
        this._destroy(entry)
      }, CONNECT_TIMEOUT)
    }
    conn.on('drain', () => {
      if (entry.id < 0 || entry.ended || entry.unreported === 0) return
      const sent = entry.unreported
      entry.unreported = 0
      this.input((E, t) => E.channelSent(entry.id, sent, t))
    })
    for (const name of ['close', 'end', 'finish']) conn.on(name, ended)
    conn.on('error', ended) // after 'error', a stream may emit nothing more
    return entry
  }

  // The engine's id for an adopted connection: it opens (or will, on 'connect') and gets
  // what arrived before.
  bind (entry, id) {
    if (entry.ended) {
      this.input((E, t) => E.channelClosed(id, t))
      return
    }
    entry.id = id
    this.peers.set(id, entry)
    if (entry.open) this._opened(entry)
  }

  // The engine hears that a bound connection is open, then what arrived before.
  _opened (entry) {
    this.input((E, t) => E.channelOpened(entry.id, t))
    for (const data of entry.early.splice(0)) this._received(entry, data)
  }

  _received (entry, data) {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data)
    this.input((E, t) => {
      const ptr = E.reserve(bytes.length)
      this.heap().set(bytes, ptr) // after reserve: memory may have grown
      E.channelData(entry.id, bytes.length, t)
    })
  }

  // One write per drain of the engine, as the TCP transport does. Bytes the connection
  // takes without asking us to wait count as sent; the rest once it emits 'drain'.
  // `data` may be a view into the engine's memory, so it is copied before being kept.
  send (id, data) {
    const entry = this.peers.get(id)
    if (!entry) return
    if (entry.queue) return entry.queue.push(data.slice())
    entry.queue = [data.slice()]
    queueMicrotask(() => {
      const parts = entry.queue
      entry.queue = null
      if (this.peers.get(id) !== entry) return
      const bytes = parts.length === 1 ? parts[0] : concatBytes(parts)
      let ok
      try {
        ok = entry.conn.write(bytes)
      } catch {
        return this.fail(id)
      }
      if (ok === false) entry.unreported += bytes.length
      else this.input((E, t) => E.channelSent(id, bytes.length, t))
    })
  }

  // Closed from our side (the engine asked, or shutdown): no report to the engine.
  close (id) {
    const entry = this.peers.get(id)
    if (!entry) return
    this.peers.delete(id)
    this._destroy(entry)
  }

  // Closes the connection as if the remote had: the engine is told.
  fail (id) {
    const entry = this.peers.get(id)
    if (!entry) return
    this.close(id)
    this.input((E, t) => E.channelClosed(id, t))
  }

  // An adopted connection that will not be bound (its torrent went, or the engine
  // refused it): destroyed.
  drop (entry) {
    this._destroy(entry)
  }

  _end (entry) {
    entry.ended = true
    clearTimeout(entry.timer)
    entry.early.length = 0
    entry.onEnded?.()
  }

  _destroy (entry) {
    if (!entry.ended) this._end(entry)
    try { entry.conn.destroy() } catch {}
  }

  closeAll () {
    for (const id of [...this.peers.keys()]) this.close(id)
  }
}
