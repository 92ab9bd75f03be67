// GET /openapi.json: the OpenAPI 3 document @fastify/swagger generates from the route schemas. It is
// valid (a real validator), lists every route fastify registers (whatever routes are added later), says
// truly which take a bearer token (each route is called without one), and every error answer refers to
// the one error schema.
import { Validator } from '@seriousme/openapi-schema-validator'
import type { RouteOptions } from 'fastify'
import t from 'tap'
import { buildApp } from '../src/app.js'
import { errorResponseSchema } from '../src/http/errors.js'
import { createLogger } from '../src/logger.js'
import { call, startTestGateway } from './helpers.js'

/** A value for each path parameter the routes have, so a route can be called as a client would. */
const sampleParams: Record<string, string> = { ori: 'CA0194200', sub: 'officer-17', id: '00000000-0000-4000-8000-000000000000', '*': 'index.html' }
const errorRef = '#/components/schemas/GatewayError'

interface Operation {
  summary?: string
  security?: Record<string, string[]>[]
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: any }> }>
}

t.test('the OpenAPI document is valid, lists every registered route, and tells which take a token', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const answer = await call(gw.url, 'GET', '/openapi.json')
  t.equal(answer.status, 200, 'no token needed')
  t.match(answer.headers['content-type'], /^application\/json/)
  const document = answer.body
  const validation = await new Validator().validate(document)
  t.same(validation.errors, undefined, 'no validation error')
  t.equal(validation.valid, true, 'valid OpenAPI 3')
  t.same(document.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: document.components.securitySchemes.bearer.description })
  t.same({ ...document.components.schemas.GatewayError, description: undefined }, { ...errorResponseSchema, description: undefined }, 'the error schema is the one routes answer with')

  // The routes fastify registers, seen as they are added: an app built like the gateway's, on its dependencies.
  const routes: RouteOptions[] = []
  const app = buildApp({ logger: createLogger('silent'), requestTimeoutMs: 10_000 }, gw.gateway.deps)
  app.addHook('onRoute', (route) => void routes.push(route))
  await app.ready()
  t.teardown(() => app.close())
  const listed = routes.flatMap((route) => (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({ method, url: route.url })))
  // Not the API: fastify's automatic HEAD of each GET, and the console's static files (hidden by
  // @fastify/static; the console is documented in the README).
  const consoleFiles = listed.filter(({ url }) => url.startsWith('/console'))
  t.ok(consoleFiles.length > 0, 'the console is served')
  t.same(Object.keys(document.paths).filter((path) => path.startsWith('/console')), [], 'and its files are not in the API document')
  const documented = listed.filter(({ method, url }) => method !== 'HEAD' && !url.startsWith('/console'))
  t.ok(documented.length >= 20, `${documented.length} routes`)
  for (const wanted of ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /v1/policy', 'POST /v1/query', 'GET /openapi.json']) {
    t.ok(documented.some(({ method, url }) => `${method} ${url}` === wanted), `${wanted} is registered`)
  }

  for (const { method, url } of documented) {
    const path = url.replace(/:(\w+)/g, '{$1}')
    const operation = document.paths[path]?.[method.toLowerCase()] as Operation | undefined
    if (!t.ok(operation, `${method} ${url} is in the document`)) continue
    t.ok(operation!.summary, `${method} ${url} has a summary`)
    t.ok(Object.keys(operation!.responses).some((status) => /^2/.test(status)), `${method} ${url} documents its success`)

    // The route called without a token, as a client would: a 401 means the document must say bearer.
    const concrete = url.replace(/:(\w+)/g, (_, name: string) => sampleParams[name] ?? 'x').replace('*', sampleParams['*']!)
    const bare = await call(gw.url, method as 'GET' | 'POST' | 'PUT' | 'DELETE', concrete, method === 'GET' ? {} : { body: {} })
    if (bare.status === 401) {
      t.same(operation!.security, [{ bearer: [] }], `${method} ${url} needs a token and says so`)
      const unauthorized = operation!.responses['401']
      t.equal(unauthorized?.content?.['application/json']?.schema.$ref, errorRef, `${method} ${url}: its 401`)
      t.ok(unauthorized?.headers?.['WWW-Authenticate'], `${method} ${url}: its 401 names WWW-Authenticate`)
    } else {
      t.same(operation!.security, [], `${method} ${url} answered ${bare.status} without a token: public`)
    }

    // Every error answer refers to the error schema. Not errors: a policy denial (it may stand beside
    // one), and a status report answered with its success shape (/readyz's 503).
    const success = JSON.stringify(operation!.responses['200']?.content?.['application/json']?.schema)
    for (const [status, response] of Object.entries(operation!.responses)) {
      if (!/^[45]/.test(status)) continue
      const schema = response.content?.['application/json']?.schema
      const isDenial = (candidate: any) => candidate?.properties?.decision !== undefined && candidate.properties.error === undefined
      const refers = schema?.$ref === errorRef || (schema?.oneOf as any[] | undefined)?.some((branch) => branch.$ref === errorRef)
      t.ok(refers || isDenial(schema) || JSON.stringify(schema) === success, `${method} ${url} ${status} refers to ${errorRef}`)
    }
  }

  // Nothing documented that fastify does not serve.
  for (const [path, operations] of Object.entries(document.paths as Record<string, object>)) {
    for (const method of Object.keys(operations)) {
      t.ok(documented.some((route) => route.method.toLowerCase() === method && route.url.replace(/:(\w+)/g, '{$1}') === path), `${method} ${path} is served`)
    }
  }
})

t.test('the document is built once: a second fetch answers the same bytes', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const first = await call(gw.url, 'GET', '/openapi.json')
  const second = await call(gw.url, 'GET', '/openapi.json')
  t.same(second.body, first.body)
  t.equal(first.body.info.title, 'CLETS query gateway')
})
