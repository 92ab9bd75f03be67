// Logs: one structured line per request with its decision id, and never a token, a subject or a record.
import { Writable } from 'node:stream'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { startGateway } from '../src/gateway.js'
import { createLogger } from '../src/logger.js'
import { call, operatorToken, policyDir, query, secret, tempDir, testPopulation, token } from './helpers.js'

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
  await call(gateway.url, 'PUT', '/v1/agencies/CA0194200/sanction', { token: operatorToken(), body: { type: 'censure', reason: 'training' } })
  await call(gateway.url, 'GET', '/v1/policy', { headers: { authorization: 'Bearer not-a-token-but-secret-looking' } })
  await new Promise((resolve) => setTimeout(resolve, 100)) // async log writes
  const text = lines.join('\n')
  const records = lines.map((line) => JSON.parse(line))
  t.ok(records.some((record) => record.msg === 'request' && record.route === '/v1/query' && record.status === 200 && record.decisionId === allowed.body.decision.id))
  t.ok(records.some((record) => record.msg === 'request' && record.status === 403 && record.decisionId === denied.body.decision.id))
  t.ok(records.some((record) => record.msg === 'operator change' && record.operator === 'doj-operator-1' && record.ori === 'CA0194200'), 'operator changes at info with operator and ORI')
  for (const secretValue of [bearer, bearer.split('.')[2]!, operatorToken().split('.')[2]!, 'not-a-token-but-secret-looking', 'A1234567', 'B7654321', '1 SECRET ST', person.person.lastName, person.person.address.street]) {
    t.notOk(text.includes(secretValue), `no ${secretValue.slice(0, 24)} in the logs`)
  }
})
