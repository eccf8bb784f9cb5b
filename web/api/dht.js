// client.dht under Node (the DHT is the Node module's only; browsers have none, as
// WebTorrent's).
import { Emitter } from './emitter.js'
import { WasmTorrentError } from './errors.js'
import { bytesToHex, hexToBytes, toBuffer } from './hex.js'

// client.dht: what WebTorrent code uses of its bittorrent-dht instance: 'listening',
// address(), 'ready', lookup() with 'peer' events, announce(), addNode(), and BEP 44's put()
// and get(), with bittorrent-dht's checks, callbacks and results. The engine looks up,
// announces, stores what others put and checks every signature (src/dht/); this adapts the
// arguments.
export class DhtView extends Emitter {
  constructor (client) {
    super()
    this._client = client
    this._ops = new Map() // the engine's op number -> what to do with its result
    this.ready = false // as bittorrent-dht's: true once the first bootstrap is over
  }

  get listening () { return Boolean(this._client._dht) && this._client.dhtPort > 0 }
  address () { return this.listening ? { address: '0.0.0.0', family: 'IPv4', port: this._client.dhtPort } : null }

  // bittorrent-dht's put(opts, cb): { v } is immutable, stored under the SHA-1 of its
  // bencoding; { k, seq, v, sign(buf) or sig, salt, cas } is mutable, under the SHA-1 of k
  // and salt. cb(err, hash, n): n nodes stored it; err when none did. Returns the hash
  // (once the module is loaded, as it is from the client's 'ready' on: null before).
  put (opts, cb) {
    if (isBytes(opts) || typeof opts === 'string') opts = { v: opts }
    const mutable = Boolean(opts.k)
    // bittorrent-dht's checks, with its messages (it throws them too).
    if (opts.v === undefined) throw new Error('opts.v not given')
    if (opts.v.length >= 1000) throw new Error('v must be less than 1000 bytes in put()')
    if (mutable && opts.cas !== undefined && typeof opts.cas !== 'number') throw new Error('opts.cas must be an integer if provided')
    if (mutable && opts.k.length !== 32) throw new Error('opts.k ed25519 public key must be 32 bytes')
    if (mutable && typeof opts.sign !== 'function' && !isBytes(opts.sig)) throw new Error('opts.sign function or options.sig signature is required for mutable put')
    if (mutable && opts.salt && opts.salt.length > 64) throw new Error('opts.salt is > 64 bytes long')
    if (mutable && opts.seq === undefined) throw new Error('opts.seq not provided for a mutable update')
    if (mutable && typeof opts.seq !== 'number') throw new Error('opts.seq not an integer')
    cb ??= () => {}
    const salt = mutable && opts.salt ? asUtf8Bytes(opts.salt) : undefined
    const item = M => {
      const v = M.bencode(typeof opts.v === 'string' ? asUtf8Bytes(opts.v) : opts.v)
      if (!v) throw new WasmTorrentError('dht.put: v cannot be bencoded', { code: 'invalid_argument' })
      return mutable ? { v, k: opts.k, salt, seq: opts.seq, cas: opts.cas } : { v }
    }
    const M = this._client._M
    const key = M ? toBuffer(hexToBytes(M.dht_item_target(item(M)))) : null
    this._started().then(() => {
      const M = this._client._M
      const it = item(M)
      if (mutable) it.sig = typeof opts.sign === 'function' ? opts.sign(toBuffer(M.dht_signature_data(salt, opts.seq, it.v))) : opts.sig
      const hash = key ?? toBuffer(hexToBytes(M.dht_item_target(it)))
      let started = null
      this._client._input((E, t) => { started = E.dhtPut(it, t) })
      if (started.op === undefined) return cb(dhtError(`dht.put: ${started.message} (${started.code})`), hash, 0)
      this._ops.set(started.op, e => {
        if (e.type === 'destroyed') return cb(destroyed(), hash, 0)
        if (e.stored > 0) return cb(null, hash, e.stored)
        const why = e.errorText ? `${e.errorText} (${e.errorCode})` : e.sent > 0 ? 'no node answered' : 'no DHT node to store it on'
        cb(dhtError(`dht.put: no node stored the item: ${why}`), hash, 0)
      })
    }).catch(err => cb(err, key, 0))
    return key
  }

  // bittorrent-dht's get(hash, [opts], cb): cb(null, { v, id, k, sig, seq, salt }) with
  // the item found (of a mutable one, the highest seq; opts.salt: the one it was put
  // with), cb(null, null) when none was. opts.cache (default true): an immutable item this
  // client holds is the answer at once. Mutable items are always checked (Ed25519, in the
  // engine), so opts.verify and the constructor's verify are not needed and not called.
  get (key, opts, cb) {
    if (typeof opts === 'function') {
      cb = opts
      opts = null
    }
    opts ??= {}
    let hex
    if (typeof key === 'string') hex = key.toLowerCase()
    else if (isBytes(key)) hex = bytesToHex(key)
    else throw new Error('Pass a buffer or a string')
    const salt = opts.salt ? asUtf8Bytes(opts.salt) : undefined
    this._started().then(() => {
      let op = -1
      this._client._input((E, t) => { op = E.dhtGet(hex, salt, opts.cache !== false, t) })
      if (op < 0) return cb(dhtError(/^[0-9a-f]{40}$/.test(hex) ? 'dht.get: too many DHT lookups running' : `dht.get: not a 20-byte hash: ${hex}`))
      this._ops.set(op, e => {
        if (e.type === 'destroyed') return cb(destroyed())
        if (!e.item) return cb(null, null)
        const res = { id: toBuffer(hexToBytes(e.from)), v: this._value(e.item.v) }
        if (e.item.k) Object.assign(res, { k: toBuffer(e.item.k), sig: toBuffer(e.item.sig), seq: e.item.seq })
        if (salt) res.salt = toBuffer(salt)
        cb(null, res)
      })
    }).catch(err => cb(err))
  }

  // bittorrent-dht's lookup(infoHash, [cb]): a get_peers lookup apart from the torrents'
  // own; each peer found is a 'peer' event ({ host, port }, infoHash), cb(err, n): n answers
  // carried peers. Returns abort(), which stops the events and the callback.
  lookup (infoHash, cb) {
    return this._lookup(infoHash, -1, (err, e) => cb?.(err, e ? e.nodesWithPeers : 0))
  }

  // bittorrent-dht's announce(infoHash, [port], [cb]): one lookup, then announce_peer to the
  // closest nodes that gave a token; no port (or 0): the nodes take our datagrams' port.
  // cb(err): an error when no node was told. (A torrent of this client is announced by the
  // client itself, again every 15 minutes.)
  announce (infoHash, port, cb) {
    if (typeof port === 'function') return this.announce(infoHash, 0, port)
    this._lookup(infoHash, port || 0, (err, e) => {
      if (!err && e.announcedTo === 0) err = dhtError('dht.announce: no node to announce to')
      cb?.(err ?? null)
    })
  }

  // bittorrent-dht's toJSON(): { nodes: [{ host, port }] of the routing tables, values }, what
  // an app keeps to bootstrap from next time (new WebTorrent({ dht: { bootstrap: nodes } })).
  // Different: values is always {} (the items others stored here stay in the engine).
  toJSON () {
    const list = this._client._dht && this._client._engine ? this._client._engine.dhtNodeList() : []
    return { nodes: list.map(toNode), values: {} }
  }

  // bittorrent-dht's addNode({ host, port }): pinged, kept in the table if it answers.
  addNode (node) {
    const host = String(node.host)
    const address = host.includes(':') ? `[${host}]:${node.port}` : `${host}:${node.port}`
    this._started().then(() => this._client._input((E, t) => E.dhtAddNode(address, t)), () => {})
  }

  _lookup (infoHash, port, done) {
    let hex
    if (typeof infoHash === 'string') hex = infoHash.toLowerCase()
    else if (isBytes(infoHash)) hex = bytesToHex(infoHash)
    else throw new Error('Pass a buffer or a string')
    let op = null
    let aborted = false
    this._started().then(() => {
      if (aborted) return
      this._client._input((E, t) => { op = E.dhtLookup(hex, port, t) })
      if (op < 0) return done(dhtError(/^[0-9a-f]{40}$/.test(hex) ? 'dht: too many DHT lookups running' : `dht: not a 20-byte info-hash: ${hex}`))
      const key = toBuffer(hexToBytes(hex))
      this._ops.set(op, e => {
        if (e.type === 'destroyed') return done(destroyed())
        if (e.type === 'dhtPeers') {
          this._emitPeers(e, key)
          return true // more to come
        }
        done(null, e)
      })
    }).catch(err => done(err))
    return () => {
      aborted = true
      if (op !== null) this._ops.delete(op)
    }
  }

  // A stored value as bencode decodes it, a string as bytes (a Buffer under Node).
  _value (bencoded) {
    const v = this._client._bdecode(bencoded)
    return v instanceof Uint8Array ? toBuffer(v) : v
  }

  async _started () {
    await this._client.ready
    await this._client._dhtStarted
    if (!this._client._dht) throw dhtError('the DHT is closed')
  }

  // bittorrent-dht's 'ready': the first bootstrap lookup ended (answered or not, as there).
  _bootstrapped () {
    if (this.ready) return
    this.ready = true
    this.emit('ready')
  }

  // An operation's result; a handler that returns true expects more.
  // As bittorrent-dht's: 'peer' ({ host, port }, infoHash) for each peer a lookup finds.
  // As bittorrent-dht's: 'peer' (peer, infoHash, from), from the node that gave it
  // ({ host, port }), null for what our own table of announces holds.
  _emitPeers (e, infoHash) {
    const from = e.from ? toNode(e.from) : null
    for (const address of e.peers) this.emit('peer', toNode(address), infoHash, from)
  }

  _settle (e) {
    // op 0: a torrent's own lookup, whose peers bittorrent-dht's 'peer' reports too.
    if (e.type === 'dhtPeers' && e.op === 0) {
      if (this.listenerCount('peer') > 0) this._emitPeers(e, toBuffer(hexToBytes(e.infoHash)))
      return
    }
    const done = this._ops.get(e.op)
    if (done?.(e) !== true) this._ops.delete(e.op)
  }

  // destroy(): what is still waiting ends with an error.
  _close () {
    const waiting = [...this._ops.values()]
    this._ops.clear()
    for (const done of waiting) done({ type: 'destroyed' })
  }
}

function dhtError (message) { return new WasmTorrentError(message, { code: 'dht_failed' }) }
const destroyed = () => dhtError('dht: the client was destroyed')
const isBytes = v => v instanceof Uint8Array
const asUtf8Bytes = v => typeof v === 'string' ? new TextEncoder().encode(v) : v

// 'ip:port' or '[ip]:port' -> bittorrent-dht's { host, port }.
function toNode (address) {
  const at = address.lastIndexOf(':')
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) }
}
