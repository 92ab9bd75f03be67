// What every gatewayctl command shares: output, usage and failure errors, settings, plain-text tables.
import { ConfigError, loadConfig, type Config } from '../config.js'
import { printable } from '../printable.js'

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

/**
 * A left-aligned table with a header row, columns as wide as their widest cell. Cells hold names and
 * ids from operators, terminals and the ledger: their control characters are shown as escapes, so a
 * cell cannot clear the screen or start a row of its own.
 */
export function table(header: readonly string[], cellsByRow: readonly (readonly string[])[]): string {
  const rows = cellsByRow.map((row) => row.map(printable))
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/** A `--name` time option as epoch ms (undefined when not given); a usage error when unreadable. */
export function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const parsed = Date.parse(value)
  if (Number.isNaN(parsed)) throw new UsageError(`--${name}: expected a time such as 2026-01-31 or 2026-01-31T12:00:00Z; got ${value}`)
  return parsed
}
