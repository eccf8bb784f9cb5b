// Torrent properties and methods.
import WebTorrent from 'webtorrent'
import type SimplePeer from 'simple-peer'

export function show (torrent: WebTorrent.Torrent): Record<string, unknown> {
  const infoHash: string = torrent.infoHash
  const magnetURI: string = torrent.magnetURI
  const torrentFile: Uint8Array = torrent.torrentFile
  const blobURL: string = torrent.torrentFileBlobURL
  const files: WebTorrent.TorrentFile[] = torrent.files
  const announce: string[] = torrent.announce
  const pieces: Array<WebTorrent.TorrentPiece | null> = torrent.pieces
  const missing = torrent.pieces.reduce((n, p) => n + (p ? p.missing : 0), 0)
  const nums: number[] = [torrent.timeRemaining, torrent.received, torrent.downloaded, torrent.uploaded,
    torrent.downloadSpeed, torrent.uploadSpeed, torrent.progress, torrent.ratio, torrent.length,
    torrent.pieceLength, torrent.lastPieceLength, torrent.numPeers, torrent.maxWebConns]
  const path = torrent.path
  const flags: boolean[] = [torrent.ready, torrent.paused, torrent.done]
  const name: string = torrent.name
  const created: Date | undefined = torrent.created
  const year = torrent.created?.getFullYear()
  const createdBy = torrent.createdBy
  const comment = torrent.comment
  const upperComment = torrent.comment?.toUpperCase()
  return { infoHash, magnetURI, torrentFile, blobURL, files, announce, pieces, missing, nums, path, flags, name, created, year, createdBy, comment, upperComment }
}

export function control (torrent: WebTorrent.Torrent, peer: SimplePeer.Instance): void {
  const ok: boolean = torrent.addPeer('127.0.0.1:6881')
  torrent.addPeer(peer)
  torrent.addWebSeed('https://cdn.example/sintel/')
  torrent.removePeer('127.0.0.1:6881')
  torrent.removePeer(peer)
  torrent.select(0, 10)
  torrent.select(0, 10, 1)
  torrent.select(0, 10, 1, () => console.log('selection ready'))
  torrent.deselect(0, 10, 0)
  torrent.pause()
  torrent.resume()
  console.log(ok)
}

export function critical (torrent: WebTorrent.Torrent): void {
  // critical() is in WebTorrent's docs but not @types/webtorrent; apps reach it via a cast.
  ;(torrent as WebTorrent.Torrent & { critical (start: number, end: number): void }).critical(0, 3)
}

export function finish (torrent: WebTorrent.Torrent): void {
  torrent.destroy()
  torrent.destroy({ destroyStore: true })
  torrent.destroy({ destroyStore: true }, (err: Error | string) => { if (err) console.error(err) })
  torrent.destroy(undefined, err => { if (err) console.error(err) })
}

