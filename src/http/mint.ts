// Development tokens, HS256-signed with the development secret: `gatewayctl token`, the tests, the
// benchmark. Apart from auth.ts (which re-exports it) so that minting one loads fast-jwt's signer only,
// not @fastify/jwt and the rest of the request path: gatewayctl token starts in a fraction of the time.
import { createSigner } from 'fast-jwt'

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

/** `43200` -> `12 h`, `90` -> `90 s`: a token lifetime as a refusal names it (the gateway's and gatewayctl token's). */
export function lifetimeText(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`
  if (seconds % 60 === 0) return `${seconds / 60} min`
  return `${seconds} s`
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
