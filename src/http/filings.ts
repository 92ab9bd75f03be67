// Agencies' annual misuse filings (issue 13, point 5), for DOJ operators (role doj_operator). The DOJ
// bulletin of 17 April 2018: agencies must report misuse annually, and those that fail to are
// sanctioned (docs/facts.md). An operator records what an agency filed for a year (investigations,
// violations found, individuals, pending, discipline by kind, violations by category) with a reason;
// like every operator change it is audited (a `filing.recorded` record with before and after) before it
// takes effect, and kept in the store (the embedded store's journal, or Redis) across restarts.
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { agencyTextLimits, filingFiguresSchema, oriPattern } from '../audit/record.js'
import { californiaYear } from '../audit/report.js'
import { GatewayError } from '../errors.js'
import { FilingConflictError } from '../state/redis.js'
import { disciplineKinds, filingCategories, type FilingChange, type MisuseFiling } from '../state/types.js'
import { ownAgencyHook } from './authority.js'
import { auditedChange, requireRole, type AppDependencies } from './context.js'
import { errorResponses as errors } from './errors.js'

/** The earliest year a filing may be for: 2017, the first year of reporting the sources give figures for (docs/facts.md). */
export const firstFilingYear = 2017

/** The body of PUT /v1/agencies/:ori/filings/:year: the figures and the operator's reason. */
const filingBody = filingFiguresSchema
  .extend({ reason: z.string().min(1).max(agencyTextLimits.reason) })
  .refine((filing) => filing.pending <= filing.investigations, { path: ['pending'], message: 'cannot exceed investigations' })

/** The fixed lists a filing's counts are keyed by, named in the answer to an unknown key. */
const knownKeys: Readonly<Record<string, string>> = { discipline: disciplineKinds.join(', '), categories: filingCategories.join(', ') }

const params = {
  type: 'object',
  required: ['ori', 'year'],
  properties: { ori: { type: 'string', pattern: oriPattern.source }, year: { type: 'string', pattern: '^[0-9]{4}$' } },
} as const
const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const
export const filingView = {
  type: 'object',
  properties: {
    ori: { type: 'string' },
    year: { type: 'integer' },
    investigations: { type: 'integer' },
    violations: { type: 'integer' },
    individuals: { type: 'integer' },
    pending: { type: 'integer' },
    discipline: counts,
    categories: counts,
    recordedAt: { type: 'string' },
    version: { type: 'integer' },
  },
} as const

/** A year an agency may have filed for: from firstFilingYear to the last whole year in California. */
function filingYear(text: string, now: number): number {
  const year = Number(text)
  const last = californiaYear(now) - 1
  if (year < firstFilingYear || year > last) {
    throw new GatewayError('invalid_request', `a filing is for a finished year from ${firstFilingYear} to ${last}; got ${year}`, [{ path: 'year', message: `must be from ${firstFilingYear} to ${last}` }])
  }
  return year
}

export function filingRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const { store, clock } = deps
  const onRequest = requireRole(deps, 'doj_operator')

  app.put<{ Params: { ori: string; year: string }; Body: unknown }>(
    '/v1/agencies/:ori/filings/:year',
    // No operator records their own agency's misuse filing (src/http/authority.ts).
    { onRequest: [onRequest, ownAgencyHook(deps, 'record the misuse filing of')], schema: { summary: "Record an agency's annual misuse filing (audited)", params, response: { 200: filingView, 201: filingView, ...errors } } },
    async (request, reply) => {
      const year = filingYear(request.params.year, clock())
      const parsed = filingBody.safeParse(request.body)
      if (!parsed.success) {
        throw new GatewayError(
          'invalid_request',
          'the filing does not match the schema',
          parsed.error.issues.slice(0, 20).map((issue) => ({ path: issue.path.join('.') || 'body', message: issue.message + (knownKeys[String(issue.path[0])] === undefined || issue.code !== 'unrecognized_keys' ? '' : `; expected one of ${knownKeys[String(issue.path[0])]}`) })),
        )
      }
      const { reason, ...figures } = parsed.data
      const { applied } = await auditedChange<FilingChange>(
        deps,
        request,
        reply,
        (change, id, author) => ({ type: 'filing.recorded', id, ...author, ori: change.ori, year: change.year, reason, before: change.before, after: change.after }),
        (error) => (error instanceof FilingConflictError ? 'agency_conflict' : 'state_unavailable'),
        (now, beforeCommit) => store.recordFiling(request.params.ori, year, figures, now, beforeCommit),
      )
      if (applied.before === null) reply.code(201)
      return applied.after
    },
  )

  app.get<{ Params: { ori: string; year: string } }>('/v1/agencies/:ori/filings/:year', { onRequest, schema: { summary: "An agency's misuse filing for a year", params, response: { 200: filingView, ...errors } } }, async (request) => {
    const filing = await store.getFiling(request.params.ori, Number(request.params.year))
    if (filing === null) throw new GatewayError('filing_not_found', `no filing of ${request.params.ori} for ${request.params.year} is recorded`)
    return filing
  })

  app.get<{ Querystring: { year: string } }>(
    '/v1/filings',
    {
      onRequest,
      schema: {
        summary: 'Every filing of a year',
        querystring: { type: 'object', required: ['year'], additionalProperties: false, properties: { year: { type: 'string', pattern: '^[0-9]{4}$' } } },
        response: { 200: { type: 'array', items: filingView }, ...errors },
      },
    },
    async (request): Promise<MisuseFiling[]> => store.listFilings(Number(request.query.year)),
  )
}
