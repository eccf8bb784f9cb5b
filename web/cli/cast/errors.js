// Errors of the players and cast targets, with a code a caller can branch on and a message
// a user can act on.
//   no_device        nothing of that kind answered on the local network in time
//   device_not_found devices answered, none with the name asked for (message lists them)
//   not_installed    the player's executable is not on PATH
//   cast_failed      the device or player refused or dropped the stream
export class CastError extends Error {
  constructor (code, message) {
    super(message)
    this.name = 'CastError'
    this.code = code
  }
}
