// Compiled (not run) by types.test.mjs: the hand-written .d.ts must accept the documented
// uses and reject misuse (the @ts-expect-error lines).
import WasmTorrent, { init, parseTorrent, parseMagnet, toMagnetURI, createTorrent, announceList, WasmTorrentError } from 'wasmtorrent'
import type { ParsedTorrent, ParsedMagnet, CreateOptions, Torrent, Wire, Extension, PexFlags } from 'wasmtorrent'

export async function usage (): Promise<void> {
  await init({ wasmURL: new URL('https://example.invalid/wasmtorrent.wasm') })
  await init({ wasmBinary: new Uint8Array(8) })

  const opts: CreateOptions = {
    name: 'n', creationDate: new Date(), comment: 'c', createdBy: 'me', private: true, pieceLength: 16384,
    announceList: [['wss://t']], urlList: 'https://w/', info: { source: 'S' }
  }
  const bytes: Uint8Array = await createTorrent([{ path: 'a/b.txt', data: new Uint8Array(3) }], opts)
  await createTorrent(new Blob(['x']), { name: 'x' })
  await createTorrent([new File(['x'], 'x.txt'), { path: 'y', data: new ArrayBuffer(2) }])
  // @ts-expect-error: data must be bytes or a Blob
  await createTorrent([{ path: 'a', data: 'text' }])

  const parsed = await parseTorrent(bytes)
  if ('files' in parsed) {
    const t: ParsedTorrent = parsed
    const first: string = t.files[0].path
    const hash: string = t.infoHash
    const pieces: string[] = t.pieces
    const created: Date | undefined = t.created
    void [first, hash, pieces, created]
  }
  const m: ParsedMagnet = await parseTorrent('magnet:?xt=urn:btih:' + 'a'.repeat(40))
  const m2: ParsedMagnet = await parseMagnet('magnet:?xt=urn:btih:' + 'a'.repeat(40))
  const uri: string = toMagnetURI(m)
  const trackers: string[][] = announceList
  void [m2, uri, trackers]

  try {
    await parseTorrent(new Uint8Array(1))
  } catch (err) {
    if (err instanceof WasmTorrentError) {
      const where: number = err.position
      const code: string = err.code
      void [where, code]
    }
  }
  // @ts-expect-error: toMagnetURI is synchronous
  await toMagnetURI(m).then(() => {})
  const sameApi: typeof parseTorrent = WasmTorrent.parseTorrent
  void sameApi
}

// The client: WebTorrent's shapes, plus Promise forms.
export async function clientUsage (bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  const client = new WasmTorrent({ tracker: { announce: ['ws://127.0.0.1:8000'], rtcConfig: { iceServers: [] } } })
  const seeded: Torrent = client.seed(new File([bytes], 'a.bin'), { name: 'a.bin' }, t => { void t.magnetURI })
  const torrent = await client.addAsync('magnet:?xt=urn:btih:' + '0'.repeat(40))
  torrent.on('done', () => {})
  const mapped: number[] = client.portMappings.filter(m => m.protocol === 'tcp').map(m => m.externalPort)
  const publicIp: string | null = client.publicAddress
  const isReady: boolean = client.ready
  if (!isReady) await client.whenReady()
  void new WasmTorrent({ natPmp: { gateway: '192.168.1.1' }, natUpnp: false })
  void [mapped, publicIp]
  const buffer: ArrayBuffer = await torrent.files[0].arrayBuffer()
  const speed: number = client.downloadSpeed + torrent.progress + torrent.numPeers
  const hash: string | null = seeded.infoHash
  void [buffer, speed, hash, WasmTorrent.createTorrent]

  // WebTorrent's smaller options: getAnnounceOpts, store options, nodeId; peer events.
  const withOpts = new WasmTorrent({
    nodeId: 'ab'.repeat(20),
    dht: { bootstrap: [], nodeId: new Uint8Array(20) },
    tracker: { announce: [], getAnnounceOpts: () => ({ passkey: 'k', numwant: 5, flag: true }) }
  })
  const node: string | null = withOpts.nodeId
  const chunkStore = {
    put (index: number, buf: Uint8Array, cb: (err: Error | null) => void) { void [index, buf]; cb(null) },
    get (index: number, opts: { offset?: number, length?: number } | null, cb: (err: Error | null, buf?: Uint8Array) => void) { void [index, opts]; cb(null, new Uint8Array(0)) },
    close (cb?: (err: Error | null) => void) { cb?.(null) },
    destroy (cb?: (err: Error | null) => void) { cb?.(null) }
  }
  const opted = withOpts.add(bytes, {
    getAnnounceOpts: () => ({ uploaded: 1 }), storeOpts: { any: 1 }, storeCacheSlots: 0, preloadedStore: chunkStore, addUID: true
  })
  withOpts.seed(bytes, { name: 'x', preloadedStore: chunkStore, getAnnounceOpts: () => ({}) })
  opted.on('peer', (address: string) => { void address })
  opted.on('invalidPeer', (address: string) => { void address })
  // @ts-expect-error: getAnnounceOpts returns an object of fields
  withOpts.add(bytes, { getAnnounceOpts: () => 'passkey=k' })
  // @ts-expect-error: a node id is hex or bytes
  void new WasmTorrent({ nodeId: 5 })
  void node

  // Readers, selection, extensions, page-signalled peers.
  const file = torrent.files[0]
  file.select(5)
  file.deselect()
  for await (const chunk of file) { const n: number = chunk.length; void n }
  const stream: ReadableStream<Uint8Array> = file.createReadStream({ start: 10, end: 99 }).toWeb()
  const nodeStyle = file.createReadStream()
  nodeStyle.on('data', (chunk: Uint8Array) => { void chunk }).on('end', () => {})
  nodeStyle.pipe({ write (chunk: Uint8Array) { return chunk.length > 0 }, end () {} })
  for await (const chunk of file.createReadStream({ start: 1 })) { const n: number = chunk.byteLength; void n }
  const paused = file.createReadStream().setEncoding('hex')
  paused.on('readable', () => {
    let chunk: Uint8Array | string | null
    while ((chunk = paused.read(4)) !== null) void chunk
  })
  const buffered: number = paused.readableLength + (paused.readableEncoding ?? '').length
  void buffered
  nodeStyle.destroy()
  file.on('done', () => {})
  file.getBuffer((err, buf) => { if (!err && buf) { const n: number = buf.length; void n } })
  const inFile: boolean = file.includes(0)
  void inFile
  const part: ArrayBuffer = await file.arrayBuffer({ start: 0, end: 9 })
  const type: string = file.type
  void [stream, part, type, file.stream()]
  // Playback: through a service worker when there is a server, else MediaSource.
  const video = document.createElement('video')
  const same: HTMLVideoElement = file.streamTo(video, { mediaSource: true, bufferAhead: 20 }, (err, elem) => {
    if (err) { const code: string = err.code; void code }
    const el: HTMLVideoElement = elem
    void el
  })
  file.streamTo(document.createElement('audio'), err => { void err })
  file.streamTo(video)
  // @ts-expect-error: bufferAhead is a number of seconds
  file.streamTo(video, { bufferAhead: '20' })
  // @ts-expect-error: a media element
  file.streamTo(document.createElement('div'))
  const server = client.createServer({ controller: await navigator.serviceWorker.register('/wasmtorrent-sw.js') })
  const url: string = file.streamURL
  void [same, server.urlOf(file), url]
  class Echo implements Extension {
    readonly name = 'x_echo'
    constructor (readonly wire: Wire) { wire.extendedHandshake.echo_version = 1 }
    onMessage (payload: Uint8Array): void { this.wire.extended('x_echo', payload) }
  }
  torrent.on('wire', (wire: Wire) => { wire.use(Echo) })
  // bittorrent-protocol's events and fields on a wire; the torrent's BitField.
  torrent.on('wire', (wire: Wire) => {
    wire.on('have', (index: number) => { const has: boolean = wire.peerPieces.get(index); void has })
    wire.on('download', (bytes: number) => { void [bytes, wire.requests.length, wire.peerExtensions.fast] })
    wire.ut_pex?.on('peer', (peer: string, flags: PexFlags) => { void [peer, flags.isSender] })
    wire.ut_pex?.addPeer('10.0.0.1:6881', { isSender: true })
    wire.ut_metadata?.on('metadata', (torrentBytes: Uint8Array) => { void [torrentBytes, wire.ut_metadata?.metadata?.length] })
    wire.lt_donthave?.on('donthave', (index: number) => { void index })
    wire.setKeepAlive(true)
    if (wire.peerInterested) wire.choke(); else wire.unchoke()
    wire.setTimeout(30_000, true)
  })
  torrent.bitfield.forEach((bit: boolean, index: number) => { void [bit, index] }, 0, torrent.pieces.length)
  torrent.store?.get(0, { offset: 0, length: 16 }, (err: Error | null, chunk?: Uint8Array) => { void [err, chunk] })
  const file2: Uint8Array | null = torrent.torrentFile
  const added: boolean = torrent.addPeer(new RTCPeerConnection().createDataChannel('x'))
  void [file2, added, torrent.wires.length]
  // Stores: WebTorrent's options, a persistent default, quota errors.
  const kept = client.add('magnet:?xt=urn:btih:' + 'a'.repeat(40), { store: 'memory', path: 'films/a', destroyStoreOnDestroy: true })
  kept.on('hashing', (hashed: number, total: number) => { void [hashed, total] })
  const hidden = client.add('magnet:?xt=urn:btih:' + 'c'.repeat(40), { private: true })
  if (hidden.discovery.dht !== false) hidden.discovery.dht?.address()
  const ranked = client.add('magnet:?xt=urn:btih:' + 'd'.repeat(40), { strategy: 'sequential', priority: 2 })
  ranked.setPriority(ranked.priority + 1)
  // @ts-expect-error: not a strategy
  client.add('magnet:?xt=urn:btih:' + 'e'.repeat(40), { strategy: 'random' })
  kept.on('error', (err: WasmTorrentError) => { if (err.code === 'storage_full') void err })
  // @ts-expect-error: not a store
  client.add('magnet:?xt=urn:btih:' + 'b'.repeat(40), { store: 'disk' })
  await kept.destroy({ destroyStore: true })
  await client.remove(torrent, { destroyStore: false })
  await client.destroy()
}

// WebTorrent's API as its docs have it (issue 13): ids, Promise get, events, statics.
export async function webtorrentUsage (parsed: ParsedTorrent): Promise<void> {
  const webrtc: boolean = WasmTorrent.WEBRTC_SUPPORT
  const client = new WasmTorrent({ peerId: new Uint8Array(20), maxConns: 55, downloadLimit: -1, uploadLimit: 1e6, dht: false, lsd: false, tracker: false })
  client.add(new Uint8Array(20))
  client.add(parsed, torrent => { void torrent.files })
  client.add({ infoHash: 'a'.repeat(40), announce: ['wss://t'] })
  const t = client.add(new URL('https://example.invalid/x.torrent'), { announce: ['wss://t'], urlList: ['https://w/'] })
  const found: Torrent | null = await client.get(t.infoHash ?? '')
  // @ts-expect-error: get is a Promise
  const sync: Torrent | null = client.get('x')
  t.on('infoHash', (hash: string) => { void hash }).on('download', (bytes: number) => { void bytes })
  t.once('seed', () => {}).removeAllListeners('seed').setMaxListeners(20)
  const pieces: Array<{ length: number, missing: number } | null> = t.pieces
  const counts: number[] = [t.lastPieceLength, t.pieceCount, t.downloaded, t.received, t.ratio, t.maxWebConns]
  const meta: Array<string | undefined> = [t.createdBy, t.comment, t.created?.toISOString()]
  t.select(0, 3, 1)
  t.deselect(0, 3)
  t.critical(0, 1)
  t.pause()
  t.resume()
  t.removePeer('0'.repeat(40))
  const states: Uint8Array = t.pieceStates()
  await t.rescanFiles((err: Error | null) => { void err })
  const times: Array<number | undefined> = await t.getFileModtimes()
  t.files[0].on('stream', ({ stream, req }: { stream: unknown, req: unknown }, pipeTo: (target: unknown) => void) => { void [stream, req, pipeTo] })
  client.throttleDownload(1e6)
  client.throttleUpload(-1)
  // Per-torrent limits (WebTorrent's torrentUploadLimit, throttleTorrentUpload, throttleUploadSpeed).
  const perTorrent = new WasmTorrent({ torrentDownloadLimit: 2e5, torrentUploadLimit: -1, tracker: false })
  perTorrent.throttleTorrentDownload(-1)
  perTorrent.throttleTorrentUpload(2e5)
  t.throttleDownloadSpeed(1e5)
  t.throttleUploadSpeed(-1)
  await perTorrent.destroy()
  // The blocklist (WebTorrent's option and 'blockedPeer' event).
  const blocking = new WasmTorrent({ blocklist: ['1.2.3.4', '5.6.7.0/24', { start: '9.9.9.0', end: '9.9.9.255' }], tracker: false })
  const fromFile = new WasmTorrent({ blocklist: '/etc/blocklist.p2p.gz', tracker: false })
  // Protocol encryption on TCP peers (WebTorrent's secure, and 'required').
  const encrypting = new WasmTorrent({ secure: true, tracker: false })
  const requiring = new WasmTorrent({ secure: 'required', tracker: false })
  const obfuscating = new WasmTorrent({ secure: 1, tracker: false })
  const noUtp = new WasmTorrent({ utp: false, tracker: false, userAgent: 'MyApp/1.0' })
  const utpOn: boolean = noUtp.utp
  const agent: string = noUtp.userAgent
  void agent
  const bootstrapFrom: string[] | undefined = noUtp.dht ? noUtp.dht.toJSON().nodes.map(n => `${n.host}:${n.port}`) : undefined
  void bootstrapFrom
  noUtp.maxConns = 20
  const idBytes: Uint8Array | null = noUtp.peerIdBuffer
  const webSeedsOn: boolean = noUtp.enableWebSeeds
  void idBytes
  void webSeedsOn
  t.on('blockedPeer', (addr: string) => { void addr })
  await blocking.destroy()
  await fromFile.destroy()
  await Promise.all([encrypting.destroy(), requiring.destroy(), obfuscating.destroy(), noUtp.destroy()])
  void utpOn
  client.on('torrent', (x: Torrent) => { void x }).on('seed', (x: Torrent) => { void x })
  const listeners: number = client.listeners('torrent').length + client.listenerCount('add')
  await client.remove(t, err => { void err })
  await client.destroy(err => { void err })
  void [webrtc, found, sync, pieces, counts, meta, states, listeners, times]
}
