// A small EventEmitter with the semantics of Node's `events` (which WebTorrent's objects
// extend): on/addListener, prependListener, once, prependOnceListener, off/removeListener
// (the most recently added matching listener), removeAllListeners, listeners,
// rawListeners, listenerCount, eventNames, set/getMaxListeners, 'newListener' and
// 'removeListener' events, and an 'error' with no listener thrown at the emitter.
// No dependency, so that the browser build stays small.
export class Emitter {
  constructor () {
    this._listeners = new Map()
    this._maxListeners = Emitter.defaultMaxListeners
  }

  _add (name, fn, prepend) {
    if (typeof fn !== 'function') throw new TypeError(`The "listener" argument must be a function, not ${typeof fn}`)
    if (this._listeners.has('newListener')) this.emit('newListener', name, fn.listener ?? fn)
    const list = this._listeners.get(name)
    if (!list) this._listeners.set(name, [fn])
    else if (prepend) list.unshift(fn)
    else list.push(fn)
    return this
  }

  on (name, fn) { return this._add(name, fn, false) }
  addListener (name, fn) { return this._add(name, fn, false) }
  prependListener (name, fn) { return this._add(name, fn, true) }
  once (name, fn) { return this._add(name, this._onceWrapper(name, fn), false) }
  prependOnceListener (name, fn) { return this._add(name, this._onceWrapper(name, fn), true) }

  _onceWrapper (name, fn) {
    if (typeof fn !== 'function') throw new TypeError(`The "listener" argument must be a function, not ${typeof fn}`)
    let fired = false
    const wrapper = (...args) => {
      if (fired) return
      fired = true
      this.removeListener(name, wrapper)
      return fn.apply(this, args)
    }
    wrapper.listener = fn
    return wrapper
  }

  removeListener (name, fn) {
    const list = this._listeners.get(name)
    if (!list) return this
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i] === fn || list[i].listener === fn) {
        const [removed] = list.splice(i, 1)
        if (list.length === 0) this._listeners.delete(name)
        if (this._listeners.has('removeListener')) this.emit('removeListener', name, removed.listener ?? removed)
        break
      }
    }
    return this
  }

  off (name, fn) { return this.removeListener(name, fn) }

  removeAllListeners (name) {
    if (name === undefined) {
      for (const n of [...this._listeners.keys()]) if (n !== 'removeListener') this.removeAllListeners(n)
      this._listeners.delete('removeListener')
      return this
    }
    const list = this._listeners.get(name)
    if (!list) return this
    for (let i = list.length - 1; i >= 0; i--) this.removeListener(name, list[i])
    this._listeners.delete(name)
    return this
  }

  listeners (name) { return (this._listeners.get(name) ?? []).map(l => l.listener ?? l) }
  rawListeners (name) { return [...(this._listeners.get(name) ?? [])] }
  listenerCount (name) { return this._listeners.get(name)?.length ?? 0 }
  eventNames () { return [...this._listeners.keys()] }
  // Kept for Node compatibility; this emitter never warns about many listeners.
  setMaxListeners (n) {
    if (typeof n !== 'number' || n < 0 || Number.isNaN(n)) throw new RangeError(`setMaxListeners: expected a non-negative number, not ${n}`)
    this._maxListeners = n
    return this
  }

  getMaxListeners () { return this._maxListeners }

  emit (name, ...args) {
    const list = this._listeners.get(name)
    if (!list || list.length === 0) {
      if (name === 'error') {
        const err = args[0]
        if (err instanceof Error) throw err
        const wrapped = new Error(`Unhandled error. (${err})`)
        wrapped.context = err
        throw wrapped
      }
      return false
    }
    for (const fn of [...list]) fn.apply(this, args)
    return true
  }
}

Emitter.defaultMaxListeners = 10
