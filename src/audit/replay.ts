// gatewayctl policy replay (issue 13, point 3): the ledger's recorded queries judged again by a
// candidate policy set, to see what it would change before it is put in force: per agency and rule,
// allow→deny, deny→allow and one deny rule for another.
// The state each query is judged on is rebuilt from the ledger: the agency as the operator.change record
// of the version the decision recorded (agencyVersion) left it, else its last recorded state before the
// query (a registry imported from a backup has no history in the ledger); the officer's sanction as the
// last officer.change before the query left it. The candidate's rate limits are not replayed: a query
// the live gateway throttled counts as changed only if the candidate's policy would deny it.
import type { AgencyState, OfficerSanction, OfficerState } from '../policy/types.js'
import type { PolicySet } from '../policy/compile.js'
import { candidateDecision, decisionsDiffer, type RecordedQuery } from '../policy/candidate.js'
import type { LedgerRecord } from './search.js'

export type Transition = 'allow→deny' | 'deny→allow' | 'rule'

export interface ReplayChange {
  ori: string
  transition: Transition
  from: { outcome: string; rule: string }
  to: { outcome: string; rule: string }
  count: number
  /** The first few decisions changed, for an auditor to look up (audit search by id). */
  decisionIds: string[]
}

export interface ReplayResult {
  candidateRevision: string
  since: string
  until: string | null
  replayed: number
  /**
   * Denials summarised in query.refusals records (past the refusal budget: docs/floods.md): they keep no
   * database, purpose or subject, so they cannot be judged again; counted so the figure is not silent.
   */
  notReplayable: number
  changed: number
  changes: ReplayChange[]
}

const sampleIds = 5

/** Agency and officer histories from the ledger, for rebuilding the state a query was judged on. */
export class StateHistory {
  private readonly agencies = new Map<string, { time: number; state: AgencyState }[]>()
  private readonly officers = new Map<string, { time: number; state: OfficerState }[]>()

  /** Takes note of an operator.change or officer.change record (others are ignored). */
  note(record: LedgerRecord): void {
    if (record.type === 'operator.change') push(this.agencies, record.ori as string, { time: Date.parse(record.time), state: record.after as AgencyState })
    else if (record.type === 'officer.change') push(this.officers, `${record.ori as string} ${record.sub as string}`, { time: Date.parse(record.time), state: record.after as OfficerState })
  }

  /** The agency at the version recorded, else its last recorded state before `time`. */
  agency(ori: string, version: number | null, time: number): AgencyState | null {
    const history = this.agencies.get(ori)
    if (history === undefined || version === null) return null
    return history.find((entry) => entry.state.version === version)?.state ?? latestBefore(history, time)?.state ?? null
  }

  /** An agency as the ledger last showed it before `time` (an onBehalfOf or recipient ORI), or null. */
  agencyAt(ori: string, time: number): AgencyState | null {
    const history = this.agencies.get(ori)
    return history === undefined ? null : (latestBefore(history, time)?.state ?? null)
  }

  officer(ori: string, sub: string, time: number): OfficerSanction | null {
    const history = this.officers.get(`${ori} ${sub}`)
    return history === undefined ? null : (latestBefore(history, time)?.state.sanction ?? null)
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

function latestBefore<T extends { time: number }>(history: readonly T[], time: number): T | undefined {
  let found: T | undefined
  for (const entry of history) if (entry.time <= time && (found === undefined || entry.time >= found.time)) found = entry
  return found
}

/** Replays the query.decision records in [since, until] against the candidate, given the histories. */
export async function replayDecisions(records: AsyncIterable<LedgerRecord>, history: StateHistory, candidate: PolicySet, since: number, until: number | undefined): Promise<ReplayResult> {
  const changes = new Map<string, ReplayChange>()
  let replayed = 0
  let changed = 0
  let notReplayable = 0
  for await (const record of records) {
    if (record.type !== 'query.decision' && record.type !== 'query.refusals') continue
    const time = Date.parse(record.time)
    if (time < since || (until !== undefined && time > until)) continue
    if (record.type === 'query.refusals') {
      for (const refusal of record.refusals as { record: string; count: number }[]) if (refusal.record === 'query.decision') notReplayable += refusal.count
      continue
    }
    replayed++
    const ori = record.ori as string
    const agency = history.agency(ori, record.agencyVersion as number | null, time)
    // The organisations of the agencies it names, as the ledger's operator changes showed them then.
    const named = (other: unknown) => (typeof other !== 'string' || other === ori ? undefined : history.agencyAt(other, time))
    const query = { ...(record as unknown as RecordedQuery), onBehalfOfAgency: named(record.onBehalfOf), recipientAgency: named(record.recipient) }
    const decision = candidateDecision(candidate, query, agency, time, history.officer(ori, record.sub as string, time))
    const live = { outcome: record.outcome as string, rule: record.rule as string }
    const throttled = live.rule === 'rate.user' || live.rule === 'rate.agency'
    if (throttled ? decision.outcome === 'allow' : !decisionsDiffer(live, decision)) continue
    changed++
    const transition: Transition = live.outcome === decision.outcome ? 'rule' : decision.outcome === 'deny' ? 'allow→deny' : 'deny→allow'
    const key = `${ori} ${live.rule} ${decision.rule}`
    const entry = changes.get(key) ?? { ori, transition, from: live, to: { outcome: decision.outcome, rule: decision.rule }, count: 0, decisionIds: [] }
    entry.count++
    if (entry.decisionIds.length < sampleIds) entry.decisionIds.push(record.id as string)
    changes.set(key, entry)
  }
  return {
    candidateRevision: candidate.revision,
    since: new Date(since).toISOString(),
    until: until === undefined ? null : new Date(until).toISOString(),
    replayed,
    notReplayable,
    changed,
    changes: [...changes.values()].sort((left, right) => right.count - left.count || left.ori.localeCompare(right.ori) || left.from.rule.localeCompare(right.from.rule)),
  }
}
