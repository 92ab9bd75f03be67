// Identity: `Authorization: Bearer <JWT>`, checked by @fastify/jwt. Algorithms are pinned (HS256 only
// with a development secret; RS256/ES256/EdDSA only with public keys, each key its own algorithm, and
// then HS256 is refused), `iss`, `aud` and `exp` are always required, and a verified token is cached
// (bounded, until its exp) in front of the plugin, so the hot path pays one Map lookup, not one
// signature check. Public keys come from a file (GATEWAY_JWT_PUBLIC_KEYS) or from the identity
// provider's JWKS (GATEWAY_JWT_JWKS_URL), selected by `kid`. The token itself is never logged or audited.
// A token's lifetime is bounded (JWT_MAX_LIFETIME_S) and its `sub` folded to the person's user id once,
// when it is verified (docs/identity.md).
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fastifyJwt, { type FastifyJWTOptions } from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { request as undiciRequest } from 'undici'
import { GatewayError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { SubjectHasher } from '../audit/subjects.js'
import { foldUserId } from '../policy/identity.js'
import { lifetimeText } from './mint.js'
import { subjectFields } from '../policy/subject.js'

export const roles = ['terminal', 'doj_operator'] as const
export type Role = (typeof roles)[number]
/**
 * The roles only DOJ holds: honoured only on a token whose ORI is one of policies/authority.yaml's
 * dojOris (src/http/context.ts). A new DOJ role (a reviewer's) is listed here and is bound the same way.
 */
export const dojRoles: readonly Role[] = ['doj_operator']

export interface Identity {
  /** The user id as the token spells it: what the ledger records as `sub`. */
  readonly sub: string
  /**
   * The person: `sub` folded (NFKC, lower case; src/policy/identity.ts), computed once when the token is
   * verified. Officer sanctions, rate limits, misuse signals and written requests compare this.
   */
  readonly officer: string
  readonly ori: string
  readonly roles: readonly Role[]
  readonly terminal: string | null
  /**
   * The officer's own identifiers (optional claims `licenseNumber` and `plates`), as keyed hashes, for
   * the self_lookup signal (issue 13): hashed once when the token is verified and cached with it.
   */
  readonly self: readonly string[]
}

/** The most plates a token may claim as the officer's own. */
const maxOwnPlates = 8
const noIdentifiers: readonly string[] = Object.freeze([])

export interface AuthOptions {
  readonly secret: string | undefined
  readonly publicKeysFile: string | undefined
  readonly jwksUrl: string | undefined
  readonly issuer: string
  readonly audience: string
  readonly cacheSize: number
  /** The longest lifetime a token may have (JWT_MAX_LIFETIME_S): exp − iat, or exp − now without iat. */
  readonly maxLifetimeSeconds: number
  /** Hashes the officer's own identifiers; without it they are not read. */
  readonly subjectHasher?: SubjectHasher | undefined
}

const oriPattern = /^[A-Z]{2}[0-9A-Z]{7}$/
const terminalPattern = /^[A-Z0-9]{1,16}$/
const requiredClaims = ['exp', 'iss', 'aud', 'sub', 'ori', 'roles']
const publicKeyAlgorithms = ['RS256', 'ES256', 'EdDSA'] as const

/** Longest time a verified token is trusted without checking its signature again. */
const cacheMilliseconds = 600_000

/**
 * How far the identity provider's clock may run ahead of ours: a token issued (`iat`) up to this far in
 * the future is taken as issued now; further, it is refused ("iat is in the future").
 */
export const tokenClockSkewSeconds = 60

/**
 * Why a verified token's lifetime is refused, or null. `exp − iat` may not exceed the maximum; `iat` may
 * not lie in the future beyond the clock skew; a token without `iat` is judged by what is left of it
 * (`exp − now`), which bounds its use just as well. fast-jwt has already refused an expired one.
 */
export function lifetimeProblem(payload: Record<string, unknown>, nowMs: number, maxLifetimeSeconds: number): string | null {
  const { exp, iat } = payload
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'the exp claim must be a number'
  const now = nowMs / 1000
  const tooLong = `the token's lifetime exceeds ${lifetimeText(maxLifetimeSeconds)} (JWT_MAX_LIFETIME_S)`
  if (iat === undefined) return exp - now > maxLifetimeSeconds ? tooLong : null
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return 'the iat claim must be a number'
  if (iat > now + tokenClockSkewSeconds) return 'iat is in the future'
  if (exp < iat) return 'exp is before iat'
  return exp - iat > maxLifetimeSeconds ? tooLong : null
}

interface PublicKey {
  readonly kid: string
  readonly algorithm: (typeof publicKeyAlgorithms)[number]
  readonly pem: string
}

/** A token's protected header, as @fastify/jwt decodes it. */
interface TokenHeader {
  readonly kid?: unknown
  readonly alg?: unknown
}

function algorithmOf(key: KeyObject, where: string): PublicKey['algorithm'] {
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  throw new Error(`${where}: unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (RSA, P-256 or Ed25519 only)`)
}

/** RFC 7638 thumbprint: the kid of a PEM key that names none. */
function thumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as Record<string, string>
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

/** The signing key a JWK holds; throws (naming `where`) for a key we do not verify with. */
function publicKeyOf(jwk: Record<string, unknown>, where: string): PublicKey {
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new Error(`${where}: a key for ${String(jwk.use)}, not for signatures`)
  const key = createPublicKey({ key: jwk as never, format: 'jwk' })
  const algorithm = algorithmOf(key, where)
  // A key published for another algorithm (PS256 with an RSA key) would never verify under ours.
  if (jwk.alg !== undefined && jwk.alg !== algorithm) throw new Error(`${where}: alg ${String(jwk.alg)} is not supported (${algorithm} for this key type)`)
  const kid = typeof jwk.kid === 'string' ? jwk.kid : thumbprint(key)
  return { kid, algorithm, pem: key.export({ type: 'spki', format: 'pem' }).toString() }
}

/** The keys of a JWKS document; `strict` (a file read at boot) throws on the first key we cannot use. */
function jwksKeys(jwks: unknown, where: string, strict: boolean): PublicKey[] {
  const listed = (jwks as { keys?: unknown } | null)?.keys
  if (!Array.isArray(listed) || listed.length === 0) throw new Error(`${where}: expected a JWKS with a non-empty "keys" array`)
  const keys: PublicKey[] = []
  listed.forEach((jwk: Record<string, unknown>, index) => {
    try {
      keys.push(publicKeyOf(jwk, `${where}: keys.${index}`))
    } catch (error) {
      // An identity provider may publish keys for encryption or other algorithms besides ours.
      if (strict) throw error
    }
  })
  return keys
}

/** Reads GATEWAY_JWT_PUBLIC_KEYS: a JWKS (`{"keys": [...]}`) or one or more PEM public keys. */
export function readPublicKeys(file: string): PublicKey[] {
  const text = readFileSync(file, 'utf8')
  if (text.trimStart().startsWith('{')) return jwksKeys(JSON.parse(text), file, true)
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []
  if (blocks.length === 0) throw new Error(`${file}: no "BEGIN PUBLIC KEY" block and not a JWKS`)
  return blocks.map((block, index) => {
    const key = createPublicKey(block)
    return { kid: thumbprint(key), algorithm: algorithmOf(key, `${file}: key ${index + 1}`), pem: block }
  })
}

/** Where a token's key comes from: the development secret, the key file, or the identity provider's JWKS. */
interface Keyring {
  readonly algorithms: readonly string[]
  /** The key (secret or PEM) for a token's header; throws a GatewayError when there is none. */
  keyFor(header: TokenHeader): string | Promise<string>
}

/** The key's PEM, for a token signed with the key's own algorithm only. */
function pinned(key: PublicKey, header: TokenHeader): string {
  if (header.alg !== key.algorithm) throw new GatewayError('token_invalid')
  return key.pem
}

/** Keys read once at boot from GATEWAY_JWT_PUBLIC_KEYS: one key serves any token, several are chosen by kid. */
function fileKeyring(file: string): Keyring {
  const keys = new Map(readPublicKeys(file).map((key) => [key.kid, key]))
  const only = keys.size === 1 ? [...keys.values()][0]! : undefined
  return {
    algorithms: publicKeyAlgorithms,
    keyFor(header) {
      const key = only ?? keys.get(typeof header.kid === 'string' ? header.kid : '')
      if (key === undefined) throw new GatewayError('token_invalid')
      return pinned(key, header)
    },
  }
}

/** How the JWKS is fetched and kept (see README, Configuration). */
export const jwksTiming = {
  /** A key set older than this is fetched again, in the background: removed keys stop verifying. */
  refreshMs: 300_000,
  /** At most one fetch per this time however many unknown kids arrive, so bogus kids cannot hammer the IdP. */
  cooldownMs: 10_000,
  /** Longest wait for the IdP's answer. */
  timeoutMs: 2_000,
  /** Longest JWKS accepted. */
  maxBytes: 1024 * 1024,
} as const

export interface JwksObserver {
  fetched(outcome: 'ok' | 'failed', error?: Error): void
}

/**
 * The identity provider's JWKS, fetched from GATEWAY_JWT_JWKS_URL and kept by kid. A token naming a
 * kid the set lacks makes one fetch (a rotation is picked up without restart), at most one per
 * cooldown; while the IdP cannot be reached the last good set keeps verifying, and a token whose key
 * is not known then is refused 503 `jwks_unavailable`: never allowed unverified.
 */
export class JwksKeyring implements Keyring {
  readonly algorithms = publicKeyAlgorithms
  private keys = new Map<string, PublicKey>()
  private attemptedAt = -Infinity
  private failed = false
  private fetching: Promise<void> | null = null

  constructor(
    private readonly url: string,
    private readonly clock: () => number,
    private readonly observer: JwksObserver,
  ) {}

  keyFor(header: TokenHeader): string | Promise<string> {
    const kid = typeof header.kid === 'string' ? header.kid : undefined
    if (kid === undefined) throw new GatewayError('token_invalid', 'the token names no key (kid)')
    const key = this.keys.get(kid)
    const since = this.clock() - this.attemptedAt
    if (key !== undefined) {
      // A known key answers at once; an old set (or a failed fetch) is fetched again behind it.
      if (since >= (this.failed ? jwksTiming.cooldownMs : jwksTiming.refreshMs)) void this.refresh()
      return pinned(key, header)
    }
    // An unknown kid may be a rotation: fetch, unless a fetch was made within the cooldown.
    if (since >= jwksTiming.cooldownMs || this.fetching !== null) return this.refresh().then(() => this.known(kid, header))
    return this.known(kid, header)
  }

  /** Fetches the key set now (one fetch at a time); never rejects: a failure is observed and kept. */
  refresh(): Promise<void> {
    this.fetching ??= this.fetch().finally(() => (this.fetching = null))
    return this.fetching
  }

  private known(kid: string, header: TokenHeader): string {
    const key = this.keys.get(kid)
    if (key !== undefined) return pinned(key, header)
    if (this.failed) throw new GatewayError('jwks_unavailable')
    throw new GatewayError('token_invalid')
  }

  private async fetch(): Promise<void> {
    this.attemptedAt = this.clock()
    try {
      const answer = await undiciRequest(this.url, { headersTimeout: jwksTiming.timeoutMs, bodyTimeout: jwksTiming.timeoutMs, signal: AbortSignal.timeout(jwksTiming.timeoutMs) })
      const chunks: Buffer[] = []
      let length = 0
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        length += chunk.length
        if (length > jwksTiming.maxBytes) throw new Error(`${this.url}: the JWKS is longer than ${jwksTiming.maxBytes} bytes`)
        chunks.push(chunk)
      }
      if (answer.statusCode !== 200) throw new Error(`${this.url}: answered ${answer.statusCode}`)
      const keys = jwksKeys(JSON.parse(Buffer.concat(chunks).toString('utf8')), this.url, false)
      if (keys.length === 0) throw new Error(`${this.url}: no RS256, ES256 or EdDSA signing key in the JWKS`)
      this.keys = new Map(keys.map((key) => [key.kid, key]))
      this.failed = false
      this.observer.fetched('ok')
    } catch (error) {
      this.failed = true
      this.observer.fetched('failed', error as Error)
    }
  }
}

/** The development secret: HS256 only. */
function secretKeyring(secret: string): Keyring {
  return {
    algorithms: ['HS256'],
    keyFor: () => secret,
  }
}

export interface Authenticator {
  /** @fastify/jwt's options (pinned algorithms, iss, aud, required claims, key selection): buildApp registers it. */
  readonly plugin: typeof fastifyJwt
  readonly pluginOptions: FastifyJWTOptions
  /** The JWKS, when keys come from GATEWAY_JWT_JWKS_URL (startGateway fetches it once at boot). */
  readonly jwks: JwksKeyring | null
  /** The request's identity: from the cache synchronously, else verified by the plugin. Throws or rejects a GatewayError. */
  authenticate(request: FastifyRequest): Identity | Promise<Identity>
}

/** What the plugin's errors mean to a caller: token_invalid, with the reasons the gateway has always given. */
function tokenError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error
  const { code, message } = error as { code?: string; message?: string }
  if (code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED') return new GatewayError('token_invalid', 'the token has expired')
  // fast-jwt's message for a missing claim ("The exp claim is required."), passed on by the plugin.
  if (code === 'FST_JWT_AUTHORIZATION_TOKEN_INVALID' && message !== undefined && / claim is required\.$/.test(message)) return new GatewayError('token_invalid', message)
  return new GatewayError('token_invalid')
}

export interface AuthenticatorContext {
  readonly metrics: Pick<Metrics, 'jwtVerifications' | 'jwksFetches'>
  /** Times the JWKS fetches (tests move it by hand); token expiry is fast-jwt's, on the real clock. */
  readonly clock: () => number
  readonly onJwksFailure?: (error: Error) => void
}

/** Builds the token verifier; throws at boot for a bad key file or a missing key. */
export function createAuthenticator(options: AuthOptions, context: AuthenticatorContext): Authenticator {
  const { metrics } = context
  let jwks: JwksKeyring | null = null
  let keyring: Keyring
  if (options.jwksUrl !== undefined) {
    jwks = new JwksKeyring(options.jwksUrl, context.clock, {
      fetched(outcome, error) {
        metrics.jwksFetches.labels(outcome).inc()
        if (error !== undefined) context.onJwksFailure?.(error)
      },
    })
    keyring = jwks
  } else if (options.publicKeysFile !== undefined) {
    keyring = fileKeyring(options.publicKeysFile)
  } else if (options.secret !== undefined) {
    keyring = secretKeyring(options.secret)
  } else {
    throw new Error('no JWT key: set GATEWAY_JWT_SECRET (development), or GATEWAY_JWT_PUBLIC_KEYS or GATEWAY_JWT_JWKS_URL (production)')
  }

  const pluginOptions: FastifyJWTOptions = {
    // The plugin asks for the key of each token it verifies: by kid, for the token's pinned algorithm.
    secret(_request, decoded, callback) {
      let key: string | Promise<string>
      try {
        key = keyring.keyFor((decoded as { header: TokenHeader }).header)
      } catch (error) {
        return callback(error as Error, undefined)
      }
      if (typeof key === 'string') return callback(null, key)
      key.then((found) => callback(null, found), (error: Error) => callback(error, undefined))
    },
    // The whole token decoded, so the key selection sees its header (kid, alg).
    decode: { complete: true },
    verify: { algorithms: [...keyring.algorithms] as never, allowedIss: options.issuer, allowedAud: options.audience, requiredClaims, cache: false },
    // fast-jwt's own message in the plugin's error, so a missing claim is named to the caller.
    messages: { authorizationTokenInvalid: (error) => error.message },
  }

  const verified = metrics.jwtVerifications.labels('valid')
  const refused = metrics.jwtVerifications.labels('invalid')

  // The cache: the exact Authorization header of a verified token -> its identity, until the token's
  // exp (or ten minutes, whichever is first). A Map lookup on the header costs well under a µs, and a
  // hit never reaches the plugin; fast-jwt's own cache hashes every token with SHA-256 first (~8 µs a
  // query). Only verified tokens are kept, and at most cacheSize of them (the oldest go first).
  const cache = new Map<string, { readonly identity: Identity; readonly until: number }>()

  async function verify(request: FastifyRequest, authorization: string): Promise<Identity> {
    let payload: Record<string, unknown>
    let identity: Identity
    try {
      payload = (await request.jwtVerify()) as Record<string, unknown>
      const problem = lifetimeProblem(payload, Date.now(), options.maxLifetimeSeconds)
      if (problem !== null) throw new GatewayError('token_invalid', problem)
      identity = identityOf(payload, options.subjectHasher)
    } catch (error) {
      const failure = tokenError(error)
      if (failure.code === 'token_invalid') refused.inc()
      throw failure
    }
    verified.inc()
    if (options.cacheSize > 0) {
      const now = Date.now()
      if (cache.size >= options.cacheSize) cache.delete(cache.keys().next().value!)
      cache.set(authorization, { identity, until: Math.min((payload.exp as number) * 1000, now + cacheMilliseconds) })
    }
    return identity
  }

  return {
    plugin: fastifyJwt,
    pluginOptions,
    jwks,
    authenticate(request) {
      const authorization = request.headers.authorization
      if (authorization === undefined || authorization.length < 8 || !authorization.startsWith('Bearer ')) {
        throw new GatewayError('token_missing')
      }
      const cached = cache.get(authorization)
      if (cached !== undefined) {
        if (Date.now() < cached.until) return cached.identity
        cache.delete(authorization)
      }
      return verify(request, authorization)
    },
  }
}

/** The officer's own licence number and plates from the token, hashed; a claim of the wrong shape is an invalid token. */
function ownIdentifiers(payload: Record<string, unknown>, hasher: SubjectHasher | undefined): readonly string[] {
  const { licenseNumber, plates } = payload
  if (licenseNumber === undefined && plates === undefined) return noIdentifiers
  if (licenseNumber !== undefined && (typeof licenseNumber !== 'string' || !subjectFields.licenseNumber!.pattern.test(licenseNumber))) {
    throw new GatewayError('token_invalid', 'the licenseNumber claim is not a California licence number')
  }
  if (plates !== undefined && (!Array.isArray(plates) || plates.length > maxOwnPlates || !plates.every((plate) => typeof plate === 'string' && subjectFields.plate!.pattern.test(plate)))) {
    throw new GatewayError('token_invalid', `the plates claim must be an array of at most ${maxOwnPlates} plates`)
  }
  if (hasher === undefined) return noIdentifiers
  const own = (plates as string[] | undefined ?? []).map((plate) => hasher.hashOf('plate', plate))
  if (licenseNumber !== undefined) own.push(hasher.hashOf('licenseNumber', licenseNumber))
  return Object.freeze(own)
}

function identityOf(payload: Record<string, unknown>, hasher: SubjectHasher | undefined): Identity {
  const { sub, ori, terminal } = payload
  const claimed = payload.roles
  // Any spelling that folds to a user id: `L8-OFFICER` and `ｌ8-officer` are the officer l8-officer.
  const officer = typeof sub === 'string' ? foldUserId(sub) : null
  if (officer === null) throw new GatewayError('token_invalid', 'the sub claim is not a valid user id')
  if (typeof ori !== 'string' || !oriPattern.test(ori)) throw new GatewayError('token_invalid', 'the ori claim is not a valid ORI')
  if (!Array.isArray(claimed) || !claimed.every((role) => typeof role === 'string')) {
    throw new GatewayError('token_invalid', 'the roles claim must be an array of strings')
  }
  if (terminal !== undefined && (typeof terminal !== 'string' || !terminalPattern.test(terminal))) {
    throw new GatewayError('token_invalid', 'the terminal claim is not a valid terminal mnemonic')
  }
  return Object.freeze({
    sub: sub as string,
    officer,
    ori,
    roles: Object.freeze(claimed.filter((role): role is Role => (roles as readonly string[]).includes(role))),
    terminal: terminal ?? null,
    self: ownIdentifiers(payload, hasher),
  })
}

// Minting lives in mint.ts (fast-jwt's signer only), so `gatewayctl token` does not load the plugin.
export { lifetimeText, mintToken, type TokenRequest } from './mint.js'
