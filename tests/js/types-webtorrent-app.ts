// A TypeScript app written against WebTorrent's types (DefinitelyTyped's @types/webtorrent),
// the way apps use them: the namespace's type names, callbacks and events. types.test.mjs
// compiles it twice with tsc --strict: as it is (so it is a valid WebTorrent app), and with
// only the import changed to 'wasmtorrent' (so an app switches by changing one import).
// Callbacks' parameters are left to inference: WebTorrent's types declare `err: Error |
// string`, ours `Error | null`, which is what both libraries pass (null on success).
import WebTorrent from 'webtorrent'
import type SimplePeer from 'simple-peer'

const options: WebTorrent.Options = { maxConns: 55, tracker: {}, dht: false, lsd: false, webSeeds: true, downloadLimit: -1, uploadLimit: 1000 }
const client: WebTorrent.Instance = new WebTorrent(options)
export const supported: boolean = WebTorrent.WEBRTC_SUPPORT

client.on('error', (err: Error | string) => console.error(typeof err === 'string' ? err : err.message))
client.on('torrent', (torrent: WebTorrent.Torrent) => console.log('ready', torrent.name))

const magnet = 'magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10&dn=Sintel'
const addOpts: WebTorrent.TorrentOptions = {
  announce: ['wss://tracker.example'], urlList: ['https://cdn.example/'], maxWebConns: 4, path: '/downloads',
  private: false, destroyStoreOnDestroy: true, storeCacheSlots: 20, skipVerify: false, strategy: 'sequential'
}

const torrent: WebTorrent.Torrent = client.add(magnet, addOpts, (t: WebTorrent.Torrent) => {
  const fileNames: string[] = t.files.map((file: WebTorrent.TorrentFile) => file.path)
  console.log(fileNames, t.infoHash, t.magnetURI, t.length, t.pieceLength, t.lastPieceLength, t.announce)
  const file: WebTorrent.TorrentFile | undefined = t.files.find(f => f.name.endsWith('.mp4'))
  if (file === undefined) return
  file.select()
  console.log(file.length, file.downloaded, file.progress, file.streamURL)
  file.getBlobURL((err, url) => {
    if (err !== undefined || url === undefined) return
    const a = document.createElement('a')
    a.href = url
  })
  file.getBlob((err, blob) => { if (blob !== undefined && !err) console.log(blob.size) })
  file.getBuffer((err, buf) => { if (buf !== undefined && !err) console.log(buf.length) })
  const stream = file.createReadStream({ start: 0, end: 1023 })
  stream.on('data', (chunk: unknown) => console.log(chunk))
  stream.on('end', () => console.log('end'))
  file.deselect()
})

torrent.on('infoHash', () => console.log(torrent.infoHash))
torrent.on('metadata', () => console.log(torrent.files.length))
torrent.on('ready', () => torrent.select(0, 9, 1))
torrent.on('warning', (err: Error | string) => console.warn(err))
torrent.on('error', (err: Error | string) => console.error(err))
torrent.on('download', (bytes: number) => {
  const line = `${bytes} ${torrent.downloaded} ${torrent.received} ${torrent.uploaded} ${torrent.downloadSpeed} ` +
    `${torrent.uploadSpeed} ${torrent.progress} ${torrent.ratio} ${torrent.numPeers} ${torrent.timeRemaining}`
  console.log(line)
})
torrent.on('upload', (bytes: number) => console.log(bytes))
torrent.on('wire', (wire, addr) => console.log(wire.peerId, addr))
torrent.on('noPeers', (announceType: 'tracker' | 'dht') => console.log(announceType))
torrent.on('done', () => {
  console.log(torrent.done, torrent.ready, torrent.paused, torrent.path, torrent.created, torrent.comment, torrent.createdBy)
  const hash: string = torrent.infoHash
  const link: string = torrent.magnetURI
  const name: string = torrent.name
  console.log(hash, link, name, torrent.torrentFile.length, torrent.torrentFileBlobURL, torrent.maxWebConns)
  const missing: number = torrent.pieces.reduce((n, piece) => n + (piece === null ? 0 : piece.missing), 0)
  console.log(missing)
})

export function controls (): void {
  torrent.deselect(0, 9, 0)
  torrent.addPeer('127.0.0.1:6881')
  torrent.addWebSeed('https://cdn.example/sintel/')
  torrent.removePeer('127.0.0.1:6881')
  torrent.pause()
  torrent.resume()
  torrent.destroy({ destroyStore: true }, err => { if (err) console.error(err) })
}

// A WebRTC connection the app signalled itself.
export function signalled (peer: SimplePeer.Instance): boolean {
  return torrent.addPeer(peer)
}

export function seedDropped (files: FileList): void {
  client.seed(files, { announce: ['wss://tracker.example'] }, (t: WebTorrent.Torrent) => console.log(t.magnetURI))
  client.seed(files[0], t => console.log(t.infoHash))
}

export async function manage (): Promise<void> {
  const found = await client.get(magnet)
  if (found) console.log(found.name)
  await client.remove(magnet, { destroyStore: true }, err => { if (err) console.error(err) })
  client.throttleDownload(100_000)
  client.throttleUpload(-1)
  console.log(client.torrents.length, client.downloadSpeed, client.uploadSpeed, client.progress, client.ratio)
  client.destroy(err => { if (err) console.error(err) })
}

export function serve (registration: ServiceWorkerRegistration): void {
  const server = client.createServer({ controller: registration })
  console.log(server.pathname)
  server.close(() => console.log('closed'))
}
