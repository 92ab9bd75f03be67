// Runs the policy test cases that live beside the policies (policies/tests/*.yaml). Pure.
import type { PolicySet, PolicyTestCase } from './compile.js'
import { evaluate } from './evaluate.js'
import { fullProjectionId, type Decision } from './types.js'

export interface PolicyTestResult {
  readonly testCase: PolicyTestCase
  readonly decision: Decision
  readonly passed: boolean
}

/** The projection id an allow applies (`full` for whole records), or null for a denial. */
export function projectionId(decision: Decision): string | null {
  return decision.outcome === 'allow' ? (decision.projection?.id ?? fullProjectionId) : null
}

/** Evaluates every test case of the set and says which gave the expected outcome and rule (and projection and immigration basis, where a case names them). */
export function runPolicyTests(policy: PolicySet): PolicyTestResult[] {
  return policy.tests.map((testCase) => {
    const { query, expect } = testCase
    const database = policy.databases.get(query.database)!
    const purpose = policy.purposes.get(query.purpose)!
    // As the query route reads them: the registry's state of an onBehalfOf or recipient ORI (null: not registered).
    const registered = (ori: string | undefined) => (ori === undefined ? undefined : (testCase.registered.get(ori) ?? null))
    const decision = evaluate(policy, { ...query, database, purpose, onBehalfOfAgency: registered(query.onBehalfOf), recipientAgency: registered(query.recipient) }, testCase.agency, testCase.now, testCase.officerSanction)
    const passed =
      decision.outcome === expect.outcome &&
      decision.rule === expect.rule &&
      (expect.projection === undefined || projectionId(decision) === expect.projection) &&
      (expect.immigration === undefined || (decision.immigration ?? 'none') === expect.immigration)
    return { testCase, decision, passed }
  })
}

/** A case's expectation or result as one line: `deny ppp.immigration_non_criminal (immigration: statute)`. */
export function describeOutcome(outcome: { outcome: string; rule: string; projection?: string | null | undefined; immigration?: string | undefined }): string {
  const extras = [outcome.projection == null ? null : `projection ${outcome.projection}`, outcome.immigration === undefined ? null : `immigration: ${outcome.immigration}`].filter((extra) => extra !== null)
  return `${outcome.outcome} ${outcome.rule}${extras.length === 0 ? '' : ` (${extras.join(', ')})`}`
}
