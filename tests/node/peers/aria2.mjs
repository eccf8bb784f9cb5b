// aria2 1.36 (Debian's aria2) as a peer for the Node host's interop tests: `aria2c
// --enable-rpc` with no config file, no session file and no DHT, LPD, PEX, UPnP (it has none)
// or encryption requirement, its sockets bound to 127.0.0.1, driven over its JSON-RPC with
// fetch. It exits with this process (--stop-with-process) and is killed in t.after. With RPC
// it does not exit when a download completes: read completion with aria2.tellStatus.
import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { freePort } from '../helpers.mjs'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// requireCrypto: aria2 speaks only MSE with RC4 (refuses plain peers, dials with MSE).
export async function startAria2 (t, stateDir, { requireCrypto = false } = {}) {
  const home = path.join(stateDir, 'aria2')
  await mkdir(home, { recursive: true })
  const peerPort = await freePort()
  const rpcPort = await freePort()
  const args = [
    '--no-conf', '--enable-rpc', `--rpc-listen-port=${rpcPort}`, '--rpc-listen-all=false',
    `--dir=${home}`, `--listen-port=${peerPort}`, '--interface=127.0.0.1', '--disable-ipv6',
    '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    ...(requireCrypto
      ? ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4', '--bt-force-encryption=true']
      : ['--bt-require-crypto=false', '--bt-min-crypto-level=plain', '--bt-force-encryption=false']),
    '--seed-ratio=0.0', '--file-allocation=none', '--check-integrity=true', '--async-dns=false',
    '--bt-save-metadata=false', '--bt-tracker-connect-timeout=5', '--bt-tracker-timeout=5',
    '--allow-overwrite=true', '--auto-file-renaming=false', '--summary-interval=0',
    `--stop-with-process=${process.pid}`, '--console-log-level=warn',
    `--log=${path.join(home, 'aria2.log')}`, '--log-level=info'
  ]
  const child = spawn('aria2c', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home } })
  let log = ''
  child.stdout.on('data', d => { log = (log + d).slice(-8000) })
  child.stderr.on('data', d => { log = (log + d).slice(-8000) })
  let exitCode
  const exited = new Promise(resolve => child.once('exit', code => { exitCode = code; resolve(code) }))
  t.after(() => { child.kill('SIGKILL'); return exited })

  const url = `http://127.0.0.1:${rpcPort}/jsonrpc`
  let nextId = 1
  async function rpc (method, params = []) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: String(nextId++), method, params })
    })
    const body = await res.json()
    if (body.error) throw new Error(`aria2 ${method}: ${body.error.message}`)
    return body.result
  }

  for (let i = 0; ; i++) {
    if (exitCode !== undefined) throw new Error(`aria2c exited (${exitCode}): ${log}`)
    try { await rpc('aria2.getVersion'); break } catch (err) {
      if (i >= 300) throw new Error(`aria2 RPC never answered: ${err.message}; output: ${log}`)
      await sleep(100)
    }
  }

  const keys = ['gid', 'status', 'totalLength', 'completedLength', 'verifiedLength', 'uploadLength',
    'connections', 'numSeeders', 'seeder', 'errorCode', 'errorMessage']
  return {
    peerPort,
    rpcPort,
    rpc,
    log: () => log,
    // Adds .torrent bytes; `dir` is where its files are (to seed) or go (to download).
    add (torrentBytes, dir) {
      return rpc('aria2.addTorrent', [Buffer.from(torrentBytes).toString('base64'), [], { dir }])
    },
    status (gid) { return rpc('aria2.tellStatus', [gid, keys]) },
    // Polls until pred(status) holds; fails early on an aria2 error or a dead aria2c.
    async waitFor (gid, pred, ms = 60000, what = 'aria2') {
      const deadline = Date.now() + ms
      let last = null
      for (;;) {
        if (exitCode !== undefined) throw new Error(`aria2c exited (${exitCode}) waiting for ${what}: ${log}`)
        last = await this.status(gid)
        if (pred(last)) return last
        if (last.status === 'error' || last.status === 'removed') throw new Error(`aria2: ${last.status} ${last.errorCode} ${last.errorMessage} waiting for ${what}`)
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}; output: ${log.slice(-2000)}`)
        await sleep(250)
      }
    }
  }
}

// Seeding: every byte there and verified, and aria2 says it is a seeder.
export const seeding = s => s.status === 'active' && s.seeder === 'true' && s.completedLength === s.totalLength
