// transmission-daemon 3.00 (Debian's transmission-daemon) as a peer for the Node host's
// interop tests: a daemon in the foreground whose whole state (settings.json, resume files,
// torrents) lives in a temp folder, bound to 127.0.0.1, with DHT, LPD, PEX, uTP, UPnP/NAT-PMP
// and the blocklist off and plaintext preferred; driven over its JSON RPC with fetch (what
// transmission-remote speaks). Killed in t.after.
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { freePort } from '../helpers.mjs'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// Starts the daemon with its config in `stateDir`; downloads go to `downloadDir` unless
// add() says otherwise. Resolves once its RPC answers. utp: its uTP on (default off).
// encryption: 0 prefer plaintext and accept both, 1 prefer encryption, 2 require it.
export async function startTransmission (t, stateDir, downloadDir, { encryption = 0, utp = false } = {}) {
  const configDir = path.join(stateDir, 'transmission')
  await mkdir(configDir, { recursive: true })
  const peerPort = await freePort()
  const rpcPort = await freePort()
  const settings = {
    'bind-address-ipv4': '127.0.0.1',
    'bind-address-ipv6': '::1',
    'peer-port': peerPort,
    'peer-port-random-on-start': false,
    'port-forwarding-enabled': false,
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': utp,
    'blocklist-enabled': false,
    encryption,
    'rpc-enabled': true,
    'rpc-bind-address': '127.0.0.1',
    'rpc-port': rpcPort,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': false,
    'rpc-host-whitelist-enabled': false,
    'download-dir': downloadDir,
    'incomplete-dir-enabled': false,
    'rename-partial-files': false,
    'start-added-torrents': true,
    'trash-original-torrent-files': false,
    'watch-dir-enabled': false,
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    'speed-limit-down-enabled': false,
    'speed-limit-up-enabled': false,
    'alt-speed-enabled': false,
    'download-queue-enabled': false,
    'seed-queue-enabled': false,
    'queue-stalled-enabled': false,
    'scrape-paused-torrents-enabled': false,
    'message-level': 1
  }
  await writeFile(path.join(configDir, 'settings.json'), JSON.stringify(settings, null, 2))
  const child = spawn('transmission-daemon', ['--foreground', '--config-dir', configDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', d => { log = (log + d).slice(-8000) })
  child.stderr.on('data', d => { log = (log + d).slice(-8000) })
  let exitCode
  const exited = new Promise(resolve => child.once('exit', code => { exitCode = code; resolve(code) }))
  t.after(() => { child.kill('SIGKILL'); return exited })

  const url = `http://127.0.0.1:${rpcPort}/transmission/rpc`
  let sessionId = ''
  async function rpc (method, args = {}) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-transmission-session-id': sessionId },
        body: JSON.stringify({ method, arguments: args })
      })
      // The CSRF dance: the first request (and any after a restart) gets 409 and the id to use.
      if (res.status === 409) { sessionId = res.headers.get('x-transmission-session-id'); continue }
      if (!res.ok) throw new Error(`transmission ${method}: HTTP ${res.status}`)
      const body = await res.json()
      if (body.result !== 'success') throw new Error(`transmission ${method}: ${body.result}`)
      return body.arguments
    }
    throw new Error(`transmission ${method}: 409 three times`)
  }

  for (let i = 0; ; i++) {
    if (exitCode !== undefined) throw new Error(`transmission-daemon exited (${exitCode}): ${log}`)
    try { await rpc('session-get'); break } catch (err) {
      if (i >= 300) throw new Error(`transmission RPC never answered: ${err.message}; log: ${log}`)
      await sleep(100)
    }
  }

  const fields = ['id', 'name', 'status', 'percentDone', 'leftUntilDone', 'sizeWhenDone', 'haveValid',
    'error', 'errorString', 'peersConnected', 'uploadedEver', 'downloadedEver', 'trackerStats']
  return {
    peerPort,
    rpcPort,
    rpc,
    log: () => log,
    // Adds .torrent bytes; `dir` is where its files are (to seed) or go (to download).
    async add (torrentBytes, dir = downloadDir) {
      const res = await rpc('torrent-add', { metainfo: Buffer.from(torrentBytes).toString('base64'), 'download-dir': dir, paused: false })
      const added = res['torrent-added'] ?? res['torrent-duplicate']
      return added.id
    },
    async status (id) {
      const { torrents } = await rpc('torrent-get', { ids: [id], fields })
      return torrents[0]
    },
    // Polls until pred(status) holds; fails early on a torrent error or a dead daemon.
    async waitFor (id, pred, ms = 60000, what = 'transmission') {
      const deadline = Date.now() + ms
      let last = null
      for (;;) {
        if (exitCode !== undefined) throw new Error(`transmission-daemon exited (${exitCode}) waiting for ${what}: ${log}`)
        last = await this.status(id)
        if (last && pred(last)) return last
        if (last?.error === 3) throw new Error(`transmission: ${last.errorString} waiting for ${what}`)
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}; log: ${log.slice(-2000)}`)
        await sleep(250)
      }
    }
  }
}

// torrent-get's status: 6 is seeding (files complete and verified).
export const SEEDING = 6
