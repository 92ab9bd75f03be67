// What counting one decision costs on the query path: the decision counter's child found by its four
// label values (src/metrics.ts, one Map level per label), against the key string the query path used
// to build for it, and against prom-client's own labels().inc(). `node dist/bench/hot-metrics.js`.
import { Counter, Registry } from 'prom-client'
import { HotCounter } from '../src/metrics.js'
import { measure } from './micro.js'

const calls = Number(process.env.BENCH_CALLS ?? 5_000_000)
const rounds = 5

// The label values as the query path has them: strings from the compiled policy set, the same string
// objects query after query, over the combinations a busy gateway sees.
const outcomes = ['allow', 'deny']
const rules = ['ppp.permitted', 'ppp.immigration_non_criminal', 'ppp.case_number_required', 'agency.no_agreement', 'rate.user']
const databases = [
  { id: 'dmv.driver_license', class: 'non_criminal_history' },
  { id: 'dmv.vehicle_registration', class: 'non_criminal_history' },
  { id: 'criminal_history', class: 'criminal_history' },
]
const purposes = ['criminal_investigation', 'traffic_enforcement', 'immigration_enforcement', 'ccw_licensing']
const queries = Array.from({ length: 1024 }, (_, n) => ({
  outcome: outcomes[n % 7 === 0 ? 1 : 0]!,
  rule: rules[n % rules.length]!,
  database: databases[n % databases.length]!,
  purpose: purposes[n % purposes.length]!,
}))

const registry = new Registry()
const byValues = new HotCounter('bench_values_total', 'by values', ['outcome', 'rule', 'database_class', 'purpose'], registry)
const byKey = new Map<string, { value: number }>()
const promClient = new Counter({ name: 'bench_prom_client_total', help: 'prom-client', labelNames: ['outcome', 'rule', 'database_class', 'purpose'], registers: [registry] })

const variants: Record<string, () => void> = {
  'child by label values (now)': () => {
    for (let n = 0; n < calls; n++) {
      const query = queries[n & 1023]!
      byValues.child(query.outcome, query.rule, query.database.class, query.purpose).value++
    }
  },
  'child by a key string (before)': () => {
    for (let n = 0; n < calls; n++) {
      const query = queries[n & 1023]!
      const key = `${query.rule}|${query.database.id}|${query.purpose}`
      let child = byKey.get(key)
      if (child === undefined) byKey.set(key, (child = { value: 0 }))
      child.value++
    }
  },
  'prom-client labels().inc()': () => {
    for (let n = 0; n < calls; n++) {
      const query = queries[n & 1023]!
      promClient.labels(query.outcome, query.rule, query.database.class, query.purpose).inc()
    }
  },
}

const medians = measure(variants, calls, rounds)
console.log(`Node ${process.version}, ${calls} calls a run, median of ${rounds - 1} runs after one to warm up`)
for (const [name, nanos] of Object.entries(medians)) console.log(`${name.padEnd(32)} ${nanos.toFixed(1)} ns a call`)
