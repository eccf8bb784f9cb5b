// Adding torrents: magnet, Buffer, Uint8Array, parsed torrent; options; torrent events with typed callbacks.
import WebTorrent from 'webtorrent'
import parseTorrent from 'parse-torrent'
import { readFileSync } from 'node:fs'
import { client } from './client.js'

const magnet = 'magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10&dn=Sintel'

class MemStore {
  chunkLength: number
  constructor (chunkLength: number, opts: { length: number, files: unknown[], torrent: unknown }) {
    this.chunkLength = chunkLength
    console.log(opts.length)
  }
  put (index: number, buf: Uint8Array, cb: (err: Error | null) => void): void { cb(null) }
  get (index: number, opts: unknown, cb: (err: Error | null, buf?: Uint8Array) => void): void { cb(null) }
  close (cb?: (err: Error | null) => void): void { cb?.(null) }
  destroy (cb?: (err: Error | null) => void): void { cb?.(null) }
}

export const torrentOpts: WebTorrent.TorrentOptions = {
  announce: ['udp://tracker.example:1337'],
  urlList: ['https://cdn.example/sintel/'],
  maxWebConns: 8,
  path: '/tmp/downloads',
  private: false,
  destroyStoreOnDestroy: true,
  storeCacheSlots: 20,
  skipVerify: false,
  strategy: 'sequential',
  getAnnounceOpts () { return { key: 'abc' } }
}

// store given as a factory function (what the @types signature describes; WebTorrent calls it with `new`).
export const withStoreFactory: WebTorrent.TorrentOptions = {
  store: function (chunkLength: number, storeOpts) { return new MemStore(chunkLength, storeOpts) }
}
// Options shared between add and seed (the same type in @types/webtorrent).
export const sharedOpts: WebTorrent.TorrentOptions = { announceList: [['wss://a.example'], ['wss://b.example']], createdBy: 'MyApp 1.0' }
export const getAnnounceVoid: WebTorrent.TorrentOptions = { getAnnounceOpts: () => { console.log('announce') } }

const fromMagnet: WebTorrent.Torrent = client.add(magnet)
const fromMagnetOpts = client.add(magnet, torrentOpts, (t: WebTorrent.Torrent) => console.log(t.name))
const fromMagnetCb = client.add(magnet, t => console.log(t.files.length))
const torrentBuf: Buffer = readFileSync('/tmp/x.torrent')
const fromBuffer = client.add(torrentBuf, { path: '/tmp/dl' })
const fromU8 = client.add(Buffer.from(new Uint8Array(torrentBuf)), { path: '/tmp/dl' })
const parsed = parseTorrent(torrentBuf) as parseTorrent.Instance
const fromParsed = client.add(parsed, { announce: ['wss://x.example'] })
const fromParsedTyped: WebTorrent.Torrent = client.add(parseTorrent(magnet) as parseTorrent.Instance)
const fromHash = client.add('08ada5a7a6183aae1e09d831df6748d566095a10', { maxWebConns: 2 })
const fromUrl = client.add('https://example.com/sintel.torrent')

export function attach (torrent: WebTorrent.Torrent): void {
  torrent.on('infoHash', () => console.log('infoHash', torrent.infoHash))
  torrent.on('metadata', () => console.log('metadata', torrent.name))
  torrent.on('ready', () => console.log('ready', torrent.files.length))
  torrent.on('warning', (err: Error | string) => console.warn(err))
  torrent.on('error', (err: Error | string) => console.error(typeof err === 'string' ? err : err.message))
  torrent.on('done', () => console.log('done'))
  torrent.on('download', (bytes: number) => console.log('down', bytes, torrent.progress))
  torrent.on('upload', (bytes: number) => console.log('up', bytes))
  torrent.on('noPeers', (announceType: 'tracker' | 'dht') => console.log('noPeers', announceType))
  torrent.on('noPeers', announceType => { if (announceType === 'dht') console.log('no dht peers') })
  torrent.on('wire', (wire, addr) => console.log(wire.peerId, wire.type, addr))
  torrent.once('done', () => {})
  torrent.removeListener('done', () => {})
}

for (const t of [fromMagnet, fromMagnetOpts, fromMagnetCb, fromBuffer, fromU8, fromParsed, fromParsedTyped, fromHash, fromUrl]) attach(t)
