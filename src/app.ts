// buildApp: the fastify instance with every route, hook and error mapping. It never listens; main.ts
// and the tests decide where it runs.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import fastifyPlugin from 'fastify-plugin'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { adminRoutes } from './http/admin.js'
import { auditRoutes } from './http/audit.js'
import { registerJsonParser } from './http/body.js'
import { changeRoutes } from './http/changes.js'
import { consoleRoutes } from './http/console.js'
import { filingRoutes } from './http/filings.js'
import { officerRoutes } from './http/officers.js'
import { captureSourceAddresses, type AppDependencies } from './http/context.js'
import { bearerChallenge, errorBody, toGatewayError } from './http/errors.js'
import { openapiRoutes } from './http/openapi.js'
import { operationsRoutes, type MetricsEndpointOptions } from './http/operations.js'
import { policyRoutes } from './http/policy.js'
import { queryRoutes, refuseQuery } from './http/query.js'
import { requestRoutes } from './http/requests.js'
import { reviewRoutes } from './http/reviews.js'
import { statsRoutes } from './http/stats.js'
import { GatewayError } from './errors.js'
import { accessLogger, requestIds } from './logger.js'
import { packageVersion } from './version.js'
import type { Logger } from 'pino'

export interface AppOptions {
  readonly logger: FastifyBaseLogger
  readonly requestTimeoutMs: number
  /** GET /metrics: its token and cache (METRICS_TOKEN, METRICS_CACHE_MS); unset, open and serialised on every scrape. */
  readonly metricsEndpoint?: MetricsEndpointOptions
}

/** The body limit of the contract: 1 MiB, answered with 413. */
export const bodyLimit = 1024 * 1024

export function buildApp(options: AppOptions, deps: AppDependencies): FastifyInstance {
  /** Connections Node timed out (408): their cut-off request is then recorded as a timeout, not a hang-up. */
  const timedOut = new WeakSet<Socket>()

  /**
   * Errors Node raises before a request reaches fastify's routing (a timeout, malformed HTTP): answered
   * with a catalogued error and counted, like any other refusal, then the connection is closed.
   */
  function clientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const failure =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new GatewayError('request_timeout')
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? new GatewayError('headers_too_large')
          : new GatewayError('invalid_request', 'the request is not valid HTTP/1.1')
    if (failure.code === 'request_timeout') timedOut.add(socket)
    deps.metrics.rejections.labels(failure.code).inc()
    if (socket.writable) {
      const body = JSON.stringify(errorBody(failure))
      socket.write(`HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    }
    socket.destroy(error)
  }

  const app = Fastify({
    loggerInstance: options.logger,
    // One line per request is logged in onResponse below, with the decision id and without the body.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (pino builds one per call): our lines carry reqId themselves.
    childLoggerFactory: (logger) => logger,
    // Unique across instances, and an incoming x-request-id is kept (it is echoed back in onRequest).
    genReqId: requestIds(),
    bodyLimit,
    requestTimeout: options.requestTimeoutMs,
    // Given to the server at construction too: set afterwards (as fastify does with requestTimeout),
    // Node never checked it, and a body sent a byte at a time held a connection 81 s against 10 s. The
    // check runs every connectionsCheckingInterval, so a request lives at most the timeout plus that.
    http: {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(options.requestTimeoutMs / 4))),
    },
    keepAliveTimeout: 65_000,
    clientErrorHandler: (error, socket) => clientError(error as NodeJS.ErrnoException, socket),
    return503OnClosing: true,
    // A path parameter may be an officer's user id (up to 128 characters, as tokens carry it): longer than
    // fastify's default of 100, and checked by each route's schema (400), not cut off by the router (414).
    routerOptions: { maxParamLength: 256 },
    // What the router refuses before any route (a longer parameter still, a path that is not valid
    // percent-encoding) is bad input like any other: the catalogue's shape, counted; not fastify's own.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      const failure = new GatewayError('invalid_request', tooLong ? 'a path segment is longer than 256 characters' : 'the path is not valid percent-encoding', [
        { path: 'url', message: tooLong ? 'each path segment must be at most 256 characters' : 'must be valid percent-encoding' },
      ])
      deps.metrics.rejections.labels(failure.code).inc()
      void (reply as FastifyReply).code(failure.status).send(errorBody(failure))
    },
    ajv: {
      // Strict: an unknown field is an error (not silently dropped) and nothing is coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true },
    },
  })

  // @fastify/jwt verifies what the verified-token cache has not seen (src/http/auth.ts).
  void app.register(deps.authenticator.plugin, deps.authenticator.pluginOptions)
  captureSourceAddresses(app.server)
  // JSON only: a text/plain body is answered 415, not parsed as a string.
  app.removeContentTypeParser(['text/plain'])
  app.decorateRequest('identity', null)
  app.decorateRequest('decisionId', null)

  // Bodies are parsed only for routes, once their token is verified, and never nested past a bound.
  registerJsonParser(app, deps.metrics)

  function notFound(request: FastifyRequest, reply: FastifyReply): void {
    deps.metrics.rejections.labels('not_found').inc()
    void reply.code(404).send(errorBody(new GatewayError('not_found', `no endpoint ${request.method} ${request.url.split('?')[0]}`)))
  }

  // Every answer names its request id: the terminal software can quote it, and find its log line.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    // A path without a route is answered here, before its body is read: the not-found route otherwise
    // runs the whole lifecycle, parser included, and 20 POSTs of 1 MiB nested JSON to such paths
    // stalled /healthz for 8.9 s. A body it announced is not drained either: the connection is closed
    // after the answer (draining up to 1 MiB a request is work for a stranger, and a request pipelined
    // behind an unread body was seen held until the keep-alive timeout).
    if (request.is404) {
      const headers = request.headers
      if ((headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined) reply.header('connection', 'close')
      return notFound(request, reply)
    }
    done()
  })

  const requestDuration = deps.metrics.requestDuration
  const accessLog = accessLogger(options.logger as Logger)
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    requestDuration.observe(requestDuration.child(route, request.method, String(status)), reply.elapsedTime / 1000)
    accessLog({ reqId: request.id, route, method: request.method, status, ms: Math.round(reply.elapsedTime * 100) / 100, decisionId: request.decisionId })
    done()
  })

  app.setErrorHandler(async (error, request, reply) => {
    let failure = toGatewayError(error)
    // Node answered the timeout itself (and clientError counted it): what is left is to audit the request.
    const answered = failure.code === 'request_aborted' && timedOut.has(request.raw.socket)
    if (answered) failure = new GatewayError('request_timeout')
    if (request.routeOptions.url === '/v1/query') {
      try {
        const refusal = await refuseQuery(deps, request, reply, failure)
        failure = refusal.error
        if (refusal.limited !== null) {
          // Over the rate limits: answered as the contract's 429, and counted as the rejection it also is.
          if (!answered) deps.metrics.rejections.labels(failure.code).inc()
          reply.code(refusal.limited.status)
          return refusal.limited.body
        }
      } catch (auditError) {
        // The refusal could not be audited: whatever the first problem was, no answer leaves unaudited.
        request.log.error({ reqId: request.id, err: auditError }, 'cannot audit a refused query')
        failure = new GatewayError('audit_unavailable')
      }
    }
    if (failure.status >= 500) {
      request.log.error({ reqId: request.id, code: failure.code, err: failure.cause ?? failure }, failure.message)
      if (failure.category === 'unavailable' || failure.category === 'internal') deps.metrics.refusals.labels(failure.code).inc()
    } else if (!answered) {
      deps.metrics.rejections.labels(failure.code).inc()
    }
    if (failure.code === 'overloaded') reply.header('retry-after', '1')
    if (failure.status === 401) reply.header('www-authenticate', bearerChallenge(failure))
    reply.code(failure.status)
    return errorBody(failure)
  })

  // Answered by the onRequest hook above already; set so that fastify's own 404 body is never used.
  app.setNotFoundHandler(notFound)

  // @fastify/swagger first: it documents the routes registered once it is loaded, so the routes come
  // in a plugin after it (fastify-plugin: in the root context, as if declared here).
  openapiRoutes(app, packageVersion)
  void app.register(
    fastifyPlugin(async (api) => {
      queryRoutes(api, deps)
      policyRoutes(api, deps)
      adminRoutes(api, deps)
      requestRoutes(api, deps)
      officerRoutes(api, deps)
      changeRoutes(api, deps)
      reviewRoutes(api, deps)
      operationsRoutes(api, deps, options.metricsEndpoint ?? { token: undefined, cacheMs: 0 })
      filingRoutes(api, deps)
      auditRoutes(api, deps)
      statsRoutes(api, deps)
      consoleRoutes(api)
    }),
  )
  return app
}
