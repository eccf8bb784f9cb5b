// The file-sharing demo: drop files to seed them and get a link; opening the link in
// another tab (or browser) downloads them over WebRTC. Built only on the public API.
import WasmTorrent from '../../dist/wasmtorrent.js'

const $ = id => document.getElementById(id)

// `npm start` serves the tracker's address; elsewhere, pass ?tracker=wss://...
async function trackerOptions () {
  const param = new URLSearchParams(location.search).get('tracker')
  if (param) return { announce: [param] }
  const res = await fetch('/demo-config.json').catch(() => null)
  return res?.ok ? res.json() : {}
}

function formatBytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i ? n.toFixed(1) : n} ${units[i]}`
}

function showStatus (torrent) {
  $('status').textContent =
    `${(torrent.progress * 100).toFixed(1)}% · ↓ ${formatBytes(torrent.downloadSpeed)}/s · ` +
    `↑ ${formatBytes(torrent.uploadSpeed)}/s · ${torrent.numPeers} peer${torrent.numPeers === 1 ? '' : 's'}`
  $('progress').value = torrent.progress
}

async function listFiles (torrent) {
  $('files').replaceChildren()
  for (const file of torrent.files) {
    const link = document.createElement('a')
    link.href = URL.createObjectURL(await file.blob())
    link.download = file.name
    link.textContent = `${file.path} (${formatBytes(file.length)})`
    const item = document.createElement('li')
    item.append(link)
    $('files').append(item)
  }
}

const client = new WasmTorrent({ tracker: await trackerOptions() })
client.on('error', err => { $('error').textContent = err.message })
window.client = client  // for the browser test and the curious

function seed (files) {
  if (files.length === 0) return
  $('send').classList.add('hidden')
  // A big file takes a while to hash: say how far it is.
  const seeding = client.seed(Array.from(files), torrent => {
    const link = `${location.origin}${location.pathname}${location.search}#${torrent.magnetURI}`
    $('seed-name').textContent = torrent.name
    $('share-link').value = link
    $('magnet').value = torrent.magnetURI
    $('sharing').classList.remove('hidden')
    showStatus(torrent)
    setInterval(() => showStatus(torrent), 1000)
  })
  seeding.on('hashing', (hashed, total) => {
    $('status').textContent = `Preparing the torrent: ${(hashed / total * 100).toFixed(0)}% of ${formatBytes(total)} hashed`
  })
}

function receive (magnet) {
  $('send').classList.add('hidden')
  $('receive').classList.remove('hidden')
  const torrent = client.add(magnet)
  torrent.on('metadata', () => { $('name').textContent = torrent.name })
  torrent.on('error', err => { $('error').textContent = err.message })
  const timer = setInterval(() => showStatus(torrent), 500)
  torrent.on('done', async () => {
    clearInterval(timer)
    showStatus(torrent)
    await listFiles(torrent)
    document.body.dataset.done = 'true'
  })
}

const drop = $('drop')
drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over') })
drop.addEventListener('dragleave', () => drop.classList.remove('over'))
drop.addEventListener('drop', e => { e.preventDefault(); seed(e.dataTransfer.files) })
$('pick').addEventListener('change', e => seed(e.target.files))

const hash = decodeURIComponent(location.hash.slice(1))
if (hash.startsWith('magnet:')) receive(hash)
