// The hand-written types (dist/wasmtorrent.d.ts, reached through package.json "exports")
// type-check a usage file with tsc --strict, and a WebTorrent app's TypeScript compiles
// against them with only its import changed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
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
