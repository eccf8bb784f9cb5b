// A connected peer (WebTorrent's `wire`) and the BEP 10 extension API on it:
//
//   torrent.on('wire', wire => wire.use(MyExtension))
//
// MyExtension is a constructor called with the wire; MyExtension.prototype.name (or the
// instance's name) is the extension's BEP 10 name. Optional methods: onHandshake(infoHash, peerId, extensions),
// onExtendedHandshake(handshake) (the peer's extension handshake, decoded: strings as
// Uint8Array) and onMessage(bytes), each called before the wire's 'extended' event. Fields
// put in wire.extendedHandshake by the 'wire' listeners (before or after use()) and by
// onHandshake go into our extension handshake. Names are registered with the engine once
// per client, on the first use() of the name. The engine holds our first
// extension handshake to a peer (and the peer's extended messages) until the torrent's
// 'wire' listeners ran (client.js calls wireReady), so that a use() there is in it, as
// with WebTorrent. wire.extended(name, data)
// sends a message: bytes as they are, anything else (strings too) bencoded, as in
// WebTorrent.
// The protocol work (ids, handshakes, framing) is the engine's; this only routes.
//
// bittorrent-protocol's events and fields, read-only: 'choke', 'have', 'bitfield',
// 'download' and the rest are emitted as the peer's messages arrive, and the engine reports
// a kind only while the wire has a listener for it (a 'download' listener costs an event per
// block). It reports every kind until the 'wire' listeners ran, so that one added there
// hears the bitfield that came with the handshake. peerPieces is taken from the engine on
// first use and kept up to date from then on.
import { BitField } from './bitfield.js'
import { Emitter } from './emitter.js'
import { WasmTorrentError } from './errors.js'
import { hexToBytes, toBuffer } from './hex.js'

// The engine's peer_message_kind (src/session/session.hpp), by bittorrent-protocol's event.
const KIND = {
  'keep-alive': 0,
  choke: 1,
  unchoke: 2,
  interested: 3,
  uninterested: 4,
  have: 5,
  bitfield: 6,
  request: 7,
  download: 8,
  piece: 8,
  cancel: 9,
  port: 10,
  suggest: 11,
  'have-all': 12,
  'have-none': 13,
  reject: 14,
  'allowed-fast': 15,
  extended: 16,
  upload: 17,
  timeout: 19
}
const PIECE_DATA = 18
const bit = kind => 2 ** kind
// Reported for every wire: the extension handshake (peerExtendedHandshake) and the few
// extended messages that follow it.
const ALWAYS = bit(KIND.extended)
const PIECES = bit(KIND.have) | bit(KIND.bitfield) | bit(KIND['have-all']) | bit(KIND['have-none'])
// Until the 'wire' listeners ran: everything but blocks' bytes.
export const PEER_MESSAGES_AT_CONNECT = bit(PIECE_DATA) - 1
// A have-all as bytes: every piece's bit set, the spare bits of the last byte not.
function allPieces (count) {
  const bytes = new Uint8Array(Math.ceil(count / 8)).fill(0xff)
  if (count % 8) bytes[bytes.length - 1] = 0xff << (8 - count % 8) & 0xff
  return bytes
}

export class Wire extends Emitter {
  constructor (torrent, { connection, peerId, address, outgoing }) {
    super()
    this._torrent = torrent
    this._connection = connection
    this._byName = new Map() // extension name -> { id, ext }
    this._byId = new Map()   // engine extension id -> ext
    this.peerId = peerId
    this.type = 'webrtc'
    this.remoteAddress = address
    this._address = address // as the torrent's 'wire' event gives it (torrent._peers's key)
    this.outgoing = outgoing
    this.extendedHandshake = {}     // our fields, for extensions to add to
    this.peerExtendedHandshake = {} // the peer's, once received
    this.destroyed = false
    this.peerIdBuffer = peerId ? toBuffer(hexToBytes(peerId)) : null // a Buffer under Node, as bittorrent-protocol's
    this._reports = null // the mask the engine has, once the 'wire' listeners ran
    this._pendingUses = [] // extension ids use()d in the 'wire' listeners
    this._pieces = null  // peerPieces, once asked for
    this._peerHandshakeSeen = false // the peer's extension handshake came
  }

  // --- bittorrent-protocol's fields, from the engine ---
  _details () { return this.destroyed ? null : this._torrent._client._engine?.peerDetails(this._connection) ?? null }

  get peerPieces () {
    if (!this._pieces) {
      const d = this._details()
      this._pieces = new BitField(d?.pieces ?? new Uint8Array(0), { grow: 400000, haveAll: Boolean(d?.haveAll) })
      this._reportsChanged()
    }
    return this._pieces
  }

  // What the peer's handshake offered ({ dht, fast, extended }), and ours.
  get peerExtensions () {
    if (!this._peerExtensions) {
      const d = this._details()
      if (!d) return {}
      this._peerExtensions = { dht: d.dht, fast: d.fast, extended: d.extended }
    }
    return this._peerExtensions
  }

  get extensions () { return { dht: Boolean(this._torrent._client.dht), fast: true, extended: true } }
  // WebTorrent's: the peer has every piece (false until the metadata is known).
  get isSeeder () {
    const count = this._torrent.pieceCount
    return Boolean(count) && (this._stats()?.pieces ?? 0) >= count
  }
  get hasFast () { return Boolean(this.peerExtensions.fast) }

  // Requests in flight, ours and the peer's not served yet, as { piece, offset, length }.
  get requests () { return this._requests('requests') }
  get peerRequests () { return this._requests('peerRequests') }
  _requests (which) {
    return (this._details()?.[which] ?? []).map(([piece, offset, length]) => ({ piece, offset, length }))
  }

  // The peer's extension names and the ids it gave them.
  get peerExtendedMapping () {
    const m = this.peerExtendedHandshake?.m
    const out = {}
    if (m && typeof m === 'object') for (const [name, id] of Object.entries(m)) if (typeof id === 'number') out[name] = id
    return out
  }

  // Ours, as bittorrent-protocol's: the id our handshake gives each extension -> its name
  // (the engine's built-in ones, ut_metadata and ut_pex, and those use()d).
  get extendedMapping () {
    const out = {}
    this._torrent._client._extensionNames().forEach((name, i) => { out[i + 1] = name })
    return out
  }

  // The kinds of peer messages this wire's listeners want (see KIND).
  _wantedReports () {
    let mask = ALWAYS | (this._pieces ? PIECES : 0)
    for (const [name, kind] of Object.entries(KIND)) if (this.listenerCount(name) > 0) mask |= bit(kind)
    if (this.listenerCount('piece') > 0) mask |= bit(PIECE_DATA)
    return mask
  }

  // Called by the client when the 'wire' listeners ran: the extensions they use()d start,
  // and the mask the engine starts with.
  _reportsReady () {
    this._reports = this._wantedReports()
    for (const id of this._pendingUses.splice(0)) if (!this.destroyed) this._start(id)
    return this._reports
  }

  _reportsChanged () {
    if (this._reports === null || this.destroyed) return // wireReady will carry it
    const mask = this._wantedReports()
    if (mask === this._reports) return
    this._reports = mask
    this._torrent._client._input(E => E.reportPeerMessages(this._connection, mask))
  }

  _add (name, fn, prepend) {
    super._add(name, fn, prepend)
    if (name in KIND) this._reportsChanged()
    return this
  }

  removeListener (name, fn) {
    super.removeListener(name, fn)
    if (name in KIND) this._reportsChanged()
    return this
  }

  _stats () { return this._torrent._peerStats(this._connection) }
  get downloaded () { return this._stats()?.downloaded ?? 0 }
  get uploaded () { return this._stats()?.uploaded ?? 0 }
  get amChoking () { return this._stats()?.amChoking ?? true }
  get amInterested () { return this._stats()?.amInterested ?? false }
  get peerChoking () { return this._stats()?.peerChoking ?? true }
  get peerInterested () { return this._stats()?.peerInterested ?? false }
  downloadSpeed () { return this._stats()?.downloadSpeed ?? 0 }
  uploadSpeed () { return this._stats()?.uploadSpeed ?? 0 }

  use (Extension) {
    if (typeof Extension !== 'function') {
      throw new WasmTorrentError('wire.use: give the extension\'s constructor', { code: 'invalid_argument' })
    }
    const ext = new Extension(this)
    const name = Extension.prototype?.name ?? ext.name
    if (typeof name !== 'string' || name === '') {
      throw new WasmTorrentError('wire.use: the extension needs a name (prototype.name)', { code: 'invalid_argument' })
    }
    this[name] = ext // as bittorrent-protocol does
    // The id first (the engine reports the peer's handshake to it when enabled)...
    const client = this._torrent._client
    const id = client._extensionId(name)
    const again = this._byName.has(name) // as bittorrent-protocol's: the later one hears the peer from now on
    // One the engine speaks itself hears the peer through the wire's reports (see _onPeerMessage).
    this._byName.set(name, { id, name, ext, builtin: client._isBuiltinExtension(name) })
    this._byId.set(id, ext)
    if (again && this._reports === null) return // its onHandshake comes with the first one's start
    // ...then, once the 'wire' listeners ran (at once for a later use()), onHandshake and
    // our extension handshake, with what the listeners put in extendedHandshake after
    // use(), as bittorrent-protocol's.
    if (this._reports === null) this._pendingUses.push(id)
    else this._start(id)
  }

  // Extension `id` spoken with this peer only, as bittorrent-protocol's: in our extension
  // handshake to it (sent again when it went out already), its fields as this wire's.
  _start (id) {
    const ext = this._byId.get(id)
    ext.onHandshake?.(this._torrent.infoHash, this.peerId, { ...this.peerExtensions }) // the peer's reserved bits
    const entry = [...this._byName.values()].find(e => e.ext === ext)
    if (!entry?.builtin) return this._torrent._client._enableExtension(this._connection, id, this.extendedHandshake)
    // The engine's own (in our handshake already): the peer's handshake, if it came, as
    // the engine reports it to a registered extension enabled late.
    if (this._peerHandshakeSeen && this.peerExtendedMapping[entry.name]) ext.onExtendedHandshake?.(this.peerExtendedHandshake)
  }

  // As bittorrent-protocol's: `name` an extension's name (the peer's id for it, from its
  // handshake, whether or not this wire use()d it) or the peer's id itself.
  extended (name, data) {
    // As bittorrent-protocol's: a view's bytes as they are; anything else bencoded (strings,
    // an ArrayBuffer as a byte string), nothing (null, undefined) as an empty payload.
    const bytes = data instanceof Uint8Array
      ? data
      : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : data === null || data === undefined ? new Uint8Array(0)
          : this._torrent._client._bencode(data instanceof ArrayBuffer ? new Uint8Array(data) : data)
    const client = this._torrent._client
    const entry = typeof name === 'string' ? this._byName.get(name) : undefined
    if (entry) { // one of ours: the engine knows the peer's id
      if (!client._sendExtension(this._connection, entry.id, bytes)) {
        // bittorrent-protocol's words: the peer named no id for it
        throw new WasmTorrentError(`Unrecognized extension: ${name}`, { code: 'extension_unsupported' })
      }
      return
    }
    const peerId = typeof name === 'number' ? name : this.peerExtendedMapping[name]
    if (!Number.isInteger(peerId) || peerId < 1 || peerId > 255 || !client._sendExtension(this._connection, peerId, bytes, { peersId: true })) {
      throw new WasmTorrentError(`Unrecognized extension: ${name}`, { code: 'invalid_argument' })
    }
  }

  // As bittorrent-protocol's: keep-alives to the peer (on from the start, as WebTorrent
  // turns them on for every wire; the engine sends one when it has sent nothing for a
  // minute); setTimeout(ms): a request unanswered for ms, with no block from the peer
  // meanwhile, is given up on (the engine asks again, maybe another peer) and the wire
  // emits 'timeout' (0: none; the engine's own limits stay). `unref` changes nothing here.
  setKeepAlive (enable) {
    if (this._connection === null || this.destroyed) return
    this._torrent._client._input(E => E.setPeerKeepAlive(this._connection, enable !== false))
  }

  setTimeout (ms) {
    if (this._connection === null || this.destroyed) return
    this._torrent._client._input(E => E.setPeerTimeout(this._connection, Number(ms) || 0))
  }

  // As bittorrent-protocol's, for apps that decide whom they upload to: choke() chokes the
  // peer now and the engine's choker leaves it choked until unchoke(), which unchokes it now
  // (the choker may choke it again at its next round, as WebTorrent's rechoke would).
  choke () { this._setChoked(true) }
  unchoke () { this._setChoked(false) }
  _setChoked (choked) {
    if (this._connection === null || this.destroyed) return
    this._torrent._client._input((E, now) => E.setPeerChoked(this._connection, choked, now))
  }

  destroy () { // returns the wire, as bittorrent-protocol's
    this._torrent._client._closeConnection(this._connection)
    return this
  }

  // bittorrent-protocol's Wire is a Duplex stream, whose end() closes the connection once
  // what was written has gone; here every message is the engine's, so it closes it now.
  end () { return this.destroy() }

  // --- from the engine's events ---
  // As bittorrent-protocol: an extension hears of the peer's handshake only when the
  // peer supports it too.
  _onExtensionHandshake (e) {
    this.peerExtendedHandshake = e.handshake ?? {}
    if (e.peerSupports) this._byId.get(e.extension)?.onExtendedHandshake?.(this.peerExtendedHandshake)
  }

  _onExtensionMessage (e) { this._byId.get(e.extension)?.onMessage?.(e.payload) }

  _onPeerMessage (e) {
    switch (e.kind) {
      case KIND['keep-alive']: this.emit('keep-alive'); break
      case KIND.choke: this.emit('choke'); break
      case KIND.unchoke: this.emit('unchoke'); break
      case KIND.interested: this.emit('interested'); break
      case KIND.uninterested: this.emit('uninterested'); break
      case KIND.have:
        this._pieces?.set(e.index, true)
        this.emit('have', e.index)
        break
      case KIND.bitfield: {
        // peerPieces, once tracked, keeps the union: a snapshot taken in a listener may be
        // newer than this message. Untracked, it is read from the engine when asked.
        const bits = new BitField(e.data, { grow: 400000 })
        if (this._pieces) bits.forEach((has, i) => { if (has) this._pieces.set(i, true) }, 0, bits.length)
        this.emit('bitfield', this._pieces ?? bits)
        break
      }
      case KIND.request: this.emit('request', e.index, e.begin, e.length); break
      case KIND.piece:
        this.emit('download', e.length)
        if (e.data) this.emit('piece', e.index, e.begin, e.data)
        break
      case KIND.cancel: this.emit('cancel', e.index, e.begin, e.length); break
      case KIND.port: this.emit('port', e.index); break
      case KIND.suggest: this.emit('suggest', e.index); break
      case KIND['have-all']:
        if (this._pieces) this._pieces = new BitField(allPieces(this._torrent.pieceCount ?? 0), { grow: 400000, haveAll: true })
        this.emit('have-all')
        break
      case KIND['have-none']: this.emit('have-none'); break
      case KIND.reject: this.emit('reject', e.index, e.begin, e.length); break
      case KIND['allowed-fast']: this.emit('allowed-fast', e.index); break
      case KIND.extended:
        if (e.index === 0) {
          this.peerExtendedHandshake = e.payload ?? {}
          this._peerHandshakeSeen = true
          // use()d extensions of the engine's names hear it as bittorrent-protocol's do (the
          // engine reports it to the others): those the peer supports, before 'extended'.
          for (const { name, ext, builtin } of this._byName.values()) {
            if (builtin && this.peerExtendedMapping[name]) ext.onExtendedHandshake?.(this.peerExtendedHandshake)
          }
          this.emit('extended', 'handshake', this.peerExtendedHandshake)
        } else {
          // lt_donthave (the engine's): the piece leaves peerPieces, as WebTorrent's
          // lt_donthave extension does.
          if (e.donthave !== undefined) {
            this._pieces?.set(e.donthave, false)
            if (this.lt_donthave instanceof WireDontHave) this.lt_donthave.emit('donthave', e.donthave)
          }
          if (e.pex && this.ut_pex instanceof WirePex) this.ut_pex._onMessage(e.pex)
          const entry = e.extension ? this._byName.get(e.extension) : undefined
          if (entry?.builtin) entry.ext.onMessage?.(e.payload)
          this.emit('extended', e.extension || e.index, e.payload)
        }
        break
      case KIND.upload: this.emit('upload', e.length); break
      case KIND.timeout: this.emit('timeout'); break
    }
  }

  _onClose () {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}

// WebTorrent's wire.ut_pex (npm ut_pex's API) over the engine's ut_pex (BEP 11), which
// tells each peer of the torrent's others and dials those it hears of. 'peer' (address,
// flags) and 'dropped' (address) for what the peer's messages name, each address once until
// it is dropped again, as ut_pex's; start()/stop()/reset() turn our messages to this peer on
// and off (on from the start, as WebTorrent starts its own; reset also forgets what the peer
// was told); addPeer()/dropPeer() (and the IPv6 forms) put an address in the next message.
const PEX_FLAGS = { prefersEncryption: 0x01, isSender: 0x02, supportsUtp: 0x04, supportsUtHolepunch: 0x08, isReachable: 0x10 }
const PEX_REMEMBERED = 10000 // addresses heard, per wire: a peer cannot grow it further

export class WirePex extends Emitter {
  constructor (wire) {
    super()
    this._wire = wire
    this._heard = new Map() // address -> 'added' | 'dropped', in the order heard
  }

  get name () { return 'ut_pex' }
  start () { this._command('start') }
  stop () { this._command('stop') }
  reset () {
    this._heard.clear()
    this._command('reset')
  }

  addPeer (peer, flags = {}) { this._advertise(peer, flags, false) }
  addPeer6 (peer, flags = {}) { this._advertise(peer, flags, false) }
  dropPeer (peer) { this._advertise(peer, {}, true) }
  dropPeer6 (peer) { this._advertise(peer, {}, true) }

  _command (command) {
    const wire = this._wire
    if (!wire.destroyed && wire._connection !== null) wire._torrent._client._input((E, now) => E.commandPex(wire._connection, command, now))
  }

  _advertise (peer, flags, dropped) {
    const wire = this._wire
    // As ut_pex's: an address without a port is disregarded, and the peer is never told
    // back what it told us.
    if (typeof peer !== 'string' || !peer.includes(':') || wire.destroyed || wire._connection === null) return
    if (this._heard.get(peer) === (dropped ? 'dropped' : 'added')) return
    let bits = 0
    for (const [key, bit] of Object.entries(PEX_FLAGS)) if (flags?.[key] === true) bits |= bit
    wire._torrent._client._input((E, now) => E.pexAdvertise(wire._connection, peer, bits, dropped, now))
  }

  // A message of the peer's, decoded by the engine: { added: [[address, flags]], dropped }.
  _onMessage ({ added, dropped }) {
    for (const [peer, flags] of added) {
      if (this._heard.get(peer) === 'added') continue
      this._remember(peer, 'added')
      const decoded = {}
      for (const [key, bit] of Object.entries(PEX_FLAGS)) decoded[key] = Boolean(flags & bit)
      this.emit('peer', peer, decoded)
    }
    for (const peer of dropped) {
      if (this._heard.get(peer) === 'dropped') continue
      this._remember(peer, 'dropped')
      this.emit('dropped', peer)
    }
  }

  _remember (peer, how) {
    this._heard.delete(peer)
    this._heard.set(peer, how)
    if (this._heard.size > PEX_REMEMBERED) this._heard.delete(this._heard.keys().next().value)
  }
}

// WebTorrent's wire.ut_metadata (npm ut_metadata's API) over the engine's ut_metadata
// (BEP 9), which asks every peer that offers the metadata while the torrent lacks it and
// answers every peer's requests. 'metadata' (the torrent as bencoded bytes: { info }) on each
// wire the torrent has when its metadata arrives, as WebTorrent's setMetadata() on each;
// `metadata` the info dictionary's bytes once known.
export class WireMetadata extends Emitter {
  constructor (wire) {
    super()
    this._wire = wire
    this._told = Boolean(wire._torrent.infoBuffer) // as npm's, set in its constructor: heard by none
  }

  get name () { return 'ut_metadata' }
  get metadata () { return this._wire._torrent.infoBuffer ?? undefined }
  // The engine decides whom it asks: these change nothing.
  fetch () {}
  cancel () {}
  // As npm's: true once the metadata is known (the engine's, from the peers or the .torrent).
  async setMetadata () { return Boolean(this.metadata) }

  _onTorrentMetadata () {
    const info = this.metadata
    if (this._told || !info) return
    this._told = true
    const torrent = new Uint8Array(info.length + 8) // d4:info<info>e
    torrent.set(new TextEncoder().encode('d4:info'))
    torrent.set(info, 7)
    torrent[torrent.length - 1] = 0x65
    this.emit('metadata', toBuffer(torrent))
  }
}

// WebTorrent's wire.lt_donthave (npm lt_donthave's API): 'donthave' (piece) when the peer
// says it no longer has a piece it had (the engine takes the piece out of what the peer has
// and cancels our requests for it); donthave(index) tells the peer so of one of ours.
export class WireDontHave extends Emitter {
  constructor (wire) {
    super()
    this._wire = wire
  }

  get name () { return 'lt_donthave' }
  donthave (index) {
    if (!this._wire.peerExtendedMapping.lt_donthave) return // as npm's: not to a peer without it
    const bytes = new Uint8Array(4)
    new DataView(bytes.buffer).setUint32(0, index)
    this._wire.extended('lt_donthave', bytes)
  }
}

// As WebTorrent's, which use()s these on every wire, web seeds' too (ut_pex: on the wires of
// a public torrent, when the client speaks it).
export function useEngineExtensions (wire) {
  const torrent = wire._torrent
  wire.ut_metadata = new WireMetadata(wire)
  wire.lt_donthave = new WireDontHave(wire)
  if (!torrent.private && torrent._client._isBuiltinExtension('ut_pex')) wire.ut_pex = new WirePex(wire)
}

// A web seed as WebTorrent shows one: a wire of type 'webSeed' in torrent.wires (so
// numPeers counts it), with its 'wire' event, and as peer id the SHA-1 of its URL (WebConn's).
// The HTTP requests are the engine's and no wire protocol runs, so this only reports: the
// bytes the seed brought ('download', downloaded, downloadSpeed()), a seed that has every
// piece and never chokes us, and 'close' when it leaves (dropped after failures, removed,
// or the torrent destroyed). destroy() removes the web seed from the torrent, as
// destroying WebTorrent's does.
const RATE_WINDOW = 5000 // ms of samples for downloadSpeed()

export class WebSeedWire extends Wire {
  constructor (torrent, { url, peerId }) {
    super(torrent, { connection: null, peerId, address: url, outgoing: true })
    this.type = 'webSeed'
    this.remoteAddress = undefined
    this.url = url
    this.connId = url
    this._downloaded = 0
    this._samples = [] // [ms, downloaded]
  }

  _details () { return null }
  _reportsChanged () {}
  get peerPieces () {
    this._pieces ??= new BitField(allPieces(this._torrent.pieceCount ?? 0), { grow: 400000, haveAll: true })
    return this._pieces
  }

  get peerExtensions () { return { dht: false, fast: false, extended: true } }
  get isSeeder () { return true }
  get requests () { return [] }
  get peerRequests () { return [] }

  _stats () {
    return {
      downloaded: this._downloaded,
      uploaded: 0,
      amChoking: true,
      amInterested: !this._torrent._stats()?.finished,
      peerChoking: false,
      peerInterested: false,
      downloadSpeed: this._speed(),
      uploadSpeed: 0
    }
  }

  _speed () {
    const s = this._samples
    if (s.length < 2) return 0
    const [t0, d0] = s[0]
    const [t1, d1] = s[s.length - 1]
    return t1 > t0 ? (d1 - d0) * 1000 / (t1 - t0) : 0
  }

  // The seed's bytes so far (the engine's count), sampled at the client's ticks.
  _update (downloaded, ms) {
    this._samples.push([ms, downloaded])
    while (this._samples.length > 2 && ms - this._samples[1][0] >= RATE_WINDOW) this._samples.shift()
    if (downloaded <= this._downloaded) return
    const bytes = downloaded - this._downloaded
    this._downloaded = downloaded
    this.emit('download', bytes)
  }

  destroy () {
    this._torrent._removeWebSeed(this.url)
    return this
  }
}
