// A file of a torrent (WebTorrent's File) and its readers.
// A reader hands out bytes as soon as the pieces under them are verified (the engine
// never gives out others), in order. While it reads, an engine "reader" gives the pieces
// under and just ahead of it deadlines, so they are downloaded before any other.
import { Emitter } from './emitter.js'
import { WasmTorrentError } from './errors.js'
import { FileStream } from './readable.js'
import { mimeType } from './mime.js'
import { streamWithMediaSource } from '../stream/mediasource.js'

const MAX_CHUNK = 4 * 1024 * 1024 // bytes per engine read, at most one piece
// Readahead: the bytes ahead of a reader whose pieces get deadlines. Its target starts
// large (a player fills its buffer at first), then follows the consumer: READAHEAD_SECONDS
// of the rate it takes bytes at, within [max(2 pieces, MIN), MAX]. A slow consumer (a
// video at its bitrate) thus leaves the bandwidth to other readers and pieces. The reader
// itself starts at the minimum and grows towards the target (doubling) only while the
// head is secure, i.e. reads find their bytes already verified: while the consumer waits,
// deadlines far ahead would only compete with the bytes it waits for.
const START_READAHEAD = 8 * 1024 * 1024
const MIN_READAHEAD = 1024 * 1024
const MAX_READAHEAD = 64 * 1024 * 1024
const READAHEAD_SECONDS = 20
const RATE_WINDOW_MS = 1000
const WAITED_MS = 20 // a read that took longer waited for its pieces: the head is not secure
// How long a reader opened for a stream that the browser is about to request waits for it.
const EXPECT_MS = 5000

// WebTorrent priorities are relative (0 normal, higher sooner, true = highest); the
// engine's are 1..7 with 4 normal (0 means "do not download").
export function enginePriority (priority) {
  if (priority === true) return 7
  return Math.max(1, Math.min(7, 4 + Math.round(Number(priority) || 0)))
}

// Events: 'done' (every piece of the file verified), as WebTorrent's files.
export class File extends Emitter {
  constructor (torrent, { path, name, length, offset, index }) {
    super()
    this._torrent = torrent
    this._index = index
    this.path = path
    this.name = name
    this.length = length
    this.size = length
    this.offset = offset // where the file starts in the torrent's bytes
    this.type = mimeType(name)
    const pl = torrent.pieceLength
    this._startPiece = Math.floor(offset / pl)
    this._endPiece = length ? Math.floor((offset + length - 1) / pl) : this._startPiece
    this._doneEmitted = false
    this._scanFrom = this._startPiece // _complete(): the first piece not yet seen had
  }

  // Does piece `index` hold bytes of this file?
  includes (index) { return this.length > 0 && index >= this._startPiece && index <= this._endPiece }

  // 'done' once, when the file's pieces are all verified (the torrent calls this).
  // `bits`: the torrent's pieces had (its _havePieces()), when the caller has them.
  _checkDone (bits = this._torrent._havePieces()) {
    if (this._doneEmitted || !this._complete(bits)) return
    // Not before the 'verified' of each of its pieces (the torrent's batch tells them in order).
    const unreported = this._torrent._unreported
    if (unreported) for (const p of unreported) if (this.includes(p)) return
    this._doneEmitted = true
    this.emit('done')
  }

  // Every piece of the file had? Checked at each piece verified, so the scan starts where
  // the last one stopped (a file of 65,536 pieces read whole each time cost seconds), and
  // the whole file is read once more before saying yes (a trusted piece may have failed).
  _complete (bits) {
    if (this.length === 0) return true
    if (!bits) return false
    const has = p => bits[p >> 3] & (0x80 >> (p & 7))
    let p = this._scanFrom
    while (p <= this._endPiece && has(p)) p++
    this._scanFrom = p
    if (p <= this._endPiece) return false
    for (p = this._startPiece; p <= this._endPiece; p++) {
      if (!has(p)) { this._scanFrom = p; return false }
    }
    return true
  }

  // Bytes of the file in verified pieces.
  get downloaded () { return this._torrent._verifiedBytes(this.offset, this.length) }
  get progress () { return this.length ? this.downloaded / this.length : 1 }
  // As WebTorrent's: true from the file's 'done' on (an empty file's from the start), so an
  // app that counts files done in their 'done' listeners never sees one done early.
  get done () { return this.length === 0 || this._doneEmitted }

  // WebTorrent's relative priority (0 = normal, higher = sooner), as torrent.select().
  select (priority = 0) { this._torrent._setFilePriority(this, enginePriority(priority)) }
  deselect () { this._torrent._setFilePriority(this, 0) }

  // A ReadableStream of the bytes [start, end] (end inclusive, as in WebTorrent and
  // fs.createReadStream), delivered as their pieces are verified. Cancelling it stops
  // prioritising them. Throws once the torrent is destroyed, as WebTorrent's.
  // As WebTorrent's, an end that is not set (null, false, '', NaN: what a hand-written
  // Range handler makes of `bytes=100-`) reads to the file's end. Different: end 0 is the
  // first byte (WebTorrent's reads the whole file).
  stream ({ start = 0, end } = {}) {
    if (this._torrent.destroyed) throw new WasmTorrentError('File is destroyed', { code: 'destroyed' })
    const unset = end === undefined || end === null || end === false || end === '' || Number.isNaN(end)
    return readStream(this, start, unset ? this.length - 1 : end)
  }

  // A Node-style readable (pipe, on('data'), async iteration; see readable.js), as
  // WebTorrent's; toWeb() gives the web ReadableStream.
  createReadStream (opts) { return new FileStream(this.stream(opts)) }

  // Once the torrent is destroyed, an iteration that ends at once, as WebTorrent's.
  [Symbol.asyncIterator] (opts) { return this._torrent.destroyed ? nothing() : iterate(this.stream(opts)) }

  // The bytes [start, end] once they are verified; downloads them first if needed.
  async arrayBuffer (opts) {
    const chunks = []
    let total = 0
    for await (const chunk of iterate(this.stream(opts))) {
      chunks.push(chunk)
      total += chunk.length
    }
    if (chunks.length === 1) return chunks[0].buffer
    const out = new Uint8Array(total)
    let at = 0
    for (const c of chunks) { out.set(c, at); at += c.length }
    return out.buffer
  }

  // The URL of this file served by the service worker (client.createServer first).
  get streamURL () {
    const server = this._torrent._client._server
    if (!server) throw new WasmTorrentError('streamURL: call client.createServer({ controller }) first', { code: 'no_server' })
    this._expectStream()
    return server.urlOf(this)
  }

  // The browser asks the service worker for the URL a moment after it is handed out (tens
  // of ms, more on a busy machine). Meanwhile a reader at the file's start stands in for
  // the coming one, so that no pipeline fills with other pieces: a slow peer sends every
  // block it was asked for, and the player would wait for them all first. Opened at once
  // (a turn later, the engine has asked a slow seeder for other pieces already: the first
  // frame came 2.4 times later in the slow-seeder bench), for the first URL read in a turn
  // of the event loop only (a page listing every file's URL reads them all in one), and
  // not while a stream of the torrent is open (it has the peers' blocks, and the page is
  // not starting to play). WebTorrent's getter does nothing.
  _expectStream () {
    const torrent = this._torrent
    if (torrent._standInThisTurn || torrent._readerCount > 0) return
    torrent._standInThisTurn = true
    setTimeout(() => { torrent._standInThisTurn = false })
    this._standIn()
  }

  _standIn () {
    const torrent = this._torrent
    if (this._expected || !torrent._hasMetadata || torrent.destroyed || this.length === 0) return
    const reader = torrent._openReader(this.offset, Math.min(this.length, MIN_READAHEAD), { standIn: true })
    const release = () => {
      clearTimeout(timer)
      if (this._expected !== release) return
      this._expected = null
      torrent._closeReader(reader, { standIn: true })
    }
    const timer = setTimeout(release, EXPECT_MS)
    this._expected = release
  }

  // A stream of this file opened its reader: the stand-in is no longer needed.
  _streamOpened () { this._expected?.() }

  // Plays the file in a <video> or <audio> element. With a server (client.createServer),
  // through the service worker: the browser's own demuxer, seeking and formats. Without one
  // (or with { mediaSource: true }), through Media Source Extensions (web/stream/mediasource.js):
  // WebM/Matroska and fragmented MP4 only; opts.bufferAhead (seconds, default 30) bounds
  // what is buffered ahead of the playhead. cb(err, elem) once playback is set up, or with a
  // WasmTorrentError (code 'unsupported_media') for a file MediaSource cannot play.
  streamTo (elem, opts = {}, cb) {
    if (typeof opts === 'function') [opts, cb] = [{}, opts]
    if (this._torrent._client._server && !opts?.mediaSource) {
      elem.src = this.streamURL
      if (cb) queueMicrotask(() => cb(null, elem))
      return elem
    }
    streamWithMediaSource(this, elem, opts, cb)
    return elem
  }

  async blob (opts = {}) {
    return new Blob([await this.arrayBuffer(opts)], { type: opts.type ?? this.type })
  }

  // WebTorrent 1.x's callback forms (still in its docs).
  getBuffer (cb) {
    this.arrayBuffer().then(ab => {
      const B = globalThis.Buffer
      cb(null, B ? B.from(ab) : new Uint8Array(ab))
    }, err => cb(err))
  }

  getBlob (cb) { this.blob().then(b => cb(null, b), err => cb(err)) }
  getBlobURL (cb) { this.blob().then(b => cb(null, URL.createObjectURL(b)), err => cb(err)) }
  getStreamURL () { return this.streamURL }
}

function readStream (file, start, end) {
  const torrent = file._torrent
  start = Math.max(0, Math.floor(start))
  end = Math.min(file.length - 1, Math.floor(end)) + 1 // exclusive from here on
  if (Number.isNaN(start) || Number.isNaN(end)) throw new WasmTorrentError(`${file.path}: bad range`, { code: 'invalid_argument' })
  // A range that ends before it starts, or starts past the file's end: empty, as WebTorrent's
  // (an app's HTTP server may pass a client's Range on unchecked; a throw would end it).
  if (start > end) end = start
  let pos = start
  let reader = 0
  const least = Math.max(MIN_READAHEAD, 2 * torrent.pieceLength)
  let target = Math.max(START_READAHEAD, least)
  let readahead = least
  let sent = 0 // the readahead the engine's reader has
  let waited = false // the last read had to wait for its pieces
  // The consumer's rate: bytes per second, averaged over windows of RATE_WINDOW_MS.
  let rate = 0
  let windowStart = 0
  let windowBytes = 0
  const nextReadahead = () => {
    const now = performance.now()
    if (!windowStart) windowStart = now
    if (now - windowStart >= RATE_WINDOW_MS) {
      const measured = windowBytes * 1000 / (now - windowStart)
      rate = rate ? (rate + measured) / 2 : measured
      windowStart = now
      windowBytes = 0
      const wanted = Math.min(MAX_READAHEAD, Math.max(least, rate * READAHEAD_SECONDS))
      if (Math.abs(wanted - target) > target / 4) target = wanted // no churn for small changes
    }
    if (waited) return Math.min(target, readahead) // hold: the consumer waits for the head
    return Math.min(target, readahead * 2)
  }
  const done = () => {
    if (reader) torrent._closeReader(reader)
    reader = 0
  }
  return new ReadableStream({
    async pull (controller) {
      if (pos >= end) {
        done()
        controller.close()
        return
      }
      const at = file.offset + pos
      // Up to the end of the piece, so each chunk comes as soon as its piece is verified.
      const pieceEnd = (Math.floor(at / torrent.pieceLength) + 1) * torrent.pieceLength
      const n = Math.min(end - pos, pieceEnd - at, MAX_CHUNK)
      try {
        // Never past the range's end: the engine would ask for pieces nobody reads, and a
        // peer that sends what it queued before the cancel (WebTorrent) sends them anyway.
        const remaining = end - pos
        if (!reader) {
          sent = Math.min(readahead, remaining)
          reader = torrent._openReader(at, sent)
          file._streamOpened()
        } else {
          readahead = nextReadahead()
          const ahead = Math.min(readahead, remaining)
          torrent._seekReader(reader, at, ahead === sent ? -1 : ahead)
          sent = ahead
        }
        const asked = performance.now()
        const bytes = await torrent._read(at, n)
        waited = performance.now() - asked > WAITED_MS
        pos += n
        windowBytes += n
        controller.enqueue(bytes)
        if (pos >= end) {
          done()
          controller.close()
        }
      } catch (err) {
        done()
        controller.error(err)
      }
    },
    cancel () { done() }
  })
}

// Async iteration over a ReadableStream, also where ReadableStream has no
// Symbol.asyncIterator of its own.
async function * iterate (stream) {
  const reader = stream.getReader()
  let finished = false
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) { finished = true; return }
      yield value
    }
  } finally {
    if (!finished) await reader.cancel() // the loop stopped early: stop the engine reader
    reader.releaseLock()
  }
}

async function * nothing () {}
