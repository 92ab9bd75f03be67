// The decision stream (issue 13): what happens to a decided query after it is answered. The query route
// queues each one (one array push); a setImmediate batch then, off the response's path,
//   1. writes an answered query's outcome record with the keyed hashes of the records returned (point 1),
//   2. counts the query towards the misuse signals of signals.yaml, in one call to the signal state for
//      the whole batch (one Redis round trip with REDIS_URL),
//   3. for each signal raised: a signal.raised record, gateway_signals_total, and the webhook.
// Nothing here delays or changes an answer: a failure is counted (gateway_signal_errors_total) and logged.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Ledger } from '../audit/ledger.js'
import type { QueryOutcomeEvent, SignalRaisedEvent } from '../audit/record.js'
import { lookupIdentifiers, recordIdentifiers, type SubjectHasher } from '../audit/subjects.js'
import type { Metrics } from '../metrics.js'
import type { SignalPolicy } from '../policy/signals.js'
import { planSignals, signalDetail, type Observation, type ObservedSubjects, type PlannedSignal } from './detect.js'
import type { SignalState } from './state.js'
import type { SignalWebhook } from './webhook.js'
import { openReview, type ReviewDependencies } from '../reviews/open.js'

/** A decided query, as the query route hands it over. */
export interface DecidedQuery {
  readonly query: Observation
  /** The lookup as the query gave it (already validated). */
  readonly subject: Readonly<Record<string, string>>
  /** The officer's own identifiers, hashed (Identity.self). */
  readonly self: readonly string[]
  /** An allowed query's outcome, to be written with its subjects; null for a denial. */
  readonly outcome: Omit<QueryOutcomeEvent, 'subjects'> | null
  /** The records the database returned, or null (a denial, a failure). */
  readonly records: readonly object[] | null
}

export interface DecisionStreamOptions {
  readonly ledger: Ledger
  readonly hasher: SubjectHasher
  readonly policy: { readonly current: { readonly signals: SignalPolicy } }
  readonly state: SignalState
  readonly metrics: Metrics
  readonly clock: () => number
  readonly log: FastifyBaseLogger
  readonly webhook?: SignalWebhook | undefined
  /** Where a signal of a kind the policy marks for review opens its reviews (absent: none is opened). */
  readonly reviews?: ReviewDependencies['store'] | undefined
}

/** The most queries one batch takes; the rest wait for the next turn. */
const maxBatch = 512

function signalsOn(policy: SignalPolicy): boolean {
  return (
    policy.distinctSubjects !== null || policy.subjectSpread !== null || policy.watchlist !== null || policy.selfLookup !== null || policy.sharedLogin !== null || policy.offHours !== null ||
    policy.repeatSubject !== null || policy.licensingTerms !== null
  )
}

export class DecisionStream {
  private queue: DecidedQuery[] = []
  private scheduled = false
  private readonly pending = new Set<Promise<void>>()

  constructor(private readonly options: DecisionStreamOptions) {}

  /** Queues a decided query; called once its decision record is durable. Never throws, never waits. */
  readonly decided = (decided: DecidedQuery): void => {
    this.queue.push(decided)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.drain)
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false
    const batch = this.queue.length <= maxBatch ? this.queue : this.queue.slice(0, maxBatch)
    this.queue = this.queue.length <= maxBatch ? [] : this.queue.slice(maxBatch)
    if (this.queue.length > 0) {
      this.scheduled = true
      setImmediate(this.drain)
    }
    const work = this.process(batch).finally(() => this.pending.delete(work))
    this.pending.add(work)
  }

  private async process(batch: readonly DecidedQuery[]): Promise<void> {
    const { ledger, hasher, metrics, clock } = this.options
    const policy = this.options.policy.current.signals
    const counting = signalsOn(policy)
    const planned: PlannedSignal[] = []
    // Within a batch the same identifier (a busy plate) is hashed once.
    const hashes = new Map<string, string>()
    const hash = (identifier: string) => {
      let found = hashes.get(identifier)
      if (found === undefined) hashes.set(identifier, (found = hasher.hash(identifier)))
      return found
    }
    for (const decided of batch) {
      let returned: string[] | null = null
      let primaries: string[] | undefined
      if (decided.records !== null) {
        if (counting) primaries = []
        returned = [...recordIdentifiers(decided.records, new Set(), primaries)].map(hash)
      }
      if (decided.outcome !== null) {
        const outcome: QueryOutcomeEvent = returned === null || returned.length === 0 ? decided.outcome : { ...decided.outcome, subjects: returned }
        // Not waited for, as before: the ledger counts its own write failures.
        ledger.append(outcome, clock()).catch(() => undefined)
      }
      if (!counting) continue
      let subjects: ObservedSubjects | null = null
      const lookup = lookupIdentifiers(decided.subject).map(hash)
      if (lookup.length > 0) {
        // The lookup's subject, then each returned record's, once (a licence look-up returns that licence).
        const primary = [lookup[0]!]
        if (primaries !== undefined) {
          for (const identifier of primaries) {
            const found = hash(identifier)
            if (!primary.includes(found)) primary.push(found)
          }
        }
        subjects = { lookup, primary, returned: returned ?? [], self: decided.self }
      }
      planSignals(policy, decided.query, subjects, planned)
    }
    if (planned.length === 0) return
    let results
    try {
      results = await this.options.state.count(planned, clock())
    } catch (error) {
      metrics.signalErrors.labels('state').inc()
      this.options.log.error({ err: error, queries: batch.length }, 'misuse signals not computed for a batch: the signal state is unavailable')
      return
    }
    const raised: Promise<void>[] = []
    results.forEach((result, index) => {
      if (result.raised === null) return
      const plan = planned[index]!
      const query = batch.find((decided) => decided.query.id === plan.decisionId)!.query
      raised.push(this.raise(plan, result.raised, result.count, query, result.members ?? []))
    })
    await Promise.all(raised)
  }

  private async raise(plan: PlannedSignal, decisionIds: readonly string[], count: number, query: Observation, members: readonly string[]): Promise<void> {
    const { registered } = query
    const { ledger, metrics, clock } = this.options
    const now = clock()
    const signal: SignalRaisedEvent = { type: 'signal.raised', id: randomUUID(), kind: plan.kind, ori: plan.ori, sub: plan.sub, decisionIds: [...decisionIds], detail: signalDetail(plan, count), blocked: false }
    try {
      await ledger.append(signal, now)
    } catch (error) {
      metrics.signalErrors.labels('audit').inc()
      this.options.log.error({ err: error, kind: plan.kind }, 'a misuse signal could not be recorded')
      return
    }
    metrics.signals.labels(plan.kind, registered ? plan.ori : 'unregistered').inc()
    // The officer's user id and the signal's ids only: the subject stays in the ledger.
    this.options.log.warn({ signal: signal.id, kind: signal.kind, ori: signal.ori, sub: signal.sub }, 'misuse signal raised')
    this.options.webhook?.send(signal, new Date(now).toISOString())
    if (this.options.reviews !== undefined && this.options.policy.current.signals.review.has(plan.kind)) await this.openReviews(signal, query, members, now)
  }

  /**
   * The reviews a raised signal opens: one about its officer; a subject-keyed signal (sub null) names
   * every agency and officer that contributed, each reviewed as involvement, not as the one who crossed
   * the threshold. Its contributors are the officers its key counted (`officers:ORI:officer` members, up
   * to the threshold, on every instance sharing the signal state); each review lists the signal's decisions.
   */
  private async openReviews(signal: SignalRaisedEvent, query: Observation, members: readonly string[], now: number): Promise<void> {
    const deps = { ledger: this.options.ledger, store: this.options.reviews! }
    const detail = Object.entries(signal.detail).filter(([name]) => name !== 'subject').map(([name, value]) => `${name} ${value}`).join(', ')
    const concerned: { ori: string; officer: string; sub: string }[] = []
    if (signal.sub !== null) concerned.push(query)
    else {
      for (const member of members) {
        if (!member.startsWith('officers:')) continue
        // ORI:officer: an ORI holds no colon, an officer's id may.
        const [ori, ...officer] = member.slice('officers:'.length).split(':')
        const id = officer.join(':')
        concerned.push(ori === query.ori && id === query.officer ? query : { ori: ori!, officer: id, sub: id })
      }
    }
    for (const contributor of concerned) {
      const involvement = signal.sub === null ? ' (involvement: one of the officers who queried the subject)' : ''
      try {
        await openReview(
          deps,
          randomUUID(),
          {
            source: 'signal',
            signal: signal.kind,
            ori: contributor.ori,
            officer: contributor.officer,
            sub: contributor.sub,
            decisions: [...signal.decisionIds],
            evidence: [],
            summary: `${signal.kind} signal ${signal.id}${involvement}: ${detail}`,
          },
          now,
        )
      } catch (error) {
        this.options.metrics.signalErrors.labels('review').inc()
        this.options.log.error({ err: error, kind: signal.kind, signal: signal.id }, 'a review for a misuse signal could not be opened')
      }
    }
  }

  /** Processes what is queued and waits for it (shutdown: before the ledger closes). */
  async close(): Promise<void> {
    while (this.queue.length > 0 || this.pending.size > 0) {
      if (this.queue.length > 0) this.drain()
      await Promise.allSettled([...this.pending])
    }
    await this.options.webhook?.close()
  }
}
