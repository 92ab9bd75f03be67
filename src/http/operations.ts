// Operations endpoints: /healthz (alive), /readyz (policies loaded, state reachable and holding a
// registry, audit writable), /metrics (Prometheus text: cached, and closed by METRICS_TOKEN when set).
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../errors.js'
import { cachedExposition } from '../metrics.js'
import { noRegistryMessage, type StateReadiness } from '../state/types.js'
import type { AppDependencies } from './context.js'

/** What GET /metrics requires and how often it serialises (METRICS_TOKEN, METRICS_CACHE_MS). */
export interface MetricsEndpointOptions {
  /** The bearer token a scrape must send; undefined: /metrics is open. */
  readonly token: string | undefined
  readonly cacheMs: number
}

/**
 * An onRequest hook requiring `Authorization: Bearer <token>`. The tokens are compared as SHA-256
 * digests with timingSafeEqual: equal lengths whatever was sent, and no early exit on the first
 * differing byte, so the time taken says nothing about the token.
 */
function requireMetricsToken(token: string) {
  const expected = createHash('sha256').update(token).digest()
  return function metricsTokenHook(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    const authorization = request.headers.authorization
    if (authorization === undefined || !authorization.startsWith('Bearer ')) return done(new GatewayError('token_missing', 'a bearer token is required: the metrics token (METRICS_TOKEN)'))
    const given = createHash('sha256').update(authorization.slice(7)).digest()
    done(timingSafeEqual(given, expected) ? undefined : new GatewayError('token_invalid', 'the bearer token is not the metrics token (METRICS_TOKEN)'))
  }
}

export function operationsRoutes(app: FastifyInstance, deps: AppDependencies, metricsEndpoint: MetricsEndpointOptions): void {
  app.get('/healthz', { schema: { summary: 'Alive', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }))

  const readySchema = {
    type: 'object',
    properties: {
      status: { type: 'string' },
      /** What the operator does, when that is known: a Redis without a registry. */
      reason: { type: 'string' },
      checks: { type: 'object', properties: { policy: { type: 'string' }, state: { type: 'string' }, audit: { type: 'string' }, load: { type: 'string' } } },
    },
  } as const
  app.get('/readyz', { schema: { summary: 'Ready: policies loaded, state reachable and holding a registry, audit writable, not shedding load', response: { 200: readySchema, 503: readySchema } } }, async (_request, reply) => {
    const state = deps.seeding?.active === true ? 'seeding' : await deps.store.ready().catch((): StateReadiness => 'unavailable')
    const audit = deps.ledger.writable
    const load = !deps.load.overloaded
    const ready = state === 'ok' && audit && load
    reply.code(ready ? 200 : 503)
    return {
      status: ready ? 'ready' : 'not_ready',
      ...(state === 'no_registry' ? { reason: noRegistryMessage } : {}),
      checks: { policy: deps.policy.current.revision, state, audit: audit ? 'ok' : 'unwritable', load: load ? 'ok' : 'shedding' },
    }
  })

  // Prometheus text, not JSON: documented only (a response schema would have fastify serialize it as JSON).
  const exposition = { 200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: { type: 'string' } } } } }
  const metricsText = cachedExposition(deps.metrics, deps.clock, metricsEndpoint.cacheMs)
  const onRequest = metricsEndpoint.token === undefined ? [] : [requireMetricsToken(metricsEndpoint.token)]
  app.get('/metrics', { onRequest, schema: { summary: 'Prometheus metrics' }, config: { openapi: { response: exposition, ...(metricsEndpoint.token === undefined ? {} : { securityScheme: 'metricsToken' }) } } }, async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType)
    return metricsText()
  })
}
