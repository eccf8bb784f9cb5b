// The objects used as Node EventEmitters, and the namespace's other names.
import WebTorrent from 'webtorrent'
import { once, EventEmitter } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { createWriteStream } from 'node:fs'
import { client } from './client.js'

export async function waitReady (torrent: WebTorrent.Torrent): Promise<void> {
  await once(torrent, 'ready')
  await once(client, 'torrent')
  const [bytes] = await once(torrent, 'download')
  console.log(bytes)
}

export function asEmitter (torrent: WebTorrent.Torrent): EventEmitter[] {
  const sym = Symbol('x')
  torrent.emit(sym)
  torrent.addListener(sym, () => {})
  const e: NodeJS.EventEmitter = torrent
  const e2: NodeJS.EventEmitter = client
  return [e as EventEmitter, e2 as EventEmitter]
}

export async function save (file: WebTorrent.TorrentFile): Promise<void> {
  await pipeline(file.createReadStream(), createWriteStream('/tmp/out'))
}

export type Ctor = WebTorrent.WebTorrent
export type Addr = WebTorrent.ServerAddress
export type Base = WebTorrent.ServerBase
export function factory (C: WebTorrent.WebTorrent): WebTorrent.Instance { return new C({ dht: false }) }
export const made = factory(WebTorrent)
