// The cost of the immigration evidence on the hot path: one evaluation of an ordinary query with a
// 200-character justification and a case number (no evidence found, the common case), of one in
// non-ASCII text (normalised first), and of one answered under review. Run from a build:
//   node dist/bench/evidence.js [root]   (root: another checkout's top folder, built, to compare)
import { join } from 'node:path'
import { measure } from './micro.js'

const root = process.argv[2] ?? new URL('../..', import.meta.url).pathname
const { loadPolicyDir } = (await import(join(root, 'dist/src/policy-files.js'))) as typeof import('../src/policy-files.js')
const { evaluate } = (await import(join(root, 'dist/src/policy/evaluate.js'))) as typeof import('../src/policy/evaluate.js')
const policy = await loadPolicyDir(join(root, 'policies'))
const agency = { ori: 'CA0999900', name: 'Test City Police Department (invented)', kind: 'local' as const, organisation: null, agreement: { version: 'PPP-2019-02', signedAt: '2019-06-01T00:00:00Z' }, sanction: null, monitored: true, version: 1 }
const base = { database: policy.databases.get('dmv.driver_license')!, purpose: policy.purposes.get('criminal_investigation')!, caseNumber: '24-001234' }
const ordinary = 'Armed robbery at 1200 W 8th Street, suspect vehicle seen leaving northbound on I-5 at 2215 hrs; witness gave partial plate; PC 211 and PC 12022.53(b); registered owner may be the suspect or a relative, need to identify.'
const justifications = {
  ordinary: ordinary.slice(0, 200),
  'non-ASCII': `${ordinary.slice(0, 190)} — Café №`,
  'under review': `${ordinary.slice(0, 170)}; also 8 USC 1326 charged`,
}
const now = Date.parse('2026-06-01T00:00:00Z')
const calls = 20_000
const variants = Object.fromEntries(
  Object.entries(justifications).map(([name, justification]) => [
    name,
    () => {
      for (let index = 0; index < calls; index++) evaluate(policy, { ...base, justification }, agency, now, null)
    },
  ]),
)
for (const [name, nanos] of Object.entries(measure(variants, calls, 11))) console.log(`${name.padEnd(14)} ${(nanos / 1000).toFixed(2)} µs an evaluation (${justifications[name as keyof typeof justifications].length} characters)`)
