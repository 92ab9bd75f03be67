// One contract, two stores: the embedded store and the Redis store pass the same suite, against a
// real redis-server started by the test.
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import type { AgencyState } from '../src/policy/types.js'
import { MemoryStateStore } from '../src/state/memory.js'
import { RedisStateStore } from '../src/state/redis.js'
import { officerKey, type AgencyChange, type OfficerChange, type StateStore } from '../src/state/types.js'
import { maxReviewDecisions, proposalRetentionMs, requestRetentionMs, type ProposedChange, type ReviewItem, type WrittenRequest } from '../src/state/types.js'
import { tempDir, TestClock } from './helpers.js'
import { startRedis } from './redis.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

const limits = { perUser: { limit: 3, windowSeconds: 60 }, perAgency: { limit: 5, windowSeconds: 60 } }
const audited: AgencyChange[] = []
const audit = async (change: AgencyChange) => {
  audited.push(change)
}
const signed = { version: 'PPP-2019-02', signedAt: '2019-06-01T00:00:00.000Z' }

type Make = (clock: TestClock) => Promise<StateStore>
let database = 0
const stores: [string, Make][] = [
  ['embedded', (clock) => MemoryStateStore.open(tempDir('contract'), clock.now)],
  [
    'redis',
    async (clock) => {
      // Each test gets its own Redis database, so the stores start empty.
      const store = await RedisStateStore.open({ url: `${redis.url}/${database++ % 16}`, timeoutMs: 500, clock: clock.now })
      return store
    },
  ],
]

for (const [name, make] of stores) {
  t.test(`${name} store`, async (t) => {
    t.test('registers, reads and lists agencies; every change bumps the version', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      t.equal(await store.get('CA0990300'), null)
      const created = await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      t.match(created, { action: 'agency.register', before: null, after: { ori: 'CA0990300', name: 'Harbor City PD (fictional)', agreement: null, sanction: null, version: 1 } })
      const agreement = await store.recordAgreement('CA0990300', signed, clock.value, audit)
      t.match(agreement, { action: 'agreement.record', before: { version: 1 }, after: { agreement: signed, version: 2 } })
      const suspended = await store.impose('CA0990300', { type: 'suspension', scope: 'all', reason: 'r', since: '2026-06-01T12:00:00.000Z' }, clock.value, audit)
      t.equal(suspended.after.version, 3)
      await store.register('CA0990100', { name: 'Bayview PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      t.same((await store.list()).map((agency) => agency.ori), ['CA0990100', 'CA0990300'])
      t.match(await store.get('CA0990300'), { sanction: { type: 'suspension' }, version: 3 })
      const reinstated = await store.reinstate('CA0990300', clock.value, audit)
      t.equal(reinstated.after.sanction, null)
      const revoked = await store.revokeAgreement('CA0990300', clock.value, audit)
      t.match(revoked, { action: 'agreement.revoke', after: { agreement: null, version: 5 } })
      const updated = await store.register('CA0990300', { name: 'Los Angeles PD', kind: 'local', monitored: true }, clock.value, audit)
      t.match(updated, { action: 'agency.update', after: { name: 'Los Angeles PD', monitored: true, version: 6 } })
    })

    t.test('keeps the organisation through every change, in get, list and admit; an update without one clears it', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      const created = await store.register('CA0HSI100', { name: 'ICE HSI office (test)', kind: 'federal', organisation: 'DHS/ICE/HSI', monitored: true }, clock.value, audit)
      t.match(created, { before: null, after: { organisation: 'DHS/ICE/HSI', version: 1 } })
      await store.recordAgreement('CA0HSI100', signed, clock.value, audit)
      await store.impose('CA0HSI100', { type: 'censure', scope: 'all', reason: 'r', since: '2026-06-01T12:00:00.000Z' }, clock.value, audit)
      t.match(await store.get('CA0HSI100'), { organisation: 'DHS/ICE/HSI', version: 3 })
      t.match(await store.list(), [{ organisation: 'DHS/ICE/HSI' }])
      t.match((await store.admit('CA0HSI100', 'user:CA0HSI100:a', limits, clock.value)).agency, { organisation: 'DHS/ICE/HSI' })
      const cleared = await store.register('CA0HSI100', { name: 'ICE HSI office (test)', kind: 'federal', organisation: null, monitored: true }, clock.value, audit)
      t.match(cleared, { before: { organisation: 'DHS/ICE/HSI' }, after: { organisation: null } })
      t.equal((await store.admit('CA0HSI100', 'user:CA0HSI100:a', limits, clock.value)).agency?.organisation, null)
      const plain = await store.register('CA0194200', { name: 'LAPD', kind: 'local', monitored: false }, clock.value, audit)
      t.equal(plain.after.organisation, null, 'a registration that names none has none')
    })

    t.test('a change whose audit fails is not made; a change to an unregistered agency is refused', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      await t.rejects(store.impose('CA0990300', { type: 'removal', scope: 'all', reason: 'r', since: 'x' }, clock.value, async () => {
        throw new Error('ledger full')
      }), /ledger full/)
      t.match(await store.get('CA0990300'), { sanction: null, version: 1 })
      await t.rejects(store.recordAgreement('CA9999999', signed, clock.value, audit), { name: 'AgencyNotFoundError' })
    })

    t.test('a registry is created once: in a store that never held one, and never again', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      t.equal(await store.holdsRegistry(), false, 'a new store holds none')
      t.equal(await store.initialize(), true, 'so it is created')
      t.equal(await store.holdsRegistry(), true)
      t.equal(await store.ready(), 'ok')
      t.equal(await store.initialize(), false, 'a second time changes nothing')
      t.same(await store.list(), [], 'an empty registry')
      const other = await make(clock)
      t.teardown(() => other.close())
      await other.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      t.equal(await other.holdsRegistry(), true, 'a store that holds an agency holds a registry')
      t.equal(await other.initialize(), false)
    })

    t.test('admit: the agency as it is now, and GCRA limits per officer and per agency', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      const first = await store.admit('CA0990300', 'user:CA0990300:a', limits, clock.value)
      t.match(first, { agency: { ori: 'CA0990300', version: 1 }, rate: { limited: null, userRemaining: 2, agencyRemaining: 4 }, now: clock.value })
      await store.recordAgreement('CA0990300', signed, clock.value, audit)
      t.match((await store.admit('CA0990300', 'user:CA0990300:a', limits, clock.value)).agency, { agreement: signed, version: 2 }, 'a change shows at once')
      t.equal((await store.admit('CA0990300', 'user:CA0990300:a', limits, clock.value)).rate.limited, null)
      const over = await store.admit('CA0990300', 'user:CA0990300:a', limits, clock.value)
      t.match(over.rate, { limited: 'rate.user', retryAfterSeconds: 20, userRemaining: 0 })
      t.equal((await store.admit('CA0990300', 'user:CA0990300:b', limits, clock.value)).rate.limited, null, 'another officer: 4th of the agency 5')
      t.equal((await store.admit('CA0990300', 'user:CA0990300:c', limits, clock.value)).rate.limited, null, '5th')
      t.match((await store.admit('CA0990300', 'user:CA0990300:d', limits, clock.value)).rate, { limited: 'rate.agency', retryAfterSeconds: 12 })
      clock.advance(20_000)
      t.equal((await store.admit('CA0990300', 'user:CA0990300:a', limits, clock.value)).rate.limited, null, 'the window slid')
      t.equal((await store.admit('CA9999999', 'user:CA9999999:a', limits, clock.value)).agency, null, 'an unregistered ORI')
      // Refused as agency.unknown whatever its rate: its admits keep no arrival time (no Redis key), so a
      // flood of them is never throttled, and never leaves state behind.
      const unknown = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => store.admit('CA9999999', 'user:CA9999999:a', limits, clock.value)))
      t.same(unknown.map((admission) => admission.rate.limited), [null, null, null, null, null, null, null], 'an unregistered ORI is never counted against a rate')
    })

    t.test('admits of one moment are decided one after another: the limits hold inside a burst', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      // Issued together (the Redis store sends them in one script call): officer a 3 allowed of 6, the
      // agency 5 of everything, in the order sent.
      const burst = await Promise.all(['a', 'a', 'a', 'a', 'b', 'b', 'c', 'a'].map((officer) => store.admit('CA0990300', `user:CA0990300:${officer}`, limits, clock.value)))
      t.same(burst.map((admission) => admission.rate.limited), [null, null, null, 'rate.user', null, null, 'rate.agency', 'rate.user'])
      t.same(burst.map((admission) => admission.rate.userRemaining), [2, 1, 0, 0, 2, 1, 2, 0], 'c was within its own limit')
      t.same(burst.map((admission) => admission.agency?.version), [1, 1, 1, 1, 1, 1, 1, 1])
      // A policy reload between two queries of one turn: each is judged by the limits it came with.
      const strict = { ...limits, perUser: { limit: 1, windowSeconds: 60 } }
      clock.advance(60_000)
      const mixed = await Promise.all([store.admit('CA0990300', 'user:CA0990300:x', limits, clock.value), store.admit('CA0990300', 'user:CA0990300:x', strict, clock.value), store.admit('CA0990300', 'user:CA0990300:y', limits, clock.value)])
      t.same(mixed.map((admission) => [admission.rate.limited, admission.rate.userRemaining]), [[null, 2], ['rate.user', 0], [null, 2]])
    })

    t.test("officer sanctions (issue 12): audited first, seen by the officer's next admit, lifted; only for a registered agency", async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      const officerAudits: OfficerChange[] = []
      const auditOfficer = async (change: OfficerChange) => {
        officerAudits.push(change)
      }
      const suspension = { type: 'suspension' as const, scope: 'non_criminal_history' as const, reason: 'suspected misuse', since: '2026-06-01T12:00:00.000Z' }
      await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      await store.register('CA0990100', { name: 'Bayview PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      t.equal((await store.admit('CA0990300', officerKey('CA0990300', 'a'), limits, clock.value)).officer, null, 'an officer never sanctioned')
      t.equal(await store.getOfficer('CA0990300', 'a'), null)

      await t.rejects(store.sanctionOfficer('CA9999999', 'a', suspension, clock.value, auditOfficer), { name: 'AgencyNotFoundError' }, 'an unregistered ORI (a typo) is refused')
      await t.rejects(store.sanctionOfficer('CA0990300', 'a', suspension, clock.value, async () => {
        throw new Error('ledger full')
      }), /ledger full/)
      t.same(officerAudits, [], 'neither refused change reached the audit')
      t.equal((await store.admit('CA0990300', officerKey('CA0990300', 'a'), limits, clock.value)).officer, null, 'a change whose audit failed is not made')

      const imposed = await store.sanctionOfficer('CA0990300', 'a', suspension, clock.value, auditOfficer)
      t.same(imposed, { action: 'officer.sanction.impose', ori: 'CA0990300', sub: 'a', before: null, after: { ori: 'CA0990300', sub: 'a', sanction: suspension, version: 1 } })
      t.same(officerAudits, [imposed], 'audited with its before and after')
      t.same((await store.admit('CA0990300', officerKey('CA0990300', 'a'), limits, clock.value)).officer, suspension, "the officer's next admit carries it")
      t.equal((await store.admit('CA0990300', officerKey('CA0990300', 'b'), limits, clock.value)).officer, null, 'another officer of the agency is not sanctioned')
      t.equal((await store.admit('CA0990100', officerKey('CA0990100', 'a'), limits, clock.value)).officer, null, 'nor the same user id at another agency')
      const burst = await Promise.all(['a', 'b', 'a'].map((sub) => store.admit('CA0990300', officerKey('CA0990300', sub), limits, clock.value)))
      t.same(burst.map((admission) => admission.officer?.type ?? null), ['suspension', null, 'suspension'], 'admits of one moment each get their own officer')

      const removal = { type: 'removal' as const, scope: 'all' as const, reason: 'stalking (invented example)', since: '2026-06-01T12:00:00.000Z' }
      const replaced = await store.sanctionOfficer('CA0990300', 'a', removal, clock.value, auditOfficer)
      t.match(replaced, { before: { sanction: suspension, version: 1 }, after: { sanction: removal, version: 2 } }, 'a new sanction replaces the old')
      await store.sanctionOfficer('CA0990100', 'z', suspension, clock.value, auditOfficer)
      await store.sanctionOfficer('CA0990300', 'b/1:x', suspension, clock.value, auditOfficer)
      t.same((await store.listOfficers(undefined)).map((officer) => [officer.ori, officer.sub]), [['CA0990100', 'z'], ['CA0990300', 'a'], ['CA0990300', 'b/1:x']], 'listed by ORI, then user id')
      t.same((await store.listOfficers('CA0990300')).map((officer) => officer.sub), ['a', 'b/1:x'])
      t.same(await store.listOfficers('CA0990000'), [])

      const lifted = await store.reinstateOfficer('CA0990300', 'a', clock.value, auditOfficer)
      t.match(lifted, { action: 'officer.sanction.lift', before: { sanction: removal }, after: { sanction: null, version: 3 } })
      t.equal((await store.admit('CA0990300', officerKey('CA0990300', 'a'), limits, clock.value)).officer, null, 'reinstated: the next admit carries none')
      t.match(await store.getOfficer('CA0990300', 'a'), { sanction: null, version: 3 }, 'the history keeps counting')
      const never = await store.reinstateOfficer('CA0990300', 'c', clock.value, auditOfficer)
      t.match(never, { before: null, after: { sanction: null, version: 1 } }, 'reinstating an officer never sanctioned is an audited change all the same')
      t.equal(officerAudits.length, 6)
    })

    t.test("concurrent changes to one officer's sanction: each applies on the other's state, or is a conflict", async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      const sanction = (reason: string) => ({ type: 'suspension' as const, scope: 'all' as const, reason, since: '2026-06-01T12:00:00.000Z' })
      const results = await Promise.allSettled([
        store.sanctionOfficer('CA0990300', 'a', sanction('first'), clock.value, async () => undefined),
        store.sanctionOfficer('CA0990300', 'a', sanction('second'), clock.value, async () => undefined),
      ])
      const applied = results.filter((result) => result.status === 'fulfilled').length
      t.ok(applied >= 1)
      t.equal((await store.getOfficer('CA0990300', 'a'))?.version, applied, 'the version counts exactly the changes that applied')
      for (const result of results) {
        if (result.status === 'rejected') t.match(result.reason, { name: 'OfficerConflictError' }, 'a lost race is a conflict, never a silent overwrite')
      }
    })

    t.test('concurrent changes to one agency all apply, each on the state the other left', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
      const results = await Promise.allSettled([
        store.recordAgreement('CA0990300', signed, clock.value, audit),
        store.impose('CA0990300', { type: 'censure', scope: 'all', reason: 'r', since: 'x' }, clock.value, audit),
      ])
      const applied = results.filter((result) => result.status === 'fulfilled').length
      const final = (await store.get('CA0990300')) as AgencyState
      t.equal(final.version, 1 + applied, 'the version counts exactly the changes that applied')
      for (const result of results) {
        if (result.status === 'rejected') t.match(result.reason, { name: 'AgencyConflictError' }, 'a lost race is a conflict, never a silent overwrite')
      }
      if (applied === 2) t.match(final, { agreement: signed, sanction: { type: 'censure' } })
    })
  })
}

/** A Redis database of its own, emptied, a raw client on it, and a test clock; closed at the test's end. */
async function emptyRedis(t: Test, database: number): Promise<{ raw: Redis; clock: TestClock; open: () => Promise<RedisStateStore> }> {
  const url = `${redis.url}/${database}`
  const raw = new Redis(url)
  t.teardown(() => raw.quit())
  await raw.flushdb()
  const clock = new TestClock()
  const open = async () => {
    const store = await RedisStateStore.open({ url, timeoutMs: 500, clock: clock.now })
    t.teardown(() => store.close())
    return store
  }
  return { raw, clock, open }
}

// Agencies kept before they had an organisation: each store reads them with none (null).
const legacy = { ori: 'CA0990900', name: 'Old registration (test)', kind: 'local', agreement: signed, sanction: null, monitored: false, version: 2 }

t.test('embedded store: a journal line without an organisation reads as none', async (t) => {
  const clock = new TestClock()
  const dir = tempDir('contract-legacy')
  appendFileSync(join(dir, 'agencies.jsonl'), `${JSON.stringify({ at: '2025-01-01T00:00:00.000Z', action: 'agreement.record', state: legacy })}\n`)
  const store = await MemoryStateStore.open(dir, clock.now)
  t.teardown(() => store.close())
  t.same(await store.get(legacy.ori), { ...legacy, organisation: null })
  t.equal((await store.admit(legacy.ori, 'user:CA0990900:a', limits, clock.value)).agency?.organisation, null)
  const change = await store.impose(legacy.ori, { type: 'censure', scope: 'all', reason: 'r', since: '2026-06-01T12:00:00.000Z' }, clock.value, audit)
  t.equal(change.before?.organisation, null, 'the audited before has it too')
})

t.test('redis store: a state without an organisation reads as none', async (t) => {
  const clock = new TestClock()
  const url = `${redis.url}/${database++ % 16}`
  const raw = new Redis(url)
  t.teardown(() => raw.quit())
  await raw.flushdb()
  await raw.hset(`clets:agency:${legacy.ori}`, 'version', String(legacy.version), 'state', JSON.stringify(legacy))
  await raw.sadd('clets:agencies', legacy.ori)
  await raw.set('clets:initialized', '1')
  const store = await RedisStateStore.open({ url, timeoutMs: 500, clock: clock.now })
  t.teardown(() => store.close())
  t.same(await store.get(legacy.ori), { ...legacy, organisation: null })
  t.match(await store.list(), [{ ori: legacy.ori, organisation: null }])
  t.equal((await store.admit(legacy.ori, 'user:CA0990900:a', limits, clock.value)).agency?.organisation, null)
  const change = await store.impose(legacy.ori, { type: 'censure', scope: 'all', reason: 'r', since: '2026-06-01T12:00:00.000Z' }, clock.value, audit)
  t.equal(change.before?.organisation, null, 'the audited before has it too')
})

t.test('redis store: rate times are stored exactly, and the rate hash expires a window after its last write', async (t) => {
  const { raw, clock, open } = await emptyRedis(t, 15)
  const store = await open()
  await store.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
  // 7 a minute: an interval of 8571.428571428572 ms, which no fixed number of decimals holds.
  const odd = { perUser: { limit: 7, windowSeconds: 60 }, perAgency: { limit: 1000, windowSeconds: 30 } }
  const burst = await Promise.all([1, 2, 3].map(() => store.admit('CA0990300', 'user:CA0990300:a', odd, clock.value)))
  t.same(burst.map((admission) => admission.rate.userRemaining), [6, 5, 4])
  const interval = 60_000 / 7
  t.equal(Number(await raw.hget('clets:rate:CA0990300', 'user:CA0990300:a')), clock.value + interval + interval + interval, 'the officer time, to the last bit')
  t.equal(Number(await raw.hget('clets:rate:CA0990300', 'agency')), clock.value + 30 + 30 + 30, 'the agency time')
  const ttl = await raw.pttl('clets:rate:CA0990300')
  t.ok(ttl > 55_000 && ttl <= 60_000, `expires after the longer window (${ttl} ms left)`)
  // Read back exactly: the next admit in a later call continues from the stored time.
  clock.advance(1)
  t.equal((await store.admit('CA0990300', 'user:CA0990300:a', odd, clock.value)).rate.userRemaining, 3)
})

// Issue 12, point 5: written requests, kept by both stores and replaced only by compare-and-set.
/** A pending request as POST /v1/requests stores it (the subject is invented). */
const filed = (id: string, ori: string, filedAt: number): WrittenRequest => ({
  id,
  ori,
  sub: 'officer-1',
  terminal: null,
  database: 'criminal_history',
  purpose: 'criminal_investigation',
  subject: { lastName: 'EXAMPLE', firstName: 'PAT', dateOfBirth: '1980-01-01' },
  caseNumber: '24-1',
  justification: 'a burglary series',
  requester: { name: 'Det. Example' },
  status: 'pending',
  filedAt: new Date(filedAt).toISOString(),
  decidedAt: null,
  decidedBy: null,
  decisionReason: null,
  approvalExpiresAt: null,
  claimedUntil: null,
  executedAt: null,
  version: 1,
})

for (const [name, make] of stores) {
  t.test(`${name} store: written requests`, async (t) => {
    t.test('saved by compare-and-set on the version, listed newest first and per agency, pending ones counted', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      const first = filed('req-1', 'CA0990300', clock.value)
      t.equal(await store.saveRequest(first, 0, clock.value), true, 'a new request is stored')
      t.equal(await store.saveRequest({ ...first, justification: 'other' }, 0, clock.value), false, 'an id is stored once')
      await store.saveRequest(filed('req-2', 'CA0990300', clock.value + 1000), 0, clock.value)
      await store.saveRequest(filed('req-3', 'CA0990000', clock.value + 2000), 0, clock.value)
      t.same((await store.listRequests(null)).map((request) => request.id), ['req-3', 'req-2', 'req-1'])
      t.same((await store.listRequests('CA0990300')).map((request) => request.id), ['req-2', 'req-1'])
      t.same(await store.listRequests('CA0990100'), [])
      t.equal(await store.pendingRequests('CA0990300'), 2)

      const approved: WrittenRequest = { ...first, status: 'approved', decidedAt: new Date(clock.value).toISOString(), decidedBy: 'op', decisionReason: 'ok', approvalExpiresAt: new Date(clock.value + 7 * 86_400_000).toISOString(), version: 2 }
      t.equal(await store.saveRequest(approved, 1, clock.value), true, 'a transition from the version read')
      t.equal(await store.saveRequest({ ...first, status: 'refused', version: 2 }, 1, clock.value), false, 'a second transition from the same version is refused')
      t.same(await store.getRequest('req-1'), approved, 'the request as the winning transition left it')
      t.equal(await store.pendingRequests('CA0990300'), 1, 'an approved request is no longer pending')
      t.equal(await store.getRequest('req-9'), null)

      const race = await Promise.all([
        store.saveRequest({ ...approved, status: 'delivered', version: 3 }, 2, clock.value),
        store.saveRequest({ ...approved, status: 'denied', version: 3 }, 2, clock.value),
      ])
      t.same(race.filter(Boolean).length, 1, 'of two concurrent transitions exactly one applies')
      t.equal((await store.getRequest('req-1'))?.version, 3)
    })
  })
}

t.test('embedded store: requests survive a restart; finished ones past their retention are dropped and the journal compacted', async (t) => {
  const dir = tempDir('requests')
  const clock = new TestClock()
  let store = await MemoryStateStore.open(dir, clock.now)
  const pending = filed('req-p', 'CA0990300', clock.value)
  const refused = filed('req-r', 'CA0990300', clock.value)
  await store.saveRequest(pending, 0, clock.value)
  await store.saveRequest(refused, 0, clock.value)
  await store.saveRequest({ ...refused, status: 'refused', version: 2 }, 1, clock.value)
  await store.close()
  const journal = join(dir, 'requests.jsonl')
  t.equal(readFileSync(journal, 'utf8').split('\n').length - 1, 3, 'one line per transition')

  store = await MemoryStateStore.open(dir, clock.now)
  t.same((await store.listRequests(null)).map((request) => [request.id, request.status]), [['req-r', 'refused'], ['req-p', 'pending']], 'both back after a restart')
  t.equal(await store.pendingRequests('CA0990300'), 1)
  clock.advance(requestRetentionMs)
  t.equal(await store.getRequest('req-r'), null, 'a refused request is gone after its retention')
  t.match(await store.getRequest('req-p'), { status: 'pending' }, 'a pending one stays')
  await store.close()

  store = await MemoryStateStore.open(dir, clock.now)
  t.teardown(() => store.close())
  t.same((await store.listRequests(null)).map((request) => request.id), ['req-p'])
  t.same(readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line).request.id), ['req-p'], 'the journal was rewritten with the live request only')
  // A torn last line (a crash mid-write, never acknowledged) is cut off, not read.
  appendFileSync(journal, '{"request":{"id":"req-t"')
  const again = await MemoryStateStore.open(dir, clock.now)
  t.teardown(() => again.close())
  t.same((await again.listRequests(null)).map((request) => request.id), ['req-p'])
})

t.test('redis store: a finished request expires after its retention, a pending one never; a listing drops the ids of expired ones', async (t) => {
  const { raw, clock, open } = await emptyRedis(t, 14)
  const store = await open()
  const pending = filed('req-p', 'CA0990300', clock.value)
  const refused = filed('req-r', 'CA0990300', clock.value + 1)
  await store.saveRequest(pending, 0, clock.value)
  await store.saveRequest(refused, 0, clock.value)
  t.equal(await raw.pttl('clets:request:req-p'), -1, 'pending: no expiry')
  await store.saveRequest({ ...refused, status: 'refused', version: 2 }, 1, clock.value)
  const ttl = await raw.pttl('clets:request:req-r')
  t.ok(ttl > requestRetentionMs - 60_000 && ttl <= requestRetentionMs, `refused: kept ${requestRetentionMs} ms (${ttl} left)`)
  // What Redis does when the expiry comes:
  await raw.del('clets:request:req-r')
  t.same((await store.listRequests('CA0990300')).map((request) => request.id), ['req-p'])
  t.same(await raw.zrange('clets:requests:CA0990300', 0, -1), ['req-p'], 'the expired id left the index')
})

t.test('redis store: an officer sanctioned through one instance binds the next admit on another, which had read the officer before', async (t) => {
  const { raw, clock, open } = await emptyRedis(t, 14)
  const a = await open()
  const b = await open()
  await a.register('CA0990300', { name: 'Harbor City PD (fictional)', kind: 'local', monitored: false }, clock.value, audit)
  const removal = { type: 'removal' as const, scope: 'all' as const, reason: 'r', since: '2026-06-01T12:00:00.000Z' }
  t.equal((await b.admit('CA0990300', officerKey('CA0990300', 'a'), limits, clock.value)).officer, null)
  await a.sanctionOfficer('CA0990300', 'a', removal, clock.value, async () => undefined)
  t.same((await b.admit('CA0990300', officerKey('CA0990300', 'a'), limits, clock.value)).officer, removal, 'B, with no message needed')
  await b.reinstateOfficer('CA0990300', 'a', clock.value, async () => undefined)
  t.equal((await a.admit('CA0990300', officerKey('CA0990300', 'a'), limits, clock.value)).officer, null, 'and back')
  t.same(Object.keys(await raw.hgetall('clets:officers')), ['user:CA0990300:a'], 'one hash, a field per officer')
})

// Two-person control: proposed changes, kept by both stores and replaced only by compare-and-set.
/** A pending proposal to lift the removal of an invented agency. */
const proposal = (id: string, proposedAt: number): ProposedChange => ({
  id,
  action: 'sanction.lift',
  ori: 'CA0990300',
  reason: 'the audit findings were remedied',
  sanction: { type: 'removal', scope: 'all', reason: 'misuse', since: '2026-05-01T00:00:00.000Z' },
  proposedBy: { operator: 'doj-operator-1', operatorOri: 'CA0349400' },
  proposedAt: new Date(proposedAt).toISOString(),
  expiresAt: new Date(proposedAt + 86_400_000).toISOString(),
  status: 'pending',
  decidedBy: null,
  decidedAt: null,
  decisionReason: null,
  version: 1,
})

for (const [name, make] of stores) {
  t.test(`${name} store: proposed changes`, async (t) => {
    t.test('saved by compare-and-set on the version, listed newest first; of two concurrent claims exactly one applies', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      const first = proposal('chg-1', clock.value)
      t.equal(await store.saveProposal(first, 0, clock.value), true, 'a new proposal is stored')
      t.equal(await store.saveProposal({ ...first, reason: 'other' }, 0, clock.value), false, 'an id is stored once')
      await store.saveProposal({ ...proposal('chg-2', clock.value + 1000), officer: 'officer-9', action: 'officer.sanction.lift' }, 0, clock.value)
      t.same((await store.listProposals()).map((change) => change.id), ['chg-2', 'chg-1'])
      t.match(await store.getProposal('chg-2'), { officer: 'officer-9', action: 'officer.sanction.lift' })
      t.equal(await store.getProposal('chg-9'), null)

      const decided = (operator: string) => ({ ...first, status: 'applied' as const, decidedBy: { operator, operatorOri: 'CA0349400' }, decidedAt: new Date(clock.value).toISOString(), decisionReason: 'ok', version: 2 })
      const race = await Promise.all([store.saveProposal(decided('doj-operator-2'), 1, clock.value), store.saveProposal(decided('doj-operator-3'), 1, clock.value)])
      t.same(race.filter(Boolean).length, 1, 'of two approvals of one version exactly one claims it')
      t.match(await store.getProposal('chg-1'), { status: 'applied', version: 2 })
      t.equal(await store.saveProposal({ ...first, status: 'cancelled', version: 2 }, 1, clock.value), false, 'a claim from a stale version is refused')
    })

    t.test('a decided proposal is kept for its retention, then gone', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      const first = proposal('chg-r', clock.value)
      await store.saveProposal(first, 0, clock.value)
      await store.saveProposal({ ...first, status: 'cancelled', decidedBy: first.proposedBy, decidedAt: new Date(clock.value).toISOString(), decisionReason: 'withdrawn', version: 2 }, 1, clock.value)
      clock.advance(proposalRetentionMs - 1000)
      t.match(await store.getProposal('chg-r'), { status: 'cancelled' }, 'kept a while')
      if (name === 'redis') {
        // What Redis does when the key's expiry comes (the test clock does not move Redis's own).
        const raw = new Redis(`${redis.url}/${(database - 1) % 16}`)
        t.teardown(() => raw.quit())
        const ttl = await raw.pttl('clets:proposal:chg-r')
        t.ok(ttl > proposalRetentionMs - 60_000 && ttl <= proposalRetentionMs, `expires after its retention (${ttl} ms left)`)
        await raw.del('clets:proposal:chg-r')
      } else {
        clock.advance(1000)
      }
      t.equal(await store.getProposal('chg-r'), null, 'then gone')
      t.same(await store.listProposals(), [])
    })
  })
}

t.test('embedded store: proposed changes survive a restart (they are journaled with the operator changes)', async (t) => {
  const dir = tempDir('proposals')
  const clock = new TestClock()
  let store = await MemoryStateStore.open(dir, clock.now)
  const first = proposal('chg-p', clock.value)
  await store.saveProposal(first, 0, clock.value)
  await store.saveProposal({ ...first, status: 'applied', decidedBy: { operator: 'doj-operator-2', operatorOri: 'CA0349400' }, decidedAt: new Date(clock.value).toISOString(), decisionReason: 'ok', version: 2 }, 1, clock.value)
  await store.saveProposal(proposal('chg-q', clock.value + 1), 0, clock.value)
  await store.close()
  t.match(readFileSync(join(dir, 'agencies.jsonl'), 'utf8'), /"proposal":\{/, 'in the one journal')
  store = await MemoryStateStore.open(dir, clock.now)
  t.teardown(() => store.close())
  t.same((await store.listProposals()).map((change) => [change.id, change.status, change.version]), [['chg-q', 'pending', 1], ['chg-p', 'applied', 2]])
  t.equal(await store.saveProposal({ ...first, status: 'cancelled', version: 3 }, 1, clock.value), false, 'the version after a restart is the last one written')
})

// The review queue: items shared by both stores, bounded per agency, officer, source and signal kind.
/** An opening about an officer of a fictional agency (CA9990001, "Fictional City PD"). */
const reviewItem = (id: string, openedAt: number, overrides: Partial<ReviewItem> = {}): ReviewItem => ({
  id,
  status: 'open',
  source: 'signal',
  signal: 'repeat_subject',
  ori: 'CA9990001',
  officer: 'officer-7',
  sub: 'Officer-7',
  decisions: [`dec-${id}`],
  evidence: [],
  summary: 'the same person queried 5 times in 7 days',
  openedAt: new Date(openedAt).toISOString(),
  occurrences: 1,
  joined: [],
  finding: null,
  version: 1,
  ...overrides,
})
const closedBy = (item: ReviewItem, at: number): ReviewItem => ({
  ...item,
  status: 'closed',
  finding: { finding: 'no_misuse', reason: 'an open case', by: { operator: 'doj-reviewer-1', operatorOri: 'CA0349400' }, at: new Date(at).toISOString() },
  version: item.version + 1,
})

for (const [name, make] of stores) {
  t.test(`${name} store: reviews`, async (t) => {
    t.test('an opening with an open item of its bound key joins it; a closed item frees the key', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      const first = await store.openReview(reviewItem('rev-1', clock.value), clock.value)
      t.same([first.joined, first.item.id], [false, 'rev-1'])
      const second = await store.openReview(reviewItem('rev-2', clock.value + 1), clock.value)
      t.same([second.joined, second.item.id, second.item.decisions, second.item.occurrences, second.item.version], [true, 'rev-1', ['dec-rev-1', 'dec-rev-2'], 2, 2])
      t.match(await store.getReview('rev-2'), { id: 'rev-1', occurrences: 2 }, 'the joined opening names the item it joined')
      const other = await store.openReview(reviewItem('rev-3', clock.value + 2, { signal: 'licensing_terms' }), clock.value)
      t.equal(other.joined, false, 'another signal kind opens its own item')
      const otherOfficer = await store.openReview(reviewItem('rev-4', clock.value + 3, { officer: 'officer-8' }), clock.value)
      t.equal(otherOfficer.joined, false, 'so does another officer')
      t.same((await store.listReviews()).map((item) => item.id), ['rev-4', 'rev-3', 'rev-1'], 'newest first, joined openings not listed')
      t.equal(await store.getReview('rev-9'), null)

      const open = (await store.getReview('rev-1'))!
      const race = await Promise.all([store.saveReview(closedBy(open, clock.value), open.version, clock.value), store.saveReview(closedBy(open, clock.value), open.version, clock.value)])
      t.equal(race.filter(Boolean).length, 1, 'of two findings on one version exactly one applies')
      t.match(await store.getReview('rev-1'), { status: 'closed', version: 3 })
      const after = await store.openReview(reviewItem('rev-5', clock.value + 4), clock.value)
      t.same([after.joined, after.item.id], [false, 'rev-5'], 'after the finding a new occurrence opens a new item')
    })

    t.test('a flood joins one item, its decisions capped and its occurrences counted', async (t) => {
      const clock = new TestClock()
      const store = await make(clock)
      t.teardown(() => store.close())
      for (let index = 0; index < maxReviewDecisions + 20; index++) await store.openReview(reviewItem(`flood-${index}`, clock.value + index), clock.value)
      const items = await store.listReviews()
      t.equal(items.length, 1, 'one item')
      t.equal(items[0]!.decisions.length, maxReviewDecisions, 'decisions capped')
      t.equal(items[0]!.occurrences, maxReviewDecisions + 20, 'every occurrence counted')
    })
  })
}

t.test('embedded store: reviews survive a restart (journaled with the operator changes)', async (t) => {
  const dir = tempDir('reviews')
  const clock = new TestClock()
  let store = await MemoryStateStore.open(dir, clock.now)
  await store.openReview(reviewItem('rev-a', clock.value), clock.value)
  await store.openReview(reviewItem('rev-b', clock.value + 1), clock.value)
  await store.openReview(reviewItem('rev-c', clock.value + 2, { officer: 'officer-9' }), clock.value)
  const open = (await store.getReview('rev-c'))!
  await store.saveReview(closedBy(open, clock.value), 1, clock.value)
  await store.close()
  t.match(readFileSync(join(dir, 'agencies.jsonl'), 'utf8'), /"review":\{/, 'in the one journal')
  store = await MemoryStateStore.open(dir, clock.now)
  t.teardown(() => store.close())
  t.same((await store.listReviews()).map((item) => [item.id, item.status, item.version]), [['rev-c', 'closed', 2], ['rev-a', 'open', 2]])
  t.match(await store.getReview('rev-b'), { id: 'rev-a' }, 'a joined opening still names its item')
  t.same((await store.openReview(reviewItem('rev-d', clock.value + 3), clock.value)).item.id, 'rev-a', 'the bound key still holds')
  t.same((await store.openReview(reviewItem('rev-e', clock.value + 4, { officer: 'officer-9' }), clock.value)).joined, false, 'a closed item freed its key')
})
