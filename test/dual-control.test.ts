// Two-person control (policies/authority.yaml, dualControl), as DOJ operators and the sanctioned agency
// see it: with the flags on, lifting a removal or a suspension answers 202 with a proposed change and
// the sanction still binds; the proposer cannot approve it (however the token spells them); a second
// operator approves it, on another instance of a shared Redis too, and the agency is served again;
// proposals lapse on the injected clock; a sanction changed meanwhile is not lifted; two approvals at
// once apply it once; with the flags off (the shipped policies) a lift answers 200 as it always did.
// The agency is the sample Bayview County Sheriff's Department (fictional); the sanctions and their
// reasons are invented.
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { call, ledgerRecords, sheriff, operatorToken, policyDir, query, runGatewayctl, startTestGateway, tempDir, TestClock, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'
import { searchLedger } from '../src/audit/search.js'
import { verifyLedger } from '../src/audit/verify.js'

const pendingSeconds = 3600
const policies = tempDir('policies')
cpSync(policyDir, policies, { recursive: true })
const authority = join(policies, 'authority.yaml')
writeFileSync(
  authority,
  readFileSync(authority, 'utf8')
    .replace('liftRemoval: false', 'liftRemoval: true')
    .replace('liftSuspension: false', 'liftSuspension: true')
    .replace('pendingSeconds: 86400', `pendingSeconds: ${pendingSeconds}`),
)
t.match(readFileSync(authority, 'utf8'), /liftRemoval: true[\s\S]*liftSuspension: true/, 'the copied policies turn both flags on')

const op1 = operatorToken()
const op2 = token({ sub: 'doj-operator-2', ori: 'CA0349400', roles: ['doj_operator'] })
const op3 = token({ sub: 'doj-operator-3', ori: 'CA0349400', roles: ['doj_operator'] })
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
let officers = 0
/** A fresh officer each time: these tests are about sanctions, not the per-officer rate limit. */
const officer = () => token({ sub: `officer-${++officers}`, ori: sheriff })

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE'
const as = (gw: TestGateway, bearer: string) => (method: Method, path: string, body?: unknown) => call(gw.url, method, path, { token: bearer, ...(body === undefined ? {} : { body }) })
const impose = (gw: TestGateway, type: string, reason = 'misuse found in an audit (invented)') => as(gw, op1)('PUT', `/v1/agencies/${sheriff}/sanction`, { type, reason })
const lift = (gw: TestGateway, bearer = op1) => as(gw, bearer)('DELETE', `/v1/agencies/${sheriff}/sanction`, { reason: 'the agency remedied the findings (invented)' })
const approve = (gw: TestGateway, id: string, bearer = op2) => as(gw, bearer)('POST', `/v1/changes/${id}/approve`, { reason: 'second operator: findings checked' })

t.test('embedded store', async (t) => {
  const clock = new TestClock()
  const gw = await startTestGateway({ clock, env: { POLICY_DIR: policies } })
  t.teardown(() => gw.close())

  t.test('a lift answers 202 with a proposed change and the sanction still binds; the proposer cannot approve it; a second operator does', async (t) => {
    t.equal((await impose(gw, 'suspension')).status, 200, 'imposing is direct')
    t.equal((await query(gw.url, dl, officer())).body.decision?.rule, 'agency.suspended')

    const proposed = await lift(gw)
    t.equal(proposed.status, 202)
    const change = proposed.body.change
    t.match(change, {
      id: /^[0-9a-f-]{36}$/,
      action: 'sanction.lift',
      ori: sheriff,
      reason: 'the agency remedied the findings (invented)',
      sanction: { type: 'suspension', scope: 'all' },
      proposedBy: { operator: 'doj-operator-1', operatorOri: 'CA0349400' },
      proposedAt: new Date(clock.value).toISOString(),
      expiresAt: new Date(clock.value + pendingSeconds * 1000).toISOString(),
      status: 'pending',
      decidedBy: null,
    })
    t.notOk('officer' in change, "an agency's lift names no officer")
    t.equal(proposed.headers['x-audit-id'], change.id)
    t.equal((await query(gw.url, dl, officer())).body.decision?.rule, 'agency.suspended', 'a terminal query is still denied')
    t.match((await as(gw, op1)('GET', `/v1/agencies/${sheriff}`)).body, { sanction: { type: 'suspension' } }, 'nothing else changed')

    t.same((await as(gw, op2)('GET', '/v1/changes')).body.map((listed: { id: string }) => listed.id), [change.id], 'listed as pending')
    t.match((await as(gw, op2)('GET', `/v1/changes/${change.id}`)).body, { id: change.id, status: 'pending' })

    const own = await approve(gw, change.id, op1)
    t.equal(own.status, 403)
    t.equal(own.body.error.code, 'change_self_approval')
    const respelled = await approve(gw, change.id, token({ sub: 'DOJ-Operator-1', ori: 'CA0349400', roles: ['doj_operator'] }))
    t.equal(respelled.body.error?.code, 'change_self_approval', 'the same person in other capitals is the same person')
    t.equal((await query(gw.url, dl, officer())).body.decision?.rule, 'agency.suspended', 'still denied')

    const approved = await approve(gw, change.id)
    t.equal(approved.status, 200)
    t.match(approved.body, { change: { id: change.id, status: 'applied', decidedBy: { operator: 'doj-operator-2', operatorOri: 'CA0349400' }, decisionReason: 'second operator: findings checked' }, agency: { ori: sheriff, sanction: null } })
    t.equal((await query(gw.url, dl, officer())).status, 200, 'the agency is served again')
    t.equal((await approve(gw, change.id, op3)).body.error?.code, 'change_not_pending', 'an applied change is not applied again')
    t.same((await as(gw, op2)('GET', '/v1/changes')).body, [], 'no longer pending')
    t.same((await as(gw, op2)('GET', '/v1/changes?status=applied')).body.map((listed: { id: string }) => listed.id), [change.id])

    // The ledger: proposed, approved, then the lift as a direct one is recorded, naming the proposal.
    const records = ledgerRecords(gw.auditDir)
    const steps = records.filter((record) => record.id === change.id || record.change === change.id)
    t.same(steps.map((record) => record.type), ['change.proposed', 'change.approved', 'operator.change'], 'each step recorded, in order')
    t.match(steps[0], { operator: 'doj-operator-1', operatorOri: 'CA0349400', action: 'sanction.lift', ori: sheriff, sanction: { type: 'suspension' }, expiresAt: change.expiresAt })
    t.match(steps[1], { operator: 'doj-operator-2', action: 'sanction.lift', ori: sheriff, reason: 'second operator: findings checked' })
    t.match(steps[2], { operator: 'doj-operator-2', action: 'sanction.lift', reason: 'the agency remedied the findings (invented)', before: { sanction: { type: 'suspension' } }, after: { sanction: null } })
    t.equal(approved.headers['x-audit-id'], steps[2].id, 'the answer names the lift')

    const history = await as(gw, op1)('GET', `/v1/agencies/${sheriff}/history`)
    t.same(
      history.body.entries.filter((entry: { change?: string }) => entry.change === change.id).map((entry: { action: string }) => entry.action),
      ['change.proposed', 'change.approved', 'sanction.lift'],
      "the agency's history shows the proposal",
    )
  })

  t.test('a censure, or no sanction at all, is lifted at once as before', async (t) => {
    t.equal((await impose(gw, 'censure')).status, 200)
    const lifted = await lift(gw)
    t.equal(lifted.status, 200)
    t.equal(lifted.body.sanction, null)
    t.equal((await lift(gw)).status, 200, 'nothing to lift: the audited no-op it always was')
  })

  t.test('bad input changes nothing: an unknown id is 404, a malformed one 400, a missing reason 400', async (t) => {
    const before = ledgerRecords(gw.auditDir).length
    t.equal((await approve(gw, '00000000-0000-4000-8000-000000000000')).body.error?.code, 'change_not_found')
    t.equal((await as(gw, op2)('GET', '/v1/changes/00000000-0000-4000-8000-000000000000')).status, 404)
    t.equal((await approve(gw, 'not-a-uuid')).body.error?.code, 'invalid_request')
    t.equal((await as(gw, op2)('POST', '/v1/changes/00000000-0000-4000-8000-000000000000/approve', {})).body.error?.code, 'invalid_request')
    t.equal((await as(gw, op2)('GET', '/v1/changes?status=lost')).body.error?.code, 'invalid_request')
    t.equal((await call(gw.url, 'GET', '/v1/changes', { token: officer() })).body.error?.code, 'role_forbidden', 'a terminal sees none')
    t.equal(ledgerRecords(gw.auditDir).length, before, 'nothing recorded')
  })

  t.test('a proposal lapses after pendingSeconds (the injected clock); a pending one may be cancelled by any operator; the removal stays', async (t) => {
    t.equal((await impose(gw, 'removal')).status, 200)
    const first = (await lift(gw)).body.change
    clock.advance(pendingSeconds * 1000)
    t.match((await as(gw, op2)('GET', `/v1/changes/${first.id}`)).body, { status: 'expired' })
    t.same((await as(gw, op2)('GET', '/v1/changes?status=expired')).body.map((listed: { id: string }) => listed.id), [first.id])
    const late = await approve(gw, first.id)
    t.equal(late.status, 410)
    t.equal(late.body.error.code, 'change_expired')
    t.equal((await query(gw.url, dl, officer())).body.decision?.rule, 'agency.suspended', 'the removal still binds')

    const second = (await lift(gw)).body.change
    const cancelled = await as(gw, op1)('POST', `/v1/changes/${second.id}/cancel`, { reason: 'proposed too early' })
    t.equal(cancelled.status, 200)
    t.match(cancelled.body, { id: second.id, status: 'cancelled', decidedBy: { operator: 'doj-operator-1' }, decisionReason: 'proposed too early' })
    t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'change.cancelled' && record.change === second.id), { operator: 'doj-operator-1', ori: sheriff, reason: 'proposed too early' })
    t.equal((await approve(gw, second.id)).body.error?.code, 'change_not_pending', 'a cancelled change is not approved')
    t.equal((await as(gw, op2)('POST', `/v1/changes/${first.id}/cancel`, { reason: 'x' })).body.error?.code, 'change_expired')
    t.equal((await query(gw.url, dl, officer())).body.decision?.rule, 'agency.suspended')
  })

  t.test('a sanction replaced after the proposal is not lifted by its approval (409 change_stale)', async (t) => {
    const stale = (await lift(gw)).body.change
    t.equal((await impose(gw, 'removal', 'a second finding (invented)')).status, 200, 'a new removal replaces the one proposed for lifting')
    const refused = await approve(gw, stale.id)
    t.equal(refused.status, 409)
    t.equal(refused.body.error.code, 'change_stale')
    t.equal((await query(gw.url, dl, officer())).body.decision?.rule, 'agency.suspended', 'the new removal binds')
    t.notOk(ledgerRecords(gw.auditDir).some((record) => record.change === stale.id && record.type !== 'change.proposed'), 'nothing recorded for the refused approval')
    t.equal((await as(gw, op2)('POST', `/v1/changes/${stale.id}/cancel`, { reason: 'its sanction was replaced' })).status, 200, 'a stale proposal is cancelled (or lapses)')

    const current = (await lift(gw)).body.change
    t.equal((await approve(gw, current.id)).status, 200, 'a proposal of the sanction in force is approved')
    t.equal((await query(gw.url, dl, officer())).status, 200)
  })

  t.test("an officer's removal: 202, the officer still refused, then lifted by a second operator", async (t) => {
    const path = `/v1/officers/${sheriff}/officer-remove-1/sanction`
    const removed = token({ sub: 'officer-remove-1', ori: sheriff })
    t.equal((await as(gw, op1)('PUT', path, { type: 'removal', reason: 'credential sharing (invented)' })).status, 200)
    const proposed = await as(gw, op1)('DELETE', path, { reason: 'retrained (invented)' })
    t.equal(proposed.status, 202)
    t.match(proposed.body.change, { action: 'officer.sanction.lift', ori: sheriff, officer: 'officer-remove-1', sanction: { type: 'removal' } })
    t.equal((await query(gw.url, dl, removed)).body.decision?.rule, 'officer.suspended')
    const approved = await approve(gw, proposed.body.change.id)
    t.equal(approved.status, 200)
    t.match(approved.body, { officer: { ori: sheriff, sub: 'officer-remove-1', sanction: null } })
    t.equal((await query(gw.url, dl, removed)).status, 200)
    t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'officer.change' && record.change === proposed.body.change.id), { operator: 'doj-operator-2', sub: 'officer-remove-1', after: { sanction: null } })
  })

  t.test('gatewayctl: reinstate says the change is pending a second operator (exit 0, its id); changes list, show, approve', async (t) => {
    const ctl = (bearer: string, ...args: string[]) => runGatewayctl(args, { env: { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: bearer } })
    t.equal((await impose(gw, 'removal')).status, 200)
    const proposed = await ctl(op1, 'agencies', 'reinstate', sheriff, '--reason', 'remedied (invented)')
    t.equal(proposed.code, 0, proposed.stderr)
    const id = /change ([0-9a-f-]{36})/.exec(proposed.stdout)?.[1]
    t.ok(id, 'the change id is printed')
    t.match(proposed.stdout, /^pending a second operator: lifting the removal of CA0990000 needs another DOJ operator's approval; nothing has changed yet$/m)
    t.equal((await query(gw.url, dl, officer())).body.decision?.rule, 'agency.suspended', 'nothing changed')

    const listed = await ctl(op2, 'changes', 'list', '--json')
    t.equal(listed.code, 0)
    t.same(JSON.parse(listed.stdout).map((change: { id: string }) => change.id), [id])
    const table = await ctl(op2, 'changes', 'list')
    const [header, line, count] = table.stdout.split('\n')
    t.match(header, /^ID +PROPOSED +ACTION +TARGET +SANCTION +BY +EXPIRES +STATUS$/)
    t.same(line!.split(/ {2,}/), [id, new Date(clock.value).toISOString(), 'sanction.lift', sheriff, 'removal', 'doj-operator-1 (CA0349400)', new Date(clock.value + pendingSeconds * 1000).toISOString(), 'pending'])
    t.equal(count, '1 changes')
    t.match((await ctl(op2, 'changes', 'show', id!)).stdout, /sanction lifted +removal since /)

    const own = await ctl(op1, 'changes', 'approve', id!, '--reason', 'mine')
    t.equal(own.code, 1)
    t.match(own.stderr, /^error 403: change_self_approval: /)
    t.equal((await ctl(op2, 'changes', 'approve', 'nope', '--reason', 'x')).code, 2, 'a malformed id is a usage error')
    t.equal((await ctl(op2, 'changes', 'approve', id!)).code, 2, '--reason is required')
    const approved = await ctl(op2, 'changes', 'approve', id!, '--reason', 'checked')
    t.equal(approved.code, 0, approved.stderr)
    t.match(approved.stdout, `approved: change ${id} applied; the removal of CA0990000 is lifted`)
    t.equal((await query(gw.url, dl, officer())).status, 200)

    t.equal((await as(gw, op1)('PUT', `/v1/officers/${sheriff}/officer-cli-1/sanction`, { type: 'suspension', reason: 'invented' })).status, 200)
    const officerLift = await ctl(op1, 'officers', 'reinstate', sheriff, 'officer-cli-1', '--reason', 'served (invented)')
    t.equal(officerLift.code, 0, officerLift.stderr)
    t.match(officerLift.stdout, /lifting the suspension of CA0990000 officer officer-cli-1 needs another DOJ operator's approval/)
    const officerId = /change ([0-9a-f-]{36})/.exec(officerLift.stdout)![1]!
    const cancelled = await ctl(op2, 'changes', 'cancel', officerId, '--reason', 'not yet', '--json')
    t.equal(cancelled.code, 0, cancelled.stderr)
    t.match(JSON.parse(cancelled.stdout), { id: officerId, status: 'cancelled' })
  })

  t.test('the ledger with every step verifies, and the audit search finds the steps by agency, officer and type', async (t) => {
    const report = await verifyLedger(gw.auditDir)
    t.equal(report.problem, null, 'gatewayctl audit verify finds nothing wrong')
    const proposals = await searchLedger(gw.auditDir, { ori: sheriff, type: 'change.proposed' })
    t.ok(proposals.length >= 5, `${proposals.length} proposals of LAPD's lifts`)
    t.same((await searchLedger(gw.auditDir, { sub: 'officer-remove-1' })).map((record) => record.type).filter((type) => !type.startsWith('query.')), ['officer.change', 'change.proposed', 'change.approved', 'officer.change'], "the officer's sanction, the proposal, the approval, the lift (beside the officer's queries)")
    t.ok((await searchLedger(gw.auditDir, { type: 'change.cancelled' })).length >= 2)
  })

  t.test('proposals survive a restart of the embedded store', async (t) => {
    t.equal((await impose(gw, 'suspension')).status, 200)
    const pending = (await lift(gw)).body.change
    await gw.close()
    const again = await startTestGateway({ clock, stateDir: gw.stateDir, auditDir: gw.auditDir, env: { POLICY_DIR: policies } })
    t.teardown(() => again.close())
    t.match((await as(again, op2)('GET', `/v1/changes/${pending.id}`)).body, { id: pending.id, status: 'pending' })
    t.equal((await approve(again, pending.id)).status, 200)
    t.equal((await query(again.url, dl, officer())).status, 200)
  })
})

t.test('with the flags off (the shipped policies) a lift answers 200 as before', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  t.equal((await impose(gw, 'removal')).status, 200)
  const lifted = await lift(gw)
  t.equal(lifted.status, 200)
  t.equal(lifted.body.sanction, null)
  t.equal((await query(gw.url, dl, officer())).status, 200)
  t.notOk(ledgerRecords(gw.auditDir).some((record) => record.type.startsWith('change.')), 'no proposal')
})

t.test('two instances on one Redis', async (t) => {
  const redis = await startRedis()
  const clock = new TestClock()
  const env = { REDIS_URL: redis.url, POLICY_DIR: policies }
  await initRedis(redis.url, { now: clock.value })
  const a = await startTestGateway({ clock, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-a' } })
  const b = await startTestGateway({ clock, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-b' } })
  t.teardown(async () => {
    await a.close()
    await b.close()
    await redis.stop()
  })

  t.test('proposed on one instance, approved by a second operator on the other: both serve the agency again', async (t) => {
    t.equal((await impose(a, 'suspension')).status, 200)
    const proposed = await lift(a)
    t.equal(proposed.status, 202)
    t.equal((await query(b.url, dl, officer())).body.decision?.rule, 'agency.suspended', 'still denied on B')
    t.same((await as(b, op2)('GET', '/v1/changes')).body.map((listed: { id: string }) => listed.id), [proposed.body.change.id], 'B lists it')
    t.equal((await approve(b, proposed.body.change.id, op1)).body.error?.code, 'change_self_approval', 'the proposer, on the other instance')
    t.equal((await approve(b, proposed.body.change.id)).status, 200)
    t.equal((await query(a.url, dl, officer())).status, 200, 'A serves it')
    t.equal((await query(b.url, dl, officer())).status, 200, 'B serves it')
  })

  t.test('two approvals at once, one on each instance: the lift applies once', async (t) => {
    t.equal((await impose(a, 'removal')).status, 200)
    const id = (await lift(a)).body.change.id
    const answers = await Promise.all([approve(a, id, op2), approve(b, id, op3)])
    t.same(answers.map((answer) => answer.status).sort(), [200, 409], 'one applies, the other is refused')
    t.equal(answers.find((answer) => answer.status === 409)!.body.error.code, 'change_not_pending')
    const lifts = [...ledgerRecords(a.auditDir), ...ledgerRecords(b.auditDir)].filter((record) => record.type === 'operator.change' && record.change === id)
    t.equal(lifts.length, 1, 'one lift recorded')
    t.equal((await query(b.url, dl, officer())).status, 200)
    t.match((await as(a, op1)('GET', `/v1/changes/${id}`)).body, { status: 'applied' })
  })

  t.test('a proposal lapses on the injected clock on every instance', async (t) => {
    t.equal((await impose(a, 'suspension')).status, 200)
    const id = (await lift(b)).body.change.id
    clock.advance(pendingSeconds * 1000)
    t.equal((await approve(a, id)).body.error?.code, 'change_expired')
    t.equal((await query(a.url, dl, officer())).body.decision?.rule, 'agency.suspended')
  })
})

t.test("no operator approves or cancels a lift proposed for their own agency (a second DOJ ORI, invented)", async (t) => {
  const secondDoj = 'CA0349401'
  const dir = tempDir('policies-two-doj')
  cpSync(policies, dir, { recursive: true })
  const file = join(dir, 'authority.yaml')
  writeFileSync(file, readFileSync(file, 'utf8').replace('  - CA0349400', `  - CA0349400\n  - ${secondDoj}`))
  const gw = await startTestGateway({ env: { POLICY_DIR: dir } })
  t.teardown(() => gw.close())
  const own = token({ sub: 'doj-operator-9', ori: secondDoj, roles: ['doj_operator'] })
  const reason = 'an invented second DOJ office, for this test'
  t.equal((await as(gw, op1)('PUT', `/v1/agencies/${secondDoj}`, { name: 'Invented DOJ office', kind: 'state', reason })).status, 201)
  t.equal((await as(gw, op1)('PUT', `/v1/agencies/${secondDoj}/sanction`, { type: 'suspension', reason })).status, 200)
  const proposed = await as(gw, op1)('DELETE', `/v1/agencies/${secondDoj}/sanction`, { reason })
  t.equal(proposed.status, 202)
  const id = proposed.body.change.id
  for (const step of ['approve', 'cancel']) {
    const refused = await as(gw, own)('POST', `/v1/changes/${id}/${step}`, { reason })
    t.equal(refused.status, 403, `${step} by an operator of the agency concerned`)
    t.equal(refused.body.error.code, 'own_agency_forbidden')
  }
  t.match((await as(gw, op2)('GET', `/v1/changes/${id}`)).body, { status: 'pending' }, 'the proposal is untouched')
  t.match((await as(gw, op2)('GET', `/v1/agencies/${secondDoj}`)).body, { sanction: { type: 'suspension' } }, 'the sanction still binds')
  t.equal((await approve(gw, id)).status, 200, 'an operator of another agency approves it')
})
