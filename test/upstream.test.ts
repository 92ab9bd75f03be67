// Forwarding failures: a database that is down answers 502, one that errs 502, one too slow 504.
// Each failure is audited as the query's outcome and counted; the gateway stays up.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { request as undiciRequest } from 'undici'
import { namesAMemberTwice } from '../src/upstream/pools.js'
import { call, ledgerRecords, query, startTestGateway, token, type Answer, type TestGateway } from './helpers.js'

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

const servers: Server[] = [failing, garbled, hanging]
t.teardown(() => {
  for (const server of servers) {
    server.closeAllConnections()
    server.close()
  }
})

const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

/**
 * What the user sees of a failed forward: the answer, its query.outcome record and the error counter.
 * The gateway is closed before its ledger is read: closing flushes the outcome record, which is
 * appended after the answer has gone out.
 */
async function expectAuditedFailure(t: Test, gw: TestGateway, answer: Answer, status: number, code: string): Promise<void> {
  t.equal(answer.status, status)
  t.equal(answer.body.error?.code, code)
  const id = answer.headers['x-decision-id']
  t.ok(id, 'the decision was made and recorded before forwarding')
  const metrics = await call(gw.url, 'GET', '/metrics')
  t.match(metrics.body, new RegExp(`gateway_upstream_errors_total\\{database="dmv.driver_license",code="${code}"\\} 1`))
  t.equal((await call(gw.url, 'GET', '/healthz')).status, 200, 'the gateway is still up')
  await gw.close()
  const records = ledgerRecords(gw.auditDir).filter((record) => record.id === id)
  t.match(records, [{ type: 'query.decision', outcome: 'allow' }, { type: 'query.outcome', status, code, recordCount: 0 }])
}

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
    await expectAuditedFailure(t, gw, await query(gw.url, body), status, code)
  })
}

/** How a misbehaving database's answer ended: sent in full, or cut off by the gateway after `written` bytes. */
interface Delivery {
  readonly complete: boolean
  readonly written: number
}

/**
 * A database that misbehaves while it answers: `answer` writes the response, and each delivery is
 * reported when the connection or the response closes, so a test can see whether the gateway read
 * the whole answer or cut it off.
 */
async function misbehaving(answer: (response: ServerResponse, request: IncomingMessage) => void): Promise<{ url: string; nextDelivery(): Promise<Delivery> }> {
  const server = createServer((request, response) => {
    request.resume()
    let written = 0
    const write = response.write.bind(response) as (chunk: string | Buffer) => boolean
    response.write = ((chunk: string | Buffer) => {
      written += Buffer.byteLength(chunk)
      return write(chunk)
    }) as typeof response.write
    response.on('close', () => server.emit('delivery', { complete: response.writableFinished, written }))
    answer(response, request)
  })
  servers.push(server)
  return { url: await listen(server), nextDelivery: async () => ((await once(server, 'delivery')) as [Delivery])[0] }
}

/** A database that answers this text. */
const answering = (text: string) => (response: ServerResponse) => {
  response.writeHead(200, { 'content-type': 'application/json' })
  response.end(text)
}

/** Writes `size` bytes of one valid records answer as fast as the connection takes them. */
function hugeAnswer(size: number, declareLength: boolean) {
  return (response: ServerResponse) => {
    const head = '{"records":[{"padding":"'
    const tail = '"}]}'
    response.writeHead(200, { 'content-type': 'application/json', ...(declareLength ? { 'content-length': String(size) } : {}) })
    response.write(head)
    const padding = Buffer.alloc(1024 * 1024, 'x')
    let left = size - head.length - tail.length
    const pump = () => {
      while (left > 0 && !response.destroyed) {
        const length = Math.min(left, padding.length)
        left -= length
        if (!response.write(padding.subarray(0, length))) {
          response.once('drain', pump)
          return
        }
      }
      if (!response.destroyed) response.end(tail)
    }
    pump()
  }
}

const answerSizeLimit = { UPSTREAM_MAX_ANSWER_BYTES: String(64 * 1024) }
const hugeSize = 32 * 1024 * 1024

t.test('bug: a huge answer was read whole (150 MB took the gateway to 1 GB); past the size limit it is cut off: 502 upstream_too_large', async (t) => {
  const database = await misbehaving(hugeAnswer(hugeSize, false))
  const gw = await startTestGateway({ env: { DMV_URL: database.url, ...answerSizeLimit } })
  t.teardown(() => gw.close())
  const delivered = database.nextDelivery()
  const answer = await query(gw.url, body)
  const delivery = await delivered
  t.notOk(delivery.complete, 'the database could not send the whole answer: the gateway closed the connection')
  t.ok(delivery.written < hugeSize, `the database wrote ${delivery.written} of ${hugeSize} bytes before the connection closed`)
  await expectAuditedFailure(t, gw, answer, 502, 'upstream_too_large')
})

t.test('an answer that declares a length past the limit is refused on its headers, without waiting for the body', async (t) => {
  // The body never comes: a gateway that only counted bytes as they stream would wait for them until
  // its deadline and answer 504.
  const database = await misbehaving((response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(150 * 1024 * 1024) })
    response.write('{"records":[')
  })
  const gw = await startTestGateway({ env: { DMV_URL: database.url, UPSTREAM_TIMEOUT_MS: '10000', ...answerSizeLimit } })
  t.teardown(() => gw.close())
  const delivered = database.nextDelivery()
  const answer = await query(gw.url, body)
  t.notOk((await delivered).complete, 'the connection was closed')
  await expectAuditedFailure(t, gw, answer, 502, 'upstream_too_large')
})

t.test('an answer within the limit goes through, the limit is on the answer and not on each chunk', async (t) => {
  const size = 60 * 1024
  const database = await misbehaving(hugeAnswer(size, false))
  const gw = await startTestGateway({ env: { DMV_URL: database.url, ...answerSizeLimit } })
  t.teardown(() => gw.close())
  // A criminal investigation: the answer goes out whole, as the database sent it (a traffic stop's
  // projection would keep none of its padding).
  const answer = await query(gw.url, { ...body, purpose: 'criminal_investigation', caseNumber: '24-001234' })
  t.equal(answer.status, 200)
  t.equal(answer.body.records[0].padding.length, size - '{"records":[{"padding":""}]}'.length)
})

t.test('bug: a dripping database held a query 16.9 s against a 3 s timeout; UPSTREAM_TIMEOUT_MS bounds the whole answer: 504', async (t) => {
  // One byte every 100 ms: never a gap as long as the timeout, and the whole answer takes 5 s.
  const database = await misbehaving((response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write('{"records":[')
    let drops = 50
    const drip = setInterval(() => {
      if (response.destroyed) clearInterval(drip)
      else if (--drops > 0) response.write(' ')
      else {
        clearInterval(drip)
        response.end(']}')
      }
    }, 100)
  })
  const timeoutMs = 1000
  const gw = await startTestGateway({ env: { DMV_URL: database.url, UPSTREAM_TIMEOUT_MS: String(timeoutMs) } })
  t.teardown(() => gw.close())
  const delivered = database.nextDelivery()
  const started = performance.now()
  const answer = await query(gw.url, body)
  const elapsed = performance.now() - started
  t.ok(elapsed < timeoutMs + 2000, `answered after ${Math.round(elapsed)} ms, within the ${timeoutMs} ms deadline and a generous margin`)
  t.notOk((await delivered).complete, 'the gateway stopped reading and closed the connection')
  await expectAuditedFailure(t, gw, answer, 504, 'upstream_timeout')
})

t.test('the deadline counts the wait for a free connection: a query queued behind a slow one answers 504 at its own deadline', async (t) => {
  // One connection, a database that takes 1.2 s for each answer, a 2 s deadline. The first query is
  // answered at 1.2 s; the second waits for the connection until then, and its answer would come at
  // 2.4 s, past the deadline counted from when the gateway forwarded it.
  let received = 0
  const database = await misbehaving((response) => {
    received++
    setTimeout(answering('{"records":[]}'), 1200, response)
  })
  const gw = await startTestGateway({ env: { DMV_URL: database.url, UPSTREAM_TIMEOUT_MS: '2000', UPSTREAM_CONNECTIONS: '1' } })
  t.teardown(() => gw.close())
  const answers = await Promise.all([query(gw.url, body), query(gw.url, body)])
  t.same(answers.map((answer) => answer.status).sort(), [200, 504])
  t.equal(answers.find((answer) => answer.status === 504)?.body.error.code, 'upstream_timeout')
  t.equal(received, 2, 'the second query was sent when the connection came free, with what was left of its time')
})

t.test('bug: a duplicated "records" key passed the check (JSON.parse keeps the last) and both arrays were forwarded: 502 upstream_error', async (t) => {
  const smuggled = [
    '{"records":["not a record"],"records":[]}',
    '{"records":[{"licenseNumber":"A7654321"}],"records":[{"licenseNumber":"A1234567"}]}',
    '{"records":[],"records":[]}',
  ]
  for (const text of smuggled) {
    const database = await misbehaving(answering(text))
    const gw = await startTestGateway({ env: { DMV_URL: database.url } })
    t.teardown(() => gw.close())
    await expectAuditedFailure(t, gw, await query(gw.url, body), 502, 'upstream_error')
  }
})

t.test('the records forwarded are exactly the array that was checked; whitespace around the members is fine', async (t) => {
  const database = await misbehaving(answering('\ufeff\n { "records" :\t[ {"licenseNumber":"A1234567"} ] }\r\n'))
  const gw = await startTestGateway({ env: { DMV_URL: database.url } })
  t.teardown(() => gw.close())
  const answer = await query(gw.url, body)
  t.equal(answer.status, 200)
  t.same(answer.body.records, [{ licenseNumber: 'A1234567' }])
})

t.test('an informational answer (103 Early Hints) before the 200 is not taken for the answer', async (t) => {
  const database = await misbehaving((response) => {
    response.writeEarlyHints({ link: '</records>; rel=preload' })
    answering('{"records":[{"licenseNumber":"A1234567"}]}')(response)
  })
  const gw = await startTestGateway({ env: { DMV_URL: database.url } })
  t.teardown(() => gw.close())
  const answer = await query(gw.url, body)
  t.equal(answer.status, 200)
  t.same(answer.body.records, [{ licenseNumber: 'A1234567' }])
})

t.test('a record that names a member twice means what its reader decides: refused 502 upstream_error, audited and counted, on both answer paths', async (t) => {
  const ambiguous = [
    // JSON.parse keeps REVOKED, a parser that keeps the first member reads VALID.
    '{"records":[{"licenseNumber":"A1234567","status":"VALID","status":"REVOKED"}]}',
    // Deeper, in a later record, and the same name spelled with an escape.
    '{"records":[{"licenseNumber":"A1234567"},{"licenseNumber":"B1","person":{"lastName":"DOE","address":{"zip":"1","zip":"2"}}}]}',
    '{"records":[{"licenseNumber":"A1234567","status":"VALID","st\\u0061tus":"REVOKED"}]}',
    '{ "records" : [ { "licenseNumber" : "A1234567" , "aliases" : [ { "n" : 1 , "n" : 2 } ] } ] }',
  ]
  // traffic_enforcement projects the record (re-serialized); criminal_investigation at LAPD sends it whole.
  const purposes = [body, { ...body, purpose: 'criminal_investigation', caseNumber: 'LA-2026-1' }]
  for (const text of ambiguous) {
    for (const query_ of purposes) {
      const database = await misbehaving(answering(text))
      const gw = await startTestGateway({ env: { DMV_URL: database.url } })
      t.teardown(() => gw.close())
      await expectAuditedFailure(t, gw, await query(gw.url, query_), 502, 'upstream_error')
    }
  }
})

t.test('a name that repeats only across objects, or only inside strings, is no duplicate: forwarded as sent', async (t) => {
  const plain = [
    '[{"licenseNumber":"A1234567","status":"VALID"},{"licenseNumber":"A1234567","status":"VALID"}]',
    '[{"status":{"status":"VALID"},"note":"status\\":\\"REVOKED\\", \\\\","n":"\\\\"}]',
    '[ {\n  "a" : "x:y" ,\n  "b\\"" : [ {"a" : 1} , {"a" : 2} ] ,\n  "": 0, "__proto__": {"a": 1}\n} ]',
    '[]',
  ]
  for (const records of plain) {
    const database = await misbehaving(answering(`{"records":${records}}`))
    const gw = await startTestGateway({ env: { DMV_URL: database.url } })
    t.teardown(() => gw.close())
    const answer = await call(gw.url, 'POST', '/v1/query', { token: token(), body: { ...body, purpose: 'criminal_investigation', caseNumber: 'LA-2026-1' } })
    t.equal(answer.status, 200)
    t.equal(answer.body.records.length, JSON.parse(records).length)
    const raw = await undiciRequest(`${gw.url}/v1/query`, { method: 'POST', headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...body, purpose: 'criminal_investigation', caseNumber: 'LA-2026-2' }) })
    t.ok((await raw.body.text()).endsWith(`"records":${records}}`), 'the text as the database sent it')
  }
})

t.test('the duplicate check agrees with a parser that lists every member, on any JSON with any whitespace', async (t) => {
  const whitespace = fc.constantFrom('', ' ', '\n', '\t ', '\r\n  ')
  /** A JSON text of `value` whose objects may repeat a member (with a second value) and whose names may be escaped. */
  const spelled = (value: unknown): fc.Arbitrary<{ text: string; repeats: boolean }> => {
    if (Array.isArray(value)) {
      return fc.tuple(fc.tuple(...value.map(spelled)), whitespace).map(([items, space]) => ({ text: `[${space}${items.map((item) => item.text).join(`${space},`)}]`, repeats: items.some((item) => item.repeats) }))
    }
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value)
      return fc
        .tuple(fc.tuple(...entries.map(([, member]) => spelled(member))), fc.array(fc.nat(Math.max(entries.length - 1, 0)), { maxLength: entries.length === 0 ? 0 : 2 }), fc.boolean(), whitespace)
        .map(([members, repeated, escape, space]) => {
          const name = (key: string) => (escape && key.length > 0 ? `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(key.slice(1)).slice(1)}` : JSON.stringify(key))
          const texts = entries.map(([key], index) => `${name(key)}${space}:${space}${members[index]!.text}`)
          for (const index of repeated) texts.push(`${JSON.stringify(entries[index]![0])}:${space}"again"`)
          return { text: `{${space}${texts.join(`,${space}`)}}`, repeats: repeated.length > 0 || members.some((member) => member.repeats) }
        })
    }
    return fc.constant({ text: JSON.stringify(value), repeats: false })
  }
  fc.assert(
    fc.property(fc.array(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }), { maxLength: 3 }).chain(spelled), ({ text, repeats }) => {
      t.equal(namesAMemberTwice(text, JSON.parse(text)), repeats, text)
      return true
    }),
    { seed: 20, numRuns: 300 },
  )
})

t.test('records nested deeper than the check can walk are refused 502 upstream_error; the gateway stays up', async (t) => {
  const depth = 200_000
  const database = await misbehaving(answering(`{"records":[{"licenseNumber":"A1234567","a":${'['.repeat(depth)}${']'.repeat(depth)}}]}`))
  const gw = await startTestGateway({ env: { DMV_URL: database.url } })
  t.teardown(() => gw.close())
  await expectAuditedFailure(t, gw, await query(gw.url, { ...body, purpose: 'criminal_investigation', caseNumber: 'LA-2026-1' }), 502, 'upstream_error')
})
