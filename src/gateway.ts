// Builds a running gateway from a Config: policies, identity, backends (simulated in-process when no
// URL is set), state, ledger, upstream pools, the app; and closes it all in order. main.ts, the tests
// and the benchmark start gateways through here, so they run what production runs.
import { hostname } from 'node:os'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { loadSigningKey } from './audit/checkpoint.js'
import { AuditLedger, type Ledger } from './audit/ledger.js'
import { RefusalSummaries } from './audit/refusals.js'
import { generatePopulation, type Population } from './backends/population.js'
import { startCriminalHistory, startDmv, type RunningBackend } from './backends/server.js'
import type { Config } from './config.js'
import { developmentSecret } from './dev-secret.js'
import { createAuthenticator } from './http/auth.js'
import type { AppDependencies, PolicyHolder } from './http/context.js'
import { createMetrics, ledgerObserver, redisObserver } from './metrics.js'
import { LoadShedder } from './overload.js'
import { loadPolicyDir } from './policy-files.js'
import { authorityFile } from './policy/authority.js'
import { PolicyError, type PolicySet } from './policy/compile.js'
import { MemoryStateStore } from './state/memory.js'
import { RedisStateStore } from './state/redis.js'
import { RegistryWatch, redisTarget } from './state/registry.js'
import { initializeRegistry } from './state/seed.js'
import type { StateStore } from './state/types.js'
import { Upstreams } from './upstream/pools.js'
import { loadSubjectKey, SubjectHasher } from './audit/subjects.js'
import { DecisionStream } from './signals/stream.js'
import { MemorySignalState, RedisSignalState } from './signals/state.js'
import { SignalWebhook } from './signals/webhook.js'

export interface GatewayOptions {
  readonly clock?: () => number
  /** Reuse a generated population (tests and the benchmark start several gateways). */
  readonly population?: Population
  /** Only for bench/: a ledger in place of the audit ledger, to measure what the audit costs. */
  readonly ledger?: Ledger
}

export interface Gateway {
  readonly app: FastifyInstance
  readonly deps: AppDependencies
  readonly url: string
  readonly backends: readonly RunningBackend[]
  /** How tokens are signed here: the development secret, or null when public keys are configured. */
  readonly developmentSecret: string | null
  /**
   * Reloads the policy directory and the candidate (POLICY_SHADOW_DIR), each on its own: a set that
   * fails keeps its last good version and the other still reloads. Returns the failure (the live set's
   * first, else the candidate's, whose message names POLICY_SHADOW_DIR), or null.
   */
  reloadPolicy(): Promise<Error | null>
  close(): Promise<void>
}

/** The candidate policy set of POLICY_SHADOW_DIR; its problems name the variable, as start-up errors name POLICY_DIR's files. */
async function loadShadowDir(dir: string): Promise<PolicySet> {
  try {
    return await loadPolicyDir(dir)
  } catch (error) {
    if (error instanceof PolicyError) throw new PolicyError(error.problems.map((problem) => `POLICY_SHADOW_DIR ${dir}: ${problem}`))
    throw error
  }
}

/**
 * A policy set without authority.yaml names no DOJ ORI: every DOJ operator's call is refused (fail
 * closed). Said at start-up and after a reload, where operators look, since the admin API then answers
 * only 403 role_forbidden.
 */
function warnWithoutAuthority(set: PolicySet, dir: string, logger: FastifyBaseLogger): void {
  if (set.authority.dojOris.size > 0) return
  logger.warn({ policyDir: dir, file: authorityFile }, `the policies in ${dir} have no ${authorityFile}: no ORI may act as DOJ, and every doj_operator call is refused (403 role_forbidden); add ${authorityFile} with the DOJ ORIs (dojOris)`)
}

/** Starts every part of the gateway and listens on config.host:config.port. */
export async function startGateway(config: Config, logger: FastifyBaseLogger, options: GatewayOptions = {}): Promise<Gateway> {
  const clock = options.clock ?? Date.now
  const closers: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'error while closing'))
  }
  try {
    const policy: PolicyHolder = { current: await loadPolicyDir(config.policyDir), shadow: config.policyShadowDir === undefined ? null : await loadShadowDir(config.policyShadowDir) }
    warnWithoutAuthority(policy.current, config.policyDir, logger)
    const metrics = createMetrics()
    metrics.policyInfo.labels(policy.current.revision, policy.current.agreementVersion).set(1)

    // Public keys, from a file or from the identity provider's JWKS: then HS256 is refused.
    const publicKeys = config.jwt.publicKeysFile ?? config.jwt.jwksUrl
    let secret = config.jwt.secret
    if (secret === undefined && publicKeys === undefined) secret = developmentSecret(config.stateDir, true)
    if (secret !== undefined && publicKeys !== undefined) logger.warn('public keys are configured: HS256 tokens are refused and GATEWAY_JWT_SECRET is ignored')
    // Issue 13, point 1: the key of the subjects' keyed hashes (AUDIT_SUBJECT_KEY, or a development key
    // under STATE_DIR made on first start, which `gatewayctl audit search` reads there too).
    const hasher = new SubjectHasher(loadSubjectKey(config.audit.subjectKeyFile, config.stateDir, true)!)
    const authenticator = createAuthenticator(
      { ...config.jwt, secret: publicKeys === undefined ? secret : undefined, subjectHasher: hasher },
      {
        metrics,
        clock,
        onJwksFailure: (error) => logger.warn({ err: error, url: config.jwt.jwksUrl }, 'cannot fetch the JWKS: tokens whose key is not known yet are refused (503 jwks_unavailable)'),
      },
    )
    // Once at boot, so the first queries do not wait for it; an IdP that does not answer yet is no
    // reason not to start (its tokens are refused 503 until it does), and is logged.
    if (authenticator.jwks !== null) await authenticator.jwks.refresh()

    const backends: RunningBackend[] = []
    let { dmvUrl, criminalHistoryUrl } = config
    if (dmvUrl === undefined || criminalHistoryUrl === undefined) {
      const population = options.population ?? generatePopulation(config.backends.population, config.backends.seed)
      if (dmvUrl === undefined) {
        const dmv = await startDmv(population)
        closers.push(() => dmv.close())
        backends.push(dmv)
        dmvUrl = dmv.url
      }
      if (criminalHistoryUrl === undefined) {
        const criminalHistory = await startCriminalHistory(population)
        closers.push(() => criminalHistory.close())
        backends.push(criminalHistory)
        criminalHistoryUrl = criminalHistory.url
      }
    }

    const store: StateStore =
      config.redisUrl === undefined
        ? await MemoryStateStore.open(config.stateDir, clock)
        : await RedisStateStore.open({
            url: config.redisUrl,
            timeoutMs: config.redisTimeoutMs,
            observer: redisObserver(metrics),
            onOfficersFolded: (count) => logger.warn({ count }, "officers' sanctions stored under another spelling of a user id were folded into the person's (docs/identity.md)"),
            ...(options.clock === undefined ? {} : { clock: options.clock }),
          })
    closers.push(() => store.close())

    const ledger: Ledger = options.ledger ?? await AuditLedger.open(config.auditDir, config.instanceId, {
      explicit: config.instanceIdExplicit,
      observer: ledgerObserver(metrics),
      signingKey: loadSigningKey(config.auditDir, config.audit.signingKeyFile),
      checkpointRecords: config.audit.checkpointRecords,
      checkpointSeconds: config.audit.checkpointSeconds,
      segmentBytes: config.audit.segmentBytes,
      commitIntervalMs: config.audit.commitIntervalMs,
      clock,
    })
    closers.push(() => ledger.close())
    metrics.bind({ agencies: () => store.list(), stateAgeSeconds: () => store.stateAgeSeconds(), auditBacklog: () => ledger.backlog, clock })

    // While the samples are written one change at a time, the registry is there but not whole: /readyz
    // says so (a load balancer sends no query meanwhile; one that arrives is decided on what is there).
    const seeding = { active: false }
    if (config.redisUrl === undefined) {
      // GATEWAY_SEED_SAMPLES seeds only the embedded store's first start: its journal is its registry,
      // so it knows for certain whether it ever held one.
      if (config.seedSamples && !(await store.holdsRegistry())) {
        const now = clock()
        seeding.active = true
        try {
          await initializeRegistry(store, {
            samples: true,
            agreementVersion: policy.current.agreementVersion,
            now,
            target: 'embedded',
            by: { operator: 'system:seed', source: `gateway@${hostname()}`, reason: 'sample agencies for the demo, seeded on first start (GATEWAY_SEED_SAMPLES)' },
            audit: (event) => ledger.append(event, now),
          })
        } finally {
          seeding.active = false
        }
        logger.info('seeded the sample agencies (first start)')
      }
    } else {
      // A gateway never seeds a Redis (docs/floods.md): a Redis that lost its data looks exactly like a
      // new one, and neither Redis nor this instance's STATE_DIR can tell them apart for certain, so the
      // registry enters a Redis only through the audited `gatewayctl state init [--samples]`.
      if (config.seedSamples) {
        logger.warn({ redis: redisTarget(config.redisUrl) }, 'GATEWAY_SEED_SAMPLES is ignored with REDIS_URL: a gateway never seeds a Redis; a new deployment creates its registry once with `gatewayctl state init --samples`')
      }
      // The watch looks now and again later until Redis holds a registry, records that it saw one, and
      // says what to run while there is none.
      const watch = new RegistryWatch({ store, stateDir: config.stateDir, redisUrl: config.redisUrl, log: logger, clock })
      closers.push(() => watch.close())
      await watch.start()
    }

    const upstreams = new Upstreams({ dmv: dmvUrl, criminal_history: criminalHistoryUrl }, config.upstream)
    closers.push(() => upstreams.close())

    const load = new LoadShedder(config.shedding)
    closers.push(async () => load.stop())
    // Issue 13, point 2: the misuse signals count in Redis when instances share one, else in process.
    const signalState = config.redisUrl === undefined ? new MemorySignalState() : RedisSignalState.open(config.redisUrl, config.redisTimeoutMs)
    closers.push(() => signalState.close())
    const { url: webhookUrl, timeoutMs, retries } = config.signalWebhook
    const webhook = webhookUrl === undefined ? undefined : new SignalWebhook({ url: webhookUrl, timeoutMs, retries, failed: () => metrics.signalWebhookFailures.inc() })
    const stream = new DecisionStream({ ledger, hasher, policy, state: signalState, metrics, clock, log: logger, webhook, reviews: store })
    // Closed after the app (no more queries) and before the signal state and the ledger it writes to.
    closers.push(() => stream.close())
    // Closed after the app (no more refusals) and before the ledger: the open summaries are written then.
    const refusals = new RefusalSummaries({
      ledger,
      clock,
      failed: (error, summary) => logger.error({ err: error, summary: summary.id, ori: summary.ori, sub: summary.sub, count: summary.count }, 'a summary of refusals could not be written to the audit ledger'),
    })
    closers.push(() => refusals.close())
    const deps: AppDependencies = { policy, store, ledger, auditDir: config.auditDir, hasher, upstreams, authenticator, metrics, clock, load, seeding, decided: stream.decided, refusals }
    const app = buildApp({ logger, requestTimeoutMs: config.requestTimeoutMs, metricsEndpoint: config.metrics }, deps)
    // Closed first: stop accepting, finish in-flight requests; then the ledger flushes. Keep-alive
    // connections that go idle after close() began are closed as they go idle, and whatever is still
    // open after the request timeout is cut, so shutdown is bounded.
    closers.push(async () => {
      const sweep = setInterval(() => app.server.closeIdleConnections(), 25)
      const deadline = setTimeout(() => app.server.closeAllConnections(), config.requestTimeoutMs)
      try {
        await app.close()
      } finally {
        clearInterval(sweep)
        clearTimeout(deadline)
      }
    })
    await app.listen({ host: config.host, port: config.port })
    load.arm()
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : config.port
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`

    let closing: Promise<void> | null = null
    return {
      app,
      deps,
      url,
      backends,
      developmentSecret: publicKeys === undefined ? (secret ?? null) : null,
      async reloadPolicy() {
        // The live set and the candidate reload independently: a candidate that cannot be read or does
        // not compile is an experiment gone wrong, and must not hold back a fix to the live policies.
        // Each set that fails keeps its last good version (the candidate: none, if it never loaded),
        // and its failure is logged and counted by set.
        let failure: Error | null = null
        try {
          const next = await loadPolicyDir(config.policyDir)
          metrics.policyInfo.reset()
          metrics.policyInfo.labels(next.revision, next.agreementVersion).set(1)
          policy.current = next
          logger.info({ revision: next.revision }, 'policies reloaded')
          warnWithoutAuthority(next, config.policyDir, logger)
        } catch (error) {
          failure = error as Error
          metrics.policyReloadFailures.labels('live').inc()
          logger.error({ err: error, revision: policy.current.revision }, 'policy reload failed; the last good policies stay in force')
        }
        if (config.policyShadowDir !== undefined) {
          try {
            const shadow = await loadShadowDir(config.policyShadowDir)
            policy.shadow = shadow
            logger.info({ shadowRevision: shadow.revision }, 'candidate policies (POLICY_SHADOW_DIR) reloaded')
          } catch (error) {
            failure ??= error as Error
            metrics.policyReloadFailures.labels('shadow').inc()
            logger.error(
              { err: error, shadowRevision: policy.shadow?.revision ?? null, revision: policy.current.revision },
              policy.shadow === null
                ? 'candidate policy reload failed (POLICY_SHADOW_DIR); no candidate judges until one loads; the live policies are not affected'
                : 'candidate policy reload failed (POLICY_SHADOW_DIR); the last good candidate stays; the live policies are not affected',
            )
          }
        }
        return failure
      },
      close() {
        closing ??= closeAll()
        return closing
      },
    }
  } catch (error) {
    await closeAll()
    throw error
  }
}
