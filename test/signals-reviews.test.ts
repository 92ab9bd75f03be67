// The signals that open reviews (docs/reviews.md): repeat_subject (one officer querying the same person
// again and again) and licensing_terms (licensing, employment or CCW words in a criminal investigation's
// justification) each raise a signal and open a review, and never change an answer; a kind marked
// `review: false` opens none; a subject-keyed signal marked for review opens one for each agency and
// officer that contributed. The embedded store, then two instances on one Redis. Every officer and the
// agency CA9990001 are invented.
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { MemoryStateStore } from '../src/state/memory.js'
import { RedisStateStore } from '../src/state/redis.js'
import type { ReviewItem } from '../src/state/types.js'
import { call, initRedis, sheriff, ledgerRecords, operatorToken, policyDir, query, startTestGateway, tempDir, testPopulation, TestClock, token, type TestGateway } from './helpers.js'
import { startRedis } from './redis.js'

const licences = testPopulation().licenses
// One subject key for both instances, so they hash a person alike.
const keyFile = join(tempDir('review-signal-key'), 'subject.key')
writeFileSync(keyFile, 'an-invented-subject-key-for-the-review-signals-0000\n', { mode: 0o600 })
const valley = 'CA9990001' // Invented Valley Police Department
const policies = tempDir('review-signal-policies')
cpSync(policyDir, policies, { recursive: true })
const shipped = readFileSync(join(policies, 'signals.yaml'), 'utf8')
t.match(shipped, /repeatSubject: \{ enabled: true, review: true/, 'the shipped policies review repeat_subject')
t.match(shipped, /licensingTerms:\n  enabled: true\n  review: true/, 'and licensing_terms')
writeFileSync(
  join(policies, 'signals.yaml'),
  shipped
    .replace(/repeatSubject: \{[^}]*\}/, 'repeatSubject: { enabled: true, review: true, queries: 3, windowSeconds: 604800 }')
    .replace(/subjectSpread: \{[^}]*\}/, 'subjectSpread: { enabled: true, review: true, officers: 2, agencies: 2, windowSeconds: 86400 }')
    .replace(/distinctSubjects: \{[^}]*\}/, 'distinctSubjects: { enabled: true, review: false, subjects: 3, windowSeconds: 3600 }'),
)

const dl = (index: number, purpose = 'traffic_enforcement', extra: Record<string, string> = {}) => ({ database: 'dmv.driver_license', purpose, subject: { licenseNumber: licences[index]!.licenseNumber }, ...extra })

async function play(a: TestGateway, b: TestGateway): Promise<Record<string, string[]>> {
  const ids: Record<string, string[]> = {}
  const ask = async (label: string, gateway: TestGateway, body: unknown, bearer: string) => {
    const answer = await query(gateway.url, body, bearer)
    if (answer.status !== 200) throw new Error(`${label}: answered ${answer.status} ${JSON.stringify(answer.body)}`)
    ;(ids[label] ??= []).push(answer.headers['x-decision-id'] as string)
  }
  const registered = await call(a.url, 'PUT', `/v1/agencies/${valley}`, { token: operatorToken(), body: { name: 'Invented Valley Police Department', kind: 'local', reason: 'an invented agency' } })
  const agreed = await call(a.url, 'PUT', `/v1/agencies/${valley}/agreement`, { token: operatorToken(), body: { version: 'PPP-2019-02', signedAt: '2020-01-01T00:00:00Z', reason: 'signed' } })
  if (registered.status !== 201 || agreed.status !== 200) throw new Error(`cannot register ${valley}`)
  // The same person three times by one officer, over both instances.
  for (const gateway of [a, b, a]) await ask('repeat', gateway, dl(200), token({ sub: 'Ex-Partner-3', ori: sheriff }))
  // A CCW check run as a criminal investigation; and a homicide case, which is none.
  await ask('licensing', b, dl(210, 'criminal_investigation', { caseNumber: '26-004411', justification: 'Applicant  CCW permit review for the sheriff' }), token({ sub: 'ccw-clerk-4', ori: sheriff }))
  await ask('ordinary', a, dl(211, 'criminal_investigation', { caseNumber: '26-004412', justification: 'homicide suspect, vehicle seen at the scene' }), token({ sub: 'detective-5', ori: sheriff }))
  // Three distinct people by one officer: distinct_subjects raises, but is not marked for review.
  for (const index of [220, 221, 222]) await ask('distinct', a, dl(index), token({ sub: 'busy-6', ori: sheriff }))
  // One person queried by two officers of two agencies: both reviewed as involvement.
  await ask('spread', a, dl(230), token({ sub: 'spread-7', ori: sheriff }))
  await ask('spread', a, dl(230), token({ sub: 'spread-8', ori: valley }))
  return ids
}

function check(t: Test, auditDir: string, ids: Record<string, string[]>, reviews: readonly ReviewItem[]): void {
  const signals = ledgerRecords(auditDir).filter((record) => record.type === 'signal.raised')
  t.match(signals.find((signal) => signal.kind === 'repeat_subject'), { ori: sheriff, sub: 'ex-partner-3', detail: { queries: 3, count: 3 }, blocked: false })
  t.match(signals.find((signal) => signal.kind === 'licensing_terms'), { sub: 'ccw-clerk-4', detail: { purpose: 'criminal_investigation', term: /^(Applicant|CCW)/ } })
  t.notOk(signals.some((signal) => signal.kind === 'licensing_terms' && signal.sub === 'detective-5'), 'a homicide case raises nothing')
  t.ok(signals.some((signal) => signal.kind === 'distinct_subjects'), 'distinct_subjects raised')

  const bySignal = (kind: string) => reviews.filter((item) => item.signal === kind)
  t.match(bySignal('repeat_subject'), [{ source: 'signal', ori: sheriff, officer: 'ex-partner-3', sub: 'Ex-Partner-3', status: 'open', decisions: [...ids.repeat!].reverse() }])
  t.match(bySignal('licensing_terms'), [{ officer: 'ccw-clerk-4', decisions: ids.licensing }])
  t.same(bySignal('distinct_subjects'), [], 'a kind not marked for review opens none')
  t.same(
    bySignal('subject_spread').map((item) => [item.ori, item.officer]).sort(),
    [[sheriff, 'spread-7'], [valley, 'spread-8']],
    'a subject-keyed signal opens one for each contributor',
  )
  t.ok(bySignal('subject_spread').every((item) => /involvement/.test(item.summary)), 'each as involvement')
  const opened = ledgerRecords(auditDir).filter((record) => record.type === 'review.opened')
  t.ok(reviews.every((item) => opened.some((record) => record.id === item.id && record.signal === item.signal)), 'each review has its review.opened record')
}

t.test('embedded store', async (t) => {
  const clock = new TestClock()
  const gw = await startTestGateway({ clock, env: { POLICY_DIR: policies } })
  const ids = await play(gw, gw)
  await gw.close() // the decision stream is drained before the store and the ledger close
  const store = await MemoryStateStore.open(gw.stateDir, clock.now)
  t.teardown(() => store.close())
  check(t, gw.auditDir, ids, await store.listReviews())
})

t.test('two instances sharing a Redis', async (t) => {
  const clock = new TestClock()
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await initRedis(redis.url, { now: clock.value })
  const auditDir = tempDir('review-signal-audit')
  const env = { POLICY_DIR: policies, REDIS_URL: redis.url, AUDIT_SUBJECT_KEY: keyFile }
  const a = await startTestGateway({ clock, auditDir, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-a' } })
  const b = await startTestGateway({ clock, auditDir, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-b' } })
  const ids = await play(a, b)
  await a.close()
  await b.close()
  const store = await RedisStateStore.open({ url: redis.url, timeoutMs: 1000, clock: clock.now })
  t.teardown(() => store.close())
  check(t, auditDir, ids, await store.listReviews())
})
