// The vocabulary of the PPP as the gateway enforces it: databases and their classes, purposes,
// agencies with their agreement and sanction, and the decision the engine returns.

export const databaseClasses = ['criminal_history', 'non_criminal_history'] as const
export type DatabaseClass = (typeof databaseClasses)[number]

/** An ORI: the state's two letters, then seven letters or digits. */
export const oriPattern = /^[A-Z]{2}[0-9A-Z]{7}$/

/** A user id (a token's `sub`, an officer in the admin API): 1 to 128 printable ASCII characters, no space. */
export const subPattern = /^[\x21-\x7e]{1,128}$/
/** The longest texts the admin API takes; a registry file is held to the same. */
export const agencyTextLimits = { name: 200, reason: 1000, agreementVersion: 64, organisation: 64 } as const

/**
 * An agency's place in its organisation, from the top down: segments of capital letters and digits
 * joined by `/` (`DHS/ICE/HSI`, `DOJ/FBI`, `CA/LAPD`), at most agencyTextLimits.organisation characters.
 * Policies name whole organisations by a prefix of whole segments (organisationCovers).
 */
export const organisationPattern = /^[A-Z0-9]+(?:\/[A-Z0-9]+)*$/

/** True when `prefix` names `organisation` or an organisation above it: whole segments, so DHS/ICE covers DHS/ICE/HSI, not DHS/ICEX. */
export function organisationCovers(prefix: string, organisation: string): boolean {
  return organisation === prefix || (organisation.startsWith(prefix) && organisation.charCodeAt(prefix.length) === 47) // '/'
}

export const agencyKinds = ['local', 'state', 'federal'] as const
export type AgencyKind = (typeof agencyKinds)[number]

export const sanctionTypes = ['censure', 'suspension', 'removal'] as const
export type SanctionType = (typeof sanctionTypes)[number]

export const sanctionScopes = ['all', 'non_criminal_history'] as const
export type SanctionScope = (typeof sanctionScopes)[number]

/** The deny rules every deployment has, the allow rule, and the rate rules. */
export const ruleIds = [
  'ppp.immigration_non_criminal',
  'agency.unknown',
  'agency.no_agreement',
  'agency.suspended',
  'ppp.purpose_not_for_agency',
  'ppp.purpose_not_permitted',
  'ppp.case_number_required',
  'ppp.justification_required',
  'rate.user',
  'rate.agency',
  // Issue 12, point 5 (written requests): a sanction with writtenRequests leaves only the written channel.
  'agency.written_request_required',
  // Issue 12, point 4: a sanction on the officer (the token's user id at its ORI), not the agency.
  'officer.suspended',
  'ppp.permitted',
  // An answer given with a review opened on immigration evidence short of a refusal (docs/evidence.md).
  'review.immigration_evidence',
] as const
export type RuleId = (typeof ruleIds)[number]

/** Rules whose citation the policy files must give (all but the rate rules, which cite the limits file). */
export const citedRuleIds = ruleIds.filter((rule) => !rule.startsWith('rate.')) as Exclude<RuleId, 'rate.user' | 'rate.agency'>[]

export interface Agreement {
  readonly version: string
  readonly signedAt: string
}

export interface Sanction {
  readonly type: SanctionType
  readonly scope: SanctionScope
  readonly reason: string
  readonly since: string
  readonly until?: string | undefined
  /**
   * Issue 12, point 5: what the agency may still get, it gets only through written requests approved
   * by DOJ (POST /v1/requests), never at its terminal (rule agency.written_request_required). EFF asked
   * DOJ to require criminal-history requests "in writing instead of through CLETS". Carried by a
   * censure or by a suspension of non-criminal-history data only (see sanctionShapeProblem); absent
   * (never false) otherwise, so records written before it existed keep their shape.
   */
  readonly writtenRequests?: true | undefined
}

/** An agency as DOJ operators register it; `version` moves on every change. */
export interface AgencyState {
  readonly ori: string
  readonly name: string
  readonly kind: AgencyKind
  /** Where the agency sits (organisationPattern), e.g. DHS/ICE/HSI; null when DOJ has not said. */
  readonly organisation: string | null
  readonly agreement: Agreement | null
  readonly sanction: Sanction | null
  readonly monitored: boolean
  readonly version: number
}

/**
 * Why a query was judged as immigration enforcement: its declared purpose, a federal immigration statute
 * cited in its case number or justification, or an immigration authority it is made for.
 */
export const immigrationBases = ['purpose', 'statute', 'requester', 'terms'] as const
export type ImmigrationBasis = (typeof immigrationBases)[number]

/**
 * The kinds of evidence that a query may be immigration enforcement (docs/evidence.md): the purpose it
 * declares; an immigration authority it is made for or sends the result to; a case number that is an
 * immigration-law citation; a justification that mentions one among other facts; plain-language terms
 * (ICE, removal order, an A-number); an ORI it is made for or sends to that is not registered.
 */
export const evidenceKinds = ['declared', 'authority', 'statute_subject', 'statute_mentioned', 'terms', 'unknown_requester'] as const
export type EvidenceKind = (typeof evidenceKinds)[number]

/** One piece of evidence that a query may be immigration enforcement, and what produced it. */
export interface EvidenceItem {
  readonly kind: EvidenceKind
  /** The request field that produced it: purpose, onBehalfOf, recipient, caseNumber, justification. */
  readonly field: string
  /** The text (or ORI, or purpose id) that produced it, at most 200 characters. */
  readonly text: string
}

/**
 * What the policy does on a kind of evidence, strictest first: refuse non-criminal-history data as
 * immigration enforcement; answer without home and work addresses and open a review; answer as usual
 * and open a review.
 */
export const evidenceActions = ['deny', 'minimise_and_review', 'review'] as const
export type EvidenceAction = (typeof evidenceActions)[number]

/**
 * The agency groups the actions are set for: `california` (local and state agencies, bound by S.B. 54
 * and the PPP) and `federal` (bound by the PPP). An unregistered ORI is judged as `california`.
 */
export const evidenceGroups = ['california', 'federal'] as const
export type EvidenceGroup = (typeof evidenceGroups)[number]

/** The id recorded for an answer that goes out whole (no projection applies). */
export const fullProjectionId = 'full'

/** The record fields an allowed query receives, compiled from policies/projections.yaml. */
export interface Projection {
  readonly id: string
  readonly database: string
  readonly title: string
  readonly fields: readonly string[]
  /** The records with only the listed fields: new objects; the input is not changed. */
  readonly apply: (records: readonly unknown[]) => unknown[]
}

export interface Decision {
  readonly outcome: 'allow' | 'deny'
  readonly rule: RuleId
  readonly reason: string
  readonly citation: string
  /** On an allow: the fields that go out, or null for whole records. */
  readonly projection?: Projection | null
  /** Set when the query was judged as immigration enforcement, and why. */
  readonly immigration?: ImmigrationBasis
  /** Every sign that the query may be immigration enforcement, when there is any. */
  readonly evidence?: readonly EvidenceItem[]
  /** On an allow: the evidence calls for a review (`minimise_and_review`: the answer has no addresses). */
  readonly review?: Exclude<EvidenceAction, 'deny'>
}

export interface DatabasePolicy {
  readonly id: string
  readonly title: string
  readonly class: DatabaseClass
  readonly backend: 'dmv' | 'criminal_history'
  readonly path: string
  /** Each lookup is a set of subject fields that together identify a record. */
  readonly lookups: readonly (readonly string[])[]
}

export interface PurposePolicy {
  readonly id: string
  readonly title: string
  readonly code: string
  readonly immigration: boolean
  readonly reaches: readonly DatabaseClass[]
  readonly caseNumber: 'required' | 'optional'
  readonly citation: string
}

export interface RateLimitPolicy {
  readonly limit: number
  readonly windowSeconds: number
}

// Officer sanctions (issue 12, point 4). The CAC's discipline reaches the operator as well as the
// agency: every transaction carries the operator's user id, and binding the operator to a query is the
// gateway's job (docs/facts.md). An officer is the token's `sub` at its `ori`; the gateway keeps no officer
// registry, only the officers DOJ has sanctioned. A censure changes no access, so officers take only the
// sanctions that do.
/**
 * Misuse signals (issue 13, point 2): one officer querying many distinct subjects in a window; one
 * subject queried by many officers or agencies; a protected person on the watch-list; an officer looking
 * up their own identifiers; one officer active from several terminals or addresses at once; queries
 * outside the agency's declared hours.
 */
export const signalKinds = ['distinct_subjects', 'subject_spread', 'watchlist', 'self_lookup', 'shared_login', 'off_hours', 'repeat_subject', 'licensing_terms'] as const
export type SignalKind = (typeof signalKinds)[number]

export const officerSanctionTypes = ['suspension', 'removal'] as const
export type OfficerSanctionType = (typeof officerSanctionTypes)[number]

/** A suspension (of a scope, perhaps until a time) or a removal of one officer's CLETS access. */
export interface OfficerSanction extends Sanction {
  readonly type: OfficerSanctionType
}

/** An officer DOJ has sanctioned (or reinstated); `version` moves on every change. */
export interface OfficerState {
  readonly ori: string
  readonly sub: string
  readonly sanction: OfficerSanction | null
  readonly version: number
}
