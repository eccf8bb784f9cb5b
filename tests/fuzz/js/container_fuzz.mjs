// A coverage-guided mutation fuzzer for web/stream/container.js (the WebM/MP4 reader behind
// MediaSource playback), the JS sibling of the libFuzzer targets in tests/fuzz/.
//
//   node tests/fuzz/js/container_fuzz.mjs [options] [DIR ...]    fuzz
//   node tests/fuzz/js/container_fuzz.mjs FILE ...               replay inputs (e.g. an artifact)
//
//   --seconds N    how long to fuzz (default 5; env WT_FUZZ_SECONDS)
//   --seed N       the mutation seed (default 1; env WT_FUZZ_SEED; 'random' picks one); the
//                  run prints it, and the same seed with the same corpus replays the run
//   --runs N       stop after N inputs as well
//   --timeout MS   CPU time per input (default 2000): an input that takes longer is a hang
//   --max-len N    largest input in bytes (default 4 MiB: the test media of scripts/media.mjs
//                  are up to 2.1 MB, and their Cues and mfra sit at the end)
//   --artifacts D  where a failing input goes (default build/fuzz/artifacts)
//   DIR ...        corpus folders: every file in them is a seed (with the built-in seeds of
//                  container_seeds.mjs); inputs that reach new coverage go to the first one
//
// Replayed files and the hostile seeds run under three source variants of
// container_target.mjs (see sourcesFor) with twice the timeout; other inputs under one or two.
//
// Each input runs in a worker (container_target.mjs) that checks its properties and returns
// the V8 block coverage of container.js; the worker is killed when an input takes more CPU
// time than the timeout, and the input run again in a fresh one to confirm. Mutations are byte-level (flips, interesting integers, insertions,
// erasures, repeated chunks, crossover) and structural: EBML elements and ISO BMFF boxes are
// found in the input, and their sizes corrupted (EBML unknown or overlong sizes, box sizes
// 0, 1 with a 64-bit size, huge), or the elements duplicated, repeated, dropped, swapped,
// grown or retyped. The first failure stops the run with exit status 1 and its input saved
// as <artifacts>/container-<sha1> with a .txt beside it (what failed, the seed).
import { Worker } from 'node:worker_threads'
import { createHash, randomInt } from 'node:crypto'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { builtinSeeds, hostileSeeds, prng, concat, ID } from './container_seeds.mjs'

const { values: opts, positionals: paths } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: process.env.WT_FUZZ_SECONDS ?? '5' },
    seed: { type: 'string', default: process.env.WT_FUZZ_SEED ?? '1' },
    runs: { type: 'string', default: 'Infinity' },
    timeout: { type: 'string', default: '2000' },
    'max-len': { type: 'string', default: String(4 * 1024 * 1024) },
    artifacts: { type: 'string', default: 'build/fuzz/artifacts' }
  }
})
const seconds = Number(opts.seconds)
const seed = opts.seed === 'random' ? randomInt(2 ** 31) : Number(opts.seed) >>> 0
const maxRuns = Number(opts.runs)
const timeout = Number(opts.timeout)
const maxLen = Number(opts['max-len'])
const log = message => console.log(`[container] ${message}`)

// --- the worker ------------------------------------------------------------------------

let worker = null
let nextId = 0
function startWorker () {
  // A memory cap, so that an input that makes the reader allocate without bound fails
  // here rather than taking the machine down.
  worker = new Worker(new URL('./container_target.mjs', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 1024 } })
  worker.unref()
}

// { features } or { failure } for one input (under every source variant when `all`).
// The time limit is CPU time (the process's: the main thread idles meanwhile), so that a
// machine busy with other work does not turn a slow input into a hang; wall time is capped
// at five times as much in case the worker is starved altogether.
function runOnce (bytes, all) {
  if (!worker) startWorker()
  const w = worker
  const id = nextId++
  const limit = all ? 2 * timeout : timeout // `all` runs three source variants
  return new Promise(resolve => {
    const cpu = process.cpuUsage()
    const wall = Date.now()
    const done = result => {
      clearInterval(timer)
      w.off('message', onMessage)
      w.off('error', onError)
      w.off('exit', onExit)
      resolve(result)
    }
    const kill = (failure, hang = false) => { worker = null; w.terminate(); done({ failure, hang }) }
    const onMessage = m => { if (m.id === id) done(m) }
    const onError = err => kill(`the worker died: ${err?.stack ?? err}`)
    const onExit = code => kill(`the worker exited (${code})`)
    const timer = setInterval(() => {
      const used = process.cpuUsage(cpu)
      const ms = (used.user + used.system) / 1000
      if (ms > limit || Date.now() - wall > 5 * limit) {
        kill(`timeout: no answer after ${Math.round(ms)} ms of CPU time, ${Date.now() - wall} ms in all (limit ${limit} ms): a hang, or work that grows faster than the input`, true)
      }
    }, 20)
    w.on('message', onMessage)
    w.on('error', onError)
    w.on('exit', onExit)
    w.postMessage({ id, bytes, all })
  })
}

// A hang is confirmed by a second run in a fresh worker (a garbage collection of the old
// worker's heap, or a machine starved for CPU, can stall one run).
async function runInWorker (bytes, all = false) {
  const result = await runOnce(bytes, all)
  if (!result.hang) return result
  log('an input ran out of time: running it again in a fresh worker')
  return runOnce(bytes, all)
}

const sha1 = bytes => createHash('sha1').update(bytes).digest('hex')

async function saveArtifact (bytes, failure, context) {
  await mkdir(opts.artifacts, { recursive: true })
  const path = join(opts.artifacts, `container-${sha1(bytes)}`)
  await writeFile(path, bytes)
  await writeFile(`${path}.txt`, `${failure}\n\n${context}\nreplay: node tests/fuzz/js/container_fuzz.mjs ${path}\n`)
  return path
}

// --- replaying files ---------------------------------------------------------------------

async function replay (files) {
  let failed = 0
  for (const file of files) {
    const bytes = new Uint8Array(await readFile(file))
    const result = await runInWorker(bytes, true)
    if (result.failure) { failed++; log(`${file}: FAILED: ${result.failure}`) } else log(`${file}: ok`)
  }
  await worker?.terminate()
  process.exit(failed ? 1 : 0)
}

// --- mutations ---------------------------------------------------------------------------

const rand = prng(seed)
const below = n => Math.floor(rand() * n) // 0 <= x < n
const pick = list => list[below(list.length)]
const chance = p => rand() < p

const splice = (bytes, at, remove, insert = new Uint8Array(0)) =>
  concat(bytes.subarray(0, at), insert, bytes.subarray(at + remove))
const be = (v, n) => { const out = new Uint8Array(n); for (let i = n - 1; i >= 0; i--) { out[i] = v % 256; v = Math.floor(v / 256) } return out }
const u32 = (b, p) => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0
const ascii = s => new TextEncoder().encode(s)

const INTERESTING = [0, 1, 2, 7, 8, 9, 15, 16, 24, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 56 - 2]
const BOX_TYPES = ['ftyp', 'moov', 'mvhd', 'mvex', 'mehd', 'trex', 'trak', 'tkhd', 'mdia', 'mdhd', 'hdlr', 'minf',
  'stbl', 'stsd', 'avc1', 'avcC', 'hvc1', 'hvcC', 'vp09', 'vpcC', 'av01', 'av1C', 'mp4a', 'esds', 'Opus', 'encv',
  'sidx', 'moof', 'mfhd', 'traf', 'tfhd', 'tfdt', 'trun', 'mdat', 'mfra', 'tfra', 'mfro', 'free', 'skip', 'uuid']
const CONTAINER_BOXES = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'mvex', 'moof', 'traf', 'mfra', 'edts', 'dinf', 'udta'])
const EBML_IDS = Object.values(ID)
const MASTER_IDS = new Set([ID.EBML, ID.Segment, ID.SeekHead, ID.Seek, ID.Info, ID.Tracks, ID.TrackEntry,
  ID.ContentEncodings, ID.Cluster, ID.Cues, ID.CuePoint, ID.CueTrackPositions, ID.Tags])
const idBytes = id => be(id, id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1)
const TOKENS = [...BOX_TYPES.map(ascii), ...EBML_IDS.map(idBytes), Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0xff), Uint8Array.of(0x80), concat(be(24, 4), ascii('moof'), be(16, 4), ascii('mfhd'))]

const isEbml = b => b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3

// EBML element or ISO BMFF box headers found in `bytes` by walking it as the format nests:
// { start, sizeAt, sizeLength, dataStart, end } (end may pass the input's end). At most 4096.
function structure (bytes) {
  const found = []
  const ebml = isEbml(bytes)
  const walk = (start, end, depth) => {
    let p = start
    while (p < end && found.length < 4096 && depth < 8) {
      const h = ebml ? ebmlAt(bytes, p) : boxAt(bytes, p)
      if (!h) return
      found.push(h)
      const open = ebml ? MASTER_IDS.has(h.id) : CONTAINER_BOXES.has(h.type)
      if (open) walk(h.dataStart, Math.min(h.end, end), depth + 1)
      else if (!ebml && h.type === 'stsd') walk(h.dataStart + 8, Math.min(h.end, end), depth + 1)
      else if (!ebml && ['avc1', 'hvc1', 'hev1', 'vp09', 'av01', 'encv'].includes(h.type)) walk(h.dataStart + 78, Math.min(h.end, end), depth + 1)
      else if (!ebml && ['mp4a', 'Opus', 'enca'].includes(h.type)) walk(h.dataStart + 28, Math.min(h.end, end), depth + 1)
      if (h.end <= p) return
      p = h.end
    }
  }
  walk(0, bytes.length, 0)
  return found
}
function ebmlAt (b, p) {
  if (p + 2 > b.length || b[p] === 0) return null
  const idLength = Math.clz32(b[p]) - 23
  if (idLength > 4 || p + idLength >= b.length || b[p + idLength] === 0) return null
  const sizeAt = p + idLength
  const sizeLength = Math.clz32(b[sizeAt]) - 23
  if (sizeAt + sizeLength > b.length) return null
  let id = 0
  for (let i = 0; i < idLength; i++) id = id * 256 + b[p + i]
  let size = b[sizeAt] & (0xff >> sizeLength)
  let unknown = size === 0xff >> sizeLength
  for (let i = 1; i < sizeLength; i++) { size = size * 256 + b[sizeAt + i]; unknown &&= b[sizeAt + i] === 0xff }
  const dataStart = sizeAt + sizeLength
  return { start: p, id, sizeAt, sizeLength, dataStart, end: unknown ? b.length : dataStart + size, unknown }
}
function boxAt (b, p) {
  if (p + 8 > b.length) return null
  let size = u32(b, p)
  let dataStart = p + 8
  if (size === 1) {
    if (p + 16 > b.length) return null
    size = u32(b, p + 8) * 2 ** 32 + u32(b, p + 12)
    dataStart = p + 16
  } else if (size === 0) size = b.length - p
  if (size < dataStart - p) return null
  return { start: p, type: String.fromCharCode(...b.subarray(p + 4, p + 8)), sizeAt: p, sizeLength: dataStart - p, dataStart, end: p + size }
}

// A new size field for element/box h.
function corruptSize (bytes, h, ebml) {
  const actual = h.end - h.dataStart
  const near = pick([0, 1, actual - 1, actual + 1, actual * 2, bytes.length - h.dataStart, bytes.length, below(2 ** 32)])
  if (ebml) {
    const length = 1 + below(8)
    const field = pick([
      () => { const f = new Uint8Array(length).fill(0xff); f[0] = 0xff >> (length - 1); return f }, // unknown size
      () => { const f = be(actual, 8); f[0] = 0x01; return f }, // the same size, written long
      () => { const f = be(Math.max(0, near) % 2 ** 53, 8); f[0] = 0x01; return f },
      () => { const f = be(pick(INTERESTING) % 2 ** 56, 8); f[0] |= 0x01; return f },
      () => Uint8Array.of(0x00), // not a valid size
      () => Uint8Array.of(0x80 | Math.min(0x7f, Math.max(0, near)))
    ])()
    return splice(bytes, h.sizeAt, h.sizeLength, field)
  }
  const field = pick([
    () => be(0, 4), // to the end of the parent
    () => concat(be(1, 4), bytes.subarray(h.start + 4, h.start + 8), be(pick([actual + 16, 2 ** 40, 2 ** 53 - 1, 2 ** 32 + 8, 0, 8, 15]), 8)), // 64-bit size
    () => be(pick([7, 8, 9, 0xffffffff, 0x7fffffff]), 4),
    () => be(Math.max(0, near) % 2 ** 32, 4)
  ])()
  // A 64-bit size replaces the whole 8-byte header (its type included); a 4-byte one only the size.
  return field.length > 4 ? splice(bytes, h.start, h.dataStart - h.start, field) : splice(bytes, h.sizeAt, 4, field)
}

// A region of `bytes` that is one element/box (when one is found), else a random chunk.
function region (bytes, parts) {
  if (parts.length && chance(0.8)) {
    const h = pick(parts)
    return [h.start, Math.min(h.end, bytes.length)]
  }
  const start = below(bytes.length)
  return [start, Math.min(bytes.length, start + 1 + below(Math.min(4096, bytes.length - start)))]
}

function mutate (input, corpus) {
  let bytes = input
  const rounds = 1 + below(4)
  for (let r = 0; r < rounds; r++) {
    const n = bytes.length
    const ebml = isEbml(bytes)
    const parts = chance(0.5) && n ? structure(bytes) : []
    const room = maxLen - n
    switch (below(14)) {
      case 0: { // flip bits
        if (!n) break
        bytes = bytes.slice()
        for (let k = 1 + below(4); k > 0; k--) bytes[below(n)] ^= 1 << below(8)
        break
      }
      case 1: { // interesting bytes, in the headers more often than in the media data
        if (!n) break
        bytes = bytes.slice()
        const at = chance(0.7) ? below(Math.min(n, 4096)) : below(n)
        bytes[at] = pick([0, 1, 0x7f, 0x80, 0xff, 0x1f, 0x01, below(256)])
        break
      }
      case 2: { // an interesting integer, big-endian, over a size field or anywhere
        if (n < 8) break
        const width = pick([1, 2, 4, 8])
        const at = parts.length && chance(0.6) ? pick(parts).sizeAt : below(n - width)
        const v = pick([...INTERESTING, n, n - at, below(2 ** 32)])
        bytes = bytes.slice()
        bytes.set(be(v % 2 ** (8 * width), width).subarray(0, n - at), at)
        break
      }
      case 3: // truncate
        bytes = bytes.subarray(0, chance(0.5) ? below(Math.min(n, 8192) + 1) : below(n + 1))
        break
      case 4: { // insert random bytes or a token
        const insert = chance(0.5) ? pick(TOKENS) : new Uint8Array(1 + below(64)).map(() => below(256))
        if (insert.length <= room) bytes = splice(bytes, below(n + 1), 0, insert)
        break
      }
      case 5: { // erase a region
        if (!n) break
        const [a, b] = region(bytes, parts)
        bytes = splice(bytes, a, b - a)
        break
      }
      case 6: case 7: { // repeat a region (an element, a box) after itself, up to hundreds of times
        if (!n) break
        const [a, b] = region(bytes, parts)
        const times = Math.min(pick([1, 2, 3, 16, 255, 1000]), Math.floor(room / Math.max(1, b - a)))
        if (times > 0) bytes = splice(bytes, b, 0, concat(Array(times).fill(bytes.subarray(a, b))))
        break
      }
      case 8: { // crossover: this input's start with another's end, or a piece of another inserted
        const other = pick(corpus).bytes
        if (chance(0.5)) bytes = concat(bytes.subarray(0, below(n + 1)), other.subarray(below(other.length + 1))).subarray(0, maxLen)
        else {
          const a = below(other.length)
          const piece = other.subarray(a, a + 1 + below(4096))
          if (piece.length <= room) bytes = splice(bytes, below(n + 1), 0, piece)
        }
        break
      }
      case 9: case 10: { // corrupt the size of an element/box
        if (!parts.length) break
        bytes = corruptSize(bytes, pick(parts), ebml)
        break
      }
      case 11: { // swap an element/box with the next one, or move it to the end of the file
        if (parts.length < 2) break
        const i = below(parts.length - 1)
        const [h, g] = [parts[i], parts[i + 1]]
        if (h.end > n || g.end > n) break
        if (g.start === h.end && chance(0.5)) bytes = concat(bytes.subarray(0, h.start), bytes.subarray(g.start, g.end), bytes.subarray(h.start, h.end), bytes.subarray(g.end))
        else bytes = concat(bytes.subarray(0, h.start), bytes.subarray(h.end), bytes.subarray(h.start, h.end))
        break
      }
      case 12: { // retype an element/box
        if (!parts.length) break
        const h = pick(parts)
        if (ebml) bytes = splice(bytes, h.start, h.sizeAt - h.start, idBytes(pick(EBML_IDS)))
        else { bytes = bytes.slice(); bytes.set(ascii(pick(BOX_TYPES)), h.start + 4) }
        break
      }
      case 13: { // grow an element/box: a bigger size, and that many bytes (zeros) at its end
        if (!parts.length) break
        const h = pick(parts)
        const extra = Math.min(room, pick([1, 8, 100, 4096, 70000]))
        if (h.end > n || extra <= 0 || h.unknown) break
        const size = h.end - h.dataStart + extra
        const field = ebml ? (s => { s[0] |= 0x01; return s })(be(size, 8)) : h.sizeLength === 16 ? null : be(size + 8, 4)
        if (!field) break
        bytes = concat(bytes.subarray(0, h.sizeAt), field, bytes.subarray(h.sizeAt + (ebml ? h.sizeLength : 4), h.end), new Uint8Array(extra), bytes.subarray(h.end))
        break
      }
    }
  }
  return bytes.length > maxLen ? bytes.subarray(0, maxLen) : bytes
}

// --- the fuzz loop -----------------------------------------------------------------------

async function loadCorpus (dirs) {
  const out = []
  let skipped = 0
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [])
    for (const name of names.sort()) {
      const path = join(dir, name)
      const s = await stat(path).catch(() => null)
      if (!s?.isFile() || name.endsWith('.part')) continue // .part: media being made (scripts/media.mjs)
      if (s.size > maxLen) { skipped++; continue }
      out.push({ name: path, bytes: new Uint8Array(await readFile(path)) })
    }
  }
  return { files: out, skipped }
}

async function fuzz (dirs) {
  const started = Date.now()
  const deadline = started + seconds * 1000
  const { files, skipped } = await loadCorpus(dirs)
  const corpus = [...builtinSeeds(), ...hostileSeeds(), ...files]
  log(`seed ${seed} (replay the run with --seed ${seed}), ${seconds} s, timeout ${timeout} ms per input, inputs up to ${maxLen} bytes`)
  log(`${corpus.length} seeds: ${corpus.length - files.length} built in, ${files.length} from ${dirs.join(' ') || '(no folder)'}${skipped ? `, ${skipped} larger than --max-len skipped` : ''}`)
  const saveDir = dirs[0]
  if (saveDir) await mkdir(saveDir, { recursive: true })
  const seen = new Set()
  let runs = 0
  let added = 0
  const fail = async (bytes, failure, what) => {
    const path = await saveArtifact(bytes, failure, `${what}\nseed ${seed}, input ${runs} of the run`)
    log(`FAILED on ${what}: ${failure}`)
    log(`input saved to ${path} (and ${path}.txt)`)
    log(`stat::number_of_executed_units: ${runs}`)
    await worker?.terminate()
    process.exit(1)
  }
  const novel = features => {
    let n = 0
    for (const f of features) if (!seen.has(f)) { seen.add(f); n++ }
    return n
  }

  // The seeds as any input runs (the hostile ones under every source variant), the corpus
  // files only while time is left (a corpus grown by long runs can take a while).
  const builtin = corpus.length - files.length
  for (const [i, s] of corpus.entries()) {
    if (i >= builtin && Date.now() >= deadline) { log(`out of time after ${i - builtin} of ${files.length} corpus files`); break }
    const result = await runInWorker(s.bytes, s.all)
    runs++
    if (result.failure) await fail(s.bytes, result.failure, `seed ${s.name}`)
    novel(result.features)
  }
  log(`#${runs} INITED cov: ${seen.size} corp: ${corpus.length} in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  let report = 1024
  while (Date.now() < deadline && runs < maxRuns) {
    const parent = pick(corpus)
    const bytes = mutate(parent.bytes, corpus)
    const result = await runInWorker(bytes)
    runs++
    if (result.failure) await fail(bytes, result.failure, `a mutation of ${parent.name}`)
    const gained = novel(result.features)
    if (gained) {
      const name = sha1(bytes)
      corpus.push({ name: saveDir ? join(saveDir, name) : name, bytes })
      added++
      if (saveDir) await writeFile(join(saveDir, name), bytes)
      if (added <= 20 || added % 50 === 0) log(`#${runs} NEW cov: ${seen.size} corp: ${corpus.length} len: ${bytes.length}`)
    }
    if (runs >= report) { log(`#${runs} pulse cov: ${seen.size} corp: ${corpus.length} exec/s: ${Math.round(runs / ((Date.now() - started) / 1000))}`); report *= 2 }
  }
  const elapsed = (Date.now() - started) / 1000
  await worker?.terminate()
  log(`done: ${runs} inputs in ${elapsed.toFixed(1)} s, no failure`)
  log(`stat::number_of_executed_units: ${runs}`)
  log(`stat::average_exec_per_sec: ${Math.round(runs / elapsed)}`)
  log(`stat::new_units_added: ${added}`)
  log(`stat::coverage_features: ${seen.size}`)
}

const files = []
const dirs = []
for (const p of paths) ((await stat(p).catch(() => null))?.isFile() ? files : dirs).push(p)
if (files.length) await replay(files)
else await fuzz(dirs)
