// The WebRTC transport's writes (web/transports/rtc.js) over a stand-in data channel: the engine
// hands each send as a view into its memory, which it reuses at once, so the transport must copy
// the bytes before returning; they go out in order, joined into messages of at most the
// channel's message size, held while the channel's buffer is full, and what has left the buffer
// is reported to the engine.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RtcTransport, MESSAGE_SIZE, BUFFER_HIGH } from '../../web/transports/rtc.js'

function standIn () {
  const sent = [] // reports to the engine: channelSent(id, bytes)
  const engine = {
    channelOpened: () => {},
    channelClosed: () => {},
    channelSent: (id, n) => sent.push(n)
  }
  const transport = new RtcTransport({ input: fn => fn(engine, 0), heap: () => null, rtcConfig: {} })
  const dc = {
    readyState: 'open',
    bufferedAmount: 0,
    messages: [],
    send (data) { // as browsers do: the bytes are copied when send() is called
      this.messages.push(Uint8Array.from(data))
      this.bufferedAmount += data.length
    },
    close () {}
  }
  transport.attach(1, dc)
  return { transport, dc, sent }
}

const tick = () => new Promise(resolve => setTimeout(resolve, 20))

// Writes `total` bytes (byte i is i % 251) through one reused buffer, as the engine's views.
function write (transport, total, chunk) {
  const memory = new Uint8Array(chunk)
  for (let at = 0; at < total; at += chunk) {
    const n = Math.min(chunk, total - at)
    for (let i = 0; i < n; i++) memory[i] = (at + i) % 251
    transport.send(1, memory.subarray(0, n))
    memory.fill(0) // the engine's memory is reused as soon as send() returns
  }
}

function received (dc) {
  const all = new Uint8Array(dc.messages.reduce((n, m) => n + m.length, 0))
  let at = 0
  for (const m of dc.messages) { all.set(m, at); at += m.length }
  return all
}

test('writes are copied at once, joined into full messages, and arrive in order', async () => {
  const { transport, dc } = standIn()
  const total = 3 * MESSAGE_SIZE + 1000
  write(transport, total, 16 * 1024 + 13) // blocks as the wire sends them
  await tick()
  const all = received(dc)
  assert.equal(all.length, total)
  assert.ok(all.every((b, i) => b === i % 251), 'every byte as written')
  assert.ok(dc.messages.every(m => m.length <= MESSAGE_SIZE))
  assert.deepEqual(dc.messages.slice(0, 3).map(m => m.length), [MESSAGE_SIZE, MESSAGE_SIZE, MESSAGE_SIZE], 'small writes joined')
  transport.closeAll()
})

test('a write larger than a message is cut at the message size', async () => {
  const { transport, dc } = standIn()
  write(transport, 2 * MESSAGE_SIZE + 5, 2 * MESSAGE_SIZE + 5)
  await tick()
  assert.deepEqual(dc.messages.map(m => m.length), [MESSAGE_SIZE, MESSAGE_SIZE, 5])
  assert.ok(received(dc).every((b, i) => b === i % 251))
  transport.closeAll()
})

test('a full buffer holds the bytes until it drains; what left it is reported', async () => {
  const { transport, dc, sent } = standIn()
  const total = BUFFER_HIGH + 4 * MESSAGE_SIZE
  write(transport, total, MESSAGE_SIZE)
  await tick()
  const first = received(dc).length
  assert.ok(first >= BUFFER_HIGH && first < total, 'writing stopped at the buffer limit')
  dc.bufferedAmount = 0 // the channel sent everything
  dc.onbufferedamountlow()
  await tick()
  const all = received(dc)
  assert.equal(all.length, total)
  assert.ok(all.every((b, i) => b === i % 251), 'held bytes kept intact while the engine reused its memory')
  assert.ok(sent.reduce((a, b) => a + b, 0) > 0, 'the engine heard that bytes left the buffer')
  transport.closeAll()
})

test('a smaller message size announced by the remote is kept', async () => {
  const { transport, dc } = standIn()
  transport.peers.get(1).messageSize = 16 * 1024
  write(transport, 40 * 1024, 1000)
  await tick()
  assert.ok(dc.messages.every(m => m.length <= 16 * 1024))
  assert.ok(received(dc).every((b, i) => b === i % 251))
  transport.closeAll()
})

// The engine stops handing bytes for a peer once those not yet reported sent reach its limit
// (sendBufferLimit, BUFFER_HIGH in the browser). A channel that drains as fast as it is fed
// never rises above its low threshold, so onbufferedamountlow never fires: the reports made
// while writing must come before the engine reaches its limit, or the peer stalls for good.
test('a channel that drains as fast as it is fed keeps the engine informed: no stall at its limit', async () => {
  const { transport, dc, sent } = standIn()
  dc.send = function (data) { this.messages.push(Uint8Array.from(data)) } // gone at once
  const total = 4 * 1024 * 1024
  const block = 16 * 1024 + 13 // a piece message
  let handed = 0
  const outstanding = () => handed - sent.reduce((a, b) => a + b, 0)
  const feed = setInterval(() => { // the engine answers requests, within its limit
    while (handed < total && outstanding() + block <= BUFFER_HIGH) {
      const n = Math.min(block, total - handed)
      transport.send(1, new Uint8Array(n))
      handed += n
    }
  }, 1)
  const deadline = Date.now() + 10_000 // far beyond the ~0.1 s this takes; a stall never ends
  while (received(dc).length < total && Date.now() < deadline) await tick()
  clearInterval(feed)
  assert.equal(received(dc).length, total, `stalled at ${received(dc).length} of ${total} bytes, ${outstanding()} unreported`)
  transport.closeAll()
})

// A browser that misses onbufferedamountlow (the buffer drains, no event comes): what left
// the buffer is still reported, a little later, and the engine goes on.
test('a buffer that drains without onbufferedamountlow: what left it is reported anyway', async () => {
  const { transport, dc, sent } = standIn()
  const total = 1024 * 1024
  const block = 16 * 1024 + 13
  let handed = 0
  const outstanding = () => handed - sent.reduce((a, b) => a + b, 0)
  const drain = setInterval(() => { dc.bufferedAmount = Math.max(0, dc.bufferedAmount - 32 * 1024) }, 1) // silently
  const feed = setInterval(() => {
    while (handed < total && outstanding() + block <= BUFFER_HIGH) {
      const n = Math.min(block, total - handed)
      transport.send(1, new Uint8Array(n))
      handed += n
    }
  }, 1)
  const deadline = Date.now() + 20_000 // a few report waits of 0.5 s; a stall never ends
  while (received(dc).length < total && Date.now() < deadline) await tick()
  clearInterval(drain)
  clearInterval(feed)
  assert.equal(received(dc).length, total, `stalled at ${received(dc).length} of ${total} bytes, ${outstanding()} unreported`)
  transport.closeAll()
})
