// The audit ledger on its own: durable records per second with canonical serialization, SHA-256
// chaining and group-committed fdatasync, from many concurrent appenders (as a busy gateway has),
// and the CPU each record costs. Part of npm run bench; also `node dist/bench/ledger.js`.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuditLedger } from '../src/audit/ledger.js'
import { sampleDecision } from '../test/fixtures/events.js'
import { randomUUID } from 'node:crypto'

export interface LedgerBench {
  readonly records: number
  readonly recordsPerSecond: number
  readonly cpuMicrosPerRecord: number
  readonly batches: number
}

/** Appends `total` decision records from `writers` concurrent appenders; resolves when all are durable. */
export async function benchLedger(total: number, writers: number): Promise<LedgerBench> {
  const dir = mkdtempSync(join(tmpdir(), 'clets-ledger-bench-'))
  let batches = 0
  const ledger = await AuditLedger.open(dir, 'bench', { observer: { batchWritten: () => batches++, writeFailed: () => undefined, recordRefused: () => undefined } })
  const decision = () => sampleDecision(randomUUID())
  let next = 0
  const started = performance.now()
  const cpu = process.cpuUsage()
  const writer = async () => {
    while (next < total) {
      next++
      await ledger.append(decision(), Date.now())
    }
  }
  await Promise.all(Array.from({ length: writers }, writer))
  const used = process.cpuUsage(cpu)
  const seconds = (performance.now() - started) / 1000
  await ledger.close()
  return { records: total, recordsPerSecond: total / seconds, cpuMicrosPerRecord: (used.user + used.system) / total, batches }
}

if (process.argv[1]?.endsWith('ledger.js')) {
  const result = await benchLedger(Number(process.env.LEDGER_RECORDS ?? 300_000), Number(process.env.LEDGER_WRITERS ?? 4096))
  process.stdout.write(`${JSON.stringify(result)}\n`)
}
