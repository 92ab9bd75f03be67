// One writer per instance chain, whatever the PID namespaces: two containers both run the gateway as
// pid 1 on one shared AUDIT_DIR. Regression: the lock file named a pid, and a lock naming our own pid
// was taken as stale, so the second container's pid 1 took the first one's chain and both wrote to it.
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { verifyLedger } from '../src/audit/verify.js'
import { ledgerRecords, root, tempDir } from './helpers.js'

const fixture = join(root, 'dist/test/fixtures/hold-ledger.js')

/** Runs the fixture as pid 1 of a new PID namespace (unshare, as root: CI runs as root) until it says what happened. */
async function holder(dir: string, instance: string): Promise<{ child: ChildProcessByStdio<Writable, Readable, null>; said: string }> {
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, fixture, dir, instance], { stdio: ['pipe', 'pipe', 'inherit'] })
  let said = ''
  child.stdout.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      said += chunk
      if (said.includes('\n')) resolve()
    })
    child.once('exit', (code) => (said.includes('\n') ? resolve() : reject(new Error(`the holder exited (${code}) without a word`))))
  })
  return { child, said }
}

t.test('a second pid 1 cannot open the chain the first pid 1 holds; once it is closed, it can', async (t) => {
  const dir = tempDir('pidns')
  const first = await holder(dir, 'gateway')
  t.match(first.said, /^opened as pid 1\n/, 'the first container\'s gateway is pid 1')
  const second = await holder(dir, 'gateway')
  t.match(second.said, /^refused: audit instance gateway is in use by another process/, 'the second pid 1 is refused')
  await once(second.child, 'exit')
  first.child.stdin.end()
  await once(first.child, 'exit')
  const third = await holder(dir, 'gateway')
  t.match(third.said, /^opened as pid 1\n/, 'after a clean close, the next container takes the chain')
  third.child.stdin.end()
  await once(third.child, 'exit')
  t.equal(ledgerRecords(dir).length, 2, 'one record from each holder, none from the refused one')
  t.same((await verifyLedger(dir)).problem, null)
})

t.test('a holder killed with SIGKILL releases the chain (the kernel drops its lock)', async (t) => {
  const dir = tempDir('pidns')
  const first = await holder(dir, 'gateway')
  t.match(first.said, /^opened/)
  first.child.kill('SIGKILL') // unshare; --kill-child takes the namespace's pid 1, and so all of it, down too
  await once(first.child, 'exit')
  const second = await holder(dir, 'gateway')
  t.match(second.said, /^opened as pid 1\n/, 'the restarted container takes its chain back')
  second.child.stdin.end()
  await once(second.child, 'exit')
  t.same((await verifyLedger(dir)).problem, null)
})
