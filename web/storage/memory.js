// Pieces in JS memory: fast, and gone on reload.

import { Geometry, ownBytes, Parts, storageError } from './util.js'

export class MemoryStore {
  static kind = 'memory' // survives minification, unlike the class name
  static available () { return true }

  constructor (opts) {
    this._geo = new Geometry(opts)
    this._pieces = new Map() // index -> Uint8Array (our own copy)
    this._parts = new Parts(this._geo) // pieces written in parts, until complete()
  }

  async open () { return new Set(this._pieces.keys()) }
  rescan () { return this.open() }

  // put(index, bytes): the whole piece, held at once; put(index, bytes, offset): a part,
  // not held until complete(index).
  async put (index, bytes, offset, owned = false) {
    if (offset !== undefined) {
      this._parts.write(index, bytes, offset)
      this._pieces.delete(index) // being written again: no longer held
      return
    }
    this._geo.checkPut(index, bytes)
    this._parts.take(index)
    this._pieces.set(index, ownBytes(bytes, owned))
  }

  async complete (index) {
    const piece = this._parts.take(index)
    if (piece) this._pieces.set(index, piece)
  }

  async get (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    if (this._parts.has(index)) return this._parts.read(index, offset, length)
    const piece = this._pieces.get(index)
    if (!piece) throw storageError(`get: piece ${index} is not stored`)
    return piece.slice(offset, offset + length) // a copy: the caller may transfer or change it
  }

  async close () {}

  async destroy () { this._pieces.clear(); this._parts.clear() }
}
