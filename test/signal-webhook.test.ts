// The signal webhook (SIGNAL_WEBHOOK_URL): a raised signal is POSTed to a real receiving server, retried
// after a failure, carries ids and never a subject; a webhook that is down is counted and changes no answer.
import { createServer, type IncomingMessage } from 'node:http'
import t from 'tap'
import { freePort, ledgerRecords, policyDir, query, startTestGateway, testPopulation, token } from './helpers.js'

// The shipped signals.yaml: a login from two terminals within 5 minutes is a shared_login signal.
const policies = policyDir
const licence = testPopulation().licenses[7]!
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: licence.licenseNumber } }

/** One login from two terminals: a shared_login signal. */
async function shareLogin(url: string) {
  const answers = [await query(url, dl, token({ sub: 'shared-1', terminal: 'T01' })), await query(url, dl, token({ sub: 'shared-1', terminal: 'T02' }))]
  return answers
}

t.test('a raised signal reaches the webhook, after one failed try, with ids and no subject', async (t) => {
  const received: { body: any; type: string | undefined }[] = []
  let tries = 0
  const server = createServer((request: IncomingMessage, response) => {
    let text = ''
    request.on('data', (chunk) => (text += chunk))
    request.on('end', () => {
      tries++
      if (tries === 1) return response.writeHead(503).end() // the receiver is briefly unavailable
      received.push({ body: JSON.parse(text), type: request.headers['content-type'] })
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const gw = await startTestGateway({ env: { POLICY_DIR: policies, SIGNAL_WEBHOOK_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}/signals`, SIGNAL_WEBHOOK_TIMEOUT_MS: '2000', SIGNAL_WEBHOOK_RETRIES: '2' } })
  const answers = await shareLogin(gw.url)
  await gw.close() // waits for the delivery under way
  t.same(answers.map((answer) => answer.status), [200, 200])
  const signal = ledgerRecords(gw.auditDir).find((record) => record.type === 'signal.raised')
  t.equal(tries, 2, 'tried again after the 503')
  t.same(received, [{ type: 'application/json', body: { signal: signal.id, kind: 'shared_login', ori: 'CA0194200', sub: 'shared-1', decisionIds: signal.decisionIds, blocked: false, time: received[0]?.body.time } }])
  t.notMatch(JSON.stringify(received), new RegExp(`${licence.licenseNumber}|${licence.person.lastName}`), 'no subject data')
  t.equal((await gw.gateway.deps.metrics.signalWebhookFailures.get()).values[0]?.value ?? 0, 0)
})

t.test('a webhook that is down is counted, and the answers are as without it', async (t) => {
  const gw = await startTestGateway({ env: { POLICY_DIR: policies, SIGNAL_WEBHOOK_URL: `http://127.0.0.1:${await freePort()}/signals`, SIGNAL_WEBHOOK_TIMEOUT_MS: '500', SIGNAL_WEBHOOK_RETRIES: '1' } })
  const answers = await shareLogin(gw.url)
  await gw.close()
  t.same(answers.map((answer) => [answer.status, answer.body.records.length]), [[200, 1], [200, 1]])
  t.equal(ledgerRecords(gw.auditDir).filter((record) => record.type === 'signal.raised').length, 1, 'the signal is in the ledger all the same')
  t.equal((await gw.gateway.deps.metrics.signalWebhookFailures.get()).values[0]?.value, 1, 'gateway_signal_webhook_failures_total')
})
