// Clients that hang up: a terminal that sends its query and resets the connection, one that aborts in
// the middle of the body, an operator whose change is sent and then cut off. Every record the gateway
// writes for them is whole (the source address was captured when the connection arrived, not read from
// a socket that is gone), and the ledger of the whole scenario verifies.
// Regression: the source was read from the socket when the record was built; after a reset it was
// undefined, the record was written without `source`, and `gatewayctl audit verify` stopped there.
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { readPublicKey } from '../src/audit/checkpoint.js'
import { verifyLedger } from '../src/audit/verify.js'
import { call, lapd, sheriff, ledgerRecords, operatorToken, query, startTestGateway, token } from './helpers.js'
import { join } from 'node:path'

const gw = await startTestGateway()
t.teardown(() => gw.close())
const { port } = new URL(gw.url)

async function openSocket(): Promise<Socket> {
  const socket = connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.on('error', () => undefined)
  return socket
}

function request(method: string, path: string, bearer: string, body: string, contentLength = Buffer.byteLength(body)): string {
  return `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${bearer}\r\ncontent-type: application/json\r\ncontent-length: ${contentLength}\r\n\r\n${body}`
}

/** Waits (bounded) until the ledger holds `count` records that match. */
async function recordsMatching(match: (record: any) => boolean, count: number): Promise<any[]> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const found = ledgerRecords(gw.auditDir).filter(match)
    if (found.length >= count || Date.now() > deadline) return found
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const allowed = JSON.stringify({ database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } })
const immigration = JSON.stringify({ database: 'dmv.driver_license', purpose: 'immigration_enforcement', subject: { licenseNumber: 'A1234567' }, caseNumber: '24-1' })

t.test('a query sent whole and then reset is decided and recorded with its source', async (t) => {
  for (const [n, body] of [allowed, immigration, allowed, immigration].entries()) {
    const socket = await openSocket()
    socket.write(request('POST', '/v1/query', token({ sub: `hangup-${n}` }), body))
    socket.resetAndDestroy()
  }
  const decisions = await recordsMatching((record) => record.type === 'query.decision' && record.sub.startsWith('hangup-'), 4)
  t.equal(decisions.length, 4, 'every decision is recorded')
  t.ok(decisions.every((record) => record.source === '127.0.0.1'), 'each with the address the query came from')
})

t.test('a query aborted in the middle of its body is recorded as rejected, with its source', async (t) => {
  for (let n = 0; n < 3; n++) {
    const socket = await openSocket()
    socket.write(request('POST', '/v1/query', token({ sub: `abort-${n}` }), allowed.slice(0, 20), allowed.length))
    await new Promise((resolve) => setTimeout(resolve, 20))
    socket.resetAndDestroy()
  }
  const rejected = await recordsMatching((record) => record.type === 'query.rejected' && record.sub.startsWith('abort-'), 3)
  t.equal(rejected.length, 3)
  t.ok(rejected.every((record) => record.source === '127.0.0.1'))
})

t.test('an operator change sent and then reset is audited with its source', async (t) => {
  for (const [n, reason] of ['censure for the record', 'lifted'].entries()) {
    const socket = await openSocket()
    const body = n === 0 ? JSON.stringify({ type: 'censure', reason }) : JSON.stringify({ reason })
    socket.write(request(n === 0 ? 'PUT' : 'DELETE', `/v1/agencies/${sheriff}/sanction`, operatorToken(), body))
    socket.resetAndDestroy()
    await recordsMatching((record) => record.type === 'operator.change' && record.reason === reason, 1)
  }
  const changes = await recordsMatching((record) => record.type === 'operator.change' && record.ori === sheriff && record.operator === 'doj-operator-1', 2)
  t.equal(changes.length, 2)
  t.ok(changes.every((record) => record.source === '127.0.0.1'))
})

t.test('with clean queries, rejections and changes around them, the whole ledger verifies', async (t) => {
  t.equal((await query(gw.url, JSON.parse(allowed))).status, 200)
  t.equal((await query(gw.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { plate: 'X' } })).status, 400)
  const change = await call(gw.url, 'PUT', `/v1/agencies/${lapd}`, { token: operatorToken(), body: { name: 'Los Angeles Police Department', kind: 'local', reason: 'renamed' } })
  t.equal(change.status, 200)
  const report = await verifyLedger(gw.auditDir, { publicKey: readPublicKey(join(gw.auditDir, 'signing-key.pub.pem')) })
  t.same(report.problem, null, 'the ledger verifies')
  t.ok(report.chains[0]!.records >= 15)
})

// Last: it closes the gateway.
t.test('requests cut at every byte offset, queries and operator changes alike, leave whole records', async (t) => {
  const requests = [
    request('POST', '/v1/query', token({ sub: 'cut-query' }), allowed),
    request('POST', '/v1/query', token({ sub: 'cut-query' }), immigration),
    request('PUT', `/v1/agencies/${sheriff}/sanction`, operatorToken(), JSON.stringify({ type: 'censure', reason: 'cut change' })),
  ]
  let sent = 0
  for (const whole of requests) {
    // Every 7th byte, and the last few: inside the request line, the headers, the blank line, the body.
    const offsets = new Set([...Array.from({ length: Math.ceil(whole.length / 7) }, (_, n) => n * 7), whole.length - 2, whole.length - 1, whole.length])
    for (const offset of offsets) {
      const socket = await openSocket()
      socket.write(whole.slice(0, offset))
      socket.resetAndDestroy()
      sent++
    }
  }
  // Closing waits for the requests still in flight and flushes the ledger: then every record is there.
  await gw.close()
  const records = ledgerRecords(gw.auditDir)
  t.ok(sent > 100, `${sent} requests cut`)
  // (A misuse signal names an officer too, but no request: it comes from the decision stream.)
  const requesters = records.filter((record) => ('sub' in record && record.type !== 'signal.raised') || (record.type === 'operator.change' && record.operator !== 'system:seed'))
  t.ok(requesters.length > 20, `${requesters.length} records of requests`)
  t.ok(requesters.every((record) => record.source === '127.0.0.1'), 'every one names its source')
  t.same((await verifyLedger(gw.auditDir)).problem, null, 'and the ledger verifies')
})
