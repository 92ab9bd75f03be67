// The gateway as a process, the way a new user runs it: `node dist/src/main.js` (what `npm start` runs)
// on the embedded defaults in an empty folder, a token from `gatewayctl token`, the README's first
// allowed and denied queries, /metrics after a mixed workload, then SIGTERM under load.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { verifyLedger } from '../src/audit/verify.js'
import { call, ledgerRecords, policyDir, root, spawnGateway, tempDir } from './helpers.js'

const run = promisify(execFile)
const cwd = tempDir('quickstart')
const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', POLICY_DIR: policyDir, LOG_LEVEL: 'warn' }
delete env.GATEWAY_JWT_SECRET
const gateway = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd, env })
const { child, url } = gateway
t.teardown(() => {
  child.kill('SIGKILL')
})
const gatewayctl = async (...args: string[]) => (await run(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd, env })).stdout.trim()

t.test('start-up prints the URL and how to mint a token, on stderr: stdout holds JSON log lines only', async (t) => {
  t.match(gateway.errors(), /Get a token: {2}TOKEN=\$\(npx gatewayctl token --sub officer-17 --ori CA0194200 --role terminal\)/)
  t.match(gateway.errors(), /Simulated databases: dmv http:\/\/127\.0\.0\.1:\d+, criminal_history http:\/\/127\.0\.0\.1:\d+/)
})

t.test("the README's first allowed and first denied query give the answers the README shows", async (t) => {
  const bearer = await gatewayctl('token', '--sub', 'officer-17', '--ori', 'CA0194200', '--role', 'terminal')
  const allowed = await call(url, 'POST', '/v1/query', { token: bearer, body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } } })
  t.equal(allowed.status, 200)
  t.same(allowed.body.records, [{ licenseNumber: 'A1234567', cardType: 'ID', licenseClass: null, status: 'VALID', expires: '2027-04-27', person: { lastName: 'WRIGHT', firstName: 'ARJUN', middleInitial: 'T', dateOfBirth: '2006-10-02', sex: 'F', heightInches: 66, eyeColor: 'BRN' } }], 'a traffic stop: no home address')
  const denied = await call(url, 'POST', '/v1/query', { token: bearer, body: { database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: { licenseNumber: 'A1234567' }, caseNumber: '24-001234' } })
  t.equal(denied.status, 403)
  t.equal(denied.body.decision.rule, 'ppp.immigration_non_criminal')
  t.match(denied.body.decision.reason, /^California law \(S\.B\. 54\) and the CLETS PPP forbid using non-criminal-history information \(DMV driver licence and ID card records\) for immigration enforcement, that is any effort/)
  const ice = await gatewayctl('token', '--sub', 'ero-agent-3', '--ori', 'CADHS0100', '--role', 'terminal')
  const noAgreement = await call(url, 'POST', '/v1/query', { token: ice, body: { database: 'criminal_history', purpose: 'immigration_enforcement', subject: { lastName: 'WRIGHT', firstName: 'ARJUN', dateOfBirth: '2006-10-02' }, caseNumber: 'A-2019-77' } })
  t.equal(noAgreement.body.decision.rule, 'agency.no_agreement')
})

t.test('/metrics after a mixed workload shows decisions by outcome, rule, class and purpose, and no subject data', async (t) => {
  const stranger = await gatewayctl('token', '--sub', 'x-1', '--ori', 'CA9999999', '--role', 'terminal')
  const unknown = await call(url, 'POST', '/v1/query', { token: stranger, body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } } })
  t.equal(unknown.body.decision.rule, 'agency.unknown')
  const metrics = await call(url, 'GET', '/metrics')
  t.equal(metrics.status, 200)
  t.match(metrics.body, /gateway_decisions_total\{outcome="allow",rule="ppp.permitted",database_class="non_criminal_history",purpose="traffic_enforcement"\} 1/)
  t.match(metrics.body, /gateway_decisions_total\{outcome="deny",rule="ppp.immigration_non_criminal",database_class="non_criminal_history",purpose="immigration_enforcement"\} 1/)
  t.match(metrics.body, /gateway_http_request_duration_seconds_bucket\{le="[\d.]+",route="\/v1\/query",method="POST",status="200"\}/)
  t.match(metrics.body, /gateway_upstream_request_duration_seconds_count\{database="dmv.driver_license"\} 1/)
  t.match(metrics.body, /gateway_audit_batch_records_count [1-9]/)
  t.match(metrics.body, /gateway_policy_info\{revision="[0-9a-f]{16}",agreement_version="PPP-2019-02"\} 1/)
  t.match(metrics.body, /^process_cpu_seconds_total /m, "Node's default metrics under their standard names")
  t.match(metrics.body, /^gateway_build_info\{version="\d+\.\d+\.\d+",node_version="v\d+\.\d+\.\d+"\} 1$/m)
  t.match(metrics.body, /^gateway_agencies\{sanction="none"\} 3$/m, 'three sample agencies without a sanction')
  t.match(metrics.body, /^gateway_agencies\{sanction="censure"\} 1$/m, 'and the censured sheriff')
  t.match(metrics.body, /^gateway_agency_state_age_seconds 0$/m)
  t.match(metrics.body, /^gateway_agency_decisions_total\{ori="CADHS0100",outcome="deny",monitored="true"\} 1$/m, 'per registered agency')
  t.notMatch(metrics.body, /CA9999999/, 'never an unregistered ORI, though one queried')
  t.match(metrics.body, /^gateway_audit_backlog_records \d+$/m)
  for (const secret of ['A1234567', 'WRIGHT', 'officer-17', 'ero-agent-3']) t.notOk(metrics.body.includes(secret), `no ${secret} in metrics`)
  t.equal((await call(url, 'GET', '/readyz')).status, 200)
  // Every metric issue 5 names, exported by a running gateway (TYPE lines print even before a first series).
  const required = [
    'gateway_decisions_total', 'gateway_agency_decisions_total', 'gateway_http_request_duration_seconds', 'gateway_upstream_request_duration_seconds',
    'gateway_upstream_errors_total', 'gateway_audit_batch_records', 'gateway_audit_flush_duration_seconds', 'gateway_audit_write_failures_total',
    'gateway_audit_backlog_records', 'gateway_redis_round_trip_seconds', 'gateway_redis_errors_total', 'gateway_agency_state_age_seconds',
    'gateway_agencies', 'gateway_policy_info', 'gateway_load_shed_total', 'gateway_fault_refusals_total', 'gateway_query_rejections_total',
    'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'gateway_build_info',
  ]
  for (const name of required) t.match(metrics.body, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`)
})

t.test("the README's answers trimmed to the purpose, and its new denials (issue 12)", async (t) => {
  const bearer = await gatewayctl('token', '--sub', 'officer-17', '--ori', 'CA0194200', '--role', 'terminal')
  const investigation = await call(url, 'POST', '/v1/query', { token: bearer, body: { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: { licenseNumber: 'A1234567' }, caseNumber: '24-001234' } })
  t.same(investigation.body.records[0].person.address, { street: '13309 FIRST ST', city: 'FRESNO', state: 'CA', zip: '93749' }, 'a criminal investigation: the whole record')
  const cbp = await gatewayctl('token', '--sub', 'cbp-officer-4', '--ori', 'CACBP0000', '--role', 'terminal')
  const traffic = await call(url, 'POST', '/v1/query', { token: cbp, body: { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } } })
  t.equal(traffic.status, 403)
  t.same({ ...traffic.body.decision, id: '…' }, {
    id: '…',
    outcome: 'deny',
    rule: 'ppp.purpose_not_for_agency',
    reason: 'A federal agency may not declare the purpose "Traffic enforcement": it is not among its official functions. A federal agency may declare "Criminal investigation", "Immigration enforcement".',
    citation: "Penal Code §11077(b) (need to know: information demonstrably required for the agency's own official functions), for DMV records by analogy (unverified); CLETS PPP",
  })
  const reentry = await call(url, 'POST', '/v1/query', { token: cbp, body: { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: { licenseNumber: 'A1234567' }, caseNumber: '8USC1326-1' } })
  t.equal(reentry.body.decision.rule, 'ppp.immigration_non_criminal')
  t.match(reentry.body.decision.reason, /^The case number cites 8USC1326 \(8 U\.S\.C\. 1326, /)
  const smuggling = await call(url, 'POST', '/v1/query', { token: cbp, body: { database: 'dmv.driver_license', purpose: 'criminal_investigation', subject: { licenseNumber: 'A1234567' }, caseNumber: '21USC952-4' } })
  t.equal(smuggling.body.decision.rule, 'ppp.justification_required')
})

t.test("the README's invented person with a criminal record, and its operator token and admin call", async (t) => {
  const bearer = await gatewayctl('token', '--sub', 'officer-17', '--ori', 'CA0194200', '--role', 'terminal')
  const subject = { lastName: 'PATEL', firstName: 'YESENIA', dateOfBirth: '1996-04-08' }
  const investigation = await call(url, 'POST', '/v1/query', { token: bearer, body: { database: 'criminal_history', purpose: 'criminal_investigation', subject, caseNumber: '24-001234' } })
  t.equal(investigation.status, 200)
  t.match(investigation.body.records, [{ cii: 'A03149525' }], 'her rap sheet')
  t.equal(investigation.body.records[0].arrests.length, 4, 'four arrests')
  t.same(investigation.body.records[0].arrests.map((arrest: { date: string }) => arrest.date.slice(0, 4)), ['2011', '2013', '2019', '2020'], 'from 2011 to 2020')
  const ccw = await call(url, 'POST', '/v1/query', { token: bearer, body: { database: 'criminal_history', purpose: 'ccw_licensing', subject } })
  t.equal(ccw.body.decision?.rule, 'ppp.purpose_not_permitted')

  const operator = await gatewayctl('token', '--sub', 'doj-operator-1', '--ori', 'CA0349400', '--role', 'doj_operator')
  t.equal((await call(url, 'GET', '/v1/agencies/CA0194200', { token: operator })).status, 200)
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const shown = /GATEWAY_TOKEN=\$OPERATOR_TOKEN npx gatewayctl agencies show CA0194200\n```\n```\n([\s\S]*?)```/.exec(readme)?.[1]
  const printed = await run(process.execPath, [join(root, 'bin/gatewayctl.js'), 'agencies', 'show', 'CA0194200'], { cwd, env: { ...env, GATEWAY_URL: url, GATEWAY_TOKEN: operator } })
  t.equal(printed.stdout, shown, 'the table the README shows')
})

t.test('SIGTERM under load: in-flight queries finish, every answered decision is in the ledger, exit 0', async (t) => {
  const bearer = await gatewayctl('token', '--sub', 'officer-18', '--ori', 'CA0194200', '--role', 'terminal')
  const body = { database: 'dmv.vehicle_registration', purpose: 'traffic_enforcement', subject: { plate: '1AAA000' } }
  const inFlight = Array.from({ length: 60 }, () => call(url, 'POST', '/v1/query', { token: bearer, body }).catch((error: Error) => error))
  await new Promise((resolve) => setTimeout(resolve, 5))
  child.kill('SIGTERM')
  const answers = await Promise.all(inFlight)
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
  const answered = answers.filter((answer): answer is Exclude<typeof answer, Error> => !(answer instanceof Error) && answer.status === 200)
  t.ok(answered.length > 0, `${answered.length} of 60 answered before the gateway closed`)
  const ids = new Set(ledgerRecords(join(cwd, 'var/audit')).map((record) => record.id))
  t.same(answered.filter((answer) => !ids.has(answer.headers['x-decision-id'])), [], 'every answered decision is in the ledger')
  t.same((await verifyLedger(join(cwd, 'var/audit'))).problem, null, 'and the ledger verifies')
})
