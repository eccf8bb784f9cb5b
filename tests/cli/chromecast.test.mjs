// Chromecast casting (web/cli/cast/chromecast.js) against fake receivers that announce
// themselves over mDNS and speak castv2 (fakes/chromecast-receiver.mjs): discovery, the
// device's choice by name, the LOAD of a URL that the receiver then fetches, and the errors.
// mDNS goes to every interface: run only in the namespace of
//   WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 bash scripts/loopback.sh node --test tests/cli/
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { networkInterfaces } from 'node:os'
import { findDevices, play } from '../../web/cli/cast/chromecast.js'
import { startChromecastReceiver } from './fakes/chromecast-receiver.mjs'

const interfaces = Object.keys(networkInterfaces())
const skip = interfaces.some(name => !['lo', 'wt0', 'wt1'].includes(name)) || !interfaces.includes('wt1')
  ? `network interfaces ${interfaces.join(', ')}: run inside WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 scripts/loopback.sh`
  : false

// A random file served by a plain HTTP server on the veth address (the "LAN" address).
async function serveFile (t, size = 3 * 1024 * 1024 + 123) {
  const body = randomBytes(size)
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': body.length })
    res.end(body)
  })
  await new Promise(resolve => server.listen(0, '10.77.0.1', resolve))
  t.after(() => new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }))
  return {
    url: `http://10.77.0.1:${server.address().port}/webtorrent/abc/video%20file.mp4`,
    size,
    sha1: createHash('sha1').update(body).digest('hex')
  }
}

async function receiver (t, opts) {
  const rx = await startChromecastReceiver(opts)
  t.after(() => rx.close())
  return rx
}

test('play() loads the URL on the Chromecast found, which fetches it whole', { skip }, async t => {
  const file = await serveFile(t)
  const rx = await receiver(t, { name: 'Living Room TV', host: '127.0.0.1' })

  const found = await findDevices({ timeoutMs: 1500 })
  assert.deepEqual(found.map(({ name, host, port }) => ({ name, host, port })), [{ name: 'Living Room TV', host: '127.0.0.1', port: rx.port }])

  const handle = await play(file.url, { title: 'video file.mp4', contentType: 'video/mp4' })
  t.after(() => handle.close())
  assert.equal(handle.name, 'Living Room TV')
  assert.deepEqual(rx.urls, [file.url])
  assert.equal(rx.loads[0].title, 'video file.mp4')
  assert.equal(rx.loads[0].contentType, 'video/mp4')
  assert.equal(rx.media.playerState, 'PLAYING')
  const fetched = await rx.loads[0].fetched
  assert.deepEqual(fetched, { status: 200, bytes: file.size, sha1: file.sha1, complete: true })

  await handle.stop()
  assert.equal(rx.media, null)
  assert.equal(rx.app, null) // the receiver app was stopped too
  handle.close()
})

test('with two Chromecasts, device picks one by part of its name, in any case', { skip }, async t => {
  const file = await serveFile(t, 200000)
  const kitchen = await receiver(t, { name: 'Kitchen speaker', host: '127.0.0.1' })
  const bedroom = await receiver(t, { name: 'Bedroom TV', host: '10.77.0.2' })

  const found = await findDevices({ timeoutMs: 1500 })
  assert.deepEqual(found.map(d => `${d.name}@${d.host}:${d.port}`).sort(),
    [`Bedroom TV@10.77.0.2:${bedroom.port}`, `Kitchen speaker@127.0.0.1:${kitchen.port}`])

  const handle = await play(file.url, { device: 'bedroom' })
  t.after(() => handle.close())
  assert.equal(handle.name, 'Bedroom TV')
  assert.equal(handle.host, '10.77.0.2')
  assert.deepEqual(bedroom.urls, [file.url])
  assert.deepEqual(kitchen.urls, [])
  assert.equal((await bedroom.loads[0].fetched).sha1, file.sha1)
  handle.close()
})

test('no Chromecast: no_device once the time is up', { skip }, async () => {
  assert.deepEqual(await findDevices({ timeoutMs: 800 }), [])
  const start = Date.now()
  await assert.rejects(play('http://10.77.0.1:1/x.mp4', { timeoutMs: 1000 }), err => {
    assert.equal(err.name, 'CastError')
    assert.equal(err.code, 'no_device')
    assert.equal(err.message, 'No Chromecast found on the local network within 1 s')
    return true
  })
  const elapsed = Date.now() - start
  assert.ok(elapsed >= 950 && elapsed < 2500, `took ${elapsed} ms`)
})

test('a name that no Chromecast has: device_not_found lists those found', { skip }, async t => {
  await receiver(t, { name: 'Kitchen speaker', host: '127.0.0.1' })
  await receiver(t, { name: 'Bedroom TV', host: '10.77.0.2' })
  await assert.rejects(play('http://10.77.0.1:1/x.mp4', { device: 'attic', timeoutMs: 1000 }), err => {
    assert.equal(err.code, 'device_not_found')
    assert.match(err.message, /"attic"/)
    assert.match(err.message, /Kitchen speaker/)
    assert.match(err.message, /Bedroom TV/)
    return true
  })
})

test('a LOAD the device refuses: cast_failed', { skip }, async t => {
  const file = await serveFile(t, 1000)
  const rx = await receiver(t, { name: 'Broken TV', failLoad: true })
  await assert.rejects(play(file.url, { timeoutMs: 2000 }), err => {
    assert.equal(err.code, 'cast_failed')
    assert.match(err.message, /Broken TV/)
    assert.match(err.message, /Load failed/)
    return true
  })
  assert.deepEqual(rx.urls, [file.url])
})

// The CLI must be able to exit once casting is over: discovery and a closed handle leave
// no socket or timer behind (castv2-client's heartbeat, multicast-dns' interval).
test('a process that cast and closed exits by itself', { skip }, async t => {
  const file = await serveFile(t, 1000)
  const rx = await receiver(t, { name: 'Den TV', host: '127.0.0.1' })
  const script = `
    const { findDevices, play } = await import(${JSON.stringify(new URL('../../web/cli/cast/chromecast.js', import.meta.url).href)})
    await findDevices({ timeoutMs: 500 })
    const handle = await play(${JSON.stringify(file.url)}, { timeoutMs: 2000 })
    await handle.stop()
    handle.close()
    console.log('cast to', handle.name)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', chunk => { out += chunk })
  const timer = setTimeout(() => child.kill(), 15000)
  const code = await new Promise(resolve => child.on('exit', (code, signal) => resolve(signal ?? code)))
  clearTimeout(timer)
  assert.equal(code, 0, 'the process did not exit by itself within 15 s')
  assert.equal(out.trim(), 'cast to Den TV')
  assert.deepEqual(rx.urls, [file.url])
})
