// A fake Chromecast for the tests: an mDNS responder that announces it as a real device does
// (PTR _googlecast._tcp.local -> instance, SRV -> <id>.local:port, TXT id/md/fn, A -> host),
// and a TLS server speaking castv2 (4-byte length + protobuf CastMessage, via the castv2
// package's Server) enough for a sender to launch the Default Media Receiver and LOAD a URL.
// On LOAD it records the URL and fetches it to the end as a device would, keeping the bytes'
// count and sha1.
//   const rx = await startChromecastReceiver({ name: 'Living Room', host: '127.0.0.1' })
//   rx.urls, rx.loads[i].fetched (a promise of { status, bytes, sha1 }), rx.close()
// Options: port (0: any; real devices use 8009), failLoad (answer LOAD with LOAD_FAILED).
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import http from 'node:http'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import castv2 from 'castv2'
import multicastDns from 'multicast-dns'

const SERVICE = '_googlecast._tcp.local'
const APP_ID = 'CC1AD845' // the Default Media Receiver
const NS = {
  connection: 'urn:x-cast:com.google.cast.tp.connection',
  heartbeat: 'urn:x-cast:com.google.cast.tp.heartbeat',
  receiver: 'urn:x-cast:com.google.cast.receiver',
  media: 'urn:x-cast:com.google.cast.media'
}

// One self-signed certificate per test process: senders do not check it (real devices'
// certificates are signed by Google's cast CA, which no sender library verifies).
let certificate
function selfSigned () {
  if (certificate) return certificate
  const dir = mkdtempSync(join(tmpdir(), 'wt-cast-cert-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
      '-subj', '/CN=fake-chromecast'], { stdio: 'ignore' })
    certificate = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return certificate
}

export async function startChromecastReceiver ({ name = 'Fake Chromecast', host = '127.0.0.1', port = 0, failLoad = false } = {}) {
  const id = randomBytes(16).toString('hex')
  const instance = `Chromecast-${id}.${SERVICE}`
  const target = `${id}.local`
  const urls = []
  const loads = []
  const requests = new Set() // fetches of LOADed URLs in progress
  let app = null // the running Default Media Receiver: { sessionId, transportId }
  let media = null // its media status after a LOAD

  const server = new castv2.Server(selfSigned())
  const send = (clientId, from, to, namespace, data) => {
    if (server.clients[clientId]) server.send(clientId, from, to, namespace, JSON.stringify(data))
  }
  const receiverStatus = () => ({
    applications: app
      ? [{
          appId: APP_ID,
          displayName: 'Default Media Receiver',
          isIdleScreen: false,
          namespaces: Object.values(NS).slice(2).map(name => ({ name })),
          sessionId: app.sessionId,
          statusText: 'Default Media Receiver',
          transportId: app.transportId
        }]
      : [],
    volume: { level: 1, muted: false }
  })

  server.on('message', (clientId, source, destination, namespace, payload) => {
    if (typeof payload !== 'string') return
    const data = JSON.parse(payload)
    const reply = msg => send(clientId, destination, source, namespace, { ...msg, requestId: data.requestId })
    const broadcast = msg => send(clientId, destination, '*', namespace, { ...msg, requestId: 0 })
    if (namespace === NS.heartbeat && data.type === 'PING') return send(clientId, destination, source, namespace, { type: 'PONG' })
    if (namespace === NS.receiver && destination === 'receiver-0') {
      if (data.type === 'GET_STATUS') return reply({ type: 'RECEIVER_STATUS', status: receiverStatus() })
      if (data.type === 'LAUNCH') {
        if (data.appId !== APP_ID) return reply({ type: 'LAUNCH_ERROR', reason: 'NOT_FOUND' })
        if (!app) app = { sessionId: randomUUID(), transportId: `web-${randomBytes(4).readUInt32BE()}` }
        return reply({ type: 'RECEIVER_STATUS', status: receiverStatus() })
      }
      if (data.type === 'STOP') {
        if (app && data.sessionId === app.sessionId) {
          // the app's virtual connections end, as on a device
          for (const id of Object.keys(server.clients)) send(id, app.transportId, '*', NS.connection, { type: 'CLOSE' })
          app = null
          media = null
          for (const req of requests) req.destroy()
        }
        return reply({ type: 'RECEIVER_STATUS', status: receiverStatus() })
      }
    }
    if (namespace === NS.media && app && destination === app.transportId) {
      if (data.type === 'LOAD') return onLoad(data, reply, broadcast)
      if (data.type === 'GET_STATUS') return reply({ type: 'MEDIA_STATUS', status: media ? [media] : [] })
      if (data.type === 'STOP' && media) {
        for (const req of requests) req.destroy()
        media = { ...media, playerState: 'IDLE', idleReason: 'CANCELLED' }
        return reply({ type: 'MEDIA_STATUS', status: [media] })
      }
      if (['PLAY', 'PAUSE', 'SEEK'].includes(data.type) && media) {
        media = { ...media, playerState: data.type === 'PAUSE' ? 'PAUSED' : 'PLAYING' }
        return reply({ type: 'MEDIA_STATUS', status: [media] })
      }
      return reply({ type: 'INVALID_REQUEST', reason: 'INVALID_COMMAND' })
    }
  })

  // Answers the LOAD once the response's headers came (a device answers once it can play),
  // and reads on to the end.
  function onLoad (data, reply, broadcast) {
    const url = data.media?.contentId
    urls.push(url)
    const load = { url, contentType: data.media?.contentType, title: data.media?.metadata?.title }
    loads.push(load)
    let answered = false
    const fail = () => { if (!answered) { answered = true; reply({ type: 'LOAD_FAILED' }) } }
    if (failLoad) {
      load.fetched = Promise.resolve(null)
      return fail()
    }
    load.fetched = new Promise(resolve => {
      const hash = createHash('sha1')
      let bytes = 0
      let req
      try {
        req = http.get(url, { agent: false }, res => {
          if (res.statusCode >= 300) fail()
          else {
            answered = true
            media = { mediaSessionId: (media?.mediaSessionId ?? 0) + 1, playbackRate: 1, playerState: 'PLAYING', currentTime: 0, supportedMediaCommands: 15, volume: { level: 1, muted: false }, media: data.media }
            reply({ type: 'MEDIA_STATUS', status: [media] })
            broadcast({ type: 'MEDIA_STATUS', status: [media] }) // as a device tells every sender
          }
          res.on('data', chunk => { bytes += chunk.length; hash.update(chunk) })
          res.on('error', () => {}) // 'close' tells
          res.on('close', () => resolve({ status: res.statusCode, bytes, sha1: hash.digest('hex'), complete: res.complete }))
        })
      } catch { // not an http: URL
        fail()
        return resolve(null)
      }
      requests.add(req)
      req.on('error', () => { fail(); resolve(null) })
      req.on('close', () => requests.delete(req))
    })
  }

  await new Promise((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const actualPort = server.server.address().port

  // mDNS: shares port 5353 with other responders and queriers on this machine (reuseAddr).
  const mdns = multicastDns({ reuseAddr: true })
  mdns.on('error', () => {})
  mdns.on('warning', () => {})
  const records = {
    ptr: { name: SERVICE, type: 'PTR', ttl: 120, data: instance },
    srv: { name: instance, type: 'SRV', ttl: 120, flush: true, data: { priority: 0, weight: 0, port: actualPort, target } },
    txt: { name: instance, type: 'TXT', ttl: 4500, flush: true, data: [`id=${id}`, 'cd=' + id.slice(0, 8).toUpperCase(), 'rm=', 've=05', 'md=Chromecast', 'ic=/setup/icon.png', `fn=${name}`, 'ca=201221', 'st=0', 'bs=FA8FCA000000', 'nf=1', 'rs='] },
    a: { name: target, type: 'A', ttl: 120, flush: true, data: host }
  }
  mdns.on('query', query => {
    for (const q of query.questions) {
      const any = q.type === 'ANY'
      if (q.name === SERVICE && (q.type === 'PTR' || any)) {
        mdns.respond({ answers: [records.ptr], additionals: [records.txt, records.srv, records.a] })
      } else if (q.name === instance && (q.type === 'SRV' || q.type === 'TXT' || any)) {
        mdns.respond({ answers: [q.type === 'TXT' ? records.txt : records.srv], additionals: [records.a] })
      } else if (q.name === target && (q.type === 'A' || any)) {
        mdns.respond({ answers: [records.a] })
      }
    }
  })
  await new Promise(resolve => mdns.once('ready', resolve))

  return {
    name,
    host,
    port: actualPort,
    id,
    urls,
    loads,
    get app () { return app },
    get media () { return media },
    async close () {
      for (const req of requests) req.destroy()
      await new Promise(resolve => mdns.destroy(resolve))
      for (const { socket } of Object.values(server.clients)) socket.destroy()
      await new Promise(resolve => server.server.close(() => resolve()))
    }
  }
}
