// gatewayctl audit verify|search: check the ledger's hash chains and signed checkpoints, and find the
// records a misuse investigation asks for.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { devKeyFiles, readPublicKey } from '../audit/checkpoint.js'
import { oriPattern } from '../audit/record.js'
import { searchLedger } from '../audit/search.js'
import { verifyLedger } from '../audit/verify.js'
import { commandGroup, exitWith } from './command.js'
import { err, fileProblem, out, table, UsageError } from './io.js'

/** The ledger folder: the argument or option, else AUDIT_DIR, else ./var/audit. */
export const auditDir = (dir: string | undefined) => dir ?? process.env.AUDIT_DIR ?? './var/audit'
export const auditDirHelp = 'the audit ledger folder (default: AUDIT_DIR, else ./var/audit)'

/** An Ed25519 public key (PEM); a file that holds none is a usage error naming it. */
function publicKey(file: string) {
  try {
    return readPublicKey(file)
  } catch (error) {
    const problem = fileProblem(error, file)
    if (problem !== undefined) throw new UsageError(problem)
    const message = (error as Error).message
    throw new UsageError(message.startsWith(`${file}:`) ? message : `${file}: not an Ed25519 public key (PEM): ${message}`)
  }
}

function time(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const parsed = Date.parse(value)
  if (Number.isNaN(parsed)) throw new UsageError(`--${name}: expected a time such as 2026-01-31 or 2026-01-31T12:00:00Z; got ${value}`)
  return parsed
}

interface SearchOptions {
  readonly dir?: string
  readonly ori?: string
  readonly sub?: string
  readonly subject?: string
  readonly purpose?: string
  readonly onBehalfOf?: string
  readonly recipient?: string
  readonly rule?: string
  readonly outcome?: string
  readonly type?: string
  readonly since?: string
  readonly until?: string
  readonly json?: boolean
}

/** Registers `gatewayctl audit …` under the program. */
export function auditCommands(program: Command): void {
  const audit = commandGroup(program, 'audit', 'the audit ledger: verify it, search it')

  audit
    .command('verify')
    .description('check every hash chain and signed checkpoint; exit 1 with the first bad record\'s file and sequence number')
    .argument('[dir]', auditDirHelp)
    .option('--public-key <file>', "DOJ's Ed25519 public key (PEM) for the checkpoint signatures (default: the development key beside the ledger, which is weaker)")
    .action(
      exitWith(async (dirArgument: string | undefined, options: { publicKey?: string }) => {
        const dir = auditDir(dirArgument)
        // Without --public-key, the development key beside the ledger is used, and said to be weaker: whoever
        // could rewrite the ledger could have replaced that key too.
        const besideLedger = join(dir, devKeyFiles.public)
        const keyFile = options.publicKey ?? (existsSync(besideLedger) ? besideLedger : undefined)
        const key = keyFile === undefined ? undefined : publicKey(keyFile)
        if (keyFile === undefined) err('checkpoint signatures not checked: no --public-key')
        else if (options.publicKey === undefined) err(`checkpoint signatures checked with ${keyFile}, the key stored beside the ledger; pass --public-key to check with the key DOJ holds`)
        const report = await verifyLedger(dir, { publicKey: key })
        for (const chain of report.chains) out(`${chain.instance}: ${chain.records} records in ${chain.segments} segments, last seq ${chain.lastSeq}, ${chain.checkpoints} signed checkpoints`)
        if (report.problem !== null) {
          const { file, seq, kind, message } = report.problem
          err(kind === 'no ledger' ? `${file}: ${kind}: ${message}` : `${file}: seq ${seq}: ${kind}: ${message}`)
          return 1
        }
        out(`ledger intact: ${report.chains.reduce((sum, chain) => sum + chain.records, 0)} records`)
        return 0
      }),
    )

  audit
    .command('search')
    .description('find the records a misuse investigation asks for; every filter given must match')
    .option('--dir <dir>', auditDirHelp)
    .option('--ori <ori>', 'the agency')
    .option('--sub <user>', 'the officer or operator')
    .option('--subject <value>', 'a subject: FIELD=VALUE (e.g. licenseNumber=A1234567) or a value in any field')
    .option('--purpose <purpose>', 'the declared purpose')
    .option('--on-behalf-of <ori>', 'the agency a query was run for')
    .option('--recipient <ori>', 'the agency the answer went to')
    .option('--rule <rule>', 'the rule that decided')
    .option('--outcome <outcome>', 'allow or deny')
    .option('--type <type>', 'the record type, e.g. query.decision')
    .option('--since <time>', 'from this time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)')
    .option('--until <time>', 'up to this time')
    .option('--json', 'one record a line, as JSON')
    .action(
      exitWith(async (options: SearchOptions) => {
        for (const [name, value] of [['on-behalf-of', options.onBehalfOf], ['recipient', options.recipient]] as const) {
          if (value !== undefined && !oriPattern.test(value)) throw new UsageError(`--${name}: expected an ORI such as CA0194200; got ${value}`)
        }
        const { dir, json, ...filters } = options
        const found = await searchLedger(auditDir(dir), { ...filters, since: time('since', options.since), until: time('until', options.until) })
        if (json === true) {
          for (const record of found) out(JSON.stringify(record))
          return 0
        }
        const cell = (value: unknown) => (value === undefined || value === null ? '-' : typeof value === 'object' ? Object.values(value as object).join(' ') : String(value))
        out(
          table(
            ['TIME', 'TYPE', 'ORI', 'OFFICER', 'DATABASE', 'PURPOSE', 'SUBJECT', 'OUTCOME', 'RULE', 'ID'],
            found.map((record) => [record.time, record.type, cell(record.ori), cell(record.sub ?? record.operator), cell(record.database), cell(record.purpose), cell(record.subject), cell(record.outcome ?? record.status), cell(record.rule ?? record.code ?? record.action), cell(record.id)]),
          ),
        )
        out(`${found.length} records`)
        return 0
      }),
    )
}
