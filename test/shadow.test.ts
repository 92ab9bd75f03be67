// Dry-run policies (issue 13, point 3): a candidate set in POLICY_SHADOW_DIR is judged beside the live
// one on every query, and each difference is counted and recorded without changing the answer; and
// `gatewayctl policy replay` judges the ledger's recorded queries by a candidate set. On a ledger
// written by a real gateway.
import { execFile } from 'node:child_process'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { call, cbp, iceEro, lapd, ledgerRecords, operatorToken, policyDir, query, root, sheriff, startTestGateway, tempDir, testPopulation, TestClock, token } from './helpers.js'

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

t.test('a broken candidate stops start-up naming POLICY_SHADOW_DIR; a broken one at reload keeps both sets', async (t) => {
  const broken = candidate((text) => `${text}\nsurprise: 1\n`)
  await t.rejects(startTestGateway({ env: { POLICY_SHADOW_DIR: broken } }), /POLICY_SHADOW_DIR .*gateway\.yaml/)
  writeFileSync(join(newAgreement, 'gateway.yaml'), `${readFileSync(join(newAgreement, 'gateway.yaml'), 'utf8')}\nsurprise: 1\n`)
  const failed = await gw.gateway.reloadPolicy()
  t.match(failed?.message, /POLICY_SHADOW_DIR/)
  writeFileSync(join(newAgreement, 'gateway.yaml'), readFileSync(join(newAgreement, 'gateway.yaml'), 'utf8').replace('\nsurprise: 1\n', ''))
  const answer = await query(gw.url, dl, token({ sub: 'lapd-2' }))
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(ledgerRecords(gw.auditDir).some((record) => record.type === 'shadow.difference' && record.id === answer.headers['x-decision-id']), 'the last good candidate still judges')
  t.equal(await gw.gateway.reloadPolicy(), null, 'a good one reloads')
})

t.test('gatewayctl policy replay: the recorded queries judged by a candidate, per agency and rule', async (t) => {
  // A day of queries under sanctions that come and go: the replay must judge each by the state it met.
  clock.value = Date.parse('2026-05-05T09:00:00-07:00')
  await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'suspension', scope: 'non_criminal_history', reason: 'invented for the test' } })
  await call(gw.url, 'PUT', `/v1/officers/${lapd}/lapd-7/sanction`, { token: operatorToken(), body: { type: 'suspension', reason: 'invented for the test' } })
  const suspended = await query(gw.url, dl, token({ ori: sheriff, sub: 'deputy-1' }))
  t.equal(suspended.body.decision.rule, 'agency.suspended')
  t.equal((await query(gw.url, dl, token({ sub: 'lapd-7' }))).body.decision.rule, 'officer.suspended')
  clock.advance(3_600_000)
  await call(gw.url, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { reason: 'lifted' } })
  await call(gw.url, 'DELETE', `/v1/officers/${lapd}/lapd-7/sanction`, { token: operatorToken(), body: { reason: 'lifted' } })
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'deputy-1' }))).status, 200)
  t.equal((await query(gw.url, dl, token({ sub: 'lapd-7' }))).status, 200)
  await query(gw.url, { database: 'criminal_history', purpose: 'immigration_enforcement', subject: rap, caseNumber: 'A-3' }, token({ ori: cbp, sub: 'cbp-1' }))

  const replay = async (against: string, ...args: string[]) => (await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'policy', 'replay', '--against', against, ...args, gw.auditDir], { cwd: root })).stdout
  const unchanged = JSON.parse(await replay(same, '--since', '2026-05-01T00:00:00Z', '--json'))
  t.match(unchanged, { replayed: 8, changed: 0, changes: [] }, 'the live policies, replayed on the state each query met, change nothing')

  const changed = JSON.parse(await replay(newAgreement, '--since', '2026-05-05T00:00:00-07:00', '--json', '--operator', 'policy-analyst'))
  t.match(changed, { replayed: 5, changed: 5, since: '2026-05-05T07:00:00.000Z', until: null })
  const byKey = new Map(changed.changes.map((change: { ori: string; from: { rule: string } }) => [`${change.ori} ${change.from.rule}`, change]))
  t.match(byKey.get(`${sheriff} agency.suspended`), { transition: 'rule', to: { outcome: 'deny', rule: 'agency.no_agreement' }, count: 1, decisionIds: [suspended.headers['x-decision-id']] })
  t.match(byKey.get(`${sheriff} ppp.permitted`), { transition: 'allow→deny', count: 1 })
  t.match(byKey.get(`${lapd} ppp.permitted`), { transition: 'allow→deny', count: 1 })
  t.match(byKey.get(`${lapd} officer.suspended`), { transition: 'rule', count: 1 })
  t.match(byKey.get(`${cbp} ppp.permitted`), { transition: 'allow→deny', count: 1 })
  const text = await replay(newAgreement, '--since', '2026-05-05T00:00:00-07:00', '--until', '2026-05-05T09:30:00-07:00')
  t.match(text, /^candidate [0-9a-f]+: 2 recorded queries since 2026-05-05T07:00:00.000Z until 2026-05-05T16:30:00.000Z, 2 would be decided otherwise$/m)
  t.match(text, /^CA0370000 +rule +agency.suspended +agency.no_agreement +1 +/m)
  t.notMatch(text, new RegExp(person.licenseNumber), 'no subject in the output')
  const access = ledgerRecords(gw.auditDir).filter((record) => record.type === 'audit.access' && record.sub === 'policy-analyst')
  t.match(access, [{ action: 'replay', filter: { against: newAgreement, since: '2026-05-05T00:00:00-07:00' }, resultCount: 5 }])
  const bad = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'policy', 'replay', '--against', newAgreement, gw.auditDir], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /needs --against DIR and --since TIME/)
})
