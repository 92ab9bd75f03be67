// POST /v1/query: validate, decide, audit, then answer the denial or forward the query.
// The hot path is one cached JWT check (onRequest), one schema validation (compiled at boot) plus the
// database's subject validator, one pure evaluation, one store round trip, one group-committed audit
// append, and one undici request. Nothing leaves before its decision record is on disk. What follows an
// answer (the outcome record with its subjects' hashes, the misuse signals) is queued to the decision
// stream, one array push, and done after the answer has gone.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { QueryDecisionEvent } from '../audit/record.js'
import { GatewayError, type ErrorIssue } from '../errors.js'
import { freeTextPattern } from '../printable.js'
import type { CompiledDatabase, CompiledPurpose, PolicySet } from '../policy/compile.js'
import { evaluate } from '../policy/evaluate.js'
import { openReview } from '../reviews/open.js'
import { candidateDecision, decisionsDiffer, type RecordedQuery } from '../policy/candidate.js'
import { subjectFields } from '../policy/subject.js'
import { fullProjectionId, oriPattern, type AgencyState, type Decision, type OfficerSanction } from '../policy/types.js'
import { officerKey, type RateVerdict, type StateStore } from '../state/types.js'
import { authorize, requesterOf, requireRole, type AppDependencies } from './context.js'
import { errorResponseSchema, toGatewayError } from './errors.js'

interface QueryBody {
  database: string
  purpose: string
  subject: Record<string, string>
  caseNumber?: string
  justification?: string
  onBehalfOf?: string
  recipient?: string
}

/**
 * A schema for free text people read, up to `maxLength` characters: no control characters (an ANSI
 * escape, a newline, a bidi override) and a visible character first. The query's justification and the
 * written request's justification and requester use it.
 */
export function freeText(maxLength: number) {
  return { type: 'string', minLength: 1, maxLength, pattern: freeTextPattern } as const
}

/** An ORI, as the token's claim is checked (two letters, then seven letters or digits). */
const oriSchema = { type: 'string', pattern: oriPattern.source } as const
/** The longest justification: a few sentences an officer types at a terminal, kept in the ledger. */
export const justificationMaxLength = 500

const queryBodySchema = {
  type: 'object',
  required: ['database', 'purpose', 'subject'],
  additionalProperties: false,
  properties: {
    database: { type: 'string', minLength: 1, maxLength: 64 },
    purpose: { type: 'string', minLength: 1, maxLength: 64 },
    subject: { type: 'object', maxProperties: 8 },
    caseNumber: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9][A-Za-z0-9 ./#:-]*$' },
    // Free text for people (an auditor reads it in the ledger, `audit search` prints it).
    justification: freeText(justificationMaxLength),
    // Whom the query serves and to whom the result goes, when not the officer's own agency (the CJIS
    // audit record's requester and secondary recipient).
    onBehalfOf: oriSchema,
    recipient: oriSchema,
  },
} as const

const deniedSchema = {
  type: 'object',
  required: ['decision'],
  properties: {
    decision: {
      type: 'object',
      properties: { id: { type: 'string' }, outcome: { type: 'string' }, rule: { type: 'string' }, reason: { type: 'string' }, citation: { type: 'string' } },
    },
  },
} as const

const querySchema = {
  body: queryBodySchema,
  response: {
    200: {
      type: 'object',
      properties: {
        // review: the review opened on an answer given under review (rule review.immigration_evidence).
        decision: { type: 'object', properties: { id: { type: 'string' }, outcome: { type: 'string' }, rule: { type: 'string' }, review: { type: 'string' } } },
        records: { type: 'array', items: { type: 'object', additionalProperties: true } },
      },
    },
    // A 403 is a denial or a wrong role: one schema with both optional members, not anyOf (which
    // fast-json-stringify resolves by validating each branch at run time, on every denial).
    403: { type: 'object', properties: { ...deniedSchema.properties, ...errorResponseSchema.properties } },
    429: deniedSchema,
    '4xx': errorResponseSchema,
    '5xx': errorResponseSchema,
  },
} as const

/**
 * The database and the purpose a query (or a written request) names, from the policies in force, with
 * its subject checked against the database's lookups: 400 unknown_database, unknown_purpose or
 * invalid_subject otherwise.
 */
export function resolveQuery(policy: PolicySet, body: { readonly database: string; readonly purpose: string; readonly subject: unknown }): { database: CompiledDatabase; purpose: CompiledPurpose } {
  const database = policy.databases.get(body.database)
  if (database === undefined) {
    throw new GatewayError('unknown_database', `unknown database ${JSON.stringify(body.database)}`, [{ path: 'database', message: `expected one of ${[...policy.databases.keys()].join(', ')}` }])
  }
  const purpose = policy.purposes.get(body.purpose)
  if (purpose === undefined) {
    throw new GatewayError('unknown_purpose', `unknown purpose ${JSON.stringify(body.purpose)}`, [{ path: 'purpose', message: `expected one of ${[...policy.purposes.keys()].join(', ')}` }])
  }
  // The subject must be exactly one of the database's lookups.
  const issues = database.validateSubject(body.subject)
  if (issues !== null) throw new GatewayError('invalid_subject', undefined, issues)
  return { database, purpose }
}

/** RateLimit-Policy depends only on the policy set: built once per set. */
const ratePolicyHeaders = new WeakMap<PolicySet, string>()

/** The headers every decided query carries (IETF draft-ietf-httpapi-ratelimit-headers). */
function rateHeaders(reply: FastifyReply, policy: PolicySet, rate: RateVerdict): void {
  let ratePolicy = ratePolicyHeaders.get(policy)
  if (ratePolicy === undefined) {
    const { perUser, perAgency } = policy.limits
    ratePolicy = `"user";q=${perUser.limit};w=${perUser.windowSeconds}, "agency";q=${perAgency.limit};w=${perAgency.windowSeconds}`
    ratePolicyHeaders.set(policy, ratePolicy)
  }
  reply.header('ratelimit-policy', ratePolicy)
  reply.header('ratelimit', `"user";r=${rate.userRemaining};t=${rate.userResetSeconds}`)
}

function rateDecision(policy: PolicySet, rate: RateVerdict): Decision {
  const user = rate.limited === 'rate.user'
  const limit = user ? policy.limits.perUser : policy.limits.perAgency
  return {
    outcome: 'deny',
    rule: user ? 'rate.user' : 'rate.agency',
    reason: `Rate limit exceeded: more than ${limit.limit} queries in ${limit.windowSeconds} s ${user ? 'by this officer' : 'by this agency'}; retry in ${rate.retryAfterSeconds} s.`,
    citation: 'policies/limits.yaml',
  }
}

/**
 * Judges the query by the candidate set as the live set judged it (same agency and officer state, same
 * time) and, when the two differ, counts and records it. The record is appended and not waited for: it
 * never delays or changes the answer, and a failure to write it is counted by the ledger, not answered.
 */
function shadowDecision(deps: AppDependencies, shadow: PolicySet, record: QueryDecisionEvent & RecordedQuery, live: Decision, agency: AgencyState | null, now: number, officer: OfficerSanction | null): void {
  const candidate = candidateDecision(shadow, record, agency, now, officer)
  if (!decisionsDiffer(live, candidate)) return
  deps.metrics.shadowDifferences.labels(live.rule, candidate.rule).inc()
  deps.ledger
    .append({ type: 'shadow.difference', id: record.id, ori: record.ori, shadowRevision: shadow.revision, live: { outcome: live.outcome, rule: live.rule }, shadow: { outcome: candidate.outcome, rule: candidate.rule } }, now)
    .catch(() => undefined)
}

/**
 * The registry's state of an agency a query names besides the officer's own (onBehalfOf, recipient):
 * undefined when the field is absent or names the officer's own agency (nothing read), null when the ORI
 * is not registered. A store fault is thrown (503), never read as "not an immigration authority".
 */
export async function otherAgency(store: StateStore, ori: string | undefined, ownOri: string): Promise<AgencyState | null | undefined> {
  return ori === undefined || ori === ownOri ? undefined : store.get(ori)
}

/** The line a reviewer reads first: what was answered, and the evidence. */
function reviewSummary(decision: Decision, evidence: readonly { kind: string; field: string; text: string }[], database: string): string {
  const what = decision.review === 'minimise_and_review' ? `${database} answered without addresses` : `${database} answered`
  return `${what}; immigration evidence: ${evidence.map((item) => `${item.kind} (${item.field}: ${item.text})`).join('; ')}`.slice(0, 1000)
}

export function queryRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, ledger, upstreams, metrics, clock, decided } = deps

  // The token is checked in onRequest, before the body is read: a request without a valid token costs
  // no body parsing or validation (a 1 MiB deeply nested body took 200-330 ms of event loop when the
  // check came after it), and 401 still comes before any input problem.
  const onRequest = requireRole(deps, 'terminal')
  app.post<{ Body: QueryBody }>('/v1/query', { onRequest, schema: { ...querySchema, summary: 'Query a database for a declared purpose: decided, audited, then forwarded or denied' } }, async (request, reply) => {
    const identity = request.identity!
    if (deps.load.overloaded) {
      metrics.loadShed.inc()
      throw new GatewayError('overloaded')
    }
    const body = request.body
    const policy = deps.policy.current
    const { database, purpose } = resolveQuery(policy, body)

    // The officer's sanction comes back with the agency's state, read on every query, not from the token:
    // a token verified and cached before DOJ suspended its officer is refused on its next query.
    const officer = officerKey(identity.ori, identity.officer)
    // The agencies named as onBehalfOf and recipient, as the registry holds them: an organisation DOJ
    // registered (DHS/ICE/HSI) makes an immigration authority, and an ORI no agency is registered with is
    // evidence (unknown_requester). Read beside the admission, and only when the query names another
    // agency (most name none: no lookup, no Promise.all).
    const others = body.onBehalfOf !== undefined || body.recipient !== undefined
    const [admission, onBehalfOfAgency, recipientAgency] = others
      ? await Promise.all([store.admit(identity.ori, officer, policy.limits, clock()), otherAgency(store, body.onBehalfOf, identity.ori), otherAgency(store, body.recipient, identity.ori)])
      : [await store.admit(identity.ori, officer, policy.limits, clock()), undefined, undefined]
    const now = admission.now
    const evaluated = evaluate(
      policy,
      { database, purpose, caseNumber: body.caseNumber, justification: body.justification, onBehalfOf: body.onBehalfOf, recipient: body.recipient, onBehalfOfAgency, recipientAgency },
      admission.agency,
      now,
      admission.officer,
    )
    // A policy denial outranks the rate limit: misuse is recorded as misuse even in a burst.
    const decision = evaluated.outcome === 'allow' && admission.rate.limited !== null ? rateDecision(policy, admission.rate) : evaluated
    const projection = decision.outcome === 'allow' ? (decision.projection ?? null) : null
    const agency = admission.agency

    if (decision.outcome === 'deny') {
      // Past the officer's refusal budget this minute, the denial is counted in the minute's summary
      // (docs/floods.md): no record of its own, no signal counts; answered with the summary's id.
      const limited = decision.rule === 'rate.user' || decision.rule === 'rate.agency'
      const summary = deps.refusals.summarise(officer, clock(), policy.limits.refusalBudget.perMinute, () => requesterOf(request, identity), { record: 'query.decision', status: limited ? 429 : 403, rule: decision.rule })
      if (summary !== null) {
        request.decisionId = summary
        metrics.decisions.child(decision.outcome, decision.rule, database.class, purpose.id).value++
        if (agency !== null) metrics.agencyDecisions.child(agency.ori, decision.outcome, agency.monitored ? 'true' : 'false').value++
        reply.header('x-decision-id', summary)
        rateHeaders(reply, policy, admission.rate)
        if (limited) reply.header('retry-after', admission.rate.retryAfterSeconds)
        reply.code(limited ? 429 : 403)
        return { decision: { id: summary, outcome: decision.outcome, rule: decision.rule, reason: decision.reason, citation: decision.citation } }
      }
    }

    const id = randomUUID()
    // An answer given under review: the review's id goes in the decision and its record before the
    // review is opened (docs/evidence.md).
    const reviewId = decision.outcome === 'allow' && decision.review !== undefined ? randomUUID() : undefined
    const record: QueryDecisionEvent = {
      type: 'query.decision',
      id,
      ...requesterOf(request, identity),
      database: database.id,
      databaseClass: database.class,
      purpose: purpose.id,
      caseNumber: body.caseNumber ?? null,
      // Absent members are left out of the line (the record keeps one shape either way).
      justification: body.justification,
      onBehalfOf: body.onBehalfOf,
      recipient: body.recipient,
      subject: body.subject,
      outcome: decision.outcome,
      rule: decision.rule,
      immigration: evaluated.immigration,
      evidence: evaluated.evidence === undefined ? undefined : [...evaluated.evidence],
      review: reviewId,
      projection: decision.outcome === 'allow' ? (projection?.id ?? fullProjectionId) : undefined,
      policyRevision: policy.revision,
      agencyVersion: admission.agency?.version ?? null,
      monitored: admission.agency?.monitored ?? false,
    }
    await ledger.append(record, now)
    request.decisionId = id
    // The review is opened (its record durable) before anything is answered; a failure is a 5xx.
    if (reviewId !== undefined) {
      await openReview(
        deps,
        reviewId,
        { source: 'immigration_evidence', ori: identity.ori, officer: identity.officer, sub: record.sub, decisions: [id], evidence: evaluated.evidence ?? [], summary: reviewSummary(decision, evaluated.evidence ?? [], database.title) },
        now,
      )
    }
    // A dry run of the candidate policies (POLICY_SHADOW_DIR): unset, this is one property read.
    if (deps.policy.shadow !== null) shadowDecision(deps, deps.policy.shadow, { ...record, onBehalfOfAgency, recipientAgency }, evaluated, admission.agency, now, admission.officer)
    metrics.decisions.child(decision.outcome, decision.rule, database.class, purpose.id).value++
    if (agency !== null) metrics.agencyDecisions.child(agency.ori, decision.outcome, agency.monitored ? 'true' : 'false').value++
    reply.header('x-decision-id', id)
    rateHeaders(reply, policy, admission.rate)
    // What the decision stream sees of the query (issue 13): one object, whatever happens next.
    const observed = { id, ori: record.ori, sub: record.sub, officer: identity.officer, terminal: record.terminal, source: record.source, registered: agency !== null, time: now, purpose: record.purpose, justification: record.justification }

    if (decision.outcome === 'deny') {
      // Signals count only a decision for a registered agency within its rate limits (docs/floods.md):
      // so an officer's signal state in Redis is bounded by the rate limit, and a token of an unknown
      // agency, or one past its limits, leaves no signal key behind.
      if (agency !== null && admission.rate.limited === null) decided({ query: observed, subject: body.subject, self: identity.self, outcome: null, records: null })
      const limited = decision.rule === 'rate.user' || decision.rule === 'rate.agency'
      if (limited) reply.header('retry-after', admission.rate.retryAfterSeconds)
      reply.code(limited ? 429 : 403)
      return { decision: { id, outcome: decision.outcome, rule: decision.rule, reason: decision.reason, citation: decision.citation } }
    }

    const started = performance.now()
    try {
      const answer = await upstreams.search(database, body.subject)
      const latency = performance.now() - started
      metrics.upstreamDuration.observe(metrics.upstreamDuration.child(database.id), latency / 1000)
      // The outcome record is written by the decision stream, after this answer, with the keyed hashes of
      // the records' identifiers (issue 13, point 1): the HMACs are not on the answer's path.
      decided({ query: observed, subject: body.subject, self: identity.self, outcome: { type: 'query.outcome', id, status: 200, code: null, recordCount: answer.recordCount, latencyMs: Math.round(latency) }, records: answer.records })
      // Whole records go out as the database sent them (parsed once to check them), not re-serialized;
      // a projection copies the listed fields of the parsed records and writes them with one
      // JSON.stringify. The id is a UUID and the rule an id from the policy files: nothing to escape.
      const records = projection === null ? answer.recordsJson : JSON.stringify(projection.apply(answer.records))
      reply.type('application/json; charset=utf-8')
      const review = reviewId === undefined ? '' : `,"review":"${reviewId}"`
      return `{"decision":{"id":"${id}","outcome":"allow","rule":"${decision.rule}"${review}},"records":${records}}`
    } catch (error) {
      const failure = error instanceof GatewayError ? error : new GatewayError('upstream_unavailable', undefined, [], { cause: error })
      metrics.upstreamErrors.labels(database.id, failure.code).inc()
      decided({ query: observed, subject: body.subject, self: identity.self, outcome: { type: 'query.outcome', id, status: failure.status, code: failure.code, recordCount: 0, latencyMs: Math.round(performance.now() - started) }, records: null })
      throw failure
    }
  })
}

/** Paths a rejection record may name: the query's own fields and the subject's lookup fields. */
const knownPaths = new Set(['body', 'database', 'purpose', 'caseNumber', 'justification', 'onBehalfOf', 'recipient', 'subject', ...Object.keys(subjectFields).map((field) => `subject.${field}`)])
/** The most paths one rejection record keeps. */
const maxRecordedIssues = 8

/**
 * The input problems as the ledger keeps them: known paths only (an unknown key is recorded as
 * "(unknown field)", never by its name, which is the client's text), each once, at most eight. So a
 * rejection record has a small bounded size whatever the body held.
 */
export function recordedIssues(issues: readonly ErrorIssue[]): string[] {
  const paths: string[] = []
  for (const issue of issues) {
    const path = knownPaths.has(issue.path) ? issue.path : '(unknown field)'
    if (!paths.includes(path)) paths.push(path)
    if (paths.length === maxRecordedIssues) break
  }
  return paths
}

/** What refuseQuery decided: the error to answer, or a 429 over the rate limits. */
export type Refusal = { readonly error: GatewayError; readonly limited: null } | { readonly error: GatewayError; readonly limited: { readonly status: 429; readonly body: unknown } }

/**
 * For a query that failed before its decision: checks the token first if the failure came before the
 * handler did (so 401 and 403 outrank input errors), counts an authenticated refusal against the
 * officer's and the agency's rate limits (a token sending garbage is throttled like one sending
 * queries), then audits the refusal and gives it an id.
 */
export async function refuseQuery(deps: AppDependencies, request: FastifyRequest, reply: FastifyReply, error: GatewayError): Promise<Refusal> {
  if (request.identity === null && error.category !== 'auth') {
    try {
      await authorize(deps, request, reply, 'terminal')
    } catch (authError) {
      if (!(authError instanceof GatewayError) || request.identity === null) return { error: authError as GatewayError, limited: null }
      error = authError // authenticated, wrong role: audited below
    }
  }
  const identity = request.identity
  if (identity === null || request.decisionId !== null) return { error, limited: null }
  const policy = deps.policy.current
  let limit: Decision | null = null
  let retryAfter = 0
  if (error.status < 500) {
    try {
      const admission = await deps.store.admit(identity.ori, officerKey(identity.ori, identity.officer), policy.limits, deps.clock())
      if (admission.rate.limited !== null) {
        limit = rateDecision(policy, admission.rate)
        retryAfter = admission.rate.retryAfterSeconds
      }
    } catch (stateError) {
      error = toGatewayError(stateError) // state unavailable: refused as a fault, audited below
    }
  }
  if (error.status < 500) {
    // Past the officer's refusal budget this minute: counted in the minute's summary (docs/floods.md).
    const summary = deps.refusals.summarise(officerKey(identity.ori, identity.officer), deps.clock(), policy.limits.refusalBudget.perMinute, () => requesterOf(request, identity), {
      record: 'query.rejected',
      status: limit === null ? error.status : 429,
      rule: limit?.rule as 'rate.user' | 'rate.agency' | undefined,
      code: error.code,
    })
    if (summary !== null) return answerRefusal(request, reply, summary, error, limit, retryAfter)
  }
  const id = randomUUID()
  request.decisionId = id
  const refusal = { id, ...requesterOf(request, identity), status: error.status, code: error.code, issues: recordedIssues(error.issues) }
  await deps.ledger.append(
    error.status >= 500
      ? { type: 'query.refused', ...refusal }
      : limit === null
        ? { type: 'query.rejected', ...refusal }
        : { type: 'query.rejected', ...refusal, status: 429, rule: limit.rule as 'rate.user' | 'rate.agency' },
    deps.clock(),
  )
  return answerRefusal(request, reply, id, error, limit, retryAfter)
}

/** The refusal as answered: its record's id (its own, or its summary's), and a 429 over the rate limits. */
function answerRefusal(request: FastifyRequest, reply: FastifyReply, id: string, error: GatewayError, limit: Decision | null, retryAfter: number): Refusal {
  request.decisionId = id
  reply.header('x-decision-id', id)
  if (limit === null) return { error, limited: null }
  reply.header('retry-after', retryAfter)
  return { error, limited: { status: 429, body: { decision: { id, outcome: limit.outcome, rule: limit.rule, reason: limit.reason, citation: limit.citation } } } }
}
