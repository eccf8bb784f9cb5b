// AirPlay casting: finds receivers by mDNS (_airplay._tcp, with bonjour-service) and tells
// one to play a URL with AirPlay's video API (the "unofficial AirPlay protocol
// specification"): POST /play with a text/parameters body naming the URL, then GET
// /playback-info now and then, as Apple's senders do, on the same kept-alive connection (a
// receiver stops playing when the connection that started it closes). POST /stop ends it.
//
// The HTTP side is spoken here with node:http rather than with airplay-protocol: that
// library crashes the process on any connection error (its requests have no 'error'
// listener), its reverse-HTTP event channel does the same when a receiver refuses the
// upgrade, and it depends on plist 1 / xmldom 0.1, long unmaintained.
//
// Apple TVs since tvOS 10.2 ask senders for device verification (HomeKit-style pairing),
// which this does not do: they answer /play with 403, reported as cast_failed. Receivers
// that accept unverified AirPlay video (older Apple TVs, and Apple TVs with verification
// off, many AirPlay receivers in TVs and apps) play.
import http from 'node:http'
import { randomUUID } from 'node:crypto'
import { isIPv4 } from 'node:net'
import { CastError, chooseDevice, nameMatches } from './errors.js'

const REQUEST_TIMEOUT_MS = 10000
const POLL_MS = 2000
const USER_AGENT = 'MediaControl/1.0'

// bonjour-service is an optional dependency: a clear error when it is missing.
async function loadBonjour () {
  try {
    return (await import('bonjour-service')).Bonjour
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err
    throw new CastError('not_installed', 'AirPlay needs the optional dependency bonjour-service (npm install bonjour-service)')
  }
}

// Browses _airplay._tcp for up to timeoutMs, calling onDevice(device, devices) for each new
// one; onDevice returning true ends the search early. Resolves to the devices found.
async function browse (timeoutMs, onDevice = () => false) {
  const Bonjour = await loadBonjour()
  return new Promise((resolve, reject) => {
    const devices = []
    let done = false
    let timer, requery
    const bonjour = new Bonjour({}, err => finish(err))
    const browser = bonjour.find({ type: 'airplay' })
    const finish = err => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearInterval(requery)
      browser.stop()
      bonjour.destroy() // closes the mDNS socket: the process can exit
      if (err) reject(new CastError('cast_failed', `AirPlay discovery failed: ${err.message}`))
      else resolve(devices)
    }
    bonjour.server.mdns.on('error', finish) // a socket that cannot bind (multicast-dns emits it)
    browser.on('up', service => {
      const device = toDevice(service)
      if (!device) return // (the browser reports each service once)
      devices.push(device)
      if (onDevice(device, devices)) finish()
    })
    // A query or answer can be lost: ask again, as mDNS browsers do.
    requery = setInterval(() => browser.update(), 1000)
    timer = setTimeout(() => finish(), timeoutMs)
  })
}

// { name, host, port } of an mDNS service, or null for one that cannot play video (AirPlay
// speakers advertise _airplay._tcp too; bit 0 of `features` is video).
function toDevice (service) {
  const features = service.txt?.features
  if (features && (parseInt(String(features).split(',')[0], 16) & 1) === 0) return null
  const from = service.referer?.address
  const v4 = (service.addresses ?? []).filter(a => isIPv4(a))
  // The address the answer came from, if the device lists it (the interface we share).
  const host = v4.includes(from) ? from : (v4[0] ?? from)
  if (!host || !service.port) return null
  return { name: service.name, host, port: service.port, model: service.txt?.model }
}

export async function findDevices ({ timeoutMs = 5000 } = {}) {
  return browse(timeoutMs)
}

// Plays `url` on the device whose name contains `device` (any case), or on the first found.
// `title` and `contentType` are accepted for the shared cast interface; AirPlay's /play
// carries neither (the receiver reads the type from the stream).
export async function play (url, { device, timeoutMs = 5000 } = {}) {
  const found = await browse(timeoutMs, nameMatches(device))
  return playOn(chooseDevice(found, device, { kind: 'AirPlay device', timeoutMs }), url)
}

// Plays on a known device ({ name, host, port }); the handle as play()'s.
export async function playOn (target, url) {
  const session = new Session(target)
  const body = `Content-Location: ${url}\nStart-Position: 0\n`
  let res
  try {
    res = await session.request('POST', '/play', body)
  } catch (err) {
    session.close()
    throw new CastError('cast_failed', `AirPlay device "${target.name}" (${target.host}:${target.port}) did not answer: ${err.message}`)
  }
  if (res.status !== 200) {
    session.close()
    const why = res.status === 403 || res.status === 401 || res.status === 470
      ? ': it asks for device verification (pairing), which is not supported; turn it off in the device\'s AirPlay settings if it allows'
      : ''
    throw new CastError('cast_failed', `AirPlay device "${target.name}" refused to play (HTTP ${res.status})${why}`)
  }
  session.poll()
  return {
    name: target.name,
    host: target.host,
    port: target.port,
    stop: () => session.stop(),
    close: () => session.close()
  }
}

// The HTTP conversation with one receiver: a single kept-alive connection and a session id.
class Session {
  constructor ({ host, port }) {
    this.host = host
    this.port = port
    this.id = randomUUID()
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    this.timer = null
    this.polling = false
    this.closed = false
  }

  // Resolves to { status, headers, body: string } for any status; rejects on network errors.
  request (method, path, body = '') {
    return new Promise((resolve, reject) => {
      const headers = {
        'user-agent': USER_AGENT,
        'x-apple-session-id': this.id,
        'content-length': Buffer.byteLength(body)
      }
      if (body) headers['content-type'] = 'text/parameters'
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, res => {
        const chunks = []
        res.on('data', chunk => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }))
        res.on('error', reject)
      })
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)))
      req.on('error', reject)
      req.end(body)
    })
  }

  // Asks for the playback state now and then, which keeps the connection (and so the
  // playback) alive. The timer does not hold the process open.
  poll () {
    this.polling = true
    const tick = () => {
      if (!this.polling) return
      this.request('GET', '/playback-info').catch(() => {}).finally(() => {
        if (this.polling) this.timer = setTimeout(tick, POLL_MS).unref()
      })
    }
    this.timer = setTimeout(tick, POLL_MS).unref()
  }

  async stop () {
    if (this.closed) return
    this.polling = false
    clearTimeout(this.timer)
    let res
    try {
      res = await this.request('POST', '/stop')
    } catch (err) {
      throw new CastError('cast_failed', `AirPlay device did not answer /stop: ${err.message}`)
    }
    if (res.status !== 200) throw new CastError('cast_failed', `AirPlay device refused to stop (HTTP ${res.status})`)
  }

  close () {
    this.closed = true
    this.polling = false
    clearTimeout(this.timer)
    this.agent.destroy()
  }
}
