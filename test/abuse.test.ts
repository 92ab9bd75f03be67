// The abuse suite: property-based tests (fast-check) over the input of every route the app registers.
// The routes are not listed here: they are read from an app built like the gateway's (an onRoute hook),
// with each route's schemas (body, path parameters, query string) and the role its token hook asks for,
// so a route added later is covered without touching this file. For each, requests that are wrong in one
// way each (a body that breaks its schema: a wrong type, a missing or an extra field, a huge string, deep
// nesting, no JSON at all, another content type; a path parameter or a query string its schema refuses;
// an Authorization header that is missing, malformed, forged, expired or of the wrong role) must:
//   - answer 4xx with a code of the error catalogue, of the catalogue's status (never a 5xx);
//   - leave the gateway up (/healthz answers after each);
//   - change nothing: the registry, the officers' sanctions, the written requests and the filings read
//     the same after each request, and the ledger gains no change record (operator.*, officer.change,
//     request.*, filing.recorded).
// Everything else about each request is right (a token of the route's role, an existing agency, officer
// and request in the path, a body that passes its schema), so a route that skipped one check would act.
// Bounded for CI: a fixed seed (ABUSE_SEED to try another; logged) and ABUSE_RUNS runs per route and kind.
// On the embedded store here, on Redis in test/abuse-redis.test.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { createSigner } from 'fast-jwt'
import type { RouteOptions } from 'fastify'
import t, { type Test } from 'tap'
import { request as undiciRequest } from 'undici'
import { buildApp } from '../src/app.js'
import { errorCatalogue } from '../src/errors.js'
import { requiredRole, type AuthorizeHook } from '../src/http/context.js'
import { createLogger } from '../src/logger.js'
import { audience, call, issuer, lapd, operatorToken, sheriff, initRedis, rapSheetRequest, secret, startTestGateway, token } from './helpers.js'
import { startRedis } from './redis.js'
import { openReview } from '../src/reviews/open.js'
import { randomUUID } from 'node:crypto'

const seed = Number(process.env.ABUSE_SEED ?? 20)
const runs = Number(process.env.ABUSE_RUNS ?? 40)
t.comment(`fast-check seed ${seed}, ${runs} runs per route and kind (ABUSE_SEED, ABUSE_RUNS)`)

/** The JSON schema subset the routes use. */
interface Schema {
  readonly type?: string | readonly string[]
  readonly enum?: readonly unknown[]
  readonly pattern?: string
  readonly format?: string
  readonly minLength?: number
  readonly maxLength?: number
  readonly minimum?: number
  readonly maximum?: number
  readonly maxProperties?: number
  readonly properties?: Readonly<Record<string, Schema>>
  readonly required?: readonly string[]
  readonly additionalProperties?: boolean | Schema
  readonly items?: Schema
}

type Role = string | null | undefined

interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  readonly url: string
  /** The role its token hook asks for: null any role, undefined no token at all. */
  readonly role: Role
  readonly body: Schema | undefined
  readonly params: Schema | undefined
  readonly querystring: Schema | undefined
}

// The embedded store, or (test/abuse-redis.test.ts) a real redis-server holding the state.
const redis = process.env.ABUSE_STORE === 'redis' ? await startRedis() : null
if (redis !== null) await initRedis(redis.url)
const gw = await startTestGateway(redis === null ? {} : { env: { REDIS_URL: redis.url } })
t.teardown(async () => {
  await gw.close()
  await redis?.stop()
})
t.comment(`store: ${redis === null ? 'embedded' : `redis ${redis.url}`}`)

// --- the routes, as the app registers them ----------------------------------------------------------------

function roleOf(route: RouteOptions): Role {
  const hooks = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
  const hook = hooks.find((candidate) => requiredRole in candidate) as AuthorizeHook | undefined
  return hook === undefined ? undefined : hook[requiredRole]
}

const registered: RouteOptions[] = []
const probe = buildApp({ logger: createLogger('silent'), requestTimeoutMs: 10_000 }, gw.gateway.deps)
probe.addHook('onRoute', (route) => void registered.push(route))
await probe.ready()
await probe.close()
const routes: Route[] = registered.flatMap((route) =>
  [route.method]
    .flat()
    .filter((method): method is Route['method'] => ['GET', 'POST', 'PUT', 'DELETE'].includes(method))
    .map((method) => {
      const schema = (route.schema ?? {}) as { body?: Schema; params?: Schema; querystring?: Schema }
      return { method, url: route.url, role: roleOf(route), body: schema.body, params: schema.params, querystring: schema.querystring }
    }),
)
const takesBody = (route: Route) => route.method !== 'GET'
/** Routes with nothing a client can get wrong: no token, no body, no parameters, no query string. */
const inputless = routes.filter((route) => route.role === undefined && !takesBody(route) && route.params === undefined && route.querystring === undefined)
t.comment(`${routes.length} routes; without input to malform: ${inputless.map((route) => `${route.method} ${route.url}`).join(', ')}`)

// --- the state each request must leave as it found it -----------------------------------------------------

const operator = operatorToken()
/** A fresh officer for every terminal request: the per-officer rate limit never answers 429 instead. */
let officers = 0
const terminal = () => token({ sub: `abuse-terminal-${officers++}` })

// An officer under a sanction, a pending written request and a recorded filing (the sanction and the
// filing at the fictional sample sheriff), so the routes that change
// them have something there to change.
const officer = 'abuse-officer'
/** A setup step's answer, which must have this status (thrown otherwise: the suite cannot start). */
function expect(answer: { status: number; body: unknown }, status: number): void {
  if (answer.status !== status) throw new Error(`setup: answered ${answer.status} ${JSON.stringify(answer.body)}, expected ${status}`)
}
expect(await call(gw.url, 'PUT', `/v1/officers/${sheriff}/${officer}/sanction`, { token: operator, body: { type: 'suspension', reason: 'invented for the abuse suite' } }), 200)
const filed = await call(gw.url, 'POST', '/v1/requests', {
  token: terminal(),
  body: rapSheetRequest({ caseNumber: '26-000001', justification: 'Invented for the abuse suite.', requester: { name: 'Det. Alex Example', title: 'Detective', ori: lapd } }),
})
expect(filed, 201)
const filingYear = String(new Date().getUTCFullYear() - 2)
const filing = { investigations: 2, violations: 1, individuals: 1, pending: 0, reason: 'invented for the abuse suite' }
expect(await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/filings/${filingYear}`, { token: operator, body: filing }), 201)

// An open review (invented for the suite), so the review routes have one to decide.
const reviewId = randomUUID()
await openReview(gw.gateway.deps, reviewId, { source: 'signal', signal: 'repeat_subject', ori: lapd, officer, sub: officer, decisions: [], evidence: [], summary: 'invented for the abuse suite' }, Date.now())

/** A path parameter's value that names something there (so a route that acted would change it). */
const knownParams: Readonly<Record<string, string>> = { ori: sheriff, sub: officer, id: filed.body.id as string, year: filingYear }
/** The known value of `name` on `route`: a review route's id names the review. */
const knownParam = (route: Route, name: string) => (name === 'id' && route.url.startsWith('/v1/reviews') ? reviewId : knownParams[name])
/**
 * Body members whose schema cannot tell a value the policies know (any string passes as a database),
 * by name: a right body is then one the route would act on, so one wrong in one way only tests that way.
 */
const rap = rapSheetRequest({ caseNumber: '26-000002', justification: 'x', requester: {} })
const knownMembers: Readonly<Record<string, unknown>> = { database: rap.database, purpose: rap.purpose, subject: rap.subject, caseNumber: rap.caseNumber }

async function snapshot(): Promise<string> {
  const paths = ['/v1/agencies', '/v1/officers', '/v1/requests', `/v1/filings?year=${filingYear}`, '/v1/reviews?status=all']
  const answers = await Promise.all(paths.map((path) => call(gw.url, 'GET', path, { token: operator })))
  return JSON.stringify(answers.map((answer) => [answer.status, answer.body]))
}

/**
 * The ledger's change records: what no refused request may add (an operator's change to an agency or an
 * officer, its failure, a registry created or imported, a written request's steps, a filing, a change
 * waiting for its second operator). A new kind of change record belongs here.
 */
const isChange = (type: string) => /^(operator\.(change|init|import|failed)|officer\.change|request\.|filing\.recorded|change\.|review\.)/.test(type)

/** The records appended to the ledger since the last read (every instance chain, every segment). */
class LedgerTail {
  private readonly offsets = new Map<string, number>()
  constructor(private readonly dir: string) {}
  read(): { type: string }[] {
    const records: { type: string }[] = []
    for (const instance of readdirSync(this.dir, { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
      for (const segment of readdirSync(join(this.dir, instance.name)).filter((name) => name.startsWith('segment-')).sort()) {
        const file = join(this.dir, instance.name, segment)
        const from = this.offsets.get(file) ?? 0
        if (statSync(file).size <= from) continue
        const text = readFileSync(file).subarray(from).toString('utf8')
        const complete = text.lastIndexOf('\n') + 1 // a line still being written waits for the next read
        this.offsets.set(file, from + Buffer.byteLength(text.slice(0, complete)))
        for (const line of text.slice(0, complete).split('\n')) if (line !== '') records.push(JSON.parse(line) as { type: string })
      }
    }
    return records
  }
}
const ledger = new LedgerTail(gw.auditDir)
ledger.read()
let before = await snapshot()
const initial = before

// --- values from a schema: valid ones, and ones it refuses ------------------------------------------------

const typesOf = (schema: Schema): readonly string[] => (schema.type === undefined ? [] : typeof schema.type === 'string' ? [schema.type] : schema.type)
function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}
function allowsType(schema: Schema, value: unknown): boolean {
  const types = typesOf(schema)
  const type = jsonType(value)
  return types.length === 0 || types.includes(type) || (type === 'integer' && types.includes('number'))
}

/** A value the schema accepts; an object's members named in `known` take the value given there. */
function valid(schema: Schema, known: Readonly<Record<string, unknown>> = {}): fc.Arbitrary<unknown> {
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
  const [type] = typesOf(schema)
  switch (type) {
    case 'string': {
      if (schema.format === 'date-time') return fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((date) => date.toISOString())
      const min = schema.minLength ?? 0
      const max = schema.maxLength ?? 40
      if (schema.pattern !== undefined) return fc.stringMatching(new RegExp(schema.pattern, 'u')).filter((text) => text.length >= min && text.length <= max)
      return fc.string({ minLength: Math.max(min, 1), maxLength: Math.min(max, 40) }).filter((text) => /\S/.test(text))
    }
    case 'boolean':
      return fc.boolean()
    case 'integer':
      return fc.integer({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000 })
    case 'number':
      return fc.double({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000, noNaN: true })
    case 'array':
      return fc.array(valid(schema.items ?? {}), { maxLength: 3 })
    case 'object': {
      const properties = schema.properties ?? {}
      if (Object.keys(properties).length === 0) return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 20 }), { maxKeys: Math.min(schema.maxProperties ?? 4, 4) })
      const model = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, name in known ? fc.constant(known[name]) : valid(property)]))
      return fc.record(model, { requiredKeys: [...(schema.required ?? [])] as never[] })
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** An object (or array) nested `depth` levels deep, as JSON text. */
const deep = (depth: number, object: boolean) => (object ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`)
const depths = fc.integer({ min: 1_000, max: 20_000 })

/** A value the schema refuses. */
function refused(schema: Schema): fc.Arbitrary<unknown> {
  const choices: fc.Arbitrary<unknown>[] = [
    // A JSON type the schema does not take (any type, for an enum, if not one of its values).
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.string({ maxLength: 20 }), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }))
      .filter((value) => (schema.enum !== undefined ? !schema.enum.some((allowed) => JSON.stringify(allowed) === JSON.stringify(value)) : !allowsType(schema, value))),
  ]
  if (schema.enum !== undefined) choices.push(fc.string({ maxLength: 30 }).filter((text) => !schema.enum!.includes(text)))
  if (typesOf(schema).includes('string')) {
    if (schema.maxLength !== undefined) choices.push(fc.integer({ min: schema.maxLength + 1, max: schema.maxLength + 200_000 }).map((length) => 'x'.repeat(length)))
    if ((schema.minLength ?? 0) > 0) choices.push(fc.constant(''))
    if (schema.pattern !== undefined) {
      const pattern = new RegExp(schema.pattern, 'u')
      choices.push(fc.string({ unit: 'binary', maxLength: 40 }).filter((text) => !pattern.test(text) && (schema.maxLength === undefined || text.length <= schema.maxLength)))
    }
    if (schema.format === 'date-time') choices.push(fc.constantFrom('yesterday', '2026-13-45T99:99:99Z', '2026-01-01', '1e9', ' '))
  }
  if (typesOf(schema).includes('integer')) choices.push(fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => !Number.isInteger(value)))
  if (typesOf(schema).includes('object') && schema.additionalProperties === false) {
    choices.push(fc.tuple(valid(schema), fc.string({ minLength: 1, maxLength: 12 }).filter((name) => !(name in (schema.properties ?? {})) && name !== '__proto__')).map(([value, name]) => ({ ...(value as object), [name]: 1 })))
  }
  // Deep nesting, where the schema takes no array.
  if ((typesOf(schema).length > 0 || schema.enum !== undefined) && !typesOf(schema).includes('array')) choices.push(depths.map((depth) => ({ [nested]: deep(depth, false) })))
  return fc.oneof(...choices)
}
/** Marks a value to be written as raw JSON text (deep nesting is built as text, not as objects). */
const nested = '\u0000nested'
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (item !== null && typeof item === 'object' && nested in item ? `\u0000raw${(item as Record<string, string>)[nested]}\u0000` : item)).replace(/"\\u0000raw(.*?)\\u0000"/g, (_match, raw: string) => raw)
}

// --- the requests -----------------------------------------------------------------------------------------

interface Attempt {
  readonly route: string
  readonly method: Route['method']
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string
  /** What is wrong with it, for the report. */
  readonly wrong: string
  /** The error category it must be refused with, when only one fits (a bad token: auth). */
  readonly category?: string
  /** The code it must be refused with, when only one fits (no route: not_found). */
  readonly code?: string
}

/** How a failing attempt is printed: its route, what is wrong, and at most 300 characters of its body. */
function described(attempt: Attempt): Attempt {
  return Object.assign(attempt, {
    [fc.toStringMethod]: () =>
      `${attempt.method} ${attempt.path.slice(0, 300)} (${attempt.wrong}; headers ${JSON.stringify({ ...attempt.headers, authorization: attempt.headers.authorization?.slice(0, 60) })}; body ${attempt.body === undefined ? 'none' : `${attempt.body.length} chars: ${JSON.stringify(attempt.body.slice(0, 300))}`})`,
  })
}

function tokenFor(role: Role): string | undefined {
  if (role === undefined) return undefined
  return role === 'terminal' ? terminal() : operator
}

function pathOf(route: Route, params: Readonly<Record<string, string>>): string {
  return route.url.replace(/:(\w+)/g, (_match, name: string) => params[name]!)
}

/** The route's path with its known parameters, its valid query string, and a body its schema accepts. */
function rightParts(route: Route) {
  const params = Object.fromEntries(Object.keys(route.params?.properties ?? {}).map((name) => [name, fc.constant(encodeURIComponent(knownParam(route, name) ?? name))]))
  const query = route.querystring === undefined ? fc.constant('') : valid({ ...route.querystring, required: route.querystring.required ?? [] }).map((value) => new URLSearchParams(value as Record<string, string>).toString())
  // A body-taking route without a body schema (the handler checks it): an object its handler refuses.
  const body = !takesBody(route) ? fc.constant(undefined) : route.body === undefined ? fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }) : valid(route.body, knownMembers)
  return fc.record({ params: fc.record(params), query, body })
}

function attempt(route: Route, parts: { params: Record<string, string>; query: string; body: unknown }, wrong: string, override: Partial<Attempt> = {}): Attempt {
  const bearer = tokenFor(route.role)
  const headers: Record<string, string> = {}
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`
  if (parts.body !== undefined) headers['content-type'] = 'application/json'
  const path = pathOf(route, parts.params) + (parts.query === '' ? '' : `?${parts.query}`)
  return described({ route: `${route.method} ${route.url}`, method: route.method, path, headers, ...(parts.body === undefined ? {} : { body: jsonText(parts.body) }), wrong, ...override, ...(override.headers === undefined ? {} : { headers: { ...headers, ...override.headers } }) })
}

/** Bodies that break the route's body schema, or are no JSON object at all, or come as another type. */
function wrongBodies(route: Route): fc.Arbitrary<Attempt> {
  const schema = route.body
  const properties = Object.entries(schema?.properties ?? {})
  const required = schema?.required ?? []
  const right = rightParts(route)
  const kinds: fc.Arbitrary<Attempt>[] = [
    // No JSON object: another JSON value, text that is not JSON, nothing, deep nesting, more than the limit.
    fc.tuple(right, fc.oneof(fc.jsonValue({ maxDepth: 2 }).filter((value) => value === null || typeof value !== 'object' || Array.isArray(value)).map((value) => JSON.stringify(value)), fc.string({ unit: 'binary', maxLength: 60 }).filter((text) => { try { JSON.parse(text); return false } catch { return true } }), fc.constant(''), depths.chain((depth) => fc.constantFrom(deep(depth, false), deep(depth, true))), fc.constant(`{"pad":"${'x'.repeat(1024 * 1024)}"}`)))
      .map(([parts, body]) => attempt(route, parts, 'not a JSON object', { body })),
    // A body that is right but truncated, or followed by something.
    fc.tuple(right, fc.constantFrom('cut', '}', ' x', ',{}')).map(([parts, tail]) => {
      const text = jsonText(parts.body ?? {})
      return attempt(route, parts, `JSON ${tail === 'cut' ? 'cut short' : 'with trailing text'}`, { body: tail === 'cut' ? text.slice(0, -1) : text + tail })
    }),
    // A body that is right, sent as another content type (or none).
    fc.tuple(right, fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', 'application/json-patch+json', 'text/json', '')).map(([parts, type]) =>
      attempt(route, { ...parts, body: parts.body ?? {} }, `content-type ${JSON.stringify(type)}`, { headers: type === '' ? { 'content-type': undefined as never } : { 'content-type': type } }),
    ),
    // A member named __proto__ or constructor (a prototype-pollution attempt).
    fc.tuple(right, fc.constantFrom('"__proto__":{"roles":["doj_operator"]}', '"constructor":{"prototype":{"x":1}}')).map(([parts, member]) => {
      const text = jsonText(parts.body ?? {})
      return attempt(route, parts, 'a prototype member', { body: text === '{}' ? `{${member}}` : `{${member},${text.slice(1)}` })
    }),
  ]
  if (required.length > 0) {
    kinds.push(fc.tuple(right, fc.constantFrom(...required)).map(([parts, name]) => {
      const { [name]: _gone, ...rest } = parts.body as Record<string, unknown>
      return attempt(route, { ...parts, body: rest }, `without ${name}`)
    }))
  }
  if (properties.length > 0) {
    kinds.push(fc.tuple(right, fc.constantFrom(...properties)).chain(([parts, [name, property]]) => refused(property).map((value) => attempt(route, { ...parts, body: { ...(parts.body as object), [name]: value } }, `${name} refused by its schema`))))
  }
  if (schema?.additionalProperties === false) {
    kinds.push(fc.tuple(right, fc.string({ minLength: 1, maxLength: 20 }).filter((name) => !properties.some(([known]) => known === name) && name !== '__proto__'), fc.jsonValue({ maxDepth: 1 })).map(([parts, name, value]) => attempt(route, { ...parts, body: { ...(parts.body as object), [name]: value } }, `an unknown field ${JSON.stringify(name)}`)))
  }
  return fc.oneof(...kinds)
}

/** One path parameter its schema refuses (the others right): as generated text, or a few raw tricks. */
function wrongParams(route: Route): fc.Arbitrary<Attempt> {
  const names = Object.entries(route.params?.properties ?? {})
  return fc.tuple(rightParts(route), fc.constantFrom(...names)).chain(([parts, [name, schema]]) => {
    const pattern = schema.pattern === undefined ? null : new RegExp(schema.pattern, 'u')
    const refusedText = (text: string) => pattern === null || !pattern.test(text)
    const encoded = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 257, max: 2000 }).map((length) => 'A'.repeat(length)), fc.constantFrom('', ' ', 'ca0194200', '../../etc/passwd', 'CA0194200\u0000', 'CA0194200 ', '%00'))
      // Lone surrogate halves as U+FFFD, as a client's encoder would send them.
      .map((text) => text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'))
      .filter(refusedText)
      .map(encodeURIComponent)
    // Sent as they are: not valid percent-encoding, a dot segment, an encoded slash.
    const raw = fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '%2e%2e', 'a%2Fb').filter((text) => {
      try {
        return refusedText(decodeURIComponent(text))
      } catch {
        return true
      }
    })
    return fc.oneof(encoded, raw).map((value) => attempt(route, { ...parts, params: { ...parts.params, [name]: value } }, `path parameter ${name}`))
  })
}

/** A query string its schema refuses: a value it refuses, an unknown or a repeated parameter, a required one left out. */
function wrongQueries(route: Route): fc.Arbitrary<Attempt> {
  const schema = route.querystring!
  const properties = Object.entries(schema.properties ?? {})
  const right = rightParts(route)
  const kinds: fc.Arbitrary<Attempt>[] = []
  const withQuery = (parts: { params: Record<string, string>; query: string; body: unknown }, query: URLSearchParams, wrong: string) => attempt(route, { ...parts, query: query.toString() }, wrong)
  if (properties.length > 0) {
    kinds.push(
      fc.tuple(right, fc.constantFrom(...properties)).chain(([parts, [name, property]]) =>
        refused({ ...property, type: 'string' })
          .filter((value): value is string => typeof value === 'string')
          .map((value) => {
            const query = new URLSearchParams(parts.query)
            query.set(name, value)
            return withQuery(parts, query, `query ${name} refused by its schema`)
          }),
      ),
      fc.tuple(right, fc.constantFrom(...properties)).chain(([parts, [name, property]]) =>
        valid(property).map((value) => {
          const query = new URLSearchParams(parts.query)
          query.set(name, String(value))
          query.append(name, String(value))
          return withQuery(parts, query, `query ${name} repeated`)
        }),
      ),
    )
  }
  if (schema.additionalProperties === false) {
    kinds.push(fc.tuple(right, fc.string({ minLength: 1, maxLength: 20 }).filter((name) => !properties.some(([known]) => known === name)), fc.string({ maxLength: 20 })).map(([parts, name, value]) => {
      const query = new URLSearchParams(parts.query)
      query.append(name, value)
      return withQuery(parts, query, `an unknown query parameter ${JSON.stringify(name)}`)
    }))
  }
  for (const name of schema.required ?? []) {
    kinds.push(right.map((parts) => {
      const query = new URLSearchParams(parts.query)
      query.delete(name)
      return withQuery(parts, query, `query without ${name}`)
    }))
  }
  return fc.oneof(...kinds)
}

/** A token signed with the test secret, with these claims as they are (not checked as mintToken does). */
function signed(claims: Record<string, unknown>, options: { key?: string; iss?: string; aud?: string; expiresIn?: number; clockTimestamp?: number } = {}): string {
  const { key = secret, iss = issuer, aud = audience, expiresIn = 3_600_000, clockTimestamp } = options
  return createSigner({ key, algorithm: 'HS256', iss, aud, expiresIn, ...(clockTimestamp === undefined ? {} : { clockTimestamp }) })(claims)
}
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** Claims that would pass (a DOJ operator of the DOJ ORI): each forged variant is wrong in one way only. */
const goodClaims = { sub: 'abuse-forger', ori: 'CA0349400', roles: ['doj_operator'] }

/** Authorization headers that must be refused: none, malformed, forged, expired, or of the wrong role. */
function wrongAuthorizations(role: Role): fc.Arbitrary<{ header: string | undefined; wrong: string }> {
  const printable = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=!$%&*'.split('')), maxLength: 200 })
  const genuine = operatorToken()
  const [head, , signature] = genuine.split('.')
  const variants: fc.Arbitrary<{ header: string | undefined; wrong: string }>[] = [
    fc.constant({ header: undefined, wrong: 'no Authorization header' }),
    fc.constantFrom('', 'Bearer', 'Bearer ', 'Bearer null', 'Basic ZG9qOnNlY3JldA==', 'Token abc', 'Digest username="doj"', `Basic ${genuine}`, `${genuine}`).map((header) => ({ header, wrong: `Authorization ${JSON.stringify(header.slice(0, 40))}` })),
    printable.map((text) => ({ header: `Bearer ${text}`, wrong: 'a token of random characters' })),
    fc.tuple(printable, printable, printable).map(([a, b, c]) => ({ header: `Bearer ${a}.${b}.${c}`, wrong: 'three random parts' })),
    fc.constantFrom(
      { header: `Bearer ${signed(goodClaims, { key: 'another-secret-that-is-long-enough-for-hs256' })}`, wrong: 'signed with another key' },
      { header: `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...goodClaims, iss: issuer, aud: audience, exp: Math.floor(Date.now() / 1000) + 3600 })}.`, wrong: 'alg none' },
      { header: `Bearer ${head}.${base64url({ ...goodClaims, sub: 'someone-else', iss: issuer, aud: audience, exp: Math.floor(Date.now() / 1000) + 3600 })}.${signature}`, wrong: 'claims changed after signing' },
      { header: `Bearer ${signed(goodClaims, { clockTimestamp: Date.now() - 7_200_000, expiresIn: 3_600_000 })}`, wrong: 'expired an hour ago' },
      { header: `Bearer ${signed(goodClaims, { iss: 'someone-idp' })}`, wrong: 'another issuer' },
      { header: `Bearer ${signed(goodClaims, { aud: 'another-service' })}`, wrong: 'another audience' },
      { header: `Bearer ${signed({ ori: lapd, roles: ['doj_operator'] })}`, wrong: 'no sub' },
      { header: `Bearer ${signed({ ...goodClaims, sub: 'has space' })}`, wrong: 'a sub with a space' },
      { header: `Bearer ${signed({ ...goodClaims, sub: 'x'.repeat(129) })}`, wrong: 'a sub of 129 characters' },
      { header: `Bearer ${signed({ sub: 'abuse-forger', roles: ['doj_operator'] })}`, wrong: 'no ori' },
      { header: `Bearer ${signed({ ...goodClaims, ori: 'lapd' })}`, wrong: 'an ori that is no ORI' },
      { header: `Bearer ${signed({ ...goodClaims, roles: 'doj_operator' })}`, wrong: 'roles not a list' },
      { header: `Bearer ${signed({ ...goodClaims, roles: [] })}`, wrong: 'no roles' },
      { header: `Bearer ${signed({ ...goodClaims, roles: ['root'] })}`, wrong: 'an unknown role' },
      { header: `Bearer ${genuine} ${genuine}`, wrong: 'two tokens' },
      // Token lifetimes are bounded (JWT_MAX_LIFETIME_S, 12 h by default) and iat is not in the future.
      { header: `Bearer ${signed(goodClaims, { expiresIn: 10 * 365 * 86_400_000 })}`, wrong: 'a 10-year lifetime' },
      { header: `Bearer ${signed(goodClaims, { clockTimestamp: Date.now() + 3_600_000 })}`, wrong: 'iat an hour ahead' },
      { header: `Bearer ${createSigner({ key: secret, algorithm: 'HS256', iss: issuer, aud: audience })({ ...goodClaims, exp: 1e20 })}`, wrong: 'exp 1e20' },
      // A genuine operator token whose ORI is not a DOJ ORI (policies/authority.yaml).
      { header: `Bearer ${token({ sub: 'abuse-lapd-admin', ori: lapd, roles: ['doj_operator'] })}`, wrong: 'an operator token of a non-DOJ ORI' },
      { header: `Bearer ${genuine.slice(0, -2)}`, wrong: 'a token cut short' },
    ),
  ]
  // A genuine token of the other role, where the route asks for one.
  if (role === 'terminal') variants.push(fc.constant({ header: `Bearer ${operatorToken()}`, wrong: 'an operator token for a terminal route' }))
  if (role === 'doj_operator') variants.push(fc.constant({ header: `Bearer ${token({ sub: 'abuse-terminal-x' })}`, wrong: 'a terminal token for an operator route' }))
  return fc.oneof(...variants)
}

function wrongTokens(route: Route): fc.Arbitrary<Attempt> {
  return fc.tuple(rightParts(route), wrongAuthorizations(route.role)).map(([parts, { header, wrong }]) =>
    attempt(route, parts, wrong, { category: 'auth', headers: { authorization: header as string } }),
  )
}

// --- the property ------------------------------------------------------------------------------------------

/** Sends the attempt and checks all of it: a catalogued 4xx, the gateway up, nothing changed. */
async function refusedCleanly(attempt: Attempt): Promise<void> {
  const headers = Object.fromEntries(Object.entries(attempt.headers).filter(([, value]) => value !== undefined))
  const response = await undiciRequest(gw.url + attempt.path, { method: attempt.method, headers, body: attempt.body })
  const text = await response.body.text()
  const status = response.statusCode
  let code: string | undefined
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code
  } catch {
    // not JSON: refused below
  }
  const entry = code === undefined ? undefined : (errorCatalogue as Record<string, { status: number; category: string }>)[code]
  if (status < 400 || status > 499 || entry === undefined || entry.status !== status || (attempt.category !== undefined && entry.category !== attempt.category)) {
    throw new Error(`answered ${status} ${text.slice(0, 300)}; expected a 4xx with a catalogued code${attempt.category === undefined ? '' : ` of category ${attempt.category}`}`)
  }
  if (attempt.code !== undefined && code !== attempt.code) throw new Error(`answered ${status} ${text.slice(0, 300)}; expected ${attempt.code}`)
  const health = await call(gw.url, 'GET', '/healthz')
  if (health.status !== 200) throw new Error(`/healthz answered ${health.status} after it`)
  const changes = ledger.read().filter((record) => isChange(record.type))
  if (changes.length > 0) throw new Error(`the ledger gained ${changes.map((record) => record.type).join(', ')}`)
  const after = await snapshot()
  if (after !== before) {
    before = after // reported once: the routes checked next are judged from here
    throw new Error('the registry, the officers, the requests or the filings changed')
  }
}

async function check(t: Test, kind: string, route: Route, attempts: fc.Arbitrary<Attempt>): Promise<void> {
  const result = await fc.check(fc.asyncProperty(attempts, refusedCleanly), { seed, numRuns: runs, endOnFailure: true })
  t.ok(!result.failed, `${route.method} ${route.url}: ${kind}, ${result.numRuns} runs`, result.failed ? { counterexample: fc.stringify(result.counterexample), error: String(result.errorInstance) } : {})
}

for (const route of routes) {
  if (inputless.includes(route)) continue
  t.test(`${route.method} ${route.url}`, async (t) => {
    if (takesBody(route)) await check(t, 'bodies', route, wrongBodies(route))
    if (route.params !== undefined && Object.keys(route.params.properties ?? {}).length > 0) await check(t, 'path parameters', route, wrongParams(route))
    if (route.querystring !== undefined) await check(t, 'query strings', route, wrongQueries(route))
    if (route.role !== undefined) await check(t, 'Authorization headers', route, wrongTokens(route))
  })
}

// Paths no route serves for the method, whatever the body, the token or the path: a catalogued 4xx, and
// nothing changes: 404 not_found, answered before any body is read (so a body that is no JSON, or nests
// too deep, changes nothing either).
const served = registered.flatMap((route) =>
  [route.method].flat().map((method) => ({ method: method === 'HEAD' ? 'GET' : method, path: new RegExp(`^${route.url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+').replace(/\*/g, '.*')}$`) })),
)
t.test('any other method and path: refused, whatever the body or the token', async (t) => {
  const segment = fc.oneof(
    fc.constantFrom('v1', 'agencies', 'query', 'requests', 'officers', 'sanction', 'filings', 'changes', 'console', 'healthz', 'metrics', '..', '.', '%2e%2e', '%2F', lapd, knownParams.id!),
    fc.string({ unit: 'binary', maxLength: 12 }).map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'))),
  )
  const unrouted = fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') as fc.Arbitrary<Route['method']>,
      path: fc.array(segment, { minLength: 1, maxLength: 5 }).map((segments) => `/${segments.join('/')}`),
      authorization: fc.constantFrom(undefined, `Bearer ${operator}`, `Bearer ${token()}`, 'Bearer x'),
      body: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)), depths.map((depth) => deep(depth, false)), fc.string({ maxLength: 40 })),
    })
    // As the client sends it: the URL parser resolves dot segments (`/x/%2e%2e/console` is `/console`).
    .filter(({ method, path }) => {
      const sent = new URL(`http://gateway${path}`).pathname
      return !served.some((route) => route.method === method && route.path.test(sent))
    })
    .map(({ method, path, authorization, body }) =>
      described({ route: 'unrouted', method, path, headers: { ...(authorization === undefined ? {} : { authorization }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body }), wrong: 'no route', code: 'not_found' }),
    )
  const result = await fc.check(fc.asyncProperty(unrouted, refusedCleanly), { seed, numRuns: runs * 2, endOnFailure: true })
  t.ok(!result.failed, `${result.numRuns} runs`, result.failed ? { counterexample: fc.stringify(result.counterexample), error: String(result.errorInstance) } : {})
})

t.test('after all of it: the ledger holds no change from any of these requests, and the state is as it was', async (t) => {
  t.same(ledger.read().filter((record) => isChange(record.type)), [])
  t.equal(await snapshot(), initial)
  t.equal((await call(gw.url, 'GET', '/healthz')).status, 200)
})

t.test('found by this suite: a token that holds none of the gateway\'s roles read what any role may (GET /v1/policy answered 200); 403 role_forbidden', async (t) => {
  for (const roles of [[], ['root'], ['Terminal']]) {
    const answer = await call(gw.url, 'GET', '/v1/policy', { token: signed({ ...goodClaims, roles }) })
    t.equal(answer.status, 403, JSON.stringify(roles))
    t.equal(answer.body.error?.code, 'role_forbidden')
  }
  t.equal((await call(gw.url, 'GET', '/v1/policy', { token: token() })).status, 200, 'a terminal reads it')
  t.equal((await call(gw.url, 'GET', '/v1/policy', { token: operator })).status, 200, 'an operator too')
})

// Last, as it changes the state: the bodies above are wrong only in what each names, since their other
// parts pass the route's schema. Checked by sending a right body alone, with the route's token and
// path: no input error comes back (a policy denial, a 404 or a conflict may).
const inputErrors = new Set(['invalid_json', 'invalid_request', 'unsupported_media_type', 'body_too_large'])
t.test('control: a right body alone passes its route', async (t) => {
  for (const route of routes) {
    if (!takesBody(route) || route.body === undefined) continue
    const result = await fc.check(
      fc.asyncProperty(rightParts(route), async (parts) => {
        const right = attempt(route, parts, 'nothing')
        const answer = await call(gw.url, right.method, right.path, { headers: right.headers, ...(right.body === undefined ? {} : { raw: right.body }) })
        if (answer.status >= 500 || inputErrors.has(answer.body?.error?.code)) throw new Error(`answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`)
      }),
      { seed, numRuns: 5, endOnFailure: true },
    )
    t.ok(!result.failed, `${route.method} ${route.url}: a right body is accepted`, result.failed ? { counterexample: fc.stringify(result.counterexample), error: String(result.errorInstance) } : {})
  }
})
