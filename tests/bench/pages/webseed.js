// The in-page half of tests/bench/webseed_bench.mjs, for either library (window.WasmTorrent
// or window.WebTorrent with memory-chunk-store). Node calls these with page.evaluate().
// Times are performance.now() differences inside the page, in ms.
//   leecher:     leech() adds the .torrent (url-list + tracker) and returns at once; done()
//                waits for 'done' and returns add() → 'done', the bytes downloaded, how many of
//                them came from web seeds, and the bytes uploaded so far; the page keeps
//                seeding (a visitor's tab left open)
//   first frame: prepare() registers the library's service worker (outside the measured
//                window), stream() adds the .torrent (url-list only, no tracker), streams the
//                file into the <video> and returns add() → the first requestVideoFrameCallback
//                callback
'use strict'
window.bench = (() => {
  const rtcConfig = { iceServers: [] } // loopback only
  let client = null
  let torrent = null
  let t0 = 0
  let finished = null // promise of { done_ms }

  const bytesOf = b64 => Uint8Array.from(atob(b64), c => c.charCodeAt(0))
  const failOn = (emitter, reject) => emitter.once('error', err => reject(new Error(String(err?.message ?? err))))

  // webSeeds: wasmtorrent's policy ('fallback', its default, or 'always').
  function newClient (lib, trackerURL, webSeeds) {
    if (lib === 'wasmtorrent') {
      return new window.WasmTorrent({ tracker: trackerURL ? { announce: [trackerURL], rtcConfig } : false, ...(webSeeds ? { webSeeds } : {}) })
    }
    return new window.WebTorrent({ tracker: trackerURL ? { rtcConfig } : false })
  }

  // Both in memory: wasmtorrent's memory store, WebTorrent's memory-chunk-store without the
  // cache in front of it (as in browser_bench.mjs and streaming_bench.mjs).
  const addOpts = lib => lib === 'wasmtorrent' ? { store: 'memory' } : { store: window.MemoryChunkStore, storeCacheSlots: 0 }

  // Bytes this torrent took from web seeds: wasmtorrent counts them; WebTorrent's web seeds
  // are wires of type 'webSeed' (what they delivered, as for any wire).
  function webBytes () {
    if (typeof torrent.webSeedDownloaded === 'number') return torrent.webSeedDownloaded
    return torrent.wires.filter(w => w.type === 'webSeed').reduce((sum, w) => sum + w.downloaded, 0)
  }

  function leech ({ lib, torrent: b64, trackerURL, webSeeds }) {
    const bytes = bytesOf(b64)
    client = newClient(lib, trackerURL, webSeeds)
    t0 = performance.now()
    finished = new Promise((resolve, reject) => {
      failOn(client, reject)
      torrent = client.add(bytes, addOpts(lib))
      failOn(torrent, reject)
      torrent.once('done', () => resolve({ done_ms: performance.now() - t0 }))
    })
    finished.catch(() => {}) // awaited by done()
  }

  async function done () {
    const out = await finished
    return { ...out, ...counters() }
  }

  function counters () {
    return {
      length: torrent.length,
      downloaded: torrent.downloaded,
      web_bytes: webBytes(),
      uploaded: torrent.uploaded,
      peers: torrent.numPeers
    }
  }

  async function sha256 () {
    const digest = await crypto.subtle.digest('SHA-256', await torrent.files[0].arrayBuffer())
    return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')
  }

  // Outside the measured window: the library's service worker (at the site root, scope
  // '/'), the page under its control, the client ready, its server created.
  async function prepare ({ lib, webSeeds }) {
    const registration = await navigator.serviceWorker.register(`/${lib}-sw.js`, { scope: '/' })
    await navigator.serviceWorker.ready
    const worker = registration.active // WebTorrent's createServer wants it 'activated'
    if (worker.state !== 'activated') {
      await new Promise(resolve => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve()))
    }
    if (!navigator.serviceWorker.controller) {
      await new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
    }
    client = newClient(lib, null, webSeeds)
    if (!client.ready) await new Promise(resolve => client.once('ready', resolve))
    client.createServer({ controller: registration })
  }

  // Measured from add() to the first presented frame.
  function stream ({ lib, torrent: b64 }) {
    const bytes = bytesOf(b64)
    const video = document.getElementById('video')
    const times = {}
    return new Promise((resolve, reject) => {
      t0 = performance.now()
      video.addEventListener('error', () => reject(new Error(`video error ${video.error?.code}: ${video.error?.message}`)), { once: true })
      video.requestVideoFrameCallback(() => {
        times.first_frame_ms = performance.now() - t0
        times.progress_at_first_frame = torrent.progress
        times.web_bytes_at_first_frame = webBytes()
        resolve(times)
      })
      failOn(client, reject)
      torrent = client.add(bytes, addOpts(lib), t => {
        times.metadata_ms = performance.now() - t0
        t.files[0].streamTo(video)
        video.play().catch(err => reject(new Error(`play(): ${err.message}`)))
      })
      failOn(torrent, reject)
    })
  }

  function status () {
    const video = document.getElementById('video')
    return {
      progress: torrent?.progress,
      peers: torrent?.numPeers,
      ...(torrent ? { downloaded: torrent.downloaded, web_bytes: webBytes() } : {}),
      readyState: video?.readyState,
      currentTime: video?.currentTime
    }
  }

  function destroy () {
    return new Promise(resolve => {
      if (!client) return resolve()
      const out = client.destroy(() => resolve())
      if (out?.then) out.then(resolve, resolve)
    })
  }

  return { leech, done, counters, sha256, prepare, stream, status, destroy }
})()
