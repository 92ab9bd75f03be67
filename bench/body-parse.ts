// What the depth scan in front of the JSON parser (src/http/body.ts) costs a query: fastify's own
// parser (secure-json-parse) on a query body of ~200 bytes, against the same parser behind the scan,
// and the scan alone; then both on 1 MiB of nested brackets, which the scan refuses unparsed.
// `node dist/bench/body-parse.js` (BENCH_CALLS, default 1,000,000 bodies a run).
import Fastify from 'fastify'
import { maxJsonDepth, nestsDeeperThan } from '../src/http/body.js'
import { measure } from './micro.js'

const calls = Number(process.env.BENCH_CALLS ?? 1_000_000)
const rounds = 5
const parse = Fastify().getDefaultJsonParser('error', 'error')
// Query bodies as terminals send them, a little different each (so no string is parsed twice in a row).
const bodies = Array.from({ length: 1024 }, (_, n) =>
  JSON.stringify({
    database: 'dmv.driver_license',
    purpose: 'traffic_enforcement',
    subject: { licenseNumber: `A${String(1234567 + n).padStart(7, '0')}` },
    caseNumber: `24-${String(n).padStart(6, '0')}`,
    justification: 'traffic stop, northbound I-5 at exit 12, vehicle matching the description',
  }),
)
const size = Math.round(bodies.reduce((total, body) => total + body.length, 0) / bodies.length)

let sink = 0
const done = (error: Error | null, value?: unknown) => {
  if (error === null && value !== undefined) sink++
}
const variants: Record<string, () => void> = {
  "fastify's parser alone (before)": () => {
    for (let n = 0; n < calls; n++) parse(null as never, bodies[n & 1023]!, done)
  },
  'depth scan, then the parser (now)': () => {
    for (let n = 0; n < calls; n++) {
      const body = bodies[n & 1023]!
      if (!nestsDeeperThan(body, maxJsonDepth)) parse(null as never, body, done)
    }
  },
  'depth scan alone': () => {
    for (let n = 0; n < calls; n++) if (!nestsDeeperThan(bodies[n & 1023]!, maxJsonDepth)) sink++
  },
}

const medians = measure(variants, calls, rounds)
if (sink === 0) throw new Error('nothing was parsed')
console.log(`Node ${process.version}, ${calls} query bodies of ~${size} bytes a run, median of ${rounds - 1} runs after one to warm up`)
for (const [name, nanos] of Object.entries(medians)) console.log(`${name.padEnd(36)} ${nanos.toFixed(0)} ns a body`)

const nested = '['.repeat(524_000) + ']'.repeat(524_000)
let started = performance.now()
parse(null as never, nested, done)
const parsedMs = performance.now() - started
started = performance.now()
const refused = nestsDeeperThan(nested, maxJsonDepth)
console.log(`1 MiB of nested brackets: fastify's parser ${parsedMs.toFixed(1)} ms; the scan ${refused ? 'refuses it' : 'lets it through'} in ${(performance.now() - started).toFixed(3)} ms`)
