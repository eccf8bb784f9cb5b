// A WebSocket tracker (npm bittorrent-tracker's server, WebSocket only) on 127.0.0.1, for
// the demo server (scripts/serve.mjs) and the browser tests.
//
//   const tracker = await startTracker()            // { url, port, server, close() }
//   ... new WasmTorrent({ tracker: { announce: [tracker.url] } }) ...
//   await tracker.close()
import Server from 'bittorrent-tracker/server'

// bittorrent-tracker tells WebSocket clients to re-announce every interval / 5: 10 s with
// this (its default, 10 min, gives 2 min). A peer whose first WebRTC attempt failed, or
// that joined while its peers were away, is then paired again within seconds.
export const defaultInterval = 50_000

// port 0 picks a free one; the same port again brings a tracker back after close().
// Server errors go to `log`; the caller may listen to server 'warning's itself.
export async function startTracker ({ port = 0, host = '127.0.0.1', interval = defaultInterval, log = console.error } = {}) {
  const server = new Server({ udp: false, http: false, ws: true, stats: false, interval })
  server.on('error', err => log('tracker error:', err.message))
  await new Promise((resolve, reject) => {
    server.http.once('error', reject)
    server.listen(port, host, resolve)
  })
  // Its close() leaves open WebSockets alone: remember them to drop them.
  const sockets = new Set()
  server.http.on('connection', socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const bound = server.http.address().port
  return {
    url: `ws://${host}:${bound}`,
    port: bound,
    server,
    close () {
      for (const socket of sockets) socket.destroy()
      return new Promise(resolve => server.close(() => resolve()))
    }
  }
}
