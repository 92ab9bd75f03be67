// The abuse suite (test/abuse.test.ts) with the state in a real redis-server: the same routes, the same
// properties, so a refusal that leaves a trace in Redis, or a Redis-only path that acts on bad input,
// fails here.
process.env.ABUSE_STORE = 'redis'
await import('./abuse.test.js')
