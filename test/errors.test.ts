// The error catalogue and the README's table say the same: every code, with its status, and no other.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { errorCatalogue } from '../src/errors.js'
import { root } from './helpers.js'

t.test("the README's error table lists exactly the catalogue's codes with their statuses", async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('## Rules'))
  const documented = new Map([...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((match) => [match[1]!, Number(match[2])]))
  const catalogued = new Map(Object.entries(errorCatalogue).map(([code, spec]) => [code, spec.status]))
  t.same(Object.fromEntries(documented), Object.fromEntries(catalogued))
})

t.test('codes are snake_case and statuses are 4xx or 5xx', async (t) => {
  for (const [code, spec] of Object.entries(errorCatalogue)) {
    t.match(code, /^[a-z]+(_[a-z]+)*$/)
    t.ok(spec.status >= 400 && spec.status < 600, `${code} ${spec.status}`)
  }
})
