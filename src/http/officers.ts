// Officer sanctions (issue 12, point 4), for DOJ operators (role doj_operator): the CAC's suspension or
// removal imposed on one officer, the token's `sub` at its `ori`, instead of (or besides) the agency.
// Like every operator change it takes a reason and is audited (an `officer.change` record: operator,
// reason, before and after) before it takes effect: if the record cannot be written, nothing changes.
// The sanction binds from the officer's next query on every instance, whatever tokens the officer holds:
// the query path reads it from the store with the agency's state (one round trip), never from the token,
// so a token verified and cached before the sanction is refused as soon as the sanction call answers.
// The officer is the person, not the spelling: the path's user id is folded (NFKC, lower case) once per
// call, as a token's sub is when it is verified, so suspending `L8-OFFICER` binds `l8-officer`'s tokens.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { agencyTextLimits, oriPattern } from '../audit/record.js'
import { GatewayError } from '../errors.js'
import { foldUserId } from '../policy/identity.js'
import { officerSanctionTypes, sanctionScopes, type OfficerSanctionType, type OfficerState, type SanctionScope } from '../policy/types.js'
import { OfficerConflictError } from '../state/redis.js'
import type { BeforeCommit, OfficerChange } from '../state/types.js'
import { proposalAnswer, proposeLift } from './changes.js'
import { ownAgencyHook } from './authority.js'
import { auditedChange, requireRole, type AppDependencies } from './context.js'
import { errorResponses as errors } from './errors.js'
import { sanctionFrom, withoutLapsedSanction } from './sanctions.js'

const reason = { type: 'string', minLength: 1, maxLength: agencyTextLimits.reason } as const
const ori = { type: 'string', pattern: oriPattern.source } as const
/**
 * The officer in the path: an ORI, and a user id in any spelling a token may carry (percent-encoded
 * where a URL needs it; no control characters or spaces), folded by the handler (officerIn).
 */
const officerParams = {
  type: 'object',
  required: ['ori', 'sub'],
  properties: { ori, sub: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\x00-\\x20\\x7f-\\x9f]+$' } },
} as const

/** The path's officer with the user id folded, once per call; a spelling that folds to no user id is refused 400. */
function officerIn(params: OfficerParams): OfficerParams {
  const sub = foldUserId(params.sub)
  if (sub === null) throw new GatewayError('invalid_request', 'the user id does not fold to 1 to 128 printable ASCII characters (NFKC, lower case)', [{ path: 'sub', message: 'not a user id' }])
  return { ori: params.ori, sub }
}
const officerView = {
  type: 'object',
  properties: {
    ori: { type: 'string' },
    sub: { type: 'string' },
    sanction: {
      type: ['object', 'null'],
      properties: { type: { type: 'string' }, scope: { type: 'string' }, reason: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } },
    },
    version: { type: 'integer' },
  },
} as const

interface OfficerParams {
  ori: string
  sub: string
}

/**
 * Runs one change to an officer's sanction (auditedChange) and answers with the officer after. An
 * approved proposal (src/http/changes.ts) applies its lift here too, its id in the record's `change`.
 */
export async function officerChange(
  deps: AppDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  why: string,
  apply: (now: number, beforeCommit: BeforeCommit<OfficerChange>) => Promise<OfficerChange>,
  proposal?: string,
): Promise<OfficerState> {
  const { applied, now } = await auditedChange<OfficerChange>(
    deps,
    request,
    reply,
    (computed, id, author) => ({
      type: 'officer.change',
      id,
      ...author,
      action: computed.action,
      ori: computed.ori,
      sub: computed.sub,
      reason: why,
      before: computed.before,
      after: computed.after,
      ...(proposal === undefined ? {} : { change: proposal }),
    }),
    (error) => (error instanceof OfficerConflictError ? 'officer_conflict' : 'state_unavailable'),
    apply,
  )
  return withoutLapsedSanction(applied.after, now)
}

export function officerRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, clock } = deps
  const onRequest = requireRole(deps, 'doj_operator')

  /** An officer of a registered agency: a mistyped ORI is 404, never an officer that binds nobody. */
  async function registered(params: OfficerParams): Promise<void> {
    if ((await store.get(params.ori)) === null) throw new GatewayError('agency_not_found', `no agency is registered with ORI ${params.ori}`)
  }

  const change = (request: FastifyRequest, reply: FastifyReply, why: string, apply: (now: number, beforeCommit: BeforeCommit<OfficerChange>) => Promise<OfficerChange>) =>
    officerChange(deps, request, reply, why, apply)

  app.get<{ Querystring: { ori?: string } }>(
    '/v1/officers',
    {
      onRequest,
      schema: {
        summary: 'The officers under a sanction now',
        querystring: { type: 'object', additionalProperties: false, properties: { ori } },
        response: { 200: { type: 'array', items: officerView }, ...errors },
      },
    },
    async (request) => {
      // The officers under a sanction now: a reinstated officer, or one whose suspension lapsed, is not listed.
      const now = clock()
      return (await store.listOfficers(request.query.ori)).map((officer) => withoutLapsedSanction(officer, now)).filter((officer) => officer.sanction !== null)
    },
  )

  app.get<{ Params: OfficerParams }>('/v1/officers/:ori/:sub', { onRequest, schema: { summary: 'One officer and their sanction', params: officerParams, response: { 200: officerView, ...errors } } }, async (request) => {
    const { ori: agency, sub } = officerIn(request.params)
    await registered(request.params)
    // The gateway keeps no officer registry (the identity provider does): an officer DOJ never
    // sanctioned is simply one without a sanction, at version 0.
    const officer = (await store.getOfficer(agency, sub)) ?? { ori: agency, sub, sanction: null, version: 0 }
    return withoutLapsedSanction(officer, clock())
  })

  app.put<{ Params: OfficerParams; Body: { type: OfficerSanctionType; scope?: SanctionScope; reason: string; until?: string } }>(
    '/v1/officers/:ori/:sub/sanction',
    {
      // No operator sanctions or reinstates an officer of their own agency (src/http/authority.ts).
      onRequest: [onRequest, ownAgencyHook(deps, 'sanction an officer of')],
      schema: {
        summary: 'Impose a sanction on an officer (audited)',
        params: officerParams,
        body: {
          type: 'object',
          required: ['type', 'reason'],
          additionalProperties: false,
          properties: { type: { enum: officerSanctionTypes }, scope: { enum: sanctionScopes }, reason, until: { type: 'string', format: 'date-time' } },
        },
        response: { 200: officerView, ...errors },
      },
    },
    async (request, reply) => {
      // The same rules as an agency's sanction (src/http/sanctions.ts).
      const sanction = sanctionFrom(request.body, clock())
      const { ori: agency, sub } = officerIn(request.params)
      return change(request, reply, request.body.reason, (at, beforeCommit) => store.sanctionOfficer(agency, sub, sanction, at, beforeCommit))
    },
  )

  app.delete<{ Params: OfficerParams; Body: { reason: string } }>(
    '/v1/officers/:ori/:sub/sanction',
    {
      onRequest: [onRequest, ownAgencyHook(deps, 'reinstate an officer of')],
      schema: {
        summary: "Lift an officer's sanction (audited); 202 with a proposed change where a second DOJ operator must approve it",
        params: officerParams,
        body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason } },
        response: { 200: officerView, 202: proposalAnswer, ...errors },
      },
    },
    async (request, reply) => {
      const { ori: agency, sub } = officerIn(request.params)
      // Two-person control: a lift policy reserves for two operators is proposed here, not applied.
      const proposed = await proposeLift(deps, request, reply, { ori: agency, officer: sub, reason: request.body.reason })
      if (proposed !== null) return proposed
      return change(request, reply, request.body.reason, (now, beforeCommit) => store.reinstateOfficer(agency, sub, now, beforeCommit))
    },
  )
}
