// What every gatewayctl command shares: output, usage errors, and plain-text tables.
import { printable } from '../printable.js'

export class UsageError extends Error {}

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
