// Knowing that a Redis held an agency registry, outside Redis. A Redis that lost its data looks exactly
// like a new one, and anything kept only in Redis is lost with it; so each gateway (and gatewayctl state
// init) records in its own STATE_DIR, durably, the first time it sees (or makes) the registry. A gateway
// never creates a registry in Redis (docs/floods.md): recreating a lost one would bring back agencies
// DOJ had removed, allowed again. A new deployment creates it with `gatewayctl state init [--samples]`,
// and a lost one is restored with `gatewayctl state import`; the record lets a gateway say which of the
// two its Redis needs.
import { readFileSync } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { noRegistryMessage, StateUnavailableError, type StateStore } from './types.js'

export const registrySeenFile = 'redis-registry.json'

export interface RegistrySeen {
  /** When this instance first saw the registry (ISO time), or `unknown` if the record is damaged. */
  readonly firstSeen: string
  readonly redis: string
}

/** A Redis URL as logs and records may show it: without credentials. */
export function redisTarget(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//')
}

/** This STATE_DIR's record that its Redis held a registry, or null if it never saw one. */
export function registrySeen(stateDir: string): RegistrySeen | null {
  const path = join(stateDir, registrySeenFile)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  // A record cut short by a crash still says that a registry was seen: only its existence counts.
  try {
    const record = JSON.parse(text) as Partial<RegistrySeen>
    return { firstSeen: String(record.firstSeen ?? 'unknown'), redis: String(record.redis ?? 'unknown') }
  } catch {
    return { firstSeen: 'unknown', redis: 'unknown' }
  }
}

/** Writes the record durably (the file and its directory entry) unless it exists. */
export async function recordRegistrySeen(stateDir: string, redisUrl: string, now: number): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 })
  let file
  try {
    file = await open(join(stateDir, registrySeenFile), 'wx', 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return
    throw error
  }
  try {
    await file.writeFile(`${JSON.stringify({ firstSeen: new Date(now).toISOString(), redis: redisTarget(redisUrl) })}\n`)
    await file.sync()
  } finally {
    await file.close()
  }
  const dir = await open(stateDir, 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

/** What the watch logs through (pino's logger is one). */
export interface RegistryLog {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export interface RegistryWatchOptions {
  readonly store: StateStore
  readonly stateDir: string
  readonly redisUrl: string
  readonly log: RegistryLog
  readonly clock: () => number
  /** Wait before the first retry, doubled up to `maxRetryMs` (ms). */
  readonly firstRetryMs?: number
  readonly maxRetryMs?: number
  /** While Redis does not answer, one log line at most this often (ms). */
  readonly logEveryMs?: number
}

/**
 * Watches the Redis a gateway starts with until it has seen a registry there, and records it in
 * STATE_DIR. It never creates one. A Redis that is not up yet,
 * or holds no registry yet, is asked again after a bounded wait (at most `maxRetryMs`), with a bounded
 * number of log lines, until the registry is there; a registry that this instance saw and Redis lost
 * is logged once and never re-created.
 */
export class RegistryWatch {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> = Promise.resolve()
  private closed = false
  private delay: number
  private attempts = 0
  private lastLoggedAt = Number.NEGATIVE_INFINITY
  private waitingLogged = false
  private failing = false

  constructor(private readonly options: RegistryWatchOptions) {
    this.delay = options.firstRetryMs ?? 200
  }

  /** Looks once (awaited at start, so what Redis holds is logged before the gateway listens); retries in the background. */
  start(): Promise<void> {
    this.running = this.attempt()
    return this.running
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }

  private retry(): void {
    if (this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.running = this.attempt()
    }, this.delay)
    this.delay = Math.min(this.delay * 2, this.options.maxRetryMs ?? 2000)
  }

  /** One look; whatever goes wrong is logged and looked at again later, never left unhandled. */
  private attempt(): Promise<void> {
    return this.look().catch((error: unknown) => {
      this.options.log.error({ redis: redisTarget(this.options.redisUrl), err: (error as Error).message }, 'could not record that Redis holds the agency registry; trying again')
      this.retry()
    })
  }

  private async look(): Promise<void> {
    if (this.closed) return
    const { store, stateDir, redisUrl, log, clock } = this.options
    const redis = redisTarget(redisUrl)
    this.attempts++
    let holds: boolean
    try {
      holds = await store.holdsRegistry()
    } catch (error) {
      if (!(error instanceof StateUnavailableError)) throw error
      const now = performance.now()
      if (now - this.lastLoggedAt >= (this.options.logEveryMs ?? 60_000)) {
        this.lastLoggedAt = now
        log.warn({ redis, attempts: this.attempts, err: error.message }, 'Redis does not answer; asking again until it does (queries are refused with 503 meanwhile)')
      }
      this.failing = true
      return this.retry()
    }
    if (this.failing) log.info({ redis, attempts: this.attempts }, 'Redis answers')
    this.failing = false
    const seen = registrySeen(stateDir)
    if (holds) {
      if (seen === null) {
        await recordRegistrySeen(stateDir, redisUrl, clock())
        log.info({ redis, record: join(stateDir, registrySeenFile) }, 'Redis holds the agency registry; recorded, so a loss of it is told apart from a new deployment')
      }
      return
    }
    if (seen !== null) {
      log.error(
        { redis, firstSeen: seen.firstSeen, record: join(stateDir, registrySeenFile) },
        `Redis lost its agency registry (this instance first saw it there on ${seen.firstSeen}): a gateway never creates one, since that would undo sanctions. Every query is refused with 503 until it is restored with \`gatewayctl state import FILE\` from the latest export`,
      )
      return
    }
    if (!this.waitingLogged) log.warn({ redis }, noRegistryMessage)
    this.waitingLogged = true
    return this.retry()
  }
}
