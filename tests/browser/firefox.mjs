// Firefox for the browser tests: Debian's firefox-esr driven by puppeteer-core over WebDriver
// BiDi (Playwright drives only its own patched Firefox, which cannot be installed here), behind
// a thin adapter that gives the tests the part of Playwright's API they use:
//   browser.newContext(), browser.close(), browser.version()
//   context.newPage(), context.close(), context.blockedRequests
//   page.goto(), page.reload(), page.evaluate(fn, arg), page.waitForFunction(fn, arg,
//   { timeout, polling }), page.waitForSelector(selector, { timeout }), page.click(selector),
//   page.inputValue(selector), page.textContent(selector), page.setInputFiles(selector,
//   paths or { name, buffer } files), page.on/once/off('console' | 'pageerror' | 'request'),
//   page.close()
//   launchFirefoxPersistent(userDataDir): as Playwright's launchPersistentContext, a context
//   (newPage, close) whose profile, and what pages stored in it, outlive the browser
// Anything else throws an error naming the call: a test that needs more adapts it here, rather
// than getting something that behaves differently from Playwright.
import { rmSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer from 'puppeteer-core'

export const firefoxPath = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr'

export const firefoxPrefs = {
  // TOOLCHAIN.md: in a loopback-only namespace Firefox gathers no ICE candidate without these
  // (what --allow-loopback-in-peer-connection and the camera/microphone grant do in Chromium).
  'media.peerconnection.ice.loopback': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  // The tests call video.play() with no user gesture, as Playwright's Chromium allows
  // (--autoplay-policy=no-user-gesture-required).
  'media.autoplay.default': 0
}

// Launches Firefox. Every page's requests go through allowRequest(url): a refused one is
// aborted and recorded in its context's blockedRequests (as harness.mjs's guard does for
// Chromium; WebSocket handshakes are requests here too).
export async function launchFirefox ({ allowRequest = () => true } = {}) {
  const browser = await launch()
  return unsupportedElse('browser', {
    async newContext (options = {}) {
      // Camera and microphone are granted to every page by the prefs above.
      const { permissions, ...rest } = options
      if (Object.keys(rest).length) throw unsupported(`browser.newContext({ ${Object.keys(rest).join(', ')} })`)
      return newContext(await browser.createBrowserContext(), allowRequest)
    },
    close: () => browser.close(),
    version: () => browser.version()
  })
}

// The same, in the profile folder `userDataDir` (created by the first launch, reused by the
// next): its default context, closed with the browser.
// prefs: more Firefox prefs for this launch (the profile keeps them: set them again to undo).
export async function launchFirefoxPersistent (userDataDir, { allowRequest = () => true, prefs = {} } = {}) {
  const browser = await launch({ userDataDir, extraPrefsFirefox: { ...firefoxPrefs, ...prefs } })
  const context = newContext(browser.defaultBrowserContext(), allowRequest, () => browser.close())
  return context
}

function launch (options = {}) {
  return puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: firefoxPath,
    headless: true,
    extraPrefsFirefox: firefoxPrefs,
    // A test's own timeout bounds a long evaluate (a whole download); Puppeteer's 180 s must not.
    protocolTimeout: 0,
    ...options
  })
}

function newContext (context, allowRequest, close = () => context.close()) {
  const blockedRequests = []
  return unsupportedElse('context', {
    blockedRequests,
    async newPage () {
      // A window of its own, not a tab: a background tab gets no animation frames, throttled
      // timers, and no autoplay until it is shown, which two pages of one test cannot share.
      const page = await context.newPage({ type: 'window' })
      await page.setRequestInterception(true)
      page.on('request', request => {
        if (allowRequest(request.url())) return request.continue()
        blockedRequests.push(request.url())
        return request.abort('blockedbyclient')
      })
      return adaptPage(page)
    },
    close
  })
}

function adaptPage (page) {
  const events = ['console', 'pageerror', 'request']
  const checkEvent = name => { if (!events.includes(name)) throw unsupported(`page.on('${name}')`) }
  return unsupportedElse('page', {
    goto: (url, options = {}) => {
      if (Object.keys(options).length) throw unsupported('page.goto(url, options)')
      return page.goto(url)
    },
    reload: (options = {}) => {
      if (Object.keys(options).length) throw unsupported('page.reload(options)')
      return page.reload()
    },
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    // Playwright's order is (fn, arg, options); Puppeteer's is (fn, options, ...args).
    waitForFunction: (fn, arg, { timeout, polling, ...rest } = {}) => {
      if (Object.keys(rest).length) throw unsupported(`page.waitForFunction(..., { ${Object.keys(rest).join(', ')} })`)
      return page.waitForFunction(fn, { timeout: timeout ?? 30_000, polling: polling ?? 'raf' }, arg)
    },
    click: (selector, options = {}) => {
      if (Object.keys(options).length) throw unsupported('page.click(selector, options)')
      return page.click(selector)
    },
    waitForSelector: (selector, { timeout, ...rest } = {}) => {
      if (Object.keys(rest).length) throw unsupported(`page.waitForSelector(..., { ${Object.keys(rest).join(', ')} })`)
      return page.waitForSelector(selector, { timeout: timeout ?? 30_000 })
    },
    inputValue: selector => page.$eval(selector, element => element.value),
    textContent: selector => page.$eval(selector, element => element.textContent),
    // Playwright takes paths or { name, mimeType, buffer }; Puppeteer only paths: files given
    // as buffers are written under their names to a folder of their own first.
    async setInputFiles (selector, files) {
      const paths = []
      for (const file of [].concat(files)) {
        if (typeof file === 'string') { paths.push(file); continue }
        const dir = await mkdtemp(join(tmpdir(), 'wt-firefox-upload-'))
        if (uploadDirs.length === 0) process.once('exit', removeUploads)
        uploadDirs.push(dir)
        const path = join(dir, file.name)
        await writeFile(path, file.buffer)
        paths.push(path)
      }
      const input = await page.$(selector)
      if (!input) throw new Error(`page.setInputFiles: no element matches ${selector}`)
      try { await input.uploadFile(...paths) } finally { await input.dispose() }
    },
    // Puppeteer's console messages, page errors and requests answer type(), text(), String()
    // and url() as Playwright's do, which is all the tests read.
    on (name, listener) { checkEvent(name); page.on(name, listener); return this },
    once (name, listener) { checkEvent(name); page.once(name, listener); return this },
    off (name, listener) { checkEvent(name); page.off(name, listener); return this },
    close: () => page.close()
  })
}

// Folders of files given to setInputFiles as buffers: a page may read such a File at any
// time, so they go when the test process exits.
const uploadDirs = []
function removeUploads () {
  for (const dir of uploadDirs) rmSync(dir, { recursive: true, force: true })
}

function unsupported (call) {
  return new Error(`${call} is not supported in Firefox by tests/browser/firefox.mjs (adapt it there)`)
}

// The object, where reading any member it lacks throws (setting one, e.g. page.errors, works).
function unsupportedElse (kind, object) {
  return new Proxy(object, {
    get (target, name, receiver) {
      // `then` is read by await, symbols by inspection: neither is a call from a test.
      if (name in target || typeof name === 'symbol' || name === 'then') return Reflect.get(target, name, receiver)
      throw unsupported(`${kind}.${String(name)}`)
    }
  })
}
