// The pino logger. Tokens, subjects and returned records never reach a log line: the request
// serializer keeps no headers and no body, and the redaction list catches them if a caller slips.
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { pino, type Logger } from 'pino'

// Only fixed paths: wildcard paths make pino walk every logged object, on every request.
export const redactedPaths = ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', 'subject', 'records', 'body']

/**
 * A logger writing JSON lines to stdout. Writes are asynchronous and buffered: lines go out 4 KiB at a
 * time, or at the latest a second after they were logged (a write per request line cost ~6 µs of the
 * event loop), and pino flushes what is left when the process exits (main.ts flushes on SIGTERM; a
 * kill -9 can lose the last second of lines). The audit ledger, not the log, is the durable record.
 */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 })): Logger {
  return pino(
    {
      level,
      // pino's own pid and hostname, and the service: lines of several instances stay apart.
      base: { pid: process.pid, hostname: hostname(), service: 'clets-gateway' },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      serializers: {
        req: (request: { method?: string; url?: string; id?: string }) => ({ id: request.id, method: request.method, url: request.url?.split('?')[0] }),
      },
    },
    destination,
  )
}

export interface AccessLogEntry {
  readonly reqId: string
  readonly route: string
  readonly method: string
  readonly status: number
  readonly ms: number
  readonly decisionId: string | null
}

/**
 * The per-request line, at info, through pino's own path, so its redaction, serializers and base
 * bindings (pid, hostname, service) apply to it like to every other line. Flat fields only: pino writes
 * them without walking anything.
 */
export function accessLogger(logger: Logger): (entry: AccessLogEntry) => void {
  return (entry) => {
    logger.info(entry, 'request')
  }
}

/** What an incoming x-request-id may be to be kept: 1 to 128 of a safe set (what tracing ids use). */
const requestIdPattern = /^[A-Za-z0-9._:@/+=-]{1,128}$/

/**
 * Request ids: an incoming `x-request-id` of the safe form is kept (so a line can be followed from the
 * terminal software or a load balancer into the gateway); otherwise `<prefix>-<n>`, with a random
 * prefix per process, so ids are unique across instances and restarts (fastify's `req-1, req-2...`
 * repeat in every process).
 */
export function requestIds(prefix: string = randomBytes(6).toString('base64url')): (request: { headers: Record<string, string | string[] | undefined> }) => string {
  let next = 0
  return (request) => {
    const incoming = request.headers['x-request-id']
    if (typeof incoming === 'string' && requestIdPattern.test(incoming)) return incoming
    return `${prefix}-${(++next).toString(36)}`
  }
}
