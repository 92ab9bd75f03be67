// A gateway never seeds a Redis (docs/floods.md): the registry enters a Redis only through the audited
// `gatewayctl state init [--samples]`, so a Redis that lost its data is never re-seeded by a fresh
// instance, whatever its STATE_DIR holds, and an agency DOJ removed never comes back allowed. A
// gateway on a Redis without a registry is not ready, refuses queries, and says what to run.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import t from 'tap'
import { call, freePort, initRedis, ledgerRecords, operatorToken, query, root, sheriff, startTestGateway, tempDir, token, type TestGateway } from './helpers.js'
import { startRedis } from './redis.js'

const exec = promisify(execFile)
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
let officers = 0
const officer = () => token({ sub: `officer-${++officers}` })
const seeds = (auditDir: string) => ledgerRecords(auditDir).filter((record) => record.operator === 'system:seed')

/** Asks until `done` holds, for at most `seconds`: the gateway retries Redis on its own schedule, with no event to await. */
async function within<T>(seconds: number, ask: () => Promise<T>, done: (answer: T) => boolean): Promise<T> {
  const deadline = performance.now() + seconds * 1000
  let answer = await ask()
  while (!done(answer) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    answer = await ask()
  }
  return answer
}
const readyWithin = (gateway: TestGateway, seconds: number) => within(seconds, () => call(gateway.url, 'GET', '/readyz'), (answer) => answer.status === 200)

t.test('regression: a Redis that lost its data was re-seeded by a fresh instance, and a removed agency went from 403 to 200 allow; now no gateway seeds a Redis', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const env = { REDIS_URL: redis.url, GATEWAY_SEED_SAMPLES: 'true', REDIS_TIMEOUT_MS: '300' }
  // The registry, as a deployment creates it: gatewayctl state init --samples.
  await initRedis(redis.url)
  const logs: Record<string, unknown>[] = []
  const first = await startTestGateway({ env, logs })
  t.teardown(() => first.close())
  t.ok(
    logs.some((line) => line.level === 40 && /GATEWAY_SEED_SAMPLES is ignored with REDIS_URL.*`gatewayctl state init --samples`/.test(String(line.msg))),
    'a gateway told to seed a Redis says it never does, and what to run',
  )
  t.equal((await query(first.url, dl, officer())).status, 200, 'LAPD is allowed')
  t.same(seeds(first.auditDir), [], 'the gateway seeded nothing')
  // The removal is the fictional sample sheriff's.
  const removal = await call(first.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'removal', reason: 'repeated misuse (invented)' } })
  t.equal(removal.status, 200)
  t.equal((await query(first.url, dl, token({ sub: 'deputy-1', ori: sheriff }))).body.decision.rule, 'agency.suspended', 'the sheriff removed: 403')

  const raw = new Redis(redis.url)
  t.teardown(() => raw.quit())
  await raw.flushall()

  // A fresh instance: an empty STATE_DIR (it never saw the registry) and GATEWAY_SEED_SAMPLES=true.
  const fresh = await startTestGateway({ env: { ...env, GATEWAY_INSTANCE_ID: 'fresh' } })
  t.teardown(() => fresh.close())
  t.same(await raw.keys('clets:agenc*'), [], 'no sample agency entered the flushed Redis')
  t.equal(await raw.exists('clets:initialized'), 0, 'nor a registry marker')
  t.same(seeds(fresh.auditDir), [], 'and no seeding was audited')
  for (const [name, gateway] of [['the first instance', first], ['the fresh instance', fresh]] as const) {
    const answer = await query(gateway.url, dl, officer())
    t.equal(answer.status, 503, `${name}: the removed agency is refused, never allowed`)
    t.equal(answer.body.error.code, 'state_unavailable')
    const ready = await call(gateway.url, 'GET', '/readyz')
    t.equal(ready.status, 503, `${name}: not ready`)
    t.match(ready.body, { checks: { state: 'no_registry' }, reason: /gatewayctl state init.*gatewayctl state import/ })
  }
  t.same((await call(fresh.url, 'GET', '/v1/agencies', { token: operatorToken() })).body, [], 'nothing was re-seeded')
})

t.test('a gateway whose STATE_DIR saw the registry says it was lost and how to restore it', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const stateDir = tempDir('state')
  const env = { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '300' }
  await initRedis(redis.url)
  const first = await startTestGateway({ stateDir, env })
  t.ok(existsSync(join(stateDir, 'redis-registry.json')), 'the gateway recorded, outside Redis, that Redis holds a registry')
  await first.close()
  const raw = new Redis(redis.url)
  await raw.flushall()
  await raw.quit()
  const logs: Record<string, unknown>[] = []
  const second = await startTestGateway({ stateDir, env, logs })
  t.teardown(() => second.close())
  t.equal((await query(second.url, dl, officer())).status, 503)
  t.ok(
    logs.some((line) => line.level === 50 && /lost its agency registry.*never creates one.*`gatewayctl state import FILE`/.test(String(line.msg))),
    'the gateway logs that the registry was lost and how to restore it',
  )
})

t.test('a gateway started before its Redis is unready until the registry is created, and never creates it', async (t) => {
  const port = await freePort()
  const auditDir = tempDir('audit')
  const gateway = await startTestGateway({ auditDir, env: { REDIS_URL: `redis://127.0.0.1:${port}`, GATEWAY_SEED_SAMPLES: 'true', REDIS_TIMEOUT_MS: '300' } })
  t.teardown(() => gateway.close())
  const down = await call(gateway.url, 'GET', '/readyz')
  t.equal(down.status, 503, 'not ready while Redis is down')
  t.equal(down.body.checks.state, 'unavailable')
  t.equal((await query(gateway.url, dl, officer())).status, 503, 'and queries are refused')

  const redis = await startRedis(port)
  t.teardown(() => redis.stop())
  const waiting = await within(30, () => call(gateway.url, 'GET', '/readyz'), (answer) => answer.body?.checks?.state === 'no_registry')
  t.match(waiting.body, { checks: { state: 'no_registry' }, reason: /gatewayctl state init/ }, 'Redis answers: not ready, and says what to run')
  t.same(seeds(auditDir), [], 'the gateway seeded nothing')
  await initRedis(redis.url)
  t.equal((await readyWithin(gateway, 30)).status, 200, 'ready once the registry exists')
  t.equal((await query(gateway.url, dl, officer())).status, 200, 'LAPD allowed')
})

t.test('a new deployment without samples: refused with what to do, until gatewayctl state init creates the registry', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const logs: Record<string, unknown>[] = []
  const gateway = await startTestGateway({ env: { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '300' }, logs })
  t.teardown(() => gateway.close())
  const refused = await query(gateway.url, dl, officer())
  t.equal(refused.status, 503)
  const says = /a new deployment creates it with `gatewayctl state init`.*a Redis that lost its data is restored with `gatewayctl state import FILE`/
  t.ok(logs.some((line) => line.level === 40 && says.test(String(line.msg))), 'the gateway says at start what a new deployment and a restore do')
  t.ok(logs.some((line) => line.level === 50 && says.test(String((line.err as { message?: string } | undefined)?.message))), 'and so does the refused query\'s log line')
  const notReady = await call(gateway.url, 'GET', '/readyz')
  t.match(notReady.body, { status: 'not_ready', checks: { state: 'no_registry' }, reason: /gatewayctl state init/ })

  const env = { ...process.env, REDIS_URL: redis.url, AUDIT_DIR: tempDir('cli-audit'), STATE_DIR: tempDir('cli-state') }
  await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'state', 'init', '--operator', 'doj-operator-7', '--reason', 'new deployment'], { cwd: root, env })
  t.equal((await readyWithin(gateway, 30)).status, 200, 'ready once the registry exists')
  t.equal((await query(gateway.url, dl, officer())).body.decision?.rule, 'agency.unknown', 'an empty registry: every agency is unknown, denied')
  const record = join(gateway.stateDir, 'redis-registry.json')
  t.ok(await within(30, async () => existsSync(record), Boolean), 'and the gateway recorded that Redis holds a registry')
})
