// gatewayctl officers …: officer sanctions (issue 12, point 4) through the admin API, for DOJ operators.
// An officer is a user id (the token's sub) at an agency (ORI). Tables by default, --json for scripts;
// the URL from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN.
import type { Command } from 'commander'
import { foldUserId } from '../policy/identity.js'
import { oriPattern, type OfficerState } from '../policy/types.js'
import { pendingNotice, type ChangeView } from './changes.js'
import { adminCommand, need, oriArgument, sanctionBody, sanctionOptions, showAnswer, type AdminOptions, type SanctionOptions } from './admin-api.js'
import { commandGroup, exitWith } from './command.js'
import { confirm, out, table, UsageError } from './io.js'

function sanctionText(officer: OfficerState): string {
  const sanction = officer.sanction
  if (sanction === null) return '-'
  const scope = sanction.scope === 'all' ? '' : ` (${sanction.scope})`
  return `${sanction.type}${scope}${sanction.until === undefined ? '' : ` until ${sanction.until}`}`
}

function print(answer: OfficerState | OfficerState[]): void {
  const officers = Array.isArray(answer) ? answer : [answer]
  out(
    table(
      ['ORI', 'USER', 'SANCTION', 'SINCE', 'REASON', 'VERSION'],
      officers.map((officer) => [officer.ori, officer.sub, sanctionText(officer), officer.sanction?.since ?? '-', officer.sanction?.reason ?? '-', String(officer.version)]),
    ),
  )
}

/** The officer's path: an ORI and a user id as tokens carry it, percent-encoded (a user id may hold `/`). */
const officerPath = (ori: string, sub: string) => `/v1/officers/${ori}/${encodeURIComponent(sub)}`

/** The <ori> <user> arguments of a subcommand, checked before anything is sent. */
function officerArguments(command: Command, action: string): Command {
  return command
    .argument('<ori>', "the officer's agency, e.g. CA0194200", oriArgument(`${action} needs an ORI such as CA0194200, then the officer's user id`))
    .argument('<user>', "the officer's user id (the token's sub, in any spelling: compared folded, docs/identity.md)", (sub: string) => {
      if (foldUserId(sub) === null) throw new UsageError(`${action} needs the officer's user id (the token's sub: 1 to 128 printable characters, no space) after the ORI`)
      return sub
    })
}

/** Registers `gatewayctl officers …` under the program. */
export function officersCommands(program: Command): void {
  const officers = commandGroup(program, 'officers', "officers' sanctions, through the admin API (DOJ operators)")

  adminCommand(officers, 'list', 'the officers under a sanction now')
    .option('--ori <ori>', "only this agency's officers")
    // An ORI typed as an argument gets a message saying to use --ori, rather than commander's count of arguments.
    .allowExcessArguments()
    .action(
      exitWith((options: AdminOptions & { ori?: string }, command: Command) => {
        if (command.args.length > 0) throw new UsageError('list takes no ORI argument: --ori ORI')
        if (options.ori !== undefined && !oriPattern.test(options.ori)) throw new UsageError(`--ori: expected an ORI such as CA0194200; got ${options.ori}`)
        return showAnswer(options, 'GET', options.ori === undefined ? '/v1/officers' : `/v1/officers?ori=${options.ori}`, undefined, print)
      }),
    )

  officerArguments(adminCommand(officers, 'show', "one officer's sanction state"), 'show').action(
    exitWith((ori: string, sub: string, options: AdminOptions) => showAnswer(options, 'GET', officerPath(ori, sub), undefined, print)),
  )

  sanctionOptions(officerArguments(adminCommand(officers, 'sanction', 'suspend or remove one officer'), 'sanction'), 'suspension or removal').action(
    exitWith(async (ori: string, sub: string, options: AdminOptions & SanctionOptions) => {
      const body = sanctionBody('sanction', options)
      if (options.type === 'removal') await confirm(`remove officer ${sub} of ${ori}: every query they make will be refused until they are reinstated`, sub, options.yes === true)
      return showAnswer(options, 'PUT', `${officerPath(ori, sub)}/sanction`, body, print)
    }),
  )

  officerArguments(adminCommand(officers, 'reinstate', "end one officer's sanction"), 'reinstate')
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(
      exitWith((ori: string, sub: string, options: AdminOptions & { reason?: string }) =>
        // A lift the policy reserves for two operators answers with the proposed change (exit 0: it was proposed).
        showAnswer(options, 'DELETE', `${officerPath(ori, sub)}/sanction`, { reason: need(options, 'reason', 'reinstate') }, (answer: OfficerState | { change: ChangeView }) =>
          'change' in answer ? pendingNotice(answer.change) : print(answer),
        ),
      ),
    )
}
