// What gatewayctl writes to the ledger itself: its own chain (`gatewayctl`, or `gatewayctl-2`… while
// another gatewayctl holds it) under an audit directory, each record durable before the command acts
// (state init and import) or shows what it read (audit search, reports: issue 13, point 6). Who acts:
// the operator named with --operator, else the OS user running the command.
import { hostname, userInfo } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Command } from 'commander'
import type { AuditLedger } from '../audit/ledger.js'
import type { auditAccessActions } from '../audit/record.js'
import { agencyTextLimits, oriPattern } from '../policy/types.js'
import type { RegistryCreator } from '../state/seed.js'
import { CommandFailed, UsageError } from './io.js'

/** The operator named, or the OS user running the command; the reason, held to the admin API's limits. */
export function creator(operator: string | undefined, reason: string): RegistryCreator {
  let name = operator
  if (name === undefined) {
    try {
      name = userInfo().username
    } catch {
      name = process.env.USER ?? ''
    }
  }
  if (name.length === 0 || name.length > agencyTextLimits.name) throw new UsageError(`--operator: 1 to ${agencyTextLimits.name} characters (the OS user by default)`)
  if (reason.length === 0 || reason.length > agencyTextLimits.reason) throw new UsageError(`--reason: 1 to ${agencyTextLimits.reason} characters`)
  return { operator: name, source: `gatewayctl@${hostname()}`, reason }
}

/** The ledger's `gatewayctl` chain under `auditDir`; if it cannot be opened, the command fails having done `nothing`. */
export async function openOperatorLedger(auditDir: string, nothing: string): Promise<AuditLedger> {
  // The ledger and its record schemas load only here: auditorOptions, in the command tree, needs none (command.ts).
  const [{ cliConfig }, { loadSigningKey }, { AuditLedger }] = await Promise.all([import('./settings.js'), import('../audit/checkpoint.js'), import('../audit/ledger.js')])
  const config = cliConfig()
  try {
    return await AuditLedger.open(auditDir, 'gatewayctl', {
      signingKey: loadSigningKey(auditDir, config.audit.signingKeyFile),
      checkpointRecords: config.audit.checkpointRecords,
      checkpointSeconds: config.audit.checkpointSeconds,
    })
  } catch (error) {
    throw new CommandFailed(`cannot write the audit record under ${auditDir}: ${(error as Error).message}; ${nothing}`)
  }
}

/** Appends and waits until the record is durable, or fails the command having done `nothing`. */
export async function appendDurably(ledger: AuditLedger, event: Parameters<AuditLedger['append']>[0], nothing: string, now = Date.now()): Promise<void> {
  try {
    await ledger.append(event, now)
  } catch (error) {
    throw new CommandFailed(`cannot write the audit record under ${ledger.dir}: ${(error as Error).message}; ${nothing}`)
  }
}

/** Who reads the ledger: --operator (or the OS user) and --operator-ori (or `unknown`). */
export interface Auditor {
  readonly operator?: string | undefined
  readonly operatorOri?: string | undefined
}

/** --operator and --operator-ori, which every command that reads the ledger takes for its audit.access record. */
export function auditorOptions(command: Command): Command {
  return command
    .option('--operator <name>', 'who reads, for the audit.access record (default: the OS user)')
    .option('--operator-ori <ori>', "the reader's agency, for the audit.access record (default: unknown)")
}

/**
 * Records an auditor's read (audit.access) in the gatewayctl chain of the ledger read, durably, before
 * anything read is shown: if it cannot be written, the command prints nothing and exits 1. `filter` is
 * the query as given (the options set), so "who searched for whom" is in the ledger.
 */
export async function recordAccess(auditDir: string, auditor: Auditor, action: (typeof auditAccessActions)[number], filter: Record<string, string | undefined>, resultCount: number): Promise<void> {
  const ori = auditor.operatorOri ?? 'unknown'
  if (ori !== 'unknown' && !oriPattern.test(ori)) throw new UsageError(`--operator-ori: expected an ORI such as CA0349400; got ${ori}`)
  const by = creator(auditor.operator, action)
  const given = Object.fromEntries(Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined))
  const nothing = 'nothing is shown (every read of the ledger is recorded)'
  const ledger = await openOperatorLedger(auditDir, nothing)
  try {
    await appendDurably(ledger, { type: 'audit.access', id: randomUUID(), ori, sub: by.operator, source: by.source, action, filter: given, resultCount }, nothing)
  } finally {
    await ledger.close()
  }
}
