// Our client in bep42_lab.sh's namespace, at 1.2.3.4:
//   bep42_client.mjs DIR FILE.torrent
// Waits for libtorrent's DHT (DIR/lt.log) to form, bootstraps from its four nodes with
// enforceNodeId (BEP 42: nodes whose id does not fit their address are refused), gets the
// torrent from a magnet holding only its info-hash, and waits until the nodes have told it
// its address. Writes DIR/client.json: { before, after, afterDestroy (node ids), done, dhtNodes }.
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import WasmTorrent from '../../../dist/wasmtorrent.node.js'

const [dir, torrentPath] = process.argv.slice(2)
const fail = msg => { console.error(msg); process.exit(1) }
setTimeout(() => fail('client: timed out'), 150_000).unref()
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

let lt = null
while (!lt) {
  const lines = (await readFile(path.join(dir, 'lt.log'), 'utf8').catch(() => '')).trim().split('\n')
  try {
    const last = JSON.parse(lines.at(-1))
    if (last.seeding && last.dht_nodes.every(n => n >= 2)) lt = last
  } catch {}
  if (!lt) await sleep(200)
}

const { infoHash } = await WasmTorrent.parseTorrent(await readFile(torrentPath))
const bootstrap = lt.ports.map((port, i) => `1.2.3.${5 + i}:${port}`)
const client = new WasmTorrent({ tracker: false, lsd: false, natPmp: false, natUpnp: false, utp: false, dht: { bootstrap, stateFile: null, enforceNodeId: true } })
client.on('warning', err => console.error('warning:', err.message))
await client.whenReady()
const before = client.nodeId
const torrent = client.add(`magnet:?xt=urn:btih:${infoHash}`, { store: 'memory' })
await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
while (client.nodeId === before) await sleep(200)
const result = { before, after: client.nodeId, done: true, dhtNodes: client.dhtNodes }
await client.destroy()
result.afterDestroy = client.nodeId
console.log(JSON.stringify(result))
await writeFile(path.join(dir, 'client.json'), JSON.stringify(result))
process.exit(0)
