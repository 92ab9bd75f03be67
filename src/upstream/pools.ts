// The databases behind the gateway: one undici Pool per backend, with connect and response timeouts.
// Failures become catalogued errors: unreachable or failing -> 502, too slow -> 504.
import { Pool } from 'undici'
import { GatewayError } from '../errors.js'
import type { DatabasePolicy } from '../policy/types.js'

export interface UpstreamOptions {
  readonly connectTimeoutMs: number
  readonly timeoutMs: number
  readonly connections: number
}

export interface UpstreamAnswer {
  /** The records as the database sent them: a JSON array, checked by parsing, passed on unchanged. */
  readonly recordsJson: string
  readonly recordCount: number
}

const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
// A flat array: undici takes it without walking an object's keys.
const jsonHeaders = ['content-type', 'application/json']

/** True when the body is exactly { records: [objects] }. A loop, not every(): this runs per query. */
function onlyRecords(body: object, records: unknown[]): boolean {
  for (const key in body) if (key !== 'records') return false
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return false
  }
  return true
}

/** Maps an undici or socket failure to the catalogued 502/504. */
function upstreamFailure(error: unknown): GatewayError {
  const code = (error as { code?: string }).code
  if (code !== undefined && timeoutCodes.has(code)) return new GatewayError('upstream_timeout', undefined, [], { cause: error })
  return new GatewayError('upstream_unavailable', undefined, [], { cause: error })
}

export class Upstreams {
  private readonly pools: Record<DatabasePolicy['backend'], Pool>

  constructor(urls: Readonly<Record<DatabasePolicy['backend'], string>>, options: UpstreamOptions) {
    const pool = (url: string) =>
      new Pool(url, {
        connections: options.connections,
        connect: { timeout: options.connectTimeoutMs },
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        keepAliveTimeout: 30_000,
      })
    this.pools = { dmv: pool(urls.dmv), criminal_history: pool(urls.criminal_history) }
  }

  /** Sends the subject to the database's search endpoint; throws GatewayError on any failure. */
  async search(database: DatabasePolicy, subject: unknown): Promise<UpstreamAnswer> {
    let response
    try {
      response = await this.pools[database.backend].request({
        method: 'POST',
        path: database.path,
        headers: jsonHeaders,
        body: JSON.stringify(subject),
      })
    } catch (error) {
      throw upstreamFailure(error)
    }
    let text: string
    try {
      if (response.statusCode !== 200) {
        await response.body.dump()
        throw new GatewayError('upstream_error', `the database answered HTTP ${response.statusCode}`)
      }
      text = await response.body.text()
    } catch (error) {
      if (error instanceof GatewayError) throw error
      throw upstreamFailure(error)
    }
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (error) {
      throw new GatewayError('upstream_error', 'the database answered with invalid JSON', [], { cause: error })
    }
    const records = (body as { records?: unknown } | null)?.records
    if (!Array.isArray(records) || !onlyRecords(body as object, records)) throw new GatewayError('upstream_error', 'the database answered without a list of records')
    // The body is exactly {"records": [...]}, so the array's text runs from the first colon (no key
    // but "records" exists, and it has no colon) to the closing brace.
    return { recordsJson: text.slice(text.indexOf(':') + 1, text.lastIndexOf('}')), recordCount: records.length }
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.pools).map((pool) => pool.close()))
  }
}

