// A full disk under the audit ledger: the gateway refuses queries with 503 audit_unavailable (never
// an unaudited answer), says so on /readyz and in a metric, and serves again once space is freed.
// The disk is a real 64 KiB tmpfs in a private mount namespace (test/fixtures/tiny-disk.sh).
import { once } from 'node:events'
import t from 'tap'
import { call, query, root, secret, spawnGateway, tempDir, token } from './helpers.js'

const auditDir = tempDir('tiny-audit')
const gateway = await spawnGateway('unshare', ['-rm', 'bash', 'test/fixtures/tiny-disk.sh'], {
  cwd: root,
  env: {
    ...process.env,
    PORT: '0',
    AUDIT_DIR: auditDir,
    STATE_DIR: tempDir('tiny-state'),
    GATEWAY_JWT_SECRET: secret,
    BACKEND_POPULATION: '1000',
    LOG_LEVEL: 'fatal',
    TINY_DISK_SIZE: '1m',
  },
})
const { child, url } = gateway
t.teardown(() => {
  child.kill('SIGTERM')
})

/** Sends a signal to the disk script and waits for it to say it acted. */
async function signal(name: NodeJS.Signals, done: string): Promise<void> {
  const seen = gateway.output().length
  child.kill(name)
  while (!gateway.output().slice(seen).includes(done)) await new Promise((resolve) => setTimeout(resolve, 20))
}

t.test('a full audit disk: 503 audit_unavailable, not ready, counted; writable again: served again', async (t) => {
  const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
  t.equal((await query(url, body, token({ sub: 'officer-1' }))).status, 200, 'served while there is space')
  await signal('SIGUSR2', 'disk full')
  // The ledger's last page may still hold a few records; once it is full, every query is refused.
  const statuses: number[] = []
  let answer = await query(url, body, token({ sub: 'officer-2' }))
  for (let i = 0; i < 50 && (answer.status === 200 || answer.headers['x-decision-id'] !== undefined); i++) {
    statuses.push(answer.status)
    answer = await query(url, body, token({ sub: 'officer-2' }))
  }
  t.ok(statuses.length < 50, `the disk filled up after ${statuses.length} more queries`)
  // The first refusal may be the answer that ended the loop (no decision id: not even the refusal
  // could be recorded), in which case every query before it was served and none after it.
  const firstRefusal = statuses.indexOf(503)
  t.same(statuses.slice(firstRefusal === -1 ? statuses.length : firstRefusal).filter((status) => status !== 503), [], 'after the first refusal, no query was served')
  t.equal(answer.status, 503, 'refused: the decision cannot be recorded')
  t.equal(answer.body.error.code, 'audit_unavailable')
  t.equal((await query(url, body, token({ sub: 'officer-2' }))).status, 503, 'and again: no query is served unaudited')
  const ready = await call(url, 'GET', '/readyz')
  t.equal(ready.status, 503)
  t.equal(ready.body.checks.audit, 'unwritable')
  const metrics = await call(url, 'GET', '/metrics')
  t.match(metrics.body, /gateway_audit_write_failures_total [1-9]/)
  t.match(metrics.body, /gateway_fault_refusals_total\{code="audit_unavailable"\} [1-9]/)

  await signal('SIGUSR1', 'space freed')
  const again = await query(url, body, token({ sub: 'officer-after' }))
  t.equal(again.status, 200, 'served again once the ledger is writable')
  t.equal((await call(url, 'GET', '/readyz')).status, 200)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0, 'graceful shutdown')
})
