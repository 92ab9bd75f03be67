// The admin API for DOJ operators (role doj_operator): register agencies, record and revoke agreements,
// impose and lift sanctions. Every change takes a reason and is audited (operator, reason, before and
// after) before it takes effect: if the audit record cannot be written, nothing changes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { agencyTextLimits, organisationPattern, oriPattern } from '../audit/record.js'
import { isImmigrationAuthority } from '../policy/agencies.js'
import { GatewayError } from '../errors.js'
import { agencyKinds, sanctionScopes, sanctionTypes, type AgencyKind, type AgencyState, type SanctionScope, type SanctionType } from '../policy/types.js'
import { AgencyConflictError } from '../state/redis.js'
import type { AgencyChange, BeforeCommit } from '../state/types.js'
import { proposalAnswer, proposeLift } from './changes.js'
import { ownAgencyHook } from './authority.js'
import { auditedChange, requireRole, type AppDependencies } from './context.js'
import { errorResponses as errors } from './errors.js'
import { instantOf, sanctionFrom, withoutLapsedSanction } from './sanctions.js'

/** Clock skew tolerated on a signing date that lies slightly in the future. */
const signedAtSkewMs = 5 * 60_000

// The limits and the sanction rules come from src/audit/record.ts, which holds a registry file
// (gatewayctl state import) to the same rules.
const reason = { type: 'string', minLength: 1, maxLength: agencyTextLimits.reason } as const
const oriParams = {
  type: 'object',
  required: ['ori'],
  properties: { ori: { type: 'string', pattern: oriPattern.source } },
} as const

const agreementView = {
  type: ['object', 'null'],
  properties: { version: { type: 'string' }, signedAt: { type: 'string' } },
} as const
const sanctionView = {
  type: ['object', 'null'],
  properties: {
    type: { type: 'string' },
    scope: { type: 'string' },
    reason: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    writtenRequests: { type: 'boolean' },
  },
} as const
const agencyView = {
  type: 'object',
  properties: {
    ori: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    organisation: { type: ['string', 'null'] },
    agreement: agreementView,
    sanction: sanctionView,
    monitored: { type: 'boolean' },
    version: { type: 'integer' },
  },
} as const
const reasonOnly = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason } } as const

interface OriParams {
  ori: string
}

/**
 * Runs one operator change (auditedChange) and answers with the agency after: 201 for a new one. An
 * approved proposal (src/http/changes.ts) applies its lift here too, its id in the record's `change`.
 */
export async function agencyChange(
  deps: AppDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  why: string,
  apply: (now: number, beforeCommit: BeforeCommit) => Promise<AgencyChange>,
  proposal?: string,
): Promise<AgencyState> {
  const { applied, now } = await auditedChange<AgencyChange>(
    deps,
    request,
    reply,
    (computed, id, author) => ({
      type: 'operator.change',
      id,
      ...author,
      action: computed.action,
      ori: computed.ori,
      reason: why,
      before: computed.before,
      after: computed.after,
      ...(proposal === undefined ? {} : { change: proposal }),
    }),
    (error) => (error instanceof AgencyConflictError ? 'agency_conflict' : 'state_unavailable'),
    apply,
  )
  if (applied.action === 'agency.register') reply.code(201)
  return withoutLapsedSanction(applied.after, now)
}

export function adminRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, clock } = deps
  const onRequest = requireRole(deps, 'doj_operator')
  // No operator changes their own agency (src/http/authority.ts): neither registers nor renames it, nor
  // records its agreement, nor sanctions or reinstates it.
  const changing = (doing: string) => [onRequest, ownAgencyHook(deps, doing)]
  const change = (request: FastifyRequest, reply: FastifyReply, why: string, apply: (now: number, beforeCommit: BeforeCommit) => Promise<AgencyChange>) =>
    agencyChange(deps, request, reply, why, apply)

  app.get('/v1/agencies', { onRequest, schema: { summary: 'List the registered agencies', response: { 200: { type: 'array', items: agencyView }, ...errors } } }, async () => {
    const now = clock()
    return (await store.list()).map((agency) => withoutLapsedSanction(agency, now))
  })

  app.get<{ Params: OriParams }>('/v1/agencies/:ori', { onRequest, schema: { summary: 'One agency', params: oriParams, response: { 200: agencyView, ...errors } } }, async (request) => {
    const agency = await store.get(request.params.ori)
    if (agency === null) throw new GatewayError('agency_not_found', `no agency is registered with ORI ${request.params.ori}`)
    return withoutLapsedSanction(agency, clock())
  })

  app.put<{ Params: OriParams; Body: { name: string; kind: AgencyKind; organisation?: string | null; monitored?: boolean; reason: string } }>(
    '/v1/agencies/:ori',
    {
      onRequest: changing('register or update'),
      schema: {
        summary: 'Register or update an agency (audited)',
        params: oriParams,
        body: {
          type: 'object',
          required: ['name', 'kind', 'reason'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: agencyTextLimits.name },
            kind: { enum: agencyKinds },
            // Where the agency sits, e.g. DHS/ICE/HSI (docs/organisations.md); null: none. Left out, an
            // update keeps the one registered.
            organisation: { type: ['string', 'null'], minLength: 1, maxLength: agencyTextLimits.organisation, pattern: organisationPattern.source },
            monitored: { type: 'boolean' },
            reason,
          },
        },
        response: { 200: agencyView, 201: agencyView, ...errors },
      },
    },
    async (request, reply) => {
      const { name, kind, monitored, reason: why } = request.body
      const ori = request.params.ori
      const current = monitored === undefined || request.body.organisation === undefined ? await store.get(ori) : null
      const organisation = request.body.organisation === undefined ? (current?.organisation ?? null) : request.body.organisation
      // EFF asked DOJ to monitor each transaction by ICE, CBP and other DHS components: an agency the
      // policies hold to be an immigration authority (by ORI or organisation) is monitored unless the
      // operator says otherwise, when it is registered and when an update makes it one. Any other
      // update keeps the monitoring the agency had (an operator's choice for that ORI stays).
      const authorities = deps.policy.current.agencies
      const authority = isImmigrationAuthority(authorities, ori, { organisation }) !== null
      const becameAuthority = authority && (current === null || isImmigrationAuthority(authorities, ori, current) === null)
      const registration = { name, kind, organisation, monitored: monitored ?? (becameAuthority ? true : (current?.monitored ?? authority)) }
      return change(request, reply, why, (now, beforeCommit) => store.register(ori, registration, now, beforeCommit))
    },
  )

  app.put<{ Params: OriParams; Body: { version: string; signedAt: string; reason: string } }>(
    '/v1/agencies/:ori/agreement',
    {
      onRequest: changing('record the agreement of'),
      schema: {
        summary: "Record the agency's signed agreement (audited)",
        params: oriParams,
        body: {
          type: 'object',
          required: ['version', 'signedAt', 'reason'],
          additionalProperties: false,
          properties: { version: { type: 'string', minLength: 1, maxLength: agencyTextLimits.agreementVersion }, signedAt: { type: 'string', format: 'date-time' }, reason },
        },
        response: { 200: agencyView, ...errors },
      },
    },
    async (request, reply) => {
      const { version, signedAt, reason: why } = request.body
      const signed = instantOf(signedAt, 'signedAt')
      if (signed > clock() + signedAtSkewMs) {
        throw new GatewayError('invalid_agreement', 'an agreement cannot be signed in the future', [{ path: 'signedAt', message: 'must not be in the future' }])
      }
      const agreement = { version, signedAt: new Date(signed).toISOString() }
      return change(request, reply, why, (now, beforeCommit) => store.recordAgreement(request.params.ori, agreement, now, beforeCommit))
    },
  )

  app.delete<{ Params: OriParams; Body: { reason: string } }>(
    '/v1/agencies/:ori/agreement',
    { onRequest: changing('revoke the agreement of'), schema: { summary: "Revoke the agency's agreement (audited)", params: oriParams, body: reasonOnly, response: { 200: agencyView, ...errors } } },
    async (request, reply) =>
      change(request, reply, request.body.reason, (now, beforeCommit) => store.revokeAgreement(request.params.ori, now, beforeCommit)),
  )

  app.put<{ Params: OriParams; Body: { type: SanctionType; scope?: SanctionScope; reason: string; until?: string; writtenRequests?: boolean } }>(
    '/v1/agencies/:ori/sanction',
    {
      onRequest: changing('impose a sanction on'),
      schema: {
        summary: 'Impose a sanction on the agency (audited)',
        params: oriParams,
        body: {
          type: 'object',
          required: ['type', 'reason'],
          additionalProperties: false,
          properties: {
            type: { enum: sanctionTypes },
            scope: { enum: sanctionScopes },
            reason,
            until: { type: 'string', format: 'date-time' },
            // Issue 12, point 5: the agency may then query only through written requests.
            writtenRequests: { type: 'boolean' },
          },
        },
        response: { 200: agencyView, ...errors },
      },
    },
    async (request, reply) => {
      const sanction = sanctionFrom(request.body, clock())
      return change(request, reply, request.body.reason, (at, beforeCommit) => store.impose(request.params.ori, sanction, at, beforeCommit))
    },
  )

  app.delete<{ Params: OriParams; Body: { reason: string } }>(
    '/v1/agencies/:ori/sanction',
    {
      onRequest: changing('lift the sanction of'),
      schema: {
        summary: "Lift the agency's sanction (audited); 202 with a proposed change where a second DOJ operator must approve it",
        params: oriParams,
        body: reasonOnly,
        response: { 200: agencyView, 202: proposalAnswer, ...errors },
      },
    },
    async (request, reply) => {
      const { ori } = request.params
      // Two-person control: a lift policy reserves for two operators is proposed here, not applied.
      const proposed = await proposeLift(deps, request, reply, { ori, reason: request.body.reason })
      if (proposed !== null) return proposed
      return change(request, reply, request.body.reason, (now, beforeCommit) => store.reinstate(ori, now, beforeCommit))
    },
  )
}
