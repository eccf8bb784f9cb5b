// Torrents with BEP 47 pad files, as libtorrent 2 (qBittorrent, Deluge) makes them by default:
// hybrid v1/v2 torrents whose every file is padded to a piece boundary. The pad files are
// zeros for alignment: not the torrent's files (as libtorrent and qBittorrent
// show them), never written to disk, read as zeros when a peer asks for their bytes. Until
// 2026-12-07 the Node store refused such a torrent ("the files do not add up"), and for a
// magnet that refusal was thrown out of the run loop.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import FSChunkStore from 'fs-chunk-store'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once, jsonProcess, libtorrentPeer, writeTorrent, handMadeTorrent, here } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent({ tracker: false, dht: false, lsd: false, natUpnp: false, natPmp: false })
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

// libtorrent's .torrent of the content: { file, infoHash, magnet } (both xt= in the magnet).
async function hybrid (t, dir, content, extra = []) {
  const file = path.join(dir, 'hybrid.torrent')
  const made = jsonProcess(t, '/usr/bin/python3', [path.join(here, 'peers/libtorrent_peer.py'), 'create', file, content.root, '--piece-length', '32768', ...extra])
  const { infoHash, magnet } = await made.waitFor(s => s.magnet, 30000, 'libtorrent to create the torrent')
  return { file, infoHash, magnet }
}

async function allFiles (dir) {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter(e => e.isFile()).map(e => path.relative(dir, path.join(e.parentPath ?? e.path, e.name))).sort()
}

test('a hybrid torrent from libtorrent: parseTorrent lists its pad files, the torrent does not; downloaded byte-exact, no pad file on disk', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'hybrid', 3)
  const torrent = await hybrid(t, dir, content)
  const parsed = await WasmTorrent.parseTorrent(await readFile(torrent.file))
  const pads = parsed.files.filter(f => /(^|\/)\.pad\//.test(f.path))
  assert.ok(pads.length >= 2, 'libtorrent padded the files')
  const lt = libtorrentPeer(t, 'seed', torrent.file, path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const down = c.add(torrent.file, { path: path.join(dir, 'down') })
  await once(down, 'infoHash')
  const expected = content.files.map(f => f.path).sort()
  assert.deepEqual(down.files.map(f => f.path).sort(), expected, "'infoHash': the files without the pads")
  down.addPeer(`127.0.0.1:${port}`)
  await once(down, 'done')
  assert.deepEqual(down.files.map(f => f.path).sort(), expected)
  assert.equal(down.length, parsed.length, 'the length counts the pads')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.deepEqual(await allFiles(path.join(dir, 'down')), expected)
  for (const f of down.files) assert.equal(f.progress, 1)
})

test("a hybrid torrent's magnet (btih and btmh): the metadata from libtorrent, then the files", async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'hybrid magnet', 4)
  const torrent = await hybrid(t, dir, content)
  assert.match(torrent.magnet, /xt=urn:btmh:1220/)
  const lt = libtorrentPeer(t, 'seed', torrent.file, path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const down = c.add(torrent.magnet, { path: path.join(dir, 'down') })
  await once(down, 'infoHash')
  assert.equal(down.infoHash, torrent.infoHash)
  down.addPeer(`127.0.0.1:${port}`)
  await once(down, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.deepEqual(await allFiles(path.join(dir, 'down')), content.files.map(f => f.path).sort())
})

test('a hybrid torrent resumed from its files on disk is seeded to libtorrent (pad bytes read as zeros)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'hybrid seed', 5)
  const torrent = await hybrid(t, dir, content)
  const c = client(t)
  await c.whenReady()
  const seeding = c.add(torrent.file, { path: path.join(dir, 'seed') })
  await once(seeding, 'ready')
  assert.equal(seeding.progress, 1, 'every piece found on disk')
  const lt = libtorrentPeer(t, 'download', torrent.file, path.join(dir, 'down'), [`127.0.0.1:${c.torrentPort}`])
  await lt.waitFor(s => s.done, 60000, 'libtorrent to finish')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})

test("a chunk store (WebTorrent's fs-chunk-store) is told of the pad files, as WebTorrent tells it", async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'hybrid chunks', 6)
  const torrent = await hybrid(t, dir, content)
  const lt = libtorrentPeer(t, 'seed', torrent.file, path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const down = c.add(torrent.file, { store: FSChunkStore, path: path.join(dir, 'chunks') })
  await once(down, 'infoHash')
  down.addPeer(`127.0.0.1:${port}`)
  await once(down, 'done')
  for (const f of content.files) {
    const file = down.files.find(x => x.path === f.path)
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), Buffer.from(f.data), f.path)
  }
})

test('a v2-only torrent and its magnet (no v1 info-hash) are refused with an error that says so', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'v2 only', 7)
  const torrent = await hybrid(t, dir, content, ['--v2-only'])
  assert.equal(torrent.infoHash, null)
  const c = client(t)
  for (const id of [await readFile(torrent.file), torrent.magnet]) {
    const [err] = await once(c.add(id), 'error')
    assert.match(err.message, /^Invalid torrent identifier: .*v2-only/)
  }
})

test("a hybrid torrent's magnet with so= (BEP 53): the index counts the pad files, as libtorrent's and WebTorrent's", async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'hybrid so', 4)
  const torrent = await hybrid(t, dir, content)
  const parsed = await WasmTorrent.parseTorrent(await readFile(torrent.file))
  // The last file of the info dictionary that is not a pad: pads come before it, so its index
  // there is not its index in torrent.files.
  const index = parsed.files.findLastIndex(f => !/(^|\/)\.pad\//.test(f.path))
  const wanted = parsed.files[index]
  assert.ok(!/(^|\/)\.pad\//.test(wanted.path) && parsed.files.slice(0, index).some(f => /(^|\/)\.pad\//.test(f.path)))
  const lt = libtorrentPeer(t, 'seed', torrent.file, path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

  const c = client(t)
  const down = c.add(`${torrent.magnet}&so=${index}`, { path: path.join(dir, 'down') })
  down.addPeer(`127.0.0.1:${port}`)
  await once(down, 'metadata')
  const file = down.files.find(f => f.path === wanted.path)
  // The listed file first (then the rest, as WebTorrent's startup check selects them).
  const order = []
  for (const f of down.files.filter(f => f.length > 0)) f.once('done', () => order.push(f.path))
  await once(down, 'done')
  assert.equal(order[0], wanted.path, order.join(', '))
  const data = content.files.find(f => f.path === wanted.path).data
  assert.deepEqual(Buffer.from(await file.arrayBuffer()), Buffer.from(data))
})

// A hand-made torrent `name` of 16 KiB pieces: a.bin (10,000 random bytes), a pad file
// (padEntry: its path and attr) up to the piece boundary, b.bin (bLength random bytes).
async function paddedTorrent (dir, name, padEntry, bLength) {
  const { randomBytes } = await import('node:crypto')
  const pieceLength = 16384
  const a = randomBytes(10000)
  const b = randomBytes(bLength)
  const pad = Buffer.alloc(pieceLength - a.length)
  const file = await writeTorrent(dir, await handMadeTorrent(name, pieceLength, [
    { path: ['a.bin'], data: a },
    { ...padEntry, data: pad },
    { path: ['b.bin'], data: b }
  ]))
  return { file, a, b, pad }
}

test("BitComet's pad files (known by name, no attr): not the torrent's files and never on disk, as libtorrent's", async t => {
  const dir = await tempDir(t)
  const name = '_____padding_file_0_if you see this file, please update to BitComet 0.85 or above____'
  const { file, a, b } = await paddedTorrent(dir, 'comet', { path: [name] }, 5000)
  await mkdir(path.join(dir, 'seed', 'comet'), { recursive: true })
  await writeFile(path.join(dir, 'seed', 'comet', 'a.bin'), a)
  await writeFile(path.join(dir, 'seed', 'comet', 'b.bin'), b)
  const lt = libtorrentPeer(t, 'seed', file, path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed (it needs no pad file on disk)')

  const c = client(t)
  const down = c.add(file, { path: path.join(dir, 'down') })
  await once(down, 'infoHash')
  assert.deepEqual(down.files.map(f => f.name), ['a.bin', 'b.bin'])
  down.addPeer(`127.0.0.1:${port}`)
  await once(down, 'done')
  assert.deepEqual(down.files.map(f => f.name), ['a.bin', 'b.bin'])
  assert.deepEqual(await allFiles(path.join(dir, 'down')), ['comet/a.bin', 'comet/b.bin'])
  assert.deepEqual(await readFile(path.join(dir, 'down', 'comet', 'b.bin')), b)
})

test("torrent.load() of a padded torrent takes its files' bytes without the pads (or with them), and seeds them", async t => {
  const dir = await tempDir(t)
  const { file, a, b, pad } = await paddedTorrent(dir, 'loaded', { path: ['.pad', '6384'], attr: 'p' }, 20000)
  const c = client(t)
  const seeding = c.add(file, { path: path.join(dir, 'seed') })
  await once(seeding, 'ready')
  assert.equal(seeding.progress, 0)
  await seeding.load([a, b]) // the app's two files, as torrent.files lists them
  assert.equal(seeding.progress, 1)
  assert.deepEqual(await readFile(path.join(dir, 'seed', 'loaded', 'b.bin')), b)

  const other = client(t)
  const padded = other.add(file, { path: path.join(dir, 'padded') })
  await once(padded, 'ready')
  await assert.rejects(padded.load([a]), /load: 10000 bytes given, the torrent has 36384/) // neither: a clear error
  await padded.load(Buffer.concat([a, pad, b])) // the whole byte stream, pads included
  assert.equal(padded.progress, 1)

  const leecher = client(t)
  const got = leecher.add(file, { path: path.join(dir, 'leech') })
  got.addPeer(`127.0.0.1:${c.torrentPort}`)
  await once(got, 'done')
  assert.deepEqual(await readFile(path.join(dir, 'leech', 'loaded', 'a.bin')), a)
  assert.deepEqual(await readFile(path.join(dir, 'leech', 'loaded', 'b.bin')), b)
})
