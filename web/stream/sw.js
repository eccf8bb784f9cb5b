// The service worker (dist/wasmtorrent-sw.js) for streaming torrent files into <video>,
// <audio>, <img> or anything that takes a URL: it answers GET/HEAD requests for
//   <scope>wasmtorrent/<info-hash>/<file path>
// with 200/206 responses whose bytes come from the page that runs the engine
// (client.createServer({ controller }) in web/stream/server.js), asked over a MessageChannel.
// Range requests get 206, so the browser's own demuxer seeks natively. A response body
// is pulled chunk by chunk; when the browser cancels it (a seek, a closed tab), the page
// is told and stops its reader.
/* eslint-env serviceworker */

const PREFIX = 'wasmtorrent/'
const ANSWER_TIMEOUT = 10_000 // ms for a page to answer a request's headers

self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', event => event.waitUntil(self.clients.claim()))

self.addEventListener('fetch', event => {
  const url = new URL(event.request.url)
  const base = new URL(PREFIX, self.registration.scope)
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return
  event.respondWith(serve(event, url.pathname.slice(base.pathname.length)))
})

async function serve (event, path) {
  const request = {
    type: 'wasmtorrent-request',
    method: event.request.method,
    path, // "<info-hash>/<file path>", still percent-encoded
    range: event.request.headers.get('range')
  }
  // The page that asked first (a <video> in it), then any other page of ours.
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
  const asking = all.find(c => c.id === event.clientId || c.id === event.resultingClientId)
  const candidates = asking ? [asking, ...all.filter(c => c !== asking)] : all
  for (const client of candidates) {
    const answer = await ask(client, request)
    if (answer) return answer
  }
  return new Response('no page serves this torrent', { status: 404, headers: { 'content-type': 'text/plain' } })
}

// One request to one page: resolves with a Response, or null when the page does not serve
// the torrent (or does not answer at all).
function ask (client, request) {
  return new Promise(resolve => {
    const { port1, port2 } = new MessageChannel()
    const timer = setTimeout(() => { port1.close(); resolve(null) }, ANSWER_TIMEOUT)
    port1.onmessage = ({ data }) => {
      clearTimeout(timer)
      if (!data || data.type !== 'head' || data.status === 404) {
        port1.close()
        resolve(null)
        return
      }
      if (request.method === 'HEAD' || !data.body) {
        port1.postMessage({ type: 'cancel' })
        port1.close()
        resolve(new Response(null, { status: data.status, headers: data.headers }))
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
