// Searching the ledger for a misuse investigation: "every query by this officer about this person".
// Streams every instance chain under AUDIT_DIR; a filter on a field leaves out records without it.
// With the subject key, `subject` also finds the queries whose answer touched the person, whatever the
// lookup (issue 13, point 1): a first pass collects the query.outcome records whose keyed hashes match,
// and the second lists their query.decision records beside those whose lookup matches in the clear.
import { createReadStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { foldUserId } from '../policy/identity.js'
import { lookupIdentifiers, searchIdentifiers, type SubjectHasher } from './subjects.js'

export interface SearchFilter {
  readonly ori?: string | undefined
  /** A user id: it finds the person's records under every spelling (compared folded: docs/identity.md). */
  readonly sub?: string | undefined
  /**
   * `field=value` (e.g. licenseNumber=A1234567, person=WRIGHT,JOHN,1980-01-31) or a bare value matched
   * against every subject field (and, with the key, every identifier of the records returned).
   */
  readonly subject?: string | undefined
  readonly purpose?: string | undefined
  /** The ORI a query was made on behalf of (its `onBehalfOf`). */
  readonly onBehalfOf?: string | undefined
  /** The ORI a query's result went to (its `recipient`). */
  readonly recipient?: string | undefined
  readonly rule?: string | undefined
  /** A kind of immigration evidence (docs/evidence.md): decisions whose evidence holds an item of it. */
  readonly evidence?: string | undefined
  readonly outcome?: string | undefined
  readonly type?: string | undefined
  /** Inclusive bounds, epoch ms. */
  readonly since?: number | undefined
  readonly until?: number | undefined
}

export type LedgerRecord = Record<string, unknown> & { seq: number; time: string; instance: string; type: string }

/** What `subject` resolved to: the identifiers it names, their keyed hashes, and the records they touched. */
interface SubjectMatch {
  readonly wanted: string
  readonly identifiers: ReadonlySet<string>
  readonly hashes: ReadonlySet<string>
  /** Ids of queries (decision and outcome share the id) and signals whose hashes match. */
  readonly touched: Set<string>
}

function clearMatches(subject: unknown, match: SubjectMatch): boolean {
  if (subject === null || typeof subject !== 'object') return false
  const fields = subject as Record<string, unknown>
  const { wanted } = match
  const equals = wanted.indexOf('=')
  if (equals > 0) {
    const value = fields[wanted.slice(0, equals)]
    if (typeof value === 'string' && value.toUpperCase() === wanted.slice(equals + 1).toUpperCase()) return true
  } else if (Object.values(fields).some((value) => typeof value === 'string' && value.toUpperCase() === wanted.toUpperCase())) {
    return true
  }
  // A name (and date of birth) given as `person=` or `name=` matches the lookup's fields.
  return lookupIdentifiers(fields as Record<string, string>).some((found) => match.identifiers.has(found))
}

function subjectMatches(record: LedgerRecord, match: SubjectMatch): boolean {
  if (match.touched.has(record.id as string) && (record.type === 'query.decision' || record.type === 'query.outcome' || record.type === 'signal.raised')) return true
  return clearMatches(record.subject, match)
}

/**
 * True when the record names the person `wanted` (a folded user id): by its spelling, by the folded id
 * recorded beside it, or, in a record written before ids were folded, by its spelling folded.
 */
function namesPerson(record: LedgerRecord, wanted: string): boolean {
  const { sub } = record
  if (sub === wanted || record.officer === wanted) return true
  return typeof sub === 'string' && record.officer === undefined && foldUserId(sub) === wanted
}

/** True when the record passes every filter that is set (`subject` as resolved by resolveSubject). */
function matchesResolved(record: LedgerRecord, filter: SearchFilter, subject: SubjectMatch | null): boolean {
  const time = Date.parse(record.time)
  if (filter.since !== undefined && time < filter.since) return false
  if (filter.until !== undefined && time > filter.until) return false
  if (filter.type !== undefined && record.type !== filter.type) return false
  if (filter.ori !== undefined && record.ori !== filter.ori) return false
  if (filter.sub !== undefined && !namesPerson(record, foldUserId(filter.sub) ?? filter.sub)) return false
  if (filter.purpose !== undefined && record.purpose !== filter.purpose) return false
  if (filter.onBehalfOf !== undefined && record.onBehalfOf !== filter.onBehalfOf) return false
  if (filter.recipient !== undefined && record.recipient !== filter.recipient) return false
  if (filter.evidence !== undefined && !(Array.isArray(record.evidence) && (record.evidence as { kind?: unknown }[]).some((item) => item?.kind === filter.evidence))) return false
  if (record.type === 'query.refusals') {
    // A summary of refusals (docs/floods.md) matches a rule or code any of them had; its refusals are
    // all denials or rejections (outcome deny); it holds no database, purpose or subject.
    const refusals = record.refusals as { rule?: string; code?: string }[]
    if (filter.rule !== undefined && !refusals.some((refusal) => refusal.rule === filter.rule || refusal.code === filter.rule)) return false
    if (filter.outcome !== undefined && filter.outcome !== 'deny') return false
  } else {
    if (filter.rule !== undefined && record.rule !== filter.rule) return false
    if (filter.outcome !== undefined && record.outcome !== filter.outcome) return false
  }
  if (subject !== null && !subjectMatches(record, subject)) return false
  return true
}

function resolveSubject(wanted: string, hasher: SubjectHasher | undefined): SubjectMatch {
  const identifiers = new Set(searchIdentifiers(wanted) ?? [])
  const hashes = new Set(hasher === undefined ? [] : [...identifiers].map((found) => hasher.hash(found)))
  return { wanted, identifiers, hashes, touched: new Set() }
}

/** Every record of every chain under `auditDir`, chain by chain, in order. */
export async function* ledgerRecords(auditDir: string): AsyncGenerator<LedgerRecord> {
  const instances = (await readdir(auditDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()
  for (const instance of instances) {
    const segments = (await readdir(join(auditDir, instance))).filter((name) => /^segment-\d{6}\.jsonl$/.test(name)).sort()
    for (const segment of segments) {
      for await (const line of createInterface({ input: createReadStream(join(auditDir, instance, segment), { encoding: 'utf8' }), crlfDelay: Infinity })) {
        if (line === '') continue
        try {
          yield JSON.parse(line) as LedgerRecord
        } catch {
          // A torn last line is not a record; `audit verify` reports damage.
        }
      }
    }
  }
}

/** A query.refusals summary's refusals in a line: `403 agency.unknown ×180, 400 invalid_subject ×5`. */
export function refusalKinds(record: LedgerRecord): string {
  const refusals = record.refusals as { status: number; rule?: string; code?: string; count: number }[]
  return refusals.map((refusal) => `${refusal.status} ${refusal.rule ?? refusal.code} ×${refusal.count}`).join(', ')
}

/** Oldest first across chains: by time, then chain, then place in the chain. */
export function ledgerOrder(left: LedgerRecord, right: LedgerRecord): number {
  return left.time.localeCompare(right.time) || left.instance.localeCompare(right.instance) || left.seq - right.seq
}

/** True when any of the record's keyed hashes (an outcome's subjects, a signal's subject) is wanted. */
function touches(record: LedgerRecord, hashes: ReadonlySet<string>): boolean {
  if (record.type === 'query.outcome' && Array.isArray(record.subjects)) return record.subjects.some((hash) => hashes.has(hash as string))
  if (record.type === 'signal.raised') {
    const detail = record.detail as Record<string, unknown> | undefined
    return typeof detail?.subject === 'string' && hashes.has(detail.subject)
  }
  return false
}

/**
 * The filter's subject resolved: with `hasher` (the subject key), a first pass collects the queries
 * whose returned records carried the identifier, and the signals about it.
 */
async function resolvedSubject(auditDir: string, filter: SearchFilter, hasher: SubjectHasher | undefined): Promise<SubjectMatch | null> {
  const subject = filter.subject === undefined ? null : resolveSubject(filter.subject, hasher)
  if (subject !== null && subject.hashes.size > 0) {
    for await (const record of ledgerRecords(auditDir)) if (touches(record, subject.hashes)) subject.touched.add(record.id as string)
  }
  return subject
}

/**
 * The first `limit` matching records, oldest first across chains, and how many matched in all. Holds at
 * most twice `limit` records at a time, however large the ledger: a search through the running gateway
 * (GET /v1/audit/search) must not take the memory its queries need.
 */
export async function searchLedgerFirst(auditDir: string, filter: SearchFilter, limit: number, hasher?: SubjectHasher): Promise<{ records: LedgerRecord[]; matched: number }> {
  const subject = await resolvedSubject(auditDir, filter, hasher)
  let kept: LedgerRecord[] = []
  let matched = 0
  for await (const record of ledgerRecords(auditDir)) {
    if (!matchesResolved(record, filter, subject)) continue
    matched++
    kept.push(record)
    // The chains are read one after another, not in time order: keep the oldest `limit` so far.
    if (kept.length >= 2 * limit) kept = kept.sort(ledgerOrder).slice(0, limit)
  }
  return { records: kept.sort(ledgerOrder).slice(0, limit), matched }
}

/**
 * The matching records, oldest first across chains. With `hasher` (the subject key), a subject filter
 * also matches the queries whose returned records carried the identifier, and signals about it.
 */
export async function searchLedger(auditDir: string, filter: SearchFilter, hasher?: SubjectHasher): Promise<LedgerRecord[]> {
  const subject = await resolvedSubject(auditDir, filter, hasher)
  const found: LedgerRecord[] = []
  for await (const record of ledgerRecords(auditDir)) if (matchesResolved(record, filter, subject)) found.push(record)
  return found.sort(ledgerOrder)
}
