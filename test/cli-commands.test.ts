// gatewayctl when things go wrong (issue 14, point 7), run as a real child process: a missing file or an
// unreachable Redis or gateway as one clear line with the README's exit code (never a stack trace, never
// a password), a dry run of state import that writes nothing, and a confirmation before a change that
// takes access away. test/cli-help.test.ts has --help, --version and the usage errors.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t from 'tap'
import { call, freePort, lapd, ledgerRecords, operatorToken, policyDir, root, runGatewayctl, sheriff, startTestGateway, tempDir, token } from './helpers.js'
import { startRedis } from './redis.js'

const stackTrace = /\n\s+at /

t.test('a missing, unreadable or malformed file: one line naming it, no stack trace', async (t) => {
  const dir = tempDir('cli-files')
  const missing = join(dir, 'missing')
  const garbage = join(dir, 'garbage.pem')
  writeFileSync(garbage, 'not a key\n')
  const redisNobody = `redis://127.0.0.1:${await freePort()}`
  const cases: [string[], number, string][] = [
    [['audit', 'verify', dir, '--public-key', `${missing}.pem`], 2, `gatewayctl: ${missing}.pem: no such file or folder\n`],
    [['audit', 'verify', dir, '--public-key', dir], 2, `gatewayctl: ${dir}: is a folder, not a file\n`],
    [['audit', 'verify', dir, '--public-key', garbage], 2, `gatewayctl: ${garbage}: not an Ed25519 public key (PEM)`],
    [['audit', 'search', '--dir', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['report', 'misuse', '--year', '2026', '--dir', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    // A folder that is not there is a mistyped argument (2), not a policy problem or a ledger that does
    // not verify (1): for every command that takes a policy or ledger folder.
    [['policy', 'check', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['policy', 'test', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['policy', 'check', garbage], 2, `gatewayctl: ${garbage}: is a file, not a folder\n`],
    [['policy', 'replay', '--against', missing, '--since', '2026-01-01', dir], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['policy', 'replay', '--against', policyDir, '--since', '2026-01-01', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['audit', 'verify', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['audit', 'verify', garbage], 2, `gatewayctl: ${garbage}: is a file, not a folder\n`],
    [['audit', 'retention', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['audit', 'search', '--dir', garbage], 2, `gatewayctl: ${garbage}: is a file, not a folder\n`],
    // Before the gateway is asked anything (nothing listens at this URL).
    [['report', 'compliance', '--year', '2026', '--dir', missing, '--url', redisNobody.replace('redis:', 'http:'), '--token', 'x'], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    [['signals', 'hash-watchlist', missing], 2, `gatewayctl: ${missing}: no such file or folder\n`],
    // The file is read and checked before Redis is asked anything.
    [['state', 'import', `${missing}.json`, '--redis', redisNobody], 2, `gatewayctl: ${missing}.json: cannot read it`],
    [['state', 'import', dir, '--redis', redisNobody, '--dry-run'], 2, `gatewayctl: ${dir}: cannot read it`],
    [['state', 'import', garbage, '--redis', redisNobody], 2, `gatewayctl: ${garbage}: not JSON`],
  ]
  // Side by side, each a process of its own with its own AUDIT_DIR (none changes anything); checked in order.
  const subjectKey = join(dir, 'subject-key')
  writeFileSync(subjectKey, `${'k'.repeat(40)}\n`)
  const runs = await Promise.all(cases.map(([args]) => runGatewayctl(args, { env: { ...process.env, AUDIT_DIR: tempDir('cli-audit'), AUDIT_SUBJECT_KEY: subjectKey } })))
  for (const [index, [args, code, line]] of cases.entries()) {
    const run = runs[index]!
    t.equal(run.code, code, `gatewayctl ${args.join(' ')}: exit ${code}`)
    t.ok(run.stderr.startsWith(line), `gatewayctl ${args.join(' ')}: ${JSON.stringify(run.stderr)} starts with ${JSON.stringify(line)}`)
    t.notMatch(run.stderr, stackTrace)
  }
})

t.test('Redis or the gateway unreachable: exit 3, one line naming it without its password, nothing written', async (t) => {
  const port = await freePort()
  const auditDir = tempDir('cli-audit')
  const env = { ...process.env, AUDIT_DIR: auditDir, STATE_DIR: tempDir('cli-state'), REDIS_URL: `redis://:hunter2@127.0.0.1:${port}/1` }
  const file = join(tempDir('backup'), 'registry.json')
  writeFileSync(file, JSON.stringify({ format: 'clets-agency-registry/1', exportedAt: '2026-06-01T12:00:00.000Z', agencies: [] }))
  const gatewayPort = await freePort()
  // Side by side, each a process of its own (nothing answers them); checked in order.
  const unreachable = [['state', 'export'], ['state', 'init'], ['state', 'import', file], ['state', 'import', file, '--dry-run']]
  const [admin, ...runs] = await Promise.all([runGatewayctl(['agencies', 'list', '--url', `http://doj:secret@127.0.0.1:${gatewayPort}`, '--token', 'x']), ...unreachable.map((args) => runGatewayctl(args, { env }))])
  for (const [index, args] of unreachable.entries()) {
    const run = runs[index]!
    t.equal(run.code, 3, `${args.join(' ')}: exit 3`)
    t.equal(run.stderr, `gatewayctl: cannot reach Redis at redis://127.0.0.1:${port}/1 (connect ECONNREFUSED 127.0.0.1:${port}); nothing was changed\n`, `${args.join(' ')}: one line, no password`)
  }
  t.notOk(existsSync(auditDir) && readdirSync(auditDir).length > 0, 'nothing audited')

  t.equal(admin.code, 3)
  t.equal(admin.stderr, `gatewayctl: cannot reach the gateway at http://127.0.0.1:${gatewayPort}: connect ECONNREFUSED 127.0.0.1:${gatewayPort}\n`)

  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const raw = new Redis(redis.url)
  await raw.config('SET', 'requirepass', 'the-right-one')
  raw.disconnect()
  const refusals = [[`redis://:hunter2@127.0.0.1:${redis.port}`, 'WRONGPASS'], [redis.url, 'NOAUTH']] as const
  const refused = await Promise.all(refusals.map(([url]) => runGatewayctl(['state', 'export', '--redis', url])))
  for (const [index, [, problem]] of refusals.entries()) {
    const run = refused[index]!
    t.equal(run.code, 3, `${problem}: exit 3`)
    t.match(run.stderr, new RegExp(`^gatewayctl: cannot reach Redis at redis://127\\.0\\.0\\.1:${redis.port} \\(${problem} [^\\n]*\\); nothing was changed\\n$`))
    t.notMatch(run.stderr, /hunter2/)
  }
})

/** Every key of a Redis database as DUMP gives it, with its TTL: equal snapshots, byte-identical data. */
async function redisSnapshot(raw: Redis): Promise<[string, string, number][]> {
  const keys = (await raw.keys('*')).sort()
  return Promise.all(keys.map(async (key) => [key, (await raw.dumpBuffer(key))!.toString('base64'), await raw.pttl(key)] as [string, string, number]))
}

/** Every file under a folder with its content's hash. */
function folderSnapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  const walk = (folder: string) => {
    if (!existsSync(folder)) return
    for (const name of readdirSync(folder)) {
      const path = join(folder, name)
      if (statSync(path).isDirectory()) walk(path)
      else files[path] = createHash('sha256').update(readFileSync(path)).digest('hex')
    }
  }
  walk(dir)
  return files
}

t.test('state import --dry-run says what would change and writes nothing; replacing a registry needs --yes', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const raw = new Redis(redis.url)
  t.teardown(() => raw.quit())
  const auditDir = tempDir('cli-audit')
  const env = { ...process.env, AUDIT_DIR: auditDir, STATE_DIR: tempDir('cli-state'), REDIS_URL: redis.url }
  const agency = (ori: string, name: string) => ({ ori, name, kind: 'local', agreement: { version: 'PPP-2019-02', signedAt: '2019-05-20T00:00:00.000Z' }, sanction: null, monitored: false, version: 1 })
  const officer96 = { ori: 'CA0990100', sub: 'officer-96', sanction: { type: 'suspension', scope: 'all', reason: 'queried a neighbour (invented example)', since: '2026-05-30T08:00:00.000Z' }, version: 1 }
  const backup = (agencies: unknown[], officers: unknown[]) => {
    const file = join(tempDir('backup'), 'registry.json')
    writeFileSync(file, JSON.stringify({ format: 'clets-agency-registry/1', exportedAt: '2026-06-01T12:00:00.000Z', agencies, officers }))
    return file
  }
  const first = await runGatewayctl(['state', 'import', backup([agency(lapd, 'Los Angeles Police Department'), agency('CA0990100', 'Bayview Police Department (fictional)')], [officer96])], { env })
  t.equal(first.code, 0, 'an empty Redis is restored without a question')
  const second = backup([agency(lapd, 'LAPD (renamed)'), agency('CA0990000', "Bayview County Sheriff's Department (fictional)")], [])
  const redisBefore = await redisSnapshot(raw)
  const ledgerBefore = folderSnapshot(auditDir)

  const dryRun = await runGatewayctl(['state', 'import', second, '--dry-run'], { env })
  t.equal(dryRun.code, 0, dryRun.stderr)
  t.match(dryRun.stdout, `dry run: importing ${second} (exported 2026-06-01T12:00:00.000Z) into ${redis.url} would replace 2 agencies and 1 officer sanction record:`)
  t.match(dryRun.stdout, /^agencies: 1 added \(CA0990000\), 1 replaced \(CA0194200\), 1 removed \(CA0990100\), 0 unchanged$/m)
  t.match(dryRun.stdout, /^officer sanction records: 0 added, 0 replaced, 1 removed \(CA0990100\/officer-96\), 0 unchanged$/m)
  t.match(dryRun.stdout, /nothing was written: not Redis, not the audit ledger/)
  t.same(await redisSnapshot(raw), redisBefore, 'Redis byte-identical')
  t.same(folderSnapshot(auditDir), ledgerBefore, 'the ledger untouched')

  const unconfirmed = await runGatewayctl(['state', 'import', second], { env, input: 'replace\n' })
  t.equal(unconfirmed.code, 2, 'stdin is not a terminal: refused without --yes')
  t.match(unconfirmed.stderr, /not confirmed \(no terminal to ask\); pass --yes to confirm\. Nothing was changed\./)
  t.match(unconfirmed.stdout, /^agencies: 1 added \(CA0990000\), 1 replaced/m, 'after saying what it would replace')
  t.same(await redisSnapshot(raw), redisBefore, 'Redis byte-identical')
  t.same(folderSnapshot(auditDir), ledgerBefore, 'the ledger untouched')

  const confirmed = await runGatewayctl(['state', 'import', second, '--yes'], { env })
  t.equal(confirmed.code, 0, confirmed.stderr)
  t.same((await raw.smembers('clets:agencies')).sort(), ['CA0194200', 'CA0990000'], '--yes: replaced')
  t.match(ledgerRecords(auditDir).at(-1), { type: 'operator.import', file: second, replaced: 2, officersReplaced: 1 })
})

/** gatewayctl under a pseudo-terminal (util-linux `script`), typing `typed` at its prompt. */
async function onTerminal(args: readonly string[], env: NodeJS.ProcessEnv, typed: string): Promise<{ code: number; output: string }> {
  const quoted = [process.execPath, join(root, 'bin/gatewayctl.js'), ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ')
  const child = spawn('script', ['-qec', quoted, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stdin.end(typed)
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`cannot run script (util-linux): ${error.message}`)))
    child.once('close', (exitCode) => resolve(exitCode ?? -1))
  })
  return { code, output }
}

t.test('a removal or a revoked agreement asks first: refused without a terminal or --yes, typed ORI on a terminal', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: operatorToken() }
  const agencyNow = async (ori: string) => (await call(gw.url, 'GET', `/v1/agencies/${ori}`, { token: operatorToken() })).body
  const changes = () => ledgerRecords(gw.auditDir).filter((record) => String(record.type).startsWith('operator.')).length
  const before = changes()

  const unconfirmed = [
    ['agencies', 'sanction', sheriff, '--type', 'removal', '--reason', 'repeated misuse (invented)'],
    ['agencies', 'revoke', sheriff, '--reason', 'agreement withdrawn'],
    ['officers', 'sanction', sheriff, 'officer-9', '--type', 'removal', '--reason', 'shared a login'],
  ]
  // Side by side (each is refused before it asks the gateway anything); checked in order.
  const runs = await Promise.all(unconfirmed.map((args) => runGatewayctl(args, { env, input: `${sheriff}\ny\n` })))
  for (const [index, args] of unconfirmed.entries()) {
    const refused = runs[index]!
    t.equal(refused.code, 2, `${args.slice(0, 2).join(' ')}: exit 2`)
    t.match(refused.stderr, /: not confirmed \(no terminal to ask\); pass --yes to confirm\. Nothing was changed\.\n$/)
  }
  t.match(await agencyNow(sheriff), { sanction: { type: 'censure' }, agreement: { version: 'PPP-2019-02' } }, 'the (fictional) sheriff untouched')
  t.match((await call(gw.url, 'GET', `/v1/officers/${sheriff}/officer-9`, { token: operatorToken() })).body, { sanction: null })
  t.equal(changes(), before, 'and nothing audited')

  const censure = await runGatewayctl(['agencies', 'sanction', sheriff, '--type', 'censure', '--reason', 'late audit (invented)'], { env })
  t.equal(censure.code, 0, 'a censure changes no access: no question')

  const declined = await onTerminal(['agencies', 'revoke', sheriff, '--reason', 'agreement withdrawn'], env, 'y\n')
  t.match(declined.output, `Type ${sheriff} to confirm:`)
  t.match(declined.output, /gatewayctl: not confirmed; nothing was changed/)
  t.equal(declined.code, 1, 'anything but the ORI declines (exit 1)')
  t.match(await agencyNow(sheriff), { agreement: { version: 'PPP-2019-02' } })

  const typed = await onTerminal(['agencies', 'revoke', sheriff, '--reason', 'agreement withdrawn'], env, `${sheriff}\n`)
  t.equal(typed.code, 0, typed.output)
  t.match(await agencyNow(sheriff), { agreement: null }, 'the typed ORI confirms')

  const yes = await runGatewayctl(['agencies', 'sanction', sheriff, '--type', 'removal', '--reason', 'repeated misuse (invented)', '--yes'], { env })
  t.equal(yes.code, 0, yes.stderr)
  t.match(await agencyNow(sheriff), { sanction: { type: 'removal' } }, '--yes confirms')
})

t.test('a call refused for want of authority: exit 1 and one line with the API\'s code, message and audit record; nothing changed', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const lapdOperator = token({ sub: 'lapd-admin-1', ori: lapd, roles: ['doj_operator'] })
  const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: lapdOperator }
  const sheriffBefore = (await call(gw.url, 'GET', `/v1/agencies/${sheriff}`, { token: operatorToken() })).body
  const [reinstate, list] = await Promise.all([runGatewayctl(['agencies', 'reinstate', sheriff, '--reason', 'x'], { env }), runGatewayctl(['agencies', 'list'], { env })])
  for (const run of [reinstate, list]) {
    t.equal(run.code, 1, 'exit 1: the gateway refused it')
    t.equal(run.stdout, '')
    t.match(run.stderr, /^error 403: role_forbidden: the role doj_operator is honoured only on a token of a DOJ ORI, and the token's ORI CA0194200 is not a DOJ ORI \(policies\/authority\.yaml, dojOris\); nothing was changed \(audit record [0-9a-f-]{36}\)\n$/)
  }
  const ids = [reinstate, list].map((run) => /audit record ([0-9a-f-]{36})/.exec(run.stderr)![1])
  t.same(ledgerRecords(gw.auditDir).filter((record) => record.type === 'operator.refused').map((record) => record.id).sort(), ids.sort(), 'each refusal is the record it names')
  t.same((await call(gw.url, 'GET', `/v1/agencies/${sheriff}`, { token: operatorToken() })).body, sheriffBefore, 'the sheriff untouched')
})

t.test('reviews list, show and finding: tables, --json, and the finding audited', async (t) => {
  const gw = await startTestGateway()
  t.teardown(() => gw.close())
  const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: operatorToken() }
  const { openReview } = await import('../src/reviews/open.js')
  const id = '4f7c2a51-0d7e-4a43-9a61-3c1f9e2b7d10'
  // An invented review of an invented officer.
  await openReview(gw.gateway.deps, id, { source: 'signal', signal: 'repeat_subject', ori: lapd, officer: 'officer-42', sub: 'Officer-42', decisions: [], evidence: [], summary: 'repeat_subject: queries 5, count 5 (invented)' }, Date.now())
  const [list, json, show] = await Promise.all([
    runGatewayctl(['reviews', 'list'], { env }),
    runGatewayctl(['reviews', 'list', '--ori', lapd, '--json'], { env }),
    runGatewayctl(['reviews', 'show', id], { env }),
  ])
  t.match(list.stdout, new RegExp(`${id} .* open +${lapd} +officer-42 +signal repeat_subject`))
  t.match(list.stdout, /1 reviews\n$/)
  t.match(JSON.parse(json.stdout), [{ id, status: 'open', ori: lapd }])
  t.match(show.stdout, /summary +repeat_subject: queries 5, count 5 \(invented\)/)
  t.match(show.stdout, /officer +officer-42 \(token spelling Officer-42\)/)
  const bad = await runGatewayctl(['reviews', 'finding', id, '--finding', 'no_misuse', '--category', 'personal_query', '--reason', 'x'], { env })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^error 400: invalid_finding/)
  const closed = await runGatewayctl(['reviews', 'finding', id, '--finding', 'referred', '--reason', 'referred to the agency (invented)'], { env })
  t.equal(closed.code, 0, closed.stderr)
  t.match(closed.stdout, new RegExp(`^closed: review ${id} of ${lapd} officer officer-42: referred by doj-operator-1`))
  t.match(ledgerRecords(gw.auditDir).filter((record) => record.type === 'review.finding'), [{ review: id, finding: 'referred' }])
  const closedList = await runGatewayctl(['reviews', 'list', '--status', 'closed', '--json'], { env })
  t.match(JSON.parse(closedList.stdout), [{ id, status: 'closed', finding: { finding: 'referred' } }])
})
