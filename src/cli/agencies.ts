// gatewayctl agencies …: the admin API from a terminal, for DOJ operators. Tables by default, --json for
// scripts. The URL comes from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN.
import { parseArgs } from 'node:util'
import type { AgencyState } from '../policy/types.js'
import { adminApi, callAdminApi } from './admin-api.js'
import { out, table, UsageError } from './io.js'

export const agenciesUsage = `  gatewayctl agencies list [--json]
  gatewayctl agencies show ORI [--json]
  gatewayctl agencies register ORI --name NAME --kind local|state|federal [--monitored | --not-monitored] --reason TEXT
  gatewayctl agencies agreement ORI --version V --signed-at TIME --reason TEXT
  gatewayctl agencies revoke ORI --reason TEXT
  gatewayctl agencies sanction ORI --type censure|suspension|removal [--scope all|non_criminal_history] [--until TIME] [--written-requests] --reason TEXT
  gatewayctl agencies reinstate ORI --reason TEXT
    (every agencies command takes --url URL (GATEWAY_URL) and --token TOKEN (GATEWAY_TOKEN))`

const options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  name: { type: 'string' },
  kind: { type: 'string' },
  monitored: { type: 'boolean' },
  'not-monitored': { type: 'boolean' },
  reason: { type: 'string' },
  version: { type: 'string' },
  'signed-at': { type: 'string' },
  type: { type: 'string' },
  scope: { type: 'string' },
  until: { type: 'string' },
  'written-requests': { type: 'boolean' },
} as const

function sanctionText(agency: AgencyState): string {
  const sanction = agency.sanction
  if (sanction === null) return '-'
  const scope = sanction.scope === 'all' ? '' : ` (${sanction.scope})`
  const written = sanction.writtenRequests === true ? ', written requests only' : ''
  return `${sanction.type}${scope}${written}${sanction.until === undefined ? '' : ` until ${sanction.until}`}`
}

function print(agencies: readonly AgencyState[]): void {
  out(
    table(
      ['ORI', 'NAME', 'KIND', 'AGREEMENT', 'SANCTION', 'MONITORED', 'VERSION'],
      agencies.map((agency) => [
        agency.ori,
        agency.name,
        agency.kind,
        agency.agreement === null ? '-' : `${agency.agreement.version} (${agency.agreement.signedAt.slice(0, 10)})`,
        sanctionText(agency),
        agency.monitored ? 'yes' : 'no',
        String(agency.version),
      ]),
    ),
  )
}

export async function agencies(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true })
  const [action, ori, ...rest] = positionals
  if (action === undefined || rest.length > 0) throw new UsageError(agenciesUsage)
  const api = adminApi(values)
  const needOri = () => {
    if (ori === undefined || !/^[A-Z]{2}[0-9A-Z]{7}$/.test(ori)) throw new UsageError(`${action} needs an ORI such as CA0194200`)
    return ori
  }
  const need = (name: keyof typeof values) => {
    const value = values[name]
    if (typeof value !== 'string') throw new UsageError(`${action} needs --${name}`)
    return value
  }

  let method: 'GET' | 'PUT' | 'DELETE' = 'GET'
  let path: string
  let body: Record<string, unknown> | undefined
  switch (action) {
    case 'list':
      path = '/v1/agencies'
      break
    case 'show':
      path = `/v1/agencies/${needOri()}`
      break
    case 'register':
      method = 'PUT'
      path = `/v1/agencies/${needOri()}`
      body = { name: need('name'), kind: need('kind'), reason: need('reason') }
      if (values.monitored === true) body.monitored = true
      if (values['not-monitored'] === true) body.monitored = false
      break
    case 'agreement':
      method = 'PUT'
      path = `/v1/agencies/${needOri()}/agreement`
      body = { version: need('version'), signedAt: need('signed-at'), reason: need('reason') }
      break
    case 'revoke':
      method = 'DELETE'
      path = `/v1/agencies/${needOri()}/agreement`
      body = { reason: need('reason') }
      break
    case 'sanction':
      method = 'PUT'
      path = `/v1/agencies/${needOri()}/sanction`
      body = { type: need('type'), reason: need('reason'), ...(values.scope === undefined ? {} : { scope: values.scope }), ...(values.until === undefined ? {} : { until: values.until }) }
      if (values['written-requests'] === true) body.writtenRequests = true
      break
    case 'reinstate':
      method = 'DELETE'
      path = `/v1/agencies/${needOri()}/sanction`
      body = { reason: need('reason') }
      break
    default:
      throw new UsageError(`unknown agencies command ${action}\n${agenciesUsage}`)
  }

  const answer = (await callAdminApi(api, method, path, body)) as AgencyState | AgencyState[] | null
  if (answer === null) return 1
  if (values.json) out(JSON.stringify(answer, null, 2))
  else print(Array.isArray(answer) ? answer : [answer as AgencyState])
  return 0
}
