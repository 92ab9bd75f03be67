// The lookup fields a subject may carry, and the validator compiled for each database's lookups.
// A subject must name exactly one of the database's lookups: no extra fields (they would be personal
// data the database does not need), no partial lookups.
import type { ErrorIssue } from '../errors.js'

interface FieldSpec {
  readonly pattern: RegExp
  readonly expected: string
  readonly check?: (value: string) => boolean
}

function isCalendarDate(value: string): boolean {
  const year = Number(value.slice(0, 4))
  const month = Number(value.slice(5, 7))
  const day = Number(value.slice(8, 10))
  if (year < 1900 || month < 1 || month > 12 || day < 1) return false
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate()
}

const personName: FieldSpec = {
  pattern: /^\p{L}[\p{L}' -]{0,49}$/u,
  expected: 'a name of 1 to 50 letters, spaces, hyphens or apostrophes',
}

/** Every field any lookup may use; policy files may name only these. */
export const subjectFields: Readonly<Record<string, FieldSpec>> = {
  licenseNumber: { pattern: /^[A-Z][0-9]{7}$/, expected: 'a California licence number: one letter and 7 digits, e.g. A1234567' },
  plate: { pattern: /^[A-Z0-9]{2,8}$/, expected: '2 to 8 capital letters or digits' },
  vin: { pattern: /^[A-HJ-NPR-Z0-9]{17}$/, expected: '17 capital letters or digits, without I, O or Q' },
  lastName: personName,
  firstName: personName,
  dateOfBirth: { pattern: /^\d{4}-\d{2}-\d{2}$/, expected: 'a date YYYY-MM-DD', check: isCalendarDate },
}

export type SubjectValidator = (subject: unknown) => readonly ErrorIssue[] | null

/** Compiles a validator that returns null for a valid subject, or the issues with paths under `subject`. */
export function compileSubjectValidator(lookups: readonly (readonly string[])[]): SubjectValidator {
  const forms = lookups.map((fields) => ({ fields, keySet: new Set(fields) }))
  const expected = lookups.map((fields) => fields.join(' + ')).join(', or ')
  return function validateSubject(subject: unknown) {
    if (subject === null || typeof subject !== 'object' || Array.isArray(subject)) {
      return [{ path: 'subject', message: `expected an object with ${expected}` }]
    }
    const record = subject as Record<string, unknown>
    const keys = Object.keys(record)
    const form = forms.find((candidate) => candidate.fields.length === keys.length && keys.every((key) => candidate.keySet.has(key)))
    if (form === undefined) {
      return [{ path: 'subject', message: `expected exactly ${expected}; got ${keys.length === 0 ? 'no fields' : keys.join(', ')}` }]
    }
    let issues: ErrorIssue[] | null = null
    for (const field of form.fields) {
      const spec = subjectFields[field]!
      const value = record[field]
      if (typeof value !== 'string' || !spec.pattern.test(value) || (spec.check !== undefined && !spec.check(value))) {
        ;(issues ??= []).push({ path: `subject.${field}`, message: `expected ${spec.expected}` })
      }
    }
    return issues
  }
}
