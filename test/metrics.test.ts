// /metrics as Prometheus reads it: one series per label set, whatever the query path did to reach it.
import { Registry } from 'prom-client'
import t from 'tap'
import { HotCounter, HotHistogram } from '../src/metrics.js'
import { call, cbp, query, startTestGateway, testPopulation, token } from './helpers.js'

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
