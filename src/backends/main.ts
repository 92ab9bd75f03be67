// `npm run backends`: only the simulated databases, on DMV_PORT and CRIMINAL_HISTORY_PORT.
import { ConfigError, loadConfig } from '../config.js'
import { generatePopulation } from './population.js'
import { startCriminalHistory, startDmv } from './server.js'

let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`${error.message}\n`)
  process.exit(2)
}
const started = performance.now()
const population = generatePopulation(config.backends.population, config.backends.seed)
const dmv = await startDmv(population, config.backends.dmvPort, config.host)
const criminalHistory = await startCriminalHistory(population, config.backends.criminalHistoryPort, config.host)
process.stdout.write(
  `Simulated databases (${population.size} people, seed ${population.seed}, ${Math.round(performance.now() - started)} ms):\n` +
    `  DMV               ${dmv.url}  (DMV_URL)\n` +
    `  criminal history  ${criminalHistory.url}  (CRIMINAL_HISTORY_URL)\n`,
)
const stop = () => void Promise.all([dmv.close(), criminalHistory.close()]).then(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
