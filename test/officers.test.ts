// Officer sanctions (issue 12, point 4), as a DOJ operator and the officer see them on the embedded
// store: one officer suspended or removed through the admin API is refused on the very next query, on
// a token the gateway verified and cached before the sanction (no cache expiry waited for), while the
// other officers of the agency are served; scope and end work as an agency's; each change is audited
// before it applies; bad input changes nothing; a restart never forgets an officer's sanction.
// (Redis: test/state-contract.test.ts and, across two instances, test/redis-instances.test.ts.) The
// officers are of the sample Bayview County Sheriff's Department (fictional).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { call, cbp, lapd, ledgerRecords, sheriff, sheriffName, operatorToken, query, startTestGateway, TestClock, testPopulation, token } from './helpers.js'

const clock = new TestClock()
const gw = await startTestGateway({ clock })
t.teardown(() => gw.close())
const op = operatorToken()
const admin = (method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown) => call(gw.url, method, path, { token: op, ...(body === undefined ? {} : { body }) })
const sanctionPath = (sub: string, ori = sheriff) => `/v1/officers/${ori}/${encodeURIComponent(sub)}/sanction`

const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
const person = testPopulation().rapSheets[0]!.person
const rap = { database: 'criminal_history', purpose: 'criminal_investigation', caseNumber: '24-001234', subject: { lastName: person.lastName, firstName: person.firstName, dateOfBirth: person.dateOfBirth } }

t.test("an officer suspended through the admin API is refused at once, on the token cached before; the agency's other officers are served", async (t) => {
  const officer96 = token({ ori: sheriff, sub: 'officer-96' })
  t.equal((await query(gw.url, dl, officer96)).status, 200, 'the token is verified, and cached, by this query')

  const sanctioned = await admin('PUT', sanctionPath('officer-96'), { type: 'suspension', reason: 'queried a neighbour (invented example)' })
  t.equal(sanctioned.status, 200)
  t.same(sanctioned.body, { ori: sheriff, sub: 'officer-96', sanction: { type: 'suspension', scope: 'all', reason: 'queried a neighbour (invented example)', since: new Date(clock.value).toISOString() }, version: 1 })
  const auditId = sanctioned.headers['x-audit-id']

  const denied = await query(gw.url, dl, officer96)
  t.equal(denied.status, 403, 'the same token, on its next query')
  t.same(denied.body.decision, {
    id: denied.headers['x-decision-id'],
    outcome: 'deny',
    rule: 'officer.suspended',
    reason: `This officer's CLETS access at ${sheriffName} is suspended until DOJ reinstates it.`,
    citation: "CLETS PPP, system discipline (CLETS Advisory Committee): suspension or removal of CLETS service, here of one operator's user ID; DOJ CLETS bulletin of 17 Apr 2018 on misuse by individual users",
  })
  t.equal((await query(gw.url, rap, officer96)).body.decision?.rule, 'officer.suspended', 'criminal history too: the scope is all')
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'officer-97' }))).status, 200, 'another officer of the agency is served')
  t.equal((await query(gw.url, dl, token({ sub: 'officer-96', ori: lapd }))).status, 200, 'the same user id at another agency is another officer')

  const records = ledgerRecords(gw.auditDir)
  const change = records.find((record) => record.id === auditId)
  t.match(change, {
    type: 'officer.change',
    operator: 'doj-operator-1',
    operatorOri: 'CA0349400',
    source: '127.0.0.1',
    action: 'officer.sanction.impose',
    ori: sheriff,
    sub: 'officer-96',
    reason: 'queried a neighbour (invented example)',
    before: null,
    after: { sanction: { type: 'suspension', scope: 'all' }, version: 1 },
  })
  const decision = records.find((record) => record.id === denied.body.decision.id)
  t.match(decision, { type: 'query.decision', sub: 'officer-96', outcome: 'deny', rule: 'officer.suspended' })
  t.ok(change.seq < decision.seq, 'the change was on the ledger before the first query it denied')
})

t.test('a suspension for non-criminal history leaves criminal history; it lapses at its end; a removal blocks all; reinstatement', async (t) => {
  const bearer = token({ ori: sheriff, sub: 'officer-12' })
  const until = new Date(clock.value + 3_600_000).toISOString()
  const suspended = await admin('PUT', sanctionPath('officer-12'), { type: 'suspension', scope: 'non_criminal_history', until, reason: 'suspected misuse of DMV addresses' })
  t.equal(suspended.status, 200)
  t.match(suspended.body.sanction, { scope: 'non_criminal_history', until })
  const dmv = await query(gw.url, dl, bearer)
  t.equal(dmv.body.decision.rule, 'officer.suspended')
  t.equal(dmv.body.decision.reason, `This officer's CLETS access at ${sheriffName} is suspended for non-criminal-history databases until ${until}.`)
  t.equal((await query(gw.url, rap, bearer)).status, 200, 'criminal history stays open')

  t.match((await admin('GET', `/v1/officers/${sheriff}/officer-12`)).body, { ori: sheriff, sub: 'officer-12', sanction: { type: 'suspension', until }, version: 1 })
  const listed = await admin('GET', `/v1/officers?ori=${sheriff}`)
  t.equal(listed.status, 200)
  t.same(listed.body.map((officer: { sub: string }) => officer.sub), ['officer-12', 'officer-96'], "the agency's sanctioned officers")
  t.same((await admin('GET', `/v1/officers?ori=${cbp}`)).body, [])
  t.same((await admin('GET', '/v1/officers')).body.map((officer: { sub: string }) => officer.sub), ['officer-12', 'officer-96'], 'every agency')

  clock.advance(3_600_000)
  t.equal((await query(gw.url, dl, bearer)).status, 200, 'lapsed at its end, on every read, no timer')
  t.equal((await admin('GET', `/v1/officers/${sheriff}/officer-12`)).body.sanction, null, 'and shown as none')
  t.same((await admin('GET', `/v1/officers?ori=${sheriff}`)).body.map((officer: { sub: string }) => officer.sub), ['officer-96'], 'nor listed')

  const removed = await admin('PUT', sanctionPath('officer-12'), { type: 'removal', reason: 'misuse confirmed' })
  t.match(removed.body, { sanction: { type: 'removal', scope: 'all' }, version: 2 })
  const out = await query(gw.url, rap, bearer)
  t.equal(out.body.decision.rule, 'officer.suspended')
  t.match(out.body.decision.reason, /has been removed until DOJ reinstates it\.$/)

  const reinstated = await admin('DELETE', sanctionPath('officer-12'), { reason: 'cleared by the investigation' })
  t.equal(reinstated.status, 200)
  t.same(reinstated.body, { ori: sheriff, sub: 'officer-12', sanction: null, version: 3 })
  t.equal((await query(gw.url, dl, bearer)).status, 200, 'served again at once')
  t.same(
    ledgerRecords(gw.auditDir).filter((record) => record.type === 'officer.change' && record.sub === 'officer-12').map((record) => [record.action, record.reason, record.before?.version ?? null, record.after.version]),
    [
      ['officer.sanction.impose', 'suspected misuse of DMV addresses', null, 1],
      ['officer.sanction.impose', 'misuse confirmed', 1, 2],
      ['officer.sanction.lift', 'cleared by the investigation', 2, 3],
    ],
  )
})

t.test('an officer never sanctioned reads as one without a sanction; a user id a URL must encode is one officer', async (t) => {
  t.same((await admin('GET', `/v1/officers/${sheriff}/officer-17`)).body, { ori: sheriff, sub: 'officer-17', sanction: null, version: 0 })
  const odd = 'unit/7?x=%41#1'
  const sanctioned = await admin('PUT', sanctionPath(odd), { type: 'removal', reason: 'shared his login (invented example)' })
  t.equal(sanctioned.status, 200)
  t.equal(sanctioned.body.sub, odd, 'the path segment, percent-decoded')
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: odd }))).body.decision.rule, 'officer.suspended')
  t.equal((await admin('GET', `/v1/officers/${sheriff}/${encodeURIComponent(odd)}`)).body.sanction.type, 'removal')
  t.equal((await admin('DELETE', sanctionPath(odd), { reason: 'retrained' })).status, 200)
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: odd }))).status, 200)
})

t.test('bad operator input: a clear 4xx, and nothing changes', async (t) => {
  const journal = () => readFileSync(join(gw.stateDir, 'agencies.jsonl'), 'utf8')
  const before = journal()
  const changes = () => ledgerRecords(gw.auditDir).filter((record) => record.type === 'officer.change').length
  const changed = changes()
  const path = sanctionPath('officer-5')
  const cases: [string, 'PUT' | 'DELETE' | 'GET', string, unknown, number, string, string?][] = [
    ['a censure (changes no access: not an officer sanction)', 'PUT', path, { type: 'censure', reason: 'r' }, 400, 'invalid_request', 'type'],
    ['a removal limited to non-criminal history', 'PUT', path, { type: 'removal', scope: 'non_criminal_history', reason: 'r' }, 400, 'invalid_sanction', 'scope'],
    ['a removal with an end date', 'PUT', path, { type: 'removal', until: '2030-01-01T00:00:00Z', reason: 'r' }, 400, 'invalid_sanction', 'until'],
    ['a suspension that ended in the past', 'PUT', path, { type: 'suspension', until: '2020-01-01T00:00:00Z', reason: 'r' }, 400, 'invalid_sanction', 'until'],
    ['a suspension ending now', 'PUT', path, { type: 'suspension', until: new Date(clock.value).toISOString(), reason: 'r' }, 400, 'invalid_sanction', 'until'],
    ['an end on a leap second', 'PUT', path, { type: 'suspension', until: '2030-12-31T23:59:60Z', reason: 'r' }, 400, 'invalid_request', 'until'],
    ['an end that is not a time', 'PUT', path, { type: 'suspension', until: 'next week', reason: 'r' }, 400, 'invalid_request', 'until'],
    ['no reason', 'PUT', path, { type: 'suspension' }, 400, 'invalid_request', 'reason'],
    ['an empty reason', 'DELETE', path, { reason: '' }, 400, 'invalid_request', 'reason'],
    ['an unknown field', 'PUT', path, { type: 'suspension', reason: 'r', writtenRequest: true }, 400, 'invalid_request', 'writtenRequest'],
    ['a malformed ORI', 'PUT', '/v1/officers/sheriff/officer-5/sanction', { type: 'suspension', reason: 'r' }, 400, 'invalid_request', 'ori'],
    ['a user id with a space', 'PUT', sanctionPath('officer 5'), { type: 'suspension', reason: 'r' }, 400, 'invalid_request', 'sub'],
    ['a user id longer than a token may carry', 'PUT', sanctionPath('x'.repeat(129)), { type: 'suspension', reason: 'r' }, 400, 'invalid_request', 'sub'],
    ['a user id past what the router reads (bug: fastify answered 414 in its own shape, past 100 characters)', 'PUT', sanctionPath('x'.repeat(300)), { type: 'suspension', reason: 'r' }, 400, 'invalid_request', 'url'],
    ['a path that is not valid percent-encoding (bug: fastify answered in its own shape)', 'PUT', `/v1/officers/${sheriff}/%E0%A4%A/sanction`, { type: 'suspension', reason: 'r' }, 400, 'invalid_request', 'url'],
    ['an officer of an unregistered agency (a mistyped ORI)', 'PUT', sanctionPath('officer-5', 'CA0194201'), { type: 'suspension', reason: 'r' }, 404, 'agency_not_found'],
    ['reinstating there', 'DELETE', sanctionPath('officer-5', 'CA0194201'), { reason: 'r' }, 404, 'agency_not_found'],
    ['reading there', 'GET', '/v1/officers/CA0194201/officer-5', undefined, 404, 'agency_not_found'],
    ['a list filtered by a malformed ORI', 'GET', '/v1/officers?ori=sheriff', undefined, 400, 'invalid_request', 'ori'],
    ['a list filtered by an unknown parameter', 'GET', '/v1/officers?sub=officer-5', undefined, 400, 'invalid_request', 'sub'],
  ]
  for (const [name, method, where, body, status, code, field] of cases) {
    const answer = await admin(method, where, body)
    t.equal(answer.status, status, name)
    t.equal(answer.body.error?.code, code, `${name}: ${code}`)
    if (field !== undefined) t.match(answer.body.error?.issues, [{ path: field }], `${name}: the issue names ${field}`)
  }
  const terminal = await call(gw.url, 'PUT', path, { token: token(), body: { type: 'suspension', reason: 'r' } })
  t.same([terminal.status, terminal.body.error.code], [403, 'role_forbidden'], 'an officer cannot sanction (nor lift a sanction)')
  t.equal((await call(gw.url, 'GET', '/v1/officers')).status, 401)
  t.equal(journal(), before, 'the journal is unchanged')
  t.equal(changes(), changed, 'no change was audited')
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'officer-5' }))).status, 200, 'the officer is not sanctioned')
})

t.test('metrics count the denials by rule, never by officer; operator changes by action', async (t) => {
  const metrics = await call(gw.url, 'GET', '/metrics')
  t.match(metrics.body, /^gateway_decisions_total\{outcome="deny",rule="officer\.suspended",database_class="non_criminal_history",purpose="traffic_enforcement"\} [1-9]/m)
  t.match(metrics.body, /^gateway_decisions_total\{outcome="deny",rule="officer\.suspended",database_class="criminal_history",purpose="criminal_investigation"\} [1-9]/m)
  t.match(metrics.body, /^gateway_operator_changes_total\{action="officer\.sanction\.impose"\} [1-9]/m)
  t.match(metrics.body, /^gateway_operator_changes_total\{action="officer\.sanction\.lift"\} [1-9]/m)
  t.notMatch(metrics.body, /officer-96|officer-12|unit\/7/, 'no officer id is a label')
})

t.test("a restart replays the journal: an officer's sanction survives it", async (t) => {
  t.equal((await admin('PUT', sanctionPath('officer-40'), { type: 'suspension', scope: 'non_criminal_history', reason: 'under investigation' })).status, 200)
  await gw.close()
  const again = await startTestGateway({ stateDir: gw.stateDir, clock })
  t.teardown(() => again.close())
  t.equal((await query(again.url, dl, token({ ori: sheriff, sub: 'officer-40' }))).body.decision.rule, 'officer.suspended')
  t.equal((await query(again.url, dl, token({ ori: sheriff, sub: 'officer-96' }))).body.decision.rule, 'officer.suspended', 'officer-96 too')
  t.equal((await query(again.url, dl, token({ ori: sheriff, sub: 'officer-12' }))).status, 200, 'the reinstated officer stays reinstated')
  t.match((await call(again.url, 'GET', `/v1/officers/${sheriff}/officer-40`, { token: op })).body, { sanction: { scope: 'non_criminal_history', reason: 'under investigation' }, version: 1 })
})
