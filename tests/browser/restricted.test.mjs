// Pages where the browser has an API but refuses it, as users meet them: a site's strict
// Content-Security-Policy (no eval, no blob: workers), OPFS that rejects (Firefox's private
// windows: getDirectory() throws SecurityError), WebRTC turned off. Each page downloads a
// .torrent from a web seed (no peer needed) with the default store.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomFillSync } from 'node:crypto'
import { startHarness } from './harness.mjs'
import { createTorrentNpm } from '../js/helpers.mjs'

const data = randomFillSync(Buffer.alloc(4 * 1024 * 1024 + 12345))
const sha256 = createHash('sha256').update(data).digest('hex')
const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'"

// A page: the scripts `before` the library (to take an API away), then the library.
const page = (before, csp) => (req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', ...(csp && { 'content-security-policy': csp }) })
  res.end(`<!doctype html><meta charset=utf-8>${before.map(src => `<script src="${src}"></script>`).join('')}<script src="/dist/wasmtorrent.global.js"></script>`)
}
const script = text => (req, res) => res.writeHead(200, { 'content-type': 'text/javascript' }).end(text)

let h, torrentFile
before(async () => {
  h = await startHarness({
    routes: {
      '/r/strict.html': page([], STRICT_CSP),
      '/r/no-opfs.html': page(['/r/refuse-opfs.js']),
      '/r/no-rtc.html': page(['/r/no-rtc.js']),
      // What Firefox's private windows do: the function is there, and it rejects.
      '/r/refuse-opfs.js': script("StorageManager.prototype.getDirectory = () => Promise.reject(new DOMException('The operation is insecure.', 'SecurityError'))"),
      '/r/no-rtc.js': script('delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection'),
      '/r/file.bin': (req, res) => {
        const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '')
        const start = m ? Number(m[1]) : 0
        const end = m && m[2] ? Number(m[2]) + 1 : data.length
        res.writeHead(m ? 206 : 200, {
          'content-length': end - start,
          'content-range': `bytes ${start}-${end - 1}/${data.length}`,
          'access-control-allow-origin': '*'
        }).end(data.subarray(start, end))
      },
      '/r/file.torrent': (req, res) => res.writeHead(200, { 'content-type': 'application/x-bittorrent' }).end(torrentFile)
    }
  })
  torrentFile = await createTorrentNpm(new File([data], 'file.bin'), { pieceLength: 256 * 1024, announceList: [], urlList: [h.url + '/r/file.bin'] })
})
after(() => h?.close())

// In the page: adds the .torrent (announce: extra trackers), resolves at 'done' with what
// the page saw.
function download ({ announce = [], tracker = false } = {}) {
  const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
  return new Promise(resolve => {
    const client = window.client = new window.WasmTorrent({ tracker })
    const warnings = []
    const t = client.add(location.origin + '/r/file.torrent', { announce })
    t.on('warning', w => warnings.push(`${w.code}: ${w.message}`))
    t.once('error', err => resolve({ error: `${err.code}: ${err.message}`, warnings }))
    t.once('done', async () => resolve({
      sha256: hex(await crypto.subtle.digest('SHA-256', await t.files[0].arrayBuffer())),
      store: t._storage.store.constructor.kind,
      received: t.received,
      warnings
    }))
  })
}

test("a strict Content-Security-Policy (no 'unsafe-eval', no blob: workers): the module loads and the pieces go to OPFS from the page", { timeout: 60_000 }, async () => {
  const p = await h.newPage('/r/strict.html')
  const got = await p.evaluate(download)
  assert.equal(got.error, undefined, JSON.stringify(got))
  assert.equal(got.sha256, sha256)
  assert.equal(got.store, 'opfs', 'the worker is refused: OPFS from the page')
  await p.evaluate(() => window.client.destroy())
  // The browser reports the worker it refused (which is how the library learns of it).
  assert.deepEqual(p.errors.filter(e => !/Content[- ]Security[- ]Policy/i.test(e)), [])
})

test('OPFS there but refused (as in a Firefox private window): the default store is IndexedDB, and a reload resumes', { timeout: 60_000 }, async () => {
  const context = await h.newContext()
  const p = await h.newPage('/r/no-opfs.html', { context })
  const got = await p.evaluate(download)
  assert.equal(got.error, undefined, JSON.stringify(got))
  assert.equal(got.sha256, sha256)
  assert.equal(got.store, 'idb')
  await p.reload()
  const again = await p.evaluate(download)
  assert.equal(again.sha256, sha256)
  assert.equal(again.received, 0, 'every piece from IndexedDB')
  await p.evaluate(() => window.client.remove(window.client.torrents[0], { destroyStore: true }))
  await p.evaluate(() => window.client.destroy())
  assert.deepEqual(p.errors, [])
})

test('WebRTC turned off: a WebSocket tracker is a warning that says so, as WebTorrent\'s; the web seed still serves', { timeout: 60_000 }, async () => {
  const p = await h.newPage('/r/no-rtc.html')
  const got = await p.evaluate(download, { announce: ['ws://127.0.0.1:9/announce', 'wss://127.0.0.1:9/announce'], tracker: {} })
  assert.equal(got.sha256, sha256, JSON.stringify(got))
  const said = got.warnings.filter(w => w.startsWith('webrtc_unavailable: Unsupported tracker protocol: ws'))
  assert.equal(said.length, 2, JSON.stringify(got.warnings))
  await p.evaluate(() => window.client.destroy())
  assert.deepEqual(p.errors, [])
})
