// Protocol encryption between another WebTorrent and ours, by hand: every `secure` level on
// each side (unset, false, true, 1, 2), each library seeding to the other over TCP, prints
// whether the 3 MiB download completed and which MSE method the leecher's wire used. For a
// WebTorrent that CI cannot install (npm's 3.x asks for Node 22 and a node-datachannel
// binary from GitHub):
//   bash scripts/loopback.sh node --openssl-legacy-provider scripts/mse-matrix.mjs <webtorrent>/index.js
// (--openssl-legacy-provider: WebTorrent 3's RC4 is Node's, which OpenSSL 3 keeps there).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import WasmTorrent from '../dist/wasmtorrent.node.js'

if (!process.argv[2]) {
  console.error('usage: node scripts/mse-matrix.mjs <path of the other WebTorrent\'s index.js>')
  process.exit(2)
}
const { default: Other } = await import(pathToFileURL(path.resolve(process.argv[2])))
const LIBS = { theirs: Other, ours: WasmTorrent }
const LEVELS = [undefined, false, true, 1, 2]
const BASE = { dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false, utp: false }
const data = randomBytes(3 * 1024 * 1024 + 11)

function once (emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms / 1000} s`)), ms)
    emitter.once(event, (...args) => { clearTimeout(timer); resolve(args) })
  })
}

async function transfer (seederLib, seederSecure, leecherLib, leecherSecure) {
  const make = (lib, secure) => new LIBS[lib]({ ...BASE, ...(secure === undefined ? {} : { secure }) })
  const seeder = make(seederLib, seederSecure)
  const leecher = make(leecherLib, leecherSecure)
  const dir = mkdtempSync(path.join(tmpdir(), 'mse-matrix-'))
  try {
    const content = Buffer.from(data)
    content.name = 'x.bin'
    const seeded = await new Promise(resolve => seeder.seed(content, { announce: [], name: 'x.bin', path: path.join(dir, 's') }, resolve))
    if (!seeder.address()) await once(seeder, 'listening', 10000)
    const torrent = leecher.add(seeded.torrentFile, { path: path.join(dir, 'l') })
    await once(torrent, 'infoHash', 10000)
    torrent.addPeer(`127.0.0.1:${seeder.address().port}`)
    const [wire] = await once(torrent, 'wire', 20000)
    await once(torrent, 'done', 30000)
    return `done, method ${wire._encryptionMethod ?? 'plain'}`
  } catch (err) {
    return `FAILED: ${err.message}`
  } finally {
    await Promise.all([leecher, seeder].map(c => new Promise(resolve => c.destroy(resolve))))
    rmSync(dir, { recursive: true, force: true })
  }
}

for (const [seederLib, leecherLib] of [['theirs', 'ours'], ['ours', 'theirs']]) {
  for (const s of LEVELS) {
    for (const l of LEVELS) {
      console.log(`${seederLib} (secure ${s}) seeds, ${leecherLib} (secure ${l}) downloads: ${await transfer(seederLib, s, leecherLib, l)}`)
    }
  }
}
process.exit(0)
