// web/stream/container.js, the WebM/MP4 reader behind MediaSource playback, on ffmpeg-generated
// media (tests/browser/media.mjs, cached in build/test-media) and on truncated, mutated and
// crafted inputs: it must answer or throw a WasmTorrentError 'unsupported_media', read only
// inside the file, and read a bounded amount.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { testMedia } from '../../scripts/media.mjs'
import {
  openMedia, sniff, entryAt, searchSyncPoint, lastSyncPoint, syncPointAfter,
  avcCodec, hevcCodec, av1Codec, esdsCodec
} from '../../web/stream/container.js'
import { prng } from './helpers.mjs'

const load = async format => new Uint8Array(await readFile(await testMedia(format)))

// A byte source over `bytes` that checks every read and counts what is read.
function sourceOf (bytes) {
  const source = {
    length: bytes.length,
    bytesRead: 0,
    async read (offset, length) {
      assert.ok(Number.isInteger(offset) && Number.isInteger(length), `integer read ${offset}+${length}`)
      assert.ok(offset >= 0 && length >= 0 && offset + length <= bytes.length, `read ${offset}+${length} inside ${bytes.length} bytes`)
      source.bytesRead += length
      return bytes.slice(offset, offset + length)
    }
  }
  return source
}

const fourcc = (b, p) => String.fromCharCode(...b.subarray(p, p + 4))
const isCluster = (b, p) => b[p] === 0x1f && b[p + 1] === 0x43 && b[p + 2] === 0xb6 && b[p + 3] === 0x75
const isMoof = (b, p) => fourcc(b, p + 4) === 'moof'

// Opens, loads the index, searches a few times: the whole reading path of a player.
async function exercise (bytes) {
  const source = sourceOf(bytes)
  const media = await openMedia(source)
  await media.loadIndex(source)
  for (const t of [0.5, 7, 31]) await searchSyncPoint(media, source, t)
  await lastSyncPoint(media, source)
  return media
}

// Resolves, or rejects with unsupported_media; anything else fails the test.
async function mustNotCrash (bytes, what) {
  try {
    return await exercise(bytes)
  } catch (err) {
    assert.equal(err?.name, 'WasmTorrentError', `${what}: ${err?.stack ?? err}`)
    assert.equal(err.code, 'unsupported_media', `${what}: ${err.message}`)
    return null
  }
}

test('sniff: EBML header, ftyp box, or neither', () => {
  assert.equal(sniff(Uint8Array.of(0x1a, 0x45, 0xdf, 0xa3, 0x9f)), 'webm')
  assert.equal(sniff(new TextEncoder().encode('\0\0\0\x18ftypisom')), 'mp4')
  assert.equal(sniff(new TextEncoder().encode('\0\0\0\x18moov')), null)
  assert.equal(sniff(new Uint8Array(3)), null)
})

test('WebM (VP9 + Opus, Cues at the end): MIME type, init segment, media range, duration, Cues index', async () => {
  const bytes = await load('webm')
  const source = sourceOf(bytes)
  const media = await openMedia(source)
  assert.equal(media.container, 'webm')
  assert.equal(media.mime, 'video/webm; codecs="vp9,opus"')
  assert.ok(Math.abs(media.duration - 60) < 0.1, `duration ${media.duration}`)
  assert.deepEqual([...media.init.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3])
  assert.ok(media.init.length < 1024, 'the init segment is the EBML header, Segment header, Info and Tracks')
  assert.ok(isCluster(bytes, media.mediaStart), 'media starts at the first Cluster')
  assert.deepEqual([...bytes.subarray(media.mediaEnd, media.mediaEnd + 4)], [0x1c, 0x53, 0xbb, 0x6b], 'media ends where the Cues begin')
  assert.ok(source.bytesRead <= 64 * 1024, `headers read with one window: ${source.bytesRead}`)

  const index = await media.loadIndex(source)
  assert.ok(index.length >= 25, `${index.length} cue points`)
  for (let i = 0; i < index.length; i++) {
    assert.ok(isCluster(bytes, index[i].offset), `cue ${i} points at a Cluster`)
    if (i) assert.ok(index[i].time > index[i - 1].time && index[i].offset > index[i - 1].offset)
  }
  // The clusters found by scanning are the ones the Cues name.
  const scanned = [...media.syncPoints(bytes.subarray(media.mediaStart, media.mediaEnd), media.mediaStart)]
  assert.deepEqual(scanned.map(s => s.offset), index.map(e => e.offset))
  assert.equal(entryAt(index, 45).offset, index.findLast(e => e.time <= 45).offset)
  assert.equal(entryAt(index, -1), null)
})

test('WebM as a live stream writes it (no Cues, no duration, Segment of unknown size): probing finds clusters', async () => {
  const bytes = await load('webm-live')
  const source = sourceOf(bytes)
  const media = await openMedia(source)
  assert.equal(media.mime, 'video/webm; codecs="vp9,opus"')
  assert.ok(Number.isNaN(media.duration))
  assert.equal(media.mediaEnd, bytes.length)
  assert.equal(await media.loadIndex(source), null)
  const last = await lastSyncPoint(media, source)
  assert.ok(last.time > 55 && last.time <= 60 && isCluster(bytes, last.offset), `last cluster at ${last.time}`)
  for (const target of [0.2, 10, 30, 45, 59]) {
    const s = await searchSyncPoint(media, source, target)
    assert.ok(s.time <= target && target - s.time < 4, `target ${target}: cluster at ${s.time}`)
    assert.ok(s.offset === media.mediaStart || isCluster(bytes, s.offset))
  }
})

test('fragmented MP4 (H.264 + AAC): codecs from avcC and esds, sidx index, or mfra, or probing', async () => {
  for (const format of ['fmp4', 'fmp4-mfra', 'fmp4-bare']) {
    const bytes = await load(format)
    const source = sourceOf(bytes)
    const media = await openMedia(source)
    assert.equal(media.container, 'mp4')
    assert.match(media.mime, /^video\/mp4; codecs="avc1\.64[0-9a-f]{4},mp4a\.40\.2"$/, format)
    assert.ok(isMoof(bytes, media.mediaStart), `${format}: media starts at the first moof`)
    assert.equal(fourcc(media.init, 4), 'ftyp')
    const index = await media.loadIndex(source)
    if (format === 'fmp4-bare') {
      assert.equal(index, null)
    } else {
      assert.ok(index.length >= 25, `${format}: ${index.length} entries`)
      for (const e of index) assert.ok(isMoof(bytes, e.offset), `${format}: entry at ${e.time} points at a moof`)
      const scanned = [...media.syncPoints(bytes, 0)]
      assert.deepEqual(scanned.map(s => s.offset), index.map(e => e.offset), `${format}: the moofs are the indexed ones`)
    }
    if (format === 'fmp4') assert.ok(Math.abs(media.duration - 60) < 0.5, `duration from the sidx: ${media.duration}`)
    for (const target of [0.2, 10, 30, 45, 59]) {
      const s = await searchSyncPoint(media, source, target)
      assert.ok(s.time <= target && target - s.time < 4, `${format}, target ${target}: fragment at ${s.time}`)
      assert.ok(isMoof(bytes, s.offset))
    }
    const next = await syncPointAfter(media, source, media.mediaStart + 1, bytes.length)
    assert.ok(next.offset > media.mediaStart && isMoof(bytes, next.offset))
  }
})

test('a non-fragmented MP4 is refused with a pointer to the service worker and to remuxing', async () => {
  const bytes = await load('mp4')
  await assert.rejects(openMedia(sourceOf(bytes)), err => {
    assert.equal(err.name, 'WasmTorrentError')
    assert.equal(err.code, 'unsupported_media')
    assert.match(err.message, /not fragmented.*service worker.*frag_keyframe/)
    return true
  })
})

test('codec strings from real files: HEVC, AV1 (WebM and MP4), VP9 in MP4, VP8 + Vorbis, audio-only Opus', async () => {
  const expected = {
    'clip-hevc': /^video\/mp4; codecs="hev1\.1\.6\.L\d+\.90,mp4a\.40\.2"$/,
    'clip-av1': /^video\/webm; codecs="av01\.0\.\d\dM\.08,opus"$/,
    'clip-av1mp4': /^video\/mp4; codecs="av01\.0\.\d\dM\.08,opus"$/,
    'clip-vp9mp4': /^video\/mp4; codecs="vp09\.00\.\d\d\.08,opus"$/,
    'clip-vp8': /^video\/webm; codecs="vp8,vorbis"$/,
    'clip-opus': /^audio\/webm; codecs="opus"$/
  }
  for (const [format, mime] of Object.entries(expected)) {
    const media = await openMedia(sourceOf(await load(format)))
    assert.match(media.mime, mime, format)
  }
})

test('codec strings from configuration records', () => {
  assert.equal(avcCodec('avc1', Uint8Array.of(1, 0x64, 0x00, 0x1e, 0xff)), 'avc1.64001e')
  assert.equal(avcCodec('avc1', Uint8Array.of(0, 0x64, 0x00)), null)
  // Main profile, compatible with profiles 1 and 2, level 93 (3.1), constraint byte B0.
  assert.equal(hevcCodec('hev1', Uint8Array.of(1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93)), 'hev1.1.6.L93.B0')
  assert.equal(hevcCodec('hvc1', Uint8Array.of(1, 0x22, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 120)), 'hvc1.2.4.H120')
  assert.equal(av1Codec(Uint8Array.of(0x81, 0x08, 0x0c, 0)), 'av01.0.08M.08')
  assert.equal(av1Codec(Uint8Array.of(0x81, 0x4d, 0xc0, 0)), 'av01.2.13H.10')
  assert.equal(av1Codec(Uint8Array.of(0x81, 0x4d, 0xe0, 0)), 'av01.2.13H.12')
  assert.equal(av1Codec(Uint8Array.of(0x01, 0x08, 0x0c, 0)), null)
  // esds: full box header, ES_Descriptor { DecoderConfigDescriptor { DecoderSpecificInfo } }.
  const esds = (objectType, dsi) => Uint8Array.of(0, 0, 0, 0,
    0x03, 5 + 15 + dsi.length, 0, 1, 0,
    0x04, 13 + 2 + dsi.length, objectType, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x05, dsi.length, ...dsi)
  assert.equal(esdsCodec(esds(0x40, [0x12, 0x10])), 'mp4a.40.2') // AAC LC
  assert.equal(esdsCodec(esds(0x40, [0x2b, 0x92, 0x08, 0x00])), 'mp4a.40.5') // HE-AAC
  assert.equal(esdsCodec(esds(0x40, [0xf8, 0x1e])), 'mp4a.40.32') // escaped object type: 31 + 6 more bits
  assert.equal(esdsCodec(esds(0x6b, [])), 'mp4a.6B') // MP3
  assert.equal(esdsCodec(Uint8Array.of(0, 0, 0, 0, 0x03, 0x7f)), null) // a descriptor longer than the box
})

test('truncated files: an answer or unsupported_media, reads inside the file', async () => {
  for (const format of ['webm', 'webm-live', 'fmp4', 'fmp4-mfra', 'mp4']) {
    const bytes = await load(format)
    const media = format === 'mp4' ? null : await openMedia(sourceOf(bytes))
    const cuts = [0, 1, 3, 4, 7, 8, 12, 20, 40, 60, 100, 200, 300, 500, 1000, 1500, 2100]
    if (media) cuts.push(media.mediaStart - 1, media.mediaStart, media.mediaStart + 10, media.mediaEnd - 5, bytes.length - 1)
    for (const n of cuts) await mustNotCrash(bytes.subarray(0, n), `${format} cut at ${n}`)
  }
})

test('mutated headers and garbage: an answer or unsupported_media, bounded reading', async () => {
  const next = prng(20240611)
  for (const format of ['webm', 'webm-live', 'fmp4', 'fmp4-mfra']) {
    const original = await load(format)
    const { mediaStart } = await openMedia(sourceOf(original))
    for (let i = 0; i < 150; i++) {
      // Mutate a few bytes of the headers, or of the end (Cues, mfra), or both.
      const bytes = original.slice()
      const n = 1 + Math.floor(next() * 4)
      for (let k = 0; k < n; k++) {
        const at = next() < 0.7 ? Math.floor(next() * mediaStart) : bytes.length - 1 - Math.floor(next() * 4096)
        bytes[at] = next() < 0.5 ? Math.floor(next() * 256) : [0x00, 0xff, 0x01, 0x7f, 0x80][Math.floor(next() * 5)]
      }
      const source = sourceOf(bytes)
      try {
        const media = await openMedia(source)
        await media.loadIndex(source)
        await searchSyncPoint(media, source, 40)
      } catch (err) {
        assert.equal(err?.code, 'unsupported_media', `${format} mutation ${i}: ${err?.stack ?? err}`)
      }
      assert.ok(source.bytesRead < 48 * 1024 * 1024, `${format} mutation ${i}: read ${source.bytesRead} bytes`)
    }
  }
  for (let i = 0; i < 50; i++) {
    const length = Math.floor(next() * 200_000)
    const garbage = new Uint8Array(length).map(() => Math.floor(next() * 256))
    // Behind a valid signature, so that the parsers get past sniffing.
    if (i % 3 === 1 && length >= 4) garbage.set([0x1a, 0x45, 0xdf, 0xa3])
    if (i % 3 === 2 && length >= 8) garbage.set(new TextEncoder().encode('ftyp'), 4)
    await mustNotCrash(garbage, `garbage ${i}`)
  }
})

test('crafted lengths are checked against the file, not trusted', async () => {
  const webm = await load('webm')
  const ebmlHeader = webm.subarray(0, 36)
  const cat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) { out.set(p, at); at += p.length }
    return out
  }
  const segment = Uint8Array.of(0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
  // Tracks claiming 2^40 bytes, and 2^56 - 2 (the largest known size).
  for (const size of [[0x08, 0, 0, 0, 0x01, 0, 0, 0, 0], [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]]) {
    const file = cat(ebmlHeader, segment, Uint8Array.of(0x16, 0x54, 0xae, 0x6b, ...size), new Uint8Array(100))
    await assert.rejects(openMedia(sourceOf(file)), { code: 'unsupported_media' })
  }
  // An element ID longer than 4 bytes, and a size byte of zero.
  await assert.rejects(openMedia(sourceOf(cat(ebmlHeader, Uint8Array.of(0x08, 0x53, 0x80, 0x67, 0x80)))), { code: 'unsupported_media' })
  await assert.rejects(openMedia(sourceOf(cat(ebmlHeader, Uint8Array.of(0x18, 0x53, 0x80, 0x67, 0x00)))), { code: 'unsupported_media' })
  // No cluster at all, only Void elements: the walk is bounded.
  const voids = new Uint8Array(3 * 2000).map((_, i) => [0xec, 0x81, 0x00][i % 3])
  await assert.rejects(openMedia(sourceOf(cat(ebmlHeader, segment, voids))), { code: 'unsupported_media' })

  // MP4: a moov claiming more than the file, a 64-bit size past the end, a box of size 4.
  const box = (type, ...payload) => cat(Uint8Array.of(0, 0, 0, 0), new TextEncoder().encode(type), ...payload).map((b, i, a) => i < 4 ? (a.length >>> (24 - 8 * i)) & 0xff : b)
  const ftyp = box('ftyp', new TextEncoder().encode('isom\0\0\0\0'))
  await assert.rejects(openMedia(sourceOf(cat(ftyp, Uint8Array.of(0xff, 0xff, 0xff, 0xf0), new TextEncoder().encode('moov'), new Uint8Array(32)))), { code: 'unsupported_media' })
  await assert.rejects(openMedia(sourceOf(cat(ftyp, Uint8Array.of(0, 0, 0, 1), new TextEncoder().encode('moov'), Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 0), new Uint8Array(32)))), { code: 'unsupported_media' })
  await assert.rejects(openMedia(sourceOf(cat(ftyp, Uint8Array.of(0, 0, 0, 4), new TextEncoder().encode('moov')))), { code: 'unsupported_media' })
  // A fragmented moov (mvex) whose only track has no sample description.
  const trak = box('trak', box('mdia', box('hdlr', new Uint8Array(8), new TextEncoder().encode('vide'), new Uint8Array(12))))
  const moov = box('moov', trak, box('mvex', box('trex', new Uint8Array(24))))
  await assert.rejects(openMedia(sourceOf(cat(ftyp, moov, box('moof', box('mfhd', new Uint8Array(8)))))), /no sample description/)
  // Thousands of boxes before any moov: the walk is bounded.
  const frees = new Uint8Array(8 * 5000).map((_, i) => [0, 0, 0, 8, 0x66, 0x72, 0x65, 0x65][i % 8])
  await assert.rejects(openMedia(sourceOf(cat(ftyp, frees))), /no moov box in the first/)
})

// Found while fuzzing (tests/fuzz/js/container_fuzz.mjs): a file made of many copies of one
// large header element had each copy read, and 'moof' look-alikes made the fragment scan
// quadratic. A source whose bytes past `head` repeat `unit` up to `length` stands for the
// file: the bytes are a torrent's, so each one read is a byte downloaded.
function tiledSource (head, unit, length) {
  const source = {
    length,
    bytesRead: 0,
    async read (offset, n) {
      assert.ok(offset >= 0 && n >= 0 && offset + n <= length, `read ${offset}+${n} inside ${length} bytes`)
      source.bytesRead += n
      const out = new Uint8Array(n)
      for (let i = 0; i < n;) { // a run of the head or of one copy of the unit at a time
        const p = offset + i
        const [from, at] = p < head.length ? [head, p] : [unit, (p - head.length) % unit.length]
        const run = from.subarray(at, at + Math.min(n - i, from.length - at))
        out.set(run, i)
        i += run.length
      }
      return out
    }
  }
  return source
}

test('copies of a large header element are read once, not each', async () => {
  const MiB = 1024 * 1024
  const cat = (...parts) => Uint8Array.from(parts.flatMap(p => [...p]))
  const size8 = n => Uint8Array.of(0x01, 0, (n / 2 ** 40) & 0xff, (n / 2 ** 32) & 0xff, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
  // WebM: the init segment (EBML header, Segment of unknown size, Info, Tracks), then Info
  // elements of 1 MiB (a Void inside), again and again: there is no Cluster to find.
  const webm = await openMedia(sourceOf(await load('webm')))
  const info = cat([0x15, 0x49, 0xa9, 0x66], size8(MiB - 12), [0xec], size8(MiB - 21), new Uint8Array(MiB - 21))
  const source = tiledSource(webm.init, info, 2 ** 40)
  await assert.rejects(openMedia(source), { code: 'unsupported_media' })
  // The walk reads a window per element it skips; each copy read whole would be 256 MiB.
  assert.ok(source.bytesRead < 24 * MiB, `read ${source.bytesRead} bytes`)

  // MP4: ftyp and moov, then sidx boxes of 1 MiB (no moof): all of them together are read
  // up to the index limit, 16 MiB.
  const bare = await load('fmp4-bare')
  const { mediaStart } = await openMedia(sourceOf(bare))
  const sidx = cat([0, 0x10, 0, 0], new TextEncoder().encode('sidx'), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x3c, 0], new Uint8Array(MiB - 20))
  const mp4 = tiledSource(bare.subarray(0, mediaStart), sidx, 2 ** 40)
  await assert.rejects(openMedia(mp4), { code: 'unsupported_media' })
  assert.ok(mp4.bytesRead < 40 * MiB, `read ${mp4.bytesRead} bytes`)
})

test('moof look-alikes cost the fragment scan linear time', { timeout: 120_000 }, async () => {
  // Units of 24 bytes: a 'moof' of 34000 bytes with an 'mfhd', then a 16-byte 'free' that
  // swallows the next unit's size and type, so each look-alike's children run on over
  // thousands of the next ones. 1 MiB of them after a real file's headers and first fragment.
  const bare = await load('fmp4-bare')
  const media = await openMedia(sourceOf(bare))
  const { offset: second } = await syncPointAfter(media, sourceOf(bare), media.mediaStart + 1, bare.length)
  const u32 = n => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
  const unit = Uint8Array.from([...u32(34000), ...Buffer.from('moof'), ...u32(8), ...Buffer.from('mfhd'), ...u32(16), ...Buffer.from('free')])
  const bytes = new Uint8Array(second + 44000 * unit.length)
  bytes.set(bare.subarray(0, second))
  for (let p = second; p < bytes.length; p += unit.length) bytes.set(unit, p)
  const source = sourceOf(bytes)
  const crafted = await openMedia(source)
  for (const [what, run] of [['lastSyncPoint', () => lastSyncPoint(crafted, source)], ['searchSyncPoint', () => searchSyncPoint(crafted, source, 30)]]) {
    const start = performance.now()
    await run()
    const ms = performance.now() - start
    assert.ok(ms < 2000, `${what} took ${Math.round(ms)} ms`) // quadratic: seconds to minutes
  }
})

test('malformed cluster/fragment look-alikes end a scan early', { timeout: 120_000 }, async () => {
  // Each look-alike whose header or children do not parse costs an exception; 4 MB of them
  // after a real file's first cluster/fragment made a probing seek take seconds.
  const units = {
    'webm-live': Uint8Array.of(0x1f, 0x43, 0xb6, 0x75, 0x00), // a Cluster ID, a size byte of 0
    'fmp4-bare': Uint8Array.from([0, 0, 0, 40, ...Buffer.from('moof'), 0, 0, 0, 0xff, ...Buffer.from('mfhd')]) // an mfhd overrunning its moof
  }
  for (const [format, unit] of Object.entries(units)) {
    const original = await load(format)
    const { mediaStart } = await openMedia(sourceOf(original))
    const bytes = new Uint8Array(mediaStart + 100 + 800_000 * unit.length)
    bytes.set(original.subarray(0, mediaStart + 100))
    for (let p = mediaStart + 100; p + unit.length <= bytes.length; p += unit.length) bytes.set(unit, p)
    const source = sourceOf(bytes)
    const media = await openMedia(source)
    const start = performance.now()
    await searchSyncPoint(media, source, 30)
    await lastSyncPoint(media, source)
    const ms = performance.now() - start
    assert.ok(ms < 1000, `${format}: ${Math.round(ms)} ms`) // 3 to 7 s before
  }
})

test('a WebM Duration that is not positive and finite is no duration (NaN), as in MP4', async () => {
  const original = await load('webm')
  // The Duration element in Info: ID 0x4489, size 8, a big-endian float64.
  const at = original.findIndex((b, i) => b === 0x44 && original[i + 1] === 0x89 && original[i + 2] === 0x88) + 3
  assert.ok(at > 3 && at < 1024)
  for (const value of [-60000, 0, Infinity, -Infinity]) {
    const bytes = original.slice()
    new DataView(bytes.buffer).setFloat64(at, value)
    const media = await openMedia(sourceOf(bytes))
    assert.ok(Number.isNaN(media.duration), `Duration ${value}: ${media.duration}`)
  }
})
