// What the gateway reads of a request, and when: nothing of the body before the token is verified (on
// every route that takes one), nothing of it on a path without a route, never an object tree nested
// past the bound, and a /metrics that is cheap and can be closed. The JSON parser's own counter
// (gateway_json_bodies_total, read through /metrics) tells whether a body was parsed.
import { Counter, Gauge, Registry } from 'prom-client'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { maxJsonDepth, nestsDeeperThan } from '../src/http/body.js'
import { cachedExposition } from '../src/metrics.js'
import { bodyOf, call, lapd, operatorToken, query, rawConnection, startTestGateway, statusOf, TestClock, token } from './helpers.js'

const gw = await startTestGateway()
t.teardown(() => gw.close())
const port = Number(new URL(gw.url).port)

/** Bodies the JSON parser judged so far, by outcome (parsed, invalid, too_deep), as /metrics says. */
async function judgedBodies(url = gw.url, bearer?: string): Promise<Record<string, number>> {
  const text = (await call(url, 'GET', '/metrics', bearer === undefined ? {} : { token: bearer })).body as string
  return Object.fromEntries([...text.matchAll(/^gateway_json_bodies_total\{outcome="(\w+)"\} (\d+)$/gm)].map(([, outcome, count]) => [outcome, Number(count)]))
}
const sum = (counts: Record<string, number>) => Object.values(counts).reduce((total, count) => total + count, 0)

const json = { 'content-type': 'application/json' }
/** Just under 1 MiB of brackets: half a million nested arrays once parsed. */
const nested = '['.repeat(524_000) + ']'.repeat(524_000)
const forged = 'eyJhbGciOiJIUzI1NiJ9.e30.AAAA'
const allowed = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

/** Every operation of the OpenAPI document that takes a body, its path parameters filled in. */
async function bodyRoutes(): Promise<{ method: 'POST' | 'PUT' | 'DELETE'; template: string; path: string; role: string | null; secured: boolean }[]> {
  const document = (await call(gw.url, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown[]; description?: string }>> }
  const values: Record<string, string> = { ori: lapd, sub: 'officer-17', id: '00000000-0000-4000-8000-000000000000', year: '2025' }
  const routes = []
  for (const [template, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!['post', 'put', 'delete', 'patch'].includes(method)) continue
      const path = template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? 'x')
      const role = /Bearer token with the role `(\w+)`/.exec(operation.description ?? '')?.[1] ?? null
      routes.push({ method: method.toUpperCase() as 'POST' | 'PUT' | 'DELETE', template, path, role, secured: (operation.security ?? []).length > 0 })
    }
  }
  return routes
}

t.test('every route that takes a body checks the token first: without a valid one, 401, and the body is never parsed', async (t) => {
  const routes = await bodyRoutes()
  const names = routes.map((route) => `${route.method} ${route.template}`)
  for (const known of ['POST /v1/query', 'POST /v1/requests', 'PUT /v1/agencies/{ori}/sanction', 'DELETE /v1/agencies/{ori}/sanction', 'PUT /v1/officers/{ori}/{sub}/sanction', 'PUT /v1/agencies/{ori}/filings/{year}']) {
    t.ok(names.includes(known), `${known} is among the ${routes.length} routes that take a body`)
  }
  const before = await judgedBodies()
  for (const route of routes) {
    const name = `${route.method} ${route.template}`
    // Every route that takes a body takes a token too: none answers a stranger's body.
    t.ok(route.secured, `${name} needs a token`)
    const broken = await call(gw.url, route.method, route.path, { raw: '{"reason": ', headers: json })
    t.equal(broken.status, 401, `${name}: a body that is not JSON, no token: 401, not 400`)
    t.equal(broken.body.error.code, 'token_missing')
    const deep = await call(gw.url, route.method, route.path, { raw: nested, headers: json, token: forged })
    t.equal(deep.status, 401, `${name}: 1 MiB of nested JSON, a forged token: 401`)
    t.equal(deep.body.error.code, 'token_invalid')
    // Headers announcing 2 MiB (past the 1 MiB limit), and not a byte of it sent: answered at once, 401 not 413.
    const oversized = await rawConnection(port, `${route.method} ${route.path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${2 * 1024 * 1024}\r\n\r\n`)
    const answer = await oversized.answer
    t.equal(statusOf(answer), 401, `${name}: an oversized body, no token: 401, not 413`)
    t.equal(bodyOf(answer).error.code, 'token_missing')
    oversized.socket.destroy()
    if (route.role !== null) {
      // A valid token without the route's role: refused before the body too.
      const other = route.role === 'terminal' ? operatorToken() : token()
      const refused = await call(gw.url, route.method, route.path, { raw: '{"reason": ', headers: json, token: other })
      t.equal(refused.status, 403, `${name}: a token without the role ${route.role}: 403, not 400`)
      t.equal(refused.body.error.code, 'role_forbidden')
    }
  }
  t.same(await judgedBodies(), before, `${routes.length} routes, ${routes.length * 4} requests with bodies: not one parsed`)

  // The counter does see the parser run: with the right token, the same broken body is parsed and refused.
  t.equal((await call(gw.url, 'POST', '/v1/query', { raw: '{"reason": ', headers: json, token: token() })).body.error.code, 'invalid_json')
  const refused = await call(gw.url, 'PUT', `/v1/agencies/${lapd}/sanction`, { raw: '{"reason": ', headers: json, token: operatorToken() })
  t.equal(refused.status, 400)
  t.equal(refused.body.error.code, 'invalid_json')
  t.equal((await judgedBodies()).invalid, (before.invalid ?? 0) + 2, 'two bodies parsed, both invalid')
})

t.test('a path without a route answers 404 before its body is read, and closes a connection whose body it left unread', async (t) => {
  const before = await judgedBodies()
  for (const [method, path] of [
    ['POST', '/v1/nowhere'],
    ['POST', '/'],
    ['PUT', '/healthz'],
    ['DELETE', '/v1/agencies'],
    ['POST', '/v1/query/extra'],
  ] as const) {
    // Headers announcing almost 1 MiB, and not a byte of it sent: the 404 does not wait for the body.
    const connection = await rawConnection(port, `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${nested.length}\r\n\r\n`)
    const answer = await connection.answer
    t.equal(statusOf(answer), 404, `${method} ${path}: 404 with the body unsent`)
    t.match(bodyOf(answer), { error: { code: 'not_found', message: `no endpoint ${method} ${path}` } })
    connection.socket.destroy()
    const sent = await call(gw.url, method, path, { raw: nested, headers: json, token: token() })
    t.equal(sent.status, 404, `${method} ${path}: 1 MiB of nested JSON sent, even with a valid token: 404`)
    t.equal(sent.body.error.code, 'not_found')
  }
  t.same(await judgedBodies(), before, 'none of those bodies parsed')

  // The unread body is neither parsed nor drained: the connection is closed after the 404 (what was
  // pipelined behind the body is not answered), and a new connection is served as usual.
  const connection = await rawConnection(port, `POST /v1/nowhere HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${nested.length}\r\n\r\n${nested}GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
  const answer = await connection.answer
  t.equal(statusOf(answer), 404)
  t.match(answer, /\r\nconnection: close\r\n/i, 'the 404 says the connection closes')
  await connection.closed
  t.notMatch(answer, /\{"status":"ok"\}/, 'nothing pipelined behind the body was answered')
  t.equal((await call(gw.url, 'GET', '/healthz')).status, 200, 'a new connection is served')
  // A 404 without a body keeps its connection (nothing is left unread).
  const bodiless = await rawConnection(port, `GET /v1/nowhere HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
  t.notMatch(await bodiless.answer, /\r\nconnection: close\r\n/i)
  bodiless.socket.destroy()
  t.same(await judgedBodies(), before)
})

/** `depth` arrays nested inside one another: `[[…]]`, as JSON text. */
const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)

t.test(`a body nested deeper than ${maxJsonDepth} levels is refused before it is parsed: 400 invalid_json naming the limit`, async (t) => {
  const before = await judgedBodies()
  // The body is level 1, so a member holding 31 nested arrays makes 32 levels: parsed, then refused by the schema.
  const atLimit = await call(gw.url, 'POST', '/v1/query', { raw: `{"extra":${arrays(maxJsonDepth - 1)}}`, headers: json, token: token() })
  t.equal(atLimit.status, 400)
  t.equal(atLimit.body.error.code, 'invalid_request', `${maxJsonDepth} levels: parsed`)
  const past = await call(gw.url, 'POST', '/v1/query', { raw: `{"extra":${arrays(maxJsonDepth)}}`, headers: json, token: token() })
  t.equal(past.status, 400)
  t.equal(past.body.error.code, 'invalid_json', `${maxJsonDepth + 1} levels: refused`)
  t.equal(past.body.error.message, `the body nests deeper than ${maxJsonDepth} levels`)
  t.same(past.body.error.issues, [{ path: 'body', message: `must nest at most ${maxJsonDepth} objects or arrays deep` }])
  t.equal(past.headers.connection, 'close', 'the connection is closed after a body the parser refused')
  const huge = await call(gw.url, 'POST', '/v1/query', { raw: nested, headers: json, token: token() })
  t.equal(huge.body.error.code, 'invalid_json', '1 MiB of nesting with a valid token: refused unparsed')
  const operator = await call(gw.url, 'PUT', `/v1/agencies/${lapd}/sanction`, { raw: `{"reason":"x","type":"censure","x":${arrays(40)}}`, headers: json, token: operatorToken() })
  t.equal(operator.body.error.code, 'invalid_json', 'on an admin route too')

  // Brackets inside strings are text: they do not count, escaped quotes included.
  const inString = await call(gw.url, 'POST', '/v1/query', { raw: `{"extra":"${'[{'.repeat(40)}\\"${'['.repeat(40)}"}`, headers: json, token: token() })
  t.equal(inString.body.error.code, 'invalid_request', 'brackets in a string, after an escaped quote: parsed')
  // An escaped backslash does not escape the quote after it: the string ends there, and the brackets count.
  const afterBackslash = await call(gw.url, 'POST', '/v1/query', { raw: `{"extra":"\\\\","more":${arrays(maxJsonDepth)}}`, headers: json, token: token() })
  t.equal(afterBackslash.body.error.code, 'invalid_json', 'nesting after a string ending in an escaped backslash: refused')
  t.same(await judgedBodies(), { parsed: (before.parsed ?? 0) + 2, invalid: before.invalid ?? 0, too_deep: (before.too_deep ?? 0) + 4 }, 'two parsed, four refused by the depth scan')

  // fastify's protection, kept: no __proto__ key and no constructor.prototype reaches a handler.
  for (const body of ['{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"isAdmin":true}}}', `{"subject":{"__proto__":{"licenseNumber":"A1234567"}},"database":"dmv.driver_license","purpose":"traffic_enforcement"}`]) {
    const answer = await call(gw.url, 'POST', '/v1/query', { raw: body, headers: json, token: token() })
    t.equal(answer.status, 400, body)
    t.equal(answer.body.error.code, 'invalid_json')
  }
  t.equal(({} as Record<string, unknown>).isAdmin, undefined, 'no prototype polluted')
  t.equal((await query(gw.url, allowed)).status, 200, 'an ordinary query is parsed and answered')
})

/** A small deterministic generator (mulberry32), so a failure names a case that can be run again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let value = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}

t.test('the depth scan agrees with the depth of the parsed value, whatever strings, escapes and spacing hold', async (t) => {
  const next = random(54)
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!
  const characters = ['[', ']', '{', '}', '"', '\\', 'a', ' ', '\n', 'é', '\u0000', '\\"', '\\\\']
  const text = () => Array.from({ length: Math.floor(next() * 6) }, () => pick(characters)).join('')
  function value(room: number): unknown {
    const kind = room === 0 ? Math.floor(next() * 3) : Math.floor(next() * 5)
    if (kind === 0) return text()
    if (kind === 1) return Math.floor(next() * 100)
    if (kind === 2) return pick([true, false, null])
    const members = Array.from({ length: 1 + Math.floor(next() * 3) }, () => value(room - 1))
    return kind === 3 ? members : Object.fromEntries(members.map((member, i) => [text() + i, member]))
  }
  const depthOf = (item: unknown): number => (item !== null && typeof item === 'object' ? 1 + Math.max(0, ...Object.values(item).map(depthOf)) : 0)
  let cases = 0
  for (let n = 0; n < 600; n++) {
    const item = value(Math.floor(next() * 40))
    const depth = depthOf(item)
    for (const serialised of [JSON.stringify(item), JSON.stringify(item, null, 2)]) {
      for (const limit of [depth - 1, depth, Math.floor(next() * 40)]) {
        if (limit < 0) continue
        cases++
        if (nestsDeeperThan(serialised, limit) !== depth > limit) t.fail(`case ${n}: depth ${depth}, limit ${limit}: ${serialised.slice(0, 200)}`)
      }
    }
  }
  t.ok(cases > 2000, `${cases} cases agree`)
})

t.test('/metrics serialises at most once per METRICS_CACHE_MS, and scrapes arriving together share one', async (t) => {
  const clock = new TestClock()
  const cached = await startTestGateway({ env: { METRICS_CACHE_MS: '5000' }, clock })
  t.teardown(() => cached.close())
  const scrape = async () => (await call(cached.url, 'GET', '/metrics')).body as string
  const serialisation = (text: string) => Number(/^gateway_metrics_serialisations_total (\d+)$/m.exec(text)?.[1])
  const allowedDecisions = (text: string) => Number(/^gateway_decisions_total\{outcome="allow",rule="ppp.permitted"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0)

  const first = await scrape()
  t.equal(serialisation(first), 1)
  t.equal((await query(cached.url, allowed)).status, 200)
  const again = await scrape()
  t.equal(again, first, 'within the period: the same text, the new decision not in it yet')
  const together = await Promise.all(Array.from({ length: 8 }, scrape))
  t.same(new Set(together), new Set([first]), '8 scrapes at once: the same text')
  clock.advance(4_999)
  t.equal(await scrape(), first, 'still within the period')
  clock.advance(1)
  const fresh = await Promise.all(Array.from({ length: 8 }, scrape))
  t.same(new Set(fresh.map(serialisation)), new Set([2]), 'a period later, 8 scrapes at once: one new serialisation')
  t.equal(allowedDecisions(fresh[0]!), 1, 'which counts the decision')
})

t.test('scrapes that arrive while a serialisation runs wait for it, even with no cache', async (t) => {
  const registry = new Registry()
  const expositions = new Counter({ name: 'test_serialisations_total', help: 'serialisations', registers: [registry] })
  let release = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  new Gauge({
    name: 'test_slow',
    help: 'a gauge whose collect waits for the test',
    registers: [registry],
    async collect() {
      await gate
      this.set(1)
    },
  })
  const text = cachedExposition({ registry, expositions }, Date.now, 0)
  const waiting = Array.from({ length: 8 }, () => text())
  release()
  const texts = await Promise.all(waiting)
  t.same(new Set(texts).size, 1, 'one text for the 8')
  t.match(texts[0], /^test_serialisations_total 1$/m, 'serialised once')
  t.match(await text(), /^test_serialisations_total 2$/m, 'with no cache, the next scrape after it serialises again')
})

t.test('METRICS_TOKEN closes /metrics: 401 without it or with another, the text with it', async (t) => {
  const metricsToken = 'a-metrics-token-of-32-characters'
  const closed = await startTestGateway({ env: { METRICS_TOKEN: metricsToken } })
  t.teardown(() => closed.close())
  const bare = await call(closed.url, 'GET', '/metrics')
  t.equal(bare.status, 401)
  t.equal(bare.body.error.code, 'token_missing')
  t.equal(bare.headers['www-authenticate'], 'Bearer realm="clets-gateway"')
  t.notMatch(JSON.stringify(bare.body), /gateway_/, 'nothing of the metrics in the refusal')
  for (const [name, bearer] of [
    ['another token', 'not-the-metrics-token'],
    ['one of the same length', metricsToken.replace(/.$/, 'X')],
    ['the token with more after it', `${metricsToken}x`],
    ["an officer's valid JWT", token()],
    ["a DOJ operator's", operatorToken()],
  ] as const) {
    const refused = await call(closed.url, 'GET', '/metrics', { token: bearer })
    t.equal(refused.status, 401, name)
    t.equal(refused.body.error.code, 'token_invalid', name)
    t.match(refused.headers['www-authenticate'], /error="invalid_token"/)
  }
  const scraped = await call(closed.url, 'GET', '/metrics', { token: metricsToken })
  t.equal(scraped.status, 200)
  t.match(scraped.body, /^gateway_metrics_serialisations_total 1$/m, 'the refusals cost no serialisation')
  t.equal((await call(closed.url, 'GET', '/healthz')).status, 200, '/healthz stays open')
  t.equal((await call(closed.url, 'GET', '/readyz')).status, 200, '/readyz too')
  const document = (await call(closed.url, 'GET', '/openapi.json')).body
  t.same(document.paths['/metrics'].get.security, [{ metricsToken: [] }], 'the OpenAPI document says so')
  t.equal((await call(gw.url, 'GET', '/metrics')).status, 200, 'unset, /metrics is open')
})

t.test('METRICS_TOKEN and METRICS_CACHE_MS: defaults, and invalid values stop start-up naming the variable', async (t) => {
  t.same(loadConfig({}).metrics, { token: undefined, cacheMs: 5000 })
  t.same(loadConfig({ METRICS_TOKEN: 'a-metrics-token-0123', METRICS_CACHE_MS: '0' }).metrics, { token: 'a-metrics-token-0123', cacheMs: 0 })
  for (const [variable, value] of [
    ['METRICS_TOKEN', 'short'],
    ['METRICS_TOKEN', 'a token with spaces in it'],
    ['METRICS_TOKEN', 'x'.repeat(513)],
    ['METRICS_CACHE_MS', '-1'],
    ['METRICS_CACHE_MS', '60001'],
    ['METRICS_CACHE_MS', 'soon'],
  ] as const) {
    let refusal: unknown
    try {
      loadConfig({ [variable]: value })
    } catch (error) {
      refusal = error
    }
    t.ok(refusal instanceof ConfigError && refusal.message.includes(variable), `${variable}=${value.slice(0, 30)}: refused, naming it`)
  }
})
