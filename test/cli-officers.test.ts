// gatewayctl officers … (issue 12, point 4) against a real gateway: a DOJ operator sanctions one officer
// from the command line, the officer's next query is refused (on a token verified and cached before),
// the tables show operators' text as text, and bad input is refused with the API's or the CLI's message.
// The officers are of the sample Bayview County Sheriff's Department (fictional).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { operatorToken, sheriff, query, root, startTestGateway, token } from './helpers.js'

const exec = promisify(execFile)
const gw = await startTestGateway()
t.teardown(() => gw.close())
const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: operatorToken() }
const gatewayctl = (...args: string[]) =>
  exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'officers', ...args], { cwd: root, env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  )
const dl = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

t.test('sanction an officer, list and show them, reinstate: the gateway follows at once', async (t) => {
  const empty = await gatewayctl('list')
  t.equal(empty.code, 0)
  t.equal(empty.stdout, 'ORI  USER  SANCTION  SINCE  REASON  VERSION\n', 'nobody is sanctioned yet')

  const bearer = token({ ori: sheriff, sub: 'officer-96' })
  t.equal((await query(gw.url, dl, bearer)).status, 200, 'the token is verified and cached')
  const until = new Date(Date.now() + 86_400_000).toISOString()
  const sanctioned = await gatewayctl('sanction', sheriff, 'officer-96', '--type', 'suspension', '--scope', 'non_criminal_history', '--until', until, '--reason', 'queried a neighbour (invented example)')
  t.equal(sanctioned.code, 0, sanctioned.stderr)
  t.match(sanctioned.stdout, /^ORI +USER +SANCTION +SINCE +REASON +VERSION$/m)
  t.match(sanctioned.stdout, new RegExp(`^CA0990000 +officer-96 +suspension \\(non_criminal_history\\) until ${until.replace(/\./g, '\\.')} +\\S+ +queried a neighbour \\(invented example\\) +1$`, 'm'))
  t.equal((await query(gw.url, dl, bearer)).body.decision?.rule, 'officer.suspended', 'the same token, refused on its next query')

  const listed = await gatewayctl('list', '--ori', sheriff, '--json')
  t.match(JSON.parse(listed.stdout), [{ ori: sheriff, sub: 'officer-96', sanction: { type: 'suspension', scope: 'non_criminal_history', until } }])
  t.match((await gatewayctl('list')).stdout, /^CA0990000 +officer-96 /m)
  t.same(JSON.parse((await gatewayctl('list', '--ori', 'CACBP0000', '--json')).stdout), [])

  const odd = 'unit/7?'
  t.equal((await gatewayctl('sanction', sheriff, odd, '--type', 'removal', '--reason', 'shared a login', '--yes')).code, 0, 'a user id with / and ? is sent percent-encoded')
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: odd }))).body.decision?.rule, 'officer.suspended')
  t.match(JSON.parse((await gatewayctl('show', sheriff, odd, '--json')).stdout), { sub: odd, sanction: { type: 'removal' } })

  const reinstated = await gatewayctl('reinstate', sheriff, 'officer-96', '--reason', 'cleared')
  t.equal(reinstated.code, 0, reinstated.stderr)
  t.match(reinstated.stdout, /^CA0990000 +officer-96 +- +- +- +2$/m)
  t.equal((await query(gw.url, dl, bearer)).status, 200, 'served again')
  t.match((await gatewayctl('show', sheriff, 'officer-17')).stdout, /^CA0990000 +officer-17 +- +- +- +0$/m, 'an officer never sanctioned')
})

t.test("bad input: the API's refusal (exit 1) or the command line's (exit 2), and nothing changes", async (t) => {
  // Side by side, each a process of its own (each is refused, so none changes anything); checked in order.
  const [removal, censure, unknown] = await Promise.all([
    gatewayctl('sanction', sheriff, 'officer-5', '--type', 'removal', '--scope', 'non_criminal_history', '--reason', 'x', '--yes'),
    gatewayctl('sanction', sheriff, 'officer-5', '--type', 'censure', '--reason', 'x'),
    gatewayctl('sanction', 'CA0194201', 'officer-5', '--type', 'suspension', '--reason', 'x'),
  ])
  t.equal(removal.code, 1)
  t.match(removal.stderr, /^error 400: invalid_sanction: /m)
  t.match(removal.stderr, /^ {2}scope: must be "all" for a removal$/m)
  t.equal(censure.code, 1)
  t.match(censure.stderr, /^error 400: invalid_request: /m)
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^error 404: agency_not_found: no agency is registered with ORI CA0194201$/m)
  const usage: [string[], RegExp][] = [
    [['sanction', sheriff, 'officer-5', '--type', 'suspension'], /sanction needs --reason/],
    [['sanction', sheriff, '--type', 'suspension', '--reason', 'x'], /missing required argument 'user'/],
    [['sanction', 'lapd', 'officer-5', '--type', 'suspension', '--reason', 'x'], /needs an ORI such as CA0194200/],
    [['reinstate', sheriff, 'officer 5', '--reason', 'x'], /needs the officer's user id/],
    [['list', '--ori', 'lapd'], /--ori: expected an ORI/],
    [['list', sheriff], /list takes no ORI argument/],
    [['suspend', sheriff, 'officer-5'], /unknown officers command suspend/],
  ]
  const answers = await Promise.all(usage.map(([args]) => gatewayctl(...args)))
  for (const [index, [args, message]] of usage.entries()) {
    const answer = answers[index]!
    t.equal(answer.code, 2, args.join(' '))
    t.match(answer.stderr, message)
  }
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'officer-5' }))).status, 200, 'officer-5 was never sanctioned')
})

t.test("an operator's reason is shown as text in the table (no terminal escape, no forged row); --json keeps it", async (t) => {
  const reason = 'misuse\nCA0990000  officer-1  removal  x  forged  1\u001b[2J'
  const answer = await gatewayctl('sanction', sheriff, 'officer-7', '--type', 'suspension', '--reason', reason)
  t.equal(answer.code, 0, answer.stderr)
  t.notMatch(answer.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line breaks between rows')
  t.equal(answer.stdout.trimEnd().split('\n').length, 2, 'a header and one row')
  t.match(answer.stdout, /misuse\\nCA0990000  officer-1  removal  x  forged  1\\u001b\[2J +1$/m)
  t.equal(JSON.parse((await gatewayctl('show', sheriff, 'officer-7', '--json')).stdout).sanction.reason, reason)
})

t.test("a doj_operator token of LAPD's ORI: one line saying why (exit 1), its audit record named, the officer's sanction unchanged", async (t) => {
  const sheriffOperator = token({ sub: 'sheriff-admin-1', ori: sheriff, roles: ['doj_operator'] })
  t.equal((await gatewayctl('sanction', sheriff, 'officer-6', '--type', 'suspension', '--reason', 'misuse suspected (invented example)')).code, 0)
  const refused = await gatewayctl('reinstate', sheriff, 'officer-6', '--reason', 'our own officer', '--token', sheriffOperator)
  t.equal(refused.code, 1, 'the refused call exits 1')
  t.equal(refused.stdout, '')
  t.match(refused.stderr, /^error 403: role_forbidden: the role doj_operator is honoured only on a token of a DOJ ORI, and the token's ORI CA0990000 is not a DOJ ORI \(policies\/authority\.yaml, dojOris\); nothing was changed \(audit record [0-9a-f-]{36}\)\n$/)
  t.equal((await query(gw.url, dl, token({ ori: sheriff, sub: 'officer-6' }))).body.decision.rule, 'officer.suspended', 'still suspended')
  t.equal((await gatewayctl('reinstate', sheriff, 'officer-6', '--reason', 'cleared (invented example)')).code, 0)
})
