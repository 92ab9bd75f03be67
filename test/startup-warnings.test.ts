// The gateway process at start (issue 14, point 8): its `gateway listening` log line says how to reload
// the policies (kill -HUP and its own pid), and with NODE_ENV=production it warns, as JSON log lines
// like every other, about each development setting it runs with and what to set instead.
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { policyDir, root, spawnGateway, tempDir, type GatewayProcess } from './helpers.js'

type LogLine = { level: number; msg: string; pid?: number; reload?: string; set?: unknown }

/** The JSON log lines the process printed, once its `gateway listening` line is out (pino writes asynchronously). */
async function startUpLines(gateway: GatewayProcess): Promise<LogLine[]> {
  const listening = /"msg":"gateway listening"/
  if (!listening.test(gateway.output())) {
    await new Promise<void>((resolve) => {
      const seen = () => {
        if (!listening.test(gateway.output())) return
        gateway.child.stdout.off('data', seen)
        resolve()
      }
      gateway.child.stdout.on('data', seen)
    })
  }
  return gateway
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)
}

async function start(extra: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', POLICY_DIR: policyDir, LOG_LEVEL: 'info', ...extra }
  for (const name of ['GATEWAY_JWT_SECRET', 'GATEWAY_JWT_PUBLIC_KEYS', 'GATEWAY_JWT_JWKS_URL', 'DMV_URL', 'CRIMINAL_HISTORY_URL', 'REDIS_URL', 'METRICS_TOKEN']) if (!(name in extra)) delete env[name]
  if (!('NODE_ENV' in extra)) delete env.NODE_ENV
  const gateway = await spawnGateway(process.execPath, [join(root, 'dist/src/main.js')], { cwd: tempDir('startup'), env })
  t.teardown(async () => {
    const exited = once(gateway.child, 'exit')
    gateway.child.kill('SIGTERM')
    await exited
  })
  return gateway
}

t.test('NODE_ENV=production with the development secret and the simulated databases: a warn line for each, saying what to set', async (t) => {
  const gateway = await start({ NODE_ENV: 'production' })
  const lines = await startUpLines(gateway)
  const warnings = lines.filter((line) => line.level === 40)
  t.equal(warnings.length, 3, 'three warnings')
  t.match(warnings, [
    { msg: /^NODE_ENV=production, but tokens are checked with the development secret var\/state\/dev-jwt-secret .*: set GATEWAY_JWT_JWKS_URL \(or GATEWAY_JWT_PUBLIC_KEYS\) /, set: ['GATEWAY_JWT_JWKS_URL', 'GATEWAY_JWT_PUBLIC_KEYS'] },
    { msg: /^NODE_ENV=production, but GET \/metrics is open to anyone who reaches the port: set METRICS_TOKEN /, set: ['METRICS_TOKEN'] },
    { msg: /^NODE_ENV=production, but the simulated databases answer \(invented people, in this process: dmv, criminal_history\): set DMV_URL and CRIMINAL_HISTORY_URL to the real databases$/, set: ['DMV_URL', 'CRIMINAL_HISTORY_URL'] },
  ])
  t.equal(lines.find((line) => line.msg === 'gateway listening')?.reload, `kill -HUP ${gateway.child.pid}`, 'the listening line says which pid to signal')
})

t.test('NODE_ENV=production with GATEWAY_JWT_SECRET: the warning names it', async (t) => {
  const gateway = await start({ NODE_ENV: 'production', GATEWAY_JWT_SECRET: 'a-secret-that-is-long-enough-for-hs256-x', METRICS_TOKEN: 'a-metrics-token-for-prometheus' })
  const warnings = (await startUpLines(gateway)).filter((line) => line.level === 40)
  t.match(warnings[0], { msg: /tokens are checked with GATEWAY_JWT_SECRET \(HS256/ })
  t.equal(warnings.length, 2, 'METRICS_TOKEN set: no warning about /metrics')
  t.notOk(warnings.some((line) => line.set !== undefined && JSON.stringify(line.set).includes('METRICS_TOKEN')))
})

t.test('without NODE_ENV=production: no warning', async (t) => {
  const gateway = await start({})
  const lines = await startUpLines(gateway)
  t.same(lines.filter((line) => line.level >= 40), [], 'no warn or error line')
  t.equal(lines.find((line) => line.msg === 'gateway listening')?.reload, `kill -HUP ${gateway.child.pid}`, 'the pid to signal is logged all the same')
})
