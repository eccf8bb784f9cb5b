// The client's, torrents', files' and wires' emitter behaves as Node's EventEmitter (which
// WebTorrent's objects extend): the same calls on both give the same listener calls and
// the same answers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import WasmTorrent from 'wasmtorrent'

// Our Emitter class, reached through a client (the package does not export it).
async function ours () {
  const c = new WasmTorrent({ tracker: false })
  await c.destroy()
  return Object.getPrototypeOf(Object.getPrototypeOf(c)).constructor
}

// Runs the same script on an emitter of each kind; returns what each recorded.
function both (Emitter, script) {
  const run = e => { const log = []; script(e, log); return log }
  return [run(new Emitter()), run(new EventEmitter())]
}

test('on/addListener/prependListener/once/prependOnceListener: call order and once-only', async () => {
  const E = await ours()
  const [a, b] = both(E, (e, log) => {
    e.on('x', () => log.push('on'))
    e.addListener('x', () => log.push('add'))
    e.prependListener('x', () => log.push('prepend'))
    e.once('x', () => log.push('once'))
    e.prependOnceListener('x', () => log.push('prependOnce'))
    log.push(e.emit('x'), e.emit('x'), e.emit('y'), e.listenerCount('x'))
  })
  assert.deepEqual(a, b)
})

test('off/removeListener remove the last matching listener; once listeners by their function', async () => {
  const E = await ours()
  const [a, b] = both(E, (e, log) => {
    const f = () => log.push('f')
    const g = () => log.push('g')
    e.on('x', f); e.on('x', g); e.on('x', f)
    e.off('x', f)
    e.emit('x')
    e.once('y', g)
    e.removeListener('y', g)
    log.push(e.emit('y'), e.listenerCount('x'), e.listenerCount('y'))
  })
  assert.deepEqual(a, b)
})

test('removeAllListeners (one event, all), listeners, rawListeners, eventNames', async () => {
  const E = await ours()
  const [a, b] = both(E, (e, log) => {
    const f = () => {}
    e.on('x', f); e.once('x', f); e.on('y', f)
    log.push(e.listeners('x').length, e.listeners('x').every(l => l === f), e.rawListeners('x')[1] === f)
    log.push(e.eventNames().join())
    log.push(e.removeAllListeners('x') === e, e.eventNames().join())
    e.on('z', f)
    e.removeAllListeners()
    log.push(e.eventNames().length)
  })
  assert.deepEqual(a, b)
})

test("setMaxListeners/getMaxListeners chain; 'newListener' and 'removeListener' events", async () => {
  const E = await ours()
  const [a, b] = both(E, (e, log) => {
    log.push(e.setMaxListeners(0) === e, e.getMaxListeners())
    e.on('newListener', name => log.push(`new ${name}`))
    e.on('removeListener', name => log.push(`removed ${name}`))
    const f = () => {}
    e.on('x', f)
    e.off('x', f)
  })
  assert.deepEqual(a, b)
})

test("'error' with no listener throws the error; with one, it is a plain event", async () => {
  const E = await ours()
  const e = new E()
  const err = new Error('boom')
  assert.throws(() => e.emit('error', err), err)
  const got = []
  e.once('error', x => got.push(x))
  assert.equal(e.emit('error', err), true)
  assert.deepEqual(got, [err])
  assert.throws(() => e.emit('error', 'text'), /Unhandled error/)
})

test('a listener removed by an earlier one during emit still runs (the list is copied)', async () => {
  const E = await ours()
  const [a, b] = both(E, (e, log) => {
    const g = () => log.push('g')
    e.on('x', () => { log.push('f'); e.off('x', g) })
    e.on('x', g)
    e.emit('x')
    e.emit('x')
  })
  assert.deepEqual(a, b)
})
