// The audit record: one versioned type for every event the ledger keeps, as zod schemas (the README
// documents them; `gatewayctl audit verify` checks every line against them). The ledger is the one place
// subject identifiers are kept; never a token, never the records a database returned.
import { z } from 'zod'
import { agencyKinds, databaseClasses, ruleIds, sanctionScopes, sanctionTypes } from '../policy/types.js'
import { operatorActions } from '../state/types.js'

export const auditRecordVersion = 1

const text = z.string()
/** An agency's state as the stores keep it (also the format of `gatewayctl state export`). */
export const agencyStateSchema = z.strictObject({
  ori: text,
  name: text,
  kind: z.enum(agencyKinds),
  agreement: z.strictObject({ version: text, signedAt: text }).nullable(),
  sanction: z
    .strictObject({ type: z.enum(sanctionTypes), scope: z.enum(sanctionScopes), reason: text, since: text, until: text.optional() })
    .nullable(),
  monitored: z.boolean(),
  version: z.number().int(),
})

/** Who asked, from where: taken from the verified token and the connection. */
const requester = {
  ori: text,
  sub: text,
  terminal: text.nullable(),
  source: text,
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
    subject: z.record(text, text),
    outcome: z.enum(['allow', 'deny']),
    rule: z.enum(ruleIds),
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
  }),
  /** An audited operator change that the store then failed to make durable: it did not take effect. */
  'operator.failed': z.strictObject({
    type: z.literal('operator.failed'),
    id: text,
    code: text,
  }),
} as const

export type EventType = keyof typeof eventSchemas
export type QueryDecisionEvent = z.infer<(typeof eventSchemas)['query.decision']>
export type QueryOutcomeEvent = z.infer<(typeof eventSchemas)['query.outcome']>
export type QueryRefusedEvent = z.infer<(typeof eventSchemas)['query.rejected']> | z.infer<(typeof eventSchemas)['query.refused']>
export type OperatorChangeEvent = z.infer<(typeof eventSchemas)['operator.change']>
export type OperatorFailedEvent = z.infer<(typeof eventSchemas)['operator.failed']>
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
