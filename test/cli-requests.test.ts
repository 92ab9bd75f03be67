// gatewayctl requests … (issue 12, point 5) against a real gateway: a DOJ operator puts an agency under
// written requests, reads what it filed, approves one and refuses another; the agency's terminal then
// gets the records of the first once and nothing of the second. The agency is the sample Bayview County
// Sheriff's Department (fictional); the requests and their texts are invented.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { call, lapd, operatorToken, sheriff, root, startTestGateway, rapSheetRequest, token } from './helpers.js'

const exec = promisify(execFile)
const gw = await startTestGateway()
t.teardown(() => gw.close())
const env = { ...process.env, GATEWAY_URL: gw.url, GATEWAY_TOKEN: operatorToken() }
const gatewayctl = (...args: string[]) =>
  exec(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: root, env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  )
const rapRequest = rapSheetRequest({
  caseNumber: '26-000101',
  justification: 'Armed robbery at a corner store; the suspect was identified on video.',
  requester: { name: 'Det. Sam Invented', title: 'Detective' },
})
const terminal = token({ ori: sheriff, sub: 'det-invented' })
const fileRequest = (body: unknown) => call(gw.url, 'POST', '/v1/requests', { token: terminal, body })

t.test('an operator puts an agency under written requests from the command line', async (t) => {
  const sanction = await gatewayctl('agencies', 'sanction', sheriff, '--type', 'censure', '--written-requests', '--reason', 'misuse suspected: criminal history in writing only')
  t.equal(sanction.code, 0, sanction.stderr)
  t.match(sanction.stdout, /censure, written requests only/)
  const denied = await call(gw.url, 'POST', '/v1/query', { token: terminal, body: { database: 'criminal_history', purpose: 'criminal_investigation', subject: rapRequest.subject, caseNumber: '26-000101' } })
  t.equal(denied.body.decision.rule, 'agency.written_request_required')
  const refused = await gatewayctl('agencies', 'sanction', sheriff, '--type', 'removal', '--written-requests', '--reason', 'x', '--yes')
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^error 400: invalid_sanction: /m)
  t.match(refused.stderr, /^ {2}writtenRequests: only with a censure or a non_criminal_history suspension$/m)
})

t.test('requests list, show, approve and refuse', async (t) => {
  const first = (await fileRequest(rapRequest)).body.id as string
  // An ANSI escape or a newline in the justification is refused when filed (as in a query's), so
  // nothing an operator's terminal would act on reaches `requests show`.
  const escaped = await fileRequest({ ...rapRequest, caseNumber: '26-000102', justification: 'Background\u001b[2J check\nfor a friend' })
  t.equal(escaped.body.error?.code, 'invalid_request')
  const second = (await fileRequest({ ...rapRequest, caseNumber: '26-000102', justification: 'Background check for a friend' })).body.id as string

  const list = await gatewayctl('requests', 'list', '--status', 'pending')
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^ID +FILED +ORI +STATUS +DATABASE +PURPOSE +CASE +OFFICER$/m)
  t.match(list.stdout, new RegExp(`^${first} +\\S+ +${sheriff} +pending +criminal_history +criminal_investigation +26-000101 +det-invented$`, 'm'))
  t.match(list.stdout, /^2 requests$/m)
  t.same(JSON.parse((await gatewayctl('requests', 'list', '--ori', sheriff, '--json')).stdout).map((request: { id: string }) => request.id), [second, first], 'newest first')

  const show = await gatewayctl('requests', 'show', second)
  t.equal(show.code, 0)
  t.match(show.stdout, /^status +pending$/m)
  t.match(show.stdout, /^requester +Det\. Sam Invented, Detective$/m)
  t.match(show.stdout, new RegExp(`^subject +lastName=${rapRequest.subject.lastName} firstName=${rapRequest.subject.firstName} dateOfBirth=${rapRequest.subject.dateOfBirth}$`, 'm'))
  t.match(show.stdout, /^justification +Background check for a friend$/m)

  const approved = await gatewayctl('requests', 'approve', first, '--reason', 'case number matches the robbery report')
  t.equal(approved.code, 0, approved.stderr)
  t.match(approved.stdout, /^status +approved$/m)
  t.match(approved.stdout, /^decided +\S+ by doj-operator-1: case number matches the robbery report$/m)
  t.match(approved.stdout, /^retrieved by +det-invented \(the filer\) only$/m)
  const refused = await gatewayctl('requests', 'refuse', second, '--reason', 'no criminal-justice purpose')
  t.equal(refused.code, 0)
  t.match(refused.stdout, /^status +refused$/m)
  const twice = await gatewayctl('requests', 'refuse', second, '--reason', 'again')
  t.equal(twice.code, 1)
  t.match(twice.stderr, /^error 409: request_not_pending: /m)

  const result = await call(gw.url, 'GET', `/v1/requests/${first}/result`, { token: terminal })
  t.equal(result.status, 200)
  t.ok(result.body.records.length >= 1)
  t.equal((await call(gw.url, 'GET', `/v1/requests/${first}/result`, { token: terminal })).status, 410)
  t.equal((await call(gw.url, 'GET', `/v1/requests/${second}/result`, { token: terminal })).status, 410)
  t.match((await gatewayctl('requests', 'list', '--ori', sheriff)).stdout, new RegExp(`^${first} .* delivered `, 'm'))
})

t.test('approve --retriever names the officer who may collect the records besides the filer', async (t) => {
  const id = (await fileRequest({ ...rapRequest, caseNumber: '26-000103' })).body.id as string
  const approved = await gatewayctl('requests', 'approve', id, '--reason', 'partner collects it', '--retriever', 'Det-Partner')
  t.equal(approved.code, 0, approved.stderr)
  t.match(approved.stdout, /^retrieved by +det-invented \(the filer\) or det-partner$/m)
  t.equal(JSON.parse((await gatewayctl('requests', 'show', id, '--json')).stdout).retriever, 'det-partner')
  const colleague = await call(gw.url, 'GET', `/v1/requests/${id}/result`, { token: token({ ori: sheriff, sub: 'det-colleague' }) })
  t.equal(colleague.status, 403)
  t.equal(colleague.body.error.code, 'request_not_yours')
  t.equal((await call(gw.url, 'GET', `/v1/requests/${id}/result`, { token: token({ ori: sheriff, sub: 'det-partner' }) })).status, 200)
  const bad = await gatewayctl('requests', 'approve', id, '--reason', 'r', '--retriever', 'two words')
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--retriever: expected a user id/)
})

t.test('usage errors exit 2 and reach no gateway', async (t) => {
  // Side by side, each a process of its own (none changes anything); checked in order.
  const [noReason, badId, badOri, unknown, missing] = await Promise.all([
    gatewayctl('requests', 'approve', '00000000-0000-4000-8000-000000000000'),
    gatewayctl('requests', 'show', 'REQ-1'),
    gatewayctl('requests', 'list', '--ori', 'lapd'),
    gatewayctl('requests', 'cancel'),
    gatewayctl('requests', 'show', '00000000-0000-4000-8000-000000000000'),
  ])
  t.equal(noReason.code, 2)
  t.match(noReason.stderr, /approve needs --reason/)
  t.equal(badId.code, 2)
  t.match(badId.stderr, /show needs a request id/)
  t.equal(badOri.code, 2)
  t.equal(unknown.code, 2)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^error 404: request_not_found: /m)
})

t.test('refusals for want of authority: one line naming the code and the audit record, exit 1, the request undecided', async (t) => {
  const doj = 'CA0349400'
  // Filed at the fictional sheriff on behalf of DOJ (invented): a DOJ operator decides nothing that concerns DOJ.
  const onBehalf = (await fileRequest({ ...rapRequest, caseNumber: '26-000103', requester: { name: 'Det. Sam Invented', title: 'Detective', ori: doj } })).body.id as string
  const own = await gatewayctl('requests', 'approve', onBehalf, '--reason', 'ours')
  t.equal(own.code, 1)
  t.equal(own.stdout, '')
  t.match(own.stderr, /^error 403: own_agency_forbidden: an operator may not approve a written request that concerns their own agency: CA0349400 is the agency of this token; .* \(audit record [0-9a-f-]{36}\)\n$/)

  const lapdBoth = token({ sub: 'lapd-admin-1', ori: lapd, roles: ['terminal', 'doj_operator'] })
  const notDoj = await gatewayctl('requests', 'refuse', onBehalf, '--reason', 'not ours', '--token', lapdBoth)
  t.equal(notDoj.code, 1)
  t.match(notDoj.stderr, /^error 403: role_forbidden: .*the token's ORI CA0194200 is not a DOJ ORI.* \(audit record [0-9a-f-]{36}\)\n$/)
  t.match((await call(gw.url, 'GET', `/v1/requests/${onBehalf}`, { token: operatorToken() })).body, { status: 'pending', decidedBy: null })
})
