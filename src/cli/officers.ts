// gatewayctl officers …: officer sanctions (issue 12, point 4) through the admin API, for DOJ operators.
// An officer is a user id (the token's sub) at an agency (ORI). Tables by default, --json for scripts;
// the URL from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN.
import { parseArgs } from 'node:util'
import { oriPattern, subPattern } from '../audit/record.js'
import type { OfficerState } from '../policy/types.js'
import { adminApi, callAdminApi } from './admin-api.js'
import { out, table, UsageError } from './io.js'

export const officersUsage = `  gatewayctl officers list [--ori ORI] [--json]   (the officers under a sanction now)
  gatewayctl officers show ORI USER [--json]
  gatewayctl officers sanction ORI USER --type suspension|removal [--scope all|non_criminal_history] [--until TIME] --reason TEXT
  gatewayctl officers reinstate ORI USER --reason TEXT
    (every officers command takes --url URL (GATEWAY_URL) and --token TOKEN (GATEWAY_TOKEN))`

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  ori: { type: 'string' },
  reason: { type: 'string' },
  type: { type: 'string' },
  scope: { type: 'string' },
  until: { type: 'string' },
} as const

function sanctionText(officer: OfficerState): string {
  const sanction = officer.sanction
  if (sanction === null) return '-'
  const scope = sanction.scope === 'all' ? '' : ` (${sanction.scope})`
  return `${sanction.type}${scope}${sanction.until === undefined ? '' : ` until ${sanction.until}`}`
}

function print(officers: readonly OfficerState[]): void {
  out(
    table(
      ['ORI', 'USER', 'SANCTION', 'SINCE', 'REASON', 'VERSION'],
      officers.map((officer) => [officer.ori, officer.sub, sanctionText(officer), officer.sanction?.since ?? '-', officer.sanction?.reason ?? '-', String(officer.version)]),
    ),
  )
}

export async function officers(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true })
  const [action, ori, sub, ...rest] = positionals
  if (action === undefined || rest.length > 0) throw new UsageError(officersUsage)
  const api = adminApi(values)
  /** The officer's path: an ORI and a user id as tokens carry it, percent-encoded (a user id may hold `/`). */
  const officerPath = () => {
    if (ori === undefined || !oriPattern.test(ori)) throw new UsageError(`${action} needs an ORI such as CA0194200, then the officer's user id`)
    if (sub === undefined || !subPattern.test(sub)) throw new UsageError(`${action} needs the officer's user id (the token's sub: 1 to 128 printable characters, no space) after the ORI`)
    return `/v1/officers/${ori}/${encodeURIComponent(sub)}`
  }
  const need = (name: 'reason' | 'type') => {
    const value = values[name]
    if (value === undefined) throw new UsageError(`${action} needs --${name}`)
    return value
  }

  let method: 'GET' | 'PUT' | 'DELETE' = 'GET'
  let path: string
  let body: Record<string, unknown> | undefined
  switch (action) {
    case 'list':
      if (ori !== undefined) throw new UsageError(`list takes no ORI argument: --ori ORI\n${officersUsage}`)
      if (values.ori !== undefined && !oriPattern.test(values.ori)) throw new UsageError(`--ori: expected an ORI such as CA0194200; got ${values.ori}`)
      path = values.ori === undefined ? '/v1/officers' : `/v1/officers?ori=${values.ori}`
      break
    case 'show':
      path = officerPath()
      break
    case 'sanction':
      method = 'PUT'
      path = `${officerPath()}/sanction`
      body = { type: need('type'), reason: need('reason'), ...(values.scope === undefined ? {} : { scope: values.scope }), ...(values.until === undefined ? {} : { until: values.until }) }
      break
    case 'reinstate':
      method = 'DELETE'
      path = `${officerPath()}/sanction`
      body = { reason: need('reason') }
      break
    default:
      throw new UsageError(`unknown officers command ${action}\n${officersUsage}`)
  }

  const answer = (await callAdminApi(api, method, path, body)) as OfficerState | OfficerState[] | null
  if (answer === null) return 1
  if (values.json) out(JSON.stringify(answer, null, 2))
  else print(Array.isArray(answer) ? answer : [answer])
  return 0
}
