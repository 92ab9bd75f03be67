// gatewayctl audit verify|search|retention: check the ledger's hash chains and signed checkpoints, find
// the records a misuse investigation asks for (each search recorded as audit.access before it is shown),
// and list the segments past the retention period.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
// subjects.ts is light (node:crypto only) and names the fields in --help; the rest loads in the actions (command.ts).
import { identifierFields, loadSubjectKey, searchIdentifiers, SubjectHasher } from '../audit/subjects.js'
import { evidenceKinds, oriPattern } from '../policy/types.js'
import { commandGroup, exitWith } from './command.js'
import { err, existingFolder, fileProblem, out, parseTime, table, UsageError } from './io.js'
import { auditorOptions, recordAccess, type Auditor } from './operator-ledger.js'

/** The ledger folder: the argument or option, else AUDIT_DIR, else ./var/audit. */
export const auditDir = (dir: string | undefined) => dir ?? process.env.AUDIT_DIR ?? './var/audit'
export const auditDirHelp = 'the audit ledger folder (default: AUDIT_DIR, else ./var/audit)'
/** The ledger folder, which must be there: a missing one is a usage error (exit 2) naming it. */
export const ledgerFolder = (dir: string | undefined) => existingFolder(auditDir(dir))

/** An Ed25519 public key (PEM); a file that holds none is a usage error naming it. */
async function publicKey(file: string) {
  const { readPublicKey } = await import('../audit/checkpoint.js')
  try {
    return readPublicKey(file)
  } catch (error) {
    const problem = fileProblem(error, file)
    if (problem !== undefined) throw new UsageError(problem)
    const message = (error as Error).message
    throw new UsageError(message.startsWith(`${file}:`) ? message : `${file}: not an Ed25519 public key (PEM): ${message}`)
  }
}

/**
 * The subject key for a --subject search, or undefined (said on stderr): the records a query returned are
 * in the ledger only as keyed hashes, so without the key only the lookups (in the clear) are searched.
 */
async function subjectHasher(subject: string): Promise<SubjectHasher | undefined> {
  if (searchIdentifiers(subject) === null && !/^(firstName|dateOfBirth)=/.test(subject)) {
    throw new UsageError(`--subject: expected VALUE or FIELD=VALUE with FIELD one of ${[...identifierFields, 'firstName', 'dateOfBirth'].join(', ')}`)
  }
  const { cliConfig } = await import('./settings.js')
  const settings = cliConfig()
  const key = loadSubjectKey(settings.audit.subjectKeyFile, settings.stateDir, false)
  if (key === undefined) err(`--subject: no subject key (AUDIT_SUBJECT_KEY, or ${settings.stateDir}/dev-subject-key): only the queries' lookups are searched, not the records they returned`)
  return key === undefined ? undefined : new SubjectHasher(key)
}

interface SearchOptions extends Auditor {
  readonly dir?: string
  readonly ori?: string
  readonly sub?: string
  readonly subject?: string
  readonly purpose?: string
  readonly onBehalfOf?: string
  readonly recipient?: string
  readonly rule?: string
  readonly evidence?: string
  readonly outcome?: string
  readonly type?: string
  readonly since?: string
  readonly until?: string
  readonly json?: boolean
}

/** Registers `gatewayctl audit …` under the program. */
export function auditCommands(program: Command): void {
  const audit = commandGroup(program, 'audit', 'the audit ledger: verify it, search it, list what is past retention')

  audit
    .command('verify')
    .description('check every hash chain and signed checkpoint; exit 1 with the first bad record\'s file and sequence number')
    .argument('[dir]', auditDirHelp)
    .option('--public-key <file>', "DOJ's Ed25519 public key (PEM) for the checkpoint signatures (default: the development key beside the ledger, which is weaker)")
    .action(
      exitWith(async (dirArgument: string | undefined, options: { publicKey?: string }) => {
        const [{ devKeyFiles }, { verifyLedger }] = await Promise.all([import('../audit/checkpoint.js'), import('../audit/verify.js')])
        const dir = await ledgerFolder(dirArgument)
        // Without --public-key, the development key beside the ledger is used, and said to be weaker: whoever
        // could rewrite the ledger could have replaced that key too.
        const besideLedger = join(dir, devKeyFiles.public)
        const keyFile = options.publicKey ?? (existsSync(besideLedger) ? besideLedger : undefined)
        const key = keyFile === undefined ? undefined : await publicKey(keyFile)
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

  auditorOptions(
    audit
      .command('search')
      .description('find the records a misuse investigation asks for; every filter given must match. The search is recorded in the ledger (audit.access) before anything is shown')
      .option('--dir <dir>', auditDirHelp)
      .option('--ori <ori>', 'the agency')
      .option('--sub <user>', 'the officer or operator')
      .option('--subject <value>', `a subject: FIELD=VALUE (FIELD one of ${identifierFields.join(', ')}, firstName, dateOfBirth) or a value in any field; with the subject key (AUDIT_SUBJECT_KEY) also the records a query returned`)
      .option('--purpose <purpose>', 'the declared purpose')
      .option('--on-behalf-of <ori>', 'the agency a query was run for')
      .option('--recipient <ori>', 'the agency the answer went to')
      .option('--rule <rule>', 'the rule that decided')
      .option('--evidence <kind>', `decisions with immigration evidence of this kind (${evidenceKinds.join(', ')})`)
      .option('--outcome <outcome>', 'allow or deny')
      .option('--type <type>', 'the record type, e.g. query.decision')
      .option('--since <time>', 'from this time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)')
      .option('--until <time>', 'up to this time')
      .option('--json', 'one record a line, as JSON'),
  ).action(
    exitWith(async (options: SearchOptions) => {
      for (const [name, value] of [['on-behalf-of', options.onBehalfOf], ['recipient', options.recipient]] as const) {
        if (value !== undefined && !oriPattern.test(value)) throw new UsageError(`--${name}: expected an ORI such as CA0194200; got ${value}`)
      }
      if (options.evidence !== undefined && !(evidenceKinds as readonly string[]).includes(options.evidence)) throw new UsageError(`--evidence: expected one of ${evidenceKinds.join(', ')}; got ${options.evidence}`)
      const { dir: dirOption, json, operator, operatorOri, ...filter } = options
      const hasher = filter.subject === undefined ? undefined : await subjectHasher(filter.subject)
      const dir = await ledgerFolder(dirOption)
      const { searchLedger, refusalKinds } = await import('../audit/search.js')
      const found = await searchLedger(dir, { ...filter, since: parseTime('since', filter.since), until: parseTime('until', filter.until) }, hasher)
      // Issue 13, point 6: who searched for whom, durable in the ledger before any record is shown.
      await recordAccess(dir, { operator, operatorOri }, 'search', filter, found.length)
      if (json === true) {
        for (const record of found) out(JSON.stringify(record))
        return 0
      }
      const cell = (value: unknown) => (value === undefined || value === null ? '-' : typeof value === 'object' ? Object.values(value as object).join(' ') : String(value))
      out(
        table(
          ['TIME', 'TYPE', 'ORI', 'OFFICER', 'DATABASE', 'PURPOSE', 'SUBJECT', 'OUTCOME', 'RULE', 'ID'],
          found.map((record) => [record.time, record.type, cell(record.ori), cell(record.sub ?? record.operator), cell(record.database), cell(record.purpose), cell(record.subject), ...(record.type === 'query.refusals' ? [`${String(record.count)} refused`, refusalKinds(record)] : [cell(record.outcome ?? record.status), cell(record.rule ?? record.code ?? record.action)]), cell(record.id)]),
        ),
      )
      out(`${found.length} records`)
      return 0
    }),
  )

  audit
    .command('retention')
    .description('list the closed segments whose records are all older than AUDIT_RETENTION_DAYS; deletes nothing')
    .argument('[dir]', auditDirHelp)
    .option('--json', 'the retention and every segment, as JSON')
    .action(
      exitWith(async (dirArgument: string | undefined, options: { json?: boolean }) => {
        const [{ cliConfig }, { segmentAges }] = await Promise.all([import('./settings.js'), import('../audit/retention.js')])
        const config = cliConfig()
        const ages = await segmentAges(await existingFolder(dirArgument ?? config.auditDir), config.audit.retentionDays, Date.now())
        if (options.json === true) {
          out(JSON.stringify({ retentionDays: config.audit.retentionDays, segments: ages }, null, 2))
          return 0
        }
        const past = ages.filter((age) => age.pastRetention)
        out(table(['CHAIN', 'SEGMENT', 'BYTES', 'NEWEST RECORD', 'PAST RETENTION'], ages.map((age) => [age.instance, age.segment, String(age.bytes), age.newest ?? '-', age.pastRetention ? 'yes' : 'no'])))
        out(`${past.length} of ${ages.length} segments hold only records older than ${config.audit.retentionDays} days (AUDIT_RETENTION_DAYS); nothing was deleted`)
        return 0
      }),
    )
}
