// Browser test harness: a static file server on 127.0.0.1, a browser, contexts whose requests
// cannot leave loopback. Meant for every browser test, including WebRTC between pages (two
// contexts = two peers). Run the tests through tests/browser/run.sh, which puts them in a
// network namespace that has only `lo`.
// The browser is WT_BROWSER: `chromium` (default; Debian's, driven by playwright-core) or
// `firefox` (Debian's firefox-esr, driven by puppeteer-core through firefox.mjs, which
// adapts the part of Playwright's API the Firefox tests use).
//
//   const h = await startHarness()             // server + browser
//   const page = await h.newPage('/tests/browser/pages/smoke-module.html')
//   ...
//   await h.close()                            // everything, in reverse order
import { createServer } from 'node:http'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export const browserName = process.env.WT_BROWSER || 'chromium'
if (!['chromium', 'firefox'].includes(browserName)) {
  throw new Error(`WT_BROWSER=${browserName}: the browser tests run in chromium or firefox`)
}

// Exactly the switches TOOLCHAIN.md prescribes (Playwright adds a fresh temporary
// --user-data-dir itself). The last two let WebRTC gather loopback candidates.
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream'
]

const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.map': 'application/json',
  '.torrent': 'application/x-bittorrent'
}

export function isLoopbackURL (url) {
  const u = new URL(url)
  if (['data:', 'blob:', 'about:'].includes(u.protocol)) return true
  return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)
}

// Serves files under `root` (default: the repository) on 127.0.0.1 with a free port.
// `routes` maps a path to a (req, res) handler, tried before the files.
export async function startServer ({ root = repoRoot, routes = {} } = {}) {
  const base = normalize(root)
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname)
      if (routes[path]) return await routes[path](req, res)
      const file = normalize(join(base, path))
      if (file !== base && !file.startsWith(base.endsWith(sep) ? base : base + sep)) {
        res.writeHead(403).end()
        return
      }
      const info = await stat(file).catch(() => null)
      if (!info || !info.isFile()) {
        res.writeHead(404).end('not found')
        return
      }
      res.writeHead(200, {
        'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
        'cache-control': 'no-store'
      })
      createReadStream(file).pipe(res)
    } catch (err) {
      res.writeHead(500).end(String(err))
    }
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  return {
    url,
    server, // e.g. to attach a WebSocket tracker
    close: () => new Promise(resolve => { server.closeAllConnections(); server.close(resolve) })
  }
}

// mseBufferMiB (Chromium): what a MediaSource may buffer per track before appendBuffer
// throws QuotaExceededError. Firefox's eviction threshold throws none (it evicts itself).
export async function launchBrowser ({ mseBufferMiB } = {}) {
  if (browserName === 'firefox') {
    if (mseBufferMiB) throw new Error('launchBrowser({ mseBufferMiB }): no such limit in Firefox')
    const { launchFirefox } = await import('./firefox.mjs') // puppeteer-core, only when asked for
    return launchFirefox({ allowRequest: isLoopbackURL })
  }
  const mseArgs = mseBufferMiB
    ? [`--mse-video-buffer-size-limit-mb=${mseBufferMiB}`, `--mse-audio-buffer-size-limit-mb=${mseBufferMiB}`]
    : []
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [...chromiumArgs, ...mseArgs]
  })
}

// A context (one "peer") with camera/microphone granted (needed for WebRTC host
// candidates) and a guard: any request to a non-loopback host is aborted and recorded
// in context.blockedRequests. (Firefox's contexts come guarded from firefox.mjs.)
export async function newContext (browser, options = {}) {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], ...options })
  return browserName === 'firefox' ? context : guard(context)
}

// A browser with a profile of its own that outlives it (`userDataDir`): what a page stored
// (OPFS, IndexedDB) is there when the same folder is launched again. Guarded as newContext.
// firefoxPrefs: more prefs for Firefox (see firefox.mjs).
export async function launchPersistent (userDataDir, { firefoxPrefs } = {}) {
  if (browserName === 'firefox') {
    const { launchFirefoxPersistent } = await import('./firefox.mjs')
    return launchFirefoxPersistent(userDataDir, { allowRequest: isLoopbackURL, prefs: firefoxPrefs })
  } else if (firefoxPrefs) {
    throw new Error('launchPersistent({ firefoxPrefs }) in Chromium')
  }
  return guard(await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
    permissions: ['camera', 'microphone']
  }))
}

async function guard (context) {
  context.blockedRequests = []
  await context.route(url => !isLoopbackURL(url.href), route => {
    context.blockedRequests.push(route.request().url())
    return route.abort('blockedbyclient')
  })
  await context.routeWebSocket(url => !isLoopbackURL(url.href), ws => {
    context.blockedRequests.push(ws.url())
    return ws.close()
  })
  return context
}

// A seed with no trackers of its own lists create-torrent's default ones, as WebTorrent's
// does, and announces to them: the guard stops their WebSocket connections (and from the
// test's namespace, loopback only, they would fail anyway), which the browser may log as
// console errors (Firefox's guard records such a socket as https://). Those are expected.
const DEFAULT_TRACKER_HOSTS = /(wss|https):\/\/tracker\.(btorrent\.xyz|openwebtorrent\.com|webtorrent\.dev)\b/
export const aboutDefaultTrackers = text => DEFAULT_TRACKER_HOSTS.test(text)

// What a guard stopped on its way out of loopback (context.blockedRequests), but the default
// trackers' sockets.
export function unexpectedRequests (urls) {
  return urls.filter(url => !aboutDefaultTrackers(url))
}

// Collects a page's uncaught exceptions and console errors (but the default trackers'
// failed connections) in page.errors, and returns that list.
export function collectErrors (page) {
  page.errors = []
  const add = text => { if (!aboutDefaultTrackers(text)) page.errors.push(text) }
  page.on('pageerror', err => add(String(err))) // Firefox reports the failed connections here
  page.on('console', msg => { if (msg.type() === 'error') add(msg.text()) })
  return page.errors
}

// Server + browser; pages collect their console errors and uncaught exceptions in
// page.errors (collectErrors). close() tears down pages, contexts, the browser and the server.
export async function startHarness (serverOptions) {
  const server = await startServer(serverOptions)
  let browser
  try {
    browser = await launchBrowser()
  } catch (err) {
    await server.close()
    throw err
  }
  const contexts = []
  return {
    url: server.url,
    server,
    browser,
    async newContext (options) {
      const context = await newContext(browser, options)
      contexts.push(context)
      return context
    },
    async newPage (path, { context } = {}) {
      context ??= await this.newContext()
      const page = await context.newPage()
      collectErrors(page)
      if (path) await page.goto(new URL(path, server.url).href)
      return page
    },
    blockedRequests: () => unexpectedRequests(contexts.flatMap(c => c.blockedRequests)),
    async close () {
      for (const c of contexts) await c.close().catch(() => {})
      await browser.close().catch(() => {})
      await server.close()
    }
  }
}
