// An open-loop load generator, in its own process: requests go out at a fixed arrival rate whatever the
// server does, and each one's latency is measured from the moment it was SCHEDULED to go out, not from
// when it was sent. A closed-loop tool (wrk, autocannon) sends the next request only when an answer
// arrives, so a server that stalls is sent less and its stall shows up in few samples: "coordinated
// omission". Here a stall delays every request scheduled during it, and each of those counts its wait.
// argv: url, path, rate (requests/s), seconds, requests file (JSON array of { body, headers }).
// Prints one JSON line: requests scheduled and answered, the rate achieved, p50/p90/p99/p99.9/max (ms),
// non-2xx and errors. Requests not answered within 10 s of the end count with their wait so far.
import { readFileSync } from 'node:fs'
import { Pool } from 'undici'

const [url, path, rateText, secondsText, requestsFile] = process.argv.slice(2) as [string, string, string, string, string]
const rate = Number(rateText)
const seconds = Number(secondsText)
const requests = JSON.parse(readFileSync(requestsFile, 'utf8')) as { body: string; headers: Record<string, string> }[]
// Enough connections that the generator never waits for one: at 2,000/s and a few ms each, a few dozen
// are in use; a stalled server gets more requests in flight, as terminals would send them.
const pool = new Pool(url, { connections: 512, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 })

const total = Math.round(rate * seconds)
const latencies = new Float64Array(total).fill(Number.NaN)
let answered = 0
let non2xx = 0
let errors = 0
let sent = 0
const interval = 1000 / rate

function send(index: number, scheduled: number): void {
  const request = requests[index % requests.length]!
  pool.request({ method: 'POST', path, headers: request.headers, body: request.body }).then(
    async (response) => {
      await response.body.dump()
      latencies[index] = performance.now() - scheduled
      answered++
      if (response.statusCode < 200 || response.statusCode >= 300) non2xx++
    },
    () => {
      latencies[index] = performance.now() - scheduled
      answered++
      errors++
    },
  )
}

// Warm the connections up first (a cold connect is not what a terminal pays per query).
await Promise.all(Array.from({ length: 32 }, (_, n) => pool.request({ method: 'POST', path, headers: requests[n % requests.length]!.headers, body: requests[n % requests.length]!.body }).then((response) => response.body.dump(), () => undefined)))

const start = performance.now()
// A 1 ms tick sends every request whose time has come, each stamped with its own scheduled time; a
// late tick (the generator's own event loop was busy) sends the overdue ones at once and they count
// the delay, so the generator's lag can only make the figures worse, never better.
await new Promise<void>((resolve) => {
  const tick = () => {
    const now = performance.now()
    while (sent < total && start + sent * interval <= now) {
      send(sent, start + sent * interval)
      sent++
    }
    if (sent < total) setTimeout(tick, 1)
    else resolve()
  }
  tick()
})
const scheduleEnd = performance.now()
const deadline = scheduleEnd + 10_000
while (answered < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
const end = performance.now()
for (let i = 0; i < total; i++) if (Number.isNaN(latencies[i]!)) latencies[i] = end - (start + i * interval)

const sorted = Float64Array.from(latencies).sort()
const at = (quantile: number) => sorted[Math.min(total - 1, Math.ceil(quantile * total) - 1)]!
const round = (ms: number) => Math.round(ms * 100) / 100
process.stdout.write(
  `${JSON.stringify({
    rate,
    scheduled: total,
    answered,
    achievedRate: Math.round((answered / ((end - start) / 1000)) * 10) / 10,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    p999: round(at(0.999)),
    max: round(sorted[total - 1]!),
    non2xx,
    errors: errors + (total - answered),
  })}\n`,
)
await pool.destroy()
