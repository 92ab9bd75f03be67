// Floods leave bounded traces (docs/floods.md): a token refused again and again adds no Redis key for an
// unregistered agency and at most its refusal budget + 1 ledger records a minute, every refusal still in
// some record (the ledger verifies, the report and the search count them); an officer's signal state in
// Redis stays under the documented bound however many subjects they flood; and a legitimate officer's
// queries keep being answered meanwhile. The agency CA9990001 is fictional (no such ORI is registered).
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t from 'tap'
import { replayDecisions, StateHistory } from '../src/audit/replay.js'
import { misuseReport } from '../src/audit/report.js'
import { loadPolicyDir } from '../src/policy-files.js'
import { ledgerRecords as readLedger, searchLedger } from '../src/audit/search.js'
import { call, initRedis, lapd, ledgerRecords, operatorToken, policyDir, query, runGatewayctl, startTestGateway, tempDir, TestClock, token } from './helpers.js'
import { startRedis } from './redis.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

/** The refusal budget the shipped limits.yaml sets (refusalBudget.perMinute). */
const budget = 20
const unregistered = 'CA9990001'
const dl = (licenseNumber: string) => ({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber } })
/** A distinct, well-formed licence number per index. */
const licence = (index: number) => `B${String(1_000_000 + index)}`

/** Every key of a Redis database. */
async function keys(raw: Redis): Promise<Set<string>> {
  const found = new Set<string>()
  let cursor = '0'
  do {
    const [next, batch] = await raw.scan(cursor, 'COUNT', 1000)
    for (const key of batch) found.add(key)
    cursor = next
  } while (cursor !== '0')
  return found
}

t.test('200 refused queries from one token of an unregistered ORI: no Redis key, budget + 1 ledger records, every refusal counted; a legitimate officer keeps being answered', async (t) => {
  const url = `${redis.url}/1`
  const clock = new TestClock()
  await initRedis(url, { now: clock.value })
  const gw = await startTestGateway({ clock, env: { REDIS_URL: url } })
  let closed = false
  t.teardown(() => (closed ? undefined : gw.close()))
  const raw = new Redis(url)
  t.teardown(() => raw.quit())

  const legitimate = token({ sub: 'lapd-patrol-1' })
  t.equal((await query(gw.url, dl('A1234567'), legitimate)).status, 200, 'a legitimate query, before')
  // Its signal counts are made after the answer, in one script call: once one of its keys is there, all are.
  while ((await raw.keys('clets:signal:2:distinct_subjects:*:lapd-patrol-1')).length === 0) await new Promise((resolve) => setImmediate(resolve))
  const before = await keys(raw)

  const flooder = token({ ori: unregistered, sub: 'scripted-1' })
  const statuses: Record<number, number> = {}
  const ids: string[] = []
  let legitimateAnswers = 0
  for (let index = 0; index < 200; index++) {
    // Every fourth a malformed subject (400 before any decision), the rest denied agency.unknown (403).
    const answer = await query(gw.url, index % 4 === 3 ? dl('not-a-licence') : dl(licence(index)), flooder)
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
    ids.push(answer.headers['x-decision-id'] as string)
    if (index % 10 === 0) legitimateAnswers += (await query(gw.url, dl('A1234567'), legitimate)).status === 200 ? 1 : 0
  }
  t.same(statuses, { 403: 150, 400: 50 }, 'each refused as before: none throttled, none allowed')
  t.equal(legitimateAnswers, 20, 'the legitimate officer was answered 200 throughout')
  t.ok(ids.every((id) => typeof id === 'string' && id.length > 0), 'every refusal of an authenticated token carries an x-decision-id')
  const summaryId = ids[budget]!
  t.equal(new Set(ids.slice(0, budget)).size, budget, `the first ${budget} refusals of the minute: an id each`)
  t.ok(ids.slice(budget).every((id) => id === summaryId), 'the rest: the id of the summary they are counted in')

  // The legitimate officer's own look-ups, the same person 21 times, open a repeat_subject review
  // (docs/reviews.md): those keys are theirs, not the flood's.
  const added = [...(await keys(raw))].filter((key) => !before.has(key))
  const reviews = (await call(gw.url, 'GET', '/v1/reviews', { token: operatorToken() })).body as { officer: string; signal: string }[]
  t.same(reviews.map((review) => [review.officer, review.signal]), [['lapd-patrol-1', 'repeat_subject']], "the one review is the legitimate officer's")
  t.same(added.filter((key) => !key.startsWith('clets:review')), [], 'the flood added no Redis key (no rate hash, no signal key for an unregistered agency)')

  // The next minute: the last one's summary is written before this minute's first refusal is answered.
  clock.advance(60_000)
  t.equal((await query(gw.url, dl(licence(999)), flooder)).status, 403)
  const records = ledgerRecords(gw.auditDir).filter((record) => record.ori === unregistered)
  const summary = records.find((record) => record.type === 'query.refusals')
  t.match(summary, {
    id: summaryId,
    ori: unregistered,
    sub: 'scripted-1',
    budget,
    count: 200 - budget,
    first: new Date(clock.value - 60_000).toISOString(),
  })
  const kinds = Object.fromEntries((summary.refusals as { record: string; status: number; rule?: string; code?: string; count: number }[]).map((kind) => [`${kind.record} ${kind.status} ${kind.rule ?? kind.code}`, kind.count]))
  t.same(kinds, { 'query.decision 403 agency.unknown': 150 - 15, 'query.rejected 400 invalid_subject': 50 - 5 }, 'the count of each rule and code')
  t.equal(records.length, budget + 1 + 1, `${budget} records of their own, one summary, and the next minute's first refusal`)
  const own = records.filter((record) => record.type !== 'query.refusals')
  t.equal(own.length + summary.count, 201, 'every refusal is in a record')
  t.same(new Set(own.slice(0, budget).map((record) => record.id)), new Set(ids.slice(0, budget)), 'the ids answered are the records written')

  await gw.close()
  closed = true
  const verify = await runGatewayctl(['audit', 'verify', gw.auditDir])
  t.equal(verify.code, 0, `the ledger verifies: ${verify.stdout}${verify.stderr}`)

  // The readers count summarised refusals as the records they stand for.
  const report = await misuseReport(readLedger(gw.auditDir), 2026, new Date(clock.value))
  const row = report.agencies.find((agency) => agency.ori === unregistered)!
  t.match(row, { queries: 151, denied: 151, deniedByRule: { 'agency.unknown': 151 }, byCategory: { agreement: 151, input_errors: 50 } }, 'the misuse report')
  const found = await searchLedger(gw.auditDir, { ori: unregistered, rule: 'agency.unknown' })
  t.equal(found.filter((record) => record.type === 'query.decision').length + found.filter((record) => record.type === 'query.refusals').reduce((total, record) => total + (record.refusals as { rule?: string; count: number }[]).filter((kind) => kind.rule === 'agency.unknown').reduce((sum, kind) => sum + kind.count, 0), 0), 151, 'the audit search finds them by rule')
  t.equal((await searchLedger(gw.auditDir, { ori: unregistered, outcome: 'allow' })).length, 0, 'a summary is never an allow')
  const replay = await replayDecisions(readLedger(gw.auditDir), new StateHistory(), await loadPolicyDir(policyDir), 0, undefined)
  t.equal(replay.notReplayable, 135, 'policy replay counts the summarised denials it cannot judge again')
  const cli = await runGatewayctl(['audit', 'search', '--dir', gw.auditDir, '--type', 'query.refusals', '--operator', 'auditor-1'])
  t.match(cli.stdout, new RegExp(`${200 - budget} refused +403 agency\\.unknown ×135, 400 invalid_subject ×45 +${summaryId}`), 'gatewayctl audit search shows the count and the rules')
})

/** A copy of the shipped policies with another officer rate limit and refusal budget. */
function policiesWith(perUser: number, refusalBudget: number): string {
  const policies = tempDir('flood-policies')
  cpSync(policyDir, policies, { recursive: true })
  const limits = readFileSync(join(policies, 'limits.yaml'), 'utf8').replace('limit: 120', `limit: ${perUser}`).replace(`perMinute: ${budget}`, `perMinute: ${refusalBudget}`)
  writeFileSync(join(policies, 'limits.yaml'), limits)
  return policies
}

t.test("an officer's flood of distinct subjects: throttled past the rate limit, and its signal keys in Redis under the documented bound", async (t) => {
  const url = `${redis.url}/2`
  const clock = new TestClock()
  // A rate limit of 10 a minute, so the bound is small: the signals count at most the queries the rate
  // limiter admits (docs/floods.md). A refusal budget above the flood, so every 429 is a decision of
  // its own here: what bounds the signal keys is the rate limit, not the summaries.
  const perUser = 10
  const policies = policiesWith(perUser, 1000)
  await initRedis(url, { now: clock.value })
  const gw = await startTestGateway({ clock, env: { REDIS_URL: url, POLICY_DIR: policies } })
  const raw = new Redis(url)
  t.teardown(() => raw.quit())

  const flooder = token({ sub: 'lapd-scraper-9' })
  const colleague = token({ sub: 'lapd-patrol-2' })
  const flood = 200
  const statuses: Record<number, number> = {}
  let colleagueAnswers = 0
  for (let index = 0; index < flood; index++) {
    const answer = await query(gw.url, dl(licence(index)), flooder)
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
    if (index % 20 === 0) colleagueAnswers += (await query(gw.url, dl('A1234567'), colleague)).status === 200 ? 1 : 0
  }
  t.same(statuses, { 200: perUser, 429: flood - perUser }, 'the burst the limit allows, then 429')
  t.equal(colleagueAnswers, 10, 'a colleague at the same agency was answered 200 throughout')
  // Shutdown lets the decision stream finish counting.
  await gw.close()
  const throttled = ledgerRecords(gw.auditDir).filter((record) => record.sub === 'lapd-scraper-9' && record.type === 'query.decision' && record.rule === 'rate.user')
  t.equal(throttled.length, flood - perUser, 'each 429 decided and recorded')

  // The bound (docs/floods.md): per officer and window, one distinct_subjects and one shared_login key
  // (and one off_hours key, with declared hours: none here), and at most 4 subject_spread keys per
  // counted query; the counted queries are at most those the rate limiter admits (a burst of perUser
  // here, the clock standing still). The colleague's one subject adds their own two keys and up to 4.
  const signalKeys = [...(await keys(raw))].filter((key) => key.startsWith('clets:signal:2:'))
  const own = signalKeys.filter((key) => !key.includes(':subject_spread:'))
  const spread = signalKeys.filter((key) => key.includes(':subject_spread:'))
  t.equal(own.filter((key) => key.endsWith(`${lapd}:lapd-scraper-9`)).length, 2, "the flooder's own keys: distinct_subjects and shared_login")
  const spreadBound = 4 * perUser + 4
  t.ok(spread.length <= spreadBound, `subject_spread keys: ${spread.length} <= ${spreadBound} (not one per subject flooded: ${flood})`)
  // Byte ceilings per key as docs/floods.md gives them (Redis 7, the shipped thresholds).
  const ownKeyBytes = 2560
  const spreadKeyBytes = 4608
  let bytes = 0
  for (const key of signalKeys) bytes += (await raw.memory('USAGE', key)) ?? 0
  const byteBound = own.length * ownKeyBytes + spreadBound * spreadKeyBytes
  t.ok(bytes <= byteBound, `signal memory: ${bytes} bytes <= ${byteBound}`)
  for (const key of own) t.ok(((await raw.memory('USAGE', key)) ?? 0) <= ownKeyBytes, `${key}: under its ceiling`)
  for (const key of spread) t.ok(((await raw.memory('USAGE', key)) ?? 0) <= spreadKeyBytes, `${key}: under its ceiling`)
})

t.test('429s past the refusal budget: summarised, and the summary written at shutdown', async (t) => {
  const perUser = 10
  const gw = await startTestGateway({ env: { POLICY_DIR: policiesWith(perUser, budget) } })
  const flooder = token({ sub: 'lapd-scraper-10' })
  const answers = []
  for (let index = 0; index < 60; index++) answers.push(await query(gw.url, dl(licence(index)), flooder))
  t.same(answers.map((answer) => answer.status), [...Array<number>(perUser).fill(200), ...Array<number>(60 - perUser).fill(429)])
  const summarised = answers.slice(perUser + budget)
  t.ok(summarised.every((answer) => answer.body.decision.rule === 'rate.user' && answer.headers['retry-after'] !== undefined), 'each still answered as the 429 it is')
  await gw.close()
  const records = ledgerRecords(gw.auditDir).filter((record) => record.sub === 'lapd-scraper-10')
  t.equal(records.filter((record) => record.type === 'query.decision' && record.rule === 'rate.user').length, budget, `${budget} 429s with records of their own`)
  const summary = records.find((record) => record.type === 'query.refusals')
  t.match(summary, { id: summarised[0]!.headers['x-decision-id'], count: 60 - perUser - budget, refusals: [{ record: 'query.decision', status: 429, rule: 'rate.user', count: 60 - perUser - budget }] }, 'the rest in one summary')
  t.equal((await runGatewayctl(['audit', 'verify', gw.auditDir])).code, 0, 'the ledger verifies')
})
