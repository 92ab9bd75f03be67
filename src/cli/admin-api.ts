// What the gatewayctl commands that drive the admin API share (agencies, officers): the gateway's URL
// and the operator's token, one request, and an error answer shown as text.
import { request } from 'undici'
import { printable } from '../printable.js'
import { err, UsageError } from './io.js'

export interface AdminApi {
  readonly url: string
  readonly token: string
}

/** The URL from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN. */
export function adminApi(values: { url?: string | undefined; token?: string | undefined }): AdminApi {
  const url = (values.url ?? process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
  const token = values.token ?? process.env.GATEWAY_TOKEN
  if (token === undefined) throw new UsageError('an operator token is needed: --token or GATEWAY_TOKEN (gatewayctl token --role doj_operator …)')
  return { url, token }
}

type ErrorAnswer = { error?: { code: string; message: string; issues?: { path: string; message: string }[] } }

/** One call; the answer's JSON, or null once the failure is printed (the command then exits 1). */
export async function callAdminApi(api: AdminApi, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: Record<string, unknown>): Promise<unknown> {
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
    err(`gatewayctl: cannot reach ${api.url}: ${(error as Error).message}`)
    return null
  }
  const answer = (await response.body.json().catch(() => null)) as unknown
  if (response.statusCode >= 400 || answer === null) {
    const error = (answer as ErrorAnswer | null)?.error
    // The message and issues may quote what was sent (a field name, a value): shown as text.
    err(printable(`error ${response.statusCode}: ${error?.code ?? 'unknown'}: ${error?.message ?? 'no answer'}`))
    for (const issue of error?.issues ?? []) err(printable(`  ${issue.path}: ${issue.message}`))
    return null
  }
  return answer
}
