// What Media Source Extensions need to know about a media file, read from the file itself:
// its container (WebM/Matroska or MP4), the MIME type with codecs, the initialization
// segment, where the media data starts and ends, and a time → byte offset index for
// seeking (WebM Cues; MP4 sidx or mfra), with a fallback that probes the file for cluster
// or fragment starts when there is no index.
//
// Pure functions over a byte source { length, read(offset, length) → Promise<Uint8Array> }
// (a torrent file in the page, a Buffer in the tests). The file comes from a torrent, so
// nothing in it is trusted: every length is checked against its parent and the file, every
// loop is bounded, and anything we cannot make sense of is a WasmTorrentError with code
// 'unsupported_media' (never another exception).
//
// References: Matroska/WebM (RFC 8794 EBML, RFC 9559 Matroska, the WebM byte stream format
// for MSE), ISO/IEC 14496-12 (ISO BMFF) and 14496-15 (AVC/HEVC configuration records), the
// VP9 and AV1 ISO BMFF bindings, RFC 6381 (codecs parameter).
import { WasmTorrentError } from '../api/errors.js'
import { concatBytes } from '../api/hex.js'

const KiB = 1024
const MiB = 1024 * KiB
const WINDOW = 64 * KiB // bytes fetched at a time while walking headers
const FIRST_WINDOW = 16 * KiB // the first fetch: see WindowReader
const MAX_HEADER_ELEMENTS = 256 // top-level elements/boxes walked before the media data
const MAX_INIT_PART = 4 * MiB // Info, Tracks, SeekHead, ftyp, moov
const MAX_INDEX = 16 * MiB // Cues, sidx, mfra
const PROBE_SCAN = 2 * MiB // bytes scanned forward from a probe for a cluster/fragment start
const MAX_PROBES = 12
// Malformed cluster/fragment look-alikes a scan gives up after: each costs an exception
// (microseconds), chance matches are about one per 4 GiB of real media, so many are crafted.
const MAX_BAD_CANDIDATES = 16

export function unsupported (message, position = 0) {
  return new WasmTorrentError(message, { code: 'unsupported_media', position })
}

// One cached window over the source: headers are small and close together, so walking them
// costs one read per 64 KiB, not one per header. The first window is smaller and each next
// one doubles up to WINDOW: from a slow peer every byte asked for is waited for (64 KiB is
// 1.3 s at 50 kB/s), and the headers a player needs first often fit in 16 KiB.
class WindowReader {
  constructor (source) {
    this.source = source
    this.length = source.length
    this.base = 0
    this.buf = new Uint8Array(0)
    this.window = FIRST_WINDOW
  }

  // Bytes [at, at + n), fewer at the end of the file.
  async bytes (at, n) {
    if (!(at >= 0 && at <= this.length)) throw unsupported(`offset ${at} outside the file`, at)
    n = Math.min(n, this.length - at)
    if (at >= this.base && at + n <= this.base + this.buf.length) return this.buf.subarray(at - this.base, at - this.base + n)
    const size = Math.min(Math.max(n, this.window), this.length - at)
    this.window = Math.min(WINDOW, 2 * this.window)
    const buf = await this.source.read(at, size)
    if (buf.length < n) throw unsupported(`short read at ${at}`, at)
    this.base = at
    this.buf = buf
    return buf.subarray(0, n)
  }
}

const hex2 = n => n.toString(16).padStart(2, '0')
const u16 = (b, p) => (b[p] << 8) | b[p + 1]
const u32 = (b, p) => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0
const u64 = (b, p) => u32(b, p) * 2 ** 32 + u32(b, p + 4) // exact below 2^53, enough for sizes and times
const fourcc = (b, p) => String.fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3])

// The index entry for `target`: the last { time, offset } with time <= target (entries
// sorted by time), or null.
export function entryAt (index, target) {
  let lo = 0
  let hi = index.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (index[mid].time <= target) lo = mid + 1
    else hi = mid
  }
  return lo ? index[lo - 1] : null
}

// Sorts an index by time and keeps entries whose offsets grow with time (a file whose index
// goes backwards is lying somewhere; we keep the consistent part).
function cleanIndex (entries, mediaStart, mediaEnd) {
  entries = entries.filter(e => Number.isFinite(e.time) && e.time >= 0 && e.offset >= mediaStart && e.offset < mediaEnd)
  entries.sort((a, b) => a.time - b.time || a.offset - b.offset)
  const out = []
  for (const e of entries) {
    const last = out[out.length - 1]
    if (last && e.offset <= last.offset) continue
    out.push(e)
  }
  return out.length ? out : null
}

// --- sniffing ----------------------------------------------------------------------------

// 'webm' (EBML header), 'mp4' (a first box 'ftyp') or null, from the first 8 bytes.
export function sniff (bytes) {
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'webm'
  if (bytes.length >= 8 && fourcc(bytes, 4) === 'ftyp') return 'mp4'
  return null
}

// Reads the headers of a WebM or MP4 file. Resolves with
//   { container, mime, codecs, init, mediaStart, mediaEnd, duration,
//     loadIndex(source), syncPoints(bytes, base) }
// where init is the initialization segment to append first, [mediaStart, mediaEnd) the
// clusters/fragments to append after it, duration in seconds (NaN when the file does not
// say), loadIndex resolves with a sorted [{ time, offset }] (or null), and syncPoints yields
// the cluster/fragment starts found in `bytes` (which start at file offset `base`).
export async function openMedia (source) {
  const reader = new WindowReader(source)
  const head = await reader.bytes(0, 8)
  const kind = sniff(head)
  if (kind === 'webm') return openWebm(reader)
  if (kind === 'mp4') return openMp4(reader)
  throw unsupported('not a WebM/Matroska or MP4 file (MediaSource playback supports only those)')
}

// --- WebM / Matroska ---------------------------------------------------------------------

const EBML = 0x1a45dfa3
const DOC_TYPE = 0x4282
const SEGMENT = 0x18538067
const SEEK_HEAD = 0x114d9b74
const SEEK = 0x4dbb
const SEEK_ID = 0x53ab
const SEEK_POSITION = 0x53ac
const INFO = 0x1549a966
const TIMESTAMP_SCALE = 0x2ad7b1
const DURATION = 0x4489
const TRACKS = 0x1654ae6b
const TRACK_ENTRY = 0xae
const TRACK_NUMBER = 0xd7
const TRACK_TYPE = 0x83
const CODEC_ID = 0x86
const CODEC_PRIVATE = 0x63a2
const CONTENT_ENCODINGS = 0x6d80
const CLUSTER = 0x1f43b675
const CLUSTER_TIMESTAMP = 0xe7
const CUES = 0x1c53bb6b
const CUE_POINT = 0xbb
const CUE_TIME = 0xb3
const CUE_TRACK_POSITIONS = 0xb7
const CUE_TRACK = 0xf7
const CUE_CLUSTER_POSITION = 0xf1
const VOID = 0xec
const CRC32 = 0xbf

// An EBML element header at p: { id, size (null: unknown), dataStart }, or null when `buf`
// ends before it does. IDs are 1-4 bytes (marker bit kept, as the specs write them), sizes
// 1-8 bytes (marker removed; all ones means unknown).
export function ebmlHeader (buf, p) {
  if (p >= buf.length) return null
  const first = buf[p]
  if (first === 0) throw unsupported(`bad EBML element ID at ${p}`, p)
  const idLength = Math.clz32(first) - 23
  if (idLength > 4) throw unsupported(`bad EBML element ID at ${p}`, p)
  const s = p + idLength
  if (s >= buf.length) return null
  const sizeFirst = buf[s]
  if (sizeFirst === 0) throw unsupported(`bad EBML element size at ${s}`, s)
  const sizeLength = Math.clz32(sizeFirst) - 23
  if (s + sizeLength > buf.length) return null
  let id = 0
  for (let i = 0; i < idLength; i++) id = id * 256 + buf[p + i]
  let size = sizeFirst & (0xff >> sizeLength)
  let allOnes = size === (0xff >> sizeLength)
  for (let i = 1; i < sizeLength; i++) {
    size = size * 256 + buf[s + i]
    allOnes &&= buf[s + i] === 0xff
  }
  if (allOnes) return { id, size: null, dataStart: s + sizeLength }
  if (size > Number.MAX_SAFE_INTEGER) throw unsupported(`EBML element size too large at ${s}`, s)
  return { id, size, dataStart: s + sizeLength }
}

// The children of a master element whose data is buf[start, end): { id, start, end } each,
// bounded by the parent (an unknown size or an overrun is an error).
function * ebmlChildren (buf, start, end, base = 0) {
  let p = start
  while (p < end) {
    const h = ebmlHeader(buf.subarray(0, end), p)
    if (!h || h.size === null || h.dataStart + h.size > end) throw unsupported(`bad EBML element at ${base + p}`, base + p)
    yield { id: h.id, start: h.dataStart, end: h.dataStart + h.size }
    p = h.dataStart + h.size
  }
}

function ebmlUint (buf, start, end) {
  if (end - start > 8) throw unsupported(`EBML integer longer than 8 bytes at ${start}`, start)
  let v = 0
  for (let p = start; p < end; p++) v = v * 256 + buf[p]
  return v
}

function ebmlFloat (buf, start, end) {
  const view = new DataView(buf.buffer, buf.byteOffset + start, end - start)
  if (end - start === 4) return view.getFloat32(0)
  if (end - start === 8) return view.getFloat64(0)
  if (end === start) return 0
  throw unsupported(`bad EBML float at ${start}`, start)
}

const ebmlString = (buf, start, end) => String.fromCharCode(...buf.subarray(start, Math.min(end, start + 256))).replace(/\0+$/, '')

// Reads a whole element (header + data) at `at` whose size must be known and at most `max`.
async function readElement (reader, at, max, name) {
  const h = ebmlHeader(await reader.bytes(at, 12), 0)
  if (!h || h.size === null || h.size > max) throw unsupported(`${name} at ${at}: missing, of unknown size or larger than ${max} bytes`, at)
  const bytes = await reader.bytes(at, h.dataStart + h.size)
  if (bytes.length < h.dataStart + h.size) throw unsupported(`${name} at ${at}: truncated`, at)
  return { id: h.id, bytes: bytes.slice(), dataStart: h.dataStart }
}

async function openWebm (reader) {
  const length = reader.length
  const ebml = await readElement(reader, 0, 4 * KiB, 'EBML header')
  let docType = 'matroska' // the EBML default
  for (const c of ebmlChildren(ebml.bytes, ebml.dataStart, ebml.bytes.length)) {
    if (c.id === DOC_TYPE) docType = ebmlString(ebml.bytes, c.start, c.end)
  }
  if (docType !== 'webm' && docType !== 'matroska') throw unsupported(`EBML document type "${docType}" is not WebM or Matroska`)

  // The Segment, after any Void elements.
  let pos = ebml.bytes.length
  let segment
  for (let i = 0; ; i++) {
    const h = ebmlHeader(await reader.bytes(pos, 12), 0)
    if (!h || i > 16) throw unsupported(`no Segment in the first elements (at ${pos})`, pos)
    if (h.id === SEGMENT) { segment = { dataStart: pos + h.dataStart, size: h.size }; break }
    if (h.size === null) throw unsupported(`element of unknown size at ${pos}`, pos)
    pos += h.dataStart + h.size
  }
  const segmentStart = segment.dataStart // SeekHead and Cues positions are relative to it
  const segmentEnd = segment.size === null ? length : Math.min(length, segmentStart + segment.size)

  // Its children up to the first Cluster: SeekHead, Info, Tracks (and others we skip).
  let info, tracks, firstCluster
  let seekHeads = 0
  const seeks = new Map() // element ID → absolute positions from the SeekHead
  pos = segmentStart
  for (let i = 0; ; i++) {
    if (pos >= segmentEnd || i >= MAX_HEADER_ELEMENTS) throw unsupported('no Cluster found after the WebM headers', pos)
    const h = ebmlHeader(await reader.bytes(pos, 12), 0)
    if (!h) throw unsupported(`truncated element header at ${pos}`, pos)
    if (h.id === CLUSTER) { firstCluster = pos; break }
    if (h.size === null) throw unsupported(`element 0x${h.id.toString(16)} of unknown size at ${pos}`, pos)
    // Each of these is read once (Matroska allows a second SeekHead): copies of a large one
    // would otherwise each be read, up to MAX_HEADER_ELEMENTS times MAX_INIT_PART.
    if (h.id === SEEK_HEAD && seekHeads++ < 2) readSeekHead(await readElement(reader, pos, MAX_INIT_PART, 'SeekHead'), segmentStart, seeks)
    else if (h.id === INFO && !info) info = await readElement(reader, pos, MAX_INIT_PART, 'Info')
    else if (h.id === TRACKS && !tracks) tracks = await readElement(reader, pos, MAX_INIT_PART, 'Tracks')
    else if (h.id === CUES && !seeks.has(CUES)) seeks.set(CUES, [pos])
    pos += h.dataStart + h.size
  }
  // Matroska allows Info and Tracks after the clusters, found through the SeekHead.
  const seekTo = async (id, name) => {
    const at = seeks.get(id)?.[0]
    if (at === undefined || at >= length) return undefined
    const el = await readElement(reader, at, MAX_INIT_PART, name)
    if (el.id !== id) throw unsupported(`the SeekHead points ${name} at ${at}, where there is none`, at)
    return el
  }
  info ??= await seekTo(INFO, 'Info')
  tracks ??= await seekTo(TRACKS, 'Tracks')
  if (!info) throw unsupported('no Info element')
  if (!tracks) throw unsupported('no Tracks element')

  let timestampScale = 1000000 // nanoseconds per timestamp unit
  let durationUnits = NaN
  for (const c of ebmlChildren(info.bytes, info.dataStart, info.bytes.length)) {
    if (c.id === TIMESTAMP_SCALE) timestampScale = ebmlUint(info.bytes, c.start, c.end)
    if (c.id === DURATION) durationUnits = ebmlFloat(info.bytes, c.start, c.end)
  }
  if (!(timestampScale > 0)) throw unsupported('TimestampScale is 0')
  const seconds = units => units * timestampScale / 1e9
  // As for MP4: a Duration that is not positive and finite (negative, or Infinity from a
  // huge TimestampScale) says nothing, and the player measures the file instead.
  const stated = seconds(durationUnits)
  const duration = stated > 0 && stated < Infinity ? stated : NaN

  const trackList = parseWebmTracks(tracks)
  const media = trackList.filter(t => t.type === 1 || t.type === 2)
  if (!media.length) throw unsupported('no audio or video track')
  const codecs = [...new Set(media.map(t => t.codec))]
  const hasVideo = media.some(t => t.type === 1)
  const videoTrack = media.find(t => t.type === 1)?.number

  // Clusters end where the first other element the SeekHead knows about begins (Cues and
  // Tags are usually written after them; appending them would upset MSE's parser).
  let mediaEnd = segmentEnd
  for (const list of seeks.values()) {
    for (const at of list) if (at > firstCluster && at < mediaEnd) mediaEnd = at
  }

  // The initialization segment: the EBML header, a Segment of unknown size (it is appended
  // without its other children), Info and Tracks. Clusters are placed by their timestamps,
  // relative to the Segment, so the same init segment serves clusters from anywhere.
  const init = concatBytes([ebml.bytes, Uint8Array.of(0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), info.bytes, tracks.bytes])

  return {
    container: 'webm',
    mime: `${hasVideo ? 'video' : 'audio'}/webm; codecs="${codecs.join(',')}"`,
    codecs,
    init,
    mediaStart: firstCluster,
    mediaEnd,
    duration,
    async loadIndex (source) {
      const at = seeks.get(CUES)?.[0]
      if (at === undefined || at >= length) return null
      const cues = await readElement(new WindowReader(source), at, MAX_INDEX, 'Cues')
      if (cues.id !== CUES) throw unsupported(`the SeekHead points Cues at ${at}, where there are none`, at)
      return cleanIndex(parseCues(cues, videoTrack).map(c => ({ time: seconds(c.time), offset: segmentStart + c.position })),
        firstCluster, mediaEnd)
    },
    * syncPoints (bytes, base) {
      for (const c of findClusters(bytes)) yield { offset: base + c.offset, time: seconds(c.time) }
    }
  }
}

function readSeekHead (seekHead, segmentStart, seeks) {
  const b = seekHead.bytes
  for (const seek of ebmlChildren(b, seekHead.dataStart, b.length)) {
    if (seek.id !== SEEK) continue
    let id, position
    for (const c of ebmlChildren(b, seek.start, seek.end)) {
      if (c.id === SEEK_ID && c.end - c.start <= 4) id = ebmlUint(b, c.start, c.end)
      if (c.id === SEEK_POSITION) position = ebmlUint(b, c.start, c.end)
    }
    if (id === undefined || position === undefined) continue
    if (!seeks.has(id)) seeks.set(id, [])
    seeks.get(id).push(segmentStart + position)
  }
}

// [{ number, type (1 video, 2 audio), codec }] from a Tracks element; throws for an audio or
// video codec that MSE's WebM byte stream cannot carry.
function parseWebmTracks (tracks) {
  const b = tracks.bytes
  const out = []
  for (const entry of ebmlChildren(b, tracks.dataStart, b.length)) {
    if (entry.id !== TRACK_ENTRY) continue
    const t = { number: 0, type: 0, codecId: '', codecPrivate: null, encoded: false }
    for (const c of ebmlChildren(b, entry.start, entry.end)) {
      if (c.id === TRACK_NUMBER) t.number = ebmlUint(b, c.start, c.end)
      else if (c.id === TRACK_TYPE) t.type = ebmlUint(b, c.start, c.end)
      else if (c.id === CODEC_ID) t.codecId = ebmlString(b, c.start, c.end)
      else if (c.id === CODEC_PRIVATE) t.codecPrivate = b.subarray(c.start, c.end)
      else if (c.id === CONTENT_ENCODINGS) t.encoded = true
    }
    if (t.type !== 1 && t.type !== 2) { out.push(t); continue } // subtitles etc.: MSE ignores them
    if (t.encoded) throw unsupported(`track ${t.number} is compressed or encrypted (ContentEncodings)`)
    t.codec = webmCodec(t)
    out.push(t)
  }
  return out
}

function webmCodec ({ codecId, codecPrivate }) {
  switch (codecId) {
    case 'V_VP8': return 'vp8'
    case 'V_VP9': return 'vp9'
    case 'V_AV1': return (codecPrivate && av1Codec(codecPrivate)) || 'av01.0.08M.08'
    case 'V_MPEG4/ISO/AVC': return (codecPrivate && avcCodec('avc1', codecPrivate)) || 'avc1.42E01E'
    case 'V_MPEGH/ISO/HEVC': return (codecPrivate && hevcCodec('hvc1', codecPrivate)) || 'hvc1.1.6.L93.B0'
    case 'A_OPUS': return 'opus'
    case 'A_VORBIS': return 'vorbis'
    case 'A_FLAC': return 'flac'
    case 'A_AAC': return `mp4a.40.${(codecPrivate && aacObjectType(codecPrivate, 0, codecPrivate.length)) || 2}`
  }
  if (codecId.startsWith('A_AAC/')) return 'mp4a.40.2' // the old A_AAC/MPEG4/LC style IDs
  throw unsupported(`codec ${codecId || '(none)'} cannot be played through MediaSource`)
}

// [{ time, position }] of the CuePoints (for `track`, when some are for it).
function parseCues (cues, track) {
  const b = cues.bytes
  const all = []
  for (const point of ebmlChildren(b, cues.dataStart, b.length)) {
    if (point.id !== CUE_POINT) continue
    let time
    const positions = []
    for (const c of ebmlChildren(b, point.start, point.end)) {
      if (c.id === CUE_TIME) time = ebmlUint(b, c.start, c.end)
      if (c.id !== CUE_TRACK_POSITIONS) continue
      const p = {}
      for (const d of ebmlChildren(b, c.start, c.end)) {
        if (d.id === CUE_TRACK) p.track = ebmlUint(b, d.start, d.end)
        if (d.id === CUE_CLUSTER_POSITION) p.position = ebmlUint(b, d.start, d.end)
      }
      if (p.position !== undefined) positions.push(p)
    }
    if (time === undefined) continue
    for (const p of positions) all.push({ time, position: p.position, track: p.track })
  }
  const mine = all.filter(c => c.track === track)
  return mine.length ? mine : all
}

// Cluster starts in bytes: the Cluster ID, a size, then (after optional CRC-32 or Void
// elements) its Timestamp, whose value we return. Checking that structure keeps four bytes
// of compressed data that happen to equal the ID from passing for a cluster.
function * findClusters (bytes) {
  let bad = 0
  for (let i = 0; i + 4 <= bytes.length; i++) {
    if (bytes[i] !== 0x1f || bytes[i + 1] !== 0x43 || bytes[i + 2] !== 0xb6 || bytes[i + 3] !== 0x75) continue
    try {
      const h = ebmlHeader(bytes, i)
      if (!h) continue
      let p = h.dataStart
      for (let k = 0; k < 3; k++) {
        const c = ebmlHeader(bytes, p)
        if (!c || c.size === null || c.dataStart + c.size > bytes.length) break
        if (c.id === CLUSTER_TIMESTAMP) {
          if (c.size <= 8) yield { offset: i, time: ebmlUint(bytes, c.dataStart, c.dataStart + c.size) }
          break
        }
        if (c.id !== CRC32 && c.id !== VOID) break
        p = c.dataStart + c.size
      }
    } catch (err) {
      if (err.code !== 'unsupported_media') throw err // not a cluster after all
      if (++bad > MAX_BAD_CANDIDATES) return
    }
  }
}

// --- MP4 (ISO BMFF) ----------------------------------------------------------------------

// A box header at p in buf: { type, start, dataStart, end } (end may exceed buf for a box we
// only walk past), or null when buf ends first. `limit` is where the parent ends.
function boxHeader (buf, p, limit, base = 0) {
  if (p + 8 > buf.length) return null
  let size = u32(buf, p)
  const type = fourcc(buf, p + 4)
  let dataStart = p + 8
  if (size === 1) {
    if (p + 16 > buf.length) return null
    size = u64(buf, p + 8)
    dataStart = p + 16
  } else if (size === 0) {
    size = limit - p // to the end of the parent (or of the file)
  }
  if (size < dataStart - p || p + size > limit) throw unsupported(`bad size of box '${printable(type)}' at ${base + p}`, base + p)
  return { type, start: p, dataStart, end: p + size }
}

const printable = s => s.replace(/[^\x20-\x7e]/g, '?')

// The child boxes of buf[start, end).
function * boxes (buf, start, end, base = 0) {
  let p = start
  while (p + 8 <= end) {
    const h = boxHeader(buf, p, end, base)
    if (!h) return
    yield h
    p = h.end
  }
}

const child = (buf, box, type) => { for (const b of boxes(buf, box.dataStart, box.end)) if (b.type === type) return b }

// Reads a whole top-level box at `at` of at most `max` bytes.
async function readBox (reader, at, max, type) {
  const hb = await reader.bytes(at, 16)
  const h = boxHeader(hb, 0, reader.length - at, at)
  if (!h || h.type !== type) throw unsupported(`expected box '${type}' at ${at}`, at)
  if (h.end > max) throw unsupported(`box '${type}' at ${at} is larger than ${max} bytes`, at)
  const bytes = (await reader.bytes(at, h.end)).slice()
  return { bytes, box: { ...h } }
}

async function openMp4 (reader) {
  const length = reader.length
  let ftyp, moov, firstMoof
  const sidxes = []
  let sidxBytes = 0
  let pos = 0
  for (let i = 0; ; i++) {
    if (pos + 8 > length || i >= MAX_HEADER_ELEMENTS) break
    const h = boxHeader(await reader.bytes(pos, 16), 0, length - pos, pos)
    if (!h) break
    if (h.type === 'ftyp') ftyp = await readBox(reader, pos, 64 * KiB, 'ftyp')
    else if (h.type === 'moov' && !moov) { // read once: copies of a large one would each be read
      moov = await readBox(reader, pos, MAX_INIT_PART, 'moov')
      moov.info = parseMoov(moov.bytes)
      if (!moov.info.fragmented) {
        throw unsupported('this MP4 is not fragmented (its moov has no mvex): play it through the service worker ' +
          '(client.createServer) or remux it as a fragmented MP4 (ffmpeg -movflags frag_keyframe+empty_moov+default_base_moof)', pos)
      }
    } else if (h.type === 'sidx') {
      // All of them together within MAX_INDEX (one per track is usual), not each.
      if (sidxBytes + h.end - h.start <= MAX_INDEX) {
        sidxBytes += h.end - h.start
        sidxes.push({ ...(await readBox(reader, pos, MAX_INDEX, 'sidx')), at: pos })
      }
    } else if (h.type === 'moof') { firstMoof = pos; break }
    pos += h.end
  }
  if (!moov) throw unsupported(length > 0 && pos >= length ? 'no moov box' : `no moov box in the first ${MAX_HEADER_ELEMENTS} boxes`)
  if (firstMoof === undefined) throw unsupported('no movie fragment (moof) after the moov')
  const { tracks, duration: moovDuration } = moov.info
  const media = tracks.filter(t => t.handler === 'vide' || t.handler === 'soun')
  if (!media.length) throw unsupported('no audio or video track')
  const codecs = [...new Set(media.map(t => t.codec))]
  const video = media.find(t => t.handler === 'vide')
  const timescales = new Map(tracks.map(t => [t.id, t.timescale]))
  const preferred = video?.id ?? media[0].id

  // A sidx in front indexes the whole file (ffmpeg's global_sidx, DASH on-demand files);
  // prefer the one for the video track.
  const sidx = sidxes.map(s => parseSidx(s.bytes, s.at)).find(s => s?.track === preferred) ??
    sidxes.map(s => parseSidx(s.bytes, s.at)).find(Boolean)
  const sidxIndex = sidx && cleanIndex(sidx.entries, firstMoof, length)
  let duration = moovDuration
  if (!(duration > 0) && sidx) duration = sidx.end

  return {
    container: 'mp4',
    mime: `${video ? 'video' : 'audio'}/mp4; codecs="${codecs.join(',')}"`,
    codecs,
    init: concatBytes([ftyp?.bytes ?? new Uint8Array(0), moov.bytes]),
    mediaStart: firstMoof,
    mediaEnd: length,
    duration: duration > 0 && duration < Infinity ? duration : NaN,
    // The sidx if there was one, else the mfra at the end of the file (ffmpeg writes one
    // for fragmented files), found through the mfro box that ends it.
    async loadIndex (source) {
      if (sidxIndex) return sidxIndex
      return loadMfra(new WindowReader(source), preferred, timescales, firstMoof)
    },
    * syncPoints (bytes, base) {
      for (const m of findMoofs(bytes, preferred)) {
        const timescale = timescales.get(m.track)
        if (timescale) yield { offset: base + m.offset, time: m.time / timescale }
      }
    }
  }
}

// { fragmented, duration (s), tracks: [{ id, handler, timescale, codec }] } from a moov.
function parseMoov (b) {
  const moov = boxHeader(b, 0, b.length)
  let fragmented = false
  let duration = NaN
  let fragmentDuration = NaN
  let movieTimescale = 0
  const tracks = []
  for (const box of boxes(b, moov.dataStart, moov.end)) {
    if (box.type === 'mvhd') {
      const v1 = b[box.dataStart] === 1
      const p = box.dataStart + 4 + (v1 ? 16 : 8)
      if (p + (v1 ? 12 : 8) > box.end) throw unsupported('short mvhd')
      movieTimescale = u32(b, p)
      if (movieTimescale) duration = (v1 ? u64(b, p + 4) : u32(b, p + 4)) / movieTimescale
    } else if (box.type === 'mvex') {
      fragmented = true
      const mehd = child(b, box, 'mehd')
      if (mehd && mehd.end - mehd.dataStart >= 8) {
        const v1 = b[mehd.dataStart] === 1
        if (movieTimescale && mehd.end - mehd.dataStart >= (v1 ? 12 : 8)) fragmentDuration = (v1 ? u64(b, mehd.dataStart + 4) : u32(b, mehd.dataStart + 4)) / movieTimescale
      }
    } else if (box.type === 'trak') {
      tracks.push(parseTrak(b, box))
    }
  }
  if (!(duration > 0) && fragmentDuration > 0) duration = fragmentDuration
  return { fragmented, duration, tracks }
}

function parseTrak (b, trak) {
  const t = { id: 0, handler: '', timescale: 0, codec: null }
  const tkhd = child(b, trak, 'tkhd')
  if (tkhd) {
    const p = tkhd.dataStart + 4 + (b[tkhd.dataStart] === 1 ? 16 : 8)
    if (p + 4 <= tkhd.end) t.id = u32(b, p)
  }
  const mdia = child(b, trak, 'mdia')
  if (!mdia) return t
  const mdhd = child(b, mdia, 'mdhd')
  if (mdhd) {
    const p = mdhd.dataStart + 4 + (b[mdhd.dataStart] === 1 ? 16 : 8)
    if (p + 4 <= mdhd.end) t.timescale = u32(b, p)
  }
  const hdlr = child(b, mdia, 'hdlr')
  if (hdlr && hdlr.dataStart + 12 <= hdlr.end) t.handler = fourcc(b, hdlr.dataStart + 8)
  if (t.handler !== 'vide' && t.handler !== 'soun') return t
  const stsd = [['minf'], ['stbl'], ['stsd']].reduce((box, [type]) => box && child(b, box, type), mdia)
  // stsd: full box header, entry count, then sample entries; the first one describes the track.
  const entry = stsd && stsd.dataStart + 8 <= stsd.end ? boxHeader(b, stsd.dataStart + 8, stsd.end) : null
  if (!entry) throw unsupported(`track ${t.id} has no sample description`)
  t.codec = sampleEntryCodec(b, entry, t.handler)
  return t
}

// The codecs-parameter string (RFC 6381) of a sample entry.
function sampleEntryCodec (b, entry, handler) {
  const type = entry.type
  // Sample entry fields before the child boxes: 8 bytes for all entries, then 70 for visual
  // ones, 20 for audio ones (28 + 16 or 36 more in QuickTime's sound versions 1 and 2).
  let first = entry.dataStart + 8 + (handler === 'vide' ? 70 : 20)
  if (handler === 'soun' && entry.dataStart + 10 <= entry.end) {
    const version = u16(b, entry.dataStart + 8)
    if (version === 1) first += 16
    if (version === 2) first += 36
  }
  const config = name => {
    if (first > entry.end) return null
    for (const box of boxes(b, first, entry.end)) if (box.type === name) return b.subarray(box.dataStart, box.end)
    return null
  }
  switch (type) {
    case 'avc1': case 'avc3': {
      const c = config('avcC')
      return (c && avcCodec(type, c)) || fail(`${type} without a valid avcC`)
    }
    case 'hvc1': case 'hev1': {
      const c = config('hvcC')
      return (c && hevcCodec(type, c)) || fail(`${type} without a valid hvcC`)
    }
    case 'vp08': return 'vp8'
    case 'vp09': {
      const c = config('vpcC') // full box: version, flags, then profile, level, bit depth << 4 | ...
      return c && c.length >= 7 ? `vp09.${pad2(c[4])}.${pad2(c[5])}.${pad2(c[6] >> 4)}` : 'vp09.00.10.08'
    }
    case 'av01': {
      const c = config('av1C')
      return (c && av1Codec(c)) || 'av01.0.08M.08'
    }
    case 'mp4a': {
      const c = config('esds')
      return (c && esdsCodec(c)) || 'mp4a.40.2'
    }
    case 'Opus': return 'opus'
    case 'fLaC': return 'flac'
    case 'ac-3': return 'ac-3'
    case 'ec-3': return 'ec-3'
    case 'encv': case 'enca': throw unsupported('the MP4 is encrypted')
  }
  throw unsupported(`codec '${printable(type)}' cannot be played through MediaSource`)
}

const pad2 = n => String(n).padStart(2, '0')
const fail = message => { throw unsupported(message) }

// avc1.PPCCLL: profile, constraint flags and level from an AVCDecoderConfigurationRecord.
export function avcCodec (type, c) {
  if (c.length < 4 || c[0] !== 1) return null
  return `${type}.${hex2(c[1])}${hex2(c[2])}${hex2(c[3])}`
}

// hvc1.<space><profile>.<compatibility, bits reversed>.<tier><level>.<constraint bytes>
// from an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 annex E).
export function hevcCodec (type, c) {
  if (c.length < 13 || c[0] !== 1) return null
  const space = ['', 'A', 'B', 'C'][c[1] >> 6]
  const tier = (c[1] & 0x20) ? 'H' : 'L'
  const profile = c[1] & 0x1f
  let compat = u32(c, 2)
  let reversed = 0
  for (let i = 0; i < 32; i++) { reversed = (reversed << 1) | (compat & 1); compat >>>= 1 }
  const constraints = Array.from(c.subarray(6, 12))
  while (constraints.length && constraints[constraints.length - 1] === 0) constraints.pop()
  return [`${type}.${space}${profile}`, (reversed >>> 0).toString(16).toUpperCase(), `${tier}${c[12]}`,
    ...constraints.map(x => x.toString(16).toUpperCase())].join('.')
}

// av01.<profile>.<level><tier>.<bit depth> from an AV1CodecConfigurationRecord.
export function av1Codec (c) {
  if (c.length < 4 || c[0] !== 0x81) return null // marker bit and version 1
  const profile = c[1] >> 5
  const level = c[1] & 0x1f
  const tier = (c[2] & 0x80) ? 'H' : 'M'
  const highBitDepth = (c[2] & 0x40) !== 0
  const twelveBit = (c[2] & 0x20) !== 0
  const depth = highBitDepth ? (profile === 2 && twelveBit ? 12 : 10) : 8
  return `av01.${profile}.${pad2(level)}${tier}.${pad2(depth)}`
}

// mp4a.40.<audio object type> (or mp4a.<object type> for MP3 and the like) from an esds.
export function esdsCodec (c) {
  // A full box header, then MPEG-4 descriptors: tag, size in 7-bit groups, payload.
  const descriptor = (p, end) => {
    if (p + 2 > end) return null
    const tag = c[p]
    let size = 0
    let q = p + 1
    for (let i = 0; i < 4 && q < end; i++) {
      const x = c[q++]
      size = (size << 7) | (x & 0x7f)
      if (!(x & 0x80)) break
    }
    if (q + size > end) return null
    return { tag, start: q, end: q + size }
  }
  const es = descriptor(4, c.length)
  if (!es || es.tag !== 0x03 || es.start + 3 > es.end) return null
  const flags = c[es.start + 2]
  let p = es.start + 3
  if (flags & 0x80) p += 2 // dependsOn_ES_ID
  if (flags & 0x40) p += 1 + (c[p] ?? 0) // URL
  if (flags & 0x20) p += 2 // OCR_ES_ID
  const dc = descriptor(p, es.end)
  if (!dc || dc.tag !== 0x04 || dc.start + 13 > dc.end) return null
  const objectType = c[dc.start]
  if (objectType !== 0x40) return `mp4a.${hex2(objectType).toUpperCase()}`
  const dsi = descriptor(dc.start + 13, dc.end)
  const aot = dsi && dsi.tag === 0x05 ? aacObjectType(c, dsi.start, dsi.end) : 0
  return `mp4a.40.${aot || 2}`
}

// The audio object type at the start of an AudioSpecificConfig (5 bits; 31 escapes to 6 more).
function aacObjectType (c, start, end) {
  if (start >= end) return 0
  const aot = c[start] >> 3
  if (aot !== 31) return aot
  if (start + 1 >= end) return 0
  return 32 + (((c[start] & 0x07) << 3) | (c[start + 1] >> 5))
}

// { track, end (s), entries: [{ time, offset }] } from a sidx at file offset `at`; null for a
// hierarchical index (references to other sidx boxes), which we do not follow.
function parseSidx (b, at) {
  const box = boxHeader(b, 0, b.length)
  const v1 = b[box.dataStart] === 1
  let p = box.dataStart + 4
  if (p + (v1 ? 28 : 20) > box.end) throw unsupported(`short sidx at ${at}`, at)
  const track = u32(b, p)
  const timescale = u32(b, p + 4)
  let time = v1 ? u64(b, p + 8) : u32(b, p + 8)
  let offset = at + box.end + (v1 ? u64(b, p + 16) : u32(b, p + 12))
  p += v1 ? 24 : 16
  const count = u16(b, p + 2)
  p += 4
  if (!timescale || p + 12 * count > box.end) throw unsupported(`bad sidx at ${at}`, at)
  const entries = []
  for (let i = 0; i < count; i++, p += 12) {
    if (b[p] & 0x80) return null // reference_type 1: another sidx
    entries.push({ time: time / timescale, offset })
    offset += u32(b, p) & 0x7fffffff
    time += u32(b, p + 4)
  }
  return { track, end: time / timescale, entries }
}

// The index in the mfra (movie fragment random access) box at the end of the file.
async function loadMfra (reader, track, timescales, mediaStart) {
  const length = reader.length
  if (length < 16) return null
  const tail = await reader.bytes(length - 16, 16)
  if (fourcc(tail, 4) !== 'mfro' || u32(tail, 0) !== 16) return null
  const size = u32(tail, 12)
  if (size < 16 || size > MAX_INDEX || size > length - mediaStart) return null
  const { bytes: b, box } = await readBox(reader, length - size, MAX_INDEX, 'mfra')
  const tables = []
  for (const tfra of boxes(b, box.dataStart, box.end, length - size)) {
    if (tfra.type !== 'tfra' || tfra.dataStart + 16 > tfra.end) continue
    const v1 = b[tfra.dataStart] === 1
    const id = u32(b, tfra.dataStart + 4)
    const sizes = u32(b, tfra.dataStart + 8)
    const extra = ((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3 // traf, trun, sample numbers
    const entrySize = (v1 ? 16 : 8) + extra
    const count = u32(b, tfra.dataStart + 12)
    const timescale = timescales.get(id)
    if (!timescale || count > (tfra.end - tfra.dataStart - 16) / entrySize) continue
    const entries = []
    for (let i = 0, p = tfra.dataStart + 16; i < count; i++, p += entrySize) {
      const time = v1 ? u64(b, p) : u32(b, p)
      const offset = v1 ? u64(b, p + 8) : u32(b, p + 4)
      entries.push({ time: time / timescale, offset })
    }
    tables.push({ id, entries })
  }
  const table = tables.find(t => t.id === track) ?? tables[0]
  return table ? cleanIndex(table.entries, mediaStart, length) : null
}

// Fragment starts in bytes: a 'moof' whose first child is an 'mfhd', with the decode time of
// its first sample (tfdt) for `track` (or the first track fragment that has one).
function * findMoofs (bytes, track) {
  // The boxes looked into, over all candidates, are at most one per 8 bytes (what one walk
  // over the bytes could meet): crafted bytes can pack thousands of 'moof' look-alikes
  // whose children each run on over all the next ones, and walking them all would take
  // time quadratic in the bytes (seconds per window). Real moofs cost a few boxes each.
  let budget = bytes.length / 8
  let bad = 0
  const inside = function * (start, end) {
    for (const box of boxes(bytes, start, end)) {
      if (--budget < 0) return
      yield box
    }
  }
  const childOf = (box, type) => { for (const b of inside(box.dataStart, box.end)) if (b.type === type) return b }
  for (let i = 0; i + 24 <= bytes.length && budget > 0; i++) {
    if (bytes[i + 4] !== 0x6d || bytes[i + 5] !== 0x6f || bytes[i + 6] !== 0x6f || bytes[i + 7] !== 0x66) continue
    if (fourcc(bytes, i + 12) !== 'mfhd') continue
    const size = u32(bytes, i)
    if (size < 24 || i + size > bytes.length) continue
    try {
      let found = null
      for (const traf of inside(i + 8, i + size)) {
        if (traf.type !== 'traf') continue
        const tfhd = childOf(traf, 'tfhd')
        const tfdt = childOf(traf, 'tfdt')
        if (!tfhd || !tfdt || tfhd.dataStart + 8 > tfhd.end || tfdt.dataStart + 8 > tfdt.end) continue
        const id = u32(bytes, tfhd.dataStart + 4)
        const v1 = bytes[tfdt.dataStart] === 1
        if (v1 && tfdt.dataStart + 12 > tfdt.end) continue
        const time = v1 ? u64(bytes, tfdt.dataStart + 4) : u32(bytes, tfdt.dataStart + 4)
        if (!found || id === track) found = { offset: i, track: id, time }
        if (id === track) break
      }
      if (found) yield found
    } catch (err) {
      if (err.code !== 'unsupported_media') throw err // not a moof after all
      if (++bad > MAX_BAD_CANDIDATES) return
    }
  }
}

// --- seeking without an index --------------------------------------------------------------

// The first cluster/fragment start at or after `from` (and before `limit`), scanning at most
// PROBE_SCAN bytes; null if none.
export async function syncPointAfter (media, source, from, limit) {
  const end = Math.min(limit, from + PROBE_SCAN, source.length)
  for (let at = from; at < end; at += WINDOW) {
    // Windows overlap by a little, so a start split between two is seen whole in the next;
    // a moof can be longer than the overlap, so those are found only when they fit.
    const n = Math.min(WINDOW + 4 * KiB, source.length - at)
    const bytes = await source.read(at, n)
    for (const s of media.syncPoints(bytes, at)) if (s.offset < end) return s
  }
  return null
}

// The last cluster/fragment start with time <= target, found without an index: interpolation
// search over the file by byte offset (assuming a roughly constant bitrate), each probe
// scanning forward for the next start. Bounded to MAX_PROBES probes: when it runs out, or a
// probe finds nothing (a cluster longer than PROBE_SCAN), it settles for the best start
// found so far, which is earlier than needed (playback then waits for more data) but never
// later. `duration` (the media's, or an estimate) maps to mediaEnd.
export async function searchSyncPoint (media, source, target, duration = media.duration) {
  let lo = { time: 0, offset: media.mediaStart }
  let hi = { time: duration > target ? duration : NaN, offset: media.mediaEnd }
  for (let i = 0; i < MAX_PROBES; i++) {
    const span = hi.offset - lo.offset
    if (span <= 2 * WINDOW) break
    // Aim a little early: the probe scans forward from the guess.
    let f = Number.isFinite(hi.time) && hi.time > lo.time ? (target - lo.time) / (hi.time - lo.time) - 0.05 : 0.5
    f = Math.min(0.95, Math.max(0.02, f))
    const guess = lo.offset + Math.floor(span * f)
    const found = await syncPointAfter(media, source, guess, hi.offset)
    if (!found) hi = { time: hi.time, offset: guess }
    else if (found.time <= target) lo = found
    else hi = found
  }
  return lo
}

// The last cluster/fragment start in the final bytes of the media data (where a file that
// does not state its duration tells how long it is), or null.
export async function lastSyncPoint (media, source) {
  const start = Math.max(media.mediaStart, media.mediaEnd - 4 * WINDOW)
  if (start >= media.mediaEnd) return null
  const bytes = await source.read(start, media.mediaEnd - start)
  let last = null
  for (const s of media.syncPoints(bytes, start)) last = s
  return last
}
