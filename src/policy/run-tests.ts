// Runs the policy test cases that live beside the policies (policies/tests/*.yaml). Pure.
import type { PolicySet, PolicyTestCase } from './compile.js'
import { evaluate } from './evaluate.js'
import type { Decision } from './types.js'

export interface PolicyTestResult {
  readonly testCase: PolicyTestCase
  readonly decision: Decision
  readonly passed: boolean
}

/** Evaluates every test case of the set and says which gave the expected outcome and rule. */
export function runPolicyTests(policy: PolicySet): PolicyTestResult[] {
  return policy.tests.map((testCase) => {
    const database = policy.databases.get(testCase.query.database)!
    const purpose = policy.purposes.get(testCase.query.purpose)!
    const decision = evaluate(policy, { database, purpose, caseNumber: testCase.query.caseNumber, writtenRequest: testCase.query.writtenRequest }, testCase.agency, testCase.now, testCase.officerSanction)
    const passed = decision.outcome === testCase.expect.outcome && decision.rule === testCase.expect.rule
    return { testCase, decision, passed }
  })
}
