// The operators' command line against a real gateway on a real Redis: gatewayctl agencies … through
// the admin API, and gatewayctl state export/import rebuilding a Redis that came back empty.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { bayview, lapd, operatorToken, query, root, sheriff, startTestGateway, tempDir, token, initRedis } from './helpers.js'
import { startRedis } from './redis.js'

const exec = promisify(execFile)
const redis = await startRedis()
await initRedis(redis.url)
const gw = await startTestGateway({ env: { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '300' } })
t.teardown(async () => {
  await gw.close()
  await redis.stop()
})
// The CLI's own audit chain (state import) goes to the test's folders, never to the checkout's ./var.
const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: operatorToken(), REDIS_URL: redis.url, AUDIT_DIR: gw.auditDir, STATE_DIR: gw.stateDir }
const gatewayctl = (...args: string[]) =>
  exec(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: root, env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  )
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

t.test('agencies list and show print readable tables, and --json', async (t) => {
  const list = await gatewayctl('agencies', 'list')
  t.equal(list.code, 0)
  t.match(list.stdout, /^ORI +NAME +KIND +ORGANISATION +AGREEMENT +SANCTION +MONITORED +VERSION$/m)
  t.match(list.stdout, /^CA0194200 +Los Angeles Police Department +local +CA\/LAPD +PPP-2019-02 \(2019-05-20\) +- +no +2$/m)
  t.match(list.stdout, /^CADHS0100 +DHS ICE Enforcement and Removal Operations +federal +DHS\/ICE\/ERO +- +- +yes +1$/m)
  const show = await gatewayctl('agencies', 'show', lapd, '--json')
  t.match(JSON.parse(show.stdout), { ori: lapd, organisation: 'CA/LAPD', agreement: { version: 'PPP-2019-02' } })
  t.match((await gatewayctl('agencies', 'show', lapd)).stdout, /^CA0194200 +Los Angeles Police Department +local +CA\/LAPD /m)
})

t.test('sanction and reinstate from the command line bind the gateway', async (t) => {
  // The fictional sample sheriff: no real agency is shown under a sanction.
  const sanction = await gatewayctl('agencies', 'sanction', sheriff, '--type', 'suspension', '--scope', 'non_criminal_history', '--reason', 'suspected misuse (invented)')
  t.equal(sanction.code, 0, sanction.stderr)
  t.match(sanction.stdout, /suspension \(non_criminal_history\)/)
  t.equal((await query(gw.url, dl, token({ sub: 'cli-1', ori: sheriff }))).body.decision.rule, 'agency.suspended')
  const bad = await gatewayctl('agencies', 'sanction', sheriff, '--type', 'removal', '--scope', 'non_criminal_history', '--reason', 'x', '--yes')
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^error 400: invalid_sanction: /m)
  t.match(bad.stderr, /^ {2}scope: must be "all" for a removal$/m)
  const reinstate = await gatewayctl('agencies', 'reinstate', sheriff, '--reason', 'cleared')
  t.equal(reinstate.code, 0)
  t.equal((await query(gw.url, dl, token({ sub: 'cli-2', ori: sheriff }))).status, 200)
  const register = await gatewayctl('agencies', 'register', 'CA0990100', '--name', 'Bayview Police Department (fictional)', '--kind', 'local', '--reason', 'new subscriber')
  t.match(register.stdout, /^ORI +NAME +KIND +ORGANISATION +AGREEMENT +SANCTION +MONITORED +VERSION$/m)
  t.match(register.stdout, /^CA0990100 +Bayview Police Department \(fictional\) +local +- +- +- +no +1$/m)
  // The organisation: set, shown in list and show, kept by an update that leaves it out, cleared with --no-organisation.
  const hsi = await gatewayctl('agencies', 'register', 'CA0HSI100', '--name', 'ICE HSI office (test)', '--kind', 'federal', '--organisation', 'DHS/ICE/HSI', '--reason', 'new subscriber')
  t.equal(hsi.code, 0, hsi.stderr)
  t.match(hsi.stdout, /^CA0HSI100 +ICE HSI office \(test\) +federal +DHS\/ICE\/HSI +- +- +yes +1$/m, 'an ICE office is monitored by default')
  t.match((await gatewayctl('agencies', 'list')).stdout, /^CA0HSI100 +ICE HSI office \(test\) +federal +DHS\/ICE\/HSI /m)
  const renamed = await gatewayctl('agencies', 'register', 'CA0HSI100', '--name', 'ICE HSI office two (test)', '--kind', 'federal', '--reason', 'renamed')
  t.match(renamed.stdout, /^CA0HSI100 +ICE HSI office two \(test\) +federal +DHS\/ICE\/HSI /m)
  const cleared = await gatewayctl('agencies', 'register', 'CA0HSI100', '--name', 'ICE HSI office two (test)', '--kind', 'federal', '--no-organisation', '--reason', 'organisation unknown')
  t.equal(cleared.code, 0, cleared.stderr)
  t.equal(JSON.parse((await gatewayctl('agencies', 'show', 'CA0HSI100', '--json')).stdout).organisation, null)
  const badOrganisation = await gatewayctl('agencies', 'register', 'CA0HSI100', '--name', 'x', '--kind', 'federal', '--organisation', 'dhs/ice', '--reason', 'x')
  t.equal(badOrganisation.code, 2, 'a malformed organisation is a usage error, nothing sent')
  t.match(badOrganisation.stderr, /--organisation needs a path such as DHS\/ICE\/HSI/)
  const agreement = await gatewayctl('agencies', 'agreement', 'CA0990100', '--version', 'PPP-2019-02', '--signed-at', '2026-05-01T00:00:00Z', '--reason', 'signed')
  t.match(agreement.stdout, /PPP-2019-02 \(2026-05-01\)/)
  t.equal((await gatewayctl('agencies', 'revoke', 'CA0990100', '--reason', 'withdrawn', '--yes')).code, 0)
  const usage = await gatewayctl('agencies', 'sanction', sheriff, '--type', 'censure')
  t.equal(usage.code, 2)
  t.match(usage.stderr, /sanction needs --reason/)
})

t.test("state export, Redis lost, state import: the registry and its sanctions, officers' too, come back", async (t) => {
  await gatewayctl('agencies', 'sanction', sheriff, '--type', 'suspension', '--reason', 'CCW checks on criminal history (invented)')
  // An officer of the fictional Bayview PD (registered above, signed again here) removed.
  t.equal((await gatewayctl('agencies', 'agreement', bayview, '--version', 'PPP-2019-02', '--signed-at', '2026-05-01T00:00:00Z', '--reason', 'signed again')).code, 0)
  t.equal((await gatewayctl('officers', 'sanction', bayview, 'officer-96', '--type', 'removal', '--reason', 'stalking (invented example)', '--yes')).code, 0)
  const file = join(tempDir('backup'), 'registry.json')
  const exported = await gatewayctl('state', 'export', '--out', file)
  t.equal(exported.code, 0, exported.stderr)
  t.match(exported.stdout, /exported 6 agencies and 1 officer sanction record/)
  const backup = JSON.parse(readFileSync(file, 'utf8'))
  t.equal(backup.format, 'clets-agency-registry/1')
  t.match(backup.agencies.find((agency: { ori: string }) => agency.ori === 'CADHS0100'), { organisation: 'DHS/ICE/ERO' }, 'the export holds the organisations')

  await redis.restart()
  let lost = await query(gw.url, dl, token({ sub: 'cli-3' }))
  for (let i = 0; i < 30 && lost.status !== 503; i++) lost = await query(gw.url, dl, token({ sub: `cli-3-${i}` }))
  t.equal(lost.status, 503, 'the lost registry is refused')

  const imported = await gatewayctl('state', 'import', file)
  t.equal(imported.code, 0, imported.stderr)
  t.match(imported.stdout, /imported 6 agencies and 1 officer sanction record/)
  t.equal((await query(gw.url, dl, token({ sub: 'cli-4' }))).status, 200, 'LAPD allowed again')
  const suspended = await query(gw.url, dl, token({ sub: 'cli-5', ori: sheriff }))
  t.equal(suspended.body.decision.rule, 'agency.suspended', 'and the sheriff still suspended')
  t.equal((await query(gw.url, dl, token({ sub: 'officer-96', ori: bayview }))).body.decision.rule, 'officer.suspended', 'and the removed officer still removed')
  t.match(JSON.parse((await gatewayctl('agencies', 'show', 'CADHS0100', '--json')).stdout), { organisation: 'DHS/ICE/ERO' }, 'and the organisations')

  const broken = join(tempDir('backup'), 'broken.json')
  const { writeFileSync } = await import('node:fs')
  writeFileSync(broken, JSON.stringify({ ...backup, agencies: [{ ...backup.agencies[0], kind: 'tribal' }] }))
  const refused = await gatewayctl('state', 'import', broken)
  t.equal(refused.code, 2)
  t.match(refused.stderr, /not a registry backup:\n {2}agencies\.0\.kind: /)
  t.equal((await query(gw.url, dl, token({ sub: 'cli-6' }))).status, 200, 'a refused import changed nothing')
})

t.test('bug: agency names reached the agencies tables unescaped (a screen-clearing ANSI escape, a forged row); they are shown as text', async (t) => {
  const hostile: [string, string][] = [
    ['CA0000001', 'Evil | x\nCA0000000  Forged Police Department  local  -  PPP-2019-02 (2019-05-20)  -  no  1'],
    ['CA0000002', '\u001b[2J\u001b[HCleared Screen PD\r'],
    ['CA0000003', 'Right\u202eTo Left'],
  ]
  for (const [ori, name] of hostile) {
    const registered = await gatewayctl('agencies', 'register', ori, '--name', name, '--kind', 'local', '--reason', 'new subscriber')
    t.equal(registered.code, 0, registered.stderr)
    t.notMatch(registered.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/, `${ori}: the answer's table holds no control character`)
  }
  const list = await gatewayctl('agencies', 'list')
  t.equal(list.code, 0)
  t.notMatch(list.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/, 'no control character but the line breaks between rows')
  const lines = list.stdout.trimEnd().split('\n')
  const agencies = JSON.parse((await gatewayctl('agencies', 'list', '--json')).stdout) as { ori: string; name: string }[]
  t.equal(lines.length, 1 + agencies.length, 'a header and one line per agency')
  t.notOk(lines.some((line) => line.startsWith('CA0000000')), 'no forged row')
  t.match(list.stdout, /^CA0000001 +Evil \| x\\nCA0000000  Forged Police Department/m)
  t.match(list.stdout, /^CA0000002 +\\u001b\[2J\\u001b\[HCleared Screen PD\\r +local/m)
  t.match(list.stdout, /^CA0000003 +Right\\u202eTo Left +local/m)
  t.same(
    hostile.map(([ori]) => agencies.find((agency) => agency.ori === ori)?.name),
    hostile.map(([, name]) => name),
    '--json keeps every name exactly',
  )
  const show = await gatewayctl('agencies', 'show', 'CA0000002')
  t.match(show.stdout, /^CA0000002 +\\u001b\[2J/m)
})

t.test('an error answer is shown as text too: its message may quote what was sent', async (t) => {
  // A gateway (or whatever answers at --url) whose error message carries an escape sequence.
  const server = createServer((_request, response) => {
    response.writeHead(400, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ error: { code: 'invalid_request', message: 'bad \u001b[2Jname', issues: [{ path: 'name\u001b[31m', message: 'unknown\nfield' }] } }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const answer = await gatewayctl('agencies', 'list', '--url', `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  t.equal(answer.code, 1)
  t.equal(answer.stderr, 'error 400: invalid_request: bad \\u001b[2Jname\n  name\\u001b[31m: unknown\\nfield\n')
})
