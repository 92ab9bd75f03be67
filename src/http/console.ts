// The DOJ operators' web console (issue 14, point 1): the static files in console/ under /console/.
// Plain HTML, CSS and JavaScript modules, no build step and nothing fetched from elsewhere: the pages
// sign in with an operator token (kept in sessionStorage) and call the admin API with it, so the
// files themselves need no token. A strict Content-Security-Policy holds the pages to this gateway:
// scripts and styles from the console's own files only (no inline code), requests to this origin only.
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

/** console/ at the repository root (this file runs as dist/src/http/console.js). */
export const consoleDir = fileURLToPath(new URL('../../../console/', import.meta.url))

export const consoleContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export function consoleRoutes(app: FastifyInstance): void {
  void app.register(fastifyStatic, {
    root: consoleDir,
    prefix: '/console/',
    // One route per file, found at boot: the console's routes are a fixed set (and so are their metric labels).
    wildcard: false,
    redirect: true,
    decorateReply: false,
    cacheControl: false,
    setHeaders(res) {
      res.setHeader('content-security-policy', consoleContentSecurityPolicy)
      res.setHeader('x-content-type-options', 'nosniff')
      res.setHeader('referrer-policy', 'no-referrer')
      // An operator's page must not be served from a shared cache after sign-out; the files are small.
      res.setHeader('cache-control', 'no-cache')
    },
  })
}
