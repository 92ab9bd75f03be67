// Issue 12, point 5: written requests, as DOJ and a sanctioned agency live them. DOJ censures an agency
// and requires written requests; its terminal is refused; it files a request; an operator approves it;
// the agency retrieves the records once, and a second time gets 410; a refused request yields nothing;
// every step is on the ledger and the ledger verifies. On the embedded store, and on Redis with two
// instances (filed and retrieved on B, decided on A). The agency below is invented for these tests.
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { verifyLedger } from '../src/audit/verify.js'
import { loadPolicyDir } from '../src/policy-files.js'
import { maxPendingRequests } from '../src/state/types.js'
import { printable } from '../src/printable.js'
import { call, iceEro, lapd, ledgerRecords, operatorToken, policyDir, query, startTestGateway, rapSheetRequest, tempDir, TestClock, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

/** An invented agency: "Fictional Bay Police Department". */
const bay = 'CA0990100'
const op = operatorToken()
const rapRequest = rapSheetRequest({
  caseNumber: '26-004711',
  justification: 'Burglary series on Harbor Street; the suspect named by a witness. Our terminal access is under a DOJ censure.',
  requester: { name: 'Det. Alex Example', title: 'Detective', ori: bay },
})
const rapSubject = rapRequest.subject
/** How long an approval holds, as the shipped policies say (limits.yaml: writtenRequests.approvalSeconds). */
const approvalValidityMs = (await loadPolicyDir(policyDir)).writtenRequests.approvalSeconds * 1000
const licence = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

const admin = (gw: TestGateway, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown) => call(gw.url, method, path, { token: op, ...(body === undefined ? {} : { body }) })
const file = (gw: TestGateway, body: unknown, bearer = token({ ori: bay, sub: 'det-example' })) => call(gw.url, 'POST', '/v1/requests', { token: bearer, body })
const retrieve = (gw: TestGateway, id: string, bearer = token({ ori: bay, sub: 'det-example' })) => call(gw.url, 'GET', `/v1/requests/${id}/result`, { token: bearer })

/** Registers the invented agency, signs its agreement, and censures it with written requests. */
async function censureWithWrittenRequests(t: Test, gw: TestGateway): Promise<void> {
  t.equal((await admin(gw, 'PUT', `/v1/agencies/${bay}`, { name: 'Fictional Bay Police Department', kind: 'local', reason: 'new subscriber (invented)' })).status, 201)
  t.equal((await admin(gw, 'PUT', `/v1/agencies/${bay}/agreement`, { version: 'PPP-2019-02', signedAt: '2019-06-01T00:00:00Z', reason: 'signed' })).status, 200)
  const censured = await admin(gw, 'PUT', `/v1/agencies/${bay}/sanction`, { type: 'censure', writtenRequests: true, reason: 'misuse suspected: criminal history only in writing' })
  t.equal(censured.status, 200)
  t.same(censured.body.sanction, { type: 'censure', scope: 'all', reason: 'misuse suspected: criminal history only in writing', since: censured.body.sanction.since, writtenRequests: true })
}

/** The records of one request, in ledger order. */
const stepsOf = (auditDirs: string[], id: string) =>
  auditDirs
    .flatMap((dir) => ledgerRecords(dir))
    .filter((record) => record.id === id || record.request === id)
    .sort((left, right) => left.time.localeCompare(right.time))

interface Deployment {
  readonly name: string
  /** Where the agency files and retrieves, and where DOJ decides (the same gateway, or two on one Redis). */
  readonly terminalSide: TestGateway
  readonly operatorSide: TestGateway
  readonly clock: TestClock
  readonly auditDirs: string[]
}

async function story(t: Test, deployment: Deployment): Promise<void> {
  const { terminalSide: b, operatorSide: a, clock } = deployment
  await censureWithWrittenRequests(t, a)

  t.test('the censured agency is refused at its terminal, with the rule and its source', async (t) => {
    const denied = await query(b.url, { ...rapRequest, justification: undefined, requester: undefined }, token({ ori: bay, sub: 'det-example' }))
    t.equal(denied.status, 403)
    t.equal(denied.body.decision.rule, 'agency.written_request_required')
    t.match(denied.body.decision.reason, /only through written requests approved by DOJ/)
    t.match(denied.body.decision.citation, /in writing instead of through CLETS/)
    t.equal((await query(b.url, licence, token({ ori: bay, sub: 'det-example' }))).body.decision.rule, 'agency.written_request_required', 'DMV too')
  })

  let approvedId = ''
  t.test('it files a written request; DOJ approves it; the agency retrieves the records once, then 410', async (t) => {
    const filed = await file(b, rapRequest)
    t.equal(filed.status, 201)
    t.match(filed.body, { ori: bay, sub: 'det-example', status: 'pending', database: 'criminal_history', purpose: 'criminal_investigation', subject: rapSubject, caseNumber: '26-004711', requester: rapRequest.requester, decidedAt: null })
    approvedId = filed.body.id
    t.equal(filed.headers['x-audit-id'], approvedId)

    const early = await retrieve(b, approvedId)
    t.equal(early.status, 409)
    t.equal(early.body.error.code, 'request_not_approved')

    clock.advance(3_600_000) // DOJ reads it an hour later
    const pending = await admin(a, 'GET', `/v1/requests?status=pending&ori=${bay}`)
    t.equal(pending.status, 200)
    t.same(pending.body.map((request: { id: string }) => request.id), [approvedId], 'DOJ sees it pending')
    t.equal((await call(b.url, 'GET', `/v1/requests/${approvedId}`, { token: token({ ori: lapd }) })).body.error?.code, 'request_not_found', "another agency's terminal does not see it")
    t.same((await call(b.url, 'GET', '/v1/requests', { token: token({ ori: lapd }) })).body, [], 'nor in its list')

    const approved = await admin(a, 'POST', `/v1/requests/${approvedId}/approve`, { reason: 'case number and justification checked against the burglary report' })
    t.equal(approved.status, 200)
    t.match(approved.body, { status: 'approved', decidedBy: 'doj-operator-1', decisionReason: 'case number and justification checked against the burglary report', approvalExpiresAt: new Date(clock.value + approvalValidityMs).toISOString() })
    const again = await admin(a, 'POST', `/v1/requests/${approvedId}/refuse`, { reason: 'too late' })
    t.equal(again.status, 409)
    t.equal(again.body.error.code, 'request_not_pending')
    t.equal((await retrieve(b, approvedId, token({ ori: lapd }))).status, 404, "another agency cannot retrieve it")
    clock.advance(600_000)

    const result = await retrieve(b, approvedId)
    t.equal(result.status, 200)
    t.match(result.body.decision, { outcome: 'allow', rule: 'ppp.permitted' })
    t.equal(result.body.request.status, 'delivered')
    t.ok(result.body.records.length >= 1, 'the rap sheet')
    t.match(result.body.records[0], { person: { lastName: rapSubject.lastName } })
    const second = await retrieve(b, approvedId)
    t.equal(second.status, 410)
    t.equal(second.body.error.code, 'request_gone')
    t.match(second.body.error.message, /retrieved on .*; they are handed out once/)
    t.equal((await call(b.url, 'GET', `/v1/requests/${approvedId}`, { token: token({ ori: bay }) })).body.status, 'delivered', 'the agency sees it delivered')
  })

  let refusedId = ''
  t.test('a refused request yields no data', async (t) => {
    const filed = await file(b, { ...rapRequest, caseNumber: '26-004712', justification: 'Looking into a neighbour.' })
    refusedId = filed.body.id
    clock.advance(3_600_000)
    const refused = await admin(a, 'POST', `/v1/requests/${refusedId}/refuse`, { reason: 'no criminal-justice purpose shown' })
    t.equal(refused.status, 200)
    t.equal(refused.body.status, 'refused')
    const result = await retrieve(b, refusedId)
    t.equal(result.status, 410)
    t.equal(result.body.error.code, 'request_gone')
    t.match(result.body.error.message, /DOJ refused .*: no criminal-justice purpose shown/)
    t.notOk('records' in result.body)
    t.equal((await admin(a, 'POST', `/v1/requests/${refusedId}/approve`, { reason: 'changed my mind' })).body.error.code, 'request_not_pending')
  })

  t.test('an approval unused for its validity expires', async (t) => {
    const filed = await file(b, { ...rapRequest, caseNumber: '26-004713' })
    await admin(a, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'ok' })
    clock.advance(approvalValidityMs)
    t.equal((await admin(a, 'GET', `/v1/requests/${filed.body.id}`)).body.status, 'expired')
    const late = await retrieve(b, filed.body.id)
    t.equal(late.status, 410)
    t.match(late.body.error.message, /expired .* unused/)
  })

  t.test('every step is on the ledger, in order, and the ledger verifies', async (t) => {
    const approvedSteps = stepsOf(deployment.auditDirs, approvedId)
    t.same(
      approvedSteps.map((record) => record.type),
      ['request.filed', 'request.approved', 'request.executed', 'request.delivered'],
    )
    t.match(approvedSteps[0], { ori: bay, sub: 'det-example', outcome: 'pending', rule: 'ppp.permitted', subject: rapSubject, justification: rapRequest.justification, requester: rapRequest.requester })
    t.match(approvedSteps[1], { operator: 'doj-operator-1', ori: bay, reason: 'case number and justification checked against the burglary report' })
    t.match(approvedSteps[2], { outcome: 'allow', rule: 'ppp.permitted', status: 200, code: null })
    t.ok(approvedSteps[2].recordCount >= 1)
    t.equal(approvedSteps[3].recordCount, approvedSteps[2].recordCount)
    t.notOk(JSON.stringify(approvedSteps.slice(1)).includes(rapSubject.lastName), 'the subject is in the filing record only, and no record holds the records returned')
    t.same(stepsOf(deployment.auditDirs, refusedId).map((record) => record.type), ['request.filed', 'request.refused'])
  })
}

t.test('embedded store', async (t) => {
  const clock = new TestClock()
  const policies = tempDir('policies')
  cpSync(policyDir, policies, { recursive: true })
  let gw = await startTestGateway({ clock, env: { POLICY_DIR: policies } })
  t.teardown(() => gw.close())
  await t.test('the story', (t) => story(t, { name: 'embedded', terminalSide: gw, operatorSide: gw, clock, auditDirs: [gw.auditDir] }))

  t.test('an approved request survives a restart and is retrieved after it', async (t) => {
    const filed = await file(gw, { ...rapRequest, caseNumber: '26-004720' })
    await admin(gw, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'ok' })
    await gw.close()
    gw = await startTestGateway({ clock, env: { POLICY_DIR: policies }, stateDir: gw.stateDir, auditDir: gw.auditDir })
    t.equal((await retrieve(gw, filed.body.id)).status, 200)
    t.equal((await retrieve(gw, filed.body.id)).status, 410)
  })

  t.test('the policy decides the filing: what the PPP forbids is refused at once, recorded, and never reaches DOJ', async (t) => {
    const immigration = await file(gw, { ...rapRequest, database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: { licenseNumber: 'A1234567' }, caseNumber: '8USC1326-1' })
    t.equal(immigration.status, 403)
    t.equal(immigration.body.decision.rule, 'ppp.immigration_non_criminal')
    const traffic = await file(gw, { ...rapRequest, purpose: 'traffic_enforcement' })
    t.equal(traffic.body.decision.rule, 'ppp.purpose_not_permitted', 'criminal history only for a purpose that reaches it')
    const noCase = await file(gw, { ...rapRequest, caseNumber: undefined })
    t.equal(noCase.body.decision.rule, 'ppp.case_number_required')
    const ice = await file(gw, { ...rapRequest, purpose: 'immigration_enforcement' }, token({ ori: iceEro }))
    t.equal(ice.body.decision.rule, 'agency.no_agreement', 'ICE ERO, without the 2019 agreement, cannot file either')
    const unknown = await file(gw, rapRequest, token({ ori: 'CA0000009' }))
    t.equal(unknown.body.decision.rule, 'agency.unknown')
    const ids = [immigration, traffic, noCase, ice, unknown].map((answer) => answer.body.decision.id)
    const listed = (await admin(gw, 'GET', '/v1/requests')).body.map((request: { id: string }) => request.id)
    t.notOk(ids.some((id) => listed.includes(id)), 'none is stored')
    const records = ledgerRecords(gw.auditDir).filter((record) => ids.includes(record.id))
    t.same(records.map((record) => [record.type, record.outcome, record.rule]), [
      ['request.filed', 'deny', 'ppp.immigration_non_criminal'],
      ['request.filed', 'deny', 'ppp.purpose_not_permitted'],
      ['request.filed', 'deny', 'ppp.case_number_required'],
      ['request.filed', 'deny', 'agency.no_agreement'],
      ['request.filed', 'deny', 'agency.unknown'],
    ])
  })

  t.test('a request whose requester is an ICE office registered by organisation is judged as immigration enforcement', async (t) => {
    const hsi = 'CA0HSI100'
    t.equal((await admin(gw, 'PUT', `/v1/agencies/${hsi}`, { name: 'ICE HSI office (test)', kind: 'federal', organisation: 'DHS/ICE/HSI', reason: 'invented for the test' })).status, 201)
    const dmv = { ...rapRequest, database: 'dmv.driver_license', subject: { licenseNumber: 'A1234567' } }
    const forHsi = await file(gw, { ...dmv, requester: { ...rapRequest.requester, ori: hsi } })
    t.equal(forHsi.status, 403)
    t.match(forHsi.body.decision, { rule: 'ppp.immigration_non_criminal', reason: /on behalf of CA0HSI100 .*part of DHS\/ICE/ })
    t.equal((await file(gw, dmv)).status, 201, 'the same request for the filing agency itself goes to DOJ')
  })

  t.test('any subscribing agency may file, not only a sanctioned one; each terminal lists its own', async (t) => {
    const filed = await file(gw, rapRequest, token({ ori: lapd, sub: 'officer-17' }))
    t.equal(filed.status, 201)
    const own = await call(gw.url, 'GET', '/v1/requests', { token: token({ ori: lapd }) })
    t.same(own.body.map((request: { ori: string }) => request.ori), [lapd])
    t.same((await call(gw.url, 'GET', `/v1/requests?ori=${bay}`, { token: token({ ori: lapd }) })).body, [], "a filter on another agency finds nothing")
    t.ok((await admin(gw, 'GET', '/v1/requests')).body.some((request: { ori: string }) => request.ori === bay), 'DOJ sees every agency')
  })

  t.test('the policy applies again at execution: a removal after the approval blocks the records', async (t) => {
    const filed = await file(gw, { ...rapRequest, caseNumber: '26-004730' })
    await admin(gw, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'ok' })
    await admin(gw, 'PUT', `/v1/agencies/${bay}/sanction`, { type: 'removal', reason: 'misuse confirmed' })
    const result = await retrieve(gw, filed.body.id)
    t.equal(result.status, 403)
    t.equal(result.body.decision.rule, 'agency.suspended')
    t.equal((await admin(gw, 'GET', `/v1/requests/${filed.body.id}`)).body.status, 'denied')
    t.equal((await retrieve(gw, filed.body.id)).status, 410)
    t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'request.executed' && record.request === filed.body.id), { outcome: 'deny', rule: 'agency.suspended', status: 403, recordCount: 0 })
    await admin(gw, 'PUT', `/v1/agencies/${bay}/sanction`, { type: 'censure', writtenRequests: true, reason: 'back to written requests' })
  })

  t.test('S.B. 54 applies at execution: a request that became immigration enforcement on DMV data is denied', async (t) => {
    // A case number citing an immigration statute is refused at filing now (issue 12, point 2); here the
    // policies change between the approval and the retrieval instead.
    const filed = await file(gw, { ...rapRequest, database: 'dmv.driver_license', subject: { licenseNumber: 'A1234567' }, caseNumber: '24-7788' })
    t.equal(filed.status, 201)
    await admin(gw, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'looked like a burglary case' })
    // DOJ's policies now read this purpose as immigration enforcement.
    const purposes = join(policies, 'purposes.yaml')
    const shipped = readFileSync(purposes, 'utf8')
    writeFileSync(purposes, shipped.replace('    code: C\n    reaches: [criminal_history, non_criminal_history]', '    code: C\n    immigration: true\n    reaches: [criminal_history]'))
    t.teardown(async () => {
      writeFileSync(purposes, shipped)
      await gw.gateway.reloadPolicy()
    })
    t.equal(await gw.gateway.reloadPolicy(), null)
    const result = await retrieve(gw, filed.body.id)
    t.equal(result.status, 403)
    t.equal(result.body.decision.rule, 'ppp.immigration_non_criminal')
    t.notOk('records' in result.body)
  })

  t.test('a database failure lets the request go: the agency retrieves it again, and gets it once', async (t) => {
    // A criminal-history database that fails once, then answers (its record is invented).
    let calls = 0
    const database = createServer((request, response) => {
      request.resume()
      calls++
      if (calls === 1) {
        response.writeHead(500).end()
        return
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"records":[{"cii":"A00000001","person":{"lastName":"INVENTED"}}]}')
    })
    database.listen(0, '127.0.0.1')
    await once(database, 'listening')
    t.teardown(() => database.close())
    const flaky = await startTestGateway({ clock, env: { CRIMINAL_HISTORY_URL: `http://127.0.0.1:${(database.address() as AddressInfo).port}` } })
    t.teardown(() => flaky.close())
    await censureWithWrittenRequests(t, flaky)
    const filed = await file(flaky, rapRequest)
    await admin(flaky, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'ok' })
    const failed = await retrieve(flaky, filed.body.id)
    t.equal(failed.status, 502)
    t.equal(failed.body.error.code, 'upstream_error')
    t.equal((await admin(flaky, 'GET', `/v1/requests/${filed.body.id}`)).body.status, 'approved', 'still approved')
    const result = await retrieve(flaky, filed.body.id)
    t.equal(result.status, 200)
    t.same(result.body.records, [{ cii: 'A00000001', person: { lastName: 'INVENTED' } }])
    t.equal((await retrieve(flaky, filed.body.id)).status, 410)
    t.equal(calls, 2, 'the database was asked once per retrieval that ran')
    t.same(
      ledgerRecords(flaky.auditDir).filter((record) => record.request === filed.body.id && record.type === 'request.executed').map((record) => [record.status, record.code]),
      [[502, 'upstream_error'], [200, null]],
    )
  })

  t.test('bad input is refused with its code and changes nothing', async (t) => {
    const before = (await admin(gw, 'GET', '/v1/requests')).body.length
    const cases: [unknown, number, string][] = [
      [{ ...rapRequest, database: 'dmv.concealed_weapons' }, 400, 'unknown_database'],
      [{ ...rapRequest, purpose: 'curiosity' }, 400, 'unknown_purpose'],
      [{ ...rapRequest, subject: { licenseNumber: 'A1234567' } }, 400, 'invalid_subject'],
      [{ ...rapRequest, justification: undefined }, 400, 'invalid_request'],
      [{ ...rapRequest, justification: '   ' }, 400, 'invalid_request'],
      [{ ...rapRequest, justification: 'x'.repeat(2001) }, 400, 'invalid_request'],
      [{ ...rapRequest, requester: { name: 'A', badge: '17' } }, 400, 'invalid_request'],
      [{ ...rapRequest, requester: { ori: 'ICE' } }, 400, 'invalid_request'],
      [{ ...rapRequest, requester: undefined }, 400, 'invalid_request'],
    ]
    for (const [body, status, code] of cases) {
      const answer = await file(gw, body)
      t.equal(answer.status, status, code)
      t.equal(answer.body.error?.code, code)
    }
    t.equal((await call(gw.url, 'POST', '/v1/requests', { token: op, body: rapRequest })).body.error.code, 'role_forbidden', 'an operator does not file')
    const someone = (await admin(gw, 'GET', '/v1/requests')).body[0].id
    t.equal((await call(gw.url, 'POST', `/v1/requests/${someone}/approve`, { token: token({ ori: bay }), body: { reason: 'self-service' } })).body.error.code, 'role_forbidden', 'a terminal does not approve')
    t.equal((await admin(gw, 'POST', `/v1/requests/${someone}/approve`, {})).body.error.code, 'invalid_request', 'a decision needs a reason')
    t.equal((await admin(gw, 'POST', '/v1/requests/00000000-0000-4000-8000-000000000000/approve', { reason: 'r' })).body.error.code, 'request_not_found')
    t.equal((await admin(gw, 'GET', '/v1/requests/not-an-id')).body.error.code, 'invalid_request')
    t.equal((await admin(gw, 'GET', '/v1/requests?status=lost')).body.error.code, 'invalid_request')
    t.equal((await admin(gw, 'GET', '/v1/requests')).body.length, before, 'nothing was stored')
  })

  t.test('the ledger of all of it verifies', async (t) => {
    await gw.close()
    const report = await verifyLedger(gw.auditDir)
    t.equal(report.problem, null)
    t.ok(report.chains[0]!.records > 30, `${report.chains[0]!.records} records`)
  })

  t.test(`an agency has at most ${maxPendingRequests} requests pending`, async (t) => {
    const fresh = await startTestGateway({ clock })
    t.teardown(() => fresh.close())
    await censureWithWrittenRequests(t, fresh)
    for (let n = 0; n < maxPendingRequests; n++) t.equal((await file(fresh, rapRequest, token({ ori: bay, sub: `det-${n % 20}` }))).status, 201)
    const over = await file(fresh, rapRequest, token({ ori: bay, sub: 'det-x' }))
    t.equal(over.status, 429)
    t.equal(over.body.error.code, 'pending_requests_limit')
    t.equal((await file(fresh, rapRequest, token({ ori: lapd }))).status, 201, 'another agency is not affected')
  })
})

t.test('sanctions that carry written requests', async (t) => {
  const clock = new TestClock()
  const gw = await startTestGateway({ clock })
  t.teardown(() => gw.close())
  await censureWithWrittenRequests(t, gw)
  const removal = await admin(gw, 'PUT', `/v1/agencies/${bay}/sanction`, { type: 'removal', writtenRequests: true, reason: 'r' })
  t.equal(removal.status, 400)
  t.equal(removal.body.error.code, 'invalid_sanction')
  t.same(removal.body.error.issues, [{ path: 'writtenRequests', message: 'only with a censure or a non_criminal_history suspension' }])
  const total = await admin(gw, 'PUT', `/v1/agencies/${bay}/sanction`, { type: 'suspension', scope: 'all', writtenRequests: true, reason: 'r' })
  t.equal(total.body.error.code, 'invalid_sanction')
  t.match((await admin(gw, 'GET', `/v1/agencies/${bay}`)).body.sanction, { type: 'censure', writtenRequests: true }, 'a refused sanction changed nothing')

  // EFF's ask exactly: DMV suspended, criminal history only in writing.
  const suspended = await admin(gw, 'PUT', `/v1/agencies/${bay}/sanction`, { type: 'suspension', scope: 'non_criminal_history', writtenRequests: true, until: '2026-07-01T00:00:00Z', reason: 'misuse suspected' })
  t.equal(suspended.status, 200)
  const terminal = token({ ori: bay, sub: 'det-example' })
  t.equal((await query(gw.url, licence, terminal)).body.decision.rule, 'agency.suspended')
  t.equal((await query(gw.url, { ...rapRequest, justification: undefined, requester: undefined }, terminal)).body.decision.rule, 'agency.written_request_required')
  t.equal((await file(gw, { ...rapRequest, database: 'dmv.driver_license', subject: { licenseNumber: 'A1234567' } })).body.decision.rule, 'agency.suspended', 'the suspended data is not reachable in writing either')
  t.equal((await file(gw, rapRequest)).status, 201, 'criminal history in writing is')
  clock.value = Date.parse('2026-07-01T00:00:00Z')
  t.equal((await query(gw.url, { ...rapRequest, justification: undefined, requester: undefined }, terminal)).status, 200, 'the measure lapses with the suspension')

  const plain = await admin(gw, 'PUT', `/v1/agencies/${bay}/sanction`, { type: 'censure', writtenRequests: false, reason: 'letter of censure' })
  t.equal(plain.status, 200)
  t.notOk('writtenRequests' in plain.body.sanction, 'a sanction without the measure keeps its old shape')
  t.equal((await query(gw.url, licence, terminal)).status, 200)

  const policy = await loadPolicyDir(policyDir)
  t.ok(policy.tests.some((testCase) => testCase.expect.rule === 'agency.written_request_required'), 'the policy test cases cover the rule')
  t.ok(policy.citations['agency.written_request_required'], 'and the policies cite its source')
})

t.test('redis store, two instances: filed and retrieved on B, decided on A', async (t) => {
  const redis = await startRedis()
  const clock = new TestClock()
  const env = { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '300' }
  await initRedis(redis.url, { now: clock.value })
  const a = await startTestGateway({ clock, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-a' } })
  const b = await startTestGateway({ clock, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-b' } })
  t.teardown(async () => {
    await a.close()
    await b.close()
    await redis.stop()
  })
  await t.test('the story', (t) => story(t, { name: 'redis', terminalSide: b, operatorSide: a, clock, auditDirs: [a.auditDir, b.auditDir] }))

  t.test('two retrievals at once, on two instances: one gets the records, the other none', async (t) => {
    const filed = await file(b, { ...rapRequest, caseNumber: '26-004740' })
    await admin(a, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'ok' })
    const answers = await Promise.all([retrieve(a, filed.body.id), retrieve(b, filed.body.id)])
    t.equal(answers.filter((answer) => answer.status === 200).length, 1, 'exactly one delivery')
    const other = answers.find((answer) => answer.status !== 200)
    // 409 while the first holds its claim, 410 once it delivered: which one depends on the timing.
    t.ok(other?.body.error.code === 'request_not_approved' || other?.body.error.code === 'request_gone', other?.body.error?.code)
    t.notOk(other !== undefined && 'records' in other.body)
    t.equal(
      [a.auditDir, b.auditDir].flatMap((dir) => ledgerRecords(dir)).filter((record) => record.request === filed.body.id && record.type === 'request.delivered').length,
      1,
    )
  })

  t.test('both ledgers verify', async (t) => {
    await a.close()
    await b.close()
    for (const dir of [a.auditDir, b.auditDir]) t.equal((await verifyLedger(dir)).problem, null, dir)
  })
})

t.test('answers trimmed to the purpose in writing too: a federal agency gets the address only through a request DOJ approved', async (t) => {
  // Issue 12, point 6: "federal agencies get no address without an approved written request".
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const cbp = 'CACBP0000'
  const officer = token({ ori: cbp, sub: 'cbp-agent-1' })
  const lookup = { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: { licenseNumber: 'A1234567' }, caseNumber: '21USC952-7', justification: 'the driver of a vehicle seen at a smuggling drop' }
  const terminal = await query(gw.url, lookup, officer)
  t.equal(terminal.status, 200)
  t.notOk('address' in terminal.body.records[0].person, 'at the terminal: no address')
  t.match(ledgerRecords(gw.auditDir).find((record) => record.id === terminal.body.decision.id), { projection: 'licence.without_address' })

  const filed = await file(gw, { ...lookup, requester: { name: 'Agent Example (invented)', ori: cbp } }, officer)
  t.equal(filed.status, 201)
  t.equal((await admin(gw, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'one address, for this investigation' })).status, 200)
  const result = await retrieve(gw, filed.body.id, officer)
  t.equal(result.status, 200)
  t.ok(result.body.records[0].person.address.street, 'in writing, approved by DOJ: the address')
  t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'request.executed' && record.request === filed.body.id), { outcome: 'allow', projection: 'full' })

  // A traffic stop is trimmed whatever the channel.
  const lapdOfficer = token({ sub: 'lapd-officer-9' })
  const traffic = await file(gw, { ...licence, justification: 'a traffic stop, filed in writing', requester: { name: 'Officer Example (invented)' } }, lapdOfficer)
  t.equal(traffic.status, 201)
  t.equal((await admin(gw, 'POST', `/v1/requests/${traffic.body.id}/approve`, { reason: 'ok' })).status, 200)
  const trimmed = await retrieve(gw, traffic.body.id, lapdOfficer)
  t.equal(trimmed.status, 200)
  t.notOk('address' in trimmed.body.records[0].person, 'a traffic stop never gets the address')
  t.same((await verifyLedger(gw.auditDir)).problem, null)
})

t.test('written requests bound to people: only the filer, or the officer the approval names, retrieves; each answers for it', async (t) => {
  const clock = new TestClock()
  const gw = await startTestGateway({ clock })
  t.teardown(() => gw.close())
  await censureWithWrittenRequests(t, gw)
  const filer = token({ ori: bay, sub: 'det-example' })
  const colleague = token({ ori: bay, sub: 'det-colleague' })
  const partner = token({ ori: bay, sub: 'det-partner' })
  const approve = (id: string, body: Record<string, unknown> = { reason: 'ok' }) => admin(gw, 'POST', `/v1/requests/${id}/approve`, body)
  const sanction = (sub: string, body: Record<string, unknown>) => admin(gw, 'PUT', `/v1/officers/${bay}/${encodeURIComponent(sub)}/sanction`, body)
  const lift = (sub: string) => admin(gw, 'DELETE', `/v1/officers/${bay}/${encodeURIComponent(sub)}/sanction`, { reason: 'reinstated' })

  t.test('a colleague at the same agency is refused 403 request_not_yours; nothing changes, and the filer retrieves it', async (t) => {
    const filed = await file(gw, { ...rapRequest, caseNumber: '26-005001' })
    t.equal(filed.body.officer, 'det-example')
    t.equal(filed.body.retriever, null)
    await approve(filed.body.id)
    const before = (await admin(gw, 'GET', `/v1/requests/${filed.body.id}`)).body
    const taken = await retrieve(gw, filed.body.id, colleague)
    t.equal(taken.status, 403)
    t.equal(taken.body.error.code, 'request_not_yours')
    t.notOk('records' in taken.body)
    t.same((await admin(gw, 'GET', `/v1/requests/${filed.body.id}`)).body, before, 'the request did not change')
    t.notOk(ledgerRecords(gw.auditDir).some((record) => record.request === filed.body.id && record.type === 'request.executed'), 'nothing was executed')
    const seen = await call(gw.url, 'GET', `/v1/requests/${filed.body.id}`, { token: colleague })
    t.equal(seen.status, 200, 'a colleague still sees the request and its status (docs/identity.md)')
    t.equal(seen.body.status, 'approved')
    t.equal((await retrieve(gw, filed.body.id, token({ ori: bay, sub: 'DET-EXAMPLE' }))).status, 200, 'the filer, whatever the spelling of the user id')
  })

  t.test('the approval may name a retriever: that officer retrieves, shown in GET and on the ledger; a third is refused', async (t) => {
    const filed = await file(gw, { ...rapRequest, caseNumber: '26-005002' })
    const approved = await approve(filed.body.id, { reason: 'ok; Det. Partner collects it', retriever: 'ＤＥＴ-Partner' })
    t.equal(approved.status, 200)
    t.equal(approved.body.retriever, 'det-partner', 'folded: full-width and capitals name the same officer')
    t.equal((await call(gw.url, 'GET', `/v1/requests/${filed.body.id}`, { token: filer })).body.retriever, 'det-partner')
    t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'request.approved' && record.request === filed.body.id), { retriever: 'det-partner', expiresAt: approved.body.approvalExpiresAt })
    t.equal((await retrieve(gw, filed.body.id, colleague)).body.error.code, 'request_not_yours')
    const result = await retrieve(gw, filed.body.id, partner)
    t.equal(result.status, 200)
    t.ok(result.body.records.length >= 1)
    t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'request.delivered' && record.request === filed.body.id), { sub: 'det-partner' })
  })

  t.test('a retriever that is no user id is refused 400, and the request stays pending', async (t) => {
    const filed = await file(gw, { ...rapRequest, caseNumber: '26-005003' })
    for (const retriever of ['det partner', '', 'é'.repeat(3), 'x'.repeat(129)]) {
      const answer = await approve(filed.body.id, { reason: 'ok', retriever })
      t.equal(answer.status, 400, JSON.stringify(retriever))
      t.equal(answer.body.error.code, 'invalid_request')
    }
    t.equal((await admin(gw, 'GET', `/v1/requests/${filed.body.id}`)).body.status, 'pending')
    t.equal((await call(gw.url, 'POST', `/v1/requests/${filed.body.id}/refuse`, { token: op, body: { reason: 'no', retriever: 'det-partner' } })).body.error.code, 'invalid_request', 'a refusal names no retriever')
  })

  t.test('an officer removed after filing: their request yields nothing, to them or to the retriever, with the officer rule, audited', async (t) => {
    const mine = await file(gw, { ...rapRequest, caseNumber: '26-005004' })
    const named = await file(gw, { ...rapRequest, caseNumber: '26-005005' })
    await approve(mine.body.id)
    await approve(named.body.id, { reason: 'ok', retriever: 'det-partner' })
    t.equal((await sanction('Det-Example', { type: 'removal', reason: 'misuse confirmed (invented)' })).status, 200)
    t.teardown(() => lift('det-example'))
    const own = await retrieve(gw, mine.body.id, filer)
    t.equal(own.status, 403)
    t.equal(own.body.decision.rule, 'officer.suspended')
    const viaPartner = await retrieve(gw, named.body.id, partner)
    t.equal(viaPartner.status, 403)
    t.equal(viaPartner.body.decision.rule, 'officer.suspended')
    t.match(viaPartner.body.decision.reason, /officer who filed this request \(det-example\)/)
    for (const id of [mine.body.id, named.body.id]) {
      t.equal((await admin(gw, 'GET', `/v1/requests/${id}`)).body.status, 'denied')
      t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'request.executed' && record.request === id), { outcome: 'deny', rule: 'officer.suspended', status: 403, recordCount: 0 })
    }
  })

  t.test('a retriever suspended after the approval receives nothing', async (t) => {
    const filed = await file(gw, { ...rapRequest, caseNumber: '26-005006' })
    await approve(filed.body.id, { reason: 'ok', retriever: 'det-partner' })
    t.equal((await sanction('DET-PARTNER', { type: 'suspension', scope: 'all', reason: 'under investigation (invented)' })).status, 200)
    t.teardown(() => lift('det-partner'))
    const result = await retrieve(gw, filed.body.id, partner)
    t.equal(result.status, 403)
    t.equal(result.body.decision.rule, 'officer.suspended')
    t.match(result.body.decision.reason, /^This officer's CLETS access/)
  })

  t.test('the ledger verifies', async (t) => {
    await gw.close()
    t.equal((await verifyLedger(gw.auditDir)).problem, null)
  })
})

t.test("an approval's validity is policy data (limits.yaml), read when DOJ approves", async (t) => {
  const clock = new TestClock()
  const policies = tempDir('policies')
  cpSync(policyDir, policies, { recursive: true })
  const limits = join(policies, 'limits.yaml')
  const shipped = readFileSync(limits, 'utf8')
  t.match(shipped, /approvalSeconds: 604800/, 'a week as shipped')
  writeFileSync(limits, shipped.replace('approvalSeconds: 604800', 'approvalSeconds: 3600'))
  const gw = await startTestGateway({ clock, env: { POLICY_DIR: policies } })
  t.teardown(() => gw.close())
  await censureWithWrittenRequests(t, gw)
  t.same((await admin(gw, 'GET', '/v1/policy')).body.writtenRequests, { approvalSeconds: 3600 }, 'GET /v1/policy shows it')
  const filed = await file(gw, rapRequest)
  const approvedAt = clock.value
  const approved = await admin(gw, 'POST', `/v1/requests/${filed.body.id}/approve`, { reason: 'ok' })
  t.equal(approved.body.approvalExpiresAt, new Date(approvedAt + 3_600_000).toISOString())
  // A later change applies to later approvals only.
  writeFileSync(limits, shipped)
  t.equal(await gw.gateway.reloadPolicy(), null)
  clock.advance(3_600_000 - 1)
  t.equal((await admin(gw, 'GET', `/v1/requests/${filed.body.id}`)).body.status, 'approved', 'valid up to its end')
  clock.advance(1)
  t.equal((await admin(gw, 'GET', `/v1/requests/${filed.body.id}`)).body.status, 'expired')
  const late = await retrieve(gw, filed.body.id)
  t.equal(late.status, 410)
  t.equal(late.body.error.code, 'request_gone')
  t.match(late.body.error.message, /approval of written request .* expired on .* unused/)

  writeFileSync(limits, shipped.replace('approvalSeconds: 604800', 'approvalSeconds: 60'))
  const refused = await gw.gateway.reloadPolicy()
  t.match(String(refused), /limits\.yaml: writtenRequests\.approvalSeconds/, 'less than an hour is refused, naming the setting')
})

t.test("a written request's justification and requester refuse the control characters a query's justification refuses: 400 invalid_request, nothing filed", async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const detective = token({ sub: 'det-example' })
  const good = rapSheetRequest({ caseNumber: '26-004712', justification: 'Robbery on Main Street; the suspect named by a witness.', requester: { name: 'Det. Alex Example', title: 'Detective', ori: lapd } })
  // An ANSI escape (clears an operator's screen), a newline or carriage return (a forged line in
  // `gatewayctl requests`), NUL, DEL, a C1 control, the line separator, a bidi override and isolate,
  // and a leading space (the text must start with a visible character).
  const controls = ['\u001b[2J', 'a\nb', 'a\rb', 'a\u0000', 'a\u007f', 'a\u0085', 'a\u2028b', 'a\u202eb', 'a\u2066b', ' leading', '\tTab']
  const filedBefore = ledgerRecords(gw.auditDir).filter((record) => record.type === 'request.filed').length
  for (const text of controls) {
    // Named by its escapes: a raw control character in a test name would break the TAP stream.
    const name = printable(JSON.stringify(text))
    const asQuery = await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' }, justification: text }, detective)
    t.equal(asQuery.body.error?.code, 'invalid_request', `a query's justification refuses ${name}`)
    // White space is refused only first; inside the text it is fine, as in a query.
    const inside = /^\s/.test(text) ? [] : [['justification', { ...good, justification: `Robbery ${text}` }], ['title', { ...good, requester: { ...good.requester, title: `Det${text}` } }]] as const
    for (const [field, body] of [...inside, ['justification', { ...good, justification: text }], ['name', { ...good, requester: { ...good.requester, name: text } }]] as const) {
      const answer = await call(gw.url, 'POST', '/v1/requests', { token: detective, body })
      t.equal(answer.status, 400, `the ${field} refuses ${name}`)
      t.equal(answer.body.error?.code, 'invalid_request')
    }
  }
  t.same((await call(gw.url, 'GET', '/v1/requests', { token: operatorToken() })).body, [], 'nothing was filed')
  t.equal(ledgerRecords(gw.auditDir).filter((record) => record.type === 'request.filed').length, filedBefore, 'and nothing recorded as filed')
  const filed = await call(gw.url, 'POST', '/v1/requests', { token: detective, body: { ...good, justification: 'Robbery on Main St — «Zeugin» sagt: 𝔄 suspect, café ok' } })
  t.equal(filed.status, 201, 'printable text of any script is fine')
})
