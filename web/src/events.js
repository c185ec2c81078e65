// GET /v1/events (docs/events.md) read with fetch, because EventSource cannot send the
// Authorization header. Events are handed to onEvent(type, data, id); on a dropped stream
// it reconnects after the server's `retry:` (3 s by default) with Last-Event-ID, so nothing
// is missed across a reconnect the server can replay. The lists stay the truth: a page
// reloads its list when told something changed, and when the stream (re)connects.
import { session } from './session.js'

export function openEvents({ onEvent, onState = () => {} }) {
  let stopped = false
  let lastId = null
  let retryMs = 3000
  let ctrl = null

  async function once() {
    ctrl = new AbortController()
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${session.token}` }
    if (lastId) headers['Last-Event-ID'] = lastId
    const res = await fetch('/v1/events', { headers, signal: ctrl.signal })
    if (!res.ok || !res.body) {
      const after = Number(res.headers.get('Retry-After'))
      if (after > 0) retryMs = after * 1000
      throw new Error(`events: HTTP ${res.status}`)
    }
    onState('open')
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buf = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buf += value
      let cut
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, cut)
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '')
        dispatch(block)
      }
    }
  }

  function dispatch(block) {
    let type = 'message', id = null
    const data = []
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue
      const i = line.indexOf(':')
      const field = i < 0 ? line : line.slice(0, i)
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
      if (field === 'event') type = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') id = value
      else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value)
    }
    if (id) lastId = id
    if (data.length === 0) return
    let doc = null
    try {
      doc = JSON.parse(data.join('\n'))
    } catch {
      return
    }
    onEvent(type, doc, id)
  }

  ;(async () => {
    while (!stopped && session.token) {
      try {
        await once()
      } catch (e) {
        if (stopped) break
      }
      onState('closed')
      if (stopped) break
      await new Promise((r) => setTimeout(r, retryMs))
    }
  })()

  return () => {
    stopped = true
    if (ctrl) ctrl.abort()
  }
}
