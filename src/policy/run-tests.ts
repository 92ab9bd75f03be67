// Runs the policy test cases that live beside the policies (policies/tests/*.yaml). Pure.
import type { PolicySet, PolicyTestCase } from './compile.js'
import { evaluate } from './evaluate.js'
import { fullProjectionId, type Decision, type EvidenceKind } from './types.js'

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
    // As the query route reads them: the registry's state of an onBehalfOf or recipient ORI listed under
    // `registered`, null for one listed under the query's `unregistered`, and not read otherwise.
    const registered = (ori: string | undefined) => (ori === undefined ? undefined : (testCase.registered.get(ori) ?? (testCase.query.unregistered?.includes(ori) === true ? null : undefined)))
    const decision = evaluate(policy, { ...query, database, purpose, onBehalfOfAgency: registered(query.onBehalfOf), recipientAgency: registered(query.recipient) }, testCase.agency, testCase.now, testCase.officerSanction)
    const passed =
      decision.outcome === expect.outcome &&
      decision.rule === expect.rule &&
      (expect.projection === undefined || projectionId(decision) === expect.projection) &&
      (expect.immigration === undefined || (decision.immigration ?? 'none') === expect.immigration) &&
      (expect.evidence === undefined || sameKinds(evidenceKindsOf(decision), expect.evidence)) &&
      (expect.review === undefined || (decision.review ?? 'none') === expect.review)
    return { testCase, decision, passed }
  })
}

/** The kinds of evidence a decision carries, each once, in the order found. */
export function evidenceKindsOf(decision: Decision): EvidenceKind[] {
  const kinds: EvidenceKind[] = []
  for (const item of decision.evidence ?? []) if (!kinds.includes(item.kind)) kinds.push(item.kind)
  return kinds
}

function sameKinds(found: readonly EvidenceKind[], expected: readonly EvidenceKind[]): boolean {
  return found.length === new Set(expected).size && expected.every((kind) => found.includes(kind))
}

/** A case's expectation or result as one line: `deny ppp.immigration_non_criminal (immigration: statute)`. */
export function describeOutcome(outcome: { outcome: string; rule: string; projection?: string | null | undefined; immigration?: string | undefined; evidence?: readonly string[] | undefined; review?: string | undefined }): string {
  const extras = [
    outcome.projection == null ? null : `projection ${outcome.projection}`,
    outcome.immigration === undefined ? null : `immigration: ${outcome.immigration}`,
    outcome.evidence === undefined ? null : `evidence: ${outcome.evidence.length === 0 ? 'none' : outcome.evidence.join(' ')}`,
    outcome.review === undefined ? null : `review: ${outcome.review}`,
  ].filter((extra) => extra !== null)
  return `${outcome.outcome} ${outcome.rule}${extras.length === 0 ? '' : ` (${extras.join(', ')})`}`
}
