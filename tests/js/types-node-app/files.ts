// File API.
import WebTorrent from 'webtorrent'

export function describe (file: WebTorrent.TorrentFile): string {
  const name: string = file.name
  const path: string = file.path
  const length: number = file.length
  const downloaded: number = file.downloaded
  const progress: number = file.progress
  const url: string = file.streamURL
  file.select()
  file.deselect()
  return `${name} ${path} ${length} ${downloaded} ${progress} ${url}`
}

export function readStream (file: WebTorrent.TorrentFile): void {
  const stream = file.createReadStream()
  const ranged = file.createReadStream({ start: 0, end: 1023 })
  stream.on('data', (chunk: Buffer) => console.log(chunk.length))
  stream.on('end', () => console.log('end'))
  stream.on('error', (err: Error) => console.error(err))
  ranged.pipe(process.stdout)
}

export async function iterateStream (file: WebTorrent.TorrentFile): Promise<number> {
  let n = 0
  for await (const chunk of file.createReadStream()) n += (chunk as Buffer).length
  return n
}

export function callbacks (file: WebTorrent.TorrentFile): void {
  file.getBuffer((err, buffer) => {
    if (err) return console.error(err)
    if (buffer) console.log(buffer.toString('utf8'))
  })
  file.getBuffer((err: string | Error | undefined, buffer?: Buffer) => { if (!err && buffer) console.log(buffer.readUInt8(0)) })
  file.getBlob((err, blob) => { if (!err && blob) console.log(blob.size) })
  file.getBlobURL((err, url) => {
    if (err || !url) return
    const img = document.createElement('img')
    img.src = url
  })
}


// WebTorrent 2's readers, not in @types/webtorrent: apps cast to reach them.
type Modern = WebTorrent.TorrentFile & {
  blob (opts?: { start?: number, end?: number }): Promise<Blob>
  arrayBuffer (opts?: { start?: number, end?: number }): Promise<ArrayBuffer>
  stream (opts?: { start?: number, end?: number }): ReadableStream<Uint8Array>
  [Symbol.asyncIterator] (opts?: { start?: number, end?: number }): AsyncIterator<Uint8Array>
  streamTo (elem: HTMLMediaElement): HTMLMediaElement
}
export async function modern (file: WebTorrent.TorrentFile): Promise<void> {
  const f = file as Modern
  const blob = await f.blob()
  const ab = await f.arrayBuffer({ start: 0, end: 99 })
  const rs = f.stream()
  const reader = rs.getReader()
  await reader.read()
  for await (const chunk of f) console.log(chunk.byteLength)
  console.log(blob.size, ab.byteLength)
  f.streamTo(document.querySelector('video')!)
}
