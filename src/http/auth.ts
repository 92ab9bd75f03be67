// Identity: `Authorization: Bearer <JWT>`. Algorithms are pinned (HS256 only with a development secret;
// RS256/ES256/EdDSA only with public keys, and then HS256 is refused), `iss`, `aud` and `exp` are
// always required, and a verified token is cached (bounded, until its exp) so the hot path pays one
// lookup, not one signature check. The token itself is never logged or audited.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSigner, createVerifier } from 'fast-jwt'
import { subPattern } from '../audit/record.js'
import { GatewayError } from '../errors.js'
import type { SubjectHasher } from '../audit/subjects.js'
import { subjectFields } from '../policy/subject.js'

export const roles = ['terminal', 'doj_operator'] as const
export type Role = (typeof roles)[number]

export interface Identity {
  readonly sub: string
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
  readonly issuer: string
  readonly audience: string
  readonly cacheSize: number
  /** Hashes the officer's own identifiers; without it they are not read. */
  readonly subjectHasher?: SubjectHasher | undefined
}

const oriPattern = /^[A-Z]{2}[0-9A-Z]{7}$/
const terminalPattern = /^[A-Z0-9]{1,16}$/
const requiredClaims = ['exp', 'iss', 'aud', 'sub', 'ori', 'roles']

type Verify = (token: string) => Record<string, unknown>

/** Longest time a verified token is trusted without checking its signature again. */
const cacheMilliseconds = 600_000

interface PublicKey {
  readonly kid: string
  readonly algorithm: 'RS256' | 'ES256' | 'EdDSA'
  readonly pem: string
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

/** Reads GATEWAY_JWT_PUBLIC_KEYS: a JWKS (`{"keys": [...]}`) or one or more PEM public keys. */
export function readPublicKeys(file: string): PublicKey[] {
  const text = readFileSync(file, 'utf8')
  const keys: PublicKey[] = []
  if (text.trimStart().startsWith('{')) {
    const jwks = JSON.parse(text) as { keys?: Record<string, unknown>[] }
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error(`${file}: expected a JWKS with a non-empty "keys" array`)
    jwks.keys.forEach((jwk, index) => {
      const key = createPublicKey({ key: jwk as never, format: 'jwk' })
      const kid = typeof jwk.kid === 'string' ? jwk.kid : thumbprint(key)
      keys.push({ kid, algorithm: algorithmOf(key, `${file}: keys.${index}`), pem: key.export({ type: 'spki', format: 'pem' }).toString() })
    })
  } else {
    const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []
    if (blocks.length === 0) throw new Error(`${file}: no "BEGIN PUBLIC KEY" block and not a JWKS`)
    blocks.forEach((block, index) => {
      const key = createPublicKey(block)
      keys.push({ kid: thumbprint(key), algorithm: algorithmOf(key, `${file}: key ${index + 1}`), pem: block })
    })
  }
  return keys
}

function kidOf(token: string): string | undefined {
  const dot = token.indexOf('.')
  if (dot <= 0) return undefined
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { kid?: unknown }
    return typeof header.kid === 'string' ? header.kid : undefined
  } catch {
    return undefined
  }
}

/** Builds the token verifier; throws at boot for a bad key file or a missing key. */
export function createAuthenticator(options: AuthOptions): (authorization: string | undefined) => Identity {
  const common = {
    allowedIss: options.issuer,
    allowedAud: options.audience,
    requiredClaims,
    cache: false, // cached below, on the header string
  }
  let verify: Verify
  if (options.publicKeysFile !== undefined) {
    const keys = readPublicKeys(options.publicKeysFile)
    const verifiers = new Map(keys.map((key) => [key.kid, createVerifier({ ...common, key: key.pem, algorithms: [key.algorithm] }) as Verify]))
    const only = keys.length === 1 ? verifiers.get(keys[0]!.kid)! : undefined
    verify = (token) => {
      if (only !== undefined) return only(token)
      const verifier = verifiers.get(kidOf(token) ?? '')
      if (verifier === undefined) throw new Error('no key with the kid of this token')
      return verifier(token)
    }
  } else if (options.secret !== undefined) {
    verify = createVerifier({ ...common, key: options.secret, algorithms: ['HS256'] }) as Verify
  } else {
    throw new Error('no JWT key: set GATEWAY_JWT_SECRET (development) or GATEWAY_JWT_PUBLIC_KEYS (production)')
  }

  // The cache: the exact Authorization header of a verified token -> its identity, until the token's
  // exp (or ten minutes, whichever is first). A Map lookup on the header costs well under a µs; fast-jwt's
  // own cache hashes every token with SHA-256 first (~8 µs a query). Only verified tokens are kept, and
  // at most cacheSize of them (the oldest go first).
  const cache = new Map<string, { readonly identity: Identity; readonly until: number }>()
  return function authenticate(authorization) {
    if (authorization === undefined || authorization.length < 8 || !authorization.startsWith('Bearer ')) {
      throw new GatewayError('token_missing')
    }
    const now = Date.now()
    const cached = cache.get(authorization)
    if (cached !== undefined) {
      if (now < cached.until) return cached.identity
      cache.delete(authorization)
    }
    let payload: Record<string, unknown>
    try {
      payload = verify(authorization.slice(7))
    } catch (error) {
      const code = (error as { code?: string }).code
      const why = code === 'FAST_JWT_EXPIRED' ? 'the token has expired' : code === 'FAST_JWT_MISSING_REQUIRED_CLAIM' ? (error as Error).message : undefined
      throw new GatewayError('token_invalid', why)
    }
    const identity = identityOf(payload, options.subjectHasher)
    if (options.cacheSize > 0) {
      if (cache.size >= options.cacheSize) cache.delete(cache.keys().next().value!)
      cache.set(authorization, { identity, until: Math.min((payload.exp as number) * 1000, now + cacheMilliseconds) })
    }
    return identity
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
  if (typeof sub !== 'string' || !subPattern.test(sub)) throw new GatewayError('token_invalid', 'the sub claim is not a valid user id')
  if (typeof ori !== 'string' || !oriPattern.test(ori)) throw new GatewayError('token_invalid', 'the ori claim is not a valid ORI')
  if (!Array.isArray(claimed) || !claimed.every((role) => typeof role === 'string')) {
    throw new GatewayError('token_invalid', 'the roles claim must be an array of strings')
  }
  if (terminal !== undefined && (typeof terminal !== 'string' || !terminalPattern.test(terminal))) {
    throw new GatewayError('token_invalid', 'the terminal claim is not a valid terminal mnemonic')
  }
  return Object.freeze({
    sub,
    ori,
    roles: Object.freeze(claimed.filter((role): role is Role => (roles as readonly string[]).includes(role))),
    terminal: terminal ?? null,
    self: ownIdentifiers(payload, hasher),
  })
}

export interface TokenRequest {
  readonly sub: string
  readonly ori: string
  readonly roles: readonly string[]
  readonly terminal?: string | undefined
  /** The officer's own identifiers (issue 13, self_lookup). */
  readonly licenseNumber?: string | undefined
  readonly plates?: readonly string[] | undefined
  readonly ttlSeconds: number
}

/** Mints an HS256 development token (gatewayctl token, tests, the benchmark). */
export function mintToken(secret: string, issuer: string, audience: string, request: TokenRequest): string {
  const sign = createSigner({ key: secret, algorithm: 'HS256', iss: issuer, aud: audience, expiresIn: request.ttlSeconds * 1000 })
  const claims: Record<string, unknown> = { sub: request.sub, ori: request.ori, roles: request.roles }
  if (request.terminal !== undefined) claims.terminal = request.terminal
  if (request.licenseNumber !== undefined) claims.licenseNumber = request.licenseNumber
  if (request.plates !== undefined) claims.plates = request.plates
  return sign(claims)
}
