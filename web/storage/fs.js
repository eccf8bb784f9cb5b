// The Node host's store: the torrent's files on disk under a folder (`add(id, { path })`),
// as any BitTorrent client writes them, so the download is usable as it is and a later run
// resumes from it (the engine re-hashes what open() reports). Pieces span files; each
// read or write is cut at file boundaries. File paths come from the engine, which refuses
// torrents with unsafe path components ('..', separators, drive letters); each one is
// checked again here to stay under the folder.
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { open, mkdir, stat, unlink, writeFile, constants } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileAt, Geometry, sliceRange, storageError } from './util.js'
import { WasmTorrentError } from '../api/errors.js'

const MAX_OPEN = 64 // file handles kept open at once (least recently used closed first)

// mkdir -p that fails where Node's { recursive: true } never settles: under /proc (a user's
// --out /proc/x), Node 20's recursive mkdir retries ENOENT for ever, and the download hung
// with nothing written and no error. One level at a time, bounded by the path's depth.
export async function makeDirs (dir) {
  try {
    await mkdir(dir)
  } catch (err) {
    if (err.code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return
      throw err
    }
    const parent = path.dirname(dir)
    if (err.code !== 'ENOENT' || parent === dir) throw err
    await makeDirs(parent)
    await mkdir(dir).catch(again => { if (again.code !== 'EEXIST') throw again })
  }
}

// Where a torrent's file ('/'-separated path) goes under root. A path element too long for
// the file system (255 bytes in Linux, macOS and Windows: a title of 86 CJK characters) is
// cut to fit, keeping its extension, with 8 hex digits of its SHA-1 so that two long names
// that begin alike stay apart (libtorrent cuts such names too; WebTorrent's store fails
// with ENAMETOOLONG).
export function diskPath (root, torrentPath) {
  return path.resolve(root, ...torrentPath.split('/').map(fitName))
}

const NAME_MAX = 255

function fitName (element) {
  if (Buffer.byteLength(element) <= NAME_MAX) return element
  const dot = element.lastIndexOf('.')
  const ext = dot > 0 && Buffer.byteLength(element.slice(dot)) <= 16 ? element.slice(dot) : ''
  const tag = `~${createHash('sha1').update(element).digest('hex').slice(0, 8)}${ext}`
  let room = NAME_MAX - Buffer.byteLength(tag)
  let stem = ''
  for (const ch of element.slice(0, element.length - ext.length)) { // whole characters only
    room -= Buffer.byteLength(ch)
    if (room < 0) break
    stem += ch
  }
  return stem + tag
}

const badFiles = () => new WasmTorrentError('store: the files do not fit the torrent\'s length', { code: 'invalid_argument', context: 'files' })

export class FsStore {
  static kind = 'fs'
  static available () { return typeof process !== 'undefined' && Boolean(process.versions?.node) }

  // files: [{ path ('name/dir/file', '/'-separated), length, offset }] as the engine gives
  // them; root: the folder the files go under.
  constructor (opts) {
    this._geo = new Geometry(opts)
    const root = path.resolve(opts.root ?? opts.path ?? '.')
    this._root = root
    let at = 0
    this._files = (opts.files ?? []).filter(f => !f.pad).map(f => {
      const full = diskPath(root, f.path)
      if (!full.startsWith(root + path.sep)) {
        throw new WasmTorrentError(`store: file path ${JSON.stringify(f.path)} leaves ${root}`, { code: 'invalid_argument', context: 'path' })
      }
      // BEP 47's attr 'x': made executable when created, as libtorrent makes it (the umask applies).
      const file = { full, length: f.length, offset: f.offset ?? at, mode: /x/.test(f.attr ?? '') ? 0o777 : 0o666 }
      if (file.offset < at) throw badFiles()
      at = file.offset + file.length
      return file
    })
    // Gaps between files (and after the last) are BEP 47 pad files, which the engine leaves
    // out of the list: zeros, never on disk (reads give zeros there, writes skip them), as
    // libtorrent keeps them. libtorrent 2 and qBittorrent pad every file of a multi-file
    // torrent (hybrid v1/v2 torrents).
    if (at > this._geo.length || (at < this._geo.length && !(opts.files ?? []).some(f => f.pad || f.offset !== undefined))) throw badFiles()
    this._starts = this._files.map(f => f.offset)
    this._handles = new Map() // full path -> { handle: Promise<FileHandle>, users } (least recent first)
  }

  // Pieces whose every byte lies within the files' lengths on disk (what an earlier run or
  // another client wrote; the engine hashes them before trusting any). A file shorter than
  // it should be still holds the pieces within its length: a download interrupted before
  // its last pieces were written (they come in any order), as WebTorrent's store keeps
  // them. Also creates every folder and the empty files, as a finished download has them.
  async open () {
    const sizes = await Promise.all(this._files.map(async f => {
      try { return (await stat(f.full)).size } catch { return -1 }
    }))
    for (const [i, f] of this._files.entries()) {
      if (f.length === 0 && sizes[i] < 0) {
        await makeDirs(path.dirname(f.full))
        await (await open(f.full, 'a', f.mode)).close()
      }
    }
    // Every piece, less those that touch a file past its length on disk (one pass over the
    // files: a torrent may have tens of thousands of both).
    const missing = new Uint8Array(this._geo.pieceCount)
    for (const [k, f] of this._files.entries()) {
      if (f.length === 0 || sizes[k] >= f.length) continue
      const first = Math.floor((f.offset + Math.max(0, sizes[k])) / this._geo.pieceLength)
      const last = Math.floor((f.offset + f.length - 1) / this._geo.pieceLength)
      missing.fill(1, first, last + 1)
    }
    const held = new Set()
    for (let i = 0; i < missing.length; i++) if (!missing[i]) held.add(i)
    return held
  }

  // rescanFiles(): what open() says, again (files may have been written from outside).
  rescan () { return this.open() }

  async put (index, bytes, offset) {
    if (offset === undefined) {
      this._geo.checkPut(index, bytes)
      offset = 0
    } else {
      this._geo.checkPart(index, bytes, offset)
    }
    const start = index * this._geo.pieceLength + offset
    await this._each(start, bytes.length, async (handle, at, from, n) => {
      await handle.write(bytes, from, n, at)
    }, true)
    return bytes // written, not kept: the caller may reuse them
  }

  async complete () {} // parts are written in place

  async get (index, offset, length) {
    this._geo.checkGet(index, offset, length)
    const out = new Uint8Array(length)
    await this._each(index * this._geo.pieceLength + offset, length, async (handle, at, from, n) => {
      const { bytesRead } = await handle.read(out, from, n, at)
      if (bytesRead !== n) throw storageError(`get: piece ${index} is not on disk`)
    }, false)
    return out
  }

  async close () {
    const entries = [...this._handles.values()]
    this._handles.clear()
    await Promise.all(entries.map(e => e.handle.then(f => f.close(), () => {})))
  }

  // Writes each file whole from contents[i], a Blob or Uint8Array (a seed the app gave in
  // memory): a seed then lives on disk as WebTorrent's, and the app's buffers can go.
  async writeFiles (contents) {
    for (const [i, f] of this._files.entries()) {
      await makeDirs(path.dirname(f.full))
      const data = contents[i]
      if (data instanceof Uint8Array) await writeFile(f.full, data)
      else await pipeline(Readable.fromWeb(data.stream()), createWriteStream(f.full))
    }
  }

  // Deletes the torrent's files (not the folders: they may hold the user's other files).
  async destroy () {
    await this.close()
    await Promise.all(this._files.map(f => unlink(f.full).catch(() => {})))
  }

  // fn(handle, position in file, position in the buffer, length) for each file the torrent
  // bytes [start, start + length) fall in.
  async _each (start, length, fn, writing) {
    const end = start + length
    for (let i = fileAt(this._starts, start); i < this._files.length && this._files[i].offset < end; i++) {
      const f = this._files[i]
      const from = Math.max(start, f.offset)
      const to = Math.min(end, f.offset + f.length)
      if (from >= to) continue
      const entry = this._entry(f, writing)
      entry.users++
      try {
        await fn(await entry.handle, from - f.offset, from - start, to - from)
      } catch (err) {
        if (err instanceof WasmTorrentError) throw err
        throw storageError(`${writing ? 'put' : 'get'}: ${f.full}`, err)
      } finally {
        entry.users--
      }
    }
  }

  // One handle per file, opened read-write (created, never truncated) on first use; the
  // least recently used one not in use is closed beyond MAX_OPEN.
  _entry ({ full, mode }, writing) {
    let entry = this._handles.get(full)
    if (entry) {
      this._handles.delete(full) // most recently used goes last
      this._handles.set(full, entry)
      if (writing && entry.readOnly) {
        return { handle: Promise.reject(Object.assign(new Error(`${full} is read-only`), { code: 'EACCES' })), users: 0 }
      }
      return entry
    }
    const handle = (async () => {
      try {
        return await open(full, constants.O_RDWR)
      } catch (err) {
        // A file this process may read but not write (a finished download kept read-only,
        // another user's media folder, a read-only mount) is still seeded from, as
        // libtorrent does: opened for reading only; a write to it fails.
        if (!writing && ['EACCES', 'EPERM', 'EROFS'].includes(err.code)) {
          entry.readOnly = true
          return open(full, constants.O_RDONLY)
        }
        if (err.code !== 'ENOENT' || !writing) throw err
        await makeDirs(path.dirname(full))
        return open(full, constants.O_RDWR | constants.O_CREAT, mode)
      }
    })()
    entry = { handle, users: 0, readOnly: false }
    this._handles.set(full, entry)
    handle.catch(() => { if (this._handles.get(full) === entry) this._handles.delete(full) })
    if (this._handles.size > MAX_OPEN) {
      for (const [name, old] of this._handles) {
        if (old.users > 0 || old === entry) continue
        this._handles.delete(name)
        old.handle.then(f => f.close(), () => {})
        break
      }
    }
    return entry
  }
}

// A file on disk as a Blob read on demand (slice, arrayBuffer, bytes, stream, text): what
// seed(path) hashes and then serves. Not fs.openAsBlob: under Node 20 its Blob has the
// file's size modulo 2^32, so a 5 GiB file was seeded as its first GiB. As openAsBlob's,
// a read fails once the file has changed (size or modification time) since it was opened.
export class DiskFile extends Blob {
  static async open (file) {
    const info = await stat(file)
    return new DiskFile(file, info, 0, info.size)
  }

  constructor (file, info, start, end, type = '') {
    super([])
    this._file = file
    this._info = info // { size, mtimeMs } when opened
    this._start = start
    this._end = end
    this._type = type
  }

  get size () { return this._end - this._start }
  get type () { return this._type }

  slice (start, end, type = '') {
    const [from, to] = sliceRange(this.size, start, end)
    return new DiskFile(this._file, this._info, this._start + from, this._start + to, type)
  }

  async bytes () {
    const out = new Uint8Array(this.size)
    const handle = await open(this._file, 'r')
    try {
      const now = await handle.stat()
      if (now.size !== this._info.size || now.mtimeMs !== this._info.mtimeMs) throw changed(this._file)
      let got = 0
      while (got < out.length) {
        const { bytesRead } = await handle.read(out, got, out.length - got, this._start + got)
        if (bytesRead === 0) throw changed(this._file)
        got += bytesRead
      }
    } finally {
      await handle.close()
    }
    return out
  }

  async arrayBuffer () { return (await this.bytes()).buffer }
  async text () { return new TextDecoder().decode(await this.bytes()) }

  stream () {
    let pos = this._start
    return new ReadableStream({
      pull: async controller => {
        if (pos >= this._end) return controller.close()
        const to = Math.min(this._end, pos + 1024 * 1024)
        controller.enqueue(await new DiskFile(this._file, this._info, pos, to).bytes())
        pos = to
      }
    }, { highWaterMark: 0 })
  }
}

function changed (file) {
  const err = new Error(`${file} changed since it was opened`)
  err.name = 'NotReadableError'
  return err
}
