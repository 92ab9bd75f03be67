// gatewayctl policy check|test|replay: the policy files checked offline, as the gateway would load them,
// their test cases run (input -> expected rule), each failure saying what was expected and what came,
// and a candidate set replayed on the ledger's recorded queries (replay.ts).
import type { Command } from 'commander'
import type { PolicySet } from '../policy/compile.js'
import { auditDirHelp, ledgerFolder } from './audit.js'
import { commandGroup, exitWith } from './command.js'
import { err, existingFolder, out } from './io.js'
import { auditorOptions } from './operator-ledger.js'
import { replay, replayRange, type ReplayOptions } from './replay.js'

/** The policy set in DIR, or null once its problems are printed (`file: path: problem`, exit 1). */
async function load(dir: string | undefined) {
  // The policy compiler (yaml, zod) loads when a command reads policies, not with the command tree (command.ts).
  const [{ loadPolicyDir }, { PolicyError }] = await Promise.all([import('../policy-files.js'), import('../policy/compile.js')])
  // A folder that is not there is a mistyped argument (exit 2), not a policy problem (exit 1).
  const folder = await existingFolder(dir ?? process.env.POLICY_DIR ?? './policies')
  try {
    return await loadPolicyDir(folder)
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error
    for (const problem of error.problems) err(problem)
    return null
  }
}

/** Registers `gatewayctl policy …` under the program. */
export function policyCommands(program: Command): void {
  const policy = commandGroup(program, 'policy', 'the policy files: check them, run their test cases, replay a candidate set on the ledger')
  const dirHelp = 'the policy folder (default: POLICY_DIR, else ./policies)'

  /** A subcommand that loads the policy set in [dir] (exit 1 with its problems) and acts on it. */
  const onPolicySet = (name: string, description: string, action: (set: PolicySet) => number | Promise<number>) =>
    policy
      .command(name)
      .description(description)
      .argument('[dir]', dirHelp)
      .action(
        exitWith(async (dir: string | undefined) => {
          const set = await load(dir)
          return set === null ? 1 : action(set)
        }),
      )

  onPolicySet('check', 'validate the policy files as the gateway loads them; exit 1 with `file: path: problem` for each problem', (set) => {
    out(`policies OK: revision ${set.revision}, ${set.databases.size} databases, ${set.purposes.size} purposes, ${set.projections.size} projections, ${set.tests.length} test cases`)
    return 0
  })

  onPolicySet('test', "run the policy files' test cases; exit 1 if one fails", async (set) => {
    const { describeOutcome, evidenceKindsOf, projectionId, runPolicyTests } = await import('../policy/run-tests.js')
    const results = runPolicyTests(set)
    for (const { testCase, decision, passed } of results) {
      const line = `${passed ? 'pass' : 'FAIL'}  ${testCase.file}: ${testCase.name}`
      if (passed) out(line)
      else {
        const { expect } = testCase
        const got = { outcome: decision.outcome, rule: decision.rule, projection: expect.projection === undefined ? undefined : projectionId(decision), immigration: expect.immigration === undefined ? undefined : (decision.immigration ?? 'none'),
          evidence: expect.evidence === undefined ? undefined : evidenceKindsOf(decision),
          review: expect.review === undefined ? undefined : (decision.review ?? 'none'),
        }
        out(`${line}\n      expected ${describeOutcome(expect)}, got ${describeOutcome(got)}`)
      }
    }
    const failed = results.filter((result) => !result.passed).length
    out(`${results.length - failed} passed, ${failed} failed`)
    return failed === 0 ? 0 : 1
  })

  auditorOptions(
    policy
      .command('replay')
      .description("what a candidate policy set would have decided otherwise, from the ledger's recorded queries, per agency and rule; recorded in the ledger (audit.access) before anything is shown")
      .argument('[audit-dir]', auditDirHelp)
      .option('--against <dir>', 'the candidate policy folder (required)')
      .option('--since <time>', 'the first recorded query to replay (e.g. 2026-05-01 or 2026-05-01T00:00:00Z; required)')
      .option('--until <time>', 'the last (default: the end of the ledger)')
      .option('--json', 'the changes as JSON'),
  ).action(
    exitWith(async (dir: string | undefined, options: ReplayOptions) => {
      const range = replayRange(options)
      const ledger = await ledgerFolder(dir)
      const candidate = await load(range.against)
      if (candidate === null) return 1
      return replay(ledger, candidate, range, options)
    }),
  )
}
