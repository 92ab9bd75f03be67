// What the gatewayctl commands that drive the admin API share (agencies, officers, requests, filings,
// report compliance): their options (--url, --token, --json, and a sanction's), the gateway's URL and the
// operator's token, one request, and the answer shown as a table, as JSON, or as the error text.
import type { Command } from 'commander'
import { oriPattern } from '../policy/types.js'
import { printable } from '../printable.js'
import { err, out, Unreachable, UsageError } from './io.js'

/** The options every admin API command takes. */
export interface AdminOptions {
  readonly url?: string
  readonly token?: string
  readonly json?: boolean
}

export interface AdminApi {
  readonly url: string
  readonly token: string
}

/** --url and --token: where the admin API is and the operator's token. */
export function adminApiOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the gateway (default: GATEWAY_URL, else http://127.0.0.1:8080)')
    .option('--token <token>', "a DOJ operator's token (default: GATEWAY_TOKEN); `gatewayctl token --role doj_operator …` mints one")
}

/** A subcommand that calls the admin API: --url, --token and --json, then its own arguments and options. */
export function adminCommand(group: Command, nameAndArguments: string, description: string): Command {
  return adminApiOptions(group.command(nameAndArguments).description(description)).option('--json', 'print the answer as JSON, for scripts')
}

/** --type, --scope, --until, --reason and --yes: a sanction on an agency or an officer. */
export function sanctionOptions(command: Command, types: string): Command {
  return command
    .option('--type <type>', `${types} (required)`)
    .option('--scope <scope>', 'all (the default) or non_criminal_history; a removal is always all')
    .option('--until <time>', 'a suspension ends then (ISO 8601, e.g. 2026-07-01T00:00:00Z); otherwise at reinstatement')
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .option('--yes', 'a removal: do not ask for confirmation (needed when not run from a terminal)')
}

export interface SanctionOptions {
  readonly type?: string
  readonly scope?: string
  readonly until?: string
  readonly reason?: string
  readonly yes?: boolean
}

/** The body of a sanction call; the API checks the values (type, scope, until) and says what is wrong. */
export function sanctionBody(action: string, options: SanctionOptions): Record<string, unknown> {
  return {
    type: need(options, 'type', action),
    reason: need(options, 'reason', action),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.until === undefined ? {} : { until: options.until }),
  }
}

/** An option the subcommand cannot go without: `sanction needs --reason`. */
export function need<O extends object>(options: O, name: keyof O & string, action: string): string {
  const value = options[name]
  if (typeof value !== 'string') throw new UsageError(`${action} needs --${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`)
  return value
}

/** An argument parser for an ORI; `problem` says what was expected, e.g. `show needs an ORI such as CA0194200`. */
export const oriArgument = (problem: string) => (value: string) => {
  if (!oriPattern.test(value)) throw new UsageError(problem)
  return value
}

/** The URL from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN. */
export function adminApi(values: AdminOptions): AdminApi {
  const url = (values.url ?? process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
  const token = values.token ?? process.env.GATEWAY_TOKEN
  if (token === undefined) throw new UsageError('an operator token is needed: --token or GATEWAY_TOKEN (gatewayctl token --role doj_operator …)')
  return { url, token }
}

type ErrorAnswer = { error?: { code: string; message: string; issues?: { path: string; message: string }[] } }

/**
 * One call; the answer's JSON, or null once an error answer is printed (the command then exits 1).
 * A gateway that does not answer is Unreachable (exit 3).
 */
export async function callAdminApi(api: AdminApi, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: Record<string, unknown>): Promise<unknown> {
  // undici only when a call is made: the command tree (command.ts) and the usage errors need none of it.
  const { request } = await import('undici')
  let response
  try {
    response = await request(api.url + path, {
      method,
      headers: { authorization: `Bearer ${api.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    })
  } catch (error) {
    const { redisTarget: withoutCredentials } = await import('../state/registry.js')
    throw new Unreachable(`cannot reach the gateway at ${withoutCredentials(api.url)}: ${(error as Error).message}`)
  }
  const answer = (await response.body.json().catch(() => null)) as unknown
  if (response.statusCode >= 400 || answer === null) {
    const error = (answer as ErrorAnswer | null)?.error
    // A refusal for want of authority is on the ledger before it is answered: its record is named.
    const auditId = response.statusCode === 403 ? response.headers['x-audit-id'] : undefined
    const recorded = typeof auditId === 'string' ? ` (audit record ${auditId})` : ''
    // The message and issues may quote what was sent (a field name, a value): shown as text.
    err(printable(`error ${response.statusCode}: ${error?.code ?? 'unknown'}: ${error?.message ?? 'no answer'}${recorded}`))
    for (const issue of error?.issues ?? []) err(printable(`  ${issue.path}: ${issue.message}`))
    return null
  }
  return answer
}

/** Calls the API and shows the answer: JSON with --json, else `print`. Exit 1 after an error answer. */
export async function showAnswer<T>(options: AdminOptions, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body: Record<string, unknown> | undefined, print: (answer: T) => void): Promise<number> {
  const answer = (await callAdminApi(adminApi(options), method, path, body)) as T | null
  if (answer === null) return 1
  if (options.json === true) out(JSON.stringify(answer, null, 2))
  else print(answer)
  return 0
}
