// The decision engine: a pure function of the policy set, the query, the agency's state and the time.
// A deny is a value, never an exception. The order of the checks is the precedence of the rules:
//  1. ppp.immigration_non_criminal: S.B. 54 and the PPP bind every agency "whatever else holds", so an
//     immigration lookup on non-criminal-history data is recorded as that misuse even for an unknown or
//     sanctioned agency. A query is immigration enforcement when its purpose says so, and also when its
//     case number or justification cites a federal immigration statute or it is made on behalf of or
//     for an immigration authority (policies/purposes.yaml, agencies.yaml): it is then judged as the
//     immigration_enforcement purpose, on top of the purpose it declared, and every ppp.* reason says why;
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
import type { AgencyState, DatabaseClass, Decision, ImmigrationBasis, OfficerSanction, Sanction } from './types.js'

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
}

/** Why a query that declared another purpose is immigration enforcement. */
interface ImmigrationGrounds {
  readonly basis: ImmigrationBasis
  /** The sentence that opens every ppp.* reason of the decision. */
  readonly why: string
}

const asImmigration = 'it is immigration enforcement, whatever purpose it declares.'

/**
 * Whether the query is immigration enforcement under another name, and why; null (no allocation) for
 * the common query that cites no immigration statute and is made for nobody else.
 */
export function immigrationGrounds(policy: PolicySet, query: EvaluatedQuery, ownOri: string | undefined): ImmigrationGrounds | null {
  // Written out rather than looped over a list of fields: this runs for every query, and a list would be
  // allocated each time.
  const requester = authorityGrounds(policy, query.onBehalfOf, query.onBehalfOfAgency, ownOri, 'on behalf of') ?? authorityGrounds(policy, query.recipient, query.recipientAgency, ownOri, 'for')
  if (requester !== null) return requester
  return statuteGrounds(policy, query.caseNumber, 'case number') ?? statuteGrounds(policy, query.justification, 'justification')
}

function authorityGrounds(policy: PolicySet, ori: string | undefined, agency: Pick<AgencyState, 'organisation'> | null | undefined, ownOri: string | undefined, role: string): ImmigrationGrounds | null {
  // The officer's own agency is not looked up: its queries are held to its kind's purposes, its override
  // and its monitoring; the list catches one agency querying for another.
  if (ori === undefined || ori === ownOri) return null
  const authority = isImmigrationAuthority(policy.agencies, ori, agency ?? null)
  if (authority === null) return null
  const listed = 'organisation' in authority.listed ? `, part of ${authority.listed.organisation}` : ''
  return { basis: 'requester', why: `The query is made ${role} ${ori} (${authority.name}${listed}), an immigration authority: ${asImmigration}` }
}

function statuteGrounds(policy: PolicySet, text: string | undefined, what: string): ImmigrationGrounds | null {
  if (text === undefined) return null
  const statute = policy.immigration.findStatute(text)
  return statute === null ? null : { basis: 'statute', why: `The ${what} cites ${statute.cite} (${statute.title}), a federal immigration law: ${asImmigration}` }
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
  // The declaration's own test is three property reads; the statute and requester checks run only for
  // a purpose that does not already say immigration.
  const grounds = query.purpose.immigration ? null : immigrationGrounds(policy, query, agency?.ori)
  if (grounds === null) return decide(policy, query, agency, now, officer, declared, declared, query.purpose)
  const decision = decide(policy, query, agency, now, officer, declared, policy.immigration.purpose.decisions.get(query.database.id)!, policy.immigration.purpose)
  // Every reason about purposes opens with why the query is immigration enforcement; agency.* reasons
  // are about the agency, not the query.
  return { ...decision, reason: decision.rule.startsWith('ppp.') ? `${grounds.why} ${decision.reason}` : decision.reason, immigration: grounds.basis }
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
