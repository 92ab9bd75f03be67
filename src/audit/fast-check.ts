// A cheaper yes for the two records every query writes. The ledger refuses a record that would not
// verify (its zod schema in record.ts) before the record joins a batch; zod costs ~3-4 µs a record on
// the query path, two records a query. These checks answer only "certainly valid": each condition is
// the schema's own or stricter, so a record they pass is one zod passes (test/fast-check.test.ts
// compares them with zod on mutated records), and anything they do not pass is judged by zod, which
// also gives the message. The members are listed here, not taken from the schemas: a member added to a
// schema is then unknown here (its records go to zod, never pass unchecked), and the test comparing
// these lists with the schemas' keys fails until it is checked here too.
import { databaseClasses, evidenceKinds, immigrationBases, ruleIds } from '../policy/types.js'
import type { AuditEvent, EventType } from './record.js'

const decisionKeys = new Set([
  'type', 'id', 'ori', 'sub', 'officer', 'terminal', 'source', 'database', 'databaseClass', 'purpose', 'caseNumber', 'justification', 'onBehalfOf', 'recipient',
  'subject', 'outcome', 'rule', 'immigration', 'evidence', 'review', 'projection', 'policyRevision', 'agencyVersion', 'monitored',
])
const outcomeKeys = new Set(['type', 'id', 'status', 'code', 'recordCount', 'latencyMs', 'subjects'])
const classes = new Set<unknown>(databaseClasses)
const rules = new Set<unknown>(ruleIds)
const bases = new Set<unknown>(immigrationBases)
const kinds = new Set<unknown>(evidenceKinds)
const evidenceItemKeys = new Set(['kind', 'field', 'text'])

const isText = (value: unknown) => typeof value === 'string'
const isTextOrNull = (value: unknown) => value === null || typeof value === 'string'
const isOptionalText = (value: unknown) => value === undefined || typeof value === 'string'
const isInt = (value: unknown) => Number.isSafeInteger(value)

/** Only own string keys the schema knows (for...in also walks inherited ones: stricter than zod). */
function onlyKnownKeys(event: object, known: ReadonlySet<string>): boolean {
  for (const key in event) if (!known.has(key)) return false
  return true
}

/** A plain object of string values, as z.record(z.string(), z.string()) takes it, and no more. */
function isTextRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) return false
  for (const key in value) if (typeof (value as Record<string, unknown>)[key] !== 'string') return false
  return Object.getOwnPropertySymbols(value).length === 0
}

function isTextArray(value: unknown): boolean {
  if (!Array.isArray(value)) return false
  for (let index = 0; index < value.length; index++) if (typeof value[index] !== 'string') return false
  return true
}

/** The evidence list as the schema takes it: plain objects of exactly a known kind, a field and a text. */
function isEvidence(value: unknown): boolean {
  if (!Array.isArray(value)) return false
  for (let index = 0; index < value.length; index++) {
    const item: unknown = value[index]
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return false
    const prototype = Object.getPrototypeOf(item)
    if (prototype !== Object.prototype && prototype !== null) return false
    const { kind, field, text } = item as Record<string, unknown>
    if (!kinds.has(kind) || typeof field !== 'string' || typeof text !== 'string') return false
    if (!onlyKnownKeys(item, evidenceItemKeys) || Object.getOwnPropertySymbols(item).length !== 0) return false
  }
  return true
}

function decisionValid(event: Record<string, unknown>): boolean {
  return (
    isText(event.id) && isText(event.ori) && isText(event.sub) && isOptionalText(event.officer) && isTextOrNull(event.terminal) && isText(event.source) &&
    isText(event.database) && classes.has(event.databaseClass) && isText(event.purpose) && isTextOrNull(event.caseNumber) &&
    isOptionalText(event.justification) && isOptionalText(event.onBehalfOf) && isOptionalText(event.recipient) &&
    isTextRecord(event.subject) && (event.outcome === 'allow' || event.outcome === 'deny') && rules.has(event.rule) &&
    (event.immigration === undefined || bases.has(event.immigration)) && (event.evidence === undefined || isEvidence(event.evidence)) &&
    isOptionalText(event.review) && isOptionalText(event.projection) && isText(event.policyRevision) &&
    (event.agencyVersion === null || isInt(event.agencyVersion)) && typeof event.monitored === 'boolean' &&
    onlyKnownKeys(event, decisionKeys)
  )
}

function outcomeValid(event: Record<string, unknown>): boolean {
  return (
    isText(event.id) && isInt(event.status) && isTextOrNull(event.code) && isInt(event.recordCount) && isInt(event.latencyMs) &&
    (event.subjects === undefined || isTextArray(event.subjects)) && onlyKnownKeys(event, outcomeKeys)
  )
}

/** The members each cheaper check knows, to compare with the schemas (test/fast-check.test.ts). */
export const checkedMembers: Readonly<Partial<Record<EventType, ReadonlySet<string>>>> = { 'query.decision': decisionKeys, 'query.outcome': outcomeKeys }

// A Map, not an object literal: a bad type such as "constructor" must find nothing.
const checks = new Map<string, (event: Record<string, unknown>) => boolean>([
  ['query.decision', decisionValid],
  ['query.outcome', outcomeValid],
] satisfies [EventType, unknown][])

/** True only when the event certainly verifies as a record of its type; false means "ask zod". */
export function certainlyValid(event: AuditEvent): boolean {
  const check = checks.get(event.type)
  return check !== undefined && check(event as unknown as Record<string, unknown>)
}
