// Connects y-websocket's WebsocketProvider to Collab, types TEXT into the shared text 'text',
// waits until the text contains every string in WAIT_FOR (comma-separated), prints the final
// text as JSON on stdout and exits. Usage: node edit.mjs WS_BASE DOC_ID TOKEN TEXT WAIT_FOR
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const [base, docId, token, text, waitFor] = process.argv.slice(2)
const expected = (waitFor || '').split(',').filter(Boolean)
const doc = new Y.Doc()
const shared = doc.getText('text')
const provider = new WebsocketProvider(base + '/ws/documents', docId, doc, {
  WebSocketPolyfill: WebSocket,
  params: { token },
})
provider.awareness.setLocalStateField('user', { name: 'node-client' })

const deadline = setTimeout(() => {
  console.error('timed out; text is ' + JSON.stringify(shared.toString()))
  process.exit(2)
}, 20000)

provider.on('sync', (synced) => {
  if (!synced) return
  if (text) shared.insert(shared.length, text)
  const check = () => {
    const now = shared.toString()
    if (expected.every((part) => now.includes(part))) {
      clearTimeout(deadline)
      // give the last update time to leave before closing
      setTimeout(() => {
        console.log(JSON.stringify({ text: shared.toString() }))
        provider.destroy()
        process.exit(0)
      }, 300)
    }
  }
  shared.observe(check)
  check()
})
