// Port mapping by NAT-PMP under Node (the protocol is the engine's, src/portmap): one UDP
// socket to the default gateway's port 5351, the engine's NatPmp object driven by its own
// timer. The gateway is read from the routing table (Linux: /proc/net/route; macOS and the
// BSDs: `route -n get default`).
import dgram from 'node:dgram'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { isIPv4 } from 'node:net'

const PORT = 5351

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

export class NatPmpTransport {
  // M: the engine's module; gateway: its IPv4 address; on(event): 'address' (public IP),
  // 'mapped' / 'failed' / 'unmapped' ({ protocol, internalPort, ... } from the engine).
  constructor ({ M, gateway, on }) {
    this.gateway = gateway
    this._on = on
    this._pmp = new M.NatPmp()
    this._timer = null
    this._closed = false
    this._socket = dgram.createSocket('udp4')
    this._socket.on('error', () => {}) // a send that failed is one lost request: retried
    this._socket.on('message', (data, from) => {
      if (from.address !== gateway || from.port !== PORT || this._closed) return
      this._run(now => this._pmp.received(data, now))
    })
    this._bound = new Promise(resolve => this._socket.bind(0, resolve))
  }

  map (protocol, port) {
    this._run(now => this._pmp.map(protocol, port, now))
  }

  // Deletes the mappings (unless keep: WebTorrent's 'permanent'), waiting at most `wait` ms
  // for the gateway to confirm, then closes the socket.
  async close ({ keep = false, wait = 1000 } = {}) {
    if (this._closed) return
    if (!keep) {
      await new Promise(resolve => {
        const pending = new Set()
        const done = () => { clearTimeout(timeout); this._onUnmapped = null; resolve() }
        const timeout = setTimeout(done, wait)
        this._onUnmapped = key => { pending.delete(key); if (pending.size === 0) done() }
        this._run(now => this._pmp.unmapAll(now))
        for (const key of this._requested ?? []) pending.add(key)
        if (pending.size === 0) done()
      })
    }
    this._closed = true
    clearTimeout(this._timer)
    this._socket.close()
    this._pmp.delete()
  }

  // Calls the engine, then sends its datagrams, reports its events and arms its timer.
  _run (call) {
    if (this._closed) return
    call(performance.now())
    for (let o; (o = this._pmp.poll()) !== null;) {
      if (o.type === 'send') {
        const data = o.data
        this._bound.then(() => { if (!this._closed) this._socket.send(data, PORT, this.gateway) })
        continue
      }
      const key = `${o.protocol}:${o.internalPort}`
      if (o.type === 'mapped') (this._requested ??= new Set()).add(key)
      if (o.type === 'unmapped' || o.type === 'failed') {
        this._requested?.delete(key)
        this._onUnmapped?.(key)
      }
      this._on(o.type, o)
    }
    clearTimeout(this._timer)
    const next = this._pmp.nextDeadline()
    if (next >= 0) this._timer = setTimeout(() => this._run(now => this._pmp.onTimer(now)), Math.max(0, next - performance.now()))
  }
}
