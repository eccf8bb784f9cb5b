// The demo server: a WebSocket tracker (npm bittorrent-tracker) and a static file
// server for the repository (dist/ and examples/), both on 127.0.0.1. Pages read the
// tracker's URL from /demo-config.json. Used by `npm start` and by the browser tests.
// With seedDemo, a headless Chromium page seeds a demo video (made with ffmpeg,
// scripts/media.mjs) through examples/video, and /demo-config.json gives its magnet.
// Always, for examples/hybrid: a web seed (scripts/webseed.mjs) on a port of its own (another
// origin, as a CDN would be) serves the demo video, /demo/hybrid.torrent names it in its
// url-list, and /demo/hybrid-stats.json counts what the web seed has sent to all tabs.
//   node scripts/serve.mjs [port]     (default 8000; 0 picks a free one)
import { createServer } from 'node:http'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { testMedia } from './media.mjs'
import { startTracker } from './tracker.mjs'
import { startWebSeed } from './webseed.mjs'

const root = normalize(fileURLToPath(new URL('../', import.meta.url)))
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.webm': 'video/webm',
  '.torrent': 'application/x-bittorrent'
}

export async function startDemo ({ port = 8000, host = '127.0.0.1', seedDemo = false } = {}) {
  // Re-announces every 10 s (see tracker.mjs): a tab that missed its peers finds them
  // again quickly (a public tracker would use minutes).
  const tracker = await startTracker({ host, log: (...args) => console.error('[tracker]', ...args) })
  tracker.server.on('warning', err => console.error('[tracker]', err.message))
  const trackerURL = tracker.url
  const config = { announce: [trackerURL], rtcConfig: { iceServers: [] } }
  // Served at the root so that the worker's scope covers every page.
  const files = { '/wasmtorrent-sw.js': join(root, 'dist', 'wasmtorrent-sw.js') }
  if (seedDemo) files['/demo/demo.webm'] = await testMedia('webm')
  const hybrid = await startHybrid({ host, trackerURL, tracker })
  config.hybrid = { torrent: '/demo/hybrid.torrent', stats: '/demo/hybrid-stats.json' }

  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    if (path === '/demo-config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(config))
      return
    }
    if (path === config.hybrid.torrent) {
      res.writeHead(200, { 'content-type': types['.torrent'], 'cache-control': 'no-store' }).end(hybrid.torrent)
      return
    }
    if (path === config.hybrid.stats) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(hybrid.stats()))
      return
    }
    if (path === '/') {
      res.writeHead(302, { location: '/examples/share/' }).end()
      return
    }
    let file = files[path] ?? normalize(join(root, path))
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return res.writeHead(403).end()
    let info = await stat(file).catch(() => null)
    if (info?.isDirectory()) {
      file = join(file, 'index.html')
      info = await stat(file).catch(() => null)
    }
    if (!info?.isFile()) return res.writeHead(404).end('not found')
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
    createReadStream(file).pipe(res)
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve))
  const url = `http://${host}:${server.address().port}`
  const seeder = seedDemo ? await startSeeder(`${url}/examples/video/?seed=/demo/demo.webm`) : null
  if (seeder) config.demoMagnet = seeder.magnet
  return {
    url,
    trackerURL,
    demoMagnet: seeder?.magnet,
    hybrid, // { webSeedURL, infoHash, fileSize, stats() }
    close: () => Promise.all([
      seeder?.close(),
      hybrid.close(),
      new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }),
      tracker.close()
    ])
  }
}

// The hybrid CDN demo's server side: the demo video on a web seed, a .torrent whose url-list
// points at it, and the web seed's own count of bytes sent (the page shows it next to its
// own). `tabs` counts the peer ids that have announced the torrent: each tab (and each
// reload) is one, a page that would have fetched the whole file from the server without peers.
async function startHybrid ({ host, trackerURL, tracker }) {
  const path = '/hybrid-demo.webm'
  // The 1 Mbit/s WebM (7.8 MB), not the 2 MB one of examples/video: a tab that joins takes
  // from the server about what its player reads before a peer unchokes it (about a second,
  // a few hundred KB on loopback), whatever the file's size; in a 2 MB clip that is a third
  // of it, which says more about the clip than about a real video.
  const media = await testMedia('webm-vp8')
  const seed = await startWebSeed({ host, files: { [path]: media } })
  let data, torrent, infoHash
  try {
    // The library's own Node build (npm start builds dist/ first).
    const { createTorrent, parseTorrent } = await import('../dist/wasmtorrent.node.js')
    data = await readFile(media)
    torrent = await createTorrent([{ path: path.slice(1), data }], { announceList: [[trackerURL]], urlList: [seed.url + path] })
    infoHash = (await parseTorrent(torrent)).infoHash
  } catch (err) {
    await seed.close()
    throw err
  }
  const tabs = new Set()
  for (const event of ['start', 'update', 'complete']) {
    tracker.server.on(event, (peerId, params) => { if (params?.info_hash === infoHash) tabs.add(peerId) })
  }
  return {
    webSeedURL: seed.url + path,
    infoHash,
    fileSize: data.length,
    torrent,
    stats: () => {
      const s = seed.stats()
      return { bytes: s.byPath[path] ?? 0, requests: s.requests, fileSize: data.length, tabs: tabs.size }
    },
    close: () => seed.close()
  }
}

// A headless Chromium page that seeds the demo video (examples/video?seed=...), so that a
// player tab has a peer to stream from.
async function startSeeder (pageURL) {
  const { launchBrowser, newContext } = await import('../tests/browser/harness.mjs')
  const browser = await launchBrowser()
  try {
    const page = await (await newContext(browser)).newPage()
    page.on('pageerror', err => console.error('[demo seeder]', err.message))
    await page.goto(pageURL)
    const magnet = await page.waitForFunction(() => window.seededMagnet, null, { timeout: 60_000 }).then(h => h.jsonValue())
    return { magnet, close: () => browser.close() }
  } catch (err) {
    await browser.close()
    throw new Error(`the demo seeder did not start: ${err.message}`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8000)
  console.log('[demo] starting the tracker, the web server, a web seed and the demo video seeder (headless Chromium)')
  const demo = await startDemo({ port, seedDemo: process.env.WT_DEMO_SEED !== '0' })
  console.log(`\nwasmtorrent demo (tracker ${demo.trackerURL})\n`)
  console.log(`  share files:  ${demo.url}/examples/share/`)
  console.log(`  play a video: ${demo.url}/examples/video/`)
  console.log(`  hybrid CDN:   ${demo.url}/examples/hybrid/   (web seed ${demo.hybrid.webSeedURL})`)
  console.log('\nShare: drop files to seed them, then open the share link in another tab.')
  console.log('Video: press "Play the demo video" (seeded by a headless browser here), or paste a magnet.')
  console.log('Hybrid: a video that a web seed (an HTTP server) also holds; open it in several tabs and')
  console.log('  watch the later tabs take their bytes from the earlier ones instead of the server.')
  console.log('Ctrl-C stops.')
}
