// Playback through Media Source Extensions: file.streamTo(elem) when the client has no
// service worker (or with { mediaSource: true }). The browser's own demuxer (the service
// worker path) plays anything it can fetch; here we do part of its work ourselves, so only
// WebM/Matroska and fragmented MP4 play (web/stream/container.js reads them):
//
//   - the initialization segment is appended once, then the clusters/fragments in file order
//     from a file reader (which makes the engine fetch those pieces first), one append at a
//     time, pausing while bufferAhead seconds (default 30) are buffered ahead of the playhead;
//   - what is more than KEEP_BEHIND seconds behind the playhead is removed, so memory stays
//     bounded; a full buffer (QuotaExceededError) is answered by evicting and retrying;
//   - on 'seeking' outside what is buffered, the reader is cancelled (the engine stops
//     prioritising the old range) and restarted at the cluster/fragment at or before the
//     target, found in the file's index (WebM Cues, MP4 sidx or mfra) or, without one, by
//     probing the file (container.searchSyncPoint);
//   - at the end of the media data, endOfStream(); when the element's source changes (the
//     MediaSource closes) or the torrent is destroyed, every reader is cancelled.
import { WasmTorrentError } from '../api/errors.js'
import { openMedia, entryAt, searchSyncPoint, lastSyncPoint } from './container.js'

const BUFFER_AHEAD = 30 // default seconds buffered ahead of the playhead before reading pauses
const KEEP_BEHIND = 10 // seconds kept behind the playhead (a short seek back costs nothing)
const SEEK_SLACK = 0.5 // index times may differ from MSE's presentation times by a few frames
const GAP = 0.25 // data that starts this much after a seek target does not cover it
const MAX_RETRIES = 3 // restarts at an earlier sync point when data begins after the target
const MIN_SPLIT = 256 * 1024 // smallest part of a chunk appended on its own when the buffer is full

const cancelled = () => new WasmTorrentError('MediaSource playback stopped', { code: 'cancelled' })
const isCancelled = err => err?.code === 'cancelled'

function mediaSourceClass () {
  return globalThis.MediaSource ?? globalThis.ManagedMediaSource ?? null
}

// Starts playing `file` in `elem` through a MediaSource; callback(err) once the
// initialization segment is in (err null) or when the file cannot be played this way.
// opts.bufferAhead: seconds to buffer ahead of the playhead.
export function streamWithMediaSource (file, elem, opts, callback) {
  const MS = mediaSourceClass()
  if (!MS) {
    throw new WasmTorrentError('streamTo: this context has no MediaSource; call client.createServer({ controller }) to stream through a service worker',
      { code: 'not_supported' })
  }
  if (!elem || typeof elem.addEventListener !== 'function' || !('currentTime' in elem)) {
    throw new WasmTorrentError('streamTo: give a <video> or <audio> element', { code: 'invalid_argument' })
  }
  const bufferAhead = opts?.bufferAhead ?? BUFFER_AHEAD
  if (!(bufferAhead > 0)) throw new WasmTorrentError('streamTo: bufferAhead must be a positive number of seconds', { code: 'invalid_argument' })
  return new MediaSourcePlayer(file, elem, MS, bufferAhead, callback)
}

class MediaSourcePlayer {
  constructor (file, elem, MS, bufferAhead, callback) {
    this.file = file
    this.elem = elem
    this.MS = MS
    this.bufferAhead = bufferAhead
    this.callback = callback
    this.closed = false
    this.gen = 0 // bumped by every restart and by close(): older pumps and lookups stop
    this.reads = new Set() // { reader, gen } of the file readers in flight
    this.queue = Promise.resolve() // SourceBuffer operations run one at a time
    this.media = null
    this.sb = null
    this.index = null // Promise of the time → offset index (null when the file has none)
    this.entries = null // the index, once loaded
    this.headTime = null // where the running pump's data ends in the buffered ranges
    this.pending = null // { target, sync, retries } while a seek target is not yet buffered
    this.sleepers = new Set()
    this.ms = new MS()
    // ManagedMediaSource (Safari) plays only with remote playback off or an alternative source.
    if (MS !== globalThis.MediaSource) elem.disableRemotePlayback = true
    this.url = URL.createObjectURL(this.ms)

    this.onSourceOpen = () => {
      URL.revokeObjectURL(this.url)
      this.start().catch(err => this.fail(err))
    }
    this.onSourceClose = () => this.close() // the element's src changed, or load() was called
    // Firefox fires the element's events of a source change (timeupdate, currentTime back
    // to 0) before 'sourceclose': an opened MediaSource that is closed means the element
    // has moved on, whichever event comes first (the pump must not run into a detached buffer).
    const live = handler => () => { if (this.sb && this.ms.readyState === 'closed') this.close(); else handler() }
    this.onSeeking = live(() => this.seek())
    // Stalled outside what is buffered with no seek or restart under way (say, what was
    // being played got evicted): refill from there.
    this.onWaiting = live(() => { if (this.headTime !== null && !this.pending) this.seek() })
    this.onTimeUpdate = live(() => this.wake())
    this.onTorrentClose = () => this.close()
    this.ms.addEventListener('sourceopen', this.onSourceOpen, { once: true })
    this.ms.addEventListener('sourceclose', this.onSourceClose)
    elem.addEventListener('seeking', this.onSeeking)
    elem.addEventListener('waiting', this.onWaiting)
    elem.addEventListener('timeupdate', this.onTimeUpdate)
    file._torrent.once('close', this.onTorrentClose)
    elem.src = this.url
  }

  async start () {
    const media = await openMedia(this.source(null))
    if (this.closed) return
    if (!this.MS.isTypeSupported(media.mime)) {
      throw new WasmTorrentError(`${this.file.name}: this browser cannot play ${media.mime} through MediaSource`, { code: 'unsupported_media' })
    }
    this.media = media
    this.sb = this.ms.addSourceBuffer(media.mime)
    await this.op(sb => sb.appendBuffer(media.init))
    if (media.duration > 0) await this.setDuration(media.duration)
    this.report(null)
    // The index is read now, in parallel with the first clusters, so that a seek has it at
    // hand; a file that does not say its duration is measured by its last cluster/fragment.
    // A broken index is no index: seeks then probe the file.
    this.index = media.loadIndex(this.source(null)).catch(() => null)
    this.index.then(entries => { this.entries = entries })
    if (!(media.duration > 0)) {
      this.index.then(async index => {
        const last = index?.at(-1) ?? await lastSyncPoint(media, this.source(null))
        if (last && !this.closed) await this.setDuration(last.time)
      }).catch(() => {})
    }
    this.restart(this.elem.currentTime, { seek: true })
  }

  // A byte source for container.js: ranged reads through file readers, cancelled when
  // the player closes or (for a given gen) when it restarts elsewhere.
  source (gen) {
    return { length: this.file.length, read: (offset, length) => this.read(offset, length, gen) }
  }

  async read (offset, length, gen) {
    if (this.closed || (gen !== null && gen !== this.gen)) throw cancelled()
    if (length <= 0) return new Uint8Array(0)
    const reader = this.file.stream({ start: offset, end: offset + length - 1 }).getReader()
    const entry = { reader, gen }
    this.reads.add(entry)
    try {
      const out = new Uint8Array(length)
      let at = 0
      while (at < length) {
        const { value, done } = await reader.read()
        if (done) break
        out.set(value.subarray(0, length - at), at)
        at += value.length
      }
      if (at < length) throw cancelled()
      return out
    } finally {
      this.reads.delete(entry)
    }
  }

  // Runs fn(sourceBuffer) after the operations before it, and resolves once the buffer has
  // finished what fn started (updateend). With a gen, skipped if a restart happened since.
  op (fn, gen = null) {
    const run = () => new Promise((resolve, reject) => {
      if (this.closed || this.ms.readyState === 'closed') return reject(cancelled())
      if (gen !== null && gen !== this.gen) return resolve(false)
      const sb = this.sb
      let failed = false
      const onError = () => { failed = true }
      const onEnd = () => {
        sb.removeEventListener('updateend', onEnd)
        sb.removeEventListener('error', onError)
        if (failed) reject(new WasmTorrentError(`${this.file.name}: the browser could not parse or decode the media data`, { code: 'media_error' }))
        else resolve(true)
      }
      sb.addEventListener('updateend', onEnd)
      sb.addEventListener('error', onError)
      try {
        fn(sb)
      } catch (err) {
        sb.removeEventListener('updateend', onEnd)
        sb.removeEventListener('error', onError)
        return reject(err)
      }
      if (!sb.updating) onEnd() // fn started nothing asynchronous (abort, endOfStream, ...)
    })
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => {})
    return result
  }

  setDuration (seconds) {
    return this.op(() => {
      const d = this.ms.duration
      // Only to make a guess more precise, or lengthen it: shortening below what is buffered throws.
      if (this.ms.readyState === 'open' && (!(d < Infinity) || seconds > d)) this.ms.duration = seconds
    }).catch(() => {})
  }

  ranges () {
    const b = this.sb.buffered
    const out = []
    for (let i = 0; i < b.length; i++) out.push({ start: b.start(i), end: b.end(i) })
    return out
  }

  rangeAt (t) { return this.ranges().find(r => r.start - GAP <= t && t <= r.end + GAP) ?? null }

  // Seconds buffered ahead of the playhead, in the range it is in.
  ahead () {
    const t = this.elem.currentTime
    const r = this.rangeAt(t)
    return r ? r.end - t : 0
  }

  wake () {
    for (const wake of this.sleepers) wake()
    this.sleepers.clear()
  }

  // Until the next timeupdate/seek/restart, or a second.
  sleep () {
    return new Promise(resolve => {
      const timer = setTimeout(() => wake(), 1000)
      const wake = () => { clearTimeout(timer); this.sleepers.delete(wake); resolve() }
      this.sleepers.add(wake)
    })
  }

  seek () {
    if (!this.media || this.closed) return // start() begins at currentTime
    const t = this.elem.currentTime
    const r = this.rangeAt(t)
    if (r && this.headTime !== null && r.start - GAP <= this.headTime && this.headTime <= r.end + GAP) {
      this.pending = null
      this.wake() // the pump is filling this very range: it tops up if it was waiting
      return
    }
    // Buffered here but the pump is elsewhere: continue this range from its end. Otherwise
    // restart at the target.
    if (r) this.restart(r.end, { seek: false })
    else this.restart(t, { seek: true })
  }

  // Cancels the current pump and starts another at the sync point for time t; with seek,
  // t is a target the new data must cover (see afterAppend).
  async restart (t, { seek, retries = 0, before = null } = {}) {
    const gen = ++this.gen
    for (const entry of [...this.reads]) {
      if (entry.gen !== null) { entry.reader.cancel().catch(() => {}); this.reads.delete(entry) }
    }
    this.headTime = null
    this.pending = null
    this.wake()
    try {
      const sync = await this.lookup(before ?? t, gen, before !== null)
      if (gen !== this.gen) return
      // The new data starts at a cluster/fragment boundary: drop any half-parsed one.
      await this.op(sb => { if (this.ms.readyState === 'open') sb.abort() }, gen)
      if (gen !== this.gen) return
      this.headTime = sync.time
      this.pending = seek ? { target: t, sync, retries } : null
      await this.pump(sync.offset, gen)
    } catch (err) {
      if (!isCancelled(err) && gen === this.gen) this.fail(err)
    }
  }

  // The sync point { time, offset } to start from for time t (strictly before t when
  // `strict`, to step back one).
  async lookup (t, gen, strict) {
    const media = this.media
    const start = { time: 0, offset: media.mediaStart }
    const target = strict ? t - 1e-3 : t - SEEK_SLACK
    if (!(target > 0)) return start
    const index = await this.index
    if (index) return entryAt(index, target) ?? start
    // Without an index, probe; the duration may be an estimate (see start()).
    const duration = this.ms.duration < Infinity ? this.ms.duration : media.duration
    return searchSyncPoint(media, this.source(gen), target, duration)
  }

  // Appends [offset, mediaEnd) in file order while there is room ahead of the playhead.
  async pump (offset, gen) {
    const end = this.media.mediaEnd
    if (offset < end) {
      const reader = this.file.stream({ start: offset, end: end - 1 }).getReader()
      const entry = { reader, gen }
      this.reads.add(entry)
      try {
        for (;;) {
          while (gen === this.gen && this.ahead() >= this.bufferAhead) {
            await this.evict(gen)
            await this.sleep()
          }
          if (gen !== this.gen) return
          const { value, done } = await reader.read()
          if (gen !== this.gen) return
          if (done) break
          await this.evict(gen)
          const before = await this.append(value, gen)
          if (gen !== this.gen) return
          this.afterAppend(before, gen)
        }
      } finally {
        // Still ours: no restart or close() cancelled it. The pump ends, or leaves on an
        // error (fail() closes after this line and would no longer see the reader): cancel
        // it here (a no-op at the end of the data) so the engine stops reading for it.
        if (this.reads.delete(entry)) reader.cancel().catch(() => {})
      }
    }
    await this.op(() => { if (this.ms.readyState === 'open') this.ms.endOfStream() }, gen)
  }

  // Appends a chunk; resolves with the buffered ranges just before (the last part of) it.
  async append (chunk, gen) {
    for (;;) {
      const before = this.ranges()
      try {
        await this.op(sb => sb.appendBuffer(chunk), gen)
        return before
      } catch (err) {
        if (err?.name !== 'QuotaExceededError') throw err
      }
      // The buffer is full: free what is behind the playhead and elsewhere, then retry; if
      // nothing can go, append smaller parts, or wait for playback to move on.
      if (await this.evict(gen, true)) continue
      if (gen !== this.gen) return []
      if (chunk.length >= 2 * MIN_SPLIT) {
        const half = chunk.length >> 1
        await this.append(chunk.subarray(0, half), gen)
        return gen === this.gen ? this.append(chunk.subarray(half), gen) : []
      }
      await this.sleep()
      if (gen !== this.gen) return []
    }
  }

  // Removes what is more than KEEP_BEHIND seconds behind the playhead (only by 5 s or more
  // at a time); when the buffer is full, all but the playhead's group of pictures and any
  // range that is neither the playhead's nor the pump's. Resolves with whether it removed
  // anything. A removal also takes the frames after it up to the next keyframe (they cannot
  // be decoded without the ones removed), so it must end at a keyframe at or before the one
  // the playhead needs: an index entry when there is one, else KEEP_BEHIND seconds back
  // (longer than most keyframe intervals).
  async evict (gen, full = false) {
    const t = this.elem.currentTime
    const sync = this.entries && entryAt(this.entries, t)
    let end = t - KEEP_BEHIND
    if (sync) end = Math.min(full ? t : end, sync.time - SEEK_SLACK)
    const removals = []
    const ranges = this.ranges()
    if (ranges.length && ranges[0].start < end - (full ? 0 : 5)) removals.push([0, end])
    if (full) {
      for (const r of ranges) {
        const mine = this.headTime !== null && r.start - GAP <= this.headTime && this.headTime <= r.end + GAP
        if (r.start > t + GAP && !mine) removals.push([r.start, r.end])
      }
    }
    for (const [from, to] of removals) await this.op(sb => sb.remove(from, to), gen)
    return removals.length > 0
  }

  // Follows where the appended data went, from the buffered ranges before and after an
  // append. The pump's range is the one that holds where its data ended so far. If it has
  // grown into a range buffered earlier (by another seek), the pump jumps to that range's
  // end instead of appending its data again. If, after a seek, the data makes a range of its
  // own that begins after the target (the sync point was not one: a cluster that does not
  // start with a keyframe), it steps back to an earlier sync point, or at last moves the
  // playhead to where the data begins.
  afterAppend (before, gen) {
    const after = this.ranges()
    const pending = this.pending
    const overlaps = r => before.some(b => b.start < r.end + GAP && r.start - GAP < b.end)
    const late = pending && after.find(r => r.start > pending.target + GAP && !overlaps(r))
    if (late) {
      this.pending = null
      if (pending.retries < MAX_RETRIES && pending.sync.time > 0) {
        this.restart(pending.target, { seek: true, retries: pending.retries + 1, before: pending.sync.time })
      } else if (Math.abs(this.elem.currentTime - pending.target) < 1e-3) {
        this.headTime = late.end
        this.elem.currentTime = late.start // nothing earlier to try: play from where the data begins
      }
      return
    }
    const prev = this.headTime
    const head = prev === null ? null : after.find(r => r.start - GAP <= prev && prev <= r.end + GAP)
    if (!head) return
    this.headTime = Math.max(prev, head.end)
    if (pending && head.start - GAP <= pending.target && pending.target <= head.end) this.pending = null
    const merged = before.some(b => b.start > prev + GAP && head.start <= b.start && b.end <= head.end + GAP)
    if (merged && gen === this.gen) this.restart(head.end, { seek: false })
  }

  report (err) {
    const cb = this.callback
    this.callback = null
    if (cb) cb(err, this.elem)
    else if (err) this.file._torrent.emit('warning', err)
  }

  fail (err) {
    if (isCancelled(err) || this.closed) return
    if (err instanceof WasmTorrentError && !err.message.startsWith(this.file.name)) err.message = `${this.file.name}: ${err.message}`
    if (!(err instanceof WasmTorrentError)) err = new WasmTorrentError(`${this.file.name}: ${err?.message ?? err}`, { code: 'media_error' })
    // The element shows an error too (for pages that listen to it rather than to us).
    try { if (this.ms.readyState === 'open' && !this.sb?.updating) this.ms.endOfStream('decode') } catch {}
    this.close()
    this.report(err)
  }

  close () {
    if (this.closed) return
    this.closed = true
    this.gen++
    for (const { reader } of this.reads) reader.cancel().catch(() => {})
    this.reads.clear()
    this.ms.removeEventListener('sourceopen', this.onSourceOpen)
    this.ms.removeEventListener('sourceclose', this.onSourceClose)
    this.elem.removeEventListener('seeking', this.onSeeking)
    this.elem.removeEventListener('waiting', this.onWaiting)
    this.elem.removeEventListener('timeupdate', this.onTimeUpdate)
    this.file._torrent.off('close', this.onTorrentClose)
    URL.revokeObjectURL(this.url)
    this.wake()
  }
}
