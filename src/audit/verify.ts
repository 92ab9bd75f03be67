// Verifies an audit ledger directory: for each instance chain, every line is canonical JSON, numbered
// 1, 2, 3... without gap or repeat, names its instance, and carries the hash of the line before it.
// Stops at the first bad record and says which file, which sequence number, and what is wrong.
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { canonicalJson, genesisHash, lineHash } from './chain.js'

export type ProblemKind = 'malformed' | 'altered' | 'missing' | 'reordered' | 'truncated' | 'misplaced'

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

async function verifyChain(dir: string, instance: string): Promise<{ summary: ChainSummary; problem: LedgerProblem | null }> {
  const segments = (await readdir(dir)).filter((name) => segmentPattern.test(name)).sort()
  let expected = 1
  let prev = genesisHash
  let records = 0
  const summary = () => ({ instance, segments: segments.length, records, lastSeq: expected - 1, lastHash: prev })
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
      prev = lineHash(line)
      expected++
      records++
    }
  }
  return { summary: summary(), problem: null }
}

/** Verifies every instance chain under `auditDir`; the first problem found stops the check. */
export async function verifyLedger(auditDir: string): Promise<VerifyReport> {
  const entries = await readdir(auditDir, { withFileTypes: true })
  const chains: ChainSummary[] = []
  for (const entry of entries.filter((item) => item.isDirectory()).sort((left, right) => left.name.localeCompare(right.name))) {
    const { summary, problem } = await verifyChain(join(auditDir, entry.name), entry.name)
    chains.push(summary)
    if (problem !== null) return { chains, problem }
  }
  return { chains, problem: null }
}
