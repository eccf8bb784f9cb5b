// torrent 'dhtAnnounce' as WebTorrent's docs/api.md: "Emitted whenever a DHT announce
// completes" -- one per announce that reached the DHT. A torrent added while the DHT is still
// bootstrapping announces to nobody first and retries within seconds: that retry is the
// announce, and the app sees one event, not two.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Server as DHT } from 'bittorrent-dht'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import createTorrent from 'create-torrent'
import { once } from './helpers.mjs'

// A client whose DHT bootstraps from one bittorrent-dht node on 127.0.0.1.
async function clientWithRouter (t) {
  const router = new DHT({ bootstrap: false })
  await new Promise(resolve => router.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => router.destroy(resolve)))
  const client = new WasmTorrent({ tracker: false, dht: { bootstrap: [`127.0.0.1:${router.address().port}`] } })
  t.after(() => client.destroy())
  return client
}

test("'dhtAnnounce' once for a torrent added at start, not again for the retry of an announce that reached nobody", { timeout: 60_000 }, async t => {
  const client = await clientWithRouter(t)
  const content = new Uint8Array(40000).fill(7)
  const torrent = client.seed(content, { name: 'a.bin', announce: [] })
  let count = 0
  torrent.on('dhtAnnounce', () => { count++ })
  await once(torrent, 'dhtAnnounce', 30000)
  // An announce that reached nobody is retried within seconds (10 s here: once the bootstrap
  // has answered); wait past that.
  await new Promise(resolve => setTimeout(resolve, 12000))
  assert.equal(count, 1)
})

// WebTorrent's add option `private` overrides the torrent's flag (BEP 27) both ways.
test('add option private: a public torrent added as private stays off the DHT, a private one added as public announces', { timeout: 60_000 }, async t => {
  const client = await clientWithRouter(t)
  const make = (fill, isPrivate) => new Promise((resolve, reject) =>
    createTorrent(Buffer.alloc(40000, fill), { name: `${fill}.bin`, private: isPrivate, announceList: [] },
      (err, bytes) => err ? reject(err) : resolve(bytes)))
  const hidden = client.add(await make(1, false), { private: true, store: 'memory' })
  const shown = client.add(await make(2, true), { private: false, store: 'memory' })
  let hiddenAnnounced = false
  hidden.on('dhtAnnounce', () => { hiddenAnnounced = true })
  await once(shown, 'dhtAnnounce', 30000)
  // Both were added together: the hidden one's announce would have ended by now too.
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.equal(hiddenAnnounced, false)
  assert.equal(hidden.private, true)
  assert.equal(shown.private, false)
  assert.equal(hidden.discovery.dht, false)
  assert.equal(shown.discovery.dht, client.dht)
})
