// Seed inputs for the web/stream/container.js fuzzer, built here from the specs so that the fuzzer
// needs neither ffmpeg nor committed binaries: small WebM/Matroska files (EBML, RFC 8794 /
// RFC 9559) and MP4 files (ISO BMFF, ISO/IEC 14496-12) with the structures the reader
// looks at (SeekHead, Info, Tracks, Clusters, Cues; ftyp, moov, mvex, sidx, moof, mfra),
// in the layouts it has separate paths for. Media payloads are seeded random bytes.

// The seeded generator of the JS tests (no npm imports: the fuzzer needs only node).
import { prng } from '../../js/prng.mjs'
export { prng }

export function concat (...parts) {
  parts = parts.flat(Infinity)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

const ascii = s => new TextEncoder().encode(s)
const be = (v, n) => { // v as an n-byte big-endian integer (n <= 8; exact below 2^53)
  const out = new Uint8Array(n)
  for (let i = n - 1; i >= 0; i--) { out[i] = v % 256; v = Math.floor(v / 256) }
  return out
}
const randomBytes = (next, n) => new Uint8Array(n).map(() => Math.floor(next() * 256))

// --- EBML ----------------------------------------------------------------------------------

// An EBML size as a variable-length integer of `length` bytes (the shortest by default).
export function vint (size, length = 0) {
  if (!length) { length = 1; while (size >= 2 ** (7 * length) - 1) length++ }
  const out = be(size, length)
  out[0] |= 0x80 >> (length - 1)
  return out
}
const idBytes = id => be(id, id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1)
export const el = (id, ...payload) => { const data = concat(payload); return concat(idBytes(id), vint(data.length), data) }
const uint = (id, v, n = 0) => el(id, be(v, n || Math.max(1, Math.ceil(Math.log2(v + 1) / 8))))
const float64 = (id, v) => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v); return el(id, b) }
const str = (id, s) => el(id, ascii(s))
const UNKNOWN_SIZE = Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)

export const ID = {
  EBML: 0x1a45dfa3, DocType: 0x4282, Segment: 0x18538067, SeekHead: 0x114d9b74, Seek: 0x4dbb,
  SeekID: 0x53ab, SeekPosition: 0x53ac, Info: 0x1549a966, TimestampScale: 0x2ad7b1, Duration: 0x4489,
  Tracks: 0x1654ae6b, TrackEntry: 0xae, TrackNumber: 0xd7, TrackType: 0x83, CodecID: 0x86,
  CodecPrivate: 0x63a2, ContentEncodings: 0x6d80, Cluster: 0x1f43b675, Timestamp: 0xe7, SimpleBlock: 0xa3,
  Cues: 0x1c53bb6b, CuePoint: 0xbb, CueTime: 0xb3, CueTrackPositions: 0xb7, CueTrack: 0xf7,
  CueClusterPosition: 0xf1, Void: 0xec, CRC32: 0xbf, Tags: 0x1254c367
}

function ebmlHeader (docType = 'webm') {
  return el(ID.EBML, uint(0x4286, 1), uint(0x42f7, 1), uint(0x42f2, 4), uint(0x42f3, 8),
    str(ID.DocType, docType), uint(0x4287, 4), uint(0x4285, 2))
}

const track = (number, type, codecId, codecPrivate, ...more) => el(ID.TrackEntry, uint(ID.TrackNumber, number),
  uint(ID.TrackType, type), str(ID.CodecID, codecId), codecPrivate ? el(ID.CodecPrivate, codecPrivate) : [], more)

// A WebM file: `clusters` clusters of `clusterBytes` of blocks each, one per second.
//   seekHead: a SeekHead in front pointing at Info, Tracks and (if cues) the Cues
//   cues: Cues after the clusters; live: Segment of unknown size, no duration
//   late: Info and Tracks after the clusters (found only through the SeekHead)
function webm (next, { docType = 'webm', tracks, clusters = 8, clusterBytes = 2000, seekHead = true,
  cues = true, live = false, late = false, crc = false } = {}) {
  tracks ??= [track(1, 1, 'V_VP9'), track(2, 2, 'A_OPUS', ascii('OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0'))]
  const info = el(ID.Info, uint(ID.TimestampScale, 1000000), live ? [] : float64(ID.Duration, clusters * 1000))
  const tracksEl = el(ID.Tracks, tracks)
  const clusterEls = []
  for (let i = 0; i < clusters; i++) {
    const block = n => el(ID.SimpleBlock, Uint8Array.of(0x81, 0, 0, 0x80), randomBytes(next, n))
    clusterEls.push(el(ID.Cluster, crc && i % 2 ? el(ID.CRC32, randomBytes(next, 4)) : [],
      uint(ID.Timestamp, i * 1000, i % 3 === 2 ? 8 : 0), block(clusterBytes >> 1), block(clusterBytes >> 1)))
  }
  // Positions are relative to the Segment's data; SeekPositions are written on 8 bytes so
  // that the layout does not change between the two passes.
  const layout = positions => {
    const seek = (id, at) => el(ID.Seek, el(ID.SeekID, idBytes(id)), uint(ID.SeekPosition, at, 8))
    const head = seekHead
      ? el(ID.SeekHead, seek(ID.Info, positions.info), seek(ID.Tracks, positions.tracks), cues ? seek(ID.Cues, positions.cues) : [])
      : new Uint8Array(0)
    const front = late ? [head] : [head, info, tracksEl]
    let at = concat(front).length
    const clusterAt = clusterEls.map(c => { const p = at; at += c.length; return p })
    const cuesEl = cues
      ? el(ID.Cues, clusterAt.map((p, i) => el(ID.CuePoint, uint(ID.CueTime, i * 1000),
        el(ID.CueTrackPositions, uint(ID.CueTrack, 1), uint(ID.CueClusterPosition, p)))))
      : new Uint8Array(0)
    const back = late ? [info, tracksEl, cuesEl] : [cuesEl]
    const where = {
      info: late ? at : head.length,
      tracks: late ? at + info.length : head.length + info.length,
      cues: late ? at + info.length + tracksEl.length : at
    }
    const body = concat(front, clusterEls, back)
    return { where, body }
  }
  const { where } = layout({ info: 0, tracks: 0, cues: 0 })
  const { body } = layout(where)
  const segment = concat(idBytes(ID.Segment), live ? UNKNOWN_SIZE : vint(body.length, 8), body)
  return concat(ebmlHeader(docType), segment)
}

// --- ISO BMFF --------------------------------------------------------------------------------

export const box = (type, ...payload) => { const data = concat(payload); return concat(be(data.length + 8, 4), ascii(type), data) }
const full = (type, version, flags, ...payload) => box(type, Uint8Array.of(version), be(flags, 3), ...payload)
const zeros = n => new Uint8Array(n)

const ftyp = () => box('ftyp', ascii('isom'), be(0x200, 4), ascii('isomiso6mp41'))

// Sample entries: the fields before their child boxes (8 bytes for all, then 70 visual or
// 20 audio), then the configuration box.
const visual = (type, config) => box(type, zeros(6), be(1, 2), zeros(16), be(320, 2), be(240, 2),
  be(0x480000, 4), be(0x480000, 4), zeros(4), be(1, 2), zeros(32), be(0x18, 2), be(0xffff, 2), config)
const audio = (type, config) => box(type, zeros(6), be(1, 2), zeros(8), be(2, 2), be(16, 2), zeros(4), be(48000 << 16, 4), config)
const CODECS = {
  avc1: () => visual('avc1', box('avcC', Uint8Array.of(1, 0x64, 0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1e, 1, 0, 4, 0x68, 0xeb, 0xe3, 0xcb))),
  hev1: () => visual('hev1', box('hvcC', Uint8Array.of(1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0))),
  vp09: () => visual('vp09', full('vpcC', 1, 0, Uint8Array.of(0, 10, 0x82, 2, 2, 2, 0, 0))),
  av01: () => visual('av01', box('av1C', Uint8Array.of(0x81, 0x08, 0x0c, 0))),
  encv: () => visual('encv', box('sinf', box('frma', ascii('avc1')))),
  mp4a: () => audio('mp4a', full('esds', 0, 0, Uint8Array.of(0x03, 25, 0, 1, 0, 0x04, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 2, 0x12, 0x10, 0x06, 1, 2))),
  Opus: () => audio('Opus', box('dOps', Uint8Array.of(0, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0)))
}

function trak (id, handler, timescale, entry) {
  return box('trak',
    full('tkhd', 0, 3, zeros(8), be(id, 4), zeros(4), be(0, 4), zeros(60)),
    box('mdia',
      full('mdhd', 0, 0, zeros(8), be(timescale, 4), be(0, 4), zeros(4)),
      full('hdlr', 0, 0, zeros(4), ascii(handler), zeros(12), ascii('fuzz\0')),
      box('minf', box('stbl', full('stsd', 0, 0, be(1, 4), entry)))))
}

// An MP4 with `fragments` fragments (one per second, video track 1, audio track 2).
//   index: 'sidx' (in front), 'mfra' (at the end) or none; fragmented: false gives a moov
//   without mvex and one mdat (what openMedia refuses); v1: 64-bit times and offsets
function mp4 (next, { video = 'avc1', sound = 'mp4a', fragments = 8, fragmentBytes = 2000, index = 'sidx',
  fragmented = true, v1 = false } = {}) {
  const tracks = [video && [1, 'vide', 15360, CODECS[video]()], sound && [2, 'soun', 48000, CODECS[sound]()]].filter(Boolean)
  const mvhd = full('mvhd', 0, 0, zeros(8), be(1000, 4), be(fragmented ? 0 : fragments * 1000, 4), be(0x10000, 4), be(0x100, 2), zeros(70))
  const mvex = box('mvex', full('mehd', 0, 0, be(fragments * 1000, 4)),
    tracks.map(([id]) => full('trex', 0, 0, be(id, 4), be(1, 4), zeros(12))))
  const moov = box('moov', mvhd, tracks.map(t => trak(...t)), fragmented ? mvex : [])
  if (!fragmented) return concat(ftyp(), moov, box('mdat', randomBytes(next, fragments * fragmentBytes)))

  const moofs = []
  for (let i = 0; i < fragments; i++) {
    const trafs = tracks.map(([id, , timescale]) => box('traf',
      full('tfhd', 0, 0x020000, be(id, 4)),
      v1 ? full('tfdt', 1, 0, be(i * timescale, 8)) : full('tfdt', 0, 0, be(i * timescale, 4)),
      full('trun', 0, 0x000301, be(1, 4), be(0, 4), be(1, 4), be(fragmentBytes / tracks.length, 4))))
    moofs.push(concat(box('moof', full('mfhd', 0, 0, be(i + 1, 4)), trafs), box('mdat', randomBytes(next, fragmentBytes))))
  }
  const fragmentSizes = moofs.map(m => m.length)
  const head = concat(ftyp(), moov)
  let sidx = new Uint8Array(0)
  if (index === 'sidx') {
    const refs = fragmentSizes.map(n => concat(be(n, 4), be(15360, 4), be(0x90000000, 4)))
    sidx = v1
      ? full('sidx', 1, 0, be(1, 4), be(15360, 4), be(0, 8), be(0, 8), be(0, 2), be(refs.length, 2), refs)
      : full('sidx', 0, 0, be(1, 4), be(15360, 4), be(0, 4), be(0, 4), be(0, 2), be(refs.length, 2), refs)
  }
  const body = concat(head, sidx, moofs)
  if (index !== 'mfra') return body
  let at = head.length
  const entries = fragmentSizes.map((n, i) => { const e = concat(be(i * 15360, 8), be(at, 8), Uint8Array.of(1, 1, 1)); at += n; return e })
  const tfra = full('tfra', 1, 0, be(1, 4), be(0, 4), be(entries.length, 4), entries)
  const mfraSize = 8 + tfra.length + 16
  return concat(body, box('mfra', tfra, full('mfro', 0, 0, be(mfraSize, 4))))
}

// The seeds, each { name, bytes }. Two are larger than 2 * 64 KiB of media, so that probing
// for clusters/fragments (which starts only above that span) runs on the exact files too.
export function builtinSeeds () {
  const next = prng(1)
  return [
    ['webm-cues', webm(next)],
    ['webm-live', webm(next, { live: true, seekHead: false, cues: false, clusters: 40, clusterBytes: 8000, crc: true })],
    ['mkv-late-headers', webm(next, { docType: 'matroska', late: true })],
    ['webm-no-seekhead', webm(next, { seekHead: false, cues: false })],
    ['webm-av1-aac', webm(next, { tracks: [track(1, 1, 'V_AV1', Uint8Array.of(0x81, 0x08, 0x0c, 0)), track(2, 2, 'A_AAC', Uint8Array.of(0x12, 0x10))], clusters: 4 })],
    ['webm-vorbis-subtitles', webm(next, { tracks: [track(1, 2, 'A_VORBIS'), track(2, 17, 'S_TEXT/UTF8')], clusters: 4 })],
    ['mkv-hevc-encoded', webm(next, { docType: 'matroska', tracks: [track(1, 1, 'V_MPEGH/ISO/HEVC', null, el(ID.ContentEncodings))], clusters: 2 })],
    ['fmp4-sidx', mp4(next)],
    ['fmp4-sidx-v1', mp4(next, { v1: true, fragments: 4 })],
    ['fmp4-mfra', mp4(next, { index: 'mfra' })],
    ['fmp4-bare', mp4(next, { index: 'none', fragments: 40, fragmentBytes: 8000 })],
    ['fmp4-hevc-opus', mp4(next, { video: 'hev1', sound: 'Opus', fragments: 4 })],
    ['fmp4-aac-audio-only', mp4(next, { video: null, fragments: 4 })],
    ['fmp4-av1', mp4(next, { video: 'av01', sound: null, fragments: 4, index: 'mfra' })],
    ['fmp4-vp09', mp4(next, { video: 'vp09', fragments: 2 })],
    ['fmp4-encrypted', mp4(next, { video: 'encv', fragments: 2 })],
    ['mp4-progressive', mp4(next, { fragmented: false })]
  ].map(([name, bytes]) => ({ name, bytes }))
}

// Inputs shaped to make a reader do the most work per byte it is given, for two ways a
// reader can be made to work without bound: reads that grow with the number of elements
// (the first two end with a large element, which the fuzz target's 'repeat-last' source
// repeats up to a claimed length of 2^40 bytes), and scans whose cost grows faster than
// the bytes scanned (overlapping 'moof' look-alikes: each is a box whose children run on
// over all the next ones, so walking each one's children is quadratic in the window).
// They are run under every source variant (`all`).
export function hostileSeeds () {
  const next = prng(2)
  const fmp4 = mp4(next, { index: 'none', fragments: 1 })
  const head = fmp4.subarray(0, fmp4.length - 2000 - 8) // ftyp, moov, the moof (without its mdat)
  const moov = head.subarray(0, findBox(head, 'moof')) // ftyp and moov
  const refs = Array(65535).fill(concat(be(2000, 4), be(15360, 4), be(0x90000000, 4)))
  // A 24-byte unit: a 'moof' of 34000 bytes whose mfhd is followed by a 16-byte 'free'
  // that swallows the next unit's size and type, so the walk goes on unit after unit.
  const lookalike = concat(be(34000, 4), ascii('moof'), be(8, 4), ascii('mfhd'), be(16, 4), ascii('free'))
  // Malformed look-alikes, each of which costs the scan an exception: a Cluster ID with a
  // size byte of 0; a 'moof' whose 'mfhd' overruns it.
  const live = webm(next, { live: true, seekHead: false, cues: false, clusters: 1 })
  const badCluster = Uint8Array.of(0x1f, 0x43, 0xb6, 0x75, 0x00)
  const badMoof = concat(be(40, 4), ascii('moof'), be(255, 4), ascii('mfhd'))
  return [
    ['webm-headers-padded', concat(ebmlHeader(), idBytes(ID.Segment), UNKNOWN_SIZE,
      el(ID.Info, uint(ID.TimestampScale, 1000000)),
      el(ID.Tracks, track(1, 1, 'V_VP9'), el(ID.Void, new Uint8Array(1024 * 1024))))],
    ['fmp4-headers-long-sidx', concat(moov, full('sidx', 0, 0, be(1, 4), be(15360, 4), be(0, 4), be(0, 4), be(0, 2), be(refs.length, 2), refs))],
    ['fmp4-moof-lookalikes', concat(head, Array(16000).fill(lookalike))],
    ['webm-bad-cluster-lookalikes', concat(live, Array(60000).fill(badCluster))],
    ['fmp4-bad-moof-lookalikes', concat(fmp4, Array(19000).fill(badMoof))]
  ].map(([name, bytes]) => ({ name, bytes, all: true })) // under every source variant
}

// The offset of the first top-level box of `type` in `bytes`.
function findBox (bytes, type) {
  for (let p = 0; p + 8 <= bytes.length;) {
    if (String.fromCharCode(...bytes.subarray(p + 4, p + 8)) === type) return p
    const size = ((bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3]) >>> 0
    if (size < 8) break
    p += size
  }
  return bytes.length
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { name, bytes } of [...builtinSeeds(), ...hostileSeeds()]) console.log(name.padEnd(24), bytes.length)
}
