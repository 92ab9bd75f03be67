// Logs: one structured line per request with its decision id, and never a token, a subject or a record.
import { once } from 'node:events'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { startGateway } from '../src/gateway.js'
import { createLogger } from '../src/logger.js'
import { call, operatorToken, policyDir, query, root, secret, spawnGateway, tempDir, testPopulation, token } from './helpers.js'

const lines: string[] = []
const sink = new Writable({
  write(chunk, _encoding, done) {
    lines.push(...chunk.toString().split('\n').filter(Boolean))
    done()
  },
})
const config = loadConfig({ PORT: '0', STATE_DIR: tempDir('state'), AUDIT_DIR: tempDir('audit'), POLICY_DIR: policyDir, GATEWAY_JWT_SECRET: secret, LOG_LEVEL: 'info' })
const gateway = await startGateway(config, createLogger('info', sink), { population: testPopulation() })
t.teardown(() => gateway.close())

t.test('a line per request with route, status and decision id; no token, subject or record anywhere', async (t) => {
  const bearer = token()
  const person = testPopulation().licenses[0]!
  const allowed = await query(gateway.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }, bearer)
  const denied = await query(gateway.url, { database: 'criminal_history', purpose: 'ccw_licensing', subject: { lastName: person.person.lastName, firstName: person.person.firstName, dateOfBirth: person.person.dateOfBirth } }, bearer)
  await query(gateway.url, { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'B7654321', homeAddress: '1 SECRET ST' } }, bearer)
  await call(gateway.url, 'PUT', '/v1/agencies/CA0990000/sanction', { token: operatorToken(), body: { type: 'censure', reason: 'training (invented)' } })
  await call(gateway.url, 'GET', '/v1/policy', { headers: { authorization: 'Bearer not-a-token-but-secret-looking' } })
  await new Promise((resolve) => setTimeout(resolve, 100)) // async log writes
  const text = lines.join('\n')
  const records = lines.map((line) => JSON.parse(line))
  t.ok(records.some((record) => record.msg === 'request' && record.route === '/v1/query' && record.status === 200 && record.decisionId === allowed.body.decision.id))
  t.ok(records.some((record) => record.msg === 'request' && record.status === 403 && record.decisionId === denied.body.decision.id))
  t.ok(records.some((record) => record.msg === 'operator change' && record.operator === 'doj-operator-1' && record.ori === 'CA0990000'), 'operator changes at info with operator and ORI')
  for (const secretValue of [bearer, bearer.split('.')[2]!, operatorToken().split('.')[2]!, 'not-a-token-but-secret-looking', 'A1234567', 'B7654321', '1 SECRET ST', person.person.lastName, person.person.address.street]) {
    t.notOk(text.includes(secretValue), `no ${secretValue.slice(0, 24)} in the logs`)
  }
})

t.test('request lines go through pino: pid and hostname on every line, request ids unique across instances, an incoming x-request-id kept', async (t) => {
  const seen = lines.length
  const other = await startGateway({ ...config, STATE_DIR: tempDir('state-2'), AUDIT_DIR: tempDir('audit-2') } as typeof config, createLogger('info', sink), { population: testPopulation() })
  t.teardown(() => other.close())
  const first = await call(gateway.url, 'GET', '/healthz')
  const second = await call(other.url, 'GET', '/healthz')
  const kept = await call(gateway.url, 'GET', '/healthz', { headers: { 'x-request-id': 'lb-7f3a:0042' } })
  const hostile = await call(gateway.url, 'GET', '/healthz', { headers: { 'x-request-id': 'x"},"level":60,"msg":"forged' } })
  const long = await call(gateway.url, 'GET', '/healthz', { headers: { 'x-request-id': 'a'.repeat(129) } })
  t.equal(kept.headers['x-request-id'], 'lb-7f3a:0042', 'a safe incoming id is kept and echoed')
  for (const answer of [first, second, hostile, long]) t.match(answer.headers['x-request-id'], /^[A-Za-z0-9_-]{8}-[0-9a-z]+$/, 'otherwise the gateway names the request')
  t.not(String(first.headers['x-request-id']).split('-')[0], String(second.headers['x-request-id']).split('-')[0], 'two instances never share a prefix')
  await new Promise((resolve) => setTimeout(resolve, 1100)) // pino's buffered destination flushes every second
  const requests = lines.slice(seen).map((line) => JSON.parse(line)).filter((record) => record.msg === 'request')
  t.equal(requests.length, 5)
  for (const record of requests) {
    t.equal(record.pid, process.pid)
    t.equal(record.hostname, hostname())
    t.equal(record.service, 'clets-gateway')
  }
  t.same(requests.map((record) => record.reqId).sort(), [first, second, kept, hostile, long].map((answer) => answer.headers['x-request-id']).sort(), 'each line names the id its answer carried')
  t.notOk(lines.slice(seen).some((line) => line.includes('forged')), 'a hostile incoming id never reaches a line')
})

t.test('a gateway process: stdout is JSON lines only (the banner is on stderr), and the start-up line names the pid to send SIGHUP', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', POLICY_DIR: policyDir, GATEWAY_JWT_SECRET: secret, STATE_DIR: tempDir('state-p'), AUDIT_DIR: tempDir('audit-p'), LOG_LEVEL: 'info' }
  const child = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd: tempDir('cwd-p'), env })
  t.teardown(() => child.child.kill('SIGKILL'))
  await call(child.url, 'GET', '/healthz')
  child.child.kill('SIGTERM')
  await once(child.child, 'exit')
  t.match(child.errors(), /CLETS query gateway listening on http:/)
  const stdout = child.output().split('\n').filter(Boolean)
  t.ok(stdout.length >= 3, `${stdout.length} lines on stdout`)
  const records = stdout.map((line) => JSON.parse(line) as Record<string, unknown>)
  const listening = records.find((record) => record.msg === 'gateway listening')
  t.equal(listening?.pid, child.child.pid)
  t.equal(listening?.reload, `kill -HUP ${child.child.pid}`)
  t.equal(listening?.url, child.url)
})
