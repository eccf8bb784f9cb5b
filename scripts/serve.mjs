// The demo server: a WebSocket tracker (npm bittorrent-tracker) and a static file
// server for the repository (dist/ and examples/), both on 127.0.0.1. Pages read the
// tracker's URL from /demo-config.json. Used by `npm start` and by the browser tests.
// With seedDemo, a headless Chromium page seeds a demo video (made with ffmpeg,
// scripts/media.mjs) through examples/video, and /demo-config.json gives its magnet.
//   node scripts/serve.mjs [port]     (default 8000; 0 picks a free one)
import { createServer } from 'node:http'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { testMedia } from './media.mjs'
import { startTracker } from './tracker.mjs'

const root = normalize(fileURLToPath(new URL('../', import.meta.url)))
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.webm': 'video/webm'
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

  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    if (path === '/demo-config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(config))
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
    close: () => Promise.all([
      seeder?.close(),
      new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }),
      tracker.close()
    ])
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
  console.log('[demo] starting the tracker, the web server and the demo video seeder (headless Chromium)')
  const demo = await startDemo({ port, seedDemo: process.env.WT_DEMO_SEED !== '0' })
  console.log(`\nwasmtorrent demo (tracker ${demo.trackerURL})\n`)
  console.log(`  share files:  ${demo.url}/examples/share/`)
  console.log(`  play a video: ${demo.url}/examples/video/`)
  console.log('\nShare: drop files to seed them, then open the share link in another tab.')
  console.log('Video: press "Play the demo video" (seeded by a headless browser here), or paste a magnet.')
  console.log('Ctrl-C stops.')
}
