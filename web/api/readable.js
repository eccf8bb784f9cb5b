// A Node-style readable stream over a web ReadableStream: what file.createReadStream()
// returns, so that WebTorrent code (`.pipe(dest)`, `.on('data')`, `for await`,
// `stream.pipeline`, a 'readable' loop of read() calls) works in the browser and under Node
// alike without bundling Node's stream module. It covers the consumer side of
// stream.Readable: flowing mode ('data', pause, resume, isPaused), paused mode ('readable',
// read([size])), setEncoding, 'end', 'error', 'close', pipe/unpipe to anything with
// write()/end() (Node writables) honouring back-pressure ('drain'), destroy(), async
// iteration, and toWeb() for the underlying ReadableStream. Not covered: object mode and
// the producer side (push, unshift), which belongs to whoever made the stream.
import { Emitter } from './emitter.js'

export class FileStream extends Emitter {
  constructor (stream) {
    super()
    this._stream = stream
    this._reader = null      // the web reader, once something consumes the stream
    this._pulling = null     // the pending read from the source, one at a time
    this._buffer = []        // chunks read from the source and not consumed yet
    this._sourceDone = false
    this._flowing = null     // null: never asked to flow; true; false: paused
    this._pumping = false
    this._filling = false
    this._needReadable = false
    this._wanted = 1         // how much paused mode reads ahead: read(size)'s size, when larger
    this._decoder = null     // setEncoding's
    this._pipes = []         // [{ dest, ondata, onend, ondrain }]
    this.destroyed = false
    this.readable = true
    this.readableEnded = false
    this.readableFlowing = null
    this.readableEncoding = null
  }

  // Bytes (or characters, with an encoding) read from the source and not consumed yet.
  get readableLength () { return this._buffer.reduce((n, chunk) => n + chunk.length, 0) }

  // Every way of adding a 'data' listener (on, addListener, once, prepend...) starts the
  // flow, unless the stream was paused or has 'readable' listeners, as Node's. A 'readable'
  // listener switches to paused mode.
  _add (name, fn, prepend) {
    super._add(name, fn, prepend)
    if (name === 'data' && this._flowing !== false && this.listenerCount('readable') === 0) this.resume()
    if (name === 'readable') {
      this._flowing = false
      this.readableFlowing = false
      this._needReadable = true
      this._fill()
    }
    return this
  }

  resume () {
    if (this.destroyed || this.readableEnded || this.listenerCount('readable') > 0) return this
    this._flowing = true
    this.readableFlowing = true
    queueMicrotask(() => this._pump())
    return this
  }

  pause () {
    if (this._flowing !== false) {
      this._flowing = false
      this.readableFlowing = false
      this.emit('pause')
    }
    return this
  }

  isPaused () { return this._flowing === false }

  setEncoding (encoding) {
    this._decoder = stringDecoder(encoding)
    this.readableEncoding = this._decoder.encoding
    this._buffer = this._buffer.map(chunk => this._decoder.write(chunk))
    return this
  }

  // Reads one chunk from the source into the buffer (decoded, with an encoding).
  _pull () {
    if (!this._pulling) {
      this._reader ??= this._stream.getReader()
      this._pulling = this._reader.read().then(({ value, done }) => {
        if (!done) {
          this._buffer.push(this._decoder ? this._decoder.write(value) : value)
          return
        }
        this._sourceDone = true
        const rest = this._decoder?.end()
        if (rest) this._buffer.push(rest)
      }).finally(() => { this._pulling = null })
    }
    return this._pulling
  }

  // The torrent was destroyed (or removed): the stream is destroyed with it, quietly, as
  // WebTorrent's file streams are; an app piping it somewhere has no 'error' to handle.
  _fail (err) { this.destroy(err.code === 'destroyed' ? undefined : err) }

  async _pump () {
    if (this._pumping) return
    this._pumping = true
    try {
      while (this._flowing && !this.destroyed) {
        if (this._buffer.length > 0) this.emit('data', this._buffer.shift())
        else if (this._sourceDone) return this._end()
        else await this._pull()
      }
    } catch (err) {
      this._fail(err)
    } finally {
      this._pumping = false
    }
  }

  // Paused mode: reads until something (or the end) is buffered, then tells the 'readable'
  // listeners if a read() found nothing since the last time.
  async _fill () {
    if (this._filling) return
    this._filling = true
    try {
      await undefined // 'readable' is never emitted inside the call that asked for it
      while (this.readableLength < this._wanted && !this._sourceDone && !this._flowing && !this.destroyed) await this._pull()
    } catch (err) {
      return this._fail(err)
    } finally {
      this._filling = false
    }
    if (this._needReadable && !this._flowing && !this.destroyed) {
      this._needReadable = false
      this.emit('readable')
    }
  }

  // Paused mode, as stream.Readable's read(): everything buffered, or `size` of it
  // (bytes, or characters with an encoding); null when that much is not buffered yet (then
  // 'readable' tells when it is) or at the end (then 'end' follows).
  read (size) {
    if (this.destroyed) return null
    const length = this.readableLength
    const wanted = size === undefined || size === null ? length : Math.max(0, Math.floor(size))
    if (length === 0 || wanted > length) {
      if (this._sourceDone && length === 0) queueMicrotask(() => this._end())
      else if (!this._sourceDone || length === 0) {
        this._wanted = Math.max(1, wanted)
        this._needReadable = true
        this._fill()
        return null
      }
    }
    if (length === 0) return null
    const chunk = this._take(Math.min(wanted, length))
    this._wanted = 1
    if (this._buffer.length === 0) {
      this._needReadable = true
      this._fill()
    }
    this.emit('data', chunk)
    return chunk
  }

  // The first `n` bytes or characters of the buffer, as one chunk.
  _take (n) {
    const parts = []
    let got = 0
    while (got < n) {
      const head = this._buffer[0]
      const part = head.length <= n - got ? this._buffer.shift() : head.slice(0, n - got)
      if (part !== head) this._buffer[0] = head.slice(n - got)
      parts.push(part)
      got += part.length
    }
    if (parts.length === 1) return parts[0]
    if (typeof parts[0] === 'string') return parts.join('')
    const out = new Uint8Array(got)
    let at = 0
    for (const part of parts) { out.set(part, at); at += part.length }
    return out
  }

  _end () {
    if (this.readableEnded || this.destroyed) return
    this.readable = false
    this.readableEnded = true
    this.emit('end')
    this._finish()
  }

  _finish () {
    if (this.destroyed) return
    this.destroyed = true
    this._reader?.releaseLock()
    this.emit('close')
  }

  // Stops reading (the engine stops prioritising the range); `err`, if given, is emitted
  // as 'error' before 'close'.
  destroy (err) {
    if (this.destroyed) return this
    this.destroyed = true
    this.readable = false
    this._buffer = []
    const cancel = this._reader ? this._reader.cancel() : this._stream.cancel()
    cancel.catch(() => {})
    queueMicrotask(() => {
      if (err) this.emit('error', err)
      this.emit('close')
    })
    return this
  }

  // pipe(dest, { end }) as Node's, or pipe(dest, cb) as streamx's (WebTorrent's streams):
  // cb(err) once dest has everything (its 'finish'; without end, once the source ended), or
  // with the error that stopped it. As streamx's, a dest that closes before the end (an
  // HTTP client that went away, or seeked) stops this stream too (destroyed: its reader
  // released), where Node's would sit paused for ever; quietly, with no 'error' to crash an
  // app that has no listener (streamx's emits one).
  pipe (dest, opts) {
    const cb = typeof opts === 'function' ? opts : null
    const end = typeof opts === 'object' && opts !== null && opts.end === false ? false : true
    let settled = false
    const settle = err => {
      if (settled) return
      settled = true
      if (typeof dest.off === 'function') {
        dest.off('close', entry.onclose)
        dest.off('finish', entry.onfinish)
      }
      cb?.(err ?? null)
    }
    const entry = {
      dest,
      ondata: chunk => {
        if (dest.write(chunk) === false && typeof dest.once === 'function') {
          this.pause()
          dest.once('drain', entry.ondrain)
        }
      },
      ondrain: () => { if (this._pipes.includes(entry)) this.resume() },
      onend: () => {
        if (!this._pipes.includes(entry)) return
        if (end) dest.end()
        else settle()
      },
      onfinish: () => settle(),
      onclose: () => {
        if (this.readableEnded && !end) return
        if (!this.readableEnded || !dest.writableFinished) {
          this.unpipe(dest)
          this.destroy()
          settle(new Error('Writable stream closed prematurely'))
        }
      },
      onerror: err => settle(err)
    }
    this._pipes.push(entry)
    super._add('data', entry.ondata, false)
    this.once('end', entry.onend)
    if (cb) this.once('error', entry.onerror) // only then: an error no one listens to still throws
    if (typeof dest.once === 'function') {
      dest.once('close', entry.onclose)
      dest.once('finish', entry.onfinish)
    }
    if (typeof dest.emit === 'function') dest.emit('pipe', this)
    this.resume()
    return dest
  }

  unpipe (dest) {
    for (const entry of [...this._pipes]) {
      if (dest !== undefined && entry.dest !== dest) continue
      this._pipes.splice(this._pipes.indexOf(entry), 1)
      this.off('data', entry.ondata)
      this.off('end', entry.onend)
      if (typeof entry.dest.emit === 'function') entry.dest.emit('unpipe', this)
    }
    if (this._pipes.length === 0 && this.listenerCount('data') === 0) this.pause()
    return this
  }

  // The underlying web ReadableStream (as stream.Readable.toWeb would give).
  toWeb () { return this._stream }

  async * [Symbol.asyncIterator] () {
    if (this._flowing) throw new Error('createReadStream: already flowing; iterate a fresh stream')
    this._flowing = false
    let finished = false
    try {
      for (;;) {
        if (this.destroyed) return
        if (this._buffer.length > 0) yield this._buffer.shift()
        else if (this._sourceDone) { finished = true; this._end(); return } else await this._pull()
      }
    } catch (err) {
      finished = true
      this.destroy() // the error goes to the loop, not to 'error'
      throw err
    } finally {
      if (!finished) this.destroy() // the loop stopped early
    }
  }
}

// What setEncoding(name) turns chunks into, for the encodings of Node's StringDecoder, with
// no dependency: a character or base64 group split across two chunks is decoded whole.
function stringDecoder (encoding) {
  const name = String(encoding ?? 'utf8').toLowerCase()
  if (['utf8', 'utf-8', 'utf16le', 'utf-16le', 'ucs2', 'ucs-2'].includes(name)) {
    const utf8 = name.startsWith('utf8') || name === 'utf-8'
    const decoder = new TextDecoder(utf8 ? 'utf-8' : 'utf-16le')
    return {
      encoding: utf8 ? 'utf8' : 'utf16le',
      write: bytes => decoder.decode(bytes, { stream: true }),
      end: () => decoder.decode()
    }
  }
  const perByte = {
    latin1: bytes => binaryString(bytes),
    binary: bytes => binaryString(bytes),
    ascii: bytes => binaryString(bytes.map(b => b & 0x7f)),
    hex: bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
  }[name]
  if (perByte) return { encoding: name === 'binary' ? 'latin1' : name, write: perByte, end: () => '' }
  if (name === 'base64' || name === 'base64url') {
    const encode = bytes => {
      const text = btoa(binaryString(bytes))
      return name === 'base64' ? text : text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    }
    let carry = new Uint8Array(0) // base64 encodes groups of 3 bytes
    return {
      encoding: name,
      write: bytes => {
        const all = new Uint8Array(carry.length + bytes.length)
        all.set(carry)
        all.set(bytes, carry.length)
        const whole = all.length - all.length % 3
        carry = all.slice(whole)
        return encode(all.subarray(0, whole))
      },
      end: () => encode(carry)
    }
  }
  const err = new TypeError(`Unknown encoding: ${encoding}`)
  err.code = 'ERR_UNKNOWN_ENCODING'
  throw err
}

function binaryString (bytes) {
  let text = ''
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return text
}
