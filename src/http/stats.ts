// GET /v1/stats/decisions (role doj_operator): this instance's decision counters since it started, as
// JSON, for the operators' console (issue 14, point 1). They are the counters /metrics prints
// (gateway_decisions_total, gateway_agency_decisions_total), read in place: no new labels, nothing
// counted twice. The console polls and differences them into block rates per rule and per agency.
import type { FastifyInstance } from 'fastify'
import { requireRole, type AppDependencies } from './context.js'
import { errorResponses } from './errors.js'

const count = { type: 'integer' } as const
const text = { type: 'string' } as const
const statsView = {
  type: 'object',
  properties: {
    at: text,
    decisions: {
      type: 'array',
      items: { type: 'object', properties: { outcome: text, rule: text, databaseClass: text, purpose: text, count } },
    },
    agencies: {
      type: 'array',
      items: { type: 'object', properties: { ori: text, outcome: text, monitored: { type: 'boolean' }, count } },
    },
  },
} as const

export function statsRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { metrics, clock } = deps
  app.get(
    '/v1/stats/decisions',
    { onRequest: requireRole(deps, 'doj_operator'), schema: { summary: 'Decision counts by rule and agency since start (for block rates)', response: { 200: statsView, ...errorResponses } } },
    async () => ({
      at: new Date(clock()).toISOString(),
      decisions: metrics.decisions.get().values.map(({ labels, value }) => ({
        outcome: labels.outcome,
        rule: labels.rule,
        databaseClass: labels.database_class,
        purpose: labels.purpose,
        count: value,
      })),
      agencies: metrics.agencyDecisions.get().values.map(({ labels, value }) => ({ ori: labels.ori, outcome: labels.outcome, monitored: labels.monitored === 'true', count: value })),
    }),
  )
}
