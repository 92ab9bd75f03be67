// Hostile input on the query route: what a client without a token can cost the gateway, and how long a
// slow client can hold a connection. Raw sockets, so the test controls exactly what is sent and when.
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { verifyLedger } from '../src/audit/verify.js'
import { bodyOf, call, ledgerRecords, operatorToken, policyDir, query, rawConnection, startTestGateway, statusOf, tempDir, TestClock, token } from './helpers.js'

const gw = await startTestGateway({ env: { REQUEST_TIMEOUT_MS: '1000' } })
t.teardown(() => gw.close())
const { port } = new URL(gw.url)

const open = (head: string) => rawConnection(Number(port), head)

const head = (authorization: string | null, length: number) =>
  `POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\n${authorization === null ? '' : `authorization: ${authorization}\r\n`}content-type: application/json\r\ncontent-length: ${length}\r\n\r\n`

t.test('a request without a valid token is refused before its body is read', async (t) => {
  // Regression: the token was checked after the body was read and parsed, so a 1 MiB deeply nested body
  // without a token cost 200-330 ms of event loop and tripped load shedding for everyone.
  for (const [name, authorization, code] of [
    ['no token', null, 'token_missing'],
    ['a forged token', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA', 'token_invalid'],
  ] as const) {
    // Headers announcing 1 MiB, and not one byte of it sent: the answer must not wait for the body.
    const connection = await open(head(authorization, 1024 * 1024 - 1))
    const answer = await connection.answer
    t.equal(statusOf(answer), 401, `${name}: 401 with the body still unsent`)
    t.equal(bodyOf(answer).error.code, code)
    connection.socket.destroy()
  }
  const nested = '['.repeat(500_000) + ']'.repeat(500_000)
  const connection = await open(head(null, nested.length) + nested)
  t.equal(statusOf(await connection.answer), 401, 'a deeply nested body without a token: 401, never parsed')
  connection.socket.destroy()
})

t.test('a token without the terminal role is refused before the body too, and audited', async (t) => {
  const connection = await open(head(`Bearer ${operatorToken()}`, 1000))
  const answer = await connection.answer
  t.equal(statusOf(answer), 403)
  t.equal(bodyOf(answer).error.code, 'role_forbidden')
  const id = /x-decision-id: (\S+)/i.exec(answer)?.[1]
  t.match(ledgerRecords(gw.auditDir).find((record) => record.id === id), { type: 'query.rejected', code: 'role_forbidden', sub: 'doj-operator-1' })
  connection.socket.destroy()
})

t.test('a body sent a byte at a time is cut at the request timeout: 408, closed, audited', async (t) => {
  // Regression: REQUEST_TIMEOUT_MS was given to Node after the server was made, and Node never applied
  // it: a slow-body connection lived 81 s against 10 s.
  const connection = await open(head(`Bearer ${token({ sub: 'slow-officer' })}`, 1000))
  const drip = setInterval(() => connection.socket.write(' '), 100)
  const answer = await connection.answer
  const lived = await connection.closed
  clearInterval(drip)
  t.equal(statusOf(answer), 408)
  t.equal(bodyOf(answer).error.code, 'request_timeout')
  t.ok(lived < 5000, `closed after ${lived} ms with REQUEST_TIMEOUT_MS=1000 (a generous ceiling, not a timing)`)
  const deadline = Date.now() + 5000
  let record
  while ((record = ledgerRecords(gw.auditDir).find((r) => r.sub === 'slow-officer')) === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.match(record, { type: 'query.rejected', status: 408, code: 'request_timeout', source: '127.0.0.1' }, 'the cut-off query is on the ledger')
})

t.test('headers sent a byte at a time are cut at the request timeout too', async (t) => {
  const connection = await open('POST /v1/query HTTP/1.1\r\n')
  const drip = setInterval(() => connection.socket.write('x'), 100)
  const answer = await connection.answer
  const lived = await connection.closed
  clearInterval(drip)
  t.equal(statusOf(answer), 408)
  t.ok(lived < 5000, `closed after ${lived} ms`)
})

t.test('a rejection records known paths only, at most eight, whatever the body held', async (t) => {
  // Regression: with allErrors, each unknown top-level key became an issue path in the query.rejected
  // record ("paths only, never values" was then false): ~255 MiB of ledger in 5 s from one token.
  const hostile: Record<string, unknown> = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
  for (let n = 0; n < 2000; n++) hostile[`attacker-text-${'x'.repeat(100)}-${n}`] = n
  const answer = await call(gw.url, 'POST', '/v1/query', { token: token({ sub: 'hostile-1' }), body: hostile })
  t.equal(answer.status, 400)
  t.equal(answer.body.error.code, 'invalid_request')
  t.ok(answer.body.error.issues.length <= 20, `the answer lists ${answer.body.error.issues.length} issues, not 2000`)
  const record = ledgerRecords(gw.auditDir).find((r) => r.id === answer.headers['x-decision-id'])
  t.match(record, { type: 'query.rejected', code: 'invalid_request', issues: ['(unknown field)'] })
  t.ok(JSON.stringify(record).length < 1024, 'the record stays small')

  const mixed = await call(gw.url, 'POST', '/v1/query', { token: token({ sub: 'hostile-1' }), body: { database: 7, purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' }, caseNumber: '', evil: 1 } })
  t.equal(mixed.status, 400)
  t.same(ledgerRecords(gw.auditDir).find((r) => r.id === mixed.headers['x-decision-id']).issues.sort(), ['(unknown field)', 'caseNumber', 'database'], 'known paths are kept, by name')
  const subject = await call(gw.url, 'POST', '/v1/query', { token: token({ sub: 'hostile-1' }), body: { database: 'dmv.vehicle_registration', purpose: 'traffic_enforcement', subject: { plate: 'not a plate!' } } })
  t.equal(subject.status, 400)
  t.same(ledgerRecords(gw.auditDir).find((r) => r.id === subject.headers['x-decision-id']).issues, ['subject.plate'])
})

t.test('rejections count against the rate limits: past them, 429 with the rule, and the record says so', async (t) => {
  // Regression: rejected queries skipped every rate limit, so one token could write rejections unthrottled.
  const dir = tempDir('policies')
  cpSync(policyDir, dir, { recursive: true })
  const limits = join(dir, 'limits.yaml')
  writeFileSync(limits, readFileSync(limits, 'utf8').replace('limit: 120', 'limit: 3'))
  const limited = await startTestGateway({ env: { POLICY_DIR: dir }, clock: new TestClock() })
  t.teardown(() => limited.close())
  const garbage = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' }, junk: true }
  for (let n = 0; n < 3; n++) t.equal((await call(limited.url, 'POST', '/v1/query', { token: token({ sub: 'garbage-officer' }), body: garbage })).status, 400, `bad query ${n + 1}: 400`)
  const over = await call(limited.url, 'POST', '/v1/query', { token: token({ sub: 'garbage-officer' }), body: garbage })
  t.equal(over.status, 429, 'the fourth is over the officer\'s limit')
  t.match(over.body.decision, { outcome: 'deny', rule: 'rate.user', id: over.headers['x-decision-id'] })
  t.equal(over.headers['retry-after'], '20')
  t.match(ledgerRecords(limited.auditDir).find((r) => r.id === over.headers['x-decision-id']), { type: 'query.rejected', status: 429, code: 'invalid_request', rule: 'rate.user', issues: ['(unknown field)'] })
  const valid = await query(limited.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }, token({ sub: 'garbage-officer' }))
  t.equal(valid.status, 429, 'the garbage used up the allowance a valid query would have had')
  t.equal((await query(limited.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }, token({ sub: 'another-officer' }))).status, 200, 'other officers are not affected')
  t.same((await verifyLedger(limited.auditDir)).problem, null)
})
