// Entry of the editor page (/d/<id>): one Yjs document, its connection, the Tiptap editor on it,
// and the pieces around it (title, toolbar, status, presence, share dialog).
import * as Y from 'yjs'
import { colorFor } from '../colors.js'
import { Connection } from '../connection.js'
import { createEditor } from '../editor.js'
import { pageConfig } from '../page-config.js'
import { mountPresence } from '../presence.js'
import { mountShareDialog } from '../share.js'
import { mountStatus } from '../status.js'
import { mountTitle } from '../title.js'
import { mountToolbar } from '../toolbar.js'

const config = pageConfig()
const canEdit = config.role === 'owner' || config.role === 'editor'
const user = { name: config.username, color: colorFor(config.username) }

const ydoc = new Y.Doc()
const connection = new Connection(config.documentId, ydoc)
const editor = createEditor({
  element: document.getElementById('editor'),
  ydoc,
  provider: connection.provider,
  user,
  editable: canEdit,
})

mountTitle(document.getElementById('document-title'), {
  documentId: config.documentId,
  title: config.title,
  canRename: canEdit,
})
const toolbar = document.getElementById('toolbar')
if (canEdit) mountToolbar(toolbar, editor)
else toolbar.remove()
mountStatus(document.querySelector('[data-testid=status]'), document.getElementById('connection-banner'),
  connection, { documentId: config.documentId })
mountPresence(document.querySelector('[data-testid=presence]'), connection.awareness, user)
const shareButton = document.getElementById('share-button')
if (shareButton) mountShareDialog(shareButton, document.getElementById('share-dialog'), config.documentId)

// After a close that ends the session (signed out, revoked, deleted) the text stays readable but
// is no longer editable: edits could not reach anyone.
connection.on('stopped', () => {
  editor.setEditable(false)
  toolbar.remove()
})

// For people debugging in the console, and for the end-to-end tests.
window.collab = { editor, ydoc, provider: connection.provider, connection }
