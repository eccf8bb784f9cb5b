#!/usr/bin/env node
// Prints what a .torrent file or a magnet link holds, or makes a .torrent of files.
//   node examples/torrent-info.mjs file.torrent
//   node examples/torrent-info.mjs 'magnet:?xt=urn:btih:...'
//   node examples/torrent-info.mjs --create <file-or-folder> [out.torrent]
import { readFile, writeFile, readdir, stat } from 'node:fs/promises'
import { basename, join, relative } from 'node:path'
import { parseTorrent, createTorrent, toMagnetURI } from 'wasmtorrent'

const [, , first, ...rest] = process.argv

async function filesUnder (root) {
  if (!(await stat(root)).isDirectory()) {
    return [{ path: basename(root), data: await readFile(root) }]
  }
  const out = []
  const walk = async dir => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else out.push({ path: join(basename(root), relative(root, full)), data: await readFile(full) })
    }
  }
  await walk(root)
  return out
}

function formatBytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i ? n.toFixed(1) : n} ${units[i]}`
}

function show (t) {
  console.log(`name:        ${t.name ?? '(none)'}`)
  console.log(`info-hash:   ${t.infoHash}`)
  if (t.length !== undefined) {
    console.log(`size:        ${formatBytes(t.length)} in ${t.pieces.length} pieces of ${formatBytes(t.pieceLength)}`)
    console.log(`private:     ${t.private ? 'yes' : 'no'}`)
    if (t.created) console.log(`created:     ${t.created.toISOString()}${t.createdBy ? ' by ' + t.createdBy : ''}`)
    if (t.comment) console.log(`comment:     ${t.comment}`)
    console.log(`files:`)
    for (const f of t.files) console.log(`  ${formatBytes(f.length).padStart(10)}  ${f.path}`)
  }
  for (const url of t.announce ?? []) console.log(`tracker:     ${url}`)
  for (const url of t.urlList ?? []) console.log(`web seed:    ${url}`)
  console.log(`magnet:      ${toMagnetURI(t)}`)
}

try {
  if (!first || first === '--help') {
    console.log('usage: torrent-info.mjs <file.torrent | magnet link | info-hash>\n' +
                '       torrent-info.mjs --create <file-or-folder> [out.torrent]')
  } else if (first === '--create') {
    const [input, output] = rest
    const torrent = await createTorrent(await filesUnder(input))
    if (output) await writeFile(output, torrent)
    show(await parseTorrent(torrent))
    if (output) console.log(`written:     ${output}`)
  } else {
    const isFile = !/^magnet:|^[0-9a-f]{40}$|^[a-z2-7]{32}$/i.test(first)
    show(await parseTorrent(isFile ? await readFile(first) : first))
  }
} catch (err) {
  console.error(`error: ${err.message}`)
  process.exitCode = 1
}
