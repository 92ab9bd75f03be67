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
  const report2027 = async (...args: string[]) => (await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'report', 'misuse', '--year', '2027', '--dir', gw.auditDir, ...args], { cwd: root })).stdout
  const json = JSON.parse(await report2027('--format', 'json'))
  t.same(json.agencies.filter((agency: { ori: string }) => agency.ori !== lapd).map((agency: { name: string }) => agency.name).sort(), hostile.map(([, name]) => name).sort(), 'the JSON report keeps every name exactly')

  const markdown = await report2027()
  t.notMatch(markdown, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line breaks between rows')
  const rows = markdown.split('\n').filter((line) => line.startsWith('| CA'))
  t.same(rows.map((line) => line.slice(2, 11)).sort(), [lapd, ...hostile.map(([ori]) => ori)].sort(), 'one row per agency, and no forged row')
  for (const line of markdown.split('\n').filter((line) => line.startsWith('|'))) t.equal(line.match(/(?<!\\)\|/g)?.length, 11, `10 cells: ${line}`)
  t.match(markdown, '| CA0000001 | Evil \\| x\\n\\| CA0000000 \\| forged', 'the forged row shows as text inside the name')
  t.match(markdown, '| CA0000002 | \\u001b\\[2J\\u001b\\[31mCleared Screen PD |', 'escape sequences show as text')
  t.match(markdown, '| CA0000009 | \\[click here\\](http://evil.example) \\<img src=x onerror=alert(1)> |', 'no link and no HTML')

  const csv = await report2027('--format', 'csv')
  t.notMatch(csv, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line breaks between rows')
  const table = parseCsv(csv)
  t.equal(table.length, 1 + 1 + hostile.length, 'a header and one row per agency')
  for (const row of table) t.equal(row.length, 14, `14 fields: ${row[1]}`)
  const names = new Map(table.slice(1).map((row) => [row[1], row[2]]))
  t.equal(names.get('CA0000001'), 'Evil | x\\n| CA0000000 | forged | local | 0 | 0 | - | 0 | 0 of 0 | - | - |')
  t.equal(names.get('CA0000003'), `'=HYPERLINK("http://evil.example","open")`, 'a formula is neutralised by a leading apostrophe')
  for (const ori of ['CA0000004', 'CA0000005', 'CA0000006', 'CA0000007', 'CA0000008']) t.equal(names.get(ori)![0], "'", `${ori}: ${JSON.stringify(names.get(ori))} cannot start a formula`)
  t.equal(names.get('CA0000007'), "'\\t=1+1")
  t.match(csv, /^2027,CA0000003,"'=HYPERLINK\(""http:\/\/evil\.example"",""open""\)",local,/m, 'quoted per RFC 4180')
})
