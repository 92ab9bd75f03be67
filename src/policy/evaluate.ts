// The decision engine: a pure function of the policy set, the query, the agency's state and the time.
// A deny is a value, never an exception. The order of the checks is the precedence of the rules:
//  1. ppp.immigration_non_criminal: S.B. 54 and the PPP bind every agency "whatever else holds", so an
//     immigration lookup on non-criminal-history data is recorded as that misuse even for an unknown or
//     sanctioned agency. The query's evidence (immigrationEvidence, docs/evidence.md) is weighed by the
//     policy's actions for the agency's group: evidence that says immigration enforcement outright
//     (by default the declared purpose, an immigration authority, a case number that cites an
//     immigration law) judges it as the immigration_enforcement purpose, on top of the purpose it
//     declared, and every ppp.* reason says why; weaker evidence (a mention among other facts, terms, an
//     unregistered requester) lets the declared purpose decide and, on an allow of non-criminal-history
//     data, answers under review.immigration_evidence (minimised or not) for the caller to open a review;
//  2. agency.unknown, agency.no_agreement, agency.suspended: no access without a registered agency with a
//     signed current agreement and no sanction covering the database;
//  2b. officer.suspended: nor for an officer DOJ suspended or removed, whatever the agency's standing;
//  2c. agency.written_request_required: an agency under that measure reaches data only in writing;
//  3. ppp.purpose_not_for_agency: who may declare what comes before what a purpose allows (a federal
//     agency has no traffic or CCW function, whatever database it asks for);
//  4. ppp.purpose_not_permitted, ppp.case_number_required: what the purpose allows and requires;
//  5. ppp.justification_required: a monitored agency states why it needs each query of the classes the
//     policy names; asked last, so a query no justification could make lawful is refused for what it is.
// Rate limits (rate.user, rate.agency) are applied by the caller after an allow.
import { isImmigrationAuthority } from './agencies.js'
import type { CompiledDatabase, CompiledPurpose, PairDecisions, PolicySet } from './compile.js'
import { onlyCitations } from './immigration.js'
import type { AgencyState, DatabaseClass, Decision, EvidenceAction, EvidenceItem, ImmigrationBasis, OfficerSanction, Sanction } from './types.js'

export interface EvaluatedQuery {
  readonly database: CompiledDatabase
  readonly purpose: CompiledPurpose
  readonly caseNumber: string | undefined
  /** Why the query is needed, in the officer's words. */
  readonly justification?: string | undefined
  /** The ORI of the agency the query is made for, when not the officer's own. */
  readonly onBehalfOf?: string | undefined
  /** The ORI of the agency the result goes to, when not the officer's own. */
  readonly recipient?: string | undefined
  /**
   * The registry's state of the onBehalfOf and recipient agencies (null: not registered), which the
   * caller reads only when the field is present, so an organisation registered through the admin API
   * counts. Left out (a replay of the ledger, which keeps only the ORIs), the ORI list alone decides.
   */
  readonly onBehalfOfAgency?: Pick<AgencyState, 'organisation'> | null | undefined
  readonly recipientAgency?: Pick<AgencyState, 'organisation'> | null | undefined
  /** Issue 12, point 5: a written request DOJ approved (POST /v1/requests), not a terminal query. */
  readonly writtenRequest?: boolean
  /**
   * The ORIs among onBehalfOf and recipient that are not registered agencies, as the caller found them in
   * the store (the evaluation stays pure): each is `unknown_requester` evidence. Left out: none known.
   */
  readonly unregistered?: readonly string[] | undefined
}

const asImmigration = 'it is immigration enforcement, whatever purpose it declares.'

/**
 * The immigration authority an ORI belongs to (its name), or null. The one place that answers "is this
 * ORI an immigration authority" for the evidence (agencies.yaml, immigrationAuthorities).
 */
export function immigrationAuthority(policy: PolicySet, ori: string): string | null {
  return policy.agencies.immigrationAuthorities.get(ori) ?? null
}

/**
 * Every sign that the query may be immigration enforcement (docs/evidence.md), or null (no allocation)
 * for the common query: declared purpose, an immigration authority or an unregistered ORI it is made for
 * or sent to, a case number that cites an immigration law, a justification that cites one (as its whole
 * subject, or among other facts) or uses the policy's terms.
 */
export function immigrationEvidence(policy: PolicySet, query: EvaluatedQuery, ownOri: string | undefined): EvidenceItem[] | null {
  // Written out rather than looped over a list of fields: this runs for every query, and a list would be
  // allocated each time.
  let items: EvidenceItem[] | null = query.purpose.immigration ? [{ kind: 'declared', field: 'purpose', text: query.purpose.id }] : null
  items = requesterEvidence(policy, query, query.onBehalfOf, query.onBehalfOfAgency, 'onBehalfOf', ownOri, items)
  items = requesterEvidence(policy, query, query.recipient, query.recipientAgency, 'recipient', ownOri, items)
  const { findStatutes, findTerms } = policy.immigration
  if (query.caseNumber !== undefined) {
    // A case number holds nothing but the case's identifier: a citation in it names what the case is.
    const citations = findStatutes(query.caseNumber)
    if (citations !== null) for (const citation of citations) (items ??= []).push({ kind: 'statute_subject', field: 'caseNumber', text: citation.text })
  }
  const justification = query.justification
  if (justification !== undefined) {
    const citations = findStatutes(justification)
    if (citations !== null) {
      const kind = onlyCitations(justification) ? 'statute_subject' : 'statute_mentioned'
      for (const citation of citations) (items ??= []).push({ kind, field: 'justification', text: citation.text })
    }
    const terms = findTerms(justification)
    if (terms !== null) for (const term of terms) (items ??= []).push({ kind: 'terms', field: 'justification', text: term.slice(0, 200) })
  }
  return items
}

/**
 * The evidence an onBehalfOf or recipient ORI gives: an immigration authority (by ORI, or by its
 * registered organisation's prefix), or an ORI no agency is registered with. `agency` is the registry's
 * state for that ORI where the caller looked it up (null: not registered), undefined where it did not
 * (a replay, which knows only the ORIs the live decision found unregistered: `query.unregistered`).
 */
function requesterEvidence(
  policy: PolicySet,
  query: EvaluatedQuery,
  ori: string | undefined,
  agency: Pick<AgencyState, 'organisation'> | null | undefined,
  field: string,
  ownOri: string | undefined,
  items: EvidenceItem[] | null,
): EvidenceItem[] | null {
  // The officer's own agency is not looked up: its queries are held to its kind's purposes, its override
  // and its monitoring; the evidence is about one agency querying for another.
  if (ori === undefined || ori === ownOri) return items
  const authority = isImmigrationAuthority(policy.agencies, ori, agency ?? null)
  if (authority !== null) {
    const listed = 'organisation' in authority.listed ? `, part of ${authority.listed.organisation}` : ''
    ;(items ??= []).push({ kind: 'authority', field, text: `${ori} (${authority.name}${listed})` })
  } else if (agency === null || query.unregistered?.includes(ori) === true) (items ??= []).push({ kind: 'unknown_requester', field, text: ori })
  return items
}

const strictness: Readonly<Record<EvidenceAction, number>> = { deny: 0, minimise_and_review: 1, review: 2 }

/** The evidence item whose action is strictest for the agency's group (the first of equals). */
export function strictestEvidence(policy: PolicySet, evidence: readonly EvidenceItem[], agency: AgencyState | null): { item: EvidenceItem; action: EvidenceAction } {
  const actions = policy.immigration.actions[agency?.kind === 'federal' ? 'federal' : 'california']
  let item = evidence[0]!
  for (const other of evidence) if (strictness[actions[other.kind]] < strictness[actions[item.kind]]) item = other
  return { item, action: actions[item.kind] }
}

const fieldNames: Readonly<Record<string, string>> = { caseNumber: 'case number', justification: 'justification', onBehalfOf: 'on behalf of', recipient: 'for' }
const bases: Readonly<Record<EvidenceItem['kind'], ImmigrationBasis>> = {
  declared: 'purpose',
  authority: 'requester',
  unknown_requester: 'requester',
  statute_subject: 'statute',
  statute_mentioned: 'statute',
  terms: 'terms',
}

/** The sentence that opens every ppp.* reason of a decision refused on this evidence. */
function whyImmigration(policy: PolicySet, item: EvidenceItem): string {
  switch (item.kind) {
    case 'authority':
      return `The query is made ${fieldNames[item.field]} ${item.text}, an immigration authority: ${asImmigration}`
    case 'unknown_requester':
      return `The query is made ${fieldNames[item.field]} ${item.text}, an ORI not registered with the gateway: ${asImmigration}`
    case 'terms':
      return `The ${fieldNames[item.field]} says "${item.text}": ${asImmigration}`
    default: {
      const statute = policy.immigration.findStatutes(item.text)?.[0]?.statute
      const law = statute === undefined ? '' : ` (${statute.cite}, ${statute.title})`
      return `The ${fieldNames[item.field] ?? item.field} cites ${item.text}${law}, a federal immigration law: ${asImmigration}`
    }
  }
}

/** True when the sanction blocks a query of this database class at `now` (epoch ms). */
export function sanctionBlocks(sanction: Sanction | null, databaseClass: DatabaseClass, now: number): boolean {
  if (sanction === null) return false
  switch (sanction.type) {
    case 'censure':
      return false // a letter of censure is recorded and changes no access
    case 'removal':
      return true // removal of CLETS service covers everything until reinstatement
    case 'suspension':
      if (sanction.until !== undefined && now >= Date.parse(sanction.until)) return false
      return sanction.scope === 'all' || databaseClass === 'non_criminal_history'
  }
}

/**
 * True when the sanction in force carries writtenRequests at `now`: the agency may query only through
 * written requests. A suspension's measure lapses with the suspension at `until`.
 */
export function writtenRequestsRequired(sanction: Sanction | null, now: number): boolean {
  if (sanction === null || sanction.writtenRequests !== true) return false
  return !(sanction.type === 'suspension' && sanction.until !== undefined && now >= Date.parse(sanction.until))
}

/**
 * Decides one query. `officer` is the sanction on the querying officer (the token's sub at its ORI), or
 * null. Never throws for a denial; throws only if the query was not resolved against `policy`.
 */
export function evaluate(policy: PolicySet, query: EvaluatedQuery, agency: AgencyState | null, now: number, officer: OfficerSanction | null): Decision {
  const declared = query.purpose.decisions.get(query.database.id)
  if (declared === undefined) throw new Error(`database ${query.database.id} is not part of policy revision ${policy.revision}`)
  const evidence = immigrationEvidence(policy, query, agency?.ori)
  if (evidence === null) return decide(policy, query, agency, now, officer, declared, declared, query.purpose)
  const { item, action } = strictestEvidence(policy, evidence, agency)
  if (action === 'deny') {
    // A declared immigration purpose is judged as itself; any other deny-level evidence judges the query
    // as the immigration_enforcement purpose, on top of the purpose it declared.
    if (query.purpose.immigration) return { ...decide(policy, query, agency, now, officer, declared, declared, query.purpose), evidence }
    const decision = decide(policy, query, agency, now, officer, declared, policy.immigration.purpose.decisions.get(query.database.id)!, policy.immigration.purpose)
    // Every reason about purposes opens with why the query is immigration enforcement; agency.* reasons
    // are about the agency, not the query.
    return { ...decision, reason: decision.rule.startsWith('ppp.') ? `${whyImmigration(policy, item)} ${decision.reason}` : decision.reason, immigration: bases[item.kind], evidence }
  }
  // Evidence short of a refusal: the query is judged as what it declared; if that allows it, the answer
  // is minimised or not and a review opened. Criminal history is answerable even for immigration
  // enforcement (Gov. Code §7284.6(b)(2)): the evidence is recorded, nothing more.
  const decision = decide(policy, query, agency, now, officer, declared, declared, query.purpose)
  if (decision.outcome !== 'allow' || declared.reviewed === null || agency === null) return { ...decision, evidence }
  // A written request was read and approved by a DOJ operator, which is the review: its answer is
  // minimised as a terminal's would be, and no review item is opened for it (docs/evidence.md).
  if (query.writtenRequest === true) {
    if (action === 'review') return { ...decision, evidence }
    const { review: _opensNone, ...minimised } = declared.reviewed.minimise_and_review
    return { ...minimised, evidence }
  }
  return { ...(action === 'minimise_and_review' ? declared.reviewed.minimise_and_review : declared.reviewed.review[agency.kind]), evidence }
}

/**
 * The checks, on the declared purpose's decisions and on the effective ones: the same for most queries;
 * for immigration enforcement under another name, the immigration_enforcement purpose's, which add its
 * restrictions to the declared purpose's and take none away.
 */
function decide(policy: PolicySet, query: EvaluatedQuery, agency: AgencyState | null, now: number, officer: OfficerSanction | null, declared: PairDecisions, effective: PairDecisions, effectivePurpose: CompiledPurpose): Decision {
  if (effective.immigration !== null) return agency?.kind === 'federal' ? effective.immigration.federal : effective.immigration.california

  if (agency === null) {
    return {
      outcome: 'deny',
      rule: 'agency.unknown',
      reason: 'The agency (ORI) on this token is not registered with the gateway; DOJ must register it before it can query.',
      citation: policy.citations['agency.unknown']!,
    }
  }
  if (agency.agreement === null || agency.agreement.version !== policy.agreementVersion) {
    return {
      outcome: 'deny',
      rule: 'agency.no_agreement',
      reason: `${agency.name} has not signed the CLETS subscriber agreement version ${policy.agreementVersion} that the PPP requires.`,
      citation: policy.citations['agency.no_agreement']!,
    }
  }
  if (sanctionBlocks(agency.sanction, query.database.class, now)) {
    const sanction = agency.sanction!
    const what = sanction.type === 'removal' ? 'has been removed' : sanction.scope === 'all' ? 'is suspended' : 'is suspended for non-criminal-history databases'
    const until = sanction.type === 'suspension' && sanction.until !== undefined ? ` until ${sanction.until}` : ' until DOJ reinstates it'
    return {
      outcome: 'deny',
      rule: 'agency.suspended',
      reason: `CLETS service for ${agency.name} ${what}${until}.`,
      citation: policy.citations['agency.suspended']!,
    }
  }
  // officer.suspended (issue 12, point 4): the CAC's suspension or removal, imposed on one officer. It
  // comes after the agency's checks (an agency's denial says more) and before the purpose's, so a
  // suspended officer is told so whatever the query. Its scope and end work as an agency's do.
  if (officer !== null && sanctionBlocks(officer, query.database.class, now)) {
    const what = officer.type === 'removal' ? 'has been removed' : officer.scope === 'all' ? 'is suspended' : 'is suspended for non-criminal-history databases'
    const until = officer.type === 'suspension' && officer.until !== undefined ? ` until ${officer.until}` : ' until DOJ reinstates it'
    return {
      outcome: 'deny',
      rule: 'officer.suspended',
      reason: `This officer's CLETS access at ${agency.name} ${what}${until}.`,
      citation: policy.citations['officer.suspended']!,
    }
  }
  // agency.written_request_required (issue 12, point 5): under a sanction with writtenRequests, what the
  // sanction does not already block (agency.suspended above) is reachable only in writing: EFF asked DOJ
  // to require criminal-history requests "in writing instead of through CLETS". The terminal query is
  // denied; the same query as a written request DOJ approved goes on to the PPP's own rules below.
  // Hot path: an agency without a sanction costs one null check; a terminal query never has the
  // writtenRequest property, so it is read only for the few agencies under the measure.
  if (writtenRequestsRequired(agency.sanction, now) && query.writtenRequest !== true) {
    const sanction = agency.sanction!
    const until = sanction.type === 'suspension' && sanction.until !== undefined ? ` until ${sanction.until}` : ' until DOJ reinstates it'
    return {
      outcome: 'deny',
      rule: 'agency.written_request_required',
      reason: `${agency.name} may obtain CLETS information only through written requests approved by DOJ (POST /v1/requests), not at a terminal,${until}.`,
      citation: policy.citations['agency.written_request_required']!,
    }
  }
  const gate = (policy.agencies.overrideGates.get(agency.ori) ?? policy.agencies.gates)[agency.kind]
  const notForAgency = gate.get(query.purpose.id) ?? (effectivePurpose === query.purpose ? null : gate.get(effectivePurpose.id))
  if (notForAgency != null) return notForAgency
  const notPermitted = declared.notPermitted ?? effective.notPermitted
  if (notPermitted !== null) return notPermitted
  if (query.caseNumber === undefined) {
    const missing = declared.caseNumberMissing ?? effective.caseNumberMissing
    if (missing !== null) return missing
  }
  if (agency.monitored && query.justification === undefined && effective.justificationMissing !== null) return effective.justificationMissing
  // An approved written request may be trimmed differently (policies/projections.yaml, `channels`), and
  // so may an immigration authority's answer (`immigrationAuthority`: its addresses are withheld).
  // Hot path: the ORI lookup and, for an agency with an organisation, one prefix test per listed one.
  if (isImmigrationAuthority(policy.agencies, agency.ori, agency) !== null) {
    return query.writtenRequest === true ? effective.allowImmigrationAuthorityWritten[agency.kind] : effective.allowImmigrationAuthority[agency.kind]
  }
  return query.writtenRequest === true ? effective.allowWritten[agency.kind] : effective.allow[agency.kind]
}
