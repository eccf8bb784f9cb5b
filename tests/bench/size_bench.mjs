// The weight benchmark (issue 13): what a page downloads, and how fast the engine hashes.
// Sizes: raw, gzip (level 9) and brotli (quality 11, 16 MiB window) of dist/wasmtorrent.wasm
// and the JS a page loads, beside WebTorrent's webtorrent.min.js; each library's service
// worker on its own line (a page that streams into <video> loads it too), and Node's module
// wasmtorrent-node.wasm (with the HTTP/UDP trackers and the DHT; no page loads it). Hash speed: the
// engine's SHA-1 and SHA-256 as WebAssembly under Node (tests/bench/engine_bench.cpp
// --hash-only) against native OpenSSL, and SHA-1 through the shipped module (createTorrent of
// dist/wasmtorrent.node.js, which hashes every piece in the .wasm); MiB per CPU second.
// With --baseline, an earlier build measured in the same run: its sizes, and its speeds
// interleaved with today's.
//
//   node tests/bench/size_bench.mjs [options]   (or npm run bench -- size [options])
//     --dist DIR           the package (default dist/)
//     --wasm-bench FILE    engine_bench.js built with Emscripten (default build/wasm/tests/bench/)
//     --native-bench FILE  engine_bench built natively (default build/bench-native/tests/bench/)
//     --baseline DIR       an earlier build saved with --save-baseline: compare against it
//     --save-baseline DIR  copy today's dist/ and wasm engine_bench into DIR (and measure)
//     --reps N             interleaved reps of each speed measurement, best kept (default 3)
//     --mib M              MiB hashed per pass (default 128)
//     --json FILE          where to write the results (default build/bench/size.json)
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { round } from './common.mjs'

const log = msg => console.log(`[bench:size] ${msg}`)
const root = resolve(dirname(new URL(import.meta.url).pathname), '../..')

const { values: opts } = parseArgs({
  options: {
    dist: { type: 'string', default: join(root, 'dist') },
    'wasm-bench': { type: 'string', default: join(root, 'build/wasm/tests/bench/engine_bench.js') },
    'native-bench': { type: 'string', default: join(root, 'build/bench-native/tests/bench/engine_bench') },
    baseline: { type: 'string' },
    'save-baseline': { type: 'string' },
    reps: { type: 'string', default: '3' },
    mib: { type: 'string', default: '128' },
    json: { type: 'string', default: join(root, 'build/bench/size.json') }
  }
})
const reps = Number(opts.reps)
const mib = Number(opts.mib)

// --- Sizes -------------------------------------------------------------------------------

function sizes (file) {
  const bytes = readFileSync(file)
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length
      }
    }).length
  }
}

const sum = list => list.reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip, brotli: a.brotli + b.brotli }),
  { raw: 0, gzip: 0, brotli: 0 })

// A page loads the .wasm and one script: the drop-in <script> (wasmtorrent.global.js where
// the build makes it, else wasmtorrent.min.js) or the bundler module (wasmtorrent.js); the
// page total takes the smallest of those scripts the build has.
function wasmtorrentSizes (dist) {
  const files = {}
  for (const name of ['wasmtorrent.wasm', 'wasmtorrent-node.wasm', 'wasmtorrent.min.js', 'wasmtorrent.global.js', 'wasmtorrent.js', 'wasmtorrent-sw.js']) {
    if (existsSync(join(dist, name))) files[name] = sizes(join(dist, name))
  }
  const scripts = ['wasmtorrent.global.js', 'wasmtorrent.min.js', 'wasmtorrent.js'].filter(name => files[name])
  const script = scripts.sort((a, b) => files[a].gzip - files[b].gzip)[0]
  return { files, page: { files: ['wasmtorrent.wasm', script], ...sum([files['wasmtorrent.wasm'], files[script]]) }, serviceWorker: files['wasmtorrent-sw.js'] }
}

function webtorrentSizes () {
  const dist = join(root, 'node_modules/webtorrent/dist')
  const files = { 'webtorrent.min.js': sizes(join(dist, 'webtorrent.min.js')), 'sw.min.js': sizes(join(dist, 'sw.min.js')) }
  return { files, page: { files: ['webtorrent.min.js'], ...files['webtorrent.min.js'] }, serviceWorker: files['sw.min.js'] }
}

const kb = n => `${(n / 1000).toFixed(1)} kB`
const line = s => `${kb(s.raw)} raw, ${kb(s.gzip)} gzip, ${kb(s.brotli)} brotli`
const ratios = (a, b) => ({ raw: round(a.raw / b.raw, 2), gzip: round(a.gzip / b.gzip, 2), brotli: round(a.brotli / b.brotli, 2) })

// --- Hash speed ------------------------------------------------------------------------------

function engineBench (command, args) {
  const out = join(tmpdir(), `wt-size-bench-${process.pid}.json`)
  execFileSync(command, [...args, '--hash-only', '--mib', String(mib), '--json', out], { stdio: ['ignore', 'ignore', 'inherit'] })
  const result = JSON.parse(readFileSync(out))
  rmSync(out)
  return result
}
const nativeHashes = () => engineBench(opts['native-bench'], [])
const wasmHashes = file => engineBench(process.execPath, ['--no-experimental-fetch', file])

// SHA-1 in the shipped module: createTorrent hashes each 256 KiB piece in the .wasm (plus a
// copy into its memory). Returns a function that times one call, in MiB per CPU second (the
// process's: other processes on a shared machine stretch wall time, not this).
async function createTorrentPass (dist) {
  const { createTorrent, init } = await import(pathToFileURL(join(dist, 'wasmtorrent.node.js')).href)
  await init()
  const data = new Uint8Array(mib * 1024 * 1024)
  for (let i = 0; i < data.length; i += 4096) data[i] = i * 2654435761 >>> 24 // not all zeros
  return async () => {
    const start = process.cpuUsage()
    await createTorrent([{ path: 'bench.bin', data }], { pieceLength: 256 * 1024, announceList: [] })
    const { user, system } = process.cpuUsage(start)
    return { create_torrent_mib_per_s: round(mib / ((user + system) / 1e6), 1) }
  }
}

const best = (runs, key) => Math.max(...runs.map(r => r[key]))

// --- Run ---------------------------------------------------------------------------------

if (opts['save-baseline']) {
  const dir = opts['save-baseline']
  mkdirSync(join(dir, 'bench'), { recursive: true })
  cpSync(opts.dist, join(dir, 'dist'), { recursive: true })
  const bench = opts['wasm-bench']
  for (const file of [bench, bench.replace(/\.js$/, '.wasm'), join(dirname(bench), 'package.json')]) {
    cpSync(file, join(dir, 'bench', file.split('/').pop()))
  }
  log(`saved dist/ and the wasm engine_bench into ${dir} (compare later with --baseline ${dir})`)
}
const baseline = opts.baseline
  ? { dist: join(opts.baseline, 'dist'), bench: join(opts.baseline, 'bench/engine_bench.js') }
  : null

const wasmtorrent = wasmtorrentSizes(opts.dist)
const webtorrent = webtorrentSizes()
const before = baseline && wasmtorrentSizes(baseline.dist)
for (const [name, s] of Object.entries(wasmtorrent.files)) log(`${name}: ${line(s)}${before?.files[name] ? `  (baseline ${line(before.files[name])})` : ''}`)
log(`wasmtorrent page (${wasmtorrent.page.files.join(' + ')}): ${line(wasmtorrent.page)}`)
if (before) log(`baseline page (${before.page.files.join(' + ')}): ${line(before.page)}`)
log(`WebTorrent page (webtorrent.min.js): ${line(webtorrent.page)}; sw.min.js: ${line(webtorrent.serviceWorker)}`)
const pageRatio = ratios(wasmtorrent.page, webtorrent.page)
log(`wasmtorrent / WebTorrent, page: ${pageRatio.raw}x raw, ${pageRatio.gzip}x gzip, ${pageRatio.brotli}x brotli`)

log(`hash speed: ${reps} interleaved reps, ${mib} MiB per pass, MiB per CPU second, best kept`)
const runs = { native: [], wasm: [], baseline: [] }
const createNow = await createTorrentPass(opts.dist)
const createBefore = baseline && await createTorrentPass(baseline.dist)
for (let rep = 0; rep < reps; rep++) {
  runs.native.push(nativeHashes())
  runs.wasm.push({ ...wasmHashes(opts['wasm-bench']), ...await createNow() })
  if (baseline) runs.baseline.push({ ...wasmHashes(baseline.bench), ...await createBefore() })
}
const hashes = {}
for (const key of ['sha1_mib_per_s', 'sha1_blocks_mib_per_s', 'sha256_mib_per_s']) {
  hashes[key] = { native: best(runs.native, key), wasm: best(runs.wasm, key) }
  hashes[key].wasm_over_native = round(hashes[key].wasm / hashes[key].native, 2)
  if (baseline) {
    hashes[key].baseline = best(runs.baseline, key)
    hashes[key].wasm_over_baseline = round(hashes[key].wasm / hashes[key].baseline, 2)
  }
  const h = hashes[key]
  log(`${key.replace('_mib_per_s', '')}: native ${h.native} MiB/s, wasm ${h.wasm} MiB/s (${h.wasm_over_native}x native)` +
      (baseline ? `, baseline wasm ${h.baseline} MiB/s (now ${h.wasm_over_baseline}x)` : ''))
}
const created = { wasm: best(runs.wasm, 'create_torrent_mib_per_s') }
if (baseline) {
  created.baseline = best(runs.baseline, 'create_torrent_mib_per_s')
  created.wasm_over_baseline = round(created.wasm / created.baseline, 2)
}
hashes.create_torrent_mib_per_s = created
log(`createTorrent (SHA-1 in the shipped module): ${created.wasm} MiB/s` +
    (baseline ? `, baseline ${created.baseline} MiB/s (now ${created.wasm_over_baseline}x)` : ''))

const result = {
  date: new Date().toISOString(),
  wasmtorrent,
  webtorrent,
  wasmtorrent_over_webtorrent: { page: pageRatio, service_worker: ratios(wasmtorrent.serviceWorker, webtorrent.serviceWorker) },
  ...(before && { baseline: before, now_over_baseline: { page: ratios(wasmtorrent.page, before.page) } }),
  hashes,
  runs
}
mkdirSync(dirname(opts.json), { recursive: true })
writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n')
log(`wrote ${opts.json}`)
