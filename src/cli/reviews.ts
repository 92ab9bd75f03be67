// gatewayctl reviews …: the review queue (docs/reviews.md) from a DOJ reviewer's terminal, through the
// admin API: list the reviews, read one with the decisions behind it, record a finding (which closes
// it). Tables by default, --json for scripts. The URL comes from --url or GATEWAY_URL, the operator
// token from --token or GATEWAY_TOKEN.
import type { Command } from 'commander'
import { oriPattern } from '../policy/types.js'
import { filingCategories, reviewFindings, type ReviewItem } from '../state/types.js'
import { adminCommand, need, showAnswer, type AdminOptions } from './admin-api.js'
import { commandGroup, exitWith } from './command.js'
import { out, table, UsageError } from './io.js'

interface ReviewDetail {
  review: ReviewItem
  decisions: Record<string, unknown>[]
  agency: { ori: string; name: string } | null
  officer: { sanction: { type: string } | null } | null
}

const what = (item: ReviewItem) => (item.signal === undefined ? item.source : `signal ${item.signal}`)
const findingText = (item: ReviewItem) =>
  item.finding === null ? '-' : `${item.finding.finding}${item.finding.category === undefined ? '' : ` (${item.finding.category})`} by ${item.finding.by.operator} (${item.finding.by.operatorOri}) on ${item.finding.at}: ${item.finding.reason}`

function printList(items: readonly ReviewItem[]): void {
  out(
    table(
      ['ID', 'OPENED', 'STATUS', 'AGENCY', 'OFFICER', 'OPENED BY', 'DECISIONS', 'FINDING'],
      items.map((item) => [item.id, item.openedAt, item.status, item.ori, item.officer, what(item), String(item.occurrences), item.finding?.finding ?? '-']),
    ),
  )
  out(`${items.length} reviews`)
}

/** One review, a field a line, then its evidence and the decisions behind it: what a reviewer reads first. */
function printOne(detail: ReviewDetail): void {
  const item = detail.review
  out(
    table(
      ['FIELD', 'VALUE'],
      [
        ['id', item.id],
        ['status', item.status],
        ['summary', item.summary],
        ['opened', `${item.openedAt} by ${what(item)}`],
        ['agency', detail.agency === null ? item.ori : `${item.ori} ${detail.agency.name}`],
        ['officer', `${item.officer} (token spelling ${item.sub})${detail.officer?.sanction ? `, under a ${detail.officer.sanction.type}` : ''}`],
        ['occurrences', String(item.occurrences)],
        ['finding', findingText(item)],
      ],
    ),
  )
  if (item.evidence.length > 0) out(table(['EVIDENCE', 'FIELD', 'TEXT'], item.evidence.map((evidence) => [evidence.kind, evidence.field, evidence.text])))
  const text = (record: Record<string, unknown>, name: string) => (typeof record[name] === 'string' ? (record[name] as string) : '-')
  out(
    table(
      ['DECISION', 'TIME', 'TYPE', 'PURPOSE', 'OUTCOME', 'RULE', 'JUSTIFICATION'],
      detail.decisions.map((record) => [text(record, 'id'), text(record, 'time'), text(record, 'type'), text(record, 'purpose'), text(record, 'outcome'), text(record, 'rule'), text(record, 'justification')]),
    ),
  )
}

const reviewId = (action: string) => (id: string) => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new UsageError(`${action} needs a review id (a UUID, as reviews list shows it)`)
  return id
}
const statuses = ['open', 'closed', 'all']

/** Registers `gatewayctl reviews …` under the program. */
export function reviewsCommands(program: Command): void {
  const reviews = commandGroup(program, 'reviews', 'the review queue: list reviews, read one with its evidence and decisions, record a finding')

  adminCommand(reviews, 'list', 'reviews, newest first (open ones unless --status says otherwise)')
    .option('--status <status>', 'open (the default), closed or all')
    .option('--ori <ori>', 'only the reviews of this agency')
    .action(
      exitWith((options: AdminOptions & { status?: string; ori?: string }) => {
        if (options.status !== undefined && !statuses.includes(options.status)) throw new UsageError(`--status: expected one of ${statuses.join(', ')}; got ${options.status}`)
        if (options.ori !== undefined && !oriPattern.test(options.ori)) throw new UsageError(`--ori: expected an ORI (two capital letters, then seven capital letters or digits); got ${options.ori}`)
        const query = new URLSearchParams()
        if (options.status !== undefined) query.set('status', options.status)
        if (options.ori !== undefined) query.set('ori', options.ori)
        const text = query.toString()
        return showAnswer(options, 'GET', `/v1/reviews${text === '' ? '' : `?${text}`}`, undefined, printList)
      }),
    )

  adminCommand(reviews, 'show', 'one review: its evidence, the decisions behind it, the agency and the officer (an audited read)')
    .argument('<id>', 'the review id (a UUID)', reviewId('show'))
    .action(exitWith((id: string, options: AdminOptions) => showAnswer(options, 'GET', `/v1/reviews/${id}`, undefined, printOne)))

  adminCommand(reviews, 'finding', "record a review's finding, which closes it (never about your own agency)")
    .argument('<id>', 'the review id (a UUID)', reviewId('finding'))
    .option('--finding <finding>', `${reviewFindings.join(', ')} (required)`)
    .option('--category <category>', `with confirmed_misuse: ${filingCategories.join(', ')}`)
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(
      exitWith((id: string, options: AdminOptions & { finding?: string; category?: string; reason?: string }) => {
        const finding = need(options, 'finding', 'finding')
        if (!(reviewFindings as readonly string[]).includes(finding)) throw new UsageError(`--finding: expected one of ${reviewFindings.join(', ')}; got ${finding}`)
        if (options.category !== undefined && !(filingCategories as readonly string[]).includes(options.category)) throw new UsageError(`--category: expected one of ${filingCategories.join(', ')}; got ${options.category}`)
        const body = { finding, ...(options.category === undefined ? {} : { category: options.category }), reason: need(options, 'reason', 'finding') }
        return showAnswer(options, 'PUT', `/v1/reviews/${id}/finding`, body, (item: ReviewItem) => out(`closed: review ${item.id} of ${item.ori} officer ${item.officer}: ${findingText(item)}`))
      }),
    )
}
