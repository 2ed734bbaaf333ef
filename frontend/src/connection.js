// The document's connection to Collab: a y-websocket provider on /ws/documents/<id>, plus what
// Collab adds on top of the plain protocol:
// - durable acknowledgement (SPEC.md): with ?ack=1 the server sends message type 100 carrying the
//   stored state vector after each commit; our edits are saved once it covers our local clock;
// - close codes that mean "stop": 4401 (signed out), 4403 (access revoked), 4404 (deleted) would
//   make the provider reconnect forever, so after them we stop and say why;
// - the browser's own offline/online events, so the page goes offline at once and reconnects as
//   soon as the network is back (edits made meanwhile merge through the sync handshake).
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { ObservableV2 } from 'lib0/observable'
import { WebsocketProvider } from 'y-websocket'

export const MESSAGE_ACK = 100

export const FINAL_CLOSES = {
  4401: 'Your session has expired. Sign in again to keep editing.',
  4403: 'You no longer have access to this document.',
  4404: 'This document has been deleted.',
}

/**
 * Events: 'state' ({ state, saved }) where state is 'connecting' | 'connected' | 'offline';
 * 'stopped' ({ code, message }) after a close that must not be retried.
 */
export class Connection extends ObservableV2 {
  constructor (documentId, ydoc) {
    super()
    this.ydoc = ydoc
    this.ackedVector = new Map()
    this.everConnected = false
    this.stopped = null
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
    this.provider = new WebsocketProvider(
      `${scheme}//${window.location.host}/ws/documents`,
      documentId,
      ydoc,
      // No BroadcastChannel: every tab goes through the server, which checks its role.
      { params: { ack: '1' }, disableBc: true, connect: false },
    )
    this.provider.messageHandlers[MESSAGE_ACK] = (_encoder, decoder) => {
      this.acknowledge(Y.decodeStateVector(decoding.readVarUint8Array(decoder)))
    }
    this.provider.on('status', () => this.report())
    this.provider.on('sync', () => this.report())
    this.provider.on('connection-close', (event) => this.closed(event))
    ydoc.on('update', () => this.report())
    window.addEventListener('offline', () => this.goOffline())
    window.addEventListener('online', () => this.goOnline())
    if (navigator.onLine) this.provider.connect()
    this.report()
  }

  get awareness () {
    return this.provider.awareness
  }

  /** Every local edit is stored once the server's stored clock for our client reaches ours. */
  get saved () {
    const local = Y.getState(this.ydoc.store, this.ydoc.clientID)
    return local === 0 || (this.ackedVector.get(this.ydoc.clientID) || 0) >= local
  }

  get state () {
    if (this.provider.wsconnected) return 'connected'
    return this.everConnected || this.stopped || !navigator.onLine ? 'offline' : 'connecting'
  }

  acknowledge (vector) {
    for (const [client, clock] of vector) {
      this.ackedVector.set(client, Math.max(clock, this.ackedVector.get(client) || 0))
    }
    this.report()
  }

  report () {
    if (this.provider.wsconnected) this.everConnected = true
    const saved = this.provider.wsconnected && this.provider.synced && this.saved
    this.emit('state', [{ state: this.state, saved }])
  }

  closed (event) {
    const message = event && FINAL_CLOSES[event.code]
    if (!message || this.stopped) return
    this.stopped = { code: event.code, message }
    // Set before the provider schedules its reconnect (it checks shouldConnect first); the full
    // disconnect runs after the provider finished handling this close.
    this.provider.shouldConnect = false
    setTimeout(() => this.provider.disconnect(), 0)
    this.emit('stopped', [this.stopped])
    this.report()
  }

  goOffline () {
    if (this.stopped) return
    this.provider.disconnect()
    this.report()
  }

  goOnline () {
    if (this.stopped) return
    this.provider.connect()
    this.report()
  }
}
