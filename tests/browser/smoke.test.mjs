// The package in a real browser: the classic script and the ES module each parse a
// torrent and create torrents from a Uint8Array, a File and Blobs; the info-hashes must be
// create-torrent's, computed here in Node on the same bytes.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { browserName, startHarness } from './harness.mjs'
import { createTorrentNpm, npmInputs, parseTorrentNpm, randomBytes } from '../js/helpers.mjs'

const opts = { creationDate: new Date('2024-01-02T03:04:05Z'), announce: 'wss://tracker.invalid', pieceLength: 16384 }
const single = { path: 'single.bin', data: randomBytes(1, 40000) }
const multi = [
  { path: 'folder/a.txt', data: randomBytes(2, 16384) },
  { path: 'folder/sub/b.bin', data: randomBytes(3, 50001) },
  { path: 'folder/c ✓.bin', data: randomBytes(4, 7) }
]
const b64 = bytes => Buffer.from(bytes).toString('base64')

let h
let expected
before(async () => {
  h = await startHarness()
  const singleTorrent = await createTorrentNpm([new File([single.data], single.path)], opts)
  const multiTorrent = await createTorrentNpm(npmInputs(multi), opts)
  expected = {
    singleTorrent,
    single: (await parseTorrentNpm(singleTorrent)).infoHash,
    multi: (await parseTorrentNpm(multiTorrent)).infoHash,
    multiParsed: await parseTorrentNpm(multiTorrent)
  }
})
after(async () => {
  await h?.close()
})

// Runs in the page, against window.lib (the global WasmTorrent or the module's exports).
async function exercise ({ single, multi, torrent, opts }) {
  const lib = await window.libReady
  const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0))
  const hashOf = async t => (await lib.parseTorrent(t)).infoHash
  opts = { ...opts, creationDate: new Date(opts.creationDate) }

  const parsed = await lib.parseTorrent(bytes(torrent))
  const out = {
    parsed: { infoHash: parsed.infoHash, name: parsed.name, length: parsed.length, pieces: parsed.pieces.length, files: parsed.files },
    fromBytes: await hashOf(await lib.createTorrent([{ path: single.path, data: bytes(single.data) }], opts)),
    fromFile: await hashOf(await lib.createTorrent(new File([bytes(single.data)], single.path), opts)),
    multiFromBytes: await hashOf(await lib.createTorrent(multi.map(f => ({ path: f.path, data: bytes(f.data) })), opts)),
    multiFromBlobs: await hashOf(await lib.createTorrent(multi.map(f => ({ path: f.path, data: new Blob([bytes(f.data)]) })), opts))
  }
  out.magnet = (await lib.parseTorrent(lib.toMagnetURI(parsed))).infoHash
  try {
    await lib.parseTorrent(bytes('ZDQ6aW5mbw==')) // "d4:info"
  } catch (err) {
    out.error = { isError: err instanceof Error, code: err.code, position: err.position, message: err.message }
  }
  return out
}

for (const [label, page] of [['classic script (wasmtorrent.global.js)', 'smoke-script.html'], ['ES module', 'smoke-module.html']]) {
  test(`${label}: parse and create in ${browserName}`, async () => {
    const p = await h.newPage()
    const wasmRequests = []
    p.on('request', r => { if (r.url().endsWith('.wasm')) wasmRequests.push(new URL(r.url()).pathname) })
    await p.goto(`${h.url}/tests/browser/pages/${page}`)
    const out = await p.evaluate(exercise, {
      single: { path: single.path, data: b64(single.data) },
      multi: multi.map(f => ({ path: f.path, data: b64(f.data) })),
      torrent: b64(expected.singleTorrent),
      opts: { ...opts, creationDate: opts.creationDate.getTime() }
    })

    assert.equal(out.parsed.infoHash, expected.single)
    assert.equal(out.parsed.name, 'single.bin')
    assert.equal(out.parsed.length, 40000)
    assert.equal(out.parsed.pieces, 3)
    assert.deepEqual(out.parsed.files, [{ path: 'single.bin', name: 'single.bin', length: 40000, offset: 0 }])
    assert.equal(out.fromBytes, expected.single, 'from a Uint8Array')
    assert.equal(out.fromFile, expected.single, 'from a File')
    assert.equal(out.multiFromBytes, expected.multi, 'multi-file from Uint8Arrays')
    assert.equal(out.multiFromBlobs, expected.multi, 'multi-file from Blobs')
    assert.equal(out.magnet, expected.single, 'magnet round trip')
    assert.deepEqual(out.error, { isError: true, code: 'bencode_truncated', position: 7, message: 'input ends inside a value at byte 7' })

    assert.deepEqual(wasmRequests, ['/dist/wasmtorrent.wasm'], 'the .wasm is found next to the script')
    assert.deepEqual(p.errors, [], 'no errors in the page')
    assert.deepEqual(h.blockedRequests(), [], 'no request left loopback')
  })
}

test('the guard aborts requests to other hosts', async () => {
  const context = await h.newContext()
  const p = await context.newPage()
  await p.goto(`${h.url}/tests/browser/pages/smoke-module.html`)
  const result = await p.evaluate(() => fetch('http://192.0.2.1/x').then(() => 'fetched', err => `failed: ${err.name}`))
  assert.match(result, /^failed/)
  assert.deepEqual(context.blockedRequests, ['http://192.0.2.1/x'])
  context.blockedRequests.length = 0
})
