// Issue 12, point 5: written requests. EFF asked DOJ to require criminal-history requests "in writing
// instead of through CLETS" (docs/facts.md). A sanction with writtenRequests denies the agency's
// terminal queries (agency.written_request_required); the agency files its request here instead, DOJ
// approves or refuses it, and the agency retrieves an approved request's records once.
//
//   POST /v1/requests                 (terminal)       file: decided by the policy at once, stored pending
//   GET  /v1/requests[?status&ori]    (operator: all; terminal: its agency's)
//   GET  /v1/requests/:id             (operator; terminal of the requesting agency)
//   POST /v1/requests/:id/approve     (doj_operator)   { reason, retriever? }
//   POST /v1/requests/:id/refuse      (doj_operator)   { reason }
//   GET  /v1/requests/:id/result      (the filing officer, or the retriever DOJ named): the records, once; then 410
//
// The records are the person's, not the agency's: only the officer who filed the request retrieves
// them, or the officer of the same agency the approval names (`retriever`); a colleague is refused 403
// request_not_yours and nothing changes. Officers are compared by their folded user ids (NFKC, lower
// case: docs/identity.md). At execution the filer's, the retriever's and the agency's sanctions all
// apply. An approval holds for limits.yaml's writtenRequests.approvalSeconds (a week as shipped).
//
// The gateway executes an approved request when the agency first retrieves it, not when DOJ approves
// it: no database answer is ever stored (nothing to lose on a restart, nothing to expire, no personal
// records at rest), and the policy is applied to the agency's state at the moment the data goes out. A
// retrieval first claims the request (compare-and-set, so two retrievals on any instances cannot both
// run it), then evaluates, queries the database and records the step before it answers. A database
// failure lets the claim go (the agency retries); a retrieval that died lets go when its claim lapses.
// Every step is a ledger record written before it applies (request.filed, .approved, .refused,
// .executed, .delivered; .failed when the store then did not apply it). Subjects go to the ledger and
// the store only: never to logs or metric labels.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { agencyTextLimits, oriPattern, type RequestExecutedEvent } from '../audit/record.js'
import { GatewayError } from '../errors.js'
import { evaluate } from '../policy/evaluate.js'
import { foldUserId } from '../policy/identity.js'
import type { PolicySet } from '../policy/compile.js'
import type { EvaluatedQuery } from '../policy/evaluate.js'
import { fullProjectionId, type AgencyState, type Decision, type OfficerSanction } from '../policy/types.js'
import { maxPendingRequests, officerKey, StateUnavailableError, storedRequestStatuses, type RequestRequester, type WrittenRequest } from '../state/types.js'
import { forbidOwnAgency } from './authority.js'
import { holdsRole, refuseAudited, requesterOf, requireRole, sourceOf, type AppDependencies } from './context.js'
import { freeText, otherAgency, resolveQuery } from './query.js'
import { errorResponseSchema, errorResponses as errors } from './errors.js'

/** How long a retrieval holds a request: longer than any database forward (UPSTREAM_TIMEOUT_MS). */
export const retrievalClaimMs = 120_000
/** The longest justification: a paragraph or two, like the reason on a written request form. */
export const justificationMaxLength = 2000

/** Statuses a request shows: the stored ones, and `expired` for an approval not used in time. */
export const requestStatuses = [...storedRequestStatuses, 'expired'] as const
export type RequestStatus = (typeof requestStatuses)[number]

interface FileBody {
  database: string
  purpose: string
  subject: Record<string, string>
  caseNumber?: string
  justification: string
  requester: RequestRequester
}

interface IdParams {
  id: string
}

interface DecideBody {
  reason: string
  /** Approve only: the officer who may retrieve the records besides the filer. */
  retriever?: string
}

const uuid = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: uuid } } } as const
/** A requester's name or title: free text an operator reads, refused with control characters as a query's justification is. */
const shortText = freeText(agencyTextLimits.name)
/** A user id in any spelling a token may carry (no control characters or spaces); folded by the handler. */
const userIdSpelling = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\x00-\\x20\\x7f-\\x9f]+$' } as const

const fileBodySchema = {
  type: 'object',
  required: ['database', 'purpose', 'subject', 'justification', 'requester'],
  additionalProperties: false,
  properties: {
    // The query's own fields, held to the limits POST /v1/query holds them to (src/http/query.ts).
    database: { type: 'string', minLength: 1, maxLength: 64 },
    purpose: { type: 'string', minLength: 1, maxLength: 64 },
    subject: { type: 'object', maxProperties: 8 },
    caseNumber: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9][A-Za-z0-9 ./#:-]*$' },
    // Why the agency needs it: bounded, a visible character first, and no control characters (the
    // same rule as a query's justification; DOJ reads it in the console, `gatewayctl requests` prints it).
    justification: freeText(justificationMaxLength),
    requester: {
      type: 'object',
      additionalProperties: false,
      properties: { name: shortText, title: shortText, ori: { type: 'string', pattern: oriPattern.source } },
    },
  },
} as const

const nullableString = { type: ['string', 'null'] } as const
const requestView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    ori: { type: 'string' },
    sub: { type: 'string' },
    officer: { type: 'string' },
    terminal: nullableString,
    database: { type: 'string' },
    purpose: { type: 'string' },
    subject: { type: 'object', additionalProperties: { type: 'string' } },
    caseNumber: nullableString,
    justification: { type: 'string' },
    requester: { type: 'object', properties: { name: { type: 'string' }, title: { type: 'string' }, ori: { type: 'string' } } },
    status: { type: 'string' },
    filedAt: { type: 'string' },
    decidedAt: nullableString,
    decidedBy: nullableString,
    decisionReason: nullableString,
    retriever: nullableString,
    approvalExpiresAt: nullableString,
    executedAt: nullableString,
    version: { type: 'integer' },
  },
} as const
const decisionSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, outcome: { type: 'string' }, rule: { type: 'string' }, reason: { type: 'string' }, citation: { type: 'string' } },
} as const
/** A 403 is a policy denial or a wrong role; a 429 a rate limit: one schema with both members (see query.ts). */
const deniedOrError = { type: 'object', properties: { decision: decisionSchema, ...errorResponseSchema.properties } } as const

/** The status a request shows at `now`: an approval past its validity is `expired`. */
export function requestStatusAt(request: WrittenRequest, now: number): RequestStatus {
  if (request.status === 'approved' && request.approvalExpiresAt !== null && now >= Date.parse(request.approvalExpiresAt)) return 'expired'
  return request.status
}

/** The filing officer's folded user id (folded here for a request filed before it was stored). */
export function filerOf(request: WrittenRequest): string {
  return request.officer ?? foldUserId(request.sub) ?? request.sub
}

/** What operators and the requesting agency see: the request without its retrieval claim, with who may retrieve it. */
function viewOf(request: WrittenRequest, now: number) {
  const { claimedUntil: _claim, ...shown } = request
  return { ...shown, officer: filerOf(request), retriever: request.retriever ?? null, status: requestStatusAt(request, now) }
}

const iso = (ms: number) => new Date(ms).toISOString()

function denial(id: string, decision: Decision) {
  return { decision: { id, outcome: decision.outcome, rule: decision.rule, reason: decision.reason, citation: decision.citation } }
}

/**
 * The policy's decision on executing a request: as a query by the filing officer (their sanction, the
 * agency's), then, if that allows it and another officer retrieves, as one by the retriever. A denial
 * for the filer's sanction says it is the filer's.
 */
function executionDecision(policy: PolicySet, query: EvaluatedQuery, agency: AgencyState | null, now: number, filer: OfficerSanction | null, retriever: OfficerSanction | null, filedBy: string): Decision {
  const asFiled = evaluate(policy, query, agency, now, filer)
  if (asFiled.outcome === 'deny') {
    return asFiled.rule === 'officer.suspended' ? { ...asFiled, reason: `The officer who filed this request (${filedBy}) may no longer receive it: ${asFiled.reason}` } : asFiled
  }
  return retriever === null ? asFiled : evaluate(policy, query, agency, now, retriever)
}

export function requestRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, ledger, upstreams, clock } = deps
  const asTerminal = requireRole(deps, 'terminal')
  const asOperator = requireRole(deps, 'doj_operator')
  // Reading takes either role; the handler scopes a terminal to its own agency.
  const asAnyRole = requireRole(deps, null)

  /**
   * True when the token may see every agency's requests (a DOJ operator of a DOJ ORI); a terminal sees
   * its agency's; else 403. A doj_operator role on a token of another ORI is not honoured: with the
   * terminal role too, the token sees its agency's; without it, it is refused and the refusal audited.
   */
  async function seesAll(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const identity = request.identity!
    if (holdsRole(deps, identity, 'doj_operator')) return true
    if (identity.roles.includes('terminal')) return false
    const refusal = new GatewayError('role_forbidden', 'this endpoint needs the role terminal, or doj_operator on a token of a DOJ ORI')
    if (!identity.roles.includes('doj_operator')) throw refusal
    throw await refuseAudited(deps, request, reply, 'doj_operator', refusal as GatewayError & { code: 'role_forbidden' })
  }

  /** The request if this token may see it; another agency's request is "not found", never "forbidden". */
  async function visibleRequest(request: FastifyRequest<{ Params: IdParams }>, all: boolean): Promise<WrittenRequest> {
    const found = await store.getRequest(request.params.id)
    if (found === null || (!all && found.ori !== request.identity!.ori)) throw new GatewayError('request_not_found', `no written request ${request.params.id}${all ? '' : ' for this agency'}`)
    return found
  }

  /** Records that an audited step did not apply; not waited for (the answer is an error either way). */
  function failed(id: string, code: string): void {
    void ledger.append({ type: 'request.failed', id, code }, clock()).catch(() => undefined)
  }

  /** Saves a transition the ledger already holds; a store that does not apply it is recorded as failed. */
  async function apply(auditId: string, after: WrittenRequest, expectedVersion: number, now: number, conflict: GatewayError): Promise<void> {
    let saved: boolean
    try {
      saved = await store.saveRequest(after, expectedVersion, now)
    } catch (error) {
      failed(auditId, 'state_unavailable')
      throw error
    }
    if (!saved) {
      failed(auditId, conflict.code)
      throw conflict
    }
  }

  app.post<{ Body: FileBody }>(
    '/v1/requests',
    { onRequest: asTerminal, schema: { summary: 'File a written request (agencies under the written-requests measure)', body: fileBodySchema, response: { 201: requestView, 403: deniedOrError, 429: deniedOrError, ...errors } } },
    async (request, reply) => {
      const identity = request.identity!
      const body = request.body
      const policy = deps.policy.current
      // Validated as a query is: ids from the policies, the database's own lookups.
      const { database, purpose } = resolveQuery(policy, body)

      // The agency's state and the rate limits in one round trip, as for a query: filing counts against
      // the officer's and the agency's allowance, and a Redis without a registry is refused (503).
      // The agency it is filed on behalf of, as the registry holds it (an immigration authority by its
      // organisation; an unregistered ORI is evidence), read beside the admission.
      const [admission, onBehalfOfAgency] = await Promise.all([store.admit(identity.ori, officerKey(identity.ori, identity.officer), policy.limits, clock()), otherAgency(store, body.requester?.ori, identity.ori)])
      const now = admission.now
      const agency = admission.agency
      // The policy decides the filing as it will decide the execution: a request the PPP forbids (an
      // immigration request on DMV data, criminal history for a purpose that does not reach it, an
      // agency without the agreement or removed) is refused now, recorded, and never reaches DOJ.
      // The justification counts as a query's does (a monitored agency states why), and a request made
      // for another agency is judged as a query on its behalf (an immigration authority: point 3).
      let decision = evaluate(policy, { database, purpose, caseNumber: body.caseNumber, justification: body.justification, onBehalfOf: body.requester?.ori, onBehalfOfAgency, writtenRequest: true }, agency, now, admission.officer)
      let limited = false
      if (decision.outcome === 'allow' && admission.rate.limited !== null) {
        const user = admission.rate.limited === 'rate.user'
        const limit = user ? policy.limits.perUser : policy.limits.perAgency
        decision = {
          outcome: 'deny',
          rule: admission.rate.limited,
          reason: `Rate limit exceeded: more than ${limit.limit} queries and requests in ${limit.windowSeconds} s ${user ? 'by this officer' : 'by this agency'}; retry in ${admission.rate.retryAfterSeconds} s.`,
          citation: 'policies/limits.yaml',
        }
        limited = true
      }
      if (decision.outcome === 'allow' && (await store.pendingRequests(identity.ori)) >= maxPendingRequests) {
        throw new GatewayError('pending_requests_limit', `the agency has ${maxPendingRequests} written requests pending; DOJ must decide some before it files more`)
      }

      const id = randomUUID()
      const requester: RequestRequester = {
        ...(body.requester.name === undefined ? {} : { name: body.requester.name }),
        ...(body.requester.title === undefined ? {} : { title: body.requester.title }),
        ...(body.requester.ori === undefined ? {} : { ori: body.requester.ori }),
      }
      const caseNumber = body.caseNumber ?? null
      await ledger.append(
        {
          type: 'request.filed',
          id,
          ...requesterOf(request, identity),
          database: database.id,
          databaseClass: database.class,
          purpose: purpose.id,
          caseNumber,
          subject: body.subject,
          justification: body.justification,
          requester,
          outcome: decision.outcome === 'allow' ? 'pending' : 'deny',
          rule: decision.rule,
          policyRevision: policy.revision,
          agencyVersion: agency?.version ?? null,
          monitored: agency?.monitored ?? false,
        },
        now,
      )
      reply.header('x-audit-id', id)
      if (decision.outcome === 'deny') {
        if (limited) reply.header('retry-after', admission.rate.retryAfterSeconds)
        reply.code(limited ? 429 : 403)
        return denial(id, decision)
      }

      const filed: WrittenRequest = {
        id,
        ori: identity.ori,
        sub: identity.sub,
        officer: identity.officer,
        terminal: identity.terminal,
        database: database.id,
        purpose: purpose.id,
        subject: body.subject,
        caseNumber,
        justification: body.justification,
        requester,
        status: 'pending',
        filedAt: iso(now),
        decidedAt: null,
        decidedBy: null,
        decisionReason: null,
        retriever: null,
        approvalExpiresAt: null,
        claimedUntil: null,
        executedAt: null,
        version: 1,
      }
      // A new UUID is never stored already; if it were, the filing did not apply.
      await apply(id, filed, 0, now, new GatewayError('internal_error', 'a written request with this id exists already'))
      request.log.info({ request: id, ori: identity.ori, action: 'request.file' }, 'written request filed')
      reply.code(201)
      return viewOf(filed, now)
    },
  )

  app.get<{ Querystring: { status?: RequestStatus; ori?: string } }>(
    '/v1/requests',
    {
      onRequest: asAnyRole,
      schema: {
        summary: 'Written requests: all for DOJ operators, its own agency\'s for a terminal',
        querystring: { type: 'object', additionalProperties: false, properties: { status: { enum: requestStatuses }, ori: { type: 'string', pattern: oriPattern.source } } },
        response: { 200: { type: 'array', items: requestView }, ...errors },
      },
    },
    async (request, reply) => {
      const all = await seesAll(request, reply)
      const { status, ori } = request.query
      // A terminal sees its own agency's requests only: a filter naming another agency finds none.
      if (!all && ori !== undefined && ori !== request.identity!.ori) return []
      const now = clock()
      const views = (await store.listRequests(all ? (ori ?? null) : request.identity!.ori)).map((found) => viewOf(found, now))
      return status === undefined ? views : views.filter((view) => view.status === status)
    },
  )

  app.get<{ Params: IdParams }>('/v1/requests/:id', { onRequest: asAnyRole, schema: { summary: 'One written request', params: idParams, response: { 200: requestView, ...errors } } }, async (request, reply) => {
    const found = await visibleRequest(request, await seesAll(request, reply))
    return viewOf(found, clock())
  })

  /** Approves or refuses a pending request: audited before it applies, compare-and-set on its version. */
  async function decide(request: FastifyRequest<{ Params: IdParams; Body: DecideBody }>, reply: FastifyReply, verdict: 'approved' | 'refused') {
    const identity = request.identity!
    // The named retriever, folded once (as a token's sub is): the person, whatever the spelling typed.
    const named = request.body.retriever
    const retriever = named === undefined ? null : foldUserId(named)
    if (retriever === null && named !== undefined) {
      throw new GatewayError('invalid_request', 'the retriever is not a user id: it must fold (NFKC, lower case) to 1 to 128 printable ASCII characters', [{ path: 'retriever', message: 'not a user id' }])
    }
    const current = await visibleRequest(request, true)
    const now = clock()
    // No operator decides a request of their own agency, nor one filed on its behalf (src/http/authority.ts).
    await forbidOwnAgency(deps, request, reply, [current.ori, current.requester.ori], `${verdict === 'approved' ? 'approve' : 'refuse'} a written request that concerns`)
    const status = requestStatusAt(current, now)
    if (status !== 'pending') throw new GatewayError('request_not_pending', `written request ${current.id} is ${status}: DOJ decided it on ${current.decidedAt ?? 'an earlier call'}`)
    const reason = request.body.reason
    // The validity in force when DOJ approves; a later change to limits.yaml does not move this approval's end.
    const approvalExpiresAt = verdict === 'approved' ? iso(now + deps.policy.current.writtenRequests.approvalSeconds * 1000) : null
    const after: WrittenRequest = {
      ...current,
      status: verdict,
      decidedAt: iso(now),
      decidedBy: identity.sub,
      decisionReason: reason,
      retriever,
      approvalExpiresAt,
      version: current.version + 1,
    }
    const auditId = randomUUID()
    const author = { id: auditId, request: current.id, ori: current.ori, operator: identity.sub, operatorOri: identity.ori, source: sourceOf(request), reason }
    await ledger.append(
      verdict === 'approved'
        ? { type: 'request.approved', ...author, ...(retriever === null ? {} : { retriever }), expiresAt: approvalExpiresAt! }
        : { type: 'request.refused', ...author },
      now,
    )
    await apply(auditId, after, current.version, now, new GatewayError('request_not_pending', `another operator decided written request ${current.id} meanwhile`))
    request.log.info({ operator: identity.sub, request: current.id, ori: current.ori, action: verdict === 'approved' ? 'request.approve' : 'request.refuse', auditId }, 'written request decided')
    reply.header('x-audit-id', auditId)
    return viewOf(after, now)
  }

  const decisionReason = { type: 'string', minLength: 1, maxLength: agencyTextLimits.reason } as const
  const decideSchema = {
    description: "Refused 403 `own_agency_forbidden` when the request's agency, or the agency it was filed on behalf of, is the token's own.",
    params: idParams,
    body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: decisionReason } },
    response: { 200: requestView, ...errors },
  } as const
  // An approval may name one more officer of the requesting agency to retrieve the records (a partner
  // on the case, the filer's supervisor); without it only the filer may.
  const approveBody = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: decisionReason, retriever: userIdSpelling } } as const
  app.post<{ Params: IdParams; Body: DecideBody }>('/v1/requests/:id/approve', { onRequest: asOperator, schema: { ...decideSchema, body: approveBody, summary: 'Approve a pending written request (audited), naming perhaps who else retrieves it' } }, (request, reply) => decide(request, reply, 'approved'))
  app.post<{ Params: IdParams; Body: DecideBody }>('/v1/requests/:id/refuse', { onRequest: asOperator, schema: { ...decideSchema, summary: 'Refuse a pending written request (audited)' } }, (request, reply) => decide(request, reply, 'refused'))

  app.get<{ Params: IdParams }>(
    '/v1/requests/:id/result',
    {
      onRequest: asTerminal,
      schema: { summary: 'Retrieve an approved written request\'s records, once', params: idParams, response: { 403: deniedOrError, ...errors } },
      // The records as the database answered them, trimmed to the purpose: no serializing schema, documented only.
      config: { openapi: { response: { 200: { description: 'the decision and the records', content: { 'application/json': { schema: { type: 'object', properties: { decision: { type: 'object' }, request: { type: 'object' }, records: { type: 'array', items: { type: 'object' } } } } } } } } } },
    },
    async (request, reply) => {
      const identity = request.identity!
      const current = await visibleRequest(request, false)
      // The records go to the person who asked for them (or whom DOJ named), never to a colleague who
      // learnt the id: refused before anything is claimed, so the request stays retrievable by its filer.
      const filer = filerOf(current)
      if (identity.officer !== filer && identity.officer !== current.retriever) {
        throw new GatewayError('request_not_yours', `written request ${current.id} was filed by ${current.sub}${current.retriever === null || current.retriever === undefined ? '' : ` and may be retrieved by ${current.retriever}`}; only they may retrieve its records`)
      }
      const claimedAt = clock()
      switch (requestStatusAt(current, claimedAt)) {
        case 'pending':
          throw new GatewayError('request_not_approved', `written request ${current.id} is pending: DOJ has not decided it yet`)
        case 'refused':
          throw new GatewayError('request_gone', `DOJ refused written request ${current.id}: ${current.decisionReason ?? ''}`)
        case 'denied':
          throw new GatewayError('request_gone', `the policy denied written request ${current.id} when it was executed (${current.executedAt ?? ''})`)
        case 'delivered':
          throw new GatewayError('request_gone', `the records of written request ${current.id} were retrieved on ${current.executedAt ?? ''}; they are handed out once`)
        case 'expired':
          throw new GatewayError('request_gone', `the approval of written request ${current.id} expired on ${current.approvalExpiresAt ?? ''} unused; file it again if it is still needed`)
        case 'approved':
          break
      }
      if (current.claimedUntil !== null && claimedAt < Date.parse(current.claimedUntil)) {
        throw new GatewayError('request_not_approved', `written request ${current.id} is being retrieved right now`)
      }
      // A Redis without a registry has no agency state to judge by: refused, never read as "no sanction".
      const readiness = await store.ready()
      if (readiness !== 'ok') throw new StateUnavailableError(`state is ${readiness}`)
      // The claim: from here on this retrieval alone runs the request, on whichever instance.
      const claimed: WrittenRequest = { ...current, claimedUntil: iso(claimedAt + retrievalClaimMs), version: current.version + 1 }
      if (!(await store.saveRequest(claimed, current.version, claimedAt))) {
        throw new GatewayError('request_not_approved', `written request ${current.id} is being retrieved right now`)
      }
      const release = () => store.saveRequest({ ...claimed, claimedUntil: null, version: claimed.version + 1 }, claimed.version, clock()).catch(() => false)

      let now: number
      let decision: Decision
      let agencyVersion: number | null
      const policy = deps.policy.current
      const database = policy.databases.get(current.database)
      const purpose = policy.purposes.get(current.purpose)
      try {
        // Every person the request binds answers for it: the agency, the officer who filed it (removed or
        // suspended since, their request yields nothing) and the retrieving officer, if another (a
        // suspended officer receives nothing, in writing or at a terminal).
        const retrieving = identity.officer === filer ? null : identity.officer
        const [agency, filedBy, retrievedBy, onBehalfOfAgency] = await Promise.all([
          store.get(current.ori),
          store.getOfficer(current.ori, filer),
          retrieving === null ? null : store.getOfficer(identity.ori, retrieving),
          otherAgency(store, current.requester.ori, current.ori),
        ])
        now = clock()
        agencyVersion = agency?.version ?? null
        // The PPP applies at execution as at the terminal, with the agency's state now: S.B. 54 still
        // denies an immigration request on non-criminal-history data, criminal history goes only to a
        // purpose that reaches it (with its case number), a removal since the approval still blocks.
        decision =
          database === undefined || purpose === undefined
            ? {
                outcome: 'deny',
                rule: 'ppp.purpose_not_permitted',
                reason: `The policies in force no longer have the ${database === undefined ? `database ${current.database}` : `purpose ${current.purpose}`} this request names.`,
                citation: policy.citations['ppp.purpose_not_permitted']!,
              }
            : executionDecision(policy, { database, purpose, caseNumber: current.caseNumber ?? undefined, justification: current.justification, onBehalfOf: current.requester.ori, onBehalfOfAgency, writtenRequest: true }, agency, now, filedBy?.sanction ?? null, retrievedBy?.sanction ?? null, current.sub)
      } catch (error) {
        await release()
        throw error
      }
      const executionId = randomUUID()
      const executed = (fields: Pick<RequestExecutedEvent, 'status' | 'code' | 'recordCount' | 'latencyMs'>): RequestExecutedEvent => ({
        type: 'request.executed',
        id: executionId,
        request: current.id,
        ...requesterOf(request, identity),
        outcome: decision.outcome,
        rule: decision.rule,
        policyRevision: policy.revision,
        agencyVersion,
        ...(decision.outcome === 'allow' ? { projection: decision.projection?.id ?? fullProjectionId } : {}),
        ...fields,
      })
      reply.header('x-audit-id', executionId)

      if (decision.outcome === 'deny') {
        try {
          await ledger.append(executed({ status: 403, code: null, recordCount: 0, latencyMs: 0 }), now)
        } catch (error) {
          await release()
          throw error
        }
        await apply(executionId, { ...claimed, status: 'denied', claimedUntil: null, executedAt: iso(now), version: claimed.version + 1 }, claimed.version, now, new GatewayError('request_gone', `written request ${current.id} was taken by another retrieval`))
        request.log.info({ request: current.id, ori: current.ori, action: 'request.execute', rule: decision.rule }, 'written request denied at execution')
        reply.code(403)
        return denial(executionId, decision)
      }

      const started = performance.now()
      let answer
      try {
        answer = await upstreams.search(database!, current.subject)
      } catch (error) {
        const failure = error instanceof GatewayError ? error : new GatewayError('upstream_unavailable', undefined, [], { cause: error })
        deps.metrics.upstreamErrors.labels(database!.id, failure.code).inc()
        // Recorded, and the claim let go: the agency may retrieve it again.
        await ledger.append(executed({ status: failure.status, code: failure.code, recordCount: 0, latencyMs: Math.round(performance.now() - started) }), clock()).catch(() => undefined)
        await release()
        throw failure
      }
      const deliveredAt = clock()
      const deliveryId = randomUUID()
      try {
        // Both records durable before the records go out: what was executed, and that it was handed over.
        await Promise.all([
          ledger.append(executed({ status: 200, code: null, recordCount: answer.recordCount, latencyMs: Math.round(performance.now() - started) }), deliveredAt),
          ledger.append({ type: 'request.delivered', id: deliveryId, request: current.id, ...requesterOf(request, identity), recordCount: answer.recordCount }, deliveredAt),
        ])
      } catch (error) {
        await release()
        throw error
      }
      const delivered: WrittenRequest = { ...claimed, status: 'delivered', claimedUntil: null, executedAt: iso(deliveredAt), version: claimed.version + 1 }
      await apply(deliveryId, delivered, claimed.version, deliveredAt, new GatewayError('request_gone', `written request ${current.id} was taken by another retrieval`))
      request.log.info({ request: current.id, ori: current.ori, action: 'request.deliver', records: answer.recordCount }, 'written request delivered')
      // The records go out trimmed to the purpose as for a query (policies/projections.yaml, the `written`
      // channel: an approved request may get what a terminal query may not, e.g. a federal agency an address).
      const projection = decision.projection ?? null
      const records = projection === null ? answer.recordsJson : JSON.stringify(projection.apply(answer.records))
      reply.type('application/json; charset=utf-8')
      return `{"decision":{"id":"${executionId}","outcome":"allow","rule":"${decision.rule}"},"request":${JSON.stringify(viewOf(delivered, deliveredAt))},"records":${records}}`
    },
  )
}
