// Where misuse signals count (issue 13, point 2): distinct members per key and window, the recent
// decision ids behind each key, and whether the key's signal was raised in its window. In process for
// the embedded store; in Redis when REDIS_URL is set, so instances sharing it count together (an officer
// whose queries are spread over two gateways, a subject queried through both). One Lua call per batch of
// queries, never on a query's own path. Memory is bounded: a key's members stop at its threshold (past it
// the signal has fired), its ids at recentIds, and every key expires with its window.
import type { Redis } from 'ioredis'
import { connect } from '../state/redis.js'

/** One count to make: add `member` to `key`'s set; raise when the set reaches `threshold`. */
export interface SignalCount {
  readonly key: string
  readonly member: string
  readonly threshold: number
  /** The decision behind this count. */
  readonly decisionId: string
  /** Seconds the key lives: to the end of its window. */
  readonly ttlSeconds: number
}

/** A count's result: the distinct members so far (at most the threshold), and when it raised the signal, the decisions. */
export interface CountResult {
  readonly count: number
  readonly raised: readonly string[] | null
}

export interface SignalState {
  /** Applies the counts in order; rejects when the state is unavailable. */
  count(counts: readonly SignalCount[], now: number): Promise<CountResult[]>
  close(): Promise<void>
}

/** The decision ids a signal lists: the most recent behind its key (the ledger has the rest, by officer and time). */
export const recentIds = 20

interface MemoryKey {
  readonly members: Set<string>
  readonly ids: string[]
  raised: boolean
  readonly expires: number
}

/** Counts in this process: the embedded store's, bounded to maxKeys keys (expired ones go first, then the oldest). */
export class MemorySignalState implements SignalState {
  private readonly keys = new Map<string, MemoryKey>()
  constructor(private readonly maxKeys = 100_000) {}

  async count(counts: readonly SignalCount[], now: number): Promise<CountResult[]> {
    return counts.map((count) => {
      let entry = this.keys.get(count.key)
      if (entry !== undefined && entry.expires <= now) {
        this.keys.delete(count.key)
        entry = undefined
      }
      if (entry === undefined) {
        if (this.keys.size >= this.maxKeys) this.evict(now)
        entry = { members: new Set(), ids: [], raised: false, expires: now + count.ttlSeconds * 1000 }
        this.keys.set(count.key, entry)
      }
      if (entry.members.size < count.threshold) entry.members.add(count.member)
      // Oldest first, trimmed now and then (not shifted on every count); the signal lists the newest first.
      entry.ids.push(count.decisionId)
      if (entry.ids.length >= 2 * recentIds) entry.ids.splice(0, entry.ids.length - recentIds)
      if (entry.raised || entry.members.size < count.threshold) return { count: entry.members.size, raised: null }
      entry.raised = true
      return { count: entry.members.size, raised: entry.ids.slice(-recentIds).reverse() }
    })
  }

  private evict(now: number): void {
    for (const [key, entry] of this.keys) if (entry.expires <= now) this.keys.delete(key)
    // Still full: the oldest keys (Map order is insertion order) make room for a tenth of the bound.
    if (this.keys.size >= this.maxKeys) {
      let drop = Math.max(1, Math.floor(this.maxKeys / 10))
      for (const key of this.keys.keys()) {
        this.keys.delete(key)
        if (--drop === 0) break
      }
    }
  }

  async close(): Promise<void> {
    this.keys.clear()
  }
}

// KEYS: per count, its member set, its ids list and its raised flag. ARGV: per count, member, threshold,
// decision id, ttl; then recentIds. Returns per count {count, ids or 0}.
const countScript = `
local keep = tonumber(ARGV[#ARGV])
local results = {}
for i = 0, #KEYS / 3 - 1 do
  local set, ids, raised = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  local member, threshold, id, ttl = ARGV[i * 4 + 1], tonumber(ARGV[i * 4 + 2]), ARGV[i * 4 + 3], tonumber(ARGV[i * 4 + 4])
  local n = redis.call('SCARD', set)
  if n < threshold then
    local added = redis.call('SADD', set, member)
    n = n + added
    -- A key is made here and given its window's TTL at once (atomically): set it only then.
    if n == 1 and added == 1 then redis.call('EXPIRE', set, ttl) end
  end
  local length = redis.call('LPUSH', ids, id)
  if length == 1 then redis.call('EXPIRE', ids, ttl) end
  -- Trimmed to the newest keep ids once it holds twice that: not on every push.
  if length >= 2 * keep then redis.call('LTRIM', ids, 0, keep - 1) end
  if n >= threshold and redis.call('SET', raised, '1', 'NX', 'EX', ttl) then
    results[i + 1] = { n, redis.call('LRANGE', ids, 0, keep - 1) }
  else
    results[i + 1] = { n, 0 }
  end
end
return results
`

type CountingRedis = Redis & { clets_signal_count(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<[number, string[] | 0][]> }

/** Counts in Redis, shared by every instance on it; keys under `clets:signal:`. */
export class RedisSignalState implements SignalState {
  private constructor(private readonly redis: CountingRedis) {}

  static open(url: string, timeoutMs: number): RedisSignalState {
    const redis = connect(url, timeoutMs) as unknown as CountingRedis
    redis.defineCommand('clets_signal_count', { lua: countScript })
    return new RedisSignalState(redis)
  }

  // Redis keeps time itself: the keys expire on its clock.
  async count(counts: readonly SignalCount[], _now: number): Promise<CountResult[]> {
    if (counts.length === 0) return []
    if (this.redis.status === 'wait') await this.redis.connect()
    const keys: string[] = []
    const args: (string | number)[] = []
    for (const count of counts) {
      const base = `clets:signal:${count.key}`
      keys.push(`${base}:m`, `${base}:ids`, `${base}:raised`)
      args.push(count.member, count.threshold, count.decisionId, count.ttlSeconds)
    }
    const replies = await this.redis.clets_signal_count(keys.length, ...keys, ...args, recentIds)
    return replies.map(([count, ids]) => ({ count, raised: ids === 0 ? null : ids }))
  }

  async close(): Promise<void> {
    this.redis.disconnect()
  }
}
