// The hand-written types (dist/wasmtorrent.d.ts, reached through package.json "exports")
// type-check a usage file with tsc --strict.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

test('wasmtorrent.d.ts type-checks its documented uses', async () => {
  const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--lib', 'es2022,dom', '--types', '', 'tests/js/types-usage.ts']
  const result = await new Promise(resolve => {
    execFile('node_modules/.bin/tsc', args, { cwd: root }, (err, stdout, stderr) => resolve({ err, out: stdout + stderr }))
  })
  assert.equal(result.err, null, result.out)
})
