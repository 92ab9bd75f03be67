// gatewayctl filings …: agencies' annual misuse filings (issue 13, point 5) through the admin API, for
// DOJ operators: record what an agency filed for a year, show it, list a year's filings.
import { parseArgs } from 'node:util'
import { oriPattern } from '../audit/record.js'
import { disciplineKinds, filingCategories, type MisuseFiling } from '../state/types.js'
import { adminApi, callAdminApi } from './admin-api.js'
import { out, table, UsageError } from './io.js'

export const filingsUsage = `  gatewayctl filings record ORI YEAR --investigations N --violations N --individuals N --pending N
                             [--discipline KIND=N]... [--category CATEGORY=N]... --reason TEXT
      (discipline: ${disciplineKinds.join(', ')};
       categories: ${filingCategories.join(', ')})
  gatewayctl filings show ORI YEAR [--json]
  gatewayctl filings list --year YEAR [--json]
    (every filings command takes --url URL (GATEWAY_URL) and --token TOKEN (GATEWAY_TOKEN))`

const text = { type: 'string' } as const
const options = {
  url: text,
  token: text,
  json: { type: 'boolean', default: false },
  year: text,
  reason: text,
  investigations: text,
  violations: text,
  individuals: text,
  pending: text,
  discipline: { type: 'string', multiple: true },
  category: { type: 'string', multiple: true },
} as const

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

function print(filings: readonly MisuseFiling[]): void {
  out(
    table(
      ['ORI', 'YEAR', 'INVESTIGATIONS', 'VIOLATIONS', 'INDIVIDUALS', 'PENDING', 'DISCIPLINE', 'CATEGORIES', 'RECORDED', 'VERSION'],
      filings.map((filing) => [filing.ori, String(filing.year), String(filing.investigations), String(filing.violations), String(filing.individuals), String(filing.pending), listed(filing.discipline), listed(filing.categories), filing.recordedAt, String(filing.version)]),
    ),
  )
}

export async function filings(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true })
  const [action, ori, year, ...rest] = positionals
  if (action === undefined || rest.length > 0) throw new UsageError(filingsUsage)
  const api = adminApi(values)
  const filingPath = () => {
    if (ori === undefined || !oriPattern.test(ori)) throw new UsageError(`${action} needs an ORI such as CA0194200, then the year`)
    if (year === undefined || !/^\d{4}$/.test(year)) throw new UsageError(`${action} needs the year (YYYY) after the ORI`)
    return `/v1/agencies/${ori}/filings/${year}`
  }
  let answer: unknown
  switch (action) {
    case 'record': {
      if (values.reason === undefined) throw new UsageError('record needs --reason')
      const body = {
        investigations: count('investigations', values.investigations),
        violations: count('violations', values.violations),
        individuals: count('individuals', values.individuals),
        pending: count('pending', values.pending),
        discipline: counts('discipline', values.discipline),
        categories: counts('category', values.category),
        reason: values.reason,
      }
      answer = await callAdminApi(api, 'PUT', filingPath(), body)
      break
    }
    case 'show':
      answer = await callAdminApi(api, 'GET', filingPath())
      break
    case 'list':
      if (ori !== undefined) throw new UsageError(`list takes --year YEAR\n${filingsUsage}`)
      if (values.year === undefined || !/^\d{4}$/.test(values.year)) throw new UsageError('list needs --year YYYY')
      answer = await callAdminApi(api, 'GET', `/v1/filings?year=${values.year}`)
      break
    default:
      throw new UsageError(`unknown filings command ${action}\n${filingsUsage}`)
  }
  if (answer === null) return 1
  if (values.json) out(JSON.stringify(answer, null, 2))
  else print(Array.isArray(answer) ? (answer as MisuseFiling[]) : [answer as MisuseFiling])
  return 0
}
