// Compiles the policy files (already read, as text) into a PolicySet: strict schemas (unknown keys are
// errors), cross-file checks, every message as `file: path: problem`, and a revision hash of the files.
// Pure: no fs, no clock. Reading the directory is src/policy-files.ts's job.
import { createHash } from 'node:crypto'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { z } from 'zod'
import { authorityFile, authoritySchema, compileAuthority, noAuthority, type AuthorityPolicy } from './authority.js'
import { agenciesFile, checkAgencies, compileAgencies, type AgencyRules } from './agencies.js'
import { citationKey, citationProblem, compileStatuteMatcher, compileTermMatcher, type Statute, type StatuteMatcher, type TermMatcher } from './immigration.js'
import { checkProjections, compileProjections, projectionsFile, type AnswerChannel, type AnswerRule } from './projection.js'
import { compileSignals, noSignals, signalsFile, signalsSchema, type SignalPolicy } from './signals.js'
import { compileSubjectValidator, subjectFields, type SubjectValidator } from './subject.js'
import {
  agencyKinds,
  agencyTextLimits,
  citedRuleIds,
  organisationPattern,
  officerSanctionTypes,
  databaseClasses,
  evidenceActions,
  evidenceGroups,
  evidenceKinds,
  fullProjectionId,
  immigrationBases,
  oriPattern,
  ruleIds,
  sanctionScopes,
  sanctionTypes,
  type AgencyKind,
  type AgencyState,
  type DatabasePolicy,
  type OfficerSanction,
  type Decision,
  type EvidenceAction,
  type EvidenceGroup,
  type EvidenceKind,
  type ImmigrationBasis,
  type Projection,
  type PurposePolicy,
  type RateLimitPolicy,
  type RuleId,
} from './types.js'

/** The policy files the gateway reads; any other file at the top of the directory is an error. */
export const policyFileNames = ['gateway.yaml', 'databases.yaml', 'purposes.yaml', 'agencies.yaml', 'projections.yaml', 'limits.yaml'] as const
/**
 * Policy files a directory may leave out: signals.yaml (without it no misuse signal is computed) and
 * authority.yaml (without it no token acts as DOJ).
 */
export const optionalPolicyFileNames = [signalsFile, authorityFile] as const
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
  /** An immigration purpose on non-criminal-history data: the denial citing S.B. 54, and the one for federal agencies citing the PPP. */
  readonly immigration: { readonly california: Decision; readonly federal: Decision } | null
  readonly notPermitted: Decision | null
  readonly caseNumberMissing: Decision | null
  /** A monitored agency's query of this database without a justification (null: none is required). */
  readonly justificationMissing: Decision | null
  /** The allow for each kind of agency, with the projection its answer gets. */
  readonly allow: Readonly<Record<AgencyKind, Decision>>
  /** The same for a written request DOJ approved: the answers file may trim that channel differently. */
  readonly allowWritten: Readonly<Record<AgencyKind, Decision>>
  /** The two above for an agency that is an immigration authority (projections.yaml, `immigrationAuthority`). */
  readonly allowImmigrationAuthority: Readonly<Record<AgencyKind, Decision>>
  readonly allowImmigrationAuthorityWritten: Readonly<Record<AgencyKind, Decision>>
  /**
   * The answers given when immigration evidence calls for a review (non-criminal-history data only):
   * `minimise_and_review` without addresses, `review` as the allow would; null for criminal history.
   */
  readonly reviewed: { readonly minimise_and_review: Decision; readonly review: Readonly<Record<AgencyKind, Decision>> } | null
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
  /** The organisations of the other agencies the registry holds, by ORI: what the route reads for onBehalfOf and recipient. */
  readonly registered: ReadonlyMap<string, { readonly organisation: string | null }>
  /** The sanction on the querying officer (issue 12, point 4), or null. */
  readonly officerSanction: OfficerSanction | null
  readonly query: {
    readonly database: string
    readonly purpose: string
    readonly caseNumber: string | undefined
    /** Issue 12, point 5: evaluated as an approved written request (POST /v1/requests). */
    readonly writtenRequest: boolean
    readonly justification: string | undefined
    readonly onBehalfOf: string | undefined
    readonly recipient: string | undefined
    readonly unregistered: readonly string[] | undefined
  }
  readonly expect: {
    readonly outcome: 'allow' | 'deny'
    readonly rule: RuleId
    /** The projection id the allow applies (`full` for whole records), when the case checks it. */
    readonly projection: string | undefined
    /** Why the query was judged as immigration enforcement (`none`: it was not), when the case checks it. */
    readonly immigration: ImmigrationBasis | 'none' | undefined
    /** The kinds of evidence found (in any order, each once; [] for none), when the case checks them. */
    readonly evidence: readonly EvidenceKind[] | undefined
    /** The review the allow opens (`none`: it opens none), when the case checks it. */
    readonly review: Exclude<EvidenceAction, 'deny'> | 'none' | undefined
  }
}

/** What S.B. 54 and the PPP mean by immigration enforcement, and the laws whose citation marks it. */
export interface ImmigrationPolicy {
  readonly definition: string
  readonly source: string
  readonly statutes: readonly Statute[]
  /** The purpose a query is judged as when it is immigration enforcement under another name. */
  readonly purpose: CompiledPurpose
  readonly findStatutes: StatuteMatcher
  /** Plain-language signs (ICE, removal order, an A-number), matched on whole words. */
  readonly terms: readonly string[]
  readonly aNumbers: boolean
  readonly findTerms: TermMatcher
  /** What each kind of evidence does, for each group of agencies. */
  readonly actions: Readonly<Record<EvidenceGroup, Readonly<Record<EvidenceKind, EvidenceAction>>>>
}

export interface PolicySet {
  readonly revision: string
  readonly agreementVersion: string
  readonly citations: Readonly<Record<string, string>>
  /** Citations that differ for federal agencies (S.B. 54 binds California agencies; the PPP binds all). */
  readonly federalCitations: Readonly<Record<string, string>>
  readonly databases: ReadonlyMap<string, CompiledDatabase>
  readonly purposes: ReadonlyMap<string, CompiledPurpose>
  readonly agencies: AgencyRules
  readonly immigration: ImmigrationPolicy
  readonly projections: ReadonlyMap<string, Projection>
  readonly answers: readonly AnswerRule[]
  readonly limits: {
    readonly perUser: RateLimitPolicy
    readonly perAgency: RateLimitPolicy
    /** Refusals of one officer a minute written one by one; those past it go into a query.refusals summary. */
    readonly refusalBudget: { readonly perMinute: number }
  }
  /** Written requests (limits.yaml): how long DOJ's approval holds, from the moment it is given. */
  readonly writtenRequests: { readonly approvalSeconds: number }
  /** The misuse signals (signals.yaml); they never change a decision. */
  readonly signals: SignalPolicy
  /** Who may act as DOJ, and which changes need a second DOJ operator (authority.yaml). */
  readonly authority: AuthorityPolicy
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
  federalCitations: z.strictObject({ 'ppp.immigration_non_criminal': text }),
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

/** The shipped defaults (docs/evidence.md): what says immigration enforcement outright is refused; a mention is reviewed. */
export const defaultActions: Readonly<Record<EvidenceKind, EvidenceAction>> = {
  declared: 'deny',
  authority: 'deny',
  statute_subject: 'deny',
  statute_mentioned: 'minimise_and_review',
  terms: 'minimise_and_review',
  unknown_requester: 'minimise_and_review',
}
const evidenceActionsSchema = z.strictObject(Object.fromEntries(evidenceKinds.map((kind) => [kind, z.enum(evidenceActions).default(defaultActions[kind])])) as Record<EvidenceKind, z.ZodDefault<z.ZodEnum<{ [K in EvidenceAction]: K }>>>)
const defaultEvidenceActions = { california: { ...defaultActions }, federal: { ...defaultActions } }

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
  immigrationEnforcement: z.strictObject({
    definition: text,
    source: text,
    statutes: z.array(z.strictObject({ cite: text, aliases: z.array(text).default([]), title: text })).min(1),
    terms: z.array(text).default([]),
    aNumbers: z.boolean().default(false),
    actions: z.strictObject(Object.fromEntries(evidenceGroups.map((group) => [group, evidenceActionsSchema])) as Record<EvidenceGroup, typeof evidenceActionsSchema>).default(defaultEvidenceActions),
  }),
})

/** How long a DOJ approval of a written request holds when limits.yaml does not say: a week. */
export const defaultApprovalSeconds = 7 * 86_400
const limitsFile = z.strictObject({
  perUser: rateLimit,
  perAgency: rateLimit,
  // An approval not used by then is gone (410 request_gone): the agency files again if it still needs it.
  writtenRequests: z
    .strictObject({ approvalSeconds: z.number().int().min(3600).max(90 * 86_400) })
    .default({ approvalSeconds: defaultApprovalSeconds }),
  // Refusals of one officer's token written one by one each minute; past it they are summarised
  // (docs/floods.md). Absent in limits files written before it: 20.
  refusalBudget: z.strictObject({ perMinute: z.number().int().min(1).max(10_000) }).default({ perMinute: 20 }),
})

const ori = z.string().regex(oriPattern, 'expected an ORI: 2 letters and 7 letters or digits')
const organisation = z.string().max(agencyTextLimits.organisation).regex(organisationPattern, 'expected an organisation path such as DHS/ICE/HSI')
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
            organisation: organisation.nullable().default(null),
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
        // The other agencies the registry holds, as the query route reads them (an onBehalfOf or recipient ORI
        // listed neither here nor under query.unregistered is judged as not read: no evidence either way).
        registered: z.record(ori, z.strictObject({ organisation: organisation.nullable() })).default({}),
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
          justification: text.optional(),
          onBehalfOf: ori.optional(),
          recipient: ori.optional(),
          // The ORIs among onBehalfOf and recipient that are not registered (unknown_requester evidence).
          unregistered: z.array(ori).optional(),
          // Issue 12, point 5: the query as a written request DOJ approved, not a terminal query.
          writtenRequest: z.boolean().default(false),
        }),
        expect: z.strictObject({
          outcome: z.enum(['allow', 'deny']),
          rule: z.enum(ruleIds),
          projection: z.string().min(1).optional(),
          immigration: z.enum([...immigrationBases, 'none']).optional(),
          evidence: z.array(z.enum(evidenceKinds)).optional(),
          review: z.enum(['minimise_and_review', 'review', 'none']).optional(),
        }),
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
      } else if (issue.code === 'invalid_key') {
        // A record's key (an ORI in agencies.yaml): say what the key should be, not "invalid key".
        problems.push(`${source.file}: ${issuePath(issue.path)}: ${issue.issues[0]?.message ?? issue.message}`)
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

interface PairContext {
  readonly citations: Readonly<Record<string, string>>
  readonly federalCitations: Readonly<Record<string, string>>
  readonly definition: string
  readonly justificationRequiredOfMonitored: readonly string[]
  readonly projectionFor: (purpose: string, database: string, kind: AgencyKind, channel?: AnswerChannel, immigrationAuthority?: boolean) => Projection | null
  readonly minimisedFor: (database: string) => Projection | undefined
}

function pairDecisions(purpose: PurposePolicy, database: DatabasePolicy, context: PairContext): PairDecisions {
  const { citations } = context
  const deny = (rule: RuleId, reason: string, citation: string): Decision => Object.freeze({ outcome: 'deny', rule, reason, citation })
  // The law binding the agency: S.B. 54 binds California state and local agencies (and is cited for an
  // unregistered ORI with the PPP); for a federal agency the binding rule is the CLETS PPP.
  const forbidden = `non-criminal-history information (${database.title}) for immigration enforcement, that is ${context.definition}. Only criminal history may be queried for it.`
  return {
    // S.B. 54 and the Feb 2019 PPP: no non-criminal-history information for immigration enforcement.
    immigration:
      purpose.immigration && database.class === 'non_criminal_history'
        ? {
            california: deny('ppp.immigration_non_criminal', `California law (S.B. 54) and the CLETS PPP forbid using ${forbidden}`, citations['ppp.immigration_non_criminal']!),
            federal: deny(
              'ppp.immigration_non_criminal',
              `The CLETS PPP, which binds every subscribing agency, federal ones included, forbids using ${forbidden}`,
              context.federalCitations['ppp.immigration_non_criminal']!,
            ),
          }
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
    justificationMissing: context.justificationRequiredOfMonitored.includes(database.class)
      ? deny(
          'ppp.justification_required',
          `This agency is monitored: each of its queries of ${database.title} must state why it is needed (justification).`,
          citations['ppp.justification_required']!,
        )
      : null,
    allow: allowByKind(purpose, database, context, 'terminal', false),
    allowWritten: allowByKind(purpose, database, context, 'written', false),
    allowImmigrationAuthority: allowByKind(purpose, database, context, 'terminal', true),
    allowImmigrationAuthorityWritten: allowByKind(purpose, database, context, 'written', true),
    reviewed: database.class === 'non_criminal_history' ? reviewedAllows(purpose, database, context) : null,
  }
}

/**
 * The allows that open a review on immigration evidence (rule review.immigration_evidence): the
 * minimised one sends the database's projection without addresses (projections.yaml, `minimised`); the
 * other sends what the purpose's allow would.
 */
function reviewedAllows(purpose: PurposePolicy, database: DatabasePolicy, context: PairContext): NonNullable<PairDecisions['reviewed']> {
  const citation = context.citations['review.immigration_evidence']!
  const minimised = context.minimisedFor(database.id) ?? null
  return {
    minimise_and_review: Object.freeze({
      outcome: 'allow',
      rule: 'review.immigration_evidence',
      reason: `Answered without home or work address, and a review opened: the query shows signs of immigration enforcement that do not by themselves make it so ("${purpose.title}" may query ${database.title}).`,
      citation,
      projection: minimised,
      review: 'minimise_and_review',
    } satisfies Decision),
    review: Object.freeze(
      Object.fromEntries(
        agencyKinds.map((kind) => [
          kind,
          Object.freeze({
            outcome: 'allow',
            rule: 'review.immigration_evidence',
            reason: `Answered, and a review opened: the query shows signs of immigration enforcement that do not by themselves make it so ("${purpose.title}" may query ${database.title}).`,
            citation,
            projection: context.projectionFor(purpose.id, database.id, kind, 'terminal', false),
            review: 'review',
          } satisfies Decision),
        ]),
      ) as Record<AgencyKind, Decision>,
    ),
  }
}

function allowByKind(purpose: PurposePolicy, database: DatabasePolicy, context: PairContext, channel: AnswerChannel, immigrationAuthority: boolean): Readonly<Record<AgencyKind, Decision>> {
  return Object.freeze(
    Object.fromEntries(
      agencyKinds.map((kind) => [
        kind,
        Object.freeze({
          outcome: 'allow',
          rule: 'ppp.permitted',
          reason: `Permitted: "${purpose.title}" may query ${database.title}.`,
          citation: purpose.citation,
          projection: context.projectionFor(purpose.id, database.id, kind, channel, immigrationAuthority),
        } satisfies Decision),
      ]),
    ) as Record<AgencyKind, Decision>,
  )
}

/** Compiles the sources into a PolicySet, or throws PolicyError with every problem found. */
export function compilePolicySet(sources: readonly PolicySource[]): PolicySet {
  const problems: string[] = []
  const byName = new Map(sources.map((source) => [source.file, source]))
  for (const source of sources) {
    const topLevel = !source.file.includes('/')
    if (topLevel && !(policyFileNames as readonly string[]).includes(source.file) && !(optionalPolicyFileNames as readonly string[]).includes(source.file)) {
      problems.push(`${source.file}: (top): unknown policy file (expected ${policyFileNames.join(', ')}, optionally ${optionalPolicyFileNames.join(', ')}, and tests/*.yaml)`)
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
  const agenciesDoc = read('agencies.yaml', agenciesFile)
  const projectionsDoc = read('projections.yaml', projectionsFile)
  const limits = read('limits.yaml', limitsFile)
  const signalsSource = byName.get(signalsFile)
  const signalsDoc = signalsSource === undefined ? undefined : parseFile(signalsSource, signalsSchema, problems)
  const signals = signalsDoc === undefined ? noSignals : compileSignals(signalsDoc, problems)
  const authoritySource = byName.get(authorityFile)
  const authorityDoc = authoritySource === undefined ? undefined : parseFile(authoritySource, authoritySchema, problems)
  const authority = authorityDoc === undefined ? noAuthority : compileAuthority(authorityDoc, problems)
  const testDocs = sources
    .filter((source) => source.file.startsWith('tests/'))
    .map((source) => ({ file: source.file, doc: parseFile(source, testsFile, problems) }))

  if (gateway === undefined || databasesDoc === undefined || purposesDoc === undefined || agenciesDoc === undefined || projectionsDoc === undefined || limits === undefined) {
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
  const cited = new Map<string, string>()
  purposesDoc.immigrationEnforcement.statutes.forEach((statute, index) => {
    ;[statute.cite, ...statute.aliases].forEach((cite, at) => {
      const path = `purposes.yaml: immigrationEnforcement.statutes.${index}.${at === 0 ? 'cite' : `aliases.${at - 1}`}`
      const problem = citationProblem(cite)
      if (problem !== null) {
        problems.push(`${path}: ${problem}`)
        return
      }
      const key = citationKey(cite)
      const earlier = cited.get(key)
      if (earlier !== undefined) problems.push(`${path}: ${JSON.stringify(cite)} cites the same law as ${JSON.stringify(earlier)}`)
      else cited.set(key, cite)
    })
  })
  // S.B. 54's rule holds whatever the data says: a declared immigration purpose on non-criminal-history
  // data is refused, so an action that says otherwise would be a file that lies about what happens.
  const { actions } = purposesDoc.immigrationEnforcement
  for (const group of evidenceGroups) {
    if (actions[group].declared !== 'deny') problems.push(`purposes.yaml: immigrationEnforcement.actions.${group}.declared: must be deny (S.B. 54 and the PPP refuse a declared immigration purpose non-criminal-history data)`)
  }
  const minimisedDatabases = new Set(projectionsDoc.minimised.map((entry) => entry.database))
  if (evidenceGroups.some((group) => Object.values(actions[group]).includes('minimise_and_review'))) {
    for (const database of databasesDoc.databases) {
      if (database.class === 'non_criminal_history' && !minimisedDatabases.has(database.id)) {
        problems.push(`projections.yaml: minimised: ${database.id} has no minimised projection, and purposes.yaml's actions minimise answers`)
      }
    }
  }
  databasesDoc.databases.forEach((database, index) => {
    database.lookups.forEach((fields, lookup) => {
      if (new Set(fields).size !== fields.length) {
        problems.push(`databases.yaml: databases.${index}.lookups.${lookup}: a field is named twice`)
      }
    })
  })
  const databaseIds = new Set(databasesDoc.databases.map((database) => database.id))
  const purposeIds = new Set(purposesDoc.purposes.map((purpose) => purpose.id))
  checkAgencies(agenciesDoc, purposeIds, problems)
  checkProjections(projectionsDoc, databaseIds, purposeIds, problems)
  for (const { file, doc } of testDocs) {
    doc?.cases.forEach((testCase, index) => {
      if (!databaseIds.has(testCase.query.database)) problems.push(`${file}: cases.${index}.query.database: unknown database ${testCase.query.database}`)
      if (!purposeIds.has(testCase.query.purpose)) problems.push(`${file}: cases.${index}.query.purpose: unknown purpose ${testCase.query.purpose}`)
      // As the admin API refuses them: a removal covers everything until reinstatement.
      if (testCase.officerSanction?.type === 'removal') {
        if (testCase.officerSanction.scope !== 'all') problems.push(`${file}: cases.${index}.officerSanction.scope: must be "all" for a removal`)
        if (testCase.officerSanction.until !== undefined) problems.push(`${file}: cases.${index}.officerSanction.until: only a suspension takes until`)
      }
      const projection = testCase.expect.projection
      if (projection !== undefined && projection !== fullProjectionId && !projectionsDoc.projections.some((entry) => entry.id === projection)) {
        problems.push(`${file}: cases.${index}.expect.projection: unknown projection ${projection} (or ${fullProjectionId} for whole records)`)
      }
    })
  }
  if (problems.length > 0) throw new PolicyError(problems)

  // Everything is consistent: compile.
  const agencies = compileAgencies(agenciesDoc, purposesDoc.purposes, gateway.citations['ppp.purpose_not_for_agency'])
  const answers = compileProjections(projectionsDoc)
  const databases = new Map<string, CompiledDatabase>()
  for (const database of databasesDoc.databases) {
    databases.set(database.id, Object.freeze({ ...database, validateSubject: compileSubjectValidator(database.lookups) }))
  }
  const { immigrationEnforcement } = purposesDoc
  const context: PairContext = {
    citations: gateway.citations,
    federalCitations: gateway.federalCitations,
    definition: immigrationEnforcement.definition,
    justificationRequiredOfMonitored: agencies.justificationRequiredOfMonitored,
    projectionFor: answers.projectionFor,
    minimisedFor: answers.minimisedFor,
  }
  const purposes = new Map<string, CompiledPurpose>()
  for (const purpose of purposesDoc.purposes) {
    const decisions = new Map<string, PairDecisions>()
    for (const database of databases.values()) decisions.set(database.id, pairDecisions(purpose, database, context))
    purposes.set(purpose.id, Object.freeze({ ...purpose, decisions }))
  }
  const statutes = immigrationEnforcement.statutes.map((statute) => Object.freeze({ cite: statute.cite, aliases: statute.aliases, title: statute.title }))

  const tests: PolicyTestCase[] = []
  for (const { file, doc } of testDocs) {
    doc?.cases.forEach((testCase) => {
      const { query, expect } = testCase
      tests.push({
        file,
        name: testCase.name,
        now: Date.parse(testCase.now),
        agency: testCase.agency === null ? null : { ...testCase.agency, version: 1 },
        registered: new Map(Object.entries(testCase.registered)),
        officerSanction: testCase.officerSanction,
        query: { database: query.database, purpose: query.purpose, caseNumber: query.caseNumber, justification: query.justification, onBehalfOf: query.onBehalfOf, recipient: query.recipient, unregistered: query.unregistered, writtenRequest: query.writtenRequest },
        expect: { outcome: expect.outcome, rule: expect.rule, projection: expect.projection, immigration: expect.immigration, evidence: expect.evidence, review: expect.review },
      })
    })
  }

  // The revision names exactly the files that shape decisions, so a decision can be traced to them.
  const hash = createHash('sha256')
  for (const name of policyFileNames) hash.update(`${name}\0${byName.get(name)!.text}\0`)
  return Object.freeze({
    revision: hash.digest('hex').slice(0, 16),
    agreementVersion: gateway.agreementVersion,
    citations: Object.freeze({ ...gateway.citations }),
    federalCitations: Object.freeze({ ...gateway.federalCitations }),
    databases,
    purposes,
    agencies,
    immigration: Object.freeze({
      definition: immigrationEnforcement.definition,
      source: immigrationEnforcement.source,
      statutes,
      purpose: purposes.get('immigration_enforcement')!,
      findStatutes: compileStatuteMatcher(statutes),
      terms: immigrationEnforcement.terms,
      aNumbers: immigrationEnforcement.aNumbers,
      findTerms: compileTermMatcher(immigrationEnforcement.terms, immigrationEnforcement.aNumbers),
      actions: Object.freeze({ california: Object.freeze({ ...actions.california }), federal: Object.freeze({ ...actions.federal }) }),
    }),
    projections: answers.projections,
    answers: answers.answers,
    limits: Object.freeze({ perUser: limits.perUser, perAgency: limits.perAgency, refusalBudget: limits.refusalBudget }),
    writtenRequests: Object.freeze({ ...limits.writtenRequests }),
    signals,
    authority,
    tests,
  })
}
