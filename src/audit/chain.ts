// The hash chain, pure: records are written as canonical JSON (RFC 8785: keys sorted by UTF-16 code
// units, no insignificant white space, ECMAScript number and string forms), and each record carries
// the SHA-256 of the previous record's line, so any change, removal or reordering breaks the chain.
import { createHash } from 'node:crypto'

/** The `prev` of an instance's first record. */
export const genesisHash = '0'.repeat(64)

/** RFC 8785 canonical JSON for the values a record holds (strings, finite numbers, booleans, null, arrays, objects). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) {
    let text = '['
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + canonicalJson(value[i] ?? null)
    return `${text}]`
  }
  const record = value as Record<string, unknown>
  // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
  const keys = Object.keys(record).sort()
  let text = '{'
  let first = true
  for (const key of keys) {
    const item = record[key]
    if (item === undefined) continue
    text += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`
    first = false
  }
  return `${text}}`
}

/** SHA-256 of a record's line (without its newline), hex. */
export function lineHash(line: string): string {
  return createHash('sha256').update(line).digest('hex')
}
