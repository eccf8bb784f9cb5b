// client.createServer() under Node, as WebTorrent's Node server: an http.Server (`.server`)
// answering WebTorrent's layout under `pathname` (default /webtorrent): a listing of the
// client's torrents, each torrent's files, and the files with Range requests (206 / 416,
// HEAD), bytes read from the torrent as they arrive (a player can start before the download
// ends). Options: origin (the CORS origin allowed: '*' by default, as WebTorrent's; false for
// none), hostname (requests naming another Host are refused: DNS rebinding), pathname.
import http from 'node:http'
import { Readable, pipeline } from 'node:stream'
import { ServerLayout, NOT_FOUND, NOT_FOUND_PAGE, NOT_ALLOWED_PAGE } from './server.js'

// For DLNA renderers that the command-line client (or an app) casts a file's URL to, as
// WebTorrent's Node server sends them.
const DLNA_HEADERS = {
  'transfermode.dlna.org': 'Streaming',
  'contentfeatures.dlna.org': 'DLNA.ORG_OP=01;DLNA.ORG_CI=0;DLNA.ORG_FLAGS=01700000000000000000000000000000'
}

export class NodeServer extends ServerLayout {
  constructor (client, opts = {}) {
    super(client, (opts.pathname || '/webtorrent').replace(/\/$/, '')) // '' too, as WebTorrent's
    this.opts = { ...opts, origin: opts.origin ?? '*' }
    this.server = http.createServer((req, res) => this._onRequest(req, res))
    this.sockets = new Set()
    this.server.on('connection', socket => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
  }

  // As http.Server's listen (port, host, cb...); returns the http.Server.
  // Listening again after close(): the client's server again, unless it has another by now.
  listen (...args) {
    this.closed = false
    if (!this._client._server && !this._client.destroyed) this._client._server = this
    return this.server.listen(...args)
  }

  address () { return this.server.address() }

  // Stops accepting; answers in progress finish. The client may then create another server.
  // Not listening: cb(ERR_SERVER_NOT_RUNNING), as http.Server's and WebTorrent's.
  close (cb) {
    if (!this.closed) {
      this.closed = true
      if (this._client._server === this) this._client._server = null
    }
    this.server.close(err => cb?.(err))
  }

  // close(), and every connection cut now. After close(): cb() alone, as WebTorrent's.
  destroy (cb) {
    for (const socket of this.sockets) socket.destroy()
    if (this.closed && !this.server.listening) return queueMicrotask(() => cb?.())
    this.close(cb)
  }

  _onRequest (req, res) {
    const { hostname } = this.opts
    if (hostname && req.headers.host !== `${hostname}:${this.server.address().port}`) return req.destroy()
    // CORS as WebTorrent's: '*' on every answer by default, or the one origin allowed.
    const origin = req.headers.origin
    if (this.opts.origin === '*' || (origin && origin === this.opts.origin)) {
      res.setHeader('access-control-allow-origin', this.opts.origin)
      res.setHeader('access-control-expose-headers', 'content-range, content-length, accept-ranges')
    }
    if (req.method === 'OPTIONS') { // a preflight: whatever headers the page means to send
      const asked = req.headers['access-control-request-headers']
      res.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': asked || 'range', 'access-control-max-age': '600' })
      return res.end()
    }
    const url = new URL(req.url, 'http://localhost')
    const inside = url.pathname === this.pathname || url.pathname.startsWith(this.pathname + '/')
    if (this.closed || !inside) return this._send(req, res, NOT_FOUND_PAGE)
    if (req.method !== 'GET' && req.method !== 'HEAD') return this._send(req, res, NOT_ALLOWED_PAGE)
    // No destination: a file opened as a page plays or shows there, as WebTorrent's Node
    // server has it (its browser server saves it instead); the files' sandbox CSP keeps a
    // torrent's HTML from running script on this origin.
    const answer = this._answer({ path: url.pathname.slice(this.pathname.length + 1), range: req.headers.range ?? null })
    if (answer.file) Object.assign(answer.headers, DLNA_HEADERS)
    this._send(req, res, answer === NOT_FOUND ? NOT_FOUND_PAGE : answer)
  }

  _send (req, res, answer) {
    res.writeHead(answer.status, answer.headers)
    const body = Boolean(answer.file) && req.method !== 'HEAD' && answer.end >= answer.start
    if (!body) return res.end(req.method === 'HEAD' ? undefined : answer.text)
    const bytes = Readable.fromWeb(answer.file.stream({ start: answer.start, end: answer.end }))
    bytes.on('error', () => res.destroy())
    res.on('close', () => bytes.destroy()) // the player went away or seeked: stop reading
    // As WebTorrent's server: file 'stream' ({ stream, req, file }, pipeTo) before the body
    // is sent; a listener that calls pipeTo(target) has the body go through target.
    let out = bytes
    answer.file.emit('stream', { stream: bytes, req, file: answer.file }, target => {
      out = pipeline(bytes, target, err => { if (err) res.destroy() })
    })
    out.pipe(res)
  }
}
