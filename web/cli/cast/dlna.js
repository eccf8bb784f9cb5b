// DLNA casting: finds UPnP MediaRenderers with an SSDP M-SEARCH and has one play a URL with
// the AVTransport actions SetAVTransportURI and Play (SOAP over HTTP).
//
// No npm library, on purpose. dlnacasts2 0.2.0 (a fork of the abandoned dlnacasts) fails
// against gmediarender under Node >= 19 with "socket hang up": its upnp-device-client uses the
// global agent, keep-alive since Node 19, and libupnp answers a SOAP call without
// "Connection: close" yet closes the connection, so the next request on it dies. It also
// keeps an eventing server and a 270 s renewal timer alive after a cast, and never closes its
// SSDP socket (its destroy() is empty); the node-ssdp 2.x it brings crashes the process 5 s
// after the search on a machine without a multicast route (a retry timer that stop() leaves).
// A cast needs one UDP datagram and three HTTP requests, written here from the UPnP specs,
// with every socket ours to close.
import dgram from 'node:dgram'
import http from 'node:http'
import os from 'node:os'
import { CastError, chooseDevice, nameMatches } from './errors.js'

const SSDP_ADDRESS = '239.255.255.250'
const SSDP_PORT = 1900
const MEDIA_RENDERER = 'urn:schemas-upnp-org:device:MediaRenderer:1'
const AV_TRANSPORT = 'urn:schemas-upnp-org:service:AVTransport:'
// A TV may fetch the start of the media before it answers SetAVTransportURI.
const CONTROL_TIMEOUT_MS = 15000

// Renderers that answer within timeoutMs: [{ name, host }].
export async function findDevices ({ timeoutMs = 5000 } = {}) {
  const { devices } = await discover({ timeoutMs })
  return devices.map(({ name, host }) => ({ name, host }))
}

// Plays url on the renderer whose name contains `device` (any case), or on the first that
// answers. Resolves once the renderer accepted both SetAVTransportURI and Play.
export async function play (url, { device, title, contentType, timeoutMs = 5000 } = {}) {
  const { devices, error } = await discover({ timeoutMs, until: nameMatches(device) })
  const why = error ? ` (the search could not be sent: ${error.message})` : ''
  const target = chooseDevice(devices, device, { kind: 'DLNA renderer', timeoutMs, why })

  const aborter = new AbortController() // close() cuts a call still waiting for its answer
  const call = (action, args) => soap(target, action, { InstanceID: 0, ...args }, aborter.signal)
  const type = contentType || guessType(url)
  const metadata = didl(url, String(title || nameOf(url)), type)
  await call('SetAVTransportURI', { CurrentURI: url, CurrentURIMetaData: metadata })
  await call('Play', { Speed: 1 })
  return {
    name: target.name,
    host: target.host,
    async stop () {
      try {
        await call('Stop')
      } catch (err) {
        // 701: no transition to STOPPED, as the renderer is stopped already (played to the end)
        if (err.upnpCode !== '701') throw err
      }
    },
    close () { aborter.abort() }
  }
}

// Sends M-SEARCH twice (UDP may drop one) from each IPv4 interface and describes each
// renderer that answers. Ends at timeoutMs, or as soon as until(device) is true. Resolves to
// { devices, error }, error being why no search could be sent, if none could.
function discover ({ timeoutMs, until }) {
  return new Promise(resolve => {
    const devices = []
    const locations = new Set()
    const aborter = new AbortController()
    const sockets = []
    let sent = 0
    let error = null
    let done = false
    let resend = null
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearTimeout(resend)
      aborter.abort()
      for (const socket of sockets) {
        try { socket.close() } catch {} // closed already, after an error
      }
      resolve({ devices, error: sent ? null : error })
    }
    const timer = setTimeout(finish, timeoutMs)

    // Renderers wait a random 0..MX s before answering: MX 1 leaves time to describe them.
    const search = Buffer.from([
      'M-SEARCH * HTTP/1.1', `HOST: ${SSDP_ADDRESS}:${SSDP_PORT}`, 'MAN: "ssdp:discover"',
      `MX: ${timeoutMs >= 4000 ? 2 : 1}`, `ST: ${MEDIA_RENDERER}`, '', ''
    ].join('\r\n'))
    const ready = [] // sockets bound, from which to send
    const send = socket => socket.send(search, SSDP_PORT, SSDP_ADDRESS, err => {
      if (err) error = err
      else sent++
    })

    const onMessage = async msg => {
      const location = ssdpLocation(msg.toString())
      if (!location || locations.has(location)) return
      locations.add(location)
      let found
      try {
        found = await describe(location, aborter.signal)
      } catch {
        return // no description: not a renderer we could drive
      }
      // One device may answer from several addresses: its UDN names it.
      if (done || !found || devices.some(d => d.udn && d.udn === found.udn)) return
      devices.push(found)
      if (until?.(found)) finish()
    }

    // A socket per interface, each bound to its address and sending from it: the route for
    // multicast reaches one network only, and the renderer may be on another (Wi-Fi and
    // Ethernet, a VPN as default route). No interface: the system's choice.
    const addresses = localIPv4()
    for (const address of addresses.length ? addresses : [undefined]) {
      const socket = dgram.createSocket('udp4')
      sockets.push(socket)
      socket.on('error', err => { error = err }) // one interface failing leaves the others
      socket.on('message', onMessage)
      socket.bind(0, address, () => {
        if (done) return
        try {
          if (address) socket.setMulticastInterface(address)
          socket.setMulticastTTL(2) // UPnP's default: reaches across one router
        } catch (err) {
          error = err
        }
        ready.push(socket)
        send(socket)
      })
    }
    resend = setTimeout(() => ready.forEach(send), Math.min(1000, timeoutMs / 3))
  })
}

// This machine's IPv4 addresses, loopback left out.
function localIPv4 () {
  return Object.values(os.networkInterfaces()).flat()
    .filter(i => i.family === 'IPv4' && !i.internal)
    .map(i => i.address)
}

// The LOCATION header of an SSDP answer ("HTTP/1.1 200 OK" and headers), or null.
function ssdpLocation (text) {
  const lines = text.split(/\r?\n/)
  if (!/^HTTP\/1\.\d 200\b/.test(lines[0])) return null
  for (const line of lines) {
    const m = /^location:\s*(\S+)/i.exec(line)
    if (m && /^https?:\/\//.test(m[1])) return m[1]
  }
  return null
}

// The device description at location: { name, host, udn, location, serviceType, controlUrl }
// of its AVTransport service, or null if it has none.
async function describe (location, signal) {
  const { status, body } = await request(location, { signal })
  if (status !== 200) return null
  const base = xmlText(body, 'URLBase') || location
  for (const service of xmlElements(body, 'service')) {
    const serviceType = xmlText(service, 'serviceType')
    const controlUrl = xmlText(service, 'controlURL')
    if (!serviceType?.startsWith(AV_TRANSPORT) || !controlUrl) continue
    const { hostname, host } = new URL(location)
    return {
      name: xmlText(body, 'friendlyName') || host,
      host: hostname,
      udn: xmlText(body, 'UDN'),
      location,
      serviceType,
      controlUrl: new URL(controlUrl, base).href
    }
  }
  return null
}

// Calls action on the device's AVTransport service; a fault becomes a cast_failed CastError
// carrying the device's own words (and .upnpCode).
async function soap (device, action, args, signal) {
  const params = Object.entries(args).map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('')
  const body = '<?xml version="1.0" encoding="utf-8"?>' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${device.serviceType}">${params}</u:${action}></s:Body></s:Envelope>`
  let res
  try {
    res = await request(device.controlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'text/xml; charset="utf-8"',
        soapaction: `"${device.serviceType}#${action}"`
      },
      body,
      signal,
      timeoutMs: CONTROL_TIMEOUT_MS
    })
  } catch (err) {
    throw new CastError('cast_failed', `${device.name} did not answer ${action}: ${err.message}`)
  }
  if (res.status !== 200) {
    const code = xmlText(res.body, 'errorCode')
    const text = xmlText(res.body, 'errorDescription') || xmlText(res.body, 'faultstring') || `HTTP ${res.status}`
    const upnp = code ? ` (UPnP error ${code})` : ''
    const err = new CastError('cast_failed', `${device.name} refused ${action}: ${text}${upnp}`)
    err.upnpCode = code
    throw err
  }
}

// One HTTP request on its own connection (agent: false): libupnp (gmediarender, many TVs)
// closes the connection after a SOAP answer without saying so, and reusing it fails.
function request (url, { method = 'GET', headers = {}, body = '', signal, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers,
      agent: false,
      signal,
      timeout: timeoutMs
    }, res => {
      const chunks = []
      res.on('data', chunk => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)))
    req.on('error', reject)
    req.end(body)
  })
}

// DIDL-Lite metadata for SetAVTransportURI: many renderers play nothing without it.
function didl (url, title, contentType) {
  const kind = contentType.startsWith('audio/')
    ? 'object.item.audioItem.musicTrack'
    : contentType.startsWith('image/') ? 'object.item.imageItem.photo' : 'object.item.videoItem.movie'
  return '<DIDL-Lite xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/" ' +
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/">' +
    '<item id="0" parentID="-1" restricted="1">' +
    `<dc:title>${escapeXml(title)}</dc:title><upnp:class>${kind}</upnp:class>` +
    `<res protocolInfo="http-get:*:${escapeXml(contentType)}:*">${escapeXml(url)}</res>` +
    '</item></DIDL-Lite>'
}

const TYPES = {
  mp4: 'video/mp4', m4v: 'video/mp4', mkv: 'video/x-matroska', webm: 'video/webm',
  avi: 'video/x-msvideo', mov: 'video/quicktime', ts: 'video/mp2t', mpg: 'video/mpeg', mpeg: 'video/mpeg',
  ogv: 'video/ogg', mp3: 'audio/mpeg', m4a: 'audio/mp4', flac: 'audio/flac', ogg: 'audio/ogg',
  opus: 'audio/ogg', wav: 'audio/wav', jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png'
}

function guessType (url) {
  const ext = /\.([a-z0-9]+)$/i.exec(new URL(url).pathname)?.[1].toLowerCase()
  return TYPES[ext] || 'video/mp4'
}

// The file name at the end of url, as a title.
function nameOf (url) {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop() || url
  try { return decodeURIComponent(last) } catch { return last }
}

// Elements named name (any namespace prefix), as their inner XML: enough for the flat
// device descriptions and SOAP answers UPnP uses.
function xmlElements (xml, name) {
  const re = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w.-]+:)?${name}\\s*>`, 'g')
  return [...xml.matchAll(re)].map(m => m[1])
}

// The text of the first element named name, entities decoded, or undefined.
function xmlText (xml, name) {
  const inner = xmlElements(xml, name)[0]
  return inner === undefined ? undefined : unescapeXml(inner.trim()) || undefined
}

function escapeXml (s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

function unescapeXml (s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (all, e) => {
    if (e[0] !== '#') return ENTITIES[e] ?? all
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)))
  })
}
