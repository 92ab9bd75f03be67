// The PPP as data: the shipped policy test cases all pass, every contract rule is exercised, and the
// engine's precedence holds.
import t from 'tap'
import { loadPolicyDir } from '../src/policy-files.js'
import { evaluate, sanctionBlocks } from '../src/policy/evaluate.js'
import { runPolicyTests } from '../src/policy/run-tests.js'
import type { AgencyState } from '../src/policy/types.js'
import { policyDir } from './helpers.js'

const policy = await loadPolicyDir(policyDir)
const at = Date.parse('2026-06-01T00:00:00Z')
const signed: AgencyState = {
  ori: 'CA0194200',
  name: 'LAPD',
  kind: 'local',
  agreement: { version: policy.agreementVersion, signedAt: '2019-06-01T00:00:00Z' },
  sanction: null,
  monitored: false,
  version: 1,
}
const facts = (database: string, purpose: string, caseNumber?: string) => ({
  database: policy.databases.get(database)!,
  purpose: policy.purposes.get(purpose)!,
  caseNumber,
})

t.test('every policy test case beside the policies gives its expected outcome and rule', async (t) => {
  const results = runPolicyTests(policy)
  t.ok(results.length >= 20, `${results.length} cases`)
  for (const { testCase, decision, passed } of results) {
    t.ok(passed, `${testCase.name}: expected ${testCase.expect.outcome} ${testCase.expect.rule}, got ${decision.outcome} ${decision.rule}`)
  }
})

t.test("the policy test cases cover every deny rule of the contract's table", async (t) => {
  const covered = new Set(policy.tests.map((testCase) => testCase.expect.rule))
  for (const rule of ['agency.unknown', 'agency.no_agreement', 'agency.suspended', 'ppp.immigration_non_criminal', 'ppp.purpose_not_permitted', 'ppp.case_number_required', 'officer.suspended', 'ppp.permitted']) {
    t.ok(covered.has(rule as never), rule)
  }
})

t.test('immigration enforcement on any non-criminal-history database is denied, whatever else holds', async (t) => {
  for (const database of policy.databases.values()) {
    if (database.class !== 'non_criminal_history') continue
    for (const agency of [signed, null, { ...signed, agreement: null }, { ...signed, sanction: { type: 'removal' as const, scope: 'all' as const, reason: 'x', since: '2026-01-01T00:00:00Z' } }]) {
      const decision = evaluate(policy, facts(database.id, 'immigration_enforcement', '24-1'), agency, at, null)
      t.equal(decision.rule, 'ppp.immigration_non_criminal', `${database.id} / ${agency === null ? 'unknown agency' : agency.agreement === null ? 'no agreement' : agency.sanction?.type ?? 'signed'}`)
      t.equal(decision.outcome, 'deny')
      t.match(decision.citation, /7284\.6/)
    }
  }
})

t.test('a decision carries a reason an operator can read and the law it applies', async (t) => {
  const denied = evaluate(policy, facts('criminal_history', 'ccw_licensing'), signed, at, null)
  t.equal(denied.rule, 'ppp.purpose_not_permitted')
  t.match(denied.reason, /Concealed-carry \(CCW\) licensing/)
  t.match(denied.citation, /11105/)
  const allowed = evaluate(policy, facts('criminal_history', 'immigration_enforcement', 'A-1'), signed, at, null)
  t.same({ outcome: allowed.outcome, rule: allowed.rule }, { outcome: 'allow', rule: 'ppp.permitted' })
  const suspended = evaluate(policy, facts('dmv.driver_license', 'traffic_enforcement'), { ...signed, sanction: { type: 'suspension', scope: 'all', reason: 'r', since: '2026-01-01T00:00:00Z', until: '2026-07-01T00:00:00.000Z' } }, at, null)
  t.equal(suspended.rule, 'agency.suspended')
  t.match(suspended.reason, /until 2026-07-01T00:00:00.000Z/)
})

t.test('sanctionBlocks: censure never, removal always, suspension by scope and until', async (t) => {
  const since = '2026-01-01T00:00:00Z'
  t.notOk(sanctionBlocks(null, 'criminal_history', at))
  t.notOk(sanctionBlocks({ type: 'censure', scope: 'all', reason: 'r', since }, 'non_criminal_history', at))
  t.ok(sanctionBlocks({ type: 'removal', scope: 'all', reason: 'r', since }, 'criminal_history', at))
  t.ok(sanctionBlocks({ type: 'suspension', scope: 'all', reason: 'r', since }, 'criminal_history', at))
  t.notOk(sanctionBlocks({ type: 'suspension', scope: 'non_criminal_history', reason: 'r', since }, 'criminal_history', at))
  t.ok(sanctionBlocks({ type: 'suspension', scope: 'non_criminal_history', reason: 'r', since }, 'non_criminal_history', at))
  const until = '2026-06-01T00:00:01Z'
  t.ok(sanctionBlocks({ type: 'suspension', scope: 'all', reason: 'r', since, until }, 'criminal_history', at), 'one second before it lapses')
  t.notOk(sanctionBlocks({ type: 'suspension', scope: 'all', reason: 'r', since, until }, 'criminal_history', at + 1000), 'at the instant it lapses')
})

t.test('the revision is a hash of the policy files: same files, same revision', async (t) => {
  const again = await loadPolicyDir(policyDir)
  t.equal(again.revision, policy.revision)
  t.match(policy.revision, /^[0-9a-f]{16}$/)
})
