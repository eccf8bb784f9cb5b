// Seeding.
import WebTorrent from 'webtorrent'
import { createReadStream } from 'node:fs'
import { client } from './client.js'

export function seedAll (files: FileList, file: File, fileArr: File[]): WebTorrent.Torrent[] {
  const out: WebTorrent.Torrent[] = []
  out.push(client.seed(files))
  out.push(client.seed(file, { announce: ['wss://tracker.example'] }))
  out.push(client.seed(fileArr, (t: WebTorrent.Torrent) => console.log(t.magnetURI)))
  out.push(client.seed(Buffer.from('hello'), { name: 'hello.txt' } as WebTorrent.TorrentOptions))
  out.push(client.seed([Buffer.from('a'), Buffer.from('b')], t => console.log(t.infoHash)))
  out.push(client.seed('/home/me/video.mp4', { path: '/home/me' }, t => console.log(t.path)))
  out.push(client.seed(['/home/me/a.txt', '/home/me/b.txt']))
  out.push(client.seed(createReadStream('/home/me/a.txt')))
  out.push(client.seed([createReadStream('/home/me/a.txt'), createReadStream('/home/me/b.txt')]))
  const seedOpts: WebTorrent.TorrentOptions = {
    announceList: [['wss://tracker.example']], private: true, createdBy: 'MyApp', urlList: ['https://cdn.example/'],
    store: function (chunkLength: number) {
      const chunks = new Map<number, Uint8Array>()
      return {
        chunkLength,
        put (i: number, b: Uint8Array, cb: (err: Error | null) => void) { chunks.set(i, b); cb(null) },
        get (i: number, o: unknown, cb: (err: Error | null, b?: Uint8Array) => void) { cb(null, chunks.get(i)) },
        close (cb?: (err: Error | null) => void) { cb?.(null) },
        destroy (cb?: (err: Error | null) => void) { cb?.(null) }
      }
    }, strategy: 'rarest', path: '/srv/seed', maxWebConns: 2
  }
  out.push(client.seed(files, seedOpts, t => console.log(t.name)))
  out.push(client.seed(file, { announce: ['wss://t.example'], urlList: ['https://cdn.example/'], path: '/srv', destroyStoreOnDestroy: true, skipVerify: true, maxWebConns: 3 }))
  return out
}
