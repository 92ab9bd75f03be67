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
export class SubjectHasher {
  /** The key XOR the HMAC pads (RFC 2104), computed once. */
  private readonly innerPad: Buffer
  private readonly outerPad: Buffer

  constructor(key: Buffer) {
    const block = key.length > 64 ? hash('sha256', key, 'buffer') : key
    this.innerPad = Buffer.alloc(64, 0x36)
    this.outerPad = Buffer.alloc(64, 0x5c)
    for (let index = 0; index < block.length; index++) {
      this.innerPad[index]! ^= block[index]!
      this.outerPad[index]! ^= block[index]!
    }
  }

  /**
   * The keyed hash of an identifier already normalised (see identifier()): HMAC-SHA-256, cut to 128 bits.
   * Computed as RFC 2104 defines it with two one-shot hashes: createHmac builds a key object and an
   * HMAC context per call, ~8 µs on the benchmark VM against ~1.5-3 µs for this (the same bytes; a
   * test compares the two).
   */
  hash(normalised: string): string {
    const inner = hash('sha256', Buffer.concat([this.innerPad, Buffer.from(normalised, 'utf8')]), 'buffer')
    return hash('sha256', Buffer.concat([this.outerPad, inner]), 'buffer').subarray(0, 16).toString('base64url')
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

/** The identifiers found in the records a database returned (licences, registrations, rap sheets). */
export function recordIdentifiers(records: readonly object[], into = new Set<string>()): Set<string> {
  for (const record of records as readonly Record<string, unknown>[]) {
    for (const field of recordIdentifierFields) {
      const value = record[field]
      if (text(value)) into.add(identifier(field, value))
    }
    for (const member of personMembers) {
      const person = record[member]
      if (person !== null && typeof person === 'object') addPerson(into, person as Record<string, unknown>)
    }
  }
  return into
}

/** The order in which a record's own identifier is chosen as the one that names it (see recordPrimaries). */
const primaryOrder = ['licenseNumber', 'cii', 'plate', 'vin'] as const

/**
 * One identifier per returned record: its licence number, CII number, or plate (a VIN when it has no
 * plate), so a vehicle found by plate or by VIN counts as one subject.
 */
export function recordPrimaries(records: readonly object[]): string[] {
  const found: string[] = []
  for (const record of records as readonly Record<string, unknown>[]) {
    for (const field of primaryOrder) {
      const value = record[field]
      if (text(value)) {
        found.push(identifier(field, value))
        break
      }
    }
  }
  return found
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
  const person = new Set<string>()
  addPerson(person, subject)
  // The most precise first: person, then name, then family name.
  found.push(...[...person].reverse())
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
