// The share dialog (owners only): who else may open this document and as what. Adding someone
// who is already a member changes their role; removing a member closes their open editors
// (the server does that, SPEC.md "Losing access live").
import { documentsApi } from './api.js'
import { h } from './dom.js'

const ROLES = [['editor', 'can edit'], ['viewer', 'can view']]

function roleSelect (value, attributes = {}) {
  return h('select', attributes,
    ROLES.map(([role, text]) => h('option', { value: role, selected: role === value }, text)))
}

export function mountShareDialog (openButton, dialog, documentId) {
  const list = dialog.querySelector('[data-role=members]')
  const form = dialog.querySelector('form[data-role=add-member]')
  const error = dialog.querySelector('[data-role=share-error]')

  const fail = (exc) => {
    error.textContent = exc.message
    error.hidden = false
  }

  const render = (members) => {
    list.replaceChildren(...(members.length
      ? members.map((member) => h('li', { class: 'member', dataset: { username: member.username } },
          h('span', { class: 'member-name' }, member.username),
          roleSelect(member.role, {
            'aria-label': `Role of ${member.username}`,
            onChange: (event) => change(() => documentsApi.share(documentId, member.username, event.target.value)),
          }),
          h('button', {
            type: 'button',
            class: 'button-quiet danger',
            'aria-label': `Remove ${member.username}`,
            onClick: () => change(() => documentsApi.unshare(documentId, member.username)),
          }, 'Remove'),
        ))
      : [h('li', { class: 'member-empty' }, 'Only you can open this document.')]))
  }

  const refresh = async () => render(await documentsApi.members(documentId))

  const change = async (action) => {
    error.hidden = true
    try {
      await action()
      await refresh()
    } catch (exc) {
      fail(exc)
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const username = form.elements.username.value.trim()
    if (!username) return
    await change(() => documentsApi.share(documentId, username, form.elements.role.value))
    if (error.hidden) form.reset()
  })
  dialog.querySelector('[data-role=close]').addEventListener('click', () => dialog.close())
  openButton.addEventListener('click', () => {
    error.hidden = true
    dialog.showModal()
    form.elements.username.focus()
    refresh().catch(fail)
  })
}
