// Who is here now (data-testid="presence"): one chip per person in the document's awareness,
// coloured like their caret. A person with several tabs open is listed once.
import { h } from './dom.js'

export function mountPresence (element, awareness, me) {
  const render = () => {
    const people = new Map()
    for (const [clientId, state] of awareness.getStates()) {
      const user = state && state.user
      if (!user || !user.name) continue
      const isMe = clientId === awareness.clientID || user.name === me.name
      if (!people.has(user.name) || isMe) people.set(user.name, { ...user, isMe })
    }
    const sorted = [...people.values()].sort((a, b) => (b.isMe - a.isMe) || a.name.localeCompare(b.name))
    element.replaceChildren(...sorted.map((person) => h(
      'li',
      { class: 'person', title: person.isMe ? `${person.name} (you)` : person.name, dataset: { name: person.name } },
      h('span', { class: 'person-dot', style: { backgroundColor: person.color }, 'aria-hidden': 'true' },
        person.name.slice(0, 1).toUpperCase()),
      h('span', { class: 'person-name' }, person.isMe ? `${person.name} (you)` : person.name),
    )))
  }
  awareness.on('change', render)
  render()
}
