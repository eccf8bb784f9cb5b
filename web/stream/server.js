// The page's side of service-worker streaming (client.createServer({ controller })):
// the service worker (web/stream/sw.js) forwards each request for
//   <scope>wasmtorrent/<info-hash>/<file path>
// here with a MessagePort; we answer with status and headers, then with chunks of a file
// reader (web/api/file.js) as the worker pulls them. Only verified bytes are ever sent, and
// the reader gives the pieces under the requested range priority, so a seek in <video>
// (a new Range request, the old one cancelled) moves the download at once.
import { WasmTorrentError } from '../api/errors.js'

export const STREAM_PREFIX = 'wasmtorrent/'

// A Range header for a resource of `length` bytes: [start, end] inclusive, or null for the
// whole resource; 'unsatisfiable' when outside.
export function parseRange (header, length) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '')
  if (!m || (m[1] === '' && m[2] === '')) return null // absent, or several ranges: whole file
  let start, end
  if (m[1] === '') { // suffix: the last n bytes
    start = Math.max(0, length - Number(m[2]))
    end = length - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1)
  }
  if (start >= length || start > end) return 'unsatisfiable'
  return [start, end]
}

export class StreamServer {
  // controller: the ServiceWorkerRegistration whose worker runs dist/wasmtorrent-sw.js.
  constructor (client, { controller } = {}) {
    if (typeof navigator === 'undefined' || !navigator.serviceWorker) {
      throw new WasmTorrentError('createServer: no service workers in this context', { code: 'not_supported' })
    }
    if (!controller || typeof controller.scope !== 'string') {
      throw new WasmTorrentError('createServer: give { controller: ServiceWorkerRegistration }', { code: 'invalid_argument' })
    }
    this._client = client
    this.controller = controller
    this.base = new URL(STREAM_PREFIX, controller.scope).href
    this._onMessage = event => {
      if (event.data?.type === 'wasmtorrent-request' && event.ports[0]) this._serve(event.data, event.ports[0])
    }
    navigator.serviceWorker.addEventListener('message', this._onMessage)
    navigator.serviceWorker.startMessages?.()
  }

  // The URL the service worker answers for a file.
  urlOf (file) {
    const path = file.path.split('/').map(encodeURIComponent).join('/')
    return `${this.base}${file._torrent.infoHash}/${path}`
  }

  close () {
    navigator.serviceWorker.removeEventListener('message', this._onMessage)
    if (this._client._server === this) this._client._server = null
  }

  destroy () { this.close() }

  _serve (request, port) {
    const [hash, ...rest] = request.path.split('/')
    let path
    try { path = rest.map(decodeURIComponent).join('/') } catch { path = null }
    const torrent = this._client.torrents.find(t => t.infoHash === hash && t.ready && !t.destroyed)
    const file = torrent?.files.find(f => f.path === path)
    if (!file) {
      port.postMessage({ type: 'head', status: 404 })
      port.close()
      return
    }
    const headers = {
      'content-type': file.type,
      'accept-ranges': 'bytes',
      'cache-control': 'no-store'
    }
    const range = parseRange(request.range, file.length)
    if (range === 'unsatisfiable') {
      port.postMessage({ type: 'head', status: 416, headers: { ...headers, 'content-range': `bytes */${file.length}` } })
      port.close()
      return
    }
    const [start, end] = range ?? [0, file.length - 1]
    headers['content-length'] = String(Math.max(0, end - start + 1))
    if (range) headers['content-range'] = `bytes ${start}-${end}/${file.length}`
    const body = request.method !== 'HEAD' && file.length > 0
    port.postMessage({ type: 'head', status: range ? 206 : 200, headers, body })
    if (!body) {
      port.close()
      return
    }
    const reader = file.stream({ start, end }).getReader()
    port.onmessage = async ({ data }) => {
      if (data?.type === 'cancel') {
        reader.cancel().catch(() => {})
        port.close()
        return
      }
      try {
        const { value, done } = await reader.read()
        if (done) port.postMessage({ type: 'end' })
        else port.postMessage({ type: 'chunk', chunk: value }, [value.buffer])
      } catch (err) {
        port.postMessage({ type: 'error', message: err.message })
        port.close()
      }
    }
  }
}
