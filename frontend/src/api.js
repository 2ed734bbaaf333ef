// The JSON API with the browser's session: every unsafe request carries the CSRF token, and every
// error becomes an ApiError whose message is the server's `detail` (SPEC.md: errors are JSON).
import { pageConfig } from './page-config.js'

export class ApiError extends Error {
  constructor (status, detail) {
    super(detail)
    this.status = status
  }
}

export async function api (method, path, body) {
  const headers = { Accept: 'application/json' }
  if (method !== 'GET') headers['X-CSRFToken'] = pageConfig().csrfToken
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (response.status === 204) return null
  const data = await response.json().catch(() => ({}))
  if (!response.ok) {
    throw new ApiError(response.status, data.detail || `${response.status} ${response.statusText}`)
  }
  return data
}

export const documentsApi = {
  async list () {
    const documents = []
    let url = '/api/documents/'
    while (url) {
      const page = await api('GET', url)
      documents.push(...page.results)
      // Follow `next` on this origin: behind a proxy its scheme or host may differ from ours.
      const next = page.next ? new URL(page.next, window.location.href) : null
      url = next ? next.pathname + next.search : null
    }
    return documents
  },
  create: (title) => api('POST', '/api/documents/', { title }),
  rename: (id, title) => api('PATCH', `/api/documents/${id}/`, { title }),
  remove: (id) => api('DELETE', `/api/documents/${id}/`),
  members: (id) => api('GET', `/api/documents/${id}/members/`),
  share: (id, username, role) => api('POST', `/api/documents/${id}/members/`, { username, role }),
  unshare: (id, username) =>
    api('DELETE', `/api/documents/${id}/members/${encodeURIComponent(username)}/`),
}
