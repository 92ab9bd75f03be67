// What people would otherwise put in front of these databases: a plain @fastify/http-proxy pass-through
// (fastify 5, @fastify/reply-from on undici). It forwards the same upstream request the gateway sends
// (POST of the query's subject to the DMV's search), so the two do the same network work; it checks
// nothing (no token, policy, state or audit). The one line of ours takes the subject out of the query.
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const upstream = process.env.DMV_URL
if (upstream === undefined) throw new Error('DMV_URL is required')

const app = Fastify({ logger: false, keepAliveTimeout: 65_000 })
await app.register(proxy, {
  upstream,
  prefix: '/v1/query',
  rewritePrefix: '/v1/driver-licenses/search',
  httpMethods: ['POST'],
  // With a preValidation hook the plugin lets fastify parse the JSON body; reply-from sends request.body.
  preValidation: async (request) => {
    request.body = (request.body as { subject: unknown }).subject
  },
  // The same pool size as the gateway's UPSTREAM_CONNECTIONS.
  undici: { connections: 64, headersTimeout: 5000, bodyTimeout: 5000, keepAliveTimeout: 30_000 },
})
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`listening on ${address}\n`)
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
