// Shared by the CLI's tests: the CLI as a child process whose output lines a test can wait
// for, and free ports. The Node host's helpers (content on disk, libtorrent, trackers) are
// re-exported.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'

export * from '../node/helpers.mjs'

export const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../dist/wasmtorrent-cli.js')

// Runs `wasmtorrent ...args`; stdout and stderr are collected as lines. waitForLine(re)
// resolves with the first line (of either) matching re; exited resolves with the exit code.
// Killed after the test.
export function runCli (t, args, { env = {}, cwd } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const out = []
  const err = []
  const waiters = []
  const onLine = (list, line) => {
    list.push(line)
    for (const w of [...waiters]) if (w.re.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line) }
  }
  createInterface({ input: child.stdout }).on('line', line => onLine(out, line))
  createInterface({ input: child.stderr }).on('line', line => onLine(err, line))
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve(code ?? signal)))
  t.after(() => { child.kill('SIGKILL'); return exited })
  const tail = () => `stdout:\n${out.slice(-15).join('\n')}\nstderr:\n${err.slice(-15).join('\n')}`
  return {
    child,
    out,
    err,
    exited,
    tail,
    waitForLine (re, ms = 60000) {
      return new Promise((resolve, reject) => {
        const seen = [...out, ...err].find(line => re.test(line))
        if (seen) return resolve(seen)
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}\n${tail()}`)), ms)
        waiters.push({ re, resolve: line => { clearTimeout(timer); resolve(line) } })
        exited.then(code => { clearTimeout(timer); reject(new Error(`the CLI exited (${code}) before ${re}\n${tail()}`)) })
      })
    },
    // The exit code, failing with the output when it takes longer than ms.
    async exitCode (ms = 60000) {
      let timer
      const timeout = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`the CLI did not exit within ${ms} ms\n${tail()}`)), ms) })
      try { return await Promise.race([exited, timeout]) } finally { clearTimeout(timer) }
    }
  }
}

// A plain progress line: "downloading | progress 42.0% | have N | size N | down N/s | up N/s |
// uploaded N | peers N | eta m:ss" → its fields, or null for any other line.
export function parseProgress (line) {
  const parts = line.split(' | ')
  if (parts.length < 2 || !/^(downloading|seeding|hashing)$/.test(parts[0])) return null
  const fields = { verb: parts[0] }
  for (const p of parts.slice(1)) {
    const [key, value] = p.split(' ')
    fields[key] = value
  }
  for (const key of ['have', 'size', 'uploaded', 'peers']) fields[key] = Number(fields[key])
  for (const key of ['down', 'up']) fields[key] = Number(String(fields[key]).replace('/s', ''))
  fields.progress = Number(String(fields.progress).replace('%', ''))
  return fields
}
