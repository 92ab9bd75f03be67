// The JSON body parser. Fastify's own parser (secure-json-parse: JSON.parse, then a refusal of any
// `__proto__` key or `constructor.prototype`) builds the whole object tree before anything can judge
// it: a 1 MiB body of nested brackets is half a million arrays and 200-330 ms of event loop. So the
// raw text is scanned first for how deep it nests, a scan that allocates nothing and stops at the
// first bracket past the limit; only a body within it is handed to fastify's parser, unchanged.
// Bodies are parsed only for a route that exists and only once its token was verified (the routes'
// onRequest hooks, and the not-found route's in app.ts): this parser never runs for a stranger.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError } from '../errors.js'
import type { Metrics } from '../metrics.js'

/**
 * How deep a JSON body may nest: an object or array inside another counts one level, the body itself
 * is level 1. The deepest body of the API (a filing's lists of objects) nests 3 levels.
 */
export const maxJsonDepth = 32

/**
 * True when the JSON text opens more than `limit` objects or arrays inside one another. Brackets
 * inside strings do not count (a backslash escapes the next character); the text is not otherwise
 * checked: JSON.parse judges the rest.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0
  const length = text.length
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      // A string: on to its closing quote, the first one after an even number of backslashes (an odd
      // number escapes it). indexOf, not a character loop: a quarter of the time on a query body.
      for (;;) {
        i = text.indexOf('"', i + 1)
        if (i === -1) return false // unterminated: JSON.parse refuses it
        let backslashes = 0
        while (text.charCodeAt(i - 1 - backslashes) === 0x5c) backslashes++
        if ((backslashes & 1) === 0) break
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}

/** Replaces fastify's application/json parser with the depth check in front of it, counted. */
export function registerJsonParser(app: FastifyInstance, metrics: Metrics): void {
  // Fastify's default behaviour, kept: a body with `__proto__` or `constructor.prototype` is refused
  // (400 invalid_json), never parsed into an object that could poison a prototype.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const parsed = metrics.jsonBodies.child('parsed')
  const invalid = metrics.jsonBodies.child('invalid')
  const tooDeep = metrics.jsonBodies.child('too_deep')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request: FastifyRequest, body: string | Buffer, done: (error: Error | null, body?: unknown) => void) => {
    const text = body as string
    if (nestsDeeperThan(text, maxJsonDepth)) {
      tooDeep.value++
      done(new GatewayError('invalid_json', `the body nests deeper than ${maxJsonDepth} levels`, [{ path: 'body', message: `must nest at most ${maxJsonDepth} objects or arrays deep` }]))
      return
    }
    parseJson(request, text, (error: Error | null, value: unknown) => {
      if (error === null) parsed.value++
      else invalid.value++
      done(error, value)
    })
  })
}
