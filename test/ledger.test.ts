// The audit ledger: group commit, a chain that continues across restarts, and verification that finds
// every kind of tampering and names the file and sequence number.
import { execFile } from 'node:child_process'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { canonicalJson, canonicalRecord, isoTime } from '../src/audit/chain.js'
import { AuditLedger } from '../src/audit/ledger.js'
import { eventKeys, type AuditEvent, type EventType } from '../src/audit/record.js'
import { verifyLedger } from '../src/audit/verify.js'
import { sampleDecision } from './fixtures/events.js'
import { root, tempDir } from './helpers.js'

const run = promisify(execFile)

const decision = (n: number): AuditEvent => sampleDecision(`decision-${n}`)

async function ledgerWith(records: number): Promise<{ dir: string; file: string }> {
  const dir = tempDir('ledger')
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true })
  await Promise.all(Array.from({ length: records }, (_, n) => ledger.append(decision(n + 1), Date.UTC(2026, 5, 1, 12, 0, 0, n))))
  await ledger.close()
  return { dir, file: join(dir, 'gw-a', 'segment-000001.jsonl') }
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean)
const writeLines = (file: string, content: string[]) => writeFileSync(file, `${content.join('\n')}\n`)

t.test('group commit: concurrent appends share batches, every promise resolves once its record is on disk', async (t) => {
  const dir = tempDir('ledger')
  const batches: number[] = []
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true, observer: { batchWritten: (records) => batches.push(records), writeFailed: () => undefined, recordRefused: () => undefined } })
  await Promise.all(Array.from({ length: 2000 }, (_, n) => ledger.append(decision(n + 1), Date.now())))
  t.equal(batches.reduce((sum, size) => sum + size, 0), 2000, 'every record written')
  t.ok(batches.length < 2000 / 10, `${batches.length} fsyncs for 2000 records`)
  const written = lines(join(dir, 'gw-a', 'segment-000001.jsonl'))
  t.equal(written.length, 2000)
  t.same(written.map((line) => JSON.parse(line).seq), Array.from({ length: 2000 }, (_, n) => n + 1))
  await ledger.close()
  t.same((await verifyLedger(dir)).problem, null)
})

t.test('record times are exactly Date.toISOString, across second, day and year boundaries', async (t) => {
  const times = [0, 999, 1000, 1_763_700_000_000, 1_767_225_599_999, 1_767_225_600_000, 1_767_225_600_001, 253_402_300_799_999, 253_402_300_800_000, -1, 1_763_700_000_123.7]
  let ms = 1_763_700_000_000
  for (let n = 0; n < 5000; n++) times.push((ms += Math.floor(Math.random() * 900)))
  for (let n = 0; n < 200; n++) times.push(Math.floor(Math.random() * 253_402_300_800_000))
  const wrong = times.filter((time) => isoTime(time) !== new Date(time).toISOString())
  t.same(wrong, [])
})

t.test('the compiled record writer gives exactly canonicalJson, for every record type and awkward values', async (t) => {
  const strings = ['', 'plain', 'é ñ 漢字 🚓', 'quote " backslash \\ slash /', 'controls \u0000\u0001\u001f\n\t', 'lone \ud800 surrogate', '\u2028\u2029', '__proto__', '10']
  const numbers = [0, -0, 1, -17, 0.1, 1.5e-7, 1e21, 123456789012345680000, 5e-324, Number.MAX_SAFE_INTEGER]
  let seed = 54
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!
  const value = (depth: number): unknown => {
    const kind = Math.floor(random() * (depth > 2 ? 5 : 7))
    if (kind === 0) return pick(strings)
    if (kind === 1) return pick(numbers)
    if (kind === 2) return pick([null, true, false])
    if (kind === 3) return undefined
    if (kind === 4) return pick(strings) + pick(strings)
    if (kind === 5) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1))
    const object: Record<string, unknown> = {}
    // Keys in a scrambled order, array-index keys and __proto__ among them (those take the slow path).
    for (const key of ['zeta', 'Alpha', 'alpha', 'é', '10', '9', 'a b', '__proto__', ''].filter(() => random() < 0.5)) {
      Object.defineProperty(object, key, { value: value(depth + 1), enumerable: true, configurable: true, writable: true })
    }
    return object
  }
  const mismatches: string[] = []
  let compared = 0
  for (const type of Object.keys(eventKeys) as EventType[]) {
    for (let n = 0; n < 300; n++) {
      const event: Record<string, unknown> = { type }
      for (const key of eventKeys[type]) if (key !== 'type') event[key] = value(0)
      const stamps = { instance: 'gw-a', prev: 'f'.repeat(64), seq: n + 1, time: isoTime(1_763_700_000_000 + n), v: 1 }
      const fast = canonicalRecord(event as unknown as AuditEvent, stamps)
      const reference = canonicalJson({ ...event, ...stamps })
      compared++
      if (fast !== reference) mismatches.push(`${type}: ${fast} !== ${reference}`)
    }
  }
  t.same(mismatches.slice(0, 3), [], `${compared} records compared`)
  t.throws(() => canonicalRecord({ ...sampleDecision('x'), agencyVersion: Number.NaN } as AuditEvent, { instance: 'gw-a', prev: 'f', seq: 1, time: 't', v: 1 }), TypeError, 'NaN has no canonical form')
})

t.test('records are canonical JSON (RFC 8785) and carry the previous record hash', async (t) => {
  const { file } = await ledgerWith(3)
  const [first, second] = lines(file).map((line) => JSON.parse(line))
  t.equal(first.prev, '0'.repeat(64))
  t.match(second.prev, /^[0-9a-f]{64}$/)
  for (const line of lines(file)) t.equal(canonicalJson(JSON.parse(line)), line)
  t.equal(canonicalJson({ b: [1, 'é', null, true], a: { d: 1.5, c: -0 } }), '{"a":{"c":0,"d":1.5},"b":[1,"é",null,true]}')
})

t.test('a ledger written before issue 12 (no justification, requester, immigration or projection members) still verifies beside new records', async (t) => {
  const dir = tempDir('ledger')
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true })
  const { projection: _projection, ...before } = sampleDecision('before-issue-12') as Extract<AuditEvent, { type: 'query.decision' }>
  await ledger.append(before, Date.UTC(2026, 0, 1))
  await ledger.append({ ...sampleDecision('after'), justification: 'why it is needed', onBehalfOf: 'CA0990000', recipient: 'CA0990000', immigration: 'requester' } as AuditEvent, Date.UTC(2026, 0, 1, 0, 0, 1))
  await t.rejects(ledger.append({ ...sampleDecision('bad'), immigration: 'hunch' } as unknown as AuditEvent, Date.UTC(2026, 0, 1, 0, 0, 2)), 'an unknown immigration basis is refused at append')
  await ledger.close()
  const written = lines(join(dir, 'gw-a', 'segment-000001.jsonl')).map((line) => JSON.parse(line))
  t.notOk('projection' in written[0] || 'justification' in written[0], 'the old shape, as old ledgers hold it')
  t.match(written[1], { justification: 'why it is needed', onBehalfOf: 'CA0990000', recipient: 'CA0990000', immigration: 'requester', projection: 'licence.without_address' })
  t.same((await verifyLedger(dir)).problem, null)
})

t.test('a restarted writer continues the chain, cutting a torn last line that was never acknowledged', async (t) => {
  const { dir, file } = await ledgerWith(5)
  appendFileSync(file, '{"v":1,"seq":6,"time":"2026-06-01T12:00:00.000Z","ty')
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true })
  await ledger.append(decision(6), Date.UTC(2026, 5, 1, 12, 0, 1))
  await ledger.close()
  t.same(lines(file).map((line) => JSON.parse(line).seq), [1, 2, 3, 4, 5, 6])
  const report = await verifyLedger(dir)
  t.same(report.problem, null)
  t.match(report.chains, [{ instance: 'gw-a', records: 6, lastSeq: 6 }])
})

t.test('a second process cannot write the same instance chain', async (t) => {
  const dir = tempDir('ledger')
  const first = await AuditLedger.open(dir, 'gw-a')
  const second = await AuditLedger.open(dir, 'gw-a')
  t.equal(second.instance, 'gw-a-2', 'without an explicit id, the next instance directory is taken')
  await t.rejects(AuditLedger.open(dir, 'gw-a', { explicit: true }), /in use by another process/)
  await first.close()
  await second.close()
})

const tampering: [string, (content: string[]) => string[], string, number][] = [
  ['an altered field', (content) => content.map((line, index) => (index === 4 ? line.replace('"outcome":"allow"', '"outcome":"deny"') : line)), 'altered', 6],
  ['an altered field rewritten canonically with its hash left', (content) => content.map((line, index) => (index === 4 ? canonicalJson({ ...JSON.parse(line), sub: 'officer-99' }) : line)), 'altered', 6],
  ['a deleted record', (content) => content.filter((_, index) => index !== 4), 'missing', 5],
  ['two records swapped', (content) => [...content.slice(0, 3), content[4]!, content[3]!, ...content.slice(5)], 'reordered', 4],
  ['a record cut in half', (content) => [...content.slice(0, 7), content[7]!.slice(0, 40)], 'malformed', 8],
  ['a field removed and the line re-canonicalized', (content) => content.map((line, index) => (index === 6 ? canonicalJson({ ...JSON.parse(line), policyRevision: undefined }) : line)), 'malformed', 7],
  ['a line edited by hand', (content) => content.map((line, index) => (index === 2 ? line.replace(/,"prev"/, ', "prev"') : line)), 'altered', 3],
]

for (const [name, tamper, kind, seq] of tampering) {
  t.test(`verify finds ${name}: ${kind} at seq ${seq}`, async (t) => {
    const { dir, file } = await ledgerWith(10)
    writeLines(file, tamper(lines(file)))
    const report = await verifyLedger(dir)
    t.match(report.problem, { file, seq, kind })
  })
}

t.test('a record that does not match its schema is refused before the file, and the writer goes on', async (t) => {
  // Regression: a decision without `source` (its client had hung up) was written, and verify stopped there.
  const dir = tempDir('ledger')
  const refused: number[] = []
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true, observer: { batchWritten: () => undefined, writeFailed: () => undefined, recordRefused: () => refused.push(1) } })
  const { source: _gone, ...sourceless } = decision(2) as Extract<AuditEvent, { type: 'query.decision' }>
  const bad: [string, AuditEvent, number][] = [
    ['no source', sourceless as unknown as AuditEvent, Date.UTC(2026, 5, 1)],
    ['a NaN latency', { type: 'query.outcome', id: 'x', status: 200, code: null, recordCount: 1, latencyMs: Number.NaN }, Date.UTC(2026, 5, 1)],
    ['an unknown type', { ...decision(3), type: 'query.forged' } as unknown as AuditEvent, Date.UTC(2026, 5, 1)],
    ['a time the ledger cannot write', decision(4), Number.NaN],
  ]
  const appended = [ledger.append(decision(1), Date.UTC(2026, 5, 1)), ...bad.map(([, event, time]) => ledger.append(event, time)), ledger.append(decision(5), Date.UTC(2026, 5, 1))]
  const results = await Promise.allSettled(appended)
  t.equal(results[0]!.status, 'fulfilled', 'a record before the bad ones is written')
  bad.forEach(([name], index) => t.match(results[index + 1], { status: 'rejected', reason: { name: 'AuditUnavailableError' } }, `${name}: refused`))
  t.match((results[2] as PromiseRejectedResult).reason.message, /latencyMs/)
  t.equal(results.at(-1)!.status, 'fulfilled', 'a record after them is written')
  t.equal(refused.length, bad.length, 'each refusal is counted')
  await ledger.append(decision(6), Date.UTC(2026, 5, 1))
  await ledger.close()
  t.same(lines(join(dir, 'gw-a', 'segment-000001.jsonl')).map((line) => JSON.parse(line).id), ['decision-1', 'decision-5', 'decision-6'])
  t.same((await verifyLedger(dir)).problem, null)
})

t.test('verify finds a file truncated in the middle of its last line', async (t) => {
  const { dir, file } = await ledgerWith(4)
  const text = readFileSync(file, 'utf8')
  writeFileSync(file, text.slice(0, text.length - 20))
  t.match((await verifyLedger(dir)).problem, { file, seq: 4, kind: 'truncated' })
})

t.test('gatewayctl audit verify: exit 0 when intact; 1 with the file, sequence number and problem otherwise', async (t) => {
  const { dir, file } = await ledgerWith(6)
  const good = await run(process.execPath, ['bin/gatewayctl.js', 'audit', 'verify', dir], { cwd: root })
  t.match(good.stdout, /ledger intact: 6 records/)
  writeLines(file, lines(file).filter((_, index) => index !== 2))
  const bad = await run(process.execPath, ['bin/gatewayctl.js', 'audit', 'verify', dir], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 1)
  t.match(bad?.stderr, `${file}: seq 3: missing: records 3..3 are missing (found 4)`)
})

t.test('gatewayctl audit verify finds no ledger in an empty or instance folder: exit 1, and says so', async (t) => {
  // Regression: these said "ledger intact: 0 records" and exited 0. A missing folder is a mistyped
  // argument: exit 2 (test/cli-commands.test.ts).
  const { dir } = await ledgerWith(3)
  const empty = tempDir('no-ledger')
  const cases: [string, string, RegExp][] = [
    ['an empty folder', empty, /no ledger: no audit ledger here/],
    ['an instance folder', join(dir, 'gw-a'), /no ledger: this is one instance's folder, not the ledger root: verify its parent/],
  ]
  for (const [name, folder, message] of cases) {
    const failed = await run(process.execPath, ['bin/gatewayctl.js', 'audit', 'verify', folder], { cwd: root }).then(
      () => null,
      (error: { code: number; stdout: string; stderr: string }) => error,
    )
    t.equal(failed?.code, 1, `${name}: exit 1`)
    t.match(failed?.stderr, message, `${name}: says why`)
    t.notMatch(failed?.stdout, /intact/, `${name}: never "intact"`)
  }
  const good = await run(process.execPath, ['bin/gatewayctl.js', 'audit', 'verify', dir], { cwd: root })
  t.match(good.stdout, /ledger intact: 3 records/, 'the ledger root itself verifies')
})
