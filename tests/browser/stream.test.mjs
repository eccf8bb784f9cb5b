// Streaming into <video> through the service worker (dist/wasmtorrent-sw.js): a page seeds
// a test video (generated with ffmpeg, scripts/media.mjs), another adds the magnet
// and plays it with file.streamTo(video); Range requests through the worker return the
// file's bytes. WebTorrent's URL layout (<scope>webtorrent/...): the listing pages, exact
// bytes, Range, the server's API. Runs inside tests/browser/run.sh's network namespace
// (loopback only).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { browserName, repoRoot, startHarness } from './harness.mjs'
import { testMedia } from '../../scripts/media.mjs'
import { acceptAnswer, answerChannel, offerChannel } from './signal.mjs'
import { randomBytes } from '../js/helpers.mjs'
import { startTracker } from '../../scripts/tracker.mjs'

let h
let tracker
let trackerURL
let webm
let slowSeedAnswers = 0
before(async () => {
  webm = await readFile(await testMedia('webm'))
  tracker = await startTracker()
  trackerURL = tracker.url
  const sw = await readFile(join(repoRoot, 'dist', 'wasmtorrent-sw.js'))
  const webtorrentSW = await readFile(join(repoRoot, 'node_modules', 'webtorrent', 'dist', 'sw.min.js'))
  h = await startHarness({
    routes: {
      // At the root, so that its scope covers the test pages.
      '/wasmtorrent-sw.js': (req, res) => res.writeHead(200, { 'content-type': 'text/javascript' }).end(sw),
      '/sw.min.js': (req, res) => res.writeHead(200, { 'content-type': 'text/javascript' }).end(webtorrentSW),
      '/media/test.webm': (req, res) => res.writeHead(200, { 'content-type': 'video/webm' }).end(webm),
      // A web seed whose first answer takes 6 s (longer than WebTorrent's worker waits for
      // a chunk unless the page probed it first); Range as a file server answers it.
      '/slow-seed/test.webm': (req, res) => {
        const [, from, to] = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '') ?? [null, '0', '']
        const body = webm.subarray(Number(from), to ? Number(to) + 1 : webm.length)
        const send = () => res.writeHead(req.headers.range ? 206 : 200, {
          'content-type': 'video/webm',
          'content-range': `bytes ${from}-${Number(from) + body.length - 1}/${webm.length}`
        }).end(body)
        if (slowSeedAnswers++ === 0) setTimeout(send, 6000)
        else send()
      }
    }
  })
})
after(async () => {
  await h?.close()
  await tracker?.close()
})

const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')

// Page A: seeds /media/test.webm.
async function seedMedia ({ trackerURL }) {
  const bytes = new Uint8Array(await (await fetch('/media/test.webm')).arrayBuffer())
  window.client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
  const torrent = await window.client.seedAsync(new File([bytes], 'test.webm'))
  return torrent.magnetURI
}

// In a page: the service worker `script` registered at the root, once it is activated and
// controls the page (createServer wants it 'activated', as WebTorrent's; 'ready' comes at
// 'activating'). Resolves to its registration.
async function activateWorker (script) {
  const registration = await navigator.serviceWorker.register(script, { scope: '/' })
  await navigator.serviceWorker.ready
  if (registration.active.state !== 'activated') {
    await new Promise(resolve => registration.active.addEventListener('statechange', e => e.target.state === 'activated' && resolve()))
  }
  if (!navigator.serviceWorker.controller) {
    await new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
  }
  return registration
}

// Page B: the service worker, then the magnet; resolves once the torrent is ready.
async function addWithServer ({ magnet, trackerURL, activateWorkerSrc }) {
  const registration = await eval(activateWorkerSrc)('/wasmtorrent-sw.js') // eslint-disable-line no-eval
  window.client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
  window.server = window.client.createServer({ controller: registration })
  window.torrent = await window.client.addAsync(magnet)
  window.file = window.torrent.files[0]
  return window.file.streamURL
}

// In the leecher page: streamTo(#video), play, wait for 'playing'; reports the torrent's
// progress at that moment and whether currentTime advanced over the next `watchMs`.
async function play ({ mediaSource = false, watchMs = 1000 } = {}) {
  const video = document.getElementById('video')
  const playing = new Promise((resolve, reject) => {
    video.addEventListener('playing', resolve, { once: true })
    video.addEventListener('error', () => reject(new Error('video error ' + video.error?.message)), { once: true })
  })
  window.file.streamTo(video, { mediaSource })
  await video.play()
  await playing
  const progress = window.torrent.progress
  const t0 = video.currentTime
  await new Promise(resolve => setTimeout(resolve, watchMs))
  return { progress, advanced: video.currentTime > t0, duration: video.duration }
}

// SHA-256 (hex) of what the worker returns for a Range header, with status and headers.
async function fetchRange (range) {
  const res = await fetch(window.file.streamURL, { headers: range ? { range } : {} })
  const body = new Uint8Array(await res.arrayBuffer())
  const digest = await crypto.subtle.digest('SHA-256', body)
  return {
    status: res.status,
    contentRange: res.headers.get('content-range'),
    length: body.length,
    sha256: Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
  }
}

test('service worker: <video> plays a torrent, seeks, and Range requests return the file\'s bytes', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/stream.html')
  const b = await h.newPage('/tests/browser/pages/stream.html')
  const magnet = await a.evaluate(seedMedia, { trackerURL })
  const url = await b.evaluate(addWithServer, { magnet, trackerURL, activateWorkerSrc: `(${activateWorker})` })
  assert.match(url, /^\/webtorrent\/[0-9a-f]{40}\/test\.webm$/, 'WebTorrent\'s streamURL: origin-relative, under the scope')

  // Playback through the worker.
  const played = await b.evaluate(play, { watchMs: 1500 })
  assert.equal(played.advanced, true, 'currentTime advances')
  assert.ok(Math.abs(played.duration - 60) < 1, `duration ${played.duration}`)

  // Seek to 75%: playback resumes there.
  const seeked = await b.evaluate(async () => {
    const video = document.getElementById('video')
    const seekedEvent = new Promise(resolve => video.addEventListener('seeked', resolve, { once: true }))
    video.currentTime = video.duration * 0.75
    await seekedEvent
    const t0 = video.currentTime
    await new Promise(resolve => setTimeout(resolve, 1500))
    return { t0, t1: video.currentTime, paused: video.paused }
  })
  assert.ok(seeked.t0 >= 44 && seeked.t1 > seeked.t0, `resumed after the seek: ${seeked.t0} -> ${seeked.t1}`)

  // Random ranges, the whole file, a suffix range, and errors.
  const ranges = [[0, 0], [1, 99], [16383, 16384], [100000, 700000], [webm.length - 10, webm.length - 1]]
  for (let i = 0; i < 5; i++) {
    const start = Math.floor(Math.random() * webm.length)
    ranges.push([start, Math.min(webm.length - 1, start + Math.floor(Math.random() * 300000))])
  }
  for (const [start, end] of ranges) {
    const got = await b.evaluate(fetchRange, `bytes=${start}-${end}`)
    assert.equal(got.status, 206)
    assert.equal(got.contentRange, `bytes ${start}-${end}/${webm.length}`)
    assert.equal(got.sha256, sha256(webm.subarray(start, end + 1)), `bytes ${start}-${end}`)
  }
  const whole = await b.evaluate(fetchRange, null)
  assert.equal(whole.status, 200)
  assert.equal(whole.sha256, sha256(webm))
  const suffix = await b.evaluate(fetchRange, 'bytes=-500')
  assert.equal(suffix.sha256, sha256(webm.subarray(webm.length - 500)))
  const outside = await b.evaluate(fetchRange, `bytes=${webm.length}-`)
  assert.equal(outside.status, 416)
  const unknown = await b.evaluate(async () => (await fetch(window.server.base + '0'.repeat(40) + '/x.webm')).status)
  assert.equal(unknown, 404)

  // The seeder leaves: the complete file still streams, with no peer at all.
  await a.evaluate(() => window.client.destroy())
  await b.waitForFunction(() => window.torrent.numPeers === 0, null, { timeout: 30_000 })
  const alone = await b.evaluate(fetchRange, 'bytes=5000-9999')
  assert.equal(alone.sha256, sha256(webm.subarray(5000, 10000)))

  await b.evaluate(() => window.client.destroy())
  // The 416 and 404 asked for above are logged by the browser; nothing else may be.
  const expected = /Failed to load resource: the server responded with a status of (416|404)/
  for (const p of [a, b]) assert.deepEqual(p.errors.filter(e => !expected.test(e)), [])
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

// WebTorrent's layout, from one page that seeds a multi-file torrent (names with a space,
// '#', '?', '%' and non-ASCII) and serves it: the listing pages and their links, each
// file's exact bytes at its streamURL, Range (206, 416), HEAD, other methods, a second
// createServer, listen/address, close and destroy.
const layoutFiles = [
  { path: 'a b.bin', data: randomBytes(11, 70_000) },
  { path: 'sub/#1 ✓?%.txt', data: randomBytes(12, 1234) },
  { path: 'sub/empty', data: new Uint8Array(0) },
  { path: 'page.html', data: new TextEncoder().encode('<!doctype html><script>top.ran = true</script>') }
]

async function seedAndServe (files) {
  const registration = await navigator.serviceWorker.register('/wasmtorrent-sw.js', { scope: '/' })
  window.client = new window.WasmTorrent({ tracker: false })
  // A fresh page: register() resolves while the worker installs, and a server is refused
  // until it is activated, as WebTorrent's.
  let early = null
  try { window.client.createServer({ controller: registration }) } catch (err) { early = err.code }
  await navigator.serviceWorker.ready
  // createServer wants the worker 'activated' (as WebTorrent's); 'ready' comes at 'activating'
  if (registration.active.state !== 'activated') {
    await new Promise(resolve => registration.active.addEventListener('statechange', e => e.target.state === 'activated' && resolve()))
  }
  if (!navigator.serviceWorker.controller) {
    await new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
  }
  window.server = window.client.createServer({ controller: registration })
  const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0))
  window.torrent = await window.client.seedAsync(files.map(f => ({ path: f.path, data: bytes(f.data) })), { name: 'layout test' })
  let second = null
  try { window.client.createServer({ controller: registration }) } catch (err) { second = err.message }
  // As WebTorrent 3's: a registration whose worker is 'activating' (navigator.serviceWorker.ready
  // resolves then) is taken, one still 'installed' is not. (A registration object stands in
  // for each state, which a real one passes through too briefly to catch.)
  const byState = {}
  for (const state of ['activating', 'installed']) {
    const other = new window.WasmTorrent({ tracker: false })
    const stand = Object.create(ServiceWorkerRegistration.prototype, { scope: { value: registration.scope }, active: { value: { state } } })
    try { other.createServer({ controller: stand }); byState[state] = 'taken' } catch (err) { byState[state] = err.code }
    await other.destroy()
  }
  const listened = await new Promise(resolve => window.server.listen(0, () => resolve(true)))
  return {
    infoHash: window.torrent.infoHash,
    pathname: window.server.pathname,
    address: window.server.address(),
    files: window.torrent.files.map(f => ({ path: f.path, length: f.length, streamURL: f.streamURL })),
    early,
    second,
    byState,
    listened
  }
}

// A listing page fetched by the page: status, type, title and its links (href, text).
async function listing (url) {
  const res = await fetch(url)
  const doc = new DOMParser().parseFromString(await res.text(), 'text/html')
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    csp: res.headers.get('content-security-policy'),
    title: doc.title,
    links: Array.from(doc.querySelectorAll('li'), li => ({ href: li.querySelector('a').getAttribute('href'), text: li.querySelector('a').textContent, item: li.textContent }))
  }
}

async function fetchBytes ({ url, range, method = 'GET' }) {
  const start = performance.now()
  const res = await fetch(url, { method, headers: range ? { range } : {} })
  const body = new Uint8Array(await res.arrayBuffer())
  const digest = await crypto.subtle.digest('SHA-256', body)
  return {
    status: res.status,
    length: body.length,
    contentLength: res.headers.get('content-length'),
    contentRange: res.headers.get('content-range'),
    disposition: res.headers.get('content-disposition'),
    ms: performance.now() - start,
    sha256: Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
  }
}

// The listing in a tab of its own, beside page p (same context, so the same worker).
async function openListingInTab (p, infoHash) {
  const tab = await p.context().newPage()
  tab.errors = []
  tab.on('pageerror', err => tab.errors.push(String(err)))
  await tab.goto(`${h.url}/webtorrent/`)
  assert.equal(await tab.locator('h1').textContent(), 'Torrents')
  // The tab has no server: the worker asks the page that said it answers before the tab
  // that asks (which would never answer, and cost the worker's 10 s timeout).
  const clicked = Date.now()
  await tab.click('a')
  await tab.waitForURL(`${h.url}/webtorrent/${infoHash}`)
  assert.ok(Date.now() - clicked < 5000, `the torrent's page came in ${Date.now() - clicked} ms`)
  assert.equal(await tab.locator('a').count(), layoutFiles.length)
  const [download] = await Promise.all([tab.waitForEvent('download'), tab.locator('a').nth(1).click()])
  // The name from filename*= (the browser replaces '?', which files may not hold).
  assert.match(download.suggestedFilename(), /^#1 ✓.%\.txt$/)
  const saved = await readFile(await download.path())
  assert.equal(sha256(saved), sha256(layoutFiles[1].data), 'the downloaded file')
  assert.deepEqual(tab.errors, [])
  await tab.close()
}

test('WebTorrent\'s layout: /webtorrent/ listing pages, exact bytes, Range, HEAD, one server per client (refused before the worker is activated), close and destroy', { timeout: 120_000 }, async () => {
  const p = await h.newPage('/tests/browser/pages/stream.html')
  const b64 = bytes => Buffer.from(bytes).toString('base64')
  const served = await p.evaluate(seedAndServe, layoutFiles.map(f => ({ path: f.path, data: b64(f.data) })))
  const { infoHash } = served
  const port = Number(new URL(h.url).port)
  assert.equal(served.pathname, '/webtorrent')
  assert.deepEqual(served.address, { address: '127.0.0.1', family: 'IPv4', port })
  assert.equal(served.early, 'not_activated')
  assert.equal(served.second, 'server already created')
  assert.deepEqual(served.byState, { activating: 'taken', installed: 'not_activated' })
  assert.equal(served.listened, true)
  const expectedURL = path => `/webtorrent/${infoHash}/layout%20test/${path.split('/').map(encodeURIComponent).join('/')}`
  assert.deepEqual(served.files, layoutFiles.map(f => ({ path: `layout test/${f.path}`, length: f.data.length, streamURL: expectedURL(f.path) })))

  // The listing: the client's torrents, each linked to its page.
  const index = await p.evaluate(listing, '/webtorrent/')
  assert.equal(index.status, 200)
  assert.equal(index.type, 'text/html; charset=utf-8')
  assert.match(index.csp, /default-src 'none'/)
  const total = layoutFiles.reduce((n, f) => n + f.data.length, 0)
  assert.deepEqual(index.links, [{ href: `/webtorrent/${infoHash}`, text: 'layout test', item: `layout test (${total} bytes)` }])

  // The torrent's page: its files, each linked to its streamURL.
  const page = await p.evaluate(listing, index.links[0].href)
  assert.equal(page.status, 200)
  assert.deepEqual(await p.evaluate(listing, `/webtorrent/${infoHash.toUpperCase()}/`), page, 'the info-hash in upper case, and a trailing slash')
  assert.equal(page.title, 'layout test')
  assert.deepEqual(page.links, layoutFiles.map(f => ({ href: expectedURL(f.path), text: `layout test/${f.path}`, item: `layout test/${f.path} (${f.data.length} bytes)` })))

  // Every link serves the file's exact bytes.
  for (const [i, f] of layoutFiles.entries()) {
    const got = await p.evaluate(fetchBytes, { url: page.links[i].href })
    assert.equal(got.status, 200, f.path)
    assert.equal(got.sha256, sha256(f.data), f.path)
    assert.equal(got.contentLength, String(f.data.length))
    assert.equal(got.disposition, `inline; filename*=UTF-8''${encodeURIComponent(f.path.split('/').pop()).replace(/['()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`)
  }

  // Range: 206 with the bytes asked for (the first of several ranges), 416 outside.
  const big = layoutFiles[0].data
  const url = served.files[0].streamURL
  for (const [range, start, end] of [['bytes=0-0', 0, 0], ['bytes=16380-40000', 16380, 40000], ['bytes=-100', big.length - 100, big.length - 1],
    ['bytes=69000-', 69000, big.length - 1], ['bytes=5-9, 20-29', 5, 9], ['bytes=60000-99999999', 60000, big.length - 1]]) {
    const got = await p.evaluate(fetchBytes, { url, range })
    assert.equal(got.status, 206, range)
    assert.equal(got.contentRange, `bytes ${start}-${end}/${big.length}`, range)
    assert.equal(got.sha256, sha256(big.subarray(start, end + 1)), range)
  }
  for (const range of [`bytes=${big.length}-`, 'bytes=-0', `bytes=${big.length + 5}-${big.length + 10}`]) {
    const got = await p.evaluate(fetchBytes, { url, range })
    assert.equal(got.status, 416, range)
    assert.equal(got.contentRange, `bytes */${big.length}`, range)
  }
  const head = await p.evaluate(fetchBytes, { url, method: 'HEAD' })
  assert.deepEqual([head.status, head.length, head.contentLength], [200, 0, String(big.length)])
  const post = await p.evaluate(fetchBytes, { url, method: 'POST' })
  assert.equal(post.status, 405)

  // A torrent's HTML does not run as the site: not in a frame, and sandboxed.
  const framed = await p.evaluate(async src => {
    const frame = document.createElement('iframe')
    const loaded = new Promise(resolve => frame.addEventListener('load', resolve, { once: true }))
    frame.src = src
    document.body.append(frame)
    await loaded
    await new Promise(resolve => setTimeout(resolve, 500))
    frame.remove()
    return { ran: window.ran === true, csp: (await fetch(src)).headers.get('content-security-policy') }
  }, served.files[3].streamURL)
  assert.equal(framed.ran, false, 'the torrent\'s script did not run')
  assert.match(framed.csp, /frame-ancestors 'none'.*; sandbox$/)

  // The listing opened as a page of its own (a navigation: no page asks), then a file's
  // link clicked there: saved as a download, with the file's bytes. (Chromium only: the
  // Firefox driver, tests/browser/firefox.mjs, opens no second tab on one profile.)
  if (browserName !== 'firefox') await openListingInTab(p, infoHash)

  // close(cb): the page stops serving, streamURL throws, and a new server may be created.
  const closed = await p.evaluate(async () => {
    await new Promise(resolve => window.server.close(resolve))
    let streamURL = null
    try { streamURL = window.torrent.files[0].streamURL } catch (err) { streamURL = err.code }
    return { streamURL }
  })
  assert.deepEqual(closed, { streamURL: 'no_server' })
  const gone = await p.evaluate(fetchBytes, { url })
  assert.equal(gone.status, 404, 'no page serves it any more')
  assert.ok(gone.ms < 5000, `a page whose server closed answers at once (the 404 came in ${Math.round(gone.ms)} ms; a page that does not answer costs the worker 10 s)`)
  const again = await p.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready
    window.server = window.client.createServer({ controller: registration })
    const res = await fetch(window.torrent.files[0].streamURL)
    const length = (await res.arrayBuffer()).byteLength
    await new Promise(resolve => window.server.destroy(resolve))
    return { status: res.status, length }
  })
  assert.deepEqual(again, { status: 200, length: big.length })
  // Two clients in one page, each with a server: each URL is served by the client that has it.
  const two = await p.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready
    const server = window.client.createServer({ controller: registration })
    const other = new window.WasmTorrent({ tracker: false })
    const otherServer = other.createServer({ controller: registration })
    const seeded = await other.seedAsync([{ path: 'other.bin', data: new Uint8Array(5000).fill(7) }], { name: 'other' })
    const got = []
    for (const url of [window.torrent.files[0].streamURL, seeded.files[0].streamURL]) {
      const res = await fetch(url)
      got.push([res.status, (await res.arrayBuffer()).byteLength])
    }
    otherServer.close()
    server.close()
    await other.destroy()
    return got
  })
  assert.deepEqual(two, [[200, big.length], [200, 5000]])
  await p.evaluate(() => window.client.destroy())
  // Firefox also reports the framed load it refused as the worker's error.
  const expected = /Failed to load resource: the server responded with a status of (416|404|405)|frame-ancestors|ServiceWorker intercepted the request and encountered an unexpected error/
  assert.deepEqual(p.errors.filter(e => !expected.test(e)), [])
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

// A browser stops an idle worker after about 30 s, and a body it streams does not count:
// while one is open, the page pings <scope>webtorrent/keepalive/, which the worker answers
// itself (204). The page's interval timers run 40 times faster here, and the interval the
// server asks for is checked against the worker's 30 s; the body is held open past one
// ping by a seeder whose upload is throttled to 20 kB/s (the 2.1 MB video would take 100 s).
test('while a body streams, the page pings webtorrent/keepalive/ and the worker answers 204', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/stream.html')
  const b = await h.newPage('/tests/browser/pages/stream.html')
  const magnet = await a.evaluate(async trackerURL => {
    const bytes = new Uint8Array(await (await fetch('/media/test.webm')).arrayBuffer())
    window.client = new window.WasmTorrent({ uploadLimit: 20_000, tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
    return (await window.client.seedAsync(new File([bytes], 'test.webm'))).magnetURI
  }, trackerURL)
  await b.evaluate(addWithServer, { magnet, trackerURL, activateWorkerSrc: `(${activateWorker})` })
  const out = await b.evaluate(async () => {
    const keepalive = window.server.base + 'keepalive/'
    // Counted at the page's fetch (resource timing misses fetches a worker answers, in Firefox).
    let pings = 0
    const pageFetch = window.fetch
    window.fetch = (url, ...rest) => {
      if (String(url) === keepalive) pings++
      return pageFetch(url, ...rest)
    }
    const intervals = []
    const pageSetInterval = window.setInterval
    window.setInterval = (fn, ms, ...rest) => {
      intervals.push(ms)
      return pageSetInterval(fn, ms / 40, ...rest)
    }
    const abort = new AbortController()
    const res = await fetch(window.file.streamURL, { signal: abort.signal })
    const reading = res.body.pipeTo(new WritableStream(), { signal: abort.signal }).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 1500))
    const whileOpen = pings
    const progress = window.torrent.progress
    abort.abort()
    await reading
    window.fetch = pageFetch
    window.setInterval = pageSetInterval
    const direct = await fetch(keepalive)
    return { status: res.status, progress, whileOpen, keepaliveStatus: direct.status, intervals }
  })
  assert.equal(out.status, 200)
  assert.ok(out.progress < 1, 'the body was still open')
  assert.ok(out.whileOpen >= 1, `pings while the body was open: ${out.whileOpen}`)
  assert.ok(out.intervals.length >= 1 && out.intervals.every(ms => ms > 0 && ms < 30_000), `the page's intervals: ${out.intervals}`)
  assert.equal(out.keepaliveStatus, 204)
  for (const p of [a, b]) await p.evaluate(() => window.client.destroy())
  // Firefox logs the fetch aborted above as the worker's error.
  const aborted = /ServiceWorker intercepted the request and encountered an unexpected error/
  for (const p of [a, b]) assert.deepEqual(p.errors.filter(e => !aborted.test(e)), [])
})

// An app that swaps WebTorrent's library for ours but keeps WebTorrent's worker
// (node_modules/webtorrent/dist/sw.min.js): the page answers its protocol too.
test('WebTorrent\'s own worker (sw.min.js) with our client: listing, exact bytes, Range, <video>', { timeout: 120_000 }, async () => {
  const p = await h.newPage('/tests/browser/pages/stream.html')
  const infoHash = await p.evaluate(async activateWorkerSrc => {
    const registration = await eval(activateWorkerSrc)('/sw.min.js') // eslint-disable-line no-eval
    const bytes = new Uint8Array(await (await fetch('/media/test.webm')).arrayBuffer())
    window.client = new window.WasmTorrent({ tracker: false })
    window.server = window.client.createServer({ controller: registration })
    window.torrent = await window.client.seedAsync(new File([bytes], 'test.webm'))
    window.file = window.torrent.files[0]
    return window.torrent.infoHash
  }, `(${activateWorker})`)
  const index = await p.evaluate(listing, '/webtorrent/')
  assert.equal(index.status, 200)
  assert.deepEqual(index.links.map(l => l.href), [`/webtorrent/${infoHash}`])
  const url = `/webtorrent/${infoHash}/test.webm`
  assert.equal(await p.evaluate(() => window.file.streamURL), url)
  const whole = await p.evaluate(fetchBytes, { url })
  assert.deepEqual([whole.status, whole.sha256], [200, sha256(webm)])
  const part = await p.evaluate(fetchBytes, { url, range: 'bytes=100000-299999' })
  assert.deepEqual([part.status, part.contentRange, part.sha256], [206, `bytes 100000-299999/${webm.length}`, sha256(webm.subarray(100000, 300000))])
  assert.equal((await p.evaluate(fetchBytes, { url, range: `bytes=${webm.length}-` })).status, 416)
  assert.equal((await p.evaluate(fetchBytes, { url: `/webtorrent/${'0'.repeat(40)}/x` })).status, 404)
  assert.equal((await p.evaluate(fetchBytes, { url, method: 'POST' })).status, 405)
  const played = await p.evaluate(play)
  assert.equal(played.advanced, true, 'the video plays')
  // A second client with a server in the page: its worker takes the first answer of any
  // page, so only the client that has a URL answers it.
  const two = await p.evaluate(async () => {
    const other = new window.WasmTorrent({ tracker: false })
    other.createServer({ controller: await navigator.serviceWorker.ready })
    const seeded = await other.seedAsync([{ path: 'other.bin', data: new Uint8Array(5000).fill(7) }], { name: 'other' })
    const got = []
    for (const url of [window.file.streamURL, seeded.files[0].streamURL]) {
      const res = await fetch(url)
      got.push([res.status, (await res.arrayBuffer()).byteLength])
    }
    await other.destroy()
    return got
  })
  assert.deepEqual(two, [[200, webm.length], [200, 5000]])
  await p.evaluate(() => window.client.destroy())
  const expected = /Failed to load resource: the server responded with a status of (416|404|405)/
  assert.deepEqual(p.errors.filter(e => !expected.test(e)), [])
})

// The same worker, fresh (a context of its own), and a file still downloading whose first
// bytes are 6 s away (a slow web seed): the body stays open until they come. The worker
// stops a body that waits 5 s for a chunk unless the page has probed it first; the probe
// went with the first request, whose body then stopped 5 s in, so createServer sends it.
// Not in Firefox: there a worker's streams cannot be cancelled, so the probe never takes
// and WebTorrent's worker ends any body that waits 5 s, by design, whatever the page does.
test('WebTorrent\'s own worker: a body that waits over 5 s for its first chunk is not stopped', {
  timeout: 120_000,
  skip: browserName === 'firefox' && 'Firefox cannot cancel a service worker\'s streams: WebTorrent\'s worker then ends a body idle for 5 s'
}, async () => {
  const p = await h.newPage('/tests/browser/pages/stream.html')
  const slow = await p.evaluate(async activateWorkerSrc => {
    const registration = await eval(activateWorkerSrc)('/sw.min.js') // eslint-disable-line no-eval
    const bytes = new Uint8Array(await (await fetch('/media/test.webm')).arrayBuffer())
    const torrentFile = await window.WasmTorrent.createTorrent(new File([bytes], 'test.webm'), { urlList: [location.origin + '/slow-seed/test.webm'], announceList: [] })
    window.client = new window.WasmTorrent({ tracker: false })
    window.client.createServer({ controller: registration })
    const torrent = await new Promise(resolve => window.client.add(torrentFile, { store: 'memory' }, resolve))
    const res = await fetch(torrent.files[0].streamURL)
    const body = await Promise.race([res.arrayBuffer(), new Promise(resolve => setTimeout(() => resolve(null), 40_000))])
    await window.client.destroy()
    const digest = body && await crypto.subtle.digest('SHA-256', body)
    return { status: res.status, length: body?.byteLength ?? 'stalled', sha256: digest && Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('') }
  }, `(${activateWorker})`)
  assert.deepEqual(slow, { status: 200, length: webm.length, sha256: sha256(webm) })
  assert.ok(slowSeedAnswers > 0, 'the web seed served it')
  assert.deepEqual(p.errors, [])
})

// Page H: a hostile BitTorrent peer over a data channel. It claims every piece, unchokes,
// and answers every request with random bytes.
async function hostilePeer ({ infoHash, pieces, name }) {
  const dc = window.channels[name]
  dc.binaryType = 'arraybuffer'
  window.hostile = { requests: 0, closed: false }
  const send = (id, payload = new Uint8Array(0)) => {
    const m = new Uint8Array(5 + payload.length)
    new DataView(m.buffer).setUint32(0, 1 + payload.length)
    m[4] = id
    m.set(payload, 5)
    dc.send(m)
  }
  const start = () => {
    const handshake = new Uint8Array(68)
    handshake[0] = 19
    handshake.set(new TextEncoder().encode('BitTorrent protocol'), 1)
    handshake.set(Uint8Array.from(infoHash.match(/../g), h => parseInt(h, 16)), 28)
    crypto.getRandomValues(handshake.subarray(48))
    dc.send(handshake)
    const bits = new Uint8Array(Math.ceil(pieces / 8)).fill(0xff)
    if (pieces % 8) bits[bits.length - 1] = (0xff << (8 - pieces % 8)) & 0xff
    send(5, bits) // bitfield: everything
    send(1) // unchoke
  }
  let buffer = new Uint8Array(0)
  let handshaken = false
  dc.onmessage = e => {
    const joined = new Uint8Array(buffer.length + e.data.byteLength)
    joined.set(buffer)
    joined.set(new Uint8Array(e.data), buffer.length)
    buffer = joined
    if (!handshaken) {
      if (buffer.length < 68) return
      buffer = buffer.subarray(68)
      handshaken = true
    }
    while (buffer.length >= 4) {
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(0)
      if (buffer.length < 4 + length) break
      const message = buffer.subarray(4, 4 + length)
      buffer = buffer.subarray(4 + length)
      if (message[0] !== 6) continue // only requests matter
      window.hostile.requests++
      const view = new DataView(message.buffer, message.byteOffset)
      const piece = new Uint8Array(8 + view.getUint32(9))
      piece.set(message.subarray(1, 9)) // index, begin
      crypto.getRandomValues(piece.subarray(8))
      send(7, piece)
    }
  }
  dc.onclose = () => { window.hostile.closed = true }
  if (dc.readyState === 'open') start()
  else dc.onopen = start
}

// What a page's torrent, channels and <video> stand at: for a step that did not finish.
function pageState () {
  const t = window.torrent
  const video = document.getElementById('video')
  return {
    progress: t?.progress,
    numPeers: t?.numPeers,
    wires: t?.wires.map(w => ({ peerChoking: w.peerChoking, amInterested: w.amInterested, downloaded: w.downloaded, requests: w.requests?.length })),
    channels: Object.fromEntries(Object.entries(window.channels ?? {}).map(([name, c]) => [name, c.readyState])),
    connections: Object.fromEntries(Object.entries(window.pcs ?? {}).map(([name, pc]) => [name, pc.connectionState])),
    video: video && { readyState: video.readyState, networkState: video.networkState, paused: video.paused, error: video.error?.message },
    warnings: window.warnings
  }
}

// The step's result, or after `ms` an error that tells each page's state.
async function within (ms, step, promise, pages) {
  const late = Symbol('late')
  let timer
  const result = await Promise.race([promise, new Promise(resolve => { timer = setTimeout(resolve, ms, late) })])
  clearTimeout(timer)
  if (result !== late) return result
  const states = {}
  for (const [name, page] of Object.entries(pages)) states[name] = await page.evaluate(pageState).catch(err => err.message)
  throw new Error(`${step}: not done in ${ms / 1000} s; ${JSON.stringify(states)}`)
}

test('a corrupting peer: its blocks fail the hash check, it is banned, and only verified bytes reach <video>', { timeout: 120_000 }, async () => {
  const a = await h.newPage('/tests/browser/pages/stream.html')
  const evil = await h.newPage('/tests/browser/pages/stream.html')
  const b = await h.newPage('/tests/browser/pages/stream.html')
  const seeded = await a.evaluate(async () => {
    const bytes = new Uint8Array(await (await fetch('/media/test.webm')).arrayBuffer())
    window.client = new window.WasmTorrent({ tracker: false })
    window.torrent = await window.client.seedAsync(new File([bytes], 'test.webm'))
    return { torrentFile: Array.from(window.torrent.torrentFile), infoHash: window.torrent.infoHash, pieces: window.torrent.pieceCount }
  })
  // B: the service worker and the .torrent, no tracker; its first and only peer is H.
  await b.evaluate(async torrentFile => {
    const registration = await navigator.serviceWorker.register('/wasmtorrent-sw.js', { scope: '/' })
    await navigator.serviceWorker.ready
    // createServer wants the worker 'activated' (as WebTorrent's); 'ready' comes at 'activating'
    if (registration.active.state !== 'activated') {
      await new Promise(resolve => registration.active.addEventListener('statechange', e => e.target.state === 'activated' && resolve()))
    }
    if (!navigator.serviceWorker.controller) {
      await new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
    }
    window.client = new window.WasmTorrent({ tracker: false })
    window.client.createServer({ controller: registration })
    window.warnings = []
    // In memory: earlier tests of this origin left this torrent in its persistent store,
    // and a store that holds it would leave nothing for the hostile peer to send.
    window.torrent = await window.client.addAsync(new Uint8Array(torrentFile), { store: 'memory' })
    window.torrent.on('warning', w => window.warnings.push(w.code))
    window.file = window.torrent.files[0]
    window.onChannel = (name, channel) => window.torrent.addPeer(channel)
  }, seeded.torrentFile)
  // The offering side takes its channel (setUp) before the answer is applied: nothing
  // may arrive on it unheard.
  const connect = async (from, name, setUp) => {
    const offer = await from.evaluate(offerChannel, name)
    await setUp()
    const answer = await b.evaluate(answerChannel, { sdp: offer, name })
    await from.evaluate(acceptAnswer, { sdp: answer, name })
  }
  await connect(evil, 'evil', () => evil.evaluate(hostilePeer, { infoHash: seeded.infoHash, pieces: seeded.pieces, name: 'evil' }))
  await b.waitForFunction(() => window.warnings.includes('peer_banned'), null, { timeout: 60_000 })
  await evil.waitForFunction(() => window.hostile.closed, null, { timeout: 10_000 })
  const afterEvil = await b.evaluate(() => ({ progress: window.torrent.progress, warnings: window.warnings }))
  assert.equal(afterEvil.progress, 0, 'nothing from the hostile peer was kept')
  assert.ok(afterEvil.warnings.includes('hash_failed'))
  assert.ok(await evil.evaluate(() => window.hostile.requests) > 0)

  // Now the honest seeder: playback and bytes are right.
  const pages = { seeder: a, leecher: b }
  await within(20_000, 'the honest peer\'s channel', connect(a, 'good', () => a.evaluate(() => window.torrent.addPeer(window.channels.good))), pages)
  const played = await within(40_000, 'playback from the honest peer', b.evaluate(play), pages)
  assert.equal(played.advanced, true)
  const whole = await within(20_000, 'the whole file through the worker', b.evaluate(fetchRange, null), pages)
  assert.equal(whole.sha256, sha256(webm), 'the bytes served are the seeder\'s')
  for (const p of [a, b, evil]) await p.evaluate(() => window.client?.destroy())
  for (const p of [a, b, evil]) assert.deepEqual(p.errors, [])
  assert.deepEqual(h.blockedRequests(), [], 'nothing left loopback')
})

// The seeder's upload is throttled (90 kB/s: the 2.1 MB video takes over 20 s), so the
// leecher plays while most of the torrent is missing; a seek to 75% moves the download
// there. Through the service worker and through MediaSource.
for (const path of ['service worker', 'MediaSource']) {
  test(`throttled seeder, ${path}: playback starts below 50%, a seek to 75% downloads there first`, { timeout: 120_000 }, async () => {
    const a = await h.newPage('/tests/browser/pages/stream.html')
    const b = await h.newPage('/tests/browser/pages/stream.html')
    const magnet = await a.evaluate(async trackerURL => {
      const bytes = new Uint8Array(await (await fetch('/media/test.webm')).arrayBuffer())
      window.client = new window.WasmTorrent({ uploadLimit: 90_000, tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
      return (await window.client.seedAsync(new File([bytes], 'test.webm'))).magnetURI
    }, trackerURL)
    if (path === 'service worker') {
      await b.evaluate(addWithServer, { magnet, trackerURL, activateWorkerSrc: `(${activateWorker})` })
    } else {
      await b.evaluate(async ({ magnet, trackerURL }) => {
        window.client = new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig: { iceServers: [] } } })
        window.torrent = await window.client.addAsync(magnet)
        window.file = window.torrent.files[0]
      }, { magnet, trackerURL })
    }
    await b.evaluate(() => {
      window.verified = []
      window.torrent.on('verified', p => window.verified.push(p))
    })
    const start = await b.evaluate(play, { mediaSource: path === 'MediaSource' })
    assert.ok(start.progress < 0.5, `playing at ${(start.progress * 100).toFixed(1)}%`)
    assert.equal(start.advanced, true)

    const seek = await b.evaluate(async () => {
      const video = document.getElementById('video')
      const before = window.verified.length
      const statesBefore = Array.from(window.torrent.pieceStates())
      const resumed = new Promise(resolve => video.addEventListener('playing', resolve, { once: true }))
      video.currentTime = video.duration * 0.75
      await new Promise(resolve => video.addEventListener('seeked', resolve, { once: true }))
      if (video.paused || video.readyState < 3) await resumed
      const t0 = video.currentTime
      await new Promise(resolve => setTimeout(resolve, 1000))
      return {
        t0,
        advanced: video.currentTime > t0,
        progress: window.torrent.progress,
        after: window.verified.slice(before),
        statesBefore,
        n: window.torrent.pieceCount
      }
    })
    assert.equal(seek.advanced, true, 'playback resumed after the seek')
    assert.ok(seek.t0 >= 44, `at ${seek.t0} s`)
    assert.ok(seek.progress < 1, 'the seek was tested before the download finished')
    // Pieces verified between the seek and resumed playback: those at the seek point
    // (from 60% on) outnumber those between the old position and there.
    const seekRegion = seek.after.filter(p => p >= 0.6 * seek.n).length
    const skipped = seek.after.filter(p => p >= 0.35 * seek.n && p < 0.6 * seek.n && seek.statesBefore[p] !== 3).length
    console.log(`${path}: playing at ${(start.progress * 100).toFixed(1)}%; after the seek ${seek.after.length} pieces verified, ${seekRegion} at the seek point, ${skipped} in between`)
    assert.ok(seekRegion > 0 && seekRegion > skipped, `verified after the seek: ${seek.after.join(' ')} of ${seek.n}`)
    for (const p of [a, b]) await p.evaluate(() => window.client.destroy())
    // Firefox logs this for a worker's response whose body did not complete: the one the
    // element cancelled at the seek, the one client.destroy() cut. Chromium logs nothing.
    const cutResponse = /A ServiceWorker intercepted the request and encountered an unexpected error/
    for (const p of [a, b]) assert.deepEqual(p.errors.filter(e => !cutResponse.test(e)), [])
  })
}
