// Verifies an audit ledger directory: for each instance chain, every line is canonical JSON, numbered
// 1, 2, 3... without gap or repeat, names its instance, and carries the hash of the line before it; the
// signed checkpoints beside it are signed by the given public key, match the chain's hashes, and the
// chain does not end before the last of them.
// Stops at the first bad record and says which file, which sequence number, and what is wrong.
import { createReadStream } from 'node:fs'
import type { KeyObject } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { canonicalJson, genesisHash, lineHash } from './chain.js'
import { checkpointFile, checkpointSignedBy, type Checkpoint } from './checkpoint.js'
import { auditRecordVersion, recordSchemas, type EventType } from './record.js'

export type ProblemKind = 'malformed' | 'altered' | 'missing' | 'reordered' | 'truncated' | 'misplaced' | 'bad signature' | 'no ledger'

export interface LedgerProblem {
  readonly file: string
  readonly seq: number
  readonly kind: ProblemKind
  readonly message: string
}

export interface ChainSummary {
  readonly instance: string
  readonly segments: number
  readonly records: number
  readonly lastSeq: number
  readonly lastHash: string
  readonly checkpoints: number
}

export interface VerifyOptions {
  /** Ed25519 public key: checkpoint signatures are checked only with it. */
  readonly publicKey?: KeyObject | undefined
}

async function readCheckpoints(file: string): Promise<Checkpoint[]> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return ''
    throw error
  })
  // A torn last line (a crash while appending) was never relied on: it is left out.
  const whole = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1)
  return whole
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Checkpoint)
}

export interface VerifyReport {
  readonly chains: ChainSummary[]
  readonly problem: LedgerProblem | null
}

const segmentPattern = /^segment-\d{6}\.jsonl$/

/** Whether a record numbered `seq` stands anywhere in these files (to tell reordered from missing). */
async function appearsLater(files: readonly string[], seq: number): Promise<boolean> {
  const marker = `"seq":${seq},`
  for (const file of files) {
    for await (const line of createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })) {
      if (line.includes(marker)) return true
    }
  }
  return false
}

async function verifyChain(dir: string, instance: string, options: VerifyOptions): Promise<{ summary: ChainSummary; problem: LedgerProblem | null }> {
  const segments = (await readdir(dir)).filter((name) => segmentPattern.test(name)).sort()
  let expected = 1
  let prev = genesisHash
  let records = 0
  const checkpointPath = join(dir, checkpointFile)
  let checkpoints: Checkpoint[]
  try {
    checkpoints = await readCheckpoints(checkpointPath)
  } catch {
    return { summary: { instance, segments: segments.length, records: 0, lastSeq: 0, lastHash: prev, checkpoints: 0 }, problem: { file: checkpointPath, seq: 0, kind: 'malformed', message: 'the checkpoints file is not JSON lines' } }
  }
  const summary = () => ({ instance, segments: segments.length, records, lastSeq: expected - 1, lastHash: prev, checkpoints: checkpoints.length })
  if (options.publicKey !== undefined) {
    const forged = checkpoints.find((checkpoint) => checkpoint.instance !== instance || !checkpointSignedBy(options.publicKey!, checkpoint))
    if (forged !== undefined) {
      return { summary: summary(), problem: { file: checkpointPath, seq: forged.seq, kind: 'bad signature', message: 'a checkpoint is not signed by the given public key: the chain or its checkpoints were rewritten' } }
    }
  }
  const signedHashes = new Map(checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint.hash]))
  for (const segment of segments) {
    const file = join(dir, segment)
    const size = (await stat(file)).size
    let consumed = 0
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })
    for await (const line of lines) {
      consumed += Buffer.byteLength(line) + 1
      const fail = (kind: ProblemKind, message: string) => ({ summary: summary(), problem: { file, seq: expected, kind, message } })
      if (consumed > size) return fail('truncated', 'the last line is cut off (no newline): the file was truncated or a write was torn')
      let record: { seq?: unknown; prev?: unknown; instance?: unknown }
      try {
        record = JSON.parse(line) as typeof record
      } catch {
        return fail('malformed', 'the line is not JSON')
      }
      if (typeof record.seq !== 'number' || typeof record.prev !== 'string') return fail('malformed', 'the record has no seq or prev')
      if (record.seq > expected) {
        return (await appearsLater(segments.slice(segments.indexOf(segment)).map((name) => join(dir, name)), expected))
          ? fail('reordered', `found seq ${record.seq} where ${expected} was due; ${expected} comes later`)
          : fail('missing', `records ${expected}..${record.seq - 1} are missing (found ${record.seq})`)
      }
      if (record.seq < expected) return fail('reordered', `found seq ${record.seq} where ${expected} was due`)
      if (canonicalJson(record) !== line) return fail('altered', 'the line is not in canonical form: it was edited')
      if (record.prev !== prev) {
        return fail('altered', expected === 1 ? 'the first record does not start the chain' : `the hash of record ${expected - 1} does not match: record ${expected - 1} or this one was altered`)
      }
      if (record.instance !== instance) return fail('misplaced', `the record names instance ${String(record.instance)}, not ${instance}`)
      const schema = recordSchemas[(record as { type?: string }).type as EventType]
      if (schema === undefined) return fail('malformed', `unknown record type ${String((record as { type?: unknown }).type)}`)
      const checked = schema.safeParse(record)
      if (!checked.success) {
        const issue = checked.error.issues[0]!
        return fail('malformed', `the record does not match its schema (v${auditRecordVersion}): ${issue.path.join('.') || '(top)'}: ${issue.message}`)
      }
      prev = lineHash(line)
      const signed = signedHashes.get(expected)
      if (signed !== undefined && signed !== prev) return fail('altered', 'the record differs from the one the checkpoint signed: the chain was rewritten from here or before')
      expected++
      records++
    }
  }
  const lastCheckpoint = checkpoints.reduce((max, checkpoint) => Math.max(max, checkpoint.seq), 0)
  if (lastCheckpoint > expected - 1) {
    const last = segments.at(-1) === undefined ? dir : join(dir, segments.at(-1)!)
    return { summary: summary(), problem: { file: last, seq: expected, kind: 'truncated', message: `the chain ends at seq ${expected - 1} but seq ${lastCheckpoint} was checkpointed: records were cut off its end` } }
  }
  return { summary: summary(), problem: null }
}

/**
 * Verifies every instance chain under `auditDir`; the first problem found stops the check. A folder
 * that holds no chain at all (missing, empty, or an instance folder given in place of the ledger root)
 * is a problem too: a check that found nothing to check must not read as "intact".
 */
export async function verifyLedger(auditDir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const noLedger = (message: string): VerifyReport => ({ chains: [], problem: { file: auditDir, seq: 0, kind: 'no ledger', message } })
  let entries
  try {
    entries = await readdir(auditDir, { withFileTypes: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return noLedger('no such folder')
    if (code === 'ENOTDIR') return noLedger('not a folder: give the ledger root (AUDIT_DIR)')
    throw error
  }
  if (entries.some((entry) => entry.isFile() && segmentPattern.test(entry.name))) {
    return noLedger(`this is one instance's folder, not the ledger root: verify its parent (${join(auditDir, '..')}), where the checkpoint keys and every chain are`)
  }
  const chains: ChainSummary[] = []
  for (const entry of entries.filter((item) => item.isDirectory()).sort((left, right) => left.name.localeCompare(right.name))) {
    const dir = join(auditDir, entry.name)
    // A folder without a segment is not a chain (the ledger creates its first segment when it opens).
    if (!(await readdir(dir)).some((name) => segmentPattern.test(name))) continue
    const { summary, problem } = await verifyChain(dir, entry.name, options)
    chains.push(summary)
    if (problem !== null) return { chains, problem }
  }
  if (chains.length === 0) return noLedger('no audit ledger here: no instance folder holds a segment-NNNNNN.jsonl (is this AUDIT_DIR?)')
  return { chains, problem: null }
}
