// Hostile input on the query route: what a client without a token can cost the gateway, and how long a
// slow client can hold a connection. Raw sockets, so the test controls exactly what is sent and when.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { ledgerRecords, operatorToken, startTestGateway, token } from './helpers.js'

const gw = await startTestGateway({ env: { REQUEST_TIMEOUT_MS: '1000' } })
t.teardown(() => gw.close())
const { port } = new URL(gw.url)

interface Connection {
  readonly socket: Socket
  /** Resolves with everything received once the first answer is complete or the connection closes. */
  readonly answer: Promise<string>
  readonly closed: Promise<number>
}

async function open(head: string): Promise<Connection> {
  const socket = connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.on('error', () => undefined)
  const started = Date.now()
  let received = ''
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (chunk) => {
      received += String(chunk)
      const end = received.indexOf('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(received)
      if (end !== -1 && length !== null && received.length >= end + 4 + Number(length[1])) resolve(received)
    })
    socket.once('close', () => resolve(received))
  })
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)))
  socket.write(head)
  return { socket, answer, closed }
}

const head = (authorization: string | null, length: number) =>
  `POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\n${authorization === null ? '' : `authorization: ${authorization}\r\n`}content-type: application/json\r\ncontent-length: ${length}\r\n\r\n`
const statusOf = (answer: string) => Number(answer.slice(9, 12))
const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))

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
