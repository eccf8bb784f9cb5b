// Helpers shared by the browser benchmarks (browser_bench.mjs, streaming_bench.mjs).
import { networkInterfaces } from 'node:os'
import { newContext } from '../browser/harness.mjs'

export const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits

export function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

// Chromium on the machine's normal network would gather candidates on its other
// interfaces and send mDNS: the benchmarks refuse to run outside scripts/loopback.sh.
// Returns the problem, or null.
export function notLoopbackOnly (command) {
  const interfaces = Object.keys(networkInterfaces())
  if (!interfaces.some(name => name !== 'lo')) return null
  return `network interfaces ${interfaces.join(', ')}: run inside scripts/loopback.sh (${command})`
}

// `promise`, or an Error with onTimeout()'s message after `ms`.
export async function withTimeout (promise, ms, onTimeout) {
  let timer
  promise.catch(() => {}) // if the timeout wins, this one rejects later when the browser closes
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(async () => reject(new Error(await onTimeout())), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

// Waits until the seeder is in the tracker's swarm, so the leecher's first announce finds it.
export async function seederAnnounced (tracker, infoHash) {
  for (let waited = 0; waited < 10_000; waited += 20) {
    if (tracker.torrents[infoHash]?.complete > 0) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error('the seeder did not announce to the tracker within 10 s')
}

// A page in a context of its own, loaded from `base` + `path`, once it says window.benchReady;
// its console errors and exceptions collect in page.errors.
export async function openBenchPage (browser, base, path) {
  return openPage(await newContext(browser), base, path)
}

// The same in a context the caller made (a persistent profile, say).
export async function openPage (context, base, path) {
  const page = await context.newPage()
  page.errors = []
  page.on('pageerror', err => page.errors.push(String(err)))
  page.on('console', msg => { if (msg.type() === 'error') page.errors.push(msg.text()) })
  await page.goto(new URL(path, base).href)
  await page.waitForFunction(() => window.benchReady, null, { timeout: 30_000 }).catch(err => {
    throw new Error(`${path} did not load: ${page.errors.join(' | ') || err.message}`)
  })
  return page
}
