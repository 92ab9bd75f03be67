// What routes share: the dependencies buildApp receives, the request decoration for the verified
// identity, the role hook (a DOJ role honoured only on a token of a DOJ ORI) and the audited refusal.
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Ledger } from '../audit/ledger.js'
import type { AuditEvent, OperatorRefusalCode } from '../audit/record.js'
import type { RefusalSummaries } from '../audit/refusals.js'
import { GatewayError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { PolicySet } from '../policy/compile.js'
import { officerKey, type BeforeCommit, type StateStore } from '../state/types.js'
import type { Upstreams } from '../upstream/pools.js'
import type { DecidedQuery } from '../signals/stream.js'
import type { SubjectHasher } from '../audit/subjects.js'
import { dojRoles, roles, type Authenticator, type Identity, type Role } from './auth.js'

/** Holds the policy set in force; a successful reload swaps it, a failed one leaves it. */
export interface PolicyHolder {
  current: PolicySet
  /** The candidate set of POLICY_SHADOW_DIR (issue 13, point 3), or null: judged beside, never answering. */
  shadow: PolicySet | null
}

export interface AppDependencies {
  readonly policy: PolicyHolder
  readonly store: StateStore
  readonly ledger: Ledger
  /** Where the ledger's chains are (AUDIT_DIR): the audit search and agency history read them. */
  readonly auditDir: string
  /** The subject key's hasher: an audit search by subject finds the queries whose answers touched the person. */
  readonly hasher?: SubjectHasher
  readonly upstreams: Upstreams
  readonly authenticator: Authenticator
  readonly metrics: Metrics
  /** Epoch milliseconds; injected so tests control time. */
  readonly clock: () => number
  readonly load: { readonly overloaded: boolean }
  /**
   * Hands a decided query to the decision stream (src/signals/stream.ts): it writes an answered query's
   * outcome record with its subjects' keyed hashes and counts the query towards the misuse signals, off
   * the response's path.
   */
  readonly decided: (decided: DecidedQuery) => void
  /** Refusals of one officer past the minute's budget, summarised (src/audit/refusals.ts). */
  readonly refusals: RefusalSummaries
  /** True while this instance seeds the sample agencies (the embedded store's first start): not ready until the registry is whole. */
  readonly seeding?: { readonly active: boolean }
}

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity | null
    decisionId: string | null
  }
}

/** Sets request.identity, then requires `role` (any of the gateway's roles when null): the refusal, or undefined. */
function admit(request: FastifyRequest, identity: Identity, role: Role | null): GatewayError | undefined {
  request.identity = identity
  // Least privilege: a token that holds none of the gateway's roles (issued for another service, or
  // with a role unknown here) reads nothing either, not even what any role may read.
  if (role === null) return identity.roles.length === 0 ? new GatewayError('role_forbidden', `this endpoint needs one of the roles ${roles.join(', ')}`) : undefined
  return !identity.roles.includes(role) ? new GatewayError('role_forbidden', `this endpoint needs the role ${role}`) : undefined
}

/** True when `role` is one only DOJ holds (src/http/auth.ts, dojRoles). */
const isDojRole = (role: Role | null): role is Role => role !== null && dojRoles.includes(role)

/**
 * True when the token's ORI may act as DOJ: one of policies/authority.yaml's dojOris, read from the
 * policy in force at each call, so a reload (SIGHUP) applies to the next request. Without the file no
 * ORI is (fail closed).
 */
export function isDojOri(deps: AppDependencies, ori: string): boolean {
  return deps.policy.current.authority.dojOris.has(ori)
}

/** True when the token holds `role` and it is honoured: a DOJ role only on a token of a DOJ ORI. */
export function holdsRole(deps: AppDependencies, identity: Identity, role: Role): boolean {
  return identity.roles.includes(role) && (!isDojRole(role) || isDojOri(deps, identity.ori))
}

/** The refusal of a DOJ role on a token whose ORI is not a DOJ ORI, saying why. */
function notDojOri(deps: AppDependencies, identity: Identity, role: Role): GatewayError {
  const why =
    deps.policy.current.authority.dojOris.size === 0
      ? 'no ORI may act as DOJ: the policies in force have no authority.yaml naming the DOJ ORIs'
      : `the token's ORI ${identity.ori} is not a DOJ ORI (policies/authority.yaml, dojOris)`
  return new GatewayError('role_forbidden', `the role ${role} is honoured only on a token of a DOJ ORI, and ${why}; nothing was changed`)
}

/**
 * Records an operator call refused for want of authority (an `operator.refused` record: the caller,
 * what was asked, the role it needed, why, and the agency it concerned), durably, and returns the
 * refusal to answer with. If the record cannot be written the ledger's error is thrown instead (503):
 * the refusal is never answered unaudited. Nothing was changed either way.
 */
export async function refuseAudited(
  deps: AppDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  role: Role,
  refusal: GatewayError & { readonly code: OperatorRefusalCode },
  ori?: string,
): Promise<GatewayError> {
  const identity = request.identity!
  // A token refused again and again (a script with a stolen operator token) is summarised past the
  // refusal budget like refused queries (src/audit/refusals.ts): one record a minute, not one each.
  const now = deps.clock()
  const summary = deps.refusals.summarise(officerKey(identity.ori, identity.officer), now, deps.policy.current.limits.refusalBudget.perMinute, () => requesterOf(request, identity), {
    record: 'operator.refused',
    status: refusal.status,
    code: refusal.code,
  })
  if (summary !== null) {
    reply.header('x-audit-id', summary)
    return refusal
  }
  const id = randomUUID()
  await deps.ledger.append(
    {
      type: 'operator.refused',
      id,
      operator: identity.sub,
      operatorOri: identity.ori,
      source: sourceOf(request),
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      role,
      code: refusal.code,
      ...(ori === undefined ? {} : { ori }),
    },
    now,
  )
  request.log.warn({ operator: identity.sub, operatorOri: identity.ori, code: refusal.code, ori, auditId: id }, 'operator call refused')
  reply.header('x-audit-id', id)
  return refusal
}

/** Verifies the request's token and requires `role` (any role when null); sets request.identity first. */
export async function authorize(deps: AppDependencies, request: FastifyRequest, reply: FastifyReply, role: Role | null): Promise<Identity> {
  const identity = await deps.authenticator.authenticate(request)
  const refusal = admit(request, identity, role)
  if (refusal !== undefined) throw refusal
  if (isDojRole(role) && !isDojOri(deps, identity.ori)) throw await refuseAudited(deps, request, reply, role, notDojOri(deps, identity, role) as GatewayError & { code: 'role_forbidden' })
  return identity
}

/** The role an onRequest hook made by requireRole asks for (null: any of the gateway's roles); the OpenAPI document reads it. */
export const requiredRole = Symbol('requiredRole')
export type AuthorizeHook = ((request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void) & { readonly [requiredRole]: Role | null }

/**
 * An onRequest hook running authorize: the token is checked before the body is read. A DOJ role is
 * honoured only on a token of a DOJ ORI; any other is refused 403 role_forbidden, audited.
 */
export function requireRole(deps: AppDependencies, role: Role | null): AuthorizeHook {
  function authorizeHook(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    let identity: Identity | Promise<Identity>
    try {
      identity = deps.authenticator.authenticate(request)
    } catch (error) {
      return done(error as Error)
    }
    // A cached token answers synchronously (the hot path: no promise); only a verification waits.
    if (identity instanceof Promise) {
      identity.then((verified) => done(admit(request, verified, role)), done)
      return
    }
    done(admit(request, identity, role))
  }
  if (!isDojRole(role)) return Object.assign(authorizeHook, { [requiredRole]: role })

  // A DOJ role: a hook of its own, so the terminal's hook above stays as it was (the query's hot path).
  function admitDoj(request: FastifyRequest, reply: FastifyReply, identity: Identity, done: (error?: Error) => void): void {
    const refusal = admit(request, identity, role)
    if (refusal !== undefined || isDojOri(deps, identity.ori)) return done(refusal)
    refuseAudited(deps, request, reply, role as Role, notDojOri(deps, identity, role as Role) as GatewayError & { code: 'role_forbidden' }).then(done, done)
  }
  function authorizeDojHook(request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void {
    let identity: Identity | Promise<Identity>
    try {
      identity = deps.authenticator.authenticate(request)
    } catch (error) {
      return done(error as Error)
    }
    if (identity instanceof Promise) {
      identity.then((verified) => admitDoj(request, reply, verified, done), done)
      return
    }
    admitDoj(request, reply, identity, done)
  }
  return Object.assign(authorizeDojHook, { [requiredRole]: role })
}

/** Where a connection's peer address is kept, read once when the connection arrives. */
const sourceAddress = Symbol('sourceAddress')
type SourcedSocket = Socket & { [sourceAddress]?: string }

/**
 * Reads each connection's peer address as it is accepted. A socket that is gone has no address any
 * more (`remoteAddress` is undefined after a reset), and the records of a query whose client hung up
 * are written after that: they must still name where it came from. Once per connection, not per query.
 */
export function captureSourceAddresses(server: Server): void {
  server.on('connection', (socket: SourcedSocket) => {
    socket[sourceAddress] = socket.remoteAddress ?? 'unknown'
  })
}

/** The address a request came from, as captured when its connection arrived ('unknown' if it never had one). */
export function sourceOf(request: FastifyRequest): string {
  const socket = request.raw.socket as SourcedSocket | null
  return socket?.[sourceAddress] ?? socket?.remoteAddress ?? 'unknown'
}

/**
 * The requester as the ledger records it: the token's spelling (`sub`), and the folded user id
 * (`officer`) only when it differs from it, so the common record keeps its shape and an auditor sees
 * that `L8-OFFICER` was the officer l8-officer.
 */
export function requesterOf(request: FastifyRequest, identity: Identity) {
  const requester = { ori: identity.ori, sub: identity.sub, terminal: identity.terminal, source: sourceOf(request) }
  return identity.officer === identity.sub ? requester : { ...requester, officer: identity.officer }
}

/** Who made an operator change, from where: the fields every operator record carries. */
export interface ChangeAuthor {
  readonly operator: string
  readonly operatorOri: string
  readonly source: string
}

/**
 * Runs one operator change (an agency's, an officer's): its record is durable before the change takes
 * effect (if it cannot be written, nothing changes), an `operator.failed` follows a change the store
 * then did not make, and the change is counted, logged and answered with `x-audit-id`. Returns what the
 * store applied and the time it was judged at.
 */
export async function auditedChange<C extends { readonly action: string; readonly ori: string }>(
  deps: AppDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  recordOf: (change: C, id: string, author: ChangeAuthor) => AuditEvent,
  failureCode: (error: unknown) => string,
  apply: (now: number, beforeCommit: BeforeCommit<C>) => Promise<C>,
): Promise<{ readonly applied: C; readonly now: number }> {
  const identity = request.identity!
  const id = randomUUID()
  const now = deps.clock()
  const author = { operator: identity.sub, operatorOri: identity.ori, source: sourceOf(request) }
  let audited = false
  const beforeCommit: BeforeCommit<C> = async (computed) => {
    await deps.ledger.append(recordOf(computed, id, author), now)
    audited = true
  }
  let applied: C
  try {
    applied = await apply(now, beforeCommit)
  } catch (error) {
    // The record said the change was made; say that it was not.
    if (audited) void deps.ledger.append({ type: 'operator.failed', id, code: failureCode(error) }, deps.clock())
    throw error
  }
  deps.metrics.operatorChanges.labels(applied.action).inc()
  // Subjects of a change (an officer's id) stay in the ledger, which the audit id leads to, not in the log.
  request.log.info({ operator: identity.sub, ori: applied.ori, action: applied.action, auditId: id }, 'operator change')
  reply.header('x-audit-id', id)
  return { applied, now }
}
