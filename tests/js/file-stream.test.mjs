// file.createReadStream() is a Node-style readable: the same consumer code run on ours and on
// a Node stream.Readable given the same chunks gets the same bytes, strings and events. The
// chunks are fed through a web ReadableStream (as the engine's reader gives them), split at
// awkward places: inside a UTF-8 character, a UTF-16 code unit, a base64 group.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Readable, Writable, pipeline, finished } from 'node:stream'
import WasmTorrent from 'wasmtorrent'
import { randomBytes } from './helpers.mjs'

// The class behind file.createReadStream() (the package does not export it), and a seeded
// file to read for real.
const client = new WasmTorrent({ tracker: false, dht: false, lsd: false })
const content = randomBytes(7, 200_000)
const seeded = await new Promise(resolve => client.seed(content, { name: 'c.bin', announce: [], store: 'memory' }, resolve))
const FileStream = seeded.files[0].createReadStream({ start: 0, end: 0 }).constructor
test.after(() => client.destroy())

const text = 'Grüße ✓ 𝄞 — plain ASCII too'
const textBytes = new TextEncoder().encode(text)
// Split points: inside 'ü' (2 bytes), inside '𝄞' (4 bytes), a 1-byte chunk, an empty one.
const textChunks = [textBytes.slice(0, 3), textBytes.slice(3, 14), textBytes.slice(14, 15), new Uint8Array(0), textBytes.slice(15)]

function ours (chunks) {
  let i = 0
  return new FileStream(new ReadableStream({
    pull (controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++])
      else controller.close()
    }
  }))
}

function node (chunks) {
  const r = new Readable({ read () {} })
  for (const chunk of chunks) r.push(chunk)
  r.push(null)
  return r
}

const bytesOf = parts => Buffer.concat(parts.map(p => Buffer.from(p)))

// The consumer loop that Node's docs give for paused mode.
async function readLoop (stream, size) {
  const got = []
  const events = []
  stream.on('readable', () => {
    let chunk
    while ((chunk = stream.read(size)) !== null) got.push(chunk)
  })
  stream.on('end', () => events.push('end'))
  await once(stream, 'close')
  events.push('close')
  return { got, events }
}

test("paused mode: a 'readable' listener and read() get every byte, then 'end' and 'close', as Node's Readable", async () => {
  const chunks = [randomBytes(1, 5000), randomBytes(2, 1), randomBytes(3, 70_000)]
  const [a, b] = [await readLoop(ours(chunks)), await readLoop(node(chunks))]
  assert.deepEqual(bytesOf(a.got), bytesOf(b.got))
  assert.deepEqual(a.events, b.events)
  assert.deepEqual(a.events, ['end', 'close'])
})

test('read(size): chunks of exactly size bytes, the rest at the end, as Node gives them', async () => {
  const chunks = [randomBytes(4, 5), randomBytes(5, 5), randomBytes(6, 3)]
  const [a, b] = [await readLoop(ours(chunks), 4), await readLoop(node(chunks), 4)]
  assert.deepEqual(a.got.map(c => Buffer.from(c).toString('hex')), b.got.map(c => c.toString('hex')))
  assert.deepEqual(a.got.map(c => c.length), [4, 4, 4, 1])
})

test("read() before any listener returns null and starts reading; a later read() has the data; read() emits 'data'", async () => {
  const s = ours([textBytes])
  const seen = []
  assert.equal(s.read(), null)
  await once(s, 'readable')
  s.prependListener('data', chunk => seen.push(chunk)) // a 'data' listener does not flow with 'readable' ones
  const chunk = s.read()
  assert.equal(Buffer.from(chunk).toString(), text)
  assert.deepEqual(seen, [chunk])
  assert.equal(s.readableFlowing, false)
})

test('setEncoding: strings, the same as Node gives for every encoding, whole characters across chunk boundaries', async () => {
  const utf16 = Buffer.from(text, 'utf16le')
  const cases = [
    ['utf8', textChunks],
    ['utf-8', textChunks],
    ['hex', textChunks],
    ['latin1', textChunks],
    ['binary', textChunks],
    ['ascii', textChunks],
    ['base64', textChunks],
    ['base64url', textChunks],
    ['utf16le', [utf16.subarray(0, 3), utf16.subarray(3, 10), utf16.subarray(10)]],
    ['ucs2', [utf16.subarray(0, 1), utf16.subarray(1)]]
  ]
  for (const [encoding, chunks] of cases) {
    const run = async stream => {
      stream.setEncoding(encoding)
      const got = []
      stream.on('data', chunk => got.push(chunk))
      await once(stream, 'end')
      return { got, encoding: stream.readableEncoding }
    }
    const [a, b] = [await run(ours(chunks)), await run(node(chunks))]
    assert.ok(a.got.every(chunk => typeof chunk === 'string'), encoding)
    assert.equal(a.got.join(''), b.got.join(''), encoding)
    assert.equal(a.encoding, b.encoding, encoding)
  }
  // In paused mode too, and through async iteration.
  const paused = ours(textChunks).setEncoding('utf8')
  assert.equal((await readLoop(paused)).got.join(''), text)
  let iterated = ''
  for await (const chunk of ours(textChunks).setEncoding('hex')) iterated += chunk
  assert.equal(iterated, Buffer.from(textBytes).toString('hex'))
  assert.throws(() => ours([]).setEncoding('klingon'), err => err instanceof TypeError && err.code === 'ERR_UNKNOWN_ENCODING')
})

test("Node's stream.pipeline and stream.finished take the stream; pipe() carries what was read ahead in paused mode", async () => {
  const chunks = [randomBytes(8, 30_000), randomBytes(9, 12_345)]
  const sink = []
  await new Promise((resolve, reject) => pipeline(ours(chunks), new Writable({ write (chunk, _enc, cb) { sink.push(chunk); cb() } }), err => (err ? reject(err) : resolve())))
  assert.deepEqual(bytesOf(sink), bytesOf(chunks))
  const s = ours(chunks)
  s.resume()
  await new Promise((resolve, reject) => finished(s, err => (err ? reject(err) : resolve())))
  // A read() that buffered a chunk, then a pipe: nothing is lost.
  const s2 = ours(chunks)
  s2.read()
  await once(s2, 'readable')
  const piped = []
  s2.pipe(new Writable({ write (chunk, _enc, cb) { piped.push(chunk); cb() } }))
  await once(s2, 'end')
  assert.deepEqual(bytesOf(piped), bytesOf(chunks))
})

test("pipe(dest, cb) as streamx's (WebTorrent's streams): cb once dest has it all; a dest that closes early stops the stream", async () => {
  const chunks = [randomBytes(10, 30_000), randomBytes(11, 5_000)]
  const sink = []
  const dest = new Writable({ write (chunk, _enc, cb) { sink.push(chunk); cb() } })
  const err = await new Promise(resolve => ours(chunks).pipe(dest, resolve))
  assert.equal(err, null)
  assert.ok(dest.writableFinished)
  assert.deepEqual(bytesOf(sink), bytesOf(chunks))
  // An HTTP client that went away: the response closes before the end. The file's stream
  // is destroyed ('close', its reader released), not left paused for ever.
  const source = seeded.files[0].createReadStream()
  const slow = new Writable({ highWaterMark: 1, write (chunk, _enc, cb) { setTimeout(cb, 5) } })
  const closed = once(source, 'close')
  const piped = new Promise(resolve => source.pipe(slow, resolve))
  setTimeout(() => slow.destroy(), 20)
  await closed
  assert.equal(source.destroyed, true)
  assert.match((await piped).message, /closed prematurely/)
})

test("an end that is not set (null, false, '', NaN) reads to the end, as WebTorrent's; end 0 is the first byte", async () => {
  const file = seeded.files[0]
  for (const end of [null, false, '', NaN]) {
    assert.equal((await file.arrayBuffer({ start: 199_000, end })).byteLength, 1000, String(end))
  }
  assert.equal((await file.arrayBuffer({ start: 0, end: 0 })).byteLength, 1)
})

test("a real file's stream: a 'readable' loop over a seeded file's range gives its bytes", async () => {
  const stream = seeded.files[0].createReadStream({ start: 1000, end: 150_000 })
  const { got, events } = await readLoop(stream)
  assert.deepEqual(bytesOf(got), Buffer.from(content.subarray(1000, 150_001)))
  assert.deepEqual(events, ['end', 'close'])
  const hex = []
  const encoded = seeded.files[0].createReadStream({ start: 0, end: 99 }).setEncoding('hex')
  encoded.on('data', chunk => hex.push(chunk))
  await once(encoded, 'end')
  assert.equal(hex.join(''), Buffer.from(content.subarray(0, 100)).toString('hex'))
})

test("empty ranges (end before start, start past the end) give an empty stream, as WebTorrent's; a range that is not a number throws", async () => {
  const file = seeded.files[0]
  for (const range of [{ start: 10, end: 5 }, { start: 200_000 }, { start: 500_000, end: 600_000 }, { start: 0, end: -1 }]) {
    const chunks = []
    for await (const chunk of file.createReadStream(range)) chunks.push(chunk)
    assert.equal(Buffer.concat(chunks).length, 0, JSON.stringify(range))
    assert.equal((await file.arrayBuffer(range)).byteLength, 0, JSON.stringify(range))
  }
  const last = []
  for await (const chunk of file.createReadStream({ start: 199_999, end: 500_000 })) last.push(chunk)
  assert.deepEqual(Buffer.concat(last), Buffer.from(content.subarray(199_999)))
  assert.throws(() => file.createReadStream({ start: 'x' }), err => err.code === 'invalid_argument')
})
