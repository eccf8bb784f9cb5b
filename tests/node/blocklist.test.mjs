// The blocklist option under Node (WebTorrent's, through the engine's IP filter): every input
// form, then 'blockedPeer' from addPeer, an HTTP tracker and an incoming connection.
// Loopback only: lists are served from a local HTTP server, peers are 127.0.0.x.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import path from 'node:path'
import { writeFile } from 'node:fs/promises'
import { gzipSync, deflateSync } from 'node:zlib'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, once, startTracker } from './helpers.mjs'

// WebTorrent's fixture, in the P2P format, and what it must block and let through.
const P2P = 'Blah blah description:1.2.3.0-1.2.3.255\nBlah blah different description:5.6.7.0-5.6.7.255\n'
const BLOCKED = ['1.2.3.0', '1.2.3.1', '1.2.3.254', '1.2.3.255', '5.6.7.0', '5.6.7.128', '5.6.7.255']
const REACHABLE = ['1.1.1.1', '2.2.2.2', '1.2.4.0', '1.2.2.255']

function client (t, opts = {}) {
  const c = new WasmTorrent({ tracker: false, dht: false, ...opts })
  t.after(() => c.destroy())
  return c
}

// A torrent of the client with the engine's id (addPeer answers at once): a small seed.
async function torrentOf (c) {
  const torrent = c.seed(new Uint8Array(1000).fill(7), { name: 'x.bin', announce: [] })
  await once(torrent, 'ready')
  return torrent
}

// addPeer of each address: false with 'blockedPeer' (synchronously) when blocked, else true with 'peer'.
function check (torrent, blocked, reachable, port = 6881) {
  for (const [list, expect] of [[blocked, false], [reachable, true]]) {
    for (const ip of list) {
      const addr = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
      const seen = []
      const onBlocked = a => seen.push(['blockedPeer', a])
      const onPeer = a => seen.push(['peer', a])
      torrent.on('blockedPeer', onBlocked).on('peer', onPeer)
      assert.equal(torrent.addPeer(addr), expect, addr)
      torrent.off('blockedPeer', onBlocked).off('peer', onPeer)
      assert.deepEqual(seen, [[expect ? 'peer' : 'blockedPeer', addr]])
    }
  }
}

// A local HTTP server answering every request with handler(req, res); its URL.
async function serve (t, handler) {
  const server = http.createServer(handler)
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => server.close(resolve)))
  return `http://127.0.0.1:${server.address().port}/list.p2p`
}

test('arrays: single addresses, ranges as strings and { start, end }, CIDR, P2P lines, IPv6', async t => {
  const c = client(t, {
    blocklist: ['9.9.9.9', '1.2.3.0-1.2.3.255', { start: '5.6.7.0', end: '5.6.7.255' }, '10.0.0.0/8',
      'someone:11.0.0.1-11.0.0.2', { start: '12.0.0.1' }, '2001:db8::/32']
  })
  await once(c, 'ready')
  const torrent = await torrentOf(c)
  check(torrent, [...BLOCKED, '9.9.9.9', '10.200.1.1', '11.0.0.2', '12.0.0.1', '2001:db8::1', '::ffff:1.2.3.4'],
    [...REACHABLE, '9.9.9.8', '11.0.0.3', '2001:db9::1'])
})

test('a file path, plain and gzip (recognised by its bytes, whatever its name)', async t => {
  const dir = await tempDir(t)
  const plain = path.join(dir, 'list.p2p')
  const gz = path.join(dir, 'list.bin')
  await writeFile(plain, P2P)
  await writeFile(gz, gzipSync(P2P))
  for (const file of [plain, gz]) {
    const c = client(t, { blocklist: file })
    c.on('warning', err => assert.fail(err))
    await once(c, 'ready')
    check(await torrentOf(c), BLOCKED, REACHABLE)
  }
})

test('an http URL: plain, Content-Encoding gzip and deflate, a .gz body; the user agent names WebTorrent', async t => {
  const agents = []
  const forms = {
    plain: res => res.end(P2P),
    gzip: res => { res.setHeader('content-encoding', 'gzip'); res.end(gzipSync(P2P)) },
    deflate: res => { res.setHeader('content-encoding', 'deflate'); res.end(deflateSync(P2P)) },
    body: res => { res.setHeader('content-type', 'application/gzip'); res.end(gzipSync(P2P)) }
  }
  for (const [name, send] of Object.entries(forms)) {
    const url = await serve(t, (req, res) => { agents.push(req.headers['user-agent']); send(res) })
    const c = client(t, { blocklist: url })
    c.on('warning', err => assert.fail(err))
    await once(c, 'ready')
    await t.test(name, async () => check(await torrentOf(c), BLOCKED, REACHABLE))
  }
  assert.equal(agents.length, 4)
  for (const agent of agents) assert.match(agent, /WebTorrent/)
})

test('torrents added before the list has loaded wait for it', async t => {
  let release
  const held = new Promise(resolve => { release = resolve })
  const url = await serve(t, async (req, res) => { await held; res.end(P2P) })
  const c = client(t, { blocklist: url })
  const order = []
  c.on('ready', () => order.push('client ready'))
  const torrent = c.seed(new Uint8Array(1000).fill(7), { name: 'x.bin', announce: [] })
  torrent.on('ready', () => order.push('torrent ready'))
  setImmediate(release)
  await once(torrent, 'ready')
  assert.deepEqual(order, ['client ready', 'torrent ready'])
  check(torrent, BLOCKED, REACHABLE)
})

test('a list that cannot be loaded is the client\'s error; malformed lines of a file are a warning', async t => {
  const dir = await tempDir(t)
  const missing = client(t, { blocklist: path.join(dir, 'nothing-here.p2p') })
  const [err] = await once(missing, 'error')
  assert.equal(err.code, 'blocklist_failed')
  assert.match(err.message, /^blocklist: cannot load .*nothing-here\.p2p: .*ENOENT/)

  const url = await serve(t, (req, res) => { res.statusCode = 404; res.end() })
  const [err404] = await once(client(t, { blocklist: url }), 'error')
  assert.equal(err404.code, 'blocklist_failed')
  assert.match(err404.message, /HTTP 404/)

  const [bad] = await once(client(t, { blocklist: ['1.2.3.4', 'not an address'] }), 'error')
  assert.equal(bad.code, 'blocklist_bad_line')
  assert.match(bad.message, /line 2: 'not an address'/)

  const junk = path.join(dir, 'junk.p2p')
  await writeFile(junk, `# a comment\nheader line\n${P2P}1.2.3.4.5\n`)
  const lenient = client(t, { blocklist: junk })
  const [warning] = await once(lenient, 'warning')
  assert.equal(warning.code, 'blocklist_bad_line')
  assert.match(warning.message, /2 of 5 lines skipped.*line 2/)
  await once(lenient, 'ready')
  check(await torrentOf(lenient), BLOCKED, REACHABLE)
})

test('\'blockedPeer\' for a peer from an HTTP tracker and for an incoming connection; neither connects', async t => {
  const tracker = await startTracker(t)
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'blocked', 91)
  // The seeder blocks loopback: the leecher's connection is refused after its handshake.
  // (tracker: {}: trackers on, as the torrents name them; the helper's tracker: false has none)
  const seeder = client(t, { blocklist: ['127.0.0.0/8'], tracker: {} })
  const seeded = seeder.seed(content.root, { announce: [tracker.http] })
  await once(seeded, 'seed')
  const wires = []
  seeded.on('wire', w => wires.push(w))

  // A leecher without a list (and no tracker) dials the seeder: refused unanswered.
  const leecher = client(t)
  const torrent = leecher.add(seeded.torrentFile, { path: path.join(dir, 'down'), announce: [] })
  await once(torrent, 'ready')
  const incoming = once(seeded, 'blockedPeer')
  torrent.addPeer(`127.0.0.1:${seeder.torrentPort}`)
  const [addr] = await incoming
  assert.match(addr, /^127\.0\.0\.1:\d+$/)
  assert.equal(wires.length, 0)
  assert.equal(torrent.wires.length, 0)

  // A leecher that blocks the seeder's address hears of it from the tracker: refused.
  const careful = client(t, { blocklist: ['127.0.0.1'], tracker: {} })
  const fromTracker = careful.add(`magnet:?xt=urn:btih:${seeded.infoHash}`, { path: path.join(dir, 'down2'), announce: [tracker.http] })
  const seederAddr = `127.0.0.1:${seeder.torrentPort}`
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'blockedPeer' for ${seederAddr}`)), 60000)
    fromTracker.on('blockedPeer', a => { if (a === seederAddr) { clearTimeout(timer); resolve() } })
  })
  assert.equal(fromTracker.wires.length, 0)
  assert.equal(fromTracker.numPeers, 0)
})

test('addPeer(socket): a connection object from a blocked address is destroyed with \'blockedPeer\', as WebTorrent\'s', async t => {
  const net = await import('node:net')
  const server = net.createServer(s => s.on('error', () => {}))
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const dial = host => new Promise((resolve, reject) => {
    const s = net.connect(server.address().port, host, () => resolve(s)).once('error', reject)
  })
  const c = client(t, { blocklist: ['127.0.0.1'] })
  await once(c, 'ready')
  const torrent = await torrentOf(c)
  const socket = await dial('127.0.0.1')
  const seen = []
  torrent.on('blockedPeer', p => seen.push(['blockedPeer', p])).on('peer', p => seen.push(['peer', p]))
  assert.equal(torrent.addPeer(socket), false)
  assert.deepEqual(seen, [['blockedPeer', socket]])
  assert.equal(socket.destroyed, true)
  assert.equal(torrent.wires.length, 0)

  // A client whose list does not hold the address takes the same kind of object.
  const other = client(t, { blocklist: ['10.0.0.1'] })
  await once(other, 'ready')
  const open = await dial('127.0.0.1')
  t.after(() => open.destroy())
  assert.equal((await torrentOf(other)).addPeer(open), true)
  assert.equal(open.destroyed, false)
})
