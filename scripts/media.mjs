// Demo and test media, generated with ffmpeg (never committed) and cached in build/media:
// 60 s of ffmpeg's testsrc pattern (it draws a running timestamp, so a frame shows where
// playback is) with a 440 Hz tone, 320x240 at 15 fps, a keyframe every 2 s.
//   webm:        VP9 + Opus, Cues at the end (found through the SeekHead)
//   webm-vp8:    VP8 + Vorbis at about 1 Mbit/s constant (7.8 MB): above a slow seeder's
//                uplink, for the throttled streaming benchmark
//   webm-live:   the same as a live stream writes it: no Cues, no duration, Segment of unknown size
//   mp4:         H.264 + AAC, moov first (faststart), not fragmented
//   fmp4:        H.264 + AAC, fragmented at keyframes, a sidx in front (ffmpeg's global_sidx)
//   fmp4-mfra:   fragmented, no sidx; ffmpeg's mfra index at the end
//   fmp4-bare:   fragmented, no index at all
// and 2 s clips at 160x120 in other codecs, for the container parser's codec strings:
//   clip-hevc (fragmented MP4, HEVC + AAC), clip-av1 (WebM, AV1 + Opus), clip-av1mp4,
//   clip-vp9mp4 (fragmented MP4, VP9 + Opus), clip-vp8 (WebM, VP8 + Vorbis), clip-opus (WebM, audio only)
//   node scripts/media.mjs [format ...]     makes them (default: webm) and prints the paths
import { execFile } from 'node:child_process'
import { mkdir, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../build/media/', import.meta.url))
const inputs = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15:duration=60',
  '-f', 'lavfi', '-i', 'sine=frequency=440:duration=60']
const clipInputs = ['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=15:duration=2',
  '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-pix_fmt', 'yuv420p']
const vp9opus = ['-c:v', 'libvpx-vp9', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30',
  '-c:a', 'libopus', '-b:a', '48k']
const h264aac = ['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '300k', '-g', '30', '-pix_fmt', 'yuv420p',
  '-c:a', 'aac', '-b:a', '48k']
const fragmented = 'frag_keyframe+empty_moov+default_base_moof'
const formats = {
  webm: [...vp9opus, '-f', 'webm'],
  'webm-vp8': ['-c:v', 'libvpx', '-b:v', '900k', '-minrate', '900k', '-maxrate', '900k', '-deadline', 'realtime',
    '-cpu-used', '8', '-g', '30', '-c:a', 'libvorbis', '-b:a', '64k', '-f', 'webm'],
  'webm-live': [...vp9opus, '-live', '1', '-f', 'webm'],
  mp4: [...h264aac, '-movflags', '+faststart', '-f', 'mp4'],
  fmp4: [...h264aac, '-movflags', `${fragmented}+global_sidx`, '-f', 'mp4'],
  'fmp4-mfra': [...h264aac, '-movflags', fragmented, '-f', 'mp4'],
  'fmp4-bare': [...h264aac, '-movflags', `${fragmented}+skip_trailer`, '-f', 'mp4'],
  'clip-hevc': ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-c:a', 'aac', '-movflags', fragmented, '-f', 'mp4'],
  'clip-av1': ['-c:v', 'libsvtav1', '-preset', '12', '-svtav1-params', 'verbosity=0', '-c:a', 'libopus', '-f', 'webm'],
  'clip-av1mp4': ['-c:v', 'libsvtav1', '-preset', '12', '-svtav1-params', 'verbosity=0', '-c:a', 'libopus', '-movflags', fragmented, '-f', 'mp4'],
  'clip-vp9mp4': ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus', '-movflags', fragmented, '-f', 'mp4'],
  'clip-vp8': ['-c:v', 'libvpx', '-deadline', 'realtime', '-c:a', 'libvorbis', '-f', 'webm'],
  'clip-opus': ['-vn', '-c:a', 'libopus', '-f', 'webm']
}

// The path of the test video in `format` (a key of formats above), made if missing.
export async function testMedia (format) {
  if (!formats[format]) throw new Error(`no test media format ${format}`)
  const ext = formats[format].at(-1)
  const out = join(dir, format === ext ? `test.${ext}` : `test-${format}.${ext}`)
  if (await stat(out).then(s => s.size > 0, () => false)) return out
  await mkdir(dir, { recursive: true })
  const tmp = `${out}.${process.pid}.part` // test files run in parallel processes
  await new Promise((resolve, reject) => {
    execFile('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...(format.startsWith('clip-') ? clipInputs : inputs), ...formats[format], tmp],
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
