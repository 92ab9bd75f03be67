// GET /v1/policy (any valid token): what the gateway enforces right now, so terminals offer only valid
// choices and operators know the agreement version.
import type { FastifyInstance } from 'fastify'
import type { PolicySet } from '../policy/compile.js'
import { requireRole, type AppDependencies } from './context.js'
import { justificationMaxLength } from './query.js'
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
        purposesByKind: { type: 'object', properties: { local: stringList, state: stringList, federal: stringList } },
        overrides: {
          type: 'array',
          items: { type: 'object', properties: { ori: { type: 'string' }, allow: stringList, deny: stringList, reason: { type: 'string' } } },
        },
        immigrationEnforcement: {
          type: 'object',
          properties: {
            definition: { type: 'string' },
            source: { type: 'string' },
            statutes: {
              type: 'array',
              items: { type: 'object', properties: { cite: { type: 'string' }, aliases: stringList, title: { type: 'string' } } },
            },
            // Each lists one agency by ORI or a whole organisation by prefix (docs/organisations.md).
            authorities: { type: 'array', items: { type: 'object', properties: { ori: { type: 'string' }, organisation: { type: 'string' }, name: { type: 'string' } } } },
            binding: { type: 'object', properties: { california: { type: 'string' }, federal: { type: 'string' } } },
          },
        },
        justification: { type: 'object', properties: { requiredOfMonitored: stringList, maxLength: { type: 'integer' } } },
        projections: {
          type: 'array',
          items: { type: 'object', properties: { id: { type: 'string' }, database: { type: 'string' }, title: { type: 'string' }, fields: stringList } },
        },
        answers: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              database: { type: 'string' },
              purposes: { ...stringList, nullable: true },
              kinds: { ...stringList, nullable: true },
              channels: { ...stringList, nullable: true },
              immigrationAuthority: { type: 'boolean', nullable: true },
              projection: { type: 'string' },
            },
          },
        },
        rules: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, citation: { type: 'string' } } } },
        limits: {
          type: 'object',
          properties: {
            perUser: { type: 'object', properties: { limit: { type: 'integer' }, windowSeconds: { type: 'integer' } } },
            perAgency: { type: 'object', properties: { limit: { type: 'integer' }, windowSeconds: { type: 'integer' } } },
            refusalBudget: { type: 'object', properties: { perMinute: { type: 'integer' } } },
          },
        },
        writtenRequests: { type: 'object', properties: { approvalSeconds: { type: 'integer' } } },
      },
    },
    '4xx': errorResponseSchema,
  },
} as const

function describe(policy: PolicySet) {
  const { agencies, immigration } = policy
  return {
    revision: policy.revision,
    agreementVersion: policy.agreementVersion,
    databases: [...policy.databases.values()],
    purposes: [...policy.purposes.values()],
    // Who may declare which purpose: by kind, then the per-agency exceptions with DOJ's reason.
    purposesByKind: agencies.purposesByKind,
    overrides: agencies.overrides,
    // What counts as immigration enforcement whatever purpose is declared, and the rule that binds.
    immigrationEnforcement: {
      definition: immigration.definition,
      source: immigration.source,
      statutes: immigration.statutes,
      authorities: [...[...agencies.immigrationOrganisations].map(([organisation, name]) => ({ organisation, name })), ...[...agencies.immigrationAuthorities].map(([ori, name]) => ({ ori, name }))],
      binding: { california: policy.citations['ppp.immigration_non_criminal'], federal: policy.federalCitations['ppp.immigration_non_criminal'] },
      // The plain-language signs and what each kind of evidence does, per agency group (docs/evidence.md).
      terms: immigration.terms,
      aNumbers: immigration.aNumbers,
      actions: immigration.actions,
    },
    justification: { requiredOfMonitored: agencies.justificationRequiredOfMonitored, maxLength: justificationMaxLength },
    // The fields each allowed query receives: the first answer that matches applies; none, whole records.
    projections: [...policy.projections.values()],
    answers: policy.answers,
    rules: Object.entries(policy.citations).map(([id, citation]) => ({ id, citation })),
    limits: policy.limits,
    writtenRequests: policy.writtenRequests,
  }
}

export function policyRoutes(app: FastifyInstance, deps: AppDependencies): void {
  // Built once per policy set, not per request.
  let described = { revision: '', body: {} as ReturnType<typeof describe> }
  app.get('/v1/policy', { schema: { ...policySchema, summary: 'What the gateway enforces right now: databases, purposes, rules, limits' }, onRequest: requireRole(deps, null) }, async () => {
    const policy = deps.policy.current
    if (described.revision !== policy.revision) described = { revision: policy.revision, body: describe(policy) }
    return described.body
  })
}
