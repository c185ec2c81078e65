// Who is signed in. The token lives in localStorage so that a stall owner's phone stays
// signed in across reloads; the server decides how long it is valid. A token handed over in
// the URL's fragment (`#token=…`, by `stallfront report`) is kept in memory only and the
// fragment is wiped, so it never reaches the server's logs, the history or the disk.
import { reactive } from 'vue'

const KEY = 'stallfront.session'

export const session = reactive({ token: null, user: null, transient: false })

function load() {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash)
  if (m) {
    session.token = decodeURIComponent(m[1])
    session.user = { role: 'operator' }
    session.transient = true
    history.replaceState(null, '', window.location.pathname + window.location.search)
    return
  }
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null')
    if (s && s.token && s.user) Object.assign(session, { token: s.token, user: s.user })
  } catch {
    localStorage.removeItem(KEY)
  }
}

export function signIn(token, user) {
  Object.assign(session, { token, user, transient: false })
  localStorage.setItem(KEY, JSON.stringify({ token, user }))
}

export function signOut() {
  Object.assign(session, { token: null, user: null, transient: false })
  localStorage.removeItem(KEY)
}

/* The page of a role, where sign-in leads. */
export function homeOf(role) {
  return { vendor: '/vendor', courier: '/courier', operator: '/centre' }[role] || '/login'
}

load()
