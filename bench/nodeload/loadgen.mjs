// The bench's load generator (bench/README.md): one `ws` socket and one Y.Doc per client,
// speaking y-websocket (or Hocuspocus's framing of it) as a provider does.
//
// Driven by bench/nodeload.py: one JSON command per line on stdin, one JSON reply per line on
// stdout (diagnostics on stderr). Commands:
//   {"cmd": "connect", "clients": [{"url", "dialect", "document", "room"}], "batch": 100,
//    "timeout_s": 30}          batch 0 = every client at once (a join storm)
//   {"cmd": "type", "rate": 5, "seconds": 10, "drain_s": 20, "quiet_s": 2}
//   {"cmd": "close"}
//   {"cmd": "exit"}
// and the endurance soak's (tests/support/soak), on clients connected with `typist`:
//   {"cmd": "steady", "rate": 2, "keep": 40}   typing that goes on until the rooms are left
//   {"cmd": "window"}          what happened since the previous window (latencies, closes)
//   {"cmd": "leave", "rooms": [...], "drain_s": 10}    stop, wait for delivery, record, close
//   {"cmd": "finish", "drain_s": 30}                   `leave` for every open room
//   {"cmd": "await_close", "index": 7, "timeout_s": 5}  a client closed by the server
//   {"cmd": "verify", "http": "http://...", "token": "..."}  every left room against a cold load
// Every reply carries this process's CPU seconds for the command (process.cpuUsage) and the
// load average.
//
// Counting: every update appends a marker `~q` + 8 digits (a sequence number) to the typist's
// Y.Text. Yjs keeps string content as raw UTF-8 in a v1 update, also in an update a server
// merged from several, so a receiver finds the markers in the bytes of every sync message it
// gets (and then applies the update to its Y.Doc, as a client does). Each (receiver, update)
// is counted once; a marker arriving again at the same receiver is a duplicate, one arriving
// at its own sender is an echo (not a delivery), one arriving in another room is misrouted.
//
// Steady typing (the soak): each typist writes into a paragraph of its own in the XmlFragment
// `default` (as y-prosemirror lays out a document), appending a marker per edit and deleting
// its oldest one past `keep`, so a room holds a bounded document however long it is typed in
// (Yjs squashes each typist's deleted run into one tombstone) and a server's memory can only
// grow by what it keeps itself. An observer client (`observer`) receives and applies but is
// not counted; closes with a code in a client's `expect_close` are expected, others errors.

import os from 'node:os'
import readline from 'node:readline'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

const MSG_SYNC = 0
const MSG_AUTH = 2
const SYNC_STEP1 = 0
const SYNC_STEP2 = 1
const SYNC_UPDATE = 2
const REMOTE = Symbol('remote')
const TILDE_Q = Buffer.from('~q')

// -- what a run records ------------------------------------------------------------------------
const sentAt = [] // seq -> performance.now() when the typist made the update
const senderOf = [] // seq -> client index
let run = null // the `type` command in progress

function newRun (firstSeq) {
  return {
    firstSeq,
    expected: 0,
    delivered: 0,
    duplicates: 0,
    echoes: 0,
    misrouted: 0,
    earlier: 0,
    latencies: [],
    lastArrival: 0
  }
}

// Returns whether the update may carry anything but the receiver's own updates.
function recordMarkers (client, bytes, now) {
  if (run === null) return true
  let foreign = false
  let markers = 0
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = buf.indexOf(TILDE_Q)
  while (pos !== -1 && pos + 10 <= buf.length) {
    let seq = 0
    let digits = 0
    for (; digits < 8; digits++) {
      const c = buf[pos + 2 + digits]
      if (c < 48 || c > 57) break
      seq = seq * 10 + (c - 48)
    }
    if (digits === 8) {
      markers++
      if (countDelivery(client, seq, now)) foreign = true
    }
    pos = buf.indexOf(TILDE_Q, pos + 2)
  }
  return foreign || markers === 0
}

function countDelivery (client, seq, now) {
  if (seq < run.firstSeq || seq >= sentAt.length) {
    run.earlier++
    return true
  }
  const sender = senderOf[seq]
  if (sender === client.index) {
    run.echoes++
    return false
  } else if (clients[sender].room !== client.room) {
    run.misrouted++
  } else if (client.received.has(seq)) {
    run.duplicates++
  } else {
    client.received.add(seq)
    run.delivered++
    run.latencies.push(now - sentAt[seq])
    run.lastArrival = now
    if (soak !== null) soak.rooms.get(client.room).delivered++
  }
  return true
}

// -- one client --------------------------------------------------------------------------------
const clients = []

class Client {
  constructor (index, spec) {
    this.index = index
    this.url = spec.url
    this.room = spec.room
    this.document = spec.document
    this.hocuspocus = spec.dialect === 'hocuspocus'
    this.doc = new Y.Doc()
    this.text = this.doc.getText('text')
    this.received = new Set()
    this.ws = null
    this.state = 'new' // connecting, synced, failed, closed
    this.failure = null
    this.startedAt = 0
    this.syncedAt = 0
    this.typist = Boolean(spec.typist)
    this.observer = Boolean(spec.observer)
    this.expectClose = new Set(spec.expect_close || [])
    this.closeCode = null
    this.leaving = false
    this.paragraph = null // the steady typist's own XmlText
    this.nextAt = 0
    this.awarenessClock = 0
    this.doc.on('update', (update, origin) => {
      if (origin !== REMOTE && this.state === 'synced') {
        this.send((enc) => {
          encoding.writeVarUint(enc, MSG_SYNC)
          encoding.writeVarUint(enc, SYNC_UPDATE)
          encoding.writeVarUint8Array(enc, update)
        })
      }
    })
  }

  send (body) {
    const enc = encoding.createEncoder()
    if (this.hocuspocus) encoding.writeVarString(enc, this.document)
    body(enc)
    this.ws.send(encoding.toUint8Array(enc))
  }

  connect (timeoutMs) {
    return new Promise((resolve) => {
      this.onSettled = resolve
      this.state = 'connecting'
      this.startedAt = performance.now()
      this.timer = setTimeout(() => this.fail('timeout'), timeoutMs)
      const ws = new WebSocket(this.url, {
        perMessageDeflate: false,
        maxPayload: 64 * 2 ** 20,
        // The mask stays all zeros: a server unmasks every frame just the same, and the
        // generator saves a crypto call per frame (ws documents this for benchmarks).
        generateMask: () => {}
      })
      ws.binaryType = 'nodebuffer'
      this.ws = ws
      ws.on('open', () => {
        if (this.hocuspocus) {
          // @hocuspocus/provider authenticates before its sync step 1 is handled.
          this.send((enc) => {
            encoding.writeVarUint(enc, MSG_AUTH)
            encoding.writeVarUint(enc, 0)
            encoding.writeVarString(enc, 'bench-token')
          })
        }
        this.send((enc) => {
          encoding.writeVarUint(enc, MSG_SYNC)
          encoding.writeVarUint(enc, SYNC_STEP1)
          encoding.writeVarUint8Array(enc, Y.encodeStateVector(this.doc))
        })
      })
      ws.on('message', (data) => this.onMessage(data))
      ws.on('unexpected-response', (_req, res) => {
        this.fail(`http ${res.statusCode}`)
        ws.terminate()
      })
      ws.on('error', (err) => this.fail(`error ${err.code || err.message}`))
      ws.on('close', (code) => {
        this.closeCode = code
        if (this.state === 'connecting') this.fail(`closed ${code}`)
        else if (this.state === 'synced') {
          this.state = 'closed'
          if (run !== null && !closing) run.disconnected = (run.disconnected || 0) + 1
          if (soak !== null && !closing && !this.leaving) soak.recordClose(this, code)
        }
      })
    })
  }

  fail (reason) {
    if (this.state !== 'connecting') return
    this.state = 'failed'
    this.failure = reason
    clearTimeout(this.timer)
    if (reason === 'timeout') this.ws.terminate()
    this.onSettled()
  }

  onMessage (data) {
    const now = performance.now()
    const dec = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    if (this.hocuspocus) decoding.readVarString(dec)
    const type = decoding.readVarUint(dec)
    if (type === MSG_AUTH && this.hocuspocus) {
      if (decoding.readVarUint(dec) === 1) this.fail('permission denied')
      return
    }
    if (type !== MSG_SYNC) return // awareness, Hocuspocus's sync status: not counted
    const sub = decoding.readVarUint(dec)
    if (sub === SYNC_STEP1) {
      const stateVector = decoding.readVarUint8Array(dec)
      this.send((enc) => {
        encoding.writeVarUint(enc, MSG_SYNC)
        encoding.writeVarUint(enc, SYNC_STEP2)
        encoding.writeVarUint8Array(enc, Y.encodeStateAsUpdate(this.doc, stateVector))
      })
    } else if (sub === SYNC_STEP2 || sub === SYNC_UPDATE) {
      const update = decoding.readVarUint8Array(dec)
      // An echo of the client's own update changes nothing in its Doc: not applied again.
      if (this.observer || recordMarkers(this, update, now)) Y.applyUpdate(this.doc, update, REMOTE)
      if (sub === SYNC_STEP2 && this.state === 'connecting') {
        this.state = 'synced'
        this.syncedAt = now
        clearTimeout(this.timer)
        this.onSettled()
      }
    }
  }
}

// -- commands ----------------------------------------------------------------------------------
function percentile (sorted, pct) {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.round((pct / 100) * sorted.length) - 1))
  return sorted[rank]
}

function ms (value) {
  return value === null || value === undefined ? null : Math.round(value * 100) / 100
}

function stats (values) {
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    p50_ms: ms(percentile(sorted, 50)),
    p99_ms: ms(percentile(sorted, 99)),
    max_ms: ms(sorted.length ? sorted[sorted.length - 1] : null),
    mean_ms: ms(sorted.length ? sum / sorted.length : null)
  }
}

async function connect ({ clients: specs, batch = 100, timeout_s: timeoutS = 30 }) {
  const firstIndex = clients.length
  const fresh = specs.map((spec) => {
    const client = new Client(clients.length, spec)
    clients.push(client)
    return client
  })
  const started = performance.now()
  const size = batch > 0 ? batch : fresh.length
  for (let i = 0; i < fresh.length; i += size) {
    await Promise.all(fresh.slice(i, i + size).map((c) => c.connect(timeoutS * 1000)))
  }
  const synced = fresh.filter((c) => c.state === 'synced')
  const failures = {}
  for (const c of fresh) if (c.state === 'failed') failures[c.failure] = (failures[c.failure] || 0) + 1
  const timedOut = failures.timeout || 0
  if (soak !== null) soak.joined(fresh, failures)
  return {
    first_index: firstIndex,
    requested: fresh.length,
    synced: synced.length,
    refused: fresh.length - synced.length - timedOut,
    timed_out: timedOut,
    failures,
    all_synced_s: synced.length === fresh.length
      ? Math.round(Math.max(0, ...synced.map((c) => c.syncedAt - started))) / 1000
      : null,
    wall_s: Math.round(performance.now() - started) / 1000,
    time_to_sync: stats(synced.map((c) => c.syncedAt - c.startedAt))
  }
}

function mulberry32 (seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

async function type ({ rate, seconds, drain_s: drainS = 20, quiet_s: quietS = 2 }) {
  const typists = clients.filter((c) => c.state === 'synced')
  const perClient = Math.round(rate * seconds)
  const random = mulberry32(1)
  const events = []
  for (const client of typists) {
    const phase = (random() * 1000) / rate
    for (let n = 0; n < perClient; n++) events.push({ at: phase + (n * 1000) / rate, client })
  }
  events.sort((a, b) => a.at - b.at)
  const inRoom = new Map()
  for (const c of typists) inRoom.set(c.room, (inRoom.get(c.room) || 0) + 1)
  run = newRun(sentAt.length)
  const lags = []
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  await new Promise((resolve) => {
    let next = 0
    const tick = () => {
      const now = performance.now() - started
      while (next < events.length && events[next].at <= now) {
        const { at, client } = events[next++]
        if (client.state !== 'synced') continue
        const seq = sentAt.length
        senderOf.push(client.index)
        lags.push(performance.now() - started - at)
        sentAt.push(performance.now())
        run.expected += inRoom.get(client.room) - 1
        client.text.insert(client.text.length, `~q${String(seq).padStart(8, '0')}`)
      }
      if (next < events.length) setTimeout(tick, Math.max(0, events[next].at - (performance.now() - started)))
      else resolve()
    }
    tick()
  })
  const sendEnded = performance.now()
  await new Promise((resolve) => {
    let lastCount = -1
    let lastChange = performance.now()
    const poll = () => {
      const now = performance.now()
      if (run.delivered >= run.expected || now - sendEnded > drainS * 1000) return resolve()
      if (run.delivered !== lastCount) {
        lastCount = run.delivered
        lastChange = now
      } else if (now - lastChange > quietS * 1000) return resolve()
      setTimeout(poll, 20)
    }
    poll()
  })
  const cpu = process.cpuUsage(cpuBefore)
  const done = run
  run = null
  const elapsed = Math.max(done.lastArrival - started, 1e-6) / 1000
  return {
    typists: typists.length,
    rooms: inRoom.size,
    updates: sentAt.length - done.firstSeq,
    expected: done.expected,
    delivered: done.delivered,
    missing: done.expected - done.delivered,
    duplicates: done.duplicates,
    echoes: done.echoes,
    misrouted: done.misrouted,
    disconnected: done.disconnected || 0,
    delivered_fraction: done.expected ? Math.round((done.delivered / done.expected) * 1e4) / 1e4 : null,
    ...stats(done.latencies),
    deliveries_per_s: Math.round(done.delivered / elapsed),
    send_s: Math.round(sendEnded - started) / 1000,
    send_lag_ms: stats(lags),
    wall_s: Math.round(performance.now() - started) / 1000,
    generator_cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100
  }
}

let closing = false

// Close normally; a socket that has not closed 5 s later is dropped.
function closeSockets (some) {
  const open = some.filter((c) => c.ws && c.ws.readyState !== WebSocket.CLOSED)
  return Promise.all(open.map((c) => new Promise((resolve) => {
    const timer = setTimeout(() => { c.ws.terminate(); resolve() }, 5000)
    c.ws.once('close', () => { clearTimeout(timer); resolve() })
    c.ws.close(1000)
  })))
}

async function close () {
  closing = true
  await closeSockets(clients)
  const closed = clients.length
  clients.length = 0
  sentAt.length = 0
  senderOf.length = 0
  closing = false
  return { closed }
}

// -- the soak's steady typing ----------------------------------------------------------------
const MSG_AWARENESS = 1
const MARKER_LENGTH = 10 // '~q' + 8 digits
let soak = null

class Soak {
  constructor ({ rate, keep }) {
    this.rate = rate
    this.keep = keep
    this.rooms = new Map() // room -> {document, clients, sent, expected, delivered, view}
    this.typists = new Set()
    this.window = this.newWindow()
    this.cpu = process.cpuUsage()
    this.timer = setInterval(() => this.tick(), 5)
  }

  newWindow () {
    return { edits: 0, lags: [], closes: {}, expectedCloses: {}, failedJoins: {} }
  }

  room (client) {
    let room = this.rooms.get(client.room)
    if (room === undefined) {
      room = { document: client.document, clients: [], sent: 0, expected: 0, delivered: 0, view: null }
      this.rooms.set(client.room, room)
    }
    return room
  }

  joined (fresh, failures) {
    const now = performance.now()
    for (const client of fresh) {
      if (client.state === 'failed') continue
      this.room(client).clients.push(client)
      if (client.typist && client.state === 'synced') {
        client.nextAt = now + Math.random() * 1000 / this.rate
        this.typists.add(client)
      }
    }
    for (const [reason, n] of Object.entries(failures)) {
      this.window.failedJoins[reason] = (this.window.failedJoins[reason] || 0) + n
    }
  }

  recordClose (client, code) {
    const into = client.expectClose.has(code) ? this.window.expectedCloses : this.window.closes
    into[code] = (into[code] || 0) + 1
    this.typists.delete(client)
  }

  tick () {
    const now = performance.now()
    for (const client of this.typists) {
      if (client.nextAt > now) continue
      this.window.lags.push(now - client.nextAt)
      // A generator that fell a second behind skips ahead rather than bursting to catch up.
      client.nextAt = Math.max(client.nextAt + 1000 / this.rate, now - 1000)
      this.edit(client)
    }
  }

  edit (client) {
    const room = this.rooms.get(client.room)
    const receivers = room.clients.filter((c) => c !== client && !c.observer && c.state === 'synced')
    const seq = sentAt.length
    senderOf.push(client.index)
    sentAt.push(performance.now())
    room.sent++
    room.expected += receivers.length
    run.expected += receivers.length
    this.window.edits++
    const marker = `~q${String(seq).padStart(8, '0')}`
    client.doc.transact(() => {
      if (client.paragraph === null) {
        const paragraph = new Y.XmlElement('paragraph')
        client.paragraph = new Y.XmlText()
        paragraph.insert(0, [client.paragraph])
        const fragment = client.doc.getXmlFragment('default')
        fragment.insert(fragment.length, [paragraph])
      }
      client.paragraph.insert(client.paragraph.length, marker)
      if (client.paragraph.length > this.keep * MARKER_LENGTH) client.paragraph.delete(0, MARKER_LENGTH)
    })
    this.sendAwareness(client)
  }

  // The caret moves with every edit, so a provider sends its awareness state each time.
  sendAwareness (client) {
    const update = encoding.createEncoder()
    encoding.writeVarUint(update, 1)
    encoding.writeVarUint(update, client.doc.clientID)
    encoding.writeVarUint(update, ++client.awarenessClock)
    encoding.writeVarString(update, JSON.stringify({
      user: { name: `typist ${client.index}` },
      cursor: { anchor: client.paragraph.length }
    }))
    client.send((enc) => {
      encoding.writeVarUint(enc, MSG_AWARENESS)
      encoding.writeVarUint8Array(enc, encoding.toUint8Array(update))
    })
  }

  takeWindow () {
    const window = this.window
    this.window = this.newWindow()
    const latencies = run.latencies
    run.latencies = []
    const cpu = process.cpuUsage(this.cpu)
    this.cpu = process.cpuUsage()
    let open = 0
    for (const room of this.rooms.values()) if (room.view === null) open++
    return {
      edits: window.edits,
      deliveries: latencies.length,
      ...stats(latencies),
      duplicates: run.duplicates,
      misrouted: run.misrouted,
      echoes: run.echoes,
      unexpected_closes: window.closes,
      expected_closes: window.expectedCloses,
      failed_joins: window.failedJoins,
      lag: stats(window.lags),
      open_rooms: open,
      typists: this.typists.size,
      cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100
    }
  }
}

function viewOf (doc) {
  const sv = Object.fromEntries([...Y.decodeStateVector(Y.encodeStateVector(doc))].sort((a, b) => a[0] - b[0]))
  return { content: doc.getXmlFragment('default').toString(), sv: JSON.stringify(sv) }
}

async function until (condition, timeoutMs) {
  const deadline = performance.now() + timeoutMs
  while (!condition() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  return condition()
}

function steady ({ rate, keep = 40 }) {
  if (soak !== null) throw new Error('already typing steadily')
  run = newRun(sentAt.length)
  soak = new Soak({ rate, keep })
  soak.joined(clients, {}) // the clients connected before typing started
  return { typists: soak.typists.size }
}

function window () {
  return soak.takeWindow()
}

// Stop typing in these rooms, give every edit `drain_s` to reach the room's other clients, then
// record what the clients hold (they must agree) and close them.
async function leave ({ rooms: names, drain_s: drainS = 10 }) {
  const rooms = names.map((name) => [name, soak.rooms.get(name)])
  for (const [, room] of rooms) for (const client of room.clients) soak.typists.delete(client)
  await until(() => rooms.every(([, room]) => room.delivered >= room.expected), drainS * 1000)
  const left = []
  for (const [name, room] of rooms) {
    const holders = room.clients.filter((c) => !c.observer && c.state === 'synced')
    const views = holders.map((c) => viewOf(c.doc))
    room.view = views[0] || { content: null, sv: null }
    left.push({
      room: name,
      sent: room.sent,
      expected: room.expected,
      delivered: room.delivered,
      missing: room.expected - room.delivered,
      holders: holders.length,
      agree: views.every((v) => v.content === room.view.content && v.sv === room.view.sv)
    })
    for (const client of room.clients) client.leaving = true
  }
  await closeSockets(rooms.flatMap(([, room]) => room.clients))
  for (const [, room] of rooms) {
    for (const client of room.clients) {
      client.doc.destroy()
      client.received = null
    }
  }
  return { rooms: left }
}

async function finish ({ drain_s: drainS = 30 }) {
  clearInterval(soak.timer)
  const open = [...soak.rooms].filter(([, room]) => room.view === null).map(([name]) => name)
  return leave({ rooms: open, drain_s: drainS })
}

async function awaitClose ({ index, timeout_s: timeoutS = 5 }) {
  const client = clients[index]
  const started = performance.now()
  await until(() => client.closeCode !== null, timeoutS * 1000)
  return { code: client.closeCode, waited_ms: Math.round(performance.now() - started) }
}

// Every left room's recorded view against a cold load of its document (GET .../state).
async function verify ({ http, token }) {
  const mismatches = []
  let checked = 0
  for (const [name, room] of soak.rooms) {
    if (room.view === null || room.view.sv === null) continue
    const response = await fetch(`${http}/api/documents/${room.document}/state`, {
      headers: { Authorization: `Bearer ${token}` }
    })
    checked++
    if (!response.ok) {
      mismatches.push({ room: name, detail: `GET state answered ${response.status}` })
      continue
    }
    const cold = new Y.Doc()
    Y.applyUpdate(cold, new Uint8Array(await response.arrayBuffer()))
    const served = viewOf(cold)
    if (served.content !== room.view.content || served.sv !== room.view.sv) {
      mismatches.push({
        room: name,
        detail: `clients hold ${room.view.content.length} characters, state ${room.view.sv}; ` +
          `the cold load ${served.content.length}, state ${served.sv}`
      })
    }
    cold.destroy()
  }
  return { checked, mismatches }
}

const commands = { connect, type, close, steady, window, leave, finish, await_close: awaitClose, verify }

// Warm the JIT on the paths every client runs (make, encode, apply an update), so that the
// first second of a measurement does not time the generator's compiler.
function warmUp () {
  const a = new Y.Doc()
  const b = new Y.Doc()
  a.on('update', (update) => {
    recordMarkers({ index: -1, room: null }, update, 0)
    Y.applyUpdate(b, update, REMOTE)
  })
  for (let n = 0; n < 3000; n++) a.getText('text').insert(a.getText('text').length, `~q${String(n).padStart(8, '0')}`)
  Y.encodeStateAsUpdate(b, Y.encodeStateVector(a))
}
warmUp()

const lines = readline.createInterface({ input: process.stdin })
let queue = Promise.resolve()
lines.on('line', (line) => {
  queue = queue.then(async () => {
    const command = JSON.parse(line)
    if (command.cmd === 'exit') process.exit(0)
    const cpuBefore = process.cpuUsage()
    let reply
    try {
      reply = await commands[command.cmd](command)
    } catch (err) {
      reply = { error: String(err && err.stack ? err.stack : err) }
    }
    const cpu = process.cpuUsage(cpuBefore)
    reply.command_cpu_s = Math.round((cpu.user + cpu.system) / 1e4) / 100
    reply.load = os.loadavg().map((v) => Math.round(v * 100) / 100)
    process.stdout.write(JSON.stringify(reply) + '\n')
  })
})
lines.on('close', () => process.exit(0))
