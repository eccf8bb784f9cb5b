// examples/video, as `npm start` serves it (scripts/serve.mjs with seedDemo: tracker, static
// files and a headless seeder page, all on 127.0.0.1): the player tab plays the demo video
// from the seeder through the service worker and shows the pieces. Loopback only (netns).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDemo } from '../../scripts/serve.mjs'
import { collectErrors, launchBrowser, newContext, unexpectedRequests } from './harness.mjs'

let demo, browser
before(async () => {
  demo = await startDemo({ port: 0, seedDemo: true })
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
  await demo?.close()
})

test('examples/video: "Play the demo video" plays the seeded demo torrent', { timeout: 120_000 }, async () => {
  assert.match(demo.demoMagnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}/)
  const context = await newContext(browser)
  const page = await context.newPage()
  const errors = collectErrors(page)
  await page.goto(`${demo.url}/examples/video/`)
  await page.waitForFunction(() => window.playerReady)
  await page.click('#demo')
  const played = await page.evaluate(async () => {
    const video = document.getElementById('video')
    if (video.paused || video.readyState < 3) {
      await new Promise((resolve, reject) => {
        video.addEventListener('playing', resolve, { once: true })
        video.addEventListener('error', () => reject(new Error('video error ' + video.error?.message)), { once: true })
      })
    }
    const t0 = video.currentTime
    await new Promise(resolve => setTimeout(resolve, 1500))
    return { advanced: video.currentTime > t0, status: document.getElementById('status').textContent }
  })
  assert.equal(played.advanced, true, 'the demo video plays')
  assert.match(played.status, /% · ↓ .* · 1 peer/)
  assert.deepEqual(errors, [])
  assert.deepEqual(unexpectedRequests(context.blockedRequests), [], 'nothing left loopback')
  await context.close()
})
