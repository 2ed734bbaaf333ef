// The rich-text editor: Tiptap on the document's Yjs XmlFragment `default` (the root Collab's
// content API reads). Undo and redo are the collaborative ones (they only undo your own edits),
// so StarterKit's local history is off; remote carets carry each person's name and colour.
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'

export function createEditor ({ element, ydoc, provider, user, editable }) {
  return new Editor({
    element,
    editable,
    extensions: [
      StarterKit.configure({ undoRedo: false }),
      Collaboration.configure({ document: ydoc, field: 'default' }),
      CollaborationCaret.configure({ provider, user }),
    ],
    editorProps: {
      attributes: {
        'data-testid': 'editor',
        class: 'editor-content',
        'aria-label': 'Document text',
        spellcheck: 'true',
      },
    },
  })
}
