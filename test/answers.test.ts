// Answers trimmed to the purpose (policies/projections.yaml), as a terminal receives them: a traffic stop
// gets the licence and the driver's description but no home address, a local criminal investigation the
// whole record, an immigration authority (ICE, CBP: by ORI or organisation) never an address while the
// FBI's and the U.S. Marshals' criminal cases get the whole record; the decision record names the
// projection; a field the database adds, or a value of the wrong shape, never slips through.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { compileProjection, fieldProblems } from '../src/policy/projection.js'
import { loadPolicyDir } from '../src/policy-files.js'
import { call, cbp, ledgerRecords, operatorToken, policyDir, query, sheriff, startTestGateway, testPopulation, token } from './helpers.js'

const gw = await startTestGateway()
t.teardown(() => gw.close())
const policy = await loadPolicyDir(policyDir)
const population = testPopulation()
const licence = population.byLicenseNumber.get('A1234567')!
const vehicle = population.vehicles[0]!
const decisionRecord = (id: string) => ledgerRecords(gw.auditDir).find((record) => record.type === 'query.decision' && record.id === id)

// Agencies DOJ registers through the admin API, with invented ORIs; the organisations are real ones.
const op = operatorToken()
async function register(ori: string, name: string, organisation: string): Promise<void> {
  const registered = await call(gw.url, 'PUT', `/v1/agencies/${ori}`, { token: op, body: { name, kind: 'federal', organisation, reason: 'new subscriber (test)' } })
  if (registered.status !== 201) throw new Error(`registering ${ori}: ${registered.status}`)
  const signed = await call(gw.url, 'PUT', `/v1/agencies/${ori}/agreement`, { token: op, body: { version: policy.agreementVersion, signedAt: '2019-06-01T00:00:00Z', reason: 'signed (test)' } })
  if (signed.status !== 200) throw new Error(`recording the agreement of ${ori}: ${signed.status}`)
}
const fbi = 'CA0FBI100'
const marshals = 'CA0USM100'
const hsi = 'CA0HSI100'
await register(fbi, 'FBI field office (test)', 'DOJ/FBI')
await register(marshals, 'U.S. Marshals district office (test)', 'DOJ/USMS')
await register(hsi, 'ICE HSI office (test)', 'DHS/ICE/HSI')

t.test('a traffic stop gets licence status, class, expiry and the description, not the home address', async (t) => {
  const answer = await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } })
  t.equal(answer.status, 200)
  const { address, ...description } = licence.person
  t.same(answer.body.records, [{ licenseNumber: licence.licenseNumber, cardType: licence.cardType, licenseClass: licence.licenseClass, status: licence.status, expires: licence.expires, person: description }])
  t.ok(address.street, 'the database has the address; the answer leaves it out')
  t.match(decisionRecord(answer.body.decision.id), { outcome: 'allow', projection: 'licence.without_address' })

  const registration = await query(gw.url, { database: 'dmv.vehicle_registration', purpose: 'traffic_enforcement', subject: { plate: vehicle.plate } })
  t.same(registration.body.records, [{ ...vehicle, registeredOwner: { lastName: vehicle.registeredOwner.lastName, firstName: vehicle.registeredOwner.firstName } }])
  t.match(decisionRecord(registration.body.decision.id), { projection: 'registration.without_address' })
})

t.test("a local agency's criminal investigation gets the whole record, address included, exactly as the database sent it", async (t) => {
  const answer = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: { licenseNumber: 'A1234567' }, caseNumber: '24-001234' })
  t.equal(answer.status, 200)
  t.same(answer.body.records, [licence])
  t.same(answer.body.records[0].person.address, licence.person.address)
  t.match(decisionRecord(answer.body.decision.id), { projection: 'full' })
  const ccw = await query(gw.url, { database: 'dmv.driver_license', purpose: 'ccw_licensing', subject: { licenseNumber: 'A1234567' } }, token({ ori: sheriff }))
  t.same(ccw.body.records[0].person.address, licence.person.address, 'a CCW licence is issued by the county of residence: the sheriff sees the address')
})

t.test('an immigration authority never gets an address from DMV, whatever purpose it may declare', async (t) => {
  const cbpOfficer = token({ ori: cbp, sub: 'cbp-9' })
  const base = { purpose: 'criminal_investigation', caseNumber: '21USC952-9', justification: 'stolen vehicle used in a smuggling case' }
  const dlAnswer = await query(gw.url, { ...base, database: 'dmv.driver_license', subject: { licenseNumber: 'A1234567' } }, cbpOfficer)
  t.equal(dlAnswer.status, 200)
  t.notOk('address' in dlAnswer.body.records[0].person)
  const registration = await query(gw.url, { ...base, database: 'dmv.vehicle_registration', subject: { vin: vehicle.vin } }, cbpOfficer)
  t.equal(registration.status, 200)
  t.same(Object.keys(registration.body.records[0].registeredOwner), ['lastName', 'firstName'])
  t.notOk(JSON.stringify([dlAnswer.body, registration.body]).includes(licence.person.address.street))
})

t.test('the shipped answers: every (database, purpose, kind, immigration authority or not) gets the projection the policy names', async (t) => {
  type Kind = 'local' | 'state' | 'federal'
  const allowFor = (purpose: string, database: string, kind: Kind, authority = false) => {
    const decisions = policy.purposes.get(purpose)!.decisions.get(database)!
    return (authority ? decisions.allowImmigrationAuthority : decisions.allow)[kind].projection?.id ?? 'full'
  }
  t.equal(allowFor('traffic_enforcement', 'dmv.driver_license', 'local'), 'licence.without_address')
  t.equal(allowFor('traffic_enforcement', 'dmv.vehicle_registration', 'state'), 'registration.without_address')
  t.equal(allowFor('criminal_investigation', 'dmv.driver_license', 'local'), 'full')
  // Federal policing is not immigration enforcement: the FBI's or the Marshals' case gets the record.
  t.equal(allowFor('criminal_investigation', 'dmv.driver_license', 'federal'), 'full')
  t.equal(allowFor('criminal_investigation', 'dmv.vehicle_registration', 'federal'), 'full')
  t.equal(allowFor('criminal_investigation', 'dmv.driver_license', 'federal', true), 'licence.without_address')
  t.equal(allowFor('criminal_investigation', 'criminal_history', 'federal', true), 'full')
  t.equal(policy.purposes.get('criminal_investigation')!.decisions.get('dmv.driver_license')!.allowImmigrationAuthorityWritten.federal.projection ?? null, null, "DOJ's approved written request gets the whole record")
  for (const purpose of policy.purposes.keys()) {
    for (const database of ['dmv.driver_license', 'dmv.vehicle_registration']) {
      for (const kind of ['local', 'state', 'federal'] as const) {
        const projection = policy.purposes.get(purpose)!.decisions.get(database)!.allowImmigrationAuthority[kind].projection
        t.ok(projection !== null && projection !== undefined && !projection.fields.some((field) => /address/i.test(field)), `immigration authority (${kind}) ${purpose} on ${database}: no address field`)
      }
    }
  }
})

t.test("the FBI's kidnapping case gets the whole licence record, home address included", async (t) => {
  const answer = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', caseNumber: '18USC1201-0042', justification: 'kidnapping of a child; suspect identified', subject: { licenseNumber: 'A1234567' } }, token({ ori: fbi, sub: 'fbi-1' }))
  t.equal(answer.status, 200)
  t.same(answer.body.records, [licence])
  t.match(decisionRecord(answer.body.decision.id), { outcome: 'allow', projection: 'full', monitored: false })
})

t.test("the U.S. Marshals' armed-fugitive case gets the whole registration, the owner's address included", async (t) => {
  const answer = await query(gw.url, { database: 'dmv.vehicle_registration', purpose: 'criminal_investigation', caseNumber: 'W-2026-0117', justification: 'armed fugitive on a federal warrant', subject: { vin: vehicle.vin } }, token({ ori: marshals, sub: 'usms-1' }))
  t.equal(answer.status, 200)
  t.same(answer.body.records, [vehicle])
  t.match(decisionRecord(answer.body.decision.id), { projection: 'full' })
})

t.test('an ICE HSI office registered through the admin API with organisation DHS/ICE/HSI is an immigration authority', async (t) => {
  const hsiOfficer = token({ ori: hsi, sub: 'hsi-1' })
  const base = { purpose: 'criminal_investigation', caseNumber: 'HSI-2026-88', subject: { licenseNumber: 'A1234567' } }
  // Monitored by default, so it must justify the DMV query; then it gets no address.
  t.equal((await query(gw.url, { ...base, database: 'dmv.driver_license' }, hsiOfficer)).body.decision.rule, 'ppp.justification_required')
  const own = await query(gw.url, { ...base, database: 'dmv.driver_license', justification: 'child exploitation case; identity of the account holder' }, hsiOfficer)
  t.equal(own.status, 200)
  t.notOk('address' in own.body.records[0].person)
  t.match(decisionRecord(own.body.decision.id), { projection: 'licence.without_address', monitored: true })

  // A local agency querying on its behalf, or sending it the result, is judged as immigration enforcement.
  const onBehalf = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', caseNumber: '24-001234', onBehalfOf: hsi, subject: { licenseNumber: 'A1234567' } })
  t.equal(onBehalf.status, 403)
  t.equal(onBehalf.body.decision.rule, 'ppp.immigration_non_criminal')
  t.match(onBehalf.body.decision.reason, /on behalf of CA0HSI100 \(DHS U\.S\. Immigration and Customs Enforcement, part of DHS\/ICE\), an immigration authority/)
  t.match(decisionRecord(onBehalf.body.decision.id), { outcome: 'deny', immigration: 'requester', onBehalfOf: hsi })
  const recipient = await query(gw.url, { database: 'dmv.vehicle_registration', purpose: 'criminal_investigation', caseNumber: '24-001234', recipient: hsi, subject: { vin: vehicle.vin } })
  t.equal(recipient.body.decision.rule, 'ppp.immigration_non_criminal')
  // On behalf of the FBI, nothing changes.
  const forFbi = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', caseNumber: '24-001234', onBehalfOf: fbi, subject: { licenseNumber: 'A1234567' } })
  t.equal(forFbi.status, 200)
  t.same(forFbi.body.records, [licence])
})

t.test('a field the database adds, or a value of the wrong shape, is dropped: projections list what goes out', async (t) => {
  // A DMV that answers with more than the gateway knows: a new field, an address where a name was expected.
  const odd = {
    licenseNumber: 'A1234567',
    status: 'VALID',
    ssn: '123-45-6789',
    person: { lastName: 'WRIGHT', firstName: { street: '13309 FIRST ST' }, address: { street: '13309 FIRST ST' }, aliases: ['AJ'] },
  }
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ records: [odd, { licenseNumber: 'B7654321', person: '13309 FIRST ST, FRESNO' }, { licenseNumber: 'C1', person: null }] }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const oddDmv = await startTestGateway({ env: { DMV_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } })
  t.teardown(() => oddDmv.close())
  const answer = await query(oddDmv.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } })
  t.equal(answer.status, 200)
  t.same(answer.body.records, [{ licenseNumber: 'A1234567', status: 'VALID', person: { lastName: 'WRIGHT', firstName: { street: '13309 FIRST ST' } } }, { licenseNumber: 'B7654321' }, { licenseNumber: 'C1', person: null }])
  t.notOk(JSON.stringify(answer.body).includes('123-45-6789'), 'the new field is not sent')
})

t.test('compileProjection: nested paths, lists of objects, absent fields', async (t) => {
  const project = compileProjection(['cii', 'person.lastName', 'arrests.date', 'arrests.charges.code'])
  const rap = { cii: 'A1', person: { lastName: 'DOE', dateOfBirth: '1990-01-01' }, arrests: [{ date: '2020-01-01', arrestingAgency: 'CA0190000', charges: [{ code: 'PC 459', description: 'BURGLARY' }] }, 'not an object'] }
  t.same(project([rap]), [{ cii: 'A1', person: { lastName: 'DOE' }, arrests: [{ date: '2020-01-01', charges: [{ code: 'PC 459' }] }, undefined] }])
  t.same(JSON.parse(JSON.stringify(project([{}]))), [{}], 'an absent field stays absent')
  t.same(JSON.parse(JSON.stringify(project([{ arrests: [] }]))), [{ arrests: [] }])
  t.same(rap.person, { lastName: 'DOE', dateOfBirth: '1990-01-01' }, 'the input is not changed')
})

t.test('fieldProblems: malformed paths, a field twice, a field inside a listed one', async (t) => {
  t.same(fieldProblems(['a', 'b.c']), [])
  t.match(fieldProblems(['person.__proto__.x']), [[0, /"__proto__" is not a field name/]])
  t.match(fieldProblems(['person..address']), [[0, /"" is not a field name/]])
  t.match(fieldProblems(['status', 'status']), [[1, /status is listed twice/]])
  t.match(fieldProblems(['person', 'person.address']), [[1, /person already sends all of person\.address/]])
})
