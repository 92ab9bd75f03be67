// No one acts on their own agency. A DOJ operator changes other agencies' registration, agreement and
// sanction, their officers' sanctions and their misuse filings, and decides other agencies' written
// requests; never those of the agency their own token names (its `ori`). An operator whose agency is
// itself registered (DOJ's own ORI, when DOJ's terminals query through the gateway) would otherwise lift
// their own agency's sanction or approve its requests: the same hand on both sides of the check.
// Such a call is refused 403 own_agency_forbidden, recorded first (operator.refused), and changes nothing.
// Reading one's own agency stays allowed.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../errors.js'
import type { Role } from './auth.js'
import { refuseAudited, type AppDependencies } from './context.js'

/**
 * Refuses (403 own_agency_forbidden, audited before the answer) a call by which the token's agency would
 * change, or decide about, itself: when any of `concerned` (the agencies the change or decision is
 * about: the target, and for a written request also whom it is on behalf of) is the token's ORI.
 * `doing` says what the call does, for the message ("lift the sanction of"). Returns when none is.
 * Every route that changes an agency's state or decides about an agency calls it (or ownAgencyHook).
 */
export async function forbidOwnAgency(
  deps: AppDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  concerned: readonly (string | null | undefined)[],
  doing: string,
  role: Role = 'doj_operator',
): Promise<void> {
  const own = request.identity!.ori
  if (!concerned.includes(own)) return
  const refusal = new GatewayError(
    'own_agency_forbidden',
    `an operator may not ${doing} their own agency: ${own} is the agency of this token; an operator of another agency must do it. Nothing was changed`,
  ) as GatewayError & { code: 'own_agency_forbidden' }
  throw await refuseAudited(deps, request, reply, role, refusal, own)
}

/** Marks an ownAgencyHook: the OpenAPI document names own_agency_forbidden among the route's 403s. */
export const ownAgencyMark = Symbol('ownAgency')

/**
 * An onRequest hook, after requireRole's, for a route whose `:ori` names the agency it changes: refused
 * before the body is read when that is the token's own agency. (The parameter is compared as sent: a
 * malformed one is never equal to a verified token's ORI, and the schema refuses it next.)
 */
export function ownAgencyHook(deps: AppDependencies, doing: string) {
  function refuseOwnAgency(request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void {
    const ori = (request.params as { ori?: string }).ori
    if (ori !== request.identity?.ori) return done()
    forbidOwnAgency(deps, request, reply, [ori], doing).then(() => done(), done)
  }
  return Object.assign(refuseOwnAgency, { [ownAgencyMark]: true })
}
