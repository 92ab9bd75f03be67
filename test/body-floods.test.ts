// Floods a stranger can send, against a gateway process of its own (its event loop is not this test's,
// and it sheds load past its threshold as in production): 1 MiB bodies of nested JSON to paths without
// a route and to routes that need a token, and 8 scrapers looping on /metrics, while officers query.
// Every count is bounded; what is asserted is outcomes and counts, never how long anything took.
// Regression: the not-found route parsed its body, and 20 such POSTs stalled /healthz for 8.9 s, after
// which the load shedder refused 5 of 6 legitimate queries with 503; each /metrics scrape serialised
// the registry (~3.6 ms), and 8 looping scrapers cut throughput from ~3,000 to ~60 queries a second.
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { call, lapd, policyDir, query, root, secret, spawnGateway, tempDir, token } from './helpers.js'

const metricsToken = 'flood-test-metrics-token-0123456789'

/** A gateway process on the shipped policies, /metrics closed by the token and cached `cacheMs`. */
async function floodGateway(cacheMs: number): Promise<string> {
  const gateway = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      STATE_DIR: tempDir('flood-state'),
      AUDIT_DIR: tempDir('flood-audit'),
      POLICY_DIR: policyDir,
      GATEWAY_JWT_SECRET: secret,
      LOG_LEVEL: 'warn',
      BACKEND_POPULATION: '3000',
      BACKEND_SEED: '54',
      // Shedding on, as in production. The threshold is above the stalls a test machine shared with
      // other work causes by itself, and far below what parsing these bodies cost (seconds, in one turn).
      SHED_EVENT_LOOP_DELAY_MS: '1000',
      METRICS_TOKEN: metricsToken,
      METRICS_CACHE_MS: String(cacheMs),
      NODE_ENV: '',
      REDIS_URL: '',
    },
  })
  t.teardown(() => {
    gateway.child.kill('SIGKILL')
  })
  return gateway.url
}

const allowed = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
/** Just under 1 MiB of brackets: half a million nested arrays, had anything parsed it. */
const nested = '['.repeat(524_000) + ']'.repeat(524_000)

/** The value of one sample of /metrics (summed over its label sets), read with the metrics token. */
async function metric(url: string, name: string): Promise<number> {
  const text = (await call(url, 'GET', '/metrics', { token: metricsToken })).body as string
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))].reduce((total, match) => total + Number(match[1]), 0)
}

/**
 * Officers querying while `attack` runs: `workers` in parallel, each one query after another (each
 * query from a new officer, so no rate limit is met), until the attack is over; at least `minimum`
 * queries each, at most 500. Resolves with every status, and how many were answered before the attack ended.
 */
async function legitimateQueries(url: string, attack: Promise<unknown>, workers: number, minimum: number, prefix: string): Promise<{ statuses: number[]; during: number }> {
  let over = false
  void attack.finally(() => (over = true))
  const statuses: number[] = []
  let during = 0
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let n = 0; n < 500 && (n < minimum || !over); n++) {
        statuses.push((await query(url, allowed, token({ sub: `${prefix}-${worker}-${n}` }))).status)
        if (!over) during++
      }
    }),
  )
  return { statuses, during }
}

/** GET /healthz over and over until `attack` is over (at least 5 times, at most 500): every status. */
async function healthChecks(url: string, attack: Promise<unknown>): Promise<number[]> {
  let over = false
  void attack.finally(() => (over = true))
  const statuses: number[] = []
  for (let n = 0; n < 500 && (n < 5 || !over); n++) statuses.push((await call(url, 'GET', '/healthz')).status)
  return statuses
}

t.test('20 nested 1 MiB bodies to unrouted paths and 20 to routes without a token, three times: queries are served, nothing is parsed', async (t) => {
  // Counters read fresh: no cache on this one.
  const url = await floodGateway(0)
  const parsedBefore = await metric(url, 'gateway_json_bodies_total')
  const routes: readonly [string, string][] = [
    ['POST', '/v1/query'],
    ['PUT', `/v1/agencies/${lapd}/sanction`],
    ['DELETE', `/v1/agencies/${lapd}/sanction`],
    ['POST', '/v1/requests'],
    ['PUT', `/v1/officers/${lapd}/officer-17/sanction`],
  ]
  const answers: { expected: number; status: number; code: string }[] = []
  const attack = (async () => {
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const [method, path] = i < 20 ? ['POST', `/v1/nowhere/${round}/${i}`] : routes[i % routes.length]!
          const answer = await request(url + path, { method: method as 'POST', headers: { 'content-type': 'application/json' }, body: nested })
          const body = (await answer.body.json()) as { error: { code: string } }
          answers.push({ expected: i < 20 ? 404 : 401, status: answer.statusCode, code: body.error.code })
        }),
      )
    }
  })()
  const [{ statuses: queries, during }, health] = await Promise.all([legitimateQueries(url, attack, 4, 5, 'body-flood'), healthChecks(url, attack), attack])

  t.equal(answers.length, 120, '120 hostile bodies sent')
  t.same(
    answers.filter((answer) => answer.status !== answer.expected),
    [],
    'each answered 404 (no route) or 401 (no token)',
  )
  t.same(new Set(answers.map((answer) => answer.code)), new Set(['not_found', 'token_missing']))
  t.ok(queries.length >= 20, `${queries.length} legitimate queries`)
  t.ok(during >= 4, `${during} of them answered while the attack went on`)
  t.same(
    queries.filter((status) => status !== 200),
    [],
    'every one answered 200: none shed with 503',
  )
  t.ok(health.length >= 5, `${health.length} health checks meanwhile`)
  t.same(
    health.filter((status) => status !== 200),
    [],
    '/healthz answered each',
  )
  t.equal(await metric(url, 'gateway_json_bodies_total'), parsedBefore + queries.length, 'the parser ran for the legitimate queries, and for them only')
  t.equal(await metric(url, 'gateway_load_shed_total'), 0, 'nothing shed')
})

t.test('8 scrapers looping on /metrics, 25 scrapes each: queries are served, and the scrapes share serialisations', async (t) => {
  // A minute's cache: this file runs within tap's two-minute timeout, so the scrapes span three periods at most.
  const url = await floodGateway(60_000)
  const scrapes: { status: number; serialisation: number }[] = []
  const scrapers = Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let n = 0; n < 25; n++) {
        const answer = await call(url, 'GET', '/metrics', { token: metricsToken })
        scrapes.push({ status: answer.status, serialisation: Number(/^gateway_metrics_serialisations_total (\d+)$/m.exec(String(answer.body))?.[1]) })
      }
    }),
  )
  const [{ statuses: queries, during }] = await Promise.all([legitimateQueries(url, scrapers, 4, 5, 'scrape-flood'), scrapers])
  t.equal(scrapes.length, 200)
  t.same(
    scrapes.filter((scrape) => scrape.status !== 200),
    [],
    'every scrape answered',
  )
  t.ok(queries.length >= 20, `${queries.length} legitimate queries`)
  t.ok(during >= 4, `${during} of them answered while the scrapers went on`)
  t.same(
    queries.filter((status) => status !== 200),
    [],
    'every one answered 200',
  )
  // Each text says which serialisation it is: 200 scrapes were served by at most three.
  const serialisations = new Set(scrapes.map((scrape) => scrape.serialisation))
  t.ok(serialisations.size <= 3 && !serialisations.has(Number.NaN), `200 scrapes served by ${serialisations.size} serialisations`)
})
