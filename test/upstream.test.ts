// Forwarding failures: a database that is down answers 502, one that errs 502, one too slow 504.
// Each failure is audited as the query's outcome and counted; the gateway stays up.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { call, ledgerRecords, query, startTestGateway } from './helpers.js'

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const failing = createServer((_request, response) => {
  response.writeHead(500, { 'content-type': 'application/json' })
  response.end('{"error":"database fault"}')
})
const garbled = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' })
  response.end('{"records": [')
})
const hanging = createServer(() => {
  // never answers
})
const failingUrl = await listen(failing)
const garbledUrl = await listen(garbled)
const hangingUrl = await listen(hanging)
// A port that was open a moment ago and is closed now: connection refused.
const closed = createServer()
const closedUrl = await listen(closed)
await new Promise((resolve) => closed.close(resolve))

t.teardown(() => {
  for (const server of [failing, garbled, hanging]) {
    server.closeAllConnections()
    server.close()
  }
})

const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

const cases: [string, string, number, string][] = [
  ['a database that is down', closedUrl, 502, 'upstream_unavailable'],
  ['a database that answers 500', failingUrl, 502, 'upstream_error'],
  ['a database that answers broken JSON', garbledUrl, 502, 'upstream_error'],
  ['a database that does not answer in time', hangingUrl, 504, 'upstream_timeout'],
]

for (const [name, url, status, code] of cases) {
  t.test(`${name}: ${status} ${code}, audited as the outcome`, async (t) => {
    const gw = await startTestGateway({ env: { DMV_URL: url, UPSTREAM_TIMEOUT_MS: '300', UPSTREAM_CONNECT_TIMEOUT_MS: '300' } })
    t.teardown(() => gw.close())
    const answer = await query(gw.url, body)
    t.equal(answer.status, status)
    t.equal(answer.body.error.code, code)
    const id = answer.headers['x-decision-id']
    t.ok(id, 'the decision was made and recorded before forwarding')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const records = ledgerRecords(gw.auditDir).filter((record) => record.id === id)
    t.match(records, [{ type: 'query.decision', outcome: 'allow' }, { type: 'query.outcome', status, code, recordCount: 0 }])
    const metrics = await call(gw.url, 'GET', '/metrics')
    t.match(metrics.body, new RegExp(`gateway_upstream_errors_total\\{database="dmv.driver_license",code="${code}"\\} 1`))
    t.equal((await call(gw.url, 'GET', '/healthz')).status, 200, 'the gateway is still up')
  })
}
