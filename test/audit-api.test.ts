// The ledger and the counters through the API, as the operators' console reads them (issue 14, point 1):
// an agency's history, the audit search, the live decision counts. Each read of the ledger is itself an
// audit.access record, written before the answer; bad input is refused and records nothing.
import t from 'tap'
import { call, iceEro, lapd, ledgerRecords, operatorToken, query, startTestGateway, token } from './helpers.js'

const gw = await startTestGateway()
t.teardown(() => gw.close())
const op = operatorToken()
const admin = (method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown) => call(gw.url, method, path, { token: op, ...(body === undefined ? {} : { body }) })
const accessRecords = () => ledgerRecords(gw.auditDir).filter((record) => record.type === 'audit.access')
const traffic = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

// Invented for this test: a fictional agency.
const ori = 'CA9990100'

t.test("an agency's history: every change DOJ made, oldest first, with operator, reason, before and after", async (t) => {
  t.equal((await admin('PUT', `/v1/agencies/${ori}`, { name: 'Invented Valley Police Department', kind: 'local', reason: 'new subscriber' })).status, 201)
  t.equal((await admin('PUT', `/v1/agencies/${ori}/agreement`, { version: 'PPP-2019-02', signedAt: '2026-01-05T10:00:00Z', reason: 'agreement received' })).status, 200)
  t.equal((await admin('PUT', `/v1/agencies/${ori}/sanction`, { type: 'suspension', reason: 'misuse suspected' })).status, 200)
  t.equal((await admin('DELETE', `/v1/agencies/${ori}/sanction`, { reason: 'investigation closed' })).status, 200)
  const before = accessRecords().length

  const history = await admin('GET', `/v1/agencies/${ori}/history`)
  t.equal(history.status, 200)
  t.equal(history.body.ori, ori)
  t.same(
    history.body.entries.map((entry: any) => [entry.type, entry.action, entry.operator, entry.reason, entry.before?.sanction?.type ?? null, entry.after?.sanction?.type ?? null, entry.failed]),
    [
      ['operator.change', 'agency.register', 'doj-operator-1', 'new subscriber', null, null, false],
      ['operator.change', 'agreement.record', 'doj-operator-1', 'agreement received', null, null, false],
      ['operator.change', 'sanction.impose', 'doj-operator-1', 'misuse suspected', null, 'suspension', false],
      ['operator.change', 'sanction.lift', 'doj-operator-1', 'investigation closed', 'suspension', null, false],
    ],
  )
  t.ok(history.body.entries.every((entry: any) => /^\d{4}-\d\d-\d\dT/.test(entry.time)), 'each with its time')

  const access = accessRecords()
  t.equal(access.length, before + 1, 'the read is recorded')
  t.match(access.at(-1), { type: 'audit.access', action: 'history', ori: 'CA0349400', sub: 'doj-operator-1', source: '127.0.0.1', filter: { ori }, resultCount: 4 })
})

t.test("a sample agency's history starts with its seeding", async (t) => {
  const history = await admin('GET', `/v1/agencies/${iceEro}/history`)
  t.equal(history.status, 200)
  t.match(history.body.entries[0], { action: 'agency.register', operator: 'system:seed' })
})

t.test('history: an unknown ORI is 404, a malformed one 400, a terminal 403; none is recorded', async (t) => {
  const before = accessRecords().length
  const unknown = await admin('GET', '/v1/agencies/CA9999999/history')
  t.equal(unknown.status, 404)
  t.equal(unknown.body.error.code, 'agency_not_found')
  const malformed = await admin('GET', '/v1/agencies/lapd/history')
  t.equal(malformed.status, 400)
  t.equal(malformed.body.error.code, 'invalid_request')
  const terminal = await call(gw.url, 'GET', `/v1/agencies/${lapd}/history`, { token: token() })
  t.equal(terminal.status, 403)
  t.equal(terminal.body.error.code, 'role_forbidden')
  t.equal((await call(gw.url, 'GET', `/v1/agencies/${lapd}/history`)).status, 401)
  t.equal(accessRecords().length, before)
})

t.test("the audit search finds what gatewayctl's does, up to a limit, and records the read", async (t) => {
  for (const sub of ['officer-31', 'officer-32', 'officer-33']) t.equal((await query(gw.url, traffic, token({ sub }))).status, 200)
  t.equal((await query(gw.url, { ...traffic, purpose: 'immigration_enforcement', caseNumber: 'A-1' }, token({ sub: 'officer-34' }))).status, 403)

  const denied = await admin('GET', `/v1/audit/search?type=query.decision&ori=${lapd}&outcome=deny`)
  t.equal(denied.status, 200)
  t.match(denied.body, { matched: 1, truncated: false, records: [{ type: 'query.decision', sub: 'officer-34', rule: 'ppp.immigration_non_criminal', subject: { licenseNumber: 'A1234567' } }] })

  const bySubject = await admin('GET', '/v1/audit/search?subject=licenseNumber%3Da1234567&type=query.decision&limit=2')
  t.equal(bySubject.body.matched, 4)
  t.equal(bySubject.body.truncated, true)
  t.same(bySubject.body.records.map((record: any) => record.sub), ['officer-31', 'officer-32'], 'oldest first, cut at the limit')

  const access = accessRecords().at(-1)
  t.match(access, { action: 'search', filter: { subject: 'licenseNumber=a1234567', type: 'query.decision', limit: '2' }, resultCount: 2 })

  const future = await admin('GET', `/v1/audit/search?sub=officer-31&since=${encodeURIComponent('2999-01-01T00:00:00Z')}`)
  t.same(future.body, { records: [], matched: 0, truncated: false })
  t.match(accessRecords().at(-1), { action: 'search', resultCount: 0 }, 'an empty result is a read too')
})

t.test('the audit search refuses bad filters with 400 and records nothing', async (t) => {
  const before = accessRecords().length
  for (const path of ['?since=last%20tuesday', '?limit=5000', '?limit=0', '?onBehalfOf=ICE', '?color=red', '?ori=CA0194200&ori=CA0990000']) {
    const answer = await admin('GET', `/v1/audit/search${path}`)
    t.equal(answer.status, 400, path)
    t.equal(answer.body.error.code, 'invalid_request', path)
  }
  t.equal((await call(gw.url, 'GET', '/v1/audit/search', { token: token() })).status, 403)
  t.equal(accessRecords().length, before)
})

t.test('live decision counts per rule and per agency, from the counters /metrics prints', async (t) => {
  const first = await admin('GET', '/v1/stats/decisions')
  t.equal(first.status, 200)
  const denials = (body: any, rule: string) => body.decisions.filter((row: any) => row.rule === rule).reduce((sum: number, row: any) => sum + row.count, 0)
  const agencyCount = (body: any, wanted: string, outcome: string) => body.agencies.find((row: any) => row.ori === wanted && row.outcome === outcome)?.count ?? 0
  t.equal((await query(gw.url, { ...traffic, purpose: 'immigration_enforcement', caseNumber: 'A-2' }, token({ sub: 'officer-35' }))).status, 403)
  t.equal((await query(gw.url, traffic, token({ sub: 'officer-36' }))).status, 200)
  const second = await admin('GET', '/v1/stats/decisions')
  t.equal(denials(second.body, 'ppp.immigration_non_criminal') - denials(first.body, 'ppp.immigration_non_criminal'), 1)
  t.equal(agencyCount(second.body, lapd, 'deny') - agencyCount(first.body, lapd, 'deny'), 1)
  t.equal(agencyCount(second.body, lapd, 'allow') - agencyCount(first.body, lapd, 'allow'), 1)
  t.match(second.body.decisions.find((row: any) => row.rule === 'ppp.immigration_non_criminal'), { outcome: 'deny', databaseClass: 'non_criminal_history', purpose: 'immigration_enforcement' })
  const metrics = await call(gw.url, 'GET', '/metrics')
  t.match(metrics.body, new RegExp(`gateway_agency_decisions_total\\{ori="${lapd}",outcome="deny",monitored="false"\\} ${agencyCount(second.body, lapd, 'deny')}\\n`), 'the same count /metrics shows')
  t.equal((await call(gw.url, 'GET', '/v1/stats/decisions', { token: token() })).status, 403)
})

t.test('a ledger that cannot record the read fails it with 503: nothing is read unrecorded', async (t) => {
  const closed = await startTestGateway()
  await closed.gateway.deps.ledger.close()
  t.teardown(() => closed.close())
  const history = await call(closed.url, 'GET', `/v1/agencies/${lapd}/history`, { token: op })
  t.equal(history.status, 503)
  t.equal(history.body.error.code, 'audit_unavailable')
  const search = await call(closed.url, 'GET', '/v1/audit/search?type=operator.change', { token: op })
  t.equal(search.status, 503)
  t.equal(search.body.error.code, 'audit_unavailable')
  t.notOk(JSON.stringify(search.body).includes('operator.change'), 'no record leaves')
})
