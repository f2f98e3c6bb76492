/**
 * Kassa under test, in its own process: the whole platform as `src/server.ts` serves it
 * (createKassa, the webhook delivery worker started, Fastify listening), on SQLite in a temporary
 * directory at synchronous=FULL (or on a fresh PostgreSQL schema), logging errors only.
 *
 * Started by `bench/run.ts` with child_process.fork; says `ready` with its port, key and shoppers
 * over IPC, and on `finish` drains, counts, verifies the ledger, reports and exits.
 */
import type { AddressInfo } from 'node:net'
import { seedBenchWorld } from './lib/seed.js'
import {
  countResponses,
  describeDatabase,
  drain,
  failAndExit,
  finishRequested,
  guardProcess,
  eventLoopMonitor,
  inspectDatabase,
  monotonicMicroseconds,
  openBenchKassa,
  sendToRunner,
  serverSettings,
  temporaryDataDirectory,
} from './lib/server-process.js'

async function main(): Promise<void> {
  const settings = serverSettings()
  const dataDirectory = temporaryDataDirectory()
  guardProcess(settings, dataDirectory)
  const { kassa, postgresSchema, dropSchema } = await openBenchKassa(settings, dataDirectory)
  const world = await seedBenchWorld(kassa, settings.shopperCount)
  const database = await describeDatabase(kassa.store.db, settings.engine)
  // As in production (src/server.ts): every commit that records events nudges the worker.
  kassa.deliveryWorker.start()
  await kassa.app.listen({ port: 0, host: '127.0.0.1' })
  const counter = countResponses(kassa.app.server)
  const finish = finishRequested()
  const loadStarted = monotonicMicroseconds()
  const cpuStarted = process.cpuUsage()
  const eventLoop = eventLoopMonitor()
  await sendToRunner({
    type: 'ready',
    port: (kassa.app.server.address() as AddressInfo).port,
    key: world.key,
    shoppers: world.shoppers,
    dataDirectory,
    postgresSchema,
    engine: settings.engine,
    ...database,
  })
  await finish
  const loadEnded = monotonicMicroseconds()
  const cpuUsed = process.cpuUsage(cpuStarted)
  await drain(counter)
  const report = await inspectDatabase(kassa.store.db, counter, kassa.store.writer, [loadStarted, loadEnded], cpuUsed, eventLoop)
  await kassa.close()
  await dropSchema()
  await sendToRunner(report)
  process.exit(0)
}

main().catch(failAndExit)
