// gatewayctl report misuse: the annual misuse report, computed from the audit ledger.
import type { Command } from 'commander'
import { misuseReport, reportCsv, reportMarkdown } from '../audit/report.js'
import { ledgerRecords } from '../audit/search.js'
import { auditDir, auditDirHelp } from './audit.js'
import { commandGroup, exitWith } from './command.js'
import { UsageError } from './io.js'

/** Registers `gatewayctl report …` under the program. */
export function reportCommands(program: Command): void {
  const report = commandGroup(program, 'report', 'reports computed from the audit ledger')

  report
    .command('misuse')
    .description("the year's misuse report, from the ledger")
    .option('--year <yyyy>', 'the calendar year (required)')
    .option('--dir <dir>', auditDirHelp)
    .option('--format <format>', 'md, csv or json', 'md')
    .action(
      exitWith(async (options: { year?: string; dir?: string; format: string }) => {
        const year = Number(options.year)
        if (options.year === undefined || !Number.isInteger(year) || year < 2000 || year > 2999) throw new UsageError('report misuse needs --year YYYY')
        if (!['md', 'csv', 'json'].includes(options.format)) throw new UsageError(`--format: md, csv or json; got ${options.format}`)
        const built = await misuseReport(ledgerRecords(auditDir(options.dir)), year, new Date())
        process.stdout.write(options.format === 'json' ? `${JSON.stringify(built, null, 2)}\n` : options.format === 'csv' ? reportCsv(built) : reportMarkdown(built))
        return 0
      }),
    )
}
