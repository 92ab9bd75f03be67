// What each decided query counts towards, per signal kind (issue 13, point 2). Pure: the query as the
// stream saw it, its identifiers' keyed hashes and the signal policy in; the counts to make out. Windows
// are fixed (tumbling): window n of a kind covers [n·w, (n+1)·w), so a signal fires at most once per
// (kind, key, window), and a burst that straddles two windows may count in neither (documented).
import type { SignalPolicy } from '../policy/signals.js'
import { outsideHours } from '../policy/signals.js'
import type { SignalKind } from '../policy/types.js'
import type { SignalCount } from './state.js'

/** A decided query as the signals see it, queued by the query route once its decision is durable. */
export interface Observation {
  readonly id: string
  readonly ori: string
  readonly sub: string
  readonly terminal: string | null
  readonly source: string
  /** The ORI is a registered agency (so it may be a metric label). */
  readonly registered: boolean
  /** The decision's time (epoch ms). */
  readonly time: number
}

/** The keyed hashes of a query's subjects. */
export interface ObservedSubjects {
  /** The lookup's own identifier: what one query counts as one subject. */
  readonly lookup: string
  /** One identifier per person or vehicle the query touched (the lookup's and the returned records'). */
  readonly primary: readonly string[]
  /** Every identifier hash of the lookup and the records (watch-list and self-look-up matching). */
  readonly all: readonly string[]
  /** The officer's own identifiers (token claims), hashed. */
  readonly self: readonly string[]
}

/** A count to make, and the signal it raises. */
export interface PlannedSignal {
  readonly count: SignalCount
  readonly kind: SignalKind
  readonly ori: string
  readonly sub: string | null
  readonly detail: Readonly<Record<string, string | number>>
}

/** At most this many subjects of one query count towards subject_spread (a name look-up may return several people). */
const maxSpreadSubjects = 4

/** The last window seen per width: most queries fall in the window the one before them did. */
const lastWindows = new Map<number, { readonly index: number; readonly start: string }>()

function windowOf(time: number, windowSeconds: number): { readonly index: number; readonly start: string; readonly ttlSeconds: number } {
  const width = windowSeconds * 1000
  const index = Math.floor(time / width)
  let last = lastWindows.get(windowSeconds)
  // The start's ISO text once per window, not once per count (toISOString was a tenth of the signals' cost).
  if (last === undefined || last.index !== index) lastWindows.set(windowSeconds, (last = { index, start: new Date(index * width).toISOString() }))
  return { index, start: last.start, ttlSeconds: Math.max(1, Math.ceil(((index + 1) * width - time) / 1000)) }
}

/** The counts one query makes under the signal policy. */
export function planSignals(policy: SignalPolicy, query: Observation, subjects: ObservedSubjects | null): PlannedSignal[] {
  const planned: PlannedSignal[] = []
  const { ori, sub, id, time } = query
  const officer = `${ori}:${sub}`
  const plan = (kind: SignalKind, windowSeconds: number, key: string, member: string, threshold: number, signalSub: string | null, detail: Record<string, string | number>) => {
    const window = windowOf(time, windowSeconds)
    planned.push({
      count: { key: `${kind}:${window.index}:${key}`, member, threshold, decisionId: id, ttlSeconds: window.ttlSeconds },
      kind,
      ori,
      sub: signalSub,
      // The caller's literal, completed in place: one object a count, not two.
      detail: Object.assign(detail, { windowStart: window.start, windowSeconds }),
    })
  }

  const { distinctSubjects, subjectSpread, watchlist, selfLookup, sharedLogin, offHours } = policy
  if (sharedLogin !== null) {
    // Two terminals, or two addresses, for one user id inside the window: a login used by more than one person.
    plan('shared_login', sharedLogin.windowSeconds, officer, `${query.terminal ?? '-'} ${query.source}`, sharedLogin.places, sub, { places: sharedLogin.places })
  }
  const hours = offHours?.agencies.get(ori)
  if (offHours !== null && hours !== undefined) {
    const localTime = outsideHours(hours, time)
    if (localTime !== null) plan('off_hours', offHours.windowSeconds, officer, id, 1, sub, { declaredHours: hours.text, localTime })
  }
  if (subjects === null) return planned
  if (distinctSubjects !== null) {
    plan('distinct_subjects', distinctSubjects.windowSeconds, officer, subjects.lookup, distinctSubjects.subjects, sub, { subjects: distinctSubjects.subjects })
  }
  if (subjectSpread !== null) {
    for (const subject of subjects.primary.slice(0, maxSpreadSubjects)) {
      plan('subject_spread', subjectSpread.windowSeconds, `officers:${subject}`, officer, subjectSpread.officers, null, { subject, officers: subjectSpread.officers })
      plan('subject_spread', subjectSpread.windowSeconds, `agencies:${subject}`, ori, subjectSpread.agencies, null, { subject, agencies: subjectSpread.agencies })
    }
  }
  if (watchlist !== null && watchlist.hashes.size > 0) {
    for (const subject of subjects.all) if (watchlist.hashes.has(subject)) plan('watchlist', watchlist.windowSeconds, `${officer}:${subject}`, id, 1, sub, { subject })
  }
  if (selfLookup !== null && subjects.self.length > 0) {
    for (const subject of subjects.all) if (subjects.self.includes(subject)) plan('self_lookup', selfLookup.windowSeconds, `${officer}:${subject}`, id, 1, sub, { subject })
  }
  return planned
}
