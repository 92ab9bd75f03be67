// What routes share: the dependencies buildApp receives, the request decoration for the verified
// identity, and the role hook.
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Ledger } from '../audit/ledger.js'
import type { AuditEvent } from '../audit/record.js'
import { GatewayError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { PolicySet } from '../policy/compile.js'
import type { BeforeCommit, StateStore } from '../state/types.js'
import type { Upstreams } from '../upstream/pools.js'
import type { DecidedQuery } from '../signals/stream.js'
import type { SubjectHasher } from '../audit/subjects.js'
import { roles, type Authenticator, type Identity, type Role } from './auth.js'

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
  /** True while this instance seeds the sample agencies: not ready until the registry is whole. */
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

/** Verifies the request's token and requires `role` (any role when null); sets request.identity first. */
export async function authorize(deps: AppDependencies, request: FastifyRequest, role: Role | null): Promise<Identity> {
  const identity = await deps.authenticator.authenticate(request)
  const refusal = admit(request, identity, role)
  if (refusal !== undefined) throw refusal
  return identity
}

/** The role an onRequest hook made by requireRole asks for (null: any of the gateway's roles); the OpenAPI document reads it. */
export const requiredRole = Symbol('requiredRole')
export type AuthorizeHook = ((request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void) & { readonly [requiredRole]: Role | null }

/** An onRequest hook running authorize: the token is checked before the body is read. */
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
  return Object.assign(authorizeHook, { [requiredRole]: role })
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

/** The requester as the ledger records it. */
export function requesterOf(request: FastifyRequest, identity: Identity) {
  return { ori: identity.ori, sub: identity.sub, terminal: identity.terminal, source: sourceOf(request) }
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
