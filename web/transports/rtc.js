// WebRTC transport of the browser host: one RTCPeerConnection and data channel per engine
// peer id. Offers and answers are made whole (non-trickle: the SDP carries the gathered
// candidates), bytes are written in messages of up to MESSAGE_SIZE under backpressure, and
// what has left a channel's buffer is reported to the engine (its send buffer limit).

// Bytes per data-channel message at most (the engine merges its sends up to 64 KiB too).
// Chromium 2026 advertises a=max-message-size:262144 and send() throws a TypeError above
// 256 KiB; a smaller limit announced by the remote (pc.sctp.maxMessageSize) wins.
// Measured here (64 MiB, two Chromium pages): 16 KiB messages and 1 MiB of buffer gave
// 8.6 MiB/s; 64 KiB messages 10.7 MiB/s. A 4 MiB buffer (18 MiB/s between two idle pages)
// stalled the channel for seconds at a time between two busy ones (the default stores: 3 MiB
// buffered and nothing arriving, as if the burst had overflowed a socket and waited for a
// retransmission): there 1 MiB moved 12.1 MiB/s against 4 MiB's 8.8 (median of 3 each,
// 2026-11-30), 512 KiB 11.6. On a slower machine (2026-12-04, 64 MiB between two busy pages,
// interleaved) 1 MiB stalled so in 5 reps of 25 (each stall began 1.3-1.5 s in, right after
// the buffer first filled) and 256 KiB in 1 of 18, medians 9.15 against 8.9 MiB/s. Chromium
// drops the UDP packets a page sends beyond 64 KiB on their way to its network service
// (IpcPacketSocket's kMaximumInFlightBytes), which the channel's SCTP then waits out.
export const MESSAGE_SIZE = 64 * 1024
export const BUFFER_HIGH = 256 * 1024 // stop writing into a channel above this bufferedAmount
const BUFFER_LOW = 64 * 1024 // bufferedAmountLowThreshold: resume below this
const COALESCE_MS = 10 // small writes wait at most this long after the last send (see send())
// Sent between two reports to the engine of what left the buffer. The engine stops handing
// bytes at BUFFER_HIGH unreported: a report must come before that, unless the channel holds
// more than BUFFER_LOW (its drain fires onbufferedamountlow, which reports). So REPORT_BYTES
// + BUFFER_LOW <= BUFFER_HIGH, or a channel that drains as fast as it is fed stalls for good.
const REPORT_BYTES = 64 * 1024
// And in case a browser misses an onbufferedamountlow (or a channel stays below it): bytes
// sent but not reported yet are looked for again after this long, so a peer never waits for
// good on an event.
const REPORT_WAIT_MS = 500
const ICE_GATHER_TIMEOUT = 5000 // ms: hand out what was gathered by then
// Offers made ahead (see prepareOffers): as many as the engine's WebSocket tracker client
// asks for per announce (offers_per_announce), kept for at most SPARE_TTL (their candidates
// may be stale after that: the network may have changed).
export const SPARE_OFFERS = 5
const SPARE_TTL = 120_000 // ms
const REFILL_DELAY = 5000 // ms
const CONNECT_TIMEOUT = 25000 // ms: answer/offer applied, channel still not open
export const DEFAULT_ICE_SERVERS = [{ urls: ['stun:stun.l.google.com:19302', 'stun:global.stun.twilio.com:3478'] }]

function waitForIce (pc) {
  return new Promise(resolve => {
    if (pc.iceGatheringState === 'complete') return resolve()
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT)
    function done () {
      clearTimeout(timer)
      pc.removeEventListener('icegatheringstatechange', check)
      resolve()
    }
    function check () { if (pc.iceGatheringState === 'complete') done() }
    pc.addEventListener('icegatheringstatechange', check)
  })
}

export class RtcTransport {
  // input(fn): feeds fn(engine, now) to the engine and drains its outputs; heap(): the
  // engine's memory as bytes (it moves when memory grows); rtcConfig: RTCPeerConnection's.
  constructor ({ input, heap, rtcConfig }) {
    this.input = input
    this.heap = heap
    this.rtcConfig = rtcConfig
    this.peers = new Map() // engine peer id -> { pc, dc, queue, ... }
    this.PeerConnection = globalThis.RTCPeerConnection // Node: set by the host (node-datachannel)
    this.spares = [] // offers made ahead: { pc, dc, made, ready: Promise<sdp | null> }
    this.spareCount = 0
    this.refill = null
  }

  // Makes `count` offers ahead of the engine's request, and again each time they are used.
  // An offer waits for ICE gathering to complete (the WebSocket tracker protocol has no
  // trickle): on loopback alone that took 135 ms of the 200 ms before a magnet's first
  // peer, and STUN servers make it longer; made while the module loads or the page idles,
  // the first announce goes out at once. An offer has no torrent in it, so any torrent's
  // announce may take it.
  prepareOffers (count) {
    this.spareCount = count
    const now = performance.now()
    for (const spare of this.spares.filter(s => now - s.made > SPARE_TTL)) this.dropSpare(spare)
    while (this.spares.length < count) {
      let pc, dc
      try {
        pc = new this.PeerConnection(this.rtcConfig)
        dc = pc.createDataChannel('wasmtorrent')
      } catch { // e.g. a bad rtcConfig: createOffer() reports it when the engine asks
        try { pc?.close() } catch {}
        this.spareCount = 0
        return
      }
      const ready = (async () => {
        await pc.setLocalDescription(await pc.createOffer())
        await waitForIce(pc)
        return pc.localDescription.sdp
      })().catch(() => null)
      this.spares.push({ pc, dc, made: now, ready })
    }
  }

  dropSpare (spare) {
    this.spares.splice(this.spares.indexOf(spare), 1)
    try { spare.pc.close() } catch {}
  }

  // A spare offer young enough to use, or null.
  takeSpare () {
    const now = performance.now()
    let spare
    while ((spare = this.spares.shift())) {
      if (now - spare.made <= SPARE_TTL && spare.pc.signalingState !== 'closed') break
      try { spare.pc.close() } catch {}
    }
    if (this.spareCount > 0 && this.spares.length === 0 && !this.refill) {
      // Once this announce's connections are made: not while they compete for the CPU.
      this.refill = setTimeout(() => {
        this.refill = null
        if (this.spareCount > 0) this.prepareOffers(this.spareCount)
      }, REFILL_DELAY)
    }
    return spare ?? null
  }

  // pc: null for a channel the page brought (addPeer), which has no connection of ours.
  newPeer (id, pc = new this.PeerConnection(this.rtcConfig)) {
    const peer = { id, pc, dc: null, messageSize: MESSAGE_SIZE, queue: [], queued: 0, flushAt: -1, lastSend: -Infinity, buffered: 0, unasked: 0, handed: 0, reported: 0, reportTimer: null, messages: 0, open: false, closed: false, timer: null }
    this.peers.set(id, peer)
    if (pc) {
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.failed(peer)
      }
    }
    return peer
  }

  startConnectTimer (peer) {
    clearTimeout(peer.timer)
    peer.timer = setTimeout(() => { if (!peer.open) this.failed(peer) }, CONNECT_TIMEOUT)
  }

  setupChannel (peer, dc) {
    peer.dc = dc
    dc.binaryType = 'arraybuffer'
    dc.bufferedAmountLowThreshold = BUFFER_LOW
    dc.onopen = () => {
      if (peer.closed) return
      peer.open = true
      // The remote's limit (SDP a=max-message-size) when it is smaller than ours.
      const max = peer.pc?.sctp?.maxMessageSize
      peer.messageSize = max > 0 ? Math.min(MESSAGE_SIZE, max) : MESSAGE_SIZE
      clearTimeout(peer.timer)
      this.input((E, t) => E.channelOpened(peer.id, t))
    }
    dc.onmessage = e => {
      if (peer.closed) return
      const data = new Uint8Array(e.data)
      this.input((E, t) => {
        const ptr = E.reserve(data.length)
        this.heap().set(data, ptr) // after reserve: memory may have grown
        E.channelData(peer.id, data.length, t)
      })
    }
    dc.onbufferedamountlow = () => this.flush(peer, true)
    dc.onclose = () => this.failed(peer)
    dc.onerror = () => this.failed(peer)
  }

  async createOffer (id) {
    let peer
    try {
      const spare = this.takeSpare()
      const sdp = spare && await spare.ready
      if (spare && !sdp) try { spare.pc.close() } catch {}
      if (sdp) {
        peer = this.newPeer(id, spare.pc)
        this.setupChannel(peer, spare.dc)
      } else {
        peer = this.newPeer(id) // throws where there is no RTCPeerConnection
        this.setupChannel(peer, peer.pc.createDataChannel('wasmtorrent'))
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        await waitForIce(peer.pc)
      }
      if (peer.closed) return
      this.input((E, t) => E.offerCreated(id, peer.pc.localDescription.sdp, t))
    } catch (err) {
      this.close(id)
      this.input((E, t) => E.offerCreated(id, '', t))
    }
  }

  async createAnswer (id, sdp) {
    let peer
    try {
      peer = this.newPeer(id) // throws where there is no RTCPeerConnection
      peer.pc.ondatachannel = e => this.setupChannel(peer, e.channel) // any label
      await peer.pc.setRemoteDescription({ type: 'offer', sdp })
      await peer.pc.setLocalDescription(await peer.pc.createAnswer())
      await waitForIce(peer.pc)
      if (peer.closed) return
      this.startConnectTimer(peer)
      this.input((E, t) => E.answerCreated(id, peer.pc.localDescription.sdp, t))
    } catch (err) {
      this.close(id)
      this.input((E, t) => E.answerCreated(id, '', t))
    }
  }

  async setAnswer (id, sdp) {
    const peer = this.peers.get(id)
    if (!peer) return
    this.startConnectTimer(peer)
    try {
      await peer.pc.setRemoteDescription({ type: 'answer', sdp })
    } catch (err) {
      this.failed(peer)
    }
  }

  // Closed from our side (the engine asked, or shutdown): no report to the engine.
  close (id) {
    const peer = this.peers.get(id)
    if (!peer) return
    peer.closed = true
    this.peers.delete(id)
    while (peer.queue.length > 0) recycle(peer.queue.pop().bytes)
    peer.queued = 0
    clearTimeout(peer.timer)
    peer.reportTimer = clearTimeout(peer.reportTimer) ?? null
    try { peer.dc?.close() } catch {}
    try { peer.pc?.close() } catch {}
  }

  // Closed or failed on the browser's side: tell the engine.
  failed (peer) {
    if (peer.closed) return
    this.close(peer.id)
    this.input((E, t) => E.channelClosed(peer.id, t))
  }

  // Bytes are queued and written in as few messages as serve: each send() costs the page a
  // synchronous hop to the browser's network thread, which a channel busy receiving makes
  // slow (measured on the downloading side: most of a millisecond, for a 17-byte request).
  // As Nagle's algorithm does for TCP, small writes go out at once on an idle channel, and
  // otherwise wait for a full message or until COALESCE_MS after the last send; a drain's
  // worth goes out together either way (the flush runs after the current task's outputs).
  // `data` may be a view into the engine's memory: it is copied here, into the peer's
  // messages (see append), before anything else runs.
  send (id, data) {
    const peer = this.peers.get(id)
    if (!peer || peer.closed) return
    append(peer, data)
    peer.handed += data.length
    if (peer.flushAt === 0) return // a flush is queued for this task already
    const wait = peer.queued >= peer.messageSize ? 0 : peer.lastSend + COALESCE_MS - performance.now()
    if (wait > 0) {
      if (peer.flushAt < 0) {
        peer.flushAt = peer.lastSend + COALESCE_MS
        setTimeout(() => this.flush(peer), wait)
      }
      return
    }
    peer.flushAt = 0
    queueMicrotask(() => this.flush(peer))
  }

  // Writes queued bytes in messages of up to messageSize (joining small ones) while the
  // channel's buffer allows, and reports to the engine what has left the buffer. Reading
  // dc.bufferedAmount costs a round trip to the browser's network thread (measured: 35 µs,
  // 25 times a small send()), so the buffer is tracked from what we sent (an upper bound: it
  // only drains) and read back when that says full, when the channel says it is low, and
  // after every REPORT_BYTES sent (the engine needs to hear that bytes left).
  flush (peer, low = false) {
    const dc = peer.dc
    peer.flushAt = -1
    if (!dc || peer.closed || dc.readyState !== 'open') return
    let asked = low
    if (low) peer.buffered = dc.bufferedAmount
    try {
      while (peer.queue.length > 0) {
        if (peer.buffered >= BUFFER_HIGH) {
          peer.buffered = dc.bufferedAmount
          asked = true
          if (peer.buffered >= BUFFER_HIGH) break // onbufferedamountlow resumes
        }
        const { bytes, length } = peer.queue.shift()
        dc.send(bytes.subarray(0, length)) // copies the bytes
        peer.messages++
        recycle(bytes)
        peer.queued -= length
        peer.lastSend = performance.now()
        peer.buffered += length
        peer.unasked += length
      }
    } catch (err) {
      this.failed(peer)
      return
    }
    if (asked || peer.unasked >= REPORT_BYTES) {
      if (!asked) peer.buffered = dc.bufferedAmount
      peer.unasked = 0
      const sent = peer.handed - peer.queued - peer.buffered - peer.reported
      if (sent > 0) {
        peer.reported += sent
        this.input((E, t) => E.channelSent(peer.id, sent, t))
      }
    }
    if (peer.handed - peer.queued > peer.reported && !peer.reportTimer) {
      peer.reportTimer = setTimeout(() => {
        peer.reportTimer = null
        this.flush(peer, true)
      }, REPORT_WAIT_MS)
    }
  }

  // A data channel the page signalled itself (torrent.addPeer), as engine peer `id`.
  attach (id, dc, early = []) {
    const peer = this.newPeer(id, null)
    this.setupChannel(peer, dc)
    if (dc.readyState === 'open') {
      dc.onopen()
      for (const data of early) dc.onmessage({ data })
    } else if (dc.readyState !== 'connecting') {
      this.failed(peer)
    }
  }

  // Closes the peer as if the browser had: the engine is told.
  fail (id) {
    const peer = this.peers.get(id)
    if (peer) this.failed(peer)
  }

  closeAll () {
    for (const [id] of this.peers) this.close(id)
    this.spareCount = 0
    this.refill = clearTimeout(this.refill) ?? null
    while (this.spares.length > 0) this.dropSpare(this.spares[0])
  }
}

// A peer's queue is a list of messages being filled: { bytes (MESSAGE_SIZE of room), length }
// (the engine writes only once the channel is open, when messageSize is known). Bytes are copied into the last one until it holds messageSize, so data crosses from
// the engine into a message once (it used to be copied out of the engine, then again to join
// small writes into one message), and a sent message's buffer is used again: send() copies it,
// and on a busy page allocating a fresh 64 KiB buffer per message cost more than the copy.
const spareMessages = [] // buffers of sent messages, for the next ones
const SPARE_MESSAGES = 32 // at most this many kept (2 MiB)

function append (peer, data) {
  for (let at = 0; at < data.length;) {
    let tail = peer.queue.at(-1)
    if (!tail || tail.length >= peer.messageSize) {
      tail = { bytes: spareMessages.pop() ?? new Uint8Array(MESSAGE_SIZE), length: 0 }
      peer.queue.push(tail)
    }
    const n = Math.min(data.length - at, peer.messageSize - tail.length)
    tail.bytes.set(n === data.length ? data : data.subarray(at, at + n), tail.length)
    tail.length += n
    at += n
  }
  peer.queued += data.length
}

function recycle (bytes) {
  if (spareMessages.length < SPARE_MESSAGES) spareMessages.push(bytes)
}
