// Issue 12, point 5: written requests. EFF asked DOJ to require criminal-history requests "in writing
// instead of through CLETS" (../shared/DOMAIN.md). A sanction with writtenRequests denies the agency's
// terminal queries (agency.written_request_required); the agency files its request here instead, DOJ
// approves or refuses it, and the agency retrieves an approved request's records once.
//
//   POST /v1/requests                 (terminal)       file: decided by the policy at once, stored pending
//   GET  /v1/requests[?status&ori]    (operator: all; terminal: its agency's)
//   GET  /v1/requests/:id             (operator; terminal of the requesting agency)
//   POST /v1/requests/:id/approve     (doj_operator)   { reason }
//   POST /v1/requests/:id/refuse      (doj_operator)   { reason }
//   GET  /v1/requests/:id/result      (terminal of the requesting agency): the records, once; then 410
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
import { fullProjectionId, type Decision } from '../policy/types.js'
import { maxPendingRequests, officerKey, StateUnavailableError, storedRequestStatuses, type RequestRequester, type WrittenRequest } from '../state/types.js'
import { requesterOf, requireRole, sourceOf, type AppDependencies } from './context.js'
import { freeText, resolveQuery } from './query.js'
import { errorResponseSchema, errorResponses as errors } from './errors.js'

/** An approval holds this long: a request not retrieved by then is gone (410), and is filed again if still needed. */
export const approvalValidityMs = 7 * 86_400_000
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

const uuid = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: uuid } } } as const
/** A requester's name or title: free text an operator reads, refused with control characters as a query's justification is. */
const shortText = freeText(agencyTextLimits.name)

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

/** What operators and the requesting agency see: the request without its retrieval claim. */
function viewOf(request: WrittenRequest, now: number) {
  const { claimedUntil: _claim, ...shown } = request
  return { ...shown, status: requestStatusAt(request, now) }
}

const iso = (ms: number) => new Date(ms).toISOString()

function denial(id: string, decision: Decision) {
  return { decision: { id, outcome: decision.outcome, rule: decision.rule, reason: decision.reason, citation: decision.citation } }
}

export function requestRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, ledger, upstreams, clock } = deps
  const asTerminal = requireRole(deps, 'terminal')
  const asOperator = requireRole(deps, 'doj_operator')
  // Reading takes either role; the handler scopes a terminal to its own agency.
  const asAnyRole = requireRole(deps, null)

  /** True when the token may see every agency's requests; a terminal sees its agency's; else 403. */
  function seesAll(request: FastifyRequest): boolean {
    const identity = request.identity!
    if (identity.roles.includes('doj_operator')) return true
    if (identity.roles.includes('terminal')) return false
    throw new GatewayError('role_forbidden', 'this endpoint needs the role terminal or doj_operator')
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
      const admission = await store.admit(identity.ori, officerKey(identity.ori, identity.sub), policy.limits, clock())
      const now = admission.now
      const agency = admission.agency
      // The policy decides the filing as it will decide the execution: a request the PPP forbids (an
      // immigration request on DMV data, criminal history for a purpose that does not reach it, an
      // agency without the agreement or removed) is refused now, recorded, and never reaches DOJ.
      // The justification counts as a query's does (a monitored agency states why), and a request made
      // for another agency is judged as a query on its behalf (an immigration authority: point 3).
      let decision = evaluate(policy, { database, purpose, caseNumber: body.caseNumber, justification: body.justification, onBehalfOf: body.requester?.ori, writtenRequest: true }, agency, now, admission.officer)
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
    async (request) => {
      const all = seesAll(request)
      const { status, ori } = request.query
      // A terminal sees its own agency's requests only: a filter naming another agency finds none.
      if (!all && ori !== undefined && ori !== request.identity!.ori) return []
      const now = clock()
      const views = (await store.listRequests(all ? (ori ?? null) : request.identity!.ori)).map((found) => viewOf(found, now))
      return status === undefined ? views : views.filter((view) => view.status === status)
    },
  )

  app.get<{ Params: IdParams }>('/v1/requests/:id', { onRequest: asAnyRole, schema: { summary: 'One written request', params: idParams, response: { 200: requestView, ...errors } } }, async (request) => {
    const found = await visibleRequest(request, seesAll(request))
    return viewOf(found, clock())
  })

  /** Approves or refuses a pending request: audited before it applies, compare-and-set on its version. */
  async function decide(request: FastifyRequest<{ Params: IdParams; Body: { reason: string } }>, reply: FastifyReply, verdict: 'approved' | 'refused') {
    const identity = request.identity!
    const current = await visibleRequest(request, true)
    const now = clock()
    const status = requestStatusAt(current, now)
    if (status !== 'pending') throw new GatewayError('request_not_pending', `written request ${current.id} is ${status}: DOJ decided it on ${current.decidedAt ?? 'an earlier call'}`)
    const reason = request.body.reason
    const after: WrittenRequest = {
      ...current,
      status: verdict,
      decidedAt: iso(now),
      decidedBy: identity.sub,
      decisionReason: reason,
      approvalExpiresAt: verdict === 'approved' ? iso(now + approvalValidityMs) : null,
      version: current.version + 1,
    }
    const auditId = randomUUID()
    await ledger.append(
      { type: verdict === 'approved' ? 'request.approved' : 'request.refused', id: auditId, request: current.id, ori: current.ori, operator: identity.sub, operatorOri: identity.ori, source: sourceOf(request), reason },
      now,
    )
    await apply(auditId, after, current.version, now, new GatewayError('request_not_pending', `another operator decided written request ${current.id} meanwhile`))
    request.log.info({ operator: identity.sub, request: current.id, ori: current.ori, action: verdict === 'approved' ? 'request.approve' : 'request.refuse', auditId }, 'written request decided')
    reply.header('x-audit-id', auditId)
    return viewOf(after, now)
  }

  const decideSchema = {
    params: idParams,
    body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: agencyTextLimits.reason } } },
    response: { 200: requestView, ...errors },
  } as const
  app.post<{ Params: IdParams; Body: { reason: string } }>('/v1/requests/:id/approve', { onRequest: asOperator, schema: { ...decideSchema, summary: 'Approve a pending written request (audited)' } }, (request, reply) => decide(request, reply, 'approved'))
  app.post<{ Params: IdParams; Body: { reason: string } }>('/v1/requests/:id/refuse', { onRequest: asOperator, schema: { ...decideSchema, summary: 'Refuse a pending written request (audited)' } }, (request, reply) => decide(request, reply, 'refused'))

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
        // The retrieving officer's own sanction applies too (issue 12, point 4): a suspended officer
        // receives nothing, in writing or at a terminal.
        const [agency, officer] = await Promise.all([store.get(current.ori), store.getOfficer(identity.ori, identity.sub)])
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
            : evaluate(policy, { database, purpose, caseNumber: current.caseNumber ?? undefined, justification: current.justification, onBehalfOf: current.requester.ori, writtenRequest: true }, agency, now, officer?.sanction ?? null)
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
