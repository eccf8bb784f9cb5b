// Bad input and outages, in real pages: a tracker that answers garbage yields `warning`
// events and no exception in the page; a tracker that goes away and comes back on the same
// port is reconnected to, and the download completes. Runs inside tests/browser/run.sh's
// network namespace (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocketServer } from 'ws'
import Server from 'bittorrent-tracker/server'
import { startHarness } from './harness.mjs'

// WebSocket clients re-announce every interval / 5 (10 s here instead of 2 min), so a
// first WebRTC connection attempt that fails is retried within the test's time.
const reannounceMs = 50_000

let h
before(async () => { h = await startHarness() })
after(async () => { await h?.close() })

async function startTracker (port = 0) {
  const tracker = new Server({ udp: false, http: false, ws: true, stats: false, interval: reannounceMs })
  tracker.on('error', err => console.error('tracker error', err))
  await new Promise(resolve => tracker.listen(port, '127.0.0.1', resolve))
  tracker.sockets = new Set()
  tracker.http.on('connection', socket => tracker.sockets.add(socket))
  return { tracker, url: `ws://127.0.0.1:${tracker.http.address().port}`, port: tracker.http.address().port }
}
// Closes the server and drops its connections (its close() leaves open WebSockets alone).
function stop (tracker) {
  for (const socket of tracker.sockets) socket.destroy()
  return new Promise(resolve => tracker.close(resolve))
}

test('a tracker that sends garbage produces warnings, never an exception in the page', { timeout: 60_000 }, async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise(resolve => wss.once('listening', resolve))
  const garbage = ['not json', '{"action":"announce","info_hash":5}', '[1,2', '{"failure reason":"go away"}',
    '{"action":"announce","offer":{"sdp":7},"offer_id":"x","peer_id":"y","info_hash":"z"}', '\u0000\u00ff']
  wss.on('connection', ws => ws.on('message', () => { for (const g of garbage) ws.send(g) }))
  const url = `ws://127.0.0.1:${wss.address().port}`
  const p = await h.newPage('/tests/browser/pages/client.html')
  const warnings = await p.evaluate(async url => {
    const client = new window.WasmTorrent({ tracker: { announce: [url], rtcConfig: { iceServers: [] } } })
    const warnings = []
    client.on('warning', w => warnings.push(w.message))
    const torrent = client.add('magnet:?xt=urn:btih:' + '1'.repeat(40))
    torrent.on('warning', w => warnings.push(w.message))
    for (let i = 0; i < 100 && warnings.length < 3; i++) await new Promise(resolve => setTimeout(resolve, 50))
    client.destroy()
    return warnings
  }, url)
  await new Promise(resolve => wss.close(resolve))
  assert.ok(warnings.length >= 3, `warnings: ${JSON.stringify(warnings)}`)
  assert.deepEqual(p.errors, [], 'no errors in the page')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

test('the tracker restarts: both peers reconnect and the download completes', { timeout: 120_000 }, async () => {
  let { tracker, url, port } = await startTracker()
  const a = await h.newPage('/tests/browser/pages/client.html')
  const b = await h.newPage('/tests/browser/pages/client.html')
  const magnet = await a.evaluate(async url => {
    const data = new Uint8Array(1 << 20)
    for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536))
    window.client = new window.WasmTorrent({ tracker: { announce: [url], rtcConfig: { iceServers: [] } } })
    const torrent = await window.client.seedAsync(new File([data], 'r.bin'))
    return torrent.magnetURI
  }, url)
  // The seeder announced; the tracker goes away and comes back empty on the same port.
  await new Promise(resolve => setTimeout(resolve, 500))
  await stop(tracker)
  await new Promise(resolve => setTimeout(resolve, 500))
  ;({ tracker } = await startTracker(port))
  const got = await b.evaluate(async magnet => {
    const client = new window.WasmTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
    const torrent = client.add(magnet)
    await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
    const length = (await torrent.files[0].arrayBuffer()).byteLength
    client.destroy()
    return length
  }, magnet)
  assert.equal(got, 1 << 20)
  await a.evaluate(() => window.client.destroy())
  await stop(tracker)
  assert.deepEqual(a.errors, [])
  assert.deepEqual(b.errors, [])
})
