// The review queue (docs/reviews.md), role doj_operator:
//
//   GET /v1/reviews[?status=open|closed&ori=…]   the items, newest first (open ones unless told)
//   GET /v1/reviews/:id                          one item with the decisions behind it (read from the
//                                                ledger: an audited read), the agency and the officer
//   PUT /v1/reviews/:id/finding  { finding, category?, reason }   closes it
//
// A finding is never about the reviewer's own agency, is a `review.finding` record before it applies,
// and closes the item by compare-and-set on its version: of two findings on any instances, one applies.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { agencyTextLimits, oriPattern } from '../audit/record.js'
import { ledgerRecords, ledgerOrder, type LedgerRecord } from '../audit/search.js'
import { GatewayError } from '../errors.js'
import { filingCategories, reviewFindings, reviewStatuses, type FilingCategory, type ReviewFinding, type ReviewItem, type ReviewStatus } from '../state/types.js'
import { forbidOwnAgency } from './authority.js'
import { requireRole, sourceOf, type AppDependencies } from './context.js'
import { errorResponses as errors } from './errors.js'

const uuid = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: uuid } } } as const
const strings = { type: 'array', items: { type: 'string' } } as const
export const reviewView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: [...reviewStatuses] },
    source: { type: 'string' },
    signal: { type: 'string' },
    ori: { type: 'string' },
    officer: { type: 'string' },
    sub: { type: 'string' },
    decisions: strings,
    evidence: { type: 'array', items: { type: 'object', properties: { kind: { type: 'string' }, field: { type: 'string' }, text: { type: 'string' } } } },
    summary: { type: 'string' },
    openedAt: { type: 'string' },
    occurrences: { type: 'integer' },
    joined: strings,
    finding: {
      type: ['object', 'null'],
      properties: {
        finding: { type: 'string' },
        category: { type: 'string' },
        reason: { type: 'string' },
        by: { type: 'object', properties: { operator: { type: 'string' }, operatorOri: { type: 'string' } } },
        at: { type: 'string' },
      },
    },
    version: { type: 'integer' },
  },
} as const
const detailView = {
  type: 'object',
  properties: {
    review: reviewView,
    /** The ledger records of the decisions behind it (query.decision and query.outcome), oldest first. */
    decisions: { type: 'array', items: { type: 'object', additionalProperties: true } },
    agency: { type: ['object', 'null'], additionalProperties: true },
    officer: { type: ['object', 'null'], additionalProperties: true },
  },
} as const
const findingBody = {
  type: 'object',
  required: ['finding', 'reason'],
  additionalProperties: false,
  properties: {
    finding: { enum: [...reviewFindings] },
    category: { enum: [...filingCategories] },
    reason: { type: 'string', minLength: 1, maxLength: agencyTextLimits.reason },
  },
} as const

interface FindingBody {
  finding: ReviewFinding
  category?: FilingCategory
  reason: string
}

export function reviewRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, ledger, clock } = deps
  const onRequest = requireRole(deps, 'doj_operator')

  async function found(id: string): Promise<ReviewItem> {
    const item = await store.getReview(id)
    if (item === null) throw new GatewayError('review_not_found', `no review ${id}`)
    return item
  }

  app.get<{ Querystring: { status?: ReviewStatus | 'all'; ori?: string } }>(
    '/v1/reviews',
    {
      onRequest,
      schema: {
        summary: 'The review queue (open reviews unless told; newest first)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { status: { enum: [...reviewStatuses, 'all'] }, ori: { type: 'string', pattern: oriPattern.source } },
        },
        response: { 200: { type: 'array', items: reviewView }, ...errors },
      },
    },
    async (request) => {
      const wanted = request.query.status ?? 'open'
      const { ori } = request.query
      return (await store.listReviews()).filter((item) => (wanted === 'all' || item.status === wanted) && (ori === undefined || item.ori === ori))
    },
  )

  app.get<{ Params: { id: string } }>(
    '/v1/reviews/:id',
    { onRequest, schema: { summary: 'One review with the decisions behind it, the agency and the officer (the ledger read is audited)', params: idParams, response: { 200: detailView, ...errors } } },
    async (request) => {
      const item = await found(request.params.id)
      const wanted = new Set(item.decisions)
      const decisions: LedgerRecord[] = []
      for await (const record of ledgerRecords(deps.auditDir)) {
        if ((record.type === 'query.decision' || record.type === 'query.outcome') && wanted.has(record.id as string)) decisions.push(record)
      }
      decisions.sort(ledgerOrder)
      const [agency, officer] = await Promise.all([store.get(item.ori), store.getOfficer(item.ori, item.officer)])
      // The decisions hold subjects: reading them is a read of the audit log, and logged as one.
      const identity = request.identity!
      await ledger.append({ type: 'audit.access', id: randomUUID(), ori: identity.ori, sub: identity.sub, source: sourceOf(request), action: 'review', filter: { review: item.id }, resultCount: decisions.length }, clock())
      return { review: item, decisions, agency, officer }
    },
  )

  app.put<{ Params: { id: string }; Body: FindingBody }>(
    '/v1/reviews/:id/finding',
    { onRequest, schema: { summary: "Record a review's finding, which closes it (audited; never about the reviewer's own agency)", params: idParams, body: findingBody, response: { 200: reviewView, ...errors } } },
    async (request, reply) => {
      const { finding, category, reason } = request.body
      if (category !== undefined && finding !== 'confirmed_misuse') {
        throw new GatewayError('invalid_finding', `a category names the misuse a finding confirms; a ${finding} finding takes none`, [{ path: 'category', message: 'only with confirmed_misuse' }])
      }
      const current = await found(request.params.id)
      const closed = (item: ReviewItem) =>
        new GatewayError('review_closed', `review ${item.id} was closed with ${item.finding?.finding ?? 'a finding'} by ${item.finding?.by.operator ?? 'another reviewer'} (${item.finding?.by.operatorOri ?? '?'}) on ${item.finding?.at ?? 'an earlier call'}`)
      if (current.status === 'closed') throw closed(current)
      await forbidOwnAgency(deps, request, reply, [current.ori], 'decide a review of')
      const identity = request.identity!
      const now = clock()
      const auditId = randomUUID()
      await ledger.append(
        { type: 'review.finding', id: auditId, review: current.id, ori: current.ori, sub: current.officer, operator: identity.sub, operatorOri: identity.ori, source: sourceOf(request), finding, ...(category === undefined ? {} : { category }), reason, ...(current.joined.length === 0 ? {} : { joined: [...current.joined] }) },
        now,
      )
      const decided: ReviewItem = {
        ...current,
        status: 'closed',
        finding: { finding, ...(category === undefined ? {} : { category }), reason, by: { operator: identity.sub, operatorOri: identity.ori }, at: new Date(now).toISOString() },
        version: current.version + 1,
      }
      const failed = (code: string) => void ledger.append({ type: 'operator.failed', id: auditId, code }, clock()).catch(() => undefined)
      let saved: boolean
      try {
        saved = await store.saveReview(decided, current.version, now)
      } catch (error) {
        failed('state_unavailable')
        throw error
      }
      if (!saved) {
        failed('review_closed')
        throw closed((await store.getReview(current.id)) ?? current)
      }
      deps.metrics.operatorChanges.labels('review.finding').inc()
      request.log.info({ operator: identity.sub, ori: current.ori, action: 'review.finding', review: current.id, finding, auditId }, 'review finding recorded')
      reply.header('x-audit-id', auditId)
      return decided
    },
  )
}
