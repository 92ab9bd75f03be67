// gatewayctl state init and state import as DOJ runs them: the CLI as a child process against a real
// Redis. A registry file is checked against the admin API's rules before anything happens, and every
// change to enforcement state is in the audit ledger before it reaches Redis.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import t from 'tap'
import { ledgerRecords, root, tempDir } from './helpers.js'
import { startRedis } from './redis.js'

const exec = promisify(execFile)
const redis = await startRedis()
t.teardown(() => redis.stop())

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs gatewayctl with its own audit and state directories (as on an operator's machine). */
function operatorMachine() {
  const auditDir = tempDir('cli-audit')
  const stateDir = tempDir('cli-state')
  const env = { ...process.env, AUDIT_DIR: auditDir, STATE_DIR: stateDir, REDIS_URL: '' }
  const gatewayctl = (...args: string[]): Promise<Run> =>
    exec(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: root, env }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    )
  return { auditDir, stateDir, gatewayctl }
}

let databases = 0
/** A Redis database of its own for each test, and a raw client to look into it. */
function database(t: { teardown(close: () => unknown): void }) {
  const url = `${redis.url}/${++databases}`
  const raw = new Redis(url)
  t.teardown(() => raw.quit())
  return { url, raw }
}

/** Everything a Redis database holds, to show that a refused command changed nothing. */
async function contents(raw: Redis): Promise<Record<string, unknown>> {
  const all: Record<string, unknown> = {}
  for (const key of (await raw.keys('*')).sort()) {
    const type = await raw.type(key)
    all[key] = type === 'hash' ? await raw.hgetall(key) : type === 'set' ? (await raw.smembers(key)).sort() : await raw.get(key)
  }
  return all
}

const lapd = {
  ori: 'CA0194200',
  name: 'Los Angeles Police Department',
  kind: 'local',
  organisation: 'CA/LAPD',
  agreement: { version: 'PPP-2019-02', signedAt: '2019-05-20T00:00:00.000Z' },
  sanction: null,
  monitored: false,
  version: 2,
}
/** An agency as an export made before agencies had an organisation holds it: it is imported with none. */
const sheriff = {
  ori: 'CA0990000',
  name: "Bayview County Sheriff's Department (fictional)",
  kind: 'local',
  agreement: { version: 'PPP-2019-02', signedAt: '2019-06-03T00:00:00.000Z' },
  sanction: { type: 'removal', scope: 'all', reason: 'repeated CCW checks on criminal history', since: '2026-01-05T09:00:00.000Z' },
  monitored: false,
  version: 7,
}
const backup = (agencies: unknown[], officers?: unknown[]) => ({ format: 'clets-agency-registry/1', exportedAt: '2026-06-01T12:00:00.000Z', agencies, ...(officers === undefined ? {} : { officers }) })
/** An officer's sanction (issue 12), as `state export` writes it. */
const officer96 = { ori: 'CA0990000', sub: 'officer-96', sanction: { type: 'suspension', scope: 'all', reason: 'queried a neighbour (invented example)', since: '2026-05-30T08:00:00.000Z' }, version: 1 }

function writeBackup(content: unknown): string {
  const file = join(tempDir('backup'), 'registry.json')
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2))
  return file
}

t.test('import validates the file by the admin API rules: each bad file is refused, names its path and changes nothing', async (t) => {
  const { url, raw } = database(t)
  const { auditDir, gatewayctl } = operatorMachine()
  t.equal((await gatewayctl('state', 'import', writeBackup(backup([lapd])), '--redis', url)).code, 0, 'a registry to protect')
  const before = await contents(raw)
  const records = ledgerRecords(auditDir).length

  const bad: [string, unknown, RegExp][] = [
    ['an ORI not of the ORI format', backup([{ ...lapd, ori: 'ca01942' }]), /agencies\.0\.ori: /],
    ['a negative version', backup([{ ...lapd, version: -3 }]), /agencies\.0\.version: /],
    ['a version of 0', backup([{ ...lapd, version: 0 }]), /agencies\.0\.version: /],
    ['the same ORI twice', backup([lapd, sheriff, { ...lapd, name: 'LAPD (second copy)' }]), /agencies\.2\.ori: CA0194200 appears more than once \(first as agencies\.0\)/],
    ['an empty name', backup([{ ...lapd, name: '' }]), /agencies\.0\.name: /],
    ['an organisation not of the path format', backup([{ ...lapd, organisation: 'dhs/ice' }]), /agencies\.0\.organisation: must be an organisation path/],
    ['an organisation with an empty segment', backup([{ ...lapd, organisation: 'DHS//ICE' }]), /agencies\.0\.organisation: must be an organisation path/],
    ['an organisation too long', backup([{ ...lapd, organisation: `DHS/${'A'.repeat(61)}` }]), /agencies\.0\.organisation: /],
    ['a signing date that is not a date', backup([{ ...lapd, agreement: { version: 'PPP-2019-02', signedAt: 'last spring' } }]), /agencies\.0\.agreement\.signedAt: /],
    ['a removal limited to non-criminal history', backup([{ ...sheriff, sanction: { ...sheriff.sanction, scope: 'non_criminal_history' } }]), /agencies\.0\.sanction\.scope: must be "all" for a removal/],
    ['a censure with an end date', backup([{ ...sheriff, sanction: { ...sheriff.sanction, type: 'censure', until: '2027-01-01T00:00:00.000Z' } }]), /agencies\.0\.sanction\.until: only a suspension takes until/],
    ['a removal with an end date', backup([{ ...sheriff, sanction: { ...sheriff.sanction, until: '2027-01-01T00:00:00.000Z' } }]), /agencies\.0\.sanction\.until: only a suspension takes until/],
    ["an officer's sanction under an ORI the file lacks (it would bind nobody)", backup([lapd], [{ ...officer96, ori: 'CA0194201' }]), /officers\.0\.ori: no agency CA0194201 in the file/],
    ['an officer censured (an officer sanction changes access)', backup([sheriff], [{ ...officer96, sanction: { ...officer96.sanction, type: 'censure' } }]), /officers\.0\.sanction\.type: /],
    ["an officer's removal with an end date", backup([sheriff], [{ ...officer96, sanction: { ...officer96.sanction, type: 'removal', until: '2027-01-01T00:00:00.000Z' } }]), /officers\.0\.sanction\.until: only a suspension takes until/],
    ['a user id with a space', backup([sheriff], [{ ...officer96, sub: 'officer 96' }]), /officers\.0\.sub: must be a user id/],
    ['the same officer twice', backup([sheriff], [officer96, { ...officer96, version: 2 }]), /officers\.1\.sub: officer-96 of CA0990000 appears more than once \(first as officers\.0\)/],
  ]
  // Side by side, each a process of its own (each file is refused before Redis is asked); checked in order.
  const files = bad.map(([, content]) => writeBackup(content))
  const runs = await Promise.all(files.map((file) => gatewayctl('state', 'import', file, '--redis', url)))
  for (const [index, [what, , problem]] of bad.entries()) {
    const file = files[index]!
    const refused = runs[index]!
    t.not(refused.code, 0, `${what}: refused`)
    t.match(refused.stderr, `${file}: not a registry backup:`, `${what}: the message names the file`)
    t.match(refused.stderr, problem, `${what}: and the problem`)
    t.notMatch(refused.stderr, /\n\s+at /, `${what}: no stack trace`)
  }
  const unreadable = [['a file that is not JSON', '{"format": "clets-agency-registry/1", "agencies": ['], ['a file that does not exist', null]] as const
  const unreadableFiles = unreadable.map(([, content]) => (content === null ? join(tempDir('backup'), 'missing.json') : writeBackup(content)))
  const unreadableRuns = await Promise.all(unreadableFiles.map((file) => gatewayctl('state', 'import', file, '--redis', url)))
  for (const [index, [what]] of unreadable.entries()) {
    const file = unreadableFiles[index]!
    const refused = unreadableRuns[index]!
    t.not(refused.code, 0, `${what}: refused`)
    t.match(refused.stderr, file, `${what}: the message names the file`)
    t.notMatch(refused.stderr, /\n\s+at /, `${what}: no stack trace`)
  }
  t.same(await contents(raw), before, 'Redis is exactly as it was')
  t.equal(ledgerRecords(auditDir).length, records, 'and nothing was audited as imported')
})

t.test('a valid import: the audit record is written and verifies, then the registry is replaced', async (t) => {
  const { url, raw } = database(t)
  const { auditDir, gatewayctl } = operatorMachine()
  // A registry that the import replaces: one agency the file does not hold.
  const first = await gatewayctl('state', 'import', writeBackup(backup([{ ...lapd, ori: 'CA0990100', name: 'Bayview PD (fictional)' }])), '--redis', url)
  t.equal(first.code, 0, first.stderr)
  const file = writeBackup(backup([lapd, sheriff], [officer96]))
  const imported = await gatewayctl('state', 'import', file, '--redis', url, '--operator', 'doj-operator-7', '--reason', 'Redis lost its data; restoring the 06-01 export', '--yes')
  t.equal(imported.code, 0, imported.stderr)
  t.match(imported.stdout, /imported 2 agencies and 1 officer sanction record/)

  const record = ledgerRecords(auditDir).filter((entry) => entry.type === 'operator.import').at(-1)
  t.match(record, {
    type: 'operator.import',
    instance: 'gatewayctl',
    operator: 'doj-operator-7',
    reason: 'Redis lost its data; restoring the 06-01 export',
    file,
    sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
    agencies: 2,
    replaced: 1,
    officers: 1,
    officersReplaced: 0,
  })
  const verified = await gatewayctl('audit', 'verify', auditDir)
  t.equal(verified.code, 0, verified.stderr)
  t.match(verified.stdout, /^gatewayctl: 2 records/m)

  t.same((await raw.smembers('clets:agencies')).sort(), ['CA0194200', 'CA0990000'], 'the registry is the file, Bayview PD is gone')
  t.same(JSON.parse((await raw.hget('clets:agency:CA0990000', 'state'))!), { ...sheriff, organisation: null }, 'the removal came back as it was, with no organisation (the file had none)')
  t.same(JSON.parse((await raw.hget('clets:agency:CA0194200', 'state'))!), lapd, 'the organisation came back')
  t.same(await raw.hgetall('clets:officers'), { 'user:CA0990000:officer-96': JSON.stringify(officer96) }, "and the officer's suspension")
  t.equal(await raw.exists('clets:initialized'), 1)
})

t.test('an import whose audit record cannot be written imports nothing', async (t) => {
  const { url, raw } = database(t)
  const notADirectory = join(tempDir('cli-audit'), 'file')
  writeFileSync(notADirectory, '')
  const before = await contents(raw)
  const run = (...args: string[]) =>
    exec(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: root, env: { ...process.env, AUDIT_DIR: notADirectory, REDIS_URL: url } }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    )
  const refused = await run('state', 'import', writeBackup(backup([lapd])))
  t.equal(refused.code, 1)
  t.match(refused.stderr, /cannot write the audit record .*nothing was imported/)
  t.notMatch(refused.stderr, /\n\s+at /, 'no stack trace')
  t.same(await contents(raw), before, 'Redis untouched')
})

t.test('state init on a new Redis: an empty registry, audited; a second init, or one on a Redis holding any agency, is refused', async (t) => {
  const { url, raw } = database(t)
  const { auditDir, gatewayctl } = operatorMachine()
  const init = await gatewayctl('state', 'init', '--redis', url, '--operator', 'doj-operator-7', '--reason', 'new deployment')
  t.equal(init.code, 0, init.stderr)
  t.match(init.stdout, /initialized an empty agency registry/)
  t.same(await contents(raw), { 'clets:initialized': '1' }, 'the registry marker, no agency')
  t.match(ledgerRecords(auditDir), [{ type: 'operator.init', operator: 'doj-operator-7', reason: 'new deployment', samples: false }])

  const again = await gatewayctl('state', 'init', '--redis', url)
  t.equal(again.code, 1)
  t.match(again.stderr, /already holds an agency registry/)
  t.match(again.stderr, /gatewayctl state import/)
  t.equal(ledgerRecords(auditDir).length, 1, 'a refused init writes nothing')

  const { url: other, raw: otherRaw } = database(t)
  await otherRaw.hset('clets:agency:CA0194200', 'version', '1', 'state', JSON.stringify({ ...lapd, version: 1 }))
  await otherRaw.sadd('clets:agencies', 'CA0194200')
  const held = await gatewayctl('state', 'init', '--samples', '--redis', other)
  t.equal(held.code, 1, 'an agency without the marker is a registry too')
  t.equal(await otherRaw.exists('clets:initialized'), 0, 'nothing written')
  t.equal(await otherRaw.scard('clets:agencies'), 1)
})

t.test('state init --samples: the sample agencies, each change audited before it applies, and the ledger verifies', async (t) => {
  const { url, raw } = database(t)
  const { auditDir, gatewayctl } = operatorMachine()
  const init = await gatewayctl('state', 'init', '--samples', '--redis', url, '--operator', 'doj-operator-7')
  t.equal(init.code, 0, init.stderr)
  t.match(init.stdout, /initialized the agency registry with 4 sample agencies/)
  t.same((await raw.smembers('clets:agencies')).sort(), ['CA0194200', 'CA0990000', 'CACBP0000', 'CADHS0100'])
  const records = ledgerRecords(auditDir)
  t.match(records[0], { type: 'operator.init', operator: 'doj-operator-7', samples: true })
  t.ok(records.slice(1).every((record) => record.type === 'operator.change' && record.operator === 'doj-operator-7'), 'then one operator.change per change')
  t.same(new Set(records.slice(1).map((record) => record.ori)), new Set(['CA0194200', 'CA0990000', 'CACBP0000', 'CADHS0100']))
  t.equal((await gatewayctl('audit', 'verify', auditDir)).code, 0)
})

t.test('state init refuses on a machine whose STATE_DIR records that this Redis held a registry (it was lost: restore it)', async (t) => {
  const { url, raw } = database(t)
  const { stateDir, gatewayctl } = operatorMachine()
  writeFileSync(join(stateDir, 'redis-registry.json'), JSON.stringify({ firstSeen: '2026-05-01T00:00:00.000Z', redis: url }))
  const refused = await gatewayctl('state', 'init', '--samples', '--redis', url)
  t.equal(refused.code, 1)
  t.match(refused.stderr, /redis-registry\.json/)
  t.match(refused.stderr, /gatewayctl state import/)
  t.same(await contents(raw), {}, 'nothing seeded')
})

t.test('state init --samples --if-new (the compose stack\'s one-shot): creates once, then leaves a registry as it is; on a Redis that lost its data it fails, never re-seeding', async (t) => {
  const { url, raw } = database(t)
  const { auditDir, stateDir, gatewayctl } = operatorMachine()
  const first = await gatewayctl('state', 'init', '--samples', '--if-new', '--redis', url)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /initialized the agency registry with 4 sample agencies/)
  t.ok(existsSync(join(stateDir, 'redis-registry.json')), 'recorded in STATE_DIR that this Redis holds a registry')
  // DOJ removes a sample agency; the next start's init must not bring it back.
  await raw.srem('clets:agencies', 'CA0194200')
  await raw.del('clets:agency:CA0194200')
  const before = await contents(raw)
  const records = ledgerRecords(auditDir).length
  const again = await gatewayctl('state', 'init', '--samples', '--if-new', '--redis', url)
  t.equal(again.code, 0, 'a registry there: success, so the gateways start')
  t.match(again.stdout, /already holds an agency registry: left as it is/)
  t.same(await contents(raw), before, 'nothing changed')
  t.equal(ledgerRecords(auditDir).length, records, 'nothing audited: nothing was done')

  await raw.flushdb()
  const lost = await gatewayctl('state', 'init', '--samples', '--if-new', '--redis', url)
  t.equal(lost.code, 1, 'a Redis that lost its registry: refused')
  t.match(lost.stderr, /redis-registry\.json records that an agency registry was in Redis.*holds none now.*gatewayctl state import/s)
  t.same(await contents(raw), {}, 'no sample agency re-entered')
})
