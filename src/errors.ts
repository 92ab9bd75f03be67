// The one catalogue of error codes the gateway answers with. Each code is stable: terminals and
// operator tools branch on it. test/errors.test.ts keeps this table and the README's in step.

export type ErrorCategory = 'input' | 'auth' | 'not_found' | 'upstream' | 'unavailable' | 'internal'

interface ErrorSpec {
  readonly status: number
  readonly category: ErrorCategory
  readonly message: string
}

export const errorCatalogue = {
  invalid_json: { status: 400, category: 'input', message: 'the body is not valid JSON' },
  invalid_request: { status: 400, category: 'input', message: 'the request does not match the schema' },
  unknown_database: { status: 400, category: 'input', message: 'the database is not in the policies' },
  unknown_purpose: { status: 400, category: 'input', message: 'the purpose is not in the policies' },
  invalid_subject: { status: 400, category: 'input', message: "the subject does not match any of the database's lookups" },
  invalid_sanction: { status: 400, category: 'input', message: 'the sanction is not consistent' },
  invalid_agreement: { status: 400, category: 'input', message: 'the agreement is not consistent' },
  request_aborted: { status: 400, category: 'input', message: 'the client closed the connection before its request was complete' },
  token_missing: { status: 401, category: 'auth', message: 'a bearer token is required' },
  token_invalid: { status: 401, category: 'auth', message: 'the bearer token is not valid' },
  role_forbidden: { status: 403, category: 'auth', message: 'the token lacks the role this endpoint needs, or holds a DOJ role on a token of an ORI that is not a DOJ ORI' },
  own_agency_forbidden: { status: 403, category: 'auth', message: 'no operator changes their own agency, or decides its written requests' },
  request_timeout: { status: 408, category: 'input', message: 'the request did not arrive in time (REQUEST_TIMEOUT_MS)' },
  not_found: { status: 404, category: 'not_found', message: 'no such endpoint' },
  agency_not_found: { status: 404, category: 'not_found', message: 'no agency is registered with this ORI' },
  agency_conflict: { status: 409, category: 'input', message: 'the agency was changed by another operator meanwhile; read it again and retry' },
  // Issue 12, point 5: written requests.
  request_not_found: { status: 404, category: 'not_found', message: 'no written request with this id (for this agency)' },
  request_not_pending: { status: 409, category: 'input', message: 'DOJ has already decided this written request' },
  request_not_approved: { status: 409, category: 'input', message: 'the written request is not approved yet, or is being retrieved right now' },
  request_not_yours: { status: 403, category: 'auth', message: 'only the officer who filed this written request, or the officer DOJ named to retrieve it, may retrieve its records' },
  request_gone: { status: 410, category: 'input', message: 'the written request yields no records: already retrieved, refused, denied, or its approval expired' },
  pending_requests_limit: { status: 429, category: 'input', message: 'the agency has too many written requests pending' },
  filing_not_found: { status: 404, category: 'not_found', message: 'no misuse filing of this agency for this year is recorded' },
  // Two-person control (policies/authority.yaml, dualControl): proposed changes and their approval.
  change_not_found: { status: 404, category: 'not_found', message: 'no proposed change with this id' },
  change_self_approval: { status: 403, category: 'auth', message: 'a proposed change is approved by a DOJ operator other than the one who proposed it' },
  change_not_pending: { status: 409, category: 'input', message: 'the proposed change was already approved or cancelled' },
  change_stale: { status: 409, category: 'input', message: 'the sanction the change would lift is no longer the one in force; propose it again if still needed' },
  change_expired: { status: 410, category: 'input', message: 'the proposed change lapsed unapproved; propose it again if still needed' },
  // The review queue (docs/reviews.md).
  review_not_found: { status: 404, category: 'not_found', message: 'no review with this id' },
  review_closed: { status: 409, category: 'input', message: 'the review already has a finding (or another reviewer recorded one meanwhile)' },
  invalid_finding: { status: 400, category: 'input', message: 'the finding is not consistent: a category goes with confirmed_misuse only' },
  officer_conflict: { status: 409, category: 'input', message: "the officer's sanction was changed by another operator meanwhile; read it again and retry" },
  body_too_large: { status: 413, category: 'input', message: 'the body exceeds the 1 MiB limit' },
  unsupported_media_type: { status: 415, category: 'input', message: 'the body must be application/json' },
  headers_too_large: { status: 431, category: 'input', message: 'the request headers exceed the server limit' },
  internal_error: { status: 500, category: 'internal', message: 'internal error' },
  upstream_unavailable: { status: 502, category: 'upstream', message: 'the database could not be reached' },
  upstream_error: { status: 502, category: 'upstream', message: 'the database answered with an error' },
  upstream_too_large: { status: 502, category: 'upstream', message: 'the database answered with more than the answer size limit' },
  state_unavailable: { status: 503, category: 'unavailable', message: 'agency state is unavailable; the gateway cannot decide safely' },
  audit_unavailable: { status: 503, category: 'unavailable', message: 'the audit ledger is not writable; the gateway cannot answer unaudited' },
  jwks_unavailable: { status: 503, category: 'unavailable', message: "the identity provider's keys cannot be fetched (GATEWAY_JWT_JWKS_URL); the token cannot be verified" },
  overloaded: { status: 503, category: 'unavailable', message: 'the gateway is overloaded; retry shortly' },
  upstream_timeout: { status: 504, category: 'upstream', message: 'the database did not answer in time' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof errorCatalogue

export interface ErrorIssue {
  readonly path: string
  readonly message: string
}

/** An error with a catalogued code; the HTTP layer renders it as `{ error: { code, message, issues } }`. */
export class GatewayError extends Error {
  override name = 'GatewayError'
  readonly code: ErrorCode
  readonly status: number
  readonly category: ErrorCategory
  readonly issues: readonly ErrorIssue[]

  constructor(code: ErrorCode, message?: string, issues: readonly ErrorIssue[] = [], options?: { cause?: unknown }) {
    super(message ?? errorCatalogue[code].message, options)
    this.code = code
    this.status = errorCatalogue[code].status
    this.category = errorCatalogue[code].category
    this.issues = issues
  }
}
