// The one way the pages talk to the server: JSON over fetch, same origin, the bearer token
// of the session. A refusal comes back as an ApiError carrying the API's error shape
// ({"error": {"code", "message", "details"}}); a 401 on a signed-in session signs out.
import { session, signOut } from './session.js'

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`)
    this.status = status
    this.code = code
    this.details = details || {}
  }
}

let onUnauthorized = () => {}
export function whenUnauthorized(fn) {
  onUnauthorized = fn
}

export async function api(method, path, { body, query, headers } = {}) {
  let url = path
  if (query) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v)
    const s = q.toString()
    if (s) url += '?' + s
  }
  const h = { Accept: 'application/json', ...headers }
  if (session.token) h.Authorization = `Bearer ${session.token}`
  if (body !== undefined) h['Content-Type'] = 'application/json'
  let res
  try {
    res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (e) {
    throw new ApiError(0, 'network', '网络不通，请稍后重试')
  }
  const text = await res.text()
  let doc = null
  if (text) {
    try {
      doc = JSON.parse(text)
    } catch {
      doc = null
    }
  }
  if (!res.ok) {
    const e = (doc && doc.error) || {}
    if (res.status === 401 && session.token && !session.transient) {
      signOut()
      onUnauthorized()
    }
    throw new ApiError(res.status, e.code, e.message, e.details)
  }
  return doc
}

/* Every page of a list (`{items, next_cursor}`), up to `max` items. */
export async function apiAll(path, query = {}, max = 1000) {
  const items = []
  let cursor = null
  do {
    const page = await api('GET', path, { query: { ...query, limit: 100, cursor } })
    items.push(...page.items)
    cursor = page.next_cursor
  } while (cursor && items.length < max)
  return items
}
