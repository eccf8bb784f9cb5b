// Runs one of WebTorrent's tape test files in Chromium (WT_BROWSER=firefox: Firefox) against our browser package and
// prints its TAP output; scripts/webtorrent-suite-browser.sh runs each file through this,
// inside the loopback namespace, and tallies.
//   node scripts/webtorrent-suite-browser.mjs DIR FILE OUT LIMIT
// DIR is laid out as WebTorrent's repository (FILE relative to DIR/test), with the tests'
// imports and the Node built-in stand-ins listed in `builtins` below in DIR/node_modules.
// OUT is a scratch folder; LIMIT the seconds the file may take.
// Exit status: 0 tape finished, 124 stopped at LIMIT (the tests not ended are reported as
// tape reports them when Node exits), 3 the file could not be bundled.
//
// What airtap (browserify) does for WebTorrent, done with esbuild: the import of
// WebTorrent (../index.js, ../../, either `import` or `require`) becomes our
// dist/wasmtorrent.js, whose .wasm is served beside the bundle; Node's built-ins become
// their browserify stand-ins; `Buffer`, `process` and `global` are globals; `fs.readFileSync`
// reads files inlined into the bundle (as browserify's brfs transform, which
// webtorrent-fixtures relies on), namely the fixtures package's files and the non-JS files
// under DIR/test. The page is served from http://localhost:<port>/ (WebTorrent's
// server test builds URLs on localhost), with our service worker at /sw.min.js, the path
// WebTorrent's tests register.
import { mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join, resolve, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import { launchBrowser, newContext, repoRoot, startServer } from '../tests/browser/harness.mjs'

const [dirArg, file, outArg, limitArg] = process.argv.slice(2)
if (!dirArg || !file || !outArg) {
  console.error('usage: node scripts/webtorrent-suite-browser.mjs DIR FILE OUT [LIMIT]')
  process.exit(2)
}
const dir = resolve(dirArg)
const out = resolve(outArg)
const limitMs = Number(limitArg || 120) * 1000
const testFile = join(dir, 'test', file)
// WT_SUITE_PACKAGE / WT_SUITE_SW: another ES module and its service worker in place of ours,
// e.g. WebTorrent's own dist/webtorrent.min.js and dist/sw.min.js, for a baseline.
const pkg = resolve(process.env.WT_SUITE_PACKAGE || join(repoRoot, 'dist', 'wasmtorrent.js'))
const sw = resolve(process.env.WT_SUITE_SW || join(repoRoot, 'dist', 'wasmtorrent-sw.js'))
const dist = dirname(pkg)
const modules = join(dir, 'node_modules')

// Node built-in -> the package that stands in for it in a browser bundle, as browserify's.
const builtins = {
  buffer: 'buffer/index.js',
  events: 'events/events.js',
  http: 'stream-http/index.js',
  https: 'https-browserify/index.js',
  path: 'path-browserify/index.js',
  process: 'process/browser.js',
  querystring: 'querystring-es3/index.js',
  stream: 'stream-browserify/index.js',
  util: 'util/util.js'
}
// Stand-ins used when DIR/node_modules has them (a file that imports the built-in and finds
// none fails to bundle): crypto for bittorrent-protocol 4's MSE, which torrent-destroy.js imports.
const optionalBuiltins = {
  crypto: 'crypto-browserify/index.js'
}
// Bounds for what fs.readFileSync may return: a file, and all of them together.
const MAX_INLINE_FILE = 16 << 20
const MAX_INLINE_TOTAL = 64 << 20

// Files fs.readFileSync can read in the page, by absolute path (brfs resolves them when
// it bundles; we inline every candidate instead: the fixtures are under 1 MiB).
async function inlinedFiles () {
  const files = {}
  let total = 0
  async function walk (folder, keep) {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => [])
    for (const e of entries) {
      const path = join(folder, e.name)
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) await walk(path, keep)
      } else if (e.isFile() && keep(path)) {
        const { size } = await stat(path)
        if (size > MAX_INLINE_FILE) continue // read in the page, it throws ENOENT
        total += size
        if (total > MAX_INLINE_TOTAL) throw new Error(`more than ${MAX_INLINE_TOTAL} bytes of fixtures to inline`)
        files[path] = (await readFile(path)).toString('base64')
      }
    }
  }
  await walk(join(modules, 'webtorrent-fixtures', 'fixtures'), () => true)
  await walk(join(dir, 'test'), path => !/\.(c|m)?js$/.test(path))
  return files
}

// The part of `fs` the tests use, over the inlined files; paths relative to DIR, the
// folder WebTorrent's tests run from.
const fsModule = files => `
import { Buffer } from 'buffer'
const files = ${JSON.stringify(files)}
const root = ${JSON.stringify(dir)}
function absolute (path) {
  path = String(path)
  if (path.startsWith('file:')) path = decodeURIComponent(new URL(path).pathname)
  const parts = []
  for (const part of (path.startsWith('/') ? path : root + '/' + path).split('/')) {
    if (part === '..') parts.pop()
    else if (part !== '' && part !== '.') parts.push(part)
  }
  return '/' + parts.join('/')
}
export function readFileSync (path, options) {
  const data = files[absolute(path)]
  if (data === undefined) {
    throw Object.assign(new Error('ENOENT: no such file (not inlined in the bundle): ' + path), { code: 'ENOENT' })
  }
  const buf = Buffer.from(data, 'base64')
  const encoding = typeof options === 'string' ? options : options?.encoding
  return encoding ? buf.toString(encoding) : buf
}
export function existsSync (path) { return files[absolute(path)] !== undefined }
function missing (name) {
  return () => { throw new Error('fs.' + name + ' is not available in the browser (scripts/webtorrent-suite-browser.mjs)') }
}
export const writeFileSync = missing('writeFileSync')
export const statSync = missing('statSync')
export const createReadStream = missing('createReadStream')
export default { readFileSync, existsSync, writeFileSync, statSync, createReadStream }
`

// `url` as browserify's, plus the two helpers Node's has that the fixtures use.
const urlModule = `
export * from ${JSON.stringify(join(modules, 'url/url.js'))}
import * as legacy from ${JSON.stringify(join(modules, 'url/url.js'))}
export function fileURLToPath (u) { return decodeURIComponent(new URL(String(u)).pathname) }
export function pathToFileURL (p) { return new URL('file://' + encodeURI(p)) }
export default { ...legacy, fileURLToPath, pathToFileURL }
`

// Loaded before the test file: tells the runner when tape is done, and which tests had not
// ended when the time ran out. tape waits for suite:run, after the test file: a module that
// awaits at its top level (ours, for its .wasm) registers its tests after a task, and in
// Firefox tape's harness had already run, empty, by then.
const hookModule = `
import test from 'tape'
test.wait()
test.onFinish(() => console.log('# wasmtorrent-suite: done'))
globalThis.__suitePending = () => test.getHarness()._tests.filter(t => !t.ended).map(t => t.name)
`
const runModule = `
import test from 'tape'
test.run()
`

const underTests = path => path.startsWith(join(dir, 'test') + sep)

const swapPlugin = files => ({
  name: 'webtorrent-suite',
  setup (build) {
    // WebTorrent itself -> our package.
    build.onResolve({ filter: /^\.\.?\// }, args => {
      if (!underTests(args.importer)) return
      const target = resolve(args.resolveDir, args.path)
      if (target !== dir && target !== join(dir, 'index.js')) return
      return { path: args.kind === 'require-call' ? 'require' : 'import', namespace: 'wasmtorrent' }
    })
    build.onLoad({ filter: /.*/, namespace: 'wasmtorrent' }, args => ({
      // A CommonJS test (WebTorrent 1.x) required a module whose export was the class.
      contents: args.path === 'require'
        ? `module.exports = require(${JSON.stringify(pkg)}).default`
        : `export * from ${JSON.stringify(pkg)}\nexport { default } from ${JSON.stringify(pkg)}`,
      resolveDir: dist
    }))
    // Node's built-ins.
    build.onResolve({ filter: /^(node:)?[a-z_]+$/ }, args => {
      const name = args.path.replace(/^node:/, '')
      if (name === 'fs') return { path: 'fs', namespace: 'suite' }
      if (name === 'url') return { path: 'url', namespace: 'suite' }
      if (builtins[name]) return { path: join(modules, builtins[name]) }
      if (optionalBuiltins[name] && existsSync(join(modules, optionalBuiltins[name]))) return { path: join(modules, optionalBuiltins[name]) }
    })
    build.onLoad({ filter: /.*/, namespace: 'suite' }, args => ({
      contents: args.path === 'fs' ? fsModule(files) : args.path === 'url' ? urlModule : args.path === 'run' ? runModule : hookModule,
      resolveDir: dir
    }))
    // The tests' and fixtures' own location, which they read files relative to.
    build.onLoad({ filter: /\.(c|m)?js$/ }, async args => {
      if (!underTests(args.path) && !args.path.startsWith(join(modules, 'webtorrent-fixtures') + sep)) return
      let text = await readFile(args.path, 'utf8')
      text = text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
      if (/\b__(dirname|filename)\b/.test(text) && !/\b(const|let|var)\s+__(dirname|filename)\b/.test(text)) {
        text = `var __dirname = ${JSON.stringify(dirname(args.path))}, __filename = ${JSON.stringify(args.path)};\n` + text
      }
      return { contents: text, loader: 'js' }
    })
  }
})

async function bundle (www) {
  const missing = []
  for (const path of Object.values(builtins)) {
    if (!await stat(join(modules, path)).catch(() => null)) missing.push(path.split('/')[0])
  }
  if (missing.length) throw new Error(`DIR/node_modules lacks ${missing.join(' ')}: npm install them there`)
  const files = await inlinedFiles()
  const shims = join(out, 'globals.js')
  await writeFile(shims, `export { Buffer } from 'buffer'\nexport { default as process } from 'process'\n`)
  await esbuild.build({
    stdin: {
      contents: `import 'suite:hook'\nimport ${JSON.stringify(testFile)}\nimport 'suite:run'\n`,
      resolveDir: dir
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(www, 'test.js'),
    // browserify gives every module a __dirname (tape reads it when an assertion fails)
    define: { global: 'globalThis', __dirname: '"/"', __filename: '"/index.js"' },
    inject: [shims],
    logLevel: 'silent',
    plugins: [
      { name: 'hook', setup (b) { b.onResolve({ filter: /^suite:(hook|run)$/ }, args => ({ path: args.path.slice('suite:'.length), namespace: 'suite' })) } },
      swapPlugin(files)
    ]
  })
}

async function main () {
  const www = join(out, 'www')
  await rm(out, { recursive: true, force: true })
  await mkdir(www, { recursive: true })
  try {
    await bundle(www)
  } catch (err) {
    for (const line of String(err.message ?? err).split('\n')) console.log(`## bundle failed: ${line}`)
    return 3
  }
  // the package fetches its .wasm from beside itself (new URL(..., import.meta.url))
  for (const name of await readdir(dist)) {
    if (name.endsWith('.wasm')) await symlink(join(dist, name), join(www, name))
  }
  await symlink(sw, join(www, 'sw.min.js'))
  await writeFile(join(www, 'index.html'),
    '<!doctype html>\n<html><head><meta charset="utf-8"><title>suite</title></head>\n' +
    '<body><script type="module" src="/test.js"></script></body></html>\n')

  const server = await startServer({ root: www })
  const browser = await launchBrowser()
  let status = 124
  try {
    const context = await newContext(browser)
    const page = await context.newPage()
    const done = new Promise(resolve => {
      page.on('console', msg => {
        const text = msg.text()
        if (text === '# wasmtorrent-suite: done') return resolve()
        // tape writes TAP through console.log; the rest is the page's own logging, marked
        // '## ' so that the tally does not take it for a test's name
        if (msg.type() === 'log') console.log(text)
        else console.log(`## console.${msg.type()}: ${text.split('\n')[0]}`)
      })
    })
    page.on('pageerror', err => console.log(`## uncaught: ${String(err).split('\n')[0]}`))
    await page.goto(`http://localhost:${new URL(server.url).port}/index.html`)
    const timer = new Promise(resolve => setTimeout(resolve, limitMs, 'timeout'))
    if (await Promise.race([done, timer]) !== 'timeout') {
      status = 0
    } else {
      // As tape reports, when Node exits, the tests that had not ended.
      const pending = await page.evaluate(() => globalThis.__suitePending?.() ?? []).catch(() => [])
      pending.forEach((name, i) => console.log(`not ok ${1000 + i} test exited without ending: ${name}`))
    }
    const blocked = context.blockedRequests
    if (blocked.length) console.log(`## blocked (not loopback): ${blocked.join(' ')}`)
  } finally {
    await browser.close().catch(() => {})
    await server.close()
  }
  return status
}

process.exitCode = await main()
// Playwright's and the server's handles would keep Node alive a little longer.
process.exit()
