// Entry point: configuration -> gateway -> listen; signals. SIGTERM/SIGINT close gracefully (stop
// accepting, finish in-flight queries, flush the ledger); SIGHUP reloads the policies.
import type { Logger } from 'pino'
import { ConfigError, loadConfig, type Config } from './config.js'
import { devSecretFile } from './dev-secret.js'
import { startGateway, type Gateway } from './gateway.js'
import { createLogger } from './logger.js'
import { PolicyError } from './policy/compile.js'

/**
 * NODE_ENV=production with a development setting: a warn line for each, saying what to set instead.
 * The gateway still starts (a staging run may want exactly this); the log says so where operators look.
 */
function warnDevelopmentSettings(config: Config, gateway: Gateway, logger: Logger): void {
  if (!config.production) return
  if (gateway.developmentSecret !== null) {
    const which = config.jwt.secret === undefined ? `the development secret ${devSecretFile(config.stateDir)} (made at start, readable on this machine)` : 'GATEWAY_JWT_SECRET (HS256: a secret shared with whoever mints tokens)'
    logger.warn(
      { nodeEnv: 'production', set: ['GATEWAY_JWT_JWKS_URL', 'GATEWAY_JWT_PUBLIC_KEYS'] },
      `NODE_ENV=production, but tokens are checked with ${which}: set GATEWAY_JWT_JWKS_URL (or GATEWAY_JWT_PUBLIC_KEYS) to the identity provider's keys`,
    )
  }
  if (config.metrics.token === undefined) {
    logger.warn(
      { nodeEnv: 'production', set: ['METRICS_TOKEN'] },
      'NODE_ENV=production, but GET /metrics is open to anyone who reaches the port: set METRICS_TOKEN and have Prometheus send it (docs/hardening.md)',
    )
  }
  const unset = [config.dmvUrl === undefined ? 'DMV_URL' : null, config.criminalHistoryUrl === undefined ? 'CRIMINAL_HISTORY_URL' : null].filter((name) => name !== null)
  if (unset.length > 0) {
    logger.warn(
      { nodeEnv: 'production', set: unset },
      `NODE_ENV=production, but the simulated databases answer (invented people, in this process: ${gateway.backends.map((backend) => backend.name).join(', ')}): set ${unset.join(' and ')} to the real databases`,
    )
  }
}

async function main(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  const logger = createLogger(config.logLevel)
  let gateway
  try {
    gateway = await startGateway(config, logger)
  } catch (error) {
    if (error instanceof PolicyError) process.stderr.write(`${error.message}\n`)
    else logger.fatal({ err: error }, 'start-up failed')
    process.exit(1)
  }
  const { url, backends } = gateway
  // Before the listening line, which is flushed at once: whoever waits for that line has the warnings too.
  warnDevelopmentSettings(config, gateway, logger)
  logger.info({ url, reload: `kill -HUP ${process.pid}`, backends: backends.map((backend) => `${backend.name} ${backend.url}`) }, 'gateway listening')
  logger.flush() // at once, not when the log buffer fills: whoever started the gateway waits for this line
  const tokenHelp = gateway.developmentSecret !== null ? 'npx gatewayctl token --sub officer-17 --ori CA0194200 --role terminal' : 'tokens come from your identity provider (GATEWAY_JWT_PUBLIC_KEYS)'
  // The banner is for the person at the terminal: on stderr, so stdout stays JSON lines only.
  process.stderr.write(
    `\nCLETS query gateway listening on ${url}\n` +
      (backends.length > 0 ? `Simulated databases: ${backends.map((backend) => `${backend.name} ${backend.url}`).join(', ')}\n` : '') +
      `Get a token:  TOKEN=$(${tokenHelp})\n` +
      `Then query:   curl -s ${url}/v1/query -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\\n` +
      `                -d '{"database":"dmv.driver_license","purpose":"traffic_enforcement","subject":{"licenseNumber":"A1234567"}}'\n\n`,
  )

  // Logs are written asynchronously: flush them before leaving.
  const exit = (code: number) => logger.flush(() => process.exit(code))
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: finishing in-flight queries and flushing the audit ledger')
    gateway.close().then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => void gateway.reloadPolicy())
}

await main()
