// WebTorrent's add options `bitfield` and `skipVerify`: pieces the application vouches
// for are had without reading the store first, and still never delivered unhashed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, once, randomBytes } from './helpers.mjs'

const PIECE = 16384
const PIECES = 20 // a 3-byte bitfield, its last 4 bits spare

function client (t) {
  const c = new WasmTorrent({ tracker: false, dht: false, lsd: false })
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

const allPieces = () => new Uint8Array([0xff, 0xff, 0xf0])

// A one-file torrent of PIECES pieces (the last one short) and its bytes.
async function content (seed) {
  const data = randomBytes(seed, (PIECES - 1) * PIECE + 777)
  const torrentFile = await WasmTorrent.createTorrent(Object.assign(Buffer.from(data), { name: 'trusted.bin' }),
    { announceList: [], pieceLength: PIECE })
  return { data, torrentFile }
}

// Adds and records 'verified', 'ready', 'done' and warnings in the order they come.
function addRecording (c, torrentFile, opts) {
  const torrent = c.add(torrentFile, opts)
  const log = []
  torrent.on('verified', i => log.push(i))
  torrent.on('ready', () => log.push('ready'))
  torrent.on('done', () => log.push('done'))
  torrent.on('warning', err => log.push(err.code))
  return { torrent, log }
}

test('bitfield over a whole store: one piece hashed before ready (the file\'s second), done, bytes exact', async t => {
  const dir = await tempDir(t)
  const { data, torrentFile } = await content(81)
  await writeFile(path.join(dir, 'trusted.bin'), data)
  const c = client(t)
  const { torrent, log } = addRecording(c, torrentFile, { path: dir, bitfield: allPieces() })
  await once(torrent, 'done')
  assert.deepEqual(log, [1, 'ready', 'done'])
  assert.equal(torrent._hasStartupBitfield, true)
  assert.equal(torrent.progress, 1)
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
  assert.ok(!log.includes('hash_failed'))
})

test('bitfield over a store with a damaged piece: reading it finds it bad, it is fetched again, never delivered', async t => {
  const dir = await tempDir(t)
  const { data, torrentFile } = await content(82)
  const damaged = Buffer.from(data)
  damaged[7 * PIECE + 100] ^= 1
  await writeFile(path.join(dir, 'trusted.bin'), damaged)
  const seeder = client(t)
  await new Promise((resolve, reject) => seeder.seed(Object.assign(Buffer.from(data), { name: 'trusted.bin' }),
    { announce: [], pieceLength: PIECE, store: 'memory' }, resolve).once('error', reject))
  const c = client(t)
  const { torrent, log } = addRecording(c, torrentFile, { path: dir, bitfield: allPieces() })
  await once(torrent, 'done') // on the bitfield's word
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  const bytes = new Uint8Array(await torrent.files[0].arrayBuffer())
  assert.deepEqual(bytes, data)
  assert.ok(log.includes('hash_failed'), 'the bad piece is reported')
  assert.equal(torrent.done, true)
  // Fetched again: done a second time once it is in.
  assert.equal(log.filter(e => e === 'done').length, 2)
})

test('a partial bitfield: only its pieces are had; a bitfield of the wrong size is ignored (the store is checked)', async t => {
  const dir = await tempDir(t)
  const { data, torrentFile } = await content(83)
  await writeFile(path.join(dir, 'trusted.bin'), data)
  const c = client(t)
  const partial = addRecording(c, torrentFile, { path: dir, bitfield: new Uint8Array([0, 0xff, 0]) })
  await once(partial.torrent, 'ready')
  assert.deepEqual(partial.log, [9, 'ready'])
  assert.equal(partial.torrent.done, false)
  assert.equal(partial.torrent.downloaded, 8 * PIECE)
  await partial.torrent.destroy()

  const wrong = addRecording(c, torrentFile, { path: dir, bitfield: new Uint8Array([0xff, 0xff]) })
  await once(wrong.torrent, 'done')
  assert.equal(wrong.torrent._hasStartupBitfield, false)
  // As WebTorrent's: each piece found by the check is 'verified', all before 'ready'.
  assert.deepEqual(wrong.log.slice(0, PIECES).sort((a, b) => a - b), [...Array(PIECES).keys()])
  assert.deepEqual(wrong.log.slice(PIECES), ['ready', 'done'])
})

test('skipVerify over an empty folder: every piece verified before ready, done at once; the bytes come from a peer', async t => {
  const dir = await tempDir(t)
  const { data, torrentFile } = await content(84)
  const seeder = client(t)
  await new Promise((resolve, reject) => seeder.seed(Object.assign(Buffer.from(data), { name: 'trusted.bin' }),
    { announce: [], pieceLength: PIECE, store: 'memory' }, resolve).once('error', reject))
  const c = client(t)
  const { torrent, log } = addRecording(c, torrentFile, { path: dir, skipVerify: true, bitfield: allPieces() })
  await once(torrent, 'done')
  assert.deepEqual(log, [...Array(PIECES).keys(), 'ready', 'done'])
  assert.equal(torrent.skipVerify, true)
  assert.equal(torrent._hasStartupBitfield, false) // skipVerify wins, as WebTorrent's
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  assert.deepEqual(new Uint8Array(await torrent.files[0].arrayBuffer()), data)
  assert.equal(log.filter(e => e === 'hash_failed').length, PIECES)
})

// WebTorrent's fileModtimes: the files' mtimes as an earlier run read them. Unchanged: the
// store is taken as it is (as skipVerify); changed: it is checked. A byte altered with the
// mtime put back shows which: taken as had, it is found bad only when read.
test('fileModtimes: files unchanged since getFileModtimes are taken as they are; a touched file is checked', async t => {
  const dir = await tempDir(t)
  const { data, torrentFile } = await content(84)
  const file = path.join(dir, 'trusted.bin')
  await writeFile(file, data)
  const c = client(t)
  const first = c.add(torrentFile, { path: dir })
  await once(first, 'done')
  const times = await first.getFileModtimes()
  await first.destroy()

  const damaged = Buffer.from(data)
  damaged[3 * PIECE + 5] ^= 1
  await writeFile(file, damaged)
  const mtime = new Date(times[0])
  await utimes(file, mtime, mtime)
  const trusted = addRecording(c, torrentFile, { path: dir, fileModtimes: times })
  await once(trusted.torrent, 'done')
  assert.equal(trusted.torrent.skipVerify, true)
  assert.equal(trusted.torrent.progress, 1) // the altered piece too: the mtimes vouched for it
  await trusted.torrent.destroy()

  await utimes(file, new Date(), new Date(times[0] + 5000))
  const checked = addRecording(c, torrentFile, { path: dir, fileModtimes: times })
  await once(checked.torrent, 'ready')
  assert.equal(checked.torrent.skipVerify, false)
  assert.equal(checked.torrent.done, false)
  assert.equal(checked.torrent.downloaded, (PIECES - 1) * PIECE + 777 - PIECE) // all but the altered piece
})
