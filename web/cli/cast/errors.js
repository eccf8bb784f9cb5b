// Errors of the players and cast targets, with a code a caller can branch on and a message
// a user can act on.
//   no_device        nothing of that kind answered on the local network in time
//   device_not_found devices answered, none with the name asked for (message lists them)
//   not_installed    the player's executable is not on PATH, or a casting library is missing
//   cast_failed      the device or player refused or dropped the stream
export class CastError extends Error {
  constructor (code, message) {
    super(message)
    this.name = 'CastError'
    this.code = code
  }
}

// A filter for devices whose name contains `wanted` (any case); every device when none.
export const nameMatches = wanted => device => !wanted || device.name.toLowerCase().includes(wanted.toLowerCase())

// The first device of `found` whose name matches `wanted`, or a CastError saying what was
// found. kind: 'Chromecast', 'AirPlay device'...; why: more about an empty search.
export function chooseDevice (found, wanted, { kind, timeoutMs, why = '' }) {
  if (found.length === 0) throw new CastError('no_device', `No ${kind} found on the local network within ${timeoutMs / 1000} s${why}`)
  const target = found.find(nameMatches(wanted))
  if (!target) throw new CastError('device_not_found', `No ${kind} named "${wanted}"; found: ${found.map(d => `"${d.name}"`).join(', ')}`)
  return target
}
