// Files on disk under Node: resume from files already there (verified, only bad pieces
// fetched again), a hostile torrent cannot write outside its folder, and seeding a stream.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile, mkdir, copyFile, truncate, chmod, stat } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { FsStore, makeDirs } from '../../web/storage/fs.js'
import { Readable } from 'node:stream'
import { tempDir, makeContent, sameFiles, once, randomBytes, handMadeTorrent } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent({ tracker: false })
  t.after(() => c.destroy())
  return c
}

// A second client downloads torrentFile from `seeder` into `folder`: its torrent, once done.
async function downloadFrom (t, seeder, torrentFile, folder) {
  const down = client(t).add(torrentFile, { path: folder })
  await once(down, 'ready')
  down.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(down, 'done')
  return down
}

// A seeder of makeContent's files (32 KiB pieces), and a downloader's folder `down` that
// holds copies of them already.
async function seededAndCopied (t, name, seed) {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), name, seed)
  const seeder = client(t)
  const seeded = seeder.seed(content.root, { announce: [], pieceLength: 32768 })
  await once(seeded, 'seed')
  const down = path.join(dir, 'down')
  for (const f of content.files) {
    await mkdir(path.dirname(path.join(down, f.path)), { recursive: true })
    await copyFile(path.join(dir, 'seed', f.path), path.join(down, f.path))
  }
  return { content, seeder, seeded, down }
}

test('files already in the folder are verified and kept; a corrupted piece is fetched again', async t => {
  const { content, seeder, seeded, down } = await seededAndCopied(t, 'resume', 3)
  // The downloader's folder holds the files already, one byte changed in piece 3.
  const a = path.join(down, 'resume/a.bin')
  const bytes = await readFile(a)
  bytes[3 * 32768 + 10] ^= 0xff
  await writeFile(a, bytes)

  const leecher = client(t)
  const torrent = leecher.add(seeded.torrentFile, { path: down })
  await once(torrent, 'ready')
  // The stored pieces are read back and hashed after 'ready': all but one are kept.
  const pieces = Math.ceil(torrent.length / 32768)
  for (let i = 0; i < 200 && torrent.progress < (pieces - 1.5) / pieces; i++) await new Promise(resolve => setTimeout(resolve, 50))
  assert.ok(torrent.progress > 0.9 && torrent.progress < 1, `progress ${torrent.progress} after the check`)
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  assert.equal(await sameFiles(down, content.files), null)
  assert.equal(torrent.received, 32768, 'only the corrupted piece came from the peer')
})

test('a file shorter than its length (a download interrupted, pieces written out of order) keeps the pieces it holds', async t => {
  const { content, seeder, seeded, down } = await seededAndCopied(t, 'cut', 5)
  // The folder holds every file, a.bin (at offset 0) cut at 500,000 bytes: pieces 0-14 are
  // whole in it. WebTorrent's store keeps them too.
  await truncate(path.join(down, 'cut/a.bin'), 500_000)
  const leecher = client(t)
  const torrent = leecher.add(seeded.torrentFile, { path: down })
  const verified = []
  torrent.on('verified', i => verified.push(i))
  await once(torrent, 'ready')
  const fromDisk = verified.reduce((sum, i) => sum + Math.min(32768, torrent.length - i * 32768), 0)
  assert.equal(torrent.files[0].path, 'cut/a.bin')
  // Before ready: pieces 0-14 (whole in the cut file) and 31-33 (the other files'; 30 holds
  // a.bin's end), hashed in any order.
  const whole = [...Array.from({ length: 15 }, (_, i) => i), 31, 32, 33]
  assert.deepEqual([...verified].sort((a, b) => a - b), whole)
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  assert.equal(await sameFiles(down, content.files), null)
  assert.equal(torrent.received, torrent.length - fromDisk, 'only what the folder lacked came from the peer')
})

test('two torrents added with the same path both write their files there', async t => {
  const dir = await tempDir(t)
  const seeder = client(t)
  const contents = [Buffer.from(randomBytes(21, 40_000)), Buffer.from(randomBytes(22, 50_000))]
  const seeds = contents.map((data, i) => seeder.seed(data, { name: `file${i}.bin`, announce: [], store: 'memory' }))
  await Promise.all(seeds.map(s => once(s, 'seed')))
  const leecher = client(t)
  const down = path.join(dir, 'down')
  const torrents = seeds.map(s => leecher.add(s.torrentFile, { path: down }))
  const done = torrents.map(torrent => once(torrent, 'done'))
  await Promise.all(torrents.map(torrent => once(torrent, 'infoHash')))
  for (const torrent of torrents) torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await Promise.all(done)
  // Until 2026-12-06 the second was kept in memory: the folder named the store's lock.
  assert.equal(await sameFiles(down, contents.map((data, i) => ({ path: `file${i}.bin`, data }))), null)
})

test('a torrent whose file path leaves the folder is refused, and nothing is written', async t => {
  const dir = await tempDir(t)
  const down = path.join(dir, 'down')
  await mkdir(down)
  // A hand-made .torrent: files [["..", "evil"]].
  const info = 'd5:filesld6:lengthi5e4:pathl2:..4:evileee4:name4:safe12:piece lengthi16384e6:pieces20:' + 'x'.repeat(20) + 'e'
  const torrentFile = new TextEncoder().encode(`d4:info${info}e`)
  const c = client(t)
  const torrent = c.add(torrentFile, { path: down })
  const [err] = await once(torrent, 'error')
  assert.match(err.message, /path/i)
  assert.deepEqual(await readdir(dir), ['down'])
  assert.deepEqual(await readdir(down), [])
  // The store checks again, whatever hands it the paths.
  assert.throws(() => new FsStore({ name: 'x', pieceLength: 16384, length: 5, root: down, files: [{ path: '../evil', length: 5, offset: 0 }] }), /leaves/)
  assert.throws(() => new FsStore({ name: 'x', pieceLength: 16384, length: 5, root: down, files: [{ path: 'sub/../../evil', length: 5, offset: 0 }] }), /leaves/)
})

// The store finds a block's first file by a search: with many files, empty ones among
// them, every piece written in parts lands in the right files, and reads of any range
// give the torrent's bytes back.
test('FsStore with 300 files (empty ones among them): blocks written in parts, files on disk, reads of any range', async t => {
  const dir = await tempDir(t)
  const pieceLength = 1024
  const files = []
  let at = 0
  for (let k = 0; k < 300; k++) {
    const length = k % 7 === 3 ? 0 : 1 + (k * 53) % 400
    files.push({ path: `many/d${k % 5}/f${k}.bin`, length, offset: at })
    at += length
  }
  const all = randomBytes(77, at)
  const store = new FsStore({ name: 'many', pieceLength, length: at, root: dir, files })
  await store.open()
  for (let i = 0; i * pieceLength < at; i++) {
    const piece = all.subarray(i * pieceLength, Math.min(at, (i + 1) * pieceLength))
    for (let off = 0; off < piece.length; off += 256) await store.put(i, piece.subarray(off, off + 256), off)
  }
  for (let start = 0; start < at; start += 211) {
    const i = Math.floor(start / pieceLength)
    const length = Math.min(300, Math.min(at, (i + 1) * pieceLength) - start)
    assert.deepEqual(await store.get(i, start - i * pieceLength, length), all.subarray(start, start + length), `bytes ${start}+${length}`)
  }
  await store.close()
  for (const f of files) {
    assert.deepEqual(new Uint8Array(await readFile(path.join(dir, f.path))), all.subarray(f.offset, f.offset + f.length), f.path)
  }
})

test('seed() of a Node Readable: read to its end, named by opts.name; a peer gets its bytes', async t => {
  const dir = await tempDir(t)
  const bytes = randomBytes(91, 300_001)
  const seeder = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => seeder.destroy())
  const seeded = seeder.seed(Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]), { name: 'strom.bin', announce: [] })
  await once(seeded, 'seed')
  assert.equal(seeded.name, 'strom.bin')
  assert.equal(seeded.length, bytes.length)
  const leecher = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => leecher.destroy())
  const torrent = leecher.add(seeded.torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), [{ path: 'strom.bin', data: bytes }]), null)
})

test("seed() of unnamed Readables: create-torrent's names, as WebTorrent's (Unnamed Torrent <ms>, Unknown File <n>)", async t => {
  const seeder = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => seeder.destroy())
  const alone = seeder.seed(Readable.from([Buffer.from('no name')]), { announce: [] })
  await once(alone, 'seed')
  assert.match(alone.name, /^Unnamed Torrent \d+$/)
  const named = Object.assign(Readable.from([Buffer.from('named')]), { name: 'x.txt' })
  const mixed = seeder.seed([named, Readable.from([Buffer.from('unnamed')])], { announce: [] })
  await once(mixed, 'seed')
  assert.equal(mixed.name, 'x.txt')
  assert.deepEqual(mixed.files.map(f => f.path).sort(), ['x.txt/Unknown File 2', 'x.txt/x.txt'])
})

// A finished download this process may read but not write (a media folder of another user,
// files kept read-only, a read-only mount) is resumed and seeded from, as libtorrent does;
// until 2026-12-07 every file was opened read-write, so such files held no piece and the
// whole torrent was fetched again (and could not be written). Root may write a file
// whatever its mode: as root the child runs in a mount namespace of its own where the
// folder is a read-only mount (another user could not read the checkout everywhere: /root).
test('files this process may only read: resumed complete and read from', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'read only', 8)
  const torrentFile = await WasmTorrent.createTorrent(path.join(dir, 'seed', 'read only'), { announceList: [], pieceLength: 32768 })
  await writeFile(path.join(dir, 'content.torrent'), torrentFile)
  const asRoot = process.getuid?.() === 0
  for (const f of content.files) await chmod(path.join(dir, 'seed', f.path), 0o444)
  const dist = new URL('../../dist/wasmtorrent.node.js', import.meta.url).pathname
  const script = `
    import WasmTorrent from ${JSON.stringify(dist)}
    import { readFileSync } from 'node:fs'
    import { createHash } from 'node:crypto'
    const say = o => process.stdout.write(JSON.stringify(o) + '\\n', () => process.exit(o.error ? 1 : 0))
    const c = new WasmTorrent({ dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false, utp: false })
    const t = c.add(readFileSync(${JSON.stringify(path.join(dir, 'content.torrent'))}), { path: ${JSON.stringify(path.join(dir, 'seed'))} })
    t.on('error', err => say({ error: err.message }))
    t.on('ready', async () => {
      const files = {}
      for (const f of t.files) files[f.path] = createHash('sha256').update(Buffer.from(await f.arrayBuffer())).digest('hex')
      say({ progress: t.progress, files })
    })`
  const seedDir = path.join(dir, 'seed')
  const command = asRoot
    ? ['unshare', '-m', 'sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"', seedDir, process.execPath]
    : [process.execPath]
  const out = await new Promise((resolve, reject) => execFile(command[0], [...command.slice(1), '--input-type=module', '-e', script],
    { timeout: 60_000, env: { ...process.env, HOME: dir } }, (err, stdout, stderr) => err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)))
  const result = JSON.parse(out.trim().split('\n').pop())
  assert.equal(result.progress, 1, 'every piece found in the read-only files')
  for (const f of content.files) assert.equal(result.files[f.path], createHash('sha256').update(f.data).digest('hex'), f.path)
})

// A file name longer than the file system takes (255 bytes: 86 CJK characters) was the
// torrent's error (ENAMETOOLONG), as with WebTorrent's store. It is cut to fit on disk,
// keeping its extension, and two long names that begin alike stay two files.
test('file names too long for the file system are cut to fit, keeping the extension; two that begin alike stay apart', async t => {
  const dir = await tempDir(t)
  const long = '長い名前'.repeat(30)
  const files = [
    { path: `${long}/${long}-part one.mkv`, data: randomBytes(31, 70_001) },
    { path: `${long}/${long}-part two.mkv`, data: randomBytes(32, 50_003) },
    { path: `${long}/short.txt`, data: randomBytes(33, 1_000) }
  ]
  const seeder = client(t)
  const seeded = seeder.seed(files.map(f => ({ path: f.path, data: f.data })), { announce: [], store: 'memory', pieceLength: 32768 })
  await once(seeded, 'seed')
  const down = await downloadFrom(t, seeder, seeded.torrentFile, path.join(dir, 'down'))
  const [folder] = await readdir(path.join(dir, 'down'))
  assert.ok(Buffer.byteLength(folder) <= 255)
  assert.ok(folder.startsWith('長い名前'))
  const names = (await readdir(path.join(dir, 'down', folder))).sort()
  assert.equal(names.length, 3)
  assert.ok(names.every(n => Buffer.byteLength(n) <= 255), 'every name fits')
  assert.equal(names.filter(n => n.endsWith('.mkv')).length, 2, 'the extension kept, two files')
  assert.ok(names.includes('short.txt'))
  const onDisk = await Promise.all(names.map(n => readFile(path.join(dir, 'down', folder, n))))
  for (const f of files) assert.ok(onDisk.some(b => b.equals(Buffer.from(f.data))), f.path)
  const times = await down.getFileModtimes()
  assert.ok(times.every(time => typeof time === 'number'), 'getFileModtimes finds them')
})

test("BEP 47's attr 'x': the file is made executable, as libtorrent makes it; others are not", async t => {
  const dir = await tempDir(t)
  const run = randomBytes(41, 10_000)
  const data = randomBytes(42, 20_000)
  const torrentFile = await handMadeTorrent('tool', 16384, [
    { path: ['run.sh'], data: run, attr: 'x' },
    { path: ['empty.sh'], data: new Uint8Array(0), attr: 'x' },
    { path: ['data.bin'], data }
  ])
  await mkdir(path.join(dir, 'seed', 'tool'), { recursive: true })
  await writeFile(path.join(dir, 'seed', 'tool', 'run.sh'), run)
  await writeFile(path.join(dir, 'seed', 'tool', 'data.bin'), data)
  const seeder = client(t)
  const seeded = seeder.add(torrentFile, { path: path.join(dir, 'seed') })
  await once(seeded, 'done')
  const down = await downloadFrom(t, seeder, torrentFile, path.join(dir, 'down'))
  const mode = async name => (await stat(path.join(dir, 'down', 'tool', name))).mode
  assert.notEqual(await mode('run.sh') & 0o111, 0, 'run.sh executable')
  assert.notEqual(await mode('empty.sh') & 0o111, 0, 'empty.sh executable')
  assert.equal(await mode('data.bin') & 0o111, 0, 'data.bin not executable')
  assert.deepEqual(await readFile(path.join(dir, 'down', 'tool', 'run.sh')), Buffer.from(run))
})

test("destroyStore on a seed of the user's own files leaves them (WebTorrent's deletes them); on a download, deletes what it wrote", async t => {
  const dir = await tempDir(t)
  const own = path.join(dir, 'mine.bin')
  await writeFile(own, randomBytes(43, 100_000))
  const seeder = client(t)
  const seeded = seeder.seed(own, { announce: [] })
  await once(seeded, 'seed')
  const down = await downloadFrom(t, seeder, seeded.torrentFile, path.join(dir, 'down'))
  await down.client.remove(down.infoHash, { destroyStore: true })
  assert.deepEqual(await readdir(path.join(dir, 'down')).catch(() => []), [], 'the download deleted')
  await new Promise(resolve => seeded.destroy({ destroyStore: true }, resolve))
  assert.equal((await stat(own)).size, 100_000, 'the seeded file is still there')
})

test("a folder that cannot be written (a file where a folder should be): the torrent's error, the file system's cause, no late warning", async t => {
  const dir = await tempDir(t)
  const { seeder, seeded } = await seededAndCopied(t, 'unwritable', 31)
  const torrentFile = seeded.torrentFile
  await writeFile(path.join(dir, 'blocker'), 'x')
  const c = client(t)
  const warnings = []
  c.on('warning', err => warnings.push(err.message))
  const down = c.add(torrentFile, { path: path.join(dir, 'blocker', 'below') })
  const failed = once(down, 'error', 20000)
  down.once('infoHash', () => down.addPeer(`127.0.0.1:${seeder.torrentPort}`))
  const [err] = await failed
  assert.equal(err.code, 'storage_failed')
  assert.equal(err.cause.code, 'ENOTDIR', "the file system's error, as WebTorrent's carries it")
  assert.match(err.message, /ENOTDIR/)
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.deepEqual(warnings, [], "the failed store's other writes are not the client's warnings")
  assert.equal(c.torrents.length, 0)
})

test("a path under /proc (where Node's recursive mkdir never settles): the torrent's error, and the client is destroyed", { skip: process.platform !== 'linux' }, async t => {
  const { seeder, seeded } = await seededAndCopied(t, 'proc', 35)
  const c = new WasmTorrent({ tracker: false })
  const down = c.add(seeded.torrentFile, { path: '/proc/wasmtorrent-nope' })
  const failed = once(down, 'error', 20000)
  down.once('infoHash', () => down.addPeer(`127.0.0.1:${seeder.torrentPort}`))
  const [err] = await failed
  assert.equal(err.code, 'storage_failed')
  assert.equal(err.cause.code, 'ENOENT')
  await c.destroy() // hung before, waiting for a mkdir that never settled
})

test('makeDirs: folders made level by level; an existing one is fine; a file in the way is an error', async t => {
  const dir = await tempDir(t)
  const deep = path.join(dir, 'a', 'b', 'c')
  await makeDirs(deep)
  await makeDirs(deep)
  assert.ok((await stat(deep)).isDirectory())
  await writeFile(path.join(dir, 'file'), 'x')
  await assert.rejects(makeDirs(path.join(dir, 'file')), err => err.code === 'EEXIST')
  await assert.rejects(makeDirs(path.join(dir, 'file', 'below')), err => err.code === 'ENOTDIR')
})

test("file.done turns true with the file's 'done' event, as WebTorrent's, also when the files are found on disk", async t => {
  const { seeded, down } = await seededAndCopied(t, 'flags', 33)
  const torrent = client(t).add(seeded.torrentFile, { path: down })
  const early = []
  const seen = []
  const files = () => torrent.files.filter(f => f.length > 0) // an empty one is done from the start
  torrent.once('ready', () => {
    for (const f of files()) {
      if (f.done) early.push(f.path) // its 'done' must have come already
      f.once('done', () => seen.push([f.path, files().filter(g => g.done).length]))
    }
  })
  await once(torrent, 'done')
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.ok(files().length >= 2)
  assert.equal(seen.length + early.length, files().length)
  seen.forEach(([, doneNow], i) => assert.equal(doneNow, early.length + i + 1, 'one more done at each event'))
})
