// The in-page half of tests/bench/browser_bench.mjs: the steps of each scenario, called from
// Node with page.evaluate(). The measured step (add(), dcSend()) only starts the work and
// returns; Node then awaits done(), so setting up (random bytes, seeding, creating clients,
// opening the raw channel) and checking (SHA-256) stay outside the measured window.
'use strict'
window.bench = (() => {
  const rtcConfig = { iceServers: [] } // loopback only: no STUN server to ask
  let data = null // the bytes this page seeds or sends
  let client = null
  let torrent = null
  let done = null // promise: the end of the measured step
  let pc = null // raw data channel scenario
  let dc = null
  let chunks = [] // raw data channel: what the receiver got
  let receivedBytes = 0
  let timeline = [] // [ms since the measured step started, bytes received]
  let sampler = null
  let milestones = {}

  const hex = buf => Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
  const sha256 = async bytes => hex(await crypto.subtle.digest('SHA-256', bytes))

  // `size` random bytes to seed or send; returns their SHA-256. getRandomValues fills at
  // most 64 KiB per call.
  async function makeData (size) {
    data = new Uint8Array(size)
    for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)))
    return sha256(data)
  }

  function newClient (lib, trackerURL) {
    if (lib === 'wasmtorrent') return new window.WasmTorrent({ tracker: { announce: [trackerURL], rtcConfig } })
    return new window.WebTorrent({ tracker: { rtcConfig } })
  }

  // WebTorrent's options for a store: 'memory' is memory-chunk-store, 'default' is what
  // WebTorrent picks by itself (in Chromium: fsa-chunk-store, the origin private file
  // system). WebTorrent skips its cache in front of a memory store, but tests that with
  // instanceof against its own bundled copy, which our copy is not: say so explicitly.
  function storeOpts (lib, store) {
    if (lib !== 'webtorrent' || store === 'default') return {}
    return { store: window.MemoryChunkStore, storeCacheSlots: 0 }
  }

  function failOn (emitter, reject) {
    emitter.once('error', err => reject(new Error(String(err?.message ?? err))))
  }

  // Seeds the bytes from makeData() as one file; returns the magnet link.
  async function seed ({ lib, store, trackerURL, pieceLength }) {
    client = newClient(lib, trackerURL)
    const opts = { ...storeOpts(lib, store) }
    if (pieceLength) opts.pieceLength = pieceLength
    if (lib === 'webtorrent') opts.announceList = [[trackerURL]] // not create-torrent's public trackers
    torrent = await new Promise((resolve, reject) => {
      failOn(client, reject)
      failOn(client.seed(new File([data], 'random.bin'), opts, resolve), reject)
    })
    return { magnet: torrent.magnetURI, infoHash: torrent.infoHash, pieceLength: torrent.pieceLength }
  }

  // Creates the downloading client before the measured step (wasmtorrent loads its
  // WebAssembly module here, WebTorrent becomes ready at the next microtask).
  async function prepare ({ lib, trackerURL }) {
    client = newClient(lib, trackerURL)
    if (!client.ready) await new Promise(resolve => client.once('ready', resolve))
  }

  // Measured: add the magnet; done() resolves at the torrent's 'done' with the page's own
  // add → done time in ms.
  function add ({ lib, store, magnet }) {
    const start = performance.now()
    torrent = client.add(magnet, storeOpts(lib, store))
    sample(start, () => torrent.received ?? torrent.downloaded)
    // When the first peer, the metadata and the first verified piece came (ms since add).
    milestones = {}
    for (const ev of ['wire', 'metadata', 'verified']) {
      torrent.once(ev, () => { milestones[ev] = Math.round(performance.now() - start) })
    }
    done = new Promise((resolve, reject) => {
      torrent.once('done', () => { stopSampling(); resolve(performance.now() - start) })
      failOn(torrent, reject)
      failOn(client, reject)
    })
    done.catch(() => {}) // awaited by done(); no unhandled rejection before that
  }

  // Every 100 ms: the bytes received so far, to find where a transfer waits (time to the first
  // byte, stalls). Both libraries count what arrived from peers, before verification.
  function sample (start, received) {
    timeline = []
    sampler = setInterval(() => timeline.push([Math.round(performance.now() - start), received()]), 100)
  }
  function stopSampling () { clearInterval(sampler); sampler = null }

  function waitForIce (pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve()
    return new Promise(resolve => {
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve()
      })
      setTimeout(resolve, 5000) // as web/transports/rtc.js: go with what was gathered by then
    })
  }

  // Raw channel, sender: a channel and a complete offer (no trickle, like the clients).
  async function dcOffer () {
    pc = new RTCPeerConnection(rtcConfig)
    dc = pc.createDataChannel('bench')
    dc.binaryType = 'arraybuffer'
    await pc.setLocalDescription(await pc.createOffer())
    await waitForIce(pc)
    return pc.localDescription.sdp
  }

  // Raw channel, receiver: answers; done() resolves once `size` bytes arrived. The messages
  // are kept (as a client keeps what it downloads) for verify().
  async function dcAnswer ({ sdp, size }) {
    pc = new RTCPeerConnection(rtcConfig)
    done = new Promise((resolve, reject) => {
      pc.ondatachannel = e => {
        dc = e.channel
        dc.binaryType = 'arraybuffer'
        dc.onmessage = e => {
          if (!sampler && !receivedBytes) sample(performance.now(), () => receivedBytes)
          chunks.push(e.data)
          receivedBytes += e.data.byteLength
          if (receivedBytes >= size) { stopSampling(); resolve(null) } // no page clock: the sender started it
        }
        dc.onclose = () => reject(new Error(`channel closed after ${receivedBytes} bytes`))
      }
    })
    done.catch(() => {})
    await pc.setRemoteDescription({ type: 'offer', sdp })
    await pc.setLocalDescription(await pc.createAnswer())
    await waitForIce(pc)
    return pc.localDescription.sdp
  }

  // Raw channel, sender: applies the answer and waits until the channel is open.
  async function dcAccept (sdp) {
    await pc.setRemoteDescription({ type: 'answer', sdp })
    if (dc.readyState === 'open') return
    await new Promise((resolve, reject) => {
      dc.onopen = resolve
      dc.onclose = () => reject(new Error('channel closed before it opened'))
    })
  }

  // Measured, raw channel sender: the bytes in messageSize messages, written while
  // bufferedAmount < high and resumed when it falls to low (the strategy of web/transports/rtc.js).
  function dcSend ({ messageSize, high, low }) {
    let offset = 0
    dc.bufferedAmountLowThreshold = low
    const pump = () => {
      while (offset < data.length && dc.bufferedAmount < high) {
        const end = Math.min(offset + messageSize, data.length)
        dc.send(data.subarray(offset, end))
        offset = end
      }
    }
    dc.onbufferedamountlow = pump
    pump()
  }

  // What arrived, for the check after the measured window.
  async function verify () {
    if (torrent) {
      const buffer = await torrent.files[0].arrayBuffer()
      // What the origin keeps in storage (OPFS, IndexedDB): shows which store was used.
      const { usage } = await navigator.storage.estimate()
      return { sha256: await sha256(buffer), length: buffer.byteLength, storageBytes: usage }
    }
    const all = new Uint8Array(receivedBytes)
    let o = 0
    for (const c of chunks) { all.set(new Uint8Array(c), o); o += c.byteLength }
    return { sha256: await sha256(all), length: all.length }
  }

  // For an error message when a rep times out.
  function status () {
    if (dc) return { receivedBytes, channel: dc.readyState, connection: pc.connectionState }
    if (!torrent) return {}
    return { progress: torrent.progress, numPeers: torrent.numPeers, downloaded: torrent.received }
  }

  return {
    makeData, seed, prepare, add, dcOffer, dcAnswer, dcAccept, dcSend, verify, status,
    timeline: () => timeline,
    milestones: () => milestones,
    done: () => done,
    client: () => client // for a look from Node (page.evaluate) when investigating
  }
})()
