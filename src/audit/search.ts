// Searching the ledger for a misuse investigation: "every query by this officer about this person".
// Streams every instance chain under AUDIT_DIR; a filter on a field leaves out records without it.
import { createReadStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export interface SearchFilter {
  readonly ori?: string | undefined
  readonly sub?: string | undefined
  /** `field=value` (e.g. licenseNumber=A1234567) or a bare value matched against every subject field. */
  readonly subject?: string | undefined
  readonly purpose?: string | undefined
  /** The ORI a query was made on behalf of (its `onBehalfOf`). */
  readonly onBehalfOf?: string | undefined
  /** The ORI a query's result went to (its `recipient`). */
  readonly recipient?: string | undefined
  readonly rule?: string | undefined
  readonly outcome?: string | undefined
  readonly type?: string | undefined
  /** Inclusive bounds, epoch ms. */
  readonly since?: number | undefined
  readonly until?: number | undefined
}

export type LedgerRecord = Record<string, unknown> & { seq: number; time: string; instance: string; type: string }

function subjectMatches(subject: unknown, wanted: string): boolean {
  if (subject === null || typeof subject !== 'object') return false
  const fields = subject as Record<string, unknown>
  const equals = wanted.indexOf('=')
  if (equals > 0) {
    const value = fields[wanted.slice(0, equals)]
    return typeof value === 'string' && value.toUpperCase() === wanted.slice(equals + 1).toUpperCase()
  }
  return Object.values(fields).some((value) => typeof value === 'string' && value.toUpperCase() === wanted.toUpperCase())
}

/** True when the record passes every filter that is set. */
export function matches(record: LedgerRecord, filter: SearchFilter): boolean {
  const time = Date.parse(record.time)
  if (filter.since !== undefined && time < filter.since) return false
  if (filter.until !== undefined && time > filter.until) return false
  if (filter.type !== undefined && record.type !== filter.type) return false
  if (filter.ori !== undefined && record.ori !== filter.ori) return false
  if (filter.sub !== undefined && record.sub !== filter.sub) return false
  if (filter.purpose !== undefined && record.purpose !== filter.purpose) return false
  if (filter.onBehalfOf !== undefined && record.onBehalfOf !== filter.onBehalfOf) return false
  if (filter.recipient !== undefined && record.recipient !== filter.recipient) return false
  if (filter.rule !== undefined && record.rule !== filter.rule) return false
  if (filter.outcome !== undefined && record.outcome !== filter.outcome) return false
  if (filter.subject !== undefined && !subjectMatches(record.subject, filter.subject)) return false
  return true
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

/** Oldest first across chains: by time, then chain, then place in the chain. */
export function ledgerOrder(left: LedgerRecord, right: LedgerRecord): number {
  return left.time.localeCompare(right.time) || left.instance.localeCompare(right.instance) || left.seq - right.seq
}

/**
 * The first `limit` matching records, oldest first across chains, and how many matched in all. Holds at
 * most twice `limit` records at a time, however large the ledger: a search through the running gateway
 * (GET /v1/audit/search) must not take the memory its queries need.
 */
export async function searchLedgerFirst(auditDir: string, filter: SearchFilter, limit: number): Promise<{ records: LedgerRecord[]; matched: number }> {
  let kept: LedgerRecord[] = []
  let matched = 0
  for await (const record of ledgerRecords(auditDir)) {
    if (!matches(record, filter)) continue
    matched++
    kept.push(record)
    // The chains are read one after another, not in time order: keep the oldest `limit` so far.
    if (kept.length >= 2 * limit) kept = kept.sort(ledgerOrder).slice(0, limit)
  }
  return { records: kept.sort(ledgerOrder).slice(0, limit), matched }
}

/** The matching records, oldest first across chains. */
export async function searchLedger(auditDir: string, filter: SearchFilter): Promise<LedgerRecord[]> {
  const found: LedgerRecord[] = []
  for await (const record of ledgerRecords(auditDir)) if (matches(record, filter)) found.push(record)
  return found.sort(ledgerOrder)
}
