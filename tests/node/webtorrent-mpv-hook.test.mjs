// A second real WebTorrent app, unchanged, on wasmtorrent: webtorrent-mpv-hook 1.4.7 from npm (an
// mpv script that starts a WebTorrent client in Node, which serves the torrent's files over HTTP
// and tells mpv what to play, with a status overlay), in tests/apps/webtorrent-mpv-hook with its
// `webtorrent` dependency swapped for our Node package. The player is Debian's real mpv,
// headless: `mpv <magnet>` must play the video to its end from libtorrent's seed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import { tempDir, sameFiles, libtorrentPeer, writeTorrent, freePort } from './helpers.mjs'

const HOOK = fileURLToPath(new URL('../apps/webtorrent-mpv-hook/node_modules/webtorrent-mpv-hook/build/webtorrent.js', import.meta.url))

// mpv's JSON IPC: ask(command...) resolves with the answer's data.
function mpvIpc (socketPath) {
  const socket = net.createConnection(socketPath)
  const pending = new Map()
  let id = 0
  let buffer = ''
  socket.on('data', chunk => {
    buffer += chunk
    for (let i; (i = buffer.indexOf('\n')) >= 0;) {
      const message = JSON.parse(buffer.slice(0, i))
      buffer = buffer.slice(i + 1)
      pending.get(message.request_id)?.(message)
      pending.delete(message.request_id)
    }
  })
  socket.on('error', () => {})
  return {
    connected: new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)),
    ask: (...command) => new Promise(resolve => {
      pending.set(++id, message => resolve(message.data))
      socket.write(JSON.stringify({ command, request_id: id }) + '\n')
    }),
    close: () => socket.destroy()
  }
}

// portTaken: something already listens on the port the hook is told; it then makes a new server
// on a port of the system's choice (its EADDRINUSE path: the server's destroy(), the client's
// _server cleared, createServer() again).
for (const portTaken of [false, true]) {
  test(`mpv <magnet> with webtorrent-mpv-hook${portTaken ? ', its HTTP port taken' : ''}: the video plays to its end from the app's server, the file byte-exact on disk`, async t => {
    assert.ok(existsSync(HOOK), `${HOOK} is missing: scripts/setup.sh installs it`)
    const dir = await tempDir(t)
    // A 2 s H.264/AAC MP4 whose index is at its end: playing it to the end reads all of it.
    const clip = path.join(dir, 'seed', 'Clip', 'clip.mp4')
    await mkdir(path.dirname(clip), { recursive: true })
    await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc=duration=2:size=160x120:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip])
    const video = await readFile(clip)
    const torrentFile = await WasmTorrent.createTorrent(path.dirname(clip), { announceList: [], pieceLength: 16384 })
    const { infoHash } = await WasmTorrent.parseTorrent(torrentFile)
    const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'))
    const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')

    const socketPath = path.join(dir, 'mpv.sock')
    const out = path.join(dir, 'out')
    const httpPort = await freePort()
    if (portTaken) {
      const squatter = net.createServer()
      await new Promise(resolve => squatter.listen(httpPort, resolve))
      t.after(() => squatter.close())
    }
    const mpv = spawn('mpv', ['--no-config', '--vo=null', '--ao=null', '--msg-level=all=info,statusline=no',
      `--input-ipc-server=${socketPath}`, `--script=${HOOK}`,
      `--script-opts=webtorrent-port=${httpPort},webtorrent-path=${out},webtorrent-dht=no,webtorrent-lsd=no`,
      `magnet:?xt=urn:btih:${infoHash}&x.pe=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    mpv.stdout.on('data', d => { log += d })
    mpv.stderr.on('data', d => { log += d })
    const exited = new Promise(resolve => mpv.once('exit', code => resolve(code)))
    t.after(() => { mpv.kill('SIGKILL'); return exited })

    for (const end = Date.now() + 10000; !existsSync(socketPath);) {
      assert.ok(Date.now() < end, `mpv opened no IPC socket\n${log}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const ipc = mpvIpc(socketPath)
    t.after(() => ipc.close())
    await ipc.connected
    // The hook keeps mpv open at the end of the file (keep-open): eof-reached says it got there.
    let playing = null
    for (const end = Date.now() + 60000; !(await ipc.ask('get_property', 'eof-reached'));) {
      assert.ok(Date.now() < end, `the video did not play to its end\n${log}`)
      playing = (await ipc.ask('get_property', 'path')) ?? playing
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    playing = (await ipc.ask('get_property', 'path')) ?? playing
    const served = new RegExp(`^http://localhost:(\\d+)/webtorrent/${infoHash}/Clip/clip\\.mp4$`).exec(playing)
    assert.ok(served, playing)
    if (portTaken) assert.notEqual(Number(served[1]), httpPort)
    else assert.equal(Number(served[1]), httpPort)
    assert.ok(await ipc.ask('get_property', 'duration') > 1.9)
    ipc.ask('quit')
    assert.equal(await exited, 0, log)
    // The hook's Node side (our package) neither failed nor printed an error while it ran.
    // What the hook's Node side told mpv, in order.
    assert.match(log, new RegExp(`Running WebTorrent hook[^]*Info hash: ${infoHash}[^]*Metadata downloaded[^]*Ready for playback`))
    assert.doesNotMatch(log, /WebTorrent exited with error|Failed to start WebTorrent|Error/, log)
    assert.equal(await sameFiles(out, [{ path: 'Clip/clip.mp4', data: video }]), null)
  })
}
