// gatewayctl requests …: written requests (issue 12, point 5) from a DOJ operator's terminal, through the
// admin API: list and read them, approve or refuse them with a reason. Tables by default, --json for
// scripts. The URL comes from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN.
import type { Command } from 'commander'
import { foldUserId } from '../policy/identity.js'
import { oriPattern } from '../policy/types.js'
import { adminCommand, need, showAnswer, type AdminOptions } from './admin-api.js'
import { commandGroup, exitWith } from './command.js'
import { out, table, UsageError } from './io.js'

/** A written request as the API shows it. */
interface RequestView {
  id: string
  ori: string
  sub: string
  /** The filer's folded user id. */
  officer: string
  /** The officer the approval names to retrieve the records besides the filer. */
  retriever: string | null
  terminal: string | null
  database: string
  purpose: string
  subject: Record<string, string>
  caseNumber: string | null
  justification: string
  requester: { name?: string; title?: string; ori?: string }
  status: string
  filedAt: string
  decidedAt: string | null
  decidedBy: string | null
  decisionReason: string | null
  approvalExpiresAt: string | null
  executedAt: string | null
}

const dash = (value: string | null | undefined) => (value === null || value === undefined || value === '' ? '-' : value)

function printList(requests: readonly RequestView[]): void {
  out(
    table(
      ['ID', 'FILED', 'ORI', 'STATUS', 'DATABASE', 'PURPOSE', 'CASE', 'OFFICER'],
      requests.map((view) => [view.id, view.filedAt, view.ori, view.status, view.database, view.purpose, dash(view.caseNumber), view.sub]),
    ),
  )
  out(`${requests.length} requests`)
}

/** One request, a field a line: what an operator reads before deciding. */
function printOne(view: RequestView): void {
  const requester = [view.requester.name, view.requester.title, view.requester.ori].filter((part) => part !== undefined).join(', ')
  out(
    table(
      ['FIELD', 'VALUE'],
      [
        ['id', view.id],
        ['status', view.status],
        ['agency', view.ori],
        ['filed', `${view.filedAt} by ${view.sub}${view.terminal === null ? '' : ` at ${view.terminal}`}`],
        ['requester', dash(requester)],
        ['database', view.database],
        ['purpose', view.purpose],
        ['case number', dash(view.caseNumber)],
        ['subject', Object.entries(view.subject).map(([field, value]) => `${field}=${value}`).join(' ')],
        ['justification', view.justification],
        ['decided', view.decidedAt === null ? '-' : `${view.decidedAt} by ${dash(view.decidedBy)}: ${dash(view.decisionReason)}`],
        ['retrieved by', view.retriever === null ? `${view.officer} (the filer) only` : `${view.officer} (the filer) or ${view.retriever}`],
        ['approval expires', dash(view.approvalExpiresAt)],
        ['executed', dash(view.executedAt)],
      ],
    ),
  )
}

/** The request id argument of a subcommand, checked before anything is sent. */
const requestId = (action: string) => (id: string) => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new UsageError(`${action} needs a request id (a UUID, as requests list shows it)`)
  return id
}

const print = (answer: RequestView | RequestView[]) => (Array.isArray(answer) ? printList(answer) : printOne(answer))

/** Registers `gatewayctl requests …` under the program. */
export function requestsCommands(program: Command): void {
  const requests = commandGroup(program, 'requests', 'written requests for criminal history: list, read, approve, refuse (DOJ operators)')

  adminCommand(requests, 'list', 'written requests, newest first')
    .option('--status <status>', 'only these: pending, approved, refused, delivered, denied or expired')
    .option('--ori <ori>', "only this agency's")
    .action(
      exitWith((options: AdminOptions & { status?: string; ori?: string }) => {
        if (options.ori !== undefined && !oriPattern.test(options.ori)) throw new UsageError(`--ori: expected an ORI such as CA0194200; got ${options.ori}`)
        const filters = new URLSearchParams()
        if (options.status !== undefined) filters.set('status', options.status)
        if (options.ori !== undefined) filters.set('ori', options.ori)
        return showAnswer(options, 'GET', `/v1/requests${filters.size === 0 ? '' : `?${filters.toString()}`}`, undefined, print)
      }),
    )

  adminCommand(requests, 'show', 'one request, a field a line')
    .argument('<id>', 'the request id (a UUID)', requestId('show'))
    .action(exitWith((id: string, options: AdminOptions) => showAnswer(options, 'GET', `/v1/requests/${id}`, undefined, print)))

  adminCommand(requests, 'approve', 'approve a pending request: the query runs once, for the filing officer (or the --retriever) to collect')
    .argument('<id>', 'the request id (a UUID)', requestId('approve'))
    .option('--reason <text>', 'why, for the audit ledger and the requester (required)')
    .option('--retriever <user>', 'another officer of the agency (a user id) who may collect the records besides the filer')
    .action(
      exitWith((id: string, options: AdminOptions & { reason?: string; retriever?: string }) => {
        const reason = need(options, 'reason', 'approve')
        const { retriever } = options
        if (retriever !== undefined && foldUserId(retriever) === null) throw new UsageError(`--retriever: expected a user id (1 to 128 printable characters, no space); got ${retriever}`)
        return showAnswer(options, 'POST', `/v1/requests/${id}/approve`, retriever === undefined ? { reason } : { reason, retriever }, print)
      }),
    )
  adminCommand(requests, 'refuse', 'refuse a pending request')
    .argument('<id>', 'the request id (a UUID)', requestId('refuse'))
    .option('--reason <text>', 'why, for the audit ledger and the requester (required)')
    .action(exitWith((id: string, options: AdminOptions & { reason?: string }) => showAnswer(options, 'POST', `/v1/requests/${id}/refuse`, { reason: need(options, 'reason', 'refuse') }, print)))
}
