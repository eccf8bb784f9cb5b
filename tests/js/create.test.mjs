// createTorrent and parseTorrent against npm create-torrent and parse-torrent, on
// generated files: same info-hash, same .torrent bytes when every outer field is pinned,
// and parseTorrent() equal to parse-torrent's on every field both produce.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createTorrent, parseTorrent } from 'wasmtorrent'
import { createTorrentNpm, npmInputs, parseTorrentNpm, randomBytes, commonFields, toHex } from './helpers.mjs'

const KiB = 1024
const date = new Date('2024-05-06T07:08:09.123Z')
let seed = 1
const file = (path, length) => ({ path, data: randomBytes(seed++, length) })

const cases = [
  { title: 'single file', files: [file('hello.bin', 1000)] },
  { title: 'single empty file', files: [file('empty.txt', 0)] },
  {
    title: 'nested folders (common folder becomes the name)',
    files: [file('root/a.txt', 5000), file('root/sub/b.bin', 70000), file('root/sub/deeper/c.bin', 33)]
  },
  {
    title: 'no common folder, explicit name',
    files: [file('a.txt', 100), file('dir/b.txt', 200), file('dir/sub/c.txt', 300)],
    opts: { name: 'my torrent' }
  },
  {
    title: 'zero-length files among others',
    files: [file('z/empty1', 0), file('z/data', 40000), file('z/empty2', 0), file('z/sub/empty3', 0)]
  },
  {
    title: 'unicode names',
    files: [file('Ünïcödé ✓/文件.txt', 1234), file('Ünïcödé ✓/папка/😀 emoji.bin', 20000)]
  },
  { title: 'junk files are dropped', files: [file('j/keep.txt', 10), file('j/.DS_Store', 10), file('j/._x', 5)] },
  { title: 'filterJunkFiles: false keeps them', files: [file('k/keep.txt', 10), file('k/.DS_Store', 10), file('k/._x', 5)], opts: { filterJunkFiles: false } },
  { title: 'filterJunkFiles: 0 (falsy) keeps them too', files: [file('k0/keep.txt', 10), file('k0/._x', 5)], opts: { filterJunkFiles: 0 } },
  {
    title: 'every option',
    files: [file('opts/one', 3000), file('opts/two', 5000)],
    opts: {
      name: 'options',
      announceList: [['wss://tracker.one/announce', 'wss://tracker.two'], ['udp://tracker.three:1337']],
      urlList: ['https://seed.example/path/', 'https://mirror.example/'],
      comment: 'a comment — with ✓ unicode',
      createdBy: 'wasmtorrent tests',
      private: true,
      pieceLength: 16 * KiB,
      info: { source: 'SRC' }
    }
  },
  {
    title: "info's keys (any bencodable value) and sslCert, as create-torrent puts them",
    files: [file('x/one', 3000), file('x/two', 5000)],
    opts: { info: { source: 'S', 'x-cross-seed': 'abc', nested: { list: [1, 'two', new Uint8Array([0, 255])] } }, sslCert: '-----BEGIN CERTIFICATE-----\nMIIB\n' }
  },
  { title: 'info replaces name and private, not the pieces', files: [file('y.bin', 70000)], opts: { private: false, info: { name: 'renamed', private: 1, pieces: 'nope', length: 1 } } },
  { title: 'private: false is written as 0', files: [file('pub.bin', 10)], opts: { private: false } },
  { title: 'announce as a string', files: [file('ann.bin', 10)], opts: { announce: 'wss://only.one' } },
  { title: 'announce as a list', files: [file('ann2.bin', 10)], opts: { announce: ['wss://a', 'wss://b'] } },
  { title: 'urlList as a string', files: [file('url.bin', 10)], opts: { urlList: 'https://seed/' } },
  { title: 'default piece length: 24 MiB', files: [file('big.bin', 24 * KiB * KiB + 12345)] }
]

// Sizes at and around piece boundaries, for several piece lengths.
for (const pieceLength of [16 * KiB, 32 * KiB, 256 * KiB]) {
  for (const size of [pieceLength - 1, pieceLength, pieceLength + 1, 2 * pieceLength, 3 * pieceLength]) {
    cases.push({ title: `single file of ${size} bytes, pieces of ${pieceLength}`, files: [file('f.bin', size)], opts: { pieceLength } })
  }
  cases.push({
    title: `files ending on piece boundaries, pieces of ${pieceLength}`,
    files: [file('b/one', pieceLength), file('b/two', pieceLength - 1), file('b/three', 1), file('b/four', 2 * pieceLength + 1)],
    opts: { pieceLength }
  })
}
// Any piece length (BEP 3; create-torrent takes e.g. 5): smaller than a block, and not a
// multiple of one.
for (const pieceLength of [1, 5, 20000, 16 * KiB + 1]) {
  cases.push({ title: `pieces of ${pieceLength} bytes`, files: [file('odd.bin', 3 * pieceLength + 2)], opts: { pieceLength } })
  cases.push({
    title: `several files, pieces of ${pieceLength} bytes`,
    files: [file('o/one', pieceLength + 3), file('o/two', 7), file('o/three', 2 * pieceLength)],
    opts: { pieceLength }
  })
}
// The default piece length, for a few totals.
for (const size of [1, 1023, 1024, 16 * KiB, 100 * KiB, 3 * KiB * KiB]) {
  cases.push({ title: `default piece length for ${size} bytes`, files: [file('d.bin', size)] })
}

for (const c of cases) {
  test(`create + parse: ${c.title}`, async () => {
    // Outer fields pinned, so that the whole .torrent can be compared.
    const opts = { creationDate: date, createdBy: 'wasmtorrent tests', ...c.opts }
    const ours = await createTorrent(c.files, opts)
    const theirs = await createTorrentNpm(npmInputs(c.files), opts)
    const theirsParsed = await parseTorrentNpm(theirs)
    const oursParsedByNpm = await parseTorrentNpm(ours)

    assert.equal(oursParsedByNpm.infoHash, theirsParsed.infoHash, 'info-hash')
    assert.equal(toHex(ours), toHex(theirs), 'the whole .torrent')

    // parseTorrent on both tools' output, against parse-torrent's.
    for (const [label, bytes, reference] of [['ours', ours, oursParsedByNpm], ['theirs', theirs, theirsParsed]]) {
      const parsed = await parseTorrent(bytes)
      const missing = Object.keys(reference).filter(k => reference[k] !== undefined && !(k in parsed))
      assert.deepEqual(missing, ['info'], `${label}: fields parse-torrent has and we do not`)
      const [a, b] = commonFields(parsed, reference)
      assert.deepEqual(a, b, `${label}: parseTorrent vs parse-torrent`)
    }
  })
}

test('create: defaults (no options) give create-torrent\'s info-hash and trackers', async () => {
  const files = [file('dflt/a', 100), file('dflt/b', 200)]
  const ours = await parseTorrent(await createTorrent(files))
  const theirs = await parseTorrentNpm(await createTorrentNpm(npmInputs(files)))
  assert.equal(ours.infoHash, theirs.infoHash)
  assert.equal(ours.name, 'dflt')
  assert.deepEqual(ours.announce, theirs.announce)
  assert.equal(ours.createdBy, 'wasmtorrent')
  assert.ok(Math.abs(ours.created - Date.now()) < 60_000, 'creation date defaults to now')
})

test('create: a single unnamed buffer takes opts.name', async () => {
  const data = randomBytes(seed++, 5000)
  const ours = await parseTorrent(await createTorrent(data, { name: 'named.bin' }))
  const theirs = await parseTorrentNpm(await createTorrentNpm(Buffer.from(data), { name: 'named.bin' }))
  assert.equal(ours.infoHash, theirs.infoHash)
  assert.equal(ours.name, 'named.bin')
})

test('create: File and Blob inputs (Node has both)', async () => {
  const a = randomBytes(seed++, 40000)
  const b = randomBytes(seed++, 7)
  const opts = { creationDate: date, announce: 'wss://t' }
  // create-torrent reads a path from File.name or fullPath.
  const mk = () => [new File([a], 'one.bin'), Object.assign(new Blob([b]), { fullPath: '/two.bin' })]
  const ours = await createTorrent(mk(), { ...opts, name: 'blobs' })
  const theirs = await createTorrentNpm(mk(), { ...opts, name: 'blobs' })
  assert.equal((await parseTorrent(ours)).infoHash, (await parseTorrentNpm(theirs)).infoHash)
  // {path, data: Blob} and ArrayBuffer data too.
  const mixed = await createTorrent([{ path: 'one.bin', data: new Blob([a]) }, { path: 'two.bin', data: b.slice().buffer }], { ...opts, name: 'blobs' })
  assert.equal(toHex(mixed), toHex(ours))
})

test('create: empty files are hashed as nothing (create-torrent 6.1.3 hashes an empty Buffer as a zero byte)', async () => {
  const files = [{ path: 'e/empty', data: new Uint8Array(0) }, { path: 'e/five', data: new Uint8Array([1, 2, 3, 4, 5]) }]
  const opts = { creationDate: date, announce: 'wss://t', pieceLength: 16 * KiB }
  const ours = await parseTorrent(await createTorrent(files, opts))
  assert.deepEqual(ours.pieces, [createHash('sha1').update(files[1].data).digest('hex')])
  const buggy = await parseTorrentNpm(await createTorrentNpm(files.map(f => Object.assign(Buffer.from(f.data), { name: f.path })), opts))
  assert.deepEqual(buggy.pieces, [createHash('sha1').update(new Uint8Array([1, 2, 3, 4, 5, 0])).digest('hex')])
})

test('create: does not modify its arguments', async () => {
  const files = [{ path: 'x/y', data: new Uint8Array(3) }]
  const opts = { announce: 'wss://t' }
  await createTorrent(files, opts)
  assert.deepEqual(opts, { announce: 'wss://t' })
  assert.deepEqual(Object.keys(files[0]), ['path', 'data'])
})

// Creations at once share a bounded part of the WebAssembly heap for their hashing
// buffers: 80 torrents of 5 MiB each made at once (80 buffers of 4 MiB would be 320 MiB,
// over the heap's 256 MiB bound) all succeed, each the torrent it is when made alone.
test('create: 80 torrents at once, each as when made alone (the hashing buffers share a budget)', { timeout: 120_000 }, async () => {
  const data = randomBytes(4242, 5 * 1024 * KiB)
  const made = await Promise.all(Array.from({ length: 80 }, (_, i) => createTorrent(data, { name: `t${i}.bin`, creationDate: date })))
  for (const i of [0, 41, 79]) assert.deepEqual(made[i], await createTorrent(data, { name: `t${i}.bin`, creationDate: date }))
  assert.equal(new Set(made.map(t => Buffer.from(t).toString('hex'))).size, 80)
})

// Small files are read several at once while hashing: a file that fails (shorter than it
// was, or unreadable) rejects the creation with its own error, the first in the torrent's
// order, and the reads after it in flight leave no unhandled rejection.
test('create: many small files read ahead; a file that changed or fails rejects the creation, in order', async () => {
  const unhandled = []
  const onUnhandled = err => unhandled.push(err)
  process.on('unhandledRejection', onUnhandled)
  try {
    class Shrunk extends Blob { slice (...args) { return super.slice(...args).slice(1) } }
    class Unreadable extends Blob { slice () { return { arrayBuffer: () => Promise.reject(new Error('disk gone')) } } }
    const files = Array.from({ length: 40 }, (_, i) => ({ path: `d/f${String(i).padStart(2, '0')}`, data: new Blob([randomBytes(900 + i, 100 + i)]) }))
    assert.ok((await createTorrent(files)).length > 0)
    const shrunk = files.map((f, i) => i === 5 ? { path: f.path, data: new Shrunk([randomBytes(7, 105)]) } : i === 9 ? { path: f.path, data: new Unreadable([randomBytes(8, 109)]) } : f)
    await assert.rejects(createTorrent(shrunk), /d\/f05 changed size while reading/)
    const unreadable = files.map((f, i) => i === 9 ? { path: f.path, data: new Unreadable([randomBytes(8, 109)]) } : f)
    await assert.rejects(createTorrent(unreadable), /disk gone/)
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})
