// Dry-run policies (issue 13, point 3): a candidate set in POLICY_SHADOW_DIR is judged beside the live
// one on every query, and each difference is counted and recorded without changing the answer; and
// `gatewayctl policy replay` judges the ledger's recorded queries by a candidate set. On a ledger
// written by a real gateway.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { call, cbp, iceEro, lapd, ledgerRecords, operatorToken, policyDir, query, root, secret, sheriff, spawnGateway, startTestGateway, tempDir, testPopulation, TestClock, token } from './helpers.js'

const exec = promisify(execFile)
/** A copy of the shipped policies, with `gateway.yaml` edited by `edit`. */
function candidate(edit: (gatewayYaml: string) => string): string {
  const dir = tempDir('candidate')
  cpSync(policyDir, dir, { recursive: true })
  writeFileSync(join(dir, 'gateway.yaml'), edit(readFileSync(join(dir, 'gateway.yaml'), 'utf8')))
  return dir
}
// The candidate: DOJ requires a new agreement (invented version), which no agency has signed yet.
const newAgreement = candidate((text) => text.replace('agreementVersion: "PPP-2019-02"', 'agreementVersion: "PPP-2027-01"'))
const same = candidate((text) => text)

const clock = new TestClock(Date.parse('2026-05-04T09:00:00-07:00'))
const gw = await startTestGateway({ clock, env: { POLICY_SHADOW_DIR: newAgreement } })
t.teardown(() => gw.close())
const person = testPopulation().licenses[0]!
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: person.licenseNumber } }
const rap = { lastName: person.person.lastName, firstName: person.person.firstName, dateOfBirth: person.person.dateOfBirth }

t.test('a shadow difference is counted and recorded, and the answer is the live one', async (t) => {
  const allowed = await query(gw.url, dl, token({ sub: 'lapd-1' }))
  t.equal(allowed.status, 200, 'the live policies answer')
  t.equal(allowed.body.records.length, 1)
  const immigration = await query(gw.url, { ...dl, purpose: 'immigration_enforcement', caseNumber: 'A-1' }, token({ ori: iceEro, sub: 'ero-1' }))
  t.equal(immigration.body.decision.rule, 'ppp.immigration_non_criminal')
  await new Promise((resolve) => setImmediate(resolve))
  const records = ledgerRecords(gw.auditDir)
  const differences = records.filter((record) => record.type === 'shadow.difference')
  t.match(differences, [{ id: allowed.headers['x-decision-id'], ori: lapd, live: { outcome: 'allow', rule: 'ppp.permitted' }, shadow: { outcome: 'deny', rule: 'agency.no_agreement' } }], 'only the query the candidate judges otherwise')
  t.match(differences[0].shadowRevision, /^[0-9a-f]+$/)
  const metrics = (await call(gw.url, 'GET', '/metrics')).body as string
  t.match(metrics, /^gateway_shadow_differences_total\{live_rule="ppp.permitted",shadow_rule="agency.no_agreement"\} 1$/m)
})

t.test('a broken candidate stops start-up naming POLICY_SHADOW_DIR', async (t) => {
  const broken = candidate((text) => `${text}\nsurprise: 1\n`)
  await t.rejects(startTestGateway({ env: { POLICY_SHADOW_DIR: broken } }), /POLICY_SHADOW_DIR .*gateway\.yaml/)
})

t.test('at reload a broken candidate does not hold back the live policies: the live set applies, the candidate keeps its last good set', async (t) => {
  const live = candidate((text) => text)
  const shadow = candidate((text) => text)
  const logs: Record<string, unknown>[] = []
  const own = await startTestGateway({ env: { POLICY_DIR: live, POLICY_SHADOW_DIR: shadow }, logs })
  t.teardown(() => own.close())
  const holder = own.gateway.deps.policy
  const shadowRevision = holder.shadow!.revision
  const failures = async () => ((await call(own.url, 'GET', '/metrics')).body as string).split('\n').filter((line) => line.startsWith('gateway_policy_reload_failures_total'))
  t.same(await failures(), ['gateway_policy_reload_failures_total{set="live"} 0', 'gateway_policy_reload_failures_total{set="shadow"} 0'], 'both sets counted from 0')

  // The live fix: DOJ now requires the new agreement. The candidate, meanwhile, stops compiling.
  const gatewayYaml = readFileSync(join(live, 'gateway.yaml'), 'utf8')
  writeFileSync(join(live, 'gateway.yaml'), gatewayYaml.replace('agreementVersion: "PPP-2019-02"', 'agreementVersion: "PPP-2027-01"'))
  writeFileSync(join(shadow, 'gateway.yaml'), `${readFileSync(join(shadow, 'gateway.yaml'), 'utf8')}\nsurprise: 1\n`)
  const invalid = await own.gateway.reloadPolicy()
  t.match(invalid?.message, /^ *POLICY_SHADOW_DIR .*gateway\.yaml: surprise: unknown key$/m, 'the failure is the candidate\'s, and says so')
  t.equal(holder.current.agreementVersion, 'PPP-2027-01', 'the live fix applies')
  t.equal((await query(own.url, dl, token({ sub: 'lapd-3' }))).body.decision.rule, 'agency.no_agreement', 'and decides the next query')
  t.equal(holder.shadow?.revision, shadowRevision, 'the candidate keeps its last good set')
  t.same(await failures(), ['gateway_policy_reload_failures_total{set="live"} 0', 'gateway_policy_reload_failures_total{set="shadow"} 1'])
  t.match(logs.filter((line) => line.level === 50), [{ msg: /^candidate policy reload failed \(POLICY_SHADOW_DIR\); the last good candidate stays; the live policies are not affected$/, shadowRevision }])

  // An unreadable candidate (its directory gone) is the same: the live set still reloads.
  rmSync(shadow, { recursive: true })
  writeFileSync(join(live, 'gateway.yaml'), gatewayYaml)
  t.match((await own.gateway.reloadPolicy())?.message, /POLICY_SHADOW_DIR .*cannot read the policy directory/)
  t.equal(holder.current.agreementVersion, 'PPP-2019-02', 'the live set reloaded again')
  t.equal((await query(own.url, dl, token({ sub: 'lapd-3' }))).status, 200)
  t.equal(holder.shadow?.revision, shadowRevision)
  t.same(await failures(), ['gateway_policy_reload_failures_total{set="live"} 0', 'gateway_policy_reload_failures_total{set="shadow"} 2'])

  // And the other way round: a broken live set keeps its last good set, and the candidate still reloads.
  cpSync(newAgreement, shadow, { recursive: true })
  writeFileSync(join(live, 'gateway.yaml'), `${gatewayYaml}\nsurprise: 1\n`)
  const liveRevision = holder.current.revision
  t.match((await own.gateway.reloadPolicy())?.message, /^ *gateway\.yaml: surprise: unknown key$/m, 'the live set\'s failure')
  t.equal(holder.current.revision, liveRevision, 'the last good live set stays')
  t.not(holder.shadow?.revision, shadowRevision, 'the candidate reloaded')
  t.same(await failures(), ['gateway_policy_reload_failures_total{set="live"} 1', 'gateway_policy_reload_failures_total{set="shadow"} 2'])
  writeFileSync(join(live, 'gateway.yaml'), gatewayYaml)
  t.equal(await own.gateway.reloadPolicy(), null, 'both good: both reload, no failure')
})

t.test('a gateway process on SIGHUP with a broken candidate applies the live fix', async (t) => {
  const live = candidate((text) => text)
  const shadow = candidate((text) => text)
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', POLICY_DIR: live, POLICY_SHADOW_DIR: shadow, LOG_LEVEL: 'info', METRICS_CACHE_MS: '0', STATE_DIR: tempDir('state'), AUDIT_DIR: tempDir('audit'), GATEWAY_JWT_SECRET: secret }
  for (const name of ['GATEWAY_JWT_PUBLIC_KEYS', 'GATEWAY_JWT_JWKS_URL', 'DMV_URL', 'CRIMINAL_HISTORY_URL', 'REDIS_URL', 'NODE_ENV']) delete env[name]
  const child = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd: tempDir('sighup'), env })
  t.teardown(async () => {
    const exited = once(child.child, 'exit')
    child.child.kill('SIGTERM')
    await exited
  })
  const revision = async () => /^gateway_policy_info\{revision="([0-9a-f]+)",agreement_version="([^"]+)"\} 1$/m.exec((await call(child.url, 'GET', '/metrics')).body as string)?.slice(1)
  const [before] = (await revision())!
  rmSync(shadow, { recursive: true })
  writeFileSync(join(live, 'gateway.yaml'), readFileSync(join(live, 'gateway.yaml'), 'utf8').replace('agreementVersion: "PPP-2019-02"', 'agreementVersion: "PPP-2027-01"'))
  const reloaded = new Promise<void>((resolve) => {
    const seen = () => {
      if (!/"msg":"policies reloaded"/.test(child.output()) || !/"msg":"candidate policy reload failed/.test(child.output())) return
      child.child.stdout.off('data', seen)
      resolve()
    }
    child.child.stdout.on('data', seen)
  })
  child.child.kill('SIGHUP')
  await reloaded
  const [after, agreement] = (await revision())!
  t.not(after, before, 'the live set in force changed')
  t.equal(agreement, 'PPP-2027-01')
  t.match((await call(child.url, 'GET', '/metrics')).body, /^gateway_policy_reload_failures_total\{set="shadow"\} 1$/m)
  t.equal((await query(child.url, dl, token({ sub: 'lapd-4' }))).body.decision.rule, 'agency.no_agreement', 'the process decides by the live fix')
})

t.test('gatewayctl policy replay: the recorded queries judged by a candidate, per agency and rule', async (t) => {
  // A day of queries under sanctions that come and go: the replay must judge each by the state it met.
  clock.value = Date.parse('2026-05-05T09:00:00-07:00')
  // The sanctions are the fictional sample sheriff's: first the agency's, then one officer's.
  await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'suspension', scope: 'non_criminal_history', reason: 'invented for the test' } })
  const suspended = await query(gw.url, dl, token({ ori: sheriff, sub: 'deputy-1' }))
  t.equal(suspended.body.decision.rule, 'agency.suspended')
  await call(gw.url, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { reason: 'lifted' } })
  await call(gw.url, 'PUT', `/v1/officers/${sheriff}/deputy-7/sanction`, { token: operatorToken(), body: { type: 'suspension', reason: 'invented for the test' } })
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'deputy-7' }))).body.decision.rule, 'officer.suspended')
  clock.advance(3_600_000)
  await call(gw.url, 'DELETE', `/v1/officers/${sheriff}/deputy-7/sanction`, { token: operatorToken(), body: { reason: 'lifted' } })
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'deputy-1' }))).status, 200)
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'deputy-7' }))).status, 200)
  await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-3' }, token({ ori: cbp, sub: 'cbp-1' }))

  const replay = async (against: string, ...args: string[]) => (await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'policy', 'replay', '--against', against, ...args, gw.auditDir], { cwd: root })).stdout
  const unchanged = JSON.parse(await replay(same, '--since', '2026-05-01T00:00:00Z', '--json'))
  t.match(unchanged, { replayed: 7, changed: 0, changes: [] }, 'the live policies, replayed on the state each query met, change nothing')

  const changed = JSON.parse(await replay(newAgreement, '--since', '2026-05-05T00:00:00-07:00', '--json', '--operator', 'policy-analyst'))
  t.match(changed, { replayed: 5, changed: 5, since: '2026-05-05T07:00:00.000Z', until: null })
  const byKey = new Map(changed.changes.map((change: { ori: string; from: { rule: string } }) => [`${change.ori} ${change.from.rule}`, change]))
  t.match(byKey.get(`${sheriff} agency.suspended`), { transition: 'rule', to: { outcome: 'deny', rule: 'agency.no_agreement' }, count: 1, decisionIds: [suspended.headers['x-decision-id']] })
  t.match(byKey.get(`${sheriff} ppp.permitted`), { transition: 'allow→deny', count: 2 })
  t.match(byKey.get(`${sheriff} officer.suspended`), { transition: 'rule', count: 1 })
  t.match(byKey.get(`${cbp} ppp.permitted`), { transition: 'allow→deny', count: 1 })
  const text = await replay(newAgreement, '--since', '2026-05-05T00:00:00-07:00', '--until', '2026-05-05T09:30:00-07:00')
  t.match(text, /^candidate [0-9a-f]+: 2 recorded queries since 2026-05-05T07:00:00.000Z until 2026-05-05T16:30:00.000Z, 2 would be decided otherwise$/m)
  t.match(text, /^CA0990000 +rule +agency.suspended +agency.no_agreement +1 +/m)
  t.notMatch(text, new RegExp(person.licenseNumber), 'no subject in the output')
  const access = ledgerRecords(gw.auditDir).filter((record) => record.type === 'audit.access' && record.sub === 'policy-analyst')
  t.match(access, [{ action: 'replay', filter: { against: newAgreement, since: '2026-05-05T00:00:00-07:00' }, resultCount: 5 }])
  const bad = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'policy', 'replay', '--against', newAgreement, gw.auditDir], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /needs --against DIR and --since TIME/)
})

t.test('replay judges an onBehalfOf agency by the organisation the ledger showed for it then', async (t) => {
  clock.value = Date.parse('2026-05-06T09:00:00-07:00')
  const hsi = 'CA0HSI100'
  const registered = await call(gw.url, 'PUT', `/v1/agencies/${hsi}`, { token: operatorToken(), body: { name: 'ICE HSI office (test)', kind: 'federal', organisation: 'DHS/ICE/HSI', reason: 'invented for the test' } })
  t.equal(registered.status, 201)
  clock.advance(60_000)
  const forHsi = await query(gw.url, { database: 'dmv.driver_license', purpose: 'criminal_investigation', caseNumber: '24-1', onBehalfOf: hsi, subject: { licenseNumber: person.licenseNumber } }, token({ sub: 'lapd-9' }))
  t.equal(forHsi.body.decision.rule, 'ppp.immigration_non_criminal')
  const replay = async (against: string) => JSON.parse((await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'policy', 'replay', '--against', against, '--since', '2026-05-06T00:00:00-07:00', '--json', gw.auditDir], { cwd: root })).stdout)
  t.match(await replay(same), { replayed: 1, changed: 0 }, 'the live policies, with the organisation from the ledger, change nothing')
  // A candidate that no longer lists DHS/ICE: the same query would have been answered.
  const withoutIce = tempDir('candidate')
  cpSync(policyDir, withoutIce, { recursive: true })
  const agencies = join(withoutIce, 'agencies.yaml')
  writeFileSync(agencies, readFileSync(agencies, 'utf8').replace(/^ {2}- \{ organisation: DHS\/ICE,.*\n/m, ''))
  t.match(await replay(withoutIce), { replayed: 1, changed: 1, changes: [{ ori: lapd, transition: 'deny→allow', from: { rule: 'ppp.immigration_non_criminal' }, to: { rule: 'ppp.permitted' } }] })
})
