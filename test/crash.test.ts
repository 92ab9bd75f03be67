// Crash safety: kill -9 a real gateway process in the middle of concurrent load. Every decision whose
// answer reached a terminal is in the ledger; a restarted gateway continues the chain, and the whole
// ledger verifies with the public key. And two gateway processes share one AUDIT_DIR, each with its chain.
import { join } from 'node:path'
import { once } from 'node:events'
import t from 'tap'
import { readPublicKey } from '../src/audit/checkpoint.js'
import { verifyLedger } from '../src/audit/verify.js'
import { ledgerRecords, policyDir, query, root, secret, spawnGateway, tempDir, token } from './helpers.js'

const auditDir = tempDir('crash-audit')
const stateDir = tempDir('crash-state')
const env = { ...process.env, PORT: '0', AUDIT_DIR: auditDir, STATE_DIR: stateDir, POLICY_DIR: policyDir, GATEWAY_JWT_SECRET: secret, BACKEND_POPULATION: '2000', LOG_LEVEL: 'warn', GATEWAY_INSTANCE_ID: 'crashy' }
const body = (n: number) => (n % 5 === 4
  ? { database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: { licenseNumber: 'A1234567' }, caseNumber: `C-${n}` }
  : { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } })

t.test('kill -9 under load loses no acknowledged decision; the restarted gateway continues the chain', async (t) => {
  const first = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd: root, env })
  const acknowledged: string[] = []
  let sent = 0
  let stop = false
  const worker = async (w: number) => {
    while (!stop) {
      const n = sent++
      try {
        const answer = await query(first.url, body(n), token({ sub: `officer-${w}-${n % 50}` }))
        const id = answer.headers['x-decision-id']
        if (typeof id === 'string' && (answer.status === 200 || answer.status === 403)) acknowledged.push(id)
      } catch {
        return // the connection died with the process
      }
    }
  }
  const workers = Array.from({ length: 24 }, (_, w) => worker(w))
  while (acknowledged.length < 400) await new Promise((resolve) => setTimeout(resolve, 5))
  first.child.kill('SIGKILL')
  await once(first.child, 'exit')
  stop = true
  await Promise.all(workers)
  t.ok(acknowledged.length >= 400, `${acknowledged.length} decisions acknowledged before the kill`)

  const written = new Set(ledgerRecords(auditDir).filter((record) => record.type === 'query.decision').map((record) => record.id))
  t.same(acknowledged.filter((id) => !written.has(id)), [], 'every acknowledged decision is in the ledger')

  const second = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd: root, env })
  const after = await query(second.url, body(1), token({ sub: 'officer-after' }))
  t.equal(after.status, 200, 'the restarted gateway answers', { body: after.body, stderr: second.errors() })
  second.child.kill('SIGTERM')
  await once(second.child, 'exit')
  const records = ledgerRecords(auditDir)
  t.equal(records.at(-1)!.seq, records.length, 'one chain, numbered without a gap across the crash')
  t.ok(records.some((record) => record.id === after.headers['x-decision-id']))
  const report = await verifyLedger(auditDir, { publicKey: readPublicKey(join(auditDir, 'signing-key.pub.pem')) })
  t.same(report.problem, null, 'the whole ledger verifies')
})

t.test('two gateway processes on one AUDIT_DIR write two chains that both verify', async (t) => {
  const shared = tempDir('shared-audit')
  const common = { ...env, AUDIT_DIR: shared, GATEWAY_INSTANCE_ID: '' }
  const a = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd: root, env: { ...common, STATE_DIR: tempDir('state-a') } })
  const b = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd: root, env: { ...common, STATE_DIR: tempDir('state-b') } })
  await Promise.all(Array.from({ length: 40 }, (_, n) => query(n % 2 === 0 ? a.url : b.url, body(n), token({ sub: `officer-${n}` }))))
  for (const gateway of [a, b]) {
    gateway.child.kill('SIGTERM')
    await once(gateway.child, 'exit')
  }
  const report = await verifyLedger(shared, { publicKey: readPublicKey(join(shared, 'signing-key.pub.pem')) })
  t.same(report.problem, null)
  t.equal(report.chains.length, 2, 'the second process took the next instance directory')
  t.ok(report.chains.every((chain) => chain.records >= 20 && chain.checkpoints >= 1), 'each chain has its records and a signed checkpoint')
})
