// Malformed .torrent files and magnet URIs: thrown Errors with the engine's code, the byte
// position and a message that names both.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { init, parseTorrent, toMagnetURI, createTorrent, WasmTorrentError } from 'wasmtorrent'

const enc = s => new TextEncoder().encode(s)
const pieces = '6:pieces20:' + 'x'.repeat(20)
const goodInfo = `d6:lengthi5e4:name1:a12:piece lengthi16384e${pieces}e`

async function rejectsWith (input, code, position) {
  await assert.rejects(parseTorrent(input), err => {
    assert.ok(err instanceof Error, 'an Error')
    assert.ok(err instanceof WasmTorrentError, 'a WasmTorrentError')
    assert.equal(err.code, code, `code (${err.message})`)
    if (position !== undefined) {
      assert.equal(err.position, position, `position (${err.message})`)
      assert.match(err.message, new RegExp(`at byte ${position}\\b`))
    }
    return true
  })
}

// First in this file: nothing has loaded the module yet.
test('toMagnetURI (synchronous) before the module is loaded', async () => {
  assert.throws(() => toMagnetURI({ infoHash: 'a'.repeat(40) }), err => err.code === 'not_initialized')
  await init()
  assert.equal(toMagnetURI({ infoHash: 'a'.repeat(40) }), `magnet:?xt=urn:btih:${'a'.repeat(40)}`)
})

test('a good minimal torrent parses (the base of the bad ones below)', async () => {
  const t = await parseTorrent(enc(`d4:info${goodInfo}e`))
  assert.equal(t.name, 'a')
  assert.equal(t.length, 5)
})

test('bencode errors carry the byte position', async () => {
  await rejectsWith(enc('d4:info'), 'bencode_truncated', 7)
  await rejectsWith(enc(`d4:info${goodInfo}`), 'bencode_truncated', 7 + goodInfo.length)
  // leading zero: reported at the integer's 'i'
  const lz = `d4:infod6:lengthi05e4:name1:a12:piece lengthi16384e${pieces}ee`
  await rejectsWith(enc(lz), 'bencode_leading_zero', lz.indexOf('i05e'))
  const nz = `d4:infod6:lengthi-0e4:name1:a12:piece lengthi16384e${pieces}ee`
  await rejectsWith(enc(nz), 'bencode_negative_zero', nz.indexOf('i-0e'))
  const unsorted = `d4:infod4:name1:a6:lengthi5e12:piece lengthi16384e${pieces}ee`
  await rejectsWith(enc(unsorted), 'bencode_unsorted_keys', unsorted.indexOf('6:length'))
  await rejectsWith(enc(`d4:info${goodInfo}eXYZ`), 'bencode_trailing_data', 8 + goodInfo.length)
  await rejectsWith(enc('d4:infoi1e1:xq'), 'bencode_unexpected_byte', 13)
})

test('metainfo errors name the field', async () => {
  await rejectsWith(enc('li1ee'), 'metainfo_not_a_dict', 0)
  await rejectsWith(enc('d3:fooi1ee'), 'metainfo_missing_field')
  await rejectsWith(enc('d4:infoi1ee'), 'metainfo_wrong_type', 7)
  const noPieces = 'd4:infod6:lengthi5e4:name1:a12:piece lengthi16384eee'
  await assert.rejects(parseTorrent(enc(noPieces)), err => err.code === 'metainfo_missing_field' && /pieces/.test(err.context + err.message))
  const badPath = `d4:infod5:filesld6:lengthi1e4:pathl2:..eee4:name1:a12:piece lengthi16384e${pieces}ee`
  await assert.rejects(parseTorrent(enc(badPath)), err => err.code === 'metainfo_bad_path' && err.position === badPath.indexOf('2:..'))
})

test('magnet errors carry the byte position', async () => {
  await rejectsWith('magnet:?xt=urn:btih:1234', 'magnet_bad_info_hash', 8)
  await rejectsWith(`magnet:?dn=a&xt=urn:btih:${'z'.repeat(40)}`, 'magnet_bad_info_hash', 13)
  await rejectsWith(`magnet:?dn=%zz&xt=urn:btih:${'a'.repeat(40)}`, 'magnet_bad_escape', 11)
  await rejectsWith('magnet:?dn=nothing', 'magnet_no_info_hash')
  const badSo = `magnet:?xt=urn:btih:${'a'.repeat(40)}&so=1-x`
  await rejectsWith(badSo, 'magnet_bad_parameter', badSo.lastIndexOf('x')) // the offending byte
})

test('identifiers that are neither bytes, a magnet nor an info-hash', async () => {
  for (const bad of ['not a torrent', 'abc', 42, null, {}]) {
    await assert.rejects(parseTorrent(bad), err => err.code === 'invalid_argument')
  }
})

test('toMagnetURI and createTorrent reject bad input', async () => {
  assert.throws(() => toMagnetURI({ infoHash: 'xyz' }), err => err.code === 'magnet_bad_info_hash')
  await assert.rejects(createTorrent([]), err => err.code === 'invalid_argument')
  await assert.rejects(createTorrent([{ path: 'a', data: 'text' }]), err => err.code === 'invalid_argument')
  await assert.rejects(createTorrent([{ path: 'a/../b', data: new Uint8Array(1) }, { path: 'c', data: new Uint8Array(1) }]),
    err => err.code === 'metainfo_bad_path')
  await assert.rejects(createTorrent({ path: 'a', data: new Uint8Array(1) }, { info: 'source' }),
    err => err.code === 'invalid_argument' && err.context === 'info')
})

test('the module keeps working after errors', async () => {
  for (let i = 0; i < 50; i++) await assert.rejects(parseTorrent(enc('d4:info')))
  const t = await parseTorrent(enc(`d4:info${goodInfo}e`))
  assert.equal(t.name, 'a')
})
