// The web seed benchmark (issue 12): wasmtorrent against WebTorrent, each in runs of pages of
// its own, with the same file on the same kind of web seed (scripts/webseed.mjs on 127.0.0.1,
// another origin than the pages, a fresh one per run so its count is that run's alone).
//   hybrid       leechers (default 4) join 3 s apart, each page in a context of its own (like
//                tabs of different visitors) in one fresh Chromium, with a .torrent carrying the
//                web seed (url-list) and a bittorrent-tracker WebSocket server (fresh per run);
//                pages stay open and seed once done. Measured: the bytes the HTTP server sent
//                (its own count, aborted requests included: the CDN's bill) per byte the
//                leechers downloaded (lower is better; 1 = every leecher took the whole file
//                from the server), the same for the leechers after the first (the first
//                has nobody to take from), and each leecher's add() → 'done'. The web seed
//                paces each response (--rate, default 1 MiB/s: four requests in flight give
//                a client about 4 MiB/s, the order of a WebRTC channel on this machine), so
//                neither source is free.
//   first frame  one page, no tracker, no peer: the .torrent's web seed alone, paced (--stream-rate,
//                default 100,000 B/s per response), serving the 60 s VP8/Vorbis WebM of
//                scripts/media.mjs (7.8 MB, about 1 Mbit/s); the page streams it into a <video>
//                through its library's service worker (file.streamTo) and the time is add() →
//                the first requestVideoFrameCallback callback (as in streaming_bench.mjs).
// wasmtorrent runs twice: with its default policy (webSeeds: 'fallback': peers first, the
// server for what no peer has, after a grace of 3 s) and with 'always' (a web seed is one
// more fast peer, which is what WebTorrent does). Reps are interleaved: rep 1 of every part
// and library, then rep 2, …; medians, ratios of each wasmtorrent variant to WebTorrent
// measured in the same run.
//
//   bash scripts/loopback.sh node tests/bench/webseed_bench.mjs [options]
//   (or npm run bench -- webseed [options])
//     --reps N            reps per part and library (default 3, or $WT_BENCH_REPS)
//     --only LIST         wasmtorrent,wasmtorrent-always,webtorrent
//     --parts LIST        hybrid,first-frame
//     --leechers N        pages in a hybrid run (default 4)
//     --stagger S         seconds between two pages joining (default 3)
//     --mib M             the hybrid file's size (default 8)
//     --piece-kib K       its piece length (default 256)
//     --rate B            the hybrid web seed's pace, bytes/s per response (default 1048576; 0: none)
//     --stream-rate B     the first-frame web seed's pace (default 100000)
//     --stream-piece-kib K  the video torrent's piece length (default 64)
//     --media NAME        scripts/media.mjs format: webm-vp8 (default) or webm
//     --timeout S         seconds per measured step before the rep fails (default 120)
//     --json FILE         where to write the results (default build/bench/webseed.json)
// Needs dist/ (npm run build) and ffmpeg. Must run inside a network namespace that has only loopback.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import Server from 'bittorrent-tracker/server'
import { launchBrowser, repoRoot, startServer } from '../browser/harness.mjs'
import { median, notLoopbackOnly, openBenchPage, round, withTimeout } from './common.mjs'
import { startWebSeed } from '../../scripts/webseed.mjs'
import { testMedia } from '../../scripts/media.mjs'
import { createTorrentNpm, randomBytes } from '../js/helpers.mjs'

const KiB = 1024
const MiB = 1024 * KiB
const log = msg => console.log(`[bench:webseed] ${msg}`)
// wasmtorrent with its default policy, and with the policy WebTorrent has ('always': a web
// seed is one more fast peer), like for like.
const libs = [
  { name: 'wasmtorrent', lib: 'wasmtorrent', label: "wasmtorrent, webSeeds: 'fallback' (default)" },
  { name: 'wasmtorrent-always', lib: 'wasmtorrent', webSeeds: 'always', label: "wasmtorrent, webSeeds: 'always'" },
  { name: 'webtorrent', lib: 'webtorrent', label: 'WebTorrent (memory-chunk-store)' }
]
const partNames = ['hybrid', 'first-frame']

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: process.env.WT_BENCH_REPS || '3' },
    only: { type: 'string' },
    parts: { type: 'string', default: partNames.join(',') },
    leechers: { type: 'string', default: '4' },
    stagger: { type: 'string', default: '3' },
    mib: { type: 'string', default: '8' },
    'piece-kib': { type: 'string', default: '256' },
    rate: { type: 'string', default: String(1 * MiB) },
    'stream-rate': { type: 'string', default: '100000' },
    'stream-piece-kib': { type: 'string', default: '64' },
    media: { type: 'string', default: 'webm-vp8' },
    timeout: { type: 'string', default: '120' },
    json: { type: 'string', default: join(repoRoot, 'build/bench/webseed.json') }
  }
})
const reps = Number(args.reps)
const leechers = Number(args.leechers)
const staggerMs = 1000 * Number(args.stagger)
const size = Math.round(Number(args.mib) * MiB)
const pieceLength = Number(args['piece-kib']) * KiB
const rate = Number(args.rate)
const streamRate = Number(args['stream-rate'])
const streamPieceLength = Number(args['stream-piece-kib']) * KiB
const timeoutMs = 1000 * Number(args.timeout)
if (!Number.isInteger(reps) || reps < 1) fail('--reps takes a positive integer')
if (!Number.isInteger(leechers) || leechers < 1) fail('--leechers takes a positive integer')
if (!(staggerMs >= 0) || !(size > 0) || !(timeoutMs > 0) || !(rate >= 0) || !(streamRate >= 0)) fail('--stagger, --mib, --timeout, --rate, --stream-rate take numbers')
for (const p of [pieceLength, streamPieceLength]) if (!(p >= 16 * KiB) || (p & (p - 1))) fail('piece lengths are powers of two, at least 16 KiB')
if (!['webm', 'webm-vp8'].includes(args.media)) fail('--media takes webm or webm-vp8')
const selected = args.only ? args.only.split(',').map(n => libs.find(l => l.name === n) ?? fail(`unknown library ${n}`)) : libs
const parts = args.parts.split(',').map(p => partNames.includes(p) ? p : fail(`unknown part ${p}`))

function fail (message) {
  console.error(`[bench:webseed] error: ${message}`)
  process.exit(1)
}

const outside = notLoopbackOnly('npm run bench -- webseed')
if (outside) fail(outside)

const b64 = bytes => Buffer.from(bytes).toString('base64')
const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')
const pagePath = lib => `/tests/bench/pages/webseed-${lib}.html`
let http, chromiumVersion

async function startTracker () {
  const tracker = new Server({ udp: false, http: false, ws: true, stats: false })
  tracker.on('error', err => console.error('tracker error', err))
  await new Promise(resolve => tracker.listen(0, '127.0.0.1', resolve))
  return { url: `ws://127.0.0.1:${tracker.ws.address().port}`, close: () => new Promise(resolve => tracker.close(resolve)) }
}

// What the pages asked beyond loopback (the harness's guard aborts and records it).
const blocked = pages => pages.flatMap(p => p.context().blockedRequests ?? [])

// One hybrid run: `leechers` pages of `lib` join `staggerMs` apart.
async function runHybrid ({ lib, webSeeds }, file) {
  const seed = await startWebSeed({ files: { '/cdn/hybrid.bin': file }, rate })
  const tracker = await startTracker()
  const browser = await launchBrowser()
  chromiumVersion ??= browser.version()
  const pages = []
  try {
    const torrent = b64(await createTorrentNpm([new File([file], 'hybrid.bin')], {
      announceList: [[tracker.url]], urlList: [`${seed.url}/cdn/hybrid.bin`], pieceLength, creationDate: new Date('2026-01-01')
    }))
    for (let i = 0; i < leechers; i++) pages.push(await openBenchPage(browser, http.url, pagePath(lib)))
    const t0 = Date.now()
    const joins = []
    const finished = []
    for (let i = 0; i < leechers; i++) {
      await sleep(Math.max(0, t0 + i * staggerMs - Date.now()))
      joins.push({ at_ms: Date.now() - t0, served_before: seed.stats().bytes })
      await pages[i].evaluate(o => window.bench.leech(o), { lib, torrent, trackerURL: tracker.url, webSeeds })
      finished.push(pages[i].evaluate(() => window.bench.done()).then(r => ({ ...r, finished_at_ms: Date.now() - t0 })))
    }
    const results = await withTimeout(Promise.all(finished), timeoutMs, async () => {
      const status = await Promise.all(pages.map(p => p.evaluate(() => window.bench.status()).catch(err => String(err))))
      return `hybrid run timed out after ${timeoutMs / 1000} s; pages: ${JSON.stringify(status)}`
    })
    const servedAtEnd = seed.stats().bytes
    const after = await Promise.all(pages.map(p => p.evaluate(() => window.bench.counters())))
    const expected = sha256(file)
    for (let i = 0; i < leechers; i++) {
      const got = await pages[i].evaluate(() => window.bench.sha256())
      if (got !== expected) throw new Error(`leecher ${i + 1}: SHA-256 ${got}, expected ${expected}`)
    }
    await Promise.all(pages.map(p => p.evaluate(() => window.bench.destroy()).catch(() => {})))
    const downloaded = results.reduce((sum, r) => sum + r.downloaded, 0)
    const laterDownloaded = results.slice(1).reduce((sum, r) => sum + r.downloaded, 0)
    const servedBeforeSecond = joins[1]?.served_before ?? null
    return {
      ok: true,
      served_bytes: servedAtEnd,
      leecher_bytes: downloaded,
      served_per_leecher_byte: round(servedAtEnd / downloaded, 3),
      // Bytes served beyond one file, per byte the later leechers downloaded.
      later_served_per_leecher_byte: leechers > 1 ? round(Math.max(0, servedAtEnd - file.length) / laterDownloaded, 3) : null,
      served_before_second_join: servedBeforeSecond,
      requests: seed.stats().requests,
      leechers: results.map((r, i) => ({
        joined_at_ms: joins[i].at_ms,
        done_ms: round(r.done_ms, 0),
        finished_at_ms: r.finished_at_ms,
        downloaded: r.downloaded,
        web_bytes: r.web_bytes,
        uploaded_at_end: after[i].uploaded
      })),
      blocked_requests: blocked(pages),
      page_errors: pages.flatMap(p => p.errors)
    }
  } catch (err) {
    const errors = pages.flatMap(p => p.errors)
    if (errors.length) err.message += ` (errors in the pages: ${errors.join(' | ')})`
    throw err
  } finally {
    await browser.close().catch(() => {})
    await tracker.close()
    await seed.close()
  }
}

// One first-frame run: a page streams the video from the paced web seed alone.
async function runFirstFrame ({ lib, webSeeds }, media) {
  const seed = await startWebSeed({ files: { '/media/film.webm': media }, rate: streamRate })
  const browser = await launchBrowser()
  chromiumVersion ??= browser.version()
  let page
  try {
    const torrent = b64(await createTorrentNpm([new File([media], 'film.webm')], {
      announceList: [], urlList: [`${seed.url}/media/film.webm`], pieceLength: streamPieceLength, creationDate: new Date('2026-01-01')
    }))
    page = await openBenchPage(browser, http.url, pagePath(lib))
    await page.evaluate(o => window.bench.prepare(o), { lib, webSeeds })
    const r = await withTimeout(page.evaluate(o => window.bench.stream(o), { lib, torrent }), timeoutMs, async () => {
      const status = await page.evaluate(() => window.bench.status()).catch(err => String(err))
      return `first frame timed out after ${timeoutMs / 1000} s; page: ${JSON.stringify(status)}`
    })
    const servedAtFirstFrame = seed.stats().bytes // read just after: an upper bound
    const firstRequests = seed.stats().log.slice(0, 6).map(e => [e.first, e.last])
    await page.evaluate(() => window.bench.destroy()).catch(() => {})
    return {
      ok: true,
      first_frame_ms: round(r.first_frame_ms, 1),
      metadata_ms: round(r.metadata_ms, 1),
      progress_at_first_frame: round(r.progress_at_first_frame, 3),
      web_bytes_at_first_frame: r.web_bytes_at_first_frame,
      served_at_first_frame: servedAtFirstFrame,
      first_requests: firstRequests,
      blocked_requests: blocked([page]),
      page_errors: page.errors
    }
  } catch (err) {
    if (page?.errors.length) err.message += ` (errors in the page: ${page.errors.join(' | ')})`
    throw err
  } finally {
    await browser.close().catch(() => {})
    await seed.close()
  }
}

function stats (xs, digits = 1) {
  xs = xs.filter(x => x !== null && x !== undefined)
  return xs.length ? { median: round(median(xs), digits), min: Math.min(...xs), max: Math.max(...xs) } : null
}

function summarizeHybrid (results) {
  const ok = results.filter(r => r.ok)
  return {
    ok: ok.length,
    reps: results.length,
    served_per_leecher_byte: stats(ok.map(r => r.served_per_leecher_byte), 3),
    later_served_per_leecher_byte: stats(ok.map(r => r.later_served_per_leecher_byte), 3),
    served_mib: stats(ok.map(r => r.served_bytes / MiB), 2),
    done_ms_by_leecher: Array.from({ length: leechers }, (_, i) => stats(ok.map(r => r.leechers[i].done_ms), 0)),
    web_mib_by_leecher: Array.from({ length: leechers }, (_, i) => stats(ok.map(r => r.leechers[i].web_bytes / MiB), 2)),
    all_done_ms: stats(ok.map(r => Math.max(...r.leechers.map(l => l.finished_at_ms))), 0)
  }
}

function summarizeFirstFrame (results) {
  const ok = results.filter(r => r.ok)
  return {
    ok: ok.length,
    reps: results.length,
    first_frame_ms: stats(ok.map(r => r.first_frame_ms)),
    served_kib_at_first_frame: stats(ok.map(r => r.served_at_first_frame / KiB), 0),
    progress_at_first_frame: stats(ok.map(r => r.progress_at_first_frame), 3)
  }
}

// --- main -------------------------------------------------------------------------------

const file = randomBytes(31, size)
const media = parts.includes('first-frame') ? readFileSync(await testMedia(args.media)) : null
const storeBundle = join(repoRoot, 'build/bench/memory-chunk-store.js')
mkdirSync(dirname(storeBundle), { recursive: true })
execFileSync(join(repoRoot, 'node_modules/.bin/esbuild'), [
  join(repoRoot, 'node_modules/memory-chunk-store/index.js'), '--bundle', '--format=esm',
  '--platform=browser', `--outfile=${storeBundle}`, '--log-level=warning'
], { stdio: 'inherit' })
const workers = {
  '/wasmtorrent-sw.js': readFileSync(join(repoRoot, 'dist/wasmtorrent-sw.js')),
  '/webtorrent-sw.js': readFileSync(join(repoRoot, 'node_modules/webtorrent/dist/sw.min.js'))
}
const routes = {}
for (const [path, body] of Object.entries(workers)) {
  routes[path] = (req, res) => res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(body)
}
http = await startServer({ routes })
const loadAtStart = loadavg().map(x => round(x, 2))

const perSec = b => b ? `${(b / KiB).toFixed(0)} KiB/s per response` : 'unpaced'
log(`${reps} reps of ${selected.map(l => l.name).join(', ')}; ` +
    (parts.includes('hybrid') ? `hybrid: ${leechers} leechers ${staggerMs / 1000} s apart, ${(size / MiB).toFixed(1)} MiB, ${pieceLength / KiB} KiB pieces, web seed ${perSec(rate)}; ` : '') +
    (parts.includes('first-frame') ? `first frame: ${(media.length / 1e6).toFixed(2)} MB WebM (${args.media}), ${streamPieceLength / KiB} KiB pieces, web seed alone, ${perSec(streamRate)}` : ''))
const results = { hybrid: {}, 'first-frame': {} }
for (const p of parts) for (const l of selected) results[p][l.name] = []
const mib = b => (b / MiB).toFixed(2)
for (let rep = 1; rep <= reps; rep++) {
  for (const p of parts) {
    for (const l of selected) {
      const prefix = `${rep}/${reps} ${p} ${l.name}:`
      let r
      try {
        if (p === 'hybrid') {
          r = { rep, ...await runHybrid(l, file) }
          log(`${prefix} server sent ${mib(r.served_bytes)} MiB for ${mib(r.leecher_bytes)} MiB downloaded (${r.served_per_leecher_byte} per byte; ` +
              `later leechers ${r.later_served_per_leecher_byte}); done in ${r.leechers.map(x => (x.done_ms / 1000).toFixed(1)).join(', ')} s; ` +
              `from the web seed ${r.leechers.map(x => mib(x.web_bytes)).join(', ')} MiB`)
        } else {
          r = { rep, ...await runFirstFrame(l, media) }
          log(`${prefix} first frame ${r.first_frame_ms.toFixed(0)} ms (${(100 * r.progress_at_first_frame).toFixed(1)}% downloaded, ` +
              `server had sent ${(r.served_at_first_frame / KiB).toFixed(0)} KiB)`)
        }
        if (r.page_errors.length) log(`${prefix} errors in the pages: ${r.page_errors.join(' | ')}`)
        if (r.blocked_requests.length) log(`${prefix} requests beyond loopback (aborted): ${r.blocked_requests.join(' ')}`)
      } catch (err) {
        r = { rep, ok: false, error: err.message.split('\n')[0] }
        log(`${prefix} FAILED: ${r.error}`)
      }
      results[p][l.name].push(r)
    }
  }
}
await http.close()
const loadAtEnd = loadavg().map(x => round(x, 2))

const summaries = {
  hybrid: Object.fromEntries(Object.entries(results.hybrid).map(([k, v]) => [k, summarizeHybrid(v)])),
  'first-frame': Object.fromEntries(Object.entries(results['first-frame']).map(([k, v]) => [k, summarizeFirstFrame(v)]))
}
const ratio = (a, b) => a && b ? round(a / b, 2) : null
// Each wasmtorrent variant against WebTorrent, medians of the same run.
function ratiosOf (name) {
  const hw = summaries.hybrid[name]
  const hb = summaries.hybrid.webtorrent
  const fw = summaries['first-frame'][name]
  const fb = summaries['first-frame'].webtorrent
  return {
    served_per_leecher_byte: ratio(hw?.served_per_leecher_byte?.median, hb?.served_per_leecher_byte?.median),
    later_served_per_leecher_byte: ratio(hw?.later_served_per_leecher_byte?.median, hb?.later_served_per_leecher_byte?.median),
    done_ms_by_leecher: Array.from({ length: leechers }, (_, i) => ratio(hw?.done_ms_by_leecher[i]?.median, hb?.done_ms_by_leecher[i]?.median)),
    all_done_ms: ratio(hw?.all_done_ms?.median, hb?.all_done_ms?.median),
    first_frame_ms: ratio(fw?.first_frame_ms?.median, fb?.first_frame_ms?.median)
  }
}
const ratios = Object.fromEntries(selected.filter(l => l.lib === 'wasmtorrent').map(l => [l.name, ratiosOf(l.name)]))

const webtorrentVersion = JSON.parse(readFileSync(join(repoRoot, 'node_modules/webtorrent/package.json'))).version
const output = {
  date: new Date().toISOString(),
  machine: { nproc: availableParallelism(), cpu: cpus()[0]?.model, loadavg_at_start: loadAtStart, loadavg_at_end: loadAtEnd, chromium: chromiumVersion, node: process.version, webtorrent: webtorrentVersion },
  config: {
    reps,
    parts,
    hybrid: {
      leechers,
      stagger_ms: staggerMs,
      file_bytes: size,
      piece_length: pieceLength,
      web_seed_rate: rate,
      setup: 'per run: a fresh Chromium, one context per leecher page, a fresh web seed (scripts/webseed.mjs, its rate per response) and a fresh bittorrent-tracker WebSocket server on 127.0.0.1; a .torrent (create-torrent) with url-list and the tracker; pages join stagger_ms apart and keep seeding; both libraries in memory (WebTorrent: memory-chunk-store); loopback-only network namespace',
      served_per_leecher_byte: "the web seed's own count of bytes sent (aborted responses included) / the sum of the leechers' torrent.downloaded",
      later_served_per_leecher_byte: '(bytes sent - one file) / the bytes downloaded by leechers 2..n',
      done_ms: "each leecher page: add() → 'done'"
    },
    first_frame: {
      media: { file: `scripts/media.mjs ${args.media}`, bytes: media?.length ?? null },
      piece_length: streamPieceLength,
      web_seed_rate: streamRate,
      setup: 'per rep: a fresh Chromium, one page, the library\'s service worker registered before the measured window, a fresh web seed; a .torrent with url-list and no tracker: the web seed is the only source',
      first_frame: 'client.add(torrent) to the first requestVideoFrameCallback callback; the add callback calls file.streamTo(video) and video.play()'
    }
  },
  libraries: Object.fromEntries(selected.map(l => [l.name, {
    label: l.label,
    hybrid: parts.includes('hybrid') ? { summary: summaries.hybrid[l.name], reps: results.hybrid[l.name] } : null,
    first_frame: parts.includes('first-frame') ? { summary: summaries['first-frame'][l.name], reps: results['first-frame'][l.name] } : null
  }])),
  ratios_over_webtorrent: ratios
}
mkdirSync(dirname(args.json), { recursive: true })
writeFileSync(args.json, JSON.stringify(output, null, 2) + '\n')

function table (rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  for (const r of rows) console.log(r.map((cell, i) => i ? cell.padStart(widths[i]) : cell.padEnd(widths[i])).join('  '))
}
const med = (s, f = x => x.toFixed(2)) => s ? f(s.median) : '—'
const span = (s, f = x => x.toFixed(2)) => s ? `${f(s.min)}–${f(s.max)}` : '—'
const sec = x => (x / 1000).toFixed(1)
console.log()
if (parts.includes('hybrid')) {
  const rows = [['hybrid', 'ok', 'server bytes / leecher byte', 'min–max', 'later leechers', 'server MiB', ...Array.from({ length: leechers }, (_, i) => `#${i + 1} done s`), 'all done s']]
  for (const l of selected) {
    const m = summaries.hybrid[l.name]
    rows.push([l.name, `${m.ok}/${m.reps}`, med(m.served_per_leecher_byte), span(m.served_per_leecher_byte), med(m.later_served_per_leecher_byte), med(m.served_mib),
      ...m.done_ms_by_leecher.map(s => med(s, sec)), med(m.all_done_ms, sec)])
  }
  table(rows)
}
if (parts.includes('first-frame')) {
  console.log()
  const rows = [['first frame (web seed alone)', 'ok', 'ms', 'min–max', 'server KiB by then', 'downloaded']]
  for (const l of selected) {
    const m = summaries['first-frame'][l.name]
    const ms = x => x.toFixed(0)
    rows.push([l.name, `${m.ok}/${m.reps}`, med(m.first_frame_ms, ms), span(m.first_frame_ms, ms), med(m.served_kib_at_first_frame, ms), med(m.progress_at_first_frame, x => `${(100 * x).toFixed(1)}%`)])
  }
  table(rows)
}
for (const [name, r] of Object.entries(ratios)) {
  console.log(`ratios of medians, ${name}/WebTorrent: server bytes per leecher byte ${r.served_per_leecher_byte ?? '—'} ` +
    `(later leechers ${r.later_served_per_leecher_byte ?? '—'}), done ${r.done_ms_by_leecher.map(x => x ?? '—').join(', ')} (all done ${r.all_done_ms ?? '—'}), ` +
    `first frame ${r.first_frame_ms ?? '—'}`)
}
log(`wrote ${args.json}`)
const failed = Object.values(results).flatMap(r => Object.values(r)).flat().filter(r => !r.ok).length
if (failed > 0) fail(`${failed} rep(s) failed (see above and ${args.json})`)
