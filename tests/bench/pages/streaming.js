// The in-page half of tests/bench/streaming_bench.mjs: a seeder page (optionally with its
// upload throttled) and a leecher page; the leecher streams the WebM into a <video> through
// its library's service worker and records when each piece is verified (a trace against
// the player's requests, which Node sees). Node calls these with page.evaluate(). Times are performance.now()
// differences inside the leecher page, in ms.
//   first frame: from client.add(magnet) to the first requestVideoFrameCallback callback
//                (the first video frame handed to the compositor); the 'playing' event is
//                recorded too
//   seek:        once playback has passed 1 s, currentTime is set to 75% of the duration;
//                resumed = the first presented frame whose mediaTime is later than the
//                first frame presented at the target (playback is moving again there);
//                'seeked' and the first frame at the target are recorded too
'use strict'
window.stream = (() => {
  const rtcConfig = { iceServers: [] } // loopback only
  let client = null
  let torrent = null
  let firstFrame = null // promise, set by add()
  let t0 = 0 // add() time
  const verified = [] // [ms since add(), piece index]
  const media = [] // [ms since add(), <video> event, currentTime]

  // uploadLimit: the seeder's upload in bytes/s (0: none).
  function newClient (lib, trackerURL, uploadLimit = 0) {
    if (lib === 'wasmtorrent') {
      return new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig }, ...(uploadLimit ? { uploadLimit } : {}) })
    }
    const client = new window.WebTorrent({ tracker: { rtcConfig } })
    if (uploadLimit) client.throttleUpload(uploadLimit)
    return client
  }

  // Both sides in memory: WebTorrent with memory-chunk-store (its cache in front of it
  // off, as in browser_bench.mjs), wasmtorrent keeps torrents in memory anyway.
  const storeOpts = lib => lib === 'webtorrent' ? { store: window.MemoryChunkStore, storeCacheSlots: 0 } : {}

  const failOn = (emitter, reject) => emitter.once('error', err => reject(new Error(String(err?.message ?? err))))

  async function seed ({ lib, trackerURL, uploadLimit }) {
    const bytes = new Uint8Array(await (await fetch('/media/test.webm')).arrayBuffer())
    client = newClient(lib, trackerURL, uploadLimit)
    const opts = storeOpts(lib)
    if (lib === 'webtorrent') opts.announceList = [[trackerURL]]
    torrent = await new Promise((resolve, reject) => {
      failOn(client, reject)
      failOn(client.seed(new File([bytes], 'test.webm'), opts, resolve), reject)
    })
    return { magnet: torrent.magnetURI, infoHash: torrent.infoHash, length: bytes.length, pieceLength: torrent.pieceLength }
  }

  // Outside the measured window: the library's service worker (at the site root, scope
  // '/'), the page under its control, the client ready, its server created.
  async function prepare ({ lib, trackerURL }) {
    const registration = await navigator.serviceWorker.register(`/${lib}-sw.js`, { scope: '/' })
    await navigator.serviceWorker.ready
    const worker = registration.active // WebTorrent's createServer wants it 'activated'
    if (worker.state !== 'activated') {
      await new Promise(resolve => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve()))
    }
    if (!navigator.serviceWorker.controller) {
      await new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
    }
    client = newClient(lib, trackerURL)
    if (!client.ready) await new Promise(resolve => client.once('ready', resolve))
    client.createServer({ controller: registration })
  }

  // Measured from here: add the magnet, stream the file into the <video> when the torrent
  // has its metadata, play.
  function add ({ lib, magnet }) {
    const video = document.getElementById('video')
    t0 = performance.now()
    for (const type of ['seeking', 'seeked', 'waiting', 'playing', 'canplay', 'stalled', 'loadedmetadata']) {
      video.addEventListener(type, () => media.push([Math.round(performance.now() - t0), type, Math.round(video.currentTime * 10) / 10]))
    }
    const times = {}
    firstFrame = new Promise((resolve, reject) => {
      // Resolves once both the first frame and 'playing' have come, in either order.
      const both = () => times.first_frame_ms !== undefined && times.playing_ms !== undefined && resolve(times)
      video.addEventListener('playing', () => { times.playing_ms = performance.now() - t0; both() }, { once: true })
      video.addEventListener('error', () => reject(new Error(`video error ${video.error?.code}: ${video.error?.message}`)), { once: true })
      video.requestVideoFrameCallback(() => {
        times.first_frame_ms = performance.now() - t0
        times.progress_at_first_frame = torrent.progress
        both()
      })
      failOn(client, reject)
      torrent = client.add(magnet, storeOpts(lib), t => {
        times.piece_length = t.pieceLength
        times.metadata_ms = performance.now() - t0
        const file = t.files.find(f => f.name.endsWith('.webm'))
        file.streamTo(video)
        video.play().catch(err => reject(new Error(`play(): ${err.message}`)))
      })
      failOn(torrent, reject)
      torrent.on('verified', index => verified.push([Math.round(performance.now() - t0), index]))
    })
    firstFrame.catch(() => {}) // awaited by waitFirstFrame()
  }

  const waitFirstFrame = () => firstFrame

  // Waits for playback to pass 1 s, then seeks to 75% and measures.
  async function seek () {
    const video = document.getElementById('video')
    while (video.currentTime < 1) await new Promise(resolve => video.addEventListener('timeupdate', resolve, { once: true }))
    const target = video.duration * 0.75
    const progressAtSeek = torrent.progress
    const times = { at_ms: performance.now() - t0 }
    const tSeek = performance.now()
    const result = new Promise((resolve, reject) => {
      video.addEventListener('error', () => reject(new Error(`video error ${video.error?.code}: ${video.error?.message}`)), { once: true })
      video.addEventListener('seeked', () => { times.seeked_ms = performance.now() - tSeek }, { once: true })
      let atTarget = null // mediaTime of the first frame presented at the target
      const onFrame = (now, meta) => {
        if (meta.mediaTime >= target - 0.1) {
          if (atTarget === null) {
            atTarget = meta.mediaTime
            times.frame_at_target_ms = performance.now() - tSeek
          } else if (meta.mediaTime > atTarget && !video.paused) {
            times.resumed_ms = performance.now() - tSeek
            times.media_time = meta.mediaTime
            times.progress_at_resumed = torrent.progress
            return resolve(times)
          }
        }
        video.requestVideoFrameCallback(onFrame)
      }
      video.requestVideoFrameCallback(onFrame)
    })
    video.currentTime = target
    const out = await result
    return { ...out, target, duration: video.duration, progress_at_seek: progressAtSeek }
  }

  function status () {
    const video = document.getElementById('video')
    return {
      progress: torrent?.progress,
      peers: torrent?.numPeers,
      readyState: video?.readyState,
      currentTime: video?.currentTime,
      paused: video?.paused,
      src: video?.currentSrc
    }
  }

  // Pieces in the order they were verified, with ms since add().
  const trace = () => ({ verified, media, t0_epoch_ms: performance.timeOrigin + t0 })

  return { seed, prepare, add, waitFirstFrame, seek, status, trace }
})()
