// POST /v1/query end to end, as a terminal sees it: real gateway, real backends, real ledger.
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startCriminalHistory, startDmv } from '../src/backends/server.js'
import { mintToken } from '../src/http/auth.js'
import { call, cbp, iceEro, lapd, ledgerRecords, sheriff, operatorToken, policyDir, query, secret, startTestGateway, tempDir, testPopulation, TestClock, token } from './helpers.js'

const population = testPopulation()
// Real backends whose requests we count, to show that a denied query never reaches a database.
const dmv = await startDmv(population)
const criminalHistory = await startCriminalHistory(population)
let backendRequests = 0
for (const backend of [dmv, criminalHistory]) backend.server.on('request', () => backendRequests++)
const clock = new TestClock()
const gw = await startTestGateway({ env: { DMV_URL: dmv.url, CRIMINAL_HISTORY_URL: criminalHistory.url }, clock })
t.teardown(async () => {
  await gw.close()
  await dmv.close()
  await criminalHistory.close()
})

const person = population.licenses[0]!
const withRapSheet = population.rapSheets[0]!
const vehicle = population.vehicles[0]!

t.test('an allowed licence lookup returns the DMV record, with its decision id in header, body and ledger', async (t) => {
  const before = backendRequests
  const answer = await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } })
  t.equal(answer.status, 200)
  t.equal(answer.body.decision.outcome, 'allow')
  t.equal(answer.body.decision.rule, 'ppp.permitted')
  t.equal(answer.headers['x-decision-id'], answer.body.decision.id)
  t.equal(answer.body.records.length, 1)
  t.equal(answer.body.records[0].licenseNumber, 'A1234567')
  const { address, ...description } = person.person
  t.same(answer.body.records[0].person, description, 'a traffic stop gets the description, not the home address (test/answers.test.ts)')
  t.equal(backendRequests, before + 1)
  t.equal(answer.headers['ratelimit-policy'], '"user";q=120;w=60, "agency";q=6000;w=60')
  t.match(answer.headers.ratelimit, /^"user";r=\d+;t=\d+$/)

  await new Promise((resolve) => setTimeout(resolve, 50)) // the outcome record follows the answer
  const records = ledgerRecords(gw.auditDir).filter((record) => record.id === answer.body.decision.id)
  t.same(
    records.map((record) => record.type),
    ['query.decision', 'query.outcome'],
  )
  t.match(records[0], { ori: lapd, sub: 'officer-17', database: 'dmv.driver_license', databaseClass: 'non_criminal_history', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' }, outcome: 'allow', rule: 'ppp.permitted', policyRevision: /^[0-9a-f]{16}$/, source: '127.0.0.1' })
  t.match(records[1], { status: 200, recordCount: 1, code: null })
  const ledgerText = JSON.stringify(ledgerRecords(gw.auditDir))
  t.notOk(ledgerText.includes(token().split('.')[2]!), 'no token in the ledger')
  t.notOk(ledgerText.includes(address.street), 'no returned record in the ledger')
})

t.test('every lookup form of every database finds its record', async (t) => {
  const cases = [
    { database: 'dmv.driver_license', subject: { lastName: person.person.lastName, firstName: person.person.firstName, dateOfBirth: person.person.dateOfBirth }, check: (r: any) => r.licenseNumber === 'A1234567' },
    { database: 'dmv.driver_license', subject: { lastName: person.person.lastName.toLowerCase(), firstName: person.person.firstName, dateOfBirth: person.person.dateOfBirth }, check: (r: any) => r.licenseNumber === 'A1234567' },
    { database: 'dmv.vehicle_registration', subject: { plate: vehicle.plate }, check: (r: any) => r.vin === vehicle.vin },
    { database: 'dmv.vehicle_registration', subject: { vin: vehicle.vin }, check: (r: any) => r.plate === vehicle.plate },
    { database: 'criminal_history', subject: { lastName: withRapSheet.person.lastName, firstName: withRapSheet.person.firstName, dateOfBirth: withRapSheet.person.dateOfBirth }, check: (r: any) => r.cii === withRapSheet.cii && r.arrests.length > 0 },
  ]
  for (const { database, subject, check } of cases) {
    const answer = await query(gw.url, { database, purpose: 'criminal_investigation', subject, caseNumber: '24-001234' })
    t.equal(answer.status, 200, `${database} by ${Object.keys(subject).join('+')}`)
    t.ok(answer.body.records.some(check), `${database} by ${Object.keys(subject).join('+')} finds the record`)
  }
  const nobody = await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'Z9999999' } })
  t.equal(nobody.status, 200)
  t.same(nobody.body.records, [], 'no match is an empty list, not an error')
})

t.test('each deny rule answers 403 with the rule and a reason, is audited, and never reaches a database', async (t) => {
  const dl = { licenseNumber: 'A1234567' }
  const rap = { lastName: withRapSheet.person.lastName, firstName: withRapSheet.person.firstName, dateOfBirth: withRapSheet.person.dateOfBirth }
  const cases = [
    { rule: 'agency.unknown', bearer: token({ ori: 'CA9999999' }), body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: dl } },
    { rule: 'agency.no_agreement', bearer: token({ ori: iceEro, sub: 'ice-agent-1' }), body: { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-2019-77' } },
    { rule: 'ppp.immigration_non_criminal', bearer: token({ ori: cbp }), body: { database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: dl, caseNumber: 'A-2024-1' } },
    { rule: 'ppp.immigration_non_criminal', bearer: token({ ori: iceEro }), body: { database: 'dmv.vehicle_registration', purpose: 'immigration_enforcement', subject: { plate: vehicle.plate }, caseNumber: 'A-2024-1' } },
    { rule: 'ppp.purpose_not_permitted', bearer: token(), body: { database: 'criminal_history', purpose: 'ccw_licensing', subject: rap } },
    { rule: 'ppp.case_number_required', bearer: token(), body: { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl } },
  ]
  for (const { rule, bearer, body } of cases) {
    const before = backendRequests
    const answer = await query(gw.url, body, bearer)
    t.equal(answer.status, 403, rule)
    t.match(answer.body.decision, { outcome: 'deny', rule, reason: /\w+/, citation: /\w+/, id: answer.headers['x-decision-id'] })
    t.equal(backendRequests, before, `${rule}: no request reached a database`)
    const record = ledgerRecords(gw.auditDir).find((entry) => entry.id === answer.body.decision.id)
    t.match(record, { type: 'query.decision', outcome: 'deny', rule }, `${rule} is in the ledger`)
  }
  const allowed = await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-2024-1' }, token({ ori: cbp }))
  t.equal(allowed.status, 200, 'immigration x criminal history is allowed for an agency with the agreement (Gov. Code 7284.6(b)(2))')
})

// At the sample Bayview County Sheriff's Department (fictional).
t.test('a suspension blocks its scope at once, reinstatement restores access, and an until lapses on time', async (t) => {
  const bearer = token({ sub: 'officer-suspension', ori: sheriff })
  const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
  const rap = { database: 'criminal_history', purpose: 'criminal_investigation', caseNumber: '24-9', subject: { lastName: withRapSheet.person.lastName, firstName: withRapSheet.person.firstName, dateOfBirth: withRapSheet.person.dateOfBirth } }
  const suspend = (until?: number) =>
    call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, {
      token: operatorToken(),
      body: { type: 'suspension', scope: 'non_criminal_history', reason: 'misuse under investigation (invented)', ...(until === undefined ? {} : { until: new Date(until).toISOString() }) },
    })
  t.equal((await suspend()).status, 200)
  const blocked = await query(gw.url, dl, bearer)
  t.equal(blocked.status, 403)
  t.equal(blocked.body.decision.rule, 'agency.suspended')
  t.equal((await query(gw.url, rap, bearer)).status, 200, 'criminal history stays open under a non-criminal-history suspension')
  const reinstate = await call(gw.url, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { reason: 'investigation closed' } })
  t.equal(reinstate.status, 200)
  t.equal((await query(gw.url, dl, bearer)).status, 200, 'reinstated')
  t.equal((await suspend(clock.value + 3_600_000)).status, 200)
  t.equal((await query(gw.url, dl, bearer)).status, 403, 'suspended for an hour')
  clock.advance(3_600_000 - 1)
  t.equal((await query(gw.url, dl, bearer)).status, 403, 'a millisecond before the end')
  clock.advance(1)
  t.equal((await query(gw.url, dl, bearer)).status, 200, 'the suspension lapses at its until, with no timer')
  t.equal((await call(gw.url, 'GET', `/v1/agencies/${sheriff}`, { token: operatorToken() })).body.sanction, null, 'and operators see it lapsed')
})

t.test('bad input: 400 with a stable code and the issues, audited, nothing forwarded', async (t) => {
  const dl = { licenseNumber: 'A1234567' }
  const cases: [string, { raw?: string; body?: unknown }, string, string[]][] = [
    ['invalid JSON', { raw: '{"database":' }, 'invalid_json', []],
    ['an empty body', { raw: '' }, 'invalid_json', []],
    ['a JSON array', { body: [1, 2] }, 'invalid_request', ['body']],
    ['an unknown field', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: dl, officerNote: 'x' } }, 'invalid_request', ['officerNote']],
    ['no subject', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement' } }, 'invalid_request', ['subject']],
    ['a subject that is a string', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: 'A1234567' } }, 'invalid_request', ['subject']],
    ['a number for the case number', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: dl, caseNumber: 24 } }, 'invalid_request', ['caseNumber']],
    ['an unknown database', { body: { database: 'dmv.insurance', purpose: 'traffic_enforcement', subject: dl } }, 'unknown_database', ['database']],
    ['an unknown purpose', { body: { database: 'dmv.driver_license', purpose: 'curiosity', subject: dl } }, 'unknown_purpose', ['purpose']],
    ['a partial lookup', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { lastName: 'GARCIA', firstName: 'MARIA' } } }, 'invalid_subject', ['subject']],
    ['a lookup with an extra field', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567', homeAddress: '1 MAIN ST' } } }, 'invalid_subject', ['subject']],
    ["another database's lookup", { body: { database: 'criminal_history', purpose: 'criminal_investigation', caseNumber: '1', subject: dl } }, 'invalid_subject', ['subject']],
    ['a malformed licence number', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A12' } } }, 'invalid_subject', ['subject.licenseNumber']],
    ['an impossible date of birth', { body: { database: 'criminal_history', purpose: 'criminal_investigation', caseNumber: '1', subject: { lastName: 'GARCIA', firstName: 'MARIA', dateOfBirth: '1990-02-30' } } }, 'invalid_subject', ['subject.dateOfBirth']],
    ['a VIN with the letter O', { body: { database: 'dmv.vehicle_registration', purpose: 'traffic_enforcement', subject: { vin: '1HGOM82633A004352' } } }, 'invalid_subject', ['subject.vin']],
  ]
  for (const [name, input, code, paths] of cases) {
    const before = backendRequests
    const answer = await call(gw.url, 'POST', '/v1/query', { token: token(), headers: { 'content-type': 'application/json' }, ...input })
    t.equal(answer.status, 400, name)
    t.equal(answer.body.error?.code, code, `${name}: code`)
    t.same(answer.body.error.issues.map((issue: { path: string }) => issue.path), paths, `${name}: issue paths`)
    t.equal(backendRequests, before, `${name}: nothing forwarded`)
    const id = answer.headers['x-decision-id']
    t.match(ledgerRecords(gw.auditDir).find((record) => record.id === id), { type: 'query.rejected', status: 400, code }, `${name}: audited`)
  }
})

t.test('authentication: 401 for a missing or bad token, with no decision id', async (t) => {
  const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
  const sign = (claims: Record<string, unknown>, options: { key?: string; iss?: string; aud?: string; ttl?: number } = {}) =>
    mintToken(options.key ?? secret, options.iss ?? 'doj-idp', options.aud ?? 'clets-gateway', { sub: 'officer-17', ori: lapd, roles: ['terminal'], ttlSeconds: options.ttl ?? 60, ...claims } as never)
  const header = (value: string | undefined): Record<string, string> => (value === undefined ? {} : { authorization: value })
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', ori: lapd, roles: ['terminal'], iss: 'doj-idp', aud: 'clets-gateway', exp: 9_999_999_999 })).toString('base64url')}.`
  const cases: [string, string | undefined, string][] = [
    ['no authorization header', undefined, 'token_missing'],
    ['a Basic credential', 'Basic b2ZmaWNlcjpwdw==', 'token_missing'],
    ['a token signed with another key', `Bearer ${sign({}, { key: 'another-secret-that-is-long-enough-!!' })}`, 'token_invalid'],
    ['a token of another issuer', `Bearer ${sign({}, { iss: 'somebody-else' })}`, 'token_invalid'],
    ['a token for another audience', `Bearer ${sign({}, { aud: 'another-service' })}`, 'token_invalid'],
    ['an expired token', `Bearer ${mintToken(secret, 'doj-idp', 'clets-gateway', { sub: 'officer-17', ori: lapd, roles: ['terminal'], ttlSeconds: -60 } as never)}`, 'token_invalid'],
    ['an unsigned token (alg none)', `Bearer ${unsigned}`, 'token_invalid'],
    ['a token with a malformed ORI', `Bearer ${sign({ ori: 'LAPD' })}`, 'token_invalid'],
    ['garbage', 'Bearer not.a.jwt', 'token_invalid'],
  ]
  for (const [name, authorization, code] of cases) {
    const answer = await call(gw.url, 'POST', '/v1/query', { headers: header(authorization), body })
    t.equal(answer.status, 401, name)
    t.equal(answer.body.error.code, code, `${name}: ${code}`)
    t.notOk(answer.headers['x-decision-id'], `${name}: no decision id`)
  }
})

t.test('roles: an operator token cannot query (403, audited); a terminal token cannot administer', async (t) => {
  const answer = await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }, operatorToken())
  t.equal(answer.status, 403)
  t.equal(answer.body.error.code, 'role_forbidden')
  t.ok(answer.headers['x-decision-id'])
  t.match(ledgerRecords(gw.auditDir).find((record) => record.id === answer.headers['x-decision-id']), { type: 'query.rejected', code: 'role_forbidden' })
  const admin = await call(gw.url, 'GET', '/v1/agencies', { token: token() })
  t.equal(admin.status, 403)
  t.equal(admin.body.error.code, 'role_forbidden')
})

t.test('413 for a body over 1 MiB, 415 for a body that is not JSON', async (t) => {
  const big = JSON.stringify({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' }, caseNumber: 'x'.repeat(1024 * 1024) })
  const tooLarge = await call(gw.url, 'POST', '/v1/query', { token: token(), raw: big, headers: { 'content-type': 'application/json' } })
  t.equal(tooLarge.status, 413)
  t.equal(tooLarge.body.error.code, 'body_too_large')
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
    const answer = await call(gw.url, 'POST', '/v1/query', { token: token(), raw: 'database=dmv.driver_license', headers: { 'content-type': type } })
    t.equal(answer.status, 415, type)
    t.equal(answer.body.error.code, 'unsupported_media_type')
  }
})

t.test('GET /v1/policy tells terminals what is enforced, to any valid token', async (t) => {
  const answer = await call(gw.url, 'GET', '/v1/policy', { token: token() })
  t.equal(answer.status, 200)
  t.match(answer.body, { revision: /^[0-9a-f]{16}$/, agreementVersion: 'PPP-2019-02' })
  t.same(
    answer.body.databases.map((database: { id: string; class: string }) => [database.id, database.class]),
    [['dmv.driver_license', 'non_criminal_history'], ['dmv.vehicle_registration', 'non_criminal_history'], ['criminal_history', 'criminal_history']],
  )
  t.same(answer.body.purposes.map((purpose: { id: string }) => purpose.id), ['criminal_investigation', 'traffic_enforcement', 'immigration_enforcement', 'ccw_licensing'])
  // Issue 12: who may declare what, what immigration enforcement is, what each answer carries, every rule's source.
  t.same(answer.body.purposesByKind.federal, ['criminal_investigation', 'immigration_enforcement'])
  t.match(answer.body.overrides, [{ ori: iceEro, allow: [], deny: ['criminal_investigation'], reason: /Enforcement and Removal Operations/ }])
  t.match(answer.body.immigrationEnforcement, {
    definition: /federal civil immigration law, or of federal criminal immigration law that penalises a person's presence in, entry or reentry to, or employment in the United States/,
    source: /CLETS PPP, Feb 2019 update/,
    authorities: [{ organisation: 'DHS/ICE' }, { organisation: 'DHS/CBP' }, { ori: iceEro }, { ori: cbp }],
    binding: { california: /7284\.6/, federal: /^CLETS PPP/ },
  })
  t.match(answer.body.immigrationEnforcement.statutes.find((statute: { cite: string }) => statute.cite === '8 U.S.C. 1326'), { aliases: ['INA 276'], title: /reentry/ })
  t.same(answer.body.justification, { requiredOfMonitored: ['non_criminal_history'], maxLength: 500 })
  t.match(answer.body.projections, [{ id: 'licence.without_address', database: 'dmv.driver_license', fields: ['licenseNumber', 'cardType', 'licenseClass', 'status', 'expires', 'person.lastName', 'person.firstName', 'person.middleInitial', 'person.dateOfBirth', 'person.sex', 'person.heightInches', 'person.eyeColor'] }, { id: 'registration.without_address' }])
  t.match(answer.body.answers[0], { database: 'dmv.driver_license', purposes: ['traffic_enforcement'], kinds: null, projection: 'licence.without_address' })
  t.notOk(JSON.stringify(answer.body.projections).includes('apply'), 'no compiled function leaks into the answer')
  const rules = new Map(answer.body.rules.map((rule: { id: string; citation: string }) => [rule.id, rule.citation]))
  t.match(rules.get('ppp.purpose_not_for_agency'), /11077\(b\)/)
  t.match(rules.get('ppp.justification_required'), /justification/)
  t.equal((await call(gw.url, 'GET', '/v1/policy', { token: operatorToken() })).status, 200)
  t.equal((await call(gw.url, 'GET', '/v1/policy')).status, 401)
})

t.test('rate limits: 429 with rate.user or rate.agency, Retry-After, and the window slides with the clock', async (t) => {
  const dir = tempDir('policies')
  cpSync(policyDir, dir, { recursive: true })
  const limits = join(dir, 'limits.yaml')
  writeFileSync(limits, readFileSync(limits, 'utf8').replace('limit: 120', 'limit: 3').replace('limit: 6000', 'limit: 5'))
  const limitedClock = new TestClock()
  const limited = await startTestGateway({ env: { POLICY_DIR: dir, DMV_URL: dmv.url, CRIMINAL_HISTORY_URL: criminalHistory.url }, clock: limitedClock })
  t.teardown(() => limited.close())
  const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
  for (let i = 0; i < 3; i++) t.equal((await query(limited.url, body)).status, 200, `query ${i + 1} of 3`)
  const over = await query(limited.url, body)
  t.equal(over.status, 429)
  t.match(over.body.decision, { outcome: 'deny', rule: 'rate.user' })
  t.equal(over.headers['retry-after'], '20', '60 s / 3 queries: the next slot opens in 20 s')
  t.match(ledgerRecords(limited.auditDir).find((record) => record.id === over.body.decision.id), { outcome: 'deny', rule: 'rate.user' })
  limitedClock.advance(20_000)
  t.equal((await query(limited.url, body)).status, 200, 'the window slid')
  // The agency's 5 per minute: 4 admitted at t=0 and t=20 s, and 20 s freed 1.67 slots.
  t.equal((await query(limited.url, body, token({ sub: 'officer-2' }))).status, 200, 'another officer of the agency')
  t.equal((await query(limited.url, body, token({ sub: 'officer-3' }))).status, 200, 'and a third')
  const agencyOver = await query(limited.url, body, token({ sub: 'officer-4' }))
  t.equal(agencyOver.status, 429)
  t.equal(agencyOver.body.decision.rule, 'rate.agency')
  t.equal(agencyOver.headers['retry-after'], '4')
  const misuse = await query(limited.url, { ...body, purpose: 'immigration_enforcement', caseNumber: '1' }, token({ sub: 'officer-5' }))
  t.equal(misuse.body.decision.rule, 'ppp.immigration_non_criminal', 'a policy denial outranks the rate limit')
})
