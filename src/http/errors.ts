// Turns every failure into the catalogue's shape: `{ error: { code, message, issues } }`.
import type { FastifyError } from 'fastify'
import { GatewayError, type ErrorIssue } from '../errors.js'
import { AuditUnavailableError } from '../audit/ledger.js'
import { AgencyConflictError, FilingConflictError, OfficerConflictError } from '../state/redis.js'
import { AgencyNotFoundError, StateUnavailableError } from '../state/types.js'

export const errorResponseSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        issues: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
} as const

/** A route's error responses for its schema: every 4xx and 5xx answers the error body. */
export const errorResponses = { '4xx': errorResponseSchema, '5xx': errorResponseSchema } as const

interface ValidationDetail {
  instancePath?: string
  keyword?: string
  params?: Record<string, unknown>
  message?: string
}

/** The most issues an answer lists: a body of 100,000 unknown keys is one problem told 20 times at most. */
const maxAnsweredIssues = 20

/** `/subject/plate` -> `subject.plate`; a missing or unknown property is named in the path too. */
function validationIssues(context: string, details: readonly ValidationDetail[]): ErrorIssue[] {
  return details.slice(0, maxAnsweredIssues).map((detail) => {
    const segments = (detail.instancePath ?? '').split('/').filter(Boolean)
    if (detail.keyword === 'required' && typeof detail.params?.missingProperty === 'string') segments.push(detail.params.missingProperty)
    if (detail.keyword === 'additionalProperties' && typeof detail.params?.additionalProperty === 'string') {
      segments.push(detail.params.additionalProperty)
      return { path: segments.join('.'), message: 'unknown field' }
    }
    return { path: segments.length === 0 ? context : segments.join('.'), message: detail.message ?? 'invalid' }
  })
}

/** Maps any error thrown in a request to a catalogued GatewayError. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error
  if (error instanceof StateUnavailableError) return new GatewayError('state_unavailable', undefined, [], { cause: error })
  if (error instanceof AuditUnavailableError) return new GatewayError('audit_unavailable', undefined, [], { cause: error })
  if (error instanceof AgencyNotFoundError) return new GatewayError('agency_not_found', error.message)
  if (error instanceof AgencyConflictError) return new GatewayError('agency_conflict', error.message)
  if (error instanceof OfficerConflictError) return new GatewayError('officer_conflict', error.message)
  if (error instanceof FilingConflictError) return new GatewayError('agency_conflict', error.message)
  const fastifyError = error as FastifyError & { validation?: ValidationDetail[]; validationContext?: string }
  if (Array.isArray(fastifyError.validation)) {
    return new GatewayError('invalid_request', undefined, validationIssues(fastifyError.validationContext ?? 'body', fastifyError.validation))
  }
  switch (fastifyError.code) {
    // The request stream was destroyed mid-body: the client hung up (or its time ran out, see app.ts).
    case 'ECONNRESET':
      return new GatewayError('request_aborted')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'the content-length does not match the body')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('body_too_large')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_json', 'the body is empty')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new GatewayError('invalid_json')
  }
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) return new GatewayError('invalid_json')
  return new GatewayError('internal_error', undefined, [], { cause: error })
}

/** The realm of the gateway's bearer challenges. */
export const bearerRealm = 'clets-gateway'

/**
 * RFC 6750 §3: the WWW-Authenticate challenge of a 401. No token: the realm alone; a token that was
 * refused: `invalid_token` and why, in the characters error_description admits (printable ASCII but
 * `"` and `\`).
 */
export function bearerChallenge(error: GatewayError): string {
  if (error.code === 'token_missing') return `Bearer realm="${bearerRealm}"`
  return `Bearer realm="${bearerRealm}", error="invalid_token", error_description="${error.message.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '')}"`
}

export function errorBody(error: GatewayError) {
  return { error: { code: error.code, message: error.message, issues: error.issues } }
}
