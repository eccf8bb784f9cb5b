// torrent.rescanFiles(cb) and getFileModtimes(cb) under Node, as WebTorrent's: bytes put in
// the torrent's folder from outside become pieces had once a rescan hashes them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile, stat, mkdir } from 'node:fs/promises'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, once, randomBytes } from './helpers.mjs'

const PIECE = 16384

function client (t) {
  const c = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => c.destroy())
  return c
}

const rescan = torrent => new Promise((resolve, reject) => torrent.rescanFiles(err => (err ? reject(err) : resolve())))

test('rescanFiles: pieces written into the folder from outside are verified and had; done once all are', async t => {
  const dir = await tempDir(t)
  const data = randomBytes(71, 10 * PIECE + 123)
  const torrentFile = await WasmTorrent.createTorrent(Object.assign(Buffer.from(data), { name: 'outside.bin' }),
    { announceList: [], pieceLength: PIECE })
  const c = client(t)
  const torrent = c.add(torrentFile, { path: dir })
  await once(torrent, 'ready')
  assert.equal(torrent.progress, 0)
  const verified = []
  torrent.on('verified', i => verified.push(i))
  const file = path.join(dir, torrent.files[0].path)

  // Nothing there yet: nothing found.
  await rescan(torrent)
  assert.deepEqual(verified, [])

  // The first four pieces and half of the fifth: four pieces.
  await writeFile(file, data.subarray(0, 4.5 * PIECE))
  await rescan(torrent)
  assert.deepEqual(verified.sort((a, b) => a - b), [0, 1, 2, 3])
  assert.equal(torrent.downloaded, 4 * PIECE)

  // All of it, with piece 6 damaged: every piece but 6; then 6 repaired.
  const damaged = Buffer.from(data)
  damaged[6 * PIECE + 5] ^= 1
  await writeFile(file, damaged)
  await torrent.rescanFiles() // the Promise form
  assert.deepEqual(verified.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 7, 8, 9, 10])
  assert.equal(torrent.done, false)
  const done = once(torrent, 'done')
  await writeFile(file, data)
  // Two at once run one after the other; both call back.
  await Promise.all([rescan(torrent), rescan(torrent)])
  await done
  assert.equal(verified.length, 11)
  assert.equal(torrent.progress, 1)
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
})

test('rescanFiles after destroy throws; getFileModtimes gives each file\'s mtime (not_supported without files on disk)', async t => {
  const dir = await tempDir(t)
  const a = randomBytes(72, 20_000)
  const b = randomBytes(73, 30_000)
  const c = client(t)
  await writeFile(path.join(dir, 'a.bin'), a)
  await writeFile(path.join(dir, 'b.bin'), b)
  const torrentFile = await WasmTorrent.createTorrent([path.join(dir, 'a.bin'), path.join(dir, 'b.bin')],
    { announceList: [], pieceLength: PIECE, name: 'pair' })
  const torrent = c.add(torrentFile, { path: path.join(dir, 'copy') })
  await once(torrent, 'ready')
  // Only the first file is there.
  const first = path.join(dir, 'copy', torrent.files[0].path)
  await mkdir(path.dirname(first), { recursive: true })
  await writeFile(first, torrent.files[0].name === 'a.bin' ? a : b)
  const times = await new Promise((resolve, reject) => torrent.getFileModtimes((err, v) => (err ? reject(err) : resolve(v))))
  assert.equal(times.length, 2)
  assert.equal(times[0], (await stat(first)).mtime.getTime())
  assert.equal(times[1], undefined)

  const memory = c.add(await WasmTorrent.createTorrent(Object.assign(Buffer.from(a), { name: 'm.bin' }), { announceList: [] }),
    { store: 'memory' })
  await once(memory, 'ready')
  await assert.rejects(memory.getFileModtimes(), err => err.code === 'not_supported')

  torrent.destroy()
  assert.throws(() => torrent.rescanFiles(), /destroyed/)
})
