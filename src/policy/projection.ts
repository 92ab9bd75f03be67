// Answers trimmed to the purpose: a projection lists the record fields that go out, and is compiled once
// per policy set into a function that copies just those fields. Pure.
//
// Hot path: an allowed query with a projection pays one copy of its records (the parse is already paid:
// the upstream checks every answer by parsing it) and one JSON.stringify. The copy is generated code, as
// fast-json-stringify and the ledger's serializers do: one object literal per nested level, so every
// projected record of a kind has one shape, and no allocation but the output itself.
import { z } from 'zod'

/** How the data goes out: at a terminal, or as an approved written request (POST /v1/requests). */
export const answerChannels = ['terminal', 'written'] as const
export type AnswerChannel = (typeof answerChannels)[number]

import { agencyKinds, fullProjectionId, type AgencyKind, type Projection } from './types.js'

/** A field path segment: a plain property name (never one that reaches an object's prototype). */
const segmentPattern = /^[A-Za-z_][A-Za-z0-9_]*$/
const reservedSegments = new Set(['__proto__', 'constructor', 'prototype'])

/** Each level of a projection: a name maps to null (the whole value goes out) or to the level below. */
type FieldTree = Map<string, FieldTree | null>

/**
 * The problems with a projection's field list, as `[index, message]` pairs: a malformed path, a field
 * named twice, or a field listed together with a field inside it (`person` already sends `person.address`).
 */
export function fieldProblems(fields: readonly string[]): [number, string][] {
  const problems: [number, string][] = []
  const seen = new Map<string, number>()
  fields.forEach((field, index) => {
    const segments = field.split('.')
    const bad = segments.find((segment) => !segmentPattern.test(segment) || reservedSegments.has(segment))
    if (bad !== undefined) {
      problems.push([index, `expected a field path such as person.lastName; ${JSON.stringify(bad)} is not a field name`])
      return
    }
    if (seen.has(field)) {
      problems.push([index, `${field} is listed twice`])
      return
    }
    seen.set(field, index)
  })
  for (const [field, index] of seen) {
    const segments = field.split('.')
    for (let length = 1; length < segments.length; length++) {
      const parent = segments.slice(0, length).join('.')
      if (seen.has(parent)) problems.push([index, `${parent} already sends all of ${field}`])
    }
  }
  return problems
}

function fieldTree(fields: readonly string[]): FieldTree {
  const root: FieldTree = new Map()
  for (const field of fields) {
    const segments = field.split('.')
    let level = root
    segments.forEach((segment, depth) => {
      if (depth === segments.length - 1) {
        level.set(segment, null)
        return
      }
      let next = level.get(segment)
      if (next === undefined || next === null) {
        next = new Map()
        level.set(segment, next)
      }
      level = next
    })
  }
  return root
}

/**
 * Compiles a field list (already checked with fieldProblems) into a function from records to their
 * projections. A nested path reaches into an object, or into each object of a list. A value that is not
 * an object where the projection expects one is dropped (it could hold anything), null stays null, and a
 * listed field the record lacks stays absent.
 */
export function compileProjection(fields: readonly string[]): (records: readonly unknown[]) => unknown[] {
  const functions: string[] = []
  const emit = (level: FieldTree): string => {
    const name = `level${functions.length}`
    functions.push('') // reserves the name; the body is written once the levels below are
    const index = functions.length - 1
    // The names were checked against segmentPattern and are written as JSON string literals.
    const members = [...level].map(([key, below]) => {
      const quoted = JSON.stringify(key)
      return `${quoted}: ${below === null ? `v[${quoted}]` : `${emit(below)}(v[${quoted}])`}`
    })
    functions[index] =
      `function ${name}(v) {\n` +
      `  if (v === null || typeof v !== 'object') return v === null ? null : undefined\n` +
      `  if (Array.isArray(v)) return v.map(${name})\n` +
      `  return { ${members.join(', ')} }\n` +
      `}`
    return name
  }
  const top = emit(fieldTree(fields))
  const source = `${functions.join('\n')}\nreturn function project(records) {\n  const out = new Array(records.length)\n  for (let i = 0; i < records.length; i++) out[i] = ${top}(records[i])\n  return out\n}`
  return new Function(source)() as (records: readonly unknown[]) => unknown[]
}

// --- policies/projections.yaml ---------------------------------------------------------------------------

const projectionId = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'expected a lower-case id such as licence.without_address')
const policyId = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'expected a lower-case id such as dmv.driver_license')

export const projectionsFile = z.strictObject({
  projections: z
    .array(
      z.strictObject({
        id: projectionId,
        database: policyId,
        title: z.string().trim().min(1),
        fields: z.array(z.string()).min(1),
      }),
    )
    .default([]),
  answers: z
    .array(
      z.strictObject({
        database: policyId,
        purposes: z.array(policyId).min(1).optional(),
        kinds: z.array(z.enum(agencyKinds)).min(1).optional(),
        // Which channel the entry trims: terminal queries, written requests DOJ approved, or (left out) both.
        channels: z.array(z.enum(answerChannels)).min(1).optional(),
        // true: only for a querying agency that is an immigration authority (agencies.yaml); false: only
        // for one that is not; left out: either.
        immigrationAuthority: z.boolean().optional(),
        projection: projectionId,
      }),
    )
    .default([]),
  // The answer given when immigration evidence calls for minimisation (docs/evidence.md): per database,
  // the projection without what S.B. 54 calls personal information (home and work address).
  minimised: z.array(z.strictObject({ database: policyId, projection: projectionId })).default([]),
})
export type ProjectionsDoc = z.infer<typeof projectionsFile>

/** One entry of the answers list, as the policy file gives it. */
export interface AnswerRule {
  readonly database: string
  readonly purposes: readonly string[] | null
  readonly kinds: readonly AgencyKind[] | null
  readonly channels: readonly AnswerChannel[] | null
  readonly immigrationAuthority: boolean | null
  readonly projection: string
}

export interface CompiledProjections {
  readonly projections: ReadonlyMap<string, Projection>
  readonly answers: readonly AnswerRule[]
  /** The projection an allowed query gets (null: whole records): the first answer that matches. */
  projectionFor(purpose: string, database: string, kind: AgencyKind, channel?: AnswerChannel, immigrationAuthority?: boolean): Projection | null
  /** The projection a minimised answer of this database gets, or undefined when the file names none. */
  minimisedFor(database: string): Projection | undefined
}

/** Checks the file against the databases and purposes; pushes `projections.yaml: path: problem` lines. */
export function checkProjections(doc: ProjectionsDoc, databaseIds: ReadonlySet<string>, purposeIds: ReadonlySet<string>, problems: string[]): void {
  const file = 'projections.yaml'
  const databaseOf = new Map<string, string>()
  doc.projections.forEach((projection, index) => {
    if (projection.id === fullProjectionId) problems.push(`${file}: projections.${index}.id: ${fullProjectionId} is reserved for whole records`)
    else if (databaseOf.has(projection.id)) problems.push(`${file}: projections.${index}.id: duplicate id ${projection.id}`)
    databaseOf.set(projection.id, projection.database)
    if (!databaseIds.has(projection.database)) problems.push(`${file}: projections.${index}.database: unknown database ${projection.database}`)
    for (const [field, message] of fieldProblems(projection.fields)) problems.push(`${file}: projections.${index}.fields.${field}: ${message}`)
  })
  const used = new Set<string>()
  doc.answers.forEach((answer, index) => {
    if (!databaseIds.has(answer.database)) problems.push(`${file}: answers.${index}.database: unknown database ${answer.database}`)
    answer.purposes?.forEach((purpose, at) => {
      if (!purposeIds.has(purpose)) problems.push(`${file}: answers.${index}.purposes.${at}: unknown purpose ${purpose}`)
    })
    if (answer.projection === fullProjectionId) return
    used.add(answer.projection)
    const database = databaseOf.get(answer.projection)
    if (database === undefined) problems.push(`${file}: answers.${index}.projection: unknown projection ${answer.projection} (or ${fullProjectionId} for whole records)`)
    else if (database !== answer.database) problems.push(`${file}: answers.${index}.projection: ${answer.projection} projects ${database}, not ${answer.database}`)
  })
  const minimised = new Set<string>()
  doc.minimised.forEach((entry, index) => {
    if (!databaseIds.has(entry.database)) problems.push(`${file}: minimised.${index}.database: unknown database ${entry.database}`)
    if (minimised.has(entry.database)) problems.push(`${file}: minimised.${index}.database: ${entry.database} is listed twice`)
    minimised.add(entry.database)
    used.add(entry.projection)
    const database = databaseOf.get(entry.projection)
    if (database === undefined) problems.push(`${file}: minimised.${index}.projection: unknown projection ${entry.projection}`)
    else if (database !== entry.database) problems.push(`${file}: minimised.${index}.projection: ${entry.projection} projects ${database}, not ${entry.database}`)
  })
  doc.projections.forEach((projection, index) => {
    if (!used.has(projection.id)) problems.push(`${file}: projections.${index}: ${projection.id} is not used by any answer`)
  })
}

/** Compiles a checked file: each projection into its function, and the answers into a lookup. */
export function compileProjections(doc: ProjectionsDoc): CompiledProjections {
  const projections = new Map<string, Projection>()
  for (const projection of doc.projections) {
    projections.set(projection.id, Object.freeze({ id: projection.id, database: projection.database, title: projection.title, fields: projection.fields, apply: compileProjection(projection.fields) }))
  }
  const answers: AnswerRule[] = doc.answers.map((answer) => Object.freeze({ database: answer.database, purposes: answer.purposes ?? null, kinds: answer.kinds ?? null, channels: answer.channels ?? null, immigrationAuthority: answer.immigrationAuthority ?? null, projection: answer.projection }))
  const minimised = new Map(doc.minimised.map((entry) => [entry.database, projections.get(entry.projection)!]))
  return {
    projections,
    answers,
    minimisedFor: (database) => minimised.get(database),
    projectionFor(purpose, database, kind, channel = 'terminal', immigrationAuthority = false) {
      const answer = answers.find(
        (entry) =>
          entry.database === database &&
          (entry.purposes === null || entry.purposes.includes(purpose)) &&
          (entry.kinds === null || entry.kinds.includes(kind)) &&
          (entry.channels === null || entry.channels.includes(channel)) &&
          (entry.immigrationAuthority === null || entry.immigrationAuthority === immigrationAuthority),
      )
      return answer === undefined || answer.projection === fullProjectionId ? null : projections.get(answer.projection)!
    },
  }
}
