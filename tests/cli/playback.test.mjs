// `wasmtorrent download --vlc/--mpv/--chromecast/--airplay/--dlna` end to end: a wasmtorrent
// seeder (the library, no browser) holds a torrent with a short video; the CLI downloads it
// and hands its stream URL to a fake player on PATH, Debian's real VLC, a fake Chromecast, a
// fake AirPlay receiver, or Debian's gmediarender; each fetches the stream and the bytes are
// compared. Also the errors a user meets: no player installed, no device, a wrong --device.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { promisify } from 'node:util'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, randomBytes, once, runCli } from './helpers.mjs'
import { startChromecastReceiver } from './fakes/chromecast-receiver.mjs'
import { startAirPlayReceiver } from './fakes/airplay-receiver.mjs'
import { freePort } from './helpers.mjs'

const FAKE_PLAYER = path.resolve(path.dirname(new URL(import.meta.url).pathname), 'fakes/fake-player.mjs')
const sha1 = bytes => createHash('sha1').update(bytes).digest('hex')
const OFFLINE = ['--no-dht', '--no-trackers']
// Discovery must only ever see this namespace (lo and the veth pair of scripts/loopback.sh).
const isolated = Object.keys(networkInterfaces()).every(name => ['lo', 'wt0', 'wt1'].includes(name))
const NOT_ISOLATED = !isolated && 'needs the loopback-only namespace (WT_NETNS_VETH=1 WT_NETNS_MULTICAST=1 scripts/loopback.sh)'

// A 2 s MP4 whose index (moov) is its last bytes: a player that plays it has read it all.
// WebM (VP8 + Vorbis) for gmediarender, whose GStreamer has only the good plugins.
const clips = {}
async function makeClip (dir, format) {
  if (clips[format]) return clips[format]
  const file = path.join(dir, `clip.${format}`)
  const codecs = format === 'webm'
    ? ['-c:v', 'libvpx', '-b:v', '200k', '-c:a', 'libvorbis']
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac']
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=duration=2:size=160x120:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2',
    ...codecs, '-shortest', file])
  clips[format] = await readFile(file)
  return clips[format]
}

// A wasmtorrent seeder of "Film/clip.<format>" and "Film/notes.txt" (not playable: the
// player's file is picked by its type).
async function seeder (t, format = 'mp4') {
  const dir = await tempDir(t, 'wt-cli-play-')
  const video = await makeClip(dir, format)
  const extra = randomBytes(21, 50_000)
  const client = new WasmTorrent({ tracker: false, dht: false })
  t.after(() => client.destroy())
  const torrent = client.seed([
    { path: `Film/clip.${format}`, data: new Blob([video]) },
    { path: 'Film/notes.txt', data: new Blob([extra]) }
  ], { announce: [], pieceLength: 16384 })
  await once(torrent, 'seed')
  const torrentFile = path.join(dir, 'film.torrent')
  await writeFile(torrentFile, torrent.torrentFile)
  return { dir, video, torrentFile, peer: `127.0.0.1:${client.torrentPort}` }
}

async function fakePlayers (t, dir) {
  const bin = path.join(dir, 'bin')
  await mkdir(bin, { recursive: true })
  for (const name of ['vlc', 'mpv']) {
    await writeFile(path.join(bin, name), `#!/bin/sh\nFAKE_PLAYER_NAME=${name} exec "${process.execPath}" "${FAKE_PLAYER}" "$@"\n`, { mode: 0o755 })
  }
  const log = path.join(dir, 'player.json')
  return { log, env: { PATH: `${bin}${path.delimiter}${process.env.PATH}`, FAKE_PLAYER_LOG: log } }
}

for (const player of ['vlc', 'mpv']) {
  test(`--${player}: the player gets the stream URL of the video while it downloads; the CLI exits with it`, async t => {
    const s = await seeder(t)
    const fake = await fakePlayers(t, s.dir)
    const cli = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down'), `--${player}`, '--peer', s.peer, ...OFFLINE], { env: fake.env })
    assert.equal(await cli.exitCode(), 0, cli.tail())
    const record = JSON.parse(await readFile(fake.log, 'utf8'))
    assert.equal(record.name, player)
    assert.match(record.url, /^http:\/\/127\.0\.0\.1:\d+\/webtorrent\/[0-9a-f]{40}\/Film\/clip\.mp4$/)
    assert.equal(record.status, 200)
    assert.equal(record.sha1, sha1(s.video))
    assert.ok(cli.out.some(line => line.startsWith(`Playing clip.mp4 in ${player === 'vlc' ? 'VLC' : 'mpv'}: http://`)), cli.tail())
  })
}

test('--vlc when VLC is not installed: a clear error, exit 1', async t => {
  const s = await seeder(t)
  const empty = path.join(s.dir, 'empty-bin')
  await mkdir(empty)
  const cli = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down'), '--vlc', '--peer', s.peer, ...OFFLINE], { env: { PATH: empty } })
  assert.equal(await cli.exitCode(), 1)
  assert.match(cli.err.join('\n'), /^wasmtorrent: VLC is not installed: `vlc` was not found on PATH/m)
})

const noRealVlc = !existsSync('/usr/bin/vlc') && 'needs Debian\'s vlc-bin and vlc-plugin-base (scripts/setup.sh)'
test('--vlc with Debian\'s real VLC: it plays the stream to the end and exits 0, and so does the CLI', { skip: noRealVlc }, async t => {
  const s = await seeder(t)
  const bin = path.join(s.dir, 'real-bin')
  await mkdir(bin)
  // VLC refuses to run as root: as root (CI), the real binary runs as nobody in a user
  // namespace of its own; nothing else changes.
  await writeFile(path.join(bin, 'vlc'), '#!/bin/sh\n[ "$(id -u)" = 0 ] && exec unshare --user /usr/bin/vlc "$@"\nexec /usr/bin/vlc "$@"\n', { mode: 0o755 })
  const started = Date.now()
  const cli = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down'), '--vlc', '--player-args=--intf dummy --vout dummy --aout dummy',
    '--peer', s.peer, ...OFFLINE], { env: { PATH: `${bin}${path.delimiter}${process.env.PATH}`, HOME: s.dir } })
  assert.equal(await cli.exitCode(), 0, cli.tail())
  assert.ok(cli.out.some(line => /^VLC exited$/.test(line)), cli.tail())
  assert.ok(Date.now() - started >= 1500, 'VLC played the 2 s clip')
})

test('--chromecast: the fake Chromecast is told the LAN URL of the video and fetches it whole', { skip: NOT_ISOLATED }, async t => {
  const s = await seeder(t)
  const receiver = await startChromecastReceiver({ name: 'Wohnzimmer TV' })
  t.after(() => receiver.close())
  const cli = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down'), '--chromecast', '--device', 'wohnzimmer', '--peer', s.peer, ...OFFLINE])
  await cli.waitForLine(/^Casting clip\.mp4 to Chromecast "Wohnzimmer TV": http:\/\/10\.77\.0\.\d:\d+\/webtorrent\//)
  assert.equal(receiver.loads.length, 1)
  assert.match(receiver.loads[0].url, /^http:\/\/10\.77\.0\.\d:/, 'a LAN address, not localhost')
  assert.equal(receiver.loads[0].contentType, 'video/mp4')
  const fetched = await receiver.loads[0].fetched
  assert.equal(fetched.sha1, sha1(s.video))
  await cli.waitForLine(/^Downloaded Film/)
  cli.child.kill('SIGINT')
  assert.equal(await cli.exitCode(), 0, cli.tail())
})

test('--airplay: the fake AirPlay receiver gets the URL and fetches it whole; a wrong --device lists the names', { skip: NOT_ISOLATED }, async t => {
  const s = await seeder(t)
  const receiver = await startAirPlayReceiver({ name: 'Küche' })
  t.after(() => receiver.close())
  const wrong = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down1'), '--airplay', '--device', 'bedroom', '--peer', s.peer, ...OFFLINE])
  assert.equal(await wrong.exitCode(), 1)
  assert.match(wrong.err.join('\n'), /^wasmtorrent: .*bedroom[\s\S]*Küche/m)

  // The device's name after the flag, as webtorrent-cli's --chromecast NAME.
  const cli = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down2'), '--airplay', 'küch', '--peer', s.peer, ...OFFLINE])
  await cli.waitForLine(/^Casting clip\.mp4 to AirPlay "Küche": http:\/\/10\.77\.0\.\d:\d+\//)
  const fetched = await receiver.plays[0].fetched
  assert.equal(fetched.sha1, sha1(s.video))
  cli.child.kill('SIGINT')
  assert.ok([0, 130].includes(await cli.exitCode()), cli.tail())
})

test('--chromecast with no device on the network: a clear error, exit 1', { skip: NOT_ISOLATED }, async t => {
  const s = await seeder(t)
  const cli = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down'), '--chromecast', '--peer', s.peer, ...OFFLINE])
  assert.equal(await cli.exitCode(30000), 1)
  assert.match(cli.err.join('\n'), /^wasmtorrent: No Chromecast found on the local network within 5 s/m)
})

// Debian's gmediarender (a real UPnP/DLNA renderer on libupnp and GStreamer) on the veth
// end wt1, sinks faked (no sound card, no display); ready once it says so.
async function gmediarender (t, name, dir) {
  const log = path.join(dir, 'gmediarender.log')
  // libupnp takes only ports of the dynamic range (49152-65535).
  const port = await freePort({ min: 49152 })
  const child = spawn('gmediarender', ['--friendly-name', name, '--port', String(port),
    '--interface-name', 'wt1', '--gstout-audiosink', 'fakesink', '--gstout-videosink', 'fakesink',
    '--logfile', log], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise(resolve => child.once('exit', resolve))
  t.after(() => { child.kill('SIGKILL'); return exited })
  let output = ''
  child.stdout.on('data', d => { output += d })
  child.stderr.on('data', d => { output += d })
  for (let i = 0; i < 300 && !output.includes('Ready for rendering'); i++) await new Promise(resolve => setTimeout(resolve, 100))
  assert.ok(output.includes('Ready for rendering'), `gmediarender did not start (exit ${child.exitCode}): ${output} ${existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : ''}`)
  return { log: () => existsSync(log) ? readFileSync(log, 'utf8') : '' }
}

const noRenderer = NOT_ISOLATED || (!existsSync('/usr/bin/gmediarender') && 'needs Debian\'s gmediarender (scripts/setup.sh)')
test('--dlna: Debian\'s gmediarender is found over SSDP, told the LAN URL, and plays the stream to its end', { skip: noRenderer }, async t => {
  const s = await seeder(t, 'webm')
  const name = `wasmtorrent CLI test ${process.pid}`
  const renderer = await gmediarender(t, name, s.dir)
  const cli = runCli(t, ['download', s.torrentFile, '--out', path.join(s.dir, 'down'), '--dlna', '--device', name, '--peer', s.peer, ...OFFLINE])
  const line = await cli.waitForLine(/^Casting clip\.webm to DLNA "/)
  const url = line.slice(line.indexOf('http://'))
  assert.match(url, /^http:\/\/10\.77\.0\.\d:\d+\/webtorrent\/[0-9a-f]{40}\/Film\/clip\.webm$/)
  // gmediarender logs the URI it was given, PLAYING, then STOPPED at the end of the
  // stream (2 s of media played in real time); a GStreamer error would be an ERROR line.
  const logged = async (re, what) => {
    for (let i = 0; i < 200 && !re.test(renderer.log()); i++) await new Promise(resolve => setTimeout(resolve, 100))
    assert.match(renderer.log(), re, `gmediarender never logged ${what}`)
  }
  await logged(new RegExp(`Set uri to '${url.replace(/[.?*+^$[\]\\(){}|-]/g, '\\$&')}'`), 'the URL')
  await logged(/TransportState: PLAYING/, 'PLAYING')
  await logged(/TransportState: PLAYING[\s\S]*TransportState: STOPPED/, 'STOPPED at the end')
  assert.doesNotMatch(renderer.log(), /^ERROR .*gstreamer/m)
  cli.child.kill('SIGINT')
  assert.ok([0, 130].includes(await cli.exitCode()), cli.tail())
})
