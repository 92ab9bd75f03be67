// Every Prometheus collector of the gateway, in one place. Labels are bounded: rule ids, database
// classes, purposes and database ids come from the compiled policy set (never raw request values),
// routes are fastify's route patterns, and no user, subject or token ever becomes a label.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { LedgerObserver } from './audit/ledger.js'

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Builds a registry with every collector; one per app, so tests can run several apps in one process. */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'gateway_' })
  const metrics = {
    registry,
    decisions: new Counter({
      name: 'gateway_decisions_total',
      help: 'Query decisions by outcome, rule, database class and purpose',
      labelNames: ['outcome', 'rule', 'database_class', 'purpose'] as const,
      registers: [registry],
    }),
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
    requestDuration: new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Time from request to response, by route and status code',
      labelNames: ['route', 'status'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: 'gateway_upstream_request_duration_seconds',
      help: 'Time the database took to answer a forwarded query, by database',
      labelNames: ['database'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'gateway_upstream_errors_total',
      help: 'Forwarded queries the database failed, by database and error code',
      labelNames: ['database', 'code'] as const,
      registers: [registry],
    }),
    auditBatchRecords: new Histogram({
      name: 'gateway_audit_batch_records',
      help: 'Records written per audit batch (one write and one fdatasync each)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [registry],
    }),
    auditFlushDuration: new Histogram({
      name: 'gateway_audit_flush_duration_seconds',
      help: 'Time to write and fdatasync one audit batch',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    auditWriteFailures: new Counter({
      name: 'gateway_audit_write_failures_total',
      help: 'Audit batches that could not be written or synced; queries are refused meanwhile',
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
  }
  return metrics
}

export type Metrics = ReturnType<typeof createMetrics>

/** The ledger's view of the metrics. */
export function ledgerObserver(metrics: Metrics): LedgerObserver {
  return {
    batchWritten(records, seconds) {
      metrics.auditBatchRecords.observe(records)
      metrics.auditFlushDuration.observe(seconds)
    },
    writeFailed() {
      metrics.auditWriteFailures.inc()
    },
  }
}
