// File.type as WebTorrent's: mime/lite (the table WebTorrent 2's File uses) is the oracle
// for every extension ours knows and for common ones it may not; where mime/lite knows no
// type, ours says application/octet-stream as WebTorrent does, except the media types
// that web/api/mime.js gives on purpose.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import mime from 'mime/lite.js'
import { mimeType, byExtension } from '../../web/api/mime.js'

const OURS_ONLY = { m4v: 'video/mp4', mkv: 'video/x-matroska', flac: 'audio/flac', aac: 'audio/aac', srt: 'text/plain' }
const COMMON = ('mp4 m4v webm mkv ogv mov avi mpg mpeg ts m2ts flv wmv 3gp mp3 m4a m4b ogg oga opus flac ' +
  'wav aac weba mid vtt srt ass txt md html htm css js mjs json xml csv pdf epub png jpg jpeg gif ' +
  'webp svg bmp ico avif tif zip rar 7z gz tar iso exe apk torrent nfo doc docx mobi cbr cbz woff ' +
  'woff2 ttf wasm').split(' ')

test('File.type: mime/lite\'s type for common extensions, octet-stream where it has none', () => {
  for (const ext of COMMON) {
    const expected = OURS_ONLY[ext] ?? mime.getType(`x.${ext}`) ?? 'application/octet-stream'
    assert.equal(mimeType(`name.${ext}`), expected, ext)
    assert.equal(mimeType(`NAME.${ext.toUpperCase()}`), expected, ext.toUpperCase())
  }
})

test('File.type: every extension in our table has mime/lite\'s type (or is one of ours on purpose)', () => {
  for (const [ext, type] of byExtension) assert.equal(type, OURS_ONLY[ext] ?? mime.getType(`x.${ext}`), ext)
})

test('File.type: names with no extension, or one nobody knows, are application/octet-stream', () => {
  for (const name of ['README', 'archive.', 'a.unknownext', 'mp4.']) {
    assert.equal(mimeType(name), 'application/octet-stream', name)
  }
})
