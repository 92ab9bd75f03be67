// The DOJ operators' console: one page, a view per hash route (#/agencies, #/agency/ORI, #/rates,
// #/requests, #/changes, #/reviews, #/review/ID, #/audit, #/signals). Everything shown comes from the admin API; text from the API or the
// ledger is only ever set as text (textContent), never parsed as HTML: a ledger line is data.
import { api, ApiError, claimsOf, forgetToken, keepToken, queryString, storedToken } from './api.js'

const $ = (id) => document.getElementById(id)
const viewNames = ['sign-in', 'agencies', 'agency', 'rates', 'requests', 'changes', 'reviews', 'review', 'audit', 'signals']
/** How often the block rates are read while their view is open. */
const ratesPollMs = 5000

/** An element with attributes (`text` sets its text) and children (strings become text nodes). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'text') node.textContent = value
    else if (name === 'class') node.className = value
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value)
    else node.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child)
  return node
}

/** A cell's text: '-' for nothing, an object's values joined (a subject), otherwise the value. */
function cell(value) {
  if (value === undefined || value === null || value === '') return '-'
  if (typeof value === 'object') return Object.entries(value).map(([name, field]) => `${name}=${field}`).join(' ')
  return String(value)
}

/** Replaces a table's rows; `empty` says what no rows mean. */
function fillTable(table, rows, empty) {
  const body = table.tBodies[0]
  const columns = table.tHead.rows[0].cells.length
  body.replaceChildren(...(rows.length === 0 ? [el('tr', {}, el('td', { colspan: columns, class: 'empty', text: empty }))] : rows))
}

function row(...cells) {
  return el('tr', {}, ...cells.map((content) => (content instanceof Node ? el('td', {}, content) : el('td', { text: cell(content) }))))
}

// --- Status and problems, in live regions ------------------------------------------------------------

function say(message) {
  $('problem').replaceChildren()
  $('status').textContent = message
}

/** Shows an API error as the API said it: code, message and each issue's path. */
function complain(error) {
  $('status').textContent = ''
  if (!(error instanceof ApiError)) {
    $('problem').replaceChildren(el('p', { text: `Unexpected problem: ${error.message}` }))
    return
  }
  const issues = error.issues.map((issue) => el('li', { text: `${issue.path}: ${issue.message}` }))
  // A refusal for want of authority (a token of an ORI that is not DOJ's, or one's own agency) is on the
  // ledger before it is answered: say so, and that nothing changed.
  const recorded = error.status === 403 && error.auditId ? el('p', { text: `Refused: nothing was changed. The refusal is recorded in the audit ledger (audit id ${error.auditId}).` }) : null
  $('problem').replaceChildren(el('p', {}, el('strong', { text: error.code }), `: ${error.message}`), issues.length === 0 ? null : el('ul', {}, ...issues), recorded)
  if (error.status === 401) signOut(`Your token was refused (${error.code}). Sign in again.`)
}

/** Runs an action with its submit button disabled; an API error is shown, never thrown. */
async function busy(button, action) {
  if (button) button.disabled = true
  try {
    await action()
  } catch (error) {
    complain(error)
  } finally {
    if (button) button.disabled = false
  }
}

// --- The confirmation step (suspension, removal, revocation) -----------------------------------------

/** Asks the operator to confirm in a modal dialog; true only on an explicit Confirm. */
function confirmStep(title, text, confirmLabel) {
  const dialog = $('confirm')
  $('confirm-title').textContent = title
  $('confirm-text').textContent = text
  $('confirm-ok').textContent = confirmLabel
  return new Promise((resolve) => {
    const finish = (confirmed) => {
      $('confirm-ok').removeEventListener('click', onConfirm)
      $('confirm-cancel').removeEventListener('click', onCancel)
      dialog.removeEventListener('cancel', onCancel)
      if (dialog.open) dialog.close()
      resolve(confirmed)
    }
    const onConfirm = () => finish(true)
    const onCancel = (event) => {
      event.preventDefault()
      finish(false)
    }
    $('confirm-ok').addEventListener('click', onConfirm)
    $('confirm-cancel').addEventListener('click', onCancel)
    // Escape cancels.
    dialog.addEventListener('cancel', onCancel)
    dialog.showModal()
    // The safe choice has the focus: Enter alone never suspends an agency.
    $('confirm-cancel').focus()
  })
}

// --- Sign-in ---------------------------------------------------------------------------------------

function showSignedIn(token) {
  const claims = claimsOf(token)
  $('who').textContent = `Signed in as ${claims.sub ?? '?'} (${claims.ori ?? '?'})`
  $('who').hidden = false
  $('sign-out').hidden = false
  $('nav').hidden = false
}

function signOut(message) {
  forgetToken()
  stopPolling()
  $('who').hidden = true
  $('sign-out').hidden = true
  $('nav').hidden = true
  show('sign-in')
  if (message) $('status').textContent = message
}

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const token = $('token').value.trim()
  void busy(event.submitter, async () => {
    // The token is kept only once the gateway has accepted it for the admin API.
    await api('GET', '/v1/agencies', undefined, token)
    keepToken(token)
    $('token').value = ''
    showSignedIn(token)
    say('Signed in.')
    if (location.hash === '' || location.hash === '#/agencies') await route()
    else location.hash = '#/agencies'
  })
})

$('sign-out').addEventListener('click', () => signOut('Signed out.'))

// --- Views -----------------------------------------------------------------------------------------

function show(name) {
  for (const view of viewNames) $(`view-${view}`).hidden = view !== name
}

/** A sanction as one line. */
function sanctionText(sanction) {
  if (!sanction) return 'none'
  const parts = [sanction.type, sanction.scope === 'all' ? 'all databases' : sanction.scope]
  if (sanction.until) parts.push(`until ${sanction.until}`)
  if (sanction.writtenRequests) parts.push('written requests')
  return parts.join(', ')
}

function agreementText(agreement) {
  return agreement ? `${agreement.version}, signed ${agreement.signedAt.slice(0, 10)}` : 'none'
}

// Agencies: the registry with filters, and the register form.
let agencies = []

function renderAgencies() {
  const form = $('agency-filters')
  const kind = form.kind.value
  const monitored = form.monitored.value
  const sanction = form.sanction.value
  const shown = agencies.filter(
    (agency) =>
      (kind === '' || agency.kind === kind) &&
      (monitored === '' || String(agency.monitored) === monitored) &&
      (sanction === '' || (agency.sanction?.type ?? 'none') === sanction),
  )
  $('agency-caption').textContent = `Registered agencies: ${shown.length} of ${agencies.length} shown`
  fillTable(
    $('agency-table'),
    shown.map((agency) =>
      row(el('a', { href: `#/agency/${encodeURIComponent(agency.ori)}`, text: agency.ori }), agency.name, agency.kind, agency.organisation ?? '-', agreementText(agency.agreement), sanctionText(agency.sanction), agency.monitored ? 'yes' : 'no'),
    ),
    'No agency matches these filters.',
  )
}

async function loadAgencies() {
  agencies = await api('GET', '/v1/agencies')
  renderAgencies()
}

$('agency-filters').addEventListener('change', renderAgencies)
$('agency-filters').addEventListener('submit', (event) => event.preventDefault())

$('register-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const form = event.target
  void busy(event.submitter, async () => {
    const ori = form.ori.value.trim()
    const organisation = form.organisation.value.trim()
    const body = { name: form.name.value.trim(), kind: form.kind.value, monitored: form.monitored.checked, reason: form.reason.value }
    // Left empty, the organisation is not sent: an update keeps the one registered.
    const agency = await api('PUT', `/v1/agencies/${encodeURIComponent(ori)}`, organisation === '' ? body : { ...body, organisation })
    form.reset()
    say(`Agency ${agency.ori} (${agency.name}) saved: ${agency.kind}${agency.organisation ? `, ${agency.organisation}` : ''}${agency.monitored ? ', monitored' : ''}.`)
    await loadAgencies()
  })
})

// One agency: details, the change forms, and its history.
let currentOri = null
let policyAgreementVersion = null

/** What a change did, field by field: `sanction: none → suspension, all databases`. */
function changeText(entry) {
  if (entry.after === null && entry.change) return `${entry.sub ? `officer ${entry.sub}: ` : ''}change ${entry.change}`
  if (entry.after === null) return entry.type === 'request.filed' ? `request ${entry.request} filed` : entry.request ? `request ${entry.request}` : '-'
  const before = entry.before ?? {}
  const after = entry.after
  const described = (name, value) => (name === 'sanction' ? sanctionText(value) : name === 'agreement' ? agreementText(value) : cell(value))
  const lines = []
  for (const name of Object.keys(after)) {
    if (name === 'version' || name === 'ori') continue
    if (JSON.stringify(before[name] ?? null) === JSON.stringify(after[name] ?? null)) continue
    lines.push(entry.before === null ? `${name}: ${described(name, after[name])}` : `${name}: ${described(name, before[name])} → ${described(name, after[name])}`)
  }
  if (entry.sub) lines.unshift(`officer ${entry.sub}`)
  if (entry.failed) lines.push('(not applied: the store failed)')
  return lines.length === 0 ? 'no change' : lines.join('; ')
}

async function loadAgency(ori) {
  currentOri = ori
  const [agency, history] = await Promise.all([api('GET', `/v1/agencies/${encodeURIComponent(ori)}`), api('GET', `/v1/agencies/${encodeURIComponent(ori)}/history`)])
  $('agency-title').textContent = `${agency.name} (${agency.ori})`
  const detail = (term, value) => [el('dt', { text: term }), el('dd', { text: value })]
  $('agency-details').replaceChildren(
    ...detail('ORI', agency.ori),
    ...detail('Kind', agency.kind),
    ...detail('Organisation', agency.organisation ?? 'none'),
    ...detail('Monitored', agency.monitored ? 'yes' : 'no'),
    ...detail('Agreement', agreementText(agency.agreement)),
    ...detail('Sanction', sanctionText(agency.sanction)),
    ...(agency.sanction ? [...detail('Sanction reason', agency.sanction.reason), ...detail('Since', agency.sanction.since)] : []),
    ...detail('Version', String(agency.version)),
  )
  $('lift-form').hidden = agency.sanction === null
  $('revoke-form').hidden = agency.agreement === null
  if (policyAgreementVersion === null) policyAgreementVersion = (await api('GET', '/v1/policy')).agreementVersion
  if ($('agreement-version').value === '') $('agreement-version').value = policyAgreementVersion
  fillTable(
    $('history-table'),
    history.entries.map((entry) => row(entry.time, entry.action, entry.operator, entry.reason, changeText(entry))),
    'The ledger holds no change to this agency.',
  )
}

/** The ISO time of a datetime-local field (read in the browser's zone), or undefined when empty. */
function isoOf(input) {
  return input.value === '' ? undefined : new Date(input.value).toISOString()
}

/** Submits one change to the current agency; the form is reset and the page reloaded when it applied. */
function agencyChange(formId, describe) {
  $(formId).addEventListener('submit', (event) => {
    event.preventDefault()
    const form = event.target
    void busy(event.submitter, async () => {
      const { method, path, body, confirm, done } = describe(form)
      if (confirm !== undefined && !(await confirmStep(confirm.title, confirm.text, confirm.label))) {
        say('Cancelled: nothing was changed.')
        return
      }
      const agency = await api(method, `/v1/agencies/${encodeURIComponent(currentOri)}${path}`, body)
      form.reset()
      if (agency.change) say(proposedText(agency.change))
      else say(`${agency.ori}: ${done}. Sanction: ${sanctionText(agency.sanction)}; agreement: ${agreementText(agency.agreement)}.`)
      await loadAgency(currentOri)
    })
  })
}

agencyChange('sanction-form', (form) => {
  const type = form.type.value
  const body = { type, scope: form.scope.value, reason: form.reason.value }
  const until = isoOf(form.until)
  if (until !== undefined) body.until = until
  if (form.writtenRequests.checked) body.writtenRequests = true
  const blocks = type === 'suspension' || type === 'removal'
  const scope = body.scope === 'all' ? 'every database' : 'the non-criminal-history databases'
  return {
    method: 'PUT',
    path: '/sanction',
    body,
    confirm: blocks
      ? {
          title: type === 'removal' ? 'Remove CLETS service?' : 'Suspend service?',
          text: `${type === 'removal' ? 'Removal' : 'Suspension'} of ${currentOri}: every terminal query of the agency to ${type === 'removal' ? 'every database' : scope} will be denied on every gateway instance from the moment this answers${until ? `, until ${until}` : ', until DOJ reinstates it'}. Reason: “${body.reason}”.`,
          label: type === 'removal' ? 'Confirm removal' : 'Confirm suspension',
        }
      : undefined,
    done: `${type} imposed`,
  }
})

agencyChange('lift-form', (form) => ({ method: 'DELETE', path: '/sanction', body: { reason: form.reason.value }, done: 'reinstated' }))
agencyChange('agreement-form', (form) => ({ method: 'PUT', path: '/agreement', body: { version: form.version.value.trim(), signedAt: isoOf(form.signedAt), reason: form.reason.value }, done: 'agreement recorded' }))
agencyChange('revoke-form', (form) => ({
  method: 'DELETE',
  path: '/agreement',
  body: { reason: form.reason.value },
  confirm: {
    title: 'Revoke the agreement?',
    text: `Without a signed agreement every query of ${currentOri} is denied (agency.no_agreement). Reason: “${form.reason.value}”.`,
    label: 'Confirm revocation',
  },
  done: 'agreement revoked',
}))

// Two-person control: a lift answered 202 is a proposed change, which a second operator approves here.
function proposedText(change) {
  return `${change.ori}: the lift of the ${change.sanction.type} needs a second DOJ operator. Proposed as change ${change.id}; nothing has changed yet. Another operator approves it under Pending changes before ${change.expiresAt}.`
}

const changeTarget = (change) => (change.officer ? `${change.ori}, officer ${change.officer}` : change.ori)
const operatorText = (operator) => (operator ? `${operator.operator} (${operator.operatorOri})` : '-')

async function loadChanges() {
  const status = $('change-filters').status.value
  const changes = await api('GET', `/v1/changes${queryString({ status })}`)
  fillTable(
    $('change-table'),
    changes.map((change) =>
      row(
        change.proposedAt,
        `${change.action} · ${changeTarget(change)}`,
        sanctionText(change.sanction),
        change.reason,
        operatorText(change.proposedBy),
        change.expiresAt,
        change.status,
        change.status === 'pending' ? changeForm(change) : `${operatorText(change.decidedBy)}: ${change.decisionReason ?? '-'}`,
      ),
    ),
    status === 'all' ? 'No proposed changes.' : `No ${status} changes.`,
  )
}

function changeForm(change) {
  const id = `change-${change.id}`
  const form = el(
    'form',
    { class: 'decide', 'aria-label': `Decide change ${change.id}` },
    el('label', { for: id, text: 'Reason (required)' }),
    el('textarea', { id, name: 'reason', required: true, rows: 2, maxlength: 1000 }),
    el('button', { type: 'submit', name: 'verdict', value: 'approve', text: 'Approve' }),
    el('button', { type: 'submit', name: 'verdict', value: 'cancel', text: 'Cancel change' }),
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const verdict = event.submitter?.value === 'cancel' ? 'cancel' : 'approve'
    void busy(event.submitter, async () => {
      if (
        verdict === 'approve' &&
        !(await confirmStep(
          'Approve the lift?',
          `Lift the ${change.sanction.type} of ${changeTarget(change)} (proposed by ${operatorText(change.proposedBy)}: “${change.reason}”). Its queries are served again on every gateway instance from the moment this answers. Your reason: “${form.reason.value}”.`,
          'Confirm approval',
        ))
      ) {
        say('Not approved: nothing was changed.')
        return
      }
      const answer = await api('POST', `/v1/changes/${change.id}/${verdict}`, { reason: form.reason.value })
      if (verdict === 'approve') say(`Change ${answer.change.id} approved: the ${answer.change.sanction.type} of ${changeTarget(answer.change)} is lifted.`)
      else say(`Change ${answer.id} cancelled: the ${answer.sanction.type} of ${changeTarget(answer)} stays.`)
      await loadChanges()
    })
  })
  return form
}

$('change-filters').addEventListener('change', () => void busy(null, loadChanges))
$('change-filters').addEventListener('submit', (event) => event.preventDefault())

// The review queue: a list, one review with its evidence and decisions, and a finding (confirmed first).
const openedBy = (review) => (review.signal ? `signal ${review.signal}` : review.source)
const findingText = (finding) =>
  finding ? `${finding.finding}${finding.category ? ` (${finding.category})` : ''} by ${finding.by.operator} (${finding.by.operatorOri}): ${finding.reason}` : '-'

async function loadReviews() {
  const status = $('review-filters').status.value
  const reviews = await api('GET', `/v1/reviews${queryString({ status })}`)
  fillTable(
    $('review-table'),
    reviews.map((review) =>
      row(review.openedAt, review.ori, review.officer, openedBy(review), el('a', { href: `#/review/${encodeURIComponent(review.id)}`, text: review.summary }), review.occurrences, review.status, findingText(review.finding)),
    ),
    status === 'all' ? 'No reviews.' : `No ${status} reviews.`,
  )
}

$('review-filters').addEventListener('change', () => void busy(null, loadReviews))
$('review-filters').addEventListener('submit', (event) => event.preventDefault())

let currentReview = null

async function loadReview(id) {
  const detail = await api('GET', `/v1/reviews/${encodeURIComponent(id)}`)
  const review = detail.review
  currentReview = review
  $('review-title').textContent = `Review of ${review.ori}, officer ${review.officer}`
  const facts = [
    ['Status', review.status],
    ['Summary', review.summary],
    ['Opened', `${review.openedAt} by ${openedBy(review)}`],
    ['Agency', detail.agency ? `${review.ori} ${detail.agency.name}` : review.ori],
    ['Officer', `${review.officer} (token spelling ${review.sub})${detail.officer?.sanction ? `, under a ${detail.officer.sanction.type}` : ''}`],
    ['Occurrences', String(review.occurrences)],
    ['Finding', findingText(review.finding)],
  ]
  $('review-facts').replaceChildren(...facts.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: value })]))
  fillTable($('review-evidence'), review.evidence.map((item) => row(item.kind, item.field, item.text)), 'No evidence: a signal opened it (its decisions are below).')
  fillTable(
    $('review-decisions'),
    detail.decisions.map((record) => row(record.time, record.type, record.id, record.purpose, record.outcome, record.rule, record.caseNumber, record.justification)),
    'No decision in the ledger.',
  )
  $('finding-form').hidden = review.status !== 'open'
}

$('finding-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const form = event.target
  const review = currentReview
  if (review === null) return
  void busy(event.submitter, async () => {
    const body = { finding: form.finding.value, reason: form.reason.value }
    if (form.category.value !== '') body.category = form.category.value
    const confirmed = await confirmStep(
      'Record the finding?',
      `Close the review of ${review.ori}, officer ${review.officer}, with the finding ${body.finding}${body.category ? ` (${body.category})` : ''}. ${body.finding === 'confirmed_misuse' ? 'A confirmed finding counts as misuse in the reports. ' : ''}Your reason: “${body.reason}”.`,
      'Confirm finding',
    )
    if (!confirmed) {
      say('No finding recorded: nothing was changed.')
      return
    }
    const closed = await api('PUT', `/v1/reviews/${encodeURIComponent(review.id)}/finding`, body)
    say(`Review ${closed.id} closed: ${findingText(closed.finding)}.`)
    form.reset()
    await loadReview(closed.id)
  })
})

// Live block rates: the counters, differenced between readings.
let pollTimer = null
let lastReading = null

function stopPolling() {
  if (pollTimer !== null) clearInterval(pollTimer)
  pollTimer = null
  lastReading = null
}

/** Sums a reading's counts by a key. */
function sums(rows, keyOf) {
  const totals = new Map()
  for (const item of rows) totals.set(keyOf(item), (totals.get(keyOf(item)) ?? 0) + item.count)
  return totals
}

async function readRates() {
  const stats = await api('GET', '/v1/stats/decisions')
  const at = Date.parse(stats.at)
  const rules = sums(stats.decisions, (item) => `${item.rule} ${item.outcome}`)
  const agencyCounts = sums(stats.agencies, (item) => `${item.ori} ${item.outcome}`)
  const previous = lastReading
  const seconds = previous === null ? null : Math.max((at - previous.at) / 1000, 0.001)
  const delta = (now, before, key) => (before === undefined ? null : now - (before.get(key) ?? 0))
  $('rates-at').textContent = `Read at ${stats.at}${seconds === null ? '' : `; last interval ${seconds.toFixed(1)} s`}.`
  fillTable(
    $('rule-rates'),
    [...rules].sort(([left], [right]) => left.localeCompare(right)).map(([key, total]) => {
      const [rule, outcome] = key.split(' ')
      const change = delta(total, previous?.rules, key)
      return row(rule, outcome, total, change, change === null ? null : ((change / seconds) * 60).toFixed(1))
    }),
    'No query has been decided since this gateway started.',
  )
  const oris = [...new Set(stats.agencies.map((item) => item.ori))].sort()
  fillTable(
    $('agency-rates'),
    oris.map((ori) => {
      const allowed = agencyCounts.get(`${ori} allow`) ?? 0
      const denied = agencyCounts.get(`${ori} deny`) ?? 0
      return row(ori, allowed, denied, `${((denied / Math.max(allowed + denied, 1)) * 100).toFixed(1)} %`, delta(denied, previous?.agencies, `${ori} deny`))
    }),
    'No registered agency has queried since this gateway started.',
  )
  lastReading = { at, rules, agencies: agencyCounts }
}

$('rates-refresh').addEventListener('click', (event) => void busy(event.target, readRates))

// Written requests: the list, and approve or refuse with a reason.
async function loadRequests() {
  const status = $('request-filters').status.value
  const requests = await api('GET', `/v1/requests${queryString({ status })}`)
  fillTable(
    $('request-table'),
    requests.map((request) => row(request.filedAt, request.ori, request.sub, `${request.database} · ${request.purpose}`, request.subject, request.justification, request.status, request.status === 'pending' ? decisionForm(request) : `${request.decidedBy ?? '-'}: ${request.decisionReason ?? '-'}`)),
    status === '' ? 'No written requests.' : `No ${status} written requests.`,
  )
}

function decisionForm(request) {
  const id = `decide-${request.id}`
  const form = el(
    'form',
    { class: 'decide', 'aria-label': `Decide request ${request.id}` },
    el('label', { for: id, text: 'Reason (required)' }),
    el('textarea', { id, name: 'reason', required: true, rows: 2, maxlength: 1000 }),
    // Besides the filing officer, the one officer of the agency who may collect the records (optional).
    el('label', { for: `${id}-retriever`, text: 'Also collected by (user id, optional)' }),
    el('input', { id: `${id}-retriever`, name: 'retriever', maxlength: 128, autocomplete: 'off' }),
    el('button', { type: 'submit', name: 'verdict', value: 'approve', text: 'Approve' }),
    el('button', { type: 'submit', name: 'verdict', value: 'refuse', text: 'Refuse' }),
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const verdict = event.submitter?.value === 'refuse' ? 'refuse' : 'approve'
    void busy(event.submitter, async () => {
      const retriever = form.retriever.value.trim()
      const body = verdict === 'approve' && retriever !== '' ? { reason: form.reason.value, retriever } : { reason: form.reason.value }
      const decided = await api('POST', `/v1/requests/${request.id}/${verdict}`, body)
      say(`Request ${decided.id} of ${decided.ori}: ${decided.status}.`)
      await loadRequests()
    })
  })
  return form
}

$('request-filters').addEventListener('change', () => void busy(null, loadRequests))
$('request-filters').addEventListener('submit', (event) => event.preventDefault())

// Audit search and misuse signals: the ledger through /v1/audit/search.
function fieldsOf(form) {
  return Object.fromEntries([...new FormData(form)].map(([name, value]) => [name, String(value).trim()]))
}

function summary(result, noun) {
  return result.truncated ? `${result.records.length} of ${result.matched} ${noun} shown: narrow the filters to see the rest.` : `${result.matched} ${noun}.`
}

// A query.refusals summary's refusals in a line (its count of each rule or code): see docs/floods.md.
const refusalKinds = (record) => (record.refusals ?? []).map((refusal) => `${refusal.status} ${refusal.rule ?? refusal.code} ×${refusal.count}`).join(', ')

$('audit-form').addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(event.submitter, async () => {
    const result = await api('GET', `/v1/audit/search${queryString(fieldsOf(event.target))}`)
    $('audit-summary').textContent = summary(result, 'records')
    fillTable(
      $('audit-table'),
      result.records.map((record) => row(record.time, record.type, record.ori, record.sub ?? record.operator, record.database, record.purpose, record.subject, ...(record.type === 'query.refusals' ? [`${record.count} refused`, refusalKinds(record)] : [record.outcome ?? record.status, record.rule ?? record.code ?? record.action]), record.id)),
      'No record matches.',
    )
    say(`Audit search: ${summary(result, 'records')}`)
  })
})

async function loadSignals(form) {
  const result = await api('GET', `/v1/audit/search${queryString({ ...fieldsOf(form), type: 'signal.raised' })}`)
  $('signal-summary').textContent = summary(result, 'signals')
  fillTable(
    $('signal-table'),
    result.records.map((signal) => row(signal.time, signal.kind, signal.ori, signal.sub, signal.blocked ? 'yes' : 'no', signal.detail, (signal.decisionIds ?? []).length)),
    'No misuse signal in the ledger for these filters.',
  )
}

$('signal-form').addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(event.submitter, () => loadSignals(event.target))
})

// --- Routing -----------------------------------------------------------------------------------------

async function route() {
  stopPolling()
  if (storedToken() === null) {
    show('sign-in')
    return
  }
  const [, view = 'agencies', argument = ''] = /^#\/([a-z]+)(?:\/(.*))?$/.exec(location.hash) ?? []
  const name = viewNames.includes(view) && view !== 'sign-in' ? view : 'agencies'
  show(name)
  await busy(null, async () => {
    if (name === 'agencies') await loadAgencies()
    else if (name === 'agency') await loadAgency(decodeURIComponent(argument))
    else if (name === 'rates') {
      await readRates()
      pollTimer = setInterval(() => void readRates().catch(complain), ratesPollMs)
    } else if (name === 'requests') await loadRequests()
    else if (name === 'changes') await loadChanges()
    else if (name === 'reviews') await loadReviews()
    else if (name === 'review') await loadReview(decodeURIComponent(argument))
    else if (name === 'signals') await loadSignals($('signal-form'))
  })
}

window.addEventListener('hashchange', () => {
  $('problem').replaceChildren()
  void route().then(() => $('main').focus())
})

const token = storedToken()
if (token !== null) showSignedIn(token)
void route()
