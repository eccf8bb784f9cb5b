// The two clients of portmap_lab.sh.
//   portmap_lab.mjs seed DIR natpmp|upnp
//                              in the LAN host: seeds DIR/content/data.bin with port mapping
//                              by NAT-PMP (gateway 192.168.77.1) or UPnP (the other off); writes
//                              DIR/mapped.json once the gateway mapped torrentPort; on SIGTERM,
//                              destroy() (which deletes the mappings), then exits
//   portmap_lab.mjs leech DIR  in the WAN host: downloads that torrent from 1.2.3.4 at the
//                              mapped port; exit 0 once the bytes are the seeder's
//   portmap_lab.mjs early DIR natpmp|upnp
//                              in the LAN host: a client destroyed while its first mapping
//                              request (torrentPort, TCP) is in flight; prints the port mapping
//                              outputs it saw, one per line, then exits
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import WasmTorrent from '../../../dist/wasmtorrent.node.js'

const [role, dir, mode] = process.argv.slice(2)
const fail = msg => { console.error(msg); process.exit(1) }
setTimeout(() => fail(`${role}: timed out`), 60_000).unref()

// Both protocols on, as WebTorrent's default: NAT-PMP maps when the router speaks it (mode
// natpmp: the router speaks both), UPnP when it does not (mode upnp: NAT-PMP off there).
const nat = { natPmp: { gateway: '192.168.77.1' }, natUpnp: true }

if (role === 'seed') {
  const content = randomBytes(300_000)
  await mkdir(path.join(dir, 'content'), { recursive: true })
  await writeFile(path.join(dir, 'content', 'data.bin'), content)
  const client = new WasmTorrent({ tracker: false, lsd: false, dht: { bootstrap: [], stateFile: null }, ...nat })
  client.on('warning', err => console.error('warning:', err.message))
  const torrent = await new Promise(resolve => client.seed(path.join(dir, 'content', 'data.bin'), { announce: [] }, resolve))
  const want = [`tcp:${client.torrentPort}`, `udp:${client.torrentPort}`, `udp:${client.dhtPort}`]
  while (!want.every(key => client.portMappings.some(m => `${m.protocol}:${m.internalPort}` === key))) {
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  // Past the 2 s in which NAT-PMP must answer before UPnP gets its turn: a second mapping of
  // a port, by the other protocol, would be in portMappings and in the router's rules by now.
  await new Promise(resolve => setTimeout(resolve, 3000))
  const out = {
    torrentPort: client.torrentPort,
    dhtPort: client.dhtPort,
    publicAddress: client.publicAddress,
    mappings: client.portMappings,
    torrent: Buffer.from(torrent.torrentFile).toString('base64'),
    sha: Buffer.from(await crypto.subtle.digest('SHA-256', content)).toString('hex')
  }
  await writeFile(path.join(dir, 'mapped.tmp'), JSON.stringify(out))
  await rename(path.join(dir, 'mapped.tmp'), path.join(dir, 'mapped.json'))
  console.log('mapped', JSON.stringify(client.portMappings))
  process.once('SIGTERM', async () => {
    await client.destroy()
    console.log('destroyed; mappings left:', JSON.stringify(client.portMappings))
    process.exit(0)
  })
} else if (role === 'leech') {
  const mapped = JSON.parse(await readFile(path.join(dir, 'mapped.json'), 'utf8'))
  const tcp = mapped.mappings.find(m => m.protocol === 'tcp')
  const client = new WasmTorrent({ tracker: false, lsd: false, dht: false, utp: false, natPmp: false, natUpnp: false })
  const torrent = client.add(Buffer.from(mapped.torrent, 'base64'), { store: 'memory' })
  await new Promise(resolve => torrent.once('infoHash', resolve))
  torrent.addPeer(`1.2.3.4:${tcp.externalPort}`)
  await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
  const bytes = await new Promise((resolve, reject) => torrent.files[0].getBuffer((err, b) => err ? reject(err) : resolve(b)))
  const sha = Buffer.from(await crypto.subtle.digest('SHA-256', bytes)).toString('hex')
  if (sha !== mapped.sha) fail('leech: the bytes differ')
  console.log('downloaded through', `1.2.3.4:${tcp.externalPort}`, 'from', torrent.wires.map(w => w.remoteAddress).join(','))
  await client.destroy()
  process.exit(0)
} else if (role === 'early') {
  const client = new WasmTorrent({ tracker: false, lsd: false, dht: false, utp: false, ...nat })
  client.on('warning', err => console.error('warning:', err.message))
  const seen = client._onPortMapping
  client._onPortMapping = (via, type, e) => {
    console.log(type, e.protocol ?? '', e.internalPort ?? '')
    seen.call(client, via, type, e)
  }
  // The public address is the router's first answer; the first mapping request goes out in
  // the same turn of the event loop. Destroying in that turn leaves it in flight.
  const destroyed = new Promise(resolve => {
    Object.defineProperty(client, 'publicAddress', {
      configurable: true,
      get () { return null },
      set (address) { if (address) queueMicrotask(() => resolve(client.destroy())) }
    })
  })
  await destroyed
  console.log('destroyed; mappings left:', JSON.stringify(client.portMappings))
  process.exit(0)
} else {
  fail(`unknown role ${role}`)
}
