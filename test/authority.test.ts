// Only DOJ acts as DOJ, and no one acts on their own agency (docs/authority.md). A token holding
// doj_operator is honoured only when its ORI is one of policies/authority.yaml's dojOris: a local agency's
// cannot lift its own sanction, reinstate its officer or approve its own written request. A DOJ operator cannot
// change DOJ's own agency once it is registered, nor decide a request that concerns it. Each refusal is a
// 403 with a stable code, changes nothing, and is an operator.refused record written before the answer.
// A policy directory without authority.yaml refuses every operator; a reload that names an ORI applies.
// On the embedded store and on a real Redis. The second DOJ ORI below (CA0349401) is invented; the agency
// under a sanction is the sample Bayview County Sheriff's Department (fictional).
import { cpSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { verifyLedger } from '../src/audit/verify.js'
import { call, lapd, ledgerRecords, operatorToken, policyDir, rapSheetRequest, sheriff, startTestGateway, tempDir, TestClock, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

const doj = 'CA0349400'
/** An invented second DOJ ORI, so one DOJ operator can register DOJ's own agency and another be refused changing it. */
const dojAnnex = 'CA0349401'
const op = operatorToken()
/** A token of the (fictional) sheriff's own administrator, with the operator role its identity provider should never have given it. */
const sheriffOperator = token({ sub: 'sheriff-admin-1', ori: sheriff, roles: ['doj_operator'] })
/** The same administrator, also a terminal user: files at its agency, and tries to approve what it filed. */
const sheriffBoth = token({ sub: 'sheriff-admin-1', ori: sheriff, roles: ['terminal', 'doj_operator'] })
const traffic = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE'
const as = (gw: TestGateway, bearer: string, method: Method, path: string, body?: unknown) => call(gw.url, method, path, { token: bearer, ...(body === undefined ? {} : { body }) })

/** The operator.refused records of a ledger. */
const refusals = (auditDir: string) => ledgerRecords(auditDir).filter((record) => record.type === 'operator.refused')

/** A copy of the shipped policies with `authority` as authority.yaml (null: without the file). */
function policiesWith(authority: string | null): string {
  const dir = tempDir('policies')
  cpSync(policyDir, dir, { recursive: true })
  if (authority === null) rmSync(join(dir, 'authority.yaml'))
  else writeFileSync(join(dir, 'authority.yaml'), authority)
  return dir
}

/** Asserts a refusal: its status and code, its record (durable, named by x-audit-id) and that it says why. */
function refused(t: Test, gw: TestGateway, answer: Awaited<ReturnType<typeof call>>, expected: { code: string; method: Method; route: string; ori?: string; message: RegExp }) {
  t.equal(answer.status, 403, `${expected.method} ${expected.route}: 403`)
  t.equal(answer.body.error?.code, expected.code)
  t.match(answer.body.error?.message, expected.message)
  const record = refusals(gw.auditDir).find((found) => found.id === answer.headers['x-audit-id'])
  t.ok(record, 'the refusal is on the ledger, named by x-audit-id')
  t.match(record, { method: expected.method, route: expected.route, role: 'doj_operator', code: expected.code, source: '127.0.0.1' })
  if (expected.ori !== undefined) t.equal(record?.ori, expected.ori)
}

async function sheriffStory(t: Test, gw: TestGateway): Promise<void> {
  // The sheriff files a written request at its terminal, then DOJ suspends it and one of its officers.
  const filed = await as(gw, sheriffBoth, 'POST', '/v1/requests', rapSheetRequest({ caseNumber: '26-000417', justification: 'Invented for this test: a burglary series.', requester: { name: 'Det. Invented', title: 'Detective' } }))
  t.equal(filed.status, 201, 'filed at the terminal')
  t.equal((await as(gw, op, 'PUT', `/v1/agencies/${sheriff}/sanction`, { type: 'suspension', reason: 'misuse suspected (invented for this test)' })).status, 200)
  t.equal((await as(gw, op, 'PUT', `/v1/officers/${sheriff}/officer-17/sanction`, { type: 'suspension', reason: 'misuse suspected (invented for this test)' })).status, 200)
  const before = { agency: (await as(gw, op, 'GET', `/v1/agencies/${sheriff}`)).body, officer: (await as(gw, op, 'GET', `/v1/officers/${sheriff}/officer-17`)).body }
  const changes = () => ledgerRecords(gw.auditDir).filter((record) => ['operator.change', 'officer.change', 'request.approved', 'request.refused'].includes(record.type)).length
  const changesBefore = changes()
  const notDoj = /doj_operator is honoured only on a token of a DOJ ORI, and the token's ORI CA0990000 is not a DOJ ORI/

  for (const bearer of [sheriffOperator, sheriffBoth]) {
    refused(t, gw, await as(gw, bearer, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { reason: 'we looked into it ourselves' }), { code: 'role_forbidden', method: 'DELETE', route: '/v1/agencies/:ori/sanction', message: notDoj })
    refused(t, gw, await as(gw, bearer, 'DELETE', `/v1/officers/${sheriff}/officer-17/sanction`, { reason: 'our officer' }), { code: 'role_forbidden', method: 'DELETE', route: '/v1/officers/:ori/:sub/sanction', message: notDoj })
    refused(t, gw, await as(gw, bearer, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'our own case' }), { code: 'role_forbidden', method: 'POST', route: '/v1/requests/:id/approve', message: notDoj })
    // Another agency's state is no more within reach, and reading is DOJ's too.
    refused(t, gw, await as(gw, bearer, 'PUT', `/v1/agencies/${lapd}/sanction`, { type: 'removal', reason: 'a rival' }), { code: 'role_forbidden', method: 'PUT', route: '/v1/agencies/:ori/sanction', message: notDoj })
    refused(t, gw, await as(gw, bearer, 'GET', '/v1/agencies'), { code: 'role_forbidden', method: 'GET', route: '/v1/agencies', message: notDoj })
  }
  const record = refusals(gw.auditDir).at(-1)
  t.match(record, { operator: 'sheriff-admin-1', operatorOri: sheriff })

  // Written requests take either role: the operator role is not honoured, so the terminal's view it is.
  const listed = await as(gw, sheriffBoth, 'GET', '/v1/requests')
  t.equal(listed.status, 200)
  t.same([...new Set(listed.body.map((found: { ori: string }) => found.ori))], [sheriff], "with the terminal role: its own agency's requests only")
  refused(t, gw, await as(gw, sheriffOperator, 'GET', '/v1/requests'), { code: 'role_forbidden', method: 'GET', route: '/v1/requests', message: /terminal, or doj_operator on a token of a DOJ ORI/ })

  t.same((await as(gw, op, 'GET', `/v1/agencies/${sheriff}`)).body, before.agency, 'the suspension stands')
  t.same((await as(gw, op, 'GET', `/v1/officers/${sheriff}/officer-17`)).body, before.officer, "the officer's too")
  t.equal((await as(gw, op, 'GET', `/v1/requests/${filed.body.id}`)).body.status, 'pending', 'the request is undecided')
  t.equal(changes(), changesBefore, 'no change on the ledger')
  t.equal((await call(gw.url, 'POST', '/v1/query', { token: token({ ori: sheriff, sub: 'officer-18' }), body: traffic })).body.decision.rule, 'agency.suspended')

  // DOJ itself decides and reinstates as before.
  t.equal((await as(gw, op, 'POST', `/v1/requests/${filed.body.id}/refuse`, { reason: 'the agency is suspended (test)' })).status, 200)
  t.equal((await as(gw, op, 'DELETE', `/v1/officers/${sheriff}/officer-17/sanction`, { reason: 'cleared (test)' })).status, 200)
  t.equal((await as(gw, op, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { reason: 'cleared (test)' })).status, 200)
  t.equal((await verifyLedger(gw.auditDir)).problem, null, 'the ledger verifies with the refusals in it')
}

t.test('embedded store: a doj_operator token of a local agency changes nothing, and each refusal is audited', async (t) => {
  const gw = await startTestGateway({ clock: new TestClock() })
  t.teardown(() => gw.close())
  await sheriffStory(t, gw)
})

t.test('redis store: the same', async (t) => {
  const redis = await startRedis()
  const clock = new TestClock()
  await initRedis(redis.url, { now: clock.value })
  const gw = await startTestGateway({ clock, env: { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '300' } })
  t.teardown(async () => {
    await gw.close()
    await redis.stop()
  })
  await sheriffStory(t, gw)
})

t.test("a DOJ operator changes no agency of their own: DOJ's, once registered, is changed by an operator of another DOJ ORI", async (t) => {
  const gw = await startTestGateway({ clock: new TestClock(), env: { POLICY_DIR: policiesWith(`dojOris: [${doj}, ${dojAnnex}]\n`) } })
  t.teardown(() => gw.close())
  const annex = token({ sub: 'doj-annex-operator', ori: dojAnnex, roles: ['doj_operator'] })
  const own = /an operator may not .* their own agency: CA0349400 is the agency of this token/

  // Registering one's own ORI is changing one's own agency too.
  refused(t, gw, await as(gw, op, 'PUT', `/v1/agencies/${doj}`, { name: 'California Department of Justice', kind: 'state', reason: 'our terminals' }), { code: 'own_agency_forbidden', method: 'PUT', route: '/v1/agencies/:ori', ori: doj, message: /may not register or update their own agency/ })
  t.equal((await as(gw, op, 'GET', `/v1/agencies/${doj}`)).status, 404, 'not registered')
  t.equal((await as(gw, annex, 'PUT', `/v1/agencies/${doj}`, { name: 'California Department of Justice (test entry)', kind: 'state', reason: 'its terminals query through the gateway' })).status, 201)
  t.equal((await as(gw, annex, 'PUT', `/v1/agencies/${doj}/agreement`, { version: 'PPP-2019-02', signedAt: '2019-06-01T00:00:00Z', reason: 'signed' })).status, 200)
  t.equal((await as(gw, annex, 'PUT', `/v1/agencies/${doj}/sanction`, { type: 'censure', writtenRequests: true, reason: 'invented for this test' })).status, 200)
  t.equal((await as(gw, annex, 'PUT', `/v1/officers/${doj}/doj-clerk-2/sanction`, { type: 'suspension', reason: 'invented for this test' })).status, 200)
  const agencyBefore = (await as(gw, op, 'GET', `/v1/agencies/${doj}`)).body
  const officerBefore = (await as(gw, op, 'GET', `/v1/officers/${doj}/doj-clerk-2`)).body

  const attempts: [Method, string, string, unknown][] = [
    ['PUT', `/v1/agencies/${doj}`, '/v1/agencies/:ori', { name: 'DOJ', kind: 'state', monitored: false, reason: 'rename' }],
    ['PUT', `/v1/agencies/${doj}/agreement`, '/v1/agencies/:ori/agreement', { version: 'PPP-2019-02', signedAt: '2020-06-01T00:00:00Z', reason: 're-signed' }],
    ['DELETE', `/v1/agencies/${doj}/agreement`, '/v1/agencies/:ori/agreement', { reason: 'withdrawn' }],
    ['PUT', `/v1/agencies/${doj}/sanction`, '/v1/agencies/:ori/sanction', { type: 'censure', reason: 'a milder one' }],
    ['DELETE', `/v1/agencies/${doj}/sanction`, '/v1/agencies/:ori/sanction', { reason: 'lifted' }],
    ['PUT', `/v1/officers/${doj}/doj-clerk-2/sanction`, '/v1/officers/:ori/:sub/sanction', { type: 'suspension', until: '2026-06-02T00:00:00Z', reason: 'shorter' }],
    ['DELETE', `/v1/officers/${doj}/doj-clerk-2/sanction`, '/v1/officers/:ori/:sub/sanction', { reason: 'reinstated' }],
    ['PUT', `/v1/agencies/${doj}/filings/2025`, '/v1/agencies/:ori/filings/:year', { investigations: 0, violations: 0, individuals: 0, pending: 0, discipline: {}, categories: {}, reason: 'filed' }],
  ]
  for (const [method, path, route, body] of attempts) refused(t, gw, await as(gw, op, method, path, body), { code: 'own_agency_forbidden', method, route, ori: doj, message: own })
  // Refused before the body is read: a malformed body is refused the same way, not answered 400.
  refused(t, gw, await as(gw, op, 'PUT', `/v1/agencies/${doj}/sanction`, { type: 'nonsense' }), { code: 'own_agency_forbidden', method: 'PUT', route: '/v1/agencies/:ori/sanction', ori: doj, message: own })

  // Written requests: DOJ's own, and one another agency filed on DOJ's behalf.
  const dojTerminal = token({ sub: 'doj-clerk-3', ori: doj })
  const request = rapSheetRequest({ caseNumber: '26-000418', justification: 'Invented for this test: a DOJ investigation.', requester: { name: 'Agent Invented', title: 'Special Agent' } })
  const ownRequest = await as(gw, dojTerminal, 'POST', '/v1/requests', request)
  t.equal(ownRequest.status, 201)
  const onBehalf = await as(gw, token({ sub: 'det-invented', ori: lapd }), 'POST', '/v1/requests', { ...request, caseNumber: '26-000419', requester: { name: 'Det. Invented', title: 'Detective', ori: doj } })
  t.equal(onBehalf.status, 201)
  for (const id of [ownRequest.body.id, onBehalf.body.id]) {
    refused(t, gw, await as(gw, op, 'POST', `/v1/requests/${id}/approve`, { reason: 'ours' }), { code: 'own_agency_forbidden', method: 'POST', route: '/v1/requests/:id/approve', ori: doj, message: /may not approve a written request that concerns their own agency/ })
    refused(t, gw, await as(gw, op, 'POST', `/v1/requests/${id}/refuse`, { reason: 'ours' }), { code: 'own_agency_forbidden', method: 'POST', route: '/v1/requests/:id/refuse', ori: doj, message: /may not refuse a written request/ })
    t.equal((await as(gw, op, 'GET', `/v1/requests/${id}`)).body.status, 'pending', 'still pending: reading it is allowed')
  }

  t.same((await as(gw, op, 'GET', `/v1/agencies/${doj}`)).body, agencyBefore, "DOJ's agency unchanged (reading one's own is allowed)")
  t.same((await as(gw, op, 'GET', `/v1/officers/${doj}/doj-clerk-2`)).body, officerBefore, 'its officer unchanged')
  t.equal((await as(gw, op, 'GET', `/v1/agencies/${doj}/filings/2025`)).status, 404, 'no filing recorded')
  // The agency's history shows the attempts beside its changes.
  const history = (await as(gw, annex, 'GET', `/v1/agencies/${doj}/history`)).body.entries as { type: string; operator: string; action: string; reason: string }[]
  t.match(
    history.find((entry) => entry.type === 'operator.refused' && entry.action === 'DELETE /v1/agencies/:ori/sanction'),
    { operator: 'doj-operator-1', reason: 'own_agency_forbidden' },
    'the history lists the refused attempts',
  )

  // The other DOJ ORI's operator may: the rule binds the hand, not the agency.
  t.equal((await as(gw, annex, 'POST', `/v1/requests/${onBehalf.body.id}/approve`, { reason: 'verified (test)' })).status, 200)
  t.equal((await as(gw, annex, 'DELETE', `/v1/agencies/${doj}/sanction`, { reason: 'cleared (test)' })).status, 200)
  t.equal((await verifyLedger(gw.auditDir)).problem, null)
})

t.test('without authority.yaml no ORI acts as DOJ (a warning at start says so); a reload that names one applies at once, and one that drops it too', async (t) => {
  const dir = policiesWith(null)
  const logs: Record<string, unknown>[] = []
  const gw = await startTestGateway({ clock: new TestClock(), env: { POLICY_DIR: dir }, logs })
  t.teardown(() => gw.close())
  t.ok(logs.some((line) => line.level === 40 && /no authority\.yaml: no ORI may act as DOJ/.test(String(line.msg))), 'warned at start-up')

  const none = /no ORI may act as DOJ: the policies in force have no authority.yaml/
  refused(t, gw, await as(gw, op, 'GET', '/v1/agencies'), { code: 'role_forbidden', method: 'GET', route: '/v1/agencies', message: none })
  refused(t, gw, await as(gw, op, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { reason: 'x' }), { code: 'role_forbidden', method: 'DELETE', route: '/v1/agencies/:ori/sanction', message: none })
  t.match((await as(gw, op, 'GET', `/v1/agencies/${sheriff}`)), { status: 403 })
  // Terminals are not DOJ's: they query as before.
  t.equal((await call(gw.url, 'POST', '/v1/query', { token: token(), body: traffic })).status, 200)

  writeFileSync(join(dir, 'authority.yaml'), `dojOris: [${doj}]\n`)
  t.equal(await gw.gateway.reloadPolicy(), null)
  // The same token, verified and cached before the reload: the policy is read at each call.
  t.equal((await as(gw, op, 'GET', '/v1/agencies')).status, 200, 'honoured after the reload')
  t.match((await as(gw, op, 'GET', `/v1/agencies/${sheriff}`)).body, { sanction: { type: 'censure' } })
  refused(t, gw, await as(gw, sheriffOperator, 'GET', '/v1/agencies'), { code: 'role_forbidden', method: 'GET', route: '/v1/agencies', message: /CA0990000 is not a DOJ ORI/ })

  writeFileSync(join(dir, 'authority.yaml'), `dojOris: [${dojAnnex}]\n`)
  t.equal(await gw.gateway.reloadPolicy(), null)
  refused(t, gw, await as(gw, op, 'GET', '/v1/agencies'), { code: 'role_forbidden', method: 'GET', route: '/v1/agencies', message: /CA0349400 is not a DOJ ORI/ })
})

t.test('a refusal that cannot be audited is not answered as a refusal: 503, and nothing changed', async (t) => {
  const gw = await startTestGateway({ clock: new TestClock() })
  t.teardown(() => gw.close())
  // The ledger refuses records it cannot write; closing it is the simplest way to make it so.
  await gw.gateway.deps.ledger.close()
  const answer = await as(gw, sheriffOperator, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { reason: 'x' })
  t.equal(answer.status, 503)
  t.equal(answer.body.error.code, 'audit_unavailable')
})

t.test('a token refused again and again is summarised past the refusal budget, like refused queries: every refusal on the ledger, not one record each', async (t) => {
  const gw = await startTestGateway()
  const budget = 20
  const attacker = token({ sub: 'stolen-operator-token', ori: sheriff, roles: ['doj_operator'] })
  const answers = []
  for (let i = 0; i < budget + 5; i++) answers.push(await as(gw, attacker, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { reason: 'a flood (invented)' }))
  t.ok(answers.every((answer) => answer.status === 403 && answer.body.error?.code === 'role_forbidden'), 'each refused as before')
  const summaryId = answers[budget]!.headers['x-audit-id']
  t.ok(answers.slice(budget).every((answer) => answer.headers['x-audit-id'] === summaryId), 'past the budget, each names the one summary')
  await gw.close()
  const own = refusals(gw.auditDir).filter((record) => record.operator === 'stolen-operator-token')
  t.equal(own.length, budget, 'the first refusals of the minute keep their own records')
  const summary = ledgerRecords(gw.auditDir).find((record) => record.id === summaryId)
  t.match(summary, { type: 'query.refusals', ori: sheriff, sub: 'stolen-operator-token', count: 5, refusals: [{ record: 'operator.refused', status: 403, code: 'role_forbidden', count: 5 }] }, 'the rest in one summary')
  t.equal((await verifyLedger(gw.auditDir)).problem, null)
})
