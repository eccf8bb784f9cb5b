// Demo and test media, generated with ffmpeg (never committed) and cached in build/media:
// 60 s of ffmpeg's testsrc pattern (it draws a running timestamp, so a frame shows where
// playback is) with a 440 Hz tone, 320x240 at 15 fps.
//   webm: VP9 + Opus;  mp4: H.264 + AAC, moov first (faststart).
//   node scripts/media.mjs [format ...]     makes them (default: webm) and prints the paths
import { execFile } from 'node:child_process'
import { mkdir, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../build/media/', import.meta.url))
const inputs = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15:duration=60',
  '-f', 'lavfi', '-i', 'sine=frequency=440:duration=60']
const formats = {
  webm: ['-c:v', 'libvpx-vp9', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30',
    '-c:a', 'libopus', '-b:a', '48k'],
  mp4: ['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '300k', '-g', '30', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '48k', '-movflags', '+faststart']
}

// The path of the video in `format` (webm or mp4), made if missing.
export async function testMedia (format) {
  const out = join(dir, `test.${format}`)
  if (await stat(out).then(s => s.size > 0, () => false)) return out
  await mkdir(dir, { recursive: true })
  const tmp = `${out}.part.${format}`
  await new Promise((resolve, reject) => {
    execFile('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...inputs, ...formats[format], tmp],
      (err, stdout, stderr) => err ? reject(new Error(`ffmpeg (${format}) failed: ${stderr || err.message}; is ffmpeg installed (scripts/setup.sh)?`)) : resolve())
  })
  await rename(tmp, out)
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const format of process.argv.slice(2).length ? process.argv.slice(2) : ['webm']) {
    console.log(await testMedia(format))
  }
}
