// Facts: no real agency is shown with invented misuse, sanctions or signatures, and every law the
// policies cite is accounted for in docs/facts.md (sourced there, or marked unverified). The checks read
// structured data (the sample agencies, the policy test cases, the README's commands), not prose.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { sampleAgencies } from '../src/state/seed.js'
import { bayview, bayviewName, policyDir, root, sheriff, sheriffName } from './helpers.js'

// Real agencies the project names, by name and by ORI: a short list, not every agency in California.
const realNames = [
  /Los Angeles/i, /\bLAPD\b/, /San Diego/i, /Chula Vista/i, /Glendale/i, /Carlsbad/i, /Oakland/i, /Chicago/i,
  /Customs and Border/i, /\bCBP\b/, /\bICE\b/, /Immigration and Customs/i, /Enforcement and Removal/i,
  /\bFBI\b/, /Federal Bureau/i, /Marshals/i, /\bUSMS\b/, /Homeland Security/i, /\bDHS\b/,
]
const realOris = new Set(['CA0194200', 'CA0370000', 'CADHS0100', 'CACBP0000'])
// An invented agency: its ORI follows the format (CA, a 3-digit county, the agency part) with county
// 099, which no California county has (there are 58), and its name says it is fictional.
const fictionalOri = /^CA099[0-9A-Z]{4}$/
const saysFictional = /\((fictional|invented)\)/
const facts = readFileSync(join(root, 'docs/facts.md'), 'utf8')

const isReal = (ori: string, name?: string) => realOris.has(ori) || (name !== undefined && realNames.some((pattern) => pattern.test(name)))

t.test("the test helpers' fictional agencies are fictional", async (t) => {
  for (const [ori, name] of [[sheriff, sheriffName], [bayview, bayviewName]] as const) {
    t.match(ori, fictionalOri, `${name}: a fictional ORI`)
    t.match(name, saysFictional, `${name}: says so`)
    t.notOk(isReal(ori, name.replace(saysFictional, '')), `${name}: no real agency's name`)
  }
})

t.test('a sample agency with a sanction is fictional and says so; the real ones carry only sourced state', async (t) => {
  t.ok(sampleAgencies.some((agency) => agency.sanction !== null), 'the samples still show a sanction (so this test can fail)')
  for (const agency of sampleAgencies) {
    const fictional = saysFictional.test(agency.name)
    if (agency.sanction !== null) t.ok(fictional, `${agency.name} has a sanction: it must be a fictional agency`)
    if (fictional) {
      t.match(agency.ori, fictionalOri, `${agency.name}: a fictional ORI`)
      t.notOk(isReal(agency.ori, agency.name.replace(saysFictional, '')), `${agency.name}: no real agency's name or ORI`)
    } else {
      t.ok(isReal(agency.ori, agency.name), `${agency.name} is not said to be fictional: it must be a real agency of the list`)
      t.ok(facts.includes(agency.ori) && facts.includes(agency.name), `docs/facts.md says what the sample ${agency.name} (${agency.ori}) stands on`)
    }
  }
  // The one sourced fact about a sample's agreement: ICE ERO refused to sign and lost access on 15 Oct 2019.
  t.equal(sampleAgencies.find((agency) => agency.ori === 'CADHS0100')?.agreementSignedAt, null)
})

t.test('policy test cases show sanctions only on fictional agencies', async (t) => {
  const dir = join(policyDir, 'tests')
  let sanctioned = 0
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml'))) {
    const { cases } = parse(readFileSync(join(dir, file), 'utf8')) as { cases: { name: string; agency: { ori: string; name?: string; sanction?: unknown } | null; officerSanction?: unknown }[] }
    for (const testCase of cases) {
      if (testCase.agency === null || (testCase.agency.sanction == null && testCase.officerSanction == null)) continue
      sanctioned++
      const { ori, name } = testCase.agency
      t.match(ori, fictionalOri, `${file}: "${testCase.name}" sanctions ${ori}: a fictional ORI`)
      t.notOk(isReal(ori, name), `${file}: "${testCase.name}": no real agency's name`)
    }
  }
  t.ok(sanctioned > 0, 'there are such cases (so this test can fail)')
})

t.test("the README's commands sanction only fictional agencies", async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const commands = [
    ...readme.matchAll(/gatewayctl (?:agencies|officers) sanction (\S+)/g),
    ...readme.matchAll(/PUT\S* \S*\/v1\/(?:agencies|officers)\/(CA\w+)\S*\/sanction/g),
    ...readme.matchAll(/"type":"signal\.raised"[^\n]*"ori":"(\w+)"/g),
  ].map((match) => match[1]!)
  t.ok(commands.length > 0, 'the README has such commands (so this test can fail)')
  for (const ori of commands) t.match(ori, fictionalOri, `the README sanctions or signals ${ori}: a fictional ORI`)
})

t.test('every section of law the policies cite is in docs/facts.md, sourced or marked unverified', async (t) => {
  const cited = new Set<string>()
  for (const file of readdirSync(policyDir).filter((name) => name.endsWith('.yaml'))) {
    for (const match of readFileSync(join(policyDir, file), 'utf8').matchAll(/§§?\s?(\d+(?:\.\d+)?(?:-\d+)?(?:\([a-z0-9]+\))*)/gi)) cited.add(match[1]!)
  }
  t.ok(cited.size > 5, 'the policies cite sections (so this test can fail)')
  for (const section of cited) t.ok(facts.includes(`§${section}`) || facts.includes(`§§${section}`), `docs/facts.md accounts for §${section}`)
})

t.test('the claims withdrawn for want of a source are not made again', async (t) => {
  const withdrawn = [/every (subscribing )?agency had to sign a new agreement not to/i, /every federal transaction/i, /subscribing agency must sign the current/i]
  const texts = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md') && name !== 'facts.md').map((name) => `docs/${name}`), ...readdirSync(policyDir).filter((name) => name.endsWith('.yaml')).map((name) => `policies/${name}`)]
  for (const file of texts) {
    const text = readFileSync(join(root, file), 'utf8')
    for (const claim of withdrawn) t.notMatch(text, claim, `${file} does not claim ${claim.source}`)
  }
})
