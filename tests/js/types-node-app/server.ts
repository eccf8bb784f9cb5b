// client.createServer (WebTorrent 2), Node and browser.
import WebTorrent from 'webtorrent'
import { client } from './client.js'

export function nodeServer (): number {
  const server = client.createServer()
  const nodeOpts: WebTorrent.NodeServerOptions = { origin: '*', pathname: '/webtorrent', hostname: 'localhost' }
  const server2 = client.createServer(nodeOpts, 'node') as WebTorrent.NodeServer
  console.log(server2.opts.pathname, server2.pathname)
  const addr = server.address()
  server.close(() => console.log('closed'))
  server2.destroy()
  return addr && typeof addr === 'object' ? addr.port : 0
}

export function browserServer (registration: ServiceWorkerRegistration): void {
  const opts: WebTorrent.BrowserServerOptions = { controller: registration }
  const server = client.createServer(opts) as WebTorrent.BrowserServer
  console.log(server.pathname, server.address().port)
  server.destroy(() => console.log('destroyed'))
}
