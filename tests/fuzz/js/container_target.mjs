// The fuzz target for web/stream/container.js: one input through every entry point that reads file
// bytes, the way MediaSource playback calls them (openMedia, then loadIndex, seeks by probing,
// the last sync point; syncPoints, sniff, ebmlHeader and the codec-string helpers directly),
// checking on the way that:
//   - each call resolves with a well-formed result or rejects with a WasmTorrentError
//     'unsupported_media', never anything else;
//   - every read is inside [0, length) of the source, and the bytes read by each call stay
//     within a budget derived from container.js's own limits;
// over a source of exactly the input's bytes, and over sources that claim to be huge (2^40
// or 2^32 + 8 bytes) and answer past the input with a filler (zeros, 0xff, the input
// repeated, or its last element repeated), which finds loops that scale with the claimed
// length and reads that grow with the number of elements (see sourcesFor). Hangs are
// caught by the driver (container_fuzz.mjs), which runs this in a worker.
//
// Run as a worker it answers { id, bytes, all } with { id, failure } or { id, features }, the
// block-coverage features of container.js that the input reached (V8 precise coverage).
import { isMainThread, parentPort } from 'node:worker_threads'
import { Session } from 'node:inspector'
import { createHash } from 'node:crypto'
import {
  openMedia, sniff, ebmlHeader, entryAt, searchSyncPoint, syncPointAfter, lastSyncPoint,
  avcCodec, hevcCodec, av1Codec, esdsCodec
} from '../../../web/stream/container.js'

// container.js's limits (not exported: keep in step with the constants at its top).
const KiB = 1024
const MiB = 1024 * KiB
const WINDOW = 64 * KiB
const MAX_HEADER_ELEMENTS = 256
const MAX_INIT_PART = 4 * MiB
const MAX_INDEX = 16 * MiB
const PROBE_SCAN = 2 * MiB
const MAX_PROBES = 12

// What one call may read: its documented limits with room for the windows around them.
// openMedia walks at most MAX_HEADER_ELEMENTS headers (a window each, at worst), reads each
// init part once (WebM: up to two SeekHeads, Info, Tracks; MP4: ftyp, moov) and, in MP4,
// sidx boxes up to MAX_INDEX in all; a search makes MAX_PROBES probes of PROBE_SCAN bytes.
const BUDGET = {
  open: MAX_HEADER_ELEMENTS * WINDOW + 4 * MAX_INIT_PART + MAX_INDEX,
  loadIndex: MAX_INDEX + 4 * WINDOW,
  syncPointAfter: PROBE_SCAN + PROBE_SCAN / 8 + 2 * WINDOW, // windows overlap by 4 KiB
  searchSyncPoint: MAX_PROBES * (PROBE_SCAN + PROBE_SCAN / 8 + 2 * WINDOW),
  lastSyncPoint: 4 * WINDOW
}
const MAX_READ = MAX_INDEX + WINDOW // the largest single read: a whole index element/box

export class FuzzFailure extends Error {
  constructor (message) { super(message); this.name = 'FuzzFailure' }
}
const check = (ok, message) => { if (!ok) throw new FuzzFailure(message) }

// The source variants an input runs under: the exact source, then for one input in four
// (for every one with `all`: seeds and replays) a huge one with a filler chosen by a hash
// of the input, so that a saved input replays as it ran; with `all`, 'repeat-last' too.
// (Probing a huge MP4 scans PROBE_SCAN bytes per probe, ~100 ms an input, which would
// otherwise be most of the run.)
const FILLERS = ['zeros', 'ones', 'repeat', 'repeat-last']
export function sourcesFor (bytes, all = false) {
  const h = createHash('sha1').update(bytes).digest()
  const variants = [{ claimed: bytes.length, filler: 'none' }]
  if (all || !(h[0] & 3)) variants.push({ claimed: h[0] & 4 ? 2 ** 40 : 2 ** 32 + 8, filler: FILLERS[h[1] % FILLERS.length] })
  if (all && variants[1].filler !== 'repeat-last') variants.push({ claimed: 2 ** 40, filler: 'repeat-last' })
  return variants
}

// Where the last top-level element (WebM: child of the Segment) or box of `bytes` starts,
// if the input ends with a whole one; else 0.
function lastElement (bytes) {
  const n = bytes.length
  let last = 0
  if (sniff(bytes) === 'webm') {
    for (let p = 0, depth = 0; p < n && depth < 1024; depth++) {
      let h
      try { h = ebmlHeader(bytes, p) } catch { break }
      if (!h) break
      if (h.id === 0x18538067) { p = h.dataStart; continue } // into the Segment
      if (h.size === null || h.dataStart + h.size > n) break
      last = p
      p = h.dataStart + h.size
    }
  } else {
    for (let p = 0, depth = 0; p + 8 <= n && depth < 1024; depth++) {
      const size = ((bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3]) >>> 0
      if (size < 8 || p + size > n) break
      last = p
      p += size
    }
  }
  return last
}

// A byte source over `bytes` claiming `claimed` bytes, that checks every read against the
// claimed length and the budget of the call under way.
function makeSource (bytes, { claimed, filler }) {
  const n = bytes.length
  // 'repeat-last' repeats the input's last element or box: as many copies of it as the
  // reader cares to walk (a duplicated SeekHead, sidx, ...).
  const from = filler === 'repeat-last' ? lastElement(bytes) : 0
  const period = n - from
  const source = {
    length: claimed,
    call: null, // { name, read, budget }
    violation: null,
    async read (offset, length) {
      const fail = message => { source.violation ??= message; throw new FuzzFailure(message) }
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) fail(`read(${offset}, ${length}): not integers`)
      if (offset < 0 || length < 0 || offset + length > claimed) fail(`read(${offset}, ${length}) outside [0, ${claimed})`)
      if (length > MAX_READ) fail(`read(${offset}, ${length}): one read larger than ${MAX_READ} bytes`)
      if (source.call) {
        source.call.read += length
        if (source.call.read > source.call.budget) fail(`${source.call.name} read ${source.call.read} bytes, over its budget of ${source.call.budget}`)
      }
      await null // an asynchronous answer, as a torrent's is
      const out = new Uint8Array(length)
      const real = Math.max(0, Math.min(length, n - offset))
      if (real > 0) out.set(bytes.subarray(offset, offset + real))
      if (real < length && filler !== 'zeros') {
        if (filler === 'ones' || period === 0) out.fill(0xff, real)
        else {
          // Copy whole runs of the repeated part (a byte at a time is what costs here).
          for (let i = real; i < length;) {
            const k = from + (offset + i - n) % period
            const run = Math.min(n - k, length - i)
            out.set(bytes.subarray(k, k + run), i)
            i += run
          }
        }
      }
      return out
    }
  }
  return source
}

// Runs `fn` as call `name` of the source: checks its budget, and that it resolves or
// rejects with unsupported_media. Resolves with { value } or { error }.
async function call (source, name, fn) {
  source.call = { name, read: 0, budget: BUDGET[name] }
  let result
  try {
    result = { value: await fn() }
  } catch (err) {
    if (err instanceof FuzzFailure) throw err
    // A read that failed our checks, whose error container.js turned into another one.
    if (source.violation) throw new FuzzFailure(`${source.violation} (seen by the caller as: ${err?.message})`)
    check(err?.name === 'WasmTorrentError' && err.code === 'unsupported_media',
      `${name} threw ${err?.name ?? typeof err} (code ${err?.code}) instead of unsupported_media: ${err?.stack ?? err}`)
    check(Number.isFinite(err.position), `${name}: error without a numeric position: ${err.message}`)
    result = { error: err }
  }
  if (source.violation) throw new FuzzFailure(`${source.violation} (and container.js swallowed the error)`)
  source.call = null
  return result
}

function checkMedia (media, length, head) {
  check(media && typeof media === 'object', 'openMedia resolved without an object')
  check(media.container === 'webm' || media.container === 'mp4', `container ${media.container}`)
  check(sniff(head) === media.container, `container ${media.container} but the file sniffs as ${sniff(head)}`)
  check(Array.isArray(media.codecs) && media.codecs.length > 0 && media.codecs.every(c => typeof c === 'string' && /^[\x21-\x7e]+$/.test(c) && !/[",]/.test(c)),
    `codecs ${JSON.stringify(media.codecs)}`)
  check(media.mime === `${media.mime.startsWith('audio/') ? 'audio' : 'video'}/${media.container}; codecs="${media.codecs.join(',')}"`, `mime ${media.mime}`)
  check(media.init instanceof Uint8Array && media.init.length > 0 && media.init.length <= 3 * MAX_INIT_PART + 64 * KiB, `init of ${media.init?.length} bytes`)
  check(Number.isSafeInteger(media.mediaStart) && Number.isSafeInteger(media.mediaEnd) &&
    media.mediaStart > 0 && media.mediaStart < media.mediaEnd && media.mediaEnd <= length,
  `media range [${media.mediaStart}, ${media.mediaEnd}) in a file of ${length} bytes`)
  check(typeof media.duration === 'number' && (Number.isNaN(media.duration) || (media.duration > 0 && Number.isFinite(media.duration))),
    `duration ${media.duration} (NaN or a positive finite number of seconds)`)
}

function checkSync (s, lo, hi, what) {
  check(s && Number.isSafeInteger(s.offset) && s.offset >= lo && s.offset < hi, `${what}: offset ${s?.offset} outside [${lo}, ${hi})`)
  check(Number.isFinite(s.time) && s.time >= 0, `${what}: time ${s.time}`)
}

function checkIndex (index, media) {
  if (index === null) return
  check(Array.isArray(index) && index.length > 0, `index ${JSON.stringify(index)?.slice(0, 80)}`)
  for (let i = 0; i < index.length; i++) {
    checkSync(index[i], media.mediaStart, media.mediaEnd, `index entry ${i}`)
    if (i) check(index[i].time >= index[i - 1].time && index[i].offset > index[i - 1].offset, `index entry ${i} goes backwards`)
  }
  for (const t of [-1, 0, index[0].time, index.at(-1).time + 1]) {
    const e = entryAt(index, t)
    check(e === null ? t < index[0].time : index.includes(e) && e.time <= t, `entryAt(index, ${t})`)
  }
}

// The helpers that take bytes directly: they answer (a string or null), never throw.
function checkHelpers (bytes) {
  check([null, 'webm', 'mp4'].includes(sniff(bytes.subarray(0, 8))), 'sniff')
  const at = bytes.length > 16 ? (bytes[bytes.length - 1] * 251 + bytes[bytes.length - 2]) % (bytes.length - 16) : 0
  const piece = bytes.subarray(at, at + 64)
  for (const [name, fn] of [['avcCodec', c => avcCodec('avc1', c)], ['hevcCodec', c => hevcCodec('hvc1', c)], ['av1Codec', av1Codec], ['esdsCodec', esdsCodec]]) {
    for (const c of [piece, bytes.subarray(0, 64)]) {
      let out
      try { out = fn(c) } catch (err) { throw new FuzzFailure(`${name} threw: ${err?.stack ?? err}`) }
      check(out === null || (typeof out === 'string' && out.length < 128), `${name} gave ${out}`)
    }
  }
  for (const p of [0, at]) {
    try {
      const h = ebmlHeader(bytes, p)
      check(h === null || (h.dataStart > p && h.dataStart <= p + 12 && (h.size === null || Number.isSafeInteger(h.size))), `ebmlHeader at ${p}: ${JSON.stringify(h)}`)
    } catch (err) {
      if (err instanceof FuzzFailure) throw err
      check(err?.code === 'unsupported_media', `ebmlHeader threw ${err?.stack ?? err}`)
    }
  }
}

// One input under one source variant.
async function runSource (bytes, variant) {
  const source = makeSource(bytes, variant)
  const length = variant.claimed
  const opened = await call(source, 'open', () => openMedia(source))
  if (opened.error) return
  const media = opened.value
  checkMedia(media, length, bytes.subarray(0, 8))

  const indexed = await call(source, 'loadIndex', () => media.loadIndex(source))
  if (indexed.value !== undefined) checkIndex(indexed.value, media)

  // syncPoints over the input: a pure scan, which must not throw at all.
  try {
    for (const s of media.syncPoints(bytes, 0)) checkSync(s, 0, bytes.length, 'syncPoints')
  } catch (err) {
    if (err instanceof FuzzFailure) throw err
    throw new FuzzFailure(`syncPoints threw ${err?.stack ?? err}`)
  }

  // Seeks as the player makes them: with the file's duration or an estimate of it.
  const span = media.mediaEnd - media.mediaStart
  const durations = [media.duration, 60, NaN]
  const targets = variant.filler === 'none' ? [0.5, 7, 31, 1e6] : [7]
  for (const [k, target] of targets.entries()) {
    const duration = durations[k % durations.length]
    const found = await call(source, 'searchSyncPoint', () => searchSyncPoint(media, source, target, duration))
    if (found.error) continue
    checkSync(found.value, media.mediaStart, media.mediaEnd, `searchSyncPoint(${target})`)
    check(found.value.time <= target || found.value.offset === media.mediaStart, `searchSyncPoint(${target}) went past the target: ${JSON.stringify(found.value)}`)
  }
  const from = media.mediaStart + Math.floor(span / 3)
  const after = await call(source, 'syncPointAfter', () => syncPointAfter(media, source, from, media.mediaEnd))
  if (after.value) checkSync(after.value, from, media.mediaEnd, 'syncPointAfter')
  const last = await call(source, 'lastSyncPoint', () => lastSyncPoint(media, source))
  if (last.value) checkSync(last.value, media.mediaStart, media.mediaEnd, 'lastSyncPoint')
}

// Runs one input; throws a FuzzFailure (with the source variant in its message) on a
// violated property.
export async function runInput (bytes, all = false) {
  checkHelpers(bytes)
  for (const variant of sourcesFor(bytes, all)) {
    try {
      await runSource(bytes, variant)
    } catch (err) {
      const where = variant.filler === 'none' ? 'exact source' : `source claiming ${variant.claimed} bytes, filler ${variant.filler}`
      if (err instanceof FuzzFailure) err.message = `${where}: ${err.message}`
      throw err
    }
  }
}

// --- as a worker: run inputs, report failures and coverage ------------------------------

// V8 block coverage of container.js as features: each block that ran, with its hit count
// in a power-of-two bucket (as libFuzzer's counters), so a loop running more often counts.
function coverage () {
  const session = new Session()
  session.connect()
  const post = (method, params) => {
    let out
    session.post(method, params, (err, res) => { if (err) throw err; out = res })
    return out // the callback runs synchronously for a session on the same thread
  }
  post('Profiler.enable')
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  return () => {
    const features = []
    for (const script of post('Profiler.takePreciseCoverage').result) {
      if (!script.url.endsWith('/web/stream/container.js')) continue
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          if (r.count > 0) features.push(r.startOffset * 16 + Math.min(15, 31 - Math.clz32(r.count)))
        }
      }
    }
    return features
  }
}

if (!isMainThread && parentPort) {
  const take = coverage()
  parentPort.on('message', async ({ id, bytes, all }) => {
    take() // drop what ran between inputs
    let failure = null
    try {
      await runInput(bytes, all)
    } catch (err) {
      failure = err instanceof FuzzFailure ? err.message : `harness error: ${err?.stack ?? err}`
    }
    parentPort.postMessage(failure ? { id, failure } : { id, features: take() })
  })
}
