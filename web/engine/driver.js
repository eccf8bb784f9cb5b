// The run loop between the engine (the client facade compiled to WebAssembly) and the host.
// Every input is fed to the engine with the current time, then the engine's outputs are
// drained: commands go to their handler at once (a transport opens a socket, writes to a
// data channel), events are collected and handed over in one batch in a microtask (so that
// listeners run outside the drain and may call the engine again), and one timer is kept at
// the engine's next deadline.
export const now = () => performance.now()
// Node's setImmediate; browsers have none (and few torrents): a microtask.
const deferToTurnEnd = typeof setImmediate === 'function' ? fn => setImmediate(fn) : fn => queueMicrotask(fn)

export class Driver {
  // output(o): one command; events(list): a batch of events; tick(): after each timer call.
  constructor ({ output, events, tick }) {
    this.engine = null
    this._output = output
    this._events = events
    this._tick = tick
    this._pending = []
    this._dispatching = false
    this._draining = false
    this._timer = null
    this._timerAt = -1
    this._schedulePending = false
    this._inCallback = 0 // > 0 while the engine calls back into JS (callback())
    this._deferred = []  // inputs made meanwhile
  }

  start (engine) {
    this.engine = engine
    this.drain()
  }

  stop () {
    clearTimeout(this._timer)
    this._timerAt = -1
    this.engine?.delete()
    this.engine = null
  }

  // Feeds one input to the engine, then drains its outputs. Inside a drain (a handler
  // reacting to an output), the running drain picks up the rest.
  input (fn) {
    if (!this.engine) return
    if (this._inCallback > 0) {
      // The engine is inside a call: this one waits until that is over.
      if (this._deferred.push(fn) === 1) queueMicrotask(() => this._runDeferred())
      return
    }
    fn(this.engine, now())
    if (!this._draining) this.drain()
  }

  // Runs fn for the engine, which calls it from inside one of its calls (announceParams):
  // inputs fn makes are deferred until that call is over (the engine is not re-entered).
  callback (fn) {
    this._inCallback++
    try {
      return fn()
    } finally {
      this._inCallback--
    }
  }

  _runDeferred () {
    for (const fn of this._deferred.splice(0)) this.input(fn)
  }

  drain () {
    const E = this.engine
    if (!E || this._draining) return
    this._draining = true
    try {
      for (let o = E.poll(); o !== null; o = E.poll()) {
        if (o.event) this._pending.push(o)
        else this._output(o)
        if (!this.engine) return
      }
    } finally {
      this._draining = false
    }
    this._scheduleSoon()
    if (this._pending.length > 0 && !this._dispatching) {
      this._dispatching = true
      queueMicrotask(() => {
        this._dispatching = false
        const batch = this._pending
        this._pending = []
        this._events(batch)
      })
    }
  }

  // The engine's next deadline is looked at once for all the inputs of one turn of the event
  // loop (asking costs a walk over every torrent and connection: with 400 torrents it was
  // 18% of the CPU when asked after each input). No timer can fire before then: Node runs
  // setImmediate callbacks after the turn's I/O callbacks and before its next timers.
  _scheduleSoon () {
    if (this._schedulePending) return
    this._schedulePending = true
    deferToTurnEnd(() => {
      this._schedulePending = false
      if (this.engine) this._schedule()
    })
  }

  // One timer, at the engine's next deadline. A timer already armed earlier is kept (a
  // deadline that moved later costs one idempotent onTimer), so most inputs touch no timer.
  _schedule () {
    const at = this.engine.nextDeadline()
    if (this._timerAt >= 0 && (at < 0 || this._timerAt <= at)) return
    clearTimeout(this._timer)
    this._timerAt = at
    if (at < 0) return
    this._timer = setTimeout(() => {
      this._timerAt = -1
      this.input(E => E.onTimer(now()))
      this._tick()
    }, Math.max(0, at - now()))
  }
}
