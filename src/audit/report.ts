// The annual misuse report EFF asked DOJ to require, computed from the ledger rather than reported by
// the agencies themselves: per agency, queries, denials by rule, immigration-purpose attempts on
// non-criminal-history databases, the number of distinct officers behind the denials (38 violations
// by many officers are not one officer's 25), and the sanctions and agreement changes of the year;
// federal and monitored agencies are listed on their own.
import { printable } from '../printable.js'
import type { LedgerRecord } from './search.js'

export interface AgencyReport {
  ori: string
  name: string
  kind: string
  monitored: boolean
  queries: number
  allowed: number
  denied: number
  deniedByRule: Record<string, number>
  immigrationNonCriminalAttempts: number
  officersInDenials: number
  officers: number
  sanctionChanges: string[]
  agreementChanges: string[]
}

export interface MisuseReport {
  year: number
  generatedAt: string
  agencies: AgencyReport[]
  totals: { queries: number; denied: number; immigrationNonCriminalAttempts: number; agencies: number }
}

interface Tally {
  report: AgencyReport
  officers: Set<string>
  officersInDenials: Set<string>
}

/** Builds the report for `year` (UTC) from the ledger's records, in any order. */
export async function misuseReport(records: AsyncIterable<LedgerRecord>, year: number, now: Date): Promise<MisuseReport> {
  const from = Date.UTC(year, 0, 1)
  const to = Date.UTC(year + 1, 0, 1)
  const tallies = new Map<string, Tally>()
  const tally = (ori: string): Tally => {
    let entry = tallies.get(ori)
    if (entry === undefined) {
      entry = {
        report: { ori, name: '(unregistered)', kind: 'unknown', monitored: false, queries: 0, allowed: 0, denied: 0, deniedByRule: {}, immigrationNonCriminalAttempts: 0, officersInDenials: 0, officers: 0, sanctionChanges: [], agreementChanges: [] },
        officers: new Set(),
        officersInDenials: new Set(),
      }
      tallies.set(ori, entry)
    }
    return entry
  }
  const latestState = new Map<string, { at: string; name: string; kind: string; monitored: boolean }>()

  for await (const record of records) {
    const at = Date.parse(record.time)
    if (record.type === 'operator.change') {
      const after = record.after as { name: string; kind: string; monitored: boolean } | undefined
      const ori = record.ori as string
      // An agency's name and kind as DOJ last recorded them before the end of the year.
      if (after !== undefined && at < to && (latestState.get(ori)?.at ?? '') <= record.time) latestState.set(ori, { at: record.time, name: after.name, kind: after.kind, monitored: after.monitored })
      if (at < from || at >= to) continue
      const action = record.action as string
      const before = record.before as { sanction?: { type: string } | null } | null
      const sanction = (record.after as { sanction?: { type: string; scope: string } | null }).sanction
      if (action === 'sanction.impose') tally(ori).report.sanctionChanges.push(`${record.time.slice(0, 10)} ${sanction?.type}${sanction?.scope === 'non_criminal_history' ? ' (non-criminal history)' : ''}: ${record.reason as string}`)
      if (action === 'sanction.lift' && before?.sanction) tally(ori).report.sanctionChanges.push(`${record.time.slice(0, 10)} reinstated from ${before.sanction.type}: ${record.reason as string}`)
      if (action === 'agreement.record' || action === 'agreement.revoke') {
        const agreement = (record.after as { agreement?: { version: string } | null }).agreement
        tally(ori).report.agreementChanges.push(`${record.time.slice(0, 10)} ${action === 'agreement.record' ? `signed ${agreement?.version}` : 'revoked'}: ${record.reason as string}`)
      }
      continue
    }
    if (record.type !== 'query.decision' || at < from || at >= to) continue
    const entry = tally(record.ori as string)
    const sub = record.sub as string
    entry.report.queries++
    entry.officers.add(sub)
    if (record.outcome === 'allow') {
      entry.report.allowed++
      continue
    }
    const rule = record.rule as string
    entry.report.denied++
    entry.report.deniedByRule[rule] = (entry.report.deniedByRule[rule] ?? 0) + 1
    entry.officersInDenials.add(sub)
    if (rule === 'ppp.immigration_non_criminal') entry.report.immigrationNonCriminalAttempts++
  }

  const agencies = [...tallies.values()].map(({ report, officers, officersInDenials }) => {
    const known = latestState.get(report.ori)
    return {
      ...report,
      ...(known === undefined ? {} : { name: known.name, kind: known.kind, monitored: known.monitored }),
      officers: officers.size,
      officersInDenials: officersInDenials.size,
    }
  })
  agencies.sort((left, right) => right.denied - left.denied || left.ori.localeCompare(right.ori))
  return {
    year,
    generatedAt: now.toISOString(),
    agencies,
    totals: {
      queries: agencies.reduce((sum, agency) => sum + agency.queries, 0),
      denied: agencies.reduce((sum, agency) => sum + agency.denied, 0),
      immigrationNonCriminalAttempts: agencies.reduce((sum, agency) => sum + agency.immigrationNonCriminalAttempts, 0),
      agencies: agencies.length,
    },
  }
}

const federalOrMonitored = (agency: AgencyReport) => agency.kind === 'federal' || agency.monitored
const rules = (agency: AgencyReport, none: string) =>
  Object.entries(agency.deniedByRule)
    .sort(([left], [right]) => left.localeCompare(right))
    .map(([rule, count]) => `${rule} ${count}`)
    .join(', ') || none

// Agency names, reasons and versions are typed by operators; ORIs and rules come from the ledger.
// Every text cell is escaped where it is written, for the format it is written in.

// What Markdown would read as structure inside a cell: a backslash (which would undo our escapes),
// the cell separator, and what opens HTML, a link, code or emphasis. Not `_`: it emphasises only
// around words, never inside one, and every rule id has one.
const markdownActive = /[\\|<[\]`*~]/g

/** A Markdown table cell that renders as the text it holds, on one row. */
function markdownCell(text: string): string {
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
function csvField(value: string | number | boolean): string {
  const raw = String(value)
  const formula = formulaStart.test(raw)
  const text = formula ? `'${printable(raw)}` : printable(raw)
  return formula || csvQuoted.test(text) ? `"${text.replace(quotes, '""')}"` : text
}

function markdownTable(agencies: readonly AgencyReport[]): string[] {
  if (agencies.length === 0) return ['(none)']
  return [
    '| ORI | agency | kind | queries | denied | denials by rule | immigration × non-criminal | officers in denials | sanctions | agreement |',
    '|---|---|---|---:|---:|---|---:|---:|---|---|',
    ...agencies.map(
      (agency) =>
        `| ${markdownCell(agency.ori)} | ${markdownCell(agency.name)} | ${markdownCell(agency.kind)}${agency.monitored ? ', monitored' : ''} | ${agency.queries} | ${agency.denied} | ${markdownCell(rules(agency, '-'))} | ${agency.immigrationNonCriminalAttempts} | ${agency.officersInDenials} of ${agency.officers} | ${markdownCell(agency.sanctionChanges.join('; ') || '-')} | ${markdownCell(agency.agreementChanges.join('; ') || '-')} |`,
    ),
  ]
}

/** The report as Markdown: totals, then federal and monitored agencies, then the others. */
export function reportMarkdown(report: MisuseReport): string {
  return [
    `# CLETS misuse report ${report.year}`,
    '',
    `Computed from the gateway's audit ledger on ${report.generatedAt}. ${report.totals.agencies} agencies, ${report.totals.queries} queries, ${report.totals.denied} denied, ${report.totals.immigrationNonCriminalAttempts} immigration-purpose attempts on non-criminal-history databases (S.B. 54).`,
    '',
    '## Federal and monitored agencies',
    '',
    ...markdownTable(report.agencies.filter(federalOrMonitored)),
    '',
    '## Other agencies',
    '',
    ...markdownTable(report.agencies.filter((agency) => !federalOrMonitored(agency))),
    '',
  ].join('\n')
}

/** The report as CSV, one row per agency (RFC 4180 quoting); an empty field where the Markdown says "-". */
export function reportCsv(report: MisuseReport): string {
  const header = ['year', 'ori', 'agency', 'kind', 'monitored', 'queries', 'allowed', 'denied', 'denials_by_rule', 'immigration_non_criminal_attempts', 'officers_in_denials', 'officers', 'sanction_changes', 'agreement_changes']
  const rows = report.agencies.map((agency) =>
    [report.year, agency.ori, agency.name, agency.kind, agency.monitored, agency.queries, agency.allowed, agency.denied, rules(agency, ''), agency.immigrationNonCriminalAttempts, agency.officersInDenials, agency.officers, agency.sanctionChanges.join('; '), agency.agreementChanges.join('; ')].map(csvField).join(','),
  )
  return `${[header.join(','), ...rows].join('\n')}\n`
}
