// /metrics as Prometheus reads it: one series per label set, whatever the query path did to reach it.
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import t from 'tap'
import { agencyCountsMaxAgeMs, HotCounter, HotHistogram } from '../src/metrics.js'
import { call, cbp, operatorToken, sheriff, query, startTestGateway, TestClock, testPopulation, token, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

/** Each sample line of an exposition as [series (name and labels), value]. */
function samples(exposition: string): [string, number][] {
  return exposition
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const split = line.lastIndexOf(' ')
      return [line.slice(0, split), Number(line.slice(split + 1))]
    })
}

t.test('regression: denials on two databases of one class were two series with identical labels', async (t) => {
  // The decision counter's children were found by a key with the database id, which is no label: a
  // licence and a registration denial of one rule printed the same series twice, and Prometheus kept
  // one of them (issue 10, point 5).
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const immigration = { purpose: 'immigration_enforcement', caseNumber: 'A-2024-1' }
  const cbpOfficer = token({ ori: cbp, sub: 'cbp-officer-1' })
  for (let n = 0; n < 2; n++) t.equal((await query(gw.url, { database: 'dmv.driver_license', subject: { licenseNumber: 'A1234567' }, ...immigration }, cbpOfficer)).status, 403)
  const plate = testPopulation().vehicles[0]!.plate
  for (let n = 0; n < 3; n++) t.equal((await query(gw.url, { database: 'dmv.vehicle_registration', subject: { plate }, ...immigration }, cbpOfficer)).status, 403)

  const exposition = (await call(gw.url, 'GET', '/metrics')).body as string
  const immigrationDenials = samples(exposition).filter(([series]) => series.startsWith('gateway_decisions_total{') && series.includes('rule="ppp.immigration_non_criminal"'))
  t.same(immigrationDenials, [['gateway_decisions_total{outcome="deny",rule="ppp.immigration_non_criminal",database_class="non_criminal_history",purpose="immigration_enforcement"}', 5]], 'one series holding all five')
  const seen = new Set<string>()
  const twice: string[] = []
  for (const [series] of samples(exposition)) {
    if (seen.has(series)) twice.push(series)
    seen.add(series)
  }
  t.same(twice, [], `no series of the ${seen.size} in /metrics is printed twice`)
})

t.test('a hot counter or histogram finds its child by the label values alone: equal values, one series', async (t) => {
  const registry = new Registry()
  const decisions = new HotCounter('test_decisions_total', 'decisions', ['outcome', 'rule'], registry)
  const durations = new HotHistogram('test_duration_seconds', 'durations', ['route', 'status'], [0.1, 1], registry)
  // Strings built apart from each other, as two call sites would: equal values, one child.
  const rule = ['ppp', 'immigration_non_criminal'].join('.')
  decisions.child('deny', 'ppp.immigration_non_criminal').value++
  decisions.child('deny', rule).value += 2
  decisions.child('allow', 'ppp.permitted').value++
  t.equal(decisions.child('deny', rule), decisions.child('deny', 'ppp.immigration_non_criminal'))
  durations.observe(durations.child('/v1/query', '200'), 0.05)
  durations.observe(durations.child('/v1/query', String(200)), 0.5)
  const exposition = await registry.metrics()
  t.same(
    samples(exposition).filter(([series]) => series.startsWith('test_decisions_total')),
    [
      ['test_decisions_total{outcome="deny",rule="ppp.immigration_non_criminal"}', 3],
      ['test_decisions_total{outcome="allow",rule="ppp.permitted"}', 1],
    ],
  )
  t.match(exposition, /^test_duration_seconds_count\{route="\/v1\/query",status="200"\} 2$/m)
  t.equal(samples(exposition).filter(([series]) => series.startsWith('test_duration_seconds_count')).length, 1)
  // A number where a label is due would be a second child printing the same series: refused.
  t.throws(() => (durations.child as (...values: unknown[]) => unknown)('/v1/query', 200), /label status must be a string/)
})

t.test('regression: every scrape read the whole registry from Redis; now one read per period, and a sanction shows within it', async (t) => {
  // gateway_agencies{sanction} counted every agency on each scrape: SMEMBERS and one HGET per agency,
  // ~1,200 at DOJ, and 8 scrapers cut an instance's throughput tenfold (issue 10, point 6).
  const redis = await startRedis()
  const clock = new TestClock()
  await initRedis(redis.url, { now: clock.value })
  const gw = await startTestGateway({ env: { REDIS_URL: redis.url }, clock })
  const client = new Redis(redis.url)
  t.teardown(async () => {
    client.disconnect()
    await gw.close()
    await redis.stop()
  })
  /** Registry reads so far, as Redis counts them: the SMEMBERS that starts each. */
  const registryReads = async () => Number(/^cmdstat_smembers:calls=(\d+)/m.exec(await client.info('commandstats'))?.[1] ?? 0)
  /** Scrapes /metrics `scrapers` times at once and returns each scrape's agencies by sanction. */
  const scrape = async (scrapers = 1) =>
    Promise.all(
      Array.from({ length: scrapers }, async () => {
        const exposition = (await call(gw.url, 'GET', '/metrics')).body as string
        return Object.fromEntries([...exposition.matchAll(/^gateway_agencies\{sanction="(\w+)"\} (\d+)$/gm)].map(([, sanction, count]) => [sanction, Number(count)]))
      }),
    )

  const reads = await registryReads()
  t.same(await scrape(), [{ none: 3, censure: 1, suspension: 0, removal: 0 }], 'the sample agencies: the sheriff censured')
  t.equal(await registryReads(), reads + 1, 'the first scrape reads the registry')

  // The fictional sample sheriff, censured in the samples, is suspended instead.
  t.equal((await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'suspension', reason: 'misuse under investigation (invented)' } })).status, 200, 'the sheriff suspended')
  for (let n = 0; n < 20; n++) await scrape()
  const meanwhile = await scrape(8)
  t.equal(await registryReads(), reads + 1, '20 scrapes in a row and 8 at once within the period: no read')
  t.same(new Set(meanwhile.map((counts) => JSON.stringify(counts))), new Set([JSON.stringify({ none: 3, censure: 1, suspension: 0, removal: 0 })]), 'so the new suspension does not show yet')

  clock.advance(agencyCountsMaxAgeMs)
  const after = await scrape(8)
  t.equal(await registryReads(), reads + 2, 'a period later, 8 scrapes at once share one read')
  t.same(new Set(after.map((counts) => JSON.stringify(counts))), new Set([JSON.stringify({ none: 3, censure: 0, suspension: 1, removal: 0 })]), 'and every one shows the suspension')

  for (let period = 1; period <= 3; period++) {
    clock.advance(agencyCountsMaxAgeMs)
    for (let n = 0; n < 10; n++) await scrape()
    t.equal(await registryReads(), reads + 2 + period, `period ${period}: ten scrapes, one read`)
  }
  t.same(await scrape(), [{ none: 3, censure: 0, suspension: 1, removal: 0 }], 'the suspension imposed periods ago still shows')

  // A suspension that lapses within a period is not counted for the rest of it.
  const until = new Date(clock.value + agencyCountsMaxAgeMs + 2_000).toISOString()
  t.equal((await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: operatorToken(), body: { type: 'suspension', until, reason: 'a period and two seconds' } })).status, 200, 'the sheriff suspended until then instead')
  clock.advance(agencyCountsMaxAgeMs)
  t.same(await scrape(), [{ none: 3, censure: 0, suspension: 1, removal: 0 }], 'a period later: the sheriff suspended')
  clock.advance(2_000)
  t.same(await scrape(), [{ none: 4, censure: 0, suspension: 0, removal: 0 }], 'the lapsed suspension is no longer counted, before the period is over')
})
