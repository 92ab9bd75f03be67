// The pino logger. Tokens, subjects and returned records never reach a log line: the request
// serializer keeps no headers and no body, and the redaction list catches them if a caller slips.
import { pino, type Logger } from 'pino'

// Only fixed paths: wildcard paths make pino walk every logged object, on every request.
export const redactedPaths = ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', 'subject', 'records', 'body']

/**
 * A logger writing JSON lines to stdout. Writes are asynchronous: lines logged while a write is in
 * flight go out together in the next one (a syscall per request would cost more than the line), and
 * main.ts flushes before the process exits. The audit ledger, not the log, is the durable record.
 */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
  return pino(
    {
      level,
      base: { service: 'clets-gateway' },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      serializers: {
        req: (request: { method?: string; url?: string; id?: string }) => ({ id: request.id, method: request.method, url: request.url?.split('?')[0] }),
      },
    },
    destination,
  )
}
