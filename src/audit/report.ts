// The annual misuse report EFF asked DOJ to require, computed from the ledger rather than reported by
// the agencies themselves (docs/facts.md: counts by category and the number of employees involved). Per
// agency: queries, denials by rule and by category, where only policy misuse (a purpose the PPP or
// S.B. 54 forbids) counts as misuse; throttling, input errors, incomplete queries and missing
// agreements or sanctions are listed apart, since a burst of 429s is not misuse; the officers behind
// the misuse (38 violations by many officers are not one officer's 25); the misuse signals raised by
// kind; and the year's sanctions and agreements. The year is California's: America/Los_Angeles.
import { printable } from '../printable.js'
import { signalKinds, type RuleId, type SignalKind } from '../policy/types.js'
import type { LedgerRecord } from './search.js'

/** What a denial or refusal says about the agency's conduct. */
export const denialCategories = ['policy_misuse', 'incomplete_query', 'agreement', 'sanction', 'throttling', 'input_errors'] as const
export type DenialCategory = (typeof denialCategories)[number]

/**
 * Every rule, classified. A `Record` over the rule ids, so a rule added to ruleIds without a category
 * does not compile (and test/report.test.ts checks it at run time too).
 * - policy_misuse: a use the PPP or S.B. 54 forbids: immigration enforcement on non-criminal data, a
 *   purpose the database does not serve, a purpose outside the agency kind's functions (PC 11077(b));
 * - incomplete_query: a purpose that may be lawful, without the case number or justification it needs;
 * - agreement: no registration or no signed current agreement;
 * - sanction: a sanction of the agency or the officer, or the written-requests measure, in force;
 * - throttling: a rate limit (429);
 * - null: an allow.
 * Input errors are query.rejected records (4xx before any decision), not rules.
 */
export const ruleCategories: Readonly<Record<RuleId, DenialCategory | null>> = {
  'ppp.immigration_non_criminal': 'policy_misuse',
  'ppp.purpose_not_permitted': 'policy_misuse',
  'ppp.purpose_not_for_agency': 'policy_misuse',
  'ppp.case_number_required': 'incomplete_query',
  'ppp.justification_required': 'incomplete_query',
  'agency.unknown': 'agreement',
  'agency.no_agreement': 'agreement',
  'agency.suspended': 'sanction',
  'officer.suspended': 'sanction',
  'agency.written_request_required': 'sanction',
  'rate.user': 'throttling',
  'rate.agency': 'throttling',
  'ppp.permitted': null,
  // An answer given under review (docs/evidence.md): an allow, never misuse until a review finds it so.
  'review.immigration_evidence': null,
}

/** The category of a ledger rule id, or null for an allow or an id no policy names. */
export function categoryOf(rule: string): DenialCategory | null {
  return (ruleCategories as Record<string, DenialCategory | null>)[rule] ?? null
}

export const reportTimeZone = 'America/Los_Angeles'

// Formatters are compiled once: an Intl constructor costs far more than a format.
const zoneParts = new Intl.DateTimeFormat('en-US', { timeZone: reportTimeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
const zoneDate = new Intl.DateTimeFormat('en-CA', { timeZone: reportTimeZone, year: 'numeric', month: '2-digit', day: '2-digit' })

/** How far the zone's wall clock is ahead of UTC at `instant` (ms; negative in California). */
function zoneOffset(instant: number): number {
  const parts = Object.fromEntries(zoneParts.formatToParts(instant).map((part) => [part.type, part.value]))
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second))
  return wall - Math.floor(instant / 1000) * 1000
}

/** The instant a day (`month` from 1) begins in California (epoch ms). */
export function californiaMidnight(year: number, month: number, day: number): number {
  const utcMidnight = Date.UTC(year, month - 1, day)
  // One correction suffices: California's offset does not change within hours of midnight.
  const guess = utcMidnight - zoneOffset(utcMidnight)
  return utcMidnight - zoneOffset(guess)
}

/** The instant 1 January `year` begins in California (epoch ms). */
export function yearStart(year: number): number {
  return californiaMidnight(year, 1, 1)
}

/** The year an instant falls in, in California. */
export function californiaYear(instant: number): number {
  const year = new Date(instant).getUTCFullYear()
  return instant < yearStart(year) ? year - 1 : instant >= yearStart(year + 1) ? year + 1 : year
}

/** `YYYY-MM-DD` of an instant in California. */
export function localDate(instant: number | string): string {
  return zoneDate.format(typeof instant === 'string' ? Date.parse(instant) : instant)
}

export interface AgencyReport {
  ori: string
  name: string
  kind: string
  monitored: boolean
  queries: number
  allowed: number
  denied: number
  deniedByRule: Record<string, number>
  /** Denials and refusals by category; policy_misuse is the misuse. */
  byCategory: Record<DenialCategory, number>
  immigrationNonCriminalAttempts: number
  /** Distinct officers with at least one policy-misuse denial. */
  officersWithMisuse: number
  officers: number
  /** Misuse signals raised (signal.raised) by kind. */
  signals: Record<SignalKind, number>
  sanctionChanges: string[]
  /** Agreements signed in the year (dated by `signedAt`), and revocations recorded in it. */
  agreementChanges: string[]
  /** The agreement in force at the end of the year, as DOJ recorded it by then. */
  agreementAtYearEnd: { version: string; signedAt: string } | null
  /**
   * The review queue (docs/reviews.md): reviews opened in the year still without a finding, and the
   * findings recorded in the year. Only a confirmed finding is misuse; a refused attempt is a denial,
   * an open review a suspicion.
   */
  reviews: { open: number; confirmedMisuse: number; noMisuse: number; referred: number }
  /** Confirmed findings by misuse category (`uncategorised` when the reviewer named none). */
  confirmedByCategory: Record<string, number>
  /** Distinct officers with a confirmed finding in the year. */
  officersWithConfirmedMisuse: number
}

export interface MisuseReport {
  year: number
  timeZone: string
  generatedAt: string
  agencies: AgencyReport[]
  totals: { queries: number; denied: number; policyMisuse: number; immigrationNonCriminalAttempts: number; officersWithMisuse: number; signals: number; agencies: number; openReviews: number; confirmedMisuse: number }
}

/** `count` queries of officer `sub` denied by `rule`, in the agency's tally. */
function countDenials(entry: Tally, sub: string, rule: string, count: number): void {
  entry.report.queries += count
  entry.officers.add(sub)
  entry.report.denied += count
  entry.report.deniedByRule[rule] = (entry.report.deniedByRule[rule] ?? 0) + count
  const category = categoryOf(rule)
  if (category !== null) entry.report.byCategory[category] += count
  if (category === 'policy_misuse') entry.officersWithMisuse.add(sub)
  if (rule === 'ppp.immigration_non_criminal') entry.report.immigrationNonCriminalAttempts += count
}

interface Tally {
  report: AgencyReport
  officers: Set<string>
  officersWithMisuse: Set<string>
  officersConfirmed: Set<string>
}

const zeroCategories = (): Record<DenialCategory, number> => Object.fromEntries(denialCategories.map((category) => [category, 0])) as Record<DenialCategory, number>
const zeroSignals = (): Record<SignalKind, number> => Object.fromEntries(signalKinds.map((kind) => [kind, 0])) as Record<SignalKind, number>

type AgencyAfter = { name: string; kind: string; monitored: boolean; agreement: { version: string; signedAt: string } | null; sanction?: { type: string; scope: string } | null }

/** Builds the report for `year` (California time) from the ledger's records, in any order. */
export async function misuseReport(records: AsyncIterable<LedgerRecord>, year: number, now: Date): Promise<MisuseReport> {
  const from = yearStart(year)
  const to = yearStart(year + 1)
  const tallies = new Map<string, Tally>()
  const tally = (ori: string): Tally => {
    let entry = tallies.get(ori)
    if (entry === undefined) {
      entry = {
        report: { ori, name: '(unregistered)', kind: 'unknown', monitored: false, queries: 0, allowed: 0, denied: 0, deniedByRule: {}, byCategory: zeroCategories(), immigrationNonCriminalAttempts: 0, officersWithMisuse: 0, officers: 0, signals: zeroSignals(), sanctionChanges: [], agreementChanges: [], agreementAtYearEnd: null, reviews: { open: 0, confirmedMisuse: 0, noMisuse: 0, referred: 0 }, confirmedByCategory: {}, officersWithConfirmedMisuse: 0 },
        officers: new Set(),
        officersWithMisuse: new Set(),
        officersConfirmed: new Set(),
      }
      tallies.set(ori, entry)
    }
    return entry
  }
  const latestState = new Map<string, { at: string; after: AgencyAfter }>()
  // Agreements by the day they were signed, not the day an operator typed them in: each once.
  const signed = new Map<string, Set<string>>()
  // Reviews opened in the year, and every opening a finding (of any time up to now) closed.
  const openings = new Map<string, string>()
  const closed = new Set<string>()

  for await (const record of records) {
    const at = Date.parse(record.time)
    if (record.type === 'review.finding') {
      closed.add(record.review as string)
      for (const id of (record.joined as string[] | undefined) ?? []) closed.add(id)
      if (at < from || at >= to) continue
      const entry = tally(record.ori as string)
      const finding = record.finding as string
      if (finding === 'confirmed_misuse') {
        entry.report.reviews.confirmedMisuse++
        const category = (record.category as string | undefined) ?? 'uncategorised'
        entry.report.confirmedByCategory[category] = (entry.report.confirmedByCategory[category] ?? 0) + 1
        entry.officersConfirmed.add(record.sub as string)
      } else if (finding === 'no_misuse') entry.report.reviews.noMisuse++
      else entry.report.reviews.referred++
      continue
    }
    if (record.type === 'operator.change') {
      const after = record.after as AgencyAfter
      const ori = record.ori as string
      // An agency's name, kind and agreement as DOJ last recorded them before the end of the year.
      if (at < to && (latestState.get(ori)?.at ?? '') <= record.time) latestState.set(ori, { at: record.time, after })
      const action = record.action as string
      if (action === 'agreement.record' && after.agreement !== null) {
        const signedAt = Date.parse(after.agreement.signedAt)
        if (signedAt >= from && signedAt < to) {
          const line = `${localDate(signedAt)} signed ${after.agreement.version} (recorded ${localDate(at)}): ${record.reason as string}`
          const key = `${after.agreement.version} ${after.agreement.signedAt}`
          const seen = signed.get(ori) ?? new Set<string>()
          if (!seen.has(key)) tally(ori).report.agreementChanges.push(line)
          seen.add(key)
          signed.set(ori, seen)
        }
      }
      if (at < from || at >= to) continue
      const before = record.before as { sanction?: { type: string } | null } | null
      if (action === 'sanction.impose') tally(ori).report.sanctionChanges.push(`${localDate(at)} ${after.sanction?.type}${after.sanction?.scope === 'non_criminal_history' ? ' (non-criminal history)' : ''}: ${record.reason as string}`)
      if (action === 'sanction.lift' && before?.sanction) tally(ori).report.sanctionChanges.push(`${localDate(at)} reinstated from ${before.sanction.type}: ${record.reason as string}`)
      if (action === 'agreement.revoke') tally(ori).report.agreementChanges.push(`${localDate(at)} revoked: ${record.reason as string}`)
      continue
    }
    if (at < from || at >= to) continue
    if (record.type === 'review.opened') {
      // The bound key: at most one review of it is open at a time, whatever joined it.
      openings.set(record.id as string, [record.ori, record.officer, record.source, record.signal ?? ''].map((part) => encodeURIComponent(String(part))).join(':'))
      continue
    }
    if (record.type === 'signal.raised') {
      const kind = record.kind as SignalKind
      const signals = tally(record.ori as string).report.signals
      if (kind in signals) signals[kind]++
      continue
    }
    if (record.type === 'query.rejected') {
      // Refused before any decision: bad input, or over a rate limit with it (status 429).
      tally(record.ori as string).report.byCategory[record.rule === undefined ? 'input_errors' : 'throttling']++
      continue
    }
    if (record.type === 'query.refusals') {
      // One officer's refusals of a minute past the refusal budget, summarised: each counts as the
      // query.decision or query.rejected record it would have been.
      const entry = tally(record.ori as string)
      for (const refusal of record.refusals as { record: string; rule?: string; count: number }[]) {
        // An operator call refused for want of authority is no query: it is not the agency's misuse.
        if (refusal.record === 'operator.refused') continue
        if (refusal.record === 'query.rejected') entry.report.byCategory[refusal.rule === undefined ? 'input_errors' : 'throttling'] += refusal.count
        else countDenials(entry, record.sub as string, refusal.rule ?? '', refusal.count)
      }
      continue
    }
    if (record.type !== 'query.decision') continue
    const entry = tally(record.ori as string)
    const sub = record.sub as string
    if (record.outcome === 'allow') {
      entry.report.queries++
      entry.officers.add(sub)
      entry.report.allowed++
      continue
    }
    countDenials(entry, sub, record.rule as string, 1)
  }

  // An opening that joined an open review is closed by that review's finding (its `joined`). The open
  // reviews are the bound keys (agency, officer, source, signal kind) with an opening still unclosed:
  // the store keeps at most one review of a key open at a time (docs/reviews.md).
  const openKeys = new Set<string>()
  for (const [id, key] of openings) if (!closed.has(id)) openKeys.add(key)
  for (const key of openKeys) tally(decodeURIComponent(key.slice(0, key.indexOf(':')))).report.reviews.open++
  const agencies = [...tallies.values()].map(({ report, officers, officersWithMisuse, officersConfirmed }) => {
    const known = latestState.get(report.ori)?.after
    return {
      ...report,
      ...(known === undefined ? {} : { name: known.name, kind: known.kind, monitored: known.monitored, agreementAtYearEnd: known.agreement }),
      officers: officers.size,
      officersWithMisuse: officersWithMisuse.size,
      officersWithConfirmedMisuse: officersConfirmed.size,
    }
  })
  agencies.sort((left, right) => right.byCategory.policy_misuse - left.byCategory.policy_misuse || right.denied - left.denied || left.ori.localeCompare(right.ori))
  const sum = (count: (agency: AgencyReport) => number) => agencies.reduce((total, agency) => total + count(agency), 0)
  return {
    year,
    timeZone: reportTimeZone,
    generatedAt: now.toISOString(),
    agencies,
    totals: {
      queries: sum((agency) => agency.queries),
      denied: sum((agency) => agency.denied),
      policyMisuse: sum((agency) => agency.byCategory.policy_misuse),
      immigrationNonCriminalAttempts: sum((agency) => agency.immigrationNonCriminalAttempts),
      officersWithMisuse: sum((agency) => agency.officersWithMisuse),
      signals: sum((agency) => Object.values(agency.signals).reduce((total, count) => total + count, 0)),
      agencies: agencies.length,
      openReviews: sum((agency) => agency.reviews.open),
      confirmedMisuse: sum((agency) => agency.reviews.confirmedMisuse),
    },
  }
}

// The public variant: what DOJ may publish. Refused attempts (denials: the gateway stopped them) and
// findings a DOJ reviewer confirmed; never an unreviewed signal or an open review, which are suspicions. Per agency and category, counts only:
// no reasons (operators' free text), no officer ids, no subjects; a count below the threshold (1 to
// threshold-1) shown as `<N`, so a small count cannot point at one officer or one person. Zero stays 0:
// "no immigration attempts" is the finding, and it names nobody.

export interface PublicAgencyRow {
  ori: string
  name: string
  kind: string
  monitored: boolean
  queries: number | string
  byCategory: Record<DenialCategory, number | string>
  immigrationNonCriminalAttempts: number | string
  officersWithMisuse: number | string
  /** Findings a DOJ reviewer confirmed as misuse, and by category: never an open review or an unreviewed signal. */
  confirmedMisuse: number | string
  confirmedByCategory: Record<string, number | string>
  officersWithConfirmedMisuse: number | string
}

export interface PublicMisuseReport {
  year: number
  timeZone: string
  generatedAt: string
  suppressBelow: number
  agencies: PublicAgencyRow[]
}

/** A count as published: `<threshold` for 1 to threshold-1. */
export function suppressed(count: number, threshold: number): number | string {
  return count > 0 && count < threshold ? `<${threshold}` : count
}

/** The report cut down to what may be published (see above). */
export function publicReport(report: MisuseReport, suppressBelow: number): PublicMisuseReport {
  const cell = (count: number) => suppressed(count, suppressBelow)
  const cells = <K extends string>(counts: Record<K, number>) => Object.fromEntries(Object.entries<number>(counts).map(([key, count]) => [key, cell(count)])) as Record<K, number | string>
  return {
    year: report.year,
    timeZone: report.timeZone,
    generatedAt: report.generatedAt,
    suppressBelow,
    agencies: report.agencies.map((agency) => ({
      ori: agency.ori,
      name: agency.name,
      kind: agency.kind,
      monitored: agency.monitored,
      queries: cell(agency.queries),
      byCategory: cells(agency.byCategory),
      immigrationNonCriminalAttempts: cell(agency.immigrationNonCriminalAttempts),
      officersWithMisuse: cell(agency.officersWithMisuse),
      confirmedMisuse: cell(agency.reviews.confirmedMisuse),
      confirmedByCategory: cells(agency.confirmedByCategory),
      officersWithConfirmedMisuse: cell(agency.officersWithConfirmedMisuse),
    })),
  }
}

const federalOrMonitored = (agency: { kind: string; monitored: boolean }) => agency.kind === 'federal' || agency.monitored
const counted = (counts: Record<string, number | string>, none: string) =>
  Object.entries(counts)
    .filter(([, count]) => count !== 0)
    .sort(([left], [right]) => left.localeCompare(right))
    .map(([key, count]) => `${key} ${count}`)
    .join(', ') || none

// Agency names, reasons and versions are typed by operators; ORIs and rules come from the ledger.
// Every text cell is escaped where it is written, for the format it is written in.

// What Markdown would read as structure inside a cell: a backslash (which would undo our escapes),
// the cell separator, and what opens HTML, a link, code or emphasis. Not `_`: it emphasises only
// around words, never inside one, and every rule id has one.
const markdownActive = /[\\|<[\]`*~]/g

/** A Markdown table cell that renders as the text it holds, on one row. */
export function markdownCell(text: string): string {
  // Markdown first, then the controls: the escapes printable() writes must keep their one backslash.
  return printable(text.replace(markdownActive, '\\$&'))
}

// A spreadsheet takes a cell starting with one of these as a formula (OWASP, "CSV injection").
const formulaStart = /^[=+\-@\t\r]/
const csvQuoted = /[",\r\n]/
const quotes = /"/g

/**
 * A CSV field (RFC 4180): controls shown as escapes, since the report is printed on terminals too, so
 * each agency is one line; a would-be formula prefixed with an apostrophe, which spreadsheets show as
 * text; quoted when it holds a quote, a comma or that prefix.
 */
export function csvField(value: string | number | boolean): string {
  const raw = String(value)
  const formula = formulaStart.test(raw)
  const text = formula ? `'${printable(raw)}` : printable(raw)
  return formula || csvQuoted.test(text) ? `"${text.replace(quotes, '""')}"` : text
}

/** A CSV text: the header and one line per row. */
export function csvText(header: readonly string[], rows: readonly (readonly (string | number | boolean)[])[]): string {
  return `${[header.join(','), ...rows.map((row) => row.map(csvField).join(','))].join('\n')}\n`
}

/** A Markdown table whose cells are escaped (numbers as they are), or `(none)`. */
export function markdownRows(header: readonly string[], align: string, rows: readonly (readonly (string | number)[])[]): string[] {
  if (rows.length === 0) return ['(none)']
  return [`| ${header.join(' | ')} |`, align, ...rows.map((row) => `| ${row.map((cell) => (typeof cell === 'number' ? String(cell) : markdownCell(cell))).join(' | ')} |`)]
}

const agreementText = (agreement: AgencyReport['agreementAtYearEnd']) => (agreement === null ? 'none' : `${agreement.version} (signed ${localDate(agreement.signedAt)})`)

function markdownTable(agencies: readonly AgencyReport[]): string[] {
  return markdownRows(
    ['ORI', 'agency', 'kind', 'queries', 'denied', 'refused: policy misuse', 'officers refused', 'refused: immigration × non-criminal', 'other denials and refusals', 'denials by rule', 'signals (unreviewed)', 'sanctions', 'agreement'],
    '|---|---|---|---:|---:|---:|---:|---:|---|---|---|---|---|',
    agencies.map((agency) => {
      const { policy_misuse: misuse, ...others } = agency.byCategory
      return [
        agency.ori,
        agency.name,
        `${agency.kind}${agency.monitored ? ', monitored' : ''}`,
        agency.queries,
        agency.denied,
        misuse,
        `${agency.officersWithMisuse} of ${agency.officers}`,
        agency.immigrationNonCriminalAttempts,
        counted(others, '-'),
        counted(agency.deniedByRule, '-'),
        counted(agency.signals, '-'),
        agency.sanctionChanges.join('; ') || '-',
        [agreementText(agency.agreementAtYearEnd), ...agency.agreementChanges].join('; '),
      ]
    }),
  )
}

const introduction = (year: number, generatedAt: string) =>
  `Computed from the gateway's audit ledger on ${generatedAt}; the year ${year} in California time (${reportTimeZone}). Refused attempts are queries the gateway denied: policy misuse is a purpose the PPP or S.B. 54 forbids (immigration enforcement on non-criminal-history data, a purpose the database does not serve, a purpose outside the agency's functions); throttling, input errors, incomplete queries (no case number or justification) and missing agreements or sanctions are counted apart. Misuse signals and open reviews are suspicions; only a finding a DOJ reviewer confirmed is misuse.`

/** The review queue per agency: open reviews (suspicions) apart from findings. */
function findingsTable(agencies: readonly AgencyReport[]): string[] {
  return markdownRows(
    ['ORI', 'agency', 'open reviews', 'confirmed misuse', 'confirmed by category', 'officers with confirmed misuse', 'no misuse', 'referred'],
    '|---|---|---:|---:|---|---:|---:|---:|',
    agencies
      .filter((agency) => agency.reviews.open + agency.reviews.confirmedMisuse + agency.reviews.noMisuse + agency.reviews.referred > 0)
      .map((agency) => [agency.ori, agency.name, agency.reviews.open, agency.reviews.confirmedMisuse, counted(agency.confirmedByCategory, '-'), agency.officersWithConfirmedMisuse, agency.reviews.noMisuse, agency.reviews.referred]),
  )
}

/** The report as Markdown: totals, then federal and monitored agencies, then the others. */
export function reportMarkdown(report: MisuseReport): string {
  const { totals } = report
  return [
    `# CLETS misuse report ${report.year}`,
    '',
    introduction(report.year, report.generatedAt),
    '',
    `${totals.agencies} agencies, ${totals.queries} queries, ${totals.denied} denied, ${totals.policyMisuse} refused attempts of policy misuse by ${totals.officersWithMisuse} officers, ${totals.immigrationNonCriminalAttempts} refused immigration-purpose attempts on non-criminal-history databases (S.B. 54), ${totals.signals} misuse signals (unreviewed), ${totals.openReviews} open reviews, ${totals.confirmedMisuse} confirmed findings of misuse.`,
    '',
    '## Federal and monitored agencies',
    '',
    ...markdownTable(report.agencies.filter(federalOrMonitored)),
    '',
    '## Other agencies',
    '',
    ...markdownTable(report.agencies.filter((agency) => !federalOrMonitored(agency))),
    '',
    '## Reviews and findings',
    '',
    ...findingsTable(report.agencies),
    '',
  ].join('\n')
}

/** The report as CSV, one row per agency (RFC 4180 quoting); an empty field where the Markdown says "-". */
export function reportCsv(report: MisuseReport): string {
  const header = ['year', 'ori', 'agency', 'kind', 'monitored', 'queries', 'allowed', 'denied', ...denialCategories, 'officers_with_misuse', 'officers', 'immigration_non_criminal_attempts', 'denials_by_rule', ...signalKinds.map((kind) => `signal_${kind}`), 'sanction_changes', 'agreement_at_year_end', 'agreement_changes', 'open_reviews', 'confirmed_misuse', 'confirmed_by_category', 'officers_with_confirmed_misuse', 'no_misuse', 'referred']
  return csvText(
    header,
    report.agencies.map((agency) => [
      report.year, agency.ori, agency.name, agency.kind, agency.monitored, agency.queries, agency.allowed, agency.denied,
      ...denialCategories.map((category) => agency.byCategory[category]),
      agency.officersWithMisuse, agency.officers, agency.immigrationNonCriminalAttempts, counted(agency.deniedByRule, ''),
      ...signalKinds.map((kind) => agency.signals[kind]),
      agency.sanctionChanges.join('; '), agency.agreementAtYearEnd === null ? '' : agreementText(agency.agreementAtYearEnd), agency.agreementChanges.join('; '),
      agency.reviews.open, agency.reviews.confirmedMisuse, counted(agency.confirmedByCategory, ''), agency.officersWithConfirmedMisuse, agency.reviews.noMisuse, agency.reviews.referred,
    ]),
  )
}

/** The public variant as Markdown. */
export function publicReportMarkdown(report: PublicMisuseReport): string {
  const rows = (agencies: readonly PublicAgencyRow[]) =>
    markdownRows(
      ['ORI', 'agency', 'kind', 'queries', ...denialCategories.map((category) => `refused: ${category.replace('_', ' ')}`), 'officers refused', 'refused: immigration × non-criminal', 'confirmed misuse', 'confirmed by category', 'officers with confirmed misuse'],
      `|---|---|---|${'---:|'.repeat(denialCategories.length + 4)}---|---:|`,
      agencies.map((agency) => [agency.ori, agency.name, `${agency.kind}${agency.monitored ? ', monitored' : ''}`, String(agency.queries), ...denialCategories.map((category) => String(agency.byCategory[category])), String(agency.officersWithMisuse), String(agency.immigrationNonCriminalAttempts), String(agency.confirmedMisuse), counted(agency.confirmedByCategory, '0'), String(agency.officersWithConfirmedMisuse)]),
    )
  return [
    `# CLETS misuse report ${report.year} (public)`,
    '',
    introduction(report.year, report.generatedAt),
    `Counts from 1 to ${report.suppressBelow - 1} are shown as \`<${report.suppressBelow}\`; no officer, subject or reason is published. "Refused" columns count attempts the gateway refused; "confirmed misuse" counts findings a DOJ reviewer confirmed. Unreviewed signals and open reviews are not published.`,
    '',
    '## Federal and monitored agencies',
    '',
    ...rows(report.agencies.filter(federalOrMonitored)),
    '',
    '## Other agencies',
    '',
    ...rows(report.agencies.filter((agency) => !federalOrMonitored(agency))),
    '',
  ].join('\n')
}

/** The public variant as CSV. */
export function publicReportCsv(report: PublicMisuseReport): string {
  return csvText(
    ['year', 'ori', 'agency', 'kind', 'monitored', 'queries', ...denialCategories.map((category) => `refused_${category}`), 'officers_refused', 'refused_immigration_non_criminal', 'confirmed_misuse', 'confirmed_by_category', 'officers_with_confirmed_misuse'],
    report.agencies.map((agency) => [report.year, agency.ori, agency.name, agency.kind, agency.monitored, agency.queries, ...denialCategories.map((category) => agency.byCategory[category]), agency.officersWithMisuse, agency.immigrationNonCriminalAttempts, agency.confirmedMisuse, counted(agency.confirmedByCategory, ''), agency.officersWithConfirmedMisuse]),
  )
}
