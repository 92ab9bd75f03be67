// Two-person control (policies/authority.yaml, dualControl; docs/dual-control.md). Lifting a removal (or
// a suspension), where the policy says so, takes two DOJ operators: the lift route answers 202 with a
// proposed change and changes nothing else; a different operator approves it here, and the lift is then
// applied through the same code as a direct one (agencyChange, officerChange: the same operator.change
// or officer.change record, naming the proposal).
//
//   DELETE /v1/agencies/:ori/sanction, DELETE /v1/officers/:ori/:sub/sanction   202 { change }
//   GET  /v1/changes[?status]          the proposals (pending ones unless told)
//   GET  /v1/changes/:id
//   POST /v1/changes/:id/approve       { reason }   a DOJ operator other than the proposer
//   POST /v1/changes/:id/cancel        { reason }   any DOJ operator: the sanction stays
//
// Each step is a ledger record written before it applies (change.proposed, change.approved,
// change.cancelled; operator.failed when the store then did not apply it). An approval first claims the
// proposal (compare-and-set on its version, so of two approvals on any instances exactly one goes on),
// then lifts the sanction only if it is still the one proposed (checked on the state the store's write
// compares, so nothing can slip in between); a lift that does not apply lets the claim go.
import { foldUserId } from '../policy/identity.js'
import { forbidOwnAgency } from './authority.js'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { agencyTextLimits } from '../audit/record.js'
import { GatewayError } from '../errors.js'
import type { Sanction } from '../policy/types.js'
import { storedProposalStatuses, type BeforeCommit, type ProposalOperator, type ProposedAction, type ProposedChange } from '../state/types.js'
import { agencyChange } from './admin.js'
import { requireRole, sourceOf, type AppDependencies } from './context.js'
import { errorResponses as errors, toGatewayError } from './errors.js'
import { officerChange } from './officers.js'
import { withoutLapsedSanction } from './sanctions.js'

/** Statuses a proposal shows: the stored ones, and `expired` for one not approved in time. */
export const proposalStatuses = [...storedProposalStatuses, 'expired'] as const
export type ProposalStatus = (typeof proposalStatuses)[number]

const iso = (ms: number) => new Date(ms).toISOString()
const uuid = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: uuid } } } as const
const reasonBody = {
  type: 'object',
  required: ['reason'],
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: agencyTextLimits.reason } },
} as const
const operatorView = { type: ['object', 'null'], properties: { operator: { type: 'string' }, operatorOri: { type: 'string' } } } as const
const nullableString = { type: ['string', 'null'] } as const
export const proposalView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    action: { type: 'string' },
    ori: { type: 'string' },
    officer: { type: 'string' },
    reason: { type: 'string' },
    sanction: {
      type: 'object',
      properties: { type: { type: 'string' }, scope: { type: 'string' }, reason: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, writtenRequests: { type: 'boolean' } },
    },
    proposedBy: operatorView,
    proposedAt: { type: 'string' },
    expiresAt: { type: 'string' },
    status: { type: 'string' },
    decidedBy: operatorView,
    decidedAt: nullableString,
    decisionReason: nullableString,
    version: { type: 'integer' },
  },
} as const
/** The 202 of a lift that awaits a second operator. */
export const proposalAnswer = { type: 'object', properties: { change: proposalView } } as const
/** An approval's answer: the proposal as applied, and the agency's or the officer's state after the lift. */
const approvalAnswer = { type: 'object', properties: { change: proposalView, agency: { type: 'object', additionalProperties: true }, officer: { type: 'object', additionalProperties: true } } } as const

/** The status a proposal shows at `now`: a pending one past its time is `expired`. */
export function proposalStatusAt(change: ProposedChange, now: number): ProposalStatus {
  if (change.status === 'pending' && now >= Date.parse(change.expiresAt)) return 'expired'
  return change.status
}

function viewOf(change: ProposedChange, now: number) {
  return { ...change, status: proposalStatusAt(change, now) }
}

/**
 * One person, however the token spells them: the same sub (compared after Unicode NFKC and case
 * folding, so `DOJ-OP-1` cannot approve what `doj-op-1` proposed) at the same ORI.
 */
function samePerson(left: ProposalOperator, right: ProposalOperator): boolean {
  const fold = (sub: string) => foldUserId(sub) ?? sub
  return left.operatorOri === right.operatorOri && fold(left.operator) === fold(right.operator)
}

/** Whether two sanctions are the same one: the same terms, imposed at the same time. */
function sameSanction(left: Sanction | null | undefined, right: Sanction): boolean {
  return (
    left !== null &&
    left !== undefined &&
    left.type === right.type &&
    left.scope === right.scope &&
    left.reason === right.reason &&
    left.since === right.since &&
    left.until === right.until &&
    (left.writtenRequests ?? false) === (right.writtenRequests ?? false)
  )
}

/** The lift `target` asks for, as the route names it. */
export interface LiftTarget {
  readonly ori: string
  /** The officer's sub, for an officer's sanction. */
  readonly officer?: string | undefined
  readonly reason: string
}

/** The sanction the target holds now, or null (none, a lapsed suspension, an unregistered agency). */
async function sanctionInForce(deps: AppDependencies, target: { readonly ori: string; readonly officer?: string | undefined }, now: number): Promise<Sanction | null> {
  const state = target.officer === undefined ? await deps.store.get(target.ori) : await deps.store.getOfficer(target.ori, target.officer)
  return state === null ? null : withoutLapsedSanction(state, now).sanction
}

/**
 * Where the policy reserves this lift for two operators, proposes it (audited, stored, answered 202
 * `{ change }`) and returns the answer; otherwise null, and the route lifts at once as it always did.
 * A censure, a lapsed suspension, no sanction at all (an audited no-op) or an unregistered agency (404)
 * take the direct path.
 */
export async function proposeLift(deps: AppDependencies, request: FastifyRequest, reply: FastifyReply, target: LiftTarget): Promise<{ change: ReturnType<typeof viewOf> } | null> {
  const { dualControl } = deps.policy.current.authority
  if (!dualControl.liftRemoval && !dualControl.liftSuspension) return null
  const now = deps.clock()
  const sanction = await sanctionInForce(deps, target, now)
  const reserved = sanction !== null && ((sanction.type === 'removal' && dualControl.liftRemoval) || (sanction.type === 'suspension' && dualControl.liftSuspension))
  if (!reserved) return null

  const identity = request.identity!
  const action: ProposedAction = target.officer === undefined ? 'sanction.lift' : 'officer.sanction.lift'
  const proposal: ProposedChange = {
    id: randomUUID(),
    action,
    ori: target.ori,
    ...(target.officer === undefined ? {} : { officer: target.officer }),
    reason: target.reason,
    sanction,
    proposedBy: { operator: identity.sub, operatorOri: identity.ori },
    proposedAt: iso(now),
    expiresAt: iso(now + dualControl.pendingSeconds * 1000),
    status: 'pending',
    decidedBy: null,
    decidedAt: null,
    decisionReason: null,
    version: 1,
  }
  await deps.ledger.append(
    {
      type: 'change.proposed',
      id: proposal.id,
      operator: identity.sub,
      operatorOri: identity.ori,
      source: sourceOf(request),
      action,
      ori: target.ori,
      ...(target.officer === undefined ? {} : { sub: target.officer }),
      reason: target.reason,
      sanction,
      expiresAt: proposal.expiresAt,
    },
    now,
  )
  // A new UUID is never stored already; if it were, the proposal did not apply.
  await saveAudited(deps, proposal.id, proposal, 0, now, new GatewayError('internal_error', 'a proposed change with this id exists already'))
  deps.metrics.operatorChanges.labels('change.propose').inc()
  request.log.info({ operator: identity.sub, ori: target.ori, action: 'change.propose', change: proposal.id }, 'operator change proposed')
  reply.header('x-audit-id', proposal.id)
  reply.code(202)
  return { change: viewOf(proposal, now) }
}

/** Saves a proposal step the ledger already holds (record `auditId`); one the store does not apply is recorded as failed. */
async function saveAudited(deps: AppDependencies, auditId: string, after: ProposedChange, expectedVersion: number, now: number, conflict: GatewayError): Promise<void> {
  const failed = (code: string) => void deps.ledger.append({ type: 'operator.failed', id: auditId, code }, deps.clock()).catch(() => undefined)
  let saved: boolean
  try {
    saved = await deps.store.saveProposal(after, expectedVersion, now)
  } catch (error) {
    failed('state_unavailable')
    throw error
  }
  if (!saved) {
    failed(conflict.code)
    throw conflict
  }
}

interface IdParams {
  id: string
}

export function changeRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, ledger, clock } = deps
  const onRequest = requireRole(deps, 'doj_operator')

  async function found(id: string): Promise<ProposedChange> {
    const proposal = await store.getProposal(id)
    if (proposal === null) throw new GatewayError('change_not_found', `no proposed change ${id}`)
    return proposal
  }

  /** A pending proposal at `now`, or the refusal: 410 when it lapsed, 409 when it was decided. */
  function stillPending(proposal: ProposedChange, now: number): void {
    const status = proposalStatusAt(proposal, now)
    if (status === 'expired') throw new GatewayError('change_expired', `proposed change ${proposal.id} lapsed unapproved on ${proposal.expiresAt}; propose it again if it is still needed`)
    if (status !== 'pending') {
      const by = proposal.decidedBy === null ? '' : ` by ${proposal.decidedBy.operator} (${proposal.decidedBy.operatorOri})`
      throw new GatewayError('change_not_pending', `proposed change ${proposal.id} was ${status}${by} on ${proposal.decidedAt ?? 'an earlier call'}`)
    }
  }

  /** The record fields naming a proposal's target. */
  const targetOf = (proposal: ProposedChange) => ({ action: proposal.action, ori: proposal.ori, ...(proposal.officer === undefined ? {} : { sub: proposal.officer }) })

  app.get<{ Querystring: { status?: ProposalStatus | 'all' } }>(
    '/v1/changes',
    {
      onRequest,
      schema: {
        summary: 'Proposed changes awaiting a second DOJ operator (pending ones unless told; newest first)',
        querystring: { type: 'object', additionalProperties: false, properties: { status: { enum: [...proposalStatuses, 'all'] } } },
        response: { 200: { type: 'array', items: proposalView }, ...errors },
      },
    },
    async (request) => {
      const wanted = request.query.status ?? 'pending'
      const now = clock()
      const views = (await store.listProposals()).map((proposal) => viewOf(proposal, now))
      return wanted === 'all' ? views : views.filter((view) => view.status === wanted)
    },
  )

  app.get<{ Params: IdParams }>('/v1/changes/:id', { onRequest, schema: { summary: 'One proposed change', params: idParams, response: { 200: proposalView, ...errors } } }, async (request) =>
    viewOf(await found(request.params.id), clock()),
  )

  /**
   * The pending proposal a decision (approve, cancel) is about, the operator deciding and the time it is
   * judged at; refused when it is not pending, or (audited) when it concerns the operator's own agency:
   * no operator decides a change to their own agency, approving it no more than proposing it.
   */
  async function decidable(request: FastifyRequest<{ Params: IdParams }>, reply: FastifyReply, doing: string) {
    const identity = request.identity!
    const operator: ProposalOperator = { operator: identity.sub, operatorOri: identity.ori }
    const current = await found(request.params.id)
    const now = clock()
    stillPending(current, now)
    await forbidOwnAgency(deps, request, reply, [current.ori], doing)
    return { operator, current, now }
  }

  app.post<{ Params: IdParams; Body: { reason: string } }>(
    '/v1/changes/:id/approve',
    {
      onRequest,
      schema: {
        summary: 'Approve a proposed change as a second DOJ operator: the lift applies (audited)',
        params: idParams,
        body: reasonBody,
        response: { 200: approvalAnswer, ...errors },
      },
    },
    async (request, reply) => {
      const { operator: approver, current, now } = await decidable(request, reply, 'approve a change to')
      if (samePerson(current.proposedBy, approver)) {
        throw new GatewayError('change_self_approval', `proposed change ${current.id} was proposed by ${current.proposedBy.operator} (${current.proposedBy.operatorOri}); a different DOJ operator approves it`)
      }
      // The sanction it would lift must still be the one in force: one lifted or replaced meanwhile
      // (another approval, a new sanction) is not what the proposer and the approver agreed to end.
      const stale = () => new GatewayError('change_stale', `the sanction proposed change ${current.id} would lift (${current.sanction.type} since ${current.sanction.since}) is no longer the one in force; propose it again if it is still needed`)
      if (!sameSanction(await sanctionInForce(deps, current, now), current.sanction)) throw stale()

      const approvalId = randomUUID()
      await ledger.append({ type: 'change.approved', id: approvalId, change: current.id, ...targetOf(current), ...approver, source: sourceOf(request), reason: request.body.reason }, now)
      // The claim: from here this approval alone applies the proposal, on whichever instance.
      const claimed: ProposedChange = { ...current, status: 'applied', decidedBy: approver, decidedAt: iso(now), decisionReason: request.body.reason, version: current.version + 1 }
      await saveAudited(deps, approvalId, claimed, current.version, now, new GatewayError('change_not_pending', `another operator decided proposed change ${current.id} meanwhile`))

      /** Lifts only the sanction proposed: checked on the state the store's write compares, before the lift's record. */
      function guarded<C extends { readonly before: { readonly sanction: Sanction | null } | null }>(beforeCommit: BeforeCommit<C>): BeforeCommit<C> {
        return async (computed) => {
          if (!sameSanction(computed.before?.sanction, current.sanction)) throw stale()
          await beforeCommit(computed)
        }
      }
      try {
        const lifted =
          current.officer === undefined
            ? { agency: await agencyChange(deps, request, reply, current.reason, (at, beforeCommit) => store.reinstate(current.ori, at, guarded(beforeCommit)), current.id) }
            : { officer: await officerChange(deps, request, reply, current.reason, (at, beforeCommit) => store.reinstateOfficer(current.ori, current.officer!, at, guarded(beforeCommit)), current.id) }
        deps.metrics.operatorChanges.labels('change.approve').inc()
        request.log.info({ operator: approver.operator, ori: current.ori, action: 'change.approve', change: current.id, auditId: approvalId }, 'proposed change approved')
        return { change: viewOf(claimed, now), ...lifted }
      } catch (error) {
        // The lift did not apply: the claim is let go (the proposal is pending again) and the approval recorded as failed.
        await store.saveProposal({ ...current, version: claimed.version + 1 }, claimed.version, clock()).catch(() => false)
        void ledger.append({ type: 'operator.failed', id: approvalId, code: toGatewayError(error).code }, clock()).catch(() => undefined)
        throw error
      }
    },
  )

  app.post<{ Params: IdParams; Body: { reason: string } }>(
    '/v1/changes/:id/cancel',
    {
      onRequest,
      schema: { summary: 'Cancel a pending proposed change: the sanction stays (audited)', params: idParams, body: reasonBody, response: { 200: proposalView, ...errors } },
    },
    async (request, reply) => {
      const { operator, current, now } = await decidable(request, reply, 'cancel a change to')
      const auditId = randomUUID()
      await ledger.append({ type: 'change.cancelled', id: auditId, change: current.id, ...targetOf(current), ...operator, source: sourceOf(request), reason: request.body.reason }, now)
      const cancelled: ProposedChange = { ...current, status: 'cancelled', decidedBy: operator, decidedAt: iso(now), decisionReason: request.body.reason, version: current.version + 1 }
      await saveAudited(deps, auditId, cancelled, current.version, now, new GatewayError('change_not_pending', `another operator decided proposed change ${current.id} meanwhile`))
      deps.metrics.operatorChanges.labels('change.cancel').inc()
      request.log.info({ operator: operator.operator, ori: current.ori, action: 'change.cancel', change: current.id, auditId }, 'proposed change cancelled')
      reply.header('x-audit-id', auditId)
      return viewOf(cancelled, now)
    },
  )
}
