// A web seed (BEP 19) for the hybrid demo and the tests: a plain HTTP server that serves
// files with Range requests (206, 416, HEAD), CORS for pages on other origins, and a count
// of the bytes it sent, so a page or a test can show how much the server carried. For
// tests it can misbehave the ways servers in the field do (see MODES).
//
//   const seed = await startWebSeed({ files: { '/video.webm': bufferOrPath }, mode: 'honest' })
//   seed.url + '/video.webm'; seed.stats(); seed.setMode('/video.webm', 'ignore-range'); seed.close()
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'

export const MODES = {
  honest: 'Range answered with 206 and exactly the bytes asked for',
  missing: '404 for every request',
  gone: '410 for every request',
  'ignore-range': '200 with the whole file, whatever the Range',
  short: '206 whose body stops half way (the connection is closed)',
  long: '206 whose body has 1000 bytes more than asked for',
  corrupt: '206 with the right length, every 1000th byte flipped',
  stall: 'headers of a 206, then nothing (the connection stays open)',
  'no-cors': 'no Access-Control-Allow-Origin: a page on another origin may not read it',
  'no-content-range': '206 without Content-Range (what a page on another origin sees of a server that does not expose it)',
  redirect: '302 to the same path under /moved/, which serves it honestly'
}

// files: { '/path': Buffer | Uint8Array | file path }; mode: the default for every path.
// rate: bytes per second per response (default: as fast as the socket takes them).
export async function startWebSeed ({ files, mode = 'honest', host = '127.0.0.1', port = 0, rate = 0, log = () => {} } = {}) {
  const bodies = new Map()
  for (const [path, source] of Object.entries(files)) {
    bodies.set(path, typeof source === 'string' ? await readFile(source) : Buffer.from(source.buffer, source.byteOffset, source.byteLength))
  }
  const modes = new Map() // path -> mode, where it differs from `mode`
  // requests: every GET's path, range, Date.now() (a test can tell what was asked first) and
  // User-Agent
  // maxActive: the most GET responses in progress at once
  const stats = { requests: 0, bytes: 0, byPath: {}, log: [], maxActive: 0 }
  let active = 0
  const open = new Set() // responses held open (stall), ended by close()

  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    let path = decodeURIComponent(url.pathname)
    const moved = path.startsWith('/moved/')
    if (moved) path = path.slice('/moved'.length)
    const body = bodies.get(path)
    const how = moved ? 'honest' : modes.get(path) ?? mode
    stats.requests++
    const cors = how === 'no-cors' ? {} : {
      'access-control-allow-origin': '*',
      // WebTorrent's web seed requests also carry Cache-Control and User-Agent, which
      // Firefox sends (Chromium drops a page's User-Agent): a server for WebTorrent's pages
      // must allow both, or Firefox refuses the response.
      'access-control-allow-headers': 'range, cache-control, user-agent',
      'access-control-expose-headers': how === 'no-content-range' ? 'content-length' : 'content-range, content-length, accept-ranges'
    }
    if (req.method === 'OPTIONS') return res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, HEAD' }).end()
    if (!body || how === 'missing') return res.writeHead(404, cors).end('not found')
    if (how === 'gone') return res.writeHead(410, cors).end('gone')
    if (how === 'redirect') return res.writeHead(302, { ...cors, location: '/moved' + url.pathname }).end()

    const range = how === 'ignore-range' ? null : parseRange(req.headers.range, body.length)
    if (range === false) {
      return res.writeHead(416, { ...cors, 'content-range': `bytes */${body.length}` }).end()
    }
    const [first, last] = range ?? [0, body.length - 1]
    if (req.method === 'GET') {
      stats.log.push({ path, first, last, at: Date.now(), userAgent: req.headers['user-agent'] })
      stats.maxActive = Math.max(stats.maxActive, ++active)
      res.on('close', () => active--)
    }
    let out = body.subarray(first, last + 1)
    const headers = { ...cors, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
    if (range && how !== 'no-content-range') headers['content-range'] = `bytes ${first}-${last}/${body.length}`
    if (how === 'long') out = Buffer.concat([out, Buffer.alloc(1000, 0x55)])
    if (how === 'corrupt') {
      out = Buffer.from(out)
      for (let i = 0; i < out.length; i += 1000) out[i] ^= 0xff
    }
    headers['content-length'] = out.length // 'short' promises all of it, then sends half
    log(`${req.method} ${path} ${req.headers.range ?? '(no range)'} -> ${range ? 206 : 200} (${how})`)
    res.writeHead(range ? 206 : 200, headers)
    if (req.method === 'HEAD') return res.end()
    if (how === 'stall') {
      open.add(res)
      res.on('close', () => open.delete(res))
      return res.flushHeaders()
    }
    const send = how === 'short' ? out.subarray(0, Math.floor(out.length / 2)) : out
    const count = n => {
      stats.bytes += n
      stats.byPath[path] = (stats.byPath[path] ?? 0) + n
    }
    if (how === 'short') {
      count(send.length)
      res.write(send, () => res.destroy())
      return
    }
    if (rate > 0) return pace(res, send, rate, count)
    count(send.length)
    res.end(send)
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve))
  return {
    url: `http://${host}:${server.address().port}`,
    stats: () => structuredClone(stats),
    setMode: (path, how) => {
      if (!(how in MODES)) throw new Error(`unknown web seed mode ${how}`)
      modes.set(path, how)
    },
    close: () => new Promise(resolve => {
      for (const res of open) res.destroy()
      server.closeAllConnections()
      server.close(resolve)
    })
  }
}

// "bytes=a-b", "bytes=a-", "bytes=-n" (one range; a server may ignore the others): [first,
// last] inclusive; null without a Range header; false when unsatisfiable.
function parseRange (header, size) {
  if (!header) return null
  const m = /^bytes=(\d*)-(\d*)/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return null
  let first, last
  if (m[1] === '') {
    first = Math.max(0, size - Number(m[2]))
    last = size - 1
  } else {
    first = Number(m[1])
    last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  }
  if (first > last || first >= size) return false
  return [first, last]
}

// Writes `bytes` at about `rate` bytes per second, in 16 KiB chunks (count(n) for each);
// stops when the client goes away (an aborted fetch).
function pace (res, bytes, rate, count) {
  const chunk = 16 * 1024
  let at = 0
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer)
    const part = bytes.subarray(at, at + chunk)
    count(part.length)
    res.write(part)
    at += chunk
    if (at >= bytes.length) {
      clearInterval(timer)
      res.end()
    }
  }, Math.max(1, Math.round(1000 * chunk / rate)))
  res.on('close', () => clearInterval(timer))
}
