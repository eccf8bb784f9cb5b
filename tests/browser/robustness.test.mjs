// Bad input and outages, in real pages: a tracker that answers garbage yields `warning`
// events and no exception in the page; a tracker that goes away and comes back on the same
// port is reconnected to, and the download completes; peers that send garbage over their
// data channels are dropped with a `warning` on the torrent while a good peer serves it.
// Runs inside tests/browser/run.sh's network namespace (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocketServer } from 'ws'
import { startHarness } from './harness.mjs'
import { startTracker } from '../../scripts/tracker.mjs'

let h
before(async () => { h = await startHarness() })
after(async () => { await h?.close() })

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
  let tracker = await startTracker()
  const { url, port } = tracker
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
  await tracker.close()
  await new Promise(resolve => setTimeout(resolve, 500))
  tracker = await startTracker({ port })
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
  await tracker.close()
  // The browser itself logs a reconnection that meets the tracker while it is down (refused,
  // or reset while the port reopens): expected here, the test took the tracker away.
  const ours = text => text.startsWith(`WebSocket connection to '${url}`) && text.includes(' failed: ')
  assert.deepEqual(a.errors.filter(e => !ours(e)), [])
  assert.deepEqual(b.errors.filter(e => !ours(e)), [])
})

// Runs in a page: a hostile peer on the tracker, with its own WebSocket and peer id and a
// raw RTCDataChannel, then waits for the other side to close the channel.
// role 'answer': it joins the swarm without offers (window.joined once the tracker replied),
// answers the first offer relayed to it, and replies to the offerer's handshake with a
// valid handshake and a message longer than any peer may send.
// role 'offer': it announces one offer, applies the answer, and sends text where its
// handshake belongs as soon as the channel opens.
async function hostilePeer ({ trackerURL, infoHash, role }) {
  const bin = bytes => String.fromCharCode(...bytes)
  const random = n => Array.from(crypto.getRandomValues(new Uint8Array(n)))
  const within = (promise, ms) => Promise.race([promise, new Promise(resolve => setTimeout(() => resolve(false), ms))])
  const infoHashBytes = infoHash.match(/../g).map(h => parseInt(h, 16))
  const peerIdBytes = [...new TextEncoder().encode('-XX0001-'), ...random(12)]
  const ws = new WebSocket(trackerURL)
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject })
  const announce = m => ws.send(JSON.stringify({ action: 'announce', info_hash: bin(infoHashBytes), peer_id: bin(peerIdBytes), ...m }))
  const pc = new RTCPeerConnection({ iceServers: [] })
  const gathered = () => new Promise(resolve => {
    const check = () => { if (pc.iceGatheringState === 'complete') resolve() }
    pc.addEventListener('icegatheringstatechange', check)
    check()
  })
  let channel
  const opened = new Promise(resolve => {
    const watch = c => { channel = c; c.binaryType = 'arraybuffer'; c.onopen = () => resolve(true) }
    if (role === 'offer') watch(pc.createDataChannel('hostile'))
    else pc.ondatachannel = e => watch(e.channel)
  })
  if (role === 'offer') {
    await pc.setLocalDescription(await pc.createOffer())
    await gathered()
    const offerId = bin(random(20))
    ws.onmessage = e => {
      const m = JSON.parse(e.data)
      if (m.answer && m.offer_id === offerId) pc.setRemoteDescription(m.answer)
    }
    announce({ event: 'started', numwant: 1, offers: [{ offer_id: offerId, offer: { type: 'offer', sdp: pc.localDescription.sdp } }] })
  } else {
    ws.onmessage = async e => {
      const m = JSON.parse(e.data)
      if (m.interval) window.joined = true
      if (!m.offer || pc.remoteDescription) return // answers one offer only
      await pc.setRemoteDescription(m.offer)
      await pc.setLocalDescription(await pc.createAnswer())
      await gathered()
      announce({ to_peer_id: m.peer_id, offer_id: m.offer_id, answer: { type: 'answer', sdp: pc.localDescription.sdp } })
    }
    announce({ event: 'started', numwant: 0, offers: [] })
  }
  const result = { opened: await within(opened, 30_000), closedByPeer: false }
  if (result.opened) {
    const closed = new Promise(resolve => { channel.onclose = () => resolve(true) })
    if (role === 'answer') {
      const theirs = await within(new Promise(resolve => { channel.onmessage = e => resolve(new Uint8Array(e.data)) }), 20_000)
      result.gotHandshake = Boolean(theirs) && theirs[0] === 19
      channel.send(new Uint8Array([19, ...new TextEncoder().encode('BitTorrent protocol'), 0, 0, 0, 0, 0, 0x10, 0, 4,
        ...infoHashBytes, ...peerIdBytes, 0x7f, 0xff, 0xff, 0xff, 7]))
    } else {
      channel.send(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'))
    }
    result.closedByPeer = await within(closed, 20_000)
  }
  ws.close()
  pc.close()
  return result
}

test('peers that send garbage are dropped with a warning; the download from a good peer completes', { timeout: 120_000 }, async () => {
  const tracker = await startTracker()
  const url = tracker.url
  const seeder = await h.newPage('/tests/browser/pages/client.html')
  const victim = await h.newPage('/tests/browser/pages/client.html')
  const hostile = await h.newPage('/tests/browser/pages/client.html')
  // The seeder's torrent, known before anyone announces it.
  const { magnet, infoHash } = await seeder.evaluate(async url => {
    const data = new Uint8Array(1 << 20)
    for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536))
    window.file = new File([data], 'r.bin')
    const info = await window.WasmTorrent.parseTorrent(await window.WasmTorrent.createTorrent(window.file, { announceList: [[url]] }))
    return { magnet: window.WasmTorrent.toMagnetURI(info), infoHash: info.infoHash }
  }, url)

  // A hostile peer waits in the swarm and answers the victim's first announce: the victim
  // sends its handshake, gets a valid one back, then a message longer than any peer may send.
  const answering = hostile.evaluate(hostilePeer, { trackerURL: url, infoHash, role: 'answer' })
  await hostile.waitForFunction(() => window.joined)
  await victim.evaluate(magnet => {
    window.client = new window.WasmTorrent({ tracker: { rtcConfig: { iceServers: [] } } })
    window.warnings = { torrent: [], client: [] }
    window.client.on('warning', w => window.warnings.client.push({ code: w.code, message: w.message }))
    window.torrent = window.client.add(magnet)
    window.torrent.on('warning', w => window.warnings.torrent.push({ code: w.code, message: w.message }))
    window.finished = new Promise(resolve => window.torrent.once('done', resolve))
  }, magnet)
  assert.deepEqual(await answering, { opened: true, gotHandshake: true, closedByPeer: true },
    'the victim closed the channel of the peer that sent a bad message')
  // Another one offers once the victim is in the swarm: the victim answers, waits for its
  // handshake and gets text instead.
  const offering = await hostile.evaluate(hostilePeer, { trackerURL: url, infoHash, role: 'offer' })
  assert.deepEqual(offering, { opened: true, closedByPeer: true }, 'the victim closed the channel of the peer that sent text')

  // Now the good peer seeds, and the victim downloads from it.
  await seeder.evaluate(async url => {
    window.client = new window.WasmTorrent({ tracker: { announce: [url], rtcConfig: { iceServers: [] } } })
    await window.client.seedAsync(window.file)
  }, url)
  const got = await victim.evaluate(async () => {
    await window.finished
    const length = (await window.torrent.files[0].arrayBuffer()).byteLength
    window.client.destroy()
    return { length, warnings: window.warnings }
  })
  assert.equal(got.length, 1 << 20)
  // Each hostile peer was reported on the torrent, with the protocol error's code.
  const protocolErrors = w => /^wire_/.test(w.code)
  assert.equal(got.warnings.torrent.filter(protocolErrors).length, 2, JSON.stringify(got.warnings))
  assert.equal(got.warnings.client.filter(protocolErrors).length, 0, JSON.stringify(got.warnings))
  await seeder.evaluate(() => window.client.destroy())
  await tracker.close()
  for (const p of [seeder, victim, hostile]) assert.deepEqual(p.errors, [], 'no errors in the pages')
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})
