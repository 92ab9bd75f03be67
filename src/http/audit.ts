// Reading the ledger through the API (role doj_operator), for the operators' console (issue 14, point 1):
//
//   GET /v1/agencies/:ori/history   the agency's operator changes, officers' sanctions and written
//                                   requests, oldest first, each with its operator, reason, before/after
//   GET /v1/audit/search?…          what `gatewayctl audit search` finds, with a result limit
//
// The CJIS Security Policy asks that access to the audit log itself be logged: each read is an
// `audit.access` record, durable before the answer leaves (if it cannot be written: 503, nothing read).
// Both read the running gateway's AUDIT_DIR, every instance chain in it, with src/audit/search.ts.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { oriPattern, subPattern, type AuditEvent } from '../audit/record.js'
import { ledgerOrder, ledgerRecords, searchLedgerFirst, type LedgerRecord } from '../audit/search.js'
import { GatewayError } from '../errors.js'
import { instantOf } from './sanctions.js'
import { requireRole, sourceOf, type AppDependencies } from './context.js'
import { errorResponses as errors } from './errors.js'
import { evidenceKinds } from '../policy/types.js'

/** Records a search answers with unless told fewer, and the most it answers with. */
export const searchLimits = { default: 200, max: 1000 } as const

/**
 * The record types an agency's history shows: what DOJ did to it, its officers and its written requests,
 * lifts proposed for two operators, and the operator calls about it refused for want of authority (its
 * own operators' attempts).
 */
const historyTypes = new Set(['operator.change', 'officer.change', 'request.filed', 'request.approved', 'request.refused', 'change.proposed', 'change.approved', 'change.cancelled', 'operator.refused'])

const ori = { type: 'string', pattern: oriPattern.source } as const
const word = { type: 'string', minLength: 1, maxLength: 64 } as const
const state = { type: ['object', 'null'], additionalProperties: true } as const
const historyEntry = {
  type: 'object',
  properties: {
    time: { type: 'string' },
    type: { type: 'string' },
    id: { type: 'string' },
    action: { type: 'string' },
    /** The DOJ operator who made the change, or the officer who filed a written request. */
    operator: { type: 'string' },
    reason: { type: ['string', 'null'] },
    /** The officer an officer.change is about. */
    sub: { type: 'string' },
    /** The written request a request.* record is about. */
    request: { type: 'string' },
    /** The proposed change a change.* record (or the lift it became) is about. */
    change: { type: 'string' },
    before: state,
    after: state,
    /** True when the store then failed to make the change (an operator.failed or request.failed follows). */
    failed: { type: 'boolean' },
  },
} as const

interface SearchQuery {
  ori?: string
  sub?: string
  subject?: string
  purpose?: string
  onBehalfOf?: string
  recipient?: string
  rule?: string
  evidence?: string
  outcome?: string
  type?: string
  since?: string
  until?: string
  limit?: string
}

/** The filters of `gatewayctl audit search`, by their API names, all strings as a query string gives them. */
const searchQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ori,
    sub: { type: 'string', pattern: subPattern.source },
    subject: { type: 'string', minLength: 1, maxLength: 200 },
    purpose: word,
    onBehalfOf: ori,
    recipient: ori,
    rule: word,
    evidence: { type: 'string', enum: [...evidenceKinds] },
    outcome: word,
    type: word,
    since: { type: 'string', minLength: 1, maxLength: 40 },
    until: { type: 'string', minLength: 1, maxLength: 40 },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
  },
} as const

/** One ledger record as a line of an agency's history. */
function historyEntryOf(record: LedgerRecord, failed: ReadonlySet<string>) {
  const field = (name: string) => (typeof record[name] === 'string' ? (record[name] as string) : undefined)
  const filing = record.type === 'request.filed'
  // A refused call has no action or reason of its own: what was asked, and why it was refused.
  const refused = record.type === 'operator.refused'
  return {
    time: record.time,
    type: record.type,
    id: field('id') ?? '',
    // A proposal step shows as itself (change.proposed …), not as the lift it is about; a refused call
    // has no action of its own: what was asked.
    action: (refused ? `${field('method') ?? ''} ${field('route') ?? ''}` : record.type.startsWith('change.') ? record.type : field('action')) ?? record.type,
    operator: (filing ? field('sub') : field('operator')) ?? '',
    reason: (refused ? field('code') : field('reason')) ?? null,
    ...(record.type === 'officer.change' || record.type.startsWith('change.') ? { sub: field('sub') } : {}),
    ...(record.type.startsWith('request.') ? { request: field('request') ?? field('id') } : {}),
    ...(record.type === 'change.proposed' ? { change: field('id') } : field('change') === undefined ? {} : { change: field('change') }),
    before: (record.before as object | undefined) ?? null,
    after: (record.after as object | undefined) ?? null,
    failed: failed.has(field('id') ?? ''),
  }
}

export function auditRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const onRequest = requireRole(deps, 'doj_operator')

  /** The read's audit.access record, durable before the answer (a ledger that cannot take it fails the read: 503). */
  async function recordAccess(request: FastifyRequest, action: 'search' | 'history', filter: Record<string, string>, resultCount: number): Promise<void> {
    const identity = request.identity!
    const event: AuditEvent = { type: 'audit.access', id: randomUUID(), ori: identity.ori, sub: identity.sub, source: sourceOf(request), action, filter, resultCount }
    await deps.ledger.append(event, deps.clock())
  }

  app.get<{ Params: { ori: string } }>(
    '/v1/agencies/:ori/history',
    {
      onRequest,
      schema: {
        summary: "An agency's history from the audit ledger (the read is itself audited)",
        params: { type: 'object', required: ['ori'], properties: { ori } },
        response: { 200: { type: 'object', properties: { ori: { type: 'string' }, entries: { type: 'array', items: historyEntry } } }, ...errors },
      },
    },
    async (request) => {
      const wanted = request.params.ori
      const found: LedgerRecord[] = []
      const failed = new Set<string>()
      for await (const record of ledgerRecords(deps.auditDir)) {
        if (record.type === 'operator.failed' || record.type === 'request.failed') failed.add(String(record.id))
        else if (historyTypes.has(record.type) && record.ori === wanted) found.push(record)
      }
      // An ORI the registry never held and the ledger never named is a typo, answered as one (nothing recorded).
      if (found.length === 0 && (await deps.store.get(wanted)) === null) throw new GatewayError('agency_not_found', `no agency is registered with ORI ${wanted}, and the ledger holds no record of one`)
      const entries = found.sort(ledgerOrder).map((record) => historyEntryOf(record, failed))
      await recordAccess(request, 'history', { ori: wanted }, entries.length)
      return { ori: wanted, entries }
    },
  )

  app.get<{ Querystring: SearchQuery }>(
    '/v1/audit/search',
    {
      onRequest,
      schema: {
        summary: 'Search the audit ledger (the search is itself audited)',
        querystring: searchQuerySchema,
        response: {
          200: {
            type: 'object',
            properties: {
              records: { type: 'array', items: { type: 'object', additionalProperties: true } },
              matched: { type: 'integer' },
              truncated: { type: 'boolean' },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { limit, since, until, ...fields } = request.query
      const max = limit === undefined ? searchLimits.default : Number(limit)
      if (max > searchLimits.max) throw new GatewayError('invalid_request', `limit: at most ${searchLimits.max} records a search`, [{ path: 'limit', message: `must be at most ${searchLimits.max}` }])
      const filter = { ...fields, since: since === undefined ? undefined : instantOf(since, 'since'), until: until === undefined ? undefined : instantOf(until, 'until') }
      const { records, matched } = await searchLedgerFirst(deps.auditDir, filter, max, deps.hasher)
      // The filter as the operator gave it: it may name a subject, and the ledger is where that may be kept.
      await recordAccess(request, 'search', { ...request.query }, records.length)
      return { records, matched, truncated: matched > records.length }
    },
  )
}
