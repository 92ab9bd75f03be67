// Every setting of the gateway, in one schema, parsed once at boot and frozen.
// The public contract's variables keep their names; every setting, the contract's and ours, is listed in
// the README. An invalid value stops start-up with a message that names the variable.
import { hostname } from 'node:os'
import { z } from 'zod'

const port = z.coerce.number().int().min(0).max(65535)
const millis = (max: number) => z.coerce.number().int().min(1).max(max)
const url = z.url({ protocol: /^https?$/ })
const optionalText = z.string().min(1).optional()

const environment = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(8080),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  STATE_DIR: z.string().min(1).default('./var/state'),
  AUDIT_DIR: z.string().min(1).default('./var/audit'),
  DMV_URL: url.optional(),
  CRIMINAL_HISTORY_URL: url.optional(),
  GATEWAY_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  GATEWAY_JWT_PUBLIC_KEYS: optionalText,
  GATEWAY_JWT_JWKS_URL: url.optional(),
  GATEWAY_JWT_ISSUER: z.string().min(1).default('doj-idp'),
  GATEWAY_JWT_AUDIENCE: z.string().min(1).default('clets-gateway'),
  POLICY_DIR: z.string().min(1).default('./policies'),
  // Issue 13, point 3: a candidate policy set judged beside the live one on every query (never answering).
  POLICY_SHADOW_DIR: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Node's convention; `production` makes start-up warn about development settings (the README says which).
  NODE_ENV: z.string().optional(),
  // Ours, not the contract's.
  AUDIT_SIGNING_KEY: optionalText,
  AUDIT_SUBJECT_KEY: optionalText,
  SIGNAL_WEBHOOK_URL: url.optional(),
  SIGNAL_WEBHOOK_TIMEOUT_MS: millis(60_000).default(2_000),
  SIGNAL_WEBHOOK_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  AUDIT_CHECKPOINT_RECORDS: z.coerce.number().int().min(1).max(10_000_000).default(1000),
  AUDIT_CHECKPOINT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(10),
  AUDIT_COMMIT_INTERVAL_MS: z.coerce.number().int().min(0).max(1000).default(0),
  // CJIS Security Policy: keep audit records at least one year (docs/facts.md); never less.
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(365, 'must be at least 365 (CJIS: audit records are kept at least one year)').max(36_500).default(365),
  AUDIT_SEGMENT_BYTES: z.coerce.number().int().min(4096).max(2 ** 40).default(64 * 1024 * 1024),
  SHED_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  SHED_HEAP_USED_RATIO: z.coerce.number().min(0).max(1).default(0.9),
  REDIS_TIMEOUT_MS: millis(10_000).default(500),
  GATEWAY_SEED_SAMPLES: z.enum(['true', 'false']).optional(),
  GATEWAY_INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').optional(),
  UPSTREAM_CONNECT_TIMEOUT_MS: millis(60_000).default(1_000),
  UPSTREAM_TIMEOUT_MS: millis(120_000).default(5_000),
  UPSTREAM_CONNECTIONS: z.coerce.number().int().min(1).max(1024).default(64),
  // An answer is held in memory and decoded to one string; V8's strings stop near 512 M characters.
  UPSTREAM_MAX_ANSWER_BYTES: z.coerce.number().int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
  REQUEST_TIMEOUT_MS: millis(120_000).default(10_000),
  // /metrics: closed with a bearer token when set (what Prometheus sends); its text is serialised at
  // most once per METRICS_CACHE_MS, however many scrape.
  METRICS_TOKEN: z.string().regex(/^[\x21-\x7e]{16,512}$/, 'must be 16 to 512 printable characters without spaces').optional(),
  METRICS_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  JWT_CACHE_SIZE: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  // A stolen token is good until its exp: no token lives longer than this (docs/identity.md).
  JWT_MAX_LIFETIME_S: z.coerce.number().int().min(60).max(7 * 86_400).default(43_200),
  BACKEND_POPULATION: z.coerce.number().int().min(100).max(2_000_000).default(100_000),
  BACKEND_SEED: z.coerce.number().int().min(0).default(54),
  DMV_PORT: port.default(9101),
  CRIMINAL_HISTORY_PORT: port.default(9102),
})

/** The names of every environment variable the gateway reads. */
export const environmentVariables: readonly string[] = Object.keys(environment.shape)

export interface Config {
  readonly host: string
  readonly port: number
  readonly redisUrl: string | undefined
  readonly redisTimeoutMs: number
  /** Seed the sample agencies on the embedded store's first start (default there); never a Redis (ignored with a warning). */
  readonly seedSamples: boolean
  readonly stateDir: string
  readonly auditDir: string
  readonly audit: {
    /** Ed25519 private key (PEM) for checkpoints; unset = a development key under AUDIT_DIR. */
    readonly signingKeyFile: string | undefined
    /** File of the key for subjects' keyed hashes (issue 13); unset = a development key under STATE_DIR. */
    readonly subjectKeyFile: string | undefined
    readonly checkpointRecords: number
    readonly checkpointSeconds: number
    /** Longest time between the starts of two group commits under load; 0 = the next starts when one ends. */
    readonly commitIntervalMs: number
    /** A segment past this size is closed and the chain goes on in the next one (also at each UTC day). */
    readonly segmentBytes: number
    /** How long audit records are kept at least; `gatewayctl audit retention` lists segments past it. */
    readonly retentionDays: number
  }
  readonly dmvUrl: string | undefined
  readonly criminalHistoryUrl: string | undefined
  readonly jwt: {
    readonly secret: string | undefined
    readonly publicKeysFile: string | undefined
    /** The identity provider's JWKS (production, rotating keys); exclusive with publicKeysFile. */
    readonly jwksUrl: string | undefined
    readonly issuer: string
    readonly audience: string
    readonly cacheSize: number
    /** The longest lifetime a token may have: exp − iat (or exp − now without iat), else 401 token_invalid. */
    readonly maxLifetimeSeconds: number
  }
  readonly policyDir: string
  /** A candidate policy set evaluated beside the live one (dry run); unset = none, and no cost. */
  readonly policyShadowDir: string | undefined
  readonly logLevel: string
  /** NODE_ENV=production: start-up warns about the development secret and the simulated databases. */
  readonly production: boolean
  readonly instanceId: string
  /** True when GATEWAY_INSTANCE_ID was set: a busy instance directory is then an error, not a reason to pick another. */
  readonly instanceIdExplicit: boolean
  readonly upstream: {
    readonly connectTimeoutMs: number
    /** The whole forward, from sending the query to the answer's last byte. */
    readonly timeoutMs: number
    readonly connections: number
    /** A longer answer is cut off and refused (502 upstream_too_large). */
    readonly maxAnswerBytes: number
  }
  readonly requestTimeoutMs: number
  /** GET /metrics: the bearer token it requires (unset: open), and how long one serialisation is served. */
  readonly metrics: { readonly token: string | undefined; readonly cacheMs: number }
  /** Where raised misuse signals are POSTed (issue 13), with the timeout of one try and the retries after it. */
  readonly signalWebhook: { readonly url: string | undefined; readonly timeoutMs: number; readonly retries: number }
  readonly shedding: { readonly maxEventLoopDelayMs: number; readonly maxHeapUsedRatio: number }
  readonly backends: { readonly population: number; readonly seed: number; readonly dmvPort: number; readonly criminalHistoryPort: number }
}

/** Raised for an invalid environment; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses the environment into a frozen Config, or throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {}
  for (const key of Object.keys(environment.shape)) {
    const value = env[key]
    // An empty variable means "unset", as in most shells' `VAR= cmd`.
    if (value !== undefined && value !== '') input[key] = value
  }
  const parsed = environment.safeParse(input)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`)
    throw new ConfigError(`invalid environment:\n  ${lines.join('\n  ')}`)
  }
  const e = parsed.data
  if (e.GATEWAY_JWT_PUBLIC_KEYS !== undefined && e.GATEWAY_JWT_JWKS_URL !== undefined) {
    throw new ConfigError('invalid environment:\n  GATEWAY_JWT_JWKS_URL: set either it or GATEWAY_JWT_PUBLIC_KEYS, not both')
  }
  return deepFreeze({
    host: e.HOST,
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    redisTimeoutMs: e.REDIS_TIMEOUT_MS,
    seedSamples: e.GATEWAY_SEED_SAMPLES === undefined ? e.REDIS_URL === undefined : e.GATEWAY_SEED_SAMPLES === 'true',
    stateDir: e.STATE_DIR,
    auditDir: e.AUDIT_DIR,
    audit: {
      signingKeyFile: e.AUDIT_SIGNING_KEY,
      subjectKeyFile: e.AUDIT_SUBJECT_KEY,
      checkpointRecords: e.AUDIT_CHECKPOINT_RECORDS,
      checkpointSeconds: e.AUDIT_CHECKPOINT_SECONDS,
      commitIntervalMs: e.AUDIT_COMMIT_INTERVAL_MS,
      segmentBytes: e.AUDIT_SEGMENT_BYTES,
      retentionDays: e.AUDIT_RETENTION_DAYS,
    },
    dmvUrl: e.DMV_URL,
    criminalHistoryUrl: e.CRIMINAL_HISTORY_URL,
    jwt: {
      secret: e.GATEWAY_JWT_SECRET,
      publicKeysFile: e.GATEWAY_JWT_PUBLIC_KEYS,
      jwksUrl: e.GATEWAY_JWT_JWKS_URL,
      issuer: e.GATEWAY_JWT_ISSUER,
      audience: e.GATEWAY_JWT_AUDIENCE,
      cacheSize: e.JWT_CACHE_SIZE,
      maxLifetimeSeconds: e.JWT_MAX_LIFETIME_S,
    },
    policyDir: e.POLICY_DIR,
    policyShadowDir: e.POLICY_SHADOW_DIR,
    logLevel: e.LOG_LEVEL,
    production: e.NODE_ENV === 'production',
    instanceId: e.GATEWAY_INSTANCE_ID ?? hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64),
    instanceIdExplicit: e.GATEWAY_INSTANCE_ID !== undefined,
    upstream: {
      connectTimeoutMs: e.UPSTREAM_CONNECT_TIMEOUT_MS,
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      connections: e.UPSTREAM_CONNECTIONS,
      maxAnswerBytes: e.UPSTREAM_MAX_ANSWER_BYTES,
    },
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    metrics: { token: e.METRICS_TOKEN, cacheMs: e.METRICS_CACHE_MS },
    signalWebhook: { url: e.SIGNAL_WEBHOOK_URL, timeoutMs: e.SIGNAL_WEBHOOK_TIMEOUT_MS, retries: e.SIGNAL_WEBHOOK_RETRIES },
    shedding: { maxEventLoopDelayMs: e.SHED_EVENT_LOOP_DELAY_MS, maxHeapUsedRatio: e.SHED_HEAP_USED_RATIO },
    backends: {
      population: e.BACKEND_POPULATION,
      seed: e.BACKEND_SEED,
      dmvPort: e.DMV_PORT,
      criminalHistoryPort: e.CRIMINAL_HISTORY_PORT,
    },
  })
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child)
  }
  return Object.freeze(value)
}
