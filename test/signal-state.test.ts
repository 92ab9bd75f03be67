// The signal counts (src/signals/state.ts): one contract for the in-process state and the Redis state —
// a key raises once when its distinct members reach the threshold, with the recent decisions behind it;
// memory stays bounded (members stop at the threshold, ids at recentIds, keys expire with their window).
import { Redis } from 'ioredis'
import t from 'tap'
import { MemorySignalState, RedisSignalState, recentIds, type SignalCount, type SignalState } from '../src/signals/state.js'
import { startRedis } from './redis.js'

const redis = await startRedis()
t.teardown(() => redis.stop())
const count = (key: string, member: string, decisionId: string, threshold = 3, ttlSeconds = 60): SignalCount => ({ key, member, threshold, decisionId, ttlSeconds })

const states: [string, () => SignalState][] = [
  ['in process', () => new MemorySignalState()],
  ['Redis', () => RedisSignalState.open(redis.url, 500)],
]
for (const [name, open] of states) {
  t.test(`${name}: raises once when the distinct members reach the threshold, with the decisions behind it`, async (t) => {
    const state = open()
    t.teardown(() => state.close())
    const now = Date.parse('2026-06-01T12:00:00Z')
    const key = `contract:${name}:${Math.random()}`
    const first = await state.count([count(key, 'a', 'd1'), count(key, 'a', 'd2'), count(key, 'b', 'd3')], now)
    t.same(first, [{ count: 1, raised: null }, { count: 1, raised: null }, { count: 2, raised: null }], 'a repeated member counts once')
    t.same(await state.count([count(key, 'c', 'd4')], now), [{ count: 3, raised: ['d4', 'd3', 'd2', 'd1'], members: [':a', ':b', ':c'] }], 'the third member raises it, most recent decision first')
    t.same(await state.count([count(key, 'd', 'd5')], now), [{ count: 3, raised: null }], 'once per key and window; members stop at the threshold')
    const many = Array.from({ length: recentIds + 5 }, (_, index) => count(`${key}:ids`, `m${index}`, `id${index}`, recentIds + 5))
    const results = await state.count(many, now)
    t.equal(results.at(-1)!.raised!.length, recentIds, `at most ${recentIds} decision ids are kept`)
    const after = await state.count([count(`${key}:after`, 'a', 'e1', 2), count(`${key}:after`, 'b', 'e2', 2), count(`${key}:after`, 'c', 'e3', 2)], now)
    t.same(after, [{ count: 1, raised: null }, { count: 2, raised: ['e2', 'e1'], members: [':a', ':b'] }, { count: 2, raised: null }], 'a signal lists the decisions up to its own, not those counted after it in the same call')
  })

  t.test(`${name}: a key's facets count and raise apart, and list each decision once`, async (t) => {
    const state = open()
    t.teardown(() => state.close())
    const key = `facets:${name}:${Math.random()}`
    // subject_spread's pattern: one subject, its officers (3 raise) and its agencies (2 raise).
    const officer = (member: string, decisionId: string): SignalCount => ({ ...count(key, member, decisionId, 3), facet: 'officers' })
    const agency = (member: string, decisionId: string): SignalCount => ({ ...count(key, member, decisionId, 2), facet: 'agencies' })
    const results = await state.count([officer('o1', 'd1'), agency('A', 'd1'), officer('o2', 'd2'), agency('B', 'd2'), officer('o3', 'd3'), agency('B', 'd3')], Date.now())
    t.same(results, [
      { count: 1, raised: null },
      { count: 1, raised: null },
      { count: 2, raised: null },
      { count: 2, raised: ['d2', 'd1'], members: ['agencies:A', 'agencies:B', 'officers:o1', 'officers:o2'] },
      { count: 3, raised: ['d3', 'd2', 'd1'], members: ['agencies:A', 'agencies:B', 'officers:o1', 'officers:o2', 'officers:o3'] },
      { count: 2, raised: null },
    ])
  })
}

t.test('Redis: every key expires with its window', async (t) => {
  const state = RedisSignalState.open(redis.url, 500)
  t.teardown(() => state.close())
  await state.count([count('expiry', 'a', 'd1', 1, 42)], Date.now())
  const client = new Redis(redis.url)
  t.teardown(() => client.quit())
  const keys = await client.keys('clets:signal:*expiry*')
  t.same(keys, ['clets:signal:2:expiry'], 'one hash a key')
  const ttl = await client.ttl(keys[0]!)
  t.ok(ttl > 0 && ttl <= 42, `it expires in ${ttl} s`)
})

t.test('in process: an expired key starts again, and the number of keys is bounded', async (t) => {
  const state = new MemorySignalState(10)
  const now = Date.parse('2026-06-01T12:00:00Z')
  t.same(await state.count([count('k', 'a', 'd1', 1, 60)], now), [{ count: 1, raised: ['d1'], members: [':a'] }])
  t.same(await state.count([count('k', 'b', 'd2', 1, 60)], now + 61_000), [{ count: 1, raised: ['d2'], members: [':b'] }], 'a new window raises again')
  await state.count(Array.from({ length: 50 }, (_, index) => ({ ...count(`k${index}`, 'a', `d${index}`, 2, 60), scope: `s${index % 5}:` })), now)
  t.ok((state as unknown as { size: number }).size <= 10, 'never more keys than the bound')
})

t.test('Redis unavailable: the count rejects (the stream counts it in gateway_signal_errors_total)', async (t) => {
  const state = RedisSignalState.open('redis://127.0.0.1:1', 200)
  t.teardown(() => state.close())
  await t.rejects(state.count([count('x', 'a', 'd1')], Date.now()))
})
