// The decision engine: a pure function of the policy set, the query, the agency's state and the time.
// A deny is a value, never an exception. The order of the checks is the precedence of the rules:
//  1. ppp.immigration_non_criminal: S.B. 54 binds every agency "whatever else holds", so an immigration
//     lookup on non-criminal-history data is recorded as that misuse even for an unknown or sanctioned one;
//  2. agency.unknown, agency.no_agreement, agency.suspended: no access without a registered agency with a
//     signed current agreement and no sanction covering the database;
//  2b. officer.suspended: nor for an officer DOJ suspended or removed, whatever the agency's standing;
//  2c. agency.written_request_required: an agency under that measure reaches data only in writing;
//  3. ppp.purpose_not_permitted, ppp.case_number_required: what the purpose allows.
// Rate limits (rate.user, rate.agency) are applied by the caller after an allow.
import type { CompiledDatabase, CompiledPurpose, PolicySet } from './compile.js'
import type { AgencyState, DatabaseClass, Decision, OfficerSanction, Sanction } from './types.js'

export interface EvaluatedQuery {
  readonly database: CompiledDatabase
  readonly purpose: CompiledPurpose
  readonly caseNumber: string | undefined
  /**
   * Issue 12, point 5: true when this is a written request DOJ approved (POST /v1/requests), executed
   * by the gateway; absent for a terminal query (the hot path builds no other shape).
   */
  readonly writtenRequest?: boolean
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
  const pair = query.purpose.decisions.get(query.database.id)
  if (pair === undefined) throw new Error(`database ${query.database.id} is not part of policy revision ${policy.revision}`)
  if (pair.immigration !== null) return pair.immigration

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
  if (pair.notPermitted !== null) return pair.notPermitted
  if (pair.caseNumberMissing !== null && query.caseNumber === undefined) return pair.caseNumberMissing
  return pair.allow
}
