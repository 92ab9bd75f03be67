// One schema for every setting: defaults as the contract gives them; an invalid value names its variable.
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

t.test("defaults are the contract's", async (t) => {
  const config = loadConfig({})
  t.match(config, {
    host: '127.0.0.1',
    port: 8080,
    redisUrl: undefined,
    stateDir: './var/state',
    auditDir: './var/audit',
    dmvUrl: undefined,
    criminalHistoryUrl: undefined,
    policyDir: './policies',
    logLevel: 'info',
    jwt: { issuer: 'doj-idp', audience: 'clets-gateway', secret: undefined, publicKeysFile: undefined },
    backends: { dmvPort: 9101, criminalHistoryPort: 9102, population: 100_000 },
    upstream: { timeoutMs: 5000, maxAnswerBytes: 8 * 1024 * 1024 },
  })
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.jwt), 'frozen')
  t.equal(loadConfig({ PORT: '' }).port, 8080, 'an empty variable counts as unset')
})

t.test('each invalid value stops start-up with a message naming the variable', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /^ {2}PORT: /m],
    [{ PORT: '70000' }, /^ {2}PORT: /m],
    [{ DMV_URL: 'dmv.local:9101' }, /^ {2}DMV_URL: /m],
    [{ CRIMINAL_HISTORY_URL: 'ftp://x' }, /^ {2}CRIMINAL_HISTORY_URL: /m],
    [{ REDIS_URL: 'http://localhost:6379' }, /^ {2}REDIS_URL: /m],
    [{ LOG_LEVEL: 'verbose' }, /^ {2}LOG_LEVEL: /m],
    [{ GATEWAY_JWT_SECRET: 'short' }, /^ {2}GATEWAY_JWT_SECRET: must be at least 32 characters/m],
    [{ UPSTREAM_TIMEOUT_MS: '0' }, /^ {2}UPSTREAM_TIMEOUT_MS: /m],
    [{ UPSTREAM_MAX_ANSWER_BYTES: '8 MiB' }, /^ {2}UPSTREAM_MAX_ANSWER_BYTES: /m],
    [{ GATEWAY_INSTANCE_ID: '../etc' }, /^ {2}GATEWAY_INSTANCE_ID: /m],
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), ConfigError)
    try {
      loadConfig(env)
    } catch (error) {
      t.match((error as Error).message, message, Object.keys(env)[0]!)
    }
  }
  t.match(
    (() => {
      try {
        loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })
      } catch (error) {
        return (error as Error).message
      }
    })(),
    /PORT: [\s\S]*LOG_LEVEL: /,
    'every bad variable is named at once',
  )
})
