// Shared by the Node host's tests (tests/node, run inside a loopback-only network namespace
// by tests/node/run.sh): generated torrent content on disk, real BitTorrent clients from
// Debian as child processes, and byte-exact comparison of folders.
import { spawn } from 'node:child_process'
import { mkdtemp, mkdir, writeFile, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import net from 'node:net'
import { createInterface } from 'node:readline'
import Server from 'bittorrent-tracker/server'
import { randomBytes } from '../js/helpers.mjs'

export { randomBytes }
export const here = path.dirname(new URL(import.meta.url).pathname)

// A TCP port nothing listens on now, for a program that must be told its port. Never one of
// the kernel's ephemeral range: any outgoing connection of any test may take such a port
// before the program binds it (aria2 binds its peer port only when a torrent is added).
// Tried at random within [min, max]: the kernel would hand out the same port again and again.
export async function freePort ({ host = '127.0.0.1', min = 10000, max = 65535 } = {}) {
  const [low, high] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number)
  const ranges = [[min, Math.min(max, low - 1)], [Math.max(min, high + 1), max]].filter(([a, b]) => a <= b)
  if (ranges.length === 0) throw new Error(`no port in ${min}-${max} outside the ephemeral range ${low}-${high}`)
  const listens = port => new Promise(resolve => {
    const server = net.createServer().once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
  for (let i = 0; i < 200; i++) {
    const [a, b] = ranges[Math.floor(Math.random() * ranges.length)]
    const port = a + Math.floor(Math.random() * (b - a + 1))
    if (await listens(port)) return port
  }
  throw new Error(`no free port in ${min}-${max} on ${host}`)
}

export async function tempDir (t, prefix = 'wt-node-') {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

// A folder `name` under `dir` with files of odd sizes, one in a subfolder with a non-ASCII
// name. Returns { root: dir/name, files: [{ path (relative to dir), data }] }.
export async function makeContent (dir, name = 'Sammlung ü', seed = 1) {
  const files = [
    { path: `${name}/a.bin`, data: randomBytes(seed, 1_000_003) },
    { path: `${name}/sub/Grüße – ✓.txt`, data: randomBytes(seed + 1, 70_001) },
    { path: `${name}/sub/empty`, data: new Uint8Array(0) },
    { path: `${name}/z.dat`, data: randomBytes(seed + 2, 16_384) }
  ]
  for (const f of files) {
    await mkdir(path.dirname(path.join(dir, f.path)), { recursive: true })
    await writeFile(path.join(dir, f.path), f.data)
  }
  return { root: path.join(dir, name), files }
}

// Every file of `files` exists under `dir` with exactly its bytes.
export async function sameFiles (dir, files) {
  for (const f of files) {
    const got = await readFile(path.join(dir, f.path)).catch(() => null)
    if (!got || Buffer.compare(got, Buffer.from(f.data)) !== 0) return `${f.path} differs`
  }
  return null
}

// Resolves when `emitter` emits `event` (rejects after ms with a message saying what waited).
export function once (emitter, event, ms = 60000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms)
    emitter.once(event, (...args) => { clearTimeout(timer); resolve(args) })
  })
}

// Resolves once pred() is true, checked every 20 ms (rejects after ms, saying what waited).
export async function until (pred, what, ms = 20000) {
  for (const end = Date.now() + ms; !pred();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

// A .torrent made by hand, for fields no torrent maker here writes (BEP 47 attr, BitComet's
// pad files): files [{ path: [...], data, attr }] (a pad's data: zeros), hashed in order.
export async function handMadeTorrent (name, pieceLength, files) {
  const { default: bencode } = await import('bencode')
  const { createHash } = await import('node:crypto')
  const stream = Buffer.concat(files.map(f => f.data))
  const pieces = []
  for (let at = 0; at < stream.length; at += pieceLength) pieces.push(createHash('sha1').update(stream.subarray(at, at + pieceLength)).digest())
  const entries = files.map(f => ({ length: f.data.length, path: f.path, ...(f.attr ? { attr: f.attr } : {}) }))
  return bencode.encode({ info: { name, 'piece length': pieceLength, pieces: Buffer.concat(pieces), files: entries } })
}

// A child process that prints JSON lines: status() is the latest, waitFor(pred) resolves
// with the first line that satisfies pred.
export function jsonProcess (t, command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', d => { stderr += d })
  const waiters = []
  let last = null
  createInterface({ input: child.stdout }).on('line', line => {
    try { last = JSON.parse(line) } catch { return }
    for (const w of [...waiters]) if (w.pred(last)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(last) }
  })
  const exited = new Promise(resolve => child.once('exit', code => resolve(code)))
  t.after(() => { child.kill('SIGKILL'); return exited })
  return {
    child,
    status: () => last,
    waitFor (pred, ms = 60000, what = 'the peer') {
      return new Promise((resolve, reject) => {
        if (last && pred(last)) return resolve(last)
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}; stderr: ${stderr.slice(-2000)}`)), ms)
        waiters.push({ pred, resolve: v => { clearTimeout(timer); resolve(v) } })
        exited.then(code => { clearTimeout(timer); reject(new Error(`${command} exited (${code}): ${stderr.slice(-2000)}`)) })
      })
    }
  }
}

// Debian's python3-libtorrent loads only in /usr/bin/python3 (TOOLCHAIN.md).
// extra: more of libtorrent_peer.py's options, e.g. ['--upload-limit', '100000'].
export function libtorrentPeer (t, mode, torrentFile, dir, peers = [], extra = []) {
  return jsonProcess(t, '/usr/bin/python3', [path.join(here, 'peers/libtorrent_peer.py'), mode, torrentFile, dir, ...peers.flatMap(p => ['--peer', p]), ...extra])
}

export async function writeTorrent (dir, bytes) {
  const file = path.join(dir, 'content.torrent')
  await writeFile(file, bytes)
  return file
}

// bittorrent-tracker's HTTP and UDP servers on free ports (on every address of this
// loopback-only namespace: its UDP6 socket cannot bind 127.0.0.1), closed after the test.
export async function startTracker (t) {
  const server = new Server({ http: true, udp: true, ws: false, stats: false })
  server.on('error', () => {})
  await new Promise(resolve => server.listen(0, resolve))
  t.after(() => new Promise(resolve => server.close(resolve)))
  return {
    server,
    http: `http://127.0.0.1:${server.http.address().port}/announce`,
    udp: `udp://127.0.0.1:${server.udp4.address().port}`
  }
}

// Until the tracker's swarm for infoHash satisfies pred (default: it knows a peer);
// throws naming `who` after 30 s.
export async function trackerKnows (tracker, infoHash, pred = s => s.complete + s.incomplete > 0, who = 'the peer') {
  for (let i = 0; i < 300; i++) {
    const swarm = tracker.server.torrents[infoHash]
    if (swarm && pred(swarm)) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`the tracker never heard of ${who}`)
}
