// Immigration evidence (docs/evidence.md): the matcher reads citations and terms the way people write
// them (property-based: generated spellings must match, ordinary police text must not), and the query
// path answers each kind as the policy's actions say: refused, minimised and reviewed, or reviewed.
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { startCriminalHistory, startDmv } from '../src/backends/server.js'
import { loadPolicyDir } from '../src/policy-files.js'
import { compilePolicySet } from '../src/policy/compile.js'
import { evaluate, immigrationEvidence } from '../src/policy/evaluate.js'
import { normaliseText, onlyCitations } from '../src/policy/immigration.js'
import type { AgencyState } from '../src/policy/types.js'
import { call, ledgerRecords, operatorToken, policyDir, query, startTestGateway, testPopulation, token } from './helpers.js'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const policy = await loadPolicyDir(policyDir)
const statuteOf = (text: string) => policy.immigration.findStatutes(text)?.map((citation) => citation.statute.cite) ?? []
const termsOf = (text: string) => policy.immigration.findTerms(text) ?? []

// --- the matcher ---------------------------------------------------------------------------------------

t.test("the issue's spellings are all read as citations", async (t) => {
  const cases: [string, string][] = [
    ['8 U.S.C. Sec. 1326', '8 U.S.C. 1326'],
    ['8 U.S.C. section 1326', '8 U.S.C. 1326'],
    ['Title 8 sec 1326', '8 U.S.C. 1326'],
    ['8 USCA 1326', '8 U.S.C. 1326'],
    ['8 U.S.C.A. § 1326(a)', '8 U.S.C. 1326'],
    ['8 U.S. Code 1326', '8 U.S.C. 1326'],
    ['8 U.S. Code § 1326', '8 U.S.C. 1326'],
    ['I.N.A. 276', '8 U.S.C. 1326'],
    ['Immigration and Nationality Act § 276', '8 U.S.C. 1326'],
    ['INA 287(g)', '8 U.S.C. 1357'],
    ['INA § 241', '8 U.S.C. 1231'],
    ['INA 237', '8 U.S.C. 1227'],
    ['INA 212', '8 U.S.C. 1182'],
    ['INA 275', '8 U.S.C. 1325'],
    ['INA 274', '8 U.S.C. 1324'],
    ['8 CFR 287.7', '8 CFR 287.7'],
    ['8 C.F.R. § 287.7(d)', '8 CFR 287.7'],
    ['８ U.S.C. １３２６', '8 U.S.C. 1326'], // full-width digits
    ['8 U.Ѕ.С. 1326', '8 U.S.C. 1326'], // Cyrillic Ѕ and С
    ['8 U.S.C.  §§  1326', '8 U.S.C. 1326'], // double spaces
    ['8\u00a0U.S.C.\u00a0§\u00a01326', '8 U.S.C. 1326'], // non-breaking spaces
    ['section 1326 of title 8', '8 U.S.C. 1326'],
    ['8 U.S.C. 1357(g) task force report', '8 U.S.C. 1357'],
    ['Title 8, U.S. Code, section 1325', '8 U.S.C. 1325'],
  ]
  for (const [text, cite] of cases) t.same(statuteOf(text), [cite], JSON.stringify(text))
  t.same(statuteOf('8 U.S.C. §§ 1325, 1326'), ['8 U.S.C. 1325', '8 U.S.C. 1326'], 'several sections in one citation')
  t.same(statuteOf('8 USC 1324 and 1325'), ['8 U.S.C. 1324', '8 U.S.C. 1325'], 'joined by "and"')
  t.same(statuteOf('8 U.S.C. 1324a'), ['8 U.S.C. 1324a'], '1324a is employer sanctions, its own entry')
  t.same(statuteOf('8 U.S.C. 1324(a)'), ['8 U.S.C. 1324'], '1324(a) is a subsection of 1324')
  t.same(statuteOf('INA 274A'), ['8 U.S.C. 1324a'])
})

t.test('never a citation: other titles, other codes, bare numbers', async (t) => {
  for (const text of ['18 U.S.C. 1326', '28 USC 1324', '8 U.S.C. 13261', '8 U.S.C. 1229', 'CHINA 276', '1326', 'PC 1326', 'Title 8 CCR 3203', 'Title 18 sec 1326', 'case 8-1326', '8 CFR 236.1x', 'PC 236.1']) {
    t.same(statuteOf(text), [], JSON.stringify(text))
  }
})

/** Spellings of a citation of 8 U.S.C. <section>, generated: code, marker, spacing, case, look-alikes. */
const spacing = fc.constantFrom('', ' ', '  ', '\u00a0', '\t', ' \u3000')
const uscCode = fc.constantFrom('U.S.C.', 'USC', 'U.S. Code', 'USCA', 'U.S.C.A.', 'U. S. C.', 'usc', 'u.s.c.')
const marker = fc.constantFrom('', '§', '§§', 'Sec.', 'sec', 'section', 'Section', 'SEC.')
const subsection = fc.constantFrom('', '(a)', '(b)(2)', '(g)', '(a)(1)(A)')
const confusableFold: Record<string, string[]> = { C: ['С', 'Ϲ'], S: ['Ѕ'], A: ['А', 'Α'], I: ['І', 'Ι'], N: ['Ν'], E: ['Е', 'Ε'] }
const digitsWide = (text: string) => text.replace(/[0-9]/g, (digit) => String.fromCharCode(0xff10 + Number(digit)))

function disguise(text: string, seed: number, wide: boolean): string {
  let out = ''
  let state = seed
  for (const letter of text) {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    const options = confusableFold[letter]
    out += options !== undefined && state % 3 === 0 ? options[state % options.length]! : letter
  }
  return wide ? digitsWide(out) : out
}

const sectionsByUsc: Record<string, string> = { '1182': '212', '1227': '237', '1231': '241', '1324': '274', '1325': '275', '1326': '276', '1357': '287' }

t.test('generated spellings of the U.S. Code and INA sections are all found', async (t) => {
  const usc = fc.record({ section: fc.constantFrom(...Object.keys(sectionsByUsc)), s1: spacing, s2: spacing, s3: spacing, code: uscCode, marker, subsection, seed: fc.nat(), wide: fc.boolean(), title: fc.boolean() })
  fc.assert(
    fc.property(usc, fc.string({ maxLength: 20 }).map((text) => text.replace(/[0-9A-Za-z]/g, '')), ({ section, s1, s2, s3, code, marker, subsection, seed, wide, title }, noise) => {
      const head = title ? `Title${s1 || ' '}8` : `8${s1}${code}`
      // After "Title 8" the section needs something between (Title 81326 is no citation anyone writes).
      const between = title && `${s2}${marker}${s3}` === '' ? ' ' : `${s2}${marker}${s3}`
      const text = `${noise} ${disguise(`${head}${between}${section}${subsection}`, seed, wide)} ${noise}`
      return statuteOf(text).includes(`8 U.S.C. ${section}`)
    }),
    { numRuns: 5000 },
  )
  const ina = fc.record({ section: fc.constantFrom(...Object.keys(sectionsByUsc)), s1: spacing, s2: spacing, name: fc.constantFrom('INA', 'I.N.A.', 'ina', 'Immigration and Nationality Act', 'IMMIGRATION AND NATIONALITY ACT'), marker, subsection, seed: fc.nat(), wide: fc.boolean() })
  fc.assert(
    fc.property(ina, ({ section, s1, s2, name, marker, subsection, seed, wide }) => {
      const text = disguise(`${name}${s1 || ' '}${marker}${s2}${sectionsByUsc[section]}${subsection}`, seed, wide)
      return statuteOf(`held: ${text}.`).includes(`8 U.S.C. ${section}`)
    }),
    { numRuns: 5000 },
  )
})

/** Ordinary police text: Penal and Vehicle Code sections, case numbers, addresses, dates, times, phones. */
const policeText = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom('PC', 'P.C.', 'Penal Code', 'VC', 'V.C.', 'Vehicle Code', 'H&S', 'HS', 'W&I'), fc.constantFrom(' ', ''), fc.constantFrom('', '§', 'sec.', 'section '), fc.integer({ min: 1, max: 30000 }), fc.constantFrom('', '(a)', '(b)', '.1', '.5', '(a)(1)')).map((parts) => parts.join('')),
      fc.tuple(fc.integer({ min: 10, max: 26 }), fc.integer({ min: 0, max: 999999 })).map(([year, serial]) => `${year}-${String(serial).padStart(6, '0')}`),
      fc.tuple(fc.integer({ min: 1, max: 99999 }), fc.constantFrom('Main St', 'W 8th Street', 'Sunset Blvd', 'Apt 8', 'Unit 8, Suite 1326', 'I-5 N', 'US 101', 'SR 8')).map(([number, street]) => `${number} ${street}`),
      fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 2000, max: 2030 })).map(([month, day, year]) => `${month}/${day}/${year}`),
      fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([hour, minute]) => `${String(hour).padStart(2, '0')}${String(minute).padStart(2, '0')} hrs`),
      fc.tuple(fc.integer({ min: 200, max: 999 }), fc.integer({ min: 200, max: 999 }), fc.integer({ min: 0, max: 9999 })).map(([area, exchange, line]) => `(${area}) ${exchange}-${String(line).padStart(4, '0')}`),
      fc.constantFrom('homicide suspect', 'DUI crash', 'black ice on the road', 'price of the stolen goods', 'iced coffee', 'nice car', 'removal of the vehicle', 'tow ordered', 'served', 'section 8 housing', 'detained at 8', 'Ina Garcia, witness', 'deputy', 'Sgt. Price', 'report', 'race', 'police', 'service', 'office', 'advice', 'sec.', 'title', 'SB 54', 'USC campus', 'INA Street'),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => parts.join(fc.sample(fc.constantFrom(' ', '; ', ', ', ' and '), 1)[0]!))

t.test('ordinary police text is neither a citation nor a term', async (t) => {
  fc.assert(
    fc.property(policeText, (text) => statuteOf(text).length === 0 && termsOf(text).length === 0),
    { numRuns: 3000 },
  )
  const police = { ...baseQuery('dmv.driver_license'), caseNumber: '24-001234' }
  fc.assert(fc.property(policeText, (text) => immigrationEvidence(policy, { ...police, justification: text }, 'CA0999900') === null), { numRuns: 500 })
})

t.test('terms: whole words after normalisation; acronyms only in capitals; A-numbers by shape', async (t) => {
  t.same(termsOf('assist ICE: subject has a removal order, locate'), ['ICE', 'removal order'])
  t.same(termsOf('illegal reentry after deportation; ICE detainer'), ['illegal reentry', 'deportation', 'ICE', 'detainer'])
  t.same(termsOf('assist ІСЕ'), ['ICE'], 'Cyrillic look-alikes folded')
  t.same(termsOf('ＩＣＥ hold'), ['ICE'], 'full-width letters')
  t.same(termsOf('Removal-Order on file'), ['Removal-Order'])
  t.same(termsOf('A-123-456-789'), ['A-123-456-789'])
  t.same(termsOf('A123456789 and A 12 345 678'), ['A123456789', 'A 12 345 678'])
  for (const text of ['price', 'Iced', 'ice on road', 'police', 'ERODE', 'HSIEH', 'A1234567', 'CA123456789', 'detainers', 'undocumentedly']) t.same(termsOf(text), [], text)
})

t.test('normalisation and what a justification is about', async (t) => {
  t.equal(normaliseText('plain ascii'), 'plain ascii')
  t.equal(normaliseText('８ ＵＳＣ'), '8 USC')
  t.equal(normaliseText('Аѕ'), 'As')
  t.ok(onlyCitations('8 U.S.C. 1326'))
  t.ok(onlyCitations('violation of 8 USC §§ 1325, 1326'))
  t.notOk(onlyCitations('homicide suspect; also charged federally under 8 USC 1326'))
  t.notOk(onlyCitations('PC 236.1 and 8 U.S.C. 1324'), 'another code beside it: a mention')
})

// --- the decisions ---------------------------------------------------------------------------------------

const city: AgencyState = { ori: 'CA0999900', name: 'Test City Police Department (invented)', kind: 'local', organisation: null, agreement: { version: 'PPP-2019-02', signedAt: '2019-06-01T00:00:00Z' }, sanction: null, monitored: false, version: 1 }
const federal: AgencyState = { ...city, ori: 'US0999900', name: 'Test federal bureau (invented)', kind: 'federal' }
function baseQuery(database: string, purpose = 'criminal_investigation') {
  return { database: policy.databases.get(database)!, purpose: policy.purposes.get(purpose)!, caseNumber: '24-001234' as string | undefined }
}
const at = Date.parse('2026-06-01T00:00:00Z')

t.test('the actions are policy data, per kind and agency group; the strictest wins', async (t) => {
  const mention = { ...baseQuery('dmv.driver_license'), justification: 'homicide suspect; also charged federally under 8 USC 1326' }
  t.match(evaluate(policy, mention, city, at, null), { outcome: 'allow', rule: 'review.immigration_evidence', review: 'minimise_and_review', projection: { id: 'licence.without_address' } })
  const source = readdirSync(policyDir).filter((name) => name.endsWith('.yaml'))
  const files = source.map((file) => ({ file, text: readFileSync(join(policyDir, file), 'utf8') }))
  const reviewOnly = compilePolicySet(
    files.map((entry) =>
      entry.file === 'purposes.yaml'
        ? { ...entry, text: entry.text.replace('    federal: *actions\n', '    federal:\n      statute_mentioned: deny\n').replace('      statute_mentioned: minimise_and_review\n', '      statute_mentioned: review\n') }
        : entry,
    ),
  )
  const reviewed = evaluate(reviewOnly, mention, city, at, null)
  t.match(reviewed, { outcome: 'allow', rule: 'review.immigration_evidence', review: 'review' })
  t.equal(reviewed.projection ?? null, null, 'review: answered as the purpose allows (whole records here)')
  t.match(evaluate(reviewOnly, mention, federal, at, null), { outcome: 'deny', rule: 'ppp.immigration_non_criminal', immigration: 'statute' }, 'the federal group denies a mention in this policy')
  t.throws(
    () => compilePolicySet(files.map((entry) => (entry.file === 'purposes.yaml' ? { ...entry, text: entry.text.replace('      declared: deny\n', '      declared: review\n') } : entry))),
    /immigrationEnforcement\.actions\.california\.declared: must be deny/,
  )
})

// --- the query path ---------------------------------------------------------------------------------------

const population = testPopulation()
const dmv = await startDmv(population)
const criminalHistory = await startCriminalHistory(population)
const gw = await startTestGateway({ env: { DMV_URL: dmv.url, CRIMINAL_HISTORY_URL: criminalHistory.url } })
t.teardown(async () => {
  await gw.close()
  await dmv.close()
  await criminalHistory.close()
})
// An invented agency, registered and signed through the admin API as DOJ would.
const testOri = 'CA0999900'
const registered = await call(gw.url, 'PUT', `/v1/agencies/${testOri}`, { token: operatorToken(), body: { name: 'Test City Police Department (invented)', kind: 'local', reason: 'test agency' } })
const signed = await call(gw.url, 'PUT', `/v1/agencies/${testOri}/agreement`, { token: operatorToken(), body: { version: 'PPP-2019-02', signedAt: '2019-06-01T00:00:00Z', reason: 'signed' } })
const officer = () => token({ ori: testOri, sub: 'officer-900' })
const licence = { licenseNumber: 'A1234567' }

t.test('the test agency is registered', async (t) => {
  t.ok(registered.status < 300 && signed.status < 300, `${registered.status} ${signed.status}`)
})

async function ask(t: Test, body: Record<string, unknown>) {
  const answer = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: licence, caseNumber: '24-009001', ...body }, officer())
  const records = ledgerRecords(gw.auditDir)
  const decision = records.find((record) => record.type === 'query.decision' && record.id === answer.headers['x-decision-id'])
  t.ok(decision, 'the decision is recorded')
  return { answer, decision, records }
}

async function expectReviewed(t: Test, body: Record<string, unknown>, kind: string) {
  const { answer, decision, records } = await ask(t, body)
  t.equal(answer.status, 200)
  t.equal(answer.body.decision.rule, 'review.immigration_evidence')
  t.match(answer.body.decision.review, /^[0-9a-f-]{36}$/)
  t.equal(answer.body.records.length, 1)
  t.notOk('address' in answer.body.records[0].person, 'no home address')
  t.equal(answer.body.records[0].person.lastName, population.licenses[0]!.person.lastName, 'the rest of the record')
  t.equal(decision.review, answer.body.decision.review, 'the record carries the review id')
  t.ok(decision.evidence.some((item: { kind: string }) => item.kind === kind), `evidence ${kind}: ${JSON.stringify(decision.evidence)}`)
  const opened = records.find((record) => record.type === 'review.opened' && record.id === answer.body.decision.review)
  t.match(opened, { source: 'immigration_evidence', ori: testOri, sub: 'officer-900', decisions: [decision.id] }, 'the review is opened, after its decision')
  t.ok(records.indexOf(opened) > records.indexOf(decision))
}

t.test("the issue's legitimate cases: answered without the address, and reviewed", async (t) => {
  await expectReviewed(t, { justification: 'homicide suspect; also charged federally under 8 USC 1326' }, 'statute_mentioned')
  await expectReviewed(t, { justification: 'trafficking rescue citing PC 236.1 and 8 U.S.C. 1324' }, 'statute_mentioned')
  await expectReviewed(t, { justification: 'DUI crash; see 8 U.S.C. 1357(g) task force report' }, 'statute_mentioned')
})

t.test('terms: assist ICE, removal order, locate', async (t) => {
  await expectReviewed(t, { justification: 'assist ICE: subject has a removal order, locate' }, 'terms')
  await expectReviewed(t, { justification: 'illegal reentry after deportation; ICE detainer' }, 'terms')
})

t.test('unknown_requester: on behalf of, or for, an unregistered DHS-style ORI', async (t) => {
  await expectReviewed(t, { onBehalfOf: 'CADHS0200' }, 'unknown_requester')
  await expectReviewed(t, { recipient: 'CADHS0300' }, 'unknown_requester')
  // A registered agency as recipient is no evidence: answered whole, no review.
  const { answer, decision } = await ask(t, { recipient: 'CA0194200' })
  t.equal(answer.body.decision.rule, 'ppp.permitted')
  t.equal(answer.body.decision.review, undefined)
  t.ok('address' in answer.body.records[0].person)
  t.equal(decision.evidence, undefined)
})

t.test('deny-level evidence is refused as before, with the evidence recorded', async (t) => {
  const { answer, decision } = await ask(t, { caseNumber: '8 USC 1326', justification: 'locate' })
  t.equal(answer.status, 403)
  t.equal(answer.body.decision.rule, 'ppp.immigration_non_criminal')
  t.match(decision, { outcome: 'deny', immigration: 'statute', evidence: [{ kind: 'statute_subject', field: 'caseNumber', text: '8 USC 1326' }] })
  const authority = await ask(t, { onBehalfOf: 'CADHS0100' })
  t.equal(authority.answer.status, 403)
  t.match(authority.decision.evidence, [{ kind: 'authority', field: 'onBehalfOf', text: 'CADHS0100' }])
})

t.test('every spelling the issue lists is refused as a case number', async (t) => {
  for (const caseNumber of ['8 U.S.C. Sec. 1326', '8 U.S.C. section 1326', 'Title 8 sec 1326', '8 USCA 1326', '8 U.S. Code 1326', 'I.N.A. 276', '8 CFR 287.7', '8 U.S.C. 1326']) {
    const { answer } = await ask(t, { caseNumber })
    t.equal(answer.status, 403, caseNumber)
  }
  for (const justification of ['Immigration and Nationality Act § 276', '８ U.S.C. １３２６', '8 U.Ѕ.С. 1326', '8 U.S.C.  §§  1326']) {
    const { answer } = await ask(t, { justification })
    t.equal(answer.status, 403, justification)
  }
})

t.test('audit search finds decisions by a kind of evidence; an unknown kind is a 400', async (t) => {
  const found = await call(gw.url, 'GET', '/v1/audit/search?evidence=unknown_requester&type=query.decision', { token: operatorToken() })
  t.equal(found.status, 200)
  const records = found.body.records as { evidence: { kind: string }[] }[]
  t.ok(records.length >= 2, `${records.length} found`)
  t.ok(records.every((record) => record.evidence.some((item) => item.kind === 'unknown_requester')))
  const bad = await call(gw.url, 'GET', '/v1/audit/search?evidence=rumour', { token: operatorToken() })
  t.equal(bad.status, 400)
})

t.test('the misuse report counts an answer given under review as an allow, never as misuse', async (t) => {
  const { misuseReport } = await import('../src/audit/report.js')
  const records = ledgerRecords(gw.auditDir).filter((record) => record.ori === testOri || record.type !== 'query.decision')
  async function* all() {
    yield* records
  }
  const year = new Date(records.find((record) => record.type === 'query.decision').time).getUTCFullYear()
  const report = await misuseReport(all(), year, new Date())
  const agency = report.agencies.find((entry) => entry.ori === testOri)!
  const underReview = records.filter((record) => record.type === 'query.decision' && record.rule === 'review.immigration_evidence').length
  t.ok(underReview >= 7, `${underReview} answers under review`)
  t.ok(agency.allowed >= underReview, 'each counted as allowed')
  const refusedOnEvidence = records.filter((record) => record.type === 'query.decision' && record.ori === testOri && record.rule === 'ppp.immigration_non_criminal').length
  t.equal(agency.byCategory.policy_misuse, refusedOnEvidence, 'misuse is only the refusals, not the answers under review')
})

t.test('replay and the shadow judge recorded queries by the evidence, unregistered ORIs from the recorded evidence', async (t) => {
  const { candidateDecision } = await import('../src/policy/candidate.js')
  const recorded = { database: 'dmv.driver_license', purpose: 'criminal_investigation', caseNumber: '24-1', justification: 'homicide suspect; also charged federally under 8 USC 1326' }
  t.match(candidateDecision(policy, recorded, city, at, null), { outcome: 'allow', rule: 'review.immigration_evidence' })
  const relayed = { database: 'dmv.driver_license', purpose: 'criminal_investigation', caseNumber: '24-1', onBehalfOf: 'CADHS0200' }
  t.match(candidateDecision(policy, relayed, city, at, null), { outcome: 'allow', rule: 'ppp.permitted' }, 'an old record says nothing of registration')
  t.match(candidateDecision(policy, { ...relayed, evidence: [{ kind: 'unknown_requester', field: 'onBehalfOf', text: 'CADHS0200' }] }, city, at, null), { outcome: 'allow', rule: 'review.immigration_evidence' })
})
