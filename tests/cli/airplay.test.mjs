// AirPlay casting (web/cli/cast/airplay.js) against fake receivers (fakes/airplay-receiver.mjs)
// found by mDNS. Runs in the loopback namespace with multicast:
//   WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 bash scripts/loopback.sh node --test tests/cli/airplay.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { networkInterfaces } from 'node:os'
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { findDevices, play } from '../../web/cli/cast/airplay.js'
import { startAirPlayReceiver } from './fakes/airplay-receiver.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const airplayModule = new URL('../../web/cli/cast/airplay.js', import.meta.url).href

// mDNS on the machine's real network would reach other hosts: only inside scripts/loopback.sh.
const interfaces = Object.keys(networkInterfaces())
const outside = interfaces.some(name => !['lo', 'wt0', 'wt1'].includes(name)) &&
  `network interfaces ${interfaces.join(', ')}: run inside scripts/loopback.sh (see the header)`

// The stream's host as the CLI would give it: the LAN address (the veth), else loopback.
const lanAddress = interfaces.includes('wt0') ? '10.77.0.1' : '127.0.0.1'

// A known random file served over HTTP, as the CLI's stream server does.
async function serveFile (size = 3 * 1024 * 1024 + 123) {
  const data = randomBytes(size)
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': data.length })
    res.end(data)
  })
  await new Promise(resolve => server.listen(0, resolve))
  return {
    url: `http://${lanAddress}:${server.address().port}/video.mp4`,
    sha1: createHash('sha1').update(data).digest('hex'),
    size,
    close: () => { server.closeAllConnections(); server.close() }
  }
}

async function waitFor (check, ms, what) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

// Runs a module snippet in a child node (airplay.js imported as `airplay`): its exit proves
// that nothing was left holding the event loop. Resolves to the JSON it prints.
// hook: a module of loader hooks registered first.
function runChild (code, { timeoutMs = 10000, isolated = false, hook } = {}) {
  const register = hook ? `import { register } from 'node:module'\nregister(${JSON.stringify('data:text/javascript,' + encodeURIComponent(hook))})\n` : ''
  const script = `${register}const airplay = await import(${JSON.stringify(airplayModule)})\n${code}`
  const args = ['--input-type=module', '-e', script]
  // isolated: in a namespace of its own (lo with multicast only), where no receiver of
  // another test file running beside this one can answer.
  const [cmd, argv] = isolated ? ['bash', ['scripts/loopback.sh', process.execPath, ...args]] : [process.execPath, args]
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { cwd: root, timeout: timeoutMs, env: { ...process.env, WT_NETNS_VETH: '', WT_NETNS_MULTICAST: isolated ? '1' : '' } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`child failed (${err.signal ?? err.code}): ${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').pop()))
    })
  })
}

test('play: the receiver is told the URL and fetches the whole file; stop', { skip: outside, timeout: 30000 }, async () => {
  const file = await serveFile()
  const receiver = await startAirPlayReceiver({ name: 'Living Room TV' })
  try {
    const handle = await play(file.url, { device: 'living room', title: 'video.mp4', contentType: 'video/mp4' })
    assert.equal(handle.name, 'Living Room TV')
    assert.deepEqual(receiver.urls, [file.url])
    assert.equal(receiver.plays[0].startPosition, 0)
    assert.ok(receiver.plays[0].sessionId, 'an X-Apple-Session-ID')
    const fetched = await receiver.plays[0].fetched
    assert.deepEqual(fetched, { status: 200, bytes: file.size, sha1: file.sha1 })
    // The handle keeps the session up as Apple's senders do.
    await waitFor(() => receiver.requests.includes('GET /playback-info'), 5000, 'a /playback-info poll')
    await handle.stop()
    assert.equal(receiver.stops, 1)
    handle.close()
  } finally {
    await receiver.close()
    file.close()
  }
})

test('two receivers: findDevices lists both, `device` chooses one (any case)', { skip: outside, timeout: 30000 }, async () => {
  const file = await serveFile(100000)
  const [livingRoom, bedroom] = await Promise.all([
    startAirPlayReceiver({ name: 'Living Room TV' }),
    startAirPlayReceiver({ name: 'Bedroom Apple TV' })
  ])
  try {
    const devices = await findDevices({ timeoutMs: 2000 })
    for (const receiver of [livingRoom, bedroom]) {
      const device = devices.find(d => d.name === receiver.name)
      assert.ok(device, `${receiver.name} found among ${devices.map(d => d.name).join(', ')}`)
      assert.equal(device.port, receiver.port)
    }
    const handle = await play(file.url, { device: 'BEDROOM' })
    assert.equal(handle.name, 'Bedroom Apple TV')
    assert.deepEqual(bedroom.urls, [file.url])
    assert.deepEqual(livingRoom.urls, [])
    assert.equal((await bedroom.plays[0].fetched).sha1, file.sha1)
    handle.close()
  } finally {
    await Promise.all([livingRoom.close(), bedroom.close()])
    file.close()
  }
})

test('a name that no receiver has: device_not_found, listing the names found', { skip: outside, timeout: 30000 }, async () => {
  const receiver = await startAirPlayReceiver({ name: 'Kitchen TV' })
  try {
    const start = Date.now()
    await assert.rejects(play('http://127.0.0.1:1/x', { device: 'no such tv', timeoutMs: 1500 }), err => {
      assert.equal(err.name, 'CastError')
      assert.equal(err.code, 'device_not_found')
      assert.match(err.message, /no such tv/)
      assert.match(err.message, /Kitchen TV/)
      return true
    })
    assert.ok(Date.now() - start < 3000, 'within the timeout')
    assert.deepEqual(receiver.urls, [])
  } finally {
    await receiver.close()
  }
})

test('a receiver that refuses /play (pairing required): cast_failed with the status', { skip: outside, timeout: 30000 }, async () => {
  const receiver = await startAirPlayReceiver({ name: 'Paired Only TV', playStatus: 403 })
  try {
    await assert.rejects(play('http://127.0.0.1:1/x', { device: 'paired only' }), err => {
      assert.equal(err.code, 'cast_failed')
      assert.match(err.message, /HTTP 403/)
      return true
    })
  } finally {
    await receiver.close()
  }
})

test('no receiver: no_device within the timeout, and the process exits', { skip: outside, timeout: 30000 }, async () => {
  const result = await runChild(`
    const start = Date.now()
    const found = await airplay.findDevices({ timeoutMs: 500 })
    const error = await airplay.play('http://127.0.0.1:1/x', { timeoutMs: 1000 }).catch(err => err)
    console.log(JSON.stringify({ found, code: error.code, message: error.message, ms: Date.now() - start }))
  `, { isolated: true })
  assert.deepEqual(result.found, [])
  assert.equal(result.code, 'no_device')
  assert.equal(result.message, 'No AirPlay device found on the local network within 1 s')
  assert.ok(result.ms < 3000, `took ${result.ms} ms`)
})

test('after play and close, nothing holds the process open', { skip: outside, timeout: 30000 }, async () => {
  const file = await serveFile(10000)
  const receiver = await startAirPlayReceiver({ name: 'Exit Test TV' })
  try {
    const result = await runChild(`
      const handle = await airplay.play(${JSON.stringify(file.url)}, { device: 'exit test' })
      handle.close()
      console.log(JSON.stringify({ name: handle.name }))
    `)
    assert.equal(result.name, 'Exit Test TV')
    assert.equal((await receiver.plays[0].fetched).sha1, file.sha1)
  } finally {
    await receiver.close()
    file.close()
  }
})

test('bonjour-service missing: a CastError that says to install it', { timeout: 30000 }, async () => {
  // A resolve hook that makes the optional dependency absent for this child only.
  const hook = `export async function resolve (spec, ctx, next) {
    if (spec !== 'bonjour-service') return next(spec, ctx)
    throw Object.assign(new Error('Cannot find package bonjour-service'), { code: 'ERR_MODULE_NOT_FOUND' })
  }`
  const result = await runChild(`
    const error = await airplay.findDevices({ timeoutMs: 100 }).catch(err => err)
    console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message }))
  `, { hook })
  assert.deepEqual(result, {
    name: 'CastError',
    code: 'not_installed',
    message: 'AirPlay needs the optional dependency bonjour-service (npm install bonjour-service)'
  })
})
