// `npm test`: runs every compiled test file under tap and ends with one line `N passed, N failed`
// (assertions), so CI shows at a glance that tests ran. A run that executes nothing fails.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const dir = join(root, 'dist', 'test')
const only = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.test.js'))
  .filter((name) => only.length === 0 || only.some((wanted) => name.startsWith(wanted)))
  .map((name) => join('dist', 'test', name))
const tap = join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs')
const child = spawn(process.execPath, [tap, ...files], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
let tail = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk).slice(-4096)
})
child.on('exit', (code) => {
  const summary = [...tail.matchAll(/# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/g)].at(-1)
  const passed = Number(summary?.[2] ?? 0)
  const failed = Number(summary?.[3] ?? 0)
  process.stdout.write(`${passed} passed, ${failed} failed\n`)
  process.exit(code !== 0 ? code ?? 1 : passed === 0 || failed > 0 ? 1 : 0)
})
