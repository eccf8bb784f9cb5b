// Conformance with WebTorrent's documented Torrent and File API (docs/api.md, "Torrent API"
// and "File API"), item by item, under Node and without network. A download needs a
// source: here a web seed (scripts/webseed.mjs on 127.0.0.1), since two clients cannot
// connect under Node yet (no WebRTC or TCP). Written from the docs, not WebTorrent's tests.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import WasmTorrent, { createTorrent } from 'wasmtorrent'
import parseTorrentNpm, { toTorrentFile } from 'parse-torrent'
import { startWebSeed } from '../../scripts/webseed.mjs'
import { randomBytes } from './helpers.mjs'

const KiB = 1024
const files = [
  { path: 'pack/a.bin', data: randomBytes(401, 70 * KiB + 5) },
  { path: 'pack/b.txt', data: new TextEncoder().encode('hello, conformance') },
  { path: 'pack/c.webm', data: randomBytes(402, 90 * KiB) }
]
const total = files.reduce((a, f) => a + f.data.length, 0)
const opts = { announceList: [['wss://tracker.invalid']], pieceLength: 16 * KiB, comment: 'a comment', createdBy: 'conformance', creationDate: new Date('2024-01-02T03:04:05Z') }
let seedServer
let torrentBytes

before(async () => {
  seedServer = await startWebSeed({ files: Object.fromEntries(files.map(f => [`/${f.path}`, Buffer.from(f.data)])) })
  torrentBytes = await createTorrent(files, { ...opts, urlList: [`${seedServer.url}/`] })
})
after(() => seedServer?.close())

const once = (emitter, name) => new Promise(resolve => emitter.once(name, (...args) => resolve(args)))
const client = () => new WasmTorrent({ tracker: false })
const tick = (ms = 50) => new Promise(resolve => setTimeout(resolve, ms))

// Adds the web-seeded torrent, collecting events until 'done'.
async function download (c, id = torrentBytes) {
  const t = c.add(id, { store: 'memory' })
  const seen = { download: [], verified: [], fileDone: [], order: [], warnings: [] }
  t.on('warning', w => seen.warnings.push(w.message))
  t.on('download', bytes => seen.download.push(bytes))
  t.on('verified', i => seen.verified.push(i))
  for (const name of ['infoHash', 'metadata', 'ready', 'done']) t.on(name, () => seen.order.push(name))
  t.once('ready', () => t.files.forEach(f => f.once('done', () => seen.fileDone.push(f.path))))
  await new Promise((resolve, reject) => { t.once('done', resolve); t.once('error', reject) })
  return { t, seen }
}

test("magnetURI read right after a process's first add(), before the module has loaded: null, not a throw", async () => {
  // Its own process: here the module is loaded by the tests before. WebTorrent's reads
  // undefined there; a getter that threw ended the app that logged it.
  const script = `import WebTorrent from ${JSON.stringify(import.meta.resolve('wasmtorrent'))}
const c = new WebTorrent({ tracker: false })
const t = c.add('magnet:?xt=urn:btih:${'03'.repeat(20)}&dn=early', { store: 'memory' })
const before = t.magnetURI
t.on('infoHash', () => setTimeout(() => { console.log(JSON.stringify([before, t.magnetURI])); c.destroy() }, 0))`
  const { execFile } = await import('node:child_process')
  const out = await new Promise((resolve, reject) => execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout, stderr) => err ? reject(new Error(stderr || err.message)) : resolve(stdout)))
  const [before, after] = JSON.parse(out)
  assert.equal(before, null)
  assert.equal(after, `magnet:?xt=urn:btih:${'03'.repeat(20)}&dn=early`)
})

test('torrentFileBlobURL: one URL per .torrent (the same string on every read), revoked when the torrent is destroyed', async () => {
  const { resolveObjectURL } = await import('node:buffer')
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory' })
  await once(t, 'infoHash')
  const url = t.torrentFileBlobURL
  assert.match(url, /^blob:/)
  assert.equal(t.torrentFileBlobURL, url)
  assert.deepEqual(new Uint8Array(await resolveObjectURL(url).arrayBuffer()), new Uint8Array(t.torrentFile))
  t.destroy()
  assert.equal(resolveObjectURL(url), undefined, 'revoked')
  assert.equal(t.torrentFileBlobURL, null)
  await c.destroy()
})

test('torrent properties: name, infoHash, magnetURI, torrentFile, announce, files, pieces, lengths, created, createdBy, comment, path, maxWebConns', async () => {
  const c = new WasmTorrent({ tracker: false, maxWebConns: 3 })
  const t = c.add(torrentBytes, { store: 'memory', path: 'films/pack' })
  const ready = once(t, 'ready')
  // A .torrent's files, info and torrentFile already on 'infoHash', as WebTorrent's (its
  // files are parse-torrent's plain entries until the metadata makes them Files).
  await once(t, 'infoHash')
  const expected = (await parseTorrentNpm(torrentBytes)).files.map(f => [f.path, f.name, f.length, f.offset])
  assert.deepEqual(t.files.map(f => [f.path, f.name, f.length, f.offset]), expected)
  // as WebTorrent's: parse-torrent's toTorrentFile of the torrent as parsed
  assert.deepEqual(t.torrentFile, toTorrentFile(await parseTorrentNpm(torrentBytes)))
  assert.equal(new TextDecoder().decode(t.info.name), 'pack')
  const npmParsed = await parseTorrentNpm(torrentBytes)
  assert.equal(t.pieces.length, npmParsed.pieces.length, "pieces from 'infoHash' on, as WebTorrent's")
  assert.deepEqual(t.pieces.at(-1), { length: npmParsed.lastPieceLength, missing: npmParsed.lastPieceLength })
  await ready
  assert.equal(typeof t.files[0].createReadStream, 'function', 'Files from the metadata on')
  const parsed = await WasmTorrent.parseTorrent(torrentBytes)
  assert.equal(t.name, 'pack')
  assert.equal(t.infoHash, parsed.infoHash)
  assert.match(t.magnetURI, new RegExp(`^magnet:\\?xt=urn:btih:${parsed.infoHash}`))
  assert.ok(t.magnetURI.includes('dn=pack'))
  assert.ok(t.magnetURI.includes(`ws=${encodeURIComponent(`${seedServer.url}/`)}`), 'web seeds in the magnet, as WebTorrent\'s')
  // A magnet's own parameters stay until the metadata, as WebTorrent's (magnet-uri's order).
  const given = `magnet:?xt=urn:btih:${'01'.repeat(20)}&dn=x&tr=udp%3A%2F%2F127.0.0.1%3A1&ws=http%3A%2F%2F127.0.0.1%3A4%2Fa` +
    '&xs=http%3A%2F%2F127.0.0.1%3A5%2Ft.torrent&x.pe=127.0.0.1:6&so=0,2'
  const m = c.add(given, { store: 'memory' })
  await once(m, 'infoHash')
  assert.equal(m.magnetURI, given)
  m.destroy()
  // ...its keywords (kt=) and a hybrid torrent's v2 info-hash (a second xt=) too.
  const hybrid = `magnet:?xt=urn:btih:${'02'.repeat(20)}&xt=urn:btmh:1220${'cd'.repeat(32)}&dn=y&kt=live+concert`
  const h = c.add(hybrid, { store: 'memory' })
  await once(h, 'infoHash')
  assert.equal(h.magnetURI, hybrid)
  h.destroy()
  assert.equal((await WasmTorrent.parseTorrent(t.torrentFile)).infoHash, parsed.infoHash)
  assert.ok(t.torrentFileBlob instanceof Blob)
  assert.ok(t.announce.includes('wss://tracker.invalid'))
  assert.deepEqual(t.files.map(f => [f.path, f.name, f.length]), files.map(f => [f.path, f.path.split('/').pop(), f.data.length]))
  assert.equal(t.pieces.length, Math.ceil(total / (16 * KiB)))
  assert.deepEqual(t.pieces[0], { length: 16 * KiB, missing: 16 * KiB })
  assert.equal(t.pieceLength, 16 * KiB)
  assert.equal(t.lastPieceLength, total - (t.pieces.length - 1) * 16 * KiB)
  assert.equal(t.length, total)
  assert.equal(t.created.toISOString(), '2024-01-02T03:04:05.000Z')
  assert.equal(t.createdBy, 'conformance')
  assert.equal(t.comment, 'a comment')
  assert.equal(t.path, 'films/pack')
  assert.equal(t.maxWebConns, 3)
  assert.equal(t.strategy, 'rarest') // the add option's, ours when unset
  const magnet = c.add('magnet:?xt=urn:btih:' + 'ab'.repeat(20), { strategy: 'sequential', store: 'memory' })
  assert.equal(magnet.strategy, 'sequential')
  assert.equal(magnet.timeRemaining, Infinity, 'not done, nothing moving: as WebTorrent\'s')
  // Lengths not known before the metadata: undefined, as WebTorrent's.
  assert.deepEqual([magnet.length, magnet.pieceLength, magnet.lastPieceLength], [undefined, undefined, undefined])
  assert.equal(t.ready, true)
  assert.equal(t.paused, false)
  assert.equal(typeof t.timeRemaining, 'number')
  // Its url-list's web seed is a wire, as WebTorrent's: numPeers is wires.length.
  assert.deepEqual(t.wires.map(w => w.type), ['webSeed'])
  assert.equal(t.numPeers, 1)
  await c.destroy()
})

test("a download: 'infoHash', 'metadata', 'ready', 'download' (bytes that arrived), 'verified', files' 'done', then 'done'", async () => {
  const c = client()
  const clientDownload = []
  c.on('download', b => clientDownload.push(b))
  const { t, seen } = await download(c)
  assert.deepEqual(seen.order, ['infoHash', 'metadata', 'ready', 'done'])
  assert.ok(seen.download.length > 0)
  assert.ok(seen.download.every(b => b > 0))
  const sum = seen.download.reduce((a, b) => a + b, 0)
  assert.equal(sum, t.received, "'download' events add up to torrent.received")
  assert.equal(clientDownload.reduce((a, b) => a + b, 0), sum, "the client's 'download' too")
  assert.equal(new Set(seen.verified).size, t.pieces.length)
  assert.deepEqual(seen.fileDone.sort(), files.map(f => f.path).sort())
  assert.deepEqual(seen.warnings, [])
  // downloaded: verified bytes; received: every byte (at least the length); progress, done.
  assert.equal(t.downloaded, total)
  assert.ok(t.received >= total)
  assert.equal(t.progress, 1)
  assert.equal(t.done, true)
  assert.equal(t.timeRemaining, 0)
  assert.equal(t.uploaded, 0)
  assert.equal(t.ratio, 0)
  assert.ok(t.pieces.every(p => p === null), 'verified pieces are null, as WebTorrent')
  // The speed of the last seconds, as WebTorrent's 5 s window: the bytes that just came
  // show (a download shorter than a second read 0 with the moving average it replaced).
  assert.ok(t.downloadSpeed > 0 && c.downloadSpeed === t.downloadSpeed, `downloadSpeed ${t.downloadSpeed}`)
  await c.destroy()
})

test('file properties and readers: downloaded, progress, done, includes, createReadStream (pipe, data, for await, ranges), arrayBuffer, blob, getBuffer, getBlob', async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory' })
  await once(t, 'ready')
  const [a, b, webm] = t.files
  assert.equal(a.downloaded, 0)
  assert.equal(a.progress, 0)
  assert.equal(b.type, 'text/plain')
  assert.equal(webm.type, 'video/webm')
  assert.equal(a.offset, 0)
  assert.equal(b.offset, files[0].data.length)
  assert.equal(a.includes(0), true)
  assert.equal(a.includes(t.pieces.length - 1), false)
  // createReadStream: a Node-style readable.
  const stream = a.createReadStream()
  assert.equal(typeof stream.pipe, 'function')
  const piped = []
  await new Promise((resolve, reject) => {
    const sink = new Writable({ write (chunk, _enc, cb) { piped.push(chunk); cb() } })
    sink.on('finish', resolve)
    stream.on('error', reject)
    stream.pipe(sink)
  })
  assert.deepEqual(Buffer.concat(piped), Buffer.from(files[0].data))
  const data = []
  const s2 = b.createReadStream()
  s2.on('data', chunk => data.push(chunk))
  await once(s2, 'end')
  assert.equal(Buffer.concat(data).toString(), 'hello, conformance')
  const ranged = []
  for await (const chunk of webm.createReadStream({ start: 100, end: 20_000 })) ranged.push(chunk)
  assert.deepEqual(Buffer.concat(ranged), Buffer.from(files[2].data.subarray(100, 20_001)), 'start and end inclusive')
  const iterated = []
  for await (const chunk of webm[Symbol.asyncIterator]({ start: 5, end: 17_000 })) iterated.push(chunk)
  assert.deepEqual(Buffer.concat(iterated), Buffer.from(files[2].data.subarray(5, 17_001)), 'the file\'s own iterator takes a range too')
  // Any way of listening for 'data' starts the flow, as with a Node Readable.
  for (const add of ['once', 'prependListener', 'prependOnceListener']) {
    const first = await new Promise(resolve => b.createReadStream()[add]('data', resolve))
    assert.equal(Buffer.from(first).toString(), 'hello, conformance', add)
  }
  // Whole-file forms.
  assert.deepEqual(new Uint8Array(await webm.arrayBuffer()), files[2].data)
  assert.equal((await b.blob()).size, files[1].data.length)
  const buf = await new Promise((resolve, reject) => b.getBuffer((err, x) => (err ? reject(err) : resolve(x))))
  assert.ok(Buffer.isBuffer(buf))
  assert.equal(buf.toString(), 'hello, conformance')
  const blob = await new Promise((resolve, reject) => b.getBlob((err, x) => (err ? reject(err) : resolve(x))))
  assert.equal(await blob.text(), 'hello, conformance')
  // streamURL needs a server (a browser's service worker).
  assert.throws(() => b.getStreamURL(), err => err.code === 'no_server')
  await c.destroy()
})

test('a stream destroyed early stops its reader; a removed torrent ends its streams quietly, and reads fail', async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory' })
  await once(t, 'ready')
  const s = t.files[2].createReadStream()
  const closed = once(s, 'close')
  s.destroy()
  await closed
  assert.equal(s.destroyed, true)
  t.destroy()
  // Streams still waiting for their pieces (a torrent with no source): as WebTorrent's,
  // destroyed with the torrent, 'close' and no 'error' (an app that pipes a file and removes
  // its torrent has no 'error' listener, and Node would throw).
  const sourceless = c.add(await createTorrent(files, opts), { store: 'memory' })
  await once(sourceless, 'ready')
  const file = sourceless.files[2]
  const waiting = file.createReadStream()
  const events = []
  for (const name of ['data', 'end', 'error', 'close']) waiting.on(name, () => events.push(name))
  const reading = file.arrayBuffer()
  await tick()
  sourceless.destroy()
  await assert.rejects(reading, err => err.code === 'destroyed')
  await tick()
  assert.deepEqual(events, ['close'])
  assert.throws(() => file.createReadStream(), err => err.code === 'destroyed' && err.message === 'File is destroyed')
  assert.throws(() => file.stream(), err => err.code === 'destroyed')
  const iterated = []
  for await (const chunk of file) iterated.push(chunk) // ends at once, as WebTorrent's
  assert.deepEqual(iterated, [])
  await c.destroy()
})

test('file.select/deselect, torrent.select/deselect/critical: a deselected file is not downloaded', async () => {
  const c = client()
  const magnet = c.add(`magnet:?xt=urn:btih:${'cd'.repeat(20)}`, { store: 'memory' })
  // No piece yet (before the metadata) or an empty range: deselect() and critical() do
  // nothing, select() throws, as WebTorrent's.
  magnet.deselect(0, magnet.pieces.length - 1)
  magnet.critical(0, 3)
  assert.throws(() => magnet.select(0, 3), err => err.code === 'not_ready')
  const t = c.add(torrentBytes, { store: 'memory' })
  await once(t, 'ready')
  t.deselect(5, 2)
  t.critical(3, 1)
  assert.throws(() => t.select(5, 2), err => err.code === 'invalid_argument')
  assert.throws(() => t.deselect('x'), err => err.code === 'invalid_argument')
  t.deselect(0, t.pieces.length - 1)
  t.files[1].select()
  t.critical(t.files[1]._startPiece, t.files[1]._endPiece)
  await once(t, 'idle')
  assert.equal(t.files[1].done, true)
  assert.ok(t.downloaded < total, `only the selected pieces: ${t.downloaded} of ${total}`)
  t.select(0, t.pieces.length - 1)
  await once(t, 'done')
  assert.equal(t.downloaded, total)
  await c.destroy()
})

test('torrent.pause/resume: paused is reported, resume finishes the download', async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory', paused: true })
  await once(t, 'ready')
  assert.equal(t.paused, true)
  t.resume()
  assert.equal(t.paused, false)
  await once(t, 'done')
  t.pause()
  assert.equal(t.paused, true)
  await c.destroy()
})

test('torrent.addWebSeed: a torrent without url-list downloads from the seed added', async () => {
  const bare = await createTorrent(files, opts)
  const c = client()
  const t = c.add(bare, { store: 'memory' })
  t.addWebSeed(`${seedServer.url}/`)
  await once(t, 'done')
  assert.equal(t.webSeedDownloaded, t.received)
  // The urlList add option, as WebTorrent's.
  const d = client()
  const u = d.add(bare, { store: 'memory', urlList: [`${seedServer.url}/`] })
  await once(u, 'done')
  assert.ok(u.urlList.includes(`${seedServer.url}/`))
  await c.destroy()
  await d.destroy()
})

test('torrent.addPeer under Node: an address is taken, anything else is false or a clear error; removePeer of an unknown peer is a no-op', async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory' })
  await once(t, 'ready')
  assert.equal(t.addPeer('127.0.0.1:9'), true) // dialled, refused: nothing else happens
  assert.equal(t.addPeer('[::1]:9'), true)
  assert.equal(t.addPeer('localhost:9'), true) // a name is resolved first, as WebTorrent's
  const warned = once(t, 'warning')
  assert.equal(t.addPeer('no-such-host.invalid:80'), true)
  assert.equal((await warned)[0].code, 'lookup_failed')
  assert.equal(t.addPeer('1.2.3.4'), false)
  assert.throws(() => t.addPeer({}), err => err.code === 'not_supported')
  t.removePeer('00'.repeat(20))
  assert.deepEqual(t.wires.filter(w => w.type !== 'webSeed'), [])
  // In the 'infoHash' listener (where WebTorrent's apps add peers: before it, WebTorrent's
  // throws), the same answers and events at once, as WebTorrent's, though the engine does not
  // have the torrent yet.
  const seen = []
  const early = c.add('ab'.repeat(20), { store: 'memory' })
  for (const name of ['peer', 'invalidPeer']) early.on(name, addr => seen.push(`${name} ${addr}`))
  await new Promise(resolve => early.once('infoHash', () => {
    for (const addr of ['garbage', '127.0.0.1:0', '127.0.0.1:7000', '127.0.0.1:7000']) seen.push(`${addr} ${early.addPeer(addr)}`)
    resolve()
  }))
  assert.deepEqual(seen, ['invalidPeer garbage', 'garbage false', 'invalidPeer 127.0.0.1:0', '127.0.0.1:0 false',
    'peer 127.0.0.1:7000', '127.0.0.1:7000 true', 'invalidPeer 127.0.0.1:7000', '127.0.0.1:7000 false'])
  await tick()
  assert.equal(seen.length, 8, 'nothing more once the engine has the torrent')
  await c.destroy()
})

test('torrent.load(streams, cb): content the app has becomes the pieces (hashed); the wrong length is an error', async () => {
  const c = client()
  const bare = await createTorrent(files, { ...opts }) // no web seed: nothing to download from
  const t = c.add(bare, { store: 'memory' })
  const done = once(t, 'done')
  await new Promise((resolve, reject) => t.load(files.map(f => Buffer.from(f.data)), err => (err ? reject(err) : resolve())))
  await done
  assert.equal(t.progress, 1)
  assert.deepEqual(new Uint8Array(await t.files[2].arrayBuffer()), files[2].data)
  const u = c.add(await createTorrent(files, { ...opts, info: { source: 'other' } }), { store: 'memory' })
  await assert.rejects(u.load([Buffer.from('short')]), /load: 5 bytes given/)
  // Wrong bytes of the right length: the pieces fail their hash.
  const v = c.add(await createTorrent(files, { ...opts, info: { source: 'third' } }), { store: 'memory' })
  await assert.rejects(v.load([new Uint8Array(total)]), err => err.code === 'hash_failed')
  await c.destroy()
})

test("torrent.client and torrent.files (null and [] once 'close' was emitted) and torrent.bitfield (verified pieces)", async () => {
  const c = client()
  const { t } = await download(c)
  assert.equal(t.client, c)
  assert.equal(t.bitfield.get(0), true)
  assert.equal(t.bitfield.get(t.pieces.length - 1), true)
  assert.equal(t.bitfield.buffer.length, Math.ceil(t.pieces.length / 8))
  const u = c.add(await createTorrent(files, { ...opts, info: { source: 'bits' } }), { store: 'memory' })
  await once(u, 'ready')
  assert.equal(u.bitfield.get(0), false)
  let inClose
  let filesInClose
  const file = t.files[0]
  const downloaded = file.downloaded
  t.once('close', () => { inClose = t.client; filesInClose = t.files.length })
  await t.destroy()
  assert.equal(inClose, c, "'close' listeners still see the client, as WebTorrent's")
  assert.equal(t.client, null)
  assert.equal(filesInClose, files.length, "and the files")
  assert.deepEqual(t.files, [], "after 'close' torrent.files is empty, as WebTorrent's")
  assert.equal(file.downloaded, downloaded, 'a File held keeps its totals')
  await c.destroy()
})

test('torrent.metadata (the .torrent once ready) and torrent.info/infoBuffer, as npm parse-torrent gives them', async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory' })
  await once(t, 'ready')
  const parsed = await parseTorrentNpm(torrentBytes)
  assert.deepEqual(t.info, parsed.info)
  assert.ok(t.info.pieces instanceof Uint8Array)
  assert.deepEqual(Buffer.from(t.infoBuffer), Buffer.from(parsed.infoBuffer))
  assert.deepEqual(Buffer.from(t.metadata), Buffer.from(t.torrentFile))
  const m = c.add('magnet:?xt=urn:btih:' + 'e'.repeat(40), { store: 'memory' })
  assert.equal(m.metadata, null)
  assert.equal(m.info, undefined)
  await c.destroy()
})

test('add option deselect: nothing is downloaded until select()', async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory', deselect: true })
  await once(t, 'ready')
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal(t.downloaded, 0)
  const done = once(t, 'done')
  t.select() // as WebTorrent's: from the first piece to the last
  await done
  assert.equal(t.downloaded, total)
  await c.destroy()
})

test("'idle' (WebTorrent 2's): once nothing selected is left to download; after a select, once that is downloaded", async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory', deselect: true })
  // As WebTorrent's, 'idle' may come more than once while nothing is left (its check runs
  // after every change of the selections).
  let idle = 0
  t.on('idle', () => idle++)
  await once(t, 'ready')
  await tick()
  assert.ok(idle >= 1, 'nothing selected at ready')
  const first = t.files[0]
  const events = []
  t.on('done', () => events.push('done'))
  t.on('idle', () => events.push(first.done ? 'idle' : 'idle while downloading'))
  t.select(first._startPiece, first._endPiece)
  await once(t, 'idle')
  assert.equal(first.done, true)
  assert.deepEqual(events, ['idle'], 'no done: the torrent is not complete')
  assert.ok(t.downloaded < total, 'only the selected pieces')
  t.deselect(0, t.pieces.length - 1)
  await once(t, 'idle') // after a deselect, nothing is left: idle again
  await c.destroy()
})

test("'done' (as WebTorrent 2's): only once every file is complete, whatever is selected; progress and timeRemaining are the whole torrent's", async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory', deselect: true })
  await once(t, 'ready')
  const events = []
  t.on('done', () => events.push(`done ${t.done} ${t.progress}`))
  t.on('idle', () => events.push('idle'))
  t.files[0].select()
  await once(t, 'idle')
  assert.equal(t.done, false)
  assert.ok(t.progress > 0 && t.progress < 1, `progress over the whole torrent: ${t.progress}`)
  assert.equal(t.progress, t.downloaded / t.length)
  assert.notEqual(t.timeRemaining, 0, 'not done: time remains')
  assert.deepEqual(events, ['idle'])
  // The deselected files, read by streams, complete the torrent: 'done' then, with no
  // selection involved.
  const done = once(t, 'done')
  for (const f of t.files.slice(1)) await f.arrayBuffer()
  await done
  assert.equal(events[events.length - 1], 'done true 1')
  assert.equal(t.done, true)
  assert.equal(t.timeRemaining, 0)
  await c.destroy()
})

test('select(start, end, priority, notify): notify as the selection gets new data, last when it is complete; at once for one already had', async () => {
  const c = client()
  const t = c.add(torrentBytes, { store: 'memory', deselect: true })
  await once(t, 'ready')
  const calls = [] // pieces 0-3 had at each call
  const had = () => [0, 1, 2, 3].filter(i => t.bitfield.get(i)).length
  const complete = new Promise(resolve => t.select(0, 3, 1, () => {
    calls.push(had())
    if (had() === 4) resolve()
  }))
  await complete
  assert.ok(calls.length >= 2, `notify calls: ${calls}`) // the prefix grew, then complete
  assert.equal(calls.at(-1), 4)
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i] >= calls[i - 1])
  const again = []
  t.select(1, 2, () => again.push(had()))
  await new Promise(resolve => setTimeout(resolve, 50))
  // Already complete: notified at once (as WebTorrent's: for the prefix, then completion).
  assert.ok(again.length >= 1 && again.every(n => n === 4), `notify calls: ${again}`)
  await c.destroy()
})

test("torrent.destroy(opts, cb): the client's 'remove', 'close' (WebTorrent's order), cb; destroyed", async () => {
  const c = client()
  const { t } = await download(c)
  const events = []
  const file = t.files[0] // torrent.files is [] after 'close', as WebTorrent's; the File keeps its totals
  const totals = () => ({ downloaded: t.downloaded, received: t.received, pieces: t.pieces.length, verified: t.bitfield.get(0), file: file.progress, torrentFile: t.torrentFile?.length })
  const before = totals()
  assert.equal(before.downloaded, total)
  let atClose
  t.on('close', () => { events.push('close'); atClose = totals() })
  c.on('remove', () => events.push('remove'))
  await new Promise(resolve => t.destroy({ destroyStore: true }, resolve))
  assert.deepEqual(events, ['remove', 'close'])
  // As WebTorrent's: the totals are still there on 'close' and after (an app logs them then).
  assert.deepEqual(atClose, before)
  assert.deepEqual(totals(), before)
  assert.equal(t.downloadSpeed, 0)
  assert.equal(t.numPeers, 0)
  for (const call of [() => t.select(0, 1), () => t.deselect(0, 1), () => t.critical(0, 1), () => t.addPeer('127.0.0.1:9'), () => t.addWebSeed('http://127.0.0.1:9/')]) {
    assert.throws(call, err => err.code === 'destroyed' && err.message === 'torrent is destroyed', 'as WebTorrent\'s')
  }
  assert.equal(t.destroyed, true)
  assert.deepEqual(c.torrents, [])
  // A second destroy does nothing: no second 'close', and its callback is never called, as
  // WebTorrent's (an app counting callbacks sees one); its Promise resolves.
  let second = false
  await t.destroy(() => { second = true })
  await tick(50)
  assert.equal(second, false)
  assert.deepEqual(events, ['remove', 'close'])
  await c.destroy()
})

test("a torrent's fatal error destroys it and reaches its 'error' listeners", async () => {
  const c = client()
  const t = c.add('magnet:?xt=urn:btih:' + '12'.repeat(20), { store: 'memory' })
  while (t._id === null) await new Promise(resolve => setTimeout(resolve, 10))
  // The engine's 'error' event for this torrent, as the run loop hands it over.
  const got = once(t, 'error')
  c._dispatch([{ type: 'error', torrent: t._id, message: 'boom' }])
  assert.equal((await got)[0].message, 'boom')
  assert.equal(t.destroyed, true)
  assert.deepEqual(c.torrents, [])
  await c.destroy()
})

// Files' 'done' in a torrent of many files: tiny files share pieces, some are empty, some
// span pieces. Each file says 'done' once, right after the 'verified' of the last piece it
// was waiting for (before the next 'verified'), never earlier.
test("files' 'done' in a torrent of 600 files: once each, right when the file's last piece is verified", { timeout: 120_000 }, async () => {
  const many = []
  for (let i = 0; i < 600; i++) {
    const length = i % 97 === 5 ? 0 : i % 50 === 7 ? 40 * KiB + i : 1 + (i * 131) % 3000
    many.push({ path: `many/d${i % 7}/f${String(i).padStart(3, '0')}.bin`, data: randomBytes(1000 + i, length) })
  }
  const server = await startWebSeed({ files: Object.fromEntries(many.map(f => [`/${f.path}`, Buffer.from(f.data)])) })
  try {
    const bytes = await createTorrent(many, { announceList: [], pieceLength: 16 * KiB, urlList: [`${server.url}/`] })
    const c = client()
    const t = c.add(bytes, { store: 'memory' })
    const verified = new Set()
    const events = [] // ['verified', piece] and ['done', file index]
    const doneTooEarly = []
    t.on('verified', i => { verified.add(i); events.push(['verified', i]) })
    t.once('ready', () => t.files.forEach((f, index) => f.on('done', () => {
      events.push(['done', index])
      for (let p = f._startPiece; f.length > 0 && p <= f._endPiece; p++) if (!verified.has(p)) doneTooEarly.push([index, p])
    })))
    await new Promise((resolve, reject) => { t.once('done', resolve); t.once('error', reject) })
    assert.deepEqual(doneTooEarly, [])
    const doneCount = new Map()
    for (const [kind, index] of events) if (kind === 'done') doneCount.set(index, (doneCount.get(index) ?? 0) + 1)
    assert.equal(doneCount.size, many.length)
    assert.ok([...doneCount.values()].every(n => n === 1))
    // Right after the piece that completed it: the last 'verified' before a file's 'done'
    // is the last of that file's pieces to be verified.
    let lastVerified = null
    const late = []
    const seen = new Set()
    for (const [kind, value] of events) {
      if (kind === 'verified') { lastVerified = value; seen.add(value); continue }
      const f = t.files[value]
      if (f.length === 0) continue
      const completedBy = [...seen].filter(p => f.includes(p)).pop()
      if (completedBy !== lastVerified) late.push([value, completedBy, lastVerified])
    }
    assert.deepEqual(late, [])
    await c.destroy()
  } finally {
    server.close()
  }
})

test('the add option announce: a URL or a list of them; anything else ignored, as WebTorrent ignores it, not an error', async () => {
  const c = client()
  const errors = []
  c.on('error', err => errors.push(err.message))
  const odd = [5, { a: 1 }, ['wss://127.0.0.1:1/', 7]]
  for (const [i, announce] of odd.entries()) {
    const t = c.add(await createTorrent(files, { ...opts, info: { source: `announce ${i}` } }), { store: 'memory', announce })
    t.on('error', err => errors.push(err.message))
    await once(t, 'ready')
    assert.ok(t.announce.every(url => typeof url === 'string'), JSON.stringify(t.announce))
  }
  assert.deepEqual(errors, [])
  await c.destroy()
})
