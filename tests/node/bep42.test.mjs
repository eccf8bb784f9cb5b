// BEP 42 (the DHT security extension) under Node against libtorrent's DHT, at addresses that
// look public (tests/node/peers/bep42_lab.sh: two network namespaces of the test's own, ours
// at 1.2.3.4, four libtorrent nodes at 1.2.3.5-8; nothing else reachable). Our client, with
// enforceNodeId, keeps libtorrent's nodes (their ids fit their addresses as ours computes it),
// gets a torrent through them, and its own random id is replaced by one valid for 1.2.3.4
// once they report that address. The check here is the BEP's, written again for the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, here, writeTorrent } from './helpers.mjs'

const run = (cmd, args) => new Promise(resolve => execFile(cmd, args, { timeout: 170_000 }, (err, stdout, stderr) => resolve({ err, out: stdout + stderr })))

// CRC32-C over bytes (reflected polynomial 0x82f63b78).
function crc32c (bytes) {
  let crc = 0xffffffff
  for (const b of bytes) {
    crc ^= b
    for (let i = 0; i < 8; i++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1))
  }
  return (crc ^ 0xffffffff) >>> 0
}

// Whether a node id (hex) is one BEP 42 allows for an IPv4 address: its first 21 bits are
// those of crc32c((ip & 0x030f3fff) | (r << 29)), r the low 3 bits of its last byte.
function validFor (idHex, ip) {
  const id = Buffer.from(idHex, 'hex')
  const mask = [0x03, 0x0f, 0x3f, 0xff]
  const masked = ip.split('.').map((part, i) => Number(part) & mask[i])
  masked[0] |= (id[19] & 7) << 5
  const crc = crc32c(masked)
  return id[0] === crc >>> 24 && id[1] === ((crc >>> 16) & 0xff) && (id[2] & 0xf8) === ((crc >>> 8) & 0xf8)
}

test('the oracle agrees with the BEP\'s examples', () => {
  assert.ok(validFor('5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401', '124.31.75.21'))
  assert.ok(validFor('1b0321dd1bb1fe518101ceef99462b947a01ff41', '84.124.73.14'))
  assert.ok(!validFor('5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401', '84.124.73.14'))
})

test('BEP 42 with libtorrent\'s DHT: their ids pass our check, ours becomes valid for our address', { timeout: 180_000 }, async t => {
  if (process.getuid?.() !== 0) return t.skip('needs root for network namespaces (run through scripts/loopback.sh)')
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'seed'), 'bep42', 42)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [] })
  const lab = await run('unshare', ['-n', 'bash', path.join(here, 'peers/bep42_lab.sh'), dir, await writeTorrent(dir, torrentFile), path.join(dir, 'seed')])
  const logs = async name => readFile(path.join(dir, name), 'utf8').catch(() => '')
  assert.equal(lab.err, null, `${lab.out}\n${await logs('client.log')}\n${(await logs('lt.log')).split('\n').slice(-3).join('\n')}`)

  const result = JSON.parse(await logs('client.json'))
  assert.ok(result.done)
  assert.notEqual(result.after, result.before)
  assert.ok(validFor(result.after, '1.2.3.4'), `our id ${result.after} is valid for 1.2.3.4`)
  assert.equal(result.afterDestroy, result.after)
  // libtorrent made its own ids valid for its addresses, and ours accepted them: its nodes are
  // in our table although enforceNodeId refuses the others.
  const lt = JSON.parse((await logs('lt.log')).trim().split('\n').at(-1))
  const ids = lt.ids.filter(([address]) => address.startsWith('1.2.3.'))
  assert.ok(ids.length >= 4, JSON.stringify(lt.ids))
  for (const [address, id] of ids) assert.ok(validFor(id, address), `libtorrent's ${id} at ${address}`)
  assert.ok(result.dhtNodes >= 2, `${result.dhtNodes} nodes in our table`)
})
