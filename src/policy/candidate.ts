// A candidate policy set judged beside the live one (issue 13, point 3): the shadow on the query path
// (POLICY_SHADOW_DIR) and `gatewayctl policy replay` over the ledger use this one pure function, so a
// dry run and a replay mean the same. The candidate's own rate limits are not simulated: the live
// admission's limits applied, and only policy decisions are compared.
import type { PolicySet } from './compile.js'
import { evaluate } from './evaluate.js'
import type { AgencyState, OfficerSanction, RuleId } from './types.js'

/** What a candidate would answer; `candidate.*` when it does not know the query's database or purpose. */
export interface CandidateOutcome {
  readonly outcome: 'allow' | 'deny'
  readonly rule: RuleId | 'candidate.unknown_database' | 'candidate.unknown_purpose'
}

/** The query as the decision record keeps it. */
export interface RecordedQuery {
  readonly database: string
  readonly purpose: string
  readonly caseNumber?: string | null | undefined
  readonly justification?: string | undefined
  readonly onBehalfOf?: string | undefined
  readonly recipient?: string | undefined
  /** The registry's state of the onBehalfOf and recipient agencies, where the caller knows it (evaluate). */
  readonly onBehalfOfAgency?: Pick<AgencyState, 'organisation'> | null | undefined
  readonly recipientAgency?: Pick<AgencyState, 'organisation'> | null | undefined
  /** The evidence the live decision found: its unknown_requester items say which ORIs were not registered. */
  readonly evidence?: readonly { readonly kind: string; readonly field: string; readonly text: string }[] | undefined
  /** The ORIs found unregistered, when the caller knows them (the shadow on the query path). */
  readonly unregistered?: readonly string[] | undefined
}

const unknownDatabase: CandidateOutcome = { outcome: 'deny', rule: 'candidate.unknown_database' }
const unknownPurpose: CandidateOutcome = { outcome: 'deny', rule: 'candidate.unknown_purpose' }

/** The candidate's decision on a query, given the agency's and the officer's state at `now`. */
export function candidateDecision(candidate: PolicySet, query: RecordedQuery, agency: AgencyState | null, now: number, officer: OfficerSanction | null): CandidateOutcome {
  const database = candidate.databases.get(query.database)
  if (database === undefined) return unknownDatabase
  const purpose = candidate.purposes.get(query.purpose)
  if (purpose === undefined) return unknownPurpose
  // A replayed record does not say whether its ORIs were registered, except through the evidence the
  // live policy recorded: an ORI found unregistered then is judged unregistered now.
  const unregistered = query.unregistered ?? query.evidence?.filter((item) => item.kind === 'unknown_requester').map((item) => item.text)
  return evaluate(candidate, { database, purpose, caseNumber: query.caseNumber ?? undefined, justification: query.justification, onBehalfOf: query.onBehalfOf, recipient: query.recipient, onBehalfOfAgency: query.onBehalfOfAgency, recipientAgency: query.recipientAgency, unregistered }, agency, now, officer)
}

/** True when two decisions differ in outcome or rule. */
export function decisionsDiffer(live: { readonly outcome: string; readonly rule: string }, candidate: CandidateOutcome): boolean {
  return live.outcome !== candidate.outcome || live.rule !== candidate.rule
}
