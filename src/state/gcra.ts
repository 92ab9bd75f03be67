// The generic cell rate algorithm (GCRA): `limit` queries per `windowSeconds`, bursts up to `limit`,
// one number (the theoretical arrival time) per key. The Redis store runs the same arithmetic in Lua.
import type { RateLimitPolicy } from '../policy/types.js'

export interface GcraResult {
  readonly allowed: boolean
  /** The key's new theoretical arrival time (epoch ms), to be stored only if the query is admitted. */
  readonly tat: number
  readonly retryAfterMs: number
  readonly remaining: number
  readonly resetMs: number
}

/** One GCRA step for a key whose stored arrival time is `tat` (undefined when none is stored). */
export function gcra(tat: number | undefined, now: number, policy: RateLimitPolicy): GcraResult {
  const windowMs = policy.windowSeconds * 1000
  const interval = windowMs / policy.limit
  const start = tat === undefined || tat < now ? now : tat
  const next = start + interval
  const allowAt = next - windowMs
  if (now < allowAt) return { allowed: false, tat: start, retryAfterMs: allowAt - now, remaining: 0, resetMs: start - now }
  return { allowed: true, tat: next, retryAfterMs: 0, remaining: Math.floor((windowMs - (next - now)) / interval), resetMs: next - now }
}
