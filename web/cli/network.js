// Addresses for the stream URL: a cast device on the local network must be able to reach
// it, so 'localhost' will not do.
import os from 'node:os'

// The machine's first non-internal IPv4 address (the LAN address), or 127.0.0.1 when it
// has none.
export function lanAddress (interfaces = os.networkInterfaces()) {
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (!a.internal && (a.family === 'IPv4' || a.family === 4)) return a.address
    }
  }
  return '127.0.0.1'
}

// The host part of an http URL for an address (IPv6 in brackets).
export function urlHost (address) {
  return address.includes(':') ? `[${address}]` : address
}
