// Signed checkpoints and segment rotation: a rewritten chain, a chain cut short and forged checkpoints
// are each found with the public key; segments rotate by size and by day without breaking the chain.
import { execFile } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { checkpointFile, signCheckpoint } from '../src/audit/checkpoint.js'
import { AuditLedger } from '../src/audit/ledger.js'
import type { AuditEvent } from '../src/audit/record.js'
import { verifyLedger } from '../src/audit/verify.js'
import { root, tempDir } from './helpers.js'

const exec = promisify(execFile)
const doj = generateKeyPairSync('ed25519')
const attacker = generateKeyPairSync('ed25519')
const at = (n: number) => Date.UTC(2026, 5, 1, 12, 0, 0, n)
const event = (n: number, sub = 'officer-17'): AuditEvent => ({ type: 'query.outcome', id: `decision-${n}-${sub}`, status: 200, code: null, recordCount: 1, latencyMs: n })

async function ledger(dir: string, records: number, options: { key?: typeof doj.privateKey; sub?: string; segmentBytes?: number; time?: (n: number) => number } = {}) {
  const writer = await AuditLedger.open(dir, 'gw-a', { explicit: true, signingKey: options.key ?? doj.privateKey, checkpointRecords: 5, checkpointSeconds: 3600, ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }) })
  for (let n = 1; n <= records; n++) await writer.append(event(n, options.sub), (options.time ?? at)(n))
  await writer.close()
  return join(dir, 'gw-a')
}
const checkpoints = (chain: string) => readFileSync(join(chain, checkpointFile), 'utf8').trim().split('\n').map((line) => JSON.parse(line))
const segment = (chain: string, n = 1) => join(chain, `segment-${String(n).padStart(6, '0')}.jsonl`)

t.test('checkpoints every 5 records and at close, signed; the intact ledger verifies with the public key', async (t) => {
  const dir = tempDir('ckpt')
  const chain = await ledger(dir, 12)
  t.same(checkpoints(chain).map((checkpoint) => checkpoint.seq), [5, 10, 12])
  const report = await verifyLedger(dir, { publicKey: doj.publicKey })
  t.same(report.problem, null)
  t.match(report.chains, [{ records: 12, checkpoints: 3 }])
})

t.test('a whole chain rewritten consistently (hashes recomputed) is found at the first checkpoint', async (t) => {
  const dir = tempDir('ckpt')
  const chain = await ledger(dir, 12)
  const forged = await ledger(tempDir('forged'), 12, { sub: 'somebody-else' })
  writeFileSync(segment(chain), readFileSync(segment(forged)))
  t.same((await verifyLedger(dir)).problem?.kind, 'altered', 'even without the key, the hashes differ from the checkpoints')
  t.match((await verifyLedger(dir, { publicKey: doj.publicKey })).problem, { file: segment(chain), seq: 5, kind: 'altered' })
})

t.test('re-signed with another key: bad signature', async (t) => {
  const dir = tempDir('ckpt')
  const chain = await ledger(dir, 12)
  const forged = await ledger(tempDir('forged'), 12, { sub: 'somebody-else', key: attacker.privateKey })
  writeFileSync(segment(chain), readFileSync(segment(forged)))
  writeFileSync(join(chain, checkpointFile), readFileSync(join(forged, checkpointFile)))
  t.same((await verifyLedger(dir)).problem, null, 'without the public key a complete forgery passes: that is what the key is for')
  t.match((await verifyLedger(dir, { publicKey: doj.publicKey })).problem, { file: join(chain, checkpointFile), seq: 5, kind: 'bad signature' })
  const altered = checkpoints(chain).map((checkpoint) => (checkpoint.seq === 10 ? { ...checkpoint, seq: 9 } : checkpoint))
  writeFileSync(join(chain, checkpointFile), `${altered.map((checkpoint) => JSON.stringify(checkpoint)).join('\n')}\n`)
  t.match((await verifyLedger(dir, { publicKey: attacker.publicKey })).problem, { seq: 9, kind: 'bad signature' }, 'an edited checkpoint fails its own signature')
})

t.test('a checkpoint torn by a crash while it was appended is left out', async (t) => {
  const dir = tempDir('ckpt')
  const chain = await ledger(dir, 7)
  writeFileSync(join(chain, checkpointFile), `${readFileSync(join(chain, checkpointFile), 'utf8')}{"instance":"gw-a","seq":9,"ha`)
  t.same((await verifyLedger(dir, { publicKey: doj.publicKey })).problem, null)
})

t.test('records cut off the end beyond the last checkpoint: truncated', async (t) => {
  const dir = tempDir('ckpt')
  const chain = await ledger(dir, 12)
  const lines = readFileSync(segment(chain), 'utf8').split('\n').filter(Boolean)
  writeFileSync(segment(chain), `${lines.slice(0, 9).join('\n')}\n`)
  t.match((await verifyLedger(dir, { publicKey: doj.publicKey })).problem, { seq: 10, kind: 'truncated', message: /ends at seq 9 but seq 12 was checkpointed/ })
})

t.test('segments rotate by size and by UTC day; the chain runs across them and a reopened writer goes on', async (t) => {
  const dir = tempDir('rotate')
  const chain = await ledger(dir, 30, { segmentBytes: 2048 })
  const segments = readdirSync(chain).filter((name) => name.startsWith('segment-'))
  t.ok(segments.length >= 3, `${segments.length} segments of at most 2 KiB`)
  for (const name of segments) t.ok(readFileSync(join(chain, name)).length <= 2048, `${name} within the size`)
  const writer = await AuditLedger.open(dir, 'gw-a', { explicit: true, signingKey: doj.privateKey, segmentBytes: 2048 })
  await writer.append(event(31), at(31))
  await writer.close()
  t.match((await verifyLedger(dir, { publicKey: doj.publicKey })).chains, [{ records: 31, lastSeq: 31 }])
  t.same((await verifyLedger(dir, { publicKey: doj.publicKey })).problem, null)

  const daily = tempDir('daily')
  const days = await ledger(daily, 6, { time: (n) => Date.UTC(2026, 5, n <= 3 ? 1 : 2, 23, 59, 0, n) })
  t.same(readdirSync(days).filter((name) => name.startsWith('segment-')).sort(), ['segment-000001.jsonl', 'segment-000002.jsonl'])
  t.ok(readFileSync(segment(days, 2), 'utf8').split('\n').filter(Boolean).every((line) => JSON.parse(line).time.startsWith('2026-06-02')), 'the second day in its own segment')
  t.same((await verifyLedger(daily)).problem, null)
})

t.test('gatewayctl audit verify --public-key: exit 1 naming the file, seq and bad signature', async (t) => {
  const dir = tempDir('ckpt')
  const chain = await ledger(dir, 7)
  const keyFile = join(tempDir('keys'), 'doj.pub.pem')
  writeFileSync(keyFile, doj.publicKey.export({ type: 'spki', format: 'pem' }))
  const good = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'verify', dir, '--public-key', keyFile], { cwd: root })
  t.match(good.stdout, /gw-a: 7 records in 1 segments, last seq 7, 2 signed checkpoints/)
  const forged = signCheckpoint(attacker.privateKey, { instance: 'gw-a', seq: 7, hash: 'f'.repeat(64), time: new Date(at(8)).toISOString() })
  writeFileSync(join(chain, checkpointFile), `${readFileSync(join(chain, checkpointFile), 'utf8')}${JSON.stringify(forged)}\n`)
  const bad = await exec(process.execPath, [join(root, 'bin/gatewayctl.js'), 'audit', 'verify', dir, '--public-key', keyFile], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error)
  t.equal(bad?.code, 1)
  t.match(bad?.stderr, `${join(chain, checkpointFile)}: seq 7: bad signature: `)
})
