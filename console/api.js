// The console's calls to the gateway's admin API, with the operator's token from sessionStorage (this
// tab only: closing it signs out). Every failure becomes an ApiError carrying the API's error body.

const tokenKey = 'clets-console-token'

export function storedToken() {
  return sessionStorage.getItem(tokenKey)
}

export function keepToken(token) {
  sessionStorage.setItem(tokenKey, token)
}

export function forgetToken() {
  sessionStorage.removeItem(tokenKey)
}

/** The token's claims, for showing who is signed in (the gateway verifies it on every call). */
export function claimsOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(atob(payload))
  } catch {
    return {}
  }
}

/**
 * An answer that is not 2xx: its status, the catalogue's { code, message, issues }, and the audit id of
 * the ledger record a refusal wrote (x-audit-id; an operator call refused for want of authority has one).
 */
export class ApiError extends Error {
  constructor(status, error, auditId = null) {
    super(error.message)
    this.status = status
    this.code = error.code
    this.issues = error.issues ?? []
    this.auditId = auditId
  }
}

/** One call to the API; resolves with the parsed body of a 2xx answer. */
export async function api(method, path, body, token = storedToken()) {
  const headers = { authorization: `Bearer ${token}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  } catch (error) {
    throw new ApiError(0, { code: 'network_error', message: `the gateway could not be reached (${error.message})` })
  }
  const text = await response.text()
  let parsed = null
  try {
    parsed = text === '' ? null : JSON.parse(text)
  } catch {
    parsed = null
  }
  if (!response.ok) {
    const error = parsed?.error ?? { code: `http_${response.status}`, message: text.slice(0, 200) || response.statusText }
    throw new ApiError(response.status, error, response.headers.get('x-audit-id'))
  }
  return parsed
}

/** A query string from the non-empty fields of an object. */
export function queryString(fields) {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) if (value !== undefined && value !== '') params.set(name, value)
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}
