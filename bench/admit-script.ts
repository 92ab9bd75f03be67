// The Redis store's admit script alone: what one query's admission costs inside Redis (the script's
// own CPU, from INFO commandstats) and in the gateway's process (ioredis and the reply's handling, from
// process.cpuUsage), with none of the HTTP around it, so a change to the script can be measured on a
// busy machine where throughput moves by ±15%: CPU time per query moves far less.
//   node dist/bench/admit-script.js               this code
//   BENCH_STORE_MODULE=/path/to/other/dist/src/state/redis.js node dist/bench/admit-script.js   another build
// Load: bursts of 12 admits (the average batch of `npm run bench` d at 64 connections) by 50 officers of
// one agency, limits high enough that every query is admitted (the HSET path), none sanctioned unless
// BENCH_SANCTIONED=N sanctions the first N officers (this code only). BENCH_QUERIES (240000).
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { StateStore } from '../src/state/types.js'

const queries = Number(process.env.BENCH_QUERIES ?? 240_000)
const burst = 12
const officers = 50
const sanctioned = Number(process.env.BENCH_SANCTIONED ?? 0)
const modulePath = process.env.BENCH_STORE_MODULE ?? '../src/state/redis.js'

const port = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = server.address() as { port: number }
    server.close(() => resolve(free))
  })
})
const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', mkdtempSync(join(tmpdir(), 'clets-admit-'))], { stdio: ['ignore', 'pipe', 'inherit'] })
process.on('exit', () => redisServer.kill('SIGKILL'))
await new Promise<void>((resolve, reject) => {
  let output = ''
  redisServer.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    if (output.includes('Ready to accept connections')) resolve()
  })
  redisServer.once('error', () => reject(new Error('redis-server did not start (apt-get install -y redis-server)')))
})
const url = `redis://127.0.0.1:${port}`
const raw = new Redis(url)

const { RedisStateStore } = (await import(modulePath)) as { RedisStateStore: { open(options: { url: string; timeoutMs: number }): Promise<StateStore> } }
const store = await RedisStateStore.open({ url, timeoutMs: 5000 })
const ori = 'CA0194200'
const noAudit = async () => undefined
await store.register(ori, { name: 'LAPD', kind: 'local', monitored: false }, Date.now(), noAudit)
for (let n = 0; n < sanctioned; n++) {
  await store.sanctionOfficer(ori, `officer-${n}`, { type: 'suspension', scope: 'all', reason: 'bench', since: new Date().toISOString() }, Date.now(), noAudit)
}
const limits = { perUser: { limit: 1_000_000, windowSeconds: 60 }, perAgency: { limit: 100_000_000, windowSeconds: 60 } }
const keys = Array.from({ length: officers }, (_, n) => `user:${ori}:officer-${n}`)

async function run(count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += burst) {
    const admits: Promise<unknown>[] = []
    for (let n = 0; n < burst; n++) admits.push(store.admit(ori, keys[(sent + n) % officers]!, limits, Date.now()))
    await Promise.all(admits)
  }
}

await run(24_000) // warm-up: the script loaded, the code optimized
await raw.config('RESETSTAT')
const cpu = process.cpuUsage()
const started = performance.now()
await run(queries)
const seconds = (performance.now() - started) / 1000
const used = process.cpuUsage(cpu)
const stats = await raw.info('commandstats')
const script = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats)
const redisMicros = script === null ? NaN : Number(script[2]) / queries
process.stdout.write(
  `${modulePath === '../src/state/redis.js' ? 'this code' : modulePath}${sanctioned > 0 ? `, ${sanctioned} of ${officers} officers sanctioned` : ''}: ` +
    `${Math.round(queries / seconds)} admits/s, script ${redisMicros.toFixed(2)} µs of Redis CPU per query (${script?.[1]} calls), ` +
    `gateway process ${((used.user + used.system) / queries).toFixed(2)} µs CPU per query\n`,
)
await store.close()
raw.disconnect()
redisServer.kill('SIGKILL')
