// One identity per person: a token's sub is folded (NFKC, lower case) when it is verified, and the
// officer's sanction, rate allowance and misuse signals bind the person whatever the spelling; stored
// sanctions written under another spelling are folded when read (the embedded store's journal, Redis,
// gatewayctl state import). The officers below are invented, at the fictional sample sheriff.
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { verifyLedger } from '../src/audit/verify.js'
import { bindingOfficerState, foldOfficerStates, foldUserId } from '../src/policy/identity.js'
import type { OfficerState } from '../src/policy/types.js'
import { call, ledgerRecords, sheriff, operatorToken, policyDir, query, startTestGateway, tempDir, testPopulation, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

const op = operatorToken()
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: testPopulation().licenses[3]!.licenseNumber } }
const fullWidth = 'ｌ8-officer' // U+FF4C FULLWIDTH LATIN SMALL LETTER L, then ASCII
const suspend = (gw: TestGateway, sub: string) => call(gw.url, 'PUT', `/v1/officers/${sheriff}/${encodeURIComponent(sub)}/sanction`, { token: op, body: { type: 'suspension', scope: 'all', reason: 'misuse suspected (invented)' } })
const lift = (gw: TestGateway, sub: string) => call(gw.url, 'DELETE', `/v1/officers/${sheriff}/${encodeURIComponent(sub)}/sanction`, { token: op, body: { reason: 'reinstated' } })

t.test('the folding rule: NFKC, then lower case, to a printable ASCII user id', async (t) => {
  t.equal(foldUserId('l8-officer'), 'l8-officer')
  t.equal(foldUserId('L8-OFFICER'), 'l8-officer')
  t.equal(foldUserId(fullWidth), 'l8-officer')
  t.equal(foldUserId('ＬＡＰＤ－１７'), 'lapd-17', 'full-width letters, digits and hyphen-minus')
  t.equal(foldUserId('\u212Aelvin'), 'kelvin', 'the Kelvin sign is a K')
  t.equal(foldUserId('ﬁeld-3'), 'field-3', 'a ligature is its letters')
  t.equal(foldUserId('user@example.org'), 'user@example.org')
  for (const bad of ['', 'two words', 'café', 'İstanbul', 'x'.repeat(129), '\u0000x', 'ａ'.repeat(129)]) t.equal(foldUserId(bad), null, JSON.stringify(bad))
  for (const id of ['l8-officer', 'L8-OFFICER', fullWidth, 'ＬＡＰＤ－１７']) t.equal(foldUserId(foldUserId(id)!), foldUserId(id), `idempotent: ${id}`)
})

t.test('two states of one person: a sanction binds over none, the later of two sanctions over the earlier', async (t) => {
  const suspended: OfficerState = { ori: sheriff, sub: 'L8-OFFICER', sanction: { type: 'suspension', scope: 'all', reason: 'r', since: '2026-01-01T00:00:00.000Z' }, version: 1 }
  const removed: OfficerState = { ori: sheriff, sub: 'l8-officer', sanction: { type: 'removal', scope: 'all', reason: 'r', since: '2026-02-01T00:00:00.000Z' }, version: 1 }
  const reinstated: OfficerState = { ori: sheriff, sub: 'l8-officer', sanction: null, version: 3 }
  t.same(bindingOfficerState(reinstated, suspended, 'l8-officer'), { ...suspended, sub: 'l8-officer' })
  t.same(bindingOfficerState(suspended, reinstated, 'l8-officer'), { ...suspended, sub: 'l8-officer' })
  t.same(bindingOfficerState(suspended, removed, 'l8-officer'), removed)
  t.same(foldOfficerStates([suspended, { ...reinstated, sub: 'other' }]), [{ ...suspended, sub: 'l8-officer' }, { ...reinstated, sub: 'other' }])
})

/** The regression of the tracker: a sanction binds every spelling of the user id. */
async function sanctionBindsThePerson(t: Test, gw: TestGateway): Promise<void> {
  for (const sub of ['l8-officer', 'L8-OFFICER', fullWidth]) t.equal((await query(gw.url, dl, token({ ori: sheriff, sub }))).status, 200, `${sub} before`)
  const suspended = await suspend(gw, 'l8-officer')
  t.equal(suspended.status, 200)
  for (const sub of ['l8-officer', 'L8-OFFICER', fullWidth, 'L8-Officer']) {
    const answer = await query(gw.url, dl, token({ ori: sheriff, sub }))
    t.equal(answer.status, 403, `${sub}: stopped`)
    t.equal(answer.body.decision.rule, 'officer.suspended')
  }
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'l9-officer' }))).status, 200, 'another officer is not')
  // The admin API folds the path too: any spelling names the one officer.
  const shown = await call(gw.url, 'GET', `/v1/officers/${sheriff}/${encodeURIComponent('Ｌ8-OFFICER')}`, { token: op })
  t.match(shown.body, { ori: sheriff, sub: 'l8-officer', sanction: { type: 'suspension' } })
  t.same((await call(gw.url, 'GET', `/v1/officers?ori=${sheriff}`, { token: op })).body.map((officer: { sub: string }) => officer.sub), ['l8-officer'], 'one officer listed')
  const lifted = await lift(gw, 'L8-Officer')
  t.equal(lifted.status, 200)
  t.equal(lifted.body.sub, 'l8-officer')
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: fullWidth }))).status, 200, 'lifted under any spelling')
  const bad = await call(gw.url, 'PUT', `/v1/officers/${sheriff}/caf%C3%A9/sanction`, { token: op, body: { type: 'suspension', scope: 'all', reason: 'r' } })
  t.equal(bad.status, 400, 'a spelling that folds to no user id')
  t.equal(bad.body.error.code, 'invalid_request')
}

t.test('embedded store: a sanction binds every spelling; the ledger keeps the spelling and the folded id', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  await sanctionBindsThePerson(t, gw)
  const decisions = ledgerRecords(gw.auditDir).filter((record) => record.type === 'query.decision')
  t.match(decisions.find((record) => record.sub === 'L8-OFFICER'), { sub: 'L8-OFFICER', officer: 'l8-officer' })
  t.match(decisions.find((record) => record.sub === fullWidth), { sub: fullWidth, officer: 'l8-officer' })
  t.notOk('officer' in decisions.find((record) => record.sub === 'l8-officer'), 'a folded spelling is recorded once')
  t.match(ledgerRecords(gw.auditDir).find((record) => record.type === 'officer.change'), { sub: 'l8-officer' })
  const searched = await call(gw.url, 'GET', '/v1/audit/search?sub=L8-Officer&type=query.decision', { token: op })
  t.equal(searched.status, 200)
  t.same([...new Set(searched.body.records.map((record: { sub: string }) => record.sub))].sort(), ['L8-OFFICER', 'L8-Officer', 'l8-officer', fullWidth].sort(), 'an audit search by user id finds every spelling')
  t.notOk(searched.body.records.some((record: { sub: string }) => record.sub === 'l9-officer'))
  const unfoldable = await query(gw.url, dl, token({ ori: sheriff, sub: 'café' }))
  t.equal(unfoldable.status, 401)
  t.equal(unfoldable.body.error.message, 'the sub claim is not a valid user id')
  await gw.close()
  t.equal((await verifyLedger(gw.auditDir)).problem, null)
})

t.test('redis store: the same, on two instances', async (t) => {
  const redis = await startRedis()
  const env = { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '300' }
  await initRedis(redis.url)
  const a = await startTestGateway({ env: { ...env, GATEWAY_INSTANCE_ID: 'gw-a' } })
  const b = await startTestGateway({ env: { ...env, GATEWAY_INSTANCE_ID: 'gw-b' } })
  t.teardown(async () => {
    await a.close()
    await b.close()
    await redis.stop()
  })
  await sanctionBindsThePerson(t, a)
  await suspend(a, 'L8-OFFICER')
  t.equal((await query(b.url, dl, token({ ori: sheriff, sub: fullWidth }))).body.decision?.rule, 'officer.suspended', 'on the other instance too')
  await lift(a, 'l8-officer')
})

t.test('one rate allowance per person, shared across spellings', async (t) => {
  const policies = tempDir('policies')
  cpSync(policyDir, policies, { recursive: true })
  writeFileSync(join(policies, 'limits.yaml'), readFileSync(join(policyDir, 'limits.yaml'), 'utf8').replace('perUser:\n  limit: 120', 'perUser:\n  limit: 3'))
  const gw = await startTestGateway({ env: { POLICY_DIR: policies } })
  t.teardown(() => gw.close())
  const statuses = []
  for (const sub of ['rate-officer', 'RATE-OFFICER', 'ｒａｔｅ-officer', 'Rate-Officer']) statuses.push((await query(gw.url, dl, token({ ori: sheriff, sub }))).status)
  t.same(statuses, [200, 200, 200, 429], 'the fourth query of one person is over the allowance of three')
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'rate-officer-2' }))).status, 200, 'another officer has their own')
})

t.test('the misuse signals count the person, not the spelling', async (t) => {
  const gw = await startTestGateway()
  // One person at two terminals under two spellings: a shared login (the shipped sharedLogin: 2 places).
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'Glen-77', terminal: 'T01' }))).status, 200)
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'ｇｌｅｎ-77', terminal: 'T02' }))).status, 200)
  await gw.close() // waits for the decision stream
  const signals = ledgerRecords(gw.auditDir).filter((record) => record.type === 'signal.raised')
  t.same(signals.map((signal) => [signal.kind, signal.sub]), [['shared_login', 'glen-77']], 'one officer at two places, named by the folded id')
})

t.test('stored sanctions under another spelling (written before ids were folded) bind the person', async (t) => {
  t.test('the embedded store folds its journal as it replays it', async (t) => {
    const first = await startTestGateway()
    const stateDir = first.stateDir
    await first.close()
    // A line as an earlier version wrote it: the sanction under the spelling the operator typed, unfolded.
    const journal = join(stateDir, 'agencies.jsonl')
    const old: OfficerState = { ori: sheriff, sub: 'OLD-OFFICER', sanction: { type: 'suspension', scope: 'all', reason: 'before folding (invented)', since: '2026-01-01T00:00:00.000Z' }, version: 1 }
    writeFileSync(journal, `${readFileSync(journal, 'utf8')}${JSON.stringify({ at: '2026-01-01T00:00:00.000Z', action: 'officer.sanction.impose', officer: old })}\n`)
    // And a reinstatement of another spelling of the same person, also before folding: it lifts nothing.
    writeFileSync(journal, `${readFileSync(journal, 'utf8')}${JSON.stringify({ at: '2026-01-02T00:00:00.000Z', action: 'officer.sanction.lift', officer: { ori: sheriff, sub: 'old-officer', sanction: null, version: 2 } })}\n`)
    let gw = await startTestGateway({ stateDir })
    t.teardown(() => gw.close())
    t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'old-officer' }))).body.decision?.rule, 'officer.suspended')
    t.match((await call(gw.url, 'GET', `/v1/officers/${sheriff}/old-officer`, { token: op })).body, { sub: 'old-officer', sanction: { type: 'suspension' } })
    // A change made since, under the folded id, replaces it, and survives a restart.
    t.equal((await lift(gw, 'Old-Officer')).status, 200)
    await gw.close()
    gw = await startTestGateway({ stateDir, auditDir: gw.auditDir })
    t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'OLD-OFFICER' }))).status, 200, 'the reinstatement holds after the restart')
  })

  t.test('Redis: fields under another spelling are folded when the gateway connects', async (t) => {
    const redis = await startRedis()
    await initRedis(redis.url)
    const raw = new Redis(redis.url)
    t.teardown(async () => {
      raw.disconnect()
      await redis.stop()
    })
    const old: OfficerState = { ori: sheriff, sub: 'OLD-OFFICER', sanction: { type: 'removal', scope: 'all', reason: 'before folding (invented)', since: '2026-01-01T00:00:00.000Z' }, version: 1 }
    await raw.hset('clets:officers', `user:${sheriff}:OLD-OFFICER`, JSON.stringify(old))
    await raw.hset('clets:officers', `user:${sheriff}:old-officer`, JSON.stringify({ ori: sheriff, sub: 'old-officer', sanction: null, version: 2 }))
    const logs: Record<string, unknown>[] = []
    const gw = await startTestGateway({ env: { REDIS_URL: redis.url }, logs })
    t.teardown(() => gw.close())
    t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'old-officer' }))).body.decision?.rule, 'officer.suspended')
    t.same(await raw.hkeys('clets:officers'), [`user:${sheriff}:old-officer`], 'one field, the folded one')
    t.match(JSON.parse((await raw.hget('clets:officers', `user:${sheriff}:old-officer`))!), { sub: 'old-officer', sanction: { type: 'removal' } })
    t.ok(logs.some((line) => /were folded/.test(String(line.msg)) && line.count === 1), 'the fold is logged')
  })
})
