// The hand-written types (dist/wasmtorrent.d.ts, reached through package.json "exports")
// type-check a usage file with tsc --strict, and a WebTorrent app's TypeScript compiles
// against them with only its import changed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const flags = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
  '--lib', 'es2022,dom']

function tsc (args) {
  return new Promise(resolve => {
    execFile('node_modules/.bin/tsc', [...flags, ...args], { cwd: root }, (err, stdout, stderr) => resolve({ err, out: stdout + stderr }))
  })
}

test('wasmtorrent.d.ts type-checks its documented uses', async () => {
  const result = await tsc(['--types', '', 'tests/js/types-usage.ts'])
  assert.equal(result.err, null, result.out)
})

test('a WebTorrent app typed with @types/webtorrent compiles against wasmtorrent with only its import changed', async () => {
  const app = 'tests/js/types-webtorrent-app.ts'
  // The oracle: the app is valid against WebTorrent's own types.
  const theirs = await tsc([app])
  assert.equal(theirs.err, null, theirs.out)

  const source = await readFile(root + app, 'utf8')
  const swapped = source.replace("from 'webtorrent'", "from 'wasmtorrent'")
  assert.notEqual(swapped, source)
  // Inside the package, so that 'wasmtorrent' resolves to this package's own exports.
  await mkdir(root + 'build/types', { recursive: true })
  await writeFile(root + 'build/types/webtorrent-app.ts', swapped)
  const ours = await tsc(['--types', '', 'build/types/webtorrent-app.ts'])
  assert.equal(ours.err, null, ours.out)
})

// Written against @types/webtorrent as a Node app writes it (the 2026-12-07 types probe): typed
// error callbacks, seed() of paths and Node streams with add options, store factories, symbol
// events, the namespace's names. Lines where @types/webtorrent itself departs from
// WebTorrent's runtime (get() giving void, torrentFile a Buffer, created/comment always set,
// WebTorrent 1's appendTo/renderTo/torrent.createServer) are left out.
test('a Node app typed with @types/webtorrent (and @types/node) compiles against wasmtorrent with only its imports changed', async () => {
  const dir = 'tests/js/types-node-app/'
  const files = (await readdir(root + dir)).filter(f => f.endsWith('.ts')).sort()
  assert.ok(files.length >= 8)
  const theirs = await tsc(['--types', 'node', '--esModuleInterop', ...files.map(f => dir + f)])
  assert.equal(theirs.err, null, theirs.out)

  await mkdir(root + 'build/types/node-app', { recursive: true })
  for (const f of files) {
    const source = await readFile(root + dir + f, 'utf8')
    await writeFile(root + 'build/types/node-app/' + f, source.replace("from 'webtorrent'", "from 'wasmtorrent'"))
  }
  const ours = await tsc(['--types', 'node', '--esModuleInterop', ...files.map(f => 'build/types/node-app/' + f)])
  assert.equal(ours.err, null, ours.out)
})
