// Client creation, options, properties, events, management — as a WebTorrent TS app writes it.
import WebTorrent from 'webtorrent'

export const opts: WebTorrent.Options = {
  maxConns: 100,
  nodeId: '0123456789abcdef0123456789abcdef01234567',
  peerId: Buffer.from('2d5757303030302d303132333435363738393031', 'hex'),
  tracker: { announce: ['wss://tracker.example'], rtcConfig: { iceServers: [] } },
  dht: { bootstrap: ['router.example:6881'] },
  lsd: false,
  webSeeds: true,
  utp: true,
  blocklist: ['1.2.3.4', { start: '10.0.0.0', end: '10.0.0.255' }],
  downloadLimit: 1_000_000,
  uploadLimit: -1
}

// Options written inline, the way most apps do (bittorrent-dht / bittorrent-tracker options pass through).
export const client = new WebTorrent({ dht: { concurrency: 16, host: '0.0.0.0' }, tracker: { wrtc: {}, port: 0 } })
export const client2: WebTorrent.Instance = new WebTorrent(opts)
export const client3 = new WebTorrent()

export const rtc: boolean = WebTorrent.WEBRTC_SUPPORT

client.on('torrent', (torrent: WebTorrent.Torrent) => { console.log('torrent ready', torrent.infoHash) })
client.on('error', (err: Error | string) => { console.error(typeof err === 'string' ? err : err.message) })
client.once('torrent', t => console.log(t))
client.off('torrent', () => {})
client.removeAllListeners('torrent')
client.setMaxListeners(50)

export function stats (): string {
  const down: number = client.downloadSpeed
  const up: number = client.uploadSpeed
  const progress: number = client.progress
  const ratio: number = client.ratio
  const torrents: WebTorrent.Torrent[] = client.torrents
  return `${down} ${up} ${progress} ${ratio} ${torrents.length}`
}

export async function lookup (id: string): Promise<string> {
  const t = await client.get(id)
  if (t) return t.name
  const t2 = await client.get(Buffer.from('00', 'hex'))
  return t2 ? t2.name : ''
}

export function throttle (): void {
  const r1: boolean | undefined = client.throttleDownload(100_000)
  const r2: boolean | undefined = client.throttleUpload(50_000)
  console.log(r1, r2)
}

export async function cleanup (t: WebTorrent.Torrent): Promise<void> {
  await client.remove(t)
  await client.remove(t.infoHash, { destroyStore: true })
  client.remove(t, { destroyStore: false }, (err: Error | string) => { if (err) console.error(err) })
  const dopts: WebTorrent.TorrentDestroyOptions = { destroyStore: true }
  await client.remove(t, dopts)
  client.destroy()
  client2.destroy((err: Error | string) => { if (err) console.error(err) })
  client3.destroy(err => { if (err) console.error(err) })
}
