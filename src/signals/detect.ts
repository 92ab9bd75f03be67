// What each decided query counts towards, per signal kind (issue 13, point 2). Pure: the query as the
// stream saw it, its identifiers' keyed hashes and the signal policy in; the counts to make out. Windows
// are fixed (tumbling): window n of a kind covers [n·w, (n+1)·w), so a signal fires at most once per
// (kind, key, window), and a burst that straddles two windows may count in neither (documented).
import type { SignalPolicy, ZoneClock } from '../policy/signals.js'
import { outsideHours } from '../policy/signals.js'
import type { SignalKind } from '../policy/types.js'
import type { SignalCount } from './state.js'

/** A decided query as the signals see it, queued by the query route once its decision is durable. */
export interface Observation {
  readonly id: string
  readonly ori: string
  /** The user id as the token spells it. */
  readonly sub: string
  /**
   * The person (the sub folded: NFKC, lower case), which the signals count: `L8-OFFICER` and
   * `l8-officer` are one officer, and a signal names them by this id.
   */
  readonly officer: string
  readonly terminal: string | null
  readonly source: string
  /** The ORI is a registered agency (so it may be a metric label). */
  readonly registered: boolean
  /** The decision's time (epoch ms). */
  readonly time: number
  /** The declared purpose and the justification, when given (licensing_terms reads them). */
  readonly purpose?: string | undefined
  readonly justification?: string | undefined
}

/** The keyed hashes of a query's subjects. */
export interface ObservedSubjects {
  /** The lookup's identifiers, its own first: what one query counts as one subject. */
  readonly lookup: readonly string[]
  /** One identifier per person or vehicle the query touched (the lookup's and the returned records'), each once. */
  readonly primary: readonly string[]
  /** The identifiers of the records returned (with the lookup's: watch-list and self-look-up matching). */
  readonly returned: readonly string[]
  /** The officer's own identifiers (token claims), hashed. */
  readonly self: readonly string[]
}

/**
 * A count to make, and the signal it raises. Its detail is completed only when it raises (signalDetail):
 * nearly every count raises nothing, so a count is one object, not three.
 */
export interface PlannedSignal extends SignalCount {
  readonly kind: SignalKind
  readonly ori: string
  readonly sub: string | null
  /** The subject the signal names (a keyed hash), or null. */
  readonly subject: string | null
  /** The kind's own detail (its threshold, or the declared hours). */
  readonly detail: Readonly<Record<string, string | number>>
  readonly windowStart: string
  readonly windowSeconds: number
}

/** A raised signal's detail: the subject, the kind's own, the window and the count reached. */
export function signalDetail(plan: PlannedSignal, count: number): Record<string, string | number> {
  const { detail, windowStart, windowSeconds } = plan
  return plan.subject === null ? { ...detail, windowStart, windowSeconds, count } : { subject: plan.subject, ...detail, windowStart, windowSeconds, count }
}

/** At most this many subjects of one query count towards subject_spread (a name look-up may return several people). */
const maxSpreadSubjects = 4

interface Window {
  readonly seconds: number
  readonly start: number
  readonly end: number
  readonly startText: string
  /** The kind and the window's index: the scope of every key counted in it. */
  readonly prefix: string
}

/**
 * The last window seen per kind: most queries fall in the window the one before them did, so its start's
 * ISO text and its keys' scope are made once per window, not once per count (toISOString was a tenth of
 * the signals' cost, the index's text and the key's concatenation a tenth again).
 */
const lastWindows = new Map<SignalKind, Window>()

/**
 * The window of `kind` that holds `time`. A window of whole hours (an hour, a day, a week) starts on the
 * policy's time zone's hours: a day is California's day, midnight to midnight, not UTC's (which starts at
 * 4 or 5 p.m. there). Its length is fixed; on the days clocks change, a day's window is 24 h from the
 * midnight of the offset in force at the query.
 */
function windowOf(kind: SignalKind, time: number, seconds: number, zone: ZoneClock): Window {
  const last = lastWindows.get(kind)
  if (last !== undefined && last.seconds === seconds && time >= last.start && time < last.end) return last
  const width = seconds * 1000
  const offset = seconds % 3600 === 0 ? zone.offsetAt(time) : 0
  const index = Math.floor((time + offset) / width)
  const start = index * width - offset
  const window = { seconds, start, end: start + width, startText: new Date(start).toISOString(), prefix: `${kind}:${index}:` }
  lastWindows.set(kind, window)
  return window
}

/**
 * The identifiers of the lookup then of the records that `matches` holds, each once: the lookup's and the
 * records' are not merged into one list per query, as hits are rare.
 */
function matching(subjects: ObservedSubjects, matches: (hash: string) => boolean): string[] {
  const hits: string[] = []
  for (const list of [subjects.lookup, subjects.returned]) for (const hash of list) if (matches(hash) && !hits.includes(hash)) hits.push(hash)
  return hits
}

/** The counts one query makes under the signal policy, appended to `into`. */
export function planSignals(policy: SignalPolicy, query: Observation, subjects: ObservedSubjects | null, into: PlannedSignal[] = []): PlannedSignal[] {
  const { ori, id, time } = query
  const sub = query.officer
  const officer = `${ori}:${sub}`
  const plan = (kind: SignalKind, seconds: number, key: string, facet: string, member: string, threshold: number, signalSub: string | null, subject: string | null, detail: Record<string, string | number>) => {
    const window = windowOf(kind, time, seconds, policy.zone)
    into.push({
      scope: window.prefix,
      key,
      facet,
      member,
      threshold,
      decisionId: id,
      ttlSeconds: Math.max(1, Math.ceil((window.end - time) / 1000)),
      kind,
      ori,
      sub: signalSub,
      subject,
      detail,
      windowStart: window.startText,
      windowSeconds: seconds,
    })
  }

  const { distinctSubjects, subjectSpread, watchlist, selfLookup, sharedLogin, offHours, licensingTerms, repeatSubject } = policy
  if (licensingTerms !== null && query.justification !== undefined && query.purpose !== undefined && licensingTerms.purposes.has(query.purpose)) {
    // The Chula Vista pattern: a licensing, employment or CCW check run as a criminal investigation. One
    // regular expression over the justification, only for the purposes listed; it fires once per officer and window.
    const found = licensingTerms.terms.exec(query.justification)
    if (found !== null) plan('licensing_terms', licensingTerms.windowSeconds, officer, '', id, 1, sub, null, { purpose: query.purpose, term: found[0].slice(0, 60) })
  }
  if (sharedLogin !== null) {
    // Two terminals, or two addresses, for one user id inside the window: a login used by more than one person.
    plan('shared_login', sharedLogin.windowSeconds, officer, '', `${query.terminal ?? '-'} ${query.source}`, sharedLogin.places, sub, null, { places: sharedLogin.places })
  }
  const hours = offHours?.agencies.get(ori)
  if (offHours !== null && hours !== undefined) {
    const localTime = outsideHours(hours, time)
    if (localTime !== null) plan('off_hours', offHours.windowSeconds, officer, '', id, 1, sub, null, { declaredHours: hours.text, localTime })
  }
  if (subjects === null) return into
  if (distinctSubjects !== null) {
    plan('distinct_subjects', distinctSubjects.windowSeconds, officer, '', subjects.lookup[0]!, distinctSubjects.subjects, sub, null, { subjects: distinctSubjects.subjects })
  }
  if (repeatSubject !== null) {
    // The same person queried again and again by one officer (the ex-partner, the stalking cases): one
    // key per officer and the lookup's subject, its members the decisions.
    const subject = subjects.lookup[0]!
    plan('repeat_subject', repeatSubject.windowSeconds, `${officer}:${subject}`, '', id, repeatSubject.queries, sub, subject, { queries: repeatSubject.queries })
  }
  if (subjectSpread !== null) {
    // One key per subject with two facets, the officers and the agencies, which share its decisions.
    const { primary } = subjects
    for (let index = 0; index < primary.length && index < maxSpreadSubjects; index++) {
      const subject = primary[index]!
      plan('subject_spread', subjectSpread.windowSeconds, subject, 'officers', officer, subjectSpread.officers, null, subject, { officers: subjectSpread.officers })
      plan('subject_spread', subjectSpread.windowSeconds, subject, 'agencies', ori, subjectSpread.agencies, null, subject, { agencies: subjectSpread.agencies })
    }
  }
  if (watchlist !== null && watchlist.hashes.size > 0) {
    for (const subject of matching(subjects, (hash) => watchlist.hashes.has(hash))) plan('watchlist', watchlist.windowSeconds, `${officer}:${subject}`, '', id, 1, sub, subject, {})
  }
  if (selfLookup !== null && subjects.self.length > 0) {
    for (const subject of matching(subjects, (hash) => subjects.self.includes(hash))) plan('self_lookup', selfLookup.windowSeconds, `${officer}:${subject}`, '', id, 1, sub, subject, {})
  }
  return into
}
