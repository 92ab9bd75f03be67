// The load generator, in its own process: autocannon against one target with a fixed request mix.
// argv: url, path, seconds, connections, requests file (JSON array of { body, headers }).
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

const [url, path, seconds, connections, requestsFile] = process.argv.slice(2) as [string, string, string, string, string]
const requests = JSON.parse(readFileSync(requestsFile, 'utf8')) as { body: string; headers: Record<string, string> }[]
const result = await autocannon({
  url: url + path,
  method: 'POST',
  connections: Number(connections),
  duration: Number(seconds),
  ...(process.env.BENCH_RATE === undefined ? {} : { overallRate: Number(process.env.BENCH_RATE) }),
  requests: requests.map((request) => ({ method: 'POST', path, body: request.body, headers: request.headers })),
})
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: result.statusCodeStats,
  })}\n`,
)
