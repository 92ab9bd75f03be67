// policies/signals.yaml: the misuse signals as policy data (issue 13, point 2). Each kind has its
// thresholds, its window and an enabled flag; the watch-list is a file of keyed hashes named here; an
// agency's declared hours are here too. Pure: the watch-list file is read by src/policy-files.ts and
// parsed by parseWatchlist below. The file is optional: without it no signal is computed.
import { z } from 'zod'
import { oriPattern, type SignalKind } from './types.js'

export const signalsFile = 'signals.yaml'

const seconds = z.number().int().min(1).max(30 * 86_400)
const count = z.number().int().min(1).max(100_000)
const clock = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'expected a time of day HH:MM (24 h)')
const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}, 'expected an IANA time zone such as America/Los_Angeles')

const hoursSchema = z.strictObject({
  days: z.array(z.enum(weekdays)).min(1),
  from: clock,
  to: clock,
  timeZone: timeZone.optional(),
})

/** Whether each raised signal of the kind opens a review in the review queue (docs/reviews.md). */
const review = z.boolean().default(false)
/** A licensing term: a word or phrase of letters, digits, spaces, hyphens, dots and slashes. */
const term = z.string().min(2).max(60).regex(/^[\p{L}\p{N}][\p{L}\p{N} .\/-]*$/u, 'expected a word or phrase (letters, digits, spaces, hyphens, dots, slashes)')

export const signalsSchema = z.strictObject({
  /** The time zone of declared hours that name none. */
  timeZone: timeZone.default('America/Los_Angeles'),
  distinctSubjects: z.strictObject({ enabled: z.boolean(), review, subjects: count, windowSeconds: seconds }),
  subjectSpread: z.strictObject({ enabled: z.boolean(), review, officers: count, agencies: count, windowSeconds: seconds }),
  watchlist: z.strictObject({ enabled: z.boolean(), review, file: z.string().min(1), windowSeconds: seconds }),
  selfLookup: z.strictObject({ enabled: z.boolean(), review, windowSeconds: seconds }),
  sharedLogin: z.strictObject({ enabled: z.boolean(), review, places: z.number().int().min(2).max(1000), windowSeconds: seconds }),
  /** One officer querying the same person `queries` times in the window (absent: off). */
  repeatSubject: z.strictObject({ enabled: z.boolean(), review, queries: z.number().int().min(2).max(1000), windowSeconds: seconds }).optional(),
  /** Licensing, employment or CCW words in the justification of a query of one of `purposes` (absent: off). */
  licensingTerms: z
    .strictObject({ enabled: z.boolean(), review, purposes: z.array(z.string().min(1).max(64)).min(1), terms: z.array(term).min(1).max(500), windowSeconds: seconds })
    .optional(),
  offHours: z.strictObject({
    enabled: z.boolean(),
    review,
    windowSeconds: seconds,
    agencies: z.record(z.string().regex(oriPattern, 'expected an ORI: 2 letters and 7 letters or digits'), hoursSchema).default({}),
  }),
})
export type SignalsDocument = z.infer<typeof signalsSchema>

/** An agency's declared hours, compiled: the days, the minutes of the day, and a formatter in its zone. */
export interface DeclaredHours {
  readonly text: string
  readonly days: ReadonlySet<string>
  readonly from: number
  readonly to: number
  readonly format: Intl.DateTimeFormat
}

/** The compiled signal settings: a kind is null when it is off. */
export interface SignalPolicy {
  readonly distinctSubjects: { readonly subjects: number; readonly windowSeconds: number } | null
  readonly subjectSpread: { readonly officers: number; readonly agencies: number; readonly windowSeconds: number } | null
  /** `file` as written (relative to the policy directory, or absolute); `hashes` filled in when the file is read. */
  readonly watchlist: { readonly file: string; readonly windowSeconds: number; readonly hashes: ReadonlySet<string> } | null
  readonly selfLookup: { readonly windowSeconds: number } | null
  readonly sharedLogin: { readonly places: number; readonly windowSeconds: number } | null
  readonly offHours: { readonly windowSeconds: number; readonly agencies: ReadonlyMap<string, DeclaredHours> } | null
  readonly repeatSubject: { readonly queries: number; readonly windowSeconds: number } | null
  /** `terms` is one case-insensitive pattern of whole words or phrases. */
  readonly licensingTerms: { readonly purposes: ReadonlySet<string>; readonly terms: RegExp; readonly windowSeconds: number } | null
  /** The kinds whose raised signals open a review. */
  readonly review: ReadonlySet<SignalKind>
  /** The policy's time zone (`timeZone`): windows of whole hours start on its hours, days at its midnight. */
  readonly zone: ZoneClock
}

/**
 * A time zone's offset from UTC at an instant, in ms (UTC-7 h: -25 200 000). The offset of the last hour
 * asked is kept: signals ask once a query, and almost always within the same hour (Intl costs a few µs).
 */
export class ZoneClock {
  private hour = Number.NaN
  private offset = 0
  private readonly format: Intl.DateTimeFormat | null

  constructor(readonly timeZone: string) {
    this.format = timeZone === 'UTC' ? null : new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
  }

  offsetAt(time: number): number {
    if (this.format === null) return 0
    const hour = Math.floor(time / 3_600_000)
    if (hour === this.hour) return this.offset
    const parts: Record<string, number> = {}
    for (const part of this.format.formatToParts(hour * 3_600_000)) if (part.type !== 'literal') parts[part.type] = Number(part.value)
    const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!)
    this.hour = hour
    this.offset = local - hour * 3_600_000
    return this.offset
  }
}

/** No signal at all: a policy directory without signals.yaml. */
export const noSignals: SignalPolicy = Object.freeze({ distinctSubjects: null, subjectSpread: null, watchlist: null, selfLookup: null, sharedLogin: null, offHours: null, repeatSubject: null, licensingTerms: null, review: new Set<SignalKind>(), zone: new ZoneClock('UTC') })

/** One pattern for a list of terms: each a whole word or phrase, any spacing between its words, any case. */
export function termsPattern(terms: readonly string[]): RegExp {
  const escaped = terms.map((text) => text.trim().toLowerCase().replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/\s+/g, '\\s+'))
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join('|')})(?![\\p{L}\\p{N}])`, 'iu')
}

const minutes = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5))

/** Compiles a checked signals.yaml; `problems` gets `file: path: problem` for what the schema cannot say. */
export function compileSignals(doc: SignalsDocument, problems: string[]): SignalPolicy {
  const agencies = new Map<string, DeclaredHours>()
  for (const [ori, hours] of Object.entries(doc.offHours.agencies)) {
    if (hours.from === hours.to) problems.push(`${signalsFile}: offHours.agencies.${ori}.to: must differ from from (an agency open all day declares no hours)`)
    const zone = hours.timeZone ?? doc.timeZone
    agencies.set(ori, {
      text: `${hours.days.join(',')} ${hours.from}-${hours.to} ${zone}`,
      days: new Set(hours.days),
      from: minutes(hours.from),
      to: minutes(hours.to),
      format: new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
    })
  }
  const on = <T extends { enabled: boolean }>(kind: T) => (kind.enabled ? kind : null)
  const { distinctSubjects, subjectSpread, watchlist, selfLookup, sharedLogin, offHours, repeatSubject, licensingTerms } = doc
  const review = new Set<SignalKind>()
  const kinds: [SignalKind, { enabled: boolean; review: boolean } | undefined][] = [
    ['distinct_subjects', distinctSubjects], ['subject_spread', subjectSpread], ['watchlist', watchlist], ['self_lookup', selfLookup],
    ['shared_login', sharedLogin], ['off_hours', offHours], ['repeat_subject', repeatSubject], ['licensing_terms', licensingTerms],
  ]
  for (const [kind, settings] of kinds) if (settings?.enabled === true && settings.review) review.add(kind)
  return Object.freeze({
    repeatSubject: repeatSubject?.enabled === true ? { queries: repeatSubject.queries, windowSeconds: repeatSubject.windowSeconds } : null,
    licensingTerms:
      licensingTerms?.enabled === true ? { purposes: new Set(licensingTerms.purposes), terms: termsPattern(licensingTerms.terms), windowSeconds: licensingTerms.windowSeconds } : null,
    review,
    zone: new ZoneClock(doc.timeZone),
    distinctSubjects: on(distinctSubjects) && { subjects: distinctSubjects.subjects, windowSeconds: distinctSubjects.windowSeconds },
    subjectSpread: on(subjectSpread) && { officers: subjectSpread.officers, agencies: subjectSpread.agencies, windowSeconds: subjectSpread.windowSeconds },
    watchlist: on(watchlist) && { file: watchlist.file, windowSeconds: watchlist.windowSeconds, hashes: new Set<string>() },
    selfLookup: on(selfLookup) && { windowSeconds: selfLookup.windowSeconds },
    sharedLogin: on(sharedLogin) && { places: sharedLogin.places, windowSeconds: sharedLogin.windowSeconds },
    offHours: on(offHours) && { windowSeconds: offHours.windowSeconds, agencies },
  })
}

/** A keyed hash as SubjectHasher writes it: 22 base64url characters. */
const hashPattern = /^[A-Za-z0-9_-]{22}$/

/**
 * The hashes of a watch-list file: one keyed hash a line (`gatewayctl signals hash-watchlist` makes them),
 * `#` comments and blank lines ignored. Problems as `file: line N: problem`.
 */
export function parseWatchlist(file: string, text: string, problems: string[]): Set<string> {
  const hashes = new Set<string>()
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') return
    if (hashPattern.test(line)) hashes.add(line)
    else problems.push(`${file}: line ${index + 1}: expected a keyed hash of 22 characters (gatewayctl signals hash-watchlist makes them), not an identifier in the clear`)
  })
  return hashes
}

/** The agency's local time when it is outside its declared hours (e.g. `sun 03:12`), or null when inside. */
export function outsideHours(hours: DeclaredHours, now: number): string | null {
  let weekday = ''
  let hour = 0
  let minute = 0
  for (const part of hours.format.formatToParts(now)) {
    if (part.type === 'weekday') weekday = part.value.toLowerCase()
    else if (part.type === 'hour') hour = Number(part.value)
    else if (part.type === 'minute') minute = Number(part.value)
  }
  const at = hour * 60 + minute
  // Hours that pass midnight (from 22:00 to 06:00) are open on either side of it.
  const open = hours.from < hours.to ? at >= hours.from && at < hours.to : at >= hours.from || at < hours.to
  if (open && hours.days.has(weekday)) return null
  return `${weekday} ${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`
}
