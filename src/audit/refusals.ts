// Refusals past a budget, summarised (docs/floods.md). Every refusal of an authenticated query is a
// ledger record; a token refused again and again (a script, a stolen token of an unregistered agency)
// would otherwise write one ~365-byte record each, as fast as it can send. Per officer (the token's ORI
// and user id) and per clock minute, the first `budget` refusals keep their own records, written before
// the answer as before; the rest are counted here and written as one query.refusals record per officer
// and minute, with the count and what each refusal would have said, when the minute ends (at the next
// refusal after it, or by a timer) and at shutdown. So a flood costs the ledger `budget` + 1 records a
// minute per officer. What a crash can lose: the counts of the current minute's summaries not yet
// written (refusals only, never an allow; the minute's first `budget` refusals are on disk).
// Allowed queries never come here: the hot path is unchanged.
import { randomUUID } from 'node:crypto'
import type { RuleId } from '../policy/types.js'
import type { Ledger } from './ledger.js'
import type { QueryRefusalsEvent } from './record.js'

/** What one refusal would have recorded. */
export interface Refusal {
  readonly record: 'query.decision' | 'query.rejected' | 'operator.refused'
  readonly status: number
  readonly rule?: RuleId | undefined
  readonly code?: string | undefined
}

/** The officer and the connection, as the ledger records a requester. */
export interface Requester {
  readonly ori: string
  readonly sub: string
  readonly terminal: string | null
  readonly source: string
}

interface OpenSummary {
  readonly id: string
  readonly requester: Requester
  readonly budget: number
  readonly first: number
  last: number
  count: number
  /** By `record status rule code`: the refusals of that kind. */
  readonly kinds: Map<string, { readonly refusal: Refusal; count: number }>
}

/** One officer's refusals in the current minute. */
interface Tally {
  refused: number
  summary: OpenSummary | null
}

const minuteMs = 60_000

export interface RefusalSummariesOptions {
  readonly ledger: Ledger
  readonly clock: () => number
  /** A summary that could not be written (the ledger failed): counted and logged by the caller. */
  readonly failed?: (error: unknown, summary: QueryRefusalsEvent) => void
}

export class RefusalSummaries {
  /** The clock minute the tallies are of (floor(ms / 60 000)). */
  private minute = Number.NEGATIVE_INFINITY
  private tallies = new Map<string, Tally>()
  private timer: NodeJS.Timeout | null = null
  private readonly writes = new Set<Promise<void>>()
  private closed = false

  constructor(private readonly options: RefusalSummariesOptions) {}

  /**
   * Counts a refusal of `officer` (officerKey) at `now`: null while the officer is within `budget` this
   * minute (the caller writes the refusal's own record, as before), else the id of the query.refusals
   * record it is counted in, which the caller answers as its x-decision-id.
   */
  summarise(officer: string, now: number, budget: number, requester: () => Requester, refusal: Refusal): string | null {
    if (this.closed) return null
    // Minutes only move forward: a refusal stamped a moment earlier (another clock's reading) counts in
    // the current minute, rather than closing it and opening the budget again.
    const minute = Math.max(this.minute, Math.floor(now / minuteMs))
    if (minute !== this.minute) {
      // A new minute: the last one's summaries are complete.
      this.flush()
      this.minute = minute
    }
    let tally = this.tallies.get(officer)
    if (tally === undefined) this.tallies.set(officer, (tally = { refused: 0, summary: null }))
    if (++tally.refused <= budget) return null
    let summary = tally.summary
    if (summary === null) {
      tally.summary = summary = { id: randomUUID(), requester: requester(), budget, first: now, last: now, count: 0, kinds: new Map() }
      this.arm(minute)
    }
    summary.count++
    if (now > summary.last) summary.last = now
    const key = `${refusal.record} ${refusal.status} ${refusal.rule ?? ''} ${refusal.code ?? ''}`
    const kind = summary.kinds.get(key)
    if (kind === undefined) summary.kinds.set(key, { refusal, count: 1 })
    else kind.count++
    return summary.id
  }

  /** A timer to the minute's end, so a flood that stops is written then, not at the next refusal. */
  private arm(minute: number): void {
    if (this.timer !== null) return
    const wait = Math.max(0, (minute + 1) * minuteMs - this.options.clock())
    this.timer = setTimeout(() => {
      this.timer = null
      if (Math.floor(this.options.clock() / minuteMs) > this.minute) this.flush()
      else this.arm(this.minute)
    }, wait)
    this.timer.unref()
  }

  /** Appends every open summary (each once) and starts the tallies afresh. */
  private flush(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const tallies = this.tallies
    this.tallies = new Map()
    for (const { summary } of tallies.values()) {
      if (summary === null) continue
      const event: QueryRefusalsEvent = {
        type: 'query.refusals',
        id: summary.id,
        ...summary.requester,
        budget: summary.budget,
        first: new Date(summary.first).toISOString(),
        last: new Date(summary.last).toISOString(),
        count: summary.count,
        refusals: [...summary.kinds.values()].map(({ refusal, count }) => ({
          record: refusal.record,
          status: refusal.status,
          ...(refusal.rule === undefined ? {} : { rule: refusal.rule }),
          ...(refusal.code === undefined ? {} : { code: refusal.code }),
          count,
        })),
      }
      // Stamped with the last refusal's time: the record belongs to its minute (and its year, for the report).
      const write = this.options.ledger.append(event, summary.last).catch((error: unknown) => this.options.failed?.(error, event))
      const tracked = write.finally(() => this.writes.delete(tracked))
      this.writes.add(tracked)
    }
  }

  /** Writes the open summaries and waits for them (shutdown: after the last query, before the ledger closes). */
  async close(): Promise<void> {
    this.flush()
    this.closed = true
    await Promise.allSettled([...this.writes])
  }
}
