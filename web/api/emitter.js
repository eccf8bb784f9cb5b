// A tiny EventEmitter (on/once/off/emit), enough for the WebTorrent API.
export class Emitter {
  constructor () { this._listeners = new Map() }
  on (name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, [])
    this._listeners.get(name).push(fn)
    return this
  }

  once (name, fn) {
    const wrapper = (...args) => { this.off(name, wrapper); fn.apply(this, args) }
    wrapper.listener = fn
    return this.on(name, wrapper)
  }

  off (name, fn) {
    const list = this._listeners.get(name)
    if (list) this._listeners.set(name, list.filter(l => l !== fn && l.listener !== fn))
    return this
  }

  removeListener (name, fn) { return this.off(name, fn) }
  listenerCount (name) { return (this._listeners.get(name) ?? []).length }

  emit (name, ...args) {
    const list = this._listeners.get(name)
    if (!list || list.length === 0) {
      if (name === 'error') throw args[0]
      return false
    }
    for (const fn of [...list]) fn.apply(this, args)
    return true
  }
}
