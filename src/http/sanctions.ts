// What an agency's and an officer's sanction share: the time an operator sends, the rules of a
// sanction's shape (src/audit/record.ts, which also checks registry files), the sanction built from a
// request, and how a lapsed suspension shows. src/http/admin.ts and src/http/officers.ts both use them.
import { sanctionShapeProblem } from '../audit/record.js'
import { GatewayError } from '../errors.js'
import type { Sanction, SanctionScope, SanctionType } from '../policy/types.js'

/**
 * The instant a schema-checked date-time names. The schema's date-time format (RFC 3339) admits a
 * leap second, 23:59:60, which Date.parse cannot read (NaN), so every time an operator sends goes
 * through here: a time the gateway cannot read is bad input, refused before anything changes.
 */
export function instantOf(value: string, path: string): number {
  const instant = Date.parse(value)
  if (Number.isNaN(instant)) {
    throw new GatewayError('invalid_request', `${path}: ${JSON.stringify(value)} is not a time the gateway can read`, [
      { path, message: 'must be a date-time such as 2026-05-01T09:30:00Z, without a leap second' },
    ])
  }
  return instant
}

/** A sanction as an operator asks for it (the body of POST .../sanction, schema-checked). */
export interface SanctionRequest<Type extends SanctionType> {
  readonly type: Type
  readonly scope?: SanctionScope | undefined
  readonly reason: string
  readonly until?: string | undefined
  readonly writtenRequests?: boolean | undefined
}

/**
 * The sanction to impose from `now`, or 400 invalid_sanction: a removal covers all, without end; only a
 * suspension ends, at a time in the future the gateway can read; written requests go only with a
 * sanction that leaves something to request.
 */
export function sanctionFrom<Type extends SanctionType>(body: SanctionRequest<Type>, now: number): Sanction & { readonly type: Type } {
  const { type, scope = 'all', reason, until, writtenRequests } = body
  const shape = sanctionShapeProblem({ type, scope, until, writtenRequests })
  if (shape !== null) throw new GatewayError('invalid_sanction', shape.message, [{ path: shape.path, message: shape.issue }])
  const ends = until === undefined ? undefined : instantOf(until, 'until')
  if (ends !== undefined && ends <= now) {
    throw new GatewayError('invalid_sanction', 'the end of a suspension must lie in the future', [{ path: 'until', message: 'must be in the future' }])
  }
  return {
    type,
    scope,
    reason,
    since: new Date(now).toISOString(),
    ...(ends === undefined ? {} : { until: new Date(ends).toISOString() }),
    // Kept only when true: a sanction without the measure keeps the shape it always had.
    ...(writtenRequests === true ? { writtenRequests: true as const } : {}),
  }
}

/** What operators see: a suspension whose `until` has passed is no longer in force, so it shows as none. */
export function withoutLapsedSanction<State extends { readonly sanction: Sanction | null }>(state: State, now: number): State {
  const sanction = state.sanction
  if (sanction?.type === 'suspension' && sanction.until !== undefined && now >= Date.parse(sanction.until)) return { ...state, sanction: null }
  return state
}
