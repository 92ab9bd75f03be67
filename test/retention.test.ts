// Audit retention (issue 13, point 6): AUDIT_RETENTION_DAYS is at least a year (CJIS, docs/facts.md), and
// `gatewayctl audit retention` lists the closed segments past it, on a real ledger, deleting nothing.
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { query, root, startTestGateway, TestClock, token } from './helpers.js'

const exec = promisify(execFile)
const day = 86_400_000
const clock = new TestClock(Date.now() - 400 * day)
const gw = await startTestGateway({ clock })
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
await query(gw.url, dl, token())
clock.value = Date.now() - 30 * day // a new UTC day: a new segment
await query(gw.url, dl, token())
clock.value = Date.now()
await query(gw.url, dl, token())
await gw.close()

t.test('segments whose newest record is older than the retention are listed; none is deleted', async (t) => {
  const before = readdirSync(join(gw.auditDir, 'test')).sort()
  const run = (...args: string[]) => exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'retention', gw.auditDir, ...args], { cwd: root, env: { ...process.env, AUDIT_RETENTION_DAYS: '365' } })
  const json = JSON.parse((await run('--json')).stdout)
  t.equal(json.retentionDays, 365)
  t.same(json.segments.map((segment: { segment: string; pastRetention: boolean }) => [segment.segment, segment.pastRetention]), [['segment-000001.jsonl', true], ['segment-000002.jsonl', false], ['segment-000003.jsonl', false]])
  const text = (await run()).stdout
  t.match(text, /^1 of 3 segments hold only records older than 365 days \(AUDIT_RETENTION_DAYS\); nothing was deleted$/m)
  const longer = JSON.parse((await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'retention', gw.auditDir, '--json'], { cwd: root, env: { ...process.env, AUDIT_RETENTION_DAYS: '500' } })).stdout)
  t.notOk(longer.segments.some((segment: { pastRetention: boolean }) => segment.pastRetention), 'a longer retention keeps the year-old segment')
  t.same(readdirSync(join(gw.auditDir, 'test')).sort(), before, 'nothing deleted')
  t.equal((await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'verify', gw.auditDir], { cwd: root })).stdout.includes('ledger intact'), true)
})

t.test('a retention under a year is refused at start-up, naming the variable', async (t) => {
  t.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: '90' }), ConfigError)
  t.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: '90' }), /AUDIT_RETENTION_DAYS: must be at least 365/)
  t.equal(loadConfig({}).audit.retentionDays, 365)
})
