// Chromecast: mDNS discovery (multicast-dns) and the castv2 protocol (castv2-client: TLS,
// protobuf CastMessage frames, the Default Media Receiver app). Both are what the
// `chromecasts` package uses inside; we use them directly because `chromecasts` connects to
// the SRV record's .local host name (only resolvable where the OS does mDNS, as avahi with
// nss-mdns), always on port 8009, reads no friendly name with the dns-packet it installs, and
// keeps its media connection out of reach, so it can be neither timed out nor closed.
//   findDevices({ timeoutMs }) -> [{ name, host, port }]
//   play(url, { device, title, contentType, timeoutMs }) -> { name, host, stop(), close() }
import { CastError, chooseDevice, nameMatches } from './errors.js'

const SERVICE = '_googlecast._tcp.local'
const CAST_TIMEOUT_MS = 30000 // connect, launch the app and LOAD: a device may take seconds

async function load () {
  try {
    const [castv2, mdns, wire] = await Promise.all([import('castv2-client'), import('multicast-dns'), import('castv2')])
    // castv2 reads its .proto asynchronously, and a message sent before would throw (in a
    // socket's callback, so uncaught): wait until it can encode one
    for (let i = 0; i < 200; i++) {
      try { wire.default.DeviceAuthMessage.serialize({}); break } catch { await new Promise(resolve => setTimeout(resolve, 10)) }
    }
    return { castv2: castv2.default, multicastDns: mdns.default }
  } catch (err) {
    throw new CastError('not_installed', 'Chromecast support needs the optional npm packages castv2-client and multicast-dns ' +
      `(npm install castv2-client multicast-dns): ${err.message}`)
  }
}

// Asks for Chromecasts over mDNS until timeoutMs, or until enough(device) says a device
// found will do. Resolves to the devices found, each complete: a name, an IPv4 address, a port.
function discover (multicastDns, timeoutMs, enough = () => false) {
  return new Promise((resolve, reject) => {
    const mdns = multicastDns() // port 5353, shared with other responders (reuseAddr)
    const instances = new Map() // instance name -> { name, port, target }
    const addresses = new Map() // host name -> IPv4 address
    const devices = new Map() // instance name -> { name, host, port }
    let done = false
    const finish = err => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearInterval(requery)
      mdns.destroy()
      if (err) reject(err)
      else resolve([...devices.values()])
    }
    const timer = setTimeout(() => finish(), timeoutMs)
    // UDP may lose a query or an answer: ask again now and then
    const query = () => mdns.query([{ name: SERVICE, type: 'PTR' }])
    const requery = setInterval(query, 1000)

    mdns.on('error', err => finish(new CastError('cast_failed', `mDNS discovery failed: ${err.message}`)))
    mdns.on('warning', () => {}) // e.g. no multicast on one interface
    mdns.on('response', res => {
      const records = [...res.answers, ...res.additionals]
      for (const r of records) {
        if (r.type === 'PTR' && r.name === SERVICE && !instances.has(r.data)) {
          instances.set(r.data, { name: r.data.slice(0, -SERVICE.length - 1) })
        }
      }
      for (const r of records) {
        const instance = instances.get(r.name)
        if (r.type === 'A') addresses.set(r.name, r.data)
        else if (r.type === 'SRV' && instance) Object.assign(instance, { port: r.data.port, target: r.data.target })
        else if (r.type === 'TXT' && instance) {
          const fn = [].concat(r.data).map(String).find(s => s.startsWith('fn='))
          if (fn) instance.name = fn.slice(3)
        }
      }
      for (const [key, instance] of instances) {
        const host = addresses.get(instance.target) ?? (/^\d+\.\d+\.\d+\.\d+$/.test(instance.target) ? instance.target : null)
        if (!instance.port || !host) continue
        const device = { name: instance.name, host, port: instance.port }
        devices.set(key, device)
        if (enough(device)) return finish()
      }
      // a responder that left the address out: ask for it
      for (const instance of instances.values()) {
        if (instance.target && !addresses.has(instance.target)) mdns.query([{ name: instance.target, type: 'A' }])
      }
    })
    mdns.on('ready', query)
  })
}

export async function findDevices ({ timeoutMs = 5000 } = {}) {
  const { multicastDns } = await load()
  return discover(multicastDns, timeoutMs)
}

export async function play (url, { device, title, contentType, timeoutMs = 5000 } = {}) {
  const { castv2, multicastDns } = await load()
  // the first device found will do, or the first with the name asked for
  const found = await discover(multicastDns, timeoutMs, nameMatches(device))
  return cast(castv2, chooseDevice(found, device, { kind: 'Chromecast', timeoutMs }), url, { title, contentType })
}

// Connects, launches (or joins) the Default Media Receiver and LOADs the URL.
function cast (castv2, target, url, { title, contentType }) {
  const client = new castv2.Client()
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    try { client.close() } catch {} // the socket may be gone already
  }
  client.on('error', () => close()) // errors before the LOAD reject below; later ones end it
  client.client.once('close', () => { closed = true })

  const loaded = new Promise((resolve, reject) => {
    client.once('error', reject)
    client.client.once('close', () => reject(new Error('the device closed the connection')))
    client.connect({ host: target.host, port: target.port }, () => {
      client.getSessions((err, sessions) => {
        if (err) return reject(err)
        const running = sessions.find(s => s.appId === castv2.DefaultMediaReceiver.APP_ID)
        const ready = (err, player) => {
          if (err) return reject(err)
          const media = {
            contentId: url,
            contentType: contentType || 'video/mp4',
            streamType: 'BUFFERED',
            metadata: { type: 0, metadataType: 0, title: title || '' }
          }
          player.load(media, { autoplay: true }, (err, status) => {
            if (err) return reject(err)
            // castv2-client learns the media session only from a broadcast status: stop() needs it
            player.media.currentSession ??= status
            resolve(player)
          })
        }
        if (running) client.join(running, castv2.DefaultMediaReceiver, ready)
        else client.launch(castv2.DefaultMediaReceiver, ready)
      })
    })
  })
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CAST_TIMEOUT_MS / 1000} s`)), CAST_TIMEOUT_MS)
  })

  return Promise.race([loaded, timeout]).then(player => {
    clearTimeout(timer)
    return {
      name: target.name,
      host: target.host,
      // Stops the media, then the receiver app (the TV shows its backdrop again). Resolves
      // in any case, at the latest after a few seconds without an answer.
      stop: () => new Promise(resolve => {
        const done = () => { clearTimeout(wait); resolve() }
        const wait = setTimeout(done, 5000)
        if (closed) return done()
        try {
          player.stop(() => {
            if (closed || !player.session) return done()
            client.stop(player, done)
          })
        } catch { done() } // the connection went meanwhile
      }),
      close
    }
  }, err => {
    clearTimeout(timer)
    close()
    throw new CastError('cast_failed', `Chromecast "${target.name}" (${target.host}) did not play the stream: ${err.message}`)
  })
}
