// docs/embedding.md's browser code, run in Node: y-websocket's WebsocketProvider opened with a
// document-scoped token (params: { token }); when the token expires the server closes the socket
// with 4401, y-websocket stops reconnecting (4400-4499 are permanent) and fires 'closed', and the
// page fetches a fresh token and connects again. Once back, types TEXT into the shared text
// 'text', waits until it contains every string in WAIT_FOR (comma-separated), prints
// {"closes": [codes of the 'closed' events], "text"} as JSON on stdout and exits.
// Usage: node refresh.mjs WS_BASE DOC_ID FIRST_TOKEN FRESH_TOKEN TEXT WAIT_FOR
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const [base, docId, firstToken, freshToken, text, waitFor] = process.argv.slice(2)
const expected = (waitFor || '').split(',').filter(Boolean)
const closes = []

// What the page's call to its own backend returns (docs/embedding.md): here, from the command line.
const fetchCollabToken = async (documentId) => freshToken

const ydoc = new Y.Doc()
const shared = ydoc.getText('text')
const provider = new WebsocketProvider(base + '/ws/documents', docId, ydoc, {
  WebSocketPolyfill: WebSocket,
  params: { token: firstToken },
})

// --- as in docs/embedding.md ------------------------------------------------------------------
provider.on('closed', async ({ code }) => {
  closes.push(code)
  if (code !== 4401) return // 4403, 4404: access is gone, a new token will not bring it back
  provider.params.token = await fetchCollabToken(docId)
  provider.connect() // resyncs: nothing typed meanwhile is lost
})
// -----------------------------------------------------------------------------------------------

const deadline = setTimeout(() => {
  console.error('timed out; closes ' + JSON.stringify(closes) + ', text ' + shared.toString())
  process.exit(2)
}, 30000)

provider.on('sync', (synced) => {
  if (!synced || provider.params.token !== freshToken) return // not back with the fresh one yet
  shared.insert(shared.length, text)
  const check = () => {
    if (expected.every((part) => shared.toString().includes(part))) {
      clearTimeout(deadline)
      setTimeout(() => {
        // give the last update time to leave before closing
        console.log(JSON.stringify({ closes, text: shared.toString() }))
        provider.destroy()
        process.exit(0)
      }, 300)
    }
  }
  shared.observe(check)
  check()
})
