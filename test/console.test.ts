// The DOJ operators' console in a real headless Chromium against a real gateway (issue 14, point 1): an
// operator signs in with a token, filters the registry, suspends the fictional sample sheriff (cancelling first changes
// nothing), sees a terminal query denied, reinstates it and sees the query allowed, reads the history,
// searches the ledger, decides a written request, lists misuse signals and registers an agency by
// keyboard alone. The page the README shows (docs/console.png) is taken here.
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { call, lapd, ledgerRecords, operatorToken, policyDir, query, root, sheriff, sheriffName, startTestGateway, rapSheetRequest, tempDir, TestClock, token } from './helpers.js'
import { startBrowser } from './browser.js'

// The gateway's clock is the test's: the screenshot shows the same times on every run.
const clock = new TestClock(Date.parse('2026-06-01T09:00:00.000Z'))
const gw = await startTestGateway({ clock })
t.teardown(() => gw.close())
const browser = await startBrowser()
t.teardown(() => browser.close())
const { page } = browser
const op = operatorToken()
const consoleUrl = `${gw.url}/console/`
const traffic = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }
// The agency the operator suspends is the sample Bayview County Sheriff's Department (fictional).
const agencyOfficer = token({ sub: 'officer-17', ori: sheriff })
const operatorChanges = () => ledgerRecords(gw.auditDir).filter((record) => record.type === 'operator.change' && record.ori === sheriff)
/** Waits until the live status region says `text`. */
const status = (text: RegExp) => page.locator('#status').filter({ hasText: text }).waitFor()

t.test('the console is static files with a strict CSP, no inline code and nothing from elsewhere', async (t) => {
  const redirect = await call(gw.url, 'GET', '/console')
  t.equal(redirect.status, 301)
  t.equal(redirect.headers.location, '/console/')
  for (const file of ['', 'app.js', 'api.js', 'console.css']) {
    const answer = await call(gw.url, 'GET', `/console/${file}`)
    t.equal(answer.status, 200, file || 'index.html')
    t.match(answer.headers['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'/)
    t.equal(answer.headers['x-content-type-options'], 'nosniff')
  }
  t.match((await call(gw.url, 'GET', '/console/app.js')).headers['content-type'], /javascript/)
  t.equal((await call(gw.url, 'GET', '/console/missing.js')).status, 404)
  const html = readFileSync(join(root, 'console/index.html'), 'utf8')
  t.notMatch(html, /<script(?![^>]*\bsrc=)/, 'no inline script')
  t.notMatch(html, /\sstyle=|\son[a-z]+=/, 'no inline style or handler')
  t.notMatch(html, /(src|href)="(https?:)?\/\//, 'no external resource')
})

t.test('sign-in: a bad token is refused with the API error; an operator token shows the registry', async (t) => {
  await page.goto(consoleUrl)
  await page.getByLabel(/Operator token/).fill('not-a-token')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#problem').filter({ hasText: 'token_invalid' }).waitFor()
  t.equal(await page.evaluate('sessionStorage.length'), 0, 'a refused token is not kept')

  await page.getByLabel(/Operator token/).fill(token({ sub: 'officer-17' }))
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#problem').filter({ hasText: 'role_forbidden' }).waitFor()

  // The operator role on a token of LAPD's ORI: refused, and the page says why and that it is on the ledger.
  const refusalsBefore = ledgerRecords(gw.auditDir).filter((record) => record.type === 'operator.refused').length
  await page.getByLabel(/Operator token/).fill(token({ sub: 'lapd-admin-1', ori: lapd, roles: ['doj_operator'] }))
  await page.getByRole('button', { name: 'Sign in' }).click()
  const refusal = page.locator('#problem').filter({ hasText: 'not a DOJ ORI' })
  await refusal.waitFor()
  const refused = ledgerRecords(gw.auditDir).filter((record) => record.type === 'operator.refused')
  t.equal(refused.length, refusalsBefore + 1, 'one refusal recorded')
  t.match(await refusal.textContent(), new RegExp(`^role_forbidden: the role doj_operator is honoured only on a token of a DOJ ORI, and the token's ORI ${lapd} is not a DOJ ORI .*Refused: nothing was changed\\. The refusal is recorded in the audit ledger \\(audit id ${refused.at(-1).id}\\)\\.$`))
  t.equal(await page.evaluate('sessionStorage.length'), 0, 'a refused token is not kept')

  await page.getByLabel(/Operator token/).fill(op)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#agency-caption').filter({ hasText: '4 of 4 shown' }).waitFor()
  t.match(await page.locator('#who').textContent(), /doj-operator-1 \(CA0349400\)/)
  t.equal(await page.evaluate("sessionStorage.getItem('clets-console-token')"), op, 'kept in sessionStorage')
  t.equal(await page.evaluate('localStorage.length'), 0, 'and nowhere else')
})

t.test('the registry filters by kind, monitored and sanction', async (t) => {
  const shownOris = () => page.locator('#agency-table tbody tr td:first-child').allTextContents()
  const filters = page.getByRole('form', { name: 'Agency filters' })
  await filters.getByLabel('Kind', { exact: true }).selectOption('federal')
  await page.locator('#agency-caption').filter({ hasText: '2 of 4' }).waitFor()
  t.same((await shownOris()).sort(), ['CACBP0000', 'CADHS0100'])
  await filters.getByLabel('Kind', { exact: true }).selectOption('')
  await filters.getByLabel('Sanction', { exact: true }).selectOption('censure')
  await page.locator('#agency-caption').filter({ hasText: '1 of 4' }).waitFor()
  t.same(await shownOris(), [sheriff])
  await filters.getByLabel('Sanction', { exact: true }).selectOption('')
  await filters.getByLabel('Monitored', { exact: true }).selectOption('false')
  await page.locator('#agency-caption').filter({ hasText: '2 of 4' }).waitFor()
  t.same((await shownOris()).sort(), [lapd, sheriff])
  await filters.getByLabel('Monitored', { exact: true }).selectOption('')
})

t.test('suspend the sheriff: cancelling changes nothing; confirmed, its terminal query is denied; reinstated, allowed', async (t) => {
  t.equal((await query(gw.url, traffic, agencyOfficer)).status, 200, 'allowed before')
  await page.getByRole('link', { name: sheriff }).click()
  await page.locator('#agency-title').filter({ hasText: sheriffName }).waitFor()
  const changesBefore = operatorChanges().length

  const sanctionForm = page.getByRole('form', { name: 'Impose a sanction' })
  await sanctionForm.getByLabel('Sanction', { exact: true }).selectOption('suspension')
  await sanctionForm.getByLabel('Reason (required; recorded in the audit ledger)').fill('misuse suspected: queries for immigration enforcement (test)')
  await page.getByRole('button', { name: 'Impose sanction' }).click()
  const dialog = page.getByRole('dialog', { name: 'Suspend service?' })
  await dialog.waitFor()
  t.match(await dialog.textContent(), /every terminal query of the agency to every database will be denied/)
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await status(/Cancelled: nothing was changed/)
  t.match((await call(gw.url, 'GET', `/v1/agencies/${sheriff}`, { token: op })).body.sanction, { type: 'censure' }, 'cancelled: the censure it had, no suspension')
  t.equal(operatorChanges().length, changesBefore, 'and nothing in the ledger')
  t.equal((await query(gw.url, traffic, agencyOfficer)).status, 200)

  clock.advance(90_000)
  await page.getByRole('button', { name: 'Impose sanction' }).click()
  await dialog.getByRole('button', { name: 'Confirm suspension' }).click()
  await status(/suspension imposed/)
  await page.locator('#agency-details').filter({ hasText: 'suspension, all databases' }).waitFor()
  const denied = await query(gw.url, traffic, agencyOfficer)
  t.equal(denied.status, 403)
  t.equal(denied.body.decision.rule, 'agency.suspended')

  await page.screenshot({ path: join(root, 'docs/console.png'), fullPage: true })

  clock.advance(3_600_000)
  await page.getByRole('form', { name: 'Lift the sanction (reinstate)' }).getByLabel('Reason (required)').fill('investigation closed: no misuse found (test)')
  await page.getByRole('button', { name: 'Reinstate' }).click()
  await status(/reinstated/)
  await page.locator('#agency-details').filter({ hasText: /Sanction\s*none/ }).waitFor()
  t.equal((await query(gw.url, traffic, agencyOfficer)).status, 200, 'allowed again')

  const history = page.locator('#history-table tbody tr')
  await history.filter({ hasText: 'sanction.lift' }).waitFor()
  const rows = await history.allTextContents()
  const impose = rows.findIndex((text) => text.includes('sanction.impose') && text.includes('misuse suspected: queries for immigration enforcement (test)') && text.includes('doj-operator-1'))
  const lift = rows.findIndex((text) => text.includes('sanction.lift') && text.includes('investigation closed: no misuse found (test)'))
  t.ok(impose >= 0 && lift > impose, 'the history shows the suspension, then the reinstatement')
  t.match(rows[impose], /sanction: censure, all databases → suspension, all databases/)
  t.equal(operatorChanges().length, changesBefore + 2, 'two changes recorded')
})

t.test('audit search in the page finds the denied query, and records the search', async (t) => {
  await page.getByRole('link', { name: 'Audit search' }).click()
  const search = page.getByRole('form', { name: 'Audit search' })
  await search.getByLabel('ORI', { exact: true }).fill(sheriff)
  await search.getByLabel('Record type').fill('query.decision')
  await search.getByLabel('Outcome').selectOption('deny')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.locator('#audit-summary').filter({ hasText: '1 records' }).waitFor()
  t.match(await page.locator('#audit-table tbody').textContent(), /query\.decision.*officer-17.*dmv\.driver_license.*licenseNumber=A1234567.*deny.*agency\.suspended/)
  const access = ledgerRecords(gw.auditDir).filter((record) => record.type === 'audit.access' && record.action === 'search').at(-1)
  t.match(access, { sub: 'doj-operator-1', filter: { ori: sheriff, type: 'query.decision', outcome: 'deny', limit: '200' }, resultCount: 1 })

  await search.getByLabel('Since (UTC, e.g. 2026-01-31)').fill('last tuesday')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.locator('#problem').filter({ hasText: 'invalid_request' }).waitFor()
  t.match(await page.locator('#problem').textContent(), /since: must be a date-time/)
})

t.test('live block rates show the suspension denial by rule and by agency', async (t) => {
  await page.getByRole('link', { name: 'Block rates' }).click()
  const suspendedRow = page.locator('#rule-rates tbody tr').filter({ hasText: 'agency.suspended' })
  await suspendedRow.waitFor()
  t.match(await suspendedRow.textContent(), /agency\.suspended\s*deny\s*1/)
  t.equal((await query(gw.url, traffic, agencyOfficer)).status, 200)
  clock.advance(5_000)
  await page.getByRole('button', { name: 'Refresh now' }).click()
  await page.locator('#rates-at').filter({ hasText: 'last interval' }).waitFor()
  const agencyRow = page.locator('#agency-rates tbody tr').filter({ hasText: sheriff })
  t.match(await agencyRow.textContent(), /^CA0990000\d+1\d+(\.\d) %0$/, 'the sheriff: one denial since start, none in the last interval')
  t.match(await page.locator('#rule-rates tbody tr').filter({ hasText: 'ppp.permitted' }).textContent(), /^ppp\.permittedallow\d+112\.0$/, 'one more allowed in the last 5 s: 12 a minute')
})

t.test('written requests: an operator approves a pending request with a reason', async (t) => {
  t.equal((await call(gw.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: op, body: { type: 'censure', writtenRequests: true, reason: 'criminal history only in writing (test)' } })).status, 200)
  const filed = await call(gw.url, 'POST', '/v1/requests', {
    token: token({ ori: sheriff, sub: 'det-invented' }),
    body: rapSheetRequest({
      caseNumber: '26-000042',
      justification: 'Invented for this test: a burglary series, the suspect named by a witness.',
      requester: { name: 'Det. Invented Example', title: 'Detective' },
    }),
  })
  t.equal(filed.status, 201)
  await page.getByRole('link', { name: 'Written requests' }).click()
  const pending = page.locator('#request-table tbody tr').filter({ hasText: 'det-invented' })
  await pending.waitFor()
  await pending.getByLabel('Reason (required)').fill('case number verified with the sheriff (test)')
  await pending.getByRole('button', { name: 'Approve' }).click()
  await status(/: approved/)
  const decided = await call(gw.url, 'GET', `/v1/requests/${filed.body.id}`, { token: op })
  t.match(decided.body, { status: 'approved', decidedBy: 'doj-operator-1', decisionReason: 'case number verified with the sheriff (test)' })
  await page.locator('#request-table tbody').filter({ hasText: 'No pending written requests' }).waitFor()
})

t.test('misuse signals: the ledger signal.raised records, listed through the audit search', async (t) => {
  // Invented: a signal as issue 13's detector records it, appended to the running gateway's own ledger.
  await gw.gateway.deps.ledger.append(
    { type: 'signal.raised', id: 'signal-test-1', kind: 'distinct_subjects', ori: sheriff, sub: 'officer-17', decisionIds: ['d-1', 'd-2', 'd-3'], detail: { subjects: 3, windowSeconds: 3600 }, blocked: false },
    clock.value,
  )
  await page.getByRole('link', { name: 'Misuse signals' }).click()
  const signal = page.locator('#signal-table tbody tr').filter({ hasText: 'distinct_subjects' })
  await signal.waitFor()
  t.match(await signal.textContent(), /distinct_subjects\s*CA0990000\s*officer-17\s*no\s*subjects=3 windowSeconds=3600\s*3/)
})

t.test('a form by keyboard alone: register an agency with Tab, typing, arrows, Space and Enter', async (t) => {
  await page.getByRole('link', { name: 'Agencies' }).click()
  await page.locator('#agency-caption').filter({ hasText: 'of 4 shown' }).waitFor()
  const focused = () => page.evaluate("document.activeElement?.id ?? ''")
  await page.locator('#main').focus()
  for (let presses = 0; (await focused()) !== 'register-ori'; presses++) {
    if (presses > 40) throw new Error('the ORI field is not reachable by Tab')
    await page.keyboard.press('Tab')
  }
  // Each step: the keys for the focused field, then Tab to the next, which must be the one named.
  const steps: [keys: string[] | string, next: string][] = [
    ['CA9990200', 'register-name'],
    ['Invented Harbor Police Department', 'register-kind'],
    [['ArrowDown', 'ArrowDown'], 'register-organisation'],
    ['DOJ/FBI', 'register-monitored'],
    [['Space'], 'register-reason'],
    ['new subscriber (invented for this test)', ''],
  ]
  for (const [keys, next] of steps) {
    if (typeof keys === 'string') await page.keyboard.type(keys)
    else for (const key of keys) await page.keyboard.press(key)
    await page.keyboard.press('Tab')
    if (next !== '') t.equal(await focused(), next)
  }
  t.equal(await page.evaluate('document.activeElement?.textContent'), 'Register')
  await page.keyboard.press('Enter')
  await status(/Agency CA9990200 \(Invented Harbor Police Department\) saved: federal, DOJ\/FBI, monitored/)
  t.match((await call(gw.url, 'GET', '/v1/agencies/CA9990200', { token: op })).body, { kind: 'federal', organisation: 'DOJ/FBI', monitored: true, agreement: null })
  const row = page.locator('#agency-table tbody tr').filter({ hasText: 'CA9990200' })
  await row.waitFor()
  t.match(await row.textContent(), /CA9990200\s*Invented Harbor Police Department\s*federal\s*DOJ\/FBI\s*none/, 'the registry shows the organisation')
})

t.test('the register form: an organisation the API would refuse is caught by the form; left empty, an update keeps the registered one', async (t) => {
  const form = page.getByRole('form', { name: 'Register or update an agency' })
  await form.getByLabel('ORI').fill('CA9990200')
  await form.getByLabel('Name').fill('Invented Harbor Police Department')
  await form.getByLabel('Kind').selectOption('federal')
  await form.getByLabel('Organisation (optional)').fill('doj/fbi')
  await form.getByLabel('Reason (recorded in the audit ledger)').fill('renamed (invented for this test)')
  t.equal(await page.locator('#register-organisation').evaluate((input) => (input as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch), true, 'lower case does not match the pattern')
  await form.getByLabel('Organisation (optional)').fill('')
  await page.getByRole('button', { name: 'Register' }).click()
  await status(/Agency CA9990200 \(Invented Harbor Police Department\) saved: federal, DOJ\/FBI\.$/)
  t.match((await call(gw.url, 'GET', '/v1/agencies/CA9990200', { token: op })).body, { organisation: 'DOJ/FBI', monitored: false, version: 2 })
  await page.getByRole('link', { name: 'CA9990200' }).click()
  await page.locator('#agency-title').filter({ hasText: 'CA9990200' }).waitFor()
  await page.locator('#agency-details').filter({ hasText: 'CA9990200' }).waitFor()
  t.match(await page.locator('#agency-details').textContent(), /OrganisationDOJ\/FBI/)
  await page.getByRole('link', { name: 'Agencies' }).click()
})

t.test('two-person control: a lift is proposed (202), the proposer cannot approve it, a second operator approves it under Pending changes', async (t) => {
  // A gateway whose authority.yaml turns dual control on (the shipped one keeps it off).
  const policies = tempDir('policies')
  cpSync(policyDir, policies, { recursive: true })
  const authority = join(policies, 'authority.yaml')
  writeFileSync(authority, readFileSync(authority, 'utf8').replace('liftSuspension: false', 'liftSuspension: true'))
  const dual = await startTestGateway({ clock, env: { POLICY_DIR: policies } })
  t.teardown(() => dual.close())
  const signIn = async (bearer: string) => {
    await page.goto(`${dual.url}/console/`)
    await page.getByLabel(/Operator token/).fill(bearer)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.locator('#agency-caption').filter({ hasText: '4 of 4 shown' }).waitFor()
  }
  t.equal((await call(dual.url, 'PUT', `/v1/agencies/${sheriff}/sanction`, { token: op, body: { type: 'suspension', reason: 'misuse found in an audit (invented)' } })).status, 200)

  await signIn(op)
  await page.getByRole('link', { name: sheriff }).click()
  await page.getByRole('form', { name: 'Lift the sanction (reinstate)' }).getByLabel('Reason (required)').fill('findings remedied (invented)')
  await page.getByRole('button', { name: 'Reinstate' }).click()
  await status(/the lift of the suspension needs a second DOJ operator\. Proposed as change [0-9a-f-]{36}; nothing has changed yet/)
  t.equal((await query(dual.url, traffic, agencyOfficer)).body.decision?.rule, 'agency.suspended', 'the suspension still binds')
  await page.locator('#history-table tbody tr').filter({ hasText: 'change.proposed' }).waitFor()

  await page.getByRole('link', { name: 'Pending changes' }).click()
  const pending = page.locator('#change-table tbody tr').filter({ hasText: 'findings remedied (invented)' })
  await pending.waitFor()
  t.match(await pending.textContent(), /sanction\.lift · CA0990000.*suspension, all databases.*doj-operator-1 \(CA0349400\).*pending/)
  await pending.getByLabel('Reason (required)').fill('my own')
  await pending.getByRole('button', { name: 'Approve' }).click()
  await page.getByRole('dialog', { name: 'Approve the lift?' }).getByRole('button', { name: 'Confirm approval' }).click()
  await page.locator('#problem').filter({ hasText: 'change_self_approval' }).waitFor()

  await page.getByRole('button', { name: 'Sign out' }).click()
  await signIn(token({ sub: 'doj-operator-2', ori: 'CA0349400', roles: ['doj_operator'] }))
  await page.getByRole('link', { name: 'Pending changes' }).click()
  await pending.waitFor()
  await pending.getByLabel('Reason (required)').fill('checked the findings (invented)')
  await pending.getByRole('button', { name: 'Approve' }).click()
  const dialog = page.getByRole('dialog', { name: 'Approve the lift?' })
  t.match(await dialog.textContent(), /Lift the suspension of CA0990000 \(proposed by doj-operator-1 \(CA0349400\)/)
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await status(/Not approved: nothing was changed/)
  t.equal((await query(dual.url, traffic, agencyOfficer)).body.decision?.rule, 'agency.suspended')
  await pending.getByRole('button', { name: 'Approve' }).click()
  await dialog.getByRole('button', { name: 'Confirm approval' }).click()
  await status(/approved: the suspension of CA0990000 is lifted/)
  await page.locator('#change-table tbody').filter({ hasText: 'No pending changes' }).waitFor()
  t.equal((await query(dual.url, traffic, agencyOfficer)).status, 200, 'served again')
})

t.test('reviews: the open review listed, shown with its evidence and decision, and closed with a confirmed finding', async (t) => {
  const answered = await query(gw.url, traffic, agencyOfficer)
  const decision = answered.headers['x-decision-id'] as string
  const { openReview } = await import('../src/reviews/open.js')
  const id = 'b3a1f0c2-5d4e-4f6a-8b7c-9d0e1f2a3b4c'
  // An invented review of the fictional sheriff: plain-language signs of immigration enforcement.
  await openReview(
    gw.gateway.deps,
    id,
    { source: 'immigration_evidence', ori: sheriff, officer: 'officer-17', sub: 'officer-17', decisions: [decision], evidence: [{ kind: 'terms', field: 'justification', text: 'ICE detainer (invented)' }], summary: 'plain-language signs of immigration enforcement (invented)' },
    clock.value,
  )
  // Still signed in on this gateway's page (the token is kept for the session).
  await page.goto(consoleUrl)
  await page.getByRole('link', { name: 'Reviews' }).click()
  const listed = page.locator('#review-table tbody tr').filter({ hasText: 'plain-language signs' })
  await listed.waitFor()
  t.match(await listed.textContent(), /CA0990000.*officer-17.*immigration_evidence.*open/)
  await listed.getByRole('link').click()
  await page.locator('#review-evidence tbody tr').filter({ hasText: 'ICE detainer (invented)' }).waitFor()
  t.match(await page.locator('#review-decisions tbody').textContent(), new RegExp(`query\\.decision${decision}traffic_enforcement`))
  t.match(await page.locator('#review-facts').textContent(), /Officerofficer-17/)

  const form = page.getByRole('form', { name: 'Record a finding' })
  await form.getByLabel('Finding').selectOption('confirmed_misuse')
  await form.getByLabel(/Category/).selectOption('immigration_enforcement')
  await form.getByLabel('Reason (required)').fill('an ICE assist (invented)')
  await form.getByRole('button', { name: 'Record finding' }).click()
  const dialog = page.getByRole('dialog', { name: 'Record the finding?' })
  t.match(await dialog.textContent(), /confirmed_misuse \(immigration_enforcement\)\. A confirmed finding counts as misuse/)
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await status(/No finding recorded: nothing was changed/)
  t.notOk(ledgerRecords(gw.auditDir).some((record) => record.type === 'review.finding'), 'cancelled: nothing recorded')
  await form.getByRole('button', { name: 'Record finding' }).click()
  await dialog.getByRole('button', { name: 'Confirm finding' }).click()
  await status(/closed: confirmed_misuse \(immigration_enforcement\) by doj-operator-1/)
  t.match(ledgerRecords(gw.auditDir).filter((record) => record.type === 'review.finding'), [{ review: id, finding: 'confirmed_misuse', category: 'immigration_enforcement' }])
  // The page shows the closed review again after the answer: wait for that, not for one glance.
  await form.waitFor({ state: 'hidden', timeout: 10_000 })
  t.ok(await form.isHidden(), 'a closed review takes no other finding')
})

t.test('sign-out forgets the token; the page broke no CSP rule and threw nothing', async (t) => {
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  t.equal(await page.evaluate('sessionStorage.length'), 0)
  t.same(browser.problems, [])
})
