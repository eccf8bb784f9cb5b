// The demo server: a WebSocket tracker (npm bittorrent-tracker) and a static file
// server for the repository (dist/ and examples/), both on 127.0.0.1. Pages read the
// tracker's URL from /demo-config.json. Used by `npm start` and by the browser tests.
//   node scripts/serve.mjs [port]     (default 8000; 0 picks a free one)
import { createServer } from 'node:http'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import Server from 'bittorrent-tracker/server'

const root = normalize(fileURLToPath(new URL('../', import.meta.url)))
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm'
}

export async function startDemo ({ port = 8000, host = '127.0.0.1' } = {}) {
  const tracker = new Server({
    udp: false, http: false, ws: true, stats: false,
    // WebSocket clients re-announce every interval / 5: 10 s, so that a tab that missed
    // its peers finds them again quickly (a public tracker would use minutes).
    interval: 50_000
  })
  tracker.on('error', err => console.error('[tracker]', err.message))
  tracker.on('warning', err => console.error('[tracker]', err.message))
  await new Promise(resolve => tracker.listen(0, host, resolve))
  const trackerURL = `ws://${host}:${tracker.http.address().port}`
  const config = JSON.stringify({ announce: [trackerURL], rtcConfig: { iceServers: [] } })

  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    if (path === '/demo-config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(config)
      return
    }
    if (path === '/') {
      res.writeHead(302, { location: '/examples/share/' }).end()
      return
    }
    let file = normalize(join(root, path))
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
  return {
    url,
    trackerURL,
    close: () => Promise.all([
      new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }),
      new Promise(resolve => tracker.close(resolve))
    ])
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8000)
  const demo = await startDemo({ port })
  console.log(`\nwasmtorrent demo (tracker ${demo.trackerURL})\n`)
  console.log(`  share files:  ${demo.url}/examples/share/`)
  console.log('\nOpen it, drop files to seed them, then open the share link in another tab. Ctrl-C stops.')
}
