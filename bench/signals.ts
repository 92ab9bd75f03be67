// What the decision stream costs a query (issue 13: the hot path within 5% of its cost without
// signals): the stream's own work for N allowed licence look-ups, each with the record the DMV returns,
// with the shipped signals.yaml and without it (then only the outcome record's keyed hashes are made),
// and the keyed hashes alone. In one process, on the real ledger writer and the in-process signal state;
// CPU microseconds per query (process.cpuUsage), medians of several rounds.
// `node dist/bench/signals.js [queries]`
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { AuditLedger } from '../src/audit/ledger.js'
import { recordIdentifiers, SubjectHasher } from '../src/audit/subjects.js'
import { generatePopulation } from '../src/backends/population.js'
import { createMetrics } from '../src/metrics.js'
import { noSignals } from '../src/policy/signals.js'
import { loadPolicyDir } from '../src/policy-files.js'
import { MemorySignalState } from '../src/signals/state.js'
import { DecisionStream, type DecidedQuery } from '../src/signals/stream.js'

const root = new URL('../..', import.meta.url).pathname
const queries = Number(process.argv[2] ?? 20_000)
const rounds = 5
const policy = await loadPolicyDir(join(root, 'policies'))
const population = generatePopulation(20_000, 7)
const hasher = new SubjectHasher(Buffer.alloc(32, 7))
const officers = Array.from({ length: 500 }, (_, index) => `officer-${index}`)

function decided(index: number, time: number): DecidedQuery {
  const license = population.licenses[index % population.licenses.length]!
  const sub = officers[index % officers.length]!
  return {
    query: { id: `q-${index}`, ori: 'CA0194200', sub, terminal: `T${index % 500}`, source: '127.0.0.1', registered: true, time },
    subject: { licenseNumber: license.licenseNumber },
    self: [],
    outcome: { type: 'query.outcome', id: `q-${index}`, status: 200, code: null, recordCount: 1, latencyMs: 1 },
    records: [license],
  }
}

async function run(signals: boolean): Promise<number> {
  const ledger = await AuditLedger.open(mkdtempSync(join(tmpdir(), 'signals-bench-')), 'bench')
  const stream = new DecisionStream({
    ledger,
    hasher,
    policy: { current: { signals: signals ? policy.signals : noSignals } },
    state: new MemorySignalState(),
    metrics: createMetrics(),
    clock: Date.now,
    log: pino({ level: 'silent' }),
  })
  const started = process.cpuUsage()
  const now = Date.now()
  // In batches of 64, as queries arrive within an event-loop turn under load.
  for (let index = 0; index < queries; index += 64) {
    for (let each = index; each < Math.min(queries, index + 64); each++) stream.decided(decided(each, now))
    await new Promise((resolve) => setImmediate(resolve))
  }
  await stream.close()
  const used = process.cpuUsage(started)
  await ledger.close()
  return (used.user + used.system) / queries
}

function hashesOnly(): number {
  const started = process.cpuUsage()
  for (let index = 0; index < queries; index++) for (const identifier of recordIdentifiers([population.licenses[index % population.licenses.length]!])) hasher.hash(identifier)
  const used = process.cpuUsage(started)
  return (used.user + used.system) / queries
}

const results: Record<string, number[]> = { 'signals off (outcome record + keyed hashes)': [], 'signals on (signals.yaml)': [], 'keyed hashes alone': [] }
for (let round = 0; round <= rounds; round++) {
  const off = await run(false)
  const on = await run(true)
  const hashes = hashesOnly()
  if (round === 0) continue // warm-up
  results['signals off (outcome record + keyed hashes)']!.push(off)
  results['signals on (signals.yaml)']!.push(on)
  results['keyed hashes alone']!.push(hashes)
}
const median = (values: number[]) => values.sort((left, right) => left - right)[values.length >> 1]!
for (const [name, values] of Object.entries(results)) process.stdout.write(`${name}: ${median(values).toFixed(2)} µs CPU per query (rounds ${values.map((value) => value.toFixed(1)).join(', ')})\n`)
