// What the CLI shows while it works: on a terminal, a block redrawn in place (log-update
// does the cursor work); piped, plain lines at an interval, one fact per `key value` pair
// so that scripts (and our tests) can read them.
import { createLogUpdate } from 'log-update'

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes (n) {
  if (!Number.isFinite(n) || n < 0) n = 0
  let i = 0
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++ }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${UNITS[i]}`
}

// Milliseconds as h:mm:ss or m:ss; '-' when unknown.
export function formatDuration (ms) {
  if (!Number.isFinite(ms) || ms < 0) return '-'
  const s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = n => String(n).padStart(2, '0')
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`
}

function bar (fraction, width = 30) {
  const full = Math.round(Math.min(Math.max(fraction, 0), 1) * width)
  return '█'.repeat(full) + '░'.repeat(width - full)
}

// A snapshot of a torrent for display; `files` (default: all) are those the run waits for
// (the CLI's --select), so that progress, size and ETA are the selection's.
export function snapshot (torrent, fallbackName, files = null) {
  const ready = torrent.ready
  const selected = ready && files ? files : null
  const length = selected ? selected.reduce((n, f) => n + f.length, 0) : (ready ? torrent.length : 0)
  const downloaded = selected ? selected.reduce((n, f) => n + f.downloaded, 0) : torrent.downloaded
  const done = selected ? selected.every(f => f.done) : torrent.done
  const down = torrent.downloadSpeed
  return {
    name: torrent.name ?? fallbackName ?? torrent.infoHash ?? '',
    ready,
    done,
    progress: !ready ? 0 : selected ? (length ? downloaded / length : 1) : torrent.progress,
    downloaded,
    uploaded: torrent.uploaded,
    length,
    down,
    up: torrent.uploadSpeed,
    peers: torrent.numPeers,
    eta: done ? 0 : selected ? (down > 0 ? ((length - downloaded) / down) * 1000 : Infinity) : torrent.timeRemaining
  }
}

export class Progress {
  // out: a writable stream; tty: redraw in place (a terminal of unknown width cannot be
  // redrawn: plain lines); interval: ms between plain lines.
  constructor ({ out = process.stdout, tty = Boolean(out.isTTY && out.columns > 0), interval = 1000, quiet = false } = {}) {
    this.out = out
    this.tty = tty
    this.quiet = quiet
    this.interval = interval
    this.lines = new Map() // extra lines of the block: what is being played, notices
    this.render = null
    this.timer = null
    this.draw = tty ? createLogUpdate(out) : null
  }

  // Redraws from render() (returns { verb, snapshot }) every interval (TTY: every 500 ms).
  start (render) {
    this.render = render
    if (this.quiet || this.timer) return
    this.timer = setInterval(() => this.update(), this.tty ? 500 : this.interval)
    this.timer.unref?.()
    this.update()
  }

  // Extra information shown with the progress (key 'playing', 'notice', ...); null removes.
  set (key, text) {
    if (text == null) this.lines.delete(key)
    else this.lines.set(key, text)
    if (this.tty && this.render) this.update()
  }

  // A message that stays: above the block on a terminal, as its own line when piped.
  log (text) {
    if (this.quiet) return
    if (this.draw) {
      this.draw.clear()
      this.out.write(text + '\n')
      this.update()
    } else {
      this.out.write(text + '\n')
    }
  }

  update () {
    if (this.quiet || !this.render) return
    const { verb, snapshot: s } = this.render()
    if (this.draw) this.draw(this.block(verb, s))
    else this.out.write(this.line(verb, s) + '\n')
  }

  block (verb, s) {
    const rows = [`${verb}: ${s.name}`]
    if (!s.ready) {
      rows.push('Fetching the metadata from peers...')
    } else {
      rows.push(`${bar(s.progress)} ${(s.progress * 100).toFixed(1)}%  ${formatBytes(s.downloaded)} of ${formatBytes(s.length)}`)
    }
    rows.push(`Speed: ↓ ${formatBytes(s.down)}/s  ↑ ${formatBytes(s.up)}/s   Peers: ${s.peers}   ` +
      (s.done ? `Uploaded: ${formatBytes(s.uploaded)}` : `ETA: ${formatDuration(s.eta)}`))
    for (const [key, text] of this.lines) rows.push(`${key[0].toUpperCase()}${key.slice(1)}: ${text}`)
    return rows.join('\n')
  }

  // One line, `key value` pairs with fixed keys; numbers in bytes and bytes/s.
  line (verb, s) {
    const parts = [verb.toLowerCase(), `progress ${(s.progress * 100).toFixed(1)}%`,
      `have ${s.downloaded}`, `size ${s.length}`, `down ${Math.round(s.down)}/s`,
      `up ${Math.round(s.up)}/s`, `uploaded ${s.uploaded}`, `peers ${s.peers}`, `eta ${formatDuration(s.eta)}`]
    return parts.join(' | ')
  }

  stop () {
    clearInterval(this.timer)
    this.timer = null
    if (this.render && !this.quiet) this.update()
    this.draw?.done()
    this.render = null
  }
}
