// The review queue as a DOJ reviewer works it: an opened review is listed, shown with the decisions
// behind it (an audited read of the ledger), the agency and the officer; a finding closes it, audited
// before it applies, never about the reviewer's own agency, once only; bad input changes nothing. On
// Redis, a review opened through one instance is decided through another. The reviews are invented.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { verifyLedger } from '../src/audit/verify.js'
import { openReview, type ReviewOpening } from '../src/reviews/open.js'
import { call, initRedis, sheriff, ledgerRecords, operatorToken, query, startTestGateway, TestClock, token, type TestGateway } from './helpers.js'
import { startRedis } from './redis.js'

const operator = operatorToken()
const dojOri = 'CA0349400'
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

const opening = (ori: string, decisions: string[]): ReviewOpening => ({
  source: 'immigration_evidence',
  ori,
  officer: 'officer-17',
  sub: 'Officer-17',
  decisions,
  evidence: [{ kind: 'statute_mentioned', field: 'justification', text: 'homicide suspect; also charged under 8 USC 1326 (invented)' }],
  summary: 'a statute mentioned in a homicide justification (invented)',
})

const as = (gw: TestGateway, bearer = operator) => (method: 'GET' | 'PUT', path: string, body?: unknown) => call(gw.url, method, path, { token: bearer, ...(body === undefined ? {} : { body }) })
const finding = { finding: 'no_misuse', reason: 'a homicide case; the federal charge is incidental (invented)' }

t.test('embedded store', async (t) => {
  const clock = new TestClock()
  const gw = await startTestGateway({ clock })
  t.teardown(() => gw.close())
  const api = as(gw)

  const answered = await query(gw.url, dl, token({ sub: 'Officer-17', ori: sheriff }))
  t.equal(answered.status, 200)
  const decision = answered.headers['x-decision-id'] as string
  const id = randomUUID()
  await openReview(gw.gateway.deps, id, opening(sheriff, [decision]), clock.value)
  const opened = ledgerRecords(gw.auditDir).find((record) => record.type === 'review.opened')
  t.match(opened, { id, source: 'immigration_evidence', ori: sheriff, officer: 'officer-17', decisions: [decision] }, 'review.opened is in the ledger')

  t.test('listed, and shown with its decisions, the agency and the officer (an audited read)', async (t) => {
    const listed = await api('GET', '/v1/reviews')
    t.equal(listed.status, 200)
    t.match(listed.body, [{ id, status: 'open', ori: sheriff, finding: null }])
    t.same((await api('GET', `/v1/reviews?status=closed`)).body, [])
    t.same((await api('GET', `/v1/reviews?ori=CA9999999`)).body, [], 'another agency has none')
    const shown = await api('GET', `/v1/reviews/${id}`)
    t.equal(shown.status, 200)
    t.match(shown.body, { review: { id, evidence: [{ kind: 'statute_mentioned' }] }, agency: { ori: sheriff }, officer: null })
    t.same(shown.body.decisions.map((record: { type: string }) => record.type), ['query.decision', 'query.outcome'], 'the decision behind it and what became of it')
    t.match(ledgerRecords(gw.auditDir).at(-1), { type: 'audit.access', action: 'review', filter: { review: id } })
    t.equal((await api('GET', `/v1/reviews/${randomUUID()}`)).body.error.code, 'review_not_found')
    t.equal((await as(gw, token())('GET', '/v1/reviews')).status, 403, 'a terminal may not read the queue')
  })

  t.test('bad findings change nothing', async (t) => {
    const before = ledgerRecords(gw.auditDir).length
    const bad = await api('PUT', `/v1/reviews/${id}/finding`, { ...finding, category: 'immigration_enforcement' })
    t.same([bad.status, bad.body.error.code], [400, 'invalid_finding'], 'a category goes with a confirmed finding only')
    t.equal((await api('PUT', `/v1/reviews/${id}/finding`, { finding: 'guilty', reason: 'x' })).body.error.code, 'invalid_request')
    t.equal((await api('PUT', `/v1/reviews/${id}/finding`, { finding: 'no_misuse', reason: '' })).body.error.code, 'invalid_request')
    t.equal((await api('PUT', `/v1/reviews/${randomUUID()}/finding`, finding)).status, 404)
    t.equal(ledgerRecords(gw.auditDir).length, before, 'nothing recorded')
    t.match((await api('GET', '/v1/reviews')).body, [{ id, status: 'open' }])
  })

  t.test('a finding is recorded before it closes the review, once only', async (t) => {
    clock.advance(60_000)
    const decided = await api('PUT', `/v1/reviews/${id}/finding`, { finding: 'confirmed_misuse', category: 'immigration_enforcement', reason: 'the case was an ICE assist (invented)' })
    t.equal(decided.status, 200)
    t.match(decided.body, { id, status: 'closed', finding: { finding: 'confirmed_misuse', category: 'immigration_enforcement', by: { operator: 'doj-operator-1', operatorOri: dojOri }, at: new Date(clock.value).toISOString() }, version: 2 })
    const record = ledgerRecords(gw.auditDir).find((line) => line.type === 'review.finding')
    t.match(record, { id: decided.headers['x-audit-id'], review: id, ori: sheriff, sub: 'officer-17', finding: 'confirmed_misuse', operator: 'doj-operator-1' })
    const again = await api('PUT', `/v1/reviews/${id}/finding`, finding)
    t.same([again.status, again.body.error.code], [409, 'review_closed'])
    t.match((await api('GET', '/v1/reviews?status=closed')).body, [{ id }])
    t.same((await api('GET', '/v1/reviews')).body, [], 'no open review left')
  })

  t.test("never about the reviewer's own agency", async (t) => {
    const own = randomUUID()
    await openReview(gw.gateway.deps, own, opening(dojOri, []), clock.value)
    const refused = await api('PUT', `/v1/reviews/${own}/finding`, finding)
    t.same([refused.status, refused.body.error.code], [403, 'own_agency_forbidden'])
    t.match((await api('GET', `/v1/reviews/${own}`)).body, { review: { status: 'open' } })
    t.notOk(ledgerRecords(gw.auditDir).some((record) => record.type === 'review.finding' && record.review === own))
  })

  t.test('a second opening of the same officer and kind joins the open review', async (t) => {
    const first = randomUUID()
    const second = randomUUID()
    await openReview(gw.gateway.deps, first, { ...opening(sheriff, ['d-1']), source: 'signal', signal: 'repeat_subject', evidence: [] }, clock.value)
    await openReview(gw.gateway.deps, second, { ...opening(sheriff, ['d-2']), source: 'signal', signal: 'repeat_subject', evidence: [] }, clock.value)
    const shown = await api('GET', `/v1/reviews/${second}`)
    t.match(shown.body.review, { id: first, decisions: ['d-1', 'd-2'], occurrences: 2, joined: [second] })
  })

  t.test('the ledger verifies', async (t) => {
    const report = await verifyLedger(gw.auditDir)
    t.equal(report.problem, null, JSON.stringify(report.problem))
  })
})

t.test('a review opened through one instance is decided through another (Redis)', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await initRedis(redis.url)
  const env = { REDIS_URL: redis.url }
  const one = await startTestGateway({ env })
  t.teardown(() => one.close())
  const two = await startTestGateway({ env })
  t.teardown(() => two.close())
  const id = randomUUID()
  await openReview(one.gateway.deps, id, opening(sheriff, []), Date.now())
  t.match((await as(two)('GET', '/v1/reviews')).body, [{ id }], 'the other instance lists it')
  t.equal((await as(two)('PUT', `/v1/reviews/${id}/finding`, finding)).status, 200)
  const again = await as(one)('PUT', `/v1/reviews/${id}/finding`, finding)
  t.same([again.status, again.body.error.code], [409, 'review_closed'], 'and the first sees it closed')
})
