// Seeding from the user's own files (Blob / File, in torrent order, end to end): every
// piece is present and read straight from the files. Read-only; never deletes anything.

import { WasmTorrentError } from '../api/errors.js'
import { fileAt, Geometry, sliceRange, storageError } from './util.js'

export class BlobStore {
  static kind = 'blob' // survives minification, unlike the class name
  static available () { return typeof Blob !== 'undefined' }

  constructor ({ blobs, ...opts }) {
    this._geo = new Geometry(opts)
    if (!Array.isArray(blobs) || !blobs.every(b => b instanceof Blob)) {
      throw new WasmTorrentError('BlobStore: blobs must be an array of Blob or File', { code: 'invalid_argument', context: 'blobs' })
    }
    this._blobs = blobs
    this._starts = [] // torrent offset of each blob
    let at = 0
    for (const b of blobs) { this._starts.push(at); at += b.size }
    if (at !== this._geo.length) {
      throw new WasmTorrentError(`BlobStore: the blobs hold ${at} bytes, the torrent ${this._geo.length}`, { code: 'invalid_argument', context: 'blobs' })
    }
  }

  async open () { return this._geo.allPieces() }

  async put (index) {
    // The engine never writes to a complete seed; a write here is a bug somewhere.
    throw storageError(`put: piece ${index}: this store is read-only (seeding from files)`)
  }

  async complete () {} // every piece is held already

  async get (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    const start = index * this._geo.pieceLength + offset
    return this._read(start, start + length, `piece ${index}`)
  }

  // Pieces first .. first + count - 1 end to end, with one read: slicing a File costs about
  // as much per call as per MiB, so the host reads runs of pieces asked for in order.
  async getRun (first, count) {
    this._geo.checkGet(first + count - 1, 0, 0)
    const start = first * this._geo.pieceLength
    const end = Math.min(this._geo.length, start + count * this._geo.pieceLength)
    return this._read(start, end, `pieces ${first}-${first + count - 1}`)
  }

  async _read (start, end, what) {
    const parts = []
    for (let i = fileAt(this._starts, start); i < this._blobs.length && this._starts[i] < end; i++) {
      const from = Math.max(start, this._starts[i])
      const to = Math.min(end, this._starts[i] + this._blobs[i].size)
      if (from < to) parts.push(this._blobs[i].slice(from - this._starts[i], to - this._starts[i]))
    }
    let buf
    try {
      // Each Blob made costs a round trip to the browser's blob registry: one, not two.
      buf = await (parts.length === 1 ? parts[0] : joinBlobs(parts)).arrayBuffer()
    } catch (err) { // e.g. NotReadableError: the user's file changed or went away
      throw storageError(`get: ${what}`, err)
    }
    if (buf.byteLength !== end - start) throw storageError(`get: ${what}: read ${buf.byteLength} of ${end - start} bytes`)
    return new Uint8Array(buf)
  }

  async close () {}

  async destroy () {} // the files are the user's
}

// new Blob(blobs), also when some of them read themselves (Blob subclasses with their own
// arrayBuffer(), as the Node host's files on disk), which new Blob() would take as empty.
export function joinBlobs (blobs, type = '') {
  if (blobs.every(b => b.arrayBuffer === Blob.prototype.arrayBuffer)) return new Blob(blobs, { type })
  return new JoinedBlob(blobs, type)
}

class JoinedBlob extends Blob {
  constructor (parts, type) {
    super([])
    this._parts = parts
    this._type = type
  }

  get size () { return this._parts.reduce((n, b) => n + b.size, 0) }
  get type () { return this._type }

  slice (start, end, type = '') {
    const [from, to] = sliceRange(this.size, start, end)
    const parts = []
    let at = 0
    for (const b of this._parts) {
      if (at < to && at + b.size > from) parts.push(b.slice(Math.max(0, from - at), Math.min(b.size, to - at)))
      at += b.size
    }
    return joinBlobs(parts, type)
  }

  async bytes () {
    const out = new Uint8Array(this.size)
    let at = 0
    for (const b of this._parts) {
      out.set(new Uint8Array(await b.arrayBuffer()), at)
      at += b.size
    }
    return out
  }

  async arrayBuffer () { return (await this.bytes()).buffer }
  async text () { return new TextDecoder().decode(await this.bytes()) }

  stream () {
    const parts = [...this._parts]
    let reader = null
    return new ReadableStream({
      async pull (controller) {
        for (;;) {
          if (!reader) {
            if (parts.length === 0) return controller.close()
            reader = parts.shift().stream().getReader()
          }
          const { value, done } = await reader.read()
          if (!done) return controller.enqueue(value)
          reader = null
        }
      }
    }, { highWaterMark: 0 })
  }
}
