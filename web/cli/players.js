// The local players of the command-line client (--vlc, --mpv, --iina, --xbmc): VLC, mpv and
// IINA run as child processes on the stream URL; Kodi (xbmc) has no command that plays a URL
// in a running instance, so it is told to over its HTTP JSON-RPC (Player.Open).
//   const player = await launchPlayer('vlc', url, { title, args, subtitles })  // url: or [url, ...], a playlist
//   player.exited.then(({ code, signal }) => ...)  // resolves, never rejects
//   player.stop()                                  // kills the player (Kodi: stops watching)
// launchPlayer rejects with a CastError (./cast/errors.js): not_installed when the
// executable is not found, no_device when Kodi does not answer, cast_failed when it refuses.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CastError } from './cast/errors.js'

export const PLAYERS = ['vlc', 'mpv', 'iina', 'mplayer', 'smplayer', 'xbmc']

const withTitle = (flag, title) => title ? [`${flag}=${title}`] : []

// What each executable is called on PATH, where it hides when not on PATH (macOS app bundles,
// Windows' Program Files), and its arguments before the user's.
const EXECUTABLES = {
  vlc: {
    label: 'VLC',
    command: 'vlc',
    elsewhere: env => ({
      darwin: ['/Applications/VLC.app/Contents/MacOS/VLC', path.join(os.homedir(), 'Applications/VLC.app/Contents/MacOS/VLC')],
      win32: [path.join(env.ProgramFiles ?? 'C:\\Program Files', 'VideoLAN', 'VLC', 'vlc.exe')]
    })[process.platform] ?? [],
    // --play-and-exit: the CLI learns that the user is done when the player exits
    args: title => ['--play-and-exit', ...withTitle('--meta-title', title)],
    subtitles: file => [`--sub-file=${file}`],
    site: 'https://www.videolan.org/vlc/'
  },
  mpv: {
    label: 'mpv',
    command: 'mpv',
    elsewhere: () => process.platform === 'darwin' ? ['/Applications/mpv.app/Contents/MacOS/mpv'] : [],
    // the window title shows the media title by default; --title would expand ${...} in a name
    args: title => withTitle('--force-media-title', title),
    subtitles: file => [`--sub-file=${file}`],
    site: 'https://mpv.io'
  },
  iina: {
    label: 'IINA',
    command: 'iina',
    elsewhere: () => process.platform === 'darwin' ? ['/Applications/IINA.app/Contents/MacOS/iina-cli'] : [],
    // --no-stdin: iina-cli may take an empty standard input for a file to play;
    // --keep-running: it would otherwise quit at once, and the CLI take that for the end
    args: title => ['--no-stdin', '--keep-running', ...withTitle('--mpv-force-media-title', title)],
    subtitles: file => [`--mpv-sub-file=${file}`],
    site: 'https://iina.io (macOS only)'
  },
  mplayer: {
    label: 'MPlayer',
    command: 'mplayer',
    elsewhere: () => [],
    // as webtorrent-cli starts it, but played once (its -loop 0 would loop for ever)
    args: title => ['-really-quiet', '-noidx', ...(title ? ['-title', title] : [])],
    subtitles: file => ['-sub', file],
    site: 'http://www.mplayerhq.hu'
  },
  smplayer: {
    label: 'SMPlayer',
    command: 'smplayer',
    elsewhere: () => [],
    // -close-at-end: the CLI learns that the user is done when the player exits
    args: () => ['-close-at-end'],
    subtitles: file => ['-sub', file],
    site: 'https://www.smplayer.info'
  }
}

// Starts `name` (one of PLAYERS) on `url`. Options: title (shown by the player), args (the
// user's, after ours, so that they win), env (of the child, and its PATH is searched);
// for xbmc: host ('[user:password@]host[:port]', default 127.0.0.1:8080, Kodi's).
// Resolves once the player runs (Kodi: accepted the URL) with
// { name, command, args, child, exited, stop }; for xbmc, command is the JSON-RPC URL and
// child is null.
export async function launchPlayer (name, url, { title, args = [], subtitles, env = process.env, host, pollInterval } = {}) {
  const urls = [url].flat() // several: a playlist, played in order
  if (name === 'xbmc') {
    if (urls.length > 1 || subtitles) throw new CastError('cast_failed', 'Kodi: a playlist and subtitles are not supported yet; play one file without --subtitles')
    return openInKodi(urls[0], { host, pollInterval })
  }
  const player = Object.hasOwn(EXECUTABLES, name) ? EXECUTABLES[name] : null
  if (!player) throw new TypeError(`unknown player "${name}": one of ${PLAYERS.join(', ')}`)

  // Looked up before spawning, so that a missing player is a clear error here and never an
  // 'error' event on a child that some caller forgot to listen to.
  const elsewhere = player.elsewhere(env)
  const command = findExecutable(player.command, env) ?? elsewhere.find(isExecutable)
  if (!command) {
    const also = elsewhere.length ? ` nor at ${elsewhere.join(', ')}` : ''
    throw new CastError('not_installed', `${player.label} is not installed: \`${player.command}\` was not found on PATH${also}. Install it (${player.site}) or choose another player.`)
  }
  const argv = [...player.args(urls.length > 1 ? undefined : title), ...(subtitles ? player.subtitles(subtitles) : []), ...urls, ...args]
  // The player's output would garble the progress display: stdout is dropped, the end of
  // stderr kept to explain a failure. No stdin: mpv would read keys from the CLI's terminal.
  const child = spawn(command, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', text => { stderr = (stderr + text).slice(-4096) })
  const exited = new Promise(resolve => {
    child.once('exit', (code, signal) => resolve({ code, signal, stderr }))
  })
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', err => {
      const code = err.code === 'ENOENT' || err.code === 'EACCES' ? 'not_installed' : 'cast_failed'
      reject(new CastError(code, `${player.label} could not be started (${command}): ${err.message}`))
    })
  })
  child.on('error', () => {}) // after spawning, only a failed kill(): nothing to report
  const stop = () => { if (child.exitCode === null && child.signalCode === null) child.kill() }
  return { name, command, args: argv, child, exited, stop }
}

// The path of an executable named `command` on env's PATH (with PATHEXT's endings on
// Windows), or null. A command with a slash is taken as a path.
export function findExecutable (command, env = process.env) {
  const endings = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : ['']
  const dirs = /[/\\]/.test(command) ? [''] : (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean)
  for (const dir of dirs) {
    for (const ending of endings) {
      const file = path.resolve(dir, command + ending)
      if (isExecutable(file)) return file
    }
  }
  return null
}

function isExecutable (file) {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

// Kodi: Player.Open with the URL, then Player.GetActivePlayers every pollInterval ms, so
// that `exited` resolves when that playback ends (code 0) or Kodi stops answering (code 1).
async function openInKodi (url, { host = '127.0.0.1:8080', pollInterval = 5000 }) {
  const kodi = kodiEndpoint(host)
  await kodiCall(kodi, 'Player.Open', { item: { file: url } })
  let timer
  let stopped = false
  let finish
  const exited = new Promise(resolve => { finish = resolve })
  let playing = false
  let failures = 0
  const poll = async () => {
    try {
      const active = await kodiCall(kodi, 'Player.GetActivePlayers', {})
      failures = 0
      // Player.Open replaced whatever played before, so an active player is ours; it may
      // take a moment to appear while Kodi opens the stream
      if (active?.length) playing = true
      else if (playing) return finish({ code: 0, signal: null })
    } catch (err) {
      if (++failures >= 3) return finish({ code: 1, signal: null, error: err })
    }
    if (!stopped) timer = setTimeout(poll, pollInterval).unref()
  }
  timer = setTimeout(poll, pollInterval).unref()
  const stop = () => {
    stopped = true
    clearTimeout(timer)
    finish({ code: null, signal: null })
  }
  return { name: 'xbmc', command: kodi.endpoint, args: [], child: null, exited, stop }
}

// '[http://][user:password@]host[:port][/path]' → the JSON-RPC URL (port 8080 and /jsonrpc
// unless given) and its Basic authorization (Kodi's web server user, when one is set).
function kodiEndpoint (host) {
  const schemed = /^https?:\/\//i.test(host)
  let url
  try {
    url = new URL(schemed ? host : `http://${host}`)
  } catch {
    throw new TypeError(`not a Kodi address: "${host}" (host:port, e.g. 192.168.1.20:8080 or [fe80::1]:8080)`)
  }
  if (!schemed && url.port === '' && !/:80(\/|$)/.test(host)) url.port = '8080'
  if (url.pathname === '/') url.pathname = '/jsonrpc'
  const headers = { 'content-type': 'application/json' }
  if (url.username) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`
    url.username = url.password = ''
  }
  return { endpoint: url.href, headers }
}

let rpcId = 0

async function kodiCall (kodi, method, params) {
  let res
  try {
    res = await fetch(kodi.endpoint, {
      method: 'POST',
      headers: kodi.headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
      signal: AbortSignal.timeout(5000)
    })
  } catch (err) {
    const why = err.name === 'TimeoutError' ? 'no answer in 5 s' : (err.cause?.code ?? err.cause?.message ?? err.message)
    throw new CastError('no_device', `Kodi did not answer at ${kodi.endpoint} (${why}): is it running, with "Allow remote control via HTTP" on (Settings › Services › Control)? --xbmc-host names another host:port.`)
  }
  if (res.status === 401) {
    throw new CastError('cast_failed', `Kodi at ${kodi.endpoint} asks for its web server's user name and password: give them as --xbmc-host user:password@host:port`)
  }
  const body = await res.json().catch(() => null)
  if (!res.ok || !body) throw new CastError('cast_failed', `Kodi at ${kodi.endpoint} answered ${method} with HTTP ${res.status}, not JSON-RPC: is that Kodi's web server?`)
  if (body.error) throw new CastError('cast_failed', `Kodi refused ${method}: ${body.error.message ?? JSON.stringify(body.error)}`)
  return body.result
}

// File types a player can open, by extension (the type also serves the cast modules).
// (No prototype: 'x.constructor' is not a type.)
const MEDIA_TYPES = {
  __proto__: null,
  mp4: 'video/mp4', m4v: 'video/mp4', mkv: 'video/x-matroska', webm: 'video/webm', mov: 'video/quicktime',
  avi: 'video/x-msvideo', wmv: 'video/x-ms-wmv', flv: 'video/x-flv', ogv: 'video/ogg', '3gp': 'video/3gpp',
  ts: 'video/mp2t', m2ts: 'video/mp2t', mts: 'video/mp2t', mpg: 'video/mpeg', mpeg: 'video/mpeg',
  mp3: 'audio/mpeg', m4a: 'audio/mp4', m4b: 'audio/mp4', aac: 'audio/aac', flac: 'audio/flac',
  ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', wav: 'audio/wav', wma: 'audio/x-ms-wma'
}
// Subtitles: not played on their own, but a cast device may be given them beside the media.
const OTHER_TYPES = { __proto__: null, vtt: 'text/vtt', srt: 'application/x-subrip' }

const extensionOf = name => /\.([^./\\]+)$/.exec(name ?? '')?.[1].toLowerCase()

// The MIME type of a file name, by its extension ('application/octet-stream' if unknown).
export function contentTypeOf (name) {
  const ext = extensionOf(name)
  return MEDIA_TYPES[ext] ?? OTHER_TYPES[ext] ?? 'application/octet-stream'
}

export const isPlayable = name => MEDIA_TYPES[extensionOf(name)] !== undefined

// Of a torrent's files ({ name, path, length }), the largest that a player can open (the
// first of equals), or null.
export function pickPlayableFile (files) {
  let best = null
  for (const file of files ?? []) {
    if (isPlayable(file.name ?? file.path) && (!best || file.length > best.length)) best = file
  }
  return best
}
