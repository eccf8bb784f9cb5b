// Local Service Discovery (BEP 14) under Node: clients with no tracker and no DHT find each
// other by UDP multicast on the local network only: two of ours, ours with WebTorrent 2.x
// (npm webtorrent, its lsd on) both ways, and ours with libtorrent 2.0 (Debian's
// python3-libtorrent, enable_lsd) both ways. Also what goes on the wire (a socket joined to the
// group reads our announces), lsd: false, private torrents, and 'noPeers' naming 'lsd'.
// Multicast needs the namespace of
//   WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 bash scripts/loopback.sh node --test tests/node/lsd.test.mjs
// (multicast on lo, nothing else reachable); elsewhere the tests are skipped, never run on a
// real network.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import os from 'node:os'
import path from 'node:path'
import WebTorrent from 'webtorrent'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once, randomBytes, libtorrentPeer, writeTorrent, until } from './helpers.mjs'

const GROUP = '239.192.152.143'
const PORT = 6771

// Only loopback (and the veth pair of WT_NETNS_VETH) here, and the group can be joined.
const isolated = Object.keys(os.networkInterfaces()).every(name => ['lo', 'wt0', 'wt1'].includes(name))
// This namespace's addresses: an announce's source (the kernel picks one of them).
const local = Object.values(os.networkInterfaces()).flat().map(i => i.address)
async function listenToGroup () {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  const heard = []
  socket.on('message', (data, from) => heard.push({ text: data.toString('latin1'), from }))
  await new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(PORT, () => {
      try {
        socket.addMembership(GROUP)
        resolve()
      } catch (err) {
        reject(err)
      }
    })
  })
  return { socket, heard, close: () => new Promise(resolve => socket.close(resolve)) }
}
const multicast = isolated && await listenToGroup().then(l => l.close().then(() => true), () => false)
const skip = !isolated
  ? 'needs the loopback-only namespace: WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 bash scripts/loopback.sh'
  : !multicast && 'no multicast in this namespace (WT_NETNS_MULTICAST=1 scripts/loopback.sh)'

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  t.after(() => c.destroy())
  return c
}

function webtorrent (t) {
  const wt = new WebTorrent({ dht: false, tracker: false, lsd: true, utp: false, natUpnp: false, natPmp: false })
  t.after(() => new Promise(resolve => wt.destroy(resolve)))
  return wt
}


test('two clients with no tracker and no DHT: a magnet with only the info-hash downloads from the peer LSD finds', { skip }, async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'lsd', 141)
  const seeder = client(t)
  const seeded = seeder.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  assert.equal(seeder.lsd, true)
  assert.equal(seeded.discovery.lsd, true)
  const leecher = client(t)
  const torrent = leecher.add(`magnet:?xt=urn:btih:${seeded.infoHash}`, { path: path.join(dir, 'down') })
  const [wire] = await once(torrent, 'wire', 20000)
  assert.ok(local.includes(wire.remoteAddress.replace(/^::ffff:/, '')), `${wire.remoteAddress} is not an address of this namespace`)
  await once(torrent, 'done', 30000)
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})

test('on the wire: BEP 14 announces with our port and cookie, for public torrents only; lsd: false sends none', { skip, timeout: 60000 }, async t => {
  const group = await listenToGroup()
  t.after(() => group.close())
  const seeder = client(t)
  const pub = seeder.seed(Object.assign(Buffer.from(randomBytes(142, 40_001)), { name: 'public.bin' }), { announce: [], store: 'memory' })
  const priv = seeder.seed(Object.assign(Buffer.from(randomBytes(143, 40_001)), { name: 'private.bin' }),
    { announce: [], private: true, store: 'memory' })
  await Promise.all([once(pub, 'seed'), once(priv, 'seed')])
  assert.equal(priv.discovery.lsd, false)
  const quiet = client(t, { lsd: false })
  const off = quiet.seed(Object.assign(Buffer.from(randomBytes(144, 40_001)), { name: 'off.bin' }), { announce: [], store: 'memory' })
  await once(off, 'seed')
  assert.equal(quiet.lsd, false)
  assert.equal(off.discovery.lsd, false)
  await until(() => group.heard.some(h => h.text.toLowerCase().includes(pub.infoHash)), 'the public torrent announced')
  await new Promise(resolve => setTimeout(resolve, 1000))
  const ours = group.heard.find(h => h.text.toLowerCase().includes(pub.infoHash))
  const lines = ours.text.split('\r\n')
  assert.equal(lines[0], 'BT-SEARCH * HTTP/1.1')
  assert.equal(lines[1], `Host: ${GROUP}:${PORT}`)
  assert.equal(lines[2], `Port: ${seeder.torrentPort}`)
  assert.ok(lines.includes(`Infohash: ${pub.infoHash}`))
  assert.ok(lines.some(l => /^cookie: \S+$/.test(l)))
  assert.ok(local.includes(ours.from.address), `sent from ${ours.from.address}`)
  for (const h of group.heard) {
    assert.ok(!h.text.toLowerCase().includes(priv.infoHash), 'a private torrent was announced')
    assert.ok(!h.text.toLowerCase().includes(off.infoHash), 'a client with lsd: false announced')
  }
  // Announced once (within a minute: BEP 14's rate limit), as the other announces heard here.
  assert.equal(group.heard.filter(h => h.text.toLowerCase().includes(pub.infoHash)).length, 1)
})

test("'noPeers' names 'lsd' for a torrent nobody else has, never with lsd: false", { skip }, async t => {
  const named = { on: new Set(), off: new Set() }
  for (const [key, opts] of [['on', {}], ['off', { lsd: false }]]) {
    const c = client(t, opts)
    const torrent = c.add(`magnet:?xt=urn:btih:${Buffer.from(randomBytes(145 + key.length, 20)).toString('hex')}`,
      { store: 'memory', noPeersIntervalTime: 0.1 })
    torrent.on('noPeers', source => named[key].add(source))
  }
  await new Promise(resolve => setTimeout(resolve, 800))
  assert.deepEqual([...named.on].sort(), ['lsd', 'ut_pex'])
  assert.deepEqual([...named.off].sort(), ['ut_pex'])
})

test('with WebTorrent 2.x (its lsd on, no tracker, no DHT): it downloads from us, we download from it', { skip, timeout: 120000 }, async t => {
  const dir = await tempDir(t)
  const wt = webtorrent(t)
  if (!wt.torrentPort) await once(wt, 'listening')
  const ours = client(t)

  // We seed, WebTorrent finds us by LSD.
  const data = randomBytes(146, 300_001)
  const seeded = ours.seed(Object.assign(Buffer.from(data), { name: 'to-webtorrent.bin' }), { announce: [], store: 'memory' })
  await once(seeded, 'seed')
  const theirs = wt.add(`magnet:?xt=urn:btih:${seeded.infoHash}`, { path: path.join(dir, 'wt') })
  await once(theirs, 'done', 60000)
  assert.deepEqual(Buffer.from(await theirs.files[0].arrayBuffer()), Buffer.from(data))

  // WebTorrent seeds, we find it by LSD.
  const back = randomBytes(147, 300_001)
  const wtSeeded = await new Promise(resolve =>
    wt.seed(Object.assign(Buffer.from(back), { name: 'from-webtorrent.bin' }), { announce: [], path: path.join(dir, 'wt-seed') }, resolve))
  const torrent = ours.add(`magnet:?xt=urn:btih:${wtSeeded.infoHash}`, { store: 'memory' })
  await once(torrent, 'done', 60000)
  assert.deepEqual(Buffer.from(await torrent.files[0].arrayBuffer()), Buffer.from(back))
})

test('with libtorrent 2.0 (enable_lsd, no DHT, no tracker): it seeds to us, and downloads from us', { skip, timeout: 120000 }, async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'lt-lsd', 148)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'), [], ['--lsd'])
  await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')
  const ours = client(t)
  const parsed = await WasmTorrent.parseTorrent(torrentFile)
  const torrent = ours.add(`magnet:?xt=urn:btih:${parsed.infoHash}`, { path: path.join(dir, 'down') })
  await once(torrent, 'done', 60000)
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)

  // The other way: we seed other content, libtorrent finds us.
  const other = await makeContent(path.join(dir, 'ours'), 'lt-back', 149)
  const seeded = ours.seed(other.root, { announce: [] })
  await once(seeded, 'seed')
  const leecher = libtorrentPeer(t, 'download', await writeTorrent(path.join(dir, 'ours'), seeded.torrentFile), path.join(dir, 'got'), [], ['--lsd'])
  await leecher.waitFor(s => s.done, 60000, 'libtorrent to download by LSD')
  assert.equal(await sameFiles(path.join(dir, 'got'), other.files), null)
})
