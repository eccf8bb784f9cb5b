// The two drop-in forms from a "CDN path": dist/wasmtorrent.min.js (an ES module, used as
// `import WebTorrent from '.../webtorrent.min.js'`) and dist/wasmtorrent.global.js (a classic
// script, the global WasmTorrent), each served under /cdn/wasmtorrent@0.1.0/ with the .wasm
// beside it, from the page's own server and from another origin (another loopback port that
// sends CORS headers, as a CDN does). In each case the page seeds bytes and parses the
// .torrent: the info-hash must be create-torrent's, which proves the engine loaded, and the
// .wasm must have been fetched from beside the script.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { repoRoot, startHarness } from './harness.mjs'
import { createTorrentNpm, parseTorrentNpm, randomBytes } from '../js/helpers.mjs'

const CDN_PATH = '/cdn/wasmtorrent@0.1.0/'
const FILES = {
  'wasmtorrent.min.js': 'text/javascript',
  'wasmtorrent.global.js': 'text/javascript',
  'wasmtorrent.wasm': 'application/wasm'
}
const data = randomBytes(7, 100_000)
const pieceLength = 16384

// A user's page: the form under test, from `cdn`, and nothing else of ours.
const pages = {
  module: cdn => `<!doctype html>
<meta charset="utf-8">
<title>drop-in: ES module from a CDN path</title>
<script type="module">
  import WebTorrent, * as lib from '${cdn}wasmtorrent.min.js'
  window.lib = { WebTorrent, parseTorrent: lib.parseTorrent, exports: Object.keys(lib).sort() }
</script>`,
  global: cdn => `<!doctype html>
<meta charset="utf-8">
<title>drop-in: classic script from a CDN path</title>
<script src="${cdn}wasmtorrent.global.js"></script>
<script>
  window.lib = { WebTorrent: window.WasmTorrent, parseTorrent: window.WasmTorrent.parseTorrent }
</script>`
}

async function serveDist (req, res, name, headers = {}) {
  const body = await readFile(join(repoRoot, 'dist', name))
  res.writeHead(200, { 'content-type': FILES[name], 'cache-control': 'no-store', ...headers }).end(body)
}

let h, cdn, expectedHash
before(async () => {
  const routes = {}
  for (const name of Object.keys(FILES)) routes[CDN_PATH + name] = (req, res) => serveDist(req, res, name)
  for (const form of Object.keys(pages)) {
    routes[`/dropin/${form}.html`] = (req, res) => {
      const from = new URL(req.url, 'http://127.0.0.1').searchParams.get('cdn')
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pages[form](from))
    }
  }
  h = await startHarness({ routes })
  // The other origin: the same files under the same path, readable from any origin.
  cdn = createServer((req, res) => {
    const name = new URL(req.url, 'http://127.0.0.1').pathname.slice(CDN_PATH.length)
    if (!req.url.startsWith(CDN_PATH) || !FILES[name]) return res.writeHead(404).end()
    serveDist(req, res, name, { 'access-control-allow-origin': '*' }).catch(err => res.writeHead(500).end(String(err)))
  })
  await new Promise(resolve => cdn.listen(0, '127.0.0.1', resolve))
  const torrent = await createTorrentNpm([new File([data], 'dropin.bin')], { pieceLength, announceList: [] })
  expectedHash = (await parseTorrentNpm(torrent)).infoHash
})
after(async () => {
  await h?.close()
  if (cdn) await new Promise(resolve => { cdn.closeAllConnections(); cdn.close(resolve) })
})

// In the page: seed the bytes as WebTorrent's API does (a callback), then parse the .torrent.
async function seedAndParse ({ bytes, pieceLength }) {
  for (let waited = 0; !window.lib; waited += 20) {
    if (waited > 20_000) throw new Error('the script did not load')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const { WebTorrent, parseTorrent } = window.lib
  const client = new WebTorrent({ tracker: false })
  const data = Uint8Array.from(atob(bytes), c => c.charCodeAt(0))
  const torrent = await new Promise((resolve, reject) => {
    client.on('error', reject)
    client.seed(new File([data], 'dropin.bin'), { pieceLength }, resolve)
  })
  const parsed = await parseTorrent(torrent.torrentFile)
  const out = { infoHash: torrent.infoHash, parsedHash: parsed.infoHash, length: torrent.length, exports: window.lib.exports }
  await client.destroy()
  if (out.exports) out.fullExports = Object.keys(await import('/dist/wasmtorrent.js')).sort()
  return out
}

for (const form of ['module', 'global']) {
  for (const where of ['same origin', 'other origin']) {
    test(`drop-in ${form === 'module' ? 'ES module (wasmtorrent.min.js)' : 'classic script (wasmtorrent.global.js)'} from a CDN path, ${where}`, { timeout: 60_000 }, async () => {
      const base = (where === 'same origin' ? h.url : `http://127.0.0.1:${cdn.address().port}`) + CDN_PATH
      const p = await h.newPage()
      const wasmRequests = []
      p.on('request', r => { if (r.url().endsWith('.wasm')) wasmRequests.push(r.url()) })
      await p.goto(`${h.url}/dropin/${form}.html?cdn=${encodeURIComponent(base)}`)
      const out = await p.evaluate(seedAndParse, { bytes: Buffer.from(data).toString('base64'), pieceLength })

      assert.equal(out.infoHash, expectedHash, 'the engine seeded the bytes: create-torrent\'s info-hash')
      assert.equal(out.parsedHash, expectedHash)
      assert.equal(out.length, data.length)
      if (form === 'module') {
        assert.ok(out.exports.includes('default'))
        assert.deepEqual(out.exports, out.fullExports, 'the same exports as dist/wasmtorrent.js')
      }
      assert.deepEqual(wasmRequests, [base + 'wasmtorrent.wasm'], 'the .wasm is found beside the script')
      assert.deepEqual(p.errors, [], 'no errors in the page')
      assert.deepEqual(h.blockedRequests(), [], 'no request left loopback')
    })
  }
}
