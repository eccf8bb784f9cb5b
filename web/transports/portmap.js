// Port mapping on the router under Node (the protocols are the engine's, src/portmap): NAT-PMP
// (one UDP socket to the default gateway's port 5351) and UPnP IGD (an SSDP search by UDP
// multicast, then HTTP to the router). Each drives the engine's object (M.NatPmp, M.Upnp) with
// a timer of its own and reports { type: 'address' | 'mapped' | 'failed' | 'unmapped', ... }.
import dgram from 'node:dgram'
import http from 'node:http'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { isIPv4 } from 'node:net'

const NATPMP_PORT = 5351
const SSDP_GROUP = '239.255.255.250'
const SSDP_PORT = 1900
const MAX_HTTP_BODY = 64 * 1024 // the engine refuses more anyway
const HTTP_TIMEOUT_MS = 10_000

// The default IPv4 gateway, or null.
export async function defaultGateway () {
  try {
    // Iface Destination Gateway Flags ...: the default route has destination 0 and the
    // gateway flag (2); addresses are hex, in the machine's byte order (little-endian).
    const table = await readFile('/proc/net/route', 'utf8')
    for (const line of table.split('\n').slice(1)) {
      const [, destination, gateway, flags] = line.trim().split(/\s+/)
      if (destination !== '00000000' || !(parseInt(flags, 16) & 2)) continue
      const n = parseInt(gateway, 16)
      return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.')
    }
    return null
  } catch {}
  return new Promise(resolve => {
    execFile('route', ['-n', 'get', 'default'], { timeout: 2000 }, (err, stdout) => {
      const m = !err && /gateway:\s*(\S+)/.exec(stdout)
      resolve(m && isIPv4(m[1]) ? m[1] : null)
    })
  })
}

// The loop around one engine object: calls into it, its outputs (the protocol's own through
// handle(), the rest to on()), its timer, and a close that deletes the mappings first.
class PortMapper {
  constructor (engine, on) {
    this._engine = engine
    this._on = on
    this._timer = null
    this._closed = false
    this._onOutputs = null
  }

  map (protocol, port) {
    this._run(now => this._engine.map(protocol, port, now))
  }

  // Deletes the mappings (unless keep), those the router grants to a request still in flight
  // too, waiting at most `wait` ms for the router to confirm, then closes.
  async close ({ keep = false, wait = 1000 } = {}) {
    if (this._closed) return
    if (!keep) {
      await new Promise(resolve => {
        const timeout = setTimeout(resolve, wait)
        this._onOutputs = () => { if (this._engine.settled()) { clearTimeout(timeout); resolve() } }
        this._run(now => this._engine.unmapAll(now))
      })
    }
    this._closed = true
    clearTimeout(this._timer)
    this._closeSockets()
    this._engine.delete()
  }

  _run (call) {
    if (this._closed) return
    call(performance.now())
    for (let o; (o = this._engine.poll()) !== null;) {
      if (!this.handle(o)) this._on(o.type, o)
    }
    this._onOutputs?.()
    clearTimeout(this._timer)
    const next = this._engine.nextDeadline()
    if (next >= 0) this._timer = setTimeout(() => this._run(now => this._engine.onTimer(now)), Math.max(0, next - performance.now()))
  }
}

// NAT-PMP (RFC 6886) with the gateway at `gateway`.
export class NatPmpTransport extends PortMapper {
  constructor ({ M, gateway, on }) {
    super(new M.NatPmp(), on)
    this.gateway = gateway
    this._socket = dgram.createSocket('udp4')
    this._socket.on('error', () => {}) // a send that failed is one lost request: retried
    this._socket.on('message', (data, from) => {
      if (from.address === gateway && from.port === NATPMP_PORT) this._run(now => this._engine.received(data, now))
    })
    this._bound = new Promise(resolve => this._socket.bind(0, resolve))
  }

  handle (o) {
    if (o.type !== 'send') return false
    this._bound.then(() => { if (!this._closed) this._socket.send(o.data, NATPMP_PORT, this.gateway) })
    return true
  }

  _closeSockets () { this._socket.close() }
}

// UPnP IGD: the router answering an SSDP search on the local network. permanent: leases of 0
// (WebTorrent's natUpnp: 'permanent'), kept by close().
export class UpnpTransport extends PortMapper {
  constructor ({ M, on, permanent = false }) {
    super(new M.Upnp(), on)
    this.permanent = permanent
    if (permanent) this._engine.setLease(0)
    this._requests = new Set()
    this._socket = dgram.createSocket('udp4')
    this._socket.on('error', () => {})
    this._socket.on('message', data => this._run(now => this._engine.ssdpReceived(data, now)))
    this._bound = new Promise(resolve => this._socket.bind(0, () => {
      try { this._socket.setMulticastTTL(2) } catch {}
      resolve()
    }))
  }

  handle (o) {
    if (o.type === 'search') {
      this._bound.then(() => { if (!this._closed) this._socket.send(o.data, SSDP_PORT, SSDP_GROUP) })
      return true
    }
    if (o.type !== 'http') return false
    this._request(o)
    return true
  }

  // One GET or SOAP POST; its answer (body up to MAX_HTTP_BODY) or failure back to the engine,
  // with our address on that connection (the mappings' internal client).
  _request ({ id, method, url, soapAction, body }) {
    const headers = method === 'POST'
      ? { 'Content-Type': 'text/xml; charset="utf-8"', SOAPAction: soapAction, 'Content-Length': Buffer.byteLength(body) }
      : {}
    const fail = message => this._run(now => this._engine.httpFailed(id, message, now))
    let req
    try {
      req = http.request(url, { method, headers, timeout: HTTP_TIMEOUT_MS })
    } catch (err) {
      return queueMicrotask(() => fail(err.message))
    }
    this._requests.add(req)
    req.on('response', res => {
      const chunks = []
      let size = 0
      res.on('data', chunk => {
        size += chunk.length
        if (size > MAX_HTTP_BODY) return req.destroy(new Error('answer too long'))
        chunks.push(chunk)
      })
      res.on('end', () => {
        this._requests.delete(req)
        const local = (req.socket?.localAddress ?? '').replace(/^::ffff:/, '')
        this._run(now => this._engine.httpResponse(id, res.statusCode, Buffer.concat(chunks).toString('utf8'), local, now))
      })
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', err => {
      if (!this._requests.delete(req)) return
      fail(err.message)
    })
    req.end(method === 'POST' ? body : undefined)
  }

  _closeSockets () {
    this._socket.close()
    for (const req of this._requests) req.destroy()
    this._requests.clear()
  }
}
