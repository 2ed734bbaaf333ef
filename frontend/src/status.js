// The connection status (data-testid="status"): "connecting" before the first connection,
// "connected" while online with edits not yet stored, "saved" once the server acknowledged every
// local edit, and "offline" whenever the connection is down (the editor stays usable meanwhile).
// A close that stops the connection for good (signed out, access revoked, deleted) also shows a
// banner saying why and what to do.
import { h } from './dom.js'

const TITLES = {
  connecting: 'Connecting to the server…',
  connected: 'Connected; saving your latest edits…',
  saved: 'Every edit is saved on the server',
  offline: 'Offline: keep editing, your edits merge when the connection is back',
}

export function mountStatus (element, banner, connection, { documentId }) {
  const show = ({ state, saved }) => {
    const text = state === 'connected' && saved ? 'saved' : state
    if (element.textContent === text && !connection.stopped) return
    element.textContent = text
    element.dataset.state = text
    element.title = connection.stopped ? connection.stopped.message : TITLES[text]
  }
  connection.on('state', show)
  connection.on('stopped', ({ code, message }) => {
    const action = code === 4401
      ? h('a', { href: `/accounts/login/?next=${encodeURIComponent(`/d/${documentId}`)}` }, 'Sign in')
      : h('a', { href: '/' }, 'Back to your documents')
    banner.replaceChildren(h('strong', {}, message), ' ', action)
    banner.hidden = false
  })
  show({ state: connection.state, saved: false })
}
