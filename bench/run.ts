// `npm run bench`: the gateway against its baselines, each server in its own process and the load from
// another (autocannon, bench/load.ts), all on loopback:
//   a. the DMV backend directly;
//   b. a bare undici pass-through proxy doing the same upstream request (bench/bare-proxy.ts);
//   e. @fastify/http-proxy, the pass-through people would otherwise put in front of the databases,
//      forwarding the same upstream request (bench/fastify-proxy.ts);
//   c. the gateway with the embedded store and the full audit ledger, on a realistic mix
//      (90% allowed licence lookups, 10% immigration lookups on DMV that are denied);
//   c100. the gateway with every query allowed and forwarded (the proxy's exact work, plus ours): traffic
//      stops, so every answer is trimmed to the traffic-stop projection (policies/projections.yaml);
//   c100-full. the same with every answer whole (criminal investigations with a case number): the path
//      that forwards the database's text as it came, so c100 against it is what the projection costs;
//   c-noaudit. c without the audit ledger (bench/gateway-without-ledger.ts; production has no such
//      switch), so the table shows what the ledger costs the gateway in the same run;
//   d. the gateway with the Redis store (REDIS_URL, a redis-server started here), on the same mix as c;
//      Redis's own command counters (INFO commandstats) over the run show the script calls per query.
// Each run measures every target once; the table gives medians over BENCH_RUNS runs of req/s, p50 and
// p99 latency, the server process's CPU microseconds per request (from /proc/PID/stat), and the share of
// the run its main thread was on a CPU (/proc/PID/task/PID/stat): near 100% the server is CPU-bound and
// req/s is its throughput; lower, it spent part of the run waiting with nothing to do.
// Load is closed-loop: each connection sends its next request when the answer to the last one arrives.
// The default of 64 connections keeps every gateway target CPU-bound; at 32, the Redis-backed gateway
// (one more round trip per query) waits part of the time, and the run measures its latency rather
// than its throughput.
// redis-server's own CPU per query of d is read from its /proc/PID/stat over d's runs.
// Then open loop (bench/open-loop.ts): a fixed arrival rate (BENCH_OPEN_RATE, 2,000 queries/s) against
// each of BENCH_OPEN_TARGETS (d,c,e), latency measured from each request's scheduled time (free of
// coordinated omission): p50, p99, p99.9, medians of the runs.
// Then the ledger on its own (bench/ledger.ts): durable records per second from 1,024 concurrent appenders.
// Settings: BENCH_SIGNALS (on: the shipped signals.yaml; off: none), BENCH_RUNS (5), BENCH_SECONDS (10), BENCH_CONNECTIONS (64), BENCH_TARGETS (all: a,b,e,c,c100,c100-full,c-noaudit,d),
// BENCH_OPEN_RATE (2000), BENCH_OPEN_TARGETS (d,c,e; empty = none), BENCH_LOG_LEVEL (the gateway's LOG_LEVEL, info).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { generatePopulation } from '../src/backends/population.js'
import { mintToken } from '../src/http/auth.js'
import { benchLedger } from './ledger.js'

const root = new URL('../..', import.meta.url).pathname
const runs = Number(process.env.BENCH_RUNS ?? 5)
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const secret = 'bench-secret-bench-secret-bench-secret'
const work = mkdtempSync(join(tmpdir(), 'clets-bench-'))
const children: ChildProcess[] = []
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

/**
 * Starts a server process with its stdout going to a log file (as a deployment's would; a pipe read by
 * this process would add a reader competing for the same cores) and resolves with the file's first
 * match of `pattern`.
 */
async function start(name: string, script: string, env: Record<string, string>, pattern: RegExp, nodeArgs: readonly string[] = []): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const log = join(work, `${name.replace(/\W+/g, '-')}.log`)
  const out = openSync(log, 'w')
  const child = spawn(process.execPath, [...nodeArgs, script.startsWith('/') ? script : join(root, script)], {
    cwd: work,
    env: { ...process.env, ...env },
    // stdout (JSON log lines) and stderr (the gateway's banner, with its URL) both to the file.
    stdio: ['ignore', out, out],
  })
  children.push(child)
  let exited: number | null | undefined
  child.once('exit', (code) => (exited = code))
  for (let waited = 0; waited < 60_000; waited += 50) {
    const match = pattern.exec(readFileSync(log, 'utf8').slice(0, 65_536))
    if (match !== null) return { child, match }
    if (exited !== undefined) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${name} was not ready:\n${readFileSync(log, 'utf8').slice(0, 4096)}`)
}

/** User+system CPU seconds a process (`/proc/PID/stat`) or one of its threads (`/proc/PID/task/TID/stat`) has used so far. */
function cpuSeconds(statFile: string): number {
  const fields = readFileSync(statFile, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

interface Measure {
  rps: number
  p50: number
  p99: number
  cpuMicros: number
  /** Share of the run's wall time the process's main thread (its event loop) was on a CPU. */
  mainBusy: number
  requests: number
  non2xx: number
  errors: number
  redisPerQuery?: number
  /** redis-server's own CPU (user+system) per query answered, over the run. */
  redisMicros?: number
}

/** wrk (C, little CPU of its own) when installed, else autocannon (Node). */
const tool = process.env.BENCH_TOOL ?? (spawnSync('wrk', ['--version']).error === undefined ? 'wrk' : 'autocannon')

async function load(url: string, path: string, requestsFile: string, duration: number): Promise<Omit<Measure, 'cpuMicros' | 'mainBusy'>> {
  const child =
    tool === 'wrk'
      ? spawn('wrk', ['-t', '1', '-c', String(connections), '-d', `${duration}s`, '--latency', '-s', join(root, 'bench/wrk.lua'), url], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, WRK_REQUESTS: requestsFile.replace(/\.json$/, '.tsv') },
        })
      : spawn(process.execPath, [join(root, 'dist/bench/load.js'), url, path, String(duration), String(connections), requestsFile], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => (output += chunk))
  await new Promise((resolve) => child.once('exit', resolve))
  const json = output.split('\n').find((line) => line.startsWith('{'))
  if (json === undefined) throw new Error(`${tool} printed no result:\n${output}`)
  return JSON.parse(json) as Omit<Measure, 'cpuMicros' | 'mainBusy'>
}

const median = (values: number[]) => {
  const sorted = [...values].sort((left, right) => left - right)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Node options from a space-separated environment variable (profiling flags for one server). */
const nodeArgs = (name: string) => (process.env[name] ?? '').split(' ').filter((arg) => arg !== '')

// --- the servers -------------------------------------------------------------------------------------
const backends = await start('backends', 'dist/src/backends/main.js', { DMV_PORT: '0', CRIMINAL_HISTORY_PORT: '0', HOST: '127.0.0.1' }, /DMV\s+(http:\S+)[\s\S]*criminal history\s+(http:\S+)/)
const dmvUrl = backends.match[1]!
const criminalHistoryUrl = backends.match[2]!
const proxy = await start('bare proxy', 'dist/bench/bare-proxy.js', { DMV_URL: dmvUrl }, /listening on (http:\S+)/)
// BENCH_PROXY_NODE_ARGS: node options for the @fastify/http-proxy pass-through (e), to profile it the same way.
const proxyNodeArgs = nodeArgs('BENCH_PROXY_NODE_ARGS')
const fastifyProxy = await start('fastify proxy', 'dist/bench/fastify-proxy.js', { DMV_URL: dmvUrl }, /listening on (http:\S+)/, proxyNodeArgs)

const policyDir = join(work, 'policies')
cpSync(join(root, 'policies'), policyDir, { recursive: true })
copyFileSync(join(root, 'bench/policies/limits.yaml'), join(policyDir, 'limits.yaml'))
// Issue 13's budget (signals within 5% of the hot path's cost): the shipped signals.yaml is on; run once
// more with BENCH_SIGNALS=off (no signals.yaml: no signal counted, the outcome records still hashed) and
// compare c and d.
if (process.env.BENCH_SIGNALS === 'off') rmSync(join(policyDir, 'signals.yaml'))
else if (process.env.BENCH_SIGNALS !== undefined && process.env.BENCH_SIGNALS !== 'on') throw new Error('BENCH_SIGNALS: on or off')
const gatewayEnv = {
  PORT: '0',
  DMV_URL: dmvUrl,
  CRIMINAL_HISTORY_URL: criminalHistoryUrl,
  POLICY_DIR: policyDir,
  STATE_DIR: join(work, 'state'),
  AUDIT_DIR: join(work, 'audit'),
  GATEWAY_JWT_SECRET: secret,
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
}
// BENCH_GATEWAY_NODE_ARGS: node options for the embedded-store gateway (c), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
// (the gateway is then stopped with SIGTERM and awaited at the end, so a profile gets written).
const gatewayNodeArgs = nodeArgs('BENCH_GATEWAY_NODE_ARGS')
const gateway = await start('gateway', 'dist/src/main.js', gatewayEnv, /listening on (http:\S+)/, gatewayNodeArgs)
const gatewayNoAudit = await start('gateway-noaudit', 'dist/bench/gateway-without-ledger.js', { ...gatewayEnv, STATE_DIR: join(work, 'state-noaudit'), AUDIT_DIR: join(work, 'audit-noaudit') }, /listening on (http:\S+)/)

// A/B work: `v` is a second embedded-store gateway on the 100%-allowed load, with BENCH_VARIANT_ENV
// (space-separated NAME=value) over c's settings and BENCH_VARIANT_MAIN (another build's main.js) if
// given; compared with c100 run by run (BENCH_TARGETS=c100,v).
const variantEnv = Object.fromEntries((process.env.BENCH_VARIANT_ENV ?? '').split(' ').filter((pair) => pair.includes('=')).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
const variant = (process.env.BENCH_TARGETS ?? '').split(',').includes('v')
  ? await start('gateway-variant', process.env.BENCH_VARIANT_MAIN ?? 'dist/src/main.js', { ...gatewayEnv, STATE_DIR: join(work, 'state-v'), AUDIT_DIR: join(work, 'audit-v'), ...variantEnv }, /listening on (http:\S+)/)
  : null

// The Redis-backed gateway: its own redis-server (no persistence needed for a benchmark).
const redisPort = 20_000 + Math.floor(Math.random() * 20_000)
const redisServer = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' })
children.push(redisServer)
const redisUrl = `redis://127.0.0.1:${redisPort}`
// The default client queues commands until it connects (it retries every few ms while the server starts).
const redis = new Redis(redisUrl, { maxRetriesPerRequest: null })
redis.on('error', () => undefined)
await Promise.race([
  redis.ping(),
  new Promise((_, reject) => setTimeout(() => reject(new Error('redis-server did not start (apt-get install -y redis-server)')), 10_000)),
])
// The sample agencies, as a deployment creates them: a gateway never seeds a Redis.
execFileSync(process.execPath, [join(root, 'bin/gatewayctl.js'), 'state', 'init', '--samples', '--operator', 'bench'], {
  env: { ...process.env, ...gatewayEnv, REDIS_URL: redisUrl, STATE_DIR: join(work, 'state-redis'), AUDIT_DIR: join(work, 'audit-redis') },
  stdio: 'ignore',
})
const redisGateway = await start(
  'gateway-redis',
  'dist/src/main.js',
  { ...gatewayEnv, REDIS_URL: redisUrl, STATE_DIR: join(work, 'state-redis'), AUDIT_DIR: join(work, 'audit-redis') },
  /listening on (http:\S+)/,
)

/**
 * Commands clients sent Redis, from its own counters: scripts (EVALSHA/EVAL), and the other commands
 * the gateway sends on its own (not EXISTS, GET, SET, HGET: the script runs those inside Redis, so
 * counting them would count no round trip).
 */
async function redisCommands(): Promise<number> {
  const info = await redis.info('commandstats')
  let calls = 0
  // Client commands (the commands a script runs are counted too, so SCARD, SADD... are left out).
  for (const match of info.matchAll(/^cmdstat_(evalsha|eval|ping|hgetall|smembers|multi|exec):calls=(\d+)/gm)) calls += Number(match[2])
  return calls
}

// --- the request mixes -------------------------------------------------------------------------------
const population = generatePopulation(100_000, 54)
const officers = Array.from({ length: 50 }, (_, n) => mintToken(secret, 'doj-idp', 'clets-gateway', { sub: `officer-${n}`, ori: 'CA0194200', roles: ['terminal'], ttlSeconds: 43_200 }))
const json = { 'content-type': 'application/json' }
const licences = Array.from({ length: 1000 }, (_, n) => population.licenses[(n * 97) % population.licenses.length]!.licenseNumber)
const query = (n: number, purpose: string) => ({
  body: JSON.stringify({ database: 'dmv.driver_license', purpose, subject: { licenseNumber: licences[n] }, ...(purpose === 'traffic_enforcement' ? {} : { caseNumber: `24-${n}` }) }),
  headers: { ...json, authorization: `Bearer ${officers[n % officers.length]}` },
})
const files = {
  direct: licences.map((licenseNumber) => ({ body: JSON.stringify({ licenseNumber }), headers: json })),
  proxy: licences.map((_, n) => query(n, 'traffic_enforcement')),
  mix: licences.map((_, n) => query(n, n % 10 === 9 ? 'immigration_enforcement' : 'traffic_enforcement')),
  allowed: licences.map((_, n) => query(n, 'traffic_enforcement')),
  allowedFull: licences.map((_, n) => query(n, 'criminal_investigation')),
}
for (const [name, requests] of Object.entries(files)) {
  writeFileSync(join(work, `${name}.json`), JSON.stringify(requests))
  const path = name === 'direct' ? '/v1/driver-licenses/search' : '/v1/query'
  writeFileSync(join(work, `${name}.tsv`), requests.map((request) => `POST\t${path}\t${(request.headers as Record<string, string>).authorization ?? '-'}\t${request.body}`).join('\n'))
}

const selected = (process.env.BENCH_TARGETS ?? 'a,b,e,c,c100,c100-full,c-noaudit,d').split(',')
const targets = [
  { key: 'a', label: 'a. DMV backend, direct', url: dmvUrl, path: '/v1/driver-licenses/search', file: 'direct', pid: backends.child.pid! },
  { key: 'b', label: 'b. bare undici proxy', url: proxy.match[1]!, path: '/v1/query', file: 'proxy', pid: proxy.child.pid! },
  { key: 'e', label: 'e. @fastify/http-proxy pass-through', url: fastifyProxy.match[1]!, path: '/v1/query', file: 'proxy', pid: fastifyProxy.child.pid! },
  { key: 'c', label: 'c. gateway, 90% allowed / 10% denied', url: gateway.match[1]!, path: '/v1/query', file: 'mix', pid: gateway.child.pid! },
  { key: 'd', label: 'd. gateway + Redis store, 90/10 mix', url: redisGateway.match[1]!, path: '/v1/query', file: 'mix', pid: redisGateway.child.pid! },
  { key: 'c-noaudit', label: 'c-noaudit. c without the audit ledger', url: gatewayNoAudit.match[1]!, path: '/v1/query', file: 'mix', pid: gatewayNoAudit.child.pid! },
  { key: 'c100', label: 'c100. gateway, 100% allowed (traffic stops: trimmed answers)', url: gateway.match[1]!, path: '/v1/query', file: 'allowed', pid: gateway.child.pid! },
  { key: 'c100-full', label: 'c100-full. gateway, 100% allowed (whole records)', url: gateway.match[1]!, path: '/v1/query', file: 'allowedFull', pid: gateway.child.pid! },
  ...(variant === null ? [] : [{ key: 'v', label: `v. variant (${process.env.BENCH_VARIANT_MAIN ?? 'this build'} ${process.env.BENCH_VARIANT_ENV ?? ''}), 100% allowed`, url: variant.match[1]!, path: '/v1/query', file: 'allowed', pid: variant.child.pid! }]),
].filter((target) => selected.includes(target.key))

// --- warm up, then measure ---------------------------------------------------------------------------
for (const target of targets) await load(target.url, target.path, join(work, `${target.file}.json`), 2)
const results = new Map<string, Measure[]>(targets.map((target) => [target.key, []]))
// Machine speed drifts on a shared VM: odd runs go through the targets in one order and even runs in
// the other, so a drift weighs on every target alike; the targets compared with each other sit side by
// side (b, c, d, c-noaudit).
for (let run = 1; run <= runs; run++) {
  for (const target of run % 2 === 1 ? targets : [...targets].reverse()) {
    const processStat = `/proc/${target.pid}/stat`
    const mainThread = `/proc/${target.pid}/task/${target.pid}/stat`
    const commandsBefore = await redisCommands()
    const redisStat = `/proc/${redisServer.pid}/stat`
    const [before, mainBefore, redisBefore, started] = [cpuSeconds(processStat), cpuSeconds(mainThread), cpuSeconds(redisStat), performance.now()]
    const result = await load(target.url, target.path, join(work, `${target.file}.json`), seconds)
    const [cpu, main, wall] = [cpuSeconds(processStat) - before, cpuSeconds(mainThread) - mainBefore, (performance.now() - started) / 1000]
    const redisPerQuery = ((await redisCommands()) - commandsBefore) / result.requests
    const redisMicros = ((cpuSeconds(redisStat) - redisBefore) * 1e6) / result.requests
    results.get(target.key)!.push({ ...result, cpuMicros: (cpu * 1e6) / result.requests, mainBusy: main / wall, ...(target.key === 'd' ? { redisPerQuery, redisMicros } : {}) })
    process.stderr.write(`run ${run}/${runs} ${target.label}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}\n`)
  }
}

// --- open loop: a fixed arrival rate, latency from each request's scheduled time ----------------------
const openRate = Number(process.env.BENCH_OPEN_RATE ?? 2000)
const openTargets = (process.env.BENCH_OPEN_TARGETS ?? 'd,c,e').split(',').filter((key) => key !== '')
interface OpenMeasure { achievedRate: number; p50: number; p99: number; p999: number; max: number; non2xx: number; errors: number; answered: number }
const openResults = new Map<string, OpenMeasure[]>()
const allTargets = [
  { key: 'c', label: 'c. gateway, embedded store, 90/10 mix', url: gateway.match[1]!, file: 'mix' },
  { key: 'd', label: 'd. gateway + Redis store, 90/10 mix', url: redisGateway.match[1]!, file: 'mix' },
  { key: 'e', label: 'e. @fastify/http-proxy pass-through', url: fastifyProxy.match[1]!, file: 'proxy' },
  { key: 'b', label: 'b. bare undici proxy', url: proxy.match[1]!, file: 'proxy' },
].filter((target) => openTargets.includes(target.key))
for (let run = 1; run <= runs; run++) {
  for (const target of run % 2 === 1 ? allTargets : [...allTargets].reverse()) {
    const child = spawn(process.execPath, [join(root, 'dist/bench/open-loop.js'), target.url, '/v1/query', String(openRate), String(seconds), join(work, `${target.file}.json`)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => (output += chunk))
    await new Promise((resolve) => child.once('exit', resolve))
    const measure = JSON.parse(output.split('\n').find((line) => line.startsWith('{'))!) as OpenMeasure
    openResults.set(target.key, [...(openResults.get(target.key) ?? []), measure])
    process.stderr.write(`run ${run}/${runs} open loop ${openRate}/s ${target.label}: p50 ${measure.p50} ms, p99 ${measure.p99} ms, p99.9 ${measure.p999} ms, max ${measure.max} ms, ${measure.achievedRate}/s answered, errors ${measure.errors}\n`)
  }
}

// --- the ledger on its own ---------------------------------------------------------------------------
const ledgerRuns = []
for (let run = 1; run <= runs; run++) {
  const result = await benchLedger(300_000, 1024)
  ledgerRuns.push(result)
  process.stderr.write(`run ${run}/${runs} ledger alone: ${Math.round(result.recordsPerSecond)} durable records/s, ${result.cpuMicrosPerRecord.toFixed(1)} µs CPU each\n`)
}

// --- report ------------------------------------------------------------------------------------------
const summary = targets.map((target) => {
  const measures = results.get(target.key)!
  return {
    ...target,
    rps: median(measures.map((m) => m.rps)),
    p50: median(measures.map((m) => m.p50)),
    p99: median(measures.map((m) => m.p99)),
    cpuMicros: median(measures.map((m) => m.cpuMicros)),
    mainBusy: median(measures.map((m) => m.mainBusy)),
    non2xx: measures.reduce((sum, m) => sum + m.non2xx, 0),
    redisPerQuery: target.key === 'd' ? median(measures.map((m) => m.redisPerQuery ?? 0)) : undefined,
    redisMicros: target.key === 'd' ? median(measures.map((m) => m.redisMicros ?? 0)) : undefined,
    errors: measures.reduce((sum, m) => sum + m.errors, 0),
  }
})
const byKey = new Map(summary.map((entry) => [entry.key, entry]))
const ratio = (top: string, bottom: string) => (byKey.has(top) && byKey.has(bottom) ? (byKey.get(top)!.rps / byKey.get(bottom)!.rps).toFixed(2) : 'n/a')
/** The ratio within each run (the two targets measured minutes apart at most): its lowest and highest. */
const perRun = (top: string, bottom: string) => {
  if (!results.has(top) || !results.has(bottom)) return 'n/a'
  const ratios = results.get(top)!.map((measure, run) => measure.rps / results.get(bottom)![run]!.rps).sort((left, right) => left - right)
  return `${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}`
}
const cpuModel = cpus()[0]?.model ?? 'unknown CPU'
const lines = [
  `Machine: ${cpus().length} cores (${cpuModel}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  `Command: npm run bench (BENCH_RUNS=${runs} BENCH_SECONDS=${seconds} BENCH_CONNECTIONS=${connections}); load from ${tool === 'wrk' ? 'wrk (1 thread)' : 'autocannon'}, ${connections} connections, loopback; medians of ${runs} runs.`,
  '',
  '| target | req/s | p50 ms | p99 ms | CPU µs/req (server process) | main thread on CPU |',
  '|---|---:|---:|---:|---:|---:|',
  ...summary.map((entry) => `| ${entry.label} | ${Math.round(entry.rps)} | ${entry.p50.toFixed(1)} | ${entry.p99.toFixed(1)} | ${Math.round(entry.cpuMicros)} | ${Math.round(entry.mainBusy * 100)}% |`),
  '',
  `Ratios (throughput, of the medians): c/e = ${ratio('c', 'e')}, c100/e = ${ratio('c100', 'e')}, d/e = ${ratio('d', 'e')} (against @fastify/http-proxy); c/a = ${ratio('c', 'a')}, c/b = ${ratio('c', 'b')}, c100/b = ${ratio('c100', 'b')}, c100/c100-full = ${ratio('c100', 'c100-full')} (trimmed / whole answers), d/c = ${ratio('d', 'c')} (Redis store / embedded store).`,
  ...(byKey.has('c100') && byKey.has('c100-full') ? [`Trimming answers to the traffic-stop projection costs ${Math.round(byKey.get('c100')!.cpuMicros - byKey.get('c100-full')!.cpuMicros)} µs CPU per query (c100 against c100-full, run by run ${perRun('c100', 'c100-full')} in throughput).`] : []),
  ...(byKey.has('v') && byKey.has('c100')
    ? [`Variant v against c100: throughput ${ratio('v', 'c100')} (run by run ${perRun('v', 'c100')}), CPU ${Math.round(byKey.get('v')!.cpuMicros)} against ${Math.round(byKey.get('c100')!.cpuMicros)} µs/req (run by run ${results.get('v')!.map((measure, run) => Math.round(measure.cpuMicros - results.get('c100')![run]!.cpuMicros)).join(', ')} µs).`]
    : []),
  `The same ratios run by run (lowest–highest of ${runs}): c/e ${perRun('c', 'e')}, d/e ${perRun('d', 'e')}, c/b ${perRun('c', 'b')}, d/c ${perRun('d', 'c')}, c/c-noaudit ${perRun('c', 'c-noaudit')}.`,
  ...(allTargets.length > 0
    ? [
        '',
        `Open loop: ${openRate} queries/s for ${seconds} s per run, latency from each request's scheduled send time (bench/open-loop.ts; no coordinated omission), medians of ${runs} runs:`,
        '',
        '| target | p50 ms | p99 ms | p99.9 ms | max ms | answered/s | errors |',
        '|---|---:|---:|---:|---:|---:|---:|',
        ...allTargets.map((target) => {
          const measures = openResults.get(target.key)!
          const m = (pick: (measure: OpenMeasure) => number) => median(measures.map(pick))
          return `| ${target.label} | ${m((x) => x.p50).toFixed(2)} | ${m((x) => x.p99).toFixed(2)} | ${m((x) => x.p999).toFixed(2)} | ${m((x) => x.max).toFixed(1)} | ${Math.round(m((x) => x.achievedRate))} | ${measures.reduce((sum, x) => sum + x.errors, 0)} |`
        }),
        '',
      ]
    : []),
  ...(byKey.has('c') && byKey.has('c-noaudit') ? [`The audit ledger costs the gateway ${((1 - byKey.get('c')!.rps / byKey.get('c-noaudit')!.rps) * 100).toFixed(1)}% of its throughput (c against c-noaudit) and ${Math.round(byKey.get('c')!.cpuMicros - byKey.get('c-noaudit')!.cpuMicros)} µs CPU per query.`] : []),
  `The ledger alone (bench/ledger.ts, 1,024 concurrent appenders, 300,000 decision records, canonical JSON + SHA-256 chain + group-committed O_DSYNC write): ${Math.round(median(ledgerRuns.map((result) => result.recordsPerSecond)))} durable records/s, ${median(ledgerRuns.map((result) => result.cpuMicrosPerRecord)).toFixed(1)} µs CPU per record (median of ${runs}).`,
  ...(byKey.has('d')
    ? [
        `redis-server's own CPU per query in d (its /proc/PID/stat over d's runs): ${byKey.get('d')!.redisMicros!.toFixed(1)} µs.`,
        `Redis client commands per query in d (INFO commandstats over the run, / requests answered): ${byKey.get('d')!.redisPerQuery!.toFixed(3)}: EVALSHA of the admit script, each query's admit in exactly one call (so each waits for one round trip, the queries of one event-loop turn sharing it), and of the misuse signals' script, one call per batch of the decision stream after the answers.`,
      ]
    : []),
  `Non-2xx answers: ${summary.map((entry) => `${entry.key} ${entry.non2xx}`).join(', ')} (the denied tenth of c answers 403 by design); errors: ${summary.reduce((sum, entry) => sum + entry.errors, 0)}.`,
]
process.stdout.write(`${lines.join('\n')}\n`)
writeFileSync(join(root, 'bench', 'last-run.md'), `${lines.join('\n')}\n`)
redis.disconnect()
for (const child of children) child.kill('SIGTERM')
if (gatewayNodeArgs.length > 0) await new Promise((resolve) => gateway.child.once('exit', resolve))
if (proxyNodeArgs.length > 0) await new Promise((resolve) => fastifyProxy.child.once('exit', resolve))
process.exit(0)
