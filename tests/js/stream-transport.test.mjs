// The transport of connection objects the app brings (web/transports/stream.js) over a stand-in
// engine that records its inputs: bytes that arrive before the engine is told the connection is
// open are held, then given in order after it (simple-peer emits 'connect' only after reading its
// stats, so the remote's handshake can come first; Firefox showed it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { StreamTransport } from '../../web/transports/stream.js'

function standIn () {
  const heap = new Uint8Array(1024)
  const calls = []
  const engine = {
    reserve: () => 0,
    channelOpened: id => calls.push(['opened', id]),
    channelData: (id, length) => calls.push(['data', id, Array.from(heap.subarray(0, length))]),
    channelClosed: id => calls.push(['closed', id]),
    channelSent: () => {}
  }
  const transport = new StreamTransport({ input: fn => fn(engine, 0), heap: () => heap })
  return { transport, calls }
}

function connecting () {
  const conn = new EventEmitter()
  conn.connected = false
  conn.write = () => true
  conn.destroy = () => { conn.destroyed = true }
  return conn
}

test('bound while connecting: data before \'connect\' reaches the engine after it opens, in order', () => {
  const { transport, calls } = standIn()
  const conn = connecting()
  const entry = transport.adopt(conn, { type: 'webrtc', key: 'p' })
  transport.bind(entry, 7)
  conn.emit('data', new Uint8Array([19, 66]))
  conn.emit('data', new Uint8Array([105]))
  assert.deepEqual(calls, [], 'nothing before the connection is open')
  conn.connected = true
  conn.emit('connect')
  conn.emit('data', new Uint8Array([116]))
  assert.deepEqual(calls, [['opened', 7], ['data', 7, [19, 66]], ['data', 7, [105]], ['data', 7, [116]]])
  transport.closeAll()
})

test('data before the engine knows the connection, which is then open: given after the open', () => {
  const { transport, calls } = standIn()
  const conn = connecting()
  const entry = transport.adopt(conn, { type: 'webrtc', key: 'p' })
  conn.emit('data', new Uint8Array([1]))
  conn.connected = true
  conn.emit('connect')
  conn.emit('data', new Uint8Array([2]))
  assert.deepEqual(calls, [])
  transport.bind(entry, 3)
  assert.deepEqual(calls, [['opened', 3], ['data', 3, [1]], ['data', 3, [2]]])
  transport.closeAll()
})
