// gatewayctl report misuse: the annual report computed from a real gateway's ledger.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { call, cbp, iceEro, lapd, operatorToken, query, root, sheriff, startTestGateway, testPopulation, TestClock, token } from './helpers.js'

const exec = promisify(execFile)
// Seeded (and LAPD's sanction) in 2025; the queries in 2026; one more in 2027.
const clock = new TestClock(Date.parse('2025-12-31T23:00:00.000Z'))
const gw = await startTestGateway({ clock })
t.teardown(() => gw.close())
const person = testPopulation().licenses[0]!
const rap = { lastName: person.person.lastName, firstName: person.person.firstName, dateOfBirth: person.person.dateOfBirth }
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'suspension', scope: 'non_criminal_history', reason: 'before the year' } })
clock.advance(2 * 3_600_000) // 2026-01-01T01:00Z
for (let i = 0; i < 3; i++) await query(gw.url, dl, token({ sub: `lapd-${i}` }))
await query(gw.url, { ...dl, purpose: 'criminal_investigation' }, token({ sub: 'lapd-0' })) // no case number
for (const sub of ['ero-1', 'ero-2', 'ero-1']) await query(gw.url, { ...dl, purpose: 'immigration_enforcement', caseNumber: 'A-1' }, token({ ori: iceEro, sub }))
await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-2' }, token({ ori: iceEro, sub: 'ero-3' }))
await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-3' }, token({ ori: cbp, sub: 'cbp-1' }))
await query(gw.url, { database: 'criminal_history', purpose: 'ccw_licensing', subject: rap }, token({ ori: sheriff, sub: 'deputy-1' }))
await call(gw.url, 'PUT', `/v1/agencies/${lapd}/sanction`, { token: operatorToken(), body: { type: 'censure', reason: 'case numbers missing' } })
await call(gw.url, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { reason: 'training completed' } })
clock.value = Date.parse('2027-01-01T00:00:01.000Z')
await query(gw.url, dl, token({ sub: 'lapd-9' }))

const report = async (...args: string[]) => (await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'report', 'misuse', '--year', '2026', '--dir', gw.auditDir, ...args], { cwd: root })).stdout

t.test('per agency: queries, denials by rule, immigration attempts, officers in denials, sanctions', async (t) => {
  const built = JSON.parse(await report('--format', 'json'))
  t.match(built.totals, { queries: 10, denied: 6, immigrationNonCriminalAttempts: 3, agencies: 4 })
  const byOri = new Map(built.agencies.map((agency: { ori: string }) => [agency.ori, agency]))
  t.match(byOri.get(iceEro), { kind: 'federal', monitored: true, queries: 4, denied: 4, deniedByRule: { 'ppp.immigration_non_criminal': 3, 'agency.no_agreement': 1 }, immigrationNonCriminalAttempts: 3, officersInDenials: 3 })
  t.match(byOri.get(lapd), { queries: 4, allowed: 3, denied: 1, deniedByRule: { 'ppp.case_number_required': 1 }, officersInDenials: 1, officers: 3, sanctionChanges: ['2026-01-01 censure: case numbers missing'] })
  t.match(byOri.get(cbp), { queries: 1, denied: 0, monitored: true })
  t.match(byOri.get(sheriff), { deniedByRule: { 'ppp.purpose_not_permitted': 1 }, sanctionChanges: ['2026-01-01 reinstated from suspension: training completed'] })
  t.equal(built.agencies[0].ori, iceEro, 'most denials first')
})

t.test('Markdown lists federal and monitored agencies on their own; CSV has one row per agency', async (t) => {
  const markdown = await report()
  t.match(markdown, /^# CLETS misuse report 2026$/m)
  const federal = markdown.slice(markdown.indexOf('## Federal and monitored agencies'), markdown.indexOf('## Other agencies'))
  t.match(federal, /\| CADHS0100 \| DHS ICE Enforcement and Removal Operations \| federal, monitored \| 4 \| 4 \| agency.no_agreement 1, ppp.immigration_non_criminal 3 \| 3 \| 3 of 3 \|/)
  t.match(federal, /\| CACBP0000 \|/)
  t.notMatch(federal, /CA0194200/)
  const csv = (await report('--format', 'csv')).trim().split('\n')
  t.equal(csv[0], 'year,ori,agency,kind,monitored,queries,allowed,denied,denials_by_rule,immigration_non_criminal_attempts,officers_in_denials,officers,sanction_changes,agreement_changes')
  t.equal(csv.length, 5)
  t.match(csv.find((row) => row.includes('CA0370000')), /^2026,CA0370000,San Diego County Sheriff's Department,local,false,1,0,1,ppp.purpose_not_permitted 1,0,1,1,/)
})
