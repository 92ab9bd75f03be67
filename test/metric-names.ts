// The series names the gateway exports, for the checks that rules and dashboards name only those.
import { createMetrics } from '../src/metrics.js'

/** Counters and gauges as named, histograms with their _bucket, _sum and _count series. */
export async function exportedSeries(): Promise<Set<string>> {
  const names = new Set<string>()
  for (const metric of createMetrics().registry.getMetricsAsArray() as unknown as { name: string; type?: string; get(): Promise<{ type: string }> }[]) {
    const type = metric.type ?? (await metric.get()).type
    names.add(metric.name)
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix)
  }
  return names
}

/** The gateway_* metric names an expression uses (recording rules, gateway:…, are not metrics). */
export function metricsIn(expression: string): string[] {
  return [...expression.matchAll(/\bgateway_[a-z0-9_]+/g)].map((match) => match[0])
}
