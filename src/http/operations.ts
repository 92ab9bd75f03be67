// Operations endpoints: /healthz (alive), /readyz (policies loaded, state reachable and holding a
// registry, audit writable),
// /metrics (Prometheus text).
import type { FastifyInstance } from 'fastify'
import { noRegistryMessage, type StateReadiness } from '../state/types.js'
import type { AppDependencies } from './context.js'

export function operationsRoutes(app: FastifyInstance, deps: AppDependencies): void {
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
  app.get('/metrics', { schema: { summary: 'Prometheus metrics' }, config: { openapi: { response: exposition } } }, async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType)
    return deps.metrics.registry.metrics()
  })
}
