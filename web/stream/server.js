// The page's side of service-worker streaming (client.createServer({ controller })), with
// WebTorrent's URL layout under the worker's scope:
//   <scope>webtorrent/                          a page listing the client's torrents
//   <scope>webtorrent/<info-hash>               a page listing the torrent's files
//   <scope>webtorrent/<info-hash>/<file path>   the file (file.streamURL), Range requests
// The service worker (ours, web/stream/sw.js, or WebTorrent's own sw.min.js) forwards each
// request here with a MessagePort; we answer with status and headers, then with chunks of a
// file reader (web/api/file.js) as the worker pulls them. Only verified bytes are ever sent, and the reader gives the pieces
// under the requested range priority, so a seek in <video> (a new Range request, the old
// one cancelled) moves the download at once.
import { WasmTorrentError } from '../api/errors.js'

export const STREAM_PREFIX = 'webtorrent/'
// A browser stops an idle service worker after about 30 s, and a response body it is still
// streaming does not count as activity: while a body is open, the page fetches this URL
// (answered by the worker itself) every KEEPALIVE_MS.
export const KEEPALIVE_PATH = 'keepalive/'
// WebTorrent's worker's probe (see _probeCancel); ours answers it itself, as a keep-alive.
export const CANCEL_PROBE_PATH = 'cancel/'
const KEEPALIVE_MS = 20_000

// A Range header for a resource of `length` bytes: [start, end] inclusive, or null for the
// whole resource (no header, one we cannot read, or one that is invalid, such as 5-2: RFC
// 9110 says to ignore it); 'unsatisfiable' when no range is inside. Of several ranges, the
// first satisfiable one is served. An empty resource is sent whole (a player asks it for
// bytes=0-, as for any other).
export function parseRange (header, length) {
  const m = /^bytes\s*=(.+)$/i.exec(header?.trim() ?? '') // the unit is case-insensitive (RFC 9110)
  if (!m || length === 0) return null
  let first = null
  for (const spec of m[1].split(',')) {
    const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec)
    if (!r || (r[1] === '' && r[2] === '')) return null
    if (r[1] !== '' && r[2] !== '' && Number(r[2]) < Number(r[1])) return null
    let start, end
    if (r[1] === '') { // suffix: the last n bytes
      start = Math.max(0, length - Number(r[2]))
      end = length - 1
    } else {
      start = Number(r[1])
      end = r[2] === '' ? length - 1 : Math.min(Number(r[2]), length - 1)
    }
    if (!first && start < length && start <= end) first = [start, end]
  }
  return first ?? 'unsatisfiable'
}

const escapeHTML = s => String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

// RFC 5987 (filename*=UTF-8''...): percent-encoding, with the characters
// encodeURIComponent leaves alone but the header syntax does not allow.
const encodeRFC5987 = s => encodeURIComponent(s).replace(/['()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())

function htmlPage (title, body) {
  return `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n</head>\n<body>\n${body}\n</body>\n</html>\n`
}

// The answers come from the site's own origin: a listing page runs no script whatever a
// torrent's names contain, and a torrent's own HTML or SVG cannot run as the site, framed
// (frame-ancestors) or opened (sandbox; the listing pages are not sandboxed, since a
// sandboxed page may not start the downloads their links are for). No sniffing of a file's
// bytes as another type; nothing cached (the bytes are in the page already).
const LOCKED_DOWN = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
const COMMON_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' }
const HTML_HEADERS = { ...COMMON_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': LOCKED_DOWN }
const FILE_HEADERS = { ...COMMON_HEADERS, 'content-security-policy': LOCKED_DOWN + '; sandbox' }
const NOT_FOUND = { status: 404 }
const NOT_FOUND_PAGE = { status: 404, headers: HTML_HEADERS, text: htmlPage('404 Not Found', '<h1>404 Not Found</h1>') }
const NOT_ALLOWED_PAGE = { status: 405, headers: { ...HTML_HEADERS, allow: 'GET, HEAD' }, text: htmlPage('405 Method Not Allowed', '<h1>405 Method Not Allowed</h1>') }

// WebTorrent's layout under `pathname` (the root, without a trailing slash): the answers
// both servers give, the service worker's (StreamServer) and Node's HTTP server
// (node-server.js).
export class ServerLayout {
  constructor (client, pathname) {
    this._client = client
    this.pathname = pathname
    this.closed = false
  }

  // The URL the server answers for a file, origin-relative as WebTorrent's streamURL; each
  // path segment percent-encoded, so that '#', '?' or '%' in a name work.
  urlOf (file) {
    const path = file.path.split('/').map(encodeURIComponent).join('/')
    return `${this.pathname}/${file._torrent.infoHash}/${path}`
  }

  // The answer to a request: { status, headers, text } or, for a file's bytes,
  // { status, headers, file, start, end }. request.path: what follows <pathname>/, still
  // percent-encoded; request.range: the Range header; request.destination: what the
  // browser will do with it (Sec-Fetch-Dest).
  _answer (request) {
    const [hash, ...rest] = request.path.split('/')
    if (hash === '') return { status: 200, headers: HTML_HEADERS, text: this._indexPage() }
    // Upper-case hex too, as WebTorrent's (it looks the id up with client.get).
    const torrent = this._client.torrents.find(t => t.infoHash === hash.toLowerCase() && !t.destroyed)
    if (!torrent) return NOT_FOUND
    if (rest.join('/') === '') return { status: 200, headers: HTML_HEADERS, text: this._torrentPage(torrent) }
    let path
    try { path = rest.map(decodeURIComponent).join('/') } catch { path = null }
    const file = torrent._hasMetadata ? torrent.files.find(f => f.path === path) : null
    if (!file) return NOT_FOUND
    return this._fileAnswer(file, request)
  }

  _indexPage () {
    const items = this._client.torrents.filter(t => !t.destroyed).map(t =>
      `<li><a href="${escapeHTML(`${this.pathname}/${t.infoHash}`)}">${escapeHTML(t.name ?? t.infoHash)}</a> (${t._hasMetadata ? t.length : '?'} bytes)</li>`)
    return htmlPage('Torrents', `<h1>Torrents</h1>\n<ol>\n${items.join('\n')}\n</ol>`)
  }

  _torrentPage (torrent) {
    const files = torrent._hasMetadata ? torrent.files : []
    const items = files.map(f =>
      `<li><a href="${escapeHTML(this.urlOf(f))}">${escapeHTML(f.path)}</a> (${f.length} bytes)</li>`)
    const name = escapeHTML(torrent.name ?? torrent.infoHash)
    return htmlPage(name, `<h1>${name}</h1>\n<ol>\n${items.join('\n')}\n</ol>`)
  }

  _fileAnswer (file, request) {
    // Opened as a page of its own (a link in the listing): saved as a download, as
    // WebTorrent does; an element's request (<video>, fetch) gets it inline.
    const download = request.destination === 'document'
    const headers = {
      ...FILE_HEADERS,
      'content-type': download ? 'application/octet-stream' : file.type,
      'content-disposition': `${download ? 'attachment' : 'inline'}; filename*=UTF-8''${encodeRFC5987(file.name)}`,
      'accept-ranges': 'bytes'
    }
    const range = parseRange(request.range, file.length)
    if (range === 'unsatisfiable') {
      return { status: 416, headers: { ...headers, 'content-range': `bytes */${file.length}`, 'content-length': '0' } }
    }
    const [start, end] = range ?? [0, file.length - 1]
    headers['content-length'] = String(Math.max(0, end - start + 1))
    if (range) headers['content-range'] = `bytes ${start}-${end}/${file.length}`
    return { status: range ? 206 : 200, headers, file, start, end }
  }
}

export { NOT_FOUND, NOT_FOUND_PAGE, NOT_ALLOWED_PAGE }

// The page's side of the worker's messages, for the servers of every client in the page.
// Once a server has been made it stays: a page whose servers have all closed answers our
// worker "not here" at once (a page that does not answer costs the worker a timeout), and
// says that it answers when asked (a worker that the browser stopped starts again knowing
// no page). WebTorrent's worker takes the first answer of any page, so only open servers
// answer it.
const openServers = new Set()
let listening = false

function listenToWorkers () {
  if (listening) return
  listening = true
  navigator.serviceWorker.addEventListener('message', ({ data, source, ports: [port] }) => {
    if (data?.type === 'wasmtorrent-hello') return source?.postMessage({ type: 'wasmtorrent-serving' })
    if (!port) return
    const servers = [...openServers]
    if (data?.type === 'wasmtorrent-request') {
      // The server that has the URL, of several clients' (one page, one worker).
      const server = servers.find(s => s._answer(data) !== NOT_FOUND) ?? servers[0]
      if (server) return server._serveOwnWorker(data, port)
      port.postMessage({ type: 'head', status: 404 })
      port.close()
    } else if (data?.type === 'webtorrent' && typeof data.url === 'string') {
      const has = s => { const request = s._webTorrentRequest(data); return request && s._answer(request) !== NOT_FOUND }
      const server = servers.find(has) ?? servers[0]
      server?._serveWebTorrentWorker(data, port)
    }
  })
  navigator.serviceWorker.startMessages?.()
}

export class StreamServer extends ServerLayout {
  // controller: the ServiceWorkerRegistration whose worker runs dist/wasmtorrent-sw.js.
  constructor (client, { controller } = {}) {
    if (typeof navigator === 'undefined' || !navigator.serviceWorker) {
      throw new WasmTorrentError('createServer: no service workers in this context', { code: 'not_supported' })
    }
    if (!controller || typeof controller.scope !== 'string') {
      throw new WasmTorrentError('createServer: give { controller: ServiceWorkerRegistration }', { code: 'invalid_argument' })
    }
    // As WebTorrent 3's: a registration with no active worker, or one not yet 'activating'
    // or 'activated', is refused (apps wait for its statechange; fetches made while it
    // activates wait for it). An object that only gives a scope is taken as is.
    const state = controller.active?.state
    if (typeof ServiceWorkerRegistration !== 'undefined' && controller instanceof ServiceWorkerRegistration &&
        state !== 'activated' && state !== 'activating') {
      throw new WasmTorrentError('createServer: the service worker is not activated yet', { code: 'not_activated' })
    }
    const scope = new URL(controller.scope)
    // As WebTorrent's server.pathname: the root of the layout, without a trailing slash.
    super(client, scope.pathname + STREAM_PREFIX.slice(0, -1))
    this.controller = controller
    this._scope = scope
    this.base = new URL(STREAM_PREFIX, scope).href
    this._openBodies = 0
    this._keepAlive = null
    openServers.add(this)
    listenToWorkers()
    this._probeCancel()
    // Our worker asks the pages that answer before the others (web/stream/sw.js).
    try {
      (controller.active ?? navigator.serviceWorker.controller)?.postMessage?.({ type: 'wasmtorrent-serving' })
    } catch {} // a stand-in controller: the worker finds the page when it answers
  }

  // As WebTorrent's browser server, for code written against its Node server: nothing to
  // listen on, the callback is called.
  listen (...args) {
    const cb = args.find(a => typeof a === 'function')
    if (cb) queueMicrotask(cb)
  }

  address () {
    const port = Number(this._scope.port) || (this._scope.protocol === 'https:' ? 443 : 80)
    return { address: this._scope.hostname, family: 'IPv4', port }
  }

  // Stops answering; responses already streaming go on to their end. The client may then
  // create another server.
  close (cb) {
    if (!this.closed) {
      this.closed = true
      openServers.delete(this)
      clearInterval(this._keepAlive)
      this._keepAlive = null
      if (this._client._server === this) this._client._server = null
    }
    if (typeof cb === 'function') queueMicrotask(cb)
  }

  destroy (cb) { this.close(cb) }

  // Our worker (web/stream/sw.js): a 404 means "not this page's", and the worker asks its
  // other pages; a body is pulled chunk by chunk ('pull' -> 'chunk' | 'end' | 'error').
  _serveOwnWorker (request, port) {
    const answer = this._answer(request)
    const body = Boolean(answer.file) && request.method !== 'HEAD' && answer.end >= answer.start
    const text = request.method === 'HEAD' ? undefined : answer.text
    port.postMessage({ type: 'head', status: answer.status, headers: answer.headers, text, body })
    if (!body) {
      port.close()
      return
    }
    const bytes = this._openBody(answer, port)
    port.onmessage = async ({ data }) => {
      if (data?.type === 'cancel') return bytes.cancel()
      try {
        const chunk = await bytes.next()
        if (chunk) port.postMessage({ type: 'chunk', chunk }, [chunk.buffer])
        else port.postMessage({ type: 'end' })
      } catch (err) {
        port.postMessage({ type: 'error', message: err.message })
        bytes.cancel()
      }
    }
  }

  // WebTorrent's worker (its dist/sw.min.js, for an app that kept it): it asks every page at
  // once and takes the first answer, { status, headers, body } with body 'STREAM' for
  // chunks; then `true` asks for a chunk (answered with the bytes, or nothing at the end),
  // `false` cancels.
  _serveWebTorrentWorker (message, port) {
    const request = this._webTorrentRequest(message)
    if (!request) return
    const answer = request.method === 'GET' || request.method === 'HEAD' ? this._answer(request) : NOT_ALLOWED_PAGE
    const head = answer === NOT_FOUND ? NOT_FOUND_PAGE : answer
    const stream = Boolean(answer.file) && request.method !== 'HEAD' && answer.end >= answer.start
    const body = stream ? 'STREAM' : (request.method === 'HEAD' ? null : head.text ?? null)
    port.postMessage({ status: head.status, headers: head.headers, body })
    if (!stream) return
    const bytes = this._openBody(answer, port)
    port.onmessage = async ({ data }) => {
      if (!data) return bytes.cancel()
      let chunk = null
      try { chunk = await bytes.next() } catch { bytes.cancel() } // its worker then ends the body
      port.postMessage(chunk, chunk ? [chunk.buffer] : [])
    }
  }

  // The request in WebTorrent's worker's message, or null when its URL is not under ours.
  _webTorrentRequest (message) {
    const url = new URL(message.url)
    if (!url.pathname.startsWith(this.pathname + '/')) return null
    return {
      method: message.method,
      path: url.pathname.slice(this.pathname.length + 1),
      range: message.headers?.range ?? null,
      destination: message.destination
    }
  }

  // WebTorrent's worker stops a body that sends nothing for 5 s unless it has seen that the
  // browser can cancel a worker's streams: a fetch of <scope>webtorrent/cancel/ whose body
  // is cancelled shows it. As WebTorrent's page, at once: a body pulled before the worker
  // saw it keeps a 5 s timer that stops it, however much it has sent by then.
  _probeCancel () {
    fetch(this.base + CANCEL_PROBE_PATH).then(res => res.body?.cancel(), () => {})
  }

  // A reader of the answer's bytes: next() gives a chunk, or null at the end; cancel()
  // stops it and closes the port. The keep-alive pings run while one is open.
  _openBody ({ file, start, end }, port) {
    const reader = file.stream({ start, end }).getReader()
    let open = true
    const finish = () => {
      if (!open) return false
      open = false
      this._bodyClosed()
      return true
    }
    const cancel = () => {
      if (!finish()) return
      reader.cancel().catch(() => {})
      port.close()
    }
    // The worker gone without a word (stopped, or its request dropped): where the browser
    // tells (MessagePort 'close'), the reader stops.
    port.addEventListener('close', cancel)
    this._bodyOpened()
    const next = async () => {
      const { value, done } = await reader.read()
      if (!done) return value
      finish()
      return null
    }
    return { next, cancel }
  }

  _bodyOpened () {
    if (this._openBodies++ > 0 || this.closed) return
    const url = this.base + KEEPALIVE_PATH
    this._keepAlive = setInterval(() => { fetch(url, { cache: 'no-store' }).catch(() => {}) }, KEEPALIVE_MS)
  }

  _bodyClosed () {
    if (--this._openBodies > 0) return
    clearInterval(this._keepAlive)
    this._keepAlive = null
  }
}
