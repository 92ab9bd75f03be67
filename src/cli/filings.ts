// gatewayctl filings …: agencies' annual misuse filings (issue 13, point 5) through the admin API, for
// DOJ operators: record what an agency filed for a year, show it, list a year's filings.
import type { Command } from 'commander'
import { disciplineKinds, filingCategories, type MisuseFiling } from '../state/types.js'
import { adminCommand, need, oriArgument, showAnswer, type AdminOptions } from './admin-api.js'
import { commandGroup, exitWith } from './command.js'
import { out, table, UsageError } from './io.js'

/** `--name N` as a whole number; the admin API holds it to its limits (and answers what is wrong). */
function count(name: string, value: string | undefined): number {
  if (value === undefined || !/^\d{1,7}$/.test(value)) throw new UsageError(`--${name}: a whole number; got ${value ?? 'nothing'}`)
  return Number(value)
}

/** `KIND=N` pairs into counts; unknown kinds go to the admin API, which refuses them with the list. */
function counts(name: string, pairs: readonly string[] | undefined): Record<string, number> {
  const result: Record<string, number> = {}
  for (const pair of pairs ?? []) {
    const match = /^([a-z_]+)=(\d{1,7})$/.exec(pair)
    if (match === null) throw new UsageError(`--${name}: expected NAME=N; got ${pair}`)
    result[match[1]!] = Number(match[2])
  }
  return result
}

const listed = (values: Readonly<Partial<Record<string, number>>>) =>
  Object.entries(values)
    .map(([key, value]) => `${key} ${value}`)
    .join(', ') || '-'

function print(answer: MisuseFiling | MisuseFiling[]): void {
  const filings = Array.isArray(answer) ? answer : [answer]
  out(
    table(
      ['ORI', 'YEAR', 'INVESTIGATIONS', 'VIOLATIONS', 'INDIVIDUALS', 'PENDING', 'DISCIPLINE', 'CATEGORIES', 'RECORDED', 'VERSION'],
      filings.map((filing) => [filing.ori, String(filing.year), String(filing.investigations), String(filing.violations), String(filing.individuals), String(filing.pending), listed(filing.discipline), listed(filing.categories), filing.recordedAt, String(filing.version)]),
    ),
  )
}

/** A four-digit year, as an argument or --year. */
const yearOf = (problem: string) => (value: string) => {
  if (!/^\d{4}$/.test(value)) throw new UsageError(problem)
  return value
}

/** Commander's parser for a repeated option: each value added to the list (undefined before the first). */
const collect = (value: string, previous: readonly string[] = []) => [...previous, value]

/** The <ori> <year> arguments of a subcommand, checked before anything is sent. */
function filingArguments(command: Command, action: string): Command {
  return command
    .argument('<ori>', "the agency's ORI, e.g. CA0194200", oriArgument(`${action} needs an ORI such as CA0194200, then the year`))
    .argument('<year>', 'the year filed for (YYYY)', yearOf(`${action} needs the year (YYYY) after the ORI`))
}

interface RecordOptions extends AdminOptions {
  readonly investigations?: string
  readonly violations?: string
  readonly individuals?: string
  readonly pending?: string
  readonly discipline?: readonly string[]
  readonly category?: readonly string[]
  readonly reason?: string
}

/** Registers `gatewayctl filings …` under the program. */
export function filingsCommands(program: Command): void {
  const filings = commandGroup(program, 'filings', "agencies' annual misuse filings, through the admin API (DOJ operators)")

  filingArguments(adminCommand(filings, 'record', "record what an agency filed for a year (replaces an earlier filing for that year), audited"), 'record')
    .option('--investigations <n>', 'investigations of misuse opened (required)')
    .option('--violations <n>', 'violations found (required)')
    .option('--individuals <n>', 'individuals who committed them (required)')
    .option('--pending <n>', 'investigations still pending (required)')
    .option('--discipline <kind=n>', `discipline imposed, repeatable; KIND one of ${disciplineKinds.join(', ')}`, collect)
    .option('--category <category=n>', `violations by category, repeatable; CATEGORY one of ${filingCategories.join(', ')}`, collect)
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(
      exitWith((ori: string, year: string, options: RecordOptions) => {
        const reason = need(options, 'reason', 'record')
        const body = {
          investigations: count('investigations', options.investigations),
          violations: count('violations', options.violations),
          individuals: count('individuals', options.individuals),
          pending: count('pending', options.pending),
          discipline: counts('discipline', options.discipline),
          categories: counts('category', options.category),
          reason,
        }
        return showAnswer(options, 'PUT', `/v1/agencies/${ori}/filings/${year}`, body, print)
      }),
    )

  filingArguments(adminCommand(filings, 'show', "an agency's filing for a year"), 'show').action(
    exitWith((ori: string, year: string, options: AdminOptions) => showAnswer(options, 'GET', `/v1/agencies/${ori}/filings/${year}`, undefined, print)),
  )

  adminCommand(filings, 'list', "a year's filings")
    .option('--year <yyyy>', 'the year filed for (required)', yearOf('list needs --year YYYY'))
    .action(
      exitWith((options: AdminOptions & { year?: string }) => {
        if (options.year === undefined) throw new UsageError('list needs --year YYYY')
        return showAnswer(options, 'GET', `/v1/filings?year=${options.year}`, undefined, print)
      }),
    )
}
