// Wires and a BEP 10 extension, as WebTorrent's docs show (class form).
import WebTorrent from 'webtorrent'
import type { Wire, Extension, ExtensionConstructor } from 'bittorrent-protocol'

class ExampleExtension implements Extension {
  name = 'example'
  wire: Wire
  constructor (wire: Wire) {
    this.wire = wire
    wire.extendedHandshake.example = 'hi'
  }
  onHandshake (infoHash: string, peerId: string, extensions: { [name: string]: boolean }): void {
    console.log(infoHash, peerId, extensions.extended)
  }
  onExtendedHandshake (handshake: { [key: string]: any }): void { console.log(handshake.m) }
  onMessage (buf: Buffer): void { console.log(buf.toString()) }
}
export const ctor: ExtensionConstructor = ExampleExtension

// The function-and-prototype form (WebTorrent's docs, in TS).
function ProtoExt (this: any, wire: Wire): void { this._wire = wire }
ProtoExt.prototype.name = 'proto_ext'
ProtoExt.prototype.onMessage = function (buf: Buffer) { console.log(buf.length) }

export function onWire (torrent: WebTorrent.Torrent): void {
  torrent.on('wire', (wire: Wire, addr?: string) => {
    wire.use(ExampleExtension)
    wire.use(ProtoExt as unknown as ExtensionConstructor)
    console.log(addr, wire.peerId, wire.type, wire.amChoking, wire.amInterested, wire.peerChoking, wire.peerInterested,
      wire.downloaded, wire.uploaded, wire.remoteAddress, wire.downloadSpeed(), wire.uploadSpeed())
    wire.setKeepAlive(true)
    wire.setTimeout(30_000, true)
    wire.on('download', (bytes: number) => console.log(bytes))
    wire.on('close', () => console.log('closed'))
    wire.extended('example', Buffer.from('x'))
    wire.example?.send?.('x')
  })
  torrent.on('wire', (wire) => {
    wire.use(ExampleExtension)
    if (wire.peerPieces.get(0)) wire.destroy()
  })
}
