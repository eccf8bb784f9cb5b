// The test command computes its environment (scripts/env.sh) before setup installs
// anything. On a fresh machine Emscripten and its acorn (/usr/share/nodejs) arrive only
// during setup, so nothing computed up front may depend on them: a NODE_PATH exported
// only when /usr/share/nodejs already existed once broke every first run (issue 9).
// These tests replay that ordering on a machine that already has the packages.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, writeFile, rm, access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

function run (cmd, args, opts = {}) {
  return new Promise(resolve => {
    execFile(cmd, args, { cwd: root, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, out: stdout, err: stderr }))
  })
}

// What sourcing env.sh exports, one NAME=value per line, sorted.
const printEnv = 'source scripts/env.sh && env | sort'
const isRoot = process.getuid?.() === 0

test('scripts/env.sh exports the same whether or not Emscripten and acorn are installed yet', {
  skip: !isRoot && 'needs root for a private mount namespace (unshare -m)'
}, async () => {
  const installed = await run('bash', ['-c', printEnv])
  assert.equal(installed.code, 0, installed.err)
  // A private mount namespace in which what setup installs there is absent: an empty
  // /usr/share, so neither Debian's Node modules nor Emscripten exist (not even as empty
  // folders, which a test for the folder would still find).
  const fresh = await run('unshare', ['-m', '--propagation', 'private', 'bash', '-c',
    `mount -t tmpfs none /usr/share && [ ! -e /usr/share/nodejs ] || exit 3; ${printEnv}`])
  assert.equal(fresh.code, 0, fresh.err)
  assert.equal(fresh.out, installed.out)
})

test('a WebAssembly link through emsdk-toolchain.cmake needs no NODE_PATH from the caller', {
  timeout: 300_000
}, async t => {
  if ((await run('bash', ['-c', 'command -v emcc'])).code !== 0) return t.skip('no emcc (run scripts/setup.sh)')
  const dir = await mkdtemp(join(tmpdir(), 'wt-toolchain-'))
  try {
    // The same kind of link as bindings/: Embind, an ES6 factory, Release. Its JS
    // optimizer pass (acorn-optimizer.js) is what needs acorn.
    await writeFile(join(dir, 'CMakeLists.txt'), [
      'cmake_minimum_required(VERSION 3.20)',
      'project(toolchain_check LANGUAGES CXX)',
      'add_executable(probe probe.cpp)',
      'set_target_properties(probe PROPERTIES SUFFIX ".mjs")',
      'target_link_options(probe PRIVATE --bind -sMODULARIZE=1 -sEXPORT_ES6=1 -sENVIRONMENT=web)',
      ''].join('\n'))
    await writeFile(join(dir, 'probe.cpp'), [
      '#include <emscripten/bind.h>',
      'int twice(int x) { return 2 * x; }',
      'EMSCRIPTEN_BINDINGS(probe) { emscripten::function("twice", &twice); }',
      ''].join('\n'))
    const env = { ...process.env }
    delete env.NODE_PATH
    const build = join(dir, 'build')
    const configure = await run('cmake', ['-S', dir, '-B', build, '-DCMAKE_BUILD_TYPE=Release',
      `-DCMAKE_TOOLCHAIN_FILE=${join(root, 'emsdk-toolchain.cmake')}`], { env })
    assert.equal(configure.code, 0, configure.out + configure.err)
    const make = await run('cmake', ['--build', build], { env })
    assert.equal(make.code, 0, make.out + make.err)
    await access(join(build, 'probe.wasm'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
