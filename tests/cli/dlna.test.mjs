// DLNA casting (web/cli/cast/dlna.js) against Debian's gmediarender (gmrender-resurrect on
// libupnp and GStreamer) as the renderer: it is found over SSDP, told to play a small WebM
// served by a node:http server with Range support here, and must fetch all of it. Also a fake
// renderer that refuses (cast_failed), a wrong --device name, and no renderer at all.
// Runs only inside scripts/loopback.sh with WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1: the SSDP
// search is multicast, and must not reach a real network.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { findDevices, play } from '../../web/cli/cast/dlna.js'
import { CastError } from '../../web/cli/cast/errors.js'
import { startFakeRenderer } from './fakes/dlna-renderer.mjs'
import { freePort } from './helpers.mjs'

const DLNA_JS = fileURLToPath(new URL('../../web/cli/cast/dlna.js', import.meta.url))
// The veth pair of scripts/loopback.sh: the renderer on wt1, the stream served from wt0.
const RENDERER_IP = '10.77.0.2'
const SERVER_IP = '10.77.0.1'

const inNamespace = (os.networkInterfaces().wt1 ?? []).some(i => i.address === RENDERER_IP)
const has = cmd => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const skip = !inNamespace
  ? 'needs the namespace of WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 bash scripts/loopback.sh'
  : false
const skipRenderer = skip || (!has('gmediarender') && 'gmediarender is not installed') ||
  (!has('ffmpeg') && 'ffmpeg is not installed')

// Runs `code` (an ES module body; dlna.js is `dlna`) in a child Node and resolves to
// { status, stdout, stderr, ms }: a child that does not exit on its own within killMs has
// left a socket or a timer open. With isolated, the child gets a network namespace of its own
// (loopback with multicast, nothing else), where no renderer of a test running beside this
// one can answer.
function runChild (code, { isolated = false, killMs = 15000 } = {}) {
  const script = `const dlna = await import(${JSON.stringify(DLNA_JS)})\n${code}`
  let cmd = process.execPath
  let args = ['--input-type=module', '-e', script]
  if (isolated) {
    args = ['-n', 'sh', '-c', 'ip link set lo up && ip link set lo multicast on && ' +
      'ip route add 224.0.0.0/4 dev lo && exec "$0" "$@"', cmd, ...args]
    cmd = 'unshare'
  }
  return new Promise(resolve => {
    const started = Date.now()
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    const killer = setTimeout(() => child.kill('SIGKILL'), killMs)
    child.on('close', status => {
      clearTimeout(killer)
      resolve({ status, stdout, stderr, ms: Date.now() - started })
    })
  })
}

test('no renderer: no_device within the time given, and the process exits', { skip }, async () => {
  const { status, stdout, stderr, ms } = await runChild(`
    const started = Date.now()
    const found = await dlna.findDevices({ timeoutMs: 1500 })
    const searchMs = Date.now() - started
    const err = await dlna.play('http://${SERVER_IP}:1/a.mp4', { timeoutMs: 1500 }).then(() => null, e => e)
    const playMs = Date.now() - started - searchMs
    console.log(JSON.stringify({ found, searchMs, playMs, name: err?.name, code: err?.code, message: err?.message }))
  `, { isolated: true })
  assert.equal(status, 0, `child exited on its own (${ms} ms): ${stderr}`)
  const r = JSON.parse(stdout)
  assert.deepEqual(r.found, [])
  assert.ok(r.searchMs >= 1400 && r.searchMs < 2500, `findDevices took ${r.searchMs} ms`)
  assert.equal(r.name, 'CastError')
  assert.equal(r.code, 'no_device')
  assert.equal(r.message, 'No DLNA renderer found on the local network within 1.5 s')
  assert.ok(r.playMs >= 1400 && r.playMs < 2500, `play gave up after ${r.playMs} ms`)
})

describe('gmediarender as the renderer', { skip: skipRenderer }, () => {
  const name = `wasmtorrent dlna test ${process.pid}`
  let dir, media, stream, renderer

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wt-dlna-'))
    media = await makeMedia(path.join(dir, 'clip é.webm'))
    stream = await serveFile(media, SERVER_IP)
    renderer = await startGmediarender(name, dir)
  })

  after(async () => {
    await renderer?.stop()
    await stream?.close()
    if (dir) await fs.rm(dir, { recursive: true, force: true })
  })

  test('findDevices lists it by its friendly name and address', async () => {
    const devices = await findDevices({ timeoutMs: 2500 })
    assert.deepEqual(devices.filter(d => d.name === name), [{ name, host: RENDERER_IP }])
  })

  test('play: gmediarender accepts the URL and fetches the whole stream', async () => {
    const url = `http://${SERVER_IP}:${stream.port}/${encodeURIComponent(path.basename(media.file))}`
    const handle = await play(url, { device: 'DLNA TEST', title: 'clip é', contentType: 'video/webm' })
    try {
      assert.equal(handle.name, name)
      assert.equal(typeof handle.stop, 'function')
      assert.equal(typeof handle.close, 'function')
      // fakesink does not wait for the clock: the renderer reads the file as fast as it can.
      await waitFor(() => stream.covered() === media.size, 20000,
        () => `gmediarender to fetch ${media.size} bytes (requests: ${JSON.stringify(stream.requests)})`)
      assert.ok(stream.requests.some(r => r.method === 'GET' && r.url === new URL(url).pathname))
      assert.match(stream.requests[0].userAgent ?? '', /GStreamer/)
      assert.ok(renderer.log().includes(`Set uri to '${url}'`), 'gmediarender logged the URI it was given')
      assert.ok(renderer.log().includes('<dc:title>clip é</dc:title>'), 'and the title in its metadata')
      await handle.stop()
    } finally {
      handle.close()
    }
  })

  test('a --device name that matches none: device_not_found, listing the renderers found', async () => {
    await assert.rejects(play('http://127.0.0.1:1/a.mp4', { device: 'Living Room TV', timeoutMs: 2000 }), err => {
      assert.ok(err instanceof CastError)
      assert.equal(err.code, 'device_not_found')
      assert.match(err.message, /^No DLNA renderer named "Living Room TV"; found: .*"wasmtorrent dlna test \d+"/)
      return true
    })
  })

  test('after play() and close() the process has nothing left open and exits', async () => {
    const url = `http://${SERVER_IP}:${stream.port}/${encodeURIComponent(path.basename(media.file))}`
    const before = stream.requests.length
    const { status, stdout, stderr, ms } = await runChild(`
      const handle = await dlna.play(${JSON.stringify(url)}, { device: ${JSON.stringify(name)} })
      console.log(handle.name)
      handle.close()
    `)
    assert.equal(status, 0, `child exited on its own (${ms} ms): ${stderr}`)
    assert.equal(stdout.trim(), name)
    await waitFor(() => stream.requests.length > before, 10000, () => 'gmediarender to fetch the stream again')
  })
})

describe('a renderer that refuses', { skip }, () => {
  let fake
  before(async () => {
    fake = await startFakeRenderer({
      name: 'Fake TV & Co',
      address: RENDERER_IP,
      fault: { code: 714, description: 'Illegal MIME-type' }
    })
  })
  after(() => fake?.close())

  test('play: cast_failed with the renderer\'s own words', async () => {
    await assert.rejects(play(`http://${SERVER_IP}:1/film.mkv`, { device: 'fake tv', timeoutMs: 2000 }), err => {
      assert.ok(err instanceof CastError)
      assert.equal(err.code, 'cast_failed')
      assert.equal(err.message, 'Fake TV & Co refused SetAVTransportURI: Illegal MIME-type (UPnP error 714)')
      return true
    })
    const set = fake.actions.find(a => a.action === 'SetAVTransportURI')
    assert.ok(set, 'the fake was sent SetAVTransportURI')
    assert.match(set.body, /<CurrentURI>http:\/\/10\.77\.0\.1:1\/film\.mkv<\/CurrentURI>/)
    // The metadata travels escaped inside the SOAP argument, its type guessed from .mkv.
    assert.match(set.body, /&lt;dc:title&gt;film\.mkv&lt;\/dc:title&gt;/)
    assert.match(set.body, /protocolInfo=&quot;http-get:\*:video\/x-matroska:\*&quot;/)
    assert.equal(fake.actions.some(a => a.action === 'Play'), false, 'no Play after a refusal')
  })
})

// A WebM (VP8 + Vorbis, which GStreamer's good and base plugins decode) of a few seconds.
async function makeMedia (file) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '4', '-c:v', 'libvpx', '-b:v', '300k', '-c:a', 'libvorbis', '-y', file])
  assert.equal(r.status, 0, `ffmpeg: ${r.stderr}`)
  return { file, size: (await fs.stat(file)).size }
}

// Serves media.file at any path with Range requests (206, 416, HEAD), recording the requests
// and which bytes went out in full: covered() counts them.
async function serveFile (media, host) {
  const data = await fs.readFile(media.file)
  const sent = new Uint8Array(data.length)
  const requests = []
  const server = http.createServer((req, res) => {
    const { range: rangeHeader, 'user-agent': userAgent } = req.headers
    requests.push({ method: req.method, url: req.url, range: rangeHeader, userAgent })
    let start = 0
    let end = data.length - 1
    const range = /^bytes=(\d*)-(\d*)$/.exec(rangeHeader ?? '')
    if (range) {
      if (range[1]) start = Number(range[1])
      else start = Math.max(0, data.length - Number(range[2])) // a suffix: the last N bytes
      if (range[1] && range[2]) end = Math.min(end, Number(range[2]))
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` })
        return res.end()
      }
    }
    res.writeHead(range ? 206 : 200, {
      'content-type': 'video/webm',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      ...(range && { 'content-range': `bytes ${start}-${end}/${data.length}` })
    })
    if (req.method === 'HEAD') return res.end()
    res.end(data.subarray(start, end + 1), () => sent.fill(1, start, end + 1))
  })
  await new Promise(resolve => server.listen(0, host, resolve))
  return {
    port: server.address().port,
    requests,
    covered: () => sent.reduce((n, b) => n + b, 0),
    close () {
      server.closeAllConnections()
      return new Promise(resolve => server.close(resolve))
    }
  }
}

// gmediarender on wt1 with its sinks faked (no sound card, no display), ready once it says so.
async function startGmediarender (name, dir) {
  const port = await freePort({ host: RENDERER_IP, min: 49152 }) // libupnp: 49152-65535 only
  const logFile = path.join(dir, 'gmediarender.log')
  const child = spawn('gmediarender', ['--friendly-name', name, '--uuid', randomUUID(), '--port', String(port),
    '--interface-name', 'wt1', '--gstout-audiosink', 'fakesink', '--gstout-videosink', 'fakesink',
    '--logfile', logFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', d => { output += d })
  child.stderr.on('data', d => { output += d })
  const exited = new Promise(resolve => child.once('exit', resolve))
  // libupnp retries its bind for a few seconds while wt1's IPv6 address is still tentative.
  await Promise.race([
    waitFor(() => output.includes('Ready for rendering'), 30000, () => `gmediarender to start: ${output}`),
    exited.then(code => { throw new Error(`gmediarender exited (${code}): ${output}`) })
  ]).catch(err => { child.kill('SIGKILL'); throw err })
  return {
    log: () => readFileSync(logFile, 'utf8'),
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(killer)
    }
  }
}

async function waitFor (check, ms, what) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
