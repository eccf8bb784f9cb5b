// The CLI's local players (web/cli/players.js) on loopback: a fake player
// (fakes/fake-player.mjs) on PATH as `vlc`, `mpv` and `iina` shows the command line, and that
// the URL it was given serves the file's bytes; Debian's real VLC plays a small ffmpeg-made
// video from the test's server to the end; a fake Kodi JSON-RPC server receives Player.Open.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import path from 'node:path'
import os from 'node:os'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, mkdir, rm, writeFile, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { PLAYERS, launchPlayer, pickPlayableFile, contentTypeOf, isPlayable, findExecutable } from '../../web/cli/players.js'
import { CastError } from '../../web/cli/cast/errors.js'

const FAKE_PLAYER = fileURLToPath(new URL('./fakes/fake-player.mjs', import.meta.url))
const sha1 = bytes => createHash('sha1').update(bytes).digest('hex')

async function tempDir (t) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wt-players-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function listen (t, server, port = 0) {
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  t.after(() => { server.closeAllConnections(); server.close() })
  return server.address().port
}

// A port on 127.0.0.1 where nothing listens.
async function closedPort (t) {
  const server = http.createServer()
  const port = await listen(t, server)
  await new Promise(resolve => server.close(resolve))
  return port
}

// A file at http://127.0.0.1:<port>/webtorrent/<hash>/<name> with Range requests (as the
// CLI's stream server); `sent` lists the [start, end) ranges of the answers that finished.
async function serveFile (t, name, bytes) {
  const sent = []
  const server = http.createServer((req, res) => {
    let start = 0
    let end = bytes.length - 1
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
    if (range) {
      start = range[1] === '' ? Math.max(0, bytes.length - Number(range[2])) : Number(range[1])
      if (range[1] !== '' && range[2] !== '') end = Math.min(end, Number(range[2]))
      if (start >= bytes.length || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` })
        return res.end()
      }
    }
    res.writeHead(range ? 206 : 200, {
      'content-type': contentTypeOf(name),
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${bytes.length}` } : {})
    })
    if (req.method === 'HEAD') return res.end()
    res.on('finish', () => sent.push([start, end + 1]))
    res.end(bytes.subarray(start, end + 1))
  })
  const port = await listen(t, server)
  return { url: `http://127.0.0.1:${port}/webtorrent/0123abcd/${encodeURIComponent(name)}`, sent }
}

// Whether the ranges cover [0, length).
function covers (ranges, length) {
  let upTo = 0
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (start > upTo) break
    upTo = Math.max(upTo, end)
  }
  return upTo >= length
}

// A folder with the fake player as `vlc`, `mpv` and `iina` (sh wrappers that run it with this
// test's node, whatever PATH holds), and the env that puts the folder first on PATH.
async function fakePlayers (t) {
  const dir = await tempDir(t)
  const bin = path.join(dir, 'bin')
  await mkdir(bin)
  for (const name of ['vlc', 'mpv', 'iina', 'mplayer', 'smplayer']) {
    await writeFile(path.join(bin, name), `#!/bin/sh\nFAKE_PLAYER_NAME=${name} exec "${process.execPath}" "${FAKE_PLAYER}" "$@"\n`, { mode: 0o755 })
  }
  const log = path.join(dir, 'player.json')
  return { bin, log, env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, FAKE_PLAYER_LOG: log } }
}

test('vlc: the fake player gets --play-and-exit, the title, the URL and the user args, and fetches the whole file', async t => {
  const bytes = randomBytes(3_000_017)
  const { url, sent } = await serveFile(t, 'Film ü 1.mp4', bytes)
  const fake = await fakePlayers(t)
  const player = await launchPlayer('vlc', url, { title: 'Film ü 1', args: ['--fullscreen', '--no-video-title-show'], env: fake.env })
  assert.equal(player.name, 'vlc')
  assert.equal(player.command, path.join(fake.bin, 'vlc'))
  assert.deepEqual(await player.exited, { code: 0, signal: null, stderr: '' })
  const record = JSON.parse(await readFile(fake.log, 'utf8'))
  const argv = ['--play-and-exit', '--meta-title=Film ü 1', url, '--fullscreen', '--no-video-title-show']
  assert.deepEqual(record.argv, argv)
  assert.deepEqual(player.args, argv)
  assert.equal(record.name, 'vlc')
  assert.equal(record.status, 200)
  assert.equal(record.length, bytes.length)
  assert.equal(record.sha1, sha1(bytes))
  assert.ok(covers(sent, bytes.length))
})

test('mpv: --force-media-title, then the URL, then the user args', async t => {
  const bytes = randomBytes(65_537)
  const { url } = await serveFile(t, 'Song.flac', bytes)
  const fake = await fakePlayers(t)
  const player = await launchPlayer('mpv', url, { title: 'Song $ {x}', args: ['--loop=no'], env: fake.env })
  assert.equal((await player.exited).code, 0)
  const record = JSON.parse(await readFile(fake.log, 'utf8'))
  assert.equal(record.name, 'mpv')
  assert.deepEqual(record.argv, ['--force-media-title=Song $ {x}', url, '--loop=no'])
  assert.equal(record.sha1, sha1(bytes))
})

test('iina: --no-stdin and --keep-running (iina-cli would quit at once), the title as an mpv option', async t => {
  const { url } = await serveFile(t, 'a.m4v', randomBytes(1000))
  const fake = await fakePlayers(t)
  const player = await launchPlayer('iina', url, { title: 'A', args: ['--pip'], env: fake.env })
  assert.equal((await player.exited).code, 0)
  assert.deepEqual(JSON.parse(await readFile(fake.log, 'utf8')).argv, ['--no-stdin', '--keep-running', '--mpv-force-media-title=A', url, '--pip'])
})

test("mplayer and smplayer (webtorrent-cli's --mplayer, --smplayer): their options, the URL, the user args", async t => {
  const { url } = await serveFile(t, 'B.mp4', randomBytes(1000))
  const fake = await fakePlayers(t)
  for (const [name, want] of [['mplayer', ['-really-quiet', '-noidx', '-title', 'B', url, '-fs']], ['smplayer', ['-close-at-end', url, '-fs']]]) {
    const player = await launchPlayer(name, url, { title: 'B', args: ['-fs'], env: fake.env })
    assert.deepEqual(await player.exited.then(r => r.code), 0)
    assert.deepEqual(JSON.parse(await readFile(fake.log, 'utf8')).argv, want, name)
  }
})

test('--subtitles and --playlist: each player\'s subtitle option before the URLs, no title for a playlist; Kodi refuses both', async t => {
  const { url } = await serveFile(t, 'C.mp4', randomBytes(1000))
  const fake = await fakePlayers(t)
  const urls = [url, url + '?2']
  const want = {
    vlc: ['--play-and-exit', '--sub-file=/s/c.srt', ...urls],
    mpv: ['--sub-file=/s/c.srt', ...urls],
    iina: ['--no-stdin', '--keep-running', '--mpv-sub-file=/s/c.srt', ...urls],
    mplayer: ['-really-quiet', '-noidx', '-sub', '/s/c.srt', ...urls],
    smplayer: ['-close-at-end', '-sub', '/s/c.srt', ...urls]
  }
  for (const [name, argv] of Object.entries(want)) {
    const player = await launchPlayer(name, urls, { title: 'C', subtitles: '/s/c.srt', env: fake.env })
    assert.equal((await player.exited).code, 0)
    assert.deepEqual(JSON.parse(await readFile(fake.log, 'utf8')).argv, argv, name)
  }
  await assert.rejects(launchPlayer('xbmc', urls, { host: '127.0.0.1:9' }), err => err instanceof CastError && err.code === 'cast_failed')
})

test('no title: vlc gets only --play-and-exit and the URL', async t => {
  const { url } = await serveFile(t, 'a.webm', randomBytes(1000))
  const fake = await fakePlayers(t)
  const player = await launchPlayer('vlc', url, { env: fake.env })
  assert.equal((await player.exited).code, 0)
  assert.deepEqual(JSON.parse(await readFile(fake.log, 'utf8')).argv, ['--play-and-exit', url])
})

test('stop() kills a player that is still playing; a failing player exits non-zero with its stderr', async t => {
  const { url } = await serveFile(t, 'a.mkv', randomBytes(1000))
  const fake = await fakePlayers(t)
  const player = await launchPlayer('mpv', url, { env: { ...fake.env, FAKE_PLAYER_STAY: '1' } })
  while (!existsSync(fake.log)) await new Promise(resolve => setTimeout(resolve, 20))
  player.stop()
  assert.deepEqual(await player.exited, { code: null, signal: 'SIGTERM', stderr: '' })

  const failing = await launchPlayer('mpv', `http://127.0.0.1:${await closedPort(t)}/nothing.mp4`, { env: fake.env })
  const { code, stderr } = await failing.exited
  assert.equal(code, 1)
  assert.match(stderr, /fake player: fetch failed \(ECONNREFUSED\)/)
})

test('not_installed: a CastError when the executable is not on PATH, before anything is spawned', async t => {
  const empty = await tempDir(t)
  const env = { ...process.env, PATH: empty }
  for (const [name, label] of [['vlc', 'VLC'], ['mpv', 'mpv'], ['iina', 'IINA'], ['mplayer', 'MPlayer'], ['smplayer', 'SMPlayer']]) {
    await assert.rejects(launchPlayer(name, 'http://127.0.0.1:9/a.mp4', { env }), err => {
      assert.ok(err instanceof CastError)
      assert.equal(err.code, 'not_installed')
      assert.ok(err.message.startsWith(`${label} is not installed: \`${name}\` was not found on PATH`), err.message)
      return true
    })
  }
  // a file that is not executable, or a folder, of that name is not the player either
  await writeFile(path.join(empty, 'vlc'), '#!/bin/sh\n', { mode: 0o644 })
  await mkdir(path.join(empty, 'mpv'))
  assert.equal(findExecutable('vlc', env), null)
  assert.equal(findExecutable('mpv', env), null)
  await assert.rejects(launchPlayer('nope', 'http://127.0.0.1:9/a.mp4'), TypeError)
  await assert.rejects(launchPlayer('constructor', 'http://127.0.0.1:9/a.mp4'), TypeError)
  assert.deepEqual(PLAYERS, ['vlc', 'mpv', 'iina', 'mplayer', 'smplayer', 'xbmc'])
})

// VLC refuses to run as root (we are root in CI, and root of a user namespace otherwise): a
// `vlc` on PATH that runs the real /usr/bin/vlc, unchanged, in a new user namespace without
// mappings, where it is nobody (65534).
const VLC_AS_NOBODY = '#!/bin/sh\n[ "$(id -u)" = 0 ] && exec unshare --user /usr/bin/vlc "$@"\nexec /usr/bin/vlc "$@"\n'
const noRealVlc = !existsSync('/usr/bin/vlc') || !existsSync('/usr/bin/ffmpeg')

test('real VLC plays a 2 s video from the stream URL to the end and exits 0', { timeout: 30_000, skip: noRealVlc && 'needs Debian\'s vlc-bin, vlc-plugin-base and ffmpeg (scripts/setup.sh)' }, async t => {
  const dir = await tempDir(t)
  const media = path.join(dir, 'clip.mp4')
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=duration=2:size=160x120:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', media])
  // Without +faststart the MP4's index (moov) is its last bytes: VLC plays nothing before it
  // has read them, so 2 s of playing means it read to the end, whatever socket buffers hold.
  const bytes = await readFile(media)
  const moov = bytes.lastIndexOf('moov') - 4 // an MP4 box: 32-bit size, then type
  assert.equal(moov + bytes.readUInt32BE(moov), bytes.length, 'the index (moov) ends the file')
  const { url, sent } = await serveFile(t, 'clip ü.mp4', bytes)
  await writeFile(path.join(dir, 'vlc'), VLC_AS_NOBODY, { mode: 0o755 })
  const env = { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH}`, HOME: dir }
  const started = Date.now()
  const player = await launchPlayer('vlc', url, { title: 'clip', args: ['--intf', 'dummy', '--vout', 'dummy', '--aout', 'dummy'], env })
  t.after(() => player.stop())
  const { code, signal, stderr } = await player.exited
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr)
  assert.ok(Date.now() - started >= 1500, `VLC played the 2 s clip in ${Date.now() - started} ms`)
  assert.ok(covers(sent, bytes.length), `the server sent ${JSON.stringify(sent)} of ${bytes.length} bytes`)
})

// A Kodi web server: answers JSON-RPC at /jsonrpc, records the calls; Player.GetActivePlayers
// shows a video player for `playingFor` polls after Player.Open, then none. refuse: Player.Open
// is answered with a JSON-RPC error.
async function fakeKodi (t, { port = 0, password, refuse = false, playingFor = 2 } = {}) {
  const calls = []
  let polls = 0
  const server = http.createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const expected = password && `Basic ${Buffer.from(`kodi:${password}`).toString('base64')}`
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="Kodi"' })
      return res.end()
    }
    if (req.method !== 'POST' || req.url !== '/jsonrpc') {
      res.writeHead(404)
      return res.end()
    }
    const call = JSON.parse(body)
    calls.push({ ...call, contentType: req.headers['content-type'] })
    const answer = { jsonrpc: '2.0', id: call.id }
    if (call.method === 'Player.Open' && !refuse && typeof call.params?.item?.file === 'string') answer.result = 'OK'
    else if (call.method === 'Player.GetActivePlayers') answer.result = polls++ < playingFor ? [{ playerid: 1, playertype: 'internal', type: 'video' }] : []
    else answer.error = { code: -32602, message: 'Invalid params.' }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(answer))
  })
  return { port: await listen(t, server, port), calls }
}

test('xbmc: Player.Open with the URL over Kodi\'s JSON-RPC; exited when Kodi\'s player stops', async t => {
  const kodi = await fakeKodi(t)
  const url = 'http://192.168.1.20:8000/webtorrent/0123abcd/Film%20%C3%BC.mkv'
  const player = await launchPlayer('xbmc', url, { host: `127.0.0.1:${kodi.port}`, pollInterval: 20 })
  assert.equal(player.command, `http://127.0.0.1:${kodi.port}/jsonrpc`)
  assert.equal(player.child, null)
  assert.deepEqual(await player.exited, { code: 0, signal: null })
  const [open, ...polls] = kodi.calls
  assert.equal(open.jsonrpc, '2.0')
  assert.equal(open.method, 'Player.Open')
  assert.deepEqual(open.params, { item: { file: url } })
  assert.equal(open.contentType, 'application/json')
  assert.deepEqual(polls.map(call => call.method), Array(3).fill('Player.GetActivePlayers'))
})

test('xbmc: the web server\'s user and password; a 401 and a JSON-RPC error are cast_failed', async t => {
  const kodi = await fakeKodi(t, { password: 'sé:cret' })
  const url = 'http://192.168.1.20:8000/a.mp4'
  const player = await launchPlayer('xbmc', url, { host: `http://kodi:${encodeURIComponent('sé:cret')}@127.0.0.1:${kodi.port}` })
  player.stop()
  assert.deepEqual(await player.exited, { code: null, signal: null })
  assert.equal(player.command, `http://127.0.0.1:${kodi.port}/jsonrpc`) // no password in what is shown
  assert.deepEqual(kodi.calls[0].params, { item: { file: url } })

  await assert.rejects(launchPlayer('xbmc', url, { host: `127.0.0.1:${kodi.port}` }),
    { name: 'CastError', code: 'cast_failed', message: /user name and password: give them as --xbmc-host user:password@host:port/ })
  const refusing = await fakeKodi(t, { refuse: true })
  await assert.rejects(launchPlayer('xbmc', url, { host: `127.0.0.1:${refusing.port}` }),
    { name: 'CastError', code: 'cast_failed', message: 'Kodi refused Player.Open: Invalid params.' })
  await assert.rejects(launchPlayer('xbmc', url, { host: `127.0.0.1:${refusing.port}/elsewhere` }),
    { name: 'CastError', code: 'cast_failed', message: /answered Player.Open with HTTP 404, not JSON-RPC/ })
  await assert.rejects(launchPlayer('xbmc', url, { host: 'not a host' }), TypeError)
})

test('xbmc: no_device when nothing answers; the default address is 127.0.0.1:8080', async t => {
  const port = await closedPort(t)
  await assert.rejects(launchPlayer('xbmc', 'http://127.0.0.1:1/a.mp4', { host: `127.0.0.1:${port}` }), err => {
    assert.ok(err instanceof CastError)
    assert.equal(err.code, 'no_device')
    assert.match(err.message, new RegExp(`^Kodi did not answer at http://127\\.0\\.0\\.1:${port}/jsonrpc \\(ECONNREFUSED\\)`))
    return true
  })

  let kodi
  try {
    kodi = await fakeKodi(t, { port: 8080 })
  } catch (err) {
    if (err.code !== 'EADDRINUSE') throw err
    return t.skip('port 8080 is taken')
  }
  const player = await launchPlayer('xbmc', 'http://127.0.0.1:1/a.mp4')
  player.stop()
  assert.equal(player.command, 'http://127.0.0.1:8080/jsonrpc')
  assert.equal(kodi.calls[0].method, 'Player.Open')
})

test('pickPlayableFile: the largest playable file, or null', () => {
  const files = [
    { name: 'readme.txt', path: 'Show/readme.txt', length: 9e9 },
    { name: 'sample.mkv', path: 'Show/sample.mkv', length: 20e6 },
    { name: 'Show.S01E01.MKV', path: 'Show/Show.S01E01.MKV', length: 700e6 },
    { name: 'cover.jpg', path: 'Show/cover.jpg', length: 800e6 },
    { name: 'theme.flac', path: 'Show/theme.flac', length: 30e6 }
  ]
  assert.equal(pickPlayableFile(files), files[2])
  assert.equal(pickPlayableFile([files[0], files[3]]), null)
  assert.equal(pickPlayableFile([]), null)
  assert.equal(pickPlayableFile([{ name: 'a.mp3', length: 5 }, { name: 'b.opus', length: 5 }]).name, 'a.mp3') // first of equals
  assert.equal(pickPlayableFile([{ path: 'x/song.ogg', length: 1 }]).path, 'x/song.ogg')
  for (const ext of ['mp4', 'm4v', 'mkv', 'webm', 'mov', 'avi', 'ts', 'mp3', 'm4a', 'flac', 'ogg', 'ogv', 'opus', 'wav']) {
    assert.ok(isPlayable(`x.${ext}`), ext)
  }
  for (const name of ['x.srt', 'x.vtt', 'x.nfo', 'x', 'mp4', 'x.mp4.part', 'x.constructor', '.mp4/x']) assert.ok(!isPlayable(name), name)
})

test('contentTypeOf: MIME types by extension', () => {
  assert.equal(contentTypeOf('a.mp4'), 'video/mp4')
  assert.equal(contentTypeOf('Dir/A.MKV'), 'video/x-matroska')
  assert.equal(contentTypeOf('a.webm'), 'video/webm')
  assert.equal(contentTypeOf('a.mp3'), 'audio/mpeg')
  assert.equal(contentTypeOf('a.flac'), 'audio/flac')
  assert.equal(contentTypeOf('a.vtt'), 'text/vtt')
  assert.equal(contentTypeOf('a.constructor'), 'application/octet-stream')
  assert.equal(contentTypeOf('noext'), 'application/octet-stream')
  assert.equal(contentTypeOf(undefined), 'application/octet-stream')
})
