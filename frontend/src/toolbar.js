// The formatting toolbar. Each button runs one Tiptap command and shows whether its mark or node
// is active at the cursor; Tiptap's own keyboard shortcuts (Mod-b, Mod-z, ...) work alongside.
import { h } from './dom.js'

const BUTTONS = [
  { label: 'Undo', text: '↶', run: (c) => c.undo(), can: (e) => e.can().undo() },
  { label: 'Redo', text: '↷', run: (c) => c.redo(), can: (e) => e.can().redo() },
  'separator',
  { label: 'Bold', text: 'B', className: 'bold', run: (c) => c.toggleBold(), active: ['bold'] },
  { label: 'Italic', text: 'I', className: 'italic', run: (c) => c.toggleItalic(), active: ['italic'] },
  { label: 'Strike', text: 'S', className: 'strike', run: (c) => c.toggleStrike(), active: ['strike'] },
  { label: 'Code', text: '</>', run: (c) => c.toggleCode(), active: ['code'] },
  'separator',
  ...[1, 2, 3].map((level) => ({
    label: `Heading ${level}`,
    text: `H${level}`,
    run: (c) => c.toggleHeading({ level }),
    active: ['heading', { level }],
  })),
  'separator',
  { label: 'Bullet list', text: '•', run: (c) => c.toggleBulletList(), active: ['bulletList'] },
  { label: 'Ordered list', text: '1.', run: (c) => c.toggleOrderedList(), active: ['orderedList'] },
  { label: 'Quote', text: '❝', run: (c) => c.toggleBlockquote(), active: ['blockquote'] },
  { label: 'Code block', text: '{ }', run: (c) => c.toggleCodeBlock(), active: ['codeBlock'] },
]

export function mountToolbar (container, editor) {
  const buttons = []
  for (const spec of BUTTONS) {
    if (spec === 'separator') {
      container.append(h('span', { class: 'toolbar-separator', 'aria-hidden': 'true' }))
      continue
    }
    const button = h('button', {
      type: 'button',
      class: `toolbar-button ${spec.className || ''}`,
      title: spec.label,
      'aria-label': spec.label,
      // Keep the editor's selection: a click on the toolbar must not blur the text.
      onMousedown: (event) => event.preventDefault(),
      onClick: () => spec.run(editor.chain().focus()).run(),
    }, spec.text)
    buttons.push([button, spec])
    container.append(button)
  }
  const refresh = () => {
    for (const [button, spec] of buttons) {
      if (spec.active) button.setAttribute('aria-pressed', String(editor.isActive(...spec.active)))
      button.disabled = !editor.isEditable || (spec.can ? !spec.can(editor) : false)
    }
  }
  editor.on('transaction', refresh)
  editor.on('update', refresh)
  refresh()
  return { refresh }
}
