// The UDP tracker transport (web/transports/udp.js) over a stand-in engine: a tracker name with
// several addresses is reached at the one that answers. Until 2026-12-07 only the first address
// the resolver gave was tried, so a name whose IPv6 address refused or dropped datagrams (a
// tracker listening on IPv4 only, a host without IPv6 routing) never got an announce through.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { UdpTrackerTransport } from '../../web/transports/udp.js'
import { freePort, until } from './helpers.mjs'

function standIn (addresses, opts = {}) {
  const heap = new Uint8Array(2048)
  const events = []
  const engine = {
    reserve: () => 0,
    udpReceived: (url, length, v6) => events.push(['received', Buffer.from(heap.subarray(0, length)).toString(), v6]),
    udpFailed: (url, message) => events.push(['failed', message])
  }
  const lookups = []
  const lookup = async (name, o) => { lookups.push([name, o]); return addresses }
  const transport = new UdpTrackerTransport({ input: fn => fn(engine, 0), heap: () => heap, lookup, ...opts })
  return { transport, events, lookups }
}

// A datagram server on one address that answers "echo:<datagram>", or swallows them.
async function server (t, type, address, port, { answer = true } = {}) {
  const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' })
  const got = []
  socket.on('message', (data, from) => {
    got.push(data.toString())
    if (answer) socket.send(Buffer.from(`echo:${data}`), from.port, from.address)
  })
  await new Promise((resolve, reject) => { socket.once('error', reject); socket.bind(port, address, resolve) })
  t.after(() => socket.close())
  return got
}


test('IPv4 first; an address that refuses (nothing listens there) passes the datagrams on to the next', async t => {
  const port = await freePort()
  const got = await server(t, 'udp6', '::1', port)
  // The resolver gives IPv6 first, as it may for a name with both; nothing listens on 127.0.0.1.
  const { transport, events, lookups } = standIn([{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }])
  t.after(() => transport.closeAll())
  const url = `udp://tracker.example:${port}`
  transport.send(url, Buffer.from('one'))
  transport.send(url, Buffer.from('two'))
  // Linux reports the refusal (ICMP port unreachable) to a connected socket at once; gVisor's
  // network stack only at its next send: either way, the third is the last sent before ::1.
  await new Promise(resolve => setTimeout(resolve, 200))
  transport.send(url, Buffer.from('three'))
  await until(() => events.length === 3, 'the three answers')
  assert.deepEqual(lookups, [['tracker.example', { all: true }]])
  assert.deepEqual(got, ['one', 'two', 'three'], 'sent to ::1 once 127.0.0.1 refused')
  assert.deepEqual(events, [['received', 'echo:one', true], ['received', 'echo:two', true], ['received', 'echo:three', true]])
  transport.send(url, Buffer.from('four'))
  await until(() => events.length === 4, 'the fourth answer')
  assert.deepEqual(got, ['one', 'two', 'three', 'four'])
})

test('an address that stays silent until the engine sends again: the next one gets what it left unanswered', async t => {
  const port = await freePort()
  const swallowed = await server(t, 'udp4', '127.0.0.1', port, { answer: false })
  const got = await server(t, 'udp6', '::1', port)
  const { transport, events } = standIn([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }], { silenceMs: 300 })
  t.after(() => transport.closeAll())
  const url = `udp://tracker.example:${port}/announce`
  transport.send(url, Buffer.from('connect'))
  await until(() => swallowed.length === 1, 'the first address to get it')
  await new Promise(resolve => setTimeout(resolve, 400))
  transport.send(url, Buffer.from('connect again')) // the engine's retransmission
  await until(() => events.length === 2, 'the answers from ::1')
  assert.deepEqual(swallowed, ['connect'])
  assert.deepEqual(got, ['connect', 'connect again'])
  assert.deepEqual(events.map(e => e[2]), [true, true], 'answers read as IPv6 (BEP 15: 18-byte peers)')
})

test('every address refuses: the engine is told once, with the error', async t => {
  const port = await freePort()
  const { transport, events } = standIn([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }])
  t.after(() => transport.closeAll())
  const url = `udp://tracker.example:${port}`
  transport.send(url, Buffer.from('connect'))
  // Sent again until failed, as the engine would (gVisor reports a refusal at the next send).
  for (let i = 0; i < 20 && events.length === 0; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    if (events.length === 0) transport.send(url, Buffer.from('connect'))
  }
  await until(() => events.length > 0, 'the failure')
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(events.length, 1)
  assert.equal(events[0][0], 'failed')
  assert.match(events[0][1], /ECONNREFUSED/)
})

test('a name that does not resolve, and a URL without a port: failed, no socket', async t => {
  const { transport, events } = standIn([])
  transport.send('udp://nowhere.example:6969', Buffer.from('x'))
  transport.send('udp://noport.example', Buffer.from('x'))
  await until(() => events.length === 2, 'both failures')
  assert.deepEqual(events.map(e => e[1]).sort(), ['no address for nowhere.example', 'no port in the tracker URL'])
  assert.equal(transport.sockets.size, 0)
})
