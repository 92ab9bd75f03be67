// gatewayctl report misuse: the annual report computed from a real gateway's ledger (issue 13, point 4).
// Pinned bugs, found by trying the report as an investigator would: an officer whose only denials were
// two rate-limit 429s was counted among "officers in denials"; LAPD's 2019 agreement was dated by the
// day an operator entered it; the year ran from UTC midnight, not California's.
import { execFile } from 'node:child_process'
import { cpSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { AuditLedger } from '../src/audit/ledger.js'
import { categoryOf, ruleCategories, yearStart } from '../src/audit/report.js'
import { ruleIds } from '../src/policy/types.js'
import { call, cbp, iceEro, lapd, ledgerRecords, operatorToken, policyDir, query, root, sheriff, startTestGateway, tempDir, testPopulation, TestClock, token } from './helpers.js'

const exec = promisify(execFile)
// The shipped policies with a per-officer limit of 5 a minute, so one officer's burst is throttled.
const policies = tempDir('policies')
cpSync(policyDir, policies, { recursive: true })
writeFileSync(join(policies, 'limits.yaml'), 'perUser:\n  limit: 5\n  windowSeconds: 60\nperAgency:\n  limit: 6000\n  windowSeconds: 60\n')
// Without the signal policy: the signals the report counts are the ones written below, by hand.
rmSync(join(policies, 'signals.yaml'))

// Seeded (and the sheriff's suspension) on 31 Dec 2025, 15:00 in California.
const clock = new TestClock(Date.parse('2025-12-31T23:00:00.000Z'))
const gw = await startTestGateway({ clock, env: { POLICY_DIR: policies } })
t.teardown(() => gw.close())
const person = testPopulation().licenses[0]!
const rap = { lastName: person.person.lastName, firstName: person.person.firstName, dateOfBirth: person.person.dateOfBirth }
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: person.licenseNumber } }
const immigrationDl = { ...dl, purpose: 'immigration_enforcement', caseNumber: 'A-1' }

await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'suspension', scope: 'non_criminal_history', reason: 'before the year' } })
// 2025-12-31T23:30-08:00 = 2026-01-01T07:30Z: New Year in UTC, still 2025 in California.
clock.value = Date.parse('2025-12-31T23:30:00-08:00')
await query(gw.url, immigrationDl, token({ sub: 'lapd-late' }))
// 2026-01-01T00:30 in California.
clock.value = Date.parse('2026-01-01T00:30:00-08:00')
for (let i = 0; i < 3; i++) await query(gw.url, dl, token({ sub: `lapd-${i}` }))
await query(gw.url, { ...dl, purpose: 'criminal_investigation' }, token({ sub: 'lapd-0' })) // no case number: incomplete, not misuse
await query(gw.url, immigrationDl, token({ sub: 'lapd-1' })) // S.B. 54: policy misuse
// The pinned bug: an officer whose only denials are two 429s is throttled, not a misuser.
for (let i = 0; i < 7; i++) await query(gw.url, dl, token({ sub: 'lapd-burst' }))
const typo = await query(gw.url, { ...dl, database: 'dmv.drivers' }, token({ sub: 'lapd-typo' }))
for (const sub of ['ero-1', 'ero-2', 'ero-1']) await query(gw.url, immigrationDl, token({ ori: iceEro, sub }))
await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-2' }, token({ ori: iceEro, sub: 'ero-3' }))
await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-3' }, token({ ori: cbp, sub: 'cbp-1' }))
await query(gw.url, { database: 'criminal_history', purpose: 'ccw_licensing', subject: rap }, token({ ori: sheriff, sub: 'deputy-1' }))
await call(gw.url, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { reason: 'training completed' } })
// Sanctions go to the fictional sample sheriff, never to a real agency.
await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'censure', reason: 'case numbers missing' } })
// A fictional agency (invented for this test) whose agreement, signed in 2025, DOJ entered in 2026.
const fictional = 'CA9990001'
await call(gw.url, 'PUT', `/v1/agencies/${fictional}`, { token: operatorToken(), body: { name: 'Invented Valley PD (fictional)', kind: 'local', reason: 'new subscriber' } })
await call(gw.url, 'PUT', `/v1/agencies/${fictional}/agreement`, { token: operatorToken(), body: { version: 'PPP-2019-02', signedAt: '2025-06-02T10:00:00-07:00', reason: 'signed copy received late' } })
await query(gw.url, dl, token({ ori: fictional, sub: 'ivpd-1' }))
// 2026-12-31T16:00 in California, though 2027 in UTC.
clock.value = Date.parse('2027-01-01T00:00:01.000Z')
await query(gw.url, dl, token({ sub: 'lapd-9' }))
// 2027 in California.
clock.value = Date.parse('2027-01-01T08:00:01.000Z')
await query(gw.url, dl, token({ sub: 'lapd-10' }))

// Misuse signals, as the signals component writes them (the real ledger writer, its own chain); the
// decision ids are invented, the counts in `detail` too.
const signals = await AuditLedger.open(gw.auditDir, 'signals')
const signal = (kind: string, ori: string, sub: string | null, at: string) =>
  signals.append({ type: 'signal.raised', id: `signal-${kind}-${at}`, kind: kind as 'watchlist', ori, sub, decisionIds: ['d-1', 'd-2'], detail: { subjects: 42, windowMinutes: 60 }, blocked: false }, Date.parse(at))
await signal('distinct_subjects', lapd, 'lapd-1', '2026-03-01T10:00:00Z')
await signal('distinct_subjects', lapd, 'lapd-1', '2026-03-02T10:00:00Z')
await signal('off_hours', lapd, 'lapd-2', '2026-04-01T10:00:00Z')
await signal('subject_spread', iceEro, null, '2026-05-01T10:00:00Z')
await signal('distinct_subjects', lapd, 'lapd-1', '2025-12-31T23:30:00-08:00') // 2025 in California
// The review queue, as the gateway writes it (invented reviews and findings): an ICE ERO review confirmed
// as misuse; an LAPD review still open, which a second opening joined; an LAPD review closed with no misuse.
const opened = (id: string, ori: string, officer: string, signal: string, at: string) =>
  signals.append({ type: 'review.opened', id, source: 'signal', signal, ori, officer, sub: officer, decisions: ['d-1'], evidence: [], summary: 'invented' }, Date.parse(at))
const found = (id: string, review: string, ori: string, officer: string, finding: 'confirmed_misuse' | 'no_misuse', at: string, joined?: string[]) =>
  signals.append({ type: 'review.finding', id, review, ori, sub: officer, operator: 'doj-reviewer-1', operatorOri: 'CA0349400', source: 'test', finding, ...(finding === 'confirmed_misuse' ? { category: 'immigration_enforcement' as const } : {}), reason: 'an invented finding reason', ...(joined === undefined ? {} : { joined }) }, Date.parse(at))
await opened('rev-ice-1', iceEro, 'ero-1', 'repeat_subject', '2026-05-02T10:00:00Z')
await opened('rev-ice-2', iceEro, 'ero-1', 'repeat_subject', '2026-05-02T11:00:00Z')
await found('fnd-ice-1', 'rev-ice-1', iceEro, 'ero-1', 'confirmed_misuse', '2026-05-03T10:00:00Z', ['rev-ice-2'])
await opened('rev-lapd-1', lapd, 'lapd-1', 'distinct_subjects', '2026-03-01T10:00:00Z')
await opened('rev-lapd-2', lapd, 'lapd-1', 'distinct_subjects', '2026-03-02T10:00:00Z')
await opened('rev-lapd-3', lapd, 'lapd-2', 'off_hours', '2026-04-01T10:00:00Z')
await found('fnd-lapd-3', 'rev-lapd-3', lapd, 'lapd-2', 'no_misuse', '2026-04-02T10:00:00Z')
await signals.close()

const gatewayctl = (...args: string[]) => exec(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: root })
const report = async (year: string, ...args: string[]) => (await gatewayctl('report', 'misuse', '--year', year, '--dir', gw.auditDir, ...args)).stdout

t.test('every rule has a category; a rule added without one fails here (and does not compile)', async (t) => {
  for (const rule of ruleIds) t.ok(Object.hasOwn(ruleCategories, rule), `${rule} is classified`)
  t.same(Object.keys(ruleCategories).sort(), [...ruleIds].sort(), 'and nothing else is')
  t.same(ruleIds.filter((rule) => categoryOf(rule) === 'policy_misuse').sort(), ['ppp.immigration_non_criminal', 'ppp.purpose_not_for_agency', 'ppp.purpose_not_permitted'])
  t.same(ruleIds.filter((rule) => categoryOf(rule) === 'throttling').sort(), ['rate.agency', 'rate.user'])
  t.equal(categoryOf('ppp.permitted'), null)
})

t.test('the year is California time: it starts at 08:00 UTC on 1 January', async (t) => {
  t.equal(new Date(yearStart(2026)).toISOString(), '2026-01-01T08:00:00.000Z')
  t.equal(new Date(yearStart(2025)).toISOString(), '2025-01-01T08:00:00.000Z')
  const built2025 = JSON.parse(await report('2025', '--format', 'json'))
  const lapd2025 = built2025.agencies.find((agency: { ori: string }) => agency.ori === lapd)
  t.match(lapd2025, { queries: 1, byCategory: { policy_misuse: 1 }, officersWithMisuse: 1, signals: { distinct_subjects: 1 } }, '23:30 on 31 Dec in California is 2025')
  t.equal(built2025.timeZone, 'America/Los_Angeles')
})

t.test('per agency: policy misuse apart from throttling, input errors, incomplete queries and agreements', async (t) => {
  t.equal(typo.status, 400)
  const built = JSON.parse(await report('2026', '--format', 'json'))
  t.match(built.totals, { queries: 20, denied: 9, policyMisuse: 5, officersWithMisuse: 4, immigrationNonCriminalAttempts: 4, signals: 4, agencies: 5, openReviews: 1, confirmedMisuse: 1 })
  const reviewed = new Map(built.agencies.map((agency: { ori: string }) => [agency.ori, agency]))
  t.match(reviewed.get(iceEro), { reviews: { open: 0, confirmedMisuse: 1, noMisuse: 0 }, confirmedByCategory: { immigration_enforcement: 1 }, officersWithConfirmedMisuse: 1 }, 'the joined opening is closed by its review')
  t.match(reviewed.get(lapd), { reviews: { open: 1, confirmedMisuse: 0, noMisuse: 1 }, officersWithConfirmedMisuse: 0 }, 'one open review, however many openings joined it')
  const byOri = new Map(built.agencies.map((agency: { ori: string }) => [agency.ori, agency]))
  t.match(byOri.get(lapd), {
    queries: 13, // 3 + 1 + 1 + 7 + lapd-9 at 16:00 on 31 Dec
    allowed: 9,
    denied: 4,
    deniedByRule: { 'ppp.case_number_required': 1, 'ppp.immigration_non_criminal': 1, 'rate.user': 2 },
    byCategory: { policy_misuse: 1, incomplete_query: 1, throttling: 2, input_errors: 1, agreement: 0, sanction: 0 },
    officersWithMisuse: 1, // lapd-1 only: not lapd-burst (two 429s), nor lapd-0 (a missing case number)
    officers: 5,
    signals: { distinct_subjects: 2, off_hours: 1, subject_spread: 0 },
    sanctionChanges: [],
    agreementAtYearEnd: { version: 'PPP-2019-02', signedAt: '2019-05-20T19:00:00.000Z' },
    agreementChanges: [],
  })
  t.match(byOri.get(iceEro), { kind: 'federal', monitored: true, queries: 4, denied: 4, byCategory: { policy_misuse: 3, agreement: 1 }, immigrationNonCriminalAttempts: 3, officersWithMisuse: 2, officers: 3, signals: { subject_spread: 1 }, agreementAtYearEnd: null })
  t.match(byOri.get(cbp), { queries: 1, denied: 0, monitored: true })
  t.match(byOri.get(sheriff), { deniedByRule: { 'ppp.purpose_not_permitted': 1 }, byCategory: { policy_misuse: 1 }, officersWithMisuse: 1, sanctionChanges: ['2026-01-01 reinstated from suspension: training completed', '2026-01-01 censure: case numbers missing'] })
  t.match(byOri.get(fictional), { queries: 1, agreementChanges: [], agreementAtYearEnd: { signedAt: '2025-06-02T17:00:00.000Z' } }, 'entered in 2026, signed in 2025')
  t.equal(built.agencies[0].ori, iceEro, 'most policy misuse first')
})

t.test("bug: agreements were dated by the day an operator entered them; now by signedAt, in the signing year's report", async (t) => {
  const built2025 = JSON.parse(await report('2025', '--format', 'json'))
  const byOri = new Map(built2025.agencies.map((agency: { ori: string }) => [agency.ori, agency]))
  t.same((byOri.get(fictional) as { agreementChanges: string[] }).agreementChanges, ['2025-06-02 signed PPP-2019-02 (recorded 2026-01-01): signed copy received late'])
  t.notOk(byOri.has(lapd) && (byOri.get(lapd) as { agreementChanges: string[] }).agreementChanges.length > 0, "LAPD's agreement, entered on 31 Dec 2025, is not a 2025 agreement")
  const built2019 = JSON.parse(await report('2019', '--format', 'json'))
  t.match(built2019.agencies.find((agency: { ori: string }) => agency.ori === lapd).agreementChanges, [/^2019-05-20 signed PPP-2019-02 \(recorded 2025-12-31\): /])
})

t.test('Markdown lists federal and monitored agencies on their own; CSV has one row per agency', async (t) => {
  const markdown = await report('2026')
  t.match(markdown, /^# CLETS misuse report 2026$/m)
  t.match(markdown, /20 queries, 9 denied, 5 refused attempts of policy misuse by 4 officers, .* 4 misuse signals \(unreviewed\), 1 open reviews, 1 confirmed findings of misuse\./)
  const findings = markdown.slice(markdown.indexOf('## Reviews and findings'))
  t.match(findings, /\| CADHS0100 \| DHS ICE Enforcement and Removal Operations \| 0 \| 1 \| immigration_enforcement 1 \| 1 \| 0 \| 0 \|/)
  t.match(findings, /\| CA0194200 \| Los Angeles Police Department \| 1 \| 0 \| - \| 0 \| 1 \| 0 \|/)
  const federal = markdown.slice(markdown.indexOf('## Federal and monitored agencies'), markdown.indexOf('## Other agencies'))
  t.match(federal, /\| CADHS0100 \| DHS ICE Enforcement and Removal Operations \| federal, monitored \| 4 \| 4 \| 3 \| 2 of 3 \| 3 \| agreement 1 \| agency.no_agreement 1, ppp.immigration_non_criminal 3 \| subject_spread 1 \| - \| none \|/)
  t.match(federal, /\| CACBP0000 \|/)
  t.notMatch(federal, /CA0194200/)
  t.match(markdown, /\| CA0194200 \| Los Angeles Police Department \| local \| 13 \| 4 \| 1 \| 1 of 5 \| 1 \| incomplete_query 1, input_errors 1, throttling 2 \|/)
  const csv = (await report('2026', '--format', 'csv')).trim().split('\n')
  t.equal(csv[0], 'year,ori,agency,kind,monitored,queries,allowed,denied,policy_misuse,incomplete_query,agreement,sanction,throttling,input_errors,officers_with_misuse,officers,immigration_non_criminal_attempts,denials_by_rule,signal_distinct_subjects,signal_subject_spread,signal_watchlist,signal_self_lookup,signal_shared_login,signal_off_hours,signal_repeat_subject,signal_licensing_terms,sanction_changes,agreement_at_year_end,agreement_changes,open_reviews,confirmed_misuse,confirmed_by_category,officers_with_confirmed_misuse,no_misuse,referred')
  t.equal(csv.length, 6)
  t.match(csv.find((row) => row.includes('CA0990000')), /^2026,CA0990000,Bayview County Sheriff's Department \(fictional\),local,false,1,0,1,1,0,0,0,0,0,1,1,0,ppp.purpose_not_permitted 1,0,0,0,0,0,0,/)
})

t.test('the public variant: counts per agency and category, small ones suppressed, nothing about people', async (t) => {
  const json = JSON.parse(await report('2026', '--public', '--format', 'json'))
  t.equal(json.suppressBelow, 5)
  const byOri = new Map(json.agencies.map((agency: { ori: string }) => [agency.ori, agency]))
  t.match(byOri.get(lapd), { queries: 13, byCategory: { policy_misuse: '<5', throttling: '<5', input_errors: '<5', agreement: 0 }, officersWithMisuse: '<5' })
  t.match(byOri.get(iceEro), { queries: '<5', byCategory: { policy_misuse: '<5' }, immigrationNonCriminalAttempts: '<5', confirmedMisuse: '<5', confirmedByCategory: { immigration_enforcement: '<5' } })
  for (const agency of json.agencies) t.notOk('signals' in agency || 'reviews' in agency, `${agency.ori}: no unreviewed signal or open review is published`)
  const lower = JSON.parse(await report('2026', '--public', '--suppress-below', '3', '--format', 'json'))
  t.match(lower.agencies.find((agency: { ori: string }) => agency.ori === iceEro), { queries: 4, byCategory: { policy_misuse: 3, agreement: '<3' } })

  // Whatever the ledger holds about people and reasons: none of it may be published.
  const secret = new Set<string>()
  for (const record of ledgerRecords(gw.auditDir)) {
    for (const value of [record.sub, record.reason, record.caseNumber, record.sanction?.reason, record.after?.sanction?.reason, record.before?.sanction?.reason]) if (typeof value === 'string') secret.add(value)
    for (const value of Object.values<unknown>(record.subject ?? {})) if (typeof value === 'string') secret.add(value)
    for (const value of Object.values<unknown>(record.detail ?? {})) if (typeof value === 'string') secret.add(value)
  }
  t.ok(secret.has('lapd-burst') && secret.has('case numbers missing') && secret.has(person.licenseNumber) && secret.has(rap.lastName), 'the ledger holds officers, reasons and subjects')
  for (const format of ['md', 'csv', 'json']) {
    const published = await report('2026', '--public', '--format', format)
    const leaked = [...secret].filter((value) => published.includes(value))
    t.same(leaked, [], `${format}: no officer, subject or reason`)
  }
  const markdown = await report('2026', '--public')
  t.match(markdown, /^# CLETS misuse report 2026 \(public\)$/m)
  t.match(markdown, /Counts from 1 to 4 are shown as `<5`/)
  const bad = await gatewayctl('report', 'misuse', '--year', '2026', '--dir', gw.auditDir, '--suppress-below', '3').then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /--suppress-below goes with --public/)
})

t.test('every report run is itself recorded: who, which report, how many rows (audit.access)', async (t) => {
  await report('2026', '--operator', 'auditor-7', '--operator-ori', 'CA0349400')
  const access = ledgerRecords(gw.auditDir).filter((record) => record.type === 'audit.access' && record.sub === 'auditor-7')
  t.match(access, [{ instance: 'gatewayctl', action: 'report', ori: 'CA0349400', filter: { report: 'misuse', year: '2026' }, resultCount: 5 }])
  t.match(access[0].source, /^gatewayctl@/)
})

t.test('a report that cannot be recorded is not shown', async (t) => {
  const dir = tempDir('unrecordable')
  cpSync(gw.auditDir, dir, { recursive: true, filter: (source) => !source.includes('/gatewayctl') && !source.endsWith('/lock') })
  writeFileSync(join(dir, 'gatewayctl'), 'not a directory')
  for (let i = 2; i <= 64; i++) writeFileSync(join(dir, `gatewayctl-${i}`), 'not a directory')
  const failed = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'report', 'misuse', '--year', '2026', '--dir', dir], { cwd: root }).then(() => null, (error: { code: number; stdout: string; stderr: string }) => error)
  t.equal(failed?.code, 1)
  t.equal(failed?.stdout, '', 'nothing shown')
  t.match(failed?.stderr, /cannot write the audit record under .*nothing is shown/)
})

/** The fields of each row of an RFC 4180 CSV text. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (char === '"') quoted = false
      else field += char
    } else if (char === '"') quoted = true
    else if (char === ',') row.push(field), (field = '')
    else if (char === '\n') row.push(field), rows.push(row), (row = []), (field = '')
    else field += char
  }
  return rows
}

t.test('bug: operator-supplied names reached the report unescaped (forged Markdown rows, CSV formulas, terminal escapes); each is shown as text', async (t) => {
  // In 2027, agencies registered with names an operator's typo, a compromised operator account or a
  // pasted text could carry; each makes one query, so each is in the 2027 report.
  const hostile: [string, string][] = [
    ['CA0000001', 'Evil | x\n| CA0000000 | forged | local | 0 | 0 | - | 0 | 0 of 0 | - | - |'],
    ['CA0000002', '\u001b[2J\u001b[31mCleared Screen PD'],
    ['CA0000003', '=HYPERLINK("http://evil.example","open")'],
    ['CA0000004', '+1+1'],
    ['CA0000005', '-2+3'],
    ['CA0000006', '@SUM(1,2)'],
    ['CA0000007', '\t=1+1'],
    ['CA0000008', '\r=1+1'],
    ['CA0000009', '[click here](http://evil.example) <img src=x onerror=alert(1)>'],
  ]
  for (const [ori, name] of hostile) {
    const registered = await call(gw.url, 'PUT', `/v1/agencies/${ori}`, { token: operatorToken(), body: { name, kind: 'local', reason: 'new subscriber' } })
    t.equal(registered.status, 201, `${ori} registered`)
    await query(gw.url, dl, token({ ori, sub: `officer-${ori}` }))
  }
  const json = JSON.parse(await report('2027', '--format', 'json'))
  t.same(json.agencies.filter((agency: { ori: string }) => agency.ori !== lapd).map((agency: { name: string }) => agency.name).sort(), hostile.map(([, name]) => name).sort(), 'the JSON report keeps every name exactly')

  for (const markdown of [await report('2027'), await report('2027', '--public')]) {
    t.notMatch(markdown, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line breaks between rows')
    const rows = markdown.split('\n').filter((line) => line.startsWith('| CA'))
    t.same(rows.map((line) => line.slice(2, 11)).sort(), [lapd, ...hostile.map(([ori]) => ori)].sort(), 'one row per agency, and no forged row')
    const cells = markdown.split('\n').find((line) => line.startsWith('| ORI'))!.match(/(?<!\\)\|/g)!.length
    for (const line of markdown.split('\n').filter((line) => line.startsWith('|'))) t.equal(line.match(/(?<!\\)\|/g)?.length, cells, `${cells - 1} cells: ${line}`)
    t.match(markdown, '| CA0000001 | Evil \\| x\\n\\| CA0000000 \\| forged', 'the forged row shows as text inside the name')
    t.match(markdown, '| CA0000002 | \\u001b\\[2J\\u001b\\[31mCleared Screen PD |', 'escape sequences show as text')
    t.match(markdown, '| CA0000009 | \\[click here\\](http://evil.example) \\<img src=x onerror=alert(1)> |', 'no link and no HTML')
  }

  for (const csv of [await report('2027', '--format', 'csv'), await report('2027', '--public', '--format', 'csv')]) {
    t.notMatch(csv, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line breaks between rows')
    const table = parseCsv(csv)
    t.equal(table.length, 1 + 1 + hostile.length, 'a header and one row per agency')
    for (const row of table) t.equal(row.length, table[0]!.length, `${table[0]!.length} fields: ${row[1]}`)
    const names = new Map(table.slice(1).map((row) => [row[1], row[2]]))
    t.equal(names.get('CA0000001'), 'Evil | x\\n| CA0000000 | forged | local | 0 | 0 | - | 0 | 0 of 0 | - | - |')
    t.equal(names.get('CA0000003'), `'=HYPERLINK("http://evil.example","open")`, 'a formula is neutralised by a leading apostrophe')
    for (const ori of ['CA0000004', 'CA0000005', 'CA0000006', 'CA0000007', 'CA0000008']) t.equal(names.get(ori)![0], "'", `${ori}: ${JSON.stringify(names.get(ori))} cannot start a formula`)
    t.equal(names.get('CA0000007'), "'\\t=1+1")
    t.match(csv, /^2027,CA0000003,"'=HYPERLINK\(""http:\/\/evil\.example"",""open""\)",local,/m, 'quoted per RFC 4180')
  }
})

