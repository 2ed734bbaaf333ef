// The documents page (/): the documents I may open, with my role and the last change, and the
// actions my role allows: open, rename (editor, owner), delete (owner); plus creating new ones.
import { documentsApi } from './api.js'
import { h } from './dom.js'

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
const UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400],
  ['hour', 3600], ['minute', 60], ['second', 1]]

function ago (iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') {
      return Math.abs(seconds) < 45 && unit === 'second'
        ? 'just now'
        : relative.format(Math.round(seconds / size), unit)
    }
  }
}

export function mountDocumentsList ({ list, empty, createForm, error }) {
  const fail = (exc) => {
    error.textContent = exc.message
    error.hidden = false
  }
  const attempt = async (action) => {
    error.hidden = true
    try {
      await action()
    } catch (exc) {
      fail(exc)
    }
  }

  const startRename = (row, doc) => {
    const input = h('input', { class: 'rename-input', value: doc.title, 'aria-label': 'New title', maxlength: '200' })
    const finish = (save) => attempt(async () => {
      if (save && input.value.trim() && input.value.trim() !== doc.title) {
        Object.assign(doc, await documentsApi.rename(doc.id, input.value.trim()))
      }
      row.replaceWith(renderRow(doc))
    })
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') finish(true)
      if (event.key === 'Escape') finish(false)
    })
    const titleCell = row.querySelector('.doc-title')
    titleCell.replaceChildren(
      input,
      h('button', { type: 'button', class: 'button-small', onClick: () => finish(true) }, 'Save'),
      h('button', { type: 'button', class: 'button-quiet', onClick: () => finish(false) }, 'Cancel'),
    )
    input.focus()
    input.select()
  }

  const renderRow = (doc) => {
    const row = h('li', { class: 'doc-row', dataset: { id: doc.id } },
      h('div', { class: 'doc-title' }, h('a', { href: `/d/${doc.id}`, class: 'doc-link' }, doc.title)),
      h('div', { class: 'doc-meta' },
        h('span', { class: `role-badge role-${doc.role}` }, doc.role),
        h('time', { datetime: doc.updated_at, title: new Date(doc.updated_at).toLocaleString() },
          `changed ${ago(doc.updated_at)}`)),
      h('div', { class: 'doc-actions' },
        doc.role !== 'viewer' && h('button', {
          type: 'button', class: 'button-quiet', 'aria-label': `Rename ${doc.title}`,
          onClick: () => startRename(row, doc),
        }, 'Rename'),
        doc.role === 'owner' && h('button', {
          type: 'button', class: 'button-quiet danger', 'aria-label': `Delete ${doc.title}`,
          onClick: () => {
            if (!window.confirm(`Delete “${doc.title}” for everyone? This cannot be undone.`)) return
            attempt(async () => {
              await documentsApi.remove(doc.id)
              row.remove()
              empty.hidden = list.children.length > 0
            })
          },
        }, 'Delete')),
    )
    return row
  }

  const load = () => attempt(async () => {
    const documents = await documentsApi.list()
    list.replaceChildren(...documents.map(renderRow))
    empty.hidden = documents.length > 0
    list.setAttribute('aria-busy', 'false')
  })

  createForm.addEventListener('submit', (event) => {
    event.preventDefault()
    const title = createForm.elements.title.value.trim() || 'Untitled'
    attempt(async () => {
      const doc = await documentsApi.create(title)
      list.prepend(renderRow(doc))
      empty.hidden = true
      createForm.reset()
    })
  })
  load()
}
