// client.createServer() under Node: WebTorrent's layout over HTTP, Range requests
// byte-exact (also while the torrent is still downloading), HEAD, 416, 405, CORS, Host check.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Transform } from 'node:stream'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, once, randomBytes } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => c.destroy())
  return c
}

async function listen (server) {
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${server.address().port}`
}

test('createServer serves the listing, the torrent page and random ranges byte-exact', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'served ✓', 61)
  const c = client(t)
  const torrent = c.seed(content.root, { announce: [] })
  await once(torrent, 'seed')
  const server = c.createServer()
  assert.throws(() => c.createServer(), /server already created/)
  const origin = await listen(server)

  const index = await fetch(`${origin}/webtorrent/`)
  assert.equal(index.status, 200)
  assert.match(await index.text(), new RegExp(`/webtorrent/${torrent.infoHash}`))
  const page = await (await fetch(`${origin}/webtorrent/${torrent.infoHash.toUpperCase()}`)).text()
  for (const f of torrent.files) assert.ok(page.includes(f.streamURL.replace(/&/g, '&#38;')), `${f.path} linked`)

  const file = torrent.files.find(f => f.name === 'a.bin')
  const data = content.files.find(f => f.path.endsWith('a.bin')).data
  const url = origin + file.streamURL
  const whole = await fetch(url)
  assert.equal(whole.status, 200)
  assert.equal(whole.headers.get('accept-ranges'), 'bytes')
  assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), data)
  const random = randomBytes(7, 40)
  for (let i = 0; i < 10; i++) {
    const start = Math.floor((random[i * 4] / 256) * data.length)
    const end = Math.min(data.length - 1, start + random[i * 4 + 1] * 997)
    const res = await fetch(url, { headers: { range: `bytes=${start}-${end}` } })
    assert.equal(res.status, 206)
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${data.length}`)
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), data.subarray(start, end + 1))
  }
  const one = await fetch(url, { headers: { range: 'bytes=0-0' } })
  assert.equal(one.headers.get('content-length'), '1')
  assert.equal((await one.arrayBuffer()).byteLength, 1)
  const past = await fetch(url, { headers: { range: `bytes=${data.length}-` } })
  assert.equal(past.status, 416)
  assert.equal(past.headers.get('content-range'), `bytes */${data.length}`)
  assert.equal(past.headers.get('content-length'), '0', 'an empty body, not a chunked one')
  const head = await fetch(url, { method: 'HEAD' })
  assert.equal(head.headers.get('content-length'), String(data.length))
  assert.equal((await fetch(url, { method: 'POST' })).status, 405)
  assert.equal((await fetch(`${origin}/webtorrent/${'0'.repeat(40)}/x`)).status, 404)
  assert.equal((await fetch(`${origin}/elsewhere`)).status, 404)
  const cors = await fetch(url, { headers: { origin: 'http://example.test', range: 'bytes=0-9' } })
  assert.equal(cors.headers.get('access-control-allow-origin'), '*')

  await new Promise(resolve => server.close(resolve))
  assert.doesNotThrow(() => c.createServer({ origin: false }).close())
})

test('a file streams from the server while its torrent downloads; a foreign Host is refused', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'streaming', 63)
  const seeder = new WasmTorrent({ tracker: false, dht: false, uploadLimit: 400_000 })
  t.after(() => seeder.destroy())
  const seeded = seeder.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  const c = client(t)
  const torrent = c.add(seeded.torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'ready')
  const server = c.createServer({ hostname: '127.0.0.1' })
  const origin = await listen(server)
  const file = torrent.files.find(f => f.name === 'a.bin')
  const data = content.files.find(f => f.path.endsWith('a.bin')).data
  let progressAtAnswer = -1
  const body = fetch(origin + file.streamURL, { headers: { range: 'bytes=500000-' } }).then(r => {
    progressAtAnswer = torrent.progress
    return r.arrayBuffer()
  })
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  assert.deepEqual(new Uint8Array(await body), data.subarray(500000))
  assert.ok(progressAtAnswer >= 0 && progressAtAnswer < 1, `answered at progress ${progressAtAnswer}, before the download ended`)
  await assert.rejects(fetch(`http://localhost:${server.address().port}/webtorrent/`), 'Host localhost:port is refused')
  server.destroy()
})

test("file 'stream': a listener gets { stream, req, file } and can send the body through its own stream", async t => {
  const c = client(t)
  const data = randomBytes(63, 50_001)
  const torrent = c.seed(Object.assign(Buffer.from(data), { name: 'flipped.bin' }), { announce: [] })
  await once(torrent, 'seed')
  const server = c.createServer()
  t.after(() => new Promise(resolve => server.destroy(resolve)))
  const origin = await listen(server)
  const file = torrent.files[0]
  const seen = []
  file.on('stream', ({ stream, req, file: which }, pipeTo) => {
    seen.push({ url: req.url, same: which === file, readable: typeof stream.pipe === 'function' })
    // Every byte inverted: the same whatever the chunks.
    pipeTo(new Transform({ transform (chunk, _enc, cb) { cb(null, Buffer.from(chunk).map(b => b ^ 0xff)) } }))
  })
  const res = await fetch(origin + file.streamURL, { headers: { range: 'bytes=1000-40999' } })
  assert.equal(res.status, 206)
  const body = Buffer.from(await res.arrayBuffer())
  assert.deepEqual(body, Buffer.from(data.subarray(1000, 41000)).map(b => b ^ 0xff))
  assert.deepEqual(seen, [{ url: file.streamURL, same: true, readable: true }])
  // HEAD has no body: no 'stream'.
  await fetch(origin + file.streamURL, { method: 'HEAD' })
  assert.equal(seen.length, 1)
})

test("as WebTorrent's Node server: a file opened as a page shows there, CORS for any headers, DLNA headers, lenient ranges", async t => {
  const c = client(t)
  const video = Object.assign(Buffer.from(randomBytes(64, 3000)), { name: 'clip.mp4' })
  const empty = Object.assign(Buffer.alloc(0), { name: 'empty.txt' })
  const torrent = c.seed([video, empty], { name: 'pack', announce: [] })
  await once(torrent, 'seed')
  const unused = c.createServer()
  await new Promise(resolve => unused.close(err => { assert.equal(err?.code, 'ERR_SERVER_NOT_RUNNING'); resolve() }))
  const server = c.createServer()
  t.after(() => new Promise(resolve => server.destroy(resolve)))
  const origin = await listen(server)
  const [clip, none] = ['clip.mp4', 'empty.txt'].map(name => origin + torrent.files.find(f => f.name === name).streamURL)

  // Pasted into the address bar, or a link of the listing: it plays in the tab.
  const page = await fetch(clip, { headers: { 'sec-fetch-dest': 'document' } })
  assert.equal(page.headers.get('content-type'), 'video/mp4')
  assert.match(page.headers.get('content-disposition'), /^inline/)
  assert.equal(page.headers.get('access-control-allow-origin'), '*', "'*' on every answer, Origin or not")
  assert.equal(page.headers.get('transfermode.dlna.org'), 'Streaming')
  assert.match(page.headers.get('contentfeatures.dlna.org'), /^DLNA\.ORG_OP=01;/)
  assert.equal((await page.arrayBuffer()).byteLength, 3000)

  const preflight = await fetch(clip, {
    method: 'OPTIONS',
    headers: { origin: 'http://example.test', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range, x-player' }
  })
  assert.equal(preflight.status, 204)
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'range, x-player')
  assert.equal((await fetch(clip, { method: 'OPTIONS' })).status, 204)

  const invalid = await fetch(clip, { headers: { range: 'bytes=5-2' } }) // ignored, as RFC 9110 says
  assert.equal(invalid.status, 200)
  assert.equal((await invalid.arrayBuffer()).byteLength, 3000)
  const spaced = await fetch(clip, { headers: { range: 'bytes= 10 - 20 ' } })
  assert.equal(spaced.status, 206)
  assert.deepEqual(Buffer.from(await spaced.arrayBuffer()), video.subarray(10, 21))
  const nothing = await fetch(none, { headers: { range: 'bytes=0-' } }) // what a player asks first
  assert.equal(nothing.status, 200)
  assert.equal(nothing.headers.get('content-length'), '0')
})

test("server details as WebTorrent's: pathname '' is /webtorrent, the Range unit in any case, destroy() after close(), listen() again", async t => {
  const c = client(t)
  const data = randomBytes(65, 20_000)
  const torrent = c.seed(Object.assign(Buffer.from(data), { name: 'd.bin' }), { announce: [] })
  await once(torrent, 'seed')
  const server = c.createServer({ pathname: '' })
  let origin = await listen(server)
  const url = () => origin + torrent.files[0].streamURL
  assert.match(torrent.files[0].streamURL, /^\/webtorrent\//)
  const upper = await fetch(url(), { headers: { range: 'BYTES=0-9' } })
  assert.equal(upper.status, 206)
  assert.deepEqual(new Uint8Array(await upper.arrayBuffer()), data.subarray(0, 10))
  await new Promise(resolve => server.close(resolve))
  // Listened again: the client's server again (streamURL works, client.destroy closes it).
  origin = await listen(server)
  assert.equal((await fetch(url())).status, 200)
  await new Promise(resolve => server.close(resolve))
  await new Promise((resolve, reject) => server.destroy(err => (err ? reject(err) : resolve())))
})

test("reading file.streamURL alone downloads nothing but the start of the first file read in a turn (the player's, about to ask)", async t => {
  const seeder = client(t)
  const files = Array.from({ length: 6 }, (_, i) => Object.assign(Buffer.from(randomBytes(70 + i, 2 << 20)), { name: `f${i}.bin` }))
  const seeded = seeder.seed(files, { name: 'many', announce: [], pieceLength: 65536 })
  await once(seeded, 'seed')
  const c = client(t)
  const torrent = c.add(seeded.torrentFile, { store: 'memory', deselect: true })
  await once(torrent, 'ready')
  const server = c.createServer()
  t.after(() => new Promise(resolve => server.destroy(resolve)))
  await listen(server)
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  for (let round = 0; round < 3; round++) { // a page that renders its links now and then
    for (const f of torrent.files) assert.match(f.streamURL, /^\/webtorrent\//)
    await new Promise(resolve => setTimeout(resolve, 400))
  }
  const got = torrent.files.map(f => f.downloaded)
  assert.deepEqual(got.slice(1), [0, 0, 0, 0, 0], 'the files whose URL was read after another in the same turn: nothing')
  assert.ok(got[0] <= 1 << 20, `the first one: its first MiB at most (${got[0]})`)
})
