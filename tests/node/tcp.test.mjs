// TCP details under Node: IPv6 peers, a torrentPort already in use, a refused address.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once } from './helpers.mjs'

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  t.after(() => c.destroy())
  return c
}

test('a torrent moves between two clients over IPv6 TCP (addPeer [::1]:port)', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'six', 71)
  const seeder = client(t, { utp: false }) // (uTP would carry it first: utp.test.mjs)
  const seeded = seeder.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  const leecher = client(t, { utp: false })
  const torrent = leecher.add(seeded.torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.addPeer(`[::1]:${seeder.torrentPort}`), true)
  const [wire] = await once(torrent, 'wire')
  assert.equal(wire.type, 'tcpOutgoing')
  assert.equal(wire.remoteAddress, '::1')
  assert.equal(wire.remotePort, seeder.torrentPort)
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  assert.equal(seeded.wires[0]?.type, 'tcpIncoming')
})

test('a torrentPort in use is a warning, and the client still dials out', async t => {
  const blocker = net.createServer()
  await new Promise(resolve => blocker.listen(0, resolve))
  t.after(() => blocker.close())
  const port = blocker.address().port
  const c = client(t, { torrentPort: port })
  const [warning] = await once(c, 'warning')
  assert.equal(warning.code, 'listen_failed')
  assert.match(warning.message, new RegExp(`torrentPort ${port} is in use`))
  await c.whenReady()
  assert.equal(c.torrentPort, 0)

  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'out', 73)
  const seeder = client(t)
  const seeded = seeder.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  const torrent = c.add(seeded.torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  torrent.addPeer('127.0.0.1:1') // refused: no harm
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})

test("a torrentPort in use, with an 'error' listener: the client's 'error' (EADDRINUSE), as WebTorrent's", async t => {
  const blocker = net.createServer()
  await new Promise(resolve => blocker.listen(0, resolve))
  t.after(() => blocker.close())
  const c = client(t, { torrentPort: blocker.address().port })
  const [err] = await once(c, 'error')
  assert.equal(err.code, 'EADDRINUSE')
})

test("'ready', then 'listening' (as WebTorrent's)", async t => {
  const c = client(t)
  const order = []
  c.once('ready', () => order.push('ready'))
  await once(c, 'listening')
  assert.deepEqual(order, ['ready'])
})

test('listening, address() and the \'listening\' event; add() of a .torrent file path', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'pfad', 73)
  const seeder = client(t)
  assert.equal(seeder.listening, false)
  assert.equal(seeder.address(), null)
  await once(seeder, 'listening')
  assert.equal(seeder.listening, true)
  assert.equal(seeder.address().port, seeder.torrentPort)
  const seeded = seeder.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  const torrentFile = path.join(dir, 'pfad.torrent')
  await (await import('node:fs/promises')).writeFile(torrentFile, seeded.torrentFile)

  const leecher = client(t)
  const torrent = leecher.add(torrentFile, { path: path.join(dir, 'down') })
  await once(torrent, 'infoHash')
  assert.equal(torrent.infoHash, seeded.infoHash)
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  await once(torrent, 'done')
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)

  // A path that names no file is still a bad id, with WebTorrent's message.
  const bad = leecher.add(path.join(dir, 'missing.torrent'))
  const [err] = await once(bad, 'error')
  assert.match(err.message, /^Invalid torrent identifier/)
})

test("a peer that sends its handshake and hangs up at once: its wire still says 'tcpIncoming', and the address without the port", async t => {
  const c = client(t, { utp: false })
  const seeded = c.seed(Object.assign(Buffer.alloc(100_000, 7), { name: 'brief.bin' }), { announce: [] })
  await once(seeded, 'seed')
  await c.whenReady()
  const seen = []
  seeded.on('wire', wire => seen.push([wire.type, wire.remoteAddress, typeof wire.remotePort]))
  const handshake = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8),
    Buffer.from(seeded.infoHash, 'hex'), Buffer.alloc(20, 0x42)])
  for (let i = 0; i < 10; i++) {
    const socket = net.connect(c.torrentPort, '127.0.0.1', () => { socket.end(handshake); socket.destroy() })
    socket.on('error', () => {})
  }
  for (let i = 0; i < 100 && seen.length < 10; i++) await new Promise(resolve => setTimeout(resolve, 20))
  assert.ok(seen.length > 0)
  for (const wire of seen) assert.deepEqual(wire, ['tcpIncoming', '127.0.0.1', 'number'])
})
