// Issue 12's side doors, end to end as terminals meet them: purposes per agency kind, the justification a
// monitored agency owes, immigration enforcement under another name (a statute in the case number or the
// justification, a query for an immigration authority), and the requester on every decision record. On
// both stores: the rules are the policies', whichever store holds the agencies.
import t from 'tap'
import { startCriminalHistory, startDmv } from '../src/backends/server.js'
import { verifyLedger } from '../src/audit/verify.js'
import { call, cbp, iceEro, lapd, ledgerRecords, operatorToken, query, sheriff, startTestGateway, testPopulation, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

const population = testPopulation()
const dmv = await startDmv(population)
const criminalHistory = await startCriminalHistory(population)
let backendRequests = 0
for (const backend of [dmv, criminalHistory]) backend.server.on('request', () => backendRequests++)
const redis = await startRedis()
const backendEnv = { DMV_URL: dmv.url, CRIMINAL_HISTORY_URL: criminalHistory.url }
await initRedis(redis.url)
const stores: [string, TestGateway][] = [
  ['embedded store', await startTestGateway({ env: backendEnv })],
  ['Redis store', await startTestGateway({ env: { ...backendEnv, REDIS_URL: redis.url } })],
]
t.teardown(async () => {
  for (const [, gateway] of stores) await gateway.close()
  await redis.stop()
  await dmv.close()
  await criminalHistory.close()
})

const dl = { licenseNumber: 'A1234567' }
const withRapSheet = population.rapSheets[0]!
const rap = { lastName: withRapSheet.person.lastName, firstName: withRapSheet.person.firstName, dateOfBirth: withRapSheet.person.dateOfBirth }
const cbpOfficer = () => token({ ori: cbp, sub: 'cbp-officer-4' })
const recordOf = (gateway: TestGateway, id: string) => ledgerRecords(gateway.auditDir).find((record) => record.type === 'query.decision' && record.id === id)

for (const [store, gw] of stores) {
  t.test(`${store}: the issue's scenario: CBP's DMV lookups as a traffic stop and as a reentry "criminal investigation" are both refused`, async (t) => {
    const before = backendRequests
    const traffic = await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: dl }, cbpOfficer())
    t.equal(traffic.status, 403)
    t.match(traffic.body.decision, { outcome: 'deny', rule: 'ppp.purpose_not_for_agency', reason: /^A federal agency may not declare the purpose "Traffic enforcement"/, citation: /11077\(b\)/ })
    t.match(traffic.body.decision.reason, /A federal agency may declare "Criminal investigation", "Immigration enforcement"\.$/)

    const reentry = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl, caseNumber: '8USC1326-1', justification: 'wanted for questioning' }, cbpOfficer())
    t.equal(reentry.status, 403)
    const decision = reentry.body.decision
    t.equal(decision.rule, 'ppp.immigration_non_criminal')
    t.match(decision.reason, /^The case number cites 8USC1326 \(8 U\.S\.C\. 1326, reentry of removed aliens; criminal law on reentry\), a federal immigration law: it is immigration enforcement, whatever purpose it declares\. /)
    t.match(decision.reason, /The CLETS PPP, which binds every subscribing agency, federal ones included, forbids using non-criminal-history information \(DMV driver licence and ID card records\) for immigration enforcement, that is any effort to investigate, enforce or assist .* presence in, entry or reentry to, or employment in the United States\./)
    t.match(decision.citation, /^CLETS PPP, Feb 2019 update, binding on every subscribing agency/, 'for a federal agency the PPP is the binding rule')
    t.notMatch(decision.citation, /7284/, 'S.B. 54 binds California agencies, not CBP')
    t.equal(backendRequests, before, 'neither query reached the DMV')
    t.match(recordOf(gw, decision.id), { outcome: 'deny', rule: 'ppp.immigration_non_criminal', purpose: 'criminal_investigation', caseNumber: '8USC1326-1', justification: 'wanted for questioning', immigration: 'statute', monitored: true })
    t.notOk('projection' in recordOf(gw, decision.id), 'a denial has no projection')
  })

  t.test(`${store}: a monitored agency justifies each DMV query; the justification is on the ledger; criminal history needs none`, async (t) => {
    const smuggling = { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl, caseNumber: '21USC952-4' }
    const unjustified = await query(gw.url, smuggling, cbpOfficer())
    t.equal(unjustified.status, 403)
    t.match(unjustified.body.decision, { rule: 'ppp.justification_required', reason: /monitored/, citation: /justification/ })
    const justification = 'Driver of a vehicle stopped at the San Ysidro port of entry with 40 kg of methamphetamine; identity to confirm.'
    const justified = await query(gw.url, { ...smuggling, justification }, cbpOfficer())
    t.equal(justified.status, 200)
    t.equal(justified.body.records[0].licenseNumber, 'A1234567')
    t.notOk('address' in justified.body.records[0].person, 'a federal agency gets no address')
    t.match(recordOf(gw, justified.body.decision.id), { outcome: 'allow', justification, projection: 'licence.without_address', monitored: true })
    t.notOk('immigration' in recordOf(gw, justified.body.decision.id), 'not immigration enforcement: no immigration member')
    const rapSheet = await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-2024-1' }, cbpOfficer())
    t.equal(rapSheet.status, 200, 'criminal history for immigration enforcement, no justification needed (Gov. Code 7284.6(b)(2))')
    t.match(recordOf(gw, rapSheet.body.decision.id), { projection: 'full' })
    const notMonitored = await query(gw.url, { ...smuggling, caseNumber: '24-001234' })
    t.equal(notMonitored.status, 200, 'an agency DOJ does not monitor needs no justification')
  })

  t.test(`${store}: a query on behalf of, or for, an immigration authority is immigration enforcement`, async (t) => {
    const before = backendRequests
    const forIce = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl, caseNumber: '24-001234', onBehalfOf: iceEro })
    t.equal(forIce.status, 403)
    t.equal(forIce.body.decision.rule, 'ppp.immigration_non_criminal')
    t.match(forIce.body.decision.reason, /^The query is made on behalf of CADHS0100 \(DHS ICE Enforcement and Removal Operations\), an immigration authority: it is immigration enforcement, whatever purpose it declares\. California law \(S\.B\. 54\) and the CLETS PPP forbid/)
    t.match(forIce.body.decision.citation, /7284\.6\(a\)\(1\)\(D\)/, 'LAPD is bound by S.B. 54')
    t.match(recordOf(gw, forIce.body.decision.id), { ori: lapd, onBehalfOf: iceEro, immigration: 'requester' })

    const toCbp = await query(gw.url, { database: 'dmv.vehicle_registration', purpose: 'traffic_enforcement', subject: { plate: population.vehicles[0]!.plate }, recipient: cbp })
    t.equal(toCbp.status, 403)
    t.match(toCbp.body.decision, { rule: 'ppp.immigration_non_criminal', reason: /^The query is made for CACBP0000 \(DHS U\.S\. Customs and Border Protection\), an immigration authority/ })
    t.equal(backendRequests, before, 'nothing reached the DMV')

    // S.B. 54 lets a California agency answer a request for a specific person's criminal history.
    const rapSheet = await query(gw.url, { database: 'criminal_history', purpose: 'criminal_investigation', subject: rap, caseNumber: '24-001234', onBehalfOf: cbp })
    t.equal(rapSheet.status, 200)
    t.match(recordOf(gw, rapSheet.body.decision.id), { outcome: 'allow', onBehalfOf: cbp, immigration: 'requester', projection: 'full' })
    const noCase = await query(gw.url, { database: 'criminal_history', purpose: 'traffic_enforcement', subject: rap, recipient: cbp })
    t.equal(noCase.body.decision.rule, 'ppp.purpose_not_permitted', "the declared purpose's own limits still hold")

    const forSheriff = await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: dl, onBehalfOf: sheriff, recipient: sheriff })
    t.equal(forSheriff.status, 200, 'a query for another local agency is recorded and judged as usual')
    t.match(recordOf(gw, forSheriff.body.decision.id), { onBehalfOf: sheriff, recipient: sheriff, projection: 'licence.without_address' })
    const ownOri = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl, caseNumber: '21USC952-5', justification: 'smuggling case', onBehalfOf: cbp }, cbpOfficer())
    t.equal(ownOri.status, 200, "an agency's own ORI as onBehalfOf changes nothing")
  })

  t.test(`${store}: a statute cited in the justification among other facts answers without addresses and opens a review; nothing but a citation is refused`, async (t) => {
    // The fictional sheriff's detective: a review is not a finding, but it is shown on no real agency.
    const detective = token({ ori: sheriff, sub: 'detective-24' })
    const mentioned = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl, caseNumber: '24-7', justification: 'payroll fraud at a warehouse; 8 U.S.C. § 1324a(a)(1) also noted' }, detective)
    t.equal(mentioned.status, 200)
    t.match(mentioned.body.decision, { rule: 'review.immigration_evidence', review: /^[0-9a-f-]{36}$/ })
    t.notOk(JSON.stringify(mentioned.body.records).includes('"address"'), 'no address in the answer')
    const cited = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl, caseNumber: '24-8', justification: 'violation of 8 U.S.C. § 1324a(a)(1)' }, detective)
    t.equal(cited.status, 403)
    t.match(cited.body.decision.reason, /^The justification cites 8 U\.S\.C\. § 1324a\(a\)\(1\) \(8 U\.S\.C\. 1324a, unlawful employment of aliens; law on employment\)/)
    const unrelated = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: dl, caseNumber: '18USC1326', justification: 'Penal Code 459, case 24-13261' }, detective)
    t.equal(unrelated.status, 200, '18 U.S.C. and a longer number are not 8 U.S.C. 1326')
    t.equal(unrelated.body.decision.rule, 'ppp.permitted')
  })

  t.test(`${store}: a per-agency override: ICE ERO, were it to sign, could declare only immigration enforcement`, async (t) => {
    const ero = token({ ori: iceEro, sub: 'ero-agent-3' })
    const investigation = { database: 'criminal_history', purpose: 'criminal_investigation', subject: rap, caseNumber: '24-1' }
    t.equal((await query(gw.url, investigation, ero)).body.decision.rule, 'agency.no_agreement', 'without the agreement, nothing')
    const signed = await call(gw.url, 'PUT', `/v1/agencies/${iceEro}/agreement`, { token: operatorToken(), body: { version: 'PPP-2019-02', signedAt: '2026-01-15T00:00:00Z', reason: 'test: the override behind the agreement' } })
    t.equal(signed.status, 200)
    const declared = await query(gw.url, investigation, ero)
    t.equal(declared.status, 403)
    t.match(declared.body.decision, { rule: 'ppp.purpose_not_for_agency', reason: /^The policies do not let this agency \(CADHS0100\) declare the purpose "Criminal investigation": ICE Enforcement and Removal Operations exists to enforce civil immigration law/ })
    t.match(declared.body.decision.reason, /It may declare "Immigration enforcement"\.$/)
    t.equal((await query(gw.url, { ...investigation, purpose: 'immigration_enforcement' }, ero)).status, 200, 'criminal history for immigration enforcement')
    t.equal((await query(gw.url, { database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: dl, caseNumber: 'A-1' }, ero)).body.decision.rule, 'ppp.immigration_non_criminal')
    const revoked = await call(gw.url, 'DELETE', `/v1/agencies/${iceEro}/agreement`, { token: operatorToken(), body: { reason: 'test over' } })
    t.equal(revoked.status, 200)
  })

  t.test(`${store}: the ledger with the new members verifies`, async (t) => {
    t.same((await verifyLedger(gw.auditDir)).problem, null)
  })
}

const [, gw] = stores[0]!
t.test('the new fields are bounded and checked: 400 naming the field, recorded by its known path', async (t) => {
  const base = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: dl }
  const cases: [string, Record<string, unknown>, string][] = [
    ['a justification over 500 characters', { justification: 'x'.repeat(501) }, 'justification'],
    ['an empty justification', { justification: '' }, 'justification'],
    ['a justification of spaces', { justification: '   ' }, 'justification'],
    ['a justification with a newline', { justification: 'line one\nline two' }, 'justification'],
    ['a justification with an ANSI escape', { justification: 'ok \u001b[2J' }, 'justification'],
    ['a justification with a bidi override', { justification: 'abc \u202e cba' }, 'justification'],
    ['a number for a justification', { justification: 7 }, 'justification'],
    ['onBehalfOf that is not an ORI', { onBehalfOf: 'ICE' }, 'onBehalfOf'],
    ['a recipient in lower case', { recipient: 'cacbp0000' }, 'recipient'],
  ]
  for (const [name, extra, path] of cases) {
    const answer = await query(gw.url, { ...base, ...extra })
    t.equal(answer.status, 400, name)
    t.equal(answer.body.error.code, 'invalid_request', name)
    t.same([...new Set(answer.body.error.issues.map((issue: { path: string }) => issue.path))], [path], name)
    t.match(ledgerRecords(gw.auditDir).find((record) => record.id === answer.headers['x-decision-id']), { type: 'query.rejected', issues: [path] }, `${name}: recorded by its path`)
  }
  const longest = await query(gw.url, { ...base, justification: `${'é'.repeat(499)}.` })
  t.equal(longest.status, 200, '500 characters, any script')
})
