// What an operator's dashboard shows is what the ledger holds: a real Prometheus scrapes a gateway after
// a mixed workload, and its PromQL sums of the decision counters equal the decision records in the
// ledger, rule by rule. Regression (issue 10, point 5): DMV-licence and vehicle-registration denials of
// one rule were two series with identical labels; Prometheus keeps one of them per scrape, so
// `sum(gateway_decisions_total{rule="ppp.immigration_non_criminal"})` showed 3 of the ledger's 6.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import t from 'tap'
import { call, cbp, freePort, iceEro, lapd, ledgerRecords, policyDir, query, startTestGateway, tempDir, testPopulation, token, type Answer } from './helpers.js'

if (spawnSync('prometheus', ['--version']).error !== undefined) throw new Error('prometheus is not installed: `apt-get install -y prometheus` (.ci/run installs it)')

// An officer may run 5 queries a minute here, so one officer's burst is answered 429 (rate.user).
const policies = tempDir('policies')
cpSync(policyDir, policies, { recursive: true })
writeFileSync(join(policies, 'limits.yaml'), readFileSync(join(policies, 'limits.yaml'), 'utf8').replace('limit: 120', 'limit: 5'))
// /metrics closed, as the shipped stack runs it: Prometheus must send the token (from a file, as there).
const metricsToken = 'metrics-token-for-the-scrape-test'
const gw = await startTestGateway({ env: { POLICY_DIR: policies, METRICS_TOKEN: metricsToken } })
t.teardown(() => gw.close())

const population = testPopulation()
const licence = { licenseNumber: 'A1234567' }
const plate = { plate: population.vehicles[0]!.plate }
const rapSheet = population.rapSheets[0]!.person
const rap = { lastName: rapSheet.lastName, firstName: rapSheet.firstName, dateOfBirth: rapSheet.dateOfBirth }
let officers = 0
/** A fresh officer for each query, so only the burst below meets the officer's rate limit. */
const officer = (ori: string) => token({ ori, sub: `officer-${++officers}` })

/** Polls Prometheus's query API until `ready` accepts the result (Prometheus starts and scrapes on its own schedule). */
async function promql(base: string, expression: string, ready: (result: any[]) => boolean = () => true, deadlineMs = 15_000): Promise<any[]> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    try {
      const answer = await request(`${base}/api/v1/query?query=${encodeURIComponent(expression)}`)
      const body = (await answer.body.json()) as { status: string; data?: { result: any[] } }
      if (answer.statusCode === 200 && body.status === 'success' && ready(body.data!.result)) return body.data!.result
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Prometheus did not answer ${expression} in time`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** A PromQL vector as { "label values joined": value }. */
function byLabels(result: any[], labels: readonly string[]): Record<string, number> {
  return Object.fromEntries(result.map((sample) => [labels.map((label) => sample.metric[label]).join(' '), Number(sample.value[1])]))
}

/** Counts of records by the given fields, keyed like byLabels. */
function countBy(records: any[], fields: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const record of records) {
    const key = fields.map((field) => record[field]).join(' ')
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

t.test('a real Prometheus sums each rule to exactly the decisions the ledger holds', async (t) => {
  const answers: Answer[] = []
  const send = async (body: object, bearer: string, times = 1) => {
    for (let n = 0; n < times; n++) answers.push(await query(gw.url, body, bearer))
  }
  // Allowed, on each database.
  await send({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: licence }, officer(lapd))
  await send({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: licence }, officer(lapd))
  await send({ database: 'dmv.vehicle_registration', purpose: 'traffic_enforcement', subject: plate }, officer(lapd))
  await send({ database: 'criminal_history', purpose: 'criminal_investigation', subject: rap, caseNumber: '24-001234' }, officer(lapd))
  await send({ database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-2024-1' }, officer(cbp))
  // Immigration enforcement on DMV data (S.B. 54), on both DMV databases: the bug's two series.
  for (let n = 0; n < 3; n++) await send({ database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: licence, caseNumber: 'A-2024-1' }, officer(cbp))
  for (let n = 0; n < 2; n++) await send({ database: 'dmv.vehicle_registration', purpose: 'immigration_enforcement', subject: plate, caseNumber: 'A-2024-1' }, officer(iceEro))
  await send({ database: 'dmv.vehicle_registration', purpose: 'immigration_enforcement', subject: plate, caseNumber: '24-77' }, officer(lapd))
  // ICE ERO has no agreement; the case number is required; CCW checks on criminal history; an unknown ORI.
  for (let n = 0; n < 2; n++) await send({ database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-2019-77' }, officer(iceEro))
  for (let n = 0; n < 2; n++) await send({ database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: licence }, officer(lapd))
  await send({ database: 'dmv.vehicle_registration', purpose: 'criminal_investigation', subject: plate }, officer(lapd))
  await send({ database: 'criminal_history', purpose: 'ccw_licensing', subject: rap }, officer(lapd))
  await send({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: licence }, officer('CA9999999'))
  // One officer's burst past the limit.
  await send({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: licence }, officer(lapd), 8)
  // Refused before any decision: they are no decision, in the ledger or in the counter.
  await send({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { plate: '1AAA000' } }, officer(lapd))
  await send({ database: 'dmv.boats', purpose: 'traffic_enforcement', subject: licence }, officer(lapd))
  answers.push(await call(gw.url, 'POST', '/v1/query', { body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: licence } }))

  const statuses = new Set(answers.map((answer) => answer.status))
  t.same([...statuses].sort(), [200, 400, 401, 403, 429], 'allowed, denied, rate-limited and rejected queries')
  const ledger = ledgerRecords(gw.auditDir)
  const decisions = ledger.filter((record) => record.type === 'query.decision')
  t.ok(ledger.some((record) => record.type === 'query.rejected'), 'the rejections are audited as rejections')
  t.equal(countBy(decisions, ['rule'])['ppp.immigration_non_criminal'], 6, 'six immigration denials in the ledger, on two DMV databases')

  // Closed to anyone without the token: nothing of the counters shows.
  const bare = await call(gw.url, 'GET', '/metrics')
  t.equal(bare.status, 401, '/metrics without a token: 401')
  t.equal(bare.body.error.code, 'token_missing')
  t.match(bare.headers['www-authenticate'], /^Bearer realm=/)
  const wrong = await call(gw.url, 'GET', '/metrics', { token: `${metricsToken}x` })
  t.equal(wrong.status, 401, 'with another token: 401')
  t.equal(wrong.body.error.code, 'token_invalid')
  t.equal((await call(gw.url, 'GET', '/metrics', { token: token() })).body.error.code, 'token_invalid', "an officer's valid JWT is not the metrics token")

  const dir = tempDir('prometheus')
  const port = await freePort()
  const target = new URL(gw.url).host
  // As docker/prometheus/prometheus.yml: the token read from a file (there, the compose secret).
  writeFileSync(join(dir, 'metrics_token'), `${metricsToken}\n`)
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: clets-gateway',
      '    authorization:',
      '      type: Bearer',
      `      credentials_file: ${join(dir, 'metrics_token')}`,
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  )
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  prometheus.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
  const exited = once(prometheus, 'exit')
  t.teardown(async () => {
    if (prometheus.exitCode === null && prometheus.signalCode === null) prometheus.kill('SIGKILL')
    await exited
  })
  const base = `http://127.0.0.1:${port}`

  // Prometheus started after the workload, so its first successful scrape holds every decision.
  try {
    await promql(base, 'up{job="clets-gateway"}', (result) => result[0]?.value[1] === '1')
  } catch (error) {
    throw new Error(`${(error as Error).message}; Prometheus said:\n${log}`)
  }
  const byRule = byLabels(await promql(base, 'sum by (rule) (gateway_decisions_total)', (result) => result.length > 0), ['rule'])
  t.same(byRule, countBy(decisions, ['rule']), 'sum by (rule) equals the ledger, rule by rule')
  t.equal(byRule['ppp.immigration_non_criminal'], 6)
  const series = ['outcome', 'rule', 'database_class', 'purpose']
  const bySeries = byLabels(await promql(base, `sum by (${series.join(', ')}) (gateway_decisions_total)`), series)
  t.same(bySeries, countBy(decisions, ['outcome', 'rule', 'databaseClass', 'purpose']), 'and every label set too')
  const registered = decisions.filter((record) => record.agencyVersion !== null)
  t.same(byLabels(await promql(base, 'sum by (ori) (gateway_agency_decisions_total)'), ['ori']), countBy(registered, ['ori']), 'decisions per registered agency equal the ledger')

  prometheus.kill('SIGTERM')
  await exited
})
