// Hocuspocus as its README starts it: defaults, no extensions (documents in memory only).
// `quiet` only silences the start-up banner.
import { Server } from '@hocuspocus/server'

const server = new Server({
  address: process.env.HOST || '127.0.0.1',
  port: Number(process.env.PORT || 1234),
  quiet: true,
})
await server.listen()
console.log(`hocuspocus listening on ${process.env.PORT}`)
