// The service worker (dist/wasmtorrent-sw.js) for streaming torrent files into <video>,
// <audio>, <img> or anything that takes a URL. It answers GET/HEAD requests under
//   <scope>webtorrent/
// (WebTorrent's layout: a listing page, <info-hash> pages, <info-hash>/<file path> files)
// with what a page that runs the engine answers (client.createServer({ controller }) in
// web/stream/server.js), asked over a MessageChannel. Range requests get 206, so the
// browser's own demuxer seeks natively. A response body is pulled chunk by chunk; when the
// browser cancels it (a seek, a closed tab), the page is told and stops its reader.
/* eslint-env serviceworker */

import { STREAM_PREFIX as PREFIX, KEEPALIVE_PATH, CANCEL_PROBE_PATH } from './server.js'

const ANSWER_TIMEOUT = 10_000 // ms for a page to answer a request's headers

self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', event => event.waitUntil(self.clients.claim()))

// The pages known to answer: those that said so (a page says it when it makes a server,
// web/stream/server.js, and answers for good from then on) and those that have answered.
// They are asked before any other: a page that never answers (a listing opened in a tab of
// its own, a page without the library) costs a request ANSWER_TIMEOUT. The browser stops an
// idle worker and this set with it; a worker that starts asks the pages to say again, and
// until one has, every page is asked, the page that asks first.
const answering = new Set() // client ids
self.addEventListener('message', event => {
  if (event.data?.type === 'wasmtorrent-serving' && event.source?.id) answering.add(event.source.id)
})
self.clients.matchAll({ type: 'window', includeUncontrolled: true })
  .then(all => { for (const client of all) client.postMessage({ type: 'wasmtorrent-hello' }) })

self.addEventListener('fetch', event => {
  const url = new URL(event.request.url)
  const base = new URL(PREFIX, self.registration.scope)
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return
  const method = event.request.method
  if (method !== 'GET' && method !== 'HEAD') {
    event.respondWith(htmlResponse(405, 'Method Not Allowed', { allow: 'GET, HEAD' }))
    return
  }
  const path = url.pathname.slice(base.pathname.length)
  // The page's keep-alive ping (web/stream/server.js): the event itself is the point. The
  // page's probe for WebTorrent's worker likewise.
  if (path === KEEPALIVE_PATH || path === CANCEL_PROBE_PATH) event.respondWith(new Response(null, { status: 204 }))
  else event.respondWith(serve(event, path))
})

async function serve (event, path) {
  const request = {
    type: 'wasmtorrent-request',
    method: event.request.method,
    path, // "" (the listing), "<info-hash>", or "<info-hash>/<file path>", still percent-encoded
    range: event.request.headers.get('range'),
    destination: event.request.destination
  }
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
  // The page whose element asks is asked first, when it answers (or no page is known to):
  // each tab streams from its own client. Then the pages that answer, then the others, every
  // page of a group at once; the first that serves the URL answers.
  const asking = all.find(c => c.id === event.clientId)
  const first = asking && (answering.has(asking.id) || !all.some(c => answering.has(c.id))) ? asking : null
  const others = all.filter(c => c !== first)
  for (const group of [[first], others.filter(c => answering.has(c.id)), others.filter(c => !answering.has(c.id))]) {
    const pages = group.filter(Boolean)
    const answer = pages.length > 0 && await firstAnswer(pages, request)
    if (answer) return answer
  }
  return htmlResponse(404, 'Not Found')
}

function htmlResponse (status, text, headers = {}) {
  const body = `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${status} ${text}</title>\n</head>\n<body>\n<h1>${status} ${text}</h1>\n</body>\n</html>\n`
  return new Response(body, { status, statusText: text, headers: { 'content-type': 'text/html; charset=utf-8', ...headers } })
}

// Asks every page at once; resolves with the first Response, or null when none serves.
// Answers that come after the first are cancelled, so their pages stop reading.
function firstAnswer (clients, request) {
  return new Promise(resolve => {
    let waiting = clients.length
    let done = false
    if (waiting === 0) resolve(null)
    for (const client of clients) {
      ask(client, request).then(answer => {
        waiting--
        if (answer && !done) {
          done = true
          resolve(answer)
        } else if (answer) {
          answer.body?.cancel().catch(() => {})
        } else if (waiting === 0 && !done) {
          resolve(null)
        }
      })
    }
  })
}

// One request to one page: resolves with a Response, or null when the page does not serve
// the URL (or does not answer at all).
function ask (client, request) {
  return new Promise(resolve => {
    const { port1, port2 } = new MessageChannel()
    const timer = setTimeout(() => {
      answering.delete(client.id)
      port1.close()
      resolve(null)
    }, ANSWER_TIMEOUT)
    port1.onmessage = ({ data }) => {
      clearTimeout(timer)
      answering.add(client.id)
      if (!data || data.type !== 'head' || data.status === 404) {
        port1.close()
        resolve(null)
        return
      }
      if (data.text !== undefined || request.method === 'HEAD' || !data.body) {
        if (data.body) port1.postMessage({ type: 'cancel' })
        port1.close()
        resolve(new Response(data.text ?? null, { status: data.status, headers: data.headers }))
        return
      }
      resolve(new Response(bodyStream(port1), { status: data.status, headers: data.headers }))
    }
    client.postMessage(request, [port2])
  })
}

// The body, pulled from the page one chunk at a time.
function bodyStream (port) {
  let waiting = null
  port.onmessage = ({ data }) => { const w = waiting; waiting = null; w?.(data) }
  return new ReadableStream({
    pull (controller) {
      return new Promise(resolve => {
        waiting = data => {
          if (data?.type === 'chunk') controller.enqueue(data.chunk)
          else if (data?.type === 'end') { controller.close(); port.close() }
          else { controller.error(new Error(data?.message ?? 'the page stopped serving')); port.close() }
          resolve()
        }
        port.postMessage({ type: 'pull' })
      })
    },
    cancel () {
      port.postMessage({ type: 'cancel' })
      port.close()
    }
  }, { highWaterMark: 1 })
}
