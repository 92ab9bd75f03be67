// Subject resolution (issue 13, point 1): the people a query touched, as keyed hashes. A query.outcome
// record carries the hashes of the identifiers found in the records the database returned, so an
// investigator finds a plate look-up that returned WRIGHT's licence with `audit search --subject`, while
// the ledger alone hands out no identity: the hash is an HMAC-SHA-256 under a key kept apart from it.
//
// An identifier is `field=VALUE`, upper-case and trimmed:
//   licenseNumber=A1234567   plate=7ABC123   vin=1HG…   cii=A12345678     (one record, one person)
//   person=WRIGHT,JOHN,1980-01-31   a name with a date of birth (licences, rap sheets, name look-ups)
//   name=WRIGHT,JOHN                a name without one (a vehicle's registered owner has no date of birth)
//   lastName=WRIGHT                 so that `--subject WRIGHT` finds every record of that family name
import { hash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The identifier fields a returned record may carry, at its top level. */
const recordIdentifierFields = ['licenseNumber', 'plate', 'vin', 'cii'] as const
/** Where a record names its person: a licence's and a rap sheet's `person`, a vehicle's `registeredOwner`. */
const personMembers = ['person', 'registeredOwner'] as const

/** The identifier kinds `audit search --subject` and the watch-list accept (`field=VALUE`). */
export const identifierFields = [...recordIdentifierFields, 'person', 'name', 'lastName'] as const
export type IdentifierField = (typeof identifierFields)[number]

/** Development key file under STATE_DIR, made on first start when AUDIT_SUBJECT_KEY is unset. */
export const devSubjectKeyFile = (stateDir: string) => join(stateDir, 'dev-subject-key')

/**
 * The subject key: AUDIT_SUBJECT_KEY's file, or the development key under STATE_DIR (made when `create`
 * is set and none exists; undefined when it is not there). Production sets AUDIT_SUBJECT_KEY to a file
 * kept off the ledger's disk: whoever holds both the ledger and the key can test guessed identities.
 */
export function loadSubjectKey(keyFile: string | undefined, stateDir: string, create: boolean): Buffer | undefined {
  if (keyFile !== undefined) {
    const key = readFileSync(keyFile, 'utf8').trim()
    if (key.length < 32) throw new Error(`${keyFile}: the subject key must be at least 32 characters`)
    return Buffer.from(key, 'utf8')
  }
  const path = devSubjectKeyFile(stateDir)
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !create) return undefined
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  try {
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error // another process made it first: use theirs
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8')
}

/** `field=VALUE` normalised as the hashes are: the value trimmed and in capitals. */
export function identifier(field: string, value: string): string {
  return `${field}=${value.trim().toUpperCase()}`
}

/** Hashes identifiers under one key: 128 bits of HMAC-SHA-256, base64url (22 characters). */
/** SHA-256's round constants (FIPS 180-4, 4.2.2). */
const roundConstants = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
/** SHA-256's initial hash value (FIPS 180-4, 5.3.3). */
const initialState = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

/** One SHA-256 compression of the 64-byte block at `offset` into `state` (FIPS 180-4, 6.2.2). */
function compress(state: Int32Array, block: Uint8Array, offset: number, schedule: Int32Array): void {
  for (let t = 0; t < 16; t++) {
    const at = offset + 4 * t
    schedule[t] = (block[at]! << 24) | (block[at + 1]! << 16) | (block[at + 2]! << 8) | block[at + 3]!
  }
  for (let t = 16; t < 64; t++) {
    const x = schedule[t - 15]!
    const y = schedule[t - 2]!
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    schedule[t] = (schedule[t - 16]! + s0 + schedule[t - 7]! + s1) | 0
  }
  let a = state[0]!
  let b = state[1]!
  let c = state[2]!
  let d = state[3]!
  let e = state[4]!
  let f = state[5]!
  let g = state[6]!
  let h = state[7]!
  for (let t = 0; t < 64; t++) {
    const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + roundConstants[t]! + schedule[t]!) | 0
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  state[0] = (state[0]! + a) | 0
  state[1] = (state[1]! + b) | 0
  state[2] = (state[2]! + c) | 0
  state[3] = (state[3]! + d) | 0
  state[4] = (state[4]! + e) | 0
  state[5] = (state[5]! + f) | 0
  state[6] = (state[6]! + g) | 0
  state[7] = (state[7]! + h) | 0
}

/** Writes the state's first `words` words big-endian into `into` at `offset`. */
function writeState(state: Int32Array, into: Uint8Array, offset: number, words: number): void {
  for (let word = 0; word < words; word++) {
    const value = state[word]!
    into[offset + 4 * word] = value >>> 24
    into[offset + 4 * word + 1] = value >>> 16
    into[offset + 4 * word + 2] = value >>> 8
    into[offset + 4 * word + 3] = value
  }
}

/** Hashes identifiers under one key: 128 bits of HMAC-SHA-256, base64url (22 characters). */
export class SubjectHasher {
  /** SHA-256's state after the key XOR the inner pad, and after the key XOR the outer pad (RFC 2104). */
  // Int32Array: V8 keeps its elements as 32-bit integers (a Uint32Array's above 2^31 are read as doubles).
  private readonly innerState = new Int32Array(8)
  private readonly outerState = new Int32Array(8)
  private readonly state = new Int32Array(8)
  private readonly schedule = new Int32Array(64)
  /** The identifier and its SHA-256 padding. */
  private message = Buffer.alloc(256)
  /** The outer hash's one block: the inner digest, then its padding (a fixed length: 64 + 32 bytes). */
  private readonly outerBlock = Buffer.alloc(64)
  private readonly digest = Buffer.alloc(16)

  constructor(key: Buffer) {
    const block = Buffer.alloc(64)
    ;(key.length > 64 ? hash('sha256', key, 'buffer') : key).copy(block)
    const pad = Buffer.alloc(64)
    for (const [state, byte] of [[this.innerState, 0x36], [this.outerState, 0x5c]] as const) {
      for (let index = 0; index < 64; index++) pad[index] = block[index]! ^ byte
      state.set(initialState)
      compress(state, pad, 0, this.schedule)
    }
    this.outerBlock[32] = 0x80
    this.outerBlock.writeUInt32BE((64 + 32) * 8, 60)
  }

  /**
   * The keyed hash of an identifier already normalised (see identifier()): HMAC-SHA-256, cut to 128 bits.
   * SHA-256 in JavaScript from the key's two padded blocks compressed once (RFC 2104's precomputed
   * states): an identifier costs two or three compressions, ~1 µs, where createHmac, or two one-shot
   * crypto.hash calls, cost 4-8 µs each on the benchmark VM (a key object, a context and a native call
   * per hash), and a query's answer has four identifiers or more. A test compares it with createHmac.
   */
  hash(normalised: string): string {
    const needed = 3 * normalised.length + 72
    if (needed > this.message.length) this.message = Buffer.alloc(2 * needed)
    const message = this.message
    const length = message.write(normalised, 0, 'utf8')
    // Padding: 0x80, zeros to 56 mod 64, then the bit length of everything hashed (the key block too).
    let end = length
    message[end++] = 0x80
    while (end % 64 !== 56) message[end++] = 0
    const bits = (64 + length) * 8
    message.writeUInt32BE(Math.floor(bits / 0x100000000), end)
    message.writeUInt32BE(bits >>> 0, end + 4)
    end += 8
    const state = this.state
    state.set(this.innerState)
    for (let offset = 0; offset < end; offset += 64) compress(state, message, offset, this.schedule)
    writeState(state, this.outerBlock, 0, 8)
    state.set(this.outerState)
    compress(state, this.outerBlock, 0, this.schedule)
    writeState(state, this.digest, 0, 4)
    return this.digest.toString('base64url')
  }

  /** The hash of `field=value`, normalised first. */
  hashOf(field: string, value: string): string {
    return this.hash(identifier(field, value))
  }
}

const text = (value: unknown): value is string => typeof value === 'string' && value.trim() !== ''

/** Adds a person's identifiers (name with and without date of birth, family name) to `into`. */
function addPerson(into: Set<string>, person: Record<string, unknown>): void {
  const { lastName, firstName, dateOfBirth } = person
  if (!text(lastName)) return
  into.add(identifier('lastName', lastName))
  if (!text(firstName)) return
  const name = `${lastName.trim()},${firstName.trim()}`
  into.add(identifier('name', name))
  if (text(dateOfBirth)) into.add(identifier('person', `${name},${dateOfBirth.trim()}`))
}

/** The order in which a record's own identifier is chosen as the one that names it (a primary): its rank by field. */
const primaryRank: Readonly<Record<string, number>> = { licenseNumber: 0, cii: 1, plate: 2, vin: 3 }

/**
 * The identifiers found in the records a database returned (licences, registrations, rap sheets). With
 * `primaries`, also the one that names each record, pushed to it: its licence number, CII number, or plate
 * (a VIN when it has no plate), so a vehicle found by plate or by VIN counts as one subject. One pass and
 * one string per identifier (the decision stream made the primaries' a second time).
 */
export function recordIdentifiers(records: readonly object[], into = new Set<string>(), primaries?: string[]): Set<string> {
  for (const record of records as readonly Record<string, unknown>[]) {
    let primary: string | undefined
    let rank = 4
    for (const field of recordIdentifierFields) {
      const value = record[field]
      if (!text(value)) continue
      const found = identifier(field, value)
      into.add(found)
      if (primaryRank[field]! < rank) {
        rank = primaryRank[field]!
        primary = found
      }
    }
    if (primaries !== undefined && primary !== undefined) primaries.push(primary)
    for (const member of personMembers) {
      const person = record[member]
      if (person !== null && typeof person === 'object') addPerson(into, person as Record<string, unknown>)
    }
  }
  return into
}

/**
 * The identifiers a query's lookup names: its identifier fields, or the person its name (and date of
 * birth) name. The first is the lookup's own: what one query counts as one subject.
 */
export function lookupIdentifiers(subject: Readonly<Record<string, string>>): string[] {
  const found: string[] = []
  for (const field of recordIdentifierFields) {
    const value = subject[field]
    if (text(value)) found.push(identifier(field, value))
  }
  // The most precise first: person, then name, then family name (addPerson's, in reverse; no Set per query).
  const { lastName, firstName, dateOfBirth } = subject
  if (!text(lastName)) return found
  if (text(firstName)) {
    const name = `${lastName.trim()},${firstName.trim()}`
    if (text(dateOfBirth)) found.push(identifier('person', `${name},${dateOfBirth.trim()}`))
    found.push(identifier('name', name))
  }
  found.push(identifier('lastName', lastName))
  return found
}

/**
 * What `--subject` means as identifiers to hash: `field=VALUE` for a field of identifierFields (a name as
 * `LAST,FIRST` and a person as `LAST,FIRST,YYYY-MM-DD`), or a bare value, which may be any of licence
 * number, plate, VIN, CII number or family name. Null for a field that has no hash (firstName, dateOfBirth:
 * matched in the clear lookups only).
 */
export function searchIdentifiers(wanted: string): string[] | null {
  const equals = wanted.indexOf('=')
  if (equals <= 0) return [...recordIdentifierFields, 'lastName'].map((field) => identifier(field, wanted))
  const field = wanted.slice(0, equals)
  if (!(identifierFields as readonly string[]).includes(field)) return null
  const value = wanted.slice(equals + 1).split(',').map((part) => part.trim()).join(',')
  return [identifier(field, value)]
}
