// A Node-style readable stream over a web ReadableStream: what file.createReadStream()
// returns, so that WebTorrent code (`.pipe(dest)`, `.on('data')`, `for await`) works in the
// browser and under Node alike without bundling Node's stream module. It covers the
// consumer side of stream.Readable: flowing mode ('data', pause, resume, isPaused), 'end',
// 'error', 'close', pipe/unpipe to anything with write()/end() (Node writables) honouring
// back-pressure ('drain'), destroy(), async iteration, and toWeb() for the underlying
// ReadableStream. Not covered: paused-mode read() and 'readable', encodings, object mode.
import { Emitter } from './emitter.js'

export class FileStream extends Emitter {
  constructor (stream) {
    super()
    this._stream = stream
    this._reader = null      // the web reader, once something consumes the stream
    this._flowing = null     // null: never asked to flow; true; false: paused
    this._pumping = false
    this._pipes = []         // [{ dest, ondata, onend, ondrain }]
    this.destroyed = false
    this.readable = true
    this.readableEnded = false
    this.readableFlowing = null
  }

  // Every way of adding a 'data' listener (on, addListener, once, prepend...) starts the
  // flow, unless the stream was paused, as Node's.
  _add (name, fn, prepend) {
    super._add(name, fn, prepend)
    if (name === 'data' && this._flowing !== false) this.resume()
    return this
  }

  resume () {
    if (this.destroyed || this.readableEnded) return this
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

  _read () {
    this._reader ??= this._stream.getReader()
    return this._reader.read()
  }

  async _pump () {
    if (this._pumping) return
    this._pumping = true
    try {
      while (this._flowing && !this.destroyed) {
        const { value, done } = await this._read()
        if (this.destroyed) return
        if (done) return this._end()
        this.emit('data', value)
      }
    } catch (err) {
      // The torrent was destroyed (or removed): the stream is destroyed with it, quietly, as
      // WebTorrent's file streams are; an app piping it somewhere has no 'error' to handle.
      this.destroy(err.code === 'destroyed' ? undefined : err)
    } finally {
      this._pumping = false
    }
  }

  _end () {
    if (this.readableEnded) return
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
    const cancel = this._reader ? this._reader.cancel() : this._stream.cancel()
    cancel.catch(() => {})
    queueMicrotask(() => {
      if (err) this.emit('error', err)
      this.emit('close')
    })
    return this
  }

  pipe (dest, { end = true } = {}) {
    const entry = {
      dest,
      ondata: chunk => {
        if (dest.write(chunk) === false && typeof dest.once === 'function') {
          this.pause()
          dest.once('drain', entry.ondrain)
        }
      },
      ondrain: () => { if (this._pipes.includes(entry)) this.resume() },
      onend: () => { if (end && this._pipes.includes(entry)) dest.end() }
    }
    this._pipes.push(entry)
    super._add('data', entry.ondata, false)
    this.once('end', entry.onend)
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
        const { value, done } = await this._read()
        if (done) { finished = true; this._end(); return }
        yield value
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
