// The video player demo: paste a magnet (or play the demo torrent that `npm start`
// seeds) and the first video file plays while it downloads. Built only on the public API:
// the service worker (dist/wasmtorrent-sw.js, served at the site root) streams the file
// into <video>; `?seed=<url>` makes this page seed that URL instead (the demo server's
// seeder does so).
import WasmTorrent from '../../dist/wasmtorrent.js'

const $ = id => document.getElementById(id)
const params = new URLSearchParams(location.search)

async function demoConfig () {
  const res = await fetch('/demo-config.json').catch(() => null)
  return res?.ok ? res.json() : {}
}

function formatBytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i ? n.toFixed(1) : n} ${units[i]}`
}

// The service worker that streams into <video>; null where there is none.
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

// have / downloading / missing, one column per piece (or per group of pieces).
function drawPieces (torrent) {
  const canvas = $('pieces')
  const width = canvas.width = canvas.clientWidth
  const ctx = canvas.getContext('2d')
  const states = torrent.pieceStates()
  const n = states?.length ?? 0
  ctx.fillStyle = '#ddd'
  ctx.fillRect(0, 0, width, canvas.height)
  if (!states || n === 0) return
  const colors = { have: '#2a7', downloading: '#f90' }
  for (let x = 0; x < width; x++) {
    const first = Math.floor(x * n / width)
    const last = Math.max(first, Math.floor((x + 1) * n / width) - 1)
    // Engine states: 0 missing, 1 downloading, 2 being verified, 3 have.
    let state = 'have'
    for (let p = first; p <= last; p++) {
      if (states[p] === 0) { state = 'missing'; break }
      if (states[p] < 3) state = 'downloading'
    }
    if (colors[state]) {
      ctx.fillStyle = colors[state]
      ctx.fillRect(x, 0, 1, canvas.height)
    }
  }
}

function showStatus (torrent) {
  $('status').textContent =
    `${(torrent.progress * 100).toFixed(1)}% · ↓ ${formatBytes(torrent.downloadSpeed)}/s · ` +
    `↑ ${formatBytes(torrent.uploadSpeed)}/s · ${torrent.numPeers} peer${torrent.numPeers === 1 ? '' : 's'}`
  drawPieces(torrent)
}

const config = await demoConfig()
const client = new WasmTorrent({ tracker: { announce: config.announce ?? [], rtcConfig: config.rtcConfig } })
client.on('error', err => { $('error').textContent = err.message })
window.client = client // for the browser test and the curious

async function play (magnet) {
  $('error').textContent = ''
  for (const t of client.torrents) t.destroy()
  const torrent = client.add(magnet)
  window.torrent = torrent
  torrent.on('warning', w => console.warn(w.message))
  torrent.on('error', err => { $('error').textContent = err.message })
  const timer = setInterval(() => showStatus(torrent), 500)
  torrent.on('close', () => clearInterval(timer))
  torrent.once('ready', () => {
    const file = torrent.files.find(f => /^(video|audio)\//.test(f.type)) ?? torrent.files[0]
    file.streamTo($('video'))
    $('video').play().catch(err => { $('error').textContent = `play: ${err.message}` })
  })
}

async function seed (url) {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  const name = url.split('/').pop()
  const torrent = await client.seedAsync(new File([await res.blob()], name))
  window.seededMagnet = torrent.magnetURI
  $('magnet').value = torrent.magnetURI
  setInterval(() => showStatus(torrent), 1000)
}

if (params.has('seed')) {
  await seed(params.get('seed'))
} else {
  const registration = await serviceWorker().catch(err => {
    console.warn('no service worker:', err.message)
    return null
  })
  if (registration) client.createServer({ controller: registration })
  $('open').addEventListener('submit', e => {
    e.preventDefault()
    if ($('magnet').value.trim()) play($('magnet').value.trim())
  })
  if (config.demoMagnet) {
    $('demo').classList.remove('hidden')
    $('demo').addEventListener('click', () => { $('magnet').value = config.demoMagnet; play(config.demoMagnet) })
  }
  const fromLink = location.hash.slice(1)
  if (fromLink.startsWith('magnet:')) { $('magnet').value = fromLink; play(fromLink) }
  window.playerReady = true
}
