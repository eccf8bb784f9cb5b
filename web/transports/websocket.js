// WebSocket transport of the browser host: the sockets the engine asks for (WebSocket
// trackers), keyed by URL; what happens on them goes back to the engine through `input`.
export class WebSocketTransport {
  // input(fn): feeds fn(engine, now) to the engine and drains its outputs (web/api/client.js).
  constructor (input) {
    this.input = input
    this.sockets = new Map() // url -> WebSocket
    this.WebSocket = globalThis.WebSocket // Node 20 has none: set by the host (ws)
    this.useless = false // no WebRTC here: a tracker's peers could not be reached (client.js)
  }

  open (url) {
    let ws
    try {
      if (this.useless) throw new Error('no WebRTC')
      ws = new this.WebSocket(url)
    } catch {
      queueMicrotask(() => this.input((E, t) => E.socketClosed(url, t)))
      return
    }
    this.sockets.set(url, ws)
    const current = () => this.sockets.get(url) === ws
    ws.onopen = () => { if (current()) this.input((E, t) => E.socketOpened(url, t)) }
    ws.onmessage = e => {
      if (current() && typeof e.data === 'string') this.input((E, t) => E.textReceived(url, e.data, t))
    }
    ws.onclose = () => {
      if (!current()) return
      this.sockets.delete(url)
      this.input((E, t) => E.socketClosed(url, t))
    }
    ws.onerror = () => {} // onclose follows
  }

  send (url, text) {
    const ws = this.sockets.get(url)
    if (ws?.readyState === 1) ws.send(text)
  }

  close (url) {
    const ws = this.sockets.get(url)
    this.sockets.delete(url)
    if (ws) shut(ws)
  }

  closeAll () {
    for (const [, ws] of this.sockets) shut(ws)
    this.sockets.clear()
  }
}

// Closes a socket no longer wanted. One still connecting is closed once open: closing it
// before, Firefox logs two errors in the page's console (a page that adds and removes a
// torrent at once would show them).
function shut (ws) {
  if (ws.readyState === 0) ws.onopen = () => ws.close()
  else ws.close()
}
