// buildApp: the fastify instance with every route, hook and error mapping. It never listens; main.ts
// and the tests decide where it runs.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { adminRoutes } from './http/admin.js'
import type { AppDependencies } from './http/context.js'
import { errorBody, toGatewayError } from './http/errors.js'
import { operationsRoutes } from './http/operations.js'
import { policyRoutes } from './http/policy.js'
import { queryRoutes, refuseQuery } from './http/query.js'
import { GatewayError } from './errors.js'
import { accessLogger } from './logger.js'
import type { Logger } from 'pino'

export interface AppOptions {
  readonly logger: FastifyBaseLogger
  readonly requestTimeoutMs: number
}

/** The body limit of the contract: 1 MiB, answered with 413. */
export const bodyLimit = 1024 * 1024

export function buildApp(options: AppOptions, deps: AppDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    // One line per request is logged in onResponse below, with the decision id and without the body.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (pino builds one per call): our lines carry reqId themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    ajv: {
      // Strict: an unknown field is an error (not silently dropped) and nothing is coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true },
    },
  })

  // JSON only: a text/plain body is answered 415, not parsed as a string.
  app.removeContentTypeParser(['text/plain'])
  app.decorateRequest('identity', null)
  app.decorateRequest('decisionId', null)

  const requestDuration = deps.metrics.requestDuration
  const accessLog = accessLogger(options.logger as Logger)
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    requestDuration.observe(requestDuration.child(route, String(status)), reply.elapsedTime / 1000)
    accessLog({ reqId: request.id, route, method: request.method, status, ms: Math.round(reply.elapsedTime * 100) / 100, decisionId: request.decisionId })
    done()
  })

  app.setErrorHandler(async (error, request, reply) => {
    let failure = toGatewayError(error)
    if (request.routeOptions.url === '/v1/query') {
      try {
        failure = await refuseQuery(deps, request, reply, failure)
      } catch (auditError) {
        // The refusal could not be audited: whatever the first problem was, no answer leaves unaudited.
        request.log.error({ reqId: request.id, err: auditError }, 'cannot audit a refused query')
        failure = new GatewayError('audit_unavailable')
      }
    }
    if (failure.status >= 500) {
      request.log.error({ reqId: request.id, code: failure.code, err: failure.cause ?? failure }, failure.message)
      if (failure.category === 'unavailable' || failure.category === 'internal') deps.metrics.refusals.labels(failure.code).inc()
    } else {
      deps.metrics.rejections.labels(failure.code).inc()
    }
    if (failure.code === 'overloaded') reply.header('retry-after', '1')
    reply.code(failure.status)
    return errorBody(failure)
  })

  app.setNotFoundHandler((request, reply) => {
    deps.metrics.rejections.labels('not_found').inc()
    reply.code(404).send(errorBody(new GatewayError('not_found', `no endpoint ${request.method} ${request.url.split('?')[0]}`)))
  })

  queryRoutes(app, deps)
  policyRoutes(app, deps)
  adminRoutes(app, deps)
  operationsRoutes(app, deps)
  return app
}
