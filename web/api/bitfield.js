// WebTorrent's BitField (npm bitfield, the type of torrent.bitfield and wire.peerPieces):
// bits MSB first in `buffer`; get(i), set(i, value), setAll(values, offset), forEach(fn,
// start, end), isEmpty(), length (bits). Setting a bit past the end grows the buffer up to
// `grow` bits, as that package's option. haveAll: every index is set (a peer's have-all,
// whatever the buffer holds).
export class BitField {
  constructor (data = 0, { grow = 0, haveAll = false } = {}) {
    this.buffer = typeof data === 'number' ? new Uint8Array(Math.ceil(data / 8)) : data
    this.grow = Number.isFinite(grow) ? Math.ceil(grow / 8) : grow ? Infinity : 0
    this._haveAll = haveAll
  }

  get length () { return this.buffer.length * 8 }

  get (i) {
    if (this._haveAll) return true
    const byte = i >> 3
    return byte < this.buffer.length && (this.buffer[byte] & (0x80 >> (i & 7))) !== 0
  }

  set (i, value = true) {
    const byte = i >> 3
    if (value && byte >= this.buffer.length) {
      const size = Math.max(byte + 1, Math.min(2 * this.buffer.length, this.grow))
      if (size > this.grow) return
      const bigger = new Uint8Array(size)
      bigger.set(this.buffer)
      this.buffer = bigger
    }
    if (byte >= this.buffer.length) return
    if (value) this.buffer[byte] |= 0x80 >> (i & 7)
    else this.buffer[byte] &= ~(0x80 >> (i & 7))
  }

  setAll (values, offset = 0) {
    for (let k = 0; k < values.length; k++) this.set(offset + k, Boolean(values[k]))
  }

  forEach (fn, start = 0, end = this.length) {
    for (let i = start; i < end; i++) fn(this.get(i), i)
  }

  isEmpty () { return !this._haveAll && this.buffer.every(b => b === 0) }
}
