// gatewayctl policy replay --against DIR --since TIME [--until TIME] [AUDIT_DIR]: what a candidate policy
// set would have decided otherwise, from the ledger's recorded queries (issue 13, point 3). Prints the
// changes per agency and rule (a table, or --json); the run is recorded in the ledger (audit.access,
// action replay) before anything is shown.
import { parseArgs } from 'node:util'
import { replayDecisions, StateHistory } from '../audit/replay.js'
import { ledgerRecords } from '../audit/search.js'
import { loadPolicyDir } from '../policy-files.js'
import { PolicyError } from '../policy/compile.js'
import { auditorOptions, recordAccess } from './operator-ledger.js'
import { err, out, parseTime, table, UsageError } from './io.js'

export const replayUsage = `  gatewayctl policy replay --against DIR --since TIME [--until TIME] [--json] [AUDIT_DIR] [--operator NAME] [--operator-ori ORI]`

export async function replay(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { against: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, json: { type: 'boolean', default: false }, ...auditorOptions }, allowPositionals: true })
  if (positionals.length > 1) throw new UsageError(replayUsage)
  if (values.against === undefined || values.since === undefined) throw new UsageError(`policy replay needs --against DIR and --since TIME\n${replayUsage}`)
  const since = parseTime('since', values.since)!
  const until = parseTime('until', values.until)
  if (until !== undefined && until < since) throw new UsageError('--until: before --since')
  const dir = positionals[0] ?? process.env.AUDIT_DIR ?? './var/audit'
  let candidate
  try {
    candidate = await loadPolicyDir(values.against)
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error
    for (const problem of error.problems) err(problem)
    return 1
  }
  // Two passes: the histories first (chains are read one after another, so a change in one chain may
  // come after a query it governed in another), then the queries.
  const history = new StateHistory()
  for await (const record of ledgerRecords(dir)) history.note(record)
  const result = await replayDecisions(ledgerRecords(dir), history, candidate, since, until)
  await recordAccess(dir, values, 'replay', { against: values.against, since: values.since, until: values.until }, result.changed)
  if (values.json) {
    out(JSON.stringify(result, null, 2))
    return 0
  }
  out(`candidate ${result.candidateRevision}: ${result.replayed} recorded queries since ${result.since}${result.until === null ? '' : ` until ${result.until}`}, ${result.changed} would be decided otherwise`)
  if (result.changes.length > 0) {
    out(table(['ORI', 'CHANGE', 'FROM', 'TO', 'QUERIES', 'DECISIONS (first 5)'], result.changes.map((change) => [change.ori, change.transition, change.from.rule, change.to.rule, String(change.count), change.decisionIds.join(' ')])))
  }
  return 0
}
