// The Prometheus rules: promtool validates them and runs their unit tests (each alert fires and stays
// quiet), and every metric they name is one the gateway exports, so renaming a metric fails here.
import { execFile, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { root } from './helpers.js'
import { exportedSeries, metricsIn } from './metric-names.js'

const exec = promisify(execFile)
const rulesDir = join(root, 'docker/prometheus')
if (spawnSync('promtool', ['--version']).error !== undefined) throw new Error('promtool is not installed: `apt-get install -y prometheus` (.ci/run installs it)')

t.test('promtool check rules and promtool test rules pass', async (t) => {
  const check = await exec('promtool', ['check', 'rules', 'rules.yml'], { cwd: rulesDir })
  t.match(check.stdout, /SUCCESS: \d+ rules found/)
  const tests = await exec('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: rulesDir })
  t.match(tests.stdout, /SUCCESS/)
})

t.test('every alert has a severity and a summary an operator understands, and a firing test', async (t) => {
  const rules = parse(readFileSync(join(rulesDir, 'rules.yml'), 'utf8')) as { groups: { rules: { alert?: string; labels?: { severity?: string }; annotations?: { summary?: string } }[] }[] }
  const tested = readFileSync(join(rulesDir, 'rules.test.yml'), 'utf8')
  const alerts = rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined)
  t.ok(alerts.length >= 7)
  for (const alert of alerts) {
    t.match(alert.labels?.severity, /^(page|warning)$/, `${alert.alert} severity`)
    t.ok((alert.annotations?.summary ?? '').length > 30, `${alert.alert} summary`)
    t.match(tested, new RegExp(`alertname: ${alert.alert}\\n\\s+exp_alerts:`), `${alert.alert} has a test that makes it fire`)
  }
})

t.test('every alert links its runbook: a section of the README that exists', async (t) => {
  const rules = parse(readFileSync(join(rulesDir, 'rules.yml'), 'utf8')) as { groups: { rules: { alert?: string; annotations?: { runbook_url?: string } }[] }[] }
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  // GitHub's anchors: the heading in lower case, spaces as hyphens, punctuation dropped.
  const anchors = new Set([...readme.matchAll(/^#+ (.+)$/gm)].map((match) => match[1]!.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')))
  for (const alert of rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined)) {
    const url = alert.annotations?.runbook_url ?? ''
    t.match(url, /^README\.md#runbook-[a-z0-9]+$/, `${alert.alert} has a runbook_url`)
    t.ok(anchors.has(url.slice('README.md#'.length)), `${alert.alert}: its section exists in the README`)
  }
})

t.test('every metric the rules name is exported by the gateway', async (t) => {
  const exported = await exportedSeries()
  const text = readFileSync(join(rulesDir, 'rules.yml'), 'utf8')
  const named = new Set(metricsIn(text))
  t.ok(named.size >= 8, `${named.size} metrics named`)
  for (const name of named) t.ok(exported.has(name), `${name} is exported`)
})
