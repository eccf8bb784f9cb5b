// The command-line client's commands, run as a user would (a child process, plain output):
// info and create against npm's parse-torrent and create-torrent, download from libtorrent
// and from the CLI's own seed, seed to libtorrent, --select, so= counting pad files, Ctrl-C with and without
// --remove-partial, a magnet with no peers, serve, and clear usage errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import net from 'node:net'
import http from 'node:http'
import { spawn } from 'node:child_process'
import parseTorrentOracle from 'parse-torrent'
import createTorrentOracle from 'create-torrent'
import WasmTorrent from '../../dist/wasmtorrent.node.js'
import {
  tempDir, makeContent, sameFiles, libtorrentPeer, writeTorrent, handMadeTorrent, runCli, freePort, parseProgress, CLI
} from './helpers.mjs'

const OFFLINE = ['--no-dht', '--no-trackers']

async function libtorrentSeed (t, dir, { uploadLimit, name = 'Sammlung ü', seed = 1 } = {}) {
  const content = await makeContent(path.join(dir, 'seed'), name, seed)
  const torrentFile = await WasmTorrent.createTorrent(content.root, { announceList: [], pieceLength: 32768 })
  const file = await writeTorrent(dir, torrentFile)
  const extra = uploadLimit ? ['--upload-limit', String(uploadLimit)] : []
  const peer = libtorrentPeer(t, 'seed', file, path.join(dir, 'seed'), [], extra)
  const { port } = await peer.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')
  return { content, torrentFile, file, port }
}

test('--help for every command, and usage errors exit 2 with a pointer to --help', async t => {
  const top = runCli(t, ['--help'])
  assert.equal(await top.exitCode(), 0)
  assert.match(top.out.join('\n'), /Commands:[\s\S]*download[\s\S]*seed[\s\S]*create[\s\S]*info[\s\S]*serve/)
  for (const command of ['download', 'seed', 'create', 'info', 'serve']) {
    const help = runCli(t, [command, '--help'])
    assert.equal(await help.exitCode(), 0)
    assert.match(help.out[0], new RegExp(`^Usage: wasmtorrent ${command} `))
  }
  const dl = runCli(t, ['download', '--help'])
  await dl.exitCode()
  for (const flag of ['--out', '--select', '--keep-seeding', '--vlc', '--mpv', '--iina', '--xbmc', '--chromecast', '--airplay', '--dlna', '--device', '--download-limit', '--upload-limit', '--no-dht', '--torrent-port']) {
    assert.ok(dl.out.some(line => line.includes(flag)), `download --help lists ${flag}`)
  }
  const bad = runCli(t, ['download', '--frobnicate', 'x'])
  assert.equal(await bad.exitCode(), 2)
  assert.match(bad.err.join('\n'), /frobnicate[\s\S]*wasmtorrent download --help/)
  const rate = runCli(t, ['download', 'ab'.repeat(20), '--download-limit', 'fast'])
  assert.equal(await rate.exitCode(), 2)
  assert.match(rate.err[0], /--download-limit fast: expected KiB\/s \(500\), or a rate with its unit/)
  const missing = runCli(t, ['info', '/nonexistent/x.torrent'])
  assert.equal(await missing.exitCode(), 2)
  assert.match(missing.err[0], /no such file, and not a magnet link/)
  const malformed = await tempDir(t, 'wt-cli-')
  await writeFile(path.join(malformed, 'bad.torrent'), 'd4:infod4:name1:xee')
  const broken = runCli(t, ['info', path.join(malformed, 'bad.torrent')])
  assert.equal(await broken.exitCode(), 1)
  assert.match(broken.err[0], /^wasmtorrent: Invalid torrent|^wasmtorrent: .*(piece|length)/i)
})

test('create --piece-length takes any length, as create-torrent (5 bytes)', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const file = path.join(dir, 'hello.txt')
  await writeFile(file, 'HELLO WORLD\n')
  const out = path.join(dir, 'five.torrent')
  const create = runCli(t, ['create', file, '-o', out, '--piece-length', '5'])
  assert.equal(await create.exitCode(), 0, create.tail())
  const made = await parseTorrentOracle(await readFile(out))
  assert.equal(made.pieceLength, 5)
  const oracle = await parseTorrentOracle(await new Promise((resolve, reject) =>
    createTorrentOracle(file, { pieceLength: 5 }, (err, buf) => err ? reject(err) : resolve(buf))))
  assert.equal(made.infoHash, oracle.infoHash)
  const zero = runCli(t, ['create', file, '-o', out, '--piece-length', '0'])
  assert.equal(await zero.exitCode(), 2)
})

test('create writes the .torrent create-torrent makes of the same folder; info reads it as parse-torrent does', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const content = await makeContent(path.join(dir, 'seed'), 'Ordner ✓', 3)
  const out = path.join(dir, 'made.torrent')
  const create = runCli(t, ['create', content.root, '-o', out, '--announce', 'udp://127.0.0.1:6969', '--piece-length', '32768', '--comment', 'hi'])
  assert.equal(await create.exitCode(), 0, create.tail())
  const made = await parseTorrentOracle(await readFile(out))
  const oracle = await parseTorrentOracle(await new Promise((resolve, reject) =>
    createTorrentOracle(content.root, { pieceLength: 32768, announceList: [['udp://127.0.0.1:6969']] }, (err, buf) => err ? reject(err) : resolve(buf))))
  assert.equal(made.infoHash, oracle.infoHash)
  assert.deepEqual(made.announce, ['udp://127.0.0.1:6969'])
  assert.equal(made.comment, 'hi')
  assert.ok(create.out.some(line => line === `Info hash: ${made.infoHash}`), create.tail())

  const info = runCli(t, ['info', out, '--table'])
  assert.equal(await info.exitCode(), 0)
  const text = info.out.join('\n')
  assert.match(text, new RegExp(`Info hash:\\s+${made.infoHash}`))
  assert.match(text, /Name:\s+Ordner ✓/)
  for (const [i, f] of made.files.entries()) assert.ok(info.out.some(line => line.trim().startsWith(`${i} `) && line.endsWith(f.path.split(path.sep).join('/'))), `file ${i} listed`)

  const json = runCli(t, ['info', out, '--json'])
  assert.equal(await json.exitCode(), 0)
  const parsed = JSON.parse(json.out.join('\n'))
  assert.equal(parsed.infoHash, made.infoHash)
  assert.equal(parsed.length, made.length)
  assert.deepEqual(parsed.files.map(f => f.length), made.files.map(f => f.length))
  assert.match(parsed.magnetURI, new RegExp(`^magnet:\\?xt=urn:btih:${made.infoHash}`))

  const magnet = runCli(t, ['info', `magnet:?xt=urn:btih:${made.infoHash}&dn=Ordner`, '--table'])
  assert.equal(await magnet.exitCode(), 0)
  assert.match(magnet.out.join('\n'), /Name:\s+Ordner[\s\S]*Files:\s+not in a magnet link/)
})

test('download from libtorrent: byte-exact, exit 0, plain progress lines that parse', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const lt = await libtorrentSeed(t, dir, { uploadLimit: 400_000 })
  const down = path.join(dir, 'down')
  const cli = runCli(t, ['download', lt.file, '--out', down, '--peer', `127.0.0.1:${lt.port}`, ...OFFLINE, '--interval', '0.2'])
  assert.equal(await cli.exitCode(90000), 0, cli.tail())
  assert.equal(await sameFiles(down, lt.content.files), null)
  const lines = cli.out.map(parseProgress).filter(Boolean)
  assert.ok(lines.length >= 3, `progress lines: ${cli.tail()}`)
  const total = lt.content.files.reduce((a, f) => a + f.data.length, 0)
  for (const p of lines) {
    assert.equal(p.verb, 'downloading')
    assert.ok(p.progress >= 0 && p.progress <= 100)
    assert.ok(p.size === 0 || p.size === total, `size ${p.size}`)
    assert.ok(Number.isFinite(p.down) && Number.isFinite(p.peers))
  }
  assert.ok(lines.some(p => p.progress > 0 && p.progress < 100), 'a line in the middle of the download')
  assert.ok(lines.some(p => p.peers === 1), 'the seeder counted as a peer')
  assert.ok(cli.out.some(line => /^Downloaded Sammlung ü successfully: .* to /.test(line)), cli.tail())
})

test('seed prints a magnet; the CLI downloads it (by magnet and by info-hash), and libtorrent downloads from the seeder', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const content = await makeContent(path.join(dir, 'seed'), 'geteilt', 7)
  const port = await freePort()
  const torrentOut = path.join(dir, 'shared.torrent')
  const seeder = runCli(t, ['seed', content.root, '--torrent-port', String(port), '--torrent-file', torrentOut, ...OFFLINE])
  const magnetLine = await seeder.waitForLine(/^Magnet: magnet:/)
  const magnet = magnetLine.slice('Magnet: '.length)

  const cli = runCli(t, ['download', magnet, '--out', path.join(dir, 'cli'), '--peer', `127.0.0.1:${port}`, ...OFFLINE])
  assert.equal(await cli.exitCode(60000), 0, cli.tail())
  assert.equal(await sameFiles(path.join(dir, 'cli'), content.files), null)
  // A bare info-hash: the metadata comes from the seeder too.
  const infoHash = (await seeder.waitForLine(/^Info hash: /)).slice('Info hash: '.length)
  const byHash = runCli(t, ['download', infoHash, '--out', path.join(dir, 'hash'), '--peer', `127.0.0.1:${port}`, ...OFFLINE])
  assert.equal(await byHash.exitCode(60000), 0, byHash.tail())
  assert.equal(await sameFiles(path.join(dir, 'hash'), content.files), null)

  const lt = libtorrentPeer(t, 'download', torrentOut, path.join(dir, 'lt'), [`127.0.0.1:${port}`])
  await lt.waitFor(s => s.done, 60000, 'libtorrent to download from the CLI seeder')
  assert.equal(await sameFiles(path.join(dir, 'lt'), content.files), null)
  // The three downloads came from the seeder: its progress lines count what it uploaded.
  const total = content.files.reduce((a, f) => a + f.data.length, 0)
  await seeder.waitForLine(/^seeding \| /)
  for (let i = 0; i < 50 && !seeder.out.map(parseProgress).some(p => p?.verb === 'seeding' && p.uploaded >= 3 * total); i++) await new Promise(resolve => setTimeout(resolve, 100))
  assert.ok(seeder.out.map(parseProgress).some(p => p?.verb === 'seeding' && p.uploaded >= 3 * total), seeder.tail())
  seeder.child.kill('SIGINT')
  assert.equal(await seeder.exitCode(), 0)
})

test('seed on a --torrent-port whose UDP port is taken: a warning, no uTP, and it still serves over TCP', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const content = await makeContent(path.join(dir, 'seed'), 'nur TCP', 9)
  const port = await freePort()
  const udp = dgram.createSocket('udp6')
  await new Promise((resolve, reject) => { udp.once('error', reject); udp.bind(port, '::', resolve) })
  t.after(() => udp.close())
  const seeder = runCli(t, ['seed', content.root, '--torrent-port', String(port), ...OFFLINE])
  await seeder.waitForLine(new RegExp(`^warning: no uTP: UDP port ${port} is in use`))
  const magnet = (await seeder.waitForLine(/^Magnet: magnet:/)).slice('Magnet: '.length)
  const cli = runCli(t, ['download', magnet, '--out', path.join(dir, 'down'), '--peer', `127.0.0.1:${port}`, ...OFFLINE])
  assert.equal(await cli.exitCode(60000), 0, cli.tail())
  assert.equal(await sameFiles(path.join(dir, 'down'), content.files), null)
  seeder.child.kill('SIGINT')
  assert.equal(await seeder.exitCode(), 0)
})

test('--select (or a magnet\'s so=) downloads only the files asked for', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const lt = await libtorrentSeed(t, dir, { name: 'auswahl', seed: 11 })
  const parsed = await WasmTorrent.parseTorrent(lt.torrentFile)
  const index = parsed.files.findIndex(f => f.path.endsWith('.txt'))
  const down = path.join(dir, 'down')
  const cli = runCli(t, ['download', lt.file, '--out', down, '--select', String(index), '--peer', `127.0.0.1:${lt.port}`, ...OFFLINE])
  assert.equal(await cli.exitCode(60000), 0, cli.tail())
  // Done with the selection (the torrent's 'idle'; the torrent itself is not done).
  assert.match(cli.out.join('\n'), /Downloaded 1 of 4 files of auswahl successfully: /)
  const wanted = lt.content.files.filter(f => f.path.endsWith('.txt'))
  assert.equal(await sameFiles(down, wanted), null)
  // a.bin (1 MB) is not wanted: at most the pieces it shares with the selected file.
  const big = await stat(path.join(down, 'auswahl/a.bin')).catch(() => null)
  const bigHeld = big ? (await readFile(path.join(down, 'auswahl/a.bin'))).filter(b => b !== 0).length : 0
  assert.ok(bigHeld < 100_000, `a.bin should not be downloaded (has ${bigHeld} nonzero bytes)`)

  const wrong = runCli(t, ['download', lt.file, '--out', down, '--select', '9', '--peer', `127.0.0.1:${lt.port}`, ...OFFLINE])
  assert.equal(await wrong.exitCode(60000), 1)
  assert.match(wrong.out.join('\n') + wrong.err.join('\n'), /--select 9: the torrent has 4 files/)

  // A magnet's so= (BEP 53) chooses the same way: the run ends once those files are in.
  const bySo = path.join(dir, 'down-so')
  const so = runCli(t, ['download', `magnet:?xt=urn:btih:${parsed.infoHash}&so=${index}`, '--out', bySo, '--peer', `127.0.0.1:${lt.port}`, ...OFFLINE])
  assert.equal(await so.exitCode(60000), 0, so.tail())
  assert.match(so.out.join('\n'), /Downloaded 1 of 4 files of auswahl successfully: /)
  assert.equal(await sameFiles(bySo, wanted), null)
})

test("a magnet's so= counts BEP 47 pad files (BEP 53): the file it names is the one downloaded", async t => {
  const dir = await tempDir(t, 'wt-cli-')
  // a.bin, a pad to the piece boundary, b.bin, a pad, c.bin: so=2 is b.bin (torrent.files[1]).
  const pieceLength = 16384
  const [a, b, c] = [10000, 20000, 5000].map(n => randomBytes(n))
  const padTo = n => ({ path: ['.pad', String(pieceLength - n % pieceLength)], attr: 'p', data: Buffer.alloc(pieceLength - n % pieceLength) })
  const torrentFile = await handMadeTorrent('gepolstert', pieceLength, [
    { path: ['a.bin'], data: a }, padTo(a.length), { path: ['b.bin'], data: b }, padTo(b.length), { path: ['c.bin'], data: c }
  ])
  const { infoHash } = await WasmTorrent.parseTorrent(torrentFile)
  await mkdir(path.join(dir, 'seed', 'gepolstert'), { recursive: true })
  for (const [name, data] of [['a.bin', a], ['b.bin', b], ['c.bin', c]]) await writeFile(path.join(dir, 'seed', 'gepolstert', name), data)
  const lt = libtorrentPeer(t, 'seed', await writeTorrent(dir, torrentFile), path.join(dir, 'seed'))
  const { port } = await lt.waitFor(s => s.port > 0 && s.done, 30000, 'libtorrent to seed')
  const down = path.join(dir, 'down')
  const cli = runCli(t, ['download', `magnet:?xt=urn:btih:${infoHash}&so=2`, '--out', down, '--peer', `127.0.0.1:${port}`, ...OFFLINE])
  assert.equal(await cli.exitCode(60000), 0, cli.tail())
  assert.match(cli.out.join('\n'), /Downloaded 1 of 3 files of gepolstert successfully: /)
  assert.deepEqual(await readFile(path.join(down, 'gepolstert', 'b.bin')), b)
  // c.bin shares no piece with b.bin: not downloaded.
  const cHeld = await readFile(path.join(down, 'gepolstert', 'c.bin')).catch(() => Buffer.alloc(0))
  assert.ok(!cHeld.equals(c), 'c.bin should not be downloaded')
})

test('Ctrl-C mid-download keeps the files (resumable); with --remove-partial it deletes them', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const lt = await libtorrentSeed(t, dir, { uploadLimit: 100_000, name: 'langsam', seed: 13 })
  for (const remove of [false, true]) {
    const down = path.join(dir, remove ? 'removed' : 'kept')
    const cli = runCli(t, ['download', lt.file, '--out', down, '--peer', `127.0.0.1:${lt.port}`, ...OFFLINE, '--interval', '0.2',
      ...(remove ? ['--remove-partial'] : [])])
    await cli.waitForLine(/^downloading \| progress (?!0\.0%)/, 60000)
    // Progress counts bytes as they arrive; the file exists once a verified piece is written.
    const deadline = Date.now() + 30000
    while (!(await stat(path.join(down, 'langsam/a.bin')).catch(() => null)) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    cli.child.kill('SIGINT')
    assert.equal(await cli.exitCode(), 130, cli.tail())
    const a = await stat(path.join(down, 'langsam/a.bin')).catch(() => null)
    if (remove) {
      assert.ok(cli.out.some(line => /removing the partly downloaded files/.test(line)), cli.tail())
      assert.equal(a, null, 'a.bin removed')
    } else {
      assert.ok(cli.out.some(line => /^Interrupted at .*run the same command to resume/.test(line)), cli.tail())
      assert.ok(a, 'a.bin kept')
    }
  }
})

test('a magnet nobody seeds: the CLI says so and keeps trying until Ctrl-C', async t => {
  const cli = runCli(t, ['download', 'magnet:?xt=urn:btih:' + 'ab'.repeat(20), '--out', await tempDir(t, 'wt-cli-'), ...OFFLINE, '--peer-timeout', '1'])
  await cli.waitForLine(/^notice: no peers found yet after \d+ s; still looking/, 10000)
  assert.equal(cli.child.exitCode, null, 'still running')
  cli.child.kill('SIGINT')
  assert.equal(await cli.exitCode(), 130)
})

test('serve streams a file over HTTP from the swarm; a port in use is a clear error', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const lt = await libtorrentSeed(t, dir, { name: 'served', seed: 17 })
  const port = await freePort()
  const cli = runCli(t, ['serve', lt.file, '--out', path.join(dir, 'down'), '--port', String(port), '--host', '127.0.0.1', '--peer', `127.0.0.1:${lt.port}`, ...OFFLINE])
  const fileLine = await cli.waitForLine(/\/a\.bin$/)
  const res = await fetch(fileLine.trim())
  assert.equal(res.status, 200)
  const body = new Uint8Array(await res.arrayBuffer())
  assert.equal(Buffer.compare(Buffer.from(body), Buffer.from(lt.content.files[0].data)), 0)
  const range = await fetch(fileLine.trim(), { headers: { range: 'bytes=1000-1999' } })
  assert.equal(range.status, 206)
  assert.equal(Buffer.compare(Buffer.from(await range.arrayBuffer()), Buffer.from(lt.content.files[0].data.subarray(1000, 2000))), 0)

  const taken = net.createServer()
  await new Promise(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.after(() => taken.close())
  const busy = runCli(t, ['serve', lt.file, '--out', path.join(dir, 'down2'), '--port', String(taken.address().port), '--host', '127.0.0.1', ...OFFLINE])
  assert.equal(await busy.exitCode(), 1)
  assert.match(busy.err.join('\n'), new RegExp(`port ${taken.address().port} is in use: choose another with --port`))
})

test('info and download take the http(s) URL of a .torrent', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const lt = await libtorrentSeed(t, dir, { name: 'per URL', seed: 19 })
  const server = http.createServer((req, res) => {
    if (req.url !== '/files/x.torrent') return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'application/x-bittorrent' }).end(lt.torrentFile)
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const url = `http://127.0.0.1:${server.address().port}/files/x.torrent`
  const parsed = await WasmTorrent.parseTorrent(lt.torrentFile)

  const info = runCli(t, ['info', url, '--table'])
  assert.equal(await info.exitCode(), 0, info.tail())
  assert.match(info.out.join('\n'), new RegExp(`Info hash:\\s+${parsed.infoHash}`))
  const missing = runCli(t, ['info', url.replace('x.torrent', 'y.torrent')])
  assert.equal(await missing.exitCode(), 1)
  assert.match(missing.err[0], /HTTP 404/)

  const down = path.join(dir, 'down')
  const cli = runCli(t, ['download', url, '--out', down, '--peer', `127.0.0.1:${lt.port}`, ...OFFLINE])
  assert.equal(await cli.exitCode(60000), 0, cli.tail())
  assert.equal(await sameFiles(down, lt.content.files), null)
})

// The CLI with its standard output as bytes (runCli reads lines).
function runRaw (args, { ms = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    let err = ''
    child.stdout.on('data', b => out.push(b))
    child.stderr.on('data', b => { err += b })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${err}`)) }, ms)
    child.once('exit', code => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr: err }) })
  })
}

test("webtorrent-cli's forms: piped info is JSON, piped create is the .torrent, -s alone lists, version, errors on stderr with -q, --no-dht binds no DHT port", async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const content = await makeContent(path.join(dir, 'seed'), 'Formen', 23)
  // create DIR > x.torrent, as with webtorrent-cli: the bytes on stdout, the rest on stderr.
  const created = await runRaw(['create', content.root, '--announce', 'udp://127.0.0.1:6969'])
  assert.equal(created.code, 0, created.stderr)
  const made = await parseTorrentOracle(created.stdout)
  assert.equal(made.name, 'Formen')
  assert.match(created.stderr, new RegExp(`Info hash: ${made.infoHash}`))
  const file = path.join(dir, 'formen.torrent')
  await writeFile(file, created.stdout)
  // info piped: JSON (webtorrent-cli's `info x | jq`); -o writes it to a file.
  const info = await runRaw(['info', file])
  assert.equal(info.code, 0, info.stderr)
  // parse-torrent's fields, as webtorrent-cli prints them (its test compares them so).
  for (const key of ['info', 'infoBuffer', 'infoHashBuffer']) delete made[key]
  assert.deepEqual(JSON.parse(info.stdout.toString()), JSON.parse(JSON.stringify(made)))
  const jsonFile = path.join(dir, 'info.json')
  assert.equal((await runRaw(['info', file, '-o', jsonFile])).code, 0)
  assert.equal(JSON.parse(await readFile(jsonFile, 'utf8')).infoHash, made.infoHash)
  // -s with no index: the files with their indexes, exit 0 (also as the last argument).
  for (const args of [['download', file, '-s', ...OFFLINE], ['download', '-s', file, ...OFFLINE], ['download', file, ...OFFLINE, '--select']]) {
    const list = runCli(t, [...args, '--out', path.join(dir, 'list')])
    assert.equal(await list.exitCode(), 0, list.tail())
    made.files.forEach((f, i) => assert.ok(list.out.some(line => line.trim().startsWith(`${i} `) && line.endsWith(f.path.split(path.sep).join('/'))), `file ${i} listed: ${list.tail()}`))
  }
  // The content already in --out: verified, done, exit 0 (webtorrent-cli's test looks for 'successfully').
  const local = runCli(t, ['download', file, '--out', path.dirname(content.root), ...OFFLINE])
  assert.equal(await local.exitCode(), 0, local.tail())
  assert.ok(local.out.some(line => line.includes('successfully')), local.tail())
  const subs = runCli(t, ['download', file, '--subtitles', file, ...OFFLINE])
  assert.equal(await subs.exitCode(), 2)
  assert.match(subs.err[0], /--subtitles and --playlist go with a local player/)
  const version = runCli(t, ['version'])
  assert.equal(await version.exitCode(), 0)
  assert.match(version.out[0], /^\d+\.\d+\.\d+/)
  // An error reaches stderr, --quiet or not.
  for (const quiet of [[], ['-q']]) {
    const wrong = runCli(t, ['download', file, '--select', '9', ...OFFLINE, '--out', path.join(dir, 'wrong'), ...quiet])
    assert.equal(await wrong.exitCode(), 1)
    assert.match(wrong.err.join('\n'), /--select 9: the torrent has 4 files/)
  }
  // --no-dht: no DHT, so its port stays free (until 2026-12-08 --no-dht was undone unless
  // --no-port-mapping came with it).
  const port = await freePort()
  const off = runCli(t, ['download', `magnet:?xt=urn:btih:${'cd'.repeat(20)}`, '--no-dht', '--no-trackers', '--dht-port', String(port), '--out', path.join(dir, 'off')])
  await new Promise(resolve => setTimeout(resolve, 1500))
  const socket = dgram.createSocket('udp4')
  await new Promise((resolve, reject) => { socket.once('error', reject); socket.bind(port, resolve) })
  socket.close()
  off.child.kill('SIGINT')
  await off.exitCode()
})

test('several torrents in one download, --on-done and --on-exit run, --stdout writes the file byte-exact, downloadmeta writes the .torrent', async t => {
  const dir = await tempDir(t, 'wt-cli-')
  const one = await libtorrentSeed(t, path.join(dir, 'one'), { name: 'eins', seed: 31 })
  const two = await libtorrentSeed(t, path.join(dir, 'two'), { name: 'zwei', seed: 37 })
  const peers = ['--peer', `127.0.0.1:${one.port}`, '--peer', `127.0.0.1:${two.port}`]
  const down = path.join(dir, 'down')
  const done = path.join(dir, 'done.log')
  const exit = path.join(dir, 'exit.log')
  const both = runCli(t, ['download', one.file, two.file, '--out', down, ...peers, ...OFFLINE,
    '--on-done', `echo done >> '${done}'`, '--on-exit', `echo exit > '${exit}'`])
  assert.equal(await both.exitCode(90000), 0, both.tail())
  assert.equal(await sameFiles(down, one.content.files), null)
  assert.equal(await sameFiles(down, two.content.files), null)
  assert.equal(await readFile(done, 'utf8'), 'done\ndone\n', 'once per torrent')
  assert.equal(await readFile(exit, 'utf8'), 'exit\n')

  const parsed = await WasmTorrent.parseTorrent(one.torrentFile)
  const index = parsed.files.findIndex(f => f.path.endsWith('.txt'))
  const piped = await runRaw(['download', one.file, '--stdout', '--select', String(index), '--out', path.join(dir, 'piped'), ...peers, ...OFFLINE], { ms: 60000 })
  assert.equal(piped.code, 0, piped.stderr)
  const want = one.content.files.find(f => f.path.endsWith('.txt')).data
  assert.equal(Buffer.compare(piped.stdout, Buffer.from(want)), 0, `--stdout gave ${piped.stdout.length} bytes, want ${want.length}`)

  const meta = path.join(dir, 'meta')
  await mkdir(meta)
  const dm = runCli(t, ['downloadmeta', `magnet:?xt=urn:btih:${parsed.infoHash}`, '--out', meta, ...peers, ...OFFLINE])
  assert.equal(await dm.exitCode(60000), 0, dm.tail())
  const got = await parseTorrentOracle(await readFile(path.join(meta, `${parsed.infoHash}.torrent`)))
  assert.equal(got.infoHash, parsed.infoHash)
  assert.equal(got.length, parsed.length)
})
