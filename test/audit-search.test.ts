// gatewayctl audit search: what a misuse investigator asks of the ledger, from a real gateway's queries.
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { searchLedger, searchLedgerFirst } from '../src/audit/search.js'
import { cbp, iceEro, ledgerRecords, query, root, sheriff, startTestGateway, tempDir, testPopulation, TestClock, token } from './helpers.js'

const exec = promisify(execFile)
const clock = new TestClock(Date.parse('2026-03-01T10:00:00.000Z'))
const gw = await startTestGateway({ clock })
t.teardown(() => gw.close())
const [first, second] = testPopulation().licenses
const dl = (licenseNumber: string, purpose = 'traffic_enforcement') => ({ database: 'dmv.driver_license', purpose, subject: { licenseNumber }, ...(purpose === 'immigration_enforcement' ? { caseNumber: 'A-1' } : {}) })

const ids: Record<string, string> = {}
ids.officerAboutFirst = (await query(gw.url, dl(first!.licenseNumber), token({ sub: 'officer-96' }))).headers['x-decision-id'] as string
clock.advance(3_600_000)
ids.officerAboutSecond = (await query(gw.url, dl(second!.licenseNumber), token({ sub: 'officer-96' }))).headers['x-decision-id'] as string
ids.otherAboutFirst = (await query(gw.url, dl(first!.licenseNumber), token({ sub: 'officer-12' }))).headers['x-decision-id'] as string
clock.advance(86_400_000)
ids.officerAboutFirstAgain = (await query(gw.url, dl(first!.licenseNumber), token({ sub: 'officer-96' }))).headers['x-decision-id'] as string
ids.ice = (await query(gw.url, dl(first!.licenseNumber, 'immigration_enforcement'), token({ ori: iceEro, sub: 'ero-1' }))).headers['x-decision-id'] as string
// Queries officers ran for other agencies: whom they served, and who received the result.
const rap = { lastName: first!.person.lastName, firstName: first!.person.firstName, dateOfBirth: first!.person.dateOfBirth }
ids.forIce = (await query(gw.url, { ...dl(first!.licenseNumber), onBehalfOf: iceEro }, token({ sub: 'officer-44' }))).headers['x-decision-id'] as string
ids.rapSheetForCbp = (await query(gw.url, { database: 'criminal_history', purpose: 'criminal_investigation', subject: rap, caseNumber: '24-8', onBehalfOf: cbp, recipient: cbp }, token({ sub: 'officer-12' }))).headers['x-decision-id'] as string
ids.toSheriff = (await query(gw.url, { ...dl(second!.licenseNumber), recipient: sheriff }, token({ sub: 'officer-12' }))).headers['x-decision-id'] as string

const search = async (...args: string[]) => (await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'search', '--dir', gw.auditDir, ...args], { cwd: root })).stdout
const idsOf = (jsonLines: string) => jsonLines.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line).id)

t.test('every query by this officer about this person', async (t) => {
  t.same(idsOf(await search('--sub', 'officer-96', '--subject', `licenseNumber=${first!.licenseNumber}`, '--type', 'query.decision', '--json')), [ids.officerAboutFirst, ids.officerAboutFirstAgain])
  t.same(idsOf(await search('--subject', first!.licenseNumber.toLowerCase(), '--type', 'query.decision', '--json')), [ids.officerAboutFirst, ids.otherAboutFirst, ids.officerAboutFirstAgain, ids.ice, ids.forIce], 'a bare value matches any subject field, in any case')
})

t.test('by ORI, purpose, rule and time range', async (t) => {
  t.same(idsOf(await search('--ori', iceEro, '--type', 'query.decision', '--json')), [ids.ice])
  const everything = (await search('--ori', iceEro, '--json')).trim().split('\n').map((line) => JSON.parse(line))
  t.same(everything.map((record) => record.type), ['operator.change', 'query.decision'], "the agency's registration by DOJ is part of its record too")
  t.same(idsOf(await search('--purpose', 'immigration_enforcement', '--rule', 'ppp.immigration_non_criminal', '--json')), [ids.ice])
  t.same(idsOf(await search('--sub', 'officer-96', '--type', 'query.decision', '--since', '2026-03-01T10:30:00Z', '--until', '2026-03-01T12:00:00Z', '--json')), [ids.officerAboutSecond])
})

t.test('by requester: the queries run on behalf of an agency, or whose result went to it', async (t) => {
  t.same(idsOf(await search('--on-behalf-of', iceEro, '--json')), [ids.forIce])
  t.same(idsOf(await search('--on-behalf-of', cbp, '--json')), [ids.rapSheetForCbp])
  t.same(idsOf(await search('--recipient', cbp, '--json')), [ids.rapSheetForCbp])
  t.same(idsOf(await search('--recipient', sheriff, '--sub', 'officer-12', '--json')), [ids.toSheriff])
  const records = (await search('--on-behalf-of', iceEro, '--json')).trim().split('\n').map((line) => JSON.parse(line))
  t.match(records, [{ ori: 'CA0194200', sub: 'officer-44', onBehalfOf: iceEro, outcome: 'deny', rule: 'ppp.immigration_non_criminal', immigration: 'requester' }])
  t.same(idsOf(await search('--sub', 'officer-44', '--type', 'query.decision', '--json')), [ids.forIce], 'and the officer who ran it')
  const bad = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'search', '--dir', gw.auditDir, '--on-behalf-of', 'ICE'], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /--on-behalf-of: expected an ORI such as CA0194200; got ICE/)
})

t.test('a readable table by default, and a clear error for a bad time', async (t) => {
  const text = await search('--sub', 'officer-96', '--type', 'query.decision')
  t.match(text, /^TIME +TYPE +ORI +OFFICER +DATABASE +PURPOSE +SUBJECT +OUTCOME +RULE +ID$/m)
  t.match(text, new RegExp(`^2026-03-01T10:00:00.000Z +query.decision +CA0194200 +officer-96 +dmv.driver_license +traffic_enforcement +${first!.licenseNumber} +allow +ppp.permitted +${ids.officerAboutFirst}$`, 'm'))
  t.match(text, /^3 records$/m)
  const bad = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'search', '--dir', gw.auditDir, '--since', 'last tuesday'], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /--since: expected a time/)
})

t.test('a tampered ledger cannot drive the terminal: the table shows its fields as text', async (t) => {
  // Search reads what is there (audit verify is what reports tampering): a forged line whose officer
  // and subject carry a screen-clearing escape and a newline that would print a row of its own.
  const dir = tempDir('forged')
  mkdirSync(join(dir, 'forged'))
  const forged = { seq: 1, time: '2026-03-01T10:00:00.000Z', instance: 'forged', type: 'query.decision', id: 'x', ori: 'CA0194200', sub: 'officer-1\u001b[2J\n2026-03-01T09:00:00.000Z  query.decision  CA0000000', subject: { lastName: 'DOE\u009b31m' }, outcome: 'allow', rule: 'ppp.permitted' }
  writeFileSync(join(dir, 'forged', 'segment-000001.jsonl'), `${JSON.stringify(forged)}\n`)
  const text = (await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'search', '--dir', dir], { cwd: root })).stdout
  t.notMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line breaks between rows')
  t.equal(text.trimEnd().split('\n').length, 3, 'the header, one record, the count')
  t.match(text, /^2026-03-01T10:00:00.000Z +query.decision +CA0194200 +officer-1\\u001b\[2J\\n2026-03-01T09:00:00.000Z  query.decision  CA0000000 +- +- +DOE\\u009b31m +allow/m)
})

t.test('searchLedgerFirst: the oldest records across chains, as searchLedger orders them, holding only a few at a time', async (t) => {
  // Two chains whose times interleave (invented records): chain b holds the oldest and the newest.
  const dir = tempDir('chains')
  const times = { a: [2, 3, 5, 8, 9, 10, 11], b: [1, 4, 6, 7, 12] }
  for (const [instance, minutes] of Object.entries(times)) {
    mkdirSync(join(dir, instance))
    const lines = minutes.map((minute, index) => JSON.stringify({ seq: index + 1, time: `2026-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`, instance, type: 'query.decision', id: `${instance}${minute}`, ori: minute % 3 === 0 ? iceEro : 'CA0194200' }))
    writeFileSync(join(dir, instance, 'segment-000001.jsonl'), `${lines.join('\n')}\n`)
  }
  const all = await searchLedger(dir, {})
  t.same(all.map((record) => record.id), ['b1', 'a2', 'a3', 'b4', 'a5', 'b6', 'b7', 'a8', 'a9', 'a10', 'a11', 'b12'])
  for (let limit = 1; limit <= 13; limit++) {
    const first = await searchLedgerFirst(dir, {}, limit)
    t.same(first.records.map((record) => record.id), all.slice(0, limit).map((record) => record.id), `limit ${limit}`)
    t.equal(first.matched, 12)
  }
  const ice = await searchLedgerFirst(dir, { ori: iceEro }, 2)
  t.same([ice.records.map((record) => record.id), ice.matched], [['a3', 'b6'], 4])
})

t.test('issue 13, point 6: every search is itself recorded, durably, before its results are shown: who searched for whom', async (t) => {
  await search('--sub', 'officer-96', '--subject', `licenseNumber=${first!.licenseNumber}`, '--operator', 'investigator-3', '--operator-ori', 'CA0349400')
  const access = ledgerRecords(gw.auditDir).filter((record) => record.type === 'audit.access' && record.sub === 'investigator-3')
  t.match(access, [{ instance: 'gatewayctl', action: 'search', ori: 'CA0349400', filter: { sub: 'officer-96', subject: `licenseNumber=${first!.licenseNumber}` }, resultCount: 2 }])
  t.notOk('json' in access[0].filter || 'operator' in access[0].filter, 'the filter is the query, not the output options')
  // The auditors' reads are searchable like anything else.
  const found = (await search('--type', 'audit.access', '--sub', 'investigator-3', '--json')).trim().split('\n').map((line) => JSON.parse(line))
  t.equal(found.length, 1, 'the earlier search (this one is recorded after it is computed)')
  const byDefault = ledgerRecords(gw.auditDir).filter((record) => record.type === 'audit.access').at(-1)
  t.match(byDefault, { sub: userInfo().username, ori: 'unknown', filter: { type: 'audit.access', sub: 'investigator-3' }, resultCount: 1 }, 'and so is the search for the searcher, by the OS user without --operator')
  const bad = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'search', '--dir', gw.auditDir, '--operator-ori', 'DOJ'], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /--operator-ori: expected an ORI/)
})
