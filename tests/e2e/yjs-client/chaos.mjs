// Chaos clients: several y-websocket WebsocketProviders (one Y.Doc each) typing at random into
// Collab documents, moving between server processes and going offline and back. Driven by
// tests/support/chaos.py through JSON lines: commands on stdin, events on stdout, diagnostics on
// stderr.
//
// Usage: node chaos.mjs CONFIG_JSON
//   CONFIG_JSON: {"servers": [wsBase, ...], "docs": [{"id", "kind"}], "token", "clientsPerDoc",
//                 "seed"}; kind is "rich" (an XmlFragment as y-prosemirror writes it), "map" or
//                 "array".
// Commands: {"cmd": "chaos", "seconds"}, {"cmd": "settle", "timeout"}, {"cmd": "disconnect"},
//           {"cmd": "verify", "http", "ws", "timeout"}, {"cmd": "exit"}.
import readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const config = JSON.parse(process.argv[2])

// mulberry32: a seeded schedule, so a failing seed can be replayed (timing still varies)
const makeRng = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const rng = makeRng(config.seed)
const randInt = (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1)) // inclusive
const pick = (items) => items[Math.floor(rng() * items.length)]
const uniform = (lo, hi) => lo + rng() * (hi - lo)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')
const log = (...parts) => console.error(new Date().toISOString(), ...parts)

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta', 'iota', 'kappa']
const MARKS = [null, { bold: {} }, { italic: {} }, { bold: {}, italic: {} }]

// --- content as comparable JSON ------------------------------------------------------------

const xmlJSON = (node) => {
  if (node instanceof Y.XmlText) return { text: node.toDelta() }
  const children = node.toArray().map(xmlJSON)
  if (node instanceof Y.XmlElement) {
    return { name: node.nodeName, attrs: node.getAttributes(), children }
  }
  return children
}

export const contentOf = (doc) => ({
  default: xmlJSON(doc.getXmlFragment('default')),
  map: doc.getMap('map').toJSON(),
  array: doc.getArray('array').toJSON(),
})

const svOf = (doc) => Object.fromEntries(
  [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0])
)
const hasPending = (doc) => doc.store.pendingStructs !== null || doc.store.pendingDs !== null
const viewOf = (doc) => ({ content: contentOf(doc), sv: svOf(doc), pending: hasPending(doc) })

// --- random edits, one transaction each (as an editor does) -------------------------------

const randomValue = (doc, depth = 0) => {
  const r = rng()
  if (r < 0.3) return pick(WORDS) + randInt(0, 99)
  if (r < 0.5) return randInt(-1000, 1000)
  if (r < 0.6) return rng() < 0.5
  if (r < 0.7) return { note: pick(WORDS), n: randInt(0, 9) }
  if (depth > 0) return null
  if (r < 0.85) {
    const nested = new Y.Map()
    nested.set('k', pick(WORDS))
    return nested
  }
  const nested = new Y.Array()
  nested.insert(0, [pick(WORDS), randInt(0, 9)])
  return nested
}

const editRich = (doc) => {
  const fragment = doc.getXmlFragment('default')
  const blocks = fragment.toArray()
  const r = rng()
  if (blocks.length === 0 || r < 0.08) {
    const heading = rng() < 0.2
    const block = new Y.XmlElement(heading ? 'heading' : 'paragraph')
    if (heading) block.setAttribute('level', randInt(1, 3))
    const text = new Y.XmlText()
    block.insert(0, [text])
    fragment.insert(randInt(0, blocks.length), [block])
    text.insert(0, pick(WORDS) + ' ', pick(MARKS) || {})
    return
  }
  const block = pick(blocks)
  const text = block.get(0)
  if (!(text instanceof Y.XmlText)) return
  const length = text.length
  if (r < 0.6 || length === 0) {
    const marks = pick(MARKS)
    const word = pick(WORDS) + ' '
    if (marks) text.insert(randInt(0, length), word, marks)
    else text.insert(randInt(0, length), word)
  } else if (r < 0.75) {
    const at = randInt(0, length - 1)
    text.delete(at, randInt(1, Math.min(8, length - at)))
  } else if (r < 0.92) {
    const at = randInt(0, length - 1)
    const mark = pick(['bold', 'italic'])
    text.format(at, randInt(1, Math.min(12, length - at)), { [mark]: rng() < 0.7 ? {} : null })
  } else if (r < 0.96 && blocks.length > 1) {
    fragment.delete(blocks.indexOf(block), 1)
  } else if (block.nodeName === 'heading') {
    block.setAttribute('level', randInt(1, 3))
  }
}

const editMap = (doc) => {
  const map = doc.getMap('map')
  const key = 'k' + randInt(0, 15)
  const current = map.get(key)
  const r = rng()
  if (r < 0.15 && map.has(key)) map.delete(key)
  else if (r < 0.45 && current instanceof Y.Map) current.set(pick(WORDS), randomValue(doc, 1))
  else if (r < 0.6 && current instanceof Y.Array) current.insert(randInt(0, current.length), [randInt(0, 99)])
  else map.set(key, randomValue(doc))
}

const editArray = (doc) => {
  const array = doc.getArray('array')
  const length = array.length
  const r = rng()
  if (r < 0.2 && length > 0) {
    const at = randInt(0, length - 1)
    array.delete(at, randInt(1, Math.min(3, length - at)))
  } else if (r < 0.3 && length > 0) {
    const item = array.get(randInt(0, length - 1))
    if (item instanceof Y.Map) item.set(pick(WORDS), randInt(0, 99))
    else if (item instanceof Y.Array) item.insert(0, [pick(WORDS)])
  } else {
    const items = Array.from({ length: randInt(1, 3) }, () => randomValue(doc))
    array.insert(randInt(0, length), items)
  }
}

const EDITS = { rich: editRich, map: editMap, array: editArray }

// --- clients ------------------------------------------------------------------------------

const clients = []
for (const [docIndex, { id, kind }] of config.docs.entries()) {
  for (let n = 0; n < config.clientsPerDoc; n++) {
    const doc = new Y.Doc()
    const server = randInt(0, config.servers.length - 1)
    const provider = new WebsocketProvider(config.servers[server] + '/ws/documents', id, doc, {
      WebSocketPolyfill: WebSocket,
      params: { token: config.token },
      // clients in one Node process would otherwise sync through BroadcastChannel, not the servers
      disableBc: true,
      maxBackoffTime: 1000,
    })
    const client = { name: `d${docIndex}c${n}`, docId: id, kind, doc, provider, server, online: true }
    provider.awareness.setLocalStateField('user', { name: client.name })
    provider.on('closed', ({ code, reason }) => log(client.name, 'closed for good', code, reason))
    clients.push(client)
  }
}

const waitFor = async (condition, timeoutMs) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (condition()) return true
    await sleep(50)
  }
  return condition()
}

const stats = { edits: 0, moves: 0, offline: 0, errors: 0 }

const goOnline = (client) => {
  client.online = true
  client.provider.connect()
}

const act = (client) => {
  const r = rng()
  if (r < 0.02) {
    // move to the other process, keeping the Y.Doc (and whatever it holds unsent)
    const wasOnline = client.online
    client.provider.disconnect()
    client.server = (client.server + 1) % config.servers.length
    client.provider.serverUrl = config.servers[client.server] + '/ws/documents'
    stats.moves++
    if (wasOnline) client.provider.connect()
  } else if (r < 0.035 && client.online) {
    client.online = false
    client.provider.disconnect()
    stats.offline++
    setTimeout(() => { if (!client.online && chaosRunning) goOnline(client) }, uniform(300, 4000))
  } else {
    try {
      client.doc.transact(() => EDITS[client.kind](client.doc))
      stats.edits++
    } catch (error) {
      stats.errors++
      log(client.name, 'edit failed', error)
    }
  }
}

let chaosRunning = false

const chaos = async (seconds) => {
  chaosRunning = true
  const end = Date.now() + seconds * 1000
  await Promise.all(clients.map(async (client) => {
    while (Date.now() < end) {
      act(client)
      await sleep(uniform(40, 250))
    }
  }))
  chaosRunning = false
}

const allViews = () => {
  const byDoc = {}
  for (const client of clients) {
    byDoc[client.docId] ??= []
    byDoc[client.docId].push({
      client: client.name,
      server: client.server,
      connected: client.provider.wsconnected,
      synced: client.provider.synced,
      ...viewOf(client.doc),
    })
  }
  return byDoc
}

// key order of a Y.Map's JSON depends on the order a client learnt the keys in
const canonical = (value) => {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]))
  }
  return value
}
const sameView = (a, b) =>
  JSON.stringify(canonical([a.content, a.sv])) === JSON.stringify(canonical([b.content, b.sv]))

const settled = () => Object.values(allViews()).every((views) => views.every((view) =>
  view.synced && !view.pending && sameView(view, views[0])
))

const settle = async (timeout) => {
  for (const client of clients) {
    if (!client.online || !client.provider.shouldConnect) goOnline(client)
  }
  const ok = await waitFor(settled, timeout * 1000)
  emit({ event: ok ? 'settled' : 'unsettled', docs: allViews() })
}

const verify = async ({ http, ws, timeout }) => {
  const docs = {}
  for (const { id } of config.docs) {
    const response = await fetch(`${http}/api/documents/${id}/state`, {
      headers: { Authorization: `Bearer ${config.token}` },
    })
    const fromHttp = new Y.Doc()
    if (response.ok) Y.applyUpdate(fromHttp, new Uint8Array(await response.arrayBuffer()))
    else log('GET state', id, response.status, await response.text())
    const fresh = new Y.Doc()
    const provider = new WebsocketProvider(ws + '/ws/documents', id, fresh, {
      WebSocketPolyfill: WebSocket, params: { token: config.token }, disableBc: true,
    })
    const synced = await waitFor(() => provider.synced, timeout * 1000)
    docs[id] = {
      http: { status: response.status, ...viewOf(fromHttp) },
      ws: { synced, ...viewOf(fresh) },
    }
    provider.destroy()
  }
  emit({ event: 'verified', docs })
}

const ready = await waitFor(() => clients.every((client) => client.provider.synced), 30000)
emit({ event: ready ? 'ready' : 'not-ready', clients: clients.length })

const commands = readline.createInterface({ input: process.stdin })
for await (const line of commands) {
  const command = JSON.parse(line)
  if (command.cmd === 'chaos') {
    await chaos(command.seconds)
    emit({ event: 'chaos-done', stats })
  } else if (command.cmd === 'settle') {
    await settle(command.timeout)
  } else if (command.cmd === 'disconnect') {
    for (const client of clients) client.provider.destroy()
    emit({ event: 'disconnected' })
  } else if (command.cmd === 'verify') {
    await verify(command)
  } else if (command.cmd === 'exit') {
    break
  }
}
process.exit(0)
