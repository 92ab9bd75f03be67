// Every Prometheus collector of the gateway, in one place. Labels are bounded: rule ids, database
// classes, purposes and database ids come from the compiled policy set (never raw request values),
// routes are fastify's route patterns, and no user, subject or token ever becomes a label.
import { packageVersion } from './version.js'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { LedgerObserver } from './audit/ledger.js'

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** A hot metric's label names: at most four, so a child is found without a rest array (see Children.find). */
type LabelNames = readonly [] | readonly [string] | readonly [string, string] | readonly [string, string, string] | readonly [string, string, string, string]
/** A hot metric's label values: one string per label name, in the same order. */
type LabelValues<L extends LabelNames> = { -readonly [K in keyof L]: string }

/**
 * The children of a hot metric, found by their label values themselves, one Map level per label, so
 * equal label values always reach the same child and no two children can print the same series. (A
 * key the caller built once held the database id, which is no label: two databases of one class
 * printed two identical series, and Prometheus keeps only one of them.) A hit is one Map.get per
 * label on strings V8 has already hashed: no key string is built and nothing is allocated.
 */
class Children<C> {
  private readonly root = new Map<string, unknown>()
  /** The one child of a metric without labels. */
  private only: C | undefined
  /** Every child, in the order they were made (the order they print in). */
  readonly all: C[] = []

  constructor(
    private readonly metric: string,
    private readonly labelNames: readonly string[],
    private readonly create: (labels: Record<string, string>) => C,
  ) {
    if (labelNames.length > 4) throw new Error(`${metric}: a hot metric takes at most 4 labels`)
  }

  // Four fixed parameters, not a rest array: a rest parameter is a new array on every call.
  find(v0: string | undefined, v1: string | undefined, v2: string | undefined, v3: string | undefined): C {
    const depth = this.labelNames.length
    if (depth === 0) return this.only ?? this.add([])
    let node: unknown = this.root
    for (let level = 0; level < depth; level++) {
      node = (node as Map<string, unknown>).get((level === 0 ? v0 : level === 1 ? v1 : level === 2 ? v2 : v3)!)
      if (node === undefined) return this.add([v0, v1, v2, v3])
    }
    return node as C
  }

  private add(values: readonly (string | undefined)[]): C {
    const depth = this.labelNames.length
    const labels: Record<string, string> = {}
    let level = this.root
    for (let i = 0; i < depth; i++) {
      const value = values[i]
      // Only strings are keys: 200 and '200' would be two children printing one series.
      if (typeof value !== 'string') throw new TypeError(`${this.metric}: label ${this.labelNames[i]} must be a string, not ${typeof value}`)
      labels[this.labelNames[i]!] = value
      if (i === depth - 1) break
      let next = level.get(value) as Map<string, unknown> | undefined
      if (next === undefined) level.set(value, (next = new Map()))
      level = next
    }
    const child = this.create(labels)
    if (depth === 0) this.only = child
    else level.set(values[depth - 1]!, child)
    this.all.push(child)
    return child
  }

  clear(): void {
    this.root.clear()
    this.only = undefined
    this.all.length = 0
  }
}

/**
 * A counter for the query path: child() finds the label set's child by its values, and inc() is one
 * addition (prom-client's own re-validates and re-hashes the labels on every call). It registers in
 * the same prom-client registry and prints the same exposition format.
 */
export class HotCounter<const L extends LabelNames> {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  private readonly children: Children<{ readonly labels: Record<string, string>; value: number }>
  /** The child for these label values, in labelNames order. */
  readonly child: (...values: LabelValues<L>) => { value: number }
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: L,
    registry: Registry,
  ) {
    const children = (this.children = new Children(name, labelNames, (labels) => ({ labels, value: 0 })))
    // Typed by the label names, called with fixed parameters (an overload cannot say both).
    this.child = ((v0?: string, v1?: string, v2?: string, v3?: string) => children.find(v0, v1, v2, v3)) as never
    registry.registerMetric(this as never)
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.children.all.map(({ labels, value }) => ({ labels, value })) }
  }

  reset(): void {
    this.children.clear()
  }
}

interface HistogramChild {
  readonly labels: Record<string, string>
  readonly counts: Float64Array
  sum: number
  count: number
}

/** A histogram for the query path, with children found like HotCounter's. */
export class HotHistogram<const L extends LabelNames> {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly children: Children<HistogramChild>
  /** The child for these label values, in labelNames order. */
  readonly child: (...values: LabelValues<L>) => HistogramChild
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: L,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    const children = (this.children = new Children(name, labelNames, (labels) => ({ labels, counts: new Float64Array(buckets.length), sum: 0, count: 0 })))
    this.child = ((v0?: string, v1?: string, v2?: string, v3?: string) => children.find(v0, v1, v2, v3)) as never
    registry.registerMetric(this as never)
  }

  observe(child: HistogramChild, value: number): void {
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
    for (const { labels, counts, sum, count } of this.children.all) {
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
  /** The gateway's clock (epoch ms), for the age of the agency counts. */
  clock(): number
}

/**
 * How long gateway_agencies reuses its counts: the registry is read at most once in this time, however
 * many scrape. With Redis a read is SMEMBERS and one HGET per agency (~1,200 at DOJ); read on every
 * scrape, 8 scrapers cut an instance's throughput tenfold.
 */
export const agencyCountsMaxAgeMs = 5_000

const sanctionStates = ['none', 'censure', 'suspension', 'removal'] as const
type AgencyCounts = Record<(typeof sanctionStates)[number], number>

/** Builds a registry with every collector; one per app, so tests can run several apps in one process. */
export function createMetrics() {
  let sources: GaugeSources | null = null
  /** The last agency counts, and when they are to be read again. */
  let agencyCounts: { counts: AgencyCounts | null; readAgainAt: number } = { counts: null, readAgainAt: -Infinity }
  /** The registry read in flight: scrapes that find the counts too old meanwhile wait for it, not read again. */
  let counting: Promise<void> | null = null

  async function countAgencies(bound: GaugeSources, now: number): Promise<void> {
    let readAgainAt = now + agencyCountsMaxAgeMs
    try {
      const counts: AgencyCounts = { none: 0, censure: 0, suspension: 0, removal: 0 }
      for (const { sanction } of await bound.agencies()) {
        const lapsesAt = sanction?.type === 'suspension' && sanction.until !== undefined ? Date.parse(sanction.until) : Infinity
        if (sanction === null || lapsesAt <= now) counts.none++
        else {
          counts[sanction.type as keyof AgencyCounts]++
          // A suspension that lapses before the period ends is counted again when it lapses.
          readAgainAt = Math.min(readAgainAt, lapsesAt)
        }
      }
      agencyCounts = { counts, readAgainAt }
    } catch {
      // State unavailable: the last counts stay (gateway_agency_state_age_seconds grows), and the next
      // try waits a period too, so the scrapers do not pile onto a failing Redis.
      agencyCounts = { counts: agencyCounts.counts, readAgainAt }
    }
  }

  const registry = new Registry()
  // Node's default metrics under their standard names (process_*, nodejs_*), so the usual Node.js
  // dashboards and alerts work on the gateway as they are.
  collectDefaultMetrics({ register: registry })
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
    /** Counted on a cache miss only: a cached token is not verified again. */
    jwtVerifications: new Counter({
      name: 'gateway_jwt_verifications_total',
      help: 'Bearer tokens whose signature and claims were checked (not found in the verified-token cache), by outcome (valid, invalid)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    jwksFetches: new Counter({
      name: 'gateway_jwks_fetches_total',
      help: "Fetches of the identity provider's JWKS (GATEWAY_JWT_JWKS_URL), by outcome (ok, failed)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    /**
     * Request bodies handed to the JSON parser (src/http/body.ts), by outcome: parsed, invalid (not
     * JSON, or a forbidden __proto__ key) or too_deep (refused by the depth scan, never parsed). Only
     * requests to a route, with a verified token where the route needs one, come this far.
     */
    jsonBodies: new HotCounter('gateway_json_bodies_total', 'JSON request bodies read and judged by the parser, by outcome (parsed, invalid, too_deep)', ['outcome'], registry),
    requestDuration: new HotHistogram('gateway_http_request_duration_seconds', 'Time from request to response, by route, method and status code', ['route', 'method', 'status'], latencyBuckets, registry),
    buildInfo: new Gauge({
      name: 'gateway_build_info',
      help: 'The running build (value 1): the package version and the Node.js version',
      labelNames: ['version', 'node_version'] as const,
      registers: [registry],
    }),
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
      help: "Operator changes to agencies and to officers' sanctions, by action",
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    policyInfo: new Gauge({
      name: 'gateway_policy_info',
      help: 'The policy revision in force (value 1) and the agreement version it requires',
      labelNames: ['revision', 'agreement_version'] as const,
      registers: [registry],
    }),
    shadowDifferences: new Counter({
      name: 'gateway_shadow_differences_total',
      help: 'Queries the candidate policy set (POLICY_SHADOW_DIR) would have decided otherwise, by the live and the candidate rule',
      labelNames: ['live_rule', 'shadow_rule'] as const,
      registers: [registry],
    }),
    policyReloadFailures: new Counter({
      name: 'gateway_policy_reload_failures_total',
      help: 'Policy reloads that failed, by set: live (POLICY_DIR) or shadow (POLICY_SHADOW_DIR); the failed set keeps its last good version, the other reloads',
      labelNames: ['set'] as const,
      registers: [registry],
    }),
    signals: new Counter({
      name: 'gateway_signals_total',
      help: 'Misuse signals raised (issue 13), by kind and agency: a registered ORI, or "unregistered"',
      labelNames: ['kind', 'ori'] as const,
      registers: [registry],
    }),
    signalErrors: new Counter({
      name: 'gateway_signal_errors_total',
      help: 'Batches of decided queries whose misuse signals could not be computed (state: the signal counts, e.g. Redis) or recorded (audit), and signals whose review could not be opened (review); queries are never affected',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    signalWebhookFailures: new Counter({
      name: 'gateway_signal_webhook_failures_total',
      help: 'Raised signals the webhook did not accept after every retry, or dropped because too many were waiting',
      registers: [registry],
    }),
    expositions: new Counter({
      name: 'gateway_metrics_serialisations_total',
      help: 'Times this text was serialised for GET /metrics: at most once per METRICS_CACHE_MS, and once for scrapes that arrive together',
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
      help: `Registered agencies by the sanction in force (none, censure, suspension, removal), read from the registry at most every ${agencyCountsMaxAgeMs / 1000} s`,
      labelNames: ['sanction'] as const,
      registers: [registry],
      async collect() {
        if (sources === null) return
        const now = sources.clock()
        if (now >= agencyCounts.readAgainAt) counting ??= countAgencies(sources, now).finally(() => (counting = null))
        if (counting !== null) await counting
        const counts = agencyCounts.counts
        if (counts !== null) for (const sanction of sanctionStates) this.labels(sanction).set(counts[sanction])
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
  metrics.buildInfo.labels(packageVersion, process.version).set(1)
  // Both sets at 0 from the start, so an alert on their increase sees the first failure.
  for (const set of ['live', 'shadow'] as const) metrics.policyReloadFailures.labels(set).inc(0)
  return metrics
}

export type Metrics = ReturnType<typeof createMetrics>

/**
 * The exposition text of a registry, serialised at most once per `maxAgeMs` of `clock` (epoch ms):
 * a serialisation costs ~3.6 ms of event loop, and 8 scrapers looping on it cut query throughput
 * from ~3,000 to ~60 a second. Scrapes that come while one is being serialised share it, whatever
 * `maxAgeMs` is (0: every scrape after it gets a new one).
 */
export function cachedExposition(metrics: Pick<Metrics, 'registry' | 'expositions'>, clock: () => number, maxAgeMs: number): () => Promise<string> {
  const { registry, expositions } = metrics
  let text: string | null = null
  let freshUntil = Number.NEGATIVE_INFINITY
  let serialising: Promise<string> | null = null
  return () => {
    if (text !== null && clock() < freshUntil) return Promise.resolve(text)
    if (serialising !== null) return serialising
    // Counted before, so the text itself says which serialisation it is.
    expositions.inc()
    serialising = registry
      .metrics()
      .then((serialised) => {
        text = serialised
        freshUntil = clock() + maxAgeMs
        return serialised
      })
      .finally(() => (serialising = null))
    return serialising
  }
}

/** The Redis store's view of the metrics. */
export function redisObserver(metrics: Metrics) {
  const roundTrips = metrics.redisDuration.child()
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
  const batches = metrics.auditBatchRecords.child()
  const flushes = metrics.auditFlushDuration.child()
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
