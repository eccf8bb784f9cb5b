// The wire's bittorrent-protocol side over a stand-in engine: which messages it asks the
// engine for, and peerPieces kept right whichever events the app listens to.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Wire } from '../../web/api/wire.js'

const HAVE = 2 ** 5
const BITFIELD = 2 ** 6
const DOWNLOAD = 2 ** 8
const PIECE_DATA = 2 ** 18

function standIn (details) {
  const masks = []
  const client = {
    _engine: { peerDetails: () => details },
    _input: fn => fn({ reportPeerMessages: (connection, mask) => masks.push(mask) }),
    dht: null
  }
  const wire = new Wire({ _client: client, pieceCount: 10 }, { connection: 7, peerId: 'ab'.repeat(20), address: 'a', outgoing: true })
  return { wire, masks }
}

test("the engine is asked for a kind of message only while the wire has a listener for it", () => {
  const { wire, masks } = standIn(null)
  const onDownload = () => {}
  wire.on('download', onDownload)
  const first = wire._reportsReady() // what wireReady carries
  assert.ok(first & DOWNLOAD)
  assert.equal(first & PIECE_DATA, 0, 'no block bytes without a piece listener')
  wire.on('piece', () => {})
  assert.ok(masks.at(-1) & PIECE_DATA)
  wire.removeAllListeners('piece')
  wire.off('download', onDownload)
  assert.equal(masks.at(-1) & (DOWNLOAD | PIECE_DATA), 0)
  assert.equal(wire.peerIdBuffer.length, 20)
})

test("peerPieces: read from the engine when first asked, then kept up to date; a bitfield listener alone does not freeze it", () => {
  const details = { haveAll: false, pieces: Uint8Array.of(0xc0, 0), dht: false, fast: true, extended: true, requests: [[1, 0, 16384]], peerRequests: [] }
  const { wire, masks } = standIn(details)
  wire._reportsReady()
  const seen = []
  wire.on('bitfield', bits => seen.push(bits.get(0)))
  wire._onPeerMessage({ kind: 6, data: Uint8Array.of(0x80, 0) })
  assert.deepEqual(seen, [true])
  // The engine has heard more since (piece 1): peerPieces is its answer, not the old message.
  assert.equal(wire.peerPieces.get(1), true)
  assert.ok(masks.at(-1) & HAVE && masks.at(-1) & BITFIELD, 'tracking asks for haves')
  wire._onPeerMessage({ kind: 5, index: 9 })
  assert.equal(wire.peerPieces.get(9), true)
  assert.equal(wire.peerPieces.get(8), false)
  // An older bitfield replayed after the snapshot adds, never removes.
  wire._onPeerMessage({ kind: 6, data: Uint8Array.of(0x20, 0) })
  assert.deepEqual([0, 1, 2, 9].map(i => wire.peerPieces.get(i)), [true, true, true, true])
  wire._onPeerMessage({ kind: 12 }) // have-all
  assert.equal(wire.peerPieces.get(5), true)
  assert.deepEqual(wire.requests, [{ piece: 1, offset: 0, length: 16384 }])
  assert.deepEqual(wire.peerExtensions, { dht: false, fast: true, extended: true })
  assert.equal(wire.hasFast, true)
})
