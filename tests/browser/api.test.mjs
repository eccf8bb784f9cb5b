// The WebTorrent-style API beyond add/seed: torrent.addPeer() with a data channel the
// pages signalled themselves (no tracker at all), file streams and async iteration,
// torrentFile, wires and a custom BEP 10 extension (wire.use / wire.extended).
// Runs inside tests/browser/run.sh's network namespace (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startHarness } from './harness.mjs'
import { acceptAnswer, answerChannel, offerChannel } from './signal.mjs'
import { startTracker } from '../../scripts/tracker.mjs'

let h
let tracker
let trackerURL
// As WebTorrent's, createServer probes its worker at <scope>webtorrent/cancel/. The stand-in
// registration below has no worker, so the test server answers it as a worker would (a
// 404 would be logged by the browser whenever it likes, racing the check for errors).
let cancelProbes = 0
const routes = {
  '/tests/browser/pages/webtorrent/cancel/': (req, res) => { cancelProbes++; res.writeHead(200).end() }
}
before(async () => {
  tracker = await startTracker()
  trackerURL = tracker.url
  h = await startHarness({ routes })
})
after(async () => {
  await h?.close()
  await tracker?.close()
})

const MiB = 1024 * 1024

// Both pages: a client with no tracker, and a BEP 10 extension "x_echo" that answers
// "ping:<text>" with "pong:<text>" and records what it saw. It is used from the 'wire'
// handler, the way WebTorrent extensions are.
async function setUp () {
  window.client = new window.WasmTorrent({ tracker: false })
  window.log = { handshakes: [], messages: [], wires: 0, closed: 0, down: 0, up: 0, haves: [], first: [] }
  window.Echo = class Echo {
    constructor (wire) {
      this.wire = wire
      wire.extendedHandshake.x_echo_motto = 'hello from ' + location.hash
    }

    onExtendedHandshake (h) {
      const motto = h.x_echo_motto ? new TextDecoder().decode(h.x_echo_motto) : null
      window.log.handshakes.push({ supports: Boolean(h.m?.x_echo), motto })
    }

    onMessage (bytes) {
      const text = new TextDecoder().decode(bytes)
      window.log.messages.push(text)
      if (text.startsWith('ping:')) this.wire.extended('x_echo', new TextEncoder().encode('pong:' + text.slice(5)))
    }
  }
  window.Echo.prototype.name = 'x_echo'
  window.watchWires = torrent => torrent.on('wire', (wire, address) => {
    window.log.wires++
    window.log.address = address
    wire.use(window.Echo)
    wire.on('close', () => window.log.closed++)
    // bittorrent-protocol's events: the bytes each way, the pieces the peer announces, and
    // which of the opening messages came first.
    wire.on('download', n => { window.log.down += n })
    wire.on('upload', n => { window.log.up += n })
    wire.on('have', i => { if (!window.log.haves.includes(i)) window.log.haves.push(i) })
    for (const name of ['have-all', 'bitfield', 'have-none', 'unchoke']) wire.once(name, () => window.log.first.push(name))
  })
}

test('addPeer over a page-signalled data channel: magnet alone, streams, torrentFile, a custom extension', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/client.html#A')
  const b = await h.newPage('/tests/browser/pages/client.html#B')
  await a.evaluate(setUp)
  await b.evaluate(setUp)

  const size = 6 * MiB + 12345 // not a multiple of the piece length
  const seeded = await a.evaluate(async size => {
    const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
    const data = new Uint8Array(size)
    for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)))
    window.data = data
    const torrent = await window.client.seedAsync([
      { path: 'pack/video.webm', data },
      { path: 'pack/subs.vtt', data: new TextEncoder().encode('WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n') }
    ], { name: 'pack', announceList: [] }) // no tracker: the peer comes by addPeer only
    window.torrent = torrent
    window.watchWires(torrent)
    return { magnet: torrent.magnetURI, infoHash: torrent.infoHash, length: torrent.length, sha256: hex(await crypto.subtle.digest('SHA-256', data)), pieceLength: torrent.pieceLength }
  }, size)
  assert.doesNotMatch(seeded.magnet, /tr=/, 'no tracker anywhere')

  await b.evaluate(magnet => {
    window.torrent = window.client.add(magnet)
    window.watchWires(window.torrent)
    window.readyAt = new Promise(resolve => window.torrent.once('ready', resolve))
    window.doneAt = new Promise(resolve => window.torrent.once('done', resolve))
  }, seeded.magnet)

  // Signalling by the test itself: no tracker is involved. A hands its channel over while
  // it is still connecting; B as soon as it arrives.
  await b.evaluate(() => { window.onChannel = (name, channel) => window.torrent.addPeer(channel) })
  const sdpOffer = await a.evaluate(offerChannel, 'ab')
  await a.evaluate(() => window.torrent.addPeer(window.channels.ab))
  const sdpAnswer = await b.evaluate(answerChannel, { sdp: sdpOffer, name: 'ab' })
  await a.evaluate(acceptAnswer, { sdp: sdpAnswer, name: 'ab' })

  // B: metadata via ut_metadata, then streams while the download runs.
  const got = await b.evaluate(async () => {
    const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
    await window.readyAt
    const t = window.torrent
    const video = t.files.find(f => f.name === 'video.webm')
    const subs = t.files.find(f => f.name === 'subs.vtt')
    // A range across piece boundaries, through createReadStream (end inclusive).
    const start = t.pieceLength - 100
    const end = 3 * t.pieceLength + 99
    const parts = []
    for await (const chunk of video.createReadStream({ start, end })) parts.push(chunk)
    const range = new Uint8Array(await new Blob(parts).arrayBuffer())
    // The whole file by async iteration, and the subtitles through stream().
    let total = 0
    const whole = []
    for await (const chunk of video) { whole.push(chunk); total += chunk.length }
    const subsText = await new Response(subs.stream()).text()
    // Breaking out of a loop cancels the stream (and its engine reader).
    let first = null
    for await (const chunk of video) { first = chunk.length; break }
    await window.doneAt
    const parsed = await window.WasmTorrent.parseTorrent(t.torrentFile)
    return {
      rangeLength: range.length,
      rangeFirst: Array.from(range.subarray(0, 4)),
      rangeLast: Array.from(range.subarray(range.length - 4)),
      start,
      total,
      sha256: hex(await crypto.subtle.digest('SHA-256', await new Blob(whole).arrayBuffer())),
      subsText,
      first,
      videoType: video.type,
      progress: [video.progress, subs.progress],
      done: [video.done, subs.done, t.done],
      downloaded: video.downloaded,
      torrentFileHash: parsed.infoHash,
      numPeers: t.numPeers,
      wires: t.wires.length
    }
  })
  const expected = await a.evaluate(({ start, length }) => Array.from(window.data.subarray(start, start + 4)).concat(Array.from(window.data.subarray(start + length - 4, start + length))),
    { start: got.start, length: got.rangeLength })
  assert.equal(got.rangeLength, 2 * seeded.pieceLength + 200)
  assert.deepEqual(got.rangeFirst.concat(got.rangeLast), expected, 'the range has the seeder\'s bytes')
  assert.equal(got.total, size)
  assert.equal(got.sha256, seeded.sha256, 'byte-exact')
  assert.match(got.subsText, /^WEBVTT/)
  assert.ok(got.first > 0)
  assert.equal(got.videoType, 'video/webm')
  assert.deepEqual(got.progress, [1, 1])
  assert.deepEqual(got.done, [true, true, true])
  assert.equal(got.downloaded, size)
  assert.equal(got.torrentFileHash, seeded.infoHash, 'torrentFile rebuilt from the metadata')
  assert.equal(got.numPeers, 1)
  assert.equal(got.wires, 1)

  // The extension: each side saw the other's handshake field; B pings, A answers.
  await b.evaluate(() => window.torrent.wires[0].extended('x_echo', new TextEncoder().encode('ping:42')))
  await b.waitForFunction(() => window.log.messages.includes('pong:42'), null, { timeout: 10_000 })
  const logA = await a.evaluate(() => window.log)
  const logB = await b.evaluate(() => window.log)
  // Each side registers x_echo in its 'wire' handler, before its first extension handshake
  // goes out (the engine holds it until the 'wire' listeners ran): one handshake each way.
  assert.deepEqual(logA.handshakes, [{ supports: true, motto: 'hello from #B' }])
  assert.deepEqual(logB.handshakes, [{ supports: true, motto: 'hello from #A' }])
  assert.deepEqual(logA.messages, ['ping:42'])
  // The wire's events: every byte of the torrent came by B's 'download' and left by A's
  // 'upload'; A (the seeder) heard B's have for each piece; B heard A's have-all, then unchoke.
  const pieces = Math.ceil(seeded.length / seeded.pieceLength)
  assert.equal(logB.down, seeded.length)
  assert.equal(logA.up, seeded.length)
  assert.equal(logA.haves.length, pieces)
  assert.equal(logA.first[0], 'have-none')
  assert.deepEqual(logB.first, ['have-all', 'unchoke'])
  assert.equal(await b.evaluate(n => window.torrent.wires[0].peerPieces.get(n - 1), pieces), true)
  assert.equal(logA.wires, 1)
  assert.equal(logB.wires, 1)
  const unsupported = await b.evaluate(() => {
    try { window.torrent.wires[0].extended('x_nope', 'hi'); return null } catch (err) { return err.code }
  })
  assert.equal(unsupported, 'invalid_argument')
  const refused = await b.evaluate(() => {
    try { window.torrent.addPeer('127.0.0.1:6881'); return null } catch (err) { return err.code }
  })
  assert.equal(refused, 'not_supported')

  // wire.destroy() closes the connection on both sides.
  await b.evaluate(() => window.torrent.wires[0].destroy())
  await a.waitForFunction(() => window.log.closed === 1, null, { timeout: 30_000 })
  await b.waitForFunction(() => window.log.closed === 1 && window.torrent.wires.length === 0, null, { timeout: 10_000 })

  // A reader on a complete file works with no peer at all.
  const alone = await b.evaluate(async () => {
    const f = window.torrent.files.find(f => f.name === 'subs.vtt')
    return new TextDecoder().decode(await f.arrayBuffer({ start: 0, end: 5 }))
  })
  assert.equal(alone, 'WEBVTT')

  for (const p of [a, b]) await p.evaluate(() => window.client.destroy())
  for (const p of [a, b]) assert.deepEqual(p.errors, [])
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

// The same extension in WebTorrent's page (its bundle from npm) and ours: each sees the
// other's handshake field, and messages go both ways.
test('a custom BEP 10 extension talks to the same extension in WebTorrent', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/webtorrent.html#W')
  const b = await h.newPage('/tests/browser/pages/client.html#B')
  await a.waitForFunction(() => window.WebTorrent)
  await b.evaluate(setUp)
  const magnet = await a.evaluate(async ({ trackerURL, setUpSrc }) => {
    window.WasmTorrent = class { constructor () { this.stub = true } } // setUp's client line
    eval('(' + setUpSrc + ')')() // eslint-disable-line no-eval
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
    window.client = client
    const data = new Uint8Array(1024 * 1024)
    crypto.getRandomValues(data.subarray(0, 65536))
    const torrent = await new Promise(resolve => client.seed(new File([data], 'x.bin'), { announce: [trackerURL] }, resolve))
    window.torrent = torrent
    // WebTorrent: 'wire' is emitted before the extension handshake is sent.
    torrent.on('wire', wire => {
      window.log.wires++
      wire.use(window.Echo)
    })
    return torrent.magnetURI
  }, { trackerURL, setUpSrc: setUp.toString() })

  await b.evaluate(async magnet => {
    // Trackers on, the magnet's: setUp's client has tracker: false, which announces to none.
    await window.client.destroy()
    window.client = new window.WasmTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
    window.torrent = window.client.add(magnet)
    window.watchWires(window.torrent)
  }, magnet)
  // The last handshake each side saw names x_echo.
  await b.waitForFunction(() => window.log.handshakes.at(-1)?.supports, null, { timeout: 90_000 })
  await a.waitForFunction(() => window.log.handshakes.at(-1)?.supports, null, { timeout: 30_000 })
  await b.evaluate(() => window.torrent.wires[0].extended('x_echo', new TextEncoder().encode('ping:from wasmtorrent')))
  await b.waitForFunction(() => window.log.messages.includes('pong:from wasmtorrent'), null, { timeout: 10_000 })
  await a.evaluate(() => window.torrent.wires[0].extended('x_echo', new TextEncoder().encode('ping:from WebTorrent')))
  await a.waitForFunction(() => window.log.messages.includes('pong:from WebTorrent'), null, { timeout: 10_000 })
  const logA = await a.evaluate(() => window.log)
  const logB = await b.evaluate(() => window.log)
  assert.equal(logA.handshakes.at(-1).motto, 'hello from #B')
  assert.equal(logB.handshakes.at(-1).motto, 'hello from #W')
  assert.deepEqual(logA.messages, ['ping:from wasmtorrent', 'pong:from WebTorrent'])
  assert.deepEqual(logB.messages, ['pong:from wasmtorrent', 'ping:from WebTorrent'])
  // Anything but bytes is bencoded, as WebTorrent does: a string arrives as "<len>:<text>".
  await b.evaluate(() => window.torrent.wires[0].extended('x_echo', 'hi'))
  await a.waitForFunction(() => window.log.messages.includes('2:hi'), null, { timeout: 10_000 })
  await b.evaluate(() => window.client.destroy())
  await a.evaluate(() => new Promise(resolve => window.client.destroy(resolve)))
  assert.deepEqual(b.errors, [])
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

// Selection, critical pieces, pause/resume and the client options, between two pages
// through the tracker (resume reconnects through it).
test('deselect/select/critical choose the pieces; pause stops, resume finishes; peerId and uploadLimit', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/client.html')
  const b = await h.newPage('/tests/browser/pages/client.html')
  const peerId = '2d5854303030312d' + '61'.repeat(12) // "-XT0001-aaaaaaaaaaaa"
  const seeded = await a.evaluate(async ({ trackerURL, peerId }) => {
    const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
    const data = new Uint8Array(4 * 1024 * 1024)
    for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536))
    window.client = new window.WasmTorrent({ peerId, uploadLimit: 500_000, tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    const torrent = await window.client.seedAsync(new File([data], 'r.bin'))
    return { magnet: torrent.magnetURI, sha256: hex(await crypto.subtle.digest('SHA-256', data)), peerId: window.client.peerId }
  }, { trackerURL, peerId })
  assert.equal(seeded.peerId, peerId)

  const partial = await b.evaluate(async ({ magnet, trackerURL }) => {
    window.client = new window.WasmTorrent({ maxConns: 10, tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    const t = window.client.add(magnet, { deselect: true })
    window.torrent = t
    window.verified = []
    t.on('verified', p => window.verified.push(p))
    const wirePeerId = new Promise(resolve => t.once('wire', w => resolve(w.peerId)))
    await new Promise(resolve => t.once('ready', resolve))
    const n = t.pieceCount
    t.deselect(0, n - 1)
    t.critical(n - 2, n - 1)
    t.select(0, 63)
    await new Promise(resolve => t.once('idle', resolve))
    return { n, states: Array.from(t.pieceStates()), verified: window.verified.slice(), progress: t.progress, done: t.done, wirePeerId: await wirePeerId }
  }, { magnet: seeded.magnet, trackerURL })
  const { n, states } = partial
  const wanted = p => p <= 63 || p >= n - 2
  assert.ok(states.every((s, p) => wanted(p) ? s === 3 : s === 0), `states: ${states.join('')}`)
  // Critical pieces come before the selection's. Not strictly first: a piece already on its
  // way (16 KiB pieces: a block in flight is a whole piece) may land before them, and
  // WebCrypto (Firefox: a thread pool) may finish digests out of order.
  const position = p => partial.verified.indexOf(p)
  assert.ok(position(n - 2) >= 0 && position(n - 2) < 16 && position(n - 1) >= 0 && position(n - 1) < 16,
    `critical pieces among the first 16 of 66 verified: ${partial.verified.slice(0, 16)}`)
  // As WebTorrent's, progress and done are the whole torrent's: the selection is 'idle'.
  assert.ok(Math.abs(partial.progress - 66 / n) < 1e-9, `progress of the whole torrent: ${partial.progress}`)
  assert.equal(partial.done, false)
  assert.equal(partial.wirePeerId, peerId)

  // Select everything and pause at once: nothing moves; resume finishes the torrent.
  const paused = await b.evaluate(async () => {
    const t = window.torrent
    t.select(0, t.pieceCount - 1)
    t.pause()
    await new Promise(resolve => setTimeout(resolve, 1500))
    const before = t.received
    const peers = t.numPeers
    await new Promise(resolve => setTimeout(resolve, 2000))
    return { paused: t.paused, peers, moved: t.received - before, done: t.done }
  })
  assert.deepEqual(paused, { paused: true, peers: 0, moved: 0, done: false })
  const finished = await b.evaluate(async () => {
    const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
    const t = window.torrent
    const done = new Promise(resolve => t.once('done', resolve))
    t.resume()
    await done
    return { paused: t.paused, sha256: hex(await crypto.subtle.digest('SHA-256', await t.files[0].arrayBuffer())) }
  })
  assert.equal(finished.paused, false)
  assert.equal(finished.sha256, seeded.sha256)
  for (const p of [a, b]) await p.evaluate(() => window.client.destroy())
  for (const p of [a, b]) assert.deepEqual(p.errors, [])
})

// Browser-only items of WebTorrent's API (docs/api.md): WEBRTC_SUPPORT, createServer once,
// torrentFileBlobURL, a file's Node-style stream piped into a sink, a file's 'done'.
test("browser-only API items: WEBRTC_SUPPORT, a second createServer throws, torrentFileBlobURL, createReadStream().pipe", { timeout: 60_000 }, async () => {
  const p = await h.newPage('/tests/browser/pages/client.html')
  const out = await p.evaluate(async () => {
    const client = new window.WasmTorrent({ tracker: false })
    const data = new Uint8Array(100_000).map((_, i) => i % 251)
    const torrent = await client.seedAsync([{ path: 'a.bin', data }], { announceList: [] })
    const fileDone = torrent.files[0].done
    const chunks = []
    await new Promise((resolve, reject) => {
      const sink = { write (chunk) { chunks.push(chunk); return true }, end: resolve }
      const s = torrent.files[0].createReadStream({ start: 10, end: 20_009 })
      s.on('error', reject)
      s.pipe(sink)
    })
    const piped = chunks.reduce((a, c) => a + c.length, 0)
    const blobURL = torrent.torrentFileBlobURL
    const fetched = new Uint8Array(await (await fetch(blobURL)).arrayBuffer())
    const registration = { scope: location.href } // enough for the page's side
    client.createServer({ controller: registration })
    let second = null
    try { client.createServer({ controller: registration }) } catch (err) { second = err.message }
    await client.destroy()
    return { webrtc: window.WasmTorrent.WEBRTC_SUPPORT, fileDone, piped, first: chunks[0][0], sameTorrentFile: fetched.length === torrent.torrentFile?.length, second }
  })
  assert.deepEqual(out, { webrtc: true, fileDone: true, piped: 20_000, first: 10, sameTorrentFile: true, second: 'server already created' })
  for (let i = 0; i < 100 && cancelProbes === 0; i++) await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(cancelProbes, 1)
  assert.deepEqual(p.errors, [])
})
