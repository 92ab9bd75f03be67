// What every gatewayctl command shares: output, usage and failure errors, settings, plain-text tables.
import { ConfigError, loadConfig, type Config } from '../config.js'

/** A bad command line or input file: the message and exit 2. */
export class UsageError extends Error {}

/** An expected failure (Redis down, audit unwritable, a refused change): the message and exit 1, no stack. */
export class CommandFailed extends Error {}

/** The gateway's settings from the environment (AUDIT_DIR, STATE_DIR, …); an invalid one is a usage error. */
export function cliConfig(): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message)
    throw error
  }
}

export const out = (text: string) => process.stdout.write(`${text}\n`)
export const err = (text: string) => process.stderr.write(`${text}\n`)

/** A left-aligned table with a header row, columns as wide as their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
