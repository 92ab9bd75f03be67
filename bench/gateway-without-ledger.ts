// The gateway with no audit ledger: only for measuring what the ledger costs (npm run bench, target
// "c-noaudit"). Production has no such switch; this script is the only way to start one.
import { loadConfig } from '../src/config.js'
import { startGateway } from '../src/gateway.js'
import { createLogger } from '../src/logger.js'

const config = loadConfig()
const gateway = await startGateway(config, createLogger(config.logLevel), {
  ledger: { writable: true, backlog: 0, append: () => Promise.resolve(), close: () => Promise.resolve() },
})
process.stdout.write(`listening on ${gateway.url}\n`)
process.on('SIGTERM', () => void gateway.close().then(() => process.exit(0)))
