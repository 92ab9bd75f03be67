// Every Prometheus collector of the gateway, in one place. Labels are bounded: rule ids, database
// classes, purposes and database ids come from the compiled policy set (never raw request values),
// routes are fastify's route patterns, and no user, subject or token ever becomes a label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { LedgerObserver } from './audit/ledger.js'

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/**
 * A counter for the query path: each label set is a child object found by a key the caller builds,
 * and inc() is one addition (prom-client's own re-validates and re-hashes the labels on every call).
 * It registers in the same prom-client registry and prints the same exposition format.
 */
export class HotCounter<L extends string> {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  private readonly children = new Map<string, { labels: Record<L, string>; value: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never)
  }

  /** The child for these label values (in labelNames order), cached under `key`. */
  child(key: string, ...values: string[]): { value: number } {
    let child = this.children.get(key)
    if (child === undefined) {
      child = { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])) as Record<L, string>, value: 0 }
      this.children.set(key, child)
    }
    return child
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.children.values()].map(({ labels, value }) => ({ labels, value })) }
  }

  reset(): void {
    this.children.clear()
  }
}

/** A histogram for the query path, with the same cached children as HotCounter. */
export class HotHistogram<L extends string> {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly children = new Map<string, { labels: Record<L, string>; counts: Float64Array; sum: number; count: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never)
  }

  child(key: string, ...values: string[]): { counts: Float64Array; sum: number; count: number } {
    let child = this.children.get(key)
    if (child === undefined) {
      child = { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])) as Record<L, string>, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }
      this.children.set(key, child)
    }
    return child
  }

  observe(child: { counts: Float64Array; sum: number; count: number }, value: number): void {
    const buckets = this.buckets
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) {
        child.counts[i]!++
        break
      }
    }
    child.sum += value
    child.count++
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = []
    for (const { labels, counts, sum, count } of this.children.values()) {
      let cumulative = 0
      this.buckets.forEach((bound, i) => {
        cumulative += counts[i]!
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...labels }, value: cumulative })
      })
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count })
      values.push({ metricName: `${this.name}_sum`, labels, value: sum })
      values.push({ metricName: `${this.name}_count`, labels, value: count })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    this.children.clear()
  }
}

/** What the gauges read at scrape time, bound once the store and the ledger exist. */
export interface GaugeSources {
  agencies(): Promise<readonly { sanction: { type: string; until?: string | undefined } | null }[]>
  stateAgeSeconds(): number
  auditBacklog(): number
}

/** Builds a registry with every collector; one per app, so tests can run several apps in one process. */
export function createMetrics() {
  let sources: GaugeSources | null = null
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'gateway_' })
  const metrics = {
    registry,
    decisions: new HotCounter('gateway_decisions_total', 'Query decisions by outcome, rule, database class and purpose', ['outcome', 'rule', 'database_class', 'purpose'], registry),
    /** Per agency, and only for registered agencies: the ORI label comes from the registry, never from a token alone. */
    agencyDecisions: new HotCounter('gateway_agency_decisions_total', 'Query decisions of each registered agency, by outcome; monitored marks the agencies DOJ monitors', ['ori', 'outcome', 'monitored'], registry),
    rejections: new Counter({
      name: 'gateway_query_rejections_total',
      help: 'Queries refused before a decision: bad input, bad token, wrong role (4xx), by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'gateway_fault_refusals_total',
      help: 'Requests refused because the gateway could not decide or answer safely (5xx), by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    requestDuration: new HotHistogram('gateway_http_request_duration_seconds', 'Time from request to response, by route and status code', ['route', 'status'], latencyBuckets, registry),
    upstreamDuration: new HotHistogram('gateway_upstream_request_duration_seconds', 'Time the database took to answer a forwarded query, by database', ['database'], latencyBuckets, registry),
    upstreamErrors: new Counter({
      name: 'gateway_upstream_errors_total',
      help: 'Forwarded queries the database failed, by database and error code',
      labelNames: ['database', 'code'] as const,
      registers: [registry],
    }),
    auditBatchRecords: new HotHistogram('gateway_audit_batch_records', 'Records written per audit batch (one write and one fdatasync each)', [], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registry),
    auditFlushDuration: new HotHistogram('gateway_audit_flush_duration_seconds', 'Time to write and fdatasync one audit batch', [], latencyBuckets, registry),
    auditWriteFailures: new Counter({
      name: 'gateway_audit_write_failures_total',
      help: 'Audit batches that could not be written or synced; queries are refused meanwhile',
      registers: [registry],
    }),
    auditRecordsRefused: new Counter({
      name: 'gateway_audit_records_refused_total',
      help: 'Audit records refused before writing because they did not match their schema (a bug: their requests answered 503)',
      registers: [registry],
    }),
    operatorChanges: new Counter({
      name: 'gateway_operator_changes_total',
      help: 'Operator changes to agencies, by action',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    policyInfo: new Gauge({
      name: 'gateway_policy_info',
      help: 'The policy revision in force (value 1) and the agreement version it requires',
      labelNames: ['revision', 'agreement_version'] as const,
      registers: [registry],
    }),
    policyReloadFailures: new Counter({
      name: 'gateway_policy_reload_failures_total',
      help: 'Policy reloads that failed; the last good policy set stays in force',
      registers: [registry],
    }),
    loadShed: new Counter({
      name: 'gateway_load_shed_total',
      help: 'Queries refused with 503 overloaded because the event loop or the heap was past its threshold',
      registers: [registry],
    }),
    redisDuration: new HotHistogram(
      'gateway_redis_round_trip_seconds',
      'Time of one Redis round trip of the query path (one admit script call for the queries of one event-loop turn)',
      [],
      latencyBuckets,
      registry,
    ),
    redisErrors: new Counter({
      name: 'gateway_redis_errors_total',
      help: 'Redis round trips of the query path that failed or timed out (those queries answered 503)',
      registers: [registry],
    }),
    stateAge: new Gauge({
      name: 'gateway_agency_state_age_seconds',
      help: 'Seconds since this instance last had authoritative agency state (0 with the embedded store)',
      registers: [registry],
      collect() {
        if (sources !== null) this.set(sources.stateAgeSeconds())
      },
    }),
    agenciesBySanction: new Gauge({
      name: 'gateway_agencies',
      help: 'Registered agencies by the sanction in force (none, censure, suspension, removal)',
      labelNames: ['sanction'] as const,
      registers: [registry],
      async collect() {
        if (sources === null) return
        const counts: Record<string, number> = { none: 0, censure: 0, suspension: 0, removal: 0 }
        try {
          const now = Date.now()
          for (const { sanction } of await sources.agencies()) {
            const lapsed = sanction?.type === 'suspension' && sanction.until !== undefined && Date.parse(sanction.until) <= now
            counts[sanction === null || lapsed ? 'none' : sanction.type]!++
          }
        } catch {
          return // state unavailable: the last values stay, and gateway_agency_state_age_seconds grows
        }
        for (const [sanction, count] of Object.entries(counts)) this.labels(sanction).set(count)
      },
    }),
    auditBacklog: new Gauge({
      name: 'gateway_audit_backlog_records',
      help: 'Records waiting for the next audit batch',
      registers: [registry],
      collect() {
        if (sources !== null) this.set(sources.auditBacklog())
      },
    }),
    /** Binds the gauges to the running store and ledger. */
    bind(bound: GaugeSources) {
      sources = bound
    },
  }
  return metrics
}

export type Metrics = ReturnType<typeof createMetrics>

/** The Redis store's view of the metrics. */
export function redisObserver(metrics: Metrics) {
  const roundTrips = metrics.redisDuration.child('')
  return {
    roundTrip(seconds: number) {
      metrics.redisDuration.observe(roundTrips, seconds)
    },
    failed() {
      metrics.redisErrors.inc()
    },
  }
}

/** The ledger's view of the metrics. */
export function ledgerObserver(metrics: Metrics): LedgerObserver {
  const batches = metrics.auditBatchRecords.child('')
  const flushes = metrics.auditFlushDuration.child('')
  return {
    batchWritten(records, seconds) {
      metrics.auditBatchRecords.observe(batches, records)
      metrics.auditFlushDuration.observe(flushes, seconds)
    },
    writeFailed() {
      metrics.auditWriteFailures.inc()
    },
    recordRefused() {
      metrics.auditRecordsRefused.inc()
    },
  }
}
