// Issue 13, point 1: a plate look-up that returned WRIGHT's registration is found by
// `gatewayctl audit search --subject WRIGHT`, through the keyed hashes of the records returned, which the
// query.outcome record carries; the ledger itself holds no identity that the query did not name.
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { SubjectHasher } from '../src/audit/subjects.js'
import { ledgerRecords, query, root, startTestGateway, tempDir, testPopulation, TestClock, token } from './helpers.js'

const exec = promisify(execFile)
const keyFile = join(tempDir('subject-key'), 'subject.key')
writeFileSync(keyFile, 'an-invented-subject-key-for-the-tests-0123456789\n', { mode: 0o600 })
const clock = new TestClock(Date.parse('2026-04-01T10:00:00.000Z'))
const gw = await startTestGateway({ clock, env: { AUDIT_SUBJECT_KEY: keyFile } })

// A WRIGHT (invented, like everyone in the simulated population) with a licence and a car.
const population = testPopulation()
const car = population.vehicles.find((vehicle) => vehicle.registeredOwner.lastName === 'WRIGHT')!
const licence = population.licenses.find((found) => found.person.lastName === 'WRIGHT' && found.person.firstName === car.registeredOwner.firstName && found.person.address === car.registeredOwner.address)!
const otherCar = population.vehicles.find((vehicle) => vehicle.registeredOwner.lastName !== 'WRIGHT')!
const traffic = { purpose: 'traffic_enforcement' }
const ids: Record<string, string> = {}
const decisionId = (answer: { headers: Record<string, unknown> }) => answer.headers['x-decision-id'] as string
ids.plate = decisionId(await query(gw.url, { database: 'dmv.vehicle_registration', ...traffic, subject: { plate: car.plate } }, token({ sub: 'officer-21' })))
ids.licence = decisionId(await query(gw.url, { database: 'dmv.driver_license', ...traffic, subject: { licenseNumber: licence.licenseNumber } }, token({ sub: 'officer-22' })))
ids.otherPlate = decisionId(await query(gw.url, { database: 'dmv.vehicle_registration', ...traffic, subject: { plate: otherCar.plate } }, token({ sub: 'officer-23' })))
ids.denied = decisionId(await query(gw.url, { database: 'dmv.vehicle_registration', purpose: 'immigration_enforcement', caseNumber: 'A-1', subject: { plate: car.plate } }, token({ sub: 'officer-24' })))
await gw.close()

const gatewayctl = (env: Record<string, string>, ...args: string[]) => exec(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: root, env: { ...process.env, ...env } })
const withKey = { AUDIT_SUBJECT_KEY: keyFile }
const decisions = async (env: Record<string, string>, subject: string) =>
  (await gatewayctl(env, 'audit', 'search', '--dir', gw.auditDir, '--subject', subject, '--type', 'query.decision', '--json')).stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line).id)

t.test('the outcome record carries the keyed hashes of the records returned, and only them', async (t) => {
  const records = ledgerRecords(gw.auditDir)
  const hasher = new SubjectHasher(Buffer.from(readFileSync(keyFile, 'utf8').trim()))
  const outcome = (id: string) => records.find((record) => record.type === 'query.outcome' && record.id === id)
  t.same(new Set(outcome(ids.plate!).subjects), new Set([`plate=${car.plate}`, `vin=${car.vin}`, 'lastName=WRIGHT', `name=WRIGHT,${car.registeredOwner.firstName}`].map((found) => hasher.hash(found))))
  t.ok(outcome(ids.licence!).subjects.includes(hasher.hash(`person=WRIGHT,${licence.person.firstName},${licence.person.dateOfBirth}`)), 'a licence names its person with the date of birth')
  t.equal(outcome(ids.denied!), undefined, 'a denied query has no outcome')
  const text = readdirText(gw.auditDir)
  t.notMatch(text, /WRIGHT/, 'no name the queries did not give is in the ledger in the clear')
  t.notMatch(text, new RegExp(car.vin), 'nor the VIN of a car looked up by plate')
})

t.test('audit search --subject finds every query that touched the person, whatever the lookup', async (t) => {
  t.same(await decisions(withKey, 'WRIGHT'), [ids.plate, ids.licence], 'a family name: the plate look-up and the licence look-up')
  t.same(await decisions(withKey, 'wright'), [ids.plate, ids.licence], 'in any case')
  t.same(await decisions(withKey, `name=Wright, ${car.registeredOwner.firstName}`), [ids.plate, ids.licence])
  t.same(await decisions(withKey, `person=WRIGHT,${licence.person.firstName},${licence.person.dateOfBirth}`), [ids.licence], 'a registration carries no date of birth')
  t.same(await decisions(withKey, `vin=${car.vin}`), [ids.plate], 'the VIN of a car found by plate')
  t.same(await decisions(withKey, car.plate), [ids.plate, ids.denied], 'a plate: the answered look-up by its records, the denied one by its lookup')
  const both = (await gatewayctl(withKey, 'audit', 'search', '--dir', gw.auditDir, '--subject', 'WRIGHT', '--json')).stdout.trim().split('\n').map((line) => JSON.parse(line))
  t.same(both.map((record) => `${record.type} ${record.id}`), [`query.decision ${ids.plate}`, `query.outcome ${ids.plate}`, `query.decision ${ids.licence}`, `query.outcome ${ids.licence}`], 'each decision with its outcome')
})

t.test('without the key, the ledger hands out no identity: only the lookups are searched, and the CLI says so', async (t) => {
  const noKey = { STATE_DIR: tempDir('no-key') }
  t.same(await decisions(noKey, 'WRIGHT'), [])
  t.same(await decisions(noKey, car.plate), [ids.plate, ids.denied], 'the lookups in the clear still match')
  const { stderr } = await gatewayctl(noKey, 'audit', 'search', '--dir', gw.auditDir, '--subject', 'WRIGHT')
  t.match(stderr, /no subject key .* only the queries' lookups are searched/)
  const wrongKey = join(tempDir('wrong-key'), 'key')
  writeFileSync(wrongKey, 'another-invented-key-that-is-long-enough-000000\n')
  t.same(await decisions({ AUDIT_SUBJECT_KEY: wrongKey }, 'WRIGHT'), [], 'another key finds nothing')
})

t.test('a --subject field that is not an identifier is a usage error', async (t) => {
  const bad = await gatewayctl(withKey, 'audit', 'search', '--dir', gw.auditDir, '--subject', 'address=MAIN ST').then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /--subject: expected VALUE or FIELD=VALUE with FIELD one of licenseNumber, plate, vin, cii, person, name, lastName/)
})

t.test('the ledger with outcome records carrying subjects verifies', async (t) => {
  const { stdout } = await gatewayctl({}, 'audit', 'verify', gw.auditDir)
  t.match(stdout, /ledger intact/)
})

function readdirText(auditDir: string): string {
  return ledgerRecords(auditDir).map((record) => JSON.stringify(record)).join('\n')
}

t.test('the keyed hash is HMAC-SHA-256 (RFC 2104) cut to 128 bits, for short, 64-byte and long keys and any text', async (t) => {
  const { createHmac, randomBytes } = await import('node:crypto')
  for (const size of [16, 32, 64, 65, 200]) {
    const key = randomBytes(size)
    const hasher = new SubjectHasher(key)
    for (const text of ['licenseNumber=A1234567', 'person=MUÑOZ,JOSÉ,1980-01-31', '', 'x'.repeat(300), ...[54, 55, 56, 57, 63, 64, 65, 119, 120].map((length) => 'y'.repeat(length)), '€'.repeat(40)]) {
      t.equal(hasher.hash(text), createHmac('sha256', key).update(text).digest().subarray(0, 16).toString('base64url'), `${size}-byte key, ${text.slice(0, 20) || 'empty text'}`)
    }
  }
})
