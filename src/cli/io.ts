// What every gatewayctl command shares: output, usage errors, and plain-text tables.
export class UsageError extends Error {}

export const out = (text: string) => process.stdout.write(`${text}\n`)
export const err = (text: string) => process.stderr.write(`${text}\n`)

/** A left-aligned table with a header row, columns as wide as their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
