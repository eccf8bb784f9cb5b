// HTTP (BEP 3/23) and UDP (BEP 15) trackers under Node: bittorrent-tracker's server hands
// out the peers; wasmtorrent finds libtorrent, and another wasmtorrent, through it. A
// tracker that does not exist gives a warning, nothing worse; scrape() reads the swarm's counts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, once, libtorrentPeer, writeTorrent, startTracker, trackerKnows } from './helpers.mjs'

function client (t) {
  const c = new WasmTorrent() // no default trackers: each torrent names its own
  c.on('error', err => assert.fail(`client error: ${err.message}`))
  t.after(() => c.destroy())
  return c
}

// A client seeding fresh content (`label`, `seed` for its bytes) that announces to `url`.
async function seedVia (t, url, label, seed) {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), label, seed)
  const seeded = client(t).seed(content.root, { announce: [url] })
  await once(seeded, 'seed')
  return { dir, content, seeded }
}

for (const kind of ['http', 'udp']) {
  test(`libtorrent and wasmtorrent find each other through a ${kind.toUpperCase()} tracker`, async t => {
    const tracker = await startTracker(t)
    const dir = await tempDir(t)
    const content = await makeContent(path.join(dir, 'seed'), `via ${kind}`, kind === 'http' ? 31 : 37)
    const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [[tracker[kind]]] })
    const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'))
    await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')
    const parsed = await WasmTorrent.parseTorrent(torrentFile)
    await trackerKnows(tracker, parsed.infoHash, s => s.complete > 0, 'libtorrent') // it announced

    const c = client(t)
    const announced = []
    const torrent = c.add(torrentFile, { path: path.join(dir, 'down') })
    torrent.on('trackerAnnounce', () => announced.push(kind))
    await once(torrent, 'done')
    assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
    assert.ok(announced.length > 0, "'trackerAnnounce' after the tracker's answer")

    // scrape(): the tracker's counts for the swarm (libtorrent seeds; we are done too).
    const scraped = once(torrent, 'scrape')
    const counts = await torrent.scrape()
    assert.equal(counts.announce, tracker[kind])
    assert.ok(counts.complete >= 1, `complete ${counts.complete}`)
    assert.ok(Number.isInteger(counts.incomplete) && Number.isInteger(counts.downloaded))
    assert.deepEqual((await scraped)[0], counts)
  })
}

test('scrape() of a torrent without an HTTP or UDP tracker rejects clearly', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'no tracker', 43)
  const c = client(t)
  const seeded = c.seed(content.root, { announce: [] })
  await once(seeded, 'seed')
  await assert.rejects(seeded.scrape(), { code: 'no_tracker' })
})

test('two wasmtorrent clients meet through an HTTP tracker given to add()', async t => {
  const tracker = await startTracker(t)
  const { dir, content, seeded } = await seedVia(t, tracker.http, 'pair', 41)
  const leecher = client(t)
  const torrent = leecher.add(`magnet:?xt=urn:btih:${seeded.infoHash}`, { path: path.join(dir, 'down'), announce: [tracker.udp] })
  // The leecher only knows the UDP side of the same tracker: both announce to one swarm.
  const completed = once(tracker.server, 'complete')
  await once(torrent, 'done')
  const doneAt = Date.now()
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  // "completed" at once, as libtorrent's and WebTorrent's: not held back by the min interval
  // (60 s at least), past which a torrent removed meanwhile never sent it. The bound is half
  // that interval, not a speed claim.
  await completed
  assert.ok(Date.now() - doneAt < 30_000, `'completed' came ${Date.now() - doneAt} ms after 'done'`)
})

test('tracker: false, as WebTorrent\'s: not even the trackers a torrent names are announced to', async t => {
  const tracker = await startTracker(t)
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'still', 43)
  const quiet = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => quiet.destroy())
  const seeded = quiet.seed(content.root, { announce: [tracker.http, tracker.udp] })
  await once(seeded, 'seed')
  assert.deepEqual(seeded.announce, [tracker.http, tracker.udp], 'the torrent still lists them')
  await assert.rejects(seeded.scrape(), { code: 'no_tracker' })
  // A client with trackers adds the same torrent after it: the tracker hears only that one.
  const loud = client(t)
  loud.add(seeded.torrentFile, { path: path.join(dir, 'down') })
  await trackerKnows(tracker, seeded.infoHash, s => s.incomplete > 0, 'the client with trackers')
  const swarm = tracker.server.torrents[seeded.infoHash]
  assert.equal(swarm.complete, 0, 'the seeder with tracker: false never announced')
})

test('seedOutgoingConnections: false, as WebTorrent\'s: a seed dials none of the peers a tracker names; by default it does', async t => {
  const tracker = await startTracker(t)
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'seeding quietly', 47)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [[tracker.http]], pieceLength: 16384 })
  const { infoHash } = await WasmTorrent.parseTorrent(torrentFile)
  // A leecher the tracker names: a TCP listener that only counts who dials it.
  let dialled = 0
  const fake = net.createServer(socket => { dialled++; socket.destroy() })
  await new Promise(resolve => fake.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => fake.close(resolve)))
  const fakeAddress = `127.0.0.1:${fake.address().port}`
  const bytes = hex => Array.from(Buffer.from(hex, 'hex'), b => '%' + b.toString(16).padStart(2, '0')).join('')
  const res = await fetch(`${tracker.http}?info_hash=${bytes(infoHash)}&peer_id=${bytes('aa'.repeat(20))}` +
    `&port=${fake.address().port}&uploaded=0&downloaded=0&left=1000&compact=1&event=started`)
  assert.equal(res.status, 200)

  for (const seedOutgoingConnections of [false, true]) {
    const c = new WasmTorrent({ dht: false, lsd: false, seedOutgoingConnections })
    assert.equal(c.seedOutgoingConnections, seedOutgoingConnections)
    const seeded = c.seed(content.root, { announce: [tracker.http], pieceLength: 16384 })
    const peers = []
    seeded.on('peer', addr => peers.push(addr))
    await once(seeded, 'trackerAnnounce')
    assert.equal(seeded.infoHash, infoHash)
    if (seedOutgoingConnections) {
      for (let i = 0; i < 100 && dialled === 0; i++) await new Promise(resolve => setTimeout(resolve, 50))
      assert.ok(peers.includes(fakeAddress), `'peer' ${fakeAddress}: ${peers}`)
      assert.ok(dialled > 0, 'the default seed dialled the leecher the tracker named')
    } else {
      assert.deepEqual(peers, [], 'no peer taken from the tracker')
      assert.equal(dialled, 0)
    }
    await c.destroy()
  }
})

test('trackers that do not answer give warnings, and the client goes on', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'lonely', 43)
  const c = client(t)
  const warnings = []
  const torrent = c.seed(content.root, { announce: ['http://127.0.0.1:1/announce', 'udp://127.0.0.1:1'] })
  torrent.on('warning', err => warnings.push(err.code))
  await once(torrent, 'seed')
  for (let i = 0; i < 100 && warnings.length < 2; i++) await new Promise(resolve => setTimeout(resolve, 100))
  assert.ok(warnings.includes('tracker_unreachable'), `warnings: ${warnings}`)
  assert.equal(torrent.destroyed, false)
})

test('every tracker is announced to: one that answers with no peers does not hide the seeder a later one knows', async t => {
  const empty = await startTracker(t)
  const knowing = await startTracker(t)
  const { dir, content, seeded } = await seedVia(t, knowing.http, 'second tracker', 45)
  await trackerKnows(knowing, seeded.infoHash, s => s.complete > 0, 'the seeder')

  // WebTorrent announces to every tr= of a magnet; BEP 12's one tier at a time stopped at
  // the first tracker that answered, with no peers, and the download never began.
  const leecher = client(t)
  const magnet = `magnet:?xt=urn:btih:${seeded.infoHash}&tr=${encodeURIComponent(empty.udp)}&tr=${encodeURIComponent(knowing.http)}`
  const torrent = leecher.add(magnet, { path: path.join(dir, 'down') })
  const done = once(torrent, 'done')
  // Only the leecher announces to the first; the second knows the seeder too. (The leecher
  // may be done, and counted complete, by the time these look.)
  await trackerKnows(empty, seeded.infoHash, undefined, 'the leecher (first tracker)')
  await trackerKnows(knowing, seeded.infoHash, s => s.complete + s.incomplete > 1, 'the leecher (second tracker)')
  await done
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
})

test("a tracker's failure reason is the warning's message, in its own words, as WebTorrent's", async t => {
  const http = await import('node:http')
  const server = http.createServer((req, res) => res.end('d14:failure reason14:you are bannede'))
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => server.close(resolve)))
  const url = `http://127.0.0.1:${server.address().port}/announce`
  const c = client(t)
  const seeded = c.seed(Buffer.from('refused by its tracker'), { name: 'refused.txt', announce: [url] })
  const [failure] = await once(seeded, 'warning')
  assert.equal(failure.message, 'you are banned')
  assert.equal(failure.code, 'tracker_failure')
})

test('tracker URLs: the scheme in any case is announced to; one of no protocol we speak is a warning, as WebTorrent warns', async t => {
  const tracker = await startTracker(t)
  const upper = tracker.http.replace(/^http:/, 'HTTP:')
  const c = client(t)
  const warnings = []
  const seeded = c.seed(Buffer.from('announced in capitals'), { name: 'caps.txt', announce: [upper, 'ftp://127.0.0.1:1/announce', 'not a url'] })
  seeded.on('warning', err => warnings.push([err.code, err.message]))
  await once(seeded, 'seed')
  await trackerKnows(tracker, seeded.infoHash)
  assert.deepEqual(warnings.filter(([code]) => code === 'tracker_bad_url').map(([, message]) => message),
    ['ftp://127.0.0.1:1/announce: unsupported tracker URL (not http(s)://, udp:// or ws(s)://)', 'not a url: unsupported tracker URL (not http(s)://, udp:// or ws(s)://)'])
})
