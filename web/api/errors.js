// An engine error (or bad input caught in JS): .code names it, .position is a byte offset
// in the input, .context the field or parameter.
export class WasmTorrentError extends Error {
  constructor (message, { code, position = 0, context = '' } = {}) {
    super(message)
    this.name = 'WasmTorrentError'
    this.code = code
    this.position = position
    this.context = context
  }
}
