// gatewayctl policy replay --against DIR --since TIME [--until TIME] [AUDIT_DIR]: what a candidate policy
// set would have decided otherwise, from the ledger's recorded queries (issue 13, point 3). Prints the
// changes per agency and rule (a table, or --json); the run is recorded in the ledger (audit.access,
// action replay) before anything is shown. Registered with the policy group (policy.ts).
import type { PolicySet } from '../policy/compile.js'
import { out, parseTime, table, UsageError } from './io.js'
import { recordAccess, type Auditor } from './operator-ledger.js'

export interface ReplayOptions extends Auditor {
  readonly against?: string
  readonly since?: string
  readonly until?: string
  readonly json?: boolean
}

export interface ReplayRange {
  readonly against: string
  readonly since: number
  readonly until: number | undefined
}

/** The candidate folder and the times, checked before anything is read: --against and --since are required. */
export function replayRange(options: ReplayOptions): ReplayRange {
  if (options.against === undefined || options.since === undefined) throw new UsageError('policy replay needs --against DIR and --since TIME')
  const since = parseTime('since', options.since)!
  const until = parseTime('until', options.until)
  if (until !== undefined && until < since) throw new UsageError('--until: before --since')
  return { against: options.against, since, until }
}

/** Replays the ledger under `dir` with the candidate set, records the run, and prints what would change. */
export async function replay(dir: string, candidate: PolicySet, range: ReplayRange, options: ReplayOptions): Promise<number> {
  // The replay's modules load when it runs, not with the command tree (command.ts says why).
  const [{ replayDecisions, StateHistory }, { ledgerRecords }] = await Promise.all([import('../audit/replay.js'), import('../audit/search.js')])
  // Two passes: the histories first (chains are read one after another, so a change in one chain may
  // come after a query it governed in another), then the queries.
  const history = new StateHistory()
  for await (const record of ledgerRecords(dir)) history.note(record)
  const result = await replayDecisions(ledgerRecords(dir), history, candidate, range.since, range.until)
  await recordAccess(dir, options, 'replay', { against: range.against, since: options.since, until: options.until }, result.changed)
  if (options.json === true) {
    out(JSON.stringify(result, null, 2))
    return 0
  }
  out(`candidate ${result.candidateRevision}: ${result.replayed} recorded queries since ${result.since}${result.until === null ? '' : ` until ${result.until}`}, ${result.changed} would be decided otherwise${result.notReplayable === 0 ? '' : ` (${result.notReplayable} more denials were summarised past the refusal budget and cannot be replayed)`}`)
  if (result.changes.length > 0) {
    out(table(['ORI', 'CHANGE', 'FROM', 'TO', 'QUERIES', 'DECISIONS (first 5)'], result.changes.map((change) => [change.ori, change.transition, change.from.rule, change.to.rule, String(change.count), change.decisionIds.join(' ')])))
  }
  return 0
}
