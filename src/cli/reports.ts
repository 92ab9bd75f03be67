// gatewayctl report misuse: the annual misuse report from the ledger (issue 13, point 4), whole for DOJ
// or in its public variant; each run recorded in the ledger it reads (audit.access, point 6).
import { parseArgs } from 'node:util'
import { complianceMarkdown, complianceReport, noteRegistration } from '../audit/compliance.js'
import { ledgerRecords, type LedgerRecord } from '../audit/search.js'
import type { AgencyState } from '../policy/types.js'
import type { MisuseFiling } from '../state/types.js'
import { adminApi, callAdminApi } from './admin-api.js'
import { misuseReport, publicReport, publicReportCsv, publicReportMarkdown, reportCsv, reportMarkdown } from '../audit/report.js'
import { auditorOptions, recordAccess } from './operator-ledger.js'
import { UsageError } from './io.js'

export const reportUsage = `  gatewayctl report misuse --year YYYY [--dir DIR] [--format md|csv|json] [--public [--suppress-below N]]
                           [--operator NAME] [--operator-ori ORI]
  gatewayctl report compliance --year YYYY [--dir DIR] [--format md|json] [--url URL] [--token TOKEN]
                           [--operator NAME] [--operator-ori ORI]   (filings through the admin API, beside the ledger)`

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
    options: { year: { type: 'string' }, dir: { type: 'string' }, format: { type: 'string', default: 'md' }, public: { type: 'boolean', default: false }, 'suppress-below': { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, ...auditorOptions },
    allowPositionals: true,
  })
  if (positionals[0] === 'compliance' && positionals.length === 1) return compliance(values)
  if (positionals[0] !== 'misuse' || positionals.length > 1) throw new UsageError(reportUsage)
  if (values.url !== undefined || values.token !== undefined) throw new UsageError('--url and --token are for report compliance')
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

/**
 * gatewayctl report compliance: the year's filings from the store (through the admin API: the registry
 * and GET /v1/filings), overdue agencies and the reporting rate, each agency's figures beside the ledger's.
 */
async function compliance(values: { year?: string | undefined; dir?: string | undefined; format: string; public: boolean; url?: string | undefined; token?: string | undefined; operator?: string | undefined; 'operator-ori'?: string | undefined; 'suppress-below'?: string | undefined }): Promise<number> {
  const year = reportYear(values.year, 'report compliance')
  if (!['md', 'json'].includes(values.format)) throw new UsageError(`--format: md or json; got ${values.format}`)
  if (values.public || values['suppress-below'] !== undefined) throw new UsageError('--public and --suppress-below are for report misuse')
  const api = adminApi(values)
  const agencies = (await callAdminApi(api, 'GET', '/v1/agencies')) as AgencyState[] | null
  if (agencies === null) return 1
  const filings = (await callAdminApi(api, 'GET', `/v1/filings?year=${year}`)) as MisuseFiling[] | null
  if (filings === null) return 1
  const dir = values.dir ?? process.env.AUDIT_DIR ?? './var/audit'
  const registeredAt = new Map<string, number>()
  async function* noting(): AsyncGenerator<LedgerRecord> {
    for await (const record of ledgerRecords(dir)) {
      noteRegistration(registeredAt, record)
      yield record
    }
  }
  const misuse = await misuseReport(noting(), year, new Date())
  const built = complianceReport(year, agencies, filings, misuse, registeredAt, Date.now())
  await recordAccess(dir, values, 'report', { report: 'compliance', year: String(year) }, built.agencies.length)
  process.stdout.write(values.format === 'json' ? `${JSON.stringify(built, null, 2)}\n` : complianceMarkdown(built))
  return 0
}
