// Pieces in JS memory: fast, and gone on reload.

import { Geometry, storageError } from './util.js'

export class MemoryStore {
  static kind = 'memory' // survives minification, unlike the class name
  static available () { return true }

  constructor (opts) {
    this._geo = new Geometry(opts)
    this._pieces = new Map() // index -> Uint8Array (our own copy)
  }

  async open () { return new Set(this._pieces.keys()) }

  async put (index, bytes) {
    this._geo.checkPut(index, bytes)
    this._pieces.set(index, bytes.slice()) // the caller may reuse `bytes`
  }

  async get (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    const piece = this._pieces.get(index)
    if (!piece) throw storageError(`get: piece ${index} is not stored`)
    return piece.slice(offset, offset + length) // a copy: the caller may transfer or change it
  }

  async close () {}

  async destroy () { this._pieces.clear() }
}
