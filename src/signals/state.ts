// Where misuse signals count (issue 13, point 2): distinct members per key and window, the recent
// decision ids behind each key, and whether the key's signal was raised in its window. In process for
// the embedded store; in Redis when REDIS_URL is set, so instances sharing it count together (an officer
// whose queries are spread over two gateways, a subject queried through both). One Lua call per batch of
// queries, never on a query's own path. Memory is bounded: a key's members stop at its threshold (past it
// the signal has fired), its ids at recentIds, and every key expires with its window.
import type { Redis } from 'ioredis'
import { connect } from '../state/redis.js'

/**
 * One count to make: add `member` to `key`'s set; raise when the set reaches `threshold`. A key may have
 * facets, each with its own set and its own signal, sharing the key's decision ids: subject_spread counts a
 * subject's officers and its agencies on one key, not on two whose ids would be the same. A decision counts
 * all of a key's facets, one after the other.
 */
export interface SignalCount {
  /**
   * Where the key is counted: the kind and its window ('distinct_subjects:493812:'), '' (or none) for a
   * key of its own. The key's name is scope + key: the in-process state keeps a scope's keys in a map of
   * their own, so the officer or subject named by `key` is looked up as it is, not in a string made for
   * each count (hashing and comparing those was most of the in-process counting's cost).
   */
  readonly scope?: string
  readonly key: string
  /** The set counted: '' (or none) when the key has one. */
  readonly facet?: string
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
  /**
   * When it raised: the members counted on each of the key's facets (up to each one's threshold), as
   * `facet:member`, so a subject-keyed signal can name every officer that contributed. Read only then.
   */
  readonly members?: readonly string[]
}

export interface SignalState {
  /** Applies the counts in order; rejects when the state is unavailable. */
  count(counts: readonly SignalCount[], now: number): Promise<CountResult[]>
  close(): Promise<void>
}

/** The decision ids a signal lists: the most recent behind its key (the ledger has the rest, by officer and time). */
export const recentIds = 20

/** Up to this threshold a facet's members are an array: a Set above it. */
const arrayMembers = 16

/**
 * One facet of a key: its distinct members, up to the threshold, and whether it raised its signal. Most
 * keys are counted once in their window (a subject looked up once), so a lone member is kept as itself,
 * not in an array: the embedded store holds tens of thousands of keys, and each object is copied by the
 * garbage collector until it is old.
 */
interface MemoryFacet {
  readonly facet: string
  members: string | string[] | Set<string>
  size: number
  raised: boolean
  /** The key's next facet (subject_spread's agencies after its officers). */
  next: MemoryFacet | null
}

/** A key: its first facet, the decision ids behind it (oldest first; a lone one as itself) and when it expires. */
interface MemoryKey extends MemoryFacet {
  ids: string | string[]
  readonly expires: number
}

/** Counts in this process: the embedded store's, bounded to maxKeys keys (expired ones go first, then the oldest). */
export class MemorySignalState implements SignalState {
  /** Per scope, its keys. */
  private readonly scopes = new Map<string, Map<string, MemoryKey>>()
  private size = 0
  constructor(private readonly maxKeys = 100_000) {}

  async count(counts: readonly SignalCount[], now: number): Promise<CountResult[]> {
    const results = new Array<CountResult>(counts.length)
    for (let index = 0; index < counts.length; index++) results[index] = this.countOne(counts[index]!, now)
    return results
  }

  private countOne(count: SignalCount, now: number): CountResult {
    const { key, member, threshold, decisionId } = count
    const facetName = count.facet ?? ''
    const scopeName = count.scope ?? ''
    let scope = this.scopes.get(scopeName)
    let entry = scope?.get(key)
    if (entry !== undefined && entry.expires <= now) {
      this.remove(scopeName, scope!, key)
      entry = undefined
    }
    if (entry === undefined) {
      if (this.size >= this.maxKeys) this.evict(now)
      scope = this.scopes.get(scopeName)
      if (scope === undefined) this.scopes.set(scopeName, (scope = new Map()))
      entry = { facet: facetName, members: member, size: 1, raised: false, next: null, ids: decisionId, expires: now + count.ttlSeconds * 1000 }
      scope.set(key, entry)
      this.size++
      return this.reached(entry, entry, threshold)
    }
    let facet: MemoryFacet | null = entry
    let last: MemoryFacet = entry
    for (; facet !== null && facet.facet !== facetName; facet = facet.next) last = facet
    if (facet === null) last.next = facet = { facet: facetName, members: member, size: 1, raised: false, next: null }
    else if (facet.raised) {
      // Once raised, a facet has nothing left to count in its window: its signal fires once.
      return { count: facet.size, raised: null }
    } else if (facet.size < threshold) {
      const members = facet.members
      if (typeof members === 'string') {
        if (members !== member) {
          facet.members = threshold <= arrayMembers ? [members, member] : new Set([members, member])
          facet.size = 2
        }
      } else if (Array.isArray(members)) {
        if (!members.includes(member)) facet.size = members.push(member)
      } else facet.size = members.add(member).size
    }
    // Oldest first, trimmed now and then (not shifted on every count); the signal lists the newest first.
    // A decision is listed once, though it counts each facet of the key.
    const ids = entry.ids
    if (typeof ids === 'string') {
      if (ids !== decisionId) entry.ids = [ids, decisionId]
    } else if (ids[ids.length - 1] !== decisionId) {
      ids.push(decisionId)
      if (ids.length >= 2 * recentIds) ids.splice(0, ids.length - recentIds)
    }
    return this.reached(entry, facet, threshold)
  }

  private reached(entry: MemoryKey, facet: MemoryFacet, threshold: number): CountResult {
    if (facet.size < threshold) return { count: facet.size, raised: null }
    facet.raised = true
    const ids = entry.ids
    const members: string[] = []
    for (let each: MemoryFacet | null = entry; each !== null; each = each.next) {
      const list = typeof each.members === 'string' ? [each.members] : [...each.members]
      for (const member of list) members.push(`${each.facet}:${member}`)
    }
    return { count: facet.size, raised: typeof ids === 'string' ? [ids] : ids.slice(-recentIds).reverse(), members: members.sort() }
  }

  private remove(scopeName: string, scope: Map<string, MemoryKey>, key: string): void {
    scope.delete(key)
    this.size--
    if (scope.size === 0) this.scopes.delete(scopeName)
  }

  private evict(now: number): void {
    for (const [scopeName, scope] of this.scopes) for (const [key, entry] of scope) if (entry.expires <= now) this.remove(scopeName, scope, key)
    // Still full: the oldest keys (Map order is insertion order: the oldest scopes, then their oldest
    // keys) make room for a tenth of the bound.
    if (this.size < this.maxKeys) return
    let drop = Math.max(1, Math.floor(this.maxKeys / 10))
    for (const [scopeName, scope] of this.scopes) {
      for (const key of scope.keys()) {
        this.remove(scopeName, scope, key)
        if (--drop === 0) return
      }
    }
  }

  async close(): Promise<void> {
    this.scopes.clear()
    this.size = 0
  }
}

// One hash per key, its fields: per facet f, `nf` its members' count, `mf:MEMBER` each member (up to the
// threshold) and `rf` once raised; `i` the number of decision ids listed, and the newest `keep` of them in a
// ring, `i0`..`i{keep-1}` (id number k in i{k % keep}). One HMGET and at most one HSET a count (and an
// EXPIRE when the key is made), where a set, a list and a flag took 3-5 commands a count, and a facet
// that raised takes the HMGET alone: it has nothing left to count in its window.
// KEYS: per count, its hash. ARGV: per count, facet, member, threshold, decision id, ttl; then keep.
// Returns per count {count, ids newest first or 0}.
const countScript = `
local keep = tonumber(ARGV[#ARGV])
-- Numbers written as text made here: Redis formats a Lua number with printf's %.17g (4% of its CPU).
local format = string.format
local slots = {}
for k = 0, keep - 1 do slots[k] = 'i' .. format('%d', k) end
local results = {}
-- The decision last listed per key in this call: a decision counting a key's two facets is listed once.
local listed = {}
for i = 1, #KEYS do
  local key, at = KEYS[i], (i - 1) * 5
  local facet, member, threshold, id = ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3]), ARGV[at + 4]
  local countField, raisedField, memberField = 'n' .. facet, 'r' .. facet, 'm' .. facet .. ':' .. member
  local got = redis.call('HMGET', key, countField, raisedField, memberField, 'i')
  local n = tonumber(got[1]) or 0
  if got[2] then
    results[i] = { n, 0 }
  else
    local writes, w = {}, 0
    if n < threshold and not got[3] then
      n = n + 1
      writes[1], writes[2], writes[3], writes[4] = countField, format('%d', n), memberField, '1'
      w = 4
    end
    local ids = tonumber(got[4]) or 0
    if listed[key] ~= id then
      listed[key] = id
      ids = ids + 1
      writes[w + 1], writes[w + 2], writes[w + 3], writes[w + 4] = 'i', format('%d', ids), slots[ids % keep], id
      w = w + 4
    end
    if n >= threshold then writes[w + 1], writes[w + 2] = raisedField, '1' end
    if #writes > 0 then redis.call('HSET', key, unpack(writes)) end
    -- The key was made by this count (its first lists an id): it lives to the end of its window.
    if not got[4] then redis.call('EXPIRE', key, ARGV[at + 5]) end
    if n >= threshold then
      local newest = {}
      for k = ids, math.max(1, ids - keep + 1), -1 do newest[#newest + 1] = slots[k % keep] end
      local members = {}
      for _, field in ipairs(redis.call('HKEYS', key)) do
        if string.sub(field, 1, 1) == 'm' then members[#members + 1] = string.sub(field, 2) end
      end
      results[i] = { n, redis.call('HMGET', key, unpack(newest)), members }
    else
      results[i] = { n, 0 }
    end
  end
end
return results
`

type CountingRedis = Redis & { clets_signal_count(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<[number, string[] | 0, string[]?][]> }

/**
 * Counts in Redis, shared by every instance on it; keys under `clets:signal:2:` (2: the layout's version;
 * the first kept a set, a list and a flag per key, so instances of both on one Redis during an upgrade
 * never meet each other's keys as the wrong type).
 */
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
    const keysThenArgs = new Array<string | number>(6 * counts.length + 1)
    counts.forEach((count, index) => {
      keysThenArgs[index] = `clets:signal:2:${count.scope ?? ''}${count.key}`
      const at = counts.length + 5 * index
      keysThenArgs[at] = count.facet ?? ''
      keysThenArgs[at + 1] = count.member
      keysThenArgs[at + 2] = count.threshold
      keysThenArgs[at + 3] = count.decisionId
      keysThenArgs[at + 4] = count.ttlSeconds
    })
    keysThenArgs[6 * counts.length] = recentIds
    const replies = await this.redis.clets_signal_count(counts.length, ...keysThenArgs)
    return replies.map(([count, ids, members]) => (ids === 0 ? { count, raised: null } : { count, raised: ids, members: (members ?? []).sort() }))
  }

  async close(): Promise<void> {
    this.redis.disconnect()
  }
}
