// The baseline for the gateway: a bare pass-through proxy doing the same upstream request with the
// same undici Pool settings, and nothing else (no auth, validation, policy, state or audit).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

const upstream = process.env.DMV_URL
if (upstream === undefined) throw new Error('DMV_URL is required')
const pool = new Pool(upstream, { connections: 64, headersTimeout: 5000, bodyTimeout: 5000, keepAliveTimeout: 30_000 })
const headers = { 'content-type': 'application/json' }

const server = createServer({ keepAliveTimeout: 65_000 }, (request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const query = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { subject: unknown }
    pool
      .request({ method: 'POST', path: '/v1/driver-licenses/search', headers, body: JSON.stringify(query.subject) })
      .then(async (answer) => {
        const body = await answer.body.text()
        response.writeHead(answer.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        response.end(body)
      })
      .catch(() => {
        response.writeHead(502)
        response.end()
      })
  })
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`))
process.on('SIGTERM', () => server.close(() => void pool.close().then(() => process.exit(0))))
