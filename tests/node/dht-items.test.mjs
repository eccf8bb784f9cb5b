// BEP 44 items through client.dht.put() and get(), against bittorrent-dht (WebTorrent's own
// DHT, the API ours follows) and libtorrent 2.0: a small DHT of their nodes on 127.0.0.1 and
// our client, items put by each side and read by the other, immutable and mutable (Ed25519
// keys from Node's crypto).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import path from 'node:path'
import DHT from 'bittorrent-dht'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { jsonProcess, here, until } from './helpers.mjs'

const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex')
const sha1 = bytes => crypto.createHash('sha1').update(bytes).digest()

// A publisher's key as bittorrent-dht's callers hold one: k (32 bytes) and sign(buf).
function keypair () {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519')
  const k = publicKey.export({ format: 'der', type: 'spki' }).subarray(12)
  return { k, sign: buf => crypto.sign(null, buf, privateKey) }
}

// bittorrent-dht's verify option, with Node's Ed25519.
function verify (sig, message, k) {
  const key = crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI, Buffer.from(k)]), format: 'der', type: 'spki' })
  return crypto.verify(null, message, key, sig)
}


const call = (fn, ...args) => new Promise((resolve, reject) => fn(...args, (err, ...rest) => err ? reject(err) : resolve(rest)))

// n bittorrent-dht nodes that know each other, and our client bootstrapped from the first.
async function network (t, n = 6, extra = {}) {
  const nodes = []
  for (let i = 0; i < n; i++) {
    const node = new DHT({ bootstrap: false, host: '127.0.0.1', verify, ...extra })
    t.after(() => new Promise(resolve => node.destroy(resolve)))
    await new Promise(resolve => node.listen(0, '127.0.0.1', resolve))
    nodes.push(node)
  }
  for (const a of nodes) for (const b of nodes) if (a !== b) a.addNode({ host: '127.0.0.1', port: b.address().port })
  const client = new WasmTorrent({ tracker: false, lsd: false, natUpnp: false, natPmp: false, dht: { bootstrap: [`127.0.0.1:${nodes[0].address().port}`], stateFile: null } })
  t.after(() => client.destroy())
  const bootstrapped = new Promise(resolve => client.dht.once('ready', resolve))
  await client.whenReady()
  await bootstrapped
  assert.equal(client.dht.ready, true, 'bittorrent-dht\'s ready: the bootstrap is over')
  // addNode pings: a node is in a table once it answered.
  await until(() => nodes.every(node => node.nodes.count() >= n - 1) && client.dhtNodes >= 3, 'the DHT to form')
  return { nodes, client }
}

test('immutable items: put by wasmtorrent, got by bittorrent-dht, and the other way', { timeout: 60_000 }, async t => {
  const { nodes, client } = await network(t)
  const v = Buffer.from('an immutable value from wasmtorrent')
  let returned
  const [hash, stored] = await new Promise((resolve, reject) => {
    returned = client.dht.put({ v }, (err, ...rest) => err ? reject(err) : resolve(rest))
  })
  const expected = sha1(Buffer.concat([Buffer.from(`${v.length}:`), v]))
  assert.ok(Buffer.isBuffer(hash) && hash.equals(expected), 'the hash is the SHA-1 of the bencoded value')
  assert.ok(returned.equals(expected), 'put() returns the hash, as bittorrent-dht\'s')
  assert.ok(stored >= 1, `${stored} nodes stored it`)
  const [res] = await call((...a) => nodes[5].get(...a), hash, { cache: false })
  assert.ok(res, 'bittorrent-dht finds it')
  assert.equal(Buffer.from(res.v).toString(), v.toString())

  const [theirs] = await call((...a) => nodes[3].put(...a), { v: 'put by bittorrent-dht' })
  const [got] = await call((...a) => client.dht.get(...a), theirs)
  assert.ok(got, 'wasmtorrent finds it')
  assert.equal(got.v.toString(), 'put by bittorrent-dht')
  assert.equal(got.id.length, 20)
  assert.equal(got.k, undefined)

  // Not stored anywhere: null, no error. A hex string works as a key too.
  const [none] = await call((...a) => client.dht.get(...a), sha1(Buffer.from('nothing')).toString('hex'))
  assert.equal(none, null)
})

test('mutable items with a salt: signed, sequenced, compare-and-swap; the highest seq is found', { timeout: 60_000 }, async t => {
  const { nodes, client } = await network(t)
  const ours = keypair()
  const salt = Buffer.from('profile')
  const target = sha1(Buffer.concat([ours.k, salt]))
  const [h1, n1] = await call((...a) => client.dht.put(...a), { k: ours.k, seq: 1, salt, v: Buffer.from('first'), sign: ours.sign })
  assert.ok(h1.equals(target), 'the hash is the SHA-1 of k and salt')
  assert.ok(n1 >= 1)
  const [, n2] = await call((...a) => client.dht.put(...a), { k: ours.k, seq: 2, cas: 1, salt, v: Buffer.from('second'), sign: ours.sign })
  assert.ok(n2 >= 1)
  const [res] = await call((...a) => nodes[4].get(...a), target, { salt, cache: false })
  assert.ok(res, 'bittorrent-dht finds it, its signature checked by bittorrent-dht\'s verify')
  assert.equal(res.seq, 2)
  assert.equal(Buffer.from(res.v).toString(), 'second')

  // An older seq is refused by every node (302), and says so.
  await assert.rejects(call((...a) => client.dht.put(...a), { k: ours.k, seq: 1, salt, v: Buffer.from('stale'), sign: ours.sign }),
    err => err.code === 'dht_failed' && /302/.test(err.message))

  // Put by bittorrent-dht, found by wasmtorrent with the salt (and not without it).
  const theirs = keypair()
  const [theirHash] = await call((...a) => nodes[2].put(...a), { k: theirs.k, seq: 7, salt, v: 'theirs', sign: theirs.sign })
  const [got] = await call((...a) => client.dht.get(...a), theirHash, { salt })
  assert.ok(got)
  assert.equal(got.seq, 7)
  assert.equal(got.v.toString(), 'theirs')
  assert.ok(Buffer.from(got.k).equals(theirs.k))
  assert.equal(got.sig.length, 64)
  assert.ok(got.salt.equals(salt))
  const [unsalted] = await call((...a) => client.dht.get(...a), theirHash)
  assert.equal(unsalted, null, 'without the salt the signature does not check')
})

test('a forged mutable item served by a node that checks nothing is not returned', { timeout: 60_000 }, async t => {
  // Every bittorrent-dht node here accepts any signature: they store the forgery and serve it.
  const { nodes, client } = await network(t, 6, { verify: () => true })
  const victim = keypair()
  const [hash] = await call((...a) => nodes[1].put(...a), { k: victim.k, seq: 5, v: 'forged', sig: Buffer.alloc(64, 1) })
  const [lax] = await call((...a) => nodes[4].get(...a), hash, { cache: false })
  assert.ok(lax, 'the lax nodes hand it out')
  const [got] = await call((...a) => client.dht.get(...a), hash)
  assert.equal(got, null, 'wasmtorrent checks the signature itself')
})

test('lookup (\'peer\' with the node that gave it), announce, addNode and toJSON as bittorrent-dht\'s, with its nodes; a torrent\'s lookup\'s peers as \'peer\' events', { timeout: 60_000 }, async t => {
  const { nodes, client } = await network(t)
  const infoHash = sha1(Buffer.from('an info-hash for the app'))

  // Our one-shot announce, found by bittorrent-dht's lookup.
  await call((...a) => client.dht.announce(...a), infoHash, 7777)
  const seen = []
  nodes[5].on('peer', (peer, hash) => { if (Buffer.from(hash).equals(infoHash)) seen.push(peer) })
  await call((...a) => nodes[5].lookup(...a), infoHash)
  assert.ok(seen.some(p => p.host === '127.0.0.1' && p.port === 7777), `bittorrent-dht finds our announce (${JSON.stringify(seen)})`)

  // bittorrent-dht's announce, found by our lookup as 'peer' events; n: answers with peers.
  const other = sha1(Buffer.from('announced by bittorrent-dht'))
  await call((...a) => nodes[2].announce(...a), other, 6543)
  const peers = []
  const givers = []
  const onPeer = (peer, hash, from) => { if (hash.equals(other)) { peers.push(peer); givers.push(from) } }
  client.dht.on('peer', onPeer)
  const [n] = await call((...a) => client.dht.lookup(...a), other.toString('hex'))
  client.dht.off('peer', onPeer)
  assert.ok(peers.some(p => p.host === '127.0.0.1' && p.port === 6543), `our lookup finds it (${JSON.stringify(peers)})`)
  assert.ok(n >= 1, `${n} nodes had peers`)
  // The third argument, as bittorrent-dht's: the node whose answer carried the peer (null
  // for what our own table of announces holds, if the announce reached us too).
  const nodePorts = new Set(nodes.map(node => node.address().port))
  assert.ok(givers.every(f => f === null || (f.host === '127.0.0.1' && nodePorts.has(f.port))), JSON.stringify(givers))
  assert.ok(givers.some(f => f !== null), JSON.stringify(givers))

  // A torrent's own lookup: its peers are 'peer' events too, as bittorrent-dht's for every
  // lookup (WebTorrent's torrents look up through the same DHT).
  const torrentHash = sha1(Buffer.from('a torrent announced by bittorrent-dht'))
  await call((...a) => nodes[3].announce(...a), torrentHash, 6544)
  const forTorrent = []
  client.dht.on('peer', (peer, hash) => { if (hash.equals(torrentHash)) forTorrent.push(peer) })
  const torrent = client.add(`magnet:?xt=urn:btih:${torrentHash.toString('hex')}`, { store: 'memory' })
  const torrentPeers = []
  torrent.on('peer', address => torrentPeers.push(address))
  await until(() => forTorrent.some(p => p.host === '127.0.0.1' && p.port === 6544), "the torrent's lookup's peer as a DHT 'peer' event")
  await until(() => torrentPeers.includes('127.0.0.1:6544'), "the torrent's own 'peer' event")
  torrent.destroy()

  // An aborted lookup calls back no more.
  let called = false
  const abort = client.dht.lookup(other, () => { called = true })
  abort()
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.equal(called, false)

  // addNode: a new bittorrent-dht node, known to nobody, enters our table once it answers.
  const late = new DHT({ bootstrap: false, host: '127.0.0.1', verify })
  t.after(() => new Promise(resolve => late.destroy(resolve)))
  await new Promise(resolve => late.listen(0, '127.0.0.1', resolve))
  const before = client.dhtNodes
  client.dht.addNode({ host: '127.0.0.1', port: late.address().port })
  await until(() => client.dhtNodes === before + 1, 'the added node in our table')

  // toJSON() as bittorrent-dht's: { nodes: [{ host, port }], values }; the nodes are our tables'.
  const state = client.dht.toJSON()
  assert.deepEqual(Object.keys(state), Object.keys(late.toJSON()))
  assert.deepEqual(state.values, {})
  assert.equal(state.nodes.length, client.dhtNodes)
  const known = new Set([...nodes, late].map(node => node.address().port))
  assert.ok(state.nodes.every(n => known.has(n.port)), JSON.stringify(state.nodes))
  assert.ok(state.nodes.some(n => n.port === late.address().port), 'the node just added')
  assert.ok(state.nodes.every(n => n.host === '127.0.0.1' && Object.keys(n).join() === 'host,port'))
})

test('put and get check their arguments as bittorrent-dht does', { timeout: 30_000 }, async t => {
  const client = new WasmTorrent({ tracker: false, lsd: false, natUpnp: false, natPmp: false, dht: { bootstrap: [], stateFile: null } })
  t.after(() => client.destroy())
  assert.equal(client.dht.ready, false)
  await new Promise(resolve => client.dht.once('ready', resolve)) // with no router too, as bittorrent-dht's
  const key = keypair()
  assert.throws(() => client.dht.put({}), /opts.v not given/)
  assert.throws(() => client.dht.put({ v: Buffer.alloc(1000) }), /v must be less than 1000 bytes in put\(\)/)
  assert.throws(() => client.dht.put({ k: Buffer.alloc(31), seq: 0, v: 'x', sign: key.sign }), /opts.k ed25519 public key must be 32 bytes/)
  assert.throws(() => client.dht.put({ k: key.k, seq: 0, v: 'x' }), /opts.sign function or options.sig signature is required/)
  assert.throws(() => client.dht.put({ k: key.k, v: 'x', sign: key.sign }), /opts.seq not provided/)
  assert.throws(() => client.dht.put({ k: key.k, seq: '1', v: 'x', sign: key.sign }), /opts.seq not an integer/)
  assert.throws(() => client.dht.put({ k: key.k, seq: 1, cas: '0', v: 'x', sign: key.sign }), /opts.cas must be an integer/)
  assert.throws(() => client.dht.put({ k: key.k, seq: 1, salt: Buffer.alloc(65), v: 'x', sign: key.sign }), /opts.salt is > 64 bytes long/)
  assert.throws(() => client.dht.get(42, () => {}), /Pass a buffer or a string/)
  // A bad signature given as sig is refused by the engine before anything is sent.
  await assert.rejects(call((...a) => client.dht.put(...a), { k: key.k, seq: 1, v: 'x', sig: Buffer.alloc(64) }), /invalid signature \(206\)/)
  // With no node to ask: an error for put, null for get.
  await assert.rejects(call((...a) => client.dht.put(...a), { v: 'alone' }), /no node stored the item/)
  const [none] = await call((...a) => client.dht.get(...a), sha1(Buffer.from('x')))
  assert.equal(none, null)
})

// libtorrent's secret key for a seed (orlp/ed25519's form, which libtorrent keeps): SHA-512
// of the seed, clamped; and the public key Node derives from the same seed.
function libtorrentKeypair (seed) {
  const sk = crypto.createHash('sha512').update(seed).digest()
  sk[0] &= 248
  sk[31] &= 63
  sk[31] |= 64
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' })
  const pk = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12)
  return { pk, sk }
}

test('items between wasmtorrent and libtorrent 2.0, both ways', { timeout: 120_000 }, async t => {
  const salt = 'wt-lt'
  const ours = keypair()
  const ourValue = Buffer.from('from wasmtorrent')
  const ourTarget = sha1(Buffer.concat([Buffer.from(`${ourValue.length}:`), ourValue]))
  const theirs = libtorrentKeypair(crypto.randomBytes(32))
  const lt = jsonProcess(t, '/usr/bin/python3', [path.join(here, 'peers/libtorrent_items.py'), '4', salt,
    ourTarget.toString('hex'), ours.k.toString('hex'), theirs.pk.toString('hex'), theirs.sk.toString('hex')])
  const formed = await lt.waitFor(s => s.put_immutable?.stored > 0 && s.put_mutable?.stored > 0, 60000, 'libtorrent\'s puts')

  const client = new WasmTorrent({ tracker: false, lsd: false, natUpnp: false, natPmp: false, dht: { bootstrap: [`127.0.0.1:${formed.ports[0]}`], stateFile: null } })
  t.after(() => client.destroy())
  await client.whenReady()
  await until(() => client.dhtNodes >= 2, 'our client to meet libtorrent\'s nodes')

  const [immutable] = await call((...a) => client.dht.get(...a), formed.put_immutable.target)
  assert.ok(immutable, 'libtorrent\'s immutable item is found')
  assert.equal(immutable.v.toString(), 'from libtorrent')
  const [mutable] = await call((...a) => client.dht.get(...a), sha1(Buffer.concat([theirs.pk, Buffer.from(salt)])), { salt })
  assert.ok(mutable, 'libtorrent\'s mutable item is found, its signature checked')
  assert.equal(mutable.v.toString(), "libtorrent's")
  assert.equal(mutable.seq, formed.put_mutable.seq)
  assert.ok(Buffer.from(mutable.k).equals(theirs.pk))

  const [, n1] = await call((...a) => client.dht.put(...a), { v: ourValue })
  assert.ok(n1 >= 1)
  const [, n2] = await call((...a) => client.dht.put(...a), { k: ours.k, seq: 3, salt, v: 'signed by wasmtorrent', sign: ours.sign })
  assert.ok(n2 >= 1)
  const got = await lt.waitFor(s => s.got_immutable && s.got_mutable?.seq === 3, 30000, 'libtorrent to get our items')
  assert.equal(Buffer.from(got.got_immutable, 'hex').toString(), `${ourValue.length}:${ourValue}`)
  assert.equal(Buffer.from(got.got_mutable.v, 'hex').toString(), '21:signed by wasmtorrent')
})
