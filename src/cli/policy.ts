// gatewayctl policy check|test: the policy files checked offline, as the gateway would load them, and
// their test cases run (input -> expected rule), each failure saying what was expected and what came.
import type { Command } from 'commander'
import { loadPolicyDir } from '../policy-files.js'
import { PolicyError } from '../policy/compile.js'
import { describeOutcome, projectionId, runPolicyTests } from '../policy/run-tests.js'
import { commandGroup, exitWith } from './command.js'
import { err, out } from './io.js'

/** The policy set in DIR, or null once its problems are printed (`file: path: problem`, exit 1). */
async function load(dir: string | undefined) {
  try {
    return await loadPolicyDir(dir ?? process.env.POLICY_DIR ?? './policies')
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error
    for (const problem of error.problems) err(problem)
    return null
  }
}

/** Registers `gatewayctl policy …` under the program. */
export function policyCommands(program: Command): void {
  const policy = commandGroup(program, 'policy', 'the policy files: check them, run their test cases')
  const dirHelp = 'the policy folder (default: POLICY_DIR, else ./policies)'

  policy
    .command('check')
    .description('validate the policy files as the gateway loads them; exit 1 with `file: path: problem` for each problem')
    .argument('[dir]', dirHelp)
    .action(
      exitWith(async (dir: string | undefined) => {
        const set = await load(dir)
        if (set === null) return 1
        out(`policies OK: revision ${set.revision}, ${set.databases.size} databases, ${set.purposes.size} purposes, ${set.projections.size} projections, ${set.tests.length} test cases`)
        return 0
      }),
    )

  policy
    .command('test')
    .description("run the policy files' test cases; exit 1 if one fails")
    .argument('[dir]', dirHelp)
    .action(
      exitWith(async (dir: string | undefined) => {
        const set = await load(dir)
        if (set === null) return 1
        const results = runPolicyTests(set)
        for (const { testCase, decision, passed } of results) {
          const line = `${passed ? 'pass' : 'FAIL'}  ${testCase.file}: ${testCase.name}`
          if (passed) out(line)
          else {
            const { expect } = testCase
            const got = { outcome: decision.outcome, rule: decision.rule, projection: expect.projection === undefined ? undefined : projectionId(decision), immigration: expect.immigration === undefined ? undefined : (decision.immigration ?? 'none') }
            out(`${line}\n      expected ${describeOutcome(expect)}, got ${describeOutcome(got)}`)
          }
        }
        const failed = results.filter((result) => !result.passed).length
        out(`${results.length - failed} passed, ${failed} failed`)
        return failed === 0 ? 0 : 1
      }),
    )
}
