// The gateway's settings, for the gatewayctl commands that need them (AUDIT_DIR, STATE_DIR, the JWT
// secret, …). Not in io.ts: the settings' zod schemas take a good part of a start, so only the actions
// that read settings import this file, when they run (`await import('./settings.js')`).
import { ConfigError, loadConfig, type Config } from '../config.js'
import { UsageError } from './io.js'

/** The gateway's settings from the environment (AUDIT_DIR, STATE_DIR, …); an invalid one is a usage error. */
export function cliConfig(): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message)
    throw error
  }
}
