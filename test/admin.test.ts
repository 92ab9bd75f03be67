// The admin API as a DOJ operator uses it: register, agreement, sanction, reinstate; each with a reason,
// audited with before and after; bad input changes nothing; a restart never forgets a sanction.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { call, iceEro, lapd, ledgerRecords, operatorToken, query, sheriff, startTestGateway, tempDir, TestClock, token } from './helpers.js'

const clock = new TestClock()
const gw = await startTestGateway({ clock })
t.teardown(() => gw.close())
const op = operatorToken()
const admin = (method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown) => call(gw.url, method, path, { token: op, ...(body === undefined ? {} : { body }) })

t.test('the sample agencies are seeded on first start', async (t) => {
  const list = await admin('GET', '/v1/agencies')
  t.equal(list.status, 200)
  const byOri = new Map(list.body.map((agency: { ori: string }) => [agency.ori, agency]))
  t.match(byOri.get(lapd), { name: 'Los Angeles Police Department', kind: 'local', agreement: { version: 'PPP-2019-02' }, sanction: null, monitored: false })
  t.match(byOri.get(sheriff), { kind: 'local', sanction: { type: 'censure' } })
  t.match(byOri.get(iceEro), { kind: 'federal', organisation: 'DHS/ICE/ERO', agreement: null, monitored: true })
  t.match(byOri.get('CACBP0000'), { kind: 'federal', organisation: 'DHS/CBP', agreement: { version: 'PPP-2019-02' }, monitored: true })
  t.match(byOri.get(lapd), { organisation: 'CA/LAPD' })
  t.equal(list.body.length, 4)
})

t.test('register, sign, sanction and reinstate an agency; each change audited with operator, reason, before and after', async (t) => {
  const ori = 'CA0990100'
  const created = await admin('PUT', `/v1/agencies/${ori}`, { name: 'Bayview Police Department (fictional)', kind: 'local', reason: 'new subscriber' })
  t.equal(created.status, 201)
  t.match(created.body, { ori, name: 'Bayview Police Department (fictional)', kind: 'local', agreement: null, sanction: null, monitored: false, version: 1 })
  t.ok(created.headers['x-audit-id'])
  t.equal((await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }, token({ ori }))).body.decision.rule, 'agency.no_agreement')

  const signed = await admin('PUT', `/v1/agencies/${ori}/agreement`, { version: 'PPP-2019-02', signedAt: '2026-05-01T09:30:00-07:00', reason: 'agreement received by mail' })
  t.equal(signed.status, 200)
  t.same(signed.body.agreement, { version: 'PPP-2019-02', signedAt: '2026-05-01T16:30:00.000Z' })
  t.equal(signed.body.version, 2)
  t.equal((await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }, token({ ori }))).status, 200)

  const removed = await admin('PUT', `/v1/agencies/${ori}/sanction`, { type: 'removal', reason: 'failed to report misuse annually' })
  t.equal(removed.status, 200)
  t.match(removed.body.sanction, { type: 'removal', scope: 'all', reason: 'failed to report misuse annually', since: new Date(clock.value).toISOString() })
  const rap = { database: 'criminal_history', purpose: 'criminal_investigation', caseNumber: '1', subject: { lastName: 'GARCIA', firstName: 'MARIA', dateOfBirth: '1980-01-01' } }
  t.equal((await query(gw.url, rap, token({ ori }))).body.decision.rule, 'agency.suspended', 'a removal blocks criminal history too')

  const reinstated = await admin('DELETE', `/v1/agencies/${ori}/sanction`, { reason: 'misuse report filed' })
  t.equal(reinstated.status, 200)
  t.equal(reinstated.body.sanction, null)
  t.equal(reinstated.body.version, 4)

  const revoked = await admin('DELETE', `/v1/agencies/${ori}/agreement`, { reason: 'agreement withdrawn' })
  t.equal(revoked.body.agreement, null)

  const updated = await admin('PUT', `/v1/agencies/${ori}`, { name: 'Bayview PD (fictional)', kind: 'local', monitored: true, reason: 'renamed' })
  t.equal(updated.status, 200)
  t.match(updated.body, { name: 'Bayview PD (fictional)', monitored: true, agreement: null, version: 6 })

  const changes = ledgerRecords(gw.auditDir).filter((record) => record.type === 'operator.change' && record.ori === ori)
  t.same(
    changes.map((record) => [record.action, record.reason, record.operator, record.before?.version ?? null, record.after.version]),
    [
      ['agency.register', 'new subscriber', 'doj-operator-1', null, 1],
      ['agreement.record', 'agreement received by mail', 'doj-operator-1', 1, 2],
      ['sanction.impose', 'failed to report misuse annually', 'doj-operator-1', 2, 3],
      ['sanction.lift', 'misuse report filed', 'doj-operator-1', 3, 4],
      ['agreement.revoke', 'agreement withdrawn', 'doj-operator-1', 4, 5],
      ['agency.update', 'renamed', 'doj-operator-1', 5, 6],
    ],
  )
  t.match(changes[2], { before: { sanction: null }, after: { sanction: { type: 'removal' } }, operatorOri: 'CA0349400', source: '127.0.0.1' })
})

t.test('monitoring follows immigration-authority status, not the kind: ICE and CBP offices are monitored by default, the FBI is not', async (t) => {
  const fbi = await admin('PUT', '/v1/agencies/CAFBI0000', { name: 'FBI field office (test)', kind: 'federal', organisation: 'DOJ/FBI', reason: 'new subscriber' })
  t.equal(fbi.status, 201)
  t.match(fbi.body, { organisation: 'DOJ/FBI', monitored: false })
  const hsi = await admin('PUT', '/v1/agencies/CA0HSI100', { name: 'ICE HSI office (test)', kind: 'federal', organisation: 'DHS/ICE/HSI', reason: 'new subscriber' })
  t.match(hsi.body, { organisation: 'DHS/ICE/HSI', monitored: true })
  const notIce = await admin('PUT', '/v1/agencies/CA0XXX100', { name: 'Not ICE (test)', kind: 'federal', organisation: 'DHS/ICEX', reason: 'new subscriber' })
  t.match(notIce.body, { organisation: 'DHS/ICEX', monitored: false }, 'a prefix covers whole segments only')
  // The operator's word for one ORI stays: told not to monitor, an ICE office is not monitored.
  const unmonitored = await admin('PUT', '/v1/agencies/CA0HSI200', { name: 'ICE HSI office 2 (test)', kind: 'federal', organisation: 'DHS/ICE/HSI', monitored: false, reason: 'DOJ decision' })
  t.match(unmonitored.body, { monitored: false })
  const renamed = await admin('PUT', '/v1/agencies/CA0HSI200', { name: 'ICE HSI office two (test)', kind: 'federal', reason: 'renamed' })
  t.match(renamed.body, { organisation: 'DHS/ICE/HSI', monitored: false }, 'an update that says neither keeps both')
  // An update that makes an agency an immigration authority turns monitoring on unless told otherwise.
  const moved = await admin('PUT', '/v1/agencies/CAFBI0000', { name: 'FBI field office (test)', kind: 'federal', organisation: 'DHS/CBP/OFO', reason: 'registered under the wrong organisation' })
  t.match(moved.body, { organisation: 'DHS/CBP/OFO', monitored: true })
})

t.test('the organisation is set, kept, cleared, and audited like every registration change', async (t) => {
  const ori = 'CA0USM100'
  await admin('PUT', `/v1/agencies/${ori}`, { name: 'U.S. Marshals office (test)', kind: 'federal', organisation: 'DOJ/USMS', reason: 'new subscriber' })
  t.match((await admin('GET', `/v1/agencies/${ori}`)).body, { organisation: 'DOJ/USMS' })
  const kept = await admin('PUT', `/v1/agencies/${ori}`, { name: 'U.S. Marshals district office (test)', kind: 'federal', reason: 'renamed' })
  t.match(kept.body, { organisation: 'DOJ/USMS' })
  const cleared = await admin('PUT', `/v1/agencies/${ori}`, { name: 'U.S. Marshals district office (test)', kind: 'federal', organisation: null, reason: 'organisation unknown' })
  t.equal(cleared.body.organisation, null)
  const changes = ledgerRecords(gw.auditDir).filter((record) => record.type === 'operator.change' && record.ori === ori)
  t.same(
    changes.map((change) => [change.before?.organisation ?? null, change.after.organisation]),
    [
      [null, 'DOJ/USMS'],
      ['DOJ/USMS', 'DOJ/USMS'],
      ['DOJ/USMS', null],
    ],
  )
  const history = await admin('GET', `/v1/agencies/${ori}/history`)
  t.match(history.body.entries.at(-1), { before: { organisation: 'DOJ/USMS' }, after: { organisation: null } })
})

t.test('an agency registered before organisations existed loads with none', async (t) => {
  // A journal as a gateway of the previous version wrote it: no organisation.
  const stateDir = tempDir('old-journal')
  const old = { ori: 'CA0990900', name: 'Old registration (test)', kind: 'local', agreement: null, sanction: null, monitored: false, version: 1 }
  writeFileSync(join(stateDir, 'agencies.jsonl'), `${JSON.stringify({ at: '2025-01-01T00:00:00.000Z', action: 'agency.register', state: old })}\n`)
  const restarted = await startTestGateway({ stateDir, clock })
  t.teardown(() => restarted.close())
  const answer = await call(restarted.url, 'GET', '/v1/agencies/CA0990900', { token: op })
  t.equal(answer.status, 200)
  t.equal(answer.body.organisation, null)
})

t.test('bad operator input: a clear 4xx, and nothing changes', async (t) => {
  const before = readFileSync(join(gw.stateDir, 'agencies.jsonl'), 'utf8')
  const cases: [string, 'PUT' | 'DELETE' | 'GET', string, unknown, number, string][] = [
    ['a malformed ORI', 'PUT', '/v1/agencies/lapd', { name: 'x', kind: 'local', reason: 'r' }, 400, 'invalid_request'],
    ['an unknown kind', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'tribal', reason: 'r' }, 400, 'invalid_request'],
    ['no reason', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'local' }, 400, 'invalid_request'],
    ['a lower-case organisation', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'local', organisation: 'dhs/ice', reason: 'r' }, 400, 'invalid_request'],
    ['an organisation with an empty segment', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'local', organisation: 'DHS//ICE', reason: 'r' }, 400, 'invalid_request'],
    ['an organisation ending in /', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'local', organisation: 'DHS/', reason: 'r' }, 400, 'invalid_request'],
    ['an empty organisation', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'local', organisation: '', reason: 'r' }, 400, 'invalid_request'],
    ['an organisation too long', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'local', organisation: `DHS/${'A'.repeat(61)}`, reason: 'r' }, 400, 'invalid_request'],
    ['an organisation that is not a string', 'PUT', `/v1/agencies/${lapd}`, { name: 'x', kind: 'local', organisation: ['DHS', 'ICE'], reason: 'r' }, 400, 'invalid_request'],
    ['an empty reason', 'PUT', `/v1/agencies/${lapd}/sanction`, { type: 'suspension', reason: '' }, 400, 'invalid_request'],
    ['an unknown sanction type', 'PUT', `/v1/agencies/${lapd}/sanction`, { type: 'warning', reason: 'r' }, 400, 'invalid_request'],
    ['a removal limited to non-criminal history', 'PUT', `/v1/agencies/${lapd}/sanction`, { type: 'removal', scope: 'non_criminal_history', reason: 'r' }, 400, 'invalid_sanction'],
    ['a censure with an end date', 'PUT', `/v1/agencies/${lapd}/sanction`, { type: 'censure', reason: 'r', until: '2030-01-01T00:00:00Z' }, 400, 'invalid_sanction'],
    ['a suspension that ended in the past', 'PUT', `/v1/agencies/${lapd}/sanction`, { type: 'suspension', reason: 'r', until: '2020-01-01T00:00:00Z' }, 400, 'invalid_sanction'],
    ['an until that is not a time', 'PUT', `/v1/agencies/${lapd}/sanction`, { type: 'suspension', reason: 'r', until: 'next week' }, 400, 'invalid_request'],
    ['an agreement signed in the future', 'PUT', `/v1/agencies/${lapd}/agreement`, { version: 'PPP-2019-02', signedAt: '2030-01-01T00:00:00Z', reason: 'r' }, 400, 'invalid_agreement'],
    ['an agreement without a version', 'PUT', `/v1/agencies/${lapd}/agreement`, { signedAt: '2020-01-01T00:00:00Z', reason: 'r' }, 400, 'invalid_request'],
    ['a sanction on an unregistered agency', 'PUT', '/v1/agencies/CA9999999/sanction', { type: 'suspension', reason: 'r' }, 404, 'agency_not_found'],
    ['an agreement for an unregistered agency', 'PUT', '/v1/agencies/CA9999999/agreement', { version: 'v', signedAt: '2020-01-01T00:00:00Z', reason: 'r' }, 404, 'agency_not_found'],
    ['reading an unregistered agency', 'GET', '/v1/agencies/CA9999999', undefined, 404, 'agency_not_found'],
  ]
  for (const [name, method, path, body, status, code] of cases) {
    const answer = await admin(method, path, body)
    t.equal(answer.status, status, name)
    t.equal(answer.body.error?.code, code, `${name}: ${code}`)
  }
  t.equal(readFileSync(join(gw.stateDir, 'agencies.jsonl'), 'utf8'), before, 'the journal is unchanged')
  t.equal((await admin('GET', `/v1/agencies/${lapd}`)).body.sanction, null)
  const unauthenticated = await call(gw.url, 'GET', '/v1/agencies')
  t.equal(unauthenticated.status, 401)
})

t.test('bug: a leap second (23:59:60), which the date-time format accepts and Date.parse cannot read, answered 500; now 400 invalid_request naming the field, and nothing changes', async (t) => {
  const before = readFileSync(join(gw.stateDir, 'agencies.jsonl'), 'utf8')
  const agency = (await admin('GET', `/v1/agencies/${lapd}`)).body
  const cases: [string, string, Record<string, string>, string][] = [
    ['a suspension ending on a leap second', `/v1/agencies/${lapd}/sanction`, { type: 'suspension', reason: 'r', until: '2030-12-31T23:59:60Z' }, 'until'],
    ['a leap second written in local time', `/v1/agencies/${lapd}/sanction`, { type: 'suspension', reason: 'r', until: '2030-12-31T15:59:60-08:00' }, 'until'],
    ['an agreement signed on a leap second', `/v1/agencies/${lapd}/agreement`, { version: 'PPP-2019-02', signedAt: '2016-12-31T23:59:60Z', reason: 'r' }, 'signedAt'],
  ]
  for (const [name, path, body, field] of cases) {
    const answer = await admin('PUT', path, body)
    t.equal(answer.status, 400, name)
    t.equal(answer.body.error?.code, 'invalid_request', name)
    t.match(answer.body.error?.issues, [{ path: field }], `${name}: the issue names ${field}`)
  }
  t.equal(readFileSync(join(gw.stateDir, 'agencies.jsonl'), 'utf8'), before, 'the journal is unchanged')
  t.same((await admin('GET', `/v1/agencies/${lapd}`)).body, agency, 'the agency is unchanged')
})

t.test('a restart replays the journal: sanctions and agreements survive, sample agencies are not seeded again', async (t) => {
  const ori = sheriff
  t.equal((await admin('PUT', `/v1/agencies/${ori}/sanction`, { type: 'suspension', scope: 'all', reason: 'CCW checks on criminal history' })).status, 200)
  await gw.close()
  // A crash in the middle of a journal write leaves a torn last line that was never acknowledged.
  appendFileSync(join(gw.stateDir, 'agencies.jsonl'), '{"at":"2026-06-01T12:00:00.000Z","action":"sanction.lift","state":{"ori":"CA03')
  const again = await startTestGateway({ stateDir: gw.stateDir, clock })
  t.teardown(() => again.close())
  const agency = await call(again.url, 'GET', `/v1/agencies/${ori}`, { token: op })
  t.match(agency.body.sanction, { type: 'suspension', scope: 'all', reason: 'CCW checks on criminal history' })
  const denied = await query(again.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }, token({ ori }))
  t.equal(denied.body.decision.rule, 'agency.suspended')
  const list = await call(again.url, 'GET', '/v1/agencies', { token: op })
  t.equal(list.body.filter((entry: { ori: string }) => entry.ori === lapd).length, 1)
  t.ok(list.body.some((entry: { ori: string }) => entry.ori === 'CA0990100'), 'agencies registered before the restart are there')
  t.ok(readFileSync(join(gw.stateDir, 'agencies.jsonl'), 'utf8').endsWith('}\n'), 'the torn line was cut off')
  const after = await call(again.url, 'DELETE', `/v1/agencies/${ori}/sanction`, { token: op, body: { reason: 'reinstated after training' } })
  t.equal(after.status, 200)
})
