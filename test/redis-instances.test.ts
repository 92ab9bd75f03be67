// Two gateway instances on one real Redis, as DOJ runs them behind a load balancer: a sanction written
// through A binds B on its next query, even under load; rate limits count across both; a Redis that is
// gone or came back empty is refused with 503, never read as "not suspended". The agency is the sample
// Bayview County Sheriff's Department (fictional).
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t from 'tap'
import { call, ledgerRecords, sheriff, operatorToken, policyDir, query, startTestGateway, tempDir, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

const redis = await startRedis()
const policies = tempDir('policies')
cpSync(policyDir, policies, { recursive: true })
writeFileSync(join(policies, 'limits.yaml'), readFileSync(join(policies, 'limits.yaml'), 'utf8').replace('limit: 120', 'limit: 4').replace('limit: 6000', 'limit: 1000000'))
const env = { REDIS_URL: redis.url, POLICY_DIR: policies, REDIS_TIMEOUT_MS: '300' }
// The sample agencies, created as `gatewayctl state init --samples` does; both instances find them there.
await initRedis(redis.url)
const a = await startTestGateway({ env: { ...env, GATEWAY_INSTANCE_ID: 'gw-a' } })
const b = await startTestGateway({ env: { ...env, GATEWAY_INSTANCE_ID: 'gw-b' } })
t.teardown(async () => {
  await a.close()
  await b.close()
  await redis.stop()
})

const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
let officers = 0
/** A fresh officer each time: these tests are about sanctions, not the 4-per-minute officer limit. */
const officer = () => token({ ori: sheriff, sub: `officer-${++officers}` })
const sanction = (gateway: TestGateway, body: unknown) => call(gateway.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body })
const reinstate = (gateway: TestGateway) => call(gateway.url, 'DELETE', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { reason: 'reinstated' } })

t.test('both instances see the same registry', async (t) => {
  const fromB = await call(b.url, 'GET', '/v1/agencies', { token: operatorToken() })
  t.equal(fromB.status, 200)
  t.equal(fromB.body.length, 4)
  t.equal((await query(b.url, dl, officer())).status, 200)
})

t.test('the query path costs one Redis round trip per query, shared by the queries of one turn', async (t) => {
  // MONITOR shows every command a client sent, and apart from those the commands a script ran ("lua").
  const client = new Redis(redis.url)
  const monitor = await client.monitor()
  t.teardown(() => {
    monitor.disconnect()
    client.disconnect()
  })
  let sent: string[] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    // The misuse signals' counts (issue 13) go on their own connection after the answer, one script call
    // a batch: not the query path's.
    if (source !== 'lua' && !args[3]?.startsWith('clets:signal:')) sent.push(args[0]!.toLowerCase())
  })
  const settled = () => new Promise((resolve) => setTimeout(resolve, 100))
  t.equal((await query(a.url, dl, officer())).status, 200, 'the script is loaded')
  await settled()
  sent = []
  for (let n = 0; n < 5; n++) t.equal((await query(a.url, dl, officer())).status, 200)
  await settled()
  t.same(sent, ['evalsha', 'evalsha', 'evalsha', 'evalsha', 'evalsha'], 'five queries one after another: five script calls and no other command')
  sent = []
  const answers = await Promise.all(Array.from({ length: 40 }, () => query(a.url, dl, officer())))
  await settled()
  t.same(new Set(answers.map((answer) => answer.status)), new Set([200]))
  t.same(new Set(sent), new Set(['evalsha']), 'only the script')
  t.ok(sent.length >= 1 && sent.length <= 40, `40 concurrent queries: ${sent.length} script calls`)
})

t.test('(a) a sanction written through A binds B on the next request', async (t) => {
  t.equal((await query(b.url, dl, officer())).status, 200, 'B has the sheriff cached as allowed')
  t.equal((await sanction(a, { type: 'suspension', scope: 'all', reason: 'misuse under investigation (invented)' })).status, 200)
  const next = await query(b.url, dl, officer())
  t.equal(next.status, 403)
  t.equal(next.body.decision.rule, 'agency.suspended')
  t.equal((await reinstate(b)).status, 200, 'and B reinstates')
  t.equal((await query(a.url, dl, officer())).status, 200, 'A sees it at once')
})

t.test('(b) under concurrent load on B, no query sent after the sanction call answered is allowed', async (t) => {
  const answers: { sentAt: number; status: number; rule: string | undefined }[] = []
  let stop = false
  const worker = async () => {
    while (!stop) {
      const sentAt = performance.now()
      const answer = await query(b.url, dl, officer())
      answers.push({ sentAt, status: answer.status, rule: answer.body.decision?.rule })
    }
  }
  const workers = Array.from({ length: 16 }, worker)
  await new Promise((resolve) => setTimeout(resolve, 150))
  const answer = await sanction(a, { type: 'suspension', scope: 'non_criminal_history', reason: 'suspected misuse (invented)' })
  const answeredAt = performance.now()
  t.equal(answer.status, 200)
  await new Promise((resolve) => setTimeout(resolve, 150))
  stop = true
  await Promise.all(workers)
  const before = answers.filter((entry) => entry.sentAt < answeredAt)
  const after = answers.filter((entry) => entry.sentAt > answeredAt)
  t.ok(before.some((entry) => entry.status === 200), `${before.filter((entry) => entry.status === 200).length} allowed before the sanction`)
  t.ok(after.length > 20, `${after.length} queries sent after the sanction answered`)
  t.same(after.filter((entry) => entry.status !== 403 || entry.rule !== 'agency.suspended'), [], 'every one of them denied as suspended')
  t.equal((await reinstate(a)).status, 200)
})

t.test("(a') an officer sanctioned through A is refused on B's next query, on a token B verified and cached before", async (t) => {
  const bearer = token({ ori: sheriff, sub: 'officer-sanctioned' })
  t.equal((await query(b.url, dl, bearer)).status, 200, 'B has verified and cached the token')
  const path = `/v1/officers/${sheriff}/officer-sanctioned/sanction`
  const sanctioned = await call(a.url, 'PUT', path, { token: operatorToken(), body: { type: 'suspension', scope: 'non_criminal_history', reason: 'suspected misuse (invented)' } })
  t.equal(sanctioned.status, 200)
  const next = await query(b.url, dl, bearer)
  t.equal(next.status, 403, 'the next query, on B, with the cached token')
  t.equal(next.body.decision.rule, 'officer.suspended')
  t.equal((await query(b.url, dl, officer())).status, 200, "the agency's other officers are served")
  t.match((await call(b.url, 'GET', '/v1/officers?ori=' + sheriff, { token: operatorToken() })).body, [{ sub: 'officer-sanctioned', sanction: { type: 'suspension' } }], 'B lists it')
  t.equal((await call(b.url, 'DELETE', path, { token: operatorToken(), body: { reason: 'cleared' } })).status, 200, 'B reinstates')
  t.equal((await query(a.url, dl, bearer)).status, 200, 'A serves the officer at once')
  const changes = [...ledgerRecords(a.auditDir), ...ledgerRecords(b.auditDir)].filter((record) => record.type === 'officer.change')
  t.same(changes.map((record) => [record.instance, record.action]), [['gw-a', 'officer.sanction.impose'], ['gw-b', 'officer.sanction.lift']], 'each change on the chain of the instance that made it')
})

t.test('rate limits count across instances: the officer limit of 4 holds over A and B together', async (t) => {
  const bearer = token({ ori: sheriff, sub: 'officer-rate' })
  const statuses = []
  for (const gateway of [a, b, a, b, a]) statuses.push((await query(gateway.url, dl, bearer)).status)
  t.same(statuses, [200, 200, 200, 200, 429])
})

t.test('(c) Redis frozen: each query is refused with 503 once the 300 ms command timeout passes, never held', async (t) => {
  redis.pause()
  t.teardown(() => redis.resume())
  const started = performance.now()
  const answers = await Promise.all(Array.from({ length: 5 }, () => query(b.url, dl, officer())))
  const took = performance.now() - started
  t.same(answers.map((answer) => [answer.status, answer.body.error?.code]), Array(5).fill([503, 'state_unavailable']))
  t.ok(took < 1500, `answered in ${Math.round(took)} ms`)
  redis.resume()
  let back = await query(b.url, dl, officer())
  for (let i = 0; i < 30 && back.status === 503; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    back = await query(b.url, dl, officer())
  }
  t.equal(back.status, 200, 'served again when Redis answers again')
})

t.test('(c) Redis killed: 503 fast, never a hang and never an allow; not ready; audited', async (t) => {
  await redis.kill()
  const started = performance.now()
  const answer = await query(b.url, dl, officer())
  const took = performance.now() - started
  t.equal(answer.status, 503)
  t.equal(answer.body.error.code, 'state_unavailable')
  t.ok(took < 1500, `answered in ${Math.round(took)} ms`)
  const refusal = ledgerRecords(b.auditDir).find((record) => record.id === answer.headers['x-decision-id'])
  t.match(refusal, { type: 'query.refused', code: 'state_unavailable', status: 503 })
  t.equal((await call(b.url, 'GET', '/readyz')).status, 503)
  const operator = await sanction(a, { type: 'removal', reason: 'r' })
  t.equal(operator.status, 503, 'an operator change is refused too, not queued')
  const metrics = await call(b.url, 'GET', '/metrics')
  t.match(metrics.body, /gateway_fault_refusals_total\{code="state_unavailable"\} [1-9]/)
  t.match(metrics.body, /^gateway_redis_errors_total [1-9]/m, 'failed round trips counted')
  t.match(metrics.body, /^gateway_redis_round_trip_seconds_count [1-9]/m, 'round trips timed')
  t.match(metrics.body, /^gateway_agency_state_age_seconds (\d+(\.\d+)?)$/m)
})

t.test('(d) Redis back but empty (no persistence): formerly known agencies are refused, not allowed', async (t) => {
  await redis.restart()
  // Wait until B has reconnected (ioredis retries within a second): the registry list answers again.
  let list = await call(b.url, 'GET', '/v1/agencies', { token: operatorToken() })
  for (let i = 0; i < 50 && list.status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    list = await call(b.url, 'GET', '/v1/agencies', { token: operatorToken() })
  }
  t.same(list.body, [], 'B is connected to a Redis that holds nothing')
  const answer = await query(b.url, dl, officer())
  t.equal(answer.status, 503, 'The sheriff, allowed before, is not allowed on an empty Redis')
  t.equal(answer.body.error.code, 'state_unavailable')
  t.equal((await call(b.url, 'GET', '/readyz')).status, 503, 'and B is not ready')
  // Once an operator writes again, the registry exists, and what it lacks is unknown: still denied.
  const registered = await call(b.url, 'PUT', '/v1/agencies/CA0990100', { token: operatorToken(), body: { name: 'Bayview PD (fictional)', kind: 'local', reason: 'rebuilding the registry' } })
  t.equal(registered.status, 201)
  const unknown = await query(b.url, dl, officer())
  t.equal(unknown.status, 403)
  t.equal(unknown.body.decision.rule, 'agency.unknown', 'The sheriff, whose agreement was lost with Redis, is unknown: denied')
})
