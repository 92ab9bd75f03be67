// The hash chain, pure: records are written as canonical JSON (RFC 8785: keys sorted by UTF-16 code
// units, no insignificant white space, ECMAScript number and string forms), and each record carries
// the SHA-256 of the previous record's line, so any change, removal or reordering breaks the chain.
//
// Hot path: every query writes two records, so each record type gets a serializer compiled once from
// its schema's keys (sorted with the ledger's stamps) instead of sorting keys per record; nested values
// go through the generic canonicalJson.
import { hash } from 'node:crypto'
import { eventKeys, type AuditEvent, type EventType } from './record.js'

/** The `prev` of an instance's first record. */
export const genesisHash = '0'.repeat(64)

/** RFC 8785 canonical JSON for the values a record holds (strings, finite numbers, booleans, null, arrays, objects). */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
      return JSON.stringify(value)
    case 'object':
      break
    default:
      throw new TypeError(`canonical JSON has no ${typeof value}`)
  }
  if (Array.isArray(value)) {
    let text = '['
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + canonicalJson(value[i] ?? null)
    return `${text}]`
  }
  const record = value as Record<string, unknown>
  // The default sort compares UTF-16 code units, which is what RFC 8785 asks for.
  const keys = Object.keys(record).sort()
  let text = '{'
  for (const key of keys) {
    const item = record[key]
    if (item === undefined) continue
    text += `${text.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`
  }
  return `${text}}`
}

let cachedSecond = Number.NaN
let cachedPrefix = ''

/**
 * `new Date(ms).toISOString()` for the record's time, from the second's text kept once per second
 * (Date formatting cost ~2 µs a record in the server, two records a query). Years outside 0000-9999 take
 * Date's own path.
 */
export function isoTime(ms: number): string {
  const whole = Math.floor(ms)
  if (!(whole >= 0 && whole < 253_402_300_800_000)) return new Date(ms).toISOString()
  const second = Math.floor(whole / 1000)
  if (second !== cachedSecond) {
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20)
    cachedSecond = second
  }
  const milli = whole - second * 1000
  return `${cachedPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`
}

/** The stamps the ledger adds to every event. */
export interface Stamps {
  readonly instance: string
  readonly prev: string
  readonly seq: number
  readonly time: string
  readonly v: number
}
const stampKeys: readonly (keyof Stamps)[] = ['instance', 'prev', 'seq', 'time', 'v']

type Serializer = (event: Record<string, unknown>, stamps: Stamps) => string

/** A key an object keeps ahead of the others in numeric order (an array index): JSON.stringify would not sort it. */
const arrayIndex = /^(?:0|[1-9]\d*)$/

/** Thrown inside orderedCopy for a value JSON.stringify would not write canonically. */
class NotPlain extends Error {}

/**
 * A copy of `value` whose objects have their keys inserted in canonical order, so that JSON.stringify
 * of it is its canonical JSON (same escaping, same numbers). Throws NotPlain for what that does not
 * hold for (non-plain objects such as Dates, array-index keys) and TypeError for what canonical JSON
 * has no form for (NaN, Infinity, functions...), as canonicalJson does.
 */
function orderedCopy(value: unknown): unknown {
  switch (typeof value) {
    case 'undefined': // an absent member: JSON.stringify leaves it out, as canonicalJson does
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
      return value
    case 'object':
      break
    default:
      throw new TypeError(`canonical JSON has no ${typeof value}`)
  }
  if (value === null) return null
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) copy[i] = value[i] === undefined ? null : orderedCopy(value[i])
    return copy
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) throw new NotPlain()
  const keys = Object.keys(value).sort()
  const copy: Record<string, unknown> = {}
  for (const key of keys) {
    // An array index would be written first whatever the order; `__proto__` would set the prototype.
    if (arrayIndex.test(key) || key === '__proto__') throw new NotPlain()
    const item = (value as Record<string, unknown>)[key]
    if (item !== undefined) copy[key] = orderedCopy(item)
  }
  return copy
}

/**
 * A serializer for one record type: its keys and the stamps' merged in canonical order. The code is
 * generated once per type (as fast-json-stringify does): one object literal with the keys in that
 * order, so every record of the type has one shape, written by one native JSON.stringify call (~2.5 µs a
 * record against ~4 for a loop of per-value calls). A value it cannot vouch for sends the record through
 * canonicalJson instead. Same bytes either way (test/ledger.test.ts compares them).
 */
function compile(keys: readonly string[]): Serializer {
  const fields = [...new Set([...keys, ...stampKeys])].sort()
  for (const key of fields) if (arrayIndex.test(key) || key === '__proto__') throw new Error(`record key ${key} cannot be written in order`)
  // The keys come from the record schemas, and each is written as a JSON string literal.
  const members = fields.map((key) => {
    const quoted = JSON.stringify(key)
    return (stampKeys as readonly string[]).includes(key) ? `${quoted}: s[${quoted}]` : `${quoted}: o(e[${quoted}])`
  })
  const write = new Function('e', 's', 'o', `return JSON.stringify({ ${members.join(', ')} })`) as (event: Record<string, unknown>, stamps: Stamps, ordered: typeof orderedCopy) => string
  return (event, stamps) => {
    try {
      return write(event, stamps, orderedCopy)
    } catch (error) {
      if (!(error instanceof NotPlain)) throw error
      return canonicalJson({ ...event, ...stamps })
    }
  }
}

const serializers = new Map<EventType, Serializer>(Object.entries(eventKeys).map(([type, keys]) => [type as EventType, compile(keys)]))

/** The canonical line of an event with the ledger's stamps: canonicalJson({ ...event, ...stamps }). */
export function canonicalRecord(event: AuditEvent, stamps: Stamps): string {
  return serializers.get(event.type)!(event as unknown as Record<string, unknown>, stamps)
}

/** SHA-256 of a record's line (without its newline), hex. */
export function lineHash(line: string): string {
  return hash('sha256', line, 'hex')
}
