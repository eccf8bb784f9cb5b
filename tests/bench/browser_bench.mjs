// The browser benchmark (issue 4): one Chromium page sends a torrent of random bytes to
// another over WebRTC, through a real bittorrent-tracker WebSocket server on 127.0.0.1.
//   a   wasmtorrent → wasmtorrent with store 'memory' (the leecher keeps the torrent in memory)
//   a'  wasmtorrent → wasmtorrent with each side's default store: the seeder reads the File
//       it seeds (BlobStore), the leecher writes the OPFS worker store (sync access handles)
//   b   WebTorrent → WebTorrent with memory-chunk-store (like for like with a)
//   b'  WebTorrent → WebTorrent with its default store (in Chromium: fsa-chunk-store, the
//       origin private file system), like for like with a'
//   c   a raw RTCDataChannel pushing the same bytes as fast as backpressure allows, in
//       web/transports/rtc.js's message size and buffer limits: the ceiling
// Each rep starts a fresh Chromium with two contexts, one page each: two renderer
// processes that share one browser, GPU and network-service process, like two tabs (and
// like the browser tests). One browser per page would be closer to two machines but adds a
// second set of those processes to every scenario alike; on 2 cores we keep one. Playwright's
// contexts are off the record, where Chromium keeps the origin private file system in
// memory, so a' and b' (the default stores) run instead in one browser with a persistent
// profile of its own (a fresh temporary folder per rep, deleted after it), where the stores
// hit the disk; its two pages are on two origins (127.0.0.1 and localhost), so each has an
// origin private file system and a renderer of its own, like two tabs of two sites. The
// measured window is, for a, a', b and b', the leecher's add(magnet) until its
// 'done' (tracker announce, WebRTC connection, metadata, all pieces verified); for c, the
// first send until the last byte arrived (the channel is opened before). Over that window
// it takes the wall time and the CPU time of the whole browser process tree (browser,
// renderers, GPU, network and other utility processes), read from /proc. The bytes that
// arrived are checked with SHA-256 after each rep. The receiver samples its byte count every
// 100 ms: each rep reports when the first byte came, the longest stall after it, and (a, b)
// when the first peer, the metadata and the first verified piece came. Reps are interleaved (rep 1 of every
// scenario, then rep 2, …) so that a noisy stretch on the machine hits all scenarios.
//
//   bash scripts/loopback.sh node tests/bench/browser_bench.mjs [options]
//   (or npm run bench -- browser [options])
//     --reps N         reps per scenario (default 5, or $WT_BENCH_REPS)
//     --mib M          torrent size in MiB (default 64, or $WT_BENCH_BROWSER_MIB)
//     --only LIST      scenarios, comma-separated ids or names: a,"a'",b,"b'",c or wasmtorrent,
//                      wasmtorrent-default,webtorrent-memory,webtorrent-default,datachannel
//     --timeout S      seconds per measured window before the rep fails (default 60 + 2 s/MiB)
//     --piece-kib K    the torrent's piece length (default: as each library's createTorrent
//                      picks it for the size; both pick alike)
//     --json FILE      where to write the results (default build/bench/browser.json)
//     --profile DIR    also record a CPU profile of each page's main thread over the measured
//                      window (DevTools' .cpuprofile, one per page and rep) and print the
//                      functions with the most self time
//     --trace DIR      wasmtorrent: sample both pages' pipeline every 50 ms over the measured
//                      window (the data channel's queue and buffer, the store's requests in
//                      flight, bytes moved; one JSON per rep) and print where it waited
//     --chrome-trace DIR  a, b, c: also record Chromium's own trace of both pages over the
//                      measured window (DIR/<scenario>-<rep>.json, for DevTools' Performance
//                      panel or chrome://tracing): the threads' time by task, which the
//                      profiles' "(program)" hides (a'/b' run in a persistent context, which
//                      Playwright cannot trace so)
//     --threads        print the browser's busiest threads over each measured window (CPU
//                      seconds by process kind and thread name, from /proc)
//     --per-renderer   with --threads: each renderer's threads apart, keyed by its process id
//                      (renderer<pid>/<thread>; the sender's IPC and WebRTC threads are the
//                      busier pair), where by default the two pages' threads of a name add up
// Needs dist/ (npm run build). Must run inside a network namespace that has only loopback.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import Server from 'bittorrent-tracker/server'
import { launchBrowser, launchPersistent, repoRoot, startServer } from '../browser/harness.mjs'
import { BUFFER_HIGH } from '../../web/transports/rtc.js'
import { median, notLoopbackOnly, openBenchPage, openPage, round, seederAnnounced, withTimeout } from './common.mjs'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const log = msg => console.log(`[bench:browser] ${msg}`)

const scenarios = [
  { id: 'a', name: 'wasmtorrent', label: 'wasmtorrent → wasmtorrent (memory)', lib: 'wasmtorrent', store: 'memory' },
  { id: "a'", name: 'wasmtorrent-default', label: 'wasmtorrent → wasmtorrent (default store, on disk)', lib: 'wasmtorrent', store: 'default', persistent: true },
  { id: 'b', name: 'webtorrent-memory', label: 'WebTorrent → WebTorrent (memory-chunk-store)', lib: 'webtorrent', store: 'memory' },
  { id: "b'", name: 'webtorrent-default', label: 'WebTorrent → WebTorrent (default store, on disk)', lib: 'webtorrent', store: 'default', persistent: true },
  { id: 'c', name: 'datachannel', label: 'raw RTCDataChannel (ceiling)', lib: 'datachannel' }
]

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: process.env.WT_BENCH_REPS || '5' },
    mib: { type: 'string', default: process.env.WT_BENCH_BROWSER_MIB || '64' },
    only: { type: 'string' },
    timeout: { type: 'string' },
    'piece-kib': { type: 'string' },
    json: { type: 'string', default: join(repoRoot, 'build/bench/browser.json') },
    profile: { type: 'string' },
    trace: { type: 'string' },
    'chrome-trace': { type: 'string' },
    threads: { type: 'boolean' },
    'per-renderer': { type: 'boolean' }
  }
})
const reps = Number(args.reps)
const size = Math.round(Number(args.mib) * MiB)
const timeoutMs = 1000 * (args.timeout ? Number(args.timeout) : 60 + 2 * size / MiB)
if (!Number.isInteger(reps) || reps < 1 || !(size > 0) || !(timeoutMs > 0)) fail('--reps takes a positive integer, --mib and --timeout positive numbers')
const selected = args.only
  ? args.only.split(',').map(key => scenarios.find(s => s.id === key || s.name === key) ?? fail(`unknown scenario ${key}`))
  : scenarios

function fail (message) {
  console.error(`[bench:browser] error: ${message}`)
  process.exit(1)
}

// Outside a loopback-only namespace Chromium would also gather candidates on the other
// interfaces and send mDNS: refuse rather than leak.
const outside = notLoopbackOnly('npm run bench -- browser')
if (outside) fail(outside)

// The raw channel sends like the client does: its message size and buffer limits, read
// from web/transports/rtc.js so that the ceiling follows the client if they change.
function clientConstant (name) {
  const source = readFileSync(join(repoRoot, 'web/transports/rtc.js'), 'utf8')
  const m = new RegExp(`^(?:export )?const ${name} = ([\\d\\s*]+?)\\s*(//.*)?$`, 'm').exec(source)
  if (!m) fail(`cannot read ${name} from web/transports/rtc.js`)
  return m[1].split('*').reduce((product, n) => product * Number(n), 1)
}
const channel = {
  messageSize: clientConstant('MESSAGE_SIZE'),
  high: clientConstant('BUFFER_HIGH'),
  low: clientConstant('BUFFER_LOW')
}

// --- CPU time from /proc ----------------------------------------------------------------

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))

// pid -> { ppid, ticks }, ticks = utime + stime + cutime + cstime: a process that exits
// during the window and is reaped by its parent moves its time into the parent's cutime and
// cstime, so the sum over a tree stays continuous.
function processTable () {
  const table = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat
    try { stat = readFileSync(`/proc/${entry}/stat`, 'utf8') } catch { continue } // exited meanwhile
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // f[0] is field 3 (state)
    table.set(Number(entry), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) })
  }
  return table
}

const childrenOf = (table, pid) => [...table].filter(([, p]) => p.ppid === pid).map(([child]) => child)

// For the processes `roots` and all their descendants: CPU seconds used so far, and
// seconds their threads have spent runnable but waiting for a CPU (schedstat's run_delay,
// summed over threads). Together with the wall time they tell a client that is starved of
// CPU (it waits in the run queue) from one that is stalled (it neither runs nor waits).
function treeSeconds (roots) {
  const table = processTable()
  let ticks = 0
  let waitNs = 0
  for (const pid of treeOf(table, roots)) {
    ticks += table.get(pid)?.ticks ?? 0
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        waitNs += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1])
      }
    } catch {} // exited meanwhile
  }
  return { cpu: ticks / ticksPerSecond, wait: waitNs / 1e9 }
}

// The processes `roots` and all their descendants in `table`.
function treeOf (table, roots) {
  const pids = []
  const stack = [...roots]
  while (stack.length > 0) {
    const pid = stack.pop()
    pids.push(pid)
    stack.push(...childrenOf(table, pid))
  }
  return pids
}

// For the same tree: CPU seconds per thread, keyed by process kind and thread name
// ("renderer/Chrome_ChildIOT"; two renderers' threads of one name add up, unless
// --per-renderer: "renderer1234/Chrome_ChildIOT"): where the
// time goes, which the pages' profiles (main threads only) do not show. Threads that
// exit during the window are missed (their time moves to no thread we read).
function threadSeconds (roots) {
  const seconds = new Map()
  for (const pid of treeOf(processTable(), roots)) {
    try {
      const type = /--type=([\w-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? 'browser'
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8')
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        const key = args['per-renderer'] && type === 'renderer' ? `${type}${pid}/${name}` : `${type}/${name}`
        seconds.set(key, (seconds.get(key) ?? 0) + (Number(f[11]) + Number(f[12])) / ticksPerSecond)
      }
    } catch {} // exited meanwhile
  }
  return seconds
}

// The threads that used the most CPU between two threadSeconds() readings, as [key, s].
function busiestThreads (before, after, count = 12) {
  return [...after].map(([key, s]) => [key, round(s - (before.get(key) ?? 0), 2)])
    .filter(([, s]) => s > 0).sort((x, y) => y[1] - x[1]).slice(0, count)
}

// CPU seconds the whole machine has been busy (all cores), from /proc/stat.
function machineBusySeconds () {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return (user + nice + system + irq + softirq + steal) / ticksPerSecond
}

function cpuSnapshot (roots) {
  const own = process.cpuUsage()
  const tree = treeSeconds(roots)
  return { browser: tree.cpu, waited: tree.wait, node: (own.user + own.system) / 1e6, machine: machineBusySeconds() }
}

// --- one rep --------------------------------------------------------------------------

let http, tracker, trackerURL, chromiumVersion

// A fresh browser with one page in each of two contexts: [sender, receiver].
async function openPages (browser, path) {
  return Promise.all([0, 1].map(() => openBenchPage(browser, http.url, path)))
}

// The same in one persistent context: the receiver on another origin (localhost), so that
// the two pages' stores do not share an origin private file system.
async function openPersistentPages (context, path) {
  const other = new URL(http.url)
  other.hostname = 'localhost'
  return Promise.all([http.url, other.href].map(base => openPage(context, base, path)))
}

async function runRep (scenario) {
  const before = new Set(childrenOf(processTable(), process.pid))
  const profile = scenario.persistent ? mkdtempSync(join(tmpdir(), 'wt-bench-profile-')) : null
  const context = profile ? await launchPersistent(profile) : null
  const browser = context ? null : await launchBrowser()
  chromiumVersion ??= browser?.version()
  // Playwright starts the browser as a child of this process: the new child is its root.
  const roots = childrenOf(processTable(), process.pid).filter(pid => !before.has(pid))
  let src, dst
  try {
    const path = `/tests/bench/pages/${scenario.lib}.html`
    ;[src, dst] = context ? await openPersistentPages(context, path) : await openPages(browser, path)
    const expected = await src.evaluate(size => window.bench.makeData(size), size)
    let start
    let pieceLength = args['piece-kib'] ? Math.round(Number(args['piece-kib']) * 1024) : undefined
    if (scenario.lib === 'datachannel') {
      const offer = await src.evaluate(() => window.bench.dcOffer())
      const answer = await dst.evaluate(o => window.bench.dcAnswer(o), { sdp: offer, size })
      await src.evaluate(sdp => window.bench.dcAccept(sdp), answer)
      start = () => src.evaluate(o => window.bench.dcSend(o), channel)
    } else {
      const opts = { lib: scenario.lib, store: scenario.store, trackerURL, pieceLength }
      const seeded = await src.evaluate(o => window.bench.seed(o), opts)
      pieceLength = seeded.pieceLength
      await seederAnnounced(tracker, seeded.infoHash)
      await dst.evaluate(o => window.bench.prepare(o), opts)
      // bench.js leaves wasmtorrent's store option out, and its default is now the OPFS store:
      // a asks for the memory store explicitly (set on the client, outside the window).
      if (scenario.lib === 'wasmtorrent' && scenario.store === 'memory') {
        await dst.evaluate(store => {
          const client = window.bench.client()
          const add = client.add.bind(client)
          client.add = (id, o = {}, cb) => add(id, { store, ...o }, cb)
        }, scenario.store)
      }
      start = () => dst.evaluate(o => window.bench.add(o), { ...opts, magnet: seeded.magnet })
    }

    const profilers = args.profile ? await Promise.all([src, dst].map(startProfiler)) : []
    const tracing = args.trace && scenario.lib === 'wasmtorrent'
    if (tracing) await Promise.all([src, dst].map(page => page.evaluate(startTrace)))
    const threads0 = args.threads ? threadSeconds(roots) : null
    const chromeTrace = args['chrome-trace'] && browser
      ? join(args['chrome-trace'], `${scenario.name}-${chromeTraceCount[scenario.name] = (chromeTraceCount[scenario.name] ?? 0) + 1}.json`)
      : null
    if (chromeTrace) {
      mkdirSync(args['chrome-trace'], { recursive: true })
      await browser.startTracing(null, { path: chromeTrace, categories: CHROME_TRACE_CATEGORIES })
    }
    const cpu0 = cpuSnapshot(roots)
    const t0 = performance.now()
    await start()
    const pageMs = await withTimeout(dst.evaluate(() => window.bench.done()), timeoutMs, async () => {
      const status = await dst.evaluate(() => window.bench.status()).catch(err => String(err))
      return `timed out after ${timeoutMs / 1000} s; receiver: ${JSON.stringify(status)}`
    })
    const seconds = (performance.now() - t0) / 1000
    const cpu1 = cpuSnapshot(roots)
    if (chromeTrace) {
      await browser.stopTracing()
      log(`Chromium trace ${chromeTrace}`)
    }
    const threads = threads0 && busiestThreads(threads0, threadSeconds(roots))
    if (threads) log(`threads, CPU-s: ${threads.map(([key, s]) => `${key} ${s}`).join(', ')}`)
    for (const [i, profiler] of profilers.entries()) {
      await saveProfile(profiler, `${scenario.name}-${++profileCount[scenario.name] || (profileCount[scenario.name] = 1)}-${i ? 'receiver' : 'sender'}`)
    }

    if (tracing) await saveTrace(src, dst, `${scenario.name}-${traceCount[scenario.name] = (traceCount[scenario.name] ?? 0) + 1}`)
    const flow = summariseTimeline(await dst.evaluate(() => window.bench.timeline()))
    const { wire, metadata, verified } = await dst.evaluate(() => window.bench.milestones())
    const ms = x => x === undefined ? null : round(x / 1000, 3)
    const got = await dst.evaluate(() => window.bench.verify())
    if (got.length !== size || got.sha256 !== expected) {
      throw new Error(`received ${got.length} bytes with SHA-256 ${got.sha256}, expected ${size} bytes with ${expected}`)
    }
    const browserCpu = cpu1.browser - cpu0.browser
    const nodeCpu = cpu1.node - cpu0.node
    return {
      ok: true,
      seconds: round(seconds, 3),
      // a, b: the leecher's own add → done, as a cross-check of `seconds`
      page_seconds: pageMs === null ? null : round(pageMs / 1000, 3),
      mib_per_s: round(size / MiB / seconds, 2),
      cpu_seconds: round(browserCpu, 2),
      cpu_seconds_per_gib: round(browserCpu / (size / GiB), 1),
      // This process (tracker, Playwright) and everything else on the machine, in cores busy
      // on average over the window: how busy the machine was (when it is saturated, this is
      // what the browser did not get).
      node_cpu_seconds: round(nodeCpu, 2),
      other_busy_cores: round((cpu1.machine - cpu0.machine - browserCpu - nodeCpu) / seconds, 2),
      // Browser threads runnable but not running, on average over the window.
      waiting_threads: round((cpu1.waited - cpu0.waited) / seconds, 2),
      piece_length: pieceLength,
      ...flow,
      // a, b: seconds from add() to the first peer's wire, the metadata, the first verified piece
      first_wire_s: ms(wire),
      metadata_s: ms(metadata),
      first_piece_s: ms(verified),
      leecher_storage_bytes: got.storageBytes,
      page_errors: [...src.errors, ...dst.errors],
      ...(threads && { threads_cpu_seconds: Object.fromEntries(threads) })
    }
  } catch (err) {
    const errors = [...(src?.errors ?? []), ...(dst?.errors ?? [])]
    if (errors.length) err.message += ` (errors in the pages: ${errors.join(' | ')})`
    throw err
  } finally {
    await (context ?? browser).close().catch(() => {})
    if (profile) rmSync(profile, { recursive: true, force: true })
  }
}

// The receiver's bytes sampled every 100 ms (bench.js): when the first arrived, and the
// longest stretch after that with nothing arriving (a stalled channel shows here).
function summariseTimeline (samples) {
  const first = samples.find(([, bytes]) => bytes > 0)
  let longest = 0
  let since = null
  for (let i = 1; i < samples.length; i++) {
    if (samples[i][1] === samples[i - 1][1] && samples[i][1] > 0) {
      since ??= samples[i - 1][0]
      longest = Math.max(longest, samples[i][0] - since)
    } else since = null
  }
  return { first_byte_s: first ? round(first[0] / 1000, 2) : null, longest_stall_s: round(longest / 1000, 2) }
}

// --- pipeline traces (--trace) -----------------------------------------------------------

// Runs in a page: every 50 ms, the client's data channels (bytes queued in the transport, in
// the channel's buffer), its torrents' store requests in flight, and bytes up and down.
function startTrace () {
  const samples = []
  const t0 = performance.now()
  window.__trace = { samples, timer: setInterval(() => {
    const client = window.bench.client()
    const torrent = client?.torrents[0]
    const peers = [...(client?._rtc?.peers.values() ?? [])]
    samples.push({
      t: Math.round(performance.now() - t0),
      queued: peers.reduce((n, p) => n + p.queued, 0),
      messages: peers.reduce((n, p) => n + p.messages, 0),
      buffered: peers.reduce((n, p) => n + (p.dc?.bufferedAmount ?? 0), 0),
      reads: torrent?._storage?.inFlight.read ?? 0,
      writes: torrent?._storage?.inFlight.write ?? 0,
      up: torrent?.uploaded ?? 0,
      down: torrent?.received ?? 0
    })
  }, 50) }
}

const traceCount = {}

// Stops both pages' traces, writes them, and prints the share of samples in each state.
async function saveTrace (src, dst, name) {
  const stop = () => { clearInterval(window.__trace.timer); return window.__trace.samples }
  const [sender, receiver] = await Promise.all([src.evaluate(stop), dst.evaluate(stop)])
  mkdirSync(args.trace, { recursive: true })
  writeFileSync(join(args.trace, `${name}.json`), JSON.stringify({ sender, receiver }))
  const share = (list, f) => `${Math.round(100 * list.filter(f).length / Math.max(1, list.length))}%`
  const high = BUFFER_HIGH
  const last = list => list.at(-1) ?? { up: 0, down: 0, messages: 0 }
  // The most messages any sample saw: a peer's count goes with it when its channel closes,
  // which may come before the last sample.
  const sent = list => Math.max(0, ...list.map(x => x.messages))
  const perMessage = list => sent(list) ? `${Math.round(last(list).up / sent(list) / 1024)} KiB` : '—'
  log(`trace ${name}: sender channel buffer ≥ ${high / 1024} KiB ${share(sender, x => x.buffered >= high)}, ` +
      `< 64 KiB with nothing queued ${share(sender, x => x.buffered < 65536 && x.queued === 0)}, ` +
      `store reads in flight ${share(sender, x => x.reads > 0)}; receiver store writes ≥ 4 in flight ` +
      `${share(receiver, x => x.writes >= 4)}; messages sent ${sent(sender)} (${perMessage(sender)} each), ` +
      `by the receiver ${sent(receiver)}; ${sender.length} samples`)
}

// --- Chromium's traces (--chrome-trace) ----------------------------------------------------

// Tasks and their thread time on every thread (toplevel), Blink's and V8's events, the
// data channel's and mojo's: enough to tell a page's own JS from the work Blink does for it.
const CHROME_TRACE_CATEGORIES = ['toplevel', 'blink', 'v8', 'webrtc', 'mojom', 'disabled-by-default-devtools.timeline']
const chromeTraceCount = {}

// --- CPU profiles (--profile) ------------------------------------------------------------

const profileCount = {}

async function startProfiler (page) {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
  await cdp.send('Profiler.start')
  return cdp
}

// Writes the profile and prints the functions with the most self time, with their share.
async function saveProfile (cdp, name) {
  const { profile } = await cdp.send('Profiler.stop')
  mkdirSync(args.profile, { recursive: true })
  const file = join(args.profile, `${name}.cpuprofile`)
  writeFileSync(file, JSON.stringify(profile))
  const byNode = new Map(profile.nodes.map(n => [n.id, n]))
  const self = new Map()
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byNode.get(profile.samples[i]).callFrame
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)
  log(`profile ${file}: ${(total / 1e6).toFixed(2)} s sampled; most self time:`)
  for (const [key, us] of top) log(`  ${(100 * us / total).toFixed(1).padStart(5)}%  ${key}`)
}

// --- summary ----------------------------------------------------------------------------

function summarize (results) {
  const ok = results.filter(r => r.ok)
  if (ok.length === 0) return { ok: 0, reps: results.length }
  const speeds = ok.map(r => r.mib_per_s)
  return {
    ok: ok.length,
    reps: results.length,
    mib_per_s: { median: round(median(speeds), 2), min: Math.min(...speeds), max: Math.max(...speeds) },
    cpu_seconds_per_gib: round(median(ok.map(r => r.cpu_seconds_per_gib)), 1),
    other_busy_cores: round(median(ok.map(r => r.other_busy_cores)), 2),
    // a, b: from add() to the first verified piece (null for the raw channel)
    first_piece_s: ok.every(r => r.first_piece_s !== null && r.first_piece_s !== undefined) ? round(median(ok.map(r => r.first_piece_s)), 3) : null
  }
}

function printTable (summaries, ratios) {
  const rows = [['', 'scenario', 'ok', 'MiB/s median', 'min–max', 'CPU-s/GiB', 'first piece', 'other load']]
  for (const s of selected) {
    const m = summaries[s.name]
    rows.push([s.id, s.label, `${m.ok}/${m.reps}`,
      m.mib_per_s?.median.toFixed(1) ?? '—',
      m.mib_per_s ? `${m.mib_per_s.min.toFixed(1)}–${m.mib_per_s.max.toFixed(1)}` : '—',
      m.cpu_seconds_per_gib?.toFixed(0) ?? '—',
      m.first_piece_s ? `${m.first_piece_s.toFixed(2)} s` : '—',
      m.other_busy_cores !== undefined ? `${m.other_busy_cores.toFixed(2)} cores` : '—'])
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  const right = new Set([2, 3, 4, 5, 6, 7])
  for (const r of rows) console.log(r.map((cell, i) => right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])).join('  '))
  const shown = Object.entries(ratios).filter(([, v]) => v !== null)
  if (shown.length) console.log(`ratios of median MiB/s: ${shown.map(([k, v]) => `${k} = ${v}`).join(', ')}`)
}

// --- main -------------------------------------------------------------------------------

// memory-chunk-store is CommonJS in node_modules: bundle it into one ES module the
// WebTorrent page can import next to WebTorrent's own browser bundle.
const storeBundle = join(repoRoot, 'build/bench/memory-chunk-store.js')
mkdirSync(dirname(storeBundle), { recursive: true })
execFileSync(join(repoRoot, 'node_modules/.bin/esbuild'), [
  join(repoRoot, 'node_modules/memory-chunk-store/index.js'), '--bundle', '--format=esm',
  '--platform=browser', `--outfile=${storeBundle}`, '--log-level=warning'
], { stdio: 'inherit' })

// WebSocket clients re-announce every interval / 5 (10 s here instead of 2 min), so a
// first WebRTC connection attempt that fails is retried within a rep (as in the tests).
tracker = new Server({ udp: false, http: false, ws: true, stats: false, interval: 50_000 })
tracker.on('error', err => console.error('tracker error', err))
await new Promise(resolve => tracker.listen(0, '127.0.0.1', resolve))
trackerURL = `ws://127.0.0.1:${tracker.http.address().port}`
http = await startServer()
const loadAtStart = loadavg().map(x => round(x, 2))

log(`${size / MiB} MiB, ${reps} reps of ${selected.map(s => s.id).join(', ')}; ` +
    `raw channel: ${channel.messageSize / 1024} KiB messages, buffer ${channel.high / MiB} MiB / ${channel.low / MiB} MiB`)
const results = Object.fromEntries(selected.map(s => [s.name, []]))
for (let rep = 1; rep <= reps; rep++) {
  for (const s of selected) {
    const prefix = `${rep}/${reps} ${s.id.padEnd(2)} ${s.name}:`
    let r
    try {
      r = { rep, ...await runRep(s) }
      log(`${prefix} ${r.mib_per_s.toFixed(1)} MiB/s (${r.seconds.toFixed(2)} s), ` +
          `${r.cpu_seconds_per_gib.toFixed(0)} CPU-s/GiB, browser using ${(r.cpu_seconds / r.seconds).toFixed(2)} cores ` +
          `and waiting for ${r.waiting_threads.toFixed(2)}, other load ${r.other_busy_cores.toFixed(2)} cores; ` +
          (r.first_wire_s === null ? '' : `first peer ${r.first_wire_s} s, metadata ${r.metadata_s} s, first piece ${r.first_piece_s} s; `) +
          `first byte at ${r.first_byte_s ?? '-'} s, longest stall ${r.longest_stall_s} s`)
      if (r.page_errors.length) log(`${prefix} errors in the pages: ${r.page_errors.join(' | ')}`)
    } catch (err) {
      r = { rep, ok: false, error: err.message.split('\n')[0] } // Playwright appends a call log
      log(`${prefix} FAILED: ${r.error}`)
    }
    results[s.name].push(r)
  }
}
await http.close()
await new Promise(resolve => tracker.close(resolve))

const summaries = Object.fromEntries(selected.map(s => [s.name, summarize(results[s.name])]))
const speed = name => summaries[name]?.mib_per_s?.median
const ratio = (a, b) => speed(a) && speed(b) ? round(speed(a) / speed(b), 2) : null
const ratios = {
  'a/b': ratio('wasmtorrent', 'webtorrent-memory'),
  "a'/b'": ratio('wasmtorrent-default', 'webtorrent-default'),
  "a/b'": ratio('wasmtorrent', 'webtorrent-default'),
  'a/c': ratio('wasmtorrent', 'datachannel')
}
const cpu = name => summaries[name]?.cpu_seconds_per_gib
const cpuOver = (a, b) => cpu(a) && cpu(b) ? round(cpu(a) / cpu(b), 2) : null
const cpuRatio = cpuOver('wasmtorrent', 'webtorrent-memory')
const cpuRatios = { 'a/b': cpuRatio, "a'/b'": cpuOver('wasmtorrent-default', 'webtorrent-default') }

const output = {
  date: new Date().toISOString(),
  machine: {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model,
    loadavg_at_start: loadAtStart,
    chromium: chromiumVersion,
    node: process.version
  },
  config: {
    mib: size / MiB,
    reps,
    timeout_s: timeoutMs / 1000,
    raw_channel: { message_size: channel.messageSize, buffer_high: channel.high, buffer_low: channel.low },
    setup: 'per rep: a fresh Chromium, two contexts with one page each (a\', b\': one persistent context with a fresh profile on disk, pages on the origins 127.0.0.1 and localhost), one bittorrent-tracker WebSocket server on 127.0.0.1 for the run; loopback-only network namespace',
    window: 'a, a\', b, b\': leecher add(magnet) to done; c: first send to last byte received (channel opened before)',
    cpu: 'utime+stime(+cutime+cstime) of the whole browser process tree over the window, from /proc'
  },
  scenarios: Object.fromEntries(selected.map(s => [s.name, { id: s.id, label: s.label, summary: summaries[s.name], reps: results[s.name] }])),
  ratios,
  cpu_per_gib_ratio_a_over_b: cpuRatio,
  cpu_per_gib_ratios: cpuRatios
}
mkdirSync(dirname(args.json), { recursive: true })
writeFileSync(args.json, JSON.stringify(output, null, 2) + '\n')

console.log()
printTable(summaries, ratios)
const cpuShown = Object.entries(cpuRatios).filter(([, v]) => v !== null)
if (cpuShown.length) console.log(`CPU-s per GiB: ${cpuShown.map(([k, v]) => `${k} = ${v}`).join(', ')}`)
console.log(`(${size / MiB} MiB per rep; CPU: all browser processes; other load: cores busy with everything else on the machine)`)
log(`wrote ${args.json}`)
const failed = Object.values(results).flat().filter(r => !r.ok).length
if (failed > 0) fail(`${failed} rep(s) failed (see above and ${args.json})`)
