// gatewayctl requests …: written requests (issue 12, point 5) from a DOJ operator's terminal, through the
// admin API: list and read them, approve or refuse them with a reason. Tables by default, --json for
// scripts. The URL comes from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN.
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { oriPattern } from '../audit/record.js'
import { printable } from '../printable.js'
import { err, out, table, UsageError } from './io.js'

export const requestsUsage = `  gatewayctl requests list [--status pending|approved|refused|delivered|denied|expired] [--ori ORI] [--json]
  gatewayctl requests show ID [--json]
  gatewayctl requests approve ID --reason TEXT [--json]
  gatewayctl requests refuse ID --reason TEXT [--json]
    (every requests command takes --url URL (GATEWAY_URL) and --token TOKEN (GATEWAY_TOKEN))`

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  status: { type: 'string' },
  ori: { type: 'string' },
  reason: { type: 'string' },
} as const

/** A written request as the API shows it. */
interface RequestView {
  id: string
  ori: string
  sub: string
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

type ErrorAnswer = { error?: { code: string; message: string; issues?: { path: string; message: string }[] } }

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
        ['approval expires', dash(view.approvalExpiresAt)],
        ['executed', dash(view.executedAt)],
      ],
    ),
  )
}

export async function requests(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true })
  const [action, id, ...rest] = positionals
  if (action === undefined || rest.length > 0) throw new UsageError(requestsUsage)
  const url = (values.url ?? process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
  const token = values.token ?? process.env.GATEWAY_TOKEN
  if (token === undefined) throw new UsageError('an operator token is needed: --token or GATEWAY_TOKEN (gatewayctl token --role doj_operator …)')
  const needId = () => {
    if (id === undefined || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new UsageError(`${action} needs a request id (a UUID, as requests list shows it)`)
    return id
  }
  const needReason = () => {
    if (values.reason === undefined) throw new UsageError(`${action} needs --reason`)
    return values.reason
  }

  let method: 'GET' | 'POST' = 'GET'
  let path: string
  let body: Record<string, unknown> | undefined
  switch (action) {
    case 'list': {
      if (id !== undefined) throw new UsageError(requestsUsage)
      if (values.ori !== undefined && !oriPattern.test(values.ori)) throw new UsageError(`--ori: expected an ORI such as CA0194200; got ${values.ori}`)
      const filters = new URLSearchParams()
      if (values.status !== undefined) filters.set('status', values.status)
      if (values.ori !== undefined) filters.set('ori', values.ori)
      path = `/v1/requests${filters.size === 0 ? '' : `?${filters.toString()}`}`
      break
    }
    case 'show':
      path = `/v1/requests/${needId()}`
      break
    case 'approve':
    case 'refuse':
      method = 'POST'
      path = `/v1/requests/${needId()}/${action}`
      body = { reason: needReason() }
      break
    default:
      throw new UsageError(`unknown requests command ${action}\n${requestsUsage}`)
  }

  let response
  try {
    response = await request(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    })
  } catch (error) {
    err(`gatewayctl: cannot reach ${url}: ${(error as Error).message}`)
    return 1
  }
  const answer = (await response.body.json().catch(() => null)) as ErrorAnswer | RequestView | RequestView[] | null
  if (response.statusCode >= 400 || answer === null) {
    const error = (answer as ErrorAnswer | null)?.error
    // The message and issues may quote what was sent: shown as text.
    err(printable(`error ${response.statusCode}: ${error?.code ?? 'unknown'}: ${error?.message ?? 'no answer'}`))
    for (const issue of error?.issues ?? []) err(printable(`  ${issue.path}: ${issue.message}`))
    return 1
  }
  if (values.json) out(JSON.stringify(answer, null, 2))
  else if (Array.isArray(answer)) printList(answer)
  else printOne(answer as RequestView)
  return 0
}
