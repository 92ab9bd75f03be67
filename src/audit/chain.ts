// The hash chain, pure: records are written as canonical JSON (RFC 8785: keys sorted by UTF-16 code
// units, no insignificant white space, ECMAScript number and string forms), and each record carries
// the SHA-256 of the previous record's line, so any change, removal or reordering breaks the chain.
//
// Hot path: every query writes two records, so the serializer avoids re-sorting keys it has sorted
// before (records come from a handful of shapes) and never copies a record to add the ledger's stamps.
import { hash } from 'node:crypto'

/** The `prev` of an instance's first record. */
export const genesisHash = '0'.repeat(64)

const maxShapes = 512
const sortedByShape = new Map<string, readonly string[]>()
const quoted = new Map<string, string>()

/** The object's keys in UTF-16 code unit order (what the default sort compares), cached per key list. */
function sortedKeys(record: object): readonly string[] {
  const keys = Object.keys(record)
  if (keys.length < 2) return keys
  const shape = keys.join('\u0000')
  let sorted = sortedByShape.get(shape)
  if (sorted === undefined) {
    sorted = keys.sort()
    if (sortedByShape.size < maxShapes) sortedByShape.set(shape, sorted)
  }
  return sorted
}

function quote(key: string): string {
  let text = quoted.get(key)
  if (text === undefined) {
    text = JSON.stringify(key)
    if (quoted.size < 4096) quoted.set(key, text)
  }
  return text
}

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
  return canonicalMembers(value as Record<string, unknown>, null)
}

/** The stamps the ledger adds to every event, in canonical (sorted) order. */
export interface Stamps {
  readonly instance: string
  readonly prev: string
  readonly seq: number
  readonly time: string
  readonly v: number
}
const stampKeys = ['instance', 'prev', 'seq', 'time', 'v'] as const

/**
 * Canonical JSON of an object's members, merged with the ledger's stamps when given: the same text as
 * canonicalJson({ ...record, ...stamps }) without building that object.
 */
function canonicalMembers(record: Record<string, unknown>, stamps: Stamps | null): string {
  const keys = sortedKeys(record)
  let text = '{'
  let first = true
  let s = 0
  const emit = (key: string, item: unknown) => {
    text += `${first ? '' : ','}${quote(key)}:${canonicalJson(item)}`
    first = false
  }
  for (const key of keys) {
    if (stamps !== null) {
      while (s < stampKeys.length && stampKeys[s]! < key) {
        emit(stampKeys[s]!, stamps[stampKeys[s]!])
        s++
      }
      if (s < stampKeys.length && stampKeys[s] === key) continue // the stamp wins, as in a spread
    }
    const item = record[key]
    if (item !== undefined) emit(key, item)
  }
  if (stamps !== null) for (; s < stampKeys.length; s++) emit(stampKeys[s]!, stamps[stampKeys[s]!])
  return `${text}}`
}

/** The canonical line of an event with the ledger's stamps. */
export function canonicalRecord(event: object, stamps: Stamps): string {
  return canonicalMembers(event as Record<string, unknown>, stamps)
}

/** SHA-256 of a record's line (without its newline), hex. */
export function lineHash(line: string): string {
  return hash('sha256', line, 'hex')
}
