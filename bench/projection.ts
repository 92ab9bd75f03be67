// What trimming an answer costs on the query path, per answer of one DMV licence record (what a licence
// lookup returns): the shipped projection (policies/projections.yaml, generated code) plus the
// JSON.stringify of its output, against a generic walker over the field tree (what the generated code
// replaces), and against the whole-record path, which forwards the database's text and costs nothing
// here. The parse is not counted: the upstream parses every answer to check it, projected or not.
// `node dist/bench/projection.js` (BENCH_CALLS, default 1,000,000 answers a run).
import { generatePopulation } from '../src/backends/population.js'
import { loadPolicyDir } from '../src/policy-files.js'
import { measure } from './micro.js'

const calls = Number(process.env.BENCH_CALLS ?? 1_000_000)
const rounds = 5
const root = new URL('../..', import.meta.url).pathname
const policy = await loadPolicyDir(`${root}policies`)
const projection = policy.projections.get('licence.without_address')!
const population = generatePopulation(20_000, 54)
// Answers as the upstream hands them over: each parsed from the database's text.
const answers = Array.from({ length: 1024 }, (_, n) => JSON.parse(JSON.stringify([population.licenses[(n * 97) % population.licenses.length]]))) as object[][]

type Tree = Map<string, Tree | null>
const tree: Tree = new Map()
for (const field of projection.fields) {
  const path = field.split('.')
  let level = tree
  path.forEach((segment, depth) => {
    if (depth === path.length - 1) level.set(segment, null)
    else {
      if (!(level.get(segment) instanceof Map)) level.set(segment, new Map())
      level = level.get(segment)!
    }
  })
}
function walk(value: unknown, level: Tree): unknown {
  if (value === null || typeof value !== 'object') return value === null ? null : undefined
  if (Array.isArray(value)) return value.map((item) => walk(item, level))
  const out: Record<string, unknown> = {}
  for (const [key, below] of level) {
    const item = (value as Record<string, unknown>)[key]
    if (item !== undefined) out[key] = below === null ? item : walk(item, below)
  }
  return out
}

let sink = 0
const variants: Record<string, () => void> = {
  'generated projection + stringify (now)': () => {
    for (let n = 0; n < calls; n++) sink += JSON.stringify(projection.apply(answers[n & 1023]!)).length
  },
  'field-tree walker + stringify': () => {
    for (let n = 0; n < calls; n++) sink += JSON.stringify(walk(answers[n & 1023]!, tree)).length
  },
  'stringify of the whole record (for scale)': () => {
    for (let n = 0; n < calls; n++) sink += JSON.stringify(answers[n & 1023]!).length
  },
}

const medians = measure(variants, calls, rounds)
// The outputs' lengths are summed so that no variant's work can be optimized away.
if (sink === 0) throw new Error('no variant wrote anything')
console.log(`Node ${process.version}, ${calls} answers of one licence record a run, median of ${rounds - 1} runs after one to warm up`)
for (const [name, nanos] of Object.entries(medians)) console.log(`${name.padEnd(44)} ${nanos.toFixed(0)} ns an answer`)
