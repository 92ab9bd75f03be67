// Issue 13, point 2: each misuse pattern of docs/facts.md played against a real gateway — the embedded store,
// then two instances sharing a real Redis — and the signals it raises: signal.raised records in the real
// ledger (with the decisions behind them), gateway_signals_total, answers unchanged, the ledger intact.
// Every officer, the agency CA9990001 and the protected person are invented (the simulated population is).
import { execFile } from 'node:child_process'
import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { SubjectHasher } from '../src/audit/subjects.js'
import { call, lapd, ledgerRecords, operatorToken, policyDir, query, root, startTestGateway, tempDir, testPopulation, TestClock, token, type TestGateway, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

const exec = promisify(execFile)
const key = 'an-invented-subject-key-for-the-signal-scenario-000'
const keyFile = join(tempDir('signal-key'), 'subject.key')
writeFileSync(keyFile, `${key}\n`, { mode: 0o600 })
const hasher = new SubjectHasher(Buffer.from(key))
const licences = testPopulation().licenses
const valley = 'CA9990001' // Invented Valley Police Department: an invented agency with declared hours
const protectedPerson = licences[120]!

// The shipped policies with small thresholds, declared hours for the invented agency, and a watch-list
// holding the protected person's licence (as `gatewayctl signals hash-watchlist` makes it).
const policies = tempDir('signal-policies')
cpSync(policyDir, policies, { recursive: true })
writeFileSync(
  join(policies, 'signals.yaml'),
  `distinctSubjects: { enabled: true, subjects: 5, windowSeconds: 3600 }
subjectSpread: { enabled: true, officers: 3, agencies: 2, windowSeconds: 86400 }
watchlist: { enabled: true, file: watchlist.txt, windowSeconds: 86400 }
selfLookup: { enabled: true, windowSeconds: 86400 }
sharedLogin: { enabled: true, places: 2, windowSeconds: 300 }
offHours: { enabled: true, windowSeconds: 3600, agencies: { ${valley}: { days: [mon, tue, wed, thu, fri], from: "07:00", to: "19:00" } } }
`,
)
writeFileSync(join(policies, 'watchlist.txt'), `# invented protected person\n${hasher.hashOf('licenseNumber', protectedPerson.licenseNumber)}\n`)

const dl = (index: number) => ({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: licences[index]!.licenseNumber } })

interface Played {
  readonly answers: { status: number; body: any }[]
  readonly ids: Record<string, string[]>
}

/** Plays every pattern; `a` and `b` are the same gateway with the embedded store, two instances with Redis. */
async function play(a: TestGateway, b: TestGateway, clock: TestClock): Promise<Played> {
  const answers: { status: number; body: any }[] = []
  const ids: Record<string, string[]> = {}
  const ask = async (label: string, gateway: TestGateway, body: unknown, bearer: string) => {
    const answer = await query(gateway.url, body, bearer)
    answers.push(answer)
    ;(ids[label] ??= []).push(answer.headers['x-decision-id'] as string)
  }
  const registered = await call(a.url, 'PUT', `/v1/agencies/${valley}`, { token: operatorToken(), body: { name: 'Invented Valley Police Department', kind: 'local', reason: 'an invented agency for the signal scenario' } })
  const agreed = await call(a.url, 'PUT', `/v1/agencies/${valley}/agreement`, { token: operatorToken(), body: { version: 'PPP-2019-02', signedAt: '2020-01-01T00:00:00Z', reason: 'signed' } })
  if (registered.status !== 201 || agreed.status !== 200) throw new Error(`cannot register ${valley}: ${registered.status} ${agreed.status}`)

  // 2026-06-01T12:00Z is Monday 05:00 in Los Angeles: before the invented agency's declared hours.
  await ask('offHours', a, dl(150), token({ sub: 'valley-night', ori: valley }))
  // Glendale's pattern: one officer looks up many people (here 6, over both instances; 5 raise it).
  for (let index = 100; index < 106; index++) await ask('distinct', index % 2 === 0 ? a : b, dl(index), token({ sub: 'glen-77' }))
  // One person looked up by three officers, and another by two agencies.
  for (const sub of ['spread-1', 'spread-2', 'spread-3']) await ask('spreadOfficers', sub === 'spread-2' ? b : a, dl(110), token({ sub }))
  clock.advance(5 * 3_600_000) // 10:00 in Los Angeles: inside the declared hours
  await ask('spreadAgencies', a, dl(111), token({ sub: 'spread-4' }))
  await ask('spreadAgencies', b, dl(111), token({ sub: 'valley-day', ori: valley }))
  // A celebrity on the watch-list, looked up twice by one officer: one signal.
  await ask('watchlist', a, dl(120), token({ sub: 'fan-5' }))
  await ask('watchlist', b, dl(120), token({ sub: 'fan-5' }))
  // An officer looks up their own licence (its number is a claim of their token).
  await ask('self', a, dl(130), token({ sub: 'self-8', licenseNumber: licences[130]!.licenseNumber }))
  // One login from two terminals within minutes, one on each instance.
  await ask('shared', a, dl(140), token({ sub: 'shared-9', terminal: 'T01' }))
  await ask('shared', b, dl(141), token({ sub: 'shared-9', terminal: 'T02' }))
  return { answers, ids }
}

function check(t: Test, auditDir: string, played: Played, signalCounts: { labels: Record<string, string | number>; value: number }[]) {
  const { answers, ids } = played
  t.ok(answers.every((answer) => answer.status === 200 && answer.body.decision.outcome === 'allow' && answer.body.records.length === 1), 'every answer is the allow it would have been: signals never block')
  const signals = ledgerRecords(auditDir).filter((record) => record.type === 'signal.raised')
  const byKind = (kind: string) => signals.filter((signal) => signal.kind === kind)
  t.equal(signals.length, 7, 'one signal per pattern (two for the spread), not one per query')
  t.match(byKind('off_hours'), [{ ori: valley, sub: 'valley-night', decisionIds: ids.offHours, detail: { declaredHours: 'mon,tue,wed,thu,fri 07:00-19:00 America/Los_Angeles', localTime: 'mon 05:00' }, blocked: false }])
  t.match(byKind('distinct_subjects'), [{ ori: lapd, sub: 'glen-77', detail: { subjects: 5, count: 5, windowSeconds: 3600 } }])
  t.same(new Set(byKind('distinct_subjects')[0].decisionIds), new Set(ids.distinct!.slice(0, 5)), 'the decisions behind it: the five look-ups')
  const spread = byKind('subject_spread')
  t.match(spread, [
    { ori: lapd, sub: null, detail: { subject: hasher.hashOf('licenseNumber', licences[110]!.licenseNumber), officers: 3, count: 3 } },
    { ori: valley, sub: null, detail: { subject: hasher.hashOf('licenseNumber', licences[111]!.licenseNumber), agencies: 2, count: 2 } },
  ])
  t.same(new Set(spread[0].decisionIds), new Set(ids.spreadOfficers))
  t.match(byKind('watchlist'), [{ ori: lapd, sub: 'fan-5', decisionIds: ids.watchlist!.slice(0, 1), detail: { subject: hasher.hashOf('licenseNumber', protectedPerson.licenseNumber) } }])
  t.match(byKind('self_lookup'), [{ ori: lapd, sub: 'self-8', decisionIds: ids.self, detail: { subject: hasher.hashOf('licenseNumber', licences[130]!.licenseNumber) } }])
  t.match(byKind('shared_login'), [{ ori: lapd, sub: 'shared-9', detail: { places: 2, count: 2, windowSeconds: 300 } }])
  t.same(new Set(byKind('shared_login')[0].decisionIds), new Set(ids.shared))
  t.notMatch(JSON.stringify(signals), new RegExp(licences.slice(100, 151).map((licence) => licence.licenseNumber).join('|')), 'no subject in the clear in a signal')
  const counted = Object.fromEntries(signalCounts.map(({ labels, value }) => [`${labels.kind} ${labels.ori}`, value]))
  t.same(counted, {
    [`off_hours ${valley}`]: 1,
    [`distinct_subjects ${lapd}`]: 1,
    [`subject_spread ${lapd}`]: 1,
    [`subject_spread ${valley}`]: 1,
    [`watchlist ${lapd}`]: 1,
    [`self_lookup ${lapd}`]: 1,
    [`shared_login ${lapd}`]: 1,
  }, 'gateway_signals_total by kind and agency')
}

async function signalCounts(...gateways: TestGateway[]) {
  const values = []
  for (const gateway of gateways) values.push(...(await gateway.gateway.deps.metrics.signals.get()).values)
  const summed = new Map<string, { labels: Record<string, string | number>; value: number }>()
  for (const { labels, value } of values) {
    const key = `${labels.kind} ${labels.ori}`
    summed.set(key, { labels, value: (summed.get(key)?.value ?? 0) + value })
  }
  return [...summed.values()]
}

async function verify(t: Test, auditDir: string) {
  const { stdout } = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'verify', auditDir], { cwd: root })
  t.match(stdout, /ledger intact/)
}

t.test('the embedded store: every pattern raises its signal once', async (t) => {
  const clock = new TestClock()
  const gw = await startTestGateway({ clock, env: { POLICY_DIR: policies, AUDIT_SUBJECT_KEY: keyFile } })
  const played = await play(gw, gw, clock)
  await gw.close() // the decision stream is drained before the ledger closes
  check(t, gw.auditDir, played, await signalCounts(gw))
  await verify(t, gw.auditDir)
})

t.test('two instances on one Redis count together: a pattern spread over both raises one signal', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const clock = new TestClock()
  const auditDir = tempDir('signal-audit')
  const env = { POLICY_DIR: policies, AUDIT_SUBJECT_KEY: keyFile, REDIS_URL: redis.url }
  await initRedis(redis.url, { now: clock.value })
  const a = await startTestGateway({ clock, auditDir, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-a' } })
  const b = await startTestGateway({ clock, auditDir, env: { ...env, GATEWAY_INSTANCE_ID: 'gw-b' } })
  const played = await play(a, b, clock)
  await a.close()
  await b.close()
  check(t, auditDir, played, await signalCounts(a, b))
  await verify(t, auditDir)
})
