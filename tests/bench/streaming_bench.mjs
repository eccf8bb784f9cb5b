// The streaming benchmark (issues 5 and 10): time from add() to the first video frame, and
// from a seek to 75% to resumed playback, for wasmtorrent and WebTorrent, each streaming
// through its own service worker. Per rep: a fresh Chromium with two contexts (like two tabs,
// as in browser_bench.mjs), a seeder page and a leecher page, a bittorrent-tracker WebSocket
// server on 127.0.0.1 for the run. By default the seeder is of the same library, not
// throttled, and the video is scripts/media.mjs's 'webm' (60 s VP9/Opus, 320x240, about
// 2.4 MB). The slow-seeder case (npm run bench runs it as 'streaming-slow'): one WebTorrent
// seeder for both libraries, its upload limited below the video's bitrate (--throttle), the
// 'webm-vp8' video (about 1 Mbit/s): every byte fetched that the player does not need yet
// delays it. Each rep records a trace (when each piece was verified, and the Range requests
// the player made, in ms since add()) in the JSON. The leecher registers
// its library's worker (served at /wasmtorrent-sw.js or /webtorrent-sw.js, scope '/': each
// rep has a fresh browser, so only one of them ever controls a page), adds the magnet and
// file.streamTo(video)s it. What is measured is in tests/bench/pages/streaming.js: first
// frame = add() to the first requestVideoFrameCallback callback; seek = setting currentTime
// to 75% of the duration (once playback has passed 1 s) to the first presented frame
// after the one at the target (playback moving again). Reps are interleaved across
// libraries.
//
//   bash scripts/loopback.sh node tests/bench/streaming_bench.mjs [options]
//   (or npm run bench -- streaming [options])
//     --reps N         reps per library (default 5, or $WT_BENCH_REPS)
//     --only LIST      wasmtorrent,webtorrent
//     --timeout S      seconds per measured step before the rep fails (default 60)
//     --throttle B     the seeder's upload limit in bytes/s (default 0: none)
//     --seeder LIB     same (default), webtorrent or wasmtorrent
//     --media NAME     scripts/media.mjs format: webm (default) or webm-vp8
//     --json FILE      where to write the results (default build/bench/streaming.json)
// Needs dist/ (npm run build) and ffmpeg. Must run inside a network namespace that has only loopback.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import Server from 'bittorrent-tracker/server'
import { launchBrowser, repoRoot, startServer } from '../browser/harness.mjs'
import { median, notLoopbackOnly, openBenchPage, round, seederAnnounced, withTimeout } from './common.mjs'
import { testMedia } from '../../scripts/media.mjs'

const log = msg => console.log(`[bench:streaming] ${msg}`)
const libs = [
  { name: 'wasmtorrent', label: 'wasmtorrent (service worker)' },
  { name: 'webtorrent', label: 'WebTorrent 2 (service worker, memory-chunk-store)' }
]

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: process.env.WT_BENCH_REPS || '5' },
    only: { type: 'string' },
    timeout: { type: 'string', default: '60' },
    throttle: { type: 'string', default: '0' },
    seeder: { type: 'string', default: 'same' },
    media: { type: 'string', default: 'webm' },
    json: { type: 'string', default: join(repoRoot, 'build/bench/streaming.json') }
  }
})
const reps = Number(args.reps)
const timeoutMs = 1000 * Number(args.timeout)
const uploadLimit = Number(args.throttle)
if (!Number.isInteger(reps) || reps < 1 || !(timeoutMs > 0)) fail('--reps takes a positive integer, --timeout a positive number')
if (!(uploadLimit >= 0)) fail('--throttle takes bytes per second')
if (!['same', 'webtorrent', 'wasmtorrent'].includes(args.seeder)) fail('--seeder takes same, webtorrent or wasmtorrent')
if (!['webm', 'webm-vp8'].includes(args.media)) fail('--media takes webm or webm-vp8')
const selected = args.only ? args.only.split(',').map(n => libs.find(l => l.name === n) ?? fail(`unknown library ${n}`)) : libs

function fail (message) {
  console.error(`[bench:streaming] error: ${message}`)
  process.exit(1)
}

const outside = notLoopbackOnly('npm run bench -- streaming')
if (outside) fail(outside)

// A measured step of a rep, with the leecher's status in the error when it times out.
const step = (promise, what, page) => withTimeout(promise, timeoutMs, async () => {
  const status = await page.evaluate(() => window.stream.status()).catch(err => String(err))
  return `${what} timed out after ${timeoutMs / 1000} s; leecher: ${JSON.stringify(status)}`
})

let http, tracker, trackerURL, chromiumVersion

async function runRep (lib) {
  const browser = await launchBrowser()
  chromiumVersion ??= browser.version()
  let src, dst
  try {
    const page = l => `/tests/bench/pages/streaming-${l}.html`
    const seederLib = args.seeder === 'same' ? lib : args.seeder
    src = await openBenchPage(browser, http.url, page(seederLib))
    dst = await openBenchPage(browser, http.url, page(lib))
    const opts = { lib, trackerURL }
    const seeded = await src.evaluate(o => window.stream.seed(o), { ...opts, lib: seederLib, uploadLimit })
    await seederAnnounced(tracker, seeded.infoHash)
    await dst.evaluate(o => window.stream.prepare(o), opts)
    // The player's Range requests (answered by the service worker), in epoch ms.
    const requests = []
    const ours = req => req.url().includes(seeded.infoHash) || req.url().includes('/webtorrent/')
    dst.on('request', req => { if (ours(req)) requests.push([Date.now(), req.headers().range ?? null]) })
    dst.on('requestfailed', req => { if (ours(req)) requests.push([Date.now(), `ended ${req.headers().range}: ${req.failure()?.errorText}`]) })
    dst.on('requestfinished', req => { if (ours(req)) requests.push([Date.now(), `ended ${req.headers().range}: complete`]) })
    await dst.evaluate(o => window.stream.add(o), { ...opts, magnet: seeded.magnet })
    const start = await step(dst.evaluate(() => window.stream.waitFirstFrame()), 'first frame', dst)
    const seek = await step(dst.evaluate(() => window.stream.seek()), 'seek', dst)
    const trace = await dst.evaluate(() => window.stream.trace())
    const r = (x) => x === undefined ? null : round(x, 1)
    // The player's first request after the seek (until then it is still busy at the old
    // position, whatever the library): from there on the wait is the library's.
    const requestTimes = requests.filter(([, range]) => range && !range.startsWith('ended')).map(([t]) => t - trace.t0_epoch_ms)
    const firstAfterSeek = requestTimes.find(t => t >= seek.at_ms)
    return {
      ok: true,
      first_frame_ms: r(start.first_frame_ms),
      metadata_ms: r(start.metadata_ms),
      playing_ms: r(start.playing_ms),
      seek_resumed_ms: r(seek.resumed_ms),
      seeked_ms: r(seek.seeked_ms),
      frame_at_target_ms: r(seek.frame_at_target_ms),
      seek_target_s: round(seek.target, 3),
      resumed_media_time_s: round(seek.media_time, 3),
      progress_at_seek: round(seek.progress_at_seek, 3),
      progress_at_first_frame: round(start.progress_at_first_frame ?? NaN, 3),
      progress_at_resumed: round(seek.progress_at_resumed ?? NaN, 3),
      seek_at_ms: r(seek.at_ms),
      seek_request_to_resumed_ms: firstAfterSeek === undefined ? null : r(seek.at_ms + seek.resumed_ms - firstAfterSeek),
      file_bytes: seeded.length,
      piece_length: seeded.pieceLength,
      page_errors: [...src.errors, ...dst.errors],
      trace: {
        verified: trace.verified,
        media_events: trace.media,
        requests: requests.map(([t, range]) => [Math.round(t - trace.t0_epoch_ms), range])
      }
    }
  } catch (err) {
    const errors = [...(src?.errors ?? []), ...(dst?.errors ?? [])]
    if (errors.length) err.message += ` (errors in the pages: ${errors.join(' | ')})`
    throw err
  } finally {
    await browser.close().catch(() => {})
  }
}

function stats (xs, digits = 1) {
  return xs.length ? { median: round(median(xs), digits), min: Math.min(...xs), max: Math.max(...xs) } : null
}

function summarize (results) {
  const ok = results.filter(r => r.ok)
  return {
    ok: ok.length,
    reps: results.length,
    first_frame_ms: stats(ok.map(r => r.first_frame_ms)),
    seek_resumed_ms: stats(ok.map(r => r.seek_resumed_ms)),
    metadata_ms: stats(ok.map(r => r.metadata_ms)),
    seeked_ms: stats(ok.map(r => r.seeked_ms).filter(x => x !== null)),
    seek_request_to_resumed_ms: stats(ok.map(r => r.seek_request_to_resumed_ms).filter(x => x !== null)),
    progress_at_first_frame: stats(ok.map(r => r.progress_at_first_frame), 3),
    progress_at_resumed: stats(ok.map(r => r.progress_at_resumed), 3)
  }
}

// --- main -------------------------------------------------------------------------------

const webm = readFileSync(await testMedia(args.media))
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
const routes = { '/media/test.webm': (req, res) => res.writeHead(200, { 'content-type': 'video/webm', 'cache-control': 'no-store' }).end(webm) }
for (const [path, body] of Object.entries(workers)) {
  routes[path] = (req, res) => res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(body)
}

tracker = new Server({ udp: false, http: false, ws: true, stats: false, interval: 50_000 })
tracker.on('error', err => console.error('tracker error', err))
await new Promise(resolve => tracker.listen(0, '127.0.0.1', resolve))
trackerURL = `ws://127.0.0.1:${tracker.http.address().port}`
http = await startServer({ routes })
const loadAtStart = loadavg().map(x => round(x, 2))

const seederSays = args.seeder === 'same' ? 'seeder of the same library' : `${args.seeder} seeder`
log(`${(webm.length / 1e6).toFixed(2)} MB WebM (${args.media}), ${reps} reps of ${selected.map(l => l.name).join(', ')}, ` +
    `${seederSays}, ${uploadLimit ? `its upload limited to ${uploadLimit} B/s` : 'no throttling'}`)
const results = Object.fromEntries(selected.map(l => [l.name, []]))
for (let rep = 1; rep <= reps; rep++) {
  for (const l of selected) {
    const prefix = `${rep}/${reps} ${l.name}:`
    let r
    try {
      r = { rep, ...await runRep(l.name) }
      const pct = x => `${(100 * x).toFixed(0)}%`
      log(`${prefix} first frame ${r.first_frame_ms.toFixed(0)} ms (metadata ${r.metadata_ms?.toFixed(0)} ms, 'playing' ${r.playing_ms?.toFixed(0)} ms, ` +
          `${pct(r.progress_at_first_frame)} downloaded); seek to ${r.seek_target_s.toFixed(1)} s → resumed ${r.seek_resumed_ms.toFixed(0)} ms ` +
          `('seeked' ${r.seeked_ms?.toFixed(0)} ms), ${pct(r.progress_at_seek)} downloaded at the seek, ${pct(r.progress_at_resumed)} when resumed`)
      if (r.page_errors.length) log(`${prefix} errors in the pages: ${r.page_errors.join(' | ')}`)
    } catch (err) {
      r = { rep, ok: false, error: err.message.split('\n')[0] }
      log(`${prefix} FAILED: ${r.error}`)
    }
    results[l.name].push(r)
  }
}
await http.close()
await new Promise(resolve => tracker.close(resolve))

const summaries = Object.fromEntries(selected.map(l => [l.name, summarize(results[l.name])]))
const ratio = key => {
  const a = summaries.wasmtorrent?.[key]?.median
  const b = summaries.webtorrent?.[key]?.median
  return a && b ? round(a / b, 2) : null
}
const ratios = { first_frame: ratio('first_frame_ms'), seek_resumed: ratio('seek_resumed_ms'), seek_request_to_resumed: ratio('seek_request_to_resumed_ms') }

const output = {
  date: new Date().toISOString(),
  machine: { nproc: availableParallelism(), cpu: cpus()[0]?.model, loadavg_at_start: loadAtStart, chromium: chromiumVersion, node: process.version },
  config: {
    reps,
    timeout_s: timeoutMs / 1000,
    media: { file: `scripts/media.mjs ${args.media}: 60 s, 320x240 15 fps, keyframe every 2 s`, bytes: webm.length },
    seeder: args.seeder,
    seeder_upload_limit: uploadLimit,
    setup: `per rep: a fresh Chromium, two contexts (seeder page, leecher page), one bittorrent-tracker WebSocket server on 127.0.0.1 for the run; loopback-only network namespace; ${seederSays}, ${uploadLimit ? `upload limited to ${uploadLimit} B/s` : 'no throttling'}; both in memory (WebTorrent: memory-chunk-store)`,
    first_frame: 'leecher page: client.add(magnet) to the first requestVideoFrameCallback callback; the add callback calls file.streamTo(video) and video.play() (service worker)',
    seek: 'once currentTime >= 1 s: currentTime = 75% of the duration, to the first presented frame (requestVideoFrameCallback) whose mediaTime is later than the first frame presented at the target, with the video not paused',
    seek_request_to_resumed: "the part of the seek after the player's first Range request following it (before that request Chromium is still reading at the old position, the same for both libraries)"
  },
  libraries: Object.fromEntries(selected.map(l => [l.name, { label: l.label, summary: summaries[l.name], reps: results[l.name] }])),
  ratios_wasmtorrent_over_webtorrent: ratios
}
mkdirSync(dirname(args.json), { recursive: true })
writeFileSync(args.json, JSON.stringify(output, null, 2) + '\n')

console.log()
const fmt = s => s ? s.median.toFixed(0) : '—'
const range = s => s ? `${s.min.toFixed(0)}–${s.max.toFixed(0)}` : '—'
const rows = [['library', 'ok', 'first frame ms', 'min–max', 'seek → resumed ms', 'min–max', 'request → resumed ms', 'downloaded when resumed']]
for (const l of selected) {
  const m = summaries[l.name]
  rows.push([l.label, `${m.ok}/${m.reps}`, fmt(m.first_frame_ms), range(m.first_frame_ms), fmt(m.seek_resumed_ms), range(m.seek_resumed_ms), fmt(m.seek_request_to_resumed_ms),
    m.progress_at_resumed ? `${(100 * m.progress_at_resumed.median).toFixed(0)}%` : '—'])
}
const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
for (const r of rows) console.log(r.map((cell, i) => i ? cell.padStart(widths[i]) : cell.padEnd(widths[i])).join('  '))
if (ratios.first_frame !== null || ratios.seek_resumed !== null) {
  console.log(`ratios of medians, wasmtorrent/WebTorrent: first frame ${ratios.first_frame ?? '—'}, seek → resumed ${ratios.seek_resumed ?? '—'}, ` +
    `player's first request after the seek → resumed ${ratios.seek_request_to_resumed ?? '—'}`)
}
console.log('(medians over reps; first frame: add() → first requestVideoFrameCallback; seek: currentTime = 75% → playback advancing past the target frame)')
log(`wrote ${args.json}`)
const failed = Object.values(results).flat().filter(r => !r.ok).length
if (failed > 0) fail(`${failed} rep(s) failed (see above and ${args.json})`)
