// The compliance report (issue 13, point 5): which agencies filed their annual misuse report for a year,
// which are overdue, the reporting rate DOJ tracked (58% in 2017, 98% in 2018: docs/facts.md), and each
// agency's self-reported figures beside what the ledger shows (policy-misuse denials, officers behind
// them, misuse signals, reviews and confirmed findings): an agency filing "no violations" while a DOJ
// reviewer confirmed misuse is the case
// DOJ's audit exists for (EFF asked DOJ to audit DHS rather than let it investigate itself).
import type { AgencyState } from '../policy/types.js'
import type { MisuseFiling } from '../state/types.js'
import { californiaMidnight, localDate, markdownRows, type MisuseReport } from './report.js'

/**
 * When a year's filing is due: the end of 31 March of the next year, California time. The sources (docs/facts.md) give
 * no date, only that agencies report annually and that ICE's Orange County office "had still not
 * reported by June 2019" (for 2018): our choice, a quarter after the year ends, is consistent with that.
 */
export function filingDueAt(year: number): number {
  return californiaMidnight(year + 1, 4, 1)
}

export type FilingStatus = 'filed' | 'overdue' | 'not_yet_due'

export interface ComplianceRow {
  ori: string
  name: string
  kind: string
  status: FilingStatus
  filing: MisuseFiling | null
  ledger: { policyMisuse: number; officersWithMisuse: number; immigrationNonCriminalAttempts: number; signals: number; openReviews: number; confirmedMisuse: number }
  /**
   * A DOJ reviewer confirmed misuse of the agency in the year and it filed no violations (or nothing
   * yet). Refused attempts, signals and open reviews are suspicions, not findings: they never mark it.
   */
  unreported: boolean
}

export interface ComplianceReport {
  year: number
  generatedAt: string
  dueAt: string
  expected: number
  filed: number
  overdue: number
  /** filed / expected, 0 to 1 (null when no agency is expected to file). */
  reportingRate: number | null
  agencies: ComplianceRow[]
}

/**
 * Sets the registry, the year's filings and the year's misuse report side by side at `now`. Every
 * agency registered now is expected to file, unless the ledger shows it registered after the year.
 */
export function complianceReport(year: number, agencies: readonly AgencyState[], filings: readonly MisuseFiling[], misuse: MisuseReport, registeredAt: ReadonlyMap<string, number>, now: number): ComplianceReport {
  const dueAt = filingDueAt(year)
  const yearEnd = californiaMidnight(year + 1, 1, 1)
  const filingOf = new Map(filings.filter((filing) => filing.year === year).map((filing) => [filing.ori, filing]))
  const ledgerOf = new Map(misuse.agencies.map((agency) => [agency.ori, agency]))
  const rows: ComplianceRow[] = agencies
    .filter((agency) => (registeredAt.get(agency.ori) ?? -Infinity) < yearEnd)
    .map((agency) => {
      const filing = filingOf.get(agency.ori) ?? null
      const shown = ledgerOf.get(agency.ori)
      const ledger = {
        policyMisuse: shown?.byCategory.policy_misuse ?? 0,
        officersWithMisuse: shown?.officersWithMisuse ?? 0,
        immigrationNonCriminalAttempts: shown?.immigrationNonCriminalAttempts ?? 0,
        signals: shown === undefined ? 0 : Object.values(shown.signals).reduce((sum, count) => sum + count, 0),
        openReviews: shown?.reviews.open ?? 0,
        confirmedMisuse: shown?.reviews.confirmedMisuse ?? 0,
      }
      return {
        ori: agency.ori,
        name: agency.name,
        kind: agency.kind,
        status: filing !== null ? 'filed' : now >= dueAt ? 'overdue' : 'not_yet_due',
        filing,
        ledger,
        unreported: ledger.confirmedMisuse > 0 && (filing?.violations ?? 0) === 0,
      }
    })
  const order: Record<FilingStatus, number> = { overdue: 0, not_yet_due: 1, filed: 2 }
  rows.sort((left, right) => order[left.status] - order[right.status] || Number(right.unreported) - Number(left.unreported) || left.ori.localeCompare(right.ori))
  const filed = rows.filter((row) => row.status === 'filed').length
  return {
    year,
    generatedAt: new Date(now).toISOString(),
    dueAt: new Date(dueAt).toISOString(),
    expected: rows.length,
    filed,
    overdue: rows.filter((row) => row.status === 'overdue').length,
    reportingRate: rows.length === 0 ? null : filed / rows.length,
    agencies: rows,
  }
}

/** Notes when the ledger first shows an agency registered (its agency.register record), into `first`. */
export function noteRegistration(first: Map<string, number>, record: { type: string; time: string; action?: unknown; ori?: unknown }): void {
  if (record.type !== 'operator.change' || record.action !== 'agency.register') return
  const at = Date.parse(record.time)
  const ori = record.ori as string
  if (!(at >= (first.get(ori) ?? Infinity))) first.set(ori, at)
}

const rate = (report: ComplianceReport) => (report.reportingRate === null ? 'n/a' : `${Math.round(report.reportingRate * 1000) / 10}%`)
const figure = (filing: MisuseFiling | null, pick: (filing: MisuseFiling) => number) => (filing === null ? '-' : pick(filing))
const counted = (counts: Readonly<Record<string, number | undefined>>) =>
  Object.entries(counts)
    .filter(([, count]) => (count ?? 0) > 0)
    .map(([key, count]) => `${key} ${count}`)
    .join(', ') || '-'

/** The compliance report as Markdown: the rate, then one row per agency expected to file. */
export function complianceMarkdown(report: ComplianceReport): string {
  return [
    `# CLETS misuse filings ${report.year}`,
    '',
    `Computed on ${report.generatedAt} from DOJ's record of the agencies' filings and the gateway's audit ledger. Filings for ${report.year} were due by ${localDate(Date.parse(report.dueAt) - 1)} (end of day, California time). ${report.filed} of ${report.expected} agencies filed (reporting rate ${rate(report)}); ${report.overdue} overdue. "Unreported" marks an agency with misuse a DOJ reviewer confirmed while it filed no violations; refused attempts, misuse signals and open reviews are suspicions and never mark it.`,
    '',
    ...markdownRows(
      ['ORI', 'agency', 'kind', 'status', 'filed: investigations', 'violations', 'individuals', 'pending', 'discipline', 'categories', 'ledger: policy misuse', 'officers with misuse', 'immigration × non-criminal', 'signals', 'open reviews', 'confirmed misuse', 'unreported'],
      `|---|---|---|---|${'---:|'.repeat(4)}---|---|${'---:|'.repeat(6)}---|`,
      report.agencies.map((row) => [
        row.ori,
        row.name,
        row.kind,
        row.status.replaceAll('_', ' '),
        figure(row.filing, (filing) => filing.investigations),
        figure(row.filing, (filing) => filing.violations),
        figure(row.filing, (filing) => filing.individuals),
        figure(row.filing, (filing) => filing.pending),
        row.filing === null ? '-' : counted(row.filing.discipline),
        row.filing === null ? '-' : counted(row.filing.categories),
        row.ledger.policyMisuse,
        row.ledger.officersWithMisuse,
        row.ledger.immigrationNonCriminalAttempts,
        row.ledger.signals,
        row.ledger.openReviews,
        row.ledger.confirmedMisuse,
        row.unreported ? 'yes' : 'no',
      ]),
    ),
    '',
  ].join('\n')
}
