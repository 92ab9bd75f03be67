// Production identity: public keys (RS256, ES256, EdDSA) from GATEWAY_JWT_PUBLIC_KEYS as PEM or JWKS;
// algorithms pinned, HS256 refused once public keys are set, the key chosen by kid.
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { call, lapd, query, runGatewayctl, secret, startTestGateway, tempDir, token } from './helpers.js'

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const ed = generateKeyPairSync('ed25519')
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString()
const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
const claims = { sub: 'officer-17', ori: lapd, roles: ['terminal'] }

function sign(privateKey: KeyObject, algorithm: 'RS256' | 'ES256' | 'EdDSA', kid?: string, overrides: Record<string, unknown> = {}): string {
  const expiry = 'exp' in overrides ? {} : { expiresIn: 60_000 }
  const signer = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm, iss: 'doj-idp', aud: 'clets-gateway', ...expiry, ...(kid === undefined ? {} : { kid }) })
  return signer({ ...claims, ...overrides })
}

t.test('one PEM key: its algorithm is accepted, HS256 and the other algorithms are refused', async (t) => {
  const dir = tempDir('keys')
  writeFileSync(join(dir, 'keys.pem'), pem(ec.publicKey))
  const gw = await startTestGateway({ env: { GATEWAY_JWT_PUBLIC_KEYS: join(dir, 'keys.pem') } })
  t.teardown(() => gw.close())
  t.equal((await query(gw.url, body, sign(ec.privateKey, 'ES256'))).status, 200, 'ES256 with the configured key')
  t.equal((await query(gw.url, body, token())).status, 401, 'HS256 is refused when public keys are set, even with the right secret')
  t.equal((await query(gw.url, body, sign(rsa.privateKey, 'RS256'))).status, 401, 'a key that is not configured')
  t.equal((await query(gw.url, body, sign(ec.privateKey, 'ES256', undefined, { exp: Math.floor(Date.now() / 1000) - 10 }))).status, 401, 'expired')
})

t.test('a JWKS with several keys: each token is checked with the key its kid names', async (t) => {
  const dir = tempDir('keys')
  const jwk = (key: KeyObject, kid: string) => ({ ...(key.export({ format: 'jwk' }) as object), kid })
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk(rsa.publicKey, 'rsa-2026'), jwk(ed.publicKey, 'ed-2026'), jwk(ec.publicKey, 'ec-2026')] }))
  const gw = await startTestGateway({ env: { GATEWAY_JWT_PUBLIC_KEYS: join(dir, 'jwks.json') } })
  t.teardown(() => gw.close())
  t.equal((await query(gw.url, body, sign(rsa.privateKey, 'RS256', 'rsa-2026'))).status, 200, 'RS256')
  t.equal((await query(gw.url, body, sign(ed.privateKey, 'EdDSA', 'ed-2026'))).status, 200, 'EdDSA')
  t.equal((await query(gw.url, body, sign(ec.privateKey, 'ES256', 'ec-2026'))).status, 200, 'ES256')
  t.equal((await query(gw.url, body, sign(rsa.privateKey, 'RS256', 'ed-2026'))).status, 401, 'a kid naming another key')
  t.equal((await query(gw.url, body, sign(rsa.privateKey, 'RS256'))).status, 401, 'no kid among several keys')
})

t.test('a bad key file stops start-up with the file named', async (t) => {
  const dir = tempDir('keys')
  writeFileSync(join(dir, 'keys.pem'), 'not a key\n')
  await t.rejects(startTestGateway({ env: { GATEWAY_JWT_PUBLIC_KEYS: join(dir, 'keys.pem') } }), /keys\.pem: no "BEGIN PUBLIC KEY" block/)
})

t.test('a cached token is trusted only until its exp, and a cache of one still checks every other token', async (t) => {
  const dir = tempDir('keys')
  writeFileSync(join(dir, 'keys.pem'), pem(ed.publicKey))
  const gw = await startTestGateway({ env: { GATEWAY_JWT_PUBLIC_KEYS: join(dir, 'keys.pem'), JWT_CACHE_SIZE: '1' } })
  t.teardown(() => gw.close())
  // exp has whole seconds: this token lapses at the start of the second after next.
  const exp = Math.floor(Date.now() / 1000) + 2
  const shortLived = sign(ed.privateKey, 'EdDSA', undefined, { exp })
  t.equal((await query(gw.url, body, shortLived)).status, 200, 'verified, then cached')
  t.equal((await query(gw.url, body, shortLived)).status, 200, 'from the cache')
  const other = sign(ed.privateKey, 'EdDSA', undefined, { sub: 'officer-18' })
  t.equal((await query(gw.url, body, other)).status, 200, 'another token takes the one place in the cache')
  t.equal((await query(gw.url, body, other.slice(0, -4) + 'AAAA')).status, 401, 'a token differing in its signature is checked, not found in the cache')
  await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50))
  t.equal((await query(gw.url, body, other)).status, 200, 'the other token still holds')
  const expired = await query(gw.url, body, shortLived)
  t.equal(expired.status, 401, 'the first, past its exp, is refused')
  t.equal(expired.body.error.code, 'token_invalid')
})

t.test('HS256 (development): a token past its exp is refused although it is cached', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const exp = Math.floor(Date.now() / 1000) + 2
  // helpers' token() takes no exp: a short-lived HS256 token is signed here.
  const signer = createSigner({ key: secret, algorithm: 'HS256', iss: 'doj-idp', aud: 'clets-gateway' })
  const shortLived = signer({ ...claims, exp })
  t.equal((await query(gw.url, body, shortLived)).status, 200)
  t.equal((await query(gw.url, body, shortLived)).status, 200, 'cached')
  await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50))
  t.equal((await query(gw.url, body, shortLived)).status, 401, 'refused once past exp, although cached')
})

t.test('a 401 carries WWW-Authenticate: Bearer (RFC 6750), on the query route and on the admin API', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const expired = token({ ttlSeconds: -60 })
  for (const [method, path] of [['POST', '/v1/query'], ['GET', '/v1/agencies']] as const) {
    const missing = await call(gw.url, method, path, method === 'POST' ? { body } : {})
    t.equal(missing.status, 401)
    t.equal(missing.body.error.code, 'token_missing')
    t.equal(missing.headers['www-authenticate'], 'Bearer realm="clets-gateway"', `${path}: no token, no error attribute`)
    const bad = await call(gw.url, method, path, { token: expired, ...(method === 'POST' ? { body } : {}) })
    t.equal(bad.status, 401)
    t.equal(bad.body.error.code, 'token_invalid')
    t.equal(bad.body.error.message, 'the token has expired')
    t.equal(bad.headers['www-authenticate'], 'Bearer realm="clets-gateway", error="invalid_token", error_description="the token has expired"', `${path}: a refused token`)
  }
  const noExp = createSigner({ key: secret, algorithm: 'HS256', iss: 'doj-idp', aud: 'clets-gateway' })(claims)
  const missingClaim = await query(gw.url, body, noExp)
  t.equal(missingClaim.body.error.message, 'The exp claim is required.', "fast-jwt's reason for a missing claim, as before @fastify/jwt")
  t.equal(missingClaim.headers['www-authenticate'], 'Bearer realm="clets-gateway", error="invalid_token", error_description="The exp claim is required."')
  const forbidden = await call(gw.url, 'GET', '/v1/agencies', { token: token() })
  t.equal(forbidden.status, 403, 'a wrong role is no challenge')
  t.equal(forbidden.headers['www-authenticate'], undefined)
})

/** An HS256 token signed by hand, for claims fast-jwt's signer would not write (an iat that is text). */
function handSigned(payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}`
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`
}

t.test('token lifetime: exp − iat at most JWT_MAX_LIFETIME_S (12 h), iat not in the future beyond the clock skew', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const now = Math.floor(Date.now() / 1000)
  const hs = (payload: Record<string, unknown>, options: { noTimestamp?: boolean } = {}) => createSigner({ key: secret, algorithm: 'HS256', iss: 'doj-idp', aud: 'clets-gateway', ...options })({ ...claims, ...payload })
  const refusals: [string, string, string][] = [
    ['exp: 1e20', hs({ exp: 1e20 }), "the token's lifetime exceeds 12 h (JWT_MAX_LIFETIME_S)"],
    ['a 10-year exp', hs({ exp: now + 10 * 365 * 86_400 }), "the token's lifetime exceeds 12 h (JWT_MAX_LIFETIME_S)"],
    ['12 h and a second', hs({ iat: now, exp: now + 43_201 }), "the token's lifetime exceeds 12 h (JWT_MAX_LIFETIME_S)"],
    ['an iat an hour ahead', hs({ iat: now + 3600, exp: now + 7200 }), 'iat is in the future'],
    ['an iat past the skew', hs({ iat: now + 120, exp: now + 600 }), 'iat is in the future'],
    ['no iat, 13 h left', hs({ exp: now + 13 * 3600 }, { noTimestamp: true }), "the token's lifetime exceeds 12 h (JWT_MAX_LIFETIME_S)"],
    ['a text iat', handSigned({ ...claims, iss: 'doj-idp', aud: 'clets-gateway', iat: String(now), exp: now + 60 }), 'the iat claim must be a number'],
    ['exp before iat', hs({ iat: now + 30, exp: now + 10 }), 'exp is before iat'],
  ]
  for (const [name, bearer, reason] of refusals) {
    const answer = await query(gw.url, body, bearer)
    t.equal(answer.status, 401, name)
    t.equal(answer.body.error.code, 'token_invalid', name)
    t.equal(answer.body.error.message, reason, name)
  }
  const refused = await query(gw.url, body, refusals[0]![1])
  t.equal(refused.headers['www-authenticate'], `Bearer realm="clets-gateway", error="invalid_token", error_description="the token's lifetime exceeds 12 h (JWT_MAX_LIFETIME_S)"`)
  const accepted: [string, string][] = [
    ['exactly 12 h', hs({ iat: now, exp: now + 43_200 })],
    ['an iat within the skew', hs({ iat: now + 30, exp: now + 600 })],
    ['no iat, an hour left', hs({ exp: now + 3600 }, { noTimestamp: true })],
    ['issued 11 h ago, an hour left', hs({ iat: now - 11 * 3600, exp: now + 3600 })],
  ]
  for (const [name, bearer] of accepted) t.equal((await query(gw.url, body, bearer)).status, 200, name)
  const metrics = await call(gw.url, 'GET', '/metrics')
  t.match(metrics.body, /gateway_jwt_verifications_total\{outcome="invalid"\} [1-9]/, 'counted as invalid tokens')
})

t.test('JWT_MAX_LIFETIME_S: another maximum, named in the refusal; out of range stops start-up', async (t) => {
  const gw = await startTestGateway({ env: { JWT_MAX_LIFETIME_S: '3600' } })
  t.teardown(() => gw.close())
  t.equal((await query(gw.url, body, token({ ttlSeconds: 3600 }))).status, 200)
  const long = await query(gw.url, body, token({ ttlSeconds: 3601 }))
  t.equal(long.status, 401)
  t.equal(long.body.error.message, "the token's lifetime exceeds 1 h (JWT_MAX_LIFETIME_S)")
  await t.rejects(startTestGateway({ env: { JWT_MAX_LIFETIME_S: '10' } }), /JWT_MAX_LIFETIME_S/)
})

t.test('gatewayctl token mints within the maximum lifetime, and refuses a longer --ttl as a usage error', async (t) => {
  const env = { ...process.env, GATEWAY_JWT_SECRET: secret, STATE_DIR: tempDir('state'), JWT_MAX_LIFETIME_S: '' }
  const [twelve, thirteen, week, shorter] = await Promise.all([
    runGatewayctl(['token', '--sub', 'officer-17', '--ori', lapd, '--role', 'terminal', '--ttl', '12h'], { env }),
    runGatewayctl(['token', '--sub', 'officer-17', '--ori', lapd, '--role', 'terminal', '--ttl', '13h'], { env }),
    runGatewayctl(['token', '--sub', 'officer-17', '--ori', lapd, '--role', 'terminal', '--ttl', '7d'], { env }),
    runGatewayctl(['token', '--sub', 'officer-17', '--ori', lapd, '--role', 'terminal', '--ttl', '2h'], { env: { ...env, JWT_MAX_LIFETIME_S: '3600' } }),
  ])
  t.equal(twelve.code, 0, twelve.stderr)
  const payload = JSON.parse(Buffer.from(twelve.stdout.trim().split('.')[1]!, 'base64url').toString())
  t.equal(payload.exp - payload.iat, 43_200, 'exp − iat is 12 h')
  for (const [run, limit] of [[thirteen, '12 h'], [week, '12 h'], [shorter, '1 h']] as const) {
    t.equal(run.code, 2)
    t.match(run.stderr, new RegExp(`^gatewayctl: --ttl: at most ${limit} \\(JWT_MAX_LIFETIME_S\\)`))
    t.equal(run.stdout, '', 'no token')
  }
})
