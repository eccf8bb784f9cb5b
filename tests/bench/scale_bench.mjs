// Scale under Node: many files, many torrents, small pieces. wasmtorrent
// (dist/wasmtorrent.node.js) and WebTorrent 2.8.5 each run every case in a child Node
// process of their own, the order alternating between reps; a seeder and a leecher of the
// same library share that process and meet over TCP on 127.0.0.1 (addPeer). Per case: the
// time and the child's CPU seconds (all threads, user + system), medians, and the ratios
// wasmtorrent / WebTorrent. A case a library fails (EMFILE, out of memory...) is recorded
// with its error, not as a time.
//
//   bash scripts/loopback.sh node tests/bench/scale_bench.mjs [options]
//   (or npm run bench -- scale [options])
//     --files N       files in the folder of the folder cases (default 5000: WebTorrent 3
//                     fails a download of 20,000 with EMFILE under a 1024-file limit)
//     --torrents N    torrents of the many-torrents case (default 400)
//     --pieces-mib M  MiB of the small-pieces case, 16 KiB pieces (default 256)
//     --reps N        runs per library and case (default 1)
//     --only LIST     cases: folder-seed,folder-download,torrents,small-pieces (default all)
//     --json FILE     where to write the results (default build/bench/scale.json)
//     --dist DIR      the wasmtorrent package to measure (default dist/)
//     --timeout S     per run (default 600)
// Cases:
//   folder-seed      seed(folder of N small files): from seed() to its callback
//   folder-download  that folder downloaded by a second client: from add() to 'done'
//   torrents         N torrents of 200 kB each seeded, then all added by a second client:
//                    from the first add() to the last 'done'
//   small-pieces     M MiB in 16 KiB pieces downloaded: from add() to 'done'
// Needs dist/ (npm run build). Must run inside a network namespace that has only loopback.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cp, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median, notLoopbackOnly, round } from './common.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '../..')
const CASES = ['folder-seed', 'folder-download', 'torrents', 'small-pieces']
const LIBRARIES = ['wasmtorrent', 'webtorrent']
const log = msg => console.log(`[bench:scale] ${msg}`)

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '5000' },
    torrents: { type: 'string', default: '400' },
    'pieces-mib': { type: 'string', default: '256' },
    reps: { type: 'string', default: '1' },
    only: { type: 'string', default: CASES.join(',') },
    json: { type: 'string', default: path.join(repoRoot, 'build/bench/scale.json') },
    dist: { type: 'string', default: path.join(repoRoot, 'dist') },
    timeout: { type: 'string', default: '600' },
    child: { type: 'string' },
    case: { type: 'string' },
    dir: { type: 'string' }
  }
})

// ---- child: one case with one library, measured from inside ------------------------------

async function child () {
  const WebTorrent = args.child === 'wasmtorrent'
    ? (await import(path.join(path.resolve(args.dist), 'wasmtorrent.node.js'))).default
    : (await import('webtorrent')).default
  const make = () => new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false })
  const seeder = make()
  const leecher = make()
  const failed = new Promise((resolve, reject) => {
    for (const c of [seeder, leecher]) c.on('error', reject)
  })
  let result
  try {
    result = await Promise.race([run(args.case, seeder, leecher, args.dir), failed])
  } catch (err) {
    result = { error: err.message }
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}

function begin () { return { t: performance.now(), cpu: process.cpuUsage() } }
function measured (start) {
  const cpu = process.cpuUsage(start.cpu)
  return { ms: performance.now() - start.t, cpu_s: (cpu.user + cpu.system) / 1e6 }
}

const seed = (client, input, opts) => new Promise((resolve, reject) => {
  client.seed(input, { announce: [], ...opts }, resolve).once('error', reject)
})

// add() from the seeder's torrent file; resolves at 'done'.
function download (leecher, seeder, torrentFile, out) {
  return new Promise((resolve, reject) => {
    const t = leecher.add(torrentFile, { path: out })
    t.once('error', reject)
    const dial = () => t.addPeer(`127.0.0.1:${seeder.address().port}`)
    if (t.infoHash) dial(); else t.once('infoHash', dial)
    t.once('done', resolve)
  })
}

async function run (name, seeder, leecher, dir) {
  const folder = path.join(dir, 'folder')
  if (name === 'folder-seed') {
    const start = begin()
    const t = await seed(seeder, folder, { path: dir })
    return { ...measured(start), files: t.files.length }
  }
  if (name === 'folder-download') {
    const t = await seed(seeder, folder, { path: dir })
    const start = begin()
    await download(leecher, seeder, t.torrentFile, path.join(dir, 'out'))
    return { ...measured(start), files: t.files.length }
  }
  if (name === 'torrents') {
    const count = Number(args.torrents)
    const seeds = await Promise.all(Array.from({ length: count }, (_, i) =>
      seed(seeder, Buffer.alloc(200_000 + i, i & 255), { name: `t${i}.bin`, path: path.join(dir, 'seeds') })))
    const start = begin()
    await Promise.all(seeds.map(t => download(leecher, seeder, t.torrentFile, path.join(dir, 'out'))))
    return { ...measured(start), torrents: count }
  }
  if (name === 'small-pieces') {
    const bytes = randomBytes(Number(args['pieces-mib']) << 20)
    const t = await seed(seeder, bytes, { name: 'small-pieces.bin', pieceLength: 16384, path: path.join(dir, 'seeds') })
    const start = begin()
    await download(leecher, seeder, t.torrentFile, path.join(dir, 'out'))
    return { ...measured(start), pieces: t.pieces.length }
  }
  throw new Error(`unknown case ${name}`)
}

// ---- parent ----------------------------------------------------------------------------------

async function main () {
  const problem = notLoopbackOnly('npm run bench -- scale')
  if (problem) { console.error(`[bench:scale] ${problem}`); process.exit(1) }
  const cases = args.only.split(',').filter(Boolean)
  for (const c of cases) if (!CASES.includes(c)) throw new Error(`--only: unknown case ${c} (${CASES.join(', ')})`)
  const reps = Number(args.reps)
  const root = await mkdtemp(path.join(tmpdir(), 'wt-bench-scale-'))
  try {
    const fileCount = Number(args.files)
    if (cases.some(c => c.startsWith('folder'))) {
      log(`writing a folder of ${fileCount} files`)
      for (let i = 0; i < fileCount; i++) {
        const sub = path.join(root, 'template', `d${i % 100}`)
        if (i < 100) await mkdir(sub, { recursive: true })
        await writeFile(path.join(sub, `f${i}.bin`), randomBytes(100 + (i * 37) % 1900))
      }
    }
    const results = {}
    for (const name of cases) {
      results[name] = { wasmtorrent: [], webtorrent: [] }
      for (let rep = 0; rep < reps; rep++) {
        const order = rep % 2 ? [...LIBRARIES].reverse() : LIBRARIES
        for (const library of order) {
          const dir = path.join(root, `${name}-${library}-${rep}`)
          await mkdir(dir)
          if (name.startsWith('folder')) await cp(path.join(root, 'template'), path.join(dir, 'folder'), { recursive: true })
          const r = await runChild(library, name, dir)
          await rm(dir, { recursive: true, force: true })
          results[name][library].push(r)
          log(`${name} ${library}: ${r.error ? `failed: ${r.error}` : `${round(r.ms / 1000, 2)} s, ${round(r.cpu_s, 2)} CPU-s`}`)
        }
      }
    }
    const summary = {}
    for (const [name, byLibrary] of Object.entries(results)) {
      const of = library => {
        const ok = byLibrary[library].filter(r => !r.error)
        return ok.length ? { s: round(median(ok.map(r => r.ms)) / 1000, 3), cpu_s: round(median(ok.map(r => r.cpu_s)), 2), failed: byLibrary[library].length - ok.length } : { failed: byLibrary[library].length }
      }
      const ours = of('wasmtorrent')
      const theirs = of('webtorrent')
      summary[name] = {
        wasmtorrent: ours,
        webtorrent: theirs,
        time_ratio: ours.s && theirs.s ? round(ours.s / theirs.s, 2) : null,
        cpu_ratio: ours.cpu_s && theirs.cpu_s ? round(ours.cpu_s / theirs.cpu_s, 2) : null
      }
      log(`${name}: wasmtorrent ${ours.s ?? 'failed'} s (${ours.cpu_s ?? '-'} CPU-s), WebTorrent ${theirs.s ?? 'failed'} s (${theirs.cpu_s ?? '-'} CPU-s): time ${summary[name].time_ratio ?? 'n/a'}, CPU ${summary[name].cpu_ratio ?? 'n/a'}`)
    }
    const out = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavg: loadavg() },
      options: { files: fileCount, torrents: Number(args.torrents), piecesMiB: Number(args['pieces-mib']), reps },
      summary,
      runs: results
    }
    mkdirSync(path.dirname(args.json), { recursive: true })
    writeFileSync(args.json, JSON.stringify(out, null, 2) + '\n')
    log(`wrote ${args.json}`)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

function runChild (library, name, dir) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', library, '--case', name, '--dir', dir,
      '--dist', args.dist, '--torrents', args.torrents, '--pieces-mib', args['pieces-mib']], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL') }, Number(args.timeout) * 1000)
    p.stdout.on('data', d => { out += d })
    p.on('error', reject)
    p.on('close', code => {
      clearTimeout(timer)
      if (timedOut) return resolve({ error: `no result within ${args.timeout} s` })
      const line = out.trim().split('\n').pop()
      try { resolve(JSON.parse(line)) } catch { resolve({ error: `child exited ${code}: ${line ?? ''}` }) }
    })
  })
}

if (args.child) await child()
else await main()
