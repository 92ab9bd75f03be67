// The pino logger. Tokens, subjects and returned records never reach a log line: the request
// serializer keeps no headers and no body, and the redaction list catches them if a caller slips.
import { pino, type Logger } from 'pino'

export const redactedPaths = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'subject',
  '*.subject',
  'records',
  '*.records',
]

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
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
