// gatewayctl report misuse|compliance: the annual misuse report from the ledger (issue 13, point 4),
// whole for DOJ or in its public variant, and the agencies' filings beside it (point 5); each run is
// recorded in the ledger it reads (audit.access, point 6) before anything is shown.
import type { Command } from 'commander'
import type { LedgerRecord } from '../audit/search.js'
import type { AgencyState } from '../policy/types.js'
import type { MisuseFiling } from '../state/types.js'
import { adminApi, adminApiOptions, callAdminApi, type AdminOptions } from './admin-api.js'
import { auditDirHelp, ledgerFolder } from './audit.js'
import { commandGroup, exitWith } from './command.js'
import { UsageError } from './io.js'
import { auditorOptions, recordAccess, type Auditor } from './operator-ledger.js'

/** The default threshold below which the public report shows a count as `<N`. */
export const defaultSuppressBelow = 5

/** A report year: four digits. */
export function reportYear(text: string | undefined, command: string): number {
  const year = Number(text)
  if (text === undefined || !/^\d{4}$/.test(text) || year < 2000) throw new UsageError(`${command} needs --year YYYY (2000 or later)`)
  return year
}

interface ReportOptions extends Auditor {
  readonly year?: string
  readonly dir?: string
  readonly format: string
}

/** --year, --dir and the auditor's options, which both reports take. */
function reportCommand(group: Command, name: string, description: string): Command {
  return auditorOptions(group.command(name).description(description).option('--year <yyyy>', 'the calendar year, in California (required)').option('--dir <dir>', auditDirHelp))
}

/** Registers `gatewayctl report …` under the program. */
export function reportCommands(program: Command): void {
  const report = commandGroup(program, 'report', 'reports computed from the audit ledger, each run recorded in it (audit.access)')

  reportCommand(report, 'misuse', "the year's misuse report, from the ledger: whole for DOJ, or --public")
    .option('--format <format>', 'md, csv or json', 'md')
    .option('--public', 'the public variant: counts per agency, small counts suppressed; no reasons, officers or subjects')
    .option('--suppress-below <n>', `with --public: counts below N shown as <N (2 to 100; default ${defaultSuppressBelow})`)
    .action(
      exitWith(async (options: ReportOptions & { public?: boolean; suppressBelow?: string }) => {
        const year = reportYear(options.year, 'report misuse')
        if (!['md', 'csv', 'json'].includes(options.format)) throw new UsageError(`--format: md, csv or json; got ${options.format}`)
        if (options.suppressBelow !== undefined && options.public !== true) throw new UsageError('--suppress-below goes with --public')
        const threshold = Number(options.suppressBelow ?? defaultSuppressBelow)
        if (!/^\d+$/.test(options.suppressBelow ?? String(defaultSuppressBelow)) || threshold < 2 || threshold > 100) throw new UsageError(`--suppress-below: a whole number from 2 to 100; got ${options.suppressBelow}`)
        // The report's modules load when it runs, not with the command tree (command.ts says why).
        const [{ misuseReport, publicReport, publicReportCsv, publicReportMarkdown, reportCsv, reportMarkdown }, { ledgerRecords }] = await Promise.all([import('../audit/report.js'), import('../audit/search.js')])
        const dir = await ledgerFolder(options.dir)
        const built = await misuseReport(ledgerRecords(dir), year, new Date())
        await recordAccess(dir, options, 'report', { report: options.public === true ? 'misuse-public' : 'misuse', year: String(year) }, built.agencies.length)
        if (options.public === true) {
          const published = publicReport(built, threshold)
          process.stdout.write(options.format === 'json' ? `${JSON.stringify(published, null, 2)}\n` : options.format === 'csv' ? publicReportCsv(published) : publicReportMarkdown(published))
        } else {
          process.stdout.write(options.format === 'json' ? `${JSON.stringify(built, null, 2)}\n` : options.format === 'csv' ? reportCsv(built) : reportMarkdown(built))
        }
        return 0
      }),
    )

  adminApiOptions(reportCommand(report, 'compliance', "the year's filings (through the admin API), overdue agencies and the reporting rate, each agency's figures beside the ledger's"))
    .option('--format <format>', 'md or json', 'md')
    .action(exitWith(compliance))
}

/**
 * gatewayctl report compliance: the year's filings from the store (through the admin API: the registry
 * and GET /v1/filings), overdue agencies and the reporting rate, each agency's figures beside the ledger's.
 */
async function compliance(options: ReportOptions & AdminOptions): Promise<number> {
  const year = reportYear(options.year, 'report compliance')
  if (!['md', 'json'].includes(options.format)) throw new UsageError(`--format: md or json; got ${options.format}`)
  const dir = await ledgerFolder(options.dir)
  const api = adminApi(options)
  const agencies = (await callAdminApi(api, 'GET', '/v1/agencies')) as AgencyState[] | null
  if (agencies === null) return 1
  const filings = (await callAdminApi(api, 'GET', `/v1/filings?year=${year}`)) as MisuseFiling[] | null
  if (filings === null) return 1
  const [{ complianceMarkdown, complianceReport, noteRegistration }, { misuseReport }, { ledgerRecords }] = await Promise.all([import('../audit/compliance.js'), import('../audit/report.js'), import('../audit/search.js')])
  const registeredAt = new Map<string, number>()
  async function* noting(): AsyncGenerator<LedgerRecord> {
    for await (const record of ledgerRecords(dir)) {
      noteRegistration(registeredAt, record)
      yield record
    }
  }
  const misuse = await misuseReport(noting(), year, new Date())
  const built = complianceReport(year, agencies, filings, misuse, registeredAt, Date.now())
  await recordAccess(dir, options, 'report', { report: 'compliance', year: String(year) }, built.agencies.length)
  process.stdout.write(options.format === 'json' ? `${JSON.stringify(built, null, 2)}\n` : complianceMarkdown(built))
  return 0
}
