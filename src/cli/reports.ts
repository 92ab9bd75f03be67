// gatewayctl report misuse: the annual misuse report from the ledger (issue 13, point 4), whole for DOJ
// or in its public variant; each run recorded in the ledger it reads (audit.access, point 6).
import { parseArgs } from 'node:util'
import { ledgerRecords } from '../audit/search.js'
import { misuseReport, publicReport, publicReportCsv, publicReportMarkdown, reportCsv, reportMarkdown } from '../audit/report.js'
import { auditorOptions, recordAccess } from './operator-ledger.js'
import { UsageError } from './io.js'

export const reportUsage = `  gatewayctl report misuse --year YYYY [--dir DIR] [--format md|csv|json] [--public [--suppress-below N]]
                           [--operator NAME] [--operator-ori ORI]`

/** The default threshold below which the public report shows a count as `<N`. */
export const defaultSuppressBelow = 5

/** A report year: four digits. */
export function reportYear(text: string | undefined, command: string): number {
  const year = Number(text)
  if (text === undefined || !/^\d{4}$/.test(text) || year < 2000) throw new UsageError(`${command} needs --year YYYY (2000 or later)`)
  return year
}

export async function report(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { year: { type: 'string' }, dir: { type: 'string' }, format: { type: 'string', default: 'md' }, public: { type: 'boolean', default: false }, 'suppress-below': { type: 'string' }, ...auditorOptions },
    allowPositionals: true,
  })
  if (positionals[0] !== 'misuse' || positionals.length > 1) throw new UsageError(reportUsage)
  const year = reportYear(values.year, 'report misuse')
  if (!['md', 'csv', 'json'].includes(values.format)) throw new UsageError(`--format: md, csv or json; got ${values.format}`)
  if (values['suppress-below'] !== undefined && !values.public) throw new UsageError('--suppress-below goes with --public')
  const threshold = Number(values['suppress-below'] ?? defaultSuppressBelow)
  if (!/^\d+$/.test(values['suppress-below'] ?? '5') || threshold < 2 || threshold > 100) throw new UsageError(`--suppress-below: a whole number from 2 to 100; got ${values['suppress-below']}`)
  const dir = values.dir ?? process.env.AUDIT_DIR ?? './var/audit'
  const built = await misuseReport(ledgerRecords(dir), year, new Date())
  await recordAccess(dir, values, 'report', { report: values.public ? 'misuse-public' : 'misuse', year: String(year) }, built.agencies.length)
  if (values.public) {
    const published = publicReport(built, threshold)
    process.stdout.write(values.format === 'json' ? `${JSON.stringify(published, null, 2)}\n` : values.format === 'csv' ? publicReportCsv(published) : publicReportMarkdown(published))
  } else {
    process.stdout.write(values.format === 'json' ? `${JSON.stringify(built, null, 2)}\n` : values.format === 'csv' ? reportCsv(built) : reportMarkdown(built))
  }
  return 0
}
