#!/usr/bin/env node
// A stand-in for a media player (tests/cli/players.test.mjs puts it on PATH as `vlc`, `mpv`
// and `iina`): records its command line, fetches the first http(s) argument to the end as a
// player would, writes { name, argv, url, status, length, sha1 } (or error) as JSON to the
// file named by FAKE_PLAYER_LOG, and exits 0 (1 if the fetch failed). FAKE_PLAYER_NAME is
// the name it was installed under; FAKE_PLAYER_STAY=1 keeps it running, as a player the
// user has not closed, until it is killed.
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'

const argv = process.argv.slice(2)
const url = argv.find(arg => /^https?:\/\//.test(arg))
const record = { name: process.env.FAKE_PLAYER_NAME, argv, url }
try {
  const res = await fetch(url)
  const sha1 = createHash('sha1')
  let length = 0
  for await (const chunk of res.body) {
    sha1.update(chunk)
    length += chunk.length
  }
  Object.assign(record, { status: res.status, length, sha1: sha1.digest('hex') })
} catch (err) {
  record.error = `${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}`
}
writeFileSync(process.env.FAKE_PLAYER_LOG, JSON.stringify(record))
if (record.error) {
  console.error(`fake player: ${record.error}`)
  process.exit(1)
}
if (process.env.FAKE_PLAYER_STAY === '1') setInterval(() => {}, 60_000)
