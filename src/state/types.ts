// What the gateway keeps about agencies and rate limits, behind one interface with two implementations
// (the embedded store and Redis) that pass one contract suite (test/state-contract.ts).
import type { Agreement, AgencyKind, AgencyState, EvidenceKind, OfficerSanction, OfficerState, RateLimitPolicy, Sanction } from '../policy/types.js'

export interface AgencyRegistration {
  readonly name: string
  readonly kind: AgencyKind
  /** Where the agency sits (organisationPattern); null or left out: none. */
  readonly organisation?: string | null
  readonly monitored: boolean
}

export const operatorActions = ['agency.register', 'agency.update', 'agreement.record', 'agreement.revoke', 'sanction.impose', 'sanction.lift'] as const
export type OperatorAction = (typeof operatorActions)[number]

/** One operator change as the store applied it: what the agency was before and is after. */
export interface AgencyChange {
  readonly action: OperatorAction
  readonly ori: string
  readonly before: AgencyState | null
  readonly after: AgencyState
}

export interface RateLimits {
  readonly perUser: RateLimitPolicy
  readonly perAgency: RateLimitPolicy
}

/** The rate limiter's answer for one query. Remaining counts are after this query. */
export interface RateVerdict {
  readonly limited: 'rate.user' | 'rate.agency' | null
  /** Seconds until a query would be admitted again (0 when not limited). */
  readonly retryAfterSeconds: number
  readonly userRemaining: number
  readonly agencyRemaining: number
  /** Seconds until the user's allowance is whole again. */
  readonly userResetSeconds: number
}

/** Everything the query path needs from shared state, fetched in one round trip. */
export interface Admission {
  readonly agency: AgencyState | null
  /** The sanction on the querying officer as it is now (issue 12, point 4), or null; a lapsed one is for evaluate to judge. */
  readonly officer: OfficerSanction | null
  readonly rate: RateVerdict
  /**
   * The time (epoch ms) the decision is made at. The Redis store takes it from the Redis server, so a
   * suspension's `until` is judged by one clock on every instance; the embedded store returns the
   * time it was given.
   */
  readonly now: number
}

/**
 * Why a Redis without a registry refuses every query, and what the operator does about it. An empty
 * Redis is either new or lost its data, and the two are mended differently: only a new deployment is
 * initialized; a lost registry is restored, never re-created (the sanctions in it would be gone).
 */
export const noRegistryMessage =
  'Redis holds no agency registry, so every query is refused: a new deployment creates it with `gatewayctl state init` (`--samples` for the demo agencies); a Redis that lost its data is restored with `gatewayctl state import FILE` from the latest export'

/** Whether the store can serve the query path now: `unavailable` = unreachable or too slow. */
export type StateReadiness = 'ok' | 'unavailable' | 'no_registry'

/** Raised when state cannot be read or written; the caller answers 503 and never allows. */
export class StateUnavailableError extends Error {
  override name = 'StateUnavailableError'
}

/** Raised for an operator change on an agency that is not registered. */
export class AgencyNotFoundError extends Error {
  override name = 'AgencyNotFoundError'
}

/**
 * Runs after an operator change is computed and before it takes effect (the route audits it here);
 * if it throws, the change is not made.
 */
export type BeforeCommit<Change = AgencyChange> = (change: Change) => Promise<void>

// Officer sanctions (issue 12, point 4).
export const officerActions = ['officer.sanction.impose', 'officer.sanction.lift'] as const
export type OfficerAction = (typeof officerActions)[number]

/** One change to an officer's sanction as the store applied it; `before` is null for an officer never sanctioned. */
export interface OfficerChange {
  readonly action: OfficerAction
  readonly ori: string
  readonly sub: string
  readonly before: OfficerState | null
  readonly after: OfficerState
}

/**
 * The officer's key in the stores: the folded user id (Identity.officer: the token's sub after NFKC and
 * lower case, so every spelling is one person) at its ORI (the same id at another agency is another
 * officer). It names the officer's rate-limit allowance and their sanction, so the query path builds it
 * once and both come back from one lookup. The stores take user ids already folded.
 */
export function officerKey(ori: string, sub: string): string {
  return `user:${ori}:${sub}`
}

export interface StateStore extends RequestStore, FilingStore, ProposalStore, ReviewStore {
  /**
   * The hot path: the agency's current state, the officer's sanction and the rate verdict for the
   * officer (`userKey` = officerKey(ori, sub)), in one round trip. An unregistered ORI's query is
   * never counted against a rate (it is refused whatever its rate): it leaves no state behind.
   */
  admit(ori: string, userKey: string, limits: RateLimits, now: number): Promise<Admission>
  get(ori: string): Promise<AgencyState | null>
  list(): Promise<AgencyState[]>
  register(ori: string, registration: AgencyRegistration, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange>
  recordAgreement(ori: string, agreement: Agreement, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange>
  revokeAgreement(ori: string, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange>
  impose(ori: string, sanction: Sanction, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange>
  reinstate(ori: string, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange>
  /** An officer's sanction state, or null for an officer DOJ never sanctioned. */
  getOfficer(ori: string, sub: string): Promise<OfficerState | null>
  /** Every officer DOJ sanctioned (reinstated ones included), of one agency or all, by ORI then sub. */
  listOfficers(ori: string | undefined): Promise<OfficerState[]>
  /** Imposes a sanction on an officer of a registered agency (AgencyNotFoundError otherwise), replacing any. */
  sanctionOfficer(ori: string, sub: string, sanction: OfficerSanction, now: number, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange>
  /** Lifts an officer's sanction (with none, an audited change all the same, as for agencies). */
  reinstateOfficer(ori: string, sub: string, now: number, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange>
  /**
   * True when the store holds an agency registry (the Redis store: its marker or any agency; the
   * embedded store: its journal existed or holds an agency). Throws StateUnavailableError when unreachable.
   */
  holdsRegistry(): Promise<boolean>
  /**
   * Creates an empty registry in a store that holds none, atomically: false (and nothing written) when
   * it holds one, e.g. another instance created it meanwhile.
   */
  initialize(): Promise<boolean>
  /** Whether the store can serve the query path now, and if not, why. */
  ready(): Promise<StateReadiness>
  /** Seconds since the instance last had authoritative state (0 for the embedded store, which is it). */
  stateAgeSeconds(): number
  close(): Promise<void>
}

// Issue 12, point 5: written requests. An agency files a request; DOJ approves or refuses it; the
// agency retrieves an approved one once, when the gateway executes it. The store keeps each request
// (subject included: it is needed to execute it) and replaces it only by compare-and-set on its
// version, so two instances can never both apply a transition. Routes audit each step before it applies.

/** A request's status as stored; `expired` (an approval not used in time) is computed when it is read. */
export const storedRequestStatuses = ['pending', 'approved', 'refused', 'delivered', 'denied'] as const
export type StoredRequestStatus = (typeof storedRequestStatuses)[number]

/** Who asks, as the filing says: the officer's name and title, and the ORI of the requesting unit. */
export interface RequestRequester {
  readonly name?: string | undefined
  readonly title?: string | undefined
  readonly ori?: string | undefined
}

export interface WrittenRequest {
  readonly id: string
  /** The requesting agency (the filing token's ORI): the only one that may read or retrieve it. */
  readonly ori: string
  /** The officer who filed it (the token's spelling), and the terminal. */
  readonly sub: string
  /**
   * The filing officer's folded user id (NFKC, lower case): with the retriever, the only person who may
   * retrieve the records. Absent in requests filed before it; their `sub` is folded when they are read.
   */
  readonly officer?: string
  readonly terminal: string | null
  readonly database: string
  readonly purpose: string
  readonly subject: Readonly<Record<string, string>>
  readonly caseNumber: string | null
  readonly justification: string
  readonly requester: RequestRequester
  readonly status: StoredRequestStatus
  readonly filedAt: string
  /** DOJ's approval or refusal: when, by whom, why. */
  readonly decidedAt: string | null
  readonly decidedBy: string | null
  readonly decisionReason: string | null
  /**
   * The officer DOJ's approval names to retrieve the records besides the filer (a folded user id of the
   * requesting agency), or null; absent in requests approved before it.
   */
  readonly retriever?: string | null
  /** An approval holds until then; a retrieval afterwards is refused as gone. */
  readonly approvalExpiresAt: string | null
  /** A retrieval under way holds the request until then; one that died lets go at that time. */
  readonly claimedUntil: string | null
  /** When the records went to the agency, or the policy denied the execution. */
  readonly executedAt: string | null
  readonly version: number
}

/** A finished request (or an approval never used) is kept this long in the store; the ledger keeps its history. */
export const requestRetentionMs = 30 * 86_400_000
/** Pending requests one agency may have at a time: DOJ reviews each, so a flood is refused (429). */
export const maxPendingRequests = 100
/** The newest requests a listing reads. */
export const requestListLimit = 1000

/** Until when the store keeps a request (epoch ms), or null while DOJ has not decided it. */
export function requestKeepUntil(request: WrittenRequest, now: number): number | null {
  if (request.status === 'pending') return null
  if (request.status === 'approved' && request.approvalExpiresAt !== null) return Date.parse(request.approvalExpiresAt) + requestRetentionMs
  return now + requestRetentionMs
}

/** The store's part of written requests (both stores; test/state-contract.test.ts). */
export interface RequestStore {
  /**
   * Stores `request` if the stored version is `expectedVersion` (0: no request with this id yet), at
   * `now`; false, and nothing written, otherwise. Throws StateUnavailableError when it cannot write.
   */
  saveRequest(request: WrittenRequest, expectedVersion: number, now: number): Promise<boolean>
  getRequest(id: string): Promise<WrittenRequest | null>
  /** The newest requests first (at most requestListLimit), only the agency's when `ori` is given. */
  listRequests(ori: string | null): Promise<WrittenRequest[]>
  /** How many of the agency's requests are pending. */
  pendingRequests(ori: string): Promise<number>
}

// Issue 13, point 5: agencies' annual misuse filings. The DOJ bulletin of 17 April 2018: agencies must
// report misuse annually, and "agencies that fail to report misuse annually will be subject to
// sanctions, up to and including, removal of CLETS service" (docs/facts.md). DOJ operators record each
// agency's filing per year; the compliance report sets it beside what the ledger shows.

/** How the agency disciplined the people found to have misused CLETS (the 2018 figures' categories). */
export const disciplineKinds = ['job_loss', 'suspension', 'reprimand', 'training', 'misdemeanor_charge', 'felony_charge', 'other'] as const
export type DisciplineKind = (typeof disciplineKinds)[number]

/** The misuse categories of the 2018 bulletin, and immigration enforcement (S.B. 54, the 2019 PPP). */
export const filingCategories = [
  'personal_query', // querying yourself, family or friends
  'disclosure', // giving CLETS information to others for unauthorised purposes
  'credential_sharing', // sharing user ids or passwords, letting others use your login
  'licensing_check', // criminal history for licensing, employment or certification (e.g. CCW)
  'firearm_check', // a firearm queried to see if it is stolen before buying it
  'dmv_unauthorized', // DMV queried for unauthorised address, registration or insurance information
  'high_profile', // high-profile people in the media
  'immigration_enforcement', // non-criminal-history data used for immigration enforcement
  'other',
] as const
export type FilingCategory = (typeof filingCategories)[number]

/** One agency's filing for one year, as DOJ recorded it; `version` moves each time it is recorded again. */
export interface MisuseFiling {
  readonly ori: string
  readonly year: number
  readonly investigations: number
  readonly violations: number
  /** People found to have misused CLETS (EFF asked for the number of employees involved). */
  readonly individuals: number
  readonly pending: number
  readonly discipline: Readonly<Partial<Record<DisciplineKind, number>>>
  readonly categories: Readonly<Partial<Record<FilingCategory, number>>>
  /** When DOJ recorded this version. */
  readonly recordedAt: string
  readonly version: number
}

/** The figures an operator gives; the store adds ori, year, recordedAt and version. */
export type FilingFigures = Omit<MisuseFiling, 'ori' | 'year' | 'recordedAt' | 'version'>

/** One recording of a filing as the store applied it (before: null for the agency's first filing of the year). */
export interface FilingChange {
  readonly action: 'filing.record'
  readonly ori: string
  readonly year: number
  readonly before: MisuseFiling | null
  readonly after: MisuseFiling
}

/** The filings part of the store (both stores; test/filings.test.ts). */
export interface FilingStore {
  /** Records the agency's filing for the year (AgencyNotFoundError for an unregistered agency), replacing any. */
  recordFiling(ori: string, year: number, figures: FilingFigures, now: number, beforeCommit: BeforeCommit<FilingChange>): Promise<FilingChange>
  getFiling(ori: string, year: number): Promise<MisuseFiling | null>
  /** Every agency's filing for the year, by ORI. */
  listFilings(year: number): Promise<MisuseFiling[]>
}

// Two-person control of the gravest lifts (policies/authority.yaml, dualControl): lifting a removal (or
// a suspension) is proposed by one DOJ operator and applied only when a different one approves it. The
// store keeps each proposal so every instance sees it, and replaces it only by compare-and-set on its
// version (as written requests), so two approvals on two instances can never both apply it.

/** What a proposal changes when it is approved: the lift of an agency's or of an officer's sanction. */
export const proposedActions = ['sanction.lift', 'officer.sanction.lift'] as const
export type ProposedAction = (typeof proposedActions)[number]

/** A proposal's status as stored; `expired` (not approved in time) is computed when it is read. */
export const storedProposalStatuses = ['pending', 'applied', 'cancelled'] as const
export type StoredProposalStatus = (typeof storedProposalStatuses)[number]

/** A DOJ operator as the token names them: the sub at the ORI. */
export interface ProposalOperator {
  readonly operator: string
  readonly operatorOri: string
}

export interface ProposedChange {
  readonly id: string
  readonly action: ProposedAction
  /** The agency whose sanction (or whose officer's sanction) is lifted. */
  readonly ori: string
  /** The officer (the token's sub) for an officer's sanction; absent for the agency's. */
  readonly officer?: string | undefined
  /** Why the sanction is lifted, in the proposer's words: the reason of the operator change it becomes. */
  readonly reason: string
  /** The sanction in force when it was proposed: approved, the lift applies only while this one is still in force. */
  readonly sanction: Sanction
  readonly proposedBy: ProposalOperator
  readonly proposedAt: string
  /** A proposal not approved by then lapses (authority.yaml, dualControl.pendingSeconds). */
  readonly expiresAt: string
  readonly status: StoredProposalStatus
  /** Who approved or cancelled it, when, why. */
  readonly decidedBy: ProposalOperator | null
  readonly decidedAt: string | null
  readonly decisionReason: string | null
  readonly version: number
}

/** A decided or lapsed proposal is kept this long in the store; the ledger keeps its history. */
export const proposalRetentionMs = 30 * 86_400_000
/** The newest proposals a listing reads. */
export const proposalListLimit = 1000

/** Until when the store keeps a proposal (epoch ms): its retention after it was decided, or after it lapses. */
export function proposalKeepUntil(change: ProposedChange): number {
  return Date.parse(change.decidedAt ?? change.expiresAt) + proposalRetentionMs
}

/** The store's part of two-person control (both stores; test/state-contract.test.ts). */
export interface ProposalStore {
  /**
   * Stores `change` if the stored version is `expectedVersion` (0: none with this id yet), at `now`;
   * false, and nothing written, otherwise. Throws StateUnavailableError when it cannot write.
   */
  saveProposal(change: ProposedChange, expectedVersion: number, now: number): Promise<boolean>
  getProposal(id: string): Promise<ProposedChange | null>
  /** The newest first (at most proposalListLimit), those still kept. */
  listProposals(): Promise<ProposedChange[]>
}

// The review queue (docs/reviews.md): an item opened by an immigration-evidence decision or by a misuse
// signal the policy marks for review, shared by every instance, closed by a DOJ finding. Both stores
// keep it by compare-and-set on its version (as proposals), so two findings on two instances can never
// both apply. A flood opens little: while an item is open, another opening with the same bound key
// (the agency, the officer, what opened it and the signal kind) joins it instead of opening another,
// adding its decisions up to maxReviewDecisions (beyond that only `occurrences` counts).

/** What a reviewer concludes about a review. */
export const reviewFindings = ['confirmed_misuse', 'no_misuse', 'referred'] as const
export type ReviewFinding = (typeof reviewFindings)[number]
export const reviewSources = ['immigration_evidence', 'signal'] as const
export type ReviewSource = (typeof reviewSources)[number]
export const reviewStatuses = ['open', 'closed'] as const
export type ReviewStatus = (typeof reviewStatuses)[number]

export interface ReviewEvidence {
  readonly kind: EvidenceKind
  readonly field: string
  readonly text: string
}

export interface ReviewFindingRecord {
  readonly finding: ReviewFinding
  /** The misuse category a confirmed finding falls in (the filing categories). */
  readonly category?: FilingCategory | undefined
  readonly reason: string
  readonly by: ProposalOperator
  readonly at: string
}

export interface ReviewItem {
  readonly id: string
  readonly status: ReviewStatus
  readonly source: ReviewSource
  readonly signal?: string | undefined
  readonly ori: string
  /** The folded user id. */
  readonly officer: string
  /** The token's spelling of the first opening. */
  readonly sub: string
  readonly decisions: readonly string[]
  readonly evidence: readonly ReviewEvidence[]
  readonly summary: string
  readonly openedAt: string
  /** Openings folded into this one (1 for an item nobody joined), counted past the decisions' cap too. */
  readonly occurrences: number
  /** The ids of the openings that joined this item (up to the cap): each names it too. */
  readonly joined: readonly string[]
  readonly finding: ReviewFindingRecord | null
  readonly version: number
}

/** Decisions (and joined openings) one review item names at most; later ones only count. */
export const maxReviewDecisions = 100
/** Evidence items one review keeps at most (the first opening's, then new ones as openings join). */
export const maxReviewEvidence = 32
/** The newest reviews a listing reads. */
export const reviewListLimit = 1000

/** The bound key of an open review: one per agency, officer, source and signal kind. */
export function reviewBoundKey(item: Pick<ReviewItem, 'ori' | 'officer' | 'source' | 'signal'>): string {
  return [item.ori, item.officer, item.source, item.signal ?? ''].map(encodeURIComponent).join(':')
}

/** `open` with the opening `joining` folded in: its decisions and evidence added up to the caps. */
export function joinReview(open: ReviewItem, joining: ReviewItem): ReviewItem {
  const decisions = [...open.decisions]
  for (const id of joining.decisions) if (!decisions.includes(id) && decisions.length < maxReviewDecisions) decisions.push(id)
  const evidence = [...open.evidence]
  for (const item of joining.evidence) {
    if (evidence.length >= maxReviewEvidence) break
    if (!evidence.some((known) => known.kind === item.kind && known.field === item.field && known.text === item.text)) evidence.push(item)
  }
  const joined = open.joined.length < maxReviewDecisions ? [...open.joined, joining.id] : open.joined
  return { ...open, decisions, evidence, joined, occurrences: open.occurrences + 1, version: open.version + 1 }
}

/** Where an opening went: its own new item, or the open item it joined. */
export interface ReviewOpened {
  readonly item: ReviewItem
  readonly joined: boolean
}

/** The store's part of the review queue (both stores; test/state-contract.test.ts). */
export interface ReviewStore {
  /**
   * Stores the new item `item` (version 1, open), or, when an open item with its bound key exists,
   * joins it (joinReview) so `item.id` names that item from then on. Atomic across instances.
   */
  openReview(item: ReviewItem, now: number): Promise<ReviewOpened>
  /** The item with this id, or the item an opening with this id joined, or null. */
  getReview(id: string): Promise<ReviewItem | null>
  /** The newest first (at most reviewListLimit). */
  listReviews(): Promise<ReviewItem[]>
  /**
   * Stores `item` if the stored version is `expectedVersion`; false, and nothing written, otherwise.
   * A closed item frees its bound key, so the next opening opens a new item.
   */
  saveReview(item: ReviewItem, expectedVersion: number, now: number): Promise<boolean>
}
