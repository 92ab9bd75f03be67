// The audit record: one versioned type for every event the ledger keeps, as zod schemas (the README
// documents them; `gatewayctl audit verify` checks every line against them). The ledger is the one place
// subject identifiers are kept; never a token, never the records a database returned.
import { z } from 'zod'
import { agencyKinds, agencyTextLimits, databaseClasses, evidenceKinds, immigrationBases, officerSanctionTypes, organisationPattern, oriPattern, ruleIds, sanctionScopes, sanctionTypes, signalKinds, subPattern } from '../policy/types.js'
import { disciplineKinds, filingCategories, officerActions, operatorActions, proposedActions, reviewFindings, reviewSources } from '../state/types.js'

/**
 * An ORI, a user id and the longest texts, defined with the policy vocabulary (a module without zod, so
 * gatewayctl checks its arguments without loading the schemas) and exported here too for the admin API.
 */
export { agencyTextLimits, organisationPattern, oriPattern, subPattern }

export const auditRecordVersion = 1

/** What an auditor read (audit.access records). */
export const auditAccessActions = ['search', 'report', 'history', 'replay', 'review'] as const

/**
 * Why an operator call was refused (operator.refused records): a DOJ role on a token whose ORI is not a
 * DOJ ORI (policies/authority.yaml), or a change to, or a decision about, the caller's own agency.
 */
export const operatorRefusalCodes = ['role_forbidden', 'own_agency_forbidden'] as const
export type OperatorRefusalCode = (typeof operatorRefusalCodes)[number]

const text = z.string()


/**
 * What is wrong with a sanction's shape, as the admin API refuses it, or null. A removal cuts the
 * agency off all of CLETS until DOJ reinstates it, so it has neither a narrower scope nor an end; a
 * censure changes no access, so it has nothing to end: only a suspension lapses.
 */
export function sanctionShapeProblem(sanction: { type: string; scope: string; until?: string | undefined; writtenRequests?: boolean | undefined }): { path: 'scope' | 'until' | 'writtenRequests'; message: string; issue: string } | null {
  if (sanction.type === 'removal' && sanction.scope !== 'all') return { path: 'scope', message: 'a removal covers all of CLETS; its scope can only be "all"', issue: 'must be "all" for a removal' }
  if (sanction.until !== undefined && sanction.type !== 'suspension') return { path: 'until', message: `a ${sanction.type} has no end date; only a suspension lapses`, issue: 'only a suspension takes until' }
  // Issue 12, point 5: writtenRequests leaves the agency, in writing only, what the sanction does not
  // block. A removal and a suspension of all service block everything, so they leave nothing to ask for.
  const blocksAll = sanction.type === 'removal' || (sanction.type === 'suspension' && sanction.scope === 'all')
  if (sanction.writtenRequests === true && blocksAll) {
    return {
      path: 'writtenRequests',
      message: `a ${sanction.type === 'removal' ? 'removal' : 'suspension of all service'} leaves nothing to request in writing; written requests go with a censure or a suspension of non_criminal_history`,
      issue: 'only with a censure or a non_criminal_history suspension',
    }
  }
  return null
}

/** An agency's state as the stores keep it (also the format of `gatewayctl state export`). */
export const agencyStateSchema = z.strictObject({
  ori: text,
  name: text,
  kind: z.enum(agencyKinds),
  // Absent in records written before agencies had one, which still verify.
  organisation: text.nullable().optional(),
  agreement: z.strictObject({ version: text, signedAt: text }).nullable(),
  sanction: z
    .strictObject({
      type: z.enum(sanctionTypes),
      scope: z.enum(sanctionScopes),
      reason: text,
      since: text,
      until: text.optional(),
      // Issue 12, point 5; absent in records written before it, which still verify.
      writtenRequests: z.literal(true).optional(),
    })
    .nullable(),
  monitored: z.boolean(),
  version: z.number().int(),
})

/** An officer's sanction state as the stores keep it (issue 12, point 4). */
export const officerStateSchema = z.strictObject({
  ori: text,
  sub: text,
  sanction: z
    .strictObject({ type: z.enum(officerSanctionTypes), scope: z.enum(sanctionScopes), reason: text, since: text, until: text.optional() })
    .nullable(),
  version: z.number().int(),
})

const isoTime = z.iso.datetime({ offset: true })

/** A count in a misuse filing. */
const filingCount = z.number().int().min(0).max(1_000_000)
/** The figures of an agency's annual misuse filing (issue 13, point 5), as the admin API takes them. */
export const filingFiguresSchema = z.strictObject({
  investigations: filingCount,
  violations: filingCount,
  individuals: filingCount,
  pending: filingCount,
  discipline: z.partialRecord(z.enum(disciplineKinds), filingCount).default({}),
  categories: z.partialRecord(z.enum(filingCategories), filingCount).default({}),
})
/** A filing as the stores keep it and the ledger records it. */
export const filingStateSchema = filingFiguresSchema.extend({ ori: text, year: z.number().int(), recordedAt: text, version: z.number().int() })
/**
 * An agency's state held to the admin API's rules, for state that enters Redis without passing the
 * admin API (gatewayctl state import): the ORI format, the text lengths, real dates, a version that
 * counts changes from 1, and a sanction of a shape the admin API would have accepted. The ledger keeps
 * agencyStateSchema, so records written before these rules still verify.
 */
export const registeredAgencySchema = z
  .strictObject({
    ori: z.string().regex(oriPattern, 'must be an ORI: two capital letters, then seven capital letters or digits'),
    name: z.string().min(1).max(agencyTextLimits.name),
    kind: z.enum(agencyKinds),
    // A registry exported before agencies had one loads with none.
    organisation: z
      .string()
      .max(agencyTextLimits.organisation)
      .regex(organisationPattern, 'must be an organisation path: capital letters or digits, segments joined by /')
      .nullable()
      .default(null),
    agreement: z.strictObject({ version: z.string().min(1).max(agencyTextLimits.agreementVersion), signedAt: isoTime }).nullable(),
    sanction: z
      .strictObject({
        type: z.enum(sanctionTypes),
        scope: z.enum(sanctionScopes),
        reason: z.string().min(1).max(agencyTextLimits.reason),
        since: isoTime,
        until: isoTime.optional(),
        writtenRequests: z.literal(true).optional(),
      })
      .nullable(),
    monitored: z.boolean(),
    version: z.number().int().positive(),
  })
  .superRefine((agency, context) => {
    const problem = agency.sanction === null ? null : sanctionShapeProblem(agency.sanction)
    if (problem !== null) context.addIssue({ code: 'custom', path: ['sanction', problem.path], message: problem.issue })
  })

/** A whole registry: every agency valid, and no ORI twice (one would silently replace the other). */
export const registrySchema = z.array(registeredAgencySchema).superRefine((agencies, context) => {
  const first = new Map<string, number>()
  agencies.forEach((agency, index) => {
    const earlier = first.get(agency.ori)
    if (earlier === undefined) first.set(agency.ori, index)
    else context.addIssue({ code: 'custom', path: [index, 'ori'], message: `${agency.ori} appears more than once (first as agencies.${earlier})` })
  })
})

/**
 * The officers' sanctions of a registry file (issue 12), held to the admin API's rules like its
 * agencies: ORI and user id formats, officer sanction types and shapes, real dates, versions from 1,
 * no officer twice. (That each officer's agency is in the file is checked with the whole file.)
 */
export const officerRegistrySchema = z
  .array(
    z
      .strictObject({
        ori: z.string().regex(oriPattern, 'must be an ORI: two capital letters, then seven capital letters or digits'),
        sub: z.string().regex(subPattern, 'must be a user id: 1 to 128 printable ASCII characters, no space'),
        sanction: z
          .strictObject({ type: z.enum(officerSanctionTypes), scope: z.enum(sanctionScopes), reason: z.string().min(1).max(agencyTextLimits.reason), since: isoTime, until: isoTime.optional() })
          .nullable(),
        version: z.number().int().positive(),
      })
      .superRefine((officer, context) => {
        const problem = officer.sanction === null ? null : sanctionShapeProblem(officer.sanction)
        if (problem !== null) context.addIssue({ code: 'custom', path: ['sanction', problem.path], message: problem.issue })
      }),
  )
  .superRefine((officers, context) => {
    const first = new Map<string, number>()
    officers.forEach((officer, index) => {
      const key = `${officer.ori} ${officer.sub}`
      const earlier = first.get(key)
      if (earlier === undefined) first.set(key, index)
      else context.addIssue({ code: 'custom', path: [index, 'sub'], message: `${officer.sub} of ${officer.ori} appears more than once (first as officers.${earlier})` })
    })
  })

/** Who asked, from where: taken from the verified token and the connection. */
const requester = {
  ori: text,
  /** The user id as the token spells it. */
  sub: text,
  /** The user id folded (NFKC, lower case: the person), when it differs from `sub`; absent in older records. */
  officer: text.optional(),
  terminal: text.nullable(),
  source: text,
}

/** A decision on a proposed change (two-person control): who approved or withdrew which proposal, and why. */
function changeDecision<T extends 'change.approved' | 'change.cancelled'>(type: T) {
  return z.strictObject({
    type: z.literal(type),
    id: text,
    /** The proposal's id. */
    change: text,
    action: z.enum(proposedActions),
    ori: text,
    sub: text.optional(),
    operator: text,
    operatorOri: text,
    source: text,
    reason: text,
  })
}

export const eventSchemas = {
  /** The query decision, durable before a denial is answered or an allowed query is forwarded. */
  'query.decision': z.strictObject({
    type: z.literal('query.decision'),
    id: text,
    ...requester,
    database: text,
    databaseClass: z.enum(databaseClasses),
    purpose: text,
    caseNumber: text.nullable(),
    // The members below came with issue 12; records written before it have none of them, and still verify.
    /** Why the query is needed, in the officer's words, when given. */
    justification: text.optional(),
    /** Whom the query serves (an ORI), when the officer said it is another agency. */
    onBehalfOf: text.optional(),
    /** To whom the result goes (an ORI), when the officer said it is another agency. */
    recipient: text.optional(),
    subject: z.record(text, text),
    outcome: z.enum(['allow', 'deny']),
    rule: z.enum(ruleIds),
    /** Why a query that declared another purpose was judged as immigration enforcement. */
    immigration: z.enum(immigrationBases).optional(),
    /**
     * Every sign that the query may be immigration enforcement, each with the field and the text that
     * produced it (docs/evidence.md), when there is any: what a reviewer reads first.
     */
    evidence: z.array(z.strictObject({ kind: z.enum(evidenceKinds), field: text, text })).optional(),
    /** On an answer given under review (rule review.immigration_evidence): the review's id. */
    review: text.optional(),
    /** On an allow: the projection its answer got (`full`: whole records). */
    projection: text.optional(),
    policyRevision: text,
    agencyVersion: z.number().int().nullable(),
    monitored: z.boolean(),
  }),
  /** What became of an allowed query at the database. */
  'query.outcome': z.strictObject({
    type: z.literal('query.outcome'),
    id: text,
    status: z.number().int(),
    code: text.nullable(),
    recordCount: z.number().int(),
    latencyMs: z.number().int(),
    /**
     * Issue 13, point 1: the identifiers of the records returned (licence number, plate, VIN, CII number,
     * the person's name), each as a keyed hash (src/audit/subjects.ts), never in the clear. Absent in
     * records written before it, and on a failed query.
     */
    subjects: z.array(text).optional(),
  }),
  /**
   * A query refused before any decision for bad input or a wrong role (4xx). Refusals count against the
   * rate limits: one over them is answered 429, with `rule` naming the limit and `code` the input problem.
   */
  'query.rejected': z.strictObject({
    type: z.literal('query.rejected'),
    id: text,
    ...requester,
    status: z.number().int(),
    code: text,
    rule: z.enum(['rate.user', 'rate.agency']).optional(),
    /** The paths of the input problems, never their values: known paths only, at most eight. */
    issues: z.array(text).max(8),
  }),
  /**
   * The refusals of one officer's token in one minute past the refusal budget (limits.yaml
   * refusalBudget): denials (403, 429) and refusals before a decision (4xx) that would each have been a
   * query.decision or a query.rejected record, counted here instead, by what each would have said.
   * The first `budget` refusals of the minute have their own records; `id` is the x-decision-id every
   * summarised refusal was answered with. Written when the minute ends (or at shutdown): docs/floods.md.
   */
  'query.refusals': z.strictObject({
    type: z.literal('query.refusals'),
    id: text,
    /** The officer; the terminal and source of the first refusal summarised. */
    ...requester,
    /** The budget in force: refusals of the minute before these have their own records. */
    budget: z.number().int().min(1),
    /** The first and last refusal summarised (ISO times, within one minute). */
    first: isoTime,
    last: isoTime,
    count: z.number().int().min(1),
    refusals: z
      .array(
        z.strictObject({
          /** The record each would have been: a denial decided by policy, or a refusal before any decision. */
          record: z.enum(['query.decision', 'query.rejected', 'operator.refused']),
          status: z.number().int(),
          /** The decision's rule, or the rate limit a rejection was over. */
          rule: z.enum(ruleIds).optional(),
          /** A rejection's error code. */
          code: text.optional(),
          count: z.number().int().min(1),
        }),
      )
      .min(1),
  }),
  /** A query refused because the gateway could not decide safely (5xx: state or audit unavailable). */
  'query.refused': z.strictObject({
    type: z.literal('query.refused'),
    id: text,
    ...requester,
    status: z.number().int(),
    code: text,
    issues: z.array(text),
  }),
  /** A DOJ operator's change to an agency, with the reason given and the state before and after. */
  'operator.change': z.strictObject({
    type: z.literal('operator.change'),
    id: text,
    operator: text,
    operatorOri: text,
    source: text,
    action: z.enum(operatorActions),
    ori: text,
    reason: text,
    before: agencyStateSchema.nullable(),
    after: agencyStateSchema,
    /** The proposed change this applies, when the lift needed a second operator (two-person control). */
    change: text.optional(),
  }),
  /**
   * A DOJ operator's change to one officer's sanction (issue 12, point 4): `ori` and `sub` name the
   * officer (so `audit search --sub` finds it beside the officer's queries), with the reason given and
   * the state before (null for an officer never sanctioned) and after.
   */
  'officer.change': z.strictObject({
    type: z.literal('officer.change'),
    id: text,
    operator: text,
    operatorOri: text,
    source: text,
    action: z.enum(officerActions),
    ori: text,
    sub: text,
    reason: text,
    before: officerStateSchema.nullable(),
    after: officerStateSchema,
    /** The proposed change this applies, when the lift needed a second operator (two-person control). */
    change: text.optional(),
  }),
  // Two-person control (policies/authority.yaml, dualControl): lifting a removal or a suspension is
  // proposed by one DOJ operator and applied when a different one approves it. Each step is a record
  // before it applies; the applied lift is then the usual operator.change or officer.change (its
  // `operator` the approver, its `reason` the proposal's, its `change` the proposal's id).
  /** A lift proposed, before the proposal is stored: `id` is the proposal's. */
  'change.proposed': z.strictObject({
    type: z.literal('change.proposed'),
    id: text,
    operator: text,
    operatorOri: text,
    source: text,
    action: z.enum(proposedActions),
    ori: text,
    /** The officer, for an officer's sanction. */
    sub: text.optional(),
    reason: text,
    /** The sanction in force, which the lift would end. */
    sanction: agencyStateSchema.shape.sanction.unwrap(),
    expiresAt: text,
  }),
  /** A second DOJ operator approves a proposal, before the approval applies (the lift's own record follows). */
  'change.approved': changeDecision('change.approved'),
  /** A DOJ operator withdraws a pending proposal, before the withdrawal applies: the sanction stays. */
  'change.cancelled': changeDecision('change.cancelled'),
  /**
   * An agency registry created in a store that never held one (gatewayctl state init, or a demo
   * gateway seeding the samples), before it is created; with samples, an operator.change follows for
   * each change that registers them.
   */
  'operator.init': z.strictObject({
    type: z.literal('operator.init'),
    id: text,
    operator: text,
    source: text,
    reason: text,
    /** The store: a Redis URL without credentials, or `embedded`. */
    target: text,
    samples: z.boolean(),
  }),
  /**
   * The agency registry replaced from a backup file (gatewayctl state import), before it is replaced.
   * The file's SHA-256 names exactly the state that was imported; DOJ keeps the file.
   */
  'operator.import': z.strictObject({
    type: z.literal('operator.import'),
    id: text,
    operator: text,
    source: text,
    reason: text,
    target: text,
    file: text,
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** Agencies in the file, which become the registry. */
    agencies: z.number().int().min(0),
    /** Agencies the registry held before, which the import replaced. */
    replaced: z.number().int().min(0),
    /** Officers' sanction states in the file, and those the registry held before (issue 12; absent in older records). */
    officers: z.number().int().min(0).optional(),
    officersReplaced: z.number().int().min(0).optional(),
  }),
  /** An audited operator change that the store then failed to make durable: it did not take effect. */
  'operator.failed': z.strictObject({
    type: z.literal('operator.failed'),
    id: text,
    code: text,
  }),

  /**
   * An operator call refused for want of authority, before the refusal is answered: nothing changed.
   * `operator`, `operatorOri` and `source` name the caller as on every operator record; `method` and
   * `route` (the route's pattern, e.g. /v1/agencies/:ori/sanction) what was asked; `role` the role the
   * call needed; `ori` the agency it concerned, when it names one (so the agency's history shows it).
   */
  'operator.refused': z.strictObject({
    type: z.literal('operator.refused'),
    id: text,
    operator: text,
    operatorOri: text,
    source: text,
    method: text,
    route: text,
    role: text,
    code: z.enum(operatorRefusalCodes),
    ori: text.optional(),
  }),

  // Issue 12, point 5: written requests, each step a record. `request` names the request (the id of
  // its request.filed record). The subject is in request.filed only; never the records returned.
  /** A written request as an agency's terminal filed it, before it is stored (or its refusal is answered). */
  'request.filed': z.strictObject({
    type: z.literal('request.filed'),
    /** The request's id. */
    id: text,
    ...requester,
    database: text,
    databaseClass: z.enum(databaseClasses),
    purpose: text,
    caseNumber: text.nullable(),
    subject: z.record(text, text),
    justification: text,
    /** Who asks, as the filing says (the officer's name and title, the ORI of the requesting unit). */
    requester: z.strictObject({ name: text.optional(), title: text.optional(), ori: text.optional() }),
    /** `pending` = stored for DOJ; `deny` = the policy refused it at filing, so it was never stored. */
    outcome: z.enum(['pending', 'deny']),
    rule: z.enum(ruleIds),
    policyRevision: text,
    agencyVersion: z.number().int().nullable(),
    monitored: z.boolean(),
  }),
  /** A DOJ operator approves a pending request, before the approval applies. */
  'request.approved': z.strictObject({
    type: z.literal('request.approved'),
    id: text,
    request: text,
    /** The requesting agency. */
    ori: text,
    operator: text,
    operatorOri: text,
    source: text,
    reason: text,
    /** The officer (folded user id) the approval names to retrieve the records besides the filer; absent when none. */
    retriever: text.optional(),
    /** When the approval expires unused. Absent in records written before it. */
    expiresAt: text.optional(),
  }),
  /** A DOJ operator refuses a pending request, before the refusal applies. */
  'request.refused': z.strictObject({
    type: z.literal('request.refused'),
    id: text,
    request: text,
    ori: text,
    operator: text,
    operatorOri: text,
    source: text,
    reason: text,
  }),
  /**
   * The gateway executed an approved request, when the agency first retrieved it: the policy's decision
   * then, and what the database answered (status 403 and no records when the policy denied it).
   */
  'request.executed': z.strictObject({
    type: z.literal('request.executed'),
    id: text,
    request: text,
    /** The retrieving officer, of the requesting agency. */
    ...requester,
    outcome: z.enum(['allow', 'deny']),
    rule: z.enum(ruleIds),
    policyRevision: text,
    agencyVersion: z.number().int().nullable(),
    status: z.number().int(),
    code: text.nullable(),
    recordCount: z.number().int().min(0),
    latencyMs: z.number().int().min(0),
    /** The projection applied to an allowed execution's records (`full`: whole records); absent in older records. */
    projection: text.optional(),
  }),
  /** The records of an executed request handed to the requesting agency, before they are sent: once only. */
  'request.delivered': z.strictObject({
    type: z.literal('request.delivered'),
    id: text,
    request: text,
    ...requester,
    recordCount: z.number().int().min(0),
  }),
  /** An audited request step that the store then did not make (a concurrent change, or the store failed). */
  'request.failed': z.strictObject({
    type: z.literal('request.failed'),
    id: text,
    code: text,
  }),

  /** A DOJ operator records an agency's annual misuse filing (issue 13, point 5): before (null for the first of the year) and after. */
  'filing.recorded': z.strictObject({
    type: z.literal('filing.recorded'),
    id: text,
    operator: text,
    operatorOri: text,
    source: text,
    ori: text,
    year: z.number().int(),
    reason: text,
    before: filingStateSchema.nullable(),
    after: filingStateSchema,
  }),

  /**
   * A query the candidate policy set (POLICY_SHADOW_DIR) would have decided otherwise (issue 13, point
   * 3): `id` is the query's decision id; written after its decision, never changing the answer. The
   * rules are the policy decisions (before rate limiting: the candidate's limits are not simulated).
   */
  'shadow.difference': z.strictObject({
    type: z.literal('shadow.difference'),
    id: text,
    ori: text,
    shadowRevision: text,
    live: z.strictObject({ outcome: z.enum(['allow', 'deny']), rule: text }),
    shadow: z.strictObject({ outcome: z.enum(['allow', 'deny']), rule: text }),
  }),

  // Issue 13: misuse signals and the auditors' own reads. Shared shapes: the signals, the misuse report,
  // the console and gatewayctl all read them.
  /**
   * A misuse signal: a pattern the purpose gate allows but an auditor should see (issue 13, point 2).
   * `ori`/`sub` name the agency and officer it is about (`sub` null when it is about a subject queried by
   * many), `decisionIds` the query.decision records behind it. `detail` holds counts and windows, and
   * subject identifiers only as keyed hashes. `blocked` is true only where policy makes the kind block.
   */
  'signal.raised': z.strictObject({
    type: z.literal('signal.raised'),
    id: text,
    kind: z.enum(signalKinds),
    ori: text,
    sub: text.nullable(),
    decisionIds: z.array(text),
    detail: z.record(text, z.union([text, z.number()])),
    blocked: z.boolean(),
  }),
  /**
   * An auditor's read of the ledger (issue 13, point 6): an audit search, a report or an agency's history,
   * through the API (`source` the connection) or gatewayctl (`source` `gatewayctl@host`). `filter` is the
   * query as given (it may name a subject: the ledger is where subject data may be kept).
   */
  'audit.access': z.strictObject({
    type: z.literal('audit.access'),
    id: text,
    ori: text,
    sub: text,
    source: text,
    action: z.enum(auditAccessActions),
    filter: z.record(text, text),
    resultCount: z.number().int().min(0),
  }),

  // The review queue (docs/reviews.md): each step a record before it applies.
  /**
   * A review opened, before it is stored: by a decision the immigration evidence sent to review, or a
   * misuse signal the policy marks for review. `id` is the opening's id; when an open review of the same
   * agency, officer and kind exists, the opening joins it (the store's bound), and `id` names that review.
   */
  'review.opened': z.strictObject({
    type: z.literal('review.opened'),
    id: text,
    source: z.enum(reviewSources),
    signal: text.optional(),
    ori: text,
    /** The folded user id; `sub` the token's spelling. */
    officer: text,
    sub: text,
    decisions: z.array(text),
    evidence: z.array(z.strictObject({ kind: z.enum(evidenceKinds), field: text, text: z.string().max(200) })),
    summary: text,
  }),
  /** A reviewer's finding, before it closes the review: `review` the review's id, `ori`/`sub` whom it is about. */
  'review.finding': z.strictObject({
    type: z.literal('review.finding'),
    id: text,
    review: text,
    ori: text,
    sub: text,
    operator: text,
    operatorOri: text,
    source: text,
    finding: z.enum(reviewFindings),
    category: z.enum(filingCategories).optional(),
    reason: text,
    /** The openings that joined the review (their review.opened ids): the finding closes them too. */
    joined: z.array(text).optional(),
  }),
} as const

export type EventType = keyof typeof eventSchemas
export type QueryDecisionEvent = z.infer<(typeof eventSchemas)['query.decision']>
export type QueryOutcomeEvent = z.infer<(typeof eventSchemas)['query.outcome']>
export type QueryRefusalsEvent = z.infer<(typeof eventSchemas)['query.refusals']>
export type QueryRefusedEvent = z.infer<(typeof eventSchemas)['query.rejected']> | z.infer<(typeof eventSchemas)['query.refused']>
export type OperatorChangeEvent = z.infer<(typeof eventSchemas)['operator.change']>
export type OfficerChangeEvent = z.infer<(typeof eventSchemas)['officer.change']>
export type OperatorFailedEvent = z.infer<(typeof eventSchemas)['operator.failed']>
export type OperatorRefusedEvent = z.infer<(typeof eventSchemas)['operator.refused']>
export type OperatorInitEvent = z.infer<(typeof eventSchemas)['operator.init']>
export type OperatorImportEvent = z.infer<(typeof eventSchemas)['operator.import']>
export type RequestFiledEvent = z.infer<(typeof eventSchemas)['request.filed']>
export type SignalRaisedEvent = z.infer<(typeof eventSchemas)['signal.raised']>
export type AuditAccessEvent = z.infer<(typeof eventSchemas)['audit.access']>
export type RequestExecutedEvent = z.infer<(typeof eventSchemas)['request.executed']>
export type ReviewOpenedEvent = z.infer<(typeof eventSchemas)['review.opened']>
export type ReviewFindingEvent = z.infer<(typeof eventSchemas)['review.finding']>
export type AuditEvent = { [K in EventType]: z.infer<(typeof eventSchemas)[K]> }[EventType]

/** The stamps the ledger adds to every event. */
export const stampSchema = {
  v: z.literal(auditRecordVersion),
  seq: z.number().int().min(1),
  time: z.iso.datetime(),
  instance: text,
  /** SHA-256 of the previous record's line in this instance's chain (64 zeros for the first). */
  prev: z.string().regex(/^[0-9a-f]{64}$/),
}

/** The schema of a whole ledger line of each type: the event with its stamps. */
export const recordSchemas = Object.fromEntries(
  Object.entries(eventSchemas).map(([type, schema]) => [type, schema.extend(stampSchema)]),
) as unknown as Readonly<Record<EventType, z.ZodObject>>

/** The top-level keys of each event type (from its schema), for the compiled serializers. */
export const eventKeys: Readonly<Record<EventType, readonly string[]>> = Object.fromEntries(
  Object.entries(eventSchemas).map(([type, schema]) => [type, Object.keys(schema.shape)]),
) as unknown as Record<EventType, readonly string[]>
