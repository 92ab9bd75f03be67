// Keys from the identity provider's JWKS (GATEWAY_JWT_JWKS_URL): a real JWKS server on port 0 serving
// keys made here, rotated while the gateway runs; unknown kids refetch at most once per cooldown; a
// JWKS that cannot be fetched refuses (503), never allows. The clock the gateway is given times the
// fetches, so no test sleeps.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { jwksTiming } from '../src/http/auth.js'
import { call, lapd, query, startTestGateway, TestClock, token, type TestGateway } from './helpers.js'

const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
const keyA = generateKeyPairSync('rsa', { modulusLength: 2048 })
const keyB = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const jwk = (key: KeyObject, kid: string) => ({ ...(key.export({ format: 'jwk' }) as object), kid, use: 'sig' })

/** A token signed by `privateKey` under `kid`; each call is a new token (never found in the verified-token cache). */
function sign(privateKey: KeyObject, algorithm: 'RS256' | 'ES256', kid: string | undefined): string {
  const signer = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm, iss: 'doj-idp', aud: 'clets-gateway', expiresIn: 60_000, ...(kid === undefined ? {} : { kid }) })
  return signer({ sub: 'officer-17', ori: lapd, roles: ['terminal'], jti: randomUUID() })
}

/** The identity provider's JWKS endpoint: serves `keys`, counts the fetches. */
interface Idp {
  readonly url: string
  keys: object[]
  fetches: number
  close(): Promise<void>
}

async function startIdp(keys: object[]): Promise<Idp> {
  const idp = { keys, fetches: 0 } as Idp & { server: Server }
  const server = createServer((_request, response) => {
    idp.fetches++
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: idp.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return Object.assign(idp, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  })
}

/** One series' value in the gateway's /metrics (0 when it is not there yet). */
async function series(gw: TestGateway, name: string): Promise<number> {
  const text = (await call(gw.url, 'GET', '/metrics')).body as string
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  return line === undefined ? 0 : Number(line.slice(name.length + 1))
}

t.test('keys rotate without restart: A accepted, then B under a new kid; bogus kids fetch at most once per cooldown', async (t) => {
  const idp = await startIdp([jwk(keyA.publicKey, 'a')])
  t.teardown(() => idp.close())
  const clock = new TestClock()
  const gw = await startTestGateway({ env: { GATEWAY_JWT_JWKS_URL: idp.url }, clock })
  t.teardown(() => gw.close())
  t.equal(idp.fetches, 1, 'fetched once at boot')

  t.equal((await query(gw.url, body, sign(keyA.privateKey, 'RS256', 'a'))).status, 200, 'a token signed with key A')
  t.equal((await query(gw.url, body, token())).status, 401, 'HS256 is refused with a JWKS, even with the right secret')
  t.equal((await query(gw.url, body, sign(keyA.privateKey, 'RS256', undefined))).status, 401, 'a token without kid')
  const wrongAlgorithm = await query(gw.url, body, sign(keyB.privateKey, 'ES256', 'a'))
  t.equal(wrongAlgorithm.status, 401, "kid A's name on an ES256 token: A's algorithm (RS256) is pinned")

  // The IdP publishes key B and starts signing with it.
  idp.keys = [jwk(keyA.publicKey, 'a'), jwk(keyB.publicKey, 'b')]
  const early = await query(gw.url, body, sign(keyB.privateKey, 'ES256', 'b'))
  t.equal(early.status, 401, 'within the cooldown of the last fetch an unknown kid is refused, not fetched')
  t.equal(idp.fetches, 1)
  clock.advance(jwksTiming.cooldownMs)
  t.equal((await query(gw.url, body, sign(keyB.privateKey, 'ES256', 'b'))).status, 200, 'key B, after one fetch, without restart')
  t.equal(idp.fetches, 2)
  t.equal((await query(gw.url, body, sign(keyA.privateKey, 'RS256', 'a'))).status, 200, 'key A still published, still accepted')

  // A flood of made-up kids: one fetch for the first (the cooldown has passed), none for the others.
  clock.advance(jwksTiming.cooldownMs)
  const bogus = await Promise.all(Array.from({ length: 20 }, (_, i) => query(gw.url, body, sign(keyA.privateKey, 'RS256', `bogus-${i}`))))
  t.same(new Set(bogus.map((answer) => answer.status)), new Set([401]), 'every unknown kid is refused')
  t.equal(bogus[0]!.body.error.code, 'token_invalid')
  t.match(bogus[0]!.headers['www-authenticate'], /^Bearer realm="clets-gateway", error="invalid_token", error_description="/)
  t.equal(idp.fetches, 3, '20 unknown kids made one fetch')

  // Key A is withdrawn: it verifies until the next refresh, not after.
  idp.keys = [jwk(keyB.publicKey, 'b')]
  clock.advance(jwksTiming.refreshMs)
  t.equal((await query(gw.url, body, sign(keyA.privateKey, 'RS256', 'a'))).status, 200, 'A until the refresh this token started in the background')
  await gw.gateway.deps.authenticator.jwks!.refresh()
  t.equal((await query(gw.url, body, sign(keyA.privateKey, 'RS256', 'a'))).status, 401, 'A withdrawn')
  t.equal((await query(gw.url, body, sign(keyB.privateKey, 'ES256', 'b'))).status, 200, 'B goes on')
  t.equal(await series(gw, 'gateway_jwks_fetches_total{outcome="failed"}'), 0)
  t.ok((await series(gw, 'gateway_jwks_fetches_total{outcome="ok"}')) >= 4)
})

t.test('a JWKS that cannot be fetched: tokens whose key is not known are refused 503 and counted, never allowed', async (t) => {
  const idp = await startIdp([jwk(keyA.publicKey, 'a')])
  const clock = new TestClock()
  const gw = await startTestGateway({ env: { GATEWAY_JWT_JWKS_URL: idp.url }, clock })
  t.teardown(() => gw.close())
  t.equal((await query(gw.url, body, sign(keyA.privateKey, 'RS256', 'a'))).status, 200)

  await idp.close()
  clock.advance(jwksTiming.cooldownMs)
  const unknown = await query(gw.url, body, sign(keyB.privateKey, 'ES256', 'b'))
  t.equal(unknown.status, 503, 'a new kid while the IdP is down')
  t.equal(unknown.body.error.code, 'jwks_unavailable')
  t.equal(unknown.headers['www-authenticate'], undefined, 'a fault, not a challenge')
  const again = await query(gw.url, body, sign(keyB.privateKey, 'ES256', 'b'))
  t.equal(again.status, 503, 'still refused within the cooldown, without a fetch')
  t.equal(await series(gw, 'gateway_jwks_fetches_total{outcome="failed"}'), 1)
  t.equal(await series(gw, 'gateway_fault_refusals_total{code="jwks_unavailable"}'), 2)
  t.equal((await query(gw.url, body, sign(keyA.privateKey, 'RS256', 'a'))).status, 200, 'the last good key set keeps verifying through the outage')
})

t.test('an IdP down from the start: the gateway starts, and refuses every token 503 until the JWKS can be fetched', async (t) => {
  const idp = await startIdp([jwk(keyA.publicKey, 'a')])
  const url = idp.url
  await idp.close()
  const clock = new TestClock()
  const logs: Record<string, unknown>[] = []
  const gw = await startTestGateway({ env: { GATEWAY_JWT_JWKS_URL: url }, clock, logs })
  t.teardown(() => gw.close())
  t.ok(logs.some((line) => line.level === 40 && /cannot fetch the JWKS/.test(String(line.msg))), 'the failure is logged at boot')
  const answer = await query(gw.url, body, sign(keyA.privateKey, 'RS256', 'a'))
  t.equal(answer.status, 503)
  t.equal(answer.body.error.code, 'jwks_unavailable')
  const admin = await call(gw.url, 'GET', '/v1/agencies', { token: sign(keyA.privateKey, 'RS256', 'a') })
  t.equal(admin.status, 503, 'the admin API too')
  t.notOk(JSON.stringify(logs).includes('eyJ'), 'no token in the logs')
})

t.test('a verified token is cached in front of @fastify/jwt: a hit is not verified again', async (t) => {
  const idp = await startIdp([jwk(keyA.publicKey, 'a')])
  t.teardown(() => idp.close())
  const gw = await startTestGateway({ env: { GATEWAY_JWT_JWKS_URL: idp.url } })
  t.teardown(() => gw.close())
  const once = sign(keyA.privateKey, 'RS256', 'a')
  for (let i = 0; i < 3; i++) t.equal((await query(gw.url, body, once)).status, 200)
  t.equal(await series(gw, 'gateway_jwt_verifications_total{outcome="valid"}'), 1, 'three queries, one verification')
  t.equal((await query(gw.url, body, once.slice(0, -4) + 'AAAA')).status, 401)
  t.equal(await series(gw, 'gateway_jwt_verifications_total{outcome="invalid"}'), 1)
})

t.test('GATEWAY_JWT_JWKS_URL: an http(s) URL, and not together with GATEWAY_JWT_PUBLIC_KEYS', async (t) => {
  t.throws(() => loadConfig({ GATEWAY_JWT_JWKS_URL: 'ftp://idp/jwks.json' }), /GATEWAY_JWT_JWKS_URL/)
  t.throws(() => loadConfig({ GATEWAY_JWT_JWKS_URL: 'https://idp.example/jwks.json', GATEWAY_JWT_PUBLIC_KEYS: '/keys.pem' }), /GATEWAY_JWT_JWKS_URL: set either it or GATEWAY_JWT_PUBLIC_KEYS, not both/)
  t.equal(loadConfig({ GATEWAY_JWT_JWKS_URL: 'https://idp.example/jwks.json' }).jwt.jwksUrl, 'https://idp.example/jwks.json')
})
