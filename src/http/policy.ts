// GET /v1/policy (any valid token): what the gateway enforces right now, so terminals offer only valid
// choices and operators know the agreement version.
import type { FastifyInstance } from 'fastify'
import type { PolicySet } from '../policy/compile.js'
import { requireRole, type AppDependencies } from './context.js'
import { errorResponseSchema } from './errors.js'

const stringList = { type: 'array', items: { type: 'string' } } as const
const policySchema = {
  response: {
    200: {
      type: 'object',
      properties: {
        revision: { type: 'string' },
        agreementVersion: { type: 'string' },
        databases: {
          type: 'array',
          items: { type: 'object', properties: { id: { type: 'string' }, class: { type: 'string' }, title: { type: 'string' }, lookups: { type: 'array', items: stringList } } },
        },
        purposes: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              title: { type: 'string' },
              code: { type: 'string' },
              immigration: { type: 'boolean' },
              reaches: stringList,
              caseNumber: { type: 'string' },
              citation: { type: 'string' },
            },
          },
        },
        limits: {
          type: 'object',
          properties: {
            perUser: { type: 'object', properties: { limit: { type: 'integer' }, windowSeconds: { type: 'integer' } } },
            perAgency: { type: 'object', properties: { limit: { type: 'integer' }, windowSeconds: { type: 'integer' } } },
          },
        },
      },
    },
    '4xx': errorResponseSchema,
  },
} as const

function describe(policy: PolicySet) {
  return {
    revision: policy.revision,
    agreementVersion: policy.agreementVersion,
    databases: [...policy.databases.values()],
    purposes: [...policy.purposes.values()],
    limits: policy.limits,
  }
}

export function policyRoutes(app: FastifyInstance, deps: AppDependencies): void {
  // Built once per policy set, not per request.
  let described = { revision: '', body: {} as ReturnType<typeof describe> }
  app.get('/v1/policy', { schema: policySchema, onRequest: requireRole(deps, null) }, async () => {
    const policy = deps.policy.current
    if (described.revision !== policy.revision) described = { revision: policy.revision, body: describe(policy) }
    return described.body
  })
}
