// A connected peer (WebTorrent's `wire`) and the BEP 10 extension API on it:
//
//   torrent.on('wire', wire => wire.use(MyExtension))
//
// MyExtension is a constructor called with the wire; MyExtension.prototype.name (or the
// instance's name) is the extension's BEP 10 name. Optional methods: onHandshake(infoHash, peerId, extensions),
// onExtendedHandshake(handshake) (the peer's extension handshake, decoded: strings as
// Uint8Array) and onMessage(bytes). Fields the constructor puts in
// wire.extendedHandshake go into our extension handshake; they are registered with the
// engine once per client, on the first use() of the name. The engine holds our first
// extension handshake to a peer (and the peer's extended messages) until the torrent's
// 'wire' listeners ran (client.js calls wireReady), so that a use() there is in it, as
// with WebTorrent. wire.extended(name, data)
// sends a message: bytes as they are, anything else (strings too) bencoded, as in
// WebTorrent.
// The protocol work (ids, handshakes, framing) is the engine's; this only routes.
import { Emitter } from './emitter.js'
import { WasmTorrentError } from './errors.js'

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
    if (this._byName.has(Extension.prototype?.name)) return
    const ext = new Extension(this)
    const name = Extension.prototype?.name ?? ext.name
    if (typeof name !== 'string' || name === '') {
      throw new WasmTorrentError('wire.use: the extension needs a name (prototype.name)', { code: 'invalid_argument' })
    }
    if (this._byName.has(name)) return
    this[name] = ext // as bittorrent-protocol does
    const { id, fresh } = this._torrent._client._registerExtension(name, this.extendedHandshake)
    this._byName.set(name, { id, ext })
    this._byId.set(id, ext)
    ext.onHandshake?.(this._torrent.infoHash, this.peerId, { dht: false, extended: true })
    // A new registration makes the engine report the peer's handshake itself; for a
    // known one, hand over the handshake this wire already received (if it names us).
    if (!fresh && this._peerHandshakeReceived && this._peerNames(name)) ext.onExtendedHandshake?.(this.peerExtendedHandshake)
  }

  extended (name, data) {
    const entry = typeof name === 'number'
      ? [...this._byName.values()].find(e => e.id === name)
      : this._byName.get(name)
    if (!entry) throw new WasmTorrentError(`wire.extended: ${name} is not in use on this wire`, { code: 'invalid_argument' })
    const bytes = data instanceof Uint8Array
      ? data
      : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : data instanceof ArrayBuffer ? new Uint8Array(data)
          : this._torrent._client._bencode(data) // strings too, as bittorrent-protocol does
    if (!this._torrent._client._sendExtension(this._connection, entry.id, bytes)) {
      throw new WasmTorrentError(`wire.extended: the peer does not support ${entry.ext.constructor.prototype.name ?? name}`,
        { code: 'extension_unsupported' })
    }
  }

  destroy () { this._torrent._client._closeConnection(this._connection) }

  // --- from the engine's events ---
  // As bittorrent-protocol: an extension hears of the peer's handshake only when the
  // peer supports it too.
  _onExtensionHandshake (e) {
    this.peerExtendedHandshake = e.handshake ?? {}
    this._peerHandshakeReceived = true
    if (e.peerSupports) this._byId.get(e.extension)?.onExtendedHandshake?.(this.peerExtendedHandshake)
  }

  _peerNames (name) {
    const m = this.peerExtendedHandshake?.m
    return Boolean(m && typeof m === 'object' && m[name])
  }

  _onExtensionMessage (e) { this._byId.get(e.extension)?.onMessage?.(e.payload) }

  _onClose () {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}
