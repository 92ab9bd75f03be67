// The audit record: one type for every event the ledger keeps. The ledger is the one place subject
// identifiers are kept; never a token, never the records a database returned.
import type { AgencyState, DatabaseClass, RuleId } from '../policy/types.js'
import type { OperatorAction } from '../state/types.js'

export const auditRecordVersion = 1

/** Who asked, from where: taken from the verified token and the connection. */
export interface Requester {
  readonly ori: string
  readonly sub: string
  readonly terminal: string | null
  readonly source: string
}

/** The query decision, durable before a denial is answered or an allowed query is forwarded. */
export interface QueryDecisionEvent extends Requester {
  readonly type: 'query.decision'
  readonly id: string
  readonly database: string
  readonly databaseClass: DatabaseClass
  readonly purpose: string
  readonly caseNumber: string | null
  readonly subject: Readonly<Record<string, string>>
  readonly outcome: 'allow' | 'deny'
  readonly rule: RuleId
  readonly policyRevision: string
  readonly agencyVersion: number | null
  readonly monitored: boolean
}

/** What became of an allowed query at the database. */
export interface QueryOutcomeEvent {
  readonly type: 'query.outcome'
  readonly id: string
  readonly status: number
  readonly code: string | null
  readonly recordCount: number
  readonly latencyMs: number
}

/** A query refused before any decision: bad input or wrong role (4xx), or a fault (5xx, e.g. state unavailable). */
export interface QueryRefusedEvent extends Requester {
  readonly type: 'query.rejected' | 'query.refused'
  readonly id: string
  readonly status: number
  readonly code: string
  /** The paths of the input problems, never their values. */
  readonly issues: readonly string[]
}

/** A DOJ operator's change to an agency, with the reason given and the state before and after. */
export interface OperatorChangeEvent {
  readonly type: 'operator.change'
  readonly id: string
  readonly operator: string
  readonly operatorOri: string
  readonly source: string
  readonly action: OperatorAction
  readonly ori: string
  readonly reason: string
  readonly before: AgencyState | null
  readonly after: AgencyState
}

/** An audited operator change that the store then failed to make durable: it did not take effect. */
export interface OperatorFailedEvent {
  readonly type: 'operator.failed'
  readonly id: string
  readonly code: string
}

export type AuditEvent = QueryDecisionEvent | QueryOutcomeEvent | QueryRefusedEvent | OperatorChangeEvent | OperatorFailedEvent

/** The line written to the ledger: the event stamped by the ledger that wrote it. */
export type AuditRecord = AuditEvent & {
  readonly v: typeof auditRecordVersion
  readonly seq: number
  readonly time: string
  readonly instance: string
  /** SHA-256 of the previous record's line in this instance's chain (64 zeros for the first). */
  readonly prev: string
}
