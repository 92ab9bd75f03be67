// Entry point: configuration -> gateway -> listen; signals. SIGTERM/SIGINT close gracefully (stop
// accepting, finish in-flight queries, flush the ledger); SIGHUP reloads the policies.
import { ConfigError, loadConfig } from './config.js'
import { startGateway } from './gateway.js'
import { createLogger } from './logger.js'
import { PolicyError } from './policy/compile.js'

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
