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
  // agencies.yaml
  ['an unknown key in agencies.yaml', rewrite('agencies.yaml', (text) => `${text}\nmonitoredKinds: [federal]\n`), /^agencies\.yaml: monitoredKinds: unknown key$/],
  ['an unknown agency kind', rewrite('agencies.yaml', (text) => text.replace('  federal: [criminal_investigation, immigration_enforcement]', '  federal: [criminal_investigation, immigration_enforcement]\n  tribal: [criminal_investigation]')), /^agencies\.yaml: purposesByKind\.tribal: unknown key$/],
  ['a kind left out', rewrite('agencies.yaml', (text) => text.replace(/^ {2}state: .*\n/m, '')), /^agencies\.yaml: purposesByKind\.state: /],
  ['an unknown purpose in purposesByKind', rewrite('agencies.yaml', (text) => text.replace('federal: [criminal_investigation, immigration_enforcement]', 'federal: [criminal_investigation, border_search]')), /^agencies\.yaml: purposesByKind\.federal\.1: unknown purpose border_search$/],
  ['a purpose listed twice', rewrite('agencies.yaml', (text) => text.replace('federal: [criminal_investigation, immigration_enforcement]', 'federal: [criminal_investigation, criminal_investigation]')), /^agencies\.yaml: purposesByKind\.federal\.1: criminal_investigation is listed twice$/],
  ['an override keyed by something other than an ORI', rewrite('agencies.yaml', (text) => text.replace('  CADHS0100:\n    deny', '  ICE-ERO:\n    deny')), /^agencies\.yaml: overrides\.ICE-ERO: expected an ORI/],
  ['an override without a reason', rewrite('agencies.yaml', (text) => text.replace(/ {4}reason: >-\n( {6}.*\n)+/, '')), /^agencies\.yaml: overrides\.CADHS0100\.reason: /],
  ['an override that allows and denies one purpose', rewrite('agencies.yaml', (text) => text.replace('    deny: [criminal_investigation]', '    allow: [criminal_investigation]\n    deny: [criminal_investigation]')), /^agencies\.yaml: overrides\.CADHS0100\.deny\.0: criminal_investigation is both allowed and denied$/],
  ['an override of an unknown purpose', rewrite('agencies.yaml', (text) => text.replace('    deny: [criminal_investigation]', '    deny: [removal]')), /^agencies\.yaml: overrides\.CADHS0100\.deny\.0: unknown purpose removal$/],
  ['an immigration authority with a bad ORI', rewrite('agencies.yaml', (text) => text.replace('{ ori: CACBP0000,', '{ ori: CBP,')), /^agencies\.yaml: immigrationAuthorities\.3\.ori: expected an ORI/],
  ['an immigration authority listed twice', rewrite('agencies.yaml', (text) => text.replace('{ ori: CACBP0000,', '{ ori: CADHS0100,')), /^agencies\.yaml: immigrationAuthorities\.3\.ori: CADHS0100 is listed twice$/],
  ['an immigration authority with a bad organisation', rewrite('agencies.yaml', (text) => text.replace('{ organisation: DHS/CBP,', '{ organisation: DHS/cbp,')), /^agencies\.yaml: immigrationAuthorities\.1\.organisation: expected an organisation path/],
  ['an organisation prefix ending in /', rewrite('agencies.yaml', (text) => text.replace('{ organisation: DHS/CBP,', '{ organisation: DHS/,')), /^agencies\.yaml: immigrationAuthorities\.1\.organisation: expected an organisation path/],
  ['an organisation listed twice', rewrite('agencies.yaml', (text) => text.replace('{ organisation: DHS/CBP,', '{ organisation: DHS/ICE,')), /^agencies\.yaml: immigrationAuthorities\.1\.organisation: DHS\/ICE is listed twice$/],
  ['an immigration authority with both an ORI and an organisation', rewrite('agencies.yaml', (text) => text.replace('{ organisation: DHS/CBP,', '{ ori: CA0990000, organisation: DHS/CBP,')), /^agencies\.yaml: immigrationAuthorities\.1: give either an ori or an organisation$/],
  ['an immigration authority with neither', rewrite('agencies.yaml', (text) => text.replace('{ organisation: DHS/CBP,', '{')), /^agencies\.yaml: immigrationAuthorities\.1: give either an ori or an organisation$/],
  ['an unknown database class for the justification', rewrite('agencies.yaml', (text) => text.replace('requiredOfMonitored: [non_criminal_history]', 'requiredOfMonitored: [dmv]')), /^agencies\.yaml: justification\.requiredOfMonitored\.0: /],
  // the immigration definition and statutes (purposes.yaml), and the federal citation (gateway.yaml)
  ['no definition of immigration enforcement', rewrite('purposes.yaml', (text) => text.replace(/^ {2}definition: >-\n( {4}.*\n)+/m, '')), /^purposes\.yaml: immigrationEnforcement\.definition: /],
  ['a statute cited by a bare number', rewrite('purposes.yaml', (text) => text.replace('aliases: ["INA 276"]', 'aliases: ["1326"]')), /^purposes\.yaml: immigrationEnforcement\.statutes\.9\.aliases\.0: "1326" must cite one section of 8 U\.S\.C\., the INA or 8 CFR/],
  ['one law cited twice', rewrite('purposes.yaml', (text) => text.replace('aliases: ["INA 276"]', 'aliases: ["8 USC 1325"]')), /^purposes\.yaml: immigrationEnforcement\.statutes\.9\.aliases\.0: "8 USC 1325" cites the same law as "8 U\.S\.C\. 1325"$/],
  ['no federal citation of the immigration rule', rewrite('gateway.yaml', (text) => text.replace(/^federalCitations:\n.*\n/m, '')), /^gateway\.yaml: federalCitations: /],
  // immigration evidence (docs/evidence.md): the actions, and the minimised answer they need
  ['a declared immigration purpose not denied', rewrite('purposes.yaml', (text) => text.replace('      declared: deny\n', '      declared: review\n')), /^purposes\.yaml: immigrationEnforcement\.actions\.california\.declared: must be deny/],
  ['an unknown evidence action', rewrite('purposes.yaml', (text) => text.replace('      terms: minimise_and_review\n', '      terms: shrug\n')), /^purposes\.yaml: immigrationEnforcement\.actions\.california\.terms: /],
  ['an unknown kind of evidence', rewrite('purposes.yaml', (text) => text.replace('      terms: minimise_and_review\n', '      terms: minimise_and_review\n      rumour: deny\n')), /^purposes\.yaml: immigrationEnforcement\.actions\.california\.rumour: unknown key$/],
  ['minimised answers without a minimised projection', rewrite('projections.yaml', (text) => text.replace('  - { database: dmv.vehicle_registration, projection: registration.without_address }\n', '')), /^projections\.yaml: minimised: dmv\.vehicle_registration has no minimised projection/],
  ["a minimised projection of another database", rewrite('projections.yaml', (text) => text.replace('  - { database: dmv.vehicle_registration, projection: registration.without_address }\n', '  - { database: dmv.vehicle_registration, projection: licence.without_address }\n')), /^projections\.yaml: minimised\.1\.projection: licence\.without_address projects dmv\.driver_license, not dmv\.vehicle_registration$/],
  ['a statute that reads as two sections', rewrite('purposes.yaml', (text) => text.replace('aliases: ["INA 276"]', 'aliases: ["INA 276, 275"]')), /^purposes\.yaml: immigrationEnforcement\.statutes\.9\.aliases\.0: "INA 276, 275" must cite one section/],
  // projections.yaml
  ['an unknown key in projections.yaml', rewrite('projections.yaml', (text) => text.replace('    database: dmv.vehicle_registration\n', '    database: dmv.vehicle_registration\n    exclude: [registeredOwner.address]\n')), /^projections\.yaml: projections\.1\.exclude: unknown key$/],
  ['a malformed field path', rewrite('projections.yaml', (text) => text.replace('      - person.sex\n', '      - person..sex\n')), /^projections\.yaml: projections\.0\.fields\.9: expected a field path/],
  ['a field inside a listed field', rewrite('projections.yaml', (text) => text.replace('      - person.sex\n', '      - person\n')), /^projections\.yaml: projections\.0\.fields\.\d+: person already sends all of person\.lastName$/],
  ['a projection of an unknown database', rewrite('projections.yaml', (text) => text.replace('    database: dmv.vehicle_registration\n', '    database: dmv.vehicles\n')), /^projections\.yaml: projections\.1\.database: unknown database dmv\.vehicles$/],
  ['a projection named full', rewrite('projections.yaml', (text) => text.replaceAll('registration.without_address', 'full')), /^projections\.yaml: projections\.1\.id: full is reserved for whole records$/],
  ['an answer naming an unknown projection', rewrite('projections.yaml', (text) => text.replace('purposes: [traffic_enforcement], projection: licence.without_address', 'purposes: [traffic_enforcement], projection: licence.status')), /^projections\.yaml: answers\.0\.projection: unknown projection licence\.status/],
  ["an answer applying another database's projection", rewrite('projections.yaml', (text) => text.replace('{ database: dmv.driver_license, immigrationAuthority: true, channels: [terminal], projection: licence.without_address }', '{ database: dmv.driver_license, immigrationAuthority: true, channels: [terminal], projection: registration.without_address }')), /^projections\.yaml: answers\.2\.projection: registration\.without_address projects dmv\.vehicle_registration, not dmv\.driver_license$/],
  ['an answer for an unknown purpose', rewrite('projections.yaml', (text) => text.replace('purposes: [traffic_enforcement], projection: licence.without_address', 'purposes: [traffic_stop], projection: licence.without_address')), /^projections\.yaml: answers\.0\.purposes\.0: unknown purpose traffic_stop$/],
  ['an answer for an unknown agency kind', rewrite('projections.yaml', (text) => text.replace('immigrationAuthority: true, channels: [terminal], projection: licence.without_address', 'kinds: [dhs], channels: [terminal], projection: licence.without_address')), /^projections\.yaml: answers\.2\.kinds\.0: /],
  ['an answer for an unknown channel', rewrite('projections.yaml', (text) => text.replace('immigrationAuthority: true, channels: [terminal], projection: licence.without_address', 'immigrationAuthority: true, channels: [fax], projection: licence.without_address')), /^projections\.yaml: answers\.2\.channels\.0: /],
  ['an answer whose immigrationAuthority is not true or false', rewrite('projections.yaml', (text) => text.replace('immigrationAuthority: true, channels: [terminal], projection: licence.without_address', 'immigrationAuthority: dhs, channels: [terminal], projection: licence.without_address')), /^projections\.yaml: answers\.2\.immigrationAuthority: /],
  ['a projection no answer uses', rewrite('projections.yaml', (text) => text.replace(/^ {2}- \{ database: dmv\.vehicle_registration.*\n/gm, '')), /^projections\.yaml: projections\.1: registration\.without_address is not used by any answer$/],
  ['a test case expecting an unknown projection', rewrite('tests/answers.yaml', (text) => text.replace('projection: registration.without_address }', 'projection: registration.no_owner }')), /^tests\/answers\.yaml: cases\.1\.expect\.projection: unknown projection registration\.no_owner/],
  ['a test case on behalf of a malformed ORI', rewrite('tests/immigration.yaml', (text) => text.replace('onBehalfOf: CADHS0100 }', 'onBehalfOf: ICE }')), /^tests\/immigration\.yaml: cases\.6\.query\.onBehalfOf: expected an ORI/],
  // authority.yaml (optional: without it no ORI acts as DOJ)
  ['a malformed DOJ ORI', rewrite('authority.yaml', (text) => text.replace('  - CA0349400', '  - DOJ')), /^authority\.yaml: dojOris\.0: expected an ORI/],
  ['a DOJ ORI listed twice', rewrite('authority.yaml', (text) => text.replace('  - CA0349400', '  - CA0349400\n  - CA0349400')), /^authority\.yaml: dojOris\.1: duplicate ORI CA0349400$/],
  ['no DOJ ORI', rewrite('authority.yaml', (text) => text.replace(/^ {2}- CA0349400.*\n/m, '').replace('dojOris:', 'dojOris: []')), /^authority\.yaml: dojOris: /],
  ['an unknown key in authority.yaml', rewrite('authority.yaml', (text) => `${text}\nreviewers: [CA0349400]\n`), /^authority\.yaml: reviewers: unknown key$/],
  ['a pending change that never lapses', rewrite('authority.yaml', (text) => text.replace('pendingSeconds: 86400', 'pendingSeconds: 0')), /^authority\.yaml: dualControl\.pendingSeconds: /],
]

t.test('authority.yaml: the shipped DOJ ORI; without the file no ORI and no second operator', async (t) => {
  const shipped = await loadPolicyDir(policyDir)
  t.same([...shipped.authority.dojOris], ['CA0349400'])
  t.same(shipped.authority.dualControl, { liftRemoval: false, liftSuspension: false, pendingSeconds: 86_400 })
  const without = await loadPolicyDir(fixture((dir) => rmSync(join(dir, 'authority.yaml'))))
  t.equal(without.authority.dojOris.size, 0)
  t.same(without.authority.dualControl, { liftRemoval: false, liftSuspension: false, pendingSeconds: 86_400 })
})

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
  t.match(good.stdout, /policies OK: revision [0-9a-f]{16}, 3 databases, 4 purposes, 2 projections, \d+ test cases/)
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

t.test('gatewayctl policy test covers the new rules and says which projection or immigration basis was wrong', async (t) => {
  const good = await run(process.execPath, ['bin/gatewayctl.js', 'policy', 'test', policyDir], { cwd: root })
  for (const line of [
    'pass  tests/agencies.yaml: a federal agency may not declare a traffic stop',
    "pass  tests/agencies.yaml: a monitored agency's DMV query without a justification is refused",
    'pass  tests/immigration.yaml: CBP\'s "criminal investigation" of a reentry case on DMV is immigration enforcement',
    'pass  tests/immigration.yaml: a query on behalf of ICE ERO is immigration enforcement',
    'pass  tests/answers.yaml: a traffic stop gets the licence without the home address',
  ]) {
    t.ok(good.stdout.split('\n').includes(line), line)
  }
  const dir = fixture(
    rewrite('tests/immigration.yaml', (text) =>
      text.replace('expect: { outcome: allow, rule: ppp.permitted, projection: full, immigration: requester }', 'expect: { outcome: allow, rule: ppp.permitted, projection: licence.without_address, immigration: statute }'),
    ),
  )
  const bad = await run(process.execPath, ['bin/gatewayctl.js', 'policy', 'test', dir], { cwd: root }).then(() => null, (error: { code: number; stdout: string }) => error)
  t.equal(bad?.code, 1)
  t.match(bad?.stdout, /FAIL {2}tests\/immigration\.yaml: LAPD may answer CBP's request for a person's criminal history \(Gov\. Code 7284\.6\(b\)\(2\)\)\n {6}expected allow ppp\.permitted \(projection licence\.without_address, immigration: statute\), got allow ppp\.permitted \(projection full, immigration: requester\)/)
  t.match(bad?.stdout, /^\d+ passed, 1 failed$/m)
})
