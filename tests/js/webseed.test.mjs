// Web seeds (BEP 19) under Node: the library downloads torrents made by npm create-torrent
// (url-list) from scripts/webseed.mjs on 127.0.0.1, through the same fetch() transport the
// browser uses (Node's own fetch); a seed that lacks a file is not asked for it again (one
// that lacks every file is dropped), with a warning; a 206 without Content-Range is taken.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import WasmTorrent from 'wasmtorrent'
import { startWebSeed } from '../../scripts/webseed.mjs'
import { createTorrentNpm, npmInputs, randomBytes } from './helpers.mjs'

const KiB = 1024
const single = { path: 'one ✓.bin', data: randomBytes(21, 700 * KiB + 11) }
const multi = [
  { path: 'pack/a.bin', data: randomBytes(22, 100 * KiB + 1) },
  { path: 'pack/sub dir/b%.bin', data: randomBytes(23, 3) },
  { path: 'pack/c.bin', data: randomBytes(24, 300 * KiB) }
]

let seed
before(async () => {
  const files = { [`/${single.path}`]: single.data }
  for (const f of multi) {
    files[`/good/${f.path}`] = f.data
    files[`/bad/${f.path}`] = f.data
  }
  seed = await startWebSeed({ files })
  for (const f of multi) seed.setMode(`/bad/${f.path}`, 'missing')
})
after(() => seed?.close())

async function download (torrentBytes) {
  const client = new WasmTorrent({ tracker: false })
  const t = client.add(torrentBytes, { store: 'memory' })
  const warnings = []
  t.on('warning', w => warnings.push(w.code))
  await new Promise((resolve, reject) => { t.once('done', resolve); t.once('error', reject) })
  const files = []
  for (const f of t.files) files.push(Buffer.from(await f.arrayBuffer()))
  const out = { files, webSeedDownloaded: t.webSeedDownloaded, length: t.length, seeds: t.webSeeds, warnings }
  await client.destroy()
  return out
}

test('a single-file torrent from its web seed, byte-exact', async () => {
  const torrent = await createTorrentNpm([new File([single.data], single.path)],
    { announceList: [], urlList: [`${seed.url}/${encodeURIComponent(single.path)}`], pieceLength: 64 * KiB })
  const got = await download(torrent)
  assert.deepEqual(got.files, [Buffer.from(single.data)])
  assert.equal(got.webSeedDownloaded, got.length)
  assert.deepEqual(got.warnings, [])
})

test('a multi-file torrent: a 404 seed is dropped with a warning, the other completes', async () => {
  const torrent = await createTorrentNpm(npmInputs(multi),
    { announceList: [], urlList: [`${seed.url}/bad/`, `${seed.url}/good/`], pieceLength: 32 * KiB })
  const got = await download(torrent)
  assert.deepEqual(got.files, multi.map(f => Buffer.from(f.data)))
  assert.ok(got.warnings.includes('web_seed_not_found'), got.warnings.join())
  assert.ok(got.seeds[0].failures >= 1)
  assert.equal(got.seeds[1].state, 'active')
})

test('a 206 without Content-Range (a server on another origin that does not expose it): the body is the range asked for, as WebTorrent takes it', async () => {
  const data = randomBytes(26, 300 * KiB + 5)
  const hidden = await startWebSeed({ files: { '/hidden.bin': data }, mode: 'no-content-range' })
  try {
    const torrent = await createTorrentNpm([new File([data], 'hidden.bin')],
      { announceList: [], urlList: [`${hidden.url}/hidden.bin`], pieceLength: 32 * KiB })
    const got = await download(torrent)
    assert.deepEqual(got.files, [Buffer.from(data)])
    assert.deepEqual(got.warnings, [])
    assert.ok(hidden.stats().log.length >= 1)
  } finally {
    await hidden.close()
  }
})

// Three files of two pieces each: the seed lacks (or serves changed) the middle one.
for (const how of ['missing', 'corrupt']) {
  test(`a multi-file seed whose middle file is ${how}: not asked for it again, the other files come from it (until 2026-12-07 the whole seed was dropped)`, async () => {
    const parts = ['x', 'y', 'z'].map((name, i) => ({ path: `drei/${name}.bin`, data: randomBytes(30 + i, 64 * KiB) }))
    const files = {}
    for (const f of parts) files[`/${f.path}`] = f.data
    const server = await startWebSeed({ files })
    server.setMode('/drei/y.bin', how)
    const client = new WasmTorrent({ tracker: false })
    try {
      const torrent = await createTorrentNpm(npmInputs(parts), { announceList: [], urlList: [`${server.url}/`], pieceLength: 32 * KiB })
      const t = client.add(torrent, { store: 'memory' })
      const warnings = []
      t.on('warning', w => warnings.push(w.code))
      await new Promise(resolve => t.once('ready', resolve))
      const [x, , z] = t.files
      await Promise.all([x, z].map(f => f.done ? null : new Promise(resolve => f.once('done', resolve))))
      assert.deepEqual(Buffer.from(await x.arrayBuffer()), Buffer.from(parts[0].data))
      assert.deepEqual(Buffer.from(await z.arrayBuffer()), Buffer.from(parts[2].data))
      assert.equal(t.webSeeds[0].state, 'active')
      const asked = server.stats().log.filter(r => r.path === '/drei/y.bin').length
      assert.deepEqual(warnings.filter(c => c.startsWith('web_seed')), how === 'missing' ? ['web_seed_not_found'] : ['web_seed_bad_data', 'web_seed_bad_data'])
      await new Promise(resolve => setTimeout(resolve, 1500))
      assert.equal(server.stats().log.filter(r => r.path === '/drei/y.bin').length, asked, 'y.bin is not asked for again')
      assert.equal(t.progress < 1, true)
    } finally {
      await client.destroy()
      await server.close()
    }
  })
}

test('a url-list that names the file with a raw space (not percent-encoded) is fetched as a URL parser would', async () => {
  // WebTorrent's own webseed tests serve 'Leaves of Grass by Walt Whitman.epub' this way.
  const raw = `${seed.url}/${single.path}`
  assert.ok(raw.includes(' '))
  const torrent = await createTorrentNpm([new File([single.data], single.path)],
    { announceList: [], urlList: [raw], pieceLength: 64 * KiB })
  const got = await download(torrent)
  assert.deepEqual(got.files, [Buffer.from(single.data)])
  assert.equal(got.seeds[0].url, `${seed.url}/${single.path.replace(/ /g, '%20')}`)
})

test('under Node every HTTP request names us and WebTorrent in its User-Agent: the .torrent URL, the web seed', async () => {
  const torrent = await createTorrentNpm([new File([single.data], single.path)],
    { announceList: [], urlList: [`${seed.url}/${encodeURIComponent(single.path)}`], pieceLength: 64 * KiB })
  const files = await startWebSeed({ files: { '/ua.torrent': torrent } })
  const client = new WasmTorrent({ tracker: false })
  try {
    const before = seed.stats().log.length
    const t = client.add(`${files.url}/ua.torrent`, { store: 'memory' })
    await new Promise((resolve, reject) => { t.once('done', resolve); t.once('error', reject) })
    const agents = [...files.stats().log, ...seed.stats().log.slice(before)].map(r => r.userAgent)
    assert.ok(agents.length >= 2)
    for (const agent of agents) assert.match(agent, /^wasmtorrent\/\d+\.\d+\.\d+ \(like WebTorrent\)$/)
    assert.equal(client.userAgent, agents[0])
  } finally {
    await client.destroy()
    await files.close()
  }
})

test("WebTorrent 3's userAgent option: client.userAgent, sent with the .torrent URL's and the web seed's requests", async () => {
  const torrent = await createTorrentNpm([new File([single.data], single.path)],
    { announceList: [], urlList: [`${seed.url}/${encodeURIComponent(single.path)}`], pieceLength: 64 * KiB })
  const files = await startWebSeed({ files: { '/own-ua.torrent': torrent } })
  const client = new WasmTorrent({ tracker: false, userAgent: 'MyApp/2.0 (test)' })
  try {
    assert.equal(client.userAgent, 'MyApp/2.0 (test)')
    const before = seed.stats().log.length
    const t = client.add(`${files.url}/own-ua.torrent`, { store: 'memory' })
    await new Promise((resolve, reject) => { t.once('done', resolve); t.once('error', reject) })
    const agents = [...files.stats().log, ...seed.stats().log.slice(before)].map(r => r.userAgent)
    assert.ok(agents.length >= 2)
    assert.deepEqual([...new Set(agents)], ['MyApp/2.0 (test)'])
  } finally {
    await client.destroy()
    await files.close()
  }
})

// The most requests a web seed had in flight at once while one client downloaded 4 MiB
// from it (paced at 1 MiB/s per response: each request of up to 1 MiB lasts about 1 s).
async function mostInFlight (clientOpts, addOpts) {
  const data = randomBytes(25, 4 * 1024 * KiB)
  const paced = await startWebSeed({ files: { '/paced.bin': data }, rate: 1024 * KiB })
  try {
    const torrent = await createTorrentNpm([new File([data], 'paced.bin')],
      { announceList: [], urlList: [`${paced.url}/paced.bin`], pieceLength: 64 * KiB })
    const client = new WasmTorrent({ tracker: false, ...clientOpts })
    const t = client.add(torrent, { store: 'memory', ...addOpts })
    await new Promise((resolve, reject) => { t.once('done', resolve); t.once('error', reject) })
    const result = { maxWebConns: t.maxWebConns, most: paced.stats().maxActive, requests: paced.stats().log.length }
    await client.destroy()
    return result
  } finally {
    await paced.close()
  }
}

test('the add option maxWebConns bounds the requests in flight to each web seed; the client option is its default', async () => {
  const one = await mostInFlight({ maxWebConns: 4 }, { maxWebConns: 1 })
  assert.equal(one.maxWebConns, 1)
  assert.ok(one.requests > 1, `${one.requests} requests`)
  assert.equal(one.most, 1)
  const three = await mostInFlight({ maxWebConns: 1 }, { maxWebConns: 3 })
  assert.equal(three.maxWebConns, 3)
  assert.equal(three.most, 3)
  const byClient = await mostInFlight({ maxWebConns: 2 }, {})
  assert.equal(byClient.maxWebConns, 2)
  assert.equal(byClient.most, 2)
})

test("webSeeds: false, as WebTorrent's: the torrent's url-list is not used (no wire, no request), a seed added with addWebSeed is", async () => {
  const url = `${seed.url}/${encodeURIComponent(single.path)}`
  const torrent = await createTorrentNpm([new File([single.data], single.path)], { announceList: [], urlList: [url], pieceLength: 64 * KiB })
  const client = new WasmTorrent({ tracker: false, webSeeds: false })
  const t = client.add(torrent, { store: 'memory' })
  const wires = []
  t.on('wire', wire => wires.push(wire.type))
  await new Promise(resolve => t.once('ready', resolve))
  const before = seed.stats().requests
  await new Promise(resolve => setTimeout(resolve, 1500))
  assert.equal(seed.stats().requests, before, 'the url-list is never asked')
  assert.deepEqual([t.webSeeds.length, t.numPeers, wires], [0, 0, []])
  t.addWebSeed(url)
  await new Promise((resolve, reject) => { t.once('done', resolve); t.once('error', reject) })
  assert.deepEqual(Buffer.from(await t.files[0].arrayBuffer()), Buffer.from(single.data))
  assert.deepEqual(wires, ['webSeed'])
  await client.destroy()
})

test("addWebSeed of a URL that is no use, or one the torrent has: a warning in WebTorrent's words and 'invalidPeer'", async () => {
  const torrent = await createTorrentNpm([new File([single.data], single.path)],
    { announceList: [], urlList: [`${seed.url}/${encodeURIComponent(single.path)}`], pieceLength: 64 * KiB })
  const client = new WasmTorrent({ tracker: false, webSeeds: false })
  try {
    const t = client.add(torrent, { store: 'memory' })
    await new Promise(resolve => t.once('ready', resolve))
    const told = []
    t.on('warning', w => told.push(w.message))
    t.on('invalidPeer', p => told.push(`invalidPeer ${p}`))
    t.addWebSeed('http://')
    t.addWebSeed('http://exa mple.com/a')
    t.addWebSeed(`${seed.url}/x.bin`)
    t.addWebSeed(`${seed.url}/x.bin`)
    assert.deepEqual(told.filter(m => !m.startsWith('web seed ignored')), [
      'ignoring invalid web seed: http://', 'invalidPeer http://',
      'ignoring invalid web seed: http://exa mple.com/a', 'invalidPeer http://exa mple.com/a',
      `ignoring duplicate web seed: ${seed.url}/x.bin`, `invalidPeer ${seed.url}/x.bin`
    ])
  } finally {
    await client.destroy()
  }
})
