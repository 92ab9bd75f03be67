// gatewayctl: the operators' and auditors' command line.
//   gatewayctl token --sub U --ori ORI --role R [--role R2] [--terminal T] [--ttl 1h]
//   gatewayctl policy check [DIR]      validate the policy files
//   gatewayctl policy test [DIR]       run the policy test cases
//   gatewayctl policy replay --against DIR --since T   what a candidate policy set would change, from the ledger
//   gatewayctl audit verify [DIR]      check the audit ledger
//   gatewayctl audit search …          find records for a misuse investigation
//   gatewayctl report misuse|compliance  the annual misuse report and the agencies' filings
//   gatewayctl signals hash-watchlist  keyed hashes of protected people's identifiers, for signals.yaml
//   gatewayctl agencies …              the admin API for DOJ operators
//   gatewayctl officers …              officer sanctions, through the admin API
//   gatewayctl state init|export|import  create, back up and restore a Redis store's agency registry
//   gatewayctl requests …              written requests: list, show, approve, refuse (DOJ operators)
//   gatewayctl filings …               agencies' annual misuse filings (DOJ operators)
import { parseArgs } from 'node:util'
import { developmentSecret } from '../dev-secret.js'
import { mintToken } from '../http/auth.js'
import { loadPolicyDir } from '../policy-files.js'
import { PolicyError } from '../policy/compile.js'
import { describeOutcome, projectionId, runPolicyTests } from '../policy/run-tests.js'
import { oriPattern } from '../audit/record.js'
import { verifyLedger } from '../audit/verify.js'
import { agencies, agenciesUsage } from './agencies.js'
import { officers, officersUsage } from './officers.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { devKeyFiles, readPublicKey } from '../audit/checkpoint.js'
import { segmentAges } from '../audit/retention.js'
import { searchLedger } from '../audit/search.js'
import { identifierFields, loadSubjectKey, searchIdentifiers, SubjectHasher } from '../audit/subjects.js'
import { readFileSync } from 'node:fs'
import { auditorOptions, recordAccess } from './operator-ledger.js'
import { report, reportUsage } from './reports.js'
import { cliConfig, CommandFailed, err, out, parseTime, table, UsageError } from './io.js'
import { replay, replayUsage } from './replay.js'
import { state, stateUsage } from './state.js'
import { requests, requestsUsage } from './requests.js'
import { filings, filingsUsage } from './filings.js'

const usage = `usage:
  gatewayctl token --sub USER --ori ORI --role ROLE [--role ROLE] [--terminal T] [--ttl 1h]
  gatewayctl policy check [DIR]
  gatewayctl policy test [DIR]
${replayUsage}
  gatewayctl audit verify [DIR] [--public-key FILE]
  gatewayctl audit retention [DIR] [--json]   (segments past AUDIT_RETENTION_DAYS; deletes nothing)
  gatewayctl audit search [--dir DIR] [--ori ORI] [--sub USER] [--subject FIELD=VALUE|VALUE] [--purpose P]
                          [--on-behalf-of ORI] [--recipient ORI] [--rule R] [--outcome allow|deny] [--type T]
                          [--since TIME] [--until TIME] [--json] [--operator NAME] [--operator-ori ORI]
${reportUsage}
  gatewayctl signals hash-watchlist [FILE]   (FIELD=VALUE lines from FILE or stdin -> keyed hashes)
${agenciesUsage}
${officersUsage}
${stateUsage}
${requestsUsage}
${filingsUsage}
`

/** `90s`, `15m`, `1h`, `7d` -> seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text)
  if (match === null) throw new UsageError(`--ttl: expected a number and a unit (s, m, h, d), e.g. 1h; got ${text}`)
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd']
  if (seconds < 1 || seconds > 30 * 86_400) throw new UsageError('--ttl: between 1s and 30d')
  return seconds
}

function token(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { sub: { type: 'string' }, ori: { type: 'string' }, role: { type: 'string', multiple: true }, terminal: { type: 'string' }, ttl: { type: 'string', default: '1h' } },
  })
  if (values.sub === undefined || values.ori === undefined || values.role === undefined) throw new UsageError('token needs --sub, --ori and --role')
  if (!oriPattern.test(values.ori)) throw new UsageError(`--ori: expected an ORI such as CA0194200; got ${values.ori}`)
  for (const role of values.role) if (role !== 'terminal' && role !== 'doj_operator') throw new UsageError(`--role: terminal or doj_operator; got ${role}`)
  const settings = cliConfig()
  const secret = settings.jwt.secret ?? developmentSecret(settings.stateDir, false)
  if (secret === undefined) {
    throw new UsageError(`no signing secret: set GATEWAY_JWT_SECRET, or start the gateway once (npm start) so it makes ${settings.stateDir}/dev-jwt-secret`)
  }
  out(mintToken(secret, settings.jwt.issuer, settings.jwt.audience, { sub: values.sub, ori: values.ori, roles: values.role, terminal: values.terminal, ttlSeconds: parseTtl(values.ttl) }))
  return 0
}

async function policy(args: string[]): Promise<number> {
  if (args[0] === 'replay') return replay(args.slice(1))
  const [action, dir = process.env.POLICY_DIR ?? './policies', ...rest] = args
  if ((action !== 'check' && action !== 'test') || rest.length > 0) throw new UsageError(usage)
  let set
  try {
    set = await loadPolicyDir(dir)
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error
    for (const problem of error.problems) err(problem)
    return 1
  }
  if (action === 'check') {
    out(`policies OK: revision ${set.revision}, ${set.databases.size} databases, ${set.purposes.size} purposes, ${set.projections.size} projections, ${set.tests.length} test cases`)
    return 0
  }
  const results = runPolicyTests(set)
  for (const result of results) {
    const { testCase, decision, passed } = result
    const line = `${passed ? 'pass' : 'FAIL'}  ${testCase.file}: ${testCase.name}`
    if (passed) out(line)
    else {
      const { expect } = testCase
      const got = { outcome: decision.outcome, rule: decision.rule, projection: expect.projection === undefined ? undefined : projectionId(decision), immigration: expect.immigration === undefined ? undefined : (decision.immigration ?? 'none') }
      out(`${line}\n      expected ${describeOutcome(expect)}, got ${describeOutcome(got)}`)
    }
  }
  const failed = results.filter((result) => !result.passed).length
  out(`${results.length - failed} passed, ${failed} failed`)
  return failed === 0 ? 0 : 1
}

async function search(args: string[]): Promise<number> {
  const text = { type: 'string' } as const
  const { values } = parseArgs({
    args,
    options: {
      dir: text,
      ori: text,
      sub: text,
      subject: text,
      purpose: text,
      'on-behalf-of': text,
      recipient: text,
      rule: text,
      outcome: text,
      type: text,
      since: text,
      until: text,
      json: { type: 'boolean', default: false },
      ...auditorOptions,
    },
  })
  for (const name of ['on-behalf-of', 'recipient'] as const) {
    const value = values[name]
    if (value !== undefined && !oriPattern.test(value)) throw new UsageError(`--${name}: expected an ORI such as CA0194200; got ${value}`)
  }
  const dir = values.dir ?? process.env.AUDIT_DIR ?? './var/audit'
  let hasher: SubjectHasher | undefined
  if (values.subject !== undefined) {
    if (searchIdentifiers(values.subject) === null && !/^(firstName|dateOfBirth)=/.test(values.subject)) {
      throw new UsageError(`--subject: expected VALUE or FIELD=VALUE with FIELD one of ${[...identifierFields, 'firstName', 'dateOfBirth'].join(', ')}`)
    }
    // The records a query returned are in the ledger only as keyed hashes: without the key, only the
    // lookups (in the clear) are searched.
    const settings = cliConfig()
    const key = loadSubjectKey(settings.audit.subjectKeyFile, settings.stateDir, false)
    if (key === undefined) err(`--subject: no subject key (AUDIT_SUBJECT_KEY, or ${settings.stateDir}/dev-subject-key): only the queries' lookups are searched, not the records they returned`)
    else hasher = new SubjectHasher(key)
  }
  const { operator, 'operator-ori': operatorOri, json, dir: _dir, ...filter } = values
  const found = await searchLedger(dir, { ...filter, onBehalfOf: values['on-behalf-of'], since: parseTime('since', values.since), until: parseTime('until', values.until) }, hasher)
  // Issue 13, point 6: who searched for whom, durable in the ledger before any record is shown.
  await recordAccess(dir, { operator, 'operator-ori': operatorOri }, 'search', filter, found.length)
  if (json) {
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
}

/** gatewayctl audit retention [DIR]: the segments past AUDIT_RETENTION_DAYS; deletes nothing. */
async function retention(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, allowPositionals: true })
  if (positionals.length > 1) throw new UsageError(usage)
  const config = cliConfig()
  const dir = positionals[0] ?? config.auditDir
  const ages = await segmentAges(dir, config.audit.retentionDays, Date.now())
  const past = ages.filter((age) => age.pastRetention)
  if (values.json) {
    out(JSON.stringify({ retentionDays: config.audit.retentionDays, segments: ages }, null, 2))
    return 0
  }
  out(table(['CHAIN', 'SEGMENT', 'BYTES', 'NEWEST RECORD', 'PAST RETENTION'], ages.map((age) => [age.instance, age.segment, String(age.bytes), age.newest ?? '-', age.pastRetention ? 'yes' : 'no'])))
  out(`${past.length} of ${ages.length} segments hold only records older than ${config.audit.retentionDays} days (AUDIT_RETENTION_DAYS); nothing was deleted`)
  return 0
}

/**
 * `signals hash-watchlist [FILE]`: reads identifiers, one `FIELD=VALUE` a line (a licence number, a plate,
 * a person as `person=LAST,FIRST,YYYY-MM-DD`...), and prints their keyed hashes, one a line: the
 * watch-list file signals.yaml names. The list in the clear stays with whoever keeps it; a problem names
 * the line, never its text.
 */
function signals(args: string[]): number {
  const [action, file, ...rest] = args
  if (action !== 'hash-watchlist' || rest.length > 0) throw new UsageError(usage)
  const settings = cliConfig()
  const key = loadSubjectKey(settings.audit.subjectKeyFile, settings.stateDir, false)
  if (key === undefined) throw new UsageError(`no subject key: set AUDIT_SUBJECT_KEY (the gateway's), or start the gateway once so it makes ${settings.stateDir}/dev-subject-key`)
  const hasher = new SubjectHasher(key)
  const lines = readFileSync(file ?? 0, 'utf8').split('\n')
  const hashes: string[] = []
  lines.forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') return
    const identifiers = line.includes('=') ? searchIdentifiers(line) : null
    if (identifiers === null) throw new UsageError(`line ${index + 1}: expected FIELD=VALUE with FIELD one of ${identifierFields.join(', ')}`)
    hashes.push(hasher.hash(identifiers[0]!))
  })
  out(`# watch-list: keyed hashes (gatewayctl signals hash-watchlist), ${hashes.length} identifiers\n${hashes.join('\n')}`)
  return 0
}

async function audit(args: string[]): Promise<number> {
  if (args[0] === 'search') return search(args.slice(1))
  if (args[0] === 'retention') return retention(args.slice(1))
  const { values, positionals } = parseArgs({ args, options: { 'public-key': { type: 'string' } }, allowPositionals: true })
  const [action, dir = process.env.AUDIT_DIR ?? './var/audit', ...rest] = positionals
  if (action !== 'verify' || rest.length > 0) throw new UsageError(usage)
  // Without --public-key, the development key beside the ledger is used, and said to be weaker: whoever
  // could rewrite the ledger could have replaced that key too.
  const besideLedger = join(dir, devKeyFiles.public)
  const keyFile = values['public-key'] ?? (existsSync(besideLedger) ? besideLedger : undefined)
  if (keyFile === undefined) err('checkpoint signatures not checked: no --public-key')
  else if (values['public-key'] === undefined) err(`checkpoint signatures checked with ${keyFile}, the key stored beside the ledger; pass --public-key to check with the key DOJ holds`)
  const report = await verifyLedger(dir, { publicKey: keyFile === undefined ? undefined : readPublicKey(keyFile) })
  for (const chain of report.chains) out(`${chain.instance}: ${chain.records} records in ${chain.segments} segments, last seq ${chain.lastSeq}, ${chain.checkpoints} signed checkpoints`)
  if (report.problem !== null) {
    const { file, seq, kind, message } = report.problem
    err(kind === 'no ledger' ? `${file}: ${kind}: ${message}` : `${file}: seq ${seq}: ${kind}: ${message}`)
    return 1
  }
  out(`ledger intact: ${report.chains.reduce((sum, chain) => sum + chain.records, 0)} records`)
  return 0
}

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv
  switch (command) {
    case 'token':
      return token(args)
    case 'policy':
      return policy(args)
    case 'audit':
      return audit(args)
    case 'report':
      return report(args)
    case 'signals':
      return signals(args)
    case 'agencies':
      return agencies(args)
    case 'officers':
      return officers(args)
    case 'state':
      return state(args)
    case 'requests':
      return requests(args)
    case 'filings':
      return filings(args)
    case undefined:
    case 'help':
    case '--help':
      out(usage)
      return command === undefined ? 2 : 0
    default:
      throw new UsageError(`unknown command ${command}\n${usage}`)
  }
}

try {
  process.exitCode = await run(process.argv.slice(2))
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    err(`gatewayctl: ${(error as Error).message}`)
    process.exitCode = 2
  } else if (error instanceof CommandFailed) {
    err(`gatewayctl: ${error.message}`)
    process.exitCode = 1
  } else {
    throw error
  }
}
