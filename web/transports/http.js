// HTTP for the engine, performed with fetch(): HTTP trackers' announces (trackerGet), and
// range requests for web seeds (BEP 19): the engine plans each
// request (URL and byte range) and checks what comes back; this moves the status, the two
// headers it needs and the body's bytes, as they arrive, into the engine. fetch() follows
// redirects; a CORS refusal or a network error is a failed request. Under Node 20 the same
// code runs on its built-in fetch.

const TRACKER_BODY_LIMIT = 1 << 20 // the engine's limit for a tracker's answer

// Why a fetch() failed. Node's says "fetch failed" and gives the reason as its cause
// (ECONNREFUSED, a bad certificate); a browser's says only "Failed to fetch" for a CORS
// refusal, a refused connection or a bad certificate alike (it keeps the reason from pages).
function failureText (err) {
  if (err?.cause?.message) return `${err.message}: ${err.cause.message}`
  if (err?.name === 'TypeError') return `${err.message} (network error or the server does not allow this origin: CORS)`
  return String(err?.message ?? err)
}

// The host never holds more of a body than one chunk: each goes to the engine as it
// arrives, and the engine writes it into its pieces.
export class HttpTransport {
  // input(fn): feeds fn(engine, now) to the engine and drains its outputs; heap(): the
  // engine's memory as bytes (it moves when memory grows); headers(): sent with every request
  // (Node: the client's User-Agent, read at each request).
  constructor ({ input, heap, headers = () => ({}) }) {
    this.input = input
    this.heap = heap
    this.headers = headers
    this.requests = new Map() // engine request id -> AbortController
  }

  // o: the engine's output { op: 'get', id, url, first, last }.
  async get (o) {
    const abort = new AbortController()
    this.requests.set(o.id, abort)
    const live = () => this.requests.get(o.id) === abort
    try {
      const res = await fetch(o.url, {
        headers: { ...this.headers(), range: `bytes=${o.first}-${o.last}` },
        signal: abort.signal,
        // A web seed is a public file: no cookies or credentials go to it, and no cache
        // entry is worth keeping for bytes the store keeps verified.
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'follow'
      })
      if (!live()) return
      // A compressed body's Content-Length counts the compressed bytes, not those read.
      const contentLength = res.headers.has('content-encoding') ? null : res.headers.get('content-length')
      const length = contentLength !== null && /^\d+$/.test(contentLength) ? Number(contentLength) : -1
      this.input((E, t) => E.httpResponse(o.id, res.status, res.headers.get('content-range') ?? '', length, t))
      if (!live()) return res.body?.cancel().catch(() => {})
      const reader = res.body?.getReader()
      for (;;) {
        const chunk = reader ? await reader.read() : { done: true }
        if (!live()) return reader?.cancel().catch(() => {})
        if (chunk.done) break
        const data = chunk.value
        this.input((E, t) => {
          const ptr = E.reserve(data.length)
          this.heap().set(data, ptr) // after reserve: memory may have grown
          E.httpData(o.id, data.length, t)
        })
      }
      this.requests.delete(o.id)
      this.input((E, t) => E.httpDone(o.id, t))
    } catch (err) {
      if (!live()) return // cancelled by the engine: it wants no report
      this.requests.delete(o.id)
      const message = failureText(err)
      this.input((E, t) => E.httpFailed(o.id, message, t))
    }
  }

  // An HTTP tracker's announce or scrape (the engine's { id, url }): the whole body, up to
  // TRACKER_BODY_LIMIT + 1 bytes (the engine rejects a longer one), with the status.
  async trackerGet ({ id, url }) {
    const abort = new AbortController()
    const key = `tracker:${id}`
    this.requests.set(key, abort)
    try {
      const res = await fetch(url, { headers: this.headers(), signal: abort.signal, credentials: 'omit', cache: 'no-store', redirect: 'follow' })
      const parts = []
      let length = 0
      const reader = res.body?.getReader()
      while (reader && length <= TRACKER_BODY_LIMIT) {
        const { done, value } = await reader.read()
        if (done) break
        parts.push(value)
        length += value.length
      }
      reader?.cancel().catch(() => {})
      if (this.requests.get(key) !== abort) return
      this.requests.delete(key)
      const body = new Uint8Array(Math.min(length, TRACKER_BODY_LIMIT + 1))
      let at = 0
      for (const p of parts) {
        const n = Math.min(p.length, body.length - at)
        body.set(p.subarray(0, n), at)
        at += n
      }
      this.input((E, t) => {
        const ptr = E.reserve(body.length)
        this.heap().set(body, ptr)
        E.trackerResponse(id, res.status, body.length, t)
      })
    } catch (err) {
      if (this.requests.get(key) !== abort) return
      this.requests.delete(key)
      const message = failureText(err)
      this.input((E, t) => E.trackerFailed(id, message, t))
    }
  }

  cancel (id) {
    const abort = this.requests.get(id)
    if (!abort) return
    this.requests.delete(id)
    abort.abort()
  }

  closeAll () {
    for (const id of [...this.requests.keys()]) this.cancel(id)
  }
}
