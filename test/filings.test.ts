// Annual misuse filings (issue 13, point 5): DOJ operators record what each agency filed for a year
// (PUT /v1/agencies/:ori/filings/:year, audited, kept by both stores across restarts), and `gatewayctl
// report compliance` lists filings, overdue agencies and the reporting rate, with each agency's own
// figures beside the ledger's; `gatewayctl filings` records and reads them from a terminal. The filings'
// figures are invented for the test.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { complianceReport, filingDueAt, noteRegistration } from '../src/audit/compliance.js'
import { misuseReport } from '../src/audit/report.js'
import { ledgerRecords as readLedger } from '../src/audit/search.js'
import type { AgencyState } from '../src/policy/types.js'
import type { MisuseFiling } from '../src/state/types.js'
import { call, cbp, iceEro, lapd, ledgerRecords, operatorToken, query, root, runGatewayctl, sheriff, startTestGateway, tempDir, testPopulation, TestClock, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

const exec = promisify(execFile)
const redis = await startRedis()
t.teardown(() => redis.stop())
const person = testPopulation().licenses[0]!
const immigrationDl = { database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: { licenseNumber: person.licenseNumber }, caseNumber: 'A-1' }
const lapdFiling = { investigations: 3, violations: 0, individuals: 0, pending: 1, discipline: {}, categories: {}, reason: 'LAPD annual misuse report received 2026-02-10' }
const cbpFiling = { investigations: 2, violations: 2, individuals: 1, pending: 0, discipline: { reprimand: 1 }, categories: { personal_query: 2 }, reason: 'CBP report received' }

let redisInitialized = false
const stores: [string, (clock: TestClock, stateDir: string) => Promise<TestGateway>][] = [
  ['embedded', (clock, stateDir) => startTestGateway({ clock, stateDir })],
  ['redis', async (clock, stateDir) => {
    // Created once, as gatewayctl state init --samples does (a gateway never seeds a Redis); restarts find it.
    // Audited in the gateway's ledger at the test's time, as the embedded store's first start is.
    const auditDir = tempDir('audit')
    if (!redisInitialized) await initRedis(`${redis.url}/3`, { now: clock.value, auditDir })
    redisInitialized = true
    return startTestGateway({ clock, stateDir, auditDir, env: { REDIS_URL: `${redis.url}/3` } })
  }],
]

for (const [name, start] of stores) {
  t.test(`${name} store`, async (t) => {
    const clock = new TestClock(Date.parse('2025-03-01T12:00:00-08:00'))
    const stateDir = tempDir('filings-state')
    let gw = await start(clock, stateDir)
    t.teardown(() => gw.close())
    const auditDir = gw.auditDir
    // 2025: LAPD misuse on the ledger (S.B. 54), and ICE's.
    await query(gw.url, immigrationDl, token({ sub: 'lapd-1' }))
    await query(gw.url, immigrationDl, token({ ori: iceEro, sub: 'ero-1' }))
    // A review of an LAPD officer (invented), which a DOJ reviewer confirms as misuse in 2025: only such
    // a finding marks an agency unreported; ICE ERO's refused attempt, unreviewed, does not.
    const { openReview } = await import('../src/reviews/open.js')
    const reviewId = '0b9d7a3e-6f21-4c8e-9a55-2d4f6e8b1c07'
    await openReview(gw.gateway.deps, reviewId, { source: 'signal', signal: 'repeat_subject', ori: lapd, officer: 'lapd-1', sub: 'lapd-1', decisions: [], evidence: [], summary: 'invented' }, clock.value)
    const confirmed = await call(gw.url, 'PUT', `/v1/reviews/${reviewId}/finding`, { token: operatorToken(), body: { finding: 'confirmed_misuse', category: 'personal_query', reason: 'invented finding' } })
    t.equal(confirmed.status, 200)
    clock.value = Date.parse('2026-02-15T10:00:00-08:00')
    const put = (ori: string, year: string | number, body: unknown, bearer = operatorToken()) => call(gw.url, 'PUT', `/v1/agencies/${ori}/filings/${year}`, { token: bearer, body })
    const get = (ori: string, year: number) => call(gw.url, 'GET', `/v1/agencies/${ori}/filings/${year}`, { token: operatorToken() })

    t.test('an operator records a filing: audited with before and after, read back, recorded again', async (t) => {
      const first = await put(lapd, 2025, lapdFiling)
      t.equal(first.status, 201)
      t.match(first.body, { ori: lapd, year: 2025, investigations: 3, violations: 0, pending: 1, version: 1, recordedAt: '2026-02-15T18:00:00.000Z' })
      const audit = ledgerRecords(auditDir).find((record) => record.id === first.headers['x-audit-id'])
      t.match(audit, { type: 'filing.recorded', operator: 'doj-operator-1', ori: lapd, year: 2025, reason: lapdFiling.reason, before: null, after: { investigations: 3, version: 1 } })
      const again = await put(lapd, 2025, { ...lapdFiling, pending: 0, reason: 'corrected: the pending case closed' })
      t.equal(again.status, 200)
      t.match(again.body, { pending: 0, version: 2 })
      t.match(ledgerRecords(auditDir).find((record) => record.id === again.headers['x-audit-id']), { before: { pending: 1, version: 1 }, after: { pending: 0, version: 2 } })
      t.match((await get(lapd, 2025)).body, { pending: 0, version: 2 })
      t.equal((await put(cbp, 2025, cbpFiling)).status, 201)
      const listed = await call(gw.url, 'GET', '/v1/filings?year=2025', { token: operatorToken() })
      t.same(listed.body.map((filing: MisuseFiling) => filing.ori), [lapd, cbp])
      t.match(listed.body[1], { discipline: { reprimand: 1 }, categories: { personal_query: 2 } })
      t.same((await call(gw.url, 'GET', '/v1/filings?year=2024', { token: operatorToken() })).body, [])
    })

    t.test('bad filings: a 4xx with a stable code, and nothing changes', async (t) => {
      const before = ledgerRecords(auditDir).length
      const cases: [string, string, string | number, unknown, number, string, string?][] = [
        ['a negative count', lapd, 2025, { ...lapdFiling, violations: -1 }, 400, 'invalid_request', 'violations'],
        ['a fraction', lapd, 2025, { ...lapdFiling, individuals: 1.5 }, 400, 'invalid_request', 'individuals'],
        ['a count as text', lapd, 2025, { ...lapdFiling, investigations: '3' }, 400, 'invalid_request', 'investigations'],
        ['an unknown category', lapd, 2025, { ...lapdFiling, categories: { curiosity: 1 } }, 400, 'invalid_request', 'categories'],
        ['an unknown discipline', lapd, 2025, { ...lapdFiling, discipline: { flogging: 1 } }, 400, 'invalid_request', 'discipline'],
        ['more pending than investigations', lapd, 2025, { ...lapdFiling, pending: 4 }, 400, 'invalid_request', 'pending'],
        ['no reason', lapd, 2025, { ...lapdFiling, reason: undefined }, 400, 'invalid_request', 'reason'],
        ['an unknown key', lapd, 2025, { ...lapdFiling, convictions: 2 }, 400, 'invalid_request'],
        ['a year before the bulletin', lapd, 2016, lapdFiling, 400, 'invalid_request', 'year'],
        ['a year not over', lapd, 2026, lapdFiling, 400, 'invalid_request', 'year'],
        ['a year that is not one', lapd, '25', lapdFiling, 400, 'invalid_request'],
        ['an unregistered agency', 'CA9990009', 2025, lapdFiling, 404, 'agency_not_found'],
        ['not JSON', lapd, 2025, undefined, 400, 'invalid_request'],
      ]
      for (const [what, ori, year, body, status, code, path] of cases) {
        const answer = await put(ori, year, body)
        t.equal(answer.status, status, what)
        t.equal(answer.body.error?.code, code, what)
        if (path !== undefined) t.ok(answer.body.error.issues.some((issue: { path: string }) => issue.path === path), `${what}: names ${path}`)
      }
      t.equal((await put(lapd, 2025, lapdFiling, token())).status, 403, 'a terminal may not record filings')
      t.equal((await call(gw.url, 'PUT', `/v1/agencies/${lapd}/filings/2025`, { body: lapdFiling })).status, 401)
      t.equal((await get(sheriff, 2025)).body.error.code, 'filing_not_found')
      t.equal(ledgerRecords(auditDir).length, before, 'no record written')
      t.match((await get(lapd, 2025)).body, { pending: 0, version: 2 }, 'the filing is as it was')
    })

    t.test('filings survive a restart', async (t) => {
      await gw.close()
      gw = await start(clock, stateDir)
      t.match((await call(gw.url, 'GET', `/v1/agencies/${lapd}/filings/2025`, { token: operatorToken() })).body, { pending: 0, version: 2 })
      t.equal((await call(gw.url, 'GET', '/v1/filings?year=2025', { token: operatorToken() })).body.length, 2)
    })

    t.test('gatewayctl report compliance: filings, overdue agencies, the rate, self-reported figures beside the ledger', async (t) => {
      const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: operatorToken() }
      const run = (...args: string[]) => exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'report', 'compliance', '--year', '2025', '--dir', auditDir, ...args], { cwd: root, env })
      const json = JSON.parse((await run('--format', 'json', '--operator', 'auditor-2')).stdout)
      t.match(json, { year: 2025, dueAt: '2026-04-01T07:00:00.000Z', expected: 4, filed: 2, overdue: 2, reportingRate: 0.5 })
      const byOri = new Map(json.agencies.map((row: { ori: string }) => [row.ori, row]))
      t.match(byOri.get(lapd), { status: 'filed', filing: { violations: 0 }, ledger: { policyMisuse: 1, officersWithMisuse: 1, immigrationNonCriminalAttempts: 1, confirmedMisuse: 1, openReviews: 0 }, unreported: true })
      t.match(byOri.get(cbp), { status: 'filed', filing: { violations: 2, individuals: 1 }, ledger: { policyMisuse: 0 }, unreported: false })
      t.match(byOri.get(iceEro), { status: 'overdue', filing: null, ledger: { policyMisuse: 1, confirmedMisuse: 0 }, unreported: false }, 'a refused attempt is no finding')
      t.match(byOri.get(sheriff), { status: 'overdue', unreported: false })
      t.same(json.agencies.map((row: { ori: string }) => row.ori).slice(0, 3), [sheriff, iceEro, lapd], 'overdue first; among the filed, unreported misuse first')
      const markdown = (await run()).stdout
      t.match(markdown, /2 of 4 agencies filed \(reporting rate 50%\); 2 overdue/)
      t.match(markdown, /due by 2026-03-31/)
      t.match(markdown, /\| CA0194200 \| Los Angeles Police Department \| local \| filed \| 3 \| 0 \| 0 \| 0 \| - \| - \| 1 \| 1 \| 1 \| 0 \| 0 \| 1 \| yes \|/)
      t.match(markdown, /\| CACBP0000 \| DHS U.S. Customs and Border Protection \| federal \| filed \| 2 \| 2 \| 1 \| 0 \| reprimand 1 \| personal_query 2 \|/)
      const access = ledgerRecords(auditDir).filter((record) => record.type === 'audit.access' && record.sub === 'auditor-2')
      t.match(access, [{ action: 'report', filter: { report: 'compliance', year: '2025' }, resultCount: 4 }])
      const refused = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'report', 'compliance', '--year', '2025', '--dir', auditDir], { cwd: root, env: { ...env, GATEWAY_TOKEN: token() } }).then(() => null, (error: { code: number; stderr: string; stdout: string }) => error)
      t.equal(refused?.code, 1, 'a terminal token cannot read filings')
      t.match(refused?.stderr, /error 403: role_forbidden/)
      t.equal(refused?.stdout, '')
    })

    t.test('before the deadline an agency without a filing is not yet due, not overdue', async (t) => {
      const agencies = (await call(gw.url, 'GET', '/v1/agencies', { token: operatorToken() })).body as AgencyState[]
      const filings = (await call(gw.url, 'GET', '/v1/filings?year=2025', { token: operatorToken() })).body as MisuseFiling[]
      const registeredAt = new Map<string, number>()
      for (const record of ledgerRecords(auditDir)) noteRegistration(registeredAt, record)
      const misuse = await misuseReport(readLedger(auditDir), 2025, new Date())
      const early = complianceReport(2025, agencies, filings, misuse, registeredAt, filingDueAt(2025) - 1)
      t.match(early, { expected: 4, filed: 2, overdue: 0 })
      t.same(early.agencies.filter((row) => row.status === 'not_yet_due').map((row) => row.ori).sort(), [sheriff, iceEro])
      t.equal(complianceReport(2024, agencies, filings, misuse, registeredAt, Date.now()).expected, 0, 'agencies registered in 2025 owed nothing for 2024')
    })
  })
}

t.test('gatewayctl filings record, show and list: the admin API from a terminal, audited like the API', async (t) => {
  const clock = new TestClock(Date.parse('2026-02-15T10:00:00-08:00'))
  const gw = await startTestGateway({ clock, stateDir: tempDir('filings-cli') })
  t.teardown(() => gw.close())
  const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: operatorToken() }
  const filings = (...args: string[]) => runGatewayctl(['filings', ...args], { env })
  const figures = ['--investigations', '4', '--violations', '2', '--individuals', '2', '--pending', '1', '--discipline', 'suspension=1', '--discipline', 'training=1', '--category', 'personal_query=2']

  const recorded = await filings('record', sheriff, '2025', ...figures, '--reason', 'sheriff annual misuse report received', '--json')
  t.equal(recorded.code, 0, recorded.stderr)
  t.match(JSON.parse(recorded.stdout), { ori: sheriff, year: 2025, investigations: 4, violations: 2, discipline: { suspension: 1, training: 1 }, categories: { personal_query: 2 }, version: 1 })
  t.match(ledgerRecords(gw.auditDir).filter((record) => record.type === 'filing.recorded'), [{ operator: 'doj-operator-1', ori: sheriff, year: 2025, reason: 'sheriff annual misuse report received', before: null }])

  const shown = await filings('show', sheriff, '2025')
  t.equal(shown.code, 0)
  t.match(shown.stdout, /^ORI +YEAR +INVESTIGATIONS +VIOLATIONS +INDIVIDUALS +PENDING +DISCIPLINE +CATEGORIES +RECORDED +VERSION\n/)
  t.match(shown.stdout, new RegExp(`^${sheriff} +2025 +4 +2 +2 +1 +suspension 1, training 1 +personal_query 2 +2026-02-15T18:00:00.000Z +1$`, 'm'))
  const listed = await filings('list', '--year', '2025', '--json')
  t.same(JSON.parse(listed.stdout).map((filing: MisuseFiling) => filing.ori), [sheriff])

  // The API's refusals come back as its error (exit 1); a wrong command line never reaches it (exit 2).
  const refused = await filings('record', sheriff, '2025', ...figures, '--discipline', 'flogging=1', '--reason', 'x')
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^error 400: /)
  const missing = await filings('show', lapd, '2025')
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^error 404: filing_not_found: /)
  const usage: [string[], RegExp][] = [
    [['record', sheriff, '2025', ...figures], /^gatewayctl: record needs --reason\n/],
    [['record', sheriff, '2025', '--investigations', 'four', '--reason', 'x'], /^gatewayctl: --investigations: a whole number; got four\n/],
    [['record', sheriff, '2025', ...figures, '--discipline', 'suspension', '--reason', 'x'], /^gatewayctl: --discipline: expected NAME=N; got suspension\n/],
    [['show', 'sheriff', '2025'], /^gatewayctl: show needs an ORI such as CA0194200, then the year\n/],
    [['show', sheriff, '25'], /^gatewayctl: show needs the year \(YYYY\) after the ORI\n/],
    [['list'], /^gatewayctl: list needs --year YYYY\n/],
  ]
  for (const [args, message] of usage) {
    const run = await filings(...args)
    t.equal(run.code, 2, `filings ${args.join(' ')}: exit 2`)
    t.match(run.stderr, message)
  }
  t.equal(ledgerRecords(gw.auditDir).filter((record) => record.type === 'filing.recorded').length, 1, 'nothing else recorded')
})
