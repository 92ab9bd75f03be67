// The PPP as data: the shipped policy test cases all pass, every contract rule is exercised, and the
// engine's precedence holds.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadPolicyDir } from '../src/policy-files.js'
import { compilePolicySet, type PolicySet } from '../src/policy/compile.js'
import { evaluate, sanctionBlocks } from '../src/policy/evaluate.js'
import { compileStatuteMatcher } from '../src/policy/immigration.js'
import { runPolicyTests } from '../src/policy/run-tests.js'
import { isImmigrationAuthority } from '../src/policy/agencies.js'
import { organisationCovers, type AgencyState } from '../src/policy/types.js'
import { policyDir } from './helpers.js'

const policy = await loadPolicyDir(policyDir)
const at = Date.parse('2026-06-01T00:00:00Z')
const signed: AgencyState = {
  ori: 'CA0194200',
  name: 'LAPD',
  kind: 'local',
  organisation: null,
  agreement: { version: policy.agreementVersion, signedAt: '2019-06-01T00:00:00Z' },
  sanction: null,
  monitored: false,
  version: 1,
}
const facts = (database: string, purpose: string, caseNumber?: string, extra: { justification?: string; onBehalfOf?: string; recipient?: string } = {}, set: PolicySet = policy) => ({
  database: set.databases.get(database)!,
  purpose: set.purposes.get(purpose)!,
  caseNumber,
  ...extra,
})
const cbp: AgencyState = { ...signed, ori: 'CACBP0000', name: 'CBP', kind: 'federal', monitored: true }

/** The shipped policies with one top-level file changed, compiled. */
function policyWith(file: string, change: (text: string) => string): PolicySet {
  const sources = readdirSync(policyDir)
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => {
      const text = readFileSync(join(policyDir, name), 'utf8')
      return { file: name, text: name === file ? change(text) : text }
    })
  return compilePolicySet(sources)
}

t.test('every policy test case beside the policies gives its expected outcome and rule', async (t) => {
  const results = runPolicyTests(policy)
  t.ok(results.length >= 20, `${results.length} cases`)
  for (const { testCase, decision, passed } of results) {
    t.ok(passed, `${testCase.name}: expected ${testCase.expect.outcome} ${testCase.expect.rule}, got ${decision.outcome} ${decision.rule}`)
  }
})

t.test("the policy test cases cover every deny rule of the contract's table", async (t) => {
  const covered = new Set(policy.tests.map((testCase) => testCase.expect.rule))
  for (const rule of ['agency.unknown', 'agency.no_agreement', 'agency.suspended', 'ppp.immigration_non_criminal', 'ppp.purpose_not_for_agency', 'ppp.purpose_not_permitted', 'ppp.case_number_required', 'ppp.justification_required', 'officer.suspended', 'agency.written_request_required', 'ppp.permitted']) {
    t.ok(covered.has(rule as never), rule)
  }
})

t.test('immigration enforcement on any non-criminal-history database is denied, whatever else holds', async (t) => {
  for (const database of policy.databases.values()) {
    if (database.class !== 'non_criminal_history') continue
    for (const agency of [signed, null, { ...signed, agreement: null }, { ...signed, sanction: { type: 'removal' as const, scope: 'all' as const, reason: 'x', since: '2026-01-01T00:00:00Z' } }]) {
      const decision = evaluate(policy, facts(database.id, 'immigration_enforcement', '24-1'), agency, at, null)
      t.equal(decision.rule, 'ppp.immigration_non_criminal', `${database.id} / ${agency === null ? 'unknown agency' : agency.agreement === null ? 'no agreement' : agency.sanction?.type ?? 'signed'}`)
      t.equal(decision.outcome, 'deny')
      t.match(decision.citation, /7284\.6/)
    }
  }
})

t.test('a decision carries a reason an operator can read and the law it applies', async (t) => {
  const denied = evaluate(policy, facts('criminal_history', 'ccw_licensing'), signed, at, null)
  t.equal(denied.rule, 'ppp.purpose_not_permitted')
  t.match(denied.reason, /Concealed-carry \(CCW\) licensing/)
  t.match(denied.citation, /11140\(b\)/)
  const allowed = evaluate(policy, facts('criminal_history', 'immigration_enforcement', 'A-1'), signed, at, null)
  t.same({ outcome: allowed.outcome, rule: allowed.rule }, { outcome: 'allow', rule: 'ppp.permitted' })
  const suspended = evaluate(policy, facts('dmv.driver_license', 'traffic_enforcement'), { ...signed, sanction: { type: 'suspension', scope: 'all', reason: 'r', since: '2026-01-01T00:00:00Z', until: '2026-07-01T00:00:00.000Z' } }, at, null)
  t.equal(suspended.rule, 'agency.suspended')
  t.match(suspended.reason, /until 2026-07-01T00:00:00.000Z/)
})

t.test('sanctionBlocks: censure never, removal always, suspension by scope and until', async (t) => {
  const since = '2026-01-01T00:00:00Z'
  t.notOk(sanctionBlocks(null, 'criminal_history', at))
  t.notOk(sanctionBlocks({ type: 'censure', scope: 'all', reason: 'r', since }, 'non_criminal_history', at))
  t.ok(sanctionBlocks({ type: 'removal', scope: 'all', reason: 'r', since }, 'criminal_history', at))
  t.ok(sanctionBlocks({ type: 'suspension', scope: 'all', reason: 'r', since }, 'criminal_history', at))
  t.notOk(sanctionBlocks({ type: 'suspension', scope: 'non_criminal_history', reason: 'r', since }, 'criminal_history', at))
  t.ok(sanctionBlocks({ type: 'suspension', scope: 'non_criminal_history', reason: 'r', since }, 'non_criminal_history', at))
  const until = '2026-06-01T00:00:01Z'
  t.ok(sanctionBlocks({ type: 'suspension', scope: 'all', reason: 'r', since, until }, 'criminal_history', at), 'one second before it lapses')
  t.notOk(sanctionBlocks({ type: 'suspension', scope: 'all', reason: 'r', since, until }, 'criminal_history', at + 1000), 'at the instant it lapses')
})

t.test('the revision is a hash of the policy files: same files, same revision', async (t) => {
  const again = await loadPolicyDir(policyDir)
  t.equal(again.revision, policy.revision)
  t.match(policy.revision, /^[0-9a-f]{16}$/)
})

t.test('the immigration denial cites the rule that binds the agency: S.B. 54 for California agencies, the PPP for federal ones', async (t) => {
  const local = evaluate(policy, facts('dmv.driver_license', 'immigration_enforcement', '24-1'), signed, at, null)
  t.match(local.citation, /7284\.6\(a\)\(1\)\(D\)/)
  t.match(local.reason, /^California law \(S\.B\. 54\) and the CLETS PPP forbid using non-criminal-history information \(DMV driver licence and ID card records\) for immigration enforcement, that is any effort to investigate/)
  const federal = evaluate(policy, facts('dmv.driver_license', 'immigration_enforcement', '24-1'), cbp, at, null)
  t.equal(federal.rule, 'ppp.immigration_non_criminal')
  t.match(federal.citation, /^CLETS PPP, Feb 2019 update, binding on every subscribing agency/)
  t.match(federal.reason, /^The CLETS PPP, which binds every subscribing agency, federal ones included, forbids/)
  t.equal(evaluate(policy, facts('dmv.driver_license', 'immigration_enforcement', '24-1'), null, at, null).citation, local.citation, 'an unregistered ORI: S.B. 54 and the PPP')
  t.equal(local.immigration, undefined, 'a declared immigration purpose needs no basis: the purpose says it')
})

t.test('immigration enforcement under another name: the reason says why, the decision records the basis', async (t) => {
  const statute = evaluate(policy, facts('dmv.driver_license', 'criminal_investigation', '8 U.S.C. 1326'), signed, at, null)
  t.match(statute, { outcome: 'deny', rule: 'ppp.immigration_non_criminal', immigration: 'statute', reason: /^The case number cites 8 U\.S\.C\. 1326 / })
  const requester = evaluate(policy, facts('dmv.driver_license', 'traffic_enforcement', undefined, { recipient: 'CADHS0100' }), signed, at, null)
  t.match(requester, { rule: 'ppp.immigration_non_criminal', immigration: 'requester', reason: /^The query is made for CADHS0100 \(DHS ICE Enforcement and Removal Operations\), an immigration authority/ })
  // On criminal history the query is judged as immigration_enforcement: its case number requirement applies,
  // with the reason opening on why.
  const rapSheet = evaluate(policy, facts('criminal_history', 'criminal_investigation', undefined, { onBehalfOf: 'CACBP0000' }), signed, at, null)
  t.match(rapSheet, { rule: 'ppp.case_number_required', immigration: 'requester', reason: /^The query is made on behalf of CACBP0000 .*A case number is required for the purpose "Criminal investigation"\.$/ })
  const suspended = evaluate(policy, facts('criminal_history', 'criminal_investigation', '8USC1326', {}), { ...signed, sanction: { type: 'removal', scope: 'all', reason: 'r', since: '2026-01-01T00:00:00Z' } }, at, null)
  t.match(suspended, { rule: 'agency.suspended', immigration: 'statute', reason: /^CLETS service for LAPD has been removed/ }, 'an agency rule keeps its own reason, and the record still says why')
  const plain = evaluate(policy, facts('dmv.driver_license', 'criminal_investigation', '24-001234'), signed, at, null)
  t.equal(plain.immigration, undefined)
  t.equal(plain, policy.purposes.get('criminal_investigation')!.decisions.get('dmv.driver_license')!.allow.local, 'the common allow is the one built at compile time')
})

t.test('a kind that may not declare immigration enforcement may not reach it under another name', async (t) => {
  const strict = policyWith('agencies.yaml', (text) => text.replace('local: [criminal_investigation, traffic_enforcement, immigration_enforcement, ccw_licensing]', 'local: [criminal_investigation, traffic_enforcement, ccw_licensing]'))
  const declared = evaluate(strict, facts('criminal_history', 'immigration_enforcement', '24-1', {}, strict), signed, at, null)
  t.match(declared, { rule: 'ppp.purpose_not_for_agency', reason: /^A local agency may not declare the purpose "Immigration enforcement"/ })
  const disguised = evaluate(strict, facts('criminal_history', 'criminal_investigation', '24-1', { onBehalfOf: 'CADHS0100' }, strict), signed, at, null)
  t.match(disguised, { rule: 'ppp.purpose_not_for_agency', immigration: 'requester', reason: /^The query is made on behalf of CADHS0100 .* A local agency may not declare the purpose "Immigration enforcement"/ })
  t.equal(evaluate(strict, facts('criminal_history', 'criminal_investigation', '24-1', {}, strict), signed, at, null).rule, 'ppp.permitted')
})

t.test('an override adds and takes purposes for one ORI, whatever kind the registry gives it, with its reason', async (t) => {
  const overridden = policyWith('agencies.yaml', (text) =>
    text.replace('overrides:\n', 'overrides:\n  CA0990000:\n    allow: [traffic_enforcement]\n    deny: [immigration_enforcement]\n    reason: "A federal park police with a California traffic function (test)."\n'),
  )
  const parkPolice: AgencyState = { ...signed, ori: 'CA0990000', name: 'Park police', kind: 'federal' }
  t.equal(evaluate(overridden, facts('dmv.driver_license', 'traffic_enforcement', undefined, {}, overridden), parkPolice, at, null).rule, 'ppp.permitted', 'allowed by the override')
  t.equal(evaluate(overridden, facts('dmv.driver_license', 'traffic_enforcement', undefined, {}, overridden), { ...parkPolice, ori: 'CA0990001' }, at, null).rule, 'ppp.purpose_not_for_agency', 'another federal agency is not')
  const denied = evaluate(overridden, facts('criminal_history', 'immigration_enforcement', '1', {}, overridden), parkPolice, at, null)
  t.match(denied, { rule: 'ppp.purpose_not_for_agency', reason: /^The policies do not let this agency \(CA0990000\) declare the purpose "Immigration enforcement": A federal park police with a California traffic function \(test\)\. It may declare "Criminal investigation", "Traffic enforcement"\.$/ })
  const ccw = evaluate(overridden, facts('dmv.driver_license', 'ccw_licensing', undefined, {}, overridden), parkPolice, at, null)
  t.match(ccw.reason, /^A federal agency may not declare the purpose "Concealed-carry \(CCW\) licensing": it is not among its official functions\. This agency \(CA0990000\) may declare "Criminal investigation", "Traffic enforcement"\.$/)
  t.equal(evaluate(overridden, facts('dmv.driver_license', 'ccw_licensing', undefined, {}, overridden), { ...parkPolice, kind: 'local' }, at, null).rule, 'ppp.permitted', 'registered as local, it gets the local purposes and the override')
})

t.test('isImmigrationAuthority: listed by ORI, or by organisation prefix of whole segments', async (t) => {
  const rules = policy.agencies
  t.match(isImmigrationAuthority(rules, 'CADHS0100', null), { name: /ICE Enforcement and Removal/, listed: { ori: 'CADHS0100' } }, 'an ORI listed, registered or not')
  t.match(isImmigrationAuthority(rules, 'CA0HSI100', { organisation: 'DHS/ICE/HSI' }), { name: /Immigration and Customs Enforcement/, listed: { organisation: 'DHS/ICE' } })
  t.match(isImmigrationAuthority(rules, 'CA0HSI100', { organisation: 'DHS/ICE' }), { listed: { organisation: 'DHS/ICE' } }, 'the prefix itself')
  t.match(isImmigrationAuthority(rules, 'CA0OFO100', { organisation: 'DHS/CBP/OFO/SANDIEGO' }), { listed: { organisation: 'DHS/CBP' } }, 'any depth below')
  for (const organisation of ['DHS/ICEX', 'DHS', 'DHS/USCIS', 'DOJ/FBI', 'DOJ/USMS', 'CA/LAPD', 'ICE', 'X/DHS/ICE']) {
    t.equal(isImmigrationAuthority(rules, 'CA0990100', { organisation }), null, `${organisation} is not covered`)
  }
  t.equal(isImmigrationAuthority(rules, 'CA0990100', { organisation: null }), null, 'no organisation, not listed')
  t.equal(isImmigrationAuthority(rules, 'CA0990100', null), null, 'not registered, not listed')
  t.ok(organisationCovers('DHS/ICE', 'DHS/ICE/ERO') && !organisationCovers('DHS/ICE', 'DHS/ICEX') && !organisationCovers('DHS/ICE/ERO', 'DHS/ICE'))
})

t.test('minimisation follows immigration-authority status, not the kind: the FBI gets the address, an ICE office by organisation does not', async (t) => {
  const fbi: AgencyState = { ...signed, ori: 'CA0FBI100', name: 'FBI field office (test)', kind: 'federal', organisation: 'DOJ/FBI' }
  const kidnapping = facts('dmv.driver_license', 'criminal_investigation', '18USC1201-0042', { justification: 'kidnapping of a child' })
  t.match(evaluate(policy, kidnapping, fbi, at, null), { outcome: 'allow', projection: null })
  t.match(evaluate(policy, kidnapping, { ...fbi, organisation: null }, at, null), { outcome: 'allow', projection: null }, 'a federal agency without an organisation too')
  const hsi: AgencyState = { ...fbi, ori: 'CA0HSI100', name: 'ICE HSI office (test)', organisation: 'DHS/ICE/HSI' }
  t.match(evaluate(policy, kidnapping, hsi, at, null), { outcome: 'allow', projection: { id: 'licence.without_address' } })
  t.match(evaluate(policy, kidnapping, { ...hsi, kind: 'local' }, at, null), { projection: { id: 'licence.without_address' } }, 'whatever kind it is registered as')
  t.match(evaluate(policy, { ...kidnapping, writtenRequest: true }, hsi, at, null), { outcome: 'allow', projection: null }, "DOJ's approved written request gets the whole record")
})

t.test("an onBehalfOf or recipient agency's organisation, when the caller read it, makes it an immigration authority", async (t) => {
  const forHsi = facts('dmv.driver_license', 'criminal_investigation', '24-1', { onBehalfOf: 'CA0HSI100' })
  t.match(evaluate(policy, { ...forHsi, onBehalfOfAgency: { organisation: 'DHS/ICE/HSI' } }, signed, at, null), {
    rule: 'ppp.immigration_non_criminal',
    immigration: 'requester',
    reason: /^The query is made on behalf of CA0HSI100 \(DHS U\.S\. Immigration and Customs Enforcement, part of DHS\/ICE\), an immigration authority/,
  })
  t.match(evaluate(policy, { ...forHsi, onBehalfOfAgency: null }, signed, at, null), { rule: 'review.immigration_evidence', evidence: [{ kind: 'unknown_requester', text: 'CA0HSI100' }] }, 'not registered and not listed: no authority, but an unregistered ORI is evidence')
  t.equal(evaluate(policy, forHsi, signed, at, null).rule, 'ppp.permitted', 'not read (a replay without the state): the ORI list alone decides')
  t.equal(evaluate(policy, { ...forHsi, onBehalfOfAgency: { organisation: 'DOJ/FBI' } }, signed, at, null).rule, 'ppp.permitted')
  const toCbp = facts('dmv.vehicle_registration', 'criminal_investigation', '24-1', { recipient: 'CA0OFO100' })
  t.match(evaluate(policy, { ...toCbp, recipientAgency: { organisation: 'DHS/CBP/OFO' } }, signed, at, null), { rule: 'ppp.immigration_non_criminal', reason: /^The query is made for CA0OFO100 / })
  // The officer's own agency is not looked up as a requester: its own queries are judged as its own.
  const ownHsi: AgencyState = { ...signed, ori: 'CA0HSI100', kind: 'federal', organisation: 'DHS/ICE/HSI' }
  t.match(evaluate(policy, { ...facts('criminal_history', 'criminal_investigation', '24-1', { onBehalfOf: 'CA0HSI100' }), onBehalfOfAgency: { organisation: 'DHS/ICE/HSI' } }, ownHsi, at, null), { rule: 'ppp.permitted' })
})

t.test('the justification is required of monitored agencies for the classes the policy names', async (t) => {
  const query = facts('dmv.driver_license', 'criminal_investigation', '24-1')
  t.match(evaluate(policy, query, cbp, at, null), { rule: 'ppp.justification_required', citation: /justification/ })
  t.equal(evaluate(policy, { ...query, justification: 'why' }, cbp, at, null).rule, 'ppp.permitted')
  t.equal(evaluate(policy, query, { ...cbp, monitored: false }, at, null).rule, 'ppp.permitted')
  const everything = policyWith('agencies.yaml', (text) => text.replace('requiredOfMonitored: [non_criminal_history]', 'requiredOfMonitored: [non_criminal_history, criminal_history]'))
  t.equal(evaluate(everything, facts('criminal_history', 'criminal_investigation', '24-1', {}, everything), cbp, at, null).rule, 'ppp.justification_required')
  const none = policyWith('agencies.yaml', (text) => text.replace('requiredOfMonitored: [non_criminal_history]', 'requiredOfMonitored: []'))
  t.equal(evaluate(none, facts('dmv.driver_license', 'criminal_investigation', '24-1', {}, none), cbp, at, null).rule, 'ppp.permitted')
})

t.test('the statute matcher: any spacing or punctuation, never inside a longer number or word', async (t) => {
  const find = (text: string) => policy.immigration.findStatutes(text)?.[0]?.statute ?? null
  const cites: [string, string | null][] = [
    ['8USC1326-1', '8 U.S.C. 1326'],
    ['8 U.S.C. § 1326', '8 U.S.C. 1326'],
    ['8 u.s.c. §§ 1326(a)(1)', '8 U.S.C. 1326'],
    ['8.U.S.C.1325', '8 U.S.C. 1325'],
    ['see 8 USC 1324a(a)(1)(A)', '8 U.S.C. 1324a'],
    ['8 USC 1324 harboring', '8 U.S.C. 1324'],
    ['INA 276', '8 U.S.C. 1326'],
    ['ina§274A', '8 U.S.C. 1324a'],
    ['removal 8 U.S.C. 1229a', '8 U.S.C. 1229a'],
    ['18 U.S.C. 1326', null],
    ['8 U.S.C. 13261', null],
    ['8 U.S.C. 1229', null],
    ['CHINA 276', null],
    ['24-001234', null],
    ['8 U S C', null],
  ]
  for (const [text, cite] of cites) t.equal(find(text)?.cite ?? null, cite, text)
  t.equal(compileStatuteMatcher([])('8 U.S.C. 1326'), null, 'no statutes, no match')
  // Linear in the text: a long run of separators after a partial citation costs no backtracking.
  const started = performance.now()
  find(`8${' .'.repeat(250)}`)
  find(`${'8 U.S.C. '.repeat(55)}`)
  t.ok(performance.now() - started < 50, 'adversarial texts are matched quickly')
})
