// A file's MIME type from its name (File.type), as WebTorrent's (mime/lite's standard types)
// for the extensions a torrent commonly holds, without bundling mime's whole table.
// Different, on purpose: m4v, mkv, flac, aac and srt, which mime/lite does not know
// (WebTorrent says application/octet-stream), get their media types, so that a player can
// tell them apart. tests/js/mime.test.mjs checks every entry against mime/lite.
const TYPES = {
  video: 'mp4 webm mpeg:mpg,mpeg ogg:ogv quicktime:mov mp2t:ts 3gpp:3gp 3gpp2:3g2 x-matroska:mkv mp4:m4v',
  audio: 'mpeg:mp3 mp4:m4a ogg:ogg,oga,opus,spx webm:weba wav midi:mid,midi amr flac aac',
  image: 'png jpeg:jpg,jpeg gif webp svg+xml:svg bmp avif tiff:tif,tiff heic heif apng',
  text: 'plain:txt,log,ini,conf,srt html:html,htm css csv markdown:md,markdown vtt yaml:yaml,yml',
  application: 'javascript:js,mjs json xml pdf zip gzip:gz epub+zip:epub msword:doc rtf wasm ' +
    'java-archive:jar postscript:ps,eps toml dash+xml:mpd ogg:ogx xhtml+xml:xhtml',
  font: 'woff woff2 ttf otf'
}

export const byExtension = new Map()
for (const [kind, list] of Object.entries(TYPES)) {
  for (const entry of list.split(' ')) {
    const [subtype, extensions = subtype] = entry.split(':')
    for (const ext of extensions.split(',')) byExtension.set(ext, `${kind}/${subtype}`)
  }
}

export function mimeType (name) {
  const ext = /\.([^./]+)$/.exec(name)?.[1]?.toLowerCase()
  return byExtension.get(ext) ?? 'application/octet-stream'
}
