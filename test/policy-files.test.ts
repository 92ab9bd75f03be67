// Policies are validated strictly at load: one bad fixture per failure mode, each message naming the
// file, the path and the problem; `gatewayctl policy check` and `policy test` say the same and exit non-zero.
import { execFile } from 'node:child_process'
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { loadPolicyDir } from '../src/policy-files.js'
import { PolicyError } from '../src/policy/compile.js'
import { policyDir, root, tempDir } from './helpers.js'

const run = promisify(execFile)

/** A copy of the shipped policies with one file rewritten. */
function fixture(edit: (dir: string) => void): string {
  const dir = tempDir('policies')
  cpSync(policyDir, dir, { recursive: true })
  edit(dir)
  return dir
}

function rewrite(file: string, change: (text: string) => string) {
  return (dir: string) => writeFileSync(join(dir, file), change(readFileSync(join(dir, file), 'utf8')))
}

const badFixtures: [string, (dir: string) => void, RegExp][] = [
  ['an unknown key', rewrite('limits.yaml', (text) => `${text}\nburst: 5\n`), /^limits\.yaml: burst: unknown key$/],
  ['an unknown key deep in a list', rewrite('databases.yaml', (text) => text.replace('class: criminal_history', 'class: criminal_history\n    owner: DOJ')), /^databases\.yaml: databases\.2\.owner: unknown key$/],
  ['an unknown database class', rewrite('databases.yaml', (text) => text.replace('class: criminal_history', 'class: rap_sheet')), /^databases\.yaml: databases\.2\.class: /],
  ['an unknown subject field', rewrite('databases.yaml', (text) => text.replace('- [plate]', '- [plateNumber]')), /^databases\.yaml: databases\.1\.lookups\.0\.0: /],
  ['a missing file', (dir) => rmSync(join(dir, 'purposes.yaml')), /^purposes\.yaml: \(top\): file is missing$/],
  ['an unexpected file', (dir) => writeFileSync(join(dir, 'extra.yaml'), 'a: 1\n'), /^extra\.yaml: \(top\): unknown policy file/],
  ['invalid YAML', rewrite('gateway.yaml', (text) => `${text}\n  : : [\n`), /^gateway\.yaml: line \d+: /],
  ['a duplicate key', rewrite('limits.yaml', (text) => `${text}\nperUser: { limit: 1, windowSeconds: 1 }\n`), /^limits\.yaml: line \d+: /],
  ['a duplicate id', rewrite('purposes.yaml', (text) => text.replace('id: ccw_licensing', 'id: traffic_enforcement')), /^purposes\.yaml: purposes\.3\.id: duplicate id traffic_enforcement$/],
  ["a contract database removed", rewrite('databases.yaml', (text) => text.replace('id: dmv.vehicle_registration', 'id: dmv.vehicles')), /^databases\.yaml: databases: the contract's database dmv\.vehicle_registration is missing$/],
  ['immigration reaching non-criminal history (contradicts S.B. 54)', rewrite('purposes.yaml', (text) => text.replace('reaches: [criminal_history]\n    caseNumber: required\n    citation: "Gov.', 'reaches: [criminal_history, non_criminal_history]\n    caseNumber: required\n    citation: "Gov.')), /^purposes\.yaml: purposes\.2\.reaches: an immigration purpose cannot reach non_criminal_history/],
  ['a missing citation', rewrite('gateway.yaml', (text) => text.replace(/^ {2}agency\.unknown:.*\n/m, '')), /^gateway\.yaml: citations\.agency\.unknown: /],
  ['a negative rate limit', rewrite('limits.yaml', (text) => text.replace('limit: 120', 'limit: -1')), /^limits\.yaml: perUser\.limit: /],
  ['a test case naming an unknown database', rewrite('tests/seed.yaml', (text) => text.replace('database: criminal_history, purpose: immigration_enforcement, caseNumber: "A-2019-77"', 'database: wanted_persons, purpose: immigration_enforcement, caseNumber: "A-2019-77"')), /^tests\/seed\.yaml: cases\.0\.query\.database: unknown database wanted_persons$/],
  ["an officer's censure in a test case (officers take a suspension or a removal)", rewrite('tests/officers.yaml', (text) => text.replace('officerSanction: { type: removal }', 'officerSanction: { type: censure }')), /^tests\/officers\.yaml: cases\.5\.officerSanction\.type: /],
  ["an officer's removal of a narrower scope in a test case", rewrite('tests/officers.yaml', (text) => text.replace('officerSanction: { type: removal }', 'officerSanction: { type: removal, scope: non_criminal_history }')), /^tests\/officers\.yaml: cases\.5\.officerSanction\.scope: must be "all" for a removal$/],
  ["an officer's removal with an end in a test case", rewrite('tests/officers.yaml', (text) => text.replace('officerSanction: { type: removal }', 'officerSanction: { type: removal, until: "2026-03-01T12:00:00Z" }')), /^tests\/officers\.yaml: cases\.5\.officerSanction\.until: only a suspension takes until$/],
  ["an unknown key in an officer's sanction", rewrite('tests/officers.yaml', (text) => text.replace('officerSanction: { type: removal }', 'officerSanction: { type: removal, sub: officer-96 }')), /^tests\/officers\.yaml: cases\.5\.officerSanction\.sub: unknown key$/],
  ['a test case with an unknown rule', rewrite('tests/seed.yaml', (text) => text.replace('rule: agency.no_agreement }', 'rule: agency.banned }')), /^tests\/seed\.yaml: cases\.0\.expect\.rule: /],
]

for (const [name, edit, expected] of badFixtures) {
  t.test(`rejects ${name}`, async (t) => {
    const dir = fixture(edit)
    const error = await loadPolicyDir(dir).then(() => null, (caught: unknown) => caught)
    t.type(error, PolicyError)
    const problems = (error as PolicyError).problems
    t.ok(problems.some((problem) => expected.test(problem)), `one of ${JSON.stringify(problems)} matches ${expected}`)
  })
}

t.test('gatewayctl policy check: exit 0 with the revision for good policies, 1 with file: path: problem for bad ones', async (t) => {
  const good = await run(process.execPath, ['bin/gatewayctl.js', 'policy', 'check', policyDir], { cwd: root })
  t.match(good.stdout, /policies OK: revision [0-9a-f]{16}, 3 databases, 4 purposes/)
  const dir = fixture(badFixtures[0]![1])
  const bad = await run(process.execPath, ['bin/gatewayctl.js', 'policy', 'check', dir], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 1)
  t.match(bad?.stderr, /^limits\.yaml: burst: unknown key$/m)
})

t.test('gatewayctl policy test runs the cases and fails on a wrong expectation', async (t) => {
  const good = await run(process.execPath, ['bin/gatewayctl.js', 'policy', 'test', policyDir], { cwd: root })
  t.match(good.stdout, /^\d+ passed, 0 failed$/m)
  const dir = fixture(rewrite('tests/seed.yaml', (text) => text.replace('expect: { outcome: deny, rule: agency.no_agreement }', 'expect: { outcome: allow, rule: ppp.permitted }')))
  const bad = await run(process.execPath, ['bin/gatewayctl.js', 'policy', 'test', dir], { cwd: root }).then(() => null, (error: { code: number; stdout: string }) => error)
  t.equal(bad?.code, 1)
  t.match(bad?.stdout, /FAIL {2}tests\/seed\.yaml: ICE ERO without the agreement is refused criminal history\n {6}expected allow ppp\.permitted, got deny agency\.no_agreement/)
})
