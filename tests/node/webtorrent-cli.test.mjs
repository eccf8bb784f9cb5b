// A real WebTorrent app, unchanged, on wasmtorrent: webtorrent-cli 6.0.1 from npm, installed in
// tests/apps/webtorrent-cli with its `webtorrent` dependency swapped for our Node package
// (that folder's package.json overrides it; nothing of the app is copied or edited). Its
// commands run as a user would run them, against libtorrent and WebTorrent 2.8.5 on loopback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile, mkdir, chmod } from 'node:fs/promises'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, makeContent, sameFiles, libtorrentPeer, writeTorrent, startTracker, trackerKnows, freePort } from './helpers.mjs'

const APP = fileURLToPath(new URL('../apps/webtorrent-cli/node_modules/webtorrent-cli/bin/cmd.js', import.meta.url))
const FAKE_PLAYER = fileURLToPath(new URL('../cli/fakes/fake-player.mjs', import.meta.url))

// Runs `webtorrent ...args` (the app's own bin); resolves with { code, out, err } when it
// exits, failing with its output after ms.
function webtorrent (t, args, { env = {}, cwd, ms = 90000, onLine } = {}) {
  assert.ok(existsSync(APP), `${APP} is missing: scripts/setup.sh installs it`)
  const child = spawn(process.execPath, [APP, ...args], {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  const out = []
  const err = []
  const raw = []
  child.stdout.on('data', chunk => raw.push(chunk))
  createInterface({ input: child.stdout }).on('line', line => { out.push(line); onLine?.(line, child) })
  createInterface({ input: child.stderr }).on('line', line => err.push(line))
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve(code ?? signal)))
  t.after(() => { child.kill('SIGKILL'); return exited })
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`webtorrent ${args.join(' ')} did not exit within ${ms} ms\nstdout:\n${out.slice(-20).join('\n')}\nstderr:\n${err.slice(-20).join('\n')}`)), ms)
  })
  const done = Promise.race([exited, timeout]).then(code => ({ code, out, err, text: out.join('\n') }))
    .finally(() => clearTimeout(timer))
  return { child, done, stdout: () => Buffer.concat(raw) }
}

const sha1 = data => createHash('sha1').update(data).digest('hex')

// Until `ready()` (sync or async) is true, every 100 ms; fails with `what()` after ms.
async function until (ready, what, ms = 60000) {
  for (const end = Date.now() + ms; !(await ready());) {
    assert.ok(Date.now() < end, `${what()} (waited ${ms / 1000} s)`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
// Without the terminal's colours, which chalk adds when it thinks it may.
const plain = text => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') // eslint-disable-line no-control-regex

// libtorrent seeding generated content (dir/content.torrent); with `tracker`, announced there
// (the torrent names it) before this returns.
async function libtorrentSeed (t, dir, name, seed, tracker = null, extra = []) {
  const content = await makeContent(path.join(dir, 'seed'), name, seed)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: tracker ? [[tracker.http]] : [], pieceLength: 32768 })
  const parsed = await WasmTorrent.parseTorrent(torrentFile)
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'), [], extra)
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')
  if (tracker) await trackerKnows(tracker, parsed.infoHash, undefined, 'libtorrent')
  return { content, torrentFile, parsed, port, magnet: `magnet:?xt=urn:btih:${parsed.infoHash}&x.pe=127.0.0.1:${port}` }
}

test('webtorrent version names the engine', async t => {
  const { code, text } = await webtorrent(t, ['version']).done
  assert.equal(code, 0)
  assert.match(text, /^6\.0\.1 \(\d+\.\d+\.\d+\)$/)
})

test('webtorrent download <magnet>: the metadata and the files from libtorrent, byte-exact', async t => {
  const dir = await tempDir(t)
  const seed = await libtorrentSeed(t, dir, 'Sammlung ü', 1)
  const out = path.join(dir, 'out')
  await mkdir(out)
  const { code, text, err } = await webtorrent(t, ['download', seed.magnet, '--out', out, '--port', String(await freePort())]).done
  assert.equal(code, 0, `exit ${code}\n${text}\n${err.join('\n')}`)
  assert.match(plain(text), /torrent downloaded successfully from 1\/1 peers/)
  assert.equal(await sameFiles(out, seed.content.files), null)
})

test('webtorrent download <file.torrent> --out <where the content is>: verified from disk, done with no peer', async t => {
  const dir = await tempDir(t)
  const content = await makeContent(path.join(dir, 'have'), 'Schon da', 9)
  const torrentPath = await writeTorrent(dir, await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 16384 }))
  const { code, text } = await webtorrent(t, ['download', torrentPath, '--out', path.join(dir, 'have'), '--port', String(await freePort())]).done
  assert.equal(code, 0, text)
  assert.match(plain(text), /verifying existing torrent data/)
  assert.match(plain(text), /torrent downloaded successfully from 0\/0 peers/)
  assert.equal(await sameFiles(path.join(dir, 'have'), content.files), null)
})

test('webtorrent download <file.torrent> --select: lists the files and exits; --select 1 --verbose: that file first, the status screen, then the rest and the app ends', async t => {
  const dir = await tempDir(t)
  const tracker = await startTracker(t)
  // A slow seeder, so that the status screen is drawn while the files come.
  const seed = await libtorrentSeed(t, dir, 'Liste', 2, tracker, ['--upload-limit', '400000'])
  const torrentPath = path.join(dir, 'content.torrent')

  const listed = await webtorrent(t, ['download', torrentPath, '--select', '--out', path.join(dir, 'list'), '--port', String(await freePort())]).done
  assert.equal(listed.code, 0, listed.text)
  const text = plain(listed.text)
  assert.match(text, /Select a file to download:/)
  seed.parsed.files.forEach((f, i) => assert.match(text, new RegExp(`^${i} +${f.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`, 'm'), `file ${i} listed`))

  // --select 1: the app sets torrent.so; as with WebTorrent (whose startup check selects
  // every piece it lacks) the whole torrent comes, file 1 first here, and 'done' ends the
  // app; the status screen redraws each second with the wire's row meanwhile.
  const out = path.join(dir, 'one')
  let frames = ''
  const run = webtorrent(t, ['download', torrentPath, '--select', '1', '--verbose', '--out', out, '--port', String(await freePort())], {
    onLine: line => { frames += plain(line) + '\n' }
  })
  const wanted = seed.content.files[1]
  await until(async () => /(TCP|UTP)OUT/.test(frames) && await sameFiles(out, [wanted]) === null,
    () => `file 1 not downloaded, or no wire shown\n${frames.slice(-2000)}`)
  assert.notEqual(await sameFiles(out, [seed.content.files[0]]), null, 'file 1 first: the big one is not all there yet')
  const { code } = await run.done
  assert.equal(code, 0)
  assert.equal(await sameFiles(out, seed.content.files), null)
  assert.match(frames, /Downloading: Liste/)
  assert.match(frames, new RegExp(`Info hash: ${seed.parsed.infoHash}`))
  assert.match(frames, /Peers: [01]\/1/)
  assert.match(frames, /^S +(TCP|UTP)OUT +127\.0\.0\.1:\d+ /m)
  assert.match(frames, /Queued peers: \d+ /)
  // No value an app prints is undefined, NaN or a vanishing rate such as 6.5e-13 B/s.
  assert.doesNotMatch(frames, /undefined|NaN|\de-\d/)
  assert.match(frames, /torrent downloaded successfully from 1\/1 peers/)
})

test('webtorrent download <magnet> --mpv: the player plays the largest file from the app\'s HTTP server, then the app quits', async t => {
  const dir = await tempDir(t)
  const seed = await libtorrentSeed(t, dir, 'Film', 3)
  const bin = path.join(dir, 'bin')
  await mkdir(bin)
  await writeFile(path.join(bin, 'mpv'), `#!/bin/sh\nexec "${process.execPath}" "${FAKE_PLAYER}" "$@"\n`)
  await chmod(path.join(bin, 'mpv'), 0o755)
  const log = path.join(dir, 'player.json')
  const { code, text } = await webtorrent(t, ['download', seed.magnet, '--mpv', '--port', String(await freePort())], {
    cwd: dir,
    env: { PATH: `${bin}:${process.env.PATH}`, FAKE_PLAYER_LOG: log, FAKE_PLAYER_NAME: 'mpv' }
  }).done
  assert.equal(code, 0, text)
  const played = JSON.parse(await readFile(log, 'utf8'))
  const largest = seed.content.files[0]
  assert.match(played.url, new RegExp(`^http://localhost:\\d+/webtorrent/${seed.parsed.infoHash}/Film/a\\.bin$`))
  assert.equal(played.status, 200)
  assert.equal(played.length, largest.data.length)
  assert.equal(played.sha1, sha1(largest.data))
})

test('webtorrent download --torrent-port --dht-port --on-done --keep-seeding: the script runs at done, and the app seeds on its port to libtorrent', async t => {
  const dir = await tempDir(t)
  const seed = await libtorrentSeed(t, dir, 'Weiter', 7)
  const out = path.join(dir, 'out')
  await mkdir(out)
  const torrentPort = await freePort()
  const dhtPort = await freePort()
  const flag = path.join(dir, 'done-flag')
  let frames = ''
  const run = webtorrent(t, ['download', seed.magnet, '--out', out, '--torrent-port', String(torrentPort), '--dht-port', String(dhtPort),
    '--on-done', `touch ${flag}`, '--keep-seeding', '--port', String(await freePort())], { onLine: line => { frames += plain(line) + '\n' } })
  await until(() => existsSync(flag), () => `--on-done never ran\n${frames.slice(-1500)}`)
  assert.equal(await sameFiles(out, seed.content.files), null)
  // Still running, seeding on the port it was given.
  const lt = libtorrentPeer(t, 'download', path.join(dir, 'content.torrent'), path.join(dir, 'again'), [`127.0.0.1:${torrentPort}`], ['--transport', 'tcp'])
  await lt.waitFor(s => s.done, 60000, 'libtorrent to download from the app')
  assert.equal(await sameFiles(path.join(dir, 'again'), seed.content.files), null)
  assert.match(frames, new RegExp(`Torrent port: ${torrentPort} DHT port: ${dhtPort}`))
  assert.match(frames, /Seeding: Weiter/)
  run.child.kill('SIGINT')
  assert.equal((await run.done).code, 0)
})

test('webtorrent download --blocklist: the list is loaded and the seeder the tracker names is refused', async t => {
  const dir = await tempDir(t)
  const tracker = await startTracker(t)
  const seed = await libtorrentSeed(t, dir, 'Gesperrt', 8, tracker)
  const list = path.join(dir, 'blocklist.txt')
  await writeFile(list, 'loopback:127.0.0.0-127.255.255.255\n')
  let frames = ''
  // A .torrent, so that the app draws its status screen (it does once the torrent is ready).
  const run = webtorrent(t, ['download', path.join(dir, 'content.torrent'), '--blocklist', list, '--out', path.join(dir, 'out'), '--port', String(await freePort())], {
    onLine: line => { frames += plain(line) + '\n' }
  })
  // The app has announced and been told of libtorrent (the tracker counts both)...
  await trackerKnows(tracker, seed.parsed.infoHash, s => s.complete + s.incomplete >= 2, 'the app')
  // ...and three status screens later it is connected to no one and has nothing.
  const drawn = () => (frames.match(/Downloading: Gesperrt/g) ?? []).length
  const before = drawn()
  await until(() => drawn() >= before + 3, () => `not three status screens\n${frames.slice(-1500)}`, 30000)
  run.child.kill('SIGINT')
  assert.equal((await run.done).code, 0)
  assert.match(frames, /Downloaded: 0 B\/1\.1 MB/)
  assert.doesNotMatch(frames, /Downloaded: [1-9]|Peers: \d+\/[1-9]/)
})

test('webtorrent download <magnet> --stdout: the largest file\'s bytes on standard output, streamed from the torrent', async t => {
  const dir = await tempDir(t)
  const seed = await libtorrentSeed(t, dir, 'Rohr', 6)
  const largest = seed.content.files[0]
  const run = webtorrent(t, ['download', seed.magnet, '--stdout', '--port', String(await freePort())], { cwd: dir })
  // The app keeps running (with --stdout it neither writes files nor quits at 'done').
  await until(() => run.stdout().length >= largest.data.length, () => `${run.stdout().length} of ${largest.data.length} bytes on stdout`)
  run.child.kill('SIGTERM')
  assert.equal((await run.done).code, 0)
  assert.equal(sha1(run.stdout()), sha1(largest.data))
})

test('webtorrent downloadmeta <magnet>: the .torrent from the peer, into a MemoryChunkStore the app passes', async t => {
  const dir = await tempDir(t)
  const seed = await libtorrentSeed(t, dir, 'Nur Metadaten', 4)
  const out = path.join(dir, 'meta')
  await mkdir(out)
  const { code, text } = await webtorrent(t, ['downloadmeta', seed.magnet, '--out', out]).done
  assert.equal(code, 0, text)
  const saved = await WasmTorrent.parseTorrent(await readFile(path.join(out, `${seed.parsed.infoHash}.torrent`)))
  assert.equal(saved.infoHash, seed.parsed.infoHash)
  assert.deepEqual(saved.files.map(f => [f.path, f.length]), seed.parsed.files.map(f => [f.path, f.length]))
})

test('webtorrent seed <folder> --announce --quiet: prints the magnet, and WebTorrent 2.8.5 downloads from it', async t => {
  const dir = await tempDir(t)
  const tracker = await startTracker(t)
  const content = await makeContent(path.join(dir, 'seed'), 'Geteilt', 5)
  let magnet = null
  const seeding = webtorrent(t, ['seed', content.root, '--announce', tracker.http, '--quiet', '--port', String(await freePort())], {
    onLine: line => { if (line.startsWith('magnet:')) magnet = line }
  })
  await until(() => magnet, () => 'no magnet printed', 30000)
  assert.match(magnet, /xt=urn:btih:[0-9a-f]{40}/)
  assert.ok(magnet.includes(`tr=${encodeURIComponent(tracker.http)}`), magnet)

  const { default: WebTorrent } = await import('webtorrent')
  const wt = new WebTorrent({ dht: false, lsd: false, natUpnp: false, natPmp: false, webSeeds: false })
  t.after(() => new Promise(resolve => wt.destroy(resolve)))
  const down = path.join(dir, 'down')
  const torrent = wt.add(magnet, { path: down })
  await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
  assert.equal(await sameFiles(down, content.files), null)
  seeding.child.kill('SIGTERM')
  assert.equal((await seeding.done).code, 0)
})
