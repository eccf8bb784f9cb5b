// The hybrid CDN demo: the demo server (scripts/serve.mjs) puts a video on a web seed, an
// HTTP server on another origin, and serves a .torrent that names it in its url-list. This
// page plays the video while it downloads and shows, every 500 ms, where this tab's bytes
// came from (the server or peers: other tabs with this page) and how much the server has
// sent to all tabs together. Built only on the public API, like examples/video.
import WasmTorrent from '../../dist/wasmtorrent.js'

const $ = id => document.getElementById(id)
const params = new URLSearchParams(location.search)
const SERVER = '#e8772e'
const PEERS = '#2a7'
const TICK_MS = 500

function formatBytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i ? n.toFixed(1) : n} ${units[i]}`
}

const percent = (part, whole) => whole > 0 ? `${Math.round(100 * part / whole)}%` : '–'

// The service worker that streams into <video>; null where there is none (streamTo then
// uses Media Source Extensions).
async function serviceWorker () {
  if (!navigator.serviceWorker) return null
  const registration = await navigator.serviceWorker.register('/wasmtorrent-sw.js', { scope: '/' })
  await navigator.serviceWorker.ready
  // createServer wants the worker 'activated' (as WebTorrent's); 'ready' comes at 'activating'
  const worker = registration.active
  if (worker.state !== 'activated') {
    await new Promise(resolve => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve()))
  }
  if (!navigator.serviceWorker.controller) {
    await new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
  }
  return registration
}

// A canvas sized to its box in device pixels (sharp lines), drawn in CSS pixels.
function context2d (canvas) {
  const dpr = window.devicePixelRatio || 1
  const width = canvas.clientWidth
  const height = canvas.clientHeight
  canvas.width = Math.round(width * dpr)
  canvas.height = Math.round(height * dpr)
  const ctx = canvas.getContext('2d')
  ctx.scale(dpr, dpr)
  return { ctx, width, height }
}

// A round step for axis ticks: at most about `count` of them over `range`.
function niceStep (range, count, steps) {
  return steps.find(s => range / s <= count) ?? steps.at(-1)
}

// This tab's bytes over time, stacked: from the server below, from peers above; the
// dashed line is the file's size, which the stack reaches when the tab has it all.
function drawChart (samples, fileSize) {
  const { ctx, width, height } = context2d($('chart'))
  const left = 64; const right = 16; const top = 8; const bottom = 22
  const w = width - left - right
  const h = height - top - bottom
  const last = samples.at(-1) ?? { t: 0, server: 0, peers: 0 }
  const tMax = Math.max(10, last.t) // seconds since the torrent was added
  const yMax = Math.max(fileSize, ...samples.map(s => s.server + s.peers)) * 1.08 || 1
  const x = t => left + w * t / tMax
  const y = bytes => top + h * (1 - bytes / yMax)

  ctx.font = '12px system-ui, sans-serif'
  ctx.fillStyle = '#666'
  ctx.strokeStyle = '#eee'
  ctx.lineWidth = 1
  ctx.textAlign = 'right'
  ctx.textBaseline = 'middle'
  const yStep = niceStep(yMax, 4, [256, 512, 1024, 2048, 4096, 8192].map(k => k * 1024).concat([16, 32, 64, 128, 256].map(m => m * 1048576)))
  for (let b = 0; b <= yMax; b += yStep) {
    ctx.beginPath(); ctx.moveTo(left, y(b) + 0.5); ctx.lineTo(width - right, y(b) + 0.5); ctx.stroke()
    ctx.fillText(formatBytes(b), left - 6, y(b))
  }
  ctx.textAlign = 'center'
  ctx.textBaseline = 'top'
  const tStep = niceStep(tMax, 6, [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600])
  for (let t = 0; t <= tMax; t += tStep) ctx.fillText(`${t} s`, x(t), top + h + 5)

  if (samples.length > 0) {
    // An area between two curves over the samples, closed along the lower one.
    const area = (lower, upper, color) => {
      ctx.beginPath()
      ctx.moveTo(x(samples[0].t), y(upper(samples[0])))
      for (const s of samples) ctx.lineTo(x(s.t), y(upper(s)))
      for (let i = samples.length - 1; i >= 0; i--) ctx.lineTo(x(samples[i].t), y(lower(samples[i])))
      ctx.closePath()
      ctx.fillStyle = color
      ctx.fill()
    }
    area(() => 0, s => s.server, SERVER)
    area(s => s.server, s => s.server + s.peers, PEERS)
  }

  if (fileSize > 0) {
    ctx.strokeStyle = '#888'
    ctx.setLineDash([5, 4])
    ctx.beginPath(); ctx.moveTo(left, y(fileSize) + 0.5); ctx.lineTo(width - right, y(fileSize) + 0.5); ctx.stroke()
    ctx.setLineDash([])
  }
  ctx.strokeStyle = '#999'
  ctx.beginPath(); ctx.moveTo(left + 0.5, top); ctx.lineTo(left + 0.5, top + h + 0.5); ctx.lineTo(width - right, top + h + 0.5); ctx.stroke()
}

// The server's bytes (all tabs) out of one file per tab that has joined, which is what it
// would have sent without peers; a tick between tabs.
function drawServer (stats) {
  const { ctx, width, height } = context2d($('server'))
  const whole = Math.max(stats.tabs * stats.fileSize, stats.bytes, 1)
  ctx.fillStyle = '#eee'
  ctx.fillRect(0, 0, width, height)
  ctx.fillStyle = SERVER
  ctx.fillRect(0, 0, width * stats.bytes / whole, height)
  ctx.fillStyle = '#fff'
  for (let i = 1; i < stats.tabs; i++) ctx.fillRect(Math.round(width * i * stats.fileSize / whole), 0, 2, height)
}

function showTab (torrent, samples) {
  const total = torrent.length ?? 0
  const fromServer = torrent.webSeedDownloaded
  const fromPeers = Math.max(0, torrent.received - fromServer)
  if (!torrent.done || samples.length === 0 || samples.at(-1).server + samples.at(-1).peers < torrent.received) {
    // The chart covers the download; once the tab has the file it stays as it ended.
    samples.push({ t: (performance.now() - torrent.addedAt) / 1000, server: fromServer, peers: fromPeers })
  }
  drawChart(samples, total)
  // Other tabs only: numPeers counts the server too (a web seed is a wire, as WebTorrent's).
  const peers = torrent.wires.filter(w => w.type !== 'webSeed').length
  $('status').textContent =
    `${(torrent.progress * 100).toFixed(0)}% of ${formatBytes(total)} · ` +
    `from the server ${formatBytes(fromServer)}, from peers ${formatBytes(fromPeers)}: ` +
    `${percent(fromPeers, fromServer + fromPeers)} offload · ` +
    `${peers} peer${peers === 1 ? '' : 's'} · given to other tabs ${formatBytes(torrent.uploaded)}`
}

async function showServer (statsURL) {
  const res = await fetch(statsURL, { cache: 'no-store' })
  if (!res.ok) return
  const stats = await res.json()
  window.serverStats = stats
  drawServer(stats)
  const copies = stats.fileSize ? stats.bytes / stats.fileSize : 0
  $('server-status').textContent =
    `The server has sent ${formatBytes(stats.bytes)} (${copies.toFixed(2)} × the file) to the ` +
    `${stats.tabs} tab${stats.tabs === 1 ? '' : 's'} that joined; without peers it would have sent ` +
    `${formatBytes(stats.tabs * stats.fileSize)} (${stats.tabs} ×): ` +
    `${percent(Math.max(0, stats.tabs * stats.fileSize - stats.bytes), stats.tabs * stats.fileSize)} saved.`
}

const config = await fetch('/demo-config.json').then(res => res.ok ? res.json() : {}, () => ({}))
if (!config.hybrid) {
  $('error').textContent = 'No hybrid demo here: this page needs the demo server (npm start).'
  throw new Error('no hybrid demo in /demo-config.json')
}
// 'fallback' (the default): the server only for what peers cannot give in time.
const policy = params.get('policy') === 'always' ? 'always' : 'fallback'
const client = new WasmTorrent({ tracker: { announce: config.announce ?? [], rtcConfig: config.rtcConfig }, webSeeds: policy })
client.on('error', err => { $('error').textContent = err.message })
window.client = client // for the browser test and the curious

const registration = await serviceWorker().catch(err => {
  console.warn('no service worker:', err.message)
  return null
})
if (registration) client.createServer({ controller: registration })

// In memory: every tab (and every reload) downloads the file, so each one shows its own
// split; the default persistent store would make a reload find the file already there.
const torrent = client.add(new URL(config.hybrid.torrent, location.href).href, { store: 'memory' })
torrent.addedAt = performance.now()
window.torrent = torrent
torrent.on('warning', w => {
  console.warn(w.message)
  $('warning').textContent = `warning: ${w.message}`
})
torrent.on('error', err => { $('error').textContent = err.message })
torrent.once('ready', () => {
  const file = torrent.files.find(f => /^video\//.test(f.type)) ?? torrent.files[0]
  file.streamTo($('video'))
  $('video').play().catch(err => { $('error').textContent = `play: ${err.message}` })
})

const samples = []
let statsPending = false
setInterval(() => {
  showTab(torrent, samples)
  if (statsPending) return // the server is slow to answer: skip a tick, don't pile up
  statsPending = true
  showServer(config.hybrid.stats).catch(() => {}).finally(() => { statsPending = false })
}, TICK_MS)
window.hybridReady = true
