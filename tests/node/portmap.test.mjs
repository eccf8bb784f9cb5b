// Port mapping (WebTorrent's natPmp and natUpnp) under Node against Debian's miniupnpd: a NAT
// built from network namespaces of the test's own (tests/node/peers/portmap_lab.sh: a gateway
// running miniupnpd with nftables, a LAN host, a WAN host; nothing else reachable). The LAN
// host's client (both protocols on) maps torrentPort (TCP and UDP) and dhtPort (UDP), by
// NAT-PMP alone where the router speaks both, by UPnP IGD where the router has no NAT-PMP (one
// mapping per port either way, as WebTorrent's nat-api), a client on the WAN side downloads
// from it through the mapped public port, and destroy() deletes the mappings, those the router grants while destroy()
// runs too. Also: a router that does not answer leaves the client quiet.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, here } from './helpers.mjs'

const run = (cmd, args) => new Promise(resolve => execFile(cmd, args, { timeout: 120_000 }, (err, stdout, stderr) => resolve({ err, out: stdout + stderr })))

for (const [mode, router] of [['natpmp', 'NAT-PMP and UPnP'], ['upnp', 'UPnP only']]) {
test(`natPmp and natUpnp on, a router with ${router}: miniupnpd maps torrentPort and dhtPort by ${mode === 'natpmp' ? 'NAT-PMP' : 'UPnP'} alone, a WAN peer downloads through the mapping, destroy() deletes it`, { timeout: 150_000 }, async t => {
  if (process.getuid?.() !== 0) return t.skip('needs root for network namespaces (run through scripts/loopback.sh)')
  const dir = await tempDir(t)
  const lab = await run('unshare', ['-n', 'bash', path.join(here, 'peers/portmap_lab.sh'), dir, mode])
  const logs = async name => readFile(path.join(dir, name), 'utf8').catch(() => '')
  assert.equal(lab.err, null, `${lab.out}\n${await logs('seed.log')}\n${await logs('leech.log')}\n${await logs('miniupnpd.log')}`)

  const mapped = JSON.parse(await logs('mapped.json'))
  assert.equal(mapped.publicAddress, '1.2.3.4')
  // One mapping per port, by one protocol.
  const keys = mapped.mappings.map(m => `${m.protocol}:${m.internalPort}`).sort()
  assert.deepEqual(keys, [`tcp:${mapped.torrentPort}`, `udp:${mapped.dhtPort}`, `udp:${mapped.torrentPort}`].sort())
  for (const m of mapped.mappings) {
    assert.equal(m.externalPort, m.internalPort) // the port asked for was free
    assert.ok(m.lifetime > 0)
    assert.equal(m.via, mode)
  }
  // The gateway forwards them to the LAN host, and after destroy() no longer.
  const rules = await logs('rules-mapped.txt')
  for (const m of mapped.mappings) assert.match(rules, new RegExp(`dport ${m.externalPort} dnat ip to 192\\.168\\.77\\.2:${m.internalPort}`))
  assert.equal(rules.match(/ dnat ip to /g)?.length, mapped.mappings.length, rules)
  assert.doesNotMatch(await logs('rules-after.txt'), /dnat/)
  assert.match(await logs('leech.log'), /downloaded through 1\.2\.3\.4:/)

  // A client destroyed with its mapping request in flight: the router grants it, destroy()
  // deletes it.
  const early = await logs('early.log')
  assert.doesNotMatch(await logs('rules-early.txt'), /dnat/, early)
  assert.match(early, /^mapped tcp (\d+)\nunmapped tcp \1\n/m, early)
  assert.match(early, /mappings left: \[\]/)
})
}

test('natPmp, natUpnp: a router that does not answer leaves the client quiet, and destroy() does not wait for it', { timeout: 30_000 }, async () => {
  const client = new WasmTorrent({ tracker: false, lsd: false, dht: false, natPmp: { gateway: '127.0.0.1' }, natUpnp: true })
  const warnings = []
  client.on('warning', err => warnings.push(err.message))
  await client.whenReady()
  await new Promise(resolve => setTimeout(resolve, 1500)) // a few retransmissions
  assert.deepEqual(client.portMappings, [])
  const started = Date.now()
  await client.destroy()
  assert.ok(Date.now() - started < 1500, `destroy() took ${Date.now() - started} ms`)
  assert.deepEqual(warnings, [])
})
