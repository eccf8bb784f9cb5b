// A fake AirPlay video receiver for the tests: advertises _airplay._tcp by mDNS with the TXT
// record of an Apple TV, and answers the HTTP requests of AirPlay video (/server-info, /play,
// /playback-info, /scrub, /rate, /stop). On /play it fetches the URL to the end, as a device
// would, and records the bytes and their SHA-1.
//   const receiver = await startAirPlayReceiver({ name: 'Living Room' })
//   receiver.urls        URLs it was told to play
//   receiver.plays       [{ url, startPosition, sessionId, fetched: Promise<{ status, bytes, sha1 }> }]
//   receiver.requests    ['POST /play', 'GET /playback-info', ...]
//   await receiver.close()
// Options: playStatus, the status /play answers (403: a device that wants pairing).
import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { Bonjour } from 'bonjour-service'

const plist = entries => '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n<dict>\n' +
  Object.entries(entries).map(([key, value]) => `<key>${key}</key>\n${plistValue(value)}\n`).join('') +
  '</dict>\n</plist>\n'

const plistValue = value => typeof value === 'boolean'
  ? `<${value}/>`
  : Number.isInteger(value) ? `<integer>${value}</integer>` : typeof value === 'number' ? `<real>${value}</real>` : `<string>${value}</string>`

// text/parameters: "Name: value" lines.
const parameters = text => Object.fromEntries(text.split(/\r?\n/).filter(Boolean).map(line => {
  const i = line.indexOf(':')
  return [line.slice(0, i).trim(), line.slice(i + 1).trim()]
}))

// Fetches url to the end: { status, bytes, sha1 } (or { error }).
function fetchAll (url, signal) {
  return new Promise(resolve => {
    const req = http.get(url, { signal }, res => {
      const hash = createHash('sha1')
      let bytes = 0
      res.on('data', chunk => { hash.update(chunk); bytes += chunk.length })
      res.on('end', () => resolve({ status: res.statusCode, bytes, sha1: hash.digest('hex') }))
      res.on('error', error => resolve({ error }))
    })
    req.on('error', error => resolve({ error }))
  })
}

export async function startAirPlayReceiver ({ name = 'Fake Apple TV', playStatus = 200 } = {}) {
  const deviceid = [...randomBytes(6)].map(b => b.toString(16).padStart(2, '0')).join(':').toUpperCase()
  const info = { deviceid, features: 0x5A7FFFF7, model: 'AppleTV3,2', protovers: '1.0', srcvers: '220.68' }
  const receiver = { name, urls: [], plays: [], requests: [], stops: 0 }
  const aborts = new Set()
  let playing = null

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://receiver')
    const route = `${req.method} ${url.pathname}`
    receiver.requests.push(route)
    const chunks = []
    req.on('data', chunk => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      const reply = (status, type, text = '') => {
        res.writeHead(status, { 'content-length': Buffer.byteLength(text), ...(type && { 'content-type': type }) })
        res.end(text)
      }
      switch (route) {
        case 'GET /server-info':
          return reply(200, 'text/x-apple-plist+xml', plist(info))
        case 'POST /play': {
          if (playStatus !== 200) return reply(playStatus)
          const params = parameters(body)
          const location = params['Content-Location']
          if (!location) return reply(400)
          const abort = new AbortController()
          aborts.add(abort)
          const fetched = fetchAll(location, abort.signal).finally(() => aborts.delete(abort))
          playing = { position: 0 }
          receiver.urls.push(location)
          receiver.plays.push({ url: location, startPosition: Number(params['Start-Position']), sessionId: req.headers['x-apple-session-id'], fetched })
          return reply(200)
        }
        case 'GET /playback-info':
          return reply(200, 'text/x-apple-plist+xml', playing
            ? plist({ duration: 60.0, position: playing.position, rate: 1.0, readyToPlay: true, playbackBufferEmpty: false, playbackLikelyToKeepUp: true })
            : plist({ readyToPlay: false }))
        case 'GET /scrub':
          return reply(200, 'text/parameters', `duration: 60.000000\nposition: ${(playing?.position ?? 0).toFixed(6)}\n`)
        case 'POST /scrub':
          if (playing) playing.position = Number(url.searchParams.get('position')) || 0
          return reply(200)
        case 'POST /rate':
          return reply(200)
        case 'POST /stop':
          receiver.stops++
          playing = null
          for (const abort of aborts) abort.abort() // a device stops loading the stream
          return reply(200)
        default:
          return reply(404)
      }
    })
  })
  const sockets = new Set()
  server.on('connection', socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  // Every address of the namespace: the client picks one of those the mDNS answer lists.
  await new Promise(resolve => server.listen(0, resolve))
  receiver.port = server.address().port

  const bonjour = new Bonjour({}, err => console.error('fake AirPlay receiver mDNS:', err))
  const service = bonjour.publish({
    name,
    type: 'airplay',
    port: receiver.port,
    txt: { deviceid, features: '0x5A7FFFF7,0x1E', flags: '0x4', model: info.model, srcvers: info.srcvers, vv: '2' }
  })
  // 'up': probed (no other holder of the name) and announced. bonjour-service only logs a
  // name in use, and never says 'up'.
  const up = await new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), 5000)
    service.once('up', () => { clearTimeout(timer); resolve(true) })
  })
  if (!up) {
    bonjour.destroy()
    server.close()
    throw new Error(`fake AirPlay receiver "${name}": not announced within 5 s (name in use?)`)
  }

  receiver.close = async () => {
    for (const abort of aborts) abort.abort()
    // Goodbye packets, so that browsers drop it, then the socket.
    await new Promise(resolve => bonjour.unpublishAll(() => resolve()))
    await new Promise(resolve => bonjour.destroy(resolve))
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(() => resolve()))
  }
  return receiver
}
