// Files past 4 GiB: a 64-bit size everywhere from the disk to the torrent. Node 20's
// fs.openAsBlob gives a file's size modulo 2^32, and seed(path) once read files through it:
// a 5 GiB film was seeded as a torrent of its first GiB. The files here are sparse (a few
// marked bytes in a hole), so they cost no disk, only the hashing of seed().
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { open, writeFile, appendFile } from 'node:fs/promises'
import { openAsBlob } from 'node:fs'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import WebTorrent from 'webtorrent'
import { DiskFile } from '../../web/storage/fs.js'
import { parseTorrentNpm } from '../js/helpers.mjs'
import { tempDir, once, randomBytes } from './helpers.mjs'

const GiB = 2 ** 30

async function sparseFile (file, size, marks) {
  const handle = await open(file, 'w')
  try {
    await handle.truncate(size)
    for (const [at, text] of marks) await handle.write(Buffer.from(text), 0, text.length, at)
  } finally {
    await handle.close()
  }
}

test('seed(path) of a file past 4 GiB: the torrent has its whole length, and WebTorrent reads bytes past 4 GiB from our seed', { timeout: 280_000 }, async t => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'film.mkv')
  const size = 4 * GiB + 3 * 2 ** 20 + 7
  const marks = [[0, 'first bytes'], [2 ** 31 - 4, 'across 2 GiB'], [2 ** 32 - 6, 'across 4 GiB'], [2 ** 32 + 2 ** 20 + 3, 'past 4 GiB'], [size - 8, 'the end.']]
  await sparseFile(file, size, marks)

  const seeder = new WasmTorrent({ tracker: false, dht: false, lsd: false })
  t.after(() => seeder.destroy())
  const seeded = seeder.seed(file, { announce: [], pieceLength: 16 * 2 ** 20 })
  await once(seeded, 'seed')
  assert.equal(seeded.length, size)
  assert.equal(seeded.files[0].length, size)
  assert.equal(seeded.pieces.length, Math.ceil(size / (16 * 2 ** 20)))
  const parsed = await parseTorrentNpm(seeded.torrentFile)
  assert.equal(parsed.length, size, 'parse-torrent reads the same length')
  assert.equal(parsed.infoHash, seeded.infoHash)

  // WebTorrent 2.8.5 checks every piece it reads against the torrent's hashes.
  const leecher = new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
  t.after(() => new Promise(resolve => leecher.destroy(resolve)))
  const torrent = leecher.add(seeded.torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'ready')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  for (const [at, text] of marks) {
    const chunks = []
    for await (const chunk of torrent.files[0].createReadStream({ start: at, end: at + text.length - 1 })) chunks.push(Buffer.from(chunk))
    assert.equal(Buffer.concat(chunks).toString(), text, `the bytes at ${at}`)
  }
})

test('DiskFile (what seed(path) reads): size, slice() and the bytes as a Blob of the file gives them; a file changed since is a read error', async t => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'a.bin')
  const data = randomBytes(3, 100_003)
  await writeFile(file, data)
  const ours = await DiskFile.open(file)
  const blob = await openAsBlob(file) // right for files under 4 GiB
  assert.ok(ours instanceof Blob)
  assert.equal(ours.size, blob.size)
  const ranges = [[], [0], [10], [-10], [5, 50], [50, 5], [-100, -3], [-200_000], [0, 200_000], [99_999, 100_003], [undefined, 7], [Infinity], [-Infinity, 3]]
  for (const range of ranges) {
    const a = ours.slice(...range)
    const b = blob.slice(...range)
    assert.equal(a.size, b.size, `slice(${range})`)
    assert.deepEqual(new Uint8Array(await a.arrayBuffer()), new Uint8Array(await b.arrayBuffer()), `slice(${range})`)
    assert.deepEqual(new Uint8Array(await a.slice(1, -1).arrayBuffer()), new Uint8Array(await b.slice(1, -1).arrayBuffer()), `slice(${range}).slice(1, -1)`)
  }
  // Fractions as WebIDL's [Clamp] rounds them (Node's Blob aborts the process on them).
  assert.deepEqual(new Uint8Array(await ours.slice(3.7, 9.2).arrayBuffer()), data.subarray(4, 9))
  assert.deepEqual(new Uint8Array(await ours.slice(2.5, 5.5).arrayBuffer()), data.subarray(2, 6))
  const streamed = []
  for await (const chunk of ours.slice(7).stream()) streamed.push(chunk)
  assert.deepEqual(new Uint8Array(Buffer.concat(streamed)), data.subarray(7))
  assert.equal(await ours.slice(0, 0).text(), '')
  await appendFile(file, 'more')
  await assert.rejects(ours.slice(0, 10).arrayBuffer(), err => err.name === 'NotReadableError' && /changed since it was opened/.test(err.message))
})

test('seed() of a path and a Buffer together: a piece that spans both is served right', async t => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'a.bin')
  const a = randomBytes(11, 40_000)
  const b = Object.assign(Buffer.from(randomBytes(12, 30_001)), { name: 'b.bin' })
  await writeFile(file, a)
  const seeder = new WasmTorrent({ tracker: false, dht: false, lsd: false })
  t.after(() => seeder.destroy())
  for (const store of ['memory', undefined]) {
    const seeded = seeder.seed([file, b], { name: `both-${store}`, announce: [], pieceLength: 16_384, store, path: path.join(dir, `seed-${store}`) })
    await once(seeded, 'seed')
    const leecher = new WasmTorrent({ tracker: false, dht: false, lsd: false })
    t.after(() => leecher.destroy())
    const torrent = leecher.add(seeded.torrentFile, { store: 'memory' })
    await once(torrent, 'ready')
    torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
    await once(torrent, 'done')
    const got = torrent.files.map(f => f.name)
    assert.deepEqual(got.sort(), ['a.bin', 'b.bin'])
    const byName = Object.fromEntries(await Promise.all(torrent.files.map(async f => [f.name, new Uint8Array(await f.arrayBuffer())])))
    assert.deepEqual(byName['a.bin'], a, `store ${store}`)
    assert.deepEqual(byName['b.bin'], new Uint8Array(b), `store ${store}`)
  }
})

// A magnet of a torrent with half a million pieces: its info dict (10 MB of piece hashes)
// comes over ut_metadata, as WebTorrent's takes it (up to 10 MB). Until 2026-12-07 ours took
// 8 MiB at most, and such a magnet never got its metadata. No content moves: the peer that
// gives the metadata has none of the pieces.
test("a magnet whose info dict is 10 MB (500,000 pieces) gets it from a peer", { timeout: 120_000 }, async t => {
  const pieces = 500_000
  const info = { length: pieces * 16384, name: 'half a million pieces.bin', 'piece length': 16384, pieces: randomBytes(41, pieces * 20) }
  const { default: bencode } = await import('bencode')
  const torrentFile = bencode.encode({ info })
  assert.ok(bencode.encode(info).length > 10_000_000)
  const quiet = { dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false, utp: false }
  const holder = new WasmTorrent(quiet)
  t.after(() => holder.destroy())
  const held = holder.add(torrentFile, { store: 'memory' })
  await once(held, 'ready', 60_000)
  const client = new WasmTorrent(quiet)
  t.after(() => client.destroy())
  const torrent = client.add(`magnet:?xt=urn:btih:${held.infoHash}`, { store: 'memory' })
  await once(torrent, 'infoHash')
  torrent.addPeer(`127.0.0.1:${holder.torrentPort}`)
  await once(torrent, 'metadata', 60_000)
  assert.equal(torrent.pieces.length, pieces)
  assert.equal(torrent.name, info.name)
})
