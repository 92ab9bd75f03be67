// gatewayctl changes …: two-person control (docs/dual-control.md) from a DOJ operator's terminal, through
// the admin API: list and read the proposed changes, approve one as the second operator, or cancel it.
// Tables by default, --json for scripts. The URL comes from --url or GATEWAY_URL, the operator token
// from --token or GATEWAY_TOKEN. `agencies reinstate` and `officers reinstate` print a proposal with
// `pendingNotice` when the lift needs a second operator.
import type { Command } from 'commander'
import { adminCommand, need, showAnswer, type AdminOptions } from './admin-api.js'
import { commandGroup, exitWith } from './command.js'
import { out, table, UsageError } from './io.js'

interface Operator {
  operator: string
  operatorOri: string
}

/** A proposed change as the API shows it. */
export interface ChangeView {
  id: string
  action: string
  ori: string
  officer?: string
  reason: string
  sanction: { type: string; scope: string; since: string; until?: string }
  proposedBy: Operator
  proposedAt: string
  expiresAt: string
  status: string
  decidedBy: Operator | null
  decidedAt: string | null
  decisionReason: string | null
}

const who = (operator: Operator | null) => (operator === null ? '-' : `${operator.operator} (${operator.operatorOri})`)
const target = (change: ChangeView) => (change.officer === undefined ? change.ori : `${change.ori} officer ${change.officer}`)
const sanctionText = (change: ChangeView) => `${change.sanction.type}${change.sanction.scope === 'all' ? '' : ` (${change.sanction.scope})`} since ${change.sanction.since}`

function printList(changes: readonly ChangeView[]): void {
  out(
    table(
      ['ID', 'PROPOSED', 'ACTION', 'TARGET', 'SANCTION', 'BY', 'EXPIRES', 'STATUS'],
      changes.map((change) => [change.id, change.proposedAt, change.action, target(change), change.sanction.type, who(change.proposedBy), change.expiresAt, change.status]),
    ),
  )
  out(`${changes.length} changes`)
}

/** One change, a field a line: what the second operator reads before approving. */
function printOne(change: ChangeView): void {
  out(
    table(
      ['FIELD', 'VALUE'],
      [
        ['id', change.id],
        ['status', change.status],
        ['action', change.action],
        ['agency', change.ori],
        ['officer', change.officer ?? '-'],
        ['sanction lifted', sanctionText(change)],
        ['reason', change.reason],
        ['proposed', `${change.proposedAt} by ${who(change.proposedBy)}`],
        ['expires', change.expiresAt],
        ['decided', change.decidedAt === null ? '-' : `${change.decidedAt} by ${who(change.decidedBy)}: ${change.decisionReason ?? '-'}`],
      ],
    ),
  )
}

/** What a lift that awaits a second operator prints: the change id, and what to do next. */
export function pendingNotice(change: ChangeView): void {
  out(`pending a second operator: lifting the ${change.sanction.type} of ${target(change)} needs another DOJ operator's approval; nothing has changed yet`)
  out(`change ${change.id} (expires ${change.expiresAt})`)
  out(`approve with: gatewayctl changes approve ${change.id} --reason TEXT (by a different operator)`)
}

/** The change id argument of a subcommand, checked before anything is sent. */
const changeId = (action: string) => (id: string) => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new UsageError(`${action} needs a change id (a UUID, as changes list shows it)`)
  return id
}

const statuses = ['pending', 'applied', 'cancelled', 'expired', 'all']

/** Registers `gatewayctl changes …` under the program. */
export function changesCommands(program: Command): void {
  const changes = commandGroup(program, 'changes', 'lifts awaiting a second DOJ operator (two-person control): list, read, approve, cancel')

  adminCommand(changes, 'list', 'proposed changes, newest first (pending ones unless --status says otherwise)')
    .option('--status <status>', 'pending (the default), applied, cancelled, expired or all')
    .action(
      exitWith((options: AdminOptions & { status?: string }) => {
        if (options.status !== undefined && !statuses.includes(options.status)) throw new UsageError(`--status: expected one of ${statuses.join(', ')}; got ${options.status}`)
        return showAnswer(options, 'GET', `/v1/changes${options.status === undefined ? '' : `?status=${options.status}`}`, undefined, printList)
      }),
    )

  adminCommand(changes, 'show', 'one proposed change, a field a line')
    .argument('<id>', 'the change id (a UUID)', changeId('show'))
    .action(exitWith((id: string, options: AdminOptions) => showAnswer(options, 'GET', `/v1/changes/${id}`, undefined, printOne)))

  adminCommand(changes, 'approve', 'approve a proposed change as the second DOJ operator: the lift applies')
    .argument('<id>', 'the change id (a UUID)', changeId('approve'))
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(
      exitWith((id: string, options: AdminOptions & { reason?: string }) =>
        showAnswer(options, 'POST', `/v1/changes/${id}/approve`, { reason: need(options, 'reason', 'approve') }, (answer: { change: ChangeView }) => {
          out(`approved: change ${answer.change.id} applied; the ${answer.change.sanction.type} of ${target(answer.change)} is lifted`)
        }),
      ),
    )

  adminCommand(changes, 'cancel', 'cancel a pending proposed change: the sanction stays')
    .argument('<id>', 'the change id (a UUID)', changeId('cancel'))
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(exitWith((id: string, options: AdminOptions & { reason?: string }) => showAnswer(options, 'POST', `/v1/changes/${id}/cancel`, { reason: need(options, 'reason', 'cancel') }, printOne)))
}
