// policies/signals.yaml and its watch-list as policy data (issue 13, point 2): `gatewayctl policy check`
// names the file, the path and the problem for each bad fixture; `gatewayctl signals hash-watchlist`
// makes a watch-list the gateway loads, with the same subject key, and refuses a bad line by its number.
import { execFile } from 'node:child_process'
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { SubjectHasher } from '../src/audit/subjects.js'
import { loadPolicyDir } from '../src/policy-files.js'
import { policyDir, root, tempDir } from './helpers.js'

const run = promisify(execFile)
const gatewayctl = (env: Record<string, string>, ...args: string[]) => run(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: root, env: { ...process.env, ...env } })

function fixture(edit: (dir: string) => void): string {
  const dir = tempDir('signal-policies')
  cpSync(policyDir, dir, { recursive: true })
  edit(dir)
  return dir
}
const signals = (change: (text: string) => string) => (dir: string) => writeFileSync(join(dir, 'signals.yaml'), change(readFileSync(join(dir, 'signals.yaml'), 'utf8')))

const badFixtures: [string, (dir: string) => void, RegExp][] = [
  ['an unknown key', signals((text) => `${text}\nblockAll: true\n`), /^signals\.yaml: blockAll: unknown key$/],
  ['a threshold of zero', signals((text) => text.replace('subjects: 40', 'subjects: 0')), /^signals\.yaml: distinctSubjects\.subjects: /],
  ['a shared login of one place', signals((text) => text.replace('places: 2', 'places: 1')), /^signals\.yaml: sharedLogin\.places: /],
  ['an unknown time zone', signals((text) => text.replace('timeZone: America/Los_Angeles', 'timeZone: Pacific/Hollywood')), /^signals\.yaml: timeZone: expected an IANA time zone/],
  ['hours for a malformed ORI', signals((text) => text.replace('agencies: {}', 'agencies: { LAPD: { days: [mon], from: "07:00", to: "19:00" } }')), /^signals\.yaml: offHours\.agencies\.LAPD: expected an ORI/],
  ['a time of day that is not one', signals((text) => text.replace('agencies: {}', 'agencies: { CA9990001: { days: [mon], from: "7am", to: "19:00" } }')), /^signals\.yaml: offHours\.agencies\.CA9990001\.from: expected a time of day HH:MM/],
  ['an empty opening', signals((text) => text.replace('agencies: {}', 'agencies: { CA9990001: { days: [mon], from: "07:00", to: "07:00" } }')), /^signals\.yaml: offHours\.agencies\.CA9990001\.to: must differ from from/],
  ['a missing watch-list', (dir) => rmSync(join(dir, 'watchlist.txt')), /^signals\.yaml: watchlist\.file: cannot read watchlist\.txt: ENOENT$/],
  ['an identifier in the clear in the watch-list', (dir) => writeFileSync(join(dir, 'watchlist.txt'), '# protected\nlicenseNumber=A1234567\n'), /^watchlist\.txt: line 2: expected a keyed hash of 22 characters/],
]

for (const [name, edit, expected] of badFixtures) {
  t.test(`policy check refuses ${name}`, async (t) => {
    const dir = fixture(edit)
    const failed = await gatewayctl({}, 'policy', 'check', dir).then(() => null, (error: { code: number; stderr: string }) => error)
    t.equal(failed?.code, 1)
    t.match(failed?.stderr.trim().split('\n')[0], expected)
  })
}

t.test('without signals.yaml no signal is computed, and the policies are still valid', async (t) => {
  const set = await loadPolicyDir(fixture((dir) => rmSync(join(dir, 'signals.yaml'))))
  const { review, zone, ...kinds } = set.signals
  t.same(Object.values(kinds), [null, null, null, null, null, null, null, null])
  t.same([...review], [], 'and no kind opens a review')
  t.equal(zone.timeZone, 'UTC')
})

t.test('hash-watchlist makes the list the gateway loads, with the gateway subject key', async (t) => {
  const stateDir = tempDir('watch-state')
  const keyFile = join(stateDir, 'key')
  writeFileSync(keyFile, 'an-invented-subject-key-for-the-watchlist-test-00\n')
  const people = join(tempDir('people'), 'protected.txt')
  writeFileSync(people, '# invented protected people\nlicenseNumber=a1234567\nperson=Doe, Jane ,1970-01-02\n')
  const { stdout } = await gatewayctl({ AUDIT_SUBJECT_KEY: keyFile }, 'signals', 'hash-watchlist', people)
  t.notMatch(stdout, /A1234567|DOE/i, 'no identifier in the clear')
  const dir = fixture((dir) => writeFileSync(join(dir, 'watchlist.txt'), stdout))
  const hasher = new SubjectHasher(Buffer.from(readFileSync(keyFile, 'utf8').trim()))
  const set = await loadPolicyDir(dir)
  t.same(set.signals.watchlist?.hashes, new Set([hasher.hashOf('licenseNumber', 'A1234567'), hasher.hashOf('person', 'DOE,JANE,1970-01-02')]), 'normalised as the gateway hashes them')
  writeFileSync(people, 'licenseNumber=A1234567\nJane Doe\n')
  const bad = await gatewayctl({ AUDIT_SUBJECT_KEY: keyFile }, 'signals', 'hash-watchlist', people).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 2)
  t.match(bad?.stderr, /line 2: expected FIELD=VALUE/)
  t.notMatch(bad?.stderr, /Jane/, 'the bad line is named by its number, not its text')
})
