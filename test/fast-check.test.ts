// The ledger's cheaper check of the query path's two records (src/audit/fast-check.ts) must never pass a
// record its zod schema refuses, and must pass the records the query route writes (or it saves nothing).
// Records are mutated one member at a time, in every way a bug upstream could shape them.
import t from 'tap'
import { certainlyValid, checkedMembers } from '../src/audit/fast-check.js'
import { eventKeys, eventSchemas, type AuditEvent, type EventType } from '../src/audit/record.js'
import { AuditLedger } from '../src/audit/ledger.js'
import { ruleIds } from '../src/policy/types.js'
import { sampleDecision } from './fixtures/events.js'
import { tempDir } from './helpers.js'

const zodAccepts = (event: Record<string, unknown>) => (eventSchemas as Record<string, { safeParse(value: unknown): { success: boolean } }>)[event.type as string]?.safeParse(event).success === true

/** The decisions the query route writes: allowed, denied, with and without the optional members (present as undefined). */
function decisions(): Record<string, unknown>[] {
  const base = sampleDecision('0d7c6f7e-2a43-4c1c-9a0e-7f8f3a5e9b10') as unknown as Record<string, unknown>
  return [
    base,
    { ...base, outcome: 'deny', rule: 'ppp.immigration_non_criminal', immigration: 'purpose', projection: undefined, agencyVersion: null, monitored: true },
    { ...base, justification: undefined, onBehalfOf: undefined, recipient: undefined, immigration: undefined },
    { ...base, caseNumber: '24-17', justification: 'Stop on I-5', onBehalfOf: 'CA0194300', recipient: 'CA0194400', terminal: 'T-9' },
    { ...base, subject: Object.assign(Object.create(null) as object, { plate: '7ABC123' }) },
    ...ruleIds.map((rule) => ({ ...base, rule })),
    // Immigration evidence: a minimised answer under review, a denial on evidence, an empty list.
    { ...base, rule: 'review.immigration_evidence', projection: 'licence.without_address', review: '6c1f0b7e-2a43-4c1c-9a0e-7f8f3a5e9b11', evidence: [{ kind: 'statute_mentioned', field: 'justification', text: '8 USC 1326' }, { kind: 'terms', field: 'justification', text: 'ICE' }] },
    { ...base, outcome: 'deny', rule: 'ppp.immigration_non_criminal', immigration: 'requester', projection: undefined, evidence: [{ kind: 'authority', field: 'onBehalfOf', text: 'CADHS0100' }], review: undefined },
    { ...base, evidence: [] },
  ]
}

function outcomes(): Record<string, unknown>[] {
  const base = { type: 'query.outcome', id: '0d7c6f7e-2a43-4c1c-9a0e-7f8f3a5e9b10', status: 200, code: null, recordCount: 1, latencyMs: 3 }
  return [base, { ...base, subjects: ['a', 'b'] }, { ...base, subjects: [] }, { ...base, status: 502, code: 'upstream_unavailable', recordCount: 0, subjects: undefined }]
}

/** Values of every kind a member could wrongly hold. */
const oddValues: unknown[] = [
  undefined, null, '', 'x', 'allow', 'ppp.permitted', 'non_criminal_history', 'purpose', 0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY,
  2 ** 53, -(2 ** 53), 1e21, true, false, [], ['x'], [1], {}, { a: 'b' }, { a: 1 }, new Date(0), Symbol('s'), 10n, () => 'x',
  Object.create({ inherited: 'x' }) as object, Object.assign(Object.create(null) as object, { a: 2 }), new String('x'), [undefined], Array(2),
]

/** A value as a failure message shows it: JSON where it can be, its type where it cannot. */
function describe(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'bigint' ? `${inner}n` : inner)) ?? typeof value
  } catch {
    return typeof value
  }
}

function mutations(valid: Record<string, unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const key of [...Object.keys(valid), 'extra', '__proto__', 'constructor', 'toString']) {
    for (const value of oddValues) out.push({ ...valid, [key]: value })
    const without = { ...valid }
    delete without[key]
    out.push(without)
  }
  // Members given a getter, a symbol key, a subject with a symbol or an inherited key, an array as the record.
  out.push(Object.defineProperty({ ...valid }, 'id', { get: () => 7, enumerable: true }))
  out.push({ ...valid, [Symbol('s')]: 'x' })
  out.push({ ...valid, subject: Object.assign(Object.create({ polluted: 1 }) as object, { licenseNumber: 'A1' }) })
  const symbolSubject: Record<string | symbol, unknown> = { licenseNumber: 'A1' }
  symbolSubject[Symbol('s')] = 'x'
  out.push({ ...valid, subject: symbolSubject })
  out.push({ ...valid, subjects: ['a', 2] }, { ...valid, subjects: 'a' })
  // Evidence items shaped every way a bug could shape them.
  const item = { kind: 'terms', field: 'justification', text: 'ICE' }
  for (const value of oddValues) {
    out.push({ ...valid, evidence: [value] })
    for (const key of ['kind', 'field', 'text', 'extra', '__proto__']) out.push({ ...valid, evidence: [{ ...item, [key]: value }] })
  }
  out.push({ ...valid, evidence: [Object.assign(Object.create({ extra: 1 }) as object, item)] }, { ...valid, evidence: [{ ...item, [Symbol('s')]: 'x' }] }, { ...valid, evidence: [item, 'x'] })
  out.push(Object.assign(Object.create({ type: valid.type }) as object, valid))
  for (const type of ['query.decision', 'query.outcome', 'constructor', '__proto__', 'toString', 'query.rejected']) out.push({ ...valid, type })
  return out
}

t.test('each cheaper check knows exactly its schema\'s members', async (t) => {
  for (const [type, members] of Object.entries(checkedMembers)) t.same([...members!].sort(), [...eventKeys[type as EventType]].sort(), type)
})

t.test('every record the query route writes passes without zod (so zod is not run on the query path)', async (t) => {
  for (const event of [...decisions(), ...outcomes()]) {
    t.ok(zodAccepts(event), `zod accepts ${JSON.stringify(event)}`)
    t.ok(certainlyValid(event as unknown as AuditEvent), `certainlyValid ${JSON.stringify(event)}`)
  }
})

t.test('a mutated record passes only if zod accepts it too', async (t) => {
  let mutated = 0
  let passed = 0
  let disagreements: string[] = []
  for (const valid of [...decisions(), ...outcomes()]) {
    for (const event of mutations(valid)) {
      mutated++
      if (!certainlyValid(event as unknown as AuditEvent)) continue
      passed++
      if (!zodAccepts(event)) disagreements.push(Object.entries(event).map(([key, value]) => `${key}=${describe(value)}`).join(' '))
    }
  }
  disagreements = disagreements.slice(0, 5)
  t.same(disagreements, [], 'no record passes that zod refuses')
  t.ok(mutated > 3000, `${mutated} mutated records`)
  // Some mutations are still valid records (an optional member left out, a string for a string): those pass.
  t.ok(passed > 0 && passed < mutated / 4, `${passed} of them still valid and passed`)
})

t.test('the ledger still refuses, with zod\'s message, what the cheaper check does not pass', async (t) => {
  const dir = tempDir('fast-check')
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true })
  t.teardown(() => ledger.close())
  const base = sampleDecision('d-1') as unknown as Record<string, unknown>
  await t.rejects(ledger.append({ ...base, agencyVersion: 1.5 } as unknown as AuditEvent, Date.now()), /agencyVersion/)
  await t.rejects(ledger.append({ ...base, extra: 'x' } as unknown as AuditEvent, Date.now()), /extra|Unrecognized/i)
  await t.rejects(ledger.append({ type: 'query.outcome', id: 'o', status: 200, code: null, recordCount: 1, latencyMs: Number.NaN } as unknown as AuditEvent, Date.now()), /latencyMs/)
  await ledger.append(base as unknown as AuditEvent, Date.now())
})

t.test('two-person control records (change.*) are judged by zod: valid ones are appended, malformed ones refused', async (t) => {
  const dir = tempDir('fast-check')
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true })
  t.teardown(() => ledger.close())
  const operator = { operator: 'doj-operator-1', operatorOri: 'CA0349400', source: '127.0.0.1' }
  const proposed = { type: 'change.proposed', id: 'c-1', ...operator, action: 'sanction.lift', ori: 'CA0990000', reason: 'remedied', sanction: { type: 'removal', scope: 'all', reason: 'misuse', since: '2026-06-01T12:00:00.000Z' }, expiresAt: '2026-06-02T12:00:00.000Z' }
  const approved = { type: 'change.approved', id: 'a-1', change: 'c-1', action: 'officer.sanction.lift', ori: 'CA0990000', sub: 'officer-9', ...operator, operator: 'doj-operator-2', reason: 'checked' }
  const cancelled = { ...approved, type: 'change.cancelled', id: 'x-1', sub: undefined }
  for (const event of [proposed, approved, cancelled]) {
    t.notOk(certainlyValid(event as unknown as AuditEvent), `${event.type} is not passed without zod`)
    t.ok(zodAccepts(event), `zod accepts ${event.type}`)
    await ledger.append(event as unknown as AuditEvent, Date.now())
  }
  await t.rejects(ledger.append({ ...approved, action: 'agency.register' } as unknown as AuditEvent, Date.now()), /action/)
  await t.rejects(ledger.append({ ...proposed, sanction: null } as unknown as AuditEvent, Date.now()), /sanction/)
  await t.rejects(ledger.append({ ...cancelled, change: undefined } as unknown as AuditEvent, Date.now()), /change/)
})

t.test('a record type without a cheaper check (operator.refused) is judged by zod alone', async (t) => {
  const dir = tempDir('fast-check-refused')
  const ledger = await AuditLedger.open(dir, 'gw-a', { explicit: true })
  t.teardown(() => ledger.close())
  const refused = { type: 'operator.refused', id: 'r-1', operator: 'sheriff-admin-1', operatorOri: 'CA0990000', source: '127.0.0.1', method: 'DELETE', route: '/v1/agencies/:ori/sanction', role: 'doj_operator', code: 'role_forbidden' }
  t.notOk(certainlyValid(refused as unknown as AuditEvent), 'never passed without zod')
  t.ok(zodAccepts(refused) && zodAccepts({ ...refused, code: 'own_agency_forbidden', ori: 'CA0990000' }))
  await ledger.append(refused as unknown as AuditEvent, Date.now())
  await t.rejects(ledger.append({ ...refused, code: 'agency_conflict' } as unknown as AuditEvent, Date.now()), /code/)
  await t.rejects(ledger.append({ ...refused, reason: 'x' } as unknown as AuditEvent, Date.now()), /reason|Unrecognized/i)
})
