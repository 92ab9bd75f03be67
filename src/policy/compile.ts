// Compiles the policy files (already read, as text) into a PolicySet: strict schemas (unknown keys are
// errors), cross-file checks, every message as `file: path: problem`, and a revision hash of the files.
// Pure: no fs, no clock. Reading the directory is src/policy-files.ts's job.
import { createHash } from 'node:crypto'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { z } from 'zod'
import { compileSubjectValidator, subjectFields, type SubjectValidator } from './subject.js'
import {
  agencyKinds,
  citedRuleIds,
  officerSanctionTypes,
  databaseClasses,
  ruleIds,
  sanctionScopes,
  sanctionTypes,
  type AgencyState,
  type DatabasePolicy,
  type OfficerSanction,
  type Decision,
  type PurposePolicy,
  type RateLimitPolicy,
  type RuleId,
} from './types.js'

/** The policy files the gateway reads; any other file at the top of the directory is an error. */
export const policyFileNames = ['gateway.yaml', 'databases.yaml', 'purposes.yaml', 'limits.yaml'] as const
/** The database and purpose ids the public contract promises terminals. */
const contractDatabases = ['dmv.driver_license', 'dmv.vehicle_registration', 'criminal_history']
const contractPurposes = ['criminal_investigation', 'traffic_enforcement', 'immigration_enforcement', 'ccw_licensing']

export interface PolicySource {
  /** Path relative to the policy directory, e.g. `purposes.yaml` or `tests/seed.yaml`. */
  readonly file: string
  readonly text: string
}

/** The decisions that depend only on the (purpose, database) pair, built once at compile time. */
export interface PairDecisions {
  readonly immigration: Decision | null
  readonly notPermitted: Decision | null
  readonly caseNumberMissing: Decision | null
  readonly allow: Decision
}

export interface CompiledDatabase extends DatabasePolicy {
  readonly validateSubject: SubjectValidator
}

export interface CompiledPurpose extends PurposePolicy {
  readonly decisions: ReadonlyMap<string, PairDecisions>
}

export interface PolicyTestCase {
  readonly file: string
  readonly name: string
  readonly now: number
  readonly agency: AgencyState | null
  /** The sanction on the querying officer (issue 12, point 4), or null. */
  readonly officerSanction: OfficerSanction | null
  readonly query: {
    readonly database: string
    readonly purpose: string
    readonly caseNumber: string | undefined
    /** Issue 12, point 5: evaluated as an approved written request (POST /v1/requests). */
    readonly writtenRequest: boolean
  }
  readonly expect: { readonly outcome: 'allow' | 'deny'; readonly rule: RuleId }
}

export interface PolicySet {
  readonly revision: string
  readonly agreementVersion: string
  readonly citations: Readonly<Record<string, string>>
  readonly databases: ReadonlyMap<string, CompiledDatabase>
  readonly purposes: ReadonlyMap<string, CompiledPurpose>
  readonly limits: { readonly perUser: RateLimitPolicy; readonly perAgency: RateLimitPolicy }
  readonly tests: readonly PolicyTestCase[]
}

/** One problem per line, each `file: path: problem`. */
export class PolicyError extends Error {
  override name = 'PolicyError'
  constructor(readonly problems: readonly string[]) {
    super(`invalid policies:\n  ${problems.join('\n  ')}`)
  }
}

const id = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'expected a lower-case id such as dmv.driver_license')
const text = z.string().trim().min(1)
const isoTime = z.iso.datetime({ offset: true })
const rateLimit = z.strictObject({
  limit: z.number().int().min(1).max(1_000_000),
  windowSeconds: z.number().int().min(1).max(86_400),
})

const gatewayFile = z.strictObject({
  agreementVersion: text,
  citations: z.strictObject(Object.fromEntries(citedRuleIds.map((rule) => [rule, text])) as Record<(typeof citedRuleIds)[number], typeof text>),
})

const databasesFile = z.strictObject({
  databases: z
    .array(
      z.strictObject({
        id,
        title: text,
        class: z.enum(databaseClasses),
        backend: z.enum(['dmv', 'criminal_history']),
        path: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'expected an absolute URL path'),
        lookups: z
          .array(z.array(z.enum(Object.keys(subjectFields) as [string, ...string[]])).min(1))
          .min(1),
      }),
    )
    .min(1),
})

const purposesFile = z.strictObject({
  purposes: z
    .array(
      z.strictObject({
        id,
        title: text,
        code: z.string().regex(/^[A-Z]$/, 'expected a one-letter purpose code'),
        immigration: z.boolean().default(false),
        reaches: z.array(z.enum(databaseClasses)),
        caseNumber: z.enum(['required', 'optional']),
        citation: text,
      }),
    )
    .min(1),
})

const limitsFile = z.strictObject({ perUser: rateLimit, perAgency: rateLimit })

const ori = z.string().regex(/^[A-Z]{2}[0-9A-Z]{7}$/, 'expected an ORI: 2 letters and 7 letters or digits')
const testsFile = z.strictObject({
  cases: z
    .array(
      z.strictObject({
        name: text,
        now: isoTime.default('2026-01-01T00:00:00Z'),
        agency: z
          .strictObject({
            ori,
            name: text.default('Test agency'),
            kind: z.enum(agencyKinds),
            agreement: z.strictObject({ version: text, signedAt: isoTime }).nullable(),
            sanction: z
              .strictObject({
                type: z.enum(sanctionTypes),
                scope: z.enum(sanctionScopes).default('all'),
                reason: text.default('policy test'),
                since: isoTime.default('2025-01-01T00:00:00Z'),
                until: isoTime.optional(),
                // Issue 12, point 5: the agency may query only through written requests.
                writtenRequests: z.literal(true).optional(),
              })
              .nullable()
              .default(null),
            monitored: z.boolean().default(false),
          })
          .nullable(),
        // A sanction on the querying officer (issue 12, point 4), held to the admin API's shape rules.
        officerSanction: z
          .strictObject({
            type: z.enum(officerSanctionTypes),
            scope: z.enum(sanctionScopes).default('all'),
            reason: text.default('policy test'),
            since: isoTime.default('2025-01-01T00:00:00Z'),
            until: isoTime.optional(),
          })
          .nullable()
          .default(null),
        query: z.strictObject({
          database: id,
          purpose: id,
          caseNumber: text.optional(),
          // Issue 12, point 5: the query as a written request DOJ approved, not a terminal query.
          writtenRequest: z.boolean().default(false),
        }),
        expect: z.strictObject({ outcome: z.enum(['allow', 'deny']), rule: z.enum(ruleIds) }),
      }),
    )
    .min(1),
})

function issuePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top)' : path.map(String).join('.')
}

function parseFile<T>(source: PolicySource, schema: z.ZodType<T>, problems: string[]): T | undefined {
  let raw: unknown
  try {
    raw = parseYaml(source.text, { uniqueKeys: true })
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? `line ${error.linePos[0].line}` : '(top)'
    problems.push(`${source.file}: ${where}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
    return undefined
  }
  const result = schema.safeParse(raw)
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push(`${source.file}: ${issuePath([...issue.path, key])}: unknown key`)
      } else {
        problems.push(`${source.file}: ${issuePath(issue.path)}: ${issue.message}`)
      }
    }
    return undefined
  }
  return result.data
}

function duplicates<T extends { id: string }>(file: string, key: string, items: readonly T[], problems: string[]): void {
  const seen = new Set<string>()
  items.forEach((item, index) => {
    if (seen.has(item.id)) problems.push(`${file}: ${key}.${index}.id: duplicate id ${item.id}`)
    seen.add(item.id)
  })
}

function pairDecisions(
  purpose: PurposePolicy,
  database: DatabasePolicy,
  citations: Readonly<Record<string, string>>,
): PairDecisions {
  const deny = (rule: RuleId, reason: string, citation: string): Decision => Object.freeze({ outcome: 'deny', rule, reason, citation })
  return {
    // S.B. 54 and the Feb 2019 PPP: no non-criminal-history information for immigration enforcement.
    immigration:
      purpose.immigration && database.class === 'non_criminal_history'
        ? deny(
            'ppp.immigration_non_criminal',
            `California law forbids using non-criminal-history information (${database.title}) for immigration enforcement; only criminal history may be queried for that purpose.`,
            citations['ppp.immigration_non_criminal']!,
          )
        : null,
    notPermitted: purpose.reaches.includes(database.class)
      ? null
      : deny(
          'ppp.purpose_not_permitted',
          `The purpose "${purpose.title}" does not permit queries of ${database.title}.`,
          `${citations['ppp.purpose_not_permitted']}; ${purpose.citation}`,
        ),
    caseNumberMissing:
      purpose.caseNumber === 'required'
        ? deny('ppp.case_number_required', `A case number is required for the purpose "${purpose.title}".`, citations['ppp.case_number_required']!)
        : null,
    allow: Object.freeze({
      outcome: 'allow',
      rule: 'ppp.permitted',
      reason: `Permitted: "${purpose.title}" may query ${database.title}.`,
      citation: purpose.citation,
    }),
  }
}

/** Compiles the sources into a PolicySet, or throws PolicyError with every problem found. */
export function compilePolicySet(sources: readonly PolicySource[]): PolicySet {
  const problems: string[] = []
  const byName = new Map(sources.map((source) => [source.file, source]))
  for (const source of sources) {
    const topLevel = !source.file.includes('/')
    if (topLevel && !(policyFileNames as readonly string[]).includes(source.file)) {
      problems.push(`${source.file}: (top): unknown policy file (expected ${policyFileNames.join(', ')}, and tests/*.yaml)`)
    }
  }
  const read = <T>(name: string, schema: z.ZodType<T>): T | undefined => {
    const source = byName.get(name)
    if (source === undefined) {
      problems.push(`${name}: (top): file is missing`)
      return undefined
    }
    return parseFile(source, schema, problems)
  }
  const gateway = read('gateway.yaml', gatewayFile)
  const databasesDoc = read('databases.yaml', databasesFile)
  const purposesDoc = read('purposes.yaml', purposesFile)
  const limits = read('limits.yaml', limitsFile)
  const testDocs = sources
    .filter((source) => source.file.startsWith('tests/'))
    .map((source) => ({ file: source.file, doc: parseFile(source, testsFile, problems) }))

  if (gateway === undefined || databasesDoc === undefined || purposesDoc === undefined || limits === undefined) {
    throw new PolicyError(problems)
  }

  duplicates('databases.yaml', 'databases', databasesDoc.databases, problems)
  duplicates('purposes.yaml', 'purposes', purposesDoc.purposes, problems)
  for (const required of contractDatabases) {
    if (!databasesDoc.databases.some((database) => database.id === required)) {
      problems.push(`databases.yaml: databases: the contract's database ${required} is missing`)
    }
  }
  for (const required of contractPurposes) {
    if (!purposesDoc.purposes.some((purpose) => purpose.id === required)) {
      problems.push(`purposes.yaml: purposes: the contract's purpose ${required} is missing`)
    }
  }
  purposesDoc.purposes.forEach((purpose, index) => {
    if (purpose.id === 'immigration_enforcement' && !purpose.immigration) {
      problems.push(`purposes.yaml: purposes.${index}.immigration: immigration_enforcement must be marked immigration: true`)
    }
    // The rule holds whatever the data says, but data that contradicts S.B. 54 is a mistake to catch early.
    if (purpose.immigration && purpose.reaches.includes('non_criminal_history')) {
      problems.push(`purposes.yaml: purposes.${index}.reaches: an immigration purpose cannot reach non_criminal_history (S.B. 54)`)
    }
  })
  databasesDoc.databases.forEach((database, index) => {
    database.lookups.forEach((fields, lookup) => {
      if (new Set(fields).size !== fields.length) {
        problems.push(`databases.yaml: databases.${index}.lookups.${lookup}: a field is named twice`)
      }
    })
  })

  const databases = new Map<string, CompiledDatabase>()
  for (const database of databasesDoc.databases) {
    databases.set(database.id, Object.freeze({ ...database, validateSubject: compileSubjectValidator(database.lookups) }))
  }
  const purposes = new Map<string, CompiledPurpose>()
  for (const purpose of purposesDoc.purposes) {
    const decisions = new Map<string, PairDecisions>()
    for (const database of databases.values()) decisions.set(database.id, pairDecisions(purpose, database, gateway.citations))
    purposes.set(purpose.id, Object.freeze({ ...purpose, decisions }))
  }

  const tests: PolicyTestCase[] = []
  for (const { file, doc } of testDocs) {
    if (doc === undefined) continue
    doc.cases.forEach((testCase, index) => {
      if (!databases.has(testCase.query.database)) problems.push(`${file}: cases.${index}.query.database: unknown database ${testCase.query.database}`)
      if (!purposes.has(testCase.query.purpose)) problems.push(`${file}: cases.${index}.query.purpose: unknown purpose ${testCase.query.purpose}`)
      // As the admin API refuses them: a removal covers everything until reinstatement.
      if (testCase.officerSanction?.type === 'removal') {
        if (testCase.officerSanction.scope !== 'all') problems.push(`${file}: cases.${index}.officerSanction.scope: must be "all" for a removal`)
        if (testCase.officerSanction.until !== undefined) problems.push(`${file}: cases.${index}.officerSanction.until: only a suspension takes until`)
      }
      tests.push({
        file,
        name: testCase.name,
        now: Date.parse(testCase.now),
        agency: testCase.agency === null ? null : { ...testCase.agency, version: 1 },
        officerSanction: testCase.officerSanction,
        query: { database: testCase.query.database, purpose: testCase.query.purpose, caseNumber: testCase.query.caseNumber, writtenRequest: testCase.query.writtenRequest },
        expect: testCase.expect,
      })
    })
  }

  if (problems.length > 0) throw new PolicyError(problems)

  // The revision names exactly the files that shape decisions, so a decision can be traced to them.
  const hash = createHash('sha256')
  for (const name of policyFileNames) hash.update(`${name}\0${byName.get(name)!.text}\0`)
  return Object.freeze({
    revision: hash.digest('hex').slice(0, 16),
    agreementVersion: gateway.agreementVersion,
    citations: Object.freeze({ ...gateway.citations }),
    databases,
    purposes,
    limits,
    tests,
  })
}
