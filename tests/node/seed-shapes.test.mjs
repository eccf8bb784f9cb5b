// seed() of inputs whose torrent shape the engine once refused or changed: a Readable with
// create-torrent's odd piece lengths (5 bytes), and a folder holding a single file (a
// folder torrent, as create-torrent makes). The info-hashes are npm create-torrent's, and
// a second client downloads each. Written from WebTorrent's documented behaviour.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { createTorrentNpm, parseTorrentNpm } from '../js/helpers.mjs'
import { tempDir, once, randomBytes, sameFiles } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => c.destroy())
  return c
}

async function download (t, seeder, id, opts) {
  const leecher = client(t)
  const torrent = leecher.add(id, opts)
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  return torrent
}

for (const pieceLength of [5, 20000]) {
  test(`seed() of a Readable with pieceLength ${pieceLength}: create-torrent's info-hash; a magnet download gets the bytes`, async t => {
    const text = pieceLength === 5 ? Buffer.from('HELLO WORLD\n') : Buffer.from(randomBytes(5, 70_003))
    const seeder = client(t)
    await seeder.whenReady()
    const seeded = seeder.seed([Readable.from([text])], { name: 'hello.txt', pieceLength, announce: [] })
    await once(seeded, 'seed')
    assert.equal(seeded.pieceLength, pieceLength)
    assert.equal(seeded.length, text.length)
    assert.equal(seeded.pieces.length, Math.ceil(text.length / pieceLength))
    const npm = await parseTorrentNpm(await createTorrentNpm(Object.assign(Buffer.from(text), { name: 'hello.txt' }), { pieceLength }))
    assert.equal(seeded.infoHash, npm.infoHash)

    const torrent = await download(t, seeder, seeded.magnetURI, { store: 'memory' })
    assert.equal(torrent.files.length, 1)
    assert.equal(torrent.files[0].name, 'hello.txt')
    assert.equal(torrent.files[0].length, text.length)
    assert.equal(torrent.pieceLength, pieceLength)
    assert.deepEqual(Buffer.from(await torrent.files[0].arrayBuffer()), text)
  })
}

test('seed() of a folder holding one file: a folder torrent named after it, as create-torrent makes', async t => {
  const dir = await tempDir(t)
  const data = randomBytes(6, 40_000)
  const folder = path.join(dir, 'only-one')
  await mkdir(path.join(folder, 'sub'), { recursive: true })
  await writeFile(path.join(folder, 'sub', 'file.bin'), data)

  const seeder = client(t)
  await seeder.whenReady()
  const seeded = seeder.seed(folder, { announce: [] })
  await once(seeded, 'seed')
  assert.equal(seeded.name, 'only-one')
  assert.deepEqual(seeded.files.map(f => f.path), ['only-one/sub/file.bin'])
  assert.equal(seeded.path, dir)
  const npm = await parseTorrentNpm(await createTorrentNpm(folder, {}))
  assert.equal(seeded.infoHash, npm.infoHash)
  // createTorrent() of the same path agrees.
  const created = await WasmTorrent.parseTorrent(await WasmTorrent.createTorrent(folder))
  assert.equal(created.infoHash, npm.infoHash)
  // A file's path (not a folder) stays a single-file torrent.
  const single = await WasmTorrent.parseTorrent(await WasmTorrent.createTorrent(path.join(folder, 'sub', 'file.bin')))
  assert.equal(single.name, 'file.bin')
  assert.equal(single.infoHash, (await parseTorrentNpm(await createTorrentNpm(path.join(folder, 'sub', 'file.bin'), {}))).infoHash)

  await download(t, seeder, seeded.torrentFile, { path: path.join(dir, 'down') })
  assert.equal(await sameFiles(path.join(dir, 'down'), [{ path: 'only-one/sub/file.bin', data }]), null)
})

test("seed() of a folder lists it as create-torrent does: hidden entries and junk left out, symbolic links followed; a link back into the folder is a clear error", async t => {
  const dir = await tempDir(t)
  const folder = path.join(dir, 'album')
  const outside = path.join(dir, 'elsewhere')
  await mkdir(path.join(folder, 'sub'), { recursive: true })
  await mkdir(path.join(folder, '.git'), { recursive: true })
  await mkdir(path.join(folder, '__MACOSX'), { recursive: true })
  await mkdir(outside, { recursive: true })
  const kept = {
    'album/a.flac': randomBytes(21, 30_000),
    'album/sub/b.flac': randomBytes(22, 20_001),
    'album/linked.flac': randomBytes(23, 10_007), // a link to a file elsewhere
    'album/linked-folder/c.flac': randomBytes(24, 5_003) // a link to a folder elsewhere
  }
  kept['album/linked-folder/linked.flac'] = kept['album/linked.flac'] // the file is in that folder
  await writeFile(path.join(folder, 'a.flac'), kept['album/a.flac'])
  await writeFile(path.join(folder, 'sub', 'b.flac'), kept['album/sub/b.flac'])
  await writeFile(path.join(outside, 'linked.flac'), kept['album/linked.flac'])
  await writeFile(path.join(outside, 'c.flac'), kept['album/linked-folder/c.flac'])
  await symlink(path.join(outside, 'linked.flac'), path.join(folder, 'linked.flac'))
  await symlink(outside, path.join(folder, 'linked-folder'))
  for (const junk of ['.hidden', '.git/config', '__MACOSX/._a.flac', 'Thumbs.db', 'desktop.ini', 'sub/.DS_Store', 'notes.txt~']) {
    await writeFile(path.join(folder, junk), 'junk')
  }

  const seeder = client(t)
  await seeder.whenReady()
  const seeded = seeder.seed(folder, { announce: [] })
  await once(seeded, 'seed')
  const npm = await parseTorrentNpm(await createTorrentNpm(folder, {}))
  assert.deepEqual(seeded.files.map(f => f.path).sort(), npm.files.map(f => f.path).sort())
  assert.deepEqual(seeded.files.map(f => f.path).sort(), Object.keys(kept).sort())
  assert.equal(seeded.infoHash, npm.infoHash)
  await download(t, seeder, seeded.torrentFile, { path: path.join(dir, 'down') })
  assert.equal(await sameFiles(path.join(dir, 'down'), Object.entries(kept).map(([p, data]) => ({ path: p, data }))), null)

  // A link to the folder itself, deeper down: create-torrent's would recurse until ELOOP.
  await symlink(folder, path.join(folder, 'sub', 'again'))
  const looped = seeder.seed(folder, { announce: [] })
  const [err] = await once(looped, 'error')
  assert.equal(err.code, 'invalid_argument')
  assert.match(err.message, /leads back into a folder it is in/)
})

test('seed() of an empty file: a torrent with no pieces, create-torrent\'s info-hash; a magnet download makes the empty file', async t => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'empty.txt')
  await writeFile(file, '')
  const seeder = client(t)
  await seeder.whenReady()
  const seeded = seeder.seed(file, { announce: [] })
  await once(seeded, 'seed')
  assert.equal(seeded.length, 0)
  assert.equal(seeded.pieces.length, 0)
  assert.equal(seeded.progress, 1)
  assert.equal(seeded.done, true)
  assert.equal(seeded.infoHash, (await parseTorrentNpm(await createTorrentNpm(file, {}))).infoHash)

  const torrent = await download(t, seeder, seeded.magnetURI, { path: path.join(dir, 'down') })
  assert.deepEqual(torrent.files.map(f => [f.path, f.length, f.done]), [['empty.txt', 0, true]])
  assert.equal((await torrent.files[0].arrayBuffer()).byteLength, 0)
  await torrent.destroy() // the store's files are closed, the empty file made
  assert.equal(await sameFiles(path.join(dir, 'down'), [{ path: 'empty.txt', data: new Uint8Array(0) }]), null)
})

test("a name with '/' (\"AC/DC - Live.bin\"): seeded with create-torrent's info-hash; a download puts the file in a folder AC, as WebTorrent's store does", async t => {
  const dir = await tempDir(t)
  const bytes = Buffer.from(randomBytes(8, 50_001))
  const name = 'AC/DC - Live.bin'
  const seeder = client(t)
  const seeded = seeder.seed(bytes, { name, announce: [], path: path.join(dir, 'seed') })
  await once(seeded, 'seed')
  const npm = await parseTorrentNpm(await createTorrentNpm(Buffer.from(bytes), { name, announceList: [] }))
  assert.equal(seeded.infoHash, npm.infoHash)
  assert.equal(seeded.name, name)
  // From the .torrent create-torrent made (until 2026-12-06 the engine refused it).
  const down = path.join(dir, 'down')
  const torrent = await download(t, seeder, await createTorrentNpm(Buffer.from(bytes), { name, announceList: [] }), { path: down })
  assert.deepEqual(torrent.files.map(f => [f.path, f.name]), [[name, name]], "parse-torrent's path and name")
  assert.equal(await sameFiles(down, [{ path: 'AC/DC - Live.bin', data: bytes }]), null)
})

test("seed('') (a path the user left empty) is the torrent's error ENOENT, as WebTorrent's, not the working folder seeded", async t => {
  const c = client(t)
  const torrent = c.seed('', { announce: [] })
  const [err] = await once(torrent, 'error')
  assert.equal(err.code, 'ENOENT')
  assert.equal(c.torrents.length, 0)
  const mixed = c.seed([Buffer.from('x'), ''], { name: 'mixed', announce: [] })
  assert.equal((await once(mixed, 'error'))[0].code, 'ENOENT')
})

test("a seeder's client.ratio is its torrents' uploaded over their length (nothing received), as a torrent's ratio", async t => {
  const seeder = client(t)
  const bytes = Buffer.from(randomBytes(11, 100_000))
  const seeded = seeder.seed(bytes, { name: 'ratio.bin', announce: [] })
  await once(seeded, 'seed')
  assert.equal(seeder.ratio, 0)
  await download(t, seeder, seeded.torrentFile, { store: 'memory' })
  assert.ok(seeded.uploaded >= bytes.length)
  assert.equal(seeder.ratio, seeded.uploaded / bytes.length)
  assert.equal(seeder.ratio, seeded.ratio)
})
