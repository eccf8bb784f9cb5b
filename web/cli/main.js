#!/usr/bin/env node
// The command-line client (`npx wasmtorrent`, dist/wasmtorrent-cli.js): download, seed,
// create, info and serve, with progress, and playback of a torrent's file while it
// downloads, in a local player (VLC, mpv, IINA, Kodi) or on a device on the local network
// (Chromecast, AirPlay, DLNA) through the client's HTTP server.
import { parseArgs } from 'node:util'
import { readFile, writeFile, stat } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { spawn } from 'node:child_process'
import path from 'node:path'
import WasmTorrent, { parseTorrent, createTorrent, toMagnetURI } from '../node.js'
import { Progress, snapshot, formatBytes, formatDuration } from './progress.js'
import { lanAddress, urlHost } from './network.js'
import { launchPlayer, pickPlayableFile, contentTypeOf } from './players.js'

const PLAYERS = { vlc: 'VLC', mpv: 'mpv', iina: 'IINA', mplayer: 'MPlayer', smplayer: 'SMPlayer', xbmc: 'Kodi' }
// Loaded when asked for: each pulls in its own discovery and protocol libraries.
const CASTS = {
  chromecast: { label: 'Chromecast', load: () => import('./cast/chromecast.js') },
  airplay: { label: 'AirPlay', load: () => import('./cast/airplay.js') },
  dlna: { label: 'DLNA', load: () => import('./cast/dlna.js') }
}

// --- options -------------------------------------------------------------------------------

const NETWORK_OPTIONS = {
  announce: { type: 'string', short: 'a', multiple: true, help: 'URL   a tracker to announce to besides the torrent\'s (repeatable)' },
  peer: { type: 'string', multiple: true, help: 'ADDR   connect to this peer (ip:port, [ipv6]:port; repeatable)' },
  'torrent-port': { type: 'string', help: 'N   TCP port for incoming peers (default: any free port)' },
  'dht-port': { type: 'string', help: 'N   UDP port of the DHT (default: any free port)' },
  'dht-bootstrap': { type: 'string', multiple: true, help: 'HOST:PORT   DHT node to bootstrap from (default: the public routers; repeatable)' },
  'no-dht': { type: 'boolean', help: '   do not use the DHT' },
  'no-trackers': { type: 'boolean', help: '   do not announce to trackers' },
  'no-port-mapping': { type: 'boolean', help: '   do not ask the router (UPnP, NAT-PMP) to forward the ports to this machine' },
  'download-limit': { type: 'string', short: 'd', help: 'RATE   at most this much down: KiB/s as webtorrent-cli (-d 500), or with a unit: 500K, 2M, 800B' },
  'upload-limit': { type: 'string', short: 'u', help: 'RATE   at most this much up: KiB/s (-u 100), or 100K, 1M, 800B' },
  blocklist: { type: 'string', short: 'b', help: 'FILE|URL   peers not to talk to (a P2P/eMule list, gzipped or not)' },
  'on-exit': { type: 'string', help: 'COMMAND   run (by the shell) before the program exits' },
  quiet: { type: 'boolean', short: 'q', help: '   no progress output' },
  verbose: { type: 'boolean', help: '   also print warnings (trackers unreachable, peers refused, ...)' },
  interval: { type: 'string', help: 'SECONDS   between progress lines when the output is not a terminal (default 1)' }
}

const PLAY_OPTIONS = {
  vlc: { type: 'boolean', help: '   play in VLC' },
  mpv: { type: 'boolean', help: '   play in mpv' },
  iina: { type: 'boolean', help: '   play in IINA' },
  mplayer: { type: 'boolean', help: '   play in MPlayer' },
  smplayer: { type: 'boolean', help: '   play in SMPlayer' },
  xbmc: { type: 'boolean', help: '   play in Kodi (XBMC), through its JSON-RPC' },
  'xbmc-host': { type: 'string', help: 'HOST:PORT   Kodi\'s web server (default 127.0.0.1:8080)' },
  chromecast: { type: 'boolean', help: '   cast to a Chromecast on the local network (--chromecast NAME: the one whose name contains NAME)' },
  airplay: { type: 'boolean', help: '   cast to an AirPlay device (Apple TV) on the local network' },
  dlna: { type: 'boolean', help: '   cast to a DLNA renderer (smart TV, gmediarender) on the local network' },
  device: { type: 'string', help: 'NAME   the cast device whose name contains NAME (default: the first found)' },
  'player-args': { type: 'string', help: 'ARGS   extra arguments for the player, as --player-args="--fullscreen"' },
  subtitles: { type: 'string', short: 't', help: 'FILE   subtitles for the local player (VLC, mpv, IINA, MPlayer, SMPlayer)' },
  playlist: { type: 'boolean', help: '   every file of the torrent in the player\'s playlist, the selected one first' },
  'not-on-top': { type: 'boolean', help: '   (webtorrent-cli\'s; players here are never set on top)' },
  pip: { type: 'boolean', help: '   IINA: picture-in-picture' },
  port: { type: 'string', short: 'p', help: 'N   port of the HTTP stream server (default 8000, another if taken)' },
  host: { type: 'string', help: 'ADDR   address the stream server listens on (default: all when casting, else 127.0.0.1)' }
}

const COMMANDS = {
  download: {
    usage: 'download <magnet | .torrent file | info-hash | http(s) URL of a .torrent>...',
    about: 'Downloads torrents, optionally playing a file while it downloads.',
    options: {
      out: { type: 'string', short: 'o', help: 'DIR   where to put the files (default: the current folder; when playing or with --stdout, a temporary folder)' },
      select: { type: 'string', short: 's', help: 'N[,M...]   download only these files (indexes from `info`; the so= of a magnet does the same); the first one is played. Alone: list the files and exit' },
      'list-files': { type: 'boolean', help: '   list the files with their indexes and exit (what -s alone does)' },
      stdout: { type: 'boolean', help: '   write the selected (else the largest) file to standard output as it arrives (implies --quiet)' },
      'keep-seeding': { type: 'boolean', help: '   keep seeding when done (until Ctrl-C)' },
      'no-quit': { type: 'boolean', help: '   keep running when the player exits' },
      'on-done': { type: 'string', help: 'COMMAND   run (by the shell) when a torrent is downloaded' },
      'remove-partial': { type: 'boolean', help: '   on Ctrl-C before the end, delete what was downloaded' },
      'peer-timeout': { type: 'string', help: 'SECONDS   say so when no peer is found within this time (default 30; it keeps trying)' },
      ...PLAY_OPTIONS,
      ...NETWORK_OPTIONS
    },
    run: download
  },
  downloadmeta: {
    usage: 'downloadmeta <magnet | info-hash>...',
    about: 'Fetches a magnet\'s metadata from peers and writes it as <out>/<info-hash>.torrent.',
    options: {
      out: { type: 'string', short: 'o', help: 'DIR   where to write the .torrent files (default: the current folder)' },
      ...NETWORK_OPTIONS
    },
    run: downloadMeta
  },
  seed: {
    usage: 'seed <file or folder>...',
    about: 'Makes a torrent of the files and seeds it until Ctrl-C; prints its magnet link. Given a .torrent or a magnet, downloads it and seeds on.',
    options: {
      name: { type: 'string', help: 'NAME   the torrent\'s name' },
      comment: { type: 'string', help: 'TEXT   a comment in the torrent' },
      private: { type: 'boolean', help: '   a private torrent (no DHT, no peer exchange)' },
      'piece-length': { type: 'string', help: 'BYTES   piece size (default: from the total size)' },
      'torrent-file': { type: 'string', help: 'FILE   also write the .torrent there' },
      ...NETWORK_OPTIONS
    },
    run: seed
  },
  create: {
    usage: 'create <file or folder>...',
    about: 'Writes a .torrent of the files (hashing them; nothing is shared).',
    options: {
      out: { type: 'string', short: 'o', help: 'FILE   the .torrent to write (- for standard output; default: standard output when it is not a terminal, as webtorrent-cli, else <name>.torrent)' },
      announce: { type: 'string', short: 'a', multiple: true, help: 'URL   tracker (repeatable; default: the usual WebTorrent trackers)' },
      'url-list': { type: 'string', multiple: true, help: 'URL   web seed (BEP 19; repeatable)' },
      name: { type: 'string', help: 'NAME   the torrent\'s name' },
      comment: { type: 'string', help: 'TEXT   a comment' },
      private: { type: 'boolean', help: '   a private torrent' },
      'piece-length': { type: 'string', help: 'BYTES   piece size (default: from the total size)' },
      quiet: { type: 'boolean', short: 'q', help: '   print only the .torrent\'s path' }
    },
    run: create
  },
  info: {
    usage: 'info <magnet | .torrent file | info-hash | http(s) URL of a .torrent>',
    about: 'Prints what a torrent or magnet link holds (without downloading): a table on a terminal, JSON (as webtorrent-cli) otherwise.',
    options: {
      json: { type: 'boolean', help: '   as JSON' },
      table: { type: 'boolean', help: '   as a table, also when the output is not a terminal' },
      out: { type: 'string', short: 'o', help: 'FILE   write the JSON there' }
    },
    run: info
  },
  serve: {
    usage: 'serve <torrent>...',
    about: 'Serves torrents over HTTP (WebTorrent\'s /webtorrent/ layout), downloading what is asked for, until Ctrl-C.',
    options: {
      out: { type: 'string', short: 'o', help: 'DIR   where to put the files (default: the current folder)' },
      port: PLAY_OPTIONS.port,
      host: { type: 'string', help: 'ADDR   address to listen on (default: all)' },
      ...NETWORK_OPTIONS
    },
    run: serve
  },
  version: {
    usage: 'version',
    about: 'Prints the version.',
    options: {},
    run: async () => { console.log(await version()) }
  }
}

class UsageError extends Error {}

function helpText (name) {
  if (!name) {
    return [
      'wasmtorrent: a BitTorrent client (WebAssembly engine; TCP, DHT, trackers, WebRTC)',
      '',
      'Usage: wasmtorrent <command> [options]',
      '',
      'Commands:',
      ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(9)} ${c.about}`),
      '',
      'wasmtorrent <command> --help   the options of a command',
      'wasmtorrent <magnet | .torrent>   is short for `download`',
      '',
      'Examples:',
      '  wasmtorrent download "magnet:?xt=urn:btih:..." --out ~/Downloads',
      '  wasmtorrent download film.torrent --vlc',
      '  wasmtorrent download film.torrent --chromecast --device "Living Room"',
      '  wasmtorrent seed ./photos',
      '  wasmtorrent create ./photos -o photos.torrent'
    ].join('\n')
  }
  const c = COMMANDS[name]
  const rows = Object.entries(c.options).map(([key, o]) => {
    const [arg, ...text] = o.help.split('   ')
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${key}${arg ? ' ' + arg : ''}`
    return `  ${flag.padEnd(34)} ${text.join('   ')}`
  })
  return [`Usage: wasmtorrent ${c.usage} [options]`, '', c.about, '', 'Options:', ...rows,
    `  ${'-h, --help'.padEnd(34)} this help`].join('\n')
}

function parseCommand (argv) {
  let [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') return { help: rest[0] && COMMANDS[rest[0]] ? rest[0] : true }
  if (name === '--version' || name === '-v') return { name: 'version', args: [], o: {} }
  if (!COMMANDS[name]) {
    if (name.startsWith('-')) throw new UsageError(`unknown option ${name}: the command comes first`)
    // As webtorrent-cli: a torrent id alone means download.
    rest = [name, ...rest]
    name = 'download'
  }
  const options = Object.fromEntries(Object.entries(COMMANDS[name].options)
    .map(([key, { help, ...o }]) => [key, o]))
  options.help = { type: 'boolean', short: 'h' }
  let parsed
  try {
    parsed = parseArgs({ args: webtorrentCliForms(rest, options), options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(`${err.message.replace(/\. To specify a positional.*$/s, '')}\nSee: wasmtorrent ${name} --help`)
  }
  if (parsed.values.help) return { help: name }
  return { name, args: parsed.positionals, o: parsed.values }
}

// webtorrent-cli's forms that parseArgs cannot read: -s/--select with no index (list the
// files), --chromecast NAME or --chromecast=NAME (a device name, here --device).
function webtorrentCliForms (args, options) {
  const out = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const next = args[i + 1]
    if ((arg === '-s' || arg === '--select') && options['list-files'] && (next === undefined || !/^\d+(\s*,\s*\d+)*$/.test(next))) {
      out.push('--list-files')
      continue
    }
    const cast = /^--(chromecast|airplay|dlna)(?:=(.*))?$/s.exec(arg)
    if (cast && options.device) {
      out.push(`--${cast[1]}`)
      if (cast[2] !== undefined) out.push('--device', cast[2])
      else if (next !== undefined && !next.startsWith('-') && !looksLikeTorrentId(next)) out.push('--device', args[++i])
      continue
    }
    out.push(arg)
  }
  return out
}

function looksLikeTorrentId (text) {
  return /^(magnet:|https?:\/\/)/i.test(text) || /^[0-9a-f]{40}$/i.test(text) || /^[a-z2-7]{32}$/i.test(text) || existsSync(text)
}

// A bare number is KiB/s, as webtorrent-cli's -d/-u; "500K", "2M", "1.5MiB", "800B" → bytes/s.
function parseRate (text, option) {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|(b))?(?:\/s)?$/i.exec(String(text).trim())
  if (!m) throw new UsageError(`--${option} ${text}: expected KiB/s (500), or a rate with its unit (800B, 500K, 2M)`)
  const unit = m[3] ? 0 : m[2] ? ' kmg'.indexOf(m[2].toLowerCase()) : 1
  return Math.round(Number(m[1]) * 1024 ** unit)
}

function parseInteger (text, option, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${option} ${text}: expected a whole number from ${min} to ${max}`)
  return n
}

// Splits "--a 'b c' d" as a shell would (quotes, no expansion).
function splitArgs (text = '') {
  const out = []
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g
  let m
  while ((m = re.exec(text))) out.push(m[1] ?? m[2] ?? m[3])
  return out
}

// --- torrent ids -----------------------------------------------------------------------------

// A command-line torrent id → what client.add and parseTorrent take: magnet links,
// info-hashes and URLs as they are, a file's bytes otherwise.
async function torrentId (arg) {
  if (!arg) throw new UsageError('which torrent? Give a magnet link, a .torrent file, an info-hash or a URL')
  const text = arg.trim()
  if (/^magnet:/i.test(text) || /^[0-9a-f]{40}$/i.test(text) || /^[a-z2-7]{32}$/i.test(text)) return text
  if (/^https?:\/\//i.test(text)) return text
  try {
    return new Uint8Array(await readFile(text))
  } catch (err) {
    if (err.code === 'ENOENT') throw new UsageError(`${arg}: no such file, and not a magnet link, info-hash or http(s) URL`)
    throw new UsageError(`${arg}: ${err.message}`)
  }
}

// --- the client and its lifetime ---------------------------------------------------------------

function clientOptions (o) {
  const opts = {}
  if (o['torrent-port'] !== undefined) opts.torrentPort = parseInteger(o['torrent-port'], 'torrent-port', { max: 65535 })
  if (o['no-port-mapping']) Object.assign(opts, { natPmp: false, natUpnp: false })
  if (o['no-dht']) opts.dht = false
  else {
    opts.dht = {}
    if (o['dht-port'] !== undefined) opts.dht.port = parseInteger(o['dht-port'], 'dht-port', { max: 65535 })
    if (o['dht-bootstrap']) opts.dht.bootstrap = o['dht-bootstrap']
  }
  if (o['no-trackers']) opts.tracker = false
  if (o['download-limit'] !== undefined) opts.downloadLimit = parseRate(o['download-limit'], 'download-limit')
  if (o['upload-limit'] !== undefined) opts.uploadLimit = parseRate(o['upload-limit'], 'upload-limit')
  if (o.blocklist !== undefined) opts.blocklist = o.blocklist
  return opts
}

// --on-done and --on-exit: the user's command, by the shell, as webtorrent-cli runs them.
function runShell (command) {
  return new Promise(resolve => {
    const child = spawn(command, { shell: true, stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', err => { console.error(`wasmtorrent: ${command}: ${err.message}`); resolve() })
    child.once('exit', resolve)
  })
}

// One run of a command that keeps a client: progress, Ctrl-C, and a clean exit.
class Run {
  constructor (o) {
    this.o = o
    this.client = new WasmTorrent(clientOptions(o))
    this.progress = new Progress({ quiet: o.quiet, interval: o.interval !== undefined ? Number(o.interval) * 1000 : 1000 })
    this.cleanups = []
    this.exiting = false
    this.client.on('error', err => {
      // The one 'error' the client goes on after (as WebTorrent's): no uTP, TCP only.
      if (err.code === 'EADDRINUSE' && this.client.utp === false) return this.progress.log(`warning: no uTP: UDP port ${this.client.torrentPort} is in use`)
      this.fail(err)
    })
    if (o.verbose) this.client.on('warning', err => this.progress.log(`warning: ${err.message ?? err}`))
    const interrupt = () => {
      if (this.exiting) process.exit(130) // a second Ctrl-C: at once
      this.onInterrupt()
    }
    process.on('SIGINT', interrupt)
    process.on('SIGTERM', interrupt)
  }

  onInterrupt () { this.exit(0) }

  // Errors go to standard error, with --quiet too.
  fail (err) {
    if (this.exiting) return
    this.progress.stop()
    console.error(`wasmtorrent: ${err.message ?? err}`)
    this.exit(1)
  }

  async exit (code) {
    if (this.exiting) return
    this.exiting = true
    this.progress.stop()
    for (const cleanup of this.cleanups.reverse()) {
      try { await cleanup() } catch {}
    }
    // At most 10 s: a command that does not end must not hold the exit for good.
    if (this.o['on-exit']) await Promise.race([runShell(this.o['on-exit']), new Promise(resolve => setTimeout(resolve, 10000).unref())])
    // destroy() waits for sockets and files to close; a stuck one must not hold the exit.
    await Promise.race([this.client.destroy().catch(() => {}), new Promise(resolve => setTimeout(resolve, 3000).unref())])
    process.exit(code)
  }

  // The client's HTTP server on --port (default 8000, any free port when that is taken),
  // → the origin of stream URLs (the LAN address when listening on all addresses).
  async listen ({ wildcard }) {
    const server = this.client.createServer()
    const host = this.o.host ?? (wildcard ? '0.0.0.0' : '127.0.0.1')
    const asked = this.o.port !== undefined ? parseInteger(this.o.port, 'port', { max: 65535 }) : null
    const tryListen = port => new Promise((resolve, reject) => {
      server.server.once('error', reject)
      server.listen(port, host, () => { server.server.off('error', reject); resolve() })
    })
    try {
      await tryListen(asked ?? 8000)
    } catch (err) {
      if (err.code !== 'EADDRINUSE') throw new Error(`cannot listen on ${host}:${asked ?? 8000}: ${err.message}`)
      if (asked !== null) throw new Error(`port ${asked} is in use: choose another with --port`)
      await tryListen(0)
    }
    this.cleanups.push(() => new Promise(resolve => server.close(resolve)))
    const shown = host === '0.0.0.0' || host === '::' ? lanAddress() : host
    this.server = server
    return `http://${urlHost(shown)}:${server.address().port}`
  }
}

// --- download ----------------------------------------------------------------------------------

async function download (args, o) {
  if (args.length === 0) throw new UsageError('which torrent? Give a magnet link, a .torrent file, an info-hash or a URL')
  const ids = []
  for (const arg of args) ids.push(await torrentId(arg))
  const players = Object.keys(PLAYERS).filter(k => o[k])
  const casts = Object.keys(CASTS).filter(k => o[k])
  if (players.length + casts.length > 1) throw new UsageError('choose one player or device: --' + [...players, ...casts].join(', --'))
  if ((o.subtitles !== undefined || o.playlist) && (!players.length || players[0] === 'xbmc')) {
    throw new UsageError('--subtitles and --playlist go with a local player: --vlc, --mpv, --iina, --mplayer or --smplayer')
  }
  if (o.subtitles !== undefined) await stat(o.subtitles).catch(err => { throw new UsageError(`--subtitles ${o.subtitles}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`) })
  const streams = players.length + casts.length + (o.stdout ? 1 : 0)
  if (streams > 1) throw new UsageError('--stdout and a player or device: choose one')
  if (ids.length > 1 && (streams || o['list-files'])) throw new UsageError('playing, --stdout and --list-files take one torrent')
  const select = o.select !== undefined ? o.select.split(',').map(s => parseInteger(s.trim(), 'select')) : null
  const peerTimeout = o['peer-timeout'] !== undefined ? parseInteger(o['peer-timeout'], 'peer-timeout', { min: 1 }) : 30
  // Streaming with no --out: the library's temporary folder, as webtorrent-cli's.
  const out = o.out !== undefined || !streams ? path.resolve(o.out ?? '.') : undefined

  const run = new Run(o.stdout ? { ...o, quiet: true } : o)
  const { client, progress } = run
  const started = Date.now()
  const downloads = ids.map(id => startDownload(run, id, { out, select, started }))
  const torrents = downloads.map(d => d.torrent)
  let verb = 'Downloading'
  progress.start(() => ({ verb, snapshot: combined(downloads.map(d => snapshot(d.torrent, undefined, d.wanted()))) }))

  // A magnet nobody seeds: say so, and keep trying.
  const noPeers = setInterval(() => {
    if (torrents.some(t => t.numPeers > 0) || downloads.every(d => d.finished())) return
    progress.set('notice', `no peers yet after ${formatDuration(Date.now() - started)}; still looking (Ctrl-C to stop)`)
    if (!progress.tty) progress.log(`notice: no peers found yet after ${Math.round((Date.now() - started) / 1000)} s; still looking (Ctrl-C to stop)`)
  }, peerTimeout * 1000)
  noPeers.unref()

  run.onInterrupt = async () => {
    const done = downloads.every(d => d.finished())
    for (const d of downloads) {
      if (d.finished()) continue
      if (o['remove-partial'] && d.torrent.ready) {
        progress.log(`Interrupted: removing the partly downloaded files of ${d.torrent.name}`)
        await new Promise(resolve => client.remove(d.torrent, { destroyStore: true }, () => resolve()))
      } else {
        const at = snapshot(d.torrent, undefined, d.wanted()).progress
        progress.log(`Interrupted at ${(at * 100).toFixed(1)}%: the files stay in ${d.torrent.path ?? out}; run the same command to resume`)
      }
    }
    run.exit(done ? 0 : 130)
  }

  const torrent = torrents[0]
  if (o['list-files']) {
    return torrent.once('ready', () => {
      run.progress.stop()
      const width = String(torrent.files.length - 1).length
      torrent.files.forEach((f, i) => console.log(`${String(i).padStart(width)}  ${formatBytes(f.length).padStart(10)}  ${f.path}`))
      console.log('\nTo download one of them, run the same command with --select N (N, M for several)')
      run.exit(0)
    })
  }
  if (streams) {
    torrent.once('ready', async () => {
      if (!downloads[0].checkSelect()) return
      // The largest playable file; for a local player, as webtorrent-cli, else the largest.
      const file = select ? torrent.files[select[0]]
        : o.stdout ? largest(torrent.files)
          : pickPlayableFile(torrent.files) ?? (players.length ? largest(torrent.files) : null)
      if (!file) return run.fail(new Error('no playable file in the torrent: choose one with --select N (see `wasmtorrent info`)'))
      if (o.stdout && !select) downloads[0].only([file]) // the rest would not be seen
      try {
        if (o.stdout) toStdout(run, file, downloads[0])
        else await play(run, torrent, file, players[0], casts[0], downloads[0])
      } catch (err) {
        run.fail(err)
      }
    })
  }

  let finishedOnce = false
  for (const d of downloads) {
    d.onFinished = async () => {
      if (o['on-done']) await runShell(o['on-done'])
      if (finishedOnce || !downloads.every(x => x.finished())) return
      finishedOnce = true
      clearInterval(noPeers)
      if (!o['keep-seeding'] && !run.playing) return run.exit(0)
      verb = 'Seeding'
    }
  }
}

// One torrent of a download run: added, its --select applied at 'ready', its end reported
// (onFinished, set by the caller, runs once it has every file it waits for).
function startDownload (run, id, { out, select, started }) {
  const { client, progress, o } = run
  const torrent = client.add(id, { ...(out !== undefined && { path: out }), announce: o.announce ?? [] })
  const d = { torrent, onFinished: () => {} }
  // What the run waits for: every file (the torrent's 'done'), or the files chosen by
  // --select, a magnet's so= or the file played ('idle': nothing selected is left; the
  // torrent is not done). --select counts torrent.files (as `info` lists them); so= counts
  // the info's entries, BEP 47 pad files included (BEP 53), which is each file's _index.
  let chosen = null // files, once 'ready'
  d.wanted = () => chosen
  d.finished = () => chosen ? torrent.ready && chosen.every(f => f.done) : torrent.done
  d.only = files => {
    chosen = files
    torrent.files.forEach(f => { if (!files.includes(f)) f.deselect() })
    for (const f of files) f.select()
  }
  d.checkSelect = () => {
    const bad = select?.find(i => i >= torrent.files.length)
    if (bad === undefined) return true
    run.fail(new Error(`--select ${bad}: the torrent has ${torrent.files.length} files (0 to ${torrent.files.length - 1}); see \`wasmtorrent info\``))
    return false
  }
  torrent.on('error', err => run.fail(err))
  if (o.verbose) torrent.on('warning', err => progress.log(`warning: ${err.message ?? err}`))
  torrent.once('infoHash', () => { for (const p of o.peer ?? []) torrent.addPeer(p) })
  torrent.on('wire', () => progress.set('notice', null))
  torrent.once('ready', () => {
    if (!d.checkSelect()) return
    // Only the chosen files (the library, as WebTorrent's, gets a magnet's so= files first
    // and then the rest).
    if (select) d.only(select.map(i => torrent.files[i]))
    else if (torrent.so) d.only(torrent.files.filter(f => torrent.so.includes(f._index)))
  })
  let reported = false
  const onFinished = () => {
    if (reported || !d.finished()) return
    reported = true
    const seconds = (Date.now() - started) / 1000
    const part = d.wanted()
    const s = snapshot(torrent, undefined, part)
    progress.log(`Downloaded ${part ? `${part.length} of ${torrent.files.length} files of ` : ''}${torrent.name} successfully: ` +
      `${formatBytes(s.length)} in ${seconds.toFixed(1)} s (${formatBytes(s.downloaded / Math.max(seconds, 0.001))}/s) to ${torrent.path}`)
    d.onFinished()
  }
  torrent.on('idle', onFinished)
  torrent.on('done', onFinished)
  return d
}

// Several torrents' snapshots as one line.
function combined (list) {
  if (list.length === 1) return list[0]
  const sum = key => list.reduce((n, s) => n + s[key], 0)
  const length = sum('length')
  const downloaded = sum('downloaded')
  const down = sum('down')
  const done = list.every(s => s.done)
  return {
    name: `${list.length} torrents`,
    ready: list.every(s => s.ready),
    done,
    progress: length ? downloaded / length : 0,
    downloaded,
    uploaded: sum('uploaded'),
    length,
    down,
    up: sum('up'),
    peers: sum('peers'),
    eta: done ? 0 : Math.max(...list.map(s => s.eta))
  }
}

function largest (files) {
  return files.reduce((a, b) => (b.length > a.length ? b : a), files[0])
}

// --stdout: the file's bytes in order as they are verified; the run ends with the stream
// (or when the reader goes away: `| head`).
function toStdout (run, file, d) {
  run.playing = true
  const done = () => {
    run.playing = false
    if (!run.o['keep-seeding'] || d.finished()) run.exit(0)
  }
  process.stdout.on('error', err => { if (err.code === 'EPIPE') done(); else run.fail(err) })
  const stream = file.createReadStream()
  stream.on('error', err => run.fail(err))
  stream.pipe(process.stdout, { end: false })
  stream.on('end', () => process.stdout.write('', done))
}

// Plays `file` of `torrent` in a local player or on a cast device while it downloads.
async function play (run, torrent, file, player, cast, d) {
  const { progress, o } = run
  // A device, or a Kodi on another machine, must reach the stream: all addresses, and the
  // LAN address in the URL.
  const remoteKodi = player === 'xbmc' && !/^(\w+(:[^@]*)?@)?(127\.|localhost|\[::1\])/.test(String(o['xbmc-host'] ?? '127.0.0.1').replace(/^https?:\/\//, ''))
  const origin = await run.listen({ wildcard: Boolean(cast) || remoteKodi })
  const url = origin + run.server.urlOf(file)
  run.playing = true
  if (player) {
    // --playlist: every file, from the selected one on and round to the one before it.
    const at = torrent.files.indexOf(file)
    const urls = o.playlist ? [...torrent.files.slice(at), ...torrent.files.slice(0, at)].map(f => origin + run.server.urlOf(f)) : url
    const args = [...(o.pip && player === 'iina' ? ['--pip'] : []), ...splitArgs(o['player-args'])]
    const subtitles = o.subtitles !== undefined ? path.resolve(o.subtitles) : undefined
    const handle = await launchPlayer(player, urls, { title: file.name, args, subtitles, host: o['xbmc-host'] })
    progress.log(`Playing ${file.name} in ${PLAYERS[player]}: ${url}`)
    progress.set('playing', `${file.name} in ${PLAYERS[player]}`)
    handle.exited?.then(({ code, signal } = {}) => {
      progress.log(`${PLAYERS[player]} exited${signal ? ` (${signal})` : code ? ` with code ${code}` : ''}`)
      run.playing = false
      if (o['no-quit']) return progress.log('--no-quit: still running (Ctrl-C to stop)')
      if (!o['keep-seeding'] || !d.finished()) run.exit(0)
    })
    run.cleanups.push(() => handle.stop?.())
    return
  }
  const { label, load } = CASTS[cast]
  progress.log(`Looking for ${label} devices on the local network...`)
  const module = await load()
  const handle = await module.play(url, { device: o.device, title: file.name, contentType: contentTypeOf(file.name) })
  run.cleanups.push(() => handle.close())
  progress.log(`Casting ${file.name} to ${label} "${handle.name}": ${url}`)
  progress.set('playing', `${file.name} on ${label} "${handle.name}" (Ctrl-C to stop)`)
}

// --- seed ----------------------------------------------------------------------------------------

async function seed (paths, o) {
  if (paths.length === 0) throw new UsageError('what to seed? Give files or folders')
  // As webtorrent-cli: a torrent id is downloaded (into the current folder) and seeded on.
  if (paths.every(p => /^magnet:/i.test(p) || path.extname(p).toLowerCase() === '.torrent')) {
    return download(paths, { ...o, 'keep-seeding': true })
  }
  for (const p of paths) {
    await stat(p).catch(err => { throw new UsageError(`${p}: ${err.code === 'ENOENT' ? 'no such file or folder' : err.message}`) })
  }
  const run = new Run(o)
  const { client, progress } = run
  const opts = createOptions(o)
  if (o.announce) opts.announce = o.announce
  const torrent = client.seed(paths.length === 1 ? paths[0] : paths, opts)
  torrent.on('error', err => run.fail(err))
  if (o.verbose) torrent.on('warning', err => progress.log(`warning: ${err.message ?? err}`))
  let verb = 'Hashing'
  const hashing = { done: 0, total: 0 }
  torrent.on('hashing', (done, total) => { hashing.done = done; hashing.total = total })
  const name = o.name ?? path.basename(path.resolve(paths[0]))
  progress.start(() => {
    const s = snapshot(torrent, name)
    if (verb === 'Hashing') Object.assign(s, { ready: true, progress: hashing.total ? hashing.done / hashing.total : 0, length: hashing.total, downloaded: hashing.done })
    return { verb, snapshot: s }
  })
  torrent.once('ready', async () => {
    verb = 'Seeding'
    if (o['torrent-file']) await writeFile(o['torrent-file'], torrent.torrentFile)
    for (const p of o.peer ?? []) torrent.addPeer(p)
    progress.log(`Seeding ${torrent.name} (${formatBytes(torrent.length)}, ${torrent.files.length} file${torrent.files.length === 1 ? '' : 's'})`)
    progress.log(`Info hash: ${torrent.infoHash}`)
    progress.log(`Magnet: ${torrent.magnetURI}`)
    if (progress.quiet) process.stdout.write(torrent.magnetURI + '\n')
  })
}

// --- create --------------------------------------------------------------------------------------

function createOptions (o) {
  const opts = {}
  if (o.name) opts.name = o.name
  if (o.comment) opts.comment = o.comment
  if (o.private) opts.private = true
  if (o['piece-length'] !== undefined) {
    // Any length, as create-torrent takes (BEP 3); the engine's bound is 256 MiB.
    opts.pieceLength = parseInteger(o['piece-length'], 'piece-length', { min: 1, max: 2 ** 28 })
  }
  if (o['url-list']) opts.urlList = o['url-list']
  return opts
}

async function create (paths, o) {
  if (paths.length === 0) throw new UsageError('what to make a torrent of? Give files or folders')
  for (const p of paths) {
    await stat(p).catch(err => { throw new UsageError(`${p}: ${err.code === 'ENOENT' ? 'no such file or folder' : err.message}`) })
  }
  const opts = createOptions(o)
  if (o.announce) opts.announce = o.announce
  // Piped with no -o, the .torrent itself goes to standard output (webtorrent-cli's
  // `create DIR > x.torrent`) and what is said goes to standard error.
  const toStdout = o.out === '-' || (o.out === undefined && !process.stdout.isTTY)
  const progress = new Progress({ quiet: o.quiet, out: toStdout ? process.stderr : process.stdout })
  const state = { done: 0, total: 0 }
  progress.start(() => ({ verb: 'Hashing', snapshot: { name: opts.name ?? paths.map(p => path.basename(path.resolve(p))).join(', '), ready: true, progress: state.total ? state.done / state.total : 0, length: state.total, downloaded: state.done, uploaded: 0, down: 0, up: 0, peers: 0, eta: NaN } }))
  const bytes = await createTorrent(paths.length === 1 ? paths[0] : paths, opts, (done, total) => { state.done = done; state.total = total })
  progress.stop()
  const parsed = await parseTorrent(bytes)
  const file = toStdout ? null : o.out ?? `${parsed.name.replace(/[/\\]/g, '_')}.torrent`
  if (toStdout) await new Promise((resolve, reject) => process.stdout.write(bytes, err => err ? reject(err) : resolve()))
  else await writeFile(file, bytes)
  const say = toStdout ? console.error : console.log
  if (o.quiet) return file && say(file)
  say(`${file ? `Wrote ${file}` : 'Wrote the .torrent to standard output'}: ${parsed.name}, ${formatBytes(parsed.length)} in ${parsed.files.length} file${parsed.files.length === 1 ? '' : 's'}, ${parsed.pieces.length} pieces of ${formatBytes(parsed.pieceLength)}`)
  say(`Info hash: ${parsed.infoHash}`)
  say(`Magnet: ${toMagnetURI(parsed)}`)
}

// --- info ----------------------------------------------------------------------------------------

async function info ([arg], o) {
  let id = await torrentId(arg)
  if (typeof id === 'string' && /^https?:\/\//i.test(id)) {
    const res = await fetch(id).catch(err => { throw new Error(`${id}: ${err.cause?.message ?? err.message}`) })
    if (!res.ok) throw new Error(`${id}: HTTP ${res.status}`)
    id = new Uint8Array(await res.arrayBuffer())
  }
  const parsed = await parseTorrent(id)
  const magnet = toMagnetURI(parsed)
  // JSON as webtorrent-cli prints it (parse-torrent's fields but the info's bytes), for
  // scripts: asked for, written to a file, or piped.
  if (o.json || o.out !== undefined || (!o.table && !process.stdout.isTTY)) {
    const plain = Object.fromEntries(Object.entries(parsed).filter(([, v]) => !(v instanceof Uint8Array)))
    // webtorrent-cli's exact fields; --json adds the magnet link.
    const json = JSON.stringify(o.json ? { ...plain, magnetURI: magnet } : plain, null, 2)
    return o.out !== undefined ? writeFile(o.out, json) : console.log(json)
  }
  const rows = [['Name', parsed.name ?? parsed.dn ?? '(not in the magnet link)'], ['Info hash', parsed.infoHash]]
  if (parsed.files) {
    rows.push(['Size', `${formatBytes(parsed.length)} (${parsed.length} bytes) in ${parsed.files.length} file${parsed.files.length === 1 ? '' : 's'}`])
    rows.push(['Pieces', `${parsed.pieces.length} of ${formatBytes(parsed.pieceLength)}`])
    rows.push(['Private', parsed.private ? 'yes' : 'no'])
    if (parsed.created) rows.push(['Created', parsed.created.toISOString()])
    if (parsed.createdBy) rows.push(['Created by', parsed.createdBy])
    if (parsed.comment) rows.push(['Comment', parsed.comment])
  } else {
    rows.push(['Files', 'not in a magnet link: they come with the metadata from peers'])
  }
  for (const t of parsed.announce ?? []) rows.push(['Tracker', t])
  for (const u of parsed.urlList ?? []) rows.push(['Web seed', u])
  rows.push(['Magnet', magnet])
  for (const [k, v] of rows) console.log(`${(k + ':').padEnd(12)}${v}`)
  if (parsed.files) {
    console.log('Files:')
    const width = String(parsed.files.length - 1).length
    parsed.files.forEach((f, i) => console.log(`  ${String(i).padStart(width)}  ${formatBytes(f.length).padStart(10)}  ${f.path}`))
  }
}

// --- downloadmeta ---------------------------------------------------------------------------------

// As webtorrent-cli's: each magnet's metadata from peers, written as <out>/<info-hash>.torrent.
async function downloadMeta (args, o) {
  if (args.length === 0) throw new UsageError('which torrent? Give a magnet link or an info-hash')
  const ids = []
  for (const a of args) ids.push(await torrentId(a))
  const out = path.resolve(o.out ?? '.')
  const run = new Run({ ...o, quiet: true })
  let left = ids.length
  for (const id of ids) {
    const torrent = run.client.add(id, { store: 'memory', announce: o.announce ?? [] })
    torrent.on('error', err => run.fail(err))
    torrent.once('infoHash', () => { for (const p of o.peer ?? []) torrent.addPeer(p) })
    torrent.once('metadata', async () => {
      torrent.files.forEach(f => f.deselect())
      const file = path.join(out, `${torrent.infoHash}.torrent`)
      try {
        await writeFile(file, torrent.torrentFile)
      } catch (err) {
        return run.fail(new Error(`${file}: ${err.message}`))
      }
      if (!o.quiet) console.log(`Wrote ${file}: ${torrent.name}`)
      if (--left === 0) run.exit(0)
    })
  }
}

// --- serve ---------------------------------------------------------------------------------------

async function serve (args, o) {
  if (args.length === 0) throw new UsageError('what to serve? Give one or more torrents')
  const ids = []
  for (const a of args) ids.push(await torrentId(a))
  const run = new Run({ ...o, quiet: true })
  const out = path.resolve(o.out ?? '.')
  const origin = await run.listen({ wildcard: true })
  console.log(`Serving on ${origin}${run.server.pathname}/ (Ctrl-C to stop)`)
  for (const id of ids) {
    const torrent = run.client.add(id, { path: out, announce: o.announce ?? [] })
    torrent.on('error', err => run.fail(err))
    torrent.once('infoHash', () => { for (const p of o.peer ?? []) torrent.addPeer(p) })
    torrent.once('ready', () => {
      // Nothing is fetched until a request asks for it: the server streams what it is asked.
      torrent.files.forEach(f => f.deselect())
      console.log(`${torrent.name}: ${origin}${run.server.pathname}/${torrent.infoHash}/`)
      for (const f of torrent.files) console.log(`  ${origin}${run.server.urlOf(f)}`)
    })
  }
}

async function version () {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8').catch(() => '{}'))
  return pkg.version ?? 'unknown'
}

// --- main ----------------------------------------------------------------------------------------

async function main (argv) {
  let command
  try {
    command = parseCommand(argv)
  } catch (err) {
    console.error(`wasmtorrent: ${err.message}`)
    return 2
  }
  if (command.help) {
    console.log(helpText(command.help === true ? null : command.help))
    return 0
  }
  try {
    await COMMANDS[command.name].run(command.args, command.o)
  } catch (err) {
    console.error(`wasmtorrent: ${err.message}`)
    if (err instanceof UsageError) console.error(`See: wasmtorrent ${command.name} --help`)
    return err instanceof UsageError ? 2 : 1
  }
  return null // still running: the command exits by itself
}

main(process.argv.slice(2)).then(code => { if (code !== null) process.exit(code) })
